// The values of a legacy SQLite market database (our own SQLite store, or a Stockula file: see
// shared/reference/stockula.md) as etl-migrate-sqlite writes them to PostgreSQL: instants, session
// dates, timeframes, prices, text and JSON. Pure functions over one cell each, no I/O: the reader hands
// every value over as a Cell and stores what comes back, or a rejected row with the reason.
#pragma once

#include "etl/market/bar.hpp"
#include "etl/market/timeframe.hpp"
#include "etl/util/clock.hpp"

#include <tl/expected.hpp>

#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace etl::migrate {

// One SQLite value, classified by its storage class (what typeof() and sqlite3_column_type say, not
// the column's declared type: SQLite lets any column hold any class). Kept apart from sqlite3.h so the
// conversions are testable and fuzzable on their own. `bytes` borrows: for text and blob cells it views
// the statement's buffer, valid until the reader steps on.
struct Cell {
    enum class Type { null, integer, real, text, blob };

    Type type = Type::null;
    std::int64_t integer = 0; // Type::integer
    double real = 0.0;        // Type::real
    std::string_view bytes;   // Type::text (as stored: normally UTF-8) and Type::blob

    static constexpr Cell null() noexcept { return {}; }
    static constexpr Cell of_integer(std::int64_t v) noexcept { return {Type::integer, v, 0.0, {}}; }
    static constexpr Cell of_real(double v) noexcept { return {Type::real, 0, v, {}}; }
    static constexpr Cell of_text(std::string_view v) noexcept { return {Type::text, 0, 0.0, v}; }
    static constexpr Cell of_blob(std::string_view v) noexcept { return {Type::blob, 0, 0.0, v}; }
};

// The cell for a reason or a log line, one line whatever it holds: `NULL`, `INTEGER 42`, `REAL 1.5`,
// `TEXT "2024-13-01"` (escaped), `BLOB x'00ff'`; a longer text or blob is cut and marked `...`.
std::string describe(const Cell& cell);
// How much a reason shows: a text's first k_shown_bytes bytes, a blob's first k_shown_bytes / 2 (as as many
// hex digits). Enough to recognise a date or a ticker; one bad cell never makes a reason of megabytes.
inline constexpr std::size_t k_shown_bytes = 64;

// Everything the project stores lies from 1900-01-01 to 9999-12-31, the dates a command line may name
// (PostgreSQL has no year 0, no provider has data before 1900): these are the first and last instants.
inline constexpr std::chrono::sys_seconds k_first_instant{util::k_min_flag_date};
inline constexpr std::chrono::sys_seconds k_last_instant{util::k_max_flag_date + std::chrono::seconds{86399}};

// Integer epochs are told apart by magnitude (|v|): below 1e10 seconds, below 1e13 milliseconds, below
// 1e16 microseconds; larger values are rejected (nanoseconds are not read). Each unit so covers its
// epoch +- 316 years (1653 .. 2286-11-20), which holds all market data; the price is that a millisecond
// value before 1970-04-26 reads as seconds, and a microsecond value before that date as milliseconds.
inline constexpr std::int64_t k_epoch_seconds_below = 10'000'000'000;
inline constexpr std::int64_t k_epoch_millis_below = 10'000'000'000'000;
inline constexpr std::int64_t k_epoch_micros_below = 10'000'000'000'000'000;

// The UTC instant a cell holds, whole seconds (a fraction is dropped, never rounded up), from
// k_first_instant to k_last_instant; otherwise the reason (one line naming the value):
// - TEXT, ISO 8601 as SQLite and Python write it (surrounding blanks ignored): `YYYY-MM-DD` (00:00 UTC),
//   `YYYY-MM-DD HH:MM[:SS[.f...]]` with ' ', 'T' or 't' before the time, then optionally a zone: 'Z',
//   'z', `+HH`, `+HH:MM` or `+HHMM` (or '-'), converted to UTC. No zone means UTC (Stockula writes UTC
//   wall time without an offset).
// - INTEGER: epoch seconds, milliseconds or microseconds by magnitude (k_epoch_*_below).
// - REAL: a Julian day, as SQLite's julianday() gives (2440587.5 is 1970-01-01 00:00 UTC), to the
//   nearest millisecond before the fraction of a second is dropped.
// - NULL, BLOB and anything else: rejected.
tl::expected<market::sys_seconds, std::string> to_instant(const Cell& cell);

// The session date of a daily bar (the `ts` of a 1d/1wk/1mo bar is this date at 00:00 UTC, SPEC §3):
// - TEXT: the date as written, in the text's own offset, whatever the time of day after it. Stockula
//   writes a bare `YYYY-MM-DD` (§4), the bar's date in its exchange's zone. A time of day beside a date
//   can only be a provider's bar-time convention (Polygon 00:00 ET, Yahoo 09:30 ET, /prev 16:00 ET):
//   the date written is still the session, while converting to UTC first would move a bar written
//   `2024-01-02 00:00+09:00` to 2024-01-01. The whole text must still be in a form to_instant reads.
// - INTEGER epoch, REAL Julian day: no date is written, so the UTC date of the instant.
// The date lies from 1900-01-01 to 9999-12-31; otherwise the reason.
tl::expected<std::chrono::sys_days, std::string> to_session_date(const Cell& cell);

// The rejection reason of a Stockula intraday row (interval 1m..90m, 1h): Stockula keys price_history
// by date only, so such a row is the last bar of its day with its time thrown away (stockula.md §5).
inline constexpr std::string_view k_intraday_reason = "intraday row keyed by date only: its time is unknown";

// The timeframe of a Stockula price_history row from its `interval` cell: "1d", "1wk", "1mo" as named;
// NULL and "" (legacy files, whose column defaulted to '1d') give 1d. Intraday codes (digits then 'm' or
// 'h': 1m, 5m, 90m, 1h ...) give exactly k_intraday_reason; anything else (5d, 3mo, other classes) a
// reason naming the value and the accepted codes. (Our own store's price_bars.timeframe is a stored
// code, whose 1h bars carry their instant: read it with market::timeframe_from_code.)
tl::expected<market::Timeframe, std::string> to_timeframe(const Cell& interval);

// The shortest decimal text that reads back as the same double, in plain notation (no exponent, as
// NUMERIC prints it): 170.1, not 170.09999999999999; 1e-7 as 0.0000001. Negative zero gives "0"
// (NUMERIC has no negative zero). NaN and infinities give the reason.
tl::expected<std::string, std::string> shortest_decimal(double value);

// A numeric column's value (prices, volume, amount, ratio, strike, market_cap) as NUMERIC text, nullopt
// for NULL (pandas NaN arrives as NULL, §4) and for "": INTEGER gives its digits, REAL shortest_decimal
// (a volume may come as REAL, §7.5; our own store's NUMERIC columns hold REAL too, as SQLite converts
// decimal text to a double), TEXT the literal as written when it is a decimal number (a column declared
// TEXT). Infinities (SQLite makes '1e400' REAL Inf), other text and BLOBs give the reason.
tl::expected<std::optional<std::string>, std::string> to_decimal(const Cell& cell);

// Room for any text shortest_decimal writes: '-', "0.", 307 zeros and 17 digits for the smallest normal
// doubles; 309 digits for the largest.
using DecimalBuffer = std::array<char, 400>;
// to_decimal with no string made: the text is a view of `buffer` (INTEGER, REAL) or of the cell's own
// bytes (TEXT), valid while both are. The migration's per-row path (five numbers a bar).
tl::expected<std::optional<std::string_view>, std::string> to_decimal(const Cell& cell, DecimalBuffer& buffer);

// A text column's value for PostgreSQL, nullopt for NULL and for the empty string (Stockula writes ''
// when yfinance lacks a field, §4). INTEGER gives its digits, REAL shortest_decimal (or Infinity,
// -Infinity), BLOB its bytes as text (what SQLite's CAST(x AS TEXT) gives). PostgreSQL text holds
// neither invalid UTF-8 nor NUL bytes, which SQLite text can: those give the reason instead.
tl::expected<std::optional<std::string>, std::string> text_or_null(const Cell& cell);

struct ScrubbedJson {
    std::string json;
    std::size_t replaced = 0; // bare NaN, -NaN, Infinity, -Infinity tokens that became null
};

// Python's json.dumps writes NaN, Infinity and -Infinity as bare tokens, which JSON and PostgreSQL's
// jsonb reject (stock_info.info_json, stockula.md §7.8). Replaces each such token outside a JSON string
// with null; the text inside strings ("NaN", "\"NaN") and any other byte stays as it was. Input that was
// valid JSON comes back unchanged, with replaced == 0.
ScrubbedJson scrub_nonfinite_json(std::string_view json);

} // namespace etl::migrate
