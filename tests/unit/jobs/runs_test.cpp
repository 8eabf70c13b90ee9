#include "etl/jobs/runs.hpp"
#include "etl/util/clock.hpp"
#include "etl/util/error.hpp"

#include <catch2/catch.hpp>

using etl::jobs::apply_max_age;
using etl::jobs::default_max_ages;
using etl::jobs::format_duration;
using etl::jobs::freshness_rule;
using etl::jobs::job_state;
using etl::jobs::JobMaxAge;
using etl::jobs::JobState;
using etl::jobs::parse_duration;
using etl::jobs::RunFilter;
using etl::jobs::runs_sql;
using std::chrono::seconds;

namespace {

std::chrono::sys_seconds at(std::string_view iso) { return etl::util::parse_instant(iso).value(); }

const etl::market::TradingCalendar& calendar() {
    static const etl::market::TradingCalendar c;
    return c;
}

} // namespace

TEST_CASE("parse_duration reads a whole number and one unit", "[unit][runs]") {
    CHECK(parse_duration("30d") == seconds{30 * 86400});
    CHECK(parse_duration("12h") == seconds{12 * 3600});
    CHECK(parse_duration("45m") == seconds{2700});
    CHECK(parse_duration("90s") == seconds{90});
    CHECK(parse_duration("0") == seconds{0});
    CHECK(parse_duration("0m") == seconds{0});
    for (const auto* bad : {"", "d", "30", "-5m", "5.5h", "1w", "5 m", "m5", "100001d", "30D"})
        CHECK_FALSE(parse_duration(bad).has_value());
}

TEST_CASE("format_duration gives the two largest units", "[unit][runs]") {
    CHECK(format_duration(seconds{0}) == "0s");
    CHECK(format_duration(seconds{-5}) == "0s");
    CHECK(format_duration(seconds{59}) == "59s");
    CHECK(format_duration(seconds{725}) == "12m05s");
    CHECK(format_duration(seconds{3 * 3600 + 7 * 60 + 59}) == "3h07m");
    CHECK(format_duration(seconds{4 * 86400 + 2 * 3600}) == "4d02h");
}

TEST_CASE("etl status --max-age replaces a known job's limit and adds another job", "[unit][runs]") {
    auto ages = default_max_ages();
    REQUIRE(ages.size() == 3);
    apply_max_age(ages, "hourly=45m");
    apply_max_age(ages, "etl-validate=2d");
    REQUIRE(ages.size() == 4);
    CHECK(ages[1].job == "etl-hourly");
    CHECK(ages[1].max_age == seconds{2700});
    CHECK(ages[1].session_only);
    CHECK(ages[1].asked);
    CHECK(ages[3].job == "etl-validate");
    CHECK(ages[3].max_age == seconds{2 * 86400});
    CHECK_FALSE(ages[3].session_only);
    CHECK(ages[3].asked);
    CHECK_FALSE(ages[0].asked);
    for (const auto* bad : {"hourly", "hourly=", "=5m", "hourly=5q", "hourly=-1h"})
        CHECK_THROWS_AS(apply_max_age(ages, bad), etl::UsageError);
}

TEST_CASE("job_state: session-bound jobs are judged only inside the session", "[unit][runs]") {
    const JobMaxAge hourly{"etl-hourly", seconds{1800}, true, false};
    // Friday 2025-03-14 (EDT): the session runs 13:30Z-20:00Z.
    const auto now = at("2025-03-14T15:00:00Z");
    CHECK(job_state(hourly, at("2025-03-14T14:40:00Z"), now, calendar()) == JobState::ok);
    CHECK(job_state(hourly, at("2025-03-14T14:29:59Z"), now, calendar()) == JobState::overdue);
    CHECK(job_state(hourly, std::nullopt, now, calendar()) == JobState::never_ran);
    auto asked = hourly;
    asked.asked = true;
    CHECK(job_state(asked, std::nullopt, now, calendar()) == JobState::overdue);
    // Less than max age after the bell, after the close, on a weekend: not judged.
    CHECK(job_state(hourly, at("2025-03-10T14:00:00Z"), at("2025-03-14T13:59:59Z"), calendar()) ==
          JobState::market_closed);
    CHECK(job_state(hourly, at("2025-03-10T14:00:00Z"), at("2025-03-14T14:00:00Z"), calendar()) == JobState::overdue);
    CHECK(job_state(hourly, at("2025-03-10T14:00:00Z"), at("2025-03-14T20:00:00Z"), calendar()) ==
          JobState::market_closed);
    CHECK(job_state(hourly, at("2025-03-10T14:00:00Z"), at("2025-03-15T15:00:00Z"), calendar()) ==
          JobState::market_closed);
}

TEST_CASE("job_state: other jobs are judged at any time; max age 0 is not checked", "[unit][runs]") {
    const JobMaxAge historical{"etl-historical", seconds{4 * 86400}, false, false};
    const auto now = at("2025-03-17T21:00:00Z");
    CHECK(job_state(historical, at("2025-03-14T21:35:00Z"), now, calendar()) == JobState::ok);
    CHECK(job_state(historical, at("2025-03-13T21:00:00Z"), now, calendar()) == JobState::ok);
    CHECK(job_state(historical, at("2025-03-13T20:59:59Z"), now, calendar()) == JobState::overdue);
    CHECK(job_state({"etl-historical", seconds{0}, false, true}, std::nullopt, now, calendar()) ==
          JobState::not_checked);
}

TEST_CASE("freshness_rule: one session of slack for daily bars, the last completed session for hourly",
          "[unit][runs]") {
    // After Friday's close: Friday is the last completed session.
    auto r = freshness_rule(calendar(), at("2025-03-14T21:00:00Z"));
    CHECK(etl::util::format_instant(r.daily_from) == "2025-03-13T00:00:00Z");
    CHECK(etl::util::format_instant(r.hourly_from) == "2025-03-14T13:00:00Z");
    // During Friday's session: Thursday is.
    r = freshness_rule(calendar(), at("2025-03-14T15:00:00Z"));
    CHECK(etl::util::format_instant(r.daily_from) == "2025-03-12T00:00:00Z");
    CHECK(etl::util::format_instant(r.hourly_from) == "2025-03-13T13:00:00Z");
    // The weekend and Monday before the bell: still Friday.
    for (const auto* now : {"2025-03-15T12:00:00Z", "2025-03-17T12:00:00Z"}) {
        r = freshness_rule(calendar(), at(now));
        CHECK(etl::util::format_instant(r.daily_from) == "2025-03-13T00:00:00Z");
        CHECK(etl::util::format_instant(r.hourly_from) == "2025-03-14T13:00:00Z");
    }
    // Winter time (EST: the bell at 14:30Z) and a holiday (Good Friday 2025-04-18) skipped.
    r = freshness_rule(calendar(), at("2025-01-16T22:00:00Z"));
    CHECK(etl::util::format_instant(r.daily_from) == "2025-01-15T00:00:00Z");
    CHECK(etl::util::format_instant(r.hourly_from) == "2025-01-16T14:00:00Z");
    r = freshness_rule(calendar(), at("2025-04-21T21:00:00Z"));
    CHECK(etl::util::format_instant(r.daily_from) == "2025-04-17T00:00:00Z");
}

TEST_CASE("runs_sql filters by job and failure, newest first", "[unit][runs]") {
    CHECK(runs_sql(etl::store::Dialect::sqlite, RunFilter{{"hourly", "etl-hourly"}, true, 5}) ==
          "SELECT id, job, shard, CAST(strftime('%s', started_at) AS INTEGER), CAST(strftime('%s', finished_at) AS "
          "INTEGER), status, exit_code, symbols_ok, symbols_failed, rows_inserted, rows_updated, rows_rejected, error "
          "FROM etl_runs WHERE job IN ($1, $2) AND status IN ('partial', 'failed', 'interrupted') ORDER BY started_at "
          "DESC, id DESC LIMIT 5");
    const auto all = runs_sql(etl::store::Dialect::postgres, RunFilter{});
    CHECK(all.find("CAST(EXTRACT(EPOCH FROM started_at) AS bigint)") != std::string::npos);
    CHECK(all.find(" WHERE ") == std::string::npos);
    CHECK(all.ends_with("ORDER BY started_at DESC, id DESC LIMIT 20"));
}
