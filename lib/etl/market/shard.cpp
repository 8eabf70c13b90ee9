#include "etl/market/shard.hpp"

#include "etl/util/hash.hpp"

#include <charconv>
#include <fmt/format.h>

namespace etl::market {

bool Shard::owns(std::string_view symbol) const noexcept {
    return count <= 1 || util::stable_hash(symbol) % count == index;
}

std::string Shard::to_string() const { return fmt::format("{}/{}", index, count); }

std::optional<Shard> parse_shard(std::string_view text) {
    const auto slash = text.find('/');
    if (slash == std::string_view::npos) return std::nullopt;
    unsigned k = 0, n = 0;
    const auto ks = text.substr(0, slash), ns = text.substr(slash + 1);
    auto [p1, e1] = std::from_chars(ks.data(), ks.data() + ks.size(), k);
    auto [p2, e2] = std::from_chars(ns.data(), ns.data() + ns.size(), n);
    // 4096 shards is far past any sensible parallelism for one database.
    if (e1 != std::errc{} || e2 != std::errc{} || p1 != ks.data() + ks.size() || p2 != ns.data() + ns.size() ||
        ks.empty() || ns.empty() || n == 0 || n > 4096 || k >= n)
        return std::nullopt;
    return Shard{k, n};
}

} // namespace etl::market
