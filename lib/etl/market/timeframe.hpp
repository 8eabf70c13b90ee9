// Bar timeframes as stored in `price_bars.timeframe`.
#pragma once

#include <chrono>
#include <optional>
#include <string_view>

namespace etl::market {

// day and hour are what the providers fetch. week and month are yfinance's 1wk and 1mo bars, which
// arrive from migrated SQLite files (etl-migrate-sqlite) labelled by their period's first day: a week by
// its Monday, a month by its 1st (shared/reference/stockula.md §5).
enum class Timeframe { day, hour, week, month };

// The stored code: "1d", "1h", "1wk" or "1mo".
constexpr std::string_view to_code(Timeframe tf) noexcept;

// The timeframe a stored code names; nullopt for anything else. Case-sensitive: elsewhere "1m" is a
// minute and "1M" a month, so no folding is safe.
constexpr std::optional<Timeframe> timeframe_from_code(std::string_view code) noexcept;

// Length of one bar. A month has no fixed length: 1mo gives the mean Gregorian month
// (std::chrono::months, 30.436875 days), so never check alignment with it; use starts_bar.
constexpr std::chrono::seconds duration(Timeframe tf) noexcept;

// True when a bar of `tf` can start at `ts` (UTC): a whole hour; 00:00 of a day; 00:00 of a Monday;
// 00:00 of the 1st of a month.
constexpr bool starts_bar(Timeframe tf, std::chrono::sys_seconds ts) noexcept;

// ---- inline bodies ----

constexpr std::string_view to_code(Timeframe tf) noexcept {
    switch (tf) {
    case Timeframe::day: return "1d";
    case Timeframe::hour: return "1h";
    case Timeframe::week: return "1wk";
    case Timeframe::month: return "1mo";
    }
    return "1d"; // not reached: the switch names every enumerator (-Wswitch keeps it so)
}

constexpr std::optional<Timeframe> timeframe_from_code(std::string_view code) noexcept {
    for (const auto tf : {Timeframe::day, Timeframe::hour, Timeframe::week, Timeframe::month})
        if (to_code(tf) == code) return tf;
    return std::nullopt;
}

constexpr std::chrono::seconds duration(Timeframe tf) noexcept {
    switch (tf) {
    case Timeframe::day: return std::chrono::days{1};
    case Timeframe::hour: return std::chrono::hours{1};
    case Timeframe::week: return std::chrono::weeks{1};
    case Timeframe::month: return std::chrono::months{1};
    }
    return std::chrono::days{1}; // not reached
}

constexpr bool starts_bar(Timeframe tf, std::chrono::sys_seconds ts) noexcept {
    const auto day = std::chrono::floor<std::chrono::days>(ts);
    switch (tf) {
    case Timeframe::hour: return ts == std::chrono::floor<std::chrono::hours>(ts);
    case Timeframe::day: return ts == day;
    case Timeframe::week: return ts == day && std::chrono::weekday{day} == std::chrono::Monday;
    case Timeframe::month: return ts == day && std::chrono::year_month_day{day}.day() == std::chrono::day{1};
    }
    return false; // not reached
}

} // namespace etl::market
