// How fresh the stored bars are: per timeframe, the oldest latest bar over active assets (the asset
// that lags most), read with one SQL statement on either store after a run's load.
#pragma once

#include "etl/store/schema.hpp"
#include "etl/store/store.hpp"

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace etl::metrics {

// The statement for `dialect`: rows (timeframe, Unix seconds) for '1d' and '1h', the minimum over active
// assets of each asset's latest price_bars.ts. Each asset's latest bar is one index probe of the primary
// key (symbol, timeframe, ts), so the cost grows with the assets, not with the bars. An asset without
// bars of a timeframe does not count for it; a timeframe no active asset has is absent.
std::string latest_bar_sql(store::Dialect dialect);

// Runs latest_bar_sql on `query`: {timeframe, Unix seconds} in the order '1d', '1h'. Throws what
// Query::rows throws.
std::vector<std::pair<std::string, std::int64_t>> latest_bar_timestamps(store::Query& query);

} // namespace etl::metrics
