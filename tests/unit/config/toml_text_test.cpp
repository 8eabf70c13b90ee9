// config::parse_toml_text: what any bytes in a config file may do (a one-line ConfigError at worst,
// never a crash), and what a syntax error tells the user.
#include "etl/config/config.hpp"
#include "etl/util/error.hpp"

#include <catch2/catch.hpp>

#include <algorithm>
#include <cstdint>
#include <string>
#include <vector>

using etl::config::parse_toml_text;

namespace {

// The message of the ConfigError `text` raises ("" when it parses).
std::string error_of(const std::string& text) {
    try {
        static_cast<void>(parse_toml_text(text, "etl.toml"));
    } catch (const etl::ConfigError& e) {
        return e.what();
    }
    return "";
}

std::string repeat(std::string_view s, std::size_t n) {
    std::string out;
    out.reserve(s.size() * n);
    for (std::size_t i = 0; i < n; ++i) out += s;
    return out;
}

// A small deterministic generator (xorshift64), so a failing input can be found again.
struct Rng {
    std::uint64_t state;
    std::uint64_t next() {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        return state;
    }
    std::size_t below(std::size_t n) { return n == 0 ? 0 : static_cast<std::size_t>(next() % n); }
};

} // namespace

TEST_CASE("parse_toml_text flattens a file into dotted keys and scalar text", "[unit]") {
    const auto values =
        parse_toml_text("database_url = \"sqlite:x.db\"\n[fetch]\nconcurrency = 4\n"
                        "[providers.polygon]\nrequests_per_minute = 7.5\n[hourly]\nextended_hours = true\n",
                        "etl.toml");
    const std::vector<etl::config::FileSetting> expected = {{"database_url", "sqlite:x.db"},
                                                            {"fetch.concurrency", "4"},
                                                            {"providers.polygon.requests_per_minute", "7.5"},
                                                            {"hourly.extended_hours", "true"}};
    for (const auto& e : expected) CHECK(std::find(values.begin(), values.end(), e) != values.end());
    CHECK(values.size() == expected.size());
    CHECK_THAT(error_of("[fetch]\nconcurrency = [1, 2]\n"), Catch::Contains("'fetch.concurrency' must be a string"));
}

TEST_CASE("a TOML syntax error keeps its line and column, on one line", "[unit]") {
    const auto missing_value = error_of("database_url = \"sqlite:x.db\"\nredis_url = \n");
    CHECK_THAT(missing_value, Catch::StartsWith("etl.toml:2:13: invalid TOML: "));
    CHECK_THAT(missing_value, Catch::Contains("missing value"));
    CHECK(missing_value.find('\n') == std::string::npos);

    const auto header = error_of("# comment\n[fetch\ntimeout_seconds = 3\n");
    CHECK_THAT(header, Catch::StartsWith("etl.toml:2:"));
    CHECK(header.find('\n') == std::string::npos);

    const auto twice = error_of("[fetch]\nmax_retries = 1\nmax_retries = 2\n");
    CHECK_THAT(twice, Catch::StartsWith("etl.toml:3:"));

    // The excerpt of the file toml11 prints is left out: a file can hold anything.
    const auto excerpt = error_of("[providers.polygon]\nbase_url = \"http://h/?apiKey=sekr1t\" x\n");
    CHECK_THAT(excerpt, Catch::StartsWith("etl.toml:2:"));
    CHECK_THAT(excerpt, !Catch::Contains("sekr1t"));
}

TEST_CASE("nesting is bounded before the parser sees it", "[unit]") {
    // A few thousand levels overflow toml11's recursive parser (a crash, not an error).
    constexpr std::size_t deep = 5000;
    for (const auto& text :
         {"a = " + repeat("[", deep) + repeat("]", deep) + "\n",
          "a = " + repeat("{b = ", deep) + "1" + repeat("}", deep) + "\n",
          "a = " + repeat("[{b = ", deep) + "1" + repeat("}]", deep) + "\n", "a" + repeat(".b", deep) + " = 1\n",
          "[a" + repeat(".b", deep) + "]\nc = 1\n", "[[a" + repeat(".b", deep) + "]]\nc = 1\n",
          "a = " + repeat("[", deep) + "\n", "a = [\"]\", '[', \"\"\"x\"\"\"\"\", " + repeat("[", deep) + "\n"}) {
        CAPTURE(text.substr(0, 40));
        CHECK_THAT(error_of(text), Catch::Contains("nested deeper than 32 levels"));
    }
    // Brackets in strings and comments are not nesting.
    CHECK(error_of("database_url = \"" + repeat("[", 100) + "\" # " + repeat("{", 100) + "\n") == "");
    CHECK(error_of("database_url = '''\n" + repeat("[", 100) + "\n'''\n") == "");
    // Up to 32 levels parse (and are then refused as not a setting, which is Config::load's business).
    CHECK_THAT(error_of("a = " + repeat("[", 31) + repeat("]", 31) + "\n"), !Catch::Contains("nested"));
    CHECK_THAT(error_of("a" + repeat(".b", 31) + " = 1\n"), !Catch::Contains("nested"));
}

TEST_CASE("size, UTF-8 and carriage returns are checked before parsing", "[unit]") {
    CHECK_THAT(error_of("# " + std::string(etl::config::k_max_config_bytes, 'x') + "\n"),
               Catch::Contains("larger than 1048576 bytes"));
    // Invalid UTF-8 in a string makes toml11 3.x read out of bounds while reporting it.
    CHECK_THAT(error_of("x = '''ml\nst\xC3r'''\n"),
               Catch::Contains("etl.toml:2:3: invalid TOML: byte 0xC3 is not UTF-8"));
    CHECK_THAT(error_of("x = \"\xED\xA0\x80\"\n"), Catch::Contains("not UTF-8"));     // a surrogate
    CHECK_THAT(error_of("x = \"\xF4\x90\x80\x80\"\n"), Catch::Contains("not UTF-8")); // above U+10FFFF
    CHECK_THAT(error_of("x = \"\xC0\xAF\"\n"), Catch::Contains("not UTF-8"));         // overlong
    CHECK(error_of("x = \"gr\xC3\xBC\xC3\x9F \xE2\x82\xAC \xF0\x9F\x93\x88\"\n") == "");
    // toml11 only appends the final newline it relies on when the text does not end in CR.
    CHECK_THAT(error_of("a = 1\r"), Catch::Contains("etl.toml:1:6: invalid TOML: a carriage return"));
    CHECK_THAT(error_of("a = 1\rb = 2\n"), Catch::Contains("carriage return"));
    CHECK(error_of("a = 1\r\nb = 2\r\n") == "");
    CHECK(error_of("") == "");
}

TEST_CASE("any bytes give settings or a one-line ConfigError, never a crash (run under ASan)", "[unit]") {
    // Seeds: every TOML construct the parser knows, then every prefix of each (truncated files) and
    // random edits. Under ETL_SANITIZE=ON an out-of-bounds read in the parser fails this test.
    const std::vector<std::string> seeds = {
        "database_url = \"sqlite:x.db\" # comment\n[fetch]\nconcurrency = 4\nmax_retries=2\n",
        "[providers.polygon]\nbase_url = 'http://h'\nrequests_per_minute = 1.5e1\n[routing]\nfallback = \"\"\n",
        "a = [1, 2.5, -3, +4, 0x1F, 0o7, 0b1, 1_000, inf, nan, true]\nb = {c = 1, d.e = \"f\"}\n",
        "[[t]]\nx = 1979-05-27T07:32:00Z\ny = 1979-05-27 07:32:00.5-07:00\nz = 07:32:00\nw = 1979-05-27\n",
        "s = \"\"\"\nline\\\n  \"quoted\" \\u00E9 \\U0001F600\"\"\"\"\nl = '''\nraw ''\\n'''''\n",
        "\"quoted key\".'lit' = \"\\t\\n\\\\\"\n[a.\"b c\".d]\ne = [[1], [\"x\"], [{f = 1}]]\n",
        "\xEF\xBB\xBFkey = \"bom\"\r\n[tab]\t# t\r\nv = 1\r\n",
    };
    const std::string alphabet = "[]{}=\"'.,#\n\r\\ \t0123456789eE+-_:TZxobinfa\xC3\xA9\xEF\xBB\xBF\xFF";
    std::size_t inputs = 0;
    const auto check = [&](const std::string& text) {
        ++inputs;
        try {
            static_cast<void>(parse_toml_text(text, "fuzz.toml"));
        } catch (const etl::ConfigError& e) {
            const std::string what = e.what();
            if (what.find('\n') != std::string::npos || what.rfind("fuzz.toml", 0) != 0) FAIL_CHECK(what);
        } catch (const std::exception& e) {
            FAIL_CHECK("not a ConfigError: " << e.what() << " for input " << text);
        }
    };
    for (const auto& seed : seeds)
        for (std::size_t n = 0; n <= seed.size(); ++n) check(seed.substr(0, n));
    Rng rng{0x9E3779B97F4A7C15ULL};
    for (int round = 0; round < 3000; ++round) {
        std::string text = seeds[rng.below(seeds.size())];
        const auto edits = 1 + rng.below(4);
        for (std::size_t e = 0; e < edits; ++e) {
            const auto at = rng.below(text.size() + 1);
            const char c = alphabet[rng.below(alphabet.size())];
            switch (rng.below(5)) {
            case 0: text.insert(at, 1, c); break;
            case 1:
                if (at < text.size()) text.erase(at, 1);
                break;
            case 2:
                if (at < text.size()) text[at] = c;
                break;
            case 3: text.resize(at); break;
            default: text.insert(at, text.substr(rng.below(text.size() + 1), rng.below(16))); break;
            }
        }
        check(text);
    }
    CHECK(inputs > 3000);
}
