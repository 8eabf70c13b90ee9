#!/usr/bin/env bash
# Requests per run at the free plans' rate limits (issue 11): against the fake provider on loopback
# (--latency-ms 50) with Polygon limited to 5 requests/minute and CoinGecko to 30 (server and client),
# for S stocks (Polygon) and C coins (CoinGecko), stored in a SQLite file:
#   1. the daily refresh with one new session (`etl-historical 1Y` the evening after a run that stored
#      every symbol up to the session before): requests made and wall time. Polygon's target: at most the
#      new sessions plus fetch.revision_sessions, whatever S is;
#   2. the same refresh symbol by symbol (fetch.grouped = false) at the same limits, for reference. At
#      5/min its S Polygon requests take S/5 minutes, so it runs for BENCH_REFRESH_PER_SYMBOL_SECONDS and
#      is stopped: its requests in that time are counted and its whole wall time is projected from the
#      limit (printed as projected, not measured);
#   3. `etl-latest` for every symbol at the same limits: target < 60 s.
# Correctness is checked: after run 1 every symbol holds the new session's bar, and after run 3 every
# symbol has a latest_prices row; a failed check exits non-zero.
#
# Environment (all optional):
#   BENCH_REFRESH_STOCKS=500      S
#   BENCH_REFRESH_COINS=20        C
#   BENCH_REFRESH_POLYGON_RPM=5   Polygon's limit (free plan)
#   BENCH_REFRESH_COINGECKO_RPM=30  CoinGecko's limit (demo plan)
#   BENCH_REFRESH_LATENCY_MS=50   server latency per request
#   BENCH_REFRESH_PER_SYMBOL_SECONDS=75  how long run 2 runs before it is stopped (0: skip run 2)
#   ETL_HISTORICAL, ETL_LATEST, ETL_CLI   the binaries (default build/apps/...)
set -euo pipefail
# shellcheck source=bench/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

S=${BENCH_REFRESH_STOCKS:-500}
C=${BENCH_REFRESH_COINS:-20}
PRPM=${BENCH_REFRESH_POLYGON_RPM:-5}
CRPM=${BENCH_REFRESH_COINGECKO_RPM:-30}
LATENCY=${BENCH_REFRESH_LATENCY_MS:-50}
PER_SYMBOL_SECONDS=${BENCH_REFRESH_PER_SYMBOL_SECONDS:-75}
KEY=bench-polygon-key
N=$((S + C))

for b in "$ETL_HISTORICAL" "$ETL_LATEST" "$ETL_CLI"; do
    [[ -x $b ]] || die "$b is missing: build first (cmake -S . -B build -G Ninja && ninja -C build)"
done
command -v curl >/dev/null || die "curl is missing"
command -v sqlite3 >/dev/null || die "sqlite3 is missing (apt-get install sqlite3)"

TMP=$(mktemp -d "${TMPDIR:-/tmp}/etl-refresh-bench.XXXXXX")
SERVER_PID=""
cleanup() {
    local rc=$?
    kill_children
    if [[ -n $SERVER_PID ]]; then kill "$SERVER_PID" 2>/dev/null || true; wait "$SERVER_PID" 2>/dev/null || true; fi
    rm -rf "$TMP"
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
isolated_config "$TMP"
cd "$TMP"

# The evening of ETL_NOW's session (a weekday: see common.sh) and of the session before it.
TODAY=${ETL_NOW:0:10}
PREV=$(python3 - "$TODAY" <<'PY'
import sys
from datetime import date, timedelta
d = date.fromisoformat(sys.argv[1]) - timedelta(days=1)
while d.weekday() >= 5:
    d -= timedelta(days=1)
print(d.isoformat())
PY
)
NOW_FRI=$ETL_NOW
NOW_PREV="${PREV}T21:00:00Z"

DB=$TMP/seed.db
import_bench_assets R "$S" "$C" "sqlite:$DB"

unset USE_MOCK_DATA ETL_MOCK COINGECKO_API_KEY REDIS_URL ETL_FETCH_GROUPED
export POLYGON_API_KEY=$KEY

# serve FAKE_NOW [server args...]: (re)starts the fake provider with its clock at FAKE_NOW and the
# bench's stocks in the grouped daily answers (as every listed US stock is in Polygon's).
serve() {
    local at=$1
    shift
    if [[ -n $SERVER_PID ]]; then kill "$SERVER_PID" 2>/dev/null || true; wait "$SERVER_PID" 2>/dev/null || true; fi
    start_fake_server "FAKE_NOW=$(date -u -d "$at" +%s)" --latency-ms "$LATENCY" --polygon-key "$KEY" "$@"
    export ETL_POLYGON_BASE_URL=$BASE ETL_COINGECKO_BASE_URL=$BASE/api/v3 ETL_YAHOO_BASE_URL=$BASE
    python3 -c 'import json,sys; print(json.dumps({"stocks": sys.argv[1:]}))' "${SYMBOLS[@]:0:S}" |
        curl -fsS -X POST -H 'Content-Type: application/json' --data-binary @- "$BASE/__control/grouped" >/dev/null
}

# requests PROVIDER -> "answered 429s" of the server's log
requests() {
    curl -fsS "$BASE/__control/requests" | python3 -c '
import json, sys
log = [r for r in json.load(sys.stdin) if r.get("provider") == sys.argv[1]]
print(sum(1 for r in log if r["status"] != 429), sum(1 for r in log if r["status"] == 429))' "$1"
}

# --- the stored state: every symbol's 1Y up to the session before, loaded without limits.
log "refresh bench: seeding $S stocks + $C coins (1Y up to $PREV, no rate limit)"
serve "$NOW_PREV"
# Coins up to the UTC day before $PREV, the last one that had ended by then (a run at 21:00Z would store
# $PREV's unfinished day, which the refresh counts as stored when its clock is pinned but its writes are not).
# seed COUNT ARGS...: an unlimited 1Y run of ARGS (symbols and flags) that must load COUNT symbols.
seed() {
    local want=$1
    shift
    ETL_NOW=$NOW_PREV ETL_PROVIDERS_POLYGON_REQUESTS_PER_MINUTE=0 ETL_PROVIDERS_COINGECKO_REQUESTS_PER_MINUTE=0 \
        run_child "$ETL_HISTORICAL" 1Y "$@" --database-url "sqlite:$DB" --log-level warn --no-progress \
        --report "$TMP/seed.json" 2>"$TMP/seed.log" || { tail -20 "$TMP/seed.log" >&2; die "the seed run failed"; }
    [[ $(json_get "$TMP/seed.json" .symbols.ok) == "$want" ]] ||
        die "the seed run loaded $(json_get "$TMP/seed.json" .symbols.ok) of $want symbols"
}
seed "$S" "${SYMBOLS[@]:0:S}"
if ((C > 0)); then seed "$C" "${SYMBOLS[@]:S}" --to "$(date -u -d "$PREV - 1 day" +%F)"; fi

export ETL_PROVIDERS_POLYGON_REQUESTS_PER_MINUTE=$PRPM ETL_PROVIDERS_COINGECKO_REQUESTS_PER_MINUTE=$CRPM
LIMITS=(--provider-rpm "polygon=$PRPM" --provider-rpm "coingecko=$CRPM")

# --- 1. the daily refresh, grouped where it saves requests (the default).
cp "$DB" "$TMP/grouped.db"
serve "$NOW_FRI" "${LIMITS[@]}"
log "refresh bench: the daily refresh of $TODAY (Polygon $PRPM/min, CoinGecko $CRPM/min)"
t0=$(now)
ETL_NOW=$NOW_FRI run_child "$ETL_HISTORICAL" 1Y "${SYMBOLS[@]}" --database-url "sqlite:$TMP/grouped.db" \
    --no-progress --report "$TMP/grouped.json" 2>"$TMP/grouped.log" || { tail -20 "$TMP/grouped.log" >&2; die "the refresh failed"; }
t1=$(now)
G_WALL=$(elapsed "$t0" "$t1")
read -r G_POLY G_POLY429 < <(requests polygon)
read -r G_CG G_CG429 < <(requests coingecko)
G_MADE=$(json_get "$TMP/grouped.json" .requests.made)
G_SAVED=$(json_get "$TMP/grouped.json" .requests.saved)
G_NEW=$(sqlite3 "$TMP/grouped.db" "SELECT count(DISTINCT symbol) FROM price_bars WHERE timeframe = '1d' AND ts = '${TODAY}T00:00:00Z' AND symbol LIKE 'RS%'")
G_NEW_CRYPTO=$(sqlite3 "$TMP/grouped.db" "SELECT count(DISTINCT symbol) FROM price_bars WHERE timeframe = '1d' AND ts = '${PREV}T00:00:00Z' AND symbol LIKE 'RC%'")
[[ $G_NEW == "$S" ]] || die "after the refresh $G_NEW of $S stocks hold the bar of $TODAY"
[[ $G_NEW_CRYPTO == "$C" ]] || die "after the refresh $G_NEW_CRYPTO of $C coins hold the bar of $PREV"
REVISION=5
G_TARGET=$((1 + REVISION))

# --- 2. the same refresh symbol by symbol, at the same limits, stopped after PER_SYMBOL_SECONDS.
P_POLY=0
P_WALL_PROJECTED=$(calc '(s - 1) * 60 / p' s="$S" p="$PRPM")
if ((PER_SYMBOL_SECONDS > 0)); then
    cp "$DB" "$TMP/per_symbol.db"
    serve "$NOW_FRI" "${LIMITS[@]}"
    log "refresh bench: the same refresh symbol by symbol for ${PER_SYMBOL_SECONDS} s (it would take about $(calc 'w / 60' w="$P_WALL_PROJECTED") minutes)"
    ETL_NOW=$NOW_FRI ETL_FETCH_GROUPED=false "$ETL_HISTORICAL" 1Y "${SYMBOLS[@]}" --database-url "sqlite:$TMP/per_symbol.db" \
        --no-progress --log-level warn 2>"$TMP/per_symbol.log" &
    pid=$!
    CHILD_PIDS+=("$pid")
    sleep "$PER_SYMBOL_SECONDS"
    kill -TERM "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
    CHILD_PIDS=()
    read -r P_POLY _ < <(requests polygon)
fi

# --- 3. etl-latest for every symbol at the same limits.
serve "$NOW_FRI" "${LIMITS[@]}"
log "refresh bench: etl-latest for $N symbols (Polygon $PRPM/min, CoinGecko $CRPM/min)"
t0=$(now)
ETL_NOW=$NOW_FRI run_child "$ETL_LATEST" "${SYMBOLS[@]}" --database-url "sqlite:$TMP/grouped.db" --no-progress \
    --log-level warn --report "$TMP/latest.json" 2>"$TMP/latest.log" || { tail -20 "$TMP/latest.log" >&2; die "etl-latest failed"; }
t1=$(now)
L_WALL=$(elapsed "$t0" "$t1")
read -r L_POLY L_POLY429 < <(requests polygon)
read -r L_CG _ < <(requests coingecko)
L_ROWS=$(sqlite3 "$TMP/grouped.db" "SELECT count(*) FROM latest_prices")
[[ $L_ROWS == "$N" ]] || die "latest_prices holds $L_ROWS rows, not $N"

VG=$(verdict "$G_POLY" le "$G_TARGET")
VL=$(verdict "$L_WALL" lt 60)
echo
echo "== refresh bench: $S stocks (polygon, $PRPM/min) + $C coins (coingecko, $CRPM/min), ${LATENCY} ms latency, one new session ($TODAY)"
printf '  %-52s %9s  (target <= %s: 1 new + %s revision sessions)  %s\n' "daily refresh: polygon requests" "$G_POLY" "$G_TARGET" "$REVISION" "$VG"
printf '  %-52s %9s\n' "daily refresh: coingecko requests" "$G_CG"
printf '  %-52s %9s\n' "daily refresh: 429 answers" "$((G_POLY429 + G_CG429))"
printf '  %-52s %9s made, %s saved\n' "daily refresh: the report's requests" "$G_MADE" "$G_SAVED"
printf '  %-52s %9.3f s\n' "daily refresh: wall time" "$G_WALL"
printf '  %-52s %9s  (%s stocks + %s coins)\n' "per-symbol plan: requests" "$N" "$S" "$C"
if ((PER_SYMBOL_SECONDS > 0)); then
    printf '  %-52s %9s in %s s (measured, then stopped)\n' "per-symbol plan: polygon requests sent" "$P_POLY" "$PER_SYMBOL_SECONDS"
fi
printf '  %-52s %9.0f s  (projected: %s requests at %s/min)\n' "per-symbol plan: wall time" "$P_WALL_PROJECTED" "$S" "$PRPM"
printf '  %-52s %8.1fx\n' "per-symbol wall / grouped wall" "$(calc 'p / g' p="$P_WALL_PROJECTED" g="$G_WALL")"
printf '  %-52s %9.3f s  (%s polygon + %s coingecko requests; target < 60 s)  %s\n' "etl-latest: wall time" "$L_WALL" "$L_POLY" "$L_CG" "$VL"
printf '  %-52s %9s\n' "etl-latest: polygon 429 answers" "$L_POLY429"

record "refresh: polygon requests, 1 new session, $S stocks" "$G_POLY" "$S" "$(printf '%.4f' "$(calc 'g / s' g="$G_POLY" s="$S")")" "<= $G_TARGET" "$VG"
record "refresh: wall vs per-symbol plan (s, projected)" "$(printf '%.1f' "$G_WALL")" "$(printf '%.0f' "$P_WALL_PROJECTED")" "$(printf '%.4f' "$(calc 'g / p' g="$G_WALL" p="$P_WALL_PROJECTED")")" "-" "-"
record "latest: $N symbols at free-plan limits (s)" "$(printf '%.1f' "$L_WALL")" "60" "$(printf '%.3f' "$(calc 'l / 60' l="$L_WALL")")" "< 60 s" "$VL"
