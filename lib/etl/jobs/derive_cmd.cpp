// etl derive [SYMBOL...] [--full] [--timeframe TF]: recomputes the indicators table from the stored bars
// (issue 12 point 5), and derive_after_load, the same step at the end of etl-historical and etl-hourly.
// What is computed and how it resumes is derive/derive.hpp; this file is the command around it.
#include "etl/jobs/derive.hpp"

#include "etl/derive/derive.hpp"
#include "etl/derive/indicators.hpp"
#include "etl/jobs/cache.hpp"
#include "etl/jobs/cli.hpp"
#include "etl/jobs/commands.hpp"
#include "etl/jobs/options.hpp"
#include "etl/jobs/setup.hpp"
#include "etl/store/schema.hpp"
#include "etl/util/clock.hpp"
#include "etl/util/error.hpp"
#include "etl/util/json_writer.hpp"
#include "etl/util/log.hpp"

#include <CLI/CLI.hpp>
#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <array>
#include <charconv>
#include <chrono>
#include <map>
#include <set>
#include <span>

namespace etl::jobs {
namespace {

struct DeriveTally {
    std::uint64_t symbols = 0;
    std::uint64_t from_first_bar = 0;
    std::uint64_t bars = 0;
    std::uint64_t values = 0;
};

void count(RunTotals& totals, market::Timeframe tf, const DeriveTally& t) {
    auto& item = totals.tally("derive")[market::to_code(tf)];
    item["symbols"] += t.symbols;
    item["from_first_bar"] += t.from_first_bar;
    item["bars_read"] += t.bars;
    item["values"] += t.values;
}

void add(DeriveTally& t, const derive::DeriveResult& r) {
    ++t.symbols;
    t.from_first_bar += r.from_first_bar ? 1 : 0;
    t.bars += r.bars_read;
    t.values += r.values;
}

// The symbols with stored bars of `tf` that this shard owns, sorted.
std::vector<std::string> stored_symbols(store::Store& store, market::Timeframe tf, const market::Shard& shard) {
    // Every symbol that has bars is in assets (a load records an unknown one as inactive): one probe of
    // price_bars' primary key per asset, not a scan of every bar.
    const auto rows = store.rows("SELECT a.symbol FROM assets a WHERE EXISTS (SELECT 1 FROM price_bars p WHERE "
                                 "p.symbol = a.symbol AND p.timeframe = $1)",
                                 {std::string(market::to_code(tf))});
    std::vector<std::string> out;
    for (const auto& row : rows.rows)
        if (row.at(0) && shard.owns(*row.at(0))) out.push_back(*row.at(0));
    std::sort(out.begin(), out.end());
    return out;
}

derive::StatsSettings stats_settings(const config::Config& cfg) {
    const auto& s = cfg.settings().stats;
    return {s.risk_free_rate, s.benchmark, s.compare};
}

// A derive of `targets`' `timeframe` bars (and their asset_stats for daily bars), then the comparisons of
// the pairs they touch: tallied and logged. Stops between batches and symbols when the stop flag is set.
derive::DeriveTotals derive_and_tally(RunContext& run, market::Timeframe timeframe,
                                      std::span<const derive::DeriveTarget> targets,
                                      const derive::DeriveOptions& options) {
    const auto settings = stats_settings(run.cfg);
    auto r =
        derive::derive_symbols(*run.store, timeframe, targets, options, &settings, [] { return stop_flag().load(); });
    if (r.interrupted) run.totals.interrupted = true;
    if (timeframe != market::Timeframe::day || r.interrupted) return r;
    std::vector<std::string> symbols;
    symbols.reserve(targets.size());
    for (const auto& t : targets) symbols.push_back(t.symbol);
    r.stats.comparisons = derive::derive_comparisons(*run.store, symbols, settings, options.dry_run);
    if (symbols.empty() && settings.compare.empty()) return r;
    auto& item = run.totals.tally("stats")["1d"];
    item["symbols"] += r.stats.symbols;
    item["rows"] += r.stats.rows;
    item["comparisons"] += r.stats.comparisons;
    util::log_info("stats: {} window(s) of {} symbol(s), {} comparison(s), risk-free rate {}{}", r.stats.rows,
                   r.stats.symbols, r.stats.comparisons, r.stats.risk_free_rate,
                   options.dry_run ? " (dry run: nothing written)" : "");
    return r;
}

// Bars the Redis bars:{SYMBOL}:{TIMEFRAME} entry holds.
constexpr int k_cached_bars = 500;

} // namespace

void cache_entries(store::Store& store, std::string_view symbol, market::Timeframe timeframe, std::chrono::seconds ttl,
                   std::vector<redis::CacheEntry>& out) {
    const auto d = store.dialect();
    const auto rows = store.rows(
        fmt::format("SELECT {}, p.open, p.high, p.low, p.close, p.volume FROM price_bars p WHERE p.symbol = $1 AND "
                    "p.timeframe = $2 AND {} ORDER BY p.ts DESC LIMIT {}",
                    d == store::Dialect::postgres ? "to_char(p.ts AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')"
                                                  : "p.ts",
                    store::schema::valid_bar_sql(d, "p"), k_cached_bars),
        {std::string(symbol), std::string(market::to_code(timeframe))});
    if (rows.rows.empty()) return;
    const auto code = market::to_code(timeframe);
    util::JsonWriter bars;
    bars.start_array();
    for (std::size_t row = rows.rows.size(); row-- > 0;) { // the query gave newest first
        const auto& r = rows.rows[row];
        bars.start_object().key("ts").string(r.at(0).value_or(""));
        static constexpr std::array<std::string_view, 5> k_fields = {"open", "high", "low", "close", "volume"};
        for (std::size_t i = 0; i < k_fields.size(); ++i) {
            bars.key(k_fields[i]);
            if (r.at(i + 1)) bars.decimal(*r.at(i + 1));
            else bars.null();
        }
        bars.end_object();
    }
    bars.end_array();
    out.push_back({fmt::format("bars:{}:{}", symbol, code), std::move(bars).release(), ttl});

    const auto last = store.last_indicator_ts(symbol, timeframe);
    if (!last) return;
    const auto bar = store.indicators_at(symbol, timeframe, *last);
    if (!bar) return;
    util::JsonWriter json;
    json.start_object().key("ts").string(util::format_instant(*last));
    std::array<char, 32> number{};
    // The published indicators, in their order; not the carried state (ema_12 on).
    for (std::size_t i = 0; i < static_cast<std::size_t>(derive::Indicator::ema_12); ++i) {
        if (!bar->values[i]) continue;
        const auto end = std::to_chars(number.data(), number.data() + number.size(), *bar->values[i]).ptr;
        json.key(derive::to_string(static_cast<derive::Indicator>(i)))
            .decimal(std::string_view(number.data(), static_cast<std::size_t>(end - number.data())));
    }
    json.end_object();
    out.push_back({fmt::format("indicators:{}:{}", symbol, code), std::move(json).release(), ttl});
}

std::vector<redis::CacheEntry> derive_after_load(RunContext& run, market::Timeframe timeframe) {
    auto& totals = run.totals;
    std::vector<redis::CacheEntry> entries;
    if (!run.cfg.settings().derive.enabled || run.options.dry_run || totals.interrupted || !run.store) return entries;
    if (totals.bars_changed_from.empty()) return entries;
    const bool cache = !run.cfg.settings().redis.url.empty();
    const auto started = std::chrono::steady_clock::now();
    DeriveTally tally;
    // The loads are committed: a derive that fails is one warning and leaves the exit code alone. Nothing
    // is lost: load_bars dropped the indicators its changes made stale, so the next derive (this job's next
    // run, or etl derive) starts from there.
    try {
        std::vector<derive::DeriveTarget> targets;
        targets.reserve(totals.bars_changed_from.size());
        for (const auto& [symbol, from] : totals.bars_changed_from) targets.push_back({symbol, from});
        const auto r = derive_and_tally(run, timeframe, targets, {});
        for (std::size_t i = 0; i < r.symbols.size(); ++i) {
            add(tally, r.symbols[i]);
            if (cache)
                cache_entries(*run.store, targets[i].symbol, timeframe, run.cfg.settings().redis.bars_ttl, entries);
        }
    } catch (const Error& e) {
        if (e.code() == util::ExitCode::interrupted) {
            totals.interrupted = true;
        } else {
            util::log_warn("derive stopped: {}; the data is loaded, and the next derive (etl derive) catches up",
                           e.what());
            auto& item = totals.tally("derive")[market::to_code(timeframe)];
            item.status = "failed";
        }
    }
    count(totals, timeframe, tally);
    const auto seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    totals.timings.emplace_back("derive", seconds);
    util::log_info("derive: indicators of {} symbol(s) whose {} bars changed: {} value(s) written, {} computed from "
                   "the first bar ({:.3f} s)",
                   tally.symbols, market::to_code(timeframe), tally.values, tally.from_first_bar, seconds);
    return entries;
}

int derive_main(const std::vector<std::string>& args) {
    return run_guarded(args.front(), [&]() -> int {
        CLI::App app{"Recompute the indicators (RSI 14/9, SMA 10/20/50/200, EMA 10/20/50, MACD 12/26/9, Bollinger "
                     "20/2) from the stored bars: the new bars of each symbol, or every bar with --full.",
                     args.front()};
        std::vector<std::string> symbols;
        std::vector<std::string> timeframes;
        bool full = false;
        CommonOptions common;
        app.add_option("SYMBOL", symbols, "symbols to derive (default: every symbol with stored bars, this shard's)");
        app.add_option("--timeframe", timeframes,
                       "only these bars: 1d, 1h, 1wk, 1mo (repeatable, or a,b; default: 1d,1h)")
            ->allow_extra_args(false)
            ->delimiter(',')
            ->check(CLI::IsMember({"1d", "1h", "1wk", "1mo"}));
        app.add_flag("--full", full, "recompute every bar, not only the new ones (after bars were edited or deleted)");
        add_common_options(app, common, common_flag::dry_run | common_flag::report | common_flag::shard);
        if (auto rc = parse_cli(app, args)) return *rc;
        if (timeframes.empty()) timeframes = {"1d", "1h"};

        RunSpec spec;
        spec.job = "etl-derive";
        spec.needs_calendar = false;
        spec.resolves_assets = false;
        spec.work = [&](RunContext& run) {
            auto& totals = run.totals;
            const auto named = normalize_symbols(symbols);
            const bool cache = !common.dry_run && !run.cfg.settings().redis.url.empty();
            std::vector<redis::CacheEntry> entries;
            std::map<std::string, std::uint64_t> bars_of; // named symbols' bars read, over every timeframe
            std::set<std::string> requested;              // every symbol of every timeframe, once
            for (const auto& code : timeframes) {
                const auto tf = *market::timeframe_from_code(code);
                auto list = named.empty() ? stored_symbols(*run.store, tf, run.shard) : named;
                std::vector<derive::DeriveTarget> targets;
                targets.reserve(list.size());
                for (const auto& symbol : list) targets.push_back({symbol, std::nullopt});
                const auto r = derive_and_tally(run, tf, targets, {full, common.dry_run});
                DeriveTally tally;
                for (std::size_t i = 0; i < r.symbols.size(); ++i) {
                    add(tally, r.symbols[i]);
                    if (cache) cache_entries(*run.store, list[i], tf, run.cfg.settings().redis.bars_ttl, entries);
                    bars_of[list[i]] += r.symbols[i].bars_read;
                }
                count(totals, tf, tally);
                requested.insert(list.begin(), list.end());
                if (!common.dry_run) totals.rows.inserted += tally.values;
                util::log_info(
                    "derive {}: {} symbol(s), {} bar(s) read, {} value(s) {}, {} computed from the first bar", code,
                    tally.symbols, tally.bars, tally.values,
                    common.dry_run ? "computed (dry run: nothing written)" : "written", tally.from_first_bar);
                if (totals.interrupted) break;
            }
            // A symbol counts once, whatever the timeframes: requested, and ok unless a stop came first.
            totals.symbols_requested = requested.size();
            totals.symbols_ok = totals.interrupted ? 0 : requested.size();
            for (const auto& symbol : named)
                if (bars_of[symbol] == 0 && !totals.interrupted)
                    util::log_warn("{}: no valid {} bars stored: nothing to derive (etl historical {} loads them)",
                                   symbol, fmt::join(timeframes, "/"), symbol);
            if (!totals.interrupted) write_cache(run.cfg, entries, totals);
        };
        return run_job(spec, args, common);
    });
}

} // namespace etl::jobs
