#include "etl/jobs/assets.hpp"

#include "etl/jobs/setup.hpp"
#include "etl/market/symbol.hpp"
#include "etl/providers/registry.hpp"
#include "etl/util/log.hpp"

#include <algorithm>
#include <filesystem>

namespace etl::jobs {

std::vector<market::Asset> resolve_assets(const std::vector<std::string>& symbols,
                                          std::optional<market::AssetClass> forced, store::Store& store, bool dry_run,
                                          const market::Shard& shard) {
    std::vector<market::Asset> assets;
    if (symbols.empty()) {
        assets = store.list_assets(true);
    } else {
        std::vector<market::Asset> unknown;
        for (const auto& symbol : symbols) {
            if (auto found = store.find_asset(symbol)) {
                assets.push_back(*found);
            } else {
                auto adhoc = providers::adhoc_asset(symbol, forced.value_or(market::guess_asset_class(symbol)));
                unknown.push_back(adhoc);
                assets.push_back(std::move(adhoc));
            }
        }
        if (!unknown.empty() && !dry_run) {
            store.insert_missing_assets(unknown);
            for (const auto& u : unknown)
                util::log_info("{} is not in assets: fetched as {} and recorded as inactive (etl assets add to "
                               "activate)",
                               u.symbol, market::to_string(u.asset_class));
        }
    }
    std::erase_if(assets, [&](const auto& x) { return !shard.owns(x.symbol); });
    return assets;
}

bool only_equities_named(const config::Config& cfg, const std::vector<std::string>& symbols,
                         std::optional<market::AssetClass> forced) {
    if (symbols.empty()) return false;
    if (forced) return *forced != market::AssetClass::crypto;
    std::unique_ptr<store::Store> store;
    const auto path = store::sqlite_path(cfg.settings().database.url);
    std::error_code ec; // unreadable: open it, so open_store names the problem (78)
    if (!path || std::filesystem::exists(*path, ec) || ec) store = open_store(cfg, "etl-market-hours-check");
    return std::none_of(symbols.begin(), symbols.end(), [&](const auto& s) {
        const auto registered = store ? store->find_asset(s) : std::nullopt;
        const auto cls = registered ? registered->asset_class : market::guess_asset_class(s);
        return cls == market::AssetClass::crypto;
    });
}

void drop_equities(std::vector<market::Asset>& assets) {
    const auto before = assets.size();
    std::erase_if(assets, [](const auto& a) { return a.asset_class != market::AssetClass::crypto; });
    if (before != assets.size())
        util::log_info("market closed (NYSE); --market-hours-only: {} stock/ETF/index symbol(s) skipped",
                       before - assets.size());
}

} // namespace etl::jobs
