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

private:
    ProviderSettings m_settings;
};

} // namespace etl::providers
