#!/usr/bin/env python3
"""Two samplers on identical histories: is ferrotune's TPE the same sampler as Optuna's?

The quality tables compare whole runs, whose histories differ from the first random point
on, so a difference between two means mixes the samplers with luck. Here both sides get
the same history: the first --trials trials of an Optuna TPE run on a function (seed
--history-seed, a realistic history from TPE's own phase), and each is asked for its next
point --asks times, a fresh sampler with another seed each time (Optuna:
`TPESampler(seed=1000 + k)`, multivariate as Optuna 5's default, on a study holding
the history; with --independent, `tpe` against `multivariate=False`; ferrotune:
`compare --suggest-from`, seeds 0..asks-1). It prints, for each side, statistics of the
function's value at the suggested points, with standard errors: if the samplers are the
same, they agree within them.

    . benches/venv.sh && bench_venv benches/compare
    cargo build --release -p ferrotune-bench
    benches/compare/.venv/bin/python benches/compare/same_history.py \
        --function branin --trials 100 --history-seed 3 --asks 2000

Real-valued functions only (every function of the comparison but rosenbrock5-mixed).
"""

import argparse
import json
import math
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import functions  # noqa: E402
import peers  # noqa: E402


def summary(values, best):
    """Mean (and its standard error), median, 10th percentile, and the share of
    suggestions better than the history's best (and its standard error)."""
    v = sorted(values)
    n = len(v)
    p = sum(y < best for y in v) / n
    return dict(mean=statistics.mean(v), mean_se=statistics.stdev(v) / math.sqrt(n),
                median=statistics.median(v), q10=v[n // 10], better=p,
                better_se=math.sqrt(p * (1 - p) / n))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--function", required=True)
    ap.add_argument("--trials", type=int, default=100, help="history length")
    ap.add_argument("--history-seed", type=int, default=0)
    ap.add_argument("--asks", type=int, default=1000)
    ap.add_argument("--independent", action="store_true",
                    help="ferrotune's `tpe` against TPESampler(multivariate=False) instead of "
                         "`multivariate-tpe` against TPESampler() (multivariate in Optuna 5)")
    ap.add_argument("--bin", default="target/release/compare")
    args = ap.parse_args()

    import optuna
    from optuna.trial import create_trial

    optuna.logging.set_verbosity(optuna.logging.ERROR)
    algorithm = "tpe" if args.independent else "multivariate-tpe"
    peer = "TPESampler(multivariate=False)" if args.independent else "TPESampler()"
    peer_name = "optuna-tpe-independent" if args.independent else "optuna-tpe"
    spec = functions.FUNCTIONS.get(args.function)
    if spec is None:
        raise SystemExit(f"same_history: unknown function {args.function!r}; known: "
                         f"{', '.join(functions.FUNCTIONS)}")
    f, bounds = spec["f"], spec["bounds"]
    if any(b[0] != "real" for b in bounds):
        raise SystemExit(f"same_history: {args.function} has non-real parameters")
    names = [f"x{i}" for i in range(len(bounds))]

    run = optuna.create_study(direction="minimize",
                              sampler=peers.optuna_sampler("optuna-tpe", args.history_seed))
    run.optimize(lambda t: f(peers.optuna_point(t, bounds)), n_trials=args.trials)
    history = [([t.params[n] for n in names], t.value) for t in run.trials]
    best = min(y for _, y in history)

    dists = peers.optuna_distributions(bounds)
    added = [create_trial(params=dict(zip(names, x)), distributions=dists, value=y)
             for x, y in history]
    optuna_values = []
    for k in range(args.asks):
        study = optuna.create_study(direction="minimize",
                                    sampler=peers.optuna_sampler(peer_name, 1000 + k))
        study.add_trials(added)
        optuna_values.append(f(peers.optuna_point(study.ask(), bounds)))

    with tempfile.NamedTemporaryFile("w", suffix=".jsonl") as fh:
        for x, y in history:
            fh.write(json.dumps({"x": x, "y": y}) + "\n")
        fh.flush()
        out = subprocess.run(
            [args.bin, "--suggest-from", fh.name, "--functions", args.function,
             "--algorithms", algorithm, "--seeds", str(args.asks)],
            check=True, capture_output=True, text=True).stdout
    ours = [json.loads(line)["value"] for line in out.splitlines() if line.strip()]

    print(f"{args.function}: history of {args.trials} trials (Optuna TPE, seed "
          f"{args.history_seed}), best {best:.6g}; {args.asks} asks a side")
    print("| sampler | mean value | median | 10th percentile | better than the best |")
    print("|---|---|---|---|---|")
    for label, values in ((f"ferrotune `{algorithm}`", ours),
                          (f"Optuna `{peer}`", optuna_values)):
        s = summary(values, best)
        print(f"| {label} | {s['mean']:.4g} ± {s['mean_se']:.2g} | {s['median']:.4g} | "
              f"{s['q10']:.4g} | {s['better']:.3f} ± {s['better_se']:.3f} |")


if __name__ == "__main__":
    main()
