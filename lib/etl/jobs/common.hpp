// What every job shares: the common flags, loading configuration from them, signal handling, opening
// the store, the run lock and record, the exit-code decision, the summary and the --report file.
#pragma once

#include "etl/config/config.hpp"
#include "etl/market/calendar.hpp"
#include "etl/market/shard.hpp"
#include "etl/providers/provider.hpp"
#include "etl/store/store.hpp"
#include "etl/util/exit_code.hpp"

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace CLI {
class App;
}

namespace etl::jobs {

// The flags every job takes (SPEC.md section 4).
struct CommonOptions {
    std::string config_file;
    std::string database_url;
    std::string redis_url;
    bool mock = false;
    bool dry_run = false;
    std::string shard;
    std::string log_format;
    std::string log_level;
    std::string report_file;
    bool no_progress = false;
};

// Which of the common flags a command takes beyond --config, --database-url, --log-format and
// --log-level (which every command takes). Jobs take them all; the admin commands (etl assets, db,
// config) only those that do something there.
namespace common_flag {
constexpr unsigned redis_url = 1U << 0;
constexpr unsigned mock = 1U << 1;
constexpr unsigned dry_run = 1U << 2;
constexpr unsigned shard = 1U << 3;
constexpr unsigned report = 1U << 4;
constexpr unsigned no_progress = 1U << 5;
constexpr unsigned all = redis_url | mock | dry_run | shard | report | no_progress;
} // namespace common_flag

// Adds the common flags (`flags`: a set of common_flag bits). A bad --log-format or --log-level value
// is a usage error (64) when parsed; the same value from a file or the environment is a
// configuration error (78, load_config).
void add_common_options(CLI::App& app, CommonOptions& options, unsigned flags = common_flag::all);

// What etl-hourly and etl-latest take besides the common flags.
struct SymbolOptions {
    std::vector<std::string> symbols;
    std::string asset_class;
    bool market_hours_only = false;
};
// Adds [SYMBOL...], --class and --market-hours-only; `what` completes "symbols to ...".
void add_symbol_options(CLI::App& app, SymbolOptions& options, std::string_view what);

// Effective config: file/env/flags as SPEC.md section 4 orders them. Also configures logging.
config::Config load_config(const CommonOptions& options);

// The checks a job makes before it opens the database, so a configuration error is a 78 (or, for a
// flag, a 64) before any work rather than after it: redis_url parses, a PostgreSQL database_url
// parses (pg::check_conninfo), the --report file can be written (UsageError, 64: it is a flag), and,
// when symbols are named, the providers they route to (by --class, else market::guess_asset_class)
// can be used: check_provider_keys. Throws ConfigError or UsageError; opens nothing.
void preflight(const config::Config& cfg, const CommonOptions& options, const std::vector<std::string>& symbols,
               std::optional<market::AssetClass> forced);

// Throws ConfigError when a provider some asset of `assets` routes to (routing.<class>, then
// routing.fallback; nothing with mock) cannot be used, e.g. polygon without POLYGON_API_KEY. A
// fallback without its key is a configuration error too, not a fallback silently dropped. Jobs call
// it on the resolved assets before recording the run or fetching anything.
void check_provider_keys(const config::Config& cfg, const std::vector<market::Asset>& assets);

// database_url: a PostgreSQL connection string must parse as libpq would parse it (pg::check_conninfo),
// so a typo is a ConfigError (78) and not, when connecting, a failure that looks like an outage (75).
// Other schemes are left to store::open_store, which refuses them before connecting.
void check_database_url(const config::Config& cfg);

// --report FILE: UsageError unless FILE can be written (its directory exists and is writable, and FILE
// is not a directory). Nothing is created.
void check_report_path(const std::string& path);

// --shard, else JOB_COMPLETION_INDEX + ETL_SHARD_COUNT, else 0/1. Throws UsageError when malformed.
market::Shard resolve_shard(const CommonOptions& options);

// SIGINT/SIGTERM set a flag instead of killing the process; jobs poll it. They also cancel the
// PostgreSQL statement in flight (store::cancel_statement_in_flight), so a load blocked on a lock stops.
void install_signal_handlers();
const std::atomic<bool>& stop_flag() noexcept;
void request_stop() noexcept;

// TimescaleDB policies and the database.* timeouts from config.
store::StoreOptions store_options(const config::Config& cfg);

// Opens the configured store (with store_options) and applies migrations.
std::unique_ptr<store::Store> open_store(const config::Config& cfg, const std::string& app_name);

// Provider settings for `name` from config, with API keys from the environment.
providers::ProviderSettings provider_settings(const config::Config& cfg, const std::string& name,
                                              market::sys_seconds now, const market::TradingCalendar* calendar);

// The run's tallies, from which the exit code and the summary are derived.
struct RunTotals {
    std::string job;
    std::string arguments;
    std::string shard;
    bool dry_run = false;
    std::int64_t run_id = 0;
    std::string store;
    std::uint64_t symbols_requested = 0;
    std::uint64_t symbols_ok = 0;
    std::uint64_t symbols_failed = 0;
    std::uint64_t symbols_interrupted = 0;
    std::uint64_t failures_transient = 0;
    std::uint64_t failures_config = 0;
    std::uint64_t failures_no_data = 0;
    store::LoadStats rows;
    std::uint64_t bars_valid = 0;
    double max_rejected_ratio = 1.0;
    bool interrupted = false;
    std::string first_config_error;
    std::string error;  // what stopped the run early, "" otherwise
    struct SymbolFailure {
        std::string symbol;
        std::string provider;
        std::string kind;
        std::string error;
    };
    std::vector<SymbolFailure> failures;
    // Named phases and their wall time in seconds ("fetch", "database", "cache"), for the report.
    std::vector<std::pair<std::string, double>> timings;
    std::chrono::system_clock::time_point started = std::chrono::system_clock::now();

    // Counts one failed symbol: failed, by kind (transient, config), and listed with its error.
    void add_failure(const std::string& symbol, const std::string& provider, providers::FailureKind kind,
                     const std::string& message);
    // Counts one symbol the provider answered without any data where some was due (an unknown or
    // delisted ticker): failed, of kind "no data" (exit 1, never 69: the provider is up).
    void add_no_data(const std::string& symbol, const std::string& provider, const std::string& message);
};

// The one place a job's exit code is decided (SPEC.md section 5), in this order: interrupted 130;
// configuration 78; every symbol failed for want of a provider 69; some symbols failed 1; rejected
// records above validation.max_rejected_ratio 65; else 0.
util::ExitCode decide_exit_code(const RunTotals& totals);
store::RunStatus run_status(util::ExitCode code);

// The one-screen summary written to stderr at the end of a run.
std::string summary_text(const RunTotals& totals, util::ExitCode code);
// Writes the --report JSON (atomically: a temp file renamed into place). Throws etl::Error on I/O failure.
void write_report(const std::string& path, const RunTotals& totals, util::ExitCode code);

// Ends a run: finishes its etl_runs row (when it has one; a failure to do so is logged, since the
// store may be what failed), prints the summary, writes the --report file when asked. `error` is
// the error that stopped the run, "" when it ran to the end.
void finish_run(RunTotals& totals, util::ExitCode code, const std::string& error, store::Store* store,
                const std::string& report_file);

// Upper-cased, validated symbols; throws UsageError naming the first malformed one.
std::vector<std::string> normalize_symbols(const std::vector<std::string>& raw);
// --class: nullopt when empty; throws UsageError when not stock, etf, index or crypto.
std::optional<market::AssetClass> parse_class_flag(const std::string& text);

// The assets a job works on: the named symbols (those not in `assets` are fetched as `forced` or their
// guessed class and recorded as inactive assets, unless a dry run), or every active asset when none
// are named; then this shard's share.
std::vector<market::Asset> resolve_assets(const std::vector<std::string>& symbols,
                                          std::optional<market::AssetClass> forced, store::Store& store,
                                          bool dry_run, const market::Shard& shard);

// --market-hours-only with the market closed and symbols named: true when none of them is crypto
// (by --class, by its row in `assets`, or by its guessed class), so the run has nothing to do. It
// writes nothing; `assets` is read only when the database exists (a missing SQLite file stays missing).
bool only_equities_named(const config::Config& cfg, const std::vector<std::string>& symbols,
                         std::optional<market::AssetClass> forced);
// --market-hours-only with the assets resolved: drops stocks/ETFs/indices (logging how many).
void drop_equities(std::vector<market::Asset>& assets);

// The NYSE calendar with the closure overrides: calendar.closures_file when set, else the list that
// ships with market-etl (etc/market-closures.txt, compiled in). Throws ConfigError.
market::TradingCalendar load_calendar(const config::Config& cfg);

// Opens the store, takes the lock of `job` + shard (not in a dry run: it writes nothing) and records
// the run's start. Throws TemporaryError (75) when another run holds the lock.
std::unique_ptr<store::Store> start_run(const config::Config& cfg, RunTotals& totals, bool dry_run);

// Runs `work` (which fills `totals`), then decides the exit code and finishes the run (finish_run).
// An etl::Error thrown by `work` also finishes the run, with that error's code, and is rethrown for
// run_guarded to print.
int execute_run(RunTotals& totals, store::Store* store, const std::string& report_file,
                const std::function<void()>& work);

// The command line as one string, for etl_runs.arguments (keys never appear on command lines).
std::string join_arguments(const std::vector<std::string>& args);

} // namespace etl::jobs
