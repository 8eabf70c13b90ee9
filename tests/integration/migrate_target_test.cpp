// The PostgreSQL side of etl-migrate-sqlite beyond bars (migrate::Target over migration 0004): exact
// stored values, inserted / updated / unchanged on a first load, a re-run that writes nothing, a changed
// row, the parity rows and the verbatim copy of an unmapped table.
#include "etl/migrate/target.hpp"
#include "etl/store/pg_store.hpp"
#include "integration/test_db.hpp"

#include <catch2/catch.hpp>
#include <fmt/format.h>

#include <chrono>
#include <cstdint>
#include <limits>
#include <string>
#include <string_view>
#include <vector>

using namespace std::chrono;
using namespace etl;

namespace {

// A migrated database and a Target over its connection.
struct Fixture {
    test::ScratchDatabase db;
    store::PgStore store{db.url(), "etl-integration-tests", store::StoreOptions{}};
    migrate::Target target{store.connection()};

    Fixture() { store.migrate(); }

    // The first column of the first row as text ("NULL" for NULL): one value per question.
    std::string scalar(std::string_view sql) {
        const auto r = store.connection().exec(sql, "test query");
        REQUIRE(r.rows() == 1);
        return r.is_null(0, 0) ? std::string("NULL") : std::string(r.get(0, 0));
    }
};

migrate::CorporateAction action(std::string symbol, sys_days ex_date, std::string kind, std::string value) {
    return {std::move(symbol), ex_date, std::move(kind), std::move(value), "stockula"};
}

bool same(const store::LoadStats& s, std::uint64_t inserted, std::uint64_t updated, std::uint64_t unchanged) {
    INFO("inserted " << s.inserted << ", updated " << s.updated << ", unchanged " << s.unchanged);
    return s.inserted == inserted && s.updated == updated && s.unchanged == unchanged && s.rejected == 0;
}

// Every row version of a table: the same text after a write means nothing was written.
constexpr std::string_view k_versions =
    "SELECT string_agg(xmin::text || '/' || ingested_at::text, ',' ORDER BY {}) FROM {}";

} // namespace

TEST_CASE("migrate::Target writes corporate actions once, and again only what changed", "[integration][pg][migrate]") {
    Fixture f;
    std::vector<migrate::CorporateAction> batch{
        action("AAPL", year{2020} / 8 / 31, "split", "4"),
        action("AAPL", year{2024} / 2 / 9, "dividend", "0.24"),
        action("BRK-B", year{1999} / 1 / 4, "dividend", "0.0000001"),
    };
    CHECK(same(f.target.write_corporate_actions(batch), 3, 0, 0));
    CHECK(f.scalar("SELECT string_agg(symbol || ' ' || ex_date || ' ' || kind || ' ' || value || ' ' || source, '; '"
                   " ORDER BY symbol, ex_date) FROM corporate_actions") ==
          "AAPL 2020-08-31 split 4 stockula; AAPL 2024-02-09 dividend 0.24 stockula; "
          "BRK-B 1999-01-04 dividend 0.0000001 stockula");

    const auto versions = fmt::format(k_versions, "symbol, ex_date, kind", "corporate_actions");
    const auto before = f.scalar(versions);
    CHECK(same(f.target.write_corporate_actions(batch), 0, 0, 3));
    CHECK(f.scalar(versions) == before);

    batch[1].value = "0.25";
    CHECK(same(f.target.write_corporate_actions(batch), 0, 1, 2));
    CHECK(f.scalar("SELECT value FROM corporate_actions WHERE symbol = 'AAPL' AND kind = 'dividend'") == "0.25");
    CHECK(f.scalar("SELECT count(*) FROM corporate_actions") == "3");

    // A dividend and a split on one date are two rows; one key twice in a batch is one row, the last.
    const std::vector<migrate::CorporateAction> same_day{
        action("MSFT", year{2003} / 2 / 18, "dividend", "0.08"),
        action("MSFT", year{2003} / 2 / 18, "split", "2"),
        action("MSFT", year{2003} / 2 / 18, "dividend", "0.16"),
    };
    CHECK(same(f.target.write_corporate_actions(same_day), 2, 0, 1));
    CHECK(f.scalar("SELECT string_agg(kind || '=' || value, ',' ORDER BY kind) FROM corporate_actions"
                   " WHERE symbol = 'MSFT'") == "dividend=0.16,split=2");
    CHECK(same(f.target.write_corporate_actions({}), 0, 0, 0));

    // The table's own checks: no other kind.
    const std::vector bad{action("MSFT", year{2003} / 2 / 18, "spinoff", "1")};
    CHECK_THROWS_AS(f.target.write_corporate_actions(bad), pg::DbError);
    CHECK(f.scalar("SELECT count(*) FROM corporate_actions") == "5");
}

TEST_CASE("migrate::Target writes asset info as jsonb, compared as JSON", "[integration][pg][migrate]") {
    Fixture f;
    const sys_seconds fetched = sys_days{year{2025} / 7 / 28} + hours{14} + minutes{3} + seconds{9};
    std::vector<migrate::AssetInfo> batch{
        {"AAPL", R"({"longName": "Apple Inc.", "beta": 1.50, "trailingPE": null, "tags": ["a", "b"]})", fetched,
         "stockula"},
        {"^IRX", R"({"longName":"13 WEEK TREASURY BILL"})", fetched + days{1}, "stockula"},
    };
    CHECK(same(f.target.write_asset_info(batch), 2, 0, 0));
    CHECK(f.scalar("SELECT info::text FROM asset_info WHERE symbol = 'AAPL'") ==
          R"({"beta": 1.50, "tags": ["a", "b"], "longName": "Apple Inc.", "trailingPE": null})");
    CHECK(f.scalar("SELECT info->>'longName' FROM asset_info WHERE symbol = '^IRX'") == "13 WEEK TREASURY BILL");
    CHECK(f.scalar("SELECT to_char(fetched_at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS') || ' ' || source"
                   " FROM asset_info WHERE symbol = 'AAPL'") == "2025-07-28 14:03:09 stockula");
    CHECK(f.scalar("SELECT fetched_at = '2025-07-29 14:03:09+00' FROM asset_info WHERE symbol = '^IRX'") == "t");

    // The same JSON written differently (key order, spacing, 1.5 for 1.50) is the same value: nothing written.
    const auto versions = fmt::format(k_versions, "symbol", "asset_info");
    const auto before = f.scalar(versions);
    batch[0].info = R"({"tags":["a","b"],"trailingPE":null,"beta":1.5,"longName":"Apple Inc."})";
    CHECK(same(f.target.write_asset_info(batch), 0, 0, 2));
    CHECK(f.scalar(versions) == before);

    batch[0].info = R"({"longName": "Apple Inc.", "beta": 1.2})";
    CHECK(same(f.target.write_asset_info(batch), 0, 1, 1));
    CHECK(f.scalar("SELECT info::text FROM asset_info WHERE symbol = 'AAPL'") ==
          R"({"beta": 1.2, "longName": "Apple Inc."})");
    // A later fetch of the same description is a change too: fetched_at says when it was last seen.
    batch[1].fetched_at += days{30};
    CHECK(same(f.target.write_asset_info(batch), 0, 1, 1));
    CHECK(f.scalar("SELECT (fetched_at AT TIME ZONE 'UTC')::date FROM asset_info WHERE symbol = '^IRX'") ==
          "2025-08-28");

    // Not JSON: refused by jsonb, and nothing of the batch stays.
    const std::vector<migrate::AssetInfo> bad{{"MSFT", "{}", fetched, "stockula"},
                                              {"NVDA", "{NaN}", fetched, "stockula"}};
    CHECK_THROWS_AS(f.target.write_asset_info(bad), pg::DbError);
    CHECK(f.scalar("SELECT count(*) FROM asset_info") == "2");
}

TEST_CASE("migrate::Target writes option quotes keyed with a nullable contract symbol", "[integration][pg][migrate]") {
    Fixture f;
    const sys_seconds fetched = sys_days{year{2024} / 1 / 5} + hours{21};
    migrate::OptionQuote full;
    full.symbol = "AAPL";
    full.side = "call";
    full.expiration = year{2024} / 1 / 19;
    full.strike = "150";
    full.contract_symbol = "AAPL240119C00150000";
    full.last_price = "35.6";
    full.bid = "35.35";
    full.ask = "35.8";
    full.implied_volatility = "0.5703";
    full.volume = 12;
    full.open_interest = 3456;
    full.in_the_money = true;
    full.fetched_at = fetched;
    full.source = "stockula";
    migrate::OptionQuote bare; // no contract symbol, nothing but the key
    bare.symbol = "AAPL";
    bare.side = "call";
    bare.expiration = year{2024} / 1 / 19;
    bare.strike = "150";
    bare.fetched_at = fetched;
    bare.source = "stockula";
    auto bare_again = bare; // the same key: NULL contract symbols are equal here
    bare_again.bid = "1.75";
    auto put = full;
    put.side = "put";
    put.contract_symbol = "AAPL240119P00150000";
    put.in_the_money = false;
    put.volume.reset();

    std::vector batch{full, bare, bare_again, put};
    CHECK(same(f.target.write_option_quotes(batch), 3, 0, 1));
    CHECK(f.scalar("SELECT count(*) FROM option_quotes") == "3");
    CHECK(
        f.scalar("SELECT concat_ws(' ', side, expiration, strike, contract_symbol, last_price, bid, ask,"
                 " implied_volatility, volume, open_interest, in_the_money, fetched_at = '2024-01-05 21:00+00', source)"
                 " FROM option_quotes WHERE contract_symbol = 'AAPL240119C00150000'") ==
        "call 2024-01-19 150 AAPL240119C00150000 35.6 35.35 35.8 0.5703 12 3456 t t stockula");
    CHECK(f.scalar("SELECT concat_ws(',', bid, coalesce(last_price::text, 'null'), coalesce(volume::text, 'null'),"
                   " coalesce(in_the_money::text, 'null')) FROM option_quotes WHERE contract_symbol IS NULL") ==
          "1.75,null,null,null");
    CHECK(f.scalar("SELECT coalesce(volume::text, 'null') || ' ' || in_the_money::text FROM option_quotes WHERE side = "
                   "'put'") == "null false");

    const auto versions = fmt::format(k_versions, "side, contract_symbol", "option_quotes");
    const auto before = f.scalar(versions);
    CHECK(same(f.target.write_option_quotes(batch), 0, 0, 4));
    CHECK(f.scalar(versions) == before);

    // A NULL-contract row alone in a later batch updates the stored one (NULLS NOT DISTINCT).
    bare.bid = "1.8";
    const std::vector later{bare};
    CHECK(same(f.target.write_option_quotes(later), 0, 1, 0));
    CHECK(f.scalar("SELECT bid::text || ' ' || count(*) OVER () FROM option_quotes WHERE contract_symbol IS NULL") ==
          "1.8 1");
    CHECK(f.scalar("SELECT count(*) FROM option_quotes") == "3");
}

TEST_CASE("migrate::Target records each table's parity, once per run and table", "[integration][pg][migrate]") {
    Fixture f;
    const auto run = f.store.begin_run({"migrate-sqlite", "stockula.db", "0/1"});
    migrate::TableParity prices;
    prices.source_table = "price_history";
    prices.target_table = "price_bars";
    prices.read = 10;
    prices.inserted = 6;
    prices.updated = 1;
    prices.unchanged = 0;
    prices.rejected = 3;
    prices.rejected_by_reason = {{std::string(migrate::k_intraday_reason), 2}, {"close: \"x\" is not a number", 1}};
    migrate::TableParity strategies;
    strategies.source_table = "strategies";
    strategies.read = 4;
    strategies.skipped = 4;
    f.target.record_parity(run, "/data/stockula.db", "stockula (current)", prices);
    f.target.record_parity(run, "/data/stockula.db", "stockula (current)", strategies);

    const auto row = [&](std::string_view table) {
        return f.scalar(fmt::format(
            "SELECT concat_ws(' | ', source_file, layout, coalesce(target_table, 'NULL'), rows_read, rows_inserted,"
            " rows_updated, rows_unchanged, rows_rejected, rows_skipped, rejected_by_reason::text)"
            " FROM migration_tables WHERE run_id = {} AND source_table = '{}'",
            run, table));
    };
    CHECK(row("price_history") == "/data/stockula.db | stockula (current) | price_bars | 10 | 6 | 1 | 0 | 3 | 0 | "
                                  R"({"close: \"x\" is not a number": 1, )"
                                  R"("intraday row keyed by date only: its time is unknown": 2})");
    CHECK(row("strategies") == "/data/stockula.db | stockula (current) | NULL | 4 | 0 | 0 | 0 | 0 | 4 | {}");
    CHECK(f.scalar(fmt::format("SELECT rejected_by_reason->>'{}' FROM migration_tables WHERE source_table = "
                               "'price_history'",
                               migrate::k_intraday_reason)) == "2");

    // Recording a table again replaces its row.
    prices.updated = 0;
    prices.unchanged = 7;
    prices.rejected_by_reason.pop_back();
    prices.rejected = 2;
    prices.read = 9;
    f.target.record_parity(run, "/data/stockula.db", "stockula (current)", prices);
    CHECK(row("price_history") == "/data/stockula.db | stockula (current) | price_bars | 9 | 6 | 0 | 7 | 2 | 0 | "
                                  R"({"intraday row keyed by date only: its time is unknown": 2})");
    CHECK(f.scalar("SELECT count(*) FROM migration_tables") == "2");

    // A run that does not exist has no parity.
    CHECK_THROWS_AS(f.target.record_parity(run + 100, "x.db", "market-etl", strategies), pg::DbError);
}

TEST_CASE("migrate::affinity_of follows SQLite's rules in their order", "[integration][pg][migrate]") {
    using migrate::Affinity;
    CHECK(migrate::affinity_of("INTEGER") == Affinity::integer);
    CHECK(migrate::affinity_of("bigint") == Affinity::integer);
    CHECK(migrate::affinity_of("FLOATING POINT") == Affinity::integer); // "INT" comes first
    CHECK(migrate::affinity_of("VARCHAR(10)") == Affinity::text);
    CHECK(migrate::affinity_of("CHARINT") == Affinity::integer);
    CHECK(migrate::affinity_of("") == Affinity::blob);
    CHECK(migrate::affinity_of("blob") == Affinity::blob);
    CHECK(migrate::affinity_of("DOUBLE PRECISION") == Affinity::real);
    CHECK(migrate::affinity_of("FLOAT") == Affinity::real);
    CHECK(migrate::affinity_of("DATETIME") == Affinity::numeric);
    CHECK(migrate::affinity_of("BOOLEAN") == Affinity::numeric);
    CHECK(migrate::affinity_of("DECIMAL(10,5)") == Affinity::numeric);
}

TEST_CASE("migrate::Target copies an unmapped table verbatim, and a re-run exactly again",
          "[integration][pg][migrate]") {
    using migrate::Cell;
    Fixture f;
    const std::vector<migrate::ColumnInfo> columns{
        {"id", "INTEGER", true, 1},         {"Name", "VARCHAR", true, 0},  {"score", "REAL", false, 0},
        {"is_active", "BOOLEAN", false, 0}, {"payload", "BLOB", false, 0}, {"mixed", "", false, 0},
        {"notes", "TEXT", false, 0},
    };
    const std::string nul_text("a\0b", 3);
    const std::string bytes("\x00\xff\x10", 3);
    std::vector<std::vector<Cell>> rows{
        {Cell::of_integer(1), Cell::of_text("momentum \"fast\"\ttab"), Cell::of_real(0.1), Cell::of_integer(1),
         Cell::of_blob(bytes), Cell::of_integer(7), Cell::of_text("héllo")},
        {Cell::of_integer(2), Cell::of_text(""), Cell::of_real(-1e-7), Cell::of_real(0.5), Cell::null(),
         Cell::of_text("7"), Cell::null()},
        {Cell::of_integer(3), Cell::null(), Cell::null(), Cell::null(), Cell::null(), Cell::of_real(2.5),
         Cell::of_text(nul_text)},
    };
    const auto copy = [&] {
        std::size_t next = 0;
        return f.target.copy_verbatim("Strategy Presets", columns, [&](std::vector<Cell>& row) {
            if (next == rows.size()) return false;
            row = rows[next++];
            return true;
        });
    };
    CHECK(copy() == 3);
    // Types: clean columns keep their affinity's type; "mixed" (INTEGER, TEXT, REAL) is text; "notes"
    // holds a NUL, which PostgreSQL text cannot: bytea.
    CHECK(f.scalar(
              "SELECT string_agg(column_name || ':' || data_type, ',' ORDER BY ordinal_position)"
              " FROM information_schema.columns WHERE table_schema = 'legacy' AND table_name = 'Strategy Presets'") ==
          "id:bigint,Name:text,score:double precision,is_active:numeric,payload:bytea,mixed:text,notes:bytea");
    const auto contents =
        std::string("SELECT string_agg(concat_ws('|', id, coalesce(\"Name\", 'NULL'), score, is_active,"
                    " encode(payload, 'hex'), mixed, encode(notes, 'escape')), ';' ORDER BY id)"
                    " FROM legacy.\"Strategy Presets\"");
    const std::string expected =
        "1|momentum \"fast\"\ttab|0.1|1|00ff10|7|h\\303\\251llo;2||-1e-07|0.5|7;3|NULL|2.5|a\\000b";
    CHECK(f.scalar(contents) == expected);
    CHECK(f.scalar("SELECT score = 0.1::float8 FROM legacy.\"Strategy Presets\" WHERE id = 1") == "t");

    // A view on the table survives a re-run with the same types; the contents are exactly the source's.
    f.store.connection().exec("CREATE VIEW legacy.presets_view AS SELECT id FROM legacy.\"Strategy Presets\"", "test");
    CHECK(copy() == 3);
    CHECK(f.scalar(contents) == expected);
    CHECK(f.scalar("SELECT count(*) FROM legacy.presets_view") == "3");

    // Fewer rows and another class in a clean column: the table is made anew with the type that fits.
    rows.pop_back();
    rows[1][0] = Cell::of_text("two");
    f.store.connection().exec("DROP VIEW legacy.presets_view", "test");
    CHECK(copy() == 2);
    CHECK(f.scalar("SELECT string_agg(data_type, ',' ORDER BY ordinal_position) FROM information_schema.columns"
                   " WHERE table_schema = 'legacy' AND table_name = 'Strategy Presets'") ==
          "text,text,double precision,numeric,bytea,text,text");
    CHECK(f.scalar("SELECT string_agg(id, ',' ORDER BY id) FROM legacy.\"Strategy Presets\"") == "1,two");

    // A row with the wrong number of cells is the caller's bug, and nothing is written.
    rows[0].pop_back();
    CHECK_THROWS_AS(copy(), std::invalid_argument);
    CHECK(f.scalar("SELECT count(*) FROM legacy.\"Strategy Presets\"") == "2");
}

TEST_CASE("migrate::Target copies non-finite reals and empty tables verbatim", "[integration][pg][migrate]") {
    using migrate::Cell;
    Fixture f;
    constexpr double inf = std::numeric_limits<double>::infinity();
    const std::vector<migrate::ColumnInfo> columns{{"x", "DOUBLE", false, 0}, {"amount", "DECIMAL(10,2)", false, 0}};
    const std::vector<std::vector<Cell>> rows{{Cell::of_real(inf), Cell::of_integer(12)},
                                              {Cell::of_real(-inf), Cell::of_real(-inf)},
                                              {Cell::of_real(1e300), Cell::of_real(0.125)}};
    std::size_t next = 0;
    CHECK(f.target.copy_verbatim("reals", columns, [&](std::vector<Cell>& row) {
        if (next == rows.size()) return false;
        row = rows[next++];
        return true;
    }) == 3);
    // float8 holds the infinities; numeric of the declared DECIMAL does not here, so that column is text.
    CHECK(f.scalar("SELECT string_agg(x::text || '/' || amount || '/' || pg_typeof(x) || '/' || pg_typeof(amount),"
                   " ',' ORDER BY x) FROM legacy.reals") ==
          "-Infinity/-Infinity/double precision/text,1e+300/0.125/double precision/text,"
          "Infinity/12/double precision/text");

    // A table without rows takes its affinities' types.
    const std::vector<migrate::ColumnInfo> empty_columns{{"id", "INT", true, 1},
                                                         {"at", "DATETIME", false, 0},
                                                         {"raw", "", false, 0}};
    CHECK(f.target.copy_verbatim("empty", empty_columns, [](std::vector<Cell>&) { return false; }) == 0);
    CHECK(f.scalar("SELECT string_agg(column_name || ':' || data_type, ',' ORDER BY ordinal_position)"
                   " FROM information_schema.columns WHERE table_schema = 'legacy' AND table_name = 'empty'") ==
          "id:bigint,at:numeric,raw:bytea");
    CHECK(f.scalar("SELECT count(*) FROM legacy.empty") == "0");
}
