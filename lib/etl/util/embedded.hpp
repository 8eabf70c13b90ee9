// Files compiled into the library by cmake/EmbedFiles.cmake: sql/ migrations (groups "postgres",
// "sqlite", "timescaledb") and shipped data from etc/ (group "etc"), so a binary never depends on
// where the source tree or an install put them.
#pragma once

#include <optional>
#include <string_view>
#include <vector>

namespace etl::util {

struct EmbeddedFile {
    std::string_view group; // sql dialect folder, or "etc"
    std::string_view name;  // file name, e.g. "0001-core.sql"
    std::string_view content;
};

// Every embedded file, grouped and sorted by name within each group.
const std::vector<EmbeddedFile>& embedded_files();

// The content of group/name, if embedded.
std::optional<std::string_view> embedded_file(std::string_view group, std::string_view name);

} // namespace etl::util
