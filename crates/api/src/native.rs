//! `ferrotune.v1` messages to domain types and back: the server answers with these, and the
//! CLI turns them back into records to show them exactly as it shows local ones.

use crate::v1;
use chrono::{DateTime, Utc};
use ferrotune_controller::drivers::{DriverHello, FromDriver, ToDriver};
use ferrotune_core::{Assignment, Labels, MetricSummary, Observation, ParamValue, TrialStatus};
use ferrotune_store::{ExperimentRecord, ExperimentStatus, TrialRecord};

/// A message field that does not convert, named.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{field}: {problem}")]
pub struct FieldProblem {
    pub field: String,
    pub problem: String,
}

fn problem(field: impl Into<String>, problem: impl Into<String>) -> FieldProblem {
    FieldProblem {
        field: field.into(),
        problem: problem.into(),
    }
}

/// RFC 3339 with microseconds, as the store writes times; empty for `None`.
pub fn time_text(t: Option<DateTime<Utc>>) -> String {
    t.map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Micros, true))
        .unwrap_or_default()
}

/// An RFC 3339 time; empty text is `None`.
pub fn parse_time(field: &str, text: &str) -> Result<Option<DateTime<Utc>>, FieldProblem> {
    if text.is_empty() {
        return Ok(None);
    }
    DateTime::parse_from_rfc3339(text)
        .map(|t| Some(t.with_timezone(&Utc)))
        .map_err(|e| problem(field, format!("{text:?} is not an RFC 3339 time: {e}")))
}

/// A parameter value as JSON text: numbers as numbers, categoricals quoted.
pub fn value_text(v: &ParamValue) -> String {
    match v {
        ParamValue::Int(i) => i.to_string(),
        ParamValue::Float(x) if x.is_finite() => serde_json::Number::from_f64(*x)
            .map(|n| n.to_string())
            .unwrap_or_else(|| x.to_string()),
        ParamValue::Float(x) => serde_json::Value::from(x.to_string()).to_string(),
        ParamValue::Str(s) => serde_json::Value::from(s.as_str()).to_string(),
    }
}

/// Parses a value written by [`value_text`].
pub fn parse_value(field: &str, text: &str) -> Result<ParamValue, FieldProblem> {
    let v: serde_json::Value = serde_json::from_str(text).map_err(|e| {
        problem(
            field,
            format!("{text:?} is not a JSON number or string: {e}"),
        )
    })?;
    match v {
        serde_json::Value::Number(n) => match n.as_i64() {
            Some(i) if !text.contains(['.', 'e', 'E']) => Ok(ParamValue::Int(i)),
            _ => n
                .as_f64()
                .map(ParamValue::Float)
                .ok_or_else(|| problem(field, format!("{text:?} is out of range"))),
        },
        serde_json::Value::String(s) => Ok(ParamValue::Str(s)),
        _ => Err(problem(
            field,
            format!("{text:?} is not a number or a string"),
        )),
    }
}

pub fn parameters(a: &Assignment) -> Vec<v1::Parameter> {
    a.0.iter()
        .map(|(name, v)| v1::Parameter {
            name: name.clone(),
            value: value_text(v),
        })
        .collect()
}

pub fn assignment(field: &str, ps: &[v1::Parameter]) -> Result<Assignment, FieldProblem> {
    ps.iter()
        .enumerate()
        .map(|(i, p)| {
            if p.name.is_empty() {
                return Err(problem(format!("{field}[{i}].name"), "must not be empty"));
            }
            Ok((
                p.name.clone(),
                parse_value(&format!("{field}[{i}].value"), &p.value)?,
            ))
        })
        .collect::<Result<Vec<_>, _>>()
        .map(Assignment)
}

/// Trial counts by status.
pub fn counts(trials: &[TrialRecord]) -> v1::TrialCounts {
    let mut c = v1::TrialCounts::default();
    for t in trials {
        let slot = match t.status {
            TrialStatus::Created => &mut c.created,
            TrialStatus::Running => &mut c.running,
            TrialStatus::Succeeded => &mut c.succeeded,
            TrialStatus::Failed => &mut c.failed,
            TrialStatus::Killed => &mut c.killed,
            TrialStatus::EarlyStopped => &mut c.early_stopped,
            TrialStatus::MetricsUnavailable => &mut c.metrics_unavailable,
        };
        *slot += 1;
    }
    c
}

pub fn experiment(r: &ExperimentRecord, trials: &[TrialRecord]) -> v1::Experiment {
    v1::Experiment {
        namespace: r.namespace.clone(),
        name: r.name.clone(),
        status: r.status.as_str().to_string(),
        reason: r.reason.clone(),
        message: r.message.clone(),
        document_json: r.document.to_string(),
        seed: r.seed,
        created_at: time_text(Some(r.created_at)),
        started_at: time_text(r.started_at),
        completed_at: time_text(r.completed_at),
        run_dir: r.run_dir.clone(),
        source: r.source_path.clone(),
        counts: Some(counts(trials)),
    }
}

/// The record an `Experiment` message describes (ids are the server's business: 0).
pub fn experiment_record(m: &v1::Experiment) -> Result<ExperimentRecord, FieldProblem> {
    Ok(ExperimentRecord {
        id: 0,
        name: m.name.clone(),
        namespace: m.namespace.clone(),
        document: serde_json::from_str(&m.document_json)
            .map_err(|e| problem("document_json", e.to_string()))?,
        source_path: m.source.clone(),
        run_dir: m.run_dir.clone(),
        seed: m.seed,
        status: m
            .status
            .parse::<ExperimentStatus>()
            .map_err(|e| problem("status", e))?,
        reason: m.reason.clone(),
        message: m.message.clone(),
        created_at: parse_time("created_at", &m.created_at)?.unwrap_or_default(),
        started_at: parse_time("started_at", &m.started_at)?,
        completed_at: parse_time("completed_at", &m.completed_at)?,
        owner_pid: None,
        stop_requested: false,
    })
}

pub fn metric_summary(s: &MetricSummary) -> v1::MetricSummary {
    v1::MetricSummary {
        name: s.name.clone(),
        min: s.min,
        max: s.max,
        latest: s.latest,
        count: s.count,
    }
}

pub fn trial(namespace: &str, experiment: &str, t: &TrialRecord) -> v1::Trial {
    v1::Trial {
        namespace: namespace.to_string(),
        experiment: experiment.to_string(),
        name: t.name.clone(),
        seq: t.seq,
        parameters: parameters(&t.parameters),
        status: t.status.as_str().to_string(),
        reason: t.reason.clone(),
        message: t.message.clone(),
        attempt: t.attempt,
        failed_attempts: t.failed_attempts,
        objective: t.objective,
        metrics: t.metrics.iter().map(metric_summary).collect(),
        labels: t
            .labels
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect(),
        created_at: time_text(Some(t.created_at)),
        start_time: time_text(t.start_time),
        completion_time: time_text(t.completion_time),
    }
}

/// The record a `Trial` message describes (ids are the server's business: 0).
pub fn trial_record(m: &v1::Trial) -> Result<TrialRecord, FieldProblem> {
    Ok(TrialRecord {
        id: 0,
        experiment_id: 0,
        name: m.name.clone(),
        seq: m.seq,
        parameters: assignment("parameters", &m.parameters)?,
        status: m
            .status
            .parse::<TrialStatus>()
            .map_err(|e| problem("status", e.to_string()))?,
        reason: m.reason.clone(),
        message: m.message.clone(),
        attempt: m.attempt,
        failed_attempts: m.failed_attempts,
        objective: m.objective,
        metrics: m
            .metrics
            .iter()
            .map(|s| MetricSummary {
                name: s.name.clone(),
                min: s.min,
                max: s.max,
                latest: s.latest,
                count: s.count,
            })
            .collect(),
        labels: m
            .labels
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect::<Labels>(),
        created_at: parse_time("created_at", &m.created_at)?.unwrap_or_default(),
        start_time: parse_time("start_time", &m.start_time)?,
        completion_time: parse_time("completion_time", &m.completion_time)?,
        pgid: None,
    })
}

pub fn observation(attempt: i64, o: &Observation) -> v1::Observation {
    v1::Observation {
        attempt,
        metric: o.metric.clone(),
        step: o.step,
        timestamp: time_text(Some(o.timestamp)),
        value: o.value,
    }
}

/// The reports of a `ReportRequest`, metrics in name order (a map has none).
pub fn report(
    index: usize,
    m: &v1::ReportRequest,
) -> Result<ferrotune_controller::Report, FieldProblem> {
    let timestamp = parse_time(&format!("reports[{index}].timestamp"), &m.timestamp)?;
    let mut metrics: Vec<(String, f64)> = m.metrics.iter().map(|(k, v)| (k.clone(), *v)).collect();
    metrics.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(ferrotune_controller::Report {
        step: m.step,
        metrics,
        timestamp,
    })
}

/// A runner a request asks for: its kind, Ray address and Ray mode, each when said.
pub type RunnerRequest = (
    Option<ferrotune_core::placement::RunnerKind>,
    Option<String>,
    Option<ferrotune_core::placement::RayMode>,
);

/// `CreateExperimentRequest.runner`, checked; `None` when it says nothing.
pub fn runner_override(r: &v1::RunnerOverride) -> Result<Option<RunnerRequest>, FieldProblem> {
    use ferrotune_core::placement::{RayMode, RunnerKind, normalize_ray_address};
    let kind = match r.kind.as_str() {
        "" => None,
        k => Some(RunnerKind::parse(k).ok_or_else(|| {
            problem(
                "runner.kind",
                format!("unknown runner {k:?} (known: local, ray)"),
            )
        })?),
    };
    let ray_address = match r.ray_address.as_str() {
        "" => None,
        a => Some(normalize_ray_address(a).map_err(|e| problem("runner.ray_address", e))?),
    };
    let ray_mode = match r.ray_mode.as_str() {
        "" => None,
        m => Some(RayMode::parse(m).map_err(|e| problem("runner.ray_mode", e))?),
    };
    if kind == Some(RunnerKind::Local) && (ray_address.is_some() || ray_mode.is_some()) {
        return Err(problem(
            "runner",
            "ray_address and ray_mode are only for kind ray",
        ));
    }
    let said = kind.is_some() || ray_address.is_some() || ray_mode.is_some();
    Ok(said.then_some((kind, ray_address, ray_mode)))
}

/// A Ray driver's message, checked: the trial and attempt named, the first message a hello.
pub fn from_driver(m: v1::DriverMessage) -> Result<DriverMessageKind, FieldProblem> {
    use v1::driver_message::Kind;
    let named = |trial: &str, attempt: i64, what: &str| {
        if trial.is_empty() {
            Err(problem(format!("{what}.trial"), "must name the trial"))
        } else if attempt < 1 {
            Err(problem(format!("{what}.attempt"), "must be at least 1"))
        } else {
            Ok(())
        }
    };
    match m.kind {
        None => Err(problem("kind", "the message is empty")),
        Some(Kind::Hello(h)) => {
            if h.driver_id.is_empty() {
                return Err(problem("hello.driver_id", "must name the driver"));
            }
            Ok(DriverMessageKind::Hello(DriverHello {
                driver_id: h.driver_id,
                running: h
                    .running
                    .into_iter()
                    .map(|r| (r.trial, r.attempt, r.token))
                    .collect(),
                ray_version: h.ray_version,
            }))
        }
        Some(Kind::Started(s)) => {
            named(&s.trial, s.attempt, "started")?;
            Ok(DriverMessageKind::Message(FromDriver::Started {
                trial: s.trial,
                attempt: s.attempt,
                node_id: s.node_id,
                node_ip: s.node_ip,
            }))
        }
        Some(Kind::Output(o)) => {
            named(&o.trial, o.attempt, "output")?;
            Ok(DriverMessageKind::Message(FromDriver::Output {
                trial: o.trial,
                attempt: o.attempt,
                lines: o.lines,
                rank: o.rank,
                first_line: o.first_line,
            }))
        }
        Some(Kind::Exited(e)) => {
            named(&e.trial, e.attempt, "exited")?;
            Ok(DriverMessageKind::Message(FromDriver::Exited {
                trial: e.trial,
                attempt: e.attempt,
                code: e.code,
                signal: e.signal,
                error: e.error,
                not_started: e.not_started,
            }))
        }
    }
}

/// A driver's message: its hello, or news of a task.
#[derive(Debug, Clone, PartialEq)]
pub enum DriverMessageKind {
    Hello(DriverHello),
    Message(FromDriver),
}

/// A command for a Ray driver.
pub fn to_driver(c: ToDriver) -> v1::DriverCommand {
    use v1::driver_command::Kind;
    let kind = match c {
        ToDriver::Launch(t) => Kind::Launch(v1::TaskLaunch {
            trial: t.trial,
            attempt: t.attempt,
            argv: t.argv,
            env: t
                .env
                .into_iter()
                .map(|(name, value)| v1::EnvVar { name, value })
                .collect(),
            cwd: t.cwd,
            mkdirs: t.mkdirs,
            num_cpus: t.resources.cpu,
            num_gpus: t.resources.gpu,
            memory: t.resources.memory.unwrap_or(0),
            resources: t.resources.custom.into_iter().collect(),
            replicas: t.replicas,
        }),
        ToDriver::Cancel {
            trial,
            attempt,
            grace,
        } => Kind::Cancel(v1::TaskCancel {
            trial,
            attempt,
            grace_seconds: grace.as_secs_f64(),
        }),
        ToDriver::Shutdown => Kind::Shutdown(v1::DriverShutdown {}),
    };
    v1::DriverCommand { kind: Some(kind) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn driver_messages_are_checked_and_name_their_field() {
        use v1::driver_message::Kind;
        let bad = |kind: Option<Kind>| from_driver(v1::DriverMessage { kind }).unwrap_err().field;
        assert_eq!(bad(None), "kind");
        assert_eq!(
            bad(Some(Kind::Hello(v1::DriverHello::default()))),
            "hello.driver_id"
        );
        assert_eq!(
            bad(Some(Kind::Output(v1::TaskOutput {
                attempt: 1,
                ..Default::default()
            }))),
            "output.trial"
        );
        assert_eq!(
            bad(Some(Kind::Exited(v1::TaskExited {
                trial: "t".into(),
                ..Default::default()
            }))),
            "exited.attempt"
        );
        let ok = from_driver(v1::DriverMessage {
            kind: Some(Kind::Exited(v1::TaskExited {
                trial: "t".into(),
                attempt: 2,
                signal: Some(9),
                ..Default::default()
            })),
        })
        .unwrap();
        assert_eq!(
            ok,
            DriverMessageKind::Message(FromDriver::Exited {
                trial: "t".into(),
                attempt: 2,
                code: None,
                signal: Some(9),
                error: String::new(),
                not_started: false,
            })
        );
    }

    #[test]
    fn a_launch_carries_argv_env_in_order_and_resources() {
        use ferrotune_controller::drivers::TaskSpec;
        let mut resources = ferrotune_core::placement::TrialResources {
            cpu: 0.5,
            gpu: 1.0,
            memory: Some(1 << 30),
            ..Default::default()
        };
        resources.custom.insert("TPU".into(), 4.0);
        let c = to_driver(ToDriver::Launch(TaskSpec {
            trial: "e-0001".into(),
            attempt: 3,
            argv: vec!["python3".into(), "$(id)".into()],
            env: vec![("A".into(), "1".into()), ("A".into(), "2".into())],
            cwd: "/w".into(),
            mkdirs: vec!["/w".into()],
            resources,
            replicas: 2,
        }));
        let Some(v1::driver_command::Kind::Launch(l)) = c.kind else {
            panic!("{c:?}");
        };
        assert_eq!(l.argv, ["python3", "$(id)"]);
        let env: Vec<(&str, &str)> = l
            .env
            .iter()
            .map(|e| (e.name.as_str(), e.value.as_str()))
            .collect();
        assert_eq!(env, [("A", "1"), ("A", "2")]);
        assert_eq!((l.num_cpus, l.num_gpus, l.memory), (0.5, 1.0, 1 << 30));
        assert_eq!(l.resources.get("TPU"), Some(&4.0));
        assert_eq!((l.attempt, l.replicas), (3, 2));
    }

    #[test]
    fn a_runner_override_is_checked() {
        use ferrotune_core::placement::{RayMode, RunnerKind};
        let o = |kind: &str, addr: &str, mode: &str| {
            runner_override(&v1::RunnerOverride {
                kind: kind.into(),
                ray_address: addr.into(),
                ray_mode: mode.into(),
            })
        };
        assert_eq!(o("", "", ""), Ok(None));
        assert_eq!(
            o("ray", "h:8265/", "jobs"),
            Ok(Some((
                Some(RunnerKind::Ray),
                Some("http://h:8265".into()),
                Some(RayMode::Jobs)
            )))
        );
        assert_eq!(o("rey", "", "").unwrap_err().field, "runner.kind");
        assert_eq!(o("ray", "", "x").unwrap_err().field, "runner.ray_mode");
        assert_eq!(
            o("ray", "ray://h", "").unwrap_err().field,
            "runner.ray_address"
        );
        assert_eq!(o("local", "", "tasks").unwrap_err().field, "runner");
    }

    #[test]
    fn parameter_values_round_trip_with_their_types() {
        for v in [
            ParamValue::Int(-3),
            ParamValue::Float(0.1),
            ParamValue::Float(1e-300),
            ParamValue::Float(3.0),
            ParamValue::Str("adam".into()),
            ParamValue::Str("3".into()),
            ParamValue::Str("a \"quoted\" value".into()),
        ] {
            let text = value_text(&v);
            assert_eq!(parse_value("p", &text).unwrap(), v, "{text}");
        }
        assert_eq!(value_text(&ParamValue::Str("3".into())), "\"3\"");
        let e = parse_value("parameters[0].value", "[1]").unwrap_err();
        assert_eq!(e.field, "parameters[0].value");
    }

    #[test]
    fn trials_round_trip() {
        let now = Utc::now();
        let t = TrialRecord {
            id: 0,
            experiment_id: 0,
            name: "e-0001".into(),
            seq: 1,
            parameters: Assignment(vec![
                ("lr".into(), ParamValue::Float(0.01)),
                ("opt".into(), ParamValue::Str("sgd".into())),
            ]),
            status: TrialStatus::EarlyStopped,
            reason: "TrialEarlyStopped".into(),
            message: "below the median".into(),
            attempt: 2,
            failed_attempts: 1,
            objective: Some(0.25),
            metrics: vec![MetricSummary::new("loss", 0.25)],
            labels: [("ferrotune.io/parent".to_string(), "e-0000".to_string())]
                .into_iter()
                .collect(),
            created_at: time_text(Some(now)).parse().unwrap(),
            start_time: Some(time_text(Some(now)).parse().unwrap()),
            completion_time: None,
            pgid: None,
        };
        assert_eq!(trial_record(&trial("ns", "e", &t)).unwrap(), t);
    }

    #[test]
    fn bad_times_name_their_field() {
        let e = parse_time("reports[2].timestamp", "yesterday").unwrap_err();
        assert_eq!(e.field, "reports[2].timestamp");
    }
}
