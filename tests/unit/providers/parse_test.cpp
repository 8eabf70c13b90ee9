// Provider body parsers against the bodies and pitfalls in shared/reference/providers.md (sections 1-3).
#include "etl/providers/parse.hpp"

#include <catch2/catch.hpp>

#include <chrono>
#include <cmath>
#include <cstdint>
#include <limits>
#include <random>
#include <string>
#include <string_view>

using etl::market::Timeframe;
using etl::providers::parse_coingecko_daily;
using etl::providers::parse_polygon_aggs;
using etl::providers::parse_yahoo_chart;
using etl::providers::provider_error_message;
using std::chrono::sys_days;
using std::chrono::sys_seconds;

namespace {

sys_seconds date_utc(int y, unsigned m, unsigned d) {
    return sys_days{std::chrono::year{y} / std::chrono::month{m} / std::chrono::day{d}};
}

sys_seconds epoch(std::int64_t seconds) { return sys_seconds{std::chrono::seconds{seconds}}; }

// ---- Polygon bodies (providers.md 1.2, 1.3) ----

constexpr std::string_view k_polygon_daily =
    R"({"ticker":"AAPL","queryCount":3,"resultsCount":3,"adjusted":true,
 "results":[
  {"v":48112345.0,"vw":238.4021,"o":241.79,"c":238.03,"h":244.03,"l":236.11,"t":1740978000000,"n":612004},
  {"v":53911022,"vw":235.9113,"o":237.71,"c":235.93,"h":240.07,"l":234.68,"t":1741064400000,"n":655871},
  {"v":4.7227643e+07,"vw":235.2277,"o":235.42,"c":235.74,"h":236.55,"l":229.23,"t":1741150800000,"n":598120}],
 "status":"OK","request_id":"9b1c0d3e5f6a47b8a1c2d3e4f5a6b7c8","count":3})";

constexpr std::string_view k_polygon_hourly =
    R"({"ticker":"X:BTCUSD","queryCount":120,"resultsCount":2,"adjusted":true,
 "results":[
  {"v":412.88213,"vw":87190.4412,"o":87010.0,"c":87355.12,"h":87499.0,"l":86950.55,"t":1741082400000,"n":30112},
  {"v":388.10457,"vw":87402.1178,"o":87355.13,"c":87290.0,"h":87611.4,"l":87180.0,"t":1741086000000,"n":28540}],
 "status":"OK","request_id":"0f4e6c2b9a8d4e1f8b7a6c5d4e3f2a10",
 "next_url":"https://api.massive.com/v2/aggs/ticker/X:BTCUSD/range/1/hour/1741089600000/2025-03-05?cursor=RVhBTVBMRUNVUlNPUg"})";

constexpr std::string_view k_polygon_empty =
    R"({"ticker":"ZZZZ","queryCount":0,"resultsCount":0,"adjusted":true,"status":"OK","request_id":"5d0c8e1a2b3c4d5e6f708192a3b4c5d6"})";

constexpr std::string_view k_polygon_index =
    R"({"ticker":"I:SPX","queryCount":2,"resultsCount":2,"status":"OK","request_id":"a1b2c3d4e5f60718293a4b5c6d7e8f90",
 "results":[{"o":5849.72,"h":5865.08,"l":5732.59,"c":5778.15,"t":1740978000000},
            {"o":5759.09,"h":5839.64,"l":5732.05,"c":5842.63,"t":1741064400000}]})";

constexpr std::string_view k_polygon_prev =
    R"({"ticker":"MSFT","queryCount":1,"resultsCount":1,"adjusted":true,
 "results":[{"T":"MSFT","v":18734211,"vw":398.1172,"o":396.2,"c":399.35,"h":401.02,"l":394.88,"t":1741208400000,"n":301245}],
 "status":"OK","request_id":"c0ffee00c0ffee00c0ffee00c0ffee00","count":1})";

constexpr std::string_view k_polygon_401 =
    R"({"status":"ERROR","request_id":"6a7e466379af0a71039d60cc78e72282","error":"API Key was not provided"})";
constexpr std::string_view k_polygon_403 =
    R"({"status":"NOT_AUTHORIZED","request_id":"1e2a3b4c","message":"You are not entitled to this data. Please upgrade your plan at https://polygon.io/pricing"})";
constexpr std::string_view k_polygon_429 =
    R"({"status":"ERROR","request_id":"77aa","error":"You've exceeded the maximum requests per minute, please wait or upgrade your subscription to continue."})";

// ---- CoinGecko bodies (providers.md 2.1, 2.2) ----

constexpr std::string_view k_coingecko_hourly =
    R"({"prices":[[1741082461207,87215.33412],[1741086049981,87398.0211],[1741089612004,87301.5]],
 "market_caps":[[1741082461207,1729811223345.12],[1741086049981,1733402112980.4],[1741089612004,1731480010021.7]],
 "total_volumes":[[1741082461207,48122331098.6],[1741086049981,48390012877.1],[1741089612004,47911200341.9]]})";

// Three midnights (2025-03-03..05) plus the trailing "now" point; total_volumes lacks 03-03, has an
// extra non-midnight point and lists its points out of order relative to prices' indexes.
constexpr std::string_view k_coingecko_daily =
    R"({"prices":[[1740960000000,86000.5],[1741046400000,87215.33412],[1741132800000,1.2e-05],[1741166372000,87301.5]],
 "market_caps":[[1740960000000,1.7e12]],
 "total_volumes":[[1741046400000,48122331098.6],[1741100000000,1.0],[1741132800000,0],[1741166372000,47911200341.9]]})";

constexpr std::string_view k_coingecko_404 = R"({"error":"coin not found"})";
constexpr std::string_view k_coingecko_429 =
    R"({"status":{"error_code":429,"error_message":"You've exceeded the Rate Limit. Please visit https://www.coingecko.com/en/api/pricing to subscribe to our API plans for higher rate limits."}})";
constexpr std::string_view k_coingecko_10012 =
    R"({"error":{"status":{"timestamp":"2024-04-20T22:00:05.123+00:00","error_code":10012,"error_message":"Your request exceeds the allowed time range. Public API users are limited to querying historical data within the past 365 days."}}})";
constexpr std::string_view k_cloudflare_html =
    "<!DOCTYPE html>\n<html lang=\"en-US\"><head><title>Just a moment...</title></head><body>Error 1015</body></html>";

// ---- Yahoo bodies (providers.md 3.2) ----

constexpr std::string_view k_yahoo_daily =
    R"({"chart":{"result":[{"meta":{"currency":"USD","symbol":"AAPL","exchangeName":"NMS","fullExchangeName":"NasdaqGS",
 "instrumentType":"EQUITY","firstTradeDate":345479400,"regularMarketTime":1741208401,"hasPrePostMarketData":true,
 "gmtoffset":-18000,"timezone":"EST","exchangeTimezoneName":"America/New_York","regularMarketPrice":235.74,
 "chartPreviousClose":241.84,"priceHint":2,
 "currentTradingPeriod":{"pre":{"timezone":"EST","start":1741165200,"end":1741185000,"gmtoffset":-18000},
  "regular":{"timezone":"EST","start":1741185000,"end":1741208400,"gmtoffset":-18000},
  "post":{"timezone":"EST","start":1741208400,"end":1741222800,"gmtoffset":-18000}},
 "dataGranularity":"1d","range":"","validRanges":["1d","5d","1mo","3mo","6mo","1y","2y","5y","10y","ytd","max"]},
 "timestamp":[1741012200,1741098600,1741185000],
 "indicators":{"quote":[{"open":[241.7899932861328,237.7100067138672,null],
   "high":[244.02999877929688,240.07000732421875,236.5500030517578],
   "low":[236.11000061035156,234.67999267578125,229.22999572753906],
   "close":[238.02999877929688,235.92999267578125,235.74000549316406],
   "volume":[47184000,53798100,null]}],
  "adjclose":[{"adjclose":[237.6799926757812,235.5800018310547,235.74000549316406]}]}}],"error":null}})";

constexpr std::string_view k_yahoo_404 =
    R"({"chart":{"result":null,"error":{"code":"Not Found","description":"No data found, symbol may be delisted"}}})";
constexpr std::string_view k_yahoo_422 =
    R"({"chart":{"result":null,"error":{"code":"Unprocessable Entity","description":"1h data not available for startTime=1664582400 and endTime=1705276800. The requested range must be within the last 730 days."}}})";
constexpr std::string_view k_yahoo_no_rows =
    R"({"chart":{"result":[{"meta":{"symbol":"AAPL","exchangeTimezoneName":"America/New_York","dataGranularity":"1d"},
 "indicators":{"quote":[{}],"adjclose":[{}]}}],"error":null}})";

// A one-result Yahoo body from columns given as JSON array texts.
std::string yahoo_body(std::string_view timestamps, std::string_view open, std::string_view high, std::string_view low,
                       std::string_view close, std::string_view volume,
                       std::string_view zone = R"("exchangeTimezoneName":"America/New_York",)") {
    std::string body = R"({"chart":{"result":[{"meta":{"symbol":"X",)";
    body += zone;
    body += R"("gmtoffset":-18000},"timestamp":)";
    body += timestamps;
    body += R"(,"indicators":{"quote":[{"open":)";
    body += open;
    body += R"(,"high":)";
    body += high;
    body += R"(,"low":)";
    body += low;
    body += R"(,"close":)";
    body += close;
    if (!volume.empty()) {
        body += R"(,"volume":)";
        body += volume;
    }
    body += R"(}]}}],"error":null}})";
    return body;
}

} // namespace

// ============================== Polygon ==============================

TEST_CASE("polygon: the daily example body gives three exact bars", "[unit]") {
    const auto page = parse_polygon_aggs(k_polygon_daily, "AAPL", Timeframe::day);
    REQUIRE(page);
    REQUIRE(page->batch.bars.size() == 3);
    CHECK(page->batch.rejected.empty());
    CHECK_FALSE(page->next_url);
    CHECK(page->skipped == 0);

    const auto& first = page->batch.bars[0];
    CHECK(first.symbol == "AAPL");
    CHECK(first.timeframe == Timeframe::day);
    CHECK(first.source == "polygon");
    CHECK(first.ts == date_utc(2025, 3, 3));
    CHECK(first.open.text == "241.79");
    CHECK(first.open.value == Approx(241.79));
    CHECK(first.high.text == "244.03");
    CHECK(first.low.text == "236.11");
    CHECK(first.close.text == "238.03");
    CHECK(first.close.value == Approx(238.03));
    REQUIRE(first.volume);
    CHECK(first.volume->text == "48112345.0"); // an integer written as a float keeps its text
    CHECK(first.volume->value == 48112345.0);
    REQUIRE(first.vwap);
    CHECK(first.vwap->text == "238.4021");
    CHECK(first.trade_count == std::int64_t{612004});

    CHECK(page->batch.bars[1].ts == date_utc(2025, 3, 4)); // 1741064400000 = 2025-03-04 00:00 ET
    CHECK(page->batch.bars[1].volume->text == "53911022");
    CHECK(page->batch.bars[2].ts == date_utc(2025, 3, 5));
}

TEST_CASE("polygon: exponent volume keeps its literal text and parses its value", "[unit]") {
    const auto page = parse_polygon_aggs(k_polygon_daily, "AAPL", Timeframe::day);
    REQUIRE(page);
    const auto& bar = page->batch.bars.at(2);
    REQUIRE(bar.volume);
    CHECK(bar.volume->text == "4.7227643e+07");
    CHECK(bar.volume->value == 47227643.0);
    CHECK(bar.trade_count == std::int64_t{598120});
}

TEST_CASE("polygon: hourly bars keep t and next_url is returned as given", "[unit]") {
    const auto page = parse_polygon_aggs(k_polygon_hourly, "BTC", Timeframe::hour);
    REQUIRE(page);
    REQUIRE(page->batch.bars.size() == 2);
    CHECK(page->batch.bars[0].ts == epoch(1741082400));
    CHECK(page->batch.bars[0].timeframe == Timeframe::hour);
    CHECK(page->batch.bars[0].symbol == "BTC");
    CHECK(page->batch.bars[0].volume->text == "412.88213"); // fractional crypto volume
    CHECK(page->batch.bars[0].open.text == "87010.0");
    CHECK(page->batch.bars[1].ts == epoch(1741086000));
    REQUIRE(page->next_url);
    CHECK(*page->next_url == "https://api.massive.com/v2/aggs/ticker/X:BTCUSD/range/1/hour/1741089600000/"
                             "2025-03-05?cursor=RVhBTVBMRUNVUlNPUg");
}

TEST_CASE("polygon: next_url absent or null means last page", "[unit]") {
    const auto absent = parse_polygon_aggs(k_polygon_index, "SPX", Timeframe::day);
    REQUIRE(absent);
    CHECK_FALSE(absent->next_url);
    const auto null = parse_polygon_aggs(R"({"status":"OK","results":[],"next_url":null})", "SPX", Timeframe::day);
    REQUIRE(null);
    CHECK_FALSE(null->next_url);
    const auto escaped = parse_polygon_aggs(R"({"status":"OK","next_url":"https:\/\/api.polygon.io\/v2?cursor=a"})",
                                            "A", Timeframe::hour);
    REQUIRE(escaped);
    CHECK(escaped->next_url == std::string("https://api.polygon.io/v2?cursor=a"));
    // Found by fuzzing: an empty next_url was a next page at the base URL itself.
    for (const auto* body : {R"({"status":"OK","results":[],"next_url":""})", R"({"status":"OK","next_url":" \n"})"}) {
        const auto empty = parse_polygon_aggs(body, "A", Timeframe::hour);
        REQUIRE(empty);
        CHECK_FALSE(empty->next_url);
    }
}

TEST_CASE("polygon: hourly t is floored to whole seconds", "[unit]") {
    const auto page =
        parse_polygon_aggs(R"({"status":"OK","results":[{"o":1,"h":1,"l":1,"c":1,"v":1,"t":1741082400999}]})", "A",
                           Timeframe::hour);
    REQUIRE(page);
    REQUIRE(page->batch.bars.size() == 1);
    CHECK(page->batch.bars[0].ts == epoch(1741082400));
}

TEST_CASE("polygon: results missing or null give zero bars, not an error", "[unit]") {
    const auto missing = parse_polygon_aggs(k_polygon_empty, "ZZZZ", Timeframe::day);
    REQUIRE(missing);
    CHECK(missing->batch.bars.empty());
    CHECK(missing->batch.rejected.empty());
    CHECK_FALSE(missing->next_url);

    const auto null = parse_polygon_aggs(
        R"({"ticker":"ZZZZ","queryCount":0,"resultsCount":0,"results":null,"status":"OK","request_id":"x"})", "ZZZZ",
        Timeframe::day);
    REQUIRE(null);
    CHECK(null->batch.bars.empty());

    const auto empty = parse_polygon_aggs(R"({"status":"OK","results":[]})", "ZZZZ", Timeframe::hour);
    REQUIRE(empty);
    CHECK(empty->batch.bars.empty());
}

TEST_CASE("polygon: status DELAYED is accepted like OK", "[unit]") {
    std::string body(k_polygon_daily);
    body.replace(body.find(R"("status":"OK")"), 13, R"("status":"DELAYED")");
    const auto page = parse_polygon_aggs(body, "AAPL", Timeframe::day);
    REQUIRE(page);
    CHECK(page->batch.bars.size() == 3);
}

TEST_CASE("polygon: index bars without v, vw and n have no volume", "[unit]") {
    const auto page = parse_polygon_aggs(k_polygon_index, "SPX", Timeframe::day);
    REQUIRE(page);
    REQUIRE(page->batch.bars.size() == 2);
    CHECK(page->batch.rejected.empty());
    for (const auto& bar : page->batch.bars) {
        CHECK_FALSE(bar.volume);
        CHECK_FALSE(bar.vwap);
        CHECK_FALSE(bar.trade_count);
    }
    CHECK(page->batch.bars[0].close.text == "5778.15");
    CHECK(page->batch.bars[1].ts == date_utc(2025, 3, 4));
}

TEST_CASE("polygon: /prev 16:00 ET and range 00:00 ET map to the same session date", "[unit]") {
    const auto prev = parse_polygon_aggs(k_polygon_prev, "MSFT", Timeframe::day);
    REQUIRE(prev);
    REQUIRE(prev->batch.bars.size() == 1);
    CHECK(prev->batch.bars[0].ts == date_utc(2025, 3, 5)); // 1741208400000 = 2025-03-05 16:00 ET
    CHECK(prev->batch.bars[0].trade_count == std::int64_t{301245});

    const auto range =
        parse_polygon_aggs(R"({"status":"OK","results":[{"o":1,"h":1,"l":1,"c":1,"v":1,"t":1741150800000}]})", "MSFT",
                           Timeframe::day);
    REQUIRE(range);
    CHECK(range->batch.bars.at(0).ts == prev->batch.bars[0].ts);
}

TEST_CASE("polygon: daily dates across the March DST switch", "[unit]") {
    // 2025-03-09 is the second Sunday of March: 00:00 ET is 05:00Z before it and 04:00Z after.
    constexpr std::string_view body = R"({"status":"OK","results":[
        {"o":1,"h":1,"l":1,"c":1,"v":1,"t":1741237200000},
        {"o":1,"h":1,"l":1,"c":1,"v":1,"t":1741323600000},
        {"o":1,"h":1,"l":1,"c":1,"v":1,"t":1741579200000},
        {"o":1,"h":1,"l":1,"c":1,"v":1,"t":1741665600000},
        {"o":1,"h":1,"l":1,"c":1,"v":1,"t":1741381200000},
        {"o":1,"h":1,"l":1,"c":1,"v":1,"t":1741636800000}]})";
    const auto page = parse_polygon_aggs(body, "AAPL", Timeframe::day);
    REQUIRE(page);
    REQUIRE(page->batch.bars.size() == 6);
    CHECK(page->batch.bars[0].ts == date_utc(2025, 3, 6));
    CHECK(page->batch.bars[1].ts == date_utc(2025, 3, 7));
    CHECK(page->batch.bars[2].ts == date_utc(2025, 3, 10)); // 04:00Z: a fixed -05:00 would say 03-09
    CHECK(page->batch.bars[3].ts == date_utc(2025, 3, 11));
    CHECK(page->batch.bars[4].ts == date_utc(2025, 3, 7));  // /prev convention, 16:00 EST
    CHECK(page->batch.bars[5].ts == date_utc(2025, 3, 10)); // /prev convention, 16:00 EDT
}

TEST_CASE("polygon: daily dates across the November DST switch", "[unit]") {
    constexpr std::string_view body = R"({"status":"OK","results":[
        {"o":1,"h":1,"l":1,"c":1,"t":1761883200000},
        {"o":1,"h":1,"l":1,"c":1,"t":1762146000000},
        {"o":1,"h":1,"l":1,"c":1,"t":1762203600000}]})";
    const auto page = parse_polygon_aggs(body, "SPX", Timeframe::day);
    REQUIRE(page);
    REQUIRE(page->batch.bars.size() == 3);
    CHECK(page->batch.bars[0].ts == date_utc(2025, 10, 31));
    CHECK(page->batch.bars[1].ts == date_utc(2025, 11, 3));
    CHECK(page->batch.bars[2].ts == date_utc(2025, 11, 3));
}

TEST_CASE("polygon: integers written as floats or exponents are accepted", "[unit]") {
    const auto page = parse_polygon_aggs(
        R"({"status":"OK","results":[{"o":1,"h":2,"l":0.5,"c":1.5,"v":1.029145e+06,"t":1.7410644e+12,"n":612004.0},
                                     {"o":1,"h":2,"l":0.5,"c":1.5,"v":0,"t":1741064400000,"n":6.12004e+05}]})",
        "AAPL", Timeframe::day);
    REQUIRE(page);
    REQUIRE(page->batch.bars.size() == 2);
    CHECK(page->batch.rejected.empty());
    CHECK(page->batch.bars[0].ts == date_utc(2025, 3, 4));
    CHECK(page->batch.bars[0].trade_count == std::int64_t{612004});
    CHECK(page->batch.bars[0].volume->text == "1.029145e+06");
    CHECK(page->batch.bars[0].volume->value == 1029145.0);
    CHECK(page->batch.bars[0].open.text == "1");
    CHECK(page->batch.bars[1].trade_count == std::int64_t{612004});
    CHECK(page->batch.bars[1].volume->text == "0");
}

TEST_CASE("polygon: unknown fields are ignored", "[unit]") {
    const auto page = parse_polygon_aggs(
        R"({"ticker":"AAPL","new_field":{"a":[1,{"b":null}]},"status":"OK","results":[
            {"T":"AAPL","otc":true,"x":{"nested":[1,2,3]},"o":1,"h":2,"l":0.5,"c":1.5,"v":10,"t":1741064400000,"zz":"s"}],
            "count":1,"later":[true,false]})",
        "AAPL", Timeframe::day);
    REQUIRE(page);
    REQUIRE(page->batch.bars.size() == 1);
    CHECK(page->batch.bars[0].close.text == "1.5");
}

TEST_CASE("polygon: keys are matched exactly, and spacing around numbers is not part of their text", "[unit]") {
    const auto page = parse_polygon_aggs(R"({ "status" : "OK" , "results" : [
        { "o" : 241.79 , "h" :244.03,"l": 236.11
        ,"c"	:	238.03	, "ot":1, "vwx":2, "":3, "v\"":4, "t" : 1741064400000 , "vw" : 238.4021 }
        ] }
        )",
                                         "AAPL", Timeframe::day);
    REQUIRE(page);
    REQUIRE(page->batch.bars.size() == 1);
    const auto& bar = page->batch.bars[0];
    CHECK(bar.open.text == "241.79");
    CHECK(bar.high.text == "244.03");
    CHECK(bar.low.text == "236.11");
    CHECK(bar.close.text == "238.03");
    CHECK_FALSE(bar.volume);
    REQUIRE(bar.vwap);
    CHECK(bar.vwap->text == "238.4021");
    CHECK_FALSE(bar.trade_count);

    // Keys are compared as written, never unescaped (providers do not escape plain keys): a key spelled
    // with an escape is unknown, so the row is rejected rather than misread.
    const auto escaped_key =
        parse_polygon_aggs(R"({"status":"OK","results":[{"\u006f":1,"h":1,"l":1,"c":1,"t":1741064400000}]})", "AAPL",
                           Timeframe::day);
    REQUIRE(escaped_key);
    CHECK(escaped_key->batch.bars.empty());
    REQUIRE(escaped_key->batch.rejected.size() == 1);
    CHECK(escaped_key->batch.rejected[0].reason == "missing field o");
}

TEST_CASE("polygon: a malformed result is rejected with its text and a reason, the rest still parse", "[unit]") {
    constexpr std::string_view missing_c = R"({"v":10,"o":1.5,"h":2,"l":1,"t":1741064400000})";
    constexpr std::string_view string_o = R"({"v":10,"o":"abc","h":2,"l":1,"c":1.5,"t":1741064400000})";
    constexpr std::string_view null_t = R"({"o":1,"h":2,"l":1,"c":1.5,"t":null})";
    constexpr std::string_view fraction_t = R"({"o":1,"h":2,"l":1,"c":1.5,"t":1741064400000.5})";
    constexpr std::string_view bad_n = R"({"o":1,"h":2,"l":1,"c":1.5,"t":1741064400000,"n":"many"})";
    constexpr std::string_view huge_t = R"({"o":1,"h":2,"l":1,"c":1.5,"t":99999999999999999})";
    constexpr std::string_view bad_number = R"({"o":1,"h":2,"l":1,"c":1e999,"t":1741064400000})";
    const std::string body = std::string(R"({"status":"OK","results":[)") + std::string(missing_c) + ",\n  " +
                             std::string(string_o) + " ," + std::string(null_t) + "," + std::string(fraction_t) + "," +
                             std::string(bad_n) + "," + std::string(huge_t) + "," + std::string(bad_number) + "," +
                             R"(42, null, [1,2],)" +
                             R"({"o":1,"h":2,"l":1,"c":1.5,"v":null,"t":1741064400000,"n":null}]})";
    const auto page = parse_polygon_aggs(body, "AAPL", Timeframe::day);
    REQUIRE(page);
    REQUIRE(page->batch.bars.size() == 1);
    CHECK_FALSE(page->batch.bars[0].volume); // null optional fields count as absent
    CHECK_FALSE(page->batch.bars[0].trade_count);

    const auto& rejected = page->batch.rejected;
    REQUIRE(rejected.size() == 10);
    for (const auto& r : rejected) {
        CHECK(r.symbol == "AAPL");
        CHECK(r.source == "polygon");
        CHECK(r.reason.find('\n') == std::string::npos);
    }
    CHECK(rejected[0].raw == missing_c);
    CHECK(rejected[0].reason == "missing field c");
    CHECK(rejected[1].raw == string_o);
    CHECK(rejected[1].reason == "field o is not a number");
    CHECK(rejected[2].raw == null_t);
    CHECK(rejected[2].reason == "field t is null");
    CHECK(rejected[3].raw == fraction_t);
    CHECK(rejected[3].reason == "field t is not an integer");
    CHECK(rejected[4].reason == "field n is not an integer");
    CHECK(rejected[5].reason == "field t is out of range");
    CHECK(rejected[6].raw == bad_number);
    CHECK(rejected[6].reason == "field c is not a number");
    CHECK(rejected[7].raw == "42");
    CHECK(rejected[7].reason == "result is not an object");
    CHECK(rejected[8].raw == "null");
    CHECK(rejected[9].raw == "[1,2]");
}

TEST_CASE("polygon: error bodies are parse failures carrying the message", "[unit]") {
    const auto unauthorized = parse_polygon_aggs(k_polygon_401, "AAPL", Timeframe::day);
    REQUIRE_FALSE(unauthorized);
    CHECK(unauthorized.error().message.find("API Key was not provided") != std::string::npos);
    CHECK(unauthorized.error().message.find("ERROR") != std::string::npos);

    const auto forbidden = parse_polygon_aggs(k_polygon_403, "AAPL", Timeframe::day);
    REQUIRE_FALSE(forbidden);
    CHECK(forbidden.error().message.find("NOT_AUTHORIZED") != std::string::npos);
    CHECK(forbidden.error().message.find("You are not entitled to this data") != std::string::npos);

    const auto limited = parse_polygon_aggs(k_polygon_429, "AAPL", Timeframe::hour);
    REQUIRE_FALSE(limited);
    CHECK(limited.error().message.find("You've exceeded the maximum requests per minute") != std::string::npos);

    const auto no_status = parse_polygon_aggs(R"({"error":"boom"})", "AAPL", Timeframe::day);
    REQUIRE_FALSE(no_status);
    CHECK(no_status.error().message.find("boom") != std::string::npos);
}

TEST_CASE("polygon: non-JSON, truncated and wrongly shaped bodies are parse failures", "[unit]") {
    for (const std::string_view body :
         {std::string_view(""), std::string_view("   \n"), std::string_view("Too Many Requests"),
          std::string_view(k_cloudflare_html), std::string_view("[1,2,3]"), std::string_view("null"),
          std::string_view(R"({"status":"OK","results":{"o":1}})"), std::string_view(R"({"status":"OK"}})"),
          std::string_view(R"({"status":"OK"} trailing)"), std::string_view(R"({"status":"OK","results":[1,2})"),
          std::string_view(R"({"status":"OK","next_url":5})"), std::string_view(R"({"status":7})"),
          std::string_view(R"({"status":"OK","results":[{"o":"unterminated}]})")}) {
        INFO("body: " << body);
        const auto page = parse_polygon_aggs(body, "AAPL", Timeframe::day);
        REQUIRE_FALSE(page);
        CHECK(page.error().message.rfind("polygon: ", 0) == 0);
        CHECK(page.error().message.find('\n') == std::string::npos);
    }
    const auto html = parse_polygon_aggs(k_cloudflare_html, "AAPL", Timeframe::day);
    REQUIRE_FALSE(html);
    CHECK(html.error().message.find("<!DOCTYPE html>") != std::string::npos);
}

TEST_CASE("polygon: every truncation of the example bodies is a parse failure", "[unit]") {
    for (const std::string_view full : {k_polygon_daily, k_polygon_hourly, k_polygon_index, k_polygon_prev}) {
        for (std::size_t n = 0; n < full.size(); ++n) {
            const std::string cut(full.substr(0, n)); // its own allocation, so ASan sees any overread
            INFO("prefix: " << cut);
            CHECK_FALSE(parse_polygon_aggs(cut, "AAPL", Timeframe::day));
        }
        CHECK(parse_polygon_aggs(full, "AAPL", Timeframe::day));
    }
}

TEST_CASE("polygon: queryCount differing from resultsCount and a lying resultsCount are fine", "[unit]") {
    const auto page = parse_polygon_aggs(
        R"({"queryCount":7,"resultsCount":999999999999,"status":"OK","results":[{"o":1,"h":1,"l":1,"c":1,"t":1741064400000}]})",
        "AAPL", Timeframe::day);
    REQUIRE(page);
    CHECK(page->batch.bars.size() == 1);
}

// ============================== CoinGecko ==============================

TEST_CASE("coingecko: hourly-shaped example has no midnight points, so no daily bars", "[unit]") {
    const auto page = parse_coingecko_daily(k_coingecko_hourly, "BTC");
    REQUIRE(page);
    CHECK(page->batch.bars.empty());
    CHECK(page->batch.rejected.empty());
    CHECK(page->skipped == 3);
}

TEST_CASE("coingecko: midnight points become bars, the trailing now point is skipped, volumes join by time", "[unit]") {
    const auto page = parse_coingecko_daily(k_coingecko_daily, "BTC");
    REQUIRE(page);
    CHECK(page->batch.rejected.empty());
    CHECK(page->skipped == 1);
    CHECK_FALSE(page->next_url);
    REQUIRE(page->batch.bars.size() == 3);

    const auto& first = page->batch.bars[0];
    CHECK(first.symbol == "BTC");
    CHECK(first.source == "coingecko");
    CHECK(first.timeframe == Timeframe::day);
    CHECK(first.ts == date_utc(2025, 3, 3));
    CHECK(first.open.text == "86000.5");
    CHECK(first.high.text == "86000.5");
    CHECK(first.low.text == "86000.5");
    CHECK(first.close.text == "86000.5");
    CHECK(first.close.value == 86000.5);
    CHECK_FALSE(first.volume); // total_volumes has no point at this timestamp
    CHECK_FALSE(first.vwap);
    CHECK_FALSE(first.trade_count);

    const auto& second = page->batch.bars[1];
    CHECK(second.ts == date_utc(2025, 3, 4));
    CHECK(second.close.text == "87215.33412");
    REQUIRE(second.volume);
    CHECK(second.volume->text == "48122331098.6"); // by timestamp: index 0 of total_volumes, index 1 of prices

    const auto& third = page->batch.bars[2];
    CHECK(third.ts == date_utc(2025, 3, 5));
    CHECK(third.close.text == "1.2e-05");
    CHECK(third.close.value == 1.2e-05);
    REQUIRE(third.volume);
    CHECK(third.volume->text == "0"); // integer-looking value
    CHECK(third.volume->value == 0.0);
}

TEST_CASE("coingecko: volumes out of order and a longer volume series still join by timestamp", "[unit]") {
    const auto page = parse_coingecko_daily(
        R"({"prices":[[1740960000000,1],[1741046400000,2]],
            "total_volumes":[[1741046400000,20],[1740873600000,5],[1740960000000,10],[1741132800000,30]]})",
        "ETH");
    REQUIRE(page);
    REQUIRE(page->batch.bars.size() == 2);
    CHECK(page->batch.bars[0].volume->text == "10");
    CHECK(page->batch.bars[1].volume->text == "20");
}

TEST_CASE("coingecko: empty arrays give zero bars", "[unit]") {
    const auto page = parse_coingecko_daily(R"({"prices":[],"market_caps":[],"total_volumes":[]})", "BTC");
    REQUIRE(page);
    CHECK(page->batch.bars.empty());
    CHECK(page->batch.rejected.empty());
    CHECK(page->skipped == 0);
}

TEST_CASE("coingecko: a timestamp written as a float still counts", "[unit]") {
    const auto page = parse_coingecko_daily(R"({"prices":[[1.7410464e+12,5],[1741046400000.0,6]]})", "BTC");
    REQUIRE(page);
    REQUIRE(page->batch.bars.size() == 1); // same midnight twice: the later point wins
    CHECK(page->batch.bars[0].ts == date_utc(2025, 3, 4));
    CHECK(page->batch.bars[0].close.text == "6");
    CHECK(page->skipped == 1);
}

TEST_CASE("coingecko: malformed points are rejected with their text, never skipped silently", "[unit]") {
    const auto page = parse_coingecko_daily(
        R"({"prices":[[1741046400000], ["x",1],[1741046400000,null], "oops", [1741046400000,1,2],
                      [1741046400000,"7"], [1741046400000.5,1], [1740960000000,3]],
            "total_volumes":[[1740960000000,{"v":1}]]})",
        "BTC");
    REQUIRE(page);
    REQUIRE(page->batch.bars.size() == 1);
    CHECK(page->batch.bars[0].close.text == "3");
    CHECK_FALSE(page->batch.bars[0].volume);
    const auto& rejected = page->batch.rejected;
    REQUIRE(rejected.size() == 8);
    CHECK(rejected[0].raw == "[1741046400000]");
    CHECK(rejected[0].reason == "prices point has 1 items, expected [ms, value]");
    CHECK(rejected[1].raw == R"(["x",1])");
    CHECK(rejected[1].reason == "prices point timestamp is not an integer");
    CHECK(rejected[2].raw == "[1741046400000,null]");
    CHECK(rejected[2].reason == "prices point value is null");
    CHECK(rejected[3].raw == R"("oops")");
    CHECK(rejected[3].reason == "prices point is not an [ms, value] array");
    CHECK(rejected[4].reason == "prices point has 3 items, expected [ms, value]");
    CHECK(rejected[5].reason == "prices point value is not a number");
    CHECK(rejected[6].reason == "prices point timestamp is not an integer");
    CHECK(rejected[7].raw == R"([1740960000000,{"v":1}])");
    CHECK(rejected[7].reason == "total_volumes point value is not a number");
    for (const auto& r : rejected) {
        CHECK(r.source == "coingecko");
        CHECK(r.symbol == "BTC");
    }
}

TEST_CASE("coingecko: error bodies are parse failures", "[unit]") {
    const auto not_found = parse_coingecko_daily(k_coingecko_404, "NOPE");
    REQUIRE_FALSE(not_found);
    CHECK(not_found.error().message == "coingecko: coin not found");

    const auto limited = parse_coingecko_daily(k_coingecko_429, "BTC");
    REQUIRE_FALSE(limited);
    CHECK(limited.error().message.find("You've exceeded the Rate Limit") != std::string::npos);

    const auto too_old = parse_coingecko_daily(k_coingecko_10012, "BTC");
    REQUIRE_FALSE(too_old);
    CHECK(too_old.error().message.find("exceeds the allowed time range") != std::string::npos);

    for (const std::string_view body :
         {k_cloudflare_html, std::string_view("error code: 1020"), std::string_view(""), std::string_view("{}"),
          std::string_view(R"({"prices":null})"), std::string_view(R"({"prices":{}})"),
          std::string_view(R"({"prices":[[1741046400000,1]],"total_volumes":7})"),
          std::string_view(R"({"status":{"error_code":10002}})"), std::string_view(R"({"prices":[[1,2]]}])")}) {
        INFO("body: " << body);
        const auto page = parse_coingecko_daily(body, "BTC");
        REQUIRE_FALSE(page);
        CHECK(page.error().message.rfind("coingecko: ", 0) == 0);
    }
}

TEST_CASE("coingecko: every truncation of the example bodies is a parse failure", "[unit]") {
    for (const std::string_view full : {k_coingecko_hourly, k_coingecko_daily, k_coingecko_10012}) {
        for (std::size_t n = 0; n < full.size(); ++n) {
            const std::string cut(full.substr(0, n));
            INFO("prefix: " << cut);
            CHECK_FALSE(parse_coingecko_daily(cut, "BTC"));
        }
    }
}

// ============================== Yahoo ==============================

TEST_CASE("yahoo: the daily example body gives two bars and rejects the row with a null open", "[unit]") {
    const auto page = parse_yahoo_chart(k_yahoo_daily, "AAPL", Timeframe::day);
    REQUIRE(page);
    REQUIRE(page->batch.bars.size() == 2);
    CHECK(page->skipped == 0);

    const auto& first = page->batch.bars[0];
    CHECK(first.symbol == "AAPL");
    CHECK(first.source == "yahoo");
    CHECK(first.timeframe == Timeframe::day);
    CHECK(first.ts == date_utc(2025, 3, 3)); // 1741012200 = 2025-03-03 09:30 ET
    CHECK(first.open.text == "241.7899932861328");
    CHECK(first.open.value == 241.7899932861328);
    CHECK(first.high.text == "244.02999877929688");
    CHECK(first.low.text == "236.11000061035156");
    CHECK(first.close.text == "238.02999877929688");
    REQUIRE(first.volume);
    CHECK(first.volume->text == "47184000");
    CHECK_FALSE(first.vwap);
    CHECK_FALSE(first.trade_count);
    CHECK(page->batch.bars[1].ts == date_utc(2025, 3, 4));
    CHECK(page->batch.bars[1].close.text == "235.92999267578125");

    REQUIRE(page->batch.rejected.size() == 1);
    const auto& rejected = page->batch.rejected[0];
    CHECK(rejected.symbol == "AAPL");
    CHECK(rejected.source == "yahoo");
    CHECK(rejected.reason == "null open");
    CHECK(
        rejected.raw ==
        R"({"t":1741185000,"open":null,"high":236.5500030517578,"low":229.22999572753906,"close":235.74000549316406,"volume":null})");
}

TEST_CASE("yahoo: nulls in any column never shift the rows", "[unit]") {
    const auto page =
        parse_yahoo_chart(yahoo_body("[1741012200,1741098600,1741185000,1741271400]", "[1,2,3,4]", "[1.5,2.5,null,4.5]",
                                     "[0.5,1.5,2.5,null]", "[1.1,null,3.1,4.1]", "[100,null,300,400]"),
                          "AAPL", Timeframe::day);
    REQUIRE(page);
    REQUIRE(page->batch.bars.size() == 1);
    CHECK(page->batch.bars[0].open.text == "1");
    CHECK(page->batch.bars[0].close.text == "1.1");
    CHECK(page->batch.bars[0].volume->text == "100");
    REQUIRE(page->batch.rejected.size() == 3);
    CHECK(page->batch.rejected[0].reason == "null close");
    CHECK(page->batch.rejected[0].raw ==
          R"({"t":1741098600,"open":2,"high":2.5,"low":1.5,"close":null,"volume":null})");
    CHECK(page->batch.rejected[1].reason == "null high");
    CHECK(page->batch.rejected[2].reason == "null low");
}

TEST_CASE("yahoo: a pretty-printed body keeps each number's exact text", "[unit]") {
    const auto page = parse_yahoo_chart(R"({
  "chart": {
    "result": [ {
      "meta": { "exchangeTimezoneName": "America/New_York" },
      "timestamp": [ 1741012200 ,
                     1741098600 ],
      "indicators": { "quote": [ {
        "open":   [ 241.7899932861328 , 237.7100067138672
                  ],
        "high":   [ 244.02999877929688,	240.07000732421875 ],
        "low":    [ 236.11000061035156, 234.67999267578125 ],
        "close":  [ 238.02999877929688, 235.92999267578125 ],
        "volume": [ 47184000 , null ]
      } ] }
    } ],
    "error": null
  }
}
)",
                                        "AAPL", Timeframe::day);
    REQUIRE(page);
    REQUIRE(page->batch.bars.size() == 2);
    CHECK(page->batch.bars[0].open.text == "241.7899932861328");
    CHECK(page->batch.bars[0].volume->text == "47184000");
    CHECK(page->batch.bars[1].open.text == "237.7100067138672");
    CHECK_FALSE(page->batch.bars[1].volume);
}

TEST_CASE("yahoo: null volume stays absent", "[unit]") {
    const auto page =
        parse_yahoo_chart(yahoo_body("[1741012200,1741098600]", "[1,2]", "[1,2]", "[1,2]", "[1,2]", "[null,2.5e+07]"),
                          "AAPL", Timeframe::day);
    REQUIRE(page);
    REQUIRE(page->batch.bars.size() == 2);
    CHECK_FALSE(page->batch.bars[0].volume);
    REQUIRE(page->batch.bars[1].volume);
    CHECK(page->batch.bars[1].volume->text == "2.5e+07");
    CHECK(page->batch.bars[1].volume->value == 25000000.0);

    const auto no_volume_column =
        parse_yahoo_chart(yahoo_body("[1741012200]", "[1]", "[1]", "[1]", "[1]", ""), "GSPC", Timeframe::day);
    REQUIRE(no_volume_column);
    REQUIRE(no_volume_column->batch.bars.size() == 1);
    CHECK_FALSE(no_volume_column->batch.bars[0].volume);
}

TEST_CASE("yahoo: several bad values are named together", "[unit]") {
    const auto page = parse_yahoo_chart(yahoo_body("[1741012200,null]", R"([null,1])", "[1,1]", "[1,1]", R"(["abc",1])",
                                                   R"([1,"many"])"),
                                        "AAPL", Timeframe::day);
    REQUIRE(page);
    CHECK(page->batch.bars.empty());
    REQUIRE(page->batch.rejected.size() == 2);
    CHECK(page->batch.rejected[0].reason == "null open, close is not a number");
    CHECK(page->batch.rejected[0].raw == R"({"t":1741012200,"open":null,"high":1,"low":1,"close":"abc","volume":1})");
    CHECK(page->batch.rejected[1].reason == "null timestamp, volume is not a number");
}

TEST_CASE("yahoo: each rejected row comes with its instant, so the fetch never re-reads the JSON", "[unit]") {
    const auto page = parse_yahoo_chart(yahoo_body("[1741012200,null,1741015800,\"x\"]", "[null,null,1,null]",
                                                   "[1,1,1,1]", "[1,1,1,1]", "[1,1,null,1]", "[1,1,1,1]"),
                                        "AAPL", Timeframe::hour);
    REQUIRE(page);
    REQUIRE(page->batch.rejected.size() == 4);
    REQUIRE(page->rejected_at.size() == 4);
    CHECK(page->rejected_at[0] == sys_seconds{std::chrono::seconds{1741012200}});
    CHECK_FALSE(page->rejected_at[1]); // null timestamp: no instant
    CHECK(page->rejected_at[2] == sys_seconds{std::chrono::seconds{1741015800}});
    CHECK_FALSE(page->rejected_at[3]); // a string is no instant either
    const auto polygon = parse_polygon_aggs(R"({"status":"OK","results":[{"o":null,"h":1,"l":1,"c":1,"t":1}]})", "AAPL",
                                            Timeframe::hour);
    REQUIRE(polygon);
    CHECK(polygon->batch.rejected.size() == 1);
    CHECK(polygon->rejected_at.empty()); // Yahoo only
}

TEST_CASE("yahoo: no-data window without timestamp and with quote [{}] gives zero bars", "[unit]") {
    const auto page = parse_yahoo_chart(k_yahoo_no_rows, "AAPL", Timeframe::day);
    REQUIRE(page);
    CHECK(page->batch.bars.empty());
    CHECK(page->batch.rejected.empty());

    const auto hourly = parse_yahoo_chart(k_yahoo_no_rows, "AAPL", Timeframe::hour);
    REQUIRE(hourly);
    CHECK(hourly->batch.bars.empty());

    const auto empty_result = parse_yahoo_chart(R"({"chart":{"result":[],"error":null}})", "AAPL", Timeframe::day);
    REQUIRE(empty_result);
    CHECK(empty_result->batch.bars.empty());
}

TEST_CASE("yahoo: a column whose length differs from timestamp is a parse failure", "[unit]") {
    for (const std::string& body :
         {yahoo_body("[1741012200,1741098600]", "[1,2]", "[1,2]", "[1,2]", "[1]", "[1,2]"),
          yahoo_body("[1741012200,1741098600]", "[1,2]", "[1,2]", "[1,2]", "[1,2]", "[1,2,3]"),
          yahoo_body("[1741012200]", "[1,2]", "[1,2]", "[1,2]", "[1,2]", "[1,2]"),
          yahoo_body("[]", "[1]", "[1]", "[1]", "[1]", "[1]")}) {
        INFO("body: " << body);
        const auto page = parse_yahoo_chart(body, "AAPL", Timeframe::day);
        REQUIRE_FALSE(page);
        CHECK(page.error().message.find("timestamps") != std::string::npos);
    }
    const auto missing_close = parse_yahoo_chart(
        R"({"chart":{"result":[{"timestamp":[1741012200],"indicators":{"quote":[{"open":[1],"high":[1],"low":[1]}]}}],"error":null}})",
        "AAPL", Timeframe::day);
    REQUIRE_FALSE(missing_close);
    CHECK(missing_close.error().message == "yahoo: quote has no close array");
}

TEST_CASE("yahoo: two rows on one date keep the later (live) row", "[unit]") {
    // 2025-03-04 09:30, 2025-03-05 09:30, then the live row 2025-03-05 16:00:01 ET.
    const auto page = parse_yahoo_chart(yahoo_body("[1741098600,1741185000,1741208401]", "[237.71,235.42,235.42]",
                                                   "[240.07,236.0,236.55]", "[234.68,235.0,229.23]",
                                                   "[235.93,235.5,235.74]", "[53798100,1000,47227643]"),
                                        "AAPL", Timeframe::day);
    REQUIRE(page);
    CHECK(page->skipped == 1);
    REQUIRE(page->batch.bars.size() == 2);
    CHECK(page->batch.bars[0].ts == date_utc(2025, 3, 4));
    CHECK(page->batch.bars[1].ts == date_utc(2025, 3, 5));
    CHECK(page->batch.bars[1].close.text == "235.74");
    CHECK(page->batch.bars[1].volume->text == "47227643");

    // Same rows delivered live row first: the later timestamp still wins.
    const auto reversed =
        parse_yahoo_chart(yahoo_body("[1741208401,1741185000]", "[3,2]", "[3,2]", "[3,2]", "[3,2]", "[3,2]"), "AAPL",
                          Timeframe::day);
    REQUIRE(reversed);
    REQUIRE(reversed->batch.bars.size() == 1);
    CHECK(reversed->batch.bars[0].close.text == "3");
    CHECK(reversed->skipped == 1);
}

TEST_CASE("yahoo: hourly bars keep their timestamp (half-hour starts)", "[unit]") {
    const auto page = parse_yahoo_chart(yahoo_body("[1741185000,1741188600,1741208400]", "[1,2,3]", "[1,2,3]",
                                                   "[1,2,3]", "[1,2,3]", "[10,20,30]"),
                                        "AAPL", Timeframe::hour);
    REQUIRE(page);
    REQUIRE(page->batch.bars.size() == 3);
    CHECK(page->batch.bars[0].ts == epoch(1741185000));
    CHECK(page->batch.bars[1].ts == epoch(1741188600));
    CHECK(page->batch.bars[2].ts == epoch(1741208400));
    CHECK(page->batch.bars[2].timeframe == Timeframe::hour);
    CHECK(page->skipped == 0);
}

TEST_CASE("yahoo: daily dates come from exchangeTimezoneName, falling back to New York", "[unit]") {
    // 2025-03-03T20:00Z is 2025-03-04 05:00 in Tokyo but 2025-03-03 15:00 in New York.
    const auto dated = [](std::string_view zone_field) {
        const auto page = parse_yahoo_chart(yahoo_body("[1741032000]", "[1]", "[1]", "[1]", "[1]", "[1]", zone_field),
                                            "X", Timeframe::day);
        REQUIRE(page);
        REQUIRE(page->batch.bars.size() == 1);
        return page->batch.bars[0].ts;
    };
    CHECK(dated(R"("exchangeTimezoneName":"Asia/Tokyo",)") == date_utc(2025, 3, 4));
    CHECK(dated(R"("exchangeTimezoneName":"America/New_York",)") == date_utc(2025, 3, 3));
    CHECK(dated(R"("exchangeTimezoneName":"Mars/Olympus_Mons",)") == date_utc(2025, 3, 3));
    CHECK(dated(R"("exchangeTimezoneName":7,)") == date_utc(2025, 3, 3));
    CHECK(dated("") == date_utc(2025, 3, 3));
}

TEST_CASE("yahoo: daily 09:30 rows across the March DST switch", "[unit]") {
    const auto page = parse_yahoo_chart(yahoo_body("[1741271400,1741357800,1741613400,1741699800]", "[1,2,3,4]",
                                                   "[1,2,3,4]", "[1,2,3,4]", "[1,2,3,4]", "[1,2,3,4]"),
                                        "AAPL", Timeframe::day);
    REQUIRE(page);
    REQUIRE(page->batch.bars.size() == 4);
    CHECK(page->batch.bars[0].ts == date_utc(2025, 3, 6));
    CHECK(page->batch.bars[1].ts == date_utc(2025, 3, 7));
    CHECK(page->batch.bars[2].ts == date_utc(2025, 3, 10));
    CHECK(page->batch.bars[3].ts == date_utc(2025, 3, 11));
}

TEST_CASE("yahoo: error bodies are parse failures with the description", "[unit]") {
    const auto not_found = parse_yahoo_chart(k_yahoo_404, "ZZZZ", Timeframe::day);
    REQUIRE_FALSE(not_found);
    CHECK(not_found.error().message.find("No data found, symbol may be delisted") != std::string::npos);

    const auto too_far = parse_yahoo_chart(k_yahoo_422, "AAPL", Timeframe::hour);
    REQUIRE_FALSE(too_far);
    CHECK(too_far.error().message.find("must be within the last 730 days") != std::string::npos);

    const auto null_result = parse_yahoo_chart(R"({"chart":{"result":null,"error":null}})", "AAPL", Timeframe::day);
    REQUIRE_FALSE(null_result);
    CHECK(null_result.error().message == "yahoo: chart.result is null");

    const auto crumb = parse_yahoo_chart(
        R"({"finance":{"result":null,"error":{"code":"Unauthorized","description":"Invalid Crumb"}}})", "AAPL",
        Timeframe::day);
    REQUIRE_FALSE(crumb);
    CHECK(crumb.error().message.find("Invalid Crumb") != std::string::npos);
}

TEST_CASE("yahoo: plain-text 429, HTML and malformed bodies are parse failures", "[unit]") {
    for (const std::string_view body :
         {std::string_view("Too Many Requests"), std::string_view("Edge: Too Many Requests"), k_cloudflare_html,
          std::string_view(""), std::string_view("{}"), std::string_view(R"({"chart":[]})"),
          std::string_view(R"({"chart":{"result":{},"error":null}})"),
          std::string_view(R"({"chart":{"result":[7],"error":null}})"),
          std::string_view(R"({"chart":{"result":[{"timestamp":5}],"error":null}})"),
          std::string_view(R"({"chart":{"result":[{"indicators":{"quote":7}}],"error":null}})"),
          std::string_view(R"({"chart":{"result":[],"error":null}}})")}) {
        INFO("body: " << body);
        const auto page = parse_yahoo_chart(body, "AAPL", Timeframe::day);
        REQUIRE_FALSE(page);
        CHECK(page.error().message.rfind("yahoo: ", 0) == 0);
    }
    const auto text = parse_yahoo_chart("Too Many Requests", "AAPL", Timeframe::day);
    REQUIRE_FALSE(text);
    CHECK(text.error().message.find("Too Many Requests") != std::string::npos);
}

TEST_CASE("yahoo: every truncation of the example bodies is a parse failure", "[unit]") {
    for (const std::string_view full : {k_yahoo_daily, k_yahoo_no_rows, k_yahoo_404}) {
        for (std::size_t n = 0; n < full.size(); ++n) {
            const std::string cut(full.substr(0, n));
            INFO("prefix: " << cut);
            CHECK_FALSE(parse_yahoo_chart(cut, "AAPL", Timeframe::day));
        }
    }
}

// ============================== Error messages ==============================

TEST_CASE("provider_error_message: every provider's error shape", "[unit]") {
    CHECK(provider_error_message(k_polygon_401) == std::string("API Key was not provided"));
    CHECK(provider_error_message(R"({"status":"ERROR","request_id":"a","error":"Unknown API Key"})") ==
          std::string("Unknown API Key"));
    CHECK(provider_error_message(k_polygon_403) ==
          std::string("You are not entitled to this data. Please upgrade your plan at https://polygon.io/pricing"));
    CHECK(provider_error_message(k_polygon_429)->rfind("You've exceeded the maximum requests per minute", 0) == 0);

    CHECK(provider_error_message(k_coingecko_404) == std::string("coin not found"));
    CHECK(provider_error_message(k_coingecko_429)->rfind("You've exceeded the Rate Limit.", 0) == 0);
    CHECK(provider_error_message(k_coingecko_10012)->rfind("Your request exceeds the allowed time range.", 0) == 0);

    CHECK(provider_error_message(k_yahoo_404) == std::string("No data found, symbol may be delisted"));
    CHECK(provider_error_message(k_yahoo_422)->find("within the last 730 days") != std::string::npos);
    CHECK(provider_error_message(
              R"({"finance":{"result":null,"error":{"code":"Unauthorized","description":"Invalid Crumb"}}})") ==
          std::string("Invalid Crumb"));
    CHECK(provider_error_message(R"({"message":"too many requests"})") == std::string("too many requests"));
}

TEST_CASE("provider_error_message: nullopt for non-JSON bodies and bodies without a message", "[unit]") {
    for (const std::string_view body :
         {k_cloudflare_html, std::string_view("Too Many Requests"), std::string_view("Edge: Too Many Requests"),
          std::string_view(""), std::string_view(R"({"error":"trunc)"), std::string_view("[1]"), k_polygon_daily,
          k_polygon_empty, k_coingecko_daily, k_yahoo_daily, std::string_view(R"({"error":null})"),
          std::string_view(R"({"status":"ERROR"})"), std::string_view(R"({"error":""})")}) {
        INFO("body: " << body);
        CHECK_FALSE(provider_error_message(body));
    }
}

TEST_CASE("provider_error_message: the message is one line", "[unit]") {
    const auto message = provider_error_message(R"({"error":"line one\nline two\r\n"})");
    REQUIRE(message);
    CHECK(*message == "line one line two");
    const auto long_message = provider_error_message(R"({"error":")" + std::string(5000, 'x') + R"("})");
    REQUIRE(long_message);
    CHECK(long_message->size() < 400);
}

// ============================== Robustness ==============================

TEST_CASE("parsers survive random corruption of real bodies", "[unit]") {
    // Flip, drop and duplicate bytes of every example body: any outcome is fine except a crash, an
    // exception or (under ASan/UBSan) undefined behaviour.
    std::mt19937 rng(20250304);
    const std::string_view bodies[] = {k_polygon_daily,   k_polygon_hourly, k_polygon_index, k_coingecko_daily,
                                       k_coingecko_10012, k_yahoo_daily,    k_yahoo_404};
    constexpr char k_alphabet[] = "{}[]\",:0123456789.eE+-nul \\";
    for (const std::string_view original : bodies) {
        for (int round = 0; round < 300; ++round) {
            std::string body(original);
            const int edits = 1 + static_cast<int>(rng() % 4);
            for (int e = 0; e < edits && !body.empty(); ++e) {
                const std::size_t at = rng() % body.size();
                switch (rng() % 3) {
                case 0: body[at] = k_alphabet[rng() % (sizeof(k_alphabet) - 1)]; break;
                case 1: body.erase(at, 1); break;
                default: body.insert(at, 1, body[at]); break;
                }
            }
            INFO("body: " << body);
            CHECK_NOTHROW(parse_polygon_aggs(body, "A", Timeframe::day));
            CHECK_NOTHROW(parse_polygon_aggs(body, "A", Timeframe::hour));
            CHECK_NOTHROW(parse_coingecko_daily(body, "A"));
            CHECK_NOTHROW(parse_yahoo_chart(body, "A", Timeframe::day));
            CHECK_NOTHROW(provider_error_message(body));
        }
    }
}

TEST_CASE("decimal_from_double gives the shortest round-trip text", "[unit]") {
    using etl::market::decimal_from_double;
    CHECK(decimal_from_double(87301.5).text == "87301.5");
    CHECK(decimal_from_double(0.1).text == "0.1");
    CHECK(decimal_from_double(1.2e-05).text == "1.2e-05");
    CHECK(decimal_from_double(47227643.0).text == "47227643");
    CHECK(decimal_from_double(241.7899932861328).text == "241.7899932861328");
    CHECK(decimal_from_double(241.7899932861328).value == 241.7899932861328);
    // Non-finite values keep a text too; validation rejects them by `value` before anything is stored.
    const auto inf = decimal_from_double(std::numeric_limits<double>::infinity());
    CHECK(inf.text == "inf");
    CHECK_FALSE(std::isfinite(inf.value));
    CHECK(decimal_from_double(std::nan("")).text == "nan");
}
