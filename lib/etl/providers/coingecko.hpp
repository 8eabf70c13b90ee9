// CoinGecko: daily price series from /coins/{id}/market_chart/range, demo or pro key header.
#pragma once

#include "etl/providers/provider.hpp"

namespace etl::providers {

class CoinGeckoProvider final : public Provider {
public:
    explicit CoinGeckoProvider(ProviderSettings settings) : m_settings(std::move(settings)) {}
    [[nodiscard]] std::string_view name() const noexcept override { return "coingecko"; }
    std::unique_ptr<SymbolFetch> daily_bars(const market::Asset& asset, market::DateWindow window,
                                            std::string& why) const override;
    std::unique_ptr<SymbolFetch> hourly_bars(const market::Asset& asset, HourWindow window,
                                             std::string& why) const override;
    std::vector<QuoteFetch> latest_quotes(std::span<const market::Asset> assets,
                                          std::vector<std::string>& unserved) const override;
    // The demo (public) plan serves the last providers.coingecko.max_history_days days; pro, or 0 days,
    // has no limit.
    [[nodiscard]] std::optional<Reach> reach(const market::Asset& asset) const override;

private:
    ProviderSettings m_settings;
};

// Its registry row's parts: the factory and the coin id of a symbol nobody registered (crypto only:
// bitcoin for BTC, X:BTCUSD or BTC-USD; the lower-cased coin for coins that are not well known).
std::unique_ptr<Provider> make_coingecko_provider(const ProviderSettings& settings);
std::string coingecko_default_id(const std::string& symbol, market::AssetClass cls);
inline constexpr IdentifierSpec k_coingecko_identifier{.column = "coingecko_id",
                                                       .assets_column = true,
                                                       .flag = "--coingecko-id",
                                                       .value_name = "ID",
                                                       .help = "CoinGecko coin id, e.g. bitcoin",
                                                       .fix = "--class crypto --coingecko-id ID",
                                                       .list_header = "COINGECKO",
                                                       .list_width = 16,
                                                       .default_for = coingecko_default_id};

} // namespace etl::providers
