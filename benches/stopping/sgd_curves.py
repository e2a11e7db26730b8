"""Real learning curves for the early-stopping benchmark: scikit-learn's SGDClassifier
trained epoch by epoch on the bundled digits data.

    sgd_curves.py --out-dir DIR [--seeds 20] [--configs 64] [--epochs 100] [--jobs 1]

For every seed s in 0..seeds-1 it draws `configs` configurations (configuration i from
numpy's default_rng([s, i]), so the first k of a longer list are those of a shorter one),
trains each with `partial_fit`, one call per epoch, and records after every epoch the
validation log-loss and the seconds that epoch took (the partial_fit call and the
validation loss). Each seed's curves go to DIR/curves/sgd-<seed>.json, in the format the
Rust binary writes for the synthetic problem; a file that already holds at least
`configs` configurations of `epochs` epochs is reused (one with fewer is extended), so a
rerun trains nothing. Both sides of the benchmark replay these curves.

The data: sklearn.datasets.load_digits (1,797 8x8 images, 10 classes), split once into
75 % training and 25 % validation (train_test_split(test_size=0.25, stratify=y,
random_state=0)), standardised with a StandardScaler fitted on the training part. The
model: SGDClassifier(loss="log_loss") (one-vs-rest logistic regression) with

    alpha          log-uniform in [1e-6, 1e-1]
    eta0           log-uniform in [1e-4, 1]     (ignored by learning_rate="optimal")
    learning_rate  constant, optimal, invscaling or adaptive
    penalty        l2, l1 or elasticnet
    l1_ratio       uniform in [0, 1]            (used by elasticnet only)
    average        false or true                (averaged SGD)

and random_state = 1000 * seed + i (the shuffling of each epoch). The value after each
epoch is the validation log-loss, -mean(log p(true class)), with probabilities clipped
below at the float64 machine epsilon as sklearn.metrics.log_loss does; a model whose
probabilities are not finite (a diverged run) scores -log(eps) = 36.04, the loss of giving
the true class no probability. Values and times are rounded to 10 significant digits (the
curve files' convention, which both sides parse to the same doubles).
"""

import argparse
import json
import math
import os
import sys
import time
import warnings

FORMAT = 1
LEARNING_RATES = ["constant", "optimal", "invscaling", "adaptive"]
PENALTIES = ["l2", "l1", "elasticnet"]
AVERAGE = ["false", "true"]
# The search space of the configurations, for the search algorithms that propose
# configurations (hyperband, bohb): same names and ranges as the draws below.
PARAMETERS = [
    {"name": "alpha", "type": "double", "low": 1e-6, "high": 1e-1, "log": True},
    {"name": "eta0", "type": "double", "low": 1e-4, "high": 1.0, "log": True},
    {"name": "learning_rate", "type": "categorical", "values": LEARNING_RATES},
    {"name": "penalty", "type": "categorical", "values": PENALTIES},
    {"name": "l1_ratio", "type": "double", "low": 0.0, "high": 1.0, "log": False},
    {"name": "average", "type": "categorical", "values": AVERAGE},
]


def r10(x):
    """x rounded to 10 significant digits: the curve files' numbers."""
    return float(f"{x:.9e}")


def draw(seed, i):
    import numpy as np

    rng = np.random.default_rng([seed, i])
    return {
        "alpha": r10(10 ** rng.uniform(-6, -1)),
        "eta0": r10(10 ** rng.uniform(-4, 0)),
        "learning_rate": LEARNING_RATES[int(rng.integers(len(LEARNING_RATES)))],
        "penalty": PENALTIES[int(rng.integers(len(PENALTIES)))],
        "l1_ratio": r10(rng.uniform(0, 1)),
        "average": AVERAGE[int(rng.integers(len(AVERAGE)))],
    }


def data():
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split
    from sklearn.preprocessing import StandardScaler

    X, y = load_digits(return_X_y=True)
    Xtr, Xva, ytr, yva = train_test_split(X, y, test_size=0.25, random_state=0, stratify=y)
    scaler = StandardScaler().fit(Xtr)
    return scaler.transform(Xtr), scaler.transform(Xva), ytr, yva


def train(params, seed, i, epochs, split):
    """One configuration's curve: (validation log-loss, seconds) after each epoch."""
    import numpy as np
    from sklearn.linear_model import SGDClassifier

    Xtr, Xva, ytr, yva = split
    eps = np.finfo(np.float64).eps
    worst = -math.log(eps)
    classes = np.arange(10)
    rows = np.arange(len(yva))
    model = SGDClassifier(
        loss="log_loss", alpha=params["alpha"], eta0=params["eta0"],
        learning_rate=params["learning_rate"], penalty=params["penalty"],
        l1_ratio=params["l1_ratio"], average=params["average"] == "true",
        random_state=1000 * seed + i)
    values, times = [], []
    for _ in range(epochs):
        t0 = time.perf_counter()
        model.partial_fit(Xtr, ytr, classes=classes)
        p = model.predict_proba(Xva)
        if np.all(np.isfinite(p)):
            loss = float(-np.mean(np.log(np.clip(p[rows, yva], eps, 1.0))))
        else:
            loss = worst
        times.append(time.perf_counter() - t0)
        values.append(loss if math.isfinite(loss) else worst)
    return [r10(v) for v in values], [r10(t) for t in times]


def path_of(out_dir, seed):
    return os.path.join(out_dir, "curves", f"sgd-{seed}.json")


def load(path, epochs):
    """The curves already in `path`, if they are of this format and `epochs` long."""
    try:
        with open(path) as fh:
            old = json.load(fh)
    except (OSError, ValueError):
        return []
    if old.get("format") != FORMAT or old.get("steps") != epochs:
        return []
    return old["trials"]


def one_seed(out_dir, seed, configs, epochs):
    warnings.simplefilter("ignore")
    path = path_of(out_dir, seed)
    trials = load(path, epochs)
    if len(trials) >= configs:
        return seed, 0, 0.0
    split = data()
    start = time.perf_counter()
    made = 0
    for i in range(len(trials), configs):
        params = draw(seed, i)
        values, times = train(params, seed, i, epochs, split)
        trials.append({"params": params, "values": values, "step_times": times,
                       "final": values[-1]})
        made += 1
    doc = {
        "format": FORMAT, "problem": "sgd", "seed": seed, "steps": epochs,
        "time_unit": "s", "minimize": True, "parameters": PARAMETERS, "trials": trials,
        "source": "scikit-learn SGDClassifier(loss='log_loss'), partial_fit per epoch on "
                  "load_digits (75/25 split, StandardScaler); value: validation log-loss",
    }
    os.makedirs(os.path.dirname(path), exist_ok=True)
    tmp = path + ".tmp"
    with open(tmp, "w") as fh:
        json.dump(doc, fh, separators=(",", ":"))
    os.replace(tmp, path)
    return seed, made, time.perf_counter() - start


def limit_threads():
    for v in ["OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"]:
        os.environ[v] = "1"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out-dir", required=True)
    ap.add_argument("--seeds", type=int, default=20)
    ap.add_argument("--configs", type=int, default=64)
    ap.add_argument("--epochs", type=int, default=100)
    ap.add_argument("--jobs", type=int, default=1, help="seeds trained in parallel")
    args = ap.parse_args()
    limit_threads()
    todo = [s for s in range(args.seeds)
            if len(load(path_of(args.out_dir, s), args.epochs)) < args.configs]
    if not todo:
        print(f"sgd_curves: all {args.seeds} seeds cached in {args.out_dir}/curves",
              file=sys.stderr)
        return
    print(f"sgd_curves: training {args.configs} configurations x {args.epochs} epochs for "
          f"seeds {todo}", file=sys.stderr)
    jobs = [(args.out_dir, s, args.configs, args.epochs) for s in todo]
    if args.jobs > 1:
        from concurrent.futures import ProcessPoolExecutor

        with ProcessPoolExecutor(args.jobs) as pool:
            for seed, made, took in pool.map(one_seed, *zip(*jobs)):
                print(f"sgd_curves: seed {seed}: {made} configurations in {took:.1f} s",
                      file=sys.stderr)
    else:
        for job in jobs:
            seed, made, took = one_seed(*job)
            print(f"sgd_curves: seed {seed}: {made} configurations in {took:.1f} s",
                  file=sys.stderr)


if __name__ == "__main__":
    main()
