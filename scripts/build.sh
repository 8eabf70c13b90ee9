#!/usr/bin/env bash
# Configures and builds into ${ETL_BUILD_DIR:-build}. Extra CMake arguments: ETL_CMAKE_ARGS
# (e.g. ETL_CMAKE_ARGS=-DETL_SANITIZE=ON ETL_BUILD_DIR=build-asan for ASan/UBSan). Without debug information
# (-g0: a third less compile time, which CI's budget needs) unless ETL_DEBUG_INFO=1.
set -euo pipefail
cd "$(dirname "$0")/.."
build_dir=${ETL_BUILD_DIR:-build}
case ${ETL_DEBUG_INFO:-0} in
  0) debug_info=OFF ;;
  1) debug_info=ON ;;
  *) echo "build.sh: ETL_DEBUG_INFO must be 0 or 1, not '${ETL_DEBUG_INFO}'" >&2; exit 64 ;;
esac
# shellcheck disable=SC2086
cmake -S . -B "$build_dir" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DETL_WERROR=ON -DETL_DEBUG_INFO="$debug_info" \
  ${ETL_CMAKE_ARGS:-} >/dev/null
cmake --build "$build_dir" -j"$(nproc)"
