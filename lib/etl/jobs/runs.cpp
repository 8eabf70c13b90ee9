#include "etl/jobs/runs.hpp"

#include "etl/util/clock.hpp"
#include "etl/util/error.hpp"
#include "etl/util/log.hpp"
#include "etl/util/secrets.hpp"
#include "etl/util/strings.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <charconv>
#include <exception>

namespace etl::jobs {
namespace {

using std::chrono::hours;
using std::chrono::minutes;
using std::chrono::seconds;

std::string with_prefix(std::string_view job) {
    return job.starts_with("etl-") ? std::string(job) : fmt::format("etl-{}", job);
}

std::uint64_t count_of(const store::Value& v) {
    std::uint64_t n = 0;
    if (v) std::from_chars(v->data(), v->data() + v->size(), n);
    return n;
}

// Rolls back the transaction it began unless commit() was called, so a failed prune inside a job
// leaves the store's connection usable for the job's own work.
class Transaction {
public:
    explicit Transaction(store::Query& query) : m_query(query) {
        m_query.rows(query.dialect() == store::Dialect::sqlite ? "BEGIN IMMEDIATE" : "BEGIN");
    }
    Transaction(const Transaction&) = delete;
    Transaction& operator=(const Transaction&) = delete;
    ~Transaction() {
        if (m_open) try {
                m_query.rows("ROLLBACK");
            } catch (...) { // NOLINT(bugprone-empty-catch): the error that got us here is the one to report
            }
    }
    void commit() {
        m_query.rows("COMMIT");
        m_open = false;
    }

private:
    store::Query& m_query;
    bool m_open = true;
};

} // namespace

std::optional<seconds> parse_duration(std::string_view text) {
    text = util::trim(text);
    if (text == "0") return seconds{0};
    if (text.size() < 2) return std::nullopt;
    std::int64_t n = 0;
    const auto* end = text.data() + text.size() - 1;
    const auto [ptr, ec] = std::from_chars(text.data(), end, n);
    // 100000 days is the largest value any of our limits takes (runs.retention_days too).
    if (ec != std::errc{} || ptr != end || n < 0 || n > 100000LL * 86400) return std::nullopt;
    switch (text.back()) {
    case 's': return seconds{n};
    case 'm': return n <= 100000LL * 1440 ? std::optional(seconds{minutes{n}}) : std::nullopt;
    case 'h': return n <= 100000LL * 24 ? std::optional(seconds{hours{n}}) : std::nullopt;
    case 'd': return n <= 100000 ? std::optional(seconds{hours{24 * n}}) : std::nullopt;
    default: return std::nullopt;
    }
}

std::string format_duration(seconds d) {
    const auto s = std::max<std::int64_t>(d.count(), 0);
    if (s < 60) return fmt::format("{}s", s);
    if (s < 3600) return fmt::format("{}m{:02}s", s / 60, s % 60);
    if (s < 86400) return fmt::format("{}h{:02}m", s / 3600, s % 3600 / 60);
    return fmt::format("{}d{:02}h", s / 86400, s % 86400 / 3600);
}

std::vector<JobMaxAge> default_max_ages() {
    return {
        {"etl-historical", hours{24 * 4}, false, false},
        {"etl-hourly", minutes{30}, true, false},
        {"etl-latest", minutes{5}, true, false},
    };
}

void apply_max_age(std::vector<JobMaxAge>& ages, std::string_view flag_value) {
    const auto eq = flag_value.find('=');
    const auto job = eq == std::string_view::npos ? std::string_view{} : util::trim(flag_value.substr(0, eq));
    const auto age = eq == std::string_view::npos ? std::nullopt : parse_duration(flag_value.substr(eq + 1));
    if (job.empty() || !age)
        throw UsageError(fmt::format("--max-age '{}': expected JOB=DURATION, e.g. etl-hourly=45m or historical=5d "
                                     "(units s, m, h, d; 0 = not checked)",
                                     flag_value));
    const auto name = with_prefix(job);
    for (auto& a : ages)
        if (a.job == name) {
            a.max_age = *age;
            a.asked = true;
            return;
        }
    ages.push_back({name, *age, false, true});
}

std::string_view to_string(JobState s) noexcept {
    switch (s) {
    case JobState::ok: return "ok";
    case JobState::overdue: return "OVERDUE";
    case JobState::never_ran: return "never ran (not judged)";
    case JobState::market_closed: return "ok (market closed)";
    case JobState::not_checked: return "not checked";
    }
    return "?";
}

JobState job_state(const JobMaxAge& limit, std::optional<std::chrono::sys_seconds> last_success,
                   std::chrono::sys_seconds now, const market::TradingCalendar& calendar) {
    if (limit.max_age == seconds{0}) return JobState::not_checked;
    if (limit.session_only) {
        const auto today = calendar.session_on(calendar.new_york_date(now));
        if (!today || now < today->open + limit.max_age || now >= today->close) return JobState::market_closed;
    }
    if (!last_success) return limit.asked ? JobState::overdue : JobState::never_ran;
    return now - *last_success > limit.max_age ? JobState::overdue : JobState::ok;
}

FreshnessRule freshness_rule(const market::TradingCalendar& calendar, std::chrono::sys_seconds now) {
    auto completed = calendar.session_for(now);
    if (now < completed.close) completed = calendar.previous_session(completed.date).value_or(completed);
    const auto before = calendar.previous_session(completed.date).value_or(completed);
    const auto open_hour = std::chrono::floor<hours>(completed.open);
    return {std::chrono::sys_seconds{before.date}, std::chrono::sys_seconds{open_hour}};
}

std::string runs_sql(store::Dialect dialect, const RunFilter& filter) {
    const auto epoch = [&](std::string_view column) {
        return dialect == store::Dialect::postgres ? fmt::format("CAST(EXTRACT(EPOCH FROM {}) AS bigint)", column)
                                                   : fmt::format("CAST(strftime('%s', {}) AS INTEGER)", column);
    };
    std::vector<std::string> where;
    if (!filter.jobs.empty()) {
        std::vector<std::string> params;
        for (std::size_t i = 1; i <= filter.jobs.size(); ++i) params.push_back(fmt::format("${}", i));
        where.push_back(fmt::format("job IN ({})", fmt::join(params, ", ")));
    }
    if (filter.failed_only) where.emplace_back("status IN ('partial', 'failed', 'interrupted')");
    return fmt::format(
        "SELECT id, job, shard, {}, {}, status, exit_code, symbols_ok, symbols_failed, rows_inserted, "
        "rows_updated, rows_rejected, error FROM etl_runs{}{} ORDER BY started_at DESC, id DESC LIMIT {}",
        epoch("started_at"), epoch("finished_at"), where.empty() ? "" : " WHERE ", fmt::join(where, " AND "),
        filter.last);
}

PruneCounts prune_runs(store::Query& query, std::chrono::sys_seconds cutoff, std::chrono::sys_seconds now,
                       const std::string& arguments, bool dry_run) {
    const bool pg = query.dialect() == store::Dialect::postgres;
    // SQLite keeps instants as 'YYYY-MM-DDTHH:MM:SSZ' text, which sorts as time does; PostgreSQL reads
    // the same text as a timestamptz.
    const std::string runs = "SELECT id FROM etl_runs WHERE started_at < $1 AND status <> 'running'";
    const std::vector<store::Value> cut{util::format_instant(cutoff)};
    Transaction tx(query);
    const auto counted =
        query.rows(fmt::format("SELECT (SELECT COUNT(*) FROM etl_runs WHERE id IN ({0})), "
                               "(SELECT COUNT(*) FROM rejected_rows WHERE run_id IN ({0})), "
                               "(SELECT COUNT(*) FROM quality_runs WHERE run_id IN ({0})), {1}",
                               runs,
                               pg ? fmt::format("(SELECT COUNT(*) FROM migration_tables WHERE run_id IN ({}))", runs)
                                  : std::string("0")),
                   cut);
    PruneCounts out;
    if (!counted.rows.empty() && counted.rows.front().size() == 4) {
        const auto& r = counted.rows.front();
        out = {count_of(r[0]), count_of(r[1]), count_of(r[2]), count_of(r[3])};
    }
    if (dry_run) return out; // the transaction rolls back: nothing was written anyway
    // rejected_rows.run_id has no ON DELETE CASCADE (a reject outlives nothing else), so it goes first.
    query.rows(fmt::format("DELETE FROM rejected_rows WHERE run_id IN ({})", runs), cut);
    query.rows(fmt::format("DELETE FROM etl_runs WHERE id IN ({})", runs), cut);
    const auto at = util::format_instant(now);
    query.rows("INSERT INTO etl_runs (job, arguments, shard, started_at, finished_at, status, exit_code) "
               "VALUES ($1, $2, '0/1', $3, $3, 'success', 0)",
               {std::string(k_prune_job), arguments, at});
    tx.commit();
    return out;
}

void prune_runs_daily(store::Store& store, int retention_days, std::chrono::sys_seconds now) noexcept {
    if (retention_days <= 0) return;
    try {
        const auto recent = store.rows("SELECT COUNT(*) FROM etl_runs WHERE job = $1 AND started_at >= $2",
                                       {std::string(k_prune_job), util::format_instant(now - hours{24})});
        if (!recent.rows.empty() && !recent.rows.front().empty() && count_of(recent.rows.front().front()) > 0) return;
        if (!store.try_lock(k_prune_job)) return;
        const auto n = prune_runs(store, now - hours{24 * retention_days}, now,
                                  fmt::format("runs.retention_days={}", retention_days), false);
        util::log_info("runs.retention_days={}: pruned {} etl_runs, {} rejected_rows, {} quality_runs, {} "
                       "migration_tables rows",
                       retention_days, n.runs, n.rejected_rows, n.quality_runs, n.migration_tables);
    } catch (const std::exception& e) {
        util::log_warn("could not prune etl_runs (runs.retention_days={}): {} (the run goes on)", retention_days,
                       util::scrub(e.what()));
    } catch (...) {
        util::log_warn("could not prune etl_runs (runs.retention_days={}): unknown error (the run goes on)",
                       retention_days);
    }
}

} // namespace etl::jobs
