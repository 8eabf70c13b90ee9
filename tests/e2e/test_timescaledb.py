"""The PostgreSQL sink on the three kinds of server a user has (SPEC section 3):

- plain PostgreSQL (the pg_virtualenv cluster around the suite): plain tables, no warning;
- TimescaleDB installed but not in shared_preload_libraries (ETL_TEST_PG_TARGET=timescaledb_unloaded):
  CREATE EXTENSION would end the session with a FATAL error, so the loader must not try; plain tables
  and one warning that names shared_preload_libraries;
- TimescaleDB preloaded (ETL_TEST_PG_TARGET=timescaledb): price_bars is a hypertable with compression,
  re-runs and upserts work over compressed chunks, the compression policy and the hourly retention job
  follow the config, and retention never deletes daily bars.

ctest runs this file once per server (tests/pg_target.sh sets PG* and ETL_TEST_PG_TARGET).
"""
import json
import os
import shutil
import socket
import subprocess
import tempfile
import unittest

from harness import SOURCE_DIR, PgDatabase, clean_env, psql, require_pg, run

TARGET = os.environ.get("ETL_TEST_PG_TARGET", "plain")
PRELOAD_HINT = "shared_preload_libraries"


def warnings_of(stderr: str) -> list[str]:
    out = []
    for line in stderr.splitlines():
        line = line.strip()
        if line.startswith("{"):
            try:
                doc = json.loads(line)
            except ValueError:
                continue
            if doc.get("level") == "warn":
                out.append(doc.get("msg", ""))
    return out


class ServerKinds(unittest.TestCase):
    """What every kind of server gives: a successful run, and the tables a user expects."""

    @classmethod
    def setUpClass(cls):
        require_pg()
        cls.db = PgDatabase("tsdb")
        cls.env = clean_env()
        cls.first = run(["etl-historical", "1M", "AAPL", "BTC", "--mock", "--database-url", cls.db.url], env=cls.env)

    @classmethod
    def tearDownClass(cls):
        cls.db.drop()

    def test_first_run_succeeds(self):
        # Before the fix, a not-preloaded server ended every run with 75 ("no connection to the server").
        self.assertEqual(self.first.rc, 0, self.first.describe())
        self.assertEqual(self.db.runs()[-1]["status"], "success")
        self.assertGreater(int(self.db.scalar("SELECT count(*) FROM price_bars")), 30)

    def test_extension_and_table_kind(self):
        ext = self.db.scalar("SELECT extversion FROM pg_extension WHERE extname = 'timescaledb'")
        hypertable = self.db.scalar("SELECT count(*) FROM pg_extension WHERE extname = 'timescaledb'") == "1" and \
            self.db.scalar("SELECT count(*) FROM timescaledb_information.hypertables "
                           "WHERE hypertable_name = 'price_bars'") == "1"
        if TARGET == "timescaledb":
            self.assertTrue(ext, "the extension is enabled on a preloaded server")
            self.assertTrue(hypertable)
            self.assertIn("timescaledb", self.first.stderr)  # the summary names the store
        else:
            self.assertIsNone(ext)
            self.assertIn("postgresql (plain)", self.first.stderr)

    def test_warning_only_when_installed_but_not_preloaded(self):
        warns = [w for w in warnings_of(self.first.stderr) if "timescaledb" in w]
        if TARGET == "timescaledb_unloaded":
            self.assertEqual(len(warns), 1, self.first.stderr)
            self.assertIn(PRELOAD_HINT, warns[0])
            self.assertIn("plain PostgreSQL tables", warns[0])
        else:
            self.assertEqual(warns, [], self.first.stderr)

    def test_rerun_is_a_noop(self):
        before = self.db.dump_bars()
        r = run(["etl-historical", "1M", "AAPL", "BTC", "--mock", "--database-url", self.db.url], env=self.env)
        self.assertEqual(r.rc, 0, r.describe())
        self.assertEqual(self.db.dump_bars(), before)


@unittest.skipUnless(TARGET == "timescaledb", "needs a server with TimescaleDB preloaded")
class Hypertable(unittest.TestCase):
    def setUp(self):
        self.db = PgDatabase("tsdbh")
        self.env = clean_env()

    def tearDown(self):
        self.db.drop()

    def hist(self, *args, **env):
        return run(["etl-historical", *args, "--mock", "--database-url", self.db.url], env=clean_env(**env))

    def jobs(self, proc):
        return self.db.query(f"SELECT job_id, config::text FROM timescaledb_information.jobs WHERE proc_name = '{proc}'")

    def test_role_that_may_not_create_the_extension_gets_plain_tables(self):
        # TimescaleDB is not a trusted extension: a role that is not a superuser cannot create it, even in
        # its own database. The run goes on with plain tables and one warning that says how to fix it.
        role = f"etl_plain_{self.db.name[-8:]}"
        self.db.raw(f"CREATE ROLE {role} LOGIN")
        # Cleanups run after tearDown has dropped the database (and so everything the role owned).
        self.addCleanup(psql, f"DROP ROLE IF EXISTS {role}")
        self.db.raw(f"ALTER DATABASE {self.db.name} OWNER TO {role}; GRANT ALL ON SCHEMA public TO {role}")
        r = run(["etl-historical", "7D", "AAPL", "--mock", "--database-url", self.db.url],
                env=clean_env(PGUSER=role))
        self.assertEqual(r.rc, 0, r.describe())
        warns = [w for w in warnings_of(r.stderr) if "timescaledb" in w]
        self.assertEqual(len(warns), 1, r.stderr)
        self.assertIn("superuser", warns[0])
        self.assertIn("CREATE EXTENSION timescaledb", warns[0])
        self.assertIsNone(self.db.scalar("SELECT extversion FROM pg_extension WHERE extname = 'timescaledb'"))
        self.assertIn("postgresql (plain)", r.stderr)

    def test_compression_settings(self):
        r = self.hist("7D", "AAPL")
        self.assertEqual(r.rc, 0, r.describe())
        rows = self.db.query("SELECT attname, segmentby_column_index, orderby_column_index, orderby_asc "
                             "FROM timescaledb_information.compression_settings WHERE hypertable_name = 'price_bars' "
                             "ORDER BY attname")
        settings = {a: (s, o, asc) for a, s, o, asc in rows}
        self.assertEqual(settings["symbol"][0], "1")
        self.assertEqual(settings["timeframe"][0], "2")
        self.assertEqual(settings["ts"][1:], ("1", "f"))     # order by ts desc

    def test_reruns_and_upserts_over_compressed_chunks(self):
        r = self.hist("1Y", "AAPL", "BTC")
        self.assertEqual(r.rc, 0, r.describe())
        original = self.db.dump_bars()
        compressed = self.db.compress_all_chunks()
        self.assertGreater(compressed, 5)
        self.assertEqual(self.db.scalar("SELECT count(*) FROM show_chunks('price_bars')"), str(compressed))
        strip = lambda rows: [row[:-1] for row in rows]   # without ingested_at

        # An unchanged re-run over compressed chunks writes nothing.
        r = self.hist("1Y", "AAPL", "BTC")
        self.assertEqual(r.rc, 0, r.describe())
        self.assertEqual(self.db.dump_bars(), original)

        # Rows changed and deleted inside compressed chunks are put back: updates through the staged
        # merge, missing rows through COPY into the compressed chunks.
        self.db.raw("UPDATE price_bars SET close = close + 1 WHERE symbol = 'AAPL' "
                    "AND ts >= '2024-06-01' AND ts < '2024-07-01'")
        self.db.raw("DELETE FROM price_bars WHERE symbol = 'BTC' AND ts >= '2024-08-01' AND ts < '2024-08-11'")
        self.assertNotEqual(strip(self.db.dump_bars()), strip(original))
        r = self.hist("1Y", "AAPL", "BTC", "--full")  # the whole window: an incremental run trusts what is stored
        self.assertEqual(r.rc, 0, r.describe())
        self.assertEqual(strip(self.db.dump_bars()), strip(original))
        run_row = self.db.runs()[-1]
        self.assertEqual(run_row["rows_inserted"], "10")
        self.assertEqual(run_row["rows_updated"], str(sum(1 for row in original if row[0] == "AAPL"
                                                          and "2024-06-01" <= row[2] < "2024-07-01")))

    def test_compression_policy_follows_config(self):
        r = self.hist("7D", "AAPL")
        self.assertEqual(r.rc, 0, r.describe())
        jobs = self.jobs("policy_compression")
        self.assertEqual(len(jobs), 1)
        self.assertEqual(json.loads(jobs[0][1])["compress_after"], "30 days")

        r = self.hist("7D", "AAPL", ETL_TIMESCALEDB_COMPRESS_AFTER_DAYS="7")
        self.assertEqual(r.rc, 0, r.describe())
        jobs = self.jobs("policy_compression")
        self.assertEqual(len(jobs), 1)
        self.assertEqual(json.loads(jobs[0][1])["compress_after"], "7 days")

        r = self.hist("7D", "AAPL", ETL_TIMESCALEDB_COMPRESS_AFTER_DAYS="0")
        self.assertEqual(r.rc, 0, r.describe())
        self.assertEqual(self.jobs("policy_compression"), [])

    def test_retention_follows_config_and_spares_daily_bars(self):
        r = self.hist("7D", "AAPL")
        self.assertEqual(r.rc, 0, r.describe())
        self.assertEqual(self.jobs("market_etl_prune_hourly_bars"), [])    # retention_days = 0: keep all
        # A retention policy on price_bars (an earlier version's, or added by hand) drops daily history.
        self.db.raw("SELECT add_retention_policy('price_bars', INTERVAL '30 days')")

        r = self.hist("7D", "AAPL", ETL_TIMESCALEDB_RETENTION_DAYS="90")
        self.assertEqual(r.rc, 0, r.describe())
        self.assertEqual(self.jobs("policy_retention"), [])
        self.assertTrue(any("retention policy" in w for w in warnings_of(r.stderr)), r.stderr)
        jobs = self.jobs("market_etl_prune_hourly_bars")
        self.assertEqual(len(jobs), 1)
        self.assertEqual(json.loads(jobs[0][1]), {"retention_days": 90})

        r = self.hist("7D", "AAPL", ETL_TIMESCALEDB_RETENTION_DAYS="120")
        self.assertEqual(r.rc, 0, r.describe())
        jobs = self.jobs("market_etl_prune_hourly_bars")
        self.assertEqual(len(jobs), 1)
        self.assertEqual(json.loads(jobs[0][1]), {"retention_days": 120})
        job_id = jobs[0][0]
        self.assertEqual(self.db.scalar(f"SELECT scheduled FROM timescaledb_information.jobs WHERE job_id = {job_id}"),
                         "t")
        # The scheduler runs a new job at once, whenever its worker gets to it: on a slow machine, after
        # the old hourly bars below are loaded (a CI run counted 0 of them). Paused, the job is not
        # started again; a later run of ours must leave it paused. A run the scheduler had already decided
        # on could still start after the pause (its Running row not yet committed), so this database's
        # scheduler is stopped too: stop_background_workers() returns once the scheduler has exited, and
        # the scheduler sends its job workers SIGTERM as it exits, so a run still under way rolls back,
        # before any of the bars below exist. Nothing starts the job again: it runs only when called.
        self.db.raw(f"SELECT alter_job({job_id}, scheduled => false)")
        self.assertEqual(self.db.scalar("SELECT _timescaledb_functions.stop_background_workers()"), "t")

        # The job deletes old hourly bars only: load a year of daily bars and an old session's hourly
        # bars, then run the job now.
        r = self.hist("1Y", "AAPL", "--full", ETL_TIMESCALEDB_RETENTION_DAYS="120")  # widened from 7D: --full
        self.assertEqual(r.rc, 0, r.describe())
        r = run(["etl", "hourly", "AAPL", "--session", "2024-06-03", "--mock", "--database-url", self.db.url],
                env=clean_env(ETL_TIMESCALEDB_RETENTION_DAYS="120"))
        self.assertEqual(r.rc, 0, r.describe())
        daily = int(self.db.scalar("SELECT count(*) FROM price_bars WHERE timeframe = '1d'"))
        self.assertGreater(daily, 200)
        self.assertGreater(int(self.db.scalar("SELECT count(*) FROM price_bars WHERE timeframe = '1h'")), 5)
        self.db.compress_all_chunks()
        # An old hourly bar's indicators go with it (timescaledb/0005); daily indicators stay.
        self.db.raw("INSERT INTO indicator_bars (symbol, timeframe, ts, sma_10) VALUES ('AAPL', '1h', '2024-06-03 14:00+00', 1.5)")
        daily_indicators = self.db.scalar("SELECT count(*) FROM indicators WHERE timeframe = '1d'")
        self.assertGreater(int(daily_indicators), 0)
        self.assertEqual(self.db.scalar(f"SELECT scheduled FROM timescaledb_information.jobs WHERE job_id = {job_id}"),
                         "f")
        self.db.raw(f"CALL run_job({job_id})")
        self.assertEqual(self.db.scalar("SELECT count(*) FROM price_bars WHERE timeframe = '1h'"), "0")
        self.assertEqual(self.db.scalar("SELECT count(*) FROM indicators WHERE timeframe = '1h'"), "0")
        self.assertEqual(self.db.scalar("SELECT count(*) FROM indicators WHERE timeframe = '1d'"), daily_indicators)
        self.assertEqual(int(self.db.scalar("SELECT count(*) FROM price_bars WHERE timeframe = '1d'")), daily)

        r = self.hist("7D", "AAPL", ETL_TIMESCALEDB_RETENTION_DAYS="0")
        self.assertEqual(r.rc, 0, r.describe())
        self.assertEqual(self.jobs("market_etl_prune_hourly_bars"), [])

    def test_rollup_policies_refresh_in_one_pass_and_a_role_not_owning_them_only_warns(self):
        r = self.hist("7D", "AAPL")
        self.assertEqual(r.rc, 0, r.describe())
        jobs_sql = ("SELECT job_id, coalesce(config->>'buckets_per_batch', 'unset') FROM timescaledb_information.jobs "
                    "WHERE proc_name = 'policy_refresh_continuous_aggregate' ORDER BY job_id")
        jobs = self.db.query(jobs_sql)
        self.assertEqual([batch for _, batch in jobs], ["0", "0"], jobs)
        # As before timescaledb/0006, then 0006 again as a role that does not own the jobs (the schema set up
        # by another role): a warning that says what to run, the policies unchanged, no failure.
        self.db.raw("SELECT alter_job(job_id, config => config - 'buckets_per_batch') FROM timescaledb_information.jobs "
                    "WHERE proc_name = 'policy_refresh_continuous_aggregate'")
        migration = (SOURCE_DIR / "sql" / "timescaledb" / "0006-rollup-refresh-in-one-pass.sql").read_text()
        role = f"{self.db.name}_app"
        self.db.raw(f"CREATE ROLE {role} NOLOGIN")
        try:
            p = subprocess.run(["psql", "-X", "-At", "-v", "ON_ERROR_STOP=1", "-d", self.db.name,
                                "-c", f"SET ROLE {role}; {migration}"], capture_output=True, text=True, timeout=60)
            self.assertEqual(p.returncode, 0, p.stderr)
            self.assertIn("still refreshes in batches", p.stderr)
            self.assertIn("as the job's owner run SELECT alter_job(", p.stderr)
            self.assertEqual([batch for _, batch in self.db.query(jobs_sql)], ["unset", "unset"])
        finally:
            self.db.raw(f"DROP ROLE IF EXISTS {role}")
        self.db.raw(migration)
        self.assertEqual([batch for _, batch in self.db.query(jobs_sql)], ["0", "0"])


class OwnServer:
    """A throwaway TimescaleDB-capable server of this test's own, so it can be restarted with and without
    the preload (the shared test servers cannot be)."""

    def __init__(self, bindir):
        self.bindir = bindir
        self.dir = tempfile.mkdtemp(prefix="etl-own-pg-")
        os.chmod(self.dir, 0o755)
        self.as_owner = []
        if os.geteuid() == 0:                       # the server refuses to run as root
            shutil.chown(self.dir, "postgres")
            self.as_owner = ["runuser", "-u", "postgres", "--"]
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        self.pg(["initdb", "-D", f"{self.dir}/data", "-A", "trust", "-U", "postgres", "--no-sync"])

    def pg(self, args):
        subprocess.run(self.as_owner + [f"{self.bindir}/{args[0]}", *args[1:]], check=True, capture_output=True,
                       timeout=120)

    def start(self, preload: bool):
        opts = f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1 -c fsync=off"
        if preload:
            opts += " -c shared_preload_libraries=timescaledb -c timescaledb.telemetry_level=off"
        self.pg(["pg_ctl", "-D", f"{self.dir}/data", "-l", f"{self.dir}/log", "-w", "-o", opts, "start"])

    def stop(self):
        subprocess.run(self.as_owner + [f"{self.bindir}/pg_ctl", "-D", f"{self.dir}/data", "-m", "fast", "stop"],
                       capture_output=True, timeout=120)

    @property
    def url(self):
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def cleanup(self):
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)


@unittest.skipUnless(TARGET == "timescaledb", "needs the TimescaleDB build")
class ExtensionWithoutPreload(unittest.TestCase):
    """A database that already uses the extension, on a server that no longer preloads it: any DDL
    there ends the session (FATAL), so the run must stop before it with 78 and the fix, not with 75
    ("server closed the connection") on every retry."""

    def test_config_error_names_the_fix(self):
        bindir = os.environ.get("ETL_TEST_TIMESCALEDB_BINDIR")
        if not bindir:
            self.fail("ETL_TEST_TIMESCALEDB_BINDIR is not set (scripts/pg-servers.sh sets it)")
        server = OwnServer(bindir)
        try:
            server.start(preload=True)
            env = clean_env(PGHOST=None, PGPORT=None, PGUSER=None, PGDATABASE=None, PGPASSWORD=None)
            r = run(["etl-historical", "7D", "AAPL", "--mock", "--database-url", server.url], env=env)
            self.assertEqual(r.rc, 0, r.describe())
            self.assertIn("timescaledb", r.stderr)
            server.stop()
            server.start(preload=False)
            r = run(["etl-historical", "7D", "AAPL", "--mock", "--database-url", server.url], env=env)
            self.assertEqual(r.rc, 78, r.describe())
            errors = [line for line in r.stderr.splitlines() if "shared_preload_libraries" in line]
            self.assertEqual(len(errors), 1, r.stderr)
            self.assertIn("restart the server", errors[0])
        finally:
            server.cleanup()


if __name__ == "__main__":
    unittest.main()
