// Yahoo Finance chart API (v8): daily bars, no key, browser-like User-Agent.
#pragma once

#include "etl/providers/provider.hpp"

namespace etl::providers {

class YahooProvider final : public Provider {
public:
    explicit YahooProvider(ProviderSettings settings) : m_settings(std::move(settings)) {}
    [[nodiscard]] std::string_view name() const noexcept override { return "yahoo"; }
    std::unique_ptr<SymbolFetch> daily_bars(const market::Asset& asset, market::DateWindow window,
                                            std::string& why) const override;
    std::unique_ptr<SymbolFetch> hourly_bars(const market::Asset& asset, HourWindow window,
                                             std::string& why) const override;
    std::vector<QuoteFetch> latest_quotes(std::span<const market::Asset> assets,
                                          std::vector<std::string>& unserved) const override;

private:
    ProviderSettings m_settings;
};

// Its registry row's parts: the factory and the Yahoo symbol of a symbol nobody registered (AAPL, BRK-B;
// ^GSPC for indices; BTC-USD for crypto).
std::unique_ptr<Provider> make_yahoo_provider(const ProviderSettings& settings);
std::string yahoo_default_symbol(const std::string& symbol, market::AssetClass cls);
inline constexpr IdentifierSpec k_yahoo_identifier{.column = "yahoo_symbol",
                                                   .assets_column = true,
                                                   .flag = "--yahoo-symbol",
                                                   .value_name = "SYMBOL",
                                                   .help = "Yahoo symbol (default: derived from the symbol)",
                                                   .fix = "--yahoo-symbol SYMBOL",
                                                   .list_header = "YAHOO",
                                                   .list_width = 10,
                                                   .default_for = yahoo_default_symbol};

} // namespace etl::providers
