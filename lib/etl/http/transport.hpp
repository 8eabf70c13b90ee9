// The seam between the Fetcher and the network: start requests, drive them, learn when they complete,
// on one clock. http::Multi (libcurl) is the production transport; unit tests script one, with a fake
// clock, to test retries, fallback and pacing without sockets or waiting.
#pragma once

#include <chrono>
#include <cstddef>
#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace etl::http {

struct Request {
    std::string url;
    std::vector<std::string> headers; // "Name: value"; may hold keys: never logged
    std::chrono::seconds timeout{30};
};

// The zeroed room Multi leaves in every body's memory after its end (room_after_body): a JSON parser
// (simdjson) reads up to this far past the end of what it parses, and then needs no padded copy.
constexpr std::size_t k_body_room = 64;

// Leaves `body` k_body_room zero bytes of room after its end (its capacity), without changing its text.
void room_after_body(std::string& body);

struct Response {
    long status = 0; // HTTP status; 0 when the transfer itself failed
    // Decoded (gzip/deflate undone); empty when too large. Multi leaves room after it (room_after_body).
    std::string body;
    std::optional<std::chrono::seconds> retry_after; // Retry-After, seconds or HTTP-date form (libcurl)
    std::string content_type;
    bool transport_error = false; // timeout, refused, reset, truncated body
    bool timed_out = false;
    bool body_too_large = false; // the decoded body passed the limit: the transfer was cut
    std::string error;           // libcurl's message for a transport error
    std::chrono::milliseconds elapsed{0};
};

class Transport {
public:
    using Clock = std::chrono::steady_clock;
    using Callback = std::function<void(Response&&)>;

    virtual ~Transport() = default;

    // Starts `request`; `done` runs inside poll() when it completes (successfully or not).
    virtual void add(const Request& request, Callback done) = 0;
    // Drives transfers for up to `max_wait` (on now()'s clock), running completion callbacks. Returns at
    // once when something completed, and early when wakeup() is called; with nothing in flight it just waits.
    virtual void poll(std::chrono::milliseconds max_wait) = 0;
    // Aborts every transfer in flight at once; their callbacks are not called.
    virtual void cancel_all() noexcept = 0;
    // Makes a poll() in progress (or the next one) return at once. Thread-safe.
    virtual void wakeup() noexcept = 0;
    [[nodiscard]] virtual std::size_t in_flight() const noexcept = 0;
    // The time poll() waits by: the steady clock, or a test's fake clock that poll() advances.
    [[nodiscard]] virtual Clock::time_point now() const { return Clock::now(); }

protected:
    Transport() = default;
    Transport(const Transport&) = default;
    Transport& operator=(const Transport&) = default;
};

} // namespace etl::http
