// The JSON reading kit the provider parsers share: text helpers, failures, the epoch range, tokens.
#include "etl/providers/json_read.hpp"

#include <catch2/catch.hpp>

#include <cstdint>
#include <string>
#include <vector>

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

TEST_CASE("json kit: reserve_rows reserves once and keeps the rows, huge pages or not", "[unit][parse2]") {
    // 3 million 8-byte rows (24 MB): past the size from which huge pages are advised.
    constexpr std::size_t k_many = 3'000'000;
    std::vector<std::int64_t> rows{7, 8, 9};
    reserve_rows(rows, k_many);
    REQUIRE(rows.capacity() >= k_many);
    CHECK(rows == std::vector<std::int64_t>{7, 8, 9});
    const std::int64_t* const buffer = rows.data();
    for (std::size_t i = 3; i < k_many; ++i) rows.push_back(static_cast<std::int64_t>(i) * 3);
    CHECK(rows.data() == buffer); // no growth past the reservation
    CHECK(rows[2] == 9);
    CHECK(rows[1'234'567] == 3'703'701);
    CHECK(rows.back() == static_cast<std::int64_t>(k_many - 1) * 3);

    // A count the vector already holds changes nothing.
    reserve_rows(rows, 10);
    CHECK(rows.data() == buffer);
    CHECK(rows.size() == k_many);

    // Small vectors are reserved as usual.
    std::vector<int> few;
    reserve_rows(few, 5);
    CHECK(few.capacity() >= 5);
    CHECK(few.empty());
}

TEST_CASE("json kit: advise_huge_pages takes any range, aligned or not, and leaves the bytes alone", "[unit][parse2]") {
    std::vector<char> bytes(std::size_t{20} << 20, 'x');
    advise_huge_pages(bytes.data() + 1, bytes.size() - 1);
    advise_huge_pages(bytes.data(), 100);
    advise_huge_pages(nullptr, 0);
    CHECK(bytes.front() == 'x');
    CHECK(bytes[std::size_t{10} << 20] == 'x');
    CHECK(bytes.back() == 'x');
}
