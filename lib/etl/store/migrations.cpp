#include "etl/store/migrations.hpp"

namespace etl::store {

std::vector<util::EmbeddedFile> migrations_for(std::string_view dialect) {
    std::vector<util::EmbeddedFile> out;
    for (const auto& f : util::embedded_files())
        if (f.group == dialect) out.push_back(f);
    return out;
}

} // namespace etl::store
