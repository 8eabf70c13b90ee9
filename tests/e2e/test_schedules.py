"""The schedules fire on time: crontab.example (UTC, for Debian 12's cron) and etc/systemd/ (timers in
America/New_York), across a spring and an autumn DST change.

For every crontab line, croniter (python3-croniter) gives its UTC fire times; for every timer,
`systemd-analyze calendar --base-time` does. Each fire is then put through the job's own gate (the
model below: --after-close, --market-hours-only, or none) over the sessions that `etl calendar` prints,
and the fires where the job works must land in its New York window: the daily refresh once per session
after the close, the hourly job every 10 minutes from 09:30 to 15:50, its after-close run once per
session, latest every minute, the MAX backfill once a week at a time New York has. The model is checked
against the binaries themselves at every daily fire and a sample of hourly ones (ETL_NOW, --mock,
--dry-run). Then etl-historical --after-close end to end, and `systemd-analyze verify` on the units.
"""
from __future__ import annotations

import re
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import unittest
from datetime import date, datetime, time, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

from harness import BIN_DIR, ETL, ETL_HISTORICAL, KEEP, SOURCE_DIR, clean_env, run

try:
    from croniter import croniter
except ImportError:
    # Debian's python3-croniter lives in Debian's dist-packages, which a python3 of its own (pyenv,
    # a venv) does not search: look there last, never before the interpreter's own packages.
    sys.path.append("/usr/lib/python3/dist-packages")
    try:
        from croniter import croniter
    except ImportError:
        croniter = None

UTC = timezone.utc
NY = ZoneInfo("America/New_York")
CRONTAB = SOURCE_DIR / "crontab.example"
UNITS = SOURCE_DIR / "etc" / "systemd"
ETL_HOURLY = str(BIN_DIR / "etl-hourly")

# Two weeks around each 2025 DST change: EST -> EDT on Sunday 2025-03-09, EDT -> EST on Sunday
# 2025-11-02 (UTC dates, end exclusive). No NYSE holiday falls in either.
PERIODS = {
    "spring": (datetime(2025, 3, 3, tzinfo=UTC), datetime(2025, 3, 17, tzinfo=UTC)),
    "autumn": (datetime(2025, 10, 27, tzinfo=UTC), datetime(2025, 11, 10, tzinfo=UTC)),
}

# The jobs, by the command a crontab line or a unit's ExecStart runs (path, --report and redirections
# left out), and the gate each one applies to itself.
JOBS = {
    "etl-historical 1Y --after-close": "daily",
    "etl-historical MAX --full": "weekly",
    "etl-hourly --market-hours-only": "hourly",
    "etl-hourly": "hourly-close",
    "etl-latest --market-hours-only": "latest",
}
GATES = {"daily": "after-close", "hourly": "market-hours-only", "latest": "market-hours-only"}

# The session's hourly runs, New York time: 09:30, 09:40 ... 15:50.
HOURLY_TIMES = [time(h, m) for h in range(9, 16) for m in range(0, 60, 10) if (h, m) >= (9, 30)]
# The after-close runs come at most this long after the regular close (16:00 ET).
LATEST_AFTER_CLOSE = time(18, 0)


def require_croniter(testcase):
    if croniter is None:
        testcase.skipTest("python3-croniter cannot be imported (apt-get install python3-croniter; "
                          "scripts/install-deps.sh installs it)")


def require_systemd_analyze(testcase):
    if shutil.which("systemd-analyze") is None:
        testcase.skipTest("systemd-analyze is missing (apt-get install systemd; scripts/install-deps.sh)")


def command_of(text: str) -> str:
    """The job a command line runs: binary name and arguments, without path, --report and redirections."""
    words = text.split()
    out, skip = [], False
    for w in words:
        if skip:
            skip = False
        elif w == "--report":
            skip = True
        elif w.startswith("2>") or w.startswith(">"):
            continue
        else:
            out.append(Path(w).name if not out else w)
    return " ".join(out)


def crontab_lines() -> list[tuple[str, str]]:
    """(schedule, command) of every job line of crontab.example."""
    out = []
    for line in CRONTAB.read_text().splitlines():
        line = line.strip()
        if not line or line.startswith("#") or re.match(r"^[A-Za-z_][A-Za-z0-9_]*=", line):
            continue
        fields = line.split(None, 5)
        out.append((" ".join(fields[:5]), fields[5]))
    return out


def timer_units() -> dict[str, list[str]]:
    """For every market-etl-*.timer: the OnCalendar= values, keyed by the command its service runs."""
    out = {}
    for timer in sorted(UNITS.glob("market-etl-*.timer")):
        service = timer.with_suffix(".service").read_text()
        exec_start = re.search(r"^ExecStart=(.*)$", service, re.M).group(1)
        specs = re.findall(r"^OnCalendar=(.*)$", timer.read_text(), re.M)
        out[command_of(exec_start)] = specs
    return out


def cron_fires(schedule: str, start: datetime, end: datetime) -> list[datetime]:
    it = croniter(schedule, start - timedelta(seconds=1))
    out = []
    while (t := it.get_next(datetime)) < end:
        out.append(t)
    return out


_ELAPSE = re.compile(r"^\s*(?:Next elapse|Iter\. #\d+): \w{3} (\d{4}-\d\d-\d\d \d\d:\d\d:\d\d) UTC$", re.M)


def timer_fires(spec: str, start: datetime, end: datetime) -> list[datetime]:
    """The elapses of one OnCalendar= value in [start, end), from systemd-analyze calendar (in UTC)."""
    fires, base = [], start - timedelta(seconds=1)
    while not fires or fires[-1] < end:
        p = subprocess.run(["systemd-analyze", "calendar", f"--base-time={base:%Y-%m-%d %H:%M:%S} UTC",
                            "--iterations=1000", spec],
                           capture_output=True, text=True, env={**clean_env(), "TZ": "UTC"}, timeout=60)
        if p.returncode != 0:
            raise AssertionError(f"systemd-analyze calendar {spec!r}: exit {p.returncode}\n{p.stderr}")
        chunk = [datetime.strptime(m, "%Y-%m-%d %H:%M:%S").replace(tzinfo=UTC) for m in _ELAPSE.findall(p.stdout)]
        if not chunk:
            raise AssertionError(f"no elapse in the output of systemd-analyze calendar {spec!r}:\n{p.stdout}")
        fires += chunk
        base = chunk[-1]
    return [t for t in fires if start <= t < end]


class Sessions:
    """The NYSE sessions of some New York dates, as `etl calendar DATE` prints them."""

    _SESSION = re.compile(r"^  (open|close)\s+\d\d:\d\d ET = (\S+)$", re.M)

    def __init__(self, days: list[date]):
        self.by_date: dict[date, tuple[datetime, datetime]] = {}
        for d in days:
            r = run([ETL, "calendar", d.isoformat()])
            if r.rc != 0:
                raise AssertionError(r.describe())
            times = dict(self._SESSION.findall(r.stdout))
            if times:
                self.by_date[d] = tuple(datetime.strptime(times[k], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
                                        for k in ("open", "close"))

    def on(self, d: date):
        return self.by_date.get(d)

    def works(self, gate: str | None, t: datetime) -> bool:
        """Whether a run at t does its work (for equities) under `gate`: the gates' rules, written again."""
        if gate is None:
            return True
        session = self.on(t.astimezone(NY).date())
        if gate == "after-close":
            return session is not None and t >= session[1]
        if gate == "market-hours-only":
            return session is not None and session[0] <= t < session[1]
        raise ValueError(gate)


def ny(t: datetime) -> datetime:
    return t.astimezone(NY)


def exists_once(local: datetime) -> bool:
    """True when the New York wall time `local` happens exactly once (not skipped nor repeated)."""
    naive = local.replace(tzinfo=None)
    a = naive.replace(tzinfo=NY, fold=0).astimezone(UTC)
    b = naive.replace(tzinfo=NY, fold=1).astimezone(UTC)
    return a == b and a.astimezone(NY).replace(tzinfo=None) == naive


class ScheduleChecks:
    """The windows every job's working fires must land in (shared by the crontab and the timers)."""

    sessions: Sessions

    def check_job(self, job: str, fires: list[datetime], start: datetime, end: datetime, where: str):
        gate = GATES.get(job)
        working = [t for t in fires if self.sessions.works(gate, t)]
        session_days = sorted(d for d in self.sessions.by_date
                              if start <= datetime.combine(d, time(12), NY) < end)
        self.assertTrue(session_days, "the periods hold sessions")
        label = f"{where}: {job}"
        if job in ("daily", "hourly-close"):
            by_day = {}
            for t in working:
                by_day.setdefault(ny(t).date(), []).append(t)
            self.assertEqual(sorted(by_day), session_days, f"{label}: one working run on every session day")
            for d, ts in by_day.items():
                self.assertEqual(len(ts), 1, f"{label}: {d}: exactly one working run, got {[ny(t) for t in ts]}")
                t = ts[0]
                close = self.sessions.on(d)[1]
                self.assertGreaterEqual(t, close, f"{label}: {ny(t)} is after the close")
                self.assertLess(ny(t).time(), LATEST_AFTER_CLOSE, f"{label}: {ny(t)} before 18:00 ET")
        elif job == "hourly":
            for d in session_days:
                got = sorted(ny(t).time() for t in working if ny(t).date() == d)
                self.assertEqual(got, HOURLY_TIMES, f"{label}: {d}: every 10 minutes from 09:30 to 15:50 ET")
            self.assertEqual(len(working), len(session_days) * len(HOURLY_TIMES), label)
        elif job == "latest":
            self.assertEqual(fires[0], start, label)
            self.assertEqual(fires[-1], end - timedelta(minutes=1), label)
            gaps = {b - a for a, b in zip(fires, fires[1:])}
            self.assertEqual(gaps, {timedelta(minutes=1)}, f"{label}: every minute, DST changes included")
            for d in session_days:
                open_, close = self.sessions.on(d)
                in_session = [t for t in working if ny(t).date() == d]
                self.assertEqual(len(in_session), (close - open_) // timedelta(minutes=1), f"{label}: {d}")
        elif job == "weekly":
            sundays = sorted({(start + timedelta(days=i)).date() for i in range((end - start).days)
                              if (start + timedelta(days=i)).weekday() == 6})
            self.assertEqual(sorted(ny(t).date() for t in working), sundays, f"{label}: once every Sunday")
            for t in working:
                local = ny(t)
                self.assertTrue(exists_once(local), f"{label}: {local} is a time New York has once")
                self.assertIsNone(self.sessions.on(local.date()), f"{label}: no session that day")
                self.assertTrue(time(3, 0) <= local.time() < time(6, 0), f"{label}: {local}")
        else:
            self.fail(f"unknown job {job}")


_SESSIONS = None


def period_sessions() -> Sessions:
    """The sessions of every New York date the periods touch (and a day either side), read once."""
    global _SESSIONS
    if _SESSIONS is None:
        days = sorted({(start + timedelta(days=i)).date() for start, end in PERIODS.values()
                       for i in range(-1, (end - start).days + 1)})
        _SESSIONS = Sessions(days)
    return _SESSIONS


class _Base(unittest.TestCase, ScheduleChecks):
    @classmethod
    def setUpClass(cls):
        cls.sessions = period_sessions()


class Crontab(_Base):
    def setUp(self):
        require_croniter(self)

    def test_every_line_is_a_known_job_and_every_job_has_a_line(self):
        commands = [command_of(c) for _, c in crontab_lines()]
        self.assertEqual(sorted(commands), sorted(JOBS), "one line per job")

    def test_no_cron_tz(self):
        # Debian 12's cron ignores CRON_TZ: a line relying on it fires at UTC times.
        text = CRONTAB.read_text()
        self.assertNotRegex(text, r"(?m)^\s*(CRON_TZ|TZ)=")

    def test_every_fire_lands_in_its_new_york_window(self):
        for schedule, command in crontab_lines():
            job = JOBS[command_of(command)]
            for name, (start, end) in PERIODS.items():
                with self.subTest(line=schedule, job=job, period=name):
                    self.check_job(job, cron_fires(schedule, start, end), start, end, f"crontab {name}")

    def test_a_second_utc_line_would_run_the_daily_refresh_twice_in_summer(self):
        # Why the daily refresh has one line: with "has the session closed?" as the gate, 20:35 UTC
        # (16:35 EDT) and 21:35 UTC (17:35 EDT) both work in summer. The check above catches that.
        start, end = PERIODS["spring"]
        fires = cron_fires("35 20 * * 1-5", start, end) + cron_fires("35 21 * * 1-5", start, end)
        with self.assertRaises(AssertionError):
            self.check_job("daily", sorted(fires), start, end, "two lines")


class CacheTtls(_Base):
    """The default Redis TTLs outlive the shipped schedules that refresh them, with a margin: a reader
    never finds a key gone between two runs, nor after one missed or slow run."""

    def setUp(self):
        require_croniter(self)

    def default_ttl(self, key: str) -> int:
        r = run([ETL, "config", "show"], env=clean_env())
        self.assertEqual(r.rc, 0, r.describe())
        m = re.search(rf'(?m)^{re.escape(key)}\s*=\s*"(\d+)"\s*# default$', r.stdout)
        self.assertIsNotNone(m, r.describe())
        return int(m.group(1))

    def longest_gap_in_session(self, job: str) -> timedelta:
        """The longest time between two fires of `job`'s crontab lines inside one New York session."""
        gap = timedelta(0)
        for name, (start, end) in PERIODS.items():
            fires = sorted(t for schedule, command in crontab_lines() if JOBS[command_of(command)] == job
                           for t in cron_fires(schedule, start, end))
            working = [t for t in fires if self.sessions.works(GATES.get(job), t)]
            for a, b in zip(working, working[1:]):
                if ny(a).date() == ny(b).date():
                    gap = max(gap, b - a)
        self.assertGreater(gap, timedelta(0), f"no two {job} runs in one session")
        return gap

    def test_latest_ttl_outlives_two_runs(self):
        gap = self.longest_gap_in_session("latest")
        self.assertEqual(gap, timedelta(minutes=1))
        self.assertGreaterEqual(self.default_ttl("redis.latest_ttl_seconds"), 2 * gap.total_seconds() + 30)

    def test_hourly_ttl_outlives_two_runs(self):
        gap = self.longest_gap_in_session("hourly")
        self.assertEqual(gap, timedelta(minutes=10))
        self.assertGreaterEqual(self.default_ttl("redis.hourly_ttl_seconds"), 2 * gap.total_seconds() + 30)


class Timers(_Base):
    def setUp(self):
        require_systemd_analyze(self)

    def test_every_timer_is_a_known_job_and_every_job_has_a_timer(self):
        units = timer_units()
        self.assertEqual(sorted(units), sorted(JOBS))
        for timer in UNITS.glob("market-etl-*.timer"):
            text = timer.read_text()
            self.assertRegex(text, r"(?m)^Persistent=true$", timer.name)
            for spec in re.findall(r"^OnCalendar=(.*)$", text, re.M):
                if "*:*:00" not in spec:  # every minute is every minute in any zone
                    self.assertTrue(spec.endswith(" America/New_York"), f"{timer.name}: {spec}")

    def test_every_elapse_lands_in_its_new_york_window(self):
        for command, specs in timer_units().items():
            job = JOBS[command]
            for name, (start, end) in PERIODS.items():
                with self.subTest(job=job, period=name):
                    fires = sorted(t for spec in specs for t in timer_fires(spec, start, end))
                    self.assertEqual(len(fires), len(set(fires)), f"{job}: no two OnCalendar= lines overlap")
                    self.check_job(job, fires, start, end, f"timer {name}")

    def test_units_verify(self):
        # systemd-analyze verify needs the binaries ExecStart names: point copies at the built ones.
        names = ["etl-historical", "etl-hourly", "etl-latest"]
        missing = [n for n in names if not (BIN_DIR / n).exists()]
        if missing:
            self.skipTest(f"not built: {', '.join(missing)} (in {BIN_DIR})")
        with tempfile.TemporaryDirectory(prefix="etl-units-") as tmp:
            files = []
            for unit in sorted(UNITS.glob("market-etl-*.*")):
                if unit.suffix not in (".service", ".timer"):
                    continue
                copy = Path(tmp) / unit.name
                copy.write_text(unit.read_text().replace("/usr/local/bin/", f"{BIN_DIR}/"))
                files.append(str(copy))
            self.assertEqual(len(files), 2 * len(JOBS))
            p = subprocess.run(["systemd-analyze", "verify", *files], capture_output=True, text=True, timeout=60)
            self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
            self.assertEqual(p.stderr.strip(), "", p.stderr)


class GateModelAgreesWithTheBinaries(_Base):
    """The gates the checks above model, asked of the binaries at real fire times (ETL_NOW)."""

    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="etl-sched-")
        self.db = Path(self.tmp) / "sched.db"
        self.addCleanup(lambda: KEEP or shutil.rmtree(self.tmp, True))

    def worked(self, args, t: datetime) -> bool:
        now = t.strftime("%Y-%m-%dT%H:%M:%SZ")
        r = run([*args, "--mock", "--dry-run", "--log-format", "text", "--database-url", f"sqlite:{self.db}"],
                env=clean_env(ETL_NOW=now), cwd=self.tmp)
        self.assertEqual(r.rc, 0, r.describe())
        skipped = "nothing to do" in r.stderr
        self.assertNotEqual(skipped, "1 symbol (1 ok, 0 failed)" in r.stderr, r.describe())
        return not skipped

    def instants(self, *texts):
        return [datetime.strptime(s, "%Y-%m-%dT%H:%M").replace(tzinfo=UTC) for s in texts]

    def test_after_close(self):
        fires = []
        if croniter is not None:
            for schedule, command in crontab_lines():
                if JOBS[command_of(command)] == "daily":
                    for start, end in PERIODS.values():
                        fires += cron_fires(schedule, start, end)
        # Both sides of each close in both halves, a Saturday, the DST Sunday.
        fires += self.instants("2025-03-07T20:35", "2025-03-07T21:00", "2025-03-10T19:59", "2025-03-10T20:35",
                               "2025-10-31T20:35", "2025-11-03T20:35", "2025-11-03T21:35", "2025-03-08T21:35",
                               "2025-03-09T21:35")
        for t in fires:
            with self.subTest(now=t):
                self.assertEqual(self.worked([ETL_HISTORICAL, "7D", "AAPL", "--after-close"], t),
                                 self.sessions.works("after-close", t))

    def test_market_hours_only(self):
        # Around the open and the close, in the UTC hours the crontab's hourly line covers, both halves.
        fires = self.instants("2025-03-07T13:30", "2025-03-07T14:20", "2025-03-07T14:30", "2025-03-07T20:50",
                              "2025-03-10T13:20", "2025-03-10T13:30", "2025-03-10T19:50", "2025-03-10T20:00",
                              "2025-10-31T13:30", "2025-10-31T20:00", "2025-11-03T14:20", "2025-11-03T14:30",
                              "2025-11-03T20:50", "2025-11-03T21:00")
        for t in fires:
            with self.subTest(now=t):
                self.assertEqual(self.worked([ETL_HOURLY, "AAPL", "--market-hours-only"], t),
                                 self.sessions.works("market-hours-only", t))


class AfterClose(unittest.TestCase):
    """etl-historical 1Y AAPL --mock --after-close, before and after the close of 2025-03-10 (EDT)."""

    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="etl-after-close-")
        self.db = Path(self.tmp) / "market.db"
        self.addCleanup(lambda: KEEP or shutil.rmtree(self.tmp, True))

    def historical(self, now, *extra):
        return run([ETL_HISTORICAL, "1Y", "AAPL", "--mock", "--after-close", "--log-format", "text",
                    "--database-url", f"sqlite:{self.db}", *extra], env=clean_env(ETL_NOW=now), cwd=self.tmp)

    def one_line(self, r):
        lines = [l for l in r.stderr.splitlines() if l.strip()]
        self.assertEqual(len(lines), 1, r.describe())
        self.assertEqual(r.stdout.strip(), "", r.describe())
        return lines[0]

    def test_before_the_close_nothing_to_do(self):
        report = Path(self.tmp) / "report.json"
        r = self.historical("2025-03-10T19:59:59Z", "--report", report)     # 15:59:59 EDT
        self.assertEqual(r.rc, 0, r.describe())
        self.assertTrue(self.one_line(r).endswith(
            "the NYSE session of 2025-03-10 closes at 16:00 EDT (2025-03-10T20:00:00Z); "
            "--after-close: nothing to do before then"), r.describe())
        self.assertFalse(self.db.exists(), "nothing written: not even the SQLite file is created")
        self.assertFalse(report.exists(), "a run with nothing to do writes no report")

    def test_no_session_or_not_closed_yet_names_the_next_close(self):
        for now, why in [("2025-03-08T21:35:00Z", "no NYSE session on 2025-03-08 (weekend); --after-close: nothing "
                                                  "to do until the next close, 2025-03-10 16:00 EDT "
                                                  "(2025-03-10T20:00:00Z)"),
                         ("2025-04-18T21:35:00Z", "no NYSE session on 2025-04-18 (Good Friday); --after-close: "
                                                  "nothing to do until the next close, 2025-04-21 16:00 EDT "
                                                  "(2025-04-21T20:00:00Z)"),
                         # Early in the morning the day's session has not even opened.
                         ("2025-11-03T13:00:00Z", "the NYSE session of 2025-11-03 closes at 16:00 EST "
                                                  "(2025-11-03T21:00:00Z); --after-close: nothing to do before "
                                                  "then")]:
            with self.subTest(now=now):
                r = self.historical(now)
                self.assertEqual(r.rc, 0, r.describe())
                self.assertTrue(self.one_line(r).endswith(why), r.describe())
                self.assertFalse(self.db.exists())

    def test_after_the_close_loads(self):
        r = self.historical("2025-03-10T20:00:00Z")                         # 16:00 EDT, the bell
        self.assertEqual(r.rc, 0, r.describe())
        self.assertNotIn("nothing to do", r.stderr)
        with sqlite3.connect(self.db) as c:
            days = [row[0] for row in c.execute(
                "SELECT date(ts) FROM price_bars WHERE symbol = 'AAPL' AND timeframe = '1d' ORDER BY ts")]
            runs = c.execute("SELECT job, status, exit_code FROM etl_runs").fetchall()
        # 1Y ending on the market's today, 2025-03-10: every NYSE session of 2024-03-11 .. 2025-03-10.
        holidays = {date(2024, 3, 29), date(2024, 5, 27), date(2024, 6, 19), date(2024, 7, 4), date(2024, 9, 2),
                    date(2024, 11, 28), date(2024, 12, 25), date(2025, 1, 1), date(2025, 1, 9), date(2025, 1, 20),
                    date(2025, 2, 17)}
        expected, d = [], date(2024, 3, 11)
        while d <= date(2025, 3, 10):
            if d.weekday() < 5 and d not in holidays:
                expected.append(d.isoformat())
            d += timedelta(days=1)
        self.assertEqual(days, expected)
        self.assertEqual(runs, [("etl-historical", "success", 0)])

    def test_an_early_close(self):
        r = self.historical("2025-11-28T17:59:00Z")                         # 12:59 EST; closes 13:00
        self.assertIn("closes at 13:00 EST (2025-11-28T18:00:00Z)", self.one_line(r))
        r = self.historical("2025-11-28T18:05:00Z")
        self.assertEqual(r.rc, 0, r.describe())
        self.assertNotIn("nothing to do", r.stderr)
        with sqlite3.connect(self.db) as c:
            last = c.execute("SELECT max(date(ts)) FROM price_bars WHERE symbol = 'AAPL'").fetchone()[0]
        self.assertEqual(last, "2025-11-28")


if __name__ == "__main__":
    unittest.main()
