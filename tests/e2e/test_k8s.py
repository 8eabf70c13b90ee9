"""The Kubernetes set in etc/k8s/ and the rate limit its sharded jobs share.

- Every manifest validates against the Kubernetes API schema, strictly (scripts/k8s-validate.sh: the
  npm package kubernetes-models, pinned in tests/k8s/package-lock.json, cached outside the repository),
  and the validator rejects a misspelt field and a wrong type.
- The set is complete and safe: the five jobs of the crontab and the systemd units, each a CronJob in
  America/New_York with concurrencyPolicy Forbid, the podFailurePolicy of the exit codes (and of evicted
  pods), keys from the Secret only; MAX as an Indexed Job whose shard count matches its completions.
- Every schedule fires each intended run exactly once across the 2027 spring and autumn DST changes
  (croniter in America/New_York, cross-checked against New York's wall clock minute by minute).
- providers.<name>.rate_limit_scope: a run of shard K/N says how it shares each provider's limit, and
  spaces its requests by its share.
"""
from __future__ import annotations

import json
import re
import subprocess
import sys
import unittest
from datetime import date, datetime, time, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

from harness import ETL, ETL_HISTORICAL, ETL_LATEST, SOURCE_DIR, FakeServer, TempDir, clean_env, run, start

try:
    import yaml
    from croniter import croniter
    import pytz
except ImportError:
    # Debian's python3-yaml, python3-croniter and python3-tz live in Debian's dist-packages, which a
    # python3 of its own (pyenv, a venv) does not search: look there last.
    sys.path.append("/usr/lib/python3/dist-packages")
    import yaml  # noqa: E402
    from croniter import croniter  # noqa: E402
    import pytz  # noqa: E402

K8S = SOURCE_DIR / "etc" / "k8s"
VALIDATE = SOURCE_DIR / "scripts" / "k8s-validate.sh"
UNITS = SOURCE_DIR / "etc" / "systemd"
UTC = timezone.utc
NY = ZoneInfo("America/New_York")
NY_PYTZ = pytz.timezone("America/New_York")

# Every CronJob: its command, and its schedule and the runs it is meant to make (the same jobs as
# crontab.example and etc/systemd/; test_schedules.py checks those).
JOBS = {
    "market-etl-latest": (["etl-latest", "--market-hours-only"], "* * * * *", "latest"),
    "market-etl-hourly": (["etl-hourly", "--market-hours-only"], "*/10 9-15 * * 1-5", "hourly"),
    "market-etl-hourly-close": (["etl-hourly"], "5 16 * * 1-5", "hourly-close"),
    "market-etl-historical-1y": (["etl-historical", "1Y", "--after-close"], "35 16 * * 1-5", "daily"),
    "market-etl-historical-max": (["etl-historical", "MAX", "--full"], "30 3 * * 0", "weekly"),
}
# The systemd unit of each CronJob (its ExecStart is the same command).
UNIT_OF = {
    "market-etl-latest": "market-etl-latest.service",
    "market-etl-hourly": "market-etl-hourly.service",
    "market-etl-hourly-close": "market-etl-hourly-close.service",
    "market-etl-historical-1y": "market-etl-historical-1y.service",
    "market-etl-historical-max": "market-etl-historical-max.service",
}
FAIL_CODES = [64, 65, 66, 70, 78]     # fix the command, config or data: retrying cannot help
POD_FAILURE_RULES = [
    {"action": "FailJob", "onExitCodes": {"containerName": "etl", "operator": "In", "values": FAIL_CODES}},
    {"action": "Ignore", "onExitCodes": {"containerName": "etl", "operator": "In", "values": [130]}},
    {"action": "Ignore", "onPodConditions": [{"type": "DisruptionTarget", "status": "True"}]},
]
# The Indexed MAX backfill: too many rejects (65) in one shard's symbols fails that index only, so the
# other shards finish their work; the other fix-the-command codes fail the whole Job.
INDEXED_POD_FAILURE_RULES = [
    {"action": "FailIndex", "onExitCodes": {"containerName": "etl", "operator": "In", "values": [65]}},
    {"action": "FailJob", "onExitCodes": {"containerName": "etl", "operator": "In",
                                          "values": [c for c in FAIL_CODES if c != 65]}},
    *POD_FAILURE_RULES[1:],
]
SECRET_KEYS = {"DATABASE_URL", "REDIS_URL", "POLYGON_API_KEY", "COINGECKO_API_KEY"}

# The weeks of the 2027 DST changes, New York dates (end exclusive): EST -> EDT on Sunday 2027-03-14,
# EDT -> EST on Sunday 2027-11-07. No NYSE holiday falls in either.
PERIODS = {
    "spring": (date(2027, 3, 8), date(2027, 3, 22)),
    "autumn": (date(2027, 11, 1), date(2027, 11, 15)),
}
# For the every-minute schedule (20,000 fires a fortnight): the days around each change, Saturday to Monday.
LATEST_PERIODS = {
    "spring": (date(2027, 3, 13), date(2027, 3, 16)),
    "autumn": (date(2027, 11, 6), date(2027, 11, 9)),
}
HOURLY_TIMES = [time(h, m) for h in range(9, 16) for m in range(0, 60, 10) if (h, m) >= (9, 30)]
# The hourly schedule's fires before the open: --market-hours-only makes them exit 0 at once.
HOURLY_EARLY = [time(9, 0), time(9, 10), time(9, 20)]


def manifests() -> dict[str, list[dict]]:
    """Every etc/k8s/*.yaml: file name -> its documents."""
    return {p.name: [d for d in yaml.safe_load_all(p.read_text()) if d is not None]
            for p in sorted(K8S.glob("*.yaml"))}


def cronjobs() -> dict[str, dict]:
    return {d["metadata"]["name"]: d for docs in manifests().values() for d in docs if d["kind"] == "CronJob"}


def validate(*files) -> tuple[int, list[dict], str]:
    """scripts/k8s-validate.sh on files (none: the default set): rc, its JSON lines, stderr."""
    p = subprocess.run([str(VALIDATE), *map(str, files)], capture_output=True, text=True, timeout=600)
    return p.returncode, [json.loads(line) for line in p.stdout.splitlines() if line.strip()], p.stderr


# ---- schedules ----

def croniter_fires(expr: str, first: date, end: date) -> list[datetime]:
    """croniter's fire instants (UTC) of expr in America/New_York from first 00:00 to end 00:00."""
    it = croniter(expr, NY_PYTZ.localize(datetime.combine(first, time())) - timedelta(seconds=1))
    stop = NY_PYTZ.localize(datetime.combine(end, time()))
    out = []
    while (t := it.get_next(datetime)) < stop:
        out.append(t.astimezone(UTC))
    return out


def wall_clock_fires(expr: str, first: date, end: date) -> list[datetime]:
    """The instants (UTC) at which New York's wall clock shows a minute expr matches, as Kubernetes
    reads a schedule with timeZone: croniter without a time zone gives the matching wall-clock minutes;
    one the spring change skips never shows, one the autumn change repeats shows twice."""
    it = croniter(expr, datetime.combine(first, time()) - timedelta(seconds=1))
    out = []
    while (wall := it.get_next(datetime)) < datetime.combine(end, time()):
        for fold in (0, 1):
            instant = wall.replace(tzinfo=NY, fold=fold).astimezone(UTC)
            if instant.astimezone(NY).replace(tzinfo=None) == wall and instant not in out[-2:]:
                out.append(instant)
    return sorted(out)


def in_dst_change(instant: datetime) -> bool:
    """True within 01:00-03:00 New York of a DST change day (the hours the change skips or repeats)."""
    local = instant.astimezone(NY)
    day = local.date()
    changes = datetime.combine(day, time(12), NY).utcoffset() != datetime.combine(day, time(0), NY).utcoffset()
    return changes and time(1) <= local.time() < time(3)


def intended_runs(kind: str, first: date, end: date) -> list[tuple[date, time]]:
    """The New York (date, time) of every run a job is meant to make; `latest` has one a minute."""
    out = []
    d = first
    while d < end:
        weekday = d.weekday() < 5
        if kind == "hourly" and weekday:
            out += [(d, t) for t in HOURLY_EARLY + HOURLY_TIMES]
        elif kind == "hourly-close" and weekday:
            out.append((d, time(16, 5)))
        elif kind == "daily" and weekday:
            out.append((d, time(16, 35)))
        elif kind == "weekly" and d.weekday() == 6:
            out.append((d, time(3, 30)))
        d += timedelta(days=1)
    return out


def schedule_problems(expr: str, kind: str, first: date, end: date) -> list[str]:
    """What is wrong with expr's fires between first and end: a run missed or made twice, a fire outside
    the intended runs, croniter and the wall clock disagreeing. [] when every run happens exactly once."""
    fires = wall_clock_fires(expr, first, end)
    problems = []
    # croniter in America/New_York (pytz) must agree. Its own DST handling is wrong for a schedule that
    # fires inside the hours a change skips or repeats: a minute schedule gets 03:00-03:59 twice on the
    # spring Sunday and 01:00-01:59 once in autumn. There, and for its repeats, the wall clock alone counts.
    by_croniter = croniter_fires(expr, first, end)
    if kind == "latest":
        by_croniter = sorted({f for f in by_croniter if not in_dst_change(f)})
        if by_croniter != [f for f in fires if not in_dst_change(f)]:
            problems.append("croniter's fires differ from New York's wall clock")
    elif by_croniter != fires:
        problems.append("croniter's fires differ from New York's wall clock")
    if len(set(fires)) != len(fires):
        problems.append("an instant fires twice")
    local = [(f.astimezone(NY).date(), f.astimezone(NY).time()) for f in fires]
    if kind == "latest":
        # Every real minute once: consecutive fires exactly 60 s apart, over the whole period.
        span = datetime.combine(end, time(), NY).astimezone(UTC) - datetime.combine(first, time(), NY).astimezone(UTC)
        if len(fires) != span // timedelta(minutes=1) or any(b - a != timedelta(minutes=1)
                                                            for a, b in zip(fires, fires[1:])):
            problems.append(f"{len(fires)} fires, not one every minute")
        return problems
    want = intended_runs(kind, first, end)
    for run_at in want:
        n = local.count(run_at)
        if n != 1:
            problems.append(f"{run_at[0]} {run_at[1]}: {n} runs")
    problems += [f"{d} {t}: an unintended run" for d, t in local if (d, t) not in want]
    return problems


class Schedules(unittest.TestCase):
    def test_every_intended_run_happens_exactly_once_across_dst(self):
        jobs = cronjobs()
        self.assertEqual(set(jobs), set(JOBS))
        for name, (_, expr, kind) in JOBS.items():
            self.assertEqual(jobs[name]["spec"]["schedule"], expr, name)
            for period, (first, end) in (LATEST_PERIODS if kind == "latest" else PERIODS).items():
                with self.subTest(job=name, period=period):
                    self.assertEqual(schedule_problems(expr, kind, first, end), [])

    def test_counts_of_runs(self):
        # Two weeks of ten weekdays and two Sundays; the spring change day has an hour less, the autumn one more.
        first, end = PERIODS["spring"]
        self.assertEqual(len(croniter_fires("5 16 * * 1-5", first, end)), 10)
        self.assertEqual(len(croniter_fires("*/10 9-15 * * 1-5", first, end)), 10 * 42)
        self.assertEqual(len(croniter_fires("30 3 * * 0", first, end)), 2)
        self.assertEqual(len(wall_clock_fires("* * * * *", *LATEST_PERIODS["spring"])), 3 * 1440 - 60)
        self.assertEqual(len(wall_clock_fires("* * * * *", *LATEST_PERIODS["autumn"])), 3 * 1440 + 60)

    def test_the_check_catches_a_dst_hour(self):
        # The schedules the DST changes break: the spring Sunday has no 02:30, the autumn one has 01:30 twice.
        first, end = PERIODS["spring"]
        wall = [f.astimezone(NY) for f in wall_clock_fires("30 2 * * 0", first, end)]
        self.assertEqual([w.date() for w in wall], [date(2027, 3, 21)])
        self.assertNotEqual(schedule_problems("30 2 * * 0", "weekly", first, end), [])
        first, end = PERIODS["autumn"]
        wall = [f.astimezone(NY) for f in wall_clock_fires("30 1 * * 0", first, end)]
        self.assertEqual([w.date() for w in wall], [date(2027, 11, 7), date(2027, 11, 7), date(2027, 11, 14)])
        self.assertNotEqual(schedule_problems("30 1 * * 0", "weekly", first, end), [])
        # A wrong time is caught too, not only a DST hour.
        self.assertIn(f"{date(2027, 3, 15)} 16:35:00: an unintended run",
                      schedule_problems("35 16 * * 1-5", "hourly-close", *PERIODS["spring"]))


# ---- the manifests ----

class Schema(unittest.TestCase):
    def test_every_manifest_is_valid(self):
        rc, docs, err = validate()
        self.assertEqual(rc, 0, err + "\n".join(map(json.dumps, docs)))
        seen = sorted((Path(d["file"]).name, d["kind"], d["name"]) for d in docs)
        expected = sorted([("configmap.yaml", "ConfigMap", "market-etl-config"),
                           ("secret.example.yaml", "Secret", "market-etl")] +
                          [(f"cronjob-{n.removeprefix('market-etl-')}.yaml", "CronJob", n) for n in JOBS])
        self.assertEqual(seen, expected, "every etc/k8s/*.yaml but kustomization.yaml, each validated")
        self.assertEqual([d["errors"] for d in docs], [[]] * len(docs))

    def test_the_validator_rejects_unknown_fields_and_wrong_types(self):
        text = (K8S / "cronjob-historical-max.yaml").read_text()
        broken = (text.replace("  timeZone: America/New_York", "  timezone: America/New_York")
                  .replace("completions: 4", 'completions: "4"')
                  .replace("              envFrom:", "              envfrom:")
                  .replace("action: FailJob", "action: Fail"))
        self.assertEqual(len(broken.splitlines()), len(text.splitlines()))
        with TempDir("k8s") as tmp:
            path = tmp / "broken.yaml"
            path.write_text(broken + "---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: x, labelz: {a: b}}\n"
                                     "data: {retries: 3}\n")
            rc, docs, err = validate(path)
        self.assertEqual(rc, 1, err)
        self.assertEqual([d["kind"] for d in docs], ["CronJob", "ConfigMap"])
        self.assertEqual(sorted(docs[0]["errors"]), sorted([
            '/spec/jobTemplate/spec/completions: type (type: "integer")',
            '/spec/jobTemplate/spec/podFailurePolicy/rules/1/action: enum '
            '(allowedValues: ["Count","FailIndex","FailJob","Ignore"])',
            "/spec/timezone: unknown field (not in the schema)",
            "/spec/jobTemplate/spec/template/spec/containers/0/envfrom: unknown field (not in the schema)",
        ]))
        self.assertEqual(sorted(docs[1]["errors"]), ['/data/retries: type (type: "string")',
                                                     "/metadata/labelz: unknown field (not in the schema)"])

    def test_the_validator_refuses_what_it_cannot_check(self):
        with TempDir("k8s") as tmp:
            path = tmp / "odd.yaml"
            path.write_text("apiVersion: example.com/v1\nkind: Widget\nmetadata: {name: w}\n")
            rc, docs, _ = validate(path)
        self.assertEqual(rc, 2)
        self.assertEqual(docs[0]["errors"], ["kubernetes-models knows no example.com/v1 Widget"])


class Manifests(unittest.TestCase):
    def setUp(self):
        self.all = manifests()
        self.jobs = cronjobs()

    def container(self, name):
        spec = self.jobs[name]["spec"]["jobTemplate"]["spec"]["template"]["spec"]
        self.assertEqual(len(spec["containers"]), 1, name)
        return spec, spec["containers"][0]

    def test_every_cronjob_is_safe_to_schedule(self):
        for name, cj in self.jobs.items():
            with self.subTest(job=name):
                spec = cj["spec"]
                self.assertEqual(spec["timeZone"], "America/New_York")
                self.assertEqual(spec["concurrencyPolicy"], "Forbid")
                job = spec["jobTemplate"]["spec"]
                expected = INDEXED_POD_FAILURE_RULES if job.get("completionMode") == "Indexed" else POD_FAILURE_RULES
                self.assertEqual(job["podFailurePolicy"]["rules"], expected)
                self.assertIn("activeDeadlineSeconds", job)
                pod, c = self.container(name)
                self.assertEqual(pod["restartPolicy"], "Never", "podFailurePolicy needs restartPolicy Never")
                self.assertEqual(c["name"], "etl", "the container the exit-code rules name")
                self.assertEqual(c["envFrom"], [{"secretRef": {"name": "market-etl"}}])
                self.assertTrue(pod["securityContext"]["runAsNonRoot"])

    def test_commands_are_the_crontab_and_systemd_jobs(self):
        for name, (command, _, _) in JOBS.items():
            with self.subTest(job=name):
                _, c = self.container(name)
                args = c["command"] + c["args"]
                self.assertEqual(args[-2:], ["--log-format", "json"])
                self.assertEqual(args[:-2], command)
                unit = (UNITS / UNIT_OF[name]).read_text()
                exec_start = re.search(r"^ExecStart=(.*)$", unit, re.M).group(1).split()
                exec_start = [Path(exec_start[0]).name] + exec_start[1:]
                if "--report" in exec_start:
                    i = exec_start.index("--report")
                    del exec_start[i:i + 2]
                self.assertEqual(exec_start, command, UNIT_OF[name])

    def test_max_is_an_indexed_job_of_matching_shards(self):
        job = self.jobs["market-etl-historical-max"]["spec"]["jobTemplate"]["spec"]
        self.assertEqual(job["completionMode"], "Indexed")
        self.assertEqual(job["completions"], 4)
        self.assertEqual(job["parallelism"], 4)
        self.assertEqual(job["backoffLimitPerIndex"], 2)
        _, c = self.container("market-etl-historical-max")
        env = {e["name"]: e["value"] for e in c["env"]}
        self.assertEqual(env["ETL_SHARD_COUNT"], "4", "ETL_SHARD_COUNT = completions")
        self.assertNotIn("JOB_COMPLETION_INDEX", env, "Kubernetes sets it for each pod")
        for name in set(JOBS) - {"market-etl-historical-max"}:
            with self.subTest(job=name):
                self.assertNotIn("completionMode", self.jobs[name]["spec"]["jobTemplate"]["spec"])
                _, c = self.container(name)
                self.assertNotIn("ETL_SHARD_COUNT", {e["name"] for e in c.get("env", [])})

    def test_no_literal_secrets(self):
        for name in JOBS:
            with self.subTest(job=name):
                _, c = self.container(name)
                literal = {e["name"] for e in c.get("env", []) if "value" in e}
                self.assertEqual(literal & SECRET_KEYS, set())
                self.assertEqual([n for n in literal if re.search(r"KEY|TOKEN|PASSWORD|SECRET|_URL$", n)], [])
        secrets = [(f, d) for f, docs in self.all.items() for d in docs if d["kind"] == "Secret"]
        self.assertEqual([f for f, _ in secrets], ["secret.example.yaml"], "keys only in the example Secret")
        secret = secrets[0][1]
        self.assertEqual(secret["metadata"]["name"], "market-etl")
        self.assertNotIn("data", secret)
        self.assertEqual(set(secret["stringData"]), SECRET_KEYS)
        for key, value in secret["stringData"].items():
            with self.subTest(key=key):
                if key.endswith("_API_KEY"):
                    self.assertIn(value, ("", "REPLACE_ME"))
                elif key == "DATABASE_URL":
                    self.assertIn(":REPLACE_ME@", value, "a placeholder password")
                else:
                    self.assertNotRegex(value, r"//[^/@]*:[^/@]*@", "no password")

    def test_config_map_is_a_valid_etl_toml(self):
        cm = self.all["configmap.yaml"][0]
        for name in JOBS:
            with self.subTest(job=name):
                pod, c = self.container(name)
                self.assertEqual({e["name"]: e["value"] for e in c["env"]}["ETL_CONFIG"], "/etc/market-etl/etl.toml")
                self.assertEqual(c["volumeMounts"], [{"name": "config", "mountPath": "/etc/market-etl",
                                                      "readOnly": True}])
                self.assertEqual(pod["volumes"], [{"name": "config", "configMap": {"name": cm["metadata"]["name"]}}])
        with TempDir("k8s") as tmp:
            (tmp / "etl.toml").write_text(cm["data"]["etl.toml"])
            r = run([ETL, "config", "show"], env=clean_env(ETL_CONFIG=str(tmp / "etl.toml")), cwd=tmp)
        self.assertEqual(r.rc, 0, r.describe())
        self.assertRegex(r.stdout, r'(?m)^providers\.polygon\.rate_limit_scope\s+= "key"  # .*etl\.toml')
        self.assertRegex(r.stdout, r'(?m)^log\.format\s+= "json"  # .*etl\.toml')

    def test_kustomization_lists_the_set_but_the_secret(self):
        k = self.all["kustomization.yaml"][0]
        self.assertEqual(set(k), {"apiVersion", "kind", "labels", "resources"})
        self.assertEqual((k["apiVersion"], k["kind"]), ("kustomize.config.k8s.io/v1beta1", "Kustomization"))
        self.assertEqual(sorted(k["resources"]),
                         sorted(set(self.all) - {"kustomization.yaml", "secret.example.yaml"}))


# ---- rate_limit_scope ----

class RateLimitScope(unittest.TestCase):
    # Shard 0/2 owns NVDA, META and AVGO; 1/2 owns AAPL, MSFT, GOOG and AMZN (market::Shard's stable hash).
    SYMBOLS = ["NVDA", "META", "AVGO", "AAPL", "MSFT", "GOOG", "AMZN"]

    def setUp(self):
        self.tmp = TempDir("k8s-rate")
        self.addCleanup(self.tmp.cleanup)

    def hist(self, server, shard, **env):
        url = f"sqlite:{self.tmp.path / ('s' + shard.replace('/', '_') + '.db')}"
        # 1M: about 21 sessions for at most 7 symbols, so every symbol is one request of its own (grouped
        # daily answers would cost more); the pacing of those requests is what these tests measure.
        return run([ETL_HISTORICAL, "1M", *self.SYMBOLS, "--shard", shard, "--database-url", url,
                    "--log-format", "json", "--no-progress"],
                   env=clean_env(POLYGON_API_KEY="pk_test", **server.env(), **env), cwd=self.tmp.path)

    def notes(self, r):
        return [e.get("msg") for e in r.json_logs() if "rate limit" in str(e.get("msg"))]

    def test_key_scope_shares_the_limit_and_spaces_requests_by_the_share(self):
        with FakeServer() as server:
            r = self.hist(server, "1/2", ETL_PROVIDERS_POLYGON_REQUESTS_PER_MINUTE="240")
            self.assertEqual(r.rc, 0, r.describe())
            self.assertEqual(self.notes(r), [
                "polygon: rate limit 240/min shared by 2 shards → 120/min per shard (rate_limit_scope=key)"])
            info = [e for e in r.json_logs() if "rate limit" in str(e.get("msg"))][0]
            self.assertEqual(info["level"], "info")
            stamps = sorted(q["ts"] for q in server.requests("polygon"))
        self.assertEqual(len(stamps), 4, "one request for each of AAPL, MSFT, GOOG, AMZN")
        # 120/min: a request every 0.5 s (the whole 240/min would send every 0.25 s).
        gaps = [b - a for a, b in zip(stamps, stamps[1:])]
        self.assertGreaterEqual(min(gaps), 0.45, gaps)

    def test_latest_shares_the_limit_too(self):
        with FakeServer() as server:
            r = run([ETL_LATEST, *self.SYMBOLS, "--shard", "1/2", "--database-url",
                     f"sqlite:{self.tmp.path / 'latest.db'}", "--log-format", "json"],
                    env=clean_env(POLYGON_API_KEY="pk_test", **server.env(),
                                  ETL_PROVIDERS_POLYGON_REQUESTS_PER_MINUTE="240"), cwd=self.tmp.path)
            self.assertEqual(r.rc, 0, r.describe())
            self.assertEqual(self.notes(r), [
                "polygon: rate limit 240/min shared by 2 shards → 120/min per shard (rate_limit_scope=key)"])
            stamps = sorted(q["ts"] for q in server.requests("polygon"))
        self.assertEqual(len(stamps), 2, "AAPL, MSFT, GOOG, AMZN in the two grouped daily answers")
        self.assertGreaterEqual(min(b - a for a, b in zip(stamps, stamps[1:])), 0.45, stamps)

    def test_process_scope_keeps_the_whole_limit(self):
        with FakeServer() as server:
            r = self.hist(server, "0/2", ETL_PROVIDERS_POLYGON_REQUESTS_PER_MINUTE="240",
                          ETL_PROVIDERS_POLYGON_RATE_LIMIT_SCOPE="process")
            self.assertEqual(r.rc, 0, r.describe())
            self.assertEqual(self.notes(r), [
                "polygon: rate limit 240/min in each of 2 shards, not shared (rate_limit_scope=process)"])
            stamps = sorted(q["ts"] for q in server.requests("polygon"))
        self.assertEqual(len(stamps), 3, "one request for each of NVDA, META, AVGO")
        # Still paced, at the whole limit: a request every 0.25 s (not the 0.5 s of a divided limit).
        gaps = [b - a for a, b in zip(stamps, stamps[1:])]
        self.assertGreaterEqual(min(gaps), 0.2, gaps)
        self.assertLess(max(gaps), 0.45, gaps)

    def test_shards_started_together_interleave_their_requests(self):
        # Two shards at 120/min on one key: each sends every 1 s, shard 1 half a second after shard 0, so
        # the key sees one request every 0.5 s, as from one process, never two at once.
        with FakeServer() as server:
            jobs = []
            for shard in ("0/2", "1/2"):
                url = f"sqlite:{self.tmp.path / ('s' + shard.replace('/', '_') + '.db')}"
                jobs.append(start([ETL_HISTORICAL, "7D", *self.SYMBOLS, "--shard", shard, "--database-url", url],
                                  env=clean_env(POLYGON_API_KEY="pk_test", **server.env(),
                                                ETL_PROVIDERS_POLYGON_REQUESTS_PER_MINUTE="120"),
                                  cwd=self.tmp.path))
            for job in jobs:
                r = job.wait()
                self.assertEqual(r.rc, 0, r.describe())
            stamps = sorted(q["ts"] for q in server.requests("polygon"))
        self.assertEqual(len(stamps), len(self.SYMBOLS))
        gaps = [b - a for a, b in zip(stamps, stamps[1:])]
        self.assertGreaterEqual(min(gaps), 0.3, gaps)

    def test_one_shard_says_nothing(self):
        with FakeServer() as server:
            r = self.hist(server, "0/1")
            self.assertEqual(len(server.requests("polygon")), len(self.SYMBOLS))
        self.assertEqual(r.rc, 0, r.describe())
        self.assertEqual(self.notes(r), [])

    def test_an_unknown_scope_is_a_config_error(self):
        with FakeServer() as server:
            r = self.hist(server, "1/2", ETL_PROVIDERS_POLYGON_RATE_LIMIT_SCOPE="shard")
            self.assertEqual(server.requests(), [])
        self.assertEqual(r.rc, 78, r.describe())
        self.assertIn("providers.polygon.rate_limit_scope = 'shard'", r.stderr)
        self.assertIn("must be key or process", r.stderr)


if __name__ == "__main__":
    unittest.main()
