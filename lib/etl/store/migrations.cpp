#include "etl/store/migrations.hpp"

namespace etl::store {

std::vector<EmbeddedSql> migrations_for(std::string_view dialect) {
    std::vector<EmbeddedSql> out;
    for (const auto& f : embedded_sql())
        if (f.dialect == dialect) out.push_back(f);
    return out;
}

} // namespace etl::store
