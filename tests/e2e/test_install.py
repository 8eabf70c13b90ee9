"""The install tree, the container image's recipe, and the no-database guard in a pod (issue 10, point 5).

There is no Docker here, so the image is never built. What can be tested is:
- `cmake --install <build> --prefix STAGE --strip` (what the Dockerfile runs): the exact tree it lays
  out (binaries, examples, systemd units), stripped binaries, and those binaries run from STAGE with a
  working directory outside the source tree: --version, `etl calendar` (the closures list and the tz
  database), and a full mock run of etl-historical into a new SQLite file (the migrations are built in).
- the Dockerfile itself, parsed: debian:12 build stage, debian:12-slim runtime, `cmake --install --strip`,
  a numeric non-root USER, ENTRYPOINT ["etl"], tzdata and ca-certificates, and a runtime apt-get line
  that names the Debian package of every shared library the staged binaries need (readelf, ldd, dpkg -S).
- KUBERNETES_SERVICE_HOST set and no database configured: a job exits 78 with one line naming
  DATABASE_URL and creates no file; an explicit sqlite: URL runs; commands that open no store still work.
"""
from __future__ import annotations

import json
import re
import shlex
import shutil
import subprocess
import tempfile
import unittest
from datetime import date
from pathlib import Path

from harness import (BIN_DIR, KEEP, SOURCE_DIR, WINDOW_1M, all_days, clean_env, one_line_message, run,
                     sqlite_query, sqlite_runs, weekdays)

BUILD_DIR = BIN_DIR.parent                    # ETL_BIN_DIR is <build>/apps
BINARIES = ("etl", "etl-historical", "etl-hourly", "etl-latest", "etl-migrate-sqlite", "etl-validate")
DOCKERFILE = SOURCE_DIR / "Dockerfile"
DOC = "share/doc/market-etl"
EXAMPLES = f"{DOC}/examples"
UNITDIR = "lib/systemd/system"

GUARD_MESSAGE = ("no database configured; set DATABASE_URL (KUBERNETES_SERVICE_HOST is set: in a container the "
                 "default sqlite:market-etl.db would be lost with the pod)")


def project_version() -> str:
    m = re.search(r"project\(market-etl VERSION ([0-9.]+)", (SOURCE_DIR / "CMakeLists.txt").read_text())
    assert m, "project(market-etl VERSION x.y.z) in CMakeLists.txt"
    return m.group(1)


def section_names(binary: Path) -> set[str]:
    out = subprocess.run(["readelf", "-S", "-W", str(binary)], capture_output=True, text=True, check=True).stdout
    return set(re.findall(r"^\s*\[\s*\d+\]\s+(\S+)", out, re.M))


def needed_libraries(binary: Path) -> list[str]:
    """The DT_NEEDED entries of an ELF file (its direct shared-library dependencies)."""
    out = subprocess.run(["readelf", "-d", "-W", str(binary)], capture_output=True, text=True, check=True).stdout
    return re.findall(r"\(NEEDED\)\s+Shared library: \[([^\]]+)\]", out)


def ldd_paths(binary: Path) -> dict[str, str]:
    """soname -> the path the dynamic loader resolves it to, from ldd."""
    out = subprocess.run(["ldd", str(binary)], capture_output=True, text=True, check=True).stdout
    return dict(re.findall(r"^\s*(\S+) => (/\S+)", out, re.M))


def debian_package_of(path: str) -> str | None:
    """The Debian package that owns `path` (dpkg -S), trying its /usr-merged twin too."""
    candidates = [path, str(Path(path).resolve())]
    for p in list(candidates):
        candidates.append(p[4:] if p.startswith("/usr/") else "/usr" + p)
    for p in candidates:
        r = subprocess.run(["dpkg", "-S", p], capture_output=True, text=True)
        if r.returncode == 0 and r.stdout.strip():
            return r.stdout.split(":", 1)[0].strip()        # "libpq5:amd64: /usr/lib/..." -> libpq5
    return None


class Dockerfile:
    """The instructions of a Dockerfile, split into stages (continuation lines joined, comments dropped)."""

    def __init__(self, text: str):
        self.stages: list[dict] = []
        logical, buf = [], ""
        for line in text.splitlines():
            if not buf and (not line.strip() or line.lstrip().startswith("#")):
                continue
            if line.rstrip().endswith("\\"):
                buf += line.rstrip()[:-1] + " "
                continue
            logical.append(buf + line)
            buf = ""
        for line in logical:
            instr, _, rest = line.strip().partition(" ")
            instr, rest = instr.upper(), rest.strip()
            if instr == "FROM":
                words = rest.split()
                self.stages.append({"from": words[0], "as": words[2] if len(words) >= 3 and
                                    words[1].upper() == "AS" else None, "instr": []})
            else:
                assert self.stages, f"{instr} before FROM"
                self.stages[-1]["instr"].append((instr, rest))

    @staticmethod
    def apt_packages(stage: dict) -> set[str]:
        """The packages of every `apt-get install` in the stage's RUN lines."""
        pkgs = set()
        for instr, rest in stage["instr"]:
            if instr != "RUN":
                continue
            for cmd in re.split(r"&&|;", rest):
                words = shlex.split(cmd)
                if "apt-get" in words and "install" in words:
                    after = words[words.index("install") + 1:]
                    pkgs |= {w for w in after if not w.startswith("-")}
        return pkgs

    @staticmethod
    def values(stage: dict, name: str) -> list[str]:
        return [rest for instr, rest in stage["instr"] if instr == name]


def staged_install(prefix: Path) -> subprocess.CompletedProcess:
    return subprocess.run(["cmake", "--install", str(BUILD_DIR), "--prefix", str(prefix), "--strip"],
                          capture_output=True, text=True, timeout=120)


class InstallTree(unittest.TestCase):
    """`cmake --install --strip` into a staging prefix, and the staged binaries run from elsewhere."""

    @classmethod
    def setUpClass(cls):
        if not (BUILD_DIR / "cmake_install.cmake").is_file():
            raise AssertionError(f"{BUILD_DIR} is not a configured build directory (ETL_BIN_DIR={BIN_DIR})")
        cls.tmp = Path(tempfile.mkdtemp(prefix="etl-e2e-install-"))
        if not KEEP:
            cls.addClassCleanup(shutil.rmtree, cls.tmp, True)
        cls.stage = cls.tmp / "stage"
        r = staged_install(cls.stage)
        if r.returncode != 0:
            raise AssertionError(f"cmake --install failed ({r.returncode}); build every binary first "
                                 f"(ninja -C {BUILD_DIR} {' '.join(BINARIES)})\n{r.stdout}\n{r.stderr}")
        cls.work = cls.tmp / "work"                   # cwd of the staged runs: outside the source tree
        cls.work.mkdir()

    def staged(self, name: str) -> str:
        return str(self.stage / "bin" / name)

    def test_the_tree_is_exactly_binaries_examples_and_units(self):
        files = {str(p.relative_to(self.stage)) for p in self.stage.rglob("*") if p.is_file() or p.is_symlink()}
        etc = SOURCE_DIR / "etc"
        expected = {f"bin/{b}" for b in BINARIES}
        expected |= {f"{DOC}/README.md", f"{EXAMPLES}/etl.toml.example", f"{EXAMPLES}/assets.csv",
                     f"{EXAMPLES}/market-closures.txt", f"{EXAMPLES}/crontab.example",
                     f"{EXAMPLES}/systemd/README.md", f"{EXAMPLES}/logrotate.d/market-etl"}
        for sub in ("k8s", "prometheus", "logrotate.d"):
            expected |= {f"{EXAMPLES}/{sub}/{p.relative_to(etc / sub)}" for p in (etc / sub).rglob("*") if p.is_file()}
        units = sorted(p.name for p in (etc / "systemd").iterdir() if p.suffix in (".service", ".timer"))
        self.assertEqual(len(units), 10, units)
        self.assertIn("market-etl-latest.timer", units)
        expected |= {f"{UNITDIR}/{u}" for u in units}
        self.assertIn(f"{EXAMPLES}/prometheus/market-etl.rules.yml", expected)
        self.assertIn(f"{EXAMPLES}/k8s/cronjob-latest.yaml", expected)
        self.assertEqual(sorted(files), sorted(expected))
        # Copies, byte for byte; the units still start the binaries where the default prefix puts them.
        self.assertEqual((self.stage / EXAMPLES / "crontab.example").read_bytes(),
                         (SOURCE_DIR / "crontab.example").read_bytes())
        self.assertEqual((self.stage / UNITDIR / "market-etl-latest.service").read_bytes(),
                         (etc / "systemd" / "market-etl-latest.service").read_bytes())
        self.assertIn("ExecStart=/usr/local/bin/etl-latest",
                      (self.stage / UNITDIR / "market-etl-latest.service").read_text())

    def test_units_start_the_binaries_of_the_configured_prefix(self):
        # Configured for prefix /usr (a distribution package), the installed units start /usr/bin/etl-*.
        build = Path(tempfile.mkdtemp(prefix="etl-e2e-prefix-"))
        if not KEEP:
            self.addCleanup(shutil.rmtree, build, True)
        p = subprocess.run(["cmake", "-S", str(SOURCE_DIR), "-B", str(build), "-G", "Ninja",
                            "-DCMAKE_INSTALL_PREFIX=/usr", "-DETL_BUILD_TESTS=OFF"],
                           capture_output=True, text=True, timeout=300)
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        units = sorted((build / "systemd").glob("market-etl-*"))
        self.assertEqual(len(units), 10, units)
        for unit in units:
            text = unit.read_text()
            self.assertNotIn("/usr/local/bin", text, unit.name)
        self.assertIn("ExecStart=/usr/bin/etl-latest", (build / "systemd" / "market-etl-latest.service").read_text())
        for b in BINARIES:
            self.assertTrue((self.stage / "bin" / b).stat().st_mode & 0o111, f"{b} is executable")

    def test_staged_binaries_are_stripped(self):
        for b in BINARIES:
            with self.subTest(binary=b):
                sections = section_names(self.stage / "bin" / b)
                self.assertIn(".text", sections)
                self.assertNotIn(".symtab", sections)
                self.assertNotIn(".debug_info", sections)
        # The check can fail: the build's own binary (not stripped) has a symbol table, and debug information
        # when it was built with it (RelWithDebInfo, unless ETL_DEBUG_INFO is off as scripts/build.sh sets it).
        built = section_names(BIN_DIR / "etl")
        cache = (BUILD_DIR / "CMakeCache.txt").read_text()
        if "CMAKE_BUILD_TYPE:STRING=RelWithDebInfo" in cache and "ETL_DEBUG_INFO:BOOL=OFF" not in cache:
            self.assertIn(".debug_info", built)
        self.assertIn(".symtab", built)

    def test_version_and_help_from_the_stage(self):
        r = run([self.staged("etl"), "--version"], cwd=self.work)
        self.assertEqual(r.rc, 0, r.describe())
        self.assertIn(project_version(), r.stdout)
        r = run([self.staged("etl"), "--help"], cwd=self.work)
        self.assertEqual(r.rc, 0, r.describe())
        for command in ("historical", "hourly", "latest", "calendar"):
            self.assertRegex(r.stdout, rf"(?m)^\s+{command}\s")

    def test_calendar_from_the_stage_uses_the_built_in_closures_and_the_tz_database(self):
        # 2025-01-09 is an unscheduled closure (President Carter's day of mourning): it comes from
        # etc/market-closures.txt, compiled in; no file of the source tree or the stage is read.
        r = run([self.staged("etl"), "calendar", "2025-01-09"], cwd=self.work,
                env=clean_env(ETL_NOW="2025-01-09T15:00:00Z"))
        self.assertEqual(r.rc, 0, r.describe())
        self.assertIn("2025-01-09 (Thursday): closed (", r.stdout)
        self.assertIn("Carter", r.stdout)
        # America/New_York from the tz database: the open is 14:30 UTC in EST and 13:30 UTC in EDT.
        for day, utc in (("2025-03-07", "14:30"), ("2025-03-10", "13:30")):
            r = run([self.staged("etl"), "calendar", day], cwd=self.work, env=clean_env(ETL_NOW="2025-03-11T02:00:00Z"))
            self.assertEqual(r.rc, 0, r.describe())
            self.assertRegex(r.stdout, rf"open\s+09:30 ET = {day}T{utc}:00Z")

    def test_a_full_mock_run_from_the_stage_into_a_new_sqlite_file(self):
        db = self.tmp / "x.db"
        r = run([self.staged("etl-historical"), "1M", "AAPL", "BTC", "--mock", "--database-url", f"sqlite:{db}"],
                cwd=self.work)
        self.assertEqual(r.rc, 0, r.describe())
        d0, d1 = WINDOW_1M
        stock_days = [d for d in weekdays(d0, d1) if d != date(2025, 2, 17)]   # Washington's Birthday
        for symbol, days in (("AAPL", stock_days), ("BTC", all_days(d0, d1))):
            rows = sqlite_query(db, "SELECT substr(ts, 1, 10) FROM price_bars WHERE symbol = ? AND timeframe = '1d' "
                                    "ORDER BY ts", (symbol,))
            self.assertEqual([date.fromisoformat(t) for (t,) in rows], days, symbol)
        runs = sqlite_runs(db)
        self.assertEqual([(x["job"], x["status"], x["exit_code"]) for x in runs], [("etl-historical", "success", 0)])
        # Nothing was written beside the binaries or into the working directory.
        self.assertEqual(sorted(p.name for p in self.work.iterdir()), [])
        self.assertEqual(sorted(p.name for p in (self.stage / "bin").iterdir()), sorted(BINARIES))


class DockerfileRecipe(unittest.TestCase):
    """The Dockerfile, parsed (no Docker here: the image is not built)."""

    @classmethod
    def setUpClass(cls):
        cls.df = Dockerfile(DOCKERFILE.read_text())
        cls.build, cls.runtime = cls.df.stages[0], cls.df.stages[-1]

    def test_stages(self):
        self.assertEqual(len(self.df.stages), 2)
        self.assertEqual((self.build["from"], self.build["as"]), ("debian:12", "build"))
        self.assertEqual(self.runtime["from"], "debian:12-slim")
        runs = " ".join(Dockerfile.values(self.build, "RUN"))
        self.assertRegex(runs, r"cmake -S \. -B /build -G Ninja -DCMAKE_BUILD_TYPE=Release")
        self.assertRegex(runs, r"cmake --install /build --strip")
        copies = Dockerfile.values(self.runtime, "COPY")
        self.assertEqual(copies, ["--from=build /stage/usr/local/ /usr/local/"])

    def test_runtime_user_entrypoint_and_workdir(self):
        users = Dockerfile.values(self.runtime, "USER")
        self.assertEqual(len(users), 1)
        uid, _, gid = users[0].partition(":")
        self.assertTrue(uid.isdigit() and int(uid) > 0, f"USER {users[0]}: a numeric uid, not root")
        self.assertTrue(not gid or (gid.isdigit() and int(gid) > 0), f"USER {users[0]}: gid")
        # The user is created with that uid before USER switches to it.
        self.assertTrue(any(f"--uid {uid}" in r for r in Dockerfile.values(self.runtime, "RUN")))
        self.assertEqual([json.loads(e) for e in Dockerfile.values(self.runtime, "ENTRYPOINT")], [["etl"]])
        self.assertEqual([json.loads(c) for c in Dockerfile.values(self.runtime, "CMD")], [["--help"]])
        self.assertEqual(Dockerfile.values(self.runtime, "WORKDIR"), ["/var/lib/market-etl"])
        # USER comes after every RUN: nothing in the final image is installed as the job's user.
        order = [instr for instr, _ in self.runtime["instr"]]
        last_run = max(i for i, instr in enumerate(order) if instr == "RUN")
        self.assertLess(last_run, order.index("USER"))

    def test_build_stage_installs_the_libraries_install_deps_names(self):
        text = (SOURCE_DIR / "scripts" / "install-deps.sh").read_text()
        block = text[text.index("packages=("):text.index(")\n", text.index("packages=("))]
        words = {w for line in block.splitlines() for w in line.split("#")[0].split()}
        # The libraries the build links or includes (not the test servers, linters or fuzzing runtime).
        libraries = {w for w in words if w.startswith("lib") and w.endswith("-dev")} - {"libclang-rt-14-dev"}
        self.assertIn("libpq-dev", libraries)
        build = Dockerfile.apt_packages(self.build)
        self.assertLessEqual(libraries, build)
        self.assertLessEqual({"g++", "cmake", "ninja-build", "pkg-config"}, build)
        self.assertFalse(build & {"postgresql", "redis-server", "prometheus", "catch2"}, "no test servers")

    def test_runtime_packages_cover_every_needed_library(self):
        runtime = Dockerfile.apt_packages(self.runtime)
        self.assertLessEqual({"tzdata", "ca-certificates"}, runtime)
        self.assertFalse({p for p in runtime if p.endswith("-dev")}, "no -dev package at run time")
        with tempfile.TemporaryDirectory(prefix="etl-e2e-docker-") as d:
            stage = Path(d)
            r = staged_install(stage)
            self.assertEqual(r.returncode, 0, r.stderr)
            owners: dict[str, str] = {}
            for b in BINARIES:
                binary = stage / "bin" / b
                paths = ldd_paths(binary)
                for soname in needed_libraries(binary):
                    with self.subTest(binary=b, library=soname):
                        self.assertIn(soname, paths, f"ldd resolves {soname}")
                        package = debian_package_of(paths[soname])
                        self.assertIsNotNone(package, f"dpkg -S {paths[soname]}")
                        owners[soname] = package
                        self.assertIn(package, runtime, f"{b} needs {soname} ({package}): add it to the runtime "
                                                        f"stage's apt-get install line")
        # The ones every build links, so the loop above is known to have looked.
        self.assertEqual(owners.get("libpq.so.5"), "libpq5")
        self.assertEqual(owners.get("libsqlite3.so.0"), "libsqlite3-0")
        self.assertEqual(owners.get("libhiredis.so.0.14"), "libhiredis0.14")
        self.assertEqual(owners.get("libdate-tz.so.3"), "libdate-tz3")
        # And nothing named there is stale: each runtime library package is one a binary needs.
        libs = {p for p in runtime if p.startswith("lib")}
        self.assertEqual(libs, set(owners.values()))


class ContainerGuard(unittest.TestCase):
    """In a pod (KUBERNETES_SERVICE_HOST set), no database configured is a configuration error (78)."""

    def setUp(self):
        self.tmp = Path(tempfile.mkdtemp(prefix="etl-e2e-guard-"))
        if not KEEP:
            self.addCleanup(shutil.rmtree, self.tmp, True)

    def run_in_pod(self, *args, **env):
        binary = str(BIN_DIR / args[0])
        return run([binary, *args[1:]], cwd=self.tmp, env=clean_env(KUBERNETES_SERVICE_HOST="10.0.0.1", **env))

    def assert_guarded(self, r, program):
        self.assertEqual(r.rc, 78, r.describe())
        self.assertEqual(one_line_message(r.stderr, program), [f"{program}: {GUARD_MESSAGE}"], r.describe())
        self.assertEqual(list(self.tmp.iterdir()), [], "no SQLite file was created")

    def test_latest_without_a_database_exits_78(self):
        self.assert_guarded(self.run_in_pod("etl-latest", "AAPL", "BTC", "--mock"), "etl-latest")

    def test_every_store_command_is_guarded(self):
        cases = [(("etl-historical", "7D", "AAPL", "--mock"), "etl-historical"),
                 (("etl-hourly", "AAPL", "--mock"), "etl-hourly"),
                 (("etl-validate",), "etl-validate"),
                 (("etl", "runs"), "etl-runs"),
                 (("etl", "status"), "etl-status"),
                 (("etl", "assets", "list"), "etl-assets"),
                 (("etl", "db", "migrate"), "etl-db")]
        # Off a TTY the error is a JSON line; its job names the command as etl_runs does (etl-runs).
        for args, program in cases:
            with self.subTest(command=" ".join(args)):
                self.assert_guarded(self.run_in_pod(*args), program)

    def test_an_explicit_database_url_runs(self):
        db = self.tmp / "pod.db"
        r = self.run_in_pod("etl-latest", "AAPL", "BTC", "--mock", "--database-url", f"sqlite:{db}")
        self.assertEqual(r.rc, 0, r.describe())
        self.assertEqual(sqlite_query(db, "SELECT symbol FROM latest_prices ORDER BY symbol"), [("AAPL",), ("BTC",)])
        # From the environment too, and even the default's own text when it is chosen explicitly.
        r = self.run_in_pod("etl-latest", "AAPL", "--mock", DATABASE_URL="sqlite:market-etl.db")
        self.assertEqual(r.rc, 0, r.describe())
        self.assertTrue((self.tmp / "market-etl.db").is_file())

    def test_outside_a_pod_the_default_stands(self):
        for value in (None, ""):
            with self.subTest(KUBERNETES_SERVICE_HOST=value):
                r = run([str(BIN_DIR / "etl-latest"), "AAPL", "--mock"], cwd=self.tmp,
                        env=clean_env(KUBERNETES_SERVICE_HOST=value))
                self.assertEqual(r.rc, 0, r.describe())
                self.assertTrue((self.tmp / "market-etl.db").is_file())

    def test_commands_that_open_no_store_still_work(self):
        r = self.run_in_pod("etl", "config", "show")
        self.assertEqual(r.rc, 0, r.describe())
        self.assertRegex(r.stdout, r'(?m)^database_url\s+= "sqlite:market-etl.db"  # default$')
        for args in (("etl", "--version"), ("etl", "--help"), ("etl", "calendar", "2025-03-14"),
                     ("etl-latest", "--help")):
            with self.subTest(command=" ".join(args)):
                r = self.run_in_pod(*args)
                self.assertEqual(r.rc, 0, r.describe())
                self.assertNotIn("no database configured", r.stderr)
        self.assertEqual(list(self.tmp.iterdir()), [])


if __name__ == "__main__":
    unittest.main()
