// Runs etl-validate's checks against a store: loads the symbols in scope and the calendar the checks
// expect into temporary tables, runs one statement per family (sql.hpp), and turns the sampled rows
// into results. Records results in quality_runs / quality_results.
#pragma once

#include "etl/market/calendar.hpp"
#include "etl/market/shard.hpp"
#include "etl/store/store.hpp"
#include "etl/validate/checks.hpp"

#include <atomic>
#include <chrono>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

namespace etl::validate {

struct ValidateOptions {
    std::vector<std::string>
        symbols; // named, normalised (this shard's share is checked); empty: every asset of the shard
    std::vector<std::string> checks;     // the checks to run (select_checks)
    std::vector<std::string> timeframes; // "1d", "1h"
    std::optional<std::chrono::sys_days> since;
    market::Shard shard;
    std::chrono::sys_seconds now{};
    std::string against; // --against sqlite:PATH: the file (without the scheme); "" = none
    // PostgreSQL: the store's URL, to run spikes and stale (the one family that cannot use several
    // cores: window functions) on a second connection while the others run; "" = one connection.
    std::string parallel_url;
    int statement_timeout_seconds = 0; // the store's session limits, for that second connection (0: none)
    int lock_timeout_seconds = 0;
    const std::atomic<bool>* stop = nullptr; // set by SIGINT/SIGTERM: the second connection's statement is cancelled
};

// How far back session hours are laid out for hourly completeness without --since: hourly history is
// kept for months, not decades.
inline constexpr std::chrono::days k_hourly_lookback{730};

class Validator {
public:
    Validator(store::Store& store, const market::TradingCalendar& calendar, ValidateOptions options,
              Thresholds thresholds);

    // Runs the checks; one result per check asked, in the table's order. Throws the store's errors.
    std::vector<CheckResult> run();

    // The symbols checked (known after run()).
    [[nodiscard]] std::size_t symbols_checked() const noexcept { return m_symbols; }

private:
    void load_scope();
    void load_calendar(); // fills m_sessions, m_hours (and, on SQLite, their tables)
    // The instant of ordinal `k` of a completeness unit ("sessions", "session hours", "days", "hours").
    [[nodiscard]] std::string instant_of(std::string_view unit, std::int64_t k) const;
    void run_family(const std::string& sql, std::vector<CheckResult>& results);
    // A family's sampled rows into the results.
    void apply(const store::Rows& rows, std::vector<CheckResult>& results) const;
    void parity(CheckResult& result);

    store::Store& m_store;
    const market::TradingCalendar& m_calendar;
    ValidateOptions m_options;
    Thresholds m_thresholds;
    std::size_t m_symbols = 0;
    std::vector<std::string> m_scope;              // the symbols, for parity
    std::vector<std::string> m_equities, m_crypto; // the same by group
    std::vector<std::string> m_inactive;           // the inactive ones
    std::vector<market::Session> m_sessions;       // completed sessions, from the start on (k = index)
    std::vector<std::chrono::sys_seconds> m_hours; // their regular-session hour starts, recent ones (k = index)
    std::int64_t m_first_day = 0;                  // the day m_session_of_day starts at (days since the epoch)
    std::vector<std::int64_t> m_session_of_day;    // day -> session ordinal, -1 when none
    std::int64_t m_first_hour = 0;
    std::vector<std::int64_t> m_ordinal_of_hour; // hour -> session hour ordinal, -1 when none
};

// Records a validation run: one quality_runs row (linked to etl_runs `run_id`, 0 for none; its status
// the verdict, --strict counted) and one quality_results row per result with its sample. Returns the
// quality_runs id.
std::int64_t record_results(store::Query& query, std::int64_t run_id, const std::string& scope, bool strict,
                            std::span<const CheckResult> results);

// A result's examples as the JSON array quality_results.samples holds.
std::string samples_json(const CheckResult& result);

} // namespace etl::validate
