// Small string helpers used across layers (nothing project-specific).
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace etl::util {

std::string to_upper(std::string_view s);
std::string to_lower(std::string_view s);
// Equal up to ASCII case (bytes outside A-Z compare as they are, whatever the locale).
bool iequals(std::string_view a, std::string_view b) noexcept;
std::string_view trim(std::string_view s) noexcept;
// Splits on `sep`; empty fields are kept.
std::vector<std::string> split(std::string_view s, char sep);
// Percent-encodes everything outside RFC 3986 unreserved characters (for URL path segments).
std::string percent_encode(std::string_view s);
// Quotes `s` as a JSON string literal, escaping control characters.
std::string json_quote(std::string_view s);
// Levenshtein distance, for "did you mean".
std::size_t edit_distance(std::string_view a, std::string_view b);

} // namespace etl::util
