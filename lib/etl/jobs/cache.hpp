// Writing to the Redis cache from a job: never required for success. When Redis is not configured
// nothing happens; when it is down, slow or refuses our credentials the job warns once and goes on.
#pragma once

#include "etl/config/config.hpp"

#include <chrono>
#include <span>
#include <string>
#include <utility>

namespace etl::jobs {

// Refuses a redis_url the cache could never use (not a Redis URL, rediss://) with a ConfigError, so a
// job fails on it at start (78) rather than after its work. No-op without a redis_url.
void check_cache_config(const config::Config& cfg);

// SET key value EX ttl for every item in one pipelined round trip. Returns false (after one warning)
// when Redis could not take them; true when written or when no redis_url is configured.
bool write_cache(const config::Config& cfg, std::span<const std::pair<std::string, std::string>> items,
                 std::chrono::seconds ttl);

} // namespace etl::jobs
