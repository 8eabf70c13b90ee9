// Technical indicators over one symbol's closes, in bar order (issue 12 point 1): pure computation, no
// store. The conventions (stated in the README, "Derived data"):
//   sma_N            mean of the last N closes;
//   ema_N            seeded at bar N-1 by the SMA of the first N closes, then
//                    ema = a*close + (1-a)*ema_prev with a = 2/(N+1);
//   rsi_N            Wilder: the first average gain/loss is the mean of the first N changes (bar N),
//                    then avg = (avg_prev*(N-1) + x)/N; rsi = 100 - 100/(1 + gain/loss), 100 when the
//                    average loss is 0 (50 when both are 0);
//   macd (12,26,9)   macd_line = ema_12 - ema_26 (from bar 25), macd_signal = the EMA 9 of macd_line seeded
//                    by the mean of its first 9 values (from bar 33), macd_hist = line - signal;
//   bb (20,2)        bb_middle_20_2 = sma_20, bb_upper/lower = middle +/- 2 x the population standard deviation
//                    (divided by 20) of the same 20 closes.
// No value is given before an indicator's warm-up is complete. Bars are taken as they come: a missing
// session is not filled in.
//
// Resuming: the state the recursive indicators (EMA, RSI, MACD) carry from bar to bar is itself stored as
// indicators (ema_12, ema_26 and rsi_N_avg_gain/loss besides the published ones), so a computation can go
// on from any bar that has every indicator, reading back that bar's values and the closes before it, and
// gives exactly (bit for bit) what a computation from the first bar gives.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string_view>
#include <vector>

namespace etl::derive {

enum class Indicator : std::uint8_t {
    rsi_14,
    rsi_9,
    sma_10,
    sma_20,
    sma_50,
    sma_200,
    ema_10,
    ema_20,
    ema_50,
    macd_line,
    macd_signal,
    macd_hist,
    bb_upper_20_2,
    bb_middle_20_2,
    bb_lower_20_2,
    // The carried state of the recursive indicators (see above).
    ema_12,
    ema_26,
    rsi_14_avg_gain,
    rsi_14_avg_loss,
    rsi_9_avg_gain,
    rsi_9_avg_loss,
};
inline constexpr std::size_t k_indicator_count = 21;

// "rsi_14", "bb_upper_20_2", ...: the name in the indicators table.
std::string_view to_string(Indicator i) noexcept;
std::optional<Indicator> indicator_named(std::string_view name) noexcept;

// The most closes before a bar that any indicator reads (sma_200's window): a computation that starts
// at bar k with at least this many closes before it has every indicator warm.
inline constexpr std::size_t k_lookback_bars = 200;

struct Close {
    std::int64_t ts = 0; // epoch seconds of the bar
    double close = 0;
};

struct IndicatorValue {
    std::int64_t ts = 0;
    Indicator indicator{};
    double value = 0;
};

// The values of the carried-state indicators at one bar, as read back from the store.
using CarriedState = std::array<std::optional<double>, k_indicator_count>;

// Every indicator of every bar of `closes` (in ts order, unique ts) from bar `first_out` on, computed from
// the first bar (bars before first_out are warm-up only). Values that are not finite are left out.
std::vector<IndicatorValue> compute_indicators(std::span<const Close> closes, std::size_t first_out = 0);

// The same values from bar `k` on, computed from bar k only: closes[0..k) are the bars before it (at
// least k_lookback_bars of them, ending with the bar before k) and `state` the values stored for bar k-1.
// nullopt when that is not enough to go on exactly (fewer closes, or a carried value missing): the
// caller computes from the first bar instead.
std::optional<std::vector<IndicatorValue>> resume_indicators(std::span<const Close> closes, std::size_t k,
                                                             const CarriedState& state);

} // namespace etl::derive
