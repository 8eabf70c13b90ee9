#include "etl/migrate/target.hpp"

#include "etl/pg/copy.hpp"
#include "etl/util/clock.hpp"
#include "etl/util/json_writer.hpp"
#include "etl/util/secrets.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <cmath>
#include <cstddef>
#include <iterator>
#include <optional>
#include <stdexcept>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <utility>

namespace etl::migrate {

namespace {

// One merge target of migration 0004: its name, its key, the columns a changed row updates (every
// other column but ingested_at), and the staging table's definition (ord first: the row's place in
// the batch, so the last row of a key wins).
struct MergeSpec {
    std::string_view table;
    std::span<const std::string_view> key;
    std::span<const std::string_view> values;
    std::string_view staging_definition;
};

std::string joined(std::span<const std::string_view> names, std::string_view prefix = {}) {
    std::string out;
    for (const auto name : names)
        fmt::format_to(std::back_inserter(out), "{}{}{}", out.empty() ? "" : ", ", prefix, name);
    return out;
}

// Spelled with pg_temp: a table of the same name elsewhere on the search path is never the one meant.
std::string staging_name(const MergeSpec& spec) { return fmt::format("pg_temp.staging_{}", spec.table); }

// The staging table, dropped at commit (or with the rollback): a batch never sees another's rows.
void create_staging(pg::Connection& conn, const MergeSpec& spec, std::string_view context) {
    conn.exec(fmt::format("CREATE TEMP TABLE {} ({}) ON COMMIT DROP", staging_name(spec), spec.staging_definition),
              context);
}

// One statement, so the counts come from the rows themselves: the last row of each key in the batch
// (DISTINCT ON, which like the unique index takes NULL as equal to NULL) is written, touching a stored
// row only when a value differs (an unchanged row gets no new row version), and RETURNING says per row
// whether it was inserted (xmax = 0) or updated. Values compare as their types do: numeric by value,
// jsonb as JSON. Every other staged row wrote nothing: unchanged, with the earlier rows of a key.
store::LoadStats merge_staged(pg::Connection& conn, const MergeSpec& spec, std::string_view context) {
    const auto key = joined(spec.key);
    std::string updates;
    for (const auto v : spec.values) fmt::format_to(std::back_inserter(updates), "{} = EXCLUDED.{}, ", v, v);
    const auto sql = fmt::format("WITH merged AS ("
                                 " INSERT INTO {0} AS t ({1}, {2})"
                                 " SELECT DISTINCT ON ({1}) {1}, {2} FROM {3} ORDER BY {1}, ord DESC"
                                 " ON CONFLICT ({1}) DO UPDATE SET {4}ingested_at = now()"
                                 " WHERE ({5}) IS DISTINCT FROM ({6})"
                                 " RETURNING (xmax = 0) AS inserted)"
                                 " SELECT count(*) FILTER (WHERE inserted), count(*) FILTER (WHERE NOT inserted),"
                                 " (SELECT count(*) FROM {3}) FROM merged",
                                 spec.table, key, joined(spec.values), staging_name(spec), updates,
                                 joined(spec.values, "t."), joined(spec.values, "EXCLUDED."));
    const auto r = conn.exec(sql, context);
    store::LoadStats stats;
    stats.inserted = static_cast<std::uint64_t>(r.get_int(0, 0));
    stats.updated = static_cast<std::uint64_t>(r.get_int(0, 1));
    stats.unchanged = static_cast<std::uint64_t>(r.get_int(0, 2)) - stats.inserted - stats.updated;
    return stats;
}

// One batch in one transaction: COPY into staging (copy_columns: ord, then `row`'s values in order), merge,
// commit. Nothing of a batch stays when any of it fails.
template <class Record, class Row>
store::LoadStats write_batch(pg::Connection& conn, const MergeSpec& spec, std::span<const Record> records,
                             std::span<const std::string_view> copy_columns, const Row& row) {
    if (records.empty()) return {};
    const auto context = fmt::format("writing {}", spec.table);
    pg::Transaction tx(conn, context);
    create_staging(conn, spec, context);
    pg::CopyWriter copy(conn, context);
    const auto staging = staging_name(spec);
    copy.begin(staging, copy_columns);
    for (std::size_t i = 0; i < records.size(); ++i) row(copy, i, records[i]);
    copy.end();
    const auto stats = merge_staged(conn, spec, context);
    tx.commit();
    return stats;
}

constexpr std::array<std::string_view, 3> k_action_key{"symbol", "ex_date", "kind"};
constexpr std::array<std::string_view, 2> k_action_values{"value", "source"};
constexpr std::array<std::string_view, 6> k_action_copy{"ord", "symbol", "ex_date", "kind", "value", "source"};

constexpr std::array<std::string_view, 1> k_info_key{"symbol"};
constexpr std::array<std::string_view, 3> k_info_values{"info", "fetched_at", "source"};
constexpr std::array<std::string_view, 5> k_info_copy{"ord", "symbol", "info", "fetched_at", "source"};

constexpr std::array<std::string_view, 5> k_option_key{"symbol", "side", "expiration", "strike", "contract_symbol"};
constexpr std::array<std::string_view, 9> k_option_values{"last_price",         "bid",        "ask",
                                                          "implied_volatility", "volume",     "open_interest",
                                                          "in_the_money",       "fetched_at", "source"};
constexpr std::array<std::string_view, 15> k_option_copy{"ord",          "symbol",
                                                         "side",         "expiration",
                                                         "strike",       "contract_symbol",
                                                         "last_price",   "bid",
                                                         "ask",          "implied_volatility",
                                                         "volume",       "open_interest",
                                                         "in_the_money", "fetched_at",
                                                         "source"};

// --- copy_verbatim ---

// What one column of a verbatim copy held, to choose its type once every row has been staged.
struct ColumnState {
    Affinity affinity = Affinity::blob;
    bool fits = true;    // every cell fits the affinity's type
    bool as_text = true; // every cell has a text form PostgreSQL text holds (and none is a BLOB)
};

std::string_view affinity_type(Affinity a) noexcept {
    switch (a) {
    case Affinity::integer: return "bigint";
    case Affinity::text: return "text";
    case Affinity::real: return "double precision";
    case Affinity::numeric: return "numeric";
    case Affinity::blob: break;
    }
    return "bytea";
}

// Whether a non-NULL cell has a text form PostgreSQL text holds (UTF-8 without NUL); a BLOB never does
// here, so that a column holding one keeps its bytes apart from text.
bool holds_text(const Cell& cell) { return cell.type != Cell::Type::blob && text_or_null(cell).has_value(); }

// Whether a non-NULL cell fits the type its column's affinity proposes (`text_ok`: holds_text).
bool fits(Affinity a, const Cell& cell, bool text_ok) {
    switch (a) {
    case Affinity::integer: return cell.type == Cell::Type::integer;
    case Affinity::text: return cell.type == Cell::Type::text && text_ok;
    case Affinity::blob: return cell.type == Cell::Type::blob;
    case Affinity::real: return cell.type == Cell::Type::real;
    case Affinity::numeric:
        return cell.type == Cell::Type::integer || (cell.type == Cell::Type::real && std::isfinite(cell.real));
    }
    return false;
}

// A non-NULL cell's bytes: text and blob as stored, INTEGER its digits, REAL its shortest round-trip
// decimal (what float8 and numeric read back exactly) or the float8 spelling of a non-finite value.
std::string cell_bytes(const Cell& cell) {
    switch (cell.type) {
    case Cell::Type::integer: return std::to_string(cell.integer);
    case Cell::Type::real:
        if (std::isnan(cell.real)) return "NaN";
        if (std::isinf(cell.real)) return cell.real > 0 ? "Infinity" : "-Infinity";
        return shortest_decimal(cell.real).value();
    case Cell::Type::text:
    case Cell::Type::blob: return std::string(cell.bytes);
    case Cell::Type::null: break;
    }
    return {};
}

// bytea input syntax (hex), for the staging table: any byte goes through, NUL and invalid UTF-8 too.
std::string bytea_hex(std::string_view bytes) {
    static constexpr std::string_view k_digits = "0123456789abcdef";
    std::string out = "\\x";
    out.reserve(2 + 2 * bytes.size());
    for (const char c : bytes) {
        const auto b = static_cast<unsigned char>(c);
        out += k_digits[b >> 4U];
        out += k_digits[b & 0x0fU];
    }
    return out;
}

std::string_view chosen_type(const ColumnState& s) noexcept {
    if (s.fits) return affinity_type(s.affinity);
    return s.as_text ? "text" : "bytea";
}

// The staged bytea column as the chosen type.
std::string converted(std::string_view staged, std::string_view type) {
    if (type == "bytea") return std::string(staged);
    if (type == "text") return fmt::format("convert_from({}, 'UTF8')", staged);
    return fmt::format("convert_from({}, 'UTF8')::{}", staged, type);
}

} // namespace

Affinity affinity_of(std::string_view declared_type) noexcept {
    std::string upper(declared_type);
    std::transform(upper.begin(), upper.end(), upper.begin(),
                   [](unsigned char c) { return static_cast<char>(std::toupper(c)); });
    const auto has = [&](std::string_view part) { return upper.find(part) != std::string::npos; };
    if (has("INT")) return Affinity::integer;
    if (has("CHAR") || has("CLOB") || has("TEXT")) return Affinity::text;
    if (has("BLOB") || upper.empty()) return Affinity::blob;
    if (has("REAL") || has("FLOA") || has("DOUB")) return Affinity::real;
    return Affinity::numeric;
}

store::LoadStats Target::write_corporate_actions(std::span<const CorporateAction> actions) {
    static constexpr MergeSpec k_spec{"corporate_actions", k_action_key, k_action_values,
                                      "ord bigint, symbol text, ex_date date, kind text, value numeric, source text"};
    return write_batch(m_conn, k_spec, actions, k_action_copy,
                       [](pg::CopyWriter& copy, std::size_t i, const CorporateAction& a) {
                           copy.row(i, a.symbol, util::format_date(a.ex_date), a.kind, a.value, a.source);
                       });
}

store::LoadStats Target::write_asset_info(std::span<const AssetInfo> infos) {
    static constexpr MergeSpec k_spec{"asset_info", k_info_key, k_info_values,
                                      "ord bigint, symbol text, info jsonb, fetched_at timestamptz, source text"};
    return write_batch(m_conn, k_spec, infos, k_info_copy, [](pg::CopyWriter& copy, std::size_t i, const AssetInfo& a) {
        copy.row(i, a.symbol, a.info, a.fetched_at, a.source);
    });
}

store::LoadStats Target::write_option_quotes(std::span<const OptionQuote> quotes) {
    static constexpr MergeSpec
        k_spec{"option_quotes", k_option_key, k_option_values,
               "ord bigint, symbol text, side text, expiration date, strike numeric, contract_symbol text,"
               " last_price numeric, bid numeric, ask numeric, implied_volatility numeric, volume bigint,"
               " open_interest bigint, in_the_money boolean, fetched_at timestamptz, source text"};
    return write_batch(m_conn, k_spec, quotes, k_option_copy,
                       [](pg::CopyWriter& copy, std::size_t i, const OptionQuote& q) {
                           copy.row(i, q.symbol, q.side, util::format_date(q.expiration), q.strike, q.contract_symbol,
                                    q.last_price, q.bid, q.ask, q.implied_volatility, q.volume, q.open_interest,
                                    q.in_the_money, q.fetched_at, q.source);
                       });
}

void Target::record_parity(std::int64_t run_id, std::string_view source_file, std::string_view layout,
                           const TableParity& parity) {
    util::JsonWriter reasons;
    reasons.start_object();
    for (const auto& [reason, count] : parity.rejected_by_reason)
        reasons.key(reason).number(static_cast<std::int64_t>(count));
    reasons.end_object();
    const std::optional<std::string_view> target =
        parity.target_table.empty() ? std::nullopt : std::optional<std::string_view>(parity.target_table);
    m_conn.exec("INSERT INTO migration_tables (run_id, source_table, source_file, layout, target_table, rows_read,"
                " rows_inserted, rows_updated, rows_unchanged, rows_rejected, rows_skipped, rejected_by_reason)"
                " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12::jsonb)"
                " ON CONFLICT (run_id, source_table) DO UPDATE SET source_file = EXCLUDED.source_file,"
                " layout = EXCLUDED.layout, target_table = EXCLUDED.target_table, rows_read = EXCLUDED.rows_read,"
                " rows_inserted = EXCLUDED.rows_inserted, rows_updated = EXCLUDED.rows_updated,"
                " rows_unchanged = EXCLUDED.rows_unchanged, rows_rejected = EXCLUDED.rows_rejected,"
                " rows_skipped = EXCLUDED.rows_skipped, rejected_by_reason = EXCLUDED.rejected_by_reason,"
                " recorded_at = now()",
                "writing migration_tables", run_id, parity.source_table, source_file, layout, target, parity.read,
                parity.inserted, parity.updated, parity.unchanged, parity.rejected, parity.skipped, reasons.text());
}

std::uint64_t Target::copy_verbatim(std::string_view table, const std::vector<ColumnInfo>& columns,
                                    const std::function<bool(std::vector<Cell>&)>& next_row) {
    const auto context = fmt::format("copying {} into legacy", table);
    const auto target = fmt::format("legacy.{}", m_conn.quote_identifier(table));
    pg::Transaction tx(m_conn, context);

    // Stage every row as bytea (c1, c2, ...), learning what each column holds on the way.
    std::vector<ColumnState> state(columns.size());
    std::vector<std::string> staged_names;
    std::string staging_definition;
    for (std::size_t i = 0; i < columns.size(); ++i) {
        state[i].affinity = affinity_of(columns[i].declared_type);
        staged_names.push_back(fmt::format("c{}", i + 1));
        fmt::format_to(std::back_inserter(staging_definition), "{}{} bytea", i == 0 ? "" : ", ", staged_names.back());
    }
    m_conn.exec(fmt::format("CREATE TEMP TABLE pg_temp.legacy_staging ({}) ON COMMIT DROP", staging_definition),
                context);
    const std::vector<std::string_view> copy_columns(staged_names.begin(), staged_names.end());
    pg::CopyWriter copy(m_conn, context);
    copy.begin("pg_temp.legacy_staging", copy_columns);
    std::vector<Cell> cells;
    std::vector<std::optional<std::string>> fields(columns.size());
    for (cells.clear(); next_row(cells); cells.clear()) {
        if (cells.size() != columns.size())
            throw std::invalid_argument(fmt::format("copy_verbatim: a row of {} has {} cells for {} columns", table,
                                                    cells.size(), columns.size()));
        for (std::size_t i = 0; i < cells.size(); ++i) {
            const Cell& cell = cells[i];
            if (cell.type == Cell::Type::null) {
                fields[i].reset();
                continue;
            }
            const bool text_ok = holds_text(cell);
            state[i].fits = state[i].fits && fits(state[i].affinity, cell, text_ok);
            state[i].as_text = state[i].as_text && text_ok;
            fields[i] = bytea_hex(cell_bytes(cell));
        }
        copy.row_values(fields);
    }
    const auto rows = copy.end();

    // The legacy table: kept (truncated) when its columns and types are the ones chosen, else made anew.
    std::string definition;
    std::string selected;
    std::vector<std::pair<std::string, std::string>> wanted;
    for (std::size_t i = 0; i < columns.size(); ++i) {
        const auto type = chosen_type(state[i]);
        wanted.emplace_back(columns[i].name, type);
        fmt::format_to(std::back_inserter(definition), "{}{} {}", i == 0 ? "" : ", ",
                       m_conn.quote_identifier(columns[i].name), type);
        fmt::format_to(std::back_inserter(selected), "{}{}", i == 0 ? "" : ", ", converted(staged_names[i], type));
    }
    m_conn.exec("CREATE SCHEMA IF NOT EXISTS legacy", context);
    const auto existing = m_conn.exec("SELECT a.attname, format_type(a.atttypid, a.atttypmod) FROM pg_attribute a"
                                      " WHERE a.attrelid = to_regclass($1) AND a.attnum > 0 AND NOT a.attisdropped"
                                      " ORDER BY a.attnum",
                                      context, target);
    bool same = existing.rows() > 0 && static_cast<std::size_t>(existing.rows()) == wanted.size();
    for (int r = 0; same && r < existing.rows(); ++r) {
        const auto& [name, type] = wanted[static_cast<std::size_t>(r)];
        same = existing.get(r, 0) == name && existing.get(r, 1) == type;
    }
    if (same) {
        m_conn.exec(fmt::format("TRUNCATE {}", target), context);
    } else {
        m_conn.exec(fmt::format("DROP TABLE IF EXISTS {}", target), context);
        m_conn.exec(fmt::format("CREATE TABLE {} ({})", target, definition), context);
    }
    m_conn.exec(fmt::format("INSERT INTO {} SELECT {} FROM pg_temp.legacy_staging", target, selected), context);
    tx.commit();
    return rows;
}

void Target::move_run_history(const std::function<bool(PastRun&)>& next_run,
                              const std::function<bool(PastReject&)>& next_reject, TableParity& runs,
                              TableParity& rejects) {
    const std::string context = "moving etl_runs and rejected_rows";
    pg::Transaction tx(m_conn, context);
    std::unordered_map<std::int64_t, std::int64_t> written; // old id -> new id: runs inserted or updated now
    std::unordered_set<std::int64_t> unchanged;
    PastRun run;
    while (next_run(run)) {
        const auto& c = run.counts;
        auto r = m_conn.exec(
            "INSERT INTO etl_runs AS e (job, arguments, shard, host, pid, started_at, finished_at, status, exit_code,"
            " symbols_requested, symbols_ok, symbols_failed, rows_inserted, rows_updated, rows_unchanged,"
            " rows_rejected, error, migrated_from) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13,"
            " $14, $15, $16, $17, $18) ON CONFLICT (migrated_from) WHERE migrated_from IS NOT NULL DO UPDATE SET"
            " finished_at = EXCLUDED.finished_at, status = EXCLUDED.status, exit_code = EXCLUDED.exit_code,"
            " symbols_requested = EXCLUDED.symbols_requested, symbols_ok = EXCLUDED.symbols_ok,"
            " symbols_failed = EXCLUDED.symbols_failed, rows_inserted = EXCLUDED.rows_inserted,"
            " rows_updated = EXCLUDED.rows_updated, rows_unchanged = EXCLUDED.rows_unchanged,"
            " rows_rejected = EXCLUDED.rows_rejected, error = EXCLUDED.error"
            " WHERE (e.finished_at, e.status, e.exit_code, e.symbols_requested, e.symbols_ok, e.symbols_failed,"
            " e.rows_inserted, e.rows_updated, e.rows_unchanged, e.rows_rejected, e.error) IS DISTINCT FROM"
            " (EXCLUDED.finished_at, EXCLUDED.status, EXCLUDED.exit_code, EXCLUDED.symbols_requested,"
            " EXCLUDED.symbols_ok, EXCLUDED.symbols_failed, EXCLUDED.rows_inserted, EXCLUDED.rows_updated,"
            " EXCLUDED.rows_unchanged, EXCLUDED.rows_rejected, EXCLUDED.error)"
            " RETURNING id, (xmax = 0)",
            context, run.job, run.arguments, run.shard, run.host, run.pid, run.started_at, run.finished_at, run.status,
            run.exit_code, c[0], c[1], c[2], c[3], c[4], c[5], c[6], run.error, migrated_run_key(run));
        if (r.rows() == 0) {
            unchanged.insert(run.id);
            ++runs.unchanged;
            continue;
        }
        const auto id = r.get_int(0, 0);
        written.emplace(run.id, id);
        if (r.get(0, 1) == "t") {
            ++runs.inserted;
        } else {
            // A run that was still going when last moved (or changed since): its rejects move again whole.
            m_conn.exec("DELETE FROM rejected_rows WHERE run_id = $1", context, id);
            ++runs.updated;
        }
    }
    pg::CopyWriter copy(m_conn, context);
    copy.begin("rejected_rows", std::array<std::string_view, 7>{"run_id", "source", "symbol", "timeframe", "raw",
                                                                "reason", "created_at"});
    PastReject rej;
    while (next_reject(rej)) {
        const auto it = rej.run_id ? written.find(*rej.run_id) : written.end();
        if (it != written.end()) {
            // Scrubbed like every reject this version records (store::schema::reject_row).
            copy.row(it->second, rej.source, rej.symbol, rej.timeframe, util::scrub(rej.raw), util::scrub(rej.reason),
                     rej.created_at);
            ++rejects.inserted;
        } else if (rej.run_id && unchanged.count(*rej.run_id) > 0) {
            ++rejects.unchanged;
        } else {
            ++rejects.skipped; // of no run, or of a run the file does not hold
        }
    }
    copy.end();
    tx.commit();
}

std::string migrated_run_key(const PastRun& run) {
    return fmt::format("market-etl run {} (job {}, host {}, pid {}, started {})", run.id, run.job, run.host,
                       run.pid ? std::to_string(*run.pid) : "-", util::format_instant(run.started_at));
}

} // namespace etl::migrate
