#include "etl/redis/client.hpp"
#include "etl/util/secrets.hpp"

#include <catch2/catch.hpp>

#include <algorithm>
#include <string>

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

TEST_CASE("redis URLs: user and password are percent-decoded, both forms are secrets", "[unit]") {
    auto u = parse_redis_url("redis://:p%40ss%20w%2Frd@127.0.0.1:6380/3");
    CHECK(u.password == "p@ss w/rd");
    CHECK(u.host == "127.0.0.1");
    CHECK(u.port == 6380);
    CHECK(u.db == 3);
    CHECK(etl::util::scrub("AUTH p@ss w/rd") == "AUTH ***");
    CHECK(etl::util::scrub("url redis://:p%40ss%20w%2Frd@h") == "url redis://:***@h");

    u = parse_redis_url("redis://etl%2Dbot:s%3Acret%25x@cache.internal");
    CHECK(u.username == "etl-bot");
    CHECK(u.password == "s:cret%x");

    // Written unencoded, as the old parser took them (the userinfo ends at the last '@'): still fine.
    u = parse_redis_url("redis://:raw@pass word@h:7000/1");
    CHECK(u.password == "raw@pass word");
    CHECK(u.host == "h");
    CHECK(u.port == 7000);
    CHECK(u.db == 1);
    CHECK(etl::util::scrub("raw@pass word") == "***");

    u = parse_redis_url("redis://only-a-password@h"); // some clients' form: the userinfo is the password
    CHECK(u.username.empty());
    CHECK(u.password == "only-a-password");

    u = parse_redis_url("redis://[::1]:6390");
    CHECK(u.host == "::1");
    CHECK(u.port == 6390);
    CHECK(u.db == 0);

    CHECK_THROWS_AS(parse_redis_url("redis://:bad%00pw@h"), etl::ConfigError);
    CHECK_THROWS_AS(parse_redis_url("redis://h:0"), etl::ConfigError);
    CHECK_THROWS_AS(parse_redis_url("redis://h/x"), etl::ConfigError);
    CHECK_THROWS_AS(parse_redis_url("redis://h/0?timeout=5"), etl::ConfigError);
    CHECK_THROWS_WITH(parse_redis_url("redis://:never-shown-pw@h:notaport"),
                      !Catch::Contains("never-shown-pw") && Catch::Contains("redis_url"));
}

TEST_CASE("redis URLs: rediss:// is refused with the fix named", "[unit]") {
    try {
        parse_redis_url("rediss://:tls-pw-1234@cache.example.com:6380/0");
        FAIL("rediss:// accepted");
    } catch (const etl::ConfigError& e) {
        const std::string what = e.what();
        CHECK(e.code() == etl::util::ExitCode::config);
        CHECK(what.find('\n') == std::string::npos);
        CHECK_THAT(what, Catch::Contains("rediss://") && Catch::Contains("TLS") && Catch::Contains("stunnel") &&
                             Catch::Contains("redis:// on a trusted network"));
        CHECK(what.find("tls-pw-1234") == std::string::npos);
    }
}

TEST_CASE("url_secrets: a percent-encoded password also in its decoded form", "[unit]") {
    const auto secrets = etl::util::url_secrets("redis://:p%40ss%20w%2Frd@h:6379/0");
    CHECK(std::find(secrets.begin(), secrets.end(), "p%40ss%20w%2Frd") != secrets.end());
    CHECK(std::find(secrets.begin(), secrets.end(), "p@ss w/rd") != secrets.end());
    const auto pg = etl::util::url_secrets("postgresql://etl:pg%23secret@db/market");
    CHECK(std::find(pg.begin(), pg.end(), "pg#secret") != pg.end());
}

TEST_CASE("url_secrets and redact_url: a raw Redis password with '/', '?' or '#' is found whole", "[unit]") {
    // parse_redis_url reads the userinfo up to the last '@', so these passwords work; they must be
    // secrets too, or `etl config show` and a parse error would print them.
    for (const std::string password : {"s3cr/et-pw", "s3cr?et-pw", "s3cr#et-pw", "p@ss w/rd#1"}) {
        INFO(password);
        const std::string url = "redis://:" + password + "@h:6379/0";
        const auto secrets = etl::util::url_secrets(url);
        CHECK(std::find(secrets.begin(), secrets.end(), password) != secrets.end());
        CHECK(etl::util::redact_url(url).find(password) == std::string::npos);
        const std::string bad_port = "redis://:" + password + "@h:63x9";
        CHECK(etl::util::redact_url(bad_port).find(password) == std::string::npos);
    }
}
