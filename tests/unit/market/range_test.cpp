#include "etl/market/range.hpp"
#include "etl/market/shard.hpp"
#include "etl/market/symbol.hpp"
#include "etl/providers/registry.hpp"
#include "etl/util/hash.hpp"

#include <catch2/catch.hpp>

using namespace std::chrono;
using namespace etl::market;
using etl::providers::adhoc_asset;

namespace {
sys_days ymd(int y, unsigned m, unsigned d) { return sys_days{year{y} / month{m} / day{d}}; }
} // namespace

TEST_CASE("ranges parse case-insensitively and reject anything else", "[unit]") {
    CHECK(parse_range("7D") == Range::d7);
    CHECK(parse_range("7d") == Range::d7);
    CHECK(parse_range("ytd") == Range::ytd);
    CHECK(parse_range("Max") == Range::max);
    CHECK(parse_range(" 1y ") == Range::y1);
    CHECK_FALSE(parse_range("2W"));
    CHECK_FALSE(parse_range(""));
    CHECK_FALSE(parse_range("1YY"));
    for (auto r : {Range::d7, Range::m1, Range::m3, Range::m6, Range::ytd, Range::y1, Range::y3, Range::y5, Range::max})
        CHECK(parse_range(to_string(r)) == r);
}

TEST_CASE("range windows end today and start where the chart range starts", "[unit]") {
    const auto today = ymd(2026, 11, 22);
    CHECK(window_for(Range::d7, today).from == ymd(2026, 11, 15));
    CHECK(window_for(Range::m1, today).from == ymd(2026, 10, 22));
    CHECK(window_for(Range::m3, today).from == ymd(2026, 8, 22));
    CHECK(window_for(Range::m6, today).from == ymd(2026, 5, 22));
    CHECK(window_for(Range::ytd, today).from == ymd(2026, 1, 1));
    CHECK(window_for(Range::y1, today).from == ymd(2025, 11, 22));
    CHECK(window_for(Range::y3, today).from == ymd(2023, 11, 22));
    CHECK(window_for(Range::y5, today).from == ymd(2021, 11, 22));
    CHECK(window_for(Range::max, today).from == k_max_history_start);
    for (auto r : {Range::d7, Range::m1, Range::ytd, Range::max}) CHECK(window_for(r, today).to == today);
}

TEST_CASE("month arithmetic clamps to the end of shorter months", "[unit]") {
    CHECK(window_for(Range::m1, ymd(2026, 3, 31)).from == ymd(2026, 2, 28));
    CHECK(window_for(Range::m1, ymd(2024, 3, 31)).from == ymd(2024, 2, 29));
    CHECK(window_for(Range::y1, ymd(2024, 2, 29)).from == ymd(2023, 2, 28));
    CHECK(window_for(Range::ytd, ymd(2026, 1, 1)).from == ymd(2026, 1, 1));
}

TEST_CASE("the market's today: the last NYSE session that has opened for stocks, the UTC date for crypto", "[unit]") {
    const TradingCalendar calendar;
    // A New York wall-clock time (EDT after 2025-03-09) as the UTC instant.
    const auto et = [](sys_days d, int h, int m) { return sys_seconds{d} + hours{h + 4} + minutes{m}; };
    const auto monday = ymd(2025, 3, 10), tuesday = ymd(2025, 3, 11);
    for (auto c : {AssetClass::stock, AssetClass::etf, AssetClass::index}) {
        // 21:05 on Monday is Tuesday in UTC, but Tuesday's session has not opened.
        CHECK(market_today(c, et(monday, 21, 5), calendar) == monday);
        CHECK(market_today(c, et(tuesday, 9, 29), calendar) == monday);
        // From the bell on (a partial bar while the session runs), and after the close.
        CHECK(market_today(c, et(tuesday, 9, 30), calendar) == tuesday);
        CHECK(market_today(c, et(tuesday, 17, 0), calendar) == tuesday);
    }
    CHECK(market_today(AssetClass::crypto, et(monday, 21, 5), calendar) == tuesday);
    CHECK(market_today(AssetClass::crypto, et(tuesday, 9, 0), calendar) == tuesday);
    // Weekends and holidays: the last session (Good Friday 2025-04-18 has none).
    CHECK(market_today(AssetClass::stock, et(ymd(2025, 3, 15), 12, 0), calendar) == ymd(2025, 3, 14));
    CHECK(market_today(AssetClass::stock, et(ymd(2025, 4, 18), 12, 0), calendar) == ymd(2025, 4, 17));
    CHECK(market_today(AssetClass::crypto, et(ymd(2025, 4, 18), 12, 0), calendar) == ymd(2025, 4, 18));
}

TEST_CASE("shards parse K/N and split symbols so each has exactly one owner", "[unit]") {
    CHECK(parse_shard("0/1"));
    CHECK(parse_shard("3/4")->index == 3);
    CHECK_FALSE(parse_shard("4/4"));
    CHECK_FALSE(parse_shard("3/2"));
    CHECK_FALSE(parse_shard("0/0"));
    CHECK_FALSE(parse_shard("1"));
    CHECK_FALSE(parse_shard("a/b"));
    CHECK_FALSE(parse_shard("-1/2"));
    CHECK_FALSE(parse_shard("1/2/3"));
    const std::vector<std::string> symbols = {"AAPL", "MSFT", "BTC", "ETH", "SPY", "I:SPX", "BRK.B", "NVDA", "TSLA"};
    const unsigned n = 3;
    for (const auto& s : symbols) {
        int owners = 0;
        for (unsigned k = 0; k < n; ++k) owners += Shard{k, n}.owns(s) ? 1 : 0;
        CHECK(owners == 1);
    }
    // Stable across runs and machines: a fixed symbol always lands in the same shard.
    CHECK(Shard{static_cast<unsigned>(etl::util::stable_hash("AAPL") % 4), 4}.owns("AAPL"));
    CHECK(Shard{0, 1}.owns("ANYTHING"));
}

TEST_CASE("symbols are normalised to upper case and malformed ones refused", "[unit]") {
    CHECK(normalize_symbol("aapl") == "AAPL");
    CHECK(normalize_symbol(" brk.b ") == "BRK.B");
    CHECK(normalize_symbol("^gspc") == "^GSPC");
    CHECK(normalize_symbol("X:btcusd") == "X:BTCUSD");
    CHECK_FALSE(normalize_symbol(""));
    CHECK_FALSE(normalize_symbol("AA PL"));
    CHECK_FALSE(normalize_symbol("AAPL$"));
    CHECK_FALSE(normalize_symbol("AAPL;DROP"));
    CHECK_FALSE(normalize_symbol(std::string(33, 'A')));
}

TEST_CASE("no symbol can become a path step at a provider", "[unit]") {
    for (const auto* s :
         {"..", ".", "...", ".AAPL", "/etc", "A/B", "A..B", "AAPL/..", "./AAPL", "X:.", "X:..", "I:.SPX", "A\\B"})
        CHECK_FALSE(normalize_symbol(s));
    // Dots inside are fine: share classes, Tokyo listings, indices.
    CHECK(normalize_symbol("brk.b") == "BRK.B");
    CHECK(normalize_symbol("7203.t") == "7203.T");
    CHECK(normalize_symbol("^.a") == "^.A");
    CHECK(normalize_symbol("A.") == "A.");
    // Whatever passes, the identifiers derived from it stay one path segment.
    for (const auto* s : {"A.", "^.A", "X:A.", "A.-USD"}) {
        for (auto c : {AssetClass::stock, AssetClass::index, AssetClass::crypto}) {
            const auto a = adhoc_asset(*normalize_symbol(s), c);
            CHECK_FALSE(is_path_step(a.identifier("polygon")));
            CHECK_FALSE(is_path_step(a.identifier("yahoo")));
            CHECK_FALSE(is_path_step(a.identifier("coingecko")));
        }
    }
    for (const auto* id : {".", "..", "....", "a/b", "/", "a\\b"}) CHECK(is_path_step(id));
    for (const auto* id : {"", "bitcoin", "BRK-B", "^GSPC", "X:BTCUSD", "a.", ".a", "a..b"})
        CHECK_FALSE(is_path_step(id));
}

TEST_CASE("bare symbols get a sensible class and provider identifiers", "[unit]") {
    CHECK(guess_asset_class("BTC") == AssetClass::crypto);
    CHECK(guess_asset_class("ETH") == AssetClass::crypto);
    CHECK(guess_asset_class("AAPL") == AssetClass::stock);
    CHECK(guess_asset_class("I:SPX") == AssetClass::index);
    const auto btc = adhoc_asset("BTC", AssetClass::crypto);
    CHECK(btc.identifier("coingecko") == "bitcoin");
    CHECK(btc.identifier("polygon") == "X:BTCUSD");
    CHECK(btc.identifier("yahoo") == "BTC-USD");
    CHECK_FALSE(btc.active);
    for (const auto* spelling : {"X:BTCUSD", "BTC-USD"}) {
        const auto x = adhoc_asset(spelling, guess_asset_class(spelling));
        CHECK(x.asset_class == AssetClass::crypto);
        CHECK(x.identifier("polygon") == "X:BTCUSD");
        CHECK(x.identifier("yahoo") == "BTC-USD");
        CHECK(x.identifier("coingecko") == "bitcoin");
    }
    const auto brk = adhoc_asset("BRK.B", AssetClass::stock);
    CHECK(brk.identifier("polygon") == "BRK.B");
    CHECK(brk.identifier("yahoo") == "BRK-B");
    const auto spx = adhoc_asset("SPX", AssetClass::index);
    CHECK(spx.identifier("polygon") == "I:SPX");
    CHECK(spx.identifier("yahoo") == "^SPX");
    const auto gspc = adhoc_asset("^GSPC", AssetClass::index);
    CHECK(gspc.identifier("polygon") == "I:GSPC");
    CHECK(gspc.identifier("yahoo") == "^GSPC");
    CHECK(adhoc_asset("I:NDX", AssetClass::index).identifier("yahoo") == "^NDX");
}
