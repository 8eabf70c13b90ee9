#include "etl/jobs/cache.hpp"

#include "etl/redis/client.hpp"
#include "etl/util/log.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <set>
#include <vector>

namespace etl::jobs {

bool write_cache(const config::Config& cfg, std::span<const std::pair<std::string, std::string>> items,
                 std::chrono::seconds ttl, RunTotals& totals) {
    std::vector<redis::CacheEntry> entries;
    entries.reserve(items.size());
    for (const auto& [key, value] : items) entries.push_back({key, value, ttl});
    return write_cache(cfg, entries, totals);
}

bool write_cache(const config::Config& cfg, std::span<const redis::CacheEntry> entries, RunTotals& totals) {
    const auto& url = cfg.settings().redis.url;
    if (url.empty()) {
        util::log_debug("no redis_url configured: {} cache entries not written", entries.size());
        return true;
    }
    if (entries.empty()) return true;
    const auto say = [&](std::string what) {
        totals.cache = totals.cache.empty() ? std::move(what) : fmt::format("{}; {}", totals.cache, what);
    };
    try {
        redis::Client client(url, cfg.settings().redis.timeout);
        client.set_many(entries);
        // "TTL 1800 s", or "TTL 1800/172800 s" when the entries differ.
        std::set<std::int64_t> ttls;
        for (const auto& e : entries) ttls.insert(e.ttl.count());
        const auto ttl = fmt::format("{}", fmt::join(ttls, "/"));
        util::log_info("cached {} entries in Redis (TTL {} s)", entries.size(), ttl);
        say(fmt::format("ok ({} entr{}, TTL {} s)", entries.size(), entries.size() == 1 ? "y" : "ies", ttl));
        return true;
    } catch (const redis::RedisError& e) {
        util::log_warn("Redis cache not updated ({}); the database has the data, readers fall back to it", e.what());
        say(fmt::format("failed ({})", e.what()));
        return false;
    }
}

} // namespace etl::jobs
