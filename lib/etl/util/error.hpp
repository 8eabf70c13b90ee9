// The exception tree for aborting failures. Routine outcomes (a rejected row, a 404 for one symbol)
// are values, not exceptions; these are caught once, at the edge, where the exit code is decided.
#pragma once

#include "etl/util/exit_code.hpp"

#include <stdexcept>
#include <string>

namespace etl {

// Base of every error we throw on purpose. `what()` is a one-line, secret-free message that names the
// thing that is wrong and, where there is one, the fix.
class Error : public std::runtime_error {
public:
    Error(util::ExitCode code, const std::string& message) : std::runtime_error(message), m_code(code) {}
    [[nodiscard]] util::ExitCode code() const noexcept { return m_code; }

private:
    util::ExitCode m_code;
};

// Bad command line: unknown range, malformed symbol, bad flag value (64).
struct UsageError : Error {
    explicit UsageError(const std::string& m) : Error(util::ExitCode::usage, m) {}
};

// Data failed validation beyond what the run tolerates (65).
struct DataError : Error {
    explicit DataError(const std::string& m) : Error(util::ExitCode::data, m) {}
};

// An input file is missing or not what it should be (66).
struct InputError : Error {
    explicit InputError(const std::string& m) : Error(util::ExitCode::no_input, m) {}
};

// A provider cannot serve any requested symbol (69).
struct UnavailableError : Error {
    explicit UnavailableError(const std::string& m) : Error(util::ExitCode::unavailable, m) {}
};

// Worth retrying later: database unreachable, lock held, retry budget spent (75).
struct TemporaryError : Error {
    explicit TemporaryError(const std::string& m) : Error(util::ExitCode::temporary, m) {}
};

// Configuration is wrong: bad TOML, unknown provider, missing or rejected API key (78).
struct ConfigError : Error {
    explicit ConfigError(const std::string& m) : Error(util::ExitCode::config, m) {}
};

} // namespace etl
