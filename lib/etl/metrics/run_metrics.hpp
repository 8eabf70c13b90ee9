// The metrics of one run of a job (SPEC.md section 8): what a run reports, as plain values, and the
// metric families they make. Pure; the jobs layer fills RunMetrics from its RunTotals.
#pragma once

#include "etl/metrics/exposition.hpp"

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace etl::metrics {

struct RunMetrics {
    std::string job;   // "etl-historical": the label job, the textfile's name, the Pushgateway group
    std::string shard; // "0_1" (shard K/N written K_N: a '/' cannot be in a Pushgateway path segment)
    int exit_code = 0;
    std::int64_t finished = 0; // when the run ended, Unix seconds: market_etl_last_run_timestamp_seconds
    // market_etl_last_success_timestamp_seconds: `finished` when the run succeeded, else the one carried
    // over from the previous run (nullopt: no run has succeeded yet, or none known: the metric is left out).
    std::optional<std::int64_t> last_success;
    double duration_seconds = 0;
    bool counts_symbols = true;                                            // false: market_etl_symbols left out
    std::vector<std::pair<std::string, std::uint64_t>> symbols;            // status ("ok", "failed", ...), count
    std::vector<std::pair<std::string, std::uint64_t>> rows;               // result ("inserted", ...), count
    std::map<std::pair<std::string, std::string>, std::uint64_t> requests; // {provider, code}: responses
    std::map<std::string, std::uint64_t> retries;                          // provider: retries
    // timeframe ("1d", "1h"), the oldest latest bar over active assets (Unix seconds); empty: left out.
    std::vector<std::pair<std::string, std::int64_t>> latest_bar;
};

// The run's families, in the order of SPEC.md section 8, every sample labelled job and shard first.
std::vector<Family> run_families(const RunMetrics& run);

// format_exposition(run_families(run)).
std::string format_run(const RunMetrics& run);

// The metric names (SPEC.md section 8).
inline constexpr std::string_view k_last_success = "market_etl_last_success_timestamp_seconds";
inline constexpr std::string_view k_last_run = "market_etl_last_run_timestamp_seconds";
inline constexpr std::string_view k_last_exit_code = "market_etl_last_exit_code";
inline constexpr std::string_view k_run_duration = "market_etl_run_duration_seconds";
inline constexpr std::string_view k_symbols = "market_etl_symbols";
inline constexpr std::string_view k_rows = "market_etl_rows";
inline constexpr std::string_view k_provider_requests = "market_etl_provider_requests_total";
inline constexpr std::string_view k_retries = "market_etl_retries_total";
inline constexpr std::string_view k_latest_bar = "market_etl_latest_bar_timestamp_seconds";

} // namespace etl::metrics
