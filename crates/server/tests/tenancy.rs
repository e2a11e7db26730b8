//! Tokens and namespaces, end to end over gRPC: a team's experiments and trials are
//! invisible to another team (NOT_FOUND, worded exactly as for a name that does not exist),
//! an admin sees every namespace, calls without a known token are UNAUTHENTICATED, and a
//! running trial's own token may report for that trial only.

mod common;

use common::*;
use ferrotune_api::katib;
use ferrotune_api::v1;
use ferrotune_client::Connection;
use tonic::{Code, Status};

fn eref(namespace: &str, name: &str) -> v1::ExperimentRef {
    v1::ExperimentRef {
        namespace: namespace.into(),
        name: name.into(),
    }
}

fn tref(namespace: &str, trial: &str) -> v1::TrialRef {
    v1::TrialRef {
        namespace: namespace.into(),
        trial: trial.into(),
    }
}

fn create(document: String) -> v1::CreateExperimentRequest {
    v1::CreateExperimentRequest {
        document,
        ..Default::default()
    }
}

fn names(list: &v1::ListExperimentsResponse) -> Vec<(String, String)> {
    let mut v: Vec<(String, String)> = list
        .experiments
        .iter()
        .map(|e| (e.namespace.clone(), e.name.clone()))
        .collect();
    v.sort();
    v
}

/// Every call that names experiment `exp` or its trial `trial` (in `namespace`), with the
/// status each answered; each must fail.
async fn refusals(
    c: &Connection,
    namespace: &str,
    exp: &str,
    trial: &str,
) -> Vec<(String, Status)> {
    let e = || eref(namespace, exp);
    let t = || tref(namespace, trial);
    let mut out = Vec::new();
    macro_rules! refused {
        ($what:expr, $call:expr) => {
            match $call.await {
                Ok(_) => panic!("{} of {exp}/{trial} was answered", $what),
                Err(s) => out.push(($what.to_string(), s)),
            }
        };
    }
    refused!("GetExperiment", c.experiments().get_experiment(e()));
    refused!("StopExperiment", c.experiments().stop_experiment(e()));
    refused!(
        "ResumeExperiment",
        c.experiments()
            .resume_experiment(v1::ResumeExperimentRequest {
                experiment: Some(e()),
                max_trial_count: Some(5),
                parallel_trial_count: None,
            })
    );
    refused!("DeleteExperiment", c.experiments().delete_experiment(e()));
    refused!("WatchExperiment", c.experiments().watch_experiment(e()));
    refused!("ListTrials", c.trials().list_trials(e()));
    refused!("GetTrial", c.trials().get_trial(t()));
    refused!(
        "GetObservationLog",
        c.trials()
            .get_observation_log(v1::GetObservationLogRequest {
                trial: Some(t()),
                metric: String::new(),
                attempt: 0,
            })
    );
    refused!("ShouldStop", c.reports().should_stop(t()));
    refused!("Report", c.reports().report(loss(trial, 1.0)));
    refused!(
        "ReportStream",
        c.reports()
            .report_stream(tokio_stream::iter(vec![loss(trial, 1.0), loss(trial, 2.0)]))
    );
    out
}

/// Asserts that every refusal is NOT_FOUND and worded as for the missing names.
fn like_missing(
    real: &[(String, Status)],
    (exp, trial): (&str, &str),
    ghost: &[(String, Status)],
    (ghost_exp, ghost_trial): (&str, &str),
) {
    assert_eq!(real.len(), ghost.len());
    for ((what, r), (_, g)) in real.iter().zip(ghost) {
        assert_eq!(r.code(), Code::NotFound, "{what}: {r:?}");
        assert_eq!(g.code(), Code::NotFound, "{what} (missing): {g:?}");
        let norm =
            |s: &str, exp: &str, trial: &str| s.replace(trial, "TRIAL").replace(exp, "EXPERIMENT");
        assert_eq!(
            norm(r.message(), exp, trial),
            norm(g.message(), ghost_exp, ghost_trial),
            "{what}: the answer differs from a missing name's"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_teams_experiments_are_invisible_to_other_teams_and_visible_to_admins() {
    let server = Server::start(true, None).await;
    let a = server.connect(Some(TEAM_A)).await;
    let b = server.connect(Some(TEAM_B)).await;
    let admin = server.connect(Some(ADMIN)).await;

    // The document says `namespace: somewhere-else`; the token's namespace wins.
    let alpha = a
        .experiments()
        .create_experiment(create(server.experiment("alpha", 1, 1)))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        (alpha.namespace.as_str(), alpha.name.as_str()),
        ("team-a", "alpha")
    );
    let beta = b
        .experiments()
        .create_experiment(create(server.experiment("beta", 1, 1)))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(beta.namespace, "team-b");
    let trial = server.running("alpha", 1).await.remove(0);
    assert_eq!(trial.namespace, "team-a");
    let beta_trial = server.running("beta", 1).await.remove(0);

    // Team B: every call about team A's experiment and its running trial is NOT_FOUND,
    // worded as for names that do not exist, with or without naming team A's namespace.
    let ghost_trial = trial.trial.replace("alpha", "ghost");
    for namespace in ["", "team-a"] {
        let real = refusals(&b, namespace, "alpha", &trial.trial).await;
        let ghost = refusals(&b, namespace, "ghost", &ghost_trial).await;
        like_missing(
            &real,
            ("alpha", &trial.trial),
            &ghost,
            ("ghost", &ghost_trial),
        );
    }
    let listed = b
        .experiments()
        .list_experiments(v1::ListExperimentsRequest::default())
        .await
        .unwrap()
        .into_inner();
    assert_eq!(names(&listed), [("team-b".into(), "beta".into())]);
    // Only an admin may list every namespace; for a user "*" is just another namespace.
    let e = b
        .experiments()
        .list_experiments(v1::ListExperimentsRequest {
            namespace: "*".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::NotFound, "{e:?}");
    let e = b
        .experiments()
        .list_experiments(v1::ListExperimentsRequest {
            namespace: "team-a".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::NotFound, "{e:?}");
    // Nothing team B did stopped team A's experiment.
    let now = a
        .experiments()
        .get_experiment(eref("", "alpha"))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(now.status, "Running", "{now:?}");

    // Team A sees its own experiment and trial, and may report for it.
    let trials = a.trials().list_trials(eref("", "alpha")).await.unwrap();
    assert_eq!(trials.into_inner().trials.len(), 1);
    let t = a.trials().get_trial(tref("", &trial.trial)).await.unwrap();
    assert_eq!(t.into_inner().status, "Running");
    let stop = a
        .reports()
        .should_stop(tref("", &trial.trial))
        .await
        .unwrap();
    assert!(!stop.into_inner().should_stop);
    let r = a.reports().report(loss(&trial.trial, 0.25)).await.unwrap();
    assert_eq!(r.into_inner().accepted, 1);
    // But not for team B's.
    let e = a
        .reports()
        .report(loss(&beta_trial.trial, 0.25))
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::NotFound, "{e:?}");

    // The admin sees both namespaces ("*"), and each by name.
    let all = admin
        .experiments()
        .list_experiments(v1::ListExperimentsRequest {
            namespace: "*".into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        names(&all),
        [
            ("team-a".into(), "alpha".into()),
            ("team-b".into(), "beta".into())
        ]
    );
    let got = admin
        .experiments()
        .get_experiment(eref("team-a", "alpha"))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(got.namespace, "team-a");
    admin
        .trials()
        .get_trial(tref("team-b", &beta_trial.trial))
        .await
        .unwrap();

    // Finished, team A's experiment is still not team B's to delete; team A may.
    server.release(&trial.trial);
    server.release(&beta_trial.trial);
    let done = server.finished(&a, "", "alpha").await;
    assert_eq!(done.status, "Succeeded", "{done:?}");
    server.finished(&b, "", "beta").await;
    let e = b
        .experiments()
        .delete_experiment(eref("", "alpha"))
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::NotFound, "{e:?}");
    let e = b
        .experiments()
        .delete_experiment(eref("team-a", "alpha"))
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::NotFound, "{e:?}");
    a.experiments()
        .delete_experiment(eref("", "alpha"))
        .await
        .unwrap();
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn calls_without_a_known_token_are_unauthenticated() {
    let server = Server::start(true, None).await;
    let a = server.connect(Some(TEAM_A)).await;
    a.experiments()
        .create_experiment(create(server.experiment("alpha", 1, 1)))
        .await
        .unwrap();
    let trial = server.running("alpha", 1).await.remove(0);

    // No token at all: every service refuses.
    let none = server.connect(None).await;
    let unauthenticated = |what: &str, r: Result<(), Status>| {
        let e = r.expect_err(what);
        assert_eq!(e.code(), Code::Unauthenticated, "{what}: {e:?}");
    };
    unauthenticated(
        "create without a token",
        none.experiments()
            .create_experiment(create(server.experiment("other", 1, 1)))
            .await
            .map(drop),
    );
    unauthenticated(
        "list without a token",
        none.experiments()
            .list_experiments(v1::ListExperimentsRequest::default())
            .await
            .map(drop),
    );
    unauthenticated(
        "trials without a token",
        none.trials()
            .list_trials(eref("team-a", "alpha"))
            .await
            .map(drop),
    );
    unauthenticated(
        "report without a token",
        none.reports()
            .report(loss(&trial.trial, 1.0))
            .await
            .map(drop),
    );
    unauthenticated(
        "should-stop without a token",
        none.reports()
            .should_stop(tref("", &trial.trial))
            .await
            .map(drop),
    );

    // A token that is not in the file may only be a trial's own: it reaches nothing but
    // the report service, before any field of the request is looked at.
    let stranger = server.connect(Some("stranger-0123456789abcdef")).await;
    let x = stranger.experiments();
    unauthenticated(
        "create",
        x.clone()
            .create_experiment(create(server.experiment("other", 1, 1)))
            .await
            .map(drop),
    );
    for ns in ["", "*", "team-a"] {
        unauthenticated(
            "list",
            x.clone()
                .list_experiments(v1::ListExperimentsRequest {
                    namespace: ns.into(),
                })
                .await
                .map(drop),
        );
    }
    for name in ["alpha", ""] {
        unauthenticated(
            "get",
            x.clone()
                .get_experiment(eref("team-a", name))
                .await
                .map(drop),
        );
    }
    unauthenticated(
        "stop",
        x.clone()
            .stop_experiment(eref("team-a", "alpha"))
            .await
            .map(drop),
    );
    unauthenticated(
        "resume",
        x.clone()
            .resume_experiment(v1::ResumeExperimentRequest {
                experiment: Some(eref("team-a", "alpha")),
                ..Default::default()
            })
            .await
            .map(drop),
    );
    unauthenticated(
        "delete",
        x.clone()
            .delete_experiment(eref("team-a", "alpha"))
            .await
            .map(drop),
    );
    unauthenticated(
        "watch",
        x.clone()
            .watch_experiment(eref("team-a", "alpha"))
            .await
            .map(drop),
    );
    let t = stranger.trials();
    unauthenticated(
        "list trials",
        t.clone()
            .list_trials(eref("team-a", "alpha"))
            .await
            .map(drop),
    );
    for name in [trial.trial.as_str(), "malformed"] {
        unauthenticated(
            "get trial",
            t.clone().get_trial(tref("team-a", name)).await.map(drop),
        );
    }
    unauthenticated(
        "observation log",
        t.clone()
            .get_observation_log(v1::GetObservationLogRequest {
                trial: Some(tref("team-a", &trial.trial)),
                ..Default::default()
            })
            .await
            .map(drop),
    );
    // On the report service it is not this trial's token: the trial is not found.
    let e = stranger
        .reports()
        .report(loss(&trial.trial, 1.0))
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::NotFound, "{e:?}");
    let e = stranger
        .reports()
        .should_stop(tref("", &trial.trial))
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::NotFound, "{e:?}");

    // Katib's services want a token from the file too (the server was not started with
    // --katib-open): neither none nor a stranger's reaches the DB manager, and of the
    // file's tokens only the admin's.
    let channel = || {
        let endpoint = server.endpoint();
        async move {
            tonic::transport::Endpoint::from_shared(format!("http://{endpoint}"))
                .unwrap()
                .connect()
                .await
                .unwrap()
        }
    };
    // Sends `token`, if any, with every call.
    let with = |token: Option<&'static str>| {
        move |mut req: tonic::Request<()>| {
            if let Some(t) = token {
                req.metadata_mut()
                    .insert("authorization", format!("Bearer {t}").parse().unwrap());
            }
            Ok(req)
        }
    };
    let db = |token: Option<&'static str>| {
        let channel = channel();
        async move {
            katib::db_manager_client::DbManagerClient::with_interceptor(channel.await, with(token))
        }
    };
    let katib_call = |token: Option<&'static str>| {
        let client = db(token);
        async move {
            client
                .await
                .get_observation_log(katib::GetObservationLogRequest {
                    trial_name: "some-trial".into(),
                    ..Default::default()
                })
                .await
                .map(drop)
        }
    };
    unauthenticated("katib without a token", katib_call(None).await);
    unauthenticated(
        "katib with a stranger's token",
        katib_call(Some("stranger-0123456789abcdef")).await,
    );
    katib_call(Some(ADMIN)).await.unwrap();
    // Katib's logs are keyed by trial name in no namespace: a user token may not read,
    // write or delete them (another team's trial could have that name).
    let log = katib::ObservationLog {
        metric_logs: vec![katib::MetricLog {
            time_stamp: "2026-11-24T00:00:00Z".into(),
            metric: Some(katib::Metric {
                name: "loss".into(),
                value: "0.5".into(),
            }),
        }],
    };
    db(Some(ADMIN))
        .await
        .report_observation_log(katib::ReportObservationLogRequest {
            trial_name: "their-trial".into(),
            observation_log: Some(log.clone()),
        })
        .await
        .unwrap();
    let mut user = db(Some(TEAM_A)).await;
    let refusals = [
        user.get_observation_log(katib::GetObservationLogRequest {
            trial_name: "their-trial".into(),
            ..Default::default()
        })
        .await
        .map(drop),
        user.report_observation_log(katib::ReportObservationLogRequest {
            trial_name: "their-trial".into(),
            observation_log: Some(log),
        })
        .await
        .map(drop),
        user.delete_observation_log(katib::DeleteObservationLogRequest {
            trial_name: "their-trial".into(),
        })
        .await
        .map(drop),
    ];
    for r in refusals {
        let e = r.expect_err("a user token reached Katib's DBManager");
        assert_eq!(e.code(), Code::Unauthenticated, "{e:?}");
        assert!(e.message().contains("admin"), "{e:?}");
    }
    let kept = db(Some(ADMIN))
        .await
        .get_observation_log(katib::GetObservationLogRequest {
            trial_name: "their-trial".into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(kept.observation_log.unwrap().metric_logs.len(), 1);
    // Katib's stateless services stay open to users.
    let e = katib::early_stopping_client::EarlyStoppingClient::with_interceptor(
        channel().await,
        with(Some(TEAM_A)),
    )
    .validate_early_stopping_settings(katib::ValidateEarlyStoppingSettingsRequest::default())
    .await
    .unwrap_err();
    assert_ne!(e.code(), Code::Unauthenticated, "{e:?}");

    server.release(&trial.trial);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_trials_own_token_reports_for_that_trial_only() {
    let server = Server::start(true, None).await;
    let a = server.connect(Some(TEAM_A)).await;
    a.experiments()
        .create_experiment(create(server.experiment("gamma", 2, 2)))
        .await
        .unwrap();
    let running = server.running("gamma", 2).await;
    let (one, two) = (&running[0], &running[1]);
    // What each trial was given: the server's address, its namespace, a token of its own
    // that is none of the file's.
    for t in &running {
        assert_eq!(t.endpoint, server.addr.to_string());
        assert_eq!(t.namespace, "team-a");
        assert!(t.token.len() >= 32, "{t:?}");
        assert!(![ADMIN, TEAM_A, TEAM_B].contains(&t.token.as_str()));
    }
    assert_ne!(one.token, two.token);

    let me = server.connect(Some(&one.token)).await;
    let r = me.reports().report(loss(&one.trial, 0.5)).await.unwrap();
    assert_eq!(
        r.into_inner(),
        v1::ReportResponse {
            accepted: 1,
            should_stop: false
        }
    );
    let s = me
        .reports()
        .should_stop(tref("", &one.trial))
        .await
        .unwrap();
    assert!(!s.into_inner().should_stop);
    let s = me
        .reports()
        .should_stop(tref("team-a", &one.trial))
        .await
        .unwrap();
    assert!(!s.into_inner().should_stop);

    // Another running trial of the same experiment is "not running here" for this token,
    // worded as for a trial that does not exist.
    for (what, e, ghost) in [
        (
            "Report",
            me.reports()
                .report(loss(&two.trial, 0.5))
                .await
                .unwrap_err(),
            me.reports()
                .report(loss("ghost-0001", 0.5))
                .await
                .unwrap_err(),
        ),
        (
            "ShouldStop",
            me.reports()
                .should_stop(tref("", &two.trial))
                .await
                .unwrap_err(),
            me.reports()
                .should_stop(tref("", "ghost-0001"))
                .await
                .unwrap_err(),
        ),
    ] {
        assert_eq!(e.code(), Code::NotFound, "{what}: {e:?}");
        assert_eq!(
            e.message().replace(&two.trial, "T"),
            ghost.message().replace("ghost-0001", "T"),
            "{what}"
        );
    }
    // A stream that also carries the other trial's reports is refused as a whole: none of
    // it is taken, not even this trial's own reports (a client resending adds nothing twice).
    let e = me
        .reports()
        .report_stream(tokio_stream::iter(vec![
            loss(&one.trial, 0.125),
            loss(&two.trial, 0.125),
        ]))
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::NotFound, "{e:?}");
    // So is one with a bad report in it, which is named by its place in the stream.
    let mut bad = loss(&one.trial, 0.125);
    bad.metrics.insert(String::new(), 1.0);
    let e = me
        .reports()
        .report_stream(tokio_stream::iter(vec![
            loss(&one.trial, 0.125),
            loss(&one.trial, 0.125),
            bad,
        ]))
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::InvalidArgument, "{e:?}");
    assert!(e.message().contains("reports[2]"), "{e:?}");
    let r = me
        .reports()
        .report_stream(tokio_stream::iter(vec![loss(&one.trial, 0.375)]))
        .await
        .unwrap();
    assert_eq!(r.into_inner().accepted, 1);

    // The trial's token reaches neither the experiment nor the trial service.
    let e = me
        .experiments()
        .list_experiments(v1::ListExperimentsRequest::default())
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::Unauthenticated, "{e:?}");
    let e = me
        .experiments()
        .get_experiment(eref("team-a", "gamma"))
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::Unauthenticated, "{e:?}");
    let e = me
        .trials()
        .get_trial(tref("team-a", &one.trial))
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::Unauthenticated, "{e:?}");

    // The other trial reports with its own token.
    let other = server.connect(Some(&two.token)).await;
    other
        .reports()
        .report(loss(&two.trial, 0.75))
        .await
        .unwrap();

    server.release(&one.trial);
    server.release(&two.trial);
    let done = server.finished(&a, "", "gamma").await;
    assert_eq!(done.status, "Succeeded", "{done:?}");
    // Exactly the accepted reports were recorded.
    for (t, want) in [(one, vec![0.5, 0.375]), (two, vec![0.75])] {
        let log = a
            .trials()
            .get_observation_log(v1::GetObservationLogRequest {
                trial: Some(tref("", &t.trial)),
                metric: "loss".into(),
                attempt: 0,
            })
            .await
            .unwrap()
            .into_inner();
        let got: Vec<f64> = log.observations.iter().map(|o| o.value).collect();
        assert_eq!(got, want, "{}", t.trial);
    }
    // A finished trial's token is worth nothing.
    let e = me
        .reports()
        .report(loss(&one.trial, 0.5))
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::NotFound, "{e:?}");
    server.stop().await;
}

/// Experiment names are unique within a namespace only: two teams may both call an
/// experiment "same", creating one tells nothing about the other, and each team's calls,
/// reports and stop reach its own experiment and trial (both trials are "same-0001").
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_teams_may_each_have_an_experiment_of_the_same_name() {
    let server = Server::start(true, None).await;
    let a = server.connect(Some(TEAM_A)).await;
    let b = server.connect(Some(TEAM_B)).await;
    let admin = server.connect(Some(ADMIN)).await;
    for team in [&a, &b] {
        team.experiments()
            .create_experiment(create(server.experiment("same", 1, 1)))
            .await
            .unwrap();
    }
    // A second "same" in team B's namespace is taken, and the answer names only team B's.
    let e = b
        .experiments()
        .create_experiment(create(server.experiment("same", 1, 1)))
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::AlreadyExists, "{e:?}");
    assert!(e.message().contains("team-b") && !e.message().contains("team-a"));

    let running = server.running("same", 2).await;
    let (ta, tb) = (&running[0], &running[1]);
    assert_eq!(
        (ta.namespace.as_str(), tb.namespace.as_str()),
        ("team-a", "team-b")
    );
    assert_eq!(
        (ta.trial.as_str(), tb.trial.as_str()),
        ("same-0001", "same-0001")
    );

    // Reports by a team's token, by a trial's own token (no namespace named) and by the
    // admin naming the namespace each land in that namespace's trial.
    a.reports().report(loss("same-0001", 0.25)).await.unwrap();
    b.reports().report(loss("same-0001", 0.75)).await.unwrap();
    let own = server.connect(Some(&tb.token)).await;
    own.reports().report(loss("same-0001", 0.5)).await.unwrap();
    let mut named = loss("same-0001", 0.125);
    named.namespace = "team-a".into();
    admin.reports().report(named).await.unwrap();
    // The admin naming none is asked to, as two trials have that name.
    let e = admin
        .reports()
        .report(loss("same-0001", 9.0))
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::InvalidArgument, "{e:?}");
    assert!(e.message().contains("namespace"), "{e:?}");

    let values = |conn: &Connection, ns: &'static str| {
        let conn = conn.clone();
        async move {
            let log = conn
                .trials()
                .get_observation_log(v1::GetObservationLogRequest {
                    trial: Some(tref(ns, "same-0001")),
                    metric: "loss".into(),
                    attempt: 0,
                })
                .await
                .unwrap()
                .into_inner();
            log.observations.iter().map(|o| o.value).collect::<Vec<_>>()
        }
    };
    let deadline = std::time::Instant::now() + DEADLINE;
    while values(&a, "").await.len() < 2 || values(&b, "").await.len() < 2 {
        assert!(std::time::Instant::now() < deadline, "reports not stored");
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert_eq!(values(&a, "").await, [0.25, 0.125]);
    assert_eq!(values(&b, "").await, [0.75, 0.5]);
    assert_eq!(values(&admin, "team-b").await, [0.75, 0.5]);

    // Team B stops its "same"; team A's goes on, and finishes when its trial does.
    let stopped = b
        .experiments()
        .stop_experiment(eref("", "same"))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(stopped.status, "Stopped", "{stopped:?}");
    let mine = a
        .experiments()
        .get_experiment(eref("", "same"))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(mine.status, "Running", "{mine:?}");
    server.release_in("team-a", "same-0001");
    let done = server.finished(&a, "", "same").await;
    assert_eq!(done.status, "Succeeded", "{done:?}");
    // Each deletes its own.
    b.experiments()
        .delete_experiment(eref("", "same"))
        .await
        .unwrap();
    let still = a
        .experiments()
        .get_experiment(eref("", "same"))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(still.status, "Succeeded");
    server.stop().await;
}
