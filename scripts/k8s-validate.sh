#!/usr/bin/env bash
# Validates Kubernetes manifests against the Kubernetes API schema, strictly (unknown fields are
# errors): tests/k8s/validate.cjs with the npm packages pinned in tests/k8s/package-lock.json
# (kubernetes-models: the JSON schema generated from the Kubernetes OpenAPI definitions; yaml).
#
#   scripts/k8s-validate.sh [FILE...]      (default: every etc/k8s/*.yaml but kustomization.yaml)
#
# Prints one JSON line per YAML document (file, index, apiVersion, kind, name, errors) and exits 0
# when all are valid, 1 when one is not, 2 when a file cannot be parsed or names an unknown kind
# (kustomization.yaml is not an API object: tests/e2e/test_k8s.py checks it), 69 when the validator
# cannot be installed.
#
# The packages are installed with `npm ci` once, outside the repository, in
# $ETL_CACHE_DIR/k8s-validator-<hash of the lock file> (ETL_CACHE_DIR as in scripts/timescaledb.sh:
# /var/cache/market-etl as root, ~/.cache/market-etl otherwise); a warm cache runs in well under a
# second. Needs node >= 18 and npm: scripts/install-deps.sh installs Debian's nodejs and npm when npm
# is missing.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$PWD

if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
  echo "k8s-validate.sh: node and npm are needed (scripts/install-deps.sh installs them)" >&2
  exit 69
fi

if [ "$(id -u)" -eq 0 ]; then default_cache=/var/cache/market-etl; else default_cache=${XDG_CACHE_HOME:-$HOME/.cache}/market-etl; fi
cache=${ETL_CACHE_DIR:-$default_cache}
lock=$repo/tests/k8s/package-lock.json
dir=$cache/k8s-validator-$(cat "$repo/tests/k8s/package.json" "$lock" | sha256sum | cut -c1-16)

if [ ! -f "$dir/.complete" ]; then
  mkdir -p "$cache"
  # One installer at a time (ctest runs test files in parallel); the others wait and reuse its copy.
  exec 9>"$cache/k8s-validator.lock"
  flock 9
  if [ ! -f "$dir/.complete" ]; then
    tmp=$(mktemp -d "$cache/k8s-validator.tmp.XXXXXX")
    cp "$repo/tests/k8s/package.json" "$lock" "$tmp/"
    echo "k8s-validate.sh: installing the validator into $dir (npm ci)" >&2
    if ! (cd "$tmp" && npm ci --no-audit --no-fund --ignore-scripts --loglevel=error >&2); then
      rm -rf "$tmp"
      echo "k8s-validate.sh: npm ci failed (is the npm registry reachable?)" >&2
      exit 69
    fi
    touch "$tmp/.complete"
    rm -rf "$dir"
    mv "$tmp" "$dir"
  fi
  exec 9>&-
fi

if [ $# -eq 0 ]; then
  for f in "$repo"/etc/k8s/*.yaml; do [ "$(basename "$f")" = kustomization.yaml ] || set -- "$@" "$f"; done
fi
K8S_VALIDATOR_MODULES=$dir exec node "$repo/tests/k8s/validate.cjs" "$@"
