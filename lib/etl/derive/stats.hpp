// Return and risk statistics per symbol and window, and comparisons of two symbols (issue 12 point 2):
// pure computation over daily closes, no store. The definitions (stated in the README, "Derived data"):
//   as of      the symbol's newest daily bar (a pair: the older of the two newest bars);
//   window     7D, 30D, 90D: that many calendar days back; YTD: from December 31st of the year before;
//              1Y, 3Y, 5Y: that many years back (February 29th goes to the 28th). The window's base is the
//              newest bar on or before its start: a symbol whose history does not reach back that far
//              has no row for the window. Its bars are the base and every bar after the start;
//   roi        last close / base close - 1;
//   returns    daily log returns ln(c_i / c_(i-1)) over the window's bars, in order;
//   volatility the sample standard deviation of the returns x sqrt(N), N = 252 (365 for crypto);
//   sharpe     (mean return x N - rf) / volatility, rf the annual risk-free rate;
//   sortino    (mean return x N - rf) / downside deviation, where the downside deviation is
//              sqrt(mean(min(r - rf/N, 0)^2)) x sqrt(N) over every return;
//   drawdown   the largest fall from a running peak of the closes, 1 - close / peak, with the peak's and
//              the trough's dates (none when the closes never fell);
//   beta       cov(r, r_benchmark) / var(r_benchmark) over the returns of the closes both have on the
//              same dates inside the window (at least 2 such returns);
// Comparisons, per window: price ratio = last close A / last close B; volume ratio = the window's volume
// A / volume B (the bars after the base; none when B's is 0 or a volume is missing); ROI spread =
// roi A - roi B; correlation = Pearson's of the returns on common dates. A value that cannot be computed
// (a zero deviation, too few returns) is nullopt, never a NaN.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <span>
#include <string_view>
#include <vector>

namespace etl::derive {

enum class StatWindow : std::uint8_t { d7, d30, d90, ytd, y1, y3, y5 };
inline constexpr std::array<StatWindow, 7> k_stat_windows = {StatWindow::d7,  StatWindow::d30, StatWindow::d90,
                                                             StatWindow::ytd, StatWindow::y1,  StatWindow::y3,
                                                             StatWindow::y5};
// "7D", "30D", "90D", "YTD", "1Y", "3Y", "5Y"
std::string_view to_string(StatWindow w) noexcept;

// The start of window `w` for a symbol whose newest bar is on `as_of` (days since 1970-01-01).
std::int64_t window_start(StatWindow w, std::int64_t as_of) noexcept;

struct DailyClose {
    std::int64_t day = 0; // days since 1970-01-01
    double close = 0;
    std::optional<double> volume;
};

struct WindowStats {
    StatWindow window{};
    std::int64_t as_of = 0;
    std::int64_t base_day = 0;
    std::size_t returns = 0;
    double roi = 0;
    std::optional<double> volatility, sharpe, sortino;
    double max_drawdown = 0;
    std::optional<std::int64_t> drawdown_peak, drawdown_trough;
    std::optional<double> beta;
};

// The statistics of every window the history reaches. `closes` and `benchmark` in day order, unique days
// (benchmark may be empty: no beta).
std::vector<WindowStats> compute_stats(std::span<const DailyClose> closes, std::span<const DailyClose> benchmark,
                                       double risk_free_rate, bool crypto);

struct Comparison {
    StatWindow window{};
    std::int64_t as_of = 0;
    double price_ratio = 0;
    std::optional<double> volume_ratio;
    double roi_spread = 0;
    std::optional<double> correlation;
};

// The comparisons of A with B for every window both histories reach, as of the older of their newest bars.
std::vector<Comparison> compare(std::span<const DailyClose> a, std::span<const DailyClose> b);

} // namespace etl::derive
