#!/usr/bin/env bash
# Sets up and runs the whole test suite: installs the Debian packages, builds with warnings as errors,
# then runs unit, integration and end-to-end tests under ctest inside a throwaway PostgreSQL cluster
# (pg_virtualenv -t: a temporary cluster directory, so concurrent runs never collide; it exports
# PGHOST/PGPORT/PGUSER/PGPASSWORD/PGDATABASE). The fake provider server (and Redis, where a test
# needs it) are started on loopback by the tests themselves.
# Only the service-free unit tests: ctest --test-dir build -L unit
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
scripts/build.sh
build_dir=${ETL_BUILD_DIR:-build}
# Two jobs: the CI machine has two cores.
exec pg_virtualenv -t -- ctest --test-dir "$build_dir" --output-on-failure -j2 "$@"
