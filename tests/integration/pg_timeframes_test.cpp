// PostgreSQL takes weekly and monthly bars (migration 0003), through the bar sink, on plain PostgreSQL
// and on each TimescaleDB server (tests/pg_target.sh), where the daily bars already loaded sit in
// compressed chunks when the weekly and monthly ones arrive and are loaded again.
#include "etl/pg/connection.hpp"
#include "etl/store/store.hpp"
#include "integration/test_db.hpp"

#include <catch2/catch.hpp>

#include <cstdlib>
#include <string_view>

using namespace std::chrono;
using namespace etl;

namespace {

market::Bar bar(market::Timeframe tf, sys_days d, const std::string& close) {
    market::Bar b;
    b.symbol = "AAPL";
    b.timeframe = tf;
    b.ts = sys_seconds{d};
    b.open = {"100.1", 100.1};
    b.high = {"250", 250};
    b.low = {"99.5", 99.5};
    b.close = {close, std::stod(close)};
    b.source = "test";
    return b;
}

std::string scalar(store::Query& q, std::string_view sql) {
    const auto r = q.rows(sql, {});
    REQUIRE(r.rows.size() == 1);
    return r.rows[0][0].value_or("NULL");
}

} // namespace

TEST_CASE("PostgreSQL store: 1wk and 1mo bars load beside compressed daily bars, idempotently", "[integration][pg]") {
    test::ScratchDatabase db;
    auto s = store::open_store(db.url(), "etl-integration-tests");
    s->migrate();
    const auto run = s->begin_run({"test", "", "0/1"});
    const sys_days first = year{2025} / 3 / 1;
    const store::Window window{sys_seconds{first}, sys_seconds{first + days{30}}};

    std::vector<market::Bar> daily;
    for (int d = 3; d <= 7; ++d) daily.push_back(bar(market::Timeframe::day, year{2025} / 3 / d, "238.03"));
    CHECK(s->load_bars("AAPL", market::Timeframe::day, window, daily, {}, run).inserted == 5);
    store::Query& q = *s;
    const bool timescaledb = s->describe().find("timescaledb") != std::string::npos;
    const char* target = std::getenv("ETL_TEST_PG_TARGET"); // the preloaded server compresses
    if (timescaledb && target != nullptr && std::string_view(target) == "timescaledb") {
        // Each chunk compressed by us or by the compression policy's job, whichever gets to it first: the
        // one that comes second fails with "is already compressed" (tests/e2e/harness.py, COMPRESS_ALL).
        pg::Connection c(db.url(), "etl-integration-tests");
        c.exec("DO $$ DECLARE c regclass; BEGIN FOR c IN SELECT show_chunks('price_bars') LOOP "
               "BEGIN PERFORM compress_chunk(c, if_not_compressed => true); "
               "EXCEPTION WHEN OTHERS THEN IF SQLERRM NOT LIKE '%is already compressed%' THEN RAISE; END IF; "
               "END; END LOOP; END $$",
               "compressing every chunk of price_bars");
        CHECK(scalar(q, "SELECT count(*) FROM chunk_compression_stats('price_bars') "
                        "WHERE compression_status = 'Compressed'") != "0");
    }

    const std::vector weekly = {bar(market::Timeframe::week, year{2025} / 3 / 3, "240.5"),
                                bar(market::Timeframe::week, year{2025} / 3 / 10, "241")};
    const std::vector monthly = {bar(market::Timeframe::month, year{2025} / 3 / 1, "239.25")};
    CHECK(s->load_bars("AAPL", market::Timeframe::week, window, weekly, {}, run).inserted == 2);
    CHECK(s->load_bars("AAPL", market::Timeframe::month, window, monthly, {}, run).inserted == 1);
    const auto again = s->load_bars("AAPL", market::Timeframe::week, window, weekly, {}, run);
    CHECK(again.inserted == 0);
    CHECK(again.unchanged == 2);
    CHECK(scalar(q, "SELECT string_agg(timeframe || '=' || n, ',' ORDER BY timeframe) FROM "
                    "(SELECT timeframe, count(*) AS n FROM price_bars GROUP BY timeframe) t") == "1d=5,1mo=1,1wk=2");
    CHECK(scalar(q, "SELECT close FROM price_bars WHERE timeframe = '1mo'") == "239.25");

    // Any other timeframe is still refused by the table itself.
    CHECK_THROWS(q.rows("INSERT INTO price_bars (symbol, timeframe, ts, open, high, low, close, source) "
                        "VALUES ('AAPL', '5m', now(), 1, 1, 1, 1, 'test')",
                        {}));
}

TEST_CASE("PostgreSQL store: a load that loses a deadlock is done again", "[integration][pg]") {
    test::ScratchDatabase db;
    auto s = store::open_store(db.url(), "etl-integration-tests");
    s->migrate();
    store::Query& q = *s;
    // The first row written fails its transaction as a deadlock victim would (a sequence is not rolled
    // back, so only the first attempt fails); the second attempt writes everything.
    q.rows("CREATE SEQUENCE deadlock_once");
    q.rows("CREATE FUNCTION deadlock_once() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
           "IF nextval('deadlock_once') = 1 THEN RAISE EXCEPTION 'simulated deadlock' USING ERRCODE = '40P01'; "
           "END IF; RETURN NEW; END $$");
    q.rows("CREATE TRIGGER deadlock_once BEFORE INSERT ON price_bars FOR EACH ROW EXECUTE FUNCTION deadlock_once()");
    const auto run = s->begin_run({"test", "", "0/1"});
    const sys_days first = year{2025} / 3 / 3;
    const store::Window window{sys_seconds{first}, sys_seconds{first + days{4}}};
    std::vector<market::Bar> daily;
    for (int d = 0; d < 5; ++d) daily.push_back(bar(market::Timeframe::day, first + days{d}, "238.03"));
    const std::vector<market::RejectedRecord> rejected = {{"AAPL", "test", "{}", "null open"}};
    const auto st = s->load_bars("AAPL", market::Timeframe::day, window, daily, rejected, run);
    CHECK(st.inserted == 5);
    CHECK(st.rejected == 1);
    CHECK(scalar(q, "SELECT count(*) FROM price_bars") == "5");
    CHECK(scalar(q, "SELECT count(*) FROM rejected_rows") == "1"); // once, not once per attempt
    CHECK(scalar(q, "SELECT last_value FROM deadlock_once") == "6");

    // The same through the merge of changed rows, on a connection that has not merged before: the
    // staging table the failed attempt created was rolled back with it, and is made again.
    q.rows("ALTER SEQUENCE deadlock_once RESTART WITH 1");
    for (auto& b : daily) b.close = {"240.5", 240.5};
    const auto changed = s->load_bars("AAPL", market::Timeframe::day, window, daily, {}, run);
    CHECK(changed.updated == 5);
    CHECK(scalar(q, "SELECT count(*) FROM price_bars WHERE close = 240.5") == "5");
}
