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
#include <exception>
#include <new>

namespace etl::jobs {
namespace {

void process_setup() {
    http::global_init();
    install_signal_handlers();
    // A peer that resets a connection (Redis mid-pipeline) must give an error, not kill the process:
    // libcurl and libpq guard their own sockets, hiredis writes with plain write().
    std::signal(SIGPIPE, SIG_IGN);
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
        util::progress_done();
        fmt::print(stderr, "{}: {}\n", program, util::scrub(e.what()));
        return util::to_int(e.code());
    } catch (const std::bad_alloc&) {
        fmt::print(stderr, "{}: out of memory\n", program);
        return util::to_int(util::ExitCode::temporary);
    } catch (const std::exception& e) {
        util::progress_done();
        fmt::print(stderr, "{}: internal error: {} (please report this)\n", program, util::scrub(e.what()));
        return util::to_int(util::ExitCode::internal);
    }
}

int run_binary(std::string_view name, int argc, char** argv) {
    process_setup();
    std::vector<std::string> args;
    args.emplace_back(fmt::format("etl-{}", name));
    for (int i = 1; i < argc; ++i) args.emplace_back(argv[i]);
    for (const auto& c : commands())
        if (c.name == name) return c.entry(args);
    fmt::print(stderr, "etl-{}: no such command\n", name);
    return util::to_int(util::ExitCode::internal);
}

int run_front(int argc, char** argv) {
    process_setup();
    if (argc < 2) {
        print_list(stderr);
        return util::to_int(util::ExitCode::usage);
    }
    const std::string name = argv[1];
    if (name == "list" || name == "--help" || name == "-h" || name == "help") {
        print_list(stdout);
        return 0;
    }
    if (name == "--version") return version_main({"etl version"});
    std::vector<std::string> args;
    args.emplace_back(fmt::format("etl {}", name));
    for (int i = 2; i < argc; ++i) args.emplace_back(argv[i]);
    for (const auto& c : commands())
        if (c.name == name) return c.entry(args);
    std::string hint;
    std::size_t best = 3; // more than 2 edits away is not a typo
    for (const auto& c : commands()) {
        const auto d = util::edit_distance(name, c.name);
        if (d < best) {
            best = d;
            hint = fmt::format(" (did you mean 'etl {}'?)", c.name);
        }
    }
    fmt::print(stderr, "etl: unknown command '{}'{}; run 'etl list' for the commands\n", name, hint);
    return util::to_int(util::ExitCode::usage);
}

int version_main(const std::vector<std::string>&) {
    fmt::print("market-etl {}\n", util::version());
    return 0;
}

} // namespace etl::jobs
