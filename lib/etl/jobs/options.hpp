// The command-line side every job shares: the common flags, the symbol flags of etl-hourly and
// etl-latest, and turning their values into symbols, an asset class, a shard and etl_runs.arguments.
#pragma once

#include "etl/market/asset.hpp"
#include "etl/market/shard.hpp"

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace CLI {
class App;
}

namespace etl::jobs {

// The flags every job takes (SPEC.md section 4).
struct CommonOptions {
    std::string config_file;
    std::string database_url;
    std::string redis_url;
    bool mock = false;
    bool dry_run = false;
    std::string shard;
    std::string log_format;
    std::string log_level;
    std::string report_file;
    bool no_progress = false;
};

// Which of the common flags a command takes beyond --config, --database-url, --log-format and
// --log-level (which every command takes). Jobs take them all; the admin commands (etl assets, db,
// config) only those that do something there.
namespace common_flag {
constexpr unsigned redis_url = 1U << 0;
constexpr unsigned mock = 1U << 1;
constexpr unsigned dry_run = 1U << 2;
constexpr unsigned shard = 1U << 3;
constexpr unsigned report = 1U << 4;
constexpr unsigned no_progress = 1U << 5;
constexpr unsigned all = redis_url | mock | dry_run | shard | report | no_progress;
} // namespace common_flag

// Adds the common flags (`flags`: a set of common_flag bits). A bad --log-format or --log-level value
// is a usage error (64) when parsed; the same value from a file or the environment is a
// configuration error (78, load_config).
void add_common_options(CLI::App& app, CommonOptions& options, unsigned flags = common_flag::all);

// What etl-hourly and etl-latest take besides the common flags.
struct SymbolOptions {
    std::vector<std::string> symbols;
    std::string asset_class;
    bool market_hours_only = false;
};
// Adds [SYMBOL...], --class and --market-hours-only; `what` completes "symbols to ...".
void add_symbol_options(CLI::App& app, SymbolOptions& options, std::string_view what);

// --shard, else JOB_COMPLETION_INDEX + ETL_SHARD_COUNT, else 0/1. Throws UsageError when malformed.
market::Shard resolve_shard(const CommonOptions& options);

// Upper-cased, validated symbols; throws UsageError naming the first malformed one.
std::vector<std::string> normalize_symbols(const std::vector<std::string>& raw);
// --class: nullopt when empty; throws UsageError when not stock, etf, index or crypto.
std::optional<market::AssetClass> parse_class_flag(const std::string& text);

// The command line as one string, for etl_runs.arguments (keys never appear on command lines).
std::string join_arguments(const std::vector<std::string>& args);

} // namespace etl::jobs
