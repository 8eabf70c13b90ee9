#include "etl/jobs/commands.hpp"

#include "etl/http/client.hpp"
#include "etl/jobs/setup.hpp"
#include "etl/util/error.hpp"
#include "etl/util/log.hpp"
#include "etl/util/secrets.hpp"
#include "etl/util/strings.hpp"
#include "etl/util/version.hpp"

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <new>
#include <optional>

namespace etl::jobs {
namespace {

void process_setup() {
    http::global_init();
    install_signal_handlers();
    // A peer that resets a connection (Redis mid-pipeline) must give an error, not kill the process:
    // libcurl and libpq guard their own sockets, hiredis writes with plain write().
    std::signal(SIGPIPE, SIG_IGN);
}

// The log format the command line or the environment asks for, in force from the start, so that a flag or
// configuration error before the configuration is loaded is written in it too (the config file's
// log.format applies once it is read).
void early_log_format(const std::vector<std::string>& args) {
    std::optional<util::LogFormat> format;
    for (std::size_t i = 1; i < args.size(); ++i) {
        if (args[i] == "--log-format" && i + 1 < args.size()) format = util::parse_log_format(args[i + 1]);
        else if (args[i].starts_with("--log-format=")) format = util::parse_log_format(args[i].substr(13));
    }
    if (!format)
        if (const char* env = std::getenv("ETL_LOG_FORMAT"); env && *env) format = util::parse_log_format(env);
    if (format) util::configure_logging(*format, util::LogLevel::info, false);
}

void print_list(std::FILE* out) {
    fmt::print(out, "usage: etl COMMAND [ARGS...]   (etl COMMAND --help for its flags)\n\ncommands:\n");
    for (const auto& c : commands()) fmt::print(out, "  {:<15} {}\n", c.name, c.summary);
    fmt::print(out, "  {:<15} {}\n", "list", "this list");
}

} // namespace

const std::vector<Command>& commands() {
    static const std::vector<Command> table = {
        {"historical", "daily bars for a range (7D 1M 3M 6M YTD 1Y 3Y 5Y MAX) into price_bars", historical_main},
        {"hourly", "hourly bars of today's (or the last) NYSE session into price_bars and Redis", hourly_main},
        {"latest", "latest prices into latest_prices and Redis (latest_price:{SYMBOL})", latest_main},
        {"migrate-sqlite", "move a legacy SQLite market database (ours or Stockula's) into PostgreSQL/TimescaleDB",
         migrate_sqlite_main},
        {"validate",
         "data-quality checks over the stored data (ohlc, completeness, freshness, spikes, ...); exit 65 on "
         "failure",
         validate_main},
        {"derive", "recompute indicators (RSI, SMA, EMA, MACD, Bollinger) from the stored bars (--full: every bar)",
         derive_main},
        {"calendar", "NYSE calendar: is DATE a session, its open and close, today-or-last session", calendar_main},
        {"assets", "manage the assets table: add, list, import FILE", assets_main},
        {"db", "database maintenance: migrate, prune --runs-older-than 30d", db_main},
        {"runs", "recent runs from etl_runs, newest first (--job J, --last N, --failed)", runs_main},
        {"status", "each job's last success and the data's freshness; exit 1 when overdue or stale", status_main},
        {"config", "show the effective configuration with origins (secrets masked)", config_main},
        {"version", "print the version", version_main},
    };
    return table;
}

int run_guarded(std::string_view program, const std::function<int()>& body) {
    try {
        return body();
    } catch (const Error& e) {
        util::log_fatal(program, util::scrub(e.what()), util::to_int(e.code()));
        return util::to_int(e.code());
    } catch (const std::bad_alloc&) {
        try {
            util::log_fatal(program, "out of memory", util::to_int(util::ExitCode::temporary));
        } catch (...) { // no memory to format a line with: a fixed one
            std::fputs("{\"ts\":null,\"level\":\"error\",\"msg\":\"out of memory\",\"job\":null,\"run_id\":null,"
                       "\"shard\":null,\"exit_code\":75}\n",
                       stderr);
        }
        return util::to_int(util::ExitCode::temporary);
    } catch (const std::exception& e) {
        util::log_fatal(program, fmt::format("internal error: {} (please report this)", util::scrub(e.what())),
                        util::to_int(util::ExitCode::internal));
        return util::to_int(util::ExitCode::internal);
    }
}

int run_binary(std::string_view name, int argc, char** argv) {
    process_setup();
    std::vector<std::string> args;
    args.emplace_back(fmt::format("etl-{}", name));
    for (int i = 1; i < argc; ++i) args.emplace_back(argv[i]);
    util::set_log_job(args.front());
    early_log_format(args);
    for (const auto& c : commands())
        if (c.name == name) return c.entry(args);
    util::log_fatal(args.front(), "no such command", util::to_int(util::ExitCode::internal));
    return util::to_int(util::ExitCode::internal);
}

int run_front(int argc, char** argv) {
    process_setup();
    util::set_log_job("etl");
    {
        std::vector<std::string> all(argv, argv + argc);
        early_log_format(all);
    }
    if (argc < 2) {
        // The list on a terminal; one error line in the JSON format (a cron job without a command).
        if (util::log_format() == util::LogFormat::text) print_list(stderr);
        else {
            std::vector<std::string_view> names;
            for (const auto& c : commands()) names.push_back(c.name);
            util::log_fatal("etl",
                            fmt::format("no command given (one of: {}); run 'etl list' for what each does",
                                        fmt::join(names, ", ")),
                            util::to_int(util::ExitCode::usage));
        }
        return util::to_int(util::ExitCode::usage);
    }
    std::string name = argv[1];
    // `etl etl-latest` is `etl latest`: an image whose entrypoint is `etl` runs the binaries' names too.
    if (name.starts_with("etl-") && name.size() > 4) name.erase(0, 4);
    if (name == "list" || name == "--help" || name == "-h" || name == "help") {
        print_list(stdout);
        return 0;
    }
    if (name == "--version") return version_main({"etl version"});
    std::vector<std::string> args;
    args.emplace_back(fmt::format("etl {}", name));
    for (int i = 2; i < argc; ++i) args.emplace_back(argv[i]);
    for (const auto& c : commands()) {
        if (c.name != name) continue;
        util::set_log_job(fmt::format("etl-{}", name)); // as the job is named in etl_runs
        return c.entry(args);
    }
    std::string hint;
    std::size_t best = 3; // more than 2 edits away is not a typo
    for (const auto& c : commands()) {
        const auto d = util::edit_distance(name, c.name);
        if (d < best) {
            best = d;
            hint = fmt::format(" (did you mean 'etl {}'?)", c.name);
        }
    }
    util::log_fatal("etl", fmt::format("unknown command '{}'{}; run 'etl list' for the commands", name, hint),
                    util::to_int(util::ExitCode::usage));
    return util::to_int(util::ExitCode::usage);
}

int version_main(const std::vector<std::string>&) {
    fmt::print("market-etl {}\n", util::version());
    return 0;
}

} // namespace etl::jobs
