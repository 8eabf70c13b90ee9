// etl runs (recent etl_runs, newest first) and etl status (each job's last success and the data's
// freshness; exit 0 healthy, 1 overdue or stale).
#include "etl/jobs/cli.hpp"
#include "etl/jobs/commands.hpp"
#include "etl/jobs/options.hpp"
#include "etl/jobs/runs.hpp"
#include "etl/jobs/setup.hpp"
#include "etl/metrics/freshness.hpp"
#include "etl/util/clock.hpp"
#include "etl/util/error.hpp"
#include "etl/util/exit_code.hpp"
#include "etl/util/strings.hpp"

#include <CLI/CLI.hpp>
#include <fmt/format.h>
#include <fmt/ranges.h>

#include <charconv>
#include <filesystem>
#include <map>

namespace etl::jobs {
namespace {

using std::chrono::seconds;
using std::chrono::sys_seconds;

std::optional<std::int64_t> integer_of(const store::Value& v) {
    std::int64_t n = 0;
    if (!v) return std::nullopt;
    const auto [end, ec] = std::from_chars(v->data(), v->data() + v->size(), n);
    if (ec != std::errc{} || end != v->data() + v->size()) return std::nullopt;
    return n;
}

std::string text_of(const store::Value& v) { return v.value_or(""); }

std::string instant_text(std::optional<std::int64_t> epoch) {
    return epoch ? util::format_instant(sys_seconds{seconds{*epoch}}) : std::string("-");
}

// The first line of an error, as one column.
std::string first_line(std::string_view s) { return std::string(s.substr(0, s.find('\n'))); }

// Opens the configured store to read it. An SQLite file that does not exist is an error (66), not a new
// empty database: a probe pointed at the wrong path must not report a healthy nothing.
std::unique_ptr<store::Store> open_existing_store(const config::Config& cfg, const std::string& app_name) {
    if (const auto path = store::sqlite_path(cfg.settings().database.url)) {
        std::error_code ec;
        if (!std::filesystem::exists(*path, ec) && !ec)
            throw InputError(fmt::format("no database at {} (database_url {})", *path, cfg.settings().database.url));
    }
    return open_store(cfg, app_name);
}

} // namespace

int runs_main(const std::vector<std::string>& args) {
    return run_guarded(args.front(), [&]() -> int {
        CLI::App app{"Recent runs from etl_runs, newest first.", args.front()};
        CommonOptions common;
        add_common_options(app, common, 0);
        std::string job;
        std::uint64_t last = 20;
        bool failed = false;
        app.add_option("--job", job, "only this job (etl-hourly, or hourly)");
        app.add_option("--last", last, "at most N runs (default 20)")->check(CLI::Range(1, 100000));
        app.add_flag("--failed", failed, "only runs that did not succeed (partial, failed, interrupted)");
        if (auto rc = parse_cli(app, args)) return *rc;
        auto cfg = load_config(common);
        check_database_url(cfg);
        auto store = open_existing_store(cfg, "etl-runs");

        RunFilter filter{{}, failed, last};
        std::vector<store::Value> params;
        if (!job.empty()) {
            filter.jobs.push_back(job);
            if (!job.starts_with("etl-")) filter.jobs.push_back(fmt::format("etl-{}", job));
            params.assign(filter.jobs.begin(), filter.jobs.end());
        }
        const auto result = store->rows(runs_sql(store->dialect(), filter), params);
        fmt::print("{:>6}  {:<18} {:<5} {:<20} {:>8}  {:<11} {:>4} {:>11} {:>16}  {}\n", "ID", "JOB", "SHARD",
                   "STARTED", "DURATION", "STATUS", "EXIT", "SYM OK/FAIL", "ROWS INS/UPD/REJ", "ERROR");
        for (const auto& r : result.rows) {
            if (r.size() != 13) continue;
            const auto started = integer_of(r[3]);
            const auto finished = integer_of(r[4]);
            const auto duration = started && finished ? format_duration(seconds{*finished - *started})
                                                      : std::string(text_of(r[5]) == "running" ? "running" : "-");
            const auto exit = r[6] ? *r[6] : std::string("-");
            const auto line = fmt::format("{:>6}  {:<18} {:<5} {:<20} {:>8}  {:<11} {:>4} {:>11} {:>16}  {}",
                                          text_of(r[0]), text_of(r[1]), text_of(r[2]), instant_text(started), duration,
                                          text_of(r[5]), exit, fmt::format("{}/{}", text_of(r[7]), text_of(r[8])),
                                          fmt::format("{}/{}/{}", text_of(r[9]), text_of(r[10]), text_of(r[11])),
                                          first_line(text_of(r[12])));
            fmt::print("{}\n", line.substr(0, line.find_last_not_of(' ') + 1));
        }
        if (result.rows.empty()) fmt::print("(no runs)\n");
        return 0;
    });
}

int status_main(const std::vector<std::string>& args) {
    return run_guarded(args.front(), [&]() -> int {
        CLI::App app{"Health: each job's last success and the data's freshness. Exit 0 healthy, 1 overdue or stale.",
                     args.front()};
        CommonOptions common;
        add_common_options(app, common, 0);
        std::vector<std::string> max_age_flags;
        app.add_option("--max-age", max_age_flags,
                       "JOB=DURATION: how old JOB's last success may be (repeatable; 30m, 2h, 4d; 0 = not checked). "
                       "Defaults: etl-latest=5m and etl-hourly=30m during the NYSE session, etl-historical=4d. "
                       "A job named here that never succeeded is overdue");
        bool no_data = false;
        app.add_flag("--no-data", no_data, "do not judge the data's freshness");
        if (auto rc = parse_cli(app, args)) return *rc;
        auto ages = default_max_ages();
        for (const auto& f : max_age_flags) apply_max_age(ages, f);
        const auto now = util::now();
        auto cfg = load_config(common);
        check_database_url(cfg);
        const auto calendar = load_calendar(cfg);
        auto store = open_existing_store(cfg, "etl-status");

        const auto epoch = store->dialect() == store::Dialect::postgres
                               ? "CAST(EXTRACT(EPOCH FROM MAX(COALESCE(finished_at, started_at))) AS bigint)"
                               : "CAST(strftime('%s', MAX(COALESCE(finished_at, started_at))) AS INTEGER)";
        std::map<std::string, sys_seconds> last_success;
        for (const auto& r :
             store->rows(fmt::format("SELECT job, {} FROM etl_runs WHERE status = 'success' GROUP BY job", epoch)).rows)
            if (r.size() == 2 && r[0])
                if (const auto t = integer_of(r[1])) last_success[*r[0]] = sys_seconds{seconds{*t}};

        std::vector<std::string> problems;
        fmt::print("{:<18} {:<20} {:>8}  {:<20} {}\n", "JOB", "LAST SUCCESS", "AGE", "MAX AGE", "STATE");
        for (const auto& a : ages) {
            const auto it = last_success.find(a.job);
            const auto last = it == last_success.end() ? std::nullopt : std::optional(it->second);
            const auto state = job_state(a, last, now, calendar);
            if (state == JobState::overdue) problems.push_back(fmt::format("{} overdue", a.job));
            const auto limit = a.max_age == seconds{0} ? std::string("-")
                                                       : fmt::format("{}{}", format_duration(a.max_age),
                                                                     a.session_only ? " (in session)" : "");
            fmt::print("{:<18} {:<20} {:>8}  {:<20} {}\n", a.job, last ? util::format_instant(*last) : "never",
                       last ? format_duration(now - *last) : "-", limit, to_string(state));
        }

        if (!no_data) {
            const auto rule = freshness_rule(calendar, now);
            fmt::print("\n{:<18} {:<20} {:<20} {}\n", "TIMEFRAME", "OLDEST LATEST BAR", "REQUIRED FROM", "STATE");
            std::map<std::string, std::int64_t> latest;
            for (const auto& [timeframe, ts] : metrics::latest_bar_timestamps(*store)) latest[timeframe] = ts;
            for (const auto& [timeframe, from] :
                 {std::pair{std::string("1d"), rule.daily_from}, std::pair{std::string("1h"), rule.hourly_from}}) {
                const auto it = latest.find(timeframe);
                std::string state = "no bars (not judged)";
                if (it != latest.end()) {
                    const bool stale = it->second < from.time_since_epoch().count();
                    state = stale ? "STALE" : "ok";
                    if (stale) problems.push_back(fmt::format("{} bars stale", timeframe));
                }
                fmt::print("{:<18} {:<20} {:<20} {}\n", timeframe,
                           it == latest.end() ? std::string("-") : instant_text(it->second), util::format_instant(from),
                           state);
            }
        }
        if (problems.empty()) {
            fmt::print("\nstatus: healthy (at {})\n", util::format_instant(now));
            return 0;
        }
        fmt::print("\nstatus: UNHEALTHY (at {}): {}\n", util::format_instant(now), fmt::join(problems, ", "));
        // 1, the partial-failure code: what a probe, a CI step or `etl status || alert` reads as "not healthy".
        return util::to_int(util::ExitCode::partial);
    });
}

} // namespace etl::jobs
