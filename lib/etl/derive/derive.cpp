#include "etl/derive/derive.hpp"

#include "etl/derive/indicators.hpp"

#include <algorithm>
#include <chrono>
#include <vector>

namespace etl::derive {
namespace {

using market::sys_seconds;

// Every instant a stored bar can have.
constexpr store::Window k_all_time{sys_seconds(std::chrono::sys_days(std::chrono::year{1800} / 1 / 1)),
                                   sys_seconds(std::chrono::sys_days(std::chrono::year{9999} / 12 / 31))};

// How far back to read before the first bar to recompute so that, normally, k_lookback_bars bars are in
// hand: 200 bars of the timeframe, doubled for weekends and holidays, and six-fold for hourly bars (an
// exchange's session holds 7 of a day's 24 hours). Fewer found means computing from the first bar.
std::chrono::seconds lookback(market::Timeframe tf) {
    const auto bars = static_cast<std::int64_t>(k_lookback_bars) * (tf == market::Timeframe::hour ? 6 : 2);
    return market::duration(tf) * bars;
}

std::vector<Close> valid_closes(store::Store& store, std::string_view symbol, market::Timeframe tf,
                                store::Window window) {
    std::vector<Close> closes;
    store.for_each_close(symbol, tf, window, true, [&](std::int64_t ts, double close) {
        closes.push_back({ts, close});
    });
    std::sort(closes.begin(), closes.end(), [](const Close& a, const Close& b) { return a.ts < b.ts; });
    return closes;
}

std::uint64_t write(store::Store& store, std::string_view symbol, market::Timeframe tf, std::optional<sys_seconds> from,
                    const std::vector<IndicatorValue>& values, bool dry_run) {
    if (dry_run) return values.size();
    std::vector<store::IndicatorRow> rows;
    rows.reserve(values.size());
    for (const auto& v : values)
        rows.push_back({sys_seconds(std::chrono::seconds(v.ts)), to_string(v.indicator), v.value});
    return store.replace_indicators(symbol, tf, from, rows);
}

} // namespace

DeriveResult derive_symbol(store::Store& store, std::string_view symbol, market::Timeframe timeframe,
                           std::optional<sys_seconds> changed_from, const DeriveOptions& options) {
    DeriveResult result;
    if (!options.full) {
        if (const auto last = store.last_indicator_ts(symbol, timeframe)) {
            const auto start = changed_from ? std::min(*changed_from, *last) : *last;
            const auto closes = valid_closes(store, symbol, timeframe, {start - lookback(timeframe), k_all_time.to});
            const auto start_s = start.time_since_epoch().count();
            const auto k =
                static_cast<std::size_t>(std::lower_bound(closes.begin(), closes.end(), start_s,
                                                          [](const Close& c, std::int64_t ts) { return c.ts < ts; }) -
                                         closes.begin());
            if (k >= k_lookback_bars) {
                CarriedState state;
                for (const auto& [name, value] :
                     store.indicators_at(symbol, timeframe, sys_seconds(std::chrono::seconds(closes[k - 1].ts))))
                    if (const auto i = indicator_named(name)) state[static_cast<std::size_t>(*i)] = value;
                if (auto values = resume_indicators(closes, k, state)) {
                    result.bars_read = closes.size();
                    result.values = write(store, symbol, timeframe, start, *values, options.dry_run);
                    return result;
                }
            }
        }
    }
    const auto closes = valid_closes(store, symbol, timeframe, k_all_time);
    result.from_first_bar = true;
    result.bars_read = closes.size();
    result.values = write(store, symbol, timeframe, std::nullopt, compute_indicators(closes), options.dry_run);
    return result;
}

} // namespace etl::derive
