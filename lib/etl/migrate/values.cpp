#include "etl/migrate/values.hpp"

#include "etl/util/clock.hpp"
#include "etl/util/decimal.hpp"
#include "etl/util/strings.hpp"

#include <fmt/format.h>
#include <simdjson.h>

#include <array>
#include <charconv>
#include <cmath>

namespace etl::migrate {
namespace {

using std::chrono::days;
using std::chrono::floor;
using std::chrono::hours;
using std::chrono::microseconds;
using std::chrono::milliseconds;
using std::chrono::minutes;
using std::chrono::seconds;
using std::chrono::sys_days;
using std::chrono::sys_time;

constexpr std::string_view k_iso_forms = "YYYY-MM-DD[ HH:MM[:SS[.fff]]][Z|+HH:MM]";

// 2440587.5 is the Julian day of 1970-01-01 00:00 UTC (SQLite's julianday('1970-01-01')).
constexpr double k_unix_epoch_julian_day = 2440587.5;
// Julian days 2415020.5 .. 5373484.5 span 1900..9999; the wider bounds only keep the conversion to
// milliseconds far from int64 overflow, the exact range check comes after it.
constexpr double k_julian_day_low = 2'000'000.0;
constexpr double k_julian_day_high = 6'000'000.0;

// A text instant as written: its date, its time of day and its zone's offset east of UTC.
struct WrittenInstant {
    sys_days date;
    seconds time_of_day{0};
    seconds offset{0};
};

// Exactly two ASCII digits at `pos` (no sign, no blank: from_chars alone would take "-1" or "+1").
bool two_digits(std::string_view s, std::size_t pos, int& out) {
    if (pos + 2 > s.size()) return false;
    const char a = s[pos];
    const char b = s[pos + 1];
    if (a < '0' || a > '9' || b < '0' || b > '9') return false;
    out = (a - '0') * 10 + (b - '0');
    return true;
}

// The zone after a time: "Z", "z", "+HH", "+HH:MM", "+HHMM" (or '-'); nullopt for anything else.
std::optional<seconds> parse_zone(std::string_view zone) {
    if (zone == "Z" || zone == "z") return seconds{0};
    if (zone.empty() || (zone[0] != '+' && zone[0] != '-')) return std::nullopt;
    int hh = 0;
    int mm = 0;
    if (!two_digits(zone, 1, hh) || hh > 23) return std::nullopt;
    const bool ok = zone.size() == 3 || (zone.size() == 5 && two_digits(zone, 3, mm)) ||
                    (zone.size() == 6 && zone[3] == ':' && two_digits(zone, 4, mm));
    if (!ok || mm > 59) return std::nullopt;
    const seconds offset = hours{hh} + minutes{mm};
    return zone[0] == '-' ? -offset : offset;
}

// The forms to_instant documents; nullopt when `text` is in none of them or names no real date or time.
std::optional<WrittenInstant> parse_written(std::string_view text) {
    text = util::trim(text);
    const auto date = util::parse_date(text.substr(0, 10));
    if (!date) return std::nullopt;
    WrittenInstant w{*date};
    if (text.size() == 10) return w;
    if (text[10] != ' ' && text[10] != 'T' && text[10] != 't') return std::nullopt;
    int hh = 0;
    int mm = 0;
    int ss = 0;
    if (!two_digits(text, 11, hh) || hh > 23 || text.size() < 16 || text[13] != ':' || !two_digits(text, 14, mm) ||
        mm > 59)
        return std::nullopt;
    std::size_t pos = 16;
    if (pos < text.size() && text[pos] == ':') {
        // 60 is no second a market file holds, and sys_seconds has no leap second to put it in.
        if (!two_digits(text, pos + 1, ss) || ss > 59) return std::nullopt;
        pos += 3;
        if (pos < text.size() && text[pos] == '.') {
            const auto first = ++pos;
            while (pos < text.size() && text[pos] >= '0' && text[pos] <= '9') ++pos;
            if (pos == first) return std::nullopt;
        }
    }
    w.time_of_day = hours{hh} + minutes{mm} + seconds{ss};
    if (pos == text.size()) return w;
    const auto offset = parse_zone(text.substr(pos));
    if (!offset) return std::nullopt;
    w.offset = *offset;
    return w;
}

bool in_range(market::sys_seconds t) { return t >= k_first_instant && t <= k_last_instant; }

std::string outside_range(const Cell& cell, std::string_view read_as) {
    return fmt::format("{} is outside {} .. {}{}", describe(cell), util::format_instant(k_first_instant),
                       util::format_instant(k_last_instant), read_as);
}

std::string not_iso(const Cell& cell) {
    return fmt::format("{} is not an ISO 8601 date or timestamp ({})", describe(cell), k_iso_forms);
}

tl::expected<market::sys_seconds, std::string> epoch_instant(const Cell& cell) {
    const std::int64_t v = cell.integer;
    // The magnitude as unsigned: negating INT64_MIN would overflow.
    const std::uint64_t magnitude = v < 0 ? 0 - static_cast<std::uint64_t>(v) : static_cast<std::uint64_t>(v);
    market::sys_seconds t;
    if (magnitude < static_cast<std::uint64_t>(k_epoch_seconds_below)) {
        t = market::sys_seconds{seconds{v}};
    } else if (magnitude < static_cast<std::uint64_t>(k_epoch_millis_below)) {
        t = floor<seconds>(sys_time<milliseconds>{milliseconds{v}});
    } else if (magnitude < static_cast<std::uint64_t>(k_epoch_micros_below)) {
        t = floor<seconds>(sys_time<microseconds>{microseconds{v}});
    } else {
        return tl::make_unexpected(
            fmt::format("{} is too large for epoch seconds, milliseconds or microseconds (|value| below 1e16)",
                        describe(cell)));
    }
    if (!in_range(t)) return tl::make_unexpected(outside_range(cell, " (read as an epoch)"));
    return t;
}

tl::expected<market::sys_seconds, std::string> julian_day_instant(const Cell& cell) {
    const double jd = cell.real;
    if (!std::isfinite(jd)) return tl::make_unexpected(fmt::format("{} is not a Julian day", describe(cell)));
    if (jd < k_julian_day_low || jd > k_julian_day_high)
        return tl::make_unexpected(outside_range(cell, " (read as a Julian day)"));
    // Rounded to the millisecond first (julianday() keeps milliseconds; the double's own error is far
    // below one), then floored like a text fraction, so 10:00:00.700 is 10:00:00 both ways.
    const auto ms = std::llround((jd - k_unix_epoch_julian_day) * 86'400'000.0);
    const auto t = floor<seconds>(sys_time<milliseconds>{milliseconds{ms}});
    if (!in_range(t)) return tl::make_unexpected(outside_range(cell, " (read as a Julian day)"));
    return t;
}

bool is_intraday_code(std::string_view code) {
    if (code.size() < 2 || (code.back() != 'm' && code.back() != 'h')) return false;
    code.remove_suffix(1);
    return code.find_first_not_of("0123456789") == std::string_view::npos;
}

bool is_word_byte(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
}

} // namespace

std::string describe(const Cell& cell) {
    switch (cell.type) {
    case Cell::Type::null: return "NULL";
    case Cell::Type::integer: return fmt::format("INTEGER {}", cell.integer);
    case Cell::Type::real: return fmt::format("REAL {}", cell.real);
    case Cell::Type::text: {
        const bool cut = cell.bytes.size() > k_shown_bytes;
        // {:?} escapes quotes, control characters and invalid UTF-8: the reason stays one valid line.
        return fmt::format("TEXT {:?}{}", cell.bytes.substr(0, k_shown_bytes), cut ? "..." : "");
    }
    case Cell::Type::blob: {
        const auto shown = cell.bytes.substr(0, k_shown_bytes / 2);
        std::string out = "BLOB x'";
        for (const char c : shown) fmt::format_to(std::back_inserter(out), "{:02x}", static_cast<unsigned char>(c));
        out += '\'';
        if (shown.size() < cell.bytes.size()) out += "...";
        return out;
    }
    }
    return "?"; // not reached: the switch names every type
}

tl::expected<market::sys_seconds, std::string> to_instant(const Cell& cell) {
    switch (cell.type) {
    case Cell::Type::text: {
        const auto w = parse_written(cell.bytes);
        if (!w) return tl::make_unexpected(not_iso(cell));
        const market::sys_seconds t = w->date + w->time_of_day - w->offset;
        if (!in_range(t)) return tl::make_unexpected(outside_range(cell, ""));
        return t;
    }
    case Cell::Type::integer: return epoch_instant(cell);
    case Cell::Type::real: return julian_day_instant(cell);
    case Cell::Type::null:
    case Cell::Type::blob: break;
    }
    return tl::make_unexpected(fmt::format("{} is not a date or timestamp", describe(cell)));
}

tl::expected<sys_days, std::string> to_session_date(const Cell& cell) {
    if (cell.type != Cell::Type::text) return to_instant(cell).map([](auto t) { return floor<days>(t); });
    const auto w = parse_written(cell.bytes);
    if (!w) return tl::make_unexpected(not_iso(cell));
    if (w->date < util::k_min_flag_date || w->date > util::k_max_flag_date)
        return tl::make_unexpected(fmt::format("{} is outside {} .. {}", describe(cell),
                                               util::format_date(util::k_min_flag_date),
                                               util::format_date(util::k_max_flag_date)));
    return w->date;
}

tl::expected<market::Timeframe, std::string> to_timeframe(const Cell& interval) {
    if (interval.type == Cell::Type::null) return market::Timeframe::day;
    if (interval.type == Cell::Type::text) {
        if (interval.bytes.empty()) return market::Timeframe::day;
        if (is_intraday_code(interval.bytes)) return tl::make_unexpected(std::string(k_intraday_reason));
        if (const auto tf = market::timeframe_from_code(interval.bytes)) return *tf;
    }
    return tl::make_unexpected(
        fmt::format("interval {} has no timeframe here (accepted: 1d, 1wk, 1mo; NULL is 1d)", describe(interval)));
}

namespace {

// shortest_decimal's text into `buffer`, for a finite value.
std::optional<std::string_view> shortest_decimal_into(double value, DecimalBuffer& buffer) {
    if (value == 0.0) return std::string_view("0");
    const auto [end, ec] = std::to_chars(buffer.data(), buffer.data() + buffer.size(), value, std::chars_format::fixed);
    if (ec != std::errc{}) return std::nullopt;
    return std::string_view(buffer.data(), static_cast<std::size_t>(end - buffer.data()));
}

} // namespace

tl::expected<std::string, std::string> shortest_decimal(double value) {
    if (!std::isfinite(value)) return tl::make_unexpected(fmt::format("{} is not a finite number", value));
    DecimalBuffer buffer;
    const auto text = shortest_decimal_into(value, buffer);
    if (!text) return tl::make_unexpected(fmt::format("{} does not fit a decimal buffer", value));
    return std::string(*text);
}

tl::expected<std::optional<std::string_view>, std::string> to_decimal(const Cell& cell, DecimalBuffer& buffer) {
    switch (cell.type) {
    case Cell::Type::null: return std::nullopt;
    case Cell::Type::integer: {
        const auto [end, ec] = std::to_chars(buffer.data(), buffer.data() + buffer.size(), cell.integer);
        return std::string_view(buffer.data(), static_cast<std::size_t>(end - buffer.data())); // 20 characters at most
    }
    case Cell::Type::real: {
        if (!std::isfinite(cell.real))
            return tl::make_unexpected(fmt::format("{} is not a finite number", describe(cell)));
        const auto text = shortest_decimal_into(cell.real, buffer);
        if (!text) return tl::make_unexpected(fmt::format("{} does not fit a decimal buffer", describe(cell)));
        return text;
    }
    case Cell::Type::text:
        if (cell.bytes.empty()) return std::nullopt;
        if (util::canonical_decimal(cell.bytes)) return cell.bytes;
        break;
    case Cell::Type::blob: break;
    }
    return tl::make_unexpected(fmt::format("{} is not a decimal number", describe(cell)));
}

tl::expected<std::optional<std::string>, std::string> to_decimal(const Cell& cell) {
    DecimalBuffer buffer;
    return to_decimal(cell, buffer).map([](std::optional<std::string_view> text) {
        return text ? std::optional<std::string>(*text) : std::nullopt;
    });
}

tl::expected<std::optional<std::string>, std::string> text_or_null(const Cell& cell) {
    switch (cell.type) {
    case Cell::Type::null: return std::nullopt;
    case Cell::Type::integer: return fmt::format("{}", cell.integer);
    case Cell::Type::real:
        // SQLite stores a NaN as NULL; infinities it keeps: written as PostgreSQL spells them.
        if (std::isnan(cell.real)) return std::nullopt;
        if (std::isinf(cell.real)) return std::string(cell.real > 0 ? "Infinity" : "-Infinity");
        return shortest_decimal(cell.real).map([](std::string s) { return std::optional(std::move(s)); });
    case Cell::Type::text:
    case Cell::Type::blob:
        if (cell.bytes.empty()) return std::nullopt;
        if (cell.bytes.find('\0') != std::string_view::npos)
            return tl::make_unexpected(
                fmt::format("{} holds a NUL byte, which PostgreSQL text cannot", describe(cell)));
        if (!simdjson::validate_utf8(cell.bytes.data(), cell.bytes.size()))
            return tl::make_unexpected(fmt::format("{} is not valid UTF-8", describe(cell)));
        return std::string(cell.bytes);
    }
    return std::nullopt; // not reached: the switch names every type
}

ScrubbedJson scrub_nonfinite_json(std::string_view json) {
    // Longest first: "-Infinity" before a '-' could start a number, "-NaN" before "NaN" is seen alone.
    static constexpr std::array<std::string_view, 4> k_tokens{"-Infinity", "Infinity", "-NaN", "NaN"};
    ScrubbedJson out;
    out.json.reserve(json.size());
    bool in_string = false;
    for (std::size_t i = 0; i < json.size(); ++i) {
        const char c = json[i];
        if (in_string) {
            out.json += c;
            if (c == '\\' && i + 1 < json.size()) out.json += json[++i];
            else if (c == '"') in_string = false;
            continue;
        }
        if (c == '"') {
            in_string = true;
            out.json += c;
            continue;
        }
        bool replaced = false;
        if ((c == '-' || c == 'I' || c == 'N') && (i == 0 || !is_word_byte(json[i - 1]))) {
            for (const auto token : k_tokens) {
                const auto after = i + token.size();
                if (json.substr(i, token.size()) != token || (after < json.size() && is_word_byte(json[after])))
                    continue;
                out.json += "null";
                ++out.replaced;
                i = after - 1;
                replaced = true;
                break;
            }
        }
        if (!replaced) out.json += c;
    }
    return out;
}

} // namespace etl::migrate
