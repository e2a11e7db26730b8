"""The Optuna side of the early-stopping comparison: Optuna's pruners on the same replayed
learning curves, in the same simulation as the Rust `stopping` binary, in its JSON line
format. run.sh runs it in the venv it makes (benches/stopping/.venv).

    peers.py --curves-dir DIR --out FILE [--problems synthetic,sgd] [--pruners ...]
             [--seeds 20] [--configs 64] [--workers 4] [--resume]
    peers.py --versions

The simulation (as in benches/stopping/src/sim.rs): `workers` asynchronous workers; the
configurations start in the curve file's order, each as a trial of `study.ask()`; a trial
of configuration c reports values[c][k-1] with `trial.report(value, k)` once its k steps
are done, step k taking step_times[c][k-1]; then `trial.should_prune()` decides, and a
pruned trial is told PRUNED (`study.tell(trial, state=TrialState.PRUNED)`) and frees its
worker at that moment, which starts the next configuration. At the last step the trial is
told its value (`study.tell(trial, value)`) without asking the pruner. Events are taken in
order of time, ties by worker index, and every time is the same sum of the file's step
times as on the Rust side, so both schedules agree exactly while the decisions do.

No sampler chooses anything: the configurations are fixed, and the trials never call
suggest_*; each study has a RandomSampler(seed=s) that is never asked for a value, and a
fixed study_name ("stopping-<problem>-<seed>"), since HyperbandPruner assigns brackets by
a hash of the study name and the trial number.

Pruners, at Optuna's defaults:
  nop                 NopPruner()                  (the baseline: nothing is pruned)
  median              MedianPruner()               (n_startup_trials=5, n_warmup_steps=0)
  successive-halving  SuccessiveHalvingPruner()    (min_resource="auto", reduction_factor=4)
  hyperband           HyperbandPruner(max_resource=<steps>)   (min_resource=1,
                                                   reduction_factor=3)
"""

import argparse
import importlib.metadata
import json
import os
import sys
import time
import warnings

PRUNERS = {
    "nop": "NopPruner()",
    "median": "MedianPruner()",
    "successive-halving": "SuccessiveHalvingPruner()",
    "hyperband": "HyperbandPruner(max_resource={steps})",
}


# Optuna's pruners at their defaults, and successive halving over the same grid of
# schedules as ferrotune's ASHA rows (first rung 5, 10 or 20; reduction factor 3 or 4).
DEFAULT_PRUNERS = list(PRUNERS) + [
    f"successive-halving@min_resource={g}+reduction_factor={r}"
    for g in (5, 10, 20) for r in (3, 4)
]


def split_pruner(name):
    """`successive-halving@min_resource=10+reduction_factor=3`: a pruner and its arguments."""
    base, _, preset = name.partition("@")
    kwargs = {}
    for pair in filter(None, preset.split("+")):
        k, _, v = pair.partition("=")
        kwargs[k] = int(v) if v.lstrip("-").isdigit() else v
    return base, kwargs


def pruner_text(name, steps):
    base, kwargs = split_pruner(name)
    if not kwargs:
        return PRUNERS[base].format(steps=steps)
    cls = PRUNERS[base].split("(")[0]
    args = ([f"max_resource={steps}"] if base == "hyperband" else []) + [
        f"{k}={v!r}" for k, v in kwargs.items()]
    return f"{cls}({', '.join(args)})"


def make_pruner(name, steps):
    import optuna

    name, kwargs = split_pruner(name)
    if kwargs:
        cls = getattr(optuna.pruners, PRUNERS[name].split("(")[0])
        if name == "hyperband":
            kwargs = {"max_resource": steps, **kwargs}
        return cls(**kwargs)

    if name == "nop":
        return optuna.pruners.NopPruner()
    if name == "median":
        return optuna.pruners.MedianPruner()
    if name == "successive-halving":
        return optuna.pruners.SuccessiveHalvingPruner()
    if name == "hyperband":
        return optuna.pruners.HyperbandPruner(max_resource=steps)
    raise ValueError(name)


def load(curves_dir, problem, seed, configs):
    path = os.path.join(curves_dir, f"{problem}-{seed}.json")
    with open(path) as fh:
        curves = json.load(fh)
    if curves.get("format") != 1:
        raise SystemExit(f"peers: {path}: format {curves.get('format')} (expected 1)")
    if len(curves["trials"]) < configs:
        raise SystemExit(f"peers: {path}: {len(curves['trials'])} configurations, "
                         f"{configs} wanted")
    curves["trials"] = curves["trials"][:configs]
    return curves


def simulate(curves, workers, pruner_name, seed, problem):
    """One run; what the Rust `simulate` returns, for Optuna's pruner."""
    import optuna
    from optuna.trial import TrialState

    steps_per_trial = curves["steps"]
    configs = curves["trials"]
    values = [c["values"] for c in configs]
    times = [c["step_times"] for c in configs]
    study = optuna.create_study(
        direction="minimize", study_name=f"stopping-{problem}-{seed}",
        sampler=optuna.samplers.RandomSampler(seed=seed),
        pruner=make_pruner(pruner_name, steps_per_trial))
    trials = []  # [config, Optuna trial, steps done]
    running = [None] * workers  # [trial index, time of its next report]
    nxt = 0
    steps = 0
    stopped = 0
    makespan = 0.0

    def start(w, t):
        nonlocal nxt
        if nxt >= len(configs):
            return
        c = nxt
        nxt += 1
        trials.append([c, study.ask(), 0])
        running[w] = [len(trials) - 1, t + times[c][0]]

    for w in range(workers):
        start(w, 0.0)
    while True:
        busy = [w for w in range(workers) if running[w] is not None]
        if not busy:
            break
        w = min(busy, key=lambda w: (running[w][1], w))
        i, t = running[w]
        c, trial, k = trials[i]
        k += 1
        trials[i][2] = k
        value = values[c][k - 1]
        trial.report(value, k)
        steps += 1
        if k == steps_per_trial:
            study.tell(trial, value)
            finished = True
        elif trial.should_prune():
            study.tell(trial, state=TrialState.PRUNED)
            stopped += 1
            finished = True
        else:
            running[w][1] = t + times[c][k]
            finished = False
        if finished:
            running[w] = None
            makespan = t
            start(w, t)
    full = [c for c, _, k in trials if k == steps_per_trial]
    best = min(((configs[c]["final"], c) for c in full), default=None)
    return {"steps": steps, "makespan": makespan, "trials": len(trials),
            "configs_tried": len({c for c, _, k in trials if k > 0}),
            "full_runs": len(full), "stopped": stopped, "best": best}


def run_one(args, problem, pruner, seed):
    curves = load(args.curves_dir, problem, seed, args.configs)
    start = time.process_time()
    out = simulate(curves, args.workers, pruner, seed, problem)
    cpu = time.process_time() - start
    possible = min(c["final"] for c in curves["trials"])
    best, best_config = out["best"] if out["best"] else (None, None)
    return {
        "kind": "run", "side": "optuna", "strategy": pruner,
        "settings": pruner_text(pruner, curves["steps"]), "problem": problem,
        "seed": seed, "configs": len(curves["trials"]), "steps_per_trial": curves["steps"],
        "workers": args.workers, "steps": out["steps"], "makespan": out["makespan"],
        "time_unit": curves["time_unit"], "cpu_s": cpu, "best_final": best,
        "best_config": best_config, "best_possible": possible,
        "regret": None if best is None else best - possible,
        "found_best": best == possible, "trials": out["trials"],
        "configs_tried": out["configs_tried"], "full_runs": out["full_runs"],
        "stopped": out["stopped"], "stalled": False, "dropped": None,
    }


def key(r):
    return (r["side"], r["strategy"], r["problem"], r["seed"], r["configs"], r["workers"])


def finished(path):
    done = set()
    if not os.path.exists(path):
        return done
    with open(path) as fh:
        for line in fh:
            try:
                r = json.loads(line)
            except ValueError:
                continue  # a line cut short by an interrupted run: redone
            if r.get("kind") == "run":
                done.add(key(r))
    return done


def versions():
    v = {"python": sys.version.split()[0]}
    for name in ["optuna", "numpy", "scikit-learn", "scipy"]:
        try:
            v[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            v[name] = None
    return v


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--curves-dir")
    ap.add_argument("--out")
    ap.add_argument("--problems", default="synthetic,sgd")
    ap.add_argument("--pruners", default=",".join(DEFAULT_PRUNERS))
    ap.add_argument("--seeds", type=int, default=20)
    ap.add_argument("--configs", type=int, default=64)
    ap.add_argument("--workers", type=int, default=4)
    ap.add_argument("--resume", action="store_true")
    ap.add_argument("--versions", action="store_true", help="print the versions as JSON")
    args = ap.parse_args()
    if args.versions:
        print(json.dumps(versions()))
        return
    if not args.curves_dir or not args.out:
        ap.error("--curves-dir and --out are required")
    pruners = [p for p in args.pruners.split(",") if p]
    for p in pruners:
        if split_pruner(p)[0] not in PRUNERS:
            ap.error(f"unknown pruner {p!r} (known: {', '.join(PRUNERS)})")
    warnings.simplefilter("ignore")
    import optuna

    optuna.logging.set_verbosity(optuna.logging.ERROR)
    done = finished(args.out) if args.resume else set()
    mode = "a" if args.resume else "w"
    with open(args.out, mode) as fh:
        if args.resume and fh.tell() > 0:
            with open(args.out, "rb") as r:
                r.seek(-1, os.SEEK_END)
                if r.read(1) != b"\n":
                    fh.write("\n")
        for problem in [p for p in args.problems.split(",") if p]:
            for pruner in pruners:
                ran, cpu = 0, 0.0
                for seed in range(args.seeds):
                    k = ("optuna", pruner, problem, seed, args.configs, args.workers)
                    if k in done:
                        continue
                    try:
                        r = run_one(args, problem, pruner, seed)
                        cpu += r["cpu_s"]
                    except Exception as e:  # recorded, and listed by render.py
                        print(f"peers: {problem} / {pruner} / seed {seed}: {e!r}",
                              file=sys.stderr)
                        r = {"kind": "error", "side": "optuna", "strategy": pruner,
                             "problem": problem, "seed": seed, "message": repr(e)}
                    fh.write(json.dumps(r) + "\n")
                    fh.flush()
                    ran += 1
                print(f"peers: {problem} / {pruner}: {ran} runs, {cpu:.2f} CPU s",
                      file=sys.stderr)


if __name__ == "__main__":
    main()
