// Extract -> transform -> load for a set of assets: builds each symbol's fetch (routed provider, then
// fallback), runs the Fetcher on a worker thread, and on this thread validates each finished symbol
// and loads it in its own transaction, tallying everything into RunTotals.
#pragma once

#include "etl/config/config.hpp"
#include "etl/jobs/totals.hpp"
#include "etl/market/asset.hpp"
#include "etl/market/calendar.hpp"
#include "etl/providers/fetcher.hpp"
#include "etl/providers/provider.hpp"
#include "etl/store/store.hpp"

#include <functional>
#include <map>
#include <memory>

namespace etl::jobs {

// Chooses providers per asset class from config (routing.*, routing.fallback, or mock for all), and
// builds each provider once, on first use, so a missing key matters only when that provider is needed.
class Router {
public:
    // `calendar` is owned by the job and outlives the Router.
    Router(const config::Config& cfg, market::sys_seconds now, const market::TradingCalendar* calendar);
    // The providers to try for `asset`, in order. Throws ConfigError (e.g. a missing key).
    std::vector<const providers::Provider*> route(const market::Asset& asset);
    // requests/minute of every provider built so far, for the Fetcher.
    [[nodiscard]] std::map<std::string, double, std::less<>> rate_limits() const;
    // The run's clock and calendar, as the providers see them.
    [[nodiscard]] market::sys_seconds now() const noexcept { return m_now; }
    [[nodiscard]] const market::TradingCalendar* calendar() const noexcept { return m_calendar; }

private:
    const providers::Provider& provider(const std::string& name);

    const config::Config& m_cfg;
    market::sys_seconds m_now;
    const market::TradingCalendar* m_calendar;
    bool m_mock;
    std::map<std::string, std::unique_ptr<providers::Provider>, std::less<>> m_providers;
    std::map<std::string, double, std::less<>> m_rpm;
};

// Each provider's requests/minute (`rpm`, from Router::rate_limits) for this run's shard (`shard`: "K/N"):
// divided by N under providers.<name>.rate_limit_scope = "key" (the default: shards share one API key),
// whole under "process". Says so once per provider when the run is one of several shards.
struct ShardLimits {
    std::map<std::string, double, std::less<>> requests_per_minute;
    std::map<std::string, std::chrono::nanoseconds, std::less<>> first_slot; // see ShardRateLimit
};
ShardLimits shard_rate_limits(const config::Config& cfg, std::map<std::string, double, std::less<>> rpm,
                              const std::string& shard);

// The Fetcher's policy from fetch.* (concurrency, retries, backoff, body and Retry-After caps). Throws
// ConfigError for a value out of range.
providers::FetchPolicy fetch_policy(const config::Config& cfg);

// True when `window` (PipelineSpec::window_of's inclusive instants: session dates at 00:00 UTC for daily
// bars, bar starts for hourly ones) holds a bar of `timeframe` that had ended by `now`, so a provider
// that knows the symbol returns at least one: a closed session for stocks, ETFs and indices (weekdays
// without a `calendar`), any day or hour for crypto. No bars for such a window is "no data" (an unknown
// or delisted ticker); no bars for a window without one (a weekend, today before the close) is right.
bool window_expects_bars(market::Timeframe timeframe, const store::Window& window, bool crypto,
                         const market::TradingCalendar* calendar, market::sys_seconds now);

// Sleeps one request interval of a provider allowing `requests_per_minute` (0: unlimited, no sleep), in
// short steps, returning early on a stop (stop_flag). A new Fetcher sends its first request at once, so
// one that follows another on the same provider waits this long first: the last request of the one
// before may have just used the provider's slot.
void pause_one_interval(double requests_per_minute);

// Makes one symbol's fetch from one provider; returns nullptr (with `why`) when the provider has no
// identifier for the asset.
using FetchFactory = std::function<std::unique_ptr<providers::SymbolFetch>(const providers::Provider&,
                                                                           const market::Asset&, std::string& why)>;

struct PipelineSpec {
    std::vector<market::Asset> assets;
    market::Timeframe timeframe = market::Timeframe::day;
    // The validation and load window (inclusive instants) of each asset.
    std::function<store::Window(const market::Asset&)> window_of;
    FetchFactory make_fetch;
    // Called on the loading thread with each symbol's bars once they are committed (or validated, in
    // a dry run); optional.
    std::function<void(const std::string& symbol, std::vector<market::Bar>&& bars)> on_loaded;
    // Called on the loading thread with each symbol's validated bars before they are loaded; false sets
    // them aside: the symbol is neither loaded nor counted (the caller fetches it again). Optional.
    std::function<bool(const std::string& symbol, const std::vector<market::Bar>& bars)> before_load;
};

// Runs the pipeline. `store` is null in a dry run (nothing is written). Database errors during a load
// stop the run and are rethrown after the fetch thread has finished. A symbol without bars (and without
// rejected records) whose window expects some (window_expects_bars) fails as "no data".
void run_pipeline(const config::Config& cfg, Router& router, PipelineSpec spec, store::Store* store, RunTotals& totals);

} // namespace etl::jobs
