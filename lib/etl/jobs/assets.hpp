// The assets a job works on: the symbols it is given, or every active asset, this shard's share; and
// what --market-hours-only leaves of them while the market is closed.
#pragma once

#include "etl/config/config.hpp"
#include "etl/market/asset.hpp"
#include "etl/market/shard.hpp"
#include "etl/store/store.hpp"

#include <optional>
#include <string>
#include <vector>

namespace etl::jobs {

// The assets a job works on: the named symbols (those not in `assets` are fetched as `forced` or their
// guessed class and recorded as inactive assets, unless a dry run), or every active asset when none
// are named; then this shard's share.
std::vector<market::Asset> resolve_assets(const std::vector<std::string>& symbols,
                                          std::optional<market::AssetClass> forced, store::Store& store, bool dry_run,
                                          const market::Shard& shard);

// --market-hours-only with the market closed and symbols named: true when none of them is crypto
// (by --class, by its row in `assets`, or by its guessed class), so the run has nothing to do. It
// writes nothing; `assets` is read only when the database exists (a missing SQLite file stays missing).
bool only_equities_named(const config::Config& cfg, const std::vector<std::string>& symbols,
                         std::optional<market::AssetClass> forced);
// --market-hours-only with the assets resolved: drops stocks/ETFs/indices (logging how many).
void drop_equities(std::vector<market::Asset>& assets);

} // namespace etl::jobs
