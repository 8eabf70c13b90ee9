#include "etl/jobs/common.hpp"

#include "etl/jobs/pipeline.hpp"
#include "etl/market/symbol.hpp"
#include "etl/pg/conninfo.hpp"
#include "etl/providers/registry.hpp"
#include "etl/redis/client.hpp"
#include "etl/util/clock.hpp"
#include "etl/util/embedded.hpp"
#include "etl/util/error.hpp"
#include "etl/util/log.hpp"
#include "etl/util/secrets.hpp"
#include "etl/util/strings.hpp"

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
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
    app.add_option("--config", o.config_file, "TOML config file (default: $ETL_CONFIG, ./etl.toml, /etc/market-etl/etl.toml)");
    app.add_option("--database-url", o.database_url, "postgresql://... or sqlite:PATH (overrides DATABASE_URL)");
    if (flags & common_flag::redis_url)
        app.add_option("--redis-url", o.redis_url, "redis://host:port (overrides REDIS_URL)");
    if (flags & common_flag::mock) app.add_flag("--mock", o.mock, "use the deterministic mock provider (no key, no network)");
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

void preflight(const config::Config& cfg, const CommonOptions& options, const std::vector<std::string>& symbols,
               std::optional<market::AssetClass> forced) {
    if (const auto& redis_url = cfg.settings().redis.url; !redis_url.empty())
        static_cast<void>(redis::parse_redis_url(redis_url));
    check_database_url(cfg);
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
            throw ConfigError(fmt::format("{} ({}: routing.{} = {}{}): {}", a.symbol, cls, cls,
                                          cfg.settings().routing.for_class(cls),
                                          fallback.empty() ? "" : fmt::format(", routing.fallback = {}", fallback),
                                          e.what()));
        }
    }
}

void check_database_url(const config::Config& cfg) {
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
    providers::read_provider_settings(cfg, name, s);
    return s;
}

void RunTotals::add_failure(const std::string& symbol, const std::string& provider, providers::FailureKind kind,
                            const std::string& message) {
    ++symbols_failed;
    if (kind == providers::FailureKind::transient) ++failures_transient;
    if (kind == providers::FailureKind::config) {
        ++failures_config;
        if (first_config_error.empty()) first_config_error = message;
    }
    failures.push_back({symbol, provider, std::string(providers::to_string(kind)), message});
}

void RunTotals::add_no_data(const std::string& symbol, const std::string& provider, const std::string& message) {
    ++symbols_failed;
    ++failures_no_data;
    failures.push_back({symbol, provider, "no data", message});
}

util::ExitCode decide_exit_code(const RunTotals& t) {
    using util::ExitCode;
    if (t.interrupted) return ExitCode::interrupted;
    if (t.failures_config > 0) return ExitCode::config;
    if (t.symbols_requested > 0 && t.symbols_ok == 0 && t.failures_transient == t.symbols_failed &&
        t.symbols_failed > 0)
        return ExitCode::unavailable;
    if (t.symbols_failed > 0) return ExitCode::partial;
    const auto total = t.bars_valid + t.rows.rejected;
    if (total > 0 && static_cast<double>(t.rows.rejected) / static_cast<double>(total) > t.max_rejected_ratio)
        return ExitCode::data;
    return ExitCode::ok;
}

store::RunStatus run_status(util::ExitCode code) {
    switch (code) {
    case util::ExitCode::ok: return store::RunStatus::success;
    case util::ExitCode::partial:
    case util::ExitCode::data: return store::RunStatus::partial;
    case util::ExitCode::interrupted: return store::RunStatus::interrupted;
    default: return store::RunStatus::failed;
    }
}

std::string summary_text(const RunTotals& t, util::ExitCode code) {
    const auto secs = std::chrono::duration<double>(std::chrono::system_clock::now() - t.started).count();
    std::string out = fmt::format("{} {}: {} symbol{} ({} ok, {} failed{}{}) in {:.1f} s{}\n", t.job, t.arguments,
                                  t.symbols_requested, t.symbols_requested == 1 ? "" : "s", t.symbols_ok,
                                  t.symbols_failed,
                                  t.failures_no_data ? fmt::format(", {} of them no data", t.failures_no_data) : "",
                                  t.symbols_interrupted ? fmt::format(", {} not done", t.symbols_interrupted) : "",
                                  secs, t.dry_run ? " [dry run: nothing written]" : "");
    out += fmt::format("  rows: {} inserted, {} updated, {} unchanged, {} rejected\n", t.rows.inserted, t.rows.updated,
                       t.rows.unchanged, t.rows.rejected);
    constexpr std::size_t k_max_listed = 10;  // one screen
    for (std::size_t i = 0; i < t.failures.size() && i < k_max_listed; ++i) {
        const auto& f = t.failures[i];
        out += fmt::format("  failed: {} ({}, {}): {}\n", f.symbol, f.provider, f.kind, f.error);
    }
    if (t.failures.size() > k_max_listed) out += fmt::format("  ... and {} more failures\n", t.failures.size() - k_max_listed);
    out += fmt::format("  store: {}  run: {}  shard: {}  exit: {} ({})\n", t.store,
                       t.run_id ? std::to_string(t.run_id) : std::string("-"), t.shard, util::to_int(code),
                       store::to_string(run_status(code)));
    return out;
}

void write_report(const std::string& path, const RunTotals& t, util::ExitCode code) {
    std::string failures;
    for (const auto& f : t.failures) {
        if (!failures.empty()) failures += ",";
        failures += fmt::format(R"({{"symbol":{},"provider":{},"kind":{},"error":{}}})", util::json_quote(f.symbol),
                                util::json_quote(f.provider), util::json_quote(f.kind), util::json_quote(f.error));
    }
    std::string timings;
    for (const auto& [name, seconds] : t.timings) {
        if (!timings.empty()) timings += ",";
        timings += fmt::format("{}:{:.3f}", util::json_quote(name), seconds);
    }
    const auto now = std::chrono::system_clock::now();
    const auto secs = std::chrono::duration<double>(now - t.started).count();
    const std::string json = fmt::format(
        R"({{"job":{},"arguments":{},"shard":{},"run_id":{},"dry_run":{},"store":{},"started_at":"{}","finished_at":"{}","duration_seconds":{:.3f},"status":"{}","exit_code":{},)"
        R"("symbols":{{"requested":{},"ok":{},"failed":{},"no_data":{},"not_done":{}}},)"
        R"("rows":{{"inserted":{},"updated":{},"unchanged":{},"rejected":{}}},"failures":[{}],"error":{},"timings":{{{}}}}})"
        "\n",
        util::json_quote(t.job), util::json_quote(t.arguments), util::json_quote(t.shard),
        t.run_id ? std::to_string(t.run_id) : "null", t.dry_run ? "true" : "false", util::json_quote(t.store),
        util::format_instant(std::chrono::floor<std::chrono::seconds>(t.started)),
        util::format_instant(std::chrono::floor<std::chrono::seconds>(now)), secs, store::to_string(run_status(code)),
        util::to_int(code), t.symbols_requested, t.symbols_ok, t.symbols_failed, t.failures_no_data, t.symbols_interrupted,
        t.rows.inserted, t.rows.updated, t.rows.unchanged, t.rows.rejected, failures,
        t.error.empty() ? std::string("null") : util::json_quote(t.error), timings);
    const std::string text = util::scrub(json);
    std::error_code ec;
    if (std::filesystem::exists(path, ec) && !std::filesystem::is_regular_file(path, ec)) {
        // A device or pipe (/dev/stdout, a FIFO): write into it, never rename over it.
        std::ofstream out(path);
        out << text;
        if (!out) throw Error(util::ExitCode::temporary, fmt::format("cannot write report {}", path));
        return;
    }
    // A regular file is replaced atomically, so a reader never sees half a report.
    const std::string tmp = path + ".tmp";
    {
        std::ofstream out(tmp, std::ios::trunc);
        out << text;
        if (!out) throw Error(util::ExitCode::temporary, fmt::format("cannot write report {}", path));
    }
    std::filesystem::rename(tmp, path, ec);
    if (ec) throw Error(util::ExitCode::temporary, fmt::format("cannot write report {}: {}", path, ec.message()));
}

void finish_run(RunTotals& t, util::ExitCode code, const std::string& error, store::Store* store,
                const std::string& report_file) {
    t.error = error;
    std::string first = error;
    if (first.empty()) first = t.first_config_error;
    if (first.empty() && !t.failures.empty()) first = t.failures.front().error;
    if (t.run_id && store) {
        try {
            store->finish_run(t.run_id, {run_status(code), util::to_int(code), t.symbols_requested, t.symbols_ok,
                                         t.symbols_failed, t.rows, util::scrub(first)});
        } catch (const std::exception& e) {
            util::log_error("could not record the end of run {}: {}", t.run_id, e.what());
        }
    }
    util::write_summary(summary_text(t, code));
    if (!report_file.empty()) write_report(report_file, t, code);
    if (code == util::ExitCode::config && !t.first_config_error.empty())
        util::log_error("configuration error: {}", t.first_config_error);
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

std::vector<market::Asset> resolve_assets(const std::vector<std::string>& symbols,
                                          std::optional<market::AssetClass> forced, store::Store& store,
                                          bool dry_run, const market::Shard& shard) {
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
    std::error_code ec;  // unreadable: open it, so open_store names the problem (78)
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

market::TradingCalendar load_calendar(const config::Config& cfg) {
    const auto& file = cfg.settings().calendar.closures_file;
    if (!file.empty()) return market::TradingCalendar::from_file(file);
    const auto shipped = util::embedded_file("etc", "market-closures.txt");
    if (!shipped) return market::TradingCalendar{};
    return market::TradingCalendar(market::parse_overrides(*shipped, "market-closures.txt (built in)"));
}

std::unique_ptr<store::Store> start_run(const config::Config& cfg, RunTotals& totals, bool dry_run) {
    auto store = open_store(cfg, totals.job);
    totals.store = store->describe();
    totals.dry_run = dry_run;
    totals.max_rejected_ratio = cfg.settings().validation.max_rejected_ratio;
    if (!dry_run && !store->try_lock(store::run_lock_name(totals.job, totals.shard)))
        throw TemporaryError(fmt::format("another {} run (shard {}) is in progress; this run exits without doing "
                                         "anything",
                                         totals.job, totals.shard));
    return store;
}

int execute_run(RunTotals& totals, store::Store* store, const std::string& report_file,
                const std::function<void()>& work) {
    try {
        work();
    } catch (const Error& e) {
        // The run stops here (database lost mid-run, ...): record and report what was done, then let
        // the error reach run_guarded, which prints it and returns its exit code.
        finish_run(totals, e.code(), e.what(), store, report_file);
        throw;
    }
    const auto code = decide_exit_code(totals);
    finish_run(totals, code, "", store, report_file);
    return util::to_int(code);
}

std::string join_arguments(const std::vector<std::string>& args) {
    std::string out;
    for (const auto& a : args) {
        if (!out.empty()) out += ' ';
        // --database-url/--redis-url values (and --x=URL forms) may carry passwords.
        const bool connection_string = a.find("://") != std::string::npos || a.find("password") != std::string::npos;
        out += connection_string ? util::redact_url(a) : util::scrub(a);
    }
    return out;
}

} // namespace etl::jobs
