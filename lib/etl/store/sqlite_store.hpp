// The embedded SQLite store: WAL, prepared upserts in one transaction per symbol. A file it cannot use
// (read-only, in a missing directory, not SQLite, corrupt) is a ConfigError (78) naming database_url.
// Opening one writes (the file is created if missing, and switched to WAL): it is for the file
// database_url names. A foreign SQLite file (the input of etl-migrate-sqlite) is read through
// sqlite::Database in Mode::read_only, never through SqliteStore or open_store.
#pragma once

#include "etl/sqlite/database.hpp"
#include "etl/store/store.hpp"

#include <map>

namespace etl::store {

class SqliteStore final : public Store {
public:
    // Opens (creating it if missing) and switches `path` to WAL. Throws ConfigError when the file
    // cannot be used, sqlite::SqliteError otherwise.
    explicit SqliteStore(const std::string& path);
    ~SqliteStore() override;
    SqliteStore(const SqliteStore&) = delete;
    SqliteStore& operator=(const SqliteStore&) = delete;

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
    [[nodiscard]] Dialect dialect() const noexcept override { return Dialect::sqlite; }
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

private:
    // The lock file of try_lock(name), beside the database.
    [[nodiscard]] std::string lock_path(std::string_view name) const;
    // True when no process holds the lock try_lock(name) takes.
    [[nodiscard]] bool lock_is_free(std::string_view name) const;
    // Closes the 'running' rows of run.job whose processes are gone (see Store::begin_run).
    void close_abandoned_runs(const RunStart& run);
    void insert_rejects(std::span<const market::RejectedRecord> rejected, std::optional<market::Timeframe> timeframe,
                        std::int64_t run_id);
    std::size_t write_assets(std::span<const market::Asset> assets, bool overwrite);
    std::int64_t count_window(std::string_view symbol, market::Timeframe timeframe, Window window);

    sqlite::Database m_db;
    std::map<std::string, int, std::less<>> m_lock_fds; // lock name -> open file descriptor holding flock
};

// BEGIN IMMEDIATE on construction, ROLLBACK on destruction unless commit() ran.
class SqliteTransaction {
public:
    explicit SqliteTransaction(sqlite::Database& db);
    SqliteTransaction(const SqliteTransaction&) = delete;
    SqliteTransaction& operator=(const SqliteTransaction&) = delete;
    ~SqliteTransaction();
    void commit();

private:
    sqlite::Database& m_db;
    bool m_done = false;
};

} // namespace etl::store
