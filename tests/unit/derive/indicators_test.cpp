// The indicator engine (derive/indicators.hpp): warm-ups, hand-computed values, the conventions (EMA seed,
// Wilder RSI, population deviation), and resuming from stored state bit for bit. The pandas comparison on
// real-shaped series is tests/e2e/test_derive.py.
#include "etl/derive/indicators.hpp"

#include <catch2/catch.hpp>

#include <cmath>
#include <cstdint>
#include <map>
#include <random>
#include <vector>

using namespace etl::derive;

namespace {

std::vector<Close> series(const std::vector<double>& values) {
    std::vector<Close> out;
    for (std::size_t i = 0; i < values.size(); ++i) out.push_back({static_cast<std::int64_t>(i) * 86400, values[i]});
    return out;
}

// (bar index, indicator) -> value
std::map<std::pair<std::int64_t, Indicator>, double> by_bar(const std::vector<IndicatorValue>& values) {
    std::map<std::pair<std::int64_t, Indicator>, double> out;
    for (const auto& v : values) out[{v.ts / 86400, v.indicator}] = v.value;
    return out;
}

std::int64_t first_bar(const std::vector<IndicatorValue>& values, Indicator i) {
    for (const auto& v : values)
        if (v.indicator == i) return v.ts / 86400;
    return -1;
}

std::vector<double> random_walk(std::size_t n, unsigned seed) {
    std::mt19937_64 rng(seed);
    std::normal_distribution<double> step(0.0, 0.02);
    std::vector<double> out;
    double p = 100;
    for (std::size_t i = 0; i < n; ++i) {
        p *= std::exp(step(rng));
        out.push_back(std::round(p * 100) / 100);
    }
    return out;
}

} // namespace

TEST_CASE("indicator names round-trip", "[unit][derive]") {
    for (std::size_t i = 0; i < k_indicator_count; ++i) {
        const auto ind = static_cast<Indicator>(i);
        REQUIRE(indicator_named(to_string(ind)) == ind);
    }
    CHECK(to_string(Indicator::bb_upper_20_2) == "bb_upper_20_2");
    CHECK(to_string(Indicator::rsi_9_avg_loss) == "rsi_9_avg_loss");
    CHECK_FALSE(indicator_named("sma_7"));
}

TEST_CASE("no value before an indicator's warm-up is complete", "[unit][derive]") {
    std::vector<double> v(250);
    for (std::size_t i = 0; i < v.size(); ++i) v[i] = 10.0 + static_cast<double>(i % 7);
    const auto values = compute_indicators(series(v));
    CHECK(first_bar(values, Indicator::sma_10) == 9);
    CHECK(first_bar(values, Indicator::sma_200) == 199);
    CHECK(first_bar(values, Indicator::ema_50) == 49);
    CHECK(first_bar(values, Indicator::rsi_14) == 14);
    CHECK(first_bar(values, Indicator::rsi_9) == 9);
    CHECK(first_bar(values, Indicator::macd_line) == 25);
    CHECK(first_bar(values, Indicator::macd_signal) == 33);
    CHECK(first_bar(values, Indicator::macd_hist) == 33);
    CHECK(first_bar(values, Indicator::bb_upper_20_2) == 19);
    // Every bar from 199 on has all 21.
    const auto m = by_bar(values);
    for (std::size_t i = 0; i < k_indicator_count; ++i) CHECK(m.contains({249, static_cast<Indicator>(i)}));
    // Too short a series: nothing of sma_200, and no crash on 0 or 1 bar.
    CHECK(first_bar(compute_indicators(series(std::vector<double>(199, 5.0))), Indicator::sma_200) == -1);
    CHECK(compute_indicators({}).empty());
    CHECK(compute_indicators(series({5.0})).empty());
}

TEST_CASE("SMA and the SMA-seeded EMA by hand", "[unit][derive]") {
    std::vector<double> v;
    for (int i = 1; i <= 60; ++i) v.push_back(i);
    const auto m = by_bar(compute_indicators(series(v)));
    CHECK(m.at({9, Indicator::sma_10}) == 5.5);
    CHECK(m.at({10, Indicator::sma_10}) == 6.5);
    CHECK(m.at({9, Indicator::ema_10}) == 5.5); // the seed: the SMA of the first 10
    // a = 2/11: 2/11*11 + 9/11*5.5 = 6.5
    CHECK(m.at({10, Indicator::ema_10}) == Approx(6.5).epsilon(1e-15));
    CHECK(m.at({19, Indicator::ema_20}) == 10.5);
    // MACD line = ema_12 - ema_26 at bar 25; on a straight line both EMAs lag by (N-1)/2.
    CHECK(m.at({25, Indicator::ema_26}) == 13.5);
    CHECK(m.at({25, Indicator::macd_line}) == Approx(m.at({25, Indicator::ema_12}) - 13.5).epsilon(1e-15));
    CHECK(m.at({25, Indicator::ema_12}) == Approx(26.0 - 5.5).epsilon(1e-12));
}

TEST_CASE("Wilder RSI: seed by the mean of the first N changes, then (avg*(N-1)+x)/N", "[unit][derive]") {
    // +1, -1, +1, ... : 7 gains and 7 losses of 1 in the first 14 changes.
    std::vector<double> v{10};
    for (int i = 1; i <= 16; ++i) v.push_back(v.back() + (i % 2 == 1 ? 1.0 : -1.0));
    const auto m = by_bar(compute_indicators(series(v)));
    CHECK(m.at({14, Indicator::rsi_14_avg_gain}) == 0.5);
    CHECK(m.at({14, Indicator::rsi_14_avg_loss}) == 0.5);
    CHECK(m.at({14, Indicator::rsi_14}) == 50.0);
    // change 15 is +1: gain (0.5*13 + 1)/14, loss 6.5/14 -> rsi = 100 * 7.5/14
    CHECK(m.at({15, Indicator::rsi_14}) == Approx(100.0 * 7.5 / 14.0).epsilon(1e-14));
    // Only gains: 100. Flat: 50 (no gain, no loss).
    std::vector<double> up;
    for (int i = 0; i < 20; ++i) up.push_back(1 + i);
    CHECK(by_bar(compute_indicators(series(up))).at({19, Indicator::rsi_14}) == 100.0);
    CHECK(by_bar(compute_indicators(series(std::vector<double>(20, 3.0)))).at({19, Indicator::rsi_9}) == 50.0);
}

TEST_CASE("Bollinger bands use the population deviation", "[unit][derive]") {
    // 10 closes of 1 and 10 of 3: mean 2, population deviation 1 (the sample one would be 1.026).
    std::vector<double> v(10, 1.0);
    v.insert(v.end(), 10, 3.0);
    const auto m = by_bar(compute_indicators(series(v)));
    CHECK(m.at({19, Indicator::bb_middle_20_2}) == 2.0);
    CHECK(m.at({19, Indicator::bb_upper_20_2}) == 4.0);
    CHECK(m.at({19, Indicator::bb_lower_20_2}) == 0.0);
    CHECK(m.at({19, Indicator::sma_20}) == m.at({19, Indicator::bb_middle_20_2}));
}

TEST_CASE("resuming from a bar's stored state equals computing from the first bar, bit for bit", "[unit][derive]") {
    const auto closes = series(random_walk(700, 7));
    const auto full = compute_indicators(closes);
    for (const std::size_t k : {std::size_t{200}, std::size_t{333}, std::size_t{699}}) {
        CarriedState state;
        for (const auto& v : full)
            if (v.ts == closes[k - 1].ts) state[static_cast<std::size_t>(v.indicator)] = v.value;
        const auto resumed = resume_indicators(closes, k, state);
        REQUIRE(resumed);
        std::vector<IndicatorValue> expected;
        for (const auto& v : full)
            if (v.ts >= closes[k].ts) expected.push_back(v);
        REQUIRE(resumed->size() == expected.size());
        for (std::size_t i = 0; i < expected.size(); ++i) {
            CHECK(resumed->at(i).ts == expected[i].ts);
            CHECK(resumed->at(i).indicator == expected[i].indicator);
            CHECK(resumed->at(i).value == expected[i].value); // exact
        }
    }
    // first_out: the same values, only from that bar on.
    const auto tail = compute_indicators(closes, 650);
    CHECK(tail.front().ts == closes[650].ts);
    CHECK(tail.size() == 50 * k_indicator_count);
}

TEST_CASE("resuming refuses what it cannot do exactly", "[unit][derive]") {
    const auto closes = series(random_walk(300, 3));
    const auto full = compute_indicators(closes);
    CarriedState state;
    for (const auto& v : full)
        if (v.ts == closes[249].ts) state[static_cast<std::size_t>(v.indicator)] = v.value;
    CHECK(resume_indicators(closes, 250, state));
    CHECK_FALSE(resume_indicators(closes, 199, state)); // fewer closes before than sma_200 reads
    CHECK_FALSE(resume_indicators(closes, 301, state)); // past the end
    auto missing = state;
    missing[static_cast<std::size_t>(Indicator::rsi_9_avg_gain)].reset();
    CHECK_FALSE(resume_indicators(closes, 250, missing));
    auto nan = state;
    nan[static_cast<std::size_t>(Indicator::ema_26)] = std::nan("");
    CHECK_FALSE(resume_indicators(closes, 250, nan));
    // Resuming at the end gives nothing, without error.
    REQUIRE(resume_indicators(closes, 300, state));
    CHECK(resume_indicators(closes, 300, state)->empty());
}
