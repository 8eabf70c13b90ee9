#!/usr/bin/env bash
# Fetch pacing (SPEC.md section 7, "fetch"): against the fake provider on loopback with
# --latency-ms 50 and a server-side limit of R requests/minute, `etl-historical 1M` for M symbols
# via Polygon, with the client told the same limit (ETL_PROVIDERS_POLYGON_REQUESTS_PER_MINUTE=R).
# The floor is what the limit allows: requests / R. Target: wall time <= 1.15x the floor, and no 429s.
#
# Environment (all optional):
#   BENCH_FETCH_RPM=600           R, both the server's --rpm and the client's limit
#   BENCH_FETCH_SYMBOLS=180       M (one Polygon request per symbol for 1M: floor = M / R minutes)
#   BENCH_FETCH_LATENCY_MS=50     server latency per request
#   BENCH_FETCH_RANGE=1M          chart range
#   BENCH_FETCH_CONCURRENCY=      ETL_FETCH_CONCURRENCY for the run (default: the config default)
#   BENCH_FETCH_STORE=sqlite      sqlite (a temp file) or pg (a temp database; needs PG* env)
#   ETL_HISTORICAL=path           the binary (default build/apps/etl-historical)
# Note: the server's window is a sliding 60 s; a run shorter than 60 s with fewer than R requests can
# only be answered 429 if the client bursts. Runs longer than 60 s (e.g. R=120, M=150) also test that
# the client stays under the limit across the window boundary.
set -euo pipefail
# shellcheck source=bench/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

RPM=${BENCH_FETCH_RPM:-600}
M=${BENCH_FETCH_SYMBOLS:-180}
LATENCY=${BENCH_FETCH_LATENCY_MS:-50}
RANGE=${BENCH_FETCH_RANGE:-1M}
STORE=${BENCH_FETCH_STORE:-sqlite}
KEY=bench-polygon-key
SERVER=$REPO_DIR/tests/fake_provider/server.py

[[ $STORE == pg ]] && ensure_pg "$0" "$@"
[[ -x $ETL_HISTORICAL ]] || die "$ETL_HISTORICAL is missing: build first (cmake -S . -B build -G Ninja && ninja -C build)"
[[ -f $SERVER ]] || die "$SERVER is missing"
command -v curl >/dev/null || die "curl is missing"

TMP=$(mktemp -d "${TMPDIR:-/tmp}/etl-fetch-bench.XXXXXX")
SERVER_PID=""
PG_DB=etl_bench_fetch
cleanup() {
    local rc=$?
    kill_children
    if [[ -n $SERVER_PID ]]; then
        kill "$SERVER_PID" 2>/dev/null || true
        wait "$SERVER_PID" 2>/dev/null || true
    fi
    if [[ $STORE == pg ]]; then dropdb --if-exists "$PG_DB" >/dev/null 2>&1 || true; fi
    rm -rf "$TMP"
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
isolated_config "$TMP"
cd "$TMP"

# The server's "today" matches the client's pinned ETL_NOW, so the window and the bars agree.
start_fake_server "FAKE_TODAY=${ETL_NOW:0:10}" --latency-ms "$LATENCY" --rpm "$RPM" --polygon-key "$KEY"
curl -fsS -X POST "$BASE/__control/reset" >/dev/null

case $STORE in
sqlite) DB_URL="sqlite:$TMP/fetch.db" ;;
pg)
    dropdb --if-exists "$PG_DB" >/dev/null 2>&1
    createdb "$PG_DB"
    DB_URL="postgresql:///$PG_DB"
    ;;
*) die "BENCH_FETCH_STORE must be sqlite or pg" ;;
esac

SYMBOLS=()
for ((i = 1; i <= M; i++)); do SYMBOLS+=("$(printf 'FB%04d' "$i")"); done

export ETL_POLYGON_BASE_URL=$BASE POLYGON_API_KEY=$KEY ETL_PROVIDERS_POLYGON_REQUESTS_PER_MINUTE=$RPM
# One request per symbol is what this bench paces (grouped daily answers would need only one per session:
# bench/refresh_bench.sh measures those).
export ETL_FETCH_GROUPED=false
unset USE_MOCK_DATA ETL_MOCK
if [[ -n ${BENCH_FETCH_CONCURRENCY:-} ]]; then export ETL_FETCH_CONCURRENCY=$BENCH_FETCH_CONCURRENCY; fi

log "fetch bench: $M symbols, range $RANGE, server latency ${LATENCY} ms, limit $RPM/min (server and client), store $STORE"
t0=$(now)
rc=0
run_child "$ETL_HISTORICAL" "$RANGE" "${SYMBOLS[@]}" --class stock --database-url "$DB_URL" --log-level warn \
    --no-progress --report "$TMP/report.json" 2>"$TMP/run.log" || rc=$?
t1=$(now)
WALL=$(elapsed "$t0" "$t1")
if [[ $rc != 0 ]]; then
    tail -20 "$TMP/run.log" >&2
    die "etl-historical failed"
fi
ok=$(json_get "$TMP/report.json" .symbols.ok)
[[ $ok == "$M" ]] || die "only $ok of $M symbols loaded"

curl -fsS "$BASE/__control/requests" >"$TMP/requests.json"
read -r REQUESTS N429 OTHER SPAN < <(python3 - "$TMP/requests.json" <<'PY'
import json, sys
log = [r for r in json.load(open(sys.argv[1])) if r.get("provider") == "polygon"]
answered = [r for r in log if r["status"] != 429]
n429 = sum(1 for r in log if r["status"] == 429)
other = sum(1 for r in answered if not 200 <= r["status"] < 300)
span = (max(r["ts"] for r in log) - min(r["ts"] for r in log)) if log else 0.0
print(len(answered), n429, other, f"{span:.3f}")
PY
)
# The floor counts the requests the limit had to let through (429s are not counted by the server).
FLOOR=$(calc 'n * 60 / r' n="$REQUESTS" r="$RPM")
RATIO=$(calc 'w / f' w="$WALL" f="$FLOOR")
V=$(verdict "$RATIO" le 1.15)
V429=$([[ $N429 == 0 ]] && echo met || echo MISSED)

echo
echo "== fetch bench: $M symbols x $RANGE via polygon, ${LATENCY} ms latency, limit $RPM/min"
printf '  %-44s %9.3f s\n' "ours: wall time of the run" "$WALL"
printf '  %-44s %9.3f s  (%s requests / %s per min)\n' "floor: requests / R" "$FLOOR" "$REQUESTS" "$RPM"
printf '  %-44s %9.3f s\n' "first to last request (server log)" "$SPAN"
printf '  %-44s %9s\n' "requests answered 429" "$N429"
printf '  %-44s %9s\n' "other non-2xx answers" "$OTHER"
printf '  %-44s %8.3fx  (target <= 1.15)  %s\n' "wall / floor" "$RATIO" "$V"

record "fetch: wall vs rate-limit floor (s)" "$(printf '%.2f' "$WALL")" "$(printf '%.2f' "$FLOOR")" "$(printf '%.3f' "$RATIO")" "<= 1.15" "$V"
record "fetch: 429 answers ($REQUESTS requests)" "$N429" "0" "-" "0" "$V429"
