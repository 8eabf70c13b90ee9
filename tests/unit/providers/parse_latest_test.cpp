#include "etl/providers/parse.hpp"

#include <catch2/catch.hpp>

using namespace etl::providers;

TEST_CASE("CoinGecko /simple/price: prices by id, unknown ids absent, null change tolerated", "[unit]") {
    const auto r = parse_coingecko_simple_price(
        R"({"bitcoin":{"usd":87301.5,"usd_market_cap":1731480010021.7,"usd_24h_vol":47911200341.9,"usd_24h_change":1.8421,"last_updated_at":1741089612},
            "ethereum":{"usd":2183.41,"usd_24h_change":null,"last_updated_at":1741089598},
            "tiny":{"usd":1.2e-05}})");
    REQUIRE(r);
    REQUIRE(r->size() == 3);
    CHECK(r->at("bitcoin").usd.text == "87301.5");
    CHECK(r->at("bitcoin").change_24h_pct == Approx(1.8421));
    CHECK(r->at("bitcoin").last_updated == 1741089612);
    CHECK_FALSE(r->at("ethereum").change_24h_pct);
    CHECK(r->at("tiny").usd.text == "1.2e-05");
    CHECK_FALSE(r->at("tiny").last_updated); // out of range: ignored, never undefined behaviour
    CHECK(r->count("no-such-coin") == 0);
    const auto empty = parse_coingecko_simple_price("{}");
    REQUIRE(empty);
    CHECK(empty->empty());
    CHECK_FALSE(parse_coingecko_simple_price("<html>Too Many Requests</html>"));
    CHECK_FALSE(parse_coingecko_simple_price(R"({"status":{"error_code":429,"error_message":"rate limited"}})"));
    CHECK_FALSE(parse_coingecko_simple_price(R"({"bitcoin":{"usd":87301.5)"));
}

TEST_CASE("CoinGecko /simple/price: an id named without a usable usd says why, never passes for unknown", "[unit]") {
    const auto r = parse_coingecko_simple_price(
        R"({"a":{"usd":null},"b":{"usd":"65000.1"},"c":{"usd":1e400},"d":{"usd_24h_change":1.5},"e":[1,2],)"
        R"("f":{"usd":12.5}})");
    REQUIRE(r);
    REQUIRE(r->size() == 6);
    CHECK(r->at("a").problem == "usd is null");
    CHECK(r->at("a").raw == R"({"usd":null})");
    CHECK(r->at("b").problem == "usd is not a finite number");
    CHECK(r->at("b").raw == R"({"usd":"65000.1"})");
    CHECK(r->at("c").problem == "usd is not a finite number");
    CHECK(r->at("c").raw == R"({"usd":1e400})");
    CHECK(r->at("d").problem == "no usd price");
    CHECK(r->at("e").problem == "not an object");
    CHECK(r->at("e").raw == "[1,2]");
    for (const char* id : {"a", "b", "c", "d", "e"}) CHECK(r->at(id).usd.text.empty());
    CHECK(r->at("f").problem.empty());
    CHECK(r->at("f").raw.empty());
    CHECK(r->at("f").usd.text == "12.5");
}

TEST_CASE("CoinGecko market_chart points: exact text, sorted, malformed points counted", "[unit]") {
    const auto r = parse_coingecko_prices(
        R"({"prices":[[1741086049981,87398.0211],[1741082461207,87215.33412],["x",1],[1741089612004],[1e300,5],[1741089612004,null]],"market_caps":[],"total_volumes":[]})",
        "BTC");
    REQUIRE(r);
    REQUIRE(r->points.size() == 2);
    CHECK(r->points[0].price.text == "87215.33412");
    CHECK(r->points[0].ts.time_since_epoch().count() == 1741082461);
    REQUIRE(r->rejected.size() == 4);
    CHECK(r->rejected[0].raw == R"(["x",1])");
    CHECK(r->rejected[0].symbol == "BTC");
    CHECK_THAT(r->rejected[2].reason, Catch::Contains("between 1970 and 2200"));
    CHECK_THAT(r->rejected[3].reason, Catch::Contains("not a finite number"));
    CHECK_FALSE(parse_coingecko_prices(R"({"error":"coin not found"})", "BTC"));
    CHECK_FALSE(parse_coingecko_prices("Too Many Requests", "BTC"));
    const auto none = parse_coingecko_prices(R"({"prices":[],"market_caps":[],"total_volumes":[]})", "BTC");
    REQUIRE(none);
    CHECK(none->points.empty());
}

TEST_CASE("Yahoo chart meta as a quote", "[unit]") {
    const auto q = parse_yahoo_quote(
        R"({"chart":{"result":[{"meta":{"currency":"USD","symbol":"AAPL","regularMarketPrice":235.74,"chartPreviousClose":241.84,"previousClose":235.93,"regularMarketTime":1741208401},"timestamp":[1741185000],"indicators":{"quote":[{}]}}],"error":null}})",
        "AAPL");
    REQUIRE(q);
    CHECK(q->price.text == "235.74");
    CHECK(q->previous_close->text == "235.93"); // previousClose wins over chartPreviousClose
    CHECK(q->as_of.time_since_epoch().count() == 1741208401);
    CHECK(q->source == "yahoo");
    const auto missing = parse_yahoo_quote(
        R"({"chart":{"result":null,"error":{"code":"Not Found","description":"No data found, symbol may be delisted"}}})",
        "ZZZZ");
    REQUIRE_FALSE(missing);
    CHECK_THAT(missing.error().message, Catch::Contains("No data found"));
    CHECK_FALSE(parse_yahoo_quote("Too Many Requests", "AAPL"));
    CHECK_FALSE(parse_yahoo_quote(R"({"chart":{"result":[{"meta":{"symbol":"AAPL"}}],"error":null}})", "AAPL"));
}

TEST_CASE("Yahoo quote: malformed bodies are parse failures, never a crash", "[unit]") {
    // A lone "{" once crashed etl-latest: the parser rewound a document simdjson had given up on.
    const auto brace = parse_yahoo_quote("{", "AAPL");
    REQUIRE_FALSE(brace);
    CHECK_THAT(brace.error().message, Catch::StartsWith("yahoo: "));
    const std::string real =
        R"({"chart":{"result":[{"meta":{"currency":"USD","symbol":"AAPL","regularMarketPrice":235.74,"chartPreviousClose":241.84,"regularMarketTime":1741208401},"timestamp":[1741185000],"indicators":{"quote":[{}]}}],"error":null}})";
    for (std::size_t n = 0; n < real.size(); ++n) {
        INFO(real.substr(0, n));
        CHECK_FALSE(parse_yahoo_quote(real.substr(0, n), "AAPL")); // every truncation, none a quote
    }
    CHECK(parse_yahoo_quote(real, "AAPL"));
    CHECK_FALSE(parse_yahoo_quote(real + "}", "AAPL"));
    // The description is the provider's text: it reaches the log as one line.
    const auto multi = parse_yahoo_quote(
        R"({"chart":{"result":null,"error":{"code":"Bad Request","description":"first line\nsecond\u0007line"}}})",
        "AAPL");
    REQUIRE_FALSE(multi);
    CHECK(multi.error().message == "yahoo: first line second line");
}
