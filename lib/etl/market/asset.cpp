#include "etl/market/asset.hpp"

#include "etl/util/strings.hpp"

namespace etl::market {

std::optional<AssetClass> parse_asset_class(std::string_view text) {
    const auto t = util::to_lower(util::trim(text));
    if (t == "stock") return AssetClass::stock;
    if (t == "etf") return AssetClass::etf;
    if (t == "index") return AssetClass::index;
    if (t == "crypto") return AssetClass::crypto;
    return std::nullopt;
}

const std::string& Asset::identifier(std::string_view provider) const noexcept {
    static const std::string none;
    const auto it = identifiers.find(provider);
    return it == identifiers.end() ? none : it->second;
}

} // namespace etl::market
