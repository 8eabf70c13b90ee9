#!/usr/bin/env bash
# Builds TimescaleDB from the vendored source (../shared/vendor/timescaledb-*.tar.gz) into a private
# copy of the Debian PostgreSQL 15 installation, cached outside the repository, and prints that
# copy's bin directory. The system PostgreSQL stays plain (no extension available), so the tests can
# run the same binaries against three servers: plain PostgreSQL, TimescaleDB installed but not
# preloaded, and TimescaleDB preloaded.
#
# PostgreSQL is relocatable: a copy of /usr/lib/postgresql/15 + /usr/share/postgresql/15 under
# PREFIX/usr finds its share and lib directories relative to its own binaries.
#
# Cache: $ETL_CACHE_DIR, default /var/cache/market-etl as root (the postgres user, which runs the
# test clusters then, must be able to read it; /root is private) or ~/.cache/market-etl otherwise;
# in it pg15-timescaledb-<sha>-<pg version>;
# a warm machine skips the build (a few seconds instead of about 75 s on 2 cores).
# Tarball: ETL_TIMESCALEDB_TARBALL, default ../shared/vendor/timescaledb-2.28.3.tar.gz.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$PWD

tarball=${ETL_TIMESCALEDB_TARBALL:-$repo/../shared/vendor/timescaledb-2.28.3.tar.gz}
[ -f "$tarball" ] || { echo "timescaledb.sh: $tarball not found (set ETL_TIMESCALEDB_TARBALL)" >&2; exit 66; }

pg_bin=/usr/lib/postgresql/15/bin
[ -x "$pg_bin/postgres" ] || { echo "timescaledb.sh: PostgreSQL 15 server not installed (run scripts/install-deps.sh)" >&2; exit 69; }

sha=$(sha256sum "$tarball" | cut -c1-16)
pgver=$("$pg_bin/postgres" --version | awk '{print $3}')
if [ "$(id -u)" -eq 0 ]; then default_cache=/var/cache/market-etl; else default_cache=${XDG_CACHE_HOME:-$HOME/.cache}/market-etl; fi
cache=${ETL_CACHE_DIR:-$default_cache}
prefix=$cache/pg15-timescaledb-$sha-$pgver
bindir=$prefix/usr/lib/postgresql/15/bin

if [ -f "$prefix/.complete" ]; then
  echo "$bindir"
  exit 0
fi

# Build dependencies (the server headers must match the server's major version).
build_packages=(postgresql-server-dev-15 libssl-dev libkrb5-dev cmake make gcc)
missing=()
for p in "${build_packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  sudo=()
  [ "$(id -u)" -eq 0 ] || sudo=(sudo)
  echo "timescaledb.sh: installing ${missing[*]}" >&2
  "${sudo[@]}" apt-get update -qq >&2
  DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
fi

echo "timescaledb.sh: building TimescaleDB into $prefix (cold cache: about 75 s on 2 cores)" >&2
mkdir -p "$cache"
work=$(mktemp -d "$cache/build.XXXXXX")
trap 'rm -rf "$work"' EXIT
stage=$work/stage
mkdir -p "$stage/usr/lib/postgresql" "$stage/usr/share/postgresql"
cp -a /usr/lib/postgresql/15 "$stage/usr/lib/postgresql/"
cp -a /usr/share/postgresql/15 "$stage/usr/share/postgresql/"

tar xzf "$tarball" -C "$work"
src=$(find "$work" -maxdepth 1 -type d -name 'timescaledb-*' | head -n1)
(
  cd "$src"
  # -O1 -g0 (after PostgreSQL's own "-g -O2" and in place of Release's -O3): 40 % less compile time, which
  # a cold CI run pays; the test servers hold kilobytes to a few megabytes, where -O3 buys nothing. (-O1
  # warns of maybe-uninitialized variables that -O3 proves set: silenced, the source is not ours.)
  ./bootstrap -DPG_CONFIG="$pg_bin/pg_config" -DREGRESS_CHECKS=OFF -DTAP_CHECKS=OFF \
    -DWARNINGS_AS_ERRORS=OFF -DLINTER=OFF -DUSE_TELEMETRY=OFF -DCMAKE_BUILD_TYPE=Release \
    -DCMAKE_C_FLAGS_RELEASE="-O1 -g0 -DNDEBUG -Wno-maybe-uninitialized" >/dev/null
  make -C build -j"$(nproc)" >/dev/null
  make -C build install DESTDIR="$stage" >/dev/null
) >&2

# The extension files landed under $stage/usr/... (the system paths, relative to DESTDIR).
ls "$stage"/usr/lib/postgresql/15/lib/timescaledb*.so >/dev/null
ls "$stage"/usr/share/postgresql/15/extension/timescaledb.control >/dev/null

chmod -R a+rX "$stage"
rm -rf "$prefix"
mv "$stage" "$prefix"
chmod a+rx "$cache"
touch "$prefix/.complete"
echo "$bindir"
