#!/usr/bin/env bash
# Runs every benchmark of SPEC.md section 7 in sequence and prints one table of figures, references
# and ratios. Targets are reported, never asserted: the exit status is non-zero only when a bench
# could not run.
#
#   bench/run.sh                      # under pg_virtualenv unless a PG* environment is set
#   BENCH_SYMBOLS=50 bench/run.sh     # smaller load bench; see bench/README.md for every knob
#
# Environment:
#   BENCH_SKIP_BUILD=1   do not (re)build build/ first
#   BENCH_ONLY="load fetch latest refresh parse migrate validate derive"    the benches to run (default: all eight)
#   BENCH_PARSE_MB=80    body size for the parse bench
#   BENCH_BUILD_TYPE=RelWithDebInfo  build type of the parse-bench build (the project's default)
#   plus the knobs of load_bench.sh, fetch_bench.sh, latest_bench.sh, refresh_bench.sh, migrate_bench.sh,
#   validate_bench.sh and derive_bench.sh.
set -euo pipefail
# shellcheck source=bench/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

ONLY=${BENCH_ONLY:-load fetch latest refresh parse migrate validate derive}
wants() { [[ " $ONLY " == *" $1 "* ]]; }
# PostgreSQL is needed by the load, latest, migrate, validate and derive benches, and by the fetch bench only with BENCH_FETCH_STORE=pg.
if wants load || wants latest || wants migrate || wants validate || wants derive || { wants fetch && [[ ${BENCH_FETCH_STORE:-sqlite} == pg ]]; }; then ensure_pg "$0" "$@"; fi
BENCH_RESULTS=$(mktemp "${TMPDIR:-/tmp}/etl-bench-results.XXXXXX")
export BENCH_RESULTS
FAILED=()
cleanup() {
    local rc=$?
    kill_children
    rm -f "$BENCH_RESULTS"
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# Builds with a few retries: someone's in-progress edit can break the tree for a moment.
build_with_retry() {
    local what=$1
    shift
    for attempt in 1 2 3; do
        if "$@"; then return 0; fi
        if [[ $attempt -lt 3 ]]; then
            log "$what: build failed (attempt $attempt); retrying in 30 s"
            sleep 30
        fi
    done
    return 1
}

START=$(now)
LOAD0=$(loadavg)
log "market-etl benchmarks: $(nproc) core(s), $(psql -X -Atc 'SHOW server_version' -d postgres 2>/dev/null || echo 'no PostgreSQL')"

if [[ -z ${BENCH_SKIP_BUILD:-} ]]; then
    log "building build/ (cmake + ninja)"
    targets="etl-historical etl-latest etl"
    # etl-validate, for the validate bench, once the tree has it.
    if wants validate && [[ -d $REPO_DIR/apps/etl-validate ]]; then targets+=" etl-validate"; fi
    # etl-migrate-sqlite, for the migrate bench, once the tree has it.
    if wants migrate && [[ -d $REPO_DIR/apps/etl-migrate-sqlite ]]; then targets+=" etl-migrate-sqlite"; fi
    build_with_retry "build/" bash -c "cd '$REPO_DIR' && cmake -S . -B build -G Ninja >/dev/null && ninja -C build $targets >/dev/null" ||
        die "the project does not build; fix the tree or set BENCH_SKIP_BUILD=1"
fi

if wants load; then
    log "load bench"
    run_child "$BENCH_DIR/load_bench.sh" || { FAILED+=(load); record "load bench" "FAILED" "-" "-" "-" "FAILED"; }
fi

if wants fetch; then
    log "fetch bench"
    run_child "$BENCH_DIR/fetch_bench.sh" || { FAILED+=(fetch); record "fetch bench" "FAILED" "-" "-" "-" "FAILED"; }
fi

if wants latest; then
    log "latest bench"
    run_child "$BENCH_DIR/latest_bench.sh" || { FAILED+=(latest); record "latest bench" "FAILED" "-" "-" "-" "FAILED"; }
fi

if wants refresh; then
    log "refresh bench (free-plan rate limits: about 4 minutes)"
    run_child "$BENCH_DIR/refresh_bench.sh" || { FAILED+=(refresh); record "refresh bench" "FAILED" "-" "-" "-" "FAILED"; }
fi

if wants parse; then
    if [[ ! -f $BENCH_DIR/parse_bench.cpp ]]; then
        log "parse bench: bench/parse_bench.cpp does not exist yet: skipped"
        record "parse bench" "skipped (no parse_bench.cpp)" "-" "-" ">= 500 MB/s" "-"
    else
        # The benches build with the project (option ETL_BUILD_BENCH), in a directory of their own.
        build_type=${BENCH_BUILD_TYPE:-RelWithDebInfo}
        bdir=$REPO_DIR/build-bench
        configure=(cmake -S "$REPO_DIR" -B "$bdir" -G Ninja -DETL_BUILD_BENCH=ON -DETL_BUILD_TESTS=OFF "-DCMAKE_BUILD_TYPE=$build_type")
        parse_bin=$bdir/bench/etl-parse-bench
        log "parse bench: building etl-parse-bench in ${bdir#"$REPO_DIR"/} (the first build compiles etl_core: a few minutes on 2 cores)"
        if build_with_retry "etl-parse-bench" bash -c "$(printf '%q ' "${configure[@]}") >/dev/null && ninja -C '$bdir' etl-parse-bench >/dev/null"; then
            log "parse bench: running ($(basename "$parse_bin") ${BENCH_PARSE_MB:-80})"
            if out=$("$parse_bin" "${BENCH_PARSE_MB:-80}"); then
                echo
                echo "== parse bench: provider bodies, one thread (MB/s per core; the first MB/s figure of a line is the median)"
                while IFS= read -r l; do printf '  %s\n' "$l"; done <<<"$out"
                # One row per result line: the first "N MB/s" on a line is ours (the median), the one after
                # "simdjson" the reference (simdjson's own On-Demand pass over the same bytes, same run);
                # the name is the text before the size ("... 80.0 MB ..."); a line without MB/s heads a section.
                section=""
                while IFS=$'\t' read -r kind name mbs ref; do
                    if [[ $kind == section ]]; then
                        section=$name
                        continue
                    fi
                    label="parse: ${section:+$section, }$name (MB/s, ref: simdjson)"
                    if [[ $ref == - ]]; then
                        record "$label" "$mbs" "-" "-" ">= 500 MB/s" "$(verdict "$mbs" ge 500)"
                    else
                        record "$label" "$mbs" "$ref" "$(printf '%.2f' "$(calc 'a / b' a="$mbs" b="$ref")")" ">= 500 MB/s" "$(verdict "$mbs" ge 500)"
                    fi
                done < <(awk '
                    /MB\/s/ {
                        v = ""; r = "-"; name = ""
                        for (i = 2; i <= NF; i++) if ($i == "MB/s") { v = $(i - 1); break }
                        for (i = 1; i < NF; i++) if ($i == "simdjson") { r = $(i + 1); break }
                        for (i = 1; i <= NF; i++) { if ($(i + 1) == "MB" && $i ~ /^[0-9.]+$/) break; name = name (name == "" ? "" : " ") $i }
                        if (v != "") printf "row\t%s\t%s\t%s\n", name, v, r
                        next
                    }
                    NF > 0 { printf "section\t%s\t-\t-\n", $1 }' <<<"$out")
            else
                FAILED+=(parse)
                record "parse bench" "FAILED (run)" "-" "-" ">= 500 MB/s" "FAILED"
            fi
        else
            log "parse bench: etl-parse-bench does not build"
            FAILED+=(parse)
            record "parse bench" "FAILED (build)" "-" "-" ">= 500 MB/s" "FAILED"
        fi
    fi
fi

if wants migrate; then
    migrate_bin=${ETL_MIGRATE:-$REPO_DIR/build/apps/etl-migrate-sqlite}
    if [[ ! -x $migrate_bin ]]; then
        log "migrate bench: $migrate_bin does not exist (not built, or not in this tree yet): skipped"
        record "migrate bench" "skipped (no etl-migrate-sqlite)" "-" "-" ">= 3 (rows/s), <= 128 MiB" "-"
    else
        log "migrate bench"
        # BENCH_SYMBOLS is the load bench's; the migrate bench's size is BENCH_MIGRATE_SYMBOLS/_YEARS.
        run_child env -u BENCH_SYMBOLS -u BENCH_YEARS "$BENCH_DIR/migrate_bench.sh" || { FAILED+=(migrate); record "migrate bench" "FAILED" "-" "-" "-" "FAILED"; }
    fi
fi

if wants validate; then
    log "validate bench"
    run_child "$BENCH_DIR/validate_bench.sh" || { FAILED+=(validate); record "validate bench" "FAILED" "-" "-" "-" "FAILED"; }
fi

if wants derive; then
    log "derive bench"
    run_child "$BENCH_DIR/derive_bench.sh" || { FAILED+=(derive); record "derive bench" "FAILED" "-" "-" "-" "FAILED"; }
fi

END=$(now)
echo
echo "================ market-etl benchmarks ($(nproc) cores, $(elapsed "$START" "$END") s, load average $LOAD0 -> $(loadavg)) ================"
{
    printf 'figure\tours\treference\tratio\ttarget\tstatus\n'
    cat "$BENCH_RESULTS"
} | column -t -s $'\t'
if awk -v l="$(loadavg)" -v n="$(nproc)" 'BEGIN { exit !(l > n) }'; then
    log "warning: the load average exceeds the core count: other work shared the machine; the ratios (same run) are more trustworthy than the absolute figures"
fi
if ((${#FAILED[@]})); then
    log "benches that could not run: ${FAILED[*]}"
    exit 1
fi
