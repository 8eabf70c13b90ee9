// Derived data in the jobs (issue 12): `etl derive` recomputes on demand; with derive.enabled the loading
// jobs recompute what their load changed, through derive_after_load.
#pragma once

#include "etl/jobs/run.hpp"
#include "etl/market/timeframe.hpp"

namespace etl::jobs {

// Recomputes the indicators of every symbol whose `timeframe` bars this run changed
// (RunTotals::bars_changed_from), from the first changed instant, unless derive.enabled is false, the run
// is a dry run or was interrupted. Tallies "derive" (symbols, values) and logs one line. A stop
// (SIGINT/SIGTERM) ends it between symbols; a database error propagates as a load's would.
void derive_after_load(RunContext& run, market::Timeframe timeframe);

} // namespace etl::jobs
