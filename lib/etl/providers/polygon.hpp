// Polygon.io / Massive: day and hour aggregates with next_url pagination and Bearer authentication;
// latest prices from the two most recent daily aggregates: of many stocks (or crypto pairs) at once from
// grouped daily answers, one request per date, of the others one request per symbol.
#pragma once

#include "etl/providers/provider.hpp"

namespace etl::providers {

class PolygonProvider final : public Provider {
public:
    explicit PolygonProvider(ProviderSettings settings) : m_settings(std::move(settings)) {}
    [[nodiscard]] std::string_view name() const noexcept override { return "polygon"; }
    std::unique_ptr<SymbolFetch> daily_bars(const market::Asset& asset, market::DateWindow window,
                                            std::string& why) const override;
    std::unique_ptr<SymbolFetch> hourly_bars(const market::Asset& asset, HourWindow window,
                                             std::string& why) const override;
    // Stocks and ETFs: one grouped fetch for all of them when there are k_polygon_grouped_min_symbols or
    // more (and a calendar); crypto likewise with the crypto grouped endpoint; everything else (indices,
    // smaller groups) per symbol. A grouped fetch's symbols without a quote and without rejects were not
    // in its answers (QuoteFetch::whole_market): ask symbol_quotes for them.
    std::vector<QuoteFetch> latest_quotes(std::span<const market::Asset> assets,
                                          std::vector<std::string>& unserved) const override;
    // "stocks" for stocks and ETFs, "crypto" for crypto pairs (each a grouped daily market); "" for
    // indices and assets without a usable ticker.
    [[nodiscard]] std::string_view grouped_market(const market::Asset& asset) const override;
    // Grouped daily answers of `dates`, one request per date, for assets of one grouped_market.
    std::unique_ptr<SymbolFetch> grouped_daily_bars(std::span<const GroupedAsset> assets,
                                                    std::span<const std::chrono::sys_days> dates) const override;
    // One request per symbol (its last daily aggregates), whatever the count.
    std::vector<QuoteFetch> symbol_quotes(std::span<const market::Asset> assets,
                                          std::vector<std::string>& unserved) const override;

private:
    ProviderSettings m_settings;
};

// From how many symbols of one grouped market latest_quotes asks grouped daily (2 requests) rather than
// one request per symbol.
inline constexpr std::size_t k_polygon_grouped_min_symbols = 3;

// The dates grouped latest prices ask for, newest first: the two to use and the one to step back to
// when the newest answer is empty. Stocks: the session the run's clock is in or after (today's once the
// bell has rung, TradingCalendar::session_for) and the two sessions before it; empty without a calendar.
// Crypto: the UTC date of now and the two days before.
std::vector<std::chrono::sys_days> polygon_grouped_dates(const ProviderSettings& s, bool crypto);

// next_url re-rooted on `base_url`: the path and query of a full `next_url` after `base_url`, so pages go
// through the configured host (a proxy, a test server); a `next_url` without a scheme is a path under
// `base_url`. The result must have the configured scheme, host and port and no other user info, so the
// key is only ever sent there; otherwise the error says why (one line, no secrets).
tl::expected<std::string, std::string> reroot_next_url(std::string_view next_url, std::string_view base_url);

// Its registry row's parts: the factory (ConfigError without POLYGON_API_KEY) and the ticker of a symbol
// nobody registered (AAPL, BRK.B; I:SPX for indices; X:BTCUSD for crypto).
std::unique_ptr<Provider> make_polygon_provider(const ProviderSettings& settings);
std::string polygon_default_ticker(const std::string& symbol, market::AssetClass cls);
inline constexpr IdentifierSpec k_polygon_identifier{.column = "polygon_ticker",
                                                     .assets_column = true,
                                                     .flag = "--polygon-ticker",
                                                     .value_name = "TICKER",
                                                     .help = "Polygon ticker (default: derived from the symbol)",
                                                     .fix = "--polygon-ticker TICKER",
                                                     .list_header = "POLYGON",
                                                     .list_width = 14,
                                                     .default_for = polygon_default_ticker};

} // namespace etl::providers
