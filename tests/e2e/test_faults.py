"""Provider faults injected by the fake server: 429 with Retry-After, 5xx, 404, truncated and garbage
bodies, 401, slow replies past the timeout, and the fallback provider. SQLite sinks, one file per test."""
import unittest
from datetime import date

from harness import (WINDOW_7D, FakeServer, ServerTestCase, all_days, clean_env, run, sqlite_query, sqlite_runs,
                     wait_for, weekdays)

N_STOCK = len(weekdays(*WINDOW_7D))     # 6 bars for 7D ending Friday 2025-03-14
N_CRYPTO = len(all_days(*WINDOW_7D))    # 8


class Faults(ServerTestCase):
    tmp_tag = "faults"
    api_key = "pk_e2e_faults"

    def hist(self, *args, env=None, timeout=120):
        return run(["etl-historical", "7D", *args, "--database-url", f"sqlite:{self.db}",
                    "--report", str(self.report_file)], env=env or self.env(), cwd=self.tmp.path,
                   timeout=timeout)

    def counts(self):
        return dict(sqlite_query(self.db, "SELECT symbol, count(*) FROM price_bars GROUP BY symbol"))

    def sym_requests(self, symbol, provider="polygon"):
        return self.server.requests(provider, contains=f"/ticker/{symbol}/")

    # ---- retried faults that end in success ----

    def test_429_with_retry_after_is_retried(self):
        self.server.set_rules([{"match": "/ticker/AAPL/", "mode": "429", "times": 2, "retry_after": 1}])
        r = self.hist("AAPL")
        self.assertEqual(r.rc, 0, r.describe())
        reqs = self.sym_requests("AAPL")
        self.assertEqual([q["status"] for q in reqs], [429, 429, 200], r.describe())
        # Retry-After: 1 is honoured (the configured backoff is at most 0.5 s).
        for a, b in zip(reqs, reqs[1:]):
            self.assertGreaterEqual(b["ts"] - a["ts"], 0.9, "retried before Retry-After elapsed")
        self.assertEqual(self.counts(), {"AAPL": N_STOCK})
        self.assertEqual(sqlite_runs(self.db)[-1]["status"], "success")

    def test_truncated_body_is_retried(self):
        self.server.set_rules([{"match": "/ticker/AAPL/", "mode": "truncate", "times": 1}])
        r = self.hist("AAPL")
        self.assertEqual(r.rc, 0, r.describe())
        self.assertEqual(len(self.sym_requests("AAPL")), 2, r.describe())
        self.assertEqual(self.counts(), {"AAPL": N_STOCK})

    def test_garbage_body_is_retried(self):
        self.server.set_rules([{"match": "/ticker/AAPL/", "mode": "garbage", "times": 1}])
        r = self.hist("AAPL")
        self.assertEqual(r.rc, 0, r.describe())
        self.assertEqual(len(self.sym_requests("AAPL")), 2, r.describe())
        self.assertEqual(self.counts(), {"AAPL": N_STOCK})
        self.assertEqual(sqlite_query(self.db, "SELECT count(*) FROM rejected_rows")[0][0], 0)

    def test_coingecko_html_429_is_retried(self):
        self.server.set_rules([{"match": "/coins/bitcoin/", "mode": "429", "html": True, "times": 1,
                                "retry_after": 1}])
        r = self.hist("BTC")
        self.assertEqual(r.rc, 0, r.describe())
        reqs = self.server.requests("coingecko")
        self.assertEqual([q["status"] for q in reqs], [429, 200])
        self.assertEqual(self.counts(), {"BTC": N_CRYPTO})

    def test_slow_reply_past_the_timeout_is_retried(self):
        self.server.set_rules([{"match": "/ticker/AAPL/", "mode": "slow", "delay_ms": 3000, "times": 1}])
        r = self.hist("AAPL", env=self.env(ETL_FETCH_TIMEOUT_SECONDS=1))
        self.assertEqual(r.rc, 0, r.describe())
        self.assertEqual(self.counts(), {"AAPL": N_STOCK})
        # The abandoned slow request is logged by the server when its delay ends.
        wait_for(lambda: len(self.sym_requests("AAPL")) >= 2, 15, message="two AAPL requests in the server log")
        self.assertEqual(len(self.sym_requests("AAPL")), 2)
        logs = [l for l in r.json_logs() if l.get("msg") == "loaded" and l.get("symbol") == "AAPL"]
        if logs and "retries" in logs[0]:
            self.assertEqual(logs[0]["retries"], 1)

    # ---- failures ----

    def test_one_symbol_500_forever_is_partial(self):
        self.server.set_rules([{"match": "/ticker/MSFT/", "mode": "500"}])
        r = self.hist("AAPL", "MSFT")
        self.assertEqual(r.rc, 1, r.describe())
        self.assertEqual(self.counts(), {"AAPL": N_STOCK}, "the healthy symbol is committed")
        # 1 request + ETL_FETCH_MAX_RETRIES=2 retries.
        self.assertEqual(len(self.sym_requests("MSFT")), 3)
        run_ = sqlite_runs(self.db)[-1]
        self.assertEqual(run_["status"], "partial")
        self.assertEqual(run_["exit_code"], 1)
        self.assertEqual((run_["symbols_requested"], run_["symbols_ok"], run_["symbols_failed"]), (2, 1, 1))
        self.assertIn("500", run_["error"] or "", "the run's error says what went wrong")
        rep = self.report()
        self.assertEqual(rep["exit_code"], 1)
        self.assertEqual(rep["status"], "partial")
        self.assertEqual([f["symbol"] for f in rep["failures"]], ["MSFT"])
        self.assertIn("MSFT", r.stderr)
        # A retry is safe: with the fault gone the same command completes; AAPL, up to date, costs no request.
        self.server.reset()
        r2 = self.hist("AAPL", "MSFT")
        self.assertEqual(r2.rc, 0, r2.describe())
        self.assertEqual(self.counts(), {"AAPL": N_STOCK, "MSFT": N_STOCK})
        self.assertEqual(self.sym_requests("AAPL"), [])
        rep2 = self.report()
        self.assertEqual((rep2["rows"]["inserted"], rep2["rows"]["unchanged"]), (N_STOCK, 0))
        self.assertEqual(rep2["requests"], {"made": 1, "saved": 1})

    def test_every_symbol_500_forever_is_unavailable(self):
        self.server.set_rules([{"match": "", "mode": "500"}])
        r = self.hist("AAPL", "MSFT", "BTC")
        self.assertEqual(r.rc, 69, r.describe())
        self.assertEqual(self.counts(), {})
        run_ = sqlite_runs(self.db)[-1]
        self.assertEqual(run_["exit_code"], 69)
        self.assertEqual(run_["status"], "failed")
        self.assertEqual(run_["symbols_failed"], 3)
        self.assertEqual(len(self.server.requests("coingecko")), 3)    # retried like the others

    def test_every_symbol_503_and_429_is_unavailable(self):
        self.server.set_rules([{"match": "/ticker/AAPL/", "mode": "503"},
                               {"match": "/ticker/MSFT/", "mode": "429"}])
        r = self.hist("AAPL", "MSFT")
        self.assertEqual(r.rc, 69, r.describe())
        self.assertEqual(len(self.sym_requests("AAPL")), 3)
        self.assertEqual(len(self.sym_requests("MSFT")), 3)

    def test_404_fails_without_retries(self):
        self.server.set_rules([{"match": "/ticker/AAPL/", "mode": "404"}])
        r = self.hist("AAPL", "MSFT")
        self.assertEqual(r.rc, 1, r.describe())
        self.assertEqual(len(self.sym_requests("AAPL")), 1, "a 404 is not retried")
        self.assertEqual(self.counts(), {"MSFT": N_STOCK})
        rep = self.report()
        self.assertEqual([f["symbol"] for f in rep["failures"]], ["AAPL"])
        self.assertEqual(sqlite_runs(self.db)[-1]["status"], "partial")

    def test_coingecko_unknown_coin_is_not_retried(self):
        # CoinGecko ids are slugs from the assets table; the fake answers 404 for no-such* ids.
        csv = self.tmp.path / "a.csv"
        csv.write_text("symbol,asset_class,coingecko_id\nGONE,crypto,no-such-coin\n")
        imp = run(["etl", "assets", "import", str(csv), "--database-url", f"sqlite:{self.db}"], env=self.env())
        self.assertEqual(imp.rc, 0, imp.describe())
        r = self.hist("GONE", "AAPL")
        self.assertEqual(r.rc, 1, r.describe())
        self.assertEqual(len(self.server.requests("coingecko", contains="no-such-coin")), 1)
        self.assertIn("AAPL", self.counts())
        self.assertNotIn("GONE", self.counts())

    def test_401_is_a_config_error_with_one_line(self):
        with FakeServer(polygon_key="pk_the_right_key") as fs:
            env = clean_env(POLYGON_API_KEY="pk_a_wrong_key", **fs.env())
            r = run(["etl-historical", "7D", "AAPL", "MSFT", "GOOG", "--database-url", f"sqlite:{self.db}"],
                    env=env, cwd=self.tmp.path)
            self.assertEqual(r.rc, 78, r.describe())
            reqs = fs.requests("polygon")
            self.assertTrue(all(q["status"] == 401 for q in reqs))
            # Never retried; the run stops asking once the key is rejected.
            per_symbol = {}
            for q in reqs:
                per_symbol[q["path"]] = per_symbol.get(q["path"], 0) + 1
            self.assertTrue(all(n == 1 for n in per_symbol.values()), per_symbol)
        self.assertEqual(self.counts(), {})
        run_ = sqlite_runs(self.db)[-1]
        self.assertEqual(run_["exit_code"], 78)
        self.assertEqual(run_["status"], "failed")
        # Each symbol is counted once: failed (401) or not done, never twice.
        self.assertEqual(run_["symbols_requested"], 3)
        self.assertEqual(run_["symbols_ok"], 0)
        self.assertLessEqual(run_["symbols_failed"], 3, run_)
        self.assertGreaterEqual(run_["symbols_failed"], 1, run_)
        failed_lines = [l for l in r.stderr.splitlines() if l.strip().startswith("failed:")]
        self.assertEqual(len(failed_lines), len({l.split()[1] for l in failed_lines}),
                         f"a symbol listed twice as failed:\n{r.stderr}")
        for l in failed_lines:
            self.assertIn("401", l, f"failure without a reason:\n{r.stderr}")
        # One line tells the operator what to fix (the key), without dumping the key.
        lines = [l for l in r.stderr.splitlines() if "POLYGON_API_KEY" in l or "API key" in l.lower()
                 or "api key" in l.lower()]
        self.assertTrue(lines, r.describe())
        self.assertNotIn("pk_a_wrong_key", r.stderr + r.stdout)

    # ---- fallback ----

    def test_fallback_provider_when_routed_one_fails(self):
        self.server.set_rules([{"match": "/v2/aggs/ticker/AAPL/", "mode": "500"}])
        r = self.hist("AAPL", "MSFT", env=self.env(ETL_ROUTING_FALLBACK="yahoo"))
        self.assertEqual(r.rc, 0, r.describe())
        src = dict(sqlite_query(self.db, "SELECT symbol, group_concat(DISTINCT source) FROM price_bars "
                                         "GROUP BY symbol"))
        self.assertEqual(src, {"AAPL": "yahoo", "MSFT": "polygon"})
        self.assertEqual(len(self.server.requests("yahoo", contains="/v8/finance/chart/AAPL")), 1)
        self.assertEqual(self.server.requests("yahoo", contains="/v8/finance/chart/MSFT"), [])
        # Yahoo's 09:30 ET bars land on the session date at 00:00 UTC like every daily bar.
        ts = [t for (t,) in sqlite_query(self.db, "SELECT ts FROM price_bars WHERE symbol = 'AAPL' ORDER BY ts")]
        self.assertEqual([date.fromisoformat(t[:10]) for t in ts], weekdays(*WINDOW_7D))
        self.assertTrue(all(t.endswith("T00:00:00Z") for t in ts), ts)
        self.assertEqual(sqlite_runs(self.db)[-1]["status"], "success")


if __name__ == "__main__":
    unittest.main()
