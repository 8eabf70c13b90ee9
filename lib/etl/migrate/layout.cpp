#include "etl/migrate/layout.hpp"

#include "etl/util/strings.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>

namespace etl::migrate {
namespace {

struct TableSpec {
    std::string_view name;
    bool required = false;
    std::vector<std::string_view> required_columns;
    std::vector<std::string_view> optional_columns;
};

struct LayoutSpec {
    std::string_view name; // as the error names it
    std::vector<TableSpec> tables;
};

// Our SQLite store, sql/sqlite/0001-core.sql, run history (etl_runs, rejected_rows) included.
const LayoutSpec& own_store_spec() {
    static const LayoutSpec spec{
        "market-etl",
        {{"assets",
          true,
          {"symbol", "asset_class"},
          {"name", "exchange", "currency", "polygon_ticker", "coingecko_id", "yahoo_symbol", "active", "created_at",
           "updated_at"}},
         {"price_bars",
          true,
          {"symbol", "timeframe", "ts", "open", "high", "low", "close"},
          {"volume", "vwap", "trade_count", "source", "ingested_at"}},
         {"latest_prices",
          false,
          {"symbol", "price", "as_of"},
          {"previous_close", "change", "change_pct", "source", "updated_at"}},
         {"etl_runs",
          false,
          {"id", "job", "started_at"},
          {"arguments", "shard", "host", "pid", "finished_at", "status", "exit_code", "symbols_requested", "symbols_ok",
           "symbols_failed", "rows_inserted", "rows_updated", "rows_unchanged", "rows_rejected", "error"}},
         {"rejected_rows", false, {"run_id", "source", "symbol", "raw", "reason"}, {"timeframe", "created_at"}}}};
    return spec;
}

// Stockula, both shapes (stockula.md §1-2): the same market tables and column names; the legacy DDL lacks
// updated_at on five tables. strategies, strategy_presets and autots_* have no target: unmapped.
const LayoutSpec& stockula_spec() {
    static const std::vector<std::string_view> k_stamps{"created_at", "updated_at"};
    static const LayoutSpec spec{"stockula",
                                 {{"stocks",
                                   true,
                                   {"symbol"},
                                   {"name", "sector", "industry", "market_cap", "exchange", "currency", "created_at",
                                    "updated_at"}},
                                  {"stock_info", false, {"symbol", "info_json"}, k_stamps},
                                  {"price_history",
                                   true,
                                   {"symbol", "date", "open_price", "high_price", "low_price", "close_price", "volume",
                                    "interval"},
                                   k_stamps},
                                  {"dividends", false, {"symbol", "date", "amount"}, k_stamps},
                                  {"splits", false, {"symbol", "date", "ratio"}, k_stamps},
                                  {"options_calls",
                                   false,
                                   {"symbol", "expiration_date", "strike"},
                                   {"last_price", "bid", "ask", "volume", "open_interest", "implied_volatility",
                                    "in_the_money", "contract_symbol", "created_at", "updated_at"}},
                                  {"options_puts",
                                   false,
                                   {"symbol", "expiration_date", "strike"},
                                   {"last_price", "bid", "ask", "volume", "open_interest", "implied_volatility",
                                    "in_the_money", "contract_symbol", "created_at", "updated_at"}}}};
    return spec;
}

// How much of a file the unknown-layout line shows, so it stays one readable line for any file.
constexpr std::size_t k_tables_shown = 12;
constexpr std::size_t k_columns_shown = 10;
constexpr std::size_t k_name_bytes_shown = 64;

// Bookkeeping of SQLite (sqlite_sequence, sqlite_stat1 ...), Alembic and our own migrations: no data.
bool is_bookkeeping(std::string_view table) {
    return util::iequals(table.substr(0, 7), "sqlite_") || util::iequals(table, "alembic_version") ||
           util::iequals(table, "schema_migrations");
}

// A name as the error shows it: plain when it is a plain identifier, else quoted with escapes (one line).
std::string shown(std::string_view name) {
    const bool plain =
        !name.empty() && name.size() <= k_name_bytes_shown && std::all_of(name.begin(), name.end(), [](char c) {
            return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '$';
        });
    if (plain) return std::string(name);
    const bool cut = name.size() > k_name_bytes_shown;
    return fmt::format("{:?}{}", name.substr(0, k_name_bytes_shown), cut ? "..." : "");
}

const std::vector<ColumnInfo>* find_table(const TableInfo& tables, std::string_view name) {
    for (const auto& [table, columns] : tables)
        if (util::iequals(table, name)) return &columns;
    return nullptr;
}

const ColumnInfo* find_column(const std::vector<ColumnInfo>& columns, std::string_view name) {
    for (const auto& c : columns)
        if (util::iequals(c.name, name)) return &c;
    return nullptr;
}

std::vector<std::string_view> missing_columns(const std::vector<ColumnInfo>& columns, const TableSpec& spec) {
    std::vector<std::string_view> missing;
    for (const auto name : spec.required_columns)
        if (!find_column(columns, name)) missing.push_back(name);
    return missing;
}

// "price_history(symbol,date,...)": a spec's required columns.
std::string expected_table(const TableSpec& spec) {
    return fmt::format("{}({})", spec.name, fmt::join(spec.required_columns, ","));
}

// "stockula: stocks(symbol), price_history(symbol,date,...)": a layout's required tables.
std::string expected_layout(const LayoutSpec& layout) {
    std::vector<std::string> parts;
    for (const auto& t : layout.tables)
        if (t.required) parts.push_back(expected_table(t));
    return fmt::format("{}: {}", layout.name, fmt::join(parts, ", "));
}

// "foo(a,b), bar(c)", at most k_tables_shown tables of at most k_columns_shown columns each.
std::string found_tables(const TableInfo& tables) {
    if (tables.empty()) return "found no tables";
    std::vector<std::string> parts;
    for (const auto& [table, columns] : tables) {
        if (parts.size() == k_tables_shown) break;
        std::vector<std::string> names;
        for (const auto& c : columns) {
            if (names.size() == k_columns_shown) {
                names.push_back(fmt::format("...+{}", columns.size() - k_columns_shown));
                break;
            }
            names.push_back(shown(c.name));
        }
        parts.push_back(fmt::format("{}({})", shown(table), fmt::join(names, ",")));
    }
    if (tables.size() > k_tables_shown) parts.push_back(fmt::format("...+{} more", tables.size() - k_tables_shown));
    return fmt::format("found tables {}", fmt::join(parts, ", "));
}

// Whether the file has every required table of `layout` with its required columns; `why` gets what is
// missing when the file has at least one of its required tables (a hint at the closest layout).
bool matches(const TableInfo& tables, const LayoutSpec& layout, std::vector<std::string>& why) {
    std::vector<std::string> lacks;
    bool any = false;
    for (const auto& spec : layout.tables) {
        if (!spec.required) continue;
        const auto* columns = find_table(tables, spec.name);
        if (!columns) {
            lacks.push_back(fmt::format("no table {}", spec.name));
            continue;
        }
        any = true;
        if (const auto missing = missing_columns(*columns, spec); !missing.empty())
            lacks.push_back(fmt::format("{} lacks {}", spec.name, fmt::join(missing, ",")));
    }
    if (any && !lacks.empty()) why.push_back(fmt::format("{}: {}", layout.name, fmt::join(lacks, ", ")));
    return lacks.empty();
}

tl::expected<MappedTable, std::string> map_table(const std::vector<ColumnInfo>& columns, std::string_view file_name,
                                                 const TableSpec& spec, std::string_view layout) {
    if (const auto missing = missing_columns(columns, spec); !missing.empty()) {
        const TableInfo one{{std::string(file_name), columns}};
        return tl::make_unexpected(fmt::format("{} layout, but table {} lacks {}: {}; expected {}", layout,
                                               shown(file_name), fmt::join(missing, ","), found_tables(one),
                                               expected_table(spec)));
    }
    MappedTable mapped{std::string(file_name), {}};
    for (const auto* list : {&spec.required_columns, &spec.optional_columns})
        for (const auto name : *list)
            if (const auto* c = find_column(columns, name)) mapped.columns.push_back(c->name);
    return mapped;
}

} // namespace

std::string_view to_string(Layout layout) noexcept {
    switch (layout) {
    case Layout::own_store: return "market-etl";
    case Layout::stockula_current: return "stockula (current)";
    case Layout::stockula_legacy: return "stockula (legacy)";
    }
    return "?"; // not reached: the switch names every layout
}

std::optional<std::size_t> MappedTable::index_of(std::string_view column) const {
    for (std::size_t i = 0; i < columns.size(); ++i)
        if (util::iequals(columns[i], column)) return i;
    return std::nullopt;
}

const MappedTable* Recognised::find(std::string_view table) const {
    // The layout's name for a table is the file's up to case: SQLite names are case-insensitive.
    for (const auto& t : tables)
        if (util::iequals(t.table, table)) return &t;
    return nullptr;
}

tl::expected<Recognised, std::string> recognise(const TableInfo& tables) {
    const auto& own = own_store_spec();
    const auto& stockula = stockula_spec();
    std::vector<std::string> why;
    const bool is_own = matches(tables, own, why);
    const bool is_stockula = matches(tables, stockula, why);
    if (is_own && is_stockula)
        return tl::make_unexpected(fmt::format("ambiguous layout: {}; expected either {} or {}, not both",
                                               found_tables(tables), expected_layout(stockula), expected_layout(own)));
    if (!is_own && !is_stockula)
        return tl::make_unexpected(fmt::format("unknown layout: {}; expected {} or {}{}{}", found_tables(tables),
                                               expected_layout(stockula), expected_layout(own),
                                               why.empty() ? "" : "; closest: ", fmt::join(why, "; ")));

    const auto& spec = is_own ? own : stockula;
    Recognised r;
    if (is_own) {
        r.layout = Layout::own_store;
    } else {
        const auto* interval = find_column(*find_table(tables, "price_history"), "interval");
        r.layout = interval->notnull ? Layout::stockula_current : Layout::stockula_legacy;
    }
    for (const auto& t : spec.tables) {
        const auto found = std::find_if(tables.begin(), tables.end(),
                                        [&](const auto& entry) { return util::iequals(entry.first, t.name); });
        if (found == tables.end()) continue;
        auto mapped = map_table(found->second, found->first, t, to_string(r.layout));
        if (!mapped) return tl::make_unexpected(std::move(mapped.error()));
        r.tables.push_back(std::move(*mapped));
    }
    for (const auto& entry : tables) {
        const auto& table = entry.first;
        const bool known = std::any_of(spec.tables.begin(), spec.tables.end(),
                                       [&](const TableSpec& t) { return util::iequals(t.name, table); });
        if (!known && !is_bookkeeping(table)) r.unmapped.push_back(table);
    }
    return r;
}

} // namespace etl::migrate
