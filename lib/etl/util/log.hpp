// Logging to stderr: readable text on a TTY, JSON lines otherwise (or as configured), every line
// scrubbed of registered secrets. Also the one-line progress bar shown on a TTY.
#pragma once

#include <fmt/format.h>

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace etl::util {

enum class LogLevel { debug = 0, info = 1, warn = 2, error = 3 };
enum class LogFormat { text, json };

std::optional<LogLevel> parse_log_level(std::string_view s);
std::optional<LogFormat> parse_log_format(std::string_view s);

using LogFields = std::vector<std::pair<std::string, std::string>>;

// Sets the process-wide format, threshold and whether a progress bar may be drawn.
// Not thread-safe against concurrent log calls; call once at start-up.
void configure_logging(LogFormat format, LogLevel level, bool progress);
// The format a fresh process uses: text when stderr is a TTY, JSON lines otherwise.
LogFormat default_log_format();

// Writes one line (thread-safe). `fields` become JSON members or `key=value` suffixes.
void log(LogLevel level, std::string_view message, const LogFields& fields = {});

template <class... Args> void log_debug(fmt::format_string<Args...> f, Args&&... args) {
    log(LogLevel::debug, fmt::format(f, std::forward<Args>(args)...));
}
template <class... Args> void log_info(fmt::format_string<Args...> f, Args&&... args) {
    log(LogLevel::info, fmt::format(f, std::forward<Args>(args)...));
}
template <class... Args> void log_warn(fmt::format_string<Args...> f, Args&&... args) {
    log(LogLevel::warn, fmt::format(f, std::forward<Args>(args)...));
}
template <class... Args> void log_error(fmt::format_string<Args...> f, Args&&... args) {
    log(LogLevel::error, fmt::format(f, std::forward<Args>(args)...));
}

// Draws "[#####.....] done/total label" on the TTY (no-op when progress is off). Thread-safe.
void progress(std::size_t done, std::size_t total, std::string_view label);
// Erases the progress line (before the final summary).
void progress_done();

// Writes `text` to stderr as is (after scrubbing): the end-of-run summary.
void write_summary(std::string_view text);

} // namespace etl::util
