#include "etl/pg/binary_copy.hpp"

#include <catch2/catch.hpp>

#include <chrono>
#include <string>
#include <string_view>

using namespace std::chrono;
using namespace etl;

namespace {
std::string bytes(std::initializer_list<unsigned> values) {
    std::string out;
    for (const auto v : values) out += static_cast<char>(v);
    return out;
}
} // namespace

TEST_CASE("binary COPY: header, a row of text, timestamptz, float8 and NULL, trailer", "[unit]") {
    pg::BinaryCopyBuffer buf;
    buf.header();
    CHECK(buf.bytes() == std::string_view("PGCOPY\n\xff\r\n\0\0\0\0\0\0\0\0\0", 19));
    buf.clear();

    buf.start_row(4);
    buf.text("AAPL");
    // 2000-01-02 00:00:00 UTC: one day after PostgreSQL's epoch, 86400 * 10^6 microseconds.
    buf.timestamptz(sys_seconds(sys_days(year{2000} / 1 / 2)));
    buf.float8(1.5); // 0x3FF8000000000000
    buf.null();
    buf.trailer();
    CHECK(buf.bytes() == bytes({0,    4,                                                            // 4 fields
                                0,    0,    0,    4,    'A',  'A',  'P', 'L',                       // text
                                0,    0,    0,    8,    0,    0,    0,   0x14, 0x1d, 0xd7, 0x60, 0, // 86,400,000,000 us
                                0,    0,    0,    8,    0x3f, 0xf8, 0,   0,    0,    0,    0,    0, // 1.5
                                0xff, 0xff, 0xff, 0xff,                                             // NULL
                                0xff, 0xff}));                                                      // end of data
}

TEST_CASE("binary COPY: instants before 2000 are negative microseconds; doubles go bit for bit", "[unit]") {
    pg::BinaryCopyBuffer buf;
    buf.timestamptz(sys_seconds(sys_days(year{1999} / 12 / 31) + hours(23) + minutes(59) + seconds(59)));
    CHECK(buf.bytes() == bytes({0, 0, 0, 8, 0xff, 0xff, 0xff, 0xff, 0xff, 0xf0, 0xbd, 0xc0})); // -10^6
    buf.clear();
    buf.float8(0.1 + 0.2); // 0.30000000000000004: 0x3FD3333333333334
    CHECK(buf.bytes() == bytes({0, 0, 0, 8, 0x3f, 0xd3, 0x33, 0x33, 0x33, 0x33, 0x33, 0x34}));
    buf.clear();
    buf.text("");
    CHECK(buf.bytes() == bytes({0, 0, 0, 0})); // an empty text is a length of 0, not NULL
}
