// The provider registry: one row per provider (name, factory, config keys, settings reader, identifier),
// the only place that knows every provider. A new provider is its file pair plus one row here.
#pragma once

#include "etl/config/config.hpp"
#include "etl/market/asset.hpp"
#include "etl/providers/provider.hpp"

#include <memory>
#include <span>
#include <string>
#include <string_view>

namespace etl::providers {

struct ProviderRow {
    std::string_view name{};
    // Its keys (providers.<name>.*), with their types and ranges; config::Config checks them.
    std::span<const config::KeySpec> keys{};
    // Builds it from its settings; throws ConfigError when it cannot be used (a missing required key).
    std::unique_ptr<Provider> (*make)(const ProviderSettings& settings) = nullptr;
    // Reads its keys from a checked config into `settings` (base_url, rate limit, key, plan, ...).
    void (*read_settings)(const config::Config& cfg, ProviderSettings& settings) = nullptr;
    // How it names an asset; column "" when it needs no name of its own (mock).
    IdentifierSpec identifier{};
};

// Every provider, in the order `etl assets list` shows their identifiers.
std::span<const ProviderRow> registry();

// The row named `name`, or nullptr.
const ProviderRow* find_provider(std::string_view name);

// The keys of this build: config::core_keys() plus every row's keys; the provider names a routing.*
// value may take. Built once; lives as long as the program.
const config::KeyTable& key_table();

// The settings of provider `name` from `cfg` (its row's reader); ConfigError for an unknown name.
// The caller fills the run's clock, calendar and timeout.
void read_provider_settings(const config::Config& cfg, const std::string& name, ProviderSettings& settings);

// Builds the provider `settings.name` names. Throws ConfigError for an unknown name or a missing required
// key (Polygon needs POLYGON_API_KEY).
std::unique_ptr<Provider> make_provider(const ProviderSettings& settings);

// An asset for a symbol that is not in `assets`: class `cls`, inactive, with every provider's default
// identifier for it (crypto BTC -> X:BTCUSD / bitcoin / BTC-USD).
market::Asset adhoc_asset(const std::string& symbol, market::AssetClass cls);

// Sets every provider identifier `asset` lacks to the provider's default for its symbol and class.
void add_default_identifiers(market::Asset& asset);

} // namespace etl::providers
