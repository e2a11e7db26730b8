#!/usr/bin/env bash
# Early stopping: ferrotune's stopping rules (and its Hyperband-style search algorithms,
# once they exist) against Optuna's pruners, on the same learning curves, the same
# configurations and the same seeds, in one run, in the same simulation of asynchronous
# workers; both sides' figures go into the section
# "## Early stopping: steps saved and results kept" of benches/RESULTS.md.
#
#   benches/stopping/run.sh                             the full comparison (20 seeds)
#   benches/stopping/run.sh --seeds 2 --no-write        a quick one
#   benches/stopping/run.sh --problems synthetic        the synthetic problem only
#
# Options (all optional):
#   --seeds N          seeds 0..N-1 (default 20)
#   --configs N        configurations per seed, the fixed budget (default 64)
#   --problems a,b     synthetic, sgd (default both)
#   --strategies a,b   ferrotune's (default none, medianstop, median, asha,
#                      asha@grace_period=G+reduction_factor=R for G in 5, 10, 20 and R in
#                      3, 4, hyperband, bohb; NAME@k=v+k=v is a row of NAME with those
#                      settings)
#   --pruners a,b      Optuna's (default nop, median, successive-halving, hyperband,
#                      successive-halving@min_resource=G+reduction_factor=R on the same
#                      grid; NAME@k=v+k=v passes those arguments)
#   --workers N        simulated workers (default 4)
#   --steps N          steps of the synthetic curves (default 100)
#   --sgd-epochs N     epochs of the real model's curves (default 100)
#   --sgd-jobs N       seeds of the real model trained in parallel (default 1)
#   --settings S       a ferrotune strategy's settings, NAME:key=value,key=value
#                      (repeatable; e.g. hyperband:eta=3)
#   --out-dir DIR      where the curves and JSON lines go (default target/stopping)
#   --resume           keep the runs already in --out-dir, run only the missing ones
#   --no-write         print the section, leave benches/RESULTS.md alone
#
# It makes (or reuses) a venv in benches/stopping/.venv with requirements.txt (optuna 5.0,
# numpy, scikit-learn, pinned as in benches/compare), builds `stopping` (package
# ferrotune-stopping-bench), writes the synthetic curves, trains the real model's curves
# once (sgd_curves.py; they are cached in --out-dir/curves and reused by later runs:
# about 1.5-2.5 minutes per seed on 2 busy cores), runs both sides and renders the tables.
set -euo pipefail
invocation="benches/stopping/run.sh${*:+ $*}"
cd "$(dirname "$0")/../.."

seeds=20 configs=64 problems=synthetic,sgd strategies="" pruners="" workers=4 steps=100
sgd_epochs=100 sgd_jobs=1 out=target/stopping resume=0 write=1
settings=()
while [ $# -gt 0 ]; do
  case "$1" in
    --seeds) seeds=$2; shift ;;
    --configs) configs=$2; shift ;;
    --problems) problems=$2; shift ;;
    --strategies) strategies=$2; shift ;;
    --pruners) pruners=$2; shift ;;
    --workers) workers=$2; shift ;;
    --steps) steps=$2; shift ;;
    --sgd-epochs) sgd_epochs=$2; shift ;;
    --sgd-jobs) sgd_jobs=$2; shift ;;
    --settings) settings+=(--settings "$2"); shift ;;
    --out-dir) out=$2; shift ;;
    --resume) resume=1 ;;
    --no-write) write=0 ;;
    -h|--help) sed -n '2,/^set -e/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) echo "run.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
  esac
  shift
done
has() { case ",$problems," in *",$1,"*) return 0 ;; *) return 1 ;; esac; }

# The Optuna side's venv, rebuilt when requirements.txt changes.
. benches/venv.sh
bench_venv benches/stopping
"$py" benches/stopping/render.py --self-test >&2

cargo build --release --quiet -p ferrotune-stopping-bench
bin=${CARGO_TARGET_DIR:-target}/release/stopping
mkdir -p "$out/curves"

# The curves both sides replay.
if has synthetic; then
  "$bin" curves --dir "$out/curves" --seeds "$seeds" --configs "$configs" --steps "$steps"
fi
sgd_s=0
if has sgd; then
  start=$SECONDS
  "$py" benches/stopping/sgd_curves.py --out-dir "$out" --seeds "$seeds" \
    --configs "$configs" --epochs "$sgd_epochs" --jobs "$sgd_jobs"
  sgd_s=$((SECONDS - start))
fi

again=(); [ "$resume" = 1 ] && again=(--resume)
ours=(run --curves-dir "$out/curves" --problems "$problems" --seeds "$seeds"
      --configs "$configs" --workers "$workers" --out "$out/ferrotune.jsonl")
[ -n "$strategies" ] && ours+=(--strategies "$strategies")
theirs=(--curves-dir "$out/curves" --problems "$problems" --seeds "$seeds"
        --configs "$configs" --workers "$workers" --out "$out/optuna.jsonl")
[ -n "$pruners" ] && theirs+=(--pruners "$pruners")

echo "run.sh: ferrotune" >&2
start=$SECONDS
"$bin" "${ours[@]}" "${settings[@]}" "${again[@]}"
ferrotune_s=$((SECONDS - start))
echo "run.sh: Optuna" >&2
start=$SECONDS
"$py" benches/stopping/peers.py "${theirs[@]}" "${again[@]}"
optuna_s=$((SECONDS - start))

# What the section says about the run.
commit=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
[ -n "$(git status --porcelain --untracked-files=no 2>/dev/null)" ] && commit="$commit with uncommitted changes"
version=$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -1)
mem=$(awk '/MemTotal/ {printf "%.0f GiB", $2 / 1048576}' /proc/meminfo)
INVOCATION=$invocation DATE=$(date -u +%Y-%m-%d) FERROTUNE="$version at commit $commit" \
RUSTC=$(rustc --version) MACHINE="$(nproc) cores, $mem" SEEDS=$seeds CONFIGS=$configs \
WORKERS=$workers PROBLEMS=$problems FERROTUNE_S=$ferrotune_s OPTUNA_S=$optuna_s \
SGD_S=$sgd_s HAS_SGD=$(has sgd && echo 1 || echo 0) \
"$py" - "$out/meta.json" <<'PY'
import json, os, subprocess, sys
e = os.environ
versions = json.loads(subprocess.check_output(
    [sys.executable, "benches/stopping/peers.py", "--versions"]))
meta = {"command": e["INVOCATION"], "date": e["DATE"], "ferrotune": e["FERROTUNE"],
        "rustc": e["RUSTC"], "machine": e["MACHINE"], "seeds": int(e["SEEDS"]),
        "configs": int(e["CONFIGS"]), "workers": int(e["WORKERS"]),
        "problems": e["PROBLEMS"].split(","), "versions": versions,
        "ferrotune_s": int(e["FERROTUNE_S"]), "optuna_s": int(e["OPTUNA_S"])}
if e["HAS_SGD"] == "1":
    meta["sgd_s"] = int(e["SGD_S"])
json.dump(meta, open(sys.argv[1], "w"), indent=1)
PY
results=(); [ "$write" = 1 ] && results=(--results benches/RESULTS.md)
"$py" benches/stopping/render.py --meta "$out/meta.json" --curves-dir "$out/curves" \
  "${results[@]}" "$out/ferrotune.jsonl" "$out/optuna.jsonl" | tee "$out/section.md"
