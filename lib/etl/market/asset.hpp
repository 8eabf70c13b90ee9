// Assets: what we track, how each provider names it, and its class.
#pragma once

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
    std::string symbol;  // upper case, our key
    std::string name;
    AssetClass asset_class = AssetClass::stock;
    std::string exchange;
    std::string currency = "USD";
    std::string polygon_ticker;  // e.g. AAPL, I:SPX, X:BTCUSD
    std::string coingecko_id;    // e.g. bitcoin
    std::string yahoo_symbol;    // e.g. AAPL, ^GSPC, BTC-USD
    bool active = true;
};

} // namespace etl::market
