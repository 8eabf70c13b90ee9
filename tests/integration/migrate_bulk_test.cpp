// The bulk load's steps against a real server (migrate/bulk.hpp): the hold that keeps autovacuum off
// price_bars, the bounded wait for the table's lock, and the repair that attaches an index the build left.
#include "etl/migrate/bulk.hpp"
#include "etl/pg/connection.hpp"
#include "integration/test_db.hpp"

#include <catch2/catch.hpp>

#include <chrono>
#include <string>
#include <thread>

using namespace std::chrono_literals;
using namespace etl;

namespace {

constexpr std::string_view k_context = "testing the bulk load";

void create_price_bars(pg::Connection& c) {
    // A lock this test's own session should get at once, it gets within 3 s or the test fails (not hangs).
    c.exec("SET lock_timeout = '3s'", k_context);
    c.exec("CREATE TABLE price_bars (symbol text NOT NULL, timeframe text NOT NULL, ts timestamptz NOT NULL, "
           "close numeric, ingested_at timestamptz NOT NULL DEFAULT now(), "
           "CONSTRAINT price_bars_pkey PRIMARY KEY (symbol, timeframe, ts))",
           k_context);
}

// Whether this session gets the lock every VACUUM takes on price_bars at once.
bool vacuum_lock_free(pg::Connection& c) {
    pg::Transaction tx(c, k_context);
    try {
        c.exec("LOCK TABLE price_bars IN SHARE UPDATE EXCLUSIVE MODE NOWAIT", k_context);
        return true;
    } catch (const pg::DbError& e) {
        if (e.sqlstate() != "55P03") throw;
        return false;
    }
}

std::string key_index_oid(pg::Connection& c) {
    const auto r = c.exec("SELECT 'price_bars_pkey'::regclass::oid::text", k_context);
    return std::string(r.get(0, 0));
}

} // namespace

TEST_CASE("bulk: the autovacuum hold takes VACUUM's lock, lets inserts in, and ends with release or its session",
          "[integration][pg][migrate]") {
    test::ScratchDatabase db;
    pg::Connection main(db.url(), "etl-integration-tests");
    create_price_bars(main);
    REQUIRE(vacuum_lock_free(main));
    {
        pg::Connection held(db.url(), "etl-integration-tests");
        migrate::AutovacuumHold hold(held);
        CHECK_FALSE(vacuum_lock_free(main));
        main.exec("INSERT INTO price_bars (symbol, timeframe, ts, close) VALUES ('AAA', '1d', now(), 1)", k_context);
        hold.release();
        CHECK(vacuum_lock_free(main));
        hold.release(); // twice: nothing
    }
    {
        pg::Connection held(db.url(), "etl-integration-tests");
        migrate::AutovacuumHold hold(held);
        CHECK_FALSE(vacuum_lock_free(main));
        // The server ends the hold's session: its lock goes with it, and the release does not throw.
        const auto pid = held.exec("SELECT pg_backend_pid()::text", k_context);
        main.exec("SELECT pg_terminate_backend($1::int)", k_context, std::string(pid.get(0, 0)));
        for (int i = 0; i < 100 && !vacuum_lock_free(main); ++i) std::this_thread::sleep_for(20ms);
        CHECK(vacuum_lock_free(main));
        CHECK_NOTHROW(hold.release());
    }
}

TEST_CASE("bulk: a transaction holding price_bars sends the load down the indexed path after a short wait",
          "[integration][pg][migrate]") {
    test::ScratchDatabase db;
    pg::Connection main(db.url(), "etl-integration-tests");
    create_price_bars(main);
    pg::Connection reader(db.url(), "etl-integration-tests");
    {
        pg::Transaction open(reader, k_context);
        reader.exec("SELECT count(*) FROM price_bars", k_context); // ACCESS SHARE until the transaction ends
        const auto started = std::chrono::steady_clock::now();
        const auto choice = migrate::begin_bulk_load(main, 300ms);
        CHECK(std::chrono::steady_clock::now() - started < 5s);
        CHECK(choice.path == migrate::BarPath::indexed);
        CHECK(choice.why.find("another session") != std::string_view::npos);
        CHECK(migrate::has_primary_key(main));
        // The short wait was the transaction's own: the session's lock_timeout is as it was.
        CHECK(std::string(main.exec("SHOW lock_timeout", k_context).get(0, 0)) == "3s");
    }
    const auto choice = migrate::begin_bulk_load(main, 300ms);
    CHECK(choice.path == migrate::BarPath::bulk);
    CHECK_FALSE(migrate::has_primary_key(main));
    CHECK(migrate::restore_primary_key(main) == 0);
    CHECK(migrate::has_primary_key(main));
    // A row in the table: the indexed path, key kept.
    main.exec("INSERT INTO price_bars (symbol, timeframe, ts, close) VALUES ('AAA', '1d', now(), 1)", k_context);
    CHECK(migrate::begin_bulk_load(main).path == migrate::BarPath::indexed);
    CHECK(migrate::has_primary_key(main));
}

TEST_CASE("bulk: the repair attaches the index a build left, and rebuilds one that is not the key's",
          "[integration][pg][migrate]") {
    test::ScratchDatabase db;
    pg::Connection c(db.url(), "etl-integration-tests");
    create_price_bars(c);
    REQUIRE(migrate::begin_bulk_load(c).path == migrate::BarPath::bulk);
    c.exec("INSERT INTO price_bars (symbol, timeframe, ts, close) SELECT 'S' || (i % 7), '1d', "
           "timestamptz '2020-01-01 00:00:00+00' + i * interval '1 day', i FROM generate_series(1, 500) i",
           k_context);

    SECTION("the build's index, committed, becomes the key as it is") {
        migrate::build_key_index(c); // the run ends here, before attach_key_index
        CHECK_FALSE(migrate::has_primary_key(c));
        const auto built = key_index_oid(c);
        CHECK(migrate::restore_primary_key(c) == 0);
        CHECK(migrate::has_primary_key(c));
        CHECK(key_index_oid(c) == built);
    }
    SECTION("an index of the key's name on other columns is built again") {
        c.exec("CREATE UNIQUE INDEX price_bars_pkey ON price_bars (symbol, ts, timeframe)", k_context);
        const auto other = key_index_oid(c);
        CHECK(migrate::restore_primary_key(c) == 0);
        CHECK(migrate::has_primary_key(c));
        CHECK(key_index_oid(c) != other);
        const auto columns = c.exec("SELECT pg_get_indexdef('price_bars_pkey'::regclass)", k_context);
        CHECK(std::string(columns.get(0, 0)).find("(symbol, timeframe, ts)") != std::string::npos);
    }
    SECTION("an index on the key's columns the server will not take as the key (an order of its own) is built "
            "again") {
        c.exec("CREATE UNIQUE INDEX price_bars_pkey ON price_bars (symbol, timeframe, ts DESC)", k_context);
        const auto other = key_index_oid(c);
        CHECK(migrate::restore_primary_key(c) == 0);
        CHECK(migrate::has_primary_key(c));
        CHECK(key_index_oid(c) != other);
    }
    SECTION("rows that share a key: the last loaded is kept, then the key is built") {
        c.exec("INSERT INTO price_bars (symbol, timeframe, ts, close, ingested_at) SELECT symbol, timeframe, ts, "
               "close + 1000, ingested_at + interval '1 second' FROM price_bars WHERE close <= 10",
               k_context);
        CHECK(migrate::restore_primary_key(c) == 10);
        CHECK(migrate::has_primary_key(c));
        const auto r =
            c.exec("SELECT count(*)::text, count(*) FILTER (WHERE close > 1000)::text FROM price_bars", k_context);
        CHECK(std::string(r.get(0, 0)) == "500");
        CHECK(std::string(r.get(0, 1)) == "10");
    }
}
