#include "etl/util/json_writer.hpp"

#include <fmt/format.h>

#include <iterator>

namespace etl::util {

namespace {

// The length of the well-formed UTF-8 sequence at the start of `s` (first byte >= 0x80), or 0 when it is
// not one (a stray continuation byte, a truncated, overlong or surrogate sequence, beyond U+10FFFF).
std::size_t utf8_sequence(std::string_view s) {
    const auto byte = [&](std::size_t i) { return static_cast<unsigned char>(s[i]); };
    const auto cont = [&](std::size_t i) { return i < s.size() && (byte(i) & 0xC0U) == 0x80U; };
    const unsigned c = byte(0);
    if (c >= 0xC2U && c <= 0xDFU) return cont(1) ? 2 : 0;
    if (c >= 0xE0U && c <= 0xEFU) {
        if (!cont(1) || !cont(2)) return 0;
        if (c == 0xE0U && byte(1) < 0xA0U) return 0;  // overlong
        if (c == 0xEDU && byte(1) >= 0xA0U) return 0; // UTF-16 surrogate
        return 3;
    }
    if (c >= 0xF0U && c <= 0xF4U) {
        if (!cont(1) || !cont(2) || !cont(3)) return 0;
        if (c == 0xF0U && byte(1) < 0x90U) return 0;  // overlong
        if (c == 0xF4U && byte(1) >= 0x90U) return 0; // beyond U+10FFFF
        return 4;
    }
    return 0;
}

} // namespace

void append_json_string(std::string& out, std::string_view text) {
    constexpr std::string_view k_hex = "0123456789abcdef";
    out.reserve(out.size() + text.size() + 2);
    out.push_back('"');
    for (std::size_t i = 0; i < text.size();) {
        const char ch = text[i];
        const auto c = static_cast<unsigned char>(ch);
        if (c >= 0x80U) {
            // Multi-byte UTF-8 is copied as it is; a byte that is not part of one (a path or argument in
            // another encoding) becomes U+FFFD, so the output is always valid JSON.
            if (const auto n = utf8_sequence(text.substr(i)); n > 0) {
                out.append(text.substr(i, n));
                i += n;
            } else {
                out += "\\ufffd";
                ++i;
            }
            continue;
        }
        switch (c) {
        case '"': out += "\\\""; break;
        case '\\': out += "\\\\"; break;
        case '\n': out += "\\n"; break;
        case '\r': out += "\\r"; break;
        case '\t': out += "\\t"; break;
        default:
            if (c < 0x20U) {
                out += "\\u00";
                out.push_back(k_hex[c >> 4U]);
                out.push_back(k_hex[c & 0xFU]);
            } else {
                out.push_back(ch);
            }
        }
        ++i;
    }
    out.push_back('"');
}

void JsonWriter::before_value() {
    if (m_after_key) {
        m_after_key = false;
    } else if (m_need_comma) {
        m_out.push_back(',');
    }
    m_need_comma = true;
}

JsonWriter& JsonWriter::start_object() {
    before_value();
    m_out.push_back('{');
    m_need_comma = false;
    return *this;
}

JsonWriter& JsonWriter::end_object() {
    m_out.push_back('}');
    m_need_comma = true;
    return *this;
}

JsonWriter& JsonWriter::start_array() {
    before_value();
    m_out.push_back('[');
    m_need_comma = false;
    return *this;
}

JsonWriter& JsonWriter::end_array() {
    m_out.push_back(']');
    m_need_comma = true;
    return *this;
}

JsonWriter& JsonWriter::key(std::string_view name) {
    if (m_need_comma) m_out.push_back(',');
    append_json_string(m_out, name);
    m_out.push_back(':');
    m_need_comma = true;
    m_after_key = true;
    return *this;
}

JsonWriter& JsonWriter::string(std::string_view text) {
    before_value();
    if (m_filter) append_json_string(m_out, m_filter(text));
    else append_json_string(m_out, text);
    return *this;
}

JsonWriter& JsonWriter::number(std::int64_t value) {
    before_value();
    fmt::format_to(std::back_inserter(m_out), "{}", value);
    return *this;
}

JsonWriter& JsonWriter::fixed(double value, int decimals) {
    before_value();
    fmt::format_to(std::back_inserter(m_out), "{:.{}f}", value, decimals);
    return *this;
}

JsonWriter& JsonWriter::boolean(bool value) {
    before_value();
    m_out += value ? "true" : "false";
    return *this;
}

JsonWriter& JsonWriter::null() {
    before_value();
    m_out += "null";
    return *this;
}

JsonWriter& JsonWriter::decimal(std::string_view literal) {
    before_value();
    m_out += literal;
    return *this;
}

JsonWriter& JsonWriter::raw(std::string_view json) {
    before_value();
    m_out += json;
    return *this;
}

} // namespace etl::util
