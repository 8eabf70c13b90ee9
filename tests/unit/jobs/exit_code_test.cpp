#include "etl/jobs/totals.hpp"

#include <catch2/catch.hpp>

using etl::jobs::decide_exit_code;
using etl::jobs::RunTotals;
using etl::util::ExitCode;

TEST_CASE("exit codes follow the spec's table and its precedence", "[unit]") {
    RunTotals t;
    t.max_rejected_ratio = 0.05;
    CHECK(decide_exit_code(t) == ExitCode::ok); // nothing to do

    t.symbols_requested = 3;
    t.symbols_ok = 3;
    t.bars_valid = 100;
    CHECK(decide_exit_code(t) == ExitCode::ok);

    t.rows.rejected = 5; // 5 / 105 < 0.05
    CHECK(decide_exit_code(t) == ExitCode::ok);
    t.rows.rejected = 10; // 10 / 110 > 0.05
    CHECK(decide_exit_code(t) == ExitCode::data);

    t.symbols_ok = 2;
    t.symbols_failed = 1;
    t.failures_transient = 1;
    CHECK(decide_exit_code(t) == ExitCode::partial);

    t.symbols_ok = 0;
    t.symbols_failed = 3;
    t.failures_transient = 3;
    CHECK(decide_exit_code(t) == ExitCode::unavailable);

    t.failures_transient = 2; // one permanent failure (e.g. 404): not "provider unavailable"
    CHECK(decide_exit_code(t) == ExitCode::partial);

    t.failures_config = 1;
    CHECK(decide_exit_code(t) == ExitCode::config);

    t.interrupted = true;
    CHECK(decide_exit_code(t) == ExitCode::interrupted);
}
