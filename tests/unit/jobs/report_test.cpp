// The --report JSON: its exact text (readers parse it; jq scripts in the wild match on its keys).
#include "etl/jobs/report.hpp"

#include <catch2/catch.hpp>
#include <fmt/format.h>

#include <stdexcept>

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
          R"({"symbol":"ZZZZ","provider":"polygon","kind":"no data","error":"polygon returned no bars"}],"cache":null,)"
          R"("error":null,"timings":{"fetch":1.250,"database":0.000}})"
          "\n");
    t.run_id = 42;
    t.error = "stopped";
    t.failures.clear();
    t.timings.clear();
    const auto json = jobs::report_json(t, util::ExitCode::partial, now);
    CHECK(json.find(R"("run_id":42,)") != std::string::npos);
    CHECK(json.find(R"("failures":[],"cache":null,"error":"stopped","timings":{}})") != std::string::npos);
}

TEST_CASE("report: a command's own tallies reach the summary and the report", "[unit]") {
    jobs::RunTotals t;
    t.job = "etl-migrate-sqlite";
    t.arguments = "old.db";
    t.shard = "0/1";
    t.store = "postgresql (plain)";
    t.started = std::chrono::system_clock::time_point{std::chrono::seconds{1700000000}};
    t.counts_symbols = false; // a migration counts tables, not symbols
    auto& tables = t.tally("tables");
    tables["price_bars"]["read"] = 10;
    tables["price_bars"]["written"] = 9;
    tables["price_bars"]["rejected"] += 1;
    tables["assets"]["read"] = 2;
    tables["assets"]["written"] = 2;
    t.tally("checks")["ohlc"].status = "fail";
    t.tally("checks")["ohlc"].text("first") = "2024-01-02";
    CHECK(&t.tally("tables") == &tables); // found again, not added twice
    CHECK(t.tallies.size() == 2);
    CHECK(tables["price_bars"].get("written") == 9);
    CHECK(tables["price_bars"].get("skipped") == 0);
    CHECK(tables["price_bars"].counts.size() == 3); // get() adds nothing

    const auto now = t.started + std::chrono::seconds{1};
    const auto json = jobs::report_json(t, util::ExitCode::ok, now);
    CHECK(json.find(R"("symbols")") == std::string::npos);
    CHECK(json.find(R"("rows":{"inserted":0,"updated":0,"unchanged":0,"rejected":0},)"
                    R"("tables":{"price_bars":{"read":10,"written":9,"rejected":1},"assets":{"read":2,"written":2}},)"
                    R"("checks":{"ohlc":{"first":"2024-01-02","status":"fail"}},"failures":[])") != std::string::npos);

    const auto text = jobs::summary_text(t, util::ExitCode::ok);
    CHECK(text.starts_with("etl-migrate-sqlite old.db: done in "));
    CHECK(text.find("symbol") == std::string::npos);
    CHECK(text.find("\n  tables price_bars: 10 read, 9 written, 1 rejected\n  tables assets: 2 read, 2 written\n"
                    "  checks ohlc: first 2024-01-02 [fail]\n") != std::string::npos);

    // More items than a screen holds are counted, not listed.
    for (int i = 0; i < 12; ++i) t.tally("symbols checked")[fmt::format("S{}", i)]["bars"] = 1;
    CHECK(jobs::summary_text(t, util::ExitCode::ok).find("  ... and 2 more symbols checked\n") != std::string::npos);

    // A group named after a key every report has would make the report ambiguous: a bug.
    CHECK_THROWS_AS(t.tally("rows"), std::logic_error);
    CHECK_THROWS_AS(t.tally(""), std::logic_error);
}
