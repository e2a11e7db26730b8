#!/usr/bin/env bash
# Search algorithms, quality and speed: ferrotune's against Optuna, hyperopt and
# scikit-optimize on the same functions, the same seeds and the same machine, in one run.
#
#   benches/compare/run.sh                       the full comparison (20 seeds, 200 trials)
#   benches/compare/run.sh --seeds 2 --trials 50 --functions branin,hartmann6   a quick one
#
# Options (all optional):
#   --seeds N               seeds 0..N-1 for every algorithm (default 20)
#   --trials N              trials per run (default 200); best-so-far after 25/50/100/200
#   --functions a,b         test functions (default all: `target/release/compare --list`)
#   --algorithms a,b        ferrotune algorithms (default: every implemented one but grid)
#   --peers a,b             optuna-tpe,optuna-cmaes,optuna-random,hyperopt-tpe,skopt-gp (default all)
#   --jobs N                peers' quality runs in parallel, one BLAS thread each (default 1;
#                           speed runs are always one at a time, after every quality run)
#   --speed-sizes a,b       history sizes for the speed table (default 100,500,1000)
#   --speed-calls N         timed suggestions per size (default 5)
#   --speed-functions a,b   functions whose space the speed runs use (default hartmann6)
#   --speed-time-limit S    seconds per speed case, after its history is built (default 120)
#   --no-speed              quality only
#   --out-dir DIR           where the JSON lines go (default target/compare)
#   --resume                keep the results already in --out-dir, run only the missing ones
#   --no-write              print the section, leave benches/RESULTS.md alone
#
# It makes (or reuses) a venv in benches/compare/.venv with requirements.txt (optuna 5.0,
# cmaes, hyperopt, scikit-optimize, pinned), builds `compare` (package ferrotune-bench),
# checks that the Rust and Python definitions of the functions agree, runs both sides, and
# writes the tables, the command, the date and the versions into the section
# "## Search algorithms: quality and speed" of benches/RESULTS.md (the rest is kept).
# The full run is long: skopt's gp_minimize takes minutes per 200-trial run.
set -euo pipefail
invocation="benches/compare/run.sh${*:+ $*}"
cd "$(dirname "$0")/../.."

seeds=20 trials=200 functions="" algorithms="" peers="" jobs=1
speed_sizes=100,500,1000 speed_calls=5 speed_functions=hartmann6 speed_limit=120
speed=1 out=target/compare resume=0 write=1
while [ $# -gt 0 ]; do
  case "$1" in
    --seeds) seeds=$2; shift ;;
    --trials) trials=$2; shift ;;
    --functions) functions=$2; shift ;;
    --algorithms) algorithms=$2; shift ;;
    --peers) peers=$2; shift ;;
    --jobs) jobs=$2; shift ;;
    --speed-sizes) speed_sizes=$2; shift ;;
    --speed-calls) speed_calls=$2; shift ;;
    --speed-functions) speed_functions=$2; shift ;;
    --speed-time-limit) speed_limit=$2; shift ;;
    --no-speed) speed=0 ;;
    --out-dir) out=$2; shift ;;
    --resume) resume=1 ;;
    --no-write) write=0 ;;
    -h|--help) sed -n '2,/^set -e/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) echo "run.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
  esac
  shift
done

# The peers' venv, rebuilt when requirements.txt changes.
venv=benches/compare/.venv
req=benches/compare/requirements.txt
py=$venv/bin/python
want=$(sha256sum < "$req")
if [ ! -x "$py" ] || [ "$(cat "$venv/.requirements.sha256" 2>/dev/null)" != "$want" ]; then
  echo "run.sh: installing $req into $venv" >&2
  [ -x "$py" ] || "${PYTHON:-python3}" -m venv "$venv"
  "$py" -m pip install --quiet --disable-pip-version-check -r "$req"
  echo "$want" > "$venv/.requirements.sha256"
fi

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
again=(); [ "$resume" = 1 ] && again=(--resume)

# The two definitions of the functions agree (and each reaches its known optimum).
"$bin" --points --out "$out/points.jsonl"
points=$("$py" benches/compare/functions.py --verify < "$out/points.jsonl")
echo "run.sh: $points" >&2
points=$(grep -c . "$out/points.jsonl")
"$bin" --list "${ours[@]}" > "$out/list.json"

echo "run.sh: quality, ferrotune" >&2
"$bin" "${ours[@]}" --skip-speed --out "$out/quality-ferrotune.jsonl" "${again[@]}"
echo "run.sh: quality, peers" >&2
"$py" benches/compare/peers.py "${theirs[@]}" --skip-speed --jobs "$jobs" \
  --out "$out/quality-peers.jsonl" "${again[@]}"
files=("$out/quality-ferrotune.jsonl" "$out/quality-peers.jsonl")
if [ "$speed" = 1 ]; then
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
"$py" - "$out/meta.json" <<'PY'
import json, os, subprocess, sys
e = os.environ
versions = json.loads(subprocess.check_output(
    [sys.executable, "benches/compare/peers.py", "--versions"]))
meta = {"command": e["INVOCATION"], "date": e["DATE"], "ferrotune": e["FERROTUNE"],
        "rustc": e["RUSTC"], "machine": e["MACHINE"], "seeds": int(e["SEEDS"]),
        "trials": int(e["TRIALS"]), "points": int(e["POINTS"]), "versions": versions}
json.dump(meta, open(sys.argv[1], "w"), indent=1)
PY
results=(); [ "$write" = 1 ] && results=(--results benches/RESULTS.md)
"$py" benches/compare/render.py --meta "$out/meta.json" --list "$out/list.json" \
  "${results[@]}" "${files[@]}" | tee "$out/section.md"
