// The current instant, pinnable with ETL_NOW (an ISO-8601 instant) so tests and reruns are
// deterministic.
#pragma once

#include <chrono>
#include <optional>
#include <string_view>

namespace etl::util {

// Now, or ETL_NOW when set. Throws etl::ConfigError when ETL_NOW is set but not an ISO-8601 instant.
std::chrono::sys_seconds now();

// Parses "YYYY-MM-DDTHH:MM:SS[.fff](Z|±HH:MM)" or "YYYY-MM-DD HH:MM:SS" (UTC); nullopt if malformed.
std::optional<std::chrono::sys_seconds> parse_instant(std::string_view text);
// Parses "YYYY-MM-DD" (digits only: no sign, so no negative year); nullopt if malformed or not a real date.
std::optional<std::chrono::sys_days> parse_date(std::string_view text);

// The dates a command line may name (--from, --to, --session). No provider has data before 1900, and
// years before it (year 0 above all, which PostgreSQL does not have) only reach the database as errors.
inline constexpr std::chrono::sys_days k_min_flag_date{std::chrono::year{1900} / 1 / 1};
inline constexpr std::chrono::sys_days k_max_flag_date{std::chrono::year{9999} / 12 / 31};

// The value of date flag `flag` (e.g. "--from"): "YYYY-MM-DD" from k_min_flag_date to k_max_flag_date.
// Throws etl::UsageError naming the flag, the value and the accepted form otherwise.
std::chrono::sys_days parse_date_flag(std::string_view flag, std::string_view value);

std::string format_date(std::chrono::sys_days d);
// "YYYY-MM-DDTHH:MM:SSZ"
std::string format_instant(std::chrono::sys_seconds t);

} // namespace etl::util
