#include "etl/migrate/bulk.hpp"

#include <fmt/format.h>

#include <string>

namespace etl::migrate {

namespace {

constexpr std::string_view k_context = "rebuilding the primary key of price_bars";

// The rows of each key but its last loaded one: ingested_at is the loading transaction's start, later
// for a later piece of a symbol (its pieces are loaded one after the other); ctid breaks a tie.
constexpr std::string_view k_delete_duplicates_sql =
    "DELETE FROM price_bars p USING ("
    "SELECT row_id FROM (SELECT ctid AS row_id, row_number() OVER (PARTITION BY symbol, timeframe, ts "
    "ORDER BY ingested_at DESC, ctid DESC) AS n FROM price_bars) r WHERE r.n > 1) d "
    "WHERE p.ctid = d.row_id";

// build_key_index's index, committed and not attached: unique, valid, on exactly the key's columns.
constexpr std::string_view k_built_key_index_sql =
    "SELECT 1 FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid "
    "WHERE i.indrelid = 'price_bars'::regclass AND c.relname = $1 AND i.indisunique AND i.indisvalid "
    "AND i.indpred IS NULL AND i.indexprs IS NULL AND i.indnkeyatts = 3 AND i.indnatts = 3 "
    "AND ARRAY(SELECT a.attname::text FROM unnest(i.indkey::int2[]) WITH ORDINALITY k(attnum, n) "
    "JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum ORDER BY k.n) "
    "= ARRAY['symbol', 'timeframe', 'ts']";

std::string add_key_sql() {
    return fmt::format("ALTER TABLE price_bars ADD CONSTRAINT {} PRIMARY KEY (symbol, timeframe, ts)",
                       k_price_bars_key);
}

} // namespace

BarPathChoice choose_bar_path(bool postgres, bool timescaledb, bool dry_run, bool table_empty) {
    if (!postgres) return {BarPath::indexed, "the target is not PostgreSQL"};
    if (dry_run) return {BarPath::indexed, "a dry run writes nothing"};
    if (timescaledb) return {BarPath::indexed, "price_bars is a TimescaleDB hypertable"};
    if (!table_empty) return {BarPath::indexed, "price_bars already holds rows"};
    return {BarPath::bulk, "price_bars is empty"};
}

bool has_primary_key(pg::Connection& conn) {
    return conn.exec("SELECT 1 FROM pg_index WHERE indrelid = 'price_bars'::regclass AND indisprimary",
                     "looking for the primary key of price_bars")
               .rows() > 0;
}

bool price_bars_empty(pg::Connection& conn) {
    return conn.exec("SELECT 1 FROM price_bars LIMIT 1", "looking for rows in price_bars").rows() == 0;
}

BarPathChoice begin_bulk_load(pg::Connection& conn, std::chrono::milliseconds lock_wait) {
    constexpr std::string_view context = "starting the bulk load of price_bars";
    pg::Transaction tx(conn, context);
    if (lock_wait.count() > 0)
        conn.exec("SELECT set_config('lock_timeout', $1, true)", context, fmt::format("{}ms", lock_wait.count()));
    try {
        conn.exec("LOCK TABLE price_bars IN ACCESS EXCLUSIVE MODE", context);
    } catch (const pg::DbError& e) {
        if (e.sqlstate() != "55P03") throw;
        return {BarPath::indexed, "another session holds a lock on price_bars: see pg_locks"}; // rolled back
    }
    if (!price_bars_empty(conn)) return {BarPath::indexed, "a row came in meanwhile"};
    // Not reached after the run's own repair (Migrator::restore_bulk_key): another session dropped it since.
    if (!has_primary_key(conn)) return {BarPath::indexed, "another session dropped its primary key meanwhile"};
    conn.exec(fmt::format("ALTER TABLE price_bars DROP CONSTRAINT {}", k_price_bars_key), context);
    tx.commit();
    return {BarPath::bulk, "price_bars is empty"};
}

void build_key_index(pg::Connection& conn) {
    pg::Transaction tx(conn, k_context);
    conn.exec("SET LOCAL statement_timeout = 0", k_context);
    conn.exec(fmt::format("CREATE UNIQUE INDEX {} ON price_bars (symbol, timeframe, ts)", k_price_bars_key), k_context);
    tx.commit();
}

void attach_key_index(pg::Connection& conn) {
    conn.exec(fmt::format("ALTER TABLE price_bars ADD CONSTRAINT {0} PRIMARY KEY USING INDEX {0}", k_price_bars_key),
              k_context);
}

AutovacuumHold::AutovacuumHold(pg::Connection& conn) : m_conn(&conn) {
    constexpr std::string_view context = "holding autovacuum off price_bars during the bulk load";
    conn.exec("BEGIN", context);
    try {
        // Idle in its transaction for the whole load: a server's idle or transaction limit would end it.
        conn.exec("SET LOCAL idle_in_transaction_session_timeout = 0", context);
        conn.exec("SELECT set_config('transaction_timeout', '0', true) "
                  "WHERE current_setting('transaction_timeout', true) IS NOT NULL", // PostgreSQL 17 on
                  context);
        conn.exec("SET LOCAL lock_timeout = '2s'", context);
        conn.exec("LOCK TABLE price_bars IN SHARE UPDATE EXCLUSIVE MODE", context);
    } catch (...) {
        release();
        throw;
    }
}

void AutovacuumHold::release() noexcept {
    if (m_conn == nullptr) return;
    try {
        m_conn->exec("ROLLBACK", "ending the hold of autovacuum off price_bars");
    } catch (...) { // the session is gone, and its lock with it
    }
    m_conn = nullptr;
}

std::uint64_t restore_primary_key(pg::Connection& conn, std::chrono::milliseconds lock_timeout) {
    pg::Transaction tx(conn, k_context);
    conn.exec("SET LOCAL statement_timeout = 0", k_context);
    if (lock_timeout.count() > 0)
        conn.exec("SELECT set_config('lock_timeout', $1, true)", k_context, fmt::format("{}ms", lock_timeout.count()));
    // The lock first, so that the key's absence is looked at with no other session changing it.
    conn.exec("LOCK TABLE price_bars IN ACCESS EXCLUSIVE MODE", k_context);
    if (has_primary_key(conn)) return 0;
    if (conn.exec(k_built_key_index_sql, k_context, std::string(k_price_bars_key)).rows() > 0) {
        // An index the server will not take as the key (a collation, an operator class or an order of its
        // own, one that backs another constraint) is built again below, as any other.
        conn.exec("SAVEPOINT attach_key", k_context);
        bool attached = false;
        try {
            attach_key_index(conn);
            attached = true;
        } catch (const pg::DbError& e) {
            if (e.sqlstate() == "57014") throw; // cancelled: a stop, not an index to replace
            conn.exec("ROLLBACK TO SAVEPOINT attach_key", k_context);
        }
        if (attached) {
            tx.commit();
            return 0;
        }
    }
    conn.exec(fmt::format("DROP INDEX IF EXISTS {}", k_price_bars_key), k_context);
    std::uint64_t removed = 0;
    conn.exec("SAVEPOINT build_key", k_context);
    try {
        conn.exec(add_key_sql(), k_context);
    } catch (const pg::DbError& e) {
        if (e.sqlstate() != "23505") throw;
        conn.exec("ROLLBACK TO SAVEPOINT build_key", k_context);
        removed = conn.exec(k_delete_duplicates_sql, k_context).affected_rows();
        conn.exec(add_key_sql(), k_context);
    }
    tx.commit();
    return removed;
}

} // namespace etl::migrate
