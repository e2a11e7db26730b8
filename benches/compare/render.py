"""Renders the comparison's JSON lines as the Markdown section of benches/RESULTS.md.

    render.py --meta META.json --list LIST.json [--mo-list MO-LIST.json]
              [--results benches/RESULTS.md] FILE...

FILEs are the JSON lines of `compare` and `peers.py` (and of their --multi-objective runs,
whose hypervolumes are computed here, for both sides alike). The section is printed; with
--results it also replaces the section `## Search algorithms: quality and speed` of that
file (or is appended when the file has none), and the rest of the file is kept.
Standard library only.

    render.py --self-test     checks the hypervolume by hand and against the true fronts
"""

import argparse
import json
import math
import statistics
import sys
import os
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from benchlib import mean_se, read, sig  # noqa: E402
from benchlib import replace_section as replace_named  # noqa: E402

HEADING = "## Search algorithms: quality and speed"
PEER_ORDER = ["optuna-tpe", "optuna-tpe-independent", "optuna-cmaes", "optuna-random", "hyperopt-tpe", "skopt-gp"]
MO_PEER_ORDER = ["optuna-nsga2", "optuna-tpe", "optuna-tpe-multivariate", "optuna-random"]
# What each multi-objective peer is ({d}: the number of variables).
MO_PEER_TEXT = {
    "optuna-nsga2": "`NSGAIISampler(seed=s)` (its defaults: population 50, uniform crossover "
                    "with probability 0.9, each parameter resampled with probability 1/{d})",
    "optuna-tpe": "`TPESampler(seed=s)` (its defaults, which for several objectives are the "
                  "independent TPE: Optuna 5 turns `multivariate` on by default for a single "
                  "objective only)",
    "optuna-tpe-multivariate": "`TPESampler(seed=s, multivariate=True)`",
    "optuna-random": "`RandomSampler(seed=s)`",
}
# Hypervolume after these many trials (those within the run's trials, and its last).
MO_CHECKPOINTS = [50, 100, 200]
# The multi-objective functions: the reference point of their hypervolume (beyond every
# point of the domain: f1 <= 1 and f2 <= 10 there, so every trial counts) and their Pareto
# front, whose hypervolume r1 r2 - integral_0^1 front(f1) df1 is exact (the region it
# dominates is r2 - front(f1) high over f1 in [0, 1], r2 high over [1, r1]).
MO_FUNCTIONS = {
    "zdt1": dict(title="ZDT1", reference=(1.1, 11.0), front_text="f2 = 1 − √f1 (convex)",
                 front=lambda f1: 1.0 - math.sqrt(f1), front_integral=1.0 / 3.0,
                 integral_text="1/3"),
    "zdt2": dict(title="ZDT2", reference=(1.1, 11.0), front_text="f2 = 1 − f1² (concave)",
                 front=lambda f1: 1.0 - f1 * f1, front_integral=2.0 / 3.0,
                 integral_text="2/3"),
}




def num(x):
    """A bound or an optimum as written: the shortest form, at most 10 significant digits."""
    return f"{x:.10g}"






def row_order(records, peer_order=PEER_ORDER):
    """ferrotune's algorithms as they first appear, then the peers in a fixed order."""
    ours, theirs = [], []
    for r in records:
        key = (r["side"], r["algorithm"], r["label"])
        target = ours if r["side"] == "ferrotune" else theirs
        if key not in target:
            target.append(key)
    rank = {p: i for i, p in enumerate(peer_order)}
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


def hypervolume(points, reference):
    """The area dominated by `points` (both coordinates minimised) and bounded by
    `reference`; points not strictly better than it in both coordinates add nothing."""
    r1, r2 = reference
    inside = sorted((a, b) for a, b in points if a < r1 and b < r2)
    total, level = 0.0, r2
    for a, b in inside:  # by f1, then f2: each point that lowers f2 adds a slab
        if b < level:
            total += (r1 - a) * (level - b)
            level = b
    return total


def true_front_hypervolume(name):
    f = MO_FUNCTIONS[name]
    r1, r2 = f["reference"]
    return r1 * r2 - f["front_integral"]


def mo_checkpoints(trials):
    c = [k for k in MO_CHECKPOINTS if k <= trials]
    if not c or c[-1] != trials:
        c.append(trials)
    return c


def self_test():
    """The hypervolume by hand, and that of a dense sample of each true front close below
    the exact value (which also checks the front integrals)."""
    assert hypervolume([(1.0, 2.0), (2.0, 1.0)], (3.0, 3.0)) == 3.0
    assert hypervolume([(2.0, 1.0), (1.0, 2.0), (2.5, 2.5), (1.0, 2.0)], (3.0, 3.0)) == 3.0
    assert hypervolume([(3.0, 0.0), (0.0, 3.0), (4.0, 4.0)], (3.0, 3.0)) == 0.0
    assert hypervolume([], (3.0, 3.0)) == 0.0
    n = 20000
    for name, f in MO_FUNCTIONS.items():
        sample = [(i / n, f["front"](i / n)) for i in range(n + 1)]
        exact = true_front_hypervolume(name)
        got = hypervolume(sample, f["reference"])
        assert exact - 1e-3 < got <= exact, f"{name}: {got} vs {exact}"


def and_list(items):
    return ", ".join(items[:-1]) + " and " + items[-1] if len(items) > 1 else "".join(items)


def mo_section(records, mo_listing, meta):
    mo = [r for r in records if r["kind"] == "multi-objective"]
    if not mo:
        return []
    names = [f["name"] for f in mo_listing["functions"]] if mo_listing else []
    names += [n for n in dict.fromkeys(r["function"] for r in mo) if n not in names]
    names = [n for n in names if any(r["function"] == n for r in mo)]
    for n in names:
        if n not in MO_FUNCTIONS:
            raise SystemExit(f"render: no reference point for multi-objective function {n!r}")
    seeds = meta.get("mo_seeds", meta["seeds"])
    trials = meta.get("mo_trials", max(r["trials"] for r in mo))
    dims = {f["name"]: len(f["bounds"]) for f in (mo_listing or {}).get("functions", [])}
    d = dims.get(names[0], 30)
    refs = sorted({MO_FUNCTIONS[n]["reference"] for n in names})
    ref_text = " and ".join(f"({num(a)}, {num(b)})" for a, b in refs)
    ours = (mo_listing or {}).get("algorithms") or [
        a for side, a, _ in row_order(mo, MO_PEER_ORDER) if side == "ferrotune"]
    theirs = [MO_PEER_TEXT.get(a, f"`{a}`").format(d=d)
              for side, a, _ in row_order(mo, MO_PEER_ORDER) if side != "ferrotune"]
    points = meta.get("mo_points")
    checked = (f"; both definitions are checked by the run to give the same values at "
               f"{points} points, Pareto-optimal ones among them" if points else "")
    out = [
        "### Multi-objective: " + " and ".join(MO_FUNCTIONS[n]["title"] for n in names)
        + " (hypervolume, higher is better)",
        "",
        f"Each run minimises both objectives of a function sequentially (suggest one point, "
        f"evaluate it, report both values) for {trials} trials, with seeds 0–{seeds - 1} for "
        f"every algorithm. The functions are ZDT1 and ZDT2 (Zitzler, Deb and Thiele 2000) in "
        f"their standard {d}-variable form on [0, 1]^{d}: f1 = x0, g = 1 + 9 (x1 + … + "
        f"x{d - 1}) / {d - 1}, ZDT1 f2 = g (1 − √(f1/g)), ZDT2 f2 = g (1 − (f1/g)²); their "
        f"Pareto fronts are where g = 1 (x1 = … = x{d - 1} = 0), f2 = 1 − √f1 and "
        f"f2 = 1 − f1²{checked}. A cell is the mean ± standard error over the {seeds} seeds of "
        f"the hypervolume dominated by the trials so far, with reference point {ref_text}: "
        f"every point of the domain has f1 ≤ 1 and f2 ≤ 10, so every trial counts. Each run "
        f"records every trial's (f1, f2), and `benches/compare/render.py` computes the "
        f"hypervolumes of both sides alike; the true front's hypervolume for the same "
        f"reference point (exact: r1 × r2 − ∫₀¹ front(f1) df1) is given with each table, to "
        f"judge the gap. ferrotune: {and_list([f'`{a}`' for a in ours])} through `build` "
        f"with `objectives: [Minimize, Minimize]`, each trial reported with both values "
        f"(`TrialView::objectives`). Optuna: `create_study(directions=[\"minimize\", "
        f"\"minimize\"])` with {and_list(theirs)}. *s per run* is the mean wall time of one "
        f"run, function evaluations included.",
        "",
    ]
    for name in names:
        f = MO_FUNCTIONS[name]
        rows = [r for r in mo if r["function"] == name]
        marks = mo_checkpoints(trials)
        expected = max(len({r["seed"] for r in rows if r["algorithm"] == a})
                       for a in {r["algorithm"] for r in rows})
        exact = true_front_hypervolume(name)
        r1, r2 = f["reference"]
        out.append(f"#### {name}: true front {f['front_text']}, hypervolume "
                   f"{sig(exact, 6)} for reference point ({num(r1)}, {num(r2)}) "
                   f"(exact: {num(r1)} × {num(r2)} − {f['integral_text']})")
        out.append("")
        out.append("| algorithm | " + " | ".join(f"HV after {m}" for m in marks)
                   + " | s per run |")
        out.append("|---" * (len(marks) + 2) + "|")
        for side, alg, label in row_order(rows, MO_PEER_ORDER):
            mine = [r for r in rows if r["algorithm"] == alg and r["side"] == side]
            cells = []
            for m in marks:
                vals = [hypervolume(r["values"][:m], f["reference"]) for r in mine
                        if len(r["values"]) >= m]
                cell = mean_se(vals) if vals else "—"
                if vals and len(vals) < expected:
                    cell += f" (n={len(vals)})"
                cells.append(cell)
            wall = statistics.fmean(r["wall_s"] for r in mine)
            out.append(f"| {label} | " + " | ".join(cells) + f" | {sig(wall, 3)} |")
        out.append("")
    return out


def coverage(records, functions, meta):
    """Says which algorithms ran fewer runs than the full grid (a partial, resumed run), and
    which have speed figures only."""
    quality = [r for r in records if r["kind"] == "quality"]
    speed_only = [(side, alg, label) for side, alg, label in
                  row_order([r for r in records if r["kind"] == "speed"])
                  if not any(q["algorithm"] == alg and q["side"] == side for q in quality)]
    want = meta["seeds"]
    names = [fn["name"] for fn in functions]
    out = []
    for side, alg, label in row_order(quality):
        mine = [r for r in quality if r["algorithm"] == alg and r["side"] == side]
        per = {n: len({r["seed"] for r in mine if r["function"] == n}) for n in names}
        done = sum(per.values())
        if done < want * len(names):
            parts = ", ".join(f"{n} {k}" for n, k in per.items() if k)
            out.append(f"- **{label} is partial**: {done} of {want * len(names)} runs "
                       f"({parts or 'none'}); its cells say how many seeds they average (n=…), "
                       f"and functions without a run have no row for it.")
    for side, alg, label in row_order(quality):
        n = meta.get("peer_trials", {}).get(alg)
        if n is not None and n < meta["trials"]:
            walls = [r["wall_s"] for r in quality if r["algorithm"] == alg and r["side"] == side]
            out.append(f"- **{label} ran {n} trials per run** (`--peer-trials {alg}={n}`, "
                       f"{sig(statistics.fmean(walls), 3)} s per run here), so its cells after "
                       f"more trials are empty: each of its suggestions takes longer as the "
                       f"history grows (see the speed table), and the whole grid of "
                       f"{meta['trials']}-trial runs would take many hours.")
    for _, _, label in speed_only:
        out.append(f"- **{label} has speed figures only**: the files of this run hold its speed "
                   f"runs (from `peers.py --skip-quality --resume` into the same `--out-dir`) "
                   f"but none of its quality runs.")
    return out


def quality_stats(records, function, algorithm, mark):
    """(mean, standard error) of the best value after `mark` trials, or None."""
    vals = [r["best"][r["checkpoints"].index(mark)] for r in records
            if r["kind"] == "quality" and r["function"] == function
            and r["algorithm"] == algorithm and mark in r["checkpoints"]]
    if len(vals) < 2:
        return None
    return statistics.fmean(vals), statistics.stdev(vals) / math.sqrt(len(vals))


def speed_median(records, algorithm, size, side):
    r = next((r for r in records if r["kind"] == "speed" and r["algorithm"] == algorithm
              and r["side"] == side and r["history"] == size and r["times_ms"]), None)
    return statistics.median(r["times_ms"]) if r else None


def target_checks(records, functions):
    """The issue's targets, checked against this run's figures: each check says met or
    missed with the numbers (the functions are minimised, so lower is better)."""
    names = [fn["name"] for fn in functions]
    marks = sorted({c for r in records if r["kind"] == "quality" for c in r["checkpoints"]})
    out = ["### Targets, checked against this run", ""]

    def no_worse(ours, theirs):
        # Ours within one of their standard errors of their mean, or better.
        return ours[0] <= theirs[0] + theirs[1]

    def cell(ours, theirs):
        if ours is None or theirs is None:
            return "—"
        if no_worse(ours, theirs):
            return "✓" if ours[0] <= theirs[0] else f"✓ (+{sig(ours[0] - theirs[0], 2)})"
        return f"**worse by {sig(ours[0] - theirs[0], 2)}** (SE {sig(theirs[1], 2)})"

    pairs = [("multivariate-tpe", "optuna-tpe", "`multivariate-tpe` vs Optuna TPE (default)"),
             ("tpe", "optuna-tpe", "`tpe` vs Optuna TPE (default)"),
             ("tpe", "optuna-tpe-independent", "`tpe` vs Optuna TPE (multivariate=False)")]
    out.append("**Quality: ferrotune's TPE no worse than Optuna TPE** (ferrotune's mean at "
               "most one standard error of Optuna's mean above it; ✓ (+d): within it, d "
               "behind). A strict test: two runs of one algorithm with other random streams "
               "fail it in about a quarter of the cells (their means differ by more than one "
               "standard error, one way or the other, with probability 0.48):")
    out.append("")
    out.append("| pair | function | " + " | ".join(f"after {m}" for m in marks) + " |")
    out.append("|---|---" + "|---" * len(marks) + "|")
    verdicts = []
    for ours, theirs, label in pairs:
        met = total = 0
        for fn in names:
            cells = []
            for m in marks:
                a = quality_stats(records, fn, ours, m)
                b = quality_stats(records, fn, theirs, m)
                if a is not None and b is not None:
                    total += 1
                    met += no_worse(a, b)
                cells.append(cell(a, b))
            if any(c != "—" for c in cells):
                out.append(f"| {label} | {fn} | " + " | ".join(cells) + " |")
        if total:
            verdict = "met" if met == total else "**missed**"
            verdicts.append(f"- {label}: no worse in {met} of {total} cells: {verdict}")
    out.append("")
    out += verdicts
    out.append("")

    bo = "bayesianoptimization"
    lines = []
    for fn in names:
        a = quality_stats(records, fn, bo, 50)
        sk = quality_stats(records, fn, "skopt-gp", 50)
        tpe = quality_stats(records, fn, "optuna-tpe", 50)
        if a is None:
            continue
        parts = [f"{fn}: {sig(a[0], 4)} ± {sig(a[1], 2)}"]
        if sk is not None:
            verdict = "met" if no_worse(a, sk) else "**missed**"
            parts.append(f"skopt {sig(sk[0], 4)} ± {sig(sk[1], 2)} ({verdict})")
        if tpe is not None and fn in ("branin", "hartmann6", "rosenbrock5", "styblinski-tang4"):
            verdict = "met" if a[0] < tpe[0] else "**missed**"
            parts.append(f"Optuna TPE {sig(tpe[0], 4)} ({verdict}: better required)")
        lines.append("- " + "; ".join(parts))
    if lines:
        out.append("**Quality: `bayesianoptimization` after 50 trials** at least as good as "
                   "skopt `gp_minimize` (within its standard error), and better than Optuna "
                   "TPE on branin, hartmann6, rosenbrock5 and styblinski-tang4:")
        out.append("")
        out += lines
        out.append("")

    speed_fns = sorted({r["function"] for r in records if r["kind"] == "speed"})
    checks = [("multivariate-tpe", "optuna-tpe", 1000, 20), ("tpe", "optuna-tpe", 1000, 20),
              ("cmaes", "optuna-cmaes", 1000, 5), (bo, "skopt-gp", 200, 10)]
    lines = []
    for ours, theirs, size, factor in checks:
        a = speed_median(records, ours, size, "ferrotune")
        b = speed_median(records, theirs, size, LABEL_SIDE.get(theirs, "optuna"))
        if a is None or b is None:
            continue
        ratio = b / a
        verdict = "met" if ratio >= factor else "**missed**"
        extra = ""
        if ours == bo:
            extra = f"; under 50 ms: {'met' if a < 50 else '**missed**'}"
        lines.append(f"- `{ours}` at {size} trials: {sig(a, 3)} ms against {sig(b, 3)} ms, "
                     f"{sig(ratio, 3)}× faster (target {factor}×: {verdict}{extra})")
    if lines:
        out.append(f"**Speed** (medians of the speed table, {', '.join(speed_fns)}):")
        out.append("")
        out += lines
        out.append("")
    return out


LABEL_SIDE = {"skopt-gp": "skopt", "hyperopt-tpe": "hyperopt"}


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


def section(records, listing, meta, mo_listing=None):
    v = meta["versions"]
    lines = [
        HEADING,
        "",
        f"Command: `{meta['command']}` ({meta['date']}; ferrotune {meta['ferrotune']}; "
        f"{meta['rustc']}; Python {v['python']} with optuna {v['optuna']}, cmaes {v['cmaes']}, "
        f"hyperopt {v['hyperopt']}, scikit-optimize {v['scikit-optimize']}, numpy {v['numpy']} "
        f"(scipy {v['scipy']}, scikit-learn {v['scikit-learn']}); {meta['machine']}).",
        "",
    ]
    single = [r for r in records if r["kind"] in ("quality", "speed")
              or (r["kind"] == "error" and r["phase"] != "multi-objective")]
    if single:
        lines += single_objective(records, listing, meta)
    lines += mo_section(records, mo_listing, meta)
    lines += error_list(records)
    return "\n".join(lines).rstrip() + "\n"


def single_objective(records, listing, meta):
    """The single-objective part: how it runs, its functions, its tables."""
    functions = listing["functions"]
    speed = [r for r in records if r["kind"] == "speed"]
    calls = max((r["calls_requested"] for r in speed), default=0)
    limit = max((r["time_limit_s"] for r in speed), default=0)
    speed_fns = sorted({r["function"] for r in speed})
    seeds = meta["seeds"]
    lines = [
        f"- **Quality**: each run minimises one function sequentially (suggest one point, "
        f"evaluate it, report it) for {meta['trials']} trials, with seeds 0–{seeds - 1} for every "
        f"algorithm. A cell is the mean ± standard error over the {seeds} seeds of the best value "
        f"found after that many trials (lower is better); *s per run* is the mean wall time of "
        f"one run, function evaluations included.",
        "- **ferrotune**: every algorithm in `ferrotune_algorithms::IMPLEMENTED` but `grid` (it "
        "needs stepped doubles) and the schedulers of training runs `hyperband`, `bohb` and `pbt` "
        "(see the early-stopping section), "
        "in-process through `build` and `Suggester::suggest(&history, 1)` "
        "(`benches/compare/src/main.rs`).",
        "- **Peers** (`benches/compare/peers.py`), at their libraries' defaults: Optuna "
        "`TPESampler` (in Optuna 5 the default TPE is multivariate) and, to pair with "
        "ferrotune's `tpe`, `TPESampler(multivariate=False)`; `CmaEsSampler` (it leaves "
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
    lines += coverage(records, functions, meta)
    lines.append("")
    lines.append("| function | dimensions | domain | optimum |")
    lines.append("|---|---|---|---|")
    for fn in functions:
        lines.append(f"| {fn['name']} | {len(fn['bounds'])} | {domain_text(fn['bounds'])} | "
                     f"{num(fn['optimum'])} |")
    lines.append("")
    lines += quality_tables(records, functions, meta)
    lines += speed_table(records, meta)
    lines += target_checks(records, functions)
    return lines




def replace_section(text, new):
    return replace_named(text, new, HEADING)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--meta", help="JSON: command, date, versions, ... (required)")
    ap.add_argument("--list", help="output of `compare --list`")
    ap.add_argument("--mo-list", help="output of `compare --list --multi-objective`")
    ap.add_argument("--results", help="the Markdown file whose section to replace")
    ap.add_argument("--self-test", action="store_true", help="check the hypervolume and exit")
    ap.add_argument("files", nargs="*")
    args = ap.parse_args()
    self_test()
    if args.self_test:
        print("render: the hypervolume agrees with hand-computed values and the true fronts")
        return
    if not args.meta or not args.list or not args.files:
        ap.error("--meta, --list and at least one FILE are required")
    with open(args.meta) as fh:
        meta = json.load(fh)
    with open(args.list) as fh:
        listing = json.load(fh)
    mo_listing = None
    if args.mo_list:
        with open(args.mo_list) as fh:
            mo_listing = json.load(fh)
    # Only this run's settings: with --resume, the files may hold runs of other ones.
    mo_trials = meta.get("mo_trials", meta["trials"])
    mo_seeds = meta.get("mo_seeds", meta["seeds"])
    peer_trials = meta.get("peer_trials", {})
    records = [r for r in read(args.files)
               if not (r["kind"] == "quality"
                       and (r["trials"] != peer_trials.get(r["algorithm"], meta["trials"])
                            or r["seed"] >= meta["seeds"]))
               and not (r["kind"] == "multi-objective"
                        and (r["trials"] != mo_trials or r["seed"] >= mo_seeds))]
    text = section(records, listing, meta, mo_listing)
    sys.stdout.write(text)
    if args.results:
        with open(args.results) as fh:
            old = fh.read()
        with open(args.results, "w") as fh:
            fh.write(replace_section(old, text))
        print(f"render: wrote the section into {args.results}", file=sys.stderr)


if __name__ == "__main__":
    main()
