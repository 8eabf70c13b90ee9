// etl-historical RANGE [SYMBOL...]: daily bars for a chart range into price_bars.
#include "etl/jobs/cli.hpp"
#include "etl/jobs/commands.hpp"
#include "etl/jobs/common.hpp"
#include "etl/jobs/pipeline.hpp"
#include "etl/market/range.hpp"
#include "etl/market/symbol.hpp"
#include "etl/util/clock.hpp"
#include "etl/util/error.hpp"
#include "etl/util/log.hpp"

#include <CLI/CLI.hpp>
#include <fmt/format.h>

namespace etl::jobs {
namespace {

using namespace std::chrono;

struct HistoricalArgs {
    std::string range;
    std::vector<std::string> symbols;
    std::string from;
    std::string to;
    std::string asset_class;
};

market::DateWindow resolve_window(const HistoricalArgs& a, sys_days today) {
    market::DateWindow w{today, today};
    if (!a.range.empty()) {
        const auto r = market::parse_range(a.range);
        if (!r) throw UsageError(fmt::format("unknown range '{}'; use one of {}", a.range, market::range_list()));
        w = market::window_for(*r, today);
    }
    if (!a.from.empty()) {
        const auto d = util::parse_date(a.from);
        if (!d) throw UsageError(fmt::format("--from '{}' is not a date; use YYYY-MM-DD", a.from));
        w.from = *d;
    }
    if (!a.to.empty()) {
        const auto d = util::parse_date(a.to);
        if (!d) throw UsageError(fmt::format("--to '{}' is not a date; use YYYY-MM-DD", a.to));
        w.to = *d;
    }
    if (w.from > w.to)
        throw UsageError(fmt::format("the window starts after it ends ({} > {}); check RANGE/--from/--to",
                                     util::format_date(w.from), util::format_date(w.to)));
    return w;
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
        app.add_option("--to", a.to, "last session date YYYY-MM-DD (default: today)");
        app.add_option("--class", a.asset_class, "asset class for symbols not in assets: stock, etf, index, crypto");
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
        const auto now = util::now();
        const auto dates = resolve_window(a, floor<days>(now));
        const auto symbols = normalize_symbols(a.symbols);
        const auto forced = parse_class_flag(a.asset_class);
        const auto shard = resolve_shard(common);
        auto cfg = load_config(common);
        preflight(cfg, common, symbols, forced);
        const auto calendar = load_calendar(cfg);

        RunTotals totals;
        totals.job = "etl-historical";
        totals.arguments = join_arguments({args.begin() + 1, args.end()});
        totals.shard = shard.to_string();
        auto store = start_run(cfg, totals, common.dry_run);
        auto assets = resolve_assets(symbols, forced, *store, common.dry_run, shard);
        check_provider_keys(cfg, assets);
        totals.symbols_requested = assets.size();
        if (!common.dry_run) totals.run_id = store->begin_run({totals.job, totals.arguments, totals.shard});

        return execute_run(totals, store.get(), common.report_file, [&] {
            if (assets.empty()) {
                util::log_info("nothing to do: no {}symbols for shard {} (add some with 'etl assets import "
                               "etc/assets.csv')",
                               symbols.empty() ? "active " : "", totals.shard);
                return;
            }
            Router router(cfg, now, &calendar);
            PipelineSpec spec;
            spec.assets = std::move(assets);
            spec.timeframe = market::Timeframe::day;
            spec.window_of = [&](const market::Asset&) {
                return store::Window{sys_seconds{dates.from}, sys_seconds{dates.to}};
            };
            spec.make_fetch = [dates](const providers::Provider& p, const market::Asset& asset, std::string& why) {
                return p.daily_bars(asset, dates, why);
            };
            util::log_info("fetching {} symbol(s), {} .. {}", spec.assets.size(), util::format_date(dates.from),
                           util::format_date(dates.to));
            run_pipeline(cfg, router, std::move(spec), common.dry_run ? nullptr : store.get(), totals);
        });
    });
}

} // namespace etl::jobs
