#include "etl/market/bar.hpp"

#include <fmt/format.h>

namespace etl::market {

// fmt's "{}" for a double is the shortest text that reads back as the same double ("1e-05", "87301.5",
// "47227643"), which PostgreSQL NUMERIC accepts as is. Non-finite values are not filtered here: they
// come out as "inf", "-inf" or "nan". PostgreSQL 14+ NUMERIC accepts those too, so bar validation must
// reject a Decimal whose `value` is not finite before anything is stored.
Decimal decimal_from_double(double v) { return Decimal{fmt::format("{}", v), v}; }

} // namespace etl::market
