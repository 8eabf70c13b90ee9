// A number literal longer than a bar's decimal text keeps (market::DecimalText::capacity, 24) is a rejected
// record with that reason, in every provider's parser; never a cut text, never a failed body.
#include "etl/providers/parse.hpp"

#include <catch2/catch.hpp>

#include <string>

using etl::market::Timeframe;
using etl::providers::parse_coingecko_daily;
using etl::providers::parse_polygon_aggs;
using etl::providers::parse_yahoo_chart;

namespace {

// 25 characters: one past the capacity. Its double is an ordinary price.
const std::string k_too_long = "241.789993286132800000001";
// 24 characters: exactly the capacity.
const std::string k_longest = "241.78999328613280000001";

} // namespace

TEST_CASE("polygon: a literal longer than 24 characters rejects its row, 24 still fits", "[unit][parse]") {
    REQUIRE(k_too_long.size() == 25);
    REQUIRE(k_longest.size() == 24);
    const std::string body = R"({"resultsCount":2,"results":[)"
                             R"({"o":1.5,"h":)" +
                             k_too_long +
                             R"(,"l":1,"c":1.5,"t":1740978000000},)"
                             R"({"o":1.5,"h":)" +
                             k_longest + R"(,"l":1,"c":1.5,"t":1741064400000,"v":)" + k_too_long +
                             R"(}],"status":"OK"})";
    const auto page = parse_polygon_aggs(body, "AAPL", Timeframe::hour);
    REQUIRE(page);
    REQUIRE(page->batch.bars.empty());
    REQUIRE(page->batch.rejected.size() == 2);
    CHECK(page->batch.rejected[0].reason == "field h has 25 characters, more than the 24 a decimal keeps");
    CHECK(page->batch.rejected[1].reason == "field v has 25 characters, more than the 24 a decimal keeps");
    CHECK(page->batch.rejected[1].source == "polygon");

    const std::string fits =
        R"({"results":[{"o":1.5,"h":)" + k_longest + R"(,"l":1,"c":1.5,"t":1740978000000}],"status":"OK"})";
    const auto kept = parse_polygon_aggs(fits, "AAPL", Timeframe::hour);
    REQUIRE(kept);
    REQUIRE(kept->batch.bars.size() == 1);
    CHECK(kept->batch.bars[0].high.text == k_longest);
    CHECK(kept->batch.bars[0].high.value == Approx(241.7899932861328));
    CHECK(kept->batch.bars[0].source == "polygon");
}

TEST_CASE("yahoo: a literal longer than 24 characters rejects its row by name", "[unit][parse]") {
    const std::string body = R"({"chart":{"result":[{"meta":{"exchangeTimezoneName":"America/New_York"},)"
                             R"("timestamp":[1740925800,1741012200],"indicators":{"quote":[{)"
                             R"("open":[1.5,)" +
                             k_longest + R"(],"high":[2,2],"low":[1,1],"close":[)" + k_too_long +
                             R"(,1.5],)"
                             R"("volume":[100,)" +
                             k_too_long + R"(]}]}}],"error":null}})";
    const auto page = parse_yahoo_chart(body, "AAPL", Timeframe::hour);
    REQUIRE(page);
    REQUIRE(page->batch.bars.empty());
    REQUIRE(page->batch.rejected.size() == 2);
    CHECK(page->batch.rejected[0].reason == "close has 25 characters, more than the 24 a decimal keeps");
    CHECK(page->batch.rejected[1].reason == "volume has 25 characters, more than the 24 a decimal keeps");
    CHECK(page->batch.rejected[0].source == "yahoo");
}

TEST_CASE("coingecko: a price literal longer than 24 characters rejects its point", "[unit][parse]") {
    const std::string body = R"({"prices":[[1740960000000,)" + k_too_long + R"(],[1741046400000,)" + k_longest +
                             R"(]],"total_volumes":[[1741046400000,12.5]]})";
    const auto page = parse_coingecko_daily(body, "BTC");
    REQUIRE(page);
    REQUIRE(page->batch.rejected.size() == 1);
    CHECK(page->batch.rejected[0].reason == "prices point value has 25 characters, more than the 24 a decimal keeps");
    CHECK(page->batch.rejected[0].raw == "[1740960000000," + k_too_long + "]");
    REQUIRE(page->batch.bars.size() == 1);
    CHECK(page->batch.bars[0].close.text == k_longest);
    CHECK(page->batch.bars[0].volume->text == "12.5");
    CHECK(page->batch.bars[0].source == "coingecko");
}

TEST_CASE("latest prices: a price literal longer than 24 characters says so", "[unit][parse]") {
    const std::string yahoo = R"({"chart":{"result":[{"meta":{"symbol":"AAPL","regularMarketPrice":)" + k_too_long +
                              R"(,"chartPreviousClose":240.5,"regularMarketTime":1741030200}}],"error":null}})";
    const auto quote = etl::providers::parse_yahoo_quote(yahoo, "AAPL");
    REQUIRE_FALSE(quote);
    CHECK(quote.error().message ==
          "yahoo: meta.regularMarketPrice has 25 characters, more than the 24 a decimal keeps");
    // The answer is fine, its price is not: a record for rejected_rows, never retried.
    CHECK(quote.error().permanent);
    REQUIRE(quote.error().rejected);
    CHECK(quote.error().rejected->symbol == "AAPL");
    CHECK(quote.error().rejected->source == "yahoo");
    CHECK(quote.error().rejected->raw == R"({"regularMarketPrice":)" + k_too_long + "}");
    CHECK(quote.error().rejected->reason ==
          "meta.regularMarketPrice has 25 characters, more than the 24 a decimal keeps");
    // A meta without a price is no such record.
    const auto no_price =
        etl::providers::parse_yahoo_quote(R"({"chart":{"result":[{"meta":{}}],"error":null}})", "AAPL");
    REQUIRE_FALSE(no_price);
    CHECK_FALSE(no_price.error().rejected);

    const std::string coingecko =
        R"({"prices":[[1741046400000,)" + k_too_long + R"(],[1741050000000,)" + k_longest + R"(]]})";
    const auto points = etl::providers::parse_coingecko_prices(coingecko, "BTC");
    REQUIRE(points);
    REQUIRE(points->rejected.size() == 1);
    CHECK(points->rejected[0].reason == "price point price has 25 characters, more than the 24 a decimal keeps");
    REQUIRE(points->points.size() == 1);
    CHECK(points->points[0].price.text == k_longest);
}

TEST_CASE("coingecko /simple/price: a usd literal longer than 24 characters is a rejected record, not an unknown id",
          "[unit][parse]") {
    const std::string body = R"({"bitcoin":{"usd":)" + k_too_long + R"(,"last_updated_at":1741089612},)" +
                             R"("ethereum":{"usd":)" + k_longest + R"(}})";
    const auto prices = etl::providers::parse_coingecko_simple_price(body);
    REQUIRE(prices);
    REQUIRE(prices->size() == 2);
    const auto& bitcoin = prices->at("bitcoin");
    CHECK(bitcoin.problem == "usd has 25 characters, more than the 24 a decimal keeps");
    CHECK(bitcoin.raw == R"({"usd":)" + k_too_long + "}");
    CHECK(bitcoin.usd.text.empty());
    const auto& ethereum = prices->at("ethereum");
    CHECK(ethereum.problem.empty());
    CHECK(ethereum.usd.text == k_longest);
}
