"""etl-latest on Polygon grouped daily (issue 11 point 2).

Three or more stocks (or crypto pairs routed to Polygon) cost one grouped request per date, two in all,
whatever their number; what the grouped answers lack (an index, a renamed ticker) and a grouped request
that fails are asked for one symbol at a time. The rows and cache entries are those the per-symbol path
writes for the same data. SQLite files; the fake server's clock is pinned to each run's ETL_NOW unless a
test says otherwise.
"""
import json
import unittest
from decimal import Decimal

from harness import ETL_LATEST, JobTestCase, as_decimal as dec, sqlite_query, sqlite_runs

STOCKS = ["AAPL", "MSFT", "NVDA", "AMZN", "GOOGL", "META", "SPY", "BRK.B"]
CRYPTO = ["BTC", "ETH", "SOL"]
FRIDAY_AFTER_CLOSE = "2025-03-14T21:00:00Z"


class GroupedLatestTest(JobTestCase):
    tmp_tag = "grouped"
    api_key = "pk_e2e_grouped"

    def latest(self, *args, **kw):
        return self.run_job(ETL_LATEST, *args, **kw)

    def rows(self) -> dict[str, dict]:
        out = {}
        for sym, price, prev, change, pct, as_of, source in sqlite_query(
                self.db, "SELECT symbol, price, previous_close, change, change_pct, as_of, source FROM latest_prices"):
            out[sym] = dict(price=dec(price), previous_close=dec(prev), change=dec(change), change_pct=dec(pct),
                            as_of=as_of, source=source)
        return out

    def cache(self) -> dict[str, dict]:
        if not self.redis:
            return {}
        return {k: json.loads(self.redis.get(k), parse_float=Decimal, parse_int=Decimal)
                for k in self.redis.keys("latest_price:*")}

    def polygon_paths(self) -> list[str]:
        return [q["path"] for q in self.server.requests("polygon")]

    def range_closes(self, ticker, frm, to) -> list[Decimal]:
        """The closes the per-symbol endpoint serves for ticker, newest first."""
        status, body = self.server.get(f"/v2/aggs/ticker/{ticker}/range/1/day/{frm}/{to}?adjusted=true&sort=desc",
                                       headers={"Authorization": f"Bearer {self.api_key}"})
        self.assertEqual(status, 200, body)
        return [r["c"] for r in json.loads(body, parse_float=Decimal, parse_int=Decimal).get("results", [])]

    def per_symbol_reference(self, symbols, now, fake_now=None, **env):
        """latest_prices and the cache as the per-symbol path writes them: two symbols a run (the grouped
        path starts at three), into a fresh database. Restores self.db and the request log afterwards."""
        saved = self.db
        self.db = self.tmp.path / "per_symbol.db"
        if self.redis:
            self.redis.command("FLUSHALL")
        try:
            for i in range(0, len(symbols), 2):
                r = self.latest(*symbols[i:i + 2], now=now, fake_now=fake_now, **env)
                self.assertEqual(r.rc, 0, r.describe())
            paths = self.polygon_paths()
            self.assertFalse([p for p in paths if "/grouped/" in p], paths)
            return self.rows(), self.cache()
        finally:
            self.db = saved
            self.server.reset()
            if self.redis:
                self.redis.command("FLUSHALL")

    # ---- cost and values

    def test_eight_stocks_cost_two_grouped_requests_and_match_the_per_symbol_path(self):
        want_rows, want_cache = self.per_symbol_reference(STOCKS, FRIDAY_AFTER_CLOSE)
        self.assertEqual(sorted(want_rows), sorted(STOCKS))
        r = self.latest(*STOCKS, now=FRIDAY_AFTER_CLOSE)
        self.assertEqual(r.rc, 0, r.describe())
        self.assertEqual(self.polygon_paths(), ["/v2/aggs/grouped/locale/us/market/stocks/2025-03-14",
                                                "/v2/aggs/grouped/locale/us/market/stocks/2025-03-13"])
        for q in self.server.requests("polygon"):
            self.assertEqual(q["query"].get("adjusted"), "true")
            self.assertEqual(q["headers"].get("authorization"), f"Bearer {self.api_key}")
        rows = self.rows()
        self.assertEqual(rows, want_rows)
        # And they are the provider's numbers: Friday's close, Thursday's, the 16:00 EDT close.
        for sym in STOCKS:
            with self.subTest(symbol=sym):
                closes = self.range_closes(sym, "2025-03-10", "2025-03-14")
                self.assertEqual(rows[sym]["price"], closes[0])
                self.assertEqual(rows[sym]["previous_close"], closes[1])
                self.assertEqual(rows[sym]["as_of"], "2025-03-14T20:00:00Z")
                self.assertEqual(rows[sym]["source"], "polygon")
        if self.redis:
            self.assertEqual(self.cache(), want_cache)
            self.assertEqual(len(want_cache), len(STOCKS))
        rep = self.report()
        self.assertEqual((rep["symbols"]["ok"], rep["symbols"]["failed"]), (8, 0))
        self.assertEqual(sqlite_runs(self.db)[-1]["status"], "success")

    def test_two_stocks_stay_per_symbol(self):
        r = self.latest("AAPL", "MSFT", now=FRIDAY_AFTER_CLOSE)
        self.assertEqual(r.rc, 0, r.describe())
        paths = sorted(self.polygon_paths())
        self.assertEqual(len(paths), 2)
        self.assertTrue(all("/v2/aggs/ticker/" in p for p in paths), paths)

    def test_an_index_is_asked_for_on_its_own(self):
        symbols = STOCKS + ["I:SPX"]
        want_rows, want_cache = self.per_symbol_reference(symbols, FRIDAY_AFTER_CLOSE)
        r = self.latest(*symbols, now=FRIDAY_AFTER_CLOSE)
        self.assertEqual(r.rc, 0, r.describe())
        paths = self.polygon_paths()
        self.assertEqual(len(paths), 3, paths)
        self.assertEqual(sum("/grouped/locale/us/market/stocks/" in p for p in paths), 2, paths)
        self.assertIn("/v2/aggs/ticker/I:SPX/range/1/day/2025-02-28/2025-03-14", paths)
        self.assertEqual(self.rows(), want_rows)
        self.assertEqual(self.rows()["I:SPX"]["price"], self.range_closes("I:SPX", "2025-03-10", "2025-03-14")[0])
        if self.redis:
            self.assertEqual(self.cache(), want_cache)

    def test_a_ticker_the_grouped_answer_lacks_falls_back_to_its_own_request(self):
        # NVDA is missing from the market (a renamed ticker, say): the grouped answers have the other seven.
        want_rows, _ = self.per_symbol_reference(STOCKS, FRIDAY_AFTER_CLOSE)
        self.server._call("POST", "/__control/grouped", {"stocks": [s for s in STOCKS if s != "NVDA"] + ["TSLA"]})
        r = self.latest(*STOCKS, now=FRIDAY_AFTER_CLOSE)
        self.assertEqual(r.rc, 0, r.describe())
        paths = self.polygon_paths()
        self.assertEqual(len(paths), 3, paths)
        self.assertEqual(paths[2], "/v2/aggs/ticker/NVDA/range/1/day/2025-02-28/2025-03-14")
        self.assertEqual(self.rows(), want_rows)
        self.assertIn("not in the whole-market answers", r.stderr)

    def test_a_failing_grouped_request_falls_back_to_per_symbol_requests(self):
        want_rows, _ = self.per_symbol_reference(STOCKS, FRIDAY_AFTER_CLOSE)
        self.server.set_rules([{"match": "/grouped/", "mode": "500"}])
        r = self.latest(*STOCKS, now=FRIDAY_AFTER_CLOSE)
        self.assertEqual(r.rc, 0, r.describe())
        paths = self.polygon_paths()
        grouped = [p for p in paths if "/grouped/" in p]
        self.assertEqual(len(grouped), 3, "1 request + ETL_FETCH_MAX_RETRIES=2")
        self.assertEqual(sorted(p.split("/")[4] for p in paths if "/grouped/" not in p), sorted(STOCKS))
        self.assertEqual(self.rows(), want_rows)
        self.assertIn("polygon whole-market answer failed", r.stderr)

    def test_a_rejected_key_fails_every_symbol_without_per_symbol_requests(self):
        self.server.set_rules([{"match": "/grouped/", "mode": "401"}])
        r = self.latest(*STOCKS, now=FRIDAY_AFTER_CLOSE)
        self.assertEqual(r.rc, 78, r.describe())
        self.assertEqual(self.polygon_paths(), ["/v2/aggs/grouped/locale/us/market/stocks/2025-03-14"])
        self.assertEqual(self.rows(), {})
        self.assertEqual(sorted(f["symbol"] for f in self.report()["failures"]), sorted(STOCKS))

    # ---- validation and rejects

    def test_a_malformed_grouped_row_is_rejected_and_fails_only_its_symbol(self):
        status, body = self.server.get("/v2/aggs/grouped/locale/us/market/stocks/2025-03-14?adjusted=true",
                                       headers={"Authorization": f"Bearer {self.api_key}"})
        self.assertEqual(status, 200)
        doc = json.loads(body)
        for row in doc["results"]:
            if row["T"] == "MSFT":
                del row["c"]
        self.server.reset()
        self.server.set_rules([{"match": "/grouped/locale/us/market/stocks/2025-03-14", "mode": "raw",
                                "body": json.dumps(doc)}])
        r = self.latest(*STOCKS, now=FRIDAY_AFTER_CLOSE)
        self.assertEqual(r.rc, 1, r.describe())
        self.assertEqual(len(self.polygon_paths()), 2, "a reject is not a reason to ask again")
        self.assertEqual(sorted(self.rows()), sorted(s for s in STOCKS if s != "MSFT"))
        rejects = sqlite_query(self.db, "SELECT symbol, source, reason, raw FROM rejected_rows")
        self.assertEqual(len(rejects), 1, rejects)
        symbol, source, reason, raw = rejects[0]
        self.assertEqual((symbol, source, reason), ("MSFT", "polygon", "missing field c"))
        self.assertEqual(json.loads(raw)["T"], "MSFT")
        rep = self.report()
        self.assertEqual([f["symbol"] for f in rep["failures"]], ["MSFT"])
        self.assertIn("rejected_rows", rep["failures"][0]["error"])

    def test_exact_decimals_from_the_grouped_answer(self):
        self.need_redis()
        status, body = self.server.get("/v2/aggs/grouped/locale/us/market/stocks/2025-03-14?adjusted=true",
                                       headers={"Authorization": f"Bearer {self.api_key}"})
        self.assertEqual(status, 200)
        start = body.index('"T":"AAPL"')
        c_at = body.index('"c":', start)
        text = body[:c_at] + '"c":213.4900' + body[body.index(",", c_at):]
        self.server.reset()
        self.server.set_rules([{"match": "/grouped/locale/us/market/stocks/2025-03-14", "mode": "raw", "body": text}])
        r = self.latest(*STOCKS, now=FRIDAY_AFTER_CLOSE)
        self.assertEqual(r.rc, 0, r.describe())
        # The literal as Polygon wrote it, not a double's rendering of it.
        self.assertIn('"price":213.4900,', self.redis.get("latest_price:AAPL"))
        self.assertEqual(self.rows()["AAPL"]["price"], Decimal("213.49"))

    # ---- dates

    def test_the_newest_date_not_published_steps_back_one_session(self):
        # Friday 11:00 EDT with the fake's clock on Thursday night: Friday's grouped answer is empty.
        now, fake_now = "2025-03-14T15:00:00Z", "2025-03-14T03:00:00Z"
        want_rows, _ = self.per_symbol_reference(STOCKS, now, fake_now)
        r = self.latest(*STOCKS, now=now, fake_now=fake_now)
        self.assertEqual(r.rc, 0, r.describe())
        self.assertEqual([p.rsplit("/", 1)[1] for p in self.polygon_paths()], ["2025-03-14", "2025-03-13", "2025-03-12"])
        rows = self.rows()
        self.assertEqual(rows, want_rows)
        self.assertEqual(rows["AAPL"]["as_of"], "2025-03-13T20:00:00Z")

    def test_good_friday_asks_for_thursday_and_wednesday(self):
        r = self.latest(*STOCKS, now="2025-04-18T14:00:00Z", fake_now="2025-04-17T23:00:00Z")
        self.assertEqual(r.rc, 0, r.describe())
        self.assertEqual([p.rsplit("/", 1)[1] for p in self.polygon_paths()], ["2025-04-17", "2025-04-16"])
        self.assertEqual(self.rows()["MSFT"]["as_of"], "2025-04-17T20:00:00Z")

    # ---- crypto on Polygon

    def test_crypto_routed_to_polygon_uses_the_crypto_grouped_endpoint(self):
        want_rows, want_cache = self.per_symbol_reference(CRYPTO, FRIDAY_AFTER_CLOSE, ETL_ROUTING_CRYPTO="polygon")
        r = self.latest(*CRYPTO, now=FRIDAY_AFTER_CLOSE, ETL_ROUTING_CRYPTO="polygon")
        self.assertEqual(r.rc, 0, r.describe())
        self.assertEqual(self.polygon_paths(), ["/v2/aggs/grouped/locale/global/market/crypto/2025-03-14",
                                                "/v2/aggs/grouped/locale/global/market/crypto/2025-03-13"])
        self.assertEqual(self.server.requests("coingecko"), [])
        rows = self.rows()
        self.assertEqual(sorted(rows), sorted(CRYPTO))
        self.assertEqual(rows, want_rows)
        self.assertEqual(rows["BTC"]["price"], self.range_closes("X:BTCUSD", "2025-03-12", "2025-03-14")[0])
        if self.redis:
            self.assertEqual(self.cache(), want_cache)


if __name__ == "__main__":
    unittest.main()
