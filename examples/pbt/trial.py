"""One training segment of a population-based training (PBT) member: a stand-in for a
model whose weights live in a checkpoint.

The "model" is a weight vector trained by SGD with momentum on a noisy quadratic, whose
curvatures span two orders of magnitude. A large learning rate makes fast progress at first
but then stalls at a high noise floor; a small one is precise but slow. So the best schedule
starts large and decays, which PBT finds by copying the best members' weights and
perturbing their learning rate (×0.8 or ×1.2) between segments.

It uses the ferrotune SDK (pip install ./sdk/python):
- it restores weights, momentum and step from state.json in
  ferrotune.parent_checkpoint_dir() when ferrotune gives one (the trial continues a
  parent's training), else starts afresh;
- it trains STEPS steps (env, default 4), reporting `accuracy` per step with
  ferrotune.report() (collector Push), its step counting on from the parent's last one,
  and printing `step=N accuracy=X` lines for whoever reads its output; STEPS=0 trains
  until ferrotune.should_stop() says the segment is over (the `perturbation_interval`
  setting);
- after each step it saves its state to state.json in ferrotune.checkpoint_dir() (written
  to a temporary file and renamed, so a stopped trial never leaves half a checkpoint).
"""
import argparse
import json
import math
import os
import random
import time

import ferrotune

p = argparse.ArgumentParser()
p.add_argument("--lr", type=float, required=True)
p.add_argument("--momentum", type=float, required=True)
a = p.parse_args()

DIM = 10
CURVATURE = [10 ** (-1 + 2 * i / (DIM - 1)) for i in range(DIM)]  # 0.1 .. 10
NOISE = 1.0
ITERATIONS_PER_STEP = 25

checkpoint_dir = ferrotune.checkpoint_dir() or "checkpoint"
parent_dir = ferrotune.parent_checkpoint_dir()
trial = os.environ.get("FERROTUNE_TRIAL", "local")

if parent_dir:
    with open(os.path.join(parent_dir, "state.json")) as f:
        state = json.load(f)
    print(f"restored from {state['trial']} at step {state['step']}", flush=True)
    print(f"restored_step={state['step']}", flush=True)
else:
    state = {"step": 0, "w": [3.0] * DIM, "v": [0.0] * DIM, "trial": None}


def loss(w):
    return 0.5 * sum(h * x * x for h, x in zip(CURVATURE, w))


def save(state):
    os.makedirs(checkpoint_dir, exist_ok=True)
    path = os.path.join(checkpoint_dir, "state.json")
    with open(path + ".tmp", "w") as f:
        json.dump(state, f)
    os.replace(path + ".tmp", path)


steps = int(os.environ.get("STEPS", "4"))
w, v = state["w"], state["v"]
first = state["step"] + 1
last = first + steps - 1 if steps > 0 else first + 999
for step in range(first, last + 1):
    rng = random.Random(f"{trial}|{step}")  # the same noise when a trial runs again
    for _ in range(ITERATIONS_PER_STEP):
        for i, h in enumerate(CURVATURE):
            g = h * w[i] + NOISE * rng.gauss(0.0, 1.0)
            v[i] = a.momentum * v[i] - a.lr * g
            w[i] = max(-1e6, min(1e6, w[i] + v[i]))  # a diverging run stays finite
    save({"step": step, "w": w, "v": v, "trial": trial, "lr": a.lr, "momentum": a.momentum})
    accuracy = 1.0 / (1.0 + loss(w))
    print(f"step={step} accuracy={accuracy:.5f}", flush=True)
    ferrotune.report(step=step, accuracy=accuracy)
    if ferrotune.should_stop():  # the segment is over (perturbation_interval): end cleanly
        break
    time.sleep(0.03)
