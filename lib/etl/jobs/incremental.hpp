// etl-historical's incremental plan: what each symbol of a range run must fetch, given the daily bars it
// already holds (one store read for the run), and whether the provider's answer for the overlap says
// the stored history is stale (split-adjusted history) so the symbol's whole window is fetched again.
#pragma once

#include "etl/market/calendar.hpp"
#include "etl/market/range.hpp"

#include <chrono>
#include <cstddef>
#include <optional>
#include <span>
#include <string>
#include <utility>
#include <vector>

namespace etl::jobs {

// The days of `window` whose daily bar had closed by `now`, ascending: NYSE sessions whose close is at
// or before `now` (early closes included), or for crypto every UTC day that has ended.
std::vector<std::chrono::sys_days> closed_days(market::DateWindow window, bool crypto,
                                               const market::TradingCalendar& calendar, std::chrono::sys_seconds now);

struct FetchPlan {
    enum class Kind {
        whole,       // nothing stored in the window: fetch all of it
        incremental, // fetch `span`, from the first gap or the revision overlap to the window's end
        up_to_date,  // nothing missing: no request
    };
    Kind kind = Kind::whole;
    market::DateWindow span{};
    std::size_t gaps = 0;         // closed days between the first and the last stored bar without a bar
    std::size_t new_days = 0;     // closed days after the last stored bar
    std::chrono::sys_days last{}; // the last stored bar's date (incremental, up_to_date)
};

// The plan for one symbol. `closed` is closed_days() of `window`; `stored` the dates of the symbol's
// stored bars inside `window`, ascending. Gaps are counted from the first stored bar (a history that
// starts inside the window is taken as complete: a recent listing, a plan's limit; `--full` fetches it
// all), or with `from_window_start` (an explicit --from) from the window's first closed day. With something
// missing the span starts at the first gap or at the first of the last `revision_sessions` closed days up to
// the last stored bar (that bar's day included), whichever is earlier, and ends at the window's end (one
// contiguous range: what every provider's request can express). Nothing missing: up_to_date.
FetchPlan plan_fetch(market::DateWindow window, std::span<const std::chrono::sys_days> closed,
                     std::span<const std::chrono::sys_days> stored, unsigned revision_sessions,
                     bool from_window_start = false);

// Which symbols of one whole-market answer (Polygon grouped daily: one request per date, every symbol)
// to fetch that way. Every symbol's span ends on the window's last day, so the symbols whose spans start
// on or after a cut date together need the closed days from the cut on: `requests` = those days plus one
// request per symbol starting before the cut. The plan is the cut with the fewest requests, taken when it
// costs fewer than one request per symbol.
struct GroupedPlan {
    std::optional<std::chrono::sys_days> cut; // nullopt: one request per symbol is as cheap
    std::size_t dates = 0;                    // grouped requests: closed days on or after the cut
    std::size_t served = 0;                   // symbols whose span starts on or after the cut
    std::size_t requests = 0;                 // dates + the per-symbol requests of the others
};

// `starts`: each symbol's span start; `closed`: the closed days of the window, ascending.
GroupedPlan plan_grouped(std::span<const std::chrono::sys_days> starts, std::span<const std::chrono::sys_days> closed);

// What the overlap (closes of the same days, stored and fetched) says about the stored history.
struct OverlapVerdict {
    bool refetch = false; // the stored history is not the provider's: fetch the whole window again
    std::size_t compared = 0;
    std::size_t differing = 0; // days whose closes differ beyond the tolerance
    double factor = 1.0;       // stored / fetched, when every differing close differs by the same ratio
    std::string reason;        // for the log: "by a factor 4.000 over 5 overlapping sessions (split?)"
};

// Compares `pairs` (stored close, fetched close) of the overlap days. A refetch when at least two days
// compare and either every close differs by one common ratio (a split or dividend adjustment of
// history), or most of them differ. A single revised close (a provider's correction) is a normal update.
OverlapVerdict compare_overlap(std::span<const std::pair<double, double>> pairs);

} // namespace etl::jobs
