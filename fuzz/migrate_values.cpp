// libFuzzer target: the value conversions of etl-migrate-sqlite on any bytes, in every storage class a
// SQLite cell has: the bytes as TEXT and as BLOB, their first 8 bytes as INTEGER and as REAL. Besides no
// crash: a reason is one line; an instant or a date lies in 1900..9999; a decimal reads back as its
// double, and every NUMERIC text is a decimal literal; text for PostgreSQL is valid UTF-8 without NUL;
// scrub_nonfinite_json is idempotent, changes valid JSON not at all, and changes nothing when it replaced nothing.
#include "check.hpp"

#include "etl/migrate/values.hpp"
#include "etl/util/decimal.hpp"

#include <simdjson.h>

#include <charconv>
#include <chrono>
#include <cstring>

namespace {

using etl::fuzz::broken;
using etl::fuzz::check_line;
using etl::migrate::Cell;

void check_cell(const Cell& cell) {
    namespace m = etl::migrate;
    check_line(m::describe(cell), "describe");
    if (const auto t = m::to_instant(cell)) {
        if (*t < m::k_first_instant || *t > m::k_last_instant) broken("instant out of range", m::describe(cell));
    } else {
        check_line(t.error(), "to_instant reason");
    }
    if (const auto d = m::to_session_date(cell)) {
        if (*d < std::chrono::floor<std::chrono::days>(m::k_first_instant) ||
            *d > std::chrono::floor<std::chrono::days>(m::k_last_instant))
            broken("session date out of range", m::describe(cell));
        // A bare date is its own session and its own instant.
        if (cell.type == Cell::Type::text && cell.bytes.size() == 10 && m::to_instant(cell) != *d)
            broken("date-only text: session date and instant differ", cell.bytes);
    } else {
        check_line(d.error(), "to_session_date reason");
    }
    if (const auto tf = m::to_timeframe(cell); !tf) check_line(tf.error(), "to_timeframe reason");
    if (const auto number = m::to_decimal(cell)) {
        if (*number && !etl::util::canonical_decimal(**number)) broken("to_decimal: not a decimal", **number);
    } else {
        check_line(number.error(), "to_decimal reason");
    }
    if (const auto text = m::text_or_null(cell)) {
        if (*text && ((*text)->empty() || (*text)->find('\0') != std::string::npos ||
                      !simdjson::validate_utf8((*text)->data(), (*text)->size())))
            broken("text PostgreSQL cannot hold", m::describe(cell));
    } else {
        check_line(text.error(), "text_or_null reason");
    }
}

void check_decimal(double value) {
    const auto text = etl::migrate::shortest_decimal(value);
    if (!text) {
        if (std::isfinite(value)) broken("finite double without a decimal", text.error());
        check_line(text.error(), "shortest_decimal reason");
        return;
    }
    if (text->empty() || text->find_first_not_of("0123456789-.") != std::string::npos)
        broken("decimal is not plain notation", *text);
    double back = 0;
    const auto [end, ec] = std::from_chars(text->data(), text->data() + text->size(), back);
    if (ec != std::errc{} || end != text->data() + text->size() || back != value)
        broken("decimal does not read back", *text);
}

void check_scrub(std::string_view body) {
    const auto once = etl::migrate::scrub_nonfinite_json(body);
    if (once.replaced == 0 && once.json != body) broken("scrub changed JSON it replaced nothing in", body);
    const auto twice = etl::migrate::scrub_nonfinite_json(once.json);
    if (twice.replaced != 0 || twice.json != once.json) broken("scrub is not idempotent", body);
    simdjson::dom::parser parser;
    simdjson::dom::element doc;
    if (parser.parse(simdjson::padded_string(body)).get(doc) == simdjson::SUCCESS && once.replaced != 0)
        broken("scrub replaced a token in valid JSON", body);
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const auto body = etl::fuzz::as_body(data, size);
    check_cell(Cell::of_text(body));
    check_cell(Cell::of_blob(body));
    check_cell(Cell::null());
    if (size >= 8) {
        std::int64_t integer = 0;
        double real = 0;
        std::memcpy(&integer, data, sizeof integer);
        std::memcpy(&real, data, sizeof real);
        check_cell(Cell::of_integer(integer));
        check_cell(Cell::of_real(real));
        check_decimal(real);
    }
    check_scrub(body);
    return 0;
}
