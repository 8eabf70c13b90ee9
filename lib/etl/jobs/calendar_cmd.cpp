// etl calendar [DATE]: is DATE an NYSE session, when does it open and close, which session is
// today-or-last (the one etl-hourly loads).
#include "etl/jobs/cli.hpp"
#include "etl/jobs/commands.hpp"
#include "etl/jobs/options.hpp"
#include "etl/jobs/setup.hpp"
#include "etl/util/clock.hpp"
#include "etl/util/error.hpp"

#include <CLI/CLI.hpp>
#include <date/tz.h>
#include <fmt/format.h>

namespace etl::jobs {
namespace {

using namespace std::chrono;

std::string new_york_clock(sys_seconds t) {
    const auto local = date::make_zoned(date::locate_zone("America/New_York"), t).get_local_time();
    const auto hms = date::hh_mm_ss{local - floor<days>(local)};
    return fmt::format("{:02}:{:02} ET", hms.hours().count(), hms.minutes().count());
}

std::string_view weekday_name(sys_days d) {
    static constexpr std::string_view k_names[] = {"Sunday",   "Monday", "Tuesday", "Wednesday",
                                                   "Thursday", "Friday", "Saturday"};
    return k_names[weekday{d}.c_encoding()];
}

std::string describe(const market::TradingCalendar& cal, sys_days d) {
    std::string out = fmt::format("{} ({}): ", util::format_date(d), weekday_name(d));
    if (const auto s = cal.session_on(d)) {
        out += fmt::format("session{}\n", s->early_close ? ", early close" : "");
        out += fmt::format("  open   {} = {}\n", new_york_clock(s->open), util::format_instant(s->open));
        out += fmt::format("  close  {} = {}\n", new_york_clock(s->close), util::format_instant(s->close));
    } else {
        const auto name = cal.holiday_name(d);
        out += fmt::format("closed ({})\n", name.empty() ? std::string_view("weekend") : name);
    }
    if (const auto p = cal.previous_session(d))
        out += fmt::format("  previous session {}\n", util::format_date(p->date));
    if (const auto n = cal.next_session(d)) out += fmt::format("  next session     {}\n", util::format_date(n->date));
    return out;
}

} // namespace

int calendar_main(const std::vector<std::string>& args) {
    return run_guarded(args.front(), [&]() -> int {
        CLI::App app{"NYSE calendar (America/New_York): sessions, holidays, early closes.", args.front()};
        std::string date_flag;
        CommonOptions common;
        app.add_option("date", date_flag, "YYYY-MM-DD (default: today in New York)");
        add_common_options(app, common);
        if (auto rc = parse_cli(app, args)) return *rc;
        const auto cfg = load_config(common);
        const auto cal = load_calendar(cfg);
        const auto now = util::now();
        sys_days d = cal.new_york_date(now);
        // The range every date flag takes: the year 0000 has no NYSE sessions to describe.
        if (!date_flag.empty()) d = util::parse_date_flag("date", date_flag);
        fmt::print("{}", describe(cal, d));
        const auto current = cal.session_for(now);
        fmt::print("now {} ({}): market {}; today-or-last session {}\n", util::format_instant(now), new_york_clock(now),
                   cal.is_open(now) ? "open" : "closed", util::format_date(current.date));
        return 0;
    });
}

} // namespace etl::jobs
