// The run history and health of a deployment: `etl runs` (recent etl_runs), `etl status` (each job's
// last success and the data's freshness, exit 0 healthy / 1 not) and the pruning of old etl_runs
// (`etl db prune`, and the once-a-day prune every job does when runs.retention_days is set).
#pragma once

#include "etl/market/calendar.hpp"
#include "etl/store/store.hpp"

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace etl::jobs {

// "90s", "30m", "2h", "30d" (a whole number and one unit; "0" alone too) as seconds; nullopt otherwise.
std::optional<std::chrono::seconds> parse_duration(std::string_view text);
// The shortest readable form of a duration: "45s", "12m05s", "3h07m", "4d02h" (negative: "0s").
std::string format_duration(std::chrono::seconds d);

// --- etl status ---------------------------------------------------------------------------------

// How old a job's last success may be. Session-bound jobs (etl-latest, etl-hourly) are only judged
// while the NYSE session is open and has been open for at least `max_age`: outside it they have
// nothing to do. `max_age` 0 means "not checked".
struct JobMaxAge {
    std::string job; // as etl_runs.job names it: "etl-hourly"
    std::chrono::seconds max_age{};
    bool session_only = false;
    bool asked = false; // named with --max-age: a job that never succeeded is then overdue
};

// The defaults: etl-latest 5 min and etl-hourly 30 min during the session (they run every minute and
// every 10 minutes), etl-historical 4 days (daily after the close; a long weekend is 3 days + hours).
std::vector<JobMaxAge> default_max_ages();

// Applies one --max-age value "JOB=DURATION" (JOB with or without "etl-") to `ages`: a known job's
// limit is replaced, keeping whether it is session-bound; another job is added. Throws UsageError.
void apply_max_age(std::vector<JobMaxAge>& ages, std::string_view flag_value);

enum class JobState {
    ok,
    overdue,
    never_ran,     // no success recorded and not asked for: not judged
    market_closed, // session-bound job outside the judged part of the session
    not_checked,   // max age 0
};
std::string_view to_string(JobState s) noexcept;

// The state of one job whose last success finished at `last_success` (nullopt: never).
JobState job_state(const JobMaxAge& limit, std::optional<std::chrono::sys_seconds> last_success,
                   std::chrono::sys_seconds now, const market::TradingCalendar& calendar);

// What fresh data means at `now`: the oldest latest daily bar (over active assets) must be of the
// session before the last completed NYSE session or later (one session of slack: the daily job runs
// after the close), and the oldest latest hourly bar must start in the last completed session (at or
// after the hour of its opening bell).
struct FreshnessRule {
    std::chrono::sys_seconds daily_from;  // 00:00 UTC of that session's date (how daily bars are stored)
    std::chrono::sys_seconds hourly_from; // the start of the hour holding the last completed session's open
};
FreshnessRule freshness_rule(const market::TradingCalendar& calendar, std::chrono::sys_seconds now);

// --- etl runs ------------------------------------------------------------------------------------

struct RunFilter {
    std::vector<std::string> jobs; // any of these names (empty: every job)
    bool failed_only = false;      // status partial, failed or interrupted
    std::uint64_t last = 20;       // newest first, at most this many
};

// The SELECT of `etl runs` for `dialect` (its parameters: the job names, in order): id, job, shard,
// started and finished as Unix seconds, status, exit code, symbols ok and failed, rows inserted,
// updated and rejected, error.
std::string runs_sql(store::Dialect dialect, const RunFilter& filter);

// --- pruning -------------------------------------------------------------------------------------

// The job name of the etl_runs row every prune writes (the marker of the once-a-day prune).
inline constexpr std::string_view k_prune_job = "etl-prune";

struct PruneCounts {
    std::uint64_t runs = 0;             // etl_runs rows
    std::uint64_t rejected_rows = 0;    // deleted with them
    std::uint64_t quality_runs = 0;     // cascade (ON DELETE CASCADE), with their quality_results
    std::uint64_t migration_tables = 0; // cascade (PostgreSQL only)
};

// Deletes, in one transaction, the etl_runs started before `cutoff` that are not 'running' (a live run
// still writes its row), their rejected_rows, and through ON DELETE CASCADE their quality_runs,
// quality_results and migration_tables rows; then records the prune as an etl_runs row of job
// k_prune_job started and finished at `now` with `arguments`. With `dry_run` it only counts. Throws
// what Query::rows throws (the transaction rolled back).
PruneCounts prune_runs(store::Query& query, std::chrono::sys_seconds cutoff, std::chrono::sys_seconds now,
                       const std::string& arguments, bool dry_run);

// The hook of every job (runs.retention_days > 0): prunes runs older than `retention_days` unless a
// k_prune_job row started in the 24 hours before `now`, or another process holds the lock k_prune_job
// (two jobs starting together: one prunes; the lock is held until this process ends). Never throws: a
// failure is one warning.
void prune_runs_daily(store::Store& store, int retention_days, std::chrono::sys_seconds now) noexcept;

} // namespace etl::jobs
