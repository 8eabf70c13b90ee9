// market::DecimalText and market::SourceName: the inline decimal text and the static source name of a bar.
#include "etl/market/bar.hpp"

#include <catch2/catch.hpp>

#include <fmt/format.h>

#include <optional>
#include <sstream>
#include <stdexcept>
#include <string>
#include <string_view>

using etl::market::Decimal;
using etl::market::DecimalText;
using etl::market::SourceName;

TEST_CASE("DecimalText keeps up to 24 characters exactly and refuses more", "[unit][bar]") {
    const std::string longest = "-1.2345678901234567e-308";
    const DecimalText text(longest);
    CHECK(text.view() == longest);
    CHECK(text.size() == 24);
    CHECK(DecimalText::fits(std::string(24, '1')));
    CHECK_FALSE(DecimalText::fits(std::string(25, '1')));
    CHECK(DecimalText(std::string(24, '7')).view() == std::string(24, '7'));
    CHECK_THROWS_AS(DecimalText(std::string(25, '1')), std::length_error);
    DecimalText assigned("1.5");
    CHECK_THROWS_AS(assigned.assign(std::string(40, '2')), std::length_error);
    CHECK(assigned == "1.5"); // unchanged by the refused assignment
    CHECK_THROWS_AS(assigned.assign(std::string_view("1\0"
                                                     "5",
                                                     3)),
                    std::invalid_argument);
    CHECK(assigned == "1.5");
    CHECK(DecimalText().empty());
    CHECK(DecimalText().view().empty());
    CHECK(DecimalText("").empty());
    // Every length, so that the end is found in each of the three words and at their edges.
    for (std::size_t n = 0; n <= DecimalText::capacity; ++n) {
        const std::string digits(n, '9');
        CHECK(DecimalText(digits).size() == n);
        CHECK(DecimalText(digits).view() == digits);
        CHECK(DecimalText(digits).empty() == (n == 0));
    }
}

TEST_CASE("DecimalText::assign_padded copies the text alone from a padded buffer", "[unit][bar]") {
    // The bytes after the text are another number, as in a parse buffer; none of them may be kept.
    const std::string buffer = "187.43850708007812,187.5,1e-7,2.5]     ,,,,,,,,,,,,,,,,,,,,,,,,,";
    for (std::size_t n = 0; n <= DecimalText::capacity; ++n) {
        DecimalText text(std::string(DecimalText::capacity, '8')); // longer than any of them: no leftovers
        text.assign_padded(std::string_view(buffer.data(), n));
        CHECK(text.view() == buffer.substr(0, n));
        CHECK(text == DecimalText(buffer.substr(0, n))); // equal as arrays: the padding is cleared
    }
}

TEST_CASE("DecimalText compares, converts and formats like the string it replaced", "[unit][bar]") {
    const Decimal d{"241.7899932861328", 241.7899932861328};
    CHECK(d.text == "241.7899932861328");
    CHECK(d.text == std::string("241.7899932861328"));
    CHECK_FALSE(d.text == "241.78999328613");
    CHECK(d.text == DecimalText("241.7899932861328"));
    CHECK(DecimalText("1.5") != DecimalText("1.50"));
    CHECK("241.7899932861328" == d.text);
    CHECK(std::string_view("241.7899932861328") == d.text);
    const std::string copied = d.text;
    CHECK(copied == "241.7899932861328");
    const std::string_view viewed = d.text;
    CHECK(viewed.data() == d.text.data());
    CHECK(fmt::format("[{}] [{:>8}]", d.text, DecimalText("1.5")) == "[241.7899932861328] [     1.5]");
    std::ostringstream out;
    out << d.text;
    CHECK(out.str() == "241.7899932861328");
}

TEST_CASE("decimal_from_double writes the shortest text inline, the longest double included", "[unit][bar]") {
    CHECK(etl::market::decimal_from_double(-2.2250738585072014e-308).text == "-2.2250738585072014e-308");
    CHECK(etl::market::decimal_from_double(1.7976931348623157e308).text == "1.7976931348623157e+308");
    CHECK(etl::market::decimal_from_double(87301.5).text == "87301.5");
}

TEST_CASE("SourceName is a literal or an interned name, compared and formatted as text", "[unit][bar]") {
    const SourceName literal = "polygon";
    CHECK(literal == "polygon");
    CHECK(literal.view() == "polygon");
    CHECK(fmt::format("{}", literal) == "polygon");
    const std::string as_string = literal;
    CHECK(as_string == "polygon");
    CHECK(SourceName().empty());
    CHECK(SourceName::intern("polygon") == literal);
    CHECK(literal != SourceName("yahoo"));
    CHECK(std::string("polygon") == literal);

    std::string runtime = "legacy-source";
    const SourceName first = SourceName::intern(runtime);
    runtime = "changed";
    CHECK(first == "legacy-source"); // a copy, not a view of the caller's string
    const SourceName again = SourceName::intern(std::string("legacy-source"));
    CHECK(again.view().data() == first.view().data()); // one copy per distinct name
    CHECK(SourceName::intern("other").view().data() != first.view().data());
}

TEST_CASE("OptionalDecimal is an optional Decimal in a Decimal's bytes: absent is the empty text", "[unit][bar]") {
    using etl::market::Decimal;
    using etl::market::OptionalDecimal;
    STATIC_REQUIRE(sizeof(OptionalDecimal) == sizeof(Decimal));
    STATIC_REQUIRE(sizeof(etl::market::Bar) == 272);

    OptionalDecimal volume;
    CHECK_FALSE(volume.has_value());
    CHECK(volume == std::nullopt);
    CHECK_THROWS_AS(volume.value(), std::bad_optional_access);

    volume = Decimal{"1234.5", 1234.5};
    REQUIRE(volume);
    CHECK(volume->text == "1234.5");
    CHECK((*volume).value == 1234.5);
    CHECK(volume.value().text == "1234.5");

    // Filled in place, as the parsers do: absent until its text is set.
    Decimal& filled = volume.emplace();
    CHECK_FALSE(volume);
    filled.text = "7";
    filled.value = 7.0;
    CHECK(volume->text == "7");

    volume = std::nullopt;
    CHECK_FALSE(volume);
    CHECK_FALSE(OptionalDecimal(std::optional<Decimal>{}));
    CHECK(OptionalDecimal(std::optional<Decimal>{Decimal{"0", 0.0}})->text == "0");
    // A Decimal with no text is no number: absent, as NULL goes into the database.
    CHECK_FALSE(OptionalDecimal(Decimal{}));
}
