//! The Rust client's trial side (`ferrotune_client::Reporter`) against a real server: a
//! running trial's reports, sent with the trial's own token in batches, all arrive in the
//! trial's observation log; a report that has waited half a second goes with the next one;
//! a reporter dropped with reports buffered sends them before the drop returns; a stopped
//! experiment's trials take no more reports.

mod common;

use common::*;
use ferrotune_api::v1;
use ferrotune_client::Reporter;

#[tokio::test]
async fn a_reporter_with_the_trials_token_delivers_every_report() {
    let server = Server::start(true, None).await;
    let admin = server.connect(Some(ADMIN)).await;
    let trial = server.one_running_trial(&admin, "rusty").await;

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

    let log = observations(&admin, &trial.trial).await;
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

/// The trial's observation log, as the admin reads it.
async fn observations(admin: &ferrotune_client::Connection, trial: &str) -> Vec<v1::Observation> {
    admin
        .trials()
        .get_observation_log(v1::GetObservationLogRequest {
            trial: Some(v1::TrialRef {
                namespace: String::new(),
                trial: trial.to_string(),
            }),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .observations
}

/// The log's (step, value) pairs.
async fn log_of(admin: &ferrotune_client::Connection, trial: &str) -> Vec<(i64, f64)> {
    let log = observations(admin, trial).await;
    log.iter().map(|o| (o.step, o.value)).collect()
}

/// Polls the log until it holds `n` observations (at most 30 s: the controller stores them
/// a moment after the server took them).
async fn wait_for_log(
    admin: &ferrotune_client::Connection,
    trial: &str,
    n: usize,
) -> Vec<(i64, f64)> {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        let log = log_of(admin, trial).await;
        if log.len() >= n || std::time::Instant::now() > deadline {
            return log;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

// The trial runs on a single-threaded runtime of its own, as a trial's `#[tokio::main(flavor
// = "current_thread")]` would, which the drop blocks while it sends.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_reports_are_sent_with_the_next_one_and_a_drop_sends_the_rest() {
    let server = Server::start(true, None).await;
    let admin = server.connect(Some(ADMIN)).await;
    let trial = server.one_running_trial(&admin, "dropped").await;
    let (go, wait) = std::sync::mpsc::channel::<()>();
    let (endpoint, token, name) = (
        trial.endpoint.clone(),
        trial.token.clone(),
        trial.trial.clone(),
    );
    let trial_side = std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async {
            let conn = ferrotune_client::connect(&endpoint, Some(&token), None)
                .await
                .unwrap();
            let mut reporter = Reporter::new(conn, name);
            reporter.report(Some(0), &[("loss", 0.9)]).await.unwrap();
            tokio::time::sleep(std::time::Duration::from_millis(600)).await;
            // The first has waited past half a second: both go now, without a flush.
            reporter.report(Some(1), &[("loss", 0.8)]).await.unwrap();
            wait.recv().unwrap();
            // Three more, fast, then the reporter goes out of scope as a returning `main`
            // drops it.
            for step in 2..5 {
                reporter.report(Some(step), &[("loss", 0.5)]).await.unwrap();
            }
        });
    });
    assert_eq!(
        wait_for_log(&admin, &trial.trial, 2).await,
        [(0, 0.9), (1, 0.8)]
    );
    go.send(()).unwrap();
    tokio::task::spawn_blocking(move || trial_side.join().unwrap())
        .await
        .unwrap();
    let log = wait_for_log(&admin, &trial.trial, 5).await;
    assert_eq!(log, [(0, 0.9), (1, 0.8), (2, 0.5), (3, 0.5), (4, 0.5)]);
    server.release(&trial.trial);
    let e = server.finished(&admin, "ferrotune", "dropped").await;
    assert_eq!(e.status, "Succeeded", "{e:?}");
    assert_eq!(log_of(&admin, &trial.trial).await.len(), 5);
    server.stop().await;
}

#[tokio::test]
async fn a_stopped_experiments_trials_are_no_longer_running() {
    let server = Server::start(false, None).await;
    let conn = server.connect(None).await;
    let trial = server.one_running_trial(&conn, "halt").await;
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
