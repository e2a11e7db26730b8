"""A stand-in for a model whose accuracy costs latency: bigger networks score higher and
answer slower, so there is no single best trial, only a front of good trade-offs.

It needs nothing but python3. It prints one `epoch=N accuracy=X latency_ms=Y` line per
epoch, which ferrotune's default StdOut collector (Katib's regex) reads.
"""
import argparse
import math
import random
import time

p = argparse.ArgumentParser()
p.add_argument("--width", type=int, required=True)
p.add_argument("--depth", type=int, required=True)
p.add_argument("--lr", type=float, required=True)
p.add_argument("--activation", choices=["relu", "gelu", "tanh"], required=True)
a = p.parse_args()

# Capacity buys accuracy with diminishing returns; a learning rate far from 3e-3 and tanh
# waste some of it. Latency grows with the work per example.
capacity = math.log2(a.width) * a.depth
waste = (math.log10(a.lr) - math.log10(3e-3)) ** 2 * 0.04 + {"gelu": 0.0, "relu": 0.01, "tanh": 0.04}[a.activation]
ceiling = 0.99 - 0.45 * math.exp(-capacity / 12) - waste
latency = 0.4 + a.width * a.depth * 0.004 + (0.3 if a.activation == "gelu" else 0.0)
rng = random.Random(f"{a.width}|{a.depth}|{a.lr}|{a.activation}")  # same noise, same parameters
for epoch in range(1, 6):
    accuracy = max(0.0, ceiling - 0.3 * math.exp(-0.8 * epoch) + rng.gauss(0, 0.002))
    print(f"epoch={epoch} accuracy={accuracy:.4f} latency_ms={latency * (1 + rng.gauss(0, 0.01)):.3f}", flush=True)
    time.sleep(0.02)
