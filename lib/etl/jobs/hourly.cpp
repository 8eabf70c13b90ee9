// etl-hourly [SYMBOL...]: hourly bars of today's session (or the last one) into price_bars, then
// hourly_data:{SYMBOL}:1D into Redis.
#include "etl/jobs/assets.hpp"
#include "etl/jobs/cache.hpp"
#include "etl/jobs/cli.hpp"
#include "etl/jobs/commands.hpp"
#include "etl/jobs/derive.hpp"
#include "etl/jobs/options.hpp"
#include "etl/jobs/pipeline.hpp"
#include "etl/jobs/run.hpp"
#include "etl/market/quote.hpp"
#include "etl/market/range.hpp"
#include "etl/market/symbol.hpp"
#include "etl/util/clock.hpp"
#include "etl/util/error.hpp"
#include "etl/util/log.hpp"

#include <CLI/CLI.hpp>
#include <date/tz.h>
#include <fmt/format.h>

#include <mutex>

namespace etl::jobs {
namespace {

using namespace std::chrono;

// The instant of `hh:00` New York time on `date`.
sys_seconds new_york_time(sys_days date, int hh) {
    const auto zoned =
        date::make_zoned(date::locate_zone("America/New_York"), date::local_days{date.time_since_epoch()} + hours{hh});
    return floor<seconds>(zoned.get_sys_time());
}

// Hour bars to load for stocks, ETFs and indices: those that overlap the regular session (the 09:00
// bar holds the open at 09:30; the last starts an hour before the close), or 04:00-20:00 ET with
// extended hours.
providers::HourWindow equity_window(const market::Session& s, bool extended) {
    if (extended) return {new_york_time(s.date, 4), new_york_time(s.date, 19)};
    return {floor<hours>(s.open), ceil<hours>(s.close) - hours{1}};
}

// Crypto trades around the clock: the UTC day of --session, else the last 24 hours up to the hour in
// progress (what a 1D chart shows).
providers::HourWindow crypto_window(std::optional<sys_days> session_day, sys_seconds now) {
    if (session_day) return {sys_seconds{*session_day}, sys_seconds{*session_day} + hours{23}};
    const sys_seconds this_hour = floor<hours>(now);
    return {this_hour - hours{23}, this_hour};
}

bool is_crypto(const market::Asset& a) { return a.asset_class == market::AssetClass::crypto; }

} // namespace

int hourly_main(const std::vector<std::string>& args) {
    return run_guarded(args.front(), [&]() -> int {
        CLI::App app{"Load today's (or the last session's) hourly bars into price_bars and Redis.", args.front()};
        SymbolOptions opts;
        std::string session_flag;
        CommonOptions common;
        add_symbol_options(app, opts, "load");
        app.add_option("--session", session_flag, "reload the hourly bars of this past session (YYYY-MM-DD)");
        add_common_options(app, common);
        if (auto rc = parse_cli(app, args)) return *rc;

        std::optional<sys_days> session_day;
        if (!session_flag.empty()) session_day = util::parse_date_flag("--session", session_flag);
        const auto symbols = normalize_symbols(opts.symbols);
        const auto forced = parse_class_flag(opts.asset_class);
        RunSpec run_spec;
        run_spec.job = "etl-hourly";
        run_spec.symbols = symbols;
        run_spec.forced = forced;
        bool market_open = false;
        std::optional<market::Session> session;
        // A named equity on a day without a session is a usage error; caught before the run writes
        // anything (an unknown symbol would otherwise be recorded in assets first).
        const auto no_session = [&](const market::TradingCalendar& calendar) {
            const auto name = calendar.holiday_name(*session_day);
            return UsageError(fmt::format("--session {} is not an NYSE session ({}); pick a trading day", session_flag,
                                          name.empty() ? std::string_view("weekend") : name));
        };
        run_spec.before_store = [&](RunContext& run) -> std::optional<std::string> {
            const auto& cfg = run.cfg;
            const auto& calendar = run.calendar;
            const auto now = run.now;
            market_open = calendar.is_open(now);
            const bool crypto_only =
                forced == market::AssetClass::crypto ||
                (!symbols.empty() && std::all_of(symbols.begin(), symbols.end(), [](const auto& s) {
                    return market::guess_asset_class(s) == market::AssetClass::crypto;
                }));
            // --session names the market's day: for stocks at most the last NYSE session that has opened (at
            // 22:00 ET the UTC date is already tomorrow's, and before 09:30 today's session has not begun);
            // for crypto at most the UTC date.
            if (session_day) {
                const auto cls = crypto_only ? market::AssetClass::crypto : market::AssetClass::stock;
                const auto today = market::market_today(cls, now, calendar);
                if (*session_day > today)
                    throw UsageError(fmt::format("--session {} is in the future: the last {} is {}", session_flag,
                                                 crypto_only ? "UTC day" : "NYSE session that has opened",
                                                 util::format_date(today)));
            }

            // Cron fires this every few minutes: outside the session a run of equities only ends here,
            // before touching the database.
            if (opts.market_hours_only && !market_open && !session_day && only_equities_named(cfg, symbols, forced))
                return "market closed (NYSE); --market-hours-only: nothing to do";

            session = session_day ? calendar.session_on(*session_day) : calendar.session_for(now);
            if (session_day && !session && !crypto_only) throw no_session(calendar);
            return std::nullopt;
        };
        run_spec.after_assets = [&](RunContext& run) -> std::optional<std::string> {
            auto& assets = run.assets;
            if (opts.market_hours_only && !market_open && !session_day) {
                drop_equities(assets);
                if (assets.empty()) return "nothing to do";
            }
            if (!session && std::any_of(assets.begin(), assets.end(), [](const auto& a) { return !is_crypto(a); }))
                throw no_session(run.calendar);
            return std::nullopt;
        };

        run_spec.work = [&](RunContext& run) {
            const auto& cfg = run.cfg;
            const auto now = run.now;
            auto& totals = run.totals;
            const bool extended = cfg.settings().hourly.extended_hours;
            std::mutex cache_mutex;
            std::vector<std::pair<std::string, std::string>> cache;
            if (session)
                util::log_info("session {} ({} .. {}{})", util::format_date(session->date),
                               util::format_instant(session->open), util::format_instant(session->close),
                               session->early_close ? ", early close" : "");
            Router router(cfg, now, &run.calendar);
            PipelineSpec spec;
            spec.assets = std::move(run.assets);
            spec.timeframe = market::Timeframe::hour;
            auto window_of = [&](const market::Asset& a) {
                return is_crypto(a) ? crypto_window(session_day, now) : equity_window(*session, extended);
            };
            spec.window_of = [window_of](const market::Asset& a) {
                const auto w = window_of(a);
                return store::Window{w.from, w.to};
            };
            spec.make_fetch = [window_of](const providers::Provider& p, const market::Asset& a, std::string& why) {
                return p.hourly_bars(a, window_of(a), why);
            };
            spec.on_loaded = [&](const std::string& symbol, std::vector<market::Bar>&& bars) {
                // No bars (a provider that knows nothing of the symbol): keep what the cache has.
                if (bars.empty()) return;
                const std::lock_guard lock(cache_mutex);
                cache.emplace_back(fmt::format("hourly_data:{}:1D", symbol), market::to_cache_json(bars));
            };
            run_pipeline(cfg, router, std::move(spec), common.dry_run ? nullptr : run.store, totals);
            // One round trip: hourly_data, then the bars and indicators of what derive recomputed.
            auto derived = derive_after_load(run, market::Timeframe::hour);
            if (!common.dry_run && !totals.interrupted) {
                std::vector<redis::CacheEntry> entries;
                entries.reserve(cache.size() + derived.size());
                for (auto& [key, value] : cache)
                    entries.push_back({std::move(key), std::move(value), cfg.settings().redis.hourly_ttl});
                std::move(derived.begin(), derived.end(), std::back_inserter(entries));
                write_cache(cfg, entries, totals);
            }
        };
        return run_job(run_spec, args, common);
    });
}

} // namespace etl::jobs
