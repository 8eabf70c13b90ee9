#include "etl/util/log.hpp"

#include "etl/util/clock.hpp"
#include "etl/util/json_writer.hpp"
#include "etl/util/secrets.hpp"
#include "etl/util/strings.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <mutex>
#include <type_traits>
#include <unistd.h>

namespace etl::util {
namespace {

struct LogState {
    LogState() : format(default_log_format()) {}

    std::mutex mutex;
    LogFormat format;
    LogLevel level = LogLevel::info;
    bool progress = false;
    bool progress_shown = false;
    // The last bar drawn (total 0: none), drawn again after a log line erased it.
    std::size_t bar_done = 0;
    std::size_t bar_total = 0;
    std::string bar_label;
    std::string bar_note;
    // The run the lines belong to ("" / 0: not known).
    std::string job;
    std::string shard;
    std::int64_t run_id = 0;
};

LogState& state() {
    static LogState s;
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

void draw_progress_locked(LogState& s) {
    if (!s.progress || s.bar_total == 0) return;
    constexpr std::size_t k_width = 30; // fits an 80-column terminal with the counts and a symbol
    const std::size_t filled = std::min(s.bar_done, s.bar_total) * k_width / s.bar_total;
    std::string bar(filled, '#');
    bar.append(k_width - filled, '.');
    const std::string text = scrub(fmt::format("\r\033[K[{}] {}/{} {}{}{}", bar, s.bar_done, s.bar_total, s.bar_label,
                                               s.bar_note.empty() ? "" : " ", s.bar_note));
    std::fputs(text.c_str(), stderr);
    std::fflush(stderr);
    s.progress_shown = true;
}

// Starts a JSON line: ts, level, msg, then the run (job, run_id, shard; null when not known).
JsonWriter start_json_line(const LogState& s, LogLevel level, std::string_view message) {
    JsonWriter json(scrub); // every string scrubbed before it is encoded
    json.start_object().key("ts").string(timestamp_utc()).key("level").string(level_name(level));
    json.key("msg").string(message);
    json.key("job");
    if (s.job.empty()) json.null();
    else json.string(s.job);
    json.key("run_id");
    if (s.run_id == 0) json.null();
    else json.number(s.run_id);
    json.key("shard");
    if (s.shard.empty()) json.null();
    else json.string(s.shard);
    return json;
}

void write_value(JsonWriter& json, const LogValue& v) {
    std::visit(
        [&](const auto& x) {
            using T = std::decay_t<decltype(x)>;
            if constexpr (std::is_same_v<T, std::string>) json.string(x);
            else if constexpr (std::is_same_v<T, bool>) json.boolean(x);
            else if constexpr (std::is_same_v<T, double>) {
                if (std::isfinite(x)) json.raw(fmt::format("{}", x));
                else json.null(); // JSON has no NaN or infinity
            } else json.number(x);
        },
        v);
}

std::string text_value(const LogValue& v) {
    return std::visit(
        [](const auto& x) -> std::string {
            using T = std::decay_t<decltype(x)>;
            if constexpr (std::is_same_v<T, std::string>) return x;
            else if constexpr (std::is_same_v<T, bool>) return x ? "true" : "false";
            else return fmt::format("{}", x);
        },
        v);
}

// Writes `line` under the lock held by the caller, erasing the bar first and drawing it again after. A
// text line is scrubbed here; a JSON line was scrubbed value by value as it was encoded.
void emit_locked(LogState& s, const std::string& line) {
    const std::string clean = s.format == LogFormat::json ? line : scrub(line);
    const bool had_bar = s.progress_shown;
    clear_progress_locked(s);
    std::fwrite(clean.data(), 1, clean.size(), stderr);
    if (had_bar) draw_progress_locked(s);
    std::fflush(stderr);
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

LogFormat log_format() {
    auto& s = state();
    const std::lock_guard lock(s.mutex);
    return s.format;
}

void configure_logging(LogFormat format, LogLevel level, bool progress) {
    auto& s = state();
    const std::lock_guard lock(s.mutex);
    s.format = format;
    s.level = level;
    s.progress = progress && isatty(STDERR_FILENO) && format == LogFormat::text;
}

void set_log_job(std::string_view job) {
    auto& s = state();
    const std::lock_guard lock(s.mutex);
    s.job = job;
}

void set_log_shard(std::string_view shard) {
    auto& s = state();
    const std::lock_guard lock(s.mutex);
    s.shard = shard;
}

void set_log_run_id(std::int64_t run_id) {
    auto& s = state();
    const std::lock_guard lock(s.mutex);
    s.run_id = run_id;
}

void log(LogLevel level, std::string_view message, const LogFields& fields) {
    auto& s = state();
    const std::lock_guard lock(s.mutex);
    if (level < s.level) return;
    std::string line;
    if (s.format == LogFormat::json) {
        auto json = start_json_line(s, level, message);
        for (const auto& [k, v] : fields) write_value(json.key(k), v);
        line = std::move(json.end_object()).release();
        line += '\n';
    } else {
        line = fmt::format("{} {:5} {}", timestamp_utc(), level_name(level), message);
        for (const auto& [k, v] : fields) line += fmt::format(" {}={}", k, text_value(v));
        line += "\n";
    }
    emit_locked(s, line);
}

void log_fatal(std::string_view program, std::string_view message, int exit_code) {
    auto& s = state();
    const std::lock_guard lock(s.mutex);
    std::string line;
    if (s.format == LogFormat::json) {
        auto json = start_json_line(s, LogLevel::error, message);
        json.key("exit_code").number(exit_code);
        line = std::move(json.end_object()).release();
        line += '\n';
    } else {
        line = fmt::format("{}: {}\n", program, message);
    }
    s.bar_total = 0; // the run ends here: no bar after it
    emit_locked(s, line);
}

void progress(std::size_t done, std::size_t total, std::string_view label) {
    auto& s = state();
    const std::lock_guard lock(s.mutex);
    if (!s.progress || total == 0) return;
    s.bar_done = done;
    s.bar_total = total;
    s.bar_label = label;
    draw_progress_locked(s);
}

void progress_note(std::string_view note) {
    auto& s = state();
    const std::lock_guard lock(s.mutex);
    if (!s.progress || note == s.bar_note) return;
    s.bar_note = note;
    if (s.bar_total > 0) draw_progress_locked(s);
}

void progress_done() {
    auto& s = state();
    const std::lock_guard lock(s.mutex);
    clear_progress_locked(s);
    s.bar_total = 0;
    s.bar_note.clear();
}

void write_summary(LogLevel level, std::string_view text, std::string_view json_object) {
    auto& s = state();
    const std::lock_guard lock(s.mutex);
    clear_progress_locked(s);
    s.bar_total = 0;
    std::string line;
    if (s.format == LogFormat::json) {
        line = std::move(start_json_line(s, level, "summary").end_object()).release();
        // Splice the members of `json_object` ("{...}") in before the closing brace.
        const auto open = json_object.find('{');
        const auto close = json_object.rfind('}');
        if (open != std::string_view::npos && close != std::string_view::npos && close > open + 1) {
            const auto members = json_object.substr(open + 1, close - open - 1);
            if (members.find_first_not_of(" \t\r\n") != std::string_view::npos) {
                line.pop_back();
                line += ',';
                line += members;
                line += '}';
            }
        }
        line += '\n';
    } else {
        line = std::string(text);
    }
    const std::string clean = s.format == LogFormat::json ? line : scrub(line);
    std::fwrite(clean.data(), 1, clean.size(), stderr);
    std::fflush(stderr);
}

} // namespace etl::util
