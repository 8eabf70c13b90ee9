// Writing to the Redis cache from a job: never required for success. When Redis is not configured
// nothing happens; when it is down, slow or refuses our credentials the job warns once and goes on.
#pragma once

#include "etl/config/config.hpp"
#include "etl/jobs/totals.hpp"
#include "etl/redis/client.hpp"

#include <chrono>
#include <span>
#include <string>
#include <utility>

namespace etl::jobs {

// SET key value EX ttl for every item in one pipelined round trip, and says how it went in
// totals.cache (the summary, the report and etl_runs show it). Returns false (after one warning) when
// Redis could not take them; true when written or when no redis_url is configured.
bool write_cache(const config::Config& cfg, std::span<const std::pair<std::string, std::string>> items,
                 std::chrono::seconds ttl, RunTotals& totals);
// The same for entries with their own TTLs (one round trip). When totals.cache already says how an
// earlier write of this run went, this one's outcome is appended to it.
bool write_cache(const config::Config& cfg, std::span<const redis::CacheEntry> entries, RunTotals& totals);

} // namespace etl::jobs
