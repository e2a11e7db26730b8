#!/usr/bin/env bash
# The one command that installs what the tests need and runs them all.
#
#   ./scripts/test.sh
#
# - a Python venv in .venv with the packages trial code and examples use (cached: it is
#   rebuilt only when scripts/requirements-test.txt changes);
# - the whole workspace's tests, with that venv's python3 first on PATH, so that real
#   sweeps run real trial processes (including the scikit-learn example).
# Services the tests need are found or started here: PostgreSQL (found), a Ray head
# (started from the venv) and a Kubernetes control plane (etcd and kube-apiserver from
# ../shared/tools/kube-control-plane), both stopped at the end; under CI=true a missing
# service is a failure.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

say() { printf '\n== %s\n' "$*" >&2; }

# Whatever this script started goes away when it ends, failed or not.
log=""
ray_dir=""
kube_dir=""
kube_tool="$root/../shared/tools/kube-control-plane"
tests_pid=""
cleanup() {
  if [ -n "$kube_dir" ]; then
    "$kube_tool/stop" "$kube_dir" >/dev/null 2>&1 || true
    rm -rf "$kube_dir"
  fi
  [ -n "$tests_pid" ] && pkill -KILL -s "$tests_pid" 2>/dev/null
  [ -n "$log" ] && rm -f "$log"
  if [ -n "$ray_dir" ]; then
    "$root/scripts/ray-head.sh" stop "$ray_dir" || true
  fi
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

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
# Tests of a service that is missing are filtered out by name (and counted as skipped,
# loudly); under CI=true a missing service is a failure instead.
skip_args=()
skip_notes=()
# Whether the server's suites run a second time over PostgreSQL (below).
pg_server_pass=""
# A service that is not there: under CI=true the run fails; otherwise its tests (module
# FILTER) are skipped, loudly. missing SERVICE TESTS HINT FILTER NOTE
missing() {
  if [ "${CI:-}" = "true" ]; then
    say "ERROR: $1"
    echo "CI=true: the $2 must run; $3" >&2
    exit 1
  fi
  say "WARNING: $1: skipping the $2"
  echo "  ($3)" >&2
  skip_args+=(--skip "$4")
  skip_notes+=("$5")
}
pg_answers() {
  # psql proves the database and the user too; pg_isready only that the server is up.
  if command -v psql >/dev/null; then
    psql "$pg_url" -qAtc 'select 1' >/dev/null 2>&1
  else
    pg_isready -q -h 127.0.0.1 -p 5432 -U postgres -d test >/dev/null 2>&1
  fi
}
if pg_answers; then
  say "PostgreSQL answers at $pg_url: running the PostgreSQL store tests, and the server's suites over PostgreSQL too"
  export FERROTUNE_TEST_POSTGRES="$pg_url"
  pg_server_pass=1
else
  missing "PostgreSQL is not reachable at $pg_url" "PostgreSQL store tests" \
    "start PostgreSQL at 127.0.0.1:5432 with user postgres and database test to run them" \
    postgres_store:: "PostgreSQL not reachable"
fi

# A Ray head on loopback for the Ray runner's tests (module ray_cluster in
# crates/runners/tests/ray.rs and crates/cli/tests/ray.rs), which read its dashboard's
# address from FERROTUNE_TEST_RAY and fail without it. It runs from the venv (its jobs run
# the venv's python3, with the SDK), with free ports and its temp dir under target/ (short:
# Ray's socket paths are limited), and is stopped when this script ends.
ray_dir="${CARGO_TARGET_DIR:-$root/target}/ray"
if [ "${#ray_dir}" -gt 40 ]; then
  ray_dir=$(mktemp -d /tmp/ferrotune-ray.XXXXXX)
fi
if command -v ray >/dev/null && ray_url=$("$root/scripts/ray-head.sh" start "$ray_dir"); then
  say "Ray answers at $ray_url: running the Ray runner tests"
  export FERROTUNE_TEST_RAY="$ray_url"
else
  missing "could not start a Ray head (ray from $venv)" "Ray runner tests" \
    "scripts/requirements-test.txt installs ray[default] in the venv; see the messages above" \
    ray_cluster:: "Ray not started"
fi

# A Kubernetes API server on loopback for the tests of Katib's SetTrialStatus (module
# kube_cluster in crates/server/tests/katib_kube.rs), which read its admin kubeconfig from
# FERROTUNE_TEST_KUBECONFIG and fail without it. The tool builds kube-apiserver from
# Debian's sources once (some 5 minutes; cached in ~/.cache/kube-control-plane).
start_kube() {
  [ -x "$kube_tool/start" ] || { echo "  (no $kube_tool)" >&2; return 1; }
  # The tool's apt-get downloads take an installed package's version as the one to fetch;
  # where this machine has a newer security update installed (rsync) than bookworm's main
  # carries, its lists do not have that version. An empty dpkg status makes apt take theirs.
  local cfg built=""
  cfg=$(mktemp -d)
  : > "$cfg/status"
  echo "Dir::State::status \"$cfg/status\";" > "$cfg/apt.conf"
  APT_CONFIG="$cfg/apt.conf" "$kube_tool/build" >/dev/null && built=1
  rm -rf "$cfg"
  [ -n "$built" ] && kube_dir=$("$kube_tool/start")
}
if start_kube; then
  say "a Kubernetes API server answers ($kube_dir): running the Kubernetes tests"
  export FERROTUNE_TEST_KUBECONFIG="$kube_dir/kubeconfig"
else
  missing "could not start a Kubernetes control plane ($kube_tool)" "Kubernetes tests" \
    "../shared/tools/kube-control-plane builds and starts one; see the messages above" \
    kube_cluster:: "Kubernetes control plane not started"
fi

say "building"
cargo build --workspace --all-targets --release --quiet 2>&1 | tail -n 20

say "running the tests"
# Release mode: the sweeps and the crash test run real processes and a real SQLite file.
log=$(mktemp)
status=0
# In a session of its own, writing to a file that `tail` shows as it grows: a process a
# failed test left running (a server whose test panicked before stopping it) can then
# neither hang this script nor outlive it. It is killed afterwards, and named, since
# leaving one behind is a bug of that test.
# With PostgreSQL, the server's suites (crates/server/tests) then run again with every test
# server over PostgreSQL instead of SQLite (FERROTUNE_TEST_SERVER_STORE, read by their
# common::test_store), so that each gRPC behaviour is checked over both backends.
PG_SERVER_PASS="$pg_server_pass" setsid bash -c '
  status=0
  cargo test --workspace --release --no-fail-fast -- --test-threads=2 "$@" || status=$?
  if [ -n "$PG_SERVER_PASS" ]; then
    echo "== the server suites again, every test server over PostgreSQL"
    # By target name over the workspace, so that the binaries built above are reused
    # (`-p ferrotune-server` alone resolves features apart and builds them again).
    targets=()
    for t in crates/server/tests/*.rs; do targets+=(--test "$(basename "$t" .rs)"); done
    FERROTUNE_TEST_SERVER_STORE=postgres cargo test --workspace --release --no-fail-fast \
      "${targets[@]}" -- --test-threads=2 "$@" || status=$?
  fi
  exit "$status"' bash ${skip_args[@]+"${skip_args[@]}"} > "$log" 2>&1 &
tests_pid=$!
tail -n +1 -f --pid="$tests_pid" "$log" &
tail_pid=$!
wait "$tests_pid" || status=$?
wait "$tail_pid" || true
if left=$(pgrep -a -s "$tests_pid"); then
  say "killing what the tests left running (a test did not stop its processes):"
  echo "$left" >&2
  pkill -KILL -s "$tests_pid" || true
fi
tests_pid=""
# The schemas the server suites made on PostgreSQL (common::pg_schema), dropped.
if [ -n "$pg_server_pass" ] && command -v psql >/dev/null; then
  psql "$pg_url" -qAtc "select format('drop schema %I cascade;', schema_name) from information_schema.schemata where schema_name like 'ferrotune\_srv\_%'" \
    | psql "$pg_url" -q >/dev/null 2>&1 || true
fi
# One closing line over every test binary.
# When a service is missing, its tests are filtered out: they count as skipped, loudly.
skip_note=$(IFS=';'; echo "${skip_notes[*]-}" | sed 's/;/; /g')
awk '/^test result:/ { for (i = 1; i <= NF; i++) { if ($(i+1) ~ /^passed/) p += $i; if ($(i+1) ~ /^failed/) f += $i; if ($(i+1) ~ /^ignored/) s += $i; if ($(i+1) ~ /^filtered/) fo += $i } }
     END { extra = ""; if (note != "") { s += fo; extra = sprintf(" (%d tests SKIPPED: %s)", fo, note) }
           printf "\nall tests: %d passed, %d failed, %d skipped%s\n", p, f, s, extra }' note="$skip_note" "$log"
exit "$status"
