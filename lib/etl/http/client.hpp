// libcurl adapter: many concurrent transfers over one multi handle (connection reuse, gzip), driven
// by the caller's loop. Raw CURL/CURLM handles never leave this folder.
#pragma once

#include "etl/http/transport.hpp"

#include <cstddef>
#include <memory>

namespace etl::http {

// Must run once per process before any transfer (not thread-safe); the entry function calls it.
void global_init();

// Runs transfers concurrently: the production Transport. Not thread-safe: one thread adds and polls; only
// wakeup() may be called from another thread.
class Multi final : public Transport {
public:
    // `max_body_bytes` bounds each response's decoded body: a transfer whose body grows past it is cut
    // off and completes with body_too_large (so a huge body or a gzip bomb costs at most that much memory).
    explicit Multi(std::size_t max_body_bytes = std::size_t{64} << 20);
    ~Multi() override;
    Multi(const Multi&) = delete;
    Multi& operator=(const Multi&) = delete;
    Multi(Multi&&) = delete;
    Multi& operator=(Multi&&) = delete;

    void add(const Request& request, Callback done) override;
    void poll(std::chrono::milliseconds max_wait) override;
    void cancel_all() noexcept override;
    void wakeup() noexcept override;
    [[nodiscard]] std::size_t in_flight() const noexcept override;

private:
    struct Impl;
    std::unique_ptr<Impl> m_impl;
};

} // namespace etl::http
