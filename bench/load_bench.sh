#!/usr/bin/env bash
# Load throughput into price_bars (SPEC.md section 7, "load"), each figure next to its reference,
# measured in the same run on the same server:
#   a. ours, fresh: `etl-historical MAX <N symbols> --mock` into an empty database, one process and
#      two concurrent shard processes (--shard 0/2 + 1/2). Wall time of the whole process(es).
#   b. reference: `psql \copy price_bars(...) FROM file` of exactly those rows into the same, empty
#      table (same indexes).                                         target: ours >= 0.8x \copy
#   c. ours, unchanged re-run: the same command again on the loaded table.  target: faster than (a)
#   d. reference: one `INSERT ... ON CONFLICT DO UPDATE` per row (autocommit, one psql session) for
#      a sample of the rows, into the empty table.                   target: ours >= 50x per-row
#
# Environment (all optional):
#   BENCH_SYMBOLS=100        symbols loaded (MAX daily history: ~6,770 rows each)
#   BENCH_RANGE=MAX          chart range passed to etl-historical
#   BENCH_REPEAT=3           repetitions of a-c; the median is reported
#   BENCH_PERROW_ROWS=5000   rows in the per-row sample (d); with fsync=on each costs a WAL flush
#   BENCH_DB=etl_bench_load  database name (dropped and re-created; dropped at the end)
#   BENCH_KEEP_DB=1          keep the database at the end
#   BENCH_FSYNC=on           fsync of the throwaway pg_virtualenv cluster (pg_virtualenv's own default
#                            is off; a real server has it on). A server you point PG* at is not touched.
#   ETL_HISTORICAL=path      the binary (default build/apps/etl-historical)
# Without a PG* environment the script re-runs itself under pg_virtualenv.
set -euo pipefail
# shellcheck source=bench/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
ensure_pg "$0" "$@"

N=${BENCH_SYMBOLS:-100}
RANGE=${BENCH_RANGE:-MAX}
REPEAT=${BENCH_REPEAT:-3}
PERROW_ROWS=${BENCH_PERROW_ROWS:-5000}
DB=${BENCH_DB:-etl_bench_load}
COLS="symbol, timeframe, ts, open, high, low, close, volume, vwap, trade_count, source"

[[ -x $ETL_HISTORICAL ]] || die "$ETL_HISTORICAL is missing: build first (cmake -S . -B build -G Ninja && ninja -C build)"
command -v psql >/dev/null || die "psql is missing"

TMP=$(mktemp -d "${TMPDIR:-/tmp}/etl-load-bench.XXXXXX")
cleanup() {
    local rc=$?
    kill_children
    if [[ -z "${BENCH_KEEP_DB:-}" ]]; then dropdb --if-exists "$DB" >/dev/null 2>&1 || true; fi
    rm -rf "$TMP"
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
isolated_config "$TMP"
cd "$TMP"  # no ./etl.toml, no stray files in the caller's directory

SYMBOLS=()
for ((i = 1; i <= N; i++)); do SYMBOLS+=("$(printf 'LB%04d' "$i")"); done

PSQL=(psql -X -q -v ON_ERROR_STOP=1 -d "$DB")
q() { "${PSQL[@]}" "$@"; }
reset_db() {
    dropdb --if-exists "$DB" >/dev/null 2>&1
    createdb "$DB"
}
# Flush the previous step's dirty buffers so it does not bill the next one (needs superuser; skipped otherwise).
checkpoint() { q -c 'CHECKPOINT' >/dev/null 2>&1 || true; }

# start_ours NAME [extra args]: starts one etl-historical run in the background; its report goes to
# $TMP/NAME.json, its stderr to $TMP/NAME.log.
start_ours() {
    local name=$1
    shift
    start_child "$ETL_HISTORICAL" "$RANGE" "${SYMBOLS[@]}" --mock --database-url "postgresql:///$DB" \
        --log-level warn --no-progress --report "$TMP/$name.json" "$@" 2>"$TMP/$name.log"
}
# wait_ours NAME...: waits for the started runs; on failure shows their logs.
wait_ours() {
    if ! wait_children; then
        for name in "$@"; do cat "$TMP/$name.log" >&2; done
        die "etl-historical ($*) failed"
    fi
}
ours() {
    start_ours "$@"
    wait_ours "$1"
}

tune_own_cluster
log "load bench: $N symbols, range $RANGE, $REPEAT repetition(s), server $(psql -X -Atc 'SHOW server_version' -d postgres)"
settings=$(psql -X -At -d postgres -c "SELECT string_agg(name || '=' || setting || coalesce(unit, ''), ' ' ORDER BY name) FROM pg_settings WHERE name IN ('fsync','synchronous_commit','shared_buffers','max_wal_size','wal_level','full_page_writes')")
log "server settings: $settings"

LOAD0=$(loadavg)
T_SINGLE=() T_SHARD=() T_COPY=() T_RERUN=()
ROWS=""
for ((rep = 1; rep <= REPEAT; rep++)); do
    # a. fresh load, one process
    reset_db
    checkpoint
    t0=$(now)
    ours "single$rep"
    t1=$(now)
    T_SINGLE+=("$(elapsed "$t0" "$t1")")
    inserted=$(json_get "$TMP/single$rep.json" .rows.inserted)
    [[ -z $ROWS ]] && ROWS=$inserted
    [[ $inserted == "$ROWS" ]] || die "fresh load inserted $inserted rows, expected $ROWS"

    # c. unchanged re-run on the loaded table
    checkpoint
    t0=$(now)
    ours "rerun$rep"
    t1=$(now)
    T_RERUN+=("$(elapsed "$t0" "$t1")")
    unchanged=$(json_get "$TMP/rerun$rep.json" .rows.unchanged)
    [[ $unchanged == "$ROWS" ]] || die "re-run reported $unchanged unchanged rows, expected $ROWS"

    # b. reference: \copy of exactly those rows into the emptied table
    if [[ $rep == 1 ]]; then
        q -c "\\copy (SELECT $COLS FROM price_bars) TO '$TMP/bars.tsv'"
        exported=$(wc -l <"$TMP/bars.tsv")
        [[ $exported == "$ROWS" ]] || die "exported $exported rows, the load reported $ROWS"
        log "exported $exported rows ($(du -m "$TMP/bars.tsv" | cut -f1) MB of COPY text)"
    fi
    q -c 'TRUNCATE price_bars'
    checkpoint
    t0=$(now)
    run_child "${PSQL[@]}" -c "\\copy price_bars ($COLS) FROM '$TMP/bars.tsv'"
    t1=$(now)
    T_COPY+=("$(elapsed "$t0" "$t1")")
    copied=$(q -At -c 'SELECT count(*) FROM price_bars')
    [[ $copied == "$ROWS" ]] || die "\\copy loaded $copied rows, expected $ROWS"

    # a'. fresh load, two concurrent shard processes on disjoint symbols
    reset_db
    checkpoint
    t0=$(now)
    start_ours "shard0_$rep" --shard 0/2
    start_ours "shard1_$rep" --shard 1/2
    wait_ours "shard0_$rep" "shard1_$rep"
    t1=$(now)
    T_SHARD+=("$(elapsed "$t0" "$t1")")
    s0=$(json_get "$TMP/shard0_$rep.json" .rows.inserted)
    s1=$(json_get "$TMP/shard1_$rep.json" .rows.inserted)
    [[ $((s0 + s1)) == "$ROWS" ]] || die "shards inserted $s0 + $s1 rows, expected $ROWS"

    log "rep $rep: fresh ${T_SINGLE[-1]} s, 2 shards ${T_SHARD[-1]} s ($s0 + $s1 rows), \\copy ${T_COPY[-1]} s, re-run ${T_RERUN[-1]} s"
done

# d. reference: per-row upserts, autocommit, one session, into the empty table
SAMPLE=$((PERROW_ROWS < ROWS ? PERROW_ROWS : ROWS))
head -n "$SAMPLE" "$TMP/bars.tsv" | awk -F'\t' -v cols="$COLS" '
    function lit(v) {
        if (v == "\\N") return "NULL"
        if (index(v, "\\")) { print "unexpected COPY escape in: " v > "/dev/stderr"; exit 1 }
        gsub(/\047/, "\047\047", v)
        return "\047" v "\047"
    }
    {
        vals = lit($1)
        for (i = 2; i <= NF; i++) vals = vals ", " lit($i)
        printf "INSERT INTO price_bars (%s) VALUES (%s) ON CONFLICT (symbol, timeframe, ts) DO UPDATE SET " \
               "open = EXCLUDED.open, high = EXCLUDED.high, low = EXCLUDED.low, close = EXCLUDED.close, " \
               "volume = EXCLUDED.volume, vwap = EXCLUDED.vwap, trade_count = EXCLUDED.trade_count, " \
               "source = EXCLUDED.source, ingested_at = now();\n", cols, vals
    }' >"$TMP/perrow.sql"
q -c 'TRUNCATE price_bars'
checkpoint
t0=$(now)
run_child "${PSQL[@]}" -f "$TMP/perrow.sql" >/dev/null
t1=$(now)
T_PERROW=$(elapsed "$t0" "$t1")
perrow_rows=$(q -At -c 'SELECT count(*) FROM price_bars')
[[ $perrow_rows == "$SAMPLE" ]] || die "per-row run left $perrow_rows rows, expected $SAMPLE"

t_single=$(median "${T_SINGLE[@]}")
t_shard=$(median "${T_SHARD[@]}")
t_copy=$(median "${T_COPY[@]}")
t_rerun=$(median "${T_RERUN[@]}")
r_single=$(calc 'r / t' r="$ROWS" t="$t_single")
r_shard=$(calc 'r / t' r="$ROWS" t="$t_shard")
r_copy=$(calc 'r / t' r="$ROWS" t="$t_copy")
r_rerun=$(calc 'r / t' r="$ROWS" t="$t_rerun")
r_perrow=$(calc 'r / t' r="$SAMPLE" t="$T_PERROW")

x_single_copy=$(calc 'a / b' a="$r_single" b="$r_copy")
x_shard_copy=$(calc 'a / b' a="$r_shard" b="$r_copy")
x_rerun=$(calc 'a / b' a="$t_rerun" b="$t_single")
x_single_perrow=$(calc 'a / b' a="$r_single" b="$r_perrow")
x_shard_perrow=$(calc 'a / b' a="$r_shard" b="$r_perrow")

row() { printf '  %-44s %9.3f s  %12s rows/s\n' "$1" "$2" "$(fmt_int "$3")"; }
echo
echo "== load bench: $N symbols x $RANGE daily = $(fmt_int "$ROWS") rows; median of $REPEAT; load average $LOAD0 -> $(loadavg)"
echo "   server: $settings"
row "ours: fresh load, 1 process" "$t_single" "$r_single"
row "ours: fresh load, 2 shard processes" "$t_shard" "$r_shard"
row "reference: psql \\copy into the empty table" "$t_copy" "$r_copy"
row "ours: unchanged re-run (rows checked)" "$t_rerun" "$r_rerun"
row "reference: per-row upsert ($(fmt_int "$SAMPLE") rows)" "$T_PERROW" "$r_perrow"
echo "  runs (s): fresh ${T_SINGLE[*]} | 2 shards ${T_SHARD[*]} | \\copy ${T_COPY[*]} | re-run ${T_RERUN[*]}"
v1=$(verdict "$x_single_copy" ge 0.8)
v2=$(verdict "$x_shard_copy" ge 0.8)
v3=$(verdict "$x_rerun" lt 1.0)
v4=$(verdict "$x_single_perrow" ge 50)
v5=$(verdict "$x_shard_perrow" ge 50)
printf '  %-44s %8.2fx  (target >= 0.8)  %s\n' "fresh 1 process / \\copy (rows/s)" "$x_single_copy" "$v1"
printf '  %-44s %8.2fx  (target >= 0.8)  %s\n' "fresh 2 shards / \\copy (rows/s)" "$x_shard_copy" "$v2"
printf '  %-44s %8.2fx  (target < 1.0)   %s\n' "unchanged re-run / fresh load (wall time)" "$x_rerun" "$v3"
printf '  %-44s %8.1fx  (target >= 50)   %s\n' "fresh 1 process / per-row upsert (rows/s)" "$x_single_perrow" "$v4"
printf '  %-44s %8.1fx  (target >= 50)   %s\n' "fresh 2 shards / per-row upsert (rows/s)" "$x_shard_perrow" "$v5"

record "load: fresh 1 proc vs \\copy (rows/s)" "$(fmt_int "$r_single")" "$(fmt_int "$r_copy")" "$(printf '%.2f' "$x_single_copy")" ">= 0.8" "$v1"
record "load: fresh 2 shards vs \\copy (rows/s)" "$(fmt_int "$r_shard")" "$(fmt_int "$r_copy")" "$(printf '%.2f' "$x_shard_copy")" ">= 0.8" "$v2"
record "load: unchanged re-run vs fresh (s)" "$(printf '%.2f' "$t_rerun")" "$(printf '%.2f' "$t_single")" "$(printf '%.2f' "$x_rerun")" "< 1.0" "$v3"
record "load: fresh 1 proc vs per-row upsert (rows/s)" "$(fmt_int "$r_single")" "$(fmt_int "$r_perrow")" "$(printf '%.1f' "$x_single_perrow")" ">= 50" "$v4"
record "load: fresh 2 shards vs per-row upsert (rows/s)" "$(fmt_int "$r_shard")" "$(fmt_int "$r_perrow")" "$(printf '%.1f' "$x_shard_perrow")" ">= 50" "$v5"
