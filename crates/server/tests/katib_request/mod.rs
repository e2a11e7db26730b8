//! A `GetSuggestionsRequest` as Katib's controller sends it (and `benches/katib/bench.py`),
//! for the tests and `examples/katib_call_cost.rs`.

use ferrotune_api::katib as pb;

/// An experiment named `exp-{algorithm}` minimising `loss` over `[0, 1]^dims` (parameters
/// `x0`, `x1`, …), with a completed trial for each `(point, loss)`: its assignments and
/// metric as strings, the experiment's objective, times; `current_request_number` 2.
pub fn request(
    algorithm: &str,
    dims: usize,
    points: impl IntoIterator<Item = (Vec<f64>, f64)>,
) -> pb::GetSuggestionsRequest {
    let objective = pb::ObjectiveSpec {
        r#type: pb::ObjectiveType::Minimize as i32,
        objective_metric_name: "loss".into(),
        ..Default::default()
    };
    let spec = pb::ExperimentSpec {
        parameter_specs: Some(pb::experiment_spec::ParameterSpecs {
            parameters: (0..dims)
                .map(|i| pb::ParameterSpec {
                    name: format!("x{i}"),
                    parameter_type: pb::ParameterType::Double as i32,
                    feasible_space: Some(pb::FeasibleSpace {
                        min: "0".into(),
                        max: "1".into(),
                        ..Default::default()
                    }),
                })
                .collect(),
        }),
        objective: Some(objective.clone()),
        algorithm: Some(pb::AlgorithmSpec {
            algorithm_name: algorithm.into(),
            algorithm_settings: Vec::new(),
        }),
        parallel_trial_count: 1,
        max_trial_count: 100,
        ..Default::default()
    };
    let trials = points
        .into_iter()
        .enumerate()
        .map(|(k, (x, loss))| pb::Trial {
            name: format!("t-{k:05}"),
            spec: Some(pb::TrialSpec {
                objective: Some(objective.clone()),
                parameter_assignments: Some(pb::trial_spec::ParameterAssignments {
                    assignments: x
                        .iter()
                        .enumerate()
                        .map(|(i, v)| pb::ParameterAssignment {
                            name: format!("x{i}"),
                            value: format!("{v:?}"),
                        })
                        .collect(),
                }),
                labels: Default::default(),
            }),
            status: Some(pb::TrialStatus {
                start_time: "2026-11-24T00:00:00Z".into(),
                completion_time: "2026-11-24T00:01:00Z".into(),
                condition: pb::trial_status::TrialConditionType::Succeeded as i32,
                observation: Some(pb::Observation {
                    metrics: vec![pb::Metric {
                        name: "loss".into(),
                        value: format!("{loss:?}"),
                    }],
                }),
            }),
        })
        .collect();
    pb::GetSuggestionsRequest {
        experiment: Some(pb::Experiment {
            name: format!("exp-{algorithm}"),
            spec: Some(spec),
        }),
        trials,
        current_request_number: 2,
        total_request_number: 3,
    }
}
