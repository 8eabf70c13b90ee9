#include "etl/util/clock.hpp"

#include "etl/util/error.hpp"

#include <date/date.h>
#include <fmt/format.h>

#include <charconv>
#include <cstdlib>
#include <string>

namespace etl::util {
namespace {

// Digits only: from_chars alone would take a sign ("-001" as year -1).
bool parse_int(std::string_view s, int& out) {
    if (s.empty() || s.find_first_not_of("0123456789") != std::string_view::npos) return false;
    const auto* end = s.data() + s.size();
    auto [p, ec] = std::from_chars(s.data(), end, out);
    return ec == std::errc{} && p == end;
}

} // namespace

std::optional<std::chrono::sys_days> parse_date(std::string_view text) {
    if (text.size() != 10 || text[4] != '-' || text[7] != '-') return std::nullopt;
    int y = 0, m = 0, d = 0;
    if (!parse_int(text.substr(0, 4), y) || !parse_int(text.substr(5, 2), m) || !parse_int(text.substr(8, 2), d))
        return std::nullopt;
    const std::chrono::year_month_day ymd{std::chrono::year{y}, std::chrono::month{static_cast<unsigned>(m)},
                                          std::chrono::day{static_cast<unsigned>(d)}};
    if (!ymd.ok()) return std::nullopt;
    return std::chrono::sys_days{ymd};
}

std::chrono::sys_days parse_date_flag(std::string_view flag, std::string_view value) {
    const auto d = parse_date(value);
    if (!d) throw UsageError(fmt::format("{} '{}' is not a date; use YYYY-MM-DD", flag, value));
    if (*d < k_min_flag_date || *d > k_max_flag_date)
        throw UsageError(fmt::format("{} '{}' is out of range; use a date YYYY-MM-DD from {} to {}", flag, value,
                                     format_date(k_min_flag_date), format_date(k_max_flag_date)));
    return *d;
}

std::optional<std::chrono::sys_seconds> parse_instant(std::string_view text) {
    if (text.size() < 19) return std::nullopt;
    const auto day = parse_date(text.substr(0, 10));
    if (!day || (text[10] != 'T' && text[10] != ' ' && text[10] != 't')) return std::nullopt;
    int hh = 0, mm = 0, ss = 0;
    if (text[13] != ':' || text[16] != ':' || !parse_int(text.substr(11, 2), hh) ||
        !parse_int(text.substr(14, 2), mm) || !parse_int(text.substr(17, 2), ss) || hh > 23 || mm > 59 || ss > 60)
        return std::nullopt;
    std::size_t pos = 19;
    if (pos < text.size() && text[pos] == '.') {
        ++pos;
        while (pos < text.size() && text[pos] >= '0' && text[pos] <= '9') ++pos;
    }
    std::chrono::seconds offset{0};
    if (pos < text.size()) {
        const auto rest = text.substr(pos);
        if (rest == "Z" || rest == "z") {
        } else if ((rest[0] == '+' || rest[0] == '-') && rest.size() == 6 && rest[3] == ':') {
            int oh = 0, om = 0;
            if (!parse_int(rest.substr(1, 2), oh) || !parse_int(rest.substr(4, 2), om)) return std::nullopt;
            offset = std::chrono::hours{oh} + std::chrono::minutes{om};
            if (rest[0] == '-') offset = -offset;
        } else {
            return std::nullopt;
        }
    }
    return std::chrono::sys_seconds{*day} + std::chrono::hours{hh} + std::chrono::minutes{mm} +
           std::chrono::seconds{ss} - offset;
}

std::chrono::sys_seconds now() {
    if (const char* pinned = std::getenv("ETL_NOW"); pinned && *pinned) {
        const auto t = parse_instant(pinned);
        if (!t)
            throw ConfigError(
                fmt::format("ETL_NOW='{}' is not an ISO-8601 instant; use e.g. 2025-03-04T15:00:00Z", pinned));
        return *t;
    }
    return std::chrono::floor<std::chrono::seconds>(std::chrono::system_clock::now());
}

// Howard Hinnant's date formats a sys_time as the UTC calendar says, never through the local time zone.
std::string format_date(std::chrono::sys_days d) { return date::format("%F", d); }

std::string format_instant(std::chrono::sys_seconds t) { return date::format("%FT%TZ", t); }

} // namespace etl::util
