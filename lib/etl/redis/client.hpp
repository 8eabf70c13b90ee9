// hiredis adapter: a connection from a redis:// URL (percent-decoded), AUTH and SELECT, and pipelined
// SET ... EX for many keys in one round trip, all under one deadline. Raw hiredis handles never leave
// this folder.
#pragma once

#include "etl/util/error.hpp"

#include <chrono>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>

struct redisContext;

namespace etl::redis {

// Redis unreachable, too slow, or refusing our credentials. The cache is never required for a job's
// success, so callers warn and go on; on its own it maps to 75.
class RedisError : public Error {
public:
    explicit RedisError(const std::string& message) : Error(util::ExitCode::temporary, message) {}
};

struct RedisUrl {
    std::string host = "127.0.0.1";
    int port = 6379;
    std::string unix_socket; // redis+unix:///path or unix:///path
    std::string username;    // Redis 6 ACL user; "" = default
    std::string password;    // percent-decoded
    int db = 0;
};

// Parses redis://[[user]:password@]host[:port][/db] (user and password percent-decoded, so
// redis://:p%40ss@host authenticates with "p@ss"; an unencoded '@' or space in the password is taken
// as written, as before) and unix:///path[?db=N]. Registers the password, as written and decoded, as a
// secret. Throws ConfigError for anything else, including rediss:// (this build's hiredis has no TLS).
RedisUrl parse_redis_url(std::string_view url);

struct ContextDeleter {
    void operator()(redisContext* c) const noexcept;
};

// One SET of a pipelined batch, with its own expiry.
struct CacheEntry {
    std::string key;
    std::string value;
    std::chrono::seconds ttl{};
};

class Client {
public:
    // Connects, authenticates and selects the database. `timeout` is one deadline for everything the
    // client does, together: connect, AUTH, SELECT and every later command with its reply (a Redis
    // that answers a byte at a time cannot stretch it). Throws RedisError; messages never contain the
    // password.
    Client(const std::string& url, std::chrono::milliseconds timeout);

    // SET key value EX ttl for every item, pipelined: the commands written while the replies are read.
    // Throws RedisError when any command fails or the deadline passes.
    void set_many(std::span<const std::pair<std::string, std::string>> items, std::chrono::seconds ttl);
    // The same, each entry with its own TTL.
    void set_many(std::span<const CacheEntry> entries);

    // GET, for checks and tests; nullopt when the key does not exist.
    std::optional<std::string> get(const std::string& key);

private:
    std::unique_ptr<redisContext, ContextDeleter> m_ctx;
    std::string m_where; // host:port for messages
    std::chrono::milliseconds m_timeout;
    std::chrono::steady_clock::time_point m_deadline;
};

} // namespace etl::redis
