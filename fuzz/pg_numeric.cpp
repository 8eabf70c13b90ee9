// libFuzzer target: the binary COPY's numeric encoder (pg::append_numeric_send), on any text. Besides no
// crash: it accepts exactly the plain decimals (an optional '-', digits, an optional '.' and digits, at
// least one digit, at most 1000), leaves `out` unchanged when it refuses, and what it writes is
// numeric_send's form of the same number: decoded, it gives back the text's digits and scale, with no
// leading or trailing zero base-10000 digit and every digit below 10000.
#include "check.hpp"

#include "etl/pg/copy.hpp"

#include <string>

namespace {

using etl::fuzz::broken;

bool plain_decimal(std::string_view t) {
    if (!t.empty() && t.front() == '-') t.remove_prefix(1);
    const auto point = t.find('.');
    const auto whole = t.substr(0, point);
    const auto fraction = point == std::string_view::npos ? std::string_view() : t.substr(point + 1);
    const auto digits = [](std::string_view s) { return s.find_first_not_of("0123456789") == std::string_view::npos; };
    return !(whole.empty() && fraction.empty()) && digits(whole) && digits(fraction) &&
           whole.size() + fraction.size() <= 1000;
}

unsigned get16(std::string_view b, std::size_t at) {
    return static_cast<unsigned>(static_cast<unsigned char>(b[at])) << 8U | static_cast<unsigned char>(b[at + 1]);
}

// The canonical text numeric_in would print for `t`: no leading zero in the whole part ("0" when it is
// empty), the fraction as written, no '-' on zero.
std::string canonical(std::string_view t) {
    bool negative = !t.empty() && t.front() == '-';
    if (negative) t.remove_prefix(1);
    const auto point = t.find('.');
    auto whole = t.substr(0, point);
    const auto fraction = point == std::string_view::npos ? std::string_view() : t.substr(point + 1);
    while (!whole.empty() && whole.front() == '0') whole.remove_prefix(1);
    const bool zero = whole.empty() && fraction.find_first_not_of('0') == std::string_view::npos;
    std::string out = negative && !zero ? "-" : "";
    out += whole.empty() ? "0" : std::string(whole);
    if (!fraction.empty()) (out += '.') += fraction;
    return out;
}

// numeric_send's bytes back to that canonical text; broken() when they are not numeric_send's form.
std::string decode(std::string_view b, std::string_view input) {
    if (b.size() < 8) broken("shorter than the header", input);
    const auto ndigits = get16(b, 0);
    const auto weight = static_cast<int>(static_cast<std::int16_t>(get16(b, 2)));
    const auto sign = get16(b, 4);
    const auto dscale = get16(b, 6);
    if (b.size() != 8 + 2 * static_cast<std::size_t>(ndigits)) broken("length is not 8 + 2 * ndigits", input);
    if (sign != 0 && sign != 0x4000) broken("sign is neither positive nor negative", input);
    if (ndigits == 0 && (sign != 0 || weight != 0)) broken("zero with a sign or a weight", input);
    std::string whole, fraction;
    for (unsigned i = 0; i < ndigits; ++i) {
        const auto d = get16(b, 8 + 2 * i);
        if (d > 9999) broken("a base-10000 digit above 9999", input);
        if ((i == 0 || i + 1 == ndigits) && d == 0) broken("a leading or trailing zero digit", input);
        const int power = weight - static_cast<int>(i); // this digit counts 10000^power
        std::string four(4, '0');
        for (int k = 3, v = static_cast<int>(d); k >= 0; --k, v /= 10)
            four[static_cast<std::size_t>(k)] = static_cast<char>('0' + v % 10);
        if (power >= 0) {
            // Whole digits: zero groups between this one and the previous are filled below.
            whole += four;
        } else {
            const auto at = static_cast<std::size_t>(-power - 1) * 4; // where this group starts in the fraction
            if (fraction.size() < at) fraction.resize(at, '0');
            fraction += four;
        }
    }
    // Whole groups after the last digit, down to 10000^0.
    if (ndigits > 0 && weight >= 0) {
        const int last = weight - static_cast<int>(ndigits) + 1;
        if (last > 0) whole.append(static_cast<std::size_t>(last) * 4, '0');
    }
    while (!whole.empty() && whole.front() == '0') whole.erase(0, 1);
    if (fraction.size() > dscale) {
        if (fraction.find_first_not_of('0', dscale) != std::string::npos) broken("digits past the scale", input);
        fraction.resize(dscale);
    }
    fraction.resize(dscale, '0');
    std::string out = sign == 0x4000 ? "-" : "";
    out += whole.empty() ? "0" : whole;
    if (dscale > 0) (out += '.') += fraction;
    return out;
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view text(reinterpret_cast<const char*>(data), size);
    std::string out = "prefix";
    const bool ok = etl::pg::append_numeric_send(out, text);
    if (ok != plain_decimal(text))
        broken(ok ? "accepted a text that is no plain decimal" : "refused a plain decimal", text);
    if (!ok) {
        if (out != "prefix") broken("changed out when refusing", text);
        return 0;
    }
    if (!out.starts_with("prefix")) broken("did not append", text);
    if (decode(std::string_view(out).substr(6), text) != canonical(text)) broken("decodes to another number", text);
    return 0;
}
