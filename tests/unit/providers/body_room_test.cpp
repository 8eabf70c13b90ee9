// A body with simdjson's padding of room after it (as the HTTP client leaves every body) is parsed where it
// lies; any other body is copied first. Both ways give the same bars and rejected records, and nothing in
// the room past a body's end ever reaches a bar.
#include "etl/http/transport.hpp"
#include "etl/providers/json_read.hpp"
#include "etl/providers/parse.hpp"

#include <catch2/catch.hpp>

#include <algorithm>
#include <string>
#include <string_view>

using etl::market::Timeframe;
using etl::providers::Body;
using etl::providers::ParsedPage;
using etl::providers::ParseResult;

namespace {

// Hourly rows with a null open (rejected), a string volume (rejected) and a null volume (a bar).
const std::string k_yahoo = R"({"chart":{"result":[{"meta":{"exchangeTimezoneName":"America/New_York"},)"
                            R"("timestamp":[1741012200,1741015800,1741019400,1741023000],"indicators":{"quote":[{)"
                            R"("open":[1.5,null,3.25,4.125],"high":[2.5,2.5,4.5,5.5],"low":[1.25,1.25,3.0,4.0],)"
                            R"("close":[2.0,2.0,4.0,5.25],"volume":[100,200,"many",null]}]}}],"error":null}})";
const std::string k_polygon =
    R"({"ticker":"AAPL","resultsCount":2,"results":[{"v":1000,"vw":1.5,"o":1.25,"c":1.75,"h":2,"l":1,)"
    R"("t":1741012200000,"n":7},{"v":2000,"o":"x","c":1.75,"h":2,"l":1,"t":1741015800000}],"status":"OK"})";
const std::string k_coingecko = R"({"prices":[[1740960000000,86000.5],[1741046400000,87000.25]],)"
                                R"("market_caps":[],"total_volumes":[[1740960000000,1.5e10],[1741046400000,2e10]]})";

// `text` in a string with room after it, the room filled with `fill` (the client's room is zeros).
std::string with_room(std::string_view text, char fill) {
    std::string s(text);
    s.append(2 * simdjson::SIMDJSON_PADDING, fill);
    s.resize(text.size());
    return s;
}

// Every bar's and every rejected record's text, in order.
std::string outcome(const ParseResult<ParsedPage>& page) {
    if (!page) return "failure: " + page.error().message;
    std::string out;
    for (const auto& bar : page->batch.bars) {
        out += bar.symbol + " " + std::to_string(bar.ts.time_since_epoch().count()) + " " + bar.open.text.str() + " " +
               bar.high.text.str() + " " + bar.low.text.str() + " " + bar.close.text.str() + " " +
               (bar.volume ? bar.volume->text.str() : "-") + " " + (bar.vwap ? bar.vwap->text.str() : "-") + "\n";
    }
    for (const auto& r : page->batch.rejected) out += r.raw + " " + r.reason + "\n";
    return out;
}

} // namespace

TEST_CASE("body room: a body with room is parsed where it lies, any other is copied first", "[unit][parse]") {
    auto& parser = etl::providers::json::thread_parser();
    const std::string padded = with_room(k_yahoo, '\0');
    REQUIRE(Body(padded).readable() >= padded.size() + simdjson::SIMDJSON_PADDING);
    REQUIRE_FALSE(parser.iterate(Body(padded)).error());
    CHECK(parser.buffer() == padded.data());

    const std::string_view view(padded);
    CHECK(Body(view).readable() == view.size());
    REQUIRE_FALSE(parser.iterate(Body(view)).error());
    CHECK(parser.buffer() != padded.data());
}

TEST_CASE("body room: in place or copied, every parser gives the same bars and rejects", "[unit][parse]") {
    for (const char fill : {'\0', '7', '"'}) {
        INFO("room filled with '" << (fill == '\0' ? std::string("\\0") : std::string(1, fill)) << "'");
        const std::string yahoo = with_room(k_yahoo, fill);
        const auto yahoo_in_place = etl::providers::parse_yahoo_chart(yahoo, "AAPL", Timeframe::hour);
        REQUIRE(yahoo_in_place);
        CHECK(yahoo_in_place->batch.bars.size() == 2);
        CHECK(yahoo_in_place->batch.rejected.size() == 2);
        CHECK(outcome(yahoo_in_place) ==
              outcome(etl::providers::parse_yahoo_chart(std::string_view(k_yahoo), "AAPL", Timeframe::hour)));
        CHECK(outcome(etl::providers::parse_yahoo_chart(yahoo, "AAPL", Timeframe::day)) ==
              outcome(etl::providers::parse_yahoo_chart(std::string_view(k_yahoo), "AAPL", Timeframe::day)));

        const std::string polygon = with_room(k_polygon, fill);
        const auto polygon_in_place = etl::providers::parse_polygon_aggs(polygon, "AAPL", Timeframe::hour);
        REQUIRE(polygon_in_place);
        CHECK(polygon_in_place->batch.bars.size() == 1);
        CHECK(polygon_in_place->batch.rejected.size() == 1);
        CHECK(outcome(polygon_in_place) ==
              outcome(etl::providers::parse_polygon_aggs(std::string_view(k_polygon), "AAPL", Timeframe::hour)));

        const std::string coingecko = with_room(k_coingecko, fill);
        const auto coingecko_in_place = etl::providers::parse_coingecko_daily(coingecko, "BTC");
        REQUIRE(coingecko_in_place);
        CHECK(coingecko_in_place->batch.bars.size() == 2);
        CHECK(outcome(coingecko_in_place) ==
              outcome(etl::providers::parse_coingecko_daily(std::string_view(k_coingecko), "BTC")));
    }
}

TEST_CASE("body room: digits past a truncated body's end never complete its last number", "[unit][parse]") {
    // Cut right after a number: the room's digits would extend it if the parser read them as the body.
    const std::string cut = k_yahoo.substr(0, k_yahoo.find("4.125") + 5);
    const std::string truncated = with_room(cut, '7');
    REQUIRE(Body(truncated).readable() >= truncated.size() + simdjson::SIMDJSON_PADDING);
    CHECK_FALSE(etl::providers::parse_yahoo_chart(truncated, "AAPL", Timeframe::hour));
    const std::string polygon_cut = with_room(k_polygon.substr(0, k_polygon.find(R"("c":1.75)") + 8), '9');
    CHECK_FALSE(etl::providers::parse_polygon_aggs(polygon_cut, "AAPL", Timeframe::hour));
}

TEST_CASE("body room: the client leaves zeroed room after a body and keeps its text", "[unit]") {
    for (const std::size_t size :
         {std::size_t{0}, std::size_t{5}, std::size_t{15}, std::size_t{16}, std::size_t{1000}}) {
        std::string body(size, 'x');
        body.shrink_to_fit();
        etl::http::room_after_body(body);
        CHECK(body == std::string(size, 'x'));
        REQUIRE(body.capacity() >= size + etl::http::k_body_room);
        const char* const room = body.data() + size;
        CHECK(std::all_of(room, room + etl::http::k_body_room, [](char c) { return c == '\0'; }));
        CHECK(Body(body).readable() >= size + simdjson::SIMDJSON_PADDING);
    }
}
