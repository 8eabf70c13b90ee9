#include "etl/derive/stats.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>

namespace etl::derive {
namespace {

using namespace std::chrono;

std::int64_t years_back(std::int64_t day, int n) {
    const year_month_day ymd{sys_days{days{day}}};
    auto back = ymd - years{n};
    if (!back.ok()) back = back.year() / back.month() / last; // February 29th
    return sys_days{back}.time_since_epoch().count();
}

// The index of the newest close on or before `day`; nullopt when every close is after it.
std::optional<std::size_t> last_on_or_before(std::span<const DailyClose> closes, std::int64_t day) {
    const auto it = std::upper_bound(closes.begin(), closes.end(), day,
                                     [](std::int64_t d, const DailyClose& c) { return d < c.day; });
    if (it == closes.begin()) return std::nullopt;
    return static_cast<std::size_t>(it - closes.begin()) - 1;
}

double mean(std::span<const double> v) {
    double sum = 0;
    for (const double x : v) sum += x;
    return sum / static_cast<double>(v.size());
}

// Sample covariance (n - 1); v and w of the same size >= 2.
double covariance(std::span<const double> v, std::span<const double> w) {
    const double mv = mean(v);
    const double mw = mean(w);
    double sum = 0;
    for (std::size_t i = 0; i < v.size(); ++i) sum += (v[i] - mv) * (w[i] - mw);
    return sum / static_cast<double>(v.size() - 1);
}

std::vector<double> log_returns(std::span<const DailyClose> bars) {
    std::vector<double> out;
    for (std::size_t i = 1; i < bars.size(); ++i) out.push_back(std::log(bars[i].close / bars[i - 1].close));
    return out;
}

// The returns of the closes `a` and `b` have on the same days, in day order.
std::pair<std::vector<double>, std::vector<double>> aligned_returns(std::span<const DailyClose> a,
                                                                    std::span<const DailyClose> b) {
    std::vector<double> ca;
    std::vector<double> cb;
    std::size_t j = 0;
    for (const auto& x : a) {
        while (j < b.size() && b[j].day < x.day) ++j;
        if (j < b.size() && b[j].day == x.day) {
            ca.push_back(x.close);
            cb.push_back(b[j].close);
        }
    }
    std::pair<std::vector<double>, std::vector<double>> out;
    for (std::size_t i = 1; i < ca.size(); ++i) {
        out.first.push_back(std::log(ca[i] / ca[i - 1]));
        out.second.push_back(std::log(cb[i] / cb[i - 1]));
    }
    return out;
}

std::optional<double> finite(double v) { return std::isfinite(v) ? std::optional(v) : std::nullopt; }

// The window's bars: its base (the newest bar on or before the start) through the newest bar on or before
// `as_of`; empty when the history does not reach the start.
std::span<const DailyClose> window_bars(std::span<const DailyClose> closes, StatWindow w, std::int64_t as_of) {
    const auto base = last_on_or_before(closes, window_start(w, as_of));
    const auto end = last_on_or_before(closes, as_of);
    if (!base || !end || *end <= *base) return {};
    return closes.subspan(*base, *end - *base + 1);
}

} // namespace

std::string_view to_string(StatWindow w) noexcept {
    switch (w) {
    case StatWindow::d7: return "7D";
    case StatWindow::d30: return "30D";
    case StatWindow::d90: return "90D";
    case StatWindow::ytd: return "YTD";
    case StatWindow::y1: return "1Y";
    case StatWindow::y3: return "3Y";
    case StatWindow::y5: return "5Y";
    }
    return "7D"; // not reached
}

std::int64_t window_start(StatWindow w, std::int64_t as_of) noexcept {
    switch (w) {
    case StatWindow::d7: return as_of - 7;
    case StatWindow::d30: return as_of - 30;
    case StatWindow::d90: return as_of - 90;
    case StatWindow::ytd: {
        const year_month_day ymd{sys_days{days{as_of}}};
        return sys_days{(ymd.year() - years{1}) / December / 31}.time_since_epoch().count();
    }
    case StatWindow::y1: return years_back(as_of, 1);
    case StatWindow::y3: return years_back(as_of, 3);
    case StatWindow::y5: return years_back(as_of, 5);
    }
    return as_of; // not reached
}

std::vector<WindowStats> compute_stats(std::span<const DailyClose> closes, std::span<const DailyClose> benchmark,
                                       double risk_free_rate, bool crypto) {
    std::vector<WindowStats> out;
    if (closes.empty()) return out;
    const double n = crypto ? 365.0 : 252.0;
    const auto as_of = closes.back().day;
    // Every window ends at the newest bar, so each one's returns are a suffix of the whole series': the
    // logarithms are taken once, not once per window (the same values, so the same results).
    const auto all_returns = log_returns(closes);
    // The same for the returns on the dates the benchmark also has: common[j] is the j-th such date.
    std::vector<std::int64_t> common;
    std::pair<std::vector<double>, std::vector<double>> all_aligned;
    if (!benchmark.empty()) {
        all_aligned = aligned_returns(closes, benchmark);
        std::size_t j = 0;
        for (const auto& x : closes) {
            while (j < benchmark.size() && benchmark[j].day < x.day) ++j;
            if (j < benchmark.size() && benchmark[j].day == x.day) common.push_back(x.day);
        }
    }
    for (const auto w : k_stat_windows) {
        const auto bars = window_bars(closes, w, as_of);
        if (bars.empty()) continue;
        const auto base = static_cast<std::size_t>(bars.data() - closes.data());
        WindowStats s;
        s.window = w;
        s.as_of = as_of;
        s.base_day = bars.front().day;
        s.roi = bars.back().close / bars.front().close - 1.0;
        const auto r = std::span<const double>(all_returns).subspan(base, bars.size() - 1);
        s.returns = r.size();
        if (r.size() >= 2) {
            const double vol = std::sqrt(covariance(r, r)) * std::sqrt(n);
            const double excess = mean(r) * n - risk_free_rate;
            if (vol > 0) {
                s.volatility = finite(vol);
                s.sharpe = finite(excess / vol);
            } else {
                s.volatility = 0.0;
            }
            double down = 0;
            for (const double x : r) {
                const double d = std::min(x - risk_free_rate / n, 0.0);
                down += d * d;
            }
            const double dd = std::sqrt(down / static_cast<double>(r.size())) * std::sqrt(n);
            if (dd > 0) s.sortino = finite(excess / dd);
        }
        double peak = bars.front().close;
        std::int64_t peak_day = bars.front().day;
        for (const auto& b : bars) {
            if (b.close > peak) {
                peak = b.close;
                peak_day = b.day;
            }
            const double fall = 1.0 - b.close / peak;
            if (fall > s.max_drawdown) {
                s.max_drawdown = fall;
                s.drawdown_peak = peak_day;
                s.drawdown_trough = b.day;
            }
        }
        if (!benchmark.empty()) {
            // The window's common dates are those from its base on; its returns are those between them.
            const auto first =
                static_cast<std::size_t>(std::lower_bound(common.begin(), common.end(), s.base_day) - common.begin());
            if (first + 1 < common.size()) {
                const auto ra = std::span<const double>(all_aligned.first).subspan(first);
                const auto rb = std::span<const double>(all_aligned.second).subspan(first);
                if (ra.size() >= 2) {
                    const double var = covariance(rb, rb);
                    if (var > 0) s.beta = finite(covariance(ra, rb) / var);
                }
            }
        }
        out.push_back(s);
    }
    return out;
}

std::vector<Comparison> compare(std::span<const DailyClose> a, std::span<const DailyClose> b) {
    std::vector<Comparison> out;
    if (a.empty() || b.empty()) return out;
    const auto as_of = std::min(a.back().day, b.back().day);
    for (const auto w : k_stat_windows) {
        const auto wa = window_bars(a, w, as_of);
        const auto wb = window_bars(b, w, as_of);
        if (wa.empty() || wb.empty()) continue;
        Comparison c;
        c.window = w;
        c.as_of = as_of;
        c.price_ratio = wa.back().close / wb.back().close;
        c.roi_spread = (wa.back().close / wa.front().close) - (wb.back().close / wb.front().close);
        std::optional<double> va = 0.0;
        std::optional<double> vb = 0.0;
        for (const auto& x : wa.subspan(1)) va = (va && x.volume) ? std::optional(*va + *x.volume) : std::nullopt;
        for (const auto& x : wb.subspan(1)) vb = (vb && x.volume) ? std::optional(*vb + *x.volume) : std::nullopt;
        if (va && vb && *vb > 0) c.volume_ratio = finite(*va / *vb);
        const auto [ra, rb] = aligned_returns(wa, wb);
        if (ra.size() >= 2) {
            const double sa = covariance(ra, ra);
            const double sb = covariance(rb, rb);
            if (sa > 0 && sb > 0) c.correlation = finite(covariance(ra, rb) / std::sqrt(sa * sb));
        }
        out.push_back(c);
    }
    return out;
}

} // namespace etl::derive
