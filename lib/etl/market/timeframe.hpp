// Bar timeframes as stored in `price_bars.timeframe`.
#pragma once

#include <chrono>
#include <string_view>

namespace etl::market {

enum class Timeframe { day, hour };

// The stored code: "1d" or "1h".
constexpr std::string_view to_code(Timeframe tf) noexcept { return tf == Timeframe::day ? "1d" : "1h"; }

// Length of one bar.
constexpr std::chrono::seconds duration(Timeframe tf) noexcept {
    return tf == Timeframe::day ? std::chrono::seconds{86400} : std::chrono::seconds{3600};
}

} // namespace etl::market
