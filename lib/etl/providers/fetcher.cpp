#include "etl/providers/fetcher.hpp"

#include "etl/http/client.hpp"
#include "etl/util/log.hpp"
#include "etl/util/secrets.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <deque>
#include <random>
#include <utility>

namespace etl::providers {
namespace {

using Clock = http::Transport::Clock;

struct Active {
    FetchJob job;
    std::size_t attempt = 0;
    std::optional<http::Request> request; // the request being sent or waiting to be (re)sent
    unsigned retries_this_request = 0;
    Clock::time_point not_before{};
    bool in_flight = false;
    bool finished = false; // on_done has run (inside a poll): erased on the next round
    FetchOutcome outcome;

    [[nodiscard]] SymbolFetch& fetch() const { return *job.attempts[attempt]; }
};

struct ProviderPace {
    std::chrono::nanoseconds interval{0};
    Clock::time_point next_slot{};
    std::string closed; // why this provider gets no more requests in this run; "" while it is open
};

// Symbols not started yet, of one provider (the provider of their first attempt).
struct ProviderQueue {
    std::string provider;
    std::deque<FetchJob> jobs;
};

std::string status_message(const http::Response& r) {
    if (r.transport_error) return r.error;
    if (const auto msg = provider_error_message(r.body)) return fmt::format("HTTP {}: {}", r.status, *msg);
    return fmt::format("HTTP {}", r.status);
}

} // namespace

std::optional<RateLimitScope> parse_rate_limit_scope(std::string_view text) noexcept {
    if (text == "key") return RateLimitScope::key;
    if (text == "process") return RateLimitScope::process;
    return std::nullopt;
}

std::string_view to_string(RateLimitScope scope) noexcept { return scope == RateLimitScope::key ? "key" : "process"; }

ShardRateLimit shard_rate_limit(std::string_view provider, double requests_per_minute, RateLimitScope scope,
                                unsigned shard_count, unsigned shard_index) {
    if (shard_count <= 1) return {requests_per_minute, {}};
    if (requests_per_minute <= 0) return {0, {}}; // unlimited: nothing to share
    if (scope == RateLimitScope::process)
        return {requests_per_minute,
                fmt::format("{}: rate limit {:g}/min in each of {} shards, not shared (rate_limit_scope=process)",
                            provider, requests_per_minute, shard_count)};
    const double share = requests_per_minute / shard_count;
    const auto offset = std::chrono::nanoseconds{
        static_cast<std::int64_t>(60e9 / requests_per_minute * static_cast<double>(shard_index % shard_count))};
    return {share,
            fmt::format("{}: rate limit {:g}/min shared by {} shards → {:g}/min per shard (rate_limit_scope=key)",
                        provider, requests_per_minute, shard_count, share),
            offset};
}

std::chrono::milliseconds backoff_delay(unsigned attempt, std::chrono::milliseconds initial,
                                        std::chrono::milliseconds max, double jitter,
                                        std::optional<std::chrono::seconds> retry_after) {
    const unsigned shift = std::min(attempt > 0 ? attempt - 1 : 0u, 20u);
    const auto exponential = std::chrono::milliseconds{initial.count() * (std::int64_t{1} << shift)};
    auto d = std::min(max, exponential);
    d = std::chrono::milliseconds{static_cast<std::chrono::milliseconds::rep>(static_cast<double>(d.count()) * jitter)};
    if (retry_after) d = std::max<std::chrono::milliseconds>(d, *retry_after);
    return d;
}

Fetcher::Fetcher(FetchPolicy policy, std::map<std::string, double, std::less<>> requests_per_minute,
                 std::map<std::string, std::chrono::nanoseconds, std::less<>> first_slot)
    : m_policy(policy), m_rpm(std::move(requests_per_minute)), m_first_slot(std::move(first_slot)) {}

void Fetcher::wake() noexcept {
    const std::lock_guard lock(m_transport_mutex);
    if (m_transport) m_transport->wakeup();
}

void Fetcher::run(std::vector<FetchJob> jobs, const std::function<void(FetchOutcome&&)>& on_done,
                  const std::atomic<bool>& stop) {
    http::Multi multi(m_policy.max_body_bytes);
    run(multi, std::move(jobs), on_done, stop);
}

void Fetcher::run(http::Transport& transport, std::vector<FetchJob> jobs,
                  const std::function<void(FetchOutcome&&)>& on_done, const std::atomic<bool>& stop) {
    // wake() may reach the transport from another thread only while run() is running.
    struct Published {
        Fetcher& fetcher;
        Published(Fetcher& f, http::Transport& t) : fetcher(f) {
            const std::lock_guard lock(fetcher.m_transport_mutex);
            fetcher.m_transport = &t;
        }
        ~Published() {
            const std::lock_guard lock(fetcher.m_transport_mutex);
            fetcher.m_transport = nullptr;
        }
        Published(const Published&) = delete;
        Published& operator=(const Published&) = delete;
    } published(*this, transport);

    std::map<std::string, ProviderPace, std::less<>> pace;
    for (const auto& [name, rpm] : m_rpm)
        if (rpm > 0) pace[name].interval = std::chrono::nanoseconds{static_cast<long long>(60e9 / rpm)};
    for (const auto& [name, delay] : m_first_slot)
        if (delay.count() > 0) pace[name].next_slot = transport.now() + delay;
    std::mt19937_64 rng{std::random_device{}()};
    std::uniform_real_distribution<double> jitter(0.5, 1.0);

    std::deque<ProviderQueue> waiting; // in order of first appearance (a deque: never relocated)
    std::size_t waiting_count = 0;
    for (auto& j : jobs) {
        if (j.attempts.empty()) { // nothing can serve it: never silently dropped
            FetchOutcome o;
            o.symbol = j.symbol;
            o.failure = FailureKind::permanent;
            o.error = "no provider can serve it";
            on_done(std::move(o));
            continue;
        }
        const auto name = j.attempts.front()->provider();
        auto q = std::find_if(waiting.begin(), waiting.end(), [&](const auto& x) { return x.provider == name; });
        if (q == waiting.end()) {
            waiting.push_back(ProviderQueue{std::string(name), {}});
            q = std::prev(waiting.end());
        }
        q->jobs.push_back(std::move(j));
        ++waiting_count;
    }
    std::size_t turn = 0; // the queue whose turn it is to start a symbol
    std::vector<std::unique_ptr<Active>> active;
    bool halted = false; // a config failure: no new work

    auto finish = [&](Active& a) {
        a.outcome.symbol = a.job.symbol;
        on_done(std::move(a.outcome));
    };

    // Moves to the next attempt (fallback provider) and returns false, or records the failure and
    // returns true (the symbol is finished).
    auto fail = [&](Active& a, FailureKind kind, std::string message) {
        auto& fetch = a.fetch();
        util::log_warn("{}: {} {}", a.job.symbol, fetch.provider(), message);
        if (kind != FailureKind::config && a.attempt + 1 < a.job.attempts.size()) {
            // The failed provider's rejects stay recorded, whatever the fallback brings.
            auto& kept = a.outcome.batch.rejected;
            kept.insert(kept.end(), std::make_move_iterator(fetch.batch().rejected.begin()),
                        std::make_move_iterator(fetch.batch().rejected.end()));
            ++a.attempt;
            a.request.reset();
            a.retries_this_request = 0;
            a.not_before = {};
            util::log_info("{}: falling back to {}", a.job.symbol, a.fetch().provider());
            return false;
        }
        a.outcome.provider = fetch.provider();
        a.outcome.failure = kind;
        a.outcome.error = util::scrub(std::move(message));
        a.outcome.batch.rejected.insert(a.outcome.batch.rejected.end(),
                                        std::make_move_iterator(fetch.batch().rejected.begin()),
                                        std::make_move_iterator(fetch.batch().rejected.end()));
        if (kind == FailureKind::config) halted = true;
        return true;
    };

    // Takes the outcome of one transfer; returns true when the symbol is finished.
    auto on_response = [&](Active& a, http::Response&& r) -> bool {
        a.in_flight = false;
        auto& fetch = a.fetch();
        const auto provider = std::string(fetch.provider());
        ++a.outcome.responses[{provider, r.transport_error ? std::string("error") : std::to_string(r.status)}];
        if (r.body_too_large) // the same request would bring the same body: never retried
            return fail(a, FailureKind::permanent,
                        fmt::format("response body larger than fetch.max_body_bytes = {} bytes (transfer cut off)",
                                    m_policy.max_body_bytes));
        const bool success = !r.transport_error && r.status >= 200 && r.status < 300;
        std::optional<Failure> special;
        if (!success && !r.transport_error) special = fetch.classify_error(r);
        std::string why;
        if (success) {
            const auto ok = fetch.on_success(r.body);
            if (ok) {
                a.request.reset();
                a.retries_this_request = 0;
                return false;
            }
            if (ok.error().permanent) return fail(a, FailureKind::permanent, ok.error().message);
            why = fmt::format("unreadable response: {}", ok.error().message);
        } else if (special) {
            return fail(a, special->kind, special->message);
        } else if (r.transport_error || r.status == 429 || r.status >= 500 || r.status == 408) {
            why = status_message(r);
        } else if (r.status == 401) {
            return fail(a, FailureKind::config,
                        fmt::format("{} rejected the API key ({}); check the key in the environment", provider,
                                    status_message(r)));
        } else {
            return fail(a, FailureKind::permanent, status_message(r));
        }
        // Retry, unless the provider asks for a longer pause than a run may hold its lock for: then it is
        // unavailable for the rest of this run (its other symbols fail without a request, or fall back).
        if (r.retry_after && *r.retry_after > m_policy.max_retry_after) {
            auto& p = pace[provider];
            p.closed = fmt::format("{} asked to retry after {} s (Retry-After), more than "
                                   "fetch.max_retry_after_seconds = {}",
                                   provider, r.retry_after->count(), m_policy.max_retry_after.count());
            return fail(a, FailureKind::transient, fmt::format("{} ({})", p.closed, why));
        }
        if (a.retries_this_request >= m_policy.max_retries)
            return fail(a, FailureKind::transient,
                        fmt::format("gave up after {} retries: {}", a.retries_this_request, why));
        ++a.retries_this_request;
        ++a.outcome.retries;
        ++a.outcome.provider_retries[provider];
        const auto delay = backoff_delay(a.retries_this_request, m_policy.backoff_initial, m_policy.backoff_max,
                                         jitter(rng), r.retry_after);
        a.not_before = transport.now() + delay;
        // A 429 speaks for the whole provider: hold its other requests back too.
        if (r.status == 429) {
            auto& p = pace[provider];
            p.next_slot = std::max(p.next_slot, transport.now() + (r.retry_after ? *r.retry_after : delay));
        }
        util::log_debug("{}: {} retry {} in {} ms ({})", a.job.symbol, provider, a.retries_this_request, delay.count(),
                        why);
        return false;
    };

    // Moves a symbol that is not in flight along: sends its next request, finishes it, or leaves it
    // waiting (lowering `wake` to when it may go on). Returns true when it has finished.
    auto step = [&](Active& a, Clock::time_point now, Clock::time_point& wake) -> bool {
        while (true) {
            auto& fetch = a.fetch();
            auto& p = pace[std::string(fetch.provider())];
            if (!p.closed.empty()) {
                if (fail(a, FailureKind::transient, fmt::format("not sent: {}", p.closed))) {
                    finish(a);
                    return true;
                }
                continue; // the fallback provider
            }
            if (!a.request) a.request = fetch.next_request();
            if (!a.request && a.job.expects_bars && a.attempt + 1 < a.job.attempts.size() &&
                fetch.batch().bars.empty() && fetch.batch().rejected.empty() && fetch.quotes().empty()) {
                static_cast<void>(fail(a, FailureKind::permanent,
                                       "returned no bars for a window that holds sessions (unknown or renamed "
                                       "ticker there?)"));
                continue; // the fallback provider
            }
            if (!a.request) { // complete
                a.outcome.provider = fetch.provider();
                auto earlier_rejects = std::move(a.outcome.batch.rejected); // from a provider that failed first
                a.outcome.batch = std::move(fetch.batch());
                a.outcome.batch.rejected.insert(a.outcome.batch.rejected.end(),
                                                std::make_move_iterator(earlier_rejects.begin()),
                                                std::make_move_iterator(earlier_rejects.end()));
                a.outcome.quotes = std::move(fetch.quotes());
                a.outcome.skipped += fetch.skipped();
                finish(a);
                return true;
            }
            if (a.not_before > now) {
                wake = std::min(wake, a.not_before);
                return false;
            }
            if (p.next_slot > now) {
                wake = std::min(wake, p.next_slot);
                return false;
            }
            if (p.interval.count() > 0) {
                // From the previous slot when only a little late (no drift over a long run), from now
                // after an idle spell (no burst to "catch up").
                const auto base = now - p.next_slot < p.interval ? p.next_slot : now;
                p.next_slot = base + p.interval;
            }
            a.in_flight = true;
            ++a.outcome.requests;
            util::log_debug("{}: GET {}", a.job.symbol, util::redact_url(a.request->url));
            Active* ap = &a;
            transport.add(*a.request, [&, ap](http::Response&& r) {
                if (on_response(*ap, std::move(r))) {
                    finish(*ap);
                    ap->finished = true;
                }
            });
            return false;
        }
    };

    // The queue that may start a symbol now: the next one in turn that has symbols, whose provider may
    // send at once (a closed provider's symbols fail at once), and that holds fewer started symbols than
    // its share: the slots less one for every other provider with symbols waiting, so no provider takes
    // them all. Lowers `wake` to when a provider held back by its rate limit may send. Null when none.
    auto next_queue = [&](Clock::time_point now, Clock::time_point& wake) -> ProviderQueue* {
        const auto with_work = static_cast<std::size_t>(
            std::count_if(waiting.begin(), waiting.end(), [](const auto& q) { return !q.jobs.empty(); }));
        const std::size_t others = with_work > 0 ? with_work - 1 : 0;
        const std::size_t share = m_policy.concurrency > others ? m_policy.concurrency - others : 1;
        for (std::size_t k = 0; k < waiting.size(); ++k) {
            const std::size_t i = (turn + k) % waiting.size();
            auto& q = waiting[i];
            if (q.jobs.empty()) continue;
            const auto& p = pace[q.provider];
            if (p.closed.empty() && p.next_slot > now) {
                wake = std::min(wake, p.next_slot);
                continue;
            }
            const auto started =
                static_cast<std::size_t>(std::count_if(active.begin(), active.end(), [&](const auto& a) {
                    return a->fetch().provider() == q.provider;
                }));
            if (started >= share) continue;
            turn = (i + 1) % waiting.size();
            return &q;
        }
        return nullptr;
    };

    // With nothing in flight: what holds the next symbol back for 2 s or more (a rate limit, a retry's
    // delay), for the progress bar, so a long wait does not look like a hang. "" when nothing does.
    auto held_back = [&](Clock::time_point now) -> std::string {
        if (transport.in_flight() > 0) return {};
        Clock::time_point until = Clock::time_point::max();
        std::string why;
        const auto consider = [&](Clock::time_point t, std::string_view provider, bool retry) {
            if (t > now && t < until) {
                until = t;
                why = fmt::format("{} {}", provider, retry ? "retry" : "rate limit");
            }
        };
        const auto slot = [&](std::string_view provider) {
            const auto p = pace.find(provider);
            return p == pace.end() ? Clock::time_point{} : p->second.next_slot;
        };
        for (const auto& a : active) {
            if (a->in_flight || a->finished) continue;
            const auto provider = a->fetch().provider();
            const auto next = slot(provider);
            consider(std::max(a->not_before, next), provider, a->not_before > next);
        }
        for (const auto& q : waiting)
            if (!q.jobs.empty()) consider(slot(q.provider), q.provider, false);
        if (until == Clock::time_point::max()) return {};
        const auto secs = std::chrono::ceil<std::chrono::seconds>(until - now).count();
        return secs < 2 ? std::string{} : fmt::format("(waiting {} s: {})", secs, why);
    };

    auto not_fetched = [&] {
        return halted ? "not fetched: an earlier configuration error stopped the run" : "not fetched: interrupted";
    };

    while (true) {
        // Symbols finished inside the last poll's callbacks leave first, so nothing below touches them again.
        std::erase_if(active, [](const auto& a) { return a->finished; });
        const bool interrupted = stop.load();
        const bool stopping = interrupted || halted;
        if (interrupted && transport.in_flight() > 0) {
            // A signal does not wait for replies (a slow one could take the whole timeout).
            transport.cancel_all();
            for (auto& a : active) a->in_flight = false;
        }
        const auto now = transport.now();
        auto wake = now + std::chrono::milliseconds{200};
        for (std::size_t i = 0; i < active.size();) {
            auto& a = *active[i];
            bool done = false;
            if (a.in_flight) {
                done = false;
            } else if (stopping) {
                if (a.outcome.failure == FailureKind::none) {
                    a.outcome.failure = FailureKind::interrupted;
                    a.outcome.error = not_fetched();
                    a.outcome.batch.bars.clear();
                }
                finish(a);
                done = true;
            } else {
                done = step(a, now, wake);
            }
            if (done) active.erase(active.begin() + static_cast<std::ptrdiff_t>(i));
            else ++i;
        }
        // Start new symbols while there is room: started symbols are bounded by the concurrency, which
        // also bounds memory (each holds its bars until the loader takes them).
        while (!stopping && active.size() < m_policy.concurrency) {
            auto* q = next_queue(now, wake);
            if (!q) break;
            auto a = std::make_unique<Active>();
            a->job = std::move(q->jobs.front());
            q->jobs.pop_front();
            --waiting_count;
            auto& started = *a;
            active.push_back(std::move(a));
            if (step(started, now, wake)) active.pop_back();
        }
        if (active.empty() && (waiting_count == 0 || stopping)) {
            for (auto& q : waiting) {
                for (auto& j : q.jobs) {
                    FetchOutcome o;
                    o.symbol = j.symbol;
                    o.failure = FailureKind::interrupted;
                    o.error = not_fetched();
                    on_done(std::move(o));
                }
            }
            util::progress_note("");
            return;
        }
        util::progress_note(held_back(now));
        const auto wait = std::chrono::duration_cast<std::chrono::milliseconds>(wake - transport.now());
        transport.poll(std::clamp(wait, std::chrono::milliseconds{1}, std::chrono::milliseconds{200}));
    }
}

} // namespace etl::providers
