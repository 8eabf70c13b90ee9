"""Validation before load: records that fail go to rejected_rows with a reason, nothing is dropped
silently, and a run whose rejected ratio exceeds validation.max_rejected_ratio exits 65.

The fake Yahoo server sends null `open` values (and null volumes) for NUL* symbols; stocks are routed
to Yahoo with ETL_ROUTING_STOCK=yahoo."""
import json
import unittest
from datetime import datetime
from zoneinfo import ZoneInfo

from harness import (WINDOW_1M, FakeServer, PgDatabase, TempDir, clean_env, read_report, require_pg, run,
                     summary, weekdays)

ET = ZoneInfo("America/New_York")
SYMBOL = "NULX"


class Validation(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        require_pg()
        cls.server = FakeServer()
        cls.server.start()
        cls.tmp = TempDir("validation")

    @classmethod
    def tearDownClass(cls):
        cls.server.stop()
        cls.tmp.cleanup()

    def setUp(self):
        self.db = PgDatabase("valid")
        self.addCleanup(self.db.drop)
        self.server.reset()
        self.report = self.tmp.path / f"report-{self.db.name}.json"

    def env(self, **extra):
        return clean_env(ETL_ROUTING_STOCK="yahoo", **self.server.env(), **extra)

    def hist(self, *args, env=None):
        return run(["etl-historical", "1M", *args, "--database-url", self.db.url, "--report", str(self.report)],
                   env=env or self.env())

    def served_bars(self):
        """What the fake Yahoo served for the run's request: {session date: (open literal, volume literal)}."""
        reqs = self.server.requests("yahoo", contains=f"/v8/finance/chart/{SYMBOL}")
        self.assertTrue(reqs)
        status, body = self.server.get(reqs[0]["target"], {"User-Agent": "Mozilla/5.0 (e2e test)"})
        self.assertEqual(status, 200)
        res = json.loads(body, parse_float=str, parse_int=str)["chart"]["result"][0]
        q = res["indicators"]["quote"][0]
        out = {}
        for i, t in enumerate(res["timestamp"]):
            d = datetime.fromtimestamp(int(t), ET).date()
            out[d] = (q["open"][i], q["volume"][i])
        return out

    def rejected(self, run_id):
        return self.db.query(f"SELECT source, symbol, timeframe, raw, reason FROM rejected_rows "
                             f"WHERE run_id = {run_id} ORDER BY id")

    def test_null_opens_rejected_and_exit_65(self):
        r = self.hist(SYMBOL)
        self.assertEqual(r.rc, 65, r.describe())
        served = self.served_bars()
        self.assertEqual(sorted(served), weekdays(*WINDOW_1M))
        null_open = sorted(d for d, (o, v) in served.items() if o is None)
        good = sorted(d for d, (o, v) in served.items() if o is not None)
        self.assertTrue(null_open, "the fake server should null some opens for NUL* symbols")
        # Valid bars are loaded; bars with a null open are not.
        self.assertEqual(self.db.bar_dates(SYMBOL), good)
        # A null volume alone is not an error: stored as NULL.
        vols = dict(self.db.query(f"SELECT to_char(ts AT TIME ZONE 'UTC', 'YYYY-MM-DD'), volume::text "
                                  f"FROM price_bars WHERE symbol = '{SYMBOL}'"))
        for d in good:
            o, v = served[d]
            self.assertEqual(vols[d.isoformat()], "\\N" if v is None else v, d)
        # The open is the provider's literal, exactly.
        opens = dict(self.db.query(f"SELECT to_char(ts AT TIME ZONE 'UTC', 'YYYY-MM-DD'), open::text "
                                   f"FROM price_bars WHERE symbol = '{SYMBOL}'"))
        for d in good:
            self.assertEqual(opens[d.isoformat()], served[d][0], d)
        # Every rejected record is in rejected_rows, with its reason and the raw record.
        runs = self.db.runs()
        self.assertEqual(len(runs), 1)
        run_id = runs[0]["id"]
        rej = self.rejected(run_id)
        self.assertEqual(len(rej), len(null_open), rej)
        for source, symbol, timeframe, raw, reason in rej:
            self.assertEqual((source, symbol, timeframe), ("yahoo", SYMBOL, "1d"))
            self.assertIn("null", reason.lower())
            self.assertIn("open", reason.lower())
            self.assertTrue(raw.strip(), "raw record missing")
        # Nothing dropped silently: stored + rejected = served.
        self.assertEqual(len(good) + len(rej), len(served))
        self.assertEqual(runs[0]["exit_code"], "65")
        self.assertNotEqual(runs[0]["status"], "success")
        self.assertEqual(int(runs[0]["rows_rejected"]), len(null_open))
        self.assertEqual(int(runs[0]["rows_inserted"]), len(good))
        rep = read_report(self.report)
        self.assertEqual(rep["exit_code"], 65)
        self.assertEqual(rep["rows"]["rejected"], len(null_open))
        self.assertEqual(summary(r)["rows"]["rejected"], len(null_open))

    def test_threshold_raised_exits_0(self):
        r = self.hist(SYMBOL, env=self.env(ETL_VALIDATION_MAX_REJECTED_RATIO="1"))
        self.assertEqual(r.rc, 0, r.describe())
        served = self.served_bars()
        n_null = sum(1 for o, v in served.values() if o is None)
        runs = self.db.runs()
        self.assertEqual(runs[-1]["status"], "success")
        # Rejects are still recorded: the threshold decides the exit code, not what is kept.
        self.assertEqual(len(self.rejected(runs[-1]["id"])), n_null)
        self.assertEqual(len(self.db.bar_dates(SYMBOL)), len(served) - n_null)
        # Re-run: same rows, the rejects recorded again for the new run, nothing inserted.
        r2 = self.hist(SYMBOL, env=self.env(ETL_VALIDATION_MAX_REJECTED_RATIO="1"))
        self.assertEqual(r2.rc, 0, r2.describe())
        rep = read_report(self.report)
        self.assertEqual((rep["rows"]["inserted"], rep["rows"]["updated"], rep["rows"]["rejected"]),
                         (0, 0, n_null))
        self.assertEqual(len(self.rejected(self.db.runs()[-1]["id"])), n_null)

    def test_threshold_from_config_file(self):
        cfg = self.tmp.path / f"{self.db.name}.toml"
        cfg.write_text("[validation]\nmax_rejected_ratio = 0.5\n")
        r = self.hist(SYMBOL, "--config", str(cfg))
        self.assertEqual(r.rc, 0, r.describe())
        cfg.write_text("[validation]\nmax_rejected_ratio = 0.01\n")
        r = self.hist(SYMBOL, "--config", str(cfg))
        self.assertEqual(r.rc, 65, r.describe())
        # The environment overrides the file.
        r = self.hist(SYMBOL, "--config", str(cfg), env=self.env(ETL_VALIDATION_MAX_REJECTED_RATIO="0.9"))
        self.assertEqual(r.rc, 0, r.describe())

    def test_clean_symbol_passes_default_threshold(self):
        r = self.hist("AAPL")
        self.assertEqual(r.rc, 0, r.describe())
        self.assertEqual(self.db.bar_dates("AAPL"), weekdays(*WINDOW_1M))
        self.assertEqual(self.db.scalar("SELECT count(*) FROM rejected_rows"), "0")
        self.assertEqual(self.db.query("SELECT DISTINCT source FROM price_bars"), [("yahoo",)])

    def test_dry_run_reports_rejects_but_writes_nothing(self):
        r = self.hist(SYMBOL, "--dry-run")
        self.assertEqual(r.rc, 65, r.describe())
        self.assertEqual(self.db.scalar("SELECT count(*) FROM price_bars"), "0")
        self.assertEqual(self.db.scalar("SELECT count(*) FROM rejected_rows"), "0")
        rep = read_report(self.report)
        self.assertGreater(rep["rows"]["rejected"], 0)


if __name__ == "__main__":
    unittest.main()
