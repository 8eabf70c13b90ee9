#include "etl/pg/connection.hpp"
#include "etl/pg/copy.hpp"

#include <catch2/catch.hpp>

#include <string>
#include <vector>

using namespace std::chrono;
using namespace etl;

TEST_CASE("COPY rows escape backslash, tab, newline and carriage return, and write NULL as \\N", "[unit]") {
    pg::CopyBuffer buf;
    buf.add_row(std::string_view("a\tb"), std::string("line1\nline2"), "back\\slash", std::string_view("cr\r"));
    CHECK(buf.text() == "a\\tb\tline1\\nline2\tback\\\\slash\tcr\\r\n");
    buf.clear();
    buf.add_row(std::nullopt, std::optional<std::string>(), std::optional<std::string_view>("x"),
                std::optional<std::int64_t>(), std::optional<std::int64_t>(612004));
    CHECK(buf.text() == "\\N\t\\N\tx\t\\N\t612004\n");
    buf.clear();
    // The text "\N" is data, not NULL: its backslash is escaped.
    buf.add_row(std::string_view("\\N"), std::string_view(""));
    CHECK(buf.text() == "\\\\N\t\n");
}

TEST_CASE("COPY rows write integers, booleans and timestamps as PostgreSQL reads them", "[unit]") {
    pg::CopyBuffer buf;
    buf.add_row(std::int64_t{-9223372036854775807 - 1}, std::uint64_t{18446744073709551615ULL}, 0, true, false);
    CHECK(buf.text() == "-9223372036854775808\t18446744073709551615\t0\tt\tf\n");
    buf.clear();
    buf.add_row(sys_seconds{sys_days{year{2025} / 3 / 4}} + 9h + 30min + 5s,
                sys_seconds{sys_days{year{1999} / 12 / 31}});
    CHECK(buf.text() == "2025-03-04 09:30:05+00\t1999-12-31 00:00:00+00\n");
    buf.clear();
    std::string out;
    pg::append_copy_timestamp(out, sys_seconds{sys_days{year{2000} / 1 / 3}} + 23h + 59min + 59s);
    CHECK(out == "2000-01-03 23:59:59+00");
}

TEST_CASE("COPY rows of run-time values: nullopt is NULL, text is escaped", "[unit]") {
    pg::CopyBuffer buf;
    const std::vector<std::optional<std::string>> row = {"AAPL", std::nullopt, "tab\there", ""};
    buf.add_row_values(row);
    CHECK(buf.text() == "AAPL\t\\N\ttab\\there\t\n");
}

TEST_CASE("COPY chunks fill at the chunk size and always end at a row's end", "[unit]") {
    pg::CopyBuffer buf(32);
    CHECK(buf.empty());
    CHECK_FALSE(buf.chunk_full());
    buf.add_row(std::string_view("0123456789"), 42); // 14 bytes
    CHECK_FALSE(buf.chunk_full());
    buf.add_row(std::string_view("0123456789"), 42); // 28
    CHECK_FALSE(buf.chunk_full());
    buf.add_row(std::string_view("0123456789"), 42); // 42: past 32, and still whole rows
    CHECK(buf.chunk_full());
    CHECK(buf.text().size() == 42);
    CHECK(buf.text().back() == '\n');
    buf.clear();
    CHECK(buf.empty());
    CHECK_FALSE(buf.chunk_full());
    // One row longer than a chunk is still one row, sent whole.
    buf.add_row(std::string(100, 'x'));
    CHECK(buf.chunk_full());
    CHECK(buf.text().size() == 101);
}

TEST_CASE("statement parameters: text, numbers, timestamps, NULL", "[unit]") {
    const std::string owned = "AAPL";
    CHECK(std::string(pg::Param(owned).value()) == "AAPL");
    CHECK(pg::Param(owned).value() == owned.c_str()); // referred to, not copied
    CHECK(std::string(pg::Param(std::string_view("MSFT")).value()) == "MSFT");
    CHECK(std::string(pg::Param("lit").value()) == "lit");
    CHECK(std::string(pg::Param(std::int64_t{-42}).value()) == "-42");
    CHECK(std::string(pg::Param(7).value()) == "7");
    CHECK(std::string(pg::Param(true).value()) == "true");
    CHECK(std::string(pg::Param(sys_seconds{sys_days{year{2025} / 3 / 3}}).value()) == "2025-03-03T00:00:00Z");
    CHECK(pg::Param(std::nullopt).value() == nullptr);
    CHECK(pg::Param(std::optional<std::string>()).value() == nullptr);
    CHECK(std::string(pg::Param(std::optional<std::string_view>("x")).value()) == "x");
    CHECK(std::string(pg::Param(std::optional<int>(3)).value()) == "3");
    // A copy of a parameter that owns its text keeps it.
    const pg::Param a(std::string_view("owned text"));
    const pg::Param b = a;
    CHECK(std::string(b.value()) == "owned text");
}
