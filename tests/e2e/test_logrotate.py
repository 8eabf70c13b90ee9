"""etc/logrotate.d/market-etl (issue 10, point 9): it covers every log crontab.example appends to, logrotate
parses it, and a forced run really rotates: copied to .1 and truncated in place (copytruncate), the
older copy compressed a rotation later (delaycompress), an empty log left alone (notifempty), and a
writer that holds the file open with O_APPEND (as cron's `2>>` does) goes on at the new end, with no
hole. logrotate runs on a copy whose paths point into a temp dir, with its own state file; the `su`
line names the user running the test (the real one names market-etl, who owns /var/log/market-etl).
"""
from __future__ import annotations

import fnmatch
import grp
import os
import pwd
import re
import shutil
import subprocess
import tempfile
import unittest
from pathlib import Path

from harness import KEEP, SOURCE_DIR

CONF = SOURCE_DIR / "etc" / "logrotate.d" / "market-etl"
CRONTAB = SOURCE_DIR / "crontab.example"
LOGROTATE = shutil.which("logrotate") or ("/usr/sbin/logrotate" if Path("/usr/sbin/logrotate").exists() else None)


def directives(text: str) -> tuple[list[str], dict[str, list[str]]]:
    """The path patterns of the one block in the file, and its directives (name -> arguments)."""
    body = "\n".join(line.split("#", 1)[0] for line in text.splitlines())
    m = re.fullmatch(r"\s*([^{]+?)\s*\{([^}]*)\}\s*", body, re.S)
    assert m, "one block: PATTERNS { directives }"
    out = {}
    for line in m.group(2).splitlines():
        if words := line.split():
            out[words[0]] = words[1:]
    return m.group(1).split(), out


class LogrotateConfig(unittest.TestCase):
    def test_the_block_and_its_directives(self):
        patterns, d = directives(CONF.read_text())
        self.assertEqual(patterns, ["/var/log/market-etl/*.log"])
        for flag in ("daily", "compress", "delaycompress", "missingok", "notifempty", "copytruncate"):
            self.assertEqual(d.get(flag), [], flag)
        self.assertEqual(d.get("rotate"), ["14"])
        self.assertEqual(d.get("su"), ["market-etl", "market-etl"])
        self.assertNotIn("create", d, "copytruncate keeps the original file; create would be ignored")

    def test_it_covers_every_log_the_crontab_appends_to(self):
        patterns, _ = directives(CONF.read_text())
        logs = set(re.findall(r"2>>(\S+)", CRONTAB.read_text()))
        self.assertEqual(logs, {"/var/log/market-etl/historical.log", "/var/log/market-etl/hourly.log",
                                "/var/log/market-etl/latest.log"})
        for log in sorted(logs):
            self.assertTrue(any(fnmatch.fnmatch(log, p) for p in patterns), f"{log} is rotated")
        # The --report files are replaced whole by every run: not rotated.
        for report in re.findall(r"--report (\S+)", CRONTAB.read_text()):
            self.assertFalse(any(fnmatch.fnmatch(report, p) for p in patterns), report)


@unittest.skipUnless(LOGROTATE, "logrotate not installed (scripts/install-deps.sh installs it)")
class LogrotateRuns(unittest.TestCase):
    def setUp(self):
        self.dir = Path(tempfile.mkdtemp(prefix="etl-e2e-logrotate-"))
        if not KEEP:
            self.addCleanup(shutil.rmtree, self.dir, True)
        self.logs = self.dir / "log"
        self.logs.mkdir(mode=0o755)
        self.state = self.dir / "state"
        user = pwd.getpwuid(os.getuid()).pw_name
        group = grp.getgrgid(os.getgid()).gr_name
        text = CONF.read_text()
        pattern, su = "\n/var/log/market-etl/*.log {\n", "\n    su market-etl market-etl\n"
        self.assertEqual((text.count(pattern), text.count(su)), (1, 1))
        text = text.replace(pattern, f"\n{self.logs}/*.log {{\n").replace(su, f"\n    su {user} {group}\n")
        self.conf = self.dir / "market-etl"
        self.conf.write_text(text)
        self.conf.chmod(0o644)              # logrotate run by root ignores a group/world-writable file

    def logrotate(self, *args):
        return subprocess.run([LOGROTATE, *args, "-s", str(self.state), str(self.conf)], capture_output=True,
                              text=True, timeout=30)

    def test_debug_parses_without_error(self):
        (self.logs / "hourly.log").write_text("x\n")
        r = self.logrotate("-d")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertNotRegex(r.stderr, r"(?mi)^error")
        self.assertIn(f"rotating pattern: {self.logs}/*.log", r.stderr)
        self.assertIn("(14 rotations)", r.stderr)
        self.assertIn("empty log files are not rotated", r.stderr)
        self.assertEqual(sorted(p.name for p in self.logs.iterdir()), ["hourly.log"], "-d changes nothing")
        # The check can fail: logrotate reports a directive it does not know as an "error:" line (and
        # exits 0 all the same in debug mode, so the line is what counts).
        self.conf.write_text(self.conf.read_text().replace("copytruncate", "copytruncat"))
        r = self.logrotate("-d")
        self.assertRegex(r.stderr, r"(?m)^error: .*:\d+ unknown option 'copytruncat'")

    def test_forced_run_rotates_in_place_and_compresses_a_rotation_later(self):
        hourly, latest = self.logs / "hourly.log", self.logs / "latest.log"
        hourly.write_text('{"msg": "first"}\n')
        latest.write_text("")
        inode = hourly.stat().st_ino
        r = self.logrotate("-f")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(sorted(p.name for p in self.logs.iterdir()), ["hourly.log", "hourly.log.1", "latest.log"])
        self.assertEqual((self.logs / "hourly.log.1").read_text(), '{"msg": "first"}\n')
        self.assertEqual(hourly.stat().st_size, 0, "truncated")
        self.assertEqual(hourly.stat().st_ino, inode, "copytruncate: the same file, not a new one")
        self.assertEqual(latest.stat().st_size, 0)                     # notifempty: not rotated

        hourly.write_text('{"msg": "second"}\n')
        r = self.logrotate("-f")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(sorted(p.name for p in self.logs.iterdir()),
                         ["hourly.log", "hourly.log.1", "hourly.log.2.gz", "latest.log"])
        self.assertEqual((self.logs / "hourly.log.1").read_text(), '{"msg": "second"}\n')   # delaycompress
        out = subprocess.run(["gzip", "-dc", str(self.logs / "hourly.log.2.gz")], capture_output=True, text=True)
        self.assertEqual(out.stdout, '{"msg": "first"}\n')

    def test_a_writer_holding_the_file_with_o_append_goes_on_at_the_new_end(self):
        hourly = self.logs / "hourly.log"
        with open(hourly, "a", encoding="utf-8") as job:               # what `2>>hourly.log` opens
            job.write("line one of a long run\n" * 100)
            job.flush()
            r = self.logrotate("-f")
            self.assertEqual(r.returncode, 0, r.stderr)
            job.write("line after the rotation\n")
            job.flush()
        self.assertEqual(hourly.read_bytes(), b"line after the rotation\n", "no hole of NUL bytes")
        self.assertEqual((self.logs / "hourly.log.1").read_text(), "line one of a long run\n" * 100)

    def test_missing_logs_are_fine(self):
        r = self.logrotate("-f")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(list(self.logs.iterdir()), [])


if __name__ == "__main__":
    unittest.main()
