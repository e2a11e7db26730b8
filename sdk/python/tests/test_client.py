"""ferrotune.Client against a real in-process gRPC server implementing ReportService."""

from __future__ import annotations

import contextlib
import io
import math
import os
import shutil
import socket
import subprocess
import tempfile
import threading
import time
import unittest
from datetime import datetime, timezone

from _support import FakeReportService, ferrotune, pb, start_server

import grpc
from ferrotune._client import parse_endpoint

FAST = dict(flush_interval=0.05, backoff=0.01, max_backoff=0.05)


def parse_time(text: str) -> datetime:
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=timezone.utc)


class ClientTest(unittest.TestCase):
    def setUp(self):
        self.server, self.service, self.port = start_server()
        self.clients = []

    def tearDown(self):
        for c in self.clients:
            with contextlib.redirect_stderr(io.StringIO()):
                c.close()
        self.server.stop(None)

    def client(self, token="tok-1", **kwargs):
        options = dict(FAST)
        options.update(kwargs)
        c = ferrotune.Client(f"127.0.0.1:{self.port}", "exp-0001", token, **options)
        self.clients.append(c)
        return c

    def test_every_report_arrives_with_step_metrics_time_and_token(self):
        c = self.client()
        before = datetime.now(timezone.utc)
        for i in range(50):
            if i % 2:
                c.report(step=i, loss=1.0 / (i + 1), accuracy=i)
            else:
                c.report(loss=float(i))
        time.sleep(0.3)  # the timestamp is taken at report time, not when sent
        c.report(step=50, loss=-1.0)
        self.assertTrue(c.flush())
        after = datetime.now(timezone.utc)

        got = self.service.reports
        self.assertEqual(len(got), 51)
        for i, r in enumerate(got[:50]):
            self.assertEqual(r.trial, "exp-0001")
            if i % 2:
                self.assertTrue(r.HasField("step"))
                self.assertEqual(r.step, i)
                self.assertEqual(dict(r.metrics), {"loss": 1.0 / (i + 1), "accuracy": float(i)})
            else:
                self.assertFalse(r.HasField("step"))
                self.assertEqual(dict(r.metrics), {"loss": float(i)})
        self.assertEqual(got[50].step, 50)
        times = [parse_time(r.timestamp) for r in got]
        self.assertTrue(all(t.tzinfo == timezone.utc for t in times))
        self.assertEqual(times, sorted(times))
        self.assertTrue(before <= times[0] and times[-1] <= after, (before, times[0], after))
        self.assertGreaterEqual((times[50] - times[49]).total_seconds(), 0.29)
        for md in self.service.metadata:
            self.assertEqual(md.get("authorization"), "Bearer tok-1")
        self.assertEqual(set(self.service.calls), {"ReportStream"})

    def test_no_token_sends_no_authorization(self):
        for token in (None, ""):
            c = self.client(token=token)
            c.report(loss=1)
            self.assertTrue(c.flush())
            self.assertTrue(c.should_stop() is False)
        self.assertTrue(self.service.metadata)
        for md in self.service.metadata:
            self.assertNotIn("authorization", md)

    def test_background_thread_sends_without_flush(self):
        c = self.client()
        for i in range(5):
            c.report(step=i, loss=i)
        deadline = time.monotonic() + 5
        while self.service.count() < 5 and time.monotonic() < deadline:
            time.sleep(0.01)
        self.assertEqual(self.service.count(), 5)
        self.assertEqual(c.pending(), 0)

    def test_batches_are_bounded(self):
        c = self.client(flush_interval=10, batch_size=100)
        for i in range(1000):
            c.report(step=i, loss=i)
        self.assertTrue(c.flush())
        self.assertEqual([r.step for r in self.service.reports], list(range(1000)))
        self.assertLessEqual(max(self.service.stream_sizes), 100)

    def test_unavailable_then_ok_is_retried_without_loss(self):
        c = self.client(flush_interval=10, retries=5)
        self.service.fail_codes = [grpc.StatusCode.UNAVAILABLE] * 3
        for i in range(10):
            c.report(step=i, loss=i)
        self.assertTrue(c.flush())
        self.assertEqual([r.step for r in self.service.reports], list(range(10)))
        self.assertEqual(self.service.calls, ["ReportStream"] * 4)

    def test_retries_exhausted_keep_the_buffer_and_warn(self):
        c = self.client(flush_interval=10, retries=2)
        self.service.fail_codes = [grpc.StatusCode.UNAVAILABLE] * 3
        for i in range(10):
            c.report(step=i, loss=i)
        err = io.StringIO()
        with contextlib.redirect_stderr(err):
            self.assertFalse(c.flush())
        self.assertIn("UNAVAILABLE", err.getvalue())
        self.assertIn("10 reports stay buffered", err.getvalue())
        self.assertEqual(self.service.count(), 0)
        self.assertEqual(c.pending(), 10)
        with contextlib.redirect_stderr(io.StringIO()):
            self.assertTrue(c.flush())
        self.assertEqual([r.step for r in self.service.reports], list(range(10)))

    def test_server_down_at_first_then_up(self):
        # A free port with nothing listening yet.
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        c = ferrotune.Client(f"http://127.0.0.1:{port}", "exp-0002", "t", flush_interval=10,
                             retries=8, backoff=0.1, max_backoff=0.4)
        self.clients.append(c)
        for i in range(100):
            c.report(step=i, loss=i)
        result = {}
        err = io.StringIO()
        with contextlib.redirect_stderr(err):
            t = threading.Thread(target=lambda: result.setdefault("ok", c.flush()))
            t.start()
            time.sleep(0.5)
            server, service, _ = start_server(port=port)
            try:
                t.join(30)
                self.assertTrue(result.get("ok"), err.getvalue())
                self.assertEqual([r.step for r in service.reports], list(range(100)))
            finally:
                server.stop(None)

    def test_other_failures_drop_the_batch_with_a_warning(self):
        c = self.client(flush_interval=10)
        self.service.fail_codes = [grpc.StatusCode.UNAUTHENTICATED]
        c.report(loss=1)
        err = io.StringIO()
        with contextlib.redirect_stderr(err):
            self.assertFalse(c.flush())
        self.assertIn("UNAUTHENTICATED", err.getvalue())
        self.assertIn("dropping 1 reports", err.getvalue())
        self.assertEqual(c.pending(), 0)
        self.assertEqual(self.service.calls, ["ReportStream"])  # not retried
        c.report(loss=2)
        self.assertTrue(c.flush())
        self.assertEqual([r.metrics["loss"] for r in self.service.reports], [2.0])

    def test_should_stop_flushes_first_and_remembers_true(self):
        c = self.client(flush_interval=10)
        c.report(step=1, loss=0.5)
        self.assertFalse(c.should_stop())
        self.assertEqual(self.service.calls, ["ReportStream", "ShouldStop"])
        ref = self.service.should_stop_requests[0]
        self.assertEqual((ref.namespace, ref.trial), ("", "exp-0001"))
        self.assertEqual(self.service.metadata[-1].get("authorization"), "Bearer tok-1")

        self.service.stop_in_should_stop = True
        self.service.stop_reason = "median stopping rule"
        c.report(step=2, loss=0.6)
        self.assertTrue(c.should_stop())
        self.assertEqual(c.stop_reason, "median stopping rule")
        self.assertEqual(self.service.count(), 2)
        self.service.stop_in_should_stop = False
        self.assertTrue(c.should_stop())  # remembered: not asked again
        self.assertEqual(self.service.calls.count("ShouldStop"), 2)

    def test_should_stop_from_a_report_response_is_remembered(self):
        c = self.client(flush_interval=10)
        self.service.stop_in_reports = True
        c.report(loss=1)
        self.assertTrue(c.flush())
        self.assertTrue(c.should_stop())
        self.assertNotIn("ShouldStop", self.service.calls)

    def test_should_stop_unreachable_is_false_with_a_warning(self):
        c = self.client(flush_interval=10, retries=1)
        self.service.fail_codes = [grpc.StatusCode.UNAVAILABLE] * 2
        err = io.StringIO()
        with contextlib.redirect_stderr(err):
            self.assertFalse(c.should_stop())
        self.assertIn("ShouldStop", err.getvalue())

    def test_values_are_checked(self):
        c = self.client(flush_interval=10)
        for bad in (True, "0.5", None, [1.0], {"a": 1}, 1j):
            with self.assertRaises(TypeError) as cm:
                c.report(step=1, loss=0.5, accuracy=bad)
            self.assertIn("'accuracy'", str(cm.exception))
        for bad_step in (1.5, "3", True):
            with self.assertRaises(TypeError):
                c.report(step=bad_step, loss=1)
        with self.assertRaises(ValueError):
            c.report(step=2**63, loss=1)
        with self.assertRaises(ValueError):
            c.report(step=1)
        self.assertEqual(c.pending(), 0)  # nothing of a rejected report was buffered

        c.report(step=0, a=3, b=float("nan"), c=float("inf"), d=-float("inf"), e=2.5)
        c.report_metrics({"val/loss": 0.25}, step=1)
        self.assertTrue(c.flush())
        m = self.service.reports[0].metrics
        self.assertEqual(m["a"], 3.0)
        self.assertTrue(math.isnan(m["b"]))
        self.assertEqual((m["c"], m["d"], m["e"]), (math.inf, -math.inf, 2.5))
        self.assertEqual(dict(self.service.reports[1].metrics), {"val/loss": 0.25})

    def test_numpy_scalars(self):
        try:
            import numpy as np
        except ImportError:
            self.skipTest("numpy is not installed")
        c = self.client(flush_interval=10)
        c.report(step=np.int64(4), a=np.float32(0.5), b=np.int64(7), c=np.float64(0.25))
        with self.assertRaises(TypeError):
            c.report(a=np.bool_(True))
        self.assertTrue(c.flush())
        r = self.service.reports[0]
        self.assertEqual((r.step, dict(r.metrics)), (4, {"a": 0.5, "b": 7.0, "c": 0.25}))

    def test_closed_client_refuses_reports(self):
        c = self.client()
        c.report(loss=1)
        self.assertTrue(c.close())
        self.assertEqual(self.service.count(), 1)
        with self.assertRaises(RuntimeError):
            c.report(loss=2)

    def test_from_env(self):
        env = {
            "FERROTUNE_ENDPOINT": f"127.0.0.1:{self.port}",
            "FERROTUNE_TRIAL": "exp-0003",
            "FERROTUNE_NAMESPACE": "team-a",
            "FERROTUNE_TOKEN": "secret",
        }
        c = ferrotune.Client.from_env(env, **FAST)
        self.clients.append(c)
        c.report(loss=1)
        self.assertTrue(c.flush())
        self.assertEqual(self.service.reports[0].trial, "exp-0003")
        # Trial names are unique within a namespace only: the trial's goes with it.
        self.assertEqual(self.service.reports[0].namespace, "team-a")
        c.should_stop()
        self.assertEqual(self.service.should_stop_requests[0].namespace, "team-a")
        self.assertEqual(self.service.metadata[0]["authorization"], "Bearer secret")
        self.assertIsNone(ferrotune.Client.from_env({}))
        self.assertIsNone(ferrotune.Client.from_env({"FERROTUNE_ENDPOINT": ""}))
        with self.assertRaises(RuntimeError):
            ferrotune.Client.from_env({"FERROTUNE_ENDPOINT": "127.0.0.1:1"})


class EndpointTest(unittest.TestCase):
    def test_parse(self):
        self.assertEqual(parse_endpoint("localhost:50051"), ("localhost:50051", False))
        self.assertEqual(parse_endpoint("http://10.0.0.1:80"), ("10.0.0.1:80", False))
        self.assertEqual(parse_endpoint("https://ferrotune.example:443/"), ("ferrotune.example:443", True))
        self.assertEqual(parse_endpoint("HTTPS://[::1]:8443"), ("[::1]:8443", True))
        for bad in ("", "http://", "https://host:1/path"):
            with self.assertRaises(ValueError):
                parse_endpoint(bad)


@unittest.skipUnless(shutil.which("openssl"), "openssl is not installed")
class TlsTest(unittest.TestCase):
    def test_https_endpoint_with_ca_file(self):
        with tempfile.TemporaryDirectory() as d:
            key, cert = os.path.join(d, "key.pem"), os.path.join(d, "cert.pem")
            subprocess.run(
                ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                 "-subj", "/CN=localhost", "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1",
                 "-keyout", key, "-out", cert],
                check=True, capture_output=True,
            )
            with open(key, "rb") as f, open(cert, "rb") as g:
                creds = grpc.ssl_server_credentials([(f.read(), g.read())])
            server, service, port = start_server(credentials=creds)
            try:
                c = ferrotune.Client.from_env(
                    {
                        "FERROTUNE_ENDPOINT": f"https://localhost:{port}",
                        "FERROTUNE_TRIAL": "exp-0004",
                        "FERROTUNE_TOKEN": "tls-token",
                        "FERROTUNE_CA_FILE": cert,
                    },
                    **FAST,
                )
                c.report(step=1, loss=0.5)
                self.assertTrue(c.close())
                self.assertEqual(service.count(), 1)
                self.assertEqual(service.metadata[0]["authorization"], "Bearer tls-token")
            finally:
                server.stop(None)


if __name__ == "__main__":
    unittest.main()
