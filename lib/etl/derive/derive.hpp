// Keeping the indicators table in step with price_bars (issue 12 points 1 and 5): which bars to
// recompute, reading them and the state to go on from, computing (derive/indicators.hpp), writing.
// Used by `etl derive` and, with derive.enabled, by etl-historical and etl-hourly for the symbols
// their load changed.
#pragma once

#include "etl/market/timeframe.hpp"
#include "etl/store/store.hpp"

#include <cstdint>
#include <functional>
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
    std::uint64_t bars_read = 0; // valid bars read from price_bars (the new ones, or all when the kept closes
                                 // could not be used)
    std::uint64_t values = 0;    // indicator values written (computed, in a dry run)
    bool from_first_bar = false; // computed from the symbol's first bar (else resumed from stored state)
};

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

struct DeriveTarget {
    std::string symbol;
    // The first instant whose bars may have changed (e.g. a load's window); nullopt: only new bars.
    std::optional<market::sys_seconds> changed_from;
};

struct DeriveTotals {
    std::vector<DeriveResult> symbols; // one per target derived, in their order
    StatsResult stats;                 // asset_stats (daily bars, with settings); comparisons: derive_comparisons
    bool interrupted = false;          // `stop` said so: the later targets were not derived
};

// Brings the indicators of each target's `timeframe` bars in line with its stored bars that pass the OHLC
// rules (store::schema::valid_bar_sql), a batch of symbols at a time (one transaction per write).
// Which bars: with `full` (or when the symbol has no indicators yet) every one; otherwise those from its
// `changed_from` or from the newest bar that has indicators, whichever is earlier: that bar is recomputed
// too, since a bar stored before its session closed changes later. Going on from a bar needs the closes
// before it and its carried state: the closes come from those kept with the indicators (derive_closes,
// derive/closes.hpp), so a batch reads only its new bars, in one statement; when they are missing or do
// not reach the bar, the symbol's closes are read from price_bars; when the state is missing (fewer than
// 200 bars before it, say), the symbol is computed from its first bar.
// With `stats` and daily bars, also replaces the asset_stats rows of the targets (every window their
// history reaches; see derive/stats.hpp), computed from the same kept closes (they reach back to the 5Y
// window's base). Crypto (the assets table's class) is annualised over 365 days, the rest over 252
// sessions. `targets` name each symbol once. `stop` is asked before each symbol. Throws what the store throws.
DeriveTotals derive_symbols(store::Store& store, market::Timeframe timeframe, std::span<const DeriveTarget> targets,
                            const DeriveOptions& options, const StatsSettings* stats,
                            const std::function<bool()>& stop = {});

// asset_comparisons for each configured pair with a symbol among `symbols` (daily bars, see stats.hpp);
// returns the rows (computed, in a dry run). Throws what the store throws.
std::uint64_t derive_comparisons(store::Store& store, std::span<const std::string> symbols,
                                 const StatsSettings& settings, bool dry_run);

} // namespace etl::derive
