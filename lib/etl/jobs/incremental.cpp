#include "etl/jobs/incremental.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <optional>

namespace etl::jobs {

using namespace std::chrono;

namespace {

// Closes this close (relative) are the same close: a provider printing fewer digits is no revision.
constexpr double k_same = 1e-6;
// Ratios this close (relative) to their median are one common ratio.
constexpr double k_common = 1e-4;

bool near(double a, double b, double tolerance) {
    return std::abs(a - b) <= tolerance * std::max(std::abs(a), std::abs(b));
}

} // namespace

std::vector<sys_days> closed_days(market::DateWindow window, bool crypto, const market::TradingCalendar& calendar,
                                  sys_seconds now) {
    std::vector<sys_days> out;
    for (auto d = window.from; d <= window.to; d += days{1}) {
        if (crypto) {
            if (sys_seconds{d + days{1}} <= now) out.push_back(d);
        } else if (const auto session = calendar.session_on(d); session && session->close <= now) {
            out.push_back(d);
        }
    }
    return out;
}

FetchPlan plan_fetch(market::DateWindow window, std::span<const sys_days> closed, std::span<const sys_days> stored,
                     unsigned revision_sessions, bool from_window_start) {
    FetchPlan plan;
    plan.span = window;
    if (stored.empty()) return plan;
    const auto first = from_window_start && !closed.empty() ? std::min(stored.front(), closed.front()) : stored.front();
    plan.last = stored.back();
    // Closed days from the first stored bar on: before it, by the closed days' order; at or after it,
    // missing unless stored (a merge of two ascending lists).
    auto c = std::lower_bound(closed.begin(), closed.end(), first);
    std::optional<sys_days> first_gap;
    auto s = stored.begin();
    for (; c != closed.end(); ++c) {
        while (s != stored.end() && *s < *c) ++s;
        if (s != stored.end() && *s == *c) continue;
        if (*c < plan.last) {
            ++plan.gaps;
            if (!first_gap) first_gap = *c;
        } else {
            ++plan.new_days;
        }
    }
    if (plan.gaps == 0 && plan.new_days == 0) {
        plan.kind = FetchPlan::Kind::up_to_date;
        return plan;
    }
    // The revision overlap: the last `revision_sessions` closed days up to the last stored bar, that bar's
    // day included, so a run after one new session asks for 1 + revision_sessions sessions.
    const auto upto = std::upper_bound(closed.begin(), closed.end(), plan.last);
    const auto before = static_cast<std::ptrdiff_t>(upto - closed.begin());
    auto from = plan.last;
    if (before > 0 && revision_sessions > 0) {
        // closed[before - 1] is the last stored bar's day (or the closed day before it).
        const auto back = std::min<std::ptrdiff_t>(before - 1, static_cast<std::ptrdiff_t>(revision_sessions) - 1);
        from = std::min(from, closed[static_cast<std::size_t>(before - 1 - back)]);
    }
    if (first_gap) from = std::min(from, *first_gap);
    plan.kind = FetchPlan::Kind::incremental;
    plan.span = market::DateWindow{std::max(from, window.from), window.to};
    return plan;
}

GroupedPlan plan_grouped(std::span<const sys_days> starts, std::span<const sys_days> closed) {
    GroupedPlan best;
    best.requests = starts.size(); // one per symbol
    std::vector<sys_days> sorted(starts.begin(), starts.end());
    std::sort(sorted.begin(), sorted.end());
    // Cutting at sorted[i] serves sorted[i..]: the latest starts first need the fewest dates.
    for (std::size_t i = sorted.size(); i-- > 0;) {
        if (i > 0 && sorted[i] == sorted[i - 1]) continue; // its cut serves the equal starts before it too
        const auto dates =
            static_cast<std::size_t>(closed.end() - std::lower_bound(closed.begin(), closed.end(), sorted[i]));
        const std::size_t requests = dates + i;
        if (dates > 0 && requests < best.requests) {
            best.cut = sorted[i];
            best.dates = dates;
            best.served = sorted.size() - i;
            best.requests = requests;
        }
    }
    return best;
}

OverlapVerdict compare_overlap(std::span<const std::pair<double, double>> pairs) {
    OverlapVerdict v;
    std::vector<double> ratios;
    for (const auto& [stored, fetched] : pairs) {
        if (!std::isfinite(stored) || !std::isfinite(fetched) || stored <= 0 || fetched <= 0) continue;
        ++v.compared;
        if (!near(stored, fetched, k_same)) ++v.differing;
        ratios.push_back(stored / fetched);
    }
    if (v.compared < 2 || v.differing == 0) return v;
    std::sort(ratios.begin(), ratios.end());
    const double median = ratios[ratios.size() / 2];
    const bool common = std::all_of(ratios.begin(), ratios.end(), [&](double r) { return near(r, median, k_common); });
    if (common && !near(median, 1.0, k_same)) {
        v.refetch = true;
        v.factor = median;
        v.reason = fmt::format("by a factor {:.3f} over {} overlapping sessions (split?)", median, v.compared);
    } else if (2 * v.differing > v.compared) {
        v.refetch = true;
        v.reason = fmt::format("on {} of {} overlapping sessions", v.differing, v.compared);
    }
    return v;
}

} // namespace etl::jobs
