#include "etl/redis/client.hpp"

#include "etl/util/secrets.hpp"

#include <fmt/format.h>
#include <hiredis/hiredis.h>

#include <charconv>

namespace etl::redis {
namespace {

struct ReplyDeleter {
    void operator()(redisReply* r) const noexcept { freeReplyObject(r); }
};
using Reply = std::unique_ptr<redisReply, ReplyDeleter>;

timeval to_timeval(std::chrono::milliseconds ms) {
    timeval tv{};
    tv.tv_sec = static_cast<decltype(tv.tv_sec)>(ms.count() / 1000);
    tv.tv_usec = static_cast<decltype(tv.tv_usec)>((ms.count() % 1000) * 1000);
    return tv;
}

int parse_int(std::string_view s, int fallback) {
    int v = fallback;
    const auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    return ec == std::errc{} && p == s.data() + s.size() ? v : fallback;
}

} // namespace

void ContextDeleter::operator()(redisContext* c) const noexcept { redisFree(c); }

RedisUrl parse_redis_url(std::string_view url) {
    RedisUrl out;
    auto bad = [&] {
        return ConfigError(fmt::format("redis_url '{}' is not redis://[:password@]host[:port][/db] or unix:///path",
                                       util::redact_url(url)));
    };
    if (url.starts_with("unix://") || url.starts_with("redis+unix://")) {
        auto rest = url.substr(url.find("://") + 3);
        if (const auto q = rest.find("?db="); q != std::string_view::npos) {
            out.db = parse_int(rest.substr(q + 4), -1);
            rest = rest.substr(0, q);
        }
        if (rest.empty() || out.db < 0) throw bad();
        out.unix_socket = std::string(rest);
        return out;
    }
    if (url.starts_with("rediss://"))
        throw ConfigError("redis_url uses rediss:// (TLS), which this build's hiredis does not support; use a local "
                          "TLS proxy (stunnel) or redis://");
    if (!url.starts_with("redis://")) throw bad();
    auto rest = url.substr(8);
    if (const auto at = rest.rfind('@'); at != std::string_view::npos) {
        const auto userinfo = rest.substr(0, at);
        rest = rest.substr(at + 1);
        if (const auto colon = userinfo.find(':'); colon != std::string_view::npos) {
            out.username = std::string(userinfo.substr(0, colon));
            out.password = std::string(userinfo.substr(colon + 1));
        } else {
            out.password = std::string(userinfo);  // redis://password@host, as some clients accept
        }
    }
    if (const auto slash = rest.find('/'); slash != std::string_view::npos) {
        const auto db = rest.substr(slash + 1);
        out.db = db.empty() ? 0 : parse_int(db, -1);
        rest = rest.substr(0, slash);
    }
    if (const auto colon = rest.rfind(':'); colon != std::string_view::npos) {
        out.port = parse_int(rest.substr(colon + 1), -1);
        rest = rest.substr(0, colon);
    }
    if (!rest.empty()) out.host = std::string(rest);
    if (out.port <= 0 || out.port > 65535 || out.db < 0) throw bad();
    if (!out.password.empty()) util::register_secret(out.password);
    return out;
}

Client::Client(const std::string& url, std::chrono::milliseconds timeout) {
    const auto u = parse_redis_url(url);
    const auto tv = to_timeval(timeout);
    m_where = u.unix_socket.empty() ? fmt::format("{}:{}", u.host, u.port) : u.unix_socket;
    m_ctx.reset(u.unix_socket.empty() ? redisConnectWithTimeout(u.host.c_str(), u.port, tv)
                                      : redisConnectUnixWithTimeout(u.unix_socket.c_str(), tv));
    if (!m_ctx) throw RedisError(fmt::format("cannot connect to Redis at {}: out of memory", m_where));
    if (m_ctx->err) throw RedisError(fmt::format("cannot connect to Redis at {}: {}", m_where, m_ctx->errstr));
    if (redisSetTimeout(m_ctx.get(), tv) != REDIS_OK)
        throw RedisError(fmt::format("cannot set a timeout on the Redis connection to {}", m_where));
    auto command = [&](const char* what, Reply r) {
        if (!r) throw RedisError(fmt::format("Redis at {}: {} failed: {}", m_where, what, m_ctx->errstr));
        if (r->type == REDIS_REPLY_ERROR)
            throw RedisError(util::scrub(fmt::format("Redis at {}: {} refused: {}", m_where, what,
                                                     std::string_view(r->str, r->len))));
    };
    if (!u.password.empty()) {
        if (u.username.empty())
            command("AUTH", Reply(static_cast<redisReply*>(redisCommand(m_ctx.get(), "AUTH %b", u.password.data(), u.password.size()))));
        else
            command("AUTH", Reply(static_cast<redisReply*>(redisCommand(m_ctx.get(), "AUTH %b %b", u.username.data(),
                                                                        u.username.size(), u.password.data(),
                                                                        u.password.size()))));
    }
    if (u.db != 0) command("SELECT", Reply(static_cast<redisReply*>(redisCommand(m_ctx.get(), "SELECT %d", u.db))));
}

void Client::set_many(std::span<const std::pair<std::string, std::string>> items, std::chrono::seconds ttl) {
    const auto ttl_text = std::to_string(ttl.count());
    for (const auto& [key, value] : items) {
        if (redisAppendCommand(m_ctx.get(), "SET %b %b EX %b", key.data(), key.size(), value.data(), value.size(),
                               ttl_text.data(), ttl_text.size()) != REDIS_OK)
            throw RedisError(fmt::format("Redis at {}: cannot queue SET: {}", m_where, m_ctx->errstr));
    }
    std::string first_error;
    for (std::size_t i = 0; i < items.size(); ++i) {
        void* raw = nullptr;
        if (redisGetReply(m_ctx.get(), &raw) != REDIS_OK)
            throw RedisError(fmt::format("Redis at {}: no reply to SET: {}", m_where, m_ctx->errstr));
        const Reply r(static_cast<redisReply*>(raw));
        if (r && r->type == REDIS_REPLY_ERROR && first_error.empty()) first_error = std::string(r->str, r->len);
    }
    if (!first_error.empty()) throw RedisError(fmt::format("Redis at {}: SET refused: {}", m_where, first_error));
}

std::optional<std::string> Client::get(const std::string& key) {
    const Reply r(static_cast<redisReply*>(redisCommand(m_ctx.get(), "GET %b", key.data(), key.size())));
    if (!r) throw RedisError(fmt::format("Redis at {}: GET failed: {}", m_where, m_ctx->errstr));
    if (r->type == REDIS_REPLY_NIL) return std::nullopt;
    if (r->type != REDIS_REPLY_STRING) throw RedisError(fmt::format("Redis at {}: GET {} gave no string", m_where, key));
    return std::string(r->str, r->len);
}

} // namespace etl::redis
