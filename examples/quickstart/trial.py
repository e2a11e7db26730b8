"""A stand-in training run: a noisy learning curve whose floor depends on the parameters.

It needs nothing but python3. It prints one `epoch=N loss=X accuracy=Y` line per epoch,
which ferrotune's default StdOut collector (Katib's regex) reads.
"""
import argparse
import math
import os
import random
import time

p = argparse.ArgumentParser()
p.add_argument("--lr", type=float, required=True)
p.add_argument("--momentum", type=float, required=True)
p.add_argument("--layers", type=int, required=True)
p.add_argument("--optimizer", choices=["sgd", "adam", "rmsprop"], required=True)
a = p.parse_args()

# The best region: lr near 0.01, momentum near 0.9, 3 layers, adam.
floor = (
    (math.log10(a.lr) + 2.0) ** 2 * 0.08
    + (a.momentum - 0.9) ** 2 * 2.0
    + abs(a.layers - 3) * 0.03
    + {"adam": 0.0, "rmsprop": 0.02, "sgd": 0.05}[a.optimizer]
)
rng = random.Random(f"{a.lr}|{a.momentum}|{a.layers}|{a.optimizer}")  # same noise for the same parameters
epochs = int(os.environ.get("EPOCHS", "8"))
for epoch in range(1, epochs + 1):
    loss = floor + 1.5 * math.exp(-0.6 * epoch) + rng.gauss(0, 0.004)
    accuracy = max(0.0, min(1.0, 1.0 - loss / 2))
    print(f"epoch={epoch} loss={loss:.5f} accuracy={accuracy:.4f}", flush=True)
    time.sleep(0.05)
