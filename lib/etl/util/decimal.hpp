// Canonical decimal text, so a number sent as "4.7227643e+07" or "238.030" compares equal to the
// "47227643" or "238.03" a database gives back.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace etl::util {

// The canonical text of a decimal literal: no exponent, no leading zeros, no trailing fractional
// zeros, and "-" only before a non-zero value ("4.7227643e+07" -> "47227643", "-0.50" -> "-0.5",
// "0e5" -> "0"). nullopt when `text` is not a decimal literal (NaN, Infinity, garbage) or its
// exponent is beyond +-1000.
std::optional<std::string> canonical_decimal(std::string_view text);

} // namespace etl::util
