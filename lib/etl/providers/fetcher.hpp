// The Fetcher: runs many symbols' fetches concurrently over one libcurl multi handle, spacing each
// provider's requests to its rate limit, retrying 429/5xx/timeouts/bad bodies with exponential
// backoff and jitter (honouring Retry-After up to a cap), never retrying 400/401/403/404, and falling
// back to the next provider when one fails for a symbol. Providers share the transfer slots fairly: a
// symbol starts only when its provider may send at once, and providers take turns.
#pragma once

#include "etl/providers/provider.hpp"

#include <atomic>
#include <chrono>
#include <cstddef>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

namespace etl::http {
class Transport;
}

namespace etl::providers {

struct FetchPolicy {
    unsigned concurrency = 8; // symbols (and so transfers) in flight, all providers together
    unsigned max_retries = 5; // per request
    std::chrono::milliseconds backoff_initial{500};
    std::chrono::milliseconds backoff_max{60000};
    std::size_t max_body_bytes = std::size_t{64} << 20; // decoded body of one response; larger fails the symbol
    std::chrono::seconds max_retry_after{300};          // a longer Retry-After fails the provider for the run
};

// One symbol to fetch: attempts in order (the routed provider first, then the fallback).
struct FetchJob {
    std::string symbol;
    std::vector<std::unique_ptr<SymbolFetch>> attempts;
};

struct FetchOutcome {
    std::string symbol;
    std::string provider;              // the provider whose result this is (the last one tried on failure)
    market::BarBatch batch;            // on failure: rejects seen before the failure, no bars
    std::vector<market::Quote> quotes; // latest-price fetches
    FailureKind failure = FailureKind::none;
    std::string error; // one line, no secrets
    unsigned requests = 0;
    unsigned retries = 0;
    // Per provider tried, for the run's metrics: its responses by code (the HTTP status, "error" when the
    // transfer got none: refused, timeout, reset) and its retries. A transfer cancelled by a signal has no code.
    std::map<std::pair<std::string, std::string>, unsigned> responses; // {provider, code}
    std::map<std::string, unsigned, std::less<>> provider_retries;
    std::size_t skipped = 0;
};

class Fetcher {
public:
    // `requests_per_minute` maps provider name to its limit (absent or 0 = unlimited).
    Fetcher(FetchPolicy policy, std::map<std::string, double, std::less<>> requests_per_minute);

    // Runs every job; `on_done` is called on this thread as each symbol finishes (success or not).
    // Symbols start in turns across providers (of their first attempt), each only when its provider's
    // rate limit lets it send at once, so a provider waiting on its limit never holds the slots another
    // could use. When `stop` becomes true, transfers in flight are aborted, no new request starts, and
    // the symbols not finished are reported as interrupted. A config failure (401) also stops new work
    // (every later symbol would fail the same way), but lets transfers in flight complete.
    void run(std::vector<FetchJob> jobs, const std::function<void(FetchOutcome&&)>& on_done,
             const std::atomic<bool>& stop);
    // The same over `transport` (not owned; unit tests pass a scripted one), keeping time by its clock.
    // run() above sends through an http::Multi bounded by policy.max_body_bytes.
    void run(http::Transport& transport, std::vector<FetchJob> jobs, const std::function<void(FetchOutcome&&)>& on_done,
             const std::atomic<bool>& stop);

    // Wakes run() from any wait (network, rate limit, backoff) so it sees `stop` at once. Thread-safe;
    // a no-op when run() is not running.
    void wake() noexcept;

private:
    FetchPolicy m_policy;
    std::map<std::string, double, std::less<>> m_rpm;
    std::mutex m_transport_mutex;           // guards m_transport against run() ending while wake() uses it
    http::Transport* m_transport = nullptr; // run()'s transport while it runs
};

// The delay before retry number `attempt` (1-based): initial * 2^(attempt-1), capped at `max`, scaled
// by `jitter` in [0.5, 1.0]; at least `retry_after` when the server sent one.
std::chrono::milliseconds backoff_delay(unsigned attempt, std::chrono::milliseconds initial,
                                        std::chrono::milliseconds max, double jitter,
                                        std::optional<std::chrono::seconds> retry_after);

} // namespace etl::providers
