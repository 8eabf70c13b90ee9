// The process exit codes of every market-etl binary: the one table of SPEC.md section 5.
#pragma once

namespace etl::util {

enum class ExitCode : int {
    ok = 0,
    partial = 1,       // some symbols failed after retries; the others were committed
    usage = 64,        // bad arguments, unknown range, malformed symbol
    data = 65,         // validation failed, or rejected rows above the threshold
    no_input = 66,     // input file missing or not of the expected kind
    unavailable = 69,  // a provider is unavailable for every requested symbol
    internal = 70,     // a bug
    temporary = 75,    // database unreachable, lock held, retry budget spent
    config = 78,       // bad TOML, unknown provider, missing or rejected API key
    interrupted = 130, // SIGINT / SIGTERM
};

inline constexpr int to_int(ExitCode code) noexcept { return static_cast<int>(code); }

} // namespace etl::util
