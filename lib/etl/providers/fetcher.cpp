#include "etl/providers/fetcher.hpp"

#include "etl/util/log.hpp"
#include "etl/util/secrets.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <deque>
#include <random>
#include <thread>

namespace etl::providers {
namespace {

using Clock = std::chrono::steady_clock;

struct Active {
    FetchJob job;
    std::size_t attempt = 0;
    std::optional<http::Request> request;  // the request being sent or waiting to be (re)sent
    unsigned retries_this_request = 0;
    Clock::time_point not_before{};
    bool in_flight = false;
    FetchOutcome outcome;
};

struct ProviderPace {
    std::chrono::nanoseconds interval{0};
    Clock::time_point next_slot{};
};

std::string status_message(const http::Response& r) {
    if (r.transport_error) return r.error;
    if (const auto msg = provider_error_message(r.body)) return fmt::format("HTTP {}: {}", r.status, *msg);
    return fmt::format("HTTP {}", r.status);
}

} // namespace

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

Fetcher::Fetcher(FetchPolicy policy, std::map<std::string, double, std::less<>> requests_per_minute)
    : m_policy(policy), m_rpm(std::move(requests_per_minute)) {}

void Fetcher::run(std::vector<FetchJob> jobs, const std::function<void(FetchOutcome&&)>& on_done,
                  const std::atomic<bool>& stop) {
    http::Multi multi;
    std::map<std::string, ProviderPace, std::less<>> pace;
    for (const auto& [name, rpm] : m_rpm)
        if (rpm > 0) pace[name].interval = std::chrono::nanoseconds{static_cast<long long>(60e9 / rpm)};
    std::mt19937_64 rng{std::random_device{}()};
    std::uniform_real_distribution<double> jitter(0.5, 1.0);

    std::deque<FetchJob> waiting;
    for (auto& j : jobs) waiting.push_back(std::move(j));
    std::vector<std::unique_ptr<Active>> active;
    bool halted = false;  // a config failure: no new work

    auto finish = [&](Active& a) {
        a.outcome.symbol = a.job.symbol;
        on_done(std::move(a.outcome));
    };

    // Moves to the next attempt (fallback provider) or finishes with the failure.
    auto fail = [&](Active& a, FailureKind kind, std::string message) {
        auto& fetch = *a.job.attempts[a.attempt];
        util::log_warn("{}: {} {}", a.job.symbol, fetch.provider(), message);
        if (kind != FailureKind::config && a.attempt + 1 < a.job.attempts.size()) {
            // The failed provider's rejects stay recorded, whatever the fallback brings.
            auto& kept = a.outcome.batch.rejected;
            kept.insert(kept.end(), std::make_move_iterator(fetch.batch().rejected.begin()),
                        std::make_move_iterator(fetch.batch().rejected.end()));
            ++a.attempt;
            a.request.reset();
            a.retries_this_request = 0;
            util::log_info("{}: falling back to {}", a.job.symbol, a.job.attempts[a.attempt]->provider());
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
        auto& fetch = *a.job.attempts[a.attempt];
        const auto provider = std::string(fetch.provider());
        const bool success = !r.transport_error && r.status >= 200 && r.status < 300;
        std::optional<Failure> special;
        if (!success && !r.transport_error) special = fetch.classify_error(r);
        bool retry = false;
        std::string why;
        if (success) {
            if (auto ok = fetch.on_success(r.body); ok) {
                a.request.reset();
                a.retries_this_request = 0;
                return false;
            } else {
                retry = true;
                why = fmt::format("unreadable response: {}", ok.error().message);
            }
        } else if (special) {
            return fail(a, special->kind, special->message);
        } else if (r.transport_error || r.status == 429 || r.status >= 500 || r.status == 408) {
            retry = true;
            why = status_message(r);
        } else if (r.status == 401) {
            return fail(a, FailureKind::config,
                        fmt::format("{} rejected the API key ({}); check the key in the environment", provider,
                                    status_message(r)));
        } else {
            return fail(a, FailureKind::permanent, status_message(r));
        }
        if (retry) {
            if (a.retries_this_request >= m_policy.max_retries)
                return fail(a, FailureKind::transient,
                            fmt::format("gave up after {} retries: {}", a.retries_this_request, why));
            ++a.retries_this_request;
            ++a.outcome.retries;
            const auto delay = backoff_delay(a.retries_this_request, m_policy.backoff_initial, m_policy.backoff_max,
                                             jitter(rng), r.retry_after);
            a.not_before = Clock::now() + delay;
            // A 429 speaks for the whole provider: hold its other requests back too.
            if (r.status == 429) {
                auto& p = pace[provider];
                p.next_slot = std::max(p.next_slot, Clock::now() + (r.retry_after ? *r.retry_after : delay));
            }
            util::log_debug("{}: {} retry {} in {} ms ({})", a.job.symbol, provider, a.retries_this_request,
                            delay.count(), why);
        }
        return false;
    };

    while (true) {
        // Symbols finished inside the last poll's callbacks (their attempts were cleared) leave first,
        // so nothing below touches them again.
        std::erase_if(active, [](const auto& a) { return a->job.attempts.empty(); });
        const bool stopping = stop.load() || halted;
        // Admit new symbols while there is room: active symbols are bounded by the concurrency, which
        // also bounds memory (each holds its bars until the loader takes them).
        while (!stopping && !waiting.empty() && active.size() < m_policy.concurrency) {
            auto a = std::make_unique<Active>();
            a->job = std::move(waiting.front());
            waiting.pop_front();
            active.push_back(std::move(a));
        }
        const auto now = Clock::now();
        Clock::time_point wake = now + std::chrono::milliseconds{200};
        bool finished_any = false;  // a finished symbol frees a slot: admit the next one without waiting
        for (std::size_t i = 0; i < active.size();) {
            auto& a = *active[i];
            if (a.in_flight) {
                ++i;
                continue;
            }
            if (stopping) {
                if (a.outcome.failure == FailureKind::none) {
                    a.outcome.failure = FailureKind::interrupted;
                    a.outcome.error = halted ? "not fetched: an earlier configuration error stopped the run"
                                             : "not fetched: interrupted";
                    a.outcome.batch.bars.clear();
                }
                finish(a);
                active.erase(active.begin() + static_cast<std::ptrdiff_t>(i));
                continue;
            }
            auto& fetch = *a.job.attempts[a.attempt];
            if (!a.request) a.request = fetch.next_request();
            if (!a.request) {  // complete
                a.outcome.provider = fetch.provider();
                auto earlier_rejects = std::move(a.outcome.batch.rejected);  // from a provider that failed first
                a.outcome.batch = std::move(fetch.batch());
                a.outcome.batch.rejected.insert(a.outcome.batch.rejected.end(),
                                                std::make_move_iterator(earlier_rejects.begin()),
                                                std::make_move_iterator(earlier_rejects.end()));
                a.outcome.quotes = std::move(fetch.quotes());
                a.outcome.skipped += fetch.skipped();
                finish(a);
                active.erase(active.begin() + static_cast<std::ptrdiff_t>(i));
                finished_any = true;
                continue;
            }
            if (a.not_before > now) {
                wake = std::min(wake, a.not_before);
                ++i;
                continue;
            }
            if (multi.in_flight() >= m_policy.concurrency) {
                ++i;
                continue;
            }
            auto& p = pace[std::string(fetch.provider())];
            if (p.next_slot > now) {
                wake = std::min(wake, p.next_slot);
                ++i;
                continue;
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
            multi.add(*a.request, [&, ap](http::Response&& r) {
                if (on_response(*ap, std::move(r))) {
                    finish(*ap);
                    ap->job.attempts.clear();  // marks it finished; erased below
                }
            });
            ++i;
        }
        if (active.empty() && (waiting.empty() || stop.load() || halted)) {
            for (auto& j : waiting) {
                FetchOutcome o;
                o.symbol = j.symbol;
                o.failure = FailureKind::interrupted;
                o.error = halted ? "not fetched: an earlier configuration error stopped the run" : "not fetched: interrupted";
                on_done(std::move(o));
            }
            return;
        }
        const auto wait = std::chrono::duration_cast<std::chrono::milliseconds>(wake - Clock::now());
        if (finished_any && !waiting.empty() && multi.in_flight() == 0) continue;
        if (multi.in_flight() > 0) {
            multi.poll(std::clamp(wait, std::chrono::milliseconds{1}, std::chrono::milliseconds{200}));
        } else if (wait.count() > 0) {
            std::this_thread::sleep_for(std::min(wait, std::chrono::milliseconds{200}));
        }
    }
}

} // namespace etl::providers
