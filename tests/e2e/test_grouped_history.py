"""etl-historical on Polygon grouped daily (issue 11 point 2): when the sessions to fetch are fewer than the
symbols, the run asks one grouped answer per session for all of them instead of one request per symbol. The
bars are those the per-symbol path stores (same decimals, same rejects); a symbol the grouped answers lack
and every symbol of a grouped answer that fails are asked for one by one; the summary counts the requests
made and saved. SQLite files; the fake server's clock is pinned to each run's ETL_NOW."""
import signal
import unittest

from harness import ETL_LATEST, NOW, ServerTestCase, run, set_fake_now, sqlite_query, start, summary, wait_for

MONDAY = "2025-03-17T21:00:00Z"  # the session after NOW's (Friday 2025-03-14) has closed
STOCKS = ["AAPL", "MSFT", "NVDA", "AMZN", "GOOGL", "META", "SPY", "BRK.B", "JPM", "KO", "PEP", "XOM"]
# Monday's span of a symbol whose last bar is Friday's: its last 5 stored sessions (fetch.revision_sessions), and Monday.
SPAN_SESSIONS = ["2025-03-10", "2025-03-11", "2025-03-12", "2025-03-13", "2025-03-14", "2025-03-17"]
BAR_COLUMNS = "symbol, ts, open, high, low, close, volume, vwap, trade_count, source"


class GroupedHistorySqlite(ServerTestCase):
    tmp_tag = "grouped-hist"

    def hist(self, *args, db=None, now=NOW, **env):
        set_fake_now(self.server, now)
        self.server.reset()
        set_fake_now(self.server, now)
        argv = ["etl-historical", *args, "--database-url", f"sqlite:{db or self.db}", "--report",
                str(self.tmp.path / "report.json")]
        return run(argv, env=self.env(ETL_NOW=now, **env))

    def grouped_dates(self) -> list[str]:
        return [q["path"].rsplit("/", 1)[1] for q in self.server.requests("polygon", contains="/grouped/")]

    def per_symbol(self) -> list[str]:
        return sorted(q["path"].split("/")[4] for q in self.server.requests("polygon", contains="/ticker/"))

    def bars(self, db) -> list[tuple]:
        return sqlite_query(db, f"SELECT {BAR_COLUMNS} FROM price_bars WHERE timeframe = '1d' ORDER BY symbol, ts")

    def with_broken_close(self, day: str, ticker: str) -> str:
        """The fake's grouped answer of `day` (at the server's current clock) with `ticker`'s close a string."""
        status, body = self.server.get(f"/v2/aggs/grouped/locale/us/market/stocks/{day}?adjusted=true",
                                       headers={"Authorization": f"Bearer {self.api_key}"})
        self.assertEqual(status, 200, body)
        j = body.index('"c":', body.index(f'"T":"{ticker}"'))
        return body[:j] + '"c":"n/a"' + body[body.index(",", j):]

    def seed(self, symbols, tickers=None, now=NOW):
        r = self.hist("1Y", *symbols, now=now)
        self.assertEqual(r.rc, 0, r.describe())
        self.assertEqual(self.grouped_dates(), [], "a whole year costs 252 dates: one request per symbol is cheaper")
        self.assertEqual(self.per_symbol(), sorted(tickers or symbols))

    def test_daily_refresh_costs_one_request_per_session_and_stores_the_per_symbol_bars(self):
        self.seed(STOCKS)
        r = self.hist("1Y", *STOCKS, now=MONDAY)
        self.assertEqual(r.rc, 0, r.describe())
        self.assertEqual(sorted(self.grouped_dates()), SPAN_SESSIONS)
        self.assertEqual(self.per_symbol(), [])
        for q in self.server.requests("polygon"):
            self.assertEqual(q["query"].get("adjusted"), "true", q)
        self.assertEqual(summary(r)["requests"], {"made": 6, "saved": len(STOCKS) - 6}, r.describe())
        self.assertEqual(self.report()["requests"], {"made": 6, "saved": len(STOCKS) - 6})
        self.assertEqual(self.report()["rows"]["inserted"], len(STOCKS), "one new bar each (Monday)")
        self.assertIn("from the grouped daily answers of 6 date(s)", r.stderr)
        # The same window fetched symbol by symbol into another database: the same rows, to the last digit.
        ref = self.tmp.path / "per_symbol.db"
        r = self.hist("1Y", *STOCKS, db=ref, now=MONDAY)
        self.assertEqual(r.rc, 0, r.describe())
        self.assertEqual(self.grouped_dates(), [])
        want = self.bars(ref)
        self.assertEqual(want[0][1], "2024-03-18T00:00:00Z", "1Y from Monday")
        got = [b for b in self.bars(self.db) if b[1] >= "2024-03-18"]
        self.assertEqual(len(got), len(want))
        self.assertEqual(got, want)

    def test_fetch_grouped_false_asks_symbol_by_symbol(self):
        self.seed(STOCKS)
        r = self.hist("1Y", *STOCKS, now=MONDAY, ETL_FETCH_GROUPED="false")
        self.assertEqual(r.rc, 0, r.describe())
        self.assertEqual(self.grouped_dates(), [])
        self.assertEqual(self.per_symbol(), sorted(STOCKS))
        self.assertEqual(summary(r)["requests"], {"made": len(STOCKS), "saved": 0}, r.describe())
        # etl-latest too: one request per symbol instead of two grouped answers.
        self.server.reset()
        set_fake_now(self.server, MONDAY)
        r = run([ETL_LATEST, *STOCKS, "--database-url", f"sqlite:{self.db}"],
                env=self.env(ETL_NOW=MONDAY, ETL_FETCH_GROUPED="false"))
        self.assertEqual(r.rc, 0, r.describe())
        self.assertEqual(self.grouped_dates(), [])
        self.assertEqual(self.per_symbol(), sorted(STOCKS))

    def test_a_symbol_the_grouped_answers_lack_is_asked_for_alone(self):
        self.seed(STOCKS)
        # NVDA is not in the market any more (a renamed ticker): the grouped answers hold the other eleven.
        set_fake_now(self.server, MONDAY)
        self.server.reset()
        set_fake_now(self.server, MONDAY)
        self.server._call("POST", "/__control/grouped", {"stocks": [s for s in STOCKS if s != "NVDA"]})
        r = run(["etl-historical", "1Y", *STOCKS, "--database-url", f"sqlite:{self.db}"],
                env=self.env(ETL_NOW=MONDAY))
        self.assertEqual(r.rc, 0, r.describe())
        self.assertEqual(sorted(self.grouped_dates()), SPAN_SESSIONS)
        self.assertEqual(self.per_symbol(), ["NVDA"])
        spans = [q["path"].split("/")[-2:] for q in self.server.requests("polygon", contains="/ticker/NVDA/")]
        self.assertEqual(spans, [["2025-03-10", "2025-03-17"]])
        self.assertIn("1 symbol(s) not in the grouped daily answers, asked one by one: NVDA", r.stderr)
        got = sqlite_query(self.db, "SELECT symbol FROM price_bars WHERE ts = '2025-03-17T00:00:00Z' ORDER BY symbol")
        self.assertEqual([s for (s,) in got], sorted(STOCKS))

    def test_a_failing_grouped_answer_falls_back_to_per_symbol_requests(self):
        self.seed(STOCKS)
        set_fake_now(self.server, MONDAY)
        self.server.reset()
        set_fake_now(self.server, MONDAY)
        self.server.set_rules([{"match": "/grouped/", "mode": "500"}])
        r = run(["etl-historical", "1Y", *STOCKS, "--database-url", f"sqlite:{self.db}"],
                env=self.env(ETL_NOW=MONDAY, ETL_FETCH_MAX_RETRIES="1"))
        self.assertEqual(r.rc, 0, r.describe())
        self.assertEqual(self.per_symbol(), sorted(STOCKS))
        self.assertIn("the grouped daily answers failed", r.stderr)
        got = sqlite_query(self.db, "SELECT count(*) FROM price_bars WHERE ts = '2025-03-17T00:00:00Z'")
        self.assertEqual(got, [(len(STOCKS),)])

    def test_a_malformed_grouped_row_is_rejected_for_its_symbol_only(self):
        self.seed(STOCKS)
        set_fake_now(self.server, MONDAY)
        broken = self.with_broken_close("2025-03-17", "MSFT")
        self.server.reset()
        set_fake_now(self.server, MONDAY)
        self.server.set_rules([{"match": "/grouped/locale/us/market/stocks/2025-03-17", "mode": "raw",
                                "body": broken}])
        r = run(["etl-historical", "1Y", *STOCKS, "--database-url", f"sqlite:{self.db}"],
                env=self.env(ETL_NOW=MONDAY))
        self.assertEqual(r.rc, 0, r.describe())
        self.assertEqual(self.per_symbol(), [])
        rejects = sqlite_query(self.db, "SELECT symbol, source, reason FROM rejected_rows")
        self.assertEqual(rejects, [("MSFT", "polygon", "field c is not a number")])
        got = sqlite_query(self.db, "SELECT symbol FROM price_bars WHERE ts = '2025-03-17T00:00:00Z' ORDER BY symbol")
        self.assertEqual([s for (s,) in got], sorted(s for s in STOCKS if s != "MSFT"))

    def test_rows_of_dates_before_a_symbols_span_are_not_its_records(self):
        # KO holds Friday already, the others Thursday: Monday's cut is 03-07 (the others' span), KO's span
        # starts 03-10. A malformed KO row in the 03-07 answer is not KO's record; KO is missing from the
        # answers of its span (a renamed ticker): it is asked for alone, not counted ok on a stray reject.
        self.seed([s for s in STOCKS], now="2025-03-13T21:00:00Z")
        self.assertEqual(self.hist("1Y", "KO").rc, 0)
        set_fake_now(self.server, MONDAY)
        broken = self.with_broken_close("2025-03-07", "KO")
        self.server.reset()
        set_fake_now(self.server, MONDAY)
        self.server._call("POST", "/__control/grouped", {"stocks": [s for s in STOCKS if s != "KO"]})
        self.server.set_rules([{"match": "/grouped/locale/us/market/stocks/2025-03-07", "mode": "raw",
                                "body": broken}])
        r = run(["etl-historical", "1Y", *STOCKS, "--database-url", f"sqlite:{self.db}"],
                env=self.env(ETL_NOW=MONDAY))
        self.assertEqual(r.rc, 0, r.describe())
        self.assertEqual(sorted(self.grouped_dates()), ["2025-03-07"] + SPAN_SESSIONS)
        self.assertEqual(self.per_symbol(), ["KO"])
        self.assertEqual([q["path"].split("/")[-2:] for q in self.server.requests("polygon", contains="/ticker/KO/")],
                         [["2025-03-10", "2025-03-17"]])
        self.assertEqual(sqlite_query(self.db, "SELECT count(*) FROM rejected_rows"), [(0,)])
        got = sqlite_query(self.db, "SELECT symbol FROM price_bars WHERE ts = '2025-03-17T00:00:00Z' ORDER BY symbol")
        self.assertEqual([s for (s,) in got], sorted(STOCKS))

    def test_a_stop_during_the_grouped_answers_sends_nothing_more(self):
        self.seed(STOCKS)
        self.server.reset()
        set_fake_now(self.server, MONDAY)
        job = start(["etl-historical", "1Y", *STOCKS, "--database-url", f"sqlite:{self.db}"],
                    env=self.env(ETL_NOW=MONDAY, ETL_PROVIDERS_POLYGON_REQUESTS_PER_MINUTE="6"))
        try:
            wait_for(lambda: self.server.requests("polygon") or not job.running(), 10, message="a grouped request")
            self.assertTrue(job.running(), job.stderr_so_far())
            job.signal(signal.SIGTERM)
            res = job.wait(30)
        finally:
            job.kill()
        self.assertEqual(res.rc, 130, res.describe())
        self.assertEqual(self.per_symbol(), [], "no per-symbol request after the stop")
        self.assertEqual(len(self.grouped_dates()), 1, "the next grouped request waits 10 s: never sent")
        self.assertEqual(summary(res)["symbols"]["not_done"], len(STOCKS), res.describe())
        got = sqlite_query(self.db, "SELECT count(*) FROM price_bars WHERE ts = '2025-03-17T00:00:00Z'")
        self.assertEqual(got, [(0,)])

    def test_a_fallback_request_after_the_answers_keeps_the_rate_limit(self):
        # BTC fails at CoinGecko and falls back to Polygon after the grouped answers: that request waits one
        # interval of Polygon's limit (60/min: 1 s) after the last answer, as one Fetcher would have.
        self.seed(STOCKS)
        self.assertEqual(self.hist("1Y", "BTC").rc, 0)
        self.server.reset()
        set_fake_now(self.server, MONDAY)
        self.server.set_rules([{"match": "/coins/bitcoin/", "mode": "404"}])
        r = run(["etl-historical", "1Y", *STOCKS, "BTC", "--database-url", f"sqlite:{self.db}"],
                env=self.env(ETL_NOW=MONDAY, ETL_ROUTING_FALLBACK="polygon",
                             ETL_PROVIDERS_POLYGON_REQUESTS_PER_MINUTE="60"))
        self.assertEqual(r.rc, 0, r.describe())
        polygon = self.server.requests("polygon")
        grouped = [q["ts"] for q in polygon if "/grouped/" in q["path"]]
        btc = [q["ts"] for q in polygon if "/ticker/X:BTCUSD/" in q["path"]]
        # The second BTC request is its whole window: Polygon's closes are not the CoinGecko ones stored.
        self.assertEqual((len(grouped), len(btc)), (len(SPAN_SESSIONS), 2), [q["path"] for q in polygon])
        self.assertGreaterEqual(btc[0] - max(grouped), 0.95, "one interval of 60/min after the last answer")

    def test_few_symbols_and_indices_stay_per_symbol(self):
        self.seed(["AAPL", "MSFT", "^SPX"], tickers=["AAPL", "I:SPX", "MSFT"])
        r = self.hist("1Y", "AAPL", "MSFT", "^SPX", now=MONDAY)
        self.assertEqual(r.rc, 0, r.describe())
        self.assertEqual(self.grouped_dates(), [], "6 dates for 2 stocks: per symbol is cheaper")
        self.assertEqual(len(self.server.requests("polygon", contains="/ticker/")), 3)

    def test_crypto_routed_to_polygon_uses_the_crypto_grouped_answer(self):
        coins = ["BTC", "ETH", "SOL", "ADA", "XRP", "DOGE", "DOT", "LTC", "LINK", "AVAX"]
        r = self.hist("1Y", *coins, ETL_ROUTING_CRYPTO="polygon")
        self.assertEqual(r.rc, 0, r.describe())
        self.assertEqual(self.grouped_dates(), [])
        # Monday 21:00Z: Saturday, Sunday and Monday's UTC days are new for crypto (Monday's has not ended).
        r = self.hist("1Y", *coins, now=MONDAY, ETL_ROUTING_CRYPTO="polygon")
        self.assertEqual(r.rc, 0, r.describe())
        dates = sorted(self.grouped_dates())
        self.assertEqual(len(dates), len(set(dates)))
        self.assertTrue(all("/global/market/crypto/" in q["path"]
                            for q in self.server.requests("polygon", contains="/grouped/")))
        self.assertLess(len(dates), len(coins))
        self.assertEqual(self.per_symbol(), [])
        self.assertEqual(self.server.requests("coingecko"), [])


if __name__ == "__main__":
    unittest.main()
