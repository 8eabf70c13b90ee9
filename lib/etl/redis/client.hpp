// hiredis adapter: a connection with connect/command timeouts, AUTH and SELECT from a redis:// URL,
// and pipelined SET ... EX for many keys in one round trip. Raw hiredis handles never leave this folder.
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
    std::string unix_socket;  // redis+unix:///path or unix:///path
    std::string username;     // Redis 6 ACL user; "" = default
    std::string password;
    int db = 0;
};

// Parses redis://[[user]:password@]host[:port][/db], unix:///path[?db=N]. Throws ConfigError.
RedisUrl parse_redis_url(std::string_view url);

struct ContextDeleter {
    void operator()(redisContext* c) const noexcept;
};

class Client {
public:
    // Connects, authenticates and selects the database; `timeout` bounds the connect and every
    // command. Throws RedisError; messages never contain the password.
    Client(const std::string& url, std::chrono::milliseconds timeout);

    // SET key value EX ttl for every item, pipelined: all commands written, then all replies read.
    // Throws RedisError when any command fails.
    void set_many(std::span<const std::pair<std::string, std::string>> items, std::chrono::seconds ttl);

    // GET, for checks and tests; nullopt when the key does not exist.
    std::optional<std::string> get(const std::string& key);

private:
    std::unique_ptr<redisContext, ContextDeleter> m_ctx;
    std::string m_where;  // host:port for messages
};

} // namespace etl::redis
