#!/usr/bin/env bash
# Usage: tests/pg_target.sh TARGET COMMAND [ARG...]
#
# Runs one test COMMAND against the PostgreSQL server TARGET that scripts/pg-servers.sh started
# (timescaledb, timescaledb_unloaded): its ETL_TEST_<TARGET>_PG* coordinates become PGHOST, PGPORT
# and PGUSER, and ETL_TEST_PG_TARGET=TARGET tells the test which server it is talking to.
# Without those coordinates (a bare ctest outside scripts/test.sh) the test is skipped (exit 77),
# unless ETL_REQUIRE_TIMESCALEDB=1 (scripts/test.sh sets it), where that is a failure.
set -euo pipefail
target=$1
shift
upper=$(echo "$target" | tr '[:lower:]' '[:upper:]')
host_var=ETL_TEST_${upper}_PGHOST
port_var=ETL_TEST_${upper}_PGPORT
user_var=ETL_TEST_${upper}_PGUSER
if [ -z "${!host_var:-}" ] || [ -z "${!port_var:-}" ]; then
  if [ "${ETL_REQUIRE_TIMESCALEDB:-0}" = 1 ]; then
    echo "pg_target.sh: no $target server ($host_var/$port_var unset); scripts/test.sh starts it" >&2
    exit 1
  fi
  echo "pg_target.sh: skipped: no $target server (run the suite with scripts/test.sh)" >&2
  exit 77
fi
export PGHOST=${!host_var} PGPORT=${!port_var} PGUSER=${!user_var:-postgres} PGDATABASE=postgres
unset PGPASSWORD PGSERVICE
export ETL_TEST_PG_TARGET=$target
exec "$@"
