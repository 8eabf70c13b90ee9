// The PostgreSQL/TimescaleDB store: COPY-based bulk loads, merges that touch only changed rows.
#pragma once

#include "etl/pg/connection.hpp"
#include "etl/store/store.hpp"

#include <memory>
#include <string_view>

namespace etl::store {

class PgStore final : public Store {
public:
    PgStore(const std::string& url, const std::string& app_name, const StoreOptions& options);

    [[nodiscard]] std::string describe() const override;
    std::vector<std::string> migrate() override;
    bool try_lock(std::string_view name) override;
    std::int64_t begin_run(const RunStart& run) override;
    void finish_run(std::int64_t run_id, const RunOutcome& outcome) override;
    LoadStats load_bars(std::string_view symbol, market::Timeframe timeframe, Window window,
                        std::span<const market::Bar> bars, std::span<const market::RejectedRecord> rejected,
                        std::int64_t run_id) override;
    void record_rejects(std::span<const market::RejectedRecord> rejected, std::optional<market::Timeframe> timeframe,
                        std::int64_t run_id) override;
    LoadStats upsert_latest_prices(std::span<const market::Quote> quotes) override;
    std::vector<market::Asset> list_assets(bool active_only) override;
    std::optional<market::Asset> find_asset(std::string_view symbol) override;
    std::size_t upsert_assets(std::span<const market::Asset> assets) override;
    std::size_t insert_missing_assets(std::span<const market::Asset> assets) override;
    [[nodiscard]] Dialect dialect() const noexcept override { return Dialect::postgres; }
    Rows rows(std::string_view sql, const std::vector<Value>& params = {}) override;
    void for_each_close(std::string_view symbol, market::Timeframe timeframe, Window window, bool valid_only,
                        const std::function<void(std::int64_t, double)>& each) override;
    void for_each_stored_close(
        std::span<const std::string> symbols, market::Timeframe timeframe, Window window,
        const std::function<void(std::string_view, std::int64_t, double, std::int64_t)>& each) override;
    std::optional<market::sys_seconds> last_indicator_ts(std::string_view symbol, market::Timeframe timeframe) override;
    std::optional<IndicatorBar> indicators_at(std::string_view symbol, market::Timeframe timeframe,
                                              market::sys_seconds ts) override;
    std::vector<DeriveResume> derive_resume(std::span<const std::string> symbols, market::Timeframe timeframe) override;
    std::vector<std::optional<IndicatorBar>> indicators_at(std::span<const SymbolInstant> at,
                                                           market::Timeframe timeframe) override;
    void for_each_valid_close_from(std::span<const SymbolInstant> from, market::Timeframe timeframe,
                                   const std::function<void(std::size_t, std::int64_t, double)>& each) override;
    std::uint64_t replace_indicators(market::Timeframe timeframe, std::span<const IndicatorWrite> writes) override;
    std::uint64_t load_temp_table(std::string_view name, std::span<const std::string> columns,
                                  std::span<const Row> rows) override;

    // The timescaledb extension's version once migrate() has enabled it; "" on plain PostgreSQL.
    [[nodiscard]] const std::string& timescaledb_version() const noexcept { return m_timescaledb; }
    pg::Connection& connection() noexcept { return m_conn; }
    // Another session to the same database, set up as this one (time zone, timeouts, synchronous_commit
    // off), for a second writer of disjoint rows (etl-migrate-sqlite's bar loaders). It runs no
    // migration and takes no lock. It never becomes the signal-cancel target: SIGINT/SIGTERM cancel
    // this store's statements all along, also while the sibling connects (the caller cancels the
    // sibling's with connection().cancel_running() once it sees the stop flag). `role` is added to the
    // application name. Throws pg::DbError as the constructor (75 when the server refuses the connection).
    std::unique_ptr<PgStore> open_sibling(std::string_view role);
    // etl-migrate-sqlite's bulk load (migrate/bulk.hpp), while price_bars has no primary key: `bars` COPY
    // straight into price_bars (binary when every number is a plain decimal) with no read of their window (nothing is
    // there to compare with: the table was empty when the bulk load began), the indicators from the first bar on
    // dropped, and the rejects recorded, in one transaction. Every bar counts as inserted; a duplicate of a row already
    // loaded is removed when the key is built (migrate::restore_primary_key). Throws pg::DbError.
    LoadStats append_bars(std::string_view symbol, market::Timeframe timeframe, std::span<const market::Bar> bars,
                          std::span<const market::RejectedRecord> rejected, std::int64_t run_id);

private:
    // The constructor's work; the signal-cancel target is this store's connection when `signal_target`.
    struct SiblingTag {};
    PgStore(SiblingTag, const std::string& url, const std::string& app_name, const StoreOptions& options);
    void set_up_session(bool signal_target);
    // load_bars' one attempt (one transaction).
    LoadStats load_bars_once(std::string_view symbol, market::Timeframe timeframe, Window window,
                             std::span<const market::Bar> bars, std::span<const market::RejectedRecord> rejected,
                             std::int64_t run_id);

    struct TimescaleProbe {
        std::optional<std::string> installed; // extversion in this database
        bool available = false;               // the server has the extension's files
        bool preloaded = false;               // the loader is in shared_preload_libraries
        bool superuser = false;
        std::string database;
        std::string role;
    };
    // What the server and database say about TimescaleDB, read from the catalogs only. Throws
    // ConfigError when the database already uses the extension and the server does not preload it.
    TimescaleProbe probe_timescaledb();
    // Enables TimescaleDB when the server can run it (preloaded, and the role may create the
    // extension); returns its version, or "" for plain tables (with a warning that names the fix when
    // it is installed but unusable).
    std::string enable_timescaledb(const TimescaleProbe& probe);
    // Makes the compression policy and the hourly retention job match timescaledb.compress_after_days
    // and timescaledb.retention_days (added, replaced or removed).
    void sync_compression_policy();
    void sync_hourly_retention();
    // Closes the 'running' rows of run.job whose processes are gone (see Store::begin_run).
    void close_abandoned_runs(const RunStart& run);
    void copy_rejects(std::span<const market::RejectedRecord> rejected, std::optional<market::Timeframe> timeframe,
                      std::int64_t run_id);
    // COPY `bars` into `table` (price_bars or staging_bars).
    void copy_bars(std::string_view table, std::span<const market::Bar* const> bars, const std::string& context);
    // Staged upsert of `bars`; returns (inserted, updated).
    std::pair<std::uint64_t, std::uint64_t> merge_bars(std::span<const market::Bar* const> bars,
                                                       const std::string& context);
    std::size_t write_assets(std::span<const market::Asset> assets, bool overwrite);

    std::string m_url;      // for open_sibling()
    std::string m_app_name; // for open_sibling()
    pg::Connection m_conn;
    StoreOptions m_options;
    std::string m_timescaledb;
    bool m_staging_ready = false;
};

} // namespace etl::store
