#include "etl/jobs/pipeline.hpp"
#include "etl/jobs/report.hpp"
#include "etl/util/clock.hpp"

#include <catch2/catch.hpp>

using etl::jobs::window_expects_bars;
using etl::market::Timeframe;
using std::chrono::sys_days;
using std::chrono::sys_seconds;

namespace {

sys_seconds at(int y, unsigned m, unsigned d, int hour = 0, int minute = 0) {
    return sys_seconds{sys_days{std::chrono::year{y} / std::chrono::month{m} / std::chrono::day{d}}} +
           std::chrono::hours{hour} + std::chrono::minutes{minute};
}

etl::store::Window days(sys_seconds from, sys_seconds to) { return {from, to}; }

} // namespace

TEST_CASE("a daily window expects bars when it holds a closed session", "[unit]") {
    const etl::market::TradingCalendar cal;
    const auto friday_evening = at(2025, 3, 14, 21); // 17:00 ET: the session closed at 20:00Z
    CHECK(window_expects_bars(Timeframe::day, days(at(2025, 3, 7), at(2025, 3, 14)), false, &cal, friday_evening));
    // A weekend, a holiday (Good Friday), and today before the close hold no closed session.
    CHECK_FALSE(window_expects_bars(Timeframe::day, days(at(2025, 3, 8), at(2025, 3, 9)), false, &cal, friday_evening));
    CHECK_FALSE(
        window_expects_bars(Timeframe::day, days(at(2025, 4, 18), at(2025, 4, 18)), false, &cal, at(2025, 4, 21, 12)));
    CHECK_FALSE(
        window_expects_bars(Timeframe::day, days(at(2025, 3, 14), at(2025, 3, 14)), false, &cal, at(2025, 3, 14, 15)));
    CHECK(window_expects_bars(Timeframe::day, days(at(2025, 3, 14), at(2025, 3, 14)), false, &cal, friday_evening));
    // Crypto trades every day; the day must have ended.
    CHECK(window_expects_bars(Timeframe::day, days(at(2025, 3, 8), at(2025, 3, 9)), true, &cal, friday_evening));
    CHECK_FALSE(
        window_expects_bars(Timeframe::day, days(at(2025, 3, 14), at(2025, 3, 14)), true, &cal, friday_evening));
    CHECK_FALSE(
        window_expects_bars(Timeframe::day, days(at(2025, 3, 14), at(2025, 3, 7)), false, &cal, friday_evening));
}

TEST_CASE("an hourly window expects bars once its first trading hour has ended", "[unit]") {
    const etl::market::TradingCalendar cal;
    // 2025-03-14 (EDT): regular bars 09:00..15:00 ET = 13:00Z..19:00Z; the bell at 13:30Z.
    const etl::store::Window session{at(2025, 3, 14, 13), at(2025, 3, 14, 19)};
    CHECK_FALSE(window_expects_bars(Timeframe::hour, session, false, &cal, at(2025, 3, 14, 13, 45)));
    CHECK(window_expects_bars(Timeframe::hour, session, false, &cal, at(2025, 3, 14, 14)));
    // Extended hours (04:00..19:00 ET): the pre-market alone does not count.
    const etl::store::Window extended{at(2025, 3, 14, 8), at(2025, 3, 14, 23)};
    CHECK_FALSE(window_expects_bars(Timeframe::hour, extended, false, &cal, at(2025, 3, 14, 12)));
    CHECK(window_expects_bars(Timeframe::hour, extended, false, &cal, at(2025, 3, 14, 14)));
    // A Saturday holds no session; crypto trades.
    const etl::store::Window saturday{at(2025, 3, 15, 13), at(2025, 3, 15, 19)};
    CHECK_FALSE(window_expects_bars(Timeframe::hour, saturday, false, &cal, at(2025, 3, 16)));
    CHECK(window_expects_bars(Timeframe::hour, saturday, true, &cal, at(2025, 3, 16)));
    CHECK_FALSE(window_expects_bars(Timeframe::hour, saturday, true, &cal, at(2025, 3, 15, 13, 30)));
}

TEST_CASE("no data is a failed symbol of its own kind: exit 1, never 69", "[unit]") {
    etl::jobs::RunTotals t;
    t.job = "etl-historical";
    t.symbols_requested = 2;
    t.add_no_data("ZZTOP", "polygon", "polygon returned no bars");
    t.add_no_data("ZZBOTTOM", "polygon", "polygon returned no bars");
    CHECK(t.symbols_failed == 2);
    CHECK(t.failures_no_data == 2);
    CHECK(t.failures.front().kind == "no data");
    const auto code = etl::jobs::decide_exit_code(t);
    CHECK(code == etl::util::ExitCode::partial);
    const auto text = etl::jobs::summary_text(t, code);
    CHECK(text.find("2 failed, 2 of them no data") != std::string::npos);
    CHECK(text.find("ZZTOP (polygon, no data): polygon returned no bars") != std::string::npos);
}
