#!/usr/bin/env bash
# Derived data (issue 12 point 6): indicators and statistics of a generated store, from the database and
# back, ours next to pandas doing the same computation on the same rows in the same run and server:
#   store: BENCH_DERIVE_SYMBOLS (default 1000) symbols x BENCH_DERIVE_YEARS (20) years of daily bars
#          (bench/fill_daily.sql: a seeded random walk, equities on weekdays, 1 in 100 crypto every day).
#   a. ours: `etl derive --full --timeframe 1d` (every indicator of every bar into `indicators`, every
#      window into `asset_stats`), wall time of the whole process and peak RSS.
#   b. reference: bench/derive_pandas.py: the same valid bars read with psql \copy into pandas, the same
#      definitions (tests/e2e/indicators_ref.py), the results written back with psql \copy into a table
#      shaped like ours (indicator_bars: a row per bar, a column per indicator).
#      Both write the same number of indicator values (checked).     target: ours >= 5x faster (a / b)
#   c. incremental: one more session for every symbol (the next weekday, every symbol), then
#      `etl derive --timeframe 1d` (indicators resumed from the stored state, statistics recomputed)
#                                                                     target: < 1 s
# Environment (all optional):
#   BENCH_DERIVE_SYMBOLS=1000 BENCH_DERIVE_YEARS=20   size of the store
#   BENCH_DERIVE_DB=etl_bench_derive                  database name (dropped and re-created; dropped at the end)
#   BENCH_KEEP_DB=1                                   keep the database
# Without a PG* environment the script re-runs itself under pg_virtualenv.
set -euo pipefail
# shellcheck source=bench/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
ensure_pg "$0" "$@"

N=${BENCH_DERIVE_SYMBOLS:-1000}
YEARS=${BENCH_DERIVE_YEARS:-20}
DB=${BENCH_DERIVE_DB:-etl_bench_derive}
URL="postgresql:///$DB"
TMP=$(mktemp -d "${TMPDIR:-/tmp}/etl-derive-bench.XXXXXX")
PSQL=(psql -X -q -At -v ON_ERROR_STOP=1 -d "$DB")
END_DAY=${ETL_NOW:0:10}
cleanup() {
    local rc=$?
    kill_children
    rm -rf "$TMP"
    [[ -n "${BENCH_KEEP_DB:-}" ]] || dropdb --if-exists "$DB" >/dev/null 2>&1 || true
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
q() { "${PSQL[@]}" "$@"; }
# time_cmd OUT CMD...: runs CMD with GNU time; OUT gets "seconds max_rss_kib".
time_cmd() {
    local out=$1
    shift
    run_child /usr/bin/time -f '%e %M' -o "$out" "$@" || return 1
}

command -v /usr/bin/time >/dev/null || die "GNU time is missing (apt-get install time)"
tune_own_cluster
log "derive bench: $N symbols x $YEARS years of daily bars up to $END_DAY, server $(psql -X -Atc 'SHOW server_version' -d postgres)"
dropdb --if-exists "$DB" >/dev/null 2>&1
createdb "$DB"
"$ETL_CLI" db migrate --database-url "$URL" --log-level warn >/dev/null 2>"$TMP/migrate.log" ||
    { cat "$TMP/migrate.log" >&2; die "etl db migrate failed"; }
t0=$(now)
run_child "${PSQL[@]}" -f "$BENCH_DIR/fill_daily.sql" -v prefix=DB -v n="$N" -v years="$YEARS" -v end_day="$END_DAY" ||
    die "filling $DB failed"
run_child "${PSQL[@]}" -c 'VACUUM ANALYZE price_bars' || die "VACUUM ANALYZE failed"
BARS=$(q -c "SELECT count(*) FROM price_bars")
log "filled $(fmt_int "$BARS") daily bars in $(elapsed "$t0" "$(now)") s"
export ETL_STATS_BENCHMARK=DB0001 ETL_STATS_RISK_FREE_RATE=0.04 ETL_LOG_LEVEL=warn

# a. ours
LOAD0=$(loadavg)
time_cmd "$TMP/ours.time" "$ETL_CLI" derive --full --timeframe 1d --database-url "$URL" --report "$TMP/ours.json" \
    >/dev/null 2>"$TMP/ours.log" || { tail -5 "$TMP/ours.log" >&2; die "etl derive failed"; }
read -r T_OURS RSS_OURS <"$TMP/ours.time"
# Indicator values: the non-NULL cells of indicator_bars (the rows of the indicators view).
VALUE_COLUMNS=$(q -c "SELECT string_agg(quote_ident(attname), ', ' ORDER BY attnum) FROM pg_attribute
                      WHERE attrelid = 'indicator_bars'::regclass AND attnum > 3 AND NOT attisdropped")
VALUES_OURS=$(q -c "SELECT coalesce(sum(num_nonnulls($VALUE_COLUMNS)), 0) FROM indicator_bars")
STATS_OURS=$(q -c "SELECT count(*) FROM asset_stats")

# b. pandas
time_cmd "$TMP/pandas.time" python3 "$BENCH_DIR/derive_pandas.py" "$DB" DB0001 0.04 >"$TMP/pandas.out" ||
    die "the pandas reference failed"
read -r T_PANDAS RSS_PANDAS <"$TMP/pandas.time"
VALUES_PANDAS=$(q -c "SELECT coalesce(sum(num_nonnulls($VALUE_COLUMNS)), 0) FROM indicator_bars_pandas")
STATS_PANDAS=$(q -c "SELECT count(*) FROM asset_stats_pandas")
[[ $VALUES_OURS == "$VALUES_PANDAS" && $STATS_OURS == "$STATS_PANDAS" ]] ||
    die "ours wrote $VALUES_OURS values and $STATS_OURS stats rows, pandas $VALUES_PANDAS and $STATS_PANDAS"
# The same numbers: the largest relative difference of sma_200 and rsi_14 between the two.
DIFF=$(q -c "SELECT coalesce(max(greatest(abs(o.sma_200 - p.sma_200) / greatest(abs(p.sma_200), 1e-12),
                                            abs(o.rsi_14 - p.rsi_14) / greatest(abs(p.rsi_14), 1e-12))), 0)
             FROM indicator_bars o JOIN indicator_bars_pandas p USING (symbol, timeframe, ts)")
LOAD1=$(loadavg)

# c. incremental: the next weekday's bar for every symbol, then a derive without --full.
NEXT=$(q -c "SELECT (max(ts) AT TIME ZONE 'UTC')::date + CASE extract(isodow FROM max(ts) AT TIME ZONE 'UTC')
                    WHEN 5 THEN 3 WHEN 6 THEN 2 ELSE 1 END FROM price_bars")
q -c "INSERT INTO price_bars (symbol, timeframe, ts, open, high, low, close, volume, source)
      SELECT DISTINCT ON (symbol) symbol, '1d', '$NEXT'::timestamp AT TIME ZONE 'UTC', close, close * 1.01, close * 0.99,
             close * 1.001, volume, 'bench' FROM price_bars ORDER BY symbol, ts DESC"
time_cmd "$TMP/incr.time" "$ETL_CLI" derive --timeframe 1d --database-url "$URL" --report "$TMP/incr.json" \
    >/dev/null 2>"$TMP/incr.log" || { tail -5 "$TMP/incr.log" >&2; die "incremental etl derive failed"; }
read -r T_INCR RSS_INCR <"$TMP/incr.time"
FIRST=$(python3 -c "import json,sys; print(json.load(open(sys.argv[1]))['derive']['1d']['from_first_bar'])" "$TMP/incr.json")

RATIO=$(calc "b / a" a="$T_OURS" b="$T_PANDAS")
echo
echo "derive bench: $N symbols x $YEARS years, $(fmt_int "$BARS") daily bars (load average $LOAD0 -> $LOAD1)"
printf '  a. ours   etl derive --full: %8.2f s  peak RSS %6d MiB  %s indicator values, %s stats rows\n' \
    "$T_OURS" $((RSS_OURS / 1024)) "$(fmt_int "$VALUES_OURS")" "$STATS_OURS"
printf '  b. pandas (same rows, back): %8.2f s  peak RSS %6d MiB  (largest relative difference, sma_200 and rsi_14: %s)\n' \
    "$T_PANDAS" $((RSS_PANDAS / 1024)) "$DIFF"
printf '     ratio pandas / ours: %sx   target >= 5x: %s\n' "$RATIO" "$(verdict "$RATIO" ge 5)"
printf '  c. incremental after one new session: %.2f s, peak RSS %d MiB (%s symbols computed from their first bar)   target < 1 s: %s\n' \
    "$T_INCR" $((RSS_INCR / 1024)) "$FIRST" "$(verdict "$T_INCR" lt 1)"
record "derive --full ($N x ${YEARS}y)" "${T_OURS} s" "pandas ${T_PANDAS} s" "${RATIO}x" ">= 5x" "$(verdict "$RATIO" ge 5)"
record "derive incremental ($N symbols)" "${T_INCR} s" "-" "-" "< 1 s" "$(verdict "$T_INCR" lt 1)"
