#include "etl/derive/indicators.hpp"

#include "etl/store/schema.hpp"

#include <cmath>

namespace etl::derive {
namespace {

// The names are indicator_bars' columns (the store's schema), in this enum's order.
constexpr const auto& k_names = store::schema::k_indicator_columns;
static_assert(k_names.size() == k_indicator_count);

constexpr std::size_t k_macd_fast = 12;
constexpr std::size_t k_macd_slow = 26;
constexpr std::size_t k_macd_signal = 9;
constexpr std::size_t k_bb_period = 20;
constexpr double k_bb_width = 2.0;

struct Sma {
    std::size_t period;
    Indicator out;
};
constexpr std::array<Sma, 4> k_smas = {
    {{10, Indicator::sma_10}, {20, Indicator::sma_20}, {50, Indicator::sma_50}, {200, Indicator::sma_200}}};

struct Ema {
    std::size_t period;
    Indicator out;
    double value = 0;
};

struct Rsi {
    std::size_t period;
    Indicator out;
    Indicator avg_gain_out;
    Indicator avg_loss_out;
    double sum_gain = 0; // during the warm-up
    double sum_loss = 0;
    double avg_gain = 0;
    double avg_loss = 0;
};

// The mean of closes[i-period+1 .. i], summed oldest first: the SMA, the EMA seed and the Bollinger middle
// all use this one order, so they agree bit for bit.
double window_mean(std::span<const Close> closes, std::size_t i, std::size_t period) {
    double sum = 0;
    for (std::size_t j = i + 1 - period; j <= i; ++j) sum += closes[j].close;
    return sum / static_cast<double>(period);
}

double rsi_of(double avg_gain, double avg_loss) {
    if (avg_loss == 0) return avg_gain == 0 ? 50.0 : 100.0;
    return 100.0 - 100.0 / (1.0 + avg_gain / avg_loss);
}

// One pass over closes. `g0` is the index (from the symbol's first bar) of closes[0]: 0 when computing
// from the first bar; when resuming, any index past every warm-up (the carried state is set by hand).
class Engine {
public:
    explicit Engine(std::size_t g0) : m_g0(g0) {}

    void set_state(const CarriedState& s) {
        auto get = [&](Indicator i) { return *s[static_cast<std::size_t>(i)]; };
        for (auto& e : m_emas) e.value = get(e.out);
        m_signal = get(Indicator::macd_signal);
        for (auto& r : m_rsis) {
            r.avg_gain = get(r.avg_gain_out);
            r.avg_loss = get(r.avg_loss_out);
        }
    }

    // Computes bar i (every bar before it has been stepped, or is covered by the carried state) and
    // appends its values when `emit`.
    void step(std::span<const Close> closes, std::size_t i, bool emit, std::vector<IndicatorValue>& out) {
        const std::size_t g = m_g0 + i;
        const double c = closes[i].close;
        const auto put = [&](Indicator ind, double v) {
            if (emit && std::isfinite(v)) out.push_back({closes[i].ts, ind, v});
        };
        for (const auto& s : k_smas)
            if (g + 1 >= s.period) put(s.out, window_mean(closes, i, s.period));
        for (auto& e : m_emas) {
            if (g + 1 < e.period) continue;
            if (g + 1 == e.period) {
                e.value = window_mean(closes, i, e.period);
            } else {
                const double a = 2.0 / static_cast<double>(e.period + 1);
                e.value = a * c + (1.0 - a) * e.value;
            }
            put(e.out, e.value);
        }
        if (g >= 1) {
            const double d = c - closes[i - 1].close;
            const double gain = d > 0 ? d : 0.0;
            const double loss = d < 0 ? -d : 0.0;
            for (auto& r : m_rsis) {
                const auto n = static_cast<double>(r.period);
                if (g < r.period) {
                    r.sum_gain += gain;
                    r.sum_loss += loss;
                    continue;
                }
                if (g == r.period) {
                    r.avg_gain = (r.sum_gain + gain) / n;
                    r.avg_loss = (r.sum_loss + loss) / n;
                } else {
                    r.avg_gain = (r.avg_gain * (n - 1.0) + gain) / n;
                    r.avg_loss = (r.avg_loss * (n - 1.0) + loss) / n;
                }
                put(r.out, rsi_of(r.avg_gain, r.avg_loss));
                put(r.avg_gain_out, r.avg_gain);
                put(r.avg_loss_out, r.avg_loss);
            }
        }
        if (g + 1 >= k_macd_slow) {
            const double line = m_emas[3].value - m_emas[4].value; // ema_12 - ema_26
            put(Indicator::macd_line, line);
            const std::size_t seeded_at = k_macd_slow + k_macd_signal - 2; // bar 33
            if (g < seeded_at) {
                m_signal_sum += line;
            } else {
                if (g == seeded_at) {
                    m_signal = (m_signal_sum + line) / static_cast<double>(k_macd_signal);
                } else {
                    const double a = 2.0 / static_cast<double>(k_macd_signal + 1);
                    m_signal = a * line + (1.0 - a) * m_signal;
                }
                put(Indicator::macd_signal, m_signal);
                put(Indicator::macd_hist, line - m_signal);
            }
        }
        if (g + 1 >= k_bb_period) {
            const double mid = window_mean(closes, i, k_bb_period);
            double sq = 0;
            for (std::size_t j = i + 1 - k_bb_period; j <= i; ++j)
                sq += (closes[j].close - mid) * (closes[j].close - mid);
            const double sd = std::sqrt(sq / static_cast<double>(k_bb_period));
            put(Indicator::bb_upper_20_2, mid + k_bb_width * sd);
            put(Indicator::bb_middle_20_2, mid);
            put(Indicator::bb_lower_20_2, mid - k_bb_width * sd);
        }
    }

private:
    std::size_t m_g0;
    // ema_10, ema_20, ema_50, then MACD's ema_12 and ema_26 (indices 3 and 4).
    std::array<Ema, 5> m_emas = {{{10, Indicator::ema_10},
                                  {20, Indicator::ema_20},
                                  {50, Indicator::ema_50},
                                  {k_macd_fast, Indicator::ema_12},
                                  {k_macd_slow, Indicator::ema_26}}};
    std::array<Rsi, 2> m_rsis = {{{14, Indicator::rsi_14, Indicator::rsi_14_avg_gain, Indicator::rsi_14_avg_loss},
                                  {9, Indicator::rsi_9, Indicator::rsi_9_avg_gain, Indicator::rsi_9_avg_loss}}};
    double m_signal = 0;
    double m_signal_sum = 0; // during the signal's warm-up
};

constexpr std::array<Indicator, 10> k_carried = {
    Indicator::ema_10,         Indicator::ema_20,         Indicator::ema_50,          Indicator::ema_12,
    Indicator::ema_26,         Indicator::macd_signal,    Indicator::rsi_14_avg_gain, Indicator::rsi_14_avg_loss,
    Indicator::rsi_9_avg_gain, Indicator::rsi_9_avg_loss,
};

// Values per bar once every indicator is warm: what reserve() plans for.
constexpr std::size_t k_values_per_bar = k_indicator_count;

} // namespace

std::string_view to_string(Indicator i) noexcept { return k_names[static_cast<std::size_t>(i)]; }

std::optional<Indicator> indicator_named(std::string_view name) noexcept {
    for (std::size_t i = 0; i < k_names.size(); ++i)
        if (k_names[i] == name) return static_cast<Indicator>(i);
    return std::nullopt;
}

std::vector<IndicatorValue> compute_indicators(std::span<const Close> closes, std::size_t first_out) {
    std::vector<IndicatorValue> out;
    if (first_out < closes.size()) out.reserve((closes.size() - first_out) * k_values_per_bar);
    Engine engine(0);
    for (std::size_t i = 0; i < closes.size(); ++i) engine.step(closes, i, i >= first_out, out);
    return out;
}

std::optional<std::vector<IndicatorValue>> resume_indicators(std::span<const Close> closes, std::size_t k,
                                                             const CarriedState& state) {
    if (k < k_lookback_bars || k > closes.size()) return std::nullopt;
    for (const auto i : k_carried)
        if (!state[static_cast<std::size_t>(i)] || !std::isfinite(*state[static_cast<std::size_t>(i)]))
            return std::nullopt;
    std::vector<IndicatorValue> out;
    out.reserve((closes.size() - k) * k_values_per_bar);
    // Any index past every warm-up: no seeding happens, the carried state goes on.
    Engine engine(k_lookback_bars * 2);
    engine.set_state(state);
    for (std::size_t i = k; i < closes.size(); ++i) engine.step(closes, i, true, out);
    return out;
}

} // namespace etl::derive
