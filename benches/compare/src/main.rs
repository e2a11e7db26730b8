//! `compare`: ferrotune's search algorithms on the comparison's test functions, in-process.
//!
//! For every (function, algorithm, seed) it runs a sequential ask/tell loop through
//! `ferrotune_algorithms::build` and `Suggester::suggest(&history, 1)` and records the best
//! value after 25, 50, 100 and 200 trials; then, for every algorithm, the wall time of one
//! `suggest` call with 100, 500 and 1000 trials of history. Each result is one JSON line,
//! in the format `peers.py` writes for Optuna, hyperopt and scikit-optimize; `run.sh` runs
//! both and renders the tables of benches/RESULTS.md.

mod functions;

use anyhow::{Context, Result, bail, ensure};
use clap::Parser;
use ferrotune_algorithms::{AlgorithmContext, IMPLEMENTED, Suggester, Suggestions, build};
use ferrotune_core::{Assignment, ObjectiveType, TrialStatus, TrialView};
use functions::TestFunction;
use serde_json::{Value, json};
use std::collections::HashSet;
use std::fs::{File, OpenOptions};
use std::io::{self, BufRead, BufReader, Write};
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// Best-so-far is recorded after these many trials (those within `--trials`, and
/// `--trials` itself).
const CHECKPOINTS: [usize; 4] = [25, 50, 100, 200];

/// Algorithms left out: grid search needs stepped doubles, which these functions are not.
const SKIPPED: &[&str] = &["grid"];

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
    /// Functions to run, comma-separated (default: all; see --list).
    #[arg(long, value_delimiter = ',')]
    functions: Vec<String>,
    /// ferrotune algorithms to run, comma-separated (default: every implemented one but grid).
    #[arg(long, value_delimiter = ',')]
    algorithms: Vec<String>,
    /// Write the JSON lines here instead of stdout.
    #[arg(long)]
    out: Option<PathBuf>,
    /// Keep the results already in --out and run only the missing ones.
    #[arg(long, requires = "out")]
    resume: bool,
    /// History sizes at which suggest is timed, comma-separated.
    #[arg(long, value_delimiter = ',', default_value = "100,500,1000")]
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
}

fn main() -> Result<()> {
    let args = Args::parse();
    let functions = pick_functions(&args.functions)?;
    let algorithms = pick_algorithms(&args.algorithms)?;
    let speed_functions = pick_functions(&args.speed_functions)?;
    if args.list {
        let describe = |f: &&TestFunction| {
            let bounds: Vec<Value> = f
                .bounds
                .iter()
                .map(|b| match *b {
                    functions::Bound::Real(lo, hi) => {
                        json!({"type": "real", "low": lo, "high": hi})
                    }
                    functions::Bound::Int(lo, hi) => json!({"type": "int", "low": lo, "high": hi}),
                    functions::Bound::Categorical(v) => json!({"type": "categorical", "values": v}),
                })
                .collect();
            json!({"name": f.name, "bounds": bounds, "optimum": f.optimum, "argmin": f.argmin})
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
                let start = Instant::now();
                let mut ran = 0;
                for seed in 0..args.seeds {
                    let key = quality_key(alg, f.name, seed, args.trials);
                    if out.done.contains(&key) {
                        continue;
                    }
                    let record = match quality_run(f, alg, seed, args.trials) {
                        Ok(r) => r,
                        Err(e) => error_record(alg, f.name, "quality", Some(seed), &e),
                    };
                    out.write(&record)?;
                    ran += 1;
                }
                eprintln!(
                    "compare: {} / {alg}: {ran} runs of {} trials in {:.1} s",
                    f.name,
                    args.trials,
                    start.elapsed().as_secs_f64()
                );
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
    build(AlgorithmContext {
        algorithm: algorithm.to_string(),
        space: f.space(),
        objectives: vec![ObjectiveType::Minimize],
        seed,
        settings: vec![],
    })
    .with_context(|| format!("building {algorithm:?} for {}", f.name))
}

/// The one new assignment of a `suggest(history, 1)` answer, checked against the space.
fn one(answer: Suggestions, f: &TestFunction, history: &[TrialView]) -> Result<Assignment> {
    match answer {
        Suggestions::Assignments(mut v) if v.len() == 1 => {
            let a = v.remove(0);
            ensure!(
                f.space().contains(&a),
                "suggestion {a:?} is outside the space"
            );
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

/// One sequential run: `trials` times suggest one, evaluate it, add it to the history.
fn quality_run(f: &TestFunction, algorithm: &str, seed: u64, trials: usize) -> Result<Value> {
    let start = Instant::now();
    let mut s = suggester(f, algorithm, seed)?;
    let mut history = Vec::with_capacity(trials);
    let mut best = f64::INFINITY;
    let mut best_after = Vec::new();
    let marks = checkpoints(trials);
    for i in 0..trials {
        let a = one(s.suggest(&history, 1)?, f, &history)?;
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
        let a = one(answer, f, &history)?;
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
    let mut random = suggester(f, "random", SYNTHETIC_SEED)?;
    let Suggestions::Assignments(points) = random.suggest(&[], size)? else {
        bail!("random search exhausted");
    };
    points
        .into_iter()
        .enumerate()
        .map(|(i, a)| {
            let y = f.value(&a)?;
            Ok(trial(a, y, i))
        })
        .collect()
}

/// Points where both sides must agree: every known minimiser, the domain's two corners
/// and 16 random points.
fn fixed_points(f: &TestFunction) -> Result<Vec<(Vec<f64>, f64)>> {
    let mut xs: Vec<Vec<f64>> = f.argmin.iter().map(|x| x.to_vec()).collect();
    let corner = |low: bool| -> Vec<f64> {
        f.bounds
            .iter()
            .map(|b| match *b {
                functions::Bound::Real(lo, hi) => {
                    if low {
                        lo
                    } else {
                        hi
                    }
                }
                functions::Bound::Int(lo, hi) => (if low { lo } else { hi }) as f64,
                functions::Bound::Categorical(v) => {
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

fn quality_key(algorithm: &str, function: &str, seed: u64, trials: usize) -> String {
    format!("quality/{algorithm}/{function}/{seed}/{trials}")
}

fn speed_key(algorithm: &str, function: &str, size: usize) -> String {
    format!("speed/{algorithm}/{function}/{size}")
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
}
