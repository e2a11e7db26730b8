"""The module-level API: params, checkpoint folders, the StdOut fallback and exit flushing
(trial scripts run as subprocesses, reporting to an in-process fake server)."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import unittest
from pathlib import Path
from unittest import mock

from _support import ferrotune, start_server, subprocess_env


def run_trial(code: str, env: dict, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        env=env, capture_output=True, text=True, timeout=timeout,
    )


class ParamsTest(unittest.TestCase):
    def test_params_from_the_environment(self):
        env = {"FERROTUNE_PARAMS": '{"lr": 0.01, "layers": 3, "optimizer": "adam"}'}
        with mock.patch.dict("os.environ", env):
            self.assertEqual(ferrotune.params(), {"lr": 0.01, "layers": 3, "optimizer": "adam"})
            got = ferrotune.params(defaults={"lr": 0.1, "epochs": 5})
            self.assertEqual(got, {"lr": 0.01, "layers": 3, "optimizer": "adam", "epochs": 5})
            got["lr"] = 7  # a new dict every time
            self.assertEqual(ferrotune.params()["lr"], 0.01)

    def test_params_outside_ferrotune(self):
        with mock.patch.dict("os.environ", {}, clear=True):
            self.assertEqual(ferrotune.params(), {})
            defaults = {"lr": 0.1}
            got = ferrotune.params(defaults)
            self.assertEqual(got, {"lr": 0.1})
            self.assertIsNot(got, defaults)
        with mock.patch.dict("os.environ", {"FERROTUNE_PARAMS": ""}):
            self.assertEqual(ferrotune.params({"a": 1}), {"a": 1})

    def test_bad_params(self):
        for text in ("{not json", "[1, 2]"):
            with mock.patch.dict("os.environ", {"FERROTUNE_PARAMS": text}):
                with self.assertRaises(ValueError) as cm:
                    ferrotune.params()
                self.assertIn("FERROTUNE_PARAMS", str(cm.exception))

    def test_checkpoint_dirs(self):
        env = {"FERROTUNE_CHECKPOINT_DIR": "/runs/t1/checkpoint",
               "FERROTUNE_PARENT_CHECKPOINT_DIR": "/runs/t0/checkpoint"}
        with mock.patch.dict("os.environ", env):
            self.assertEqual(ferrotune.checkpoint_dir(), Path("/runs/t1/checkpoint"))
            self.assertEqual(ferrotune.parent_checkpoint_dir(), Path("/runs/t0/checkpoint"))
        with mock.patch.dict("os.environ", {}, clear=True):
            self.assertIsNone(ferrotune.checkpoint_dir())
            self.assertIsNone(ferrotune.parent_checkpoint_dir())


class StdOutModeTest(unittest.TestCase):
    def test_without_an_endpoint_reports_print_metric_lines(self):
        out = run_trial(
            """
            import ferrotune
            ferrotune.report(step=1, loss=0.5, accuracy=1)
            ferrotune.report(loss=1e-05)
            ferrotune.report_metrics({"val-loss": 2.5}, step=2)
            print(ferrotune.should_stop(), ferrotune.flush(), ferrotune.params({"lr": 0.1}))
            try:
                ferrotune.report(loss="low")
            except TypeError as e:
                print("TypeError:", e)
            """,
            subprocess_env(FERROTUNE_TRIAL="exp-0001", FERROTUNE_PARAMS='{"lr": 0.2}'),
        )
        self.assertEqual(out.returncode, 0, out.stderr)
        self.assertEqual(out.stderr, "")
        lines = out.stdout.splitlines()
        self.assertEqual(lines[:4], [
            "step=1 loss=0.5 accuracy=1.0",
            "loss=1e-05",
            "step=2 val-loss=2.5",
            "False True {'lr': 0.2}",
        ])
        self.assertTrue(lines[4].startswith("TypeError: metric 'loss' must be a number"), lines[4])
        self.assertEqual(len(lines), 5)


class ExitFlushTest(unittest.TestCase):
    """Nothing is lost when a trial reports a lot and then ends at once."""

    def setUp(self):
        self.server, self.service, self.port = start_server()

    def tearDown(self):
        self.server.stop(None)

    def env(self, trial):
        return subprocess_env(
            FERROTUNE_ENDPOINT=f"127.0.0.1:{self.port}",
            FERROTUNE_TRIAL=trial,
            FERROTUNE_TOKEN=f"token-{trial}",
            FERROTUNE_PARAMS='{"x": 1}',
        )

    def check_trial(self, trial, ending, returncode):
        code = f"""
            import sys, ferrotune
            x = ferrotune.params()["x"]
            for i in range(10000):
                ferrotune.report(step=i, loss=x / (i + 1), i=i)
            {ending}
            """
        out = run_trial(code, self.env(trial))
        self.assertEqual(out.returncode, returncode, out.stderr)
        with self.service.lock:
            got = [r for r in self.service.reports if r.trial == trial]
            tokens = {md.get("authorization") for md in self.service.metadata}
        self.assertEqual(len(got), 10000)
        self.assertEqual([r.step for r in got], list(range(10000)))
        self.assertTrue(all(r.metrics["i"] == r.step for r in got))
        self.assertIn(f"Bearer token-{trial}", tokens)
        self.assertNotIn("ferrotune:", out.stderr)  # no warnings
        return out

    def test_normal_exit(self):
        self.check_trial("exp-0001", "pass", 0)

    def test_sys_exit(self):
        self.check_trial("exp-0002", "sys.exit(3)", 3)

    def test_unhandled_exception(self):
        out = self.check_trial("exp-0003", "raise RuntimeError('boom')", 1)
        self.assertIn("RuntimeError: boom", out.stderr)

    def test_report_in_a_later_atexit_hook_is_sent_too(self):
        # atexit runs hooks last-registered first: this one, registered before the client
        # exists, runs after the client's exit flush.
        code = """
            import atexit, ferrotune
            atexit.register(lambda: ferrotune.report(step=99, loss=0.0))
            ferrotune.report(step=0, loss=1.0)
            """
        out = run_trial(code, self.env("exp-0004"))
        self.assertEqual(out.returncode, 0, out.stderr)
        got = [r.step for r in self.service.reports if r.trial == "exp-0004"]
        self.assertEqual(got, [0, 99])

    def test_should_stop_under_ferrotune(self):
        self.service.stop_in_should_stop = True
        code = """
            import ferrotune
            ferrotune.report(step=0, loss=1.0)
            print(ferrotune.should_stop())
            """
        out = run_trial(code, self.env("exp-0005"))
        self.assertEqual(out.returncode, 0, out.stderr)
        self.assertEqual(out.stdout.strip(), "True")
        self.assertEqual(self.service.should_stop_requests[0].trial, "exp-0005")
        self.assertEqual(self.service.calls, ["ReportStream", "ShouldStop"])


if __name__ == "__main__":
    unittest.main()
