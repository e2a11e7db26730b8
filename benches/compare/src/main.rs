//! `compare`: ferrotune's search algorithms on the comparison's test functions, in-process.
//!
//! For every (function, algorithm, seed) it runs a sequential ask/tell loop through
//! `ferrotune_algorithms::build` and `Suggester::suggest(&history, 1)` and records the best
//! value after 25, 50, 100 and 200 trials; then, for every algorithm, the wall time of one
//! `suggest` call with 100, 500 and 1000 trials of history. With `--multi-objective` it runs
//! the multi-objective functions (ZDT1, ZDT2) instead, with both objectives minimised, and
//! records every trial's objective vector (`render.py` computes the hypervolumes). Each
//! result is one JSON line, in the format `peers.py` writes for Optuna, hyperopt and
//! scikit-optimize; `run.sh` runs both and renders the tables of benches/RESULTS.md.

mod functions;

use anyhow::{Context, Result, bail, ensure};
use clap::Parser;
use ferrotune_algorithms::{
    AlgorithmContext, IMPLEMENTED, MULTI_OBJECTIVE, Suggester, Suggestions, build,
};
use ferrotune_core::{Assignment, ObjectiveType, ParamValue, SearchSpace, TrialStatus, TrialView};
use functions::{Bound, MultiObjectiveFunction, TestFunction};
use serde_json::{Value, json};
use std::collections::HashSet;
use std::fs::{File, OpenOptions};
use std::io::{self, BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// Best-so-far is recorded after these many trials (those within `--trials`, and
/// `--trials` itself).
const CHECKPOINTS: [usize; 4] = [25, 50, 100, 200];

/// Algorithms left out: grid search needs stepped doubles, which these functions are not;
/// hyperband, bohb and pbt schedule budgets and checkpoints of training runs, which plain
/// functions do not have (benches/stopping compares hyperband and bohb on learning curves).
const SKIPPED: &[&str] = &["grid", "hyperband", "bohb", "pbt"];

/// The multi-objective part's algorithms by default: NSGA-II, multi-objective TPE and
/// random search as the baseline. A name `build` does not know yet (say, `nsga2` before it
/// exists) gives one error record per run, which the section lists.
const MULTI_OBJECTIVE_DEFAULT: &[&str] = &["nsga2", "multivariate-tpe", "random"];

/// Seed of the random search that makes the synthetic histories of the speed runs, and of
/// the points `--points` prints.
const SYNTHETIC_SEED: u64 = 20_261_123;

#[derive(Parser, Debug)]
#[command(
    name = "compare",
    about = "ferrotune's search algorithms on the comparison's test functions, in-process; \
             one JSON line per result (see benches/compare/run.sh)"
)]
struct Args {
    /// Seeds per (function, algorithm): 0, 1, …, N−1.
    #[arg(long, default_value_t = 20)]
    seeds: u64,
    /// Trials per run; best-so-far is recorded after 25, 50, 100, 200 of them (those up to
    /// this number) and after the last.
    #[arg(long, default_value_t = 200)]
    trials: usize,
    /// Functions to run, comma-separated (default: all; see --list). With
    /// --multi-objective: multi-objective functions (default: zdt1, zdt2).
    #[arg(long, value_delimiter = ',')]
    functions: Vec<String>,
    /// ferrotune algorithms to run, comma-separated (default: every implemented one but grid, hyperband, bohb, pbt).
    /// With --multi-objective: default nsga2, multivariate-tpe, random.
    #[arg(long, value_delimiter = ',')]
    algorithms: Vec<String>,
    /// Write the JSON lines here instead of stdout.
    #[arg(long)]
    out: Option<PathBuf>,
    /// Keep the results already in --out and run only the missing ones.
    #[arg(long, requires = "out")]
    resume: bool,
    /// History sizes at which suggest is timed, comma-separated.
    #[arg(long, value_delimiter = ',', default_value = "100,200,500,1000")]
    speed_sizes: Vec<usize>,
    /// Timed suggest calls per (algorithm, history size); each adds its trial to the history.
    #[arg(long, default_value_t = 5)]
    speed_calls: usize,
    /// Functions whose search space the speed runs use, comma-separated.
    #[arg(long, value_delimiter = ',', default_value = "hartmann6")]
    speed_functions: Vec<String>,
    /// Seconds after which a speed case makes no further calls (and says so).
    #[arg(long, default_value_t = 120.0)]
    speed_time_limit: f64,
    /// Run only the speed part.
    #[arg(long, conflicts_with = "skip_speed")]
    skip_quality: bool,
    /// Run only the quality part.
    #[arg(long)]
    skip_speed: bool,
    /// Print every function's value at fixed points (its optima and random points), for
    /// `functions.py --verify`, and exit.
    #[arg(long)]
    points: bool,
    /// Print the functions and algorithms that would run, and exit.
    #[arg(long)]
    list: bool,
    /// Reads a history of the one function given with --functions (JSON lines
    /// `{"x": [...], "y": value}`, real-valued parameters only) and prints, for each
    /// algorithm and seed 0..--seeds, the suggestion a fresh instance makes from it
    /// (`"kind": "next"`, with its point and value), then exits: `same_history.py` asks
    /// Optuna the same, to compare two samplers on identical histories.
    #[arg(long)]
    suggest_from: Option<PathBuf>,
    /// The multi-objective part instead: every objective of each multi-objective function
    /// minimised, one JSON line per run with every trial's objective vector. --points and
    /// --list then print the multi-objective functions; there is no speed part.
    #[arg(long)]
    multi_objective: bool,
}

fn main() -> Result<()> {
    let args = Args::parse();
    if args.multi_objective {
        return multi_objective_main(&args);
    }
    let functions = pick_functions(&args.functions)?;
    let algorithms = pick_algorithms(&args.algorithms)?;
    let speed_functions = pick_functions(&args.speed_functions)?;
    if args.list {
        let describe = |f: &&TestFunction| {
            json!({"name": f.name, "bounds": bounds_json(f.bounds), "optimum": f.optimum,
                   "argmin": f.argmin})
        };
        let names = |fs: &[&TestFunction]| fs.iter().map(|f| f.name).collect::<Vec<_>>();
        println!(
            "{}",
            json!({"functions": functions.iter().map(describe).collect::<Vec<_>>(),
                   "algorithms": algorithms, "speed_functions": names(&speed_functions)})
        );
        return Ok(());
    }
    let mut out = Output::open(args.out.as_ref(), args.resume)?;
    if let Some(path) = &args.suggest_from {
        return suggest_from(path, &functions, &algorithms, args.seeds, &mut out);
    }
    if args.points {
        for f in &functions {
            for (x, value) in fixed_points(f)? {
                out.write(&json!({"kind": "point", "function": f.name, "x": x, "value": value}))?;
            }
        }
        return Ok(());
    }
    if !args.skip_quality {
        ensure!(args.trials > 0, "--trials must be at least 1");
        for f in &functions {
            for alg in &algorithms {
                every_seed(
                    &mut out,
                    &args,
                    "quality",
                    (f.name, alg),
                    |seed| quality_key(alg, f.name, seed, args.trials),
                    |seed| quality_run(f, alg, seed, args.trials),
                )?;
            }
        }
    }
    if !args.skip_speed {
        let limit = Duration::from_secs_f64(args.speed_time_limit);
        for f in &speed_functions {
            for alg in &algorithms {
                for &size in &args.speed_sizes {
                    if out.done.contains(&speed_key(alg, f.name, size)) {
                        continue;
                    }
                    let record = match speed_run(f, alg, size, args.speed_calls, limit) {
                        Ok(r) => r,
                        Err(e) => error_record(alg, f.name, "speed", None, &e),
                    };
                    let times: Vec<f64> = record["times_ms"]
                        .as_array()
                        .map(|t| t.iter().filter_map(Value::as_f64).collect())
                        .unwrap_or_default();
                    eprintln!(
                        "compare: speed {} / {alg} / {size}: {:.4} ms median of {} calls{}",
                        f.name,
                        median(&times),
                        times.len(),
                        if record["timed_out"] == true {
                            " (timed out)"
                        } else {
                            ""
                        }
                    );
                    out.write(&record)?;
                }
            }
        }
    }
    Ok(())
}

/// The median (NaN for none).
fn median(xs: &[f64]) -> f64 {
    let mut v = xs.to_vec();
    v.sort_by(f64::total_cmp);
    match v.len() {
        0 => f64::NAN,
        n if n % 2 == 1 => v[n / 2],
        n => (v[n / 2 - 1] + v[n / 2]) / 2.0,
    }
}

/// `--multi-objective`: the listing, the fixed points or the runs of the multi-objective
/// part.
fn multi_objective_main(args: &Args) -> Result<()> {
    let functions = pick_multi_functions(&args.functions)?;
    let algorithms = pick_multi_algorithms(&args.algorithms)?;
    if args.list {
        let described: Vec<Value> = functions
            .iter()
            .map(|f| {
                json!({"name": f.name, "bounds": bounds_json(f.bounds),
                       "objectives": f.objectives})
            })
            .collect();
        println!(
            "{}",
            json!({"functions": described, "algorithms": algorithms})
        );
        return Ok(());
    }
    let mut out = Output::open(args.out.as_ref(), args.resume)?;
    if args.points {
        for f in &functions {
            for (x, values) in multi_fixed_points(f)? {
                out.write(&json!({"kind": "mo-point", "function": f.name, "x": x,
                                  "values": values}))?;
            }
        }
        return Ok(());
    }
    ensure!(args.trials > 0, "--trials must be at least 1");
    for f in &functions {
        for alg in &algorithms {
            every_seed(
                &mut out,
                args,
                "multi-objective",
                (f.name, alg),
                |seed| multi_key(alg, f.name, seed, args.trials),
                |seed| multi_objective_run(f, alg, seed, args.trials),
            )?;
        }
    }
    Ok(())
}

/// The domain of a function, as `--list` prints it for `render.py`.
fn bounds_json(bounds: &[Bound]) -> Vec<Value> {
    bounds
        .iter()
        .map(|b| match *b {
            Bound::Real(lo, hi) => json!({"type": "real", "low": lo, "high": hi}),
            Bound::Int(lo, hi) => json!({"type": "int", "low": lo, "high": hi}),
            Bound::Categorical(v) => json!({"type": "categorical", "values": v}),
        })
        .collect()
}

fn pick_multi_functions(names: &[String]) -> Result<Vec<&'static MultiObjectiveFunction>> {
    if names.is_empty() {
        return Ok(functions::MULTI.iter().collect());
    }
    names
        .iter()
        .map(|n| {
            functions::multi_by_name(n).with_context(|| {
                let known: Vec<_> = functions::MULTI.iter().map(|f| f.name).collect();
                format!(
                    "unknown multi-objective function {n:?} (known: {})",
                    known.join(", ")
                )
            })
        })
        .collect()
}

/// The multi-objective part's algorithms: those `ferrotune_algorithms::MULTI_OBJECTIVE`
/// lists (but grid) and the default ones, known to `build` yet or not.
fn pick_multi_algorithms(names: &[String]) -> Result<Vec<String>> {
    if names.is_empty() {
        return Ok(MULTI_OBJECTIVE_DEFAULT
            .iter()
            .map(|s| s.to_string())
            .collect());
    }
    let mut available: Vec<&str> = MULTI_OBJECTIVE
        .iter()
        .copied()
        .filter(|a| !SKIPPED.contains(a))
        .collect();
    for a in MULTI_OBJECTIVE_DEFAULT {
        if !available.contains(a) {
            available.push(a);
        }
    }
    for n in names {
        if !available.contains(&n.as_str()) {
            bail!(
                "algorithm {n:?} is not one the multi-objective part runs (available: {})",
                available.join(", ")
            );
        }
    }
    Ok(names.to_vec())
}

fn pick_functions(names: &[String]) -> Result<Vec<&'static TestFunction>> {
    if names.is_empty() {
        return Ok(functions::ALL.iter().collect());
    }
    names
        .iter()
        .map(|n| {
            functions::by_name(n).with_context(|| {
                let known: Vec<_> = functions::ALL.iter().map(|f| f.name).collect();
                format!("unknown function {n:?} (known: {})", known.join(", "))
            })
        })
        .collect()
}

fn pick_algorithms(names: &[String]) -> Result<Vec<String>> {
    let available: Vec<&str> = IMPLEMENTED
        .iter()
        .copied()
        .filter(|a| !SKIPPED.contains(a))
        .collect();
    if names.is_empty() {
        return Ok(available.iter().map(|s| s.to_string()).collect());
    }
    for n in names {
        if !available.contains(&n.as_str()) {
            bail!(
                "algorithm {n:?} is not one this comparison runs (available: {})",
                available.join(", ")
            );
        }
    }
    Ok(names.to_vec())
}

fn suggester(f: &TestFunction, algorithm: &str, seed: u64) -> Result<Box<dyn Suggester>> {
    build_suggester(f.name, f.space(), 1, algorithm, seed)
}

/// `algorithm` on `space`, every one of the `objectives` minimised.
fn build_suggester(
    function: &str,
    space: SearchSpace,
    objectives: usize,
    algorithm: &str,
    seed: u64,
) -> Result<Box<dyn Suggester>> {
    build(AlgorithmContext {
        algorithm: algorithm.to_string(),
        space,
        objectives: vec![ObjectiveType::Minimize; objectives],
        seed,
        settings: vec![],
    })
    .with_context(|| format!("building {algorithm:?} for {function}"))
}

/// The one new assignment of a `suggest(history, 1)` answer, checked against the space.
fn one(answer: Suggestions, space: &SearchSpace, history: &[TrialView]) -> Result<Assignment> {
    match answer {
        Suggestions::Trials(mut v) if v.len() == 1 => {
            let a = v.remove(0).parameters;
            ensure!(space.contains(&a), "suggestion {a:?} is outside the space");
            Ok(a)
        }
        Suggestions::Trials(v) => bail!("asked for 1 suggestion, got {}", v.len()),
        Suggestions::Wait => bail!("the algorithm waits in a sequential run"),
        Suggestions::Assignments(mut v) if v.len() == 1 => {
            let a = v.remove(0);
            ensure!(space.contains(&a), "suggestion {a:?} is outside the space");
            Ok(a)
        }
        Suggestions::Assignments(v) => bail!("asked for 1 suggestion, got {}", v.len()),
        Suggestions::Exhausted => bail!("exhausted after {} trials", history.len()),
    }
}

fn trial(a: Assignment, value: f64, i: usize) -> TrialView {
    TrialView {
        name: format!("t{i}"),
        parameters: a,
        status: TrialStatus::Succeeded,
        objective: Some(value),
        objectives: Vec::new(),
        intermediate: vec![],
        labels: Default::default(),
    }
}

fn checkpoints(trials: usize) -> Vec<usize> {
    let mut c: Vec<usize> = CHECKPOINTS.into_iter().filter(|&c| c <= trials).collect();
    if c.last() != Some(&trials) {
        c.push(trials);
    }
    c
}

fn label(algorithm: &str) -> String {
    format!("ferrotune {algorithm}")
}

/// Each algorithm's next suggestion from the history in `path`, for seeds 0..`seeds`: a
/// fresh instance each time, as a sampler asked once.
fn suggest_from(
    path: &Path,
    functions: &[&TestFunction],
    algorithms: &[String],
    seeds: u64,
    out: &mut Output,
) -> Result<()> {
    let [f] = functions else {
        bail!("--suggest-from takes exactly one function (--functions NAME)");
    };
    let space = f.space();
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let mut history = Vec::new();
    for (i, line) in text.lines().filter(|l| !l.trim().is_empty()).enumerate() {
        let at = || format!("{}: line {}", path.display(), i + 1);
        let v: Value = serde_json::from_str(line).with_context(at)?;
        let x: Vec<f64> = serde_json::from_value(v["x"].clone())
            .with_context(|| format!("{}: \"x\" must be a list of numbers", at()))?;
        let y = v["y"]
            .as_f64()
            .with_context(|| format!("{}: \"y\" must be a number", at()))?;
        ensure!(
            x.len() == space.parameters.len(),
            "{}: {} has {} parameters, \"x\" has {}",
            at(),
            f.name,
            space.parameters.len(),
            x.len()
        );
        let a = Assignment(
            space
                .parameters
                .iter()
                .zip(&x)
                .map(|(p, &x)| (p.name.clone(), ParamValue::Float(x)))
                .collect(),
        );
        ensure!(
            space.contains(&a),
            "{}: {x:?} is outside {}'s space (real-valued parameters only)",
            at(),
            f.name
        );
        history.push(trial(a, y, i));
    }
    for alg in algorithms {
        for seed in 0..seeds {
            let mut s = suggester(f, alg, seed)?;
            let a = one(s.suggest(&history, 1)?, &space, &history)?;
            out.write(&json!({
                "kind": "next", "side": "ferrotune", "algorithm": alg, "function": f.name,
                "seed": seed, "history": history.len(), "x": f.point(&a)?, "value": f.value(&a)?,
            }))?;
        }
    }
    Ok(())
}

/// One sequential run: `trials` times suggest one, evaluate it, add it to the history.
fn quality_run(f: &TestFunction, algorithm: &str, seed: u64, trials: usize) -> Result<Value> {
    let start = Instant::now();
    let mut s = suggester(f, algorithm, seed)?;
    let mut history = Vec::with_capacity(trials);
    let mut best = f64::INFINITY;
    let mut best_after = Vec::new();
    let marks = checkpoints(trials);
    for i in 0..trials {
        let a = one(s.suggest(&history, 1)?, &f.space(), &history)?;
        let y = f.value(&a)?;
        best = best.min(y);
        history.push(trial(a, y, i));
        if marks.contains(&(i + 1)) {
            best_after.push(best);
        }
    }
    Ok(json!({
        "kind": "quality", "side": "ferrotune", "algorithm": algorithm, "label": label(algorithm),
        "function": f.name, "seed": seed, "trials": trials, "checkpoints": marks,
        "best": best_after, "wall_s": start.elapsed().as_secs_f64(),
    }))
}

/// One sequential multi-objective run: `trials` times suggest one, evaluate every
/// objective, add the trial (with all its values) to the history. The record holds every
/// trial's objective vector in order; `render.py` computes the hypervolumes from them.
fn multi_objective_run(
    f: &MultiObjectiveFunction,
    algorithm: &str,
    seed: u64,
    trials: usize,
) -> Result<Value> {
    let start = Instant::now();
    let space = f.space();
    let mut s = build_suggester(f.name, space.clone(), f.objectives, algorithm, seed)?;
    let mut history = Vec::with_capacity(trials);
    let mut values = Vec::with_capacity(trials);
    for i in 0..trials {
        let a = one(s.suggest(&history, 1)?, &space, &history)?;
        let v = f.values(&a)?;
        history.push(TrialView {
            name: format!("t{i}"),
            parameters: a,
            status: TrialStatus::Succeeded,
            objective: Some(v[0]),
            objectives: v.clone(),
            intermediate: vec![],
            labels: Default::default(),
        });
        values.push(v);
    }
    Ok(json!({
        "kind": "multi-objective", "side": "ferrotune", "algorithm": algorithm,
        "label": label(algorithm), "function": f.name, "seed": seed, "trials": trials,
        "values": values, "wall_s": start.elapsed().as_secs_f64(),
    }))
}

/// Wall time of `calls` suggest calls after a history of `size` random points (evaluated
/// on `f`); each call's trial joins the history, as in a real sweep. Calls stop once
/// `limit` has passed, and the record says so.
fn speed_run(
    f: &TestFunction,
    algorithm: &str,
    size: usize,
    calls: usize,
    limit: Duration,
) -> Result<Value> {
    let mut history = synthetic_history(f, size)?;
    let mut s = suggester(f, algorithm, 0)?;
    let mut times_ms = Vec::with_capacity(calls);
    let start = Instant::now();
    while times_ms.len() < calls && start.elapsed() < limit {
        let t = Instant::now();
        let answer = s.suggest(&history, 1)?;
        times_ms.push(t.elapsed().as_secs_f64() * 1e3);
        let a = one(answer, &f.space(), &history)?;
        let y = f.value(&a)?;
        let i = history.len();
        history.push(trial(a, y, i));
    }
    Ok(json!({
        "kind": "speed", "side": "ferrotune", "algorithm": algorithm, "label": label(algorithm),
        "function": f.name, "history": size, "calls_requested": calls, "times_ms": times_ms,
        "time_limit_s": limit.as_secs_f64(), "timed_out": times_ms.len() < calls,
        "history_source": "random points",
    }))
}

/// `size` trials at points of ferrotune's random search, evaluated on `f`.
fn synthetic_history(f: &TestFunction, size: usize) -> Result<Vec<TrialView>> {
    random_points(f.name, f.space(), size)?
        .into_iter()
        .enumerate()
        .map(|(i, a)| {
            let y = f.value(&a)?;
            Ok(trial(a, y, i))
        })
        .collect()
}

/// `size` points of ferrotune's random search (seed [`SYNTHETIC_SEED`]) in `space`.
fn random_points(function: &str, space: SearchSpace, size: usize) -> Result<Vec<Assignment>> {
    let mut random = build_suggester(function, space, 1, "random", SYNTHETIC_SEED)?;
    let Suggestions::Assignments(points) = random.suggest(&[], size)? else {
        bail!("random search exhausted");
    };
    Ok(points)
}

/// Points where both sides must agree for a multi-objective function: Pareto-optimal
/// points (`f1` = 0, 0.25, 0.5, 1, each checked to lie on the function's front), the
/// domain's two corners and 16 random points.
fn multi_fixed_points(f: &MultiObjectiveFunction) -> Result<Vec<(Vec<f64>, Vec<f64>)>> {
    let mut xs = Vec::new();
    for f1 in [0.0, 0.25, 0.5, 1.0] {
        let x = f.pareto_point(f1);
        let v = (f.eval)(&x);
        let on_front = (f.front)(f1);
        ensure!(
            v[0] == f1 && (v[1] - on_front).abs() <= 1e-12,
            "{}: the Pareto-optimal point with f1 = {f1} has values {v:?}, not on the front \
             (f2 = {on_front})",
            f.name
        );
        xs.push(x);
    }
    for low in [true, false] {
        let corner = f.bounds.iter().map(|b| match *b {
            Bound::Real(lo, hi) => Ok(if low { lo } else { hi }),
            _ => bail!("{}: only real bounds are expected", f.name),
        });
        xs.push(corner.collect::<Result<_>>()?);
    }
    for a in random_points(f.name, f.space(), 16)? {
        xs.push(functions::point_of(f.name, f.bounds, &a)?);
    }
    Ok(xs
        .into_iter()
        .map(|x| {
            let v = (f.eval)(&x);
            (x, v)
        })
        .collect())
}

/// Points where both sides must agree: every known minimiser, the domain's two corners
/// and 16 random points.
fn fixed_points(f: &TestFunction) -> Result<Vec<(Vec<f64>, f64)>> {
    let mut xs: Vec<Vec<f64>> = f.argmin.iter().map(|x| x.to_vec()).collect();
    let corner = |low: bool| -> Vec<f64> {
        f.bounds
            .iter()
            .map(|b| match *b {
                Bound::Real(lo, hi) => {
                    if low {
                        lo
                    } else {
                        hi
                    }
                }
                Bound::Int(lo, hi) => (if low { lo } else { hi }) as f64,
                Bound::Categorical(v) => {
                    if low {
                        v[0]
                    } else {
                        v[v.len() - 1]
                    }
                }
            })
            .collect()
    };
    xs.push(corner(true));
    xs.push(corner(false));
    for t in synthetic_history(f, 16)? {
        xs.push(f.point(&t.parameters)?);
    }
    Ok(xs
        .into_iter()
        .map(|x| {
            let y = (f.eval)(&x);
            (x, y)
        })
        .collect())
}

fn error_record(
    algorithm: &str,
    function: &str,
    phase: &str,
    seed: Option<u64>,
    e: &anyhow::Error,
) -> Value {
    eprintln!("compare: {function} / {algorithm} ({phase}): {e:#}");
    json!({
        "kind": "error", "side": "ferrotune", "algorithm": algorithm, "label": label(algorithm),
        "function": function, "phase": phase, "seed": seed, "message": format!("{e:#}"),
    })
}

/// Runs one (function, algorithm) for every seed whose result `out` does not hold yet,
/// writing a result or an error record per seed, and says how long it took.
fn every_seed(
    out: &mut Output,
    args: &Args,
    phase: &str,
    (function, algorithm): (&str, &str),
    key: impl Fn(u64) -> String,
    run: impl Fn(u64) -> Result<Value>,
) -> Result<()> {
    let start = Instant::now();
    let mut ran = 0;
    let todo: Vec<u64> = (0..args.seeds)
        .filter(|s| !out.done.contains(&key(*s)))
        .collect();
    for seed in todo {
        let record =
            run(seed).unwrap_or_else(|e| error_record(algorithm, function, phase, Some(seed), &e));
        out.write(&record)?;
        ran += 1;
    }
    eprintln!(
        "compare: {function} / {algorithm}: {ran} {phase} runs of {} trials in {:.1} s",
        args.trials,
        start.elapsed().as_secs_f64()
    );
    Ok(())
}

fn quality_key(algorithm: &str, function: &str, seed: u64, trials: usize) -> String {
    format!("quality/{algorithm}/{function}/{seed}/{trials}")
}

fn speed_key(algorithm: &str, function: &str, size: usize) -> String {
    format!("speed/{algorithm}/{function}/{size}")
}

fn multi_key(algorithm: &str, function: &str, seed: u64, trials: usize) -> String {
    format!("multi-objective/{algorithm}/{function}/{seed}/{trials}")
}

/// Where the JSON lines go, and (with --resume) the results already there.
struct Output {
    sink: Box<dyn Write>,
    done: HashSet<String>,
}

impl Output {
    fn open(path: Option<&PathBuf>, resume: bool) -> Result<Output> {
        let Some(path) = path else {
            return Ok(Output {
                sink: Box::new(io::stdout()),
                done: HashSet::new(),
            });
        };
        let mut done = HashSet::new();
        if resume && path.exists() {
            let file = File::open(path).with_context(|| format!("reading {}", path.display()))?;
            for line in BufReader::new(file).lines() {
                let Ok(v) = serde_json::from_str::<Value>(&line?) else {
                    continue; // a line cut short by an interrupted run: redone
                };
                let s = |k: &str| v[k].as_str().unwrap_or_default().to_string();
                let n = |k: &str| v[k].as_u64().unwrap_or_default();
                match v["kind"].as_str() {
                    Some("quality") => done.insert(quality_key(
                        &s("algorithm"),
                        &s("function"),
                        n("seed"),
                        n("trials") as usize,
                    )),
                    Some("speed") => done.insert(speed_key(
                        &s("algorithm"),
                        &s("function"),
                        n("history") as usize,
                    )),
                    Some("multi-objective") => done.insert(multi_key(
                        &s("algorithm"),
                        &s("function"),
                        n("seed"),
                        n("trials") as usize,
                    )),
                    _ => false,
                };
            }
        }
        let mut file = OpenOptions::new()
            .create(true)
            .write(true)
            .append(resume)
            .truncate(!resume)
            .open(path)
            .with_context(|| format!("writing {}", path.display()))?;
        if resume && !std::fs::read(path)?.ends_with(b"\n") && file.metadata()?.len() > 0 {
            writeln!(file)?; // end a line cut short, so that the next one starts afresh
        }
        Ok(Output {
            sink: Box::new(file),
            done,
        })
    }

    /// One line, flushed at once so that an interrupted run keeps what it finished.
    fn write(&mut self, v: &Value) -> Result<()> {
        writeln!(self.sink, "{v}")?;
        self.sink.flush()?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checkpoints_end_at_the_last_trial() {
        assert_eq!(checkpoints(200), [25, 50, 100, 200]);
        assert_eq!(checkpoints(50), [25, 50]);
        assert_eq!(checkpoints(80), [25, 50, 80]);
        assert_eq!(checkpoints(10), [10]);
    }

    #[test]
    fn every_algorithm_runs_on_every_function() {
        for f in functions::ALL {
            for alg in pick_algorithms(&[]).unwrap() {
                let r = quality_run(f, &alg, 1, 30).unwrap();
                let best: Vec<f64> = serde_json::from_value(r["best"].clone()).unwrap();
                assert_eq!(best.len(), 2, "{} / {alg}", f.name);
                assert!(
                    best[1] <= best[0] && best[1] >= f.optimum - 1e-9,
                    "{best:?}"
                );
            }
        }
        let r = speed_run(&functions::ALL[0], "random", 20, 2, Duration::from_secs(60)).unwrap();
        assert_eq!(r["times_ms"].as_array().unwrap().len(), 2);
        assert!(pick_algorithms(&["grid".into()]).is_err());
    }

    /// `--suggest-from`: one line per seed, each a point of the space with its value, the
    /// same for the same seed; a bad history line is refused with its line number.
    #[test]
    fn suggestions_from_a_history_file() {
        let dir = std::env::temp_dir().join(format!("compare-suggest-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let f = functions::by_name("branin").unwrap();
        let history = dir.join("history.jsonl");
        let lines: Vec<String> = synthetic_history(f, 12)
            .unwrap()
            .iter()
            .map(|t| json!({"x": f.point(&t.parameters).unwrap(), "y": t.objective}).to_string())
            .collect();
        std::fs::write(&history, lines.join("\n")).unwrap();
        let run = |name: &str| {
            let path = dir.join(name);
            let mut out = Output::open(Some(&path), false).unwrap();
            suggest_from(&history, &[f], &["multivariate-tpe".into()], 3, &mut out).unwrap();
            drop(out);
            std::fs::read_to_string(&path).unwrap()
        };
        let first = run("a.jsonl");
        assert_eq!(first, run("b.jsonl"), "the same seeds give the same points");
        let next: Vec<Value> = first
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(next.len(), 3);
        for (seed, v) in next.iter().enumerate() {
            assert_eq!(v["seed"], seed as u64);
            assert_eq!(v["history"], 12);
            let x: Vec<f64> = serde_json::from_value(v["x"].clone()).unwrap();
            assert!((-5.0..=10.0).contains(&x[0]) && (0.0..=15.0).contains(&x[1]));
            // serde_json reads a float back to within an ulp, not always exactly.
            let value = v["value"].as_f64().unwrap();
            assert!((value - functions::branin(&x)).abs() <= 1e-9 * value.abs().max(1.0));
        }
        std::fs::write(
            &history,
            format!("{}\n{{\"x\": [20, 1], \"y\": 3}}", lines[0]),
        )
        .unwrap();
        let mut out = Output::open(Some(&dir.join("c.jsonl")), false).unwrap();
        let e = suggest_from(&history, &[f], &["random".into()], 1, &mut out).unwrap_err();
        assert!(e.to_string().contains("line 2"), "{e}");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    /// Every implemented multi-objective algorithm runs on both ZDT functions, and its
    /// record holds one vector of both objectives per trial, inside their bounds.
    #[test]
    fn multi_objective_runs_record_every_vector() {
        let mut algorithms: Vec<&str> = MULTI_OBJECTIVE_DEFAULT.to_vec();
        algorithms.extend(MULTI_OBJECTIVE);
        algorithms.retain(|a| IMPLEMENTED.contains(a) && !SKIPPED.contains(a));
        algorithms.dedup();
        assert!(algorithms.contains(&"random"));
        for f in functions::MULTI {
            for alg in &algorithms {
                let r = multi_objective_run(f, alg, 3, 30).unwrap();
                let values: Vec<Vec<f64>> = serde_json::from_value(r["values"].clone()).unwrap();
                assert_eq!(values.len(), 30, "{} / {alg}", f.name);
                for v in values {
                    assert_eq!(v.len(), 2);
                    assert!((0.0..=1.0).contains(&v[0]) && (0.0..=10.0).contains(&v[1]));
                }
            }
        }
        assert_eq!(multi_fixed_points(&functions::MULTI[0]).unwrap().len(), 22);
        assert!(pick_multi_algorithms(&["cmaes".into()]).is_err());
        assert!(pick_multi_algorithms(&["nsga2".into()]).is_ok());
    }
}
