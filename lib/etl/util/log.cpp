#include "etl/util/log.hpp"

#include "etl/util/clock.hpp"
#include "etl/util/json_writer.hpp"
#include "etl/util/secrets.hpp"
#include "etl/util/strings.hpp"

#include <chrono>
#include <cstdio>
#include <mutex>
#include <unistd.h>

namespace etl::util {
namespace {

struct LogState {
    std::mutex mutex;
    LogFormat format = LogFormat::text;
    LogLevel level = LogLevel::info;
    bool progress = false;
    bool progress_shown = false;
};

LogState& state() {
    static LogState s{{}, default_log_format(), LogLevel::info, false, false};
    return s;
}

constexpr std::string_view level_name(LogLevel l) {
    switch (l) {
    case LogLevel::debug: return "debug";
    case LogLevel::info: return "info";
    case LogLevel::warn: return "warn";
    case LogLevel::error: return "error";
    }
    return "info";
}

std::string timestamp_utc() {
    const auto now = std::chrono::floor<std::chrono::milliseconds>(std::chrono::system_clock::now());
    const auto secs = std::chrono::floor<std::chrono::seconds>(now);
    const auto text = format_instant(secs); // ...:SSZ; insert the milliseconds before the Z
    return fmt::format("{}.{:03}Z", text.substr(0, text.size() - 1), (now - secs).count());
}

void clear_progress_locked(LogState& s) {
    if (s.progress_shown) {
        std::fputs("\r\033[K", stderr);
        s.progress_shown = false;
    }
}

} // namespace

std::optional<LogLevel> parse_log_level(std::string_view s) {
    const auto l = to_lower(s);
    if (l == "debug") return LogLevel::debug;
    if (l == "info") return LogLevel::info;
    if (l == "warn" || l == "warning") return LogLevel::warn;
    if (l == "error") return LogLevel::error;
    return std::nullopt;
}

std::optional<LogFormat> parse_log_format(std::string_view s) {
    const auto l = to_lower(s);
    if (l == "text") return LogFormat::text;
    if (l == "json") return LogFormat::json;
    return std::nullopt;
}

LogFormat default_log_format() { return isatty(STDERR_FILENO) ? LogFormat::text : LogFormat::json; }

void configure_logging(LogFormat format, LogLevel level, bool progress) {
    auto& s = state();
    const std::lock_guard lock(s.mutex);
    s.format = format;
    s.level = level;
    s.progress = progress && isatty(STDERR_FILENO) && format == LogFormat::text;
}

void log(LogLevel level, std::string_view message, const LogFields& fields) {
    auto& s = state();
    if (level < s.level) return;
    std::string line;
    if (s.format == LogFormat::json) {
        JsonWriter json;
        json.start_object().key("ts").string(timestamp_utc()).key("level").string(level_name(level));
        json.key("msg").string(message);
        for (const auto& [k, v] : fields) json.key(k).string(v);
        line = std::move(json.end_object()).release();
        line += '\n';
    } else {
        line = fmt::format("{} {:5} {}", timestamp_utc(), level_name(level), message);
        for (const auto& [k, v] : fields) line += fmt::format(" {}={}", k, v);
        line += "\n";
    }
    const std::string clean = scrub(line);
    const std::lock_guard lock(s.mutex);
    clear_progress_locked(s);
    std::fwrite(clean.data(), 1, clean.size(), stderr);
    std::fflush(stderr);
}

void progress(std::size_t done, std::size_t total, std::string_view label) {
    auto& s = state();
    const std::lock_guard lock(s.mutex);
    if (!s.progress || total == 0) return;
    constexpr std::size_t k_width = 30; // fits an 80-column terminal with the counts and a symbol
    const std::size_t filled = done * k_width / total;
    std::string bar(filled, '#');
    bar.append(k_width - filled, '.');
    const std::string text = scrub(fmt::format("\r\033[K[{}] {}/{} {}", bar, done, total, label));
    std::fputs(text.c_str(), stderr);
    std::fflush(stderr);
    s.progress_shown = true;
}

void progress_done() {
    auto& s = state();
    const std::lock_guard lock(s.mutex);
    clear_progress_locked(s);
}

void write_summary(std::string_view text) {
    auto& s = state();
    const std::string clean = scrub(text);
    const std::lock_guard lock(s.mutex);
    clear_progress_locked(s);
    std::fwrite(clean.data(), 1, clean.size(), stderr);
    std::fflush(stderr);
}

} // namespace etl::util
