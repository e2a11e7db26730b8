"""Replays ferrotune's side of a benches/raytune/run.sh run through Ray Tune's own ASHA
bracket (ray.tune.schedulers.async_hyperband._Bracket, same settings: min_t 1, max_t 10,
reduction_factor 4), on ferrotune's x values in trial order, two trials at a time taking
steps in turn. It tells whether a difference in trials stopped comes from the rule or from
the x values each side drew.

    benches/raytune/.venv/bin/python benches/raytune/asha_check.py WORK_DIR

WORK_DIR is the folder run.sh names at its end ("work dir: ..."), holding ft.json.
"""
import collections
import json
import pathlib
import sys
import types

from ray.tune.schedulers.async_hyperband import _Bracket


def replay(xs, concurrent=2):
    bracket = _Bracket(min_t=1, max_t=10, reduction_factor=4, s=0, stop_last_trials=True)
    queue, running = list(enumerate(xs)), {}
    done, steps, stopped_at = 0, 0, collections.Counter()
    while queue or running:
        while len(running) < concurrent and queue:
            i, x = queue.pop(0)
            running[i] = (x, 0)
        for i in list(running):
            x, k = running[i]
            k += 1
            steps += 1
            loss = (x - 0.3) ** 2 + 1 / k
            action = bracket.on_result(types.SimpleNamespace(trial_id=str(i)), k, -loss)
            if action == "STOP" or k >= 10:
                if k < 10:
                    stopped_at[k] += 1
                else:
                    done += 1
                del running[i]
            else:
                running[i] = (x, k)
    return {"ran_all_10": done, "stopped": sum(stopped_at.values()), "steps": steps,
            "stopped_after_step": dict(sorted(stopped_at.items()))}


def main():
    work = pathlib.Path(sys.argv[1])
    trials = sorted(json.load(open(work / "ft.json"))["trials"], key=lambda t: t["name"])
    xs = [t["parameters"]["x"] for t in trials]
    ferrotune = collections.Counter(t["status"] for t in trials)
    print(json.dumps({"ray_asha_on_ferrotunes_x": replay(xs),
                      "ferrotune": {"ran_all_10": ferrotune.get("Succeeded", 0),
                                    "stopped": ferrotune.get("EarlyStopped", 0)}}))


if __name__ == "__main__":
    main()
