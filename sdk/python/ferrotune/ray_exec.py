"""Runs one ferrotune trial inside a Ray job: `python3 -m ferrotune.ray_exec`.

ferrotune's Ray runner (jobs mode) submits every trial as a Ray job with this fixed
entrypoint. Ray runs entrypoints through a shell, so no value of the trial is ever part of
it: the trial's argv, environment and working directory arrive as JSON in the environment
variable FERROTUNE_RAY_TRIAL (set through the job's runtime_env), and this module replaces
itself with the trial's process (exec), whose exit status becomes the job's.

    {"argv": ["python3", "train.py", "--lr=0.01"],
     "env": {"FERROTUNE_TRIAL": "exp-0001", ...},
     "cwd": "/runs/exp/trials/exp-0001",
     "mkdirs": ["/runs/exp/trials/exp-0001", "/runs/exp/trials/exp-0001/checkpoint"]}

The trial's environment is the job's (Ray's variables, PATH) with `env` on top.
"""

from __future__ import annotations

import json
import os
import sys
from typing import Any, Dict, Mapping, NoReturn, Optional

VAR = "FERROTUNE_RAY_TRIAL"

# Exit statuses of the executor itself, as a shell would give them.
EXIT_USAGE = 2
EXIT_NOT_FOUND = 127
EXIT_CANNOT_RUN = 126


class TrialSpecError(ValueError):
    """FERROTUNE_RAY_TRIAL is missing or malformed."""


def read_spec(environ: Mapping[str, str]) -> Dict[str, Any]:
    """The trial to run, checked: argv a non-empty list of strings, env a string map,
    cwd a string (optional), mkdirs a list of strings (optional)."""
    text = environ.get(VAR, "")
    if not text:
        raise TrialSpecError(f"{VAR} is not set: this module runs trials for ferrotune's Ray runner")
    try:
        spec = json.loads(text)
    except ValueError as e:
        raise TrialSpecError(f"{VAR} is not JSON: {e}") from None
    if not isinstance(spec, dict):
        raise TrialSpecError(f"{VAR} is not a JSON object")
    argv = spec.get("argv")
    if not isinstance(argv, list) or not argv or not all(isinstance(a, str) for a in argv):
        raise TrialSpecError(f"{VAR}: argv must be a non-empty list of strings")
    env = spec.get("env", {})
    if not isinstance(env, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in env.items()
    ):
        raise TrialSpecError(f"{VAR}: env must map strings to strings")
    cwd = spec.get("cwd")
    if cwd is not None and not isinstance(cwd, str):
        raise TrialSpecError(f"{VAR}: cwd must be a string")
    mkdirs = spec.get("mkdirs", [])
    if not isinstance(mkdirs, list) or not all(isinstance(d, str) for d in mkdirs):
        raise TrialSpecError(f"{VAR}: mkdirs must be a list of strings")
    return {"argv": argv, "env": env, "cwd": cwd, "mkdirs": mkdirs}


def trial_environment(environ: Mapping[str, str], env: Mapping[str, str]) -> Dict[str, str]:
    """The job's environment without FERROTUNE_RAY_TRIAL, with the trial's on top."""
    out = {k: v for k, v in environ.items() if k != VAR}
    out.update(env)
    return out


def main(environ: Optional[Mapping[str, str]] = None) -> NoReturn:
    environ = os.environ if environ is None else environ
    try:
        spec = read_spec(environ)
    except TrialSpecError as e:
        print(f"ferrotune.ray_exec: {e}", file=sys.stderr, flush=True)
        sys.exit(EXIT_USAGE)
    env = trial_environment(environ, spec["env"])
    argv = spec["argv"]
    try:
        for d in spec["mkdirs"]:
            os.makedirs(d, exist_ok=True)
        if spec["cwd"]:
            os.chdir(spec["cwd"])
    except OSError as e:
        print(f"ferrotune.ray_exec: preparing the trial's folder: {e}", file=sys.stderr, flush=True)
        sys.exit(EXIT_CANNOT_RUN)
    sys.stdout.flush()
    sys.stderr.flush()
    try:
        # PATH is looked up in the trial's environment, as a local trial's would be.
        os.execvpe(argv[0], argv, env)
    except FileNotFoundError as e:
        print(f"ferrotune.ray_exec: cannot run {argv[0]!r}: {e}", file=sys.stderr, flush=True)
        sys.exit(EXIT_NOT_FOUND)
    except OSError as e:
        print(f"ferrotune.ray_exec: cannot run {argv[0]!r}: {e}", file=sys.stderr, flush=True)
        sys.exit(EXIT_CANNOT_RUN)


if __name__ == "__main__":
    main()
