// The Yahoo and CoinGecko parsers keep their intermediate rows in vectors of the thread (ScratchRows):
// a body never sees the rows of the one parsed before it, whether that one parsed, failed half-way or
// was large. The vectors are kept for the next body unless one parse wrote more than the cap into them.
#include "etl/providers/json_read.hpp"
#include "etl/providers/parse.hpp"

#include <catch2/catch.hpp>

#include <fmt/format.h>

#include <array>
#include <string>
#include <vector>

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
    // 150,000 rows: a large body, whose cells the thread keeps for the next one.
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
    // 240,000 hourly points (a daily bar from each midnight one): a large body, whose points the thread keeps.
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

TEST_CASE("scratch rows: kept for the next body unless one parse wrote more than the cap", "[unit]") {
    using etl::providers::json::k_max_kept_scratch_bytes;
    using etl::providers::json::ScratchRows;
    using Row = std::array<char, 4096>;
    const std::size_t cap_rows = k_max_kept_scratch_bytes / sizeof(Row);
    std::vector<Row> rows;
    {
        // Reserved far past the cap (as a body's size reserves), written up to it: kept whole.
        const ScratchRows scope(rows);
        rows.reserve(4 * cap_rows);
        rows.resize(cap_rows);
    }
    CHECK(rows.empty());
    CHECK(rows.capacity() >= 4 * cap_rows);
    {
        const ScratchRows scope(rows);
        CHECK(rows.empty());
        rows.resize(cap_rows + 1);
    }
    CHECK(rows.empty());
    CHECK(rows.capacity() == 0);
    {
        // Written past the cap, then shrunk in place (a dedupe): what it wrote still counts.
        ScratchRows scope(rows);
        rows.resize(cap_rows + 1);
        scope.note_written();
        rows.resize(1);
    }
    CHECK(rows.capacity() == 0);
}

TEST_CASE("yahoo: a column named twice fails the body instead of one set of cells winning", "[unit][parse]") {
    const std::string body =
        R"({"chart":{"result":[{"meta":{},"timestamp":[1741012200],"indicators":{"quote":[{"open":[1.5],)"
        R"("high":[2.5],"low":[1.25],"close":[2.0],"open":[9.5],"volume":[100]}]}}],"error":null}})";
    const auto page = parse_yahoo_chart(body, "AAPL", Timeframe::hour);
    REQUIRE_FALSE(page);
    CHECK(page.error().message == "yahoo: open appears twice");
}
