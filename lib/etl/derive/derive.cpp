#include "etl/derive/derive.hpp"

#include "etl/derive/closes.hpp"
#include "etl/derive/indicators.hpp"
#include "etl/derive/stats.hpp"
#include "etl/store/schema.hpp"
#include "etl/util/clock.hpp"
#include "etl/util/error.hpp"
#include "etl/util/json_writer.hpp"
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

std::vector<Close> valid_closes(store::Store& store, std::string_view symbol, market::Timeframe tf,
                                store::Window window) {
    std::vector<Close> closes;
    store.for_each_close(symbol, tf, window, true, [&](std::int64_t ts, double close) {
        closes.push_back({ts, close});
    });
    std::sort(closes.begin(), closes.end(), [](const Close& a, const Close& b) { return a.ts < b.ts; });
    return closes;
}

// `values` (in bar order, as compute_indicators gives them) as one indicator_bars row per bar.
std::vector<store::IndicatorBar> indicator_bars(const std::vector<IndicatorValue>& values) {
    std::vector<store::IndicatorBar> bars;
    for (const auto& v : values) {
        if (bars.empty() || bars.back().ts.time_since_epoch().count() != v.ts)
            bars.push_back({sys_seconds(std::chrono::seconds(v.ts)), {}});
        bars.back().values[static_cast<std::size_t>(v.indicator)] = v.value;
    }
    return bars;
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
    const auto on_conflict = fmt::format("ON CONFLICT ({}) DO UPDATE SET {}, computed_at = {}", key, set,
                                         store::schema::now_sql(store.dialect()));
    if (store.dialect() == store::Dialect::postgres) {
        // One parameter, a JSON array of the rows, typed by the table's own row type: a batch of thousands of
        // values costs no parse and bind of thousands of parameters.
        const auto column_names = names(columns);
        util::JsonWriter json;
        json.start_array();
        for (std::size_t r = 0; r < rows; ++r) {
            json.start_object();
            for (std::size_t c = 0; c < per_row; ++c) {
                json.key(column_names.at(c));
                if (const auto& v = values[r * per_row + c]) json.string(*v);
                else json.null();
            }
            json.end_object();
        }
        json.end_array();
        store.rows(fmt::format("INSERT INTO {0} ({1}) SELECT {1} FROM json_populate_recordset(NULL::{0}, $1) {2}",
                               table, columns, on_conflict),
                   {std::move(json).release()});
        return;
    }
    store.rows(fmt::format("INSERT INTO {} ({}) VALUES {} {}", table, columns, placeholders(rows, per_row),
                           on_conflict),
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

static constexpr std::string_view k_stats_columns =
    "symbol, period, as_of, base_date, returns, roi, volatility, sharpe, sortino, max_drawdown, drawdown_peak, "
    "drawdown_trough, beta, benchmark, risk_free_rate";

// The asset_stats rows of the symbols a derive goes through: computed from each symbol's kept closes, and
// written k_stats_batch_symbols symbols per upsert and per delete, not a statement per symbol.
class StatsWriter {
public:
    StatsWriter(store::Store& store, const StatsSettings& settings, bool dry_run, StatsResult& result)
        : m_store(store), m_settings(settings), m_dry_run(dry_run), m_result(result) {
        m_result.risk_free_rate = risk_free_rate(store, settings.risk_free_rate);
        if (!settings.benchmark.empty()) m_benchmark = daily_closes(store, settings.benchmark);
        // Crypto is annualised over 365 days: one query for the whole list.
        for (const auto& row : store.rows("SELECT symbol FROM assets WHERE asset_class = 'crypto'", {}).rows)
            if (row.at(0)) m_crypto.insert(*row.at(0));
    }

    // The statistics of `symbol` from `closes`: its valid daily closes in ts order, from at least the base of
    // its 5Y window on (or from its first bar). A symbol without closes loses its rows.
    void add(const std::string& symbol, std::span<const Close> closes) {
        std::vector<DailyClose> daily;
        daily.reserve(closes.size());
        for (const auto& c : closes) daily.push_back({c.ts / k_day_seconds, c.close, std::nullopt});
        const auto stats = compute_stats(daily, m_benchmark, m_result.risk_free_rate, m_crypto.contains(symbol));
        if (!stats.empty()) ++m_result.symbols;
        m_result.rows += stats.size();
        if (m_dry_run) return;
        m_batch.push_back(symbol);
        m_rows += stats.size();
        for (const auto& s : stats) {
            const auto has_beta = s.beta.has_value();
            m_kept.emplace_back(symbol, to_string(s.window));
            for (auto v :
                 {store::Value(symbol), store::Value(std::string(to_string(s.window))), day_text(s.as_of),
                  day_text(s.base_day), store::Value(std::to_string(s.returns)), text(s.roi), text(s.volatility),
                  text(s.sharpe), text(s.sortino), text(s.max_drawdown), day_text(s.drawdown_peak),
                  day_text(s.drawdown_trough), text(s.beta),
                  has_beta ? store::Value(m_settings.benchmark) : store::Value(), text(m_result.risk_free_rate)})
                m_values.push_back(std::move(v));
        }
        if (m_batch.size() == k_stats_batch_symbols) flush();
    }

    void flush() {
        if (m_batch.empty()) return;
        upsert(m_store, "asset_stats", k_stats_columns, "symbol, period", m_rows, m_values);
        drop_other_periods(m_store, m_batch, m_kept);
        m_batch.clear();
        m_values.clear();
        m_kept.clear();
        m_rows = 0;
    }

    void finish() {
        flush();
        if (!m_settings.benchmark.empty() && m_benchmark.empty() && m_result.rows > 0)
            // Info, not a warning: the default benchmark (SPY) missing from a store that tracks no ETFs is normal.
            util::log_info("stats: the benchmark {} has no stored daily bars: no beta (load it with etl historical, "
                           "or set stats.benchmark)",
                           m_settings.benchmark);
    }

private:
    store::Store& m_store;
    const StatsSettings& m_settings;
    bool m_dry_run;
    StatsResult& m_result;
    std::vector<DailyClose> m_benchmark;
    std::set<std::string, std::less<>> m_crypto;
    std::vector<std::string> m_batch;
    std::vector<store::Value> m_values;
    std::vector<std::pair<std::string, std::string>> m_kept;
    std::size_t m_rows = 0;
};

// Symbols whose resume points, kept closes and new bars a batch reads in one statement each.
constexpr std::size_t k_batch_symbols = 500;
// Indicator bars computed before they are written (one transaction): a full derive of long histories
// holds a few symbols' rows at a time, an incremental one a whole batch's.
constexpr std::size_t k_write_bars = 20'000;

std::size_t index_of(std::span<const Close> closes, std::int64_t ts) {
    return static_cast<std::size_t>(
        std::lower_bound(closes.begin(), closes.end(), ts, [](const Close& c, std::int64_t t) { return c.ts < t; }) -
        closes.begin());
}

// One target of a batch: the closes in hand, and where the computation goes on from.
struct Work {
    std::vector<Close> closes;                         // from the kept ones on (or every valid close of the symbol)
    std::size_t k = 0;                                 // the first bar to recompute, in closes
    std::optional<sys_seconds> start;                  // its instant (nullopt: no indicators stored yet)
    std::size_t stored = 0;                            // closes of the stored `closes` part (derive_closes)
    std::optional<std::vector<IndicatorValue>> values; // computed from the kept closes
    std::uint64_t read = 0;                            // bars read from price_bars
};

} // namespace

DeriveTotals derive_symbols(store::Store& store, market::Timeframe timeframe, std::span<const DeriveTarget> targets,
                            const DeriveOptions& options, const StatsSettings* stats,
                            const std::function<bool()>& stop) {
    DeriveTotals totals;
    std::optional<StatsWriter> stats_writer;
    if (stats && timeframe == market::Timeframe::day)
        stats_writer.emplace(store, *stats, options.dry_run, totals.stats);
    std::vector<store::IndicatorWrite> pending;
    std::size_t pending_bars = 0;
    const auto write = [&] {
        if (!pending.empty() && !options.dry_run) store.replace_indicators(timeframe, pending);
        pending.clear();
        pending_bars = 0;
    };
    for (std::size_t first = 0; first < targets.size() && !totals.interrupted; first += k_batch_symbols) {
        const auto batch = targets.subspan(first, std::min(k_batch_symbols, targets.size() - first));
        std::vector<std::string> names;
        names.reserve(batch.size());
        for (const auto& t : batch) names.push_back(t.symbol);
        const auto resume =
            options.full ? std::vector<store::DeriveResume>(batch.size()) : store.derive_resume(names, timeframe);

        // Go on from the kept closes where they reach the resume point: a batch reads only its new bars.
        std::vector<Work> work(batch.size());
        std::vector<std::size_t> kept_path;
        std::vector<store::SymbolInstant> new_from;
        std::vector<store::SymbolInstant> state_at;
        for (std::size_t i = 0; i < batch.size(); ++i) {
            const auto& last = resume[i].last_indicator;
            if (!last) continue;
            auto& w = work[i];
            w.start = batch[i].changed_from ? std::min(*batch[i].changed_from, *last) : *last;
            // Kept with the indicators of the newest bar that has them; a load since then dropped the
            // indicators its changes made stale, so the kept closes before the resume point are still the bars'.
            auto kept = unpack_closes(resume[i].closes);
            const auto recent = unpack_closes(resume[i].recent);
            if (!kept || !recent) continue;
            if (!kept->empty() && !recent->empty() && recent->front().ts <= kept->back().ts) continue;
            w.stored = kept->size();
            kept->insert(kept->end(), recent->begin(), recent->end());
            const auto last_s = last->time_since_epoch().count();
            const auto last_at = index_of(*kept, last_s);
            if (last_at == kept->size() || (*kept)[last_at].ts != last_s) continue;
            w.k = index_of(*kept, w.start->time_since_epoch().count());
            if (w.k < k_lookback_bars) continue;
            kept->resize(w.k);
            w.closes = std::move(*kept);
            kept_path.push_back(i);
            new_from.push_back({batch[i].symbol, *w.start});
            state_at.push_back({batch[i].symbol, sys_seconds(std::chrono::seconds(w.closes.back().ts))});
        }
        store.for_each_valid_close_from(new_from, timeframe, [&](std::size_t j, std::int64_t ts, double close) {
            auto& w = work[kept_path[j]];
            w.closes.push_back({ts, close});
            ++w.read;
        });
        const auto states = store.indicators_at(state_at, timeframe);
        for (std::size_t j = 0; j < kept_path.size(); ++j) {
            auto& w = work[kept_path[j]];
            if (states[j]) w.values = resume_indicators(w.closes, w.k, states[j]->values);
        }

        for (std::size_t i = 0; i < batch.size(); ++i) {
            if (stop && stop()) {
                totals.interrupted = true;
                break;
            }
            auto& w = work[i];
            const auto& symbol = batch[i].symbol;
            DeriveResult result;
            std::optional<sys_seconds> from = w.start;
            std::vector<IndicatorValue> values;
            const bool from_kept = w.values.has_value();
            if (from_kept) {
                values = std::move(*w.values);
            } else {
                // Every valid close of the symbol: go on from the stored state when there is one, else from the
                // first bar.
                w.closes = valid_closes(store, symbol, timeframe, k_all_time);
                w.read = w.closes.size();
                std::optional<std::vector<IndicatorValue>> resumed;
                if (!options.full && w.start) {
                    const auto k = index_of(w.closes, w.start->time_since_epoch().count());
                    if (k >= k_lookback_bars)
                        if (auto bar = store.indicators_at(symbol, timeframe,
                                                           sys_seconds(std::chrono::seconds(w.closes[k - 1].ts))))
                            resumed = resume_indicators(w.closes, k, bar->values);
                }
                if (resumed) {
                    values = std::move(*resumed);
                } else {
                    values = compute_indicators(w.closes);
                    from = std::nullopt;
                    result.from_first_bar = true;
                }
            }
            result.bars_read = w.read;
            result.values = values.size();
            const auto first_kept = first_kept_close(w.closes, timeframe);
            const auto kept = std::span<const Close>(w.closes).subspan(first_kept);
            if (stats_writer) stats_writer->add(symbol, kept);
            store::IndicatorWrite out{symbol, from, indicator_bars(values), std::nullopt, {}};
            if (from_kept && only_recent_changes(w.closes.size(), w.stored, w.k, first_kept))
                out.recent = pack_closes(std::span<const Close>(w.closes).subspan(w.stored));
            else {
                const auto older = kept.size() - std::min(kept.size(), k_recent_margin);
                out.closes = pack_closes(kept.first(older));
                out.recent = pack_closes(kept.subspan(older));
            }
            pending_bars += out.bars.size() + 1;
            pending.push_back(std::move(out));
            if (pending_bars >= k_write_bars) write();
            totals.symbols.push_back(result);
            std::vector<Close>().swap(w.closes);
        }
    }
    write();
    if (stats_writer) stats_writer->finish();
    return totals;
}

std::uint64_t derive_comparisons(store::Store& store, std::span<const std::string> symbols,
                                 const StatsSettings& settings, bool dry_run) {
    std::uint64_t rows = 0;
    const std::set<std::string, std::less<>> touched(symbols.begin(), symbols.end());
    for (const auto& [a, b] : settings.compare) {
        if (!touched.contains(a) && !touched.contains(b)) continue;
        const auto comparisons = compare(daily_bars(store, a), daily_bars(store, b));
        rows += comparisons.size();
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
    return rows;
}

} // namespace etl::derive
