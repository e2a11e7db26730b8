//! The server's own work in a Katib `GetSuggestions` call with 1,000 completed trials
//! (6-D, as `benches/katib` sends), in-process: reading the request in place and answering
//! it, repeated with the same request as `benches/katib` does. Wall times here are rough;
//! for instruction counts (what RESULTS.md quotes), run it under callgrind with 1 and 21
//! calls and take the difference over 20:
//!
//!     cargo build --release -p ferrotune-server --example katib_call_cost
//!     valgrind --tool=callgrind target/release/examples/katib_call_cost 21 random
//!
//! Arguments: the number of calls (default 200), and one algorithm (default: `random`,
//! `multivariate-tpe` and `tpe` in turn).
use ferrotune_api::convert::wire::WireSuggestionsRequest;
use ferrotune_api::katib as pb;
use prost::Message;
use std::time::Instant;

fn request(algorithm: &str, n: usize) -> pb::GetSuggestionsRequest {
    let objective = pb::ObjectiveSpec {
        r#type: pb::ObjectiveType::Minimize as i32,
        goal: 0.0,
        objective_metric_name: "loss".into(),
        additional_metric_names: vec![],
    };
    let params: Vec<pb::ParameterSpec> = (0..6)
        .map(|i| pb::ParameterSpec {
            name: format!("x{i}"),
            parameter_type: pb::ParameterType::Double as i32,
            feasible_space: Some(pb::FeasibleSpace {
                max: "1".into(),
                min: "0".into(),
                ..Default::default()
            }),
        })
        .collect();
    let mut s: u64 = 42;
    let mut rnd = || {
        s = s
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (s >> 11) as f64 / (1u64 << 53) as f64
    };
    pb::GetSuggestionsRequest {
        experiment: Some(pb::Experiment {
            name: "exp".into(),
            spec: Some(pb::ExperimentSpec {
                parameter_specs: Some(pb::experiment_spec::ParameterSpecs { parameters: params }),
                objective: Some(objective.clone()),
                algorithm: Some(pb::AlgorithmSpec {
                    algorithm_name: algorithm.into(),
                    algorithm_settings: vec![],
                }),
                parallel_trial_count: 1,
                max_trial_count: 2000,
                ..Default::default()
            }),
        }),
        trials: (0..n)
            .map(|i| pb::Trial {
                name: format!("exp-{i:08x}"),
                spec: Some(pb::TrialSpec {
                    objective: Some(objective.clone()),
                    parameter_assignments: Some(pb::trial_spec::ParameterAssignments {
                        assignments: (0..6)
                            .map(|k| pb::ParameterAssignment {
                                name: format!("x{k}"),
                                value: format!("{}", rnd()),
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
                            value: format!("{}", -3.0 * rnd()),
                        }],
                    }),
                }),
            })
            .collect(),
        current_request_number: 1,
        total_request_number: 1,
    }
}

fn main() {
    let reps: usize = std::env::args().nth(1).map_or(200, |s| s.parse().unwrap());
    let only = std::env::args().nth(2);
    for algorithm in ["random", "multivariate-tpe", "tpe"]
        .into_iter()
        .filter(|a| only.as_deref().is_none_or(|o| o == *a))
    {
        let bytes = bytes::Bytes::from(request(algorithm, 1000).encode_to_vec());
        let mut t_read = Vec::new();
        let mut t_all = Vec::new();
        for _ in 0..reps {
            let t0 = Instant::now();
            let r = WireSuggestionsRequest::read(bytes.clone()).expect("read in place");
            let t1 = Instant::now();
            let reply = ferrotune_server::katib::suggest_in_place(&r).expect("suggest");
            let t2 = Instant::now();
            std::hint::black_box(reply);
            drop(r);
            t_read.push((t1 - t0).as_secs_f64() * 1e3);
            t_all.push((t2 - t0).as_secs_f64() * 1e3);
        }
        t_read.sort_by(f64::total_cmp);
        t_all.sort_by(f64::total_cmp);
        println!(
            "{algorithm}: {} bytes; read median {:.3} ms; read+suggest median {:.3} ms",
            bytes.len(),
            t_read[reps / 2],
            t_all[reps / 2]
        );
    }
}
