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

from harness import (BIN_DIR, PgDatabase, ServerTestCase, TempDir, clean_env, pg_available, psql, run, sqlite_query,
                     sqlite_runs, start, wait_for)


def plain_lines(stderr):
    """stderr lines that are not JSON log lines."""
    return [l for l in stderr.splitlines() if l.strip() and not l.lstrip().startswith("{")]


def error_lines(stderr, program="etl-historical"):
    """The one-line errors of stderr (the summary's lines are indented)."""
    return [l for l in plain_lines(stderr) if l.startswith(f"{program}: ")]


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
