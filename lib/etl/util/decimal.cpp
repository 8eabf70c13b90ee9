#include "etl/util/decimal.hpp"

#include <charconv>

namespace etl::util {

std::optional<std::string> canonical_decimal(std::string_view text) {
    std::size_t i = 0;
    bool negative = false;
    if (i < text.size() && (text[i] == '-' || text[i] == '+')) negative = text[i++] == '-';
    std::string digits;
    long point = 0; // digits before the decimal point
    bool seen_point = false, any_digit = false;
    for (; i < text.size(); ++i) {
        const char c = text[i];
        if (c >= '0' && c <= '9') {
            digits.push_back(c);
            any_digit = true;
            if (!seen_point) ++point;
        } else if (c == '.' && !seen_point) {
            seen_point = true;
        } else {
            break;
        }
    }
    if (!any_digit) return std::nullopt;
    if (i < text.size()) {
        if (text[i] != 'e' && text[i] != 'E') return std::nullopt;
        ++i;
        if (i < text.size() && text[i] == '+') ++i;
        long exponent = 0;
        const auto [p, ec] = std::from_chars(text.data() + i, text.data() + text.size(), exponent);
        // Exponents this large are no market data, and would make huge strings.
        if (ec != std::errc{} || p != text.data() + text.size() || exponent > 1000 || exponent < -1000)
            return std::nullopt;
        point += exponent;
    }
    const auto first = digits.find_first_not_of('0');
    if (first == std::string::npos) return std::string("0");
    digits.erase(0, first);
    point -= static_cast<long>(first);
    const auto last = digits.find_last_not_of('0');
    digits.erase(last + 1);
    std::string out = negative ? "-" : "";
    const auto n = static_cast<long>(digits.size());
    if (point <= 0) {
        out += "0.";
        out.append(static_cast<std::size_t>(-point), '0');
        out += digits;
    } else if (point >= n) {
        out += digits;
        out.append(static_cast<std::size_t>(point - n), '0');
    } else {
        out += digits.substr(0, static_cast<std::size_t>(point));
        out += '.';
        out += digits.substr(static_cast<std::size_t>(point));
    }
    return out;
}

} // namespace etl::util
