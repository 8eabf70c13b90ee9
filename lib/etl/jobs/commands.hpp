// The command table shared by the `etl` front command and the `etl-*` binaries: `etl historical`
// and `etl-historical` run the same entry function.
#pragma once

#include <functional>
#include <string>
#include <string_view>
#include <vector>

namespace etl::jobs {

// An entry function: args[0] is the program name as the user should see it ("etl-historical" or
// "etl historical"); returns the process exit code. It never calls exit().
using EntryFunction = int (*)(const std::vector<std::string>& args);

struct Command {
    std::string_view name;    // "historical"
    std::string_view summary; // one line for `etl list`
    EntryFunction entry;
};

const std::vector<Command>& commands();

// main() of `etl-NAME`: process-wide setup, then the command's entry function. Returns the exit code.
int run_binary(std::string_view name, int argc, char** argv);
// main() of `etl`: dispatches `etl COMMAND ...`, `etl list`, `etl --help`, "did you mean".
int run_front(int argc, char** argv);

// Runs `body`, turning every exception into a one-line message on stderr and the exit code of its
// kind (the one place exceptions become exit codes).
int run_guarded(std::string_view program, const std::function<int()>& body);

// Entry functions (one per command).
int historical_main(const std::vector<std::string>& args);
int hourly_main(const std::vector<std::string>& args);
int latest_main(const std::vector<std::string>& args);
int migrate_sqlite_main(const std::vector<std::string>& args);
int validate_main(const std::vector<std::string>& args);
int derive_main(const std::vector<std::string>& args);
int calendar_main(const std::vector<std::string>& args);
int assets_main(const std::vector<std::string>& args);
int db_main(const std::vector<std::string>& args);
int runs_main(const std::vector<std::string>& args);
int status_main(const std::vector<std::string>& args);
int config_main(const std::vector<std::string>& args);
int version_main(const std::vector<std::string>& args);

} // namespace etl::jobs
