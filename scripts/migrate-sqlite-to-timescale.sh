#!/usr/bin/env bash
# Moves a legacy SQLite market database (Stockula's or market-etl's own) into TimescaleDB, the way an
# operator does it once (issue 8 point 9): checks first, then the schema, the migration, a validation if
# etl-validate is installed, and the next steps.
#
# Usage: scripts/migrate-sqlite-to-timescale.sh [--allow-plain] SQLITE_FILE [DATABASE_URL] [-- MIGRATOR_ARGS...]
#
#   DATABASE_URL     postgresql://USER[:PASSWORD]@HOST[:PORT]/DB; default: $DATABASE_URL
#   --allow-plain    go on when the server has no TimescaleDB preloaded (plain PostgreSQL tables)
#   MIGRATOR_ARGS    passed to etl-migrate-sqlite as they are (--dry-run, --symbols A,B, --max-rejects N|P%,
#                    --report FILE, --include-unmapped, --no-progress ...)
#
# Steps:
#   1. preflight, each failure one line on stderr:
#        the SQLite file exists and is readable                     else exit 66
#        etl and etl-migrate-sqlite exist                           else exit 78
#        the server answers `select 1`                              else exit 75 (78 when it answers
#                                                                   that the password, role or database is wrong)
#        TimescaleDB is preloaded (its timescaledb.* settings exist) else how to enable it, exit 78
#          (--allow-plain: a warning, and plain PostgreSQL)
#        free space on the server's data directory >= 2 x the SQLite file, when the server is local (a
#          Unix socket or loopback address) and `SHOW data_directory` is allowed (superuser or
#          pg_read_all_settings); otherwise a warning and no check          else exit 73 (EX_CANTCREAT:
#          the target cannot take the data; not 75, which means "try again later" to the scheduler)
#   2. `etl db migrate` (the schema); its exit code if it fails
#   3. `etl-migrate-sqlite SQLITE_FILE MIGRATOR_ARGS...`
#   4. `etl-validate --against sqlite:SQLITE_FILE`, only when an etl-validate binary sits next to
#      etl-migrate-sqlite (its failure is reported; the exit code stays the migrator's)
#   5. the next steps: the DATABASE_URL line for /etc/market-etl/env and the crontab lines
# Exits with etl-migrate-sqlite's code (0 ok, 65 rejects above the limit, 66, 75, 78, 130 ...).
#
# The password in the URL is never printed, logged or put on a command line (where `ps` shows it): the
# binaries get the URL in DATABASE_URL, psql gets the URL without it and the password in PGPASSWORD.
#
# Environment: ETL=path (default build/apps/etl), ETL_MIGRATE=path (default build/apps/etl-migrate-sqlite),
# DATABASE_URL (when no URL argument), PGCONNECT_TIMEOUT (default 10 s for the preflight).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
ETL=${ETL:-$ROOT/build/apps/etl}
ETL_MIGRATE=${ETL_MIGRATE:-$ROOT/build/apps/etl-migrate-sqlite}
PROG=$(basename "$0")
USAGE="usage: $PROG [--allow-plain] SQLITE_FILE [DATABASE_URL] [-- MIGRATOR_ARGS...]"

say() { printf '%s: %s\n' "$PROG" "$*" >&2; }
fail() {
    local code=$1
    shift
    say "$*"
    exit "$code"
}

# The URL (or every URL in a line of text) without its password: postgresql://user:secret@host/db ->
# postgresql://user@host/db, and a password=... query parameter removed.
redact_url() {
    sed -E -e 's#([a-zA-Z][a-zA-Z0-9+.-]*://[^:/?@[:space:]]*):[^@/[:space:]]*@#\1@#g' \
        -e 's#([?&])password=[^&[:space:]]*&?#\1#g' -e 's#[?&]($|[[:space:]])#\1#g' <<<"$1"
}
# The password of the URL, percent-decoded ('' when there is none).
url_password() {
    local pw=""
    if [[ $1 =~ ^[a-zA-Z][a-zA-Z0-9+.-]*://[^:/?@]*:([^@/]*)@ ]]; then
        pw=${BASH_REMATCH[1]}
    elif [[ $1 =~ [?\&]password=([^\&]*) ]]; then
        pw=${BASH_REMATCH[1]}
    fi
    pw=${pw//\\/\\\\}
    printf '%b' "${pw//%/\\x}"
}

allow_plain=""
positional=()
extra=()
while (($#)); do
    case $1 in
    --allow-plain) allow_plain=1 ;;
    -h | --help)
        sed -n '2,/^set -euo/p' "$0" | sed -e '$d' -e 's/^# \{0,1\}//'
        exit 0
        ;;
    --)
        shift
        extra=("$@")
        break
        ;;
    -*) fail 64 "unknown option $1; $USAGE" ;;
    *) positional+=("$1") ;;
    esac
    shift
done
((${#positional[@]} >= 1 && ${#positional[@]} <= 2)) || fail 64 "$USAGE"
FILE=${positional[0]}
URL=${positional[1]:-${DATABASE_URL:-}}
[[ -n $URL ]] || fail 64 "no database: pass DATABASE_URL as the second argument or set DATABASE_URL; $USAGE"
SAFE_URL=$(redact_url "$URL")

# 1. Preflight.
[[ -e $FILE ]] || fail 66 "SQLite file $FILE does not exist: check the path"
[[ -f $FILE && -r $FILE ]] || fail 66 "SQLite file $FILE is not a readable file"
[[ -x $ETL ]] || fail 78 "$ETL is missing: build it (scripts/build.sh) or set ETL=path"
[[ -x $ETL_MIGRATE ]] || fail 78 "$ETL_MIGRATE is missing: build it (scripts/build.sh) or set ETL_MIGRATE=path"
command -v psql >/dev/null || fail 78 "psql is missing: apt-get install postgresql-client"

# psql sees the URL without its password; the password goes through the environment.
PASSWORD=$(url_password "$URL")
q() {
    if [[ -n $PASSWORD ]]; then
        PGPASSWORD=$PASSWORD PGCONNECT_TIMEOUT=${PGCONNECT_TIMEOUT:-10} psql -X -At -v ON_ERROR_STOP=1 -d "$SAFE_URL" -c "$1"
    else
        PGCONNECT_TIMEOUT=${PGCONNECT_TIMEOUT:-10} psql -X -At -v ON_ERROR_STOP=1 -d "$SAFE_URL" -c "$1"
    fi
}

if ! err=$(q 'select 1' 2>&1 >/dev/null); then
    # psql's own first line says why (refused, timeout, authentication); it holds no password, but
    # it goes through the redaction all the same. As in the binaries (pg::Connection), a refused
    # password or a missing role/database is configuration (78); anything else is unreachable (75).
    reason=$(redact_url "$(head -n 1 <<<"$err")")
    if [[ $reason == *"password authentication failed"* || $reason == *"does not exist"* ]]; then
        fail 78 "the database at $SAFE_URL refused the connection: ${reason#psql: }"
    fi
    fail 75 "cannot reach the database at $SAFE_URL: ${reason#psql: }"
fi

timescale=$(q "SELECT count(*) > 0 FROM pg_settings WHERE name LIKE 'timescaledb.%'") ||
    fail 75 "the database at $SAFE_URL answered, then failed a query on pg_settings"
if [[ $timescale != t ]]; then
    available=$(q "SELECT count(*) > 0 FROM pg_available_extensions WHERE name = 'timescaledb'") || available=
    say "TimescaleDB is not preloaded on this server, so price_bars would be a plain table (no hypertable, no compression)."
    if [[ $available != t ]]; then
        say "  install it first: the timescaledb package for this PostgreSQL version (https://docs.timescale.com/self-hosted/latest/install/)"
    fi
    say "  to enable it: set  shared_preload_libraries = 'timescaledb'  in postgresql.conf, restart the server,"
    say "  then run  CREATE EXTENSION IF NOT EXISTS timescaledb;  in the database (etl db migrate does that too)."
    if [[ -z $allow_plain ]]; then
        fail 78 "stopping: enable TimescaleDB as above, or pass --allow-plain to migrate into plain PostgreSQL"
    fi
    say "warning: --allow-plain: going on with plain PostgreSQL"
fi

# Free space: twice the SQLite file, on the filesystem of a local server's data directory.
need_kib=$((($(stat -c %s "$FILE") * 2 + 1023) / 1024))
need_mib=$(((need_kib + 1023) / 1024))
server_addr=$(q "SELECT coalesce(host(inet_server_addr()), 'socket')") || server_addr=unknown
if [[ $server_addr == socket || $server_addr == 127.* || $server_addr == ::1 ]]; then
    if data_dir=$(q 'SHOW data_directory' 2>/dev/null) && [[ -n $data_dir ]] &&
        free_kib=$(df -Pk "$data_dir" 2>/dev/null | awk 'NR == 2 { print $4 }') && [[ -n $free_kib ]]; then
        if ((free_kib < need_kib)); then
            fail 73 "not enough disk: $((free_kib / 1024)) MiB free for $data_dir, the migration wants $need_mib MiB (twice the SQLite file); free some space first"
        fi
        say "free disk: $((free_kib / 1024)) MiB for $data_dir (the migration wants $need_mib MiB)"
    else
        say "warning: cannot read the server's data directory or its free space (SHOW data_directory needs superuser or pg_read_all_settings): free disk not checked; the migration wants about $need_mib MiB"
    fi
else
    say "warning: the server is not local ($server_addr): free disk not checked; the migration wants about $need_mib MiB there"
fi

# 2-4. Schema, migration, validation. The binaries read the URL from DATABASE_URL, never from argv.
# A --dry-run writes nothing, not even the schema.
export DATABASE_URL=$URL
dry_run=""
for a in "${extra[@]}"; do [[ $a == --dry-run ]] && dry_run=1; done
if [[ -z $dry_run ]]; then
    say "applying the schema: etl db migrate ($SAFE_URL)"
    rc=0
    "$ETL" db migrate || rc=$?
    ((rc == 0)) || fail "$rc" "etl db migrate failed (exit $rc): nothing was migrated"
fi

say "$(redact_url "migrating: etl-migrate-sqlite $FILE${extra[*]:+ ${extra[*]}}")"
rc=0
"$ETL_MIGRATE" "$FILE" "${extra[@]}" || rc=$?

VALIDATE=$(dirname "$ETL_MIGRATE")/etl-validate
if ((rc == 0)) && [[ -z $dry_run && -x $VALIDATE ]]; then
    say "validating: etl-validate --against sqlite:$FILE"
    vrc=0
    "$VALIDATE" --against "sqlite:$FILE" || vrc=$?
    ((vrc == 0)) || say "warning: etl-validate found differences (exit $vrc): read its output above before switching over"
fi

if ((rc != 0 && rc != 65)); then
    fail "$rc" "etl-migrate-sqlite failed (exit $rc): see its message above; a re-run resumes"
fi

if [[ -n $dry_run ]]; then
    ((rc == 0)) && say "dry run done: nothing was written; run again without --dry-run to migrate"
    exit "$rc"
fi

# 5. Next steps.
echo
if ((rc == 65)); then
    echo "Migrated, with more rejected rows than the limit (exit 65): the valid rows are loaded; read the report's rejects before going on."
else
    echo "Migrated."
fi
echo "Next steps:"
echo "  1. Put the database in the jobs' environment (/etc/market-etl/env, read through BASH_ENV):"
echo "       DATABASE_URL=$SAFE_URL"
if [[ $SAFE_URL != "$URL" ]]; then
    echo "     (the password was left out here: add it back in that root-readable file, or keep it in ~/.pgpass)"
fi
echo "  2. Install the schedule (crontab -e; the full file with comments is crontab.example):"
if [[ -f $ROOT/crontab.example ]]; then
    grep -v -e '^[[:space:]]*#' -e '^[[:space:]]*$' "$ROOT/crontab.example" | sed 's/^/       /'
else
    echo "       (crontab.example is not next to this script: see the project's crontab.example)"
fi
exit "$rc"
