#!/usr/bin/env bash
# Metric ingestion: points per second that trials push into `ferrotune server` (collector
# Push), through ReportStream batches and unary Report calls, with 1, 8 and 64 trials
# reporting at once, into SQLite and into PostgreSQL; every point counted back from the
# database. Peer, same run: Optuna's trial.report into SQLite.
#
#   benches/ingest/run.sh                                the full run
#   benches/ingest/run.sh --reps 1 --stream-points 100000 --unary-points 5000 --no-write
#
# Options (all optional; the others are passed to `ingest bench`, see `ingest bench --help`):
#   --backends a,b         sqlite,postgres (default both)
#   --modes a,b            stream,unary (default both)
#   --concurrency a,b      trials reporting at once (default 1,8,64)
#   --stream-points N      points of a stream run, shared out among its trials (default 1,000,000)
#   --unary-points N       points of a unary run (default 100,000)
#   --reps N               runs of each case; the median is reported (default 3)
#   --postgres URL         the database each PostgreSQL case makes a fresh schema in
#                          (default postgres://postgres@127.0.0.1:5432/test; dropped after)
#   --max-load X           before each run, wait for the 1-minute load average to fall
#                          below X (default 1.0), for at most --load-wait seconds (default 300)
#   --no-peer              leave out Optuna
#   --no-write             print the section, leave benches/RESULTS.md alone
#
# It makes (or reuses) a venv in benches/ingest/.venv with requirements.txt (optuna 5.0,
# pinned), builds `ferrotune` and `ingest` (package ferrotune-bench-ingest) in release,
# runs the cases (each: a fresh `ferrotune server --listen 127.0.0.1:0`, one experiment a
# repetition whose trials are `ingest report` processes), then optuna_peer.py, and writes
# the section "## Metric ingestion (points per second)" of benches/RESULTS.md (the rest
# is kept). Raw figures: target/ingest-bench/runs.json.
set -euo pipefail
invocation="benches/ingest/run.sh${*:+ $*}"
cd "$(dirname "$0")/../.."

peer=1 write=1 pass=()
while [ $# -gt 0 ]; do
  case "$1" in
    --no-peer) peer=0 ;;
    --no-write) write=0 ;;
    -h|--help) sed -n '2,/^set -e/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) pass+=("$1") ;;
  esac
  shift
done

opts=()
if [ "$peer" = 1 ]; then
  . benches/venv.sh
  bench_venv benches/ingest
  opts+=(--python "$py")
fi
[ "$write" = 1 ] && opts+=(--results benches/RESULTS.md)

cargo build --release --quiet -p ferrotune-cli -p ferrotune-bench-ingest
target=${CARGO_TARGET_DIR:-target}
exec "$target/release/ingest" bench --ferrotune "$target/release/ferrotune" \
  --invocation "$invocation" "${opts[@]}" "${pass[@]}"
