// The Yahoo and CoinGecko parsers keep their intermediate rows in vectors of the thread (ScratchRows):
// a body never sees the rows of the one parsed before it, whether that one parsed, failed half-way or
// was large enough for its vectors to be given back.
#include "etl/providers/parse.hpp"

#include <catch2/catch.hpp>

#include <fmt/format.h>

#include <string>

using etl::market::Timeframe;
using etl::providers::parse_coingecko_daily;
using etl::providers::parse_yahoo_chart;

namespace {

// A Yahoo hourly body of `rows` rows starting at 2025-03-03 14:30Z, open = 100 + row.
std::string yahoo_body(int rows) {
    std::string t, o, h, l, c, v;
    for (int i = 0; i < rows; ++i) {
        const char* sep = i > 0 ? "," : "";
        t += fmt::format("{}{}", sep, 1741012200LL + i * 3600LL);
        o += fmt::format("{}{}.5", sep, 100 + i);
        h += fmt::format("{}{}.75", sep, 101 + i);
        l += fmt::format("{}{}.25", sep, 99 + i);
        c += fmt::format("{}{}.5", sep, 100 + i);
        v += fmt::format("{}{}", sep, 1000 + i);
    }
    return fmt::format(R"({{"chart":{{"result":[{{"meta":{{}},"timestamp":[{}],"indicators":{{"quote":[{{)"
                       R"("open":[{}],"high":[{}],"low":[{}],"close":[{}],"volume":[{}]}}]}}}}],"error":null}}}})",
                       t, o, h, l, c, v);
}

// A CoinGecko body of `points` points `step_ms` apart from 2025-03-03 00:00Z, price = 10 + i.
std::string coingecko_body(int points, long long step_ms = 86'400'000) {
    std::string p, v;
    for (int i = 0; i < points; ++i) {
        const char* sep = i > 0 ? "," : "";
        const long long ms = 1740960000000LL + i * step_ms;
        p += fmt::format("{}[{},{}.5]", sep, ms, 10 + i);
        v += fmt::format("{}[{},{}]", sep, ms, 500 + i);
    }
    return fmt::format(R"({{"prices":[{}],"market_caps":[],"total_volumes":[{}]}})", p, v);
}

} // namespace

TEST_CASE("yahoo: a body after a longer one, a broken one and a huge one has only its own rows", "[unit][parse]") {
    REQUIRE(parse_yahoo_chart(yahoo_body(3), "AAPL", Timeframe::hour)->batch.bars.size() == 3);
    const auto broken = yahoo_body(5);
    CHECK_FALSE(parse_yahoo_chart(broken.substr(0, broken.size() / 2), "AAPL", Timeframe::hour));
    // 150,000 rows: more cells than the thread keeps, so its vectors are given back afterwards.
    REQUIRE(parse_yahoo_chart(yahoo_body(150'000), "AAPL", Timeframe::hour)->batch.bars.size() == 150'000);

    const auto page = parse_yahoo_chart(yahoo_body(2), "MSFT", Timeframe::hour);
    REQUIRE(page);
    REQUIRE(page->batch.bars.size() == 2);
    CHECK(page->batch.rejected.empty());
    CHECK(page->batch.bars[0].symbol == "MSFT");
    CHECK(page->batch.bars[0].open.text == "100.5");
    CHECK(page->batch.bars[1].high.text == "102.75");
    CHECK(page->batch.bars[1].low.text == "100.25");
    CHECK(page->batch.bars[1].volume->text == "1001");
}

TEST_CASE("coingecko: a body after a longer one, a broken one and a huge one has only its own points",
          "[unit][parse]") {
    REQUIRE(parse_coingecko_daily(coingecko_body(4), "BTC")->batch.bars.size() == 4);
    const auto broken = coingecko_body(6);
    CHECK_FALSE(parse_coingecko_daily(broken.substr(0, broken.size() / 2), "BTC"));
    // 240,000 hourly points (a daily bar from each midnight one): more points than the thread keeps.
    const auto huge = parse_coingecko_daily(coingecko_body(240'000, 3'600'000), "BTC");
    REQUIRE(huge);
    CHECK(huge->batch.bars.size() == 10'000);
    CHECK(huge->skipped == 230'000);
    CHECK(huge->batch.rejected.empty());

    const auto page = parse_coingecko_daily(coingecko_body(2), "ETH");
    REQUIRE(page);
    REQUIRE(page->batch.bars.size() == 2);
    CHECK(page->batch.rejected.empty());
    CHECK(page->skipped == 0);
    CHECK(page->batch.bars[0].symbol == "ETH");
    CHECK(page->batch.bars[0].close.text == "10.5");
    CHECK(page->batch.bars[1].close.text == "11.5");
    CHECK(page->batch.bars[1].volume->text == "501");
}
