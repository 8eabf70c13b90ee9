#include "etl/market/symbol.hpp"

#include "etl/util/strings.hpp"

#include <array>
#include <utility>

namespace etl::market {
namespace {

// CoinGecko ids are slugs, not tickers; these are the coins a user is likely to name ad hoc.
// Anything else needs a row in `assets` (etl assets add) with its coingecko_id.
constexpr std::array<std::pair<std::string_view, std::string_view>, 12> k_coingecko_ids = {{
    {"BTC", "bitcoin"},
    {"ETH", "ethereum"},
    {"SOL", "solana"},
    {"XRP", "ripple"},
    {"ADA", "cardano"},
    {"DOGE", "dogecoin"},
    {"DOT", "polkadot"},
    {"LTC", "litecoin"},
    {"AVAX", "avalanche-2"},
    {"LINK", "chainlink"},
    {"BNB", "binancecoin"},
    {"USDT", "tether"},
}};

} // namespace

std::optional<std::string> normalize_symbol(std::string_view text) {
    const auto t = util::trim(text);
    // 32 characters covers Polygon option tickers (O:SPY251219C00600000) with room to spare.
    if (t.empty() || t.size() > 32) return std::nullopt;
    for (char c : t) {
        const bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' ||
                        c == '-' || c == '^' || c == '=' || c == ':' || c == '_';
        if (!ok) return std::nullopt;
    }
    // A symbol ends up in request paths (the Yahoo symbol, the Polygon ticker, a coin id after X:):
    // none of them may be, or start, a dot-segment.
    if (t.front() == '.' || t.find("..") != std::string_view::npos || t.find(":.") != std::string_view::npos)
        return std::nullopt;
    return util::to_upper(t);
}

bool is_path_step(std::string_view id) {
    if (id.find_first_of("/\\") != std::string_view::npos) return true;
    return !id.empty() && id.find_first_not_of('.') == std::string_view::npos;
}

AssetClass guess_asset_class(std::string_view symbol) {
    for (const auto& [ticker, id] : k_coingecko_ids)
        if (ticker == symbol) return AssetClass::crypto;
    if (symbol.starts_with("X:") || symbol.ends_with("-USD")) return AssetClass::crypto;
    if (symbol.starts_with("I:") || symbol.starts_with("^")) return AssetClass::index;
    return AssetClass::stock;
}

std::string coin_of(std::string_view symbol) {
    std::string base(symbol);
    if (base.starts_with("X:")) base = base.substr(2);
    if (base.ends_with("-USD")) base.resize(base.size() - 4);
    else if (base.size() > 3 && base.ends_with("USD") && symbol.starts_with("X:")) base.resize(base.size() - 3);
    return base;
}

std::string index_of(std::string_view symbol) {
    if (symbol.starts_with("I:")) symbol.remove_prefix(2);
    else if (symbol.starts_with("^")) symbol.remove_prefix(1);
    return std::string(symbol);
}

std::optional<std::string_view> well_known_coin_slug(std::string_view coin) {
    for (const auto& [ticker, id] : k_coingecko_ids)
        if (ticker == coin) return id;
    return std::nullopt;
}

} // namespace etl::market
