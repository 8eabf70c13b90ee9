#include "etl/util/json_writer.hpp"

#include <fmt/format.h>

#include <iterator>

namespace etl::util {

void append_json_string(std::string& out, std::string_view text) {
    constexpr std::string_view k_hex = "0123456789abcdef";
    out.reserve(out.size() + text.size() + 2);
    out.push_back('"');
    for (const char ch : text) {
        const auto c = static_cast<unsigned char>(ch);
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
    append_json_string(m_out, text);
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
