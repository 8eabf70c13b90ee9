// etl-historical RANGE [SYMBOL...]: daily bars for a chart range into price_bars.
#include "etl/jobs/assets.hpp"
#include "etl/jobs/cache.hpp"
#include "etl/jobs/cli.hpp"
#include "etl/jobs/commands.hpp"
#include "etl/jobs/derive.hpp"
#include "etl/jobs/grouped.hpp"
#include "etl/jobs/incremental.hpp"
#include "etl/jobs/options.hpp"
#include "etl/jobs/pipeline.hpp"
#include "etl/jobs/run.hpp"
#include "etl/jobs/setup.hpp"
#include "etl/market/range.hpp"
#include "etl/market/symbol.hpp"
#include "etl/util/clock.hpp"
#include "etl/util/error.hpp"
#include "etl/util/log.hpp"

#include <CLI/CLI.hpp>
#include <date/tz.h>
#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <map>
#include <thread>

namespace etl::jobs {
namespace {

using namespace std::chrono;

struct HistoricalArgs {
    std::string range;
    std::vector<std::string> symbols;
    std::string from;
    std::string to;
    std::string asset_class;
    bool after_close = false;
    bool full = false;
};

// What the command line asks for before "today" is known: a range and/or --from/--to.
struct WindowRequest {
    std::optional<market::Range> range;
    std::optional<sys_days> from;
    std::optional<sys_days> to;
};

WindowRequest parse_window(const HistoricalArgs& a) {
    WindowRequest w;
    if (!a.range.empty()) {
        w.range = market::parse_range(a.range);
        if (!w.range) throw UsageError(fmt::format("unknown range '{}'; use one of {}", a.range, market::range_list()));
    }
    if (!a.from.empty()) w.from = util::parse_date_flag("--from", a.from);
    if (!a.to.empty()) w.to = util::parse_date_flag("--to", a.to);
    if (w.from && w.to && *w.from > *w.to)
        throw UsageError(
            fmt::format("--from {} is after --to {}; swap them", util::format_date(*w.from), util::format_date(*w.to)));
    return w;
}

// The window of an asset whose market's today is `today`: the range ending today (or just today),
// --from/--to replacing its ends, and never past today: a later session has not opened.
market::DateWindow window_on(const WindowRequest& w, sys_days today) {
    auto d = w.range ? market::window_for(*w.range, today) : market::DateWindow{today, today};
    if (w.from) d.from = *w.from;
    d.to = std::min(w.to.value_or(today), today);
    return d;
}

bool is_empty(const market::DateWindow& w) { return w.from > w.to; }

bool is_crypto(const market::Asset& a) { return a.asset_class == market::AssetClass::crypto; }

std::string_view class_names(bool crypto) { return crypto ? "crypto" : "stocks, ETFs and indices"; }

// What the market's today means for a class, for messages.
std::string_view today_meaning(bool crypto) {
    return crypto ? "the UTC date" : "the last NYSE session that has opened";
}

// The usage error for a window that holds no day: --from after today, or a range that starts after --to.
UsageError empty_window_error(const WindowRequest& w, const market::DateWindow& d, sys_days today, bool crypto,
                              std::string_view whose) {
    if (w.from && *w.from > today)
        return UsageError(fmt::format("--from {} is after the market's today for {} ({}, {}); use --from {} or "
                                      "earlier",
                                      util::format_date(*w.from), whose, util::format_date(today),
                                      today_meaning(crypto), util::format_date(today)));
    return UsageError(fmt::format("the window starts after it ends for {} ({} > {}); check RANGE/--from/--to", whose,
                                  util::format_date(d.from), util::format_date(d.to)));
}

// "16:00 EDT (2025-03-10T20:00:00Z)": a closing bell as New York reads it, and as UTC.
std::string describe_close(const market::Session& s) {
    return fmt::format("{} ({})", date::format("%H:%M %Z", date::make_zoned("America/New_York", s.close)),
                       util::format_instant(s.close));
}

// --after-close: the daily refresh waits for the session of New York's today to close (early closes
// included), so a UTC crontab line that is early in one DST half, or a timer that fires on a holiday,
// costs one line on stderr. Returns why the run has nothing to do, or nullopt once the bell has rung.
std::optional<std::string> before_the_close(const market::TradingCalendar& calendar, sys_seconds now) {
    const auto today = calendar.new_york_date(now);
    if (const auto session = calendar.session_on(today)) {
        if (now >= session->close) return std::nullopt;
        return fmt::format("the NYSE session of {} closes at {}; --after-close: nothing to do before then",
                           util::format_date(today), describe_close(*session));
    }
    const auto name = calendar.holiday_name(today);
    const auto next = calendar.next_session(today);
    return fmt::format("no NYSE session on {} ({}); --after-close: nothing to do until the next close, {}",
                       util::format_date(today), name.empty() ? std::string_view("weekend") : name,
                       next ? fmt::format("{} {}", util::format_date(next->date), describe_close(*next))
                            : std::string("none within the calendar's reach"));
}

// Each symbol's stored daily bars inside the run's windows: (date, close), ascending by date.
using StoredCloses = std::map<std::string, std::vector<std::pair<sys_days, double>>, std::less<>>;

// The dates of `closes` inside `w`.
std::vector<sys_days> dates_in(const std::vector<std::pair<sys_days, double>>& closes, const market::DateWindow& w) {
    std::vector<sys_days> out;
    for (const auto& [d, close] : closes)
        if (d >= w.from && d <= w.to) out.push_back(d);
    return out;
}

// (stored close, fetched close) for every fetched bar of a day that is stored.
std::vector<std::pair<double, double>> overlap_of(const std::vector<std::pair<sys_days, double>>& stored,
                                                  const std::vector<market::Bar>& bars) {
    std::vector<std::pair<double, double>> out;
    for (const auto& b : bars) {
        const auto d = floor<days>(b.ts);
        const auto it = std::lower_bound(stored.begin(), stored.end(), d,
                                         [](const auto& x, sys_days day) { return x.first < day; });
        if (it != stored.end() && it->first == d) out.emplace_back(it->second, b.close.value);
    }
    return out;
}

} // namespace

int historical_main(const std::vector<std::string>& args) {
    return run_guarded(args.front(), [&]() -> int {
        CLI::App app{"Load daily bars for a chart range into price_bars.", args.front()};
        HistoricalArgs a;
        CommonOptions common;
        app.add_option("range", a.range, fmt::format("one of {} (case-insensitive)", market::range_list()));
        app.add_option("symbols", a.symbols, "symbols to load (default: every active asset)");
        app.add_option("--from", a.from, "first session date YYYY-MM-DD (overrides the range's start)");
        app.add_option("--to", a.to, "last session date YYYY-MM-DD (default, and at most: the market's today)");
        app.add_option("--class", a.asset_class, "asset class for symbols not in assets: stock, etf, index, crypto");
        app.add_flag("--full", a.full,
                     "fetch every symbol's whole window; by default a symbol is fetched from the last "
                     "fetch.revision_sessions sessions it holds (and its gaps) on, and not at all when nothing is "
                     "missing");
        app.add_flag("--after-close", a.after_close,
                     "work only once today's NYSE session has closed (New York date; early closes included); "
                     "before the close and on days without a session, exit 0 with nothing to do");
        add_common_options(app, common);
        app.footer("Exit codes: 0 ok, 1 some symbols failed, 64 usage, 65 too many rejected rows, 69 provider "
                   "unavailable, 70 internal, 75 temporary (database, lock), 78 configuration, 130 interrupted.");
        if (auto rc = parse_cli(app, args)) return *rc;
        // `etl-historical --from 2025-01-02 AAPL`: the first positional is a symbol, not a range.
        if (!a.range.empty() && !market::parse_range(a.range) && !a.from.empty()) {
            a.symbols.insert(a.symbols.begin(), a.range);
            a.range.clear();
        }
        if (a.range.empty() && a.from.empty())
            throw UsageError(fmt::format("missing RANGE: use one of {}, or --from YYYY-MM-DD", market::range_list()));
        const auto request = parse_window(a);
        RunSpec run_spec;
        run_spec.job = "etl-historical";
        run_spec.symbols = normalize_symbols(a.symbols);
        run_spec.forced = parse_class_flag(a.asset_class);
        run_spec.no_assets_hint = " (add some with 'etl assets import etc/assets.csv')";
        // "Today" is the market's: each class's window ends on its own (see market::market_today).
        sys_days stock_today{};
        sys_days crypto_today{};
        market::DateWindow stock_window{};
        market::DateWindow crypto_window{};
        const auto today_of = [&](const market::Asset& asset) { return is_crypto(asset) ? crypto_today : stock_today; };
        const auto window_of = [&](const market::Asset& asset) {
            return is_crypto(asset) ? crypto_window : stock_window;
        };
        run_spec.before_store = [&](RunContext& run) -> std::optional<std::string> {
            const auto now = run.now;
            const auto& calendar = run.calendar;
            stock_today = market::market_today(market::AssetClass::stock, now, calendar);
            crypto_today = market::market_today(market::AssetClass::crypto, now, calendar);
            stock_window = window_on(request, stock_today);
            crypto_window = window_on(request, crypto_today);
            if (is_empty(stock_window) && is_empty(crypto_window)) {
                if (request.from && *request.from > crypto_today)
                    throw UsageError(fmt::format("--from {} is after the market's today ({} for {}, {} for {}); use "
                                                 "--from {} or earlier",
                                                 util::format_date(*request.from), util::format_date(stock_today),
                                                 class_names(false), util::format_date(crypto_today), class_names(true),
                                                 util::format_date(crypto_today)));
                throw empty_window_error(request, stock_window, stock_today, false, "every asset");
            }
            // Last, so a bad command line is a usage error at any hour; before the store, so a skipped
            // run opens nothing.
            if (a.after_close) return before_the_close(calendar, now);
            return std::nullopt;
        };
        run_spec.before_assets = [&](RunContext& run) {
            if (is_empty(stock_window) || is_empty(crypto_window)) {
                // One class has nothing to load: a usage error if an asset of it is asked for, found before
                // anything (an unknown symbol's asset row) is written.
                for (const auto& asset :
                     resolve_assets(run_spec.symbols, run_spec.forced, *run.store, /*dry_run=*/true, run.shard))
                    if (is_empty(window_of(asset)))
                        throw empty_window_error(request, window_of(asset), today_of(asset), is_crypto(asset),
                                                 asset.symbol);
            }
        };
        run_spec.work = [&](RunContext& run) {
            const auto& cfg = run.cfg;
            const auto now = run.now;
            auto& assets = run.assets;
            const bool any_stock =
                std::any_of(assets.begin(), assets.end(), [](const auto& x) { return !is_crypto(x); });
            const bool any_crypto = std::any_of(assets.begin(), assets.end(), is_crypto);
            std::vector<std::string> clipped, windows;
            for (const bool crypto : {false, true}) {
                if (!(crypto ? any_crypto : any_stock)) continue;
                const auto today = crypto ? crypto_today : stock_today;
                const auto& w = crypto ? crypto_window : stock_window;
                if (request.to && *request.to > today)
                    clipped.push_back(fmt::format("{} for {} ({})", util::format_date(today), class_names(crypto),
                                                  today_meaning(crypto)));
                windows.push_back(
                    fmt::format("{} .. {}{}", util::format_date(w.from), util::format_date(w.to),
                                any_stock && any_crypto ? fmt::format(" ({})", class_names(crypto)) : ""));
            }
            if (!clipped.empty())
                util::log_info("--to {} is after the market's today: the window ends on {}",
                               util::format_date(*request.to), fmt::join(clipped, " and "));
            auto& totals = run.totals;
            totals.counts_requests = true;
            // The incremental plan (not --full): what each symbol holds, from one read for the whole run.
            StoredCloses stored;
            std::map<std::string, market::DateWindow, std::less<>> spans; // symbol -> a narrowed fetch
            if (!a.full && run.store && !assets.empty()) {
                std::vector<std::string> symbols;
                symbols.reserve(assets.size());
                for (const auto& asset : assets) symbols.push_back(asset.symbol);
                auto from = sys_days::max();
                auto to = sys_days::min();
                for (const bool crypto : {false, true}) {
                    if (!(crypto ? any_crypto : any_stock)) continue;
                    const auto& w = crypto ? crypto_window : stock_window;
                    from = std::min(from, w.from);
                    to = std::max(to, w.to);
                }
                const auto stock_closed =
                    any_stock ? closed_days(stock_window, false, run.calendar, now) : std::vector<sys_days>{};
                const auto crypto_closed =
                    any_crypto ? closed_days(crypto_window, true, run.calendar, now) : std::vector<sys_days>{};
                // A bar stored before its day closed (a run during the session) is a partial bar: the last
                // closed day's bar counts as stored only when it was written after that close.
                struct LastClosed {
                    sys_days day{};
                    std::int64_t close = 0; // epoch seconds; 0: no closed day in the window
                };
                const auto last_closed = [&](bool crypto) {
                    const auto& closed = crypto ? crypto_closed : stock_closed;
                    if (closed.empty()) return LastClosed{};
                    const auto day = closed.back();
                    const auto close = crypto ? sys_seconds{day + days{1}} : run.calendar.session_on(day)->close;
                    return LastClosed{day, close.time_since_epoch().count()};
                };
                const LastClosed last_of[2] = {last_closed(false), last_closed(true)};
                std::map<std::string, bool, std::less<>> crypto_of;
                for (const auto& asset : assets) crypto_of.emplace(asset.symbol, is_crypto(asset));
                run.store->for_each_stored_close(
                    symbols, market::Timeframe::day, store::Window{sys_seconds{from}, sys_seconds{to}},
                    [&](std::string_view symbol, std::int64_t ts, double close, std::int64_t ingested) {
                        const auto day = floor<days>(sys_seconds{seconds{ts}});
                        const auto c = crypto_of.find(symbol);
                        const auto& last = last_of[c != crypto_of.end() && c->second ? 1 : 0];
                        if (last.close != 0 && day == last.day && ingested < last.close) {
                            util::log_debug("{}: the bar of {} was stored before that close; fetching it again", symbol,
                                            util::format_date(day));
                            return;
                        }
                        auto it = stored.find(symbol);
                        if (it == stored.end()) it = stored.emplace(std::string(symbol), decltype(it->second){}).first;
                        it->second.emplace_back(day, close);
                    });
                const auto revision = cfg.settings().fetch.revision_sessions;
                std::vector<market::Asset> to_fetch;
                std::size_t up_to_date = 0, narrowed = 0;
                std::vector<std::string> late_start; // "AAPL from 2024-03-14": stored history starts inside the window
                for (auto& asset : assets) {
                    const auto w = window_of(asset);
                    const auto it = stored.find(asset.symbol);
                    const auto dates = it == stored.end() ? std::vector<sys_days>{} : dates_in(it->second, w);
                    if (const auto& closed = is_crypto(asset) ? crypto_closed : stock_closed;
                        !request.from && !dates.empty() && !closed.empty() && dates.front() > closed.front())
                        late_start.push_back(fmt::format("{} from {}", asset.symbol, util::format_date(dates.front())));
                    const auto plan = plan_fetch(w, is_crypto(asset) ? crypto_closed : stock_closed, dates, revision,
                                                 request.from.has_value());
                    if (plan.kind == FetchPlan::Kind::up_to_date) {
                        util::log_debug("{}: up to date (last bar {}); no request", asset.symbol,
                                        util::format_date(plan.last));
                        ++totals.symbols_ok;
                        ++totals.requests_saved;
                        ++up_to_date;
                        continue;
                    }
                    if (plan.kind == FetchPlan::Kind::incremental) {
                        util::log_debug("{}: {} gap(s), {} new day(s) after {}: fetching {} .. {}", asset.symbol,
                                        plan.gaps, plan.new_days, util::format_date(plan.last),
                                        util::format_date(plan.span.from), util::format_date(plan.span.to));
                        spans.emplace(asset.symbol, plan.span);
                        ++narrowed;
                    }
                    to_fetch.push_back(std::move(asset));
                }
                assets = std::move(to_fetch);
                util::log_info("incremental: {} symbol(s) up to date (no request), {} from their last stored bar, {} "
                               "whole (--full fetches every window whole)",
                               up_to_date, narrowed, assets.size() - narrowed);
                // Not silent: a history that starts inside the window is taken as the provider's whole history
                // (a recent listing, a plan's limit); after widening the range it is a head never fetched.
                if (!late_start.empty()) {
                    constexpr std::size_t k_examples = 5;
                    const auto shown = std::min(late_start.size(), k_examples);
                    util::log_warn("incremental: {} symbol(s) hold no bars at the start of the window ({}{}): taken as "
                                   "their whole history (a listing or a provider's limit); after widening the range, "
                                   "run once with --full to backfill",
                                   late_start.size(),
                                   fmt::join(late_start.begin(),
                                             late_start.begin() + static_cast<std::ptrdiff_t>(shown), ", "),
                                   late_start.size() > shown ? ", ..." : "");
                }
            }
            // The span a symbol is fetched, validated and loaded for: its narrowed span, else its window.
            const auto span_of = [&](const market::Asset& asset) {
                const auto it = spans.find(asset.symbol);
                return it == spans.end() ? window_of(asset) : it->second;
            };
            std::vector<market::Asset> refetch; // stored history that is not the provider's any more
            const auto all_assets = assets;
            Router router(cfg, now, &run.calendar);
            PipelineSpec spec;
            spec.assets = std::move(assets);
            spec.timeframe = market::Timeframe::day;
            spec.window_of = [&](const market::Asset& asset) {
                const auto w = span_of(asset);
                return store::Window{sys_seconds{w.from}, sys_seconds{w.to}};
            };
            // Whole-market answers where one request per date costs less than one per symbol: a served
            // symbol's fetch is its share of them (no request).
            std::map<std::string, GroupedShare, std::less<>> shares;
            spec.make_fetch = [&](const providers::Provider& p, const market::Asset& asset,
                                  std::string& why) -> std::unique_ptr<providers::SymbolFetch> {
                if (const auto it = shares.find(asset.symbol); it != shares.end() && it->second.provider == p.name()) {
                    auto share = std::move(it->second);
                    shares.erase(it);
                    return std::make_unique<providers::PrefetchedFetch>(share.provider + " grouped",
                                                                        std::move(share.batch), share.skipped);
                }
                return p.daily_bars(asset, span_of(asset), why);
            };
            if (!spans.empty()) {
                spec.before_load = [&](const std::string& symbol, const std::vector<market::Bar>& bars) {
                    const auto it = stored.find(symbol);
                    if (!spans.contains(symbol) || it == stored.end()) return true;
                    const auto verdict = compare_overlap(overlap_of(it->second, bars));
                    if (!verdict.refetch) return true;
                    const auto asset = std::find_if(all_assets.begin(), all_assets.end(),
                                                    [&](const auto& x) { return x.symbol == symbol; });
                    const auto w = window_of(*asset);
                    util::log_warn(
                        "{}: stored history differs from {}'s {}; refetching {} (bars stored before that, if "
                        "any, keep the old scale until etl-historical MAX --full {} or the weekly MAX "
                        "backfill)",
                        symbol, bars.empty() ? std::string("the provider") : bars.front().source, verdict.reason,
                        a.range.empty()
                            ? fmt::format("{} .. {}", util::format_date(w.from), util::format_date(w.to))
                            : fmt::format("{} ({} .. {})", a.range, util::format_date(w.from), util::format_date(w.to)),
                        symbol);
                    refetch.push_back(*asset);
                    return false;
                };
            }
            util::log_info("fetching {} symbol(s), {}", spec.assets.size(), fmt::join(windows, ", "));
            auto* const store = common.dry_run ? nullptr : run.store;
            GroupedDaily grouped(cfg, router, spec.assets, span_of, totals.shard);
            if (grouped.empty()) {
                run_pipeline(cfg, router, std::move(spec), store, totals);
            } else {
                // The answers are fetched while the symbols of other providers load; the grouped providers'
                // symbols go through the pipeline once the answers are in.
                PipelineSpec later = spec;
                later.assets.clear();
                auto assets_now = std::move(spec.assets);
                spec.assets.clear();
                for (auto& asset : assets_now)
                    (grouped.waits(asset) ? later.assets : spec.assets).push_back(std::move(asset));
                std::exception_ptr grouped_error;
                std::thread answers([&] {
                    try {
                        grouped.fetch();
                    } catch (...) {
                        grouped_error = std::current_exception();
                    }
                });
                try {
                    if (!spec.assets.empty()) run_pipeline(cfg, router, std::move(spec), store, totals);
                } catch (...) {
                    grouped.abort();
                    answers.join();
                    throw;
                }
                answers.join();
                // A stop (or a failure) before the second pipeline: its symbols were never fetched, and
                // none may be asked for now. Counted as not done.
                const auto not_done = [&] {
                    const auto accounted = totals.symbols_ok + totals.symbols_failed;
                    totals.symbols_interrupted =
                        accounted < totals.symbols_requested ? totals.symbols_requested - accounted : 0;
                };
                if (grouped_error) {
                    not_done();
                    std::rethrow_exception(grouped_error);
                }
                shares = grouped.shares(totals);
                if (stop_flag().load()) {
                    totals.interrupted = true;
                    not_done();
                } else {
                    run_pipeline(cfg, router, std::move(later), store, totals);
                }
            }
            if (!refetch.empty() && !totals.interrupted) {
                // Their whole windows, in the same run: the overlap was set aside, nothing of it is loaded.
                // A new Fetcher paces from scratch: one request interval first, so the refetch never follows
                // the first pass's last request closer than a provider's rate limit allows.
                double slowest = 0; // the lowest limit, 0: none
                for (const auto& [name, rpm] : router.rate_limits())
                    if (rpm > 0 && (slowest == 0 || rpm < slowest)) slowest = rpm;
                pause_one_interval(slowest);
                spans.clear();
                PipelineSpec again;
                again.assets = std::move(refetch);
                again.timeframe = market::Timeframe::day;
                again.window_of = [&](const market::Asset& asset) {
                    const auto w = window_of(asset);
                    return store::Window{sys_seconds{w.from}, sys_seconds{w.to}};
                };
                again.make_fetch = [&](const providers::Provider& p, const market::Asset& asset, std::string& why) {
                    return p.daily_bars(asset, window_of(asset), why);
                };
                run_pipeline(cfg, router, std::move(again), common.dry_run ? nullptr : run.store, totals);
            }
            write_cache(cfg, derive_after_load(run, market::Timeframe::day), totals);
        };
        return run_job(run_spec, args, common);
    });
}

} // namespace etl::jobs
