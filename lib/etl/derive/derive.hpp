// Keeping the indicators table in step with price_bars (issue 12 points 1 and 5): which bars to
// recompute, reading them and the state to go on from, computing (derive/indicators.hpp), writing.
// Used by `etl derive` and, with derive.enabled, by etl-historical and etl-hourly for the symbols
// their load changed.
#pragma once

#include "etl/market/timeframe.hpp"
#include "etl/store/store.hpp"

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace etl::derive {

struct DeriveOptions {
    bool full = false;    // recompute every bar, not only the new ones
    bool dry_run = false; // compute, write nothing
};

struct DeriveResult {
    std::uint64_t bars_read = 0; // valid bars read (the new ones and their warm-up)
    std::uint64_t values = 0;    // indicator values written (computed, in a dry run)
    bool from_first_bar = false; // computed from the symbol's first bar (else resumed from stored state)
};

// Brings the indicators of `symbol` and `timeframe` in line with its stored bars that pass the OHLC
// rules (store::schema::valid_bar_sql), in one transaction.
// Which bars: with `full` (or when the symbol has no indicators yet) every one; otherwise those from
// `changed_from` (the first instant whose bars may have changed, e.g. a load's window) or from the newest
// bar that has indicators, whichever is earlier: that bar is recomputed too, since a bar stored before
// its session closed changes later. Going on from a bar reads back its carried state; when that is not
// possible (fewer than 200 bars before it, or state missing), the symbol is computed from its first bar.
// Throws what the store throws.
DeriveResult derive_symbol(store::Store& store, std::string_view symbol, market::Timeframe timeframe,
                           std::optional<market::sys_seconds> changed_from, const DeriveOptions& options);

struct StatsSettings {
    std::string risk_free_rate = "auto"; // "auto": the latest stored ^IRX daily close / 100, else 0; or "0.04"
    std::string benchmark = "SPY";       // "" = no beta
    std::vector<std::pair<std::string, std::string>> compare;
};

struct StatsResult {
    std::uint64_t symbols = 0;     // symbols with at least one window
    std::uint64_t rows = 0;        // asset_stats rows (computed, in a dry run)
    std::uint64_t comparisons = 0; // asset_comparisons rows
    double risk_free_rate = 0;     // the rate used
};

// Recomputes asset_stats for `symbols` from their stored daily bars that pass the OHLC rules (every window
// their history reaches; a symbol's rows are replaced), and asset_comparisons for each configured pair
// with a symbol among them (derive/stats.hpp has the definitions). Crypto (the assets table's class) is
// annualised over 365 days, the rest over 252 sessions. Throws what the store throws.
StatsResult derive_stats(store::Store& store, std::span<const std::string> symbols, const StatsSettings& settings,
                         bool dry_run);

} // namespace etl::derive
