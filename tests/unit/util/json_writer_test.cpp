#include "etl/util/json_writer.hpp"
#include "etl/util/strings.hpp"

#include <catch2/catch.hpp>

#include <string>

using etl::util::JsonWriter;

TEST_CASE("JSON writer: nesting places commas and colons", "[unit]") {
    JsonWriter json;
    json.start_object().key("a").number(1).key("b").start_array();
    json.number(-2).start_object().end_object().start_array().end_array().null().boolean(true).boolean(false);
    json.end_array().key("c").start_object().key("d").string("e").end_object().end_object();
    CHECK(json.text() == R"({"a":1,"b":[-2,{},[],null,true,false],"c":{"d":"e"}})");

    JsonWriter empty_array;
    empty_array.start_array().end_array();
    CHECK(std::move(empty_array).release() == "[]");

    JsonWriter objects;
    objects.start_array().start_object().key("x").null().end_object().start_object().end_object().end_array();
    CHECK(objects.text() == R"([{"x":null},{}])");
}

TEST_CASE("JSON writer: strings and keys are escaped as JSON requires", "[unit]") {
    JsonWriter json;
    json.start_object().key("k\"ey\\").string("q\"b\\n\nr\rt\tc\x01\x1f d\x7f é");
    json.key(std::string("nul\0l", 5)).string(std::string("\0", 1)).end_object();
    CHECK(json.text() == "{\"k\\\"ey\\\\\":\"q\\\"b\\\\n\\nr\\rt\\tc\\u0001\\u001f d\x7f é\","
                         "\"nul\\u0000l\":\"\\u0000\"}");
    // json_quote is the same escaping.
    CHECK(etl::util::json_quote("a\"\x1b") == "\"a\\\"\\u001b\"");
}

TEST_CASE("JSON writer: decimal and raw texts are written unchanged, never through a double", "[unit]") {
    JsonWriter json;
    json.start_array().decimal("238.030").decimal("0.1000000000000000000001").decimal("4.7227643e+07");
    json.decimal("123456789012345678901234567890").raw(R"({"t":null})").fixed(1.23456, 3).fixed(2.0, 3);
    json.number(9'007'199'254'740'993).end_array();
    CHECK(json.text() == R"([238.030,0.1000000000000000000001,4.7227643e+07,123456789012345678901234567890,)"
                         R"({"t":null},1.235,2.000,9007199254740993])");
}

TEST_CASE("JSON writer: bytes that are not UTF-8 become U+FFFD; UTF-8 is kept", "[unit]") {
    JsonWriter json;
    json.string("A\xff"
                "B \xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80 \xc0\xaf \xed\xa0\x80 \xe2\x82 \xf4\x90\x80\x80");
    CHECK(json.text() == "\"A\\ufffdB \xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80 \\ufffd\\ufffd "
                         "\\ufffd\\ufffd\\ufffd \\ufffd\\ufffd \\ufffd\\ufffd\\ufffd\\ufffd\"");
}
