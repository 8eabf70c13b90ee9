// The bulk load of price_bars (issue 8 point 11): into an empty table on plain PostgreSQL, the bars go in
// with the primary key dropped and the key is built by one sort at the end, which costs the server a
// fraction of 5M index insertions (measured at 5.2M bars: COPY with the key 15.3 s; without it 6.9 s,
// then 2.5 s to build it). The missing key is the state of a bulk load: a run that finds price_bars
// without it (one killed during its bulk load) restores it before anything else, with one info line.
// While the key is missing another writer's upsert (ON CONFLICT) fails and its COPY may add duplicates,
// which the key's build then removes (the last loaded row of a key wins, as the upsert would have it).
#pragma once

#include "etl/pg/connection.hpp"

#include <chrono>
#include <cstdint>
#include <string_view>

namespace etl::migrate {

// The name 0001-core.sql's CREATE TABLE gives price_bars' primary key; the bulk load builds it again
// under that name.
inline constexpr std::string_view k_price_bars_key = "price_bars_pkey";

// What the bars of a migration go through: the store's load (read the window back, COPY the new rows,
// merge the changed ones) with the key in place, or the bulk load.
enum class BarPath { indexed, bulk };

struct BarPathChoice {
    BarPath path = BarPath::indexed;
    std::string_view why; // for the info line
};

// The bulk load only where it is safe: PostgreSQL without TimescaleDB (a hypertable's chunks carry the
// key: no bulk load there), a real run (a dry run writes nothing), and price_bars holding no row at all,
// so that nothing already there is compared with, merged into or kept from. Pure.
BarPathChoice choose_bar_path(bool postgres, bool timescaledb, bool dry_run, bool table_empty);

// Whether price_bars has its primary key (pg_index). Throws pg::DbError.
bool has_primary_key(pg::Connection& conn);

// Whether price_bars holds no row. Throws pg::DbError.
bool price_bars_empty(pg::Connection& conn);

// How long begin_bulk_load waits for its lock: another session's open transaction on price_bars (a reader
// left idle in a transaction) would otherwise hold the whole run for the session's lock_timeout.
inline constexpr std::chrono::milliseconds k_bulk_lock_wait{2000};

// Starts a bulk load over `conn`: in one transaction, locks price_bars (waiting at most `lock_wait`; zero:
// the session's lock_timeout),
// checks again that it holds no row and drops its primary key. The indexed path, with why and nothing
// changed, when the lock is not had in time, a row came in meanwhile or the key is already gone. Throws
// pg::DbError.
BarPathChoice begin_bulk_load(pg::Connection& conn, std::chrono::milliseconds lock_wait = k_bulk_lock_wait);

// The bulk load's own build, in two steps so that price_bars can be read while the key's index is built
// (CREATE INDEX takes a lock that lets readers in, ADD PRIMARY KEY one that does not): builds the unique
// index the key will use, with no statement timeout, and commits. Throws pg::DbError: 23505 when rows share
// a key (then restore_primary_key makes them one and builds the key).
void build_key_index(pg::Connection& conn);
// Makes build_key_index's index price_bars' primary key (no scan: the columns are NOT NULL). Throws
// pg::DbError.
void attach_key_index(pg::Connection& conn);

// Keeps autovacuum off price_bars while a bulk load runs, over a session of its own: a transaction holding
// SHARE UPDATE EXCLUSIVE on the table, the lock every VACUUM takes (an ordinary autovacuum passes over a
// table it cannot lock at once; one against transaction ID wraparound waits for it instead), which the
// loads' ROW EXCLUSIVE does not conflict with. Without it, the vacuum that inserts trigger scanned the
// growing table beside the load, only to be cancelled by the key's build (5.2M bars on 2 cores: the run
// 2 s longer). Nothing is stored: the lock ends with the transaction, the session or the process, kill -9
// included; autovacuum visits the table after the load as usual.
class AutovacuumHold {
public:
    // Takes the lock over `conn`, an idle session no other work uses, waiting at most 2 s (the server
    // cancels an ordinary autovacuum already at work after deadlock_timeout, 1 s by default; one against
    // wraparound is waited for, then given up on). Throws pg::DbError: the load goes on without.
    explicit AutovacuumHold(pg::Connection& conn);
    AutovacuumHold(const AutovacuumHold&) = delete;
    AutovacuumHold& operator=(const AutovacuumHold&) = delete;
    ~AutovacuumHold() { release(); }
    // Ends the transaction, and with it the lock (the key's build conflicts with it). Errors are ignored:
    // a session the server has ended holds no lock.
    void release() noexcept;

private:
    pg::Connection* m_conn;
};

// Builds price_bars' primary key (nothing when it is there) in one transaction, with no statement
// timeout (a build is not a load) and `lock_timeout` (zero: the session's). An index of the key's name
// that build_key_index committed (its run ended before attach_key_index) becomes the key as it is: unique
// and valid on (symbol, timeframe, ts), nothing to build. Otherwise rows that share a key are made one
// first: the last loaded of them (the latest ingested_at, then the last in the table) is kept, and the
// key is built. Returns the rows removed that way. Throws pg::DbError; then nothing changed.
std::uint64_t restore_primary_key(pg::Connection& conn, std::chrono::milliseconds lock_timeout = {});

} // namespace etl::migrate
