"""A stand-in for training that checkpoints every epoch and resumes from a checkpoint.

It needs nothing but python3. ferrotune gives every trial a checkpoint folder
(FERROTUNE_CHECKPOINT_DIR); a trial that Hyperband promoted also gets its parent's
(FERROTUNE_PARENT_CHECKPOINT_DIR), holding the state after the parent's epochs, so it only
trains the epochs that are new. It prints `start_epoch=E` once, then `epoch=N loss=X` per
epoch, which ferrotune's default StdOut collector (Katib's regex) reads.
"""
import argparse
import json
import math
import os
import random
import time

p = argparse.ArgumentParser()
p.add_argument("--lr", type=float, required=True)
p.add_argument("--momentum", type=float, required=True)
p.add_argument("--epochs", type=int, required=True)
a = p.parse_args()

own = os.environ.get("FERROTUNE_CHECKPOINT_DIR")
parent = os.environ.get("FERROTUNE_PARENT_CHECKPOINT_DIR")


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
    time.sleep(0.05)
if not trained:
    # Nothing left to train (the checkpoint already has the budget): report where it stands.
    print(f"loss={state['loss']:.5f}", flush=True)
