#!/usr/bin/env python3
"""Fake market-data provider: Polygon, CoinGecko and Yahoo chart formats on 127.0.0.1.

Standard library only (Python 3.11+). Deterministic synthetic data for any symbol, plus scripted faults
(via POST /__control/rules) for end-to-end tests and benchmarks. Formats follow
/work/shared/reference/providers.md sections 1-3; see README.md next to this file for the full contract.

Environment knobs:
  FAKE_TODAY=YYYY-MM-DD   "today" (UTC); "now" becomes 23:00:00Z of that day (unless FAKE_NOW is set)
  FAKE_NOW=<unix seconds> "now" exactly (today = its UTC date unless FAKE_TODAY is set)
  POST /__control/now     {"now": <unix seconds>} moves the clock at run time (today = its UTC date);
                          {"now": null} goes back to the environment
  FAKE_YAHOO_ENFORCE_LIMITS=1  Yahoo intraday history limits: 30m -> 60 days, 1h/60m -> 730 days, else 422
  FAKE_YAHOO_LIVE_ROW=1   Yahoo daily: duplicate today's row with a live (intraday) timestamp
  FAKE_CG_ENFORCE_365=1   CoinGecko: without x-cg-pro-api-key, `from` older than 365 days -> 401 error 10012
"""
import argparse, base64, functools, gzip, itertools, json, math, os, re, signal, struct, sys
import threading, time, traceback, uuid, zlib
from collections import deque
from datetime import date, datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, quote, unquote, urlsplit
from zoneinfo import ZoneInfo

ET = ZoneInfo("America/New_York")
UTC = timezone.utc
MIN_DATE = date(1990, 1, 1)          # never emit bars before this date
DATE_RE = re.compile(r"\d{4}-\d{2}-\d{2}")
FAULT_MODES = {"429", "500", "502", "503", "401", "403", "404", "slow", "truncate", "garbage", "raw", "huge",
               "gzip_bomb", "scale"}
PROVIDERS = ("polygon", "coingecko", "yahoo")

# ==== Clock ====
# Precedence: a runtime override (POST /__control/now) > FAKE_NOW > FAKE_TODAY (23:00:00Z) > the real clock.
# With the runtime override, "today" is always the UTC date of that now (FAKE_TODAY is ignored).

_CLOCK_LOCK = threading.Lock()
_CLOCK_OVERRIDE = None               # UNIX seconds set by POST /__control/now, or None

def set_now_override(value):
    """Pin now at run time (None clears the override and falls back to the environment)."""
    global _CLOCK_OVERRIDE
    with _CLOCK_LOCK:
        _CLOCK_OVERRIDE = None if value is None else float(value)

def now_override():
    with _CLOCK_LOCK:
        return _CLOCK_OVERRIDE

def clock_source() -> str:
    if now_override() is not None:
        return "control"
    if os.environ.get("FAKE_NOW"):
        return "FAKE_NOW"
    if os.environ.get("FAKE_TODAY"):
        return "FAKE_TODAY"
    return "system"

def now_s() -> float:
    """Current time in UNIX seconds, honouring POST /__control/now, FAKE_NOW and FAKE_TODAY."""
    o = now_override()
    if o is not None:
        return o
    if os.environ.get("FAKE_NOW"):
        return float(os.environ["FAKE_NOW"])
    if os.environ.get("FAKE_TODAY"):
        d = date.fromisoformat(os.environ["FAKE_TODAY"])
        return datetime(d.year, d.month, d.day, 23, tzinfo=UTC).timestamp()
    return time.time()

def today() -> date:
    """UTC 'today' (FAKE_TODAY overrides unless now was set via /__control/now). No bar is ever dated after this."""
    o = now_override()
    if o is None and os.environ.get("FAKE_TODAY"):
        return date.fromisoformat(os.environ["FAKE_TODAY"])
    return datetime.fromtimestamp(now_s() if o is None else o, UTC).date()

def et_ts(d: date, hour: int = 0, minute: int = 0) -> int:
    """UNIX seconds of a wall-clock time in America/New_York (DST-correct)."""
    return int(datetime(d.year, d.month, d.day, hour, minute, tzinfo=ET).timestamp())

def utc_ts(d: date) -> int:
    return int(datetime(d.year, d.month, d.day, tzinfo=UTC).timestamp())

def local_date(ts: float, tz) -> date:
    return datetime.fromtimestamp(ts, tz).date()

def days(d0: date, d1: date):
    """Dates d0..d1 inclusive."""
    while d0 <= d1:
        yield d0
        d0 += timedelta(days=1)

def rid() -> str:
    return uuid.uuid4().hex

# ==== Deterministic synthetic prices ====
# Seeded by zlib.crc32 of the symbol (never hash(), which is salted) and a pure function of (symbol, time),
# so a bar is identical whatever window or page it is served in.

def seed_of(name: str) -> int:
    return zlib.crc32(name.encode())

def unit(seed: int, *parts: int) -> float:
    """Pseudo-random number in [0, 1) from a seed and some integers."""
    x = zlib.crc32(struct.pack(f"<{len(parts)}q", *parts), seed)
    x ^= x >> 16
    x = (x * 0x45D9F3B) & 0xFFFFFFFF
    x ^= x >> 16
    return x / 4294967296.0

@functools.lru_cache(maxsize=4096)
def _shape(seed: int):
    """Per-symbol base price (5..5000) and three sine phases."""
    return 5.0 * 10 ** (3 * unit(seed, 1)), [unit(seed, k) * 2 * math.pi for k in (2, 3, 4)]

def mid_price(seed: int, t: float) -> float:
    base, (p1, p2, p3) = _shape(seed)
    d = t / 86400.0
    trend = 1 + 0.3 * math.sin(d / 90 + p1) + 0.1 * math.sin(d / 13 + p2) + 0.02 * math.sin(d * 6.2832 + p3)
    return base * trend * (1 + 0.01 * (unit(seed, int(t), 5) - 0.5))

def ohlcv(seed: int, t: int, span: int, crypto: bool):
    """One bar starting at t (seconds) lasting span seconds: 2-decimal prices, h>=max(o,c), l<=min(o,c).
    Volume: int for stocks (always < 1e8, so exponent form stays exact), 5-decimal float for crypto."""
    o = round(mid_price(seed, t), 2)
    c = round(mid_price(seed, t + int(span * 0.9)), 2)
    h = max(round(max(o, c) * (1 + 0.012 * unit(seed, t, 6)), 2), o, c)
    l = min(round(min(o, c) * (1 - 0.012 * unit(seed, t, 7)), 2), o, c)
    scale = span / 86400.0
    if crypto:
        v = round((200 + 20000 * unit(seed, 8)) * (0.5 + unit(seed, t, 9)) * scale, 5)
    else:
        v = int(1e6 * 10 ** (1.5 * unit(seed, 8)) * (0.5 + unit(seed, t, 9)) * scale) + 100
    return o, h, l, c, v

def f32(x: float) -> float:
    """Round-trip through float32 so it prints like Yahoo (241.79 -> 241.7899932861328)."""
    return struct.unpack("<f", struct.pack("<f", x))[0]

# ==== Responses: (status, content_type, body_bytes, extra_headers) ====

def J(status, obj, headers=()):
    return status, "application/json; charset=utf-8", json.dumps(obj, separators=(",", ":")).encode(), list(headers)

def RAW(status, text, headers=()):
    return status, "application/json; charset=utf-8", text.encode(), list(headers)

def TXT(status, text, ctype="text/plain; charset=utf-8", headers=()):
    return status, ctype, text.encode(), list(headers)

def html_page(title, msg):
    return f"<!DOCTYPE html>\n<html><head><title>{title}</title></head><body><h1>{title}</h1><p>{msg}</p></body></html>\n"


class StreamBody:
    """A body far larger than memory should hold, produced chunk by chunk while it is sent: `size` bytes of
    a JSON object whose string value is padded with spaces. gzip=True sends it gzip-encoded
    (Content-Encoding: gzip: about 1 KiB on the wire per decoded MiB), framed by closing the connection;
    otherwise plain, with its Content-Length."""
    CHUNK = 1 << 20                     # 1 MiB of padding per write: few syscalls, little memory

    def __init__(self, size, gzip_encoded):
        self.head, self.tail = b'{"status":"OK","padding":"', b'"}'
        self.size = max(int(size), len(self.head) + len(self.tail))
        self.gzip = gzip_encoded
        self.pad = b" " * self.CHUNK

    def _plain(self):
        yield self.head
        left = self.size - len(self.head) - len(self.tail)
        while left > 0:
            n = min(left, self.CHUNK)
            yield self.pad if n == self.CHUNK else self.pad[:n]
            left -= n
        yield self.tail

    def chunks(self):
        if not self.gzip:
            yield from self._plain()
            return
        # After a full flush, deflate output no longer refers back to earlier data, so the compressed
        # form of one padding chunk can be sent again and again; only the CRC is computed per chunk.
        c = zlib.compressobj(9, zlib.DEFLATED, 31)
        yield c.compress(self.head) + c.flush(zlib.Z_FULL_FLUSH)
        block = c.compress(self.pad) + c.flush(zlib.Z_FULL_FLUSH)
        crc = zlib.crc32(self.head)
        for piece in itertools.islice(self._plain(), 1, None):
            crc = zlib.crc32(piece, crc)
            if piece is self.pad:
                yield block
            elif piece is self.tail:                     # final deflate block, then the gzip trailer
                d = zlib.compressobj(9, zlib.DEFLATED, -15)
                yield d.compress(piece) + d.flush(zlib.Z_FINISH) + struct.pack("<II", crc, self.size & 0xFFFFFFFF)
            else:                                        # the short last padding chunk
                d = zlib.compressobj(9, zlib.DEFLATED, -15)
                yield d.compress(piece) + d.flush(zlib.Z_FULL_FLUSH)


REASONS = {401: "Unauthorized", 403: "Forbidden", 404: "Not Found", 429: "Too Many Requests",
           500: "Internal Server Error", 502: "Bad Gateway", 503: "Service Unavailable"}
PG_429 = "You've exceeded the maximum requests per minute, please wait or upgrade your subscription to continue."
PG_403 = "You are not entitled to this data. Please upgrade your plan at https://polygon.io/pricing"
CG_403 = "You may not have access to this endpoint. Please upgrade your plan."
CG_429 = ("You've exceeded the Rate Limit. Please visit https://www.coingecko.com/en/api/pricing "
          "to subscribe to our API plans for higher rate limits.")

def error_response(provider, status, retry_after=None, html=False):
    """Provider-styled error for a fault rule or the --rpm limiter."""
    if retry_after is None and provider == "coingecko" and status == 429:
        retry_after = 1                                   # CoinGecko always sends retry-after on 429
    hdrs = [] if retry_after is None else [
        ("retry-after" if provider == "coingecko" else "Retry-After", str(max(0, math.ceil(float(retry_after)))))]
    reason = REASONS.get(status, "Error")
    if provider == "polygon":                             # 403/404 carry `message`, the others `error`
        if status in (403, 404):
            return J(status, {"status": "NOT_AUTHORIZED" if status == 403 else "NOT_FOUND", "request_id": rid(),
                              "message": PG_403 if status == 403 else "Data not found."}, hdrs)
        return J(status, {"status": "ERROR", "request_id": rid(),
                          "error": {401: "Unknown API Key", 429: PG_429}.get(status, reason)}, hdrs)
    if provider == "coingecko":
        if html:                                          # Cloudflare edge page instead of JSON
            code = {429: "1015", 403: "1020"}.get(status, str(status))
            return TXT(status, html_page(f"Error {code}", f"{reason} | api.coingecko.com used Cloudflare to restrict access"),
                       "text/html; charset=UTF-8", hdrs)
        if status == 404:
            return J(status, {"error": "coin not found"}, hdrs)
        code, msg = {401: (401, "Invalid API key"), 403: (10005, CG_403), 429: (429, CG_429)}.get(status, (status, reason))
        return J(status, {"status": {"error_code": code, "error_message": msg}}, hdrs)
    if provider == "yahoo":
        if status == 401:
            return J(status, {"finance": {"result": None, "error": {"code": "Unauthorized", "description": "Invalid Crumb"}}}, hdrs)
        if status in (404, 500):
            desc = "No data found, symbol may be delisted" if status == 404 else reason
            return J(status, {"chart": {"result": None, "error": {"code": reason, "description": desc}}}, hdrs)
        return TXT(status, reason, headers=hdrs)          # 403/429/502/503: plain-text edge answers
    return J(status, {"error": reason}, hdrs)

# ==== Polygon ====

def polygon_auth(req):
    key = req.state.args.polygon_key
    if not key:
        return None
    auth = req.headers.get("authorization", "")
    given = auth[7:].strip() if auth.lower().startswith("bearer ") else req.q.get("apiKey")
    if not given:
        return J(401, {"status": "ERROR", "request_id": rid(), "error": "API Key was not provided"})
    if given != key:
        return J(401, {"status": "ERROR", "request_id": rid(), "error": "Unknown API Key"})
    return None

def pg_bound(span, s, is_to):
    """Parse a from/to path segment (YYYY-MM-DD or ms). day -> ET date; hour -> inclusive UNIX seconds,
    snapped outward (from down to the hour, a `to` date up to the end of that ET day)."""
    if DATE_RE.fullmatch(s):
        d = date.fromisoformat(s)
        if span == "day":
            return d
        return et_ts(d + timedelta(days=1)) - 1 if is_to else et_ts(d)
    if not s.isdigit():
        raise ValueError(s)
    sec = int(s) // 1000
    if span == "day":
        return local_date(sec, ET)
    return sec if is_to else sec - sec % 3600

def pg_times(ticker, span, lo, hi, mult):
    """Yield bar start times (ms) in [lo, hi], ascending: daily = 00:00 ET (weekdays; every day for X:),
    hourly = every hour for X:, 04:00-20:00 ET weekdays otherwise. mult>1 keeps every mult-th bucket."""
    crypto = ticker.startswith("X:")
    kept = itertools.count()
    if span == "day":
        now = now_s()
        for d in days(max(lo, MIN_DATE), min(hi, today())):
            # et_ts(d) <= now only matters when now is between 00:00Z and 00:00 ET (a run-time/FAKE_NOW clock).
            if (crypto or d.weekday() < 5) and et_ts(d) <= now and next(kept) % mult == 0:
                yield et_ts(d) * 1000
        return
    t, end = max(lo, et_ts(MIN_DATE)), min(hi, now_s())
    while t <= end:
        if crypto:
            ok = True
        else:
            lt = datetime.fromtimestamp(t, ET)
            ok = lt.weekday() < 5 and 4 <= lt.hour < 20
        if ok and next(kept) % mult == 0:
            yield t * 1000
        t += 3600

def pg_bar(seed, t_ms, span_s, kind, pos, with_ticker=None):
    """Raw JSON text of one bar. Index bars: o,h,l,c,t only. Stock volume: every 7th bar of a page in
    exponent form (4.7227643e+07), another in float form (48112345.0)."""
    o, h, l, c, v = ohlcv(seed, t_ms // 1000, span_s, kind == "crypto")
    tk = f'"T":{json.dumps(with_ticker)},' if with_ticker else ""
    if kind == "index":
        return f'{{{tk}"o":{o!r},"h":{h!r},"l":{l!r},"c":{c!r},"t":{t_ms}}}'
    vw = round((h + l + c) / 3, 4)
    if kind == "crypto":
        vs, n = repr(v), int(v * 40) + 1
    else:
        vs = f"{v:.7e}" if pos % 7 == 2 else f"{v}.0" if pos % 7 == 4 else str(v)
        n = v // 90 + 1
    return f'{{{tk}"v":{vs},"vw":{vw!r},"o":{o!r},"c":{c!r},"h":{h!r},"l":{l!r},"t":{t_ms},"n":{n}}}'

def pg_envelope(ticker, bars, query_count, status, adjusted, next_url=None, null_results=False):
    """Field order as providers.md 1.2; `results` omitted when empty, `count` only with results."""
    parts = [f'"ticker":{json.dumps(ticker)}', f'"queryCount":{query_count}', f'"resultsCount":{len(bars)}']
    if adjusted is not None:
        parts.append(f'"adjusted":{json.dumps(adjusted)}')
    if null_results:
        parts.append('"results":null')
    elif bars:
        parts.append('"results":[' + ",".join(bars) + "]")
    parts += [f'"status":"{status}"', f'"request_id":"{rid()}"']
    if bars:
        parts.append(f'"count":{len(bars)}')
    if next_url:
        parts.append(f'"next_url":{json.dumps(next_url)}')
    return "{" + ",".join(parts) + "}"

def pg_kind(ticker):
    return "index" if ticker.startswith("I:") else "crypto" if ticker.startswith("X:") else "stock"

def pg_common(req, ticker):
    """(kind, `adjusted` value or None for indices, status) for a ticker."""
    kind = pg_kind(ticker)
    adjusted = None if kind == "index" else req.q.get("adjusted", "true").lower() != "false"
    return kind, adjusted, "DELAYED" if ticker.startswith("DLY") else "OK"

def polygon_aggs(req, ticker, mult, span, frm, to):
    if span not in ("day", "hour"):
        return J(400, {"status": "ERROR", "request_id": rid(), "error": f"fake server: unsupported timespan '{span}'"})
    try:
        lo, hi = pg_bound(span, frm, False), pg_bound(span, to, True)
    except ValueError:
        return J(400, {"status": "ERROR", "request_id": rid(), "error":
                       "Could not parse the time parameter: 'from'. Use YYYY-MM-DD or a Unix MS Timestamp"})
    kind, adjusted, status = pg_common(req, ticker)
    if ticker.startswith("ZZ"):                                   # unknown ticker: 200, no results key
        return RAW(200, pg_envelope(ticker, [], 0, status, adjusted))
    if ticker == "NULLRES":                                       # old-style "results":null
        return RAW(200, pg_envelope(ticker, [], 0, status, adjusted, null_results=True))
    limit = req.q.get("limit", "5000")
    limit = min(max(1, min(int(limit), 50000)) if limit.isdigit() else 5000, req.state.args.polygon_page_size)
    times = pg_times(ticker, span, lo, hi, max(1, mult))
    desc = req.q.get("sort", "asc").lower() == "desc"
    if desc:                                                      # newest first; next page keeps `from`
        all_t = list(times)
        page, more = all_t[-limit:][::-1], len(all_t) > limit
        nxt = (frm, str(page[-1] - 1)) if more else None
    else:
        page = list(itertools.islice(times, limit + 1))
        more = len(page) > limit
        nxt = (str(page[limit]), to) if more else None
        page = page[:limit]
    span_s = (86400 if span == "day" else 3600) * max(1, mult)
    seed = seed_of(ticker)
    bars = [pg_bar(seed, t, span_s, kind, i) for i, t in enumerate(page)]
    next_url = None
    if nxt:
        cursor = base64.urlsafe_b64encode(json.dumps({"f": nxt[0], "t": nxt[1], "n": len(page)}).encode())
        next_url = (f"http://127.0.0.1:{req.state.port}/v2/aggs/ticker/{quote(ticker, safe=':.-')}/range/{mult}/{span}/"
                    f"{nxt[0]}/{nxt[1]}?cursor={cursor.decode().rstrip('=')}&adjusted={str(adjusted is not False).lower()}"
                    f"&sort={'desc' if desc else 'asc'}&limit={req.q.get('limit', limit)}")
    qc = len(bars) * mult * (60 if span == "hour" else 1)         # base aggregates "scanned"
    return RAW(200, pg_envelope(ticker, bars, qc, status, adjusted, next_url))

def polygon_prev(req, ticker):
    kind, adjusted, status = pg_common(req, ticker)
    if ticker.startswith("ZZ"):
        return RAW(200, pg_envelope(ticker, [], 0, status, adjusted))
    d = today() - timedelta(days=1)
    while d.weekday() >= 5:
        d -= timedelta(days=1)
    # Same values as that day's range bar, but t = 16:00 ET (the /prev convention).
    bar = pg_bar(seed_of(ticker), et_ts(d) * 1000, 86400, kind, 0, with_ticker=ticker)
    bar = bar.replace(f'"t":{et_ts(d) * 1000}', f'"t":{et_ts(d, 16) * 1000}')
    return RAW(200, pg_envelope(ticker, [bar], 1, status, adjusted))

# Grouped daily: which tickers a market holds (POST /__control/grouped replaces them, /__control/reset restores
# these). Bars are the range endpoint's bars of the same ticker and date, so the numbers agree.
DEFAULT_GROUPED = {
    "stocks": ["AAPL", "ABBV", "ADBE", "AMD", "AMZN", "AVGO", "BAC", "BRK.B", "COST", "CRM", "CSCO", "CVX", "DIA",
               "DIS", "GLD", "GOOG", "GOOGL", "HD", "IWM", "JNJ", "JPM", "KO", "LLY", "MA", "META", "MRK", "MSFT",
               "NFLX", "NVDA", "ORCL", "PEP", "PFE", "PG", "QQQ", "SPY", "TLT", "TSLA", "UNH", "V", "VOO", "WMT",
               "XOM"],
    "crypto": ["X:ADAUSD", "X:AVAXUSD", "X:BTCUSD", "X:DOGEUSD", "X:DOTUSD", "X:ETHUSD", "X:LINKUSD", "X:LTCUSD",
               "X:SOLUSD", "X:XRPUSD"],
}

def polygon_grouped(req, market, d):
    """One bar per ticker of the market's universe for ET date d (weekdays for stocks, every day for crypto),
    `T` set, `t` = 16:00 ET (the /prev and grouped convention), values as the range bar of that date. A date
    without a session yet (weekend, future, before 00:00 ET of it) has no `results` key, as Polygon answers."""
    if not DATE_RE.fullmatch(d):
        return J(400, {"status": "ERROR", "request_id": rid(), "error": "Could not parse the date parameter."})
    day, crypto = date.fromisoformat(d), market == "crypto"
    served = (MIN_DATE <= day <= today() and (crypto or day.weekday() < 5) and et_ts(day) <= now_s())
    tickers = sorted(req.state.grouped_universe(market)) if served else []
    bars = []
    for pos, ticker in enumerate(tickers):
        bar = pg_bar(seed_of(ticker), et_ts(day) * 1000, 86400, pg_kind(ticker), pos, with_ticker=ticker)
        bars.append(bar.replace(f'"t":{et_ts(day) * 1000}', f'"t":{et_ts(day, 16) * 1000}'))
    adjusted = req.q.get("adjusted", "true").lower() != "false"
    parts = [f'"queryCount":{len(bars)}', f'"resultsCount":{len(bars)}', f'"adjusted":{json.dumps(adjusted)}']
    if bars:
        parts.append('"results":[' + ",".join(bars) + "]")
    parts += ['"status":"OK"', f'"request_id":"{rid()}"']
    if bars:
        parts.append(f'"count":{len(bars)}')
    return RAW(200, "{" + ",".join(parts) + "}")

# ==== CoinGecko ====

FX = {"usd": 1.0, "eur": 0.92, "gbp": 0.79, "jpy": 151.3, "cad": 1.36, "aud": 1.52, "chf": 0.88}

def coingecko_auth(req):
    key = req.state.args.coingecko_key
    if not key:
        return None
    h, q = req.headers, req.q
    given = (h.get("x-cg-pro-api-key") or h.get("x-cg-demo-api-key")
             or q.get("x_cg_pro_api_key") or q.get("x_cg_demo_api_key"))
    if not given:
        return J(401, {"status": {"error_code": 10002, "error_message": "API Key Missing"}})
    if given != key:
        return J(401, {"status": {"error_code": 401, "error_message": "Invalid API key"}})
    return None

def cg_time(s):
    """UNIX seconds, or YYYY-MM-DD / YYYY-MM-DDTHH:MM (UTC)."""
    try:
        return float(s)
    except ValueError:
        return datetime.fromisoformat(s).replace(tzinfo=UTC).timestamp()

def cg_values(coin, ms, fx):
    seed = seed_of(coin)
    p = mid_price(seed, ms / 1000) * fx
    supply = 1e6 * 10 ** (4 * unit(seed, 11))
    vol = p * supply * (0.02 + 0.04 * unit(seed, ms // 1000, 12))
    return round(p, 8 if p < 1 else 5), round(p * supply, 2), round(vol, 2)

def coingecko_range(req, coin):
    if coin.startswith("no-such"):
        return J(404, {"error": "coin not found"})
    missing = [n for n in ("vs_currency", "from", "to") if not req.q.get(n)]
    if missing:
        return J(400, {"error": f"Missing parameter {missing[0]}"})
    vs = req.q["vs_currency"].lower()
    if vs not in FX:
        return J(400, {"error": "invalid vs_currency"})
    try:
        frm, to = cg_time(req.q["from"]), cg_time(req.q["to"])
    except ValueError:
        return J(400, {"error": "invalid from/to"})
    now = now_s()
    if (os.environ.get("FAKE_CG_ENFORCE_365") == "1" and "x-cg-pro-api-key" not in req.headers
            and frm < now - 365 * 86400):
        stamp = datetime.fromtimestamp(now, UTC).isoformat(timespec="milliseconds")
        return J(401, {"error": {"status": {"timestamp": stamp, "error_code": 10012, "error_message":
                 "Your request exceeds the allowed time range. Public API users are limited to querying "
                 "historical data within the past 365 days. Upgrade to a paid plan to enjoy full historical data "
                 "access: https://www.coingecko.com/en/api/pricing. "}}})
    seed, lo, hi = seed_of(coin), frm * 1000, min(to, now) * 1000
    span = to - frm
    # <=1 day: 5-minutely; <=90 days: hourly (slot + 0-59.999 s); else daily at exactly 00:00 UTC + "now" point.
    step, jitter = (300, 60000) if span <= 86400 else (3600, 60000) if span <= 90 * 86400 else (86400, 0)
    stamps = []
    slot = int(frm // step) * step
    while slot * 1000 <= hi:
        ms = slot * 1000 + (int(unit(seed, slot, 13) * jitter) if jitter else 0)
        if lo <= ms <= hi:
            stamps.append(ms)
        slot += step
    if step == 86400 and to >= now and span > 0:
        now_ms = int(now * 1000)
        now_ms += 1234 if now_ms % 86400000 == 0 else 0
        if not stamps or stamps[-1] < now_ms:
            stamps.append(now_ms)
    fx = FX[vs]
    vals = [(ms, *cg_values(coin, ms, fx)) for ms in stamps]
    out = {"prices": [[ms, p] for ms, p, _, _ in vals],
           "market_caps": [[ms, m] for ms, _, m, _ in vals],
           "total_volumes": [[ms, v] for ms, _, _, v in vals]}
    # Sometimes (deterministically; always for ids containing "gap") total_volumes misses a middle point.
    if len(vals) >= 3 and ("gap" in coin or zlib.crc32(f"{coin}:{len(vals)}".encode()) % 3 == 0):
        del out["total_volumes"][len(vals) // 2]
    return J(200, out)

def coingecko_simple_price(req):
    if not req.q.get("ids") or not req.q.get("vs_currencies"):
        return J(400, {"error": "Missing parameter ids or vs_currencies"})
    flag = lambda k: req.q.get(k, "false").lower() == "true"
    now = now_s()
    out = {}
    for coin in filter(None, (x.strip() for x in req.q["ids"].split(","))):
        if coin.startswith("no-such") or coin in out:
            continue                                              # unknown ids are silently dropped
        seed, upd = seed_of(coin), int(now) - int(unit(seed_of(coin), int(now) // 60, 14) * 50)
        entry = {}
        for cur in (x.strip().lower() for x in req.q["vs_currencies"].split(",")):
            if cur not in FX:
                continue
            p, mcap, vol = cg_values(coin, upd * 1000, FX[cur])
            entry[cur] = p
            if flag("include_market_cap"):
                entry[f"{cur}_market_cap"] = mcap
            if flag("include_24hr_vol"):
                entry[f"{cur}_24h_vol"] = vol
            if flag("include_24hr_change"):
                entry[f"{cur}_24h_change"] = round((mid_price(seed, upd) / mid_price(seed, upd - 86400) - 1) * 100, 4)
        if flag("include_last_updated_at"):
            entry["last_updated_at"] = upd
        out[coin] = entry
    return J(200, out)

# ==== Yahoo ====

VALID_RANGES = ["1d", "5d", "1mo", "3mo", "6mo", "1y", "2y", "5y", "10y", "ytd", "max"]
Y_INTERVALS = {"1d": 86400, "1h": 3600, "60m": 3600, "30m": 1800}
Y_INTRADAY_LIMIT_DAYS = {"1h": 730, "60m": 730, "30m": 60}      # enforced only with FAKE_YAHOO_ENFORCE_LIMITS=1
Y_RANGE_DAYS = {"1mo": 31, "3mo": 92, "6mo": 183, "1y": 365, "2y": 730, "5y": 1826, "10y": 3653}

def y_kind(sym):
    """(exchangeName, fullExchangeName, instrumentType, crypto?)"""
    return (("CCC", "CCC", "CRYPTOCURRENCY", True) if sym.endswith("-USD") else
            ("SNP", "SNP", "INDEX", False) if sym.startswith("^") else
            ("CCY", "CCY", "CURRENCY", False) if sym.endswith("=X") else
            ("PCX", "NYSEArca", "ETF", False) if sym in ("SPY", "QQQ", "IWM", "DIA", "VOO", "GLD", "TLT") else
            ("NMS", "NasdaqGS", "EQUITY", False))

def y_day_bars(crypto, interval, d):
    """(start, span) of every bar of one day. Stocks: daily 09:30 ET (6.5 h); 1h 09:30..15:30 ET (last bar
    30 min); 30m 09:30, 10:00, ..., 15:30 ET (13 bars). Crypto: from 00:00 UTC, every interval, 24 h."""
    if crypto:
        start = utc_ts(d)
        if interval == "1d":
            return [(start, 86400)]
        step = Y_INTERVALS[interval]
        return [(start + step * k, step) for k in range(86400 // step)]
    start = et_ts(d, 9, 30)
    if interval == "1d":
        return [(start, 23400)]
    if interval == "30m":
        return [(start + 1800 * k, 1800) for k in range(13)]
    return [(start + 3600 * k, 3600 if k < 6 else 1800) for k in range(7)]

def y_rows(crypto, interval, p1, p2):
    """(ts, span, session date) of every bar with p1 <= ts < p2 and ts <= now; stocks on weekdays only."""
    tz, now = (UTC if crypto else ET), now_s()
    out = []
    for d in days(max(local_date(max(p1, 0), tz), MIN_DATE), min(local_date(max(p2, 0), tz), today())):
        if not crypto and d.weekday() >= 5:
            continue
        out += [(ts, sp, d) for ts, sp in y_day_bars(crypto, interval, d) if p1 <= ts < p2 and ts <= now]
    return out

def y_day_start(crypto, d):
    return utc_ts(d) if crypto else et_ts(d, 9, 30)

def y_daily_bar(seed, crypto, d):
    """The daily bar of date d (same values as the interval=1d row)."""
    return ohlcv(seed, y_day_start(crypto, d), 86400 if crypto else 23400, crypto)

def y_prev_session(crypto, d):
    d -= timedelta(days=1)
    while not crypto and d.weekday() >= 5:
        d -= timedelta(days=1)
    return d

def y_last_session(crypto, now):
    """The latest session that has started by `now` (and is <= today): stocks the last weekday whose 09:30 ET
    is <= now, crypto the UTC date of now."""
    d = min(local_date(now, UTC if crypto else ET), today())
    while d > MIN_DATE and (not (crypto or d.weekday() < 5) or y_day_start(crypto, d) > now):
        d -= timedelta(days=1)
    return d

def y_range_window(rng, crypto, now):
    """(period1, period2) for range=...: 1d/5d = the last 1/5 sessions (see y_last_session), ytd from Jan 1,
    max from 1990, the others calendar days back (approximate). period2 = now + 1 s (the bar at now included)."""
    last = y_last_session(crypto, now)
    if rng in ("1d", "5d"):
        first = last
        for _ in range(int(rng[0]) - 1):
            first = y_prev_session(crypto, first)
    elif rng == "ytd":
        first = date(last.year, 1, 1)
    elif rng == "max":
        first = MIN_DATE
    else:
        first = last - timedelta(days=Y_RANGE_DAYS[rng] - 1)
    p1 = utc_ts(first) if crypto else et_ts(first)
    return p1, int(now) + 1

def y_period(tz, d, start_hm, end_hm):
    off = int(datetime(d.year, d.month, d.day, 12, tzinfo=tz).utcoffset().total_seconds())
    abbr = datetime(d.year, d.month, d.day, 12, tzinfo=tz).tzname()
    s = int(datetime(d.year, d.month, d.day, *start_hm, tzinfo=tz).timestamp())
    e = int(datetime(d.year, d.month, d.day, *end_hm, tzinfo=tz).timestamp()) if end_hm else s + 86400
    return {"timezone": abbr, "start": s, "end": e, "gmtoffset": off}

def y_error(status, code, desc):
    return J(status, {"chart": {"result": None, "error": {"code": code, "description": desc}}})

def yahoo_chart(req, sym):
    if "Mozilla" not in req.headers.get("user-agent", ""):
        return TXT(403, "Forbidden")
    if sym.upper().startswith("ZZ"):
        return error_response("yahoo", 404)
    interval = req.q.get("interval", "1d")
    if interval not in Y_INTERVALS:
        return y_error(400, "Bad Request", f"Invalid input - interval={interval} is not supported. "
                       f"Valid intervals: [{', '.join(Y_INTERVALS)}] (fake server)")
    daily = interval == "1d"
    now = now_s()
    exch, full_exch, itype, crypto = y_kind(sym)
    rng = req.q.get("range") or None
    use_range = rng is not None and "period1" not in req.q        # period1/period2 win over range
    if use_range:
        if rng not in VALID_RANGES:
            return y_error(400, "Bad Request", f"Invalid input - range={rng} is not supported. "
                           f"Valid ranges: [{', '.join(VALID_RANGES)}]")
        p1, p2 = y_range_window(rng, crypto, now)
    else:
        try:
            p2 = int(float(req.q.get("period2", now)))
            p1 = int(float(req.q.get("period1", p2 - 30 * 86400)))
        except ValueError:
            return y_error(400, "Bad Request", "Invalid period")
    limit = Y_INTRADAY_LIMIT_DAYS.get(interval)
    if limit and os.environ.get("FAKE_YAHOO_ENFORCE_LIMITS") == "1" and p1 < now - limit * 86400:
        return y_error(422, "Unprocessable Entity", f"{interval} data not available for startTime={p1} and "
                       f"endTime={p2}. The requested range must be within the last {limit} days.")
    tz = UTC if crypto else ET
    seed = seed_of(sym)
    rows = y_rows(crypto, interval, p1, p2)
    td, nul, quotes = today(), sym.startswith("NUL"), []      # quotes: (ts, o, h, l, c, v, adjclose)
    for ts, span, d in rows:
        o, h, l, c, v = ohlcv(seed, ts, span, crypto)
        quotes.append((ts, None if nul and unit(seed, ts, 20) < 0.25 else f32(o),   # NUL*: null opens ...
                       f32(h), f32(l), f32(c),
                       None if nul and unit(seed, ts, 21) < 0.25 else int(v * c) if crypto else v,  # ... and volumes
                       f32(c * max(0.5, 1 - 0.002 * ((td - d).days // 91)))))     # quarterly "dividends"
    # Pitfall: while the market is "open" Yahoo can add a second, live row for today (same date, later time).
    if daily and rows and rows[-1][2] == td and os.environ.get("FAKE_YAHOO_LIVE_ROW") == "1":
        open_ts = rows[-1][0]
        live = int(max(open_ts + 61, min(now, open_ts + rows[-1][1] + 1)))
        o, h, l, c, v = ohlcv(seed, open_ts, max(60, live - open_ts), crypto)
        quotes.append((live, f32(o), f32(h), f32(l), f32(c), int(v * c) if crypto else v, f32(c)))
    ts_l, o_l, h_l, l_l, c_l, v_l, adj_l = (list(col) for col in zip(*quotes)) if quotes else ([],) * 7
    # meta
    first_d = rows[0][2] if rows else local_date(max(p1, 0), tz)
    prev_d = first_d - timedelta(days=1)
    while not crypto and prev_d.weekday() >= 5:
        prev_d -= timedelta(days=1)
    prev_close = f32(y_daily_bar(seed, crypto, prev_d)[3])      # chartPreviousClose: the close before the chart
    last_price = c_l[-1] if c_l else f32(round(mid_price(seed, now), 2))
    cur = y_period(tz, td, (0, 0), None) if crypto else None
    ctp = ({"pre": dict(cur, end=cur["start"]), "regular": cur, "post": dict(cur, start=cur["end"])} if crypto else
           {"pre": y_period(tz, td, (4, 0), (9, 30)), "regular": y_period(tz, td, (9, 30), (16, 0)),
            "post": y_period(tz, td, (16, 0), (20, 0))})
    now_dt = datetime.fromtimestamp(now, tz)
    meta = {"currency": "USD", "symbol": sym, "exchangeName": exch, "fullExchangeName": full_exch,
            "instrumentType": itype, "firstTradeDate": et_ts(date(1990, 1, 2), 9, 30),
            "regularMarketTime": (int(min(now, ts_l[-1] + (60 if crypto else 23400 if daily else rows[-1][1])))
                                  if ts_l else int(now)),
            "hasPrePostMarketData": not crypto, "gmtoffset": int(now_dt.utcoffset().total_seconds()),
            "timezone": now_dt.tzname(), "exchangeTimezoneName": "UTC" if crypto else "America/New_York",
            "regularMarketPrice": last_price, "fiftyTwoWeekHigh": f32(max(filter(None, h_l), default=last_price)),
            "fiftyTwoWeekLow": f32(min(filter(None, l_l), default=last_price)),
            "longName": f"{sym} Synthetic", "shortName": f"{sym} Synthetic",
            "chartPreviousClose": prev_close, "priceHint": 2, "currentTradingPeriod": ctp,
            "dataGranularity": interval, "range": "", "validRanges": VALID_RANGES}
    if use_range:
        # Quote semantics (range=1d&interval=1d is how clients ask for the latest price):
        #   regularMarketPrice: stocks the close of the last session's daily bar (its live row when
        #     FAKE_YAHOO_LIVE_ROW=1 adds one); crypto the close of the hour bar containing now.
        #   regularMarketTime: now for crypto or inside 09:30-16:00 ET of that session, else 16:00 ET of it.
        #   previousClose: the daily close of the session before the last one (chartPreviousClose is the close
        #     before the chart's first row, as Yahoo does: the same for 1d, earlier for 5d and longer).
        last = y_last_session(crypto, now)
        _, hi_, lw_, cl_, vol_ = y_daily_bar(seed, crypto, last)
        if crypto:
            hour = int(now) // 3600 * 3600
            price, rmt = f32(ohlcv(seed, hour, 3600, True)[3]), int(now)
        else:
            price = c_l[-1] if daily and rows and rows[-1][2] == last else f32(cl_)
            in_session = et_ts(last, 9, 30) <= now < et_ts(last, 16)
            rmt = int(now) if in_session else et_ts(last, 16)
        meta.update({"regularMarketTime": rmt, "regularMarketPrice": price,
                     "regularMarketDayHigh": f32(max(hi_, price)), "regularMarketDayLow": f32(min(lw_, price)),
                     "regularMarketVolume": int(vol_ * cl_) if crypto else vol_,
                     "previousClose": f32(y_daily_bar(seed, crypto, y_prev_session(crypto, last))[3]),
                     "range": rng})
    if not daily and not crypto:
        meta["tradingPeriods"] = [[y_period(ET, d, (9, 30), (16, 0))] for d in sorted({r[2] for r in rows})]
    result = {"meta": meta}
    if ts_l:
        result["timestamp"] = ts_l
        result["indicators"] = {"quote": [{"open": o_l, "high": h_l, "low": l_l, "close": c_l, "volume": v_l}]}
        if daily:
            result["indicators"]["adjclose"] = [{"adjclose": adj_l}]
    else:                                                # pitfall: no timestamp key, quote [{}]
        result["indicators"] = {"quote": [{}]}
        if daily:
            result["indicators"]["adjclose"] = [{}]
    return J(200, {"chart": {"result": [result], "error": None}})

# ==== Routing ====

# (path regex, auth check or None, handler). Paths are matched percent-decoded (X%3ABTCUSD -> X:BTCUSD).
ROUTES = [
    (re.compile(r"/v2/aggs/ticker/([^/]+)/range/(\d+)/([a-z]+)/([^/]+)/([^/]+)/?"), polygon_auth,
     lambda r, m: polygon_aggs(r, m[1], int(m[2]), m[3], m[4], m[5])),
    (re.compile(r"/v2/aggs/ticker/([^/]+)/prev/?"), polygon_auth, lambda r, m: polygon_prev(r, m[1])),
    (re.compile(r"/v2/aggs/grouped/locale/us/market/(stocks)/([^/]+)/?"), polygon_auth,
     lambda r, m: polygon_grouped(r, m[1], m[2])),
    (re.compile(r"/v2/aggs/grouped/locale/global/market/(crypto)/([^/]+)/?"), polygon_auth,
     lambda r, m: polygon_grouped(r, m[1], m[2])),
    (re.compile(r"/api/v3/coins/([^/]+)/market_chart/range/?"), coingecko_auth, lambda r, m: coingecko_range(r, m[1])),
    (re.compile(r"/api/v3/simple/price/?"), coingecko_auth, lambda r, m: coingecko_simple_price(r)),
    (re.compile(r"/api/v3/ping/?"), coingecko_auth, lambda r, m: J(200, {"gecko_says": "(V3) To the Moon!"})),
    (re.compile(r"/v8/finance/chart/([^/]+)"), None, lambda r, m: yahoo_chart(r, m[1])),
]
PREFIXES = {"/v2/": "polygon", "/api/v3/": "coingecko", "/v8/": "yahoo"}

def provider_of(path):
    return next((p for pre, p in PREFIXES.items() if path.startswith(pre)), None)

def route(req, provider):
    for rx, auth, fn in ROUTES:
        m = rx.fullmatch(req.path)
        if m:
            return (auth and auth(req)) or fn(req, m)
    if provider == "coingecko":
        return J(404, {"error": "Incorrect path. Please check https://www.coingecko.com/api/"})
    return error_response(provider, 404) if provider else J(404, {"error": "no such route in fake provider"})

# ==== Shared state: fault rules, request log, rate limiter ====

class State:
    def __init__(self, args):
        self.args, self.port = args, 0
        self.lock = threading.Lock()
        self.rules, self.log = [], []
        self.windows = {p: deque() for p in PROVIDERS}
        self.grouped = {k: list(v) for k, v in DEFAULT_GROUPED.items()}
        self.log_file = open(args.log, "a", encoding="utf-8") if args.log else None

    def set_rules(self, rules):
        with self.lock:
            self.rules = [dict(r) for r in rules]

    def take_rule(self, target):
        """First rule whose `match` is a substring of target and has times left; decrements times."""
        with self.lock:
            for r in self.rules:
                if r.get("match", "") in target and (r.get("times") is None or r["times"] > 0):
                    if r.get("times") is not None:
                        r["times"] -= 1
                    return dict(r)
        return None

    def rate_acquire(self, provider, check=True):
        """0 if the request may proceed (and is counted), else seconds until a slot frees (>=1)."""
        limit = dict(self.args.provider_rpm or []).get(provider, self.args.rpm)
        if not limit or provider not in self.windows:
            return 0
        with self.lock:
            w, now = self.windows[provider], time.monotonic()
            while w and w[0] <= now - 60:
                w.popleft()
            if check and len(w) >= limit:
                return max(1, math.ceil(w[0] + 60 - now))
            w.append(now)
            return 0

    def grouped_universe(self, market):
        with self.lock:
            return list(self.grouped[market])

    def set_grouped(self, doc):
        """Replaces the tickers of the markets named in doc ({"stocks": [...], "crypto": [...]}); null restores
        a market's default."""
        with self.lock:
            for market in ("stocks", "crypto"):
                if market in doc:
                    v = doc[market]
                    self.grouped[market] = list(DEFAULT_GROUPED[market] if v is None else v)
            return {k: list(v) for k, v in self.grouped.items()}

    def record(self, entry):
        with self.lock:
            self.log.append(entry)
            if self.log_file:
                self.log_file.write(json.dumps(entry) + "\n")
                self.log_file.flush()

    def reset(self):
        with self.lock:
            self.rules, self.log = [], []
            for w in self.windows.values():
                w.clear()
            self.grouped = {k: list(v) for k, v in DEFAULT_GROUPED.items()}


def scaled(resp, factor):
    """A Polygon aggregates reply with o, h, l, c and vw of every bar times `factor` (history adjusted for a
    split of 1/factor); any other reply unchanged."""
    status, ctype, body, headers = resp
    try:
        doc = json.loads(body)
    except ValueError:
        return resp
    if status != 200 or not isinstance(doc, dict) or not isinstance(doc.get("results"), list):
        return resp
    for b in doc["results"]:
        for k in ("o", "h", "l", "c", "vw"):
            if k in b:
                b[k] = round(b[k] * factor, 6)
    return J(status, doc, headers)


class Req:
    """What route handlers see: decoded path, first value of each query param, lower-cased headers."""
    def __init__(self, state, path, q, headers):
        self.state, self.path, self.q, self.headers = state, path, q, headers

# ==== HTTP handler ====

class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"          # keep-alive; every reply has Content-Length
    disable_nagle_algorithm = True         # headers and body go out at once (no 40 ms delayed-ACK stall)
    server_version = "FakeProvider/1.0"
    timeout = 120                          # drop idle keep-alive connections eventually
    state: State = None

    def log_message(self, fmt, *args):     # quiet; use GET /__control/requests or --log
        pass

    def do_GET(self):
        self.dispatch("GET")

    def do_POST(self):
        self.dispatch("POST")

    def dispatch(self, method):
        n = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(n) if n > 0 else b""
        parts = urlsplit(self.path)
        path = unquote(parts.path)
        q = {k: v[0] for k, v in parse_qs(parts.query, keep_blank_values=True).items()}
        headers = {k.lower(): v for k, v in self.headers.items()}
        if path == "/__health":
            return self.send(TXT(200, "ok"))
        if path.startswith("/__control/"):
            return self.send(self.control(method, path, body))
        ts = time.time()
        provider = provider_of(path)
        try:
            resp, truncate = self.provider_reply(method, path, q, headers, provider, parts.query)
        except Exception:                                    # a bug here must not kill the server
            traceback.print_exc()
            resp, truncate = J(500, {"error": "fake server internal error"}), False
        if self.state.args.latency_ms > 0:
            time.sleep(self.state.args.latency_ms / 1000)
        self.state.record({"method": method, "path": path, "query": q, "headers": headers,
                           "status": resp[0], "ts": ts, "target": self.path, "provider": provider})
        self.send(resp, truncate)

    def provider_reply(self, method, path, q, headers, provider, raw_query):
        """Apply fault rules, then the --rpm limiter, then the real route. Returns (response, truncate?)."""
        st = self.state
        target = path + ("?" + unquote(raw_query) if raw_query else "")
        rule = st.take_rule(target)
        if rule and rule["mode"] == "slow":
            time.sleep(float(rule.get("delay_ms", 1000)) / 1000)
            rule = None
        scale = None
        if rule and rule["mode"] == "scale":                 # the real reply, prices times `factor`
            scale, rule = float(rule.get("factor", 0.25)), None
        if rule and rule["mode"] not in ("truncate",):
            if rule["mode"] == "garbage":
                resp = TXT(200, html_page("Just a moment...", "Checking your browser before accessing."),
                           "text/html; charset=UTF-8")
            elif rule["mode"] in ("huge", "gzip_bomb"):      # streamed, never built in memory
                gz = rule["mode"] == "gzip_bomb"
                size = rule.get("size", 1_000_000_000 if gz else 200_000_000)
                resp = (200, "application/json; charset=utf-8", StreamBody(size, gz),
                        [("Retry-After", str(rule["retry_after"]))] if rule.get("retry_after") is not None else [])
            elif rule["mode"] == "raw":                      # exactly this body (a recorded or crafted reply)
                body = str(rule.get("body", "")).replace("{PORT}", str(st.port))
                resp = TXT(int(rule.get("status", 200)), body,
                           str(rule.get("content_type", "application/json; charset=utf-8")),
                           [("Retry-After", str(rule["retry_after"]))] if rule.get("retry_after") is not None else ())
            else:
                resp = error_response(provider, int(rule["mode"]), rule.get("retry_after"), bool(rule.get("html")))
            if resp[0] != 429:
                st.rate_acquire(provider, check=False)       # answered, not 429: counts toward --rpm
            return resp, False
        wait = st.rate_acquire(provider)
        if wait:
            return error_response(provider, 429, wait), False
        if method != "GET":
            return J(405, {"error": "method not allowed"}), False
        resp = route(Req(st, path, q, headers), provider)
        if scale is not None:
            resp = scaled(resp, scale)
        if rule:                                             # truncate: status 200, full length, half body
            return (200,) + resp[1:], True
        return resp, False

    def control(self, method, path, body):
        st = self.state
        if path == "/__control/rules" and method == "POST":
            try:
                doc = json.loads(body or b"{}")
                rules = doc["rules"] if isinstance(doc, dict) else doc
                if not isinstance(rules, list):
                    raise ValueError("rules must be a list")
                for r in rules:
                    if str(r.get("mode")) not in FAULT_MODES:
                        raise ValueError(f"unknown mode {r.get('mode')!r}; one of {sorted(FAULT_MODES)}")
                    r["mode"] = str(r["mode"])
            except (ValueError, KeyError, TypeError, AttributeError) as e:
                return J(400, {"error": str(e)})
            st.set_rules(rules)
            return J(200, {"ok": True, "rules": len(rules)})
        if path == "/__control/rules" and method == "GET":
            with st.lock:
                return J(200, {"rules": st.rules})
        if path == "/__control/requests" and method == "GET":
            with st.lock:
                return J(200, list(st.log))
        if path == "/__control/reset" and method == "POST":
            st.reset()
            return J(200, {"ok": True})
        if path == "/__control/grouped" and method == "POST":
            try:
                doc = json.loads(body or b"{}")
                if not isinstance(doc, dict) or not set(doc) <= {"stocks", "crypto"}:
                    raise ValueError('body must be {"stocks": [TICKER...]|null, "crypto": [TICKER...]|null}')
                for v in doc.values():
                    if v is not None and not (isinstance(v, list) and all(isinstance(t, str) for t in v)):
                        raise ValueError("each market is a list of ticker strings or null")
            except ValueError as e:
                return J(400, {"error": str(e)})
            return J(200, {"ok": True, **st.set_grouped(doc)})
        if path == "/__control/grouped" and method == "GET":
            return J(200, {"ok": True, **{m: st.grouped_universe(m) for m in ("stocks", "crypto")}})
        if path == "/__control/now" and method == "POST":
            try:
                doc = json.loads(body or b"{}")
                if not isinstance(doc, dict) or not ({"now", "today"} & set(doc)):
                    raise ValueError('body must be {"now": <unix seconds>|null} or {"today": "YYYY-MM-DD"}')
                if "today" in doc and doc["today"] is not None:      # convenience: 23:00:00Z of that day
                    d = date.fromisoformat(str(doc["today"]))
                    value = datetime(d.year, d.month, d.day, 23, tzinfo=UTC).timestamp()
                else:
                    value = doc.get("now")
                    if isinstance(value, bool) or not (value is None or isinstance(value, (int, float, str))):
                        raise ValueError("now must be a number of UNIX seconds or null")
                    if value is not None:
                        value = float(value)
                        if not math.isfinite(value) or not 0 <= value < 4102444800:   # before 2100
                            raise ValueError("now out of range")
            except (ValueError, TypeError) as e:
                return J(400, {"error": str(e)})
            set_now_override(value)
            return J(200, self.clock_doc())
        if path == "/__control/now" and method == "GET":
            return J(200, self.clock_doc())
        return J(404, {"error": "unknown control endpoint"})

    @staticmethod
    def clock_doc():
        n = now_s()
        return {"ok": True, "now": int(n) if n == int(n) else n, "today": today().isoformat(),
                "source": clock_source()}

    def send(self, resp, truncate=False):
        status, ctype, body, extra = resp
        if isinstance(body, StreamBody):
            return self.send_stream(status, ctype, body, extra)
        gz = (not truncate and body and "gzip" in self.headers.get("Accept-Encoding", ""))
        if gz:
            body = gzip.compress(body, compresslevel=5)
        try:
            self.send_response(status)
            self.send_header("Content-Type", ctype)
            for k, v in extra:
                self.send_header(k, v)
            if gz:
                self.send_header("Content-Encoding", "gzip")
                self.send_header("Vary", "Accept-Encoding")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if truncate:                                   # promise the full length, deliver half, hang up
                self.wfile.write(body[: len(body) // 2])
                self.wfile.flush()
                self.close_connection = True
            else:
                self.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True

    def send_stream(self, status, ctype, body, extra):
        """Writes a StreamBody chunk by chunk; a client that hangs up early just ends it."""
        try:
            self.send_response(status)
            self.send_header("Content-Type", ctype)
            for k, v in extra:
                self.send_header(k, v)
            if body.gzip:                                  # length unknown up front: the close ends the body
                self.send_header("Content-Encoding", "gzip")
                self.send_header("Connection", "close")
                self.close_connection = True
            else:
                self.send_header("Content-Length", str(body.size))
            self.end_headers()
            for piece in body.chunks():
                self.wfile.write(piece)
            self.wfile.flush()
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True


class Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 256

def main(argv=None):
    ap = argparse.ArgumentParser(description="Fake Polygon/CoinGecko/Yahoo server on 127.0.0.1")
    ap.add_argument("--port", type=int, default=0, help="0 = pick a free port")
    ap.add_argument("--port-file", help="write the chosen port here (atomically) once listening")
    ap.add_argument("--latency-ms", type=float, default=0, help="sleep before every provider reply")
    ap.add_argument("--polygon-key", help="require this Polygon key (Bearer header or apiKey=)")
    ap.add_argument("--coingecko-key", help="require this CoinGecko key (x-cg-*-api-key header or query)")
    ap.add_argument("--polygon-page-size", type=int, default=5000, help="max bars per Polygon page")
    ap.add_argument("--rpm", type=int, default=0, help="per-provider limit over a sliding 60 s window")
    ap.add_argument("--provider-rpm", action="append", metavar="NAME=N",
                    type=lambda t: (t.split("=", 1)[0], int(t.split("=", 1)[1])),
                    help="one provider's own --rpm (polygon=5 coingecko=30: the free plans); repeatable")
    ap.add_argument("--log", help="append every provider request as a JSON line to this file")
    args = ap.parse_args(argv)
    args.polygon_page_size = max(1, args.polygon_page_size)

    Handler.state = state = State(args)
    server = Server(("127.0.0.1", args.port), Handler)
    state.port = server.server_address[1]
    if args.port_file:
        tmp = f"{args.port_file}.tmp.{os.getpid()}"
        with open(tmp, "w") as f:
            f.write(f"{state.port}\n")
        os.replace(tmp, args.port_file)
    print(f"listening on 127.0.0.1:{state.port}", flush=True)

    def stop(signum, frame):
        raise KeyboardInterrupt
    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    try:
        server.serve_forever(poll_interval=0.2)
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
        if state.log_file:
            state.log_file.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
