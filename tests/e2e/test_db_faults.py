"""Database faults: a lock held by another session (lock_timeout -> 75; SIGTERM cancels the wait -> 130),
SQLite targets that cannot be used (read-only, not SQLite, truncated, corrupt -> 78, never 70), runs left
'running' by a process that died (closed by the next run of the job whatever its shard, never while the
run is alive), and an API key echoed by a provider inside a rejected record (scrubbed in rejected_rows)."""
import os
import shutil
import signal
import sqlite3
import subprocess
import time
import unittest
from pathlib import Path

from harness import (plain_lines, BIN_DIR, PgDatabase, ServerTestCase, TempDir, clean_env, pg_available, psql, run, sqlite_query,
                     sqlite_runs, start, wait_for)


def error_lines(stderr, program="etl-historical"):
    """The one-line errors of stderr (the summary's lines are indented)."""
    return [l for l in plain_lines(stderr) if l.startswith(f"{program}: ")]


class LockedTable:
    """A psql session holding LOCK TABLE `table` IN ACCESS EXCLUSIVE MODE in an open transaction until
    release() (or the end of the with block)."""

    def __init__(self, db: str, table: str = "price_bars"):
        self.db, self.table = db, table
        self.proc = None

    def __enter__(self):
        self.proc = subprocess.Popen(["psql", "-X", "-q", "-At", "-v", "ON_ERROR_STOP=1", "-d", self.db],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                     text=True)
        self.proc.stdin.write(f"BEGIN;\nLOCK TABLE {self.table} IN ACCESS EXCLUSIVE MODE;\nSELECT 'locked';\n")
        self.proc.stdin.flush()
        line = self.proc.stdout.readline().strip()
        if line != "locked":
            self.release()
            raise AssertionError(f"psql could not lock {self.table}: {line}")
        return self

    def release(self):
        if self.proc and self.proc.poll() is None:
            try:
                self.proc.stdin.write("ROLLBACK;\n")
                self.proc.stdin.close()
                self.proc.wait(timeout=30)
            except (OSError, subprocess.TimeoutExpired):
                self.proc.kill()
                self.proc.wait()
        if self.proc and self.proc.stdout:
            self.proc.stdout.close()

    def __exit__(self, *exc):
        self.release()


class LockHeldByAnotherSession(unittest.TestCase):
    """Point 1: a load never waits without limit on a lock, and SIGTERM does not wait for the lock either."""

    def setUp(self):
        self.db = PgDatabase("lockheld")
        self.addCleanup(self.db.drop)
        self.tmp = TempDir("lockheld")
        self.addCleanup(self.tmp.cleanup)
        self.args = ["etl-historical", "7D", "AAPL", "--mock", "--database-url", self.db.url]
        r = run(["etl", "db", "migrate", "--database-url", self.db.url], cwd=self.tmp.path)
        self.assertEqual(r.rc, 0, r.describe())

    def waiting_on_a_lock(self):
        return psql(f"SELECT count(*) FROM pg_stat_activity WHERE datname = '{self.db.name}' "
                    f"AND wait_event_type = 'Lock' AND application_name = 'etl-historical'").strip() != "0"

    def test_lock_timeout_is_a_temporary_failure_naming_table_and_setting(self):
        with LockedTable(self.db.name):
            t0 = time.monotonic()
            r = run(self.args, env=clean_env(ETL_DATABASE_LOCK_TIMEOUT_SECONDS="1"), cwd=self.tmp.path, timeout=60)
            elapsed = time.monotonic() - t0
        self.assertEqual(r.rc, 75, r.describe())
        self.assertLess(elapsed, 30, "the load gave up after the 1 s lock timeout, not after the lock was released")
        lines = error_lines(r.stderr)
        self.assertEqual(len(lines), 1, r.describe())
        self.assertIn("price_bars", lines[0])
        self.assertIn("database.lock_timeout_seconds", lines[0])
        self.assertEqual(self.db.counts(), {})
        last = self.db.runs()[-1]
        self.assertEqual((last["status"], last["exit_code"]), ("failed", "75"), last)
        self.assertIn("price_bars", last["error"])
        # Retry later: with the lock gone the same command loads.
        again = run(self.args, env=clean_env(), cwd=self.tmp.path, timeout=60)
        self.assertEqual(again.rc, 0, again.describe())
        self.assertEqual(list(self.db.counts()), ["AAPL"])

    def test_a_missing_primary_key_is_a_temporary_failure_not_a_bug(self):
        # While an etl-migrate-sqlite bulk load fills an empty price_bars (or after one was killed), the
        # table has no primary key: a load that must update a bar cannot upsert. 75 with what to do, not 70.
        r = run(self.args, env=clean_env(), cwd=self.tmp.path, timeout=60)
        self.assertEqual(r.rc, 0, r.describe())
        self.db.raw("ALTER TABLE price_bars DROP CONSTRAINT price_bars_pkey; "
                     "UPDATE price_bars SET close = close + 1 WHERE symbol = 'AAPL'")
        r = run(self.args + ["--full"], env=clean_env(), cwd=self.tmp.path, timeout=60)
        self.assertEqual(r.rc, 75, r.describe())
        lines = error_lines(r.stderr) or [l for l in plain_lines(r.stderr) if "primary key" in l]
        self.assertTrue(any("price_bars has no primary key" in l and "etl-migrate-sqlite" in l for l in lines),
                        r.describe())
        self.assertEqual(self.db.runs()[-1]["exit_code"], "75")

    def test_sigterm_cancels_the_wait_and_records_the_run(self):
        with LockedTable(self.db.name) as lock:
            # The default lock timeout (60 s): without a cancel the run would sit there until then.
            job = start(self.args, env=clean_env(), cwd=self.tmp.path)
            try:
                wait_for(lambda: self.waiting_on_a_lock() or not job.running(), 60,
                         message="the load to wait on price_bars")
                self.assertTrue(job.running(), job.stderr_so_far())
                t0 = time.monotonic()
                job.signal(signal.SIGTERM)
                # Generous against a loaded machine; the point is "not when the lock goes away".
                res = job.wait(20)
                elapsed = time.monotonic() - t0
            finally:
                job.kill()
            self.assertEqual(res.rc, 130, res.describe())
            self.assertLess(elapsed, 10, res.describe())
            self.assertIn("interrupted", res.stderr)
            lock.release()
        self.assertEqual(self.db.counts(), {}, "the cancelled load was rolled back")
        last = self.db.runs()[-1]
        self.assertEqual((last["status"], last["exit_code"]), ("interrupted", "130"), last)
        self.assertNotEqual(last["finished_at"], "\\N")
        # The cancelled symbol is not done, not failed: nothing is wrong with it.
        self.assertEqual(last["symbols_failed"], "0", last)
        self.assertNotIn("load failed", res.stderr)
        # Nothing is left locked: the next run loads.
        again = run(self.args, env=clean_env(), cwd=self.tmp.path, timeout=60)
        self.assertEqual(again.rc, 0, again.describe())


class UnusableSqliteTarget(unittest.TestCase):
    """Point 2: an SQLite database_url that cannot be used exits 78 with one line naming database_url and
    the fix, never 70 (a bug), and the file is left as it was."""

    def setUp(self):
        self.tmp = TempDir("sqlite-target")
        self.addCleanup(self.tmp.cleanup)
        self.dir = self.tmp.path

    def good_db(self, path: Path):
        r = run(["etl-historical", "7D", "AAPL", "--mock", "--database-url", f"sqlite:{path}"], cwd=self.dir)
        self.assertEqual(r.rc, 0, r.describe())
        return path

    def hist(self, path: Path, as_user=False):
        args = ["etl-historical", "7D", "AAPL", "--mock", "--database-url", f"sqlite:{path}"]
        if as_user and os.geteuid() == 0:
            # Permissions do not stop root: run as nobody, for whom they do.
            setpriv = shutil.which("setpriv")
            if not setpriv:
                self.skipTest("running as root without setpriv: file permissions cannot be tested "
                              "(the integration tests cover the read-only code path)")
            args = [setpriv, "--reuid", "65534", "--regid", "65534", "--clear-groups",
                    str(BIN_DIR / "etl-historical"), *args[1:]]
        return run(args, cwd=self.dir)

    def assert_config_error(self, r, *words):
        self.assertEqual(r.rc, 78, r.describe())
        lines = plain_lines(r.stderr)
        self.assertEqual(len(lines), 1, r.describe())
        self.assertIn("database_url", lines[0])
        for w in words:
            self.assertIn(w, lines[0])

    def test_read_only_file(self):
        db = self.good_db(self.dir / "etl.db")
        before = db.read_bytes()
        os.chmod(self.dir, 0o777)           # the directory stays writable: only the file is read-only
        for f in self.dir.iterdir():
            os.chmod(f, 0o666)
        os.chmod(db, 0o444)
        r = self.hist(db, as_user=True)
        self.assert_config_error(r, "read-only", str(db))
        self.assertEqual(db.read_bytes(), before)

    def test_read_only_directory(self):
        sub = self.dir / "ro"
        sub.mkdir()
        db = self.good_db(sub / "etl.db")
        for f in sub.iterdir():
            os.chmod(f, 0o666)
        os.chmod(self.dir, 0o755)
        os.chmod(sub, 0o555)                # the file is writable, but -wal/-shm cannot be created
        try:
            r = self.hist(db, as_user=True)
        finally:
            os.chmod(sub, 0o755)
        self.assertEqual(r.rc, 78, r.describe())
        self.assertEqual(len(plain_lines(r.stderr)), 1, r.describe())
        self.assertIn("database_url", r.stderr)

    def test_unsearchable_directory_is_not_an_internal_error(self):
        # Checking whether the file exists fails (EACCES) for a user who may not search the directory:
        # that is the database_url's problem (78), never a filesystem exception (70). Both code paths
        # that look before opening: etl assets --dry-run and --market-hours-only.
        sub = self.dir / "private"
        sub.mkdir()
        os.chmod(self.dir, 0o755)
        os.chmod(sub, 0o700)
        if os.geteuid() != 0:
            self.skipTest("needs root to run a binary as a user who may not search the directory")
        setpriv = shutil.which("setpriv")
        if not setpriv:
            self.skipTest("running as root without setpriv")
        as_nobody = [setpriv, "--reuid", "65534", "--regid", "65534", "--clear-groups"]
        url = f"sqlite:{sub / 'etl.db'}"
        for args in (["etl", "assets", "add", "FOO", "--dry-run", "--database-url", url],
                     ["etl", "latest", "AAPL", "--market-hours-only", "--mock", "--database-url", url]):
            with self.subTest(args=args[:3]):
                r = run(as_nobody + [str(BIN_DIR / "etl"), *args[1:]], cwd=self.dir,
                        env=clean_env(ETL_NOW="2025-03-15T12:00:00Z"))   # a Saturday: the market is closed
                self.assertEqual(r.rc, 78, r.describe())
                self.assertIn("database_url", r.stderr)

    def test_missing_directory(self):
        r = self.hist(self.dir / "no" / "such" / "etl.db")
        self.assert_config_error(r, "cannot be opened", str(self.dir / "no" / "such"))

    def test_text_file(self):
        db = self.dir / "etl.db"
        db.write_text("this is a text file, not a database\n")
        r = self.hist(db)
        self.assert_config_error(r, "not an SQLite database", str(db))
        self.assertEqual(db.read_text(), "this is a text file, not a database\n", "the file is left alone")

    def test_truncated_database(self):
        db = self.good_db(self.dir / "etl.db")
        data = db.read_bytes()
        self.assertGreater(len(data), 8192)
        db.write_bytes(data[:5000])
        r = self.hist(db)
        self.assert_config_error(r, "corrupt", str(db))

    def test_corrupted_database(self):
        db = self.good_db(self.dir / "etl.db")
        data = bytearray(db.read_bytes())
        # Keep the 100-byte header (still "SQLite format 3"), overwrite the schema page behind it.
        data[100:4096] = b"\xa5" * (4096 - 100)
        db.write_bytes(bytes(data))
        r = self.hist(db)
        self.assert_config_error(r, "corrupt", str(db))


class AbandonedRuns(ServerTestCase):
    """Point 3: a run killed without recording its end is closed by the next run of the job, whatever its
    shard; a run that is alive (holding its lock) is never closed. NVDA and META are shard 0/2; AAPL, MSFT,
    GOOG and AMZN shard 1/2."""

    api_key = "pk_e2e_abandoned"
    tmp_tag = "abandoned"
    SYMBOLS = ["AAPL", "MSFT", "GOOG", "AMZN", "NVDA", "META"]

    def url(self, store):
        if store == "pg":
            if not pg_available():
                self.skipTest("PostgreSQL not reachable (run the suite under pg_virtualenv)")
            db = PgDatabase("abandoned")
            self.addCleanup(db.drop)
            return db.url, db
        return f"sqlite:{self.db}", None

    def runs(self, pg):
        if pg:
            if not pg.has_table("etl_runs"):     # the binary has not migrated yet
                return []
            return [(r["id"], r["shard"], r["status"], r["error"]) for r in pg.runs()]
        try:
            rows = sqlite_runs(self.db)
        except sqlite3.Error:                   # no file, or no etl_runs yet: the binary has not migrated yet
            return []
        return [(str(r["id"]), r["shard"], r["status"], r["error"] or "") for r in rows]

    def start_slow_shard0(self, url, pg):
        # NVDA's first page takes 8 s: the shard 0/2 run is alive, holding its lock, for that long.
        self.server.set_rules([{"match": "/ticker/NVDA/", "mode": "slow", "delay_ms": 8000, "times": 1}])
        job = start(["etl-historical", "7D", *self.SYMBOLS, "--shard", "0/2", "--database-url", url],
                    env=self.env(ETL_FETCH_CONCURRENCY="1"), cwd=self.tmp.path)
        self.addCleanup(job.kill)
        wait_for(lambda: any(s == "0/2" and st == "running" for _, s, st, _ in self.runs(pg)) or not job.running(),
                 60, message="the shard 0/2 run to record itself")
        self.assertTrue(job.running(), job.stderr_so_far())
        return job

    def shard1(self, url):
        return run(["etl-historical", "7D", *self.SYMBOLS, "--shard", "1/2", "--database-url", url],
                   env=self.env(), cwd=self.tmp.path, timeout=120)

    def check_killed_run_is_closed(self, store):
        url, pg = self.url(store)
        job = self.start_slow_shard0(url, pg)
        job.signal(signal.SIGKILL)
        self.assertEqual(job.wait(30).rc, -9)
        if pg:
            # The killed client's backend ends (and its advisory lock goes) once it sees the socket closed.
            wait_for(lambda: pg.advisory_locks() == 0, 30, message="the killed run's lock to go")
        [(killed_id, _, status, _)] = self.runs(pg)
        self.assertEqual(status, "running")
        r = self.shard1(url)
        self.assertEqual(r.rc, 0, r.describe())
        runs = {i: (s, st, e) for i, s, st, e in self.runs(pg)}
        shard, status, error = runs[killed_id]
        self.assertEqual((shard, status), ("0/2", "failed"), runs)
        self.assertIn("without recording an outcome", error)
        self.assertEqual([st for s, st, _ in runs.values() if s == "1/2"], ["success"], runs)

    def check_live_run_is_never_closed(self, store):
        url, pg = self.url(store)
        job = self.start_slow_shard0(url, pg)
        r = self.shard1(url)
        self.assertEqual(r.rc, 0, r.describe())
        self.assertTrue(job.running(), "the shard 0/2 run should still be fetching NVDA")
        statuses = {s: st for _, s, st, _ in self.runs(pg)}
        self.assertEqual(statuses, {"0/2": "running", "1/2": "success"}, "a live run was closed")
        res = job.wait(120)
        self.assertEqual(res.rc, 0, res.describe())
        statuses = {s: st for _, s, st, _ in self.runs(pg)}
        self.assertEqual(statuses, {"0/2": "success", "1/2": "success"})

    def test_killed_run_closed_by_another_shard_sqlite(self):
        self.check_killed_run_is_closed("sqlite")

    def test_killed_run_closed_by_another_shard_pg(self):
        self.check_killed_run_is_closed("pg")

    def test_live_run_never_closed_sqlite(self):
        self.check_live_run_is_never_closed("sqlite")

    def test_live_run_never_closed_pg(self):
        self.check_live_run_is_never_closed("pg")


class KeyEchoedInARejectedRecord(ServerTestCase):
    """Point 4: a key a provider echoes inside a malformed record is scrubbed from rejected_rows."""

    api_key = "pk_e2e_echoed_key_5c1d9e"
    tmp_tag = "echoed"

    def page(self):
        good = '{"v":1200,"vw":100.5,"o":100,"c":101,"h":102,"l":99,"t":1741579200000,"n":12}'
        bad = f'{{"v":1300,"vw":100.5,"o":"{self.api_key}","c":101,"h":102,"l":99,"t":1741665600000,"n":13}}'
        return ('{"ticker":"AAPL","queryCount":2,"resultsCount":2,"adjusted":true,'
                f'"results":[{good},{bad},"{self.api_key}"],"status":"OK","request_id":"r1","count":2}}')

    def load(self, url):
        self.server.set_rules([{"match": "/ticker/AAPL/", "mode": "raw", "body": self.page()}])
        r = run(["etl-historical", "7D", "AAPL", "--database-url", url],
                env=self.env(ETL_VALIDATION_MAX_REJECTED_RATIO="1"), cwd=self.tmp.path)
        self.assertEqual(r.rc, 0, r.describe())
        self.assertNotIn(self.api_key, r.stderr)
        return r

    def check(self, raws, everything):
        self.assertEqual(len(raws), 2, raws)
        for raw in raws:
            self.assertIn("***", raw)
            self.assertNotIn(self.api_key, raw)
        self.assertNotIn(self.api_key, everything)

    def test_sqlite(self):
        self.load(f"sqlite:{self.db}")
        raws = [r for (r,) in sqlite_query(self.db, "SELECT raw FROM rejected_rows ORDER BY id")]
        everything = "\n".join(str(row) for t in ("rejected_rows", "etl_runs", "price_bars")
                               for row in sqlite_query(self.db, f"SELECT * FROM {t}"))
        self.check(raws, everything)

    def test_pg(self):
        if not pg_available():
            self.skipTest("PostgreSQL not reachable (run the suite under pg_virtualenv)")
        db = PgDatabase("echoed")
        self.addCleanup(db.drop)
        self.load(db.url)
        raws = [r for (r,) in db.query("SELECT raw FROM rejected_rows ORDER BY id")]
        everything = "\n".join(db.table_text(t) for t in ("rejected_rows", "etl_runs", "price_bars"))
        self.check(raws, everything)


if __name__ == "__main__":
    unittest.main()
