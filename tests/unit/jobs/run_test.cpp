#include "etl/jobs/run.hpp"
#include "etl/util/error.hpp"

#include <catch2/catch.hpp>

#include <stdexcept>

using etl::jobs::CommonOptions;
using etl::jobs::end_run;
using etl::jobs::exit_code;
using etl::jobs::run_job;
using etl::jobs::RunContext;
using etl::jobs::RunSpec;
using etl::jobs::RunTotals;
using etl::jobs::Sink;
using etl::jobs::Verdict;
using etl::util::ExitCode;

namespace {

// What a sink saw, for the tests to look at.
struct Seen {
    int calls = 0;
    ExitCode code = ExitCode::internal;
    std::string error;
    std::string nothing_to_do;
};

Sink recording(Seen& seen) {
    return {"the test's record", [&seen](const RunTotals& t) {
                ++seen.calls;
                seen.code = t.code;
                seen.error = t.error;
                seen.nothing_to_do = t.nothing_to_do;
            }};
}

Sink failing() {
    return {"a sink that fails", [](const RunTotals&) { throw std::runtime_error("disk full"); }};
}

// A command that needs neither calendar nor store nor assets (etl-validate over a file, say): the
// scaffold still loads config, runs the hooks, the work, the exit rule and the sinks.
RunSpec bare_spec() {
    RunSpec spec;
    spec.job = "etl-test";
    spec.needs_calendar = false;
    spec.needs_store = false;
    spec.resolves_assets = false;
    return spec;
}

CommonOptions quiet_options() {
    CommonOptions o;
    o.database_url = "sqlite:never-opened.db";
    o.log_level = "error";
    o.no_progress = true;
    return o;
}

const std::vector<std::string> k_args{"etl-test", "--flag"};

} // namespace

TEST_CASE("every verdict maps to its exit code in one place", "[unit]") {
    CHECK(exit_code(Verdict::ok) == ExitCode::ok);
    CHECK(exit_code(Verdict::nothing_to_do) == ExitCode::ok);
    CHECK(exit_code(Verdict::partial) == ExitCode::partial);
    CHECK(exit_code(Verdict::data) == ExitCode::data);
    CHECK(exit_code(Verdict::unavailable) == ExitCode::unavailable);
    CHECK(exit_code(Verdict::config) == ExitCode::config);
    CHECK(exit_code(Verdict::interrupted) == ExitCode::interrupted);
}

TEST_CASE("a sink that fails is logged and changes neither the exit code nor the sinks after it", "[unit]") {
    RunTotals outcome;
    Seen before, after;
    const std::vector<Sink> sinks{recording(before), failing(), recording(after)};
    CHECK(end_run(outcome, ExitCode::partial, "", sinks) == ExitCode::partial);
    CHECK(outcome.code == ExitCode::partial);
    CHECK(before.calls == 1);
    CHECK(after.calls == 1);
    CHECK(after.code == ExitCode::partial);
}

TEST_CASE("a run with nothing to do ends through the sinks, without its work", "[unit]") {
    auto spec = bare_spec();
    Seen seen;
    bool worked = false;
    spec.before_store = [](RunContext&) -> std::optional<std::string> { return "market closed: nothing to do"; };
    spec.work = [&](RunContext&) { worked = true; };
    spec.extra_sinks = {failing(), recording(seen)};
    CHECK(run_job(spec, k_args, quiet_options()) == 0);
    CHECK_FALSE(worked);
    CHECK(seen.calls == 1);
    CHECK(seen.code == ExitCode::ok);
    CHECK(seen.nothing_to_do == "market closed: nothing to do");
}

TEST_CASE("a command's own tallies and exit rule decide its exit code", "[unit]") {
    // A validation-like command: counts checks in its own tally, fails with 65 when one failed.
    auto spec = bare_spec();
    std::string job_seen;
    spec.work = [&](RunContext& run) {
        job_seen = run.totals.job + " " + run.totals.arguments;
        run.totals.counts_symbols = false;
        auto& checks = run.totals.tally("checks");
        checks["ohlc"]["failed"] = 2;
        checks["ohlc"].status = "fail";
        checks["gaps"]["failed"] = 0;
    };
    spec.exit_rule = [](const RunTotals& t) {
        for (const auto& group : t.tallies)
            for (const auto& item : group.items)
                if (item.get("failed") > 0) return Verdict::data;
        return Verdict::ok;
    };
    Seen seen;
    std::string report_seen;
    spec.extra_sinks = {failing(), recording(seen), {"the tallies", [&](const RunTotals& t) {
                                                         report_seen = t.tallies.front().items[0].status;
                                                     }}};
    CHECK(run_job(spec, k_args, quiet_options()) == 65);
    CHECK(job_seen == "etl-test --flag");
    CHECK(seen.calls == 1);
    CHECK(seen.code == ExitCode::data);
    CHECK(seen.nothing_to_do.empty());
    CHECK(report_seen == "fail");
}

TEST_CASE("a bug in the work still ends the run, as an internal error, then reaches the caller", "[unit]") {
    auto spec = bare_spec();
    spec.work = [](RunContext&) { throw std::out_of_range("vector index"); };
    Seen seen;
    spec.extra_sinks = {recording(seen)};
    CHECK_THROWS_AS(run_job(spec, k_args, quiet_options()), std::out_of_range);
    CHECK(seen.calls == 1);
    CHECK(seen.code == ExitCode::internal);
    CHECK(seen.error == "internal error: vector index");
}

TEST_CASE("an error that stops the work ends the run with its code, then reaches the caller", "[unit]") {
    auto spec = bare_spec();
    spec.work = [](RunContext&) { throw etl::TemporaryError("database connection lost"); };
    Seen seen;
    spec.extra_sinks = {recording(seen)};
    CHECK_THROWS_AS(run_job(spec, k_args, quiet_options()), etl::TemporaryError);
    CHECK(seen.calls == 1);
    CHECK(seen.code == ExitCode::temporary);
    CHECK(seen.error == "database connection lost");
}

TEST_CASE("a hook's error before the run is recorded skips the epilogue", "[unit]") {
    auto spec = bare_spec();
    spec.after_assets = [](RunContext&) -> std::optional<std::string> { throw etl::UsageError("bad session"); };
    Seen seen;
    spec.extra_sinks = {recording(seen)};
    CHECK_THROWS_AS(run_job(spec, k_args, quiet_options()), etl::UsageError);
    CHECK(seen.calls == 0);
}
