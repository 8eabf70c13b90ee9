// What both stores share about the tables sql/postgres and sql/sqlite define alike: column lists, the
// run ledger's statements, and how a bar, a reject, a quote or a run outcome becomes a row, written once.
#pragma once

#include "etl/market/asset.hpp"
#include "etl/market/bar.hpp"
#include "etl/market/quote.hpp"

#include <array>
#include <chrono>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <tuple>
#include <vector>

namespace etl::store {

struct RunOutcome;

// The SQL a store speaks.
enum class Dialect { postgres, sqlite };
std::string_view to_string(Dialect d) noexcept;

namespace schema {

// Statements written once for both dialects use the parameters $1, $2, ... in order of first
// appearance: PostgreSQL reads them by number, SQLite numbers named parameters in that order.

// The error recorded on a run closed because its process is gone.
inline constexpr std::string_view k_abandoned_run_error =
    "the process ended without recording an outcome (killed or crashed)";

// The current time as the dialect stores timestamps (timestamptz; ISO-8601 UTC text in SQLite).
std::string_view now_sql(Dialect d) noexcept;

// A condition on price_bars row `alias` that holds when the stored bar passes the rules a bar is loaded
// by (market::invalid_reason): prices positive and finite (below 1e300), high >= max(open, close),
// low <= min(open, close), volume and vwap non-negative when present, trade_count >= 0, ts on its
// timeframe's boundary (00:00 UTC; 1h on the hour).
std::string valid_bar_sql(Dialect d, std::string_view alias);

// etl_runs. Parameters: job, arguments, shard, host, pid; returns the new id.
inline constexpr std::string_view k_insert_run_sql =
    "INSERT INTO etl_runs (job, arguments, shard, host, pid) VALUES ($1, $2, $3, $4, $5) RETURNING id";
// Parameters: the run_outcome_row() values, then the run id.
std::string finish_run_sql(Dialect d);
// Closes the 'running' rows of one job and shard. Parameters: error, job, shard.
std::string close_running_runs_sql(Dialect d);
// The 'running' rows (id, shard) of one job outside one shard. Parameters: job, shard.
inline constexpr std::string_view k_running_runs_of_other_shards_sql =
    "SELECT id, shard FROM etl_runs WHERE job = $1 AND shard <> $2 AND status = 'running'";

// A run's outcome in the order finish_run_sql() takes it: status, exit_code, symbols_requested,
// symbols_ok, symbols_failed, rows_inserted, rows_updated, rows_unchanged, rows_rejected, error (NULL
// when empty). Text refers into `o`.
std::tuple<std::string_view, std::int64_t, std::int64_t, std::int64_t, std::int64_t, std::int64_t, std::int64_t,
           std::int64_t, std::int64_t, std::optional<std::string_view>>
run_outcome_row(const RunOutcome& o);

// price_bars, in the column order of bar_row().
inline constexpr std::array<std::string_view, 11> k_bar_columns = {"symbol", "timeframe",   "ts",    "open",
                                                                   "high",   "low",         "close", "volume",
                                                                   "vwap",   "trade_count", "source"};
// Bars of one symbol and timeframe inside a window. Parameters: symbol, timeframe, from, to.
inline constexpr std::string_view k_count_window_sql =
    "SELECT count(*) FROM price_bars WHERE symbol = $1 AND timeframe = $2 AND ts >= $3 AND ts <= $4";

// The exact decimal text of an optional number (NULL when absent); refers into `d`.
inline std::optional<std::string_view> decimal_text(const std::optional<market::Decimal>& d) {
    if (!d) return std::nullopt;
    return d->text;
}
inline std::optional<std::string_view> decimal_text(const market::OptionalDecimal& d) {
    if (!d) return std::nullopt;
    return d->text;
}

// A bar as its price_bars row (k_bar_columns order). Numbers stay the provider's exact text; text
// refers into `b`.
inline auto bar_row(const market::Bar& b) {
    return std::tuple(std::string_view(b.symbol), market::to_code(b.timeframe), b.ts, std::string_view(b.open.text),
                      std::string_view(b.high.text), std::string_view(b.low.text), std::string_view(b.close.text),
                      decimal_text(b.volume), decimal_text(b.vwap), b.trade_count, std::string_view(b.source));
}

// rejected_rows, in the column order of reject_row().
// The value columns of indicator_bars, one per indicator, in derive/indicators.hpp's order (its names):
// the published ones, then the state the recursive ones carry from bar to bar. The `indicators` view shows
// each non-NULL one as a (name, value) row.
inline constexpr std::array<std::string_view, 21> k_indicator_columns =
    {"rsi_14",        "rsi_9",  "sma_10",    "sma_20",          "sma_50",          "sma_200",        "ema_10",
     "ema_20",        "ema_50", "macd_line", "macd_signal",     "macd_hist",       "bb_upper_20_2",  "bb_middle_20_2",
     "bb_lower_20_2", "ema_12", "ema_26",    "rsi_14_avg_gain", "rsi_14_avg_loss", "rsi_9_avg_gain", "rsi_9_avg_loss"};

// Deletes the indicators of a symbol ($1) and timeframe ($2) from a bar ($3) on: run by load_bars in its
// transaction when bars from there on were inserted or updated (their indicators no longer hold).
inline constexpr std::string_view k_drop_stale_indicators_sql =
    "DELETE FROM indicator_bars WHERE symbol = $1 AND timeframe = $2 AND ts >= $3";

inline constexpr std::array<std::string_view, 6> k_reject_columns = {"run_id",    "source", "symbol",
                                                                     "timeframe", "raw",    "reason"};

// A rejected record as its rejected_rows row (k_reject_columns order). A provider may echo a key
// inside a bad record: raw and reason are scrubbed like logs.
std::tuple<std::int64_t, std::string_view, std::string_view, std::optional<std::string_view>, std::string, std::string>
reject_row(std::int64_t run_id, const market::RejectedRecord& r, std::optional<market::Timeframe> timeframe);

// latest_prices, in the column order of quote_row().
inline constexpr std::array<std::string_view, 7> k_latest_price_columns = {"symbol", "price",      "previous_close",
                                                                           "change", "change_pct", "as_of",
                                                                           "source"};

// A quote as its latest_prices row (k_latest_price_columns order); change and change_pct computed.
std::tuple<std::string_view, std::string_view, std::optional<std::string_view>, std::optional<std::string>,
           std::optional<std::string>, std::chrono::sys_seconds, std::string_view>
quote_row(const market::Quote& q);

// asset_identifiers (sql/*/0002): the identifiers of the providers without an assets column of their
// own (IdentifierSpec::assets_column false), one row per symbol and provider.
inline constexpr std::string_view k_identifier_select_sql =
    "SELECT symbol, provider, identifier FROM asset_identifiers";
// Parameters: symbol.
inline constexpr std::string_view k_delete_identifiers_sql = "DELETE FROM asset_identifiers WHERE symbol = $1";
// Parameters: symbol, provider, identifier.
inline constexpr std::string_view k_upsert_identifier_sql =
    "INSERT INTO asset_identifiers (symbol, provider, identifier) VALUES ($1, $2, $3)"
    " ON CONFLICT (symbol, provider) DO UPDATE SET identifier = excluded.identifier";

// True when `provider`'s identifiers are asset_identifiers rows (not an assets column).
bool identifier_in_table(std::string_view provider);

// Adds one asset_identifiers row to its asset in `assets` (sorted by symbol); a row of an asset not in
// `assets`, or of a provider the asset already has an identifier for (from its column), is ignored.
void attach_identifier(std::vector<market::Asset>& assets, std::string_view symbol, std::string_view provider,
                       std::string_view identifier);

// "a, b, c": a column list for SQL.
std::string column_list(std::span<const std::string_view> columns);

} // namespace schema
} // namespace etl::store
