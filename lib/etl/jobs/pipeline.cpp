#include "etl/jobs/pipeline.hpp"

#include "etl/jobs/setup.hpp"
#include "etl/market/shard.hpp"
#include "etl/market/validate.hpp"
#include "etl/providers/joined_fetch.hpp"
#include "etl/providers/registry.hpp"
#include "etl/util/clock.hpp"
#include "etl/util/error.hpp"
#include "etl/util/log.hpp"

#include <fmt/format.h>

#include <condition_variable>
#include <deque>
#include <exception>
#include <mutex>
#include <set>
#include <thread>

namespace etl::jobs {
namespace {

// Finished symbols waiting for the loader. Bounded so a slow database holds the fetcher back instead
// of piling every symbol's history up in memory.
class OutcomeQueue {
public:
    explicit OutcomeQueue(std::size_t capacity) : m_capacity(capacity) {}

    void push(providers::FetchOutcome&& o) {
        std::unique_lock lock(m_mutex);
        m_space.wait(lock, [&] { return m_items.size() < m_capacity || m_abandoned; });
        if (m_abandoned) return;
        m_items.push_back(std::move(o));
        m_ready.notify_one();
    }
    void close() {
        const std::lock_guard lock(m_mutex);
        m_closed = true;
        m_ready.notify_all();
    }
    // The loader gave up (a database error): producers stop waiting.
    void abandon() {
        const std::lock_guard lock(m_mutex);
        m_abandoned = true;
        m_space.notify_all();
    }
    std::optional<providers::FetchOutcome> pop() {
        std::unique_lock lock(m_mutex);
        m_ready.wait(lock, [&] { return !m_items.empty() || m_closed; });
        if (m_items.empty()) return std::nullopt;
        auto o = std::move(m_items.front());
        m_items.pop_front();
        m_space.notify_one();
        return o;
    }

private:
    std::mutex m_mutex;
    std::condition_variable m_ready, m_space;
    std::deque<providers::FetchOutcome> m_items;
    std::size_t m_capacity;
    bool m_closed = false;
    bool m_abandoned = false;
};

// True when `error` is an etl::Error for an interrupted run (a statement cancelled by SIGINT/SIGTERM).
bool is_interrupted(const std::exception_ptr& error) {
    try {
        std::rethrow_exception(error);
    } catch (const Error& e) {
        return e.code() == util::ExitCode::interrupted;
    } catch (...) {
        return false;
    }
}

} // namespace

ShardLimits shard_rate_limits(const config::Config& cfg, std::map<std::string, double, std::less<>> rpm,
                              const std::string& shard) {
    const auto parsed = market::parse_shard(shard);
    const unsigned count = parsed ? parsed->count : 1;
    const unsigned index = parsed ? parsed->index : 0;
    ShardLimits out;
    for (auto& [name, limit] : rpm) {
        const auto scope =
            providers::parse_rate_limit_scope(cfg.get(fmt::format("providers.{}.rate_limit_scope", name)))
                .value_or(providers::RateLimitScope::key);
        auto share = providers::shard_rate_limit(name, limit, scope, count, index);
        // Once per process: a run builds a Fetcher per phase (grouped answers, refetches).
        static std::mutex said_mutex;
        static std::set<std::string, std::less<>> said;
        if (const std::lock_guard lock(said_mutex); !share.note.empty() && said.insert(share.note).second)
            util::log_info("{}", share.note);
        limit = share.requests_per_minute;
        if (share.first_slot.count() > 0) out.first_slot[name] = share.first_slot;
    }
    out.requests_per_minute = std::move(rpm);
    return out;
}

Router::Router(const config::Config& cfg, market::sys_seconds now, const market::TradingCalendar* calendar)
    : m_cfg(cfg), m_now(now), m_calendar(calendar), m_mock(cfg.settings().mock) {}

const providers::Provider& Router::provider(const std::string& name) {
    auto it = m_providers.find(name);
    if (it == m_providers.end()) {
        auto settings = provider_settings(m_cfg, name, m_now, m_calendar);
        m_rpm[name] = settings.requests_per_minute;
        it = m_providers.emplace(name, providers::make_provider(settings)).first;
    }
    return *it->second;
}

std::vector<const providers::Provider*> Router::route(const market::Asset& asset) {
    if (m_mock) return {&provider("mock")};
    std::vector<const providers::Provider*> out;
    const auto& primary = m_cfg.settings().routing.for_class(market::to_string(asset.asset_class));
    out.push_back(&provider(primary));
    const auto& fallback = m_cfg.settings().routing.fallback;
    if (!fallback.empty() && fallback != primary) out.push_back(&provider(fallback));
    return out;
}

std::map<std::string, double, std::less<>> Router::rate_limits() const { return m_rpm; }

providers::FetchPolicy fetch_policy(const config::Config& cfg) {
    providers::FetchPolicy policy;
    const auto& fetch = cfg.settings().fetch;
    policy.concurrency = fetch.concurrency;
    policy.max_retries = fetch.max_retries;
    policy.backoff_initial = fetch.backoff_initial;
    policy.backoff_max = fetch.backoff_max;
    policy.max_body_bytes = fetch.max_body_bytes;
    policy.max_retry_after = fetch.max_retry_after;
    return policy;
}

bool window_expects_bars(market::Timeframe timeframe, const store::Window& window, bool crypto,
                         const market::TradingCalendar* calendar, market::sys_seconds now) {
    using namespace std::chrono;
    if (window.to < window.from) return false;
    if (timeframe == market::Timeframe::day) {
        // Newest first: a window that expects bars almost always has a closed session near its end.
        for (auto d = floor<days>(window.to); d >= floor<days>(window.from); d -= days{1}) {
            if (crypto || !calendar) {
                const weekday wd{d};
                if ((crypto || (wd != Saturday && wd != Sunday)) && d + days{1} <= now) return true;
            } else if (const auto session = calendar->session_on(d); session && session->close <= now) {
                return true;
            }
        }
        return false;
    }
    if (crypto || !calendar) return window.from + hours{1} <= now;
    for (auto d = calendar->new_york_date(window.from); d <= calendar->new_york_date(window.to); d += days{1}) {
        const auto session = calendar->session_on(d);
        if (!session) continue;
        // The first hour bar holding a trade of this session inside the window must have ended.
        const auto first = std::max(window.from, session->open);
        if (first < std::min(window.to + hours{1}, session->close) && floor<hours>(first) + hours{1} <= now)
            return true;
    }
    return false;
}

void pause_one_interval(double requests_per_minute) {
    if (requests_per_minute <= 0) return;
    using namespace std::chrono;
    const auto until =
        steady_clock::now() + duration_cast<steady_clock::duration>(duration<double>(60.0 / requests_per_minute));
    while (!stop_flag().load() && steady_clock::now() < until) std::this_thread::sleep_for(milliseconds{50});
}

void run_pipeline(const config::Config& cfg, Router& router, PipelineSpec spec, store::Store* store,
                  RunTotals& totals) {
    std::vector<providers::FetchJob> jobs;
    jobs.reserve(spec.assets.size());
    std::map<std::string, store::Window, std::less<>> windows;
    std::map<std::string, bool, std::less<>> crypto; // symbol -> is crypto (trades every day)
    for (const auto& asset : spec.assets) {
        windows.emplace(asset.symbol, spec.window_of(asset));
        crypto.emplace(asset.symbol, asset.asset_class == market::AssetClass::crypto);
        providers::FetchJob job;
        job.symbol = asset.symbol;
        job.expects_bars = window_expects_bars(spec.timeframe, windows.at(asset.symbol), crypto.at(asset.symbol),
                                               router.calendar(), router.now());
        const auto routes = router.route(asset);
        // Daily history older than the routed provider's plan reaches: from the fallback, joined at the
        // reach (providers/joined_fetch). A daily fetch is daily_bars over the window, as make_fetch does.
        if (spec.timeframe == market::Timeframe::day) {
            const auto& w = windows.at(asset.symbol);
            const market::DateWindow dates{std::chrono::floor<std::chrono::days>(w.from),
                                           std::chrono::floor<std::chrono::days>(w.to)};
            if (auto plan = providers::plan_reach(asset, dates, routes)) {
                if (!plan->note.empty()) util::log_info("{}", plan->note);
                if (!plan->warning.empty()) util::log_warn("{}", plan->warning);
                if (plan->attempts.empty()) {
                    totals.add_failure(asset.symbol, std::string(routes.front()->name()),
                                       providers::FailureKind::permanent, plan->why);
                    util::log_warn("{}: not fetched: {}", asset.symbol, plan->why);
                    continue;
                }
                job.attempts = std::move(plan->attempts);
                jobs.push_back(std::move(job));
                continue;
            }
        }
        std::string why;
        for (const auto* p : routes) {
            std::string reason;
            if (auto f = spec.make_fetch(*p, asset, reason)) job.attempts.push_back(std::move(f));
            else why = reason;
        }
        if (job.attempts.empty()) {
            totals.add_failure(asset.symbol, "-", providers::FailureKind::permanent, why);
            util::log_warn("{}: skipped: {}", asset.symbol, why);
            continue;
        }
        jobs.push_back(std::move(job));
    }

    const auto policy = fetch_policy(cfg);
    auto limits = shard_rate_limits(cfg, router.rate_limits(), totals.shard);
    providers::Fetcher fetcher(policy, std::move(limits.requests_per_minute), std::move(limits.first_slot));

    // Two symbols' worth of finished work per transfer slot keeps the loader busy without holding
    // much history in memory.
    OutcomeQueue queue(2 * static_cast<std::size_t>(policy.concurrency));
    // A stop that came before this pipeline (a phase before it was interrupted) sends nothing.
    std::atomic<bool> stop{stop_flag().load()};
    std::exception_ptr fetch_error;
    const std::size_t total_jobs = jobs.size();
    std::thread worker([&] {
        try {
            // Validation runs here, on the fetch thread, so the loader thread only talks to the database.
            fetcher.run(
                std::move(jobs),
                [&](providers::FetchOutcome&& o) {
                    if (o.failure == providers::FailureKind::none) {
                        const auto& w = windows.at(o.symbol);
                        market::validate_batch(o.batch, w.from, w.to);
                    }
                    queue.push(std::move(o));
                },
                stop);
        } catch (...) {
            fetch_error = std::current_exception();
        }
        queue.close();
    });
    // The worker watches `stop`; signals and database errors both set it, and wake the worker so it
    // aborts its transfers at once instead of at its next poll.
    std::thread watcher([&] {
        while (!stop.load()) {
            if (stop_flag().load()) {
                stop.store(true);
                fetcher.wake();
            }
            std::this_thread::sleep_for(std::chrono::milliseconds{50});
        }
    });

    std::exception_ptr load_error;
    std::size_t done = 0;
    while (auto o = queue.pop()) {
        ++done;
        util::progress(done, total_jobs, o->symbol);
        for (const auto& [key, n] : o->responses) totals.provider_requests[key] += n;
        for (const auto& [provider, n] : o->provider_retries) totals.provider_retries[provider] += n;
        // Not loaded when the run is stopping or the symbol was never fetched: counted as not done
        // at the end (requested - ok - failed), never silently lost.
        if (load_error || stop_flag().load() || o->failure == providers::FailureKind::interrupted) continue;
        try {
            if (o->failure != providers::FailureKind::none) {
                totals.add_failure(o->symbol, o->provider, o->failure, o->error);
                totals.rows.rejected += o->batch.rejected.size();
                if (store) store->record_rejects(o->batch.rejected, spec.timeframe, totals.run_id);
                continue;
            }
            if (o->batch.bars.empty() && o->batch.rejected.empty()) {
                const auto& w = windows.at(o->symbol);
                const auto span =
                    spec.timeframe == market::Timeframe::day
                        ? fmt::format("{} .. {}", util::format_date(std::chrono::floor<std::chrono::days>(w.from)),
                                      util::format_date(std::chrono::floor<std::chrono::days>(w.to)))
                        : fmt::format("{} .. {}", util::format_instant(w.from), util::format_instant(w.to));
                if (window_expects_bars(spec.timeframe, w, crypto.at(o->symbol), router.calendar(), router.now())) {
                    auto why =
                        fmt::format("{} returned no bars for {}, which holds {} (unknown or delisted ticker?)",
                                    o->provider, span, crypto.at(o->symbol) ? "days it traded" : "closed sessions");
                    util::log_warn("{}: {}", o->symbol, why);
                    totals.add_no_data(o->symbol, o->provider, why);
                    continue;
                }
                util::log_info("{}: no bars for {}, which holds no closed session", o->symbol, span);
            }
            if (spec.before_load && !spec.before_load(o->symbol, o->batch.bars)) continue;
            totals.bars_valid += o->batch.bars.size();
            store::LoadStats stats;
            if (store) {
                stats = store->load_bars(o->symbol, spec.timeframe, windows.at(o->symbol), o->batch.bars,
                                         o->batch.rejected, totals.run_id);
            } else {
                stats.rejected = o->batch.rejected.size(); // a dry run writes nothing
            }
            totals.rows += stats;
            if (store && stats.inserted + stats.updated > 0) {
                const auto from = windows.at(o->symbol).from;
                auto [it, added] = totals.bars_changed_from.try_emplace(o->symbol, from);
                if (!added) it->second = std::min(it->second, from);
            }
            ++totals.symbols_ok;
            const auto bar_count = o->batch.bars.size();
            if (spec.on_loaded) spec.on_loaded(o->symbol, std::move(o->batch.bars));
            const auto n = [](auto v) { return static_cast<std::int64_t>(v); };
            util::log(util::LogLevel::info, "loaded",
                      {{"symbol", o->symbol},
                       {"provider", o->provider},
                       {"bars", n(bar_count)},
                       {"inserted", n(stats.inserted)},
                       {"updated", n(stats.updated)},
                       {"rejected", n(o->batch.rejected.size())},
                       {"skipped", n(o->skipped)},
                       {"requests", n(o->requests)},
                       {"retries", n(o->retries)}});
        } catch (...) {
            load_error = std::current_exception();
            // The symbol whose load failed (rolled back). A statement cancelled by SIGINT/SIGTERM is not a
            // failure of the symbol: it is counted as not done, like every symbol after it.
            if (!is_interrupted(load_error))
                totals.add_failure(o->symbol, o->provider, providers::FailureKind::permanent,
                                   "load failed; see the error below");
            stop.store(true);
            fetcher.wake();
            queue.abandon();
        }
    }
    stop.store(true);
    worker.join();
    watcher.join();
    util::progress_done();
    if (stop_flag().load()) totals.interrupted = true;
    // Symbols dropped from the queue after the loader gave up, or never fetched: not done.
    const auto accounted = totals.symbols_ok + totals.symbols_failed;
    totals.symbols_interrupted = accounted < totals.symbols_requested ? totals.symbols_requested - accounted : 0;
    if (load_error) std::rethrow_exception(load_error);
    if (fetch_error) std::rethrow_exception(fetch_error);
}

} // namespace etl::jobs
