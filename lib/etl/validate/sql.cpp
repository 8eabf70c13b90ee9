#include "etl/validate/sql.hpp"

#include "etl/util/clock.hpp"

#include <fmt/format.h>

#include <cmath>
#include <stdexcept>

namespace etl::validate {
namespace {

using store::Dialect;

// Prices at or above this are not finite for the checks (a double overflows near 1.8e308, and no market
// quotes anything near it).
constexpr const char* k_price_bound = "1e300";
// The prices the return-based checks (spikes, drift) compare: a ratio of two of them stays far inside a
// double, so no expression can overflow (a price outside is the ohlc check's business, or absurd).
std::string comparable(const std::string& col) { return fmt::format("({0} > 1e-30 AND {0} < 1e30)", col); }

bool pg(const SqlScope& s) { return s.dialect == Dialect::postgres; }

// Seconds since the epoch of a stored instant (NULL on SQLite for text that is no instant).
std::string epoch(const SqlScope& s, const std::string& col) {
    return pg(s) ? fmt::format("CAST(extract(epoch FROM {}) AS bigint)", col) : fmt::format("unixepoch({})", col);
}
// A stored instant as YYYY-MM-DDTHH:MM:SSZ text.
std::string ts_text(const SqlScope& s, const std::string& col) {
    return pg(s) ? fmt::format("to_char({} AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')", col)
                 : fmt::format("CAST({} AS TEXT)", col);
}
// Seconds since the epoch as YYYY-MM-DDTHH:MM:SSZ text.
std::string epoch_text(const SqlScope& s, const std::string& e) {
    return pg(s) ? fmt::format("to_char(to_timestamp({}) AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')", e)
                 : fmt::format("strftime('%Y-%m-%dT%H:%M:%SZ', {}, 'unixepoch')", e);
}
std::string text(const std::string& e) { return fmt::format("CAST({} AS TEXT)", e); }
std::string real(const SqlScope& s, const std::string& e) {
    return pg(s) ? fmt::format("CAST({} AS double precision)", e) : fmt::format("CAST({} AS REAL)", e);
}
// A double rounded to `digits` decimals, as text.
std::string rounded(const SqlScope& s, const std::string& e, int digits) {
    return pg(s) ? text(fmt::format("round(CAST({} AS numeric), {})", e, digits))
                 : text(fmt::format("round({}, {})", e, digits));
}
// 00:00 UTC of a stored instant's UTC day (comparable with stored instants).
std::string day_start(const SqlScope& s, const std::string& col) {
    return pg(s) ? fmt::format("(date_trunc('day', {} AT TIME ZONE 'UTC') AT TIME ZONE 'UTC')", col)
                 : fmt::format("strftime('%Y-%m-%dT00:00:00Z', {})", col);
}
std::string positive_finite(const std::string& col) {
    return fmt::format("({0} > 0 AND {0} < {1})", col, k_price_bound);
}

std::string timeframe_list(const SqlScope& s) {
    std::string out;
    for (const auto& tf : s.timeframes) out += fmt::format("{}'{}'", out.empty() ? "" : ", ", tf);
    return out.empty() ? "''" : out;
}
bool checks_timeframe(const SqlScope& s, std::string_view tf) {
    for (const auto& t : s.timeframes)
        if (t == tf) return true;
    return false;
}
std::string since_filter(const SqlScope& s, const std::string& col) {
    return s.since ? fmt::format(" AND {} >= {}", col, instant_literal(s.dialect, *s.since)) : std::string();
}
std::string number(double v) { return fmt::format("{:.17g}", v); }

// |c / pc - 1| > bound, as a test of the log return r = ln(c / pc).
std::string absolute_bound(double bound) {
    if (bound >= 1.0) return fmt::format("r > {}", number(std::log1p(bound)));
    return fmt::format("(r > {} OR r < {})", number(std::log1p(bound)), number(std::log1p(-bound)));
}

// The rows of one timeframe and class group numbered along their expected sequence, as
// (symbol, timeframe, k): the gaps between consecutive k are the missing bars.
struct GapSource {
    std::string name;     // CTE prefix
    std::string numbered; // SELECT symbol, timeframe, k ...
    std::int64_t last_k;  // the last k expected
    std::string unit;     // "sessions", "session hours", "days", "hours"
    std::string table;    // v_sessions_t / v_hours_t: k -> ts; "" when k * seconds is the epoch
    int seconds = 0;      // 86400 or 3600 when `table` is ""
};

// The clean case costs one pass and a hash aggregate: per symbol the first and last k and the count;
// only the symbols whose count falls short are numbered again, in order, to find their gaps.
std::string gap_ctes(const GapSource& g) {
    return fmt::format(
        "b_{0} AS NOT MATERIALIZED (SELECT symbol, timeframe, k FROM ({1}) b WHERE k <= {2}),"
        " a_{0} AS (SELECT symbol, timeframe, min(k) AS first_k, max(k) AS last_k, count(*) AS n FROM b_{0}"
        " GROUP BY symbol, timeframe),"
        " d_{0} AS (SELECT symbol, timeframe, first_k, last_k FROM a_{0} WHERE last_k - first_k + 1 > n OR last_k < "
        "{2}),"
        " g_{0} AS (SELECT b.symbol, b.timeframe, b.k, lag(b.k) OVER (PARTITION BY b.symbol, b.timeframe ORDER BY b.k)"
        " AS prev, d.first_k, d.last_k FROM b_{0} b JOIN d_{0} d ON d.symbol = b.symbol AND d.timeframe = b.timeframe),"
        " m_{0} AS (SELECT symbol, timeframe, prev + 1 AS k1, k - 1 AS k2, first_k FROM g_{0} WHERE k - prev > 1"
        " UNION ALL SELECT symbol, timeframe, last_k + 1 AS k1, {2} AS k2, first_k FROM g_{0} WHERE k = last_k AND "
        "last_k < {2})",
        g.name, g.numbered, g.last_k);
}

std::string gap_select(const SqlScope& s, const GapSource& g, double ratio) {
    const std::string ts1 = g.table.empty() ? epoch_text(s, fmt::format("m.k1 * {}", g.seconds)) : ts_text(s, "t1.ts");
    const std::string ts2 = g.table.empty() ? epoch_text(s, fmt::format("m.k2 * {}", g.seconds)) : ts_text(s, "t2.ts");
    const std::string joins =
        g.table.empty() ? std::string()
                        : fmt::format(" LEFT JOIN {0} t1 ON t1.k = m.k1 LEFT JOIN {0} t2 ON t2.k = m.k2", g.table);
    return fmt::format(
        "SELECT 'completeness' AS chk, m.symbol, m.timeframe, {0} AS ts, {1} AS ts_end, '{2}' AS detail,"
        " m.k2 - m.k1 + 1 AS weight, CASE WHEN sum(m.k2 - m.k1 + 1) OVER (PARTITION BY m.symbol, m.timeframe) >"
        " {3} * ({4} - m.first_k + 1) THEN 1 ELSE 0 END AS severe FROM m_{5} m{6}",
        ts1, ts2, g.unit, number(ratio), g.last_k, g.name, joins);
}

} // namespace

std::string instant_literal(store::Dialect d, std::chrono::sys_seconds t) {
    const auto text = util::format_instant(t);
    return d == Dialect::postgres ? fmt::format("CAST('{}' AS timestamptz)", text) : fmt::format("'{}'", text);
}

std::string bars_sql(const SqlScope& s, bool ohlc, bool alignment) {
    if (!ohlc && !alignment) throw std::logic_error("bars_sql: no check asked");
    std::string ohlc_case = "CASE";
    for (const auto* col : {"open", "high", "low", "close"})
        ohlc_case += fmt::format(" WHEN NOT {0} THEN '{1} ' || {2} || ' is not a positive finite number'",
                                 positive_finite(fmt::format("p.{}", col)), col, text(fmt::format("p.{}", col)));
    ohlc_case += " WHEN p.high < p.open OR p.high < p.close THEN 'high ' || " + text("p.high") +
                 " || ' is below max(open ' || " + text("p.open") + " || ', close ' || " + text("p.close") + " || ')'";
    ohlc_case += " WHEN p.low > p.open OR p.low > p.close THEN 'low ' || " + text("p.low") +
                 " || ' is above min(open ' || " + text("p.open") + " || ', close ' || " + text("p.close") + " || ')'";
    ohlc_case += fmt::format(" WHEN p.volume IS NOT NULL AND NOT (p.volume >= 0 AND p.volume < {}) THEN 'volume ' || "
                             "{} || ' is negative or not finite'",
                             k_price_bound, text("p.volume"));
    ohlc_case += " END";

    const auto e = epoch(s, "p.ts");
    std::string align_case = "CASE";
    if (!pg(s)) {
        align_case += fmt::format(" WHEN {} IS NULL THEN 'ts ' || {} || ' is not an instant'", e, text("p.ts"));
        align_case += " WHEN strftime('%Y-%m-%dT%H:%M:%SZ', p.ts) <> p.ts THEN 'ts ' || p.ts || ' is not written "
                      "YYYY-MM-DDTHH:MM:SSZ'";
    }
    align_case += fmt::format(" WHEN p.timeframe = '1h' AND {} % 3600 <> 0 THEN 'hourly bar not on the hour'", e);
    align_case +=
        fmt::format(" WHEN p.timeframe <> '1h' AND {} % 86400 <> 0 THEN p.timeframe || ' bar not at 00:00 UTC'", e);
    align_case += " END";

    std::string out =
        fmt::format("WITH bad AS (SELECT * FROM (SELECT p.symbol, p.timeframe, p.ts, {} AS ohlc, {} AS alignment"
                    " FROM price_bars p JOIN v_scope v ON v.symbol = p.symbol WHERE p.timeframe IN ({}){}) x"
                    " WHERE {})",
                    ohlc ? ohlc_case : "NULL", alignment ? align_case : "NULL", timeframe_list(s),
                    since_filter(s, "p.ts"),
                    ohlc && alignment ? "ohlc IS NOT NULL OR alignment IS NOT NULL"
                    : ohlc            ? "ohlc IS NOT NULL"
                                      : "alignment IS NOT NULL");
    std::vector<std::string> parts;
    if (ohlc)
        parts.push_back(fmt::format("SELECT 'ohlc' AS chk, symbol, timeframe, {} AS ts, NULL AS ts_end, ohlc AS detail,"
                                    " 1 AS weight, 0 AS severe FROM bad WHERE ohlc IS NOT NULL",
                                    ts_text(s, "ts")));
    if (alignment)
        parts.push_back(fmt::format("SELECT 'alignment' AS chk, symbol, timeframe, {} AS ts, NULL AS ts_end, alignment "
                                    "AS detail, 1 AS weight, 0 AS severe FROM bad WHERE alignment IS NOT NULL",
                                    ts_text(s, "ts")));
    out += " " + parts[0];
    for (std::size_t i = 1; i < parts.size(); ++i) out += " UNION ALL " + parts[i];
    return out;
}

std::string duplicates_sql(const SqlScope& s) {
    if (pg(s)) throw std::logic_error("duplicates_sql: PostgreSQL's primary key rules duplicates out");
    return fmt::format(
        "SELECT 'duplicates' AS chk, p.symbol, p.timeframe, strftime('%Y-%m-%dT%H:%M:%SZ', min(p.ts)) AS ts,"
        " NULL AS ts_end, count(*) || ' rows for one instant: ' || group_concat(p.ts, ', ') AS detail,"
        " count(*) - 1 AS weight, 0 AS severe"
        " FROM price_bars p JOIN v_scope v ON v.symbol = p.symbol"
        " WHERE p.timeframe IN ({}){} AND unixepoch(p.ts) IS NOT NULL"
        " GROUP BY p.symbol, p.timeframe, unixepoch(p.ts) HAVING count(*) > 1",
        timeframe_list(s), since_filter(s, "p.ts"));
}

std::string completeness_sql(const SqlScope& s, const Thresholds& t) {
    std::vector<GapSource> sources;
    const auto now_epoch = s.now.time_since_epoch().count();
    const auto since = since_filter(s, "p.ts");
    if (checks_timeframe(s, "1d")) {
        if (s.last_session_k >= 0)
            sources.push_back({"ed",
                               "SELECT p.symbol, p.timeframe, c.k FROM price_bars p JOIN v_scope v ON v.symbol = "
                               "p.symbol AND v.asset_class <> 'crypto' JOIN v_sessions_t c ON c.ts = p.ts WHERE "
                               "p.timeframe = '1d'" +
                                   since,
                               s.last_session_k, "sessions", "v_sessions_t", 0});
        sources.push_back({"cd",
                           fmt::format("SELECT p.symbol, p.timeframe, {0} / 86400 AS k FROM price_bars p JOIN v_scope "
                                       "v ON v.symbol = p.symbol AND v.asset_class = 'crypto' WHERE p.timeframe = "
                                       "'1d'{1} AND {0} % 86400 = 0",
                                       epoch(s, "p.ts"), since),
                           now_epoch / 86400 - 1, "days", "", 86400});
    }
    if (checks_timeframe(s, "1h")) {
        if (s.last_hour_k >= 0)
            sources.push_back({"eh",
                               "SELECT p.symbol, p.timeframe, c.k FROM price_bars p JOIN v_scope v ON v.symbol = "
                               "p.symbol AND v.asset_class <> 'crypto' JOIN v_hours_t c ON c.ts = p.ts WHERE "
                               "p.timeframe = '1h'" +
                                   since,
                               s.last_hour_k, "session hours", "v_hours_t", 0});
        sources.push_back({"ch",
                           fmt::format("SELECT p.symbol, p.timeframe, {0} / 3600 AS k FROM price_bars p JOIN v_scope v "
                                       "ON v.symbol = p.symbol AND v.asset_class = 'crypto' WHERE p.timeframe = "
                                       "'1h'{1} AND {0} % 3600 = 0",
                                       epoch(s, "p.ts"), since),
                           now_epoch / 3600 - 1, "hours", "", 3600});
    }
    if (sources.empty()) return {};
    std::string ctes;
    std::string selects;
    for (const auto& g : sources) {
        ctes += (ctes.empty() ? "WITH " : ", ") + gap_ctes(g);
        selects += (selects.empty() ? " " : " UNION ALL ") + gap_select(s, g, t.max_missing_ratio);
    }
    return ctes + selects;
}

std::string freshness_sql(const SqlScope& s, const Thresholds& t) {
    std::string out;
    if (checks_timeframe(s, "1d")) {
        out = fmt::format(
            "SELECT 'freshness' AS chk, symbol, '1d' AS timeframe, {0} AS ts, NULL AS ts_end,"
            " CASE WHEN last IS NULL THEN 'no daily bar' WHEN asset_class = 'crypto' THEN 'latest daily bar is before "
            "{1}' ELSE 'latest daily bar is before {2}' END AS detail, 1 AS weight, 0 AS severe"
            " FROM (SELECT v.symbol, v.asset_class, (SELECT max(p.ts) FROM price_bars p WHERE p.symbol = v.symbol AND "
            "p.timeframe = '1d') AS last FROM v_scope v WHERE v.active = '1') x"
            " WHERE last IS NULL OR last < CASE WHEN asset_class = 'crypto' THEN {3} ELSE {4} END",
            ts_text(s, "last"),
            fmt::format("{} ({} UTC day{} before the last completed day)",
                        util::format_date(std::chrono::floor<std::chrono::days>(s.crypto_fresh_cutoff)),
                        t.freshness_max_sessions, t.freshness_max_sessions == 1 ? "" : "s"),
            s.equity_fresh_text, instant_literal(s.dialect, s.crypto_fresh_cutoff),
            instant_literal(s.dialect, s.equity_fresh_cutoff));
    }
    // latest_prices: crypto always, the others while a session is in progress.
    const auto cutoff = s.now - std::chrono::minutes{t.freshness_max_minutes};
    out += fmt::format("{}SELECT 'freshness' AS chk, v.symbol, 'latest' AS timeframe, {} AS ts, NULL AS ts_end,"
                       " 'latest price is more than {} minutes old' AS detail, 1 AS weight, 0 AS severe"
                       " FROM v_scope v JOIN latest_prices l ON l.symbol = v.symbol"
                       " WHERE v.active = '1' AND (v.asset_class = 'crypto'{}) AND l.as_of < {}",
                       out.empty() ? "" : " UNION ALL ", ts_text(s, "l.as_of"), t.freshness_max_minutes,
                       s.market_open ? " OR 1 = 1" : "", instant_literal(s.dialect, cutoff));
    return out;
}

std::string series_sql(const SqlScope& s, const Thresholds& t, bool spikes, bool stale) {
    if (!spikes && !stale) throw std::logic_error("series_sql: no check asked");
    const int w = t.spikes_window;
    const int k = t.stale_sessions;
    // One ordering per symbol, and running sums over it: a statistic over the previous w rows is the
    // difference of two running sums (lag), so each row costs the same whatever w and k are (a sliding
    // frame would be recomputed row by row).
    const std::string ord = "PARTITION BY symbol, timeframe ORDER BY ts";
    std::string out = fmt::format(
        "WITH s AS (SELECT p.symbol, p.timeframe, p.ts, {0} AS c, {1} AS v FROM price_bars p JOIN v_scope v ON"
        " v.symbol = p.symbol WHERE p.timeframe = '1d'{2} AND {3}),"
        " q AS (SELECT s.*, lag(c) OVER ({4}) AS pc FROM s),"
        " e AS (SELECT q.*, ln(c / pc) AS r, CASE WHEN c = pc THEN 1 ELSE 0 END AS same,"
        " CASE WHEN v > 0 THEN 1 ELSE 0 END AS traded FROM q),"
        " cum AS (SELECT e.*, coalesce(sum(r) OVER ({4} ROWS UNBOUNDED PRECEDING), 0) AS s1,"
        " coalesce(sum(r * r) OVER ({4} ROWS UNBOUNDED PRECEDING), 0) AS s2, count(r) OVER ({4} ROWS UNBOUNDED "
        "PRECEDING) AS sn, sum(same) OVER ({4} ROWS UNBOUNDED PRECEDING) AS se, sum(traded) OVER ({4} ROWS "
        "UNBOUNDED PRECEDING) AS st FROM e),"
        " l AS (SELECT cum.*, lag(ts, {6}) OVER ({4}) AS run_from,"
        " lag(s1) OVER ({4}) - coalesce(lag(s1, {5}) OVER ({4}), 0) AS sum1,"
        " lag(s2) OVER ({4}) - coalesce(lag(s2, {5}) OVER ({4}), 0) AS sum2,"
        " lag(sn) OVER ({4}) - coalesce(lag(sn, {5}) OVER ({4}), 0) AS n,"
        " CASE WHEN lag(se, {6}) OVER ({4}) IS NOT NULL AND se - lag(se, {6}) OVER ({4}) = {6} AND"
        " st - coalesce(lag(st, {7}) OVER ({4}), 0) = {7} THEN 1 ELSE 0 END AS stale_now,"
        " CASE WHEN lag(se, {7}) OVER ({4}) IS NOT NULL AND lag(se) OVER ({4}) - lag(se, {7}) OVER ({4}) = {6} AND"
        " lag(st) OVER ({4}) - coalesce(lag(st, {8}) OVER ({4}), 0) = {7} THEN 1 ELSE 0 END AS stale_before"
        " FROM cum),"
        " z AS (SELECT l.*, CASE WHEN n > 1 AND sum2 - sum1 * sum1 / n > 0 THEN sqrt((sum2 - sum1 * sum1 / n) /"
        " (n - 1)) ELSE 0 END AS sd FROM l)",
        real(s, "p.close"), real(s, "p.volume"), since_filter(s, "p.ts"), comparable("p.close"), ord, w + 1, k - 1, k,
        k + 1);
    std::vector<std::string> parts;
    if (spikes)
        parts.push_back(fmt::format(
            "SELECT 'spikes' AS chk, symbol, timeframe, {0} AS ts, NULL AS ts_end, 'close ' || {1} || ' after ' || {2} "
            "|| ': a return of ' || {3} || '%' || CASE WHEN n = {4} AND sd > 0 THEN ', ' || {5} || ' standard "
            "deviations of the previous {4} returns' ELSE '' END AS detail, 1 AS weight, 0 AS severe FROM z"
            " WHERE r IS NOT NULL AND ({6} OR (n = {4} AND abs(r) > {7} * sd))",
            ts_text(s, "ts"), text("c"), text("pc"), rounded(s, "(c / pc - 1) * 100", 2), w,
            rounded(s, "abs(r) / (CASE WHEN sd > 0 THEN sd ELSE 1 END)", 1), absolute_bound(t.spikes_max_abs_return),
            number(t.spikes_k)));
    if (stale)
        parts.push_back(
            fmt::format("SELECT 'stale' AS chk, symbol, timeframe, {0} AS ts, {1} AS ts_end, 'close ' || {2} "
                        "|| ' unchanged for {3} or more bars in a row while volume traded' AS detail, 1 AS weight, "
                        "0 AS severe FROM z WHERE stale_now = 1 AND stale_before = 0",
                        ts_text(s, "run_from"), ts_text(s, "ts"), text("c"), k));
    out += " " + parts[0];
    for (std::size_t i = 1; i < parts.size(); ++i) out += " UNION ALL " + parts[i];
    return out;
}

std::string drift_sql(const SqlScope& s, const Thresholds& t) {
    return fmt::format(
        "SELECT 'drift' AS chk, x.symbol, 'latest' AS timeframe, {0} AS ts, NULL AS ts_end, 'latest price ' || {1} || "
        "' is ' || {2} || '% from the daily close ' || {3} || ' of ' || {4} AS detail, 1 AS weight, 0 AS severe"
        " FROM (SELECT v.symbol, l.price, l.as_of, p.close, p.ts FROM v_scope v JOIN latest_prices l ON l.symbol = "
        "v.symbol JOIN price_bars p ON p.symbol = v.symbol AND p.timeframe = '1d' AND p.ts = (SELECT max(q.ts) FROM "
        "price_bars q WHERE q.symbol = v.symbol AND q.timeframe = '1d') WHERE v.asset_class <> 'crypto' AND {5} AND "
        "{6} AND p.ts >= {7}) x WHERE abs({8} / {9} - 1) * 100 > {10}",
        ts_text(s, "x.as_of"), text("x.price"),
        rounded(s, fmt::format("({} / {} - 1) * 100", real(s, "x.price"), real(s, "x.close")), 2), text("x.close"),
        ts_text(s, "x.ts"), positive_finite("p.close"), positive_finite("l.price"), day_start(s, "l.as_of"),
        real(s, "x.price"), real(s, "x.close"), number(t.drift_max_pct));
}

std::string sampled(const std::string& family, std::size_t keep) {
    return fmt::format(
        "WITH f AS ({}) SELECT chk, symbol, timeframe, ts, ts_end, detail, weight, total, any_severe FROM"
        " (SELECT f.*, sum(weight) OVER (PARTITION BY chk) AS total, max(severe) OVER (PARTITION BY chk)"
        " AS any_severe, row_number() OVER (PARTITION BY chk ORDER BY symbol, timeframe, ts) AS rn FROM "
        "f) x WHERE rn <= {} ORDER BY chk, rn",
        family, keep);
}

} // namespace etl::validate
