#include "etl/market/range.hpp"

#include "etl/util/strings.hpp"

namespace etl::market {
namespace {

using namespace std::chrono;

sys_days minus_months(sys_days d, int months) {
    const year_month_day ymd{d};
    const auto ym = year_month{ymd.year(), ymd.month()} - std::chrono::months{months};
    const auto last = year_month_day_last{ym.year(), month_day_last{ym.month()}}.day();
    return sys_days{ym.year() / ym.month() / std::min(ymd.day(), last)};
}

} // namespace

std::optional<Range> parse_range(std::string_view text) {
    const auto t = util::to_upper(util::trim(text));
    if (t == "7D") return Range::d7;
    if (t == "1M") return Range::m1;
    if (t == "3M") return Range::m3;
    if (t == "6M") return Range::m6;
    if (t == "YTD") return Range::ytd;
    if (t == "1Y") return Range::y1;
    if (t == "3Y") return Range::y3;
    if (t == "5Y") return Range::y5;
    if (t == "MAX") return Range::max;
    return std::nullopt;
}

std::string_view to_string(Range r) noexcept {
    switch (r) {
    case Range::d7: return "7D";
    case Range::m1: return "1M";
    case Range::m3: return "3M";
    case Range::m6: return "6M";
    case Range::ytd: return "YTD";
    case Range::y1: return "1Y";
    case Range::y3: return "3Y";
    case Range::y5: return "5Y";
    case Range::max: return "MAX";
    }
    return "MAX";
}

std::string_view range_list() noexcept { return "7D 1M 3M 6M YTD 1Y 3Y 5Y MAX"; }

DateWindow window_for(Range range, sys_days today) {
    switch (range) {
    case Range::d7: return {today - days{7}, today};
    case Range::m1: return {minus_months(today, 1), today};
    case Range::m3: return {minus_months(today, 3), today};
    case Range::m6: return {minus_months(today, 6), today};
    case Range::ytd: return {sys_days{year_month_day{today}.year() / January / 1}, today};
    case Range::y1: return {minus_months(today, 12), today};
    case Range::y3: return {minus_months(today, 36), today};
    case Range::y5: return {minus_months(today, 60), today};
    case Range::max: return {k_max_history_start, today};
    }
    return {today, today};
}

sys_days market_today(AssetClass asset_class, sys_seconds now, const TradingCalendar& calendar) {
    if (asset_class == AssetClass::crypto) return floor<days>(now);
    return calendar.session_for(now).date;
}

} // namespace etl::market
