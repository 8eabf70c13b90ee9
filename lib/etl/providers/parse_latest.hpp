// Pure parsers for the bodies behind latest prices and hourly crypto bars: CoinGecko /simple/price and
// /market_chart price points, Yahoo chart meta. Bytes in, values out; no I/O.
#pragma once

#include "etl/market/quote.hpp"
#include "etl/providers/parse.hpp"

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace etl::providers {

// CoinGecko /market_chart(/range) `prices` as points (timestamps floored to seconds, price text exact),
// sorted by time. Elements that are not [ms, number] with a timestamp in 1970..2200 become rejected
// records of `symbol` (raw = the element's JSON).
struct PricePoints {
    std::vector<market::PricePoint> points;
    std::vector<market::RejectedRecord> rejected;
};
ParseResult<PricePoints> parse_coingecko_prices(std::string_view body, std::string_view symbol);

// One id of CoinGecko /simple/price (vs usd).
struct SimplePrice {
    market::Decimal usd;
    std::optional<double> change_24h_pct;     // usd_24h_change; null when stale
    std::optional<std::int64_t> last_updated; // last_updated_at, Unix seconds
};
// Keyed by id. Unknown ids are simply absent (CoinGecko drops them); an id whose `usd` is missing or not
// a number is absent too. `{}` is a valid, empty answer.
ParseResult<std::map<std::string, SimplePrice>> parse_coingecko_simple_price(std::string_view body);

// Yahoo /v8/finance/chart meta as a quote: regularMarketPrice, chartPreviousClose (or previousClose),
// regularMarketTime. A chart error or a missing price is a ParseFailure.
ParseResult<market::Quote> parse_yahoo_quote(std::string_view body, std::string_view symbol);

} // namespace etl::providers
