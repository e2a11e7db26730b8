"""A stand-in for a model whose accuracy costs latency: bigger networks score higher and
answer slower, so there is no single best trial, only a front of good trade-offs.

It reports with the ferrotune SDK (pip install ./sdk/python): ferrotune.params() gives the
trial's parameters (the defaults when run by hand), ferrotune.report() sends each epoch's
accuracy and latency_ms (collector Push). Run by hand, the same script prints
`epoch=N accuracy=X latency_ms=Y` lines.
"""
import math
import random
import time

import ferrotune

p = ferrotune.params(defaults={"width": 64, "depth": 2, "lr": 3e-3, "activation": "gelu"})
width, depth, lr, activation = int(p["width"]), int(p["depth"]), float(p["lr"]), str(p["activation"])

# Capacity buys accuracy with diminishing returns; a learning rate far from 3e-3 and tanh
# waste some of it. Latency grows with the work per example.
capacity = math.log2(width) * depth
waste = (math.log10(lr) - math.log10(3e-3)) ** 2 * 0.04 + {"gelu": 0.0, "relu": 0.01, "tanh": 0.04}[activation]
ceiling = 0.99 - 0.45 * math.exp(-capacity / 12) - waste
latency = 0.4 + width * depth * 0.004 + (0.3 if activation == "gelu" else 0.0)
rng = random.Random(f"{width}|{depth}|{lr}|{activation}")  # same noise, same parameters
for epoch in range(1, 6):
    accuracy = max(0.0, ceiling - 0.3 * math.exp(-0.8 * epoch) + rng.gauss(0, 0.002))
    ferrotune.report(step=epoch, accuracy=accuracy, latency_ms=latency * (1 + rng.gauss(0, 0.01)))
    time.sleep(0.02)
