"""Provider bodies that once crashed a binary, Redis URLs as users write them, and a slow Redis.

- A malformed Yahoo quote body (a lone `{`, a truncated real body) fails that symbol like any bad body: the
  binary exits with its exit code, never a signal, and the run row is finished.
- redis://:p%40ss%20w%2Frd@host reaches a Redis whose password is "p@ss w/rd" (the URL is percent-decoded),
  and neither form of the password appears anywhere; rediss:// is a one-line configuration error (78).
- A Redis that answers a byte every 1.5 s holds the job no longer than redis.timeout_ms (the whole cache
  step, not each read): one warning, exit 0, the database written.
"""
import os
import socket
import threading
import time
import unittest

from harness import ETL_LATEST, JobTestCase, RedisServer, one_line_message, run, sqlite_query, sqlite_runs

NOW = "2025-03-14T21:00:00Z"          # Friday 17:00 EDT, after the close


class SlowRedis:
    """A TCP server that speaks just enough RESP: it answers +OK to every command (AUTH, SELECT, SET ...),
    one byte every `byte_interval` seconds. Records when each connection was accepted and closed by the
    client. Use as a context manager."""

    def __init__(self, byte_interval=1.5):
        self.byte_interval = byte_interval
        self.connections = []              # [accepted_at, closed_at or None] (time.monotonic())
        self.commands = 0
        self._sock = socket.create_server(("127.0.0.1", 0))
        self.port = self._sock.getsockname()[1]
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._threads = []

    def __enter__(self):
        t = threading.Thread(target=self._accept, daemon=True)
        t.start()
        self._threads.append(t)
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._sock.close()
        for t in self._threads:
            t.join(timeout=5)

    def _accept(self):
        self._sock.settimeout(0.1)
        while not self._stop.is_set():
            try:
                conn, _ = self._sock.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            record = [time.monotonic(), None]
            with self._lock:
                self.connections.append(record)
            t = threading.Thread(target=self._serve, args=(conn, record), daemon=True)
            t.start()
            self._threads.append(t)

    @staticmethod
    def _complete_commands(buf: bytes) -> tuple[int, bytes]:
        """How many whole RESP commands (*N then N bulk strings) buf starts with, and the rest."""
        count = 0
        while True:
            if not buf.startswith(b"*"):
                return count, buf
            end = buf.find(b"\r\n")
            if end < 0:
                return count, buf
            n, pos = int(buf[1:end]), end + 2
            for _ in range(n):
                end = buf.find(b"\r\n", pos)
                if end < 0 or buf[pos:pos + 1] != b"$":
                    return count, buf
                size = int(buf[pos + 1:end])
                pos = end + 2 + size + 2
                if pos > len(buf):
                    return count, buf
            buf = buf[pos:]
            count += 1

    def _serve(self, conn, record):
        """Reads commands until the client closes (recording when), while _answer drips the replies."""
        pending = bytearray()
        closed = threading.Event()
        writer = threading.Thread(target=self._answer, args=(conn, pending, closed), daemon=True)
        writer.start()
        buf = b""
        try:
            while True:
                data = conn.recv(65536)
                if not data:
                    break                          # the client closed the connection
                buf += data
                n, buf = self._complete_commands(buf)
                with self._lock:
                    self.commands += n
                    pending += b"+OK\r\n" * n
        except OSError:
            pass                                   # reset by the client
        finally:
            record[1] = time.monotonic()
            closed.set()
            writer.join(timeout=5)
            conn.close()

    def _answer(self, conn, pending, closed):
        while not closed.is_set() and not self._stop.is_set():
            with self._lock:
                byte = bytes(pending[:1])
                del pending[:1]
            if not byte:
                closed.wait(0.01)
                continue
            if closed.wait(self.byte_interval):
                return
            try:
                conn.sendall(byte)
            except OSError:
                return


class ParseRedisFaultsTest(JobTestCase):
    tmp_tag = "parse_redis"
    api_key = "pk_e2e_parse_redis"

    def latest(self, *args, **kw):
        return self.run_job(ETL_LATEST, *args, now=NOW, **kw)

    def rows(self) -> dict:
        return {sym: price for sym, price in sqlite_query(self.db, "SELECT symbol, price FROM latest_prices")}

    def warnings(self, r) -> list[dict]:
        return [l for l in r.json_logs() if l.get("level") in ("warn", "error")]

    # ---- 1. a malformed Yahoo quote body

    def test_malformed_yahoo_quote_body_fails_the_symbol_not_the_process(self):
        status, real = self.server.get("/v8/finance/chart/AAPL?range=1d&interval=1d",
                                       headers={"User-Agent": "Mozilla/5.0"})
        self.assertEqual(status, 200)
        bodies = {"a lone brace": "{", "a truncated real body": real[:len(real) // 2]}
        for what, body in bodies.items():
            with self.subTest(body=what):
                self.server.reset()
                self.tmp.path.joinpath("etl.db").unlink(missing_ok=True)
                self.server.set_rules([{"match": "/v8/finance/chart/AAPL", "mode": "raw", "body": body}])
                r = self.latest("AAPL", "MSFT", ETL_ROUTING_STOCK="yahoo")
                self.assertGreaterEqual(r.rc, 0, f"killed by signal {-r.rc}\n{r.describe()}")
                self.assertEqual(r.rc, 1, r.describe())
                self.assertEqual(sorted(self.rows()), ["MSFT"], "the good symbol is loaded")
                run_ = sqlite_runs(self.db)[-1]
                self.assertEqual((run_["status"], run_["exit_code"], run_["symbols_ok"], run_["symbols_failed"]),
                                 ("partial", 1, 1, 1))
                self.assertIsNotNone(run_["finished_at"], "the run row is finished")
                self.assertIn("AAPL", r.stdout + r.stderr)

    # ---- 2. Redis URLs as users write them

    def test_percent_encoded_redis_password_is_decoded(self):
        password = "p@ss w/rd"
        encoded = "p%40ss%20w%2Frd"
        with RedisServer(password=password, db=3) as rs:
            url = f"redis://:{encoded}@127.0.0.1:{rs.port}/3"
            r = self.latest("AAPL", "BTC", redis=url)
            self.assertEqual(r.rc, 0, r.describe())
            self.assertEqual(self.warnings(r), [], r.describe())
            self.assertEqual(rs.keys(), ["latest_price:AAPL", "latest_price:BTC"])
            # Given as a flag too, where the URL lands in etl_runs.arguments.
            r2 = run([ETL_LATEST, "AAPL", "--database-url", f"sqlite:{self.db}", "--redis-url", url,
                      "--report", str(self.report_file)], env=self.env(NOW, redis=False), cwd=self.tmp.path)
            self.assertEqual(r2.rc, 0, r2.describe())
            self.assertEqual(self.warnings(r2), [], r2.describe())
            stored = " ".join(" ".join(map(str, row)) for row in sqlite_query(self.db, "SELECT * FROM etl_runs"))
            report = self.report_file.read_text()
            for secret in (password, encoded, "p@ss", "w/rd"):
                for where, text in (("output", r.stdout + r.stderr + r2.stdout + r2.stderr),
                                    ("etl_runs", stored), ("report", report)):
                    self.assertNotIn(secret, text, f"{secret!r} in {where}")

    def test_wrong_percent_encoded_password_warns_without_either_form(self):
        with RedisServer(password="right-pass") as rs:
            r = self.latest("AAPL", redis=f"redis://:wr%40ng%2Fpass@127.0.0.1:{rs.port}/0")
            self.assertEqual(r.rc, 0, r.describe())
            self.assertEqual(len(self.warnings(r)), 1, r.describe())
            self.assertEqual(rs.keys(), [])
            for secret in ("wr%40ng%2Fpass", "wr@ng/pass"):
                self.assertNotIn(secret, r.stdout + r.stderr)

    def test_rediss_is_a_one_line_configuration_error(self):
        r = self.latest("AAPL", "BTC", redis="rediss://:tls-secret-pw@cache.example.com:6380/0")
        self.assertEqual(r.rc, 78, r.describe())
        lines = one_line_message(r.stderr, "etl-latest:")
        self.assertEqual(len(lines), 1, r.describe())
        self.assertIn("rediss://", lines[0])
        self.assertIn("TLS", lines[0])
        self.assertIn("stunnel", lines[0])
        self.assertIn("redis://", lines[0].replace("rediss://", ""))
        self.assertNotIn("tls-secret-pw", r.stdout + r.stderr)
        self.assertEqual(self.server.requests(), [], "refused before any work")

    # ---- 3. a slow Redis

    def test_slow_redis_is_bounded_by_the_timeout(self):
        symbols = ["AAPL", "MSFT", "I:SPX", "BTC", "ETH"]
        timeout = 2.0
        # What the same job takes without Redis, on this machine now.
        t0 = time.monotonic()
        r = self.latest(*symbols, redis=False, report=False)
        baseline = time.monotonic() - t0
        self.assertEqual(r.rc, 0, r.describe())
        cases = {"SET replies": "redis://127.0.0.1:{port}/0",
                 "AUTH and SELECT replies": "redis://:slow-secret@127.0.0.1:{port}/2"}
        for what, url in cases.items():
            with self.subTest(slow=what), SlowRedis(byte_interval=1.5) as slow:
                self.tmp.path.joinpath("etl.db").unlink(missing_ok=True)
                self.server.reset()
                t0 = time.monotonic()
                r = self.latest(*symbols, redis=url.format(port=slow.port),
                                ETL_REDIS_TIMEOUT_MS=str(int(timeout * 1000)))
                elapsed = time.monotonic() - t0
                self.assertEqual(r.rc, 0, r.describe())
                warnings = self.warnings(r)
                self.assertEqual(len(warnings), 1, r.describe())
                self.assertIn("redis", warnings[0]["msg"].lower())
                self.assertEqual(sorted(self.rows()), sorted(symbols), "the database has the rows")
                self.assertEqual(sqlite_runs(self.db)[-1]["status"], "success")
                self.assertGreaterEqual(slow.commands, 1, "the binary talked to the slow Redis")
                self.assertEqual(len(slow.connections), 1)
                accepted, closed = slow.connections[0]
                self.assertIsNotNone(closed, "the binary closed its connection")
                self.assertLess(closed - accepted, timeout + 1.0,
                                f"Redis held the job {closed - accepted:.1f} s with a {timeout} s timeout")
                self.assertLess(elapsed, baseline + timeout + 2.0,
                                f"job took {elapsed:.1f} s (without Redis {baseline:.1f} s)\n{r.describe()}")
                self.assertNotIn("slow-secret", r.stdout + r.stderr)


if __name__ == "__main__":
    unittest.main()
