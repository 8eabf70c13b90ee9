// The store roles every job works through (run ledger, asset catalog, bar sink, quote sink, query),
// implemented for PostgreSQL/TimescaleDB and SQLite. Code takes only the role it needs; a `Store` is all
// of them. Each method that writes is one transaction: a crash or kill never leaves half of it.
// A table only PostgreSQL has gets a role of its own that only PgStore implements, never a method the
// SQLite store would have to fake.
#pragma once

#include "etl/market/asset.hpp"
#include "etl/market/bar.hpp"
#include "etl/market/quote.hpp"
#include "etl/store/schema.hpp"

#include <array>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace etl::store {

struct LoadStats {
    std::uint64_t inserted = 0;
    std::uint64_t updated = 0;
    std::uint64_t unchanged = 0;
    std::uint64_t rejected = 0;
    LoadStats& operator+=(const LoadStats& o) {
        inserted += o.inserted;
        updated += o.updated;
        unchanged += o.unchanged;
        rejected += o.rejected;
        return *this;
    }
};

struct RunStart {
    std::string job;       // "historical", "hourly", ...
    std::string arguments; // the command line as given (never holds secrets: keys come from env)
    std::string shard;     // "K/N"
};

enum class RunStatus { success, partial, failed, interrupted };
std::string_view to_string(RunStatus s) noexcept;

struct RunOutcome {
    RunStatus status = RunStatus::success;
    int exit_code = 0;
    std::uint64_t symbols_requested = 0;
    std::uint64_t symbols_ok = 0;
    std::uint64_t symbols_failed = 0;
    LoadStats rows;
    std::string error; // first line of the failure, "" on success
};

// The window a batch of bars was requested for: [from, to] as instants (daily: 00:00 UTC of the
// first and last session dates).
struct Window {
    market::sys_seconds from;
    market::sys_seconds to;
};

// The run ledger: etl_runs, the run locks, and the rejected records of a run that belong to no load.
class RunLedger {
public:
    virtual ~RunLedger() = default;

    // Takes the process-lifetime lock `name` without waiting; false when another process holds it.
    virtual bool try_lock(std::string_view name) = 0;

    // Records a new run and returns its id. The caller holds the lock run_lock_name(job, shard).
    // Runs of the same job still marked 'running' are closed as 'failed' first when their process is
    // gone (killed, crashed, out of memory, cut off from the database) without recording an outcome:
    // those of this shard always (the caller holds their lock), those of other shards when nothing
    // holds their shard's lock. A run that is alive holds its lock, so it is never closed.
    virtual std::int64_t begin_run(const RunStart& run) = 0;
    virtual void finish_run(std::int64_t run_id, const RunOutcome& outcome) = 0;

    // Records rejects that belong to no load (a symbol whose fetch failed after some rejects, a latest
    // price that failed validation: timeframe nullopt).
    virtual void record_rejects(std::span<const market::RejectedRecord> rejected,
                                std::optional<market::Timeframe> timeframe, std::int64_t run_id) = 0;
};

// The asset catalog: the assets table.
class AssetCatalog {
public:
    virtual ~AssetCatalog() = default;

    virtual std::vector<market::Asset> list_assets(bool active_only) = 0;
    virtual std::optional<market::Asset> find_asset(std::string_view symbol) = 0;
    // Inserts or updates assets by symbol. Returns how many rows were new.
    virtual std::size_t upsert_assets(std::span<const market::Asset> assets) = 0;
    // Inserts assets that do not exist yet; existing rows are left alone. Returns how many were new.
    virtual std::size_t insert_missing_assets(std::span<const market::Asset> assets) = 0;
};

// Where bars go: price_bars, with the records rejected for them.
class BarSink {
public:
    virtual ~BarSink() = default;

    // Loads one symbol's bars for `window` and the records rejected for it, in one transaction:
    // an upsert that changes only rows whose values differ. `bars` must be unique by ts and inside
    // `window`.
    virtual LoadStats load_bars(std::string_view symbol, market::Timeframe timeframe, Window window,
                                std::span<const market::Bar> bars, std::span<const market::RejectedRecord> rejected,
                                std::int64_t run_id) = 0;
};

// Where quotes go: latest_prices.
class QuoteSink {
public:
    virtual ~QuoteSink() = default;

    // Upserts latest_prices (one transaction); rows whose values did not change are left alone.
    // Returns how many rows were inserted, updated and left unchanged.
    virtual LoadStats upsert_latest_prices(std::span<const market::Quote> quotes) = 0;
};

// One bar's row of indicator_bars: a value per k_indicator_columns entry, nullopt while that indicator is
// still warming up (a bar where none is warm has no row).
struct IndicatorBar {
    market::sys_seconds ts;
    std::array<std::optional<double>, schema::k_indicator_columns.size()> values;
};

// A symbol and an instant (a bar of it).
struct SymbolInstant {
    std::string symbol;
    market::sys_seconds ts;
};

// See IndicatorTable::derive_resume.
struct DeriveResume {
    std::optional<market::sys_seconds> last_indicator;
    std::string closes; // derive_closes.closes: the older closes
    std::string recent; // derive_closes.recent: the closes after them
};

// One symbol's part of IndicatorTable::replace_indicators.
struct IndicatorWrite {
    std::string symbol;
    std::optional<market::sys_seconds> from;
    std::vector<IndicatorBar> bars;
    // derive_closes: with `closes`, the row is replaced by (closes, recent), or deleted when both are empty;
    // without, only its `recent` is replaced (the stored `closes` are still the symbol's older closes).
    std::optional<std::string> closes;
    std::string recent;
};

// The indicators (indicator_bars, one row per bar; `indicators` is its view by name): what etl derive (and
// derive.enabled after a load) reads back and writes.
class IndicatorTable {
public:
    virtual ~IndicatorTable() = default;

    // The newest bar of `symbol` and `timeframe` that has indicators; nullopt when none has.
    virtual std::optional<market::sys_seconds> last_indicator_ts(std::string_view symbol,
                                                                 market::Timeframe timeframe) = 0;
    // The indicators stored for that bar, with their values exactly as written; nullopt when it has none.
    virtual std::optional<IndicatorBar> indicators_at(std::string_view symbol, market::Timeframe timeframe,
                                                      market::sys_seconds ts) = 0;

    // What a derive of many symbols reads first, one entry per symbol of `symbols`, in their order: the
    // newest bar of each that has indicators, and the closes stored with them (derive_closes; the bytes
    // derive/closes.hpp packs, empty when none are stored). One statement on PostgreSQL.
    virtual std::vector<DeriveResume> derive_resume(std::span<const std::string> symbols,
                                                    market::Timeframe timeframe) = 0;
    // The indicators stored for each bar of `at` (in its order), with their values exactly as written;
    // nullopt for a bar that has none. One statement on PostgreSQL.
    virtual std::vector<std::optional<IndicatorBar>> indicators_at(std::span<const SymbolInstant> at,
                                                                   market::Timeframe timeframe) = 0;
    // Calls each(index into `from`, epoch seconds of ts, close as a double) for every stored bar of
    // from[i].symbol and `timeframe` at or after from[i].ts that passes schema::valid_bar_sql, ordered by
    // index and ts: the bars a derive of many symbols goes on with, in one statement on PostgreSQL. A close
    // no double holds reads as NaN.
    virtual void for_each_valid_close_from(std::span<const SymbolInstant> from, market::Timeframe timeframe,
                                           const std::function<void(std::size_t, std::int64_t, double)>& each) = 0;

    // For each write, replaces the indicators of its symbol and `timeframe` at the bars from its `from` on
    // (at every bar when nullopt) with its `bars` (in ts order, unique), and the closes stored with them
    // (derive_closes, see IndicatorWrite): all writes in one transaction. Returns how many values (non-NULL
    // cells) were written.
    virtual std::uint64_t replace_indicators(market::Timeframe timeframe, std::span<const IndicatorWrite> writes) = 0;
};

// One value of a query row as text; nullopt is NULL.
using Value = std::optional<std::string>;
using Row = std::vector<Value>;

// The rows a query gave, every value as text (numbers as the database prints them).
struct Rows {
    std::vector<std::string> columns;
    std::vector<Row> rows;
};

// Reading the store with SQL, on either store (etl-validate): the caller writes the SQL for dialect().
class Query {
public:
    virtual ~Query() = default;

    [[nodiscard]] virtual Dialect dialect() const noexcept = 0;
    // Runs one statement with the parameters $1, $2, ... (used in order of first appearance: see
    // schema.hpp) and returns all its rows. Throws pg::DbError / sqlite::SqliteError.
    virtual Rows rows(std::string_view sql, const std::vector<Value>& params = {}) = 0;
    // Creates the temporary table `name` (dropped first if it exists) with text columns `columns` and
    // loads `rows` into it (COPY on PostgreSQL, one transaction of prepared inserts on SQLite), for
    // comparing data with the store's tables in SQL. It lives as long as the store. `name` and
    // `columns` are quoted here, so any text is safe. Returns how many rows were loaded.
    virtual std::uint64_t load_temp_table(std::string_view name, std::span<const std::string> columns,
                                          std::span<const Row> rows) = 0;
    // Calls each(epoch seconds of ts, close as a double) for every stored bar of `symbol` and
    // `timeframe` inside `window` (with `valid_only`, those that pass schema::valid_bar_sql), in no
    // particular order, without copying the rows: what a per-symbol checksum of closes reads
    // (etl-migrate-sqlite's and etl-validate's parity). A close no double holds reads as NaN.
    virtual void for_each_close(std::string_view symbol, market::Timeframe timeframe, Window window, bool valid_only,
                                const std::function<void(std::int64_t, double)>& each) = 0;
    // Calls each(symbol, epoch seconds of ts, close as a double, epoch seconds of ingested_at) for every stored
    // bar of `timeframe` inside `window` of each of `symbols`, ordered by symbol and ts: one read for a whole
    // run's plan (etl-historical's incremental fetch: what each symbol already holds, and whether a bar was
    // written before its day closed). Valid or not, every stored row counts.
    virtual void
    for_each_stored_close(std::span<const std::string> symbols, market::Timeframe timeframe, Window window,
                          const std::function<void(std::string_view, std::int64_t, double, std::int64_t)>& each) = 0;
};

// Every role, as open_store() gives it: what a job that records a run and loads data holds.
class Store : public RunLedger,
              public AssetCatalog,
              public BarSink,
              public QuoteSink,
              public IndicatorTable,
              public Query {
public:
    ~Store() override = default;

    // "postgresql (plain)", "postgresql (timescaledb 2.14)", "sqlite:/path/market-etl.db"
    [[nodiscard]] virtual std::string describe() const = 0;

    // Applies pending sql/ migrations (idempotent, never destructive); returns the names applied.
    virtual std::vector<std::string> migrate() = 0;
};

// Settings that only some stores use.
struct StoreOptions {
    int compress_after_days = 30; // TimescaleDB compression policy; 0 = no policy
    int retention_days = 0;       // TimescaleDB retention policy; 0 = keep everything
    // PostgreSQL session settings (seconds, 0 = no limit): a statement waiting longer than this for a
    // lock another session holds, or running longer than this, fails with a TemporaryError (75)
    // naming the table and the setting.
    int lock_timeout_seconds = 60;
    int statement_timeout_seconds = 1800;
};

// The name of the lock (Store::try_lock) a run of `job` and `shard` holds while it runs: "job:shard".
std::string run_lock_name(std::string_view job, std::string_view shard);

// For SIGINT/SIGTERM handlers (async-signal-safe): cancels the statement the last opened PostgreSQL
// store is running, so a job waiting on a lock stops at once. The store call in progress throws an
// Error whose code() is interrupted (130) after rolling its transaction back; finish_run() is never
// cancelled. SQLite stores: nothing (a busy SQLite file is waited on for at most 10 s).
void cancel_statement_in_flight() noexcept;

// Opens the store named by `url`: postgresql://... or postgres://... (or a libpq conninfo with '='),
// or sqlite:PATH. `app_name` names the connection in pg_stat_activity. Throws ConfigError for an
// unknown scheme or an SQLite file that cannot be used (read-only, missing directory, not SQLite,
// corrupt), pg::DbError / sqlite::SqliteError for other failures to open it.
// Opening writes: an SQLite file is created if missing and switched to WAL. A file that is someone
// else's input (the file etl-migrate-sqlite reads) is opened with sqlite::Database in Mode::read_only,
// never through open_store.
std::unique_ptr<Store> open_store(const std::string& url, const std::string& app_name,
                                  const StoreOptions& options = {});

// PATH of a sqlite:PATH url (sqlite:rel, sqlite:/abs, sqlite:///abs); nullopt for other urls.
std::optional<std::string> sqlite_path(std::string_view url);

} // namespace etl::store
