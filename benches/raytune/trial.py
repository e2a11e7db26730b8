# One ferrotune trial of the Ray benchmark: 10 reports of loss = (x-0.3)^2 + 1/k at steps
# k = 1..10 (Ray Tune's training_iteration, so both sides' ASHA rungs fall on the same
# reports), on stdout for the StdOut collector; BENCH_SLEEP seconds before each report, as on the Ray Tune side (tune_side.py).
import os
import sys
import time

print(f"started={time.time():.6f}", flush=True)  # for the launch overhead (run.sh)
x = float(sys.argv[1].split("=", 1)[1])
sleep = float(os.environ.get("BENCH_SLEEP", "0"))
for k in range(1, 11):
    if sleep:
        time.sleep(sleep)
    print(f"step={k} loss={(x - 0.3) ** 2 + 1.0 / k}", flush=True)
