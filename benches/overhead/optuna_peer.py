"""The same workload for Optuna, the laptop peer: N trials, each running a command as a
subprocess (no shell), random search, n_jobs parallel threads, RDB storage in a SQLite file,
and (for the `lines` case) reading the trial's 1,000 metric lines from its stdout and
reporting each with trial.report, as a pruner-enabled Optuna loop does.

Usage: optuna_peer.py CASE PARALLEL TRIALS WORKDIR
Prints one Markdown table row like run.sh's.
"""
import os
import re
import resource
import subprocess
import sys
import time

import optuna

case, parallel, n, work = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
optuna.logging.set_verbosity(optuna.logging.WARNING)
db = os.path.join(work, f"optuna-{case}-p{parallel}.db")
storage = optuna.storages.RDBStorage(f"sqlite:///{db}")
study = optuna.create_study(storage=storage, sampler=optuna.samplers.RandomSampler(seed=1), direction="minimize")
awk = ["awk", 'BEGIN{for(i=1;i<=1000;i++) print "loss=" 1/i}']
pair = re.compile(r"([\w|-]+)\s*=\s*([+-]?\d*(\.\d+)?([Ee][+-]?\d+)?)")


def objective(trial):
    trial.suggest_float("x", 0, 1)
    trial.suggest_int("k", 1, 100)
    trial.suggest_categorical("c", ["a", "b", "c", "d"])
    if case == "true":
        subprocess.run(["true"], check=False)
        return 0.0
    out = subprocess.run(awk, check=False, capture_output=True, text=True).stdout
    value = None
    for step, line in enumerate(out.splitlines()):
        for m in pair.finditer(line):
            if m.group(1) == "loss":
                value = float(m.group(2))
                trial.report(value, step)
    return value


start = time.time()
study.optimize(objective, n_trials=n, n_jobs=parallel)
wall = time.time() - start
ru = resource.getrusage(resource.RUSAGE_SELF)
ends = sorted(t.datetime_complete.timestamp() for t in study.trials if t.datetime_complete)


def rate(xs):
    return (len(xs) - 1) / (xs[-1] - xs[0]) if len(xs) > 1 and xs[-1] > xs[0] else float("nan")


def fmt(x):
    return f"{x:.2f}" if x < 10 else f"{x:.0f}"


k = min(1000, len(ends) // 2)
size = os.path.getsize(db) / 2**20
print(
    f"| {case} (Optuna {optuna.__version__}) | {parallel} | {n} | {wall:.2f} | {fmt(n / wall)} | "
    f"{ru.ru_utime + ru.ru_stime:.2f} | {ru.ru_maxrss / 1024:.1f} | {size:.0f} | {fmt(rate(ends[:k]))} | {fmt(rate(ends[-k:]))} |"
)
