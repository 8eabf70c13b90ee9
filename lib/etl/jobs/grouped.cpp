#include "etl/jobs/grouped.hpp"

#include "etl/jobs/incremental.hpp"
#include "etl/jobs/setup.hpp"
#include "etl/util/clock.hpp"
#include "etl/util/log.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <thread>
#include <utility>

namespace etl::jobs {

using namespace std::chrono;

// The assets of one provider's one whole-market answer, and what was planned for them.
struct GroupedDaily::Group {
    const providers::Provider* provider = nullptr;
    std::vector<providers::GroupedAsset> served; // those the answers are asked for, from their span's start
    std::string label;                           // the Fetcher job's name
    std::unique_ptr<providers::SymbolFetch> fetch;
};

GroupedDaily::GroupedDaily(const config::Config& cfg, Router& router, std::span<const market::Asset> assets,
                           std::function<market::DateWindow(const market::Asset&)> span_of, std::string shard)
    : m_cfg(cfg), m_router(router), m_span_of(std::move(span_of)), m_shard(std::move(shard)) {
    if (router.calendar() == nullptr) return;
    std::map<std::pair<const providers::Provider*, std::string>, std::vector<const market::Asset*>> candidates;
    for (const auto& asset : assets) {
        const auto routed = router.route(asset);
        if (routed.empty()) continue;
        if (const auto market = routed.front()->grouped_market(asset); !market.empty())
            candidates[{routed.front(), std::string(market)}].push_back(&asset);
    }
    for (auto& [key, members] : candidates) {
        const auto& [provider, market] = key;
        const bool crypto = members.front()->asset_class == market::AssetClass::crypto;
        std::vector<sys_days> starts;
        starts.reserve(members.size());
        market::DateWindow whole{sys_days::max(), sys_days::min()};
        for (const auto* a : members) {
            const auto w = m_span_of(*a);
            starts.push_back(w.from);
            whole.from = std::min(whole.from, w.from);
            whole.to = std::max(whole.to, w.to);
        }
        const auto closed = closed_days(whole, crypto, *router.calendar(), router.now());
        const auto plan = plan_grouped(starts, closed);
        const auto name = provider->name();
        if (!plan.cut) {
            util::log_debug("{}: grouped daily answers would cost as many requests as one per symbol ({}): not used",
                            name, members.size());
            continue;
        }
        Group g;
        g.provider = provider;
        g.label = fmt::format("{} grouped daily ({})", name, market);
        for (const auto* a : members)
            if (const auto from = m_span_of(*a).from; from >= *plan.cut) g.served.push_back({*a, from});
        std::vector<sys_days> dates(std::lower_bound(closed.begin(), closed.end(), *plan.cut), closed.end());
        g.fetch = provider->grouped_daily_bars(g.served, dates);
        if (!g.fetch) continue;
        util::log_info("{}: {} of {} symbol(s) ({}) from the grouped daily answers of {} date(s) ({} .. {}): {} "
                       "request(s) in all instead of {}",
                       name, g.served.size(), members.size(), market, dates.size(), util::format_date(dates.front()),
                       util::format_date(dates.back()), plan.requests, members.size());
        m_providers.emplace(name);
        m_groups.push_back(std::move(g));
    }
    if (!m_groups.empty()) m_limits = shard_rate_limits(cfg, router.rate_limits(), m_shard);
}

GroupedDaily::~GroupedDaily() = default;

bool GroupedDaily::empty() const noexcept { return m_groups.empty(); }

bool GroupedDaily::waits(const market::Asset& asset) {
    const auto routed = m_router.route(asset);
    // Every grouped provider of its route may get a request of it (the fallback's too).
    bool wait = false;
    for (const auto* p : routed) {
        if (!m_providers.contains(p->name())) continue;
        ++m_routed[std::string(p->name())];
        wait = true;
    }
    return wait;
}

void GroupedDaily::fetch() {
    std::vector<providers::FetchJob> jobs;
    for (auto& g : m_groups) {
        providers::FetchJob job;
        job.symbol = g.label;
        job.attempts.push_back(std::move(g.fetch));
        jobs.push_back(std::move(job));
    }
    if (jobs.empty()) return;
    providers::Fetcher fetcher(fetch_policy(m_cfg), m_limits.requests_per_minute, m_limits.first_slot);
    // Signals (and abort()) reach this Fetcher as they reach the pipeline's: a watcher wakes it from any wait.
    std::atomic<bool> done{false};
    std::thread watcher([&] {
        bool woken = false;
        while (!done.load()) {
            if (!woken && (stop_flag().load() || m_stop.load())) {
                m_stop.store(true);
                fetcher.wake();
                woken = true;
            }
            std::this_thread::sleep_for(milliseconds{50});
        }
    });
    try {
        fetcher.run(
            std::move(jobs), [&](providers::FetchOutcome&& o) { m_outcomes.emplace(o.symbol, std::move(o)); }, m_stop);
    } catch (...) {
        done.store(true);
        watcher.join();
        throw;
    }
    done.store(true);
    watcher.join();
}

void GroupedDaily::abort() noexcept { m_stop.store(true); }

std::map<std::string, GroupedShare, std::less<>> GroupedDaily::shares(RunTotals& totals) {
    std::map<std::string, GroupedShare, std::less<>> out;
    std::map<std::string, std::size_t, std::less<>> kept_by; // provider -> symbols served
    for (auto& g : m_groups) {
        const auto found = m_outcomes.find(g.label);
        if (found == m_outcomes.end()) continue; // never fetched (a stop): the pipeline reports its symbols
        auto& o = found->second;
        for (const auto& [k, n] : o.responses) totals.provider_requests[k] += n;
        for (const auto& [provider, n] : o.provider_retries) totals.provider_retries[provider] += n;
        const auto name = std::string(g.provider->name());
        std::size_t kept = 0;
        if (o.failure == providers::FailureKind::interrupted) continue;
        if (o.failure != providers::FailureKind::none) {
            // Costs the symbols nothing: each is asked for on its own (a rejected key fails those too).
            util::log_warn("{}: the grouped daily answers failed ({}); asking for their {} symbol(s) one by one", name,
                           o.error, g.served.size());
        } else {
            std::map<std::string_view, const market::Asset*> served;
            for (const auto& a : g.served) served.emplace(a.asset.symbol, &a.asset);
            for (auto& bar : o.batch.bars) {
                const auto it = served.find(bar.symbol);
                if (it == served.end()) continue; // never: the parser keeps only the tickers asked for
                const auto w = m_span_of(*it->second);
                auto& share = out[it->second->symbol];
                if (bar.ts < sys_seconds{w.from} || bar.ts > sys_seconds{w.to}) ++share.skipped;
                else share.batch.bars.push_back(std::move(bar));
            }
            for (auto& r : o.batch.rejected) {
                if (served.contains(r.symbol)) out[r.symbol].batch.rejected.push_back(std::move(r));
            }
            // Neither a bar nor a rejected row inside its span: the answers do not hold it (a renamed
            // ticker, a listing the market does not carry); its own request tells data from no data.
            std::vector<std::string> lacking;
            for (const auto& [asset, from] : g.served) {
                const auto it = out.find(asset.symbol);
                if (it == out.end() || (it->second.batch.bars.empty() && it->second.batch.rejected.empty())) {
                    if (it != out.end()) out.erase(it);
                    lacking.push_back(asset.symbol);
                    continue;
                }
                it->second.provider = name;
                ++kept;
            }
            if (!lacking.empty()) {
                constexpr std::size_t k_shown = 10;
                const auto shown = std::min(lacking.size(), k_shown);
                util::log_info("{}: {} symbol(s) not in the grouped daily answers, asked one by one: {}{}", name,
                               lacking.size(),
                               fmt::join(lacking.begin(), lacking.begin() + static_cast<std::ptrdiff_t>(shown), ","),
                               lacking.size() > shown ? ",..." : "");
            }
            if (kept > o.requests) totals.requests_saved += kept - o.requests;
        }
        kept_by[name] += kept;
    }
    // The pipeline's Fetcher sends its first request at once: a provider that gets per-symbol requests
    // after its answers waits one interval first.
    double pause_rpm = 0; // the lowest such limit
    for (const auto& [name, routed] : m_routed) {
        const auto rpm = m_limits.requests_per_minute.find(name);
        if (kept_by[name] < routed && rpm != m_limits.requests_per_minute.end() && rpm->second > 0 &&
            (pause_rpm == 0 || rpm->second < pause_rpm))
            pause_rpm = rpm->second;
    }
    pause_one_interval(pause_rpm);
    return out;
}

} // namespace etl::jobs
