#!/usr/bin/env bash
# Migration throughput and memory (SPEC.md section 7, "migration"; issue 8 point 11), ours next to
# pgloader, measured in the same run on the same SQLite file and the same server:
#   a. ours: `etl-migrate-sqlite FILE --database-url postgresql:///DB_OURS` into a fresh, empty
#      database (it applies the schema itself). Wall time of the whole process, peak RSS.
#   b. reference: `pgloader sqlite:///FILE postgresql:///DB_PGLOADER` into another fresh database,
#      run plainly with its defaults as users do (it creates its own tables). Wall time, peak RSS.
#   rows/s = price_history rows of the file / wall time.   targets: ours >= 3x pgloader's rows/s,
#                                                                   ours peak RSS <= 128 MiB
#   c. floor (informational, first repetition): the server's own cost of taking exactly the rows ours
#      loaded the way ours loads them into an empty table (its bulk load, lib/etl/migrate/bulk.hpp): the
#      emptied price_bars' primary key dropped, `psql \copy price_bars (...) FROM file`, the key built
#      again (ALTER TABLE ... ADD PRIMARY KEY), timed together; the \copy and the build are also shown
#      apart. No migrator loading that way can beat it. It tells a MISS on the ratio from a slow
#      migrator.
# The input is a Stockula-current file from tests/fixtures/make_stockula.py (default 1000 symbols x 20
# years: 5,217,000 price rows, ~0.9 GiB), generated once into a cache and reused. Each run is checked:
# ours must leave exactly the valid rows in price_bars (the manifest's expected_valid, and the
# report's tables.price_history.inserted), pgloader exactly the file's rows in price_history, so a
# fast wrong run cannot pass. Peak RSS is GNU time's "Maximum resident set size".
#
# Environment (all optional):
#   BENCH_SYMBOLS=1000 BENCH_YEARS=20   size of the generated file (shrink for a quick run; the RSS
#                                       target is stated at 5M rows). BENCH_MIGRATE_SYMBOLS and
#                                       BENCH_MIGRATE_YEARS win over them; run.sh passes only those, since
#                                       its BENCH_SYMBOLS is the load bench's.
#   BENCH_MIGRATE_FILE=path             use this SQLite file instead (a Stockula or market-etl file; its
#                                       .manifest.json, if any, gives the expected valid rows)
#   BENCH_CACHE_DIR=dir                 where generated files are kept (default
#                                       ${XDG_CACHE_HOME:-$HOME/.cache}/market-etl-bench); the name holds the
#                                       size and a hash of the generator, so a changed generator regenerates
#   BENCH_MIGRATE_REPEAT=1              repetitions of a and b; the median is reported
#   BENCH_MIGRATE_FLOOR=1               measure c (0: skip it; it needs ~0.5 GiB of temp space at 5M rows)
#   BENCH_MIGRATE_DB=etl_bench_migrate  database name prefix (_ours, _pgloader; dropped and re-created,
#                                       dropped at the end)
#   BENCH_KEEP_DB=1                     keep the databases at the end
#   BENCH_FSYNC=on                      fsync of the throwaway pg_virtualenv cluster (see load_bench.sh)
#   ETL_MIGRATE=path                    the binary (default build/apps/etl-migrate-sqlite)
#   ETL_MIGRATE_LOADERS=2               database sessions ours loads bars over (passed through; printed)
#   PGLOADER=path                       pgloader (default: the one on PATH; Debian package pgloader)
# Without a PG* environment the script re-runs itself under pg_virtualenv.
set -euo pipefail
# shellcheck source=bench/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
ensure_pg "$0" "$@"

ETL_MIGRATE=${ETL_MIGRATE:-$REPO_DIR/build/apps/etl-migrate-sqlite}
PGLOADER=${PGLOADER:-$(command -v pgloader || true)}
SYMBOLS=${BENCH_MIGRATE_SYMBOLS:-${BENCH_SYMBOLS:-1000}}
YEARS=${BENCH_MIGRATE_YEARS:-${BENCH_YEARS:-20}}
REPEAT=${BENCH_MIGRATE_REPEAT:-1}
DB_PREFIX=${BENCH_MIGRATE_DB:-etl_bench_migrate}
DB_OURS=${DB_PREFIX}_ours
DB_PGL=${DB_PREFIX}_pgloader
CACHE_DIR=${BENCH_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/market-etl-bench}
GENERATOR=$REPO_DIR/tests/fixtures/make_stockula.py
RSS_TARGET_MIB=128
RATIO_TARGET=3

[[ -x $ETL_MIGRATE ]] || die "$ETL_MIGRATE is missing: build it (ninja -C build etl-migrate-sqlite) or set ETL_MIGRATE=path"
[[ -n $PGLOADER && -x $PGLOADER ]] || die "pgloader is missing: apt-get install -y pgloader (or set PGLOADER=path)"
[[ -x /usr/bin/time ]] || die "/usr/bin/time (GNU time) is missing: apt-get install -y time"
command -v psql >/dev/null || die "psql is missing"

TMP=$(mktemp -d "${TMPDIR:-/tmp}/etl-migrate-bench.XXXXXX")
cleanup() {
    local rc=$?
    kill_children
    if [[ -z "${BENCH_KEEP_DB:-}" ]]; then
        dropdb --if-exists "$DB_OURS" >/dev/null 2>&1 || true
        dropdb --if-exists "$DB_PGL" >/dev/null 2>&1 || true
    fi
    rm -rf "$TMP"
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
isolated_config "$TMP"
cd "$TMP" # no ./etl.toml, no stray files (pgloader writes none here either) in the caller's directory

# The input file: the caller's, or a generated one from the cache.
if [[ -n ${BENCH_MIGRATE_FILE:-} ]]; then
    FILE=$(realpath "$BENCH_MIGRATE_FILE")
    [[ -f $FILE ]] || die "BENCH_MIGRATE_FILE=$BENCH_MIGRATE_FILE does not exist"
else
    gen_hash=$(sha256sum "$GENERATOR" | cut -c1-12)
    FILE=$CACHE_DIR/stockula-current-${SYMBOLS}x${YEARS}-$gen_hash.db
    if [[ -f $FILE && -f $FILE.manifest.json ]]; then
        log "reusing $FILE"
    else
        mkdir -p "$CACHE_DIR"
        log "generating $FILE ($SYMBOLS symbols x $YEARS years; ~1 min per 5M rows)"
        run_child python3 "$GENERATOR" "$FILE" --layout current --symbols "$SYMBOLS" --years "$YEARS" >&2 ||
            die "make_stockula.py failed"
    fi
fi

# What the file holds: price_history rows (counted in the file), the valid ones (from the manifest).
ROWS=$(python3 -c 'import sqlite3, sys; print(sqlite3.connect(f"file:{sys.argv[1]}?mode=ro", uri=True).execute("SELECT count(*) FROM price_history").fetchone()[0])' "$FILE") ||
    die "$FILE: cannot count price_history"
VALID=""
if [[ -f $FILE.manifest.json ]]; then
    VALID=$(json_get "$FILE.manifest.json" .price_history.expected_valid)
    manifest_rows=$(json_get "$FILE.manifest.json" .price_history.rows)
    [[ $manifest_rows == "$ROWS" ]] || die "$FILE holds $ROWS price_history rows, its manifest says $manifest_rows"
fi
SIZE_MIB=$(($(stat -c %s "$FILE") / 1048576))

PSQL=(psql -X -q -At -v ON_ERROR_STOP=1)
reset_db() {
    dropdb --if-exists "$1" >/dev/null 2>&1
    createdb "$1"
}
checkpoint() { "${PSQL[@]}" -d postgres -c 'CHECKPOINT' >/dev/null 2>&1 || true; }
# Reads the whole file once so the first timed run does not pay for a cold page cache.
warm_file() { cat "$FILE" >/dev/null; }
# Peak RSS in KiB from a `/usr/bin/time -v -o FILE` output.
peak_rss_kib() { awk -F': ' '/Maximum resident set size/ { print $2 }' "$1"; }
# CPU seconds (user + system) of the process from the same output: how much of the wall time it computed.
cpu_seconds() { awk -F': ' '/User time|System time/ { s += $2 } END { printf "%.1f", s }' "$1"; }

tune_own_cluster
log "migrate bench: $FILE ($(fmt_int "$ROWS") price rows, $SIZE_MIB MiB), $REPEAT repetition(s), server $(psql -X -Atc 'SHOW server_version' -d postgres)"
log "ours loads bars over ${ETL_MIGRATE_LOADERS:-one session into an empty price_bars, 2 into one with rows (the default)} session(s) (ETL_MIGRATE_LOADERS)"
settings=$(psql -X -At -d postgres -c "SELECT string_agg(name || '=' || setting || coalesce(unit, ''), ' ' ORDER BY name) FROM pg_settings WHERE name IN ('fsync','synchronous_commit','shared_buffers','max_wal_size','wal_level','full_page_writes')")
log "server settings: $settings"
log "$("$PGLOADER" --version | head -n 1)"

LOAD0=$(loadavg)
T_OURS=() T_PGL=() RSS_OURS=() RSS_PGL=() CPU_OURS=() CPU_PGL=()
T_FLOOR="" T_FLOOR_COPY="" T_FLOOR_KEY=""
COLS="symbol, timeframe, ts, open, high, low, close, volume, vwap, trade_count, source"
for ((rep = 1; rep <= REPEAT; rep++)); do
    warm_file

    # a. ours
    reset_db "$DB_OURS"
    checkpoint
    t0=$(now)
    if ! run_child /usr/bin/time -v -o "$TMP/ours$rep.time" "$ETL_MIGRATE" "$FILE" --database-url "postgresql:///$DB_OURS" \
        --log-level warn --no-progress --report "$TMP/ours$rep.json" >"$TMP/ours$rep.out" 2>"$TMP/ours$rep.log"; then
        cat "$TMP/ours$rep.out" "$TMP/ours$rep.log" >&2
        die "etl-migrate-sqlite failed (see above)"
    fi
    t1=$(now)
    T_OURS+=("$(elapsed "$t0" "$t1")")
    RSS_OURS+=("$(peak_rss_kib "$TMP/ours$rep.time")")
    CPU_OURS+=("$(cpu_seconds "$TMP/ours$rep.time")")
    inserted=$(json_get "$TMP/ours$rep.json" .tables.price_history.inserted)
    bars=$("${PSQL[@]}" -d "$DB_OURS" -c 'SELECT count(*) FROM price_bars')
    [[ $bars == "$inserted" ]] || die "ours: price_bars holds $bars rows, the report says $inserted inserted"
    if [[ -n $VALID ]]; then
        [[ $bars == "$VALID" ]] || die "ours: price_bars holds $bars rows, the file has $VALID valid price rows"
    else
        rejected=$(json_get "$TMP/ours$rep.json" .tables.price_history.rejected)
        [[ $((bars + rejected)) == "$ROWS" ]] || die "ours: $bars rows loaded + $rejected rejected != $ROWS price rows"
    fi

    # c. floor: exactly the rows ours loaded into the emptied price_bars as ours loads them: key dropped,
    # \copy, key built
    if [[ $rep == 1 && ${BENCH_MIGRATE_FLOOR:-1} != 0 ]]; then
        "${PSQL[@]}" -d "$DB_OURS" -c "\\copy (SELECT $COLS FROM price_bars) TO '$TMP/bars.tsv'"
        "${PSQL[@]}" -d "$DB_OURS" -c 'TRUNCATE price_bars'
        checkpoint
        t0=$(now)
        run_child "${PSQL[@]}" -d "$DB_OURS" -c 'ALTER TABLE price_bars DROP CONSTRAINT price_bars_pkey' \
            -c "\\copy price_bars ($COLS) FROM '$TMP/bars.tsv'"
        t1=$(now)
        run_child "${PSQL[@]}" -d "$DB_OURS" -c 'ALTER TABLE price_bars ADD CONSTRAINT price_bars_pkey PRIMARY KEY (symbol, timeframe, ts)'
        t2=$(now)
        T_FLOOR=$(elapsed "$t0" "$t2")
        T_FLOOR_COPY=$(elapsed "$t0" "$t1")
        T_FLOOR_KEY=$(elapsed "$t1" "$t2")
        rm -f "$TMP/bars.tsv"
        copied=$("${PSQL[@]}" -d "$DB_OURS" -c 'SELECT count(*) FROM price_bars')
        [[ $copied == "$bars" ]] || die "floor: \\copy loaded $copied rows, ours loaded $bars"
        log "floor: the same $bars rows into price_bars, key dropped: \\copy $T_FLOOR_COPY s, then the key built $T_FLOOR_KEY s"
    fi

    # b. pgloader, plainly, with its defaults
    warm_file
    reset_db "$DB_PGL"
    checkpoint
    t0=$(now)
    if ! run_child /usr/bin/time -v -o "$TMP/pgl$rep.time" "$PGLOADER" "sqlite://$FILE" "postgresql:///$DB_PGL" \
        >"$TMP/pgl$rep.log" 2>&1; then
        tail -n 40 "$TMP/pgl$rep.log" >&2
        die "pgloader failed (see above)"
    fi
    t1=$(now)
    T_PGL+=("$(elapsed "$t0" "$t1")")
    RSS_PGL+=("$(peak_rss_kib "$TMP/pgl$rep.time")")
    CPU_PGL+=("$(cpu_seconds "$TMP/pgl$rep.time")")
    # pgloader exits 0 even when it drops rows it could not load; the count is what tells.
    copied=$("${PSQL[@]}" -d "$DB_PGL" -c 'SELECT count(*) FROM price_history')
    [[ $copied == "$ROWS" ]] || {
        tail -n 40 "$TMP/pgl$rep.log" >&2
        die "pgloader: price_history holds $copied rows, the file has $ROWS"
    }

    log "rep $rep: ours ${T_OURS[-1]} s ($bars rows, peak RSS $((RSS_OURS[-1] / 1024)) MiB), pgloader ${T_PGL[-1]} s ($copied rows, peak RSS $((RSS_PGL[-1] / 1024)) MiB)"
done

t_ours=$(median "${T_OURS[@]}")
t_pgl=$(median "${T_PGL[@]}")
# Peak RSS: the largest of the repetitions (a peak is a maximum).
rss_ours_mib=$(printf '%s\n' "${RSS_OURS[@]}" | sort -g | tail -n 1 | awk '{ printf "%.1f", $1 / 1024 }')
rss_pgl_mib=$(printf '%s\n' "${RSS_PGL[@]}" | sort -g | tail -n 1 | awk '{ printf "%.1f", $1 / 1024 }')
r_ours=$(calc 'r / t' r="$ROWS" t="$t_ours")
r_pgl=$(calc 'r / t' r="$ROWS" t="$t_pgl")
x_rate=$(calc 'a / b' a="$r_ours" b="$r_pgl")
x_rss=$(calc 'a / b' a="$rss_ours_mib" b="$rss_pgl_mib")
v_rate=$(verdict "$x_rate" ge "$RATIO_TARGET")
v_rss=$(verdict "$rss_ours_mib" le "$RSS_TARGET_MIB")
pass() { if [[ $1 == met ]]; then echo PASS; else echo MISS; fi; }

row() { printf '  %-40s %9.3f s  %12s rows/s  peak RSS %8.1f MiB\n' "$1" "$2" "$(fmt_int "$3")" "$4"; }
echo
echo "== migrate bench: $(basename "$FILE") ($(fmt_int "$ROWS") price rows, ${VALID:+$(fmt_int "$VALID") valid, }$SIZE_MIB MiB); median of $REPEAT; load average $LOAD0 -> $(loadavg)"
echo "   server: $settings"
echo "   ours: ETL_MIGRATE_LOADERS=${ETL_MIGRATE_LOADERS:-unset (default: one loading session into the empty price_bars, one reading back)}"
row "ours: etl-migrate-sqlite" "$t_ours" "$r_ours" "$rss_ours_mib"
row "reference: pgloader (defaults)" "$t_pgl" "$r_pgl" "$rss_pgl_mib"
echo "  runs (s): ours ${T_OURS[*]} | pgloader ${T_PGL[*]}"
echo "  CPU of the process itself, user + system (s; the server's work is not in it): ours ${CPU_OURS[*]} | pgloader ${CPU_PGL[*]}"
if [[ -n $T_FLOOR ]]; then
    r_floor=$(calc 'r / t' r="$bars" t="$T_FLOOR")
    printf '  %-40s %9.3f s  %12s rows/s  (first repetition; the server alone: \\copy %s s with the key dropped, then the key built %s s)\n' \
        "floor: \\copy, key dropped, key built" "$T_FLOOR" "$(fmt_int "$r_floor")" "$T_FLOOR_COPY" "$T_FLOOR_KEY"
fi
printf '  %-40s %8.2fx  (target >= %s)        %s\n' "ours / pgloader (rows/s)" "$x_rate" "$RATIO_TARGET" "$(pass "$v_rate")"
printf '  %-40s %8.1f MiB (target <= %s MiB)  %s\n' "ours: peak RSS" "$rss_ours_mib" "$RSS_TARGET_MIB" "$(pass "$v_rss")"
if ((ROWS < 5000000)); then
    echo "  note: $(fmt_int "$ROWS") rows < 5M: the RSS target is stated at 5M rows (BENCH_SYMBOLS=1000 BENCH_YEARS=20)"
fi

record "migrate: ours vs pgloader (rows/s)" "$(fmt_int "$r_ours")" "$(fmt_int "$r_pgl")" "$(printf '%.2f' "$x_rate")" ">= $RATIO_TARGET" "$v_rate"
if [[ -n $T_FLOOR ]]; then
    record "migrate: ours vs floor (\\copy, key built after; rows/s)" "$(fmt_int "$r_ours")" "$(fmt_int "$r_floor")" "$(printf '%.2f' "$(calc 'a / b' a="$r_ours" b="$r_floor")")" "-" "-"
fi
record "migrate: peak RSS, ours vs pgloader (MiB)" "$rss_ours_mib" "$rss_pgl_mib" "$(printf '%.2f' "$x_rss")" "<= $RSS_TARGET_MIB MiB" "$v_rss"
