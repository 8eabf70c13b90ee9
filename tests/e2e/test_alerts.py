"""Alerts (README "Alerts"): a run of etl-historical that fails POSTs one alert to alerts.webhook_url (a
local HTTP server on loopback here), a success sends nothing, a success after a failure sends `info`,
alerts.min_severity filters, a webhook that never answers costs at most about 5 s and changes no exit
code, and a secret in the webhook URL never reaches stderr."""
import json
import socket
import threading
import time
import unittest
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from harness import ETL, NOW, ServerTestCase, clean_env, run, sqlite_query, summary

JOB = "etl-historical"


class Webhook:
    """An HTTP server on 127.0.0.1 (port 0) that records every request and answers `status`."""

    def __init__(self, status=200):
        self.requests: list[dict] = []
        self.status = status
        hook = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                n = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(n).decode()
                hook.requests.append({"path": self.path, "headers": dict(self.headers), "body": body})
                self.send_response(hook.status)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.httpd.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}/hook"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def alerts(self) -> list[dict]:
        return [json.loads(r["body"]) for r in self.requests]

    def stop(self):
        self.httpd.shutdown()
        self.httpd.server_close()


class SilentWebhook:
    """A socket on 127.0.0.1 that accepts connections (the kernel's backlog) and never answers."""

    def __init__(self):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}/hook"

    def stop(self):
        self.sock.close()


class Alerts(ServerTestCase):
    tmp_tag = "alerts"

    def setUp(self):
        super().setUp()
        self.hook = Webhook()
        self.addCleanup(self.hook.stop)

    def hist(self, *, mock=True, url=None, full=False, **extra):
        extra.setdefault("ALERT_MIN_SEVERITY", None)  # the caller's, which harness.clean_env keeps, goes
        env = self.env(ETL_NOW=NOW, ALERT_WEBHOOK_URL=url or self.hook.url, **extra)
        argv = ["etl-historical", "1M", "AAPL", "--database-url", f"sqlite:{self.db}"]
        if mock:
            argv.append("--mock")
        if full:  # a symbol up to date costs no request: --full makes the run ask (and fail)
            argv.append("--full")
        return run(argv, env=env, cwd=self.tmp.path)

    def failing_run(self, **extra):
        """The fake Polygon answers 404 (no such ticker): exit 1, one symbol failed."""
        self.server.set_rules([{"match": "", "mode": "404"}])
        r = self.hist(mock=False, full=True, **extra)
        self.server.set_rules([])
        self.assertEqual(r.rc, 1, r.describe())
        return r

    def last_run_id(self) -> int:
        return sqlite_query(self.db, "SELECT max(id) FROM etl_runs")[0][0]

    def test_a_failure_sends_one_alert_with_the_facts(self):
        r = self.failing_run()
        self.assertEqual(len(self.hook.requests), 1, r.describe())
        req = self.hook.requests[0]
        self.assertEqual(req["path"], "/hook")
        self.assertEqual(req["headers"].get("Content-Type"), "application/json")
        a = json.loads(req["body"])
        self.assertEqual(list(a), ["job", "run_id", "status", "exit_code", "severity", "previous_exit_code",
                                   "summary", "error", "failures", "failures_total", "host", "shard",
                                   "started_at", "finished_at"])
        self.assertEqual(a["job"], JOB)
        self.assertEqual(a["run_id"], self.last_run_id())
        self.assertEqual(a["status"], "partial")
        self.assertEqual(a["exit_code"], 1)
        self.assertEqual(a["severity"], "warning")
        self.assertIsNone(a["previous_exit_code"])
        self.assertTrue(a["summary"].startswith(f"{JOB} 1M AAPL --database-url sqlite:"), a["summary"])
        self.assertIn(": 1 symbol (0 ok, 1 failed) in ", a["summary"])
        self.assertIsNone(a["error"])
        self.assertEqual(a["failures_total"], 1)
        self.assertEqual(len(a["failures"]), 1)
        f = a["failures"][0]
        self.assertEqual(f, {"symbol": "AAPL", "provider": "polygon", "kind": "failed",
                             "error": "HTTP 404: Data not found."})
        self.assertEqual(a["host"], socket.gethostname())
        self.assertEqual(a["shard"], "0/1")
        for k in ("started_at", "finished_at"):
            self.assertRegex(a[k], r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")
        self.assertLessEqual(a["started_at"], a["finished_at"])
        # The row it names is the run's, finished with the same exit code.
        row = sqlite_query(self.db, "SELECT job, shard, status, exit_code FROM etl_runs WHERE id = ?", (a["run_id"],))
        self.assertEqual(row, [(JOB, "0/1", "partial", 1)])
        self.assertNotIn("could not write the alert", r.stderr)

    def test_a_success_sends_nothing_and_a_recovery_sends_info(self):
        r = self.hist(ALERT_MIN_SEVERITY="info")
        self.assertEqual(r.rc, 0, r.describe())
        self.assertEqual(self.hook.requests, [], "a first success is no news")
        self.failing_run(ALERT_MIN_SEVERITY="info")
        self.assertEqual([a["severity"] for a in self.hook.alerts()], ["warning"])
        failed_id = self.last_run_id()
        r = self.hist(ALERT_MIN_SEVERITY="info")
        self.assertEqual(r.rc, 0, r.describe())
        alerts = self.hook.alerts()
        self.assertEqual(len(alerts), 2, r.describe())
        a = alerts[1]
        self.assertEqual((a["severity"], a["exit_code"], a["status"], a["previous_exit_code"]),
                         ("info", 0, "success", 1))
        self.assertEqual(a["run_id"], failed_id + 1)
        self.assertEqual(a["failures"], [])
        # A success after a success: nothing again.
        r = self.hist(ALERT_MIN_SEVERITY="info")
        self.assertEqual(r.rc, 0, r.describe())
        self.assertEqual(len(self.hook.requests), 2)

    def test_a_recovery_is_below_the_default_min_severity(self):
        self.failing_run()
        r = self.hist()
        self.assertEqual(r.rc, 0, r.describe())
        self.assertEqual([a["severity"] for a in self.hook.alerts()], ["warning"])

    def test_min_severity_critical_filters_a_warning(self):
        self.failing_run(ALERT_MIN_SEVERITY="critical")
        self.assertEqual(self.hook.requests, [])

    def test_a_rejected_key_is_critical(self):
        self.server.set_rules([{"match": "", "mode": "401"}])
        r = self.hist(mock=False, ALERT_MIN_SEVERITY="critical")
        self.assertEqual(r.rc, 78, r.describe())
        alerts = self.hook.alerts()
        self.assertEqual(len(alerts), 1, r.describe())
        self.assertEqual((alerts[0]["severity"], alerts[0]["exit_code"], alerts[0]["status"]),
                         ("critical", 78, "failed"))
        self.assertEqual(alerts[0]["failures"][0]["kind"], "configuration")
        self.assertNotIn("pk_e2e", self.hook.requests[0]["body"], "the API key is scrubbed")

    def test_slack_format(self):
        self.failing_run(ETL_ALERTS_FORMAT="slack")
        self.assertEqual(len(self.hook.requests), 1)
        body = json.loads(self.hook.requests[0]["body"])
        self.assertEqual(list(body), ["text"])
        lines = body["text"].split("\n")
        self.assertRegex(lines[0], rf"^\[WARNING\] {JOB} failed: exit 1 \(partial\), run \d+, shard 0/1, host \S+$")
        self.assertTrue(lines[1].startswith(f"{JOB} 1M AAPL"), lines)
        self.assertEqual(lines[2], "failed: AAPL (polygon, failed): HTTP 404: Data not found.")
        self.assertRegex(lines[-1], r"^started \S+Z, finished \S+Z$")

    def test_a_webhook_that_never_answers_costs_at_most_5_s(self):
        silent = SilentWebhook()
        self.addCleanup(silent.stop)
        t0 = time.monotonic()
        r = self.failing_run(url=silent.url)
        elapsed = time.monotonic() - t0
        self.assertEqual(r.rc, 1, r.describe())
        warnings = [line for line in r.stderr.splitlines() if "could not write the alert" in line]
        self.assertEqual(len(warnings), 1, r.describe())
        self.assertIn(f"warning alert to http://127.0.0.1:{silent.url.split(':')[2].split('/')[0]}", warnings[0])
        # The 5 s bound was reached (the run waited), and not much more (a mock-free run takes < 2 s).
        self.assertGreaterEqual(elapsed, 4.5, r.describe())
        self.assertLess(elapsed, 9.0, r.describe())

    def test_a_password_in_the_webhook_url_never_reaches_stderr(self):
        self.hook.status = 500
        url = f"http://alerter:hook-pw-5ecret@127.0.0.1:{self.hook.port}/services/T0/B0/tok3nPathSecret"
        r = self.failing_run(url=url, ETL_LOG_LEVEL="debug")
        self.assertEqual(len(self.hook.requests), 1, r.describe())
        self.assertTrue(self.hook.requests[0]["headers"].get("Authorization", "").startswith("Basic "))
        for secret in ("hook-pw-5ecret", "tok3nPathSecret"):
            self.assertNotIn(secret, r.stderr)
            self.assertNotIn(secret, self.hook.requests[0]["body"])
        warnings = [line for line in r.stderr.splitlines() if "could not write the alert" in line]
        self.assertEqual(len(warnings), 1, r.describe())
        self.assertIn(f"warning alert to http://127.0.0.1:{self.hook.port}: HTTP 500: ok", warnings[0])
        self.assertEqual(r.rc, 1)
        self.assertEqual((summary(r)["exit_code"], summary(r)["status"]), (1, "partial"), r.describe())


    def test_config_show_keeps_the_webhook_token_out(self):
        url = "https://al:pw5ecretX@hooks.example.com:8443/services/T0/B0/tok3nPathSecret?x=1"
        r = run([ETL, "config", "show"], env=clean_env(ALERT_WEBHOOK_URL=url))
        self.assertEqual(r.rc, 0, r.describe())
        line = next(l for l in r.stdout.splitlines() if l.startswith("alerts.webhook_url"))
        self.assertIn('"https://al:***@hooks.example.com:8443/***"', line)
        for secret in ("pw5ecretX", "tok3nPathSecret", "x=1"):
            self.assertNotIn(secret, r.stdout + r.stderr)

if __name__ == "__main__":
    unittest.main()
