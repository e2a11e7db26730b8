# Sourced by the benchmarks' run.sh: `bench_venv DIR` makes (or reuses) the venv DIR/.venv
# from DIR/requirements.txt, rebuilt only when that file changes, and sets `py` to its python.
bench_venv() {
  local dir=$1
  local venv=$dir/.venv req=$dir/requirements.txt want
  py=$venv/bin/python
  want=$(sha256sum < "$req")
  if [ ! -x "$py" ] || [ "$(cat "$venv/.requirements.sha256" 2>/dev/null)" != "$want" ]; then
    echo "run.sh: installing $req into $venv" >&2
    [ -x "$py" ] || "${PYTHON:-python3}" -m venv "$venv"
    "$py" -m pip install --quiet --disable-pip-version-check -r "$req"
    echo "$want" > "$venv/.requirements.sha256"
  fi
}
