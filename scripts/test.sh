#!/usr/bin/env bash
# Sets up and runs the whole test suite: installs the Debian packages, builds with warnings as errors,
# lints (clang-format, clang-tidy), then runs unit, integration and end-to-end tests under ctest inside a throwaway PostgreSQL cluster
# (pg_virtualenv -t: a temporary cluster directory, so concurrent runs never collide; it exports
# PGHOST/PGPORT/PGUSER/PGPASSWORD/PGDATABASE): the plain-PostgreSQL server. TimescaleDB is built from
# ../shared/vendor/ into a cache outside the repository (scripts/timescaledb.sh; about a minute cold, seconds
# warm), and scripts/pg-servers.sh starts two more throwaway servers from it (preloaded, and
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
# over the build's compile_commands.json). ETL_LINT=0 skips it (a quick local run). It runs beside the
# TimescaleDB build and the tests at the lowest priority (nice 19): clang-tidy is about 800 CPU-seconds,
# and the tests leave about 40 % of two cores idle (they wait on servers and processes). Its findings are
# printed after the tests, and fail the run as before.
lint_pid=
lint_log=$(mktemp)
# In a session of its own, so that a run cut short stops all of it (xargs and every clang-tidy). A new
# session is also a scheduling group of its own where the kernel groups by session (autogroup:
# /proc/sys/kernel/sched_autogroup_enabled, on in Debian's kernels), and a group gets as much CPU as the
# tests' group whatever the nice of its processes: measured, two busy loops at nice 19 in a session of
# their own got 4 times the CPU of two at nice 0 beside them. So the group itself is given the lowest
# priority too (/proc/self/autogroup): in a fresh clone on 2 cores the tests then took 277 s instead of
# 323 s, and the cold TimescaleDB build beside the lint 53 s instead of about 3 minutes. A kernel that
# refuses the write is said in the lint's output, which is printed with its result.
trap 'rm -f "$lint_log"; [ -z "$lint_pid" ] || kill -- "-$lint_pid" 2>/dev/null || true' EXIT
if [ "${ETL_LINT:-1}" != 0 ]; then
  ETL_BUILD_DIR=$build_dir setsid -w bash -c \
    '{ echo 19 >/proc/self/autogroup; } 2>/dev/null ||
       echo "lint: its scheduling group keeps the default priority (/proc/self/autogroup refused 19: no autogroup in this kernel, or not allowed)"
     exec nice -n 19 scripts/lint.sh' >"$lint_log" 2>&1 &
  lint_pid=$!
fi
# Fuzzing is by hand (scripts/fuzz.sh, ETL_FUZZ_SECONDS per target; see the README), or here when
# ETL_FUZZ_SECONDS is set: its build and run took about 3 of CI's 20 minutes for seconds per target, and
# the unit tests replay the whole corpus (tests/fuzz/, every input a fuzzer once crashed on) anyway.
if [ -n "${ETL_FUZZ_SECONDS:-}" ] && [ "$ETL_FUZZ_SECONDS" != 0 ]; then
  scripts/fuzz.sh
  phase_done "fuzzing"
fi
tsdb_bin=$(scripts/timescaledb.sh)
phase_done "TimescaleDB (built, or found in its cache)"
# The TimescaleDB tests fail, rather than skip, when their servers are missing.
export ETL_REQUIRE_TIMESCALEDB=1
# Two jobs: the CI machine has two cores.
tests_rc=0
pg_virtualenv -t -- scripts/pg-servers.sh "$tsdb_bin" \
  ctest --test-dir "$build_dir" --output-on-failure -j2 "$@" || tests_rc=$?
phase_done "the tests"
lint_rc=0
if [ -n "$lint_pid" ]; then
  wait "$lint_pid" || lint_rc=$?
  lint_pid=
  cat "$lint_log" >&2
  phase_done "the rest of lint (after the tests)"
  [ "$lint_rc" = 0 ] || echo "test.sh: lint failed (above)" >&2
fi
[ "$tests_rc" = 0 ] || exit "$tests_rc"
exit "$lint_rc"
