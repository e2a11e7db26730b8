//! The store's behaviour tests, shared by every backend: each test is a function generic
//! over a [`Backend`] (how to make a fresh, empty database and open handles to it), and
//! [`store_tests!`] declares them as `#[tokio::test]`s for one backend.

#![allow(dead_code)]

use chrono::{DateTime, Duration, SubsecRound, TimeZone, Utc};
use ferrotune_core::{Assignment, MetricSummary, Observation, ParamValue, TrialStatus};
use ferrotune_store::{ExperimentStatus, NewExperiment, Store, StoreError, TrialOutcome};
use serde_json::json;
use std::collections::HashSet;
use std::sync::Arc;

/// A fresh, empty database of one backend, removed when dropped.
#[allow(async_fn_in_trait)]
pub trait Backend: Sized + Send + Sync + 'static {
    type S: Store + 'static;
    /// A new, empty database.
    async fn new() -> Self;
    /// Another handle to this database (as another process would open it).
    async fn open(&self) -> Self::S;
    async fn close(store: &Self::S);
    /// Runs `sql`, with `$1` bound to `id`, behind the store's back.
    async fn exec(&self, sql: &str, id: i64);
}

/// The namespace the tests' experiments are in.
pub const NS: &str = "lab";

pub fn new_experiment(name: &str) -> NewExperiment {
    NewExperiment {
        name: name.to_string(),
        namespace: NS.to_string(),
        document: json!({
            "metadata": {"name": name},
            "spec": {"maxTrialCount": 12, "objective": {"goal": 0.001}},
        }),
        source_path: "/home/me/exp.yaml".to_string(),
        run_dir: format!("/home/me/.ferrotune/runs/{name}"),
        seed: u64::MAX - 7,
    }
}

/// A new database holding one experiment.
pub async fn fresh<B: Backend>(name: &str) -> (B, B::S, ferrotune_store::ExperimentRecord) {
    let db = B::new().await;
    let store = db.open().await;
    let e = store.create_experiment(new_experiment(name)).await.unwrap();
    (db, store, e)
}

pub fn assignment(i: i64) -> Assignment {
    Assignment(vec![
        ("lr".to_string(), ParamValue::Float(0.1 + 0.2 * i as f64)),
        ("layers".to_string(), ParamValue::Int(i)),
        ("opt".to_string(), ParamValue::Str(format!("adam-{i}"))),
        ("whole".to_string(), ParamValue::Float(2.0)),
    ])
}

/// A new experiment `name` holding one trial (with `assignment(1)`).
pub async fn experiment_with_trial(
    store: &dyn Store,
    name: &str,
) -> (
    ferrotune_store::ExperimentRecord,
    ferrotune_store::TrialRecord,
) {
    let e = store.create_experiment(new_experiment(name)).await.unwrap();
    let t = store
        .create_trials(e.id, vec![assignment(1)])
        .await
        .unwrap()
        .remove(0);
    (e, t)
}

pub fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2025, 3, 4, 5, 6, 7).unwrap() + Duration::microseconds(123_456)
}

pub fn obs(metric: &str, step: i64, value: f64) -> Observation {
    Observation {
        metric: metric.to_string(),
        step,
        timestamp: t0() + Duration::milliseconds(step),
        value,
    }
}

#[macro_export]
macro_rules! store_tests {
    ($backend:ty) => {
        #[tokio::test]
        async fn create_get_and_list_experiments() {
            $crate::common::create_get_and_list_experiments::<$backend>().await
        }
        #[tokio::test]
        async fn delete_takes_trials_and_observations() {
            $crate::common::delete_takes_trials_and_observations::<$backend>().await
        }
        #[tokio::test]
        async fn the_same_name_in_two_namespaces() {
            $crate::common::the_same_name_in_two_namespaces::<$backend>().await
        }
        #[tokio::test]
        async fn duplicate_name_is_already_exists() {
            $crate::common::duplicate_name_is_already_exists::<$backend>().await
        }
        #[tokio::test]
        async fn experiment_status_timestamps() {
            $crate::common::experiment_status_timestamps::<$backend>().await
        }
        #[tokio::test]
        async fn trial_names_are_sequential_and_never_reused() {
            $crate::common::trial_names_are_sequential_and_never_reused::<$backend>().await
        }
        #[tokio::test]
        async fn full_trial_lifecycle() {
            $crate::common::full_trial_lifecycle::<$backend>().await
        }
        #[tokio::test]
        async fn non_finite_values_round_trip() {
            $crate::common::non_finite_values_round_trip::<$backend>().await
        }
        #[tokio::test]
        async fn floats_round_trip_exactly() {
            $crate::common::floats_round_trip_exactly::<$backend>().await
        }
        #[tokio::test]
        async fn requeue_and_second_attempt_keep_observations_apart() {
            $crate::common::requeue_and_second_attempt_keep_observations_apart::<$backend>().await
        }
        #[tokio::test]
        async fn algorithm_state_round_trip_and_overwrite() {
            $crate::common::algorithm_state_round_trip_and_overwrite::<$backend>().await
        }
        #[tokio::test]
        async fn stop_request_and_claim() {
            $crate::common::stop_request_and_claim::<$backend>().await
        }
        #[tokio::test]
        async fn data_survives_reopening() {
            $crate::common::data_survives_reopening::<$backend>().await
        }
        #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
        async fn two_handles_create_trials_concurrently() {
            $crate::common::two_handles_create_trials_concurrently::<$backend>().await
        }
        #[tokio::test]
        async fn large_observation_batch_in_order() {
            $crate::common::large_observation_batch_in_order::<$backend>().await
        }
        #[tokio::test]
        async fn many_short_trials_keep_every_transition() {
            $crate::common::many_short_trials_keep_every_transition::<$backend>().await
        }
        #[tokio::test]
        async fn katib_observation_logs_by_trial_metric_and_time() {
            $crate::common::katib_observation_logs_by_trial_metric_and_time::<$backend>().await
        }
    };
}

pub async fn create_get_and_list_experiments<B: Backend>() {
    let db = B::new().await;
    let store = db.open().await;

    let a = store
        .create_experiment(new_experiment("alpha"))
        .await
        .unwrap();
    let b = store
        .create_experiment(new_experiment("beta"))
        .await
        .unwrap();
    assert_eq!(a.status, ExperimentStatus::Created);
    assert_eq!(a.seed, u64::MAX - 7);
    assert!(!a.stop_requested);
    assert_eq!(a.owner_pid, None);
    assert_eq!(a.started_at, None);
    assert_ne!(a.id, b.id);

    // What create returns is exactly what is read back.
    assert_eq!(store.get_experiment(NS, "alpha").await.unwrap(), a);
    let all = store.list_experiments().await.unwrap();
    assert_eq!(all, vec![a.clone(), b]);

    match store.get_experiment(NS, "gamma").await {
        Err(StoreError::ExperimentNotFound { namespace, name }) => {
            assert_eq!((namespace.as_str(), name.as_str()), (NS, "gamma"))
        }
        other => panic!("expected ExperimentNotFound, got {other:?}"),
    }
    // Names are looked up within a namespace.
    assert!(matches!(
        store.get_experiment("elsewhere", "alpha").await,
        Err(StoreError::ExperimentNotFound { .. })
    ));

    let doc = json!({"spec": {"maxTrialCount": 40, "lr": 0.30000000000000004}});
    store.update_document(a.id, &doc).await.unwrap();
    assert_eq!(
        store.get_experiment(NS, "alpha").await.unwrap().document,
        doc
    );
    assert!(matches!(
        store.update_document(9999, &doc).await,
        Err(StoreError::ExperimentIdNotFound(_))
    ));
    B::close(&store).await;
}

pub async fn duplicate_name_is_already_exists<B: Backend>() {
    let db = B::new().await;
    let store = db.open().await;
    store
        .create_experiment(new_experiment("dup"))
        .await
        .unwrap();
    match store.create_experiment(new_experiment("dup")).await {
        Err(StoreError::AlreadyExists { namespace, name }) => {
            assert_eq!((namespace.as_str(), name.as_str()), (NS, "dup"))
        }
        other => panic!("expected AlreadyExists, got {other:?}"),
    }
    assert_eq!(store.list_experiments().await.unwrap().len(), 1);
}

/// Names are unique within a namespace only: two tenants may both have "dup", each with
/// its own trials, and finding one never returns the other.
pub async fn the_same_name_in_two_namespaces<B: Backend>() {
    let db = B::new().await;
    let store = db.open().await;
    let (mine, my_trial) = experiment_with_trial(&store, "dup").await;
    let theirs = store
        .create_experiment(NewExperiment {
            namespace: "team-b".into(),
            ..new_experiment("dup")
        })
        .await
        .unwrap();
    assert_ne!(mine.id, theirs.id);
    assert_eq!(store.get_experiment(NS, "dup").await.unwrap(), mine);
    assert_eq!(store.get_experiment("team-b", "dup").await.unwrap(), theirs);
    assert_eq!(
        store.experiments_named("dup").await.unwrap(),
        vec![mine.clone(), theirs.clone()]
    );
    assert!(store.experiments_named("none").await.unwrap().is_empty());
    // Each has its own trial numbering, so their first trials have the same name.
    let their_trial = store
        .create_trials(theirs.id, vec![assignment(2)])
        .await
        .unwrap()
        .remove(0);
    assert_eq!(their_trial.name, my_trial.name);
    assert_eq!(store.list_trials(mine.id).await.unwrap(), vec![my_trial]);
    store.delete_experiment(theirs.id).await.unwrap();
    assert_eq!(store.get_experiment(NS, "dup").await.unwrap(), mine);
    assert_eq!(store.list_trials(mine.id).await.unwrap().len(), 1);
}

pub async fn experiment_status_timestamps<B: Backend>() {
    let (_db, store, e) = fresh::<B>("s").await;

    store
        .set_experiment_status(e.id, ExperimentStatus::Running, "ExperimentRunning", "go")
        .await
        .unwrap();
    let r = store.get_experiment(NS, "s").await.unwrap();
    assert_eq!(r.status, ExperimentStatus::Running);
    assert_eq!(r.reason, "ExperimentRunning");
    assert_eq!(r.message, "go");
    let started = r.started_at.expect("started_at set");
    assert_eq!(r.completed_at, None);

    store
        .set_experiment_status(e.id, ExperimentStatus::Stopped, "Stopped", "by user")
        .await
        .unwrap();
    let r = store.get_experiment(NS, "s").await.unwrap();
    assert_eq!(r.status, ExperimentStatus::Stopped);
    assert_eq!(r.completed_at, None);

    // Running again keeps the first start.
    tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    store
        .set_experiment_status(e.id, ExperimentStatus::Running, "ExperimentRunning", "")
        .await
        .unwrap();
    assert_eq!(
        store.get_experiment(NS, "s").await.unwrap().started_at,
        Some(started)
    );

    store
        .set_experiment_status(e.id, ExperimentStatus::Succeeded, "GoalReached", "done")
        .await
        .unwrap();
    let r = store.get_experiment(NS, "s").await.unwrap();
    assert_eq!(r.status, ExperimentStatus::Succeeded);
    assert!(r.completed_at.unwrap() >= started);

    store
        .set_experiment_status(e.id, ExperimentStatus::Failed, "TooManyFailures", "")
        .await
        .unwrap();
    assert!(
        store
            .get_experiment(NS, "s")
            .await
            .unwrap()
            .completed_at
            .is_some()
    );

    assert!(matches!(
        store
            .set_experiment_status(777, ExperimentStatus::Running, "", "")
            .await,
        Err(StoreError::ExperimentIdNotFound(_))
    ));
}

pub async fn trial_names_are_sequential_and_never_reused<B: Backend>() {
    let db = B::new().await;
    let store = db.open().await;
    let e = store
        .create_experiment(new_experiment("mnist"))
        .await
        .unwrap();
    let other = store
        .create_experiment(new_experiment("other"))
        .await
        .unwrap();

    let first = store
        .create_trials(e.id, vec![assignment(1), assignment(2), assignment(3)])
        .await
        .unwrap();
    let names: Vec<_> = first.iter().map(|t| t.name.as_str()).collect();
    assert_eq!(names, ["mnist-0001", "mnist-0002", "mnist-0003"]);
    assert_eq!(first.iter().map(|t| t.seq).collect::<Vec<_>>(), [1, 2, 3]);
    assert!(
        first
            .iter()
            .all(|t| t.status == TrialStatus::Created && t.attempt == 0)
    );
    assert_eq!(first[1].parameters, assignment(2));

    // Another experiment has its own counter.
    let o = store
        .create_trials(other.id, vec![assignment(9)])
        .await
        .unwrap();
    assert_eq!(o[0].name, "other-0001");

    let second = store
        .create_trials(e.id, vec![assignment(4)])
        .await
        .unwrap();
    assert_eq!(second[0].name, "mnist-0004");
    assert!(store.create_trials(e.id, vec![]).await.unwrap().is_empty());

    // What create returns is what list reads back, in creation order.
    let listed = store.list_trials(e.id).await.unwrap();
    let mut expected = first.clone();
    expected.extend(second);
    assert_eq!(listed, expected);

    B::close(&store).await;
    drop(store);

    // Even after deleting trials (by hand) and reopening, numbers go on.
    let store = db.open().await;
    let third = store
        .create_trials(e.id, vec![assignment(5), assignment(6)])
        .await
        .unwrap();
    assert_eq!(third[0].name, "mnist-0005");
    assert_eq!(third[1].name, "mnist-0006");
    B::close(&store).await;

    db.exec("DELETE FROM trials WHERE experiment_id = $1", e.id)
        .await;
    let store = db.open().await;
    assert!(store.list_trials(e.id).await.unwrap().is_empty());
    let fourth = store
        .create_trials(e.id, vec![assignment(7)])
        .await
        .unwrap();
    assert_eq!(fourth[0].name, "mnist-0007");

    assert!(matches!(
        store.create_trials(4242, vec![assignment(1)]).await,
        Err(StoreError::ExperimentIdNotFound(_))
    ));
}

pub async fn full_trial_lifecycle<B: Backend>() {
    let (_db, store, e) = fresh::<B>("life").await;
    let t = store
        .create_trials(e.id, vec![assignment(1)])
        .await
        .unwrap()
        .remove(0);

    let start = t0();
    store.start_trial(t.id, 1, Some(4321), start).await.unwrap();
    let running = store.list_trials(e.id).await.unwrap().remove(0);
    assert_eq!(running.status, TrialStatus::Running);
    assert_eq!(running.attempt, 1);
    assert_eq!(running.pgid, Some(4321));
    assert_eq!(running.start_time, Some(start));

    let batch1 = vec![obs("loss", 1, 0.9), obs("accuracy", 1, 0.5)];
    let batch2 = vec![obs("loss", 2, 0.4), obs("accuracy", 2, 0.8)];
    store.append_observations(t.id, 1, &batch1).await.unwrap();
    store.append_observations(t.id, 1, &batch2).await.unwrap();
    store.append_observations(t.id, 1, &[]).await.unwrap();

    let last = vec![obs("loss", 3, 0.25), obs("accuracy", 3, 0.75)];
    let mut loss = MetricSummary::new("loss", 0.9);
    loss.push(0.4);
    loss.push(0.25);
    let mut acc = MetricSummary::new("accuracy", 0.5);
    acc.push(0.8);
    acc.push(0.75);
    let outcome = TrialOutcome {
        status: TrialStatus::Succeeded,
        reason: "TrialSucceeded".to_string(),
        message: "exit 0".to_string(),
        objective: Some(0.25),
        metrics: vec![loss, acc],
        completion_time: start + Duration::seconds(3),
    };
    store.finish_trial(t.id, 1, &last, &outcome).await.unwrap();

    let done = store.list_trials(e.id).await.unwrap().remove(0);
    assert_eq!(done.status, TrialStatus::Succeeded);
    assert_eq!(done.reason, "TrialSucceeded");
    assert_eq!(done.message, "exit 0");
    assert_eq!(done.objective, Some(0.25));
    assert_eq!(done.metrics, outcome.metrics);
    assert_eq!(done.completion_time, Some(outcome.completion_time));
    assert_eq!(done.start_time, Some(start));
    assert_eq!(done.pgid, None);
    assert_eq!(done.attempt, 1);
    assert_eq!(done.parameters, assignment(1));

    let expected: Vec<(i64, Observation)> = batch1
        .into_iter()
        .chain(batch2)
        .chain(last)
        .map(|o| (1, o))
        .collect();
    assert_eq!(store.observations(t.id, None).await.unwrap(), expected);
    assert_eq!(store.observations(t.id, Some(1)).await.unwrap(), expected);
    assert!(store.observations(t.id, Some(2)).await.unwrap().is_empty());

    // Missing trials.
    assert!(matches!(
        store.start_trial(999, 1, None, start).await,
        Err(StoreError::TrialNotFound(999))
    ));
    assert!(matches!(
        store
            .append_observations(999, 1, &[obs("loss", 1, 1.0)])
            .await,
        Err(StoreError::TrialNotFound(999))
    ));
    assert!(matches!(
        store
            .finish_trial(999, 1, &[obs("loss", 1, 1.0)], &outcome)
            .await,
        Err(StoreError::TrialNotFound(999))
    ));
    assert!(matches!(
        store.requeue_trial(999, "Requeued", false).await,
        Err(StoreError::TrialNotFound(999))
    ));
    assert!(matches!(
        store.observations(999, None).await,
        Err(StoreError::TrialNotFound(999))
    ));
}

pub async fn non_finite_values_round_trip<B: Backend>() {
    let (_db, store, e) = fresh::<B>("nan").await;
    let t = store
        .create_trials(e.id, vec![assignment(1)])
        .await
        .unwrap()
        .remove(0);
    store.start_trial(t.id, 1, None, t0()).await.unwrap();
    let mut m = MetricSummary::new("loss", f64::NAN);
    m.min = f64::NEG_INFINITY;
    m.max = f64::INFINITY;
    let outcome = TrialOutcome {
        status: TrialStatus::Failed,
        reason: "TrialFailed".to_string(),
        message: String::new(),
        objective: Some(f64::INFINITY),
        metrics: vec![m],
        completion_time: t0(),
    };
    let last = vec![obs("loss", 1, f64::NAN), obs("loss", 2, f64::NEG_INFINITY)];
    store.finish_trial(t.id, 1, &last, &outcome).await.unwrap();

    let r = store.list_trials(e.id).await.unwrap().remove(0);
    assert_eq!(r.objective, Some(f64::INFINITY));
    assert!(r.metrics[0].latest.is_nan());
    assert_eq!(r.metrics[0].min, f64::NEG_INFINITY);
    assert_eq!(r.metrics[0].max, f64::INFINITY);
    let o = store.observations(t.id, None).await.unwrap();
    assert!(o[0].1.value.is_nan());
    assert_eq!(o[1].1.value, f64::NEG_INFINITY);
}

pub async fn floats_round_trip_exactly<B: Backend>() {
    let (_db, store, e) = fresh::<B>("bits").await;
    // Values whose shortest representation has 17 significant digits, which a fast but
    // inexact JSON float parser may get wrong in the last bit.
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    let values: Vec<f64> = (0..2000)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 11) as f64 / (1u64 << 53) as f64 * 10f64.powi((x % 40) as i32 - 20)
        })
        .collect();
    let params: Vec<Assignment> = values
        .chunks(100)
        .map(|c| {
            Assignment(
                c.iter()
                    .enumerate()
                    .map(|(i, v)| (format!("p{i}"), ParamValue::Float(*v)))
                    .collect(),
            )
        })
        .collect();
    store.create_trials(e.id, params.clone()).await.unwrap();
    let got: Vec<Assignment> = store
        .list_trials(e.id)
        .await
        .unwrap()
        .into_iter()
        .map(|t| t.parameters)
        .collect();
    assert_eq!(got, params);
}

pub async fn requeue_and_second_attempt_keep_observations_apart<B: Backend>() {
    let (_db, store, e) = fresh::<B>("rq").await;
    let t = store
        .create_trials(e.id, vec![assignment(1)])
        .await
        .unwrap()
        .remove(0);

    store.start_trial(t.id, 1, Some(100), t0()).await.unwrap();
    let first = vec![obs("loss", 1, 1.0), obs("loss", 2, 0.8)];
    store.append_observations(t.id, 1, &first).await.unwrap();

    store
        .requeue_trial(t.id, "Requeued: controller restarted", false)
        .await
        .unwrap();
    let r = store.list_trials(e.id).await.unwrap().remove(0);
    assert_eq!(r.status, TrialStatus::Created);
    assert_eq!(r.reason, "Requeued: controller restarted");
    assert_eq!(r.pgid, None);
    assert_eq!(r.attempt, 1);
    // An interrupted attempt is no failure: no retry is used up.
    assert_eq!(r.failed_attempts, 0);

    let start2 = t0() + Duration::seconds(60);
    store.start_trial(t.id, 2, Some(200), start2).await.unwrap();
    let r = store.list_trials(e.id).await.unwrap().remove(0);
    assert_eq!(r.status, TrialStatus::Running);
    assert_eq!(r.attempt, 2);
    assert_eq!(r.pgid, Some(200));
    assert_eq!(r.reason, "");
    assert_eq!(r.start_time, Some(start2));

    let second = vec![obs("loss", 1, 0.7)];
    store.append_observations(t.id, 2, &second).await.unwrap();
    let last = vec![obs("loss", 2, 0.5)];
    let outcome = TrialOutcome {
        status: TrialStatus::Succeeded,
        reason: "TrialSucceeded".to_string(),
        message: String::new(),
        objective: Some(0.5),
        metrics: vec![],
        completion_time: start2 + Duration::seconds(1),
    };
    store.finish_trial(t.id, 2, &last, &outcome).await.unwrap();

    let a1 = store.observations(t.id, Some(1)).await.unwrap();
    assert_eq!(
        a1,
        first.iter().cloned().map(|o| (1, o)).collect::<Vec<_>>()
    );
    let a2 = store.observations(t.id, Some(2)).await.unwrap();
    let expected2: Vec<_> = second
        .iter()
        .chain(&last)
        .cloned()
        .map(|o| (2, o))
        .collect();
    assert_eq!(a2, expected2);
    let all = store.observations(t.id, None).await.unwrap();
    assert_eq!(all, a1.into_iter().chain(a2).collect::<Vec<_>>());
    assert!(store.observations(t.id, Some(3)).await.unwrap().is_empty());

    // Failed attempts run again are counted, one per requeue, and kept.
    for n in 1..=2 {
        store
            .requeue_trial(t.id, "Retrying: attempt failed", true)
            .await
            .unwrap();
        let r = store.list_trials(e.id).await.unwrap().remove(0);
        assert_eq!((r.status, r.failed_attempts), (TrialStatus::Created, n));
    }
}

pub async fn algorithm_state_round_trip_and_overwrite<B: Backend>() {
    let (_db, store, e) = fresh::<B>("algo").await;
    assert_eq!(store.load_algorithm_state(e.id).await.unwrap(), None);

    let s1 = json!({"rng": [1, 2, 3], "grid_index": 7, "sigma": 0.1});
    store.save_algorithm_state(e.id, &s1).await.unwrap();
    assert_eq!(store.load_algorithm_state(e.id).await.unwrap(), Some(s1));

    let s2 = json!({"rng": [4], "grid_index": 8});
    store.save_algorithm_state(e.id, &s2).await.unwrap();
    assert_eq!(store.load_algorithm_state(e.id).await.unwrap(), Some(s2));

    assert!(matches!(
        store.save_algorithm_state(5555, &json!({})).await,
        Err(StoreError::ExperimentIdNotFound(_))
    ));
}

pub async fn stop_request_and_claim<B: Backend>() {
    let db = B::new().await;
    let runner = db.open().await;
    let e = runner
        .create_experiment(new_experiment("stopme"))
        .await
        .unwrap();
    runner.claim_experiment(e.id, 1234).await.unwrap();
    assert!(!runner.stop_requested(e.id).await.unwrap());

    // `ferrotune stop` from another process.
    let stopper = db.open().await;
    stopper.request_stop(e.id).await.unwrap();
    B::close(&stopper).await;
    assert!(runner.stop_requested(e.id).await.unwrap());
    let r = runner.get_experiment(NS, "stopme").await.unwrap();
    assert!(r.stop_requested);
    assert_eq!(r.owner_pid, Some(1234));

    // A later run claims it and clears the stale request.
    runner.claim_experiment(e.id, 5678).await.unwrap();
    assert!(!runner.stop_requested(e.id).await.unwrap());
    assert_eq!(
        runner.get_experiment(NS, "stopme").await.unwrap().owner_pid,
        Some(5678)
    );

    assert!(matches!(
        runner.request_stop(999).await,
        Err(StoreError::ExperimentIdNotFound(999))
    ));
    assert!(matches!(
        runner.stop_requested(999).await,
        Err(StoreError::ExperimentIdNotFound(_))
    ));
    assert!(matches!(
        runner.claim_experiment(999, 1).await,
        Err(StoreError::ExperimentIdNotFound(_))
    ));
}

pub async fn delete_takes_trials_and_observations<B: Backend>() {
    let db = B::new().await;
    let store = db.open().await;
    let (e, t) = experiment_with_trial(&store, "gone").await;
    store.start_trial(t.id, 1, None, t0()).await.unwrap();
    store
        .append_observations(t.id, 1, &[obs("loss", 0, 1.0)])
        .await
        .unwrap();
    store
        .save_algorithm_state(e.id, &json!({"n": 1}))
        .await
        .unwrap();
    let (kept, _) = experiment_with_trial(&store, "kept").await;
    store.delete_experiment(e.id).await.unwrap();
    assert!(matches!(
        store.get_experiment(NS, "gone").await,
        Err(StoreError::ExperimentNotFound { .. })
    ));
    assert!(store.list_trials(e.id).await.unwrap().is_empty());
    // Gone: no observations (or no such trial at all).
    assert!(!matches!(store.observations(t.id, None).await, Ok(v) if !v.is_empty()));
    assert_eq!(store.load_algorithm_state(e.id).await.unwrap(), None);
    assert_eq!(store.list_trials(kept.id).await.unwrap().len(), 1);
    assert!(matches!(
        store.delete_experiment(e.id).await,
        Err(StoreError::ExperimentIdNotFound(id)) if id == e.id
    ));
    // The name is free again.
    experiment_with_trial(&store, "gone").await;
}

pub async fn data_survives_reopening<B: Backend>() {
    let db = B::new().await;
    let (exp, trials, observations, state) = {
        let store = db.open().await;
        let e = store
            .create_experiment(new_experiment("keep"))
            .await
            .unwrap();
        store
            .set_experiment_status(e.id, ExperimentStatus::Running, "ExperimentRunning", "")
            .await
            .unwrap();
        store.claim_experiment(e.id, 42).await.unwrap();
        let ts = store
            .create_trials(e.id, vec![assignment(1), assignment(2)])
            .await
            .unwrap();
        store
            .start_trial(ts[0].id, 1, Some(77), t0())
            .await
            .unwrap();
        let o = vec![obs("loss", 1, 0.3), obs("loss", 2, 0.2)];
        store.append_observations(ts[0].id, 1, &o).await.unwrap();
        let state = json!({"next": 3});
        store.save_algorithm_state(e.id, &state).await.unwrap();
        let exp = store.get_experiment(NS, "keep").await.unwrap();
        let trials = store.list_trials(e.id).await.unwrap();
        // Not closed, as after a killed process (SQLite: the WAL is left behind).
        drop(store);
        (exp, trials, o, state)
    };

    let store = db.open().await;
    assert_eq!(store.get_experiment(NS, "keep").await.unwrap(), exp);
    assert_eq!(exp.status, ExperimentStatus::Running);
    assert_eq!(exp.owner_pid, Some(42));
    assert_eq!(store.list_trials(exp.id).await.unwrap(), trials);
    assert_eq!(trials[0].status, TrialStatus::Running);
    assert_eq!(trials[0].pgid, Some(77));
    assert_eq!(
        store.observations(trials[0].id, None).await.unwrap(),
        observations.into_iter().map(|o| (1, o)).collect::<Vec<_>>()
    );
    assert_eq!(
        store.load_algorithm_state(exp.id).await.unwrap(),
        Some(state)
    );
    B::close(&store).await;

    // And once more after a clean close.
    let store = db.open().await;
    assert_eq!(store.list_trials(exp.id).await.unwrap(), trials);
    B::close(&store).await;
}

pub async fn two_handles_create_trials_concurrently<B: Backend>() {
    let db = B::new().await;
    let a = Arc::new(db.open().await);
    let b = Arc::new(db.open().await);
    let e = a.create_experiment(new_experiment("race")).await.unwrap();

    let mut tasks = Vec::new();
    for (k, store) in [a.clone(), b.clone(), a.clone(), b.clone()]
        .into_iter()
        .enumerate()
    {
        tasks.push(tokio::spawn(async move {
            let mut names = Vec::new();
            for i in 0..25 {
                let batch = vec![assignment(k as i64 * 100 + i); 1 + (i as usize % 3)];
                for t in store.create_trials(e.id, batch).await.unwrap() {
                    names.push(t.name);
                }
            }
            names
        }));
    }
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await.unwrap());
    }
    let unique: HashSet<_> = all.iter().cloned().collect();
    assert_eq!(unique.len(), all.len(), "duplicate trial names");
    let listed = a.list_trials(e.id).await.unwrap();
    assert_eq!(listed.len(), all.len());
    // Sequence numbers are dense: 1..=n.
    let seqs: Vec<i64> = listed.iter().map(|t| t.seq).collect();
    assert_eq!(seqs, (1..=all.len() as i64).collect::<Vec<_>>());
    for t in &listed {
        assert_eq!(t.name, format!("race-{:04}", t.seq));
    }
    B::close(&a).await;
    B::close(&b).await;
}

pub async fn large_observation_batch_in_order<B: Backend>() {
    let (_db, store, e) = fresh::<B>("big").await;
    let t = store
        .create_trials(e.id, vec![assignment(1)])
        .await
        .unwrap()
        .remove(0);
    store.start_trial(t.id, 1, None, t0()).await.unwrap();

    let base = Utc::now().trunc_subsecs(6);
    let batch: Vec<Observation> = (0..5000)
        .map(|i| Observation {
            metric: ["loss", "accuracy", "lr"][i % 3].to_string(),
            step: i as i64 / 3,
            timestamp: base + Duration::microseconds(i as i64 * 17),
            value: (i as f64).sin() * 1e3 + 1.0 / (i as f64 + 3.0),
        })
        .collect();
    store.append_observations(t.id, 1, &batch).await.unwrap();
    // An odd-sized batch (1 + 2 + 4 + … split) after it.
    let tail: Vec<Observation> = (0..777)
        .map(|i| obs("loss", 10_000 + i, i as f64))
        .collect();
    store.append_observations(t.id, 1, &tail).await.unwrap();

    let got = store.observations(t.id, Some(1)).await.unwrap();
    let expected: Vec<_> = batch.into_iter().chain(tail).map(|o| (1, o)).collect();
    assert_eq!(got.len(), 5777);
    assert_eq!(got, expected);
}

/// Many short trials, each transition committed on its own: every one is there afterwards,
/// with all of its observations. (Speed is measured by benches/overhead, not here.)
pub async fn many_short_trials_keep_every_transition<B: Backend>() {
    let (_db, store, e) = fresh::<B>("fast").await;
    let n = 400;
    for i in 0..n {
        let t = store
            .create_trials(e.id, vec![assignment(i)])
            .await
            .unwrap()
            .remove(0);
        store.start_trial(t.id, 1, Some(1), t0()).await.unwrap();
        let o: Vec<_> = (0..100)
            .map(|s| obs("loss", s, 1.0 / (s + 1) as f64))
            .collect();
        store.append_observations(t.id, 1, &o).await.unwrap();
        let outcome = TrialOutcome {
            status: TrialStatus::Succeeded,
            reason: "TrialSucceeded".to_string(),
            message: String::new(),
            objective: Some(0.01),
            metrics: vec![MetricSummary::new("loss", 0.01)],
            completion_time: t0(),
        };
        store
            .finish_trial(t.id, 1, &[obs("loss", 100, 0.01)], &outcome)
            .await
            .unwrap();
    }
    let trials = store.list_trials(e.id).await.unwrap();
    assert_eq!(trials.len(), n as usize);
    for t in trials.iter().step_by(50) {
        assert_eq!(t.status, TrialStatus::Succeeded);
        assert_eq!(store.observations(t.id, Some(1)).await.unwrap().len(), 101);
    }
}

pub async fn katib_observation_logs_by_trial_metric_and_time<B: Backend>() {
    let (db, store, _) = fresh::<B>("katib-logs").await;
    let t = |s: u32| Utc.with_ymd_and_hms(2026, 11, 24, 0, 0, s).unwrap();
    let e = |m: &str, s: u32, v: &str| ferrotune_store::KatibLogEntry {
        metric: m.into(),
        time: t(s),
        value: v.into(),
    };
    store
        .report_katib_log("trial-a", &[e("loss", 2, "0.5"), e("acc", 1, "0.7")])
        .await
        .unwrap();
    store
        .report_katib_log("trial-a", &[e("loss", 3, "unavailable")])
        .await
        .unwrap();
    store
        .report_katib_log("trial-b", &[e("loss", 1, "9")])
        .await
        .unwrap();
    let all = store.katib_log("trial-a", None, None, None).await.unwrap();
    assert_eq!(
        all,
        vec![
            e("acc", 1, "0.7"),
            e("loss", 2, "0.5"),
            e("loss", 3, "unavailable")
        ],
        "time order, text kept"
    );
    let loss = store
        .katib_log("trial-a", Some("loss"), Some(t(3)), None)
        .await
        .unwrap();
    assert_eq!(loss, vec![e("loss", 3, "unavailable")]);
    let early = store
        .katib_log("trial-a", None, None, Some(t(2)))
        .await
        .unwrap();
    assert_eq!(early.len(), 2);
    assert!(
        store
            .katib_log("nobody", None, None, None)
            .await
            .unwrap()
            .is_empty()
    );
    // Kept across a reopen; deleted per trial.
    B::close(&store).await;
    let store = db.open().await;
    assert_eq!(store.delete_katib_log("trial-a").await.unwrap(), 3);
    assert!(
        store
            .katib_log("trial-a", None, None, None)
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        store
            .katib_log("trial-b", None, None, None)
            .await
            .unwrap()
            .len(),
        1
    );
}
