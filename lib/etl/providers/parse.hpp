// Pure parsers for provider response bodies: bytes in, bars and rejected records out. No I/O.
// Each parser survives the pitfalls listed in shared/reference/providers.md for its provider.
#pragma once

#include "etl/market/bar.hpp"

#include <tl/expected.hpp>

#include <optional>
#include <string>
#include <string_view>

namespace etl::providers {

// One page of a provider response.
struct ParsedPage {
    market::BarBatch batch;
    std::optional<std::string> next_url;  // Polygon pagination: absent when this is the last page
    std::size_t skipped = 0;              // points deliberately not turned into bars (e.g. CoinGecko's
                                          // trailing "now" point in a daily series); logged, not rejected
};

// A body that is not a well-formed response of the expected shape (truncated, HTML, wrong envelope).
// The fetch layer treats it as a transient failure and retries; it is never a crash.
struct ParseFailure {
    std::string message;  // one line, no secrets (bodies never contain our keys)
    bool permanent = false;  // retrying cannot help (a next_url off the configured host): the symbol fails
};

template <class T> using ParseResult = tl::expected<T, ParseFailure>;

// Polygon /v2/aggs/ticker/{t}/range/1/{day|hour}/{from}/{to} and /prev. `symbol` is our symbol (it is
// what the bars carry). Daily bars get ts = session date (America/New_York date of `t`) at 00:00 UTC,
// whatever Polygon's convention (00:00 ET on range, 16:00 ET on /prev); hourly bars keep `t`.
ParseResult<ParsedPage> parse_polygon_aggs(std::string_view body, std::string_view symbol, market::Timeframe tf);

// CoinGecko /coins/{id}/market_chart/range with daily granularity: one bar per 00:00 UTC price point
// (open = high = low = close = that price, volume = the 24h volume at the same timestamp, joined by
// timestamp, not by index). Non-midnight points (the trailing "now" point) are skipped.
ParseResult<ParsedPage> parse_coingecko_daily(std::string_view body, std::string_view symbol);

// Yahoo /v8/finance/chart/{symbol}. Daily bars get ts = the session date in the exchange's time zone
// (meta.exchangeTimezoneName) at 00:00 UTC; when two rows share a date (09:30 row + live row) the later
// row wins. Rows with a null open/high/low/close become rejected records; null volume stays absent.
ParseResult<ParsedPage> parse_yahoo_chart(std::string_view body, std::string_view symbol, market::Timeframe tf);

// The human message inside a provider's error body, if any: Polygon `error` or `message`, CoinGecko
// `status.error_message`, `error.status.error_message` or `error`, Yahoo `chart.error.description`.
// Returns nullopt when the body is not JSON (HTML, plain text) or carries no message.
std::optional<std::string> provider_error_message(std::string_view body);

} // namespace etl::providers
