// etl-historical's incremental plan: closed days, the fetch span per symbol, the overlap verdict, and
// the requests line of the summary and the report.
#include "etl/jobs/incremental.hpp"
#include "etl/jobs/report.hpp"

#include <catch2/catch.hpp>

using namespace etl;
using namespace std::chrono;
using jobs::FetchPlan;

namespace {

constexpr sys_days on(int m, int d) { return sys_days{year{2025} / m / d}; }

// The NYSE sessions of 2025-03-03 .. 2025-03-14: two full weeks.
std::vector<sys_days> march_sessions() {
    std::vector<sys_days> out;
    for (int d : {3, 4, 5, 6, 7, 10, 11, 12, 13, 14}) out.push_back(on(3, d));
    return out;
}

std::vector<sys_days> without(std::vector<sys_days> v, std::initializer_list<sys_days> drop) {
    for (const auto d : drop) std::erase(v, d);
    return v;
}

const market::DateWindow k_march{on(3, 3), on(3, 14)};

} // namespace

TEST_CASE("incremental: closed days are the NYSE sessions that closed, or every ended UTC day", "[unit][incremental]") {
    const market::TradingCalendar cal;
    // Fri 02-14, Presidents' Day 02-17, Tue 02-18, Wed 02-19 (closes 16:00 EST = 21:00Z).
    const market::DateWindow w{on(2, 14), on(2, 19)};
    CHECK(jobs::closed_days(w, false, cal, sys_days{on(2, 19)} + hours{20}) ==
          std::vector<sys_days>{on(2, 14), on(2, 18)});
    CHECK(jobs::closed_days(w, false, cal, sys_days{on(2, 19)} + hours{21}) ==
          std::vector<sys_days>{on(2, 14), on(2, 18), on(2, 19)});
    CHECK(jobs::closed_days({on(2, 14), on(2, 16)}, true, cal, sys_days{on(2, 16)} + hours{12}) ==
          std::vector<sys_days>{on(2, 14), on(2, 15)});
}

TEST_CASE("incremental: a new session is fetched with the last revision_sessions sessions up to the last bar",
          "[unit][incremental]") {
    const auto closed = march_sessions();
    const auto stored = without(closed, {on(3, 14)});
    const auto plan = jobs::plan_fetch(k_march, closed, stored, 5);
    CHECK(plan.kind == FetchPlan::Kind::incremental);
    CHECK(plan.gaps == 0);
    CHECK(plan.new_days == 1);
    CHECK(plan.last == on(3, 13));
    // The last 5 sessions up to 03-13, that one included: 03-13, 03-12, 03-11, 03-10, 03-07.
    CHECK(plan.span.from == on(3, 7));
    // 1 new session + 5 revision sessions: 6 in all.
    CHECK(std::count_if(closed.begin(), closed.end(),
                        [&](sys_days d) { return d >= plan.span.from && d <= plan.span.to; }) == 6);
    CHECK(jobs::plan_fetch(k_march, closed, stored, 2).span.from == on(3, 12));
    CHECK(plan.span.to == on(3, 14));
    // No overlap asked: from the last stored bar itself.
    CHECK(jobs::plan_fetch(k_march, closed, stored, 0).span.from == on(3, 13));
    // More overlap than history: from the window's first session.
    const std::vector<sys_days> two{on(3, 3), on(3, 4)};
    CHECK(jobs::plan_fetch(k_march, closed, two, 5).span.from == on(3, 3));
}

TEST_CASE("incremental: nothing missing is up to date, a head that starts late is no gap", "[unit][incremental]") {
    const auto closed = march_sessions();
    const auto full = jobs::plan_fetch(k_march, closed, closed, 5);
    CHECK(full.kind == FetchPlan::Kind::up_to_date);
    CHECK(full.last == on(3, 14));
    const std::vector<sys_days> recent{on(3, 10), on(3, 11), on(3, 12), on(3, 13), on(3, 14)};
    const auto listed = jobs::plan_fetch(k_march, closed, recent, 5);
    CHECK(listed.kind == FetchPlan::Kind::up_to_date);
    CHECK(listed.gaps == 0);
    // An explicit --from asks for the window's start: the days before the first stored bar are gaps.
    const auto asked = jobs::plan_fetch(k_march, closed, recent, 5, true);
    CHECK(asked.kind == FetchPlan::Kind::incremental);
    CHECK(asked.gaps == 5);
    CHECK(asked.span.from == on(3, 3));
    // A stored bar on a day that is no session (a provider's holiday bar) changes nothing.
    auto extra = closed;
    extra.insert(extra.begin() + 5, on(3, 9));
    CHECK(jobs::plan_fetch(k_march, closed, extra, 5).kind == FetchPlan::Kind::up_to_date);
}

TEST_CASE("incremental: a gap is fetched from the gap on, nothing stored fetches the whole window",
          "[unit][incremental]") {
    const auto closed = march_sessions();
    const auto plan = jobs::plan_fetch(k_march, closed, without(closed, {on(3, 5)}), 5);
    CHECK(plan.kind == FetchPlan::Kind::incremental);
    CHECK(plan.gaps == 1);
    CHECK(plan.new_days == 0);
    CHECK(plan.span.from == on(3, 5));
    CHECK(plan.span.to == on(3, 14));
    // A gap later than the overlap's start: the overlap decides.
    const auto late = jobs::plan_fetch(k_march, closed, without(closed, {on(3, 13)}), 5);
    CHECK(late.gaps == 1);
    CHECK(late.span.from == on(3, 10));
    const auto none = jobs::plan_fetch(k_march, closed, {}, 5);
    CHECK(none.kind == FetchPlan::Kind::whole);
    CHECK(none.span.from == k_march.from);
    CHECK(none.span.to == k_march.to);
}

TEST_CASE("incremental: the overlap's verdict", "[unit][incremental]") {
    using Pairs = std::vector<std::pair<double, double>>;
    const auto same = jobs::compare_overlap(Pairs{{10.0, 10.0}, {11.5, 11.5}, {12.25, 12.25}});
    CHECK_FALSE(same.refetch);
    CHECK(same.compared == 3);
    CHECK(same.differing == 0);
    // Split-adjusted history: every stored close 4x the provider's.
    const auto split =
        jobs::compare_overlap(Pairs{{400.0, 100.0}, {404.0, 101.0}, {408.0, 102.0}, {412.0, 103.0}, {416.0, 104.0}});
    CHECK(split.refetch);
    CHECK(split.differing == 5);
    CHECK(split.factor == Approx(4.0));
    CHECK(split.reason == "by a factor 4.000 over 5 overlapping sessions (split?)");
    // One revised close among six: a normal update.
    const auto one =
        jobs::compare_overlap(Pairs{{10.0, 10.0}, {11.0, 11.05}, {12.0, 12.0}, {13.0, 13.0}, {14.0, 14.0}, {15, 15}});
    CHECK_FALSE(one.refetch);
    CHECK(one.differing == 1);
    CHECK(one.reason.empty());
    // Most closes differ, by no common ratio.
    const auto most =
        jobs::compare_overlap(Pairs{{10.0, 10.3}, {11.0, 11.05}, {12.0, 12.9}, {13.0, 13.0}, {14.0, 14.2}, {15, 15}});
    CHECK(most.refetch);
    CHECK(most.differing == 4);
    CHECK(most.reason == "on 4 of 6 overlapping sessions");
    // One day proves nothing; a close within the tolerance is the same close.
    CHECK_FALSE(jobs::compare_overlap(Pairs{{400.0, 100.0}}).refetch);
    CHECK_FALSE(jobs::compare_overlap(Pairs{{100.0, 100.00000001}, {50.0, 50.0}}).refetch);
    CHECK(jobs::compare_overlap(Pairs{}).compared == 0);
}

TEST_CASE("incremental: the summary and the report show requests made and saved", "[unit][incremental]") {
    jobs::RunTotals t;
    t.job = "etl-historical";
    t.arguments = "1Y";
    t.provider_requests[{"polygon", "200"}] = 2;
    t.provider_requests[{"polygon", "429"}] = 1;
    t.requests_saved = 497;
    const auto now = t.started + seconds{1};
    CHECK(jobs::summary_text(t, util::ExitCode::ok).find("requests:") == std::string::npos);
    CHECK(jobs::report_json(t, util::ExitCode::ok, now).find("\"requests\"") == std::string::npos);
    t.counts_requests = true;
    CHECK(t.requests_made() == 3);
    CHECK(jobs::summary_text(t, util::ExitCode::ok)
              .find("\n  requests: 3 made, 497 saved by incremental planning and whole-market answers\n") !=
          std::string::npos);
    CHECK(jobs::report_json(t, util::ExitCode::ok, now).find(R"("requests":{"made":3,"saved":497})") !=
          std::string::npos);
}

TEST_CASE("plan_grouped: one grouped request per date when the dates are fewer than the symbols",
          "[unit][incremental]") {
    const auto closed = march_sessions(); // 10 sessions, 03-03 .. 03-14
    SECTION("500 symbols needing the last 6 sessions: 6 requests") {
        const std::vector<sys_days> starts(500, on(3, 7));
        const auto p = jobs::plan_grouped(starts, closed);
        REQUIRE(p.cut == on(3, 7));
        CHECK(p.dates == 6);
        CHECK(p.served == 500);
        CHECK(p.requests == 6);
    }
    SECTION("2 symbols needing 6 sessions: per symbol is cheaper") {
        const std::vector<sys_days> starts(2, on(3, 7));
        const auto p = jobs::plan_grouped(starts, closed);
        CHECK_FALSE(p.cut);
        CHECK(p.requests == 2);
        CHECK(p.served == 0);
    }
    SECTION("as many dates as symbols: per symbol (no gain)") {
        const std::vector<sys_days> starts(6, on(3, 7));
        CHECK_FALSE(jobs::plan_grouped(starts, closed).cut);
    }
    SECTION("narrow spans grouped, whole windows alone") {
        std::vector<sys_days> starts(10, on(3, 10)); // 5 dates each
        starts.insert(starts.end(), 3, on(3, 3));    // whole: 10 dates
        const auto p = jobs::plan_grouped(starts, closed);
        REQUIRE(p.cut == on(3, 10));
        CHECK(p.dates == 5);
        CHECK(p.served == 10);
        CHECK(p.requests == 8); // 5 grouped + 3 whole windows
    }
    SECTION("a whole first run of many symbols is grouped too when the window is short") {
        const std::vector<sys_days> starts(40, on(3, 3));
        const auto p = jobs::plan_grouped(starts, closed);
        REQUIRE(p.cut == on(3, 3));
        CHECK(p.requests == 10);
    }
    SECTION("equal starts are served together") {
        const std::vector<sys_days> starts{on(3, 12), on(3, 12), on(3, 12), on(3, 12), on(3, 3)};
        const auto p = jobs::plan_grouped(starts, closed);
        REQUIRE(p.cut == on(3, 12));
        CHECK(p.served == 4);
        CHECK(p.requests == 4); // 3 dates + 1
    }
    SECTION("spans holding no closed day are never grouped") {
        const std::vector<sys_days> starts(20, on(3, 15));
        CHECK_FALSE(jobs::plan_grouped(starts, closed).cut);
        CHECK_FALSE(jobs::plan_grouped({}, closed).cut);
    }
}
