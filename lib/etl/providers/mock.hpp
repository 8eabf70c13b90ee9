// The mock provider: deterministic synthetic bars and quotes, seeded by symbol, on NYSE sessions for
// stocks/ETFs/indices and around the clock for crypto. No network, no key: for demos and development.
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
    std::unique_ptr<SymbolFetch> hourly_bars(const market::Asset& asset, HourWindow window,
                                             std::string& why) const override;
    std::vector<QuoteFetch> latest_quotes(std::span<const market::Asset> assets,
                                          std::vector<std::string>& unserved) const override;

private:
    // The job's calendar (with its closure overrides) when it gave one, else the rule-based one.
    [[nodiscard]] const market::TradingCalendar& calendar() const noexcept {
        return m_settings.calendar ? *m_settings.calendar : m_calendar;
    }

    ProviderSettings m_settings;
    market::TradingCalendar m_calendar;
};

// Its registry row's factory (no key, no identifier: the mock names every asset by its symbol).
std::unique_ptr<Provider> make_mock_provider(const ProviderSettings& settings);

// The mock daily bar of `symbol` on `date`: the same values whatever window asked for it.
market::Bar mock_daily_bar(const std::string& symbol, std::chrono::sys_days date);
// The mock hourly bar of `symbol` starting at `hour` (on the hour), around that day's daily close.
market::Bar mock_hourly_bar(const std::string& symbol, market::sys_seconds hour);

} // namespace etl::providers
