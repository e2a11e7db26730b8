"""ferrotune.ray_driver's parts that run without Ray: its settings, and the body of a trial's
task (a real subprocess: argv and env as given, never a shell; output in batches; the exit
status or the signal; a process group ended on SIGTERM, SIGKILL after the grace)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import unittest
from pathlib import Path

from _support import ferrotune  # noqa: F401  (the package under test)
from ferrotune import ray_driver

NODE = lambda: {"node_id": "n1", "node_ip": "127.0.0.1"}  # noqa: E731


def spec(argv, env=(), cwd="", mkdirs=()):
    return {"argv": list(argv), "env": list(env), "cwd": cwd, "mkdirs": list(mkdirs)}


class ConfigTest(unittest.TestCase):
    def test_settings_are_checked_and_named(self):
        good = {"endpoint": "127.0.0.1:1", "token": "t", "driver_id": "d"}
        cfg = ray_driver.read_config({ray_driver.VAR: json.dumps(good)})
        self.assertEqual(cfg["reconnect_for"], 120.0)
        for bad, word in [
            ({}, "not set"),
            ({ray_driver.VAR: "{"}, "not JSON"),
            ({ray_driver.VAR: "[]"}, "not a JSON object"),
            ({ray_driver.VAR: json.dumps(dict(good, token=""))}, "token"),
            ({ray_driver.VAR: json.dumps(dict(good, ca_file=3))}, "ca_file"),
            ({ray_driver.VAR: json.dumps(dict(good, reconnect_for=-1))}, "reconnect_for"),
        ]:
            with self.assertRaises(ray_driver.DriverConfigError) as e:
                ray_driver.read_config(bad)
            self.assertIn(word, str(e.exception))

    def test_a_bad_setting_exits_2_with_its_reason(self):
        env = dict(os.environ, **{ray_driver.VAR: "{"})
        p = subprocess.run([sys.executable, "-m", "ferrotune.ray_driver"], env=env,
                           capture_output=True, text=True, timeout=60)
        self.assertEqual(p.returncode, 2, p.stderr)
        self.assertIn("FERROTUNE_RAY_DRIVER is not JSON", p.stderr)


class ReplicaTest(unittest.TestCase):
    def test_each_replica_gets_torch_distributed_variables(self):
        self.assertEqual(ray_driver.local_ranks(["a", "b", "a", "a", "b"]), [0, 0, 1, 2, 1])
        env = dict(ray_driver.replica_env(3, 4, 1, "10.0.0.2", 29500))
        self.assertEqual(env, {"MASTER_ADDR": "10.0.0.2", "MASTER_PORT": "29500",
                               "WORLD_SIZE": "4", "RANK": "3", "LOCAL_RANK": "1",
                               "FERROTUNE_REPLICA": "3"})


class TrialTaskTest(unittest.TestCase):
    def test_runs_argv_with_env_in_its_folder_and_streams_lines_then_the_code(self):
        with tempfile.TemporaryDirectory() as d:
            folder = Path(d) / "trials" / "t1"
            code = ("import os, sys; print(os.getcwd()); print(os.environ['GREETING']); "
                    "print(sys.argv[1]); sys.stderr.write('err\\n'); sys.exit(3)")
            items = list(ray_driver.run_trial(spec(
                [sys.executable, "-c", code, "$(id); rm -rf /"],
                env=[("GREETING", "one"), ("GREETING", "hello `id`")],
                cwd=str(folder), mkdirs=[str(folder), str(folder / "checkpoint")]), NODE))
            self.assertEqual(items[0]["started"]["node_id"], "n1")
            self.assertGreater(items[0]["started"]["pid"], 0)
            lines = [l for i in items if "lines" in i for l in i["lines"]]
            self.assertEqual(lines, [str(folder), "hello `id`", "$(id); rm -rf /", "err"])
            self.assertEqual(items[-1], {"exit": {"code": 3}})
            self.assertTrue((folder / "checkpoint").is_dir())

    def test_a_missing_program_exits_127_with_the_reason(self):
        items = list(ray_driver.run_trial(spec(["/nonexistent/prog"]), NODE))
        self.assertEqual(len(items), 1)
        self.assertEqual(items[0]["exit"]["code"], 127)
        self.assertIn("/nonexistent/prog", items[0]["exit"]["error"])

    def test_a_signal_is_reported_as_the_signal(self):
        code = "import os, signal; os.kill(os.getpid(), signal.SIGKILL)"
        items = list(ray_driver.run_trial(spec([sys.executable, "-c", code]), NODE))
        self.assertEqual(items[-1], {"exit": {"signal": signal.SIGKILL}})

    def test_kill_group_ends_the_whole_group_and_escalates_after_the_grace(self):
        # A child that ignores SIGTERM, with a grandchild: both must go.
        code = ("import signal, subprocess, sys, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); "
                "subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)']); "
                "print('ready', flush=True); time.sleep(60)")
        gen = ray_driver.run_trial(spec([sys.executable, "-c", code]), NODE)
        pid = next(gen)["started"]["pid"]
        self.assertEqual(next(gen), {"lines": ["ready"]})
        t = time.monotonic()
        self.assertTrue(ray_driver.kill_group(pid, 0.5))
        self.assertEqual(list(gen)[-1], {"exit": {"signal": signal.SIGKILL}})
        self.assertLess(time.monotonic() - t, 10)
        self.assertFalse(ray_driver.group_alive(pid))

    def test_closing_the_task_early_ends_its_process(self):
        gen = ray_driver.run_trial(spec([sys.executable, "-c", "import time; time.sleep(60)"]), NODE)
        pid = next(gen)["started"]["pid"]
        self.assertTrue(ray_driver.group_alive(pid))
        gen.close()  # as a cancelled task's generator is
        self.assertFalse(ray_driver.group_alive(pid))


if __name__ == "__main__":
    unittest.main()
