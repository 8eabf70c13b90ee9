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

} // namespace etl::providers
