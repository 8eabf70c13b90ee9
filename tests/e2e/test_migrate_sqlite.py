"""etl-migrate-sqlite (issue 8): Stockula files (current and legacy layouts, every quirk of stockula.md,
made by tests/fixtures/make_stockula.py with a manifest of what a correct migration reports) and our own
SQLite store (made by a real etl-historical --mock run) into PostgreSQL; every source row accounted for;
re-runs that write nothing; --dry-run, --symbols, --max-rejects; the files and targets it refuses; a
second copy (75); kill -9 then a resume with no duplicates."""
import hashlib
import json
import os
import signal
import subprocess
import sys
import time
import unittest
from pathlib import Path

from harness import (BIN_DIR, SOURCE_DIR, PgDatabase, TempDir, clean_env, psql, read_report, require_pg, run, start,
                     wait_for)

MAKE_STOCKULA = SOURCE_DIR / "tests" / "fixtures" / "make_stockula.py"
ETL_MIGRATE = str(BIN_DIR / "etl-migrate-sqlite")
INTRADAY = "intraday row keyed by date only: its time is unknown"


def make_stockula(path: Path, layout: str, *extra: str) -> dict:
    subprocess.run([sys.executable, str(MAKE_STOCKULA), str(path), "--layout", layout, *extra], check=True,
                   capture_output=True, timeout=600)
    return json.loads(Path(f"{path}.manifest.json").read_text())


def migrate(*args, env=None, timeout=600):
    return run([ETL_MIGRATE, *[str(a) for a in args], "--no-progress"], env=env or clean_env(),
               timeout=timeout)


def checksum(db: PgDatabase) -> str:
    """An ordered checksum of what a migration writes (timestamps of writing left out)."""
    text = "\n".join("|".join(r) for r in db.query(
        "SELECT symbol, timeframe, ts::text, open::text, high::text, low::text, close::text, "
        "coalesce(volume::text, ''), source FROM price_bars ORDER BY symbol, timeframe, ts"))
    text += "\n#\n" + "\n".join("|".join(r) for r in db.query(
        "SELECT symbol, name, asset_class, active::text FROM assets ORDER BY symbol"))
    for table, order in (("corporate_actions", "symbol, ex_date, kind"), ("asset_info", "symbol"),
                         ("option_quotes", "symbol, side, expiration, strike, contract_symbol")):
        text += f"\n#{table}\n" + "\n".join("|".join(r) for r in db.query(
            f"SELECT t::text FROM (SELECT * FROM {table} ORDER BY {order}) t"))
    return hashlib.sha256(text.encode()).hexdigest()


TARGET = os.environ.get("ETL_TEST_PG_TARGET", "plain")  # tests/pg_target.sh: the TimescaleDB servers


def compress_all(db: PgDatabase) -> int:
    """Compresses every chunk of price_bars on the preloaded TimescaleDB server; 0 elsewhere."""
    if TARGET != "timescaledb":
        return 0
    return db.compress_all_chunks()


def tables_of(report: dict) -> dict:
    return report["tables"]


class MigrateStockula(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        require_pg()
        cls.tmp = TempDir("migrate")
        cls.current = cls.tmp.path / "current.db"
        cls.manifest = make_stockula(cls.current, "current", "--symbols", "4", "--years", "2", "--quirks")
        cls.db = PgDatabase("migr")
        cls.report = cls.tmp.path / "first.json"
        cls.first = migrate(cls.current, "--database-url", cls.db.url, "--max-rejects", "100%", "--report",
                            cls.report)

    @classmethod
    def tearDownClass(cls):
        cls.db.drop()
        cls.tmp.cleanup()

    def setUp(self):
        self.assertEqual(self.first.rc, 0, self.first.describe())

    def test_every_source_row_is_accounted_for_as_the_manifest_says(self):
        rep = read_report(self.report)
        self.assertEqual(rep["job"], "etl-migrate-sqlite")
        self.assertNotIn("symbols", rep)
        tables = tables_of(rep)
        for name, t in tables.items():
            with self.subTest(table=name):
                self.assertEqual(t["status"], "accounted")
                self.assertEqual(t["read"], t["inserted"] + t["updated"] + t["unchanged"] + t["rejected"] + t["skipped"])
        ph = self.manifest["price_history"]
        self.assertEqual(tables["price_history"]["read"], ph["rows"])
        self.assertEqual(tables["price_history"]["rejected"], ph["expected_rejected"])
        self.assertEqual(tables["price_history"]["inserted"], ph["expected_valid"])
        self.assertEqual(tables["price_history"]["target"], "price_bars")
        by_tf = {tf: int(n) for tf, n in self.db.query("SELECT timeframe, count(*) FROM price_bars GROUP BY 1")}
        self.assertEqual(by_tf, ph["valid_by_timeframe"])
        # The intraday rows carry the exact reason, in rejected_rows and in the report.
        self.assertEqual(rep["rejected"][f"price_history: {INTRADAY}"]["rows"],
                         ph["rejected_by_reason"][INTRADAY])
        run_id = self.db.runs()[0]["id"]
        self.assertEqual(int(self.db.scalar(f"SELECT count(*) FROM rejected_rows WHERE run_id = {run_id} "
                                            f"AND reason = '{INTRADAY}'")), ph["rejected_by_reason"][INTRADAY])
        self.assertEqual(int(self.db.scalar(f"SELECT count(*) FROM rejected_rows WHERE run_id = {run_id}")),
                         sum(t["rejected"] for t in tables.values()))
        # Unmapped tables are skipped, with their row counts; nothing goes silently.
        for name, rows in self.manifest["skipped_tables"].items():
            if name == "alembic_version":  # bookkeeping, never data (layout.hpp)
                continue
            self.assertEqual((tables[name]["skipped"], tables[name]["read"]), (rows, rows), name)
        for name in ("dividends", "splits", "stock_info", "options_calls", "options_puts"):
            self.assertEqual(tables[name]["read"], self.manifest["tables"][name]["rows"], name)

    def test_orphans_become_inactive_assets_and_indices_are_indices(self):
        rep = read_report(self.report)
        source = rep["source"][str(self.current)]
        self.assertEqual(source["layout"], "stockula (current)")
        orphans = self.manifest["extra_symbols"]["orphans"]
        self.assertEqual(source["orphan_symbols"], len(orphans))
        rows = dict((s, (c, a)) for s, c, a in self.db.query("SELECT symbol, asset_class, active::text FROM assets"))
        for s in orphans:
            self.assertEqual(rows[s][1], "false", s)
        for s in self.manifest["extra_symbols"]["treasury"]:
            self.assertEqual(rows[s][0], "index", s)
        # Index rows with volume 0 are kept.
        self.assertGreater(int(self.db.scalar("SELECT count(*) FROM price_bars WHERE symbol = '^IRX' AND volume = 0")),
                           0)

    def test_prices_are_the_shortest_decimal_and_dates_are_sessions(self):
        bad = self.db.query("SELECT close::text FROM price_bars WHERE length(close::text) > 18")
        self.assertEqual(bad, [])
        self.assertEqual(self.db.query("SELECT ts FROM price_bars WHERE ts::time <> '00:00'"), [])
        samples = self.manifest["price_history"]["samples"]
        self.assertGreater(len(samples), 5)
        for sample in samples:
            with self.subTest(sample=sample):
                got = self.db.query(f"SELECT open::text, high::text, low::text, close::text, volume::text "
                                    f"FROM price_bars WHERE symbol = '{sample['symbol']}' AND timeframe = "
                                    f"'{sample['timeframe']}' AND ts = '{sample['session_date']}T00:00:00Z'")
                self.assertEqual(got, [(sample["open"], sample["high"], sample["low"], sample["close"],
                                        str(sample["volume"]))])

    def test_per_symbol_parity_matches(self):
        rep = read_report(self.report)
        by_symbol = rep["price_bars_by_symbol"]
        self.assertTrue(by_symbol)
        for key, item in by_symbol.items():
            self.assertEqual(item["status"], "match", key)
            self.assertEqual(item["source_checksum"], item["target_checksum"], key)

    def test_nan_tokens_become_null_and_are_counted(self):
        rep = read_report(self.report)
        self.assertEqual(rep["source"][str(self.current)]["nonfinite_json_tokens"],
                         self.manifest["stock_info"]["nonfinite_tokens"])
        self.assertGreater(self.manifest["stock_info"]["nonfinite_tokens"], 0)
        # A bare NaN became null; the word inside a string stayed text.
        self.assertEqual(self.db.scalar("SELECT jsonb_typeof(info->'trailingPE') FROM asset_info WHERE symbol = 'AAPL'"),
                         "null")
        self.assertIn('"NaN"', self.db.scalar("SELECT info->>'longBusinessSummary' FROM asset_info WHERE symbol = 'AAPL'"))
        self.assertEqual(int(self.db.scalar("SELECT count(*) FROM asset_info")),
                         self.manifest["tables"]["stock_info"]["rows"])

    def test_a_rerun_writes_nothing(self):
        before = checksum(self.db)
        report = self.tmp.path / "again.json"
        r = migrate(self.current, "--database-url", self.db.url, "--max-rejects", "100%", "--report", report)
        self.assertEqual(r.rc, 0, r.describe())
        for name, t in tables_of(read_report(report)).items():
            self.assertEqual((t["inserted"], t["updated"]), (0, 0), name)
        self.assertEqual(checksum(self.db), before)

    def test_a_grown_file_moves_only_its_new_and_changed_rows_also_into_compressed_chunks(self):
        with PgDatabase("migrgrow") as db:
            self.grown_file_run(db)

    def grown_file_run(self, db):
        r = migrate(self.current, "--database-url", db.url, "--max-rejects", "100%")
        self.assertEqual(r.rc, 0, r.describe())
        if TARGET == "timescaledb":
            self.assertEqual(db.scalar("SELECT count(*) > 0 FROM timescaledb_information.hypertables "
                                            "WHERE hypertable_name = 'price_bars'"), "t")
            self.assertGreater(compress_all(db), 0)
        grown = self.tmp.path / "grown.db"
        grown.write_bytes(self.current.read_bytes())
        con = __import__("sqlite3").connect(grown)
        with con:
            # Two new sessions for AAPL, and one changed close (the old app corrected a bar).
            con.execute("INSERT INTO price_history (symbol, date, open_price, high_price, low_price, close_price, "
                        "volume, interval) VALUES ('AAPL', '2026-01-05', 10, 12, 9, 11, 100, '1d'), "
                        "('AAPL', '2026-01-06', 11, 13, 10, 12.5, 200, '1d')")
            changed = con.execute("SELECT id, date FROM price_history WHERE symbol = 'MSFT' AND interval = '1d' "
                                  "AND open_price IS NOT NULL ORDER BY date LIMIT 1 OFFSET 40").fetchone()
            con.execute("UPDATE price_history SET close_price = low_price WHERE id = ?", (changed[0],))
        con.close()
        report = self.tmp.path / "grown.json"
        r = migrate(grown, "--database-url", db.url, "--max-rejects", "100%", "--report", report)
        self.assertEqual(r.rc, 0, r.describe())
        ph = tables_of(read_report(report))["price_history"]
        self.assertEqual((ph["inserted"], ph["updated"]), (2, 1), ph)
        self.assertEqual(db.scalar("SELECT close::text FROM price_bars WHERE symbol = 'AAPL' AND ts = '2026-01-06'"),
                         "12.5")
        # And the original file again: the corrected bar goes back, nothing else moves.
        r = migrate(self.current, "--database-url", db.url, "--max-rejects", "100%", "--report", report)
        self.assertEqual(r.rc, 0, r.describe())
        ph = tables_of(read_report(report))["price_history"]
        self.assertEqual((ph["inserted"], ph["updated"]), (0, 1), ph)

    def test_include_unmapped_copies_the_other_tables_into_legacy(self):
        with PgDatabase("migrunm") as db:
            report = self.tmp.path / "unmapped.json"
            for _ in range(2):
                r = migrate(self.current, "--database-url", db.url, "--max-rejects", "100%", "--include-unmapped",
                            "--report", report)
                self.assertEqual(r.rc, 0, r.describe())
            tables = tables_of(read_report(report))
            for name, rows in self.manifest["skipped_tables"].items():
                if name == "alembic_version":
                    continue
                self.assertEqual(tables[name]["target"], f"legacy.{name}")
                self.assertEqual(tables[name]["skipped"], 0)
                self.assertEqual(int(db.scalar(f"SELECT count(*) FROM legacy.{name}")), rows, name)

    def test_a_run_is_recorded_with_its_tables(self):
        runs = [r for r in self.db.runs() if r["job"] == "etl-migrate-sqlite"]
        self.assertEqual((runs[0]["status"], runs[0]["exit_code"]), ("success", "0"))
        rows = self.db.query(f"SELECT source_table, rows_read FROM migration_tables WHERE run_id = {runs[0]['id']}")
        self.assertEqual(int(dict(rows)["price_history"]), self.manifest["price_history"]["rows"])


class MigrateChoices(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        require_pg()
        cls.tmp = TempDir("migrate-choices")
        cls.legacy = cls.tmp.path / "legacy.db"
        cls.manifest = make_stockula(cls.legacy, "legacy", "--symbols", "3", "--years", "1", "--quirks")

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def test_legacy_null_interval_is_daily(self):
        with PgDatabase("migrleg") as db:
            r = migrate(self.legacy, "--database-url", db.url, "--max-rejects", "100%")
            self.assertEqual(r.rc, 0, r.describe())
            ph = self.manifest["price_history"]
            self.assertEqual(int(db.scalar("SELECT count(*) FROM price_bars")), ph["expected_valid"])
            self.assertEqual(int(db.scalar("SELECT count(*) FROM price_bars WHERE timeframe = '1d'")),
                             ph["valid_by_timeframe"]["1d"])

    def test_rejects_above_the_limit_exit_65_with_the_valid_rows_loaded(self):
        with PgDatabase("migrrej") as db:
            r = migrate(self.legacy, "--database-url", db.url, "--max-rejects", "0")
            self.assertEqual(r.rc, 65, r.describe())
            self.assertIn("--max-rejects", r.stderr)
            self.assertEqual(int(db.scalar("SELECT count(*) FROM price_bars")),
                             self.manifest["price_history"]["expected_valid"])
            self.assertEqual(db.runs()[0]["status"], "partial")

    def test_dry_run_writes_nothing(self):
        with PgDatabase("migrdry") as db:
            report = self.tmp.path / "dry.json"
            r = migrate(self.legacy, "--database-url", db.url, "--dry-run", "--max-rejects", "100%", "--report",
                        report)
            self.assertEqual(r.rc, 0, r.describe())
            self.assertEqual(int(db.scalar("SELECT count(*) FROM price_bars")), 0)
            self.assertEqual(int(db.scalar("SELECT count(*) FROM assets")), 0)
            self.assertEqual(db.runs(), [])
            self.assertEqual(tables_of(read_report(report))["price_history"]["read"],
                             self.manifest["price_history"]["rows"])

    def test_symbols_moves_a_subset(self):
        with PgDatabase("migrsym") as db:
            symbols = sorted({s for (s,) in __import__("sqlite3").connect(self.legacy).execute(
                "SELECT DISTINCT symbol FROM price_history WHERE symbol NOT LIKE '^%' LIMIT 2")})
            r = migrate(self.legacy, "--database-url", db.url, "--symbols", ",".join(symbols), "--max-rejects", "100%")
            self.assertEqual(r.rc, 0, r.describe())
            self.assertEqual(sorted(s for (s,) in db.query("SELECT DISTINCT symbol FROM price_bars")), symbols)

    def test_refused_inputs_exit_66_and_write_nothing(self):
        with PgDatabase("migrbad") as db:
            not_sqlite = self.tmp.path / "notes.txt"
            not_sqlite.write_text("hello, this is no database\n" * 100)
            unknown = self.tmp.path / "other.db"
            __import__("sqlite3").connect(unknown).executescript("CREATE TABLE foo (a, b); INSERT INTO foo VALUES (1, 2);")
            corrupt = self.tmp.path / "corrupt.db"
            data = bytearray(self.legacy.read_bytes())
            data[len(data) // 2: len(data) // 2 + 8192] = b"\xff" * 8192
            corrupt.write_bytes(bytes(data))
            for path, word in ((self.tmp.path / "missing.db", "missing"), (not_sqlite, "not"),
                               (unknown, "unknown layout"), (corrupt, "")):
                with self.subTest(path=path.name):
                    r = migrate(path, "--database-url", db.url)
                    self.assertEqual(r.rc, 66, r.describe())
                    lines = [l for l in r.stderr.splitlines() if l.strip()]
                    self.assertEqual(len(lines), 1, r.describe())
                    self.assertIn(str(path.name), lines[0])
                    self.assertIn(word, lines[0].lower())
            self.assertFalse(db.has_table("price_bars"))

    def test_a_malformed_max_rejects_is_a_usage_error(self):
        for bad in ("abc", "5x", "101%", "-1"):
            with self.subTest(value=bad):
                r = migrate(self.legacy, "--database-url", "postgresql:///never_opened", "--max-rejects", bad)
                self.assertEqual(r.rc, 64, r.describe())
                self.assertIn("--max-rejects", r.stderr)

    def test_an_sqlite_target_is_a_usage_error(self):
        r = migrate(self.legacy, "--database-url", f"sqlite:{self.tmp.path / 'x.db'}")
        self.assertEqual(r.rc, 64, r.describe())
        self.assertIn("postgresql://", r.stderr)
        self.assertFalse((self.tmp.path / "x.db").exists())

    def test_the_source_file_is_never_changed_and_a_read_only_one_works(self):
        ro = self.tmp.path / "ro"
        ro.mkdir(exist_ok=True)
        copy = ro / "stockula.db"
        copy.write_bytes(self.legacy.read_bytes())
        before = (hashlib.sha256(copy.read_bytes()).hexdigest(), copy.stat().st_mtime_ns)
        os.chmod(copy, 0o444)
        os.chmod(ro, 0o555)
        try:
            with PgDatabase("migrro") as db:
                r = migrate(copy, "--database-url", db.url, "--max-rejects", "100%")
                self.assertEqual(r.rc, 0, r.describe())
        finally:
            os.chmod(ro, 0o755)
        self.assertEqual((hashlib.sha256(copy.read_bytes()).hexdigest(), copy.stat().st_mtime_ns), before)
        self.assertEqual(sorted(p.name for p in ro.iterdir()), ["stockula.db"])


class MigrateOwnStore(unittest.TestCase):
    def test_our_own_sqlite_store_moves_with_the_same_meaning(self):
        require_pg()
        with TempDir("migrate-own") as tmp, PgDatabase("migrown") as db:  # tmp: its Path
            src = tmp / "market-etl.db"
            r = run(["etl-historical", "1M", "AAPL", "MSFT", "BTC", "--mock", "--database-url", f"sqlite:{src}"],
                    env=clean_env())
            self.assertEqual(r.rc, 0, r.describe())
            r = run(["etl", "latest", "AAPL", "--mock", "--database-url", f"sqlite:{src}"], env=clean_env())
            self.assertEqual(r.rc, 0, r.describe())
            sq = __import__("sqlite3").connect(src)
            with sq:  # a rejected record of the first run, as a run with a bad bar leaves it
                sq.execute("INSERT INTO rejected_rows (run_id, source, symbol, timeframe, raw, reason) "
                           "VALUES (1, 'mock', 'AAPL', '1d', '{\"o\":null}', 'null open')")
            sq.close()
            report = tmp / "own.json"
            r = migrate(src, "--database-url", db.url, "--report", report)
            self.assertEqual(r.rc, 0, r.describe())
            tables = tables_of(read_report(report))
            self.assertEqual(tables["etl_runs"]["inserted"], 2)
            self.assertEqual(tables["rejected_rows"]["inserted"], 1)
            moved = db.query("SELECT id, job, status, migrated_from FROM etl_runs WHERE migrated_from IS NOT NULL "
                             "ORDER BY migrated_from")
            self.assertEqual([(j, st) for _, j, st, m in moved], [("etl-historical", "success"), ("etl-latest", "success")])
            self.assertTrue(moved[0][3].startswith("market-etl run 1 (job etl-historical, host "), moved)
            self.assertEqual(db.query("SELECT r.symbol, r.reason FROM rejected_rows r JOIN etl_runs e ON e.id = r.run_id "
                                      f"WHERE e.migrated_from = '{moved[0][3]}'"), [("AAPL", "null open")])
            con = __import__("sqlite3").connect(f"file:{src}?mode=ro", uri=True)
            want = sorted((s, tf, round(float(c), 6)) for s, tf, c in
                          con.execute("SELECT symbol, timeframe, close FROM price_bars"))
            got = sorted((s, tf, round(float(c), 6)) for s, tf, c in
                         db.query("SELECT symbol, timeframe, close FROM price_bars"))
            self.assertEqual(got, want)
            self.assertEqual(sorted(r[0] for r in db.query("SELECT symbol FROM latest_prices")), ["AAPL"])
            self.assertEqual(sorted(r[0] for r in db.query("SELECT symbol FROM assets")),
                             sorted(r[0] for r in con.execute("SELECT symbol FROM assets")))
            # The front command runs the same thing; the run history moves once, also from a copy of the
            # file elsewhere.
            copy = tmp / "copy-of-market-etl.db"
            copy.write_bytes(src.read_bytes())
            r = run(["etl", "migrate-sqlite", str(copy), "--database-url", db.url, "--no-progress", "--report", report],
                    env=clean_env())
            self.assertEqual(r.rc, 0, r.describe())
            tables = tables_of(read_report(report))
            self.assertEqual((tables["etl_runs"]["inserted"], tables["etl_runs"]["unchanged"]), (0, 2))
            self.assertEqual((tables["rejected_rows"]["inserted"], tables["rejected_rows"]["unchanged"]), (0, 1))
            self.assertEqual(int(db.scalar("SELECT count(*) FROM rejected_rows WHERE reason = 'null open'")), 1)
            # A run still going when moved is moved again once it has ended, with the rejects it has by then.
            sq = __import__("sqlite3").connect(src)
            with sq:
                sq.execute("UPDATE etl_runs SET status = 'running', finished_at = NULL WHERE id = 2")
            sq.close()
            r = migrate(src, "--database-url", db.url, "--report", report)
            self.assertEqual(r.rc, 0, r.describe())
            self.assertEqual(tables_of(read_report(report))["etl_runs"]["updated"], 1)
            self.assertEqual(db.scalar("SELECT status FROM etl_runs WHERE migrated_from LIKE 'market-etl run 2 %'"),
                             "running")
            sq = __import__("sqlite3").connect(src)
            with sq:
                sq.execute("UPDATE etl_runs SET status = 'success', finished_at = started_at WHERE id = 2")
                sq.execute("INSERT INTO rejected_rows (run_id, source, symbol, raw, reason) "
                           "VALUES (2, 'mock', 'AAPL', '{}', 'late reject')")
            sq.close()
            r = migrate(src, "--database-url", db.url, "--report", report)
            self.assertEqual(r.rc, 0, r.describe())
            tables = tables_of(read_report(report))
            self.assertEqual((tables["etl_runs"]["updated"], tables["rejected_rows"]["inserted"]), (1, 1))
            self.assertEqual(int(db.scalar("SELECT count(*) FROM rejected_rows WHERE reason = 'late reject'")), 1)


class MigrateOwnStoreBadRun(unittest.TestCase):
    def test_a_run_postgresql_cannot_hold_is_rejected_and_a_password_in_its_arguments_redacted(self):
        require_pg()
        with TempDir("migrate-badrun") as tmp, PgDatabase("migrbadrun") as db:
            src = tmp / "market-etl.db"
            r = run(["etl-historical", "7D", "AAPL", "--mock", "--database-url", f"sqlite:{src}"], env=clean_env())
            self.assertEqual(r.rc, 0, r.describe())
            sq = __import__("sqlite3").connect(src)
            with sq:
                sq.execute("INSERT INTO etl_runs (job, arguments, pid, status) VALUES ('etl-latest', '', 5000000000, "
                           "'success')")
                sq.execute("INSERT INTO etl_runs (job, arguments, status) VALUES ('etl-latest', "
                           "'--database-url postgresql://etl:Hunter2pw@db/market', 'success')")
            sq.close()
            r = migrate(src, "--database-url", db.url, "--max-rejects", "1")  # a small file: 1 of ~12 rows
            self.assertEqual(r.rc, 0, r.describe())
            self.assertEqual(db.query("SELECT reason FROM rejected_rows WHERE reason LIKE 'pid:%'"),
                             [("pid: 5000000000 is out of range",)])
            self.assertEqual(int(db.scalar("SELECT count(*) FROM etl_runs WHERE migrated_from IS NOT NULL")), 2)
            self.assertNotIn("Hunter2pw", db.table_text("etl_runs"))
            self.assertNotIn("Hunter2pw", r.stderr)


class MigrateKillAndLock(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        require_pg()
        cls.tmp = TempDir("migrate-kill")
        cls.big = cls.tmp.path / "big.db"
        cls.manifest = make_stockula(cls.big, "current", "--symbols", "150", "--years", "8")

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def test_a_second_copy_exits_75_and_kill_9_then_a_resume_finishes_with_no_duplicates(self):
        with PgDatabase("migrkill") as db:
            first = start([ETL_MIGRATE, self.big, "--database-url", db.url, "--no-progress"], env=clean_env())
            try:
                wait_for(lambda: (db.has_table("price_bars") and db.counts() and db.advisory_locks())
                         or not first.running(), 120, message="the first copy to start loading")
                self.assertTrue(first.running(), first.stderr_so_far())
                # Frozen mid-load, its session (and the run's lock) still there: the second copy's whole
                # run, start-up and quick_check included, cannot outlast the first one's load.
                first.signal(signal.SIGSTOP)
                second = migrate(self.big, "--database-url", db.url, timeout=120)
                self.assertEqual(second.rc, 75, second.describe())
                self.assertIn("another", second.stderr.lower())
                first.signal(signal.SIGKILL)
                first.wait(60)
            finally:
                first.kill()
            partial = sum(db.counts().values())
            total = self.manifest["price_history"]["expected_valid"]
            self.assertLess(partial, total, "killed before the end")
            wait_for(lambda: db.advisory_locks() == 0, 30, message="the killed run's lock to go")
            r = migrate(self.big, "--database-url", db.url, timeout=600)
            self.assertEqual(r.rc, 0, r.describe())
            self.assertEqual(sum(db.counts().values()), total)
            self.assertEqual(int(db.scalar("SELECT count(*) FROM (SELECT symbol, timeframe, ts FROM price_bars "
                                           "GROUP BY 1, 2, 3 HAVING count(*) > 1) d")), 0)

    def test_sigterm_stops_between_batches_exits_130_and_records_the_run(self):
        with PgDatabase("migrterm") as db:
            first = start([ETL_MIGRATE, self.big, "--database-url", db.url, "--no-progress"], env=clean_env())
            try:
                wait_for(lambda: (db.has_table("price_bars") and db.counts()) or not first.running(), 120,
                         message="the copy to start loading")
                first.signal(signal.SIGTERM)
                res = first.wait(120)
            finally:
                first.kill()
            self.assertEqual(res.rc, 130, res.describe())
            runs = db.runs()
            self.assertEqual((runs[-1]["status"], runs[-1]["exit_code"]), ("interrupted", "130"))
            # The tables finished before the signal keep their parity.
            parity = dict(db.query(f"SELECT source_table, rows_read FROM migration_tables WHERE run_id = {runs[-1]['id']}"))
            self.assertEqual(int(parity["stocks"]), self.manifest["tables"]["stocks"]["rows"])
            self.assertLess(sum(db.counts().values()), self.manifest["price_history"]["expected_valid"])

    def test_sigterm_while_every_loader_waits_on_a_lock_exits_130_at_once(self):
        # Bars load over two sessions (asked for: a bulk load takes one by default); the signal cancels one's
        # statement, the migrator the other's, so neither waits out database.lock_timeout_seconds (60 s) on
        # a table another session locked.
        with PgDatabase("migrlock") as db:
            first = start([ETL_MIGRATE, self.big, "--database-url", db.url, "--no-progress"],
                          env=clean_env(ETL_MIGRATE_LOADERS="2"))
            locker = None
            try:
                wait_for(lambda: (db.has_table("price_bars") and db.counts()) or not first.running(), 120,
                         message="the copy to start loading")
                locker = subprocess.Popen(["psql", "-X", "-q", "-d", db.name], stdin=subprocess.PIPE, text=True,
                                          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                locker.stdin.write("BEGIN; LOCK TABLE price_bars IN ACCESS EXCLUSIVE MODE;\n")
                locker.stdin.flush()
                waiting = ("SELECT count(DISTINCT l.pid) FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid "
                           "WHERE NOT l.granted AND l.relation = 'price_bars'::regclass "
                           "AND a.application_name LIKE 'etl-migrate-sqlite%'")
                wait_for(lambda: int(db.scalar(waiting)) >= 2 or not first.running(), 60,
                         message="both loaders to wait on the lock")
                self.assertTrue(first.running(), first.stderr_so_far())
                self.assertEqual(int(db.scalar(waiting)), 2)
                first.signal(signal.SIGTERM)
                res = first.wait(20)
            finally:
                first.kill()
                if locker is not None:
                    locker.stdin.write("ROLLBACK;\n")
                    locker.stdin.close()
                    locker.wait(30)
            self.assertEqual(res.rc, 130, res.describe())
            runs = db.runs()
            self.assertEqual((runs[-1]["status"], runs[-1]["exit_code"]), ("interrupted", "130"))
            self.assertLess(sum(db.counts().values()), self.manifest["price_history"]["expected_valid"])

    def test_sigterm_on_an_unindexed_file_exits_130_not_75(self):
        # Read in file order, every symbol is read back by the final pass; a stop must end the run as
        # interrupted, never as a database failure from a cancelled statement of a loader or a read-back.
        unindexed = self.tmp.path / "big-unindexed.db"
        if not unindexed.exists():
            unindexed_copy(self.big, unindexed)
        report = self.tmp.path / "termu.json"
        with PgDatabase("migrtermu") as db:
            first = start([ETL_MIGRATE, unindexed, "--database-url", db.url, "--no-progress", "--report", report],
                          env=clean_env(ETL_MIGRATE_LOADERS="3"))
            try:
                wait_for(lambda: (db.has_table("price_bars") and sum(db.counts().values()) > 20_000)
                         or not first.running(), 120, message="the copy to load a while")
                first.signal(signal.SIGTERM)
                res = first.wait(60)
            finally:
                first.kill()
            self.assertEqual(res.rc, 130, res.describe())
            runs = db.runs()
            self.assertEqual((runs[-1]["status"], runs[-1]["exit_code"]), ("interrupted", "130"))
            # The final read-back pass did not run: a symbol the report lists without its read-back is "not
            # read back (stopped)", never "not written" (its bars may well be loaded). (How many symbols the
            # report lists depends on when the stop came.)
            statuses = {v["status"] for v in read_report(report)["price_bars_by_symbol"].values()}
            self.assertLessEqual(statuses, {"match", "not read back (stopped)"})

    def test_an_unreachable_database_is_75(self):
        r = migrate(self.big, "--database-url", "postgresql://etl@127.0.0.1:1/none?connect_timeout=2")
        self.assertEqual(r.rc, 75, r.describe())


def unindexed_copy(src: Path, dst: Path) -> None:
    """`src` with price_history rewritten month by month (every symbol in a stretch per month) and no index
    that gives (symbol, date) order: what a file an application appended to month by month, without that
    index, reads like."""
    import re
    import shutil
    import sqlite3
    shutil.copyfile(src, dst)
    con = sqlite3.connect(dst)
    ddl = con.execute("SELECT sql FROM sqlite_schema WHERE type = 'table' AND name = 'price_history'").fetchone()[0]
    for (name,) in con.execute("SELECT name FROM sqlite_schema WHERE type = 'index' AND tbl_name = 'price_history' "
                               "AND sql IS NOT NULL").fetchall():
        con.execute(f'DROP INDEX "{name}"')
    con.execute("ALTER TABLE price_history RENAME TO price_history_old")
    # Its UNIQUE (symbol, date, interval) would be an index in (symbol, date) order too.
    con.execute(re.sub(r",\s*CONSTRAINT\s+\w+\s+UNIQUE\s*\([^)]*\)", "", ddl))
    con.execute("INSERT INTO price_history SELECT * FROM price_history_old ORDER BY substr(date, 1, 7), symbol, date")
    con.execute("DROP TABLE price_history_old")
    con.commit()
    assert not con.execute("SELECT * FROM pragma_index_list('price_history')").fetchall()
    con.close()


def read_back_line(stderr: str) -> tuple[int, int]:
    """(rows read back, reads) from the migrator's info line on its parity read-back."""
    import re
    m = re.search(r"read back for parity: (\d+) rows in (\d+) reads", stderr)
    assert m, stderr[-3000:]
    return int(m.group(1)), int(m.group(2))


class MigrateLoaders(unittest.TestCase):
    """The bar loaders (ETL_MIGRATE_LOADERS): read-back once per symbol on an unindexed file, the variable
    checked before any work, fewer sessions when the server has no more, the first error stops the others,
    memory bounded whatever their number."""

    @classmethod
    def setUpClass(cls):
        require_pg()
        cls.tmp = TempDir("migrate-loaders")
        cls.file = cls.tmp.path / "small.db"
        cls.manifest = make_stockula(cls.file, "current", "--symbols", "12", "--years", "3")

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def test_an_unindexed_file_reads_each_symbol_back_once(self):
        # Month by month every symbol comes in 36 stretches; each used to read all of the symbol's bars
        # loaded so far back again (quadratic). Now the final pass reads each (symbol, timeframe) once.
        unindexed = self.tmp.path / "unindexed.db"
        unindexed_copy(self.file, unindexed)
        with PgDatabase("migrunidx") as db:
            report = self.tmp.path / "unindexed.json"
            r = migrate(unindexed, "--database-url", db.url, "--report", report, "--max-rejects", "100%",
                        env=clean_env(ETL_MIGRATE_LOADERS="2"))
            self.assertEqual(r.rc, 0, r.describe())
            valid = self.manifest["price_history"]["expected_valid"]
            self.assertEqual(int(db.scalar("SELECT count(*) FROM price_bars")), valid)
            pairs = int(db.scalar("SELECT count(*) FROM (SELECT DISTINCT symbol, timeframe FROM price_bars) p"))
            self.assertEqual(read_back_line(r.stderr), (valid, pairs))
            statuses = {v["status"] for v in read_report(report)["price_bars_by_symbol"].values()}
            self.assertEqual(statuses, {"match"})

    def test_an_indexed_file_reads_each_symbol_back_once_too(self):
        with PgDatabase("migridx") as db:
            r = migrate(self.file, "--database-url", db.url, "--max-rejects", "100%",
                        env=clean_env(ETL_MIGRATE_LOADERS="3"))
            self.assertEqual(r.rc, 0, r.describe())
            pairs = int(db.scalar("SELECT count(*) FROM (SELECT DISTINCT symbol, timeframe FROM price_bars) p"))
            self.assertEqual(read_back_line(r.stderr),
                             (self.manifest["price_history"]["expected_valid"], pairs))

    def test_a_bad_loaders_variable_exits_78_before_anything_is_written(self):
        with PgDatabase("migrlenv") as db:
            for value in ("0", "-1", "abc", "1000", "17", "2x"):
                with self.subTest(value=value):
                    r = migrate(self.file, "--database-url", db.url, env=clean_env(ETL_MIGRATE_LOADERS=value))
                    self.assertEqual(r.rc, 78, r.describe())
                    lines = [l for l in r.stderr.splitlines() if l.strip()]
                    self.assertEqual(len(lines), 1, r.describe())
                    self.assertIn("ETL_MIGRATE_LOADERS", lines[0])
                    self.assertIn("1 to 16", lines[0])
            self.assertFalse(db.has_table("etl_runs"))
            self.assertFalse(db.has_table("price_bars"))

    def test_fewer_loaders_when_the_server_gives_fewer_sessions(self):
        if TARGET == "timescaledb":
            self.skipTest("the role below cannot create the timescaledb extension")
        # A role that may hold only the sessions a one-loader run needs: the second loader's connection
        # is refused (too many connections for role), and the run goes on with one loader.
        role = f"etl_e2e_limited_{os.getpid()}"
        # With a password: pg_virtualenv's server (CI) authenticates TCP connections by password.
        password = f"pw{os.getpid()}limited"
        psql(f"DROP ROLE IF EXISTS {role}", check=False)
        psql(f"CREATE ROLE {role} LOGIN CONNECTION LIMIT 1 PASSWORD '{password}'")
        try:
            with PgDatabase("migrconn") as db:
                psql(f"ALTER DATABASE {db.name} OWNER TO {role}")
                psql(f"ALTER SCHEMA public OWNER TO {role}", db.name)
                url = f"postgresql://{role}:{password}@/{db.name}"
                r = migrate(self.file, "--database-url", url, "--max-rejects", "100%",
                            env=clean_env(ETL_MIGRATE_LOADERS="4"))
                self.assertEqual(r.rc, 0, r.describe())
                # The refusal is quoted in the info line: the password of the URL is not.
                self.assertNotIn(password, r.stderr + r.stdout)
                info = [l for l in r.stderr.splitlines() if "refused another connection" in l]
                self.assertEqual(len(info), 1, r.describe())
                self.assertIn("1 database session, not 4", info[0])
                self.assertEqual(int(db.scalar("SELECT count(*) FROM price_bars")),
                                 self.manifest["price_history"]["expected_valid"])
                psql(f"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = '{role}'", check=False)
        finally:
            psql(f"DROP ROLE IF EXISTS {role}", check=False)

    def test_the_first_loader_error_stops_the_others_and_is_the_one_reported(self):
        if TARGET == "timescaledb":
            self.skipTest("on a hypertable the sleeping load holds the new chunks' lock, so the second symbol's "
                          "load waits on it (lock_timeout) and never reaches its error")
        # The first symbol's rows sleep in a trigger (a loader stuck on a long statement); the second's
        # fail (P0001: a bug-class error, 70). The failure must cancel the sleeping loader at once and be
        # what the run reports, not a consequence of the cancel (75).
        con = __import__("sqlite3").connect(self.file)
        first, second = [s for (s,) in con.execute(
            "SELECT DISTINCT symbol FROM price_history ORDER BY symbol LIMIT 2")]
        con.close()
        with PgDatabase("migrfirst") as db:
            rc, _, err = run(["etl", "db", "migrate", "--database-url", db.url], env=clean_env())
            self.assertEqual(rc, 0, err)
            db.raw(f"""CREATE FUNCTION e2e_stall() RETURNS trigger LANGUAGE plpgsql AS $$
                       BEGIN
                         IF NEW.symbol = '{first}' THEN PERFORM pg_sleep(600); END IF;
                         IF NEW.symbol = '{second}' THEN RAISE EXCEPTION 'e2e: {second} refused'; END IF;
                         RETURN NEW;
                       END $$;
                       CREATE TRIGGER e2e_stall BEFORE INSERT OR UPDATE ON price_bars
                         FOR EACH ROW EXECUTE FUNCTION e2e_stall();""")
            import time
            started = time.monotonic()
            r = migrate(self.file, "--database-url", db.url, env=clean_env(ETL_MIGRATE_LOADERS="2"), timeout=300)
            elapsed = time.monotonic() - started
            self.assertEqual(r.rc, 70, r.describe())
            self.assertIn(f"e2e: {second} refused", r.stderr)
            self.assertLess(elapsed, 60, "the sleeping loader was not cancelled")
            self.assertEqual((db.runs()[-1]["status"], db.runs()[-1]["exit_code"]), ("failed", "70"))

    @unittest.skipUnless(Path("/usr/bin/time").exists(), "GNU time measures the peak RSS")
    def test_memory_stays_bounded_with_sixteen_loaders(self):
        if TARGET == "timescaledb":
            self.skipTest("100 years of 30-day chunks (about 1,200) read and written by sixteen sessions at once "
                          "exhaust the server's lock table (out of shared memory, max_locks_per_transaction); the client's "
                          "memory does not depend on the server")
        # Symbols of 26,000 bars: with a piece per loader waiting and loading (2N + 1 in all) sixteen
        # loaders held the whole file in memory; the pieces in flight are now bounded in total.
        big = self.tmp.path / "long.db"
        manifest = make_stockula(big, "current", "--symbols", "24", "--years", "100")
        with PgDatabase("migrrss") as db:
            timing = self.tmp.path / "rss.time"
            r = run(["/usr/bin/time", "-f", "%M", "-o", timing, ETL_MIGRATE, big, "--database-url", db.url,
                     "--no-progress", "--max-rejects", "100%"], env=clean_env(ETL_MIGRATE_LOADERS="16"), timeout=900)
            self.assertEqual(r.rc, 0, r.describe())
            self.assertEqual(int(db.scalar("SELECT count(*) FROM price_bars")),
                             manifest["price_history"]["expected_valid"])
            peak_kib = int(timing.read_text().split()[-1])
            self.assertLess(peak_kib, 128 * 1024, f"peak RSS {peak_kib} KiB")


KEY_SQL = "SELECT count(*) FROM pg_index WHERE indrelid = 'price_bars'::regclass AND indisprimary"
BULK_LINE = "bulk load into the empty price_bars"


def with_a_key_loaded_twice(src: Path, dst: Path) -> tuple[str, str, str]:
    """An unindexed copy of `src` (read in file order) with one more row at its end: a second row of the
    first symbol's first daily bar, with another close, in a later stretch of its rows, so in another piece
    than the first. Returns (symbol, date, the new close)."""
    import sqlite3
    unindexed_copy(src, dst)
    con = sqlite3.connect(dst)
    symbol, day, low, high = con.execute(
        "SELECT symbol, date, low_price, high_price FROM price_history WHERE interval = '1d' AND low_price > 0 "
        "AND high_price > low_price ORDER BY id LIMIT 1").fetchone()
    close = round((low + high) / 2, 2)
    con.execute("INSERT INTO price_history (id, symbol, date, open_price, high_price, low_price, close_price, volume, "
                "interval) SELECT max(id) + 1, ?, ?, ?, ?, ?, ?, 1234, '1d' FROM price_history",
                (symbol, day, low, high, low, close))
    con.commit()
    con.close()
    return symbol, day, repr(close)


class MigrateBulk(unittest.TestCase):
    """Into an empty price_bars on plain PostgreSQL the bars load with its primary key dropped and the key
    is built by one sort at the end (issue 8 point 11); a key loaded twice keeps its last row as the upsert
    would; the key is back after a signal, after kill -9 (by the next run) and after a failed build (by
    the next run, the failed one not exiting 0); TimescaleDB and a table with rows keep the key in place."""

    @classmethod
    def setUpClass(cls):
        require_pg()
        cls.tmp = TempDir("migrate-bulk")
        cls.file = cls.tmp.path / "small.db"
        cls.manifest = make_stockula(cls.file, "current", "--symbols", "12", "--years", "3")
        cls.dup = cls.tmp.path / "dup.db"
        cls.dup_key = with_a_key_loaded_twice(cls.file, cls.dup)
        cls.big = cls.tmp.path / "big.db"
        cls.big_manifest = make_stockula(cls.big, "current", "--symbols", "150", "--years", "8")

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def plain_only(self):
        if TARGET == "timescaledb":
            self.skipTest("no bulk load into a hypertable")

    def assert_keyed(self, db: PgDatabase, rows: int):
        self.assertEqual(db.scalar(KEY_SQL), "1", "price_bars has its primary key")
        self.assertEqual(int(db.scalar("SELECT count(*) FROM price_bars")), rows)
        self.assertEqual(int(db.scalar("SELECT count(*) FROM (SELECT 1 FROM price_bars GROUP BY symbol, timeframe, "
                                       "ts HAVING count(*) > 1) d")), 0)

    def test_an_empty_table_loads_in_bulk_and_ends_as_the_indexed_load_does_also_with_a_key_loaded_twice(self):
        symbol, day, close = self.dup_key
        valid = self.manifest["price_history"]["expected_valid"]  # the extra row replaces one: no more rows
        with PgDatabase("migrbulk") as bulk, PgDatabase("migrindexed") as indexed:
            report = self.tmp.path / "bulk.json"
            r = migrate(self.dup, "--database-url", bulk.url, "--log-level", "info", "--report", report)
            self.assertEqual(r.rc, 0, r.describe())
            if TARGET == "timescaledb":
                self.assertNotIn(BULK_LINE, r.stderr)
                self.assertIn("primary key in place (price_bars is a TimescaleDB hypertable)", r.stderr)
            else:
                self.assertIn(BULK_LINE, r.stderr)
                self.assertIn("the primary key of price_bars built in", r.stderr)
                self.assertIn("(1 rows of a key loaded twice removed: the last loaded kept)", r.stderr)
            self.assert_keyed(bulk, valid)
            # The last row of the key won, as the upsert has it.
            self.assertEqual(bulk.scalar(f"SELECT close::text || ' ' || volume::text FROM price_bars WHERE symbol = "
                                         f"'{symbol}' AND timeframe = '1d' AND ts = '{day}'"), f"{close} 1234")
            t = tables_of(read_report(report))["price_history"]
            self.assertEqual((t["read"], t["inserted"], t["updated"]), (valid + 1, valid, 1))
            # A key the source holds twice sums both rows into the source checksum, whichever the path: its
            # symbol is a MISMATCH in both (the others match), as the indexed load's report below says too.
            statuses = {k: v["status"] for k, v in read_report(report)["price_bars_by_symbol"].items()}
            self.assertEqual({k for k, v in statuses.items() if v != "match"}, {f"{symbol} 1d"})

            # The same file into a table holding a row: the store's load with the key in place, same end.
            import sqlite3
            con = sqlite3.connect(f"file:{self.dup}?mode=ro", uri=True)
            other = con.execute("SELECT min(symbol) FROM price_history WHERE symbol <> ?", (symbol,)).fetchone()[0]
            con.close()
            first = migrate(self.dup, "--database-url", indexed.url, "--symbols", other)
            self.assertEqual(first.rc, 0, first.describe())
            report2 = self.tmp.path / "indexed.json"
            r2 = migrate(self.dup, "--database-url", indexed.url, "--log-level", "info", "--report", report2)
            self.assertEqual(r2.rc, 0, r2.describe())
            self.assertEqual({k: v["status"] for k, v in read_report(report2)["price_bars_by_symbol"].items()},
                             statuses)
            t2 = tables_of(read_report(report2))["price_history"]
            self.assertEqual((t2["inserted"] + t2["unchanged"], t2["updated"]), (valid, 1))
            self.assertNotIn(BULK_LINE, r2.stderr)
            self.assertIn("primary key in place (price_bars is a TimescaleDB hypertable)" if TARGET == "timescaledb"
                          else "primary key in place (price_bars already holds rows)", r2.stderr)
            self.assert_keyed(indexed, valid)
            strip = ("SELECT symbol, timeframe, ts::text, open::text, high::text, low::text, close::text, "
                     "coalesce(volume::text, ''), source FROM price_bars ORDER BY symbol, timeframe, ts")
            self.assertEqual(bulk.query(strip), indexed.query(strip))

    def test_the_bulk_load_reads_the_table_back_in_one_pass_while_the_key_builds(self):
        self.plain_only()
        valid = self.manifest["price_history"]["expected_valid"]
        # By default one session loads, in the order read (the file's index: the key's order), and another
        # reads back; ETL_MIGRATE_LOADERS=N loads over N, and 1 leaves no session to read back meanwhile.
        for loaders, one_pass, sessions in ((None, True, "one session"), ("2", True, "2 sessions"),
                                            ("1", False, "one session")):
            with self.subTest(loaders=loaders), PgDatabase("migrbulkread") as db:
                report = self.tmp.path / f"read{loaders}.json"
                env = clean_env(**({} if loaders is None else {"ETL_MIGRATE_LOADERS": loaders}))
                r = migrate(self.file, "--database-url", db.url, "--log-level", "info", "--report", report, env=env)
                self.assertEqual(r.rc, 0, r.describe())
                self.assertIn(f"{BULK_LINE} over {sessions}: its primary key is dropped", r.stderr)
                self.assertEqual("the table read back for parity meanwhile in one pass" in r.stderr, one_pass)
                if sessions == "one session":
                    # The heap holds the rows in the key's order, which the key's sort is quickest on.
                    out_of_order = ("SELECT count(*) FROM (SELECT (symbol, timeframe, ts) < lag((symbol, timeframe, ts)) "
                                    "OVER (ORDER BY ctid) AS back FROM price_bars) d WHERE back")
                    self.assertEqual(db.scalar(out_of_order), "0")
                self.assert_keyed(db, valid)
                by_symbol = read_report(report)["price_bars_by_symbol"]
                self.assertEqual(read_back_line(r.stderr), (valid, len(by_symbol)))
                self.assertEqual({v["status"] for v in by_symbol.values()}, {"match"})
                self.assertEqual(sum(v["rows"] for v in by_symbol.values()), valid)

    def test_a_server_idle_session_timeout_spares_the_session_that_waits_to_read_back(self):
        # The second session waits the whole load to read the table back while the key builds: a server
        # that ends idle sessions (idle_session_timeout) ended it, and the run exited 75 with every row loaded.
        self.plain_only()
        with PgDatabase("migrbulkidle") as db:
            db.raw(f"ALTER DATABASE {db.name} SET idle_session_timeout = '200ms'")
            r = migrate(self.big, "--database-url", db.url, "--log-level", "info")
            self.assertEqual(r.rc, 0, r.describe())
            self.assertIn("the table read back for parity meanwhile in one pass", r.stderr)
            self.assert_keyed(db, self.big_manifest["price_history"]["expected_valid"])

    def test_kill_9_during_a_bulk_load_then_a_resume_builds_the_key_with_exact_parity(self):
        self.plain_only()
        total = self.big_manifest["price_history"]["expected_valid"]
        with PgDatabase("migrbulkkill") as db:
            first = start([ETL_MIGRATE, self.big, "--database-url", db.url, "--no-progress"], env=clean_env())
            try:
                wait_for(lambda: (db.has_table("price_bars") and sum(db.counts().values()) > 20_000)
                         or not first.running(), 120, message="the bulk load to load a while")
                # Frozen at once, so that a fast load cannot finish before the checks and the kill.
                first.signal(signal.SIGSTOP)
                self.assertTrue(first.running(), first.stderr_so_far())
                self.assertEqual(db.scalar(KEY_SQL), "0", "the key is dropped during the bulk load")
                first.signal(signal.SIGKILL)
                first.wait(60)
            finally:
                first.kill()
            self.assertEqual(db.scalar(KEY_SQL), "0")
            partial = int(db.scalar("SELECT count(*) FROM price_bars"))
            self.assertLess(partial, total, "killed before the end")
            wait_for(lambda: db.advisory_locks() == 0, 30, message="the killed run's lock to go")
            report = self.tmp.path / "resume.json"
            r = migrate(self.big, "--database-url", db.url, "--log-level", "info", "--report", report)
            self.assertEqual(r.rc, 0, r.describe())
            self.assertIn("price_bars had no primary key (an etl-migrate-sqlite bulk load was interrupted): restored "
                          "it over the rows there", r.stderr)
            self.assertIn("primary key in place (price_bars already holds rows)", r.stderr)
            self.assert_keyed(db, total)
            t = tables_of(read_report(report))["price_history"]
            self.assertEqual((t["inserted"], t["unchanged"]), (total - partial, partial))
            statuses = {v["status"] for v in read_report(report)["price_bars_by_symbol"].values()}
            self.assertEqual(statuses, {"match"})

    def test_sigterm_during_a_bulk_load_exits_130_with_the_key_built_over_the_rows_loaded(self):
        self.plain_only()
        with PgDatabase("migrbulkterm") as db:
            first = start([ETL_MIGRATE, self.big, "--database-url", db.url, "--no-progress", "--log-level", "info"],
                          env=clean_env())
            try:
                wait_for(lambda: (db.has_table("price_bars") and sum(db.counts().values()) > 20_000)
                         or not first.running(), 120, message="the bulk load to load a while")
                # Frozen at once, so that a fast load cannot finish before the check; the TERM waits for
                # the CONT.
                first.signal(signal.SIGSTOP)
                self.assertTrue(first.running(), first.stderr_so_far())
                self.assertEqual(db.scalar(KEY_SQL), "0", "the key is dropped during the bulk load")
                first.signal(signal.SIGTERM)
                first.signal(signal.SIGCONT)
                res = first.wait(60)
            finally:
                first.kill()
            self.assertEqual(res.rc, 130, res.describe())
            self.assertIn("the bulk load of price_bars ended early: its primary key is built again over the rows "
                          "loaded", res.stderr)
            self.assert_keyed(db, int(db.scalar("SELECT count(*) FROM price_bars")))
            self.assertLess(int(db.scalar("SELECT count(*) FROM price_bars")),
                            self.big_manifest["price_history"]["expected_valid"])
            self.assertGreater(int(db.scalar("SELECT count(*) FROM price_bars")), 20_000,
                               "the rows loaded before the signal are kept, under the key")

    def test_a_session_holding_price_bars_sends_the_load_down_the_indexed_path_at_once(self):
        self.plain_only()
        valid = self.manifest["price_history"]["expected_valid"]
        with PgDatabase("migrbulkheld") as db:
            r = migrate(self.file, "--database-url", db.url, "--dry-run")  # the schema, the table empty
            self.assertEqual(r.rc, 0, r.describe())
            # Another session's open transaction that read price_bars (its lock lasts as long as it does).
            holder = subprocess.Popen(["psql", "-X", "-q", "-d", db.name], stdin=subprocess.PIPE,
                                      stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, text=True)
            try:
                holder.stdin.write("BEGIN; SELECT count(*) FROM price_bars;\n")
                holder.stdin.flush()
                held = ("SELECT count(*) FROM pg_locks l JOIN pg_stat_activity a USING (pid) WHERE "
                        "l.relation = 'price_bars'::regclass AND a.state = 'idle in transaction'")
                for _ in range(200):
                    if db.scalar(held) != "0":
                        break
                    time.sleep(0.05)
                self.assertNotEqual(db.scalar(held), "0", "the holding session did not start")
                started = time.monotonic()
                r = migrate(self.file, "--database-url", db.url, "--log-level", "info")
                self.assertEqual(r.rc, 0, r.describe())
                self.assertLess(time.monotonic() - started, 50, "waited for the lock, not the short bulk wait")
                self.assertNotIn(BULK_LINE, r.stderr)
                self.assertIn("primary key in place (another session holds a lock on price_bars: see pg_locks)",
                              r.stderr)
                self.assert_keyed(db, valid)
            finally:
                holder.stdin.close()
                holder.wait(timeout=30)

    def test_a_failed_key_build_does_not_exit_0_and_the_next_run_builds_the_key(self):
        self.plain_only()
        if psql("SELECT rolsuper FROM pg_roles WHERE rolname = current_user").strip() != "t":
            self.skipTest("an event trigger needs a superuser")
        valid = self.manifest["price_history"]["expected_valid"]
        with PgDatabase("migrbulkfail") as db:
            # The schema first (the table empty), then an event trigger that fails the key's build.
            r = migrate(self.file, "--database-url", db.url, "--dry-run")
            self.assertEqual(r.rc, 0, r.describe())
            db.raw("CREATE FUNCTION no_key() RETURNS event_trigger LANGUAGE plpgsql AS $$ BEGIN "
                   "IF current_query() ILIKE '%ADD CONSTRAINT price_bars_pkey%' THEN "
                   "RAISE EXCEPTION 'no key today'; END IF; END $$; "
                   "CREATE EVENT TRIGGER no_key ON ddl_command_end EXECUTE FUNCTION no_key()")
            r = migrate(self.file, "--database-url", db.url, "--log-level", "info")
            self.assertNotEqual(r.rc, 0, r.describe())
            self.assertIn("no key today", r.stderr)
            self.assertIn("price_bars is left without its primary key", r.stderr)
            self.assertEqual(db.scalar(KEY_SQL), "0")
            dry = migrate(self.file, "--database-url", db.url, "--dry-run", "--log-level", "info")
            self.assertEqual(dry.rc, 0, dry.describe())
            self.assertIn("price_bars has no primary key", dry.stderr)
            self.assertEqual(db.scalar(KEY_SQL), "0", "a dry run writes nothing")
            db.raw("DROP EVENT TRIGGER no_key")
            r = migrate(self.file, "--database-url", db.url, "--log-level", "info")
            self.assertEqual(r.rc, 0, r.describe())
            self.assertEqual(r.stderr.count("price_bars had no primary key"), 1)
            self.assert_keyed(db, valid)


if __name__ == "__main__":
    unittest.main()
