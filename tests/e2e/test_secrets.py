"""Secrets (API keys, passwords in database URLs) never appear in logs, reports, errors or tables,
on success and failure paths alike; `etl config show` masks them.

A PostgreSQL role with a password is created for the test; the binaries connect with
postgresql://ROLE:PASSWORD@HOST:PORT/DB over TCP (scram), without the PG* password in their environment."""
import os
import unittest
import uuid
from pathlib import Path

from harness import ETL_LATEST, FakeServer, PgDatabase, TempDir, clean_env, psql, require_pg, run, sqlite_query

TAG = uuid.uuid4().hex[:12]                 # names (role, database): not secret


def _secret(prefix):
    return prefix + uuid.uuid4().hex[:24]    # independent random parts: no two secrets share a 12-char piece


POLYGON_KEY = _secret("pkSECRETpolygon")
WRONG_POLYGON_KEY = _secret("pkSECRETwrong")
WRONG_COINGECKO_KEY = _secret("cgSECRETwrong")
COINGECKO_KEY = _secret("cgSECRETgecko")
DB_PASSWORD = _secret("PwSECRETdb")
WRONG_DB_PASSWORD = _secret("PwSECRETnope")
REDIS_PASSWORD = _secret("RdSECRETredis")
SECRETS = {"POLYGON_API_KEY": POLYGON_KEY, "wrong POLYGON_API_KEY": WRONG_POLYGON_KEY,
           "COINGECKO_API_KEY": COINGECKO_KEY, "database password": DB_PASSWORD,
           "wrong database password": WRONG_DB_PASSWORD, "redis password": REDIS_PASSWORD,
           "wrong COINGECKO_API_KEY": WRONG_COINGECKO_KEY}


class Secrets(unittest.TestCase):
    outputs: dict = {}
    results: dict = {}

    @classmethod
    def setUpClass(cls):
        require_pg()
        cls.tmp = TempDir("secrets")
        cls.dir = cls.tmp.path
        cls.role = f"etl_sec_{TAG}"
        cls.db = PgDatabase("secrets")
        psql(f"CREATE ROLE {cls.role} LOGIN PASSWORD '{DB_PASSWORD}'")
        psql(f"ALTER DATABASE {cls.db.name} OWNER TO {cls.role}")
        psql(f"GRANT ALL ON DATABASE {cls.db.name} TO {cls.role}")
        host = os.environ.get("PGHOST", "127.0.0.1")
        if not host or host.startswith("/"):
            host = "127.0.0.1"
        port = os.environ.get("PGPORT", "5432")
        cls.hostport = f"{host}:{port}"
        cls.url = f"postgresql://{cls.role}:{DB_PASSWORD}@{cls.hostport}/{cls.db.name}"
        cls.server = FakeServer(polygon_key=POLYGON_KEY, coingecko_key=COINGECKO_KEY)
        cls.server.start()
        try:
            cls.run_scenarios()
        except Exception:
            cls.tearDownClass()
            raise

    @classmethod
    def tearDownClass(cls):
        cls.server.stop()
        cls.db.drop()
        psql(f"DROP ROLE IF EXISTS {cls.role}", check=False)
        cls.tmp.cleanup()

    @classmethod
    def env(cls, **extra):
        # Only the URL carries credentials: no PGPASSWORD/PGUSER for libpq to fall back on.
        base = dict(POLYGON_API_KEY=POLYGON_KEY, COINGECKO_API_KEY=COINGECKO_KEY, PGPASSWORD=None, PGUSER=None,
                    PGPASSFILE=str(cls.dir / "no-pgpass"))
        base.update(cls.server.env())
        base.update(extra)
        return clean_env(**base)

    @classmethod
    def scenario(cls, name, args, env=None, report=True, rules=None):
        cls.server.reset()
        if rules:
            cls.server.set_rules(rules)
        rep = cls.dir / f"{name}.json"
        if report:
            args = [*args, "--report", str(rep)]
        r = run(args, env=env or cls.env(), cwd=cls.dir)
        cls.results[name] = r
        cls.outputs[f"{name}: stdout"] = r.stdout
        cls.outputs[f"{name}: stderr"] = r.stderr
        if report and rep.exists():
            cls.outputs[f"{name}: report"] = rep.read_text()
        return r

    @classmethod
    def run_scenarios(cls):
        debug = ["--log-level", "debug", "--log-format", "json"]
        url = ["--database-url", cls.url]
        # Success: Polygon (Bearer key) and CoinGecko (demo key header), debug logging.
        cls.scenario("success", ["etl-historical", "7D", "AAPL", "BTC", *url, *debug])
        # Text logs too.
        cls.scenario("success-text", ["etl-historical", "7D", "AAPL", "BTC", *url, "--log-level", "debug",
                                      "--log-format", "text"])
        # Rejected rows (Yahoo nulls) so rejected_rows has content.
        cls.scenario("rejects", ["etl-historical", "7D", "NULX", *url, *debug],
                     env=cls.env(ETL_ROUTING_STOCK="yahoo", ETL_VALIDATION_MAX_REJECTED_RATIO="1"))
        # 401: a wrong key (also a secret).
        cls.scenario("401", ["etl-historical", "7D", "AAPL", "MSFT", *url, *debug],
                     env=cls.env(POLYGON_API_KEY=WRONG_POLYGON_KEY))
        # CoinGecko rejecting its key.
        cls.scenario("cg-401", ["etl-historical", "7D", "ETH", *url, *debug],
                     env=cls.env(COINGECKO_API_KEY=WRONG_COINGECKO_KEY))
        # Provider down: retries then give up.
        # --full: AAPL and BTC are up to date from "success"; the run must ask to see the 500s.
        cls.scenario("500", ["etl-historical", "7D", "AAPL", "BTC", "--full", *url, *debug],
                     rules=[{"match": "", "mode": "500"}])
        # Database unreachable, password in the URL.
        cls.scenario("db-unreachable", ["etl-historical", "7D", "AAPL", "--database-url",
                                        f"postgresql://{cls.role}:{DB_PASSWORD}@127.0.0.1:1/{cls.db.name}", *debug])
        # Wrong database password (and the right one elsewhere in the environment).
        cls.scenario("db-wrong-password", ["etl-historical", "7D", "AAPL", "--database-url",
                                           f"postgresql://{cls.role}:{WRONG_DB_PASSWORD}@{cls.hostport}/{cls.db.name}",
                                           *debug], env=cls.env(DATABASE_URL=cls.url))
        # Password as a URL query parameter, and DATABASE_URL from the environment.
        cls.scenario("db-query-password", ["etl-historical", "7D", "MSFT", *debug],
                     env=cls.env(DATABASE_URL=f"postgresql://{cls.hostport}/{cls.db.name}?user={cls.role}"
                                              f"&password={DB_PASSWORD}"))
        # Usage error with secrets in the environment.
        cls.scenario("usage", ["etl-historical", "2W", "AAPL", *url])
        # Admin commands.
        cls.scenario("migrate", ["etl", "db", "migrate", *url], report=False)
        cls.scenario("assets", ["etl", "assets", "list", "--all", *url], report=False)
        cls.scenario("config-show", ["etl", "config", "show", *debug], report=False,
                     env=cls.env(DATABASE_URL=cls.url, REDIS_URL=f"redis://:{REDIS_PASSWORD}@127.0.0.1:6390/0"))
        cls.scenario("config-show-flag", ["etl", "config", "show", *url, "--redis-url",
                                          f"redis://default:{REDIS_PASSWORD}@127.0.0.1:6390/0"], report=False)
        for table in ("etl_runs", "rejected_rows", "assets", "price_bars", "latest_prices"):
            cls.outputs[f"table {table}"] = cls.db.table_text(table)

    # ---- the runs did what they should (so the scans below cover real success and failure paths) ----

    def test_scenarios_exit_codes(self):
        expected = {"success": 0, "success-text": 0, "rejects": 0, "401": 78, "500": 69, "db-unreachable": 75,
                    "db-query-password": 0, "usage": 64, "migrate": 0, "assets": 0, "config-show": 0,
                    "config-show-flag": 0}
        for name, rc in expected.items():
            with self.subTest(scenario=name):
                self.assertEqual(self.results[name].rc, rc, self.results[name].describe())
        with self.subTest(scenario="cg-401"):
            self.assertEqual(self.results["cg-401"].rc, 78, self.results["cg-401"].describe())
        with self.subTest(scenario="db-wrong-password"):
            self.assertIn(self.results["db-wrong-password"].rc, (75, 78),
                          self.results["db-wrong-password"].describe())

    def test_data_went_through_the_password_url(self):
        self.assertEqual(self.db.scalar("SELECT count(*) > 0 FROM price_bars WHERE symbol = 'AAPL'"), "t")
        self.assertEqual(self.db.scalar("SELECT count(*) > 0 FROM price_bars WHERE symbol = 'BTC'"), "t")
        self.assertEqual(self.db.scalar("SELECT count(*) > 0 FROM rejected_rows"), "t")
        self.assertEqual(self.db.scalar(f"SELECT DISTINCT pg_get_userbyid(relowner) FROM pg_class "
                                        f"WHERE relname = 'price_bars'"), self.role)

    # ---- the scans ----

    def test_no_secret_anywhere(self):
        self.assertGreater(len(self.outputs), 20)
        for where, text in self.outputs.items():
            for what, secret in SECRETS.items():
                with self.subTest(where=where, secret=what):
                    self.assertNotIn(secret, text, f"{what} leaked in {where}")

    def test_no_key_fragment_in_logs(self):
        """A key cut in the middle (e.g. a truncated header dump) is still a leak: no 12-character piece of
        any secret in stderr. (Masked forms show at most the last 4 characters.)"""
        for where, text in self.outputs.items():
            for what, secret in SECRETS.items():
                pieces = {secret[i:i + 12] for i in range(0, len(secret) - 12)}
                with self.subTest(where=where, secret=what):
                    leaked = [p for p in pieces if p in text]
                    self.assertEqual(leaked, [], f"part of {what} in {where}")

    def test_config_show_masks_secrets(self):
        out = self.results["config-show"].stdout
        lines = {l.split("=", 1)[0].strip(): l for l in out.splitlines() if "=" in l and not l.startswith("#")}
        self.assertIn("providers.polygon.api_key", lines)
        pk = lines["providers.polygon.api_key"]
        self.assertNotIn("(not set)", pk, "a set key is shown as set (masked)")
        self.assertIn("***", pk)
        self.assertIn("env:POLYGON_API_KEY", pk)
        cg = lines["providers.coingecko.api_key"]
        self.assertIn("***", cg)
        db = lines["database_url"]
        self.assertIn(self.role, db)
        self.assertIn(self.db.name, db)
        self.assertIn("env:DATABASE_URL", db)
        redis = lines["redis_url"]
        self.assertIn("127.0.0.1:6390", redis)
        flag = self.results["config-show-flag"].stdout
        db_flag = next(l for l in flag.splitlines() if l.startswith("database_url"))
        self.assertIn("flag", db_flag)
        self.assertIn(self.db.name, db_flag)

    def test_failure_messages_still_say_what_failed(self):
        err = self.results["401"].stderr
        self.assertIn("401", err)
        err = self.results["db-unreachable"].stderr
        self.assertIn("127.0.0.1", err)
        self.assertIn(self.role, self.results["db-wrong-password"].stderr + self.url.replace(DB_PASSWORD, ""))


if __name__ == "__main__":
    unittest.main()


class OtherConnectionStrings(unittest.TestCase):
    """Passwords in libpq key=value strings and in redis://password@host never reach output or tables."""

    def test_key_value_conninfo_and_redis_password_are_masked(self):
        tmp = TempDir("secrets-kv")
        self.addCleanup(tmp.cleanup)
        pg_secret, redis_secret = "kvpass-9f3a71c2e8", "redispass-5b2d8e"
        # An unreachable PostgreSQL given as key=value: exit 75, the error names the server, not the password.
        r = run(["etl-historical", "7D", "AAPL", "--mock", "--database-url",
                 f"host=127.0.0.1 port=1 password={pg_secret} dbname=x"], cwd=tmp.path, env=clean_env())
        self.assertEqual(r.rc, 75, r.describe())
        self.assertIn("cannot connect to the database", r.stderr)
        self.assertNotIn(pg_secret, r.stdout + r.stderr)
        # A Redis password given without a user: the run succeeds (Redis is optional) and nothing shows it.
        db = tmp.path / "etl.db"
        report = tmp.path / "report.json"
        r = run([str(ETL_LATEST), "BTC", "--mock", "--database-url", f"sqlite:{db}", "--report", str(report),
                 "--redis-url", f"redis://{redis_secret}@127.0.0.1:1/0"], cwd=tmp.path, env=clean_env())
        self.assertEqual(r.rc, 0, r.describe())
        self.assertNotIn(redis_secret, r.stdout + r.stderr + report.read_text())
        self.assertNotIn(redis_secret, str(sqlite_query(db, "SELECT arguments, error FROM etl_runs")))
        r = run(["etl", "config", "show", "--redis-url", f"redis://{redis_secret}@127.0.0.1:1/0"],
                cwd=tmp.path, env=clean_env())
        self.assertEqual(r.rc, 0, r.describe())
        self.assertNotIn(redis_secret, r.stdout + r.stderr)
