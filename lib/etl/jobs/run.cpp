#include "etl/jobs/run.hpp"

#include "etl/alerts/alert.hpp"
#include "etl/jobs/assets.hpp"
#include "etl/jobs/report.hpp"
#include "etl/jobs/runs.hpp"
#include "etl/jobs/setup.hpp"
#include "etl/metrics/freshness.hpp"
#include "etl/metrics/publish.hpp"
#include "etl/util/clock.hpp"
#include "etl/util/error.hpp"
#include "etl/util/json_writer.hpp"
#include "etl/util/log.hpp"
#include "etl/util/secrets.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <exception>
#include <memory>
#include <stdexcept>

namespace etl::jobs {
namespace {

// Opens the store, takes the lock of `job` + shard (not in a dry run: it writes nothing) and records
// the run's start. Throws TemporaryError (75) when another run holds the lock.
std::unique_ptr<store::Store> start_run(const config::Config& cfg, RunTotals& totals, bool dry_run) {
    auto store = open_store(cfg, totals.job);
    totals.store = store->describe();
    totals.dry_run = dry_run;
    totals.max_rejected_ratio = cfg.settings().validation.max_rejected_ratio;
    if (!dry_run && !store->try_lock(store::run_lock_name(totals.job, totals.shard)))
        throw TemporaryError(fmt::format("another {} run (shard {}) is in progress; this run exits without doing "
                                         "anything",
                                         totals.job, totals.shard));
    return store;
}

// Ends a recorded run's etl_runs row; `error` is what stopped the run, else the first failure's.
void write_ledger(store::Store* store, const RunTotals& t) {
    if (!t.run_id || !store) return;
    std::string first = t.error;
    if (first.empty()) first = t.first_config_error;
    if (first.empty() && !t.failures.empty()) first = t.failures.front().error;
    // A cache that failed is said in the row even when the run succeeded (the exit code stays 0).
    if (t.cache.find("failed (") != std::string::npos)
        first = first.empty() ? fmt::format("cache: {}", t.cache) : fmt::format("{}; cache: {}", first, t.cache);
    store->finish_run(t.run_id, {run_status(t.code), util::to_int(t.code), t.symbols_requested, t.symbols_ok,
                                 t.symbols_failed, t.rows, util::scrub(first)});
}

// The summary line's level in the JSON format: what a log collector alerting on warn/error should see.
util::LogLevel summary_level(util::ExitCode code) {
    switch (code) {
    case util::ExitCode::ok: return util::LogLevel::info;
    case util::ExitCode::partial:
    case util::ExitCode::unavailable:
    case util::ExitCode::temporary:
    case util::ExitCode::interrupted: return util::LogLevel::warn;
    default: return util::LogLevel::error;
    }
}

void write_summary(const RunTotals& t) {
    if (!t.nothing_to_do.empty()) {
        // One line either way: the reason as text; as JSON a summary line too, so every run ends in one.
        if (util::log_format() == util::LogFormat::text) {
            util::log_info("{}", t.nothing_to_do);
        } else {
            util::JsonWriter w(util::scrub);
            w.start_object().key("arguments").string(t.arguments).key("status").string("nothing to do");
            w.key("exit_code").number(util::to_int(t.code)).key("reason").string(t.nothing_to_do).end_object();
            util::write_summary(util::LogLevel::info, "", w.text());
        }
        return;
    }
    util::write_summary(summary_level(t.code), summary_text(t, t.code), summary_json(t, t.code));
    if (t.code == util::ExitCode::config && !t.first_config_error.empty())
        util::log_error("configuration error: {}", t.first_config_error);
}

// The run's metrics (metrics.textfile_dir, metrics.pushgateway_url), not for a dry run (it writes
// nothing). With a store open, the freshness of its bars is read after the load; a failing read is one
// warning and the other metrics are still written.
void write_metrics(store::Store* store, const metrics::Outputs& to, const RunTotals& t) {
    if (t.dry_run || (to.textfile_dir.empty() && to.pushgateway_url.empty())) return;
    metrics::RunMetrics m;
    m.job = t.job;
    m.shard = t.shard;
    std::replace(m.shard.begin(), m.shard.end(), '/', '_');
    m.exit_code = util::to_int(t.code);
    m.finished = util::now().time_since_epoch().count();
    m.duration_seconds = std::chrono::duration<double>(std::chrono::system_clock::now() - t.started).count();
    m.counts_symbols = t.counts_symbols;
    m.symbols = {{"ok", t.symbols_ok}, {"failed", t.symbols_failed}, {"interrupted", t.symbols_interrupted}};
    m.rows = {{"inserted", t.rows.inserted},
              {"updated", t.rows.updated},
              {"unchanged", t.rows.unchanged},
              {"rejected", t.rows.rejected}};
    m.requests = t.provider_requests;
    m.retries.insert(t.provider_retries.begin(), t.provider_retries.end());
    if (store) {
        try {
            m.latest_bar = metrics::latest_bar_timestamps(*store);
        } catch (const std::exception& e) {
            util::log_warn("could not read the latest bars for {}: {} (the other metrics are written)",
                           metrics::k_latest_bar, util::scrub(e.what()));
        }
    }
    metrics::publish(to, std::move(m));
}

// The exit code of the run of the same job and shard before run `t.run_id`: its etl_runs row, the latest
// one with a lower id that has an exit code (a run still 'running', or abandoned, has none). nullopt when
// there is none.
std::optional<int> previous_exit_code(store::Query& query, const RunTotals& t) {
    const auto r = query.rows("SELECT exit_code FROM etl_runs WHERE job = $1 AND shard = $2 AND id < $3 AND "
                              "exit_code IS NOT NULL ORDER BY id DESC LIMIT 1",
                              {t.job, t.shard, std::to_string(t.run_id)});
    if (r.rows.empty() || r.rows.front().empty() || !r.rows.front().front()) return std::nullopt;
    return std::stoi(*r.rows.front().front());
}

// The webhook of alerts.* (values checked by Config::load; a default-constructed Alerts sends nothing).
alerts::Webhook alert_target(const config::Settings::Alerts& a) {
    alerts::Webhook to;
    to.url = a.webhook_url;
    to.min_severity = alerts::parse_severity(a.min_severity).value_or(alerts::Severity::warning);
    to.format = alerts::parse_format(a.format).value_or(alerts::Format::json);
    // The whole URL is a secret (an incoming webhook's token is its path): no log line may show it.
    if (!to.url.empty()) util::register_secret(to.url);
    return to;
}

// The alert of the run (alerts.*), not for a dry run (it writes nothing) nor a run with nothing to do. A
// failure (exit not 0 or 130) is sent at its severity; a success is sent as info when the run before it
// (same job and shard, read from etl_runs: this run's own row is finished by then and has a higher id)
// failed. Below min_severity nothing is sent, and etl_runs is not read.
void write_alert(store::Store* store, const alerts::Webhook& to, const RunTotals& t) {
    if (to.url.empty() || t.dry_run || !t.nothing_to_do.empty()) return;
    const int code = util::to_int(t.code);
    std::optional<int> previous;
    if (code == 0) {
        if (!store || !t.run_id || !alerts::should_send(to, alerts::Severity::info)) return;
        previous = previous_exit_code(*store, t);
    }
    const auto severity = alerts::run_severity(code, previous);
    if (!severity || !alerts::should_send(to, *severity)) return;
    alerts::Alert a;
    a.job = t.job;
    a.run_id = t.run_id;
    a.status = store::to_string(run_status(t.code));
    a.exit_code = code;
    a.severity = *severity;
    a.previous_exit_code = previous;
    a.summary = summary_text(t, t.code);
    a.summary.erase(std::min(a.summary.find('\n'), a.summary.size()));
    a.error = t.error;
    if (a.error.empty()) a.error = t.first_config_error;
    for (const auto& f : t.failures) a.failures.push_back({f.symbol, f.provider, f.kind, f.error});
    a.host = alerts::host_name();
    a.shard = t.shard;
    a.started = std::chrono::floor<std::chrono::seconds>(t.started);
    a.finished = std::chrono::floor<std::chrono::seconds>(std::chrono::system_clock::now());
    alerts::send(to, a);
}

void run_sinks(const std::vector<Sink>& sinks, const RunTotals& outcome) noexcept {
    for (const auto& sink : sinks) {
        try {
            sink.write(outcome);
        } catch (const std::exception& e) {
            util::log_warn("could not write {}: {} (the exit code stands)", sink.name, util::scrub(e.what()));
        } catch (...) {
            util::log_warn("could not write {}: unknown error (the exit code stands)", sink.name);
        }
    }
}

} // namespace

std::vector<Sink> standard_sinks(store::Store* store, const std::string& report_file,
                                 const config::Settings::Metrics& metrics_to,
                                 const config::Settings::Alerts& alerts_to) {
    std::vector<Sink> sinks;
    sinks.push_back({"the end of the run in etl_runs", [store](const RunTotals& t) { write_ledger(store, t); }});
    sinks.push_back({"the summary", [](const RunTotals& t) { write_summary(t); }});
    sinks.push_back({fmt::format("the report {}", report_file), [report_file](const RunTotals& t) {
                         if (!report_file.empty() && t.nothing_to_do.empty()) write_report(report_file, t, t.code);
                     }});
    sinks.push_back({"the metrics", [store, to = metrics::Outputs{metrics_to.textfile_dir, metrics_to.pushgateway_url}](
                                        const RunTotals& t) { write_metrics(store, to, t); }});
    sinks.push_back(
        {"the alert", [store, to = alert_target(alerts_to)](const RunTotals& t) { write_alert(store, to, t); }});
    return sinks;
}

util::ExitCode end_run(RunTotals& outcome, util::ExitCode code, const std::string& error,
                       const std::vector<Sink>& sinks) {
    outcome.code = code;
    outcome.error = error;
    run_sinks(sinks, outcome);
    return code;
}

int run_job(const RunSpec& spec, const std::vector<std::string>& args, const CommonOptions& options) {
    const auto now = util::now();
    const auto shard = resolve_shard(options);
    util::set_log_job(spec.job);
    util::set_log_shard(shard.to_string());
    auto cfg = load_config(options);
    preflight(cfg, options, spec.symbols, spec.forced);
    const auto calendar = spec.needs_calendar ? load_calendar(cfg) : market::TradingCalendar{};

    RunTotals totals;
    totals.job = spec.job;
    totals.arguments = join_arguments({args.begin() + 1, args.end()});
    totals.shard = shard.to_string();
    totals.dry_run = options.dry_run;
    RunContext run{cfg, options, now, calendar, shard, totals, nullptr, {}};
    std::unique_ptr<store::Store> store;
    const auto sinks = [&] {
        auto all = standard_sinks(store.get(), options.report_file, cfg.settings().metrics, cfg.settings().alerts);
        all.insert(all.end(), spec.extra_sinks.begin(), spec.extra_sinks.end());
        return all;
    };
    // Nothing to do: the run ends before it is recorded, through the same epilogue.
    const auto skip = [&](std::string reason) {
        totals.nothing_to_do = std::move(reason);
        return util::to_int(end_run(totals, exit_code(Verdict::nothing_to_do), "", sinks()));
    };

    if (spec.before_store)
        if (auto why = spec.before_store(run)) return skip(std::move(*why));
    if (spec.needs_store) {
        store = start_run(cfg, totals, options.dry_run);
        run.store = store.get();
        // runs.retention_days: every job prunes old etl_runs, at most once a day (a failure is one warning).
        if (!options.dry_run) prune_runs_daily(*store, cfg.settings().runs.retention_days, now);
    }
    if (spec.before_assets) spec.before_assets(run);
    if (spec.resolves_assets) {
        if (!store) throw std::logic_error(fmt::format("{}: resolves_assets needs needs_store", spec.job));
        run.assets = resolve_assets(spec.symbols, spec.forced, *store, options.dry_run, shard);
        check_provider_keys(cfg, run.assets);
    }
    if (spec.after_assets)
        if (auto why = spec.after_assets(run)) return skip(std::move(*why));
    if (spec.resolves_assets) totals.symbols_requested = run.assets.size();
    if (store && !options.dry_run) {
        totals.run_id = store->begin_run({totals.job, totals.arguments, totals.shard});
        util::set_log_run_id(totals.run_id);
    }

    const auto epilogue = sinks();
    try {
        if (spec.resolves_assets && run.assets.empty())
            util::log_info("nothing to do: no {}symbols for shard {}{}", spec.symbols.empty() ? "active " : "",
                           totals.shard, spec.no_assets_hint);
        else if (spec.work) spec.work(run);
    } catch (const Error& e) {
        // The run stops here (database lost mid-run, ...): record and report what was done, then let
        // the error reach run_guarded, which prints it and returns its exit code.
        end_run(totals, e.code(), e.what(), epilogue);
        throw;
    } catch (const std::exception& e) {
        // A bug (exit 70): the run is still recorded as failed rather than left 'running' until the
        // next run finds it abandoned.
        end_run(totals, util::ExitCode::internal, fmt::format("internal error: {}", e.what()), epilogue);
        throw;
    }
    return util::to_int(end_run(totals, exit_code(spec.exit_rule(totals)), "", epilogue));
}

} // namespace etl::jobs
