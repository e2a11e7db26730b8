"""Renders the comparison's JSON lines as the Markdown section of benches/RESULTS.md.

    render.py --meta META.json --list LIST.json [--results benches/RESULTS.md] FILE...

FILEs are the JSON lines of `compare` and `peers.py`. The section is printed; with
--results it also replaces the section `## Search algorithms: quality and speed` of that
file (or is appended when the file has none), and the rest of the file is kept.
Standard library only.
"""

import argparse
import json
import math
import statistics
import sys

HEADING = "## Search algorithms: quality and speed"
PEER_ORDER = ["optuna-tpe", "optuna-cmaes", "optuna-random", "hyperopt-tpe", "skopt-gp"]


def sig(x, digits):
    """x with `digits` significant digits, without an exponent between 1e-3 and 1e7."""
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "—"
    if x == 0:
        return "0"
    if math.isinf(x):
        return "∞" if x > 0 else "−∞"
    e = math.floor(math.log10(abs(x)))
    if e < -3 or e >= 7:
        return f"{x:.{digits - 1}e}"
    if digits - 1 - e < 0:
        return f"{round(x, digits - 1 - e):.0f}"
    return f"{x:.{digits - 1 - e}f}"


def num(x):
    """A bound or an optimum as written: the shortest form, at most 10 significant digits."""
    return f"{x:.10g}"


def mean_se(values):
    m = statistics.fmean(values)
    if len(values) < 2:
        return f"{sig(m, 4)}"
    se = statistics.stdev(values) / math.sqrt(len(values))
    return f"{sig(m, 4)} ± {sig(se, 2)}"


def read(paths):
    records = []
    for p in paths:
        with open(p) as fh:
            for line in fh:
                line = line.strip()
                if not line:
                    continue
                try:
                    records.append(json.loads(line))
                except ValueError:
                    print(f"render: skipping a line cut short in {p}", file=sys.stderr)
    return records


def row_order(records):
    """ferrotune's algorithms as they first appear, then the peers in a fixed order."""
    ours, theirs = [], []
    for r in records:
        key = (r["side"], r["algorithm"], r["label"])
        target = ours if r["side"] == "ferrotune" else theirs
        if key not in target:
            target.append(key)
    rank = {p: i for i, p in enumerate(PEER_ORDER)}
    theirs.sort(key=lambda k: (rank.get(k[1], len(rank)), k[1]))
    return ours + theirs


def domain_text(bounds):
    def one(b):
        if b["type"] == "real":
            return f"[{num(b['low'])}, {num(b['high'])}]"
        if b["type"] == "int":
            return f"{{{b['low']}, …, {b['high']}}} (int)"
        return "{" + ", ".join(num(v) for v in b["values"]) + "} (categorical)"

    groups = []  # (first index, last index, text)
    for i, b in enumerate(bounds):
        t = one(b)
        if groups and groups[-1][2] == t:
            groups[-1] = (groups[-1][0], i, t)
        else:
            groups.append((i, i, t))
    if len(groups) == 1 and bounds[0]["type"] == "real":
        return f"{groups[0][2]}^{len(bounds)}" if len(bounds) > 1 else groups[0][2]
    parts = []
    for a, b, t in groups:
        name = f"x{a}" if a == b else f"x{a}–x{b}"
        parts.append(f"{name} ∈ {t}")
    return ", ".join(parts)


def quality_tables(records, functions, meta):
    quality = [r for r in records if r["kind"] == "quality"]
    out = []
    for fn in functions:
        name = fn["name"]
        rows = [r for r in quality if r["function"] == name]
        if not rows:
            continue
        marks = sorted({c for r in rows for c in r["checkpoints"]})
        expected = max(len({r["seed"] for r in rows if r["algorithm"] == a}) for a in
                       {r["algorithm"] for r in rows})
        out.append(f"### {name} (optimum {num(fn['optimum'])})")
        out.append("")
        out.append("| algorithm | " + " | ".join(f"best after {m}" for m in marks)
                   + " | s per run |")
        out.append("|---" * (len(marks) + 2) + "|")
        for side, alg, label in row_order(rows):
            mine = [r for r in rows if r["algorithm"] == alg and r["side"] == side]
            cells = []
            for m in marks:
                vals = [r["best"][r["checkpoints"].index(m)] for r in mine
                        if m in r["checkpoints"] and r["best"][r["checkpoints"].index(m)] is not None]
                cell = mean_se(vals) if vals else "—"
                if vals and len(vals) < expected:
                    cell += f" (n={len(vals)})"
                cells.append(cell)
            wall = statistics.fmean(r["wall_s"] for r in mine)
            out.append(f"| {label} | " + " | ".join(cells) + f" | {sig(wall, 3)} |")
        out.append("")
    return out


def speed_table(records, meta):
    speed = [r for r in records if r["kind"] == "speed"]
    if not speed:
        return []
    out = []
    for name in sorted({r["function"] for r in speed}, key=[r["function"] for r in speed].index):
        rows = [r for r in speed if r["function"] == name]
        sizes = sorted({r["history"] for r in rows})
        out.append(f"### Speed: ms per suggestion ({name})")
        out.append("")
        out.append("| algorithm | " + " | ".join(f"history {s}" for s in sizes) + " |")
        out.append("|---" * (len(sizes) + 1) + "|")
        for side, alg, label in row_order(rows):
            cells = []
            for s in sizes:
                r = next((r for r in rows if r["algorithm"] == alg and r["side"] == side
                          and r["history"] == s), None)
                if r is None:
                    cells.append("—")
                    continue
                t = r["times_ms"]
                limit = num(r["time_limit_s"])
                if not t:
                    cells.append(f"> {limit} s (no call finished)")
                    continue
                cell = sig(statistics.median(t), 3)
                if r["timed_out"]:
                    cell += f" ({len(t)} of {r['calls_requested']} calls in {limit} s)"
                cells.append(cell)
            out.append(f"| {label} | " + " | ".join(cells) + " |")
        out.append("")
    return out


def error_list(records):
    errors = [r for r in records if r["kind"] == "error"]
    if not errors:
        return []
    out = ["Errors (runs that produced no figure):", ""]
    seen = set()
    for r in errors:
        key = (r["label"], r["function"], r["phase"], r["message"])
        n = sum(1 for e in errors if (e["label"], e["function"], e["phase"], e["message"]) == key)
        if key in seen:
            continue
        seen.add(key)
        times = f" ({n} seeds)" if n > 1 else ""
        out.append(f"- {r['label']}, {r['function']}, {r['phase']}{times}: `{r['message']}`")
    out.append("")
    return out


def section(records, listing, meta):
    v = meta["versions"]
    functions = listing["functions"]
    speed = [r for r in records if r["kind"] == "speed"]
    calls = max((r["calls_requested"] for r in speed), default=0)
    limit = max((r["time_limit_s"] for r in speed), default=0)
    speed_fns = sorted({r["function"] for r in speed})
    seeds = meta["seeds"]
    lines = [
        HEADING,
        "",
        f"Command: `{meta['command']}` ({meta['date']}; ferrotune {meta['ferrotune']}; "
        f"{meta['rustc']}; Python {v['python']} with optuna {v['optuna']}, cmaes {v['cmaes']}, "
        f"hyperopt {v['hyperopt']}, scikit-optimize {v['scikit-optimize']}, numpy {v['numpy']} "
        f"(scipy {v['scipy']}, scikit-learn {v['scikit-learn']}); {meta['machine']}).",
        "",
        f"- **Quality**: each run minimises one function sequentially (suggest one point, "
        f"evaluate it, report it) for {meta['trials']} trials, with seeds 0–{seeds - 1} for every "
        f"algorithm. A cell is the mean ± standard error over the {seeds} seeds of the best value "
        f"found after that many trials (lower is better); *s per run* is the mean wall time of "
        f"one run, function evaluations included.",
        "- **ferrotune**: every algorithm in `ferrotune_algorithms::IMPLEMENTED` but `grid`, "
        "in-process through `build` and `Suggester::suggest(&history, 1)` "
        "(`benches/compare/src/main.rs`).",
        "- **Peers** (`benches/compare/peers.py`), at their libraries' defaults: Optuna "
        "`TPESampler` (in Optuna 5 the default TPE is multivariate), `CmaEsSampler` (it leaves "
        "categorical parameters to its independent sampler), `RandomSampler`; hyperopt "
        "`fmin(algo=tpe.suggest)`; scikit-optimize `gp_minimize`.",
        f"- **Functions**: the same definitions on both sides (`benches/compare/src/functions.rs`, "
        f"`benches/compare/functions.py`), checked by the run to give the same values at "
        f"{meta['points']} points, each also checked at its known optimum.",
    ]
    if speed:
        lines.append(
            f"- **Speed**: wall time of one suggestion, median of {calls} calls, after a history "
            f"of that many trials on {', '.join(speed_fns)} (each call's trial then joins the "
            f"history). ferrotune: one `suggest` call; Optuna: `study.ask()` and the trial's "
            f"`suggest_*` calls; hyperopt: one `fmin` step; skopt: `Optimizer.tell` and `ask` "
            f"(the GP fit and acquisition search that make the next point, as `gp_minimize` "
            f"does). Histories are random points (ferrotune: its random search's; Optuna: "
            f"`study.add_trials`; hyperopt: a random-search `fmin`; skopt: one `tell`), except "
            f"Optuna CmaEs's, which is a run of its own since its state lives in its trials. A "
            f"case stops {num(limit)} s after its history is ready, and says so in its cell."
        )
    lines.append("")
    lines.append("| function | dimensions | domain | optimum |")
    lines.append("|---|---|---|---|")
    for fn in functions:
        lines.append(f"| {fn['name']} | {len(fn['bounds'])} | {domain_text(fn['bounds'])} | "
                     f"{num(fn['optimum'])} |")
    lines.append("")
    lines += quality_tables(records, functions, meta)
    lines += speed_table(records, meta)
    lines += error_list(records)
    return "\n".join(lines).rstrip() + "\n"


def replace_section(text, new):
    lines = text.splitlines(keepends=True)
    start = next((i for i, l in enumerate(lines) if l.rstrip("\n") == HEADING), None)
    if start is None:
        return text.rstrip("\n") + "\n\n" + new
    end = next((i for i in range(start + 1, len(lines)) if lines[i].startswith("## ")),
               len(lines))
    tail = "".join(lines[end:])
    return "".join(lines[:start]) + new + ("\n" + tail if tail else "")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--meta", required=True, help="JSON: command, date, versions, ...")
    ap.add_argument("--list", required=True, help="output of `compare --list`")
    ap.add_argument("--results", help="the Markdown file whose section to replace")
    ap.add_argument("files", nargs="+")
    args = ap.parse_args()
    with open(args.meta) as fh:
        meta = json.load(fh)
    with open(args.list) as fh:
        listing = json.load(fh)
    # Only this run's settings: with --resume, the files may hold runs of other ones.
    records = [r for r in read(args.files)
               if r["kind"] != "quality"
               or (r["trials"] == meta["trials"] and r["seed"] < meta["seeds"])]
    text = section(records, listing, meta)
    sys.stdout.write(text)
    if args.results:
        with open(args.results) as fh:
            old = fh.read()
        with open(args.results, "w") as fh:
            fh.write(replace_section(old, text))
        print(f"render: wrote the section into {args.results}", file=sys.stderr)


if __name__ == "__main__":
    main()
