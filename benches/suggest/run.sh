#!/usr/bin/env bash
# Time per suggestion, in-process, with criterion: every algorithm at 100, 500 and 1000
# trials of history, in a 6-D continuous space and a mixed 5-D one
# (algorithms/benches/suggest.rs); writes the section "## Suggestion time (criterion)" of
# benches/RESULTS.md (the rest is kept). Peers' figures for the same history sizes come
# from benches/compare (its speed table), which runs Optuna, hyperopt and scikit-optimize.
#
#   benches/suggest/run.sh [--no-write]
set -euo pipefail
cd "$(dirname "$0")/../.."
write=1
[ "${1:-}" = "--no-write" ] && write=0
cargo bench -p ferrotune-algorithms --bench suggest -- --noplot 2>&1 | grep -E "^suggest/|time:" || true
target=${CARGO_TARGET_DIR:-target}
commit=$(git rev-parse --short HEAD)
[ -n "$(git status --porcelain --untracked-files=no)" ] && commit="$commit with uncommitted changes"
COMMIT=$commit TARGET=$target WRITE=$write DATE=$(date -u +%Y-%m-%d) RUSTC=$(rustc --version) \
MACHINE="$(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2 / 1048576}' /proc/meminfo)" \
python3 - <<'PY'
import json, os, pathlib, re
e = os.environ
root = pathlib.Path(e["TARGET"]) / "criterion"
rows = {}
for est in root.glob("suggest_*/*/*/new/estimates.json"):
    space = est.parts[-5].removeprefix("suggest_")
    algo, n = est.parts[-4], int(est.parts[-3])
    median = json.loads(est.read_text())["median"]["point_estimate"] / 1e6  # ns -> ms
    rows.setdefault((space, algo), {})[n] = median
def fmt(ms):
    return f"{ms:.3g}" if ms >= 0.01 else f"{ms:.2e}"
lines = ["## Suggestion time (criterion)", "",
         f"Command: `benches/suggest/run.sh` ({e['DATE']}; ferrotune at commit {e['COMMIT']}; "
         f"{e['RUSTC']}; {e['MACHINE']}).", "",
         "Median wall time of one `Suggester::suggest(&history, 1)` call, in milliseconds, "
         "in-process (criterion, 20 samples; `algorithms/benches/suggest.rs`), with a history of "
         "finished trials drawn by random search and scored by a sphere. *continuous-6d*: six "
         "doubles in [-5, 5]; *mixed-5d*: three doubles, an int in [1, 64] (log) and a "
         "categorical of 4. The peers' times per suggestion at the same history sizes are in "
         "the speed table of \"Search algorithms: quality and speed\" above (hartmann6, 6-D), "
         "measured by `benches/compare/run.sh`.", ""]
for space in sorted({s for s, _ in rows}):
    lines += [f"### {space}", "", "| algorithm | 100 trials | 500 trials | 1000 trials |",
              "|---|---|---|---|"]
    for (s, algo), by in sorted(rows.items()):
        if s == space:
            lines.append(f"| {algo} | " + " | ".join(fmt(by[n]) if n in by else "—"
                                                      for n in (100, 500, 1000)) + " |")
    lines.append("")
section = "\n".join(lines).rstrip() + "\n"
print(section)
if e["WRITE"] == "1":
    path = pathlib.Path("benches/RESULTS.md")
    text = path.read_text()
    start = text.find("## Suggestion time (criterion)")
    if start < 0:
        text = text.rstrip() + "\n\n" + section
    else:
        end = text.find("\n## ", start + 3)
        text = text[:start] + section + ("\n" + text[end + 1:] if end >= 0 else "")
    path.write_text(text)
PY
