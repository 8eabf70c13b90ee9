#!/usr/bin/env bash
# Enforces the committed style: clang-format (.clang-format) must change nothing in lib/ apps/ tests/
# fuzz/ bench/, and clang-tidy (.clang-tidy, findings are errors) must pass over the lib/ and apps/
# sources, two files at a time. clang-tidy reads the compile commands of a build
# (${ETL_BUILD_DIR:-build}/compile_commands.json; scripts/build.sh makes it).
# Exits 1 when either finds something. Fix formatting with: clang-format-14 -i FILE...
set -euo pipefail
cd "$(dirname "$0")/.."
build_dir=${ETL_BUILD_DIR:-build}
jobs=${ETL_LINT_JOBS:-2}
format=$(command -v clang-format-14 || command -v clang-format)
tidy=$(command -v clang-tidy-14 || command -v clang-tidy)

status=0
mapfile -t format_files < <(git ls-files 'lib/*.cpp' 'lib/*.hpp' 'apps/*.cpp' 'apps/*.hpp' 'tests/*.cpp' \
                                         'tests/*.hpp' 'fuzz/*.cpp' 'fuzz/*.hpp' 'bench/*.cpp')
if ! printf '%s\0' "${format_files[@]}" | xargs -0 -r -n 16 -P "$jobs" "$format" --dry-run -Werror --style=file; then
  echo "lint.sh: clang-format would change the files above (clang-format-14 -i FILE fixes them)" >&2
  status=1
fi

if [ ! -f "$build_dir/compile_commands.json" ]; then
  echo "lint.sh: no $build_dir/compile_commands.json; run scripts/build.sh first" >&2
  exit 1
fi
mapfile -t tidy_files < <(git ls-files 'lib/*.cpp' 'apps/*.cpp')
if ! printf '%s\0' "${tidy_files[@]}" |
     xargs -0 -r -n 1 -P "$jobs" "$tidy" -p "$build_dir" --quiet 2> >(grep -v '^[0-9]* warnings\? generated' >&2); then
  echo "lint.sh: clang-tidy findings above (.clang-tidy lists the checks)" >&2
  status=1
fi
exit $status
