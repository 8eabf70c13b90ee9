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
// Parses "YYYY-MM-DD"; nullopt if malformed or not a real date.
std::optional<std::chrono::sys_days> parse_date(std::string_view text);

std::string format_date(std::chrono::sys_days d);
// "YYYY-MM-DDTHH:MM:SSZ"
std::string format_instant(std::chrono::sys_seconds t);

} // namespace etl::util
