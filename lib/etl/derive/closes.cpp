#include "etl/derive/closes.hpp"

#include "etl/derive/stats.hpp"

#include <algorithm>
#include <bit>
#include <cstdint>
#include <cstring>

namespace etl::derive {
namespace {

constexpr std::size_t k_packed_close = 16;
constexpr std::int64_t k_day_seconds = 86400;

// Little-endian whatever the machine's order, a memcpy where it is already.
std::uint64_t little_endian(std::uint64_t v) {
    if constexpr (std::endian::native == std::endian::little) return v;
    std::uint64_t out = 0;
    for (int i = 0; i < 8; ++i) out = (out << 8) | ((v >> (8 * i)) & 0xffU);
    return out;
}

void put64(char* out, std::uint64_t v) {
    v = little_endian(v);
    std::memcpy(out, &v, sizeof v);
}

std::uint64_t get64(const char* in) {
    std::uint64_t v = 0;
    std::memcpy(&v, in, sizeof v);
    return little_endian(v);
}

// The instants a kept close can have: years 1 to 9999, as the stores' timestamps.
constexpr std::int64_t k_first_ts = -62'135'596'800; // 0001-01-01T00:00:00Z
constexpr std::int64_t k_last_ts = 253'402'300'799;  // 9999-12-31T23:59:59Z

std::int64_t floor_day(std::int64_t ts) { return ts / k_day_seconds - (ts % k_day_seconds < 0 ? 1 : 0); }

} // namespace

std::string pack_closes(std::span<const Close> closes) {
    std::string out(closes.size() * k_packed_close, '\0');
    char* at = out.data();
    for (const auto& c : closes) {
        put64(at, static_cast<std::uint64_t>(c.ts));
        put64(at + 8, std::bit_cast<std::uint64_t>(c.close));
        at += k_packed_close;
    }
    return out;
}

std::optional<std::vector<Close>> unpack_closes(std::string_view bytes) {
    if (bytes.size() % k_packed_close != 0) return std::nullopt;
    std::vector<Close> out(bytes.size() / k_packed_close);
    const char* at = bytes.data();
    for (std::size_t i = 0; i < out.size(); ++i, at += k_packed_close) {
        out[i] = {static_cast<std::int64_t>(get64(at)), std::bit_cast<double>(get64(at + 8))};
        if (out[i].ts < k_first_ts || out[i].ts > k_last_ts) return std::nullopt;
        if (i > 0 && out[i].ts <= out[i - 1].ts) return std::nullopt;
    }
    return out;
}

bool only_recent_changes(std::size_t series, std::size_t stored, std::size_t k, std::size_t first_kept) noexcept {
    return k >= stored && stored <= series && series - stored <= k_recent_closes && first_kept <= k_stale_closes;
}

std::size_t first_kept_close(std::span<const Close> closes, market::Timeframe timeframe) {
    const std::size_t keep = k_lookback_bars + k_kept_margin_bars;
    std::size_t first = closes.size() > keep ? closes.size() - keep : 0;
    if (timeframe == market::Timeframe::day && !closes.empty()) {
        // The newest close on or before the bound; none: every close is after it, all are needed.
        const auto bound = (window_start(StatWindow::y5, floor_day(closes.back().ts)) - 3) * k_day_seconds;
        const auto after = std::upper_bound(closes.begin(), closes.end(), bound,
                                            [](std::int64_t ts, const Close& c) { return ts < c.ts; });
        const auto base =
            after == closes.begin() ? std::size_t{0} : static_cast<std::size_t>(after - closes.begin()) - 1;
        first = std::min(first, base);
    }
    return first;
}

} // namespace etl::derive
