"""etl-historical with the mock provider into SQLite files: rows, calendars, run records, idempotent
re-runs, dry runs, ad-hoc symbols, the assets table, and shards."""
import json
import sqlite3
import unittest
from datetime import date

from harness import (TODAY, WINDOW_1Y, WINDOW_7D, TempDir, all_days, clean_env, read_report, run, sqlite_query,
                     sqlite_runs, summary, weekdays)

BARS_Q = ("SELECT symbol, timeframe, ts, open, high, low, close, volume, vwap, trade_count, source, ingested_at "
          "FROM price_bars ORDER BY symbol, timeframe, ts")


def table_or_empty(path, sql):
    """Rows of sql, or [] when the file or the table does not exist (a dry run may create nothing)."""
    if not path.exists():
        return []
    try:
        return sqlite_query(path, sql)
    except sqlite3.OperationalError as e:
        if "no such table" in str(e):
            return []
        raise


class HistoricalSqlite(unittest.TestCase):
    def setUp(self):
        self.tmp = TempDir("hist-sqlite")
        self.dir = self.tmp.path
        self.addCleanup(self.tmp.cleanup)
        self.db = self.dir / "etl.db"
        self.url = f"sqlite:{self.db}"

    def hist(self, *args, env=None):
        return run(["etl-historical", *args, "--database-url", self.url], cwd=self.dir, env=env or clean_env())

    def etl(self, *args):
        return run(["etl", *args, "--database-url", self.url], cwd=self.dir)

    def dates(self, symbol):
        rows = sqlite_query(self.db, "SELECT ts FROM price_bars WHERE symbol = ? AND timeframe = '1d' ORDER BY ts",
                            (symbol,))
        for (ts,) in rows:
            self.assertRegex(ts, r"^\d{4}-\d{2}-\d{2}T00:00:00Z$", f"{symbol}: daily ts at 00:00 UTC")
        return [date.fromisoformat(ts[:10]) for (ts,) in rows]

    # ---- the main path ----

    def test_mock_1y_loads_stocks_and_crypto(self):
        r = self.hist("1Y", "AAPL", "MSFT", "BTC", "--mock")
        self.assertEqual(r.rc, 0, r.describe())
        d0, d1 = WINDOW_1Y
        window_weekdays = set(weekdays(d0, d1))
        for sym in ("AAPL", "MSFT"):
            with self.subTest(symbol=sym):
                ds = self.dates(sym)
                self.assertGreater(len(ds), 200)
                self.assertEqual(len(ds), len(set(ds)))
                self.assertTrue(all(d0 <= d <= d1 for d in ds), f"{sym}: dates outside {d0}..{d1}")
                self.assertTrue(all(d.weekday() < 5 for d in ds), f"{sym}: stock bars on a weekend")
                self.assertFalse([d for d in ds if d.weekday() == 5], f"{sym}: Saturday rows")
                # The mock respects the NYSE calendar: no bar on Christmas or New Year's Day.
                self.assertNotIn(date(2024, 12, 25), ds)
                self.assertNotIn(date(2025, 1, 1), ds)
                self.assertLessEqual(set(ds), window_weekdays)
                self.assertIn(TODAY, ds, "today (a Friday session) is in the window")
        btc = self.dates("BTC")
        self.assertEqual(btc, all_days(d0, d1), "crypto trades every day, weekends and holidays included")
        self.assertIn(date(2024, 12, 25), btc)
        self.assertTrue(any(d.weekday() == 5 for d in btc))
        # OHLC sanity and source.
        bad = sqlite_query(self.db, "SELECT symbol, ts FROM price_bars WHERE NOT (open > 0 AND high > 0 AND low > 0 "
                                    "AND close > 0 AND high >= open AND high >= close AND low <= open AND low <= close "
                                    "AND (volume IS NULL OR volume >= 0))")
        self.assertEqual(bad, [])
        self.assertEqual(sqlite_query(self.db, "SELECT DISTINCT source FROM price_bars"), [("mock",)])
        self.assertEqual(sqlite_query(self.db, "SELECT DISTINCT timeframe FROM price_bars"), [("1d",)])
        # The run is recorded.
        total = sqlite_query(self.db, "SELECT count(*) FROM price_bars")[0][0]
        runs = sqlite_runs(self.db)
        self.assertEqual(len(runs), 1, runs)
        run0 = runs[0]
        self.assertEqual(run0["job"], "etl-historical")
        self.assertEqual(run0["status"], "success")
        self.assertEqual(run0["exit_code"], 0)
        self.assertEqual(run0["shard"], "0/1")
        self.assertEqual((run0["symbols_requested"], run0["symbols_ok"], run0["symbols_failed"]), (3, 3, 0))
        self.assertEqual((run0["rows_inserted"], run0["rows_updated"], run0["rows_unchanged"], run0["rows_rejected"]),
                         (total, 0, 0, 0))
        self.assertIn("1Y AAPL MSFT BTC", run0["arguments"])
        self.assertTrue(run0["finished_at"])
        # The summary on stderr.
        self.assertEqual(summary(r)["rows"], {"inserted": total, "updated": 0, "unchanged": 0, "rejected": 0})

    def test_rerun_is_a_noop(self):
        args = ("1Y", "AAPL", "MSFT", "BTC", "--mock")
        r1 = self.hist(*args, "--report", str(self.dir / "r1.json"))
        self.assertEqual(r1.rc, 0, r1.describe())
        before = sqlite_query(self.db, BARS_Q)
        assets_before = sqlite_query(self.db, "SELECT * FROM assets ORDER BY symbol")
        self.assertGreater(len(before), 0)
        rep1 = read_report(self.dir / "r1.json")
        self.assertEqual(rep1["rows"]["inserted"], len(before))
        # --full: a re-run that fetches every window whole writes nothing (an incremental one fetches nothing).
        r2 = self.hist(*args, "--full", "--report", str(self.dir / "r2.json"))
        self.assertEqual(r2.rc, 0, r2.describe())
        rep2 = read_report(self.dir / "r2.json")
        self.assertEqual(rep2["job"], "etl-historical")
        self.assertEqual(rep2["status"], "success")
        self.assertEqual(rep2["exit_code"], 0)
        self.assertEqual(rep2["symbols"], {**rep2["symbols"], "requested": 3, "ok": 3, "failed": 0})
        self.assertEqual(rep2["rows"], {"inserted": 0, "updated": 0, "unchanged": len(before), "rejected": 0})
        self.assertEqual(rep2["failures"], [])
        # Byte-for-byte the same table, ingested_at included (nothing was rewritten).
        self.assertEqual(sqlite_query(self.db, BARS_Q), before)
        self.assertEqual(sqlite_query(self.db, "SELECT * FROM assets ORDER BY symbol"), assets_before)
        runs = sqlite_runs(self.db)
        self.assertEqual(len(runs), 2)
        self.assertEqual((runs[1]["rows_inserted"], runs[1]["rows_updated"], runs[1]["rows_unchanged"]),
                         (0, 0, len(before)))
        self.assertEqual(runs[1]["status"], "success")

    def test_range_and_symbols_are_case_insensitive(self):
        r = self.hist("7d", "aapl", "Btc", "--mock")
        self.assertEqual(r.rc, 0, r.describe())
        self.assertEqual({s for (s,) in sqlite_query(self.db, "SELECT DISTINCT symbol FROM price_bars")},
                         {"AAPL", "BTC"})
        self.assertEqual(self.dates("BTC"), all_days(*WINDOW_7D))
        # Same command upper-case: nothing changes.
        r2 = self.hist("7D", "AAPL", "BTC", "--mock")
        self.assertEqual(r2.rc, 0, r2.describe())
        self.assertEqual(sqlite_runs(self.db)[-1]["rows_inserted"], 0)

    def test_dry_run_writes_nothing(self):
        r = self.hist("1M", "AAPL", "BTC", "--mock", "--dry-run", "--report", str(self.dir / "dry.json"))
        self.assertEqual(r.rc, 0, r.describe())
        self.assertEqual(table_or_empty(self.db, "SELECT * FROM price_bars"), [])
        self.assertEqual(table_or_empty(self.db, "SELECT * FROM assets"), [], "a dry run records no assets")
        rep = read_report(self.dir / "dry.json")
        self.assertTrue(rep.get("dry_run"), rep)
        self.assertEqual(rep["rows"]["inserted"], 0)
        self.assertEqual(rep["symbols"]["ok"], 2)
        self.assertIs(summary(r)["dry_run"], True)

    def test_unknown_symbols_recorded_inactive(self):
        r = self.hist("7D", "AAPL", "ETH", "^GSPC", "--mock")
        self.assertEqual(r.rc, 0, r.describe())
        rows = sqlite_query(self.db, "SELECT symbol, asset_class, active FROM assets ORDER BY symbol")
        self.assertEqual(rows, [("AAPL", "stock", 0), ("ETH", "crypto", 0), ("^GSPC", "index", 0)])
        self.assertIn("not in assets", r.stderr)
        # `etl assets list` shows active assets only; --all shows these.
        lst = self.etl("assets", "list")
        self.assertEqual(lst.rc, 0, lst.describe())
        self.assertNotIn("AAPL", lst.stdout)
        lst_all = self.etl("assets", "list", "--all")
        self.assertEqual(lst_all.rc, 0, lst_all.describe())
        for s in ("AAPL", "ETH", "^GSPC"):
            self.assertIn(s, lst_all.stdout)
        # A scheduled (no-symbol) run does not pick them up.
        r2 = self.hist("7D", "--mock")
        self.assertEqual(r2.rc, 0, r2.describe())
        self.assertEqual(sqlite_runs(self.db)[-1]["symbols_requested"], 0)
        self.assertEqual(sqlite_runs(self.db)[-1]["status"], "success")

    def test_no_symbol_run_loads_active_assets(self):
        # An ad-hoc symbol first: recorded inactive.
        r0 = self.hist("7D", "TSLA", "--mock")
        self.assertEqual(r0.rc, 0, r0.describe())
        csv = self.dir / "assets.csv"
        csv.write_text("symbol,asset_class,name,active\n"
                       "AAPL,stock,Apple Inc.,true\n"
                       "eth,crypto,Ether,true\n"
                       "MSFT,stock,Microsoft,false\n"
                       "# a comment line\n"
                       "\"SPY\",etf,\"SPDR S&P 500, ETF\",yes\n")
        imp = self.etl("assets", "import", str(csv))
        self.assertEqual(imp.rc, 0, imp.describe())
        self.assertIn("4", imp.stdout)
        rows = sqlite_query(self.db, "SELECT symbol, asset_class, name, active FROM assets ORDER BY symbol")
        self.assertEqual(rows, [("AAPL", "stock", "Apple Inc.", 1), ("ETH", "crypto", "Ether", 1),
                                ("MSFT", "stock", "Microsoft", 0), ("SPY", "etf", "SPDR S&P 500, ETF", 1),
                                ("TSLA", "stock", "", 0)])
        lst = self.etl("assets", "list")
        self.assertEqual(lst.rc, 0, lst.describe())
        for s in ("AAPL", "ETH", "SPY"):
            self.assertIn(s, lst.stdout)
        for s in ("MSFT", "TSLA"):
            self.assertNotIn(s, lst.stdout)
        r = self.hist("7D", "--mock")
        self.assertEqual(r.rc, 0, r.describe())
        last = sqlite_runs(self.db)[-1]
        self.assertEqual((last["symbols_requested"], last["symbols_ok"]), (3, 3))
        counts = dict(sqlite_query(self.db, "SELECT symbol, count(*) FROM price_bars GROUP BY symbol"))
        self.assertEqual(set(counts), {"AAPL", "ETH", "SPY", "TSLA"})     # TSLA from the ad-hoc run only
        self.assertEqual(counts["ETH"], len(all_days(*WINDOW_7D)))
        # Importing the same file again updates, never duplicates.
        imp2 = self.etl("assets", "import", str(csv))
        self.assertEqual(imp2.rc, 0, imp2.describe())
        self.assertEqual(sqlite_query(self.db, "SELECT count(*) FROM assets")[0][0], 5)

    def test_assets_add(self):
        r = self.etl("assets", "add", "nvda")
        self.assertEqual(r.rc, 0, r.describe())
        r = self.etl("assets", "add", "SOL")
        self.assertEqual(r.rc, 0, r.describe())
        r = self.etl("assets", "add", "QQQ", "--class", "etf", "--inactive")
        self.assertEqual(r.rc, 0, r.describe())
        self.assertEqual(sqlite_query(self.db, "SELECT symbol, asset_class, active FROM assets ORDER BY symbol"),
                         [("NVDA", "stock", 1), ("QQQ", "etf", 0), ("SOL", "crypto", 1)])
        h = self.hist("7D", "--mock")
        self.assertEqual(h.rc, 0, h.describe())
        self.assertEqual({s for (s,) in sqlite_query(self.db, "SELECT DISTINCT symbol FROM price_bars")},
                         {"NVDA", "SOL"})

    def test_shards_cover_every_symbol_once(self):
        symbols = ["AAPL", "MSFT", "GOOG", "AMZN", "NVDA", "META", "TSLA", "BTC", "ETH", "SPY", "IBM", "KO"]
        owned = {}
        for k in (0, 1):
            url = f"sqlite:{self.dir / f'shard{k}.db'}"
            r = run(["etl-historical", "7D", *symbols, "--mock", "--shard", f"{k}/2", "--database-url", url],
                    cwd=self.dir)
            self.assertEqual(r.rc, 0, r.describe())
            owned[k] = {s for (s,) in sqlite_query(self.dir / f"shard{k}.db",
                                                   "SELECT DISTINCT symbol FROM price_bars")}
            runs = sqlite_runs(self.dir / f"shard{k}.db")
            self.assertEqual(runs[-1]["shard"], f"{k}/2")
            self.assertEqual(runs[-1]["symbols_requested"], len(owned[k]))
        self.assertEqual(owned[0] & owned[1], set(), "a symbol in both shards")
        self.assertEqual(owned[0] | owned[1], set(symbols), "a symbol in no shard")
        self.assertTrue(owned[0] and owned[1], "12 symbols all hashed to one shard")
        # The Kubernetes Indexed Job form (JOB_COMPLETION_INDEX + ETL_SHARD_COUNT) splits the same way.
        for k in (0, 1):
            url = f"sqlite:{self.dir / f'job{k}.db'}"
            r = run(["etl-historical", "7D", *symbols, "--mock", "--database-url", url], cwd=self.dir,
                    env=clean_env(JOB_COMPLETION_INDEX=k, ETL_SHARD_COUNT=2))
            self.assertEqual(r.rc, 0, r.describe())
            got = {s for (s,) in sqlite_query(self.dir / f"job{k}.db", "SELECT DISTINCT symbol FROM price_bars")}
            self.assertEqual(got, owned[k])
        # Both shards into one database, one after the other: the same table as one unsharded run.
        for k in (0, 1):
            r = self.hist("7D", *symbols, "--mock", "--shard", f"{k}/2")
            self.assertEqual(r.rc, 0, r.describe())
        one = self.dir / "one.db"
        r = run(["etl-historical", "7D", *symbols, "--mock", "--database-url", f"sqlite:{one}"], cwd=self.dir)
        self.assertEqual(r.rc, 0, r.describe())
        q = "SELECT symbol, ts, open, high, low, close, volume FROM price_bars ORDER BY symbol, ts"
        self.assertEqual(sqlite_query(self.db, q), sqlite_query(one, q))

    def test_from_to_window(self):
        # RANGE is the first positional; --from/--to override its bounds.
        r = self.hist("1M", "AAPL", "BTC", "--from", "2025-03-03", "--to", "2025-03-07", "--mock")
        self.assertEqual(r.rc, 0, r.describe())
        self.assertEqual(self.dates("BTC"), all_days(date(2025, 3, 3), date(2025, 3, 7)))
        self.assertEqual(self.dates("AAPL"), weekdays(date(2025, 3, 3), date(2025, 3, 7)))

    def test_database_url_flag_beats_environment(self):
        other = self.dir / "env.db"
        r = run(["etl-historical", "7D", "AAPL", "--mock", "--database-url", self.url], cwd=self.dir,
                env=clean_env(DATABASE_URL=f"sqlite:{other}"))
        self.assertEqual(r.rc, 0, r.describe())
        self.assertEqual(sqlite_query(self.db, "SELECT count(*) FROM price_bars")[0][0], len(weekdays(*WINDOW_7D)))
        self.assertEqual(table_or_empty(other, "SELECT * FROM price_bars"), [])
        # Without the flag, DATABASE_URL is used.
        r = run(["etl-historical", "7D", "MSFT", "--mock"], cwd=self.dir, env=clean_env(DATABASE_URL=f"sqlite:{other}"))
        self.assertEqual(r.rc, 0, r.describe())
        self.assertEqual(sqlite_query(other, "SELECT DISTINCT symbol FROM price_bars"), [("MSFT",)])
        self.assertFalse((self.dir / "market-etl.db").exists())

    def test_db_migrate_is_idempotent(self):
        r1 = self.etl("db", "migrate")
        self.assertEqual(r1.rc, 0, r1.describe())
        r2 = self.etl("db", "migrate")
        self.assertEqual(r2.rc, 0, r2.describe())
        self.assertIn("0 migrations applied", r2.stdout)
        tables = {t for (t,) in sqlite_query(self.db, "SELECT name FROM sqlite_master WHERE type = 'table'")}
        self.assertLessEqual({"assets", "price_bars", "latest_prices", "etl_runs", "rejected_rows",
                              "schema_migrations"}, tables)
        applied = sqlite_query(self.db, "SELECT count(*) FROM schema_migrations")[0][0]
        self.assertGreaterEqual(applied, 1)
        # A job on a migrated database applies nothing new.
        r = self.hist("7D", "AAPL", "--mock")
        self.assertEqual(r.rc, 0, r.describe())
        self.assertNotIn("applied migration", r.stderr)
        self.assertEqual(sqlite_query(self.db, "SELECT count(*) FROM schema_migrations")[0][0], applied)

    def test_assets_import_errors(self):
        csv = self.dir / "bad.csv"
        csv.write_text("symbol,asset_class\nGOOD,stock\nBAD,bond\n")
        r = self.etl("assets", "import", str(csv))
        self.assertEqual(r.rc, 65, r.describe())
        self.assertIn(f"{csv}:3", r.stderr)
        self.assertIn("bond", r.stderr)
        self.assertEqual(table_or_empty(self.db, "SELECT * FROM assets"), [], "a bad file imports nothing")
        r = self.etl("assets", "import", str(self.dir / "missing.csv"))
        self.assertEqual(r.rc, 66, r.describe())
        self.assertIn("missing.csv", r.stderr)

    def test_log_formats_and_levels(self):
        r = self.hist("7D", "AAPL", "BTC", "--mock", "--log-format", "json")
        self.assertEqual(r.rc, 0, r.describe())
        logs = []
        for line in r.stderr.splitlines():
            if line.startswith("{"):
                doc = json.loads(line)             # every JSON line parses
                self.assertIn("ts", doc)
                self.assertIn(doc.get("level"), ("debug", "info", "warn", "error"))
                self.assertIn("msg", doc)
                logs.append(doc)
        self.assertTrue(any(d["msg"] == "loaded" and d.get("symbol") == "AAPL" for d in logs), r.stderr)
        # The summary is one JSON line too, its numbers JSON numbers, the run on it.
        s = summary(r)
        self.assertEqual((s["job"], s["shard"], s["status"], s["exit_code"]), ("etl-historical", "0/1", "success", 0))
        self.assertIsInstance(s["run_id"], int)
        self.assertEqual(s["rows"], {"inserted": 14, "updated": 0, "unchanged": 0, "rejected": 0})
        self.assertEqual(s["symbols"]["ok"], 2)
        r = self.hist("7D", "AAPL", "--mock", "--log-format", "text")
        self.assertEqual(r.rc, 0, r.describe())
        self.assertIn("rows:", r.stderr)
        self.assertFalse([l for l in r.stderr.splitlines() if l.startswith("{")], "text format wrote JSON")
        r = self.hist("7D", "AAPL", "--mock", "--log-level", "error")
        self.assertEqual(r.rc, 0, r.describe())
        # Only the summary, which every run writes whatever the level.
        self.assertEqual([json.loads(l)["msg"] for l in r.stderr.splitlines() if '"level":"info"' in l], ["summary"],
                         r.stderr)
        r = self.hist("7D", "AAPL", "--mock", "--log-level", "debug")
        self.assertEqual(r.rc, 0, r.describe())

    def test_concurrent_shards_share_one_file(self):
        """Two shards at once into one SQLite file: both succeed (writers wait for each other)."""
        from harness import start
        symbols = ["AAPL", "MSFT", "GOOG", "AMZN", "NVDA", "META", "TSLA", "BTC", "ETH", "SPY", "IBM", "KO"]
        jobs = [start(["etl-historical", "1Y", *symbols, "--mock", "--shard", f"{k}/2", "--database-url", self.url],
                      cwd=self.dir) for k in (0, 1)]
        results = [j.wait(120) for j in jobs]
        for r in results:
            self.assertEqual(r.rc, 0, r.describe())
        self.assertEqual({s for (s,) in sqlite_query(self.db, "SELECT DISTINCT symbol FROM price_bars")},
                         set(symbols))
        runs = sqlite_runs(self.db)
        self.assertEqual(sorted(r["shard"] for r in runs), ["0/2", "1/2"])
        self.assertEqual(sum(r["rows_inserted"] for r in runs),
                         sqlite_query(self.db, "SELECT count(*) FROM price_bars")[0][0])

    def test_duplicate_symbols_and_known_assets(self):
        add = self.etl("assets", "add", "AAPL")
        self.assertEqual(add.rc, 0, add.describe())
        r = self.hist("7D", "AAPL", "aapl", " AAPL", "MSFT", "--mock")
        self.assertEqual(r.rc, 0, r.describe())
        last = sqlite_runs(self.db)[-1]
        self.assertEqual((last["symbols_requested"], last["symbols_ok"]), (2, 2), "a symbol named twice is one symbol")
        # Naming an active asset on the command line leaves it active; the unknown one is recorded inactive.
        self.assertEqual(sqlite_query(self.db, "SELECT symbol, active FROM assets ORDER BY symbol"),
                         [("AAPL", 1), ("MSFT", 0)])


if __name__ == "__main__":
    unittest.main()
