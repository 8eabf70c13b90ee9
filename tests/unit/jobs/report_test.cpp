// The --report JSON: its exact text (readers parse it; jq scripts in the wild match on its keys).
#include "etl/jobs/report.hpp"

#include <catch2/catch.hpp>

using namespace etl;

TEST_CASE("report: the JSON of a run, byte for byte", "[unit]") {
    jobs::RunTotals t;
    t.job = "etl-historical";
    t.arguments = "1M AAPL \"X\"";
    t.shard = "0/1";
    t.store = "sqlite:/tmp/a.db";
    t.started = std::chrono::system_clock::time_point{std::chrono::seconds{1700000000}};
    t.symbols_requested = 3;
    t.symbols_ok = 1;
    t.symbols_failed = 2;
    t.failures_no_data = 1;
    t.rows.inserted = 21;
    t.rows.rejected = 1;
    t.failures.push_back({"MSFT", "polygon", "transient", "HTTP 503\ttwice"});
    t.failures.push_back({"ZZZZ", "polygon", "no data", "polygon returned no bars"});
    t.timings = {{"fetch", 1.25}, {"database", 0.0004}};
    const auto now = t.started + std::chrono::milliseconds{2500};
    CHECK(jobs::report_json(t, util::ExitCode::partial, now) ==
          R"({"job":"etl-historical","arguments":"1M AAPL \"X\"","shard":"0/1","run_id":null,"dry_run":false,)"
          R"("store":"sqlite:/tmp/a.db","started_at":"2023-11-14T22:13:20Z","finished_at":"2023-11-14T22:13:22Z",)"
          R"("duration_seconds":2.500,"status":"partial","exit_code":1,)"
          R"("symbols":{"requested":3,"ok":1,"failed":2,"no_data":1,"not_done":0},)"
          R"("rows":{"inserted":21,"updated":0,"unchanged":0,"rejected":1},)"
          R"("failures":[{"symbol":"MSFT","provider":"polygon","kind":"transient","error":"HTTP 503\ttwice"},)"
          R"({"symbol":"ZZZZ","provider":"polygon","kind":"no data","error":"polygon returned no bars"}],)"
          R"("error":null,"timings":{"fetch":1.250,"database":0.000}})"
          "\n");
    t.run_id = 42;
    t.error = "stopped";
    t.failures.clear();
    t.timings.clear();
    const auto json = jobs::report_json(t, util::ExitCode::partial, now);
    CHECK(json.find(R"("run_id":42,)") != std::string::npos);
    CHECK(json.find(R"("failures":[],"error":"stopped","timings":{}})") != std::string::npos);
}
