#!/usr/bin/env bash
# Issue 6's benchmark: 100 trials that each report 10 steps, with ASHA (max_t 10,
# grace_period 1, reduction_factor 4, one bracket), 2 at a time, on a local 2-CPU Ray head:
# ferrotune on Ray (tasks mode by default: one driver job, each trial a Ray task; or
# --ray-mode jobs, one Ray job per trial) versus Ray Tune (function trainable, ASHAScheduler)
# of the same Ray version, on the same head, in one run. Prints one JSON line per side and a
# summary; the figures go into benches/RESULTS.md by hand.
#
#   benches/raytune/run.sh [--trials N] [--sleep S] [--ray-mode tasks|jobs]
#
# ferrotune's per-trial launch overhead is the time from the controller recording a trial's
# start to the trial's first line (trial.py prints its clock as it starts), median and mean.
# --sleep S sleeps S seconds before each report on both sides (default 0). It makes (or
# reuses) benches/raytune/.venv (requirements.txt, then the SDK from sdk/python), builds
# ferrotune, starts its own Ray head from that venv (scripts/ray-head.sh, temp dir under
# /tmp, stopped on exit) and runs ferrotune first, then Ray Tune.
set -euo pipefail
cd "$(dirname "$0")/../.."
trials=100 sleep=0 mode=tasks
while [ $# -gt 0 ]; do
  case "$1" in
    --trials) trials=$2; shift ;;
    --sleep) sleep=$2; shift ;;
    --ray-mode) mode=$2; shift ;;
    *) echo "run.sh: unknown option $1" >&2; exit 2 ;;
  esac
  shift
done

. benches/venv.sh
bench_venv benches/raytune
"$py" -m pip install --quiet --disable-pip-version-check ./sdk/python
cargo build --release --quiet -p ferrotune-cli
ft=$PWD/${CARGO_TARGET_DIR:-target}/release/ferrotune

work=$(mktemp -d /tmp/rtb.XXXXXX)
export PATH=$PWD/benches/raytune/.venv/bin:$PATH   # the head's jobs run this python3
trap 'scripts/ray-head.sh stop "$work/head" || true' EXIT
url=$(scripts/ray-head.sh start "$work/head")
gcs=127.0.0.1:$(cat "$work/head/ray.gcs-port")

# ferrotune: the experiment with --sleep written into the trial command's environment.
exp=$work/experiment.yaml
sed -e "s|workingDir: .|workingDir: $PWD/benches/raytune|" \
    -e "s|maxTrialCount: 100|maxTrialCount: $trials|" benches/raytune/experiment.yaml > "$exp"
printf '    env: {BENCH_SLEEP: "%s"}\n' "$sleep" >> "$exp"
t0=$(date +%s%N)
"$ft" run "$exp" --db "$work/ft.db" --run-dir "$work/ft" --runner ray --ray-address "$url" --ray-mode "$mode" \
  > "$work/ft.out" 2>&1 || { tail -n 30 "$work/ft.out" >&2; exit 1; }
ft_s=$(( ($(date +%s%N) - t0) / 1000000 ))
"$ft" show raytune-bench --db "$work/ft.db" --namespace benches --output json > "$work/ft.json"
"$ft" trials raytune-bench --db "$work/ft.db" --namespace benches --output json > "$work/ft-trials.json"
"$py" - "$work" "$ft_s" "$mode" <<'PY'
import json, pathlib, statistics, sys
from datetime import datetime
work, ms, mode = pathlib.Path(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
d = json.load(open(work / "ft.json"))
trials = d["trials"]
steps = [sum(1 for l in (work / "ft" / "trials" / t["name"] / "output.log").read_text().splitlines()
             if "loss=" in l) for t in trials]
stopped = [t for t in trials if t["status"] == "EarlyStopped"]
best = min(t["metrics"]["loss"] for t in trials if "loss" in t.get("metrics", {}))
# Launch overhead: the controller's start time of a trial to the trial's own first clock.
starts = {t["name"]: datetime.fromisoformat(t["startTime"]).timestamp()
          for t in json.load(open(work / "ft-trials.json"))}
lags = []
for t in trials:
    first = next((l for l in (work / "ft" / "trials" / t["name"] / "output.log").read_text().splitlines()
                  if l.startswith("started=")), None)
    if first and t["name"] in starts:
        lags.append(float(first.split("=", 1)[1]) - starts[t["name"]])
print(json.dumps({"side": f"ferrotune ({mode} mode)", "wall_s": ms / 1000, "trials": len(trials),
                  "launch_overhead_s": {"median": statistics.median(lags), "mean": statistics.mean(lags),
                                        "max": max(lags), "n": len(lags)} if lags else None,
                  "statuses": {s: sum(1 for t in trials if t["status"] == s) for s in {t["status"] for t in trials}},
                  "steps_printed": sum(steps), "stopped_early": len(stopped),
                  "best_loss": best, "earlyStopping": d.get("earlyStopping")}))
PY
t0=$(date +%s%N)
"$py" benches/raytune/tune_side.py "$gcs" "$work/tune" --trials "$trials" --sleep "$sleep" \
  > "$work/tune.out" 2> "$work/tune.err" || { tail -n 30 "$work/tune.err" >&2; exit 1; }
tune_s=$(( ($(date +%s%N) - t0) / 1000000 ))
echo "{\"side\": \"Ray Tune\", \"wall_s\": $(printf '%d.%03d' $((tune_s / 1000)) $((tune_s % 1000))), \"result\": $(tail -n 1 "$work/tune.out")}"
"$py" -c "
f, t, n = $ft_s / 1000, $tune_s / 1000, $trials
print(f'ferrotune {f:.1f} s ({f / n * 2:.2f} s per trial per slot), Ray Tune {t:.1f} s ({t / n * 2:.2f} s per trial per slot); ratio ferrotune/Ray Tune = {f / t:.2f} (target <= 0.20: {\"met\" if f / t <= 0.2 else \"missed\"})')"
echo "work dir: $work" >&2
