// Statistics and comparisons (derive/stats.hpp) by hand: windows and their base, ROI, drawdown with its
// dates, beta of a series against itself and a scaled copy, and what cannot be computed. The pandas
// comparison on real-shaped series is tests/e2e/test_derive.py.
#include "etl/derive/stats.hpp"

#include <catch2/catch.hpp>

#include <chrono>
#include <cmath>
#include <vector>

using namespace etl::derive;

namespace {

std::int64_t day(int y, unsigned m, unsigned d) {
    using namespace std::chrono;
    return sys_days{year{y} / month{m} / std::chrono::day{d}}.time_since_epoch().count();
}

std::vector<DailyClose> daily(std::int64_t first, const std::vector<double>& closes) {
    std::vector<DailyClose> out;
    for (std::size_t i = 0; i < closes.size(); ++i)
        out.push_back({first + static_cast<std::int64_t>(i), closes[i], 100.0 * static_cast<double>(i + 1)});
    return out;
}

const WindowStats* find(const std::vector<WindowStats>& v, StatWindow w) {
    for (const auto& s : v)
        if (s.window == w) return &s;
    return nullptr;
}

} // namespace

TEST_CASE("window starts: calendar days, YTD from December 31st, years with February 29th", "[unit][derive]") {
    CHECK(window_start(StatWindow::d7, day(2025, 3, 14)) == day(2025, 3, 7));
    CHECK(window_start(StatWindow::d90, day(2025, 3, 14)) == day(2024, 12, 14));
    CHECK(window_start(StatWindow::ytd, day(2025, 3, 14)) == day(2024, 12, 31));
    CHECK(window_start(StatWindow::y1, day(2024, 2, 29)) == day(2023, 2, 28));
    CHECK(window_start(StatWindow::y5, day(2025, 3, 14)) == day(2020, 3, 14));
    CHECK(to_string(StatWindow::ytd) == "YTD");
}

TEST_CASE("ROI, drawdown and its dates, over the window from its base", "[unit][derive]") {
    // 10 days: up to 12, down to 9, up to 11.
    const auto first = day(2025, 1, 1);
    const auto closes = daily(first, {10, 11, 12, 10, 9, 9.5, 10, 10.5, 11, 11});
    const auto s = compute_stats(closes, {}, 0.0, true);
    const auto* w = find(s, StatWindow::d7); // start Jan 3 (index 2): base = the close of 12
    REQUIRE(w);
    CHECK(w->base_day == first + 2);
    CHECK(w->returns == 7);
    CHECK(w->roi == Approx(11.0 / 12.0 - 1.0));
    CHECK(w->max_drawdown == Approx(0.25)); // 12 -> 9
    CHECK(w->drawdown_peak == first + 2);
    CHECK(w->drawdown_trough == first + 4);
    CHECK_FALSE(w->beta);                       // no benchmark
    CHECK(find(s, StatWindow::d30) == nullptr); // the history does not reach back 30 days
    REQUIRE(w->volatility);
    CHECK(*w->volatility > 0);
}

TEST_CASE("beta against itself is 1, against a doubled-return copy 0.5; flat series have no ratios", "[unit][derive]") {
    const auto first = day(2025, 1, 1);
    std::vector<double> a{100};
    for (int i = 1; i < 40; ++i) a.push_back(a.back() * std::exp(0.01 * std::sin(i)));
    std::vector<double> b;
    for (const double x : a) b.push_back(x * x / 100.0); // log returns doubled
    const auto sa = daily(first, a);
    const auto sb = daily(first, b);
    const auto against_self = compute_stats(sa, sa, 0.0, true); // kept: find() points into it
    const auto* self = find(against_self, StatWindow::d30);
    REQUIRE(self);
    CHECK(*self->beta == Approx(1.0));
    const auto against_double = compute_stats(sa, sb, 0.0, true);
    const auto* half = find(against_double, StatWindow::d30);
    REQUIRE(half);
    CHECK(*half->beta == Approx(0.5));
    const auto c = compare(sa, sb);
    REQUIRE_FALSE(c.empty());
    CHECK(*c.front().correlation == Approx(1.0));
    CHECK(c.front().price_ratio == Approx(a.back() / b.back()));
    const auto flat = daily(first, std::vector<double>(40, 5.0));
    const auto flat_stats = compute_stats(flat, {}, 0.0, true);
    const auto* f = find(flat_stats, StatWindow::d30);
    REQUIRE(f);
    CHECK(*f->volatility == 0.0);
    CHECK_FALSE(f->sharpe);
    CHECK_FALSE(f->sortino);
    CHECK(f->max_drawdown == 0.0);
    CHECK_FALSE(f->drawdown_peak);
    CHECK(compute_stats({}, {}, 0.0, false).empty());
}
