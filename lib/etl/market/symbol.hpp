// Symbols as users type them: case-insensitive on input, stored upper case, and what a bare symbol says
// about its asset (its likely class, the coin or index it names), from which each provider's registry
// row derives its default identifier (providers::adhoc_asset).
#pragma once

#include "etl/market/asset.hpp"

#include <optional>
#include <string>
#include <string_view>

namespace etl::market {

// Upper-cased `text` when it is a well-formed symbol, nullopt otherwise: 1–32 characters from
// A–Z 0–9 . - ^ = : _, not starting with '.' (nor a part after ':' doing so: X:. would make the coin id
// ".") and without "..", so no symbol and no identifier derived from one is a path step at a provider.
std::optional<std::string> normalize_symbol(std::string_view text);

// normalize_symbol's rule, as a usage message completes "malformed symbol 'X': ".
inline constexpr std::string_view k_symbol_rule =
    "use 1-32 letters, digits or . - ^ = : _, not starting with '.' (also after ':') and without '..'";

// True when a provider identifier (ticker, coin id, Yahoo symbol) placed in a URL path would not stay
// one path segment: a run of dots only ("." and ".." are dot-segments that URL normalisation removes),
// or a slash or backslash (percent-encoded, yet decoded back into a separator by some servers and proxies).
bool is_path_step(std::string_view id);

// The class a bare symbol most likely has: crypto for well-known coins (BTC, ETH, ...), index for
// I:-prefixed or ^-prefixed symbols, stock otherwise.
AssetClass guess_asset_class(std::string_view symbol);

// The coin a crypto symbol names: BTC for BTC, X:BTCUSD and BTC-USD (all bitcoin in dollars).
std::string coin_of(std::string_view symbol);

// The index an index symbol names: SPX for I:SPX, ^SPX and SPX.
std::string index_of(std::string_view symbol);

// The slug of a well-known coin (BTC -> bitcoin, AVAX -> avalanche-2), which is also its CoinGecko id;
// nullopt for other coins (they need a row in `assets` with their id).
std::optional<std::string_view> well_known_coin_slug(std::string_view coin);

} // namespace etl::market
