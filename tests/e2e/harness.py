"""Shared helpers for the end-to-end tests (Python 3.11 standard library only).

The tests run the built binaries (ETL_BIN_DIR, default <repo>/build/apps) against the fake provider
server (tests/fake_provider/server.py), PostgreSQL (the PG* environment exported by pg_virtualenv) and
SQLite files in private temporary directories. ctest runs test files two at a time, so everything a
test creates is unique: temp dirs, database names, server ports (port 0).

Conventions:
- The clock is pinned: ETL_NOW=2025-03-14T21:00:00Z for the binaries and FAKE_TODAY=2025-03-14 for the
  fake server, so windows are deterministic (1M = 2025-02-14 .. 2025-03-14, 7D = 2025-03-07 .. 2025-03-14).
- Retries are short (ETL_FETCH_BACKOFF_INITIAL_MS=50 ...), rate limits high, so runs take seconds.
- ETL_KEEP_TEST_DB=1 keeps the PostgreSQL databases (and temp dirs) for inspection.
"""
from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
import unittest
import urllib.error
import urllib.request
import uuid
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

HERE = Path(__file__).resolve().parent
SOURCE_DIR = Path(os.environ.get("ETL_SOURCE_DIR") or HERE.parent.parent).resolve()
BIN_DIR = Path(os.environ.get("ETL_BIN_DIR") or SOURCE_DIR / "build" / "apps").resolve()
SERVER_PY = SOURCE_DIR / "tests" / "fake_provider" / "server.py"

ETL = str(BIN_DIR / "etl")
ETL_HISTORICAL = str(BIN_DIR / "etl-historical")

NOW = "2025-03-14T21:00:00Z"          # ETL_NOW for the binaries
TODAY = date(2025, 3, 14)             # its UTC date; FAKE_TODAY for the server (a Friday)
WINDOW_1M = (date(2025, 2, 14), TODAY)
WINDOW_7D = (date(2025, 3, 7), TODAY)
WINDOW_1Y = (date(2024, 3, 14), TODAY)

KEEP = os.environ.get("ETL_KEEP_TEST_DB") == "1"

# Anything in the caller's environment that would change what the binaries do.
_SCRUB_PREFIXES = ("ETL_", "FAKE_")
_SCRUB_NAMES = {"DATABASE_URL", "REDIS_URL", "POLYGON_API_KEY", "COINGECKO_API_KEY", "COINGECKO_API_PLAN",
                "USE_MOCK_DATA", "JOB_COMPLETION_INDEX", "ALERT_WEBHOOK_URL", "ALERT_MIN_SEVERITY",
                "KUBERNETES_SERVICE_HOST"}

# Short retries and no client-side rate limiting: the tests control faults through the fake server.
FAST_ENV = {
    "ETL_NOW": NOW,
    "ETL_FETCH_BACKOFF_INITIAL_MS": "50",
    "ETL_FETCH_BACKOFF_MAX_MS": "500",
    "ETL_FETCH_MAX_RETRIES": "2",
    "ETL_FETCH_TIMEOUT_SECONDS": "20",
    "ETL_PROVIDERS_POLYGON_REQUESTS_PER_MINUTE": "60000",
    "ETL_PROVIDERS_COINGECKO_REQUESTS_PER_MINUTE": "60000",
    "ETL_PROVIDERS_YAHOO_REQUESTS_PER_MINUTE": "60000",
}

DEFAULT_TIMEOUT = 120

# Binaries started without an explicit cwd run in a private directory, so a stray ./etl.toml or the
# default sqlite:market-etl.db never touches the source tree.
_DEFAULT_CWD = None


def default_cwd() -> str:
    global _DEFAULT_CWD
    if _DEFAULT_CWD is None:
        import atexit
        _DEFAULT_CWD = tempfile.mkdtemp(prefix="etl-e2e-cwd-")
        if not KEEP:
            atexit.register(shutil.rmtree, _DEFAULT_CWD, True)
    return _DEFAULT_CWD


def weekdays(d0: date, d1: date) -> list[date]:
    """Mon-Fri dates in d0..d1 inclusive (what the fake Polygon/Yahoo servers serve for stocks)."""
    out, d = [], d0
    while d <= d1:
        if d.weekday() < 5:
            out.append(d)
        d += timedelta(days=1)
    return out


def all_days(d0: date, d1: date) -> list[date]:
    return [d0 + timedelta(days=i) for i in range((d1 - d0).days + 1)]


def clean_env(**extra: str) -> dict:
    """The caller's environment without ETL_*/FAKE_*/provider settings, plus FAST_ENV and extra.
    A value of None in extra removes that variable."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(_SCRUB_PREFIXES) and k not in _SCRUB_NAMES}
    env.update(FAST_ENV)
    for k, v in extra.items():
        if v is None:
            env.pop(k, None)
        else:
            env[k] = str(v)
    return env


class Result:
    def __init__(self, args, rc, stdout, stderr):
        self.args, self.rc, self.stdout, self.stderr = args, rc, stdout, stderr

    def __iter__(self):                      # rc, out, err = run(...)
        return iter((self.rc, self.stdout, self.stderr))

    def json_logs(self) -> list[dict]:
        """The JSON log lines of stderr (other lines skipped)."""
        out = []
        for line in self.stderr.splitlines():
            line = line.strip()
            if line.startswith("{"):
                with contextlib.suppress(ValueError):
                    out.append(json.loads(line))
        return out

    def describe(self) -> str:
        return (f"command: {' '.join(map(str, self.args))}\nexit: {self.rc}\n"
                f"--- stdout ---\n{self.stdout[-4000:]}\n--- stderr ---\n{self.stderr[-6000:]}")


_RUN_KEYS = ("ts", "level", "msg", "job", "run_id", "shard")


def _json_mode(args, env) -> bool:
    """Whether a command writes JSON lines on stderr: one of ours, off a TTY, not told to write text."""
    exe = Path(args[0])
    if exe.parent != BIN_DIR or not exe.name.startswith("etl"):
        return False
    for i, a in enumerate(args):
        if (a == "--log-format" and i + 1 < len(args) and args[i + 1] == "text") or a == "--log-format=text":
            return False
    return str((env if env is not None else os.environ).get("ETL_LOG_FORMAT", "")).lower() != "text"


def check_json_stderr(result: Result, env) -> None:
    """In the JSON format every stderr line of a run is one JSON object with the run's keys (job, run_id,
    shard, possibly null) and JSON numbers where numbers are meant: fails the test otherwise."""
    if not _json_mode(result.args, env):
        return
    for line in result.stderr.splitlines():
        try:
            line.encode("utf-8")  # bytes that are not UTF-8 were read as surrogates: not valid JSON text
            obj = json.loads(line)
        except ValueError:  # UnicodeEncodeError included
            raise AssertionError(f"stderr line is not JSON: {line!r}\n{result.describe()!r}") from None
        if not isinstance(obj, dict) or any(k not in obj for k in _RUN_KEYS):
            raise AssertionError(f"stderr line lacks one of {_RUN_KEYS}: {line!r}\n{result.describe()}")
        for k in ("exit_code", "run_id"):
            if k in obj and obj[k] is not None and not isinstance(obj[k], int):
                raise AssertionError(f"{k} is not a JSON number: {line!r}")


def run(args, env=None, cwd=None, timeout=DEFAULT_TIMEOUT, stdin_data=None) -> Result:
    """Runs a command (args[0] may be 'etl' or 'etl-historical', resolved in BIN_DIR) and returns a
    Result (iterable as rc, stdout, stderr). A hang past `timeout` kills it and fails the test."""
    args = [str(a) for a in args]
    if args[0] in ("etl", "etl-historical"):
        args[0] = str(BIN_DIR / args[0])
    try:
        p = subprocess.run(args, env=env if env is not None else clean_env(), cwd=cwd or default_cwd(),
                           capture_output=True,
                           text=True, errors="surrogateescape", timeout=timeout, input=stdin_data)
    except subprocess.TimeoutExpired as e:
        raise AssertionError(f"timed out after {timeout} s: {' '.join(args)}\n"
                             f"stderr so far: {(e.stderr or b'')[-3000:]!r}") from None
    result = Result(args, p.returncode, p.stdout, p.stderr)
    check_json_stderr(result, env if env is not None else clean_env())
    return result


def start(args, env=None, cwd=None):
    """Starts a command in the background (stdout/stderr to temp files); see Background."""
    return Background(args, env, cwd)


class Background:
    """A binary running in the background; wait() returns a Result."""

    def __init__(self, args, env=None, cwd=None):
        args = [str(a) for a in args]
        if args[0] in ("etl", "etl-historical"):
            args[0] = str(BIN_DIR / args[0])
        self.args = args
        self._env = env if env is not None else clean_env()
        self._out = tempfile.TemporaryFile("w+", encoding="utf-8", errors="replace")
        self._err = tempfile.TemporaryFile("w+", encoding="utf-8", errors="surrogateescape")
        self.proc = subprocess.Popen(args, env=env if env is not None else clean_env(), cwd=cwd or default_cwd(),
                                     stdout=self._out, stderr=self._err, text=True)

    @property
    def pid(self):
        return self.proc.pid

    def running(self) -> bool:
        return self.proc.poll() is None

    def stderr_so_far(self) -> str:
        self._err.flush()
        self._err.seek(0)
        return self._err.read()

    def signal(self, sig):
        if self.running():
            self.proc.send_signal(sig)

    def wait(self, timeout=DEFAULT_TIMEOUT) -> Result:
        try:
            rc = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise AssertionError(f"timed out after {timeout} s: {' '.join(self.args)}\n"
                                 f"stderr: {self.stderr_so_far()[-3000:]}") from None
        self._out.seek(0)
        self._err.seek(0)
        res = Result(self.args, rc, self._out.read(), self._err.read())
        self._out.close()
        self._err.close()
        check_json_stderr(res, self._env)
        return res

    def kill(self):
        if self.running():
            self.proc.kill()
        with contextlib.suppress(Exception):
            self.proc.wait(timeout=10)
        for f in (self._out, self._err):
            if not f.closed:
                f.close()


def wait_for(cond, timeout=30.0, interval=0.05, message="condition"):
    """Polls cond() until it returns something truthy (returned) or the deadline passes (fails)."""
    deadline = time.monotonic() + timeout
    while True:
        v = cond()
        if v:
            return v
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {message}")
        time.sleep(interval)


def _terminate(proc):
    """Terminates a child that is still running and waits for it (killed after 10 s)."""
    if proc and proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


class _StartStop:
    """`with X() as x:` runs x.start() and, on the way out, x.stop()."""

    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *exc):
        self.stop()


# ==== Fake provider server ====

class FakeServer(_StartStop):
    """tests/fake_provider/server.py on 127.0.0.1 with a free port. Use as a context manager."""

    def __init__(self, latency_ms=0, polygon_key=None, coingecko_key=None, polygon_page_size=None,
                 rpm=None, env=None):
        self.opts = dict(latency_ms=latency_ms, polygon_key=polygon_key, coingecko_key=coingecko_key,
                         polygon_page_size=polygon_page_size, rpm=rpm)
        self.extra_env = env or {}
        self.proc = None
        self.port = None
        self._dir = None

    def start(self):
        self._dir = tempfile.mkdtemp(prefix="etl-e2e-fake-")
        port_file = os.path.join(self._dir, "port")
        args = [sys.executable, str(SERVER_PY), "--port", "0", "--port-file", port_file]
        o = self.opts
        if o["latency_ms"]:
            args += ["--latency-ms", str(o["latency_ms"])]
        if o["polygon_key"]:
            args += ["--polygon-key", o["polygon_key"]]
        if o["coingecko_key"]:
            args += ["--coingecko-key", o["coingecko_key"]]
        if o["polygon_page_size"]:
            args += ["--polygon-page-size", str(o["polygon_page_size"])]
        if o["rpm"]:
            args += ["--rpm", str(o["rpm"])]
        env = {k: v for k, v in os.environ.items() if not k.startswith("FAKE_")}
        env["FAKE_TODAY"] = TODAY.isoformat()
        env.update(self.extra_env)
        self._log = open(os.path.join(self._dir, "server.out"), "w")
        self.proc = subprocess.Popen(args, env=env, stdout=self._log, stderr=subprocess.STDOUT)

        def ready():
            if self.proc.poll() is not None:
                raise AssertionError(f"fake server exited with {self.proc.returncode}: "
                                     f"{Path(self._dir, 'server.out').read_text()}")
            try:
                return int(Path(port_file).read_text().strip())
            except (OSError, ValueError):
                return None
        self.port = wait_for(ready, 20, message="the fake server's port file")
        wait_for(lambda: self._health(), 20, message="the fake server's health check")

    def _health(self):
        try:
            with urllib.request.urlopen(f"{self.url}/__health", timeout=2) as r:
                return r.status == 200
        except OSError:
            return False

    def stop(self):
        _terminate(self.proc)
        if getattr(self, "_log", None):
            self._log.close()
        if self._dir:
            shutil.rmtree(self._dir, ignore_errors=True)

    @property
    def url(self):
        return f"http://127.0.0.1:{self.port}"

    @property
    def polygon_url(self):
        return self.url

    @property
    def coingecko_url(self):
        return f"{self.url}/api/v3"

    @property
    def yahoo_url(self):
        return self.url

    def env(self) -> dict:
        """Environment pointing every provider at this server."""
        return {"ETL_POLYGON_BASE_URL": self.polygon_url, "ETL_COINGECKO_BASE_URL": self.coingecko_url,
                "ETL_YAHOO_BASE_URL": self.yahoo_url}

    def _call(self, method, path, body=None):
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(self.url + path, data=data, method=method,
                                     headers={"Content-Type": "application/json"} if data else {})
        with urllib.request.urlopen(req, timeout=10) as r:
            return json.loads(r.read().decode())

    def set_rules(self, rules: list[dict]):
        self._call("POST", "/__control/rules", {"rules": rules})

    def rules(self) -> list[dict]:
        return self._call("GET", "/__control/rules")["rules"]

    def requests(self, provider=None, contains=None) -> list[dict]:
        """The provider request log, optionally only one provider's / those whose raw target contains a string."""
        log = self._call("GET", "/__control/requests")
        if provider:
            log = [r for r in log if r["provider"] == provider]
        if contains:
            log = [r for r in log if contains in r["path"] or contains in r["target"]]
        return log

    def reset(self):
        self._call("POST", "/__control/reset", {})

    def get(self, path_and_query: str, headers=None) -> tuple[int, str]:
        """GETs a provider URL directly (the same bytes the binary gets); returns (status, body text).
        Note: this request appears in the request log."""
        req = urllib.request.Request(self.url + path_and_query, headers=headers or {})
        try:
            with urllib.request.urlopen(req, timeout=30) as r:
                return r.status, r.read().decode()
        except urllib.error.HTTPError as e:
            return e.code, e.read().decode()


# ==== PostgreSQL ====

def pg_available() -> bool:
    if not shutil.which("psql"):
        return False
    p = subprocess.run(["psql", "-X", "-At", "-d", "postgres", "-c", "SELECT 1"], capture_output=True, text=True)
    return p.returncode == 0


def require_pg(testcase=None):
    if not pg_available():
        raise unittest.SkipTest("PostgreSQL not reachable (run the suite under pg_virtualenv)")


def psql(sql: str, db: str = "postgres", check=True) -> str:
    p = subprocess.run(["psql", "-X", "-At", "-v", "ON_ERROR_STOP=1", "-d", db, "-c", sql],
                       capture_output=True, text=True, timeout=60)
    if check and p.returncode != 0:
        raise AssertionError(f"psql failed ({p.returncode}) on {sql!r}: {p.stderr}")
    return p.stdout


class PgDatabase:
    """A fresh PostgreSQL database with a unique name; dropped at exit unless ETL_KEEP_TEST_DB=1."""

    def __init__(self, tag="t"):
        require_pg()
        self.name = f"etl_e2e_{tag}_{os.getpid()}_{uuid.uuid4().hex[:8]}".lower()
        subprocess.run(["createdb", self.name], check=True, capture_output=True, timeout=60)

    @property
    def url(self) -> str:
        return f"postgresql:///{self.name}"

    def drop(self):
        if KEEP:
            print(f"keeping database {self.name}", file=sys.stderr)
            return
        # Terminate leftover sessions (a killed binary's backend may linger briefly).
        psql(f"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{self.name}' "
             f"AND pid <> pg_backend_pid()", check=False)
        subprocess.run(["dropdb", "--if-exists", self.name], capture_output=True, timeout=60)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.drop()

    def raw(self, sql: str) -> str:
        return psql(sql, self.name)

    def query(self, sql: str) -> list[tuple]:
        """Rows as tuples of strings ('' for NULL); fields separated by a unit separator."""
        p = subprocess.run(["psql", "-X", "-At", "-v", "ON_ERROR_STOP=1", "-F", "\x1f", "-P", "null=\\N",
                            "-d", self.name, "-c", sql], capture_output=True, text=True, timeout=60)
        if p.returncode != 0:
            raise AssertionError(f"psql failed on {sql!r}: {p.stderr}")
        return [tuple(line.split("\x1f")) for line in p.stdout.splitlines()]

    def scalar(self, sql: str):
        rows = self.query(sql)
        return rows[0][0] if rows else None

    # Every chunk of price_bars compressed. The compression policy's job may be compressing one at the same
    # moment: compress_chunk then fails with "is already compressed" even with if_not_compressed (it looked
    # before the job's lock was released), and that chunk is compressed all the same.
    COMPRESS_ALL = ("DO $$ DECLARE c regclass; BEGIN FOR c IN SELECT show_chunks('price_bars') LOOP "
                    "BEGIN PERFORM compress_chunk(c, if_not_compressed => true); "
                    "EXCEPTION WHEN OTHERS THEN IF SQLERRM NOT LIKE '%is already compressed%' THEN RAISE; END IF; "
                    "END; END LOOP; END $$")

    def compress_all_chunks(self) -> int:
        """Compresses every chunk of price_bars (TimescaleDB), whoever gets to each first; returns how many
        chunks are compressed then."""
        self.raw(self.COMPRESS_ALL)
        return int(self.scalar("SELECT count(*) FROM chunk_compression_stats('price_bars') "
                               "WHERE compression_status = 'Compressed'"))

    def table_text(self, table: str) -> str:
        """The whole table as text (every column), for secret scans."""
        return psql(f"SELECT t::text FROM {table} t", self.name)

    def dump_bars(self) -> list[tuple]:
        """price_bars without ingested_at, ordered, for before/after comparisons."""
        return self.query("SELECT symbol, timeframe, to_char(ts AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS'), "
                          "open, high, low, close, volume, vwap, trade_count, source, ingested_at "
                          "FROM price_bars ORDER BY symbol, timeframe, ts")

    def bar_dates(self, symbol: str, timeframe="1d") -> list[date]:
        rows = self.query(f"SELECT to_char(ts AT TIME ZONE 'UTC', 'YYYY-MM-DD') FROM price_bars "
                          f"WHERE symbol = '{symbol}' AND timeframe = '{timeframe}' ORDER BY ts")
        return [date.fromisoformat(r[0]) for r in rows]

    def has_table(self, table: str) -> bool:
        return self.scalar(f"SELECT to_regclass('{table}') IS NOT NULL") == "t"

    def counts(self) -> dict[str, int]:
        """Bars per symbol ({} while the binary has not created the tables yet)."""
        if not self.has_table("price_bars"):
            return {}
        return {s: int(n) for s, n in self.query("SELECT symbol, count(*) FROM price_bars GROUP BY symbol")}

    # The transaction lock a binary holds while it migrates the schema (k_migration_lock in
    # lib/etl/store/pg_store.cpp): not a run's lock, so advisory_locks() leaves it out.
    MIGRATION_LOCK = 0x6d61726b65746c31

    def advisory_locks(self) -> int:
        """Run locks held in this database (the job lock of a running binary), not the migration lock."""
        classid, objid = self.MIGRATION_LOCK >> 32, self.MIGRATION_LOCK & 0xFFFFFFFF
        return int(psql(f"SELECT count(*) FROM pg_locks l JOIN pg_database d ON d.oid = l.database "
                        f"WHERE l.locktype = 'advisory' AND l.granted AND d.datname = '{self.name}' "
                        f"AND NOT (l.classid = {classid} AND l.objid = {objid})").strip())

    def runs(self) -> list[dict]:
        cols = ["id", "job", "arguments", "shard", "status", "exit_code", "symbols_requested", "symbols_ok",
                "symbols_failed", "rows_inserted", "rows_updated", "rows_unchanged", "rows_rejected", "error",
                "finished_at"]
        rows = self.query(f"SELECT {', '.join(cols)} FROM etl_runs ORDER BY id")
        return [dict(zip(cols, r)) for r in rows]


# ==== SQLite ====

def sqlite_query(path, sql: str, params=()) -> list[tuple]:
    con = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=30)
    try:
        return con.execute(sql, params).fetchall()
    finally:
        con.close()


def sqlite_runs(path) -> list[dict]:
    con = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=30)
    con.row_factory = sqlite3.Row
    try:
        return [dict(r) for r in con.execute("SELECT * FROM etl_runs ORDER BY id")]
    finally:
        con.close()


class TempDir:
    """A private temp dir (kept with ETL_KEEP_TEST_DB=1)."""

    def __init__(self, tag="t"):
        self.path = Path(tempfile.mkdtemp(prefix=f"etl-e2e-{tag}-"))

    def __enter__(self):
        return self.path

    def __exit__(self, *exc):
        self.cleanup()

    def cleanup(self):
        if not KEEP:
            shutil.rmtree(self.path, ignore_errors=True)


def plain_lines(stderr: str) -> list[str]:
    """The lines that end a run on an error, as "PROGRAM: MESSAGE", and any other plain-text line. A JSON
    error line that ends the process (it has "exit_code") is rendered as "JOB: MSG"; other JSON lines are
    left out."""
    out = []
    for line in stderr.splitlines():
        if not line.strip():
            continue
        if not line.lstrip().startswith("{"):
            out.append(line)
            continue
        with contextlib.suppress(ValueError):
            obj = json.loads(line)
            if isinstance(obj, dict) and obj.get("level") == "error" and "exit_code" in obj:
                out.append(f"{obj.get('job') or 'etl'}: {obj.get('msg')}")
    return out


def summary(result) -> dict:
    """The JSON summary line of a run ({"msg":"summary",...}); fails when there is not exactly one."""
    lines = [o for o in result.json_logs() if o.get("msg") == "summary"]
    if len(lines) != 1:
        raise AssertionError(f"expected one summary line, found {len(lines)}\n{result.describe()}")
    return lines[0]


def one_line_message(stderr: str, program_prefix: str) -> list[str]:
    """The stderr lines that are plain text (not JSON log lines) starting with program_prefix."""
    return [l for l in plain_lines(stderr) if l.startswith(program_prefix)]


def read_report(path) -> dict:
    return json.loads(Path(path).read_text())


def as_decimal(v) -> Decimal | None:
    """A DB or JSON number as a Decimal (SQLite REAL comes back as float; str() is its shortest round-trip).
    None, and psql's NULL marker \\N, stay None."""
    if v is None or v == "\\N":
        return None
    return v if isinstance(v, Decimal) else Decimal(str(v))


# ==== Redis ====

REDIS_SERVER = shutil.which("redis-server") or "/usr/bin/redis-server"


class RedisError(Exception):
    """An error reply (-ERR ...) from Redis."""


def _free_port() -> int:
    import socket
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class RedisServer(_StartStop):
    """A throwaway redis-server on 127.0.0.1 with a free port: no persistence (--save "" --appendonly no),
    running in the foreground as a child, its files in a private temp dir. Use as a context manager.

        with RedisServer(password="s3cret") as rs:
            env = clean_env(REDIS_URL=rs.url)       # redis://:s3cret@127.0.0.1:PORT/0
            ...
            rs.get("key"), rs.ttl("key"), rs.keys("etl:*"), rs.command("HGETALL", "h")

    Raises unittest.SkipTest when redis-server is not installed. Commands go over a fresh socket each
    time (a small RESP client, standard library only), so the helper is safe to use from several threads."""

    def __init__(self, password: str | None = None, db: int = 0, extra_args=()):
        self.password, self.db, self.extra_args = password, db, list(extra_args)
        self.proc = None
        self.port = None
        self._dir = None
        self._log = None

    # ---- lifecycle

    def start(self, timeout: float = 20.0):
        if not (os.path.isfile(REDIS_SERVER) and os.access(REDIS_SERVER, os.X_OK)):
            raise unittest.SkipTest("redis-server not installed")
        self._dir = tempfile.mkdtemp(prefix="etl-e2e-redis-")
        # The port is free when chosen but could be taken before redis binds it: retry a few times.
        for attempt in range(5):
            self.port = _free_port()
            args = [REDIS_SERVER, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
                    "--appendonly", "no", "--daemonize", "no", "--dir", self._dir, "--logfile", "",
                    "--databases", str(max(16, self.db + 1))]
            if self.password:
                args += ["--requirepass", self.password]
            args += [str(a) for a in self.extra_args]
            if self._log:
                self._log.close()
            self._log = open(os.path.join(self._dir, f"redis-{attempt}.log"), "w")
            self.proc = subprocess.Popen(args, stdout=self._log, stderr=subprocess.STDOUT, cwd=self._dir)
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline:
                if self.proc.poll() is not None:
                    break                                   # exited: port taken or bad args; maybe retry
                if self.ping():
                    return self
                time.sleep(0.05)
            else:
                self.stop()
                raise AssertionError(f"redis-server on port {self.port} did not answer PING in {timeout} s")
            log = Path(self._log.name).read_text(errors="replace")
            if "Address already in use" not in log:
                self.stop()
                raise AssertionError(f"redis-server exited with {self.proc.returncode}: {log[-3000:]}")
        self.stop()
        raise AssertionError("redis-server: no free port after 5 attempts")

    def stop(self):
        """Terminates redis-server and waits for it; removes its temp dir. Safe to call twice."""
        _terminate(self.proc)
        if self._log:
            self._log.close()
            self._log = None
        if self._dir:
            shutil.rmtree(self._dir, ignore_errors=True)
            self._dir = None

    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    @property
    def url(self) -> str:
        """redis://127.0.0.1:PORT/DB, or redis://:PASSWORD@127.0.0.1:PORT/DB with the password percent-encoded
        (etl's redis_url parser decodes it), so any password works."""
        from urllib.parse import quote
        auth = f":{quote(self.password, safe='')}@" if self.password else ""
        return f"redis://{auth}127.0.0.1:{self.port}/{self.db}"

    # ---- a tiny RESP client

    @staticmethod
    def _encode(args) -> bytes:
        out = [b"*%d\r\n" % len(args)]
        for a in args:
            b = a if isinstance(a, bytes) else str(a).encode()
            out.append(b"$%d\r\n%s\r\n" % (len(b), b))
        return b"".join(out)

    @classmethod
    def _read(cls, f):
        line = f.readline()
        if not line.endswith(b"\r\n"):
            raise ConnectionError("connection closed by redis-server")
        kind, rest = line[:1], line[1:-2]
        if kind == b"+":
            return rest.decode()
        if kind == b"-":
            return RedisError(rest.decode(errors="replace"))
        if kind == b":":
            return int(rest)
        if kind == b"$":
            n = int(rest)
            if n < 0:
                return None
            data = f.read(n + 2)
            if len(data) != n + 2:
                raise ConnectionError("connection closed by redis-server")
            return data[:-2]
        if kind == b"*":
            n = int(rest)
            return None if n < 0 else [cls._read(f) for _ in range(n)]
        raise ConnectionError(f"unexpected RESP reply {line[:80]!r}")

    def command_raw(self, *args, timeout: float = 10.0):
        """Runs one command (after AUTH/SELECT as needed); bulk strings come back as bytes, errors raise RedisError."""
        import socket
        with socket.create_connection(("127.0.0.1", self.port), timeout=timeout) as sock:
            pre = ([("AUTH", self.password)] if self.password else []) + ([("SELECT", self.db)] if self.db else [])
            sock.sendall(b"".join(self._encode(c) for c in pre) + self._encode(args))
            with sock.makefile("rb") as f:
                for _ in pre:
                    r = self._read(f)
                    if isinstance(r, RedisError):
                        raise r
                reply = self._read(f)
        if isinstance(reply, RedisError):
            raise reply
        return reply

    def command(self, *args, timeout: float = 10.0):
        """Like command_raw, with bulk strings decoded as UTF-8 (also inside arrays)."""
        def dec(v):
            if isinstance(v, bytes):
                return v.decode("utf-8", errors="replace")
            if isinstance(v, list):
                return [dec(x) for x in v]
            return v
        return dec(self.command_raw(*args, timeout=timeout))

    def ping(self) -> bool:
        try:
            return self.command("PING", timeout=2) == "PONG"
        except (OSError, RedisError, ValueError):
            return False

    def get(self, key: str) -> str | None:
        """GET key as text (None when missing)."""
        return self.command("GET", key)

    def ttl(self, key: str) -> int:
        """TTL key in seconds: -2 when the key is missing, -1 when it has no expiry."""
        return self.command("TTL", key)

    def keys(self, pattern: str = "*") -> list[str]:
        """KEYS pattern, sorted."""
        return sorted(self.command("KEYS", pattern))

SIGTERM = signal.SIGTERM
SIGKILL = signal.SIGKILL
SIGINT = signal.SIGINT


# ==== etl-hourly / etl-latest helpers ====

ETL_HOURLY = str(BIN_DIR / "etl-hourly")
ETL_LATEST = str(BIN_DIR / "etl-latest")


def unix_seconds(instant: str) -> int:
    """'2025-03-14T21:00:00Z' (any ISO-8601 with an offset or Z) -> UNIX seconds."""
    from datetime import datetime
    return int(datetime.fromisoformat(instant.replace("Z", "+00:00")).timestamp())


def set_fake_now(server: "FakeServer", instant: str | None) -> dict:
    """Pins the fake server's clock (POST /__control/now) to an ISO-8601 instant, so it serves exactly the bars
    that exist at the binaries' ETL_NOW; None goes back to FAKE_TODAY. Returns the server's clock document."""
    return server._call("POST", "/__control/now", {"now": None if instant is None else unix_seconds(instant)})


def free_redis_url() -> str:
    """A redis:// URL on a local port nothing listens on (Redis 'down')."""
    return f"redis://127.0.0.1:{_free_port()}/0"


# ==== Test-case bases ====

class ServerTestCase(unittest.TestCase):
    """One FakeServer(**server_options) for the class; per test, the server reset and a fresh database.

    With pg_tag set, the class is skipped without PostgreSQL and self.db is a fresh PgDatabase(pg_tag).
    Otherwise each test gets a private temp dir self.tmp = TempDir(tmp_tag), with the SQLite file self.db
    and the report path self.report_file in it."""

    server_options: dict = {}
    tmp_tag = "t"
    pg_tag: str | None = None
    api_key = "pk_e2e"              # POLYGON_API_KEY in env()

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        if cls.pg_tag:
            require_pg()
        cls.server = FakeServer(**cls.server_options)
        cls.addClassCleanup(cls.server.stop)
        cls.server.start()

    def setUp(self):
        super().setUp()
        self.server.reset()
        if self.pg_tag:
            self.db = PgDatabase(self.pg_tag)
            self.addCleanup(self.db.drop)
        else:
            self.tmp = TempDir(self.tmp_tag)
            self.addCleanup(self.tmp.cleanup)
            self.db = self.tmp.path / "etl.db"
            self.report_file = self.tmp.path / "report.json"

    def env(self, **extra) -> dict:
        """clean_env with POLYGON_API_KEY=api_key and every provider pointed at the class's server, plus extra."""
        return clean_env(POLYGON_API_KEY=self.api_key, **self.server.env(), **extra)

    def report(self) -> dict:
        return read_report(self.report_file)


class JobTestCase(ServerTestCase):
    """A ServerTestCase (SQLite) for etl-hourly / etl-latest, with one RedisServer for the class too when
    redis-server is installed (self.redis, else None), flushed before each test."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        try:
            cls.redis = RedisServer()
            cls.redis.start()
            cls.addClassCleanup(cls.redis.stop)
        except unittest.SkipTest:
            cls.redis = None

    def setUp(self):
        super().setUp()
        if self.redis:
            self.redis.command("FLUSHALL")

    def need_redis(self):
        if not self.redis:
            self.skipTest("redis-server not installed")

    def env(self, now, redis=True, **extra) -> dict:
        """ServerTestCase.env at ETL_NOW=now; REDIS_URL is the class's Redis for redis=True (none without one),
        the URL given, or unset for a false value."""
        if redis is True:
            redis = self.redis.url if self.redis else None
        return super().env(ETL_NOW=now, REDIS_URL=redis or None, **extra)

    def run_job(self, binary, *args, now, fake_now=None, redis=True, database_url=None, report=True, **extra):
        """Runs binary at ETL_NOW=now with the fake server's clock at fake_now (default: now), against
        database_url (default: self.db) and, with report, --report self.report_file."""
        set_fake_now(self.server, fake_now or now)
        argv = [binary, *args, "--database-url", database_url or f"sqlite:{self.db}"]
        if report:
            argv += ["--report", str(self.report_file)]
        return run(argv, env=self.env(now, redis, **extra), cwd=self.tmp.path, timeout=120)
