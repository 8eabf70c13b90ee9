#include "etl/jobs/cache.hpp"

#include "etl/redis/client.hpp"
#include "etl/util/log.hpp"

#include <fmt/format.h>

namespace etl::jobs {

bool write_cache(const config::Config& cfg, std::span<const std::pair<std::string, std::string>> items,
                 std::chrono::seconds ttl, RunTotals& totals) {
    const auto& url = cfg.settings().redis.url;
    if (url.empty()) {
        util::log_debug("no redis_url configured: {} cache entries not written", items.size());
        return true;
    }
    if (items.empty()) return true;
    try {
        redis::Client client(url, cfg.settings().redis.timeout);
        client.set_many(items, ttl);
        util::log_info("cached {} entries in Redis (TTL {} s)", items.size(), ttl.count());
        totals.cache =
            fmt::format("ok ({} entr{}, TTL {} s)", items.size(), items.size() == 1 ? "y" : "ies", ttl.count());
        return true;
    } catch (const redis::RedisError& e) {
        util::log_warn("Redis cache not updated ({}); the database has the data, readers fall back to it", e.what());
        totals.cache = fmt::format("failed ({})", e.what());
        return false;
    }
}

} // namespace etl::jobs
