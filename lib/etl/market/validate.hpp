// Validation before load: every bar is checked, failures become rejected records with a reason, and
// duplicates by timestamp are resolved (the later record wins; the earlier one is recorded).
#pragma once

#include "etl/market/bar.hpp"

#include <string>

namespace etl::market {

// Why `bar` is invalid for the inclusive window [from, to], or "" when it is valid: finite positive
// prices, high >= max(open, close), low <= min(open, close), non-negative finite volume, finite
// non-negative vwap and trade count, ts inside the window and aligned to the timeframe.
std::string invalid_reason(const Bar& bar, sys_seconds from, sys_seconds to);

// Moves invalid bars of `batch` into batch.rejected, sorts the rest by ts and keeps one bar per ts.
void validate_batch(BarBatch& batch, sys_seconds from, sys_seconds to);

// The bar as a JSON object, for rejected_rows.raw.
std::string to_json(const Bar& bar);

} // namespace etl::market
