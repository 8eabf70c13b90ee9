#include "etl/providers/coingecko.hpp"

#include "etl/market/symbol.hpp"
#include "etl/providers/parse.hpp"
#include "etl/providers/single_request_fetch.hpp"
#include "etl/util/strings.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>

namespace etl::providers {
namespace {

// The asset's coingecko_id, when set and one path segment (see usable_identifier).
bool usable_id(const market::Asset& asset, std::string& why) {
    return usable_identifier(asset, "coingecko", k_coingecko_identifier, why);
}

using namespace std::chrono;

// CoinGecko chooses granularity by range length: more than 90 days gives daily points at 00:00 UTC.
// Shorter windows are widened to this many days (and the extra days dropped), so every range gets
// daily points even where `interval=daily` is not honoured.
constexpr days k_daily_granularity_span{92};

// The key header every CoinGecko request carries when a key is configured.
std::vector<std::string> key_headers(const ProviderSettings& s) {
    if (s.api_key.empty()) return {};
    return {fmt::format("{}: {}", s.plan == "pro" ? "x-cg-pro-api-key" : "x-cg-demo-api-key", s.api_key)};
}

// What every CoinGecko fetch shares: one request with the key header, and the plan errors that no
// retry will fix.
class CoinGeckoFetchBase : public SingleRequestFetch {
public:
    CoinGeckoFetchBase(const ProviderSettings& s, std::string url)
        : SingleRequestFetch("coingecko", http::Request{std::move(url), key_headers(s), s.timeout}) {}

    std::optional<Failure> classify_error(const http::Response& r) override {
        // 10012 (history beyond the plan), 10010/10011 (key on the wrong host), 10005 (endpoint not in
        // the plan) will not pass on retry.
        for (const auto* code : {"10010", "10011", "10012", "10005"}) {
            if (r.body.find(fmt::format("\"error_code\":{}", code)) != std::string::npos) {
                const auto text = provider_error_message(r.body).value_or("request rejected by plan");
                return Failure{FailureKind::config,
                               fmt::format("CoinGecko error {}: {} (check COINGECKO_API_KEY, providers.coingecko.plan "
                                           "and providers.coingecko.max_history_days)",
                                           code, text)};
            }
        }
        return std::nullopt;
    }
};

class CoinGeckoFetch final : public CoinGeckoFetchBase {
public:
    CoinGeckoFetch(const ProviderSettings& s, std::string symbol, std::string url, HourWindow keep)
        : CoinGeckoFetchBase(s, std::move(url)), m_symbol(std::move(symbol)), m_keep(keep) {}

private:
    tl::expected<void, ParseFailure> take(Body body) override {
        auto page = parse_coingecko_daily(body, m_symbol);
        if (!page) return tl::unexpected(page.error());
        m_skipped += page->skipped;
        // The widened start and the inclusive `to` (the next day's 00:00 UTC point) asked for days the
        // user did not.
        m_batch.bars = std::move(page->batch.bars);
        keep_window(m_batch.bars, m_keep, m_skipped);
        m_batch.rejected = std::move(page->batch.rejected);
        return {};
    }

    std::string m_symbol;
    HourWindow m_keep; // the user's window: daily bars are their date at 00:00 UTC
};

// Hourly bars from the price points of /market_chart/range: a range ending now and at most a day long
// comes 5-minutely (real hourly OHLC), a longer one hourly; either way points are bucketed by the
// hour they fall in, and hours without points get no bar.
class CoinGeckoHourlyFetch final : public CoinGeckoFetchBase {
public:
    CoinGeckoHourlyFetch(const ProviderSettings& s, std::string symbol, std::string url, HourWindow window)
        : CoinGeckoFetchBase(s, std::move(url)), m_symbol(std::move(symbol)), m_window(window) {}

private:
    tl::expected<void, ParseFailure> take(Body body) override {
        auto points = parse_coingecko_prices(body, m_symbol);
        if (!points) return tl::unexpected(points.error());
        m_batch.rejected = std::move(points->rejected);
        m_batch.bars = market::hourly_bars_from_points(m_symbol, "coingecko", points->points);
        keep_window(m_batch.bars, m_window, m_skipped);
        return {};
    }

    std::string m_symbol;
    HourWindow m_window;
};

// Latest prices of many coins in one /simple/price request. Ids CoinGecko does not know are simply
// missing from the answer; their symbols get no quote (and so fail), never a price of 0.
class CoinGeckoLatestFetch final : public CoinGeckoFetchBase {
public:
    CoinGeckoLatestFetch(const ProviderSettings& s, std::vector<market::Asset> assets, std::string url)
        : CoinGeckoFetchBase(s, std::move(url)), m_settings(s), m_assets(std::move(assets)) {}

private:
    tl::expected<void, ParseFailure> take(Body body) override {
        auto prices = parse_coingecko_simple_price(body);
        if (!prices) return tl::unexpected(prices.error());
        for (const auto& asset : m_assets) {
            const auto it = prices->find(asset.identifier("coingecko"));
            if (it == prices->end()) continue;
            if (!it->second.problem.empty()) { // a data problem, never taken for an unknown id
                m_batch.rejected.push_back({asset.symbol, "coingecko", it->second.raw, it->second.problem});
                continue;
            }
            market::Quote q;
            q.symbol = asset.symbol;
            q.price = it->second.usd;
            if (it->second.change_24h_pct && *it->second.change_24h_pct > -100.0) {
                // CoinGecko gives the 24 h change, not a previous close: derive it. Eight decimals
                // are finer than any coin's quoted precision.
                const double previous = q.price.value / (1.0 + *it->second.change_24h_pct / 100.0);
                q.previous_close = market::decimal_from_double(std::round(previous * 1e8) / 1e8);
            }
            q.as_of = it->second.last_updated ? market::sys_seconds{seconds{*it->second.last_updated}} : m_settings.now;
            q.source = "coingecko";
            m_quotes.push_back(std::move(q));
        }
        return {};
    }

    const ProviderSettings& m_settings;
    std::vector<market::Asset> m_assets;
};

// Ids per /simple/price request: CoinGecko documents no limit, but URLs past ~2,000 characters fail at
// some proxies; 100 slugs stay well under that.
constexpr std::size_t k_ids_per_request = 100;

} // namespace

std::unique_ptr<SymbolFetch> CoinGeckoProvider::hourly_bars(const market::Asset& asset, HourWindow window,
                                                            std::string& why) const {
    if (!usable_id(asset, why)) return nullptr;
    const auto to = std::min(window.to + hours{1}, m_settings.now);
    const auto url = fmt::format("{}/coins/{}/market_chart/range?vs_currency=usd&from={}&to={}", m_settings.base_url,
                                 util::percent_encode(asset.identifier("coingecko")),
                                 window.from.time_since_epoch().count(), to.time_since_epoch().count());
    return std::make_unique<CoinGeckoHourlyFetch>(m_settings, asset.symbol, url, window);
}

std::vector<QuoteFetch> CoinGeckoProvider::latest_quotes(std::span<const market::Asset> assets,
                                                         std::vector<std::string>& unserved) const {
    std::vector<QuoteFetch> out;
    std::vector<market::Asset> batch;
    std::string ids;
    auto flush = [&] {
        if (batch.empty()) return;
        const auto url = fmt::format("{}/simple/price?ids={}&vs_currencies=usd&include_24hr_change=true"
                                     "&include_last_updated_at=true",
                                     m_settings.base_url, ids);
        std::vector<std::string> symbols;
        symbols.reserve(batch.size());
        for (const auto& a : batch) symbols.push_back(a.symbol);
        out.push_back({std::move(symbols), std::make_unique<CoinGeckoLatestFetch>(m_settings, std::move(batch), url)});
        batch.clear();
        ids.clear();
    };
    for (const auto& asset : assets) {
        if (asset.identifier("coingecko").empty()) {
            unserved.push_back(asset.symbol);
            continue;
        }
        if (!ids.empty()) ids += "%2C";
        ids += util::percent_encode(asset.identifier("coingecko"));
        batch.push_back(asset);
        if (batch.size() == k_ids_per_request) flush();
    }
    flush();
    return out;
}

std::optional<Provider::Reach> CoinGeckoProvider::reach(const market::Asset& /*asset*/) const {
    if (m_settings.max_history_days <= 0 || m_settings.plan == "pro") return std::nullopt;
    // The plan's N days end today: the first of them is today - (N - 1).
    return Reach{m_settings.today - days{m_settings.max_history_days - 1},
                 fmt::format("coingecko's {} plan", m_settings.plan), R"(providers.coingecko.plan = "pro")"};
}

std::unique_ptr<SymbolFetch> CoinGeckoProvider::daily_bars(const market::Asset& asset, market::DateWindow window,
                                                           std::string& why) const {
    if (!usable_id(asset, why)) return nullptr;
    // Unix seconds cannot be negative here; CoinGecko's history starts in 2013 anyway.
    auto first = sys_days{year{1970} / January / 1};
    if (const auto r = reach(asset)) first = std::max(first, r->from);
    const auto from = std::max(window.from, first);
    auto request_from = std::min(from, window.to - k_daily_granularity_span);
    auto request_to = window.to + days{1};
    if (request_from < first) {
        // Widened back past the plan's reach, the request would be refused (error 10012): widen it
        // forward instead.
        request_from = first;
        request_to = std::max(request_to, first + k_daily_granularity_span);
    }
    const sys_seconds period_from{request_from};
    const sys_seconds period_to{request_to};
    const auto url = fmt::format("{}/coins/{}/market_chart/range?vs_currency=usd&from={}&to={}&interval=daily",
                                 m_settings.base_url, util::percent_encode(asset.identifier("coingecko")),
                                 period_from.time_since_epoch().count(), period_to.time_since_epoch().count());
    return std::make_unique<CoinGeckoFetch>(m_settings, asset.symbol, url,
                                            HourWindow{sys_seconds{from}, sys_seconds{window.to}});
}

std::unique_ptr<Provider> make_coingecko_provider(const ProviderSettings& s) {
    return std::make_unique<CoinGeckoProvider>(s);
}

std::string coingecko_default_id(const std::string& symbol, market::AssetClass cls) {
    if (cls != market::AssetClass::crypto) return {};
    const auto coin = market::coin_of(symbol);
    return std::string(market::well_known_coin_slug(coin).value_or(util::to_lower(coin)));
}

} // namespace etl::providers
