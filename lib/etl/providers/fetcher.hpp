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
#include <optional>
#include <string>
#include <string_view>
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
    // The window holds a closed session (or a crypto day): an attempt that completes with no bar and no
    // rejected record (an unknown or renamed ticker at that provider) hands the symbol to the next attempt,
    // the fallback provider, as a failure would.
    bool expects_bars = false;
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
    // `requests_per_minute` maps provider name to its limit (absent or 0 = unlimited). `first_slot` holds
    // a provider's first request back by its delay (ShardRateLimit::first_slot), so the shards of a run
    // that share a key interleave their requests instead of all sending at once.
    Fetcher(FetchPolicy policy, std::map<std::string, double, std::less<>> requests_per_minute,
            std::map<std::string, std::chrono::nanoseconds, std::less<>> first_slot = {});

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
    std::map<std::string, std::chrono::nanoseconds, std::less<>> m_first_slot;
    std::mutex m_transport_mutex;           // guards m_transport against run() ending while wake() uses it
    http::Transport* m_transport = nullptr; // run()'s transport while it runs
};

// Whose limit providers.<name>.requests_per_minute is. `key`: the API key's, so the N shards of a
// sharded run (--shard K/N, or a Kubernetes Indexed Job), which all send with one key, take 1/N of it
// each. `process`: each process's own (a key per shard, or a limit the provider counts per client).
enum class RateLimitScope { key, process };

// "key" or "process" (as providers.<name>.rate_limit_scope spells them); nullopt otherwise.
std::optional<RateLimitScope> parse_rate_limit_scope(std::string_view text) noexcept;
std::string_view to_string(RateLimitScope scope) noexcept;

// One provider's limit for one shard of a run, and the line that says so ("" when there is nothing to
// say: a run of one shard, or no limit).
struct ShardRateLimit {
    double requests_per_minute = 0; // 0 = unlimited
    std::string note;
    // With scope `key`: shard K's first request waits K * 60 s / requests_per_minute (the whole key's
    // spacing), so N shards started together send on the one schedule a single process would keep.
    std::chrono::nanoseconds first_slot{0};
};

// The limit shard_count shards of a run each keep of `provider`'s `requests_per_minute` (0 = unlimited):
// a 1/shard_count share with scope `key`, the whole of it with scope `process`; shard `shard_index`'s first
// request is offset as first_slot says. shard_count 0 counts as 1.
ShardRateLimit shard_rate_limit(std::string_view provider, double requests_per_minute, RateLimitScope scope,
                                unsigned shard_count, unsigned shard_index = 0);

// The delay before retry number `attempt` (1-based): initial * 2^(attempt-1), capped at `max`, scaled
// by `jitter` in [0.5, 1.0]; at least `retry_after` when the server sent one.
std::chrono::milliseconds backoff_delay(unsigned attempt, std::chrono::milliseconds initial,
                                        std::chrono::milliseconds max, double jitter,
                                        std::optional<std::chrono::seconds> retry_after);

} // namespace etl::providers
