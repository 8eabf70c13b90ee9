// Prometheus text exposition format (version 0.0.4), pure: metric families to text, and reading one
// sample's value back from such text (to carry a value over from the previous run's file).
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace etl::metrics {

enum class MetricType { gauge, counter };

struct Sample {
    std::vector<std::pair<std::string, std::string>> labels; // name, value (any text: escaped on output)
    double value = 0;
};

struct Family {
    std::string name; // [a-zA-Z_:][a-zA-Z0-9_:]*, not checked
    std::string help; // one line (a newline is escaped)
    MetricType type = MetricType::gauge;
    std::vector<Sample> samples;
};

// `families` in order, each as "# HELP", "# TYPE" and its samples, one per line ending in '\n'. A family
// without samples is left out (a HELP/TYPE pair with nothing under it says nothing).
std::string format_exposition(const std::vector<Family>& families);

// A label value as the format writes it inside its quotes: '\' as "\\", '"' as "\"", newline as "\n".
std::string escape_label_value(std::string_view value);

// A sample value: a whole number below 2^53 without a decimal point ("1764590400"), another as the
// shortest text that reads back the same ("0.25"), NaN as "NaN", infinities as "+Inf"/"-Inf".
std::string format_value(double value);

// The value of the first sample of metric `name` in exposition `text` (whatever its labels), or nullopt
// when there is none or its value does not read as a number.
std::optional<double> find_value(std::string_view text, std::string_view name);

} // namespace etl::metrics
