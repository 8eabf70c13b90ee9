// The provider registry is complete: every row's keys are known to config, every name resolves to a
// provider, and the identifiers a bare symbol gets come from the rows.
#include "etl/config/config.hpp"
#include "etl/providers/registry.hpp"
#include "etl/util/error.hpp"

#include <catch2/catch.hpp>
#include <fmt/format.h>

#include <algorithm>
#include <string>

using namespace etl;

namespace {

bool known(std::string_view key) {
    const auto& keys = providers::key_table().keys;
    return std::any_of(keys.begin(), keys.end(), [&](const auto& k) { return k.key == key; });
}

} // namespace

TEST_CASE("every registry row's keys are in the key table, and only a row adds providers.<name>.* keys", "[unit]") {
    const auto& table = providers::key_table();
    CHECK(table.providers == std::vector<std::string>{"polygon", "coingecko", "yahoo", "mock"});
    for (const auto& row : providers::registry()) {
        CAPTURE(row.name);
        CHECK(row.make);
        CHECK(row.read_settings);
        for (const auto& k : row.keys) {
            CHECK(known(k.key));
            CHECK(k.key.starts_with(fmt::format("providers.{}.", row.name)));
        }
        CHECK(known(fmt::format("providers.{}.requests_per_minute", row.name)));
    }
    for (const auto& k : config::core_keys()) CHECK_FALSE(k.key.starts_with("providers."));
    // Every routing default names a row.
    const auto cfg = config::Config::from_values(table, {});
    for (const auto* cls : {"stock", "etf", "index", "crypto"})
        CHECK(providers::find_provider(cfg.settings().routing.for_class(cls)));
}

TEST_CASE("every provider name resolves: settings read from config, provider built", "[unit]") {
    const auto cfg =
        config::Config::from_values(providers::key_table(), {{"providers.polygon.base_url", "http://127.0.0.1:9/"},
                                                             {"providers.coingecko.plan", "pro"},
                                                             {"providers.coingecko.max_history_days", "0"}});
    for (const auto& row : providers::registry()) {
        CAPTURE(row.name);
        CHECK(providers::find_provider(row.name) == &row);
        providers::ProviderSettings s;
        providers::read_provider_settings(cfg, std::string(row.name), s);
        CHECK(s.name == row.name);
        s.api_key = "test-key-0123456789";
        const auto p = providers::make_provider(s);
        REQUIRE(p);
        CHECK(p->name() == row.name);
    }
    providers::ProviderSettings polygon;
    providers::read_provider_settings(cfg, "polygon", polygon);
    CHECK(polygon.base_url == "http://127.0.0.1:9"); // no trailing slash
    CHECK(polygon.requests_per_minute == 5.0);
    providers::ProviderSettings coingecko;
    providers::read_provider_settings(cfg, "coingecko", coingecko);
    CHECK(coingecko.plan == "pro");
    CHECK(coingecko.max_history_days == 0);
    CHECK(coingecko.requests_per_minute == 30.0);
    providers::ProviderSettings mock;
    providers::read_provider_settings(cfg, "mock", mock);
    CHECK(mock.base_url.empty());
    CHECK(mock.requests_per_minute == 0.0);

    // Polygon without its key, and a name no row has, are configuration errors.
    CHECK_THROWS_WITH(providers::make_provider(polygon), Catch::Contains("POLYGON_API_KEY is not set"));
    providers::ProviderSettings unknown;
    unknown.name = "bloomberg";
    CHECK_THROWS_AS(providers::make_provider(unknown), ConfigError);
    CHECK_THROWS_WITH(providers::read_provider_settings(cfg, "bloomberg", unknown),
                      Catch::Contains("unknown provider 'bloomberg'; use polygon, coingecko, yahoo or mock"));
}

TEST_CASE("identifier rows: a column, an etl assets add flag and a default for each provider that has one", "[unit]") {
    std::size_t with_identifier = 0;
    for (const auto& row : providers::registry()) {
        CAPTURE(row.name);
        const auto& id = row.identifier;
        if (id.column.empty()) {
            CHECK_FALSE(id.default_for);
            continue;
        }
        ++with_identifier;
        CHECK(id.flag.starts_with("--"));
        CHECK_FALSE(id.fix.empty());
        CHECK(id.list_width >= id.list_header.size());
        CHECK(id.default_for);
        // Columns are plain lower-case names: they become SQL identifiers and CSV headers.
        CHECK(
            std::all_of(id.column.begin(), id.column.end(), [](char c) { return (c >= 'a' && c <= 'z') || c == '_'; }));
    }
    CHECK(with_identifier == 3);

    // A registered identifier wins over the default; missing ones get it.
    market::Asset a;
    a.symbol = "BTC";
    a.asset_class = market::AssetClass::crypto;
    a.identifiers["coingecko"] = "bitcoin-cash";
    providers::add_default_identifiers(a);
    CHECK(a.identifier("coingecko") == "bitcoin-cash");
    CHECK(a.identifier("polygon") == "X:BTCUSD");
    CHECK(a.identifier("yahoo") == "BTC-USD");
    CHECK(a.identifier("mock").empty());
    // Stocks have no CoinGecko id: no entry at all.
    const auto aapl = providers::adhoc_asset("AAPL", market::AssetClass::stock);
    CHECK(aapl.identifiers.size() == 2);
    CHECK_FALSE(aapl.identifiers.contains("coingecko"));
}
