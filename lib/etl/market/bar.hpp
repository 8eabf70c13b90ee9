// OHLCV bars and rejected records: what providers' parsers produce and stores load.
#pragma once

#include "etl/market/timeframe.hpp"

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace etl::market {

using sys_seconds = std::chrono::sys_seconds;

// A number as the provider wrote it. `text` is the exact decimal (or exponent) literal from the
// response, so the database keeps the provider's decimals exactly (NUMERIC); `value` is the same
// number as a double, for validation only.
struct Decimal {
    std::string text;
    double value = 0.0;
};

// Make a Decimal from a double (mock data, CoinGecko aggregation): shortest exact round-trip text.
Decimal decimal_from_double(double v);

struct Bar {
    std::string symbol; // our symbol (upper case), not the provider's ticker
    Timeframe timeframe = Timeframe::day;
    // Daily bars: the session date at 00:00 UTC. Hourly bars: the bar's start instant.
    sys_seconds ts{};
    Decimal open, high, low, close;
    std::optional<Decimal> volume; // absent for index bars
    std::optional<Decimal> vwap;
    std::optional<std::int64_t> trade_count;
    std::string source; // provider name: polygon, coingecko, yahoo, mock
};

// A record that did not become a bar, with why. Goes to `rejected_rows`; nothing is dropped silently.
struct RejectedRecord {
    std::string symbol;
    std::string source;
    std::string raw;    // the record as received (JSON text), or a description of it
    std::string reason; // one line
};

// Everything one provider response (or one symbol's whole fetch) yielded.
struct BarBatch {
    std::vector<Bar> bars;
    std::vector<RejectedRecord> rejected;
};

} // namespace etl::market
