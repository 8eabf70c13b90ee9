#!/usr/bin/env bash
# Latest-price refresh (etl-latest) for 500 symbols against the fake provider on loopback with
# --latency-ms 50 and a server-side limit of R requests/minute per provider, storing into PostgreSQL
# (a temporary database) and a real redis-server (a throwaway one on a free port).
# Target: the run is bound by the provider rate limit, not by our own round trips:
#   wall time <= 1.15x the floor (requests / R of the busiest provider), no 429s, and the report's
#   database and cache phases a small part of the wall time (printed, not judged).
# Correctness is checked, not just timed: latest_prices must hold every symbol and Redis must hold
# latest_price:{SYMBOL} for every symbol, each with a TTL > 0. A failed check exits non-zero.
#
# The symbols: S stocks (LS0001 ...; Polygon grouped daily: 2 requests for all of them)
# and C crypto assets (LC0001 ... with CoinGecko ids bench-coin-0001 ...; /simple/price in batches of
# 100 ids). All of them are imported into `assets` first (`etl assets import`, which also migrates),
# so the run measures the steady state of a scheduled refresh, not a first sight of unknown symbols.
#
# Environment (all optional):
#   BENCH_LATEST_RPM=1800         R: the server's --rpm (per provider) and the client's limit for
#                                 Polygon and CoinGecko; 450 Polygon requests / 1800 per min = 15 s
#   BENCH_LATEST_STOCKS=450       S
#   BENCH_LATEST_CRYPTO=50        C (0: stocks only)
#   BENCH_LATEST_LATENCY_MS=50    server latency per request
#   BENCH_LATEST_CONCURRENCY=     ETL_FETCH_CONCURRENCY for the run (default: the config default)
#   BENCH_LATEST_DB=etl_bench_latest   database name (dropped and re-created; dropped at the end)
#   ETL_LATEST=path, ETL_CLI=path the binaries (default build/apps/etl-latest, build/apps/etl)
# Without a PG* environment the script re-runs itself under pg_virtualenv.
set -euo pipefail
# shellcheck source=bench/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
ensure_pg "$0" "$@"

RPM=${BENCH_LATEST_RPM:-1800}
S=${BENCH_LATEST_STOCKS:-450}
C=${BENCH_LATEST_CRYPTO:-50}
LATENCY=${BENCH_LATEST_LATENCY_MS:-50}
DB=${BENCH_LATEST_DB:-etl_bench_latest}
N=$((S + C))
KEY=bench-polygon-key
SERVER=$REPO_DIR/tests/fake_provider/server.py

((N > 0)) || die "no symbols: BENCH_LATEST_STOCKS + BENCH_LATEST_CRYPTO must be > 0"
[[ -x $ETL_LATEST ]] || die "$ETL_LATEST is missing: build first (cmake -S . -B build -G Ninja && ninja -C build)"
[[ -x $ETL_CLI ]] || die "$ETL_CLI is missing: build first (cmake -S . -B build -G Ninja && ninja -C build)"
[[ -f $SERVER ]] || die "$SERVER is missing"
command -v curl >/dev/null || die "curl is missing"
command -v psql >/dev/null || die "psql is missing"
command -v redis-server >/dev/null || die "redis-server is missing (apt-get install redis-server)"
command -v redis-cli >/dev/null || die "redis-cli is missing (apt-get install redis-tools)"

TMP=$(mktemp -d "${TMPDIR:-/tmp}/etl-latest-bench.XXXXXX")
SERVER_PID=""
REDIS_PID=""
stop_pid() {
    [[ -n $1 ]] || return 0
    kill "$1" 2>/dev/null || true
    wait "$1" 2>/dev/null || true
}
cleanup() {
    local rc=$?
    kill_children
    stop_pid "$SERVER_PID"
    stop_pid "$REDIS_PID"
    dropdb --if-exists "$DB" >/dev/null 2>&1 || true
    rm -rf "$TMP"
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
isolated_config "$TMP"
cd "$TMP"

# --- the fake provider. Its clock is pinned to ETL_NOW exactly (FAKE_NOW), not to FAKE_TODAY's
# 23:00Z: CoinGecko's last_updated_at follows the server's now, and a quote two hours ahead of the
# client's clock would be rejected as a bad record.
FAKE_NOW=$(date -u -d "$ETL_NOW" +%s) || die "cannot parse ETL_NOW=$ETL_NOW"
start_fake_server "FAKE_NOW=$FAKE_NOW" --latency-ms "$LATENCY" --rpm "$RPM" --polygon-key "$KEY"

# --- a throwaway redis-server: no persistence, its files in $TMP. The free port can be taken
# between choosing and binding it, so retry a few times (as tests/e2e/harness.py does).
free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
REDIS_PORT=""
for attempt in 1 2 3 4 5; do
    port=$(free_port)
    redis-server --port "$port" --bind 127.0.0.1 --save "" --appendonly no --daemonize no --dir "$TMP" \
        --logfile "" >"$TMP/redis-$attempt.log" 2>&1 &
    REDIS_PID=$!
    for _ in $(seq 200); do
        kill -0 "$REDIS_PID" 2>/dev/null || break
        if [[ $(redis-cli -h 127.0.0.1 -p "$port" PING 2>/dev/null) == PONG ]]; then
            REDIS_PORT=$port
            break
        fi
        sleep 0.05
    done
    [[ -n $REDIS_PORT ]] && break
    stop_pid "$REDIS_PID"
    REDIS_PID=""
    grep -q "Address already in use" "$TMP/redis-$attempt.log" || { cat "$TMP/redis-$attempt.log" >&2; die "redis-server did not start"; }
done
[[ -n $REDIS_PORT ]] || die "redis-server: no free port after 5 attempts"
REDIS=(redis-cli -h 127.0.0.1 -p "$REDIS_PORT")
BENCH_REDIS_URL=redis://127.0.0.1:$REDIS_PORT/0

# --- the database and the assets (a throwaway cluster gets fsync=on like a real server; see README)
tune_own_cluster
dropdb --if-exists "$DB" >/dev/null 2>&1
createdb "$DB"
DB_URL="postgresql:///$DB"
import_bench_assets L "$S" "$C" "$DB_URL"

export ETL_POLYGON_BASE_URL=$BASE POLYGON_API_KEY=$KEY ETL_COINGECKO_BASE_URL=$BASE/api/v3
export ETL_PROVIDERS_POLYGON_REQUESTS_PER_MINUTE=$RPM ETL_PROVIDERS_COINGECKO_REQUESTS_PER_MINUTE=$RPM
unset USE_MOCK_DATA ETL_MOCK COINGECKO_API_KEY REDIS_URL
if [[ -n ${BENCH_LATEST_CONCURRENCY:-} ]]; then export ETL_FETCH_CONCURRENCY=$BENCH_LATEST_CONCURRENCY; fi
curl -fsS -X POST "$BASE/__control/reset" >/dev/null
# The bench's stocks are in the grouped daily answers, as every listed US stock is in Polygon's.
python3 -c 'import json,sys; print(json.dumps({"stocks": sys.argv[1:]}))' "${SYMBOLS[@]:0:S}" |
    curl -fsS -X POST -H 'Content-Type: application/json' --data-binary @- "$BASE/__control/grouped" >/dev/null

log "latest bench: $N symbols ($S stocks via Polygon, $C crypto via CoinGecko), server latency ${LATENCY} ms, limit $RPM/min per provider (server and client), PostgreSQL + Redis"
t0=$(now)
rc=0
run_child "$ETL_LATEST" "${SYMBOLS[@]}" --database-url "$DB_URL" --redis-url "$BENCH_REDIS_URL" --log-level warn \
    --no-progress --report "$TMP/report.json" 2>"$TMP/run.log" || rc=$?
t1=$(now)
WALL=$(elapsed "$t0" "$t1")
if [[ $rc != 0 ]]; then
    tail -20 "$TMP/run.log" >&2
    [[ -s $TMP/report.json ]] && cat "$TMP/report.json" >&2
    die "etl-latest failed (exit $rc)"
fi

# --- correctness: every symbol in latest_prices and in Redis with a TTL
ok=$(json_get "$TMP/report.json" .symbols.ok)
[[ $ok == "$N" ]] || { cat "$TMP/report.json" >&2; die "the report says $ok of $N symbols ok"; }
printf '%s\n' "${SYMBOLS[@]}" | LC_ALL=C sort >"$TMP/want"
psql -X -Atq -v ON_ERROR_STOP=1 -d "$DB" -c 'SELECT symbol FROM latest_prices' | LC_ALL=C sort >"$TMP/db_symbols"
DB_ROWS=$(wc -l <"$TMP/db_symbols")
cmp -s "$TMP/want" "$TMP/db_symbols" || die "latest_prices holds $DB_ROWS rows, not exactly the $N symbols"
"${REDIS[@]}" --scan --pattern 'latest_price:*' | sed 's/^latest_price://' | LC_ALL=C sort >"$TMP/redis_symbols"
REDIS_KEYS=$(wc -l <"$TMP/redis_symbols")
cmp -s "$TMP/want" "$TMP/redis_symbols" || die "Redis holds $REDIS_KEYS latest_price:* keys, not exactly the $N symbols"
# shellcheck disable=SC2016  # a Lua script, not a shell expansion
WITH_TTL=$("${REDIS[@]}" EVAL 'local n = 0
for _, k in ipairs(redis.call("KEYS", ARGV[1])) do if redis.call("TTL", k) > 0 then n = n + 1 end end
return n' 0 'latest_price:*')
[[ $WITH_TTL == "$N" ]] || die "only $WITH_TTL of $N latest_price:* keys have a TTL > 0"
TTL_SAMPLE=$("${REDIS[@]}" TTL "latest_price:${SYMBOLS[0]}")

# --- the server's view: requests per provider, 429s, first and last request
curl -fsS "$BASE/__control/requests" >"$TMP/requests.json"
read -r POLY_REQ CG_REQ N429 OTHER FIRST LAST < <(python3 - "$TMP/requests.json" <<'PY'
import json, sys
log = [r for r in json.load(open(sys.argv[1])) if r.get("provider") in ("polygon", "coingecko")]
answered = [r for r in log if r["status"] != 429]
count = lambda p: sum(1 for r in answered if r["provider"] == p)
n429 = sum(1 for r in log if r["status"] == 429)
other = sum(1 for r in answered if not 200 <= r["status"] < 300)
ts = [r["ts"] for r in log] or [0.0]
print(count("polygon"), count("coingecko"), n429, other, f"{min(ts):.6f}", f"{max(ts):.6f}")
PY
)
REQUESTS=$((POLY_REQ + CG_REQ))
WANT_CG=$(((C + 99) / 100))
WANT_POLY=$((S >= 3 ? 2 : S)) # grouped daily: the two newest dates for all of them (three stocks or more)
[[ $POLY_REQ == "$WANT_POLY" ]] || log "warning: $POLY_REQ Polygon requests for $S stocks (expected $WANT_POLY)"
[[ $CG_REQ == "$WANT_CG" ]] || log "warning: $CG_REQ CoinGecko requests for $C crypto assets (expected $WANT_CG batches of <= 100 ids)"
# The floor counts the requests the limit had to let through (429s are not counted by the server).
# Each provider has its own limit, both R here: the floor is the busiest provider's requests / R.
BUSIEST=$((POLY_REQ > CG_REQ ? POLY_REQ : CG_REQ))
FLOOR=$(calc 'n * 60 / r' n="$BUSIEST" r="$RPM")
RATIO=$(calc 'w / f' w="$WALL" f="$FLOOR")
V=$(verdict "$RATIO" le 1.15)
V429=$([[ $N429 == 0 ]] && echo met || echo MISSED)
T_FETCH=$(json_get "$TMP/report.json" .timings.fetch)
T_DB=$(json_get "$TMP/report.json" .timings.database)
T_CACHE=$(json_get "$TMP/report.json" .timings.cache)
BEFORE=$(calc 'f - a' f="$FIRST" a="$t0")
SPAN=$(calc 'l - f' l="$LAST" f="$FIRST")
AFTER=$(calc 'b - l' b="$t1" l="$LAST")
pct() { calc '100 * x / w' x="$1" w="$WALL"; }

echo
echo "== latest bench: $N symbols ($S stocks via polygon, $C crypto via coingecko), ${LATENCY} ms latency, limit $RPM/min per provider"
printf '  %-44s %9.3f s\n' "ours: wall time of the run" "$WALL"
printf '  %-44s %9.3f s  (%s polygon requests / %s per min; %s coingecko)\n' "floor: requests / R" "$FLOOR" "$POLY_REQ" "$RPM" "$CG_REQ"
printf '  %-44s %8.3fx  (target <= 1.15)  %s\n' "wall / floor" "$RATIO" "$V"
printf '  %-44s %9s\n' "requests answered 429" "$N429"
printf '  %-44s %9s\n' "other non-2xx answers" "$OTHER"
printf '  %-44s %9.3f s\n' "start -> first request (server log)" "$BEFORE"
printf '  %-44s %9.3f s\n' "first -> last request (server log)" "$SPAN"
printf '  %-44s %9.3f s  (incl. the last reply'"'"'s %s ms)\n' "last request -> exit" "$AFTER" "$LATENCY"
printf '  %-44s %9.3f s  %5.1f%% of wall\n' "report: fetch" "$T_FETCH" "$(pct "$T_FETCH")"
printf '  %-44s %9.3f s  %5.1f%% of wall\n' "report: database (upsert latest_prices)" "$T_DB" "$(pct "$T_DB")"
printf '  %-44s %9.3f s  %5.1f%% of wall\n' "report: cache (Redis pipeline)" "$T_CACHE" "$(pct "$T_CACHE")"
printf '  %-44s %9s\n' "check: latest_prices rows" "$DB_ROWS"
printf '  %-44s %9s  (all with TTL > 0; %s has %s s)\n' "check: Redis latest_price:* keys" "$REDIS_KEYS" "${SYMBOLS[0]}" "$TTL_SAMPLE"

record "latest: wall vs rate-limit floor (s)" "$(printf '%.2f' "$WALL")" "$(printf '%.2f' "$FLOOR")" "$(printf '%.3f' "$RATIO")" "<= 1.15" "$V"
record "latest: 429 answers ($REQUESTS requests)" "$N429" "0" "-" "0" "$V429"
record "latest: database write vs wall (s)" "$(printf '%.3f' "$T_DB")" "$(printf '%.2f' "$WALL")" "$(printf '%.4f' "$(calc 'd / w' d="$T_DB" w="$WALL")")" "-" "-"
record "latest: Redis write vs wall (s)" "$(printf '%.3f' "$T_CACHE")" "$(printf '%.2f' "$WALL")" "$(printf '%.4f' "$(calc 'c / w' c="$T_CACHE" w="$WALL")")" "-" "-"
