#!/usr/bin/env bash
# Configures and builds into ${ETL_BUILD_DIR:-build}. Extra CMake arguments: ETL_CMAKE_ARGS
# (e.g. ETL_CMAKE_ARGS=-DETL_SANITIZE=ON ETL_BUILD_DIR=build-asan for ASan/UBSan).
set -euo pipefail
cd "$(dirname "$0")/.."
build_dir=${ETL_BUILD_DIR:-build}
# shellcheck disable=SC2086
cmake -S . -B "$build_dir" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DETL_WERROR=ON ${ETL_CMAKE_ARGS:-} >/dev/null
cmake --build "$build_dir" -j"$(nproc)"
