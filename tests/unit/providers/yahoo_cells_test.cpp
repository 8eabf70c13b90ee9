// The Yahoo parser keeps each column cell in 16 bytes: a number inline, anything else (null, not a
// number, too long) as its whole token set aside. These cases mix both kinds in every column, hourly (bars
// straight from the cells) and daily (through the per-date ordering), and check each row's exact outcome.
#include "etl/providers/parse.hpp"

#include <catch2/catch.hpp>

#include <fmt/format.h>

#include <chrono>
#include <string>

using etl::market::Timeframe;
using etl::providers::parse_yahoo_chart;
using std::chrono::sys_seconds;

namespace {

std::string body_of(const std::string& t, const std::string& o, const std::string& h, const std::string& l,
                    const std::string& c, const std::string& v) {
    return fmt::format(R"({{"chart":{{"result":[{{"meta":{{"exchangeTimezoneName":"America/New_York"}},)"
                       R"("timestamp":[{}],"indicators":{{"quote":[{{"open":[{}],"high":[{}],"low":[{}],)"
                       R"("close":[{}],"volume":[{}]}}]}}}}],"error":null}}}})",
                       t, o, h, l, c, v);
}

sys_seconds epoch(long long seconds) { return sys_seconds{std::chrono::seconds{seconds}}; }

// 1741012200 (2025-03-03 14:30Z) written as a float with 300 zeros: an integer whose literal is too long
// to keep inline, so its cell is set aside, yet the row is a bar.
const std::string k_long_timestamp = "1741012200." + std::string(300, '0');
// 33 characters: more than the 24 a decimal keeps.
const std::string k_too_long = "1.0000000000000000000000000000001";

} // namespace

TEST_CASE("yahoo cells: numbers and set-aside cells in every column keep each row's own values", "[unit][parse]") {
    // Row 0: the long timestamp (a bar). Row 1: null open. Row 2: an object for high. Row 3: a too-long low.
    // Row 4: a string close. Row 5: a too-long volume. Row 6: a string volume. Row 7: null volume (a bar).
    // Row 8: a plain row (a bar), after all the set-aside cells.
    const std::string body =
        body_of(k_long_timestamp +
                    ",1741015800,1741019400,1741023000,1741026600,1741030200,1741033800,1741037400,1741041000",
                "1.5,null,3.5,4.5,5.5,6.5,7.5,8.5,9.5", R"(11.5,12.5,{"x":[1,2]},14.5,15.5,16.5,17.5,18.5,19.5)",
                "0.5,1.25,2.5," + k_too_long + ",4.5,5.5,6.5,7.5,8.5",
                R"(1.25,2.25,3.25,4.25,"abc",6.25,7.25,8.25,9.25)",
                "100,200,300,400,500," + k_too_long + R"(,"many",null,900)");
    const auto page = parse_yahoo_chart(body, "AAPL", Timeframe::hour);
    REQUIRE(page);
    REQUIRE(page->batch.bars.size() == 3);

    const auto& first = page->batch.bars[0];
    CHECK(first.ts == epoch(1741012200));
    CHECK(first.open.text == "1.5");
    CHECK(first.open.value == 1.5);
    CHECK(first.high.text == "11.5");
    CHECK(first.low.text == "0.5");
    CHECK(first.close.text == "1.25");
    REQUIRE(first.volume);
    CHECK(first.volume->text == "100");
    CHECK(first.volume->value == 100.0);
    CHECK(first.symbol == "AAPL");
    CHECK(first.source == "yahoo");
    CHECK(first.timeframe == Timeframe::hour);

    const auto& null_volume = page->batch.bars[1];
    CHECK(null_volume.ts == epoch(1741037400));
    CHECK(null_volume.open.text == "8.5");
    CHECK(null_volume.close.text == "8.25");
    CHECK_FALSE(null_volume.volume);

    const auto& last = page->batch.bars[2];
    CHECK(last.ts == epoch(1741041000));
    CHECK(last.open.text == "9.5");
    CHECK(last.high.text == "19.5");
    CHECK(last.low.text == "8.5");
    CHECK(last.close.text == "9.25");
    CHECK(last.close.value == 9.25);
    REQUIRE(last.volume);
    CHECK(last.volume->text == "900");

    const auto& rejected = page->batch.rejected;
    REQUIRE(rejected.size() == 6);
    CHECK(rejected[0].reason == "null open");
    CHECK(rejected[0].raw == R"({"t":1741015800,"open":null,"high":12.5,"low":1.25,"close":2.25,"volume":200})");
    CHECK(rejected[1].reason == "high is not a number");
    CHECK(rejected[1].raw == R"({"t":1741019400,"open":3.5,"high":{"x":[1,2]},"low":2.5,"close":3.25,"volume":300})");
    CHECK(rejected[2].reason == "low has 33 characters, more than the 24 a decimal keeps");
    CHECK(rejected[2].raw ==
          R"({"t":1741023000,"open":4.5,"high":14.5,"low":)" + k_too_long + R"(,"close":4.25,"volume":400})");
    CHECK(rejected[3].reason == "close is not a number");
    CHECK(rejected[4].reason == "volume has 33 characters, more than the 24 a decimal keeps");
    CHECK(rejected[5].reason == "volume is not a number");
    CHECK(rejected[5].raw == R"({"t":1741033800,"open":7.5,"high":17.5,"low":6.5,"close":7.25,"volume":"many"})");
    REQUIRE(page->rejected_at.size() == 6);
    CHECK(page->rejected_at[0] == epoch(1741015800));
    CHECK(page->rejected_at[5] == epoch(1741033800));
}

TEST_CASE("yahoo cells: the daily path reads the same cells, set aside or not", "[unit][parse]") {
    // Three sessions; the second has a null close, the third a live row after its 09:30 row.
    const std::string body =
        body_of(k_long_timestamp + ",1741098600,1741185000,1741200000", "1,2,3,4", R"(1.5,2.5,3.5,4.5)",
                "0.5,1.5,2.5,3.5", "1.25,null,3.25,4.25", R"(10,null,"x",40)");
    const auto page = parse_yahoo_chart(body, "AAPL", Timeframe::day);
    REQUIRE(page);
    REQUIRE(page->batch.bars.size() == 2);
    CHECK(page->skipped == 0);
    CHECK(page->batch.bars[0].ts == epoch(1740960000)); // 2025-03-03
    CHECK(page->batch.bars[0].open.text == "1");
    REQUIRE(page->batch.bars[0].volume);
    CHECK(page->batch.bars[0].volume->text == "10");
    CHECK(page->batch.bars[1].ts == epoch(1741132800)); // 2025-03-05: the live row (the 09:30 row has a bad volume)
    CHECK(page->batch.bars[1].open.text == "4");
    CHECK(page->batch.bars[1].close.text == "4.25");
    REQUIRE(page->batch.rejected.size() == 2);
    CHECK(page->batch.rejected[0].reason == "null close");
    CHECK(page->batch.rejected[1].reason == "volume is not a number");
    CHECK(page->batch.rejected[1].raw == R"({"t":1741185000,"open":3,"high":3.5,"low":2.5,"close":3.25,"volume":"x"})");
}

TEST_CASE("yahoo cells: a timestamp out of range rejects its row, inline or set aside, hourly and daily",
          "[unit][parse]") {
    // 2200-01-01T00:00Z is the first instant out of range; a second before 1900 is out too. The third
    // timestamp is 2200 again, written with 300 zeros so that its cell is set aside.
    const std::string body = body_of("7258118400,-2208988801,7258118400." + std::string(300, '0') + ",1741012200",
                                     "1,2,3,4", "1,2,3,4", "1,2,3,4", "1,2,3,4", "10,20,30,40");
    for (const Timeframe tf : {Timeframe::hour, Timeframe::day}) {
        const auto page = parse_yahoo_chart(body, "AAPL", tf);
        REQUIRE(page);
        REQUIRE(page->batch.bars.size() == 1);
        CHECK(page->batch.bars[0].open.text == "4");
        REQUIRE(page->batch.rejected.size() == 3);
        for (const auto& rejected : page->batch.rejected) CHECK(rejected.reason == "timestamp is out of range");
        CHECK(page->batch.rejected[0].raw == R"({"t":7258118400,"open":1,"high":1,"low":1,"close":1,"volume":10})");
    }
}

TEST_CASE("yahoo cells: a body with no volume column makes bars without volume, hourly too", "[unit][parse]") {
    const std::string body =
        R"({"chart":{"result":[{"meta":{"exchangeTimezoneName":"America/New_York"},"timestamp":[1741012200,1741015800],)"
        R"("indicators":{"quote":[{"open":[1,null],"high":[2,2],"low":[0.5,0.5],"close":[1.5,1.5]}]}}],"error":null}})";
    const auto page = parse_yahoo_chart(body, "^GSPC", Timeframe::hour);
    REQUIRE(page);
    REQUIRE(page->batch.bars.size() == 1);
    CHECK(page->batch.bars[0].close.text == "1.5");
    CHECK_FALSE(page->batch.bars[0].volume);
    REQUIRE(page->batch.rejected.size() == 1);
    CHECK(page->batch.rejected[0].reason == "null open");
    CHECK(page->batch.rejected[0].raw ==
          R"({"t":1741015800,"open":null,"high":2,"low":0.5,"close":1.5,"volume":null})");
}

TEST_CASE("yahoo cells: a body never sees the set-aside cells of the one before", "[unit][parse]") {
    const auto bad = parse_yahoo_chart(body_of("1741012200,1741015800", "null,null", "1,1", "1,1", "1,1", "1,1"),
                                       "AAPL", Timeframe::hour);
    REQUIRE(bad);
    CHECK(bad->batch.rejected.size() == 2);
    const auto good = parse_yahoo_chart(body_of("1741012200", "null", "2", "3", "4", "\"v\""), "MSFT", Timeframe::hour);
    REQUIRE(good);
    REQUIRE(good->batch.rejected.size() == 1);
    CHECK(good->batch.rejected[0].symbol == "MSFT");
    CHECK(good->batch.rejected[0].reason == "null open, volume is not a number");
    CHECK(good->batch.rejected[0].raw == R"({"t":1741012200,"open":null,"high":2,"low":3,"close":4,"volume":"v"})");
}

TEST_CASE("yahoo cells: a missing or short column is still a parse failure, hourly too", "[unit][parse]") {
    const auto short_volume = parse_yahoo_chart(body_of("1741012200,1741015800", "1,2", "1,2", "1,2", "1,2", "null"),
                                                "AAPL", Timeframe::hour);
    REQUIRE_FALSE(short_volume);
    CHECK(short_volume.error().message == "yahoo: volume has 1 values for 2 timestamps");
    const auto short_open = parse_yahoo_chart(body_of("1741012200,1741015800", "null", "1,2", "1,2", "1,2", "1,2"),
                                              "AAPL", Timeframe::hour);
    REQUIRE_FALSE(short_open);
    CHECK(short_open.error().message == "yahoo: open has 1 values for 2 timestamps");
    const auto no_low = parse_yahoo_chart(
        R"({"chart":{"result":[{"timestamp":[1741012200],"indicators":{"quote":[{"open":[1],"high":[1],"close":[1]}]}}],"error":null}})",
        "AAPL", Timeframe::hour);
    REQUIRE_FALSE(no_low);
    CHECK(no_low.error().message == "yahoo: quote has no low array");
}
