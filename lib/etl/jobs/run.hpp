// The one scaffold every job runs through. A command describes itself (RunSpec: its name, what it
// needs, its hooks, its work and its exit rule); run_job does the rest in one order: config and its
// checks, the calendar, the store and the run lock, the assets, the etl_runs row, the work, then the
// epilogue, where the exit rule gives a verdict, exit_code() the code, and the sinks (the etl_runs
// row, the summary, the --report file) read the outcome. A "nothing to do" end takes the same epilogue.
#pragma once

#include "etl/config/config.hpp"
#include "etl/jobs/options.hpp"
#include "etl/jobs/totals.hpp"
#include "etl/market/asset.hpp"
#include "etl/market/calendar.hpp"
#include "etl/market/shard.hpp"
#include "etl/store/store.hpp"
#include "etl/util/exit_code.hpp"

#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace etl::jobs {

// What the scaffold has set up, as the hooks and the work see it. Owned by run_job for the run.
struct RunContext {
    const config::Config& cfg;
    const CommonOptions& options;
    market::sys_seconds now;                 // the run's clock (ETL_NOW in tests), read once
    const market::TradingCalendar& calendar; // the built-in rules only, unless RunSpec::needs_calendar
    market::Shard shard;
    RunTotals& totals;                 // the outcome the work fills and the sinks read
    store::Store* store = nullptr;     // set once opened (RunSpec::needs_store); open in a dry run too
    std::vector<market::Asset> assets; // set once resolved (RunSpec::resolves_assets)
};

// A hook that may end the run with nothing to do: returns the one line that says why, or nullopt to
// go on. Errors are thrown (etl::Error) as anywhere else.
using SkipHook = std::function<std::optional<std::string>(RunContext&)>;

// A command's exit rule: the verdict its tallies give (symbol_verdict for the jobs that fetch symbols).
using ExitRule = std::function<Verdict(const RunTotals&)>;

// One part of the epilogue: writes the outcome somewhere. A sink that throws is logged as one warning
// naming it and never changes the exit code; the sinks after it still run.
struct Sink {
    std::string name; // what it writes, for that warning: "the etl_runs row", "the report"
    std::function<void(const RunTotals&)> write;
};

struct RunSpec {
    std::string job;                  // "etl-historical": the run lock, etl_runs.job, the summary
    bool needs_calendar = true;       // load the NYSE calendar (load_calendar) before the store
    bool needs_store = true;          // open the store, take the run lock, record the run in etl_runs
    bool resolves_assets = true;      // the named symbols or every active asset, this shard's share (needs the store)
    std::vector<std::string> symbols; // named on the command line (normalize_symbols)
    std::optional<market::AssetClass> forced; // --class
    std::string no_assets_hint;               // appended to "nothing to do: no active symbols for shard K/N"

    // Hooks, each optional, in the order run_job calls them:
    SkipHook before_store;                          // checks that need config and calendar, before anything is opened
    std::function<void(RunContext&)> before_assets; // the store is open and locked, nothing recorded yet
    SkipHook after_assets;                          // the assets are resolved; the run is not recorded yet
    std::function<void(RunContext&)> work;          // the run is recorded; fills RunContext::totals
    ExitRule exit_rule = symbol_verdict;
    std::vector<Sink> extra_sinks; // run after the standard ones
};

// Runs `spec` (args: the command line, args[0] the program name) and returns the exit code. An
// etl::Error from the work also runs the epilogue, with that error's code and message, and is
// rethrown for run_guarded to print; one thrown before the run is recorded just propagates.
int run_job(const RunSpec& spec, const std::vector<std::string>& args, const CommonOptions& options);

// The sinks every run has, in order: the etl_runs row (when the run has one), the summary on stderr
// (or, for a run with nothing to do, its one line), the --report file (when asked; not for a run with
// nothing to do, which is not recorded either), the metrics (metrics.textfile_dir and
// metrics.pushgateway_url, when set; not for a dry run), the alert (alerts.webhook_url, when set: a failed
// run, or a success after a failure read from etl_runs; not for a dry run; see alerts/alert.hpp).
std::vector<Sink> standard_sinks(store::Store* store, const std::string& report_file,
                                 const config::Settings::Metrics& metrics_to = {},
                                 const config::Settings::Alerts& alerts_to = {});

// The epilogue: sets the outcome's code and error ("" when the run ended normally), runs every sink
// (a failing one is one warning), and returns `code` unchanged.
util::ExitCode end_run(RunTotals& outcome, util::ExitCode code, const std::string& error,
                       const std::vector<Sink>& sinks);

} // namespace etl::jobs
