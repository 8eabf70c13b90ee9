// A small JSON text writer: objects, arrays, keys and scalars appended to one string, with the commas
// placed for the caller. Decimal texts go in as raw number literals and never pass through a double, so
// a provider's "238.030" comes out as 238.030.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace etl::util {

class JsonWriter {
public:
    // A function every string() passes through before it is escaped. `JsonWriter(util::scrub)` keeps the
    // registered secrets out (util/secrets.hpp): a JSON text must never be scrubbed after encoding (a
    // secret of digits would hit a number, a secret with a quote would no longer match its escaped form).
    using Filter = std::string (*)(std::string_view);

    JsonWriter() = default;
    explicit JsonWriter(Filter filter) : m_filter(filter) {}

    JsonWriter& start_object();
    JsonWriter& end_object();
    JsonWriter& start_array();
    JsonWriter& end_array();
    // The key of the next member; a value call must follow.
    JsonWriter& key(std::string_view name);

    // A string, escaped as JSON requires: quotes, backslashes, \n \r \t, other control characters as
    // \u00XX. Well-formed UTF-8 is copied as it is; any other byte becomes \ufffd.
    JsonWriter& string(std::string_view text);
    JsonWriter& number(std::int64_t value);
    // `value` with exactly `decimals` digits after the point (durations in seconds: 1.234).
    JsonWriter& fixed(double value, int decimals);
    JsonWriter& boolean(bool value);
    JsonWriter& null();
    // A decimal literal written unchanged (the caller vouches that it is a JSON number literal).
    JsonWriter& decimal(std::string_view literal);
    // A value that is already JSON text (a token copied from a provider's body), written unchanged.
    JsonWriter& raw(std::string_view json);

    // The text so far. Complete once every started object and array has ended.
    [[nodiscard]] const std::string& text() const noexcept { return m_out; }
    [[nodiscard]] std::string release() && noexcept { return std::move(m_out); }

private:
    void before_value();

    std::string m_out;
    bool m_need_comma = false; // a value or member has been written in the current container
    bool m_after_key = false;  // key() was the last call: the value needs no comma
    Filter m_filter = nullptr;
};

// Appends `text` to `out` as a JSON string literal, quotes included (the escaping of JsonWriter::string).
void append_json_string(std::string& out, std::string_view text);

} // namespace etl::util
