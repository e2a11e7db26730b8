//! What people and scripts see: a live progress bar (or log lines off a terminal), tables,
//! JSON and CSV.

use crate::Output;
use comfy_table::{Table, presets::UTF8_FULL_CONDENSED};
use ferrotune_controller::{Counts, Event};
use ferrotune_core::pareto::pareto_front;
use ferrotune_core::validate::Experiment;
use ferrotune_core::{ObjectiveType, TrialStatus};
use ferrotune_store::{ExperimentRecord, TrialRecord};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::io::IsTerminal;
use std::time::Duration;

/// Live progress of `run` and `resume`.
pub struct Progress {
    bar: Option<ProgressBar>,
    metric: String,
    /// Every objective's metric, for a multi-objective experiment (empty otherwise).
    objectives: Vec<String>,
}

fn fmt_counts(c: &Counts) -> String {
    format!(
        "✓{} ▶{} ✗{} ⏹{}{}",
        c.succeeded,
        c.running,
        c.failed,
        c.early_stopped,
        if c.metrics_unavailable + c.killed > 0 {
            format!(" ?{}", c.metrics_unavailable + c.killed)
        } else {
            String::new()
        }
    )
}

impl Progress {
    pub fn new(exp: &Experiment) -> Self {
        let bar = std::io::stderr().is_terminal().then(|| {
            let bar = match exp.max_trial_count {
                Some(m) => ProgressBar::new(m as u64),
                None => ProgressBar::new_spinner(),
            };
            bar.set_draw_target(ProgressDrawTarget::stderr());
            let template = if exp.max_trial_count.is_some() {
                "{spinner} [{elapsed_precise}] {bar:30} {pos}/{len} trials  ETA {eta}  {msg}"
            } else {
                "{spinner} [{elapsed_precise}] {pos} trials  {msg}"
            };
            if let Ok(style) = ProgressStyle::with_template(template) {
                bar.set_style(style);
            }
            bar.enable_steady_tick(Duration::from_millis(200));
            bar
        });
        let objectives = if exp.objective.is_multi() {
            exp.objective
                .objectives()
                .into_iter()
                .map(|(m, _)| m)
                .collect()
        } else {
            Vec::new()
        };
        Progress {
            bar,
            metric: exp.objective.metric.clone(),
            objectives,
        }
    }

    pub fn on_event(&self, e: Event) {
        match (&self.bar, e) {
            (Some(bar), Event::Progress { counts, best }) => {
                bar.set_position(counts.finished() as u64);
                // Several objectives have no single best: the front is in `show`.
                let best = best
                    .filter(|_| self.objectives.is_empty())
                    .map(|(n, v)| format!("  best {}={} ({n})", self.metric, v))
                    .unwrap_or_default();
                bar.set_message(format!("{}{best}", fmt_counts(&counts)));
            }
            (
                Some(bar),
                Event::TrialFinished {
                    name,
                    status: TrialStatus::Failed,
                    message,
                    ..
                },
            ) => {
                bar.println(format!(
                    "{name} failed: {}",
                    message.lines().next().unwrap_or("")
                ));
            }
            (
                Some(bar),
                Event::TrialRetrying {
                    name,
                    attempt,
                    message,
                },
            ) => bar.println(format!("{name} (attempt {attempt}): {message}")),
            (Some(_), _) => {}
            (
                None,
                Event::TrialStarted {
                    name,
                    attempt,
                    parameters,
                },
            ) => {
                let params: Vec<String> = parameters
                    .0
                    .iter()
                    .map(|(k, v)| format!("{k}={v}"))
                    .collect();
                let again = if attempt > 1 {
                    format!(" (attempt {attempt})")
                } else {
                    String::new()
                };
                eprintln!("trial {name} started{again}: {}", params.join(" "));
            }
            (
                None,
                Event::TrialFinished {
                    name,
                    status,
                    objective,
                    objectives,
                    message,
                },
            ) => {
                let value = if objectives.is_empty() {
                    objective
                        .map(|v| format!(" {}={v}", self.metric))
                        .unwrap_or_default()
                } else {
                    self.objectives
                        .iter()
                        .zip(&objectives)
                        .map(|(m, v)| format!(" {m}={v}"))
                        .collect()
                };
                let why = if message.is_empty() {
                    String::new()
                } else {
                    format!(": {}", message.replace('\n', " | "))
                };
                eprintln!("trial {name} {status}{value}{why}");
            }
            (None, Event::TrialRetrying { name, message, .. }) => {
                eprintln!("trial {name} {message}");
            }
            (None, Event::Progress { .. }) => {}
        }
    }

    pub fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}

fn metric_names(exp: Option<&Experiment>, trials: &[TrialRecord]) -> Vec<String> {
    match exp {
        Some(e) => e.objective.all_metrics(),
        None => {
            let mut names: Vec<String> = trials
                .iter()
                .flat_map(|t| t.metrics.iter().map(|m| m.name.clone()))
                .collect();
            names.sort();
            names.dedup();
            names
        }
    }
}

/// A metric's value for a trial, chosen by the metric's strategy.
fn metric_value(exp: Option<&Experiment>, t: &TrialRecord, metric: &str) -> Option<f64> {
    let s = t.metrics.iter().find(|m| m.name == metric)?;
    Some(match exp {
        Some(e) => s.pick(e.objective.strategy(metric)),
        None => s.latest,
    })
}

fn time(t: Option<chrono::DateTime<chrono::Utc>>) -> String {
    t.map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
        .unwrap_or_default()
}

/// `trial_json` plus, for a multi-objective experiment, `paretoOptimal`.
fn trial_json_in(
    exp: Option<&Experiment>,
    t: &TrialRecord,
    front: Option<&[&TrialRecord]>,
) -> serde_json::Value {
    let mut v = trial_json(exp, t);
    if let (Some(f), Some(o)) = (front, v.as_object_mut()) {
        o.insert(
            "paretoOptimal".into(),
            f.iter().any(|x| x.name == t.name).into(),
        );
    }
    v
}

fn trial_json(exp: Option<&Experiment>, t: &TrialRecord) -> serde_json::Value {
    let metrics: serde_json::Map<String, serde_json::Value> =
        metric_names(exp, std::slice::from_ref(t))
            .into_iter()
            .filter_map(|m| metric_value(exp, t, &m).map(|v| (m, serde_json::json!(v))))
            .collect();
    let mut v = serde_json::json!({
        "name": t.name,
        "status": t.status.as_str(),
        "attempt": t.attempt,
        "failedAttempts": t.failed_attempts,
        "parameters": t.parameters.to_json(),
        "metrics": metrics,
        "startTime": t.start_time.map(|x| x.to_rfc3339()),
        "completionTime": t.completion_time.map(|x| x.to_rfc3339()),
    });
    // The algorithm's labels (PBT's parent, Hyperband's bracket and rung), when it set any.
    if !t.labels.is_empty()
        && let Some(o) = v.as_object_mut()
    {
        o.insert("labels".into(), serde_json::json!(t.labels));
    }
    v
}

/// Katib's `status.currentOptimalTrial` shape (`bestTrialName`, `parameterAssignments`,
/// `observation.metrics[{name, min, max, latest}]`), plus the fields of `trials --output json`.
fn optimal_json(exp: Option<&Experiment>, t: &TrialRecord) -> serde_json::Value {
    let mut v = trial_json(exp, t);
    if let Some(o) = v.as_object_mut() {
        o.insert("bestTrialName".into(), t.name.clone().into());
        o.insert(
            "parameterAssignments".into(),
            t.parameters
                .0
                .iter()
                .map(|(k, v)| serde_json::json!({"name": k, "value": v.to_string()}))
                .collect::<Vec<_>>()
                .into(),
        );
        o.insert(
            "observation".into(),
            serde_json::json!({"metrics": t.metrics.iter().map(|m| serde_json::json!({
                "name": m.name, "min": m.min.to_string(), "max": m.max.to_string(), "latest": m.latest.to_string(),
            })).collect::<Vec<_>>()}),
        );
    }
    v
}

fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

/// The best trials, best first: Succeeded (and EarlyStopped) trials with an objective.
fn ranked<'a>(exp: Option<&Experiment>, trials: &'a [TrialRecord]) -> Vec<&'a TrialRecord> {
    let t = exp
        .map(|e| e.objective.type_)
        .unwrap_or(ObjectiveType::Minimize);
    let mut r: Vec<&TrialRecord> = trials
        .iter()
        .filter(|x| {
            matches!(x.status, TrialStatus::Succeeded | TrialStatus::EarlyStopped)
                && x.objective.is_some()
        })
        .collect();
    r.sort_by(|a, b| {
        let (a, b) = (
            a.objective.unwrap_or(f64::NAN),
            b.objective.unwrap_or(f64::NAN),
        );
        if t == ObjectiveType::Minimize {
            a.total_cmp(&b)
        } else {
            b.total_cmp(&a)
        }
    });
    r
}

/// The Pareto front of a multi-objective experiment, ordered by the first objective:
/// Succeeded (and EarlyStopped) trials with every objective that no other such trial
/// dominates. `None` for a single objective.
fn pareto<'a>(exp: Option<&Experiment>, trials: &'a [TrialRecord]) -> Option<Vec<&'a TrialRecord>> {
    let e = exp.filter(|e| e.objective.is_multi())?;
    let (done, points): (Vec<&TrialRecord>, Vec<Vec<f64>>) = trials
        .iter()
        .filter(|t| matches!(t.status, TrialStatus::Succeeded | TrialStatus::EarlyStopped))
        .filter_map(|t| e.objective.values(&t.metrics).map(|v| (t, v)))
        .unzip();
    let directions = e.objective.directions();
    let mut front: Vec<(&TrialRecord, f64)> = pareto_front(&points, &directions)
        .into_iter()
        .map(|i| (done[i], points[i][0]))
        .collect();
    front.sort_by(|a, b| match e.objective.type_ {
        ObjectiveType::Minimize => a.1.total_cmp(&b.1),
        ObjectiveType::Maximize => b.1.total_cmp(&a.1),
    });
    Some(front.into_iter().map(|(t, _)| t).collect())
}

/// What early stopping saved: trials stopped, and the steps (objective reports) and seconds
/// they did not spend, estimated against the longest completed trial at each stopped
/// trial's own pace.
#[derive(Debug, Default, PartialEq)]
struct Savings {
    stopped: usize,
    steps: u64,
    seconds: f64,
}

fn savings(exp: Option<&Experiment>, trials: &[TrialRecord]) -> Savings {
    let metric = exp.map(|e| e.objective.metric.as_str());
    let reports = |t: &TrialRecord| {
        t.metrics
            .iter()
            .find(|m| metric.is_none_or(|n| m.name == n))
            .map_or(0, |m| m.count)
    };
    let full = trials
        .iter()
        .filter(|t| t.status == TrialStatus::Succeeded)
        .map(reports)
        .max()
        .unwrap_or(0);
    let mut s = Savings::default();
    for t in trials
        .iter()
        .filter(|t| t.status == TrialStatus::EarlyStopped)
    {
        s.stopped += 1;
        let done = reports(t);
        let left = full.saturating_sub(done);
        s.steps += left;
        if let (Some(a), Some(b)) = (t.start_time, t.completion_time)
            && done > 0
        {
            let secs = (b - a).num_milliseconds().max(0) as f64 / 1000.0;
            s.seconds += secs / done as f64 * left as f64;
        }
    }
    s
}

/// One line about the result: the best trial, or the size of the Pareto front.
fn best_text(exp: Option<&Experiment>, trials: &[TrialRecord]) -> String {
    if let Some(front) = pareto(exp, trials) {
        return format!("front of {}", front.len());
    }
    ranked(exp, trials)
        .first()
        .map(|b| format!("{} ({})", b.objective.unwrap_or_default(), b.name))
        .unwrap_or_default()
}

fn trial_table(exp: Option<&Experiment>, trials: &[&TrialRecord]) -> Table {
    trial_table_marked(exp, trials, None)
}

/// A table of trials; with `front`, a column marks the trials on the Pareto front.
fn trial_table_marked(
    exp: Option<&Experiment>,
    trials: &[&TrialRecord],
    front: Option<&[&TrialRecord]>,
) -> Table {
    let all: Vec<TrialRecord> = trials.iter().map(|t| (*t).clone()).collect();
    let params: Vec<String> = trials
        .first()
        .map(|t| t.parameters.0.iter().map(|(k, _)| k.clone()).collect())
        .unwrap_or_default();
    let metrics = metric_names(exp, &all);
    let mut table = Table::new();
    table.load_style(UTF8_FULL_CONDENSED);
    let mut header = vec!["trial".to_string(), "status".to_string()];
    header.extend(params.iter().cloned());
    header.extend(metrics.iter().cloned());
    if front.is_some() {
        header.push("pareto".to_string());
    }
    table.set_header(header);
    for t in trials {
        let mut row = vec![t.name.clone(), t.status.to_string()];
        row.extend(params.iter().map(|p| {
            t.parameters
                .get(p)
                .map(|v| v.to_string())
                .unwrap_or_default()
        }));
        row.extend(metrics.iter().map(|m| {
            metric_value(exp, t, m)
                .map(|v| format!("{v}"))
                .unwrap_or_default()
        }));
        if let Some(f) = front {
            let on = f.iter().any(|x| x.name == t.name);
            row.push(if on { "★" } else { "" }.to_string());
        }
        table.add_row(row);
    }
    table
}

/// `Succeeded (ExperimentMaxTrialsReached): 24 trials finished`
fn status_line(record: &ExperimentRecord) -> String {
    let mut s = format!("{} ({})", record.status, record.reason);
    if !record.message.is_empty() {
        s.push_str(": ");
        s.push_str(&record.message);
    }
    s
}

/// The closing table of `run`.
pub fn summary(exp: &Experiment, record: &ExperimentRecord, trials: &[TrialRecord]) {
    let r = ranked(Some(exp), trials);
    println!("experiment {} {}", record.name, status_line(record));
    let mut c = Counts::default();
    for t in trials {
        c.add(t.status);
    }
    println!(
        "{} trials: {} succeeded, {} failed, {} without metrics, {} killed",
        trials.len(),
        c.succeeded,
        c.failed,
        c.metrics_unavailable,
        c.killed
    );
    if let Some(front) = pareto(Some(exp), trials) {
        println!("Pareto front ({} trials):", front.len());
        if !front.is_empty() {
            println!("{}", trial_table(Some(exp), &front));
        }
    } else if !r.is_empty() {
        println!("best trials:");
        let top: Vec<&TrialRecord> = r.into_iter().take(5).collect();
        println!("{}", trial_table(Some(exp), &top));
    }
    println!("run directory: {}", record.run_dir);
}

/// `list`
pub fn experiments(
    rows: &[(ExperimentRecord, Option<Experiment>, Vec<TrialRecord>)],
    output: Output,
) {
    let json: Vec<serde_json::Value> = rows
        .iter()
        .map(|(r, e, t)| {
            let best = match pareto(e.as_ref(), t) {
                Some(front) => Some(serde_json::json!({"paretoFront": front.iter().map(|b| b.name.clone()).collect::<Vec<_>>()})),
                None => ranked(e.as_ref(), t).first().map(|b| serde_json::json!({"trial": b.name, "value": b.objective})),
            };
            serde_json::json!({
                "name": r.name, "namespace": r.namespace, "status": r.status.as_str(), "reason": r.reason,
                "trials": t.len(), "finished": t.iter().filter(|x| x.status.is_finished()).count(),
                "best": best, "createdAt": r.created_at.to_rfc3339(),
            })
        })
        .collect();
    match output {
        Output::Json => println!(
            "{}",
            serde_json::to_string_pretty(&json).unwrap_or_default()
        ),
        Output::Csv => {
            println!("name,namespace,status,reason,trials,finished,best_trial,best_value,created");
            for (r, e, t) in rows {
                let b = ranked(e.as_ref(), t)
                    .first()
                    .map(|b| {
                        (
                            b.name.clone(),
                            b.objective.map(|v| v.to_string()).unwrap_or_default(),
                        )
                    })
                    .unwrap_or_default();
                println!(
                    "{},{},{},{},{},{},{},{},{}",
                    csv_field(&r.name),
                    r.namespace,
                    r.status,
                    r.reason,
                    t.len(),
                    t.iter().filter(|x| x.status.is_finished()).count(),
                    b.0,
                    b.1,
                    r.created_at.to_rfc3339()
                );
            }
        }
        Output::Table => {
            let mut table = Table::new();
            table.load_style(UTF8_FULL_CONDENSED);
            table.set_header([
                "name",
                "namespace",
                "status",
                "reason",
                "trials",
                "best",
                "created",
            ]);
            for (r, e, t) in rows {
                let b = best_text(e.as_ref(), t);
                table.add_row(vec![
                    r.name.clone(),
                    r.namespace.clone(),
                    r.status.to_string(),
                    r.reason.clone(),
                    format!(
                        "{}/{}",
                        t.iter().filter(|x| x.status.is_finished()).count(),
                        t.len()
                    ),
                    b,
                    time(Some(r.created_at)),
                ]);
            }
            println!("{table}");
        }
    }
}

/// `show`
pub fn show(
    record: &ExperimentRecord,
    exp: Option<&Experiment>,
    trials: &[TrialRecord],
    output: Output,
) {
    let mut counts = serde_json::Map::new();
    for s in TrialStatus::ALL {
        let n = trials.iter().filter(|t| t.status == s).count();
        counts.insert(s.as_str().to_string(), n.into());
    }
    let front = pareto(exp, trials);
    let best = match &front {
        Some(_) => None,
        None => ranked(exp, trials).first().map(|b| optimal_json(exp, b)),
    };
    let saved = savings(exp, trials);
    if output == Output::Json {
        let v = serde_json::json!({
            "name": record.name, "namespace": record.namespace, "status": record.status.as_str(),
            "reason": record.reason, "message": record.message, "seed": record.seed,
            "runDir": record.run_dir, "createdAt": record.created_at.to_rfc3339(),
            "startTime": record.started_at.map(|t| t.to_rfc3339()), "completionTime": record.completed_at.map(|t| t.to_rfc3339()),
            "trialCounts": counts, "currentOptimalTrial": best,
            "trials": trials.iter().map(|t| trial_json(exp, t)).collect::<Vec<_>>(),
        });
        let mut v = v;
        if let Some(o) = v.as_object_mut()
            && exp.is_some_and(|e| e.early_stopping.is_some())
        {
            o.insert(
                "earlyStopping".into(),
                serde_json::json!({
                    "stopped": saved.stopped, "stepsNotSpent": saved.steps,
                    "secondsNotSpent": (saved.seconds * 10.0).round() / 10.0,
                }),
            );
        }
        if let (Some(front), Some(o)) = (&front, v.as_object_mut()) {
            o.insert(
                "paretoFront".into(),
                front
                    .iter()
                    .map(|t| optimal_json(exp, t))
                    .collect::<Vec<_>>()
                    .into(),
            );
        }
        println!("{}", serde_json::to_string_pretty(&v).unwrap_or_default());
        return;
    }
    println!(
        "experiment:  {} (namespace {})",
        record.name, record.namespace
    );
    println!("status:      {}", status_line(record));
    if let Some(e) = exp.filter(|e| e.objective.is_multi()) {
        let list: Vec<String> = e
            .objective
            .objectives()
            .iter()
            .map(|(m, t)| format!("{} {m}", t.as_str()))
            .collect();
        println!("objectives:  {}", list.join(", "));
        println!("algorithm:   {} (seed {})", e.algorithm.name, record.seed);
    } else if let Some(e) = exp {
        println!(
            "objective:   {} {}{}",
            e.objective.type_.as_str(),
            e.objective.metric,
            e.objective
                .goal
                .map(|g| format!(" (goal {g})"))
                .unwrap_or_default()
        );
        println!("algorithm:   {} (seed {})", e.algorithm.name, record.seed);
    }
    let nonzero: Vec<String> = counts
        .iter()
        .filter(|(_, v)| v.as_u64() != Some(0))
        .map(|(k, v)| format!("{k} {v}"))
        .collect();
    println!("trials:      {} ({})", trials.len(), nonzero.join(", "));
    if let Some(rule) = exp.and_then(|e| e.early_stopping.as_ref()) {
        println!(
            "early stop:  {}: {} trial{} stopped, about {} steps and {:.1} s not spent",
            rule.name,
            saved.stopped,
            if saved.stopped == 1 { "" } else { "s" },
            saved.steps,
            saved.seconds
        );
    }
    println!("run dir:     {}", record.run_dir);
    if let Some(f) = &front {
        println!("pareto front: {} trials, marked ★ below", f.len());
    } else if let Some(b) = ranked(exp, trials).first() {
        let params: Vec<String> = b
            .parameters
            .0
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        println!(
            "best trial:  {} {} = {}  [{}]",
            b.name,
            exp.map(|e| e.objective.metric.as_str())
                .unwrap_or("objective"),
            b.objective.unwrap_or_default(),
            params.join(", ")
        );
    }
    if output == Output::Csv {
        trials_csv(exp, trials, front.as_deref());
    } else if !trials.is_empty() {
        let all: Vec<&TrialRecord> = trials.iter().collect();
        println!("{}", trial_table_marked(exp, &all, front.as_deref()));
    }
}

fn trials_csv(exp: Option<&Experiment>, trials: &[TrialRecord], front: Option<&[&TrialRecord]>) {
    let params: Vec<String> = trials
        .first()
        .map(|t| t.parameters.0.iter().map(|(k, _)| k.clone()).collect())
        .unwrap_or_default();
    let metrics = metric_names(exp, trials);
    let mut header = vec!["name".to_string(), "status".to_string()];
    header.extend(params.iter().cloned());
    header.extend(metrics.iter().cloned());
    header.extend(["startTime".to_string(), "completionTime".to_string()]);
    if front.is_some() {
        header.push("paretoOptimal".to_string());
    }
    println!(
        "{}",
        header
            .iter()
            .map(|h| csv_field(h))
            .collect::<Vec<_>>()
            .join(",")
    );
    for t in trials {
        let mut row = vec![csv_field(&t.name), t.status.to_string()];
        row.extend(params.iter().map(|p| {
            csv_field(
                &t.parameters
                    .get(p)
                    .map(|v| v.to_string())
                    .unwrap_or_default(),
            )
        }));
        row.extend(metrics.iter().map(|m| {
            metric_value(exp, t, m)
                .map(|v| v.to_string())
                .unwrap_or_default()
        }));
        row.push(time(t.start_time));
        row.push(time(t.completion_time));
        if let Some(f) = front {
            row.push(f.iter().any(|x| x.name == t.name).to_string());
        }
        println!("{}", row.join(","));
    }
}

/// `trials` (with `pareto_only`, the Pareto front alone, ordered by the first objective).
pub fn trials(exp: Option<&Experiment>, trials: &[TrialRecord], output: Output, pareto_only: bool) {
    let front = pareto(exp, trials);
    let shown: Vec<&TrialRecord> = match (&front, pareto_only) {
        (Some(f), true) => f.clone(),
        _ => trials.iter().collect(),
    };
    match output {
        Output::Json => {
            let v: Vec<serde_json::Value> = shown
                .iter()
                .map(|t| trial_json_in(exp, t, front.as_deref()))
                .collect();
            println!("{}", serde_json::to_string_pretty(&v).unwrap_or_default());
        }
        Output::Csv => {
            let owned: Vec<TrialRecord> = shown.iter().map(|t| (*t).clone()).collect();
            trials_csv(exp, &owned, front.as_deref());
        }
        Output::Table => println!("{}", trial_table_marked(exp, &shown, front.as_deref())),
    }
}
