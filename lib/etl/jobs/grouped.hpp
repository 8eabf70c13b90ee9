// etl-historical's whole-market phase: where a provider answers one date for a whole market (Polygon's
// grouped daily), the symbols whose spans share few dates are fetched that way, one request per date
// instead of one per symbol. The answers are fetched while the pipeline loads the symbols of other
// providers; then the pipeline runs for the grouped providers' symbols, the served ones from their share.
#pragma once

#include "etl/jobs/pipeline.hpp"
#include "etl/jobs/totals.hpp"
#include "etl/market/range.hpp"

#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <span>
#include <string>

namespace etl::jobs {

// One symbol's share of whole-market answers.
struct GroupedShare {
    std::string provider;    // whose answers (the routed provider: "polygon")
    market::BarBatch batch;  // its bars inside its span, and its rejected rows
    std::size_t skipped = 0; // its bars of dates outside its span (a cut earlier than its span's start)
};

class GroupedDaily {
public:
    // Plans: for the assets whose routed provider has whole-market daily answers (Provider::grouped_market),
    // per provider and market, plan_grouped over the assets' spans (`span_of`; every span ends on its
    // class's window end); where that costs fewer requests than one per symbol, one fetch of the dates
    // from the cut on. Says what it chose, one line per market.
    GroupedDaily(const config::Config& cfg, Router& router, std::span<const market::Asset> assets,
                 std::function<market::DateWindow(const market::Asset&)> span_of, std::string shard);
    ~GroupedDaily();
    GroupedDaily(const GroupedDaily&) = delete;
    GroupedDaily& operator=(const GroupedDaily&) = delete;

    // True when no whole-market answer is worth asking for.
    [[nodiscard]] bool empty() const noexcept;
    // True when `asset`'s fetch must wait for the answers: a provider of its route asks for some, so
    // its requests would share that provider's rate limit with them. Ask for every asset before shares().
    [[nodiscard]] bool waits(const market::Asset& asset);

    // Fetches the answers (rate limits, retries and shard limits as in run_pipeline); safe on a thread of
    // its own while the pipeline runs for the assets that do not wait. Returns early on a stop (stop_flag)
    // or abort().
    void fetch();
    // Ends fetch() from another thread (the pipeline failed) within its watcher's 50 ms.
    void abort() noexcept;

    // After fetch(): each served symbol's share. A symbol the answers lack (no bars, no rejects: a renamed
    // ticker, a listing the market does not hold) and every symbol of a market whose answers failed is
    // not in it: the pipeline fetches it one by one. Tallies the answers' responses and retries into
    // `totals` (requests made) and the per-symbol requests they spared into totals.requests_saved; then
    // waits one request interval of a provider whose per-symbol fetches follow.
    std::map<std::string, GroupedShare, std::less<>> shares(RunTotals& totals);

private:
    struct Group;
    const config::Config& m_cfg;
    Router& m_router;
    std::function<market::DateWindow(const market::Asset&)> m_span_of;
    std::string m_shard; // "K/N" or ""
    std::vector<Group> m_groups;
    std::set<std::string, std::less<>> m_providers;           // names of the providers asked for answers
    std::map<std::string, std::size_t, std::less<>> m_routed; // provider -> waiting assets routed to it
    std::map<std::string, providers::FetchOutcome, std::less<>> m_outcomes;
    ShardLimits m_limits; // taken before fetch()'s thread starts: it reads no Router

    std::atomic<bool> m_stop{false}; // stop_flag() or abort()
};

} // namespace etl::jobs
