#include "etl/store/sqlite_store.hpp"

#include "etl/providers/registry.hpp"
#include "etl/store/migrations.hpp"
#include "etl/util/clock.hpp"
#include "etl/util/error.hpp"
#include "etl/util/log.hpp"
#include "etl/util/secrets.hpp"

#include <fcntl.h>
#include <fmt/format.h>
#include <sys/file.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <filesystem>
#include <map>
#include <thread>
#include <tuple>

namespace etl::store {
namespace {

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

// The SELECT asset_from_row reads: one identifier column per provider of migration 0001 (its registry
// row's column), in registry order. The other providers' identifiers are attached from asset_identifiers.
std::string asset_select() {
    std::string identifiers;
    for (const auto& row : providers::registry())
        if (row.identifier.assets_column)
            identifiers += fmt::format("coalesce({}, ''), ", sqlite::quote_identifier(row.identifier.column));
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
        if (!row.identifier.assets_column) continue;
        if (auto id = s.text(col++); !id.empty()) a.identifiers[std::string(row.name)] = id;
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
    } catch (...) { // the error that unwound us says more
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
    if (fd < 0) return false; // no lock file (someone deleted it): the process may be alive, leave its row alone
    const bool free = flock(fd, LOCK_SH | LOCK_NB) == 0;
    close(fd); // releases the shared lock
    return free;
}

void SqliteStore::close_abandoned_runs(const RunStart& run) {
    // This shard's: the caller holds its lock, so their processes are gone.
    auto abandoned = m_db.prepare(schema::close_running_runs_sql(Dialect::sqlite));
    abandoned.bind_all(schema::k_abandoned_run_error, run.job, run.shard);
    abandoned.step();
    // Other shards': the rows are read before the locks are tried. A run takes its lock before it
    // records itself and keeps it until it has recorded its end, so a row read first whose shard's
    // lock is free afterwards belongs to a process that is gone. (A run of that shard starting in
    // between inserts a row this one never saw.)
    auto select = m_db.prepare(schema::k_running_runs_of_other_shards_sql);
    select.bind_all(run.job, run.shard);
    std::vector<std::pair<std::int64_t, std::string>> running;
    while (select.step()) running.emplace_back(select.integer(0), std::string(select.text(1)));
    std::map<std::string, bool, std::less<>> gone; // shard -> nothing holds its lock
    auto close_run = m_db.prepare(fmt::format("UPDATE etl_runs SET status = 'failed', finished_at = {}, error = ? "
                                              "WHERE id = ? AND status = 'running'",
                                              schema::now_sql(Dialect::sqlite)));
    for (const auto& [id, shard] : running) {
        auto it = gone.find(shard);
        if (it == gone.end()) it = gone.emplace(shard, lock_is_free(run_lock_name(run.job, shard))).first;
        if (!it->second) continue;
        close_run.bind_all(schema::k_abandoned_run_error, id);
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
    auto s = m_db.prepare(schema::k_insert_run_sql);
    s.bind_all(run.job, run.arguments, run.shard, std::string_view(host), getpid());
    s.step();
    return s.integer(0);
} catch (const sqlite::SqliteError& e) {
    throw_if_unusable(e, m_db.path());
    throw;
}

void SqliteStore::finish_run(std::int64_t run_id, const RunOutcome& o) try {
    auto s = m_db.prepare(schema::finish_run_sql(Dialect::sqlite));
    std::apply([&](const auto&... values) { s.bind_all(values..., run_id); }, schema::run_outcome_row(o));
    s.step();
} catch (const sqlite::SqliteError& e) {
    throw_if_unusable(e, m_db.path());
    throw;
}

void SqliteStore::insert_rejects(std::span<const market::RejectedRecord> rejected,
                                 std::optional<market::Timeframe> timeframe, std::int64_t run_id) {
    if (rejected.empty()) return;
    auto s = m_db.prepare(fmt::format("INSERT INTO rejected_rows ({}) VALUES (?, ?, ?, ?, ?, ?)",
                                      schema::column_list(schema::k_reject_columns)));
    for (const auto& r : rejected) {
        std::apply([&](const auto&... values) { s.bind_all(values...); }, schema::reject_row(run_id, r, timeframe));
        s.step();
        s.reset();
    }
}

void SqliteStore::record_rejects(std::span<const market::RejectedRecord> rejected,
                                 std::optional<market::Timeframe> timeframe, std::int64_t run_id) try {
    if (rejected.empty()) return;
    SqliteTransaction tx(m_db);
    insert_rejects(rejected, timeframe, run_id);
    tx.commit();
} catch (const sqlite::SqliteError& e) {
    throw_if_unusable(e, m_db.path());
    throw;
}

std::int64_t SqliteStore::count_window(std::string_view symbol, market::Timeframe timeframe, Window window) {
    auto s = m_db.prepare(schema::k_count_window_sql);
    s.bind_all(symbol, market::to_code(timeframe), window.from, window.to);
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
        auto s = m_db.prepare(fmt::format(
            "INSERT INTO price_bars ({}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
            " ON CONFLICT (symbol, timeframe, ts) DO UPDATE SET open = excluded.open, high = excluded.high,"
            " low = excluded.low, close = excluded.close, volume = excluded.volume, vwap = excluded.vwap,"
            " trade_count = excluded.trade_count, source = excluded.source,"
            " ingested_at = strftime('%Y-%m-%dT%H:%M:%SZ', 'now')"
            " WHERE price_bars.open IS NOT excluded.open OR price_bars.high IS NOT excluded.high"
            " OR price_bars.low IS NOT excluded.low OR price_bars.close IS NOT excluded.close"
            " OR price_bars.volume IS NOT excluded.volume OR price_bars.vwap IS NOT excluded.vwap"
            " OR price_bars.trade_count IS NOT excluded.trade_count OR price_bars.source IS NOT excluded.source",
            schema::column_list(schema::k_bar_columns)));
        std::uint64_t changed = 0;
        std::optional<market::sys_seconds> first_changed;
        for (const auto& b : bars) {
            std::apply([&](const auto&... values) { s.bind_all(values...); }, schema::bar_row(b));
            s.step();
            if (m_db.changes() > 0 && (!first_changed || b.ts < *first_changed)) first_changed = b.ts;
            changed += static_cast<std::uint64_t>(m_db.changes());
            s.reset();
        }
        // Indicators derived from a bar that changed are no longer true: gone in the same transaction, so
        // whichever derive comes next (this run's, a later etl derive) starts from there.
        if (first_changed) {
            auto del = m_db.prepare(schema::k_drop_stale_indicators_sql);
            del.bind(1, symbol);
            del.bind(2, market::to_code(timeframe));
            del.bind(3, *first_changed);
            del.step();
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

std::optional<market::sys_seconds> SqliteStore::last_indicator_ts(std::string_view symbol,
                                                                  market::Timeframe timeframe) try {
    auto s = m_db.prepare("SELECT max(ts) FROM indicator_bars WHERE symbol = ? AND timeframe = ?");
    s.bind(1, symbol);
    s.bind(2, market::to_code(timeframe));
    if (!s.step() || s.column_type(0) == sqlite::Statement::ColumnType::null) return std::nullopt;
    return util::parse_instant(s.text(0));
} catch (const sqlite::SqliteError& e) {
    throw_if_unusable(e, m_db.path());
    throw;
}

std::optional<IndicatorBar> SqliteStore::indicators_at(std::string_view symbol, market::Timeframe timeframe,
                                                       market::sys_seconds ts) try {
    auto s = m_db.prepare(fmt::format("SELECT {} FROM indicator_bars WHERE symbol = ? AND timeframe = ? AND ts = ?",
                                      schema::column_list(schema::k_indicator_columns)));
    s.bind(1, symbol);
    s.bind(2, market::to_code(timeframe));
    s.bind(3, ts);
    if (!s.step()) return std::nullopt;
    IndicatorBar bar{ts, {}};
    for (std::size_t i = 0; i < schema::k_indicator_columns.size(); ++i) {
        const auto col = static_cast<int>(i);
        if (s.column_type(col) != sqlite::Statement::ColumnType::null) bar.values[i] = s.real(col);
    }
    return bar;
} catch (const sqlite::SqliteError& e) {
    throw_if_unusable(e, m_db.path());
    throw;
}

std::vector<DeriveResume> SqliteStore::derive_resume(std::span<const std::string> symbols,
                                                     market::Timeframe timeframe) try {
    // In process: a statement per symbol costs no round trip.
    std::vector<DeriveResume> out(symbols.size());
    auto closes = m_db.prepare("SELECT closes, recent FROM derive_closes WHERE symbol = ? AND timeframe = ?");
    for (std::size_t i = 0; i < symbols.size(); ++i) {
        out[i].last_indicator = last_indicator_ts(symbols[i], timeframe);
        closes.reset();
        closes.bind(1, symbols[i]);
        closes.bind(2, market::to_code(timeframe));
        if (closes.step()) {
            out[i].closes = std::string(closes.blob(0));
            out[i].recent = std::string(closes.blob(1));
        }
    }
    return out;
} catch (const sqlite::SqliteError& e) {
    throw_if_unusable(e, m_db.path());
    throw;
}

std::vector<std::optional<IndicatorBar>> SqliteStore::indicators_at(std::span<const SymbolInstant> at,
                                                                    market::Timeframe timeframe) {
    std::vector<std::optional<IndicatorBar>> out;
    out.reserve(at.size());
    for (const auto& x : at) out.push_back(indicators_at(x.symbol, timeframe, x.ts));
    return out;
}

std::uint64_t SqliteStore::replace_indicators(market::Timeframe timeframe, std::span<const IndicatorWrite> writes) try {
    SqliteTransaction tx(m_db);
    const auto code = market::to_code(timeframe);
    auto del_from = m_db.prepare("DELETE FROM indicator_bars WHERE symbol = ? AND timeframe = ? AND ts >= ?");
    auto del_all = m_db.prepare("DELETE FROM indicator_bars WHERE symbol = ? AND timeframe = ?");
    auto del_closes = m_db.prepare("DELETE FROM derive_closes WHERE symbol = ? AND timeframe = ?");
    auto put_closes = m_db.prepare("INSERT INTO derive_closes (symbol, timeframe, closes, recent) VALUES (?, ?, ?, ?)");
    auto put_recent = m_db.prepare("UPDATE derive_closes SET recent = ?, computed_at = strftime('%Y-%m-%dT%H:%M:%SZ', "
                                   "'now') WHERE symbol = ? AND timeframe = ?");
    std::string marks;
    for (std::size_t i = 0; i < schema::k_indicator_columns.size(); ++i) marks += ", ?";
    auto s = m_db.prepare(fmt::format("INSERT INTO indicator_bars (symbol, timeframe, ts, {}) VALUES (?, ?, ?{})",
                                      schema::column_list(schema::k_indicator_columns), marks));
    std::uint64_t values = 0;
    for (const auto& w : writes) {
        auto& del = w.from ? del_from : del_all;
        del.reset();
        del.bind(1, w.symbol);
        del.bind(2, code);
        if (w.from) del.bind(3, *w.from);
        del.step();
        if (!w.closes) {
            put_recent.reset();
            put_recent.bind_blob(1, w.recent);
            put_recent.bind(2, w.symbol);
            put_recent.bind(3, code);
            put_recent.step();
        } else {
            del_closes.reset();
            del_closes.bind(1, w.symbol);
            del_closes.bind(2, code);
            del_closes.step();
            if (!w.closes->empty() || !w.recent.empty()) {
                put_closes.reset();
                put_closes.bind(1, w.symbol);
                put_closes.bind(2, code);
                put_closes.bind_blob(3, *w.closes);
                put_closes.bind_blob(4, w.recent);
                put_closes.step();
            }
        }
        for (const auto& bar : w.bars) {
            s.reset();
            s.bind(1, w.symbol);
            s.bind(2, code);
            s.bind(3, bar.ts);
            for (std::size_t i = 0; i < bar.values.size(); ++i) {
                const auto index = static_cast<int>(i) + 4;
                if (bar.values[i]) {
                    s.bind(index, *bar.values[i]);
                    ++values;
                } else {
                    s.bind_null(index);
                }
            }
            s.step();
        }
    }
    tx.commit();
    return values;
} catch (const sqlite::SqliteError& e) {
    throw_if_unusable(e, m_db.path());
    throw;
}

LoadStats SqliteStore::upsert_latest_prices(std::span<const market::Quote> quotes) try {
    SqliteTransaction tx(m_db);
    auto exists = m_db.prepare("SELECT 1 FROM latest_prices WHERE symbol = ?");
    auto s = m_db.prepare(fmt::format(
        "INSERT INTO latest_prices ({}) VALUES (?, ?, ?, ?, ?, ?, ?)"
        " ON CONFLICT (symbol) DO UPDATE SET price = excluded.price, previous_close = excluded.previous_close,"
        " change = excluded.change, change_pct = excluded.change_pct, as_of = excluded.as_of,"
        " source = excluded.source, updated_at = strftime('%Y-%m-%dT%H:%M:%SZ', 'now')"
        " WHERE latest_prices.price IS NOT excluded.price OR latest_prices.previous_close IS NOT "
        "excluded.previous_close"
        " OR latest_prices.as_of IS NOT excluded.as_of OR latest_prices.source IS NOT excluded.source",
        schema::column_list(schema::k_latest_price_columns)));
    LoadStats stats;
    for (const auto& q : quotes) {
        exists.bind(1, q.symbol);
        const bool existed = exists.step();
        exists.reset();
        std::apply([&](const auto&... values) { s.bind_all(values...); }, schema::quote_row(q));
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
    auto ids = m_db.prepare(schema::k_identifier_select_sql);
    while (ids.step()) schema::attach_identifier(out, ids.text(0), ids.text(1), ids.text(2));
    return out;
} catch (const sqlite::SqliteError& e) {
    throw_if_unusable(e, m_db.path());
    throw;
}

std::optional<market::Asset> SqliteStore::find_asset(std::string_view symbol) try {
    auto s = m_db.prepare(fmt::format("{} WHERE symbol = ?", asset_select()));
    s.bind(1, symbol);
    if (!s.step()) return std::nullopt;
    std::vector<market::Asset> found{asset_from_row(s)};
    auto ids = m_db.prepare(fmt::format("{} WHERE symbol = ?", schema::k_identifier_select_sql));
    ids.bind(1, symbol);
    while (ids.step()) schema::attach_identifier(found, ids.text(0), ids.text(1), ids.text(2));
    return std::move(found.front());
} catch (const sqlite::SqliteError& e) {
    throw_if_unusable(e, m_db.path());
    throw;
}

std::size_t SqliteStore::write_assets(std::span<const market::Asset> assets, bool overwrite) try {
    SqliteTransaction tx(m_db);
    auto exists = m_db.prepare("SELECT 1 FROM assets WHERE symbol = ?");
    // One identifier column per provider of migration 0001 (IdentifierSpec::assets_column); the others'
    // identifiers are asset_identifiers rows, written below.
    std::vector<std::string_view> id_providers;
    std::string columns, values, updates;
    for (const auto& row : providers::registry()) {
        if (!row.identifier.assets_column) continue;
        id_providers.push_back(row.name);
        const auto column = sqlite::quote_identifier(row.identifier.column);
        columns += ", " + column;
        values += ", ?";
        updates += fmt::format(" {0} = excluded.{0},", column);
    }
    auto s = m_db.prepare(
        fmt::format("INSERT INTO assets (symbol, name, asset_class, exchange, currency{}, active)"
                    " VALUES (?, ?, ?, ?, ?{}, ?) ON CONFLICT (symbol) DO {}",
                    columns, values,
                    overwrite
                        ? fmt::format("UPDATE SET name = excluded.name, asset_class = excluded.asset_class, exchange = "
                                      "excluded.exchange, currency = excluded.currency,{} active = excluded.active,"
                                      " updated_at = strftime('%Y-%m-%dT%H:%M:%SZ', 'now')",
                                      updates)
                        : std::string("NOTHING")));
    auto forget = m_db.prepare(schema::k_delete_identifiers_sql);
    auto name = m_db.prepare(schema::k_upsert_identifier_sql);
    std::size_t created = 0;
    for (const auto& a : assets) {
        exists.bind(1, a.symbol);
        const bool is_new = !exists.step();
        exists.reset();
        if (is_new) ++created;
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
        // The other providers' identifiers: an existing asset keeps them unless it is overwritten; then
        // they are what `a` says.
        if (!is_new && !overwrite) continue;
        if (!is_new) {
            forget.bind(1, a.symbol);
            forget.step();
            forget.reset();
        }
        for (const auto& [provider, identifier] : a.identifiers) {
            if (identifier.empty() || !schema::identifier_in_table(provider)) continue;
            name.bind(1, a.symbol);
            name.bind(2, provider);
            name.bind(3, identifier);
            name.step();
            name.reset();
        }
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

Rows SqliteStore::rows(std::string_view sql, const std::vector<Value>& params) try {
    auto s = m_db.prepare(sql);
    for (std::size_t i = 0; i < params.size(); ++i) {
        // $n by name (SQLite numbers named parameters by first appearance, not by the digits).
        const int position = static_cast<int>(i) + 1;
        const int named = s.parameter_index(fmt::format("${}", position));
        s.bind_optional(named > 0 ? named : position, params[i]);
    }
    Rows out;
    for (int c = 0; c < s.column_count(); ++c) out.columns.emplace_back(s.column_name(c));
    while (s.step()) {
        Row row;
        row.reserve(out.columns.size());
        for (int c = 0; c < s.column_count(); ++c)
            row.push_back(s.is_null(c) ? std::nullopt : std::optional<std::string>(s.text(c)));
        out.rows.push_back(std::move(row));
    }
    return out;
} catch (const sqlite::SqliteError& e) {
    throw_if_unusable(e, m_db.path());
    throw;
}

namespace {

// Columns 0 and 1 of a price_bars row of `symbol` (ts, close) as epoch seconds and a double. A close stored as
// text (a decimal longer than a double holds) is read exactly as its text reads. Throws DataError for a ts
// that is not YYYY-MM-DDTHH:MM:SSZ.
std::pair<std::int64_t, double> read_ts_close(sqlite::Statement& s, std::string_view symbol, std::string_view path) {
    const auto ts = util::parse_instant(s.text(0));
    if (!ts)
        throw DataError(fmt::format("{}: price_bars holds ts '{}' for {}, which is not YYYY-MM-DDTHH:MM:SSZ: "
                                    "repair the row or reload the symbol",
                                    path, s.text(0), symbol));
    double close = 0.0;
    if (s.column_type(1) == sqlite::Statement::ColumnType::text) {
        const auto text = s.text(1);
        std::from_chars(text.data(), text.data() + text.size(), close);
    } else {
        close = s.real(1);
    }
    return {ts->time_since_epoch().count(), close};
}

} // namespace

void SqliteStore::for_each_close(std::string_view symbol, market::Timeframe timeframe, Window window, bool valid_only,
                                 const std::function<void(std::int64_t, double)>& each) try {
    auto s = m_db.prepare(
        fmt::format("SELECT p.ts, p.close FROM price_bars p WHERE p.symbol = ? AND p.timeframe = ? AND p.ts >= ? AND "
                    "p.ts <= ?{}",
                    valid_only ? " AND " + schema::valid_bar_sql(dialect(), "p") : std::string()));
    s.bind(1, symbol);
    s.bind(2, market::to_code(timeframe));
    s.bind(3, window.from);
    s.bind(4, window.to);
    while (s.step()) {
        const auto [ts, close] = read_ts_close(s, symbol, m_db.path());
        each(ts, close);
    }
} catch (const sqlite::SqliteError& e) {
    throw_if_unusable(e, m_db.path());
    throw;
}

void SqliteStore::for_each_valid_close_from(std::span<const SymbolInstant> from, market::Timeframe timeframe,
                                            const std::function<void(std::size_t, std::int64_t, double)>& each) try {
    auto s = m_db.prepare(fmt::format("SELECT p.ts, p.close FROM price_bars p WHERE p.symbol = ? AND p.timeframe = ? "
                                      "AND p.ts >= ? AND {} ORDER BY p.ts",
                                      schema::valid_bar_sql(dialect(), "p")));
    for (std::size_t i = 0; i < from.size(); ++i) {
        s.reset();
        s.bind(1, from[i].symbol);
        s.bind(2, market::to_code(timeframe));
        s.bind(3, from[i].ts);
        while (s.step()) {
            const auto [ts, close] = read_ts_close(s, from[i].symbol, m_db.path());
            each(i, ts, close);
        }
    }
} catch (const sqlite::SqliteError& e) {
    throw_if_unusable(e, m_db.path());
    throw;
}

void SqliteStore::for_each_stored_close(
    std::span<const std::string> symbols, market::Timeframe timeframe, Window window,
    const std::function<void(std::string_view, std::int64_t, double, std::int64_t)>& each) try {
    // One statement, bound per symbol: each pass is a range of the primary key, in process (no round trip).
    std::vector<std::string> sorted(symbols.begin(), symbols.end());
    std::sort(sorted.begin(), sorted.end());
    sorted.erase(std::unique(sorted.begin(), sorted.end()), sorted.end());
    auto s =
        m_db.prepare("SELECT ts, close, ingested_at FROM price_bars WHERE symbol = ? AND timeframe = ? AND ts >= ? "
                     "AND ts <= ? ORDER BY ts");
    for (const auto& symbol : sorted) {
        s.bind(1, symbol);
        s.bind(2, market::to_code(timeframe));
        s.bind(3, window.from);
        s.bind(4, window.to);
        while (s.step()) {
            const auto [ts, close] = read_ts_close(s, symbol, m_db.path());
            // An ingested_at that does not read as an instant (edited by hand) counts as "long ago".
            const auto ingested = util::parse_instant(s.text(2));
            each(symbol, ts, close, ingested ? ingested->time_since_epoch().count() : 0);
        }
        s.reset();
    }
} catch (const sqlite::SqliteError& e) {
    throw_if_unusable(e, m_db.path());
    throw;
}

std::uint64_t SqliteStore::load_temp_table(std::string_view name, std::span<const std::string> columns,
                                           std::span<const Row> rows) try {
    const auto table = sqlite::quote_identifier(name);
    std::string definition;
    std::string placeholders;
    for (const auto& c : columns) {
        definition += fmt::format("{}{} TEXT", definition.empty() ? "" : ", ", sqlite::quote_identifier(c));
        placeholders += placeholders.empty() ? "?" : ", ?";
    }
    SqliteTransaction tx(m_db);
    m_db.exec(fmt::format("DROP TABLE IF EXISTS temp.{}; CREATE TEMP TABLE {} ({})", table, table, definition));
    auto s = m_db.prepare(fmt::format("INSERT INTO temp.{} VALUES ({})", table, placeholders));
    for (const auto& row : rows) {
        for (std::size_t i = 0; i < row.size(); ++i) s.bind_optional(static_cast<int>(i) + 1, row[i]);
        s.step();
        s.reset();
    }
    tx.commit();
    return rows.size();
} catch (const sqlite::SqliteError& e) {
    throw_if_unusable(e, m_db.path());
    throw;
}

} // namespace etl::store
