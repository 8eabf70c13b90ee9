// Assets: what we track, how each provider names it, and its class.
#pragma once

#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>

namespace etl::market {

enum class AssetClass { stock, etf, index, crypto };

constexpr std::string_view to_string(AssetClass c) noexcept {
    switch (c) {
    case AssetClass::stock: return "stock";
    case AssetClass::etf: return "etf";
    case AssetClass::index: return "index";
    case AssetClass::crypto: return "crypto";
    }
    return "stock";
}

// Parses "stock", "etf", "index", "crypto" (case-insensitive); nullopt otherwise.
std::optional<AssetClass> parse_asset_class(std::string_view text);

struct Asset {
    std::string symbol; // upper case, our key
    std::string name;
    AssetClass asset_class = AssetClass::stock;
    std::string exchange;
    std::string currency = "USD";
    // How each provider names it, by provider name: "polygon" -> "X:BTCUSD", "coingecko" -> "bitcoin",
    // "yahoo" -> "BTC-USD". A provider without an entry (or with "") has no identifier for it.
    std::map<std::string, std::string, std::less<>> identifiers;
    bool active = true;

    // The identifier at `provider`, "" when none.
    [[nodiscard]] const std::string& identifier(std::string_view provider) const noexcept;
};

} // namespace etl::market
