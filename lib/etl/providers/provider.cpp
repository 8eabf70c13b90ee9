#include "etl/providers/provider.hpp"

#include "etl/providers/coingecko.hpp"
#include "etl/providers/mock.hpp"
#include "etl/providers/polygon.hpp"
#include "etl/providers/yahoo.hpp"
#include "etl/util/error.hpp"

#include <fmt/format.h>

namespace etl::providers {

std::string_view to_string(FailureKind k) noexcept {
    switch (k) {
    case FailureKind::none: return "none";
    case FailureKind::transient: return "unavailable";
    case FailureKind::permanent: return "failed";
    case FailureKind::config: return "configuration";
    case FailureKind::interrupted: return "interrupted";
    }
    return "failed";
}

std::unique_ptr<Provider> make_provider(const ProviderSettings& s) {
    if (s.name == "polygon") {
        if (s.api_key.empty())
            throw ConfigError("POLYGON_API_KEY is not set; export your Polygon/Massive key, route the asset class to "
                              "another provider (routing.*), or run with --mock");
        return std::make_unique<PolygonProvider>(s);
    }
    if (s.name == "coingecko") return std::make_unique<CoinGeckoProvider>(s);
    if (s.name == "yahoo") return std::make_unique<YahooProvider>(s);
    if (s.name == "mock") return std::make_unique<MockProvider>(s);
    throw ConfigError(fmt::format("unknown provider '{}'; use polygon, coingecko, yahoo or mock", s.name));
}

} // namespace etl::providers
