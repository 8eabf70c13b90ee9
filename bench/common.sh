# Shared helpers for the bench scripts (sourced, not run). Bash only.
# shellcheck shell=bash

BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO_DIR=$(cd "$BENCH_DIR/.." && pwd)

# The binaries under test: the normal build (cmake -S . -B build && ninja -C build).
ETL_HISTORICAL=${ETL_HISTORICAL:-$REPO_DIR/build/apps/etl-historical}
ETL_LATEST=${ETL_LATEST:-$REPO_DIR/build/apps/etl-latest}
ETL_CLI=${ETL_CLI:-$REPO_DIR/build/apps/etl}

# "Today" is pinned so every run generates and fetches the same bars.
export ETL_NOW=${ETL_NOW:-2026-11-20T21:00:00Z}

log() { printf '[bench %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { log "error: $*"; exit 1; }

# Re-executes the calling script under pg_virtualenv (a throwaway PostgreSQL cluster) unless a
# PostgreSQL environment is already there. BENCH_NO_VIRTUALENV=1 uses whatever libpq defaults to.
# Usage: ensure_pg "$0" "$@"
ensure_pg() {
    local self=$1
    shift
    if [[ -n "${PGHOST:-}${PGPORT:-}${PGDATABASE:-}${PGSERVICE:-}" || -n "${BENCH_NO_VIRTUALENV:-}" ]]; then
        return 0
    fi
    # A /dev/null replaced by a regular file (e.g. by renaming a report onto it as root) makes initdb
    # fail with "cannot create /dev/null: Permission denied"; say so instead.
    [[ -c /dev/null ]] || die "/dev/null is not a character device (something replaced it); PostgreSQL cannot start"
    command -v pg_virtualenv >/dev/null || die "no PG* environment and no pg_virtualenv: set PGHOST/PGPORT/... or install postgresql-common"
    log "no PG* environment: re-running under pg_virtualenv (a throwaway cluster)"
    export BENCH_OWN_CLUSTER=1
    exec pg_virtualenv -- "$(cd "$(dirname "$self")" && pwd)/$(basename "$self")" "$@"
}

# pg_virtualenv creates its cluster with fsync=off. A naive per-row script runs against a real server,
# where every autocommit flushes WAL, so a throwaway cluster gets fsync=on unless BENCH_FSYNC=off.
# Any other server is left as it is (its settings are printed with the results).
# True when the server is a pg_virtualenv throwaway cluster: one we re-executed under, or the caller's
# `pg_virtualenv -- bench/run.sh` (cluster "VERSION/regress" with pg_virtualenv's marker file).
is_throwaway_cluster() {
    [[ -n "${BENCH_OWN_CLUSTER:-}" ]] && return 0
    [[ -n "${PGVERSION:-}" && -f "${PG_CLUSTER_CONF_ROOT:-/etc/postgresql}/$PGVERSION/regress/.by_pg_virtualenv" ]] || return 1
    [[ $(psql -X -Atc 'SHOW cluster_name' -d postgres 2>/dev/null) == "$PGVERSION/regress" ]]
}
tune_own_cluster() {
    is_throwaway_cluster || return 0
    local want=${BENCH_FSYNC:-on}
    psql -X -q -v ON_ERROR_STOP=1 -d postgres -c "ALTER SYSTEM SET fsync = '$want'" -c 'SELECT pg_reload_conf()' >/dev/null
    # The reload is asynchronous: wait until a new session sees it.
    for _ in $(seq 50); do
        [[ $(psql -X -Atc 'SHOW fsync' -d postgres) == "$want" ]] && return 0
        sleep 0.1
    done
    die "could not set fsync=$want on the throwaway cluster"
}

# The 1-minute load average, to judge how quiet the machine was.
loadavg() { cut -d' ' -f1 /proc/loadavg; }

# Long-running children run in the background and are waited for: bash runs a trap only after the
# foreground command ends, so a signal to a script would otherwise wait out a whole etl-historical run.
# The scripts' cleanup calls kill_children.
CHILD_PIDS=()
start_child() {
    "$@" &
    CHILD_PIDS+=($!)
}
# Waits for every started child; non-zero if any failed.
wait_children() {
    local rc=0 p
    for p in "${CHILD_PIDS[@]}"; do wait "$p" || rc=1; done
    CHILD_PIDS=()
    return "$rc"
}
run_child() {
    start_child "$@"
    wait_children
}
kill_children() {
    local p
    for p in "${CHILD_PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
    for p in "${CHILD_PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
    CHILD_PIDS=()
}

# Seconds since the epoch with nanoseconds, for wall-clock intervals.
now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", b - a }'; }
# calc EXPR [name=value ...]: floating-point arithmetic with awk.
calc() {
    local expr=$1
    shift
    local args=()
    for kv in "$@"; do args+=(-v "$kv"); done
    awk "${args[@]}" "BEGIN { printf \"%.6g\", ($expr) }"
}
# Median of the arguments (numbers).
median() { printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else printf "%.6g\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
# Human numbers: 12345.6 -> 12,346
fmt_int() { LC_ALL=C awk -v x="$1" 'BEGIN { s = sprintf("%.0f", x); n = length(s); o = ""; for (i = 1; i <= n; i++) { o = o substr(s, i, 1); if ((n - i) % 3 == 0 && i < n) o = o "," } print o }'; }

# A result row for run.sh's table: record LABEL OURS REFERENCE RATIO TARGET STATUS
# Appended to $BENCH_RESULTS (tab-separated) when run.sh set it; always echoed.
record() {
    local line
    line=$(printf '%s\t%s\t%s\t%s\t%s\t%s' "$@")
    if [[ -n "${BENCH_RESULTS:-}" ]]; then printf '%s\n' "$line" >>"$BENCH_RESULTS"; fi
}
# verdict VALUE OP LIMIT -> "met" or "MISSED" (OP: ge, le, lt)
verdict() {
    local ok
    case $2 in
    ge) ok=$(awk -v a="$1" -v b="$3" 'BEGIN { print (a >= b) }') ;;
    le) ok=$(awk -v a="$1" -v b="$3" 'BEGIN { print (a <= b) }') ;;
    lt) ok=$(awk -v a="$1" -v b="$3" 'BEGIN { print (a < b) }') ;;
    *) die "verdict: bad operator $2" ;;
    esac
    if [[ $ok == 1 ]]; then echo met; else echo MISSED; fi
}

# import_bench_assets PREFIX S C DATABASE_URL: S stocks PREFIX"S"0001 ... and C coins PREFIX"C"0001 ...
# (CoinGecko ids bench-coin-0001 ...) into `assets` with `etl assets import` ($TMP/assets.csv), their
# symbols in SYMBOLS (stocks first), so a timed run sees known assets, as a scheduled run does.
import_bench_assets() {
    local prefix=$1 stocks=$2 coins=$3 url=$4 i
    SYMBOLS=()
    {
        echo "symbol,asset_class,coingecko_id"
        for ((i = 1; i <= stocks; i++)); do
            SYMBOLS+=("$(printf '%sS%04d' "$prefix" "$i")")
            printf '%sS%04d,stock,\n' "$prefix" "$i"
        done
        for ((i = 1; i <= coins; i++)); do
            SYMBOLS+=("$(printf '%sC%04d' "$prefix" "$i")")
            printf '%sC%04d,crypto,bench-coin-%04d\n' "$prefix" "$i" "$i"
        done
    } >"$TMP/assets.csv"
    "$ETL_CLI" assets import "$TMP/assets.csv" --database-url "$url" --log-level warn >"$TMP/import.log" 2>&1 ||
        { cat "$TMP/import.log" >&2; die "etl assets import failed"; }
}

# An empty config file, so no ./etl.toml or /etc/market-etl/etl.toml changes what is measured.
isolated_config() {
    local dir=$1
    : >"$dir/etl.toml"
    export ETL_CONFIG="$dir/etl.toml"
}

# A JSON field from a --report file: json_get FILE '.rows.inserted'
json_get() {
    python3 - "$1" "$2" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
for k in sys.argv[2].strip(".").split("."):
    d = d[k]
print(d)
PY
}

# Starts the fake provider server on a free loopback port with the arguments given (after any
# VAR=value environment words), waits until it answers, and sets SERVER_PID and BASE
# (http://127.0.0.1:PORT). Its log goes to $TMP/server.log; the caller's trap stops SERVER_PID.
start_fake_server() {
    local env_words=()
    while [[ $# -gt 0 && $1 == *=* && $1 != -* ]]; do env_words+=("$1"); shift; done
    rm -f "$TMP/port"
    env "${env_words[@]}" python3 "$REPO_DIR/tests/fake_provider/server.py" --port 0 --port-file "$TMP/port" "$@" \
        >"$TMP/server.log" 2>&1 &
    SERVER_PID=$!
    for _ in $(seq 100); do
        [[ -s $TMP/port ]] && break
        kill -0 "$SERVER_PID" 2>/dev/null || { cat "$TMP/server.log" >&2; die "the fake server exited"; }
        sleep 0.1
    done
    [[ -s $TMP/port ]] || die "the fake server did not start"
    BASE=http://127.0.0.1:$(tr -d '[:space:]' <"$TMP/port")
    curl -fsS "$BASE/__health" >/dev/null || die "the fake server does not answer"
}
