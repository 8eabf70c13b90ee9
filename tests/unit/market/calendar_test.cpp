#include "etl/market/calendar.hpp"

#include "etl/util/error.hpp"

#include <catch2/catch.hpp>
#include <date/tz.h>
#include <fmt/format.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

using etl::market::CalendarOverride;
using etl::market::parse_overrides;
using etl::market::Session;
using etl::market::TradingCalendar;
using std::chrono::sys_days;
using std::chrono::sys_seconds;

namespace {

std::string iso(sys_days d) {
    const std::chrono::year_month_day ymd{d};
    return fmt::format("{:04}-{:02}-{:02}", static_cast<int>(ymd.year()), static_cast<unsigned>(ymd.month()),
                       static_cast<unsigned>(ymd.day()));
}

std::string iso(sys_seconds t) {
    const auto d = std::chrono::floor<std::chrono::days>(t);
    const auto s = (t - d).count();
    return fmt::format("{}T{:02}:{:02}:{:02}Z", iso(sys_days{d}), s / 3600, s / 60 % 60, s % 60);
}

sys_days ymd(int y, unsigned m, unsigned d) {
    return sys_days{std::chrono::year{y} / std::chrono::month{m} / std::chrono::day{d}};
}

// A wall-clock time in New York, as a UTC instant.
sys_seconds et(int y, unsigned m, unsigned d, int h, int min) {
    const date::local_seconds local{ymd(y, m, d).time_since_epoch() + std::chrono::hours{h} +
                                    std::chrono::minutes{min}};
    return date::make_zoned("America/New_York", local).get_sys_time();
}

sys_seconds utc(int y, unsigned m, unsigned d, int h, int min) {
    return ymd(y, m, d) + std::chrono::hours{h} + std::chrono::minutes{min};
}

const TradingCalendar& shipped() {
    static const TradingCalendar calendar = TradingCalendar::from_file(ETL_SOURCE_DIR "/etc/market-closures.txt");
    return calendar;
}

std::vector<std::string> holidays_in(const TradingCalendar& cal, int y) {
    std::vector<std::string> out;
    for (sys_days d = ymd(y, 1, 1); d <= ymd(y, 12, 31); d += std::chrono::days{1}) {
        if (!cal.holiday_name(d).empty()) out.push_back(iso(d));
    }
    return out;
}

std::string message_of(const std::string& text) {
    try {
        (void)parse_overrides(text, "closures.txt");
    } catch (const etl::ConfigError& e) {
        return e.what();
    }
    return "(no exception)";
}

} // namespace

TEST_CASE("session_for picks today or the last market day (providers.md 5.5 vectors)", "[unit]") {
    struct Vector {
        sys_seconds now;
        const char* expected;
        const char* why;
    };
    const std::vector<Vector> vectors{
        {et(2025, 3, 4, 11, 0), "2025-03-04", "normal day, open"},
        {et(2025, 3, 8, 10, 0), "2025-03-07", "weekend"},
        {et(2025, 3, 10, 8, 0), "2025-03-07", "pre-open, just after DST change"},
        {et(2025, 1, 9, 12, 0), "2025-01-08", "Carter closure (override)"},
        {et(2025, 1, 21, 10, 0), "2025-01-21", "the day after MLK"},
        {et(2025, 1, 20, 15, 0), "2025-01-17", "MLK Day"},
        {et(2025, 4, 18, 10, 0), "2025-04-17", "Good Friday"},
        {et(2025, 11, 28, 14, 0), "2025-11-28", "early close, already closed at 13:00"},
        {et(2026, 7, 3, 10, 0), "2026-07-02", "Independence Day observed"},
        {et(2027, 12, 24, 10, 0), "2027-12-23", "Christmas observed on Friday"},
        {et(2027, 12, 31, 10, 0), "2027-12-31", "New Year 2028 on Saturday: open"},
        {et(2022, 6, 20, 10, 0), "2022-06-17", "first observed Juneteenth"},
        {et(2021, 6, 18, 10, 0), "2021-06-18", "before Juneteenth existed"},
    };
    for (const auto& v : vectors) {
        INFO(v.why << " (now " << iso(v.now) << ")");
        CHECK(iso(shipped().session_for(v.now).date) == v.expected);
    }

    // Jul 2 2026 is a full day before the observed holiday; 2025-11-28 ended at 13:00.
    CHECK_FALSE(shipped().session_for(et(2026, 7, 3, 10, 0)).early_close);
    const Session black_friday = shipped().session_for(et(2025, 11, 28, 14, 0));
    CHECK(black_friday.early_close);
    CHECK(iso(black_friday.close) == "2025-11-28T18:00:00Z");
}

TEST_CASE("the Carter closure comes from an override, not from the rules", "[unit]") {
    const TradingCalendar rules_only;
    CHECK(rules_only.is_trading_day(ymd(2025, 1, 9)));
    CHECK(iso(rules_only.session_for(et(2025, 1, 9, 12, 0)).date) == "2025-01-09");

    const TradingCalendar with_override({{ymd(2025, 1, 9), std::nullopt, "Carter day of mourning"}});
    CHECK_FALSE(with_override.is_trading_day(ymd(2025, 1, 9)));
    CHECK(with_override.holiday_name(ymd(2025, 1, 9)) == "Carter day of mourning");
    CHECK(iso(with_override.session_for(et(2025, 1, 9, 12, 0)).date) == "2025-01-08");
    CHECK(iso(with_override.session_for(et(2025, 1, 10, 10, 0)).date) == "2025-01-10");
}

TEST_CASE("full-day holidays 2025-2027 match NYSE's published calendars", "[unit]") {
    const TradingCalendar cal;
    CHECK(holidays_in(cal, 2025) == std::vector<std::string>{"2025-01-01", "2025-01-20", "2025-02-17", "2025-04-18",
                                                             "2025-05-26", "2025-06-19", "2025-07-04", "2025-09-01",
                                                             "2025-11-27", "2025-12-25"});
    CHECK(holidays_in(cal, 2026) == std::vector<std::string>{"2026-01-01", "2026-01-19", "2026-02-16", "2026-04-03",
                                                             "2026-05-25", "2026-06-19", "2026-07-03", "2026-09-07",
                                                             "2026-11-26", "2026-12-25"});
    CHECK(holidays_in(cal, 2027) == std::vector<std::string>{"2027-01-01", "2027-01-18", "2027-02-15", "2027-03-26",
                                                             "2027-05-31", "2027-06-18", "2027-07-05", "2027-09-06",
                                                             "2027-11-25", "2027-12-24"});

    CHECK(cal.holiday_name(ymd(2025, 1, 1)) == "New Year's Day");
    CHECK(cal.holiday_name(ymd(2025, 1, 20)) == "Martin Luther King Jr. Day");
    CHECK(cal.holiday_name(ymd(2025, 2, 17)) == "Washington's Birthday");
    CHECK(cal.holiday_name(ymd(2025, 5, 26)) == "Memorial Day");
    CHECK(cal.holiday_name(ymd(2025, 6, 19)) == "Juneteenth National Independence Day");
    CHECK(cal.holiday_name(ymd(2026, 7, 3)) == "Independence Day");
    CHECK(cal.holiday_name(ymd(2025, 9, 1)) == "Labor Day");
    CHECK(cal.holiday_name(ymd(2025, 11, 27)) == "Thanksgiving Day");
    CHECK(cal.holiday_name(ymd(2027, 12, 24)) == "Christmas Day");
    for (const int y : {2025, 2026, 2027}) {
        for (sys_days d = ymd(y, 1, 1); d <= ymd(y, 12, 31); d += std::chrono::days{1}) {
            const std::chrono::weekday wd{d};
            const bool weekend = wd == std::chrono::Saturday || wd == std::chrono::Sunday;
            INFO(iso(d));
            CHECK(cal.is_trading_day(d) == (!weekend && cal.holiday_name(d).empty()));
            CHECK(cal.session_on(d).has_value() == cal.is_trading_day(d));
        }
    }
}

TEST_CASE("Good Friday follows the Gregorian Easter computus", "[unit]") {
    const TradingCalendar cal;
    for (const sys_days d : {ymd(2024, 3, 29), ymd(2025, 4, 18), ymd(2026, 4, 3), ymd(2027, 3, 26), ymd(2028, 4, 14)}) {
        INFO(iso(d));
        CHECK(cal.holiday_name(d) == "Good Friday");
        CHECK_FALSE(cal.is_trading_day(d));
        CHECK(cal.is_trading_day(d - std::chrono::days{1}));
        CHECK(cal.is_trading_day(d + std::chrono::days{3}));
    }
}

TEST_CASE("Saturday and Sunday holidays shift, except New Year's Day on a Saturday", "[unit]") {
    const TradingCalendar cal;
    // New Year on Saturday: no holiday, Dec 31 stays open.
    CHECK(cal.is_trading_day(ymd(2021, 12, 31)));
    CHECK(cal.is_trading_day(ymd(2027, 12, 31)));
    CHECK(holidays_in(cal, 2022).front() == "2022-01-17");
    // Sunday → Monday.
    CHECK_FALSE(cal.is_trading_day(ymd(2022, 12, 26)));
    CHECK(cal.holiday_name(ymd(2022, 12, 26)) == "Christmas Day");
    CHECK_FALSE(cal.is_trading_day(ymd(2023, 1, 2)));
    CHECK(cal.holiday_name(ymd(2023, 1, 2)) == "New Year's Day");
    CHECK_FALSE(cal.is_trading_day(ymd(2022, 6, 20)));
    CHECK(cal.holiday_name(ymd(2022, 6, 20)) == "Juneteenth National Independence Day");
    CHECK_FALSE(cal.is_trading_day(ymd(2027, 7, 5)));
    CHECK(cal.holiday_name(ymd(2027, 7, 5)) == "Independence Day");
    // Saturday → Friday.
    CHECK_FALSE(cal.is_trading_day(ymd(2026, 7, 3)));
    CHECK_FALSE(cal.is_trading_day(ymd(2027, 6, 18)));
    CHECK_FALSE(cal.is_trading_day(ymd(2027, 12, 24)));
    // The weekend day itself is not named as a holiday.
    CHECK(cal.holiday_name(ymd(2022, 12, 25)).empty());
}

TEST_CASE("year guards: Juneteenth from 2022, MLK Day from 1998", "[unit]") {
    const TradingCalendar cal;
    CHECK(cal.is_trading_day(ymd(2021, 6, 18)));
    CHECK(cal.is_trading_day(ymd(2020, 6, 19)));
    CHECK_FALSE(cal.is_trading_day(ymd(2023, 6, 19)));
    CHECK(cal.is_trading_day(ymd(1997, 1, 20)));
    CHECK_FALSE(cal.is_trading_day(ymd(1998, 1, 19)));
}

TEST_CASE("early closes end at 13:00 New York time", "[unit]") {
    const TradingCalendar cal;
    struct Early {
        sys_days date;
        const char* close_utc;
    };
    for (const auto& e : std::vector<Early>{{ymd(2025, 11, 28), "2025-11-28T18:00:00Z"},
                                            {ymd(2026, 11, 27), "2026-11-27T18:00:00Z"},
                                            {ymd(2027, 11, 26), "2027-11-26T18:00:00Z"},
                                            {ymd(2028, 11, 24), "2028-11-24T18:00:00Z"},
                                            {ymd(2024, 12, 24), "2024-12-24T18:00:00Z"},
                                            {ymd(2025, 12, 24), "2025-12-24T18:00:00Z"},
                                            {ymd(2026, 12, 24), "2026-12-24T18:00:00Z"},
                                            {ymd(2023, 7, 3), "2023-07-03T17:00:00Z"},
                                            {ymd(2024, 7, 3), "2024-07-03T17:00:00Z"},
                                            {ymd(2025, 7, 3), "2025-07-03T17:00:00Z"},
                                            {ymd(2028, 7, 3), "2028-07-03T17:00:00Z"}}) {
        INFO(iso(e.date));
        const auto s = cal.session_on(e.date);
        REQUIRE(s.has_value());
        CHECK(s->early_close);
        CHECK(iso(s->close) == e.close_utc);
        CHECK(cal.holiday_name(e.date).empty());
    }

    // Full days before a holiday, and no early close on a day that is itself the holiday.
    struct Full {
        sys_days date;
        const char* close_utc;
    };
    for (const auto& f : std::vector<Full>{{ymd(2026, 7, 2), "2026-07-02T20:00:00Z"},
                                           {ymd(2027, 12, 23), "2027-12-23T21:00:00Z"},
                                           {ymd(2027, 7, 2), "2027-07-02T20:00:00Z"},
                                           {ymd(2022, 12, 23), "2022-12-23T21:00:00Z"},
                                           {ymd(2023, 12, 22), "2023-12-22T21:00:00Z"}}) {
        INFO(iso(f.date));
        const auto s = cal.session_on(f.date);
        REQUIRE(s.has_value());
        CHECK_FALSE(s->early_close);
        CHECK(iso(s->close) == f.close_utc);
    }
    CHECK_FALSE(cal.session_on(ymd(2026, 7, 3)).has_value());
    CHECK_FALSE(cal.session_on(ymd(2027, 12, 24)).has_value());
}

TEST_CASE("session instants follow DST", "[unit]") {
    const TradingCalendar cal;
    const auto winter = cal.session_on(ymd(2025, 3, 7));
    const auto summer = cal.session_on(ymd(2025, 3, 10));
    REQUIRE(winter);
    REQUIRE(summer);
    CHECK(iso(winter->open) == "2025-03-07T14:30:00Z");
    CHECK(iso(winter->close) == "2025-03-07T21:00:00Z");
    CHECK(iso(summer->open) == "2025-03-10T13:30:00Z");
    CHECK(iso(summer->close) == "2025-03-10T20:00:00Z");
    CHECK_FALSE(cal.session_on(ymd(2025, 3, 9)));
    CHECK_FALSE(cal.session_on(ymd(2025, 11, 2)));
    CHECK(iso(cal.session_on(ymd(2025, 10, 31))->open) == "2025-10-31T13:30:00Z");
    CHECK(iso(cal.session_on(ymd(2025, 11, 3))->open) == "2025-11-03T14:30:00Z");
}

TEST_CASE("a run before the opening bell or after midnight ET picks the previous session", "[unit]") {
    const TradingCalendar cal;
    // 00:30 ET on Wed 2025-03-05 is 05:30Z the same day; the session is Tuesday's.
    CHECK(iso(et(2025, 3, 5, 0, 30)) == "2025-03-05T05:30:00Z");
    CHECK(iso(cal.session_for(et(2025, 3, 5, 0, 30)).date) == "2025-03-04");
    // 23:30 ET on Tue 2025-03-04 is already Wednesday in UTC; still Tuesday's session.
    CHECK(iso(cal.session_for(utc(2025, 3, 5, 4, 30)).date) == "2025-03-04");
    // 00:30 ET on a Monday goes back over the weekend.
    CHECK(iso(cal.session_for(et(2025, 3, 10, 0, 30)).date) == "2025-03-07");
    // The bell at 09:30 ET switches to today.
    CHECK(iso(cal.session_for(et(2025, 3, 5, 9, 29)).date) == "2025-03-04");
    CHECK(iso(cal.session_for(et(2025, 3, 5, 9, 30)).date) == "2025-03-05");
    CHECK(iso(cal.session_for(et(2025, 3, 5, 23, 59)).date) == "2025-03-05");
}

TEST_CASE("is_open is true only between the bells", "[unit]") {
    const TradingCalendar cal;
    CHECK_FALSE(cal.is_open(et(2025, 3, 4, 9, 29)));
    CHECK(cal.is_open(et(2025, 3, 4, 9, 30)));
    CHECK(cal.is_open(et(2025, 3, 4, 15, 59)));
    CHECK_FALSE(cal.is_open(et(2025, 3, 4, 16, 0)));
    CHECK(cal.is_open(et(2025, 11, 28, 12, 59)));
    CHECK_FALSE(cal.is_open(et(2025, 11, 28, 13, 0)));
    CHECK_FALSE(cal.is_open(et(2025, 3, 8, 12, 0)));
    CHECK_FALSE(cal.is_open(et(2025, 4, 18, 12, 0)));
}

TEST_CASE("previous_session and next_session step over closures", "[unit]") {
    const auto& cal = shipped();
    CHECK(iso(cal.previous_session(ymd(2025, 1, 21))->date) == "2025-01-17");
    CHECK(iso(cal.previous_session(ymd(2025, 1, 10))->date) == "2025-01-08");
    CHECK(iso(cal.previous_session(ymd(2001, 9, 17))->date) == "2001-09-10");
    CHECK(iso(cal.next_session(ymd(2001, 9, 10))->date) == "2001-09-17");
    CHECK(iso(cal.next_session(ymd(2025, 12, 24))->date) == "2025-12-26");
    CHECK(cal.new_york_date(utc(2025, 3, 5, 4, 30)) == ymd(2025, 3, 4));
}

TEST_CASE("the shipped closures file lists every unscheduled closure of providers.md 5.4", "[unit]") {
    const auto& cal = shipped();
    for (const sys_days d :
         {ymd(2001, 9, 11), ymd(2001, 9, 12), ymd(2001, 9, 13), ymd(2001, 9, 14), ymd(2004, 6, 11), ymd(2007, 1, 2),
          ymd(2012, 10, 29), ymd(2012, 10, 30), ymd(2018, 12, 5), ymd(2025, 1, 9)}) {
        INFO(iso(d));
        CHECK_FALSE(cal.is_trading_day(d));
        CHECK_FALSE(cal.holiday_name(d).empty());
    }
    CHECK(cal.overrides().size() == 10);
    CHECK(cal.holiday_name(ymd(2012, 10, 29)) == "Hurricane Sandy");
}

TEST_CASE("override text: comments, blank lines, reasons and special early closes", "[unit]") {
    const std::string text = "# header\r\n"
                             "\n"
                             "   \t\n"
                             "2030-07-05 close=12:00  # special early close\r\n"
                             "2025-01-09\tclosed\n"
                             "2030-03-05 closed";
    const auto overrides = parse_overrides(text, "closures.txt");
    REQUIRE(overrides.size() == 3);
    CHECK(overrides[0].close == std::chrono::minutes{12 * 60});
    CHECK(overrides[0].reason == "special early close");
    CHECK_FALSE(overrides[1].close.has_value());
    CHECK(overrides[1].reason.empty());
    CHECK(overrides[2].date == ymd(2030, 3, 5));

    const TradingCalendar cal(overrides);
    CHECK(cal.overrides().front().date == ymd(2025, 1, 9));
    CHECK(cal.holiday_name(ymd(2025, 1, 9)) == "Unscheduled closure");
    CHECK(cal.holiday_name(ymd(2030, 7, 5)).empty());
    const auto special = cal.session_on(ymd(2030, 7, 5));
    REQUIRE(special);
    CHECK(special->early_close);
    CHECK(iso(special->close) == "2030-07-05T16:00:00Z");
    CHECK(iso(cal.session_for(et(2030, 7, 5, 14, 0)).date) == "2030-07-05");
    CHECK_FALSE(cal.is_open(et(2030, 7, 5, 12, 0)));

    // An override may move a rule early close, too.
    const TradingCalendar later({{ymd(2025, 11, 28), std::chrono::minutes{14 * 60}, ""}});
    CHECK(iso(later.session_on(ymd(2025, 11, 28))->close) == "2025-11-28T19:00:00Z");
    CHECK(parse_overrides("", "empty").empty());
}

TEST_CASE("malformed override lines throw ConfigError naming the file and line", "[unit]") {
    using Catch::Matchers::Contains;
    const std::string prefix = "# closures\n2025-01-09 closed\n";
    CHECK_THROWS_AS(parse_overrides(prefix + "2025-01-10\n", "closures.txt"), etl::ConfigError);

    CHECK_THAT(message_of(prefix + "2025-01-10\n"),
               Contains("closures.txt:3:") && Contains("expected 'YYYY-MM-DD closed'"));
    CHECK_THAT(message_of(prefix + "2025-01-10 closed extra\n"), Contains("closures.txt:3:") && Contains("expected"));
    CHECK_THAT(message_of(prefix + "2025-02-30 closed\n"), Contains("closures.txt:3:") && Contains("not a valid date"));
    CHECK_THAT(message_of(prefix + "2025-1-10 closed\n"), Contains("closures.txt:3:") && Contains("YYYY-MM-DD"));
    CHECK_THAT(message_of(prefix + "\n2025-01-10 open\n"),
               Contains("closures.txt:4:") && Contains("unknown action 'open'"));
    CHECK_THAT(message_of(prefix + "2025-01-10 close=25:00\n"), Contains("closures.txt:3:") && Contains("close=HH:MM"));
    CHECK_THAT(message_of(prefix + "2025-01-10 close=13\n"), Contains("closures.txt:3:") && Contains("close=HH:MM"));
    CHECK_THAT(message_of(prefix + "2025-01-10 close=09:30\n"), Contains("closures.txt:3:") && Contains("after 09:30"));
    CHECK_THAT(message_of(prefix + "2025-01-10 close=16:30\n"),
               Contains("closures.txt:3:") && Contains("no later than 16:00"));
    CHECK_THAT(message_of(prefix + "2025-01-11 close=13:00\n"), Contains("closures.txt:3:") && Contains("weekend"));
    CHECK_THAT(message_of(prefix + "2025-12-25 close=13:00\n"),
               Contains("closures.txt:3:") && Contains("Christmas Day"));
    CHECK_THAT(message_of(prefix + "2025-01-09 close=13:00\n"), Contains("closures.txt:3:") && Contains("line 2"));
    CHECK_THAT(message_of("closed 2025-01-09\n"), Contains("closures.txt:1:"));
}

TEST_CASE("from_file reports the path and line, and a missing file", "[unit]") {
    const auto path =
        std::filesystem::temp_directory_path() /
        fmt::format("etl-calendar-test-{}.txt", std::chrono::steady_clock::now().time_since_epoch().count());
    {
        std::ofstream out(path);
        out << "# ops file\n2025-01-09 closed # Carter\n2025-13-01 closed\n";
    }
    try {
        (void)TradingCalendar::from_file(path);
        FAIL("expected ConfigError");
    } catch (const etl::ConfigError& e) {
        CHECK_THAT(e.what(), Catch::Matchers::Contains(path.string() + ":3:"));
        CHECK(e.code() == etl::util::ExitCode::config);
    }
    std::filesystem::remove(path);
    CHECK_THROWS_AS(TradingCalendar::from_file(path), etl::ConfigError);
    CHECK_THROWS_AS(TradingCalendar::from_file(std::filesystem::temp_directory_path()), etl::ConfigError);
}

TEST_CASE("override list checks and a broken list that leaves no session", "[unit]") {
    CHECK_THROWS_AS(TradingCalendar({{ymd(2025, 1, 9), std::nullopt, "a"}, {ymd(2025, 1, 9), std::nullopt, "b"}}),
                    etl::ConfigError);
    CHECK_THROWS_AS(TradingCalendar({{ymd(2025, 1, 11), std::chrono::minutes{13 * 60}, ""}}), etl::ConfigError);

    std::vector<CalendarOverride> closed;
    for (sys_days d = ymd(2025, 3, 1); d <= ymd(2025, 3, 31); d += std::chrono::days{1}) {
        closed.push_back({d, std::nullopt, "test"});
    }
    const TradingCalendar cal(closed);
    CHECK_THROWS_AS(cal.session_for(et(2025, 3, 31, 12, 0)), etl::ConfigError);
    CHECK_FALSE(cal.previous_session(ymd(2025, 3, 31)).has_value());
    CHECK(iso(cal.session_for(et(2025, 3, 10, 12, 0)).date) == "2025-02-28");
}
