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
    std::string body;
    std::optional<std::chrono::seconds> retry_after;  // from a Retry-After header (seconds form)
    std::string content_type;
    bool transport_error = false;                // timeout, refused, reset, truncated body
    bool timed_out = false;
    std::string error;                           // libcurl's message for a transport error
    std::chrono::milliseconds elapsed{0};
};

// Runs transfers concurrently. Not thread-safe: one thread adds and polls.
class Multi {
public:
    using Callback = std::function<void(Response&&)>;

    Multi();
    ~Multi();
    Multi(const Multi&) = delete;
    Multi& operator=(const Multi&) = delete;

    // Starts `request`; `done` runs inside poll() when it completes (successfully or not).
    void add(const Request& request, Callback done);
    // Drives transfers for up to `max_wait`, running completion callbacks. Returns at once when
    // something completed.
    void poll(std::chrono::milliseconds max_wait);
    [[nodiscard]] std::size_t in_flight() const noexcept;

private:
    struct Impl;
    std::unique_ptr<Impl> m_impl;
};

} // namespace etl::http
