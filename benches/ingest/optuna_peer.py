"""The peer of the ingestion benchmark: Optuna's intermediate values into SQLite.

Usage: optuna_peer.py POINTS REPS WORKDIR

For each repetition: a fresh study in RDBStorage("sqlite:///WORKDIR/optuna-ingest-R.db"),
one trial (study.ask()), then trial.report(value, step) POINTS times (each one is written
and committed by Optuna), timed from the first report to the last, then study.tell.
Checks that the trial holds POINTS intermediate values, and prints JSON:
{"optuna": VERSION, "points": POINTS, "rates": [points/s of each repetition]}.
"""
import json
import os
import sys
import time

import optuna

points, reps, work = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
optuna.logging.set_verbosity(optuna.logging.WARNING)
rates = []
for rep in range(1, reps + 1):
    db = os.path.join(work, f"optuna-ingest-{rep}.db")
    if os.path.exists(db):
        os.remove(db)
    storage = optuna.storages.RDBStorage(f"sqlite:///{db}")
    study = optuna.create_study(storage=storage, direction="minimize")
    trial = study.ask()
    trial.suggest_float("x", 0, 1)
    start = time.perf_counter()
    for i in range(points):
        trial.report(1.0 / (i + 1), i)
    elapsed = time.perf_counter() - start
    study.tell(trial, 1.0 / points)
    stored = study.trials[0].intermediate_values
    if len(stored) != points:
        sys.exit(f"optuna_peer.py: {len(stored)} intermediate values stored, not {points}")
    rates.append(points / elapsed)
    print(f"optuna_peer.py: rep {rep}: {points / elapsed:.0f} points/s", file=sys.stderr)
    os.remove(db)
print(json.dumps({"optuna": optuna.__version__, "points": points, "rates": rates}))
