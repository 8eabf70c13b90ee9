// The project version, as set in CMakeLists.txt.
#pragma once

#include <string_view>

namespace etl::util {
std::string_view version() noexcept;
} // namespace etl::util
