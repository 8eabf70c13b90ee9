#!/usr/bin/env bash
# Usage: scripts/pg-servers.sh TIMESCALEDB_BINDIR COMMAND [ARG...]
#
# Starts two throwaway PostgreSQL servers on loopback from TIMESCALEDB_BINDIR (the private PostgreSQL
# copy with TimescaleDB that scripts/timescaledb.sh prints), runs COMMAND with their coordinates in the
# environment, and stops and removes them when COMMAND ends:
#
#   timescaledb           shared_preload_libraries = 'timescaledb' (hypertables, compression, jobs)
#   timescaledb_unloaded  the extension installed but not preloaded: the state right after installing
#                         the package, where CREATE EXTENSION is a FATAL error
#
# For each NAME it exports ETL_TEST_<NAME>_PGHOST, _PGPORT and _PGUSER (superuser, trust auth);
# tests/pg_target.sh turns them into PG* variables for one test. The plain-PostgreSQL server is the
# pg_virtualenv cluster around the whole suite (scripts/test.sh).
set -euo pipefail
[ $# -ge 2 ] || { echo "usage: $0 TIMESCALEDB_BINDIR COMMAND [ARG...]" >&2; exit 64; }
bindir=$1
shift
[ -x "$bindir/postgres" ] || { echo "pg-servers.sh: no postgres in $bindir (run scripts/timescaledb.sh)" >&2; exit 69; }

# The server refuses to run as root: as root, the clusters belong to the postgres user.
as_owner=()
if [ "$(id -u)" -eq 0 ]; then as_owner=(runuser -u postgres --); fi

free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

dirs=()
cleanup() {
  for d in "${dirs[@]}"; do
    "${as_owner[@]}" "$bindir/pg_ctl" -D "$d/data" -m immediate stop >/dev/null 2>&1 || true
    rm -rf "$d"
  done
}
trap cleanup EXIT
trap 'exit 130' INT TERM

start_server() {  # NAME EXTRA_SETTINGS...
  local name=$1
  shift
  local dir port upper
  dir=$(mktemp -d "${TMPDIR:-/tmp}/etl-pg-$name.XXXXXX")
  dirs+=("$dir")
  chmod 0755 "$dir"
  [ ${#as_owner[@]} -eq 0 ] || chown postgres "$dir"
  "${as_owner[@]}" "$bindir/initdb" -D "$dir/data" -A trust -U postgres --no-sync >/dev/null
  local tries=0
  while :; do
    port=$(free_port)
    # fsync off: a throwaway cluster; nothing here must survive a crash of the machine.
    if "${as_owner[@]}" "$bindir/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 \
        -o "-p $port -k $dir -c listen_addresses=127.0.0.1 -c fsync=off -c full_page_writes=off $*" \
        start >/dev/null; then
      break
    fi
    tries=$((tries + 1))
    if [ $tries -ge 3 ]; then
      echo "pg-servers.sh: the $name server did not start; its log:" >&2
      tail -n 20 "$dir/server.log" >&2
      exit 69
    fi
  done
  upper=$(echo "$name" | tr '[:lower:]' '[:upper:]')
  export "ETL_TEST_${upper}_PGHOST=127.0.0.1" "ETL_TEST_${upper}_PGPORT=$port" "ETL_TEST_${upper}_PGUSER=postgres"
  echo "pg-servers.sh: $name server on 127.0.0.1:$port" >&2
}

# For tests that need a server of their own (one restarted without the preload, say).
export ETL_TEST_TIMESCALEDB_BINDIR=$bindir
start_server timescaledb -c shared_preload_libraries=timescaledb -c timescaledb.telemetry_level=off \
  -c timescaledb.max_background_workers=4 -c max_worker_processes=16
start_server timescaledb_unloaded

"$@"
