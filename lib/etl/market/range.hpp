// Chart ranges (7D 1M 3M 6M YTD 1Y 3Y 5Y MAX), the session-date window each one asks for, and the
// market's "today" that windows end on.
#pragma once

#include "etl/market/asset.hpp"
#include "etl/market/calendar.hpp"

#include <chrono>
#include <optional>
#include <string>
#include <string_view>

namespace etl::market {

enum class Range { d7, m1, m3, m6, ytd, y1, y3, y5, max };

// Case-insensitive; nullopt for anything else.
std::optional<Range> parse_range(std::string_view text);
std::string_view to_string(Range r) noexcept;
// "7D 1M 3M 6M YTD 1Y 3Y 5Y MAX", for usage messages.
std::string_view range_list() noexcept;

// Inclusive window of session dates.
struct DateWindow {
    std::chrono::sys_days from;
    std::chrono::sys_days to;
};

// The earliest date MAX asks for: providers clip it to what they have ("the provider's full history").
inline constexpr std::chrono::sys_days k_max_history_start{std::chrono::year{1900} / 1 / 1};

// The window for `range` ending on `today` (inclusive): 7D = the 7 days before today and today's
// session, 1M = since the same day last month, YTD = since 1 January, MAX = since k_max_history_start.
// Month arithmetic clamps to the month's end (31 March - 1M = 28/29 February).
DateWindow window_for(Range range, std::chrono::sys_days today);

// The market's today at `now` for assets of `asset_class`: the last session date a daily bar can exist
// for. Stocks, ETFs and indices trade NYSE sessions (America/New_York): the last session that has opened
// (today's from the 09:30 ET bell on, and after the close; before the bell, or on a day without a
// session, the previous one). Today's bar before the close is a partial bar, as providers serve it.
// Crypto trades around the clock: the UTC date of `now`.
// Throws etl::ConfigError when no session lies within the calendar's lookback (broken override list).
std::chrono::sys_days market_today(AssetClass asset_class, std::chrono::sys_seconds now,
                                   const TradingCalendar& calendar);

} // namespace etl::market
