// etl-latest [SYMBOL...]: latest prices into latest_prices (the fallback readers use when the cache is
// cold) and into Redis as latest_price:{SYMBOL}, in one pipelined round trip.
#include "etl/jobs/assets.hpp"
#include "etl/jobs/cache.hpp"
#include "etl/jobs/cli.hpp"
#include "etl/jobs/commands.hpp"
#include "etl/jobs/options.hpp"
#include "etl/jobs/pipeline.hpp"
#include "etl/jobs/run.hpp"
#include "etl/jobs/setup.hpp"
#include "etl/providers/fetcher.hpp"
#include "etl/util/clock.hpp"
#include "etl/util/error.hpp"
#include "etl/util/log.hpp"

#include <CLI/CLI.hpp>
#include <fmt/format.h>
#include <fmt/ranges.h>

#include <map>
#include <set>
#include <thread>

namespace etl::jobs {
namespace {

using namespace std::chrono;

// A provider clock a little ahead of ours is normal; an as-of time further ahead is a bad record.
constexpr seconds k_max_clock_skew{300};

} // namespace

int latest_main(const std::vector<std::string>& args) {
    return run_guarded(args.front(), [&]() -> int {
        CLI::App app{"Refresh latest prices in latest_prices and the Redis cache.", args.front()};
        SymbolOptions opts;
        CommonOptions common;
        add_symbol_options(app, opts, "refresh");
        add_common_options(app, common);
        if (auto rc = parse_cli(app, args)) return *rc;

        RunSpec run_spec;
        run_spec.job = "etl-latest";
        run_spec.symbols = normalize_symbols(opts.symbols);
        run_spec.forced = parse_class_flag(opts.asset_class);
        bool market_open = false;
        run_spec.before_store = [&](RunContext& run) -> std::optional<std::string> {
            market_open = run.calendar.is_open(run.now);
            if (opts.market_hours_only && !market_open &&
                only_equities_named(run.cfg, run_spec.symbols, run_spec.forced))
                return "market closed (NYSE); --market-hours-only: nothing to do";
            return std::nullopt;
        };
        run_spec.after_assets = [&](RunContext& run) -> std::optional<std::string> {
            if (opts.market_hours_only && !market_open) {
                drop_equities(run.assets);
                if (run.assets.empty()) return "nothing to do";
            }
            return std::nullopt;
        };

        run_spec.work = [&](RunContext& run) {
            const auto& cfg = run.cfg;
            const auto now = run.now;
            const auto& assets = run.assets;
            auto& totals = run.totals;
            auto* const store = run.store;
            // Extract: one fetch per symbol, or per batch where the provider takes many ids at once.
            Router router(cfg, now, &run.calendar);
            std::map<const providers::Provider*, std::vector<market::Asset>> by_provider;
            for (const auto& a : assets) by_provider[router.route(a).front()].push_back(a);
            std::vector<providers::FetchJob> jobs;
            std::map<std::string, std::vector<std::string>> symbols_of; // job label -> symbols
            // Polygon grouped daily jobs (label -> provider): their symbols that the grouped answers lack
            // (and all of them when a grouped request fails) go to the per-symbol fetch afterwards.
            std::map<std::string, const providers::Provider*> grouped;
            auto fail = [&](const std::string& symbol, const std::string& provider, providers::FailureKind kind,
                            const std::string& why) { totals.add_failure(symbol, provider, kind, why); };
            auto add_jobs = [&](const providers::Provider* provider, std::vector<providers::QuoteFetch> fetches,
                                const std::vector<std::string>& unserved) {
                for (auto& qf : fetches) {
                    providers::FetchJob job;
                    job.symbol = fmt::format("{}", fmt::join(qf.symbols, ","));
                    if (qf.whole_market) grouped[job.symbol] = provider;
                    job.attempts.push_back(std::move(qf.fetch));
                    symbols_of[job.symbol] = std::move(qf.symbols);
                    jobs.push_back(std::move(job));
                }
                for (const auto& s : unserved)
                    fail(s, std::string(provider->name()), providers::FailureKind::permanent,
                         fmt::format("no {} identifier in assets", provider->name()));
            };
            for (auto& [provider, group] : by_provider) {
                std::vector<std::string> unserved;
                auto fetches = provider->latest_quotes(group, unserved);
                add_jobs(provider, std::move(fetches), unserved);
            }
            const auto policy = fetch_policy(cfg);
            const auto rate_limits = shard_rate_limits(cfg, router.rate_limits(), totals.shard);
            // Symbols of grouped jobs to fetch one by one, by the provider that grouped them.
            std::map<const providers::Provider*, std::vector<std::string>> per_symbol;

            // Transform: every symbol gets a valid quote, a rejected record, or a failure.
            std::vector<market::Quote> quotes;
            std::vector<market::RejectedRecord> rejected;
            auto phase_start = steady_clock::now();
            auto phase_done = [&](const char* name) {
                const auto t = steady_clock::now();
                totals.timings.emplace_back(name, duration<double>(t - phase_start).count());
                phase_start = t;
            };
            auto on_done = [&](providers::FetchOutcome&& o) {
                const auto& wanted = symbols_of.at(o.symbol);
                const auto grouped_by = grouped.find(o.symbol);
                const bool is_grouped = grouped_by != grouped.end();
                for (const auto& [key, n] : o.responses) totals.provider_requests[key] += n;
                for (const auto& [provider, n] : o.provider_retries) totals.provider_retries[provider] += n;
                const auto rejected_before = rejected.size();
                rejected.insert(rejected.end(), std::make_move_iterator(o.batch.rejected.begin()),
                                std::make_move_iterator(o.batch.rejected.end()));
                if (o.failure == providers::FailureKind::interrupted) {
                    totals.symbols_interrupted += wanted.size();
                    return;
                }
                // A grouped request that failed for good (HTTP error, unreadable answer) costs its
                // symbols nothing: each is asked for on its own. A rejected key would fail those too.
                if (is_grouped && o.failure != providers::FailureKind::none &&
                    o.failure != providers::FailureKind::config) {
                    util::log_warn("{} whole-market answer failed ({}); asking for its {} symbols one by one",
                                   o.provider, o.error, wanted.size());
                    auto& list = per_symbol[grouped_by->second];
                    list.insert(list.end(), wanted.begin(), wanted.end());
                    return;
                }
                if (o.failure != providers::FailureKind::none) {
                    for (const auto& s : wanted) fail(s, o.provider, o.failure, o.error);
                    return;
                }
                for (const auto& s : wanted) {
                    const auto q =
                        std::find_if(o.quotes.begin(), o.quotes.end(), [&](const auto& x) { return x.symbol == s; });
                    if (q == o.quotes.end()) {
                        const bool has_rejects =
                            std::any_of(rejected.begin() + static_cast<std::ptrdiff_t>(rejected_before), rejected.end(),
                                        [&](const auto& rec) { return rec.symbol == s; });
                        if (!has_rejects && is_grouped) { // not in the grouped answers
                            per_symbol[grouped_by->second].push_back(s);
                        } else if (!has_rejects) { // the provider knows nothing of it
                            totals.add_no_data(s, o.provider,
                                               fmt::format("{} returned no price (unknown id?)", o.provider));
                        } else { // its newest record was rejected: a data problem, not an unknown id
                            fail(s, o.provider, providers::FailureKind::permanent,
                                 fmt::format("{} returned no valid price (see rejected_rows)", o.provider));
                        }
                        continue;
                    }
                    if (auto why = market::invalid_reason(*q, now, k_max_clock_skew); !why.empty()) {
                        rejected.push_back({q->symbol, q->source, market::to_cache_json(*q), why});
                        fail(s, o.provider, providers::FailureKind::permanent, why);
                        continue;
                    }
                    quotes.push_back(*q);
                }
            };
            providers::Fetcher(policy, rate_limits.requests_per_minute, rate_limits.first_slot)
                .run(std::move(jobs), on_done, stop_flag());
            // The per-symbol fetches of what the grouped answers lacked, after one interval of the
            // provider's rate limit: the first request of a new Fetcher goes at once, and the grouped
            // requests may have just used the last slot.
            // A stop before or during the pause reports them interrupted (the Fetcher does), never lost.
            if (!per_symbol.empty()) {
                jobs.clear();
                std::map<std::string, const market::Asset*> asset_of;
                for (const auto& a : assets) asset_of[a.symbol] = &a;
                double rpm = 0;
                for (auto& [provider, symbols] : per_symbol) {
                    std::vector<market::Asset> group;
                    for (const auto& s : symbols) group.push_back(*asset_of.at(s));
                    util::log_info("{}: {} symbol(s) not in the whole-market answers, asked one by one: {}",
                                   provider->name(), group.size(), fmt::join(symbols, ","));
                    std::vector<std::string> unserved;
                    auto fetches = provider->symbol_quotes(group, unserved);
                    add_jobs(provider, std::move(fetches), unserved);
                    if (const auto r = rate_limits.requests_per_minute.find(provider->name());
                        r != rate_limits.requests_per_minute.end())
                        rpm = std::max(rpm, r->second);
                }
                pause_one_interval(rpm);
                providers::Fetcher(policy, rate_limits.requests_per_minute, rate_limits.first_slot)
                    .run(std::move(jobs), on_done, stop_flag());
            }
            phase_done("fetch");
            if (stop_flag().load()) totals.interrupted = true;
            totals.symbols_ok = quotes.size();
            totals.bars_valid = quotes.size();
            totals.rows.rejected = rejected.size();

            // Load: the database first (the fallback must hold what the cache holds), then the cache.
            if (common.dry_run) return;
            if (!rejected.empty()) store->record_rejects(rejected, std::nullopt, totals.run_id);
            totals.rows += store->upsert_latest_prices(quotes);
            phase_done("database");
            std::vector<std::pair<std::string, std::string>> cache;
            cache.reserve(quotes.size());
            for (const auto& q : quotes)
                cache.emplace_back(fmt::format("latest_price:{}", q.symbol), market::to_cache_json(q));
            write_cache(cfg, cache, cfg.settings().redis.latest_ttl, totals);
            phase_done("cache");
        };
        return run_job(run_spec, args, common);
    });
}

} // namespace etl::jobs
