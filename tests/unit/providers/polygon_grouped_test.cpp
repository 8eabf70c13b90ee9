// Polygon grouped daily: the parser (parse_polygon_grouped), the dates latest prices ask for, and the
// grouped latest fetch PolygonProvider::latest_quotes makes for three or more stocks (or crypto pairs).
#include "etl/market/calendar.hpp"
#include "etl/providers/parse.hpp"
#include "etl/providers/polygon.hpp"
#include "etl/util/clock.hpp"

#include <catch2/catch.hpp>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <string_view>
#include <vector>

namespace {

using namespace std::chrono;
using etl::market::AssetClass;
using etl::providers::parse_polygon_grouped;
using etl::providers::TickerSymbols;

// 2025-03-14 (Fri) and 2025-03-13 at 16:00 EDT, the grouped convention.
constexpr long long k_fri_ms = 1741982400000;
constexpr long long k_thu_ms = 1741896000000;

std::string row(std::string_view ticker, std::string_view close, long long t_ms, std::string_view extra = {}) {
    return "{\"T\":\"" + std::string(ticker) +
           "\",\"v\":4.7227643e+07,\"vw\":100.1234,\"o\":100.5,\"c\":" + std::string(close) +
           ",\"h\":101.25,\"l\":99.1,\"t\":" + std::to_string(t_ms) + ",\"n\":1200" + std::string(extra) + "}";
}

std::string grouped(const std::vector<std::string>& rows) {
    std::string results;
    for (const auto& r : rows) results += (results.empty() ? "" : ",") + r;
    return "{\"queryCount\":" + std::to_string(rows.size()) + ",\"resultsCount\":" + std::to_string(rows.size()) +
           ",\"adjusted\":true,\"results\":[" + results +
           "],\"status\":\"OK\",\"request_id\":\"r1\",\"count\":" + std::to_string(rows.size()) + "}";
}

constexpr std::string_view k_empty =
    R"({"queryCount":0,"resultsCount":0,"adjusted":true,"status":"OK","request_id":"r"})";

etl::market::sys_seconds instant(const char* iso) { return etl::util::parse_instant(iso).value(); }

etl::market::Asset asset(std::string symbol, AssetClass cls, std::string ticker = {}) {
    etl::market::Asset a;
    a.symbol = std::move(symbol);
    a.asset_class = cls;
    a.identifiers["polygon"] = ticker.empty() ? etl::providers::polygon_default_ticker(a.symbol, cls) : ticker;
    return a;
}

std::string dates_text(const std::vector<sys_days>& dates) {
    std::string out;
    for (const auto d : dates) out += (out.empty() ? "" : " ") + etl::util::format_date(d);
    return out;
}

} // namespace

TEST_CASE("polygon grouped: wanted tickers become exact bars of our symbols, the rest is skipped", "[unit][grouped]") {
    const TickerSymbols wanted{{"AAPL", "AAPL"}, {"BRK.B", "BRK.B"}, {"X:BTCUSD", "BTC"}};
    const auto body = grouped({row("MSFT", "399.35", k_fri_ms), row("AAPL", "213.490000", k_fri_ms),
                               row("BRK.B", "4.7e+02", k_fri_ms), row("X:BTCUSD", "83987.12345678", k_fri_ms),
                               row("ZZZZ", "1", k_fri_ms)});
    const auto page = parse_polygon_grouped(body, wanted);
    REQUIRE(page);
    CHECK(page->skipped == 2); // MSFT and ZZZZ: nobody asked
    CHECK(page->batch.rejected.empty());
    REQUIRE(page->batch.bars.size() == 3);
    const auto& aapl = page->batch.bars[0];
    CHECK(aapl.symbol == "AAPL");
    CHECK(aapl.close.text == "213.490000"); // exact as written, trailing zeros kept
    CHECK(aapl.open.text == "100.5");
    CHECK(aapl.high.text == "101.25");
    CHECK(aapl.low.text == "99.1");
    REQUIRE(aapl.volume);
    CHECK(aapl.volume->text == "4.7227643e+07");
    CHECK(aapl.volume->value == 47227643.0);
    REQUIRE(aapl.vwap);
    CHECK(aapl.vwap->text == "100.1234");
    CHECK(aapl.trade_count == 1200);
    CHECK(aapl.source == "polygon");
    CHECK(aapl.timeframe == etl::market::Timeframe::day);
    // t = 16:00 EDT of Friday: the session date Friday at 00:00 UTC.
    CHECK(etl::util::format_date(floor<days>(aapl.ts)) == "2025-03-14");
    CHECK(aapl.ts.time_since_epoch() % days{1} == seconds{0});
    CHECK(page->batch.bars[1].symbol == "BRK.B");
    CHECK(page->batch.bars[1].close.text == "4.7e+02");
    CHECK(page->batch.bars[2].symbol == "BTC"); // X:BTCUSD maps back to BTC
    CHECK(page->batch.bars[2].close.text == "83987.12345678");
}

TEST_CASE("polygon grouped: a wanted row with a missing or bad field is a reject of its symbol, with the reason",
          "[unit][grouped]") {
    const TickerSymbols wanted{{"AAPL", "AAPL"}, {"MSFT", "MSFT"}, {"NVDA", "NVDA"}};
    const auto body = grouped({R"({"T":"AAPL","o":1.5,"h":2,"l":1,"t":1741982400000})",
                               R"({"T":"MSFT","o":1.5,"h":2,"l":1,"c":"1.7","t":1741982400000})",
                               R"({"T":"NVDA","o":1.5,"h":2,"l":1,"c":null,"t":1741982400000})",
                               R"({"T":"TSLA","o":1.5,"h":2,"l":1,"t":1741982400000})", // not wanted: no reject
                               R"({"o":1,"h":1,"l":1,"c":1,"t":1741982400000})",        // no T: nobody's
                               R"({"T":7,"o":1,"h":1,"l":1,"c":1,"t":1741982400000})",  // T not a string
                               R"([1,2,3])", row("NVDA", "120.5", k_fri_ms)});
    const auto page = parse_polygon_grouped(body, wanted);
    REQUIRE(page);
    CHECK(page->skipped == 4);
    REQUIRE(page->batch.rejected.size() == 3);
    CHECK(page->batch.rejected[0].symbol == "AAPL");
    CHECK(page->batch.rejected[0].reason == "missing field c");
    CHECK(page->batch.rejected[0].raw == R"({"T":"AAPL","o":1.5,"h":2,"l":1,"t":1741982400000})");
    CHECK(page->batch.rejected[0].source == "polygon");
    CHECK(page->batch.rejected[1].symbol == "MSFT");
    CHECK(page->batch.rejected[1].reason == "field c is not a number");
    CHECK(page->batch.rejected[2].symbol == "NVDA");
    CHECK(page->batch.rejected[2].reason == "field c is null");
    REQUIRE(page->batch.bars.size() == 1);
    CHECK(page->batch.bars[0].symbol == "NVDA");
    CHECK(page->batch.bars[0].close.text == "120.5");
}

TEST_CASE("polygon grouped: a holiday's answer is zero bars; errors and broken bodies are failures",
          "[unit][grouped]") {
    const TickerSymbols wanted{{"AAPL", "AAPL"}};
    const auto holiday = parse_polygon_grouped(k_empty, wanted);
    REQUIRE(holiday);
    CHECK(holiday->batch.bars.empty());
    CHECK(holiday->batch.rejected.empty());
    CHECK(holiday->skipped == 0);
    const auto null_results = parse_polygon_grouped(R"({"resultsCount":0,"results":null,"status":"OK"})", wanted);
    REQUIRE(null_results);
    CHECK(null_results->batch.bars.empty());

    const auto not_authorized = parse_polygon_grouped(
        R"({"status":"NOT_AUTHORIZED","request_id":"x","message":"Attempted to request today's data before end of day."})",
        wanted);
    REQUIRE_FALSE(not_authorized);
    CHECK_THAT(not_authorized.error().message, Catch::Contains("NOT_AUTHORIZED") && Catch::Contains("end of day"));
    CHECK_FALSE(parse_polygon_grouped("<html>502 Bad Gateway</html>", wanted));
    const auto body = grouped({row("AAPL", "1", k_fri_ms)});
    CHECK_FALSE(parse_polygon_grouped(std::string_view(body).substr(0, body.size() / 2), wanted));
    CHECK_FALSE(parse_polygon_grouped(R"({"results":{"T":"AAPL"},"status":"OK"})", wanted));
    // A huge resultsCount reserves nothing it should not (the count is of the whole market).
    const auto counted = parse_polygon_grouped(R"({"resultsCount":9000000000000,"status":"OK"})", wanted);
    REQUIRE(counted);
    CHECK(counted->batch.bars.empty());
}

TEST_CASE("polygon grouped dates: the run's session and the two before it; crypto by UTC day", "[unit][grouped]") {
    const etl::market::TradingCalendar calendar;
    etl::providers::ProviderSettings s;
    s.calendar = &calendar;
    s.now = instant("2025-03-14T21:00:00Z"); // Friday after the close
    CHECK(dates_text(etl::providers::polygon_grouped_dates(s, false)) == "2025-03-14 2025-03-13 2025-03-12");
    s.now = instant("2025-03-14T15:00:00Z"); // Friday during the session: today's (in progress), as per symbol
    CHECK(dates_text(etl::providers::polygon_grouped_dates(s, false)) == "2025-03-14 2025-03-13 2025-03-12");
    s.now = instant("2025-03-10T12:00:00Z"); // Monday before the open
    CHECK(dates_text(etl::providers::polygon_grouped_dates(s, false)) == "2025-03-07 2025-03-06 2025-03-05");
    s.now = instant("2025-04-21T21:00:00Z"); // Monday after Good Friday
    CHECK(dates_text(etl::providers::polygon_grouped_dates(s, false)) == "2025-04-21 2025-04-17 2025-04-16");
    s.now = instant("2025-03-15T02:00:00Z");
    CHECK(dates_text(etl::providers::polygon_grouped_dates(s, true)) == "2025-03-15 2025-03-14 2025-03-13");
    s.calendar = nullptr;
    CHECK(etl::providers::polygon_grouped_dates(s, false).empty());
}

TEST_CASE("polygon latest: three or more stocks share one grouped fetch; indices and small groups go per symbol",
          "[unit][grouped]") {
    const etl::market::TradingCalendar calendar;
    etl::providers::ProviderSettings s;
    s.name = "polygon";
    s.base_url = "http://127.0.0.1:9";
    s.api_key = "pk_test";
    s.calendar = &calendar;
    s.now = instant("2025-03-14T21:00:00Z");
    const etl::providers::PolygonProvider polygon(s);
    const std::vector<etl::market::Asset> assets{asset("AAPL", AssetClass::stock),
                                                 asset("SPY", AssetClass::etf),
                                                 asset("BRK.B", AssetClass::stock),
                                                 asset("SPX", AssetClass::index),
                                                 asset("BTC", AssetClass::crypto),
                                                 asset("ETH", AssetClass::crypto),
                                                 asset("NOID", AssetClass::stock, "a/b")};
    std::vector<std::string> unserved;
    auto fetches = polygon.latest_quotes(assets, unserved);
    CHECK(unserved == std::vector<std::string>{"NOID"});
    REQUIRE(fetches.size() == 4);
    CHECK(fetches[0].symbols == std::vector<std::string>{"AAPL", "SPY", "BRK.B"});
    CHECK(fetches[0].whole_market);
    for (std::size_t i = 1; i < fetches.size(); ++i) {
        CHECK(fetches[i].symbols.size() == 1);
        CHECK_FALSE(fetches[i].whole_market);
    }
    CHECK(fetches[1].symbols[0] == "SPX"); // an index is never in a grouped answer
    // Two crypto pairs: two requests either way, per symbol.
    CHECK(fetches[2].symbols[0] == "BTC");
    CHECK(fetches[3].symbols[0] == "ETH");

    auto& fetch = *fetches[0].fetch;
    auto first = fetch.next_request();
    REQUIRE(first);
    CHECK(first->url ==
          "http://127.0.0.1:9/v2/aggs/grouped/locale/us/market/stocks/2025-03-14?adjusted=true&include_otc=false");
    CHECK(first->headers == std::vector<std::string>{"Authorization: Bearer pk_test"});
    // BRK.B's newest row is broken: a reject, no quote. SPY is not in the older answer: neither.
    REQUIRE(fetch.on_success(grouped({row("AAPL", "213.49", k_fri_ms), row("SPY", "562.81", k_fri_ms),
                                      R"({"T":"BRK.B","o":1,"h":1,"l":1,"t":1741982400000})"})));
    auto second = fetch.next_request();
    REQUIRE(second);
    CHECK_THAT(second->url, Catch::Contains("/stocks/2025-03-13?"));
    REQUIRE(fetch.on_success(grouped({row("AAPL", "209.68", k_thu_ms), row("BRK.B", "470.1", k_thu_ms)})));
    CHECK_FALSE(fetch.next_request());
    REQUIRE(fetch.quotes().size() == 1);
    const auto& q = fetch.quotes()[0];
    CHECK(q.symbol == "AAPL");
    CHECK(q.price.text == "213.49");
    REQUIRE(q.previous_close);
    CHECK(q.previous_close->text == "209.68");
    CHECK(q.as_of == instant("2025-03-14T20:00:00Z")); // the 16:00 EDT close
    CHECK(q.source == "polygon");
    REQUIRE(fetch.batch().rejected.size() == 1);
    CHECK(fetch.batch().rejected[0].symbol == "BRK.B");
    CHECK(fetch.batch().rejected[0].reason == "missing field c");
}

TEST_CASE("polygon latest grouped: an empty newest answer steps back one session; crypto pairs map back",
          "[unit][grouped]") {
    const etl::market::TradingCalendar calendar;
    etl::providers::ProviderSettings s;
    s.base_url = "http://h";
    s.api_key = "k";
    s.calendar = &calendar;
    s.now = instant("2025-03-15T01:00:00Z"); // Friday 21:00 EDT: crypto's UTC day is already Saturday
    const etl::providers::PolygonProvider polygon(s);
    const std::vector<etl::market::Asset> assets{asset("BTC", AssetClass::crypto), asset("ETH", AssetClass::crypto),
                                                 asset("SOL", AssetClass::crypto)};
    std::vector<std::string> unserved;
    auto fetches = polygon.latest_quotes(assets, unserved);
    REQUIRE(fetches.size() == 1);
    auto& fetch = *fetches[0].fetch;
    auto r = fetch.next_request();
    REQUIRE(r);
    CHECK(r->url == "http://h/v2/aggs/grouped/locale/global/market/crypto/2025-03-15?adjusted=true");
    REQUIRE(fetch.on_success(k_empty)); // not published yet
    r = fetch.next_request();
    REQUIRE(r);
    CHECK_THAT(r->url, Catch::EndsWith("/crypto/2025-03-14?adjusted=true"));
    REQUIRE(fetch.on_success(grouped({row("X:BTCUSD", "83987.1", k_fri_ms), row("X:ETHUSD", "1911.5", k_fri_ms),
                                      row("X:SOLUSD", "133.2", k_fri_ms)})));
    r = fetch.next_request();
    REQUIRE(r);
    CHECK_THAT(r->url, Catch::EndsWith("/crypto/2025-03-13?adjusted=true"));
    // ETH twice in one answer: ambiguous, asked for on its own. SOL absent from the older date: the same.
    REQUIRE(fetch.on_success(grouped(
        {row("X:BTCUSD", "80000", k_thu_ms), row("X:ETHUSD", "1900", k_thu_ms), row("X:ETHUSD", "1901", k_thu_ms)})));
    CHECK_FALSE(fetch.next_request());
    REQUIRE(fetch.quotes().size() == 1);
    CHECK(fetch.quotes()[0].symbol == "BTC");
    CHECK(fetch.quotes()[0].price.text == "83987.1");
    CHECK(fetch.quotes()[0].previous_close->text == "80000");
    // Crypto: the end of the bar's day, capped at now.
    CHECK(fetch.quotes()[0].as_of == instant("2025-03-15T00:00:00Z"));
    CHECK(fetch.batch().rejected.empty());

    // A body that is not an answer leaves the same request open (the Fetcher retries it).
    auto again = polygon.latest_quotes(assets, unserved);
    auto& retry = *again[0].fetch;
    const auto before = retry.next_request();
    REQUIRE_FALSE(retry.on_success("<html>"));
    const auto after = retry.next_request();
    REQUIRE(before);
    REQUIRE(after);
    CHECK(before->url == after->url);
}

TEST_CASE("polygon latest: two stocks stay per symbol; symbol_quotes is always per symbol", "[unit][grouped]") {
    const etl::market::TradingCalendar calendar;
    etl::providers::ProviderSettings s;
    s.base_url = "http://h";
    s.api_key = "k";
    s.calendar = &calendar;
    s.now = instant("2025-03-14T21:00:00Z");
    const etl::providers::PolygonProvider polygon(s);
    const std::vector<etl::market::Asset> two{asset("AAPL", AssetClass::stock), asset("MSFT", AssetClass::stock)};
    std::vector<std::string> unserved;
    const auto fetches = polygon.latest_quotes(two, unserved);
    REQUIRE(fetches.size() == 2);
    CHECK_FALSE(fetches[0].whole_market);
    const std::vector<etl::market::Asset> four{asset("AAPL", AssetClass::stock), asset("MSFT", AssetClass::stock),
                                               asset("NVDA", AssetClass::stock), asset("AMD", AssetClass::stock)};
    const auto each = polygon.symbol_quotes(four, unserved);
    REQUIRE(each.size() == 4);
    auto r = each[2].fetch->next_request();
    REQUIRE(r);
    CHECK(r->url == "http://h/v2/aggs/ticker/NVDA/range/1/day/2025-02-28/2025-03-14?adjusted=true&sort=desc&limit=10");
    CHECK(unserved.empty());
}

TEST_CASE("polygon grouped: the fuzzing corpus replays through the grouped parser", "[unit][grouped]") {
    // As tests/unit/providers/fuzz_corpus_test.cpp does for the other parsers (fuzz/polygon_grouped.cpp's checks).
    const TickerSymbols wanted{{"AAPL", "AAPL"}, {"BRK.B", "AAPL"}, {"X:BTCUSD", "AAPL"}};
    std::size_t files = 0;
    std::size_t bars = 0;
    for (const auto& entry : std::filesystem::recursive_directory_iterator(ETL_SOURCE_DIR "/tests/fuzz")) {
        if (!entry.is_regular_file()) continue;
        std::ifstream in(entry.path(), std::ios::binary);
        const std::string body{std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
        INFO(entry.path().string());
        ++files;
        const auto page = parse_polygon_grouped(body, wanted);
        if (!page) {
            CHECK_FALSE(page.error().message.empty());
            CHECK(page.error().message.find('\n') == std::string::npos);
            continue;
        }
        CHECK_FALSE(page->next_url);
        for (const auto& bar : page->batch.bars) {
            ++bars;
            CHECK(bar.symbol == "AAPL");
            CHECK(bar.ts.time_since_epoch().count() % 86400 == 0);
            CHECK(std::isfinite(bar.close.value));
            CHECK(bar.close.text.view().find_first_not_of("0123456789+-.eE") == std::string::npos);
        }
        for (const auto& r : page->batch.rejected) CHECK(r.symbol == "AAPL");
    }
    CHECK(files > 20);
    // grouped.json: AAPL and BRK.B; grouped_crypto.json: X:BTCUSD; grouped_bad_rows.json: one good AAPL row.
    CHECK(bars >= 4);
}
