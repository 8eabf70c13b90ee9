// Logging to stderr: readable text on a TTY, JSON lines otherwise (or as configured), every line
// scrubbed of registered secrets. Also the one-line progress bar shown on a TTY.
#pragma once

#include <fmt/format.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

namespace etl::util {

enum class LogLevel { debug = 0, info = 1, warn = 2, error = 3 };
enum class LogFormat { text, json };

std::optional<LogLevel> parse_log_level(std::string_view s);
std::optional<LogFormat> parse_log_format(std::string_view s);

// A field's value: text, or a number or flag that a JSON line writes as a JSON number or boolean.
using LogValue = std::variant<std::string, std::int64_t, double, bool>;
using LogFields = std::vector<std::pair<std::string, LogValue>>;

// Sets the process-wide format, threshold and whether a progress bar may be drawn.
// Not thread-safe against concurrent log calls; call once at start-up.
void configure_logging(LogFormat format, LogLevel level, bool progress);
// The format a fresh process uses: text when stderr is a TTY, JSON lines otherwise.
LogFormat default_log_format();
// The format in use now.
LogFormat log_format();

// The run every JSON line belongs to: its job ("etl-historical"), shard ("1/4") and run id (the etl_runs
// row). Each JSON line carries all three; one not known yet (before the run is recorded, or for a command
// that is not a run) is null. Text lines do not show them. Thread-safe.
void set_log_job(std::string_view job);
void set_log_shard(std::string_view shard);
void set_log_run_id(std::int64_t run_id); // 0: not recorded

// Writes one line (thread-safe). `fields` become JSON members or `key=value` suffixes.
void log(LogLevel level, std::string_view message, const LogFields& fields = {});

// The line that ends a process on an error: "PROGRAM: MESSAGE" as text; as JSON an error line whose msg is
// MESSAGE, with "exit_code". Erases the progress bar first.
void log_fatal(std::string_view program, std::string_view message, int exit_code);

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

// Draws "[#####.....] done/total label" on the TTY (no-op when progress is off). Thread-safe. The bar
// is drawn again after every log line that erased it.
void progress(std::size_t done, std::size_t total, std::string_view label);
// Shows `note` after the bar ("waiting 11 s for polygon's rate limit") until another note replaces it;
// "" removes it. Redraws only when the note changes. No-op when progress is off.
void progress_note(std::string_view note);
// Erases the progress line (before the final summary) and forgets it.
void progress_done();

// The end-of-run summary, written whatever the log level: `text` as it is (after scrubbing) in the text
// format; in the JSON format one line {"ts":…,"level":LEVEL,"msg":"summary",<the run>,<the members of
// `json_object`, whose strings the caller has scrubbed>}.
void write_summary(LogLevel level, std::string_view text, std::string_view json_object);

} // namespace etl::util
