// Both stores against the real thing: a PostgreSQL database created for this file (dropped at the end;
// kept when ETL_KEEP_TEST_DB=1) and real SQLite files.
#include "etl/pg/connection.hpp"
#include "etl/store/pg_store.hpp"
#include "etl/store/sqlite_store.hpp"
#include "etl/util/clock.hpp"
#include "etl/util/error.hpp"
#include "etl/util/secrets.hpp"
#include "integration/test_db.hpp"

#include <catch2/catch.hpp>
#include <fmt/format.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <thread>
#include <unistd.h>

using namespace std::chrono;
using namespace etl;

namespace {

sys_days ymd(int y, unsigned m, unsigned d) { return sys_days{year{y} / month{m} / day{d}}; }

market::Decimal dec(const std::string& text) { return {text, std::stod(text)}; }

market::Bar bar(const std::string& symbol, sys_days d, const std::string& close) {
    market::Bar b;
    b.symbol = symbol;
    b.timeframe = market::Timeframe::day;
    b.ts = sys_seconds{d};
    b.open = dec("100.10");
    b.high = dec("250.00");
    b.low = dec("99.50");
    b.close = dec(close);
    b.volume = dec("4.7227643e+07");
    b.vwap = dec("101.2345");
    b.trade_count = 612004;
    b.source = "test";
    return b;
}

const store::Window k_window{sys_seconds{ymd(2025, 3, 3)}, sys_seconds{ymd(2025, 3, 7)}};

using test::SqliteFile;
using test::TestDatabase;

// The same behaviour is required of both stores.
void check_store_contract(store::Store& s, store::Store& second_handle) {
    const auto first = s.migrate();
    CHECK_FALSE(first.empty());
    CHECK(s.migrate().empty()); // idempotent

    const auto run = s.begin_run({"test", "1Y AAPL", "0/1"});
    CHECK(run > 0);

    std::vector<market::Bar> bars = {bar("AAPL", ymd(2025, 3, 3), "238.03"),
                                     bar("AAPL", ymd(2025, 3, 4), "241.7899932861328"),
                                     bar("AAPL", ymd(2025, 3, 5), "235.74")};
    std::vector<market::RejectedRecord> rejected = {{"AAPL", "test", R"({"t":1,"o":null})", "null open"}};

    auto st = s.load_bars("AAPL", market::Timeframe::day, k_window, bars, rejected, run);
    CHECK(st.inserted == 3);
    CHECK(st.updated == 0);
    CHECK(st.rejected == 1);

    // Re-running the same load changes nothing.
    st = s.load_bars("AAPL", market::Timeframe::day, k_window, bars, {}, run);
    CHECK(st.inserted == 0);
    CHECK(st.updated == 0);
    CHECK(st.unchanged == 3);

    // One changed value, one new day: exactly one update and one insert.
    bars[1].close = dec("241.80");
    bars.push_back(bar("AAPL", ymd(2025, 3, 6), "236.00"));
    st = s.load_bars("AAPL", market::Timeframe::day, k_window, bars, {}, run);
    CHECK(st.inserted == 1);
    CHECK(st.updated == 1);
    CHECK(st.unchanged == 2);

    // for_each_close: every bar of the window once, with its epoch and the close's double; none outside
    // the window, none of another symbol or timeframe.
    std::map<std::int64_t, double> closes;
    s.for_each_close("AAPL", market::Timeframe::day, {sys_seconds{ymd(2025, 3, 4)}, sys_seconds{ymd(2025, 3, 6)}},
                     false, [&](std::int64_t epoch, double close) { CHECK(closes.emplace(epoch, close).second); });
    CHECK(closes == std::map<std::int64_t, double>{{sys_seconds{ymd(2025, 3, 4)}.time_since_epoch().count(), 241.80},
                                                   {sys_seconds{ymd(2025, 3, 5)}.time_since_epoch().count(), 235.74},
                                                   {sys_seconds{ymd(2025, 3, 6)}.time_since_epoch().count(), 236.00}});
    std::size_t elsewhere = 0;
    s.for_each_close("AAPL", market::Timeframe::hour, k_window, false, [&](std::int64_t, double) { ++elsewhere; });
    s.for_each_close("MSFT", market::Timeframe::day, k_window, false, [&](std::int64_t, double) { ++elsewhere; });
    CHECK(elsewhere == 0);

    // The lock is exclusive across handles (processes).
    CHECK(s.try_lock("historical:0/1"));
    CHECK_FALSE(second_handle.try_lock("historical:0/1"));
    CHECK(second_handle.try_lock("historical:1/2"));

    // Assets: insert-missing leaves existing rows alone; upsert overwrites.
    market::Asset a;
    a.symbol = "AAPL";
    a.name = "Apple";
    a.identifiers["polygon"] = "AAPL";
    CHECK(s.upsert_assets(std::vector{a}) == 1);
    a.name = "changed";
    a.active = false;
    CHECK(s.insert_missing_assets(std::vector{a}) == 0);
    CHECK(s.find_asset("AAPL")->name == "Apple");
    CHECK(s.upsert_assets(std::vector{a}) == 0);
    CHECK(s.find_asset("AAPL")->name == "changed");
    CHECK(s.list_assets(true).empty());
    CHECK(s.list_assets(false).size() == 1);
    CHECK_FALSE(s.find_asset("NOPE"));

    store::RunOutcome o;
    o.symbols_requested = 1;
    o.symbols_ok = 1;
    o.rows = st;
    s.finish_run(run, o);
}

} // namespace

TEST_CASE("PostgreSQL store: migrations, idempotent merge, locks, assets", "[integration][pg]") {
    const auto& db = TestDatabase::instance();
    store::PgStore s(db.url(), "etl-integration-tests", {});
    store::PgStore other(db.url(), "etl-integration-tests", {});
    check_store_contract(s, other);

    auto& c = s.connection();
    // Provider decimals are kept exactly, exponent volumes become the exact number.
    auto r = c.exec(
        "SELECT close::text, volume::text, vwap::text FROM price_bars WHERE symbol = 'AAPL' AND ts = '2025-03-05'",
        "reading back");
    REQUIRE(r.rows() == 1);
    CHECK(r.get(0, 0) == "235.74");
    CHECK(r.get(0, 1) == "47227643");
    CHECK(r.get(0, 2) == "101.2345");
    r = c.exec("SELECT count(*) FROM rejected_rows WHERE reason = 'null open' AND raw LIKE '%\"o\":null%'",
               "reading back");
    CHECK(r.get(0, 0) == "1");
    r = c.exec("SELECT status, symbols_ok FROM etl_runs", "reading back");
    CHECK(r.get(0, 0) == "success");
    CHECK(s.describe().starts_with("postgresql"));
}

TEST_CASE("PostgreSQL store: a failing symbol load leaves nothing behind, rejects included", "[integration][pg]") {
    const auto& db = TestDatabase::instance();
    store::PgStore s(db.url(), "etl-integration-tests", {});
    s.migrate();
    const auto run = s.begin_run({"test", "", "0/1"});
    std::vector<market::Bar> bars = {bar("MSFT", ymd(2025, 3, 3), "398.10"), bar("MSFT", ymd(2025, 3, 4), "1")};
    bars[1].close.text = "not-a-number"; // passes our validation's double, fails PostgreSQL's numeric input
    std::vector<market::RejectedRecord> rejected = {{"MSFT", "test", "{}", "a reject that must roll back too"}};
    CHECK_THROWS_AS(s.load_bars("MSFT", market::Timeframe::day, k_window, bars, rejected, run), pg::DbError);
    auto r = s.connection().exec("SELECT (SELECT count(*) FROM price_bars WHERE symbol = 'MSFT'), "
                                 "(SELECT count(*) FROM rejected_rows WHERE symbol = 'MSFT')",
                                 "reading back");
    CHECK(r.get(0, 0) == "0");
    CHECK(r.get(0, 1) == "0");
    // The connection is usable again after the rollback.
    bars[1].close = dec("399.00");
    CHECK(s.load_bars("MSFT", market::Timeframe::day, k_window, bars, {}, run).inserted == 2);
}

TEST_CASE("PostgreSQL errors carry SQLSTATE and map to exit codes", "[integration][pg]") {
    CHECK_THROWS_AS(pg::Connection("postgresql://127.0.0.1:1/x", "t"), pg::DbError);
    try {
        pg::Connection("postgresql://etl:hunter2-secret@127.0.0.1:1/x", "t");
    } catch (const pg::DbError& e) {
        CHECK(e.code() == util::ExitCode::temporary);
        CHECK_THAT(std::string(e.what()), !Catch::Contains("hunter2-secret"));
    }
    const auto& db = TestDatabase::instance();
    pg::Connection c(db.url(), "t");
    try {
        c.exec("SELECT * FROM no_such_table", "reading a table that is not there");
        FAIL("expected an error");
    } catch (const pg::DbError& e) {
        CHECK(e.sqlstate() == "42P01");
        CHECK(e.code() == util::ExitCode::internal);
        CHECK_THAT(std::string(e.what()), Catch::Contains("reading a table that is not there"));
    }
    // A role without the privilege (a schema it may not create in), and a server that takes no writes: the
    // configuration's to fix (78), said in the one line. Neither is a bug of ours (70).
    const auto create_table_fails_with = [&c](const std::string& state, const std::string& fix) {
        try {
            c.exec("CREATE TABLE denied_here (x int)", "creating a table");
            FAIL("expected an error");
        } catch (const pg::DbError& e) {
            CHECK(e.sqlstate() == state);
            CHECK(e.code() == util::ExitCode::config);
            CHECK_THAT(std::string(e.what()), Catch::Contains("creating a table") && Catch::Contains(fix));
        }
    };
    const std::string role = fmt::format("etl_no_grants_{}", getpid());
    c.exec("DROP ROLE IF EXISTS " + role, "dropping a test role");
    c.exec("CREATE ROLE " + role, "creating a test role");
    c.exec("REVOKE CREATE ON SCHEMA public FROM PUBLIC", "revoking CREATE on public (PostgreSQL 15's default)");
    c.exec("SET ROLE " + role, "becoming the test role");
    create_table_fails_with("42501", "grant it, or connect as a role that has it");
    c.exec("RESET ROLE", "becoming the superuser again");
    c.exec("DROP ROLE " + role, "dropping the test role");
    c.exec("SET default_transaction_read_only = on", "making the session read-only");
    create_table_fails_with("25006", "point database_url at the primary");
}

TEST_CASE("SQLite store: same contract on a real file", "[integration][sqlite]") {
    SqliteFile f;
    store::SqliteStore s(f.path);
    store::SqliteStore other(f.path);
    check_store_contract(s, other);
    sqlite::Database db(f.path, sqlite::Database::Mode::read_only);
    auto q = db.prepare("SELECT close, volume, ts FROM price_bars WHERE symbol = 'AAPL' ORDER BY ts LIMIT 1");
    REQUIRE(q.step());
    CHECK(q.real(0) == Approx(238.03));
    CHECK(q.integer(1) == 47227643);
    CHECK(q.text(2) == "2025-03-03T00:00:00Z");
    auto j = db.prepare("PRAGMA journal_mode");
    REQUIRE(j.step());
    CHECK(j.text(0) == "wal");
}

TEST_CASE("SQLite store: not-a-database input is reported as such", "[integration][sqlite]") {
    SqliteFile f;
    { std::ofstream(f.path) << "this is not an sqlite file, just text long enough to have a header............"; }
    // As an input (the file etl-migrate-sqlite reads): 66.
    try {
        sqlite::Database input(f.path, sqlite::Database::Mode::read_only);
        input.exec("SELECT count(*) FROM sqlite_master");
        FAIL("expected an error");
    } catch (const sqlite::SqliteError& e) {
        CHECK(e.code() == util::ExitCode::no_input);
    }
    // As the store database_url names: a configuration error (78) naming database_url and the fix.
    try {
        store::SqliteStore s(f.path);
        s.migrate();
        FAIL("expected an error");
    } catch (const Error& e) {
        CHECK(e.code() == util::ExitCode::config);
        CHECK_THAT(std::string(e.what()),
                   Catch::Contains("database_url sqlite:" + f.path) && Catch::Contains("not an SQLite database"));
    }
}

TEST_CASE("SQLite store: a truncated or read-only file is a configuration error", "[integration][sqlite]") {
    SqliteFile f;
    {
        store::SqliteStore s(f.path);
        s.migrate();
    }
    std::filesystem::resize_file(f.path, 3000); // less than the first page the schema lives on
    try {
        store::SqliteStore s(f.path);
        s.migrate();
        FAIL("expected an error");
    } catch (const Error& e) {
        CHECK(e.code() == util::ExitCode::config);
        CHECK_THAT(std::string(e.what()), Catch::Contains("database_url"));
    }
    if (geteuid() == 0) {
        WARN("running as root, which file permissions do not stop: the read-only case is left to the "
             "end-to-end test, which runs the binary as nobody");
        return;
    }
    SqliteFile g;
    {
        store::SqliteStore s(g.path);
        s.migrate();
    }
    std::filesystem::permissions(g.path, std::filesystem::perms::owner_read | std::filesystem::perms::group_read |
                                             std::filesystem::perms::others_read);
    try {
        store::SqliteStore s(g.path);
        s.migrate();
        FAIL("expected an error");
    } catch (const Error& e) {
        CHECK(e.code() == util::ExitCode::config);
        CHECK_THAT(std::string(e.what()), Catch::Contains("read-only"));
    }
}

namespace {

// One reject whose raw text and reason carry a registered secret.
std::vector<market::RejectedRecord> secret_rejects() {
    util::register_secret("sk_integration_echoed_4e7a");
    return {{"AAPL", "test", R"({"o":"sk_integration_echoed_4e7a","t":1})",
             "provider said: key sk_integration_echoed_4e7a is invalid"}};
}

} // namespace

TEST_CASE("Rejected records are scrubbed of secrets in both stores", "[integration]") {
    const auto rejects = secret_rejects();
    SECTION("PostgreSQL") {
        store::PgStore s(TestDatabase::instance().url(), "etl-integration-tests", {});
        s.migrate();
        const auto run = s.begin_run({"scrub-test", "", "0/1"});
        s.load_bars("AAPL", market::Timeframe::day, k_window, {}, rejects, run);
        s.record_rejects(rejects, std::nullopt, run);
        auto r = s.connection().exec("SELECT raw, reason FROM rejected_rows WHERE run_id = $1", {std::to_string(run)},
                                     "reading back");
        REQUIRE(r.rows() == 2);
        for (int i = 0; i < 2; ++i) {
            CHECK(r.get(i, 0) == R"({"o":"***","t":1})");
            CHECK(r.get(i, 1) == "provider said: key *** is invalid");
        }
    }
    SECTION("SQLite") {
        SqliteFile f;
        store::SqliteStore s(f.path);
        s.migrate();
        const auto run = s.begin_run({"scrub-test", "", "0/1"});
        s.load_bars("AAPL", market::Timeframe::day, k_window, {}, rejects, run);
        s.record_rejects(rejects, std::nullopt, run);
        sqlite::Database db(f.path, sqlite::Database::Mode::read_only);
        auto q = db.prepare("SELECT raw, reason FROM rejected_rows");
        int n = 0;
        while (q.step()) {
            ++n;
            CHECK(q.text(0) == R"({"o":"***","t":1})");
            CHECK(q.text(1) == "provider said: key *** is invalid");
        }
        CHECK(n == 2);
    }
}

namespace {

// A second session holding LOCK TABLE price_bars IN ACCESS EXCLUSIVE MODE until destroyed.
struct LockedPriceBars {
    pg::Connection conn{TestDatabase::instance().url(), "etl-integration-locker"};
    LockedPriceBars() {
        conn.exec("BEGIN", "locking");
        conn.exec("LOCK TABLE price_bars IN ACCESS EXCLUSIVE MODE", "locking");
    }
    ~LockedPriceBars() {
        try {
            conn.exec("ROLLBACK", "unlocking");
        } catch (...) { // the connection closes anyway
        }
    }
    // Waits (up to 30 s) until a session of this database waits for a lock.
    void wait_for_a_waiter() {
        for (int i = 0; i < 600; ++i) {
            auto r = conn.exec("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                               "AND wait_event_type = 'Lock'",
                               "looking for a waiter");
            if (r.get(0, 0) != "0") return;
            std::this_thread::sleep_for(50ms);
        }
    }
};

std::string error_of(const std::function<void()>& f, util::ExitCode& code) {
    try {
        f();
    } catch (const Error& e) {
        code = e.code();
        return e.what();
    }
    code = util::ExitCode::ok;
    return "";
}

} // namespace

TEST_CASE("PostgreSQL store: lock and statement timeouts, cancel on signal", "[integration][pg]") {
    const auto& db = TestDatabase::instance();
    {
        store::PgStore setup(db.url(), "etl-integration-tests", {});
        setup.migrate();
    }
    const std::vector<market::Bar> bars = {bar("TMO", ymd(2025, 3, 3), "10.00")};
    util::ExitCode code{};

    SECTION("a lock held longer than lock_timeout is a temporary failure naming the table and the setting") {
        store::StoreOptions o;
        o.lock_timeout_seconds = 1;
        store::PgStore s(db.url(), "etl-integration-tests", o);
        const auto run = s.begin_run({"timeout-test", "", "0/1"});
        LockedPriceBars lock;
        const auto t0 = steady_clock::now();
        const auto msg = error_of([&] { s.load_bars("TMO", market::Timeframe::day, k_window, bars, {}, run); }, code);
        CHECK(code == util::ExitCode::temporary);
        CHECK(steady_clock::now() - t0 < 20s);
        CHECK_THAT(msg, Catch::Contains("price_bars") && Catch::Contains("database.lock_timeout_seconds (1 s)"));
        CHECK(msg.find('\n') == std::string::npos);
    }
    SECTION("a server's idle_session_timeout does not end a store's session") {
        // The URL asks for a 100 ms idle_session_timeout, as a database or role setting would: a session
        // that waits longer between statements (a migration's read-back session waits out a whole load)
        // was ended, and the run failed with 75.
        const std::string url = db.url() + "?options=-c%20idle_session_timeout%3D100ms";
        store::PgStore plain(url, "etl-integration-tests", {});
        const auto sibling = plain.open_sibling("loader 2");
        for (store::PgStore* s : {&plain, sibling.get()}) {
            CHECK(s->connection().exec("SHOW idle_session_timeout", "checking the setting").get(0, 0) == "0");
        }
        std::this_thread::sleep_for(400ms);
        for (store::PgStore* s : {&plain, sibling.get()}) {
            CHECK_NOTHROW(s->connection().exec("SELECT 1", "after a wait"));
        }
        pg::Connection other(url, "etl-integration-tests");
        CHECK(other.exec("SHOW idle_session_timeout", "checking the setting").get(0, 0) == "100ms");
    }
    SECTION("a statement running longer than statement_timeout names that setting") {
        store::StoreOptions o;
        o.lock_timeout_seconds = 0;
        o.statement_timeout_seconds = 1;
        store::PgStore s(db.url(), "etl-integration-tests", o);
        const auto run = s.begin_run({"timeout-test", "", "0/1"});
        LockedPriceBars lock;
        const auto msg = error_of([&] { s.load_bars("TMO", market::Timeframe::day, k_window, bars, {}, run); }, code);
        CHECK(code == util::ExitCode::temporary);
        CHECK_THAT(msg, Catch::Contains("price_bars") && Catch::Contains("database.statement_timeout_seconds (1 s)"));
    }
    SECTION("cancel_statement_in_flight stops a load waiting on a lock: interrupted, nothing written") {
        store::StoreOptions o;
        o.lock_timeout_seconds = 0;
        o.statement_timeout_seconds = 60; // a backstop: the cancel ends the wait long before
        store::PgStore s(db.url(), "etl-integration-tests", o);
        const auto run = s.begin_run({"timeout-test", "", "0/1"});
        std::string msg;
        {
            LockedPriceBars lock;
            std::thread canceller([&] {
                lock.wait_for_a_waiter();
                store::cancel_statement_in_flight();
            });
            const auto t0 = steady_clock::now();
            msg = error_of([&] { s.load_bars("TMO", market::Timeframe::day, k_window, bars, {}, run); }, code);
            canceller.join();
            CHECK(steady_clock::now() - t0 < 30s);
        }
        CHECK(code == util::ExitCode::interrupted);
        CHECK_THAT(msg, Catch::Contains("interrupted") && Catch::Contains("TMO"));
        auto r = s.connection().exec("SELECT count(*) FROM price_bars WHERE symbol = 'TMO'", "reading back");
        CHECK(r.get(0, 0) == "0");
        // The connection is usable, and an idle connection ignores a cancel.
        store::cancel_statement_in_flight();
        CHECK(s.load_bars("TMO", market::Timeframe::day, k_window, bars, {}, run).inserted == 1);
        s.finish_run(run, {});
    }
    SECTION("while a SignalCancelHold is alive nothing is cancelled") {
        store::StoreOptions o;
        o.lock_timeout_seconds = 0;
        o.statement_timeout_seconds = 2;
        store::PgStore s(db.url(), "etl-integration-tests", o);
        const auto run = s.begin_run({"timeout-test", "", "0/1"});
        LockedPriceBars lock;
        const pg::SignalCancelHold hold;
        std::thread canceller([&] {
            lock.wait_for_a_waiter();
            store::cancel_statement_in_flight();
        });
        const auto msg = error_of([&] { s.load_bars("TMO", market::Timeframe::day, k_window, bars, {}, run); }, code);
        canceller.join();
        CHECK(code == util::ExitCode::temporary); // the statement timeout, not the cancel, ended it
        CHECK_THAT(msg, Catch::Contains("statement_timeout"));
    }
}

namespace {

// Three runs of job `job` and one of another job: alive (0/3, holding its lock), dead (1/3, its lock
// released), other job (1/3, never locked); then a run of shard 2/3 begins. Returns the statuses of
// {alive, dead, other job, new} read through `status_of`.
template <class Open, class Settle>
std::vector<std::string>
abandoned_runs_scenario(const std::string& job, Open open, Settle settle,
                        const std::function<std::string(store::Store&, std::int64_t)>& status_of) {
    auto alive = open();
    REQUIRE(alive->try_lock(store::run_lock_name(job, "0/3")));
    const auto alive_run = alive->begin_run({job, "", "0/3"});
    std::int64_t dead_run = 0;
    {
        auto dead = open();
        REQUIRE(dead->try_lock(store::run_lock_name(job, "1/3")));
        dead_run = dead->begin_run({job, "", "1/3"});
    } // the process is gone: its lock with it
    auto other = open();
    const auto other_run = other->begin_run({job + "-other", "", "1/3"});
    settle();
    auto next = open();
    REQUIRE(next->try_lock(store::run_lock_name(job, "2/3")));
    const auto next_run = next->begin_run({job, "", "2/3"});
    return {status_of(*next, alive_run), status_of(*next, dead_run), status_of(*next, other_run),
            status_of(*next, next_run)};
}

} // namespace

TEST_CASE("A run whose process is gone is closed by a run of any shard, a live one never", "[integration]") {
    SECTION("PostgreSQL: the advisory locks in pg_locks") {
        const auto& db = TestDatabase::instance();
        // The schema, as the SQLite section makes it: ctest runs this case in a process of its own.
        store::PgStore(db.url(), "etl-integration-tests", store::StoreOptions{}).migrate();
        const std::string job = fmt::format("stale-{}", rand());
        pg::Connection watcher(db.url(), "etl-integration-watcher");
        auto statuses = abandoned_runs_scenario(
            job,
            [&] { return std::make_unique<store::PgStore>(db.url(), "etl-integration-tests", store::StoreOptions{}); },
            [&] {
                // The dead session's backend ends (and its lock goes) a moment after the client closes.
                for (int i = 0; i < 200; ++i) {
                    auto r =
                        watcher.exec("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted "
                                     "AND database = (SELECT oid FROM pg_database WHERE datname = current_database())",
                                     "counting locks");
                    if (r.get(0, 0) == "1") return;
                    std::this_thread::sleep_for(50ms);
                }
            },
            [&](store::Store&, std::int64_t id) {
                return std::string(
                    watcher.exec("SELECT status FROM etl_runs WHERE id = $1", {std::to_string(id)}, "reading")
                        .get(0, 0));
            });
        CHECK(statuses == std::vector<std::string>{"running", "failed", "running", "running"});
    }
    SECTION("SQLite: the flock files beside the database") {
        SqliteFile f;
        {
            store::SqliteStore s(f.path);
            s.migrate();
        }
        auto statuses = abandoned_runs_scenario(
            "stale", [&] { return std::make_unique<store::SqliteStore>(f.path); }, [] {},
            [&](store::Store&, std::int64_t id) {
                sqlite::Database db(f.path, sqlite::Database::Mode::read_only);
                auto q = db.prepare("SELECT status FROM etl_runs WHERE id = ?");
                q.bind(1, id);
                REQUIRE(q.step());
                return std::string(q.text(0));
            });
        CHECK(statuses == std::vector<std::string>{"running", "failed", "running", "running"});
        for (const auto* shard : {"0-3", "1-3", "2-3"})
            std::filesystem::remove(fmt::format("{}.stale:{}.lock", f.path, shard));
    }
}
