"""Indicators (issue 12 points 1 and 5): etl-historical/etl-hourly derive what their load changed
(derive.enabled), `etl derive` on demand (--full, --dry-run, --timeframe), compared with pandas
(indicators_ref.py) to 1e-9 on real-shaped series (NYSE sessions with holidays, crypto every day, bars
deleted to make gaps, an invalid bar left out), on SQLite and PostgreSQL; a resumed derive equals a full
one exactly; nothing is written before an indicator's warm-up is complete."""
import json
import math
import shutil
import sqlite3
import unittest
from datetime import datetime, timezone

from harness import PgDatabase, RedisServer, TempDir, clean_env, pg_available, run, sqlite_query, summary
from indicators_ref import indicators, pd

# Indicators whose value crosses zero (differences of prices) or sits at it (averages of gains or losses):
# compared relative to the bar's close rather than to themselves.
PRICE_SCALED = {"macd_line", "macd_signal", "macd_hist", "rsi_14_avg_gain", "rsi_14_avg_loss", "rsi_9_avg_gain",
                "rsi_9_avg_loss"}
NAMES = {"rsi_14", "rsi_9", "sma_10", "sma_20", "sma_50", "sma_200", "ema_10", "ema_20", "ema_50", "macd_line",
         "macd_signal", "macd_hist", "bb_upper_20_2", "bb_middle_20_2", "bb_lower_20_2", "ema_12", "ema_26",
         "rsi_14_avg_gain", "rsi_14_avg_loss", "rsi_9_avg_gain", "rsi_9_avg_loss"}
PUBLISHED = NAMES - {"ema_12", "ema_26", "rsi_14_avg_gain", "rsi_14_avg_loss", "rsi_9_avg_gain", "rsi_9_avg_loss"}
RTOL = 1e-9

VALID = ("open > 0 AND high > 0 AND low > 0 AND close > 0 AND high >= open AND high >= close "
         "AND low <= open AND low <= close")


def epoch(ts: str) -> int:
    return int(datetime.strptime(ts, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=timezone.utc).timestamp())


class Compare:
    """Checks stored indicators against pandas over the stored valid closes."""

    def check_against_pandas(self, closes: dict, stored: dict):
        """closes: {(symbol, tf): [(epoch, close), ...] in ts order}; stored: {(symbol, tf, epoch, name): value}."""
        checked = 0
        for (symbol, tf), series in closes.items():
            ts = [t for t, _ in series]
            close = pd.Series([c for _, c in series], dtype="float64")
            ref = indicators(close)
            self.assertEqual(set(ref), NAMES)
            for name, values in ref.items():
                for i, expected in enumerate(values):
                    got = stored.get((symbol, tf, ts[i], name))
                    if math.isnan(expected):
                        self.assertIsNone(got, f"{symbol} {tf} {name} at bar {i}: written before its warm-up")
                        continue
                    self.assertIsNotNone(got, f"{symbol} {tf} {name} at bar {i}: missing")
                    scale = series[i][1] if name in PRICE_SCALED else abs(expected)
                    self.assertLessEqual(abs(got - expected), RTOL * max(scale, 1e-300),
                                         f"{symbol} {tf} {name} at bar {i}: {got!r} vs pandas {expected!r}")
                    checked += 1
        rows = sum(1 for k in stored if (k[0], k[1]) in closes)
        self.assertEqual(rows, checked, "every stored value is one pandas gives, and no other")
        return checked


class DeriveSqlite(unittest.TestCase, Compare):
    def setUp(self):
        self.tmp = TempDir("derive")
        self.addCleanup(self.tmp.cleanup)
        self.dir = self.tmp.path
        self.db = self.dir / "etl.db"
        self.url = f"sqlite:{self.db}"

    def etl(self, *args, env=None, **extra):
        return run(["etl", *args, "--database-url", self.url], cwd=self.dir, env=env or clean_env(**extra))

    def closes(self, symbols=None):
        out = {}
        for symbol, tf, ts, close in sqlite_query(
                self.db, f"SELECT symbol, timeframe, ts, CAST(close AS REAL) FROM price_bars WHERE {VALID} "
                         "ORDER BY symbol, timeframe, ts"):
            if symbols is None or symbol in symbols:
                out.setdefault((symbol, tf), []).append((epoch(ts), close))
        return out

    def stored(self):
        return {(s, tf, epoch(ts), name): v
                for s, tf, ts, name, v in sqlite_query(self.db, "SELECT symbol, timeframe, ts, name, value "
                                                                "FROM indicators")}

    def test_historical_derives_and_matches_pandas_with_gaps_and_an_invalid_bar(self):
        r = self.etl("historical", "5Y", "AAPL", "SPY", "BTC", "--mock")
        self.assertEqual(r.rc, 0, r.describe())
        derived = summary(r)["derive"]["1d"]
        self.assertEqual(derived["symbols"], 3, r.describe())
        self.assertEqual(derived["from_first_bar"], 3)
        n = self.check_against_pandas(self.closes(), self.stored())
        self.assertGreater(n, 3 * 1000 * 21)
        # Gaps (a week of AAPL bars gone, as a provider outage would leave) and an invalid bar (SPY's high
        # under its close): derive --full recomputes over the valid bars as they are now.
        con = sqlite3.connect(self.db)
        with con:
            gone = con.execute("DELETE FROM price_bars WHERE symbol = 'AAPL' AND ts >= '2023-06-05' "
                               "AND ts < '2023-06-12'").rowcount
            self.assertEqual(gone, 5)
            bad = con.execute("UPDATE price_bars SET high = close - 1 WHERE symbol = 'SPY' AND "
                              "ts = (SELECT ts FROM price_bars WHERE symbol = 'SPY' ORDER BY ts LIMIT 1 OFFSET 300)"
                              ).rowcount
            self.assertEqual(bad, 1)
        con.close()
        r = self.etl("derive", "--full")
        self.assertEqual(r.rc, 0, r.describe())
        self.assertEqual(summary(r)["derive"]["1d"]["from_first_bar"], 3)
        self.check_against_pandas(self.closes(), self.stored())

    def test_incremental_derive_after_a_daily_refresh_equals_a_full_one_exactly(self):
        env = clean_env(ETL_NOW="2025-03-10T21:00:00Z")
        r = self.etl("historical", "1Y", "AAPL", "ETH", "--mock", env=env)
        self.assertEqual(r.rc, 0, r.describe())
        before = self.stored()
        # Four days later: the new sessions are fetched, and derive goes on from the stored state.
        r = self.etl("historical", "1Y", "AAPL", "ETH", "--mock", env=clean_env(ETL_NOW="2025-03-14T21:00:00Z"))
        self.assertEqual(r.rc, 0, r.describe())
        derived = summary(r)["derive"]["1d"]
        self.assertEqual(derived["symbols"], 2, r.describe())
        self.assertEqual(derived["from_first_bar"], 0, "resumed, not recomputed")
        incremental = self.stored()
        self.assertGreater(len(incremental), len(before))
        # The rows before the refresh's first changed bar stay as they were.
        unchanged = [k for k in before if k in incremental and before[k] == incremental[k]]
        self.assertGreater(len(unchanged), len(before) * 9 // 10)
        full_copy = self.dir / "full.db"
        shutil.copy(self.db, full_copy)
        r = run(["etl", "derive", "--full", "--database-url", f"sqlite:{full_copy}"], cwd=self.dir, env=clean_env())
        self.assertEqual(r.rc, 0, r.describe())
        full = {(s, tf, epoch(ts), name): v
                for s, tf, ts, name, v in sqlite_query(full_copy, "SELECT symbol, timeframe, ts, name, value "
                                                                  "FROM indicators")}
        self.assertEqual(incremental, full, "bit for bit")
        self.check_against_pandas(self.closes(), incremental)
        # Nothing new: a derive recomputes only the last bar, and changes nothing.
        r = self.etl("derive")
        self.assertEqual(r.rc, 0, r.describe())
        self.assertEqual(summary(r)["derive"]["1d"]["values"], 2 * 21)
        self.assertEqual(self.stored(), full)

    def test_short_history_writes_nothing_before_warm_up(self):
        r = self.etl("historical", "1M", "MSFT", "--mock")
        self.assertEqual(r.rc, 0, r.describe())
        closes = self.closes()
        bars = len(closes[("MSFT", "1d")])
        self.assertLess(bars, 26)
        stored = self.stored()
        names = {k[3] for k in stored}
        self.assertNotIn("sma_50", names)
        self.assertNotIn("macd_line", names)
        self.assertIn("rsi_14", names)
        first_rsi = min(k[2] for k in stored if k[3] == "rsi_14")
        self.assertEqual(first_rsi, closes[("MSFT", "1d")][14][0], "rsi_14 starts at the 15th bar")
        self.check_against_pandas(closes, stored)

    def test_hourly_crypto_derives_1h(self):
        r = self.etl("hourly", "BTC", "--mock")
        self.assertEqual(r.rc, 0, r.describe())
        closes = {k: v for k, v in self.closes().items() if k[1] == "1h"}
        self.assertGreaterEqual(len(closes.get(("BTC", "1h"), [])), 20)
        stored = self.stored()
        self.assertTrue(any(k[1] == "1h" and k[3] == "bb_upper_20_2" for k in stored))
        self.check_against_pandas(closes, {k: v for k, v in stored.items() if k[1] == "1h"})

    def test_redis_bars_and_indicators_in_one_round_trip(self):
        with RedisServer() as rs:
            r = self.etl("historical", "3Y", "AAPL", "BTC", "--mock", REDIS_URL=rs.url,
                         ETL_REDIS_BARS_TTL_SECONDS="5000")
            self.assertEqual(r.rc, 0, r.describe())
            self.assertEqual(rs.keys(), ["bars:AAPL:1d", "bars:BTC:1d", "indicators:AAPL:1d", "indicators:BTC:1d"])
            self.assertEqual(summary(r)["cache"], "ok (4 entries, TTL 5000 s)")
            self.assertTrue(4900 < rs.ttl("bars:AAPL:1d") <= 5000)
            for symbol in ("AAPL", "BTC"):
                bars = json.loads(rs.get(f"bars:{symbol}:1d"))
                stored = sqlite_query(self.db, "SELECT ts, CAST(close AS REAL) FROM price_bars WHERE symbol = ? "
                                               "ORDER BY ts DESC LIMIT 500", (symbol,))[::-1]
                self.assertEqual(len(bars), 500, "the last 500 bars")
                self.assertEqual([(b["ts"], b["close"]) for b in bars], [(ts, c) for ts, c in stored])
                self.assertEqual(set(bars[0]), {"ts", "open", "high", "low", "close", "volume"})
                latest = json.loads(rs.get(f"indicators:{symbol}:1d"))
                last_ts = stored[-1][0]
                self.assertEqual(latest.pop("ts"), last_ts)
                expected = {name: v for s_, _, ts, name, v in
                            ((k[0], k[1], k[2], k[3], v) for k, v in self.stored().items())
                            if s_ == symbol and ts == epoch(last_ts) and name in PUBLISHED}
                self.assertEqual(latest, expected, "the newest bar's published indicators, exact")
                self.assertEqual(len(latest), 15)
        # Redis down: one warning, exit 0 (etl derive writes the same entries).
        r = self.etl("derive", "AAPL", REDIS_URL="redis://127.0.0.1:1")
        self.assertEqual(r.rc, 0, r.describe())
        warnings = [l for l in r.json_logs() if l.get("level") in ("warn", "error")]
        self.assertEqual(len(warnings), 1, r.describe())
        self.assertIn("redis", warnings[0]["msg"].lower())

    def test_disabled_dry_run_and_named_symbols(self):
        r = self.etl("historical", "1Y", "AAPL", "MSFT", "--mock", ETL_DERIVE_ENABLED="false")
        self.assertEqual(r.rc, 0, r.describe())
        self.assertNotIn("derive", summary(r))
        self.assertEqual(self.stored(), {})
        r = self.etl("derive", "--dry-run")
        self.assertEqual(r.rc, 0, r.describe())
        self.assertGreater(summary(r)["derive"]["1d"]["values"], 0, "computed")
        self.assertEqual(self.stored(), {}, "a dry run writes nothing")
        r = self.etl("derive", "MSFT", "--timeframe", "1d")
        self.assertEqual(r.rc, 0, r.describe())
        self.assertEqual({k[0] for k in self.stored()}, {"MSFT"})
        self.assertNotIn("1h", summary(r)["derive"])
        r = self.etl("derive", "NOPE")
        self.assertEqual(r.rc, 0, r.describe())
        warnings = [l["msg"] for l in r.json_logs() if l.get("level") == "warn"]
        self.assertEqual(len(warnings), 1, r.describe())
        self.assertIn("NOPE: no valid 1d/1h bars stored", warnings[0])
        r = self.etl("derive", "--timeframe", "5m")
        self.assertEqual(r.rc, 64, r.describe())


class DerivePg(unittest.TestCase, Compare):
    def setUp(self):
        if not pg_available():
            self.skipTest("PostgreSQL not reachable (run the suite under pg_virtualenv)")
        self.db = PgDatabase("derive")
        self.addCleanup(self.db.drop)
        self.tmp = TempDir("derive-pg")
        self.addCleanup(self.tmp.cleanup)

    def etl(self, *args, **extra):
        return run(["etl", *args, "--database-url", self.db.url], cwd=self.tmp.path, env=clean_env(**extra))

    def test_pg_matches_pandas_and_resumes_exactly(self):
        r = self.etl("historical", "3Y", "AAPL", "BTC", "--mock", ETL_NOW="2025-03-07T21:00:00Z")
        self.assertEqual(r.rc, 0, r.describe())
        r = self.etl("historical", "3Y", "AAPL", "BTC", "--mock")
        self.assertEqual(r.rc, 0, r.describe())
        self.assertEqual(summary(r)["derive"]["1d"]["from_first_bar"], 0, r.describe())
        closes = {}
        for symbol, tf, ts, close in self.db.query(
                f"SELECT symbol, timeframe, extract(epoch FROM ts)::bigint, close::float8 FROM price_bars "
                f"WHERE {VALID} ORDER BY symbol, timeframe, ts"):
            closes.setdefault((symbol, tf), []).append((int(ts), float(close)))

        def stored():
            return {(s, tf, int(ts), name): float(v) for s, tf, ts, name, v in self.db.query(
                "SELECT symbol, timeframe, extract(epoch FROM ts)::bigint, name, value FROM indicators")}

        incremental = stored()
        self.check_against_pandas(closes, incremental)
        r = self.etl("derive", "--full")
        self.assertEqual(r.rc, 0, r.describe())
        self.assertEqual(stored(), incremental, "a resumed derive equals a full one, bit for bit")


if __name__ == "__main__":
    unittest.main()
