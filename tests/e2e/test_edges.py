"""Window edges, the market's "today", and bad symbols and dates.

- Rows a provider sends because the request asked for them, although the user did not (Yahoo's period2 is
  inclusive for rows stamped exactly at it, CoinGecko's `to` likewise, a Polygon bar past `to`), are skipped
  and counted in the `loaded` log line's `skipped` field, never rejected.
- "Today" is the market's day: for stocks, ETFs and indices the last NYSE session that has opened (America/
  New_York), for crypto the UTC date. A window never reaches past it; a later --to is clipped (one log line).
- Symbols that could become a path step at a provider, and dates outside 1900-01-01 .. 9999-12-31, are usage
  errors (64) with a one-line message, on SQLite and PostgreSQL alike.
"""
import json
import unittest
from datetime import date, datetime, timezone
from zoneinfo import ZoneInfo

from harness import (plain_lines, ETL_HOURLY, ETL_LATEST, PgDatabase, ServerTestCase, TempDir, all_days, clean_env, require_pg,
                     run, sqlite_query, weekdays)

ET = ZoneInfo("America/New_York")
UTC = timezone.utc


def loaded_line(r, symbol):
    lines = [l for l in r.json_logs() if l.get("msg") == "loaded" and l.get("symbol") == symbol]
    assert len(lines) == 1, r.describe()
    return lines[0]


def utc_midnight(d: date) -> int:
    return int(datetime(d.year, d.month, d.day, tzinfo=UTC).timestamp())


def yahoo_daily_body(symbol, zone, instrument, exchange, rows):
    """A Yahoo /v8/finance/chart daily answer shaped like a live one (providers.md §3.2), rows =
    [(unix seconds, open, high, low, close, volume)]."""
    ts = [r[0] for r in rows]
    quote = {"open": [r[1] for r in rows], "high": [r[2] for r in rows], "low": [r[3] for r in rows],
             "close": [r[4] for r in rows], "volume": [r[5] for r in rows]}
    period = {"timezone": "UTC" if zone == "UTC" else "JST", "start": ts[-1], "end": ts[-1] + 86400,
              "gmtoffset": 0 if zone == "UTC" else 32400}
    meta = {"currency": "USD" if zone == "UTC" else "JPY", "symbol": symbol, "exchangeName": exchange,
            "fullExchangeName": exchange, "instrumentType": instrument, "firstTradeDate": 1410912000,
            "regularMarketTime": ts[-1] + 60, "hasPrePostMarketData": False, "gmtoffset": period["gmtoffset"],
            "timezone": period["timezone"], "exchangeTimezoneName": zone, "regularMarketPrice": rows[-1][4],
            "chartPreviousClose": rows[0][1], "priceHint": 2,
            "currentTradingPeriod": {"pre": dict(period, end=period["start"]), "regular": period,
                                     "post": dict(period, start=period["end"])},
            "dataGranularity": "1d", "range": "", "validRanges": ["1d", "5d", "1mo", "3mo", "6mo", "1y", "2y", "5y",
                                                                  "10y", "ytd", "max"]}
    result = {"meta": meta, "timestamp": ts,
              "indicators": {"quote": [quote], "adjclose": [{"adjclose": [r[4] for r in rows]}]}}
    return json.dumps({"chart": {"result": [result], "error": None}})


# BTC-USD as Yahoo answered period1=2020-01-01 00:00Z, period2=2020-01-03 00:00Z: three rows, the last one
# stamped exactly at period2.
BTC_2020 = [
    (utc_midnight(date(2020, 1, 1)), 7194.89208984375, 7254.3310546875, 7174.94384765625, 7200.17431640625,
     18565664997),
    (utc_midnight(date(2020, 1, 2)), 7202.55126953125, 7212.1552734375, 6935.27001953125, 6985.47021484375,
     20802083465),
    (utc_midnight(date(2020, 1, 3)), 6984.4287109375, 7413.71533203125, 6914.99609375, 7344.8841552734375,
     28111481032),
]

# A Tokyo stock: the 09:00 JST open is 00:00 UTC, so period2 (the day after --to at 00:00 UTC) is the next
# session's open and Yahoo includes it.
TOYOTA_2020 = [
    (utc_midnight(date(2020, 1, 6)), 2350.0, 2371.0, 2336.5, 2366.0, 6402300),
    (utc_midnight(date(2020, 1, 7)), 2380.0, 2399.0, 2374.0, 2396.5, 5331700),
    (utc_midnight(date(2020, 1, 8)), 2370.0, 2376.5, 2346.0, 2357.0, 7590400),
]


class WindowEdges(ServerTestCase):
    """Rows at the edges of the request that the user did not ask for: skipped, never rejected."""

    tmp_tag = "edges"

    def hist(self, *args, **env):
        return run(["etl-historical", *args, "--database-url", f"sqlite:{self.db}"], env=self.env(**env),
                   cwd=self.tmp.path)

    def dates(self, symbol):
        return [date.fromisoformat(ts[:10]) for (ts,) in
                sqlite_query(self.db, "SELECT ts FROM price_bars WHERE symbol = ? AND timeframe = '1d' ORDER BY ts",
                             (symbol,))]

    def rejected(self):
        return sqlite_query(self.db, "SELECT symbol, reason FROM rejected_rows")

    def test_yahoo_crypto_row_at_period2_is_skipped_not_rejected(self):
        self.server.set_rules([{"match": "/v8/finance/chart/BTC-USD", "mode": "raw",
                                "body": yahoo_daily_body("BTC-USD", "UTC", "CRYPTOCURRENCY", "CCC", BTC_2020)}])
        r = self.hist("--from", "2020-01-01", "--to", "2020-01-02", "BTC", ETL_ROUTING_CRYPTO="yahoo")
        self.assertEqual(r.rc, 0, r.describe())
        reqs = self.server.requests("yahoo")
        self.assertEqual(len(reqs), 1)
        self.assertEqual(int(reqs[0]["query"]["period2"]), BTC_2020[2][0], "the third row is stamped at period2")
        self.assertEqual(self.dates("BTC"), [date(2020, 1, 1), date(2020, 1, 2)])
        self.assertEqual(self.rejected(), [])
        line = loaded_line(r, "BTC")
        self.assertEqual((line["bars"], line["rejected"], line["skipped"]), (2, 0, 1))

    def test_yahoo_malformed_row_at_period2_is_skipped_not_rejected(self):
        # A live row with a null open, at period2: still a row the user did not ask for.
        rows = BTC_2020[:2] + [(BTC_2020[2][0], None) + BTC_2020[2][2:]]
        self.server.set_rules([{"match": "/v8/finance/chart/BTC-USD", "mode": "raw",
                                "body": yahoo_daily_body("BTC-USD", "UTC", "CRYPTOCURRENCY", "CCC", rows)}])
        r = self.hist("--from", "2020-01-01", "--to", "2020-01-02", "BTC", ETL_ROUTING_CRYPTO="yahoo")
        self.assertEqual(r.rc, 0, r.describe())
        self.assertEqual(self.dates("BTC"), [date(2020, 1, 1), date(2020, 1, 2)])
        self.assertEqual(self.rejected(), [])
        self.assertEqual(loaded_line(r, "BTC")["skipped"], 1)

    def test_yahoo_tokyo_session_at_period2_is_skipped_not_rejected(self):
        self.server.set_rules([{"match": "/v8/finance/chart/", "mode": "raw",
                                "body": yahoo_daily_body("7203.T", "Asia/Tokyo", "EQUITY", "JPX", TOYOTA_2020)}])
        r = self.hist("--from", "2020-01-06", "--to", "2020-01-07", "7203.T", "--class", "stock",
                      ETL_ROUTING_STOCK="yahoo")
        self.assertEqual(r.rc, 0, r.describe())
        self.assertEqual(self.dates("7203.T"), [date(2020, 1, 6), date(2020, 1, 7)])
        self.assertEqual(self.rejected(), [])
        self.assertEqual(loaded_line(r, "7203.T")["skipped"], 1)

    def test_coingecko_point_at_the_end_of_the_request_is_skipped_not_rejected(self):
        # CoinGecko's `to` is inclusive too: the request ends at 2025-01-11 00:00Z, and the daily point stamped
        # there belongs to a day the user did not ask for.
        r = self.hist("--from", "2025-01-01", "--to", "2025-01-10", "BTC")
        self.assertEqual(r.rc, 0, r.describe())
        req = self.server.requests("coingecko")[0]
        self.assertEqual(int(req["query"]["to"]), utc_midnight(date(2025, 1, 11)))
        self.assertEqual(self.dates("BTC"), all_days(date(2025, 1, 1), date(2025, 1, 10)))
        self.assertEqual(self.rejected(), [])
        self.assertGreaterEqual(int(loaded_line(r, "BTC")["skipped"]), 1)

    def test_polygon_bar_after_the_window_is_skipped_not_rejected(self):
        # 00:00 ET of 2025-03-03, -04 and -05; the request asked for 03-03 .. 03-04.
        bars = [{"v": 48112345.0, "vw": 238.4021, "o": 241.79, "c": 238.03, "h": 244.03, "l": 236.11,
                 "t": 1740978000000, "n": 612004},
                {"v": 53911022, "vw": 235.9113, "o": 237.71, "c": 235.93, "h": 240.07, "l": 234.68,
                 "t": 1741064400000, "n": 655871},
                {"v": 4.7227643e+07, "vw": 235.2277, "o": 235.42, "c": 235.74, "h": 236.55, "l": 229.23,
                 "t": 1741150800000, "n": 598120}]
        body = json.dumps({"ticker": "AAPL", "queryCount": 3, "resultsCount": 3, "adjusted": True, "results": bars,
                           "status": "OK", "request_id": "9b1c0d3e5f6a47b8a1c2d3e4f5a6b7c8", "count": 3})
        self.server.set_rules([{"match": "/v2/aggs/ticker/AAPL/", "mode": "raw", "body": body}])
        r = self.hist("--from", "2025-03-03", "--to", "2025-03-04", "AAPL")
        self.assertEqual(r.rc, 0, r.describe())
        self.assertEqual(self.dates("AAPL"), [date(2025, 3, 3), date(2025, 3, 4)])
        self.assertEqual(self.rejected(), [])
        self.assertEqual(loaded_line(r, "AAPL")["skipped"], 1)


class MarketToday(unittest.TestCase):
    """--mock runs at pinned instants: the last daily bar is the market's today."""

    def setUp(self):
        self.tmp = TempDir("today")
        self.addCleanup(self.tmp.cleanup)
        self.db = self.tmp.path / "etl.db"

    def run_job(self, binary, *args, now, **env):
        return run([binary, *args, "--mock", "--database-url", f"sqlite:{self.db}"],
                   env=clean_env(ETL_NOW=now, **env), cwd=self.tmp.path)

    def last_day(self, symbol, timeframe="1d"):
        rows = sqlite_query(self.db, "SELECT max(ts) FROM price_bars WHERE symbol = ? AND timeframe = ?",
                            (symbol, timeframe))
        return date.fromisoformat(rows[0][0][:10])

    def test_monday_evening_in_new_york_writes_no_bar_for_tuesday(self):
        # 21:05 EDT on Monday 2025-03-10 is already Tuesday in UTC; Tuesday's session has not opened.
        r = self.run_job("etl-historical", "7D", "AAPL", "SPY", "I:SPX", "BTC", now="2025-03-11T01:05:00Z")
        self.assertEqual(r.rc, 0, r.describe())
        for symbol in ("AAPL", "SPY", "I:SPX"):
            with self.subTest(symbol=symbol):
                self.assertEqual(self.last_day(symbol), date(2025, 3, 10))
        self.assertEqual(self.last_day("BTC"), date(2025, 3, 11), "crypto's today is the UTC date")
        # 7D counts back from each class's today.
        first = dict(sqlite_query(self.db, "SELECT symbol, min(ts) FROM price_bars GROUP BY symbol"))
        self.assertEqual(first["AAPL"][:10], "2025-03-03")
        self.assertEqual(first["BTC"][:10], "2025-03-04")

    def test_before_the_open_the_previous_session_ends_the_window(self):
        r = self.run_job("etl-historical", "7D", "AAPL", now="2025-03-11T12:00:00Z")     # Tue 08:00 EDT
        self.assertEqual(r.rc, 0, r.describe())
        self.assertEqual(self.last_day("AAPL"), date(2025, 3, 10))

    def test_during_the_session_today_has_a_partial_bar(self):
        r = self.run_job("etl-historical", "7D", "AAPL", now="2025-03-11T15:00:00Z")     # Tue 11:00 EDT
        self.assertEqual(r.rc, 0, r.describe())
        self.assertEqual(self.last_day("AAPL"), date(2025, 3, 11))

    def test_to_in_the_future_is_clipped_at_the_markets_today(self):
        now = "2025-03-15T01:00:00Z"     # Friday 21:00 EDT: stocks' today 03-14, crypto's 03-15
        r = self.run_job("etl-historical", "--from", "2025-03-10", "--to", "2025-03-20", "AAPL", "BTC", now=now)
        self.assertEqual(r.rc, 0, r.describe())
        self.assertEqual(self.last_day("AAPL"), date(2025, 3, 14))
        self.assertEqual(self.last_day("BTC"), date(2025, 3, 15))
        clips = [l for l in r.json_logs() if "--to 2025-03-20" in l.get("msg", "")]
        self.assertEqual(len(clips), 1, r.describe())
        self.assertIn("2025-03-14", clips[0]["msg"])
        self.assertIn("2025-03-15", clips[0]["msg"])

    def test_to_9999_12_31_stores_nothing_in_the_future(self):
        r = self.run_job("etl-historical", "--from", "2025-03-10", "--to", "9999-12-31", "AAPL", "BTC",
                         now="2025-03-14T21:00:00Z")
        self.assertEqual(r.rc, 0, r.describe())
        self.assertEqual(self.last_day("AAPL"), date(2025, 3, 14))
        self.assertEqual(self.last_day("BTC"), date(2025, 3, 14))
        self.assertEqual(sqlite_query(self.db, "SELECT count(*) FROM price_bars WHERE ts > '2025-03-15'"), [(0,)])

    def test_from_after_the_markets_today_is_a_usage_error(self):
        now = "2025-03-11T01:05:00Z"     # Monday 21:05 EDT
        r = self.run_job("etl-historical", "--from", "2025-03-11", "AAPL", now=now)
        self.assertEqual(r.rc, 64, r.describe())
        lines = plain_lines(r.stderr)
        self.assertEqual(len(lines), 1, r.describe())
        self.assertIn("--from 2025-03-11", lines[0])
        self.assertIn("2025-03-10", lines[0])
        self.assertEqual(sqlite_query(self.db, "SELECT count(*) FROM assets"), [(0,)], "nothing recorded")
        # The same day is crypto's today.
        r = self.run_job("etl-historical", "--from", "2025-03-11", "BTC", now=now)
        self.assertEqual(r.rc, 0, r.describe())
        self.assertEqual(self.last_day("BTC"), date(2025, 3, 11))
        # A day after every class's today.
        r = self.run_job("etl-historical", "--from", "2025-03-12", "BTC", now=now)
        self.assertEqual(r.rc, 64, r.describe())
        self.assertEqual(len(plain_lines(r.stderr)), 1, r.describe())

    def test_hourly_session_is_the_markets_day(self):
        # Monday 22:00 EDT: crypto's day is already Tuesday (UTC), and its first hours exist.
        r = self.run_job(ETL_HOURLY, "BTC", "--session", "2025-03-11", now="2025-03-11T02:00:00Z")
        self.assertEqual(r.rc, 0, r.describe())
        rows = sqlite_query(self.db, "SELECT ts FROM price_bars WHERE symbol = 'BTC' AND timeframe = '1h' ORDER BY ts")
        self.assertEqual([t for (t,) in rows], ["2025-03-11T00:00:00Z", "2025-03-11T01:00:00Z", "2025-03-11T02:00:00Z"])
        # Tuesday 08:00 EDT: Tuesday's NYSE session has not opened yet.
        r = self.run_job(ETL_HOURLY, "AAPL", "--session", "2025-03-11", now="2025-03-11T12:00:00Z")
        self.assertEqual(r.rc, 64, r.describe())
        lines = plain_lines(r.stderr)
        self.assertEqual(len(lines), 1, r.describe())
        self.assertIn("future", lines[0])
        self.assertIn("2025-03-10", lines[0])

    def test_mock_hourly_keeps_the_session_hours_that_are_saturday_in_utc(self):
        # Extended hours of Friday 2025-03-07 (EST) end with the 19:00 ET bar, which is 00:00 UTC Saturday.
        r = self.run_job(ETL_HOURLY, "AAPL", now="2025-03-08T15:00:00Z", ETL_HOURLY_EXTENDED_HOURS="true")
        self.assertEqual(r.rc, 0, r.describe())
        rows = sqlite_query(self.db, "SELECT ts FROM price_bars WHERE symbol = 'AAPL' AND timeframe = '1h' ORDER BY ts")
        self.assertEqual(len(rows), 16, rows)
        self.assertEqual((rows[0][0], rows[-1][0]), ("2025-03-07T09:00:00Z", "2025-03-08T00:00:00Z"))


class BadSymbols(ServerTestCase):
    """Symbols that could become a path step at a provider are usage errors; identifiers in `assets` that
    would are refused before any request."""

    tmp_tag = "badsym"

    def job(self, binary, *args, **env):
        return run([binary, *args, "--database-url", f"sqlite:{self.db}"], env=self.env(**env), cwd=self.tmp.path)

    def test_path_step_symbols_are_usage_errors(self):
        symbols = ["..", ".", "...", ".AAPL", "/etc", "A/B", "A..B", "X:.", "X:..", "./AAPL", "AAPL/.."]
        for binary, extra in (("etl-historical", ["7D"]), (ETL_HOURLY, []), (ETL_LATEST, [])):
            for symbol in symbols:
                with self.subTest(binary=binary, symbol=symbol):
                    r = self.job(binary, *extra, "MSFT", symbol)
                    self.assertEqual(r.rc, 64, r.describe())
                    lines = plain_lines(r.stderr)
                    self.assertEqual(len(lines), 1, r.describe())
                    self.assertIn(f"'{symbol}'", lines[0])
        self.assertEqual(self.server.requests(), [])
        self.assertFalse(self.db.exists(), "found before opening the database")
        r = run(["etl", "assets", "add", "..", "--database-url", f"sqlite:{self.db}"], env=self.env(),
                cwd=self.tmp.path)
        self.assertEqual(r.rc, 64, r.describe())

    def test_symbols_with_dots_inside_still_work(self):
        r = self.job("etl-historical", "7D", "BRK.B", "I:SPX", "BTC-USD", "--mock")
        self.assertEqual(r.rc, 0, r.describe())

    def test_identifiers_that_are_path_steps_are_refused_before_any_request(self):
        for args in (["FOO", "--yahoo-symbol", ".."], ["BAR", "--polygon-ticker", ".."],
                     ["BAZ", "--class", "crypto", "--coingecko-id", ".."]):
            r = run(["etl", "assets", "add", *args, "--database-url", f"sqlite:{self.db}"], env=self.env(),
                    cwd=self.tmp.path)
            self.assertEqual(r.rc, 0, r.describe())
        for symbol, routing in (("FOO", {"ETL_ROUTING_STOCK": "yahoo"}), ("BAR", {}), ("BAZ", {})):
            with self.subTest(symbol=symbol):
                self.server.reset()
                r = self.job("etl-historical", "7D", symbol, **routing)
                self.assertEqual(r.rc, 1, r.describe())
                self.assertIn("..", r.stderr)
                self.assertEqual(self.server.requests(), [], "no request leaves with a path step")
                r = self.job(ETL_HOURLY, symbol, **routing)
                self.assertEqual(r.rc, 1, r.describe())
                self.assertEqual(self.server.requests(), [], "no request leaves with a path step")


class BadDates(unittest.TestCase):
    """Dates outside 1900-01-01 .. 9999-12-31 are usage errors on every store (year 0 used to exit 70 on
    PostgreSQL)."""

    CASES = [("--from", "0000-01-01"), ("--from", "-001-01-01"), ("--from", "1899-12-31"), ("--to", "0000-12-31"),
             ("--from", "10000-01-01"), ("--to", "+2025-01-01")]

    def check(self, url, cwd):
        for flag, value in self.CASES:
            with self.subTest(flag=flag, value=value):
                args = ["etl-historical", "AAPL", f"{flag}={value}", "--mock", "--database-url", url]
                if flag == "--to":
                    args.insert(2, "--from=0000-01-01" if value.startswith("0000") else "--from=2025-01-02")
                r = run(args, cwd=cwd)
                self.assertEqual(r.rc, 64, r.describe())
                lines = plain_lines(r.stderr)
                self.assertEqual(len(lines), 1, r.describe())
                self.assertIn("YYYY-MM-DD", lines[0])
                self.assertTrue(flag in lines[0] or "--from" in lines[0], lines[0])
        for value in ("0000-01-01", "-001-01-01", "1899-12-31"):
            with self.subTest(flag="--session", value=value):
                r = run([ETL_HOURLY, "AAPL", f"--session={value}", "--mock", "--database-url", url], cwd=cwd)
                self.assertEqual(r.rc, 64, r.describe())
                lines = plain_lines(r.stderr)
                self.assertEqual(len(lines), 1, r.describe())
                self.assertIn("--session", lines[0])
        # The edges of the range are fine: not a usage error. The mock's history starts in 2000, so a
        # window of 1900 sessions is answered with no bars, which is a "no data" failure (exit 1).
        r = run(["etl-historical", "AAPL", "--from=1900-01-01", "--to=1900-01-10", "--mock", "--database-url", url],
                cwd=cwd)
        self.assertEqual(r.rc, 1, r.describe())
        self.assertIn("no data", r.stderr)
        # A window that starts in the last century and reaches the mock's history loads what exists.
        r = run(["etl-historical", "AAPL", "--from=1999-12-27", "--to=2000-01-10", "--mock", "--database-url", url],
                cwd=cwd)
        self.assertEqual(r.rc, 0, r.describe())

    def test_sqlite(self):
        with TempDir("dates") as d:
            self.check(f"sqlite:{d / 'etl.db'}", d)

    def test_postgresql(self):
        require_pg()
        db = PgDatabase("dates")
        self.addCleanup(db.drop)
        with TempDir("dates-pg") as d:
            self.check(db.url, d)


if __name__ == "__main__":
    unittest.main()
