// Derived data in the jobs (issue 12): `etl derive` recomputes on demand; with derive.enabled the loading
// jobs recompute what their load changed, through derive_after_load.
#pragma once

#include "etl/jobs/run.hpp"
#include "etl/market/timeframe.hpp"
#include "etl/redis/client.hpp"

#include <vector>

namespace etl::jobs {

// Recomputes the indicators of every symbol whose `timeframe` bars this run changed
// (RunTotals::bars_changed_from), from the first changed instant, unless derive.enabled is false, the run
// is a dry run or was interrupted. Tallies "derive" (symbols, values) and logs one line. A stop
// (SIGINT/SIGTERM) ends it between symbols; a database error propagates as a load's would.
// Returns the Redis entries of the symbols derived (see cache_entries; none without redis_url), for the
// job to write in its one round trip (write_cache).
std::vector<redis::CacheEntry> derive_after_load(RunContext& run, market::Timeframe timeframe);

// The Redis entries of one derived symbol (issue 12 point 4), TTL redis.bars_ttl_seconds:
// bars:{SYMBOL}:{TIMEFRAME}, its last 500 stored bars that pass the OHLC rules, oldest first, as a JSON
// array of {ts, open, high, low, close, volume} (the shape of hourly_data; numbers as stored), and
// indicators:{SYMBOL}:{TIMEFRAME}, {"ts": its newest bar with indicators, "rsi_14": ..., ...} with the
// published indicators of that bar (not the carried state). None for a symbol with no bar; no
// indicators entry before any warm-up is complete.
void cache_entries(store::Store& store, std::string_view symbol, market::Timeframe timeframe, std::chrono::seconds ttl,
                   std::vector<redis::CacheEntry>& out);

} // namespace etl::jobs
