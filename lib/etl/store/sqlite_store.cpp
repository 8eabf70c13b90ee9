#include "etl/store/sqlite_store.hpp"

#include "etl/providers/registry.hpp"
#include "etl/store/migrations.hpp"
#include "etl/util/clock.hpp"
#include "etl/util/error.hpp"
#include "etl/util/log.hpp"
#include "etl/util/secrets.hpp"

#include <fmt/format.h>
#include <sys/file.h>
#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <map>
#include <thread>

namespace etl::store {
namespace {

std::string ts_text(market::sys_seconds t) { return util::format_instant(t); }

constexpr std::string_view k_abandoned_run_error =
    "the process ended without recording an outcome (killed or crashed)";

// An SQLite error that means database_url names a file this job cannot use, as one line naming it and
// the fix: a ConfigError (78), since retrying cannot help until someone changes the file, its
// directory or the setting. Returns for any other error, for the caller to rethrow as it is.
void throw_if_unusable(const sqlite::SqliteError& e, const std::string& path) {
    if (e.is_read_only())
        throw ConfigError(fmt::format("database_url sqlite:{} is read-only ({}): make the file and its directory "
                                      "writable for this user (SQLite writes {}-wal and {}-shm beside it), or point "
                                      "database_url at a writable file",
                                      path, e.reason(), path, path));
    if (e.is_unopenable()) {
        auto dir = std::filesystem::path(path).parent_path().string();
        if (dir.empty()) dir = ".";
        throw ConfigError(fmt::format("database_url sqlite:{} cannot be opened ({}): create the directory {} or make "
                                      "it writable for this user, or fix database_url",
                                      path, e.reason(), dir));
    }
    if (e.is_damaged())
        throw ConfigError(fmt::format("database_url sqlite:{} is not an SQLite database or is corrupt ({}): point "
                                      "database_url at the right file, or move this one aside (a new one is "
                                      "created) or restore it from a backup",
                                      path, e.reason()));
}

std::optional<std::string> opt(const std::string& s) {
    if (s.empty()) return std::nullopt;
    return s;
}

std::optional<std::string> opt_decimal(const std::optional<market::Decimal>& d) {
    if (!d) return std::nullopt;
    return d->text;
}

// A column name as an SQL identifier: in double quotes, inner quotes doubled.
std::string quote_identifier(std::string_view name) {
    std::string out = "\"";
    for (char c : name) out += c == '"' ? std::string("\"\"") : std::string(1, c);
    return out + "\"";
}

// The SELECT asset_from_row reads: one identifier column per provider that names assets its own way
// (its registry row's column), in registry order.
std::string asset_select() {
    std::string identifiers;
    for (const auto& row : providers::registry())
        if (!row.identifier.column.empty())
            identifiers += fmt::format("coalesce({}, ''), ", quote_identifier(row.identifier.column));
    return fmt::format("SELECT symbol, name, asset_class, exchange, currency, {}active FROM assets", identifiers);
}

market::Asset asset_from_row(const sqlite::Statement& s) {
    market::Asset a;
    a.symbol = s.text(0);
    a.name = s.text(1);
    a.asset_class = market::parse_asset_class(s.text(2)).value_or(market::AssetClass::stock);
    a.exchange = s.text(3);
    a.currency = s.text(4);
    int col = 5;
    for (const auto& row : providers::registry()) {
        if (row.identifier.column.empty()) continue;
        if (auto id = s.text(col++); !id.empty()) a.identifiers[std::string(row.name)] = std::move(id);
    }
    a.active = s.integer(col) != 0;
    return a;
}

} // namespace

SqliteTransaction::SqliteTransaction(sqlite::Database& db) : m_db(db) { m_db.exec("BEGIN IMMEDIATE"); }
SqliteTransaction::~SqliteTransaction() {
    if (m_done) return;
    try {
        m_db.exec("ROLLBACK");
    } catch (...) {  // the error that unwound us says more
    }
}
void SqliteTransaction::commit() {
    m_db.exec("COMMIT");
    m_done = true;
}

SqliteStore::SqliteStore(const std::string& path) try : m_db(path, sqlite::Database::Mode::read_write_create) {
    // WAL lets readers (dashboards, etl-validate) read while a job writes; NORMAL sync is durable at
    // every checkpoint and safe against application crashes, which is what a re-runnable job needs.
    // Switching a new file to WAL needs an exclusive lock and SQLite's busy handler does not wait for
    // it, so two jobs starting together on a fresh file retry here (10 s, like the busy timeout).
    for (int attempt = 0;; ++attempt) {
        try {
            m_db.exec("PRAGMA journal_mode = WAL");
            break;
        } catch (const sqlite::SqliteError& e) {
            if (!e.is_busy() || attempt >= 200) throw;
            std::this_thread::sleep_for(std::chrono::milliseconds{50});
        }
    }
    m_db.exec("PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON");
} catch (const sqlite::SqliteError& e) {
    throw_if_unusable(e, path);
    throw;
}

SqliteStore::~SqliteStore() {
    for (const auto& [name, fd] : m_lock_fds) close(fd);
}

std::string SqliteStore::describe() const { return fmt::format("sqlite:{}", m_db.path()); }

std::vector<std::string> SqliteStore::migrate() try {
    std::vector<std::string> applied;
    SqliteTransaction tx(m_db);
    m_db.exec("CREATE TABLE IF NOT EXISTS schema_migrations (version TEXT PRIMARY KEY NOT NULL, "
              "applied_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%SZ', 'now')))");
    for (const auto& m : migrations_for("sqlite")) {
        auto check = m_db.prepare("SELECT 1 FROM schema_migrations WHERE version = ?");
        check.bind(1, m.name);
        if (check.step()) continue;
        m_db.exec(m.content);
        auto ins = m_db.prepare("INSERT INTO schema_migrations (version) VALUES (?)");
        ins.bind(1, m.name);
        ins.step();
        applied.emplace_back(m.name);
    }
    tx.commit();
    return applied;
} catch (const sqlite::SqliteError& e) {
    throw_if_unusable(e, m_db.path());
    throw;
}

std::string SqliteStore::lock_path(std::string_view name) const {
    std::string safe(name);
    for (auto& c : safe)
        if (c == '/' || c == ' ') c = '-';
    return fmt::format("{}.{}.lock", m_db.path(), safe);
}

bool SqliteStore::try_lock(std::string_view name) {
    // One lock file per job and shard beside the database; flock is released when the process dies,
    // so a killed run never leaves a stale lock. The file itself is never deleted (that would race).
    const std::string lock_path = this->lock_path(name);
    const int fd = open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) {
        const int err = errno;
        if (err == EACCES || err == EPERM || err == EROFS)
            throw ConfigError(fmt::format("cannot create the lock file {} beside database_url sqlite:{} ({}): make "
                                          "the directory writable for this user, or point database_url elsewhere",
                                          lock_path, m_db.path(), std::strerror(err)));
        throw TemporaryError(fmt::format("cannot open lock file {} ({})", lock_path, std::strerror(err)));
    }
    if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
        close(fd);
        return false;
    }
    m_lock_fds.emplace(std::string(name), fd);
    return true;
}

bool SqliteStore::lock_is_free(std::string_view name) const {
    // flock cannot be asked who holds a lock, only be tried: a shared lock for a moment. A run of that
    // shard starting in that moment exits 75 as if one were running; its next scheduled run goes ahead.
    const int fd = open(lock_path(name).c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return false;  // no lock file (someone deleted it): the process may be alive, leave its row alone
    const bool free = flock(fd, LOCK_SH | LOCK_NB) == 0;
    close(fd);  // releases the shared lock
    return free;
}

void SqliteStore::close_abandoned_runs(const RunStart& run) {
    // This shard's: the caller holds its lock, so their processes are gone.
    auto abandoned = m_db.prepare(
        "UPDATE etl_runs SET status = 'failed', finished_at = strftime('%Y-%m-%dT%H:%M:%SZ', 'now'), error = ? "
        "WHERE job = ? AND shard = ? AND status = 'running'");
    abandoned.bind(1, k_abandoned_run_error);
    abandoned.bind(2, run.job);
    abandoned.bind(3, run.shard);
    abandoned.step();
    // Other shards': the rows are read before the locks are tried. A run takes its lock before it
    // records itself and keeps it until it has recorded its end, so a row read first whose shard's
    // lock is free afterwards belongs to a process that is gone. (A run of that shard starting in
    // between inserts a row this one never saw.)
    auto select = m_db.prepare("SELECT id, shard FROM etl_runs WHERE job = ? AND shard <> ? AND status = 'running'");
    select.bind(1, run.job);
    select.bind(2, run.shard);
    std::vector<std::pair<std::int64_t, std::string>> running;
    while (select.step()) running.emplace_back(select.integer(0), std::string(select.text(1)));
    std::map<std::string, bool, std::less<>> gone;  // shard -> nothing holds its lock
    auto close_run = m_db.prepare(
        "UPDATE etl_runs SET status = 'failed', finished_at = strftime('%Y-%m-%dT%H:%M:%SZ', 'now'), error = ? "
        "WHERE id = ? AND status = 'running'");
    for (const auto& [id, shard] : running) {
        auto it = gone.find(shard);
        if (it == gone.end()) it = gone.emplace(shard, lock_is_free(run_lock_name(run.job, shard))).first;
        if (!it->second) continue;
        close_run.bind(1, k_abandoned_run_error);
        close_run.bind(2, id);
        close_run.step();
        close_run.reset();
        util::log_warn("run {} of {} (shard {}) ended without recording an outcome; closed as failed", id, run.job,
                       shard);
    }
}

std::int64_t SqliteStore::begin_run(const RunStart& run) try {
    close_abandoned_runs(run);
    char host[256] = {};
    gethostname(host, sizeof host - 1);
    auto s = m_db.prepare("INSERT INTO etl_runs (job, arguments, shard, host, pid) VALUES (?, ?, ?, ?, ?) RETURNING id");
    s.bind(1, run.job);
    s.bind(2, run.arguments);
    s.bind(3, run.shard);
    s.bind(4, std::string_view(host));
    s.bind(5, static_cast<std::int64_t>(getpid()));
    s.step();
    return s.integer(0);
} catch (const sqlite::SqliteError& e) {
    throw_if_unusable(e, m_db.path());
    throw;
}

void SqliteStore::finish_run(std::int64_t run_id, const RunOutcome& o) try {
    auto s = m_db.prepare(
        "UPDATE etl_runs SET finished_at = strftime('%Y-%m-%dT%H:%M:%SZ', 'now'), status = ?, exit_code = ?, "
        "symbols_requested = ?, symbols_ok = ?, symbols_failed = ?, rows_inserted = ?, rows_updated = ?, "
        "rows_unchanged = ?, rows_rejected = ?, error = ? WHERE id = ?");
    s.bind(1, to_string(o.status));
    s.bind(2, static_cast<std::int64_t>(o.exit_code));
    s.bind(3, static_cast<std::int64_t>(o.symbols_requested));
    s.bind(4, static_cast<std::int64_t>(o.symbols_ok));
    s.bind(5, static_cast<std::int64_t>(o.symbols_failed));
    s.bind(6, static_cast<std::int64_t>(o.rows.inserted));
    s.bind(7, static_cast<std::int64_t>(o.rows.updated));
    s.bind(8, static_cast<std::int64_t>(o.rows.unchanged));
    s.bind(9, static_cast<std::int64_t>(o.rows.rejected));
    s.bind_optional(10, opt(o.error));
    s.bind(11, run_id);
    s.step();
} catch (const sqlite::SqliteError& e) {
    throw_if_unusable(e, m_db.path());
    throw;
}

void SqliteStore::insert_rejects(std::span<const market::RejectedRecord> rejected, std::optional<market::Timeframe> timeframe,
                                 std::int64_t run_id) {
    if (rejected.empty()) return;
    auto s = m_db.prepare("INSERT INTO rejected_rows (run_id, source, symbol, timeframe, raw, reason) VALUES (?, ?, ?, ?, ?, ?)");
    for (const auto& r : rejected) {
        s.bind(1, run_id);
        s.bind(2, r.source);
        s.bind(3, r.symbol);
        if (timeframe) s.bind(4, market::to_code(*timeframe));
        else s.bind_null(4);
        // A provider may echo a key inside a bad record: rejects are scrubbed like logs.
        s.bind(5, util::scrub(r.raw));
        s.bind(6, util::scrub(r.reason));
        s.step();
        s.reset();
    }
}

void SqliteStore::record_rejects(std::span<const market::RejectedRecord> rejected, std::optional<market::Timeframe> timeframe,
                                 std::int64_t run_id) try {
    if (rejected.empty()) return;
    SqliteTransaction tx(m_db);
    insert_rejects(rejected, timeframe, run_id);
    tx.commit();
} catch (const sqlite::SqliteError& e) {
    throw_if_unusable(e, m_db.path());
    throw;
}

std::int64_t SqliteStore::count_window(std::string_view symbol, market::Timeframe timeframe, Window window) {
    auto s = m_db.prepare("SELECT count(*) FROM price_bars WHERE symbol = ? AND timeframe = ? AND ts >= ? AND ts <= ?");
    s.bind(1, symbol);
    s.bind(2, market::to_code(timeframe));
    s.bind(3, ts_text(window.from));
    s.bind(4, ts_text(window.to));
    s.step();
    return s.integer(0);
}

LoadStats SqliteStore::load_bars(std::string_view symbol, market::Timeframe timeframe, Window window,
                                 std::span<const market::Bar> bars, std::span<const market::RejectedRecord> rejected,
                                 std::int64_t run_id) try {
    LoadStats stats;
    stats.rejected = rejected.size();
    SqliteTransaction tx(m_db);
    if (!bars.empty()) {
        const auto before = count_window(symbol, timeframe, window);
        // The WHERE clause makes an unchanged row a no-op (sqlite3_changes() == 0), so a re-run writes
        // nothing and the counts tell inserted/updated/unchanged apart.
        auto s = m_db.prepare(
            "INSERT INTO price_bars (symbol, timeframe, ts, open, high, low, close, volume, vwap, trade_count, source)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
            " ON CONFLICT (symbol, timeframe, ts) DO UPDATE SET open = excluded.open, high = excluded.high,"
            " low = excluded.low, close = excluded.close, volume = excluded.volume, vwap = excluded.vwap,"
            " trade_count = excluded.trade_count, source = excluded.source,"
            " ingested_at = strftime('%Y-%m-%dT%H:%M:%SZ', 'now')"
            " WHERE price_bars.open IS NOT excluded.open OR price_bars.high IS NOT excluded.high"
            " OR price_bars.low IS NOT excluded.low OR price_bars.close IS NOT excluded.close"
            " OR price_bars.volume IS NOT excluded.volume OR price_bars.vwap IS NOT excluded.vwap"
            " OR price_bars.trade_count IS NOT excluded.trade_count OR price_bars.source IS NOT excluded.source");
        std::uint64_t changed = 0;
        for (const auto& b : bars) {
            s.bind(1, b.symbol);
            s.bind(2, market::to_code(b.timeframe));
            s.bind(3, ts_text(b.ts));
            s.bind(4, b.open.text);
            s.bind(5, b.high.text);
            s.bind(6, b.low.text);
            s.bind(7, b.close.text);
            s.bind_optional(8, opt_decimal(b.volume));
            s.bind_optional(9, opt_decimal(b.vwap));
            if (b.trade_count) s.bind(10, *b.trade_count);
            else s.bind_null(10);
            s.bind(11, b.source);
            s.step();
            changed += static_cast<std::uint64_t>(m_db.changes());
            s.reset();
        }
        const auto after = count_window(symbol, timeframe, window);
        stats.inserted = static_cast<std::uint64_t>(after - before);
        stats.updated = changed - stats.inserted;
        stats.unchanged = bars.size() - changed;
    }
    insert_rejects(rejected, timeframe, run_id);
    tx.commit();
    return stats;
} catch (const sqlite::SqliteError& e) {
    throw_if_unusable(e, m_db.path());
    throw;
}

LoadStats SqliteStore::upsert_latest_prices(std::span<const market::Quote> quotes) try {
    SqliteTransaction tx(m_db);
    auto exists = m_db.prepare("SELECT 1 FROM latest_prices WHERE symbol = ?");
    auto s = m_db.prepare(
        "INSERT INTO latest_prices (symbol, price, previous_close, change, change_pct, as_of, source)"
        " VALUES (?, ?, ?, ?, ?, ?, ?)"
        " ON CONFLICT (symbol) DO UPDATE SET price = excluded.price, previous_close = excluded.previous_close,"
        " change = excluded.change, change_pct = excluded.change_pct, as_of = excluded.as_of,"
        " source = excluded.source, updated_at = strftime('%Y-%m-%dT%H:%M:%SZ', 'now')"
        " WHERE latest_prices.price IS NOT excluded.price OR latest_prices.previous_close IS NOT excluded.previous_close"
        " OR latest_prices.as_of IS NOT excluded.as_of OR latest_prices.source IS NOT excluded.source");
    LoadStats stats;
    for (const auto& q : quotes) {
        const auto change = q.change();
        const auto pct = q.change_pct();
        exists.bind(1, q.symbol);
        const bool existed = exists.step();
        exists.reset();
        s.bind(1, q.symbol);
        s.bind(2, q.price.text);
        s.bind_optional(3, q.previous_close ? std::optional(q.previous_close->text) : std::nullopt);
        s.bind_optional(4, change ? std::optional(change->text) : std::nullopt);
        s.bind_optional(5, pct ? std::optional(pct->text) : std::nullopt);
        s.bind(6, ts_text(q.as_of));
        s.bind(7, q.source);
        s.step();
        if (m_db.changes() == 0) ++stats.unchanged;
        else if (existed) ++stats.updated;
        else ++stats.inserted;
        s.reset();
    }
    tx.commit();
    return stats;
} catch (const sqlite::SqliteError& e) {
    throw_if_unusable(e, m_db.path());
    throw;
}

std::vector<market::Asset> SqliteStore::list_assets(bool active_only) try {
    auto s = m_db.prepare(fmt::format("{}{} ORDER BY symbol", asset_select(), active_only ? " WHERE active" : ""));
    std::vector<market::Asset> out;
    while (s.step()) out.push_back(asset_from_row(s));
    return out;
} catch (const sqlite::SqliteError& e) {
    throw_if_unusable(e, m_db.path());
    throw;
}

std::optional<market::Asset> SqliteStore::find_asset(std::string_view symbol) try {
    auto s = m_db.prepare(fmt::format("{} WHERE symbol = ?", asset_select()));
    s.bind(1, symbol);
    if (!s.step()) return std::nullopt;
    return asset_from_row(s);
} catch (const sqlite::SqliteError& e) {
    throw_if_unusable(e, m_db.path());
    throw;
}

std::size_t SqliteStore::write_assets(std::span<const market::Asset> assets, bool overwrite) try {
    SqliteTransaction tx(m_db);
    auto exists = m_db.prepare("SELECT 1 FROM assets WHERE symbol = ?");
    // One identifier column per provider that names assets its own way (its registry row's column).
    std::vector<std::string_view> id_providers;
    std::string columns, values, updates;
    for (const auto& row : providers::registry()) {
        if (row.identifier.column.empty()) continue;
        id_providers.push_back(row.name);
        const auto column = quote_identifier(row.identifier.column);
        columns += ", " + column;
        values += ", ?";
        updates += fmt::format(" {0} = excluded.{0},", column);
    }
    auto s = m_db.prepare(fmt::format(
        "INSERT INTO assets (symbol, name, asset_class, exchange, currency{}, active)"
        " VALUES (?, ?, ?, ?, ?{}, ?) ON CONFLICT (symbol) DO {}",
        columns, values,
        overwrite ? fmt::format("UPDATE SET name = excluded.name, asset_class = excluded.asset_class, exchange = "
                                "excluded.exchange, currency = excluded.currency,{} active = excluded.active,"
                                " updated_at = strftime('%Y-%m-%dT%H:%M:%SZ', 'now')",
                                updates)
                  : std::string("NOTHING")));
    std::size_t created = 0;
    for (const auto& a : assets) {
        exists.bind(1, a.symbol);
        if (!exists.step()) ++created;
        exists.reset();
        s.bind(1, a.symbol);
        s.bind(2, a.name);
        s.bind(3, market::to_string(a.asset_class));
        s.bind(4, a.exchange);
        s.bind(5, a.currency);
        int index = 6;
        for (const auto provider : id_providers) s.bind_optional(index++, opt(a.identifier(provider)));
        s.bind(index, static_cast<std::int64_t>(a.active ? 1 : 0));
        s.step();
        s.reset();
    }
    tx.commit();
    return created;
} catch (const sqlite::SqliteError& e) {
    throw_if_unusable(e, m_db.path());
    throw;
}

std::size_t SqliteStore::upsert_assets(std::span<const market::Asset> assets) { return write_assets(assets, true); }
std::size_t SqliteStore::insert_missing_assets(std::span<const market::Asset> assets) {
    return write_assets(assets, false);
}

} // namespace etl::store
