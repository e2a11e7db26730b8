#!/usr/bin/env bash
# Search algorithms, quality and speed: ferrotune's against Optuna, hyperopt and
# scikit-optimize on the same functions, the same seeds and the same machine, in one run;
# and multi-objective: nsga2 and multi-objective TPE against Optuna's NSGA-II and TPE on
# ZDT1 and ZDT2 (hypervolume).
#
#   benches/compare/run.sh                       the full comparison (20 seeds, 200 trials)
#   benches/compare/run.sh --seeds 2 --trials 50 --functions branin,hartmann6   a quick one
#   benches/compare/run.sh --only-multi-objective --no-write    the multi-objective part
#
# Options (all optional):
#   --seeds N               seeds 0..N-1 for every algorithm (default 20)
#   --trials N              trials per run (default 200); best-so-far after 25/50/100/200
#   --functions a,b         test functions (default all: `target/release/compare --list`)
#   --algorithms a,b        ferrotune algorithms (default: every implemented one but grid, hyperband, bohb, pbt)
#   --peers a,b             optuna-tpe,optuna-tpe-independent,optuna-cmaes,optuna-random,
#                           hyperopt-tpe,skopt-gp (default all)
#   --peer-trials P=N,...   these peers' quality runs stop after N trials (their cells after
#                           more trials stay empty, and the section says so): for skopt-gp,
#                           whose 200-trial runs take about 5 minutes each here
#   --jobs N                peers' quality runs in parallel, one BLAS thread each (default 1;
#                           speed runs are always one at a time, after every quality run)
#   --speed-sizes a,b       history sizes for the speed table (default 100,200,500,1000)
#   --speed-calls N         timed suggestions per size (default 5)
#   --speed-functions a,b   functions whose space the speed runs use (default hartmann6)
#   --speed-time-limit S    seconds per speed case, after its history is built (default 120)
#   --no-speed              quality only
#   --no-quality            speed only (no multi-objective part either); implies --no-write,
#                           as the section would lose its quality tables: the speed table is
#                           printed for RESULTS.md's section to take by hand
#   --no-multi-objective    leave out the multi-objective part (ZDT1, ZDT2)
#   --only-multi-objective  only the multi-objective part (the section then has only it,
#                           so add --no-write unless that is what RESULTS.md should say)
#   --mo-seeds N            seeds of the multi-objective part (default: --seeds)
#   --mo-trials N           its trials per run (default: --trials); hypervolume after
#                           50/100/200
#   --mo-algorithms a,b     its ferrotune algorithms (default nsga2,multivariate-tpe,random)
#   --mo-peers a,b          its peers (default optuna-nsga2,optuna-tpe,optuna-random; also
#                           optuna-tpe-multivariate)
#   --out-dir DIR           where the JSON lines go (default target/compare)
#   --resume                keep the results already in --out-dir, run only the missing ones
#   --no-write              print the section, leave benches/RESULTS.md alone
#
# It makes (or reuses) a venv in benches/compare/.venv with requirements.txt (optuna 5.0,
# cmaes, hyperopt, scikit-optimize, pinned), builds `compare` (package ferrotune-bench),
# checks that the Rust and Python definitions of the functions agree, runs both sides, and
# writes the tables, the command, the date and the versions into the section
# "## Search algorithms: quality and speed" of benches/RESULTS.md (the rest is kept).
# The full run is long: skopt's gp_minimize takes minutes per 200-trial run. The
# multi-objective part records every trial's objective vector; render.py computes the
# hypervolumes of both sides from them.
set -euo pipefail
invocation="benches/compare/run.sh${*:+ $*}"
cd "$(dirname "$0")/../.."

seeds=20 trials=200 functions="" algorithms="" peers="" peer_trials="" jobs=1
speed_sizes=100,200,500,1000 speed_calls=5 speed_functions=hartmann6 speed_limit=120
speed=1 quality=1 out=target/compare resume=0 write=1
single=1 multi=1 mo_seeds="" mo_trials="" mo_algorithms="" mo_peers=""
while [ $# -gt 0 ]; do
  case "$1" in
    --seeds) seeds=$2; shift ;;
    --trials) trials=$2; shift ;;
    --functions) functions=$2; shift ;;
    --algorithms) algorithms=$2; shift ;;
    --peers) peers=$2; shift ;;
    --peer-trials) peer_trials=$2; shift ;;
    --jobs) jobs=$2; shift ;;
    --speed-sizes) speed_sizes=$2; shift ;;
    --speed-calls) speed_calls=$2; shift ;;
    --speed-functions) speed_functions=$2; shift ;;
    --speed-time-limit) speed_limit=$2; shift ;;
    --no-speed) speed=0 ;;
    --no-quality) quality=0 multi=0 write=0 ;;
    --no-multi-objective) multi=0 ;;
    --only-multi-objective) single=0 ;;
    --mo-seeds) mo_seeds=$2; shift ;;
    --mo-trials) mo_trials=$2; shift ;;
    --mo-algorithms) mo_algorithms=$2; shift ;;
    --mo-peers) mo_peers=$2; shift ;;
    --out-dir) out=$2; shift ;;
    --resume) resume=1 ;;
    --no-write) write=0 ;;
    -h|--help) sed -n '2,/^set -e/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) echo "run.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
  esac
  shift
done
if [ "$single" = 0 ] && [ "$multi" = 0 ]; then
  echo "run.sh: --only-multi-objective and --no-multi-objective leave nothing to run" >&2
  exit 2
fi
if [ "$quality" = 0 ] && { [ "$speed" = 0 ] || [ "$single" = 0 ]; }; then
  echo "run.sh: --no-quality leaves only the speed part, which --no-speed or --only-multi-objective takes away" >&2
  exit 2
fi
mo_seeds=${mo_seeds:-$seeds} mo_trials=${mo_trials:-$trials}

# The peers' venv, rebuilt when requirements.txt changes.
. benches/venv.sh
bench_venv benches/compare

cargo build --release --quiet -p ferrotune-bench
bin=${CARGO_TARGET_DIR:-target}/release/compare
mkdir -p "$out"

# Common options of both sides.
common=(--seeds "$seeds" --trials "$trials" --speed-sizes "$speed_sizes"
        --speed-calls "$speed_calls" --speed-functions "$speed_functions"
        --speed-time-limit "$speed_limit")
[ -n "$functions" ] && common+=(--functions "$functions")
ours=("${common[@]}"); [ -n "$algorithms" ] && ours+=(--algorithms "$algorithms")
theirs=("${common[@]}"); [ -n "$peers" ] && theirs+=(--algorithms "$peers")
[ -n "$peer_trials" ] && theirs+=(--peer-trials "$peer_trials")
again=(); [ "$resume" = 1 ] && again=(--resume)
mo=(--multi-objective --seeds "$mo_seeds" --trials "$mo_trials")
mo_ours=("${mo[@]}"); [ -n "$mo_algorithms" ] && mo_ours+=(--algorithms "$mo_algorithms")
mo_theirs=("${mo[@]}"); [ -n "$mo_peers" ] && mo_theirs+=(--algorithms "$mo_peers")

# The two definitions of the functions agree (and each reaches its known optimum, or for
# the multi-objective ones, its Pareto front).
"$bin" --points --out "$out/points.jsonl"
"$bin" --points --multi-objective --out "$out/mo-points.jsonl"
points=$(cat "$out/points.jsonl" "$out/mo-points.jsonl" | "$py" benches/compare/functions.py --verify)
echo "run.sh: $points" >&2
points=$(grep -c . "$out/points.jsonl")
mo_points=$(grep -c . "$out/mo-points.jsonl")
"$py" benches/compare/render.py --self-test >&2
"$bin" --list "${ours[@]}" > "$out/list.json"
"$bin" --list "${mo_ours[@]}" > "$out/mo-list.json"

files=()
if [ "$single" = 1 ] && [ "$quality" = 1 ]; then
  echo "run.sh: quality, ferrotune" >&2
  "$bin" "${ours[@]}" --skip-speed --out "$out/quality-ferrotune.jsonl" "${again[@]}"
  echo "run.sh: quality, peers" >&2
  "$py" benches/compare/peers.py "${theirs[@]}" --skip-speed --jobs "$jobs" \
    --out "$out/quality-peers.jsonl" "${again[@]}"
  files+=("$out/quality-ferrotune.jsonl" "$out/quality-peers.jsonl")
fi
if [ "$multi" = 1 ]; then
  echo "run.sh: multi-objective, ferrotune" >&2
  start=$SECONDS
  "$bin" "${mo_ours[@]}" --out "$out/mo-ferrotune.jsonl" "${again[@]}"
  echo "run.sh: multi-objective, ferrotune: $((SECONDS - start)) s" >&2
  echo "run.sh: multi-objective, peers" >&2
  start=$SECONDS
  "$py" benches/compare/peers.py "${mo_theirs[@]}" --jobs "$jobs" \
    --out "$out/mo-peers.jsonl" "${again[@]}"
  echo "run.sh: multi-objective, peers: $((SECONDS - start)) s" >&2
  files+=("$out/mo-ferrotune.jsonl" "$out/mo-peers.jsonl")
fi
if [ "$speed" = 1 ] && [ "$single" = 1 ]; then
  echo "run.sh: speed, ferrotune" >&2
  "$bin" "${ours[@]}" --skip-quality --out "$out/speed-ferrotune.jsonl" "${again[@]}"
  echo "run.sh: speed, peers" >&2
  "$py" benches/compare/peers.py "${theirs[@]}" --skip-quality \
    --out "$out/speed-peers.jsonl" "${again[@]}"
  files+=("$out/speed-ferrotune.jsonl" "$out/speed-peers.jsonl")
fi

# What the section says about the run.
commit=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
[ -n "$(git status --porcelain --untracked-files=no 2>/dev/null)" ] && commit="$commit with uncommitted changes"
version=$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -1)
mem=$(awk '/MemTotal/ {printf "%.0f GiB", $2 / 1048576}' /proc/meminfo)
INVOCATION=$invocation DATE=$(date -u +%Y-%m-%d) FERROTUNE="$version at commit $commit" \
RUSTC=$(rustc --version) MACHINE="$(nproc) cores, $mem" SEEDS=$seeds TRIALS=$trials POINTS=$points \
MO_SEEDS=$mo_seeds MO_TRIALS=$mo_trials MO_POINTS=$mo_points PEER_TRIALS=$peer_trials \
"$py" - "$out/meta.json" <<'PY'
import json, os, subprocess, sys
e = os.environ
versions = json.loads(subprocess.check_output(
    [sys.executable, "benches/compare/peers.py", "--versions"]))
meta = {"command": e["INVOCATION"], "date": e["DATE"], "ferrotune": e["FERROTUNE"],
        "rustc": e["RUSTC"], "machine": e["MACHINE"], "seeds": int(e["SEEDS"]),
        "trials": int(e["TRIALS"]), "points": int(e["POINTS"]), "versions": versions,
        "mo_seeds": int(e["MO_SEEDS"]), "mo_trials": int(e["MO_TRIALS"]),
        "mo_points": int(e["MO_POINTS"]),
        "peer_trials": {k: int(v) for k, v in
                        (p.split("=") for p in e["PEER_TRIALS"].split(",") if p)}}
json.dump(meta, open(sys.argv[1], "w"), indent=1)
PY
results=(); [ "$write" = 1 ] && results=(--results benches/RESULTS.md)
"$py" benches/compare/render.py --meta "$out/meta.json" --list "$out/list.json" \
  --mo-list "$out/mo-list.json" "${results[@]}" "${files[@]}" | tee "$out/section.md"
