"""Prometheus metrics (README "Metrics"): etl-historical writes market_etl_<job>.prom for node_exporter's
textfile collector and pushes to a real Pushgateway (the Debian package prometheus-pushgateway, on
loopback), grouped by job and shard. Checks the values against the database, that promtool accepts what
is written and the shipped alerting rules, that a failing run keeps the last success of an earlier one in
both outputs, and that a failing output is one warning that changes nothing else."""
import os
import re
import shutil
import sqlite3
import subprocess
import tempfile
import textwrap
import unittest
import urllib.request
from pathlib import Path

from harness import (NOW, SOURCE_DIR, Background, ServerTestCase, _free_port, clean_env, run, sqlite_query,
                     unix_seconds, wait_for)

PUSHGATEWAY = shutil.which("prometheus-pushgateway") or "/usr/bin/prometheus-pushgateway"
PROMTOOL = shutil.which("promtool")
RULES = SOURCE_DIR / "etc" / "prometheus" / "market-etl.rules.yml"
JOB = "etl-historical"

_LINE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)')
_LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')


def parse(text: str) -> dict:
    """Exposition text -> {(name, frozenset of (label, value)): float}."""
    out = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        m = _LINE.match(line)
        assert m, f"not a sample line: {line!r}"
        labels = frozenset(_LABEL.findall(m.group(2) or ""))
        out[(m.group(1), labels)] = float(m.group(3))
    return out


def value(samples: dict, name: str, **labels):
    """The value of the one sample of `name` whose labels include `labels` (None when there is none)."""
    want = set(labels.items())
    found = [v for (n, ls), v in samples.items() if n == name and want <= set(ls)]
    assert len(found) <= 1, f"{name}{labels}: {len(found)} samples"
    return found[0] if found else None


class Pushgateway:
    def __init__(self):
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc = Background([PUSHGATEWAY, f"--web.listen-address=127.0.0.1:{self.port}"])

        def ready():
            try:
                with urllib.request.urlopen(f"{self.url}/-/ready", timeout=1) as r:
                    return r.status == 200
            except OSError:
                assert self.proc.running(), f"pushgateway exited: {self.proc.stderr_so_far()[-2000:]}"
                return False
        wait_for(ready, timeout=20, message="the pushgateway to be ready")

    def metrics(self) -> dict:
        with urllib.request.urlopen(f"{self.url}/metrics", timeout=5) as r:
            return {k: v for k, v in parse(r.read().decode()).items() if k[0].startswith("market_etl_")}

    def stop(self):
        self.proc.kill()


@unittest.skipUnless(os.access(PUSHGATEWAY, os.X_OK) and PROMTOOL,
                     "needs the Debian packages prometheus-pushgateway and prometheus (promtool): "
                     "scripts/install-deps.sh installs them")
class Metrics(ServerTestCase):
    tmp_tag = "metrics"

    def setUp(self):
        super().setUp()
        self.pushgateway = Pushgateway()
        self.addCleanup(self.pushgateway.stop)
        self.textfile_dir = self.tmp.path / "textfile"
        self.textfile_dir.mkdir()

    def hist(self, *args, now=NOW, mock=True, **extra):
        env = self.env(ETL_NOW=now, ETL_METRICS_PUSHGATEWAY_URL=self.pushgateway.url,
                       ETL_METRICS_TEXTFILE_DIR=str(self.textfile_dir), **extra)
        argv = ["etl-historical", "1M", "AAPL", *args, "--database-url", f"sqlite:{self.db}"]
        if mock:
            argv.append("--mock")
        return run(argv, env=env, cwd=self.tmp.path)

    def textfile(self, name=f"market_etl_{JOB}.prom") -> tuple[str, dict]:
        path = self.textfile_dir / name
        self.assertTrue(path.exists(), f"no {path}: {sorted(os.listdir(self.textfile_dir))}")
        text = path.read_text()
        return text, parse(text)

    def promtool_check(self, text: str):
        p = subprocess.run([PROMTOOL, "check", "metrics"], input=text, capture_output=True, text=True)
        self.assertEqual(p.returncode, 0, f"promtool check metrics:\n{p.stdout}{p.stderr}\n--- text ---\n{text}")
        self.assertEqual(p.stdout + p.stderr, "", "promtool lint findings")

    def rows_in_db(self) -> int:
        return sqlite_query(self.db, "SELECT count(*) FROM price_bars")[0][0]

    def test_success_then_failure_keeps_the_last_success(self):
        # 1. A successful run: both outputs, the same values, checked against the database.
        r = self.hist()
        self.assertEqual(r.rc, 0, r.describe())
        text, file_samples = self.textfile()
        self.promtool_check(text)
        rows = self.rows_in_db()
        self.assertGreater(rows, 15)
        t1 = unix_seconds(NOW)
        pushed = self.pushgateway.metrics()
        for samples, where in ((file_samples, "textfile"), (pushed, "pushgateway")):
            with self.subTest(where=where):
                grp = {"job": JOB, "shard": "0_1"}
                self.assertEqual(value(samples, "market_etl_last_exit_code", **grp), 0)
                self.assertEqual(value(samples, "market_etl_last_success_timestamp_seconds", **grp), t1)
                self.assertEqual(value(samples, "market_etl_last_run_timestamp_seconds", **grp), t1)
                self.assertEqual(value(samples, "market_etl_rows", result="inserted", **grp), rows)
                self.assertEqual(value(samples, "market_etl_rows", result="unchanged", **grp), 0)
                self.assertEqual(value(samples, "market_etl_rows", result="rejected", **grp), 0)
                self.assertEqual(value(samples, "market_etl_symbols", status="ok", **grp), 1)
                self.assertEqual(value(samples, "market_etl_symbols", status="failed", **grp), 0)
                self.assertGreaterEqual(value(samples, "market_etl_run_duration_seconds", **grp), 0)
                # AAPL, named on the command line and not in assets, is recorded inactive: no freshness.
                self.assertIsNone(value(samples, "market_etl_latest_bar_timestamp_seconds"))
                # The mock provider makes no HTTP request.
                self.assertIsNone(value(samples, "market_etl_provider_requests_total"))
        # The Pushgateway grouped it by job and shard, and nothing else.
        groups = {(dict(ls)["job"], dict(ls)["shard"]) for (n, ls) in pushed}
        self.assertEqual(groups, {(JOB, "0_1")})

        # 2. The asset activated, a re-run an hour later: unchanged rows, and the freshness of the 1d bars.
        con = sqlite3.connect(self.db)
        con.execute("UPDATE assets SET active = 1 WHERE symbol = 'AAPL'")
        con.commit()
        con.close()
        now2 = "2025-03-14T22:00:00Z"
        r = self.hist("--full", now=now2)  # --full: a whole refetch, every row unchanged (incremental: none fetched)
        self.assertEqual(r.rc, 0, r.describe())
        latest = unix_seconds(sqlite_query(self.db, "SELECT max(ts) FROM price_bars WHERE symbol = 'AAPL' "
                                                    "AND timeframe = '1d'")[0][0])
        self.assertEqual(latest, unix_seconds("2025-03-14T00:00:00Z"))
        text, file_samples = self.textfile()
        self.promtool_check(text)
        for samples in (file_samples, self.pushgateway.metrics()):
            self.assertEqual(value(samples, "market_etl_rows", result="inserted"), 0)
            self.assertEqual(value(samples, "market_etl_rows", result="unchanged"), rows)
            self.assertEqual(value(samples, "market_etl_latest_bar_timestamp_seconds", timeframe="1d"), latest)
            self.assertIsNone(value(samples, "market_etl_latest_bar_timestamp_seconds", timeframe="1h"))
            self.assertEqual(value(samples, "market_etl_last_success_timestamp_seconds"), unix_seconds(now2))

        # 3. The provider down (the fake Polygon answers 500 to everything): exit 69; the last success stays.
        self.server.set_rules([{"match": "", "mode": "500"}])
        now3 = "2025-03-14T23:00:00Z"
        r = self.hist("--full", now=now3, mock=False)  # --full: AAPL is up to date, the run must ask
        self.assertEqual(r.rc, 69, r.describe())
        text, file_samples = self.textfile()
        self.promtool_check(text)
        pushed = self.pushgateway.metrics()
        for samples, where in ((file_samples, "textfile"), (pushed, "pushgateway")):
            with self.subTest(where=where, run="failed"):
                self.assertEqual(value(samples, "market_etl_last_exit_code"), 69)
                self.assertEqual(value(samples, "market_etl_last_run_timestamp_seconds"), unix_seconds(now3))
                self.assertEqual(value(samples, "market_etl_last_success_timestamp_seconds"), unix_seconds(now2))
                self.assertEqual(value(samples, "market_etl_symbols", status="failed"), 1)
                self.assertEqual(value(samples, "market_etl_symbols", status="ok"), 0)
                # ETL_FETCH_MAX_RETRIES=2 (harness): three requests, two retries, every one a 500.
                self.assertEqual(value(samples, "market_etl_provider_requests_total", provider="polygon",
                                       code="500"), 3)
                self.assertEqual(value(samples, "market_etl_retries_total", provider="polygon"), 2)
                self.assertEqual(value(samples, "market_etl_latest_bar_timestamp_seconds", timeframe="1d"),
                                 latest)

        # 4. A success again replaces the whole group (PUT): the provider series of the failed run go.
        self.server.set_rules([])
        now4 = "2025-03-15T00:00:00Z"
        r = self.hist(now=now4)
        self.assertEqual(r.rc, 0, r.describe())
        for samples in (self.textfile()[1], self.pushgateway.metrics()):
            self.assertEqual(value(samples, "market_etl_last_exit_code"), 0)
            self.assertEqual(value(samples, "market_etl_last_success_timestamp_seconds"), unix_seconds(now4))
            self.assertIsNone(value(samples, "market_etl_provider_requests_total"))
        self.assertEqual(sorted(os.listdir(self.textfile_dir)), [f"market_etl_{JOB}.prom"])

    def test_a_first_run_that_fails_has_no_last_success(self):
        self.server.set_rules([{"match": "", "mode": "404"}])
        r = self.hist(mock=False)
        self.assertEqual(r.rc, 1, r.describe())
        text, samples = self.textfile()
        self.promtool_check(text)
        for s in (samples, self.pushgateway.metrics()):
            self.assertEqual(value(s, "market_etl_last_exit_code"), 1)
            self.assertIsNone(value(s, "market_etl_last_success_timestamp_seconds"))
            self.assertEqual(value(s, "market_etl_provider_requests_total", provider="polygon", code="404"), 1)

    def test_shards_have_their_own_group_and_file(self):
        r = self.hist("--shard", "1/2", "--no-progress")
        self.assertEqual(r.rc, 0, r.describe())
        text, samples = self.textfile(f"market_etl_{JOB}_1_2.prom")
        self.promtool_check(text)
        pushed = self.pushgateway.metrics()
        self.assertEqual({dict(ls)["shard"] for (n, ls) in pushed}, {"1_2"})
        self.assertEqual({dict(ls)["shard"] for (n, ls) in samples}, {"1_2"})

    def test_dry_run_writes_no_metrics(self):
        r = self.hist("--dry-run")
        self.assertEqual(r.rc, 0, r.describe())
        self.assertEqual(os.listdir(self.textfile_dir), [])
        self.assertEqual(self.pushgateway.metrics(), {})

    def test_failing_outputs_are_one_warning_and_keep_the_exit_code(self):
        closed = f"http://metrics:pgw-s3cret-pass@127.0.0.1:{_free_port()}"
        env = self.env(ETL_METRICS_PUSHGATEWAY_URL=closed,
                       ETL_METRICS_TEXTFILE_DIR=str(self.tmp.path / "missing"), ETL_LOG_FORMAT="text")
        r = run(["etl-historical", "1M", "AAPL", "--mock", "--database-url", f"sqlite:{self.db}"], env=env,
                cwd=self.tmp.path)
        self.assertEqual(r.rc, 0, r.describe())
        warnings = [l for l in r.stderr.splitlines() if "could not write the metrics" in l]
        self.assertEqual(len(warnings), 1, r.describe())
        self.assertIn("textfile: cannot create a temporary file beside", warnings[0])
        self.assertIn("push to http://metrics:***@127.0.0.1:", warnings[0])
        self.assertNotIn("pgw-s3cret-pass", r.stderr + r.stdout)
        self.assertFalse((self.tmp.path / "missing").exists())


@unittest.skipUnless(PROMTOOL, "needs promtool (Debian package prometheus): scripts/install-deps.sh installs it")
class Rules(unittest.TestCase):
    def test_promtool_check_rules(self):
        p = subprocess.run([PROMTOOL, "check", "rules", str(RULES)], capture_output=True, text=True)
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        self.assertIn("SUCCESS: 9 rules found", p.stdout)

    def test_alerts_fire_when_they_should(self):
        """promtool test rules: a job whose successes stop, stale daily bars, rejected rows."""
        tests = textwrap.dedent(f"""\
            rule_files: [{RULES}]
            evaluation_interval: 1m
            tests:
              - interval: 1m
                input_series:
                  # Succeeded at time 0, then ran and failed every minute (samples every minute: a series
                  # with gaps longer than 5 minutes would go stale between them).
                  - series: 'market_etl_last_success_timestamp_seconds{{job="etl-historical",shard="0_1"}}'
                    values: '0x7400'
                  - series: 'market_etl_last_exit_code{{job="etl-historical",shard="0_1"}}'
                    values: '0 69x7399'
                  - series: 'market_etl_latest_bar_timestamp_seconds{{job="etl-historical",shard="0_1",timeframe="1d"}}'
                    values: '0x7400'
                  - series: 'market_etl_rows{{job="etl-historical",shard="0_1",result="inserted"}}'
                    values: '90x7400'
                  - series: 'market_etl_rows{{job="etl-historical",shard="0_1",result="rejected"}}'
                    values: '10x7400'
                alert_rule_test:
                  - eval_time: 95h
                    alertname: MarketEtlHistoricalNotSucceeding
                  - eval_time: 100h
                    alertname: MarketEtlHistoricalNotSucceeding
                    exp_alerts:
                      - exp_labels: {{severity: critical, job: etl-historical, shard: "0_1"}}
                        exp_annotations:
                          summary: "etl-historical (shard 0_1) has not succeeded for 4 days"
                          description: "Last success 4d 4h 0m 0s ago. See market_etl_last_exit_code and etl_runs."
                  - eval_time: 100h
                    alertname: MarketEtlDailyBarsStale
                  - eval_time: 122h
                    alertname: MarketEtlDailyBarsStale
                    exp_alerts:
                      - exp_labels: {{severity: warning, job: etl-historical}}
                        exp_annotations:
                          summary: "Daily bars are stale: the most lagging active asset's latest bar is 5d 2h 0m 0s old"
                          description: "Find it with: SELECT symbol, max(ts) FROM price_bars WHERE timeframe = '1d' GROUP BY symbol ORDER BY 2 LIMIT 5."
                  - eval_time: 1h
                    alertname: MarketEtlRejectedRatioHigh
                    exp_alerts:
                      - exp_labels: {{severity: warning, job: etl-historical, shard: "0_1"}}
                        exp_annotations:
                          summary: "etl-historical (shard 0_1) rejected 10% of its rows"
            """)
        with tempfile.TemporaryDirectory() as d:
            path = Path(d) / "rules_test.yml"
            path.write_text(tests)
            p = subprocess.run([PROMTOOL, "test", "rules", str(path)], capture_output=True, text=True)
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)


if __name__ == "__main__":
    unittest.main()
