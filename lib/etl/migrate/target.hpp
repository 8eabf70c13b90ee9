// The PostgreSQL side of etl-migrate-sqlite beyond bars and assets: batches of corporate actions, asset
// descriptions and option quotes merged idempotently (migration 0004), each table's parity, and the
// verbatim copy of a table no mapping reads (--include-unmapped) into the `legacy` schema.
#pragma once

#include "etl/migrate/layout.hpp"
#include "etl/migrate/records.hpp"
#include "etl/migrate/values.hpp"
#include "etl/pg/connection.hpp"
#include "etl/store/store.hpp"

#include <cstdint>
#include <functional>
#include <span>
#include <string_view>
#include <vector>

namespace etl::migrate {

// Writes over one connection it does not own (PgStore::connection()), which must outlive it and have
// no transaction open: every call is its own transaction. Throws pg::DbError, whose context names the
// table ("writing corporate_actions").
class Target {
public:
    explicit Target(pg::Connection& conn) noexcept : m_conn(conn) {}

    // Merges one batch into its table in one transaction: COPY into a temporary staging table, then one
    // INSERT ... ON CONFLICT DO UPDATE that writes only rows whose values differ, so an unchanged re-run
    // writes nothing (no new row versions). Returns inserted / updated / unchanged (rejected stays 0:
    // the caller rejects before). Keys: corporate_actions (symbol, ex_date, kind), asset_info (symbol),
    // option_quotes (symbol, side, expiration, strike, contract_symbol: NULL equals NULL). Numbers and
    // jsonb compare as values (1.50 = 1.5; key order and spacing of JSON do not count). When a batch
    // holds one key more than once, its last row is the one merged and the earlier ones count as
    // unchanged (nothing of theirs is written), so a re-run of any batch is all unchanged. Memory: the
    // batch itself plus one COPY chunk; callers pass batches (10k rows).
    store::LoadStats write_corporate_actions(std::span<const CorporateAction> actions);
    store::LoadStats write_asset_info(std::span<const AssetInfo> infos);
    store::LoadStats write_option_quotes(std::span<const OptionQuote> quotes);

    // Upserts the migration_tables row (run_id, parity.source_table): counts, the target table (NULL
    // when ""), and rejected_by_reason as a JSON object {"reason": count, ...} (a reason named twice
    // keeps the last count, as jsonb keeps the last of duplicate keys).
    void record_parity(std::int64_t run_id, std::string_view source_file, std::string_view layout,
                       const TableParity& parity);

    // Moves a market-etl SQLite file's run history in ONE transaction, so a kill never leaves a run
    // without its rejects. Each etl_runs row is keyed by migrated_run_key (its old id, job, host, pid
    // and start: the same whichever path or copy of the file is read): a run not moved before is inserted
    // with a new id (runs.inserted); one moved before is left alone (runs.unchanged) unless it changed
    // since (it was still going: runs.updated), when its rejects are replaced. The rejected_rows of the
    // runs inserted or updated now follow them under the new id (rejects.inserted); those of unchanged
    // runs are left alone (rejects.unchanged); one of no known run is skipped (rejects.skipped).
    // next_run / next_reject fill their argument and return false at the end (rows they cannot map they
    // count and reject themselves). read counts are the caller's.
    void move_run_history(const std::function<bool(PastRun&)>& next_run,
                          const std::function<bool(PastReject&)>& next_reject, TableParity& runs, TableParity& rejects);

    // Copies a source table as it is into legacy."<table>" (schema and table created as needed),
    // replacing its contents in one transaction, so a re-run leaves exactly the source's rows.
    // `columns` are the source's (PRAGMA table_info); next_row fills its argument with one row's cells
    // (as many as columns; the Cells may borrow until the next call) and returns false at the end.
    // Returns the number of rows copied.
    //
    // Column types, lossless: SQLite lets any cell hold any storage class, so the rows are staged
    // first (one pass over the source, in the server) and each column's type is decided by what it
    // held. The declared type's affinity (SQLite's rules, in order: contains INT -> INTEGER; CHAR, CLOB
    // or TEXT -> TEXT; BLOB or empty -> BLOB; REAL, FLOA or DOUB -> REAL; else NUMERIC) proposes
    //   INTEGER -> bigint (all cells INTEGER), TEXT -> text (all cells TEXT that PostgreSQL text holds:
    //   UTF-8, no NUL), REAL -> double precision (all REAL), NUMERIC -> numeric (all INTEGER or finite
    //   REAL, shortest round-trip decimals), BLOB -> bytea (all BLOB);
    // NULL fits every type. A column with a cell that does not fit becomes text (INTEGER as its
    // digits, REAL as its shortest round-trip decimal or Infinity/-Infinity), or bytea (the bytes of
    // each cell's text form) when a BLOB or a text PostgreSQL cannot hold is among them. Values are
    // kept exactly; only the storage class of a cell in a mixed column is not (5 and '5' are both 5).
    // An existing legacy table with the same columns and types is truncated (views on it survive);
    // one that differs is dropped and created again (refused, as a pg::DbError, while a view of the
    // user's depends on it: never CASCADE).
    std::uint64_t copy_verbatim(std::string_view table, const std::vector<ColumnInfo>& columns,
                                const std::function<bool(std::vector<Cell>&)>& next_row);

private:
    pg::Connection& m_conn;
};

// The SQLite affinity of a declared column type (https://sqlite.org/datatype3.html, 3.1).
enum class Affinity { integer, text, blob, real, numeric };
Affinity affinity_of(std::string_view declared_type) noexcept;

// etl_runs.migrated_from of a moved run: "market-etl run 42 (job etl-historical, host h, pid 7, started
// 2025-03-14T21:00:00Z)".
std::string migrated_run_key(const PastRun& run);

} // namespace etl::migrate
