"""A stand-in for training that checkpoints every epoch and resumes from a checkpoint.

It uses the ferrotune SDK (pip install ./sdk/python). ferrotune gives every trial a
checkpoint folder (ferrotune.checkpoint_dir()); a trial that Hyperband promoted also gets
its parent's (ferrotune.parent_checkpoint_dir()), holding the state after the parent's
epochs, so it only trains the epochs that are new. It reports `start_epoch` once, then
`loss` per epoch, with ferrotune.report() (collector Push), and prints the same as
`epoch=N loss=X` lines for whoever reads its output.
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
p.add_argument("--epochs", type=int, required=True)
a = p.parse_args()

own = ferrotune.checkpoint_dir()
parent = ferrotune.parent_checkpoint_dir()


def load(folder):
    path = os.path.join(folder, "state.json") if folder else None
    if path and os.path.exists(path):
        with open(path) as f:
            return json.load(f)
    return None


def save(state):
    if not own:
        return
    tmp = os.path.join(own, "state.json.tmp")
    with open(tmp, "w") as f:
        json.dump(state, f)
    os.replace(tmp, os.path.join(own, "state.json"))  # atomic: never half a checkpoint


# This trial's own checkpoint first (a re-run after an interruption), then the parent's.
state = load(own)
if state is not None:
    print(f"resuming this trial from epoch {state['epoch']}", flush=True)
else:
    state = load(parent)
    if state is not None:
        print(f"resuming from the parent's checkpoint {parent} at epoch {state['epoch']}", flush=True)
    else:
        state = {"epoch": 0, "loss": 2.5}
print(f"start_epoch={state['epoch']}", flush=True)
ferrotune.report(step=state["epoch"], start_epoch=state["epoch"])

# Each epoch moves the loss towards a floor set by the configuration (best near lr 0.03,
# momentum 0.9), faster with a larger learning rate. The noise depends only on the
# configuration and the epoch, so a resumed run reports what an uninterrupted one would.
floor = 0.1 + 0.08 * (math.log10(a.lr) - math.log10(0.03)) ** 2 + 0.5 * (a.momentum - 0.9) ** 2
rate = min(0.9, 3 * a.lr + 0.05)
trained = False
for epoch in range(state["epoch"] + 1, a.epochs + 1):
    trained = True
    state["loss"] = floor + (state["loss"] - floor) * (1 - rate)
    state["epoch"] = epoch
    save(state)
    noise = random.Random(f"{a.lr}|{a.momentum}|{epoch}").gauss(0, 0.005)
    print(f"epoch={epoch} loss={state['loss'] + noise:.5f}", flush=True)
    ferrotune.report(step=epoch, loss=state["loss"] + noise)
    time.sleep(0.05)
if not trained:
    # Nothing left to train (the checkpoint already has the budget): report where it stands.
    print(f"loss={state['loss']:.5f}", flush=True)
    ferrotune.report(step=state["epoch"], loss=state["loss"])
