#include "etl/market/timeframe.hpp"
#include "etl/market/validate.hpp"

#include <catch2/catch.hpp>

using namespace std::chrono;
using namespace etl::market;

namespace {

sys_days ymd(int y, unsigned m, unsigned d) { return sys_days{year{y} / month{m} / day{d}}; }

} // namespace

TEST_CASE("every timeframe has its stored code, and each code reads back", "[unit][timeframe]") {
    CHECK(to_code(Timeframe::day) == "1d");
    CHECK(to_code(Timeframe::hour) == "1h");
    CHECK(to_code(Timeframe::week) == "1wk");
    CHECK(to_code(Timeframe::month) == "1mo");
    for (const auto tf : {Timeframe::day, Timeframe::hour, Timeframe::week, Timeframe::month})
        CHECK(timeframe_from_code(to_code(tf)) == tf);
    CHECK_FALSE(timeframe_from_code("1D").has_value());
    CHECK_FALSE(timeframe_from_code("1m").has_value());
    CHECK_FALSE(timeframe_from_code("1M").has_value());
    CHECK_FALSE(timeframe_from_code("").has_value());
    static_assert(to_code(Timeframe::week) == "1wk"); // usable at compile time
}

TEST_CASE("a bar's length; a month's is the mean Gregorian month", "[unit][timeframe]") {
    CHECK(etl::market::duration(Timeframe::hour) == seconds{3600});
    CHECK(etl::market::duration(Timeframe::day) == seconds{86400});
    CHECK(etl::market::duration(Timeframe::week) == seconds{604800});
    CHECK(etl::market::duration(Timeframe::month) == seconds{2629746});
}

TEST_CASE("bars start on whole hours, midnights, Mondays and 1sts", "[unit][timeframe]") {
    const sys_seconds monday{ymd(2024, 1, 1)}; // 2024-01-01 was a Monday
    CHECK(starts_bar(Timeframe::hour, monday + hours{10}));
    CHECK_FALSE(starts_bar(Timeframe::hour, monday + minutes{630}));
    CHECK(starts_bar(Timeframe::day, monday + days{1}));
    CHECK_FALSE(starts_bar(Timeframe::day, monday + hours{5}));
    CHECK(starts_bar(Timeframe::week, monday));
    CHECK(starts_bar(Timeframe::week, monday + weeks{1}));
    CHECK_FALSE(starts_bar(Timeframe::week, monday + days{1}));
    CHECK_FALSE(starts_bar(Timeframe::week, monday + hours{1}));
    CHECK(starts_bar(Timeframe::month, sys_seconds{ymd(2024, 2, 1)}));
    CHECK(starts_bar(Timeframe::month, sys_seconds{ymd(1900, 3, 1)})); // before the epoch too
    CHECK_FALSE(starts_bar(Timeframe::month, sys_seconds{ymd(2024, 2, 2)}));
    CHECK_FALSE(starts_bar(Timeframe::month, sys_seconds{ymd(2024, 2, 1)} + hours{1}));
    CHECK(starts_bar(Timeframe::hour, sys_seconds{ymd(1969, 12, 31)} + hours{23})); // negative epoch
}

TEST_CASE("validation checks a weekly and a monthly bar's start, not a fixed step", "[unit][timeframe]") {
    Bar b;
    b.symbol = "AAPL";
    b.open = {"10", 10.0};
    b.high = {"12", 12.0};
    b.low = {"9", 9.0};
    b.close = {"11", 11.0};
    const sys_seconds from{ymd(2000, 1, 1)};
    const sys_seconds to{ymd(2030, 1, 1)};
    b.timeframe = Timeframe::week;
    b.ts = sys_seconds{ymd(2024, 1, 8)}; // a Monday, though not a multiple of 7 days since the epoch
    CHECK(invalid_reason(b, from, to).empty());
    b.ts = sys_seconds{ymd(2024, 1, 9)};
    CHECK(invalid_reason(b, from, to) == "timestamp 2024-01-09T00:00:00Z is not aligned to a 1wk bar");
    b.timeframe = Timeframe::month;
    b.ts = sys_seconds{ymd(2024, 3, 1)};
    CHECK(invalid_reason(b, from, to).empty());
    b.ts = sys_seconds{ymd(2024, 3, 4)};
    CHECK(invalid_reason(b, from, to) == "timestamp 2024-03-04T00:00:00Z is not aligned to a 1mo bar");
    b.timeframe = Timeframe::hour;
    b.ts = sys_seconds{ymd(2024, 3, 4)} + minutes{90};
    CHECK(invalid_reason(b, from, to) == "timestamp 2024-03-04T01:30:00Z is not aligned to a 1h bar");
}
