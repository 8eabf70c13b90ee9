#!/usr/bin/env bash
# Sets up and runs the whole test suite: installs the Debian packages, builds with warnings as errors,
# then runs unit, integration and end-to-end tests under ctest inside a throwaway PostgreSQL cluster
# (pg_virtualenv -t: a temporary cluster directory, so concurrent runs never collide; it exports
# PGHOST/PGPORT/PGUSER/PGPASSWORD/PGDATABASE): the plain-PostgreSQL server. TimescaleDB is built from
# ../shared/vendor/ into a cache outside the repository (scripts/timescaledb.sh; about 2 minutes cold,
# seconds warm), and scripts/pg-servers.sh starts two more throwaway servers from it (preloaded, and
# installed-but-not-preloaded) for the tests that run on all three. The fake provider server (and
# Redis, where a test needs it) are started on loopback by the tests themselves.
# Only the service-free unit tests: ctest --test-dir build -L unit
set -euo pipefail
cd "$(dirname "$0")/.."
# Each phase's wall time on stderr, so that a slow CI run says where its minutes went.
phase_started=$SECONDS
phase_done() {
  echo "test.sh: $1 took $((SECONDS - phase_started)) s (total $SECONDS s)" >&2
  phase_started=$SECONDS
}
scripts/install-deps.sh
phase_done "installing packages"
scripts/build.sh
phase_done "the build"
build_dir=${ETL_BUILD_DIR:-build}
# The committed style, enforced: clang-format changes nothing, clang-tidy finds nothing (scripts/lint.sh,
# over the build's compile_commands.json). ETL_LINT=0 skips it (a quick local run).
if [ "${ETL_LINT:-1}" != 0 ]; then
  ETL_BUILD_DIR=$build_dir scripts/lint.sh
  phase_done "lint"
fi
# A bounded libFuzzer run over every parser that reads provider or config bytes, from the corpus in
# tests/fuzz/ (scripts/fuzz.sh; longer runs by hand: ETL_FUZZ_SECONDS=300 scripts/fuzz.sh).
ETL_FUZZ_SECONDS=${ETL_FUZZ_SECONDS:-10} scripts/fuzz.sh
phase_done "fuzzing"
tsdb_bin=$(scripts/timescaledb.sh)
phase_done "TimescaleDB (built, or found in its cache)"
# The TimescaleDB tests fail, rather than skip, when their servers are missing.
export ETL_REQUIRE_TIMESCALEDB=1
# Two jobs: the CI machine has two cores. (This last phase's time is ctest's own "Total Test time".)
exec pg_virtualenv -t -- scripts/pg-servers.sh "$tsdb_bin" \
  ctest --test-dir "$build_dir" --output-on-failure -j2 "$@"
