// The pg/ adapter against a real server: the typed COPY writer (chunks, escaping, NULLs, an abandoned
// COPY), variadic parameters and prepared statements.
#include "etl/pg/connection.hpp"
#include "etl/pg/copy.hpp"
#include "integration/test_db.hpp"

#include <catch2/catch.hpp>

#include <stdexcept>

using namespace std::chrono;
using namespace etl;

namespace {

std::string one(pg::Connection& c, std::string_view sql) { return std::string(c.exec(sql, "reading back").get(0, 0)); }

} // namespace

TEST_CASE("COPY writer: typed rows in many small chunks arrive exactly, NULLs as NULL", "[integration][pg]") {
    pg::Connection c(test::TestDatabase::instance().url(), "etl-integration-tests");
    c.exec("CREATE TEMP TABLE copy_target (id bigint PRIMARY KEY, name text, at timestamptz, n numeric, flag boolean)",
           "creating a table");
    const std::array<std::string_view, 5> columns = {"id", "name", "at", "n", "flag"};
    pg::Transaction tx(c, "copying");
    pg::CopyWriter copy(c, "copying rows", 64); // tiny chunks: many flushes, most of them mid-table
    copy.begin("copy_target", columns);
    const auto t0 = sys_seconds{sys_days{year{2025} / 3 / 3}} + 13h + 5min + 7s;
    for (std::int64_t i = 0; i < 1000; ++i) {
        const std::optional<std::string_view> n = i % 3 == 0 ? std::nullopt : std::optional<std::string_view>("1.25");
        copy.row(i, i == 7 ? std::string("tab\there\nnew line\\back\r") : std::string("row ") + std::to_string(i),
                 t0 + seconds{i}, n, i % 2 == 0);
    }
    CHECK(copy.end() == 1000);
    tx.commit();
    CHECK(one(c, "SELECT count(*) FROM copy_target") == "1000");
    CHECK(one(c, "SELECT name FROM copy_target WHERE id = 7") == "tab\there\nnew line\\back\r");
    CHECK(one(c, "SELECT to_char(at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS') FROM copy_target WHERE id = 2") ==
          "2025-03-03 13:05:09");
    CHECK(one(c, "SELECT count(*) FROM copy_target WHERE n IS NULL") == "334");
    CHECK(one(c, "SELECT count(*) FROM copy_target WHERE flag") == "500");
    CHECK(one(c, "SELECT name FROM copy_target WHERE id = 999") == "row 999");
}

TEST_CASE("COPY writer: a duplicate key fails at end(); an abandoned COPY leaves the connection usable",
          "[integration][pg]") {
    pg::Connection c(test::TestDatabase::instance().url(), "etl-integration-tests");
    c.exec("CREATE TEMP TABLE copy_keys (id bigint PRIMARY KEY)", "creating a table");
    const std::array<std::string_view, 1> columns = {"id"};
    {
        pg::Transaction tx(c, "copying");
        pg::CopyWriter copy(c, "copying keys");
        copy.begin("copy_keys", columns);
        copy.row(1);
        copy.row(1);
        try {
            copy.end();
            FAIL("expected a duplicate key error");
        } catch (const pg::DbError& e) {
            CHECK(e.sqlstate() == "23505");
            CHECK_THAT(std::string(e.what()), Catch::Contains("copying keys"));
        }
    }
    CHECK(one(c, "SELECT count(*) FROM copy_keys") == "0");
    try {
        pg::Transaction tx(c, "copying");
        pg::CopyWriter copy(c, "copying keys");
        copy.begin("copy_keys", columns);
        copy.row(2);
        throw std::runtime_error("formatting failed half way");
    } catch (const std::runtime_error&) { // the writer aborted the COPY, the transaction rolled back
    }
    CHECK(one(c, "SELECT count(*) FROM copy_keys") == "0");
    try {
        pg::CopyWriter copy(c, "copying keys");
        copy.begin("copy_keys", columns);
        copy.row(4);
        throw std::runtime_error("formatting failed outside a transaction");
    } catch (const std::runtime_error&) {}
    // The COPY was ended as failed: nothing of it is written, and the next statement runs (one with
    // parameters, which libpq refuses while a COPY is still open).
    CHECK(c.exec("SELECT count(*) FROM copy_keys WHERE id >= $1", "reading back", 0).get(0, 0) == "0");
    pg::CopyWriter copy(c, "copying keys");
    copy.begin("copy_keys", columns);
    copy.row(3);
    CHECK(copy.end() == 1);
    CHECK(one(c, "SELECT count(*) FROM copy_keys") == "1");
}

TEST_CASE("exec with typed parameters and prepared statements", "[integration][pg]") {
    pg::Connection c(test::TestDatabase::instance().url(), "etl-integration-tests");
    const std::string name = "tab\there";
    auto r = c.exec(
        "SELECT $1::bigint + 1, $2::text, $3::text IS NULL, $4::timestamptz = '2025-03-03 00:00:00+00', $5::bool",
        "testing parameters", std::int64_t{41}, name, std::nullopt, sys_seconds{sys_days{year{2025} / 3 / 3}}, true);
    CHECK(r.get(0, 0) == "42");
    CHECK(r.get(0, 1) == name);
    CHECK(r.get(0, 2) == "t");
    CHECK(r.get(0, 3) == "t");
    CHECK(r.get(0, 4) == "t");
    CHECK(r.column_name(1) == "text");

    c.prepare("plus_one", "SELECT $1::int + 1", "preparing");
    c.prepare("plus_one", "SELECT $1::int + 1", "preparing"); // once per connection: no "already exists"
    CHECK(c.exec_prepared("plus_one", "running it", 1).get(0, 0) == "2");
    {
        pg::Transaction tx(c, "a transaction that rolls back");
        CHECK(c.exec_prepared("plus_one", "running it", 2).get(0, 0) == "3");
    }
    CHECK(c.exec_prepared("plus_one", "running it", std::optional<int>(9)).get(0, 0) == "10");
    CHECK(c.exec_prepared("plus_one", "running it", std::optional<int>()).is_null(0, 0));
    try {
        c.exec("SELECT $1::int", "reading a number that is not one", "x1");
        FAIL("expected an error");
    } catch (const pg::DbError& e) {
        CHECK(e.sqlstate() == "22P02");
        CHECK_THAT(std::string(e.what()), Catch::Contains("reading a number that is not one"));
    }
}
