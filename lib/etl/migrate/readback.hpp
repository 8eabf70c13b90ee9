// The target side of a migration's per-symbol parity: the (ts, close) pairs of price_bars read back in
// binary, so the server neither prints nor converts a number (numeric_send and timestamptz_send only),
// and summed here with close_hash (migrator.hpp).
#pragma once

#include "etl/pg/connection.hpp"
#include "etl/store/store.hpp"

#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

namespace etl::migrate {

// A numeric in PostgreSQL's binary form (numeric_send) as the double that
// `CASE WHEN abs(x) < 1e300 THEN x::float8 ELSE 'NaN'::float8 END` gives on the server (the expression
// etl-validate's parity reads): the nearest double, NaN for NaN, +-Infinity and anything of magnitude
// 1e300 or more. nullopt when the bytes are no numeric.
std::optional<double> numeric_binary_to_double(std::string_view bytes);

// A timestamptz in binary form (microseconds since 2000-01-01 UTC, big-endian) as
// extract(epoch FROM ts)::int8 gives it: Unix seconds, rounded to the nearest second, halves away from
// zero (from 1970, so 1969-12-31T23:59:59.5 is -1 and 1999-12-31T23:59:59.5 is 946684800); nullopt
// when the bytes are no timestamp (or +-infinity).
std::optional<std::int64_t> timestamptz_binary_to_epoch(std::string_view bytes);

// One read-back row's share of the checksum: close_hash of its ts and close in binary form. Throws
// etl::Error with ExitCode::internal (70) when either is NULL or cannot be decoded: price_bars holds
// neither, so that is a bug here, never a database failure. `context` names the read for the message.
std::uint64_t read_back_hash(std::string_view ts, bool ts_null, std::string_view close, bool close_null,
                             std::string_view context);

struct ClosesRead {
    std::uint64_t checksum = 0; // the sum of close_hash over the rows
    std::uint64_t rows = 0;
};

// Rows a read-back holds in memory at once.
inline constexpr std::size_t k_read_back_page_rows = 50'000;

// Reads back the bars of `symbol` `timeframe` in `window` (inclusive) from price_bars over `conn`, every
// row whatever its values, and sums close_hash of each (read_back_hash), `page_rows` rows per statement.
// Throws pg::DbError, and etl::Error (70) as read_back_hash does.
ClosesRead read_back_closes(pg::Connection& conn, std::string_view symbol, std::string_view timeframe,
                            store::Window window, std::size_t page_rows = k_read_back_page_rows);

// The closes of every (symbol, timeframe code) of price_bars.
using ClosesBySeries = std::map<std::pair<std::string, std::string>, ClosesRead, std::less<>>;

// Reads back the whole of price_bars in one pass in table order (a sequential scan: no index needed, so
// it can run while the bulk load builds the primary key, whose lock lets readers in), through a cursor
// `page_rows` rows per FETCH, and sums close_hash of each row per (symbol, timeframe). `stopped` is asked
// before each FETCH: when it says so the read ends early and returns nullopt. Throws as read_back_closes.
std::optional<ClosesBySeries> read_back_all_closes(pg::Connection& conn, const std::function<bool()>& stopped,
                                                   std::size_t page_rows = k_read_back_page_rows);

} // namespace etl::migrate
