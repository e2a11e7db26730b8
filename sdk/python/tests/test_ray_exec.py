"""ferrotune.ray_exec, the executor of trials in Ray jobs: it reads the trial from
FERROTUNE_RAY_TRIAL and replaces itself with it (real subprocesses, no Ray needed)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import unittest
from pathlib import Path

from _support import PACKAGE_PARENT, ferrotune  # noqa: F401  (the package under test)
from ferrotune import ray_exec


def run_exec(spec, extra_env=None, raw=None) -> subprocess.CompletedProcess:
    env = {"PATH": os.environ.get("PATH", ""), "PYTHONPATH": PACKAGE_PARENT, "JOB_VAR": "from-ray"}
    env.update(extra_env or {})
    if raw is not None:
        env[ray_exec.VAR] = raw
    elif spec is not None:
        env[ray_exec.VAR] = json.dumps(spec)
    return subprocess.run(
        [sys.executable, "-m", "ferrotune.ray_exec"],
        env=env, capture_output=True, text=True, timeout=60,
    )


class RayExecTest(unittest.TestCase):
    def test_runs_the_trial_in_place_with_its_env_and_folder(self):
        with tempfile.TemporaryDirectory() as d:
            trial_dir = Path(d) / "trials" / "t1"
            code = (
                "import os, sys; "
                "print(os.getcwd()); print(os.environ['FERROTUNE_TRIAL'], os.environ['JOB_VAR'], "
                "os.environ.get('FERROTUNE_RAY_TRIAL', 'absent'), os.environ['X']); "
                "print(sys.argv[1]); print(os.getppid() > 0); sys.exit(3)"
            )
            # A value a shell would act on arrives as text.
            evil = "; touch /tmp/ferrotune-pwned $(reboot) `id`"
            spec = {
                "argv": [sys.executable, "-c", code, evil],
                "env": {"FERROTUNE_TRIAL": "t1", "X": "$HOME"},
                "cwd": str(trial_dir),
                "mkdirs": [str(trial_dir), str(trial_dir / "checkpoint")],
            }
            out = run_exec(spec)
            self.assertEqual(out.returncode, 3, out.stderr)
            lines = out.stdout.splitlines()
            self.assertEqual(Path(lines[0]).resolve(), trial_dir.resolve())
            self.assertEqual(lines[1], "t1 from-ray absent $HOME")
            self.assertEqual(lines[2], evil)
            self.assertTrue((trial_dir / "checkpoint").is_dir())

    def test_the_trial_replaces_the_executor(self):
        # exec: the process that ran `python -m ferrotune.ray_exec` is the trial's.
        code = "import os; print(os.getpid())"
        spec = {"argv": [sys.executable, "-c", code], "env": {}}
        env = {"PATH": os.environ.get("PATH", ""), "PYTHONPATH": PACKAGE_PARENT,
               ray_exec.VAR: json.dumps(spec)}
        p = subprocess.Popen([sys.executable, "-m", "ferrotune.ray_exec"], env=env,
                             stdout=subprocess.PIPE, text=True)
        out, _ = p.communicate(timeout=60)
        self.assertEqual(int(out.strip()), p.pid)

    def test_path_lookup_uses_the_trial_env(self):
        with tempfile.TemporaryDirectory() as d:
            prog = Path(d) / "my-trial"
            prog.write_text("#!/bin/sh\necho found-it\n")
            prog.chmod(0o755)
            out = run_exec({"argv": ["my-trial"], "env": {"PATH": d}})
            self.assertEqual(out.returncode, 0, out.stderr)
            self.assertEqual(out.stdout.strip(), "found-it")

    def test_errors_are_clear(self):
        out = run_exec(None)
        self.assertEqual(out.returncode, ray_exec.EXIT_USAGE)
        self.assertIn("FERROTUNE_RAY_TRIAL is not set", out.stderr)
        for raw, what in [("{nope", "not JSON"), ("[1]", "not a JSON object"),
                          ('{"argv": []}', "argv"), ('{"argv": ["x"], "env": {"A": 1}}', "env"),
                          ('{"argv": ["x"], "cwd": 3}', "cwd")]:
            out = run_exec(None, raw=raw)
            self.assertEqual(out.returncode, ray_exec.EXIT_USAGE, raw)
            self.assertIn(what, out.stderr, raw)
        out = run_exec({"argv": ["/no/such/program"]})
        self.assertEqual(out.returncode, ray_exec.EXIT_NOT_FOUND)
        self.assertIn("/no/such/program", out.stderr)

    def test_environment_merge(self):
        env = ray_exec.trial_environment({"A": "1", ray_exec.VAR: "{}", "B": "2"}, {"B": "3"})
        self.assertEqual(env, {"A": "1", "B": "3"})


if __name__ == "__main__":
    unittest.main()
