#include "etl/redis/client.hpp"

#include "etl/util/secrets.hpp"

#include <curl/curl.h>
#include <fcntl.h>
#include <fmt/format.h>
#include <hiredis/hiredis.h>
#include <poll.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <climits>
#include <cstring>
#include <new>
#include <vector>

namespace etl::redis {
namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

struct ReplyDeleter {
    void operator()(redisReply* r) const noexcept { freeReplyObject(r); }
};
using Reply = std::unique_ptr<redisReply, ReplyDeleter>;

struct UrlDeleter {
    void operator()(CURLU* u) const noexcept { curl_url_cleanup(u); }
};
struct CurlFree {
    void operator()(char* s) const noexcept { curl_free(s); }
};

timeval to_timeval(milliseconds ms) {
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

// ---- URLs -------------------------------------------------------------------------------------------

bool allowed_in_userinfo(char ch) {
    // RFC 3986 unreserved, sub-delims and ':'.
    return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
           std::strchr("-._~!$&'()*+,;=:", ch) != nullptr;
}

bool is_hex(char ch) { return (ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'f') || (ch >= 'A' && ch <= 'F'); }

// The URL with its userinfo made valid for libcurl. Users write passwords as they are ("p@ss w/rd"), and
// the userinfo has always been everything before the URL's last '@', so characters a URL does not allow
// there are percent-encoded here; %XX escapes already written stay, for libcurl to decode.
std::string with_encoded_userinfo(std::string_view url, std::size_t authority) {
    const auto at = url.rfind('@');
    if (at == std::string_view::npos || at < authority) return std::string(url);
    std::string out(url.substr(0, authority));
    for (std::size_t i = authority; i < at; ++i) {
        const char ch = url[i];
        const bool escape = ch == '%' && i + 2 < at && is_hex(url[i + 1]) && is_hex(url[i + 2]);
        if (allowed_in_userinfo(ch) || escape) {
            out.push_back(ch);
        } else {
            out += fmt::format("%{:02X}", static_cast<unsigned>(static_cast<unsigned char>(ch)));
        }
    }
    out += url.substr(at);
    return out;
}

// One part of a parsed URL: nullopt when the URL does not have it; CURLUE_OK or the error.
CURLUcode url_part(CURLU* url, CURLUPart part, unsigned flags, std::optional<std::string>& out) {
    char* raw = nullptr;
    const CURLUcode rc = curl_url_get(url, part, &raw, flags);
    const std::unique_ptr<char, CurlFree> owned(raw);
    out.reset();
    switch (rc) {
    case CURLUE_OK: out = std::string(raw); return CURLUE_OK;
    case CURLUE_NO_USER:
    case CURLUE_NO_PASSWORD:
    case CURLUE_NO_PORT:
    case CURLUE_NO_QUERY:
    case CURLUE_NO_FRAGMENT: return CURLUE_OK;
    default: return rc;
    }
}

// ---- I/O under a deadline ---------------------------------------------------------------------------

milliseconds remaining(Clock::time_point deadline) {
    return std::max(milliseconds{0}, std::chrono::ceil<milliseconds>(deadline - Clock::now()));
}

// Sends the commands queued on `ctx` and reads `count` replies, polling the (non-blocking) socket against
// `deadline`: writing and reading interleave, so a large pipeline never waits on a full send buffer.
std::vector<Reply> exchange(redisContext* ctx, std::size_t count, Clock::time_point deadline, milliseconds timeout,
                            const std::string& where, std::string_view what) {
    std::vector<Reply> replies;
    replies.reserve(count);
    int written = 0;
    while (true) {
        while (replies.size() < count) {
            void* raw = nullptr;
            if (redisGetReplyFromReader(ctx, &raw) != REDIS_OK)
                throw RedisError(fmt::format("Redis at {}: unreadable reply to {}: {}", where, what, ctx->errstr));
            if (raw == nullptr) break;
            replies.emplace_back(static_cast<redisReply*>(raw));
        }
        if (replies.size() == count) return replies;
        const milliseconds left = remaining(deadline);
        if (left.count() == 0)
            throw RedisError(fmt::format("Redis at {}: no reply to {} within redis.timeout_ms ({} ms)", where, what,
                                         timeout.count()));
        pollfd pfd{};
        pfd.fd = ctx->fd;
        pfd.events = static_cast<short>(written != 0 ? POLLIN : POLLIN | POLLOUT);
        const int ready = ::poll(&pfd, 1, static_cast<int>(std::min<long long>(left.count(), INT_MAX)));
        if (ready < 0) {
            if (errno == EINTR) continue;
            throw RedisError(fmt::format("Redis at {}: waiting for {}: {}", where, what, std::strerror(errno)));
        }
        if (ready == 0) continue; // the deadline, checked above
        const auto failed = static_cast<short>(POLLERR | POLLHUP);
        if (written == 0 && (pfd.revents & static_cast<short>(POLLOUT | failed)) != 0 &&
            redisBufferWrite(ctx, &written) != REDIS_OK)
            throw RedisError(fmt::format("Redis at {}: cannot send {}: {}", where, what, ctx->errstr));
        if ((pfd.revents & static_cast<short>(POLLIN | failed)) != 0 && redisBufferRead(ctx) != REDIS_OK)
            throw RedisError(fmt::format("Redis at {}: no reply to {}: {}", where, what, ctx->errstr));
    }
}

} // namespace

void ContextDeleter::operator()(redisContext* c) const noexcept { redisFree(c); }

RedisUrl parse_redis_url(std::string_view url) {
    RedisUrl out;
    auto bad = [&](std::string_view why) {
        return ConfigError(fmt::format("redis_url '{}' {}: expected redis://[[user]:password@]host[:port][/db] or "
                                       "unix:///path[?db=N]",
                                       util::redact_url(url), why));
    };
    if (url.starts_with("unix://") || url.starts_with("redis+unix://")) {
        auto rest = url.substr(url.find("://") + 3);
        if (const auto q = rest.find("?db="); q != std::string_view::npos) {
            out.db = parse_int(rest.substr(q + 4), -1);
            rest = rest.substr(0, q);
        }
        if (rest.empty() || out.db < 0) throw bad("is not a socket path with an optional ?db=N");
        out.unix_socket = std::string(rest);
        return out;
    }
    if (url.starts_with("rediss://"))
        throw ConfigError("redis_url uses rediss:// (TLS), which this build cannot speak: its hiredis (0.14) has no "
                          "TLS support; put a TLS-terminating proxy such as stunnel in front of Redis and point "
                          "redis_url at it with redis://, or use redis:// on a trusted network");
    if (!url.starts_with("redis://")) throw bad("is not a redis:// URL");

    // Passwords as written count as secrets before anything can fail and quote them.
    for (const auto& secret : util::url_secrets(url)) util::register_secret(secret);
    const std::string normalized = with_encoded_userinfo(url, std::string_view("redis://").size());
    const std::unique_ptr<CURLU, UrlDeleter> parsed(curl_url());
    if (!parsed) throw std::bad_alloc();
    if (const auto rc = curl_url_set(parsed.get(), CURLUPART_URL, normalized.c_str(), CURLU_NON_SUPPORT_SCHEME);
        rc != CURLUE_OK)
        throw bad(fmt::format("is not a valid URL ({})", curl_url_strerror(rc)));

    std::optional<std::string> user, user_raw, password, password_raw, host, port, path, query, fragment;
    if (url_part(parsed.get(), CURLUPART_USER, 0, user_raw) != CURLUE_OK ||
        url_part(parsed.get(), CURLUPART_PASSWORD, 0, password_raw) != CURLUE_OK)
        throw bad("has an unreadable user or password");
    // The password as libcurl holds it and decoded: both are secrets, whichever form turns up in text.
    if (password_raw) util::register_secret(*password_raw);
    else if (user_raw) util::register_secret(*user_raw);
    if (url_part(parsed.get(), CURLUPART_USER, CURLU_URLDECODE, user) != CURLUE_OK ||
        url_part(parsed.get(), CURLUPART_PASSWORD, CURLU_URLDECODE, password) != CURLUE_OK)
        throw bad("has a user or password that does not decode (%00 is not allowed)");
    if (password) {
        out.username = user.value_or("");
        out.password = std::move(*password);
    } else if (user) {
        out.password = std::move(*user); // redis://password@host, as some clients accept
    }
    if (!out.password.empty()) util::register_secret(out.password);

    if (url_part(parsed.get(), CURLUPART_HOST, 0, host) != CURLUE_OK || !host || host->empty())
        throw bad("has no host");
    if (host->size() > 2 && host->front() == '[' && host->back() == ']') *host = host->substr(1, host->size() - 2);
    out.host = std::move(*host);
    if (url_part(parsed.get(), CURLUPART_PORT, 0, port) != CURLUE_OK) throw bad("has a bad port");
    if (port) out.port = parse_int(*port, -1);
    if (out.port <= 0 || out.port > 65535) throw bad("has a port outside 1..65535");
    if (url_part(parsed.get(), CURLUPART_PATH, 0, path) != CURLUE_OK) throw bad("has a bad path");
    const std::string_view db = path ? std::string_view(*path).substr(std::min<std::size_t>(1, path->size())) : "";
    out.db = db.empty() ? 0 : parse_int(db, -1);
    if (out.db < 0) throw bad("has a database that is not a number (/0, /1, ...)");
    if (url_part(parsed.get(), CURLUPART_QUERY, 0, query) != CURLUE_OK ||
        url_part(parsed.get(), CURLUPART_FRAGMENT, 0, fragment) != CURLUE_OK || query || fragment)
        throw bad("has a query or fragment, which redis:// URLs do not take");
    return out;
}

Client::Client(const std::string& url, milliseconds timeout) : m_timeout(timeout), m_deadline(Clock::now() + timeout) {
    const auto u = parse_redis_url(url);
    m_where = u.unix_socket.empty() ? fmt::format("{}:{}", u.host, u.port) : u.unix_socket;
    const auto tv = to_timeval(std::max(milliseconds{1}, remaining(m_deadline)));
    m_ctx.reset(u.unix_socket.empty() ? redisConnectWithTimeout(u.host.c_str(), u.port, tv)
                                      : redisConnectUnixWithTimeout(u.unix_socket.c_str(), tv));
    if (!m_ctx) throw RedisError(fmt::format("cannot connect to Redis at {}: out of memory", m_where));
    if (m_ctx->err) throw RedisError(fmt::format("cannot connect to Redis at {}: {}", m_where, m_ctx->errstr));
    // From here every read and write is polled against the deadline: the socket must never block.
    const int flags = ::fcntl(m_ctx->fd, F_GETFL);
    if (flags < 0 || ::fcntl(m_ctx->fd, F_SETFL, flags | O_NONBLOCK) < 0)
        throw RedisError(
            fmt::format("Redis at {}: cannot make the socket non-blocking: {}", m_where, std::strerror(errno)));
    m_ctx->flags &= ~REDIS_BLOCK; // so hiredis takes EAGAIN as "try again later", not as an error

    std::size_t count = 0;
    if (!u.password.empty()) {
        const int rc = u.username.empty()
                           ? redisAppendCommand(m_ctx.get(), "AUTH %b", u.password.data(), u.password.size())
                           : redisAppendCommand(m_ctx.get(), "AUTH %b %b", u.username.data(), u.username.size(),
                                                u.password.data(), u.password.size());
        if (rc != REDIS_OK) throw RedisError(fmt::format("Redis at {}: cannot queue AUTH", m_where));
        ++count;
    }
    if (u.db != 0) {
        if (redisAppendCommand(m_ctx.get(), "SELECT %d", u.db) != REDIS_OK)
            throw RedisError(fmt::format("Redis at {}: cannot queue SELECT", m_where));
        ++count;
    }
    if (count == 0) return;
    // AUTH and SELECT in one round trip: a refused AUTH also fails SELECT, and AUTH's error is reported.
    const auto replies = exchange(m_ctx.get(), count, m_deadline, m_timeout, m_where,
                                  u.password.empty() ? "SELECT" : (u.db != 0 ? "AUTH and SELECT" : "AUTH"));
    const char* const names[] = {u.password.empty() ? "SELECT" : "AUTH", "SELECT"};
    for (std::size_t i = 0; i < replies.size(); ++i) {
        if (replies[i]->type == REDIS_REPLY_ERROR)
            throw RedisError(util::scrub(fmt::format("Redis at {}: {} refused: {}", m_where, names[i],
                                                     std::string_view(replies[i]->str, replies[i]->len))));
    }
}

void Client::set_many(std::span<const std::pair<std::string, std::string>> items, std::chrono::seconds ttl) {
    std::vector<CacheEntry> entries;
    entries.reserve(items.size());
    for (const auto& [key, value] : items) entries.push_back({key, value, ttl});
    set_many(entries);
}

void Client::set_many(std::span<const CacheEntry> entries) {
    if (entries.empty()) return;
    for (const auto& e : entries) {
        const auto ttl_text = std::to_string(e.ttl.count());
        if (redisAppendCommand(m_ctx.get(), "SET %b %b EX %b", e.key.data(), e.key.size(), e.value.data(),
                               e.value.size(), ttl_text.data(), ttl_text.size()) != REDIS_OK)
            throw RedisError(fmt::format("Redis at {}: cannot queue SET: {}", m_where, m_ctx->errstr));
    }
    const auto replies = exchange(m_ctx.get(), entries.size(), m_deadline, m_timeout, m_where, "SET");
    for (const auto& r : replies) {
        if (r->type == REDIS_REPLY_ERROR)
            throw RedisError(fmt::format("Redis at {}: SET refused: {}", m_where, std::string_view(r->str, r->len)));
    }
}

std::optional<std::string> Client::get(const std::string& key) {
    if (redisAppendCommand(m_ctx.get(), "GET %b", key.data(), key.size()) != REDIS_OK)
        throw RedisError(fmt::format("Redis at {}: cannot queue GET: {}", m_where, m_ctx->errstr));
    const auto replies = exchange(m_ctx.get(), 1, m_deadline, m_timeout, m_where, "GET");
    const auto& r = replies.front();
    if (r->type == REDIS_REPLY_NIL) return std::nullopt;
    if (r->type != REDIS_REPLY_STRING)
        throw RedisError(fmt::format("Redis at {}: GET {} gave no string", m_where, key));
    return std::string(r->str, r->len);
}

} // namespace etl::redis
