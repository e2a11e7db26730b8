//! Protobuf messages to domain types and back, in one place, so that the services deal in
//! the core's types only. Katib sends every value as a string; a value that does not parse
//! is an error naming its field, never a guess.

pub mod wire;

use crate::katib as pb;
use ferrotune_core::spec::{
    AlgorithmDoc, FeasibleSpaceDoc, NameValue, ObjectiveDoc, ParameterDoc, Scalar, SpecDoc,
};
use ferrotune_core::{
    Assignment, Labels, NewTrial, ObjectiveType, SearchSpace, TrialStatus, TrialView,
};

/// A request field that cannot become a domain value.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct ConvertError {
    /// The request field, e.g. `trials[3].spec.parameterAssignments.assignments[0].value`.
    pub field: String,
    pub message: String,
}

fn err(field: impl Into<String>, message: impl Into<String>) -> ConvertError {
    ConvertError {
        field: field.into(),
        message: message.into(),
    }
}

fn non_empty(s: &str) -> Option<Scalar> {
    (!s.is_empty()).then(|| Scalar(s.to_string()))
}

/// Katib's `ExperimentSpec` as the core's document, so that the same validation (with the
/// same field paths, `spec.parameters[i]…`) applies to files and to gRPC requests.
pub fn spec_doc(spec: &pb::ExperimentSpec) -> SpecDoc {
    let parameters = spec
        .parameter_specs
        .as_ref()
        .map(|p| p.parameters.iter().map(parameter_doc).collect())
        .unwrap_or_default();
    let objective = spec.objective.as_ref().map(|o| ObjectiveDoc {
        type_: match pb::ObjectiveType::try_from(o.r#type) {
            Ok(pb::ObjectiveType::Minimize) => Some("minimize".into()),
            Ok(pb::ObjectiveType::Maximize) => Some("maximize".into()),
            _ => None,
        },
        // proto3 cannot tell an unset goal from 0; a suggestion service needs no goal.
        goal: None,
        objective_metric_name: non_empty(&o.objective_metric_name).map(|s| s.0),
        additional_metric_names: o.additional_metric_names.clone(),
        metric_strategies: Vec::new(),
        objectives: Vec::new(),
    });
    let algorithm = spec.algorithm.as_ref().map(|a| AlgorithmDoc {
        algorithm_name: non_empty(&a.algorithm_name).map(|s| s.0),
        algorithm_settings: a
            .algorithm_settings
            .iter()
            .filter(|s| s.name != STATE_SETTING)
            .map(|s| NameValue {
                name: s.name.clone(),
                value: Scalar(s.value.clone()),
            })
            .collect(),
    });
    let early_stopping = spec.early_stopping.as_ref().map(early_stopping_doc);
    SpecDoc {
        parameters,
        objective,
        algorithm,
        early_stopping,
        nas_config: spec.nas_config.as_ref().map(|_| serde_json::json!({})),
        ..SpecDoc::default()
    }
}

/// Katib's `EarlyStoppingSpec` as the core's algorithm document.
pub fn early_stopping_doc(e: &pb::EarlyStoppingSpec) -> AlgorithmDoc {
    AlgorithmDoc {
        algorithm_name: non_empty(&e.algorithm_name).map(|s| s.0),
        algorithm_settings: e
            .algorithm_settings
            .iter()
            .map(|s| NameValue {
                name: s.name.clone(),
                value: Scalar(s.value.clone()),
            })
            .collect(),
    }
}

fn parameter_doc(p: &pb::ParameterSpec) -> ParameterDoc {
    let parameter_type = match pb::ParameterType::try_from(p.parameter_type) {
        Ok(pb::ParameterType::Double) => Some("double"),
        Ok(pb::ParameterType::Int) => Some("int"),
        Ok(pb::ParameterType::Discrete) => Some("discrete"),
        Ok(pb::ParameterType::Categorical) => Some("categorical"),
        _ => None,
    };
    ParameterDoc {
        name: non_empty(&p.name).map(|s| s.0),
        parameter_type: parameter_type.map(str::to_string),
        feasible_space: p.feasible_space.as_ref().map(|f| FeasibleSpaceDoc {
            min: non_empty(&f.min),
            max: non_empty(&f.max),
            step: non_empty(&f.step),
            list: (!f.list.is_empty()).then(|| f.list.iter().map(|v| Scalar(v.clone())).collect()),
            distribution: match pb::Distribution::try_from(f.distribution) {
                Ok(pb::Distribution::Uniform) => Some("uniform".into()),
                Ok(pb::Distribution::LogUniform) => Some("logUniform".into()),
                Ok(pb::Distribution::Normal) => Some("normal".into()),
                Ok(pb::Distribution::LogNormal) => Some("logNormal".into()),
                _ => None,
            },
        }),
    }
}

/// The setting under which a stateful algorithm (CMA-ES) keeps its state in Katib's
/// experiment: Katib stores the settings a reply returns and sends them back next time.
pub const STATE_SETTING: &str = "ferrotune.io/state";

/// The state a previous reply asked Katib to keep, if the request carries it.
pub fn saved_state(spec: &pb::ExperimentSpec) -> Option<&str> {
    spec.algorithm
        .as_ref()?
        .algorithm_settings
        .iter()
        .find(|s| s.name == STATE_SETTING)
        .map(|s| s.value.as_str())
}

/// Katib's trial condition as ferrotune's status (UNKNOWN counts as still running).
pub fn trial_status(c: i32) -> TrialStatus {
    use pb::trial_status::TrialConditionType as C;
    match C::try_from(c) {
        Ok(C::Created) => TrialStatus::Created,
        Ok(C::Running) | Ok(C::Unknown) | Err(_) => TrialStatus::Running,
        Ok(C::Succeeded) => TrialStatus::Succeeded,
        Ok(C::Killed) => TrialStatus::Killed,
        Ok(C::Failed) => TrialStatus::Failed,
        Ok(C::Metricsunavailable) => TrialStatus::MetricsUnavailable,
        Ok(C::Earlystopped) => TrialStatus::EarlyStopped,
    }
}

/// Katib's trials as the history algorithms learn from: values parsed in the space,
/// the objective read from each trial's observation.
pub fn trial_views(
    trials: &[pb::Trial],
    space: &SearchSpace,
    objective_metric: &str,
) -> Result<Vec<TrialView>, ConvertError> {
    take_trial_views(&mut trials.to_vec(), space, objective_metric)
}

/// The same, taking the strings a view keeps (trial names, parameter names, labels) out of
/// `trials` instead of copying them: a request of 1,000 trials holds some 20,000 strings,
/// and a copy of each is most of the conversion's time. What is left in `trials` is the
/// caller's to drop (off the request's path, if it likes).
pub fn take_trial_views(
    trials: &mut [pb::Trial],
    space: &SearchSpace,
    objective_metric: &str,
) -> Result<Vec<TrialView>, ConvertError> {
    trials
        .iter_mut()
        .enumerate()
        .map(|(i, t)| trial_view(i, t, space, objective_metric))
        .collect()
}

fn trial_view(
    i: usize,
    t: &mut pb::Trial,
    space: &SearchSpace,
    objective_metric: &str,
) -> Result<TrialView, ConvertError> {
    let at = || format!("trials[{i}]");
    let (assignments, labels) = match t.spec.as_mut() {
        Some(s) => (
            s.parameter_assignments
                .as_mut()
                .map(|a| a.assignments.as_mut_slice())
                .unwrap_or_default(),
            std::mem::take(&mut s.labels),
        ),
        None => (Default::default(), Default::default()),
    };
    let mut parameters = Vec::with_capacity(space.parameters.len());
    // Katib lists the assignments in the parameters' order: while it does, parameter k's
    // first assignment is the k-th (names are unique), found without a search, and its
    // name can be taken rather than copied, being used once.
    let mut in_order = true;
    for (k, p) in space.parameters.iter().enumerate() {
        in_order = in_order && assignments.get(k).is_some_and(|a| a.name == p.name);
        let found = if in_order {
            Some(k)
        } else {
            assignments.iter().position(|a| a.name == p.name)
        };
        let Some(j) = found else {
            return Err(err(
                format!("{}.spec.parameterAssignments", at()),
                format!("has no value for parameter {:?}", p.name),
            ));
        };
        let a = &mut assignments[j];
        let v = p.domain.parse(&a.value).ok_or_else(|| {
            err(
                format!("{}.spec.parameterAssignments.assignments[{j}].value", at()),
                format!(
                    "{:?} is not a value of parameter {:?}'s feasible space",
                    a.value, p.name
                ),
            )
        })?;
        let name = if in_order {
            std::mem::take(&mut a.name)
        } else {
            p.name.clone()
        };
        parameters.push((name, v));
    }
    let status = t
        .status
        .as_ref()
        .map_or(TrialStatus::Created, |s| trial_status(s.condition));
    let mut objective = None;
    if let Some(obs) = t.status.as_ref().and_then(|s| s.observation.as_ref()) {
        for (j, m) in obs.metrics.iter().enumerate() {
            if m.name == objective_metric {
                let v = m.value.trim().parse::<f64>().map_err(|_| {
                    err(
                        format!("{}.status.observation.metrics[{j}].value", at()),
                        format!("{:?} is not a number", m.value),
                    )
                })?;
                objective = Some(v);
            }
        }
    }
    Ok(TrialView {
        name: std::mem::take(&mut t.name),
        parameters: Assignment(parameters),
        status,
        objective,
        objectives: Vec::new(),
        intermediate: Vec::new(),
        labels: labels.into_iter().collect::<Labels>(),
    })
}

/// New trials as Katib's reply entries: values as strings, labels kept.
pub fn assignments_reply(
    trials: Vec<NewTrial>,
) -> Vec<pb::get_suggestions_reply::ParameterAssignments> {
    trials
        .into_iter()
        .map(|t| pb::get_suggestions_reply::ParameterAssignments {
            assignments: t
                .parameters
                .0
                .into_iter()
                .map(|(name, v)| pb::ParameterAssignment {
                    name,
                    value: v.to_string(),
                })
                .collect(),
            trial_name: String::new(),
            labels: t.labels.into_iter().collect(),
        })
        .collect()
}

/// The objective direction as Katib's comparison that stops a trial below (maximising) or
/// above (minimising) a threshold.
pub fn stopping_comparison(t: ObjectiveType) -> pb::ComparisonType {
    match t {
        ObjectiveType::Minimize => pb::ComparisonType::Greater,
        ObjectiveType::Maximize => pb::ComparisonType::Less,
    }
}

/// One observation-log entry as Katib sends it: metric, time, value (text, kept as given).
pub type LogEntry = (String, chrono::DateTime<chrono::Utc>, String);

/// A `ReportObservationLog` body: every entry needs a metric name and an RFC 3339 time.
pub fn log_entries(log: Option<&pb::ObservationLog>) -> Result<Vec<LogEntry>, ConvertError> {
    let Some(log) = log else {
        return Ok(Vec::new());
    };
    log.metric_logs
        .iter()
        .enumerate()
        .map(|(i, m)| {
            let at = format!("observation_log.metric_logs[{i}]");
            let metric = m
                .metric
                .as_ref()
                .filter(|m| !m.name.is_empty())
                .ok_or_else(|| err(format!("{at}.metric.name"), "is required"))?;
            let time = time(&m.time_stamp, &format!("{at}.time_stamp"))?;
            Ok((metric.name.clone(), time, metric.value.clone()))
        })
        .collect()
}

/// An RFC 3339 time from a request field.
pub fn time(text: &str, field: &str) -> Result<chrono::DateTime<chrono::Utc>, ConvertError> {
    chrono::DateTime::parse_from_rfc3339(text.trim())
        .map(|t| t.with_timezone(&chrono::Utc))
        .map_err(|e| err(field, format!("{text:?} is not an RFC 3339 time: {e}")))
}

/// An optional RFC 3339 bound (Katib sends "" for none).
pub fn optional_time(
    text: &str,
    field: &str,
) -> Result<Option<chrono::DateTime<chrono::Utc>>, ConvertError> {
    if text.trim().is_empty() {
        Ok(None)
    } else {
        time(text, field).map(Some)
    }
}

/// Stored entries as Katib's observation log.
pub fn observation_log(entries: Vec<LogEntry>) -> pb::ObservationLog {
    pb::ObservationLog {
        metric_logs: entries
            .into_iter()
            .map(|(name, time, value)| pb::MetricLog {
                time_stamp: time.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true),
                metric: Some(pb::Metric { name, value }),
            })
            .collect(),
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use ferrotune_core::{Distribution, Domain, ParamValue, Parameter};

    /// Two doubles `a` and `b` in [0, 1], for the conversion tests here and in `wire`.
    pub(crate) fn space() -> SearchSpace {
        let double = |name: &str| Parameter {
            name: name.into(),
            domain: Domain::Double {
                min: 0.0,
                max: 1.0,
                step: None,
                distribution: Distribution::Uniform,
            },
        };
        SearchSpace {
            parameters: vec![double("a"), double("b")],
        }
    }

    fn trial(name: &str, assignments: &[(&str, &str)], loss: &str) -> pb::Trial {
        pb::Trial {
            name: name.into(),
            spec: Some(pb::TrialSpec {
                objective: None,
                parameter_assignments: Some(pb::trial_spec::ParameterAssignments {
                    assignments: assignments
                        .iter()
                        .map(|(n, v)| pb::ParameterAssignment {
                            name: n.to_string(),
                            value: v.to_string(),
                        })
                        .collect(),
                }),
                labels: [("k".to_string(), "v".to_string())].into(),
            }),
            status: Some(pb::TrialStatus {
                condition: pb::trial_status::TrialConditionType::Succeeded as i32,
                observation: Some(pb::Observation {
                    metrics: vec![pb::Metric {
                        name: "loss".into(),
                        value: loss.into(),
                    }],
                }),
                ..Default::default()
            }),
        }
    }

    #[test]
    fn trials_in_any_assignment_order_give_the_same_views() {
        let trials = vec![
            trial("t0", &[("a", "0.25"), ("b", "0.5")], "1.5"),
            // Out of order, with an extra name and a duplicate: the first "a" counts.
            trial(
                "t1",
                &[("b", "0.5"), ("x", "9"), ("a", "0.25"), ("a", "0.75")],
                "1.5",
            ),
        ];
        let views = trial_views(&trials, &space(), "loss").unwrap();
        let mut taken = trials.clone();
        assert_eq!(
            take_trial_views(&mut taken, &space(), "loss").unwrap(),
            views
        );
        let want = Assignment(vec![
            ("a".into(), ParamValue::Float(0.25)),
            ("b".into(), ParamValue::Float(0.5)),
        ]);
        for (v, name) in views.iter().zip(["t0", "t1"]) {
            assert_eq!(v.name, name);
            assert_eq!(v.parameters, want);
            assert_eq!(v.objective, Some(1.5));
            assert_eq!(v.status, TrialStatus::Succeeded);
            assert_eq!(v.labels.get("k").map(String::as_str), Some("v"));
        }
    }

    #[test]
    fn bad_trials_name_their_field() {
        let missing = [trial("t", &[("a", "0.25")], "1")];
        let e = trial_views(&missing, &space(), "loss").unwrap_err();
        assert_eq!(e.field, "trials[0].spec.parameterAssignments");
        let outside = [trial("t", &[("a", "0.25"), ("b", "2")], "1")];
        let e = trial_views(&outside, &space(), "loss").unwrap_err();
        assert_eq!(
            e.field,
            "trials[0].spec.parameterAssignments.assignments[1].value"
        );
        let nan = [trial("t", &[("a", "0.25"), ("b", "0.5")], "n/a")];
        let e = trial_views(&nan, &space(), "loss").unwrap_err();
        assert_eq!(e.field, "trials[0].status.observation.metrics[0].value");
    }
}
