#!/usr/bin/env bash
# Sets up and runs the main job on the embedded default: installs the Debian packages, builds, and
# loads one year of daily bars for AAPL, MSFT and BTC from the mock provider into ./market-etl.db
# (SQLite). No API key or network needed beyond the package mirror. Extra arguments go to the job.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
scripts/build.sh
./build/apps/etl historical 1Y AAPL MSFT BTC --mock "$@"
