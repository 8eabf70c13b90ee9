"""etl-historical's incremental range runs against the fake Polygon server: a second 1Y run asks only from
the last fetch.revision_sessions stored sessions on, a symbol with nothing missing costs no request,
a gap inside the window is fetched, --full fetches every window whole, and history the provider has
rescaled (a split) is refetched whole in the same run with one line saying why. The summary and the report
show the requests made and saved. SQLite always; PostgreSQL when PG* is set (IncrementalPg)."""
import unittest
from datetime import date

from harness import NOW, ServerTestCase, as_decimal, run, set_fake_now, sqlite_query, summary

MONDAY = "2025-03-17T21:00:00Z"           # the session after NOW's (Friday 2025-03-14) has closed


def aggs_span(req) -> tuple[str, str]:
    """(from, to) of a Polygon aggregates request: /v2/aggs/ticker/T/range/1/day/FROM/TO."""
    parts = req["path"].split("/")
    return parts[-2], parts[-1]


class IncrementalSqlite(ServerTestCase):
    tmp_tag = "incr"

    def url(self) -> str:
        return f"sqlite:{self.db}"

    def query(self, sql: str) -> list[tuple]:
        return sqlite_query(self.db, sql)

    def delete_bar(self, symbol: str, day: str):
        import sqlite3
        con = sqlite3.connect(self.db)
        try:
            con.execute("DELETE FROM price_bars WHERE symbol = ? AND ts = ?", (symbol, f"{day}T00:00:00Z"))
            con.commit()
        finally:
            con.close()

    def day_of(self, ts) -> str:
        return str(ts)[:10]

    def closes(self, symbol: str) -> dict[str, object]:
        return {self.day_of(ts): as_decimal(c) for ts, c in self.query(
            f"SELECT ts, close FROM price_bars WHERE symbol = '{symbol}' AND timeframe = '1d' ORDER BY ts")}

    def hist(self, *args, now=NOW, **env):
        set_fake_now(self.server, now)
        self.server.reset()
        set_fake_now(self.server, now)
        report = self.tmp.path / "report.json" if not self.pg_tag else None
        argv = ["etl-historical", *args, "--database-url", self.url()]
        if report:
            argv += ["--report", str(report)]
        r = run(argv, env=self.env(ETL_NOW=now, **env))
        self.last_report = report
        return r

    def requests(self, symbol: str) -> list[dict]:
        return self.server.requests("polygon", contains=f"/ticker/{symbol}/")

    def assert_requests_line(self, r, made: int, saved: int):
        self.assertEqual(summary(r)["requests"], {"made": made, "saved": saved}, r.describe())
        if self.last_report:
            self.assertEqual(self.report()["requests"], {"made": made, "saved": saved})

    # ---- the second run of the day after ----

    def test_next_day_asks_with_the_last_revision_sessions(self):
        r = self.hist("1Y", "AAPL", "MSFT")
        self.assertEqual(r.rc, 0, r.describe())
        self.assertEqual([aggs_span(q) for q in self.requests("AAPL")], [("2024-03-14", "2025-03-14")])
        self.assert_requests_line(r, 2, 0)
        before = self.closes("AAPL")
        r = self.hist("1Y", "AAPL", "MSFT", now=MONDAY)
        self.assertEqual(r.rc, 0, r.describe())
        # Last stored 2025-03-14; the last 5 stored sessions: 03-14, 03-13, 03-12, 03-11, 03-10; new: 03-17.
        for sym in ("AAPL", "MSFT"):
            with self.subTest(symbol=sym):
                self.assertEqual([aggs_span(q) for q in self.requests(sym)], [("2025-03-10", "2025-03-17")])
        self.assert_requests_line(r, 2, 0)
        after = self.closes("AAPL")
        self.assertEqual(set(after) - set(before), {"2025-03-17"})
        self.assertEqual({d: after[d] for d in before}, before, "nothing else changed")
        if self.last_report:
            rows = self.report()["rows"]
            self.assertEqual((rows["inserted"], rows["updated"], rows["unchanged"]), (2, 0, 10))

    def test_revision_sessions_setting(self):
        self.assertEqual(self.hist("1Y", "AAPL").rc, 0)
        r = self.hist("1Y", "AAPL", now=MONDAY, ETL_FETCH_REVISION_SESSIONS="2")
        self.assertEqual(r.rc, 0, r.describe())
        self.assertEqual([aggs_span(q) for q in self.requests("AAPL")], [("2025-03-13", "2025-03-17")])
        # 1 would compare one day only, which cannot tell a split from a revised close: refused.
        for n in ("1", "0"):
            r = self.hist("1Y", "AAPL", now=MONDAY, ETL_FETCH_REVISION_SESSIONS=n)
            self.assertEqual(r.rc, 78, r.describe())
            self.assertIn("fetch.revision_sessions", r.stderr)

    def test_a_widened_range_says_its_head_is_not_fetched(self):
        self.assertEqual(self.hist("1M", "AAPL").rc, 0)
        r = self.hist("1Y", "AAPL")
        self.assertEqual(r.rc, 0, r.describe())
        warned = [l["msg"] for l in r.json_logs() if l["level"] == "warn"]
        self.assertEqual(len(warned), 1, r.describe())
        self.assertIn("1 symbol(s) hold no bars at the start of the window (AAPL from 2025-02-14)", warned[0])
        self.assertIn("--full", warned[0])
        self.assertEqual(self.server.requests("polygon"), [], "taken as its whole history: no request")

    def test_up_to_date_symbols_cost_no_request(self):
        self.assertEqual(self.hist("1Y", "AAPL", "MSFT").rc, 0)
        before = self.closes("AAPL")
        r = self.hist("1Y", "AAPL", "MSFT")
        self.assertEqual(r.rc, 0, r.describe())
        self.assertEqual(self.server.requests("polygon"), [])
        self.assert_requests_line(r, 0, 2)
        self.assertIn("incremental: 2 symbol(s) up to date (no request), 0 from their last stored bar, 0 whole",
                      r.stderr)
        self.assertEqual(self.closes("AAPL"), before)
        if self.last_report:
            self.assertEqual(self.report()["symbols"]["ok"], 2)
        # A new symbol beside an up-to-date one: only it is fetched, whole.
        r = self.hist("1Y", "AAPL", "GOOG")
        self.assertEqual(r.rc, 0, r.describe())
        self.assertEqual(self.requests("AAPL"), [])
        self.assertEqual([aggs_span(q) for q in self.requests("GOOG")], [("2024-03-14", "2025-03-14")])
        self.assert_requests_line(r, 1, 1)

    def test_a_bar_stored_before_its_close_is_fetched_again(self):
        self.assertEqual(self.hist("1Y", "AAPL", "MSFT").rc, 0)
        # As if AAPL's 2025-03-14 bar had been written at 14:00 EDT, during the session.
        sql = ("UPDATE price_bars SET ingested_at = '2025-03-14T18:00:00Z' WHERE symbol = 'AAPL' "
               "AND ts = '2025-03-14T00:00:00Z'")
        if self.pg_tag:
            self.db.raw(sql)
        else:
            import sqlite3
            con = sqlite3.connect(self.db)
            con.execute(sql)
            con.commit()
            con.close()
        r = self.hist("1Y", "AAPL", "MSFT")
        self.assertEqual(r.rc, 0, r.describe())
        # The partial bar counts as missing: the last complete one is 03-13; its last 5 sessions start 03-07.
        self.assertEqual([aggs_span(q) for q in self.requests("AAPL")], [("2025-03-07", "2025-03-14")])
        self.assertEqual(self.requests("MSFT"), [])
        self.assert_requests_line(r, 1, 1)

    def test_gap_inside_the_window_is_fetched(self):
        self.assertEqual(self.hist("1Y", "AAPL").rc, 0)
        before = self.closes("AAPL")
        self.delete_bar("AAPL", "2024-12-10")
        r = self.hist("1Y", "AAPL")
        self.assertEqual(r.rc, 0, r.describe())
        self.assertEqual([aggs_span(q) for q in self.requests("AAPL")], [("2024-12-10", "2025-03-14")])
        self.assertEqual(self.closes("AAPL"), before)

    def test_full_fetches_the_whole_window(self):
        self.assertEqual(self.hist("1Y", "AAPL").rc, 0)
        r = self.hist("1Y", "AAPL", "--full")
        self.assertEqual(r.rc, 0, r.describe())
        self.assertEqual([aggs_span(q) for q in self.requests("AAPL")], [("2024-03-14", "2025-03-14")])
        self.assert_requests_line(r, 1, 0)
        self.assertNotIn("incremental:", r.stderr)

    def test_rescaled_history_is_refetched_whole(self):
        self.assertEqual(self.hist("1Y", "AAPL", "MSFT").rc, 0)
        before = self.closes("AAPL")
        # Polygon now adjusts AAPL's history for a 4:1 split.
        self.server.reset()
        self.server.set_rules([{"match": "/ticker/AAPL/", "mode": "scale", "factor": 0.25}])
        set_fake_now(self.server, MONDAY)
        argv = ["etl-historical", "1Y", "AAPL", "MSFT", "--database-url", self.url()]
        if self.last_report:
            argv += ["--report", str(self.last_report)]
        r = run(argv, env=self.env(ETL_NOW=MONDAY))
        self.assertEqual(r.rc, 0, r.describe())
        self.assertEqual([aggs_span(q) for q in self.requests("AAPL")],
                         [("2025-03-10", "2025-03-17"), ("2024-03-17", "2025-03-17")])
        self.assertEqual([aggs_span(q) for q in self.requests("MSFT")], [("2025-03-10", "2025-03-17")])
        self.assertIn("AAPL: stored history differs from polygon's by a factor 4.000 over 5 overlapping sessions "
                      "(split?); refetching 1Y (2024-03-17 .. 2025-03-17)", r.stderr)
        self.assertNotIn("MSFT: stored history differs", r.stderr)
        after = self.closes("AAPL")
        for d in ("2024-03-18", "2024-12-10", "2025-03-07", "2025-03-14"):
            with self.subTest(day=d):
                self.assertAlmostEqual(float(after[d]), float(before[d]) * 0.25, delta=1e-4 * float(before[d]))
        self.assert_requests_line(r, 3, 0)
        if self.last_report:
            self.assertEqual(self.report()["symbols"], {"requested": 2, "ok": 2, "failed": 0, "no_data": 0,
                                                        "not_done": 0})

    def test_one_revised_close_is_a_normal_update(self):
        self.assertEqual(self.hist("1Y", "AAPL").rc, 0)
        # A stored close that differs on one overlap day (as if the provider revised it): no refetch.
        if self.pg_tag:
            self.db.raw("UPDATE price_bars SET close = close + 0.01 WHERE symbol = 'AAPL' AND ts = '2025-03-12'")
        else:
            import sqlite3
            con = sqlite3.connect(self.db)
            con.execute("UPDATE price_bars SET close = close + 0.01 WHERE symbol = 'AAPL' "
                        "AND ts = '2025-03-12T00:00:00Z'")
            con.commit()
            con.close()
        r = self.hist("1Y", "AAPL", now=MONDAY)
        self.assertEqual(r.rc, 0, r.describe())
        self.assertEqual(len(self.requests("AAPL")), 1)
        self.assertNotIn("stored history differs", r.stderr)
        if self.last_report:
            rows = self.report()["rows"]
            self.assertEqual((rows["inserted"], rows["updated"]), (1, 1))


class IncrementalPg(IncrementalSqlite):
    pg_tag = "incr"

    def url(self) -> str:
        return self.db.url

    def query(self, sql: str) -> list[tuple]:
        return self.db.query(sql.replace("SELECT ts,", "SELECT to_char(ts AT TIME ZONE 'UTC', 'YYYY-MM-DD'),"))

    def delete_bar(self, symbol: str, day: str):
        self.db.raw(f"DELETE FROM price_bars WHERE symbol = '{symbol}' AND ts = '{day}T00:00:00Z'")


if __name__ == "__main__":
    unittest.main()
