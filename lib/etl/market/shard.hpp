// `--shard K/N`: splits symbols by a stable hash so every symbol has exactly one writer.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace etl::market {

struct Shard {
    unsigned index = 0; // K, 0-based (matches Kubernetes JOB_COMPLETION_INDEX)
    unsigned count = 1; // N

    // True when this shard owns `symbol` (upper case): stable_hash(symbol) mod N == K.
    [[nodiscard]] bool owns(std::string_view symbol) const noexcept;
    [[nodiscard]] std::string to_string() const;
};

// Parses "K/N" with 0 <= K < N <= 4096; nullopt otherwise.
std::optional<Shard> parse_shard(std::string_view text);

} // namespace etl::market
