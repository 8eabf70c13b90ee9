#!/usr/bin/env bash
# Smoke test for tests/fake_provider/server.py: starts servers on port 0 (127.0.0.1 only), exercises every
# route and every control mode with curl, asserts with python3 -c style checks, stops the servers.
# Usage: tests/fake_provider/smoke_test.sh        (exit 0 = all passed)
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
TMP=$(mktemp -d)
PIDS=()
PASS=0
FAIL=0
cleanup() {
  local p
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  rm -rf "$TMP"
}
trap cleanup EXIT

# Pinned clock: today = Wed 2025-03-12, now = 2025-03-12T23:00:00Z (1741820400).
export FAKE_TODAY=2025-03-12 FAKE_YAHOO_LIVE_ROW=1 FAKE_CG_ENFORCE_365=1
UA='Mozilla/5.0 (X11; Linux x86_64) smoke'

# start NAME ARGS... : start a server, wait for its port file, set $BASE and PID_<NAME>.
start() {
  local name=$1 i; shift
  python3 "$HERE/server.py" --port 0 --port-file "$TMP/$name.port" "$@" >"$TMP/$name.out" 2>"$TMP/$name.err" &
  PIDS+=($!)
  eval "PID_$name=$!"
  for i in $(seq 200); do [ -s "$TMP/$name.port" ] && break; sleep 0.05; done
  BASE="http://127.0.0.1:$(cat "$TMP/$name.port")"
}

# fetch URL [curl args...] : body -> $TMP/body, headers -> $TMP/hdr, status -> $CODE, curl exit -> $RC
fetch() {
  local url=$1; shift
  set +e
  CODE=$(curl -s -o "$TMP/body" -D "$TMP/hdr" -w '%{http_code}' "$@" "$url")
  RC=$?
  set -e
}

# check DESCRIPTION EXPR... : every python EXPR must be true. Names: code, rc, body (text), d (JSON or None),
# h (lower-cased response headers), ny(ts) -> 'YYYY-MM-DD HH:MM' in America/New_York, m (Yahoo meta or None),
# ycloses(file) -> {ET date: close} of a Yahoo daily chart saved with save FILE.
check() {
  local desc=$1; shift
  if CODE=$CODE RC=${RC:-0} SMOKE_TMP=$TMP python3 - "$TMP/body" "$TMP/hdr" "$@" <<'PY'
import json, os, sys
from datetime import datetime
from zoneinfo import ZoneInfo
body = open(sys.argv[1], "rb").read().decode("utf-8", "replace")
h = {}
for line in open(sys.argv[2], encoding="latin-1"):
    if ":" in line:
        k, v = line.split(":", 1)
        h[k.strip().lower()] = v.strip()
code, rc = int(os.environ["CODE"]), int(os.environ["RC"])
try:
    d = json.loads(body)
except ValueError:
    d = None
ny = lambda ts: datetime.fromtimestamp(ts, ZoneInfo("America/New_York")).strftime("%Y-%m-%d %H:%M")
def ycloses(path):
    """{ET date: close} of a saved Yahoo daily chart (the first row of each date, i.e. not the live row)."""
    r = json.load(open(path))["chart"]["result"][0]
    out = {}
    for t, c in zip(r["timestamp"], r["indicators"]["quote"][0]["close"]):
        out.setdefault(ny(t)[:10], c)
    return out
m = d["chart"]["result"][0]["meta"] if isinstance(d, dict) and (d.get("chart") or {}).get("result") else None
for expr in sys.argv[3:]:
    try:
        ok = eval(expr)
    except Exception as e:
        ok = False
        print(f"    error in {expr}: {e!r}")
    if not ok:
        print(f"    failed: {expr}\n    status={code} body={body[:300]!r}")
        sys.exit(1)
PY
  then PASS=$((PASS + 1)); echo "ok   $desc"
  else FAIL=$((FAIL + 1)); echo "FAIL $desc"
  fi
}

# save NAME : keep the last body as $TMP/NAME
save() { cp "$TMP/body" "$TMP/$1"; }

rules() { curl -s -o /dev/null -w '%{http_code}' -X POST -H 'Content-Type: application/json' -d "$1" "$A/__control/rules"; }

# ------------------------------------------------------------------------------------------------ server A
start A --polygon-key PK --coingecko-key CK --polygon-page-size 3 --log "$TMP/A.log"
A=$BASE
grep -qx '[0-9][0-9]*' "$TMP/A.port" && grep -q "^listening on 127.0.0.1:$(cat "$TMP/A.port")$" "$TMP/A.out" \
  && { PASS=$((PASS + 1)); echo "ok   port file + listening line"; } || { FAIL=$((FAIL + 1)); echo "FAIL port file"; }
fetch "$A/__health";  check "health" 'code == 200 and body == "ok"'

# --- Polygon
P="$A/v2/aggs/ticker"
fetch "$P/AAPL/range/1/day/2025-03-06/2025-03-12?adjusted=true&sort=asc&limit=50000"
check "polygon: no key -> 401" 'code == 401' 'd["error"] == "API Key was not provided"' 'd["status"] == "ERROR"'
fetch "$P/AAPL/range/1/day/2025-03-06/2025-03-12" -H 'Authorization: Bearer nope'
check "polygon: wrong key -> 401" 'code == 401' 'd["error"] == "Unknown API Key"'
fetch "$P/AAPL/range/1/day/2025-03-06/2025-03-12?adjusted=true&sort=asc&limit=50000" -H 'Authorization: Bearer PK'
check "polygon: daily page 1 (DST, ET midnight, exponent volume, next_url)" 'code == 200' \
  '[b["t"] for b in d["results"]] == [1741237200000, 1741323600000, 1741579200000]' \
  'd["resultsCount"] == d["count"] == 3 and d["status"] == "OK" and d["adjusted"] is True' \
  'all(b["h"] >= max(b["o"], b["c"]) and b["l"] <= min(b["o"], b["c"]) for b in d["results"])' \
  'all(k in b for b in d["results"] for k in ("o","h","l","c","v","vw","n","t"))' \
  '"e+0" in body and len(d["request_id"]) == 32' \
  "d['next_url'].startswith('$A/v2/aggs/ticker/AAPL/range/1/day/1741665600000/2025-03-12?cursor=')" \
  '"apiKey" not in d["next_url"]'
NEXT=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["next_url"])' "$TMP/body")
fetch "$NEXT"
check "polygon: next_url without key -> 401" 'code == 401' 'd["error"] == "API Key was not provided"'
fetch "$NEXT&apiKey=PK"
check "polygon: next_url + apiKey -> last page" 'code == 200' 'len(d["results"]) == 2' '"next_url" not in d' \
  '[ny(b["t"] / 1000) for b in d["results"]] == ["2025-03-11 00:00", "2025-03-12 00:00"]'
fetch "$P/X%3ABTCUSD/range/1/hour/2025-03-08/2025-03-09?limit=50000" -H 'Authorization: Bearer PK'
check "polygon: crypto hourly 24h, fractional v, %3A decoded" 'code == 200 and d["ticker"] == "X:BTCUSD"' \
  'd["results"][0]["t"] == 1741410000000 and d["results"][1]["t"] - d["results"][0]["t"] == 3600000' \
  'any(b["v"] != int(b["v"]) for b in d["results"])' '"/X:BTCUSD/range/1/hour/1741420800000/2025-03-09?" in d["next_url"]'
fetch "$P/AAPL/range/1/hour/2025-03-07/2025-03-07" -H 'Authorization: Bearer PK'
check "polygon: stock hourly starts 04:00 ET" '[ny(b["t"] / 1000) for b in d["results"]][0] == "2025-03-07 04:00"' \
  'd["queryCount"] != d["resultsCount"]'
fetch "$P/I:SPX/range/1/day/2025-03-03/2025-03-04" -H 'Authorization: Bearer PK'
check "polygon: index bars o,h,l,c,t only, no adjusted" 'code == 200 and "adjusted" not in d' \
  'all(set(b) == {"o","h","l","c","t"} for b in d["results"]) and len(d["results"]) == 2'
fetch "$P/ZZZZ/range/1/day/2025-03-03/2025-03-04" -H 'Authorization: Bearer PK'
check "polygon: unknown ticker -> 200 without results" 'code == 200 and "results" not in d and d["resultsCount"] == 0'
fetch "$P/AAPL/range/1/day/2025-03-08/2025-03-09" -H 'Authorization: Bearer PK'
check "polygon: weekend -> no results" 'code == 200 and "results" not in d'
fetch "$P/AAPL/range/1/day/2025-03-12/2030-01-01?apiKey=PK"
check "polygon: apiKey query, nothing after today" 'code == 200 and d["resultsCount"] == 1'
fetch "$P/DLYX/range/1/day/2025-03-03/2025-03-04" -H 'Authorization: Bearer PK'
check "polygon: DELAYED with data" 'd["status"] == "DELAYED" and len(d["results"]) == 2'
fetch "$P/NULLRES/range/1/day/2025-03-03/2025-03-04" -H 'Authorization: Bearer PK'
check "polygon: results null" '"\"results\":null" in body and d["results"] is None'
fetch "$P/AAPL/range/1/day/1741000000000/1741323600000" -H 'Authorization: Bearer PK'
check "polygon: ms from/to" 'code == 200 and [ny(b["t"] / 1000)[:10] for b in d["results"]] == ["2025-03-03", "2025-03-04", "2025-03-05"]'
fetch "$P/AAPL/range/1/day/2025-02-01/2025-03-12?sort=desc&limit=10" -H 'Authorization: Bearer PK'
check "polygon: sort=desc newest first (page size 3), next_url keeps from" 'code == 200' \
  '[ny(b["t"] / 1000) for b in d["results"]] == ["2025-03-12 00:00", "2025-03-11 00:00", "2025-03-10 00:00"]' \
  '"/AAPL/range/1/day/2025-02-01/1741579199999?" in d["next_url"] and "sort=desc" in d["next_url"]'
fetch "$P/X:BTCUSD/range/1/hour/1741737600000/1741795199999?limit=50000&apiKey=PK"
check "polygon: crypto hour ms bounds -> t in [from, to], none after now" 'code == 200 and "next_url" in d' \
  'd["results"][0]["t"] == 1741737600000 and all(1741737600000 <= b["t"] <= 1741795199999 for b in d["results"])'
fetch "$P/MSFT/prev" -H 'Authorization: Bearer PK'
check "polygon: /prev has T and 16:00 ET of last weekday" 'd["results"][0]["T"] == "MSFT"' \
  'ny(d["results"][0]["t"] / 1000) == "2025-03-11 16:00" and d["resultsCount"] == 1'

# --- CoinGecko
C="$A/api/v3"
fetch "$C/coins/bitcoin/market_chart/range?vs_currency=usd&from=1741564800&to=1741651200"
check "coingecko: no key -> 401 10002" 'code == 401 and d["status"]["error_code"] == 10002'
fetch "$C/coins/bitcoin/market_chart/range?vs_currency=usd&from=1741564800&to=1741651200" -H 'x-cg-demo-api-key: bad'
check "coingecko: wrong key -> 401" 'code == 401 and d["status"]["error_message"] == "Invalid API key"'
fetch "$C/coins/bitcoin/market_chart/range?vs_currency=usd&from=1741564800&to=1741651200" -H 'x-cg-demo-api-key: CK'
check "coingecko: 1 day -> 5-minutely, unaligned ms" 'code == 200 and 280 <= len(d["prices"]) <= 290' \
  'sum(p[0] % 1000 != 0 for p in d["prices"]) > 200' 'all(isinstance(p[0], int) for p in d["prices"])' \
  'all(200000 < b[0] - a[0] < 400000 for a, b in zip(d["prices"], d["prices"][1:]))'
fetch "$C/coins/bitcoin/market_chart/range?vs_currency=usd&from=1739059200&to=1741651200&x_cg_demo_api_key=CK"
check "coingecko: 30 days -> hourly (query key)" 'code == 200 and 715 <= len(d["prices"]) <= 721' \
  'sum(p[0] % 3600000 != 0 for p in d["prices"]) > 700' 'set(d) == {"prices", "market_caps", "total_volumes"}'
fetch "$C/coins/ethereum/market_chart/range?vs_currency=usd&from=1730000000&to=1741900000" -H 'x-cg-pro-api-key: CK'
check "coingecko: >90 days -> daily midnight + trailing now point" 'code == 200' \
  'all(p[0] % 86400000 == 0 for p in d["prices"][:-1])' 'd["prices"][-1][0] == 1741820400000'
fetch "$C/coins/gap-coin/market_chart/range?vs_currency=usd&from=1741564800&to=1741651200" -H 'x-cg-demo-api-key: CK'
check "coingecko: total_volumes one shorter" 'len(d["total_volumes"]) == len(d["prices"]) - 1 == len(d["market_caps"]) - 1'
fetch "$C/coins/no-such-coin/market_chart/range?vs_currency=usd&from=1741564800&to=1741651200" -H 'x-cg-demo-api-key: CK'
check "coingecko: unknown id -> 404" 'code == 404 and d == {"error": "coin not found"}'
fetch "$C/coins/bitcoin/market_chart/range?vs_currency=usd&from=1700000000&to=1741651200" -H 'x-cg-demo-api-key: CK'
check "coingecko: >365 days without pro key -> 401 10012 nested" 'code == 401' \
  'd["error"]["status"]["error_code"] == 10012 and "365 days" in d["error"]["status"]["error_message"]'
fetch "$C/simple/price?ids=bitcoin,no-such-x&vs_currencies=usd&include_24hr_change=true&include_last_updated_at=true" -H 'x-cg-demo-api-key: CK'
check "coingecko: simple/price drops unknown ids" 'code == 200 and list(d) == ["bitcoin"]' \
  'set(d["bitcoin"]) == {"usd", "usd_24h_change", "last_updated_at"} and isinstance(d["bitcoin"]["last_updated_at"], int)'
fetch "$C/simple/price?ids=bitcoin%2Cethereum%2Cno-such-y%2Csolana&vs_currencies=usd&include_24hr_change=true&include_last_updated_at=true" -H 'x-cg-demo-api-key: CK'
check "coingecko: simple/price ids with %2C decoded, unknown dropped" 'code == 200' \
  'list(d) == ["bitcoin", "ethereum", "solana"]' \
  'all(isinstance(v["usd_24h_change"], float) and 1741820400 - 60 <= v["last_updated_at"] <= 1741820400 for v in d.values())'
fetch "$C/simple/price?ids=no-such-x&vs_currencies=usd" -H 'x-cg-demo-api-key: CK'
check "coingecko: simple/price all unknown -> {}" 'code == 200 and d == {}'

# --- Yahoo
Y="$A/v8/finance/chart"
fetch "$Y/AAPL?period1=1740960000&period2=1741392000&interval=1d"
check "yahoo: no browser UA -> 403 text" 'code == 403 and d is None'
fetch "$Y/AAPL?period1=1740960000&period2=1741392000&interval=1d&includePrePost=false" -A "$UA"
check "yahoo: daily 09:30 ET, float32 values, adjclose" 'code == 200 and d["chart"]["error"] is None' \
  'd["chart"]["result"][0]["timestamp"][0] == 1741012200' \
  '[ny(t)[11:] for t in d["chart"]["result"][0]["timestamp"]] == ["09:30"] * 5' \
  'len(d["chart"]["result"][0]["indicators"]["adjclose"][0]["adjclose"]) == 5' \
  'any(len(repr(x)) > 10 for x in d["chart"]["result"][0]["indicators"]["quote"][0]["close"])' \
  'd["chart"]["result"][0]["meta"]["exchangeTimezoneName"] == "America/New_York"'
fetch "$Y/%5EGSPC?period1=1740960000&period2=1741392000&interval=1d" -A "$UA"
check "yahoo: %5EGSPC -> ^GSPC index" 'd["chart"]["result"][0]["meta"]["symbol"] == "^GSPC"' \
  'd["chart"]["result"][0]["meta"]["instrumentType"] == "INDEX"'
fetch "$Y/MSFT?period1=1741564800&period2=1741651200&interval=1h" -A "$UA"
check "yahoo: 1h bars 09:30..15:30 ET, no adjclose" \
  '[ny(t)[11:] for t in d["chart"]["result"][0]["timestamp"]] == ["09:30","10:30","11:30","12:30","13:30","14:30","15:30"]' \
  '"adjclose" not in d["chart"]["result"][0]["indicators"]'
fetch "$Y/NULX?period1=1738368000&period2=1741392000&interval=1d" -A "$UA"
check "yahoo: NUL* symbol has null opens and volumes" \
  'None in d["chart"]["result"][0]["indicators"]["quote"][0]["open"]' \
  'None in d["chart"]["result"][0]["indicators"]["quote"][0]["volume"]'
fetch "$Y/AAPL?period1=1741392000&period2=1741564800&interval=1d" -A "$UA"
check "yahoo: weekend -> no timestamp, quote [{}]" 'code == 200 and "timestamp" not in d["chart"]["result"][0]' \
  'd["chart"]["result"][0]["indicators"]["quote"] == [{}]'
fetch "$Y/AAPL?period1=1741564800&period2=1741900000&interval=1d" -A "$UA"
check "yahoo: live row duplicates today's date" \
  '[ny(t)[:10] for t in d["chart"]["result"][0]["timestamp"]][-2:] == ["2025-03-12", "2025-03-12"]' \
  'd["chart"]["result"][0]["timestamp"][-1] > d["chart"]["result"][0]["timestamp"][-2]'
fetch "$Y/MSFT?period1=1741564800&period2=1741651200&interval=30m" -A "$UA"
check "yahoo: 30m bars 09:30, 10:00 .. 15:30 ET, no adjclose, tradingPeriods" 'code == 200' \
  '[ny(t)[11:] for t in d["chart"]["result"][0]["timestamp"]] == [f"{9 + (k + 1) // 2:02d}:{30 * ((k + 1) % 2):02d}" for k in range(13)]' \
  '"adjclose" not in d["chart"]["result"][0]["indicators"] and m["dataGranularity"] == "30m"' \
  'len(m["tradingPeriods"]) == 1 and m["regularMarketTime"] == 1741636800'
fetch "$Y/BTC-USD?period1=1741564800&period2=1741651200&interval=30m" -A "$UA"
check "yahoo: 30m crypto every 30 min around the clock" 'code == 200' \
  'd["chart"]["result"][0]["timestamp"] == list(range(1741564800, 1741651200, 1800))' \
  'm["exchangeTimezoneName"] == "UTC" and "tradingPeriods" not in m'
fetch "$Y/NULQ?period1=1740960000&period2=1741392000&interval=30m" -A "$UA"
check "yahoo: 30m NUL* has nulls" 'None in d["chart"]["result"][0]["indicators"]["quote"][0]["open"]' \
  'None in d["chart"]["result"][0]["indicators"]["quote"][0]["volume"]'
fetch "$Y/AAPL?period1=1740960000&period2=1741900000&interval=1d" -A "$UA";  save aapl_daily
fetch "$Y/AAPL?range=1d&interval=1d" -A "$UA"
check "yahoo: range=1d quote meta (after the close: 16:00 ET, previousClose = prior weekday)" 'code == 200' \
  'm["range"] == "1d" and m["regularMarketTime"] == 1741809600' \
  '[ny(t)[:10] for t in d["chart"]["result"][0]["timestamp"]] == ["2025-03-12", "2025-03-12"]' \
  'm["regularMarketPrice"] == d["chart"]["result"][0]["indicators"]["quote"][0]["close"][-1]' \
  'm["previousClose"] == m["chartPreviousClose"] == ycloses(os.environ["SMOKE_TMP"] + "/aapl_daily")["2025-03-11"]'
fetch "$Y/AAPL?range=5d&interval=1d" -A "$UA"
check "yahoo: range=5d -> 5 sessions, previousClose vs chartPreviousClose" 'code == 200 and m["range"] == "5d"' \
  'sorted({ny(t)[:10] for t in d["chart"]["result"][0]["timestamp"]}) == ["2025-03-06", "2025-03-07", "2025-03-10", "2025-03-11", "2025-03-12"]' \
  'm["previousClose"] == ycloses(os.environ["SMOKE_TMP"] + "/aapl_daily")["2025-03-11"]' \
  'm["chartPreviousClose"] == ycloses(os.environ["SMOKE_TMP"] + "/aapl_daily")["2025-03-05"]'
fetch "$Y/BTC-USD?range=1d&interval=1d" -A "$UA"
check "yahoo: range=1d crypto -> regularMarketTime now, previousClose" 'code == 200' \
  'm["regularMarketTime"] == 1741820400 and isinstance(m["regularMarketPrice"], float)' \
  'isinstance(m["previousClose"], float) and m["instrumentType"] == "CRYPTOCURRENCY"'
fetch "$Y/ZZQ?range=1d&interval=1d" -A "$UA"
check "yahoo: range=1d unknown symbol -> 404" 'code == 404 and d["chart"]["error"]["code"] == "Not Found"'
fetch "$Y/AAPL?range=2d&interval=1d" -A "$UA"
check "yahoo: unsupported range / interval -> 400" 'code == 400 and d["chart"]["result"] is None'
fetch "$Y/ZZTOP?period1=1741564800&period2=1741900000&interval=1d" -A "$UA"
check "yahoo: unknown symbol -> 404 Not Found" 'code == 404 and d["chart"]["result"] is None' \
  'd["chart"]["error"]["code"] == "Not Found"'

# --- gzip
fetch "$P/AAPL/range/1/day/2025-03-03/2025-03-07" -H 'Authorization: Bearer PK' --compressed
check "gzip when Accept-Encoding: gzip" 'h.get("content-encoding") == "gzip" and d["resultsCount"] == 3'

# --- control API: fault rules
[ "$(rules '{"rules":[{"match":"x","mode":"bogus"}]}')" = 400 ] && { PASS=$((PASS + 1)); echo "ok   bad rule -> 400"; } \
  || { FAIL=$((FAIL + 1)); echo "FAIL bad rule -> 400"; }
rules '{"rules":[{"match":"AAPL","mode":"429","times":2,"retry_after":1},
  {"match":"coins/ethereum","mode":"429","times":1,"retry_after":7},
  {"match":"coins/solana","mode":"429","html":true,"times":1},
  {"match":"chart/IBM","mode":"429","times":1},
  {"match":"P500","mode":"500"},{"match":"P502","mode":"502"},{"match":"chart/Y503","mode":"503"},
  {"match":"P401","mode":"401"},{"match":"P403","mode":"403"},{"match":"P404","mode":"404"},
  {"match":"SLOW","mode":"slow","delay_ms":400},{"match":"TRUNC","mode":"truncate"},
  {"match":"GARB","mode":"garbage"}]}' >/dev/null
for i in 1 2; do
  fetch "$P/AAPL/prev" -H 'Authorization: Bearer PK'
  check "rule 429 polygon #$i with Retry-After" 'code == 429 and h["retry-after"] == "1"' \
    'd["status"] == "ERROR" and d["error"].startswith("You'"'"'ve exceeded the maximum requests per minute")'
done
fetch "$P/AAPL/prev" -H 'Authorization: Bearer PK'
check "rule 429 exhausted after times=2" 'code == 200'
fetch "$C/coins/ethereum/market_chart/range?vs_currency=usd&from=1741564800&to=1741651200" -H 'x-cg-demo-api-key: CK'
check "rule 429 coingecko JSON + retry-after" 'code == 429 and h["retry-after"] == "7" and d["status"]["error_code"] == 429'
fetch "$C/coins/solana/market_chart/range?vs_currency=usd&from=1741564800&to=1741651200" -H 'x-cg-demo-api-key: CK'
check "rule 429 coingecko Cloudflare HTML" 'code == 429 and d is None and body.startswith("<!DOCTYPE html>")' \
  'h["content-type"].startswith("text/html")'
fetch "$Y/IBM?period1=1741564800&period2=1741651200" -A "$UA"
check "rule 429 yahoo plain text" 'code == 429 and body == "Too Many Requests"' 'h["content-type"].startswith("text/plain")'
fetch "$P/P500/prev";  check "rule 500 polygon JSON" 'code == 500 and d["status"] == "ERROR"'
fetch "$P/P502/prev";  check "rule 502" 'code == 502 and d["status"] == "ERROR"'
fetch "$Y/Y503" -A "$UA";  check "rule 503 yahoo" 'code == 503'
fetch "$P/P401/prev";  check "rule 401 polygon" 'code == 401 and "error" in d'
fetch "$P/P403/prev";  check "rule 403 polygon NOT_AUTHORIZED message" 'code == 403 and d["status"] == "NOT_AUTHORIZED" and "message" in d'
fetch "$P/P404/prev";  check "rule 404" 'code == 404'
T0=$(date +%s.%N)
fetch "$P/SLOW/prev" -H 'Authorization: Bearer PK'
T1=$(date +%s.%N)
check "rule slow (400 ms) then normal answer" 'code == 200 and d["results"][0]["T"] == "SLOW"' "$T1 - $T0 >= 0.4"
fetch "$P/TRUNC/prev" -H 'Authorization: Bearer PK'
check "rule truncate: 200, short body, curl error 18" 'code == 200 and rc == 18' \
  'len(body.encode()) < int(h["content-length"]) and d is None'
fetch "$P/GARB/prev" -H 'Authorization: Bearer PK'
check "rule garbage: 200 HTML" 'code == 200 and d is None and "<html>" in body'
fetch "$A/__control/rules"
check "GET rules shows remaining times" 'd["rules"][0]["times"] == 0'
fetch "$A/__control/requests"
check "request log: fields, no control requests" 'isinstance(d, list) and len(d) > 30' \
  'all(set(e) >= {"method","path","query","headers","status","ts"} for e in d)' \
  'not any(e["path"].startswith("/__") for e in d)' \
  'any(e["status"] == 429 and e["headers"].get("authorization") == "Bearer PK" for e in d)'
curl -s -X POST "$A/__control/reset" >/dev/null
fetch "$A/__control/requests";  check "reset clears the log" 'd == []'
fetch "$P/P500/prev" -H 'Authorization: Bearer PK';  check "reset clears the rules" 'code == 200'
[ "$(wc -l <"$TMP/A.log")" -gt 30 ] && { PASS=$((PASS + 1)); echo "ok   --log file written"; } || { FAIL=$((FAIL + 1)); echo "FAIL --log"; }

# --- SIGTERM exits cleanly
kill -TERM "$PID_A"
set +e; wait "$PID_A"; RCA=$?; set -e
[ "$RCA" = 0 ] && { PASS=$((PASS + 1)); echo "ok   SIGTERM -> exit 0"; } || { FAIL=$((FAIL + 1)); echo "FAIL SIGTERM rc=$RCA"; }

# ------------------------------------------------------------------------------------------------ server B: --rpm
start B --rpm 2
for i in 1 2; do fetch "$BASE/v8/finance/chart/AAPL?period1=1741564800&period2=1741651200" -A "$UA"; done
check "rpm: 2nd yahoo request allowed" 'code == 200'
fetch "$BASE/v8/finance/chart/AAPL?period1=1741564800&period2=1741651200" -A "$UA"
check "rpm: 3rd yahoo request -> 429 text + Retry-After" 'code == 429 and body == "Too Many Requests"' \
  '1 <= int(h["retry-after"]) <= 60'
fetch "$BASE/v2/aggs/ticker/AAPL/prev"
check "rpm: counted per provider (polygon still allowed)" 'code == 200'
fetch "$BASE/v2/aggs/ticker/AAPL/prev"
fetch "$BASE/v2/aggs/ticker/AAPL/prev"
check "rpm: polygon 3rd -> 429 JSON" 'code == 429 and d["error"].startswith("You")' 'int(h["retry-after"]) >= 1'

# ------------------------------------------------------------------------------------------------ server C: latency
start C --latency-ms 300
CURLS=()
T0=$(date +%s.%N)
for i in 1 2 3 4 5 6 7 8; do
  curl -s -o /dev/null -A "$UA" "$BASE/v8/finance/chart/S$i?period1=1741564800&period2=1741651200" &
  CURLS+=($!)
done
wait "${CURLS[@]}"
T1=$(date +%s.%N)
fetch "$BASE/__control/requests"
check "latency: 8 x 300 ms served concurrently" 'len(d) == 8' "$T1 - $T0 < 1.5"

# ------------------------------------------------------------------------------------------------ server D: clock
FAKE_YAHOO_LIVE_ROW= FAKE_YAHOO_ENFORCE_LIMITS=1 start D
D=$BASE
now() { curl -s -o "$TMP/body" -w '%{http_code}' -X POST -H 'Content-Type: application/json' -d "$1" "$D/__control/now"; }
fetch "$D/__control/now"
check "clock: GET /__control/now (FAKE_TODAY)" 'd["now"] == 1741820400 and d["today"] == "2025-03-12" and d["source"] == "FAKE_TODAY"'
CODE=$(now '{"now": 1741791600}')      # Wed 2025-03-12 11:00 ET
check "clock: POST now -> 11:00 ET Wed" 'code == 200 and d["now"] == 1741791600 and d["source"] == "control"' \
  'd["today"] == "2025-03-12"'
fetch "$D/v8/finance/chart/AAPL?range=1d&interval=1d" -A "$UA"
check "clock: range=1d inside the session -> regularMarketTime now" 'm["regularMarketTime"] == 1741791600' \
  'len(d["chart"]["result"][0]["timestamp"]) == 1'
fetch "$D/v8/finance/chart/AAPL?range=1d&interval=30m" -A "$UA"
check "clock: 30m range=1d stops at now" \
  '[ny(t)[11:] for t in d["chart"]["result"][0]["timestamp"]] == ["09:30", "10:00", "10:30", "11:00"]'
fetch "$D/v2/aggs/ticker/AAPL/range/1/hour/1741737600000/1741795199999?sort=asc&limit=50000"
check "clock: polygon stock hours 04:00..now ET within ms bounds" \
  '[ny(b["t"] / 1000)[11:] for b in d["results"]] == [f"{h:02d}:00" for h in range(4, 12)]' \
  'all(1741737600000 <= b["t"] <= 1741791600000 for b in d["results"])'
CODE=$(now '{"now": 1742054400}')      # Sat 2025-03-15 16:00Z
check "clock: POST now -> Saturday" 'code == 200 and d["today"] == "2025-03-15"'
fetch "$D/v2/aggs/ticker/AAPL/range/1/day/2025-03-01/2025-03-15?sort=desc&limit=10"
check "clock: polygon desc newest = Friday" 'ny(d["results"][0]["t"] / 1000) == "2025-03-14 00:00"' \
  'len(d["results"]) == 10 and d["results"][0]["t"] > d["results"][1]["t"]'
fetch "$D/v2/aggs/ticker/AAPL/prev"
check "clock: /prev follows the clock" 'ny(d["results"][0]["t"] / 1000) == "2025-03-14 16:00"'
fetch "$D/v8/finance/chart/AAPL?range=1d&interval=1d" -A "$UA"
check "clock: range=1d on a weekend -> Friday, 16:00 ET" 'm["regularMarketTime"] == 1741982400' \
  '[ny(t)[:10] for t in d["chart"]["result"][0]["timestamp"]] == ["2025-03-14"]'
fetch "$D/api/v3/coins/bitcoin/market_chart/range?vs_currency=usd&from=1741968000&to=1742054400"
check "clock: coingecko 1 day ending now -> 5-minutely up to now" '280 <= len(d["prices"]) <= 290' \
  'd["prices"][-1][0] <= 1742054400000 and sum(p[0] % 1000 != 0 for p in d["prices"]) > 200'
fetch "$D/api/v3/simple/price?ids=bitcoin&vs_currencies=usd&include_last_updated_at=true"
check "clock: simple/price last_updated_at <= now" '1742054400 - 60 <= d["bitcoin"]["last_updated_at"] <= 1742054400'
CODE=$(now '{"now": 1741748400}')      # Wed 2025-03-12 03:00Z = Tue 23:00 ET
fetch "$D/v2/aggs/ticker/AAPL/range/1/day/2025-03-01/2025-03-12?sort=desc&limit=10"
check "clock: before 00:00 ET no daily bar for the UTC date yet" 'ny(d["results"][0]["t"] / 1000) == "2025-03-11 00:00"'
fetch "$D/v8/finance/chart/AAPL?period1=1736000000&period2=1741748400&interval=30m" -A "$UA"
check "clock: FAKE_YAHOO_ENFORCE_LIMITS 30m > 60 days -> 422" 'code == 422 and d["chart"]["error"]["code"] == "Unprocessable Entity"'
fetch "$D/v8/finance/chart/AAPL?period1=1737000000&period2=1741748400&interval=30m" -A "$UA"
check "clock: 30m within 60 days -> 200" 'code == 200'
CODE=$(now '{"now": "soon"}');  check "clock: bad body -> 400" 'code == 400'
CODE=$(now '{"today": "2025-03-14"}');  check "clock: {today} -> 23:00Z" 'code == 200 and d["now"] == 1741993200'
curl -s -o /dev/null -X POST "$D/__control/reset"
fetch "$D/__control/now";  check "clock: reset keeps the clock" 'd["now"] == 1741993200'
CODE=$(now '{"now": null}');  check "clock: null -> back to the environment" 'd["source"] == "FAKE_TODAY" and d["now"] == 1741820400'

echo "passed: $PASS  failed: $FAIL"
[ "$FAIL" = 0 ]
