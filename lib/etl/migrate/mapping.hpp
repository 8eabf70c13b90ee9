// How a source row becomes a target record (issue 8 points 3-5): pure functions from one row of a mapped
// table (migrate::Source::Reader's Cells, in the MappedTable's column order) to a bar, an asset, a
// quote, a corporate action, an info document or an option quote, or to the reason it cannot be one.
// A rejected row keeps its raw values (row_json) for rejected_rows.
#pragma once

#include "etl/market/asset.hpp"
#include "etl/market/bar.hpp"
#include "etl/market/quote.hpp"
#include "etl/migrate/layout.hpp"
#include "etl/migrate/records.hpp"
#include "etl/migrate/values.hpp"

#include <tl/expected.hpp>

#include <string>
#include <string_view>
#include <vector>

namespace etl::migrate {

using Row = std::vector<Cell>;

// The cell of `column` in `row`, NULL when the file lacks that (optional) column.
const Cell& cell(const MappedTable& table, const Row& row, std::string_view column);

// The row as one JSON object ({"table":"price_history","symbol":"AAPL","date":"2024-01-02",...}) for
// rejected_rows.raw: integers as numbers, REALs as their shortest text, blobs as hex, text as it is.
std::string row_json(const MappedTable& table, const Row& row);

// The row's symbol, upper-cased, when it is one the project can store (market::normalize_symbol);
// otherwise the reason.
tl::expected<std::string, std::string> row_symbol(const MappedTable& table, const Row& row);

// The `source` of a migrated Stockula record: its data came from yfinance through Stockula.
inline constexpr std::string_view k_stockula_source = "stockula";

// stocks -> assets: '' becomes absent, a '^' symbol is an index, every other symbol a stock (Stockula
// does not tell ETFs apart); active; no provider identifiers (the defaults apply when fetched).
tl::expected<market::Asset, std::string> stockula_asset(const MappedTable& table, const Row& row);
// assets (our own store) -> assets, the same meaning, identifiers from the provider columns.
tl::expected<market::Asset, std::string> own_asset(const MappedTable& table, const Row& row);

// price_history -> a bar at the session date 00:00 UTC with the timeframe of its interval, or the reason
// (intraday, a NULL price, a bad date, a value no number). The OHLC rules are market::validate_batch's.
tl::expected<market::Bar, std::string> stockula_bar(const MappedTable& table, const Row& row);
// price_bars (our own store) -> the same bar.
tl::expected<market::Bar, std::string> own_bar(const MappedTable& table, const Row& row);
// latest_prices (our own store) -> the same quote.
tl::expected<market::Quote, std::string> own_quote(const MappedTable& table, const Row& row);

// etl_runs and rejected_rows (our own store) -> the same rows, moved under new run ids (Target).
tl::expected<PastRun, std::string> own_run(const MappedTable& table, const Row& row);
tl::expected<PastReject, std::string> own_reject(const MappedTable& table, const Row& row);

// dividends (amount) and splits (ratio) -> corporate_actions.
tl::expected<CorporateAction, std::string> stockula_action(const MappedTable& table, const Row& row,
                                                           std::string_view kind);
// stock_info -> asset_info; `nonfinite` counts the bare NaN/Infinity tokens that became null.
tl::expected<AssetInfo, std::string> stockula_info(const MappedTable& table, const Row& row, std::size_t& nonfinite);
// options_calls / options_puts -> option_quotes, side "call" / "put".
tl::expected<OptionQuote, std::string> stockula_option(const MappedTable& table, const Row& row, std::string_view side);

} // namespace etl::migrate
