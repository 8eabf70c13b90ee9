#include "etl/validate/validator.hpp"

#include "etl/market/validate.hpp"
#include "etl/migrate/mapping.hpp"
#include "etl/migrate/migrator.hpp"
#include "etl/migrate/source.hpp"
#include "etl/pg/connection.hpp"
#include "etl/store/schema.hpp"
#include "etl/util/clock.hpp"
#include "etl/util/error.hpp"
#include "etl/util/json_writer.hpp"
#include "etl/util/log.hpp"
#include "etl/validate/sql.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <future>
#include <map>
#include <memory>
#include <stdexcept>
#include <tuple>

namespace etl::validate {

using std::chrono::days;
using std::chrono::hours;
using std::chrono::sys_days;
using std::chrono::sys_seconds;

namespace {

bool has(const std::vector<std::string>& v, std::string_view x) { return std::find(v.begin(), v.end(), x) != v.end(); }

std::uint64_t to_count(const std::optional<std::string>& v) {
    std::int64_t n = 0;
    if (v) std::from_chars(v->data(), v->data() + v->size(), n);
    return n > 0 ? static_cast<std::uint64_t>(n) : 0;
}

// The temporary table `name` made typed (k integer, ts an instant) from its text twin `name`_txt.
void typed_sequence(store::Query& q, const std::string& name) {
    const bool pg = q.dialect() == store::Dialect::postgres;
    q.rows(fmt::format("DROP TABLE IF EXISTS {}.{}", pg ? "pg_temp" : "temp", name));
    if (pg) {
        q.rows(fmt::format("CREATE TEMP TABLE {0} AS SELECT CAST(k AS integer) AS k, CAST(ts AS timestamptz) AS ts "
                           "FROM {0}_txt",
                           name));
        q.rows(fmt::format("CREATE INDEX ON {} (ts)", name));
        q.rows(fmt::format("ANALYZE {}", name));
    } else {
        q.rows(fmt::format("CREATE TEMP TABLE {0} AS SELECT CAST(k AS INTEGER) AS k, ts FROM {0}_txt", name));
        q.rows(fmt::format("CREATE INDEX temp.{0}_ts ON {0} (ts)", name));
        q.rows(fmt::format("CREATE INDEX temp.{0}_k ON {0} (k)", name));
    }
}

std::string plural(std::uint64_t n, std::string_view one, std::string_view many) {
    return fmt::format("{} {}", n, n == 1 ? one : many);
}

} // namespace

Validator::Validator(store::Store& store, const market::TradingCalendar& calendar, ValidateOptions options,
                     Thresholds thresholds)
    : m_store(store), m_calendar(calendar), m_options(std::move(options)), m_thresholds(std::move(thresholds)) {}

void Validator::load_scope() {
    std::vector<store::Row> rows;
    auto add = [&](const market::Asset& a) {
        rows.push_back({a.symbol, std::string(market::to_string(a.asset_class)), a.active ? "1" : "0"});
        m_scope.push_back(a.symbol);
        (a.asset_class == market::AssetClass::crypto ? m_crypto : m_equities).push_back(a.symbol);
        if (!a.active) m_inactive.push_back(a.symbol);
    };
    if (!m_options.symbols.empty()) {
        for (const auto& symbol : m_options.symbols) {
            if (!m_options.shard.owns(symbol)) continue; // another shard's
            if (auto a = m_store.find_asset(symbol)) {
                add(*a);
            } else {
                util::log_warn("{} is not in assets: checked as an active stock", symbol);
                market::Asset stock;
                stock.symbol = symbol;
                add(stock);
            }
        }
    } else {
        for (const auto& a : m_store.list_assets(false))
            if (m_options.shard.owns(a.symbol)) add(a);
    }
    m_symbols = rows.size();
    m_store.load_temp_table("v_scope", std::vector<std::string>{"symbol", "asset_class", "active"}, rows);
    // Autovacuum never analyzes a temporary table: without this the planner guesses its size.
    if (m_store.dialect() == store::Dialect::postgres) m_store.rows("ANALYZE v_scope");
}

void Validator::load_calendar() {
    const sys_days today = std::chrono::floor<days>(m_options.now);
    const sys_days start = m_options.since.value_or(sys_days{std::chrono::year{1970} / 1 / 1});
    // Session hours are laid out for the last k_hourly_lookback days at most (or from --since when later).
    const sys_days hours_start = std::max(start, today - k_hourly_lookback);
    m_first_day = start.time_since_epoch().count();
    m_first_hour = sys_seconds{hours_start}.time_since_epoch().count() / 3600;
    m_session_of_day.assign(static_cast<std::size_t>(std::max<std::int64_t>(0, (today - start).count() + 1)), -1);
    m_ordinal_of_hour.assign(static_cast<std::size_t>(std::max<std::int64_t>(0, (today - hours_start).count() + 1)) *
                                 24,
                             -1);
    for (auto d = start; d <= today; d += days{1}) {
        const auto s = m_calendar.session_on(d);
        if (!s || s->close > m_options.now) continue;
        m_session_of_day[static_cast<std::size_t>((d - start).count())] = static_cast<std::int64_t>(m_sessions.size());
        m_sessions.push_back(*s);
        if (d < hours_start) continue;
        // Regular-session hour starts, as etl-hourly loads them: from the hour of the open to the last
        // hour that starts before the close (an early close has fewer).
        for (auto h = std::chrono::floor<hours>(s->open); h < s->close; h += hours{1}) {
            const auto slot = std::chrono::duration_cast<hours>(h.time_since_epoch()).count() - m_first_hour;
            if (slot >= 0 && static_cast<std::size_t>(slot) < m_ordinal_of_hour.size())
                m_ordinal_of_hour[static_cast<std::size_t>(slot)] = static_cast<std::int64_t>(m_hours.size());
            m_hours.emplace_back(h);
        }
    }
    if (m_store.dialect() == store::Dialect::postgres) return; // arrays in the statements instead
    std::vector<store::Row> session_rows;
    session_rows.reserve(m_sessions.size());
    for (std::size_t k = 0; k < m_sessions.size(); ++k)
        session_rows.push_back({std::to_string(k), util::format_instant(sys_seconds{m_sessions[k].date})});
    std::vector<store::Row> hour_rows;
    hour_rows.reserve(m_hours.size());
    for (std::size_t k = 0; k < m_hours.size(); ++k)
        hour_rows.push_back({std::to_string(k), util::format_instant(m_hours[k])});
    m_store.load_temp_table("v_sessions_t_txt", std::vector<std::string>{"k", "ts"}, session_rows);
    m_store.load_temp_table("v_hours_t_txt", std::vector<std::string>{"k", "ts"}, hour_rows);
    typed_sequence(m_store, "v_sessions_t");
    typed_sequence(m_store, "v_hours_t");
}

std::string Validator::instant_of(std::string_view unit, std::int64_t k) const {
    if (k < 0) return "?";
    const auto i = static_cast<std::size_t>(k);
    if (unit == "sessions") return i < m_sessions.size() ? util::format_instant(sys_seconds{m_sessions[i].date}) : "?";
    if (unit == "session hours") return i < m_hours.size() ? util::format_instant(m_hours[i]) : "?";
    const std::int64_t seconds = unit == "days" ? 86400 : 3600;
    return util::format_instant(sys_seconds{std::chrono::seconds{k * seconds}});
}

void Validator::run_family(const std::string& sql, std::vector<CheckResult>& results) {
    if (sql.empty()) return;
    const auto statement = sampled(sql);
    util::log_debug("validate: {}", statement);
    const auto started = std::chrono::steady_clock::now();
    const auto rows = m_store.rows(statement);
    util::log_debug("validate: {} rows in {:.3f} s", rows.rows.size(),
                    std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count());
    apply(rows, results);
}

void Validator::apply(const store::Rows& rows, std::vector<CheckResult>& results) const {
    for (const auto& r : rows.rows) {
        const auto& chk = r.at(0).value_or("");
        auto it = std::find_if(results.begin(), results.end(), [&](const auto& x) { return x.name == chk; });
        if (it == results.end()) throw std::logic_error(fmt::format("validate: a row for check '{}'", chk));
        it->failing = to_count(r.at(7));
        if (it->failing > 0) it->status = r.at(8).value_or("0") == "1" ? "fail" : std::string(to_string(it->level));
        Example e;
        e.symbol = r.at(1).value_or("");
        e.timeframe = r.at(2).value_or("");
        e.ts = r.at(3).value_or("");
        e.detail = r.at(5).value_or("");
        if (chk == "completeness") {
            // detail carries the unit ("sessions"); the range is ordinals (ts, ts_end).
            const auto n = to_count(r.at(6));
            const auto& unit = e.detail;
            const auto k1 = static_cast<std::int64_t>(to_count(r.at(3)));
            const auto k2 = static_cast<std::int64_t>(to_count(r.at(4)));
            e.ts = instant_of(unit, k1);
            const auto last = instant_of(unit, k2);
            const auto one = unit == "sessions"        ? "session"
                             : unit == "session hours" ? "session hour"
                             : unit == "days"          ? "day"
                                                       : "hour";
            e.detail = n == 1 ? fmt::format("1 missing {}: {}", one, e.ts)
                              : fmt::format("{} missing {} from {} to {}", n, unit, e.ts, last);
        }
        it->examples.push_back(std::move(e));
    }
}

std::vector<CheckResult> Validator::run() {
    std::vector<CheckResult> results;
    for (const auto& name : m_options.checks) {
        CheckResult r;
        r.name = name;
        r.level = m_thresholds.level_of(name);
        results.push_back(std::move(r));
    }
    auto result = [&](std::string_view name) -> CheckResult* {
        for (auto& r : results)
            if (r.name == name) return &r;
        return nullptr;
    };
    auto skip = [&](std::string_view name, std::string note) {
        if (auto* r = result(name)) {
            r->status = "skipped";
            r->note = std::move(note);
        }
    };

    if (m_store.dialect() == store::Dialect::postgres) {
        // JIT compiling these statements (hundreds of expressions) costs seconds, more than running them;
        // per-symbol aggregates over millions of bars want their hash tables in memory, not sorts on disk.
        m_store.rows("SET jit = off");
        m_store.rows("SET work_mem = '128MB'");
    }
    load_scope();
    if (m_symbols == 0) {
        for (auto& r : results) {
            r.status = "skipped";
            r.note = "no symbols to check";
        }
        return results;
    }
    load_calendar();

    SqlScope scope;
    scope.dialect = m_store.dialect();
    scope.timeframes = m_options.timeframes;
    if (m_options.since) scope.since = sys_seconds{*m_options.since};
    scope.now = m_options.now;
    scope.market_open = m_calendar.is_open(m_options.now);
    scope.equities = m_equities;
    scope.crypto = m_crypto;
    scope.inactive = m_inactive;
    scope.first_day = m_first_day;
    scope.first_hour = m_first_hour;
    if (scope.dialect == store::Dialect::postgres) {
        // Per slot: whether it holds an expected bar, and how many the slots up to it hold.
        const auto arrays = [](const std::vector<std::int64_t>& ordinal_of_slot, std::string& is,
                               std::string& through) {
            std::vector<std::int64_t> flags, counts;
            flags.reserve(ordinal_of_slot.size());
            counts.reserve(ordinal_of_slot.size());
            std::int64_t n = 0;
            for (const auto k : ordinal_of_slot) {
                flags.push_back(k >= 0 ? 1 : 0);
                n += k >= 0 ? 1 : 0;
                counts.push_back(n);
            }
            is = int_array(flags);
            through = int_array(counts);
        };
        arrays(m_session_of_day, scope.day_is_session, scope.sessions_through_day);
        arrays(m_ordinal_of_hour, scope.hour_is_session, scope.session_hours_through_hour);
    }
    scope.last_session_k = static_cast<std::int64_t>(m_sessions.size()) - 1;
    scope.last_hour_k = static_cast<std::int64_t>(m_hours.size()) - 1;
    // Freshness counts completed sessions back from the last one, on the calendar itself (not on the
    // sessions laid out from --since).
    const sys_days today = std::chrono::floor<days>(m_options.now);
    std::optional<market::Session> last = m_calendar.session_on(today);
    if (!last || last->close > m_options.now) last = m_calendar.previous_session(today);
    if (last) {
        auto cutoff = *last;
        int back = 0;
        for (; back < m_thresholds.freshness_max_sessions; ++back) {
            const auto before = m_calendar.previous_session(cutoff.date);
            if (!before) break;
            cutoff = *before;
        }
        scope.equity_fresh_cutoff = sys_seconds{cutoff.date};
        scope.equity_fresh_text =
            fmt::format("{} ({} before the last completed session, {})", util::format_date(cutoff.date),
                        plural(static_cast<std::uint64_t>(back), "session", "sessions"), util::format_date(last->date));
    } else {
        scope.equity_fresh_cutoff = sys_seconds{today};
        scope.equity_fresh_text = "today (no completed session in the calendar)";
    }
    scope.crypto_fresh_cutoff =
        sys_seconds{std::chrono::floor<days>(m_options.now) - days{1} - days{m_thresholds.freshness_max_sessions}};

    // spikes and stale judge the last lookback_days (unless --since says where to start), reading the
    // window and run of sessions before that as warm-up.
    if (!m_options.since) {
        const auto judged_from = [&](int lookback_days) -> std::optional<sys_seconds> {
            if (lookback_days <= 0) return std::nullopt;
            return sys_seconds{today - days{lookback_days}};
        };
        scope.spikes_from = judged_from(m_thresholds.spikes_lookback_days);
        scope.stale_from = judged_from(m_thresholds.stale_lookback_days);
        if (scope.spikes_from && scope.stale_from) {
            auto first = std::chrono::floor<days>(std::min(*scope.spikes_from, *scope.stale_from));
            // Back over the warm-up: the window of returns and the run, as sessions (crypto trades
            // every day, so its warm-up is inside this one), plus a margin.
            for (int i = 0; i < m_thresholds.spikes_window + m_thresholds.stale_sessions + 2; ++i)
                if (const auto before = m_calendar.previous_session(first)) first = before->date;
            scope.series_scan_from = sys_seconds{first - days{7}};
        }
    }

    const bool daily = has(m_options.timeframes, "1d");
    const bool pg = scope.dialect == store::Dialect::postgres;
    const bool series = (result("spikes") != nullptr || result("stale") != nullptr) && daily;
    // PostgreSQL runs the window functions of spikes and stale on one core: on a connection of their
    // own they run while the other families scan (which use the other cores).
    std::unique_ptr<pg::Connection> side;
    std::future<store::Rows> side_rows;
    if (series && pg && !m_options.parallel_url.empty()) {
        side = std::make_unique<pg::Connection>(m_options.parallel_url, "etl-validate (spikes, stale)");
        side->exec(fmt::format("SET jit = off; SET work_mem = '128MB'; SET TIME ZONE 'UTC'; SET statement_timeout = "
                               "'{}s'; SET lock_timeout = '{}s'",
                               m_options.statement_timeout_seconds, m_options.lock_timeout_seconds),
                   "setting up the session");
        const auto statement = sampled(series_sql(scope, m_thresholds, result("spikes"), result("stale")));
        util::log_debug("validate (second connection): {}", statement);
        side_rows = std::async(std::launch::async, [conn = side.get(), statement] {
            const auto r = conn->exec(statement, "checking spikes and stale");
            store::Rows out;
            for (int i = 0; i < r.rows(); ++i) {
                store::Row row;
                for (int c = 0; c < r.columns(); ++c)
                    row.push_back(r.is_null(i, c) ? std::nullopt : std::optional<std::string>(r.get(i, c)));
                out.rows.push_back(std::move(row));
            }
            return out;
        });
    }
    // Whatever ends this run early, the side statement is cancelled and waited for, never left behind.
    struct SideGuard {
        std::unique_ptr<pg::Connection>& conn;
        std::future<store::Rows>& rows;
        ~SideGuard() {
            // A cancel that reaches the server before the statement does is lost: ask until it has ended.
            while (rows.valid() && rows.wait_for(std::chrono::milliseconds{50}) != std::future_status::ready)
                conn->cancel_running();
        }
    } side_guard{side, side_rows};
    if (result("ohlc") || result("alignment"))
        run_family(bars_sql(scope, result("ohlc"), result("alignment")), results);
    if (result("duplicates")) {
        if (pg) skip("duplicates", "PostgreSQL's primary key (symbol, timeframe, ts) rules duplicates out");
        else run_family(duplicates_sql(scope), results);
    }
    if (result("completeness")) run_family(completeness_sql(scope, m_thresholds), results);
    if (result("freshness")) run_family(freshness_sql(scope, m_thresholds), results);
    if (result("spikes") || result("stale")) {
        if (side_rows.valid()) {
            // A signal cancels the main connection's statement; this one is cancelled here.
            bool cancelled = false;
            while (side_rows.wait_for(std::chrono::milliseconds{100}) != std::future_status::ready) {
                if (m_options.stop != nullptr && m_options.stop->load()) {
                    side->cancel_running();
                    cancelled = true;
                }
            }
            try {
                apply(side_rows.get(), results);
            } catch (const pg::DbError&) {
                if (cancelled)
                    throw Error(util::ExitCode::interrupted,
                                "interrupted while checking spikes and stale: the statement "
                                "was cancelled and nothing of it was written");
                throw;
            }
        } else if (daily) {
            run_family(series_sql(scope, m_thresholds, result("spikes"), result("stale")), results);
        } else {
            skip("spikes", "daily bars only: --timeframe leaves 1d out");
            skip("stale", "daily bars only: --timeframe leaves 1d out");
        }
    }
    if (result("drift")) {
        if (scope.market_open) skip("drift", "a session is in progress: drift is checked outside it");
        else run_family(drift_sql(scope, m_thresholds), results);
    }
    if (auto* r = result("parity")) {
        if (m_options.against.empty()) {
            r->status = "skipped";
            r->note = "needs --against sqlite:PATH";
        } else {
            parity(*r);
        }
    }
    return results;
}

void Validator::parity(CheckResult& result) {
    // The source side: every price row of the file that maps to a valid bar (what a migration would
    // load), per (symbol, timeframe). The file is read once, in order; the store side is aggregated in
    // SQL, and its closes are read only for the symbols whose counts and ends agree.
    migrate::Source source(m_options.against);
    const auto layout = source.recognise();
    const bool own = layout.layout == migrate::Layout::own_store;
    const auto* table = layout.find(own ? "price_bars" : "price_history");
    struct Side {
        std::uint64_t rows = 0;
        sys_seconds first{}, last{};
        std::uint64_t checksum = 0;
    };
    std::map<std::pair<std::string, std::string>, Side> file;
    std::uint64_t unmapped = 0;
    if (table != nullptr) {
        auto reader = source.read(*table, m_scope);
        migrate::Row row;
        while (reader.next(row)) {
            auto bar = own ? migrate::own_bar(*table, row) : migrate::stockula_bar(*table, row);
            if (!bar || !market::invalid_reason(*bar, bar->ts, bar->ts).empty()) {
                ++unmapped;
                continue;
            }
            const auto tf = std::string(market::to_code(bar->timeframe));
            if (!has(m_options.timeframes, tf)) continue;
            if (m_options.since && bar->ts < sys_seconds{*m_options.since}) continue;
            auto& s = file[{bar->symbol, tf}];
            s.first = s.rows == 0 ? bar->ts : std::min(s.first, bar->ts);
            s.last = s.rows == 0 ? bar->ts : std::max(s.last, bar->ts);
            ++s.rows;
            s.checksum += migrate::close_hash(bar->ts.time_since_epoch().count(), bar->close.value);
        }
    }
    // The store side, aggregated in the database.
    std::string tfs;
    for (const auto& tf : m_options.timeframes) tfs += fmt::format("{}'{}'", tfs.empty() ? "" : ", ", tf);
    const bool pg = m_store.dialect() == store::Dialect::postgres;
    const auto epoch = [&](const std::string& e) {
        return pg ? fmt::format("CAST(extract(epoch FROM {}) AS bigint)", e) : fmt::format("unixepoch({})", e);
    };
    const auto rows = m_store.rows(fmt::format(
        "SELECT p.symbol, p.timeframe, count(*), {}, {} FROM price_bars p JOIN v_scope v ON v.symbol = p.symbol"
        " WHERE p.timeframe IN ({}) AND {}{} GROUP BY p.symbol, p.timeframe",
        epoch("min(p.ts)"), epoch("max(p.ts)"), tfs, store::schema::valid_bar_sql(m_store.dialect(), "p"),
        m_options.since
            ? fmt::format(" AND p.ts >= {}", instant_literal(m_store.dialect(), sys_seconds{*m_options.since}))
            : std::string()));
    std::map<std::pair<std::string, std::string>, Side> stored;
    for (const auto& r : rows.rows) {
        auto& s = stored[{r.at(0).value_or(""), r.at(1).value_or("")}];
        s.rows = to_count(r.at(2));
        s.first = sys_seconds{std::chrono::seconds{static_cast<std::int64_t>(to_count(r.at(3)))}};
        s.last = sys_seconds{std::chrono::seconds{static_cast<std::int64_t>(to_count(r.at(4)))}};
    }
    auto differ = [&](const std::string& symbol, const std::string& tf, std::string detail, sys_seconds at) {
        ++result.failing;
        if (result.examples.size() < k_examples_kept)
            result.examples.push_back(
                {symbol, tf, at == sys_seconds{} ? "" : util::format_instant(at), std::move(detail)});
    };
    for (const auto& [key, f] : file) {
        const auto it = stored.find(key);
        if (it == stored.end()) {
            differ(key.first, key.second, fmt::format("the file has {} bars, the store none", f.rows), f.first);
            continue;
        }
        auto& s = it->second;
        if (s.rows != f.rows || s.first != f.first || s.last != f.last) {
            differ(key.first, key.second,
                   fmt::format("the file has {} bars {} .. {}, the store {} bars {} .. {}", f.rows,
                               util::format_instant(f.first), util::format_instant(f.last), s.rows,
                               util::format_instant(s.first), util::format_instant(s.last)),
                   f.first);
            continue;
        }
        std::uint64_t sum = 0;
        const auto tf = market::timeframe_from_code(key.second);
        if (!tf) continue;
        m_store.for_each_close(key.first, *tf, {f.first, f.last}, true,
                               [&](std::int64_t e, double close) { sum += migrate::close_hash(e, close); });
        if (sum != f.checksum)
            differ(key.first, key.second,
                   fmt::format("same {} bars {} .. {}, but the closes differ (checksum {:016x} in the file, {:016x} "
                               "in the store)",
                               f.rows, util::format_instant(f.first), util::format_instant(f.last), f.checksum, sum),
                   f.first);
    }
    for (const auto& [key, s] : stored)
        if (!file.contains(key))
            differ(key.first, key.second, fmt::format("the store has {} bars, the file none", s.rows), s.first);
    result.status = result.failing > 0 ? std::string(to_string(result.level)) : "pass";
    result.note =
        fmt::format("against {} ({} layout{})", m_options.against, migrate::to_string(layout.layout),
                    unmapped > 0
                        ? fmt::format("; {} file rows are no valid bar and, like such bars in the store, not compared",
                                      unmapped)
                        : std::string());
}

std::string samples_json(const CheckResult& result) {
    util::JsonWriter w;
    w.start_array();
    for (const auto& e : result.examples) {
        w.start_object().key("symbol").string(e.symbol).key("timeframe").string(e.timeframe);
        w.key("ts");
        if (e.ts.empty()) w.null();
        else w.string(e.ts);
        w.key("detail").string(e.detail).end_object();
    }
    w.end_array();
    return std::move(w).release();
}

std::int64_t record_results(store::Query& query, std::int64_t run_id, const std::string& scope, bool strict,
                            std::span<const CheckResult> results) {
    std::uint64_t warned = 0, failed = 0;
    for (const auto& r : results) {
        warned += r.status == "warn" ? 1U : 0U;
        failed += r.status == "fail" ? 1U : 0U;
    }
    const auto status = overall_status(results, strict);
    const auto ids = query.rows("INSERT INTO quality_runs (run_id, scope, strict, status, checks_run, checks_warn, "
                                "checks_fail) VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id",
                                {run_id > 0 ? store::Value(std::to_string(run_id)) : std::nullopt, scope,
                                 std::string(strict ? "1" : "0"), status, std::to_string(results.size()),
                                 std::to_string(warned), std::to_string(failed)});
    const auto id = ids.rows.at(0).at(0).value_or("0");
    for (const auto& r : results)
        query.rows("INSERT INTO quality_results (quality_run_id, check_name, level, status, failing, note, samples)"
                   " VALUES ($1, $2, $3, $4, $5, $6, $7)",
                   {id, r.name, std::string(to_string(r.level)), r.status, std::to_string(r.failing), r.note,
                    samples_json(r)});
    std::int64_t out = 0;
    std::from_chars(id.data(), id.data() + id.size(), out);
    return out;
}

} // namespace etl::validate
