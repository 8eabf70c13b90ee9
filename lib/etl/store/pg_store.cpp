#include "etl/store/pg_store.hpp"

#include "etl/pg/binary_copy.hpp"
#include "etl/pg/copy.hpp"
#include "etl/providers/registry.hpp"
#include "etl/store/migrations.hpp"
#include "etl/util/clock.hpp"
#include "etl/util/decimal.hpp"
#include "etl/util/hash.hpp"
#include "etl/util/log.hpp"
#include "etl/util/secrets.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <unistd.h>

#include <array>
#include <bit>
#include <charconv>
#include <thread>
#include <tuple>
#include <unordered_map>
#include <unordered_set>

namespace etl::store {
namespace {

// Held while migrating so concurrent shards starting together apply each migration once.
constexpr std::int64_t k_migration_lock = 0x6d61726b65746c31; // "marketl1"

// The advisory lock key of try_lock(name).
std::int64_t lock_key(std::string_view name) {
    return std::bit_cast<std::int64_t>(util::stable_hash(fmt::format("market-etl:{}", name)));
}

// A lock_timeout or statement_timeout that ended `what` (a statement on `table`) as one line naming
// the table and the setting (TemporaryError, 75). Returns for any other error, for the caller to
// rethrow as it is. Statement timeouts and our own cancels share SQLSTATE 57014: ours carry the
// interrupted exit code (pg::cancel_signalled_statement).
void throw_if_timeout(const pg::DbError& e, std::string_view table, std::string_view what, const StoreOptions& o) {
    if (e.sqlstate() == "55P03")
        throw TemporaryError(fmt::format("{} is locked by another database session: {} waited longer than "
                                         "database.lock_timeout_seconds ({} s); retry later, or end the session "
                                         "holding the lock (see pg_locks and pg_stat_activity)",
                                         table, what, o.lock_timeout_seconds));
    if (e.sqlstate() == "57014" && e.code() != util::ExitCode::interrupted && o.statement_timeout_seconds > 0)
        throw TemporaryError(fmt::format("{} ({}) ran longer than database.statement_timeout_seconds ({} s) and "
                                         "was cancelled by the server; retry later, or raise the setting (0 = no "
                                         "limit)",
                                         what, table, o.statement_timeout_seconds));
}

// An upsert into price_bars that found no unique key to conflict on (42P10): the table's primary key is
// missing while an etl-migrate-sqlite bulk load fills it, or after one was interrupted. Not a bug of ours
// (70) but a state that passes: one line that says what to do, as a temporary failure (75).
void throw_if_no_key(const pg::DbError& e, std::string_view what) {
    if (e.sqlstate() == "42P10")
        throw TemporaryError(fmt::format("price_bars has no primary key ({}): an etl-migrate-sqlite bulk load is "
                                         "filling it, or one was interrupted; let the migration finish, or run "
                                         "etl-migrate-sqlite again to rebuild the key, then retry",
                                         what));
}

// What a failed load of `symbol`'s bars into price_bars can say in one line: a lock or statement timeout,
// or the missing primary key (both 75). Returns for any other error, for the caller to rethrow.
void throw_if_load_failure_explained(const pg::DbError& e, std::string_view symbol, market::Timeframe timeframe,
                                     const StoreOptions& o) {
    const auto what = fmt::format("loading {} {} bars", symbol, market::to_code(timeframe));
    throw_if_timeout(e, "price_bars", what, o);
    throw_if_no_key(e, what);
}

// True when `b` holds the values of row `row` of `r` (columns: epoch, open, high, low, close, volume,
// vwap, trade_count, source). Numbers compare by canonical decimal text: the database gives back
// "47227643" for the "4.7227643e+07" a provider sent.
bool same_number(std::string_view db_text, bool db_null, const market::OptionalDecimal& ours) {
    if (!ours) return db_null;
    if (db_null) return false;
    if (db_text == ours->text) return true;
    const auto a = util::canonical_decimal(db_text);
    const auto b = util::canonical_decimal(ours->text);
    return a && b && *a == *b;
}

bool same_as_row(const market::Bar& b, const pg::Result& r, int row) {
    return same_number(r.get(row, 1), r.is_null(row, 1), b.open) &&
           same_number(r.get(row, 2), r.is_null(row, 2), b.high) &&
           same_number(r.get(row, 3), r.is_null(row, 3), b.low) &&
           same_number(r.get(row, 4), r.is_null(row, 4), b.close) &&
           same_number(r.get(row, 5), r.is_null(row, 5), b.volume) &&
           same_number(r.get(row, 6), r.is_null(row, 6), b.vwap) &&
           (b.trade_count ? !r.is_null(row, 7) && r.get(row, 7) == std::to_string(*b.trade_count)
                          : r.is_null(row, 7)) &&
           r.get(row, 8) == b.source;
}

std::optional<std::string> opt(const std::string& s) {
    if (s.empty()) return std::nullopt;
    return s;
}

market::Asset asset_from_row(const pg::Result& r, int i) {
    market::Asset a;
    a.symbol = r.get(i, 0);
    a.name = r.get(i, 1);
    a.asset_class = market::parse_asset_class(r.get(i, 2)).value_or(market::AssetClass::stock);
    a.exchange = r.get(i, 3);
    a.currency = r.get(i, 4);
    int col = 5;
    for (const auto& row : providers::registry()) {
        if (!row.identifier.assets_column) continue;
        if (auto id = r.get(i, col++); !id.empty()) a.identifiers[std::string(row.name)] = id;
    }
    a.active = r.get(i, col) == "t";
    return a;
}

// The SELECT asset_from_row reads: one identifier column per provider of migration 0001 (its registry
// row's column), in registry order. The other providers' identifiers are attached from asset_identifiers.
std::string asset_select(const pg::Connection& conn) {
    std::string identifiers;
    for (const auto& row : providers::registry())
        if (row.identifier.assets_column)
            identifiers += fmt::format("coalesce({}, ''), ", conn.quote_identifier(row.identifier.column));
    return fmt::format("SELECT symbol, name, asset_class, exchange, currency, {}active FROM assets", identifiers);
}

} // namespace

PgStore::PgStore(const std::string& url, const std::string& app_name, const StoreOptions& options)
    : m_url(url), m_app_name(app_name), m_conn(url, app_name), m_options(options) {
    set_up_session(true);
}

PgStore::PgStore(SiblingTag /*unused*/, const std::string& url, const std::string& app_name,
                 const StoreOptions& options)
    : m_url(url), m_app_name(app_name), m_conn(url, app_name), m_options(options) {
    set_up_session(false);
}

void PgStore::set_up_session(bool signal_target) {
    // SIGINT/SIGTERM cancel what this store is running (store::cancel_statement_in_flight).
    if (signal_target) m_conn.make_signal_cancel_target();
    // synchronous_commit = off: a commit returns before its WAL reaches disk. Atomicity is unchanged
    // (a kill or crash never leaves half a symbol), and WAL order is kept, so after a server crash or
    // power loss the surviving data is a prefix of the run: if the run's end record survived, every
    // symbol before it did. At most the last moments of a run are lost, and the next run (or a
    // re-run) loads them again. Waiting for a disk flush per symbol cost a third of a bulk load.
    // jit = off: our statements are key lookups, ranges and COPYs; the planner's row guesses for the OHLC
    // rules can still pass jit_above_cost, and compiling then costs tens of milliseconds a statement (a
    // third of an incremental derive of 1,000 symbols), more than it ever saves here.
    m_conn.exec("SET client_min_messages = warning; SET TIME ZONE 'UTC'; SET synchronous_commit = off; SET jit = off",
                "setting up the session");
    // Without a lock timeout a load waits as long as another session holds a lock on its table (an
    // ALTER, a VACUUM FULL, a forgotten transaction); without a statement timeout a stuck statement
    // holds the run lock forever. Both for the session; 0 means no limit, in PostgreSQL as in config.
    // A server's idle_session_timeout (PostgreSQL 14 on) is for sessions a client forgot; ours live as
    // long as the run and may rightly wait between statements (a migration's session that reads back
    // waits out the whole load; a loading one waits while the file is read, longer on a busy machine),
    // and a session it ended failed the run with 75, every row loaded. So it is off for ours, as pg_dump
    // turns off the timeouts that would end its own sessions.
    m_conn.exec("SELECT set_config('lock_timeout', $1, false), set_config('statement_timeout', $2, false), "
                "(SELECT set_config('idle_session_timeout', '0', false) "
                "WHERE current_setting('idle_session_timeout', true) IS NOT NULL)",
                "setting up the session", fmt::format("{}s", m_options.lock_timeout_seconds),
                fmt::format("{}s", m_options.statement_timeout_seconds));
}

std::unique_ptr<PgStore> PgStore::open_sibling(std::string_view role) {
    // Never the signal target, not even for a moment: this store stays it throughout (a stop arriving
    // now cancels this store's statement), and a sibling that fails to set up frees a connection no
    // handler can be using.
    std::unique_ptr<PgStore> sibling(
        new PgStore(SiblingTag{}, m_url, fmt::format("{} {}", m_app_name, role), m_options));
    sibling->m_timescaledb = m_timescaledb;
    return sibling;
}

std::string PgStore::describe() const {
    return m_timescaledb.empty() ? "postgresql (plain)" : fmt::format("postgresql (timescaledb {})", m_timescaledb);
}

std::vector<std::string> PgStore::migrate() {
    std::vector<std::string> applied;
    const auto timescaledb = probe_timescaledb(); // before any DDL: see probe_timescaledb()
    pg::Transaction tx(m_conn, "migrating");
    // database.statement_timeout_seconds bounds a run's loads; a migration (turning a large plain
    // price_bars into a hypertable, say) may rightly take longer, and a cancelled one would be retried,
    // and cancelled again, on every start. lock_timeout still applies.
    m_conn.exec("SET LOCAL statement_timeout = 0", "migrating");
    m_conn.exec("SELECT pg_advisory_xact_lock($1::bigint)", "migrating", k_migration_lock);
    m_conn.exec("CREATE TABLE IF NOT EXISTS schema_migrations (version text PRIMARY KEY, "
                "applied_at timestamptz NOT NULL DEFAULT now())",
                "creating schema_migrations");
    auto apply = [&](const util::EmbeddedFile& m, const std::string& version) {
        auto r = m_conn.exec("SELECT 1 FROM schema_migrations WHERE version = $1", "migrating", version);
        if (r.rows() > 0) return;
        m_conn.exec(m.content, fmt::format("applying migration {}", version));
        m_conn.exec("INSERT INTO schema_migrations (version) VALUES ($1)", "migrating", version);
        applied.push_back(version);
    };
    for (const auto& m : migrations_for("postgres")) apply(m, std::string(m.name));

    m_timescaledb = enable_timescaledb(timescaledb);
    if (!m_timescaledb.empty()) {
        for (const auto& m : migrations_for("timescaledb")) apply(m, fmt::format("timescaledb/{}", m.name));
        sync_compression_policy();
        sync_hourly_retention();
    }
    tx.commit();
    return applied;
}

PgStore::TimescaleProbe PgStore::probe_timescaledb() {
    // The server loaded TimescaleDB's loader at start (shared_preload_libraries) when it defines the
    // loader's own setting. Read from pg_settings, which every role may read (shared_preload_libraries
    // itself is visible only to privileged roles). Catalog reads never load the extension library.
    auto r =
        m_conn.exec("SELECT (SELECT extversion FROM pg_extension WHERE extname = 'timescaledb'),"
                    " EXISTS (SELECT 1 FROM pg_available_extensions WHERE name = 'timescaledb'),"
                    " EXISTS (SELECT 1 FROM pg_settings WHERE name = 'timescaledb.disable_load' AND vartype = 'bool'),"
                    " (SELECT rolsuper FROM pg_roles WHERE rolname = current_user), current_database(), current_user",
                    "detecting timescaledb");
    TimescaleProbe p;
    if (!r.is_null(0, 0)) p.installed = std::string(r.get(0, 0));
    p.available = r.get(0, 1) == "t";
    p.preloaded = r.get(0, 2) == "t";
    p.superuser = r.get(0, 3) == "t";
    p.database = r.get(0, 4);
    p.role = r.get(0, 5);
    // Without the loader, anything that loads the extension library (CREATE EXTENSION, DDL that fires
    // its event triggers, touching a hypertable) ends the session with a FATAL error: a database that
    // already uses the extension cannot be worked on at all.
    if (p.installed && !p.preloaded)
        throw ConfigError(
            fmt::format("database {} uses the timescaledb extension ({}) but the server does not preload it, so its "
                        "hypertables cannot be read or written: add timescaledb to shared_preload_libraries in "
                        "postgresql.conf and restart the server",
                        p.database, *p.installed));
    return p;
}

std::string PgStore::enable_timescaledb(const TimescaleProbe& p) {
    const std::string context = "enabling timescaledb";
    if (p.installed) return *p.installed;
    if (!p.available) return {};
    if (!p.preloaded) {
        util::log_warn("timescaledb is installed on the server but not in shared_preload_libraries; using plain "
                       "PostgreSQL tables (for hypertables, add shared_preload_libraries = 'timescaledb' to "
                       "postgresql.conf and restart the server)");
        return {};
    }
    if (!p.superuser) {
        util::log_warn("timescaledb is preloaded, but role {} may not create the extension (it needs a superuser); "
                       "using plain PostgreSQL tables (a superuser can run CREATE EXTENSION timescaledb in database "
                       "{} once)",
                       p.role, p.database);
        return {};
    }
    m_conn.exec("SAVEPOINT tsdb", context);
    try {
        m_conn.exec("CREATE EXTENSION IF NOT EXISTS timescaledb", "enabling timescaledb");
        m_conn.exec("RELEASE SAVEPOINT tsdb", context);
    } catch (const pg::DbError& e) {
        // The loader is present, so this is an ordinary error (an old extension version, say).
        m_conn.exec("ROLLBACK TO SAVEPOINT tsdb", context);
        util::log_warn("timescaledb could not be enabled ({}); using plain PostgreSQL tables", e.what());
        return {};
    }
    return std::string(
        m_conn.exec("SELECT extversion FROM pg_extension WHERE extname = 'timescaledb'", context).get(0, 0));
}

void PgStore::sync_compression_policy() {
    const std::string context = "setting the compression policy";
    const int days = m_options.compress_after_days;
    auto r = m_conn.exec("SELECT job_id, (config->>'compress_after')::interval = make_interval(days => $1::int)"
                         " FROM timescaledb_information.jobs WHERE proc_name = 'policy_compression'"
                         " AND hypertable_name = 'price_bars' AND hypertable_schema = current_schema()",
                         context, days);
    const bool exists = r.rows() > 0;
    if (exists && days > 0 && r.get(0, 1) == "t") return; // already as configured
    if (exists) m_conn.exec("SELECT remove_compression_policy('price_bars', if_exists => true)", context);
    if (days > 0)
        m_conn.exec("SELECT add_compression_policy('price_bars', make_interval(days => $1::int))", context, days);
    if (exists || days > 0)
        util::log_info("timescaledb compression policy on price_bars: {}",
                       days > 0 ? fmt::format("chunks older than {} days", days) : std::string("removed"));
}

void PgStore::sync_hourly_retention() {
    const std::string context = "setting the hourly retention job";
    // A retention policy on price_bars drops whole chunks of every timeframe, daily history included;
    // one left by an earlier version (or added by hand) goes.
    auto policy = m_conn.exec("SELECT 1 FROM timescaledb_information.jobs WHERE proc_name = 'policy_retention'"
                              " AND hypertable_name = 'price_bars' AND hypertable_schema = current_schema()",
                              context);
    if (policy.rows() > 0) {
        m_conn.exec("SELECT remove_retention_policy('price_bars', if_exists => true)", context);
        util::log_warn("removed the timescaledb retention policy on price_bars: it would drop daily history; "
                       "timescaledb.retention_days now applies to hourly bars only");
    }
    const int days = m_options.retention_days;
    auto r = m_conn.exec("SELECT job_id, (config->>'retention_days')::int = $1::int FROM timescaledb_information.jobs"
                         " WHERE proc_name = 'market_etl_prune_hourly_bars' AND proc_schema = current_schema()",
                         context, days);
    const bool exists = r.rows() > 0;
    if (exists && days > 0 && r.get(0, 1) == "t") return;
    if (exists && days == 0) {
        m_conn.exec("SELECT delete_job($1::int)", context, r.get(0, 0));
        util::log_info("timescaledb hourly retention job removed (hourly bars are kept)");
        return;
    }
    if (days == 0) return;
    const std::string config = fmt::format(R"({{"retention_days": {}}})", days);
    if (exists) m_conn.exec("SELECT alter_job($1::int, config => $2::jsonb)", context, r.get(0, 0), config);
    else
        m_conn.exec("SELECT add_job('market_etl_prune_hourly_bars', INTERVAL '1 day', config => $1::jsonb)", context,
                    config);
    util::log_info("timescaledb hourly retention job: hourly bars older than {} days are deleted daily", days);
}

bool PgStore::try_lock(std::string_view name) { return m_conn.try_advisory_lock(lock_key(name)); }

void PgStore::close_abandoned_runs(const RunStart& run) {
    // This shard's: the caller holds its lock, so their processes are gone.
    m_conn.exec(schema::close_running_runs_sql(Dialect::postgres), "closing abandoned runs",
                schema::k_abandoned_run_error, run.job, run.shard);
    // Other shards': the rows are read before the locks are looked at. A run takes its lock before it
    // records itself and keeps it until it has recorded its end, so a row read first whose shard's
    // lock is free afterwards belongs to a process that is gone. (A run of that shard starting in
    // between inserts a row this one never saw.) pg_locks is only read: nothing is locked, so such a
    // run never finds its lock taken.
    auto running =
        m_conn.exec(schema::k_running_runs_of_other_shards_sql, "looking for abandoned runs", run.job, run.shard);
    if (running.rows() == 0) return;
    auto held =
        m_conn.exec("SELECT classid::bigint, objid::bigint FROM pg_locks WHERE locktype = 'advisory' AND granted"
                    " AND objsubid = 1 AND database = (SELECT oid FROM pg_database WHERE datname = current_database())",
                    "looking for abandoned runs");
    std::unordered_set<std::uint64_t> held_keys; // a bigint key is classid (high 32 bits), objid (low 32 bits)
    for (int i = 0; i < held.rows(); ++i)
        held_keys.insert(static_cast<std::uint64_t>(held.get_int(i, 0)) << 32 |
                         static_cast<std::uint64_t>(held.get_int(i, 1)));
    std::string ids;
    for (int i = 0; i < running.rows(); ++i) {
        const auto shard = running.get(i, 1);
        if (held_keys.contains(std::bit_cast<std::uint64_t>(lock_key(run_lock_name(run.job, shard))))) continue;
        if (!ids.empty()) ids += ',';
        ids += running.get(i, 0);
        util::log_warn("run {} of {} (shard {}) ended without recording an outcome; closed as failed",
                       running.get(i, 0), run.job, shard);
    }
    if (ids.empty()) return;
    m_conn.exec("UPDATE etl_runs SET status = 'failed', finished_at = now(), error = $2 "
                "WHERE id = ANY($1::bigint[]) AND status = 'running'",
                "closing abandoned runs", fmt::format("{{{}}}", ids), schema::k_abandoned_run_error);
}

std::int64_t PgStore::begin_run(const RunStart& run) try {
    close_abandoned_runs(run);
    char host[256] = {};
    gethostname(host, sizeof host - 1);
    auto r = m_conn.exec(schema::k_insert_run_sql, "recording the run", run.job, run.arguments, run.shard,
                         static_cast<const char*>(host), getpid());
    return r.get_int(0, 0);
} catch (const pg::DbError& e) {
    throw_if_timeout(e, "etl_runs", "recording the run", m_options);
    throw;
}

void PgStore::finish_run(std::int64_t run_id, const RunOutcome& o) try {
    // After a signal the run's end must still be recorded: this statement is never cancelled.
    const pg::SignalCancelHold hold;
    std::apply(
        [&](const auto&... values) {
            m_conn.exec(schema::finish_run_sql(Dialect::postgres), "recording the run's outcome", values..., run_id);
        },
        schema::run_outcome_row(o));
} catch (const pg::DbError& e) {
    throw_if_timeout(e, "etl_runs", "recording the run's outcome", m_options);
    throw;
}

void PgStore::copy_rejects(std::span<const market::RejectedRecord> rejected, std::optional<market::Timeframe> timeframe,
                           std::int64_t run_id) try {
    if (rejected.empty()) return;
    pg::CopyWriter copy(m_conn, "recording rejected rows");
    copy.begin("rejected_rows", schema::k_reject_columns);
    for (const auto& r : rejected)
        std::apply([&](const auto&... values) { copy.row(values...); }, schema::reject_row(run_id, r, timeframe));
    copy.end();
} catch (const pg::DbError& e) {
    throw_if_timeout(e, "rejected_rows", "recording rejected rows", m_options);
    throw;
}

void PgStore::record_rejects(std::span<const market::RejectedRecord> rejected,
                             std::optional<market::Timeframe> timeframe, std::int64_t run_id) {
    if (rejected.empty()) return;
    pg::Transaction tx(m_conn, "recording rejected rows");
    copy_rejects(rejected, timeframe, run_id);
    tx.commit();
}

void PgStore::copy_bars(std::string_view table, std::span<const market::Bar* const> bars, const std::string& context) {
    pg::CopyWriter copy(m_conn, context);
    copy.begin(table, schema::k_bar_columns);
    for (const auto* b : bars) std::apply([&](const auto&... values) { copy.row(values...); }, schema::bar_row(*b));
    copy.end();
}

std::pair<std::uint64_t, std::uint64_t> PgStore::merge_bars(std::span<const market::Bar* const> bars,
                                                            const std::string& context) {
    if (!m_staging_ready) {
        m_conn.exec("CREATE TEMP TABLE IF NOT EXISTS staging_bars (LIKE price_bars INCLUDING DEFAULTS) "
                    "ON COMMIT DELETE ROWS",
                    context);
        m_staging_ready = true;
    }
    copy_bars("staging_bars", bars, context);
    auto r = m_conn.exec(
        "WITH merged AS ("
        " INSERT INTO price_bars AS p (symbol, timeframe, ts, open, high, low, close, volume, vwap, trade_count, "
        "source)"
        " SELECT symbol, timeframe, ts, open, high, low, close, volume, vwap, trade_count, source FROM staging_bars"
        " ON CONFLICT (symbol, timeframe, ts) DO UPDATE SET open = EXCLUDED.open, high = EXCLUDED.high,"
        " low = EXCLUDED.low, close = EXCLUDED.close, volume = EXCLUDED.volume, vwap = EXCLUDED.vwap,"
        " trade_count = EXCLUDED.trade_count, source = EXCLUDED.source, ingested_at = now()"
        " WHERE (p.open, p.high, p.low, p.close, p.volume, p.vwap, p.trade_count, p.source) IS DISTINCT FROM"
        " (EXCLUDED.open, EXCLUDED.high, EXCLUDED.low, EXCLUDED.close, EXCLUDED.volume, EXCLUDED.vwap,"
        "  EXCLUDED.trade_count, EXCLUDED.source)"
        " RETURNING (xmax = 0) AS inserted)"
        " SELECT count(*) FILTER (WHERE inserted), count(*) FILTER (WHERE NOT inserted) FROM merged",
        context);
    m_conn.exec("TRUNCATE staging_bars", context); // a second merge in the same transaction starts empty
    return {static_cast<std::uint64_t>(r.get_int(0, 0)), static_cast<std::uint64_t>(r.get_int(0, 1))};
}

LoadStats PgStore::load_bars(std::string_view symbol, market::Timeframe timeframe, Window window,
                             std::span<const market::Bar> bars, std::span<const market::RejectedRecord> rejected,
                             std::int64_t run_id) {
    // A deadlock victim (40P01: TimescaleDB's compression job compressing a chunk this load writes into,
    // say) or a serialization failure (40001) had its transaction rolled back whole: the load is done
    // again, a few times, before the error stops the run.
    constexpr int k_attempts = 4;
    for (int attempt = 1;; ++attempt) {
        try {
            return load_bars_once(symbol, timeframe, window, bars, rejected, run_id);
        } catch (const pg::DbError& e) {
            // The rollback also undid a staging table this transaction created: make it again.
            m_staging_ready = false;
            if ((e.sqlstate() != "40P01" && e.sqlstate() != "40001") || attempt >= k_attempts) throw;
            util::log_warn("loading {} {} bars: {} (attempt {} of {}); loading again", symbol,
                           market::to_code(timeframe), e.sqlstate() == "40P01" ? "deadlock" : "serialization failure",
                           attempt, k_attempts);
            std::this_thread::sleep_for(std::chrono::milliseconds{100 * attempt});
        }
    }
}

LoadStats PgStore::load_bars_once(std::string_view symbol, market::Timeframe timeframe, Window window,
                                  std::span<const market::Bar> bars, std::span<const market::RejectedRecord> rejected,
                                  std::int64_t run_id) try {
    const std::string context = fmt::format("loading {} {} bars", symbol, market::to_code(timeframe));
    LoadStats stats;
    stats.rejected = rejected.size();
    pg::Transaction tx(m_conn, context);
    if (!bars.empty()) {
        // Read the window back and compare on this side: new rows go by COPY straight into price_bars
        // (a staged merge costs about twice as much), changed rows through the staged upsert, and
        // unchanged rows are not sent at all, so a re-run writes nothing (an upsert that finds every
        // row unchanged still locks each one and writes WAL for it).
        auto existing =
            m_conn
                .exec("SELECT extract(epoch FROM ts)::bigint, open, high, low, close, volume, vwap, trade_count, source"
                      " FROM price_bars WHERE symbol = $1 AND timeframe = $2 AND ts >= $3 AND ts <= $4",
                      context, symbol, market::to_code(timeframe), window.from, window.to);
        std::unordered_map<std::int64_t, int> row_of;
        row_of.reserve(static_cast<std::size_t>(existing.rows()));
        for (int i = 0; i < existing.rows(); ++i) row_of.emplace(existing.get_int(i, 0), i);
        std::vector<const market::Bar*> fresh, changed;
        for (const auto& b : bars) {
            const auto it = row_of.find(b.ts.time_since_epoch().count());
            if (it == row_of.end()) fresh.push_back(&b);
            else if (!same_as_row(b, existing, it->second)) changed.push_back(&b);
        }
        if (!fresh.empty()) {
            // Another writer may have added some of these rows since the read (two runs with
            // different shard layouts, say): then they all go through the merge instead.
            m_conn.exec("SAVEPOINT fresh_rows", context);
            try {
                copy_bars("price_bars", fresh, context);
                m_conn.exec("RELEASE SAVEPOINT fresh_rows", context);
                stats.inserted += fresh.size();
            } catch (const pg::DbError& e) {
                if (e.sqlstate() != "23505") throw;
                m_conn.exec("ROLLBACK TO SAVEPOINT fresh_rows", context);
                changed.insert(changed.end(), fresh.begin(), fresh.end());
            }
        }
        if (!changed.empty()) {
            const auto [inserted, updated] = merge_bars(changed, context);
            stats.inserted += inserted;
            stats.updated += updated;
        }
        stats.unchanged = bars.size() - stats.inserted - stats.updated;
        // Indicators derived from a bar that changed are no longer true: gone in the same transaction, so
        // whichever derive comes next (this run's, a later etl derive) starts from there.
        if (!fresh.empty() || !changed.empty()) {
            market::sys_seconds first = market::sys_seconds::max();
            for (const auto* b : fresh) first = std::min(first, b->ts);
            for (const auto* b : changed) first = std::min(first, b->ts);
            m_conn.exec(schema::k_drop_stale_indicators_sql, context, symbol, market::to_code(timeframe), first);
        }
    }
    copy_rejects(rejected, timeframe, run_id);
    tx.commit();
    return stats;
} catch (const pg::DbError& e) {
    throw_if_load_failure_explained(e, symbol, timeframe, m_options);
    throw;
}

namespace {

// `bars` as one binary COPY into price_bars (k_bar_columns): no decimal or timestamp text for the server
// to parse, a sixth less of its time at 5M bars. Every number must be a plain decimal
// (pg::append_numeric_send); false, nothing sent, when one is not (the caller copies them as text).
bool copy_bars_binary(pg::Connection& conn, std::span<const market::Bar> bars, const std::string& context) {
    // Every number encoded first, so that a number with no binary form is found before the COPY starts.
    std::string numbers;
    std::vector<std::size_t> ends; // where each field of `numbers` ends, 6 per bar (SIZE_MAX: NULL)
    numbers.reserve(bars.size() * 80);
    ends.reserve(bars.size() * 6);
    constexpr auto k_null = static_cast<std::size_t>(-1);
    auto encode = [&](std::string_view text) {
        if (!pg::append_numeric_send(numbers, text)) return false;
        ends.push_back(numbers.size());
        return true;
    };
    for (const auto& b : bars) {
        if (!encode(b.open.text) || !encode(b.high.text) || !encode(b.low.text) || !encode(b.close.text)) return false;
        if (b.volume) {
            if (!encode(b.volume->text)) return false;
        } else {
            ends.push_back(k_null);
        }
        if (b.vwap) {
            if (!encode(b.vwap->text)) return false;
        } else {
            ends.push_back(k_null);
        }
    }
    pg::BinaryCopyWriter copy(conn, context);
    copy.begin("price_bars", schema::k_bar_columns);
    std::size_t field = 0;
    std::size_t from = 0;
    std::array<char, 8> int8{};
    for (const auto& b : bars) {
        auto& row = copy.start_row(static_cast<std::uint16_t>(schema::k_bar_columns.size()));
        row.text(b.symbol);
        row.text(market::to_code(b.timeframe));
        row.timestamptz(b.ts);
        for (int i = 0; i < 6; ++i) {
            const auto end = ends[field++];
            if (end == k_null) {
                row.null();
            } else {
                row.text(std::string_view(numbers).substr(from, end - from));
                from = end;
            }
        }
        if (b.trade_count) {
            auto v = static_cast<std::uint64_t>(*b.trade_count);
            for (int i = 7; i >= 0; --i, v >>= 8U) int8[static_cast<std::size_t>(i)] = static_cast<char>(v & 0xFFU);
            row.text(std::string_view(int8.data(), int8.size()));
        } else {
            row.null();
        }
        row.text(std::string_view(b.source));
        copy.end_row();
    }
    copy.end();
    return true;
}

} // namespace

LoadStats PgStore::append_bars(std::string_view symbol, market::Timeframe timeframe, std::span<const market::Bar> bars,
                               std::span<const market::RejectedRecord> rejected, std::int64_t run_id) try {
    const std::string context = fmt::format("loading {} {} bars", symbol, market::to_code(timeframe));
    LoadStats stats;
    stats.rejected = rejected.size();
    pg::Transaction tx(m_conn, context);
    if (!bars.empty()) {
        auto first = market::sys_seconds::max();
        for (const auto& b : bars) first = std::min(first, b.ts);
        if (!copy_bars_binary(m_conn, bars, context)) {
            std::vector<const market::Bar*> all;
            all.reserve(bars.size());
            for (const auto& b : bars) all.push_back(&b);
            copy_bars("price_bars", all, context);
        }
        stats.inserted = bars.size();
        m_conn.exec(schema::k_drop_stale_indicators_sql, context, symbol, market::to_code(timeframe), first);
    }
    copy_rejects(rejected, timeframe, run_id);
    tx.commit();
    return stats;
} catch (const pg::DbError& e) {
    throw_if_load_failure_explained(e, symbol, timeframe, m_options);
    throw;
}

std::optional<market::sys_seconds> PgStore::last_indicator_ts(std::string_view symbol, market::Timeframe timeframe) {
    const auto r = m_conn.exec_binary(
        "SELECT extract(epoch FROM max(ts))::int8 FROM indicator_bars WHERE symbol = $1 AND timeframe = $2",
        {std::string(symbol), std::string(market::to_code(timeframe))},
        fmt::format("reading the indicators of {} {}", symbol, market::to_code(timeframe)));
    if (r.rows() == 0 || r.is_null(0, 0)) return std::nullopt;
    return market::sys_seconds(std::chrono::seconds(r.get_binary_int8(0, 0)));
}

std::optional<IndicatorBar> PgStore::indicators_at(std::string_view symbol, market::Timeframe timeframe,
                                                   market::sys_seconds ts) {
    // Binary: the float8s come back bit for bit, whatever extra_float_digits says.
    const auto r =
        m_conn.exec_binary(fmt::format("SELECT {} FROM indicator_bars WHERE symbol = $1 AND timeframe = $2 AND ts = $3",
                                       schema::column_list(schema::k_indicator_columns)),
                           {std::string(symbol), std::string(market::to_code(timeframe)), util::format_instant(ts)},
                           fmt::format("reading the indicators of {} {}", symbol, market::to_code(timeframe)));
    if (r.rows() == 0) return std::nullopt;
    IndicatorBar bar{ts, {}};
    for (std::size_t i = 0; i < schema::k_indicator_columns.size(); ++i) {
        const auto col = static_cast<int>(i);
        if (!r.is_null(0, col)) bar.values[i] = r.get_binary_float8(0, col);
    }
    return bar;
}

namespace {

// A list as one text parameter, a line per item (a symbol never holds a newline): the statements below
// take every symbol of a derive in one round trip, with unnest(string_to_array($n, E'\n')).
template <class T, class F> std::string lines(std::span<const T> items, F item) {
    std::string out;
    for (const auto& x : items) (out += item(x)) += '\n';
    if (!out.empty()) out.pop_back();
    return out;
}

// The epoch seconds of `ts` as text, or of a time before any bar (a replace from the first bar).
std::string epoch_text(std::optional<market::sys_seconds> ts) {
    constexpr std::int64_t k_year_one = -62135596800; // 0001-01-01T00:00:00Z
    return std::to_string(ts ? ts->time_since_epoch().count() : k_year_one);
}

} // namespace

std::vector<DeriveResume> PgStore::derive_resume(std::span<const std::string> symbols,
                                                 market::Timeframe timeframe) try {
    std::vector<DeriveResume> out(symbols.size());
    if (symbols.empty()) return out;
    const auto r = m_conn.exec_binary(
        "SELECT u.i, extract(epoch FROM (SELECT max(b.ts) FROM indicator_bars b WHERE b.symbol = u.s AND "
        "b.timeframe = $2))::int8, c.closes, c.recent FROM unnest(string_to_array($1, E'\\n')) WITH ORDINALITY AS u(s, "
        "i) "
        "LEFT JOIN derive_closes c ON c.symbol = u.s AND c.timeframe = $2",
        {lines(symbols, [](const std::string& x) { return x; }), std::string(market::to_code(timeframe))},
        fmt::format("reading where the {} indicators of {} symbol(s) go on from", market::to_code(timeframe),
                    symbols.size()));
    for (int i = 0; i < r.rows(); ++i) {
        const auto index = static_cast<std::size_t>(r.get_binary_int8(i, 0) - 1);
        if (index >= out.size()) continue;
        if (!r.is_null(i, 1))
            out[index].last_indicator = market::sys_seconds(std::chrono::seconds(r.get_binary_int8(i, 1)));
        if (!r.is_null(i, 2)) out[index].closes = std::string(r.get(i, 2));
        if (!r.is_null(i, 3)) out[index].recent = std::string(r.get(i, 3));
    }
    return out;
} catch (const pg::DbError& e) {
    throw_if_timeout(e, "indicator_bars", "reading the indicators", m_options);
    throw;
}

std::vector<std::optional<IndicatorBar>> PgStore::indicators_at(std::span<const SymbolInstant> at,
                                                                market::Timeframe timeframe) try {
    std::vector<std::optional<IndicatorBar>> out(at.size());
    if (at.empty()) return out;
    // Binary: the float8s come back bit for bit, whatever extra_float_digits says.
    const auto r = m_conn.exec_binary(
        // LATERAL ... OFFSET 0: a probe of the primary key per bar, never a join the planner may turn into a
        // scan of the whole table.
        fmt::format("SELECT u.i, b.{} FROM unnest(string_to_array($1, E'\\n'), string_to_array($2, E'\\n')::int8[]) "
                    "WITH ORDINALITY AS u(s, t, i) CROSS JOIN LATERAL (SELECT * FROM indicator_bars x WHERE x.symbol = "
                    "u.s AND x.timeframe = $3 AND x.ts = to_timestamp(u.t) OFFSET 0) AS b",
                    fmt::join(schema::k_indicator_columns, ", b.")),
        {lines(at, [](const SymbolInstant& x) { return x.symbol; }),
         lines(at, [](const SymbolInstant& x) { return epoch_text(x.ts); }), std::string(market::to_code(timeframe))},
        fmt::format("reading the {} indicators of {} symbol(s)", market::to_code(timeframe), at.size()));
    for (int i = 0; i < r.rows(); ++i) {
        const auto index = static_cast<std::size_t>(r.get_binary_int8(i, 0) - 1);
        if (index >= out.size()) continue;
        IndicatorBar bar{at[index].ts, {}};
        for (std::size_t c = 0; c < schema::k_indicator_columns.size(); ++c) {
            const auto col = static_cast<int>(c) + 1;
            if (!r.is_null(i, col)) bar.values[c] = r.get_binary_float8(i, col);
        }
        out[index] = bar;
    }
    return out;
} catch (const pg::DbError& e) {
    throw_if_timeout(e, "indicator_bars", "reading the indicators", m_options);
    throw;
}

void PgStore::for_each_valid_close_from(std::span<const SymbolInstant> from, market::Timeframe timeframe,
                                        const std::function<void(std::size_t, std::int64_t, double)>& each) try {
    if (from.empty()) return;
    const auto r = m_conn.exec_binary(
        // LATERAL: a range of the primary key per symbol, whatever the planner guesses of the OHLC rules'
        // selectivity (a join lets it pick a scan of every bar instead).
        fmt::format("SELECT u.i, extract(epoch FROM x.ts)::int8, x.close FROM unnest(string_to_array($1, E'\\n'), "
                    "string_to_array($2, E'\\n')::int8[]) WITH ORDINALITY AS u(s, t, i) CROSS JOIN LATERAL (SELECT "
                    "p.ts, CASE WHEN abs(p.close) < 1e300 THEN p.close::float8 ELSE 'NaN'::float8 END AS close FROM "
                    "price_bars p WHERE p.symbol = u.s AND p.timeframe = $3 AND p.ts >= to_timestamp(u.t) AND {} "
                    "ORDER BY p.ts OFFSET 0) AS x ORDER BY u.i, x.ts",
                    schema::valid_bar_sql(dialect(), "p")),
        {lines(from, [](const SymbolInstant& x) { return x.symbol; }),
         lines(from, [](const SymbolInstant& x) { return epoch_text(x.ts); }), std::string(market::to_code(timeframe))},
        fmt::format("reading the new {} bars of {} symbol(s)", market::to_code(timeframe), from.size()));
    for (int i = 0; i < r.rows(); ++i) {
        const auto index = static_cast<std::size_t>(r.get_binary_int8(i, 0) - 1);
        if (index < from.size()) each(index, r.get_binary_int8(i, 1), r.get_binary_float8(i, 2));
    }
} catch (const pg::DbError& e) {
    throw_if_timeout(e, "price_bars", "reading the bars to derive", m_options);
    throw;
}

std::uint64_t PgStore::replace_indicators(market::Timeframe timeframe, std::span<const IndicatorWrite> writes) try {
    if (writes.empty()) return 0;
    const auto code = market::to_code(timeframe);
    const auto context = writes.size() == 1
                             ? fmt::format("writing {} {} indicators", writes.front().symbol, code)
                             : fmt::format("writing the {} indicators of {} symbols", code, writes.size());
    const auto symbols = lines(writes, [](const IndicatorWrite& w) { return w.symbol; });
    pg::Transaction tx(m_conn, context);
    // Derived rows: the commit does not wait for its WAL to reach the disk. A server crash may lose the
    // last moments of them (never a bar, never half a transaction), and the next derive recomputes what
    // is missing from the newest bar that has indicators; a derive of many symbols no longer waits for a
    // disk flush per symbol.
    m_conn.exec("SET LOCAL synchronous_commit = off", context);
    // Two derives of one symbol at once (etl derive beside a loading job) take turns: the second's DELETE
    // then sees the first's rows instead of colliding with them. The locks are taken in one order (of their
    // keys), so two derives of overlapping lists cannot deadlock.
    m_conn.exec("SELECT pg_advisory_xact_lock(k) FROM (SELECT DISTINCT hashtextextended('indicators:' || s || ':' || "
                "$2, 0) AS k FROM unnest(string_to_array($1, E'\\n')) AS s ORDER BY 1) AS keys",
                context, symbols, code);
    // The rows by their ctid, found by a range of the primary key per symbol (LATERAL, kept a subquery by
    // OFFSET 0): a join of the list with the table lets the planner pick a scan of every indicator row once
    // a full derive has changed the table's statistics (3 s instead of 10 ms for 500 symbols).
    m_conn.exec(
        "DELETE FROM indicator_bars WHERE ctid = ANY(ARRAY(SELECT x.ctid FROM unnest(string_to_array($1, "
        "E'\\n'), string_to_array($2, E'\\n')::int8[]) AS u(s, t) CROSS JOIN LATERAL (SELECT b.ctid FROM "
        "indicator_bars b WHERE b.symbol = u.s AND b.timeframe = $3 AND b.ts >= to_timestamp(u.t) OFFSET 0) AS x))",
        context, symbols, lines(writes, [](const IndicatorWrite& w) { return epoch_text(w.from); }), code);
    // derive_closes: rows replaced, or only their `recent` (an UPDATE keeps the stored `closes` as they are).
    std::string replaced;
    for (const auto& w : writes)
        if (w.closes) (replaced += w.symbol) += '\n';
    if (!replaced.empty()) {
        replaced.pop_back();
        m_conn.exec("DELETE FROM derive_closes WHERE timeframe = $2 AND symbol = ANY(string_to_array($1, E'\\n'))",
                    context, replaced, code);
    }
    std::uint64_t values = 0;
    static const auto k_columns = [] {
        std::array<std::string_view, 3 + schema::k_indicator_columns.size()> out{"symbol", "timeframe", "ts"};
        std::copy(schema::k_indicator_columns.begin(), schema::k_indicator_columns.end(), out.begin() + 3);
        return out;
    }();
    // Binary: a float8 goes as its 8 bytes (no decimal text to format or parse) and arrives bit for bit.
    pg::BinaryCopyWriter copy(m_conn, context);
    copy.begin("indicator_bars", k_columns);
    for (const auto& w : writes) {
        for (const auto& bar : w.bars) {
            auto& row = copy.start_row(static_cast<std::uint16_t>(k_columns.size()));
            row.text(w.symbol);
            row.text(code);
            row.timestamptz(bar.ts);
            for (const auto& v : bar.values) {
                if (v) {
                    row.float8(*v);
                    ++values;
                } else {
                    row.null();
                }
            }
            copy.end_row();
        }
    }
    copy.end();
    if (!replaced.empty()) {
        static constexpr std::array<std::string_view, 4> k_closes_columns{"symbol", "timeframe", "closes", "recent"};
        pg::BinaryCopyWriter closes(m_conn, context);
        closes.begin("derive_closes", k_closes_columns);
        for (const auto& w : writes) {
            if (!w.closes || (w.closes->empty() && w.recent.empty())) continue;
            auto& row = closes.start_row(static_cast<std::uint16_t>(k_closes_columns.size()));
            row.text(w.symbol);
            row.text(code);
            row.bytea(*w.closes);
            row.bytea(w.recent);
            closes.end_row();
        }
        closes.end();
    }
    if (std::any_of(writes.begin(), writes.end(), [](const IndicatorWrite& w) { return !w.closes; })) {
        m_conn.exec("CREATE TEMP TABLE IF NOT EXISTS derive_recent (symbol text, recent bytea) ON COMMIT DELETE ROWS",
                    context);
        static constexpr std::array<std::string_view, 2> k_recent_columns{"symbol", "recent"};
        pg::BinaryCopyWriter recent(m_conn, context);
        recent.begin("pg_temp.derive_recent", k_recent_columns);
        for (const auto& w : writes) {
            if (w.closes) continue;
            auto& row = recent.start_row(static_cast<std::uint16_t>(k_recent_columns.size()));
            row.text(w.symbol);
            row.bytea(w.recent);
            recent.end_row();
        }
        recent.end();
        m_conn.exec("UPDATE derive_closes c SET recent = r.recent, computed_at = now() FROM pg_temp.derive_recent r "
                    "WHERE c.symbol = r.symbol AND c.timeframe = $1",
                    context, code);
    }
    tx.commit();
    return values;
} catch (const pg::DbError& e) {
    throw_if_timeout(e, "indicator_bars", "writing indicators", m_options);
    throw;
}

LoadStats PgStore::upsert_latest_prices(std::span<const market::Quote> quotes) try {
    pg::Transaction tx(m_conn, "writing latest prices");
    LoadStats stats;
    // One statement per quote, prepared once per connection: a refresh of hundreds of symbols plans it once.
    m_conn.prepare("upsert_latest_price",
                   fmt::format("INSERT INTO latest_prices AS l ({}) VALUES ($1, $2, $3, $4, $5, $6, $7)"
                               " ON CONFLICT (symbol) DO UPDATE SET price = EXCLUDED.price,"
                               " previous_close = EXCLUDED.previous_close, change = EXCLUDED.change,"
                               " change_pct = EXCLUDED.change_pct, as_of = EXCLUDED.as_of, source = EXCLUDED.source,"
                               " updated_at = now()"
                               " WHERE (l.price, l.previous_close, l.as_of, l.source) IS DISTINCT FROM"
                               " (EXCLUDED.price, EXCLUDED.previous_close, EXCLUDED.as_of, EXCLUDED.source)"
                               " RETURNING (xmax = 0)",
                               schema::column_list(schema::k_latest_price_columns)),
                   "writing latest prices");
    for (const auto& q : quotes) {
        auto r = std::apply(
            [&](const auto&... values) {
                return m_conn.exec_prepared("upsert_latest_price",
                                            fmt::format("writing the latest price of {}", q.symbol), values...);
            },
            schema::quote_row(q));
        if (r.rows() == 0) ++stats.unchanged;
        else if (r.get(0, 0) == "t") ++stats.inserted;
        else ++stats.updated;
    }
    tx.commit();
    return stats;
} catch (const pg::DbError& e) {
    throw_if_timeout(e, "latest_prices", "writing latest prices", m_options);
    throw;
}

std::vector<market::Asset> PgStore::list_assets(bool active_only) try {
    auto r = m_conn.exec(fmt::format("{}{} ORDER BY symbol", asset_select(m_conn), active_only ? " WHERE active" : ""),
                         "listing assets");
    std::vector<market::Asset> out;
    out.reserve(static_cast<std::size_t>(r.rows()));
    for (int i = 0; i < r.rows(); ++i) out.push_back(asset_from_row(r, i));
    auto ids = m_conn.exec(schema::k_identifier_select_sql, "listing asset identifiers");
    for (int i = 0; i < ids.rows(); ++i) schema::attach_identifier(out, ids.get(i, 0), ids.get(i, 1), ids.get(i, 2));
    return out;
} catch (const pg::DbError& e) {
    throw_if_timeout(e, "assets", "listing assets", m_options);
    throw;
}

std::optional<market::Asset> PgStore::find_asset(std::string_view symbol) try {
    auto r = m_conn.exec(fmt::format("{} WHERE symbol = $1", asset_select(m_conn)), {std::string(symbol)},
                         "reading an asset");
    if (r.rows() == 0) return std::nullopt;
    std::vector<market::Asset> found{asset_from_row(r, 0)};
    auto ids = m_conn.exec(fmt::format("{} WHERE symbol = $1", schema::k_identifier_select_sql),
                           "reading an asset's identifiers", std::string(symbol));
    for (int i = 0; i < ids.rows(); ++i) schema::attach_identifier(found, ids.get(i, 0), ids.get(i, 1), ids.get(i, 2));
    return std::move(found.front());
} catch (const pg::DbError& e) {
    throw_if_timeout(e, "assets", "reading an asset", m_options);
    throw;
}

std::size_t PgStore::write_assets(std::span<const market::Asset> assets, bool overwrite) try {
    // One identifier column per provider of migration 0001 (IdentifierSpec::assets_column); the others'
    // identifiers are asset_identifiers rows, written below.
    std::vector<std::string_view> id_providers;
    std::string columns, values, updates;
    for (const auto& row : providers::registry()) {
        if (!row.identifier.assets_column) continue;
        id_providers.push_back(row.name);
        const auto column = m_conn.quote_identifier(row.identifier.column);
        columns += ", " + column;
        values += fmt::format(", ${}", 5 + id_providers.size());
        updates += fmt::format(" {0} = EXCLUDED.{0},", column);
    }
    const std::string sql =
        fmt::format("INSERT INTO assets (symbol, name, asset_class, exchange, currency{}, active)"
                    " VALUES ($1, $2, $3, $4, $5{}, ${}) ON CONFLICT (symbol) DO {} RETURNING (xmax = 0)",
                    columns, values, 6 + id_providers.size(),
                    overwrite
                        ? fmt::format("UPDATE SET name = EXCLUDED.name, asset_class = EXCLUDED.asset_class, exchange = "
                                      "EXCLUDED.exchange, currency = EXCLUDED.currency,{} active = EXCLUDED.active,"
                                      " updated_at = now()",
                                      updates)
                        : std::string("NOTHING"));
    std::size_t created = 0;
    pg::Transaction tx(m_conn, "writing assets");
    for (const auto& a : assets) {
        pg::Params params{a.symbol, a.name, std::string(market::to_string(a.asset_class)), a.exchange, a.currency};
        for (const auto provider : id_providers) params.push_back(opt(a.identifier(provider)));
        params.push_back(std::string(a.active ? "true" : "false"));
        const auto context = fmt::format("writing asset {}", a.symbol);
        auto r = m_conn.exec(sql, params, context);
        const bool is_new = r.rows() > 0 && r.get(0, 0) == "t";
        if (is_new) ++created;
        // The other providers' identifiers: an existing asset keeps them unless it is overwritten; then
        // they are what `a` says.
        if (!is_new && !overwrite) continue;
        if (!is_new) m_conn.exec(schema::k_delete_identifiers_sql, context, a.symbol);
        for (const auto& [provider, identifier] : a.identifiers)
            if (!identifier.empty() && schema::identifier_in_table(provider))
                m_conn.exec(schema::k_upsert_identifier_sql, context, a.symbol, provider, identifier);
    }
    tx.commit();
    return created;
} catch (const pg::DbError& e) {
    throw_if_timeout(e, "assets", "writing assets", m_options);
    throw;
}

std::size_t PgStore::upsert_assets(std::span<const market::Asset> assets) { return write_assets(assets, true); }
std::size_t PgStore::insert_missing_assets(std::span<const market::Asset> assets) {
    return write_assets(assets, false);
}

Rows PgStore::rows(std::string_view sql, const std::vector<Value>& params) {
    const auto r = m_conn.exec(sql, params, "running a query");
    Rows out;
    for (int c = 0; c < r.columns(); ++c) out.columns.emplace_back(r.column_name(c));
    out.rows.reserve(static_cast<std::size_t>(r.rows()));
    for (int i = 0; i < r.rows(); ++i) {
        Row row;
        row.reserve(static_cast<std::size_t>(r.columns()));
        for (int c = 0; c < r.columns(); ++c)
            row.push_back(r.is_null(i, c) ? std::nullopt : std::optional<std::string>(r.get(i, c)));
        out.rows.push_back(std::move(row));
    }
    return out;
}

void PgStore::for_each_close(std::string_view symbol, market::Timeframe timeframe, Window window, bool valid_only,
                             const std::function<void(std::int64_t, double)>& each) {
    // Binary: neither side prints or parses a number (a migration's parity reads every bar back).
    const auto r =
        m_conn.exec_binary(fmt::format("SELECT extract(epoch FROM p.ts)::int8, CASE WHEN abs(p.close) < 1e300 THEN "
                                       "p.close::float8 ELSE 'NaN'::float8 END FROM price_bars p WHERE p.symbol = $1 "
                                       "AND p.timeframe = $2 AND p.ts >= $3 AND p.ts <= $4{}",
                                       valid_only ? " AND " + schema::valid_bar_sql(dialect(), "p") : std::string()),
                           {std::string(symbol), std::string(market::to_code(timeframe)),
                            util::format_instant(window.from), util::format_instant(window.to)},
                           fmt::format("reading back the closes of {} {}", symbol, market::to_code(timeframe)));
    for (int i = 0; i < r.rows(); ++i) each(r.get_binary_int8(i, 0), r.get_binary_float8(i, 1));
}

void PgStore::for_each_stored_close(
    std::span<const std::string> symbols, market::Timeframe timeframe, Window window,
    const std::function<void(std::string_view, std::int64_t, double, std::int64_t)>& each) try {
    if (symbols.empty()) return;
    // One statement for every symbol: the list goes as one text parameter (a symbol never holds a newline).
    std::string list;
    for (const auto& symbol : symbols) (list += symbol) += '\n';
    list.pop_back();
    const auto r = m_conn.exec_binary(
        "SELECT p.symbol, extract(epoch FROM p.ts)::int8, CASE WHEN abs(p.close) < 1e300 THEN p.close::float8 ELSE "
        "'NaN'::float8 END, extract(epoch FROM p.ingested_at)::int8 FROM price_bars p WHERE p.symbol = "
        "ANY(string_to_array($1, E'\\n')) AND p.timeframe = $2 "
        "AND p.ts >= $3 AND p.ts <= $4 ORDER BY p.symbol, p.ts",
        {list, std::string(market::to_code(timeframe)), util::format_instant(window.from),
         util::format_instant(window.to)},
        fmt::format("reading the stored {} bars of {} symbol(s)", market::to_code(timeframe), symbols.size()));
    for (int i = 0; i < r.rows(); ++i)
        each(r.get(i, 0), r.get_binary_int8(i, 1), r.get_binary_float8(i, 2), r.get_binary_int8(i, 3));
} catch (const pg::DbError& e) {
    throw_if_timeout(e, "price_bars", "reading what each symbol holds", m_options);
    throw;
}

std::uint64_t PgStore::load_temp_table(std::string_view name, std::span<const std::string> columns,
                                       std::span<const Row> rows) {
    const std::string context = fmt::format("loading the temporary table {}", name);
    const auto table = m_conn.quote_identifier(name);
    std::vector<std::string> quoted;
    quoted.reserve(columns.size());
    for (const auto& c : columns) quoted.push_back(m_conn.quote_identifier(c));
    std::vector<std::string_view> column_names(quoted.begin(), quoted.end());
    pg::Transaction tx(m_conn, context);
    m_conn.exec(fmt::format("DROP TABLE IF EXISTS pg_temp.{}", table), context);
    std::string definition;
    for (const auto& c : quoted) definition += fmt::format("{}{} text", definition.empty() ? "" : ", ", c);
    m_conn.exec(fmt::format("CREATE TEMP TABLE {} ({})", table, definition), context);
    pg::CopyWriter copy(m_conn, context);
    copy.begin(table, column_names);
    for (const auto& row : rows) copy.row_values(row);
    const auto loaded = copy.end();
    tx.commit();
    return loaded;
}

} // namespace etl::store
