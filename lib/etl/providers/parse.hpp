// Pure parsers for provider response bodies: bytes in, bars, quotes and rejected records out. No I/O.
// Each parser survives the pitfalls listed in shared/reference/providers.md for its provider. They
// live in one file per provider (polygon_parse.cpp, coingecko_parse.cpp, yahoo_parse.cpp) over one
// JSON reading kit (json_read.hpp).
#pragma once

#include "etl/market/bar.hpp"
#include "etl/market/quote.hpp"

#include <tl/expected.hpp>

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace etl::providers {

// A response body as the parsers take it: its text, and how many bytes from the text's start the caller's
// memory holds (at least the text's size). simdjson reads up to SIMDJSON_PADDING (64) bytes past the end
// of what it parses, so a body with that much room after it is parsed where it lies, and any other is
// first copied into a padded buffer of the thread's. A std::string's room is its capacity (simdjson reads
// a std::string so too), and the HTTP client leaves the padding's room, zeroed, in every body it receives
// (http::Response::body): a fetched body is never copied. The room of another string may hold anything,
// never written bytes included: they are read, but what a body parses to never depends on them (the
// fuzz targets parse each input in place, its room full of digits, and copied, and compare). Converts
// from the text types implicitly.
class Body {
public:
    constexpr Body(std::string_view text) noexcept : m_text(text), m_readable(text.size()) {}
    constexpr Body(const char* text) noexcept : Body(std::string_view(text)) {}
    Body(const std::string& text) noexcept : m_text(text), m_readable(text.capacity()) {}

    [[nodiscard]] constexpr std::string_view text() const noexcept { return m_text; }
    [[nodiscard]] constexpr const char* data() const noexcept { return m_text.data(); }
    [[nodiscard]] constexpr std::size_t size() const noexcept { return m_text.size(); }
    [[nodiscard]] constexpr bool empty() const noexcept { return m_text.empty(); }
    // How many bytes from the text's start can be read: its size, and the room after it.
    [[nodiscard]] constexpr std::size_t readable() const noexcept { return m_readable; }
    constexpr operator std::string_view() const noexcept { return m_text; }

private:
    std::string_view m_text;
    std::size_t m_readable;
};

// One page of a provider response.
struct ParsedPage {
    market::BarBatch batch;
    std::optional<std::string> next_url; // Polygon pagination: absent when this is the last page
    std::size_t skipped = 0;             // points deliberately not turned into bars (e.g. CoinGecko's
                                         // trailing "now" point in a daily series); logged, not rejected
    // Yahoo: the instant of each row in batch.rejected (index-aligned), as its timestamp cell says, or
    // nullopt when the cell holds no integer. The fetch tells rows outside its request and incomplete
    // hours by it. Empty for the other providers.
    std::vector<std::optional<market::sys_seconds>> rejected_at;
};

// A body that is not a well-formed response of the expected shape (truncated, HTML, wrong envelope).
// The fetch layer treats it as a transient failure and retries; it is never a crash.
struct ParseFailure {
    std::string message;    // one line, no secrets (bodies never contain our keys)
    bool permanent = false; // retrying cannot help (a next_url off the configured host): the symbol fails
    // A well-formed answer whose one record cannot be kept (a Yahoo quote whose price literal is longer
    // than a decimal keeps): that record, for rejected_rows. SingleRequestFetch records it instead of
    // retrying; a paginated fetch that could meet one must do the same.
    std::optional<market::RejectedRecord> rejected = std::nullopt;
};

template <class T> using ParseResult = tl::expected<T, ParseFailure>;

// Polygon /v2/aggs/ticker/{t}/range/1/{day|hour}/{from}/{to} and /prev. `symbol` is our symbol (it is
// what the bars carry). Daily bars get ts = session date (America/New_York date of `t`) at 00:00 UTC,
// whatever Polygon's convention (00:00 ET on range, 16:00 ET on /prev); hourly bars keep `t`.
ParseResult<ParsedPage> parse_polygon_aggs(Body body, std::string_view symbol, market::Timeframe tf);

// Polygon ticker -> our symbol (X:BTCUSD -> BTC, AAPL -> AAPL).
using TickerSymbols = std::map<std::string, std::string, std::less<>>;

// Polygon grouped daily (/v2/aggs/grouped/locale/us/market/stocks/{date} and
// /v2/aggs/grouped/locale/global/market/crypto/{date}): one daily bar per ticker, `T` naming it, read and
// validated exactly as parse_polygon_aggs reads day bars (same exact decimals, same rejects). A row goes
// to the symbol `tickers` maps its T to; rows of other tickers, rows without a string T and elements that
// are not objects belong to none of ours: skipped (counted in `skipped`), never rejected. No `results`
// (a holiday, a date not published yet) is zero bars.
ParseResult<ParsedPage> parse_polygon_grouped(Body body, const TickerSymbols& tickers);

// CoinGecko /coins/{id}/market_chart/range with daily granularity: one bar per 00:00 UTC price point
// (open = high = low = close = that price, volume = the 24h volume at the same timestamp, joined by
// timestamp, not by index). Non-midnight points (the trailing "now" point) are skipped.
ParseResult<ParsedPage> parse_coingecko_daily(Body body, std::string_view symbol);

// Yahoo /v8/finance/chart/{symbol}. Daily bars get ts = the session date in the exchange's time zone
// (meta.exchangeTimezoneName) at 00:00 UTC; when two rows share a date (09:30 row + live row) the later
// row wins. Rows with a null open/high/low/close become rejected records; null volume stays absent.
ParseResult<ParsedPage> parse_yahoo_chart(Body body, std::string_view symbol, market::Timeframe tf);

// CoinGecko /market_chart(/range) `prices` as points (timestamps floored to seconds, price text exact),
// sorted by time. Elements that are not [ms, number] with a timestamp in 1970..2200 become rejected
// records of `symbol` (raw = the element's JSON).
struct PricePoints {
    std::vector<market::PricePoint> points;
    std::vector<market::RejectedRecord> rejected;
};
ParseResult<PricePoints> parse_coingecko_prices(Body body, std::string_view symbol);

// One id of CoinGecko /simple/price (vs usd).
struct SimplePrice {
    market::Decimal usd;
    std::optional<double> change_24h_pct;     // usd_24h_change; null when stale
    std::optional<std::int64_t> last_updated; // last_updated_at, Unix seconds
    // Why the id's answer holds no price (`usd` missing, null, not a finite number, a literal longer than
    // a decimal keeps, or the answer not an object), with `raw` what was received ({"usd":...}); both empty
    // when `usd` holds the price. The fetch rejects such a record: a data problem, not an unknown id.
    std::string problem;
    std::string raw;
};
// Keyed by id: every id the answer names, with its price or its problem. Unknown ids are simply absent
// (CoinGecko drops them). `{}` is a valid, empty answer.
ParseResult<std::map<std::string, SimplePrice>> parse_coingecko_simple_price(Body body);

// Yahoo /v8/finance/chart meta as a quote: regularMarketPrice, chartPreviousClose (or previousClose),
// regularMarketTime. A chart error or a missing price is a ParseFailure.
ParseResult<market::Quote> parse_yahoo_quote(Body body, std::string_view symbol);

// The human message inside a provider's error body, if any: Polygon `error` or `message`, CoinGecko
// `status.error_message`, `error.status.error_message` or `error`, Yahoo `chart.error.description`.
// Returns nullopt when the body is not JSON (HTML, plain text) or carries no message.
std::optional<std::string> provider_error_message(Body body);

} // namespace etl::providers
