// Latest prices (for market overviews and watchlists) and hourly aggregation of finer-grained data.
#pragma once

#include "etl/market/bar.hpp"

#include <optional>
#include <span>
#include <string>
#include <vector>

namespace etl::market {

struct Quote {
    std::string symbol;
    Decimal price;
    std::optional<Decimal> previous_close;
    sys_seconds as_of{}; // when the price was current
    std::string source;

    // price - previous_close, and that as a percentage of previous_close; nullopt without a previous close.
    [[nodiscard]] std::optional<Decimal> change() const;
    [[nodiscard]] std::optional<Decimal> change_pct() const;
};

// Why `q` cannot be stored, or "": finite positive price and previous close, as_of not more than
// `max_future` after `now` (clock skew) and not before 1970.
std::string invalid_reason(const Quote& q, sys_seconds now, std::chrono::seconds max_future);

// The quote as the JSON object cached in Redis under latest_price:{SYMBOL}.
std::string to_cache_json(const Quote& q);
// Bars as the JSON array cached under hourly_data:{SYMBOL}:1D.
std::string to_cache_json(std::span<const Bar> bars);

// A price observation (CoinGecko market_chart points).
struct PricePoint {
    sys_seconds ts;
    Decimal price;
};

// Hourly bars from price points: each point goes to the hour it falls in (floor), open = first,
// close = last, high = max, low = min, no volume. Hours without points get no bar (nothing is
// invented). Points must be sorted by time.
std::vector<Bar> hourly_bars_from_points(const std::string& symbol, SourceName source,
                                         std::span<const PricePoint> points);

// Hourly bars from finer bars (Yahoo 30-minute bars, which start on the half hour): grouped by the
// hour they start in; open of the first, close of the last, high max, low min, volume summed (absent
// when any part lacks it). Input must be sorted by ts.
std::vector<Bar> hourly_bars_from_bars(std::span<const Bar> bars);

} // namespace etl::market
