// The NYSE trading calendar: which days trade, when each session opens and closes (as UTC instants),
// and which session an hourly run at a given instant belongs to ("today or the last market day").
#pragma once

#include <chrono>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace date {
class time_zone;
} // namespace date

namespace etl::market {

// One regular NYSE session. `open` is 09:30 America/New_York; `close` is 16:00, 13:00 on early-close
// days, or the override's time. Both are UTC instants, so they move by an hour across DST.
struct Session {
    std::chrono::sys_days date;     // the session's calendar date in New York
    std::chrono::sys_seconds open;  // UTC instant of the opening bell
    std::chrono::sys_seconds close; // UTC instant of the closing bell
    bool early_close = false;       // true when the session ends before 16:00 ET

    friend bool operator==(const Session&, const Session&) = default;
};

// A day the rules cannot compute: an unscheduled closure (days of mourning, storms) or a special
// early close announced by the exchange.
struct CalendarOverride {
    std::chrono::sys_days date;
    std::optional<std::chrono::minutes> close; // empty: closed all day; else close time after midnight ET
    std::string reason;                        // free text for people; may be empty
};

// Parses the override file format (the one `etc/market-closures.txt` uses):
//
//     # comment lines and blank lines are ignored
//     2025-01-09 closed      # National Day of Mourning for President Carter
//     2030-07-05 close=13:00 # special early close
//
// One entry per line: an ISO date, then either `closed` (no session that day) or `close=HH:MM` (the
// session runs 09:30 to HH:MM New York time; HH:MM must be after 09:30 and no later than 16:00, and
// the date must be a weekday that is not a holiday by rule). Text after `#` is the entry's reason.
// A date may appear only once.
// Throws etl::ConfigError naming `source_name`, the 1-based line number and what was expected.
[[nodiscard]] std::vector<CalendarOverride> parse_overrides(std::string_view text, std::string_view source_name);

// The NYSE calendar: full-day holidays by NYSE Rule 7.2, 13:00 ET early closes (Jul 3 and Dec 24 when
// Monday–Thursday, the day after Thanksgiving), plus a list of overrides. The rules match NYSE's
// published calendars from 1998 (when MLK Day was added); earlier years are approximate and need
// overrides. Immutable after construction, so a const calendar may be shared between threads.
class TradingCalendar {
public:
    // Rules only, no overrides.
    // Throws etl::ConfigError when the tz database has no America/New_York.
    TradingCalendar();

    // Rules plus `overrides` (any order).
    // Throws etl::ConfigError on a duplicate date, a `close` outside (09:30, 16:00], a `close` on a
    // weekend or rule holiday, or when the tz database has no America/New_York.
    explicit TradingCalendar(std::vector<CalendarOverride> overrides);

    // Rules plus the overrides in `path` (format: see parse_overrides).
    // Throws etl::ConfigError when the file cannot be read or a line is malformed.
    [[nodiscard]] static TradingCalendar from_file(const std::filesystem::path& path);

    // Monday–Friday, not a rule holiday and not closed by an override. `d` is a New York date.
    [[nodiscard]] bool is_trading_day(std::chrono::sys_days d) const;

    // The holiday's name ("Good Friday"), an override closure's reason ("Unscheduled closure" when it
    // has none), or "" when `d` is not a holiday (weekends and early closes included).
    // The view stays valid as long as this calendar.
    [[nodiscard]] std::string_view holiday_name(std::chrono::sys_days d) const;

    // The session held on New York date `d`, or empty when the market is closed all day.
    [[nodiscard]] std::optional<Session> session_on(std::chrono::sys_days d) const;

    // The latest session strictly before `d`; empty only if none lies within k_max_lookback_days
    // (possible only with a broken override list).
    [[nodiscard]] std::optional<Session> previous_session(std::chrono::sys_days d) const;

    // The earliest session strictly after `d`; empty only if none lies within k_max_lookback_days.
    [[nodiscard]] std::optional<Session> next_session(std::chrono::sys_days d) const;

    // The session an hourly run at `now` should load: today's if today trades and the bell has rung
    // (even after the close), otherwise the last session before today. Before 09:30 ET this is the
    // previous session, because today has no data yet.
    // Throws etl::ConfigError when no session lies within k_max_lookback_days (broken override list).
    [[nodiscard]] Session session_for(std::chrono::sys_seconds now) const;

    // True when `now` lies in [open, close) of a session.
    [[nodiscard]] bool is_open(std::chrono::sys_seconds now) const;

    // The New York calendar date containing `instant`.
    [[nodiscard]] std::chrono::sys_days new_york_date(std::chrono::sys_seconds instant) const;

    // The overrides in date order.
    [[nodiscard]] const std::vector<CalendarOverride>& overrides() const noexcept { return m_overrides; }

    // How far session searches look back (or ahead). The longest run without a session since 1998 is
    // 6 days (Mon 2001-09-10 to Mon 2001-09-17); 15 leaves room for a holiday next to a new unscheduled
    // closure yet still stops a broken override list from looping for ever.
    static constexpr int k_max_lookback_days = 15;

private:
    [[nodiscard]] const CalendarOverride* find_override(std::chrono::sys_days d) const;

    const date::time_zone* m_zone;
    std::vector<CalendarOverride> m_overrides; // sorted by date, unique dates
};

} // namespace etl::market
