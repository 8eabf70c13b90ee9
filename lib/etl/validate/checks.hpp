// etl-validate's checks (issue 9): the table of checks with their default levels, their thresholds
// from config ([validate.<check>]), and what a check's run yields. Pure: no store, no clock.
#pragma once

#include "etl/config/config.hpp"

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace etl::validate {

enum class Level { warn, fail };
std::string_view to_string(Level level) noexcept;

// One check: its name (as --check and [validate.<name>] spell it) and what it looks at.
struct CheckInfo {
    std::string_view name;
    std::string_view what;
};

// Every check, in the order they run and print.
std::span<const CheckInfo> checks();

// The check named `name`, nullptr when there is none.
const CheckInfo* find_check(std::string_view name);

// The names given to --check, each known; throws UsageError naming an unknown one, with the closest
// known name ("did you mean 'ohlc'?") and the list. Empty input: every check.
std::vector<std::string> select_checks(std::span<const std::string> names);

// The levels and thresholds in force, from config (validate.* keys).
struct Thresholds {
    std::vector<std::pair<std::string, Level>> levels; // every check's level
    double max_missing_ratio = 0.05;                   // completeness: above it, fail
    int freshness_max_sessions = 1;
    int freshness_max_minutes = 5;
    double spikes_k = 8.0;
    int spikes_window = 20;
    double spikes_max_abs_return = 0.5;
    int stale_sessions = 5;
    int spikes_lookback_days = 366; // 0: the whole history
    int stale_lookback_days = 366;
    double drift_max_pct = 5.0;

    [[nodiscard]] Level level_of(std::string_view check) const;
    static Thresholds from_config(const config::Config& cfg);
};

// A failing row (or range of rows) shown as an example.
struct Example {
    std::string symbol;
    std::string timeframe;
    std::string ts; // the instant (first of a range), "" when the finding has none
    std::string detail;
};

// How many examples a result keeps (stored in quality_results.samples and printed by --format json);
// the text table shows the first k_examples_shown.
inline constexpr std::size_t k_examples_kept = 20;
inline constexpr std::size_t k_examples_shown = 5;

struct CheckResult {
    std::string name;
    Level level = Level::fail;
    // "pass"; "warn" or "fail" (a check that found something: its level, or fail for a completeness
    // above max_missing_ratio); "skipped" (not applicable here: `note` says why).
    std::string status = "pass";
    std::uint64_t failing = 0; // failing rows (completeness: missing bars; stale: runs)
    std::vector<Example> examples;
    std::string note;
};

// The verdict of a set of results: "fail" when a result failed (with `strict`, warned too), else
// "warn" when one warned, else "pass".
std::string overall_status(std::span<const CheckResult> results, bool strict);

} // namespace etl::validate
