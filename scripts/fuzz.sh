#!/usr/bin/env bash
# Fuzzes every parser that reads provider bytes, the config file reader, and the value conversions of
# etl-migrate-sqlite. Builds the libFuzzer targets in fuzz/ with clang, ASan and
# UBSan into ${ETL_FUZZ_BUILD_DIR:-build-fuzz}, then runs each for ETL_FUZZ_SECONDS (default 30) seconds,
# ETL_FUZZ_JOBS (default: the cores) at a time,
# starting from the seed corpus in tests/fuzz/ (real-shaped provider bodies, and regressions/: inputs
# that once crashed). ETL_FUZZ_TARGETS picks targets (default: all). Exits 1 when a target crashes,
# leaks, times out or breaks a check; the input is kept in ${ETL_FUZZ_OUT:-<build dir>/fuzz-out} (crash-*,
# leak-*, timeout-*): fix the bug, then add the input to tests/fuzz/regressions/, which the unit tests replay.
# New interesting inputs go to the out dir too, never into tests/.
set -euo pipefail
cd "$(dirname "$0")/.."
build_dir=${ETL_FUZZ_BUILD_DIR:-build-fuzz}
seconds=${ETL_FUZZ_SECONDS:-30}
out=${ETL_FUZZ_OUT:-$build_dir/fuzz-out}
all_targets="polygon_aggs polygon_grouped coingecko_daily coingecko_prices coingecko_simple_price yahoo_chart yahoo_quote provider_error_message config_toml migrate_values derive_closes pg_numeric"
targets=${ETL_FUZZ_TARGETS:-$all_targets}

# shellcheck disable=SC2086
cmake -S . -B "$build_dir" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_CXX_COMPILER=clang++ \
      -DETL_BUILD_FUZZ=ON -DETL_BUILD_TESTS=OFF -DETL_WERROR=ON ${ETL_CMAKE_ARGS:-} >/dev/null
cmake --build "$build_dir" --target etl-fuzz

seeds() {  # the corpus directories of a target: its provider's bodies, odd bodies, past crashes
    case $1 in
    polygon_*) echo tests/fuzz/polygon ;;
    coingecko_*) echo tests/fuzz/coingecko ;;
    yahoo_*) echo tests/fuzz/yahoo ;;
    config_*) echo tests/fuzz/config; return ;;
    migrate_*) echo tests/fuzz/migrate ;;
    derive_*) echo tests/fuzz/derive ;;
    pg_*) echo tests/fuzz/pg ;;
    *) echo tests/fuzz/polygon tests/fuzz/coingecko tests/fuzz/yahoo ;;
    esac
    echo tests/fuzz/other tests/fuzz/regressions
}

# One target's run; its summary (or failure) printed when it ends. Returns its libFuzzer status.
fuzz_one() {
    local target=$1 binary=$build_dir/fuzz/fuzz_$1 log=$out/$1/fuzz.log
    # shellcheck disable=SC2046
    if "$binary" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -dict=fuzz/json.dict \
        -artifact_prefix="$out/$target/" -print_final_stats=1 \
        "$out/$target/corpus" $(seeds "$target") >"$log" 2>&1; then
        echo "$target: $(grep -E '^stat::number_of_executed_units|^Done' "$log" | tr '\n' ' ' || true)"
    else
        # One write, so that two targets failing at once do not interleave their lines.
        local report
        report=$(echo "fuzz.sh: $target failed; log: $log"
                 grep -E -A25 '^==[0-9]+==ERROR|runtime error|fuzz check failed|^artifact_prefix|Test unit written' \
                     "$log" | head -60 || tail -40 "$log")
        printf '%s\n' "$report" >&2
        return 1
    fi
}

# ETL_FUZZ_JOBS targets at once (default: the machine's cores), each on one core for its own time.
jobs=${ETL_FUZZ_JOBS:-$(nproc)}
[[ $jobs =~ ^[1-9][0-9]*$ ]] || { echo "fuzz.sh: ETL_FUZZ_JOBS='$jobs': use a number of targets at once, 1 or more" >&2; exit 64; }
for target in $targets; do
    [[ -x $build_dir/fuzz/fuzz_$target ]] || { echo "fuzz.sh: unknown target '$target' (targets: $all_targets)" >&2; exit 64; }
    mkdir -p "$out/$target/corpus"
done
echo "fuzzing ${targets// /, } for ${seconds} s each, $jobs at a time"
failed=()
declare -A running=() # pid -> target
wait_one() {
    local pid status=0
    wait -n -p pid "${!running[@]}" || status=$?
    ((status == 0)) || failed+=("${running[$pid]}")
    unset "running[$pid]"
}
for target in $targets; do
    while ((${#running[@]} >= jobs)); do wait_one; done
    fuzz_one "$target" &
    running[$!]=$target
done
while ((${#running[@]})); do wait_one; done
if ((${#failed[@]})); then
    echo "fuzz.sh: ${#failed[@]} target(s) failed: ${failed[*]}; inputs in $out/<target>/" >&2
    exit 1
fi
echo "fuzz.sh: no crash in ${seconds} s per target ($targets)"
