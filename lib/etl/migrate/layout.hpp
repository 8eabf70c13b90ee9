// Which legacy SQLite layout a file holds, told from its tables and columns alone (PRAGMA table_info),
// and which of its columns the migrator reads. Never from alembic_version or index names: Stockula files
// are never upgraded in place, their Alembic bookkeeping is usually empty, and their indexes come and go
// (shared/reference/stockula.md §2-3, §7.1).
#pragma once

#include <tl/expected.hpp>

#include <cstddef>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace etl::migrate {

// One row of PRAGMA table_info: the column's name, its declared type as written (any text, or empty),
// NOT NULL, and its 1-based position in the primary key (0 when not part of it).
struct ColumnInfo {
    std::string name;
    std::string declared_type;
    bool notnull = false;
    int pk = 0;
};

// Every table of a file (sqlite_schema rows of type 'table') with its columns in PRAGMA table_info order.
using TableInfo = std::map<std::string, std::vector<ColumnInfo>>;

enum class Layout {
    own_store, // this project's SQLite store (sql/sqlite/): assets, price_bars, latest_prices, etl_runs, rejected_rows
    stockula_current, // Stockula since 2025-07-28 (SQLModel create_all): price_history.interval NOT NULL
    stockula_legacy,  // Stockula's hand-written SQL before it: interval nullable (NULL means 1d)
};

// "market-etl", "stockula (current)", "stockula (legacy)": for logs and the run report.
std::string_view to_string(Layout layout) noexcept;

// A source table the migrator reads, with the columns to SELECT: the required ones, then the optional
// ones the file has (updated_at is missing from five legacy tables, for instance), in the order the
// layout lists them, spelled as the file spells them (SQLite names are case-insensitive).
struct MappedTable {
    std::string table;
    std::vector<std::string> columns;

    // Position of `column` in `columns` (case-insensitive), nullopt when the file lacks it.
    [[nodiscard]] std::optional<std::size_t> index_of(std::string_view column) const;
};

struct Recognised {
    Layout layout = Layout::own_store;
    // In load order, parents first (stocks before the tables that reference it, stockula.md §7.7).
    std::vector<MappedTable> tables;
    // Tables that are neither read nor bookkeeping, by name: the run reports them as left behind
    // (Stockula's strategies and autots tables, our asset_identifiers, anything a user added).
    // SQLite's own sqlite_* tables, alembic_version and schema_migrations are not listed.
    std::vector<std::string> unmapped;

    // The mapped table the layout calls `table` (case-insensitive), nullptr when the file has none.
    [[nodiscard]] const MappedTable* find(std::string_view table) const;
};

// Recognises the layout by required tables and columns; extra columns and extra tables are tolerated.
// - market-etl: assets(symbol, asset_class) and price_bars(symbol, timeframe, ts, open, high, low, close).
// - stockula: stocks(symbol) and price_history(symbol, date, open_price, high_price, low_price,
//   close_price, volume, interval); current when price_history.interval is NOT NULL, legacy otherwise.
//   Optional tables: stock_info, dividends, splits, options_calls, options_puts.
// The error is one line for exit 66: what was found (abbreviated when long) and what was expected, also
// when a file has both layouts' tables or an optional table lacks a column the layout needs.
tl::expected<Recognised, std::string> recognise(const TableInfo& tables);

} // namespace etl::migrate
