//! The Rust client's trial side (`ferrotune_client::Reporter`) against a real server: a
//! running trial's reports, sent with the trial's own token in batches, all arrive in the
//! trial's observation log; a stopped experiment's trials take no more reports.

mod common;

use common::*;
use ferrotune_api::v1;
use ferrotune_client::Reporter;

#[tokio::test]
async fn a_reporter_with_the_trials_token_delivers_every_report() {
    let server = Server::start(true, None).await;
    let admin = server.connect(Some(ADMIN)).await;
    admin
        .experiments()
        .create_experiment(v1::CreateExperimentRequest {
            document: server.experiment("rusty", 1, 1),
            ..Default::default()
        })
        .await
        .unwrap();
    let trial = server.running("rusty", 1).await.remove(0);

    // What a Rust trial does with FERROTUNE_ENDPOINT, FERROTUNE_TOKEN and FERROTUNE_TRIAL.
    let conn = ferrotune_client::connect(&trial.endpoint, Some(&trial.token), None)
        .await
        .unwrap();
    let mut reporter = Reporter::new(conn, trial.trial.clone());
    for step in 0..1000 {
        reporter
            .report(
                Some(step),
                &[("loss", 1.0 / (step + 1) as f64), ("unwanted", 1.0)],
            )
            .await
            .unwrap();
    }
    assert!(!reporter.should_stop().await.unwrap()); // flushes first
    server.release(&trial.trial);
    let e = server.finished(&admin, "ferrotune", "rusty").await;
    assert_eq!(e.status, "Succeeded", "{e:?}");

    let log = admin
        .trials()
        .get_observation_log(v1::GetObservationLogRequest {
            trial: Some(v1::TrialRef {
                namespace: String::new(),
                trial: trial.trial.clone(),
            }),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .observations;
    // Only the objective is kept; every step once, in order.
    let steps: Vec<i64> = log.iter().map(|o| o.step).collect();
    assert_eq!(steps, (0..1000).collect::<Vec<i64>>());
    assert!(log.iter().all(|o| o.metric == "loss"));
    let t = admin
        .trials()
        .get_trial(v1::TrialRef {
            namespace: String::new(),
            trial: trial.trial.clone(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(t.objective, Some(1.0 / 1000.0));
    server.stop().await;
}

#[tokio::test]
async fn a_stopped_experiments_trials_are_no_longer_running() {
    let server = Server::start(false, None).await;
    let conn = server.connect(None).await;
    conn.experiments()
        .create_experiment(v1::CreateExperimentRequest {
            document: server.experiment("halt", 1, 1),
            ..Default::default()
        })
        .await
        .unwrap();
    let trial = server.running("halt", 1).await.remove(0);
    let mut reporter = Reporter::new(
        ferrotune_client::connect(&trial.endpoint, Some(&trial.token), None)
            .await
            .unwrap(),
        trial.trial.clone(),
    );
    reporter.report(None, &[("loss", 0.5)]).await.unwrap();
    assert!(!reporter.should_stop().await.unwrap());
    // The stop kills the trial; a report after it ended is refused as not running.
    let stopping = tokio::spawn({
        let conn = conn.clone();
        async move {
            conn.experiments()
                .stop_experiment(v1::ExperimentRef {
                    namespace: String::new(),
                    name: "halt".into(),
                })
                .await
        }
    });
    let stopped = stopping.await.unwrap().unwrap().into_inner();
    assert_eq!(stopped.status, "Stopped");
    let err = reporter.should_stop().await.unwrap_err();
    assert!(err.to_string().contains("not running"), "{err}");
    server.stop().await;
}
