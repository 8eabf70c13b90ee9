// The JSON reading kit the provider parsers share: text helpers, failures, the epoch range, tokens.
#include "etl/providers/json_read.hpp"

#include <catch2/catch.hpp>

#include <string>

using namespace etl::providers::json;

TEST_CASE("json kit: one range of instants, in seconds and milliseconds", "[unit]") {
    CHECK(in_epoch_range(k_min_epoch_seconds));
    CHECK_FALSE(in_epoch_range(k_min_epoch_seconds - 1));
    CHECK_FALSE(in_epoch_range(k_max_epoch_seconds));
    CHECK(ms_to_seconds(-1) == -1); // floored, not truncated
    CHECK(ms_to_seconds(1'741'089'612'004) == 1'741'089'612);
    CHECK(unix_seconds(1'741'089'612'004.0, 1000.0) == 1'741'089'612);
    CHECK(unix_seconds(1'741'089'612.0, 1.0) == 1'741'089'612);
    CHECK(unix_seconds(static_cast<double>(k_max_epoch_seconds), 1.0) == k_max_epoch_seconds);
    CHECK_FALSE(unix_seconds(static_cast<double>(k_max_epoch_seconds) + 1.0, 1.0));
    CHECK_FALSE(unix_seconds(-1.0, 1.0));
    CHECK_FALSE(unix_seconds(1e300, 1000.0));
}

TEST_CASE("json kit: failures are one line that starts with the provider", "[unit]") {
    CHECK(failure("yahoo", "chart is not an object").value().message == "yahoo: chart is not an object");
    CHECK(not_json("polygon", " \n", simdjson::EMPTY).value().message == "polygon: empty body");
    const auto html = not_json("polygon", "<html>\n<body>Too Many Requests</body>", simdjson::TAPE_ERROR);
    CHECK_THAT(html.value().message, Catch::StartsWith("polygon: body is not a JSON object ("));
    CHECK_THAT(html.value().message, Catch::EndsWith("it starts with \"<html> <body>Too Many Requests</body>\""));
    CHECK(one_line("  a\nb\tc  ") == "a b c");
    CHECK(one_line(std::string(10, 'x') + "\xC3\xA9", 11) == "xxxxxxxxxx..."); // never half a character
}

TEST_CASE("json kit: tokens keep a number's literal text and classify the rest", "[unit]") {
    BodyParser& parser = thread_parser();
    od::document doc;
    const auto result = parser.iterate(R"({"v":[238.030 , 1.741e+12, null, "x", 1e999, {"a":[1]}]})").get(doc);
    REQUIRE(result == simdjson::SUCCESS);
    od::object top;
    REQUIRE(doc.get_object().get(top) == simdjson::SUCCESS);
    od::array array;
    REQUIRE(top["v"].get_array().get(array) == simdjson::SUCCESS);
    std::vector<Token> tokens;
    std::size_t i = 0;
    for (auto element : array) {
        od::value value;
        REQUIRE(std::move(element).get(value) == simdjson::SUCCESS);
        Token& token = tokens.emplace_back();
        REQUIRE((i == 1 ? read_integer(value, token) : read_number(value, token)) == simdjson::SUCCESS);
        ++i;
    }
    REQUIRE(tokens.size() == 6);
    CHECK(tokens[0].kind == Kind::number);
    CHECK(tokens[0].text == "238.030");
    CHECK(tokens[0].value == 238.03);
    CHECK(tokens[1].kind == Kind::number);
    CHECK(tokens[1].integer == 1'741'000'000'000);
    CHECK(tokens[2].kind == Kind::null);
    CHECK(tokens[3].kind == Kind::other);
    CHECK(tokens[3].text == "\"x\"");
    CHECK(tokens[4].kind == Kind::other);
    CHECK(tokens[5].kind == Kind::other);
    CHECK(tokens[5].text == R"({"a":[1]})");
}
