// The sql/ migrations compiled into the library (see util/embedded.hpp), in file order.
#pragma once

#include "etl/util/embedded.hpp"

#include <string_view>
#include <vector>

namespace etl::store {

// The migrations of one dialect ("postgres", "sqlite", "timescaledb"), in order; each file's name is
// its version in schema_migrations.
std::vector<util::EmbeddedFile> migrations_for(std::string_view dialect);

} // namespace etl::store
