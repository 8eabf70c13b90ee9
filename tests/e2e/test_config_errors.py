"""Configuration errors surface before any work: a bad redis_url, database_url or --report path, a missing
API key (also a fallback's), a TOML syntax error (with its line and column), a config file nested thousands
deep or not UTF-8 -- each is one line and 78 (64 for a flag) before the database is opened or a provider
asked. Admin commands (etl assets, db, config) take only the flags that do something there, and
`etl assets add|import --dry-run` writes nothing."""
import unittest

from harness import (plain_lines, ETL_HISTORICAL, ETL_HOURLY, ETL_LATEST, FAST_ENV, SOURCE_DIR, ServerTestCase, TempDir, clean_env,
                     run, sqlite_query, sqlite_runs)

JOBS = {"etl-historical": ETL_HISTORICAL, "etl-hourly": ETL_HOURLY, "etl-latest": ETL_LATEST}
NOW_OPEN = "2025-03-14T15:00:00Z"    # a Friday, NYSE open (11:00 ET)


class PreflightCase(ServerTestCase):
    tmp_tag = "preflight"
    api_key = "pk_e2e_preflight"

    def job(self, binary, *args, env=None, **extra):
        """Runs `binary` (etl-historical over 7D) with `args`, on self.db unless --database-url is given."""
        argv = [JOBS[binary], *(["7D"] if binary == "etl-historical" else []), *args]
        if "--database-url" not in args:
            argv += ["--database-url", f"sqlite:{self.db}"]
        return run(argv, cwd=self.tmp.path, env=env or self.env(ETL_NOW=NOW_OPEN, **extra))

    def assert_stopped_before_work(self, r, code, program, *mentions):
        """Exit `code`, one plain line "program: ..." naming `mentions`, no request, no database file."""
        self.assertEqual(r.rc, code, r.describe())
        lines = plain_lines(r.stderr)
        self.assertEqual(len(lines), 1, f"expected one line:\n{r.describe()}")
        self.assertTrue(lines[0].startswith(f"{program}:"), r.describe())
        for m in mentions:
            self.assertIn(m, lines[0])
        self.assertEqual(self.server.requests(), [], "stopped before asking a provider")
        self.assertFalse(self.db.exists(), f"the database was opened:\n{r.describe()}")


class RedisAndDatabaseUrls(PreflightCase):
    def test_bad_redis_url_is_78_before_the_database(self):
        for binary in JOBS:
            for url in ("redis://127.0.0.1:notaport/0", "redis://127.0.0.1:6379/db7", "http://127.0.0.1:6379"):
                with self.subTest(binary=binary, url=url):
                    r = self.job(binary, "AAPL", "BTC", "--redis-url", url)
                    self.assert_stopped_before_work(r, 78, binary, "redis_url")

    def test_bad_redis_url_password_stays_secret(self):
        r = self.job("etl-historical", "AAPL", env=self.env(REDIS_URL="redis://:pw-0f3c9e77@127.0.0.1:x/0"))
        self.assert_stopped_before_work(r, 78, "etl-historical", "redis_url")
        self.assertNotIn("pw-0f3c9e77", r.stderr + r.stdout)

    def test_malformed_postgresql_url_is_78_not_75(self):
        for url in ("postgresql://etl:pw-5ee1d2@127.0.0.1:notaport/etl", "postgresql://etl@[::1/etl",
                    "postgresql://127.0.0.1/etl?bogus_option=1", "host=127.0.0.1 port=1 bogus=1 password=pw-5ee1d2",
                    "postgresql://127.0.0.1/etl?sslmode=sometimes"):
            with self.subTest(url=url):
                r = self.job("etl-historical", "AAPL", "--mock", "--database-url", url)
                self.assert_stopped_before_work(r, 78, "etl-historical", "database_url")
                self.assertNotIn("pw-5ee1d2", r.stderr + r.stdout)
            with self.subTest(url=url, command="etl db migrate"):
                r = run(["etl", "db", "migrate", "--database-url", url], cwd=self.tmp.path, env=clean_env())
                self.assertEqual(r.rc, 78, r.describe())
                self.assertNotIn("pw-5ee1d2", r.stderr + r.stdout)
        # A well-formed URL of a server that is down stays a temporary failure.
        r = self.job("etl-historical", "AAPL", "--mock", "--database-url", "postgresql://127.0.0.1:1/etl")
        self.assertEqual(r.rc, 75, r.describe())


class ApiKeys(PreflightCase):
    def no_key_env(self, **extra):
        return clean_env(ETL_NOW=NOW_OPEN, **self.server.env(), **extra)

    def test_missing_key_beats_a_database_outage(self):
        """Named symbols: the key is checked before connecting, so 78 (fix the config), not 75 (retry)."""
        for binary in JOBS:
            with self.subTest(binary=binary):
                r = self.job(binary, "AAPL", "--database-url", "postgresql://127.0.0.1:1/etl", env=self.no_key_env())
                self.assertEqual(r.rc, 78, r.describe())
                lines = plain_lines(r.stderr)
                self.assertEqual(len(lines), 1, r.describe())
                self.assertIn("POLYGON_API_KEY", lines[0])
                self.assertIn("AAPL", lines[0])

    def test_missing_key_named_symbols_touches_nothing(self):
        r = self.job("etl-historical", "AAPL", "BTC", env=self.no_key_env())
        self.assert_stopped_before_work(r, 78, "etl-historical", "POLYGON_API_KEY", "routing.stock = polygon")

    def test_only_the_providers_asked_need_keys(self):
        # A crypto-only run goes to CoinGecko, whose key is optional: no Polygon key needed.
        r = self.job("etl-historical", "BTC", env=self.no_key_env())
        self.assertEqual(r.rc, 0, r.describe())
        # --class crypto routes a symbol that looks like a stock to CoinGecko too.
        r = self.job("etl-historical", "FOO", "--class", "crypto", env=self.no_key_env())
        self.assertNotEqual(r.rc, 78, r.describe())
        self.assertNotIn("POLYGON_API_KEY", r.stderr)
        self.assertEqual(self.server.requests("polygon"), [])

    def test_missing_key_all_assets_checked_before_the_run_is_recorded(self):
        """No symbols named: the key is checked after reading assets, before etl_runs or any fetch."""
        add = run(["etl", "assets", "add", "AAPL", "--database-url", f"sqlite:{self.db}"], cwd=self.tmp.path,
                  env=self.no_key_env())
        self.assertEqual(add.rc, 0, add.describe())
        for binary in JOBS:
            with self.subTest(binary=binary):
                r = self.job(binary, env=self.no_key_env())
                self.assertEqual(r.rc, 78, r.describe())
                lines = plain_lines(r.stderr)
                self.assertEqual(len(lines), 1, r.describe())
                self.assertIn("POLYGON_API_KEY", lines[0])
                self.assertEqual(self.server.requests(), [])
                self.assertEqual(sqlite_runs(self.db), [], "no run recorded for a configuration error")

    def test_missing_fallback_key_is_a_configuration_error(self):
        """routing.fallback = polygon without POLYGON_API_KEY: 78 before any work, naming the fallback."""
        env = self.no_key_env(ETL_ROUTING_STOCK="yahoo", ETL_ROUTING_FALLBACK="polygon")
        r = self.job("etl-historical", "AAPL", env=env)
        self.assert_stopped_before_work(r, 78, "etl-historical", "POLYGON_API_KEY", "routing.fallback = polygon")
        # With the key, the same configuration runs.
        r = self.job("etl-historical", "AAPL", env=clean_env(POLYGON_API_KEY="k", ETL_NOW=NOW_OPEN, **self.server.env(),
                                                              ETL_ROUTING_STOCK="yahoo",
                                                              ETL_ROUTING_FALLBACK="polygon"))
        self.assertEqual(r.rc, 0, r.describe())


class ReportPath(PreflightCase):
    """--report whose directory is missing or unwritable, or that names a directory: 64 (a bad flag value),
    before any work, instead of 75 after a successful load."""

    def test_unwritable_report_is_64_before_work(self):
        missing = self.tmp.path / "no" / "such" / "dir" / "report.json"
        for binary in JOBS:
            for path, mention in ((missing, "does not exist"), (self.tmp.path, "is a directory")):
                with self.subTest(binary=binary, path=path):
                    r = self.job(binary, "AAPL", "--report", str(path))
                    self.assert_stopped_before_work(r, 64, binary, "--report", mention)

    def test_writable_report_still_written(self):
        report = self.tmp.path / "out" / "report.json"
        report.parent.mkdir()
        r = self.job("etl-historical", "AAPL", "--report", str(report))
        self.assertEqual(r.rc, 0, r.describe())
        self.assertTrue(report.exists())


class ReportPathPostgres(ServerTestCase):
    """The same on PostgreSQL: the database stays untouched (no tables, no etl_runs row)."""

    pg_tag = "preflight"
    api_key = "pk_e2e_preflight_pg"

    def test_database_untouched(self):
        with TempDir("preflight-pg") as d:
            for extra in (["--report", str(d / "missing" / "r.json")], ["--redis-url", "redis://h:port/0"]):
                with self.subTest(extra=extra):
                    r = run(["etl-historical", "7D", "AAPL", "--database-url", self.db.url, *extra], cwd=d,
                            env=self.env())
                    self.assertIn(r.rc, (64, 78), r.describe())
                    self.assertEqual(len(plain_lines(r.stderr)), 1, r.describe())
                    self.assertFalse(self.db.has_table("etl_runs"), "the database was touched")
                    self.assertEqual(self.server.requests(), [])


class LogFlags(PreflightCase):
    def test_bad_log_flag_values_are_usage_errors(self):
        for flag, value in (("--log-level", "chatty"), ("--log-format", "xml")):
            for binary in ("etl-historical",):
                with self.subTest(flag=flag):
                    r = self.job(binary, "AAPL", "--mock", flag, value)
                    self.assert_stopped_before_work(r, 64, binary, flag, value)
        r = run(["etl", "config", "show", "--log-level", "chatty"], cwd=self.tmp.path, env=clean_env())
        self.assertEqual(r.rc, 64, r.describe())

    def test_same_values_from_environment_or_file_stay_78(self):
        r = self.job("etl-historical", "AAPL", "--mock", env=self.env(ETL_LOG_LEVEL="chatty"))
        self.assert_stopped_before_work(r, 78, "etl-historical", "log.level", "chatty")
        toml = self.tmp.path / "etl.toml"
        toml.write_text('[log]\nformat = "xml"\n')
        r = self.job("etl-historical", "AAPL", "--mock", "--config", str(toml))
        self.assert_stopped_before_work(r, 78, "etl-historical", "log.format", "xml")

    def test_good_values_still_work(self):
        r = self.job("etl-historical", "AAPL", "--mock", "--log-level", "WARN", "--log-format", "json")
        self.assertEqual(r.rc, 0, r.describe())


class ConfigFiles(PreflightCase):
    """A config file gives 78 and one line whatever it holds; never a crash."""

    def toml_bytes(self, data: bytes):
        p = self.tmp.path / "etl.toml"
        p.write_bytes(data)
        return str(p)

    def load(self, path):
        return self.job("etl-historical", "AAPL", "--mock", "--config", path)

    def test_syntax_error_keeps_line_and_column(self):
        path = self.toml_bytes(b'database_url = "sqlite:x.db"\n[fetch]\nmax_retries = \n')
        r = self.load(path)
        self.assert_stopped_before_work(r, 78, "etl-historical", f"{path}:3:15: invalid TOML: ")
        path = self.toml_bytes(b"# comment\n[fetch\ntimeout_seconds = 5\n")
        self.assert_stopped_before_work(self.load(path), 78, "etl-historical", f"{path}:2:")

    def test_deep_nesting_is_78_not_a_crash(self):
        deep = 20000
        for data in (b"a = " + b"[" * deep + b"]" * deep + b"\n",
                     b"a = " + b"{b = " * deep + b"1" + b"}" * deep + b"\n",
                     b"a" + b".b" * deep + b" = 1\n",
                     b"x = " + b"[" * deep):
            with self.subTest(data=data[:20]):
                path = self.toml_bytes(data)
                r = self.load(path)
                self.assert_stopped_before_work(r, 78, "etl-historical", path, "nested deeper than 32")
                show = run(["etl", "config", "show", "--config", path], cwd=self.tmp.path, env=clean_env())
                self.assertEqual(show.rc, 78, show.describe())

    def test_bytes_the_parser_mishandles(self):
        for data, mention in ((b"x = '''ml\nst\xc3r'''\n", "not UTF-8"),
                              (b"a = \"\xff\"\n", "not UTF-8"),
                              (b"a = 1\r", "carriage return"),
                              (b"# " + b"x" * (1 << 20) + b"\n", "larger than")):
            with self.subTest(data=data[:20]):
                path = self.toml_bytes(data)
                self.assert_stopped_before_work(self.load(path), 78, "etl-historical", path, mention)

    def test_example_config_is_accepted(self):
        example = SOURCE_DIR / "etc" / "etl.toml.example"
        show = run(["etl", "config", "show", "--config", str(example)], cwd=self.tmp.path,
                   env=clean_env(**{k: None for k in FAST_ENV}))
        self.assertEqual(show.rc, 0, show.describe())
        shown = {l.split(" ", 1)[0] for l in show.stdout.splitlines() if not l.startswith("#")}
        from_file = {l.split(" ", 1)[0] for l in show.stdout.splitlines() if f"file:{example}" in l}
        self.assertEqual(shown - from_file, {"providers.polygon.api_key", "providers.coingecko.api_key"},
                         "every key but the API keys comes from the example file")


class AdminCommands(unittest.TestCase):
    """etl assets add|list|import, etl db migrate, etl config show take no flag they would ignore."""

    def setUp(self):
        self.tmp = TempDir("admin")
        self.addCleanup(self.tmp.cleanup)
        self.db = self.tmp.path / "etl.db"
        self.url = f"sqlite:{self.db}"
        self.csv = self.tmp.path / "assets.csv"
        self.csv.write_text("symbol,asset_class,name\nAAPL,stock,Apple\nBTC,crypto,Bitcoin\n")

    def etl(self, *args):
        return run(["etl", *args], cwd=self.tmp.path, env=clean_env())

    def symbols(self):
        return [s for (s,) in sqlite_query(self.db, "SELECT symbol FROM assets ORDER BY symbol")]

    def test_assets_add_dry_run_writes_nothing(self):
        r = self.etl("assets", "add", "FOO", "--dry-run", "--database-url", self.url)
        self.assertEqual(r.rc, 0, r.describe())
        self.assertIn("would add FOO (stock, active)", r.stdout)
        self.assertIn("nothing written", r.stdout)
        self.assertFalse(self.db.exists(), "a dry run does not create the database")
        self.assertEqual(self.etl("assets", "add", "BAR", "--database-url", self.url).rc, 0)
        r = self.etl("assets", "add", "FOO", "--dry-run", "--database-url", self.url)
        self.assertEqual(r.rc, 0, r.describe())
        r = self.etl("assets", "add", "BAR", "--inactive", "--dry-run", "--database-url", self.url)
        self.assertIn("would update BAR (stock, inactive)", r.stdout)
        self.assertEqual(self.symbols(), ["BAR"])
        self.assertEqual(sqlite_query(self.db, "SELECT active FROM assets"), [(1,)])

    def test_assets_import_dry_run_writes_nothing(self):
        self.assertEqual(self.etl("assets", "add", "AAPL", "--database-url", self.url).rc, 0)
        r = self.etl("assets", "import", str(self.csv), "--dry-run", "--database-url", self.url)
        self.assertEqual(r.rc, 0, r.describe())
        self.assertIn("would update AAPL (stock, active)", r.stdout)
        self.assertIn("would add BTC (crypto, active)", r.stdout)
        self.assertIn("1 new, 1 updated", r.stdout)
        self.assertEqual(self.symbols(), ["AAPL"])
        self.assertEqual(sqlite_query(self.db, "SELECT name FROM assets"), [("",)])
        # A bad file is still refused in a dry run.
        bad = self.tmp.path / "bad.csv"
        bad.write_text("symbol,asset_class\nAAPL,bond\n")
        r = self.etl("assets", "import", str(bad), "--dry-run", "--database-url", self.url)
        self.assertEqual(r.rc, 65, r.describe())

    def test_flags_that_would_do_nothing_are_refused(self):
        commands = {
            ("assets", "list"): ("--mock", "--shard", "--report", "--dry-run", "--redis-url", "--no-progress"),
            ("assets", "add", "FOO"): ("--mock", "--shard", "--report", "--redis-url", "--no-progress"),
            ("assets", "import", str(self.csv)): ("--mock", "--shard", "--report", "--redis-url", "--no-progress"),
            ("db", "migrate"): ("--mock", "--shard", "--report", "--dry-run", "--redis-url", "--no-progress"),
            ("config", "show"): ("--shard", "--report", "--dry-run"),
        }
        values = {"--shard": "0/2", "--report": str(self.tmp.path / "r.json"), "--redis-url": "redis://h:1/0"}
        for command, flags in commands.items():
            for flag in flags:
                with self.subTest(command=command, flag=flag):
                    r = self.etl(*command, flag, *([values[flag]] if flag in values else []),
                                 "--database-url", self.url)
                    self.assertEqual(r.rc, 64, r.describe())
                    self.assertIn(flag, r.stderr)
                    self.assertFalse(self.db.exists(), r.describe())
                    self.assertFalse((self.tmp.path / "r.json").exists())
            help_text = self.etl(*command[:2], "--help").stdout + self.etl(command[0], "--help").stdout
            for flag in flags:
                if flag != "--dry-run" or command[:2] not in (("assets", "add"), ("assets", "import")):
                    self.assertNotIn(flag, help_text, f"{command} --help offers {flag}")

    def test_config_show_takes_the_flags_it_shows(self):
        r = self.etl("config", "show", "--mock", "--redis-url", "redis://h:1/0", "--no-progress",
                     "--database-url", self.url)
        self.assertEqual(r.rc, 0, r.describe())
        lines = {l.split(" ", 1)[0]: l for l in r.stdout.splitlines()}
        for key in ("mock", "redis_url", "log.progress", "database_url"):
            self.assertIn("# flag", lines[key])


if __name__ == "__main__":
    unittest.main()
