// The key table's types and ranges: Config::load checks every value against them before any work, and
// settings() holds the typed result.
#include "etl/config/config.hpp"
#include "etl/providers/registry.hpp"
#include "etl/util/error.hpp"

#include <catch2/catch.hpp>

#include <map>
#include <set>
#include <string>

using etl::config::Config;
using etl::config::ValueType;

namespace {

Config with(const std::map<std::string, std::string>& values) {
    return Config::from_values(etl::providers::key_table(), values);
}

} // namespace

TEST_CASE("a bad value is a ConfigError naming the key, the value, its origin and what it must be", "[unit]") {
    using Catch::Contains;
    CHECK_THROWS_WITH(with({{"redis.hourly_ttl_seconds", "0"}}),
                      Contains("redis.hourly_ttl_seconds = '0' (test) must be a whole number from 1 to 86400"));
    CHECK_THROWS_WITH(with({{"fetch.concurrency", "lots"}}),
                      Contains("fetch.concurrency = 'lots' (test) must be a whole number from 1 to 256"));
    CHECK_THROWS_WITH(with({{"fetch.max_body_bytes", "1023"}}), Contains("from 1024 to 4294967296"));
    CHECK_THROWS_WITH(with({{"validation.max_rejected_ratio", "2"}}),
                      Contains("validation.max_rejected_ratio = '2' (test) must be a number from 0 to 1"));
    CHECK_THROWS_WITH(with({{"validation.max_rejected_ratio", "nan"}}), Contains("must be a number from 0 to 1"));
    CHECK_THROWS_WITH(with({{"hourly.extended_hours", "maybe"}}),
                      Contains("hourly.extended_hours = 'maybe' (test) must be true or false"));
    CHECK_THROWS_WITH(with({{"log.level", "chatty"}}),
                      Contains("log.level = 'chatty' (test) must be debug, info, warn or error"));
    CHECK_THROWS_WITH(with({{"log.format", "xml"}}), Contains("log.format = 'xml' (test) must be text, json or auto"));
    CHECK_THROWS_WITH(with({{"providers.coingecko.plan", "free"}}),
                      Contains("providers.coingecko.plan = 'free' (test) must be demo or pro"));
    CHECK_THROWS_WITH(with({{"routing.crypto", "binance"}}),
                      Contains("routing.crypto = 'binance' (test) is not a provider; use one of polygon, coingecko, "
                               "yahoo, mock"));
    CHECK_THROWS_WITH(with({{"routing.stock", ""}}), Contains("is not a provider"));
    CHECK_THROWS_WITH(with({{"providers.yahoo.requests_per_minute", "-1"}}), Contains("from 0 to 1000000"));
    CHECK_THROWS_WITH(with({{"providers.coingecko.max_history_days", "1.5"}}), Contains("must be a whole number"));
    CHECK_THROWS_AS(with({{"timescaledb.retention_days", "-1"}}), etl::ConfigError);
}

TEST_CASE("values a key allows pass, and settings() holds them typed", "[unit]") {
    const auto cfg = with({{"fetch.concurrency", "256"},
                           {"fetch.timeout_seconds", "7"},
                           {"fetch.max_body_bytes", "1024"},
                           {"redis.hourly_ttl_seconds", "900"},
                           {"redis.timeout_ms", "300"},
                           {"validation.max_rejected_ratio", "1"},
                           {"hourly.extended_hours", "YES"},
                           {"log.level", "WARNING"},
                           {"log.format", "json"},
                           {"log.progress", ""},
                           {"routing.fallback", "yahoo"},
                           {"timescaledb.retention_days", "120"},
                           {"database.lock_timeout_seconds", "0"}});
    const auto& s = cfg.settings();
    CHECK(s.fetch.concurrency == 256);
    CHECK(s.fetch.timeout == std::chrono::seconds{7});
    CHECK(s.fetch.max_body_bytes == 1024);
    CHECK(s.redis.hourly_ttl == std::chrono::seconds{900});
    CHECK(s.redis.latest_ttl == std::chrono::seconds{180});
    CHECK(s.redis.timeout == std::chrono::milliseconds{300});
    CHECK(s.validation.max_rejected_ratio == 1.0);
    CHECK(s.hourly.extended_hours);
    CHECK(s.log.level == etl::util::LogLevel::warn);
    CHECK(s.log.format == etl::util::LogFormat::json);
    CHECK_FALSE(s.log.progress);
    CHECK(s.routing.fallback == "yahoo");
    CHECK(s.routing.for_class("crypto") == "coingecko");
    CHECK(s.routing.for_class("stock") == "polygon");
    CHECK(s.timescaledb.retention_days == 120);
    CHECK(s.timescaledb.compress_after_days == 30);
    CHECK(s.database.lock_timeout_seconds == 0);
    CHECK(s.database.url == "sqlite:market-etl.db");
    // A provider's keys are read typed with their own range, never one repeated at the call site.
    CHECK(cfg.get_int("providers.coingecko.max_history_days") == 365);
    CHECK(cfg.get_double("providers.polygon.requests_per_minute") == 5.0);
    CHECK_THROWS_AS(cfg.get_int("providers.polygon.requests_per_minute"), etl::ConfigError); // a number key
    CHECK_THROWS_AS(cfg.get_int("no.such.key"), etl::ConfigError);
    CHECK_FALSE(with({}).settings().log.format); // auto
}

TEST_CASE("the key table: unique keys, defaults its own checks accept, ranges where a type needs one", "[unit]") {
    const auto& table = etl::providers::key_table();
    std::set<std::string_view> seen;
    for (const auto& k : table.keys) {
        CAPTURE(k.key);
        CHECK(seen.insert(k.key).second);
        CHECK_FALSE(k.description.empty());
        if (k.type == ValueType::integer || k.type == ValueType::number) CHECK(k.min <= k.max);
        if (k.type == ValueType::choice) CHECK_FALSE(k.choices.empty());
        // Every default passes on its own (a key set to its default by a test is checked alone).
        CHECK_NOTHROW(with({{std::string(k.key), std::string(k.default_value)}}));
    }
    CHECK_NOTHROW(with({}));
}
