#include "etl/redis/client.hpp"
#include "etl/util/secrets.hpp"

#include <catch2/catch.hpp>

using etl::redis::parse_redis_url;

TEST_CASE("redis URLs: host, port, db, password, unix sockets", "[unit]") {
    auto u = parse_redis_url("redis://127.0.0.1:6380/2");
    CHECK(u.host == "127.0.0.1");
    CHECK(u.port == 6380);
    CHECK(u.db == 2);
    CHECK(u.password.empty());
    u = parse_redis_url("redis://:s3cret-pass@cache.internal");
    CHECK(u.host == "cache.internal");
    CHECK(u.port == 6379);
    CHECK(u.password == "s3cret-pass");
    CHECK(etl::util::scrub("auth s3cret-pass") == "auth ***");
    u = parse_redis_url("redis://etl:pw-for-acl-user@h:1/0");
    CHECK(u.username == "etl");
    CHECK(u.password == "pw-for-acl-user");
    u = parse_redis_url("unix:///run/redis.sock?db=3");
    CHECK(u.unix_socket == "/run/redis.sock");
    CHECK(u.db == 3);
    CHECK_THROWS_AS(parse_redis_url("http://x"), etl::ConfigError);
    CHECK_THROWS_AS(parse_redis_url("redis://h:notaport"), etl::ConfigError);
    CHECK_THROWS_WITH(parse_redis_url("rediss://h:6380"), Catch::Contains("TLS"));
}
