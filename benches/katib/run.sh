#!/usr/bin/env bash
# Katib-compatible GetSuggestions with a long history: median and p99 end-to-end latency of
# `ferrotune server` from a Python grpcio client, beside Optuna's ask time for the same
# history, in the same run.
#
#   benches/katib/run.sh                     the full run (1,000 trials, 200 timed calls)
#   benches/katib/run.sh --calls 20 --asks 20 --no-write      a quick one
#
# Options (all optional):
#   --history N        completed trials in each request (default 1000)
#   --warmup N         untimed calls (and untimed Optuna asks) first (default 20)
#   --calls N          timed GetSuggestions calls per algorithm (default 200)
#   --asks N           timed Optuna asks per sampler (default 200)
#   --algorithms a,b   of multivariate-tpe,tpe,random,cmaes (default all four), each paired
#                      with its Optuna sampler: TPESampler() (multivariate in Optuna 5),
#                      TPESampler(multivariate=False), RandomSampler(), CmaEsSampler()
#   --out-dir DIR      where the raw times and the section go (default target/katib-bench)
#   --no-write         print the section, leave benches/RESULTS.md alone
#
# It makes (or reuses) a venv in benches/katib/.venv with requirements.txt (grpcio,
# grpcio-tools, optuna 5.0, pinned), builds `ferrotune` in release, starts
# `ferrotune server --listen 127.0.0.1:0` (its database in --out-dir; the address from its
# first stderr line, less any http://), runs bench.py (stubs generated from
# proto/katib/api.proto at run time), stops the server with SIGTERM (it must exit 0), and writes the section
# "## Katib GetSuggestions latency" of benches/RESULTS.md (the rest is kept).
set -euo pipefail
invocation="benches/katib/run.sh${*:+ $*}"
cd "$(dirname "$0")/../.."

history=1000 warmup=20 calls=200 asks=200 algorithms="" out=target/katib-bench write=1
while [ $# -gt 0 ]; do
  case "$1" in
    --history) history=$2; shift ;;
    --warmup) warmup=$2; shift ;;
    --calls) calls=$2; shift ;;
    --asks) asks=$2; shift ;;
    --algorithms) algorithms=$2; shift ;;
    --out-dir) out=$2; shift ;;
    --no-write) write=0 ;;
    -h|--help) sed -n '2,/^set -e/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) echo "run.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
  esac
  shift
done

# The client's venv, rebuilt when requirements.txt changes.
. benches/venv.sh
bench_venv benches/katib
"$py" benches/katib/bench.py --self-test >&2

cargo build --release --quiet -p ferrotune-cli
bin=${CARGO_TARGET_DIR:-target}/release/ferrotune
mkdir -p "$out"

# The server, on a free loopback port; its first stderr line says where.
log=$out/server.log
rm -f "$out/server.db" "$out/server.db-wal" "$out/server.db-shm"
"$bin" server --listen 127.0.0.1:0 --db "$out/server.db" 2> "$log" &
server=$!
stop_server() {
  if kill -0 "$server" 2>/dev/null; then kill -TERM "$server" 2>/dev/null || true; fi
}
trap stop_server EXIT
addr=""
for _ in $(seq 100); do
  addr=$(sed -n '1s/^ferrotune server listening on \(http:\/\/\)\{0,1\}\([^ ]*\).*/\2/p' "$log")
  [ -n "$addr" ] && break
  kill -0 "$server" 2>/dev/null || { echo "run.sh: the server exited:" >&2; cat "$log" >&2; exit 1; }
  sleep 0.1
done
[ -n "$addr" ] || { echo "run.sh: the server did not say where it listens:" >&2; cat "$log" >&2; exit 1; }
echo "run.sh: ferrotune server (pid $server) on $addr" >&2

# What the section says about the run.
commit=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
[ -n "$(git status --porcelain --untracked-files=no 2>/dev/null)" ] && commit="$commit with uncommitted changes"
version=$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -1)
mem=$(awk '/MemTotal/ {printf "%.0f GiB", $2 / 1048576}' /proc/meminfo)
cpu=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)
INVOCATION=$invocation DATE=$(date -u +%Y-%m-%d) FERROTUNE="$version at commit $commit" \
RUSTC=$(rustc --version) MACHINE="$(nproc) cores${cpu:+ ($cpu)}, $mem" \
"$py" - "$out/meta.json" <<'PY'
import json, os, sys
e = os.environ
json.dump({"command": e["INVOCATION"], "date": e["DATE"], "ferrotune": e["FERROTUNE"],
           "rustc": e["RUSTC"], "machine": e["MACHINE"]}, open(sys.argv[1], "w"), indent=1)
PY

opts=(--address "$addr" --history "$history" --warmup "$warmup" --calls "$calls"
      --asks "$asks" --meta "$out/meta.json" --json "$out/times.json")
[ -n "$algorithms" ] && opts+=(--algorithms "$algorithms")
[ "$write" = 1 ] && opts+=(--results benches/RESULTS.md)
start=$SECONDS
# A long-running client's heap for the Python process (the client and Optuna alike): see
# bench.py's section text.
MALLOC_TOP_PAD_=${MALLOC_TOP_PAD_:-16777216} "$py" benches/katib/bench.py "${opts[@]}" \
  | tee "$out/section.md"
echo "run.sh: measured in $((SECONDS - start)) s" >&2

# SIGTERM stops the server cleanly: it must exit 0.
trap - EXIT
kill -TERM "$server"
status=0
wait "$server" || status=$?
if [ "$status" != 0 ]; then
  echo "run.sh: the server exited with status $status after SIGTERM:" >&2
  cat "$log" >&2
  exit 1
fi
echo "run.sh: the server stopped on SIGTERM (exit 0)" >&2
