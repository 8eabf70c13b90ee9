#include "etl/market/calendar.hpp"

#include "etl/util/error.hpp"

#include <date/tz.h>
#include <fmt/format.h>
#include <tl/expected.hpp>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <map>
#include <sstream>
#include <system_error>

namespace etl::market {

namespace {

using std::chrono::days;
using std::chrono::hours;
using std::chrono::minutes;
using std::chrono::sys_days;
using std::chrono::sys_seconds;
using std::chrono::weekday;
using std::chrono::year;
using std::chrono::year_month_day;

constexpr std::string_view k_zone_name = "America/New_York";
constexpr minutes k_open_time = hours{9} + minutes{30};
constexpr minutes k_regular_close = hours{16};
constexpr minutes k_early_close = hours{13};

// First year of each rule guard (NYSE Rule 7.2 history).
constexpr int k_first_mlk_year = 1998;
constexpr int k_first_juneteenth_year = 2022;

std::string format_date(sys_days d) {
    const year_month_day ymd{d};
    return fmt::format("{:04}-{:02}-{:02}", static_cast<int>(ymd.year()), static_cast<unsigned>(ymd.month()),
                       static_cast<unsigned>(ymd.day()));
}

std::string format_time(minutes t) { return fmt::format("{:02}:{:02}", t.count() / 60, t.count() % 60); }

bool is_weekend(sys_days d) {
    const weekday wd{d};
    return wd == std::chrono::Saturday || wd == std::chrono::Sunday;
}

sys_days nth_weekday(year y, std::chrono::month m, weekday wd, unsigned n) { return sys_days{y / m / wd[n]}; }

sys_days last_weekday(year y, std::chrono::month m, weekday wd) { return sys_days{y / m / wd[std::chrono::last]}; }

// Saturday → Friday, Sunday → Monday.
sys_days observed(sys_days d) {
    const weekday wd{d};
    if (wd == std::chrono::Saturday) return d - days{1};
    if (wd == std::chrono::Sunday) return d + days{1};
    return d;
}

// Western (Gregorian) Easter Sunday: the anonymous Gregorian computus (Meeus/Jones/Butcher).
sys_days easter_sunday(year y) {
    const int yr = static_cast<int>(y);
    const int a = yr % 19;
    const int b = yr / 100;
    const int c = yr % 100;
    const int d = b / 4;
    const int e = b % 4;
    const int f = (b + 8) / 25;
    const int g = (b - f + 1) / 3;
    const int h = (19 * a + b - d - g + 15) % 30;
    const int i = c / 4;
    const int k = c % 4;
    const int l = (32 + 2 * e + 2 * i - h - k) % 7;
    const int m = (a + 11 * h + 22 * l) / 451;
    const int month = (h + l - 7 * m + 114) / 31;
    const int day = (h + l - 7 * m + 114) % 31 + 1;
    return sys_days{y / std::chrono::month{static_cast<unsigned>(month)} /
                    std::chrono::day{static_cast<unsigned>(day)}};
}

// The rule-based full-day holiday on `d`, or "" when there is none. Every observed date falls in the
// same year as its holiday (New Year's Saturday case has no observance), so only `d`'s year is checked.
std::string_view rule_holiday(sys_days d) {
    using namespace std::chrono;
    const year y = year_month_day{d}.year();

    // New Year's Day: Sunday → Monday; Saturday → no holiday (Dec 31 stays open for the year end).
    const sys_days new_year{y / January / 1};
    if (weekday{new_year} != Saturday && d == observed(new_year)) return "New Year's Day";
    if (static_cast<int>(y) >= k_first_mlk_year && d == nth_weekday(y, January, Monday, 3))
        return "Martin Luther King Jr. Day";
    if (d == nth_weekday(y, February, Monday, 3)) return "Washington's Birthday";
    if (d == easter_sunday(y) - days{2}) return "Good Friday";
    if (d == last_weekday(y, May, Monday)) return "Memorial Day";
    if (static_cast<int>(y) >= k_first_juneteenth_year && d == observed(sys_days{y / June / 19}))
        return "Juneteenth National Independence Day";
    if (d == observed(sys_days{y / July / 4})) return "Independence Day";
    if (d == nth_weekday(y, September, Monday, 1)) return "Labor Day";
    if (d == nth_weekday(y, November, Thursday, 4)) return "Thanksgiving Day";
    if (d == observed(sys_days{y / December / 25})) return "Christmas Day";
    return "";
}

// The scheduled 13:00 ET early close on trading day `d`: Jul 3 and Dec 24 when Monday–Thursday, and
// the day after Thanksgiving.
bool is_rule_early_close(sys_days d) {
    using namespace std::chrono;
    const year_month_day ymd{d};
    const weekday wd{d};
    const bool mon_to_thu = wd != Friday && wd != Saturday && wd != Sunday;
    if (ymd.month() == July && ymd.day() == day{3} && mon_to_thu) return true;
    if (ymd.month() == December && ymd.day() == day{24} && mon_to_thu) return true;
    return d == nth_weekday(ymd.year(), November, Thursday, 4) + days{1};
}

// Why `o` is not acceptable, or "" when it is.
std::string override_problem(const CalendarOverride& o) {
    if (!o.close) return "";
    if (*o.close <= k_open_time || *o.close > k_regular_close)
        return fmt::format("close={} must be after 09:30 and no later than 16:00 (use 'closed' for no session)",
                           format_time(*o.close));
    if (is_weekend(o.date))
        return fmt::format("{} is a weekend; close= applies only to trading days", format_date(o.date));
    if (const auto name = rule_holiday(o.date); !name.empty())
        return fmt::format("{} is {}, a holiday by rule; close= applies only to trading days", format_date(o.date),
                           name);
    return "";
}

const date::time_zone* new_york_zone() {
    try {
        return date::locate_zone(k_zone_name);
    } catch (const std::exception& e) {
        throw ConfigError(fmt::format("time zone {} not found in the tz database: {}", k_zone_name, e.what()));
    }
}

std::string_view trim(std::string_view s) {
    constexpr std::string_view k_space = " \t\r\n\f\v";
    const auto first = s.find_first_not_of(k_space);
    if (first == std::string_view::npos) return {};
    const auto last = s.find_last_not_of(k_space);
    return s.substr(first, last - first + 1);
}

bool all_digits(std::string_view s) {
    return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

int to_int(std::string_view digits) {
    int v = 0;
    for (const char c : digits) v = v * 10 + (c - '0');
    return v;
}

// "YYYY-MM-DD" → date, or empty.
std::optional<sys_days> parse_date(std::string_view s) {
    if (s.size() != 10 || s[4] != '-' || s[7] != '-') return std::nullopt;
    const auto ys = s.substr(0, 4);
    const auto ms = s.substr(5, 2);
    const auto ds = s.substr(8, 2);
    if (!all_digits(ys) || !all_digits(ms) || !all_digits(ds)) return std::nullopt;
    const year_month_day ymd{year{to_int(ys)}, std::chrono::month{static_cast<unsigned>(to_int(ms))},
                             std::chrono::day{static_cast<unsigned>(to_int(ds))}};
    if (!ymd.ok()) return std::nullopt;
    return sys_days{ymd};
}

// "HH:MM" → minutes after midnight, or empty.
std::optional<minutes> parse_time(std::string_view s) {
    if (s.size() != 5 || s[2] != ':') return std::nullopt;
    const auto hs = s.substr(0, 2);
    const auto ms = s.substr(3, 2);
    if (!all_digits(hs) || !all_digits(ms)) return std::nullopt;
    const int h = to_int(hs);
    const int m = to_int(ms);
    if (h > 23 || m > 59) return std::nullopt;
    return hours{h} + minutes{m};
}

// One override line without its comment: "YYYY-MM-DD closed" or "YYYY-MM-DD close=HH:MM".
tl::expected<CalendarOverride, std::string> parse_entry(std::string_view body, std::string_view reason) {
    constexpr std::string_view k_expected =
        "expected 'YYYY-MM-DD closed' or 'YYYY-MM-DD close=HH:MM', optionally followed by '# reason'";
    constexpr std::string_view k_close_prefix = "close=";

    const auto space = body.find_first_of(" \t");
    if (space == std::string_view::npos) return tl::make_unexpected(std::string{k_expected});
    const std::string_view date_text = body.substr(0, space);
    const std::string_view action = trim(body.substr(space));
    if (action.find_first_of(" \t") != std::string_view::npos) return tl::make_unexpected(std::string{k_expected});

    const auto d = parse_date(date_text);
    if (!d) return tl::make_unexpected(fmt::format("'{}' is not a valid date; expected YYYY-MM-DD", date_text));

    CalendarOverride entry{*d, std::nullopt, std::string{reason}};
    if (action != "closed") {
        if (action.substr(0, k_close_prefix.size()) != k_close_prefix)
            return tl::make_unexpected(fmt::format("unknown action '{}'; {}", action, k_expected));
        const auto t = parse_time(action.substr(k_close_prefix.size()));
        if (!t)
            return tl::make_unexpected(
                fmt::format("'{}' is not a valid close time; expected close=HH:MM (24-hour, New York time)", action));
        entry.close = *t;
    }
    if (auto problem = override_problem(entry); !problem.empty()) return tl::make_unexpected(std::move(problem));
    return entry;
}

sys_seconds new_york_instant(const date::time_zone* zone, sys_days d, minutes time_of_day) {
    // 09:30 and the closes never fall in a DST gap or overlap (those are at 01:00–03:00); `earliest`
    // only keeps the conversion from throwing.
    const date::local_seconds local{d.time_since_epoch() + time_of_day};
    return date::make_zoned(zone, local, date::choose::earliest).get_sys_time();
}

} // namespace

std::vector<CalendarOverride> parse_overrides(std::string_view text, std::string_view source_name) {
    std::vector<CalendarOverride> result;
    std::map<sys_days, std::size_t> line_of_date; // for the duplicate-date message
    std::size_t line_no = 0;
    while (!text.empty()) {
        ++line_no;
        const auto eol = text.find('\n');
        const std::string_view raw = text.substr(0, eol);
        text = eol == std::string_view::npos ? std::string_view{} : text.substr(eol + 1);

        const auto hash = raw.find('#');
        const std::string_view body = trim(raw.substr(0, hash));
        if (body.empty()) continue;
        const std::string_view reason =
            hash == std::string_view::npos ? std::string_view{} : trim(raw.substr(hash + 1));

        auto fail = [&](std::string_view what) {
            return ConfigError(fmt::format("{}:{}: {} (got '{}')", source_name, line_no, what, trim(raw)));
        };
        auto entry = parse_entry(body, reason);
        if (!entry) throw fail(entry.error());
        if (const auto [it, inserted] = line_of_date.emplace(entry->date, line_no); !inserted)
            throw fail(fmt::format("{} already has an entry on line {}; each date may appear once",
                                   format_date(entry->date), it->second));
        result.push_back(std::move(*entry));
    }
    return result;
}

TradingCalendar::TradingCalendar() : m_zone(new_york_zone()) {}

TradingCalendar::TradingCalendar(std::vector<CalendarOverride> overrides)
    : m_zone(new_york_zone()), m_overrides(std::move(overrides)) {
    std::sort(m_overrides.begin(), m_overrides.end(),
              [](const CalendarOverride& a, const CalendarOverride& b) { return a.date < b.date; });
    for (std::size_t i = 0; i < m_overrides.size(); ++i) {
        const auto& o = m_overrides[i];
        if (i > 0 && m_overrides[i - 1].date == o.date)
            throw ConfigError(
                fmt::format("market calendar override {}: the date appears more than once", format_date(o.date)));
        if (const auto problem = override_problem(o); !problem.empty())
            throw ConfigError(fmt::format("market calendar override {}: {}", format_date(o.date), problem));
    }
}

TradingCalendar TradingCalendar::from_file(const std::filesystem::path& path) {
    std::error_code ec;
    if (std::filesystem::is_directory(path, ec))
        throw ConfigError(fmt::format("market closures file {} is a directory", path.string()));
    std::ifstream in(path, std::ios::binary);
    if (!in)
        throw ConfigError(fmt::format("cannot open market closures file {}: {}", path.string(), std::strerror(errno)));
    std::ostringstream buffer;
    buffer << in.rdbuf();
    if (in.bad()) throw ConfigError(fmt::format("cannot read market closures file {}", path.string()));
    return TradingCalendar(parse_overrides(buffer.str(), path.string()));
}

const CalendarOverride* TradingCalendar::find_override(sys_days d) const {
    const auto it = std::lower_bound(m_overrides.begin(), m_overrides.end(), d,
                                     [](const CalendarOverride& o, sys_days x) { return o.date < x; });
    return it != m_overrides.end() && it->date == d ? &*it : nullptr;
}

bool TradingCalendar::is_trading_day(sys_days d) const {
    if (is_weekend(d) || !rule_holiday(d).empty()) return false;
    const auto* o = find_override(d);
    return o == nullptr || o->close.has_value();
}

std::string_view TradingCalendar::holiday_name(sys_days d) const {
    if (is_weekend(d)) return "";
    if (const auto name = rule_holiday(d); !name.empty()) return name;
    if (const auto* o = find_override(d); o != nullptr && !o->close) {
        return o->reason.empty() ? std::string_view{"Unscheduled closure"} : std::string_view{o->reason};
    }
    return "";
}

std::optional<Session> TradingCalendar::session_on(sys_days d) const {
    if (!is_trading_day(d)) return std::nullopt;
    minutes close = is_rule_early_close(d) ? k_early_close : k_regular_close;
    if (const auto* o = find_override(d); o != nullptr && o->close) close = *o->close;
    return Session{d, new_york_instant(m_zone, d, k_open_time), new_york_instant(m_zone, d, close),
                   close < k_regular_close};
}

std::optional<Session> TradingCalendar::previous_session(sys_days d) const {
    for (int i = 1; i <= k_max_lookback_days; ++i) {
        if (auto s = session_on(d - days{i})) return s;
    }
    return std::nullopt;
}

std::optional<Session> TradingCalendar::next_session(sys_days d) const {
    for (int i = 1; i <= k_max_lookback_days; ++i) {
        if (auto s = session_on(d + days{i})) return s;
    }
    return std::nullopt;
}

sys_days TradingCalendar::new_york_date(sys_seconds instant) const {
    const auto local = date::make_zoned(m_zone, instant).get_local_time();
    return sys_days{std::chrono::floor<days>(local.time_since_epoch())};
}

Session TradingCalendar::session_for(sys_seconds now) const {
    const sys_days today = new_york_date(now);
    if (auto s = session_on(today); s && now >= s->open) return *s;
    if (auto s = previous_session(today)) return *s;
    throw ConfigError(fmt::format("no NYSE session in the {} days before {}; check the market closures override file",
                                  k_max_lookback_days, format_date(today)));
}

bool TradingCalendar::is_open(sys_seconds now) const {
    const auto s = session_on(new_york_date(now));
    return s && s->open <= now && now < s->close;
}

} // namespace etl::market
