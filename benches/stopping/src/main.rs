//! `stopping`: ferrotune's early-stopping rules, and its Hyperband-style search algorithms,
//! on replayed learning curves, in the simulation `peers.py` runs for Optuna's pruners.
//!
//!   stopping curves --dir DIR --seeds N --configs N --steps N   the synthetic curves
//!   stopping run --curves-dir DIR --out FILE ...                 the runs, one JSON line each
//!   stopping list                                                the strategies, as JSON
//!
//! For every (problem, strategy, seed) it replays the problem's curves for that seed
//! (`DIR/<problem>-<seed>.json`, the first `--configs` configurations) on `--workers`
//! simulated workers (see `sim`) and records the steps consumed, the simulated makespan,
//! the CPU seconds the run took (the driver and the rule), and the best true final value
//! among the configurations that ran all their steps. `run.sh` runs it and `peers.py` in
//! the same run and renders the tables of benches/RESULTS.md.

mod curves;
mod sim;

use anyhow::{Context, Result, bail};
use clap::{Parser, Subcommand};
use curves::{CurveSet, PROBLEMS, synthetic};
use ferrotune_algorithms::stopping::{RULES, RuleContext, build_rule};
use ferrotune_algorithms::{AlgorithmContext, IMPLEMENTED, build};
use ferrotune_core::{Distribution, Domain, ObjectiveType, Parameter};
use serde_json::{Value, json};
use sim::{FixedOrder, SearchSource, simulate};
use std::collections::HashSet;
use std::fs::{File, OpenOptions};
use std::io::{self, BufRead, BufReader, Write};
use std::path::{Path, PathBuf};

/// The strategies run by default, in the tables' order.
const DEFAULT_STRATEGIES: &[&str] = &[
    "none",
    "medianstop",
    "median",
    "asha",
    // ASHA over a grid of schedules (first rung 5, 10 or 20; reduction factor 3 or 4),
    // each matched on the Optuna side by SuccessiveHalvingPruner with the same rungs, so
    // that each side's best setting is compared with the other's.
    "asha@grace_period=5+reduction_factor=3",
    "asha@grace_period=5+reduction_factor=4",
    "asha@grace_period=10+reduction_factor=3",
    "asha@grace_period=10+reduction_factor=4",
    "asha@grace_period=20+reduction_factor=3",
    "asha@grace_period=20+reduction_factor=4",
    "hyperband",
    "bohb",
];

/// Search algorithms that propose (configuration, budget) pairs, run through
/// [`SearchSource`].
const SEARCH_STRATEGIES: &[&str] = &["hyperband", "bohb"];

/// The resource parameter the search strategies get (Katib's `resource_name`).
const RESOURCE: &str = "budget";

#[derive(Parser, Debug)]
#[command(
    name = "stopping",
    about = "ferrotune's early-stopping rules on replayed learning curves (see \
             benches/stopping/run.sh)"
)]
struct Args {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Write the synthetic problem's curves, DIR/synthetic-<seed>.json.
    Curves {
        #[arg(long)]
        dir: PathBuf,
        #[arg(long, default_value_t = 20)]
        seeds: u64,
        #[arg(long, default_value_t = 64)]
        configs: usize,
        #[arg(long, default_value_t = 100)]
        steps: usize,
    },
    /// Run the strategies; one JSON line per (problem, strategy, seed).
    Run(RunArgs),
    /// Print the strategies and their settings for a problem of --steps steps, as JSON.
    List {
        #[arg(long, value_delimiter = ',')]
        strategies: Vec<String>,
        #[arg(long, default_value_t = 100)]
        steps: usize,
        #[arg(long = "settings")]
        overrides: Vec<String>,
    },
}

#[derive(Parser, Debug)]
struct RunArgs {
    /// Where the curve files are.
    #[arg(long)]
    curves_dir: PathBuf,
    /// Problems, comma-separated (synthetic, sgd).
    #[arg(long, value_delimiter = ',', default_value = "synthetic,sgd")]
    problems: Vec<String>,
    /// Strategies, comma-separated (default: none, medianstop, median, asha, hyperband,
    /// bohb; any other rule of `stopping::RULES` runs with its defaults).
    #[arg(long, value_delimiter = ',')]
    strategies: Vec<String>,
    /// Seeds 0..N-1.
    #[arg(long, default_value_t = 20)]
    seeds: u64,
    /// Configurations per seed (the first N of each curve file).
    #[arg(long, default_value_t = 64)]
    configs: usize,
    /// Simulated workers.
    #[arg(long, default_value_t = 4)]
    workers: usize,
    /// A strategy's settings, `NAME:key=value,key=value` (repeatable); they replace the
    /// defaults of the same keys.
    #[arg(long = "settings")]
    overrides: Vec<String>,
    /// Write the JSON lines here instead of stdout.
    #[arg(long)]
    out: Option<PathBuf>,
    /// Keep the runs already in --out and do only the missing ones.
    #[arg(long, requires = "out")]
    resume: bool,
}

fn main() -> Result<()> {
    match Args::parse().command {
        Command::Curves {
            dir,
            seeds,
            configs,
            steps,
        } => {
            for seed in 0..seeds {
                let set = synthetic::generate(seed, configs, steps);
                set.save(&CurveSet::path(&dir, synthetic::PROBLEM, seed))?;
            }
            eprintln!(
                "stopping: synthetic curves for seeds 0..{seeds} ({configs} configurations, \
                 {steps} steps) in {}",
                dir.display()
            );
            Ok(())
        }
        Command::List {
            strategies,
            steps,
            overrides,
        } => {
            let strategies = pick_strategies(&strategies)?;
            let listed: Vec<Value> = strategies
                .iter()
                .map(|s| {
                    let settings = settings_for(s, steps, &overrides)?;
                    Ok(json!({"strategy": s, "kind": kind(s), "settings": settings,
                              "implemented": available(s)}))
                })
                .collect::<Result<_>>()?;
            println!("{}", json!({"strategies": listed, "problems": PROBLEMS}));
            Ok(())
        }
        Command::Run(args) => run(&args),
    }
}

/// A strategy's rule or algorithm name: `asha@grace_period=10+reduction_factor=3` is
/// `asha` with those settings (a second row of the same rule).
fn base(strategy: &str) -> &str {
    strategy.split_once('@').map_or(strategy, |(b, _)| b)
}

fn kind(strategy: &str) -> &'static str {
    let strategy = base(strategy);
    if strategy == "none" {
        "none"
    } else if SEARCH_STRATEGIES.contains(&strategy) {
        "search"
    } else {
        "rule"
    }
}

/// Whether ferrotune has the strategy (the search ones are checked in
/// `ferrotune_algorithms::IMPLEMENTED`).
fn available(strategy: &str) -> bool {
    match kind(strategy) {
        "search" => IMPLEMENTED.contains(&base(strategy)),
        _ => true,
    }
}

fn pick_strategies(names: &[String]) -> Result<Vec<String>> {
    if names.is_empty() {
        return Ok(DEFAULT_STRATEGIES.iter().map(|s| s.to_string()).collect());
    }
    for n in names {
        let n = base(n);
        if n != "none" && !RULES.contains(&n) && !SEARCH_STRATEGIES.contains(&n) {
            bail!(
                "unknown strategy {n:?} (known: none, {}, {})",
                RULES.join(", "),
                SEARCH_STRATEGIES.join(", ")
            );
        }
    }
    Ok(names.to_vec())
}

/// A strategy's settings for a problem of `steps` steps: its defaults here, then the
/// `NAME:key=value,...` overrides of the command line.
fn settings_for(
    strategy: &str,
    steps: usize,
    overrides: &[String],
) -> Result<Vec<(String, String)>> {
    let (name, preset) = strategy.split_once('@').unwrap_or((strategy, ""));
    let mut settings: Vec<(String, String)> = match name {
        // Ray's defaults (grace_period 1, reduction_factor 4), max_t the curves' length.
        "asha" => vec![("max_t".into(), steps.to_string())],
        // Katib's Hyperband settings; eta 4 so that the first bracket is 64
        // configurations (eta 3 would want 81 of our 64 and never finish a rung).
        "hyperband" | "bohb" => vec![
            ("eta".into(), "4".into()),
            ("r_l".into(), steps.to_string()),
            ("resource_name".into(), RESOURCE.into()),
        ],
        _ => vec![],
    };
    let preset = (!preset.is_empty()).then(|| format!("{strategy}:{}", preset.replace('+', ",")));
    for o in preset.iter().chain(overrides) {
        let Some((name, pairs)) = o.split_once(':') else {
            bail!("--settings {o:?}: expected NAME:key=value,key=value");
        };
        if name != strategy {
            continue;
        }
        for pair in pairs.split(',').filter(|p| !p.is_empty()) {
            let Some((k, v)) = pair.split_once('=') else {
                bail!("--settings {o:?}: {pair:?} is not key=value");
            };
            settings.retain(|(key, _)| key != k);
            settings.push((k.to_string(), v.to_string()));
        }
    }
    Ok(settings)
}

fn run(args: &RunArgs) -> Result<()> {
    let strategies = pick_strategies(&args.strategies)?;
    for p in &args.problems {
        if !PROBLEMS.contains(&p.as_str()) {
            bail!("unknown problem {p:?} (known: {})", PROBLEMS.join(", "));
        }
    }
    let mut out = Output::open(args.out.as_ref(), args.resume)?;
    for problem in &args.problems {
        for strategy in &strategies {
            if !available(strategy) {
                let message = format!("{strategy} is not in ferrotune_algorithms::IMPLEMENTED yet");
                eprintln!("stopping: {problem} / {strategy}: {message}");
                out.write(&json!({"kind": "unavailable", "side": "ferrotune",
                                  "strategy": strategy, "problem": problem,
                                  "message": message}))?;
                continue;
            }
            let mut ran = 0;
            let mut cpu = 0.0;
            for seed in 0..args.seeds {
                let key = run_key(
                    "ferrotune",
                    strategy,
                    problem,
                    seed,
                    args.configs,
                    args.workers,
                );
                if out.done.contains(&key) {
                    continue;
                }
                let record = match run_one(args, problem, strategy, seed) {
                    Ok(r) => r,
                    Err(e) => {
                        eprintln!("stopping: {problem} / {strategy} / seed {seed}: {e:#}");
                        json!({"kind": "error", "side": "ferrotune", "strategy": strategy,
                               "problem": problem, "seed": seed, "message": format!("{e:#}")})
                    }
                };
                cpu += record["cpu_s"].as_f64().unwrap_or(0.0);
                out.write(&record)?;
                ran += 1;
            }
            eprintln!("stopping: {problem} / {strategy}: {ran} runs, {cpu:.2} CPU s");
        }
    }
    Ok(())
}

/// User and system CPU seconds of this process so far.
fn cpu_seconds() -> f64 {
    use nix::sys::resource::{UsageWho, getrusage};
    use nix::sys::time::TimeValLike;
    getrusage(UsageWho::RUSAGE_SELF)
        .map(|u| {
            (u.user_time().num_microseconds() + u.system_time().num_microseconds()) as f64 * 1e-6
        })
        .unwrap_or(f64::NAN)
}

fn run_one(args: &RunArgs, problem: &str, strategy: &str, seed: u64) -> Result<Value> {
    let curves = CurveSet::load(
        &CurveSet::path(&args.curves_dir, problem, seed),
        args.configs,
    )?;
    let settings = settings_for(strategy, curves.steps, &args.overrides)?;
    let start = cpu_seconds();
    let mut dropped = None;
    let outcome = match kind(strategy) {
        "none" => simulate(&curves, args.workers, &mut FixedOrder::new(&curves)?, None)?,
        "rule" => {
            let mut rule = build_rule(RuleContext {
                rule: base(strategy).to_string(),
                settings: settings.clone(),
                objective: ObjectiveType::Minimize,
                seed,
            })
            .with_context(|| format!("building rule {strategy:?}"))?;
            simulate(
                &curves,
                args.workers,
                &mut FixedOrder::new(&curves)?,
                Some(rule.as_mut()),
            )?
        }
        _ => {
            let space = curves.space()?;
            let mut with_resource = space.clone();
            let resource = settings
                .iter()
                .rev()
                .find(|(k, _)| k == "resource_name")
                .map_or(RESOURCE, |(_, v)| v.as_str())
                .to_string();
            with_resource.parameters.push(Parameter {
                name: resource.clone(),
                domain: Domain::Int {
                    min: 1,
                    max: curves.steps as i64,
                    step: None,
                    distribution: Distribution::Uniform,
                },
            });
            let suggester = build(AlgorithmContext {
                algorithm: base(strategy).to_string(),
                space: with_resource,
                objectives: vec![ObjectiveType::Minimize],
                seed,
                settings: settings.clone(),
            })
            .with_context(|| format!("building search algorithm {strategy:?}"))?;
            let mut source = SearchSource::new(suggester, &resource, &curves, space)?;
            let outcome = simulate(&curves, args.workers, &mut source, None)?;
            dropped = Some(source.dropped);
            outcome
        }
    };
    let cpu = cpu_seconds() - start;
    let possible = curves.best_final();
    let (best, best_config) = match outcome.best {
        Some((v, c)) => (Some(v), Some(c)),
        None => (None, None),
    };
    Ok(json!({
        "kind": "run", "side": "ferrotune", "strategy": strategy, "settings": settings,
        "problem": problem, "seed": seed, "configs": curves.trials.len(),
        "steps_per_trial": curves.steps, "workers": args.workers,
        "steps": outcome.steps, "makespan": outcome.makespan, "time_unit": curves.time_unit,
        "cpu_s": cpu, "best_final": best, "best_config": best_config,
        "best_possible": possible, "regret": best.map(|b| b - possible),
        "found_best": best == Some(possible), "trials": outcome.trials,
        "configs_tried": outcome.configs_tried, "full_runs": outcome.full_runs,
        "stopped": outcome.stopped, "stalled": outcome.stalled, "dropped": dropped,
    }))
}

fn run_key(
    side: &str,
    strategy: &str,
    problem: &str,
    seed: u64,
    configs: usize,
    workers: usize,
) -> String {
    format!("{side}/{strategy}/{problem}/{seed}/{configs}/{workers}")
}

/// Where the JSON lines go, and (with --resume) the runs already there.
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
        let done = if resume {
            finished(path)?
        } else {
            HashSet::new()
        };
        let mut file = OpenOptions::new()
            .create(true)
            .write(true)
            .append(resume)
            .truncate(!resume)
            .open(path)
            .with_context(|| format!("writing {}", path.display()))?;
        if resume && file.metadata()?.len() > 0 && !std::fs::read(path)?.ends_with(b"\n") {
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

/// The keys of the finished runs in a JSON lines file (none if it does not exist).
fn finished(path: &Path) -> Result<HashSet<String>> {
    let mut done = HashSet::new();
    if !path.exists() {
        return Ok(done);
    }
    let file = File::open(path).with_context(|| format!("reading {}", path.display()))?;
    for line in BufReader::new(file).lines() {
        let Ok(v) = serde_json::from_str::<Value>(&line?) else {
            continue; // a line cut short by an interrupted run: redone
        };
        if v["kind"] == "run" {
            let s = |k: &str| v[k].as_str().unwrap_or_default().to_string();
            let n = |k: &str| v[k].as_u64().unwrap_or_default();
            done.insert(run_key(
                &s("side"),
                &s("strategy"),
                &s("problem"),
                n("seed"),
                n("configs") as usize,
                n("workers") as usize,
            ));
        }
    }
    Ok(done)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_default_and_override() {
        assert_eq!(
            settings_for("asha", 50, &[]).unwrap(),
            vec![("max_t".to_string(), "50".to_string())]
        );
        let s = settings_for(
            "hyperband",
            100,
            &["hyperband:eta=3".into(), "asha:max_t=9".into()],
        )
        .unwrap();
        assert!(s.contains(&("eta".into(), "3".into())));
        assert!(s.contains(&("r_l".into(), "100".into())));
        assert!(!s.contains(&("eta".into(), "4".into())));
        assert!(settings_for("asha", 10, &["asha".into()]).is_err());
        assert!(pick_strategies(&["medianstopp".into()]).is_err());
        assert_eq!(
            pick_strategies(&[]).unwrap().len(),
            DEFAULT_STRATEGIES.len()
        );
    }

    #[test]
    fn a_run_writes_a_record_and_resume_skips_it() {
        let dir = std::env::temp_dir().join(format!("stopping-main-{}", std::process::id()));
        for seed in 0..2 {
            synthetic::generate(seed, 12, 20)
                .save(&CurveSet::path(&dir, "synthetic", seed))
                .unwrap();
        }
        let out = dir.join("runs.jsonl");
        let args = |resume| RunArgs {
            curves_dir: dir.clone(),
            problems: vec!["synthetic".into()],
            strategies: vec!["none".into(), "asha".into(), "hyperband".into()],
            seeds: 2,
            configs: 10,
            workers: 3,
            overrides: vec![],
            out: Some(out.clone()),
            resume,
        };
        run(&args(false)).unwrap();
        let lines: Vec<Value> = std::fs::read_to_string(&out)
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        let runs: Vec<&Value> = lines.iter().filter(|v| v["kind"] == "run").collect();
        assert!(runs.len() >= 4, "{lines:?}");
        let none = runs.iter().find(|v| v["strategy"] == "none").unwrap();
        assert_eq!(none["steps"], 10 * 20);
        assert_eq!(none["full_runs"], 10);
        assert_eq!(none["regret"], 0.0);
        assert_eq!(finished(&out).unwrap().len(), runs.len());
        run(&args(true)).unwrap();
        let again = std::fs::read_to_string(&out).unwrap();
        assert_eq!(
            again
                .lines()
                .filter(|l| l.contains("\"kind\":\"run\""))
                .count(),
            runs.len()
        );
        std::fs::remove_dir_all(dir).unwrap();
    }
}
