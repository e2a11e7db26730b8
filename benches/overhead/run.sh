#!/usr/bin/env bash
# The controller's own cost per trial (issue: local sweeps, overhead benchmark).
#
#   benches/overhead/run.sh [TRIALS]        (default 2000)
#
# Runs TRIALS trials of a trivial command (`true`) with random search at parallelTrialCount
# 2 and 8, then the same with a trial that prints 1,000 metric lines. For each: trials per
# second (wall clock), the controller's own CPU seconds and peak resident memory (from
# getrusage(RUSAGE_SELF) inside ferrotune, so the trials' own CPU is not counted), the
# SQLite file size, and the rate of the first and the last thousand trials (from the
# trials' completion times), to show there is no slowdown as the history grows.
# Each row is followed by Optuna's on the same workload (optuna_peer.py), in the same run.
set -euo pipefail
cd "$(dirname "$0")/../.."
n=${1:-2000}
peer_lines=${PEER_LINES_TRIALS:-100}
cargo build --release --quiet -p ferrotune-cli
# The peer, Optuna, in a venv of its own (cached in benches/.venv).
venv=benches/.venv
if [ ! -x "$venv/bin/python3" ] || ! "$venv/bin/python3" -c 'import optuna' 2>/dev/null; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check 'optuna>=4'
fi
bin=$(pwd)/target/release/ferrotune
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT


exp() { # name parallel command...
  local name=$1 par=$2; shift 2
  local cmd; cmd=$(printf "'%s', " "$@"); cmd="[${cmd%, }]"
  cat > "$work/$name.yaml" <<YAML
apiVersion: ferrotune.io/v1alpha1
kind: Experiment
metadata: {name: $name}
spec:
  objective: {type: minimize, objectiveMetricName: loss}
  algorithm: {algorithmName: random, algorithmSettings: [{name: random_state, value: "1"}]}
  parallelTrialCount: $par
  maxTrialCount: $n
  parameters:
  - {name: x, parameterType: double, feasibleSpace: {min: "0", max: "1"}}
  - {name: k, parameterType: int, feasibleSpace: {min: "1", max: "100"}}
  - {name: c, parameterType: categorical, feasibleSpace: {list: [a, b, c, d]}}
  trialTemplate:
    command: $cmd
YAML
}

printf '| case | parallel | trials | wall s | trials/s | controller CPU s | peak RSS MB | SQLite MB | first 1000 trials/s | last 1000 trials/s |\n'
printf '|---|---|---|---|---|---|---|---|---|---|\n'
for case in true lines; do
  for par in 2 8; do
    name="$case-p$par"
    # awk, not python: python3 takes ~130 ms to start here, which would measure Python.
    if [ "$case" = true ]; then exp "$name" "$par" true; else exp "$name" "$par" awk 'BEGIN{for(i=1;i<=1000;i++) print "loss=" 1/i}'; fi
    # `true` reports no metric, so its trials end MetricsUnavailable: the controller's work is the same.
    start=$(date +%s.%N)
    "$bin" run "$work/$name.yaml" --db "$work/$name.db" --run-dir "$work/runs-$name" --stats > "$work/$name.out" 2> "$work/$name.err" || true
    end=$(date +%s.%N)
    stats=$(grep '^controller:' "$work/$name.err" | tail -1)
    cpu=$(sed -E 's/.*cpu ([0-9.]+) s.*/\1/' <<<"$stats")
    rss=$(sed -E 's/.*peak rss ([0-9.]+) MB.*/\1/' <<<"$stats")
    size=$(du -cm "$work/$name.db"* | tail -1 | cut -f1)
    "$bin" trials "$name" --db "$work/$name.db" --output json > "$work/$name.json"
    rates=$(python3 - "$work/$name.json" <<'PY'
import json, sys
from datetime import datetime
t = json.load(open(sys.argv[1]))
ends = sorted(datetime.fromisoformat(x["completionTime"]).timestamp() for x in t if x["completionTime"])
def rate(xs): return (len(xs) - 1) / (xs[-1] - xs[0]) if len(xs) > 1 and xs[-1] > xs[0] else float("nan")
k = min(1000, len(ends) // 2)
print(f"{rate(ends[:k]):.0f} {rate(ends[-k:]):.0f}")
PY
)
    wall=$(python3 -c "print(f'{$end-$start:.2f}')")
    tps=$(python3 -c "print(f'{$n/($end-$start):.0f}')")
    printf '| %s (ferrotune) | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n' "$case" "$par" "$n" "$wall" "$tps" "$cpu" "$rss" "$size" ${rates}
    # Optuna commits every trial.report through SQLAlchemy: 1,000 reports per trial take it
    # about a second, so its `lines` rows run ${peer_lines} trials (the rates are per trial).
    if [ "$case" = true ]; then pn=$n; else pn=$peer_lines; fi
    "$venv/bin/python3" benches/overhead/optuna_peer.py "$case" "$par" "$pn" "$work"
  done
done
