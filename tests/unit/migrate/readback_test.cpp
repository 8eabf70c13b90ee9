// The binary values a migration's parity reads back (numeric_send, timestamptz_send) decoded as the
// server's own conversions would give them: numeric::float8 is the nearest double (float8in of
// numeric_out), with NaN for what the read-back expression makes NaN.
#include "etl/migrate/readback.hpp"

#include "etl/migrate/migrator.hpp"
#include "etl/util/error.hpp"

#include <catch2/catch.hpp>

#include <cmath>
#include <cstdint>
#include <initializer_list>
#include <string>

namespace migrate = etl::migrate;

namespace {

// numeric_send's bytes: ndigits, weight, sign, dscale, then the base-10000 digits (all big-endian).
std::string numeric(std::int16_t weight, std::uint16_t sign, std::uint16_t dscale, std::initializer_list<int> digits) {
    std::string out;
    auto put16 = [&](unsigned v) {
        out += static_cast<char>((v >> 8U) & 0xffU);
        out += static_cast<char>(v & 0xffU);
    };
    put16(static_cast<unsigned>(digits.size()));
    put16(static_cast<std::uint16_t>(weight));
    put16(sign);
    put16(dscale);
    for (const int d : digits) put16(static_cast<unsigned>(d));
    return out;
}

std::string int8(std::int64_t v) {
    std::string out;
    for (int i = 7; i >= 0; --i) out += static_cast<char>((static_cast<std::uint64_t>(v) >> (8 * i)) & 0xffU);
    return out;
}

} // namespace

TEST_CASE("a binary numeric reads as the double the server's float8 cast gives", "[unit][migrate][readback]") {
    // 170.1 = 170 + 1000 * 10^-4
    CHECK(migrate::numeric_binary_to_double(numeric(0, 0, 1, {170, 1000})) == 170.1);
    // 170.10 (dscale 2) is the same double
    CHECK(migrate::numeric_binary_to_double(numeric(0, 0, 2, {170, 1000})) == 170.1);
    // -0.0001234 = -(1 * 10^-4 + 2340 * 10^-8): weight -1
    CHECK(migrate::numeric_binary_to_double(numeric(-1, 0x4000, 7, {1, 2340})) == -0.0001234);
    // -0.00001234 = -(1234 * 10^-8): weight -2
    CHECK(migrate::numeric_binary_to_double(numeric(-2, 0x4000, 8, {1234})) == -0.00001234);
    // 12345678.9 = 1234 * 10^4 + 5678 + 9000 * 10^-4
    CHECK(migrate::numeric_binary_to_double(numeric(1, 0, 1, {1234, 5678, 9000})) == 12345678.9);
    // 47227643 (no fraction, trailing group zero stripped by the server: 4722 7643)
    CHECK(migrate::numeric_binary_to_double(numeric(1, 0, 0, {4722, 7643})) == 47227643.0);
    // 1e8 = 1 * 10000^2, digits stripped
    CHECK(migrate::numeric_binary_to_double(numeric(2, 0, 0, {1})) == 1e8);
    // zero: no digits
    CHECK(migrate::numeric_binary_to_double(numeric(0, 0, 2, {})) == 0.0);
    // a long one rounds to the nearest double: 0.1000000000000000055511151231257827 is 0.1's double
    CHECK(migrate::numeric_binary_to_double(numeric(-1, 0, 36, {1000, 0, 0, 0, 555, 1115, 1231, 2578, 2700})) == 0.1);
}

TEST_CASE("a binary numeric that the read-back makes NaN, and bytes that are no numeric", "[unit][migrate][readback]") {
    CHECK(std::isnan(*migrate::numeric_binary_to_double(numeric(0, 0xC000, 0, {}))));   // NaN
    CHECK(std::isnan(*migrate::numeric_binary_to_double(numeric(0, 0xD000, 0, {}))));   // Infinity
    CHECK(std::isnan(*migrate::numeric_binary_to_double(numeric(0, 0xF000, 0, {}))));   // -Infinity
    CHECK(std::isnan(*migrate::numeric_binary_to_double(numeric(75, 0, 0, {1}))));      // 1e300: not < 1e300
    CHECK(std::isnan(*migrate::numeric_binary_to_double(numeric(75, 0x4000, 0, {1})))); // -1e300: abs is not below
    // 9999e296 = 9.999e299 is below 1e300: a number
    CHECK(migrate::numeric_binary_to_double(numeric(74, 0, 0, {9999})) == 9.999e299);
    CHECK_FALSE(migrate::numeric_binary_to_double("abc"));
    CHECK_FALSE(migrate::numeric_binary_to_double(numeric(0, 0, 0, {10000}))); // a digit above 9999
    auto cut = numeric(0, 0, 1, {170, 1000});
    cut.pop_back();
    CHECK_FALSE(migrate::numeric_binary_to_double(cut));
}

TEST_CASE("a binary timestamptz reads as extract(epoch)::int8", "[unit][migrate][readback]") {
    CHECK(migrate::timestamptz_binary_to_epoch(int8(0)) == 946'684'800);
    // 2024-12-31T00:00:00Z = 1735603200
    CHECK(migrate::timestamptz_binary_to_epoch(int8((1'735'603'200LL - 946'684'800LL) * 1'000'000)) == 1'735'603'200);
    // before 2000: negative microseconds; 1970-01-01
    CHECK(migrate::timestamptz_binary_to_epoch(int8(-946'684'800LL * 1'000'000)) == 0);
    // fractions round to the nearest second, halves away from zero
    CHECK(migrate::timestamptz_binary_to_epoch(int8(1'500'000)) == 946'684'802);
    CHECK(migrate::timestamptz_binary_to_epoch(int8(1'499'999)) == 946'684'801);
    // 1999-12-31T23:59:58.5 is 946684798.5 since 1970: up, away from zero (not down, as from 2000)
    CHECK(migrate::timestamptz_binary_to_epoch(int8(-1'500'000)) == 946'684'799);
    CHECK_FALSE(migrate::timestamptz_binary_to_epoch(int8(INT64_MAX)));
    CHECK_FALSE(migrate::timestamptz_binary_to_epoch("1234567"));
}

TEST_CASE("a binary timestamptz between 1970 and 2000, and before 1970, rounds as extract(epoch)::int8 does",
          "[unit][migrate][readback]") {
    constexpr std::int64_t pg_epoch_micros = 946'684'800LL * 1'000'000;
    const auto at = [&](std::int64_t unix_micros) { return int8(unix_micros - pg_epoch_micros); };
    // 1969-12-31T00:00:00Z, 1970-01-01T00:00:00Z, 2000-01-01T00:00:00Z
    CHECK(migrate::timestamptz_binary_to_epoch(at(-86'400'000'000)) == -86'400);
    CHECK(migrate::timestamptz_binary_to_epoch(at(0)) == 0);
    CHECK(migrate::timestamptz_binary_to_epoch(at(pg_epoch_micros)) == 946'684'800);
    // 1999-12-31T23:59:59.5Z is 946684799.5: rounds to 946684800 (from 2000 it is -0.5 s, which a
    // truncating division would round the other way)
    CHECK(migrate::timestamptz_binary_to_epoch(at(946'684'799'500'000)) == 946'684'800);
    CHECK(migrate::timestamptz_binary_to_epoch(at(946'684'799'499'999)) == 946'684'799);
    CHECK(migrate::timestamptz_binary_to_epoch(at(500'000)) == 1);
    CHECK(migrate::timestamptz_binary_to_epoch(at(499'999)) == 0);
    // before 1970 halves go away from zero too: -0.5 s is -1, -0.4 s is 0, -1.6 s is -2
    CHECK(migrate::timestamptz_binary_to_epoch(at(-500'000)) == -1);
    CHECK(migrate::timestamptz_binary_to_epoch(at(-400'000)) == 0);
    CHECK(migrate::timestamptz_binary_to_epoch(at(-1'600'000)) == -2);
    CHECK(migrate::timestamptz_binary_to_epoch(at(-86'400'000'000 + 500'000)) == -86'400); // -86399.5
}

TEST_CASE("a read-back value that cannot be decoded is a bug (70), never an unreachable database (75)",
          "[unit][migrate][readback]") {
    const auto ts = int8(0);
    const auto close = numeric(0, 0, 1, {170, 1000});
    CHECK(migrate::read_back_hash(ts, false, close, false, "x") == migrate::close_hash(946'684'800, 170.1));
    const auto code_of = [](auto&& read) {
        try {
            read();
        } catch (const etl::Error& e) {
            return static_cast<int>(e.code());
        }
        return 0;
    };
    CHECK(code_of([&] { migrate::read_back_hash("1234567", false, close, false, "x"); }) == 70);
    CHECK(code_of([&] { migrate::read_back_hash(ts, false, "abc", false, "x"); }) == 70);
    CHECK(code_of([&] { migrate::read_back_hash(ts, true, close, false, "x"); }) == 70);
    CHECK(code_of([&] { migrate::read_back_hash(ts, false, close, true, "x"); }) == 70);
}
