#include "etl/util/clock.hpp"
#include "etl/util/decimal.hpp"
#include "etl/util/error.hpp"
#include "etl/util/secrets.hpp"
#include "etl/util/strings.hpp"

#include <catch2/catch.hpp>
#include <fmt/format.h>

using namespace std::chrono;
using namespace etl::util;

TEST_CASE("URLs lose passwords and key parameters", "[unit]") {
    CHECK(redact_url("postgresql://etl:s3cret@db:5432/market") == "postgresql://etl:***@db:5432/market");
    CHECK(redact_url("postgresql://etl@db/market") == "postgresql://etl@db/market");
    CHECK(redact_url("https://api.polygon.io/v2/aggs?apiKey=abcd1234&limit=5") ==
          "https://api.polygon.io/v2/aggs?apiKey=***&limit=5");
    CHECK(redact_url("https://x/y?x_cg_demo_api_key=zzzz&vs_currency=usd") ==
          "https://x/y?x_cg_demo_api_key=***&vs_currency=usd");
    CHECK(redact_url("redis://:hunter22@127.0.0.1:6379/0") == "redis://:***@127.0.0.1:6379/0");
    CHECK(redact_url("redis://justapassword@127.0.0.1:6379") == "redis://***@127.0.0.1:6379");
    CHECK(redact_url("host=127.0.0.1 port=1 password=hunter2secret dbname=x") ==
          "host=127.0.0.1 port=1 password=*** dbname=x");
    CHECK(redact_url("host=h password = 'my \\'quoted\\' secret' user=u").find("secret") == std::string::npos);
    CHECK(redact_url("postgresql:///db?password=qwerty123&sslmode=require") ==
          "postgresql:///db?password=***&sslmode=require");
    CHECK(url_secrets("postgresql://etl@db/market").empty());
}

TEST_CASE("libpq passwords are read as libpq reads them: escapes and quotes included", "[unit]") {
    // An unquoted value runs to an unescaped space: "abc\ defgh" is the password "abc defgh".
    const std::string escaped = "host=h password=abc\\ defgh user=u";
    const auto secrets = url_secrets(escaped);
    CHECK(std::find(secrets.begin(), secrets.end(), "abc defgh") != secrets.end());
    CHECK(redact_url(escaped).find("defgh") == std::string::npos);
    CHECK(redact_url("host=h password='a b\\\\c' user=u") == "host=h password='***' user=u");
    // A string libpq rejects is still cleared of its password: the error that reports it quotes it.
    CHECK(redact_url("host=127.0.0.1 port=1 bogus=1 password=pw-5ee1d2").find("pw-5ee1d2") == std::string::npos);
}

TEST_CASE("registered secrets are scrubbed from any text", "[unit]") {
    register_secret("pk_live_0123456789abcdef");
    CHECK(scrub("key=pk_live_0123456789abcdef failed") == "key=*** failed");
    CHECK(scrub("nothing secret") == "nothing secret");
    register_secret("abc"); // too short to scrub safely: ignored
    CHECK(scrub("abcdef") == "abcdef");
    CHECK(mask("pk_live_0123456789abcdef") == "***cdef");
    CHECK(mask("short") == "***");
    CHECK(mask("") == "");
}

TEST_CASE("instants and dates parse strictly", "[unit]") {
    CHECK(parse_date("2025-03-04") == sys_days{year{2025} / March / 4});
    CHECK_FALSE(parse_date("2025-02-30"));
    CHECK_FALSE(parse_date("2025-3-4"));
    CHECK_FALSE(parse_date("20250304"));
    CHECK(parse_instant("2025-03-04T15:00:00Z") == sys_days{year{2025} / March / 4} + hours{15});
    CHECK(parse_instant("2025-03-04T10:00:00-05:00") == sys_days{year{2025} / March / 4} + hours{15});
    CHECK(parse_instant("2025-03-04 15:00:00.123456") == sys_days{year{2025} / March / 4} + hours{15});
    CHECK_FALSE(parse_instant("2025-03-04T25:00:00Z"));
    CHECK_FALSE(parse_instant("yesterday"));
    CHECK(format_instant(sys_days{year{2025} / March / 4} + hours{15} + minutes{3} + seconds{9}) ==
          "2025-03-04T15:03:09Z");
    CHECK(format_date(sys_days{year{1999} / December / 31}) == "1999-12-31");
}

TEST_CASE("dates and instants format in UTC, whatever the time zone", "[unit]") {
    CHECK(format_date(k_min_flag_date) == "1900-01-01");
    CHECK(format_date(k_max_flag_date) == "9999-12-31");
    CHECK(format_date(sys_days{year{999} / January / 2}) == "0999-01-02");
    CHECK(format_instant(sys_seconds{}) == "1970-01-01T00:00:00Z");
    CHECK(format_instant(sys_seconds{} - seconds{1}) == "1969-12-31T23:59:59Z");
    CHECK(format_instant(sys_days{year{2024} / February / 29} + hours{23} + minutes{59} + seconds{59}) ==
          "2024-02-29T23:59:59Z");
}

TEST_CASE("date flags take 1900-01-01 .. 9999-12-31 and name themselves when refused", "[unit]") {
    CHECK_FALSE(parse_date("-001-01-01"));
    CHECK_FALSE(parse_date("+025-01-01"));
    CHECK_FALSE(parse_date("2025-+3-04"));
    CHECK(parse_date_flag("--from", "1900-01-01") == sys_days{year{1900} / January / 1});
    CHECK(parse_date_flag("--to", "9999-12-31") == sys_days{year{9999} / December / 31});
    for (const auto* bad : {"0000-01-01", "-001-01-01", "1899-12-31", "10000-01-01", "2025-02-30", "", "today"}) {
        try {
            (void)parse_date_flag("--from", bad);
            FAIL("accepted " << bad);
        } catch (const etl::UsageError& e) {
            CHECK(e.code() == ExitCode::usage);
            CHECK(std::string(e.what()).find(fmt::format("--from '{}'", bad)) != std::string::npos);
            CHECK(std::string(e.what()).find("YYYY-MM-DD") != std::string::npos);
        }
    }
}

TEST_CASE("string helpers", "[unit]") {
    CHECK(json_quote("a\"b\\c\nd\x01") == "\"a\\\"b\\\\c\\nd\\u0001\"");
    CHECK(percent_encode("^GSPC") == "%5EGSPC");
    CHECK(percent_encode("BRK-B") == "BRK-B");
    CHECK(split("a,,b", ',') == std::vector<std::string>{"a", "", "b"});
    CHECK(edit_distance("histrical", "historical") == 1);
    CHECK(iequals("MaX", "max"));
    CHECK(trim("  x \n") == "x");
}

TEST_CASE("decimals compare by canonical text whatever notation the provider used", "[unit]") {
    using etl::util::canonical_decimal;
    CHECK(canonical_decimal("4.7227643e+07") == "47227643");
    CHECK(canonical_decimal("47227643") == "47227643");
    CHECK(canonical_decimal("238.030") == "238.03");
    CHECK(canonical_decimal("0238.03") == "238.03");
    CHECK(canonical_decimal("1.2e-05") == "0.000012");
    CHECK(canonical_decimal("0.0525") == "0.0525");
    CHECK(canonical_decimal("-0.50") == "-0.5");
    CHECK(canonical_decimal("-0.0") == "0");
    CHECK(canonical_decimal("0e5") == "0");
    CHECK(canonical_decimal("100") == "100");
    CHECK(canonical_decimal("1E2") == "100");
    CHECK(canonical_decimal("5.") == "5");
    CHECK(canonical_decimal(".5") == "0.5");
    CHECK_FALSE(canonical_decimal("NaN"));
    CHECK_FALSE(canonical_decimal("inf"));
    CHECK_FALSE(canonical_decimal("1.2.3"));
    CHECK_FALSE(canonical_decimal("1e99999"));
    CHECK_FALSE(canonical_decimal(""));
}
