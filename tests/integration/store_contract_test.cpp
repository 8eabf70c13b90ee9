// One store contract, the same Catch2 cases on PostgreSQL (a fresh database per case, on the server of
// the PG* environment: plain PostgreSQL, and each TimescaleDB server through tests/pg_target.sh) and on
// a fresh SQLite file. Each case reaches the store only through its roles, as new commands will.
#include "etl/store/store.hpp"
#include "integration/test_db.hpp"

#include <catch2/catch.hpp>

#include <memory>

using namespace std::chrono;
using namespace etl;

namespace {

struct PostgresBackend {
    static constexpr store::Dialect k_dialect = store::Dialect::postgres;
    test::ScratchDatabase db;
    std::unique_ptr<store::Store> open() { return store::open_store(db.url(), "etl-integration-tests"); }
};

struct SqliteBackend {
    static constexpr store::Dialect k_dialect = store::Dialect::sqlite;
    test::SqliteFile file;
    std::unique_ptr<store::Store> open() { return store::open_store("sqlite:" + file.path, "etl-integration-tests"); }
};

market::Decimal dec(const std::string& text) { return {text, std::stod(text)}; }

sys_seconds day(int d) { return sys_seconds{sys_days{year{2025} / 3 / d}}; }

market::Bar bar(const std::string& symbol, int d, const std::string& close) {
    market::Bar b;
    b.symbol = symbol;
    b.timeframe = market::Timeframe::day;
    b.ts = day(d);
    b.open = dec("100.10");
    b.high = dec("250.00");
    b.low = dec("99.50");
    b.close = dec(close);
    b.volume = dec("4.7227643e+07");
    b.trade_count = 612004;
    b.source = "test";
    return b;
}

const store::Window k_window{day(3), day(7)};

market::Quote quote(const std::string& symbol, const std::string& price) {
    market::Quote q;
    q.symbol = symbol;
    q.price = dec(price);
    q.previous_close = dec("100");
    q.as_of = day(5) + 15h;
    q.source = "test";
    return q;
}

// The only value of a one-row, one-column query.
std::optional<std::string> scalar(store::Query& q, std::string_view sql, const std::vector<store::Value>& params = {}) {
    const auto r = q.rows(sql, params);
    REQUIRE(r.rows.size() == 1);
    REQUIRE(r.rows[0].size() == 1);
    return r.rows[0][0];
}

// Counts price_bars rows of `symbol` through the query role (what etl-validate holds).
std::string count_bars(store::Query& q, const std::string& symbol) {
    return scalar(q, "SELECT count(*) FROM price_bars WHERE symbol = $1", {symbol}).value_or("NULL");
}

} // namespace

TEMPLATE_TEST_CASE("store contract: migrations apply once, and the store says what it is", "[integration][contract]",
                   PostgresBackend, SqliteBackend) {
    TestType backend;
    auto s = backend.open();
    CHECK_FALSE(s->migrate().empty());
    CHECK(s->migrate().empty());
    auto again = backend.open();
    CHECK(again->migrate().empty());
    CHECK(s->dialect() == TestType::k_dialect);
    CHECK_THAT(s->describe(),
               Catch::StartsWith(TestType::k_dialect == store::Dialect::postgres ? "postgresql" : "sqlite:"));
}

TEMPLATE_TEST_CASE("store contract: the run ledger records runs, outcomes, rejects and locks",
                   "[integration][contract]", PostgresBackend, SqliteBackend) {
    TestType backend;
    auto s = backend.open();
    s->migrate();
    auto other = backend.open();
    store::RunLedger& ledger = *s;

    CHECK(ledger.try_lock(store::run_lock_name("test", "0/1")));
    CHECK_FALSE(other->try_lock(store::run_lock_name("test", "0/1"))); // exclusive across handles
    CHECK(other->try_lock(store::run_lock_name("test", "1/2")));

    const auto run = ledger.begin_run({"test", "1Y AAPL", "0/1"});
    CHECK(run > 0);
    const std::vector<market::RejectedRecord> rejects = {{"AAPL", "test", "{\"t\":1}", "null open"},
                                                         {"AAPL", "test", "tab\there", "line\nbreak"}};
    ledger.record_rejects(rejects, std::nullopt, run);
    ledger.record_rejects({}, market::Timeframe::day, run); // nothing to record: no transaction, no error

    store::RunOutcome o;
    o.status = store::RunStatus::partial;
    o.exit_code = 65;
    o.symbols_requested = 2;
    o.symbols_ok = 1;
    o.symbols_failed = 1;
    o.rows.inserted = 5;
    o.rows.rejected = 2;
    o.error = "one symbol failed";
    ledger.finish_run(run, o);

    store::Query& q = *s;
    const auto r = q.rows("SELECT job, arguments, shard, status, exit_code, symbols_ok, rows_inserted, rows_rejected, "
                          "error, finished_at IS NOT NULL FROM etl_runs WHERE id = $1",
                          {std::to_string(run)});
    REQUIRE(r.rows.size() == 1);
    CHECK(r.columns.size() == 10);
    CHECK(r.columns[0] == "job");
    const auto& row = r.rows[0];
    CHECK(row[0] == "test");
    CHECK(row[1] == "1Y AAPL");
    CHECK(row[2] == "0/1");
    CHECK(row[3] == "partial");
    CHECK(row[4] == "65");
    CHECK(row[5] == "1");
    CHECK(row[6] == "5");
    CHECK(row[7] == "2");
    CHECK(row[8] == "one symbol failed");
    CHECK((row[9] == "t" || row[9] == "1"));

    const auto rej = q.rows("SELECT raw, reason, timeframe FROM rejected_rows WHERE run_id = $1 ORDER BY reason",
                            {std::to_string(run)});
    REQUIRE(rej.rows.size() == 2);
    CHECK(rej.rows[0][0] == "tab\there");
    CHECK(rej.rows[0][1] == "line\nbreak");
    CHECK_FALSE(rej.rows[0][2]); // no timeframe: NULL
    CHECK(rej.rows[1][1] == "null open");

    // A successful run has no error: NULL, not "".
    const auto ok_run = ledger.begin_run({"test", "", "0/1"});
    ledger.finish_run(ok_run, {});
    CHECK_FALSE(scalar(q, "SELECT error FROM etl_runs WHERE id = $1", {std::to_string(ok_run)}));
    CHECK(scalar(q, "SELECT status FROM etl_runs WHERE id = $1", {std::to_string(ok_run)}) == "success");
}

TEMPLATE_TEST_CASE("store contract: the bar sink loads idempotently and counts what changed", "[integration][contract]",
                   PostgresBackend, SqliteBackend) {
    TestType backend;
    auto s = backend.open();
    s->migrate();
    const auto run = s->begin_run({"test", "", "0/1"});
    store::BarSink& sink = *s;

    std::vector<market::Bar> bars = {bar("AAPL", 3, "238.03"), bar("AAPL", 4, "241.79"), bar("AAPL", 5, "235.74")};
    bars[2].volume.reset();
    bars[2].trade_count.reset();
    const std::vector<market::RejectedRecord> rejected = {{"AAPL", "test", R"({"t":1,"o":null})", "null open"}};
    auto st = sink.load_bars("AAPL", market::Timeframe::day, k_window, bars, rejected, run);
    CHECK(st.inserted == 3);
    CHECK(st.updated == 0);
    CHECK(st.unchanged == 0);
    CHECK(st.rejected == 1);

    st = sink.load_bars("AAPL", market::Timeframe::day, k_window, bars, {}, run);
    CHECK(st.inserted == 0);
    CHECK(st.updated == 0);
    CHECK(st.unchanged == 3);

    bars[1].close = dec("241.80");
    bars.push_back(bar("AAPL", 6, "236.00"));
    st = sink.load_bars("AAPL", market::Timeframe::day, k_window, bars, {}, run);
    CHECK(st.inserted == 1);
    CHECK(st.updated == 1);
    CHECK(st.unchanged == 2);

    // Another symbol and timeframe are separate.
    auto hourly = bar("AAPL", 3, "1.00");
    hourly.timeframe = market::Timeframe::hour;
    CHECK(sink.load_bars("AAPL", market::Timeframe::hour, k_window, std::vector{hourly}, {}, run).inserted == 1);

    store::Query& q = *s;
    CHECK(count_bars(q, "AAPL") == "5");
    CHECK(scalar(q, "SELECT count(*) FROM price_bars WHERE symbol = $1 AND volume IS NULL AND trade_count IS NULL",
                 {std::string("AAPL")}) == "1");
    CHECK(scalar(q, "SELECT count(*) FROM rejected_rows WHERE run_id = $1 AND timeframe = '1d'",
                 {std::to_string(run)}) == "1");
    CHECK(scalar(q, "SELECT trade_count FROM price_bars WHERE symbol = 'AAPL' AND timeframe = '1d' AND close = 236") ==
          "612004");
}

TEMPLATE_TEST_CASE("store contract: the quote sink upserts latest prices, leaving unchanged rows alone",
                   "[integration][contract]", PostgresBackend, SqliteBackend) {
    TestType backend;
    auto s = backend.open();
    s->migrate();
    store::QuoteSink& sink = *s;
    std::vector<market::Quote> quotes = {quote("AAPL", "110"), quote("BTC", "64000.5")};
    auto st = sink.upsert_latest_prices(quotes);
    CHECK(st.inserted == 2);
    CHECK(st.updated == 0);
    st = sink.upsert_latest_prices(quotes);
    CHECK(st.unchanged == 2);
    quotes[1].price = dec("64100");
    quotes[1].previous_close.reset();
    st = sink.upsert_latest_prices(quotes);
    CHECK(st.inserted == 0);
    CHECK(st.updated == 1);
    CHECK(st.unchanged == 1);
    store::Query& q = *s;
    CHECK(scalar(q, "SELECT count(*) FROM latest_prices WHERE change IS NULL AND previous_close IS NULL") == "1");
    CHECK(scalar(q, "SELECT source FROM latest_prices WHERE symbol = $1", {std::string("AAPL")}) == "test");
}

TEMPLATE_TEST_CASE("store contract: the asset catalog inserts missing assets and upserts", "[integration][contract]",
                   PostgresBackend, SqliteBackend) {
    TestType backend;
    auto s = backend.open();
    s->migrate();
    store::AssetCatalog& catalog = *s;
    market::Asset a;
    a.symbol = "AAPL";
    a.name = "Apple";
    a.identifiers["polygon"] = "AAPL";
    CHECK(catalog.upsert_assets(std::vector{a}) == 1);
    a.name = "changed";
    a.active = false;
    CHECK(catalog.insert_missing_assets(std::vector{a}) == 0);
    CHECK(catalog.find_asset("AAPL")->name == "Apple");
    CHECK(catalog.find_asset("AAPL")->identifier("polygon") == "AAPL");
    CHECK(catalog.upsert_assets(std::vector{a}) == 0);
    CHECK(catalog.find_asset("AAPL")->name == "changed");
    CHECK(catalog.list_assets(true).empty());
    CHECK(catalog.list_assets(false).size() == 1);
    CHECK_FALSE(catalog.find_asset("NOPE"));
}

TEMPLATE_TEST_CASE("store contract: the query role loads a temporary table and joins it with the store's tables",
                   "[integration][contract]", PostgresBackend, SqliteBackend) {
    TestType backend;
    auto s = backend.open();
    s->migrate();
    const auto run = s->begin_run({"test", "", "0/1"});
    s->load_bars("MSFT", market::Timeframe::day, k_window, std::vector{bar("MSFT", 3, "398.10"), bar("MSFT", 4, "399")},
                 {}, run);

    store::Query& q = *s;
    const std::vector<std::string> columns = {"symbol", "odd \"name\"\twith tab"};
    const std::vector<store::Row> rows = {{"MSFT", "back\\slash\nnew line"}, {"AAPL", std::nullopt}, {"MSFT", ""}};
    CHECK(q.load_temp_table("expected symbols", columns, rows) == 3);

    auto r = q.rows("SELECT * FROM \"expected symbols\" ORDER BY symbol, 2");
    REQUIRE(r.rows.size() == 3);
    CHECK(r.columns == columns);
    CHECK(r.rows[0] == store::Row{"AAPL", std::nullopt});
    CHECK(r.rows[1] == store::Row{"MSFT", ""});
    CHECK(r.rows[2] == store::Row{"MSFT", "back\\slash\nnew line"});

    CHECK(scalar(q, "SELECT count(*) FROM \"expected symbols\" e JOIN price_bars p ON p.symbol = e.symbol") == "4");
    // Parameters are matched by number, whatever order they appear in.
    CHECK(scalar(q,
                 "SELECT count(*) FROM \"expected symbols\" WHERE symbol = $2 AND \"odd \"\"name\"\"\twith tab\" = $1",
                 {std::string(""), std::string("MSFT")}) == "1");

    // Loading the same name again replaces the table.
    CHECK(q.load_temp_table("expected symbols", std::vector<std::string>{"symbol"}, std::vector<store::Row>{{"X"}}) ==
          1);
    CHECK(scalar(q, "SELECT count(*) FROM \"expected symbols\"") == "1");
    // An empty table is a table.
    CHECK(q.load_temp_table("empty", std::vector<std::string>{"a", "b"}, {}) == 0);
    CHECK(scalar(q, "SELECT count(*) FROM empty") == "0");
    // The temporary table is this store's: another handle does not see it.
    auto other = backend.open();
    CHECK_THROWS(other->rows("SELECT count(*) FROM empty"));
}
