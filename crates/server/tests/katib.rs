//! Katib's gRPC services over a real TCP connection, called the way Katib's controller
//! calls them: the experiment and the whole trial history in every request.

mod common;

use ferrotune_api::katib as pb;
use ferrotune_api::katib::db_manager_server::{DbManager, DbManagerServer};
use ferrotune_api::katib::early_stopping_client::EarlyStoppingClient;
use ferrotune_api::katib::suggestion_client::SuggestionClient;
use std::collections::HashMap;
use tokio::net::TcpListener;
use tonic::transport::Channel;
use tonic::{Code, Request, Response, Status};

/// `common::serve_default`'s server as a URL (its store's directory is leaked: it lives as
/// long as the test's process).
async fn start() -> String {
    let (addr, dir) = common::serve_default().await;
    std::mem::forget(dir);
    format!("http://{addr}")
}

async fn suggestion(url: &str) -> SuggestionClient<Channel> {
    SuggestionClient::connect(url.to_string()).await.unwrap()
}

fn param(name: &str, t: pb::ParameterType, space: pb::FeasibleSpace) -> pb::ParameterSpec {
    pb::ParameterSpec {
        name: name.into(),
        parameter_type: t as i32,
        feasible_space: Some(space),
    }
}

fn experiment(algorithm: &str, settings: &[(&str, &str)]) -> pb::Experiment {
    let range = |min: &str, max: &str| pb::FeasibleSpace {
        min: min.into(),
        max: max.into(),
        ..Default::default()
    };
    pb::Experiment {
        name: "katib-exp".into(),
        spec: Some(pb::ExperimentSpec {
            parameter_specs: Some(pb::experiment_spec::ParameterSpecs {
                parameters: vec![
                    param(
                        "lr",
                        pb::ParameterType::Double,
                        pb::FeasibleSpace {
                            distribution: pb::Distribution::LogUniform as i32,
                            ..range("0.001", "0.1")
                        },
                    ),
                    param("layers", pb::ParameterType::Int, range("1", "5")),
                    param(
                        "optimizer",
                        pb::ParameterType::Categorical,
                        pb::FeasibleSpace {
                            list: vec!["sgd".into(), "adam".into()],
                            ..Default::default()
                        },
                    ),
                ],
            }),
            objective: Some(pb::ObjectiveSpec {
                r#type: pb::ObjectiveType::Minimize as i32,
                objective_metric_name: "loss".into(),
                ..Default::default()
            }),
            algorithm: Some(pb::AlgorithmSpec {
                algorithm_name: algorithm.into(),
                algorithm_settings: settings
                    .iter()
                    .map(|(k, v)| pb::AlgorithmSetting {
                        name: k.to_string(),
                        value: v.to_string(),
                    })
                    .collect(),
            }),
            early_stopping: None,
            parallel_trial_count: 3,
            max_trial_count: 30,
            nas_config: None,
        }),
    }
}

/// A finished Katib trial with these values and a loss.
fn trial(name: &str, lr: &str, layers: &str, optimizer: &str, loss: f64) -> pb::Trial {
    let a = |n: &str, v: &str| pb::ParameterAssignment {
        name: n.into(),
        value: v.into(),
    };
    pb::Trial {
        name: name.into(),
        spec: Some(pb::TrialSpec {
            objective: None,
            parameter_assignments: Some(pb::trial_spec::ParameterAssignments {
                assignments: vec![a("lr", lr), a("layers", layers), a("optimizer", optimizer)],
            }),
            labels: HashMap::new(),
        }),
        status: Some(pb::TrialStatus {
            condition: pb::trial_status::TrialConditionType::Succeeded as i32,
            observation: Some(pb::Observation {
                metrics: vec![pb::Metric {
                    name: "loss".into(),
                    value: loss.to_string(),
                }],
            }),
            ..Default::default()
        }),
    }
}

fn request(exp: pb::Experiment, trials: Vec<pb::Trial>, n: i32) -> pb::GetSuggestionsRequest {
    pb::GetSuggestionsRequest {
        experiment: Some(exp),
        trials,
        current_request_number: n,
        total_request_number: n,
    }
}

/// Katib's reply as (name, value) pairs per suggestion, each checked against the space.
fn check(reply: &pb::GetSuggestionsReply) -> Vec<Vec<(String, String)>> {
    reply
        .parameter_assignments
        .iter()
        .map(|p| {
            let values: Vec<(String, String)> = p
                .assignments
                .iter()
                .map(|a| (a.name.clone(), a.value.clone()))
                .collect();
            let get = |n: &str| values.iter().find(|(k, _)| k == n).unwrap().1.clone();
            let lr: f64 = get("lr").parse().unwrap();
            assert!((0.001..=0.1).contains(&lr), "{values:?}");
            let layers: i64 = get("layers").parse().unwrap();
            assert!((1..=5).contains(&layers), "{values:?}");
            assert!(["sgd", "adam"].contains(&get("optimizer").as_str()));
            values
        })
        .collect()
}

#[tokio::test]
async fn suggestions_for_every_implemented_algorithm_lie_in_the_space() {
    let url = start().await;
    let mut c = suggestion(&url).await;
    let history: Vec<pb::Trial> = (0..12)
        .map(|i| {
            let lr = 0.001 * (1.0 + i as f64 * 7.0);
            trial(
                &format!("t{i}"),
                &lr.to_string(),
                &(1 + i % 5).to_string(),
                if i % 2 == 0 { "sgd" } else { "adam" },
                (lr - 0.03).abs() + i as f64 * 0.01,
            )
        })
        .collect();
    for (alg, settings) in [
        ("random", vec![]),
        ("sobol", vec![]),
        ("tpe", vec![("n_startup_trials", "5")]),
        ("multivariate-tpe", vec![("n_startup_trials", "5")]),
        ("cmaes", vec![]),
        ("bayesianoptimization", vec![("n_initial_points", "5")]),
        ("nsga2", vec![("population_size", "4")]),
    ] {
        let reply = c
            .get_suggestions(request(experiment(alg, &settings), history.clone(), 3))
            .await
            .unwrap_or_else(|e| panic!("{alg}: {e}"))
            .into_inner();
        assert_eq!(check(&reply).len(), 3, "{alg}");
        // The same request gets the same answer: the seed comes from the experiment.
        let again = c
            .get_suggestions(request(experiment(alg, &settings), history.clone(), 3))
            .await
            .unwrap()
            .into_inner();
        assert_eq!(check(&again), check(&reply), "{alg} is deterministic");
    }
}

#[tokio::test]
async fn an_algorithm_kept_from_an_earlier_call_answers_as_a_new_one() {
    let url = start().await;
    let mut c = suggestion(&url).await;
    let history = |n: usize, shift: f64| -> Vec<pb::Trial> {
        (0..n)
            .map(|i| {
                let lr = 0.001 + ((i as f64 * 0.37 + shift) % 1.0) * 0.099;
                trial(
                    &format!("t{i}"),
                    &lr.to_string(),
                    &(1 + (i * 3) % 5).to_string(),
                    if i % 3 == 0 { "sgd" } else { "adam" },
                    (lr - 0.02).abs() * (1.0 + shift),
                )
            })
            .collect()
    };
    let (earlier, later) = (history(30, 0.5), history(40, 0.1));
    let settings = [("n_startup_trials", "5"), ("random_state", "7")];
    for alg in ["tpe", "multivariate-tpe"] {
        let named = |name: &str| pb::Experiment {
            name: format!("{name}-{alg}"),
            ..experiment(alg, &settings)
        };
        // A first call of one experiment (nothing kept for it)...
        let fresh = c
            .get_suggestions(request(named("kept-fresh"), later.clone(), 4))
            .await
            .unwrap()
            .into_inner();
        // ...and another experiment with the same seed, whose algorithm has seen another
        // history, then a shuffled one, before this one.
        let mut shuffled = later.clone();
        shuffled.reverse();
        for h in [earlier.clone(), shuffled, later.clone()] {
            c.get_suggestions(request(named("kept-warm"), h, 2))
                .await
                .unwrap();
        }
        let warm = c
            .get_suggestions(request(named("kept-warm"), later.clone(), 4))
            .await
            .unwrap()
            .into_inner();
        assert_eq!(check(&warm), check(&fresh), "{alg}");
    }
}

#[tokio::test]
async fn cmaes_keeps_its_state_in_the_settings_katib_stores_back() {
    let url = start().await;
    let mut c = suggestion(&url).await;
    let first = c
        .get_suggestions(request(experiment("cmaes", &[]), vec![], 2))
        .await
        .unwrap()
        .into_inner();
    let spec = first.algorithm.clone().expect("cmaes returns its state");
    let state = spec
        .algorithm_settings
        .iter()
        .find(|s| s.name == "ferrotune.io/state")
        .expect("the state setting");
    assert!(state.value.starts_with('{'), "{}", state.value);
    // Katib sends the stored settings with the next request: the state is accepted (not an
    // unknown setting) and the experiment continues.
    let mut exp = experiment("cmaes", &[]);
    exp.spec.as_mut().unwrap().algorithm = Some(spec);
    let done: Vec<pb::Trial> = check(&first)
        .iter()
        .enumerate()
        .map(|(i, v)| {
            let get = |n: &str| v.iter().find(|(k, _)| k == n).unwrap().1.clone();
            trial(
                &format!("c{i}"),
                &get("lr"),
                &get("layers"),
                &get("optimizer"),
                1.0 + i as f64,
            )
        })
        .collect();
    let next = c
        .get_suggestions(request(exp, done, 2))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(check(&next).len(), 2);
}

#[tokio::test]
async fn bad_requests_answer_invalid_argument_naming_the_field() {
    let url = start().await;
    let mut c = suggestion(&url).await;
    let e = c
        .get_suggestions(request(experiment("simulated-annealing", &[]), vec![], 1))
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::InvalidArgument);
    assert!(
        e.message().contains("spec.algorithm.algorithmName"),
        "{}",
        e.message()
    );
    assert!(
        e.message().contains("multivariate-tpe"),
        "lists the known ones: {}",
        e.message()
    );

    let e = c
        .get_suggestions(request(
            experiment("random", &[]),
            vec![trial("t0", "7.5", "2", "sgd", 1.0)],
            1,
        ))
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::InvalidArgument);
    assert!(
        e.message()
            .contains("trials[0].spec.parameterAssignments.assignments[0].value"),
        "{}",
        e.message()
    );

    let e = c
        .get_suggestions(request(
            experiment("random", &[("random_state", "x")]),
            vec![],
            1,
        ))
        .await
        .unwrap_err();
    assert!(
        e.message()
            .contains("spec.algorithm.algorithmSettings[0].value"),
        "{}",
        e.message()
    );
    let e = c
        .get_suggestions(pb::GetSuggestionsRequest::default())
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::InvalidArgument);
    assert!(
        e.message().contains("experiment: is required"),
        "{}",
        e.message()
    );

    let ok = c
        .validate_algorithm_settings(pb::ValidateAlgorithmSettingsRequest {
            experiment: Some(experiment("tpe", &[("n_ei_candidates", "10")])),
        })
        .await;
    assert!(ok.is_ok(), "{ok:?}");
    let bad = c
        .validate_algorithm_settings(pb::ValidateAlgorithmSettingsRequest {
            experiment: Some(experiment("tpe", &[("n_ei_candidates", "-1")])),
        })
        .await
        .unwrap_err();
    assert_eq!(bad.code(), Code::InvalidArgument);
}

#[tokio::test]
async fn grid_says_nothing_more_when_it_has_run_out() {
    let url = start().await;
    let mut c = suggestion(&url).await;
    let mut exp = experiment("grid", &[]);
    // A grid of 2 × 5 × 2: lr needs a step for a grid.
    let params = &mut exp
        .spec
        .as_mut()
        .unwrap()
        .parameter_specs
        .as_mut()
        .unwrap()
        .parameters;
    params[0].feasible_space = Some(pb::FeasibleSpace {
        min: "0.01".into(),
        max: "0.02".into(),
        step: "0.01".into(),
        ..Default::default()
    });
    let all = c
        .get_suggestions(request(exp.clone(), vec![], 50))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(all.parameter_assignments.len(), 20);
    let done: Vec<pb::Trial> = check(&all)
        .iter()
        .enumerate()
        .map(|(i, v)| {
            let get = |n: &str| v.iter().find(|(k, _)| k == n).unwrap().1.clone();
            trial(
                &format!("g{i}"),
                &get("lr"),
                &get("layers"),
                &get("optimizer"),
                1.0,
            )
        })
        .collect();
    let end = c
        .get_suggestions(request(exp, done, 5))
        .await
        .unwrap()
        .into_inner();
    assert!(end.parameter_assignments.is_empty());
}

/// Katib's DB manager, as the medianstop service meets it: observation logs by trial.
struct Logs(HashMap<String, Vec<f64>>);

#[tonic::async_trait]
impl DbManager for Logs {
    async fn report_observation_log(
        &self,
        _: Request<pb::ReportObservationLogRequest>,
    ) -> Result<Response<pb::ReportObservationLogReply>, Status> {
        Ok(Response::new(pb::ReportObservationLogReply {}))
    }
    async fn get_observation_log(
        &self,
        r: Request<pb::GetObservationLogRequest>,
    ) -> Result<Response<pb::GetObservationLogReply>, Status> {
        let r = r.into_inner();
        let values = self.0.get(&r.trial_name).cloned().unwrap_or_default();
        Ok(Response::new(pb::GetObservationLogReply {
            observation_log: Some(pb::ObservationLog {
                metric_logs: values
                    .iter()
                    .map(|v| pb::MetricLog {
                        time_stamp: "2026-11-24T00:00:00Z".into(),
                        metric: Some(pb::Metric {
                            name: r.metric_name.clone(),
                            value: v.to_string(),
                        }),
                    })
                    .collect(),
            }),
        }))
    }
    async fn delete_observation_log(
        &self,
        _: Request<pb::DeleteObservationLogRequest>,
    ) -> Result<Response<pb::DeleteObservationLogReply>, Status> {
        Ok(Response::new(pb::DeleteObservationLogReply {}))
    }
}

#[tokio::test]
async fn medianstop_rules_come_from_the_completed_trials_logs_in_katibs_db_manager() {
    let url = start().await;
    let db = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let db_addr = db.local_addr().unwrap();
    let logs = Logs(HashMap::from([
        ("t0".to_string(), vec![4.0, 3.0, 2.0, 1.0, 0.5]),
        ("t1".to_string(), vec![2.0, 2.0, 2.0, 2.0, 2.0]),
        ("t2".to_string(), vec![9.0, 8.0, 7.0, 6.0, 5.0]),
    ]));
    tokio::spawn(
        tonic::transport::Server::builder()
            .add_service(DbManagerServer::new(logs))
            .serve_with_incoming(tokio_stream::wrappers::TcpListenerStream::new(db)),
    );
    let mut exp = experiment("random", &[]);
    exp.spec.as_mut().unwrap().early_stopping = Some(pb::EarlyStoppingSpec {
        algorithm_name: "medianstop".into(),
        algorithm_settings: vec![pb::EarlyStoppingSetting {
            name: "start_step".into(),
            value: "4".into(),
        }],
    });
    let trials = vec![
        trial("t0", "0.01", "1", "sgd", 0.5),
        trial("t1", "0.02", "2", "adam", 2.0),
        trial("t2", "0.03", "3", "sgd", 5.0),
    ];
    let mut es = EarlyStoppingClient::connect(url.clone()).await.unwrap();
    let reply = es
        .get_early_stopping_rules(pb::GetEarlyStoppingRulesRequest {
            experiment: Some(exp.clone()),
            trials,
            db_manager_address: db_addr.to_string(),
        })
        .await
        .unwrap()
        .into_inner();
    // Averages over the first 4 reports: 2.5, 2.0, 7.5; their median 2.5. Minimising, a
    // trial above it from step 4 on stops.
    assert_eq!(
        reply.early_stopping_rules,
        vec![pb::EarlyStoppingRule {
            name: "loss".into(),
            value: "2.5".into(),
            comparison: pb::ComparisonType::Greater as i32,
            start_step: 4,
        }]
    );

    let e = es
        .validate_early_stopping_settings(pb::ValidateEarlyStoppingSettingsRequest {
            early_stopping: Some(pb::EarlyStoppingSpec {
                algorithm_name: "asha".into(),
                algorithm_settings: vec![],
            }),
        })
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::InvalidArgument);
    assert!(e.message().contains("only medianstop"), "{}", e.message());
    let e = es
        .validate_early_stopping_settings(pb::ValidateEarlyStoppingSettingsRequest {
            early_stopping: Some(pb::EarlyStoppingSpec {
                algorithm_name: "medianstop".into(),
                algorithm_settings: vec![pb::EarlyStoppingSetting {
                    name: "start_step".into(),
                    value: "0".into(),
                }],
            }),
        })
        .await
        .unwrap_err();
    assert!(
        e.message().contains("algorithmSettings[0].value"),
        "{}",
        e.message()
    );
}

#[tokio::test]
async fn health_and_reflection_answer() {
    let url = start().await;
    let channel = Channel::from_shared(url).unwrap().connect().await.unwrap();
    let mut health = tonic_health::pb::health_client::HealthClient::new(channel.clone());
    let status = health
        .check(tonic_health::pb::HealthCheckRequest {
            service: "api.v1.beta1.Suggestion".into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        status.status,
        tonic_health::pb::health_check_response::ServingStatus::Serving as i32
    );
    use tonic_reflection::pb::v1::server_reflection_client::ServerReflectionClient;
    use tonic_reflection::pb::v1::server_reflection_request::MessageRequest;
    use tonic_reflection::pb::v1::server_reflection_response::MessageResponse;
    let mut reflection = ServerReflectionClient::new(channel);
    let req = tonic_reflection::pb::v1::ServerReflectionRequest {
        host: String::new(),
        message_request: Some(MessageRequest::ListServices(String::new())),
    };
    let mut stream = reflection
        .server_reflection_info(tokio_stream::iter(vec![req]))
        .await
        .unwrap()
        .into_inner();
    let msg = stream.message().await.unwrap().unwrap();
    let Some(MessageResponse::ListServicesResponse(list)) = msg.message_response else {
        panic!("unexpected reflection answer");
    };
    let names: Vec<String> = list.service.into_iter().map(|s| s.name).collect();
    for want in [
        "api.v1.beta1.Suggestion",
        "api.v1.beta1.EarlyStopping",
        "api.v1.beta1.DBManager",
        "grpc.health.v1.Health",
    ] {
        assert!(names.iter().any(|n| n == want), "{want} in {names:?}");
    }
}

#[tokio::test]
async fn the_db_manager_keeps_katib_observation_logs_and_medianstop_reads_them() {
    use ferrotune_api::katib::db_manager_client::DbManagerClient;
    let url = start().await;
    let mut db = DbManagerClient::connect(url.clone()).await.unwrap();
    let log = |values: &[(&str, u32, &str)]| pb::ObservationLog {
        metric_logs: values
            .iter()
            .map(|(m, s, v)| pb::MetricLog {
                time_stamp: format!("2026-11-24T00:00:{s:02}Z"),
                metric: Some(pb::Metric {
                    name: m.to_string(),
                    value: v.to_string(),
                }),
            })
            .collect(),
    };
    // Katib's metrics collector reports each completed trial's curve.
    for (trial, curve) in [
        ("t0", [4.0, 3.0, 2.0, 1.0, 0.5]),
        ("t1", [2.0, 2.0, 2.0, 2.0, 2.0]),
        ("t2", [9.0, 8.0, 7.0, 6.0, 5.0]),
    ] {
        let entries: Vec<(&str, u32, String)> = curve
            .iter()
            .enumerate()
            .map(|(i, v)| ("loss", i as u32, v.to_string()))
            .collect();
        let as_ref: Vec<(&str, u32, &str)> = entries
            .iter()
            .map(|(m, s, v)| (*m, *s, v.as_str()))
            .collect();
        db.report_observation_log(pb::ReportObservationLogRequest {
            trial_name: trial.into(),
            observation_log: Some(log(&as_ref)),
        })
        .await
        .unwrap();
    }
    db.report_observation_log(pb::ReportObservationLogRequest {
        trial_name: "t0".into(),
        observation_log: Some(log(&[("accuracy", 9, "0.9")])),
    })
    .await
    .unwrap();
    let got = db
        .get_observation_log(pb::GetObservationLogRequest {
            trial_name: "t0".into(),
            metric_name: "loss".into(),
            start_time: "2026-11-24T00:00:03Z".into(),
            end_time: String::new(),
        })
        .await
        .unwrap()
        .into_inner()
        .observation_log
        .unwrap();
    let values: Vec<&str> = got
        .metric_logs
        .iter()
        .map(|m| m.metric.as_ref().unwrap().value.as_str())
        .collect();
    assert_eq!(
        values,
        ["1", "0.5"],
        "one metric, from start_time on, in time order"
    );

    // The medianstop service reads those logs back from this same server.
    let mut exp = experiment("random", &[]);
    exp.spec.as_mut().unwrap().early_stopping = Some(pb::EarlyStoppingSpec {
        algorithm_name: "medianstop".into(),
        algorithm_settings: vec![],
    });
    let mut es = EarlyStoppingClient::connect(url.clone()).await.unwrap();
    let rules = es
        .get_early_stopping_rules(pb::GetEarlyStoppingRulesRequest {
            experiment: Some(exp),
            trials: vec![
                trial("t0", "0.01", "1", "sgd", 0.5),
                trial("t1", "0.02", "2", "adam", 2.0),
                trial("t2", "0.03", "3", "sgd", 5.0),
            ],
            db_manager_address: url.trim_start_matches("http://").to_string(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(rules.early_stopping_rules[0].value, "2.5");

    let bad = db
        .report_observation_log(pb::ReportObservationLogRequest {
            trial_name: "t9".into(),
            observation_log: Some(pb::ObservationLog {
                metric_logs: vec![pb::MetricLog {
                    time_stamp: "yesterday".into(),
                    metric: Some(pb::Metric {
                        name: "loss".into(),
                        value: "1".into(),
                    }),
                }],
            }),
        })
        .await
        .unwrap_err();
    assert_eq!(bad.code(), Code::InvalidArgument);
    assert!(
        bad.message()
            .contains("observation_log.metric_logs[0].time_stamp"),
        "{}",
        bad.message()
    );
    let missing = db
        .get_observation_log(pb::GetObservationLogRequest::default())
        .await
        .unwrap_err();
    assert!(missing.message().contains("trial_name: is required"));

    db.delete_observation_log(pb::DeleteObservationLogRequest {
        trial_name: "t0".into(),
    })
    .await
    .unwrap();
    let gone = db
        .get_observation_log(pb::GetObservationLogRequest {
            trial_name: "t0".into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert!(gone.observation_log.unwrap().metric_logs.is_empty());
}
