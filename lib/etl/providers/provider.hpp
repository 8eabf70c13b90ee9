// Providers: how to ask each source for a symbol's bars (requests in, bars out). The HTTP scheduling
// (rate limits, retries, concurrency) is the Fetcher's; parsing is parse.hpp's.
#pragma once

#include "etl/http/client.hpp"
#include "etl/market/asset.hpp"
#include "etl/market/bar.hpp"
#include "etl/market/calendar.hpp"
#include "etl/market/quote.hpp"
#include "etl/market/range.hpp"
#include "etl/providers/parse.hpp"

#include <chrono>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace etl::providers {

// How a symbol's fetch ended, when it did not succeed.
enum class FailureKind {
    none,
    transient,   // retries spent on 429/5xx/timeouts/bad bodies: the provider is unavailable
    permanent,   // 400/403/404 and the like: this symbol cannot be served
    config,      // 401, key rejected, plan does not cover the request: fix the configuration
    interrupted, // SIGINT/SIGTERM arrived before it finished
};
std::string_view to_string(FailureKind k) noexcept;

struct Failure {
    FailureKind kind = FailureKind::permanent;
    std::string message; // one line, no secrets
};

// One symbol's fetch from one provider: a small state machine of requests (pages).
class SymbolFetch {
public:
    virtual ~SymbolFetch() = default;
    // The next request to send, or nullopt when the fetch is complete.
    virtual std::optional<http::Request> next_request() = 0;
    // Takes a 2xx body. A ParseFailure means the body is not a valid response (truncated, HTML): the
    // Fetcher retries the same request.
    virtual tl::expected<void, ParseFailure> on_success(Body body) = 0;
    // A provider-specific reading of a non-2xx response; nullopt leaves it to the generic rules.
    virtual std::optional<Failure> classify_error(const http::Response&) { return std::nullopt; }

    [[nodiscard]] virtual std::string_view provider() const noexcept = 0;
    market::BarBatch& batch() noexcept { return m_batch; }
    std::vector<market::Quote>& quotes() noexcept { return m_quotes; }
    [[nodiscard]] std::size_t skipped() const noexcept { return m_skipped; }

protected:
    market::BarBatch m_batch;
    std::vector<market::Quote> m_quotes; // latest-price fetches fill this instead of m_batch
    std::size_t m_skipped = 0;
};

// Inclusive range of hourly bar starts, both on the hour.
struct HourWindow {
    market::sys_seconds from;
    market::sys_seconds to;
};

// What a provider needs from configuration.
struct ProviderSettings {
    std::string name;
    std::string base_url;           // API root as the provider documents it, no trailing slash
    std::string api_key;            // "" when none
    double requests_per_minute = 0; // 0 = unlimited
    std::string plan = "demo";      // CoinGecko: demo or pro
    int max_history_days = 0;       // CoinGecko: 0 = unlimited
    bool grouped = true;            // whole-market answers allowed (fetch.grouped)
    std::chrono::seconds timeout{30};
    std::chrono::sys_days today{};                     // "today" for clipping history windows
    market::sys_seconds now{};                         // the run's clock (ETL_NOW when pinned)
    const market::TradingCalendar* calendar = nullptr; // owned by the job; outlives the provider
};

// One latest-price fetch and the symbols it answers for.
struct QuoteFetch {
    std::vector<std::string> symbols;
    std::unique_ptr<SymbolFetch> fetch;
    // A whole-market answer (Polygon grouped daily) that may lack some of `symbols` (indices, renamed
    // tickers): those, and all of them when the request fails for good, are asked for again with
    // Provider::symbol_quotes. False: a symbol without a quote has failed.
    bool whole_market = false;
};

// An asset of a whole-market fetch, and the first session date it wants.
struct GroupedAsset {
    market::Asset asset;
    std::chrono::sys_days from{};
};

class Provider {
public:
    virtual ~Provider() = default;
    [[nodiscard]] virtual std::string_view name() const noexcept = 0;
    // Daily bars of `asset` for the session dates in `window`. Returns nullopt when this provider has
    // no identifier for the asset (e.g. no coingecko_id), with `why` set.
    virtual std::unique_ptr<SymbolFetch> daily_bars(const market::Asset& asset, market::DateWindow window,
                                                    std::string& why) const = 0;
    // Hourly bars of `asset` whose start lies in `window`; bars outside it are dropped (counted as
    // skipped), so extended-hours bars a provider adds do not reach validation.
    virtual std::unique_ptr<SymbolFetch> hourly_bars(const market::Asset& asset, HourWindow window,
                                                     std::string& why) const = 0;
    // Latest prices of `assets`: one fetch per asset, or per batch of assets where the provider takes
    // many ids in one request. A symbol of a fetch that has no quote in its quotes() has failed
    // (unknown id). Assets this provider has no identifier for are listed in `unserved`.
    virtual std::vector<QuoteFetch> latest_quotes(std::span<const market::Asset> assets,
                                                  std::vector<std::string>& unserved) const = 0;
    // Latest prices asked for symbol by symbol: for what a whole-market answer lacked. By default the
    // same as latest_quotes (a provider without whole-market answers never needs it).
    virtual std::vector<QuoteFetch> symbol_quotes(std::span<const market::Asset> assets,
                                                  std::vector<std::string>& unserved) const {
        return latest_quotes(assets, unserved);
    }
    // The whole-market daily answer that holds `asset` ("stocks", "crypto": one request per date for every
    // asset of that market, Polygon's grouped daily), or "" when the provider has none for it (the default).
    [[nodiscard]] virtual std::string_view grouped_market(const market::Asset& /*asset*/) const { return {}; }
    // Daily bars of `assets` (all of one grouped_market) for the session dates `dates`, one request per
    // date. The bars and rejected rows of every asset land in one batch (each with the asset's symbol);
    // rows of tickers not asked for, and an asset's rows of dates before its `from`, are skipped. nullptr
    // when the provider has no whole-market answers (the default).
    virtual std::unique_ptr<SymbolFetch> grouped_daily_bars(std::span<const GroupedAsset> /*assets*/,
                                                            std::span<const std::chrono::sys_days> /*dates*/) const {
        return nullptr;
    }
    // How far back this provider serves daily bars, when its plan limits history: the earliest session
    // date, the limit ("coingecko's demo plan") and the setting that lifts it. nullopt: no limit. A
    // window older than the routed provider's reach is fetched from the fallback (providers/joined_fetch).
    struct Reach {
        std::chrono::sys_days from;
        std::string limit;
        std::string fix;
    };
    [[nodiscard]] virtual std::optional<Reach> reach(const market::Asset& /*asset*/) const { return std::nullopt; }
};

// A fetch whose bars are already at hand (a symbol's share of whole-market answers): it sends nothing
// and completes with `batch`. `provider` names where they came from ("polygon grouped"); the Fetcher
// paces requests by that name, and this fetch makes none, so it never waits for a rate limit.
class PrefetchedFetch final : public SymbolFetch {
public:
    PrefetchedFetch(std::string provider, market::BarBatch batch, std::size_t skipped)
        : m_provider(std::move(provider)) {
        m_batch = std::move(batch);
        m_skipped = skipped;
    }
    std::optional<http::Request> next_request() override { return std::nullopt; }
    tl::expected<void, ParseFailure> on_success(Body /*body*/) override { return {}; }
    [[nodiscard]] std::string_view provider() const noexcept override { return m_provider; }

private:
    std::string m_provider;
};

// How a provider names an asset, when it needs its own name (a provider's registry row; mock has none).
struct IdentifierSpec {
    std::string_view column{}; // its column in an assets CSV (etl assets import): "polygon_ticker"
    // Where the database keeps it: true for the providers of migration 0001, whose identifier is the
    // assets column named `column` (columns never shrink; users' queries read them); false for every
    // later provider, whose identifiers are asset_identifiers rows, so adding one needs no migration.
    bool assets_column = false;
    std::string_view flag{};        // the etl assets add option that sets it: "--polygon-ticker"
    std::string_view value_name{};  // what that option takes: "TICKER"
    std::string_view help{};        // that option's help text
    std::string_view fix{};         // the etl assets add options an error names to correct it
    std::string_view list_header{}; // its column in etl assets list: "POLYGON"
    std::size_t list_width = 0;     // that column's width
    // The identifier of a symbol nobody registered, of class `cls`; "" when the provider has none for it.
    std::string (*default_for)(const std::string& symbol, market::AssetClass cls) = nullptr;
};

// True when the asset's identifier at `provider` (described by `spec`) is set and stays one path
// segment of a request; otherwise false, with `why` naming the assets column and the `etl assets add`
// options that correct it.
bool usable_identifier(const market::Asset& asset, std::string_view provider, const IdentifierSpec& spec,
                       std::string& why);

// Moves the bars of `bars` whose ts lies outside `window` out (counted in `skipped`): bars a provider
// adds beyond what was asked (extended hours, the widened request of a daily series) are not records
// that failed, so they do not go to rejected_rows.
void keep_window(std::vector<market::Bar>& bars, HourWindow window, std::size_t& skipped);

// The session close of the trading day that starts at `session_date` (00:00 UTC of that date), capped at
// `now`: the as-of time of a daily close. Crypto and calendar-less callers get the end of that UTC day.
market::sys_seconds close_as_of(const ProviderSettings& s, const market::Asset& asset,
                                market::sys_seconds session_date);

} // namespace etl::providers
