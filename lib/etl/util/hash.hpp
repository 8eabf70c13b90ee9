// A stable 64-bit hash (FNV-1a): the same value on every machine and build, for shard assignment and
// lock keys. Not for security.
#pragma once

#include <cstdint>
#include <string_view>

namespace etl::util {

constexpr std::uint64_t stable_hash(std::string_view text) noexcept {
    std::uint64_t h = 14695981039346656037ULL; // FNV-1a 64-bit offset basis
    for (char c : text) {
        h ^= static_cast<unsigned char>(c);
        h *= 1099511628211ULL; // FNV-1a 64-bit prime
    }
    return h;
}

} // namespace etl::util
