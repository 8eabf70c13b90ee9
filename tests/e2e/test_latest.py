"""etl-latest end to end.

latest_prices and latest_price:{SYMBOL} hold what the providers served (Polygon's last two daily
aggregates, CoinGecko's /simple/price in one batch, Yahoo's chart meta), with the as-of time of the right
session close across holidays, early closes, weekends, the open and the DST week. Also --market-hours-only,
Redis down / wrong password, 429 storms, unknown coins, bad keys, and re-runs that change nothing.
PostgreSQL for the value checks, SQLite files elsewhere. The fake server's clock is pinned to each run's
ETL_NOW unless a test says otherwise.
"""
import json
import math
import unittest
from datetime import datetime, timezone
from decimal import Decimal
from zoneinfo import ZoneInfo

from harness import (ETL_LATEST, FakeServer, JobTestCase, PgDatabase, RedisServer, as_decimal as dec, clean_env,
                     free_redis_url, read_report, run, set_fake_now, sqlite_query, sqlite_runs, summary)

ET = ZoneInfo("America/New_York")
UTC = timezone.utc
LATEST_TTL = 180
CACHE_FIELDS = {"symbol", "price", "previous_close", "change", "change_pct", "as_of", "source"}


def iso_from_unix(seconds) -> str:
    return datetime.fromtimestamp(int(seconds), UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def et_date_of_ms(t_ms) -> str:
    return datetime.fromtimestamp(int(t_ms) // 1000, ET).date().isoformat()


def round_half_away(x: float) -> float:
    return math.copysign(math.floor(abs(x) + 0.5), x)


class LatestTest(JobTestCase):
    """One fake server and one Redis for the class; a fresh database, request log and cache per test."""

    tmp_tag = "latest"
    api_key = "pk_e2e_latest"

    # ---- helpers

    def latest(self, *args, **kw):
        """Runs etl-latest (see JobTestCase.run_job)."""
        return self.run_job(ETL_LATEST, *args, **kw)

    def rows(self) -> dict[str, dict]:
        """latest_prices from the SQLite file, by symbol."""
        out = {}
        for sym, price, prev, change, pct, as_of, source in sqlite_query(
                self.db, "SELECT symbol, price, previous_close, change, change_pct, as_of, source FROM latest_prices"):
            out[sym] = dict(price=dec(price), previous_close=dec(prev), change=dec(change), change_pct=dec(pct),
                            as_of=as_of, source=source)
        return out

    def cached(self, symbol):
        raw = self.redis.get(f"latest_price:{symbol}")
        return None if raw is None else json.loads(raw, parse_float=Decimal, parse_int=Decimal)

    def polygon_served(self, symbol) -> list[dict]:
        """The daily bars the binary got for symbol (its one request, asked again), newest first."""
        reqs = [q for q in self.server.requests("polygon") if f"/ticker/{symbol}/range/1/day/" in q["path"]]
        self.assertEqual(len(reqs), 1, reqs)
        self.assertEqual(reqs[0]["query"].get("sort"), "desc")
        status, body = self.server.get(reqs[0]["target"])
        self.assertEqual(status, 200)
        return json.loads(body, parse_float=Decimal, parse_int=Decimal).get("results") or []

    def coingecko_served(self) -> dict:
        reqs = self.server.requests("coingecko", contains="/simple/price")
        self.assertEqual(len(reqs), 1, "one batched /simple/price request")
        status, body = self.server.get(reqs[0]["target"])
        self.assertEqual(status, 200)
        return json.loads(body, parse_float=Decimal, parse_int=Decimal)

    def assert_quote(self, row, price, previous_close, as_of, source):
        self.assertEqual(row["price"], price)
        self.assertEqual(row["previous_close"], previous_close)
        self.assertEqual(row["as_of"], as_of)
        self.assertEqual(row["source"], source)
        self.assertEqual(row["change"], row["price"] - row["previous_close"])
        pct = round_half_away((float(row["price"]) - float(row["previous_close"])) / float(row["previous_close"])
                              * 1e6) / 1e4
        self.assertAlmostEqual(float(row["change_pct"]), pct, places=9)

    def assert_polygon_quote(self, symbol, row, session_date, prev_date, as_of):
        served = self.polygon_served(symbol)
        self.assertGreaterEqual(len(served), 2)
        self.assertEqual(et_date_of_ms(served[0]["t"]), session_date, "the fake served the expected newest bar")
        self.assertEqual(et_date_of_ms(served[1]["t"]), prev_date)
        self.assert_quote(row, served[0]["c"], served[1]["c"], as_of, "polygon")

    def assert_cache_matches(self, rows: dict, ttl=LATEST_TTL):
        for sym, row in rows.items():
            c = self.cached(sym)
            self.assertIsNotNone(c, f"latest_price:{sym} missing; keys: {self.redis.keys()}")
            self.assertEqual(set(c), CACHE_FIELDS)
            self.assertEqual(c["symbol"], sym)
            for k in ("price", "previous_close", "change", "change_pct", "as_of", "source"):
                self.assertEqual(c[k], row[k], f"{sym} {k}")
            t = self.redis.ttl(f"latest_price:{sym}")
            self.assertGreater(t, 0)
            self.assertLessEqual(t, ttl)

    # ---- values, PostgreSQL

    PG_SELECT = ("SELECT symbol, price::text, previous_close::text, change::text, change_pct::text, "
                 "to_char(as_of AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'), source, updated_at::text "
                 "FROM latest_prices ORDER BY symbol")

    def pg_rows(self, pg) -> dict[str, dict]:
        out = {}
        for sym, price, prev, change, pct, as_of, source, _ in pg.query(self.PG_SELECT):
            out[sym] = dict(price=dec(price), previous_close=dec(prev), change=dec(change), change_pct=dec(pct),
                            as_of=as_of, source=source)
        return out

    def test_latest_prices_match_the_provider_postgres(self):
        now = "2025-03-14T21:00:00Z"                     # Friday 17:00 EDT, after the close
        symbols = ["AAPL", "MSFT", "I:SPX", "BTC", "ETH", "SOL"]
        with PgDatabase("latest") as pg:
            r = self.latest(*symbols, now=now, database_url=pg.url)
            self.assertEqual(r.rc, 0, r.describe())
            rows = self.pg_rows(pg)
            self.assertEqual(sorted(rows), sorted(symbols))
            for sym in ("AAPL", "MSFT", "I:SPX"):
                with self.subTest(symbol=sym):
                    # 16:00 EDT close of Friday; the previous close is Thursday's.
                    self.assert_polygon_quote(sym, rows[sym], "2025-03-14", "2025-03-13", "2025-03-14T20:00:00Z")
            served = self.coingecko_served()
            self.assertEqual(set(served), {"bitcoin", "ethereum", "solana"})
            for sym, coin in (("BTC", "bitcoin"), ("ETH", "ethereum"), ("SOL", "solana")):
                with self.subTest(symbol=sym):
                    e = served[coin]
                    price = e["usd"]
                    prev = round_half_away(float(price) / (1 + float(e["usd_24h_change"]) / 100) * 1e8) / 1e8
                    row = rows[sym]
                    self.assertEqual(row["price"], price)
                    self.assertAlmostEqual(float(row["previous_close"]), prev, places=8)
                    self.assert_quote(row, price, row["previous_close"], iso_from_unix(e["last_updated_at"]),
                                      "coingecko")
                    self.assertLessEqual(row["as_of"], now)
            run_ = pg.runs()[-1]
            self.assertEqual((run_["status"], run_["exit_code"], run_["symbols_ok"], run_["rows_inserted"]),
                             ("success", "0", "6", "6"))
            if self.redis:
                self.assert_cache_matches(rows)

    def test_rerun_changes_nothing_postgres(self):
        now = "2025-03-15T15:00:00Z"
        symbols = ["AAPL", "I:SPX", "BTC", "ETH"]
        with PgDatabase("latest_rerun") as pg:
            r = self.latest(*symbols, now=now, database_url=pg.url)
            self.assertEqual(r.rc, 0, r.describe())
            before = pg.query(self.PG_SELECT)
            cached = {}
            if self.redis:
                cached = {k: self.redis.get(k) for k in self.redis.keys("latest_price:*")}
                self.assertEqual(len(cached), 4)
                self.redis.command("FLUSHALL")
            self.server.reset()
            r = self.latest(*symbols, now=now, database_url=pg.url)
            self.assertEqual(r.rc, 0, r.describe())
            rows = self.report()["rows"]
            self.assertEqual((rows["inserted"], rows["updated"], rows["unchanged"], rows["rejected"]), (0, 0, 4, 0))
            self.assertEqual(pg.query(self.PG_SELECT), before, "identical, updated_at included")
            run_ = pg.runs()[-1]
            self.assertEqual((run_["status"], run_["rows_inserted"], run_["rows_updated"], run_["rows_unchanged"]),
                             ("success", "0", "0", "4"))
            if self.redis:
                again = {k: self.redis.get(k) for k in self.redis.keys("latest_price:*")}
                self.assertEqual(again, cached, "Redis is written again with the same quotes")

    def test_changed_prices_count_as_updated_rows(self):
        r = self.latest("AAPL", "BTC", now="2025-03-14T21:00:00Z")
        self.assertEqual(r.rc, 0, r.describe())
        self.assertEqual(self.report()["rows"]["inserted"], 2)
        first = self.rows()
        self.server.reset()
        r = self.latest("AAPL", "BTC", now="2025-03-17T21:00:00Z")     # the next session
        self.assertEqual(r.rc, 0, r.describe())
        rows = self.rows()
        self.assertNotEqual(rows["AAPL"]["price"], first["AAPL"]["price"])
        self.assert_polygon_quote("AAPL", rows["AAPL"], "2025-03-17", "2025-03-14", "2025-03-17T20:00:00Z")
        rep = self.report()["rows"]
        self.assertEqual((rep["inserted"], rep["updated"], rep["unchanged"]), (0, 2, 0),
                         f"existing rows were updated, not inserted: {rep}")
        run_ = sqlite_runs(self.db)[-1]
        self.assertEqual((run_["rows_inserted"], run_["rows_updated"]), (0, 2))

    # ---- which close: holidays, early closes, weekends, before the open, DST

    def test_good_friday_reports_thursdays_close(self):
        # The fake knows no holidays; with its clock on Thursday evening it serves what Polygon serves on
        # Good Friday: nothing newer than Thursday's bar.
        r = self.latest("AAPL", now="2025-04-18T14:00:00Z", fake_now="2025-04-17T23:00:00Z")
        self.assertEqual(r.rc, 0, r.describe())
        row = self.rows()["AAPL"]
        self.assert_polygon_quote("AAPL", row, "2025-04-17", "2025-04-16", "2025-04-17T20:00:00Z")
        if self.redis:
            self.assert_cache_matches({"AAPL": row})

    def test_early_close_as_of_is_the_1300_close(self):
        # 12:00 EST, during the shortened session: as of now.
        r = self.latest("AAPL", now="2025-11-28T17:00:00Z")
        self.assertEqual(r.rc, 0, r.describe())
        served = self.polygon_served("AAPL")
        self.assertEqual(et_date_of_ms(served[0]["t"]), "2025-11-28")
        self.assert_quote(self.rows()["AAPL"], served[0]["c"], served[1]["c"], "2025-11-28T17:00:00Z", "polygon")
        # 14:00 EST, after the 13:00 close: as of the close, never the regular 16:00.
        self.server.reset()
        r = self.latest("AAPL", now="2025-11-28T19:00:00Z")
        self.assertEqual(r.rc, 0, r.describe())
        served = self.polygon_served("AAPL")
        row = self.rows()["AAPL"]
        self.assert_quote(row, served[0]["c"], served[1]["c"], "2025-11-28T18:00:00Z", "polygon")
        if self.redis:
            self.assert_cache_matches({"AAPL": row})

    def test_weekend_reports_fridays_close(self):
        r = self.latest("AAPL", now="2025-03-15T15:00:00Z")                # Saturday
        self.assertEqual(r.rc, 0, r.describe())
        self.assert_polygon_quote("AAPL", self.rows()["AAPL"], "2025-03-14", "2025-03-13", "2025-03-14T20:00:00Z")
        self.server.reset()
        r = self.latest("MSFT", now="2025-03-09T18:00:00Z")                # Sunday, the DST switch day
        self.assertEqual(r.rc, 0, r.describe())
        self.assert_polygon_quote("MSFT", self.rows()["MSFT"], "2025-03-07", "2025-03-06", "2025-03-07T21:00:00Z")

    def test_before_the_open_then_after_the_close_in_the_dst_week(self):
        # Monday 2025-03-10 08:00 EDT. The fake would serve a Monday bar as soon as 00:00 ET has passed;
        # with its clock on Sunday night it serves what an exchange feed has before trading: Friday's close.
        r = self.latest("AAPL", now="2025-03-10T12:00:00Z", fake_now="2025-03-10T03:00:00Z")
        self.assertEqual(r.rc, 0, r.describe())
        self.assert_polygon_quote("AAPL", self.rows()["AAPL"], "2025-03-07", "2025-03-06",
                                  "2025-03-07T21:00:00Z")                 # 16:00 EST
        self.server.reset()
        r = self.latest("AAPL", now="2025-03-10T21:00:00Z")               # Monday 17:00 EDT
        self.assertEqual(r.rc, 0, r.describe())
        self.assert_polygon_quote("AAPL", self.rows()["AAPL"], "2025-03-10", "2025-03-07",
                                  "2025-03-10T20:00:00Z")                 # 16:00 EDT

    def test_yahoo_quote_from_the_chart_meta(self):
        r = self.latest("AAPL", now="2025-03-15T15:00:00Z", ETL_ROUTING_STOCK="yahoo")
        self.assertEqual(r.rc, 0, r.describe())
        reqs = self.server.requests("yahoo", contains="/v8/finance/chart/AAPL")
        self.assertEqual(len(reqs), 1, reqs)
        status, body = self.server.get(reqs[0]["target"], headers={"User-Agent": "Mozilla/5.0"})
        self.assertEqual(status, 200)
        meta = json.loads(body, parse_float=Decimal, parse_int=Decimal)["chart"]["result"][0]["meta"]
        row = self.rows()["AAPL"]
        self.assertEqual(row["price"], meta["regularMarketPrice"])
        self.assertEqual(row["previous_close"], meta["previousClose"])
        self.assertEqual(row["source"], "yahoo")
        self.assertEqual(row["as_of"], "2025-03-14T20:00:00Z")

    # ---- failures

    def test_unknown_coingecko_id_fails_that_symbol_never_a_zero_price(self):
        add = run(["etl", "assets", "add", "FOO", "--class", "crypto", "--coingecko-id", "no-such-coin",
                   "--database-url", f"sqlite:{self.db}"], env=self.env("2025-03-14T21:00:00Z"), cwd=self.tmp.path)
        self.assertEqual(add.rc, 0, add.describe())
        r = self.latest("FOO", "BTC", "ETH", "AAPL", now="2025-03-14T21:00:00Z")
        self.assertEqual(r.rc, 1, r.describe())
        reqs = self.server.requests("coingecko", contains="/simple/price")
        self.assertEqual(len(reqs), 1, "one batch, not retried for the missing id")
        self.assertEqual(set(reqs[0]["query"]["ids"].split(",")), {"no-such-coin", "bitcoin", "ethereum"})
        rows = self.rows()
        self.assertEqual(sorted(rows), ["AAPL", "BTC", "ETH"])
        self.assertTrue(all(r_["price"] > 0 for r_ in rows.values()))
        rep = self.report()
        self.assertEqual([f["symbol"] for f in rep["failures"]], ["FOO"])
        self.assertEqual((rep["symbols"]["ok"], rep["symbols"]["failed"]), (3, 1))
        self.assertEqual(sqlite_runs(self.db)[-1]["status"], "partial")
        if self.redis:
            self.assertEqual(self.redis.keys(), ["latest_price:AAPL", "latest_price:BTC", "latest_price:ETH"])
        # Alone, it fails and writes nothing.
        self.server.reset()
        r = self.latest("FOO", now="2025-03-14T21:00:00Z")
        self.assertNotEqual(r.rc, 0, r.describe())
        self.assertNotIn("FOO", self.rows())

    def test_coingecko_price_literal_too_long_is_a_rejected_record_not_an_unknown_id(self):
        too_long = "87301.50000000000000000001"  # 26 characters: more than the 24 a decimal keeps
        body = ('{"bitcoin":{"usd":' + too_long + ',"last_updated_at":1741985940},'
                '"ethereum":{"usd":1911.5,"last_updated_at":1741985940}}')
        self.server.set_rules([{"match": "/simple/price", "mode": "raw", "body": body}])
        r = self.latest("BTC", "ETH", now="2025-03-14T21:00:00Z")
        self.assertEqual(r.rc, 1, r.describe())
        self.assertEqual(sorted(self.rows()), ["ETH"])
        self.assertIn("coingecko returned no valid price (see rejected_rows)", r.stderr)
        self.assertNotIn("unknown id", r.stderr)
        rejected = sqlite_query(self.db, "SELECT symbol, source, raw, reason FROM rejected_rows")
        self.assertEqual(rejected, [("BTC", "coingecko", '{"usd":' + too_long + '}',
                                     "usd has 26 characters, more than the 24 a decimal keeps")])

    def test_yahoo_price_literal_too_long_is_a_rejected_record_not_a_retry(self):
        too_long = "213.490000000000000000001"  # 25 characters: more than the 24 a decimal keeps
        body = ('{"chart":{"result":[{"meta":{"symbol":"AAPL","regularMarketPrice":' + too_long +
                ',"chartPreviousClose":209.68,"regularMarketTime":1741982400}}],"error":null}}')
        self.server.set_rules([{"match": "/v8/finance/chart/AAPL", "mode": "raw", "body": body}])
        r = self.latest("AAPL", "MSFT", now="2025-03-15T15:00:00Z", ETL_ROUTING_STOCK="yahoo")
        self.assertEqual(r.rc, 1, r.describe())
        self.assertEqual(sorted(self.rows()), ["MSFT"])
        self.assertIn("yahoo returned no valid price (see rejected_rows)", r.stderr)
        self.assertEqual(len(self.server.requests("yahoo", contains="/v8/finance/chart/AAPL")), 1, "never retried")
        rejected = sqlite_query(self.db, "SELECT symbol, source, raw, reason FROM rejected_rows")
        self.assertEqual(rejected, [("AAPL", "yahoo", '{"regularMarketPrice":' + too_long + '}',
                                     "meta.regularMarketPrice has 25 characters, more than the 24 a decimal keeps")])

    def test_429_storm_then_success(self):
        self.server.set_rules([{"match": "", "mode": "429", "times": 3, "retry_after": 1}])
        r = self.latest("AAPL", "MSFT", "BTC", "ETH", now="2025-03-14T21:00:00Z")
        self.assertEqual(r.rc, 0, r.describe())
        statuses = [q["status"] for q in self.server.requests()]
        self.assertEqual(statuses.count(429), 3, statuses)
        self.assertEqual(sorted(self.rows()), ["AAPL", "BTC", "ETH", "MSFT"])
        self.assertEqual(sqlite_runs(self.db)[-1]["status"], "success")
        if self.redis:
            self.assertEqual(len(self.redis.keys("latest_price:*")), 4)

    def test_every_request_429_is_unavailable_69(self):
        self.server.set_rules([{"match": "", "mode": "429", "retry_after": 1}])
        r = self.latest("AAPL", "BTC", now="2025-03-14T21:00:00Z")
        self.assertEqual(r.rc, 69, r.describe())
        self.assertEqual(len(self.server.requests("polygon")), 3, "1 request + ETL_FETCH_MAX_RETRIES=2")
        self.assertEqual(len(self.server.requests("coingecko")), 3)
        self.assertEqual(self.rows(), {})
        run_ = sqlite_runs(self.db)[-1]
        self.assertEqual((run_["status"], run_["exit_code"]), ("failed", 69))
        if self.redis:
            self.assertEqual(self.redis.keys(), [])

    def test_rejected_key_is_a_config_error_78(self):
        with FakeServer(polygon_key="pk_the_right_key") as fs:
            set_fake_now(fs, "2025-03-14T21:00:00Z")
            env = clean_env(ETL_NOW="2025-03-14T21:00:00Z", POLYGON_API_KEY="pk_a_wrong_key", **fs.env())
            r = run([ETL_LATEST, "AAPL", "MSFT", "--database-url", f"sqlite:{self.db}"], env=env, cwd=self.tmp.path)
            self.assertEqual(r.rc, 78, r.describe())
        self.assertNotIn("pk_a_wrong_key", r.stderr + r.stdout)
        self.assertEqual(self.rows(), {})

    def test_malformed_symbol_is_a_usage_error(self):
        r = self.latest("AAPL", "BAD SYMBOL", now="2025-03-14T21:00:00Z")
        self.assertEqual(r.rc, 64, r.describe())
        self.assertEqual(self.server.requests(), [])
        self.assertFalse(self.db.exists())

    def test_dry_run_writes_nothing(self):
        r = self.latest("AAPL", "BTC", "--dry-run", now="2025-03-14T21:00:00Z")
        self.assertEqual(r.rc, 0, r.describe())
        self.assertEqual(len(self.server.requests()), 2)
        if self.db.exists():
            self.assertEqual(self.rows(), {})
        if self.redis:
            self.assertEqual(self.redis.keys(), [])

    # ---- Redis

    def test_cache_ttl_is_configurable(self):
        self.need_redis()
        r = self.latest("AAPL", now="2025-03-14T21:00:00Z", ETL_REDIS_LATEST_TTL_SECONDS="600")
        self.assertEqual(r.rc, 0, r.describe())
        t = self.redis.ttl("latest_price:AAPL")
        self.assertGreater(t, LATEST_TTL)
        self.assertLessEqual(t, 600)

    def test_cache_is_written_in_one_round_trip(self):
        self.need_redis()
        symbols = ["AAPL", "MSFT", "I:SPX", "BTC", "ETH"]
        self.redis.command("CONFIG", "RESETSTAT")
        r = self.latest(*symbols, now="2025-03-14T21:00:00Z")
        self.assertEqual(r.rc, 0, r.describe())
        info = self.redis.command("INFO", "all")
        stats = dict(line.split(":", 1) for line in info.splitlines() if ":" in line)
        # Two connections since the reset: the binary's and the one asking for INFO.
        self.assertEqual(int(stats["total_connections_received"]), 2, "one connection for every key")
        sets = dict(kv.split("=") for kv in stats.get("cmdstat_set", "calls=0").split(","))
        self.assertEqual(int(sets["calls"]), len(symbols))
        self.assertEqual(self.redis.keys(), sorted(f"latest_price:{s}" for s in symbols))

    def assert_one_redis_warning(self, r):
        self.assertEqual(r.rc, 0, r.describe())
        warnings = [l for l in r.json_logs() if l.get("level") in ("warn", "error")]
        self.assertEqual(len(warnings), 1, r.describe())
        self.assertIn("redis", warnings[0]["msg"].lower())
        self.assertEqual(sorted(self.rows()), ["AAPL", "BTC"], "the database is written all the same")
        self.assertEqual(sqlite_runs(self.db)[-1]["status"], "success")
        # The failed cache is said in the summary, the report and etl_runs; the exit code stays 0.
        cache = summary(r)["cache"]
        self.assertRegex(cache, r"^failed \(.+\)$", r.describe())
        self.assertEqual(sqlite_runs(self.db)[-1]["error"], f"cache: {cache}")
        self.assertEqual(read_report(self.report_file)["cache"], cache)

    def test_no_redis_configured_is_fine(self):
        r = self.latest("AAPL", "BTC", now="2025-03-14T21:00:00Z", redis=None)
        self.assertEqual(r.rc, 0, r.describe())
        self.assertEqual(sorted(self.rows()), ["AAPL", "BTC"])
        self.assertEqual([l for l in r.json_logs() if l.get("level") in ("warn", "error")], [])

    def test_redis_down_warns_once_and_exits_0(self):
        r = self.latest("AAPL", "BTC", now="2025-03-14T21:00:00Z", redis=free_redis_url())
        self.assert_one_redis_warning(r)

    def test_redis_wrong_password_warns_once_and_exits_0(self):
        with RedisServer(password="right-pass") as rs:
            url = f"redis://:wrong-pass@127.0.0.1:{rs.port}/0"
            r = self.latest("AAPL", "BTC", now="2025-03-14T21:00:00Z", redis=url)
            self.assert_one_redis_warning(r)
            self.assertEqual(rs.keys(), [])
            self.assertNotIn("wrong-pass", r.stderr + r.stdout)

    def test_redis_down_and_database_unreachable_is_75(self):
        r = self.latest("AAPL", now="2025-03-14T21:00:00Z", redis=free_redis_url(),
                        database_url="postgresql://127.0.0.1:1/etl_e2e_nowhere?connect_timeout=5", report=False)
        self.assertEqual(r.rc, 75, r.describe())
        self.assertIn("database", r.stderr.lower())

    # ---- --market-hours-only

    def test_market_hours_only_equities_outside_the_session_exit_at_once(self):
        closed = ["2025-03-15T15:00:00Z",     # Saturday
                  "2025-04-18T14:00:00Z",     # Good Friday 10:00 EDT
                  "2025-03-10T12:00:00Z",     # Monday 08:00 EDT, before the open
                  "2025-11-28T19:00:00Z"]     # 14:00 EST, after an early close
        for now in closed:
            with self.subTest(now=now):
                r = self.latest("AAPL", "MSFT", "--market-hours-only", now=now)
                self.assertEqual(r.rc, 0, r.describe())
                lines = [l for l in r.stderr.splitlines() if l.strip()]
                self.assertEqual(len(lines), 1, r.describe())
                self.assertIn("market closed", lines[0].lower())
                self.assertEqual(self.server.requests(), [])
                self.assertFalse(self.db.exists(), "nothing written: not even the SQLite file is created")
                if self.redis:
                    self.assertEqual(self.redis.keys(), [])

    def test_market_hours_only_mixed_run_skips_the_equities(self):
        r = self.latest("AAPL", "BTC", "--market-hours-only", now="2025-04-18T14:00:00Z")
        self.assertEqual(r.rc, 0, r.describe())
        self.assertEqual(sorted(self.rows()), ["BTC"])
        self.assertEqual(self.server.requests("polygon"), [])
        run_ = sqlite_runs(self.db)[-1]
        self.assertEqual((run_["symbols_requested"], run_["status"]), (1, "success"))
        if self.redis:
            self.assertEqual(self.redis.keys(), ["latest_price:BTC"])

    def test_market_hours_only_every_active_asset_skips_the_equities(self):
        now = "2025-03-15T15:00:00Z"                                       # Saturday
        for args in (["AAPL", "--class", "stock"], ["SPY", "--class", "etf"], ["BTC", "--class", "crypto"]):
            add = run(["etl", "assets", "add", *args, "--database-url", f"sqlite:{self.db}"], env=self.env(now),
                      cwd=self.tmp.path)
            self.assertEqual(add.rc, 0, add.describe())
        r = self.latest("--market-hours-only", now=now)
        self.assertEqual(r.rc, 0, r.describe())
        self.assertEqual(sorted(self.rows()), ["BTC"])
        self.assertEqual(self.server.requests("polygon"), [])
        self.assertEqual(sqlite_runs(self.db)[-1]["symbols_requested"], 1)

    def test_market_hours_only_during_the_session_runs(self):
        r = self.latest("AAPL", "--market-hours-only", now="2025-03-14T15:00:00Z")     # 11:00 EDT
        self.assertEqual(r.rc, 0, r.describe())
        row = self.rows()["AAPL"]
        self.assertEqual(row["as_of"], "2025-03-14T15:00:00Z", "during the session: as of now")

    def test_market_hours_only_runs_a_crypto_asset_registered_in_assets(self):
        # PEPE is not one of the tickers the binary knows to be crypto, but the assets table says it is:
        # --market-hours-only must not treat it as an equity when the market is closed.
        now = "2025-03-15T15:00:00Z"
        add = run(["etl", "assets", "add", "PEPE", "--class", "crypto", "--coingecko-id", "pepe",
                   "--database-url", f"sqlite:{self.db}"], env=self.env(now), cwd=self.tmp.path)
        self.assertEqual(add.rc, 0, add.describe())
        r = self.latest("PEPE", "--market-hours-only", now=now)
        self.assertEqual(r.rc, 0, r.describe())
        self.assertEqual(len(self.server.requests("coingecko", contains="/simple/price")), 1, r.describe())
        self.assertIn("PEPE", self.rows(), r.describe())


if __name__ == "__main__":
    unittest.main()
