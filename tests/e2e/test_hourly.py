"""etl-hourly end to end, and `etl calendar`.

Which NYSE session's hour bars get loaded (holidays, early closes, weekends, before the open, the DST week,
New York vs UTC dates), crypto's last 24 hours, --session, --market-hours-only, the hourly_data:{SYMBOL}:1D
cache (content, TTL, Redis down or slow), provider faults (429 storms, an unknown coin, a bad key) and
re-runs that change nothing. SQLite sinks, one file per test. The fake server's clock is pinned to each
run's ETL_NOW, so it serves exactly the bars that exist at that instant.
"""
import json
import re
import socket
import sqlite3
import threading
import unittest
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from zoneinfo import ZoneInfo

from harness import (ETL_HOURLY, FakeServer, JobTestCase, RedisServer, as_decimal, clean_env, free_redis_url, run,
                     read_report, set_fake_now, sqlite_query, sqlite_runs, summary, unix_seconds)

ET = ZoneInfo("America/New_York")
UTC = timezone.utc
HOURLY_TTL = 1800


def iso(dt: datetime) -> str:
    return dt.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def et_hour(d: date, hour: int) -> str:
    """hh:00 New York time on d, as the UTC text the binaries store."""
    return iso(datetime(d.year, d.month, d.day, hour, tzinfo=ET))


def et_hours(d: date, first: int, last: int) -> list[str]:
    """Bar starts first:00 .. last:00 ET on d."""
    return [et_hour(d, h) for h in range(first, last + 1)]


def utc_hours(first: str, count: int) -> list[str]:
    t0 = datetime.fromisoformat(first.replace("Z", "+00:00"))
    return [iso(t0 + timedelta(hours=i)) for i in range(count)]


def ms(instant: str) -> int:
    return unix_seconds(instant) * 1000


def et_clock(instant: str) -> str:
    return datetime.fromisoformat(instant.replace("Z", "+00:00")).astimezone(ET).strftime("%H:%M")


class HourlyTest(JobTestCase):
    """One fake server and one Redis for the class; a fresh SQLite file, request log and cache per test."""

    tmp_tag = "hourly"
    api_key = "pk_e2e_hourly"

    # ---- helpers

    def hourly(self, *args, **kw):
        """Runs etl-hourly (see JobTestCase.run_job)."""
        return self.run_job(ETL_HOURLY, *args, **kw)

    def bar_ts(self, symbol) -> list[str]:
        return [t for (t,) in sqlite_query(self.db, "SELECT ts FROM price_bars WHERE symbol = ? AND timeframe = '1h' "
                                                    "ORDER BY ts", (symbol,))]

    def table(self, with_ingested=True) -> list[tuple]:
        cols = "symbol, timeframe, ts, open, high, low, close, volume, vwap, trade_count, source"
        if with_ingested:
            cols += ", ingested_at"
        return sqlite_query(self.db, f"SELECT {cols} FROM price_bars ORDER BY symbol, timeframe, ts")

    def symbols_in_db(self) -> set[str]:
        return {s for (s,) in sqlite_query(self.db, "SELECT DISTINCT symbol FROM price_bars")}

    def cache(self, symbol):
        """hourly_data:{symbol}:1D decoded (numbers as Decimal, exactly as written), or None."""
        raw = self.redis.get(f"hourly_data:{symbol}:1D")
        return None if raw is None else json.loads(raw, parse_float=Decimal, parse_int=Decimal)

    def assert_cached(self, symbol, expected_ts, ttl=HOURLY_TTL):
        bars = self.cache(symbol)
        self.assertIsNotNone(bars, f"hourly_data:{symbol}:1D not written; keys: {self.redis.keys()}")
        self.assertEqual([b["ts"] for b in bars], expected_ts)
        for b in bars:
            self.assertEqual(set(b), {"ts", "open", "high", "low", "close", "volume"}, b)
        t = self.redis.ttl(f"hourly_data:{symbol}:1D")
        self.assertGreater(t, 0, "the key has a TTL")
        self.assertLessEqual(t, ttl)
        return bars

    def polygon_hour_requests(self, symbol):
        return [q for q in self.server.requests("polygon") if f"/ticker/{symbol}/range/1/hour/" in q["path"]]

    def assert_polygon_window(self, symbol, first_bar, last_bar):
        """One request whose ms bounds are [first bar start, last bar start + 1 h - 1 ms]."""
        reqs = self.polygon_hour_requests(symbol)
        self.assertEqual(len(reqs), 1, reqs)
        frm, to = reqs[0]["path"].rsplit("/", 2)[-2:]
        self.assertEqual((int(frm), int(to)), (ms(first_bar), ms(last_bar) + 3600 * 1000 - 1), reqs[0]["path"])

    def session_logged(self, r) -> list[str]:
        return [l["msg"] for l in r.json_logs() if str(l.get("msg", "")).startswith("session ")]

    def assert_nothing_written(self, r):
        """A usage error or a fast exit: no provider request, and no row anywhere if the file exists at all."""
        self.assertEqual(self.server.requests(), [], r.describe())
        if self.db.exists():
            self.assertEqual(sqlite_query(self.db, "SELECT count(*) FROM price_bars")[0][0], 0)
            self.assertEqual(sqlite_runs(self.db), [], "no etl_runs row")

    # ---- which session: holidays, early closes, weekends, before the open, DST

    def test_good_friday_loads_thursdays_session(self):
        now = "2025-04-18T14:30:00Z"                       # Good Friday, 10:30 EDT: NYSE closed
        r = self.hourly("AAPL", "BTC", now=now)
        self.assertEqual(r.rc, 0, r.describe())
        expected = et_hours(date(2025, 4, 17), 9, 15)      # 13:00Z .. 19:00Z (EDT)
        self.assertEqual(expected[0], "2025-04-17T13:00:00Z")
        self.assertEqual(self.bar_ts("AAPL"), expected)
        self.assert_polygon_window("AAPL", expected[0], expected[-1])
        self.assertTrue(any(m.startswith("session 2025-04-17") for m in self.session_logged(r)), r.describe())
        # Crypto ignores the NYSE calendar: the last 24 hours, up to the hour in progress.
        self.assertEqual(self.bar_ts("BTC"), utc_hours("2025-04-17T15:00:00Z", 24))
        self.assertEqual(self.report()["rows"]["inserted"], 7 + 24)
        run_ = sqlite_runs(self.db)[-1]
        self.assertEqual((run_["status"], run_["exit_code"], run_["symbols_ok"]), ("success", 0, 2))
        if self.redis:
            self.assert_cached("AAPL", expected)
            self.assert_cached("BTC", utc_hours("2025-04-17T15:00:00Z", 24))

    def test_early_close_day_ends_with_the_noon_bar(self):
        day = date(2025, 11, 28)                           # day after Thanksgiving: close 13:00 EST
        expected = et_hours(day, 9, 12)
        self.assertEqual((expected[0], expected[-1]), ("2025-11-28T14:00:00Z", "2025-11-28T17:00:00Z"))
        # During the shortened session: the bars so far (09:00, 10:00, 11:00 ET).
        r = self.hourly("AAPL", now="2025-11-28T16:30:00Z")
        self.assertEqual(r.rc, 0, r.describe())
        self.assertEqual(self.bar_ts("AAPL"), expected[:3])
        self.assertTrue(any("early close" in m for m in self.session_logged(r)), r.describe())
        # After the 13:00 close: 4 bars, 09:00 .. 12:00 ET, although the provider has bars until 20:00 ET.
        self.server.reset()
        r = self.hourly("AAPL", now="2025-11-28T19:00:00Z")
        self.assertEqual(r.rc, 0, r.describe())
        self.assertEqual(self.bar_ts("AAPL"), expected)
        self.assert_polygon_window("AAPL", expected[0], expected[-1])
        rep = self.report()
        self.assertEqual((rep["rows"]["inserted"], rep["rows"]["unchanged"]), (1, 3))
        if self.redis:
            self.assert_cached("AAPL", expected)

    def test_weekend_loads_fridays_session(self):
        expected = et_hours(date(2025, 3, 14), 9, 15)      # Friday, EDT: 13:00Z .. 19:00Z
        for now in ("2025-03-15T15:00:00Z", "2025-03-16T18:00:00Z"):      # Saturday, Sunday
            with self.subTest(now=now):
                self.server.reset()
                r = self.hourly("AAPL", now=now)
                self.assertEqual(r.rc, 0, r.describe())
                self.assertEqual(self.bar_ts("AAPL"), expected)
                self.assert_polygon_window("AAPL", expected[0], expected[-1])
                self.assertTrue(any(m.startswith("session 2025-03-14") for m in self.session_logged(r)))
        self.assertEqual(self.report()["rows"]["unchanged"], 7)

    def test_before_the_open_loads_the_previous_session_across_dst(self):
        # Monday 2025-03-10 08:00 EDT (the day after the DST switch): the session is Friday 03-07, in EST.
        r = self.hourly("AAPL", now="2025-03-10T12:00:00Z")
        self.assertEqual(r.rc, 0, r.describe())
        expected = et_hours(date(2025, 3, 7), 9, 15)
        self.assertEqual((expected[0], expected[-1]), ("2025-03-07T14:00:00Z", "2025-03-07T20:00:00Z"))
        self.assertEqual(self.bar_ts("AAPL"), expected, "Monday's pre-market bars are not today's session")
        self.assert_polygon_window("AAPL", expected[0], expected[-1])
        if self.redis:
            self.assert_cached("AAPL", expected)

    def test_dst_week_the_nine_oclock_bar_moves_an_hour_in_utc(self):
        now = "2025-03-11T01:00:00Z"                       # Monday 21:00 EDT
        r = self.hourly("AAPL", "--session", "2025-03-07", now=now)
        self.assertEqual(r.rc, 0, r.describe())
        friday = [t for t in self.bar_ts("AAPL") if t.startswith("2025-03-07")]
        self.assertEqual(friday, utc_hours("2025-03-07T14:00:00Z", 7))       # 09:00 EST = 14:00Z
        self.server.reset()
        r = self.hourly("AAPL", "--session", "2025-03-10", now=now)
        self.assertEqual(r.rc, 0, r.describe())
        monday = [t for t in self.bar_ts("AAPL") if t.startswith("2025-03-10")]
        self.assertEqual(monday, utc_hours("2025-03-10T13:00:00Z", 7))       # 09:00 EDT = 13:00Z
        self.assert_polygon_window("AAPL", monday[0], monday[-1])
        # Both sessions cover the same New York hours, 09:00 .. 15:00.
        self.assertEqual([et_clock(t) for t in friday], [et_clock(t) for t in monday])
        self.assertEqual(et_clock(monday[0]), "09:00")
        if self.redis:
            self.assert_cached("AAPL", monday)    # the cache holds the last loaded session only

    def test_session_date_is_the_new_york_date_not_the_utc_date(self):
        expected = et_hours(date(2025, 3, 10), 9, 15)
        # Monday 22:00 EDT (already Tuesday in UTC), then Tuesday 00:30 EDT (before Tuesday's open).
        for now in ("2025-03-11T02:00:00Z", "2025-03-11T04:30:00Z"):
            with self.subTest(now=now):
                self.server.reset()
                r = self.hourly("AAPL", now=now)
                self.assertEqual(r.rc, 0, r.describe())
                self.assert_polygon_window("AAPL", expected[0], expected[-1])
                self.assertEqual(self.bar_ts("AAPL"), expected)

    def test_extended_hours_load_0400_to_1900_et(self):
        r = self.hourly("AAPL", now="2025-03-15T15:00:00Z", ETL_HOURLY_EXTENDED_HOURS="true")
        self.assertEqual(r.rc, 0, r.describe())
        expected = et_hours(date(2025, 3, 14), 4, 19)
        self.assertEqual(len(expected), 16)
        self.assertEqual(self.bar_ts("AAPL"), expected)
        self.assert_polygon_window("AAPL", expected[0], expected[-1])

    # ---- values: what the provider served, in the table and in the cache

    def test_polygon_bars_match_the_provider(self):
        r = self.hourly("AAPL", "I:SPX", now="2025-03-15T15:00:00Z")
        self.assertEqual(r.rc, 0, r.describe())
        targets = {s: self.polygon_hour_requests(s)[0]["target"] for s in ("AAPL", "I:SPX")}
        for symbol, target in targets.items():
            status, body = self.server.get(target)
            self.assertEqual(status, 200)
            served = json.loads(body, parse_float=Decimal, parse_int=Decimal)["results"]
            rows = sqlite_query(self.db, "SELECT ts, open, high, low, close, volume, vwap, trade_count, source "
                                         "FROM price_bars WHERE symbol = ? AND timeframe = '1h' ORDER BY ts", (symbol,))
            self.assertEqual(len(rows), 7, symbol)
            for bar, row in zip(served, rows):
                ts = iso(datetime.fromtimestamp(int(bar["t"]) // 1000, UTC))
                self.assertEqual(row[0], ts)
                self.assertEqual([as_decimal(v) for v in row[1:5]], [bar["o"], bar["h"], bar["l"], bar["c"]], symbol)
                if "v" in bar:
                    self.assertEqual(as_decimal(row[5]), bar["v"], f"{symbol} {ts} volume")
                    self.assertEqual(as_decimal(row[6]), bar["vw"])
                    self.assertEqual(row[7], int(bar["n"]))
                else:                                      # index bars carry o,h,l,c,t only
                    self.assertIsNone(row[5])
                self.assertEqual(row[8], "polygon")
            if self.redis:
                cached = self.assert_cached(symbol, [row[0] for row in rows])
                for bar, c in zip(served, cached):
                    self.assertEqual([c["open"], c["high"], c["low"], c["close"]],
                                     [bar["o"], bar["h"], bar["l"], bar["c"]])
                    if "v" in bar:
                        self.assertEqual(c["volume"], bar["v"])
                    else:
                        self.assertIsNone(c["volume"])

    def test_crypto_last_24_hours_from_coingecko_points(self):
        now = "2025-03-14T21:30:00Z"
        r = self.hourly("BTC", now=now)
        self.assertEqual(r.rc, 0, r.describe())
        expected = utc_hours("2025-03-13T22:00:00Z", 24)                 # .. 21:00Z, the hour in progress
        self.assertEqual(self.bar_ts("BTC"), expected)
        reqs = self.server.requests("coingecko", contains="/coins/bitcoin/market_chart/range")
        self.assertEqual(len(reqs), 1, reqs)
        self.assertEqual(int(reqs[0]["query"]["from"]), unix_seconds(expected[0]))
        self.assertLessEqual(int(reqs[0]["query"]["to"]), unix_seconds(now))
        # Each hour bar is the price points of that hour: first, max, min, last.
        status, body = self.server.get(reqs[0]["target"])
        self.assertEqual(status, 200)
        buckets = {}
        for t_ms, price in json.loads(body, parse_float=Decimal, parse_int=Decimal)["prices"]:
            buckets.setdefault(iso(datetime.fromtimestamp(int(t_ms) // 3600000 * 3600, UTC)), []).append(price)
        rows = sqlite_query(self.db, "SELECT ts, open, high, low, close, source FROM price_bars "
                                     "WHERE symbol = 'BTC' ORDER BY ts")
        for ts, o, h, l, c, source in rows:
            pts = buckets[ts]
            self.assertEqual([as_decimal(v) for v in (o, h, l, c)], [pts[0], max(pts), min(pts), pts[-1]], ts)
            self.assertEqual(source, "coingecko")
        if self.redis:
            cached = self.assert_cached("BTC", expected)
            self.assertEqual([c["close"] for c in cached], [buckets[t][-1] for t in expected])

    def test_yahoo_hour_bars_are_built_from_30_minute_bars(self):
        env = dict(ETL_ROUTING_STOCK="yahoo")
        r = self.hourly("MSFT", "--session", "2025-03-07", now="2025-03-14T21:00:00Z", **env)
        self.assertEqual(r.rc, 0, r.describe())
        expected = et_hours(date(2025, 3, 7), 9, 15)
        self.assertEqual(self.bar_ts("MSFT"), expected)
        reqs = self.server.requests("yahoo", contains="/v8/finance/chart/MSFT")
        self.assertEqual(len(reqs), 1, reqs)
        self.assertEqual(reqs[0]["query"].get("interval"), "30m")
        status, body = self.server.get(reqs[0]["target"], headers={"User-Agent": "Mozilla/5.0"})
        self.assertEqual(status, 200, body[:300])
        res = json.loads(body)["chart"]["result"][0]
        q = res["indicators"]["quote"][0]
        groups = {}
        for i, t in enumerate(res["timestamp"]):
            groups.setdefault(iso(datetime.fromtimestamp(t // 3600 * 3600, UTC)), []).append(i)
        rows = sqlite_query(self.db, "SELECT ts, open, high, low, close, volume, source FROM price_bars "
                                     "WHERE symbol = 'MSFT' ORDER BY ts")
        for ts, o, h, l, c, v, source in rows:
            idx = groups[ts]
            self.assertEqual((o, h, l, c), (q["open"][idx[0]], max(q["high"][i] for i in idx),
                                            min(q["low"][i] for i in idx), q["close"][idx[-1]]), ts)
            self.assertEqual(v, sum(q["volume"][i] for i in idx), ts)
            self.assertEqual(source, "yahoo")
        self.assertEqual(len(groups[expected[0]]), 1, "the 09:00 ET bar holds only the 09:30 half hour")
        # An early close: Yahoo serves half hours until 15:30 ET, the session's bars stop at 12:00 ET.
        self.server.reset()
        r = self.hourly("MSFT", "--session", "2025-11-28", now="2025-12-01T21:00:00Z", **env)
        self.assertEqual(r.rc, 0, r.describe())
        self.assertEqual([t for t in self.bar_ts("MSFT") if t.startswith("2025-11-28")],
                         et_hours(date(2025, 11, 28), 9, 12))

    def test_mock_provider_follows_the_calendar(self):
        r = self.hourly("AAPL", "--mock", now="2025-11-28T19:00:00Z")
        self.assertEqual(r.rc, 0, r.describe())
        self.assertEqual(self.bar_ts("AAPL"), et_hours(date(2025, 11, 28), 9, 12))
        r = self.hourly("MSFT", "--mock", now="2025-04-18T14:00:00Z")
        self.assertEqual(r.rc, 0, r.describe())
        self.assertEqual(self.bar_ts("MSFT"), et_hours(date(2025, 4, 17), 9, 15))
        self.assertEqual(self.server.requests(), [], "--mock makes no network request")

    # ---- --session

    def test_session_reloads_a_past_session(self):
        now = "2025-03-14T21:00:00Z"
        r = self.hourly("AAPL", "--session", "2025-03-07", now=now)
        self.assertEqual(r.rc, 0, r.describe())
        expected = et_hours(date(2025, 3, 7), 9, 15)
        self.assertEqual(self.bar_ts("AAPL"), expected)
        self.assert_polygon_window("AAPL", expected[0], expected[-1])
        original = self.table(with_ingested=False)
        # Damage the stored session, then reload it.
        con = sqlite3.connect(self.db, timeout=30)
        with con:
            con.execute("UPDATE price_bars SET close = close + 1, high = high + 1 WHERE ts = ?", (expected[2],))
            con.execute("DELETE FROM price_bars WHERE ts = ?", (expected[-1],))
        con.close()
        self.server.reset()
        r = self.hourly("AAPL", "--session", "2025-03-07", now=now)
        self.assertEqual(r.rc, 0, r.describe())
        rows = self.report()["rows"]
        self.assertEqual((rows["inserted"], rows["updated"], rows["unchanged"]), (1, 1, 5), rows)
        self.assertEqual(self.table(with_ingested=False), original)
        if self.redis:
            self.assert_cached("AAPL", expected)
        # A plain run afterwards loads today's session and leaves the reloaded one alone.
        self.server.reset()
        r = self.hourly("AAPL", now=now)
        self.assertEqual(r.rc, 0, r.describe())
        self.assertEqual(self.bar_ts("AAPL"), expected + et_hours(date(2025, 3, 14), 9, 15))

    def test_session_on_a_holiday_crypto_loads_the_utc_day(self):
        r = self.hourly("BTC", "--session", "2025-04-18", now="2025-04-22T21:00:00Z")
        self.assertEqual(r.rc, 0, r.describe())
        expected = utc_hours("2025-04-18T00:00:00Z", 24)
        self.assertEqual(self.bar_ts("BTC"), expected)
        if self.redis:
            self.assert_cached("BTC", expected)

    def test_session_on_a_holiday_or_weekend_for_stocks_is_a_usage_error(self):
        for day, why in (("2025-04-18", "Good Friday"), ("2025-03-15", "weekend")):
            with self.subTest(day=day):
                r = self.hourly("AAPL", "--session", day, now="2025-04-22T21:00:00Z")
                self.assertEqual(r.rc, 64, r.describe())
                self.assertIn(why, r.stderr)
                self.assert_nothing_written(r)

    def test_session_after_the_new_york_date_is_in_the_future(self):
        # Monday 22:00 EDT is already Tuesday in UTC, but Tuesday's session is still in the future in
        # New York: --session 2025-03-11 is a usage error, and the cached Monday session stays.
        now = "2025-03-11T02:00:00Z"
        r = self.hourly("AAPL", now=now)
        self.assertEqual(r.rc, 0, r.describe())
        monday = et_hours(date(2025, 3, 10), 9, 15)
        self.assertEqual(self.bar_ts("AAPL"), monday)
        self.server.reset()
        r = self.hourly("AAPL", "--session", "2025-03-11", now=now)
        self.assertEqual(r.rc, 64, r.describe())
        self.assertIn("future", r.stderr)
        self.assertEqual(self.server.requests(), [])
        if self.redis:
            self.assert_cached("AAPL", monday)

    def test_bad_arguments_are_usage_errors(self):
        now = "2025-03-14T21:00:00Z"
        cases = [("AAPL", "--session", "2025-02-30"), ("AAPL", "--session", "20250307"),
                 ("AAPL", "--session", "yesterday"), ("AAPL", "--session", "2025-03-17"),   # the future
                 ("AA PL",), ("AAPL$",), ("AAPL", "--class", "bond"), ("AAPL", "--shard", "3/2")]
        for args in cases:
            with self.subTest(args=args):
                r = self.hourly(*args, now=now)
                self.assertEqual(r.rc, 64, r.describe())
                lines = [l for l in r.stderr.splitlines() if l.strip()]
                self.assertEqual(len(lines), 1, f"one line says what is wrong\n{r.describe()}")
                self.assert_nothing_written(r)
                self.assertFalse(self.db.exists(), "an argument error is found before opening the database")

    # ---- re-runs

    def test_rerun_changes_nothing_and_rewrites_the_cache(self):
        now = "2025-03-15T15:30:00Z"
        r = self.hourly("AAPL", "MSFT", "BTC", now=now)
        self.assertEqual(r.rc, 0, r.describe())
        n = 7 + 7 + 24
        self.assertEqual(self.report()["rows"]["inserted"], n)
        before = self.table()
        cached = {}
        if self.redis:
            cached = {k: self.redis.get(k) for k in self.redis.keys("hourly_data:*")}
            self.assertEqual(sorted(cached), ["hourly_data:AAPL:1D", "hourly_data:BTC:1D", "hourly_data:MSFT:1D"])
            self.redis.command("FLUSHALL")
        r = self.hourly("AAPL", "MSFT", "BTC", now=now)
        self.assertEqual(r.rc, 0, r.describe())
        rows = self.report()["rows"]
        self.assertEqual((rows["inserted"], rows["updated"], rows["unchanged"], rows["rejected"]), (0, 0, n, 0))
        self.assertEqual(self.table(), before, "the table is identical, ingested_at included")
        runs = sqlite_runs(self.db)
        self.assertEqual(len(runs), 2)
        self.assertEqual((runs[1]["status"], runs[1]["rows_inserted"], runs[1]["rows_updated"],
                          runs[1]["rows_unchanged"]), ("success", 0, 0, n))
        if self.redis:
            again = {k: self.redis.get(k) for k in self.redis.keys("hourly_data:*")}
            self.assertEqual(again, cached, "the cache is written again, with the same bars")
            for k in again:
                self.assertTrue(0 < self.redis.ttl(k) <= HOURLY_TTL)

    def test_dry_run_writes_neither_table_nor_cache(self):
        r = self.hourly("AAPL", "--dry-run", now="2025-03-15T15:00:00Z")
        self.assertEqual(r.rc, 0, r.describe())
        self.assertEqual(len(self.polygon_hour_requests("AAPL")), 1)
        if self.db.exists():
            self.assertEqual(sqlite_query(self.db, "SELECT count(*) FROM price_bars")[0][0], 0)
        if self.redis:
            self.assertEqual(self.redis.keys(), [])

    # ---- Redis: configurable TTL, never required

    def test_cache_ttl_is_configurable(self):
        self.need_redis()
        r = self.hourly("AAPL", now="2025-03-15T15:00:00Z", ETL_REDIS_HOURLY_TTL_SECONDS="3600")
        self.assertEqual(r.rc, 0, r.describe())
        self.assertGreater(self.redis.ttl("hourly_data:AAPL:1D"), HOURLY_TTL)
        self.assertLessEqual(self.redis.ttl("hourly_data:AAPL:1D"), 3600)
        # hourly_data at its TTL, and derive's bars:AAPL:1h at redis.bars_ttl_seconds (7 bars: no indicators yet).
        self.assertEqual(summary(r)["cache"], "ok (2 entries, TTL 3600/604800 s)")
        self.assertGreater(self.redis.ttl("bars:AAPL:1h"), 3600)

    def test_no_redis_configured_is_fine(self):
        r = self.hourly("AAPL", now="2025-03-15T15:00:00Z", redis=None)
        self.assertEqual(r.rc, 0, r.describe())
        self.assertEqual(len(self.bar_ts("AAPL")), 7)
        self.assertEqual([l for l in r.json_logs() if l.get("level") in ("warn", "error")], [])

    def test_redis_url_with_password_and_database_index(self):
        with RedisServer(password="s3cret-e2e", db=3) as rs:
            r = self.hourly("AAPL", now="2025-03-15T15:00:00Z", redis=rs.url)
            self.assertEqual(r.rc, 0, r.describe())
            self.assertEqual(rs.keys(), ["bars:AAPL:1h", "hourly_data:AAPL:1D"])    # in database 3
            self.assertEqual(len(json.loads(rs.get("hourly_data:AAPL:1D"))), 7)
            rs.db = 0
            self.assertEqual(rs.keys(), [], "nothing in database 0")
            self.assertNotIn("s3cret-e2e", r.stderr + r.stdout)

    def assert_one_redis_warning(self, r):
        self.assertEqual(r.rc, 0, r.describe())
        warnings = [l for l in r.json_logs() if l.get("level") in ("warn", "error")]
        self.assertEqual(len(warnings), 1, r.describe())
        self.assertIn("redis", warnings[0]["msg"].lower())
        self.assertEqual(len(self.bar_ts("AAPL")), 7, "the database is written all the same")
        self.assertEqual(sqlite_runs(self.db)[-1]["status"], "success")
        # The failed cache is said in the summary, the report and etl_runs; the exit code stays 0.
        cache = summary(r)["cache"]
        self.assertRegex(cache, r"^failed \(.+\)$", r.describe())
        self.assertEqual(sqlite_runs(self.db)[-1]["error"], f"cache: {cache}")
        self.assertEqual(read_report(self.report_file)["cache"], cache)

    def test_redis_down_warns_once_and_exits_0(self):
        r = self.hourly("AAPL", now="2025-03-15T15:00:00Z", redis=free_redis_url())
        self.assert_one_redis_warning(r)

    def test_redis_stopped_warns_once_and_exits_0(self):
        rs = RedisServer()
        rs.start()
        url = rs.url
        rs.stop()
        r = self.hourly("AAPL", now="2025-03-15T15:00:00Z", redis=url)
        self.assert_one_redis_warning(r)

    def test_redis_that_never_answers_warns_once_and_exits_0(self):
        # A socket that accepts connections and never replies: a hung Redis.
        srv = socket.socket()
        srv.bind(("127.0.0.1", 0))
        srv.listen(16)
        conns = []

        def accept():
            while True:
                try:
                    conns.append(srv.accept()[0])
                except OSError:
                    return
        threading.Thread(target=accept, daemon=True).start()
        try:
            r = self.hourly("AAPL", now="2025-03-15T15:00:00Z", redis=f"redis://127.0.0.1:{srv.getsockname()[1]}/0",
                            ETL_REDIS_TIMEOUT_MS="300")
        finally:
            srv.close()
            for c in conns:
                c.close()
        self.assert_one_redis_warning(r)

    def test_redis_down_and_database_unreachable_is_75(self):
        r = self.hourly("AAPL", now="2025-03-15T15:00:00Z", redis=free_redis_url(),
                        database_url="postgresql://127.0.0.1:1/etl_e2e_nowhere?connect_timeout=5", report=False)
        self.assertEqual(r.rc, 75, r.describe())
        self.assertIn("database", r.stderr.lower())

    # ---- provider faults

    def test_429_storm_then_success(self):
        self.server.set_rules([{"match": "", "mode": "429", "times": 4, "retry_after": 1}])
        r = self.hourly("AAPL", "MSFT", "BTC", now="2025-03-15T15:30:00Z")
        self.assertEqual(r.rc, 0, r.describe())
        statuses = [q["status"] for q in self.server.requests()]
        self.assertEqual(statuses.count(429), 4, statuses)
        self.assertEqual(statuses.count(200), 3, statuses)
        self.assertEqual({s: len(self.bar_ts(s)) for s in ("AAPL", "MSFT", "BTC")}, {"AAPL": 7, "MSFT": 7, "BTC": 24})
        self.assertEqual(sqlite_runs(self.db)[-1]["status"], "success")
        if self.redis:
            self.assertEqual(len(self.redis.keys("hourly_data:*")), 3)

    def test_every_request_429_is_unavailable_69(self):
        self.server.set_rules([{"match": "", "mode": "429", "retry_after": 1}])
        r = self.hourly("AAPL", "BTC", now="2025-03-15T15:30:00Z")
        self.assertEqual(r.rc, 69, r.describe())
        self.assertEqual(len(self.polygon_hour_requests("AAPL")), 3, "1 request + ETL_FETCH_MAX_RETRIES=2")
        self.assertEqual(len(self.server.requests("coingecko")), 3)
        self.assertEqual(self.symbols_in_db(), set())
        run_ = sqlite_runs(self.db)[-1]
        self.assertEqual((run_["status"], run_["exit_code"], run_["symbols_failed"]), ("failed", 69, 2))
        self.assertEqual(self.report()["exit_code"], 69)
        if self.redis:
            self.assertEqual(self.redis.keys(), [])

    def test_unknown_coingecko_id_fails_that_symbol_only(self):
        add = run(["etl", "assets", "add", "FOO", "--class", "crypto", "--coingecko-id", "no-such-coin",
                   "--database-url", f"sqlite:{self.db}"], env=self.env("2025-03-15T15:30:00Z"), cwd=self.tmp.path)
        self.assertEqual(add.rc, 0, add.describe())
        r = self.hourly("FOO", "BTC", now="2025-03-15T15:30:00Z")
        self.assertEqual(r.rc, 1, r.describe())
        self.assertEqual(len(self.server.requests("coingecko", contains="no-such-coin")), 1, "a 404 is not retried")
        self.assertEqual(len(self.bar_ts("BTC")), 24)
        self.assertEqual(self.bar_ts("FOO"), [])
        rep = self.report()
        self.assertEqual([f["symbol"] for f in rep["failures"]], ["FOO"])
        self.assertEqual(sqlite_runs(self.db)[-1]["status"], "partial")
        if self.redis:
            self.assertEqual(self.redis.keys(), ["bars:BTC:1h", "hourly_data:BTC:1D", "indicators:BTC:1h"])

    def test_rejected_key_is_a_config_error_78(self):
        with FakeServer(polygon_key="pk_the_right_key") as fs:
            set_fake_now(fs, "2025-03-15T15:00:00Z")
            env = clean_env(ETL_NOW="2025-03-15T15:00:00Z", POLYGON_API_KEY="pk_a_wrong_key", **fs.env())
            r = run([ETL_HOURLY, "AAPL", "MSFT", "--database-url", f"sqlite:{self.db}"], env=env, cwd=self.tmp.path)
            self.assertEqual(r.rc, 78, r.describe())
            self.assertTrue(all(q["status"] == 401 for q in fs.requests()))
        self.assertNotIn("pk_a_wrong_key", r.stderr + r.stdout)
        self.assertEqual(self.symbols_in_db(), set())

    # ---- --market-hours-only

    def test_market_hours_only_equities_outside_the_session_exit_at_once(self):
        closed = ["2025-03-15T15:00:00Z",     # Saturday
                  "2025-04-18T14:00:00Z",     # Good Friday 10:00 EDT
                  "2025-03-10T12:00:00Z",     # Monday 08:00 EDT, before the open
                  "2025-11-28T19:00:00Z",     # 14:00 EST, after an early close
                  "2025-03-14T20:00:00Z"]     # 16:00 EDT, the close itself
        for now in closed:
            with self.subTest(now=now):
                r = self.hourly("AAPL", "MSFT", "I:SPX", "--market-hours-only", now=now)
                self.assertEqual(r.rc, 0, r.describe())
                lines = [l for l in r.stderr.splitlines() if l.strip()]
                self.assertEqual(len(lines), 1, r.describe())
                self.assertIn("market closed", lines[0].lower())
                self.assertEqual(r.stdout.strip(), "")
                self.assertEqual(self.server.requests(), [])
                self.assertFalse(self.db.exists(), "nothing written: not even the SQLite file is created")
                if self.redis:
                    self.assertEqual(self.redis.keys(), [])

    def test_market_hours_only_mixed_run_skips_the_equities(self):
        r = self.hourly("AAPL", "BTC", "--market-hours-only", now="2025-03-15T15:30:00Z")
        self.assertEqual(r.rc, 0, r.describe())
        self.assertEqual(self.symbols_in_db(), {"BTC"})
        self.assertEqual(len(self.bar_ts("BTC")), 24)
        self.assertEqual(self.server.requests("polygon"), [])
        run_ = sqlite_runs(self.db)[-1]
        self.assertEqual((run_["symbols_requested"], run_["symbols_ok"], run_["status"]), (1, 1, "success"))
        if self.redis:
            self.assertEqual(self.redis.keys(), ["bars:BTC:1h", "hourly_data:BTC:1D", "indicators:BTC:1h"])

    def test_market_hours_only_during_the_session_runs(self):
        r = self.hourly("AAPL", "--market-hours-only", now="2025-03-14T15:10:00Z")      # 11:10 EDT
        self.assertEqual(r.rc, 0, r.describe())
        self.assertEqual(self.bar_ts("AAPL"), et_hours(date(2025, 3, 14), 9, 11))
        r = self.hourly("MSFT", "--market-hours-only", now="2025-11-28T17:30:00Z")     # 12:30 EST, early close
        self.assertEqual(r.rc, 0, r.describe())
        self.assertEqual(self.bar_ts("MSFT"), et_hours(date(2025, 11, 28), 9, 12))

    def test_market_hours_only_runs_a_crypto_asset_registered_in_assets(self):
        # PEPE is not one of the tickers the binary knows to be crypto, but the assets table says it is:
        # --market-hours-only must not treat it as an equity when the market is closed.
        now = "2025-03-15T15:30:00Z"
        add = run(["etl", "assets", "add", "PEPE", "--class", "crypto", "--coingecko-id", "pepe",
                   "--database-url", f"sqlite:{self.db}"], env=self.env(now), cwd=self.tmp.path)
        self.assertEqual(add.rc, 0, add.describe())
        r = self.hourly("PEPE", "--market-hours-only", now=now)
        self.assertEqual(r.rc, 0, r.describe())
        self.assertEqual(len(self.server.requests("coingecko", contains="/coins/pepe/")), 1, r.describe())
        self.assertEqual(len(self.bar_ts("PEPE")), 24, r.describe())


class CalendarCommand(unittest.TestCase):
    """`etl calendar [DATE]`: the calendar etl-hourly uses, printed."""

    def cal(self, *args, now):
        r = run(["etl", "calendar", *args], env=clean_env(ETL_NOW=now))
        return r

    def test_holiday(self):
        r = self.cal("2025-04-18", now="2025-04-18T14:00:00Z")
        self.assertEqual(r.rc, 0, r.describe())
        out = r.stdout
        self.assertIn("2025-04-18 (Friday): closed (Good Friday)", out)
        self.assertRegex(out, r"previous session\s+2025-04-17")
        self.assertRegex(out, r"next session\s+2025-04-21")
        self.assertNotRegex(out, r"open\s+\d\d:\d\d ET")
        self.assertRegex(out, r"\(10:00 ET\): market closed; today-or-last session 2025-04-17")

    def test_early_close(self):
        r = self.cal("2025-11-28", now="2025-11-28T19:00:00Z")
        self.assertEqual(r.rc, 0, r.describe())
        out = r.stdout
        self.assertIn("2025-11-28 (Friday): session, early close", out)
        self.assertRegex(out, r"open\s+09:30 ET = 2025-11-28T14:30:00Z")
        self.assertRegex(out, r"close\s+13:00 ET = 2025-11-28T18:00:00Z")
        self.assertRegex(out, r"previous session\s+2025-11-26")      # Thanksgiving is skipped
        self.assertRegex(out, r"next session\s+2025-12-01")
        self.assertRegex(out, r"\(14:00 ET\): market closed; today-or-last session 2025-11-28")

    def test_default_date_is_today_in_new_york(self):
        # 2025-03-11T02:00Z is still Monday 03-10 in New York.
        r = self.cal(now="2025-03-11T02:00:00Z")
        self.assertEqual(r.rc, 0, r.describe())
        self.assertIn("2025-03-10 (Monday): session\n", r.stdout)
        self.assertRegex(r.stdout, r"today-or-last session 2025-03-10")

    def test_dst_switch_moves_the_open_in_utc(self):
        r = self.cal("2025-03-07", now="2025-03-11T02:00:00Z")
        self.assertRegex(r.stdout, r"open\s+09:30 ET = 2025-03-07T14:30:00Z")
        self.assertRegex(r.stdout, r"close\s+16:00 ET = 2025-03-07T21:00:00Z")
        r = self.cal("2025-03-10", now="2025-03-11T02:00:00Z")
        self.assertRegex(r.stdout, r"open\s+09:30 ET = 2025-03-10T13:30:00Z")
        self.assertRegex(r.stdout, r"close\s+16:00 ET = 2025-03-10T20:00:00Z")
        r = self.cal("2025-03-09", now="2025-03-11T02:00:00Z")
        self.assertIn("2025-03-09 (Sunday): closed (weekend)", r.stdout)

    def test_market_open_during_the_session(self):
        r = self.cal(now="2025-03-04T16:00:00Z")
        self.assertRegex(r.stdout, r"\(11:00 ET\): market open; today-or-last session 2025-03-04")

    def test_today_or_last_session_vectors(self):
        # providers.md 5.5: New York wall-clock time -> the session etl-hourly loads.
        vectors = [("2025-03-04 11:00", "2025-03-04"), ("2025-03-08 10:00", "2025-03-07"),
                   ("2025-03-10 08:00", "2025-03-07"), ("2025-01-09 12:00", "2025-01-08"),
                   ("2025-01-21 10:00", "2025-01-21"), ("2025-01-20 15:00", "2025-01-17"),
                   ("2025-04-18 10:00", "2025-04-17"), ("2025-11-28 14:00", "2025-11-28"),
                   ("2026-07-03 10:00", "2026-07-02"), ("2027-12-24 10:00", "2027-12-23"),
                   ("2027-12-31 10:00", "2027-12-31"), ("2022-06-20 10:00", "2022-06-17"),
                   ("2021-06-18 10:00", "2021-06-18")]
        for local, expected in vectors:
            with self.subTest(et=local):
                now = iso(datetime.fromisoformat(local).replace(tzinfo=ET))
                r = self.cal(now=now)
                self.assertEqual(r.rc, 0, r.describe())
                self.assertIn(f"today-or-last session {expected}\n", r.stdout)

    def test_other_closures_and_early_closes(self):
        cases = [("2025-01-09", "closed (", "Carter"),
                 ("2027-12-24", "closed (Christmas Day)", None),
                 ("2026-07-03", "closed (Independence Day)", None),
                 ("2026-07-02", "session\n", None),                       # a full day before the holiday
                 ("2027-12-31", "session\n", None),                       # New Year 2028 on a Saturday
                 ("2025-12-24", "session, early close", None),
                 ("2025-07-03", "session, early close", None)]
        for day, status, extra in cases:
            with self.subTest(day=day):
                r = self.cal(day, now="2025-03-14T21:00:00Z")
                self.assertEqual(r.rc, 0, r.describe())
                first = r.stdout.splitlines()[0] + "\n"
                self.assertIn(status, first)
                if extra:
                    self.assertIn(extra, first)

    def test_bad_date_is_a_usage_error(self):
        for bad in ("2025-02-30", "tomorrow", "2025/03/14"):
            with self.subTest(date=bad):
                r = self.cal(bad, now="2025-03-14T21:00:00Z")
                self.assertEqual(r.rc, 64, r.describe())
                self.assertEqual(r.stdout, "")
                self.assertEqual(len([l for l in r.stderr.splitlines() if l.strip()]), 1, r.describe())


if __name__ == "__main__":
    unittest.main()
