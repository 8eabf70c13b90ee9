"""The end of every run (jobs/run.hpp): the etl_runs row, the summary and the --report file are sinks of
one epilogue. A sink that fails is one warning and never changes the exit code; a run with nothing to do
ends through the same epilogue without recording itself.
"""
import json
import unittest

from harness import ETL_HOURLY, ETL_LATEST, TempDir, clean_env, run, sqlite_runs


class Epilogue(unittest.TestCase):
    def setUp(self):
        self.tmp = TempDir("epilogue")
        self.tmp.__enter__()
        self.db = self.tmp.path / "etl.db"
        self.url = f"sqlite:{self.db}"

    def tearDown(self):
        self.tmp.cleanup()

    def test_a_report_that_cannot_be_written_is_a_warning_not_the_exit_code(self):
        # The report is written beside itself (report.json.tmp) and renamed into place: a directory of
        # that name makes the write fail after the run has done its work and recorded itself.
        report = self.tmp.path / "report.json"
        (self.tmp.path / "report.json.tmp").mkdir()
        r = run(["etl-historical", "7D", "AAPL", "--mock", "--database-url", self.url, "--report", report,
                 "--log-format", "json"], env=clean_env(), cwd=self.tmp.path)
        self.assertEqual(r.rc, 0, r.describe())
        warnings = [l for l in r.json_logs() if l.get("level") == "warn"]
        self.assertEqual(len(warnings), 1, r.describe())
        self.assertIn("report", warnings[0]["msg"])
        self.assertIn(str(report), warnings[0]["msg"])
        self.assertFalse(report.exists())
        run_ = sqlite_runs(self.db)[-1]
        self.assertEqual((run_["status"], run_["exit_code"], run_["symbols_ok"]), ("success", 0, 1))

    def test_nothing_to_do_once_the_assets_are_known_records_nothing(self):
        # Every active asset is an equity and the market is closed (a Saturday): the run ends after
        # reading assets, with exit 0, no etl_runs row, no summary and no report.
        now = "2025-03-15T15:00:00Z"
        add = run(["etl", "assets", "add", "AAPL", "--class", "stock", "--database-url", self.url],
                  env=clean_env(ETL_NOW=now), cwd=self.tmp.path)
        self.assertEqual(add.rc, 0, add.describe())
        report = self.tmp.path / "report.json"
        for binary in (ETL_LATEST, ETL_HOURLY):
            with self.subTest(binary=binary):
                r = run([binary, "--market-hours-only", "--mock", "--database-url", self.url, "--report", report,
                         "--log-format", "json"], env=clean_env(ETL_NOW=now), cwd=self.tmp.path)
                self.assertEqual(r.rc, 0, r.describe())
                last = r.json_logs()[-1]
                self.assertEqual((last["msg"], last["status"], last["reason"]), ("summary", "nothing to do",
                                                                                 "nothing to do"), r.describe())
                self.assertNotIn("rows", last, "a summary of nothing done: no counts")
                self.assertFalse(report.exists())
                self.assertEqual(sqlite_runs(self.db), [])


if __name__ == "__main__":
    unittest.main()
