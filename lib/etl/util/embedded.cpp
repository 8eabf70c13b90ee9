#include "etl/util/embedded.hpp"

namespace etl::util {

std::optional<std::string_view> embedded_file(std::string_view group, std::string_view name) {
    for (const auto& f : embedded_files())
        if (f.group == group && f.name == name) return f.content;
    return std::nullopt;
}

} // namespace etl::util
