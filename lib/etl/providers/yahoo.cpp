#include "etl/providers/yahoo.hpp"

#include "etl/market/symbol.hpp"
#include "etl/providers/parse.hpp"
#include "etl/providers/single_request_fetch.hpp"
#include "etl/util/strings.hpp"

#include "etl/market/validate.hpp"

#include <fmt/format.h>

#include <algorithm>

namespace etl::providers {
namespace {

// The asset's yahoo_symbol, when set and one path segment (see usable_identifier).
bool usable_symbol(const market::Asset& asset, std::string& why) {
    return usable_identifier(asset, "yahoo", k_yahoo_identifier, why);
}

using namespace std::chrono;

// Yahoo answers the default curl/python User-Agents with 403/429; a browser-like one is required.
constexpr std::string_view k_user_agent =
    "User-Agent: Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0 Safari/537.36";

// A daily or hourly chart. Hourly bars come from 30-minute bars: Yahoo's own 1h bars start on the half
// hour (09:30, 10:30, ...), so 30-minute bars are grouped into bars that start on the hour, like
// Polygon's. Bars outside `keep` (the bar starts the caller asked for) are skipped: period2 is
// inclusive for a row stamped exactly at it (crypto and exchanges such as Tokyo open at 00:00 UTC), so
// the day after the window comes back as well.
class YahooFetch final : public SingleRequestFetch {
public:
    // `period1`/`period2`: the request's bounds; a row stamped outside [period1, period2) was not asked
    // for, even when it is malformed.
    YahooFetch(const ProviderSettings& s, std::string symbol, sys_seconds period1, sys_seconds period2, std::string url,
               market::Timeframe timeframe, HourWindow keep)
        : SingleRequestFetch("yahoo", http::Request{std::move(url), {std::string(k_user_agent)}, s.timeout}),
          m_symbol(std::move(symbol)), m_period1(period1), m_period2(period2), m_timeframe(timeframe), m_keep(keep) {}

private:
    tl::expected<void, ParseFailure> take(Body body) override {
        auto page = parse_yahoo_chart(body, m_symbol, m_timeframe);
        if (!page) return tl::unexpected(page.error());
        m_batch.bars = std::move(page->batch.bars);
        m_skipped = page->skipped;
        // A malformed row at period2 (a live row with nulls) is an edge row too: skipped, not rejected.
        // The hours of the rows that stay rejected are incomplete.
        std::vector<sys_seconds> bad_hours;
        m_batch.rejected.clear();
        for (std::size_t i = 0; i < page->batch.rejected.size(); ++i) {
            const auto t = i < page->rejected_at.size() ? page->rejected_at[i] : std::nullopt;
            if (t && (*t < m_period1 || *t >= m_period2)) {
                ++m_skipped;
                continue;
            }
            if (t) bad_hours.emplace_back(floor<hours>(*t));
            m_batch.rejected.push_back(std::move(page->batch.rejected[i]));
        }
        if (m_timeframe == market::Timeframe::hour) m_batch.bars = market::hourly_bars_from_bars(m_batch.bars);
        keep_window(m_batch.bars, m_keep, m_skipped);
        if (m_timeframe == market::Timeframe::hour) drop_incomplete_hours(bad_hours);
        return {};
    }

    // An hour one of whose 30-minute parts was rejected (a null price) would be stored with the
    // other part's prices as if it were the whole hour: reject the hour as well.
    void drop_incomplete_hours(const std::vector<sys_seconds>& bad_hours) {
        if (bad_hours.empty()) return;
        std::vector<market::Bar> kept;
        for (auto& b : m_batch.bars) {
            if (std::find(bad_hours.begin(), bad_hours.end(), b.ts) == bad_hours.end()) {
                kept.push_back(std::move(b));
            } else {
                m_batch.rejected.push_back({b.symbol, "yahoo", market::to_json(b),
                                            "incomplete hour: one of its 30-minute parts was rejected"});
            }
        }
        m_batch.bars = std::move(kept);
    }

    std::string m_symbol;
    sys_seconds m_period1;
    sys_seconds m_period2;
    market::Timeframe m_timeframe;
    HourWindow m_keep;
};

// Latest price from the chart's meta (regularMarketPrice, previous close, regularMarketTime).
class YahooLatestFetch final : public SingleRequestFetch {
public:
    YahooLatestFetch(const ProviderSettings& s, std::string symbol, std::string url)
        : SingleRequestFetch("yahoo", http::Request{std::move(url), {std::string(k_user_agent)}, s.timeout}),
          m_settings(s), m_symbol(std::move(symbol)) {}

private:
    tl::expected<void, ParseFailure> take(Body body) override {
        auto q = parse_yahoo_quote(body, m_symbol); // a price too long to keep: a rejected record (see on_success)
        if (!q) return tl::unexpected(std::move(q.error()));
        if (q->as_of == market::sys_seconds{}) q->as_of = m_settings.now;
        m_quotes.push_back(std::move(*q));
        return {};
    }

    const ProviderSettings& m_settings;
    std::string m_symbol;
};

} // namespace

std::unique_ptr<SymbolFetch> YahooProvider::daily_bars(const market::Asset& asset, market::DateWindow window,
                                                       std::string& why) const {
    if (!usable_symbol(asset, why)) return nullptr;
    // period1 inclusive, period2 the day after the window's last session date: exclusive for a session
    // that opens later in the day (New York), inclusive for one stamped 00:00 UTC, which is skipped.
    const sys_seconds p1{window.from};
    const sys_seconds p2{window.to + days{1}};
    const auto url = fmt::format("{}/v8/finance/chart/{}?period1={}&period2={}&interval=1d&includePrePost=false",
                                 m_settings.base_url, util::percent_encode(asset.identifier("yahoo")),
                                 p1.time_since_epoch().count(), p2.time_since_epoch().count());
    // Daily bars carry their session date at 00:00 UTC, so the window's instants are its dates.
    return std::make_unique<YahooFetch>(m_settings, asset.symbol, p1, p2, url, market::Timeframe::day,
                                        HourWindow{p1, sys_seconds{window.to}});
}

} // namespace etl::providers

namespace etl::providers {

std::unique_ptr<SymbolFetch> YahooProvider::hourly_bars(const market::Asset& asset, HourWindow window,
                                                        std::string& why) const {
    if (!usable_symbol(asset, why)) return nullptr;
    const sys_seconds p2 = window.to + hours{1};
    const auto url = fmt::format("{}/v8/finance/chart/{}?period1={}&period2={}&interval=30m&includePrePost=false",
                                 m_settings.base_url, util::percent_encode(asset.identifier("yahoo")),
                                 window.from.time_since_epoch().count(), p2.time_since_epoch().count());
    return std::make_unique<YahooFetch>(m_settings, asset.symbol, window.from, p2, url, market::Timeframe::hour,
                                        window);
}

std::vector<QuoteFetch> YahooProvider::latest_quotes(std::span<const market::Asset> assets,
                                                     std::vector<std::string>& unserved) const {
    std::vector<QuoteFetch> out;
    for (const auto& asset : assets) {
        if (std::string why; !usable_symbol(asset, why)) {
            unserved.push_back(asset.symbol);
            continue;
        }
        const auto url = fmt::format("{}/v8/finance/chart/{}?range=1d&interval=1d", m_settings.base_url,
                                     util::percent_encode(asset.identifier("yahoo")));
        out.push_back({{asset.symbol}, std::make_unique<YahooLatestFetch>(m_settings, asset.symbol, url)});
    }
    return out;
}

std::unique_ptr<Provider> make_yahoo_provider(const ProviderSettings& s) { return std::make_unique<YahooProvider>(s); }

std::string yahoo_default_symbol(const std::string& symbol, market::AssetClass cls) {
    switch (cls) {
    case market::AssetClass::crypto: return market::coin_of(symbol) + "-USD";
    case market::AssetClass::index: return "^" + market::index_of(symbol);
    default: {
        // Yahoo writes share classes with a dash (BRK-B), Polygon with a dot (BRK.B).
        std::string out = symbol;
        std::replace(out.begin(), out.end(), '.', '-');
        return out;
    }
    }
}

} // namespace etl::providers
