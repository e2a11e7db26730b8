"""Renders the early-stopping comparison's JSON lines as the Markdown section of
benches/RESULTS.md.

    render.py --meta META.json --curves-dir DIR [--results benches/RESULTS.md] FILE...

FILEs are the JSON lines of `stopping run` and `peers.py`; DIR holds the curve files (for
the problems' own figures: spread of final values, curves that cross). The section is
printed; with --results it also replaces the section
`## Early stopping: steps saved and results kept` of that file (or is appended when the
file has none), and the rest of the file is kept. Standard library only.

    render.py --self-test     checks the section replacement and the formatting
"""

import argparse
import itertools
import json
import math
import os
import statistics
import sys
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from benchlib import mean_se, read, sig  # noqa: E402
from benchlib import replace_section as replace_named  # noqa: E402

HEADING = "## Early stopping: steps saved and results kept"
# Row order: each ferrotune rule next to the Optuna pruner it mirrors.
ORDER = [("ferrotune", "none"), ("optuna", "nop"), ("ferrotune", "medianstop"),
         ("ferrotune", "median"), ("optuna", "median"), ("ferrotune", "asha"),
         ("optuna", "successive-halving"),
         ("ferrotune", "asha@grace_period=10+reduction_factor=3"),
         ("optuna", "successive-halving@min_resource=10+reduction_factor=3"),
         ("ferrotune", "hyperband"),
         ("optuna", "hyperband"), ("ferrotune", "bohb")]
PROBLEM_TITLES = {
    "synthetic": "(a) synthetic learning curves",
    "sgd": "(b) SGDClassifier on digits (replayed real curves)",
}
# The rungs (first rung, reduction factor) of the ASHA and successive-halving rows the main
# table keeps; the others are in the table of settings below it.
MAIN_GRID = (10.0, 3.0)
# Steps at which the curves' order is compared with the final one (the crossing figure).
EARLY_STEP = 10








def label(side, strategy, settings):
    if side == "optuna":
        return f"Optuna {settings}" if settings else f"Optuna {strategy}"
    if strategy == "none":
        return "no stopping (ferrotune's driver)"
    text = f"ferrotune {strategy.split('@')[0]}"
    shown = [(k, v) for k, v in settings or [] if k != "resource_name"]
    if shown:
        text += " (" + ", ".join(f"{k} {v}" for k, v in shown) + ")"
    return text


def rows_of(records):
    keys = []
    for r in records:
        k = (r["side"], r["strategy"])
        if k not in keys:
            keys.append(k)
    rank = {k: i for i, k in enumerate(ORDER)}
    return sorted(keys, key=lambda k: (rank.get(k, len(rank)), keys.index(k)))


def problem_facts(curves_dir, problem, seeds, configs):
    """Figures of the problem itself over the seeds' curve files, or None without them."""
    finals, spread, crossing, full_time, unit, steps = [], [], [], [], None, None
    for seed in range(seeds):
        path = os.path.join(curves_dir, f"{problem}-{seed}.json")
        if not os.path.exists(path):
            return None
        with open(path) as fh:
            c = json.load(fh)
        trials = c["trials"][:configs]
        unit, steps = c["time_unit"], c["steps"]
        f = sorted(t["final"] for t in trials)
        finals.append(f[0])
        spread.append(statistics.median(f))
        early = min(EARLY_STEP, steps) - 1
        pairs = list(itertools.combinations(trials, 2))
        crossing.append(sum((a["values"][early] < b["values"][early]) != (a["final"] < b["final"])
                            for a, b in pairs) / len(pairs))
        full_time.append(statistics.fmean(sum(t["step_times"]) for t in trials))
    return {"best": statistics.fmean(finals), "median": statistics.fmean(spread),
            "crossing": statistics.fmean(crossing), "full_time": statistics.fmean(full_time),
            "unit": unit, "steps": steps, "early": min(EARLY_STEP, steps)}


def problem_table(records, problem, meta, unavailable):
    rows = [r for r in records if r["problem"] == problem and r["kind"] == "run"]
    if not rows and not unavailable:
        return []
    seeds = meta["seeds"]
    total = meta["configs"] * (rows[0]["steps_per_trial"] if rows else 0)
    unit = rows[0]["time_unit"] if rows else ""
    out = ["| strategy | steps consumed | steps saved | makespan (" + unit + ") | "
           "best final value | regret | best config kept | full runs | CPU ms per run |",
           "|---" * 9 + "|"]
    for side, strategy in rows_of(rows):
        mine = [r for r in rows if r["side"] == side and r["strategy"] == strategy]
        n = len(mine)
        note = f" (n={n})" if n < seeds else ""
        found = [r["best_final"] for r in mine if r["best_final"] is not None]
        regret = [r["regret"] for r in mine if r["regret"] is not None]
        best = mean_se(found) + (f" ({len(found)} of {n} seeds)" if len(found) < n else "")
        cells = [
            mean_se([r["steps"] for r in mine], 4) + note,
            f"{100 * (1 - statistics.fmean(r['steps'] for r in mine) / total):.1f} %",
            mean_se([r["makespan"] for r in mine], 4),
            best if found else "none ran all steps",
            mean_se(regret, 3) if regret else "—",
            f"{sum(1 for r in mine if r['found_best'])} of {n}",
            sig(statistics.fmean(r["full_runs"] for r in mine), 3),
            sig(1e3 * statistics.fmean(r["cpu_s"] for r in mine), 3),
        ]
        name = label(side, strategy, mine[0].get("settings"))
        tried = statistics.fmean(r["configs_tried"] for r in mine)
        if tried < meta["configs"]:
            name += f"; {sig(tried, 3)} of {meta['configs']} configurations started"
        if any(r.get("dropped") is not None for r in mine):
            trials = statistics.fmean(r["trials"] for r in mine)
            name += f"; {trials:.0f} trials" if trials == round(trials) else f"; {trials:.1f} trials"
            ran_out = sum(1 for r in mine if r.get("stalled") and r.get("dropped"))
            if ran_out:
                name += (f", ended {'' if ran_out == n else f'in {ran_out} seeds '}when its "
                         f"next bracket found no configuration left")
        stalled = sum(1 for r in mine if r.get("stalled") and not r.get("dropped"))
        if stalled:
            name += f"; stalled in {stalled} seeds (waiting, nothing running)"
        out.append(f"| {name} | " + " | ".join(cells) + " |")
    for u in unavailable:
        out.append(f"| ferrotune {u['strategy']} | not implemented yet | — | — | — | — | — | — | — |")
    out.append("")
    return out


def grid_key(side, strategy):
    """(first rung, reduction factor) of an ASHA or successive-halving row with both set
    (`asha@grace_period=G+reduction_factor=R`, `successive-halving@min_resource=G+...`)."""
    name, _, rest = strategy.partition("@")
    if (side, name) not in (("ferrotune", "asha"), ("optuna", "successive-halving")):
        return None
    kv = dict(p.split("=", 1) for p in rest.split("+") if "=" in p)
    first = kv.get("grace_period" if side == "ferrotune" else "min_resource")
    if first is None or "reduction_factor" not in kv:
        return None
    return (float(first), float(kv["reduction_factor"]))


def summary(rows, side, strategy):
    mine = [r for r in rows if r["side"] == side and r["strategy"] == strategy]
    found = [r["best_final"] for r in mine if r["best_final"] is not None]
    if not mine or len(found) < len(mine):
        return None
    return {"steps": statistics.fmean(r["steps"] for r in mine),
            "best": statistics.fmean(found),
            "regret": statistics.fmean(r["regret"] for r in mine),
            "runs": mine}


def grid_table(records, problem):
    """ferrotune's asha and Optuna's SuccessiveHalvingPruner at the same rungs, side by
    side: the first rung and reduction factor each row names."""
    rows = [r for r in records if r["problem"] == problem and r["kind"] == "run"]
    pairs = {}
    for side, strategy in rows_of(rows):
        k = grid_key(side, strategy)
        if k is not None:
            pairs.setdefault(k, {})[side] = strategy
    both = sorted(k for k, v in pairs.items() if len(v) == 2)
    if not both:
        return []
    out = ["The same rungs on both sides (first rung at step G, then ×R; asha with "
           "`grace_period G, reduction_factor R`, Optuna's "
           "`SuccessiveHalvingPruner(min_resource=G, reduction_factor=R)`):", "",
           "| G, R | ferrotune asha: steps | best final value | regret | "
           "Optuna SH: steps | best final value | regret |", "|---" * 7 + "|"]
    for k in both:
        cells = []
        for side in ("ferrotune", "optuna"):
            mine = [r for r in rows if r["side"] == side and r["strategy"] == pairs[k][side]]
            cells += [mean_se([r["steps"] for r in mine], 4),
                      mean_se([r["best_final"] for r in mine if r["best_final"] is not None]),
                      mean_se([r["regret"] for r in mine if r["regret"] is not None], 3)]
        out.append(f"| {k[0]:g}, {k[1]:g} | " + " | ".join(cells) + " |")
    out.append("")
    means = {(k, side): summary(rows, side, pairs[k][side])
             for k in both for side in ("ferrotune", "optuna")}
    if all(means.values()):
        better = sum(means[k, "ferrotune"]["best"] < means[k, "optuna"]["best"] for k in both)
        fewer = sum(means[k, "optuna"]["steps"] < means[k, "ferrotune"]["steps"] for k in both)
        out += [f"At the same rungs, ferrotune's asha ends with the better final value in "
                f"{better} of {len(both)} settings and Optuna's pruner spends fewer steps in "
                f"{fewer} of {len(both)}: Ray's cutoff, which `asha` follows, is the (1 − 1/R) "
                f"percentile of the values recorded at the rung before the trial, while "
                f"Optuna keeps the best ⌊n/R⌋ of the n trials at the rung, the trial itself "
                f"included, and only the best one while n < R, so it stops more trials.", ""]
    return out


def targets(records, problem, meta):
    """The issue's targets, checked against this run's means for one problem."""
    rows = [r for r in records if r["problem"] == problem and r["kind"] == "run"]
    base = summary(rows, "ferrotune", "none")
    if base is None:
        return []
    limit_steps = base["steps"] / 3
    limit_best = base["best"] + 0.01 * abs(base["best"])
    out = [f"Targets, checked against this run (means over the seeds; no stopping: "
           f"{sig(base['steps'], 4)} steps, best final value {sig(base['best'], 4)}, so "
           f"\"within 1 %\" is a best final value of at most {sig(limit_best, 4)} and "
           f"\"a third of its steps\" at most {sig(limit_steps, 4)}):", ""]
    for family in ("asha", "hyperband"):
        cands = [(st, summary(rows, "ferrotune", st)) for side, st in rows_of(rows)
                 if side == "ferrotune" and st.split("@")[0] == family]
        cands = [(st, m) for st, m in cands if m is not None]
        if not cands:
            continue
        met = [(st, m) for st, m in cands
               if m["best"] <= limit_best and m["steps"] <= limit_steps]
        name = lambda st: label("ferrotune", st, dict(cands)[st]["runs"][0].get("settings"))
        if met:
            st, m = min(met, key=lambda c: c[1]["steps"])
            out.append(f"- `{family}` within 1 % with at most a third of the steps: **met** "
                       f"by {name(st)}: {sig(m['steps'], 4)} steps, best final value "
                       f"{sig(m['best'], 4)} ({len(met)} of its {len(cands)} settings here "
                       f"meet it).")
        else:
            st, m = min(cands, key=lambda c: c[1]["best"])
            out.append(f"- `{family}` within 1 % with at most a third of the steps: "
                       f"**missed** by each of its {len(cands)} settings here; the closest, "
                       f"{name(st)}: {sig(m['steps'], 4)} steps, best final value "
                       f"{sig(m['best'], 4)}.")
    theirs = [(st, summary(rows, "optuna", st)) for side, st in rows_of(rows)
              if side == "optuna" and st != "nop"]
    theirs = [(st, m) for st, m in theirs if m is not None]
    ours = [(st, summary(rows, "ferrotune", st)) for side, st in rows_of(rows)
            if side == "ferrotune" and st != "none"]
    ours = [(st, m) for st, m in ours if m is not None]
    if theirs and ours:
        # Optuna's best pruner: the best final value (fewest steps among equals).
        ost, om = min(theirs, key=lambda c: (c[1]["best"], c[1]["steps"]))
        oname = label("optuna", ost, om["runs"][0].get("settings"))
        good = [(st, m) for st, m in ours if m["best"] <= om["best"]]
        line = (f"- ferrotune's best scheduler against Optuna's best pruner (the best final "
                f"value of the {len(theirs)} pruner runs here: {oname}, {sig(om['best'], 4)} "
                f"with {sig(om['steps'], 4)} steps): ")
        if good:
            st, m = min(good, key=lambda c: c[1]["steps"])
            verdict = "**met**" if m["steps"] < om["steps"] else "**missed**"
            line += (f"{verdict}; the fewest steps for an equal or better final value is "
                     f"{label('ferrotune', st, m['runs'][0].get('settings'))}: "
                     f"{sig(m['steps'], 4)} steps, best final value {sig(m['best'], 4)}.")
        else:
            line += "**missed**: no ferrotune scheduler here reaches that final value."
        out.append(line)
        # Which of Optuna's runs some ferrotune run beats on both counts.
        beaten = [st for st, m in theirs
                  if any(o["best"] <= m["best"] and o["steps"] < m["steps"] for _, o in ours)]
        out.append(f"- Of the {len(theirs)} Optuna pruner runs, {len(beaten)} "
                   f"{'is' if len(beaten) == 1 else 'are'} beaten on both counts (fewer "
                   f"steps for an equal or better final value) by some ferrotune run here.")
    out.append("")
    return out


def agreement(records):
    """Runs where the two sides' identical strategies agree exactly (the check that both
    simulations are the same): no stopping, and ferrotune median against MedianPruner."""
    runs = {(r["side"], r["strategy"], r["problem"], r["seed"]): r
            for r in records if r["kind"] == "run"}
    fields = ("steps", "makespan", "best_final", "full_runs", "stopped")
    out = {}
    for ours, theirs in [("none", "nop"), ("median", "median")]:
        same = total = 0
        for (side, strategy, problem, seed), r in runs.items():
            if side != "ferrotune" or strategy != ours:
                continue
            o = runs.get(("optuna", theirs, problem, seed))
            if o is None:
                continue
            total += 1
            same += all(r[f] == o[f] for f in fields)
        out[ours] = (same, total)
    return out


def same_decisions(records, a, b):
    """Runs where ferrotune strategies `a` and `b` kept the same configurations."""
    runs = {(r["strategy"], r["problem"], r["seed"]): r for r in records
            if r["kind"] == "run" and r["side"] == "ferrotune"}
    same = total = 0
    for (strategy, problem, seed), r in runs.items():
        o = runs.get((b, problem, seed))
        if strategy != a or o is None:
            continue
        total += 1
        same += all(r[f] == o[f] for f in ("steps", "full_runs", "best_final"))
    return same, total


def error_list(records):
    errors = [r for r in records if r["kind"] == "error"]
    if not errors:
        return []
    out = ["Errors (runs that produced no figure):", ""]
    seen = {}
    for r in errors:
        k = (r["side"], r["strategy"], r["problem"], r["message"])
        seen[k] = seen.get(k, 0) + 1
    for (side, strategy, problem, message), n in seen.items():
        out.append(f"- {side} {strategy}, {problem} ({n} seeds): `{message}`")
    out.append("")
    return out


def sgd_note(meta):
    if "sgd_s" not in meta:
        return ""
    if meta["sgd_s"] < 5:
        return ("; the real model's curves were already in the out dir's cache (trained by "
                "`sgd_curves.py` with the same settings before this run)")
    return f"; training the real model's curves took {meta['sgd_s']} s before that"


def section(records, meta, curves_dir):
    v = meta["versions"]
    seeds, configs, workers = meta["seeds"], meta["configs"], meta["workers"]
    runs = [r for r in records if r["kind"] == "run"]
    steps_of = {r["problem"]: r["steps_per_trial"] for r in runs}
    agree = agreement(records)
    lines = [
        HEADING,
        "",
        f"Command: `{meta['command']}` ({meta['date']}; ferrotune {meta['ferrotune']}; "
        f"{meta['rustc']}; Python {v['python']} with optuna {v['optuna']}, scikit-learn "
        f"{v['scikit-learn']}, numpy {v['numpy']}, scipy {v['scipy']}; {meta['machine']}). "
        f"The runs took {meta['ferrotune_s']} s (ferrotune) and {meta['optuna_s']} s (Optuna) "
        f"of wall time" + sgd_note(meta) + ".",
        "",
        f"- **Method**: a discrete-event simulation of {workers} asynchronous workers, the same "
        f"in Rust (`benches/stopping/src/sim.rs`) and Python (`benches/stopping/peers.py`). "
        f"For each seed 0–{seeds - 1} a problem has {configs} fixed configurations, each with "
        f"a learning curve (one value per step) and a time per step, read by both sides from "
        f"the same curve file. The configurations start in the same order on both sides; a "
        f"trial reports its value after every step, each report goes to the rule or pruner at "
        f"once, and a stopped trial frees its worker at that moment for the next "
        f"configuration. Nothing is sampled: every strategy sees the same configurations, so "
        f"the only difference is which trials it stops.",
        "- **Measures** (mean ± standard error over the seeds): *steps consumed*, all trials' "
        "reported steps (*steps saved* against running every configuration to the end); "
        "*makespan*, the simulated time until the last worker is idle (the schedule's wall "
        "time); *best final value*, the best **true** final value among the configurations "
        "that ran all their steps (for the synthetic problem the noise-free value at the last "
        "step, for the real model the measured one); *regret*, that minus the best final "
        "value of all the configurations; *best config kept*, in how many seeds the best "
        "configuration was among those run to the end; *full runs*, configurations run to "
        "the end; *CPU ms per run*, the CPU time of the process over the run (the driver "
        "and the rule or pruner; Optuna's includes its in-memory study), not simulated time.",
        "- **ferrotune** (`benches/stopping/src/main.rs`): the rules through "
        "`ferrotune_algorithms::stopping::build_rule` and `StoppingRule::should_stop(trial, "
        "history)`, the history holding every trial with its intermediate values and status "
        "(Running, Succeeded, EarlyStopped): `medianstop` with Katib's defaults "
        "(start_step 4, min_trials_required 3), `median` with Optuna MedianPruner's defaults "
        "(n_startup_trials 5, n_warmup_steps 0), `asha` with Ray's defaults (grace_period 1, "
        "reduction_factor 4, one bracket) and max_t the number of steps. `hyperband` and "
        "`bohb` are search algorithms (Katib style: they propose configurations with a "
        "resource parameter, `budget`, as their number of steps); each of their new "
        "configurations is the nearest not yet started one of the fixed list and each "
        "promotion is a new trial trained from scratch to its larger budget (or from its "
        "parent's checkpoint, when the algorithm labels the trial with its parent).",
        "- **Optuna** (`benches/stopping/peers.py`): `study.ask()` per trial, "
        "`trial.report(value, step)` and `trial.should_prune()` after every step, "
        "`study.tell(trial, state=PRUNED)` for a pruned one and `study.tell(trial, value)` "
        "after the last step; no `suggest_*` call, so the sampler chooses nothing. Pruners at "
        "their defaults: `NopPruner()`, `MedianPruner()`, `SuccessiveHalvingPruner()` "
        "(min_resource \"auto\", reduction_factor 4), `HyperbandPruner(max_resource=steps)` "
        "(min_resource 1, reduction_factor 3; brackets by a hash of the study name, fixed to "
        "`stopping-<problem>-<seed>`, and the trial number).",
        "- At its last step a trial completes without asking the rule or pruner (stopping it "
        "then would save nothing).",
    ]
    checks = []
    if agree["none"][1]:
        s, t = agree["none"]
        checks.append(f"no stopping gives exactly the same steps, makespan and best value on "
                      f"both sides in {s} of {t} runs")
    if agree["median"][1]:
        s, t = agree["median"]
        checks.append(f"ferrotune's `median` and Optuna's `MedianPruner()` stop the same "
                      f"trials (same steps, makespan, runs and best value) in {s} of {t} runs")
    if checks:
        lines.append("- **Same simulation on both sides**: " + "; ".join(checks) + ".")
    same, total = same_decisions(records, "hyperband", "bohb")
    if total:
        hb = next(r for r in records if r["kind"] == "run" and r["strategy"] == "hyperband")
        st = dict(hb["settings"])
        text = (f"- **hyperband and bohb** kept the same configurations (same steps, full runs "
                f"and best value) in {same} of {total} runs")
        every = all(r["configs_tried"] == configs for r in records
                    if r["kind"] == "run" and r["strategy"] in ("hyperband", "bohb"))
        if same == total and every:
            text += (f": with a fixed budget of {configs} configurations the schedule decides, "
                     f"not the model. Hyperband's first bracket (eta {st.get('eta')}, r_l "
                     f"{st.get('r_l')}) starts its configurations at the smallest budget and "
                     f"takes all {configs}, so the order in which BOHB's model proposes them "
                     f"cannot change which are promoted, and the next bracket finds none left")
        lines.append(text + ".")
    lines.append("")
    for problem in dict.fromkeys([r["problem"] for r in records if "problem" in r]):
        unavailable = [r for r in records if r["kind"] == "unavailable"
                       and r["problem"] == problem]
        lines.append(f"### {PROBLEM_TITLES.get(problem, problem)}")
        lines.append("")
        facts = problem_facts(curves_dir, problem, seeds, configs) if curves_dir else None
        steps = steps_of.get(problem, facts["steps"] if facts else "?")
        if problem == "synthetic":
            lines.append(
                f"Power-law curves towards a configuration-dependent asymptote, {steps} steps, "
                f"minimised (`benches/stopping/src/curves.rs`): for a configuration (lr "
                f"log-uniform in [1e-3, 1], width uniform in [0, 1], momentum uniform in "
                f"[0, 0.95], optimizer SGD or Adam), value(step) = a + (2.3 − a)·(1 + "
                f"step/τ)^−α + σ·z, with u = log10 lr, u* = −1.3 (SGD) or −2.5 (Adam), "
                f"a = 0.05 + 0.35·(1 − width)² + 0.1·(u − u*)² (+ 0.04 for Adam), τ = "
                f"15·10^(−0.8(u + 1.5))·(0.5 + width)·(0.3 for Adam)/(1 + momentum), α = 0.7 + "
                f"momentum, σ = 0.01 + 0.04·√lr and z a standard normal drawn from (seed, "
                f"configuration, step) by splitmix64 and Box–Muller. A step takes (0.5 + "
                f"1.5·width)·(1.1 for Adam) time units. High learning rates are fast early and "
                f"end worse, wide models slow and better, so curves cross. The true final "
                f"value is the noise-free value at the last step.")
        elif problem == "sgd":
            lines.append(
                f"**Replayed real curves**: `benches/stopping/sgd_curves.py` trains "
                f"scikit-learn's `SGDClassifier(loss=\"log_loss\")` with one `partial_fit` "
                f"per epoch, {steps} epochs, on `load_digits` (1,797 images, a fixed "
                f"stratified 75/25 train/validation split, `StandardScaler` fitted on the "
                f"training part), for every configuration of every seed (alpha log-uniform in "
                f"[1e-6, 1e-1], eta0 log-uniform in [1e-4, 1], learning_rate among constant, "
                f"optimal, invscaling and adaptive, penalty among l2, l1 and elasticnet, "
                f"l1_ratio uniform in [0, 1], average false or true; random_state from the "
                f"seed and the configuration), and records the validation log-loss after each "
                f"epoch (a diverged model scores −ln ε = 36.04) and the seconds each epoch "
                f"took (the `partial_fit` call and the validation loss, measured on this "
                f"machine). Training happens once, before the comparison; both sides then "
                f"replay these recorded curves in the simulation, each step taking its "
                f"epoch's measured seconds, so the makespan is in simulated seconds. The true "
                f"final value is the measured validation loss after the last epoch.")
        if facts:
            lines.append("")
            lines.append(
                f"Over the {seeds} seeds: the best configuration's final value is "
                f"{sig(facts['best'], 4)} on average and the median configuration's "
                f"{sig(facts['median'], 4)}; {100 * facts['crossing']:.0f} % of the pairs of "
                f"configurations are in a different order at step {facts['early']} than at "
                f"the end; one configuration run to the end takes "
                f"{sig(facts['full_time'], 3)} {facts['unit']} on average"
                + (f" (the recorded epochs of all {seeds * configs} configurations add up "
                   f"to {sig(facts['full_time'] * seeds * configs / 60, 3)} minutes of "
                   f"training)" if problem == "sgd" else "") + ".")
        lines.append("")
        grid = {grid_key(r["side"], r["strategy"]) for r in records
                if r["kind"] == "run" and r["problem"] == problem} - {None}
        shown = [r for r in records if r["kind"] != "run" or r["problem"] != problem
                 or grid_key(r["side"], r["strategy"]) is None
                 or grid_key(r["side"], r["strategy"]) == MAIN_GRID or not grid]
        lines += problem_table(shown, problem, meta, unavailable)
        lines += grid_table(records, problem)
        lines += targets(records, problem, meta)
    lines += error_list(records)
    return "\n".join(lines).rstrip() + "\n"




def self_test():
    doc = "# R\n\n## A\n\na\n\n" + HEADING + "\n\nold\n\n## B\n\nb\n"
    new = HEADING + "\n\nnew\n"
    got = replace_section(doc, new)
    assert got == "# R\n\n## A\n\na\n\n" + HEADING + "\n\nnew\n\n## B\n\nb\n", got
    assert replace_section("# R\n", new) == "# R\n\n" + new
    assert replace_section(replace_section("# R\n", new), new) == "# R\n\n" + new
    assert sig(0.0001234, 3) == "1.23e-04" and sig(1234.5, 3) == "1230" and sig(0.5, 2) == "0.50"
    assert mean_se([1.0, 3.0]) == "2.000 ± 1.0"


def replace_section(text, new):
    return replace_named(text, new, HEADING)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--meta", help="JSON: command, date, versions, ... (required)")
    ap.add_argument("--curves-dir", help="the curve files, for the problems' own figures")
    ap.add_argument("--results", help="the Markdown file whose section to replace")
    ap.add_argument("--self-test", action="store_true")
    ap.add_argument("files", nargs="*")
    args = ap.parse_args()
    self_test()
    if args.self_test:
        print("render: section replacement and formatting check out")
        return
    if not args.meta or not args.files:
        ap.error("--meta and at least one FILE are required")
    with open(args.meta) as fh:
        meta = json.load(fh)
    problems = set(meta["problems"])
    # Only this run's settings: with --resume, the files may hold runs of other ones.
    records = [r for r in read(args.files)
               if r.get("problem") in problems
               and not (r["kind"] in ("run", "error")
                        and (r["seed"] >= meta["seeds"]
                             or r.get("configs", meta["configs"]) != meta["configs"]
                             or r.get("workers", meta["workers"]) != meta["workers"]))]
    # One "not implemented" line per (problem, strategy), and none once it has runs.
    ran = {(r["side"], r["problem"], r["strategy"]) for r in records if r["kind"] == "run"}
    seen, kept = set(), []
    for r in records:
        if r["kind"] == "unavailable":
            k = (r["side"], r["problem"], r["strategy"])
            if k in ran or k in seen:
                continue
            seen.add(k)
        kept.append(r)
    text = section(kept, meta, args.curves_dir)
    sys.stdout.write(text)
    if args.results:
        with open(args.results) as fh:
            old = fh.read()
        with open(args.results, "w") as fh:
            fh.write(replace_section(old, text))
        print(f"render: wrote the section into {args.results}", file=sys.stderr)


if __name__ == "__main__":
    main()
