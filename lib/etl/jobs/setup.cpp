#include "etl/jobs/setup.hpp"

#include "etl/jobs/pipeline.hpp"
#include "etl/market/symbol.hpp"
#include "etl/pg/conninfo.hpp"
#include "etl/providers/registry.hpp"
#include "etl/redis/client.hpp"
#include "etl/util/clock.hpp"
#include "etl/util/embedded.hpp"
#include "etl/util/error.hpp"
#include "etl/util/log.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstring>
#include <filesystem>
#include <unistd.h>

namespace etl::jobs {
namespace {

std::atomic<bool> g_stop{false};

extern "C" void on_signal(int) {
    const int saved_errno = errno;
    g_stop.store(true);
    // A load waiting on a lock another session holds would otherwise notice the flag only once the
    // lock is released: cancel its statement, so the run records itself as interrupted at once.
    store::cancel_statement_in_flight();
    errno = saved_errno;
}

} // namespace

config::Config load_config(const CommonOptions& o) {
    config::FlagOverrides flags;
    if (!o.database_url.empty()) flags.emplace_back("database_url", o.database_url);
    if (!o.redis_url.empty()) flags.emplace_back("redis_url", o.redis_url);
    if (o.mock) flags.emplace_back("mock", "true");
    if (!o.log_format.empty()) flags.emplace_back("log.format", o.log_format);
    if (!o.log_level.empty()) flags.emplace_back("log.level", o.log_level);
    if (o.no_progress) flags.emplace_back("log.progress", "false");
    std::optional<std::filesystem::path> file;
    if (!o.config_file.empty()) file = o.config_file;
    auto cfg = config::Config::load(providers::key_table(), file, flags);
    const auto& log = cfg.settings().log;
    util::configure_logging(log.format.value_or(util::default_log_format()), log.level, log.progress);
    return cfg;
}

namespace {

// stats.benchmark and stats.compare name symbols: a malformed one ("BT C") would silently match nothing.
void check_stats_symbols(const config::Config& cfg) {
    const auto check = [](std::string_view key, const std::string& symbol) {
        if (!market::normalize_symbol(symbol))
            throw ConfigError(fmt::format("{}: malformed symbol '{}': {}", key, symbol, market::k_symbol_rule));
    };
    const auto& stats = cfg.settings().stats;
    if (!stats.benchmark.empty()) check("stats.benchmark", stats.benchmark);
    for (const auto& [a, b] : stats.compare) {
        check("stats.compare", a);
        check("stats.compare", b);
    }
}

} // namespace

void preflight(const config::Config& cfg, const CommonOptions& options, const std::vector<std::string>& symbols,
               std::optional<market::AssetClass> forced) {
    if (const auto& redis_url = cfg.settings().redis.url; !redis_url.empty())
        static_cast<void>(redis::parse_redis_url(redis_url));
    check_database_url(cfg);
    check_stats_symbols(cfg);
    check_report_path(options.report_file);
    if (!symbols.empty()) {
        std::vector<market::Asset> named;
        named.reserve(symbols.size());
        for (const auto& s : symbols)
            named.push_back(providers::adhoc_asset(s, forced.value_or(market::guess_asset_class(s))));
        check_provider_keys(cfg, named);
    }
}

void check_provider_keys(const config::Config& cfg, const std::vector<market::Asset>& assets) {
    // The Router builds each provider the way the run will, so the check is the run's own.
    Router router(cfg, util::now(), nullptr);
    std::vector<market::AssetClass> checked;
    for (const auto& a : assets) {
        if (std::find(checked.begin(), checked.end(), a.asset_class) != checked.end()) continue;
        checked.push_back(a.asset_class);
        try {
            static_cast<void>(router.route(a));
        } catch (const ConfigError& e) {
            const std::string cls(market::to_string(a.asset_class));
            const auto& fallback = cfg.settings().routing.fallback;
            throw ConfigError(
                fmt::format("{} ({}: routing.{} = {}{}): {}", a.symbol, cls, cls, cfg.settings().routing.for_class(cls),
                            fallback.empty() ? "" : fmt::format(", routing.fallback = {}", fallback), e.what()));
        }
    }
}

void check_database_url(const config::Config& cfg) {
    config::check_container_database(cfg); // in a pod, no default SQLite file that dies with it (78)
    // The schemes store::open_store hands to libpq.
    if (const auto& db = cfg.settings().database.url;
        db.starts_with("postgresql://") || db.starts_with("postgres://") || db.find('=') != std::string::npos)
        pg::check_conninfo(db);
}

void check_report_path(const std::string& path) {
    if (path.empty()) return;
    namespace fs = std::filesystem;
    std::error_code ec;
    const fs::path file(path);
    const auto status = fs::status(file, ec);
    if (fs::is_directory(status))
        throw UsageError(fmt::format("--report {}: is a directory; name a file to write the report to", path));
    if (fs::exists(status) && !fs::is_regular_file(status)) {
        // A device or pipe (/dev/stdout, a FIFO): the report is written into it.
        if (::access(path.c_str(), W_OK) != 0)
            throw UsageError(fmt::format("--report {}: cannot be written ({})", path, std::strerror(errno)));
        return;
    }
    // A regular file is written beside itself and renamed into place: its directory must be writable.
    const fs::path dir = file.parent_path().empty() ? fs::path(".") : file.parent_path();
    if (!fs::is_directory(dir, ec))
        throw UsageError(fmt::format("--report {}: directory {} does not exist; create it or name another file", path,
                                     dir.string()));
    if (::access(dir.c_str(), W_OK | X_OK) != 0)
        throw UsageError(fmt::format("--report {}: directory {} is not writable ({}); name another file", path,
                                     dir.string(), std::strerror(errno)));
}

void install_signal_handlers() {
    struct sigaction sa {};
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, nullptr);
    sigaction(SIGTERM, &sa, nullptr);
}

const std::atomic<bool>& stop_flag() noexcept { return g_stop; }
void request_stop() noexcept { g_stop.store(true); }

store::StoreOptions store_options(const config::Config& cfg) {
    store::StoreOptions options;
    const auto& s = cfg.settings();
    options.compress_after_days = s.timescaledb.compress_after_days;
    options.retention_days = s.timescaledb.retention_days;
    options.lock_timeout_seconds = s.database.lock_timeout_seconds;
    options.statement_timeout_seconds = s.database.statement_timeout_seconds;
    return options;
}

std::unique_ptr<store::Store> open_store(const config::Config& cfg, const std::string& app_name) {
    auto s = store::open_store(cfg.settings().database.url, app_name, store_options(cfg));
    const auto applied = s->migrate();
    for (const auto& m : applied) util::log_info("applied migration {}", m);
    return s;
}

providers::ProviderSettings provider_settings(const config::Config& cfg, const std::string& name,
                                              market::sys_seconds now, const market::TradingCalendar* calendar) {
    providers::ProviderSettings s;
    s.name = name;
    s.now = now;
    // The UTC date: crypto's today, from which CoinGecko's history limit counts back. Stocks, ETFs and
    // indices end their windows on the last NYSE session that has opened (market::market_today).
    s.today = std::chrono::floor<std::chrono::days>(now);
    s.calendar = calendar;
    s.timeout = cfg.settings().fetch.timeout;
    s.grouped = cfg.settings().fetch.grouped;
    providers::read_provider_settings(cfg, name, s);
    return s;
}

market::TradingCalendar load_calendar(const config::Config& cfg) {
    const auto& file = cfg.settings().calendar.closures_file;
    if (!file.empty()) return market::TradingCalendar::from_file(file);
    const auto shipped = util::embedded_file("etc", "market-closures.txt");
    if (!shipped) return market::TradingCalendar{};
    return market::TradingCalendar(market::parse_overrides(*shipped, "market-closures.txt (built in)"));
}

} // namespace etl::jobs
