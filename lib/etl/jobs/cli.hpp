// CLI11 glue shared by the entry functions: parsing with our exit codes (help 0, usage error 64).
#pragma once

#include <optional>
#include <string>
#include <vector>

namespace CLI {
class App;
}

namespace etl::jobs {

// Parses `args` (args[0] = program name). Returns an exit code to return at once (0 after --help or
// --version, 64 after a usage error, with the message printed), or nullopt to go on.
std::optional<int> parse_cli(CLI::App& app, const std::vector<std::string>& args);

} // namespace etl::jobs
