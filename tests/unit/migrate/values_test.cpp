// The value conversions of etl-migrate-sqlite, case by case from the Stockula quirks of
// shared/reference/stockula.md (§4 storage, §5 intervals, §7 consequences) and issue 8 points 3 and 5.
#include "etl/migrate/values.hpp"

#include <catch2/catch.hpp>
#include <simdjson.h>

#include <charconv>
#include <cmath>
#include <limits>
#include <string>

using namespace std::chrono;
using namespace std::string_view_literals;
using etl::market::Timeframe;
using etl::migrate::Cell;
namespace migrate = etl::migrate;

namespace {

sys_days ymd(int y, unsigned m, unsigned d) { return sys_days{year{y} / month{m} / day{d}}; }

sys_seconds at(int y, unsigned m, unsigned d, int hh = 0, int mm = 0, int ss = 0) {
    return sys_seconds{ymd(y, m, d)} + hours{hh} + minutes{mm} + seconds{ss};
}

std::string instant_error(const Cell& c) {
    const auto r = migrate::to_instant(c);
    REQUIRE_FALSE(r.has_value());
    return r.error();
}

sys_seconds instant(const Cell& c) {
    const auto r = migrate::to_instant(c);
    INFO(migrate::describe(c) << " -> " << (r ? std::string("ok") : r.error()));
    REQUIRE(r.has_value());
    return *r;
}

sys_days session(const Cell& c) {
    const auto r = migrate::to_session_date(c);
    INFO(migrate::describe(c) << " -> " << (r ? std::string("ok") : r.error()));
    REQUIRE(r.has_value());
    return *r;
}

std::string decimal(double v) {
    const auto r = migrate::shortest_decimal(v);
    REQUIRE(r.has_value());
    return *r;
}

std::optional<std::string> text(const Cell& c) {
    const auto r = migrate::text_or_null(c);
    INFO(migrate::describe(c) << " -> " << (r ? std::string("ok") : r.error()));
    REQUIRE(r.has_value());
    return *r;
}

double read_back(const std::string& s) {
    double v = 0;
    const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    REQUIRE(ec == std::errc{});
    REQUIRE(end == s.data() + s.size());
    return v;
}

} // namespace

TEST_CASE("describe names a cell in one line, cut when long", "[unit][migrate]") {
    CHECK(migrate::describe(Cell::null()) == "NULL");
    CHECK(migrate::describe(Cell::of_integer(-42)) == "INTEGER -42");
    CHECK(migrate::describe(Cell::of_real(170.1)) == "REAL 170.1");
    CHECK(migrate::describe(Cell::of_text("2024-13-01")) == R"(TEXT "2024-13-01")");
    CHECK(migrate::describe(Cell::of_text("a\n\"b\"\xff")) == R"(TEXT "a\n\"b\"\xff")");
    CHECK(migrate::describe(Cell::of_blob("\x00\x01\xff"sv)) == "BLOB x'0001ff'");
    const std::string long_text(100, 'x');
    CHECK(migrate::describe(Cell::of_text(long_text)) == "TEXT \"" + std::string(64, 'x') + "\"...");
    const std::string long_blob(40, '\x10');
    std::string hex;
    for (int i = 0; i < 32; ++i) hex += "10";
    CHECK(migrate::describe(Cell::of_blob(long_blob)) == "BLOB x'" + hex + "'...");
}

TEST_CASE("to_instant reads the text timestamps Stockula and SQLite write (§4)", "[unit][migrate]") {
    // price_history.date, dividends.date, options expiration_date: a bare date is 00:00 UTC.
    CHECK(instant(Cell::of_text("2024-01-02")) == at(2024, 1, 2));
    // created_at / updated_at from the ORM: UTC wall time with microseconds, no offset; the fraction drops.
    CHECK(instant(Cell::of_text("2025-08-11 21:08:59.123456")) == at(2025, 8, 11, 21, 8, 59));
    CHECK(instant(Cell::of_text("2025-08-11 21:08:59.999999")) == at(2025, 8, 11, 21, 8, 59));
    // The same column after DEFAULT CURRENT_TIMESTAMP / onupdate: no fraction.
    CHECK(instant(Cell::of_text("2025-08-11 21:09:00")) == at(2025, 8, 11, 21, 9, 0));
    // Our own store's instants.
    CHECK(instant(Cell::of_text("2025-03-04T15:00:00Z")) == at(2025, 3, 4, 15));
}

TEST_CASE("to_instant is lenient on T, zones and seconds of hand-made files", "[unit][migrate]") {
    CHECK(instant(Cell::of_text("2025-08-11T21:09:00")) == at(2025, 8, 11, 21, 9));
    CHECK(instant(Cell::of_text("2025-08-11t21:09:00z")) == at(2025, 8, 11, 21, 9));
    CHECK(instant(Cell::of_text("2025-08-11 21:09")) == at(2025, 8, 11, 21, 9));
    CHECK(instant(Cell::of_text("2025-08-11T21:09Z")) == at(2025, 8, 11, 21, 9));
    CHECK(instant(Cell::of_text("2025-08-11T21:09:00+02:00")) == at(2025, 8, 11, 19, 9));
    CHECK(instant(Cell::of_text("2025-08-11T21:09:00.5+0200")) == at(2025, 8, 11, 19, 9));
    CHECK(instant(Cell::of_text("2025-08-11T21:09:00-05")) == at(2025, 8, 12, 2, 9));
    CHECK(instant(Cell::of_text("2025-08-11T21:09:00-05:30")) == at(2025, 8, 12, 2, 39));
    CHECK(instant(Cell::of_text("2024-01-02 00:00:00+00:00")) == at(2024, 1, 2));
    CHECK(instant(Cell::of_text("  2024-01-02\n")) == at(2024, 1, 2));
}

TEST_CASE("to_instant rejects malformed text, naming the value", "[unit][migrate]") {
    CHECK(instant_error(Cell::of_text("2024-02-30")) ==
          R"(TEXT "2024-02-30" is not an ISO 8601 date or timestamp (YYYY-MM-DD[ HH:MM[:SS[.fff]]][Z|+HH:MM]))");
    for (const auto* text : {"",
                             "2024-1-2",
                             "2024/01/02",
                             "02.01.2024",
                             "2024-01-02 24:00:00",
                             "2024-01-02 10:60",
                             "2024-01-02 10:00:60",
                             "2024-01-02T10",
                             "2024-01-02T10:00:00.",
                             "2024-01-02T10:00:00+2",
                             "2024-01-02T10:00:00+24:00",
                             "2024-01-02T10:00:00+02:60",
                             "2024-01-02T10:00:00 +02:00",
                             "2024-01-02Z",
                             "2024-01-02x",
                             "+024-01-02",
                             "1704153600",
                             "NaN",
                             "2024-01-02T10:00:00ZZ",
                             "2024-01-02 10:00:00 UTC"}) {
        INFO(text);
        CHECK_THAT(instant_error(Cell::of_text(text)), Catch::Contains("is not an ISO 8601 date or timestamp"));
    }
    CHECK(instant_error(Cell::null()) == "NULL is not a date or timestamp");
    CHECK(instant_error(Cell::of_blob("\x01\x02")) == "BLOB x'0102' is not a date or timestamp");
}

TEST_CASE("to_instant keeps to 1900-01-01 .. 9999-12-31 UTC", "[unit][migrate]") {
    CHECK(instant(Cell::of_text("1900-01-01")) == at(1900, 1, 1));
    CHECK(instant(Cell::of_text("9999-12-31 23:59:59")) == at(9999, 12, 31, 23, 59, 59));
    CHECK(instant_error(Cell::of_text("1899-12-31")) ==
          R"(TEXT "1899-12-31" is outside 1900-01-01T00:00:00Z .. 9999-12-31T23:59:59Z)");
    CHECK_THAT(instant_error(Cell::of_text("0000-01-01")), Catch::Contains("is outside"));
    // In range as written, out of range in UTC.
    CHECK_THAT(instant_error(Cell::of_text("9999-12-31T23:00:00-05:00")), Catch::Contains("is outside"));
    CHECK_THAT(instant_error(Cell::of_text("1900-01-01T00:00:00+01:00")), Catch::Contains("is outside"));
}

TEST_CASE("to_instant tells integer epoch seconds, ms and us apart by magnitude", "[unit][migrate]") {
    CHECK(instant(Cell::of_integer(1704153600)) == at(2024, 1, 2));
    CHECK(instant(Cell::of_integer(1704153600000)) == at(2024, 1, 2));
    CHECK(instant(Cell::of_integer(1704153600999)) == at(2024, 1, 2)); // the fraction drops
    CHECK(instant(Cell::of_integer(1704153600000000)) == at(2024, 1, 2));
    CHECK(instant(Cell::of_integer(0)) == at(1970, 1, 1));
    CHECK(instant(Cell::of_integer(-1)) == at(1969, 12, 31, 23, 59, 59));
    CHECK(instant(Cell::of_integer(-1500)) == at(1969, 12, 31, 23, 35, 0)); // seconds, not ms: |v| < 1e10
    CHECK(instant(Cell::of_integer(-2208988800)) == at(1900, 1, 1));
    CHECK(instant(Cell::of_integer(-2208988800000)) == at(1900, 1, 1));
    // The cut-offs: the last second, the first millisecond, the first microsecond value.
    CHECK(instant(Cell::of_integer(9'999'999'999)) == at(2286, 11, 20, 17, 46, 39));
    CHECK(instant(Cell::of_integer(10'000'000'000)) == at(1970, 4, 26, 17, 46, 40));
    CHECK(instant(Cell::of_integer(9'999'999'999'999)) == at(2286, 11, 20, 17, 46, 39));
    CHECK(instant(Cell::of_integer(10'000'000'000'000)) == at(1970, 4, 26, 17, 46, 40));
    CHECK(instant(Cell::of_integer(9'999'999'999'999'999)) == at(2286, 11, 20, 17, 46, 39));
    CHECK(instant_error(Cell::of_integer(10'000'000'000'000'000)) ==
          "INTEGER 10000000000000000 is too large for epoch seconds, milliseconds or microseconds (|value| below "
          "1e16)");
    CHECK_THAT(instant_error(Cell::of_integer(1704153600000000000)), Catch::Contains("too large")); // ns
    CHECK_THAT(instant_error(Cell::of_integer(std::numeric_limits<std::int64_t>::min())), Catch::Contains("too large"));
    CHECK(instant_error(Cell::of_integer(-2208988801)) ==
          "INTEGER -2208988801 is outside 1900-01-01T00:00:00Z .. 9999-12-31T23:59:59Z (read as an epoch)");
}

TEST_CASE("to_instant reads a REAL as a Julian day", "[unit][migrate]") {
    CHECK(instant(Cell::of_real(2460311.5)) == at(2024, 1, 2));
    CHECK(instant(Cell::of_real(2440587.5)) == at(1970, 1, 1));
    // julianday('2024-01-02 10:00:00') and julianday('2024-01-02 10:00:00.700') as SQLite gives them.
    CHECK(instant(Cell::of_real(2460311.9166666665)) == at(2024, 1, 2, 10));
    CHECK(instant(Cell::of_real(2460311.916674768)) == at(2024, 1, 2, 10));
    CHECK(instant(Cell::of_real(5373484.499999988)) == at(9999, 12, 31, 23, 59, 59)); // ... 23:59:59.999
    CHECK(instant(Cell::of_real(2415020.5)) == at(1900, 1, 1));
    CHECK(instant_error(Cell::of_real(2415020.4)) ==
          "REAL 2415020.4 is outside 1900-01-01T00:00:00Z .. 9999-12-31T23:59:59Z (read as a Julian day)");
    CHECK_THAT(instant_error(Cell::of_real(5373484.5)), Catch::Contains("is outside"));    // 10000-01-01
    CHECK_THAT(instant_error(Cell::of_real(1704153600.0)), Catch::Contains("is outside")); // an epoch as REAL
    CHECK_THAT(instant_error(Cell::of_real(-1e300)), Catch::Contains("is outside"));
    CHECK(instant_error(Cell::of_real(std::nan(""))) == "REAL nan is not a Julian day");
    CHECK(instant_error(Cell::of_real(std::numeric_limits<double>::infinity())) == "REAL inf is not a Julian day");
}

TEST_CASE("to_session_date keeps the date as written, whatever the time and zone", "[unit][migrate]") {
    CHECK(session(Cell::of_text("2024-01-02")) == ymd(2024, 1, 2));
    CHECK(session(Cell::of_text("2024-01-02 00:00:00")) == ymd(2024, 1, 2));
    CHECK(session(Cell::of_text("2024-01-02 00:00:00+09:00")) == ymd(2024, 1, 2)); // UTC would say 01-01
    CHECK(session(Cell::of_text("2024-01-02 00:00:00-05:00")) == ymd(2024, 1, 2)); // Polygon, 00:00 ET
    CHECK(session(Cell::of_text("2024-01-02T09:30:00-05:00")) == ymd(2024, 1, 2)); // Yahoo, 09:30 ET
    CHECK(session(Cell::of_text("2024-01-02T21:00:00Z")) == ymd(2024, 1, 2));      // /prev, 16:00 ET in UTC
    CHECK(session(Cell::of_text("9999-12-31T23:00:00-05:00")) == ymd(9999, 12, 31));
    // No written date: the UTC date of the instant.
    CHECK(session(Cell::of_integer(1704171600000)) == ymd(2024, 1, 2)); // 2024-01-02T05:00Z in ms
    CHECK(session(Cell::of_integer(-1)) == ymd(1969, 12, 31));
    CHECK(session(Cell::of_real(2460311.9166666665)) == ymd(2024, 1, 2));

    const auto bad = migrate::to_session_date(Cell::of_text("2024-01-02 25:00"));
    REQUIRE_FALSE(bad.has_value());
    CHECK_THAT(bad.error(), Catch::Contains("is not an ISO 8601 date or timestamp"));
    const auto early = migrate::to_session_date(Cell::of_text("1899-12-31 23:00:00-05:00"));
    REQUIRE_FALSE(early.has_value());
    CHECK(early.error() == R"(TEXT "1899-12-31 23:00:00-05:00" is outside 1900-01-01 .. 9999-12-31)");
    CHECK_FALSE(migrate::to_session_date(Cell::null()).has_value());
    CHECK_FALSE(migrate::to_session_date(Cell::of_integer(-2208988801)).has_value());
}

TEST_CASE("to_timeframe maps Stockula intervals; NULL and '' are 1d; intraday is rejected", "[unit][migrate]") {
    CHECK(migrate::to_timeframe(Cell::null()) == Timeframe::day); // legacy: interval nullable (§2, §7.1)
    CHECK(migrate::to_timeframe(Cell::of_text("")) == Timeframe::day);
    CHECK(migrate::to_timeframe(Cell::of_text("1d")) == Timeframe::day);
    CHECK(migrate::to_timeframe(Cell::of_text("1wk")) == Timeframe::week);
    CHECK(migrate::to_timeframe(Cell::of_text("1mo")) == Timeframe::month);
    for (const auto* code : {"1m", "2m", "5m", "15m", "30m", "60m", "90m", "1h", "4h"}) {
        INFO(code);
        const auto r = migrate::to_timeframe(Cell::of_text(code));
        REQUIRE_FALSE(r.has_value());
        CHECK(r.error() == "intraday row keyed by date only: its time is unknown");
    }
    const auto five_days = migrate::to_timeframe(Cell::of_text("5d"));
    REQUIRE_FALSE(five_days.has_value());
    CHECK(five_days.error() == R"(interval TEXT "5d" has no timeframe here (accepted: 1d, 1wk, 1mo; NULL is 1d))");
    for (const auto& cell : {Cell::of_text("3mo"), Cell::of_text("1D"), Cell::of_text("1M"), Cell::of_text(" 1d"),
                             Cell::of_text("m"), Cell::of_integer(1), Cell::of_real(1.0), Cell::of_blob("1d")}) {
        INFO(migrate::describe(cell));
        const auto r = migrate::to_timeframe(cell);
        REQUIRE_FALSE(r.has_value());
        CHECK_THAT(r.error(), Catch::StartsWith("interval ") && Catch::Contains("has no timeframe here"));
    }
}

TEST_CASE("shortest_decimal writes the shortest text that reads back as the same double", "[unit][migrate]") {
    CHECK(decimal(170.1) == "170.1");
    CHECK(decimal(185.64) == "185.64");
    CHECK(decimal(0.0525) == "0.0525"); // a Treasury rate (§4)
    CHECK(decimal(0.1 + 0.2) == "0.30000000000000004");
    CHECK(decimal(1e-7) == "0.0000001");
    CHECK(decimal(82488700.0) == "82488700"); // a volume that arrived as REAL (§7.5)
    CHECK(decimal(100000.0) == "100000");
    CHECK(decimal(1e22) == "10000000000000000000000");
    CHECK(decimal(-2.5) == "-2.5");
    CHECK(decimal(0.0) == "0");
    CHECK(decimal(-0.0) == "0");
    const double max = std::numeric_limits<double>::max();
    CHECK(decimal(max).size() == 309);
    CHECK(read_back(decimal(max)) == max);
    const double tiny = std::numeric_limits<double>::min(); // the smallest normal double
    CHECK(read_back(decimal(tiny)) == tiny);
    CHECK(read_back(decimal(-tiny)) == -tiny);
    const double denormal = std::numeric_limits<double>::denorm_min();
    CHECK(read_back(decimal(denormal)) == denormal);
    for (const double v : {170.1, 0.1 + 0.2, 1e-7, 1234.5678, 1.0 / 3.0, 9007199254740993.0, 4.35})
        CHECK(read_back(decimal(v)) == v);

    const auto nan = migrate::shortest_decimal(std::nan(""));
    REQUIRE_FALSE(nan.has_value());
    CHECK(nan.error() == "nan is not a finite number");
    const auto inf = migrate::shortest_decimal(-std::numeric_limits<double>::infinity());
    REQUIRE_FALSE(inf.has_value());
    CHECK(inf.error() == "-inf is not a finite number");
}

TEST_CASE("to_decimal: NUMERIC text for prices and volumes of every storage class", "[unit][migrate]") {
    using Number = std::optional<std::string>;
    const auto number = [](const Cell& c) {
        const auto r = migrate::to_decimal(c);
        INFO(migrate::describe(c) << " -> " << (r ? std::string("ok") : r.error()));
        REQUIRE(r.has_value());
        // The per-row form (a view of a buffer, or of the cell's bytes) says the same.
        migrate::DecimalBuffer buffer;
        const auto view = migrate::to_decimal(c, buffer);
        REQUIRE(view.has_value());
        CHECK(view->has_value() == r->has_value());
        if (*view) CHECK(std::string(**view) == **r);
        // TEXT is the cell's own bytes, not a copy; numbers are written into the buffer.
        if (*view && c.type == Cell::Type::text) CHECK((*view)->data() == c.bytes.data());
        if (*view && (c.type == Cell::Type::integer || (c.type == Cell::Type::real && c.real != 0.0)))
            CHECK((*view)->data() == buffer.data());
        return *r;
    };
    CHECK(number(Cell::of_integer(std::numeric_limits<std::int64_t>::min())) == Number{"-9223372036854775808"});
    CHECK(number(Cell::of_real(-0.0)) == Number{"0"});
    CHECK(number(Cell::of_real(std::numeric_limits<double>::max()))->size() == 309);
    CHECK(number(Cell::of_real(-std::numeric_limits<double>::denorm_min()))->size() == 327);
    CHECK(number(Cell::null()) == Number{}); // OHLC from a pandas NaN (§4)
    CHECK(number(Cell::of_real(185.64)) == Number{"185.64"});
    CHECK(number(Cell::of_real(170.1)) == Number{"170.1"});
    CHECK(number(Cell::of_real(0.0525)) == Number{"0.0525"});
    CHECK(number(Cell::of_integer(82488700)) == Number{"82488700"});
    CHECK(number(Cell::of_integer(0)) == Number{"0"}); // Treasury volume (§4)
    CHECK(number(Cell::of_real(82488700.0)) == Number{"82488700"});
    CHECK(number(Cell::of_text("238.030")) == Number{"238.030"}); // as written: NUMERIC keeps the scale
    CHECK(number(Cell::of_text("4.7227643e+07")) == Number{"4.7227643e+07"});
    CHECK(number(Cell::of_text("")) == Number{});
    for (const auto& c : {Cell::of_text("abc"), Cell::of_text("NaN"), Cell::of_text(" 1"), Cell::of_text("1e5000"),
                          Cell::of_blob("1")}) {
        const auto r = migrate::to_decimal(c);
        REQUIRE_FALSE(r.has_value());
        CHECK(r.error() == migrate::describe(c) + " is not a decimal number");
    }
    const auto inf = migrate::to_decimal(Cell::of_real(std::numeric_limits<double>::infinity()));
    REQUIRE_FALSE(inf.has_value());
    CHECK(inf.error() == "REAL inf is not a finite number");
}

TEST_CASE("text_or_null: '' becomes NULL; text PostgreSQL cannot hold is rejected", "[unit][migrate]") {
    using Text = std::optional<std::string>;
    CHECK(text(Cell::null()) == Text{});
    CHECK(text(Cell::of_text("")) == Text{}); // stocks.sector etc. when yfinance lacks it
    CHECK(text(Cell::of_text("NMS")) == Text{"NMS"});
    CHECK(text(Cell::of_text(" ")) == Text{" "}); // only the empty string is NULL
    CHECK(text(Cell::of_text("^IRX")) == Text{"^IRX"});
    CHECK(text(Cell::of_text("BRK-B")) == Text{"BRK-B"});
    CHECK(text(Cell::of_text("Société Générale")) == Text{"Société Générale"});
    CHECK(text(Cell::of_integer(82488700)) == Text{"82488700"});
    CHECK(text(Cell::of_real(0.0525)) == Text{"0.0525"});
    CHECK(text(Cell::of_real(std::numeric_limits<double>::infinity())) == Text{"Infinity"});
    CHECK(text(Cell::of_real(-std::numeric_limits<double>::infinity())) == Text{"-Infinity"});
    CHECK(text(Cell::of_real(std::nan(""))) == Text{});
    CHECK(text(Cell::of_blob("abc")) == Text{"abc"});
    CHECK(text(Cell::of_blob("")) == Text{});

    const auto nul = migrate::text_or_null(Cell::of_text("AB\0C"sv));
    REQUIRE_FALSE(nul.has_value());
    CHECK(nul.error() == R"(TEXT "AB\x00C" holds a NUL byte, which PostgreSQL text cannot)");
    const auto latin1 = migrate::text_or_null(Cell::of_text("Soci\xe9t\xe9"));
    REQUIRE_FALSE(latin1.has_value());
    CHECK(latin1.error() == R"(TEXT "Soci\xe9t\xe9" is not valid UTF-8)");
}

TEST_CASE("scrub_nonfinite_json turns bare NaN and Infinity into null, never inside strings", "[unit][migrate]") {
    // json.dumps(Ticker.info, default=str) as Stockula stores it (§7.8).
    const std::string info =
        R"({"longName": "Apple Inc.", "trailingPE": NaN, "dividendYield": Infinity, "beta": -Infinity, )"
        R"("note": "NaN and Infinity", "quoted": "say \"NaN\"", "path": "C:\\", "x": NaN, )"
        R"("officers": [{"name": "Tim", "exercisedValue": NaN}, -NaN,NaN], "ok": 1.5})";
    const auto r = migrate::scrub_nonfinite_json(info);
    CHECK(r.replaced == 7);
    CHECK(r.json == R"({"longName": "Apple Inc.", "trailingPE": null, "dividendYield": null, "beta": null, )"
                    R"("note": "NaN and Infinity", "quoted": "say \"NaN\"", "path": "C:\\", "x": null, )"
                    R"("officers": [{"name": "Tim", "exercisedValue": null}, null,null], "ok": 1.5})");

    simdjson::dom::parser parser;
    simdjson::dom::element doc;
    REQUIRE(parser.parse(simdjson::padded_string(r.json)).get(doc) == simdjson::SUCCESS);
    CHECK(doc["trailingPE"].is_null());
    CHECK(doc["officers"].at(0)["exercisedValue"].is_null());
    std::string_view note;
    REQUIRE(doc["quoted"].get(note) == simdjson::SUCCESS);
    CHECK(note == R"(say "NaN")");
    double ok = 0;
    REQUIRE(doc["ok"].get(ok) == simdjson::SUCCESS);
    CHECK(ok == 1.5);
    // The input itself was not JSON.
    simdjson::dom::element raw;
    CHECK(parser.parse(simdjson::padded_string(info)).get(raw) != simdjson::SUCCESS);
}

TEST_CASE("scrub_nonfinite_json leaves valid JSON and look-alike words as they are", "[unit][migrate]") {
    for (const auto* json : {R"({"NaN": "Infinity", "x": null, "y": [true, false, -1e5]})", R"("NaN")", "[]", "",
                             R"({"a": "\\", "b": "\"NaN\\"})", "NaNa", "xNaN", "Infinity2", "-Infinityx"}) {
        INFO(json);
        const auto r = migrate::scrub_nonfinite_json(json);
        CHECK(r.replaced == 0);
        CHECK(r.json == json);
    }
    // An escaped backslash closes no string: the NaN after the string is bare.
    const auto r = migrate::scrub_nonfinite_json(R"({"a":"\\","b":NaN})");
    CHECK(r.json == R"({"a":"\\","b":null})");
    CHECK(r.replaced == 1);
    // Top-level tokens and the end of input count as boundaries; an unterminated string keeps the rest.
    CHECK(migrate::scrub_nonfinite_json("NaN").json == "null");
    CHECK(migrate::scrub_nonfinite_json("[Infinity]").json == "[null]");
    CHECK(migrate::scrub_nonfinite_json(R"(["NaN, NaN])").json == R"(["NaN, NaN])");
    CHECK(migrate::scrub_nonfinite_json("\"\\").json == "\"\\");
}
