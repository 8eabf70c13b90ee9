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

// Starts a bulk load over `conn`: in one transaction, locks price_bars (waiting at most the session's
// lock_timeout), checks again that it holds no row and drops its primary key. false, with nothing
// changed, when a row came in meanwhile or the key is already gone. Throws pg::DbError.
bool begin_bulk_load(pg::Connection& conn);

// The bulk load's own build, in two steps so that price_bars can be read while the key's index is built
// (CREATE INDEX takes a lock that lets readers in, ADD PRIMARY KEY one that does not): builds the unique
// index the key will use, with no statement timeout, and commits. Throws pg::DbError: 23505 when rows share
// a key (then restore_primary_key makes them one and builds the key).
void build_key_index(pg::Connection& conn);
// Makes build_key_index's index price_bars' primary key (no scan: the columns are NOT NULL). Throws
// pg::DbError.
void attach_key_index(pg::Connection& conn);

// Builds price_bars' primary key (nothing when it is there) in one transaction, with no statement
// timeout (a build is not a load) and `lock_timeout` (zero: the session's). Rows that share a key are
// made one first: the last loaded of them (the latest ingested_at, then the last in the table) is kept.
// An index of the key's name that is no primary key (a build_key_index whose run ended before
// attach_key_index) is built again. Returns the rows removed that way. Throws pg::DbError; then nothing
// changed.
std::uint64_t restore_primary_key(pg::Connection& conn, std::chrono::milliseconds lock_timeout = {});

} // namespace etl::migrate
