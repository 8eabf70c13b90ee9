"""etl runs, etl status and etl db prune on SQLite and PostgreSQL: the run list and its filters, status exit
0/1 (jobs overdue, data stale, --max-age), prune counts and cascades, the once-a-day prune of
runs.retention_days, and bad flags (64). The history is written with SQL at pinned instants; the
binaries read it with ETL_NOW pinned to match."""
import fcntl
import sqlite3
import unittest

from harness import PgDatabase, TempDir, clean_env, require_pg, run

IN_SESSION = "2025-03-14T15:00:00Z"  # Friday, the NYSE open since 13:30Z

# (id, job, status, exit_code, started, finished, symbols_ok, symbols_failed, rows_inserted, error)
RUNS = [
    (1, "etl-historical", "success", 0, "2025-03-13T21:35:00Z", "2025-03-13T21:36:05Z", 2, 0, 40, None),
    (2, "etl-hourly", "success", 0, "2025-03-14T14:40:00Z", "2025-03-14T14:40:30Z", 2, 0, 2, None),
    (3, "etl-hourly", "failed", 75, "2025-03-14T14:50:00Z", "2025-03-14T14:50:01Z", 0, 0, 0,
     "database unreachable"),
    (4, "etl-latest", "success", 0, "2025-03-14T14:58:00Z", "2025-03-14T14:58:02Z", 2, 0, 2, None),
    (5, "etl-latest", "partial", 1, "2025-03-14T14:59:00Z", "2025-03-14T14:59:03Z", 1, 1, 1, "MSFT: HTTP 404"),
    (6, "etl-historical", "success", 0, "2025-01-10T21:35:00Z", "2025-01-10T21:40:00Z", 2, 0, 500, None),
    (7, "etl-hourly", "running", None, "2025-01-05T15:00:00Z", None, 0, 0, 0, None),
]
# Bars: the oldest latest daily bar is of 2025-03-12 (MSFT), the oldest latest hourly one 2025-03-13T19:00Z.
BARS = [("AAPL", "1d", "2025-03-13T00:00:00Z"), ("MSFT", "1d", "2025-03-12T00:00:00Z"),
        ("AAPL", "1h", "2025-03-14T14:00:00Z"), ("MSFT", "1h", "2025-03-13T19:00:00Z")]


def data_rows(stdout):
    """The id column of `etl runs` (header and the '(no runs)' line skipped)."""
    return [int(line.split()[0]) for line in stdout.splitlines()[1:] if line.split() and line.split()[0].isdigit()]


class RunsStatusBase:
    """The tests; a subclass gives the store (url, sql, scalar)."""

    def setUp(self):
        rc, _, err = run(["etl", "db", "migrate", "--database-url", self.url], env=clean_env())
        self.assertEqual(rc, 0, err)
        self.sql("INSERT INTO assets (symbol, asset_class) VALUES ('AAPL', 'stock'), ('MSFT', 'stock')")
        for sym, tf, ts in BARS:
            self.sql(f"INSERT INTO price_bars (symbol, timeframe, ts, open, high, low, close, volume, source) "
                     f"VALUES ('{sym}', '{tf}', '{ts}', 10, 11, 9, 10.5, 100, 'test')")
        for (i, job, status, code, started, finished, ok, failed, rows, error) in RUNS:
            self.insert_run(i, job, status, code, started, finished, ok, failed, rows, error)
        for reason in ("bad high", "bad low"):
            self.sql(f"INSERT INTO rejected_rows (run_id, source, symbol, raw, reason) "
                     f"VALUES (6, 'polygon', 'AAPL', '{{}}', '{reason}')")
        self.sql("INSERT INTO rejected_rows (run_id, source, symbol, raw, reason) "
                 "VALUES (1, 'polygon', 'AAPL', '{}', 'kept')")
        self.sql("INSERT INTO quality_runs (run_id, status) VALUES (6, 'pass')")
        self.sql("INSERT INTO quality_results (quality_run_id, check_name, level, status) "
                 "SELECT id, 'ohlc', 'fail', 'pass' FROM quality_runs")

    def insert_run(self, i, job, status, code, started, finished, ok, failed, rows, error):
        q = lambda v: "NULL" if v is None else f"'{v}'"  # noqa: E731
        self.sql(f"INSERT INTO etl_runs (id, job, shard, started_at, finished_at, status, exit_code, symbols_ok, "
                 f"symbols_failed, rows_inserted, error) VALUES ({i}, '{job}', '0/1', '{started}', {q(finished)}, "
                 f"'{status}', {q(code)}, {ok}, {failed}, {rows}, {q(error)})")

    def etl(self, *args, now=IN_SESSION, **env):
        return run(["etl", *args, "--database-url", self.url], env=clean_env(ETL_NOW=now, **env))

    # ---- etl runs ----

    def test_runs_lists_newest_first_with_every_column(self):
        res = self.etl("runs")
        self.assertEqual(res.rc, 0, res.describe())
        self.assertEqual(data_rows(res.stdout), [5, 4, 3, 2, 1, 6, 7])
        lines = {int(line.split()[0]): line for line in res.stdout.splitlines()[1:]}
        self.assertEqual(lines[1].split(), ["1", "etl-historical", "0/1", "2025-03-13T21:35:00Z", "1m05s", "success",
                                           "0", "2/0", "40/0/0"])
        self.assertEqual(lines[3].split()[5:9], ["failed", "75", "0/0", "0/0/0"])
        self.assertTrue(lines[3].endswith("database unreachable"), lines[3])
        self.assertTrue(lines[5].endswith("MSFT: HTTP 404"), lines[5])
        self.assertEqual(lines[7].split()[4:7], ["running", "running", "-"])

    def test_runs_filters(self):
        for args, ids in [(["--job", "hourly"], [3, 2, 7]), (["--job", "etl-latest"], [5, 4]),
                          (["--failed"], [5, 3]), (["--last", "2"], [5, 4]),
                          (["--job", "latest", "--failed"], [5]), (["--job", "nope"], [])]:
            res = self.etl("runs", *args)
            self.assertEqual(res.rc, 0, res.describe())
            self.assertEqual(data_rows(res.stdout), ids, args)
        self.assertIn("(no runs)", self.etl("runs", "--job", "nope").stdout)

    def test_bad_flags_are_usage_errors(self):
        for args in (["runs", "--last", "0"], ["runs", "--last", "x"], ["runs", "--bogus"],
                     ["status", "--max-age", "hourly"], ["status", "--max-age", "hourly=5q"],
                     ["db", "prune"], ["db", "prune", "--runs-older-than", "5x"],
                     ["db", "prune", "--runs-older-than", "0d"]):
            res = self.etl(*args)
            self.assertEqual(res.rc, 64, res.describe())
        self.assertEqual(self.scalar("SELECT COUNT(*) FROM etl_runs"), "7")

    # ---- etl status ----

    def test_status_healthy(self):
        res = self.etl("status")
        self.assertEqual(res.rc, 0, res.describe())
        self.assertIn("status: healthy", res.stdout)
        line = next(x for x in res.stdout.splitlines() if x.startswith("etl-hourly"))
        self.assertEqual(line.split()[1:3], ["2025-03-14T14:40:30Z", "19m30s"])
        line = next(x for x in res.stdout.splitlines() if x.startswith("1d "))
        self.assertEqual(line.split(), ["1d", "2025-03-12T00:00:00Z", "2025-03-12T00:00:00Z", "ok"])
        line = next(x for x in res.stdout.splitlines() if x.startswith("1h "))
        self.assertEqual(line.split(), ["1h", "2025-03-13T19:00:00Z", "2025-03-13T13:00:00Z", "ok"])

    def test_status_overdue_jobs_exit_1(self):
        res = self.etl("status", now="2025-03-14T15:20:00Z")
        self.assertEqual(res.rc, 1, res.describe())
        self.assertIn("status: UNHEALTHY (at 2025-03-14T15:20:00Z): etl-hourly overdue, etl-latest overdue",
                      res.stdout)
        # Looser limits (latest not checked) make it healthy again.
        res = self.etl("status", "--max-age", "hourly=1h", "--max-age", "etl-latest=0", now="2025-03-14T15:20:00Z")
        self.assertEqual(res.rc, 0, res.describe())

    def test_status_stale_data_exit_1(self):
        # Monday after the close: Friday is the last completed session, so daily bars of Thursday or
        # later are needed, hourly bars of Friday; the session-bound jobs are not judged.
        res = self.etl("status", now="2025-03-17T21:00:00Z")
        self.assertEqual(res.rc, 1, res.describe())
        self.assertIn("): 1d bars stale, 1h bars stale", res.stdout)
        self.assertIn("ok (market closed)", res.stdout)
        res = self.etl("status", "--no-data", now="2025-03-17T21:00:00Z")
        self.assertEqual(res.rc, 0, res.describe())

    def test_status_never_ran_is_overdue_only_when_asked(self):
        res = self.etl("status", "--max-age", "validate=1d")
        self.assertEqual(res.rc, 1, res.describe())
        self.assertIn("etl-validate overdue", res.stdout)
        self.sql("DELETE FROM etl_runs WHERE job = 'etl-latest'")
        res = self.etl("status")
        self.assertEqual(res.rc, 0, res.describe())
        self.assertIn("never ran (not judged)", res.stdout)

    # ---- prune ----

    def test_prune_counts_and_cascades(self):
        res = self.etl("db", "prune", "--runs-older-than", "30d", "--dry-run")
        self.assertEqual(res.rc, 0, res.describe())
        self.assertIn("dry run: would delete runs started before 2025-02-12T15:00:00Z: 1 etl_runs, 2 rejected_rows, "
                      "1 quality_runs", res.stdout)
        self.assertEqual(self.scalar("SELECT COUNT(*) FROM etl_runs"), "7")
        res = self.etl("db", "prune", "--runs-older-than", "30d")
        self.assertEqual(res.rc, 0, res.describe())
        self.assertIn("deleted runs started before 2025-02-12T15:00:00Z: 1 etl_runs, 2 rejected_rows, 1 quality_runs",
                      res.stdout)
        # Run 6 and the rows that hang on it are gone; the running run 7 stays; the prune is recorded.
        self.assertEqual(self.scalar("SELECT COUNT(*) FROM etl_runs WHERE id = 6"), "0")
        self.assertEqual(self.scalar("SELECT COUNT(*) FROM etl_runs WHERE id = 7"), "1")
        self.assertEqual(self.scalar("SELECT COUNT(*) FROM rejected_rows"), "1")
        self.assertEqual(self.scalar("SELECT COUNT(*) FROM quality_runs"), "0")
        self.assertEqual(self.scalar("SELECT COUNT(*) FROM quality_results"), "0")
        self.assertIn(f"1 quality_runs, {self.migration_rows} migration_tables rows", res.stdout)
        if self.migration_rows:
            self.assertEqual(self.scalar("SELECT COUNT(*) FROM migration_tables"), "0")
        self.assertEqual(self.scalar("SELECT arguments FROM etl_runs WHERE job = 'etl-prune'"),
                         "--runs-older-than 30d")
        res = self.etl("db", "prune", "--runs-older-than", "30d")
        self.assertIn(": 0 etl_runs, 0 rejected_rows, 0 quality_runs", res.stdout)
        # A shorter age reaches run 1 (and its reject) too.
        res = self.etl("db", "prune", "--runs-older-than", "12h")
        self.assertIn(": 1 etl_runs, 1 rejected_rows, 0 quality_runs", res.stdout)
        self.assertEqual(self.scalar("SELECT COUNT(*) FROM rejected_rows"), "0")

    def test_retention_days_prunes_at_most_once_a_day(self):
        def historical(now):
            res = self.etl("historical", "7D", "AAPL", "--mock", now=now, ETL_RUNS_RETENTION_DAYS="30")
            self.assertEqual(res.rc, 0, res.describe())

        historical("2025-03-14T21:00:00Z")
        self.assertEqual(self.scalar("SELECT COUNT(*) FROM etl_runs WHERE id = 6"), "0")
        self.assertEqual(self.scalar("SELECT COUNT(*) FROM etl_runs WHERE job = 'etl-prune'"), "1")
        self.insert_run(100, "etl-historical", "success", 0, "2025-01-11T21:35:00Z", "2025-01-11T21:36:00Z",
                        1, 0, 1, None)
        historical("2025-03-15T20:59:59Z")  # within 24 h of the last prune: nothing pruned
        self.assertEqual(self.scalar("SELECT COUNT(*) FROM etl_runs WHERE id = 100"), "1")
        self.assertEqual(self.scalar("SELECT COUNT(*) FROM etl_runs WHERE job = 'etl-prune'"), "1")
        historical("2025-03-15T21:00:01Z")
        self.assertEqual(self.scalar("SELECT COUNT(*) FROM etl_runs WHERE id = 100"), "0")
        self.assertEqual(self.scalar("SELECT COUNT(*) FROM etl_runs WHERE job = 'etl-prune'"), "2")
        # Without the setting nothing is pruned.
        self.insert_run(500, "etl-historical", "success", 0, "2025-01-11T21:35:00Z", "2025-01-11T21:36:00Z",
                        1, 0, 1, None)
        res = self.etl("historical", "7D", "AAPL", "--mock", now="2025-03-20T21:00:00Z")
        self.assertEqual(res.rc, 0, res.describe())
        self.assertEqual(self.scalar("SELECT COUNT(*) FROM etl_runs WHERE id = 500"), "1")


class RunsStatusSqlite(RunsStatusBase, unittest.TestCase):
    migration_rows = 0  # migration_tables is PostgreSQL's only
    def setUp(self):
        self.tmp = TempDir("runs")
        self.path = self.tmp.path / "etl.db"
        self.url = f"sqlite:{self.path}"
        super().setUp()

    def tearDown(self):
        self.tmp.cleanup()

    def test_daily_prune_skipped_while_another_process_prunes(self):
        # The lock k_prune_job (a flock beside the database file) held elsewhere: the job does not prune.
        lock = open(f"{self.path}.etl-prune.lock", "w")
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            res = self.etl("historical", "7D", "AAPL", "--mock", now="2025-03-14T21:00:00Z",
                           ETL_RUNS_RETENTION_DAYS="30")
            self.assertEqual(res.rc, 0, res.describe())
            self.assertEqual(self.scalar("SELECT COUNT(*) FROM etl_runs WHERE id = 6"), "1")
            self.assertEqual(self.scalar("SELECT COUNT(*) FROM etl_runs WHERE job = 'etl-prune'"), "0")
        finally:
            lock.close()
        res = self.etl("historical", "7D", "AAPL", "--mock", now="2025-03-14T21:00:00Z", ETL_RUNS_RETENTION_DAYS="30")
        self.assertEqual(res.rc, 0, res.describe())
        self.assertEqual(self.scalar("SELECT COUNT(*) FROM etl_runs WHERE id = 6"), "0")

    def test_missing_file_is_66_and_not_created(self):
        missing = self.tmp.path / "missing.db"
        for cmd in ("runs", "status"):
            res = run(["etl", cmd, "--database-url", f"sqlite:{missing}"], env=clean_env(ETL_NOW=IN_SESSION))
            self.assertEqual(res.rc, 66, res.describe())
            self.assertIn(f"no database at {missing}", res.stderr)
        self.assertFalse(missing.exists())

    def sql(self, statement):
        con = sqlite3.connect(self.path, timeout=30)
        try:
            con.execute("PRAGMA foreign_keys = ON")
            con.execute(statement)
            con.commit()
        finally:
            con.close()

    def scalar(self, query):
        con = sqlite3.connect(self.path, timeout=30)
        try:
            row = con.execute(query).fetchone()
            return None if row is None else str(row[0])
        finally:
            con.close()


class RunsStatusPostgres(RunsStatusBase, unittest.TestCase):
    migration_rows = 1
    def setUp(self):
        require_pg()
        self.db = PgDatabase("runs")
        self.url = self.db.url
        super().setUp()
        self.sql("SELECT setval('etl_runs_id_seq', 1000)")
        self.sql("INSERT INTO migration_tables (run_id, source_table, source_file, layout, rows_read, rows_inserted, "
                 "rows_updated, rows_unchanged, rows_rejected, rows_skipped) "
                 "VALUES (6, 'price_history', 'stockula.db', 'stockula', 1, 1, 0, 0, 0, 0)")

    def tearDown(self):
        self.db.drop()

    def sql(self, statement):
        self.db.raw(statement)

    def scalar(self, query):
        return self.db.scalar(query)


if __name__ == "__main__":
    unittest.main()
