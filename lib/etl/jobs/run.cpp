#include "etl/jobs/run.hpp"

#include "etl/jobs/assets.hpp"
#include "etl/jobs/report.hpp"
#include "etl/jobs/runs.hpp"
#include "etl/jobs/setup.hpp"
#include "etl/metrics/freshness.hpp"
#include "etl/metrics/publish.hpp"
#include "etl/util/clock.hpp"
#include "etl/util/error.hpp"
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
    store->finish_run(t.run_id, {run_status(t.code), util::to_int(t.code), t.symbols_requested, t.symbols_ok,
                                 t.symbols_failed, t.rows, util::scrub(first)});
}

void write_summary(const RunTotals& t) {
    if (!t.nothing_to_do.empty()) {
        util::log_info("{}", t.nothing_to_do);
        return;
    }
    util::write_summary(summary_text(t, t.code));
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
                                 const config::Settings::Metrics& metrics_to) {
    std::vector<Sink> sinks;
    sinks.push_back({"the end of the run in etl_runs", [store](const RunTotals& t) { write_ledger(store, t); }});
    sinks.push_back({"the summary", [](const RunTotals& t) { write_summary(t); }});
    sinks.push_back({fmt::format("the report {}", report_file), [report_file](const RunTotals& t) {
                         if (!report_file.empty() && t.nothing_to_do.empty()) write_report(report_file, t, t.code);
                     }});
    sinks.push_back({"the metrics", [store, to = metrics::Outputs{metrics_to.textfile_dir, metrics_to.pushgateway_url}](
                                        const RunTotals& t) { write_metrics(store, to, t); }});
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
        auto all = standard_sinks(store.get(), options.report_file, cfg.settings().metrics);
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
    if (store && !options.dry_run) totals.run_id = store->begin_run({totals.job, totals.arguments, totals.shard});

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
