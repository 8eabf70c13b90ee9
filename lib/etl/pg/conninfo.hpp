// Checking a PostgreSQL connection string without connecting, so a malformed database_url is a
// configuration error (78) before any work, not a connection failure that schedulers retry (75).
#pragma once

#include <string_view>

namespace etl::pg {

// Parses `url` (postgresql://..., postgres://... or a libpq key=value string) as libpq would
// (PQconninfoParse) and checks the values libpq would only reject when connecting: every port is a
// number from 1 to 65535, sslmode is one libpq knows. Throws ConfigError naming the problem, with the
// password redacted. Opens no connection.
void check_conninfo(std::string_view url);

} // namespace etl::pg
