// providers.<name>.rate_limit_scope: the shards of a run that share an API key share its rate limit
// (scope "key", the default), or each keeps all of it (scope "process").
#include "etl/config/config.hpp"
#include "etl/providers/fetcher.hpp"
#include "etl/providers/registry.hpp"
#include "etl/util/error.hpp"

#include <catch2/catch.hpp>
#include <fmt/format.h>

#include <string>

using namespace etl;
using providers::RateLimitScope;

TEST_CASE("scope key gives each of N shards 1/N of the limit and says so", "[unit][rate_limit_scope]") {
    const auto r = providers::shard_rate_limit("polygon", 5, RateLimitScope::key, 4);
    CHECK(r.requests_per_minute == 1.25);
    CHECK(r.note == "polygon: rate limit 5/min shared by 4 shards → 1.25/min per shard (rate_limit_scope=key)");

    const auto third = providers::shard_rate_limit("coingecko", 30, RateLimitScope::key, 3);
    CHECK(third.requests_per_minute == 10);
    CHECK(third.note == "coingecko: rate limit 30/min shared by 3 shards → 10/min per shard (rate_limit_scope=key)");

    // A share below one request a minute stays exact (the Fetcher spaces requests 60/rpm seconds apart).
    CHECK(providers::shard_rate_limit("polygon", 5, RateLimitScope::key, 8).requests_per_minute == 0.625);
    CHECK(providers::shard_rate_limit("polygon", 5, RateLimitScope::key, 4096).requests_per_minute == 5.0 / 4096);
}

TEST_CASE("scope process keeps the whole limit in every shard and says so", "[unit][rate_limit_scope]") {
    const auto r = providers::shard_rate_limit("yahoo", 60, RateLimitScope::process, 4);
    CHECK(r.requests_per_minute == 60);
    CHECK(r.note == "yahoo: rate limit 60/min in each of 4 shards, not shared (rate_limit_scope=process)");
}

TEST_CASE("one shard keeps its limit and logs nothing; no limit stays none", "[unit][rate_limit_scope]") {
    for (const auto scope : {RateLimitScope::key, RateLimitScope::process}) {
        CAPTURE(providers::to_string(scope));
        for (const unsigned count : {0U, 1U}) {
            const auto r = providers::shard_rate_limit("polygon", 5, scope, count);
            CHECK(r.requests_per_minute == 5);
            CHECK(r.note.empty());
        }
        const auto unlimited = providers::shard_rate_limit("mock", 0, scope, 2);
        CHECK(unlimited.requests_per_minute == 0); // 0 = unlimited: never divided into a limit
        CHECK(unlimited.note.empty());
    }
}

TEST_CASE("rate_limit_scope parses key and process only", "[unit][rate_limit_scope]") {
    CHECK(providers::parse_rate_limit_scope("key") == RateLimitScope::key);
    CHECK(providers::parse_rate_limit_scope("process") == RateLimitScope::process);
    CHECK(providers::to_string(RateLimitScope::key) == "key");
    CHECK(providers::to_string(RateLimitScope::process) == "process");
    for (const auto* bad : {"", "Key", "keys", "shard", "process "}) {
        CAPTURE(bad);
        CHECK_FALSE(providers::parse_rate_limit_scope(bad));
    }
}

TEST_CASE("every provider has rate_limit_scope, default key; other values are config errors",
          "[unit][rate_limit_scope]") {
    const auto defaults = config::Config::from_values(providers::key_table(), {});
    for (const auto& row : providers::registry()) {
        CAPTURE(row.name);
        const auto key = fmt::format("providers.{}.rate_limit_scope", row.name);
        CHECK(defaults.get(key) == "key");
        const auto process = config::Config::from_values(providers::key_table(), {{key, "process"}});
        CHECK(process.get(key) == "process");
        CHECK_THROWS_AS(config::Config::from_values(providers::key_table(), {{key, "shard"}}), ConfigError);
        CHECK_THROWS_WITH(config::Config::from_values(providers::key_table(), {{key, "shard"}}),
                          Catch::Contains(fmt::format("{} = 'shard'", key)) && Catch::Contains("key or process"));
    }
}

TEST_CASE("shards sharing a key start one key-spacing apart, so together they keep one schedule",
          "[unit][rate_limit_scope]") {
    using std::chrono::milliseconds;
    // 120/min on the key: one request every 0.5 s in all; 4 shards each send every 2 s, offset 0.5 s.
    for (unsigned k = 0; k < 4; ++k) {
        CAPTURE(k);
        const auto s = providers::shard_rate_limit("polygon", 120, providers::RateLimitScope::key, 4, k);
        CHECK(s.requests_per_minute == 30);
        CHECK(std::chrono::duration_cast<milliseconds>(s.first_slot) == milliseconds{500 * k});
    }
    // A whole limit per process, one shard, or no limit: no offset.
    CHECK(providers::shard_rate_limit("polygon", 120, providers::RateLimitScope::process, 4, 3).first_slot.count() ==
          0);
    CHECK(providers::shard_rate_limit("polygon", 120, providers::RateLimitScope::key, 1, 0).first_slot.count() == 0);
    CHECK(providers::shard_rate_limit("polygon", 0, providers::RateLimitScope::key, 4, 3).first_slot.count() == 0);
}
