"""The Ray Tune side of benches/raytune/run.sh: 100 trials of a function trainable that
reports loss = (x-0.3)^2 + 1/k at training_iteration k = 1..10 (as trial.py on the ferrotune
side), x ~ uniform(0, 1) (seeded), 2 at a time, ASHAScheduler(max_t=10, grace_period=1,
reduction_factor=4, brackets=1), on the Ray head at GCS_ADDRESS. Prints one JSON object.

    python tune_side.py GCS_ADDRESS STORAGE_DIR [--trials N] [--sleep S]
"""
import argparse
import json
import sys
import time

import ray
from ray import tune
from ray.tune.schedulers import ASHAScheduler
from ray.tune.search.basic_variant import BasicVariantGenerator


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("address")
    ap.add_argument("storage")
    ap.add_argument("--trials", type=int, default=100)
    ap.add_argument("--sleep", type=float, default=0.0)
    a = ap.parse_args()
    sleep = a.sleep

    def trainable(config):
        x = config["x"]
        for k in range(1, 11):
            if sleep:
                time.sleep(sleep)
            tune.report({"loss": (x - 0.3) ** 2 + 1.0 / k})

    # The head listens on loopback only (scripts/ray-head.sh), but Ray 2.60's ray.init turns
    # a 127.0.0.1 address into the machine's own IP (services.resolve_ip_for_localhost),
    # where nothing answers, and waits forever; keep the address as given.
    import ray._private.services as services
    services.resolve_ip_for_localhost = lambda host: host
    t0 = time.monotonic()
    ray.init(address=a.address, _node_ip_address="127.0.0.1", logging_level="ERROR",
             log_to_driver=False)
    t_init = time.monotonic() - t0
    tuner = tune.Tuner(
        trainable,
        param_space={"x": tune.uniform(0, 1)},
        tune_config=tune.TuneConfig(
            num_samples=a.trials,
            scheduler=ASHAScheduler(
                metric="loss", mode="min", max_t=10, grace_period=1,
                reduction_factor=4, brackets=1,
            ),
            search_alg=BasicVariantGenerator(random_state=1),
            max_concurrent_trials=2,
        ),
        run_config=tune.RunConfig(storage_path=a.storage, name="raytune-bench", verbose=0),
    )
    t1 = time.monotonic()
    results = tuner.fit()
    t_fit = time.monotonic() - t1
    iters = [r.metrics.get("training_iteration", 0) for r in results]
    errors = sum(1 for r in results if r.error is not None)
    best = results.get_best_result(metric="loss", mode="min", scope="all")
    best_loss = float(best.metrics_dataframe["loss"].min())
    ray.shutdown()
    json.dump({
        "ray": ray.__version__,
        "trials": len(results),
        "errors": errors,
        "steps": int(sum(iters)),
        "stopped_early": sum(1 for i in iters if i < 10),
        "completed": sum(1 for i in iters if i >= 10),
        "best_loss": best_loss,
        "best_x": best.config["x"],
        "init_s": t_init,
        "fit_s": t_fit,
    }, sys.stdout)
    print()


if __name__ == "__main__":
    main()
