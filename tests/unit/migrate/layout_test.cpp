// Layout recognition for etl-migrate-sqlite (issue 8 point 2) over PRAGMA table_info as the three real
// shapes give it: shared/reference/stockula.md §1 (current), §2 (legacy, also after create_all added the
// new tables) and our own sql/sqlite/0001-core.sql.
#include "etl/migrate/layout.hpp"

#include <catch2/catch.hpp>

#include <algorithm>
#include <string>
#include <vector>

using namespace etl::migrate;

namespace {

ColumnInfo col(std::string name, std::string type = "", bool notnull = false, int pk = 0) {
    return {std::move(name), std::move(type), notnull, pk};
}

// Stockula since 2025-07-28: SQLModel create_all, section 1 of stockula.md.
TableInfo stockula_current() {
    const auto stamps = [](std::vector<ColumnInfo> cols) {
        cols.push_back(col("created_at", "DATETIME"));
        cols.push_back(col("updated_at", "DATETIME"));
        return cols;
    };
    const auto options =
        stamps({col("id", "INTEGER", true, 1), col("symbol", "VARCHAR", true), col("expiration_date", "DATE", true),
                col("strike", "FLOAT", true), col("last_price", "FLOAT"), col("bid", "FLOAT"), col("ask", "FLOAT"),
                col("volume", "INTEGER"), col("open_interest", "INTEGER"), col("implied_volatility", "FLOAT"),
                col("in_the_money", "BOOLEAN"), col("contract_symbol", "VARCHAR")});
    return {
        {"stocks", stamps({col("symbol", "VARCHAR", true, 1), col("name", "VARCHAR"), col("sector", "VARCHAR"),
                           col("industry", "VARCHAR"), col("market_cap", "FLOAT"), col("exchange", "VARCHAR"),
                           col("currency", "VARCHAR")})},
        {"price_history",
         stamps({col("id", "INTEGER", true, 1), col("symbol", "VARCHAR", true), col("date", "DATE", true),
                 col("open_price", "FLOAT"), col("high_price", "FLOAT"), col("low_price", "FLOAT"),
                 col("close_price", "FLOAT"), col("volume", "INTEGER"), col("interval", "VARCHAR", true)})},
        {"dividends", stamps({col("id", "INTEGER", true, 1), col("symbol", "VARCHAR", true), col("date", "DATE", true),
                              col("amount", "FLOAT", true)})},
        {"splits", stamps({col("id", "INTEGER", true, 1), col("symbol", "VARCHAR", true), col("date", "DATE", true),
                           col("ratio", "FLOAT", true)})},
        {"options_calls", options},
        {"options_puts", options},
        {"stock_info", stamps({col("symbol", "VARCHAR", true, 1), col("info_json", "TEXT", true)})},
        {"strategies", {col("id", "INTEGER", true, 1), col("name", "VARCHAR", true)}},
        {"strategy_presets", {col("id", "INTEGER", true, 1), col("strategy_id", "INTEGER", true)}},
        {"autots_models", {col("id", "INTEGER", true, 1), col("name", "VARCHAR", true)}},
        {"autots_presets", {col("id", "INTEGER", true, 1), col("models", "VARCHAR", true)}},
        {"alembic_version", {col("version_num", "VARCHAR(32)", true, 1)}},
    };
}

// Stockula's raw SQL before that (§2): TEXT/REAL/TIMESTAMP, AUTOINCREMENT ids (so sqlite_sequence),
// interval nullable with DEFAULT '1d', updated_at only on stocks and stock_info.
TableInfo stockula_legacy() {
    const auto created = col("created_at", "TIMESTAMP");
    return {
        {"stocks",
         {col("symbol", "TEXT", false, 1), col("name", "TEXT"), col("sector", "TEXT"), col("industry", "TEXT"),
          col("market_cap", "REAL"), col("exchange", "TEXT"), col("currency", "TEXT"), created,
          col("updated_at", "TIMESTAMP")}},
        {"price_history",
         {col("id", "INTEGER", false, 1), col("symbol", "TEXT", true), col("date", "DATE", true),
          col("open_price", "REAL"), col("high_price", "REAL"), col("low_price", "REAL"), col("close_price", "REAL"),
          col("volume", "INTEGER"), col("interval", "TEXT"), created}},
        {"dividends",
         {col("id", "INTEGER", false, 1), col("symbol", "TEXT", true), col("date", "DATE", true),
          col("amount", "REAL", true), created}},
        {"splits",
         {col("id", "INTEGER", false, 1), col("symbol", "TEXT", true), col("date", "DATE", true),
          col("ratio", "REAL", true), created}},
        {"stock_info",
         {col("symbol", "TEXT", false, 1), col("info_json", "TEXT", true), created, col("updated_at", "TIMESTAMP")}},
        {"sqlite_sequence", {col("name"), col("seq")}},
    };
}

// Our own SQLite store, sql/sqlite/0001-core.sql.
TableInfo own_store() {
    return {
        {"assets",
         {col("symbol", "TEXT", true, 1), col("name", "TEXT", true), col("asset_class", "TEXT", true),
          col("exchange", "TEXT", true), col("currency", "TEXT", true), col("polygon_ticker", "TEXT"),
          col("coingecko_id", "TEXT"), col("yahoo_symbol", "TEXT"), col("active", "INTEGER", true),
          col("created_at", "TEXT", true), col("updated_at", "TEXT", true)}},
        {"price_bars",
         {col("symbol", "TEXT", true, 1), col("timeframe", "TEXT", true, 2), col("ts", "TEXT", true, 3),
          col("open", "NUMERIC", true), col("high", "NUMERIC", true), col("low", "NUMERIC", true),
          col("close", "NUMERIC", true), col("volume", "NUMERIC"), col("vwap", "NUMERIC"),
          col("trade_count", "INTEGER"), col("source", "TEXT", true), col("ingested_at", "TEXT", true)}},
        {"latest_prices",
         {col("symbol", "TEXT", true, 1), col("price", "NUMERIC", true), col("previous_close", "NUMERIC"),
          col("change", "NUMERIC"), col("change_pct", "NUMERIC"), col("as_of", "TEXT", true),
          col("source", "TEXT", true), col("updated_at", "TEXT", true)}},
        {"etl_runs",
         {col("id", "INTEGER", false, 1), col("job", "TEXT", true), col("started_at", "TEXT", true),
          col("status", "TEXT", true), col("error", "TEXT")}},
        {"rejected_rows",
         {col("id", "INTEGER", false, 1), col("run_id", "INTEGER"), col("source", "TEXT", true),
          col("symbol", "TEXT", true), col("timeframe", "TEXT"), col("raw", "TEXT", true),
          col("reason", "TEXT", true)}},
        {"asset_identifiers",
         {col("symbol", "TEXT", true, 1), col("provider", "TEXT", true, 2), col("identifier", "TEXT", true)}},
        {"schema_migrations", {col("version", "TEXT", false, 1)}},
    };
}

std::vector<std::string> table_names(const Recognised& r) {
    std::vector<std::string> names;
    for (const auto& t : r.tables) names.push_back(t.table);
    return names;
}

using Names = std::vector<std::string>;

const std::string k_expected =
    "expected stockula: stocks(symbol), "
    "price_history(symbol,date,open_price,high_price,low_price,close_price,volume,interval) or "
    "market-etl: assets(symbol,asset_class), price_bars(symbol,timeframe,ts,open,high,low,close)";

std::string error_of(const TableInfo& tables) {
    const auto r = recognise(tables);
    REQUIRE_FALSE(r.has_value());
    CHECK(r.error().find('\n') == std::string::npos);
    return r.error();
}

} // namespace

TEST_CASE("a current Stockula file: every market table mapped, parents first", "[unit][migrate]") {
    const auto r = recognise(stockula_current());
    REQUIRE(r.has_value());
    CHECK(r->layout == Layout::stockula_current);
    CHECK(to_string(r->layout) == "stockula (current)");
    CHECK(table_names(*r) ==
          Names{"stocks", "stock_info", "price_history", "dividends", "splits", "options_calls", "options_puts"});
    // alembic_version is bookkeeping, never read (§3): not even listed as left behind.
    CHECK(r->unmapped == Names{"autots_models", "autots_presets", "strategies", "strategy_presets"});
    const auto* prices = r->find("price_history");
    REQUIRE(prices != nullptr);
    // No id: it is a surrogate that INSERT OR REPLACE changes (§7.4).
    CHECK(prices->columns == Names{"symbol", "date", "open_price", "high_price", "low_price", "close_price", "volume",
                                   "interval", "created_at", "updated_at"});
    CHECK(prices->index_of("interval") == 7U);
    CHECK(prices->index_of("INTERVAL") == 7U);
    CHECK_FALSE(prices->index_of("id").has_value());
    CHECK(r->find("options_puts")->columns == Names{"symbol", "expiration_date", "strike", "last_price", "bid", "ask",
                                                    "volume", "open_interest", "implied_volatility", "in_the_money",
                                                    "contract_symbol", "created_at", "updated_at"});
    CHECK(r->find("stocks")->columns == Names{"symbol", "name", "sector", "industry", "market_cap", "exchange",
                                              "currency", "created_at", "updated_at"});
    CHECK(r->find("stock_info")->columns == Names{"symbol", "info_json", "created_at", "updated_at"});
}

TEST_CASE("a legacy Stockula file: nullable interval, no updated_at on five tables", "[unit][migrate]") {
    auto tables = stockula_legacy();
    SECTION("as the raw SQL made it") {}
    SECTION("after the new app ran create_all on it (§2): still legacy market tables") {
        const auto current = stockula_current();
        for (const auto* name :
             {"strategies", "strategy_presets", "autots_models", "autots_presets", "alembic_version"})
            tables.emplace(name, current.at(name));
    }
    const auto r = recognise(tables);
    REQUIRE(r.has_value());
    CHECK(r->layout == Layout::stockula_legacy);
    CHECK(to_string(r->layout) == "stockula (legacy)");
    CHECK(table_names(*r) == Names{"stocks", "stock_info", "price_history", "dividends", "splits"});
    CHECK(r->find("price_history")->columns == Names{"symbol", "date", "open_price", "high_price", "low_price",
                                                     "close_price", "volume", "interval", "created_at"});
    CHECK(r->find("dividends")->columns == Names{"symbol", "date", "amount", "created_at"});
    CHECK(r->find("stocks")->columns.back() == "updated_at");
    CHECK(r->find("options_calls") == nullptr); // often absent or empty (§7.9): nothing to read
    // sqlite_sequence is SQLite's own (the AUTOINCREMENT ids): never listed.
    CHECK(std::none_of(r->unmapped.begin(), r->unmapped.end(),
                       [](const std::string& t) { return t == "sqlite_sequence" || t == "alembic_version"; }));
}

TEST_CASE("a partly altered legacy file: updated_at on some tables only (§2)", "[unit][migrate]") {
    auto tables = stockula_legacy();
    tables.at("splits").push_back(col("updated_at", "DATETIME", true));
    const auto r = recognise(tables);
    REQUIRE(r.has_value());
    CHECK(r->layout == Layout::stockula_legacy);
    CHECK(r->find("splits")->columns == Names{"symbol", "date", "ratio", "created_at", "updated_at"});
    CHECK(r->find("dividends")->columns == Names{"symbol", "date", "amount", "created_at"});
}

TEST_CASE("our own SQLite store: assets, price_bars, latest_prices and the run history", "[unit][migrate]") {
    const auto r = recognise(own_store());
    REQUIRE(r.has_value());
    CHECK(r->layout == Layout::own_store);
    CHECK(to_string(r->layout) == "market-etl");
    CHECK(table_names(*r) == Names{"assets", "price_bars", "latest_prices", "etl_runs", "rejected_rows"});
    CHECK(r->unmapped == Names{"asset_identifiers"});
    CHECK(r->find("etl_runs")->columns == Names{"id", "job", "started_at", "status", "error"});
    CHECK(r->find("rejected_rows")->columns == Names{"run_id", "source", "symbol", "raw", "reason", "timeframe"});
    CHECK(r->find("price_bars")->columns == Names{"symbol", "timeframe", "ts", "open", "high", "low", "close", "volume",
                                                  "vwap", "trade_count", "source", "ingested_at"});
    CHECK(r->find("assets")->columns == Names{"symbol", "asset_class", "name", "exchange", "currency", "polygon_ticker",
                                              "coingecko_id", "yahoo_symbol", "active", "created_at", "updated_at"});
}

TEST_CASE("names match case-insensitively and are returned as the file spells them", "[unit][migrate]") {
    auto tables = stockula_current();
    auto prices = tables.extract("price_history");
    prices.key() = "Price_History";
    for (auto& c : prices.mapped())
        if (c.name == "symbol") c.name = "SYMBOL";
    tables.insert(std::move(prices));
    const auto r = recognise(tables);
    REQUIRE(r.has_value());
    const auto* found = r->find("price_history");
    REQUIRE(found != nullptr);
    CHECK(found->table == "Price_History");
    CHECK(found->columns.front() == "SYMBOL");
    CHECK(found->index_of("symbol") == 0U);
}

TEST_CASE("extra columns and tables are tolerated", "[unit][migrate]") {
    auto tables = stockula_current();
    tables.at("price_history").push_back(col("adjusted_close", "FLOAT"));
    tables.emplace("my_notes", std::vector{col("text")});
    const auto r = recognise(tables);
    REQUIRE(r.has_value());
    CHECK(r->find("price_history")->columns.size() == 10);
    CHECK(std::count(r->unmapped.begin(), r->unmapped.end(), "my_notes") == 1);
}

TEST_CASE("an unknown layout is one line: what was found, what was expected", "[unit][migrate]") {
    const TableInfo tables{{"foo", {col("a"), col("b")}}, {"bar", {col("c")}}};
    CHECK(error_of(tables) == "unknown layout: found tables bar(c), foo(a,b); " + k_expected);
    CHECK(error_of({}) == "unknown layout: found no tables; " + k_expected);
}

TEST_CASE("a layout with a missing table or column says what the closest one lacks", "[unit][migrate]") {
    auto tables = stockula_current();
    auto& prices = tables.at("price_history");
    prices.erase(std::find_if(prices.begin(), prices.end(), [](const ColumnInfo& c) { return c.name == "interval"; }));
    const auto message = error_of(tables);
    CHECK_THAT(message, Catch::StartsWith("unknown layout: found tables alembic_version(version_num), "));
    CHECK_THAT(message, Catch::EndsWith(k_expected + "; closest: stockula: price_history lacks interval"));

    auto own = own_store();
    own.erase("price_bars");
    CHECK_THAT(error_of(own), Catch::EndsWith("; closest: market-etl: no table price_bars"));
}

TEST_CASE("both layouts in one file are refused", "[unit][migrate]") {
    auto tables = stockula_legacy();
    tables.merge(own_store());
    CHECK_THAT(error_of(tables), Catch::StartsWith("ambiguous layout: found tables asset_identifiers(") &&
                                     Catch::EndsWith("or market-etl: assets(symbol,asset_class), "
                                                     "price_bars(symbol,timeframe,ts,open,high,low,close), not both"));
}

TEST_CASE("an optional table without a column the layout reads is refused, not skipped", "[unit][migrate]") {
    auto tables = stockula_current();
    tables.at("dividends") = {col("id"), col("symbol"), col("date")};
    CHECK(error_of(tables) == "stockula (current) layout, but table dividends lacks amount: found tables "
                              "dividends(id,symbol,date); expected dividends(symbol,date,amount)");
}

TEST_CASE("the unknown-layout line stays short for a large or odd file", "[unit][migrate]") {
    TableInfo tables;
    for (int t = 0; t < 30; ++t) {
        std::vector<ColumnInfo> columns;
        columns.reserve(20);
        for (int c = 0; c < 20; ++c) columns.push_back(col("column_" + std::to_string(c)));
        tables.emplace("table_" + std::to_string(100 + t), std::move(columns));
    }
    tables.emplace("zz odd\nname", std::vector{col(std::string(200, 'c'))}); // sorts last: cut off
    const auto message = error_of(tables);
    CHECK_THAT(message, Catch::StartsWith("unknown layout: found tables table_100(column_0,column_1,"));
    CHECK_THAT(message, Catch::Contains("column_9,...+10), table_101("));
    CHECK_THAT(message, Catch::Contains(", ...+19 more; expected"));
    CHECK(message.size() < 3000);

    const TableInfo odd{{"odd\nname \"x\"", {col(std::string(200, 'c'))}}};
    CHECK(error_of(odd) ==
          "unknown layout: found tables \"odd\\nname \\\"x\\\"\"(\"" + std::string(64, 'c') + "\"...); " + k_expected);
}
