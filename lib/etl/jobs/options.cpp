#include "etl/jobs/options.hpp"

#include "etl/market/symbol.hpp"
#include "etl/util/error.hpp"
#include "etl/util/log.hpp"
#include "etl/util/secrets.hpp"

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include <algorithm>
#include <cstdlib>

namespace etl::jobs {

void add_common_options(CLI::App& app, CommonOptions& o, unsigned flags) {
    // Subcommands created after this (etl assets import ...) accept the common flags too.
    app.fallthrough();
    // The flag values load_config would refuse, refused while parsing: CLI11 makes them usage errors.
    const CLI::Validator log_format(
        [](std::string& v) {
            return v == "auto" || util::parse_log_format(v) ? std::string{}
                                                            : fmt::format("'{}' is not text or json", v);
        },
        "text|json");
    const CLI::Validator log_level(
        [](std::string& v) {
            return util::parse_log_level(v) ? std::string{} : fmt::format("'{}' is not debug, info, warn or error", v);
        },
        "LEVEL");
    app.add_option("--config", o.config_file,
                   "TOML config file (default: $ETL_CONFIG, ./etl.toml, /etc/market-etl/etl.toml)");
    app.add_option("--database-url", o.database_url, "postgresql://... or sqlite:PATH (overrides DATABASE_URL)");
    if (flags & common_flag::redis_url)
        app.add_option("--redis-url", o.redis_url, "redis://host:port (overrides REDIS_URL)");
    if (flags & common_flag::mock)
        app.add_flag("--mock", o.mock, "use the deterministic mock provider (no key, no network)");
    if (flags & common_flag::dry_run) app.add_flag("--dry-run", o.dry_run, "fetch and validate, write nothing");
    if (flags & common_flag::shard)
        app.add_option("--shard", o.shard, "K/N: process only the symbols of shard K (0-based) of N");
    app.add_option("--log-format", o.log_format, "text or json (default: text on a TTY, json otherwise)")
        ->check(log_format);
    app.add_option("--log-level", o.log_level, "debug, info, warn or error")->check(log_level);
    if (flags & common_flag::report)
        app.add_option("--report", o.report_file, "write a JSON summary of the run to FILE");
    if (flags & common_flag::no_progress) app.add_flag("--no-progress", o.no_progress, "no progress bar");
}

void add_symbol_options(CLI::App& app, SymbolOptions& o, std::string_view what) {
    app.add_option("symbols", o.symbols, fmt::format("symbols to {} (default: every active asset)", what));
    app.add_option("--class", o.asset_class, "asset class for symbols not in assets: stock, etf, index, crypto");
    app.add_flag("--market-hours-only", o.market_hours_only,
                 "outside the NYSE session, skip stocks/ETFs/indices (exit 0 when nothing is left)");
}

market::Shard resolve_shard(const CommonOptions& o) {
    if (!o.shard.empty()) {
        const auto s = market::parse_shard(o.shard);
        if (!s) throw UsageError(fmt::format("--shard '{}' is not K/N with 0 <= K < N (e.g. --shard 0/4)", o.shard));
        return *s;
    }
    const char* index = std::getenv("JOB_COMPLETION_INDEX");
    const char* count = std::getenv("ETL_SHARD_COUNT");
    if (index && *index && count && *count) {
        const auto s = market::parse_shard(fmt::format("{}/{}", index, count));
        if (!s)
            throw UsageError(fmt::format("JOB_COMPLETION_INDEX={} and ETL_SHARD_COUNT={} do not make a shard K/N with "
                                         "0 <= K < N",
                                         index, count));
        return *s;
    }
    return {};
}

std::vector<std::string> normalize_symbols(const std::vector<std::string>& raw) {
    std::vector<std::string> out;
    for (const auto& r : raw) {
        const auto symbol = market::normalize_symbol(r);
        if (!symbol) throw UsageError(fmt::format("malformed symbol '{}': {}", r, market::k_symbol_rule));
        if (std::find(out.begin(), out.end(), *symbol) == out.end()) out.push_back(*symbol);
    }
    return out;
}

std::optional<market::AssetClass> parse_class_flag(const std::string& text) {
    if (text.empty()) return std::nullopt;
    const auto c = market::parse_asset_class(text);
    if (!c) throw UsageError(fmt::format("--class '{}' is not stock, etf, index or crypto", text));
    return c;
}

std::string join_arguments(const std::vector<std::string>& args) {
    std::string out;
    for (const auto& a : args) {
        if (!out.empty()) out += ' ';
        out += util::redact_argument(a);
    }
    return out;
}

} // namespace etl::jobs
