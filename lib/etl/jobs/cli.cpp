#include "etl/jobs/cli.hpp"

#include "etl/util/exit_code.hpp"
#include "etl/util/log.hpp"
#include "etl/util/version.hpp"

#include <CLI/CLI.hpp>
#include <fmt/format.h>

namespace etl::jobs {

std::optional<int> parse_cli(CLI::App& app, const std::vector<std::string>& args) {
    app.set_version_flag("--version", fmt::format("market-etl {}", util::version()));
    std::vector<const char*> argv;
    argv.reserve(args.size());
    for (const auto& a : args) argv.push_back(a.c_str());
    try {
        app.parse(static_cast<int>(argv.size()), argv.data());
    } catch (const CLI::CallForHelp&) {
        fmt::print("{}", app.help());
        return 0;
    } catch (const CLI::CallForAllHelp&) {
        fmt::print("{}", app.help("", CLI::AppFormatMode::All));
        return 0;
    } catch (const CLI::CallForVersion& e) {
        fmt::print("{}\n", e.what());
        return 0;
    } catch (const CLI::ParseError& e) {
        util::log_fatal(args.front(), fmt::format("{}; see {} --help", e.what(), args.front()),
                        util::to_int(util::ExitCode::usage));
        return util::to_int(util::ExitCode::usage);
    }
    return std::nullopt;
}

} // namespace etl::jobs
