// The SQL of etl-validate's checks, one statement per family, for either store's dialect. Every check
// runs in the database (window functions, joins with the calendar the caller loaded into temporary
// tables); only the failing rows' count and a bounded sample come back. Pure text: no store here.
//
// What the statements read besides the store's tables:
//   v_scope (symbol, asset_class, active)  a temporary table of the symbols checked, active '1' or '0'
//                                           (freshness and drift, which go symbol by symbol)
//   PostgreSQL: the symbols, and the calendar as arrays from a day (hour) number to the session (session
//     hour) ordinal, written into the statement as constants: the big scans then stay parallel-safe (a
//     temporary table is not) and each bar finds its session by subscript, not by a join.
//   SQLite: v_scope for the symbols, and the temporary tables
//     v_sessions_t (k, ts)  NYSE sessions in order (k = 0, 1, ...), ts = the date at 00:00 UTC, up to
//                           the last completed session
//     v_hours_t (k, ts)     the regular-session hour starts of those sessions, in order
//
// Each family statement yields rows (chk, symbol, timeframe, ts, ts_end, detail, weight, severe): a
// finding of check `chk`, its instant (text, YYYY-MM-DDTHH:MM:SSZ) and, for a range, its last instant;
// `weight` failing rows; `severe` 1 when it fails whatever the check's level (completeness above
// max_missing_ratio). Completeness rows give the range as ordinals instead (ts and ts_end are k1 and k2
// as 12-digit text; detail is the unit: sessions, session hours, days, hours), which the caller turns
// into instants. sampled() wraps one so that at most k_examples_kept rows per check come back, each
// with the check's total weight and whether any finding was severe.
#pragma once

#include "etl/store/schema.hpp"
#include "etl/validate/checks.hpp"

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace etl::validate {

// What the statements need to know besides the thresholds: all of it computed by the caller from the
// calendar and the clock, and written into the SQL as literals (numbers and instants we format; never
// text from input).
struct SqlScope {
    store::Dialect dialect = store::Dialect::postgres;
    std::vector<std::string> timeframes;           // "1d", "1h": the bars checked
    std::optional<std::chrono::sys_seconds> since; // --since: bars from this instant on
    std::vector<std::string> equities;             // the symbols checked (PostgreSQL), stock/etf/index
    std::vector<std::string> crypto;               // and crypto
    std::vector<std::string> inactive;             // those of them inactive (PostgreSQL)
    // PostgreSQL: the calendar as arrays over slots (days, or hours), element i (1-based) for slot
    // first_day (first_hour) + i - 1 counted from the epoch: whether the slot holds an expected bar
    // (1/0), and how many expected bars the slots up to it hold (so the ordinal of an expected bar is
    // that count - 1, and the expected bars in a range are a difference of two counts).
    std::int64_t first_day = 0;
    std::string day_is_session;
    std::string sessions_through_day;
    std::int64_t first_hour = 0;
    std::string hour_is_session;
    std::string session_hours_through_hour;
    std::int64_t last_session_k = -1; // completeness: the last completed session (-1: none)
    std::int64_t last_hour_k = -1;    // the last regular-session hour of a completed session (-1: none)
    std::chrono::sys_seconds now{};
    std::chrono::sys_seconds equity_fresh_cutoff{}; // freshness: a daily bar before this is stale
    std::chrono::sys_seconds crypto_fresh_cutoff{};
    std::string equity_fresh_text; // "2025-03-06 (1 session before the last ..., 2025-03-07)"
    bool market_open = false;      // a session is in progress at `now`
    // spikes and stale: the bars judged by each (nullopt: all), and the first bar read (their warm-up
    // before the earlier of the two).
    std::optional<std::chrono::sys_seconds> spikes_from, stale_from, series_scan_from;
};

// A PostgreSQL int[] constant of `values` ('{1,-1,2}'); of text[] for symbols, each quoted.
std::string int_array(const std::vector<std::int64_t>& values);
std::string text_array(const std::vector<std::string>& values);

// ohlc and alignment (one scan of price_bars): only the checks in `which` produce rows.
std::string bars_sql(const SqlScope& s, bool ohlc, bool alignment);
// duplicates (SQLite: one instant spelt twice; PostgreSQL's primary key rules it out).
std::string duplicates_sql(const SqlScope& s);
// completeness: gaps per symbol against the sessions, session hours, or (crypto) every UTC day/hour.
std::string completeness_sql(const SqlScope& s, const Thresholds& t);
// freshness: the latest daily bar of each active asset; latest_prices.as_of in the session.
std::string freshness_sql(const SqlScope& s, const Thresholds& t);
// spikes and stale (daily closes, ordered windows per symbol).
std::string series_sql(const SqlScope& s, const Thresholds& t, bool spikes, bool stale);
// drift: latest_prices against the last daily close of the same session (outside the session).
std::string drift_sql(const SqlScope& s, const Thresholds& t);

// `family` wrapped to return at most `keep` rows per check, with (total, any_severe) added.
std::string sampled(const std::string& family, std::size_t keep = k_examples_kept);

// An instant as the statements write it: 'YYYY-MM-DDTHH:MM:SSZ' (typed timestamptz on PostgreSQL).
std::string instant_literal(store::Dialect d, std::chrono::sys_seconds t);

} // namespace etl::validate
