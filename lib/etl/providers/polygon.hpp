// Polygon.io / Massive: day and hour aggregates with next_url pagination and Bearer authentication;
// latest prices from the two most recent daily aggregates.
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
    std::vector<QuoteFetch> latest_quotes(std::span<const market::Asset> assets,
                                          std::vector<std::string>& unserved) const override;

private:
    ProviderSettings m_settings;
};

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
