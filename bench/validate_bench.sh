#!/usr/bin/env bash
# etl-validate over a large store (issue 9 point 5), next to a reference measured in the same run on the
# same server:
#   a. PostgreSQL, ~11M bars: every asset of a generated store (default 2,000 symbols x 20 years of daily
#      bars, plus hourly session bars for 200 of them over the last 730 days), filled by SQL in the server
#      (generate_series, a seeded random walk), then VACUUM ANALYZE.
#      reference: `SELECT count(*) FROM price_bars` (warm: run twice, the second is reported)
#      ours: `etl-validate --dry-run --format json` (all checks), wall time of the whole process
#                                                                       target: < 10 s
#      informational: each check family on its own (`--check NAME`), to show which one costs the most.
#   b. SQLite, ~1M bars (default 200 symbols x 20 years of daily bars): the same generator in python3,
#      one transaction; ours: `etl-validate --dry-run --format json` on sqlite:FILE; reference: count(*).
# The generated data is clean: no check should fail on it. A check that does is printed (and named in
# the summary) as a finding; the exit code of etl-validate (0, or 65 when a fail-level check failed) is
# reported, not treated as an error.
#
# Environment (all optional):
#   BENCH_VALIDATE_SYMBOLS=2000         symbols (PostgreSQL): about 1 in 100 crypto (daily bars every UTC
#                                       day), 1 in 100 index, 1 in 10 etf, the rest stock; all active
#   BENCH_VALIDATE_YEARS=20             years of daily bars, up to ETL_NOW's day
#   BENCH_VALIDATE_HOURLY_SYMBOLS=200   symbols (not crypto) with hourly bars: 7 per NYSE weekday, the
#                                       regular-session hours (13:00..19:00 UTC in summer, 14:00..20:00 in winter)
#   BENCH_VALIDATE_HOURLY_DAYS=730      calendar days of hourly bars (730 is etl-validate's hourly look-back)
#   BENCH_VALIDATE_SQLITE_SYMBOLS=200   symbols of the SQLite file (same years); 0 skips part b
#   BENCH_VALIDATE_PER_CHECK=1          time each check on its own (0: skip)
#   BENCH_VALIDATE_DB=etl_bench_validate  database name (dropped and re-created; dropped at the end)
#   BENCH_KEEP_DB=1                     keep the database (and print where the SQLite file is kept)
#   ETL_VALIDATE=path, ETL_CLI=path     the binaries (default build/apps/etl-validate, build/apps/etl)
# Without a PG* environment the script re-runs itself under pg_virtualenv.
set -euo pipefail
# shellcheck source=bench/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
ensure_pg "$0" "$@"

ETL_VALIDATE=${ETL_VALIDATE:-$REPO_DIR/build/apps/etl-validate}
N=${BENCH_VALIDATE_SYMBOLS:-2000}
YEARS=${BENCH_VALIDATE_YEARS:-20}
HOURLY_N=${BENCH_VALIDATE_HOURLY_SYMBOLS:-200}
HOURLY_DAYS=${BENCH_VALIDATE_HOURLY_DAYS:-730}
SQLITE_N=${BENCH_VALIDATE_SQLITE_SYMBOLS:-200}
PER_CHECK=${BENCH_VALIDATE_PER_CHECK:-1}
DB=${BENCH_VALIDATE_DB:-etl_bench_validate}
TARGET_S=10
CHECKS=(ohlc duplicates alignment completeness freshness spikes stale drift parity)

[[ -x $ETL_VALIDATE ]] || die "$ETL_VALIDATE is missing: build it (cmake --build build --target etl-validate etl) or set ETL_VALIDATE=path"
[[ -x $ETL_CLI ]] || die "$ETL_CLI is missing: build it (cmake --build build --target etl) or set ETL_CLI=path"
command -v psql >/dev/null || die "psql is missing"

TMP=$(mktemp -d "${TMPDIR:-/tmp}/etl-validate-bench.XXXXXX")
cleanup() {
    local rc=$?
    kill_children
    if [[ -z "${BENCH_KEEP_DB:-}" ]]; then
        dropdb --if-exists "$DB" >/dev/null 2>&1 || true
        rm -rf "$TMP"
    else
        log "kept: database $DB, SQLite file $TMP/bars.db"
    fi
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
isolated_config "$TMP"
cd "$TMP" # no ./etl.toml, no stray files in the caller's directory

END_DAY=${ETL_NOW:0:10} # the last day with bars: ETL_NOW's (its session has closed at 21:00 UTC)
PSQL=(psql -X -q -At -v ON_ERROR_STOP=1 -d "$DB")
q() { "${PSQL[@]}" "$@"; }

# Wall time of one etl-validate run; sets V_TIME, V_RC, and leaves its JSON in $TMP/$1.json.
# Usage: time_validate NAME DATABASE_URL [args...]
time_validate() {
    local name=$1 url=$2
    shift 2
    local t0 t1
    t0=$(now)
    start_child "$ETL_VALIDATE" --database-url "$url" --dry-run --format json --log-level warn "$@" \
        >"$TMP/$name.json" 2>"$TMP/$name.log"
    V_RC=0
    wait "${CHILD_PIDS[-1]}" || V_RC=$?
    CHILD_PIDS=()
    t1=$(now)
    V_TIME=$(elapsed "$t0" "$t1")
    if [[ $V_RC != 0 && $V_RC != 65 ]]; then
        cat "$TMP/$name.log" >&2
        die "etl-validate $* failed with exit code $V_RC"
    fi
}
# One line per check of a JSON report: "name status failing"; and a summary "name=status ...".
check_lines() {
    python3 - "$1" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
for c in d["checks"]:
    print(c["name"], c["status"], c["failing"])
PY
}
check_summary() { check_lines "$1" | awk '{ printf "%s%s=%s", (NR > 1 ? " " : ""), $1, $2 } END { print "" }'; }
# The checks that found something, with their first examples, for the findings.
findings() {
    python3 - "$1" "$2" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
for c in d["checks"]:
    if c["status"] in ("warn", "fail"):
        print(f"  finding ({sys.argv[2]}): {c['name']} {c['status']}, {c['failing']} failing; {c['note']}".rstrip("; "))
        for e in c["examples"][:3]:
            print(f"    {e['symbol']} {e['timeframe']} {e['ts'] or ''}: {e['detail']}")
PY
}
# Seconds of a warm SQL statement: runs it twice in one session, reports the second (psql \timing).
warm_sql_seconds() {
    local out
    out=$(psql -X -q -v ON_ERROR_STOP=1 -d "$1" -c '\timing on' -c "$2" -c "$2" | awk '/^Time: / { v = $2 } END { print v }')
    awk -v ms="$out" 'BEGIN { printf "%.6f", ms / 1000 }'
}

# ---------------------------------------------------------------------------------------------------
# a. PostgreSQL
LOAD0=$(loadavg)
log "validate bench: $N symbols x $YEARS years daily + $HOURLY_N hourly symbols x $HOURLY_DAYS days, up to $END_DAY, server $(psql -X -Atc 'SHOW server_version' -d postgres)"
settings=$(psql -X -At -d postgres -c "SELECT string_agg(name || '=' || setting || coalesce(unit, ''), ' ' ORDER BY name) FROM pg_settings WHERE name IN ('fsync','shared_buffers','work_mem','max_parallel_workers_per_gather','effective_cache_size')")
log "server settings: $settings"
dropdb --if-exists "$DB" >/dev/null 2>&1
createdb "$DB"
"$ETL_CLI" db migrate --database-url "postgresql:///$DB" --log-level warn >/dev/null 2>"$TMP/migrate.log" || {
    cat "$TMP/migrate.log" >&2
    die "etl db migrate failed"
}

t0=$(now)
# Symbols VB0001...: class by number; base price 50..500; all active. Daily bars: a seeded random walk of
# log returns (|r| between 0.2 % and 2 %, so no spike and no stale close), OHLC consistent at 2 decimals
# (open near the previous close, high >= max(open, close), low <= min(open, close)), every weekday for
# equities and every day for crypto (whose last completed day is the day before ETL_NOW's). Hourly bars:
# the NYSE regular-session hours of each weekday (from the hour of the 09:30 New York open, 7 of them),
# a walk of its own. latest_prices: the last daily close, 1 minute before ETL_NOW.
# (A background child reads no stdin: the SQL and the generator go through files.)
cat >"$TMP/fill.sql" <<'SQL'

INSERT INTO price_bars (symbol, timeframe, ts, open, high, low, close, volume, vwap, trade_count, source)
SELECT s.symbol, '1h', x.ts, x.o,
       round(greatest(x.o, x.c) * (1 + x.u1 * 0.003), 2), round(least(x.o, x.c) * (1 - x.u2 * 0.003), 2), x.c,
       x.v, round((x.o + x.c) / 2, 4), (x.v / 100)::bigint, 'bench'
FROM (SELECT * FROM syms WHERE asset_class <> 'crypto' ORDER BY i LIMIT :hourly_n) s
CROSS JOIN LATERAL (
    SELECT y.ts, round((s.base * exp(y.cum - y.r))::numeric, 2) AS o, round((s.base * exp(y.cum))::numeric, 2) AS c,
           y.u1, y.u2, y.v
    FROM (
        SELECT z.*, sum(z.r) OVER (ORDER BY z.ts) AS cum
        FROM (
            SELECT date_trunc('hour', (g.d::date + time '09:30') AT TIME ZONE 'America/New_York') + h * interval '1 hour' AS ts,
                   (CASE WHEN random() < 0.5 THEN -1 ELSE 1 END) * (0.0005 + random() * 0.004) AS r,
                   random()::numeric AS u1, random()::numeric AS u2, (10000 + random() * 500000)::bigint::numeric AS v
            FROM generate_series(:'end_day'::date - :hourly_days + 1, :'end_day'::date, interval '1 day') g(d)
            CROSS JOIN generate_series(0, 6) h
            WHERE extract(isodow FROM g.d) < 6
        ) z
    ) y
) x;

INSERT INTO latest_prices (symbol, price, previous_close, change, change_pct, as_of, source)
SELECT DISTINCT ON (symbol) symbol, close, close, 0, 0, :'etl_now'::timestamptz - interval '1 minute', 'bench'
FROM price_bars WHERE timeframe = '1d' ORDER BY symbol, ts DESC;
SQL
run_child "${PSQL[@]}" -f "$BENCH_DIR/fill_daily.sql" -f "$TMP/fill.sql" -v prefix=VB \
    -v n="$N" -v years="$YEARS" -v hourly_n="$HOURLY_N" -v hourly_days="$HOURLY_DAYS" -v end_day="$END_DAY" \
    -v etl_now="$ETL_NOW" || die "filling $DB failed"
log "PostgreSQL filled in $(elapsed "$t0" "$(now)") s; VACUUM ANALYZE"
run_child "${PSQL[@]}" -c 'VACUUM ANALYZE' || die "VACUUM ANALYZE failed"
t1=$(now)
T_FILL=$(elapsed "$t0" "$t1")

ROWS=$(q -c 'SELECT count(*) FROM price_bars')
ROWS_1D=$(q -c "SELECT count(*) FROM price_bars WHERE timeframe = '1d'")
ROWS_1H=$((ROWS - ROWS_1D))
ASSETS=$(q -c 'SELECT count(*) FROM assets')
SIZE_MIB=$(q -c "SELECT pg_total_relation_size('price_bars') / 1048576")
LATEST=$(q -c 'SELECT count(*) FROM latest_prices')
[[ $ASSETS == "$N" && $LATEST == "$N" ]] || die "generated $ASSETS assets and $LATEST latest prices, expected $N"
((ROWS_1D > 0 && (HOURLY_N == 0 || ROWS_1H > 0))) || die "generated $ROWS_1D daily and $ROWS_1H hourly bars"
log "$(fmt_int "$ROWS") bars ($(fmt_int "$ROWS_1D") daily, $(fmt_int "$ROWS_1H") hourly), $ASSETS assets, price_bars $SIZE_MIB MiB (with its index), generated in $T_FILL s"

# reference: count(*), warm
T_COUNT=$(warm_sql_seconds "$DB" 'SELECT count(*) FROM price_bars')
log "reference: SELECT count(*) FROM price_bars (warm, second run): $T_COUNT s"

# ours: every check, warm (a first run warms the cache the way count(*) was warmed)
URL="postgresql:///$DB"
time_validate pg_warmup "$URL"
T_WARMUP=$V_TIME
time_validate pg_all "$URL"
T_ALL=$V_TIME
RC_ALL=$V_RC
SUMMARY_ALL=$(check_summary "$TMP/pg_all.json")
log "ours: etl-validate --dry-run --format json (all checks): $T_ALL s (first, warm-up run: $T_WARMUP s), exit $RC_ALL: $SUMMARY_ALL"

PER_CHECK_LINES=()
if [[ $PER_CHECK != 0 ]]; then
    for c in "${CHECKS[@]}"; do
        time_validate "pg_$c" "$URL" --check "$c"
        st=$(check_lines "$TMP/pg_$c.json" | awk '{ print $2 " (" $3 " failing)" }')
        PER_CHECK_LINES+=("$(printf '%s\t%s\t%s' "$V_TIME" "$c" "$st")")
        log "  --check $c: $V_TIME s, $st"
    done
fi

# ---------------------------------------------------------------------------------------------------
# b. SQLite
if [[ $SQLITE_N != 0 ]]; then
    SQLITE_FILE=$TMP/bars.db
    "$ETL_CLI" db migrate --database-url "sqlite:$SQLITE_FILE" --log-level warn >/dev/null 2>"$TMP/migrate-sqlite.log" || {
        cat "$TMP/migrate-sqlite.log" >&2
        die "etl db migrate (SQLite) failed"
    }
    t0=$(now)
    cat >"$TMP/fill_sqlite.py" <<'PY'
# The same store as the PostgreSQL part, smaller: classes by number, a seeded walk, clean OHLC.
import datetime as dt, math, random, sqlite3, sys
path, n, years, end_day, etl_now = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4], sys.argv[5]
rng = random.Random(42)
end = dt.date.fromisoformat(end_day)
start = end.replace(year=end.year - years) + dt.timedelta(days=1)
now = dt.datetime.strptime(etl_now, "%Y-%m-%dT%H:%M:%SZ")
as_of = (now - dt.timedelta(minutes=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
db = sqlite3.connect(path)
db.execute("PRAGMA journal_mode = OFF")
db.execute("PRAGMA synchronous = OFF")
db.execute("BEGIN")
for i in range(1, n + 1):
    sym = f"VB{i:04d}"
    cls = "crypto" if i % 100 == 0 else "index" if i % 100 == 50 else "etf" if i % 10 == 5 else "stock"
    db.execute("INSERT INTO assets (symbol, name, asset_class, exchange, active) VALUES (?, ?, ?, ?, 1)",
               (sym, "Bench " + sym, cls, "" if cls == "crypto" else "XNYS"))
    base = 50 + rng.random() * 450
    cum = 0.0
    last = None
    rows = []
    d = start
    stop = end - dt.timedelta(days=1) if cls == "crypto" else end
    while d <= stop:
        if cls == "crypto" or d.isoweekday() < 6:
            r = (-1 if rng.random() < 0.5 else 1) * (0.002 + abs(rng.random() + rng.random() + rng.random() - 1.5) * 0.012)
            gap = (rng.random() - 0.5) * 0.002
            o = round(base * math.exp(cum + gap), 2)
            cum += r
            c = round(base * math.exp(cum), 2)
            h = round(max(o, c) * (1 + rng.random() * 0.01), 2)
            lo = round(min(o, c) * (1 - rng.random() * 0.01), 2)
            h, lo = max(h, o, c), min(lo, o, c)  # binary rounding must not undo the rule
            v = int(100000 + rng.random() * 5000000)
            rows.append((sym, "1d", d.isoformat() + "T00:00:00Z", f"{o:.2f}", f"{h:.2f}", f"{lo:.2f}", f"{c:.2f}",
                         v, round((o + c) / 2, 4), v // 100, "bench"))
            last = c
        d += dt.timedelta(days=1)
    db.executemany("INSERT INTO price_bars (symbol, timeframe, ts, open, high, low, close, volume, vwap, trade_count,"
                   " source) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", rows)
    db.execute("INSERT INTO latest_prices (symbol, price, previous_close, change, change_pct, as_of, source)"
               " VALUES (?, ?, ?, 0, 0, ?, 'bench')", (sym, f"{last:.2f}", f"{last:.2f}", as_of))
db.commit()
db.execute("ANALYZE")
db.close()
PY
    run_child python3 "$TMP/fill_sqlite.py" "$SQLITE_FILE" "$SQLITE_N" "$YEARS" "$END_DAY" "$ETL_NOW" ||
        die "generating the SQLite file failed"
    T_SQLITE_FILL=$(elapsed "$t0" "$(now)")
    SQLITE_ROWS=$(python3 -c 'import sqlite3, sys; print(sqlite3.connect(sys.argv[1]).execute("SELECT count(*) FROM price_bars").fetchone()[0])' "$SQLITE_FILE")
    ((SQLITE_ROWS > 0)) || die "the SQLite file holds no bars"
    log "SQLite: $(fmt_int "$SQLITE_ROWS") daily bars, $(($(stat -c %s "$SQLITE_FILE") / 1048576)) MiB, generated in $T_SQLITE_FILL s"
    # reference: count(*), warm (second of two runs in one process)
    T_SQLITE_COUNT=$(python3 - "$SQLITE_FILE" <<'PY'
import sqlite3, sys, time
db = sqlite3.connect(sys.argv[1])
for _ in range(2):
    t0 = time.perf_counter()
    db.execute("SELECT count(*) FROM price_bars").fetchone()
    t = time.perf_counter() - t0
print(f"{t:.6f}")
PY
)
    time_validate sqlite_warmup "sqlite:$SQLITE_FILE"
    time_validate sqlite_all "sqlite:$SQLITE_FILE"
    T_SQLITE_ALL=$V_TIME
    RC_SQLITE=$V_RC
    SUMMARY_SQLITE=$(check_summary "$TMP/sqlite_all.json")
    log "SQLite: count(*) $T_SQLITE_COUNT s, etl-validate $T_SQLITE_ALL s, exit $RC_SQLITE: $SUMMARY_SQLITE"
fi

# ---------------------------------------------------------------------------------------------------
# etl-validate / count(*); "-" when count(*) took no measurable time (a tiny store).
ratio_of() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.1f", a / b; else print "-" }'; }
ratio=$(ratio_of "$T_ALL" "$T_COUNT")
v_all=$(verdict "$T_ALL" lt "$TARGET_S")
pass() { if [[ $1 == met ]]; then echo PASS; else echo MISS; fi; }

echo
echo "== validate bench: $(fmt_int "$ROWS") bars in PostgreSQL ($(fmt_int "$ROWS_1D") daily: $N symbols x $YEARS years; $(fmt_int "$ROWS_1H") hourly: $HOURLY_N symbols x $HOURLY_DAYS days), price_bars $SIZE_MIB MiB; load average $LOAD0 -> $(loadavg)"
echo "   server: $settings"
printf '  %-52s %9.3f s\n' "reference: SELECT count(*) FROM price_bars (warm)" "$T_COUNT"
printf '  %-52s %9.3f s  exit %s  (first run: %s s)\n' "ours: etl-validate --dry-run (all checks, warm)" "$T_ALL" "$RC_ALL" "$T_WARMUP"
echo "    checks: $SUMMARY_ALL"
printf '  %-52s %8sx\n' "etl-validate / count(*) (wall time)" "$ratio"
printf '  %-52s %9.3f s  (target < %s s)  %s\n' "ours: wall time, all checks" "$T_ALL" "$TARGET_S" "$(pass "$v_all")"
if ((${#PER_CHECK_LINES[@]})); then
    echo "  each check on its own (informational; each run also loads the scope and the calendar), slowest first:"
    printf '%s\n' "${PER_CHECK_LINES[@]}" | sort -t $'\t' -k1,1gr | while IFS=$'\t' read -r t c st; do
        printf '    --check %-14s %9.3f s  %s\n' "$c" "$t" "$st"
    done
fi
findings "$TMP/pg_all.json" PostgreSQL
if [[ $SQLITE_N != 0 ]]; then
    sratio=$(ratio_of "$T_SQLITE_ALL" "$T_SQLITE_COUNT")
    printf '  %-52s %9.3f s\n' "SQLite reference: count(*) ($(fmt_int "$SQLITE_ROWS") bars, warm)" "$T_SQLITE_COUNT"
    printf '  %-52s %9.3f s  exit %s\n' "SQLite ours: etl-validate --dry-run (all checks)" "$T_SQLITE_ALL" "$RC_SQLITE"
    echo "    checks: $SUMMARY_SQLITE"
    printf '  %-52s %8sx\n' "SQLite: etl-validate / count(*) (wall time)" "$sratio"
    findings "$TMP/sqlite_all.json" SQLite
fi
if ((ROWS < 10000000)); then
    echo "  note: $(fmt_int "$ROWS") bars < 10M: the target is stated at 10M bars (the defaults)"
fi

record "validate: all checks vs count(*), PG (s)" "$T_ALL" "$(printf '%.3f' "$T_COUNT")" "$ratio" "< $TARGET_S s" "$v_all"
if [[ $SQLITE_N != 0 ]]; then
    record "validate: all checks vs count(*), SQLite (s)" "$T_SQLITE_ALL" "$(printf '%.3f' "$T_SQLITE_COUNT")" "$sratio" "-" "-"
fi
