"""Fetcher faults that must not starve, crash, leak or hang: provider fairness under a rate limit, "no data"
for unknown tickers, a Polygon next_url that points at another host, SIGTERM with a slow request in flight,
huge bodies and gzip bombs, and Retry-After beyond fetch.max_retry_after_seconds. SQLite sinks."""
import os
import signal
import subprocess
import tempfile
import time
import unittest

from harness import (BIN_DIR, check_json_stderr, ETL_LATEST, NOW, WINDOW_7D, FakeServer, Result, ServerTestCase, run, set_fake_now,
                     sqlite_query, sqlite_runs, start, summary, wait_for, weekdays)

N_STOCK = len(weekdays(*WINDOW_7D))     # 6 bars for 7D ending Friday 2025-03-14
STOCKS = ["AAPL", "MSFT", "GOOG", "AMZN", "NVDA", "META", "TSLA", "NFLX"]


def run_measured(args, env, cwd, timeout=120) -> tuple[Result, int]:
    """Runs a binary like harness.run and also returns its peak RSS in bytes (from wait4's rusage, so only
    this process counts)."""
    args = [str(a) for a in args]
    if "/" not in args[0]:
        args[0] = str(BIN_DIR / args[0])
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        proc = subprocess.Popen(args, env=env, cwd=cwd, stdout=out, stderr=err, text=True)
        deadline = time.monotonic() + timeout
        while True:
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                break
            if time.monotonic() > deadline:
                proc.kill()
                os.wait4(proc.pid, 0)
                raise AssertionError(f"timed out after {timeout} s: {' '.join(args)}")
            time.sleep(0.05)
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        result = Result(args, proc.returncode, out.read(), err.read())
        check_json_stderr(result, env)
        return result, usage.ru_maxrss * 1024


class FetchFaults(ServerTestCase):
    tmp_tag = "fetchfaults"
    api_key = "pk_e2e_fetch_faults_key"

    def argv(self, binary, *args):
        return [binary, *args, "--database-url", f"sqlite:{self.db}", "--report", str(self.report_file)]

    def hist(self, *args, timeout=120, **env):
        return run(self.argv("etl-historical", "7D", *args), env=self.env(**env), cwd=self.tmp.path,
                   timeout=timeout)

    def latest(self, *args, timeout=120, **env):
        set_fake_now(self.server, NOW)
        return run(self.argv(ETL_LATEST, *args), env=self.env(**env), cwd=self.tmp.path, timeout=timeout)

    def counts(self):
        return dict(sqlite_query(self.db, "SELECT symbol, count(*) FROM price_bars GROUP BY symbol"))

    def failures(self):
        return {f["symbol"]: f for f in self.report()["failures"]}

    def assert_no_key(self, *texts):
        for t in texts:
            self.assertNotIn(self.api_key, t)

    # ---- 1. fairness: a rate-limited provider does not hold the slots another provider could use ----

    def fairness(self, binary, *args):
        """Polygon at 6 requests/minute (one every 10 s), 8 stocks and one crypto symbol, 2 transfer slots:
        the CoinGecko request goes out at once, not after the Polygon symbols (about 70 s)."""
        set_fake_now(self.server, NOW)
        job = start(self.argv(binary, *args, *STOCKS, "BTC"), cwd=self.tmp.path,
                    env=self.env(ETL_PROVIDERS_POLYGON_REQUESTS_PER_MINUTE="6", ETL_FETCH_CONCURRENCY="2"))
        try:
            wait_for(lambda: self.server.requests("coingecko") or not job.running(), 8,
                     message="the CoinGecko request")
            self.assertTrue(job.running(), job.stderr_so_far())
            polygon = self.server.requests("polygon")
            coingecko = self.server.requests("coingecko")
            self.assertEqual(len(coingecko), 1)
            self.assertLessEqual(len(polygon), 2, "Polygon was paced to its limit")
            # Both providers were asked within the first seconds of the run.
            self.assertLess(coingecko[0]["ts"] - polygon[0]["ts"], 3.0)
            job.signal(signal.SIGTERM)
            res = job.wait(30)
        finally:
            job.kill()
        self.assertEqual(res.rc, 130, res.describe())

    def test_latest_coingecko_is_not_starved_by_rate_limited_polygon(self):
        self.fairness(ETL_LATEST)

    def test_historical_coingecko_is_not_starved_by_rate_limited_polygon(self):
        self.fairness("etl-historical", "7D")

    # ---- 1. "no data" ----

    def test_unknown_ticker_is_no_data_not_ok(self):
        r = self.hist("AAPL", "ZZTOP")
        self.assertEqual(r.rc, 1, r.describe())
        self.assertEqual(self.counts(), {"AAPL": N_STOCK})
        rep = self.report()
        self.assertEqual(rep["symbols"]["ok"], 1)
        self.assertEqual(rep["symbols"]["failed"], 1)
        self.assertEqual(rep["symbols"]["no_data"], 1)
        f = self.failures()["ZZTOP"]
        self.assertEqual((f["provider"], f["kind"]), ("polygon", "no data"), f)
        self.assertIn("no bars", f["error"])
        self.assertEqual([(f["symbol"], f["provider"], f["kind"]) for f in summary(r)["failures"]],
                         [("ZZTOP", "polygon", "no data")], "the summary lists it as no data")
        run_ = sqlite_runs(self.db)[-1]
        self.assertEqual((run_["status"], run_["exit_code"], run_["symbols_ok"], run_["symbols_failed"]),
                         ("partial", 1, 1, 1))

    def test_no_data_from_the_routed_provider_falls_back(self):
        """Polygon answers AAPL's 7D window with no results (a renamed ticker there); routing.fallback = yahoo
        has the bars: they load from Yahoo, and the symbol is ok."""
        empty = ('{"ticker":"AAPL","queryCount":0,"resultsCount":0,"adjusted":true,"status":"OK",'
                 '"request_id":"r1","count":0}')
        self.server.set_rules([{"match": "/ticker/AAPL/", "mode": "raw", "times": 1, "body": empty}])
        r = self.hist("AAPL", "MSFT", ETL_ROUTING_FALLBACK="yahoo")
        self.assertEqual(r.rc, 0, r.describe())
        self.assertEqual(self.counts(), {"AAPL": N_STOCK, "MSFT": N_STOCK})
        self.assertEqual(sqlite_query(self.db, "SELECT DISTINCT source FROM price_bars WHERE symbol = 'AAPL'"),
                         [("yahoo",)])
        self.assertEqual(len(self.server.requests("yahoo")), 1, "only AAPL went to the fallback")
        self.assertTrue(any("falling back to yahoo" in l and "AAPL" in l for l in r.stderr.splitlines()),
                        r.describe())
        rep = self.report()
        self.assertEqual((rep["symbols"]["ok"], rep["symbols"]["failed"], rep["symbols"]["no_data"]), (2, 0, 0))
        # Without a fallback it stays "no data" (test_unknown_ticker_is_no_data_not_ok).

    def test_window_without_a_session_is_not_a_failure(self):
        """Saturday and Sunday: no session, so no bars is the right answer."""
        r = run(self.argv("etl-historical", "--from", "2025-03-08", "--to", "2025-03-09", "AAPL"),
                env=self.env(), cwd=self.tmp.path)
        self.assertEqual(r.rc, 0, r.describe())
        rep = self.report()
        self.assertEqual((rep["symbols"]["ok"], rep["symbols"]["failed"], rep["symbols"]["no_data"]), (1, 0, 0))

    def test_latest_unknown_ticker_is_no_data(self):
        r = self.latest("AAPL", "ZZTOP")
        self.assertEqual(r.rc, 1, r.describe())
        f = self.failures()["ZZTOP"]
        self.assertEqual((f["provider"], f["kind"]), ("polygon", "no data"), f)
        self.assertEqual(self.report()["symbols"]["no_data"], 1)

    # ---- 2. next_url must not take the key to another host ----

    def polygon_page(self, next_url):
        # Saturday 2025-03-08 00:00 ET: inside the 7D window, and not among the weekday bars of the next page.
        bar = '{"v":1000,"vw":10.5,"o":10,"c":11,"h":12,"l":9,"t":1741410000000,"n":5}'
        return ('{"ticker":"AAPL","queryCount":1,"resultsCount":1,"adjusted":true,"results":[' + bar + '],'
                '"status":"OK","request_id":"r1","count":1,"next_url":"' + next_url + '"}')

    def test_next_url_to_another_host_fails_the_symbol_and_sends_no_key_there(self):
        with FakeServer() as other:
            path = "/v2/aggs/ticker/AAPL/range/1/day/2025-03-07/2025-03-14?cursor=abc"
            for next_url in (f"@127.0.0.1:{other.port}{path}", f"@localhost:{other.port}{path}"):
                with self.subTest(next_url=next_url):
                    self.server.reset()
                    other.reset()
                    self.server.set_rules([{"match": "/ticker/AAPL/", "mode": "raw", "times": 1,
                                            "body": self.polygon_page(next_url)}])
                    r = self.hist("AAPL", "MSFT")
                    self.assertEqual(other.requests(), [], "a request went to the other host")
                    self.assertEqual(r.rc, 1, r.describe())
                    f = self.failures()["AAPL"]
                    self.assertEqual((f["provider"], f["kind"]), ("polygon", "failed"), f)
                    self.assertIn("next_url", f["error"])
                    self.assertEqual(len(self.server.requests("polygon", contains="/ticker/AAPL/")), 1,
                                     "not retried: retrying cannot help")
                    self.assertEqual(self.counts(), {"MSFT": N_STOCK})
                    lines = [l for l in r.stderr.splitlines() if "next_url" in l]
                    self.assertTrue(lines and all("AAPL" in l for l in lines), r.describe())
                    self.assert_no_key(r.stderr, r.stdout, self.report_file.read_text())

    def test_absolute_next_url_is_rerooted_on_the_configured_host(self):
        """A next_url naming another host keeps only its path and query: the page comes from the configured
        host, the other host sees nothing."""
        with FakeServer() as other:
            nxt = f"http://127.0.0.1:{other.port}/v2/aggs/ticker/AAPL/range/1/day/2025-03-07/2025-03-14?cursor=x"
            self.server.set_rules([{"match": "/ticker/AAPL/", "mode": "raw", "times": 1,
                                    "body": self.polygon_page(nxt)}])
            r = self.hist("AAPL")
            self.assertEqual(r.rc, 0, r.describe())
            self.assertEqual(other.requests(), [])
            self.assertEqual(self.counts(), {"AAPL": N_STOCK + 1})
            second = self.server.requests("polygon", contains="/ticker/AAPL/")[1]
            self.assertEqual(second["query"].get("cursor"), "x")
            self.assertEqual(second["headers"].get("authorization"), f"Bearer {self.api_key}")

    # ---- 3. SIGTERM with a slow request in flight ----

    def sigterm_during_slow_request(self, binary, *args):
        set_fake_now(self.server, NOW)
        self.server.set_rules([{"match": "/ticker/AAPL/", "mode": "slow", "delay_ms": 20000}])
        job = start(self.argv(binary, *args, "AAPL", "--log-format", "json", "--log-level", "debug"),
                    cwd=self.tmp.path, env=self.env(ETL_FETCH_TIMEOUT_SECONDS="30"))
        try:
            wait_for(lambda: "GET " in job.stderr_so_far() or not job.running(), 30, message="the request sent")
            time.sleep(0.3)                                 # the request is on the wire, the reply 20 s away
            self.assertTrue(job.running(), job.stderr_so_far())
            t0 = time.monotonic()
            job.signal(signal.SIGTERM)
            res = job.wait(60)
            elapsed = time.monotonic() - t0
        finally:
            job.kill()
        self.assertEqual(res.rc, 130, res.describe())
        self.assertLess(elapsed, 1.0, "in-flight transfers are aborted at once")
        run_ = sqlite_runs(self.db)[-1]
        self.assertEqual((run_["status"], run_["exit_code"]), ("interrupted", 130))

    def test_sigterm_aborts_a_slow_request_historical(self):
        self.sigterm_during_slow_request("etl-historical", "7D")

    def test_sigterm_aborts_a_slow_request_latest(self):
        self.sigterm_during_slow_request(ETL_LATEST)

    # ---- 4. bounded bodies ----

    def body_limit(self, rule, rss_limit, **env):
        self.server.set_rules([dict(rule, match="/ticker/AAPL/")])
        r, rss = run_measured(self.argv("etl-historical", "7D", "AAPL", "MSFT"), env=self.env(**env),
                              cwd=self.tmp.path)
        self.assertEqual(r.rc, 1, r.describe())
        f = self.failures()["AAPL"]
        self.assertEqual((f["provider"], f["kind"]), ("polygon", "failed"), f)
        self.assertIn("fetch.max_body_bytes", f["error"])
        self.assertEqual(len(self.server.requests("polygon", contains="/ticker/AAPL/")), 1, "never retried")
        self.assertEqual(self.counts(), {"MSFT": N_STOCK})
        self.assertLess(rss, rss_limit, f"peak RSS {rss / 2**20:.0f} MiB")

    def test_huge_body_fails_the_symbol_in_bounded_memory(self):
        # 200 MB streamed; a 4 MiB cap.
        self.body_limit({"mode": "huge", "size": 200_000_000}, 100 * 2**20, ETL_FETCH_MAX_BODY_BYTES=4 * 2**20)

    def test_gzip_bomb_fails_the_symbol_in_bounded_memory(self):
        # 1 MB on the wire inflating to 1 GB; the default 64 MiB cap.
        self.body_limit({"mode": "gzip_bomb", "size": 1_000_000_000}, 300 * 2**20)

    # ---- 5. Retry-After beyond fetch.max_retry_after_seconds ----

    def test_retry_after_beyond_the_cap_fails_at_once_as_unavailable(self):
        self.server.set_rules([{"match": "/v2/", "mode": "429", "retry_after": 100000}])
        t0 = time.monotonic()
        r = self.hist("AAPL", "MSFT", "GOOG", timeout=60, ETL_FETCH_CONCURRENCY="1", ETL_FETCH_MAX_RETRIES="5")
        self.assertLess(time.monotonic() - t0, 30)
        self.assertEqual(r.rc, 69, r.describe())
        fails = self.failures()
        self.assertEqual(sorted(fails), ["AAPL", "GOOG", "MSFT"])
        for f in fails.values():
            self.assertEqual(f["kind"], "unavailable", f)
            self.assertIn("Retry-After", f["error"])
        # The first answer closes Polygon for this run: the other symbols are not sent at all.
        self.assertEqual(len(self.server.requests("polygon")), 1)

    def test_retry_after_http_date_is_honoured(self):
        """Retry-After as an HTTP-date (read by libcurl): waited for, not taken as absent."""
        when = time.strftime("%a, %d %b %Y %H:%M:%S GMT", time.gmtime(time.time() + 3))
        self.server.set_rules([{"match": "/ticker/AAPL/", "mode": "raw", "status": 429, "times": 1,
                                "retry_after": when, "body": '{"status":"ERROR","error":"slow down"}'}])
        r = self.hist("AAPL")
        self.assertEqual(r.rc, 0, r.describe())
        reqs = self.server.requests("polygon", contains="/ticker/AAPL/")
        self.assertEqual([q["status"] for q in reqs], [429, 200])
        self.assertGreaterEqual(reqs[1]["ts"] - reqs[0]["ts"], 1.0, "retried before the Retry-After date")

    def test_retry_after_http_date_beyond_the_cap(self):
        when = time.strftime("%a, %d %b %Y %H:%M:%S GMT", time.gmtime(time.time() + 86400))
        self.server.set_rules([{"match": "/ticker/AAPL/", "mode": "raw", "status": 429,
                                "retry_after": when, "body": '{"status":"ERROR","error":"slow down"}'}])
        r = self.hist("AAPL", timeout=60)
        self.assertEqual(r.rc, 69, r.describe())
        self.assertEqual(len(self.server.requests("polygon")), 1)


if __name__ == "__main__":
    unittest.main()
