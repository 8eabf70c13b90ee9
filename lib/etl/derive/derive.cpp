#include "etl/derive/derive.hpp"

#include "etl/derive/indicators.hpp"
#include "etl/derive/stats.hpp"
#include "etl/store/schema.hpp"
#include "etl/util/clock.hpp"
#include "etl/util/error.hpp"
#include "etl/util/log.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <charconv>
#include <chrono>
#include <set>
#include <vector>

namespace etl::derive {
namespace {

using market::sys_seconds;

// Every instant a stored bar can have.
constexpr store::Window k_all_time{sys_seconds(std::chrono::sys_days(std::chrono::year{1800} / 1 / 1)),
                                   sys_seconds(std::chrono::sys_days(std::chrono::year{9999} / 12 / 31))};

// How far back to read before the first bar to recompute so that, normally, k_lookback_bars bars are in
// hand: 200 bars of the timeframe, doubled for weekends and holidays, and six-fold for hourly bars (an
// exchange's session holds 7 of a day's 24 hours). Fewer found means computing from the first bar.
std::chrono::seconds lookback(market::Timeframe tf) {
    const auto bars = static_cast<std::int64_t>(k_lookback_bars) * (tf == market::Timeframe::hour ? 6 : 2);
    return market::duration(tf) * bars;
}

std::vector<Close> valid_closes(store::Store& store, std::string_view symbol, market::Timeframe tf,
                                store::Window window) {
    std::vector<Close> closes;
    store.for_each_close(symbol, tf, window, true, [&](std::int64_t ts, double close) {
        closes.push_back({ts, close});
    });
    std::sort(closes.begin(), closes.end(), [](const Close& a, const Close& b) { return a.ts < b.ts; });
    return closes;
}

// Writes `values` (in bar order, as compute_indicators gives them) as one indicator_bars row per bar.
std::uint64_t write(store::Store& store, std::string_view symbol, market::Timeframe tf, std::optional<sys_seconds> from,
                    const std::vector<IndicatorValue>& values, bool dry_run) {
    if (dry_run) return values.size();
    std::vector<store::IndicatorBar> bars;
    for (const auto& v : values) {
        if (bars.empty() || bars.back().ts.time_since_epoch().count() != v.ts)
            bars.push_back({sys_seconds(std::chrono::seconds(v.ts)), {}});
        bars.back().values[static_cast<std::size_t>(v.indicator)] = v.value;
    }
    return store.replace_indicators(symbol, tf, from, bars);
}

constexpr std::int64_t k_day_seconds = 86400;

std::vector<DailyClose> daily_closes(store::Store& store, std::string_view symbol) {
    std::vector<DailyClose> out;
    store.for_each_close(symbol, market::Timeframe::day, k_all_time, true, [&](std::int64_t ts, double close) {
        out.push_back({ts / k_day_seconds, close, std::nullopt});
    });
    std::sort(out.begin(), out.end(), [](const DailyClose& a, const DailyClose& b) { return a.day < b.day; });
    return out;
}

// A query value as a number; nullopt when NULL or not a number.
template <class T> std::optional<T> number_of(const store::Value& v) {
    if (!v) return std::nullopt;
    T x{};
    const auto [end, ec] = std::from_chars(v->data(), v->data() + v->size(), x);
    if (ec != std::errc() || end != v->data() + v->size()) return std::nullopt;
    return x;
}

// The daily closes the statistics of `symbol` read, in one statement: from the base of its longest
// window (5Y) on, not its whole history (a quarter of a 20-year one). The bound is the newest valid bar
// at least 5 years and 3 days before the newest one, so it is at or before that window's base whatever
// the calendar rule (compute_stats finds the base itself).
std::vector<DailyClose> stats_closes(store::Store& store, std::string_view symbol) {
    const auto d = store.dialect();
    const bool pg = d == store::Dialect::postgres;
    const auto valid = [&](std::string_view alias) { return store::schema::valid_bar_sql(d, alias); };
    const auto newest = [&](std::string_view alias, std::string_view bound) {
        return fmt::format(
            "(SELECT {0}.ts FROM price_bars {0} WHERE {0}.symbol = $1 AND {0}.timeframe = '1d' AND {1}{2} "
            "ORDER BY {0}.ts DESC LIMIT 1)",
            alias, valid(alias), bound.empty() ? std::string() : fmt::format(" AND {}.ts <= {}", alias, bound));
    };
    const auto last = newest("r", "");
    const auto cutoff = pg ? fmt::format("{} - interval '5 years 3 days'", last)
                           : fmt::format("strftime('%Y-%m-%dT%H:%M:%SZ', {}, '-5 years', '-3 days')", last);
    const auto rows = store.rows(
        fmt::format("SELECT {}, {} FROM price_bars p WHERE p.symbol = $1 AND p.timeframe = '1d' AND {} AND p.ts >= "
                    "coalesce({}, {}) ORDER BY p.ts",
                    pg ? "extract(epoch FROM p.ts)::bigint" : "unixepoch(p.ts)",
                    pg ? "CASE WHEN abs(p.close) < 1e300 THEN p.close::float8 ELSE 'NaN'::float8 END"
                       : "CAST(p.close AS REAL)",
                    valid("p"), newest("q", cutoff), pg ? "'-infinity'::timestamptz" : "''"),
        {std::string(symbol)});
    std::vector<DailyClose> out;
    out.reserve(rows.rows.size());
    for (const auto& r : rows.rows) {
        const auto ts = number_of<std::int64_t>(r.at(0));
        const auto close = number_of<double>(r.at(1));
        if (ts && close) out.push_back({*ts / k_day_seconds, *close, std::nullopt});
    }
    return out;
}

// With volumes (comparisons): one query, numbers as the store prints them.
std::vector<DailyClose> daily_bars(store::Store& store, std::string_view symbol) {
    const auto d = store.dialect();
    const auto rows =
        store.rows(fmt::format("SELECT {}, {}, {} FROM price_bars p WHERE p.symbol = $1 AND p.timeframe = '1d' AND {} "
                               "ORDER BY p.ts",
                               d == store::Dialect::postgres ? "extract(epoch FROM p.ts)::bigint" : "unixepoch(p.ts)",
                               d == store::Dialect::postgres ? "p.close::float8" : "CAST(p.close AS REAL)",
                               d == store::Dialect::postgres ? "p.volume::float8" : "CAST(p.volume AS REAL)",
                               store::schema::valid_bar_sql(d, "p")),
                   {std::string(symbol)});
    std::vector<DailyClose> out;
    for (const auto& r : rows.rows) {
        const auto ts = number_of<std::int64_t>(r.at(0));
        const auto close = number_of<double>(r.at(1));
        if (!ts || !close) continue;
        out.push_back({*ts / k_day_seconds, *close, number_of<double>(r.at(2))});
    }
    return out;
}

store::Value text(double v) {
    std::array<char, 32> buf{};
    const auto end = std::to_chars(buf.data(), buf.data() + buf.size(), v).ptr;
    return std::string(buf.data(), end);
}
store::Value text(const std::optional<double>& v) { return v ? text(*v) : store::Value(); }
store::Value day_text(std::int64_t day) { return util::format_date(std::chrono::sys_days(std::chrono::days(day))); }
store::Value day_text(const std::optional<std::int64_t>& day) { return day ? day_text(*day) : store::Value(); }

// "($1, $2, ...), ($k, ...)" for `rows` rows of `columns` values.
std::string placeholders(std::size_t rows, std::size_t columns) {
    std::string out;
    std::size_t n = 0;
    for (std::size_t r = 0; r < rows; ++r) {
        out += r == 0 ? "(" : ", (";
        for (std::size_t c = 0; c < columns; ++c) out += fmt::format("{}${}", c == 0 ? "" : ", ", ++n);
        out += ')';
    }
    return out;
}

// INSERT ... ON CONFLICT (key) DO UPDATE of `rows` rows (values in `columns` order, every column but
// computed_at): one statement, so a reader never sees the symbol without its rows, and two shards writing
// the same pair at once both succeed (the later wins) on either store.
void upsert(store::Store& store, std::string_view table, std::string_view columns, std::string_view key,
            std::size_t rows, const std::vector<store::Value>& values) {
    if (rows == 0) return;
    const auto names = [](std::string_view list) {
        std::vector<std::string_view> out;
        while (!list.empty()) {
            const auto comma = list.find(',');
            auto name = list.substr(0, comma);
            while (name.starts_with(' ')) name.remove_prefix(1);
            out.push_back(name);
            list = comma == std::string_view::npos ? std::string_view() : list.substr(comma + 1);
        }
        return out;
    };
    const auto keys = names(key);
    std::string set;
    for (const auto column : names(columns))
        if (std::find(keys.begin(), keys.end(), column) == keys.end())
            set += fmt::format("{}{} = excluded.{}", set.empty() ? "" : ", ", column, column);
    const std::size_t per_row = values.size() / rows;
    store.rows(fmt::format("INSERT INTO {} ({}) VALUES {} ON CONFLICT ({}) DO UPDATE SET {}, computed_at = {}", table,
                           columns, placeholders(rows, per_row), key, set, store::schema::now_sql(store.dialect())),
               values);
}

// Deletes the rows of `where` (with `params`) whose period is not in `keep`: a window the history no longer
// reaches.
void drop_other_periods(store::Store& store, std::string_view table, std::string_view where,
                        std::vector<store::Value> params, const std::vector<std::string>& keep) {
    std::string list;
    for (const auto& p : keep) {
        params.emplace_back(p);
        list += fmt::format("{}${}", list.empty() ? "" : ", ", params.size());
    }
    store.rows(fmt::format("DELETE FROM {} WHERE {}{}", table, where,
                           list.empty() ? std::string() : fmt::format(" AND period NOT IN ({})", list)),
               params);
}

// Symbols a stats batch holds: 7 windows x 15 values each stay far below a statement's 65,535 parameters.
constexpr std::size_t k_stats_batch_symbols = 200;

// Deletes the asset_stats rows of `symbols` whose (symbol, period) is not in `keep`: windows the history no
// longer reaches, in one statement.
void drop_other_periods(store::Store& store, std::span<const std::string> symbols,
                        std::span<const std::pair<std::string, std::string>> keep) {
    std::vector<store::Value> params;
    std::string in;
    for (const auto& symbol : symbols) {
        params.emplace_back(symbol);
        in += fmt::format("{}${}", in.empty() ? "" : ", ", params.size());
    }
    std::string pairs;
    for (const auto& [symbol, period] : keep) {
        params.emplace_back(symbol);
        params.emplace_back(period);
        pairs += fmt::format("{}(${}, ${})", pairs.empty() ? "" : ", ", params.size() - 1, params.size());
    }
    store.rows(fmt::format("DELETE FROM asset_stats WHERE symbol IN ({}){}", in,
                           pairs.empty() ? std::string()
                                         : fmt::format(" AND (symbol, period) NOT IN (VALUES {})", pairs)),
               params);
}

double risk_free_rate(store::Store& store, const std::string& setting) {
    if (setting != "auto") {
        double x = 0;
        std::from_chars(setting.data(), setting.data() + setting.size(), x);
        return x;
    }
    // ^IRX is the 13-week Treasury bill's yield in percent.
    const auto irx = daily_closes(store, "^IRX");
    if (irx.empty()) return 0.0;
    const double rate = irx.back().close / 100.0;
    if (rate < -0.1 || rate > 0.5) {
        util::log_warn("stats: the latest ^IRX close ({}) is no yield in percent: using a risk-free rate of 0 (set "
                       "stats.risk_free_rate, e.g. 0.04)",
                       irx.back().close);
        return 0.0;
    }
    return rate;
}

} // namespace

StatsResult derive_stats(store::Store& store, std::span<const std::string> symbols, const StatsSettings& settings,
                         bool dry_run) {
    StatsResult result;
    result.risk_free_rate = risk_free_rate(store, settings.risk_free_rate);
    const auto benchmark =
        settings.benchmark.empty() ? std::vector<DailyClose>() : daily_closes(store, settings.benchmark);

    static constexpr std::string_view k_stats_columns =
        "symbol, period, as_of, base_date, returns, roi, volatility, sharpe, sortino, max_drawdown, drawdown_peak, "
        "drawdown_trough, beta, benchmark, risk_free_rate";
    // Crypto is annualised over 365 days: one query for the whole list.
    std::set<std::string, std::less<>> crypto;
    for (const auto& row : store.rows("SELECT symbol FROM assets WHERE asset_class = 'crypto'", {}).rows)
        if (row.at(0)) crypto.insert(*row.at(0));
    // Written a batch of symbols at a time: one upsert and one delete per batch, not per symbol.
    std::vector<std::string> batch;
    std::vector<store::Value> stat_values;
    std::vector<std::pair<std::string, std::string>> kept;
    std::size_t stat_rows = 0;
    const auto flush = [&] {
        if (batch.empty()) return;
        upsert(store, "asset_stats", k_stats_columns, "symbol, period", stat_rows, stat_values);
        drop_other_periods(store, batch, kept);
        batch.clear();
        stat_values.clear();
        kept.clear();
        stat_rows = 0;
    };
    for (const auto& symbol : symbols) {
        const auto closes = stats_closes(store, symbol);
        const auto stats = compute_stats(closes, benchmark, result.risk_free_rate, crypto.contains(symbol));
        if (!stats.empty()) ++result.symbols;
        result.rows += stats.size();
        if (dry_run) continue;
        batch.push_back(symbol);
        stat_rows += stats.size();
        for (const auto& s : stats) {
            const auto has_beta = s.beta.has_value();
            kept.emplace_back(symbol, to_string(s.window));
            for (auto v : {store::Value(symbol), store::Value(std::string(to_string(s.window))), day_text(s.as_of),
                           day_text(s.base_day), store::Value(std::to_string(s.returns)), text(s.roi),
                           text(s.volatility), text(s.sharpe), text(s.sortino), text(s.max_drawdown),
                           day_text(s.drawdown_peak), day_text(s.drawdown_trough), text(s.beta),
                           has_beta ? store::Value(settings.benchmark) : store::Value(), text(result.risk_free_rate)})
                stat_values.push_back(std::move(v));
        }
        if (batch.size() == k_stats_batch_symbols) flush();
    }
    flush();
    if (!settings.benchmark.empty() && benchmark.empty() && result.rows > 0)
        // Info, not a warning: the default benchmark (SPY) missing from a store that tracks no ETFs is normal.
        util::log_info("stats: the benchmark {} has no stored daily bars: no beta (load it with etl historical, or "
                       "set stats.benchmark)",
                       settings.benchmark);
    const std::set<std::string, std::less<>> touched(symbols.begin(), symbols.end());
    for (const auto& [a, b] : settings.compare) {
        if (!touched.contains(a) && !touched.contains(b)) continue;
        const auto comparisons = compare(daily_bars(store, a), daily_bars(store, b));
        result.comparisons += comparisons.size();
        if (dry_run) continue;
        std::vector<store::Value> values;
        std::vector<std::string> periods;
        for (const auto& c : comparisons) {
            periods.emplace_back(to_string(c.window));
            for (auto v :
                 {store::Value(a), store::Value(b), store::Value(std::string(to_string(c.window))), day_text(c.as_of),
                  text(c.price_ratio), text(c.volume_ratio), text(c.roi_spread), text(c.correlation)})
                values.push_back(std::move(v));
        }
        upsert(store, "asset_comparisons",
               "symbol_a, symbol_b, period, as_of, price_ratio, volume_ratio, roi_spread, correlation",
               "symbol_a, symbol_b, period", comparisons.size(), values);
        drop_other_periods(store, "asset_comparisons", "symbol_a = $1 AND symbol_b = $2", {a, b}, periods);
    }
    return result;
}

DeriveResult derive_symbol(store::Store& store, std::string_view symbol, market::Timeframe timeframe,
                           std::optional<sys_seconds> changed_from, const DeriveOptions& options) {
    DeriveResult result;
    if (!options.full) {
        if (const auto last = store.last_indicator_ts(symbol, timeframe)) {
            const auto start = changed_from ? std::min(*changed_from, *last) : *last;
            const auto closes = valid_closes(store, symbol, timeframe, {start - lookback(timeframe), k_all_time.to});
            const auto start_s = start.time_since_epoch().count();
            const auto k =
                static_cast<std::size_t>(std::lower_bound(closes.begin(), closes.end(), start_s,
                                                          [](const Close& c, std::int64_t ts) { return c.ts < ts; }) -
                                         closes.begin());
            if (k >= k_lookback_bars) {
                CarriedState state;
                if (auto bar =
                        store.indicators_at(symbol, timeframe, sys_seconds(std::chrono::seconds(closes[k - 1].ts))))
                    state = bar->values;
                if (auto values = resume_indicators(closes, k, state)) {
                    result.bars_read = closes.size();
                    result.values = write(store, symbol, timeframe, start, *values, options.dry_run);
                    return result;
                }
            }
        }
    }
    const auto closes = valid_closes(store, symbol, timeframe, k_all_time);
    result.from_first_bar = true;
    result.bars_read = closes.size();
    result.values = write(store, symbol, timeframe, std::nullopt, compute_indicators(closes), options.dry_run);
    return result;
}

} // namespace etl::derive
