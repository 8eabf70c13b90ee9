// What a job sets up before its work: the effective config and its checks before anything is opened,
// signal handling, the store, provider settings and the NYSE calendar.
#pragma once

#include "etl/config/config.hpp"
#include "etl/jobs/options.hpp"
#include "etl/market/calendar.hpp"
#include "etl/providers/provider.hpp"
#include "etl/store/store.hpp"

#include <atomic>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace etl::jobs {

// Effective config: file/env/flags as SPEC.md section 4 orders them. Also configures logging.
config::Config load_config(const CommonOptions& options);

// The checks a job makes before it opens the database, so a configuration error is a 78 (or, for a
// flag, a 64) before any work rather than after it: redis_url parses, a PostgreSQL database_url
// parses (pg::check_conninfo), the --report file can be written (UsageError, 64: it is a flag), and,
// when symbols are named, the providers they route to (by --class, else market::guess_asset_class)
// can be used: check_provider_keys. Throws ConfigError or UsageError; opens nothing.
void preflight(const config::Config& cfg, const CommonOptions& options, const std::vector<std::string>& symbols,
               std::optional<market::AssetClass> forced);

// Throws ConfigError when a provider some asset of `assets` routes to (routing.<class>, then
// routing.fallback; nothing with mock) cannot be used, e.g. polygon without POLYGON_API_KEY. A
// fallback without its key is a configuration error too, not a fallback silently dropped. Jobs call
// it on the resolved assets before recording the run or fetching anything.
void check_provider_keys(const config::Config& cfg, const std::vector<market::Asset>& assets);

// database_url: a PostgreSQL connection string must parse as libpq would parse it (pg::check_conninfo),
// so a typo is a ConfigError (78) and not, when connecting, a failure that looks like an outage (75).
// Other schemes are left to store::open_store, which refuses them before connecting.
// First, in a Kubernetes pod, a database_url left at its default is a ConfigError (check_container_database).
void check_database_url(const config::Config& cfg);

// --report FILE: UsageError unless FILE can be written (its directory exists and is writable, and FILE
// is not a directory). Nothing is created.
void check_report_path(const std::string& path);

// SIGINT/SIGTERM set a flag instead of killing the process; jobs poll it. They also cancel the
// PostgreSQL statement in flight (store::cancel_statement_in_flight), so a load blocked on a lock stops.
void install_signal_handlers();
const std::atomic<bool>& stop_flag() noexcept;
void request_stop() noexcept;

// TimescaleDB policies and the database.* timeouts from config.
store::StoreOptions store_options(const config::Config& cfg);

// Opens the configured store (with store_options) and applies migrations.
std::unique_ptr<store::Store> open_store(const config::Config& cfg, const std::string& app_name);

// Provider settings for `name` from config, with API keys from the environment.
providers::ProviderSettings provider_settings(const config::Config& cfg, const std::string& name,
                                              market::sys_seconds now, const market::TradingCalendar* calendar);

// The NYSE calendar with the closure overrides: calendar.closures_file when set, else the list that
// ships with market-etl (etc/market-closures.txt, compiled in). Throws ConfigError.
market::TradingCalendar load_calendar(const config::Config& cfg);

} // namespace etl::jobs
