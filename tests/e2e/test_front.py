"""The front command `etl`: list, help, version, typo suggestions, and `etl historical` == `etl-historical`."""
import os
import re
import shutil
import subprocess
import unittest

from harness import (BIN_DIR, ETL, ETL_HISTORICAL, ETL_HOURLY, ETL_LATEST, FakeServer, TempDir, summary, clean_env, run, sqlite_query, sqlite_runs)

COMMANDS = ("historical", "hourly", "latest", "calendar", "assets", "db", "config", "version")


class FrontCommand(unittest.TestCase):
    def setUp(self):
        self.tmp = TempDir("front")
        self.dir = self.tmp.path
        self.addCleanup(self.tmp.cleanup)

    def etl(self, *args, **kw):
        return run(["etl", *args], cwd=self.dir, **kw)

    def test_list_names_every_command(self):
        r = self.etl("list")
        self.assertEqual(r.rc, 0, r.describe())
        for c in COMMANDS:
            self.assertRegex(r.stdout, rf"(?m)^\s+{c}\s", r.describe())

    def test_help_lists_commands_and_exits_0(self):
        for flag in ("--help", "-h", "help"):
            with self.subTest(flag=flag):
                r = self.etl(flag)
                self.assertEqual(r.rc, 0, r.describe())
                for c in COMMANDS:
                    self.assertIn(c, r.stdout, r.describe())

    def test_no_command_is_a_usage_error(self):
        r = self.etl()
        self.assertEqual(r.rc, 64, r.describe())
        # Off a terminal: one JSON error line that still names every command.
        self.assertEqual(len(r.stderr.strip().splitlines()), 1, r.describe())
        for c in COMMANDS:
            self.assertIn(c, r.json_logs()[0]["msg"], r.describe())

    def test_version(self):
        r = self.etl("version")
        self.assertEqual(r.rc, 0, r.describe())
        m = re.fullmatch(r"market-etl (\d+\.\d+\.\d+\S*)\n", r.stdout)
        self.assertTrue(m, r.describe())
        # --version on the front command and on the binary print the same version.
        for args in (["etl", "--version"], ["etl-historical", "--version"], ["etl", "historical", "--version"]):
            with self.subTest(args=args):
                v = run(args, cwd=self.dir)
                self.assertEqual(v.rc, 0, v.describe())
                self.assertIn(m.group(1), v.stdout, v.describe())

    def test_a_binary_name_is_a_command_name(self):
        # An image whose entrypoint is `etl` runs `etl etl-latest ...` as `etl latest ...`.
        r = self.etl("etl-calendar", "2025-03-14")
        self.assertEqual(r.rc, 0, r.describe())
        self.assertEqual(r.stdout, self.etl("calendar", "2025-03-14").stdout)
        r = self.etl("etl-nope")
        self.assertEqual(r.rc, 64, r.describe())

    def test_calendar_refuses_a_date_out_of_range(self):
        for date in ("0000-01-01", "1899-12-31"):
            with self.subTest(date=date):
                r = self.etl("calendar", date)
                self.assertEqual(r.rc, 64, r.describe())
                self.assertEqual(r.stdout, "")
                self.assertIn(f"date '{date}' is out of range; use a date YYYY-MM-DD from 1900-01-01", r.stderr)
        r = self.etl("calendar", "2025-02-30")
        self.assertEqual(r.rc, 64, r.describe())
        self.assertIn("date '2025-02-30' is not a date; use YYYY-MM-DD", r.stderr)

    def test_typo_suggests_the_command(self):
        r = self.etl("histrical", "1M", "AAPL")
        self.assertEqual(r.rc, 64, r.describe())
        self.assertIn("did you mean", r.stderr)
        self.assertIn("etl historical", r.stderr)
        self.assertEqual(r.stdout, "")
        # One line, not a help screen.
        self.assertEqual(len(r.stderr.strip().splitlines()), 1, r.describe())

    def test_unknown_command_far_from_any(self):
        r = self.etl("frobnicate")
        self.assertEqual(r.rc, 64, r.describe())
        self.assertNotIn("did you mean", r.stderr)
        self.assertIn("frobnicate", r.stderr)

    def test_historical_help(self):
        for args in (["etl-historical", "--help"], ["etl", "historical", "--help"]):
            with self.subTest(args=args):
                r = run(args, cwd=self.dir)
                self.assertEqual(r.rc, 0, r.describe())
                self.assertIn("7D 1M 3M 6M YTD 1Y 3Y 5Y MAX", r.stdout)
                for flag in ("--config", "--database-url", "--redis-url", "--mock", "--dry-run", "--shard",
                             "--log-format", "--log-level", "--report", "--no-progress", "--from", "--to", "--class"):
                    self.assertIn(flag, r.stdout)
        # --help writes nothing: no database appears in the working directory.
        self.assertEqual(list(self.dir.iterdir()), [])

    def test_front_and_binary_give_identical_databases(self):
        """`etl historical ARGS` and `etl-historical ARGS` run the same job: same rows, same run record.
        Both use the default database, sqlite:market-etl.db in the working directory."""
        a, b = self.dir / "a", self.dir / "b"
        a.mkdir()
        b.mkdir()
        args = ["1M", "AAPL", "btc", "--mock"]
        env = clean_env()
        ra = run([ETL, "historical", *args], cwd=a, env=env)
        rb = run([ETL_HISTORICAL, *args], cwd=b, env=env)
        self.assertEqual(ra.rc, 0, ra.describe())
        self.assertEqual(rb.rc, 0, rb.describe())
        self.assertTrue((a / "market-etl.db").is_file(), "default database sqlite:market-etl.db in the cwd")
        self.assertTrue((b / "market-etl.db").is_file(), "default database sqlite:market-etl.db in the cwd")
        q = ("SELECT symbol, timeframe, ts, open, high, low, close, volume, vwap, trade_count, source "
             "FROM price_bars ORDER BY symbol, timeframe, ts")
        bars_a = sqlite_query(a / "market-etl.db", q)
        bars_b = sqlite_query(b / "market-etl.db", q)
        self.assertGreater(len(bars_a), 0)
        self.assertEqual(bars_a, bars_b)
        self.assertEqual({r[0] for r in bars_a}, {"AAPL", "BTC"})
        qa = "SELECT symbol, asset_class, active FROM assets ORDER BY symbol"
        self.assertEqual(sqlite_query(a / "market-etl.db", qa), sqlite_query(b / "market-etl.db", qa))
        keys = ("job", "arguments", "shard", "status", "exit_code", "symbols_requested", "symbols_ok",
                "symbols_failed", "rows_inserted", "rows_updated", "rows_unchanged", "rows_rejected")
        runs_a = [{k: r[k] for k in keys} for r in sqlite_runs(a / "market-etl.db")]
        runs_b = [{k: r[k] for k in keys} for r in sqlite_runs(b / "market-etl.db")]
        self.assertEqual(len(runs_a), 1)
        self.assertEqual(runs_a, runs_b)
        self.assertEqual(runs_a[0]["job"], "etl-historical")
        self.assertEqual(runs_a[0]["status"], "success")


if __name__ == "__main__":
    unittest.main()


class JsonLogs(unittest.TestCase):
    """Off a TTY every stderr line is one JSON object (the harness checks each run's lines); these are the
    edges: the format asked for before the configuration is read, bytes that are not UTF-8, the summary's
    level, and a run with nothing to do."""

    def setUp(self):
        self.tmp = TempDir("jsonlogs")
        self.addCleanup(self.tmp.cleanup)
        self.db = f"sqlite:{self.tmp.path}/etl.db"

    def test_a_flag_error_is_written_in_the_format_asked_for(self):
        r = run(["etl-historical", "7D", "AAPL", "--log-format", "text", "--bogus"], cwd=self.tmp.path)
        self.assertEqual(r.rc, 64, r.describe())
        self.assertTrue(r.stderr.startswith("etl-historical: The following argument was not expected: --bogus"),
                        r.describe())
        r = run(["etl", "historical", "7D", "--config", str(self.tmp.path / "missing.toml")], cwd=self.tmp.path,
                env=clean_env(ETL_LOG_FORMAT="text"))
        self.assertEqual(r.rc, 78, r.describe())
        self.assertRegex(r.stderr, r"^etl historical: config file .*missing.toml does not exist", r.describe())

    def test_bytes_that_are_not_utf8_become_replacement_characters(self):
        bad = os.fsdecode(b"A\xffB")
        r = run([ETL_LATEST, bad, "--mock", "--database-url", self.db], cwd=self.tmp.path)
        self.assertEqual(r.rc, 64, r.describe())
        [line] = r.json_logs()
        self.assertIn("'A\ufffdB'", line["msg"])
        self.assertEqual((line["level"], line["exit_code"]), ("error", 64))

    def test_the_summary_level_follows_the_exit_code(self):
        r = run(["etl-historical", "7D", "AAPL", "--mock", "--database-url", self.db], cwd=self.tmp.path)
        self.assertEqual((r.rc, summary(r)["level"]), (0, "info"), r.describe())
        # A run whose provider fails every symbol: 69, a warning (a transient outage).
        r = run(["etl-historical", "7D", "AAPL", "--full", "--database-url", self.db], cwd=self.tmp.path,
                env=clean_env(POLYGON_API_KEY="pk_x", ETL_POLYGON_BASE_URL="http://127.0.0.1:1",
                              ETL_FETCH_MAX_RETRIES="0"))
        self.assertEqual((r.rc, summary(r)["level"], summary(r)["status"]), (69, "warn", "failed"), r.describe())

    def test_a_run_with_nothing_to_do_ends_in_a_summary_line(self):
        r = run([ETL_HOURLY, "AAPL", "--mock", "--market-hours-only", "--database-url", self.db],
                cwd=self.tmp.path, env=clean_env(ETL_NOW="2025-03-15T15:00:00Z"))  # a Saturday
        self.assertEqual(r.rc, 0, r.describe())
        s = summary(r)
        self.assertEqual((s["status"], s["exit_code"], s["level"]), ("nothing to do", 0, "info"), r.describe())
        self.assertIn("nothing to do", s["reason"])
        self.assertEqual(len(r.stderr.splitlines()), 1, r.describe())


class Terminal(unittest.TestCase):
    """On a TTY: readable text logs and a progress bar; in a pipe (every other test): JSON lines."""

    def test_tty_gets_text_logs_and_a_progress_bar(self):
        if not shutil.which("script"):
            self.skipTest("script(1) is not installed")
        tmp = TempDir("tty")
        self.addCleanup(tmp.cleanup)
        binary = BIN_DIR / "etl-historical"
        command = f"{binary} 1M AAPL MSFT BTC --mock --database-url sqlite:{tmp.path}/etl.db"
        # script(1) runs the command on a pseudo-terminal and copies what it wrote (stderr included).
        proc = subprocess.run(["script", "-qefc", command, "/dev/null"], cwd=tmp.path, env=clean_env(),
                              capture_output=True, text=True, timeout=60)
        out = proc.stdout
        self.assertEqual(proc.returncode, 0, out)
        self.assertRegex(out, r"\[#+\.*\] \d+/3 ", "no progress bar on the terminal")
        self.assertRegex(out, r"\d{4}-\d\d-\d\dT[\d:.]+Z info  ", "logs are not text lines")
        self.assertNotIn('{"ts":', out, "JSON log lines on a terminal")
        self.assertIn("3 symbols (3 ok, 0 failed)", out)
        # A log line erases the bar; the bar is drawn again right after it (text mode reads \r as \n).
        self.assertRegex(out, r"info  loaded symbol=(\w+)[^\n]*\n+\x1b\[K\[[#.]+\] \d/3 \1",
                         "the progress bar is not redrawn after a log line")

    def test_tty_progress_bar_says_when_it_waits_on_a_rate_limit(self):
        if not shutil.which("script"):
            self.skipTest("script(1) is not installed")
        tmp = TempDir("tty-rate")
        self.addCleanup(tmp.cleanup)
        with FakeServer() as server:
            env = clean_env(POLYGON_API_KEY="pk_tty", **server.env(),
                            ETL_PROVIDERS_POLYGON_REQUESTS_PER_MINUTE="20")  # one request every 3 s
            binary = BIN_DIR / "etl-historical"
            command = f"{binary} 7D AAPL MSFT --database-url sqlite:{tmp.path}/etl.db"
            proc = subprocess.run(["script", "-qefc", command, "/dev/null"], cwd=tmp.path, env=env,
                                  capture_output=True, text=True, timeout=60)
        out = proc.stdout
        self.assertEqual(proc.returncode, 0, out)
        self.assertRegex(out, r"\[[#.]+\] 1/2 \w+ \(waiting [23] s: polygon rate limit\)",
                         "the bar does not show the wait on the rate limit")
        self.assertIn("2 symbols (2 ok, 0 failed)", out)
