// What a run says about itself at the end: the one-screen summary on stderr and the --report JSON.
#pragma once

#include "etl/jobs/totals.hpp"
#include "etl/util/exit_code.hpp"

#include <chrono>
#include <string>

namespace etl::jobs {

// The one-screen summary written to stderr at the end of a run.
std::string summary_text(const RunTotals& totals, util::ExitCode code);
// The members of the JSON summary line, as one object: the report's, but for the job, shard and run id
// (every log line has them) and with the first 10 failures only ("more_failures": the rest).
std::string summary_json(const RunTotals& totals, util::ExitCode code);
// The --report JSON of a run that ends at `now` (one line, newline-terminated; every string scrubbed).
std::string report_json(const RunTotals& totals, util::ExitCode code, std::chrono::system_clock::time_point now);
// Writes the --report JSON (atomically: a temp file renamed into place). Throws etl::Error on I/O failure.
void write_report(const std::string& path, const RunTotals& totals, util::ExitCode code);

} // namespace etl::jobs
