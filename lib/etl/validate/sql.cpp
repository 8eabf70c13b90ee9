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
    // date_part is double precision (extract is numeric, several times slower per row).
    return pg(s) ? fmt::format("CAST(floor(date_part('epoch', {})) AS bigint)", col)
                 : fmt::format("unixepoch({})", col);
}

enum class Group { all, equities, crypto };

// `col` names a symbol in scope (of `group`).
std::string in_scope(const SqlScope& s, const std::string& col, Group group) {
    if (!pg(s)) {
        return fmt::format("{} IN (SELECT symbol FROM v_scope{})", col,
                           group == Group::all        ? ""
                           : group == Group::equities ? " WHERE asset_class <> 'crypto'"
                                                      : " WHERE asset_class = 'crypto'");
    }
    std::vector<std::string> symbols;
    if (group != Group::crypto) symbols = s.equities;
    if (group != Group::equities) symbols.insert(symbols.end(), s.crypto.begin(), s.crypto.end());
    return fmt::format("{} = ANY({})", col, text_array(symbols));
}

// `col` names an active symbol. An inactive asset's bars end when it was last named (SPEC section 2):
// only the gaps inside its bars count, not the sessions after them.
std::string is_active(const SqlScope& s, const std::string& col) {
    if (!pg(s)) return fmt::format("{} NOT IN (SELECT symbol FROM v_scope WHERE active = '0')", col);
    return fmt::format("NOT {} = ANY({})", col, text_array(s.inactive));
}

// An ordinal as text that sorts as the number does.
std::string padded(const SqlScope& s, const std::string& e) {
    return pg(s) ? fmt::format("lpad(CAST({} AS text), 12, '0')", e) : fmt::format("printf('%012d', {})", e);
}
// A stored instant as YYYY-MM-DDTHH:MM:SSZ text.
std::string ts_text(const SqlScope& s, const std::string& col) {
    return pg(s) ? fmt::format("to_char({} AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')", col)
                 : fmt::format("CAST({} AS TEXT)", col);
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

// The bars of one timeframe and class group numbered along their expected sequence, as
// (symbol, timeframe, k), k NULL or negative for a bar on no expected slot: the gaps between
// consecutive k are the missing bars.
struct GapSource {
    std::string name;     // CTE suffix
    std::string numbered; // SELECT symbol, timeframe, k ...
    std::int64_t last_k;  // the last k expected
    std::string unit;     // "sessions", "session hours", "days", "hours"
};

// The clean case costs one pass and a hash aggregate: per symbol the first and last k and the count,
// which also give the missing bars after the last one. Only symbols with a gap inside their range are
// numbered again, in order, to find where.
std::string gap_ctes(const SqlScope& s, const GapSource& g) {
    return fmt::format(
        "b_{0} AS NOT MATERIALIZED (SELECT symbol, timeframe, k FROM ({1}) b WHERE k >= 0 AND k <= {2}),"
        // FILTER, not WHERE: the planner then sizes the aggregate for every bar and hashes it.
        " a_{0} AS (SELECT symbol, timeframe, min(k) FILTER (WHERE k >= 0 AND k <= {2}) AS first_k,"
        " max(k) FILTER (WHERE k >= 0 AND k <= {2}) AS last_k, count(*) FILTER (WHERE k >= 0 AND k <= {2}) AS n"
        " FROM ({1}) b GROUP BY symbol, timeframe HAVING count(*) FILTER (WHERE k >= 0 AND k <= {2}) > 0),"
        " g_{0} AS (SELECT b.symbol, b.timeframe, b.k, lag(b.k) OVER (PARTITION BY b.symbol, b.timeframe ORDER BY b.k)"
        " AS prev, a.first_k, a.last_k, a.n FROM b_{0} b JOIN a_{0} a ON a.symbol = b.symbol AND a.timeframe ="
        " b.timeframe WHERE a.last_k - a.first_k + 1 > a.n),"
        " m_{0} AS (SELECT symbol, timeframe, prev + 1 AS k1, k - 1 AS k2, first_k, last_k, n FROM g_{0} WHERE k - prev"
        " > 1 UNION ALL SELECT symbol, timeframe, last_k + 1 AS k1, {2} AS k2, first_k, last_k, n FROM a_{0} WHERE"
        " last_k < {2} AND {3})",
        g.name, g.numbered, g.last_k, is_active(s, "symbol"));
}

std::string gap_select(const SqlScope& s, const GapSource& g, double ratio) {
    return fmt::format(
        "SELECT 'completeness' AS chk, symbol, timeframe, {0} AS ts, {1} AS ts_end, '{2}' AS detail,"
        " k2 - k1 + 1 AS weight, CASE WHEN {6} THEN CASE WHEN {3} - first_k + 1 - n > {4} * ({3} - first_k + 1) THEN"
        " 1 ELSE 0 END ELSE CASE WHEN last_k - first_k + 1 - n > {4} * (last_k - first_k + 1) THEN 1 ELSE 0 END END"
        " AS severe FROM m_{5}",
        padded(s, "k1"), padded(s, "k2"), g.unit, g.last_k, number(ratio), g.name, is_active(s, "symbol"));
}

} // namespace

std::string int_array(const std::vector<std::int64_t>& values) {
    std::string out = "{";
    for (const auto v : values) {
        if (out.size() > 1) out += ',';
        out += std::to_string(v);
    }
    return out + "}";
}

std::string text_array(const std::vector<std::string>& values) {
    // An array literal of quoted elements, itself a quoted SQL literal: \ and " escaped inside an
    // element, ' doubled for the SQL string.
    std::string out = "CAST('{";
    for (const auto& v : values) {
        if (out.size() > 7) out += ',';
        out += '"';
        for (const char c : v) {
            if (c == '\\' || c == '"') out += '\\';
            if (c == '\'') out += '\'';
            out += c;
        }
        out += '"';
    }
    return out + "}' AS text[])";
}

std::string instant_literal(store::Dialect d, std::chrono::sys_seconds t) {
    const auto text = util::format_instant(t);
    return d == Dialect::postgres ? fmt::format("CAST('{}' AS timestamptz)", text) : fmt::format("'{}'", text);
}

std::string bars_sql(const SqlScope& s, bool ohlc, bool alignment) {
    if (!ohlc && !alignment) throw std::logic_error("bars_sql: no check asked");
    // The valid bar first, in six comparisons: low > 0 with low <= open, close <= high < bound makes
    // every price positive and finite (a NaN, above every number in PostgreSQL's order, and text, above
    // every number in SQLite's, fail one of them); only a bar that fails is taken apart for its reason.
    std::string ohlc_case = fmt::format(
        "CASE WHEN p.low > 0 AND p.low <= p.open AND p.low <= p.close AND p.high >= p.open AND p.high >= p.close AND "
        "p.high < {0} AND (p.volume IS NULL OR (p.volume >= 0 AND p.volume < {0})) THEN NULL",
        k_price_bound);
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

    std::string align_case = "CASE";
    if (pg(s)) {
        // Truncation in UTC, whatever the session's TimeZone; sub-second offsets count too.
        align_case += " WHEN p.timeframe = '1h' AND date_trunc('hour', p.ts AT TIME ZONE 'UTC') <> p.ts AT TIME ZONE "
                      "'UTC' THEN 'hourly bar not on the hour'";
        align_case += " WHEN p.timeframe <> '1h' AND date_trunc('day', p.ts AT TIME ZONE 'UTC') <> p.ts AT TIME ZONE "
                      "'UTC' THEN p.timeframe || ' bar not at 00:00 UTC'";
    } else {
        const auto e = epoch(s, "p.ts");
        align_case += fmt::format(" WHEN {} IS NULL THEN 'ts ' || {} || ' is not an instant'", e, text("p.ts"));
        align_case += " WHEN strftime('%Y-%m-%dT%H:%M:%SZ', p.ts) <> p.ts THEN 'ts ' || p.ts || ' is not written "
                      "YYYY-MM-DDTHH:MM:SSZ'";
        align_case += fmt::format(" WHEN p.timeframe = '1h' AND {} % 3600 <> 0 THEN 'hourly bar not on the hour'", e);
        align_case +=
            fmt::format(" WHEN p.timeframe <> '1h' AND {} % 86400 <> 0 THEN p.timeframe || ' bar not at 00:00 UTC'", e);
    }
    align_case += " END";

    std::string out =
        fmt::format("WITH bad AS (SELECT * FROM (SELECT p.symbol, p.timeframe, p.ts, {} AS ohlc, {} AS alignment"
                    " FROM price_bars p WHERE p.timeframe IN ({}) AND {}{}) x"
                    " WHERE {})",
                    ohlc ? ohlc_case : "NULL", alignment ? align_case : "NULL", timeframe_list(s),
                    in_scope(s, "p.symbol", Group::all), since_filter(s, "p.ts"),
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
        " FROM price_bars p"
        " WHERE p.timeframe IN ({}) AND {}{} AND unixepoch(p.ts) IS NOT NULL"
        " GROUP BY p.symbol, p.timeframe, unixepoch(p.ts) HAVING count(*) > 1",
        timeframe_list(s), in_scope(s, "p.symbol", Group::all), since_filter(s, "p.ts"));
}

namespace {

// PostgreSQL, stocks/ETFs/indices: one pass that aggregates per symbol (first and last bar, bars on
// expected slots) and, from the calendar arrays, how many expected bars lie between; only symbols with
// a gap inside their range are numbered again, in order, to say where.
std::string calendar_gaps(const SqlScope& s, const std::string& name, std::string_view tf, int seconds,
                          std::int64_t first, const std::string& is, const std::string& through, std::int64_t total,
                          std::string_view unit, double ratio) {
    const auto slot = [&](const std::string& col) {
        return fmt::format("(CAST(floor(date_part('epoch', {})) AS bigint) / {} - {} + 1)", col, seconds, first);
    };
    const auto is_at = [&](const std::string& index) { return fmt::format("(CAST('{}' AS int[]))[{}]", is, index); };
    const auto through_at = [&](const std::string& index) {
        return fmt::format("(CAST('{}' AS int[]))[{}]", through, index);
    };
    return fmt::format(
        "a_{0} AS (SELECT p.symbol, p.timeframe, min(p.ts) AS t0, max(p.ts) AS t1, sum({1}) AS present FROM price_bars "
        "p"
        " WHERE p.timeframe = '{2}' AND {3}{4} GROUP BY p.symbol, p.timeframe),"
        // before: expected bars before the first one's slot; upto: through the last one's slot.
        " c_{0} AS (SELECT symbol, timeframe, coalesce(present, 0) AS present,"
        " CASE WHEN {5} < 1 THEN 0 ELSE coalesce({6}, {7}) END AS before,"
        " CASE WHEN {8} < 1 THEN 0 ELSE coalesce({9}, {7}) END AS upto FROM a_{0}),"
        // An inactive asset is judged on the bars it has: up to its last one, not the last session.
        " d_{0} AS (SELECT symbol, timeframe, upto - before - present AS inside, {7} - upto AS after,"
        " CASE WHEN {13} THEN CASE WHEN {7} - before - present > {10} * ({7} - before) THEN 1 ELSE 0 END"
        " ELSE CASE WHEN upto - before - present > {10} * (upto - before) THEN 1 ELSE 0 END END AS severe, before"
        " FROM c_{0} WHERE CASE WHEN {13} THEN {7} ELSE upto END - before - present > 0),"
        " g_{0} AS (SELECT x.symbol, x.timeframe, x.k, lag(x.k) OVER (PARTITION BY x.symbol, x.timeframe ORDER BY x.k)"
        " AS prev, x.before, x.severe FROM (SELECT p.symbol, p.timeframe, {11} - 1 AS k, d.before, d.severe FROM"
        " price_bars p JOIN d_{0} d ON d.symbol = p.symbol AND d.timeframe = p.timeframe WHERE d.inside > 0{4}"
        " AND {12} = 1) x),"
        " m_{0} AS (SELECT symbol, timeframe, before AS k1, k - 1 AS k2, severe FROM g_{0} WHERE prev IS NULL AND"
        " k > before"
        " UNION ALL SELECT symbol, timeframe, prev + 1 AS k1, k - 1 AS k2, severe FROM g_{0} WHERE k - prev > 1"
        " UNION ALL SELECT symbol, timeframe, upto AS k1, {7} - 1 AS k2, severe FROM d_{0} JOIN c_{0} USING (symbol,"
        " timeframe, before) WHERE after > 0 AND {13})",
        // Bars before the first slot (hourly history older than its window) are outside the count.
        name, is_at(slot("p.ts")), tf, in_scope(s, "p.symbol", Group::equities),
        since_filter(s, "p.ts") +
            fmt::format(" AND p.ts >= {}",
                        instant_literal(s.dialect, std::chrono::sys_seconds{std::chrono::seconds{first * seconds}})),
        slot("t0") + " - 1", through_at(slot("t0") + " - 1"), total, slot("t1"), through_at(slot("t1")), number(ratio),
        through_at(slot("p.ts")), is_at(slot("p.ts")), is_active(s, "symbol"));
    (void)unit;
}

} // namespace

std::string completeness_sql(const SqlScope& s, const Thresholds& t) {
    std::vector<GapSource> sources;
    std::vector<std::pair<std::string, std::string>> calendar; // PostgreSQL equities: (CTEs, unit)
    const auto now_epoch = s.now.time_since_epoch().count();
    const auto since = since_filter(s, "p.ts");
    const auto e = epoch(s, "p.ts");
    // SQLite, stocks/ETFs/indices: the ordinal of the bar's session (hour) from the table of them.
    const auto equity_source = [&](std::string_view tf, std::string_view table) {
        return fmt::format("SELECT p.symbol, p.timeframe, c.k FROM price_bars p JOIN {} c ON c.ts = p.ts WHERE "
                           "p.timeframe = '{}' AND {}{}",
                           table, tf, in_scope(s, "p.symbol", Group::equities), since);
    };
    // Crypto: every UTC day (hour) since the epoch is one.
    const auto crypto_source = [&](std::string_view tf, int seconds) {
        return fmt::format("SELECT p.symbol, p.timeframe, {0} / {1} AS k FROM price_bars p WHERE p.timeframe = '{2}' "
                           "AND {3}{4} AND {0} % {1} = 0",
                           e, seconds, tf, in_scope(s, "p.symbol", Group::crypto), since);
    };
    const bool equities = !pg(s) || !s.equities.empty();
    const bool crypto = !pg(s) || !s.crypto.empty();
    if (checks_timeframe(s, "1d")) {
        if (equities && s.last_session_k >= 0) {
            if (pg(s))
                calendar.emplace_back(calendar_gaps(s, "ed", "1d", 86400, s.first_day, s.day_is_session,
                                                    s.sessions_through_day, s.last_session_k + 1, "sessions",
                                                    t.max_missing_ratio),
                                      "sessions");
            else sources.push_back({"ed", equity_source("1d", "v_sessions_t"), s.last_session_k, "sessions"});
        }
        if (crypto) sources.push_back({"cd", crypto_source("1d", 86400), now_epoch / 86400 - 1, "days"});
    }
    if (checks_timeframe(s, "1h")) {
        if (equities && s.last_hour_k >= 0) {
            if (pg(s))
                calendar.emplace_back(calendar_gaps(s, "eh", "1h", 3600, s.first_hour, s.hour_is_session,
                                                    s.session_hours_through_hour, s.last_hour_k + 1, "session hours",
                                                    t.max_missing_ratio),
                                      "session hours");
            else sources.push_back({"eh", equity_source("1h", "v_hours_t"), s.last_hour_k, "session hours"});
        }
        if (crypto) sources.push_back({"ch", crypto_source("1h", 3600), now_epoch / 3600 - 1, "hours"});
    }
    if (sources.empty() && calendar.empty()) return {};
    std::string ctes;
    std::string selects;
    for (const auto& [cte, unit] : calendar) {
        const auto name = unit == "sessions" ? "ed" : "eh";
        ctes += (ctes.empty() ? "WITH " : ", ") + cte;
        selects += fmt::format("{}SELECT 'completeness' AS chk, symbol, timeframe, {} AS ts, {} AS ts_end, '{}' AS "
                               "detail, k2 - k1 + 1 AS weight, severe FROM m_{}",
                               selects.empty() ? " " : " UNION ALL ", padded(s, "k1"), padded(s, "k2"), unit, name);
    }
    for (const auto& g : sources) {
        ctes += (ctes.empty() ? "WITH " : ", ") + gap_ctes(s, g);
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
    // Window passes over one ordering per symbol. The mean of the previous w log returns
    // telescopes to ln(close[i-1] / close[i-1-w]) / w; their squares are a sliding sum; a stale run is
    // k - 1 flagged steps (same close, volume on both bars) in a row.
    const std::string ord = "PARTITION BY symbol, timeframe ORDER BY ts";
    const auto from = [&](const std::optional<std::chrono::sys_seconds>& t0) {
        return t0 ? fmt::format(" AND ts >= {}", instant_literal(s.dialect, *t0)) : std::string();
    };
    // The sigma test needs a spread to measure against: after `window` flat returns (sd 0) a move is
    // the stale check's business, not a spike's.
    const auto spike = fmt::format("(r IS NOT NULL AND ({} OR (mu IS NOT NULL AND sd > 0 AND abs(r) > {} * sd)){})",
                                   absolute_bound(t.spikes_max_abs_return), number(t.spikes_k), from(s.spikes_from));
    // The bar that completes a run (its previous bar did not): one finding per run, however long. A
    // run already going when the judged days begin is reported at their first bar.
    const auto stale_run =
        s.stale_from ? fmt::format("(fs = {0} AND (coalesce(fs_before, 0) < {0} OR prev_ts < {1}) AND ts >= {1})",
                                   k - 1, instant_literal(s.dialect, *s.stale_from))
                     : fmt::format("(fs = {0} AND coalesce(fs_before, 0) < {0})", k - 1);
    std::string where = spikes && stale ? spike + " OR " + stale_run : spikes ? spike : stale_run;
    return fmt::format(
        "WITH s AS (SELECT p.symbol, p.timeframe, p.ts, {0} AS c, {1} AS v FROM price_bars p WHERE p.timeframe = '1d'"
        " AND {2}{3} AND {4}),"
        " l1 AS (SELECT s.*, lag(c) OVER ({5}) AS pc, lag(v) OVER ({5}) AS pv, lag(c, {6}) OVER ({5}) AS pcw,"
        " lag(ts, {7}) OVER ({5}) AS run_from, lag(ts) OVER ({5}) AS prev_ts FROM s),"
        " e AS (SELECT l1.*, ln(c / pc) AS r, CASE WHEN c = pc AND v > 0 AND pv > 0 THEN 1 ELSE 0 END AS f FROM l1),"
        // A running sum of the squared returns (O(1) per row); the previous `window` of them is the
        // difference of two of its values.
        " l2 AS (SELECT e.*, sum(r * r) OVER ({5} ROWS UNBOUNDED PRECEDING) AS cs2,"
        " sum(f) OVER ({5} ROWS BETWEEN {9} PRECEDING AND CURRENT ROW) AS fs,"
        " sum(f) OVER ({5} ROWS BETWEEN {7} PRECEDING AND 1 PRECEDING) AS fs_before FROM e),"
        " z AS (SELECT l2.*, CASE WHEN pcw IS NOT NULL THEN ln(pc / pcw) / {8} END AS mu,"
        " lag(cs2) OVER ({5}) - coalesce(lag(cs2, {6}) OVER ({5}), 0) AS sq FROM l2),"
        " z2 AS (SELECT z.*, CASE WHEN mu IS NOT NULL AND sq - {8} * mu * mu > 0 THEN sqrt((sq - {8} * mu * mu) / "
        "({8} - 1)) ELSE 0 END AS sd FROM z)"
        " SELECT CASE WHEN {10} THEN 'stale' ELSE 'spikes' END AS chk, symbol, timeframe,"
        " {12} AS ts, NULL AS ts_end,"
        " CASE WHEN {10} THEN 'close ' || {13} || ' unchanged for {14} bars in a row since ' || {11} || ' while "
        "volume traded'"
        " ELSE 'close ' || {13} || ' after ' || {15} || ': a return of ' || {16} || '%' || CASE WHEN mu IS NOT NULL"
        " AND sd > 0 THEN ', ' || {17} || ' standard deviations of the previous {8} returns' ELSE '' END END AS"
        " detail, 1 AS weight, 0 AS severe FROM z2 WHERE {18}",
        real(s, "p.close"), real(s, "p.volume"), in_scope(s, "p.symbol", Group::all),
        since_filter(s, "p.ts") + (s.series_scan_from
                                       ? fmt::format(" AND p.ts >= {}", instant_literal(s.dialect, *s.series_scan_from))
                                       : std::string()),
        comparable("p.close"), ord, w + 1, k - 1, w, k - 2, stale ? stale_run : "1 = 0", ts_text(s, "run_from"),
        ts_text(s, "ts"), text("c"), k, text("pc"), rounded(s, "(c / pc - 1) * 100", 2),
        rounded(s, "abs(r) / (CASE WHEN sd > 0 THEN sd ELSE 1 END)", 1), where);
}

std::string drift_sql(const SqlScope& s, const Thresholds& t) {
    // The daily bar of the session the latest price belongs to (its UTC date: a stock's prices fall
    // between 04:00 and 20:00 New York time); a price whose session has no daily bar yet is not judged.
    return fmt::format(
        "SELECT 'drift' AS chk, x.symbol, 'latest' AS timeframe, {0} AS ts, NULL AS ts_end, 'latest price ' || {1} || "
        "' is ' || {2} || '% from the daily close ' || {3} || ' of ' || {4} AS detail, 1 AS weight, 0 AS severe"
        " FROM (SELECT v.symbol, l.price, l.as_of, p.close, p.ts FROM v_scope v JOIN latest_prices l ON l.symbol = "
        "v.symbol JOIN price_bars p ON p.symbol = v.symbol AND p.timeframe = '1d' AND p.ts = {7}"
        " WHERE v.asset_class <> 'crypto' AND {5} AND {6}) x WHERE abs({8} / {9} - 1) * 100 > {10}",
        ts_text(s, "x.as_of"), text("x.price"),
        rounded(s, fmt::format("({} / {} - 1) * 100", real(s, "x.price"), real(s, "x.close")), 2), text("x.close"),
        ts_text(s, "x.ts"), comparable("p.close"), comparable("l.price"), day_start(s, "l.as_of"), real(s, "x.price"),
        real(s, "x.close"), number(t.drift_max_pct));
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
