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

# The Python SDK trial code imports (sdk/python): (re)installed in the venv when its files
# change, then its unit tests (a real gRPC server in the test process); a failure stops here.
sdk_want=$(find sdk/python/pyproject.toml sdk/python/ferrotune -type f ! -path '*/__pycache__/*' -print0 | sort -z | xargs -0 sha256sum | sha256sum | cut -d' ' -f1)
if [ "$(cat "$venv/.sdk.sha256" 2>/dev/null)" != "$sdk_want" ]; then
  say "installing the Python SDK (sdk/python) in the test venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check ./sdk/python
  echo "$sdk_want" > "$venv/.sdk.sha256"
fi
say "running the Python SDK's tests (sdk/python/tests)"
sdk_log=$(mktemp)
if "$venv/bin/python3" -m unittest discover -s sdk/python/tests >"$sdk_log" 2>&1; then
  grep -E '^(Ran|OK)' "$sdk_log" | paste -sd' ' >&2
  rm -f "$sdk_log"
else
  cat "$sdk_log" >&2
  rm -f "$sdk_log"
  exit 1
fi

# PostgreSQL for the store's PostgreSQL tests (crates/store/tests/postgres.rs), which read
# its URL from FERROTUNE_TEST_POSTGRES and fail without it.
pg_url="${FERROTUNE_TEST_POSTGRES:-postgres://postgres@127.0.0.1:5432/test}"
skip_args=()
skip_note=""
pg_answers() {
  # psql proves the database and the user too; pg_isready only that the server is up.
  if command -v psql >/dev/null; then
    psql "$pg_url" -qAtc 'select 1' >/dev/null 2>&1
  else
    pg_isready -q -h 127.0.0.1 -p 5432 -U postgres -d test >/dev/null 2>&1
  fi
}
if pg_answers; then
  say "PostgreSQL answers at $pg_url: running the PostgreSQL store tests"
  export FERROTUNE_TEST_POSTGRES="$pg_url"
elif [ "${CI:-}" = "true" ]; then
  say "ERROR: PostgreSQL is not reachable at $pg_url"
  echo "CI=true: the PostgreSQL store tests must run; start PostgreSQL and retry." >&2
  exit 1
else
  say "WARNING: PostgreSQL not reachable at $pg_url: skipping the PostgreSQL store tests"
  echo "  (start PostgreSQL at 127.0.0.1:5432 with user postgres and database test to run them)" >&2
  skip_args=(--skip postgres_store::)
  skip_note="PostgreSQL not reachable"
fi

say "building"
cargo build --workspace --all-targets --release --quiet 2>&1 | tail -n 20

say "running the tests"
# Release mode: the sweeps and the crash test run real processes and a real SQLite file.
log=$(mktemp)
trap 'rm -f "$log"' EXIT
status=0
cargo test --workspace --release --no-fail-fast -- --test-threads=2 ${skip_args[@]+"${skip_args[@]}"} 2>&1 | tee "$log" || status=$?
# One closing line over every test binary.
# When PostgreSQL is missing, its tests are filtered out: they count as skipped, loudly.
awk '/^test result:/ { for (i = 1; i <= NF; i++) { if ($(i+1) ~ /^passed/) p += $i; if ($(i+1) ~ /^failed/) f += $i; if ($(i+1) ~ /^ignored/) s += $i; if ($(i+1) ~ /^filtered/) fo += $i } }
     END { extra = ""; if (note != "") { s += fo; extra = sprintf(" (%d PostgreSQL store tests SKIPPED: %s)", fo, note) }
           printf "\nall tests: %d passed, %d failed, %d skipped%s\n", p, f, s, extra }' note="$skip_note" "$log"
exit "$status"
