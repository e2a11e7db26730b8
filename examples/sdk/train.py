"""A stand-in training loop that reports with the ferrotune SDK.

ferrotune.params() gives this trial's parameters (the defaults when run by hand),
ferrotune.report() sends each epoch's metrics (buffered, flushed in batches and at exit),
and ferrotune.should_stop() says when the early-stopping rule gave up on the trial, so it
can end cleanly. Outside ferrotune the same script prints `epoch=N loss=X` lines.
"""
import math
import random
import sys
import time

import ferrotune

p = ferrotune.params(defaults={"lr": 0.01, "momentum": 0.9})
lr, momentum = float(p["lr"]), float(p["momentum"])
# The best region: lr near 0.01, momentum near 0.9.
floor = (math.log10(lr) + 2.0) ** 2 * 0.08 + (momentum - 0.9) ** 2 * 2.0
rng = random.Random(f"{lr}|{momentum}")
for epoch in range(1, 21):
    loss = floor + 1.5 * math.exp(-0.3 * epoch) + rng.gauss(0, 0.004)
    ferrotune.report(step=epoch, loss=loss, accuracy=max(0.0, 1.0 - loss / 2))
    if ferrotune.should_stop():
        print(f"stopping at epoch {epoch}: the early-stopping rule gave up on this trial")
        sys.exit(0)
    time.sleep(0.05)
