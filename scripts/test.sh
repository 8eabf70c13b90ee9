#!/usr/bin/env bash
# Sets up and runs the whole test suite: installs the Debian packages, builds with warnings as errors,
# then runs unit, integration and end-to-end tests under ctest inside a throwaway PostgreSQL cluster
# (pg_virtualenv exports PGHOST/PGPORT/PGUSER/PGPASSWORD/PGDATABASE). Redis servers and the fake
# provider server are started on loopback by the tests that need them.
# Only the service-free unit tests: ctest --test-dir build -L unit
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
scripts/build.sh
build_dir=${ETL_BUILD_DIR:-build}
# Two jobs: the CI machine has two cores.
exec pg_virtualenv -- ctest --test-dir "$build_dir" --output-on-failure -j2 "$@"
