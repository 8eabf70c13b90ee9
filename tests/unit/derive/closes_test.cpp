// The closes a derive keeps (derive/closes.hpp): packing is exact and refuses bytes it did not make, the
// kept range reaches the statistics' 5Y base (February 29th included), and when only `recent` is rewritten.
#include "etl/derive/closes.hpp"

#include <catch2/catch.hpp>

#include <chrono>
#include <cmath>
#include <limits>
#include <vector>

using namespace etl::derive;

namespace {

std::int64_t midnight(int y, unsigned m, unsigned d) {
    using namespace std::chrono;
    return sys_seconds{sys_days{year{y} / month{m} / day{d}}}.time_since_epoch().count();
}

// A close every calendar day from `first` (epoch seconds), `n` of them.
std::vector<Close> every_day(std::int64_t first, std::size_t n) {
    std::vector<Close> out;
    for (std::size_t i = 0; i < n; ++i)
        out.push_back({first + static_cast<std::int64_t>(i) * 86400, 100.0 + static_cast<double>(i) / 7.0});
    return out;
}

} // namespace

TEST_CASE("packed closes come back bit for bit", "[unit][derive]") {
    const std::vector<Close> closes = {{-2208988800, 0.1},
                                       {0, std::numeric_limits<double>::quiet_NaN()},
                                       {86400, -0.0},
                                       {1'700'000'000, 1e300},
                                       {1'700'003'600, std::numeric_limits<double>::denorm_min()}};
    const auto bytes = pack_closes(closes);
    REQUIRE(bytes.size() == closes.size() * 16);
    // Little-endian: the first close's ts, lowest byte first.
    CHECK(static_cast<unsigned char>(bytes[0]) == (static_cast<std::uint64_t>(-2208988800) & 0xffU));
    CHECK(static_cast<unsigned char>(bytes[7]) == 0xffU);
    const auto back = unpack_closes(bytes);
    REQUIRE(back);
    REQUIRE(back->size() == closes.size());
    for (std::size_t i = 0; i < closes.size(); ++i) {
        CHECK((*back)[i].ts == closes[i].ts);
        CHECK(std::bit_cast<std::uint64_t>((*back)[i].close) == std::bit_cast<std::uint64_t>(closes[i].close));
    }
    CHECK(unpack_closes("")->empty());
    CHECK(pack_closes({}).empty());
}

TEST_CASE("bytes that are no packed closes are refused, not guessed at", "[unit][derive]") {
    const auto bytes = pack_closes(every_day(0, 3));
    CHECK_FALSE(unpack_closes(std::string_view(bytes).substr(0, 47)));
    CHECK_FALSE(unpack_closes(bytes + "x"));
    // Out of order, or a ts twice.
    CHECK_FALSE(unpack_closes(pack_closes(std::vector<Close>{{86400, 1.0}, {0, 2.0}})));
    CHECK_FALSE(unpack_closes(pack_closes(std::vector<Close>{{86400, 1.0}, {86400, 2.0}})));
    // No instant a store holds (the fuzzer's find: first_kept_close overflowed on it).
    CHECK_FALSE(unpack_closes(pack_closes(std::vector<Close>{{std::numeric_limits<std::int64_t>::max() - 127, 1.0}})));
    CHECK_FALSE(unpack_closes(pack_closes(std::vector<Close>{{-62'135'596'801, 1.0}})));
    CHECK(unpack_closes(pack_closes(std::vector<Close>{{-62'135'596'800, 1.0}, {253'402'300'799, 2.0}})));
}

TEST_CASE("the kept closes: the indicators' warm-up, and for daily bars the 5Y base", "[unit][derive]") {
    const std::size_t warm = k_lookback_bars + k_kept_margin_bars;
    SECTION("short series are kept whole") {
        CHECK(first_kept_close(every_day(0, 10), etl::market::Timeframe::hour) == 0);
        CHECK(first_kept_close(every_day(0, warm), etl::market::Timeframe::day) == 0);
    }
    SECTION("hourly bars: the warm-up and its margin") {
        CHECK(first_kept_close(every_day(0, warm + 100), etl::market::Timeframe::hour) == 100);
    }
    SECTION("daily bars: from the newest close on or before 5 years and 3 days before the newest") {
        // Every day from 2015-01-01 to 2026-11-30: the bound is 2021-11-27.
        const auto first = midnight(2015, 1, 1);
        const auto closes = every_day(first, static_cast<std::size_t>((midnight(2026, 11, 30) - first) / 86400 + 1));
        const auto k = first_kept_close(closes, etl::market::Timeframe::day);
        CHECK(closes[k].ts == midnight(2021, 11, 27));
        // With a gap around the bound, the close before it.
        auto gapped = closes;
        std::erase_if(gapped,
                      [](const Close& c) { return c.ts >= midnight(2021, 11, 20) && c.ts < midnight(2021, 12, 5); });
        CHECK(gapped[first_kept_close(gapped, etl::market::Timeframe::day)].ts == midnight(2021, 11, 19));
    }
    SECTION("February 29th: five years back is the 28th, then three days") {
        const auto first = midnight(2018, 1, 1);
        const auto closes = every_day(first, static_cast<std::size_t>((midnight(2024, 2, 29) - first) / 86400 + 1));
        CHECK(closes[first_kept_close(closes, etl::market::Timeframe::day)].ts == midnight(2019, 2, 25));
    }
}

TEST_CASE("only `recent` is rewritten while the stored closes still hold", "[unit][derive]") {
    // 1,300 closes in hand, 1,200 of them the stored part, recomputed from the last 3.
    CHECK(only_recent_changes(1300, 1200, 1297, 40));
    // The recomputation reaches into the stored part: it changed.
    CHECK_FALSE(only_recent_changes(1300, 1200, 1199, 40));
    // `recent` would outgrow its bound, or too many stored closes are no longer needed: rewrite both.
    CHECK(only_recent_changes(1200 + k_recent_closes, 1200, 1400, 40));
    CHECK_FALSE(only_recent_changes(1201 + k_recent_closes, 1200, 1400, 40));
    CHECK(only_recent_changes(1300, 1200, 1297, k_stale_closes));
    CHECK_FALSE(only_recent_changes(1300, 1200, 1297, k_stale_closes + 1));
}
