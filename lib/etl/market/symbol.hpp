// Symbols as users type them: case-insensitive on input, stored upper case, and the default provider
// identifiers of a symbol nobody registered in `assets`.
#pragma once

#include "etl/market/asset.hpp"

#include <optional>
#include <string>
#include <string_view>

namespace etl::market {

// Upper-cased `text` when it is a well-formed symbol (1–32 characters from A–Z 0–9 . - ^ = : _ /),
// nullopt otherwise.
std::optional<std::string> normalize_symbol(std::string_view text);

// The class a bare symbol most likely has: crypto for well-known coins (BTC, ETH, ...), index for
// I:-prefixed or ^-prefixed symbols, stock otherwise.
AssetClass guess_asset_class(std::string_view symbol);

// An asset for a symbol that is not in `assets`: class `asset_class`, provider identifiers derived
// from the symbol (crypto BTC -> X:BTCUSD / bitcoin for well-known coins / BTC-USD), inactive.
Asset adhoc_asset(const std::string& symbol, AssetClass asset_class);

} // namespace etl::market
