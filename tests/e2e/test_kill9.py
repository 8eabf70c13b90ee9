"""SIGKILL mid-run (no chance to clean up): one transaction per symbol means no half symbol is ever
visible, the lock dies with the process, and a re-run completes the rest and exits 0."""
import unittest

from harness import (WINDOW_1M, ServerTestCase, run, start, wait_for, weekdays)

SYMBOLS = ["AAPL", "MSFT", "GOOG", "AMZN", "NVDA", "META"]
N = len(weekdays(*WINDOW_1M))     # 21 daily bars per stock for 1M


class Kill9(ServerTestCase):
    # 5 bars a page: every symbol is 5 requests, so a kill usually lands in the middle of one.
    server_options = dict(latency_ms=150, polygon_page_size=5)
    pg_tag = "kill9"
    api_key = "pk_e2e_kill9"

    def setUp(self):
        super().setUp()
        self.args = ["etl-historical", "1M", *SYMBOLS, "--database-url", self.db.url]

    def assert_no_half_symbol(self, when):
        for sym, n in self.db.counts().items():
            self.assertEqual(n, N, f"{when}: {sym} has {n} of {N} bars (half a symbol)")

    def kill_after(self, condition, message):
        # Two transfers at a time: several symbols are mid-pagination at any moment.
        job = start(self.args, env=self.env(ETL_FETCH_CONCURRENCY="2"))
        try:
            wait_for(lambda: condition() or not job.running(), 90, interval=0.02, message=message)
            self.assertTrue(job.running(), f"finished before the kill:\n{job.stderr_so_far()}")
            job.signal(9)
            res = job.wait(30)
        finally:
            job.kill()
        self.assertEqual(res.rc, -9, res.describe())
        return res

    def test_kill9_then_rerun_completes(self):
        # Kill once the first symbol is committed, while others are being fetched.
        self.kill_after(lambda: self.db.counts(), "a first symbol committed")
        self.assert_no_half_symbol("after the first kill")
        done_first = set(self.db.counts())
        self.assertTrue(done_first)
        self.assertLess(len(done_first), len(SYMBOLS))
        # The killed run could not record its end: it stays 'running' (never 'success').
        runs = self.db.runs()
        self.assertEqual(len(runs), 1)
        self.assertNotIn(runs[0]["status"], ("success", "partial"))

        # Kill a second run at another moment: a number of requests in.
        self.server.reset()
        self.kill_after(lambda: len(self.server.requests("polygon")) >= 7, "7 requests of the second run")
        self.assert_no_half_symbol("after the second kill")
        self.assertLessEqual(done_first, set(self.db.counts()), "a committed symbol disappeared")
        before = {s: rows for s, rows in ((s, self.db.query(
            f"SELECT ts, open, close, volume, ingested_at FROM price_bars WHERE symbol = '{s}' ORDER BY ts"))
            for s in self.db.counts())}

        # The lock died with the process: a re-run starts, completes the rest, exits 0.
        r = run(self.args, env=self.env(), timeout=120)
        self.assertEqual(r.rc, 0, r.describe())
        self.assertEqual(self.db.counts(), {s: N for s in SYMBOLS})
        for s in SYMBOLS:
            self.assertEqual(self.db.bar_dates(s), weekdays(*WINDOW_1M), s)
        # Symbols committed before the kills were left alone (not rewritten).
        for s, rows in before.items():
            self.assertEqual(self.db.query(f"SELECT ts, open, close, volume, ingested_at FROM price_bars "
                                           f"WHERE symbol = '{s}' ORDER BY ts"), rows, s)
        last = self.db.runs()[-1]
        self.assertEqual(last["status"], "success")
        # The killed runs were closed as failed when the next run of the job took its lock.
        for killed in self.db.runs()[:-1]:
            self.assertEqual(killed["status"], "failed", killed)
            self.assertIn("without recording an outcome", killed["error"])
        self.assertEqual(int(last["rows_inserted"]), N * (len(SYMBOLS) - len(before)))
        # Symbols committed before the kills are up to date: the incremental re-run does not fetch them.
        self.assertEqual(int(last["rows_unchanged"]), 0)


if __name__ == "__main__":
    unittest.main()
