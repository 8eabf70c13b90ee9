"""Crypto history beyond CoinGecko's plan (issue 11 point 3): CoinGecko's demo plan serves 365 days (the fake
server answers 401 / error 10012 for older ranges, as CoinGecko does), so a window that starts earlier is
fetched from the fallback (Yahoo BTC-USD) up to the plan's reach and from CoinGecko after it, each bar
keeping its source; a window wholly older fails that symbol with the reason unless the fallback serves it;
a window partly older without a fallback loads what the plan serves and warns."""
import json
import unittest
from datetime import date, timedelta
from decimal import Decimal
from urllib.parse import parse_qs, urlsplit

from harness import TODAY, ServerTestCase, all_days, run, sqlite_query, sqlite_runs, summary

REACH = TODAY - timedelta(days=364)          # 2024-03-15: the demo plan's 365 days end today
FIVE_YEARS = (date(2020, 3, 14), TODAY)
LIMIT = "before coingecko's demo plan reach 2024-03-15"
FIX = 'set routing.fallback = "yahoo" (a provider with older history), or providers.coingecko.plan = "pro"'


def epoch(d: date) -> int:
    return (d - date(1970, 1, 1)).days * 86400


class CryptoHistory(ServerTestCase):
    tmp_tag = "cryptohist"
    server_options = {"env": {"FAKE_CG_ENFORCE_365": "1"}}

    def hist(self, *args, **env):
        argv = ["etl-historical", *args, "--database-url", f"sqlite:{self.db}", "--report", str(self.report_file)]
        return run(argv, env=self.env(**env), cwd=self.tmp.path)

    def bars(self, symbol="BTC"):
        """(date, source, close) of the symbol's daily bars, oldest first."""
        rows = sqlite_query(self.db, "SELECT ts, source, close FROM price_bars WHERE symbol = ? AND timeframe = '1d' "
                                     "ORDER BY ts", (symbol,))
        return [(date.fromisoformat(ts[:10]), source, close) for ts, source, close in rows]

    def messages(self, r, level=None):
        return [o["msg"] for o in r.json_logs() if level is None or o.get("level") == level]

    def provider_closes(self, provider):
        """date -> close (Decimal, as the provider wrote it) in the bodies the fake server gives for the
        requests the run sent to `provider` (the bodies are a pure function of the request)."""
        out = {}
        for q in self.server.requests(provider):
            status, text = self.server.get(q["target"], headers={"User-Agent": "Mozilla/5.0 (e2e)"})
            self.assertEqual(status, 200, text)
            doc = json.loads(text, parse_float=Decimal, parse_int=Decimal)
            if provider == "coingecko":
                for ms, price in doc["prices"]:
                    if ms % 86400000 == 0:
                        out[date(1970, 1, 1) + timedelta(days=int(ms // 86400000))] = price
            else:
                res = doc["chart"]["result"][0]
                for ts, close in zip(res["timestamp"], res["indicators"]["quote"][0]["close"]):
                    out[date(1970, 1, 1) + timedelta(days=int(ts // 86400))] = close
        return out

    def test_5y_joins_yahoo_before_the_plan_reach_and_coingecko_after_it(self):
        r = self.hist("5Y", "BTC", ETL_ROUTING_FALLBACK="yahoo")
        self.assertEqual(r.rc, 0, r.describe())
        bars = self.bars()
        self.assertEqual([d for d, _, _ in bars], all_days(*FIVE_YEARS), "every day once, no gap at the boundary")
        self.assertEqual({d for d, s, _ in bars if s == "yahoo"}, set(all_days(FIVE_YEARS[0], REACH - timedelta(1))))
        self.assertEqual({d for d, s, _ in bars if s == "coingecko"}, set(all_days(REACH, TODAY)))
        # One request each; CoinGecko's starts at its reach (no 10012), Yahoo's ends there.
        cg = self.server.requests("coingecko")
        self.assertEqual([q["status"] for q in cg], [200])
        self.assertEqual(parse_qs(urlsplit(cg[0]["target"]).query)["from"], [str(epoch(REACH))])
        yh = self.server.requests("yahoo")
        self.assertEqual([q["status"] for q in yh], [200])
        q = parse_qs(urlsplit(yh[0]["target"]).query)
        self.assertEqual((q["period1"], q["period2"]), ([str(epoch(FIVE_YEARS[0]))], [str(epoch(REACH))]))
        # Each bar is its provider's: the closes on both sides of the boundary are exactly what each served.
        stored = {d: (s, Decimal(str(c))) for d, s, c in bars}
        yahoo, coingecko = self.provider_closes("yahoo"), self.provider_closes("coingecko")
        for d in (FIVE_YEARS[0], REACH - timedelta(1)):
            self.assertEqual(stored[d], ("yahoo", Decimal(str(float(yahoo[d])))), d)
        for d in (REACH, TODAY):
            self.assertEqual(stored[d], ("coingecko", Decimal(str(float(coingecko[d])))), d)
        self.assertIn(f"BTC: 2020-03-14 .. 2024-03-14 from yahoo ({LIMIT}), the rest from coingecko",
                      self.messages(r, "info"))
        self.assertEqual(summary(r)["failures"], [])
        run_ = sqlite_runs(self.db)[-1]
        self.assertEqual((run_["status"], run_["exit_code"], run_["symbols_ok"], run_["symbols_failed"]),
                         ("success", 0, 1, 0))
        # The same run again changes nothing.
        r = self.hist("5Y", "BTC", "--full", ETL_ROUTING_FALLBACK="yahoo")
        self.assertEqual(r.rc, 0, r.describe())
        rows = self.report()["rows"]
        self.assertEqual((rows["inserted"], rows["updated"], rows["unchanged"]), (0, 0, len(bars)))
        self.assertEqual(self.bars(), bars)

    def test_coingecko_failing_for_the_recent_part_falls_back_to_yahoo_for_the_whole_window(self):
        self.server.set_rules([{"match": "/coins/bitcoin/", "mode": "500"}])
        r = self.hist("5Y", "BTC", ETL_ROUTING_FALLBACK="yahoo")
        self.assertEqual(r.rc, 0, r.describe())
        bars = self.bars()
        self.assertEqual([d for d, _, _ in bars], all_days(*FIVE_YEARS))
        self.assertEqual({s for _, s, _ in bars}, {"yahoo"})
        self.assertEqual([q["status"] for q in self.server.requests("coingecko")], [500, 500, 500])
        yh = self.server.requests("yahoo")
        self.assertEqual(len(yh), 1, "the older part is not fetched before the recent part succeeds")
        q = parse_qs(urlsplit(yh[0]["target"]).query)
        self.assertEqual((q["period1"], q["period2"]), ([str(epoch(FIVE_YEARS[0]))], [str(epoch(TODAY + timedelta(1)))]))

    def test_fallback_failing_for_the_older_part_keeps_what_the_plan_serves(self):
        """Yahoo does not know the coin: the symbol keeps CoinGecko's days, as without a fallback, and says so."""
        self.server.set_rules([{"match": "/v8/finance/chart/BTC-USD", "mode": "404"}])
        r = self.hist("5Y", "BTC", ETL_ROUTING_FALLBACK="yahoo")
        self.assertEqual(r.rc, 0, r.describe())
        bars = self.bars()
        self.assertEqual([d for d, _, _ in bars], all_days(REACH, TODAY))
        self.assertEqual({s for _, s, _ in bars}, {"coingecko"})
        # The joined fetch (CoinGecko, then Yahoo's 404), Yahoo for the whole window (404), CoinGecko alone.
        self.assertEqual([q["status"] for q in self.server.requests("coingecko")], [200, 200])
        self.assertEqual([q["status"] for q in self.server.requests("yahoo")], [404, 404])
        self.assertIn(f"BTC: 2020-03-14 .. 2024-03-14 not loaded ({LIMIT}; the fallback yahoo failed for them), "
                      "the rest from coingecko", self.messages(r, "warn"))

    def test_window_wholly_before_the_reach_without_fallback_fails_with_the_reason(self):
        r = self.hist("--from", "2023-01-01", "--to", "2023-06-30", "BTC")
        self.assertEqual(r.rc, 1, r.describe())
        why = f"2023-01-01 .. 2023-06-30 is {LIMIT} and no fallback provider is configured: {FIX}"
        self.assertIn(f"BTC: not fetched: {why}", self.messages(r, "warn"))
        self.assertEqual(self.bars(), [])
        self.assertEqual(self.server.requests("coingecko"), [], "nothing is asked that the plan refuses")
        rep = self.report()
        self.assertEqual((rep["exit_code"], rep["status"]), (1, "partial"))
        self.assertEqual([(f["symbol"], f["provider"], f["kind"], f["error"]) for f in rep["failures"]],
                         [("BTC", "coingecko", "failed", why)])
        run_ = sqlite_runs(self.db)[-1]
        self.assertEqual((run_["status"], run_["exit_code"], run_["symbols_ok"], run_["symbols_failed"]),
                         ("partial", 1, 0, 1))
        self.assertIn(why, run_["error"] or "")

    def test_window_wholly_before_the_reach_comes_from_the_fallback(self):
        r = self.hist("--from", "2023-01-01", "--to", "2023-06-30", "BTC", ETL_ROUTING_FALLBACK="yahoo")
        self.assertEqual(r.rc, 0, r.describe())
        bars = self.bars()
        self.assertEqual([d for d, _, _ in bars], all_days(date(2023, 1, 1), date(2023, 6, 30)))
        self.assertEqual({s for _, s, _ in bars}, {"yahoo"})
        self.assertEqual(self.server.requests("coingecko"), [])
        self.assertIn(f"BTC: 2023-01-01 .. 2023-06-30 from yahoo ({LIMIT})", self.messages(r, "info"))

    def test_window_partly_before_the_reach_without_fallback_loads_the_plan_and_warns(self):
        r = self.hist("5Y", "BTC")
        self.assertEqual(r.rc, 0, r.describe())
        bars = self.bars()
        self.assertEqual([d for d, _, _ in bars], all_days(REACH, TODAY))
        self.assertEqual({s for _, s, _ in bars}, {"coingecko"})
        self.assertEqual([q["status"] for q in self.server.requests("coingecko")], [200])
        self.assertEqual(self.server.requests("yahoo"), [])
        self.assertIn(f"BTC: 2020-03-14 .. 2024-03-14 is {LIMIT} and not loaded: no fallback provider is "
                      f"configured: {FIX}", self.messages(r, "warn"))


if __name__ == "__main__":
    unittest.main()
