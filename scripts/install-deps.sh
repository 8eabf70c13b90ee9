#!/usr/bin/env bash
# Installs the Debian 12 packages market-etl builds, tests and benchmarks with. Does nothing when they
# are all present already (so the test command stays fast on a warm machine). Uses sudo when not root.
set -euo pipefail

packages=(
  g++ cmake ninja-build pkg-config git ca-certificates tzdata python3
  libcli11-dev libpq-dev libcurl4-openssl-dev libsimdjson-dev libfmt-dev libtoml11-dev catch2
  libsqlite3-dev libhiredis-dev libhowardhinnant-date-dev libexpected-dev
  postgresql postgresql-client sqlite3 redis-server curl
  prometheus prometheus-pushgateway
  clang libclang-rt-14-dev clang-format clang-tidy
  python3-croniter systemd  # tests/e2e/test_schedules.py: croniter, systemd-analyze
  logrotate binutils  # tests/e2e/test_logrotate.py; tests/e2e/test_install.py: readelf
  python3-tz python3-yaml   # tests/e2e/test_k8s.py: croniter in America/New_York, the manifests
  python3-pandas            # tests/e2e/test_derive.py: reference indicators
)
# tests/e2e/test_k8s.py validates etc/k8s/ with an npm package (scripts/k8s-validate.sh): Debian's
# nodejs and npm, only when no npm is on the PATH (a node installed otherwise is left alone).
command -v npm >/dev/null || packages+=(nodejs npm)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

sudo=()
[ "$(id -u)" -eq 0 ] || sudo=(sudo)
echo "installing: ${missing[*]}" >&2
"${sudo[@]}" apt-get update -qq
DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
