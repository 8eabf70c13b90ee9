#include "etl/market/quote.hpp"
#include "etl/market/validate.hpp"
#include "etl/providers/mock.hpp"

#include <catch2/catch.hpp>
#include <fmt/format.h>

#include <cmath>
#include <limits>

using namespace std::chrono;
using namespace etl::market;

namespace {

sys_days ymd(int y, unsigned m, unsigned d) { return sys_days{year{y} / month{m} / day{d}}; }

Decimal dec(const char* text) { return {text, std::stod(text)}; }

Bar good_bar(sys_days d) {
    Bar b;
    b.symbol = "AAPL";
    b.timeframe = Timeframe::day;
    b.ts = sys_seconds{d};
    b.open = dec("10.00");
    b.high = dec("12.50");
    b.low = dec("9.75");
    b.close = dec("11.00");
    b.volume = dec("1000");
    b.source = "test";
    return b;
}

const sys_seconds k_from{ymd(2025, 3, 3)};
const sys_seconds k_to{ymd(2025, 3, 7)};

} // namespace

TEST_CASE("a well-formed bar inside the window is valid", "[unit]") {
    CHECK(invalid_reason(good_bar(ymd(2025, 3, 4)), k_from, k_to).empty());
    CHECK(invalid_reason(good_bar(ymd(2025, 3, 3)), k_from, k_to).empty()); // both ends inclusive
    CHECK(invalid_reason(good_bar(ymd(2025, 3, 7)), k_from, k_to).empty());
}

TEST_CASE("each validation rule names what is wrong", "[unit]") {
    auto b = good_bar(ymd(2025, 3, 4));
    SECTION("non-positive price") {
        b.open = dec("0");
        CHECK_THAT(invalid_reason(b, k_from, k_to), Catch::Contains("open 0 is not positive"));
    }
    SECTION("non-finite price") {
        b.close = {"NaN", std::numeric_limits<double>::quiet_NaN()};
        CHECK_THAT(invalid_reason(b, k_from, k_to), Catch::Contains("close is not a finite number"));
    }
    SECTION("high below open/close") {
        b.high = dec("10.50");
        CHECK_THAT(invalid_reason(b, k_from, k_to), Catch::Contains("high 10.50 is below"));
    }
    SECTION("low above open/close") {
        b.low = dec("10.50");
        CHECK_THAT(invalid_reason(b, k_from, k_to), Catch::Contains("low 10.50 is above"));
    }
    SECTION("negative volume") {
        b.volume = dec("-1");
        CHECK_THAT(invalid_reason(b, k_from, k_to), Catch::Contains("volume -1"));
    }
    SECTION("missing volume is fine (index bars)") {
        b.volume.reset();
        CHECK(invalid_reason(b, k_from, k_to).empty());
    }
    SECTION("outside the window") {
        b.ts = sys_seconds{ymd(2025, 3, 8)};
        CHECK_THAT(invalid_reason(b, k_from, k_to), Catch::Contains("outside the requested window"));
    }
    SECTION("not aligned to the timeframe") {
        b.ts += hours{5};
        CHECK_THAT(invalid_reason(b, k_from, k_to), Catch::Contains("not aligned to a 1d bar"));
    }
    SECTION("hourly bars align to the hour") {
        b.timeframe = Timeframe::hour;
        b.ts += hours{14};
        CHECK(invalid_reason(b, k_from, k_to).empty());
        b.ts += minutes{30};
        CHECK_THAT(invalid_reason(b, k_from, k_to), Catch::Contains("not aligned to a 1h bar"));
    }
}

TEST_CASE("validate_batch rejects with reasons, sorts, and keeps the later of duplicates", "[unit]") {
    BarBatch batch;
    batch.bars.push_back(good_bar(ymd(2025, 3, 5)));
    auto bad = good_bar(ymd(2025, 3, 4));
    bad.low = dec("-3");
    batch.bars.push_back(bad);
    batch.bars.push_back(good_bar(ymd(2025, 3, 3)));
    auto later = good_bar(ymd(2025, 3, 5));
    later.close = dec("11.25");
    batch.bars.push_back(later);
    validate_batch(batch, k_from, k_to);
    REQUIRE(batch.bars.size() == 2);
    CHECK(batch.bars[0].ts == sys_seconds{ymd(2025, 3, 3)});
    CHECK(batch.bars[1].close.text == "11.25");
    REQUIRE(batch.rejected.size() == 2);
    CHECK_THAT(batch.rejected[0].reason, Catch::Contains("low -3"));
    CHECK_THAT(batch.rejected[0].raw, Catch::Contains("\"low\":\"-3\""));
    CHECK_THAT(batch.rejected[1].reason, Catch::Contains("duplicate timestamp"));
    CHECK(batch.rejected[1].symbol == "AAPL");
}

TEST_CASE("validate_batch keeps an ascending batch's order and closes the gaps its rejects leave", "[unit]") {
    BarBatch batch;
    for (unsigned d = 3; d <= 7; ++d) {
        auto b = good_bar(ymd(2025, 3, d));
        b.close = dec(fmt::format("10.{}", d).c_str());
        if (d == 4 || d == 6) b.high = dec("0.5"); // below open and close
        batch.bars.push_back(b);
    }
    validate_batch(batch, k_from, k_to);
    REQUIRE(batch.bars.size() == 3);
    CHECK(batch.bars[0].close.text == "10.3");
    CHECK(batch.bars[1].close.text == "10.5");
    CHECK(batch.bars[2].close.text == "10.7");
    REQUIRE(batch.rejected.size() == 2);
    CHECK_THAT(batch.rejected[0].raw, Catch::Contains("\"close\":\"10.4\""));
    CHECK_THAT(batch.rejected[1].raw, Catch::Contains("\"close\":\"10.6\""));

    // Every bar invalid: an empty batch, every one rejected.
    BarBatch none;
    auto bad = good_bar(ymd(2025, 3, 3));
    bad.open = dec("-1");
    none.bars = {bad, bad};
    validate_batch(none, k_from, k_to);
    CHECK(none.bars.empty());
    CHECK(none.rejected.size() == 2);
}

TEST_CASE("mock bars are deterministic, valid and independent of the window asked", "[unit]") {
    const auto d = ymd(2024, 6, 3);
    const auto a = etl::providers::mock_daily_bar("AAPL", d);
    const auto b = etl::providers::mock_daily_bar("AAPL", d);
    CHECK(a.close.text == b.close.text);
    CHECK(a.open.text == b.open.text);
    CHECK(etl::providers::mock_daily_bar("MSFT", d).close.text != a.close.text);
    for (auto day = ymd(2000, 1, 3); day < ymd(2026, 12, 31); day += days{37}) {
        const auto bar = etl::providers::mock_daily_bar("TSLA", day);
        INFO(etl::market::to_json(bar));
        CHECK(invalid_reason(bar, sys_seconds{day}, sys_seconds{day}).empty());
    }
}

TEST_CASE("quotes derive change exactly and refuse bad prices", "[unit]") {
    Quote q;
    q.symbol = "AAPL";
    q.price = dec("511.54");
    q.previous_close = dec("511.02");
    q.as_of = sys_seconds{ymd(2025, 11, 28)} + hours{16};
    q.source = "test";
    CHECK(q.change()->text == "0.52");
    CHECK(q.change_pct()->text == "0.1018");
    q.previous_close = dec("87000.125");
    q.price = dec("87301.5");
    CHECK(q.change()->text == "301.375");
    CHECK(invalid_reason(q, q.as_of, seconds{300}).empty());
    CHECK_THAT(invalid_reason(q, q.as_of - hours{1}, seconds{300}), Catch::Contains("in the future"));
    q.price = dec("0");
    CHECK_THAT(invalid_reason(q, q.as_of, seconds{300}), Catch::Contains("not a positive number"));
    q.previous_close.reset();
    q.price = dec("10");
    CHECK_FALSE(q.change());
    CHECK_THAT(to_cache_json(q), Catch::Contains("\"previous_close\":null"));
}

TEST_CASE("finer data becomes hourly bars on the hour, nothing invented for empty hours", "[unit]") {
    const auto h = sys_seconds{ymd(2025, 3, 4)} + hours{14};
    std::vector<PricePoint> points = {{h + minutes{2}, dec("100")},
                                      {h + minutes{31}, dec("104")},
                                      {h + minutes{58}, dec("101")},
                                      {h + hours{2} + minutes{5}, dec("99")}};
    const auto bars = hourly_bars_from_points("BTC", "coingecko", points);
    REQUIRE(bars.size() == 2); // 15:00 had no points: no bar
    CHECK(bars[0].ts == h);
    CHECK(bars[0].open.text == "100");
    CHECK(bars[0].high.text == "104");
    CHECK(bars[0].low.text == "100");
    CHECK(bars[0].close.text == "101");
    CHECK_FALSE(bars[0].volume);
    CHECK(bars[1].ts == h + hours{2});
    CHECK(invalid_reason(bars[0], h, h + hours{2}).empty());

    // Yahoo's 30-minute bars (09:30, 10:00, 10:30 ET) become the 09:00 and 10:00 hour bars.
    std::vector<Bar> halves;
    for (int i = 0; i < 3; ++i) {
        auto b = good_bar(ymd(2025, 3, 4));
        b.timeframe = Timeframe::hour;
        b.ts = h + minutes{30 + 30 * i};
        b.open = dec(i == 0 ? "10.00" : "11.00");
        b.close = dec(i == 2 ? "11.50" : "11.00");
        b.volume = dec("1000");
        halves.push_back(b);
    }
    halves[1].volume.reset();
    const auto hourly = hourly_bars_from_bars(halves);
    REQUIRE(hourly.size() == 2);
    CHECK(hourly[0].ts == h);
    CHECK(hourly[0].open.text == "10.00");
    CHECK(hourly[0].volume->text == "1000");
    CHECK(hourly[1].ts == h + hours{1});
    CHECK(hourly[1].close.text == "11.50");
    CHECK_FALSE(hourly[1].volume); // one half lacked volume: the hour's total is unknown
}
