#include "etl/metrics/exposition.hpp"

#include "etl/util/strings.hpp"

#include <fmt/format.h>

#include <charconv>
#include <cmath>

namespace etl::metrics {
namespace {

std::string escape_help(std::string_view help) {
    std::string out;
    out.reserve(help.size());
    for (const char c : help) {
        if (c == '\\') out += "\\\\";
        else if (c == '\n') out += "\\n";
        else out += c;
    }
    return out;
}

std::string_view type_name(MetricType type) { return type == MetricType::counter ? "counter" : "gauge"; }

} // namespace

std::string escape_label_value(std::string_view value) {
    std::string out;
    out.reserve(value.size());
    for (const char c : value) {
        if (c == '\\') out += "\\\\";
        else if (c == '"') out += "\\\"";
        else if (c == '\n') out += "\\n";
        else out += c;
    }
    return out;
}

std::string format_value(double value) {
    if (std::isnan(value)) return "NaN";
    if (std::isinf(value)) return value > 0 ? "+Inf" : "-Inf";
    // 2^53: every whole number below it is exactly a double, and reads as an integer.
    constexpr double k_exact = 9007199254740992.0;
    if (value == std::trunc(value) && std::fabs(value) < k_exact)
        return fmt::format("{}", static_cast<long long>(value));
    return fmt::format("{}", value);
}

std::string format_exposition(const std::vector<Family>& families) {
    std::string out;
    for (const auto& f : families) {
        if (f.samples.empty()) continue;
        out += fmt::format("# HELP {} {}\n# TYPE {} {}\n", f.name, escape_help(f.help), f.name, type_name(f.type));
        for (const auto& s : f.samples) {
            out += f.name;
            if (!s.labels.empty()) {
                out += '{';
                for (std::size_t i = 0; i < s.labels.size(); ++i) {
                    if (i > 0) out += ',';
                    out += fmt::format("{}=\"{}\"", s.labels[i].first, escape_label_value(s.labels[i].second));
                }
                out += '}';
            }
            out += ' ';
            out += format_value(s.value);
            out += '\n';
        }
    }
    return out;
}

std::optional<double> find_value(std::string_view text, std::string_view name) {
    while (!text.empty()) {
        const auto eol = text.find('\n');
        std::string_view line = text.substr(0, eol);
        text = eol == std::string_view::npos ? std::string_view{} : text.substr(eol + 1);
        if (!line.starts_with(name) || line.size() == name.size()) continue;
        line.remove_prefix(name.size());
        if (line.front() == '{') {
            // Label values may hold '}' and escaped quotes: skip quoted text as a unit.
            bool quoted = false;
            std::size_t i = 1;
            for (; i < line.size(); ++i) {
                if (quoted && line[i] == '\\') ++i;
                else if (line[i] == '"') quoted = !quoted;
                else if (!quoted && line[i] == '}') break;
            }
            if (i >= line.size()) return std::nullopt;
            line.remove_prefix(i + 1);
        } else if (line.front() != ' ') {
            continue; // another metric whose name starts with `name`
        }
        line = util::trim(line);
        line = line.substr(0, line.find(' ')); // a timestamp may follow the value
        double value = 0;
        const auto [end, ec] = std::from_chars(line.data(), line.data() + line.size(), value);
        if (ec != std::errc{} || end != line.data() + line.size()) return std::nullopt;
        return value;
    }
    return std::nullopt;
}

} // namespace etl::metrics
