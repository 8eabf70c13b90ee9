// The mock provider: deterministic synthetic bars, seeded by symbol, on NYSE trading days for
// stocks/ETFs/indices and every day for crypto. No network, no key: for demos and development.
#pragma once

#include "etl/market/calendar.hpp"
#include "etl/providers/provider.hpp"

namespace etl::providers {

class MockProvider final : public Provider {
public:
    explicit MockProvider(ProviderSettings settings) : m_settings(std::move(settings)) {}
    [[nodiscard]] std::string_view name() const noexcept override { return "mock"; }
    std::unique_ptr<SymbolFetch> daily_bars(const market::Asset& asset, market::DateWindow window,
                                            std::string& why) const override;

private:
    ProviderSettings m_settings;
    market::TradingCalendar m_calendar;
};

// The mock daily bar of `symbol` on `date`: the same values whatever window asked for it.
market::Bar mock_daily_bar(const std::string& symbol, std::chrono::sys_days date);

} // namespace etl::providers
