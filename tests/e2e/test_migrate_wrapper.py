"""scripts/migrate-sqlite-to-timescale.sh, the operator's wrapper around etl-migrate-sqlite (issue 8
point 9): its preflight exit codes, a whole run into plain PostgreSQL with --allow-plain, its next
steps, and that the password of the database URL is never printed.

The script comes from ETL_SOURCE_DIR, the binaries from ETL_BIN_DIR (through the script's ETL and
ETL_MIGRATE variables). The input is a small Stockula-current file from tests/fixtures/make_stockula.py.
A PostgreSQL role with a password owns the target database; the wrapper connects as it over TCP, with
no PGPASSWORD/PGUSER in its environment to fall back on.

On plain PostgreSQL (pg_virtualenv) every test but the TimescaleDB one runs. Under tests/pg_target.sh
(scripts/pg-servers.sh's servers) the TimescaleDB one runs on the preloaded server, and the 78 one on
the installed-but-not-preloaded server."""
import json
import os
import subprocess
import sys
import unittest
import uuid

from harness import BIN_DIR, SOURCE_DIR, PgDatabase, TempDir, clean_env, psql, require_pg, run

SCRIPT = SOURCE_DIR / "scripts" / "migrate-sqlite-to-timescale.sh"
MAKE_STOCKULA = SOURCE_DIR / "tests" / "fixtures" / "make_stockula.py"
MIGRATE = BIN_DIR / "etl-migrate-sqlite"
TAG = uuid.uuid4().hex[:12]
PASSWORD = "PwSECRETwrap" + uuid.uuid4().hex[:20]


def wrapper_env(**extra):
    base = dict(ETL=str(BIN_DIR / "etl"), ETL_MIGRATE=str(MIGRATE), PGPASSWORD=None, PGUSER=None,
                PGCONNECT_TIMEOUT="5")
    base.update(extra)
    return clean_env(**base)


def timescaledb_preloaded() -> bool:
    return psql("SELECT count(*) > 0 FROM pg_settings WHERE name LIKE 'timescaledb.%'").strip() == "t"


def timescaledb_installed() -> bool:
    return psql("SELECT count(*) > 0 FROM pg_available_extensions WHERE name = 'timescaledb'").strip() == "t"


@unittest.skipUnless(MIGRATE.exists(), f"{MIGRATE} is not built")
class MigrateWrapper(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        require_pg()
        cls.tmp = TempDir("wrapper")
        cls.dir = cls.tmp.path
        cls.sqlite = cls.dir / "stockula.db"
        subprocess.run([sys.executable, str(MAKE_STOCKULA), str(cls.sqlite), "--layout", "current",
                        "--symbols", "3", "--years", "1"], check=True, capture_output=True, timeout=120)
        cls.manifest = json.loads((cls.dir / "stockula.db.manifest.json").read_text())
        cls.role = f"etl_wrap_{TAG}"
        psql(f"CREATE ROLE {cls.role} LOGIN PASSWORD '{PASSWORD}'")
        host = os.environ.get("PGHOST", "127.0.0.1")
        if not host or host.startswith("/"):
            host = "127.0.0.1"
        cls.hostport = f"{host}:{os.environ.get('PGPORT', '5432')}"

    @classmethod
    def tearDownClass(cls):
        psql(f"DROP ROLE IF EXISTS {cls.role}", check=False)
        cls.tmp.cleanup()

    def owned_db(self, tag):
        db = PgDatabase(tag)
        self.addCleanup(db.drop)
        psql(f"ALTER DATABASE {db.name} OWNER TO {self.role}")
        return db

    def url(self, db, password=PASSWORD):
        return f"postgresql://{self.role}:{password}@{self.hostport}/{db.name}"

    def wrap(self, *args, env=None):
        return run(["bash", str(SCRIPT), *args], env=env or wrapper_env(), cwd=self.dir)

    def assert_no_password(self, r, password=PASSWORD):
        self.assertNotIn(password, r.stdout + r.stderr, r.describe())

    def test_happy_path_plain_postgresql(self):
        if timescaledb_preloaded():
            self.skipTest("the server preloads TimescaleDB: --allow-plain is not exercised")
        db = self.owned_db("wrap_ok")
        report = self.dir / "ok.json"
        r = self.wrap("--allow-plain", str(self.sqlite), self.url(db), "--", "--report", str(report), "--no-progress")
        self.assertEqual(r.rc, 0, r.describe())
        self.assert_no_password(r)
        self.assertNotIn(PASSWORD, report.read_text())
        # The rows: every valid price row of the file, as the migrator's report says too.
        valid = self.manifest["price_history"]["expected_valid"]
        self.assertGreater(valid, 500)
        self.assertEqual(int(db.scalar("SELECT count(*) FROM price_bars")), valid)
        self.assertEqual(json.loads(report.read_text())["tables"]["price_history"]["inserted"], valid)
        # Preflight: plain PostgreSQL accepted with a warning; the role is no superuser, so no free-disk check.
        self.assertIn("TimescaleDB is not preloaded", r.stderr)
        self.assertIn("warning: --allow-plain", r.stderr)
        self.assertIn("free disk not checked", r.stderr)
        # Next steps: the URL without its password, and the project's crontab lines.
        lines = r.stdout.splitlines()
        self.assertIn("Next steps:", lines)
        self.assertIn(f"       DATABASE_URL=postgresql://{self.role}@{self.hostport}/{db.name}", lines)
        self.assertIn("(the password was left out here", r.stdout)
        self.assertTrue(any("etl-historical 1Y --report" in line for line in lines), r.stdout)
        self.assertTrue(any("etl-latest --market-hours-only" in line for line in lines), r.stdout)

    def test_plain_postgresql_without_allow_plain_is_78(self):
        if timescaledb_preloaded():
            self.skipTest("the server preloads TimescaleDB")
        db = self.owned_db("wrap_plain")
        # The URL from DATABASE_URL this time.
        r = self.wrap(str(self.sqlite), env=wrapper_env(DATABASE_URL=self.url(db)))
        self.assertEqual(r.rc, 78, r.describe())
        self.assert_no_password(r)
        self.assertIn("shared_preload_libraries = 'timescaledb'", r.stderr)
        # "install it first" only where the extension is not installed at all.
        self.assertEqual("install it first" in r.stderr, not timescaledb_installed(), r.stderr)
        self.assertIn("CREATE EXTENSION", r.stderr)
        self.assertIn("--allow-plain", r.stderr.splitlines()[-1])
        # Stopped before any DDL: not even the schema was applied.
        self.assertFalse(db.has_table("price_bars"))
        self.assertNotIn("Next steps", r.stdout)

    def test_happy_path_timescaledb(self):
        if not timescaledb_preloaded():
            self.skipTest("the server does not preload TimescaleDB (tests/pg_target.sh timescaledb runs this)")
        # As the PG* superuser: CREATE EXTENSION timescaledb needs it.
        db = PgDatabase("wrap_tsdb")
        self.addCleanup(db.drop)
        r = self.wrap(str(self.sqlite), db.url, "--", "--no-progress",
                      env=clean_env(ETL=str(BIN_DIR / "etl"), ETL_MIGRATE=str(MIGRATE)))
        self.assertEqual(r.rc, 0, r.describe())
        self.assertNotIn("TimescaleDB is not preloaded", r.stderr)
        self.assertIn("Next steps:", r.stdout.splitlines())
        self.assertEqual(int(db.scalar("SELECT count(*) FROM price_bars")), self.manifest["price_history"]["expected_valid"])
        self.assertEqual(db.scalar("SELECT count(*) FROM timescaledb_information.hypertables "
                                   "WHERE hypertable_name = 'price_bars'"), "1")

    def test_etl_validate_next_to_the_migrator_runs_after_it(self):
        if timescaledb_preloaded():
            self.skipTest("the server preloads TimescaleDB")
        db = self.owned_db("wrap_validate")
        # A bin dir with the real migrator and a stand-in etl-validate that records how it was called.
        bin_dir = self.dir / "bin-validate"
        bin_dir.mkdir()
        (bin_dir / "etl-migrate-sqlite").symlink_to(MIGRATE)
        calls = self.dir / "validate-calls.txt"
        validate = bin_dir / "etl-validate"
        validate.write_text("#!/bin/sh\n"
                            f"printf '%s|%s|%s\\n' \"$*\" \"$DATABASE_URL\" \"$(psql -X -Atc 'SELECT count(*) FROM price_bars' \"$DATABASE_URL\")\" >>'{calls}'\n"
                            "exit 3\n")
        validate.chmod(0o755)
        r = self.wrap("--allow-plain", str(self.sqlite), self.url(db),
                      env=wrapper_env(ETL_MIGRATE=str(bin_dir / "etl-migrate-sqlite")))
        # Its failure is a warning; the exit code stays the migrator's.
        self.assertEqual(r.rc, 0, r.describe())
        self.assertIn("warning: etl-validate found differences (exit 3)", r.stderr)
        # Called once, after the migration (the rows were there), with the URL in its environment only.
        valid = self.manifest["price_history"]["expected_valid"]
        self.assertEqual(calls.read_text().splitlines(), [f"--against sqlite:{self.sqlite}|{self.url(db)}|{valid}"])
        self.assert_no_password(r)

    def test_low_disk_on_a_local_server_is_73(self):
        # As the PG* superuser over the local server, SHOW data_directory is allowed; a stand-in df on
        # PATH reports 100 KiB free, less than twice the file.
        stub = self.dir / "bin-df"
        stub.mkdir(exist_ok=True)
        (stub / "df").write_text("#!/bin/sh\n"
                                 "echo 'Filesystem 1024-blocks Used Available Capacity Mounted on'\n"
                                 "echo '/dev/tiny 2048 1948 100 95% /'\n")
        (stub / "df").chmod(0o755)
        db = PgDatabase("wrap_disk")
        self.addCleanup(db.drop)
        env = clean_env(ETL=str(BIN_DIR / "etl"), ETL_MIGRATE=str(MIGRATE), PATH=f"{stub}:{os.environ['PATH']}")
        r = self.wrap("--allow-plain", str(self.sqlite), db.url, env=env)
        self.assertEqual(r.rc, 73, r.describe())
        data_dir = psql("SHOW data_directory").strip()
        need_mib = (self.sqlite.stat().st_size * 2 + 1048575) // 1048576
        self.assertEqual(r.stderr.strip().splitlines()[-1],
                         f"migrate-sqlite-to-timescale.sh: not enough disk: 0 MiB free for {data_dir}, "
                         f"the migration wants {need_mib} MiB (twice the SQLite file); free some space first")
        self.assertFalse(db.has_table("price_bars"))
        # With the real df the same server passes the check and says how much is free.
        r = self.wrap("--allow-plain", str(self.sqlite), db.url, "--", "--dry-run",
                      env=clean_env(ETL=str(BIN_DIR / "etl"), ETL_MIGRATE=str(MIGRATE)))
        self.assertIn("migrate-sqlite-to-timescale.sh: free disk: ", r.stderr, r.describe())
        self.assertIn(f" MiB for {data_dir} (the migration wants {need_mib} MiB)", r.stderr)

    def test_missing_file_is_66(self):
        db = self.owned_db("wrap_nofile")
        missing = self.dir / "no-such.db"
        r = self.wrap("--allow-plain", str(missing), self.url(db))
        self.assertEqual(r.rc, 66, r.describe())
        self.assertEqual(r.stderr.strip(),
                         f"migrate-sqlite-to-timescale.sh: SQLite file {missing} does not exist: check the path")
        self.assert_no_password(r)
        self.assertFalse(db.has_table("price_bars"))

    def test_unreachable_server_is_75(self):
        r = self.wrap("--allow-plain", str(self.sqlite), f"postgresql://{self.role}:{PASSWORD}@127.0.0.1:1/nodb")
        self.assertEqual(r.rc, 75, r.describe())
        self.assert_no_password(r)
        err = r.stderr.strip().splitlines()
        self.assertEqual(len(err), 1, r.describe())
        self.assertTrue(err[0].startswith(
            f"migrate-sqlite-to-timescale.sh: cannot reach the database at postgresql://{self.role}@127.0.0.1:1/nodb: "),
            r.describe())

    def test_wrong_password_is_78(self):
        if os.environ.get("ETL_TEST_PG_TARGET"):
            # scripts/pg-servers.sh starts the TimescaleDB servers with trust authentication: any password works.
            self.skipTest("the TimescaleDB test servers trust every login")
        db = self.owned_db("wrap_badpw")
        wrong = "PwSECRETwrong" + uuid.uuid4().hex[:20]
        r = self.wrap("--allow-plain", str(self.sqlite), self.url(db, password=wrong))
        self.assertEqual(r.rc, 78, r.describe())
        self.assert_no_password(r, wrong)
        self.assert_no_password(r)
        err = r.stderr.strip().splitlines()
        self.assertEqual(len(err), 1, r.describe())
        self.assertIn(f"the database at postgresql://{self.role}@{self.hostport}/{db.name} refused the connection: ", err[0])
        self.assertIn("password authentication failed", err[0])

    def test_no_database_url_is_64(self):
        r = self.wrap(str(self.sqlite), env=wrapper_env(DATABASE_URL=None))
        self.assertEqual(r.rc, 64, r.describe())
        self.assertEqual(len(r.stderr.strip().splitlines()), 1, r.describe())
        self.assertIn("usage: migrate-sqlite-to-timescale.sh", r.stderr)


if __name__ == "__main__":
    unittest.main()
