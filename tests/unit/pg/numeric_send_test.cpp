// append_numeric_send against the bytes PostgreSQL 15's numeric_send gives for the same text
// (SELECT encode(numeric_send('TEXT'::numeric), 'hex')).
#include "etl/pg/copy.hpp"

#include <catch2/catch.hpp>

#include <string>
#include <string_view>

namespace {

std::string hex(std::string_view bytes) {
    static constexpr std::string_view digits = "0123456789abcdef";
    std::string out;
    for (const char c : bytes) {
        const auto b = static_cast<unsigned char>(c);
        out += digits[b >> 4U];
        out += digits[b & 0xFU];
    }
    return out;
}

std::string send(std::string_view decimal) {
    std::string out = "x";
    REQUIRE(etl::pg::append_numeric_send(out, decimal));
    REQUIRE(out.front() == 'x'); // appended
    return hex(std::string_view(out).substr(1));
}

} // namespace

TEST_CASE("a plain decimal becomes the bytes of numeric_send", "[unit][pg][copy]") {
    CHECK(send("24.880") == "000200000000000300182260");
    CHECK(send("7") == "00010000000000000007");
    CHECK(send("0.5") == "0001ffff000000011388");
    CHECK(send(".5") == "0001ffff000000011388");
    CHECK(send("-12.3400") == "0002000040000004000c0d48");
    CHECK(send("0") == "0000000000000000");
    CHECK(send("-0.0") == "0000000000000001");
    CHECK(send("0.00") == "0000000000000002");
    CHECK(send("10000") == "00010001000000000001");
    CHECK(send("123456789.000012") == "0005000200000006000109291a85000004b0");
    CHECK(send("0.0001") == "0001ffff000000040001");
    CHECK(send("-1") == "00010000400000000001");
    CHECK(send("93207") == "000200010000000000090c87");
    CHECK(send("00093207") == "000200010000000000090c87");
}

TEST_CASE("text that is no plain decimal is refused and nothing appended", "[unit][pg][copy]") {
    for (const std::string_view bad :
         {"", "-", ".", "-.", "1e5", "+1", " 1", "1 ", "NaN", "Infinity", "1.2.3", "1,5", "0x10"}) {
        std::string out = "x";
        CHECK_FALSE(etl::pg::append_numeric_send(out, bad));
        CHECK(out == "x");
    }
    std::string out;
    CHECK_FALSE(etl::pg::append_numeric_send(out, std::string(1001, '9')));
    CHECK(etl::pg::append_numeric_send(out, std::string(1000, '9')));
}
