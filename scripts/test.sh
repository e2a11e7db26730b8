#!/usr/bin/env bash
# The one command that installs what the tests need and runs them all.
#
#   ./scripts/test.sh
#
# - a Python venv in .venv with the packages trial code and examples use (cached: it is
#   rebuilt only when scripts/requirements-test.txt changes);
# - the whole workspace's tests, with that venv's python3 first on PATH, so that real
#   sweeps run real trial processes (including the scikit-learn example).
# Services that later issues need (PostgreSQL, a Ray head, a Kubernetes API server) are
# started here too as they arrive; under CI=true a missing service is a failure.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

say() { printf '\n== %s\n' "$*" >&2; }

venv="${FERROTUNE_TEST_VENV:-$root/.venv}"
req="$root/scripts/requirements-test.txt"
stamp="$venv/.requirements.sha256"
want=$(sha256sum "$req" | cut -d' ' -f1)
if [ ! -x "$venv/bin/python3" ] || [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  say "creating the test venv in $venv (scripts/requirements-test.txt)"
  rm -rf "$venv"
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check --upgrade pip
  "$venv/bin/pip" install --quiet --disable-pip-version-check -r "$req"
  echo "$want" > "$stamp"
else
  say "test venv is up to date"
fi
export PATH="$venv/bin:$PATH"
"$venv/bin/python3" -c 'import sklearn, numpy; print("python3:", __import__("sys").version.split()[0], "scikit-learn", sklearn.__version__)' >&2

say "building"
cargo build --workspace --all-targets --release --quiet 2>&1 | tail -n 20

say "running the tests"
# Release mode: the sweeps and the crash test run real processes and a real SQLite file.
log=$(mktemp)
trap 'rm -f "$log"' EXIT
status=0
cargo test --workspace --release --no-fail-fast -- --test-threads=2 2>&1 | tee "$log" || status=$?
# One closing line over every test binary.
awk '/^test result:/ { for (i = 1; i <= NF; i++) { if ($(i+1) ~ /^passed/) p += $i; if ($(i+1) ~ /^failed/) f += $i; if ($(i+1) ~ /^ignored/) s += $i } }
     END { printf "\nall tests: %d passed, %d failed, %d skipped\n", p, f, s }' "$log"
exit "$status"
