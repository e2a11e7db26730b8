"""The peers of the comparison: Optuna, hyperopt and scikit-optimize on the same functions.

The same loops as the Rust `compare` binary, in the same JSON line format: for every
(function, peer, seed) a sequential run of --trials trials, with the best value after 25,
50, 100 and 200 of them; then, for every peer, the wall time of one suggestion with 100,
500 and 1000 trials of history. run.sh runs it in the venv it makes (benches/compare/.venv).

Peers, all at their libraries' default settings:
  optuna-tpe     optuna.samplers.TPESampler(seed=s)       (in Optuna 5: multivariate TPE)
  optuna-tpe-independent  TPESampler(seed=s, multivariate=False)  (each parameter on its
                                                           own, as ferrotune's `tpe`)
  optuna-cmaes   optuna.samplers.CmaEsSampler(seed=s)     (categoricals: its independent
                                                           sampler, as Optuna does)
  optuna-random  optuna.samplers.RandomSampler(seed=s)
  hyperopt-tpe   hyperopt.fmin(algo=tpe.suggest, trials=Trials(), rstate=default_rng(s))
  skopt-gp       skopt.gp_minimize(random_state=s)

Multi-objective part (--multi-objective): the same sequential runs on ZDT1 and ZDT2
(functions.MULTI_OBJECTIVE), both objectives minimised through
optuna.create_study(directions=["minimize", "minimize"], sampler=...), recording every
trial's objective vector (render.py computes the hypervolumes). Peers, at Optuna's defaults:
  optuna-nsga2   optuna.samplers.NSGAIISampler(seed=s)    (population 50, uniform crossover
                                                           with probability 0.9, each
                                                           parameter resampled with
                                                           probability 1/30)
  optuna-tpe     optuna.samplers.TPESampler(seed=s)       (for several objectives Optuna 5's
                                                           default is the independent TPE)
  optuna-random  optuna.samplers.RandomSampler(seed=s)
and, only when asked for with --algorithms, optuna-tpe-multivariate:
TPESampler(seed=s, multivariate=True).

Speed: how each library spends its time on a suggestion differs, so each is timed at the
call that produces one:
  Optuna    study.ask() and the trial's suggest_* calls, after study.add_trials() of
            synthetic trials at random points (CmaEs: after a run of its own, since its
            state lives in the trials it made)
  hyperopt  one fmin() step (max_evals = history + 1) on a Trials filled by random search
  skopt     Optimizer.tell() of the newest point(s) and ask(): the GP fit and acquisition
            optimisation that make the next point (the Optimizer built as gp_minimize does)
Each case runs in a child process that is stopped at --speed-time-limit seconds; what
finished by then is reported with `timed_out`, never dropped.

numpy, Optuna and the rest are imported lazily so that worker processes (--jobs) can limit
BLAS threads before numpy loads.
"""

import argparse
import importlib.metadata
import json
import multiprocessing
import os
import random
import sys
import time
import warnings
from concurrent.futures import ProcessPoolExecutor, as_completed

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import functions  # noqa: E402

CHECKPOINTS = [25, 50, 100, 200]
SYNTHETIC_SEED = 20261123
LABELS = {
    "optuna-tpe": ("optuna", "Optuna TPE (default)"),
    "optuna-tpe-independent": ("optuna", "Optuna TPE (multivariate=False)"),
    "optuna-cmaes": ("optuna", "Optuna CmaEs"),
    "optuna-random": ("optuna", "Optuna random"),
    "hyperopt-tpe": ("hyperopt", "hyperopt TPE"),
    "skopt-gp": ("skopt", "skopt gp_minimize"),
}
MO_LABELS = {
    "optuna-nsga2": ("optuna", "Optuna NSGA-II"),
    "optuna-tpe": ("optuna", "Optuna TPE (default)"),
    "optuna-random": ("optuna", "Optuna random"),
    "optuna-tpe-multivariate": ("optuna", "Optuna TPE (multivariate=True)"),
}
MO_DEFAULT = ["optuna-nsga2", "optuna-tpe", "optuna-random"]
THREAD_VARS = ["OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"]


def quiet():
    warnings.simplefilter("ignore")
    import logging

    logging.getLogger("hyperopt").setLevel(logging.ERROR)
    try:
        import optuna

        optuna.logging.set_verbosity(optuna.logging.ERROR)
    except ImportError:
        pass


def checkpoints(trials):
    c = [k for k in CHECKPOINTS if k <= trials]
    if not c or c[-1] != trials:
        c.append(trials)
    return c


def spec_of(name):
    return functions.FUNCTIONS[name]


# ---------------------------------------------------------------- Optuna

def optuna_sampler(peer, seed):
    import optuna

    if peer == "optuna-tpe":
        return optuna.samplers.TPESampler(seed=seed)
    if peer == "optuna-cmaes":
        return optuna.samplers.CmaEsSampler(seed=seed)
    if peer == "optuna-random":
        return optuna.samplers.RandomSampler(seed=seed)
    if peer == "optuna-nsga2":
        return optuna.samplers.NSGAIISampler(seed=seed)
    if peer == "optuna-tpe-multivariate":
        return optuna.samplers.TPESampler(seed=seed, multivariate=True)
    if peer == "optuna-tpe-independent":
        return optuna.samplers.TPESampler(seed=seed, multivariate=False)
    raise ValueError(peer)


def optuna_point(trial, bounds):
    x = []
    for i, b in enumerate(bounds):
        name = f"x{i}"
        if b[0] == "real":
            x.append(trial.suggest_float(name, b[1], b[2]))
        elif b[0] == "int":
            x.append(float(trial.suggest_int(name, b[1], b[2])))
        else:
            x.append(float(trial.suggest_categorical(name, b[1])))
    return x


def optuna_distributions(bounds):
    from optuna.distributions import (
        CategoricalDistribution,
        FloatDistribution,
        IntDistribution,
    )

    d = {}
    for i, b in enumerate(bounds):
        if b[0] == "real":
            d[f"x{i}"] = FloatDistribution(b[1], b[2])
        elif b[0] == "int":
            d[f"x{i}"] = IntDistribution(b[1], b[2])
        else:
            d[f"x{i}"] = CategoricalDistribution(b[1])
    return d


def optuna_quality(peer, spec, seed, trials):
    import optuna

    study = optuna.create_study(direction="minimize", sampler=optuna_sampler(peer, seed))
    f, bounds = spec["f"], spec["bounds"]
    study.optimize(lambda t: f(optuna_point(t, bounds)), n_trials=trials)
    return [t.value for t in sorted(study.trials, key=lambda t: t.number)]


def optuna_multi_objective(peer, spec, seed, trials):
    """Every trial's objective vector, in trial order."""
    import optuna

    study = optuna.create_study(directions=["minimize"] * spec["objectives"],
                                sampler=optuna_sampler(peer, seed))
    f, bounds = spec["f"], spec["bounds"]
    study.optimize(lambda t: f(optuna_point(t, bounds)), n_trials=trials)
    return [list(t.values) for t in sorted(study.trials, key=lambda t: t.number)]


def optuna_speed(peer, spec, size, calls, report):
    import optuna

    f, bounds = spec["f"], spec["bounds"]
    study = optuna.create_study(direction="minimize", sampler=optuna_sampler(peer, 0))
    if peer == "optuna-cmaes":
        source = "own run"
        study.optimize(lambda t: f(optuna_point(t, bounds)), n_trials=size)
    else:
        source = "random points"
        dists = optuna_distributions(bounds)
        made = []
        for x in random_points(bounds, size):
            params = {f"x{i}": (int(v) if b[0] == "int" else v)
                      for i, (v, b) in enumerate(zip(x, bounds))}
            made.append(optuna.trial.create_trial(params=params, distributions=dists, value=f(x)))
        study.add_trials(made)
    report(("ready", source))
    for _ in range(calls):
        t0 = time.perf_counter()
        trial = study.ask()
        x = optuna_point(trial, bounds)
        dt = time.perf_counter() - t0
        report(("call", dt * 1e3))
        study.tell(trial, f(x))


# ---------------------------------------------------------------- hyperopt

def hyperopt_space(bounds):
    from hyperopt import hp

    space = []
    for i, b in enumerate(bounds):
        if b[0] == "real":
            space.append(hp.uniform(f"x{i}", b[1], b[2]))
        elif b[0] == "int":
            space.append(hp.uniformint(f"x{i}", b[1], b[2]))
        else:
            space.append(hp.choice(f"x{i}", b[1]))
    return space


def hyperopt_objective(f):
    return lambda x: f([float(v) for v in x])


def hyperopt_quality(spec, seed, trials):
    import numpy as np
    from hyperopt import Trials, fmin, tpe

    t = Trials()
    fmin(
        hyperopt_objective(spec["f"]),
        hyperopt_space(spec["bounds"]),
        algo=tpe.suggest,
        max_evals=trials,
        trials=t,
        rstate=np.random.default_rng(seed),
        show_progressbar=False,
        return_argmin=False,
    )
    return [tr["result"]["loss"] for tr in sorted(t.trials, key=lambda tr: tr["tid"])]


def hyperopt_speed(spec, size, calls, report):
    import numpy as np
    from hyperopt import Trials, fmin, rand, tpe

    fn, space = hyperopt_objective(spec["f"]), hyperopt_space(spec["bounds"])
    t = Trials()
    common = dict(trials=t, show_progressbar=False, return_argmin=False)
    fmin(fn, space, algo=rand.suggest, max_evals=size,
         rstate=np.random.default_rng(SYNTHETIC_SEED), **common)
    report(("ready", "random points"))
    for k in range(calls):
        t0 = time.perf_counter()
        fmin(fn, space, algo=tpe.suggest, max_evals=len(t.trials) + 1,
             rstate=np.random.default_rng(k), **common)
        report(("call", (time.perf_counter() - t0) * 1e3))


# ---------------------------------------------------------------- scikit-optimize

def skopt_dimensions(bounds):
    from skopt.space import Categorical, Integer, Real

    dims = []
    for b in bounds:
        if b[0] == "real":
            dims.append(Real(b[1], b[2]))
        elif b[0] == "int":
            dims.append(Integer(b[1], b[2]))
        else:
            dims.append(Categorical(b[1]))
    return dims


def skopt_objective(f):
    return lambda x: f([float(v) for v in x])


def skopt_quality(spec, seed, trials):
    from skopt import gp_minimize

    res = gp_minimize(
        skopt_objective(spec["f"]), skopt_dimensions(spec["bounds"]), n_calls=trials,
        random_state=seed,
    )
    return [float(v) for v in res.func_vals]


def gp_minimize_optimizer(dims, seed):
    """The Optimizer that gp_minimize(dims, random_state=seed) builds and drives."""
    import numpy as np
    from skopt import Optimizer
    from sklearn.utils import check_random_state
    from skopt.utils import cook_estimator, normalize_dimensions

    rng = check_random_state(seed)
    space = normalize_dimensions(dims)
    estimator = cook_estimator(
        "GP", space=space, random_state=rng.randint(0, np.iinfo(np.int32).max), noise="gaussian"
    )
    return Optimizer(
        space, estimator, n_initial_points=10, initial_point_generator="random", n_jobs=1,
        acq_func="gp_hedge", acq_optimizer="auto", random_state=rng,
        acq_optimizer_kwargs={"n_points": 10000, "n_restarts_optimizer": 5, "n_jobs": 1},
        acq_func_kwargs={"xi": 0.01, "kappa": 1.96},
    )


def skopt_speed(spec, size, calls, report):
    f, bounds = spec["f"], spec["bounds"]
    opt = gp_minimize_optimizer(skopt_dimensions(bounds), 0)
    points = random_points(bounds, size)
    xs = [[int(v) if b[0] == "int" else v for v, b in zip(x, bounds)] for x in points]
    ys = [f(x) for x in points]
    report(("ready", "random points"))
    pending_x, pending_y = xs, ys
    for _ in range(calls):
        t0 = time.perf_counter()
        opt.tell(pending_x, pending_y)  # fits the GP and finds the next point
        x = opt.ask()
        report(("call", (time.perf_counter() - t0) * 1e3))
        pending_x, pending_y = x, f([float(v) for v in x])


# ---------------------------------------------------------------- driving

def random_points(bounds, n):
    """n points drawn uniformly from the domain, the same ones on every call."""
    rng = random.Random(SYNTHETIC_SEED)
    pts = []
    for _ in range(n):
        x = []
        for b in bounds:
            if b[0] == "real":
                x.append(rng.uniform(b[1], b[2]))
            elif b[0] == "int":
                x.append(float(rng.randint(b[1], b[2])))
            else:
                x.append(float(rng.choice(b[1])))
        pts.append(x)
    return pts


def quality_run(peer, name, seed, trials):
    quiet()
    spec = spec_of(name)
    start = time.perf_counter()
    if peer.startswith("optuna-"):
        values = optuna_quality(peer, spec, seed, trials)
    elif peer == "hyperopt-tpe":
        values = hyperopt_quality(spec, seed, trials)
    elif peer == "skopt-gp":
        values = skopt_quality(spec, seed, trials)
    else:
        raise ValueError(peer)
    wall = time.perf_counter() - start
    if len(values) != trials:
        raise RuntimeError(f"{peer} ran {len(values)} trials, not {trials}")
    marks = checkpoints(trials)
    best = [min(values[:k]) for k in marks]
    side, label = LABELS[peer]
    return dict(kind="quality", side=side, algorithm=peer, label=label, function=name,
                seed=seed, trials=trials, checkpoints=marks, best=best, wall_s=wall)


def multi_objective_run(peer, name, seed, trials):
    quiet()
    spec = functions.MULTI_OBJECTIVE[name]
    start = time.perf_counter()
    values = optuna_multi_objective(peer, spec, seed, trials)
    wall = time.perf_counter() - start
    if len(values) != trials:
        raise RuntimeError(f"{peer} ran {len(values)} trials, not {trials}")
    side, label = MO_LABELS[peer]
    return dict(kind="multi-objective", side=side, algorithm=peer, label=label, function=name,
                seed=seed, trials=trials, values=values, wall_s=wall)


def speed_child(peer, name, size, calls, queue):
    quiet()
    spec = spec_of(name)
    try:
        if peer.startswith("optuna-"):
            optuna_speed(peer, spec, size, calls, queue.put)
        elif peer == "hyperopt-tpe":
            hyperopt_speed(spec, size, calls, queue.put)
        elif peer == "skopt-gp":
            skopt_speed(spec, size, calls, queue.put)
        else:
            raise ValueError(peer)
        queue.put(("done",))
    except Exception as e:  # reported as an error record by the parent
        queue.put(("error", f"{type(e).__name__}: {e}"))


def speed_run(peer, name, size, calls, limit, setup_limit):
    """Runs one speed case in a child process; stops it `limit` seconds after its history
    is ready (and `setup_limit` seconds if the history itself takes that long)."""
    import queue as queues

    side, label = LABELS[peer]
    rec = dict(kind="speed", side=side, algorithm=peer, label=label, function=name,
               history=size, calls_requested=calls, times_ms=[], time_limit_s=limit,
               timed_out=False, history_source=None)
    ctx = multiprocessing.get_context("spawn")
    q = ctx.Queue()
    child = ctx.Process(target=speed_child, args=(peer, name, size, calls, q), daemon=True)
    child.start()
    deadline = time.monotonic() + setup_limit
    error = None
    try:
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                rec["timed_out"] = True
                if rec["history_source"] is None:
                    error = f"history of {size} trials not ready within {setup_limit:.0f} s"
                break
            try:
                msg = q.get(timeout=min(remaining, 5.0))
            except queues.Empty:
                if not child.is_alive() and q.empty():
                    error = f"child process died (exit code {child.exitcode})"
                    break
                continue
            if msg[0] == "ready":
                rec["history_source"] = msg[1]
                deadline = time.monotonic() + limit
            elif msg[0] == "call":
                rec["times_ms"].append(msg[1])
            elif msg[0] == "done":
                break
            elif msg[0] == "error":
                error = msg[1]
                break
    finally:
        if child.is_alive():
            child.terminate()
        child.join(10)
        if child.is_alive():
            child.kill()
            child.join()
    if error is not None:
        return error_record(peer, name, "speed", None, error)
    return rec


def error_record(peer, name, phase, seed, message):
    side, label = (MO_LABELS if phase == "multi-objective" else LABELS)[peer]
    print(f"peers: {name} / {peer} ({phase}): {message}", file=sys.stderr)
    return dict(kind="error", side=side, algorithm=peer, label=label, function=name,
                phase=phase, seed=seed, message=message)


def quality_task(peer, name, seed, trials):
    try:
        return quality_run(peer, name, seed, trials)
    except Exception as e:
        return error_record(peer, name, "quality", seed, f"{type(e).__name__}: {e}")


def multi_objective_task(peer, name, seed, trials):
    try:
        return multi_objective_run(peer, name, seed, trials)
    except Exception as e:
        return error_record(peer, name, "multi-objective", seed, f"{type(e).__name__}: {e}")


def single_thread():
    for v in THREAD_VARS:
        os.environ[v] = "1"


class Output:
    def __init__(self, path, resume):
        self.done = set()
        if path is None:
            self.file = sys.stdout
            return
        if resume and os.path.exists(path):
            with open(path) as fh:
                text = fh.read()
            for line in text.splitlines():
                try:
                    r = json.loads(line)
                except ValueError:
                    continue  # a line cut short by an interrupted run: redone
                if r.get("kind") == "quality":
                    self.done.add(("quality", r["algorithm"], r["function"], r["seed"], r["trials"]))
                elif r.get("kind") == "speed":
                    self.done.add(("speed", r["algorithm"], r["function"], r["history"]))
                elif r.get("kind") == "multi-objective":
                    self.done.add(("multi-objective", r["algorithm"], r["function"], r["seed"],
                                   r["trials"]))
            self.file = open(path, "a")
            if text and not text.endswith("\n"):
                self.file.write("\n")
        else:
            self.file = open(path, "w")

    def write(self, rec):
        self.file.write(json.dumps(rec) + "\n")
        self.file.flush()


def versions():
    out = {"python": ".".join(map(str, sys.version_info[:3]))}
    for dist in ["optuna", "cmaes", "hyperopt", "scikit-optimize", "numpy", "scipy",
                 "scikit-learn"]:
        try:
            out[dist] = importlib.metadata.version(dist)
        except importlib.metadata.PackageNotFoundError:
            out[dist] = None
    return out


def csv(s):
    return [x for x in s.split(",") if x]


def peer_trials(s):
    """`skopt-gp=50,...` as {"skopt-gp": 50}."""
    out = {}
    for item in csv(s):
        peer, _, n = item.partition("=")
        if not n.isdigit() or int(n) < 1:
            raise argparse.ArgumentTypeError(f"{item!r}: expected PEER=N with N ≥ 1")
        out[peer] = int(n)
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seeds", type=int, default=20, help="seeds 0, 1, ..., N-1")
    ap.add_argument("--trials", type=int, default=200)
    ap.add_argument("--peer-trials", type=peer_trials, default={},
                    help="PEER=N,...: these peers' quality runs have N trials instead of "
                         "--trials (for peers too slow for the whole grid)")
    ap.add_argument("--functions", type=csv,
                    help=f"default: {','.join(functions.FUNCTIONS)}; with --multi-objective: "
                         f"{','.join(functions.MULTI_OBJECTIVE)}")
    ap.add_argument("--algorithms", type=csv,
                    help=f"peers, comma-separated (default: {','.join(LABELS)}; with "
                         f"--multi-objective: {','.join(MO_DEFAULT)}, or any of "
                         f"{','.join(MO_LABELS)})")
    ap.add_argument("--multi-objective", action="store_true",
                    help="the multi-objective part instead (no speed part)")
    ap.add_argument("--out", help="write the JSON lines here instead of stdout")
    ap.add_argument("--resume", action="store_true",
                    help="keep the results already in --out and run only the missing ones")
    ap.add_argument("--jobs", type=int, default=1,
                    help="quality runs in parallel (each with one BLAS thread); speed runs "
                         "are always one at a time")
    ap.add_argument("--speed-sizes", type=lambda s: [int(x) for x in csv(s)],
                    default=[100, 200, 500, 1000])
    ap.add_argument("--speed-calls", type=int, default=5)
    ap.add_argument("--speed-functions", type=csv, default=["hartmann6"])
    ap.add_argument("--speed-time-limit", type=float, default=120.0)
    ap.add_argument("--speed-setup-limit", type=float, default=1800.0,
                    help="seconds allowed for building a speed case's history")
    ap.add_argument("--skip-quality", action="store_true")
    ap.add_argument("--skip-speed", action="store_true")
    ap.add_argument("--versions", action="store_true", help="print the versions and exit")
    args = ap.parse_args()

    if args.versions:
        print(json.dumps(versions()))
        return
    if args.multi_objective:
        known_functions, labels, phase, task = (
            functions.MULTI_OBJECTIVE, MO_LABELS, "multi-objective", multi_objective_task)
        args.functions = args.functions or list(functions.MULTI_OBJECTIVE)
        args.algorithms = args.algorithms or list(MO_DEFAULT)
        args.skip_speed = True
    else:
        known_functions, labels, phase, task = (
            functions.FUNCTIONS, LABELS, "quality", quality_task)
        args.functions = args.functions or list(functions.FUNCTIONS)
        args.algorithms = args.algorithms or list(LABELS)
        for name in args.speed_functions:
            if name not in functions.FUNCTIONS:
                ap.error(f"unknown function {name!r} (known: {', '.join(functions.FUNCTIONS)})")
    for name in args.functions:
        if name not in known_functions:
            ap.error(f"unknown function {name!r} (known: {', '.join(known_functions)})")
    for peer in list(args.algorithms) + list(args.peer_trials):
        if peer not in labels:
            ap.error(f"unknown peer {peer!r} (known: {', '.join(labels)})")
    if args.resume and not args.out:
        ap.error("--resume needs --out")
    functions.self_test()
    out = Output(args.out, args.resume)

    if not args.skip_quality:
        tasks = [(p, n, s, args.peer_trials.get(p, args.trials)) for n in args.functions
                 for p in args.algorithms for s in range(args.seeds)
                 if (phase, p, n, s, args.peer_trials.get(p, args.trials)) not in out.done]
        start = time.perf_counter()
        if args.jobs <= 1:
            for i, t in enumerate(tasks):
                rec = task(*t)
                out.write(rec)
                progress(i + 1, len(tasks), rec, start)
        else:
            ctx = multiprocessing.get_context("spawn")
            with ProcessPoolExecutor(args.jobs, mp_context=ctx, initializer=single_thread) as ex:
                futures = [ex.submit(task, *t) for t in tasks]
                for i, fut in enumerate(as_completed(futures)):
                    rec = fut.result()
                    out.write(rec)
                    progress(i + 1, len(tasks), rec, start)

    if not args.skip_speed:
        for name in args.speed_functions:
            for peer in args.algorithms:
                for size in args.speed_sizes:
                    if ("speed", peer, name, size) in out.done:
                        continue
                    rec = speed_run(peer, name, size, args.speed_calls, args.speed_time_limit,
                                    args.speed_setup_limit)
                    out.write(rec)
                    if rec["kind"] == "speed":
                        t = rec["times_ms"]
                        med = f"{sorted(t)[len(t) // 2]:.2f} ms" if t else "no call"
                        extra = " (timed out)" if rec["timed_out"] else ""
                        print(f"peers: speed {name} / {peer} / {size}: {med}, "
                              f"{len(t)} calls{extra}", file=sys.stderr)


def progress(i, n, rec, start):
    if rec["kind"] == "quality":
        what = f"best {rec['best'][-1]:.6g} in {rec['wall_s']:.1f} s"
    elif rec["kind"] == "multi-objective":
        what = f"{len(rec['values'])} trials in {rec['wall_s']:.1f} s"
    else:
        what = "error"
    print(f"peers: [{i}/{n}, {time.perf_counter() - start:.0f} s] {rec['function']} / "
          f"{rec['algorithm']} / seed {rec['seed']}: {what}", file=sys.stderr)


if __name__ == "__main__":
    main()
