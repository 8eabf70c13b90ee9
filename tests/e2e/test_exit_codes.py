"""Exit codes (SPEC section 5) that the other files do not cover: 64 usage, 75 temporary (database
unreachable, lock held), 78 configuration, 130 interrupted. 0/1/65/69 are in test_faults/test_validation;
66 belongs to etl-migrate-sqlite; 70 is a bug by definition."""
import os
import signal
import sqlite3
import unittest
from datetime import date

from harness import (plain_lines, WINDOW_7D, ServerTestCase, TempDir, all_days, clean_env, run, sqlite_query, sqlite_runs, start,
                     wait_for, weekdays)

N_STOCK = len(weekdays(*WINDOW_7D))


class UsageErrors(unittest.TestCase):
    """64: nothing is fetched or written."""

    def setUp(self):
        self.tmp = TempDir("usage")
        self.addCleanup(self.tmp.cleanup)
        self.db = self.tmp.path / "etl.db"

    def hist(self, *args):
        return run(["etl-historical", *args, "--mock", "--database-url", f"sqlite:{self.db}"], cwd=self.tmp.path)

    def assert_usage(self, r, *mentions):
        self.assertEqual(r.rc, 64, r.describe())
        lines = plain_lines(r.stderr)
        self.assertEqual(len(lines), 1, f"expected a one-line message:\n{r.describe()}")
        for m in mentions:
            self.assertIn(m, lines[0])
        self.assertEqual(r.stdout, "")
        if self.db.exists():
            for table in ("price_bars", "assets"):
                try:
                    rows = sqlite_query(self.db, f"SELECT count(*) FROM {table}")
                except sqlite3.OperationalError:
                    continue
                self.assertEqual(rows, [(0,)], f"{table} written by a usage error")

    def test_unknown_range(self):
        self.assert_usage(self.hist("2W", "AAPL"), "2W")

    def test_missing_range(self):
        r = self.hist()
        self.assertEqual(r.rc, 64, r.describe())

    def test_malformed_symbols(self):
        for sym in ("AA PL", "AAPL$", "AAPL;DROP", "", "X" * 40):
            with self.subTest(symbol=sym):
                self.assert_usage(self.hist("7D", "MSFT", sym))

    def test_bad_shard(self):
        for shard in ("3/2", "2/2", "-1/2", "1/0", "a/b", "1"):
            with self.subTest(shard=shard):
                self.assert_usage(self.hist("7D", "AAPL", "--shard", shard), shard)

    def test_bad_shard_from_environment(self):
        r = run(["etl-historical", "7D", "AAPL", "--mock", "--database-url", f"sqlite:{self.db}"],
                cwd=self.tmp.path, env=clean_env(JOB_COMPLETION_INDEX="5", ETL_SHARD_COUNT="2"))
        self.assert_usage(r)

    def test_unknown_flag(self):
        self.assert_usage(self.hist("7D", "AAPL", "--bogus-flag"), "--bogus-flag")

    def test_bad_dates_and_class(self):
        self.assert_usage(self.hist("7D", "AAPL", "--from", "2025-13-01"), "2025-13-01")
        self.assert_usage(self.hist("7D", "AAPL", "--from", "2025-03-14", "--to", "2025-03-01"))
        self.assert_usage(self.hist("7D", "AAPL", "--class", "bond"), "bond")

    def test_front_command_usage_errors(self):
        r = run(["etl", "assets", "add", "AA PL", "--database-url", f"sqlite:{self.db}"], cwd=self.tmp.path)
        self.assertEqual(r.rc, 64, r.describe())
        r = run(["etl", "assets"], cwd=self.tmp.path)
        self.assertEqual(r.rc, 64, r.describe())

    def test_nothing_to_do_is_success(self):
        r = self.hist("7D")
        self.assertEqual(r.rc, 0, r.describe())
        self.assertEqual(sqlite_runs(self.db)[-1]["status"], "success")


class ConfigErrors(ServerTestCase):
    """78: bad TOML, unknown keys, missing or misplaced API keys, bad values. One line, no fetch."""

    tmp_tag = "config"
    api_key = "pk_e2e_cfg"

    def hist(self, *args, env=None):
        return run(["etl-historical", "7D", "AAPL", *args, "--database-url", f"sqlite:{self.db}"],
                   cwd=self.tmp.path, env=env or self.env())

    def toml(self, text):
        p = self.tmp.path / "etl.toml"
        p.write_text(text)
        return str(p)

    def assert_config_error(self, r, *mentions):
        self.assertEqual(r.rc, 78, r.describe())
        # One line "etl-historical: ..." says what to fix (a run summary may precede it).
        lines = [l for l in plain_lines(r.stderr) if l.startswith("etl-historical:")]
        self.assertEqual(len(lines), 1, f"expected a one-line message:\n{r.describe()}")
        for m in mentions:
            self.assertIn(m, lines[0])
        self.assertEqual(self.server.requests(), [], "a configuration error must stop before fetching")

    def test_bad_toml(self):
        path = self.toml("[fetch\ntimeout_seconds = \n")
        self.assert_config_error(self.hist("--config", path), path)

    def test_unknown_key_suggests(self):
        path = self.toml("[fetch]\ntimeout_secnds = 5\n")
        r = self.hist("--config", path)
        self.assert_config_error(r, "fetch.timeout_secnds", "did you mean", "fetch.timeout_seconds")

    def test_api_key_in_toml_is_refused(self):
        path = self.toml("[providers.polygon]\napi_key = \"pk_in_a_file_0b7e\"\n")
        r = self.hist("--config", path)
        self.assert_config_error(r, "POLYGON_API_KEY")
        self.assertNotIn("pk_in_a_file_0b7e", r.stderr + r.stdout)

    def test_missing_config_file(self):
        missing = str(self.tmp.path / "nope.toml")
        self.assert_config_error(self.hist("--config", missing), missing)
        r = self.hist(env=clean_env(POLYGON_API_KEY="k", ETL_CONFIG=missing, **self.server.env()))
        self.assert_config_error(r, missing)

    def test_missing_polygon_key(self):
        r = self.hist(env=clean_env(**self.server.env()))
        self.assert_config_error(r, "POLYGON_API_KEY")
        # With --mock no key is needed.
        r = self.hist("--mock", env=clean_env(**self.server.env()))
        self.assertEqual(r.rc, 0, r.describe())

    def test_bad_values(self):
        for env_extra, mention in (({"ETL_FETCH_MAX_RETRIES": "lots"}, "fetch.max_retries"),
                                   ({"ETL_ROUTING_STOCK": "bloomberg"}, "bloomberg"),
                                   ({"ETL_VALIDATION_MAX_REJECTED_RATIO": "2"}, "validation.max_rejected_ratio"),
                                   ({"ETL_LOG_FORMAT": "xml"}, "xml")):
            with self.subTest(env=env_extra):
                r = self.hist(env=clean_env(POLYGON_API_KEY="k", **self.server.env(), **env_extra))
                self.assert_config_error(r, mention)

    def test_good_toml_is_used(self):
        path = self.toml("# comment\n[routing]\nstock = \"mock\"\n[fetch]\nmax_retries = 1\n")
        r = self.hist("--config", path, env=clean_env(**self.server.env()))
        self.assertEqual(r.rc, 0, r.describe())
        self.assertEqual(sqlite_query(self.db, "SELECT DISTINCT source FROM price_bars"), [("mock",)])
        show = run(["etl", "config", "show", "--config", path], cwd=self.tmp.path, env=clean_env())
        self.assertEqual(show.rc, 0, show.describe())
        line = next(l for l in show.stdout.splitlines() if l.startswith("routing.stock"))
        self.assertIn("mock", line)
        self.assertIn(path, line, "config show names the origin")
        line = next(l for l in show.stdout.splitlines() if l.startswith("fetch.max_retries"))
        self.assertIn("env:ETL_FETCH_MAX_RETRIES", line, "the environment overrides the file")


class DatabaseUnreachable(unittest.TestCase):
    def test_unreachable_postgres_is_75(self):
        with TempDir("unreach") as d:
            for url in ("postgresql://127.0.0.1:1/etl", "postgresql://etl@127.0.0.1:1/etl?connect_timeout=5"):
                with self.subTest(url=url):
                    r = run(["etl-historical", "7D", "AAPL", "--mock", "--database-url", url], cwd=d)
                    self.assertEqual(r.rc, 75, r.describe())
                    lines = plain_lines(r.stderr)
                    self.assertEqual(len(lines), 1, r.describe())
                    r = run(["etl", "db", "migrate", "--database-url", url], cwd=d)
                    self.assertEqual(r.rc, 75, r.describe())

    def test_unwritable_sqlite_is_not_success(self):
        with TempDir("unwritable") as d:
            r = run(["etl-historical", "7D", "AAPL", "--mock", "--database-url",
                     f"sqlite:{d}/no/such/dir/etl.db"], cwd=d)
            self.assertIn(r.rc, (66, 75, 78), r.describe())


class LockAndSignals(ServerTestCase):
    """75 when the same job+shard is already running; 130 on SIGTERM/SIGINT with no half symbol."""

    server_options = dict(latency_ms=1500)
    pg_tag = "lock"
    api_key = "pk_e2e_lock"

    def test_second_copy_exits_75_while_first_finishes(self):
        args = ["etl-historical", "7D", "AAPL", "MSFT", "--database-url", self.db.url]
        # One transfer at a time against a 1.5 s server: the first copy runs for about 3 s.
        first = start(args, env=self.env(ETL_FETCH_CONCURRENCY="1"))
        try:
            wait_for(lambda: self.db.advisory_locks() or not first.running(), 60,
                     message="the first run to take its lock")
            self.assertTrue(first.running(), first.stderr_so_far())
            second = run(args, env=self.env(), timeout=60)
            self.assertEqual(second.rc, 75, second.describe())
            lines = plain_lines(second.stderr)
            self.assertEqual(len(lines), 1, second.describe())
            self.assertIn("another", lines[0].lower())
            # Another shard of the same job is a different writer: not blocked.
            other = run(args + ["--shard", "0/2"], env=self.env(), timeout=60)
            self.assertNotEqual(other.rc, 75, other.describe())
            self.assertEqual(other.rc, 0, other.describe())
            res = first.wait(120)
        finally:
            first.kill()
        self.assertEqual(res.rc, 0, res.describe())
        self.assertEqual(self.db.counts(), {"AAPL": N_STOCK, "MSFT": N_STOCK})
        statuses = [(r["shard"], r["status"], r["exit_code"]) for r in self.db.runs()]
        self.assertIn(("0/1", "success", "0"), statuses)
        self.assertNotIn("running", [s for _, s, _ in statuses])
        # The lock is released at exit: the same command now runs.
        again = run(args, env=self.env(), timeout=60)
        self.assertEqual(again.rc, 0, again.describe())

    def test_sigterm_during_retry_backoff(self):
        """A long Retry-After must not hold a SIGTERM: the run stops, records itself, exits 130."""
        self.server.set_rules([{"match": "/ticker/AAPL/", "mode": "429", "retry_after": 600}])
        args = ["etl-historical", "7D", "AAPL", "--database-url", self.db.url]
        job = start(args, env=self.env(ETL_FETCH_MAX_RETRIES="5", ETL_FETCH_BACKOFF_MAX_MS="600000",
                                       ETL_FETCH_MAX_RETRY_AFTER_SECONDS="600"))
        try:
            wait_for(lambda: self.server.requests("polygon") or not job.running(), 60, message="the first 429")
            self.assertTrue(job.running(), job.stderr_so_far())
            job.signal(signal.SIGTERM)
            res = job.wait(60)
        finally:
            job.kill()
        self.assertEqual(res.rc, 130, res.describe())
        self.assertEqual(self.db.counts(), {})
        runs = self.db.runs()
        self.assertEqual((runs[-1]["status"], runs[-1]["exit_code"]), ("interrupted", "130"))
        self.assertEqual(len(self.server.requests("polygon")), 1)

    def test_sqlite_second_copy_exits_75(self):
        with TempDir("lock-sqlite") as d:
            args = ["etl-historical", "7D", "AAPL", "MSFT", "--database-url", f"sqlite:{d}/etl.db",
                    "--log-format", "json"]
            first = start(args, env=self.env(ETL_FETCH_CONCURRENCY="1"))
            try:
                # "fetching ..." is logged once the lock is held; then 2 x 1.5 s of fetching follow.
                wait_for(lambda: "fetching" in first.stderr_so_far() or not first.running(), 60,
                         message="the first run to start fetching")
                self.assertTrue(first.running(), first.stderr_so_far())
                second = run(args, env=self.env(), timeout=60)
                res = first.wait(120)
            finally:
                first.kill()
            self.assertEqual(second.rc, 75, second.describe())
            self.assertEqual(len(plain_lines(second.stderr)), 1, second.describe())
            self.assertEqual(res.rc, 0, res.describe())
            counts = dict(sqlite_query(d / "etl.db", "SELECT symbol, count(*) FROM price_bars GROUP BY symbol"))
            self.assertEqual(counts, {"AAPL": N_STOCK, "MSFT": N_STOCK})

    def interrupt(self, sig):
        symbols = ["AAPL", "MSFT", "GOOG", "AMZN", "NVDA"]
        args = ["etl-historical", "7D", *symbols, "--database-url", self.db.url]
        job = start(args, env=self.env(ETL_FETCH_CONCURRENCY="1"))
        try:
            wait_for(lambda: self.db.counts() or not job.running(), 60, message="a first symbol loaded")
            self.assertTrue(job.running(), job.stderr_so_far())
            job.signal(sig)
            res = job.wait(60)
        finally:
            job.kill()
        self.assertEqual(res.rc, 130, res.describe())
        counts = self.db.counts()
        self.assertTrue(counts, "the symbol loaded before the signal stays")
        self.assertLess(len(counts), len(symbols), "stopped early, not after the whole run")
        for sym, n in counts.items():
            self.assertEqual(n, N_STOCK, f"half a symbol: {sym} has {n} of {N_STOCK} bars")
        runs = self.db.runs()
        self.assertEqual(len(runs), 1)
        self.assertEqual(runs[0]["status"], "interrupted")
        self.assertEqual(runs[0]["exit_code"], "130")
        self.assertNotEqual(runs[0]["finished_at"], "\\N")
        self.assertEqual(int(runs[0]["symbols_ok"]), len(counts))
        # Stop new work: no request started after the signal other than the one in flight.
        self.assertLessEqual(len(self.server.requests("polygon")), len(counts) + 2)
        # The lock is released and a re-run completes the rest.
        again = run(args, env=self.env(ETL_FETCH_CONCURRENCY="8"), timeout=120)
        self.assertEqual(again.rc, 0, again.describe())
        self.assertEqual(self.db.counts(), {s: N_STOCK for s in symbols})

    def test_sigterm_exits_130_without_half_symbols(self):
        self.interrupt(signal.SIGTERM)

    def test_sigint_exits_130_without_half_symbols(self):
        self.interrupt(signal.SIGINT)


if __name__ == "__main__":
    unittest.main()
