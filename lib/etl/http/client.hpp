// libcurl adapter: many concurrent transfers over one multi handle (connection reuse, gzip), driven
// by the caller's loop. Raw CURL/CURLM handles never leave this folder.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace etl::http {

// Must run once per process before any transfer (not thread-safe); the entry function calls it.
void global_init();

struct Request {
    std::string url;
    std::vector<std::string> headers;            // "Name: value"; may hold keys: never logged
    std::chrono::seconds timeout{30};
};

struct Response {
    long status = 0;                             // HTTP status; 0 when the transfer itself failed
    std::string body;                            // decoded (gzip/deflate undone); empty when too large
    std::optional<std::chrono::seconds> retry_after;  // Retry-After, seconds or HTTP-date form (libcurl)
    std::string content_type;
    bool transport_error = false;                // timeout, refused, reset, truncated body
    bool timed_out = false;
    bool body_too_large = false;                 // the decoded body passed the limit: the transfer was cut
    std::string error;                           // libcurl's message for a transport error
    std::chrono::milliseconds elapsed{0};
};

// Runs transfers concurrently. Not thread-safe: one thread adds and polls; only wakeup() may be called
// from another thread.
class Multi {
public:
    using Callback = std::function<void(Response&&)>;

    // `max_body_bytes` bounds each response's decoded body: a transfer whose body grows past it is cut
    // off and completes with body_too_large (so a huge body or a gzip bomb costs at most that much memory).
    explicit Multi(std::size_t max_body_bytes = std::size_t{64} << 20);
    ~Multi();
    Multi(const Multi&) = delete;
    Multi& operator=(const Multi&) = delete;

    // Starts `request`; `done` runs inside poll() when it completes (successfully or not).
    void add(const Request& request, Callback done);
    // Drives transfers for up to `max_wait`, running completion callbacks. Returns at once when
    // something completed, and early when wakeup() is called; with nothing in flight it just waits.
    void poll(std::chrono::milliseconds max_wait);
    // Aborts every transfer in flight at once; their callbacks are not called.
    void cancel_all() noexcept;
    // Makes a poll() in progress (or the next one) return at once. Thread-safe.
    void wakeup() noexcept;
    [[nodiscard]] std::size_t in_flight() const noexcept;

private:
    struct Impl;
    std::unique_ptr<Impl> m_impl;
};

} // namespace etl::http
