// The closes a derive goes on from (issue 12 point 6, the incremental derive): per symbol and timeframe,
// the newest valid closes, kept by the store (derive_closes) next to the indicators, so that the next
// derive reads only the bars after them. A daily series reaches back to the base of the longest
// statistics window (5Y), so the statistics are computed from it too; every series holds at least the
// warm-up the indicators need and a margin for revised bars. Pure: packing, unpacking, trimming.
#pragma once

#include "etl/derive/indicators.hpp"
#include "etl/market/timeframe.hpp"

#include <cstddef>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace etl::derive {

// Closes kept beyond the warm-up (k_lookback_bars), so that a derive that starts a few bars back (a load
// revising its last sessions) still goes on from the kept closes.
inline constexpr std::size_t k_kept_margin_bars = 56;

// derive_closes keeps a symbol's closes in two parts: `closes`, written when the series is rewritten, and
// `recent`, the closes added since, so that a daily derive rewrites only the few hundred bytes of `recent`.
// A derive rewrites both when `recent` would hold more than k_recent_closes closes, or when more than
// k_stale_closes of the stored ones are older than what the next derive needs (first_kept_close).
inline constexpr std::size_t k_recent_closes = 256;
// The newest closes a rewrite leaves in `recent`: a derive recomputes from the newest bar with indicators
// (or a few sessions before it, after a load revised them), which must not be in the `closes` part.
inline constexpr std::size_t k_recent_margin = 32;
inline constexpr std::size_t k_stale_closes = 256;

// Whether a derive that went on from stored closes can keep the stored `closes` and replace only `recent`:
// `series` closes in hand now, of which the first `stored` were the stored `closes` part; it recomputed from
// series[k] on (k >= stored: none of the stored part changed), and the next derive needs them from
// series[first_kept] on.
bool only_recent_changes(std::size_t series, std::size_t stored, std::size_t k, std::size_t first_kept) noexcept;

// The bytes of `closes` (ts order): 16 per close, the epoch seconds (int64) and the IEEE 754 bits of the
// close, both little-endian.
std::string pack_closes(std::span<const Close> closes);

// The closes of pack_closes' bytes; nullopt when they are not such bytes (a length that is not a multiple
// of 16, ts not strictly increasing or outside the years 1 to 9999): the caller then reads the bars instead.
std::optional<std::vector<Close>> unpack_closes(std::string_view bytes);

// The index of the first close of `closes` (ts order, every valid close of the symbol from some bar on)
// that the next derive needs: the last k_lookback_bars + k_kept_margin_bars closes, and for daily bars also
// every close from the newest one on or before 5 years and 3 days before the newest bar (the statistics'
// 5Y base: see stats.hpp).
std::size_t first_kept_close(std::span<const Close> closes, market::Timeframe timeframe);

} // namespace etl::derive
