#include "etl/providers/registry.hpp"

#include "etl/providers/coingecko.hpp"
#include "etl/providers/mock.hpp"
#include "etl/providers/polygon.hpp"
#include "etl/providers/yahoo.hpp"
#include "etl/util/error.hpp"

#include <fmt/format.h>

#include <algorithm>

namespace etl::providers {
namespace {

using enum config::ValueType;

// Defaults fit each provider's free plan: Polygon Basic allows 5 requests/minute, CoinGecko's demo
// plan documents 30/minute (newer docs say 100, keyless access is lower), Yahoo publishes no limit
// and blocks bursts, so 60/minute stays polite. A million a minute is beyond any plan.
constexpr double k_max_requests_per_minute = 1e6;
// Whose limit that is (RateLimitScope): the API key's, which every shard of a run shares, or the process's.
constexpr std::string_view k_rate_limit_scopes = "key|process";

const config::KeySpec k_polygon_keys[] = {
    {.key = "providers.polygon.base_url",
     .default_value = "https://api.polygon.io",
     .env = "ETL_POLYGON_BASE_URL",
     .description = "Polygon/Massive API root",
     .type = url},
    {.key = "providers.polygon.requests_per_minute",
     .default_value = "5",
     .description = "Polygon rate limit (Basic plan: 5)",
     .type = number,
     .min = 0,
     .max = k_max_requests_per_minute},
    {.key = "providers.polygon.rate_limit_scope",
     .default_value = "key",
     .description = "key: the shards of a sharded run share requests_per_minute (1/N each); process: each has it all",
     .type = choice,
     .choices = k_rate_limit_scopes},
    {.key = "providers.polygon.api_key",
     .default_value = "",
     .env = "POLYGON_API_KEY",
     .description = "Polygon API key (environment only)",
     .secret = true},
};

const config::KeySpec k_coingecko_keys[] = {
    {.key = "providers.coingecko.base_url",
     .default_value = "https://api.coingecko.com/api/v3",
     .env = "ETL_COINGECKO_BASE_URL",
     .description = "CoinGecko API root",
     .type = url},
    {.key = "providers.coingecko.requests_per_minute",
     .default_value = "30",
     .description = "CoinGecko rate limit (demo plan: 30)",
     .type = number,
     .min = 0,
     .max = k_max_requests_per_minute},
    {.key = "providers.coingecko.rate_limit_scope",
     .default_value = "key",
     .description = "key: the shards of a sharded run share requests_per_minute (1/N each); process: each has it all",
     .type = choice,
     .choices = k_rate_limit_scopes},
    {.key = "providers.coingecko.api_key",
     .default_value = "",
     .env = "COINGECKO_API_KEY",
     .description = "CoinGecko API key (environment only; optional)",
     .secret = true},
    {.key = "providers.coingecko.plan",
     .default_value = "demo",
     .env = "COINGECKO_API_PLAN",
     .description = "demo or pro: which key header to send",
     .type = choice,
     .choices = "demo|pro"},
    {.key = "providers.coingecko.max_history_days",
     .default_value = "365",
     .description = "history the plan serves (public/demo: 365); longer ranges are clipped; 0 = unlimited",
     .type = integer,
     .min = 0,
     .max = 100000},
};

const config::KeySpec k_yahoo_keys[] = {
    {.key = "providers.yahoo.base_url",
     .default_value = "https://query1.finance.yahoo.com",
     .env = "ETL_YAHOO_BASE_URL",
     .description = "Yahoo Finance API root",
     .type = url},
    {.key = "providers.yahoo.requests_per_minute",
     .default_value = "60",
     .description = "Yahoo rate limit (unpublished; 60 is polite)",
     .type = number,
     .min = 0,
     .max = k_max_requests_per_minute},
    {.key = "providers.yahoo.rate_limit_scope",
     .default_value = "key",
     .description = "key: the shards of a sharded run share requests_per_minute (1/N each); process: each has it all",
     .type = choice,
     .choices = k_rate_limit_scopes},
};

const config::KeySpec k_mock_keys[] = {
    {.key = "providers.mock.requests_per_minute",
     .default_value = "0",
     .description = "mock provider rate limit (0 = none)",
     .type = number,
     .min = 0,
     .max = k_max_requests_per_minute},
    {.key = "providers.mock.rate_limit_scope",
     .default_value = "key",
     .description = "key: the shards of a sharded run share requests_per_minute (1/N each); process: each has it all",
     .type = choice,
     .choices = k_rate_limit_scopes},
};

// What every HTTP provider reads: its API root (no trailing slash), rate limit and key, when it has them.
void read_http_settings(const config::Config& cfg, ProviderSettings& s) {
    s.base_url = cfg.get(fmt::format("providers.{}.base_url", s.name));
    while (!s.base_url.empty() && s.base_url.back() == '/') s.base_url.pop_back();
    s.requests_per_minute = cfg.get_double(fmt::format("providers.{}.requests_per_minute", s.name));
    if (const auto key = fmt::format("providers.{}.api_key", s.name); cfg.entries().contains(key))
        s.api_key = cfg.get(key);
}

void read_coingecko_settings(const config::Config& cfg, ProviderSettings& s) {
    read_http_settings(cfg, s);
    s.plan = cfg.get("providers.coingecko.plan");
    s.max_history_days = static_cast<int>(cfg.get_int("providers.coingecko.max_history_days"));
}

// The mock reads nothing: it sends no request, so its rate limit stays 0 (none).
void read_mock_settings(const config::Config&, ProviderSettings&) {}

const ProviderRow k_rows[] = {
    {.name = "polygon",
     .keys = k_polygon_keys,
     .make = make_polygon_provider,
     .read_settings = read_http_settings,
     .identifier = k_polygon_identifier},
    {.name = "coingecko",
     .keys = k_coingecko_keys,
     .make = make_coingecko_provider,
     .read_settings = read_coingecko_settings,
     .identifier = k_coingecko_identifier},
    {.name = "yahoo",
     .keys = k_yahoo_keys,
     .make = make_yahoo_provider,
     .read_settings = read_http_settings,
     .identifier = k_yahoo_identifier},
    {.name = "mock",
     .keys = k_mock_keys,
     .make = make_mock_provider,
     .read_settings = read_mock_settings,
     .identifier = {}},
};

// "polygon, coingecko, yahoo or mock"
std::string spoken_names() {
    std::string out;
    for (std::size_t i = 0; i < std::size(k_rows); ++i) {
        if (i > 0) out += i + 1 == std::size(k_rows) ? " or " : ", ";
        out += k_rows[i].name;
    }
    return out;
}

const ProviderRow& row_of(std::string_view name) {
    const auto* row = find_provider(name);
    if (!row) throw ConfigError(fmt::format("unknown provider '{}'; use {}", name, spoken_names()));
    return *row;
}

} // namespace

std::span<const ProviderRow> registry() { return k_rows; }

const ProviderRow* find_provider(std::string_view name) {
    for (const auto& row : k_rows)
        if (row.name == name) return &row;
    return nullptr;
}

const config::KeyTable& key_table() {
    static const config::KeyTable table = [] {
        config::KeyTable t;
        const auto core = config::core_keys();
        t.keys.assign(core.begin(), core.end());
        for (const auto& row : k_rows) {
            t.keys.insert(t.keys.end(), row.keys.begin(), row.keys.end());
            t.providers.emplace_back(row.name);
        }
        return t;
    }();
    return table;
}

void read_provider_settings(const config::Config& cfg, const std::string& name, ProviderSettings& settings) {
    const auto& row = row_of(name);
    settings.name = name;
    row.read_settings(cfg, settings);
}

std::unique_ptr<Provider> make_provider(const ProviderSettings& settings) {
    return row_of(settings.name).make(settings);
}

market::Asset adhoc_asset(const std::string& symbol, market::AssetClass cls) {
    market::Asset a;
    a.symbol = symbol;
    a.asset_class = cls;
    a.active = false;
    add_default_identifiers(a);
    return a;
}

void add_default_identifiers(market::Asset& asset) {
    for (const auto& row : k_rows) {
        if (!row.identifier.default_for || !asset.identifier(row.name).empty()) continue;
        if (auto id = row.identifier.default_for(asset.symbol, asset.asset_class); !id.empty())
            asset.identifiers[std::string(row.name)] = std::move(id);
    }
}

} // namespace etl::providers
