//! The local runner on its own: real processes, events in order, stops and timeouts.

use ferrotune_controller::{ExitKind, RunnerEvent, TrialLaunch, TrialRunner};
use ferrotune_core::metrics::MetricsFormat;
use ferrotune_core::template::TrialCommand;
use ferrotune_core::validate::{Collector, CollectorKind};
use ferrotune_core::{Assignment, ParamValue};
use ferrotune_runners::LocalRunner;
use std::time::{Duration, Instant};
use tokio::sync::mpsc;

fn launch(dir: &std::path::Path, trial: &str, argv: &[&str]) -> TrialLaunch {
    TrialLaunch {
        experiment: "exp".into(),
        namespace: "team".into(),
        trial: trial.into(),
        attempt: 1,
        parameters: Assignment(vec![("x".into(), ParamValue::Float(0.5))]),
        command: TrialCommand {
            argv: argv.iter().map(|s| s.to_string()).collect(),
            env: vec![("GREETING".into(), "hello; rm -rf /".into())],
            working_dir: None,
        },
        run_dir: dir.to_path_buf(),
        source_dir: dir.to_path_buf(),
        collector: Collector {
            kind: CollectorKind::StdOut,
            format: MetricsFormat::Text,
            filters: vec![],
        },
        metrics: vec!["loss".into()],
        timeout: None,
        labels: Default::default(),
        report: None,
        resources: Default::default(),
        drivers: None,
        replicas: 1,
    }
}

/// Collects events until the trial's `Exited`.
async fn until_exit(
    rx: &mut mpsc::UnboundedReceiver<RunnerEvent>,
) -> (Vec<f64>, ExitKind, Vec<String>, bool) {
    let mut values = Vec::new();
    loop {
        match tokio::time::timeout(Duration::from_secs(30), rx.recv())
            .await
            .expect("an event in time")
            .expect("open channel")
        {
            RunnerEvent::Observations { observations, .. } => {
                values.extend(observations.iter().map(|o| o.value))
            }
            RunnerEvent::Exited {
                kind,
                log_tail,
                stopped,
                ..
            } => return (values, kind, log_tail, stopped),
        }
    }
}

#[tokio::test]
async fn output_is_logged_parsed_and_the_environment_is_set() {
    let dir = tempfile::tempdir().unwrap();
    let runner = LocalRunner::new();
    let (tx, mut rx) = mpsc::unbounded_channel();
    let script = "import os, sys, json
print('loss=0.5 other=3', flush=True)
print('to stderr: loss=0.25', file=sys.stderr, flush=True)
print(os.environ['GREETING'])
print(json.loads(os.environ['FERROTUNE_PARAMS'])['x'], os.environ['FERROTUNE_TRIAL'], os.environ['FERROTUNE_NAMESPACE'], os.getcwd() == os.environ['FERROTUNE_TRIAL_DIR'])
sys.stdout.write('x' * 3000000)
print(' loss=0.125')";
    runner
        .start(launch(dir.path(), "t1", &["python3", "-c", script]), tx)
        .await;
    let (values, kind, tail, stopped) = until_exit(&mut rx).await;
    assert_eq!(
        kind,
        ExitKind::Exited {
            code: Some(0),
            signal: None
        }
    );
    assert!(!stopped);
    assert_eq!(values, vec![0.5, 0.25, 0.125]);
    let log = std::fs::read_to_string(dir.path().join("trials/t1/output.log")).unwrap();
    assert!(
        log.starts_with(
            "loss=0.5 other=3\nto stderr: loss=0.25\nhello; rm -rf /\n0.5 t1 team True\n"
        ),
        "{}",
        &log[..200]
    );
    assert_eq!(
        log.len(),
        17 + 21 + 16 + 17 + 3_000_000 + " loss=0.125\n".len(),
        "every byte is logged"
    );
    assert!(
        tail.last().unwrap().ends_with("x"),
        "long lines are cut in the tail, not in the log"
    );
}

#[tokio::test]
async fn checkpoint_directories_for_a_trial_and_its_parent() {
    let dir = tempfile::tempdir().unwrap();
    let runner = LocalRunner::new();
    let script = "import os, pathlib
own = pathlib.Path(os.environ['FERROTUNE_CHECKPOINT_DIR'])
parent = os.environ.get('FERROTUNE_PARENT_CHECKPOINT_DIR')
if parent:
    print('from', (pathlib.Path(parent) / 'state').read_text())
(own / 'state').write_text(os.environ['FERROTUNE_TRIAL'])
print('loss=1')";
    let (tx, mut rx) = mpsc::unbounded_channel();
    runner
        .start(launch(dir.path(), "a", &["python3", "-c", script]), tx)
        .await;
    let (_, kind, tail, _) = until_exit(&mut rx).await;
    assert_eq!(
        kind,
        ExitKind::Exited {
            code: Some(0),
            signal: None
        },
        "{tail:?}"
    );
    let mut child = launch(dir.path(), "b", &["python3", "-c", script]);
    child
        .labels
        .insert(ferrotune_core::PARENT_LABEL.into(), "a".into());
    let (tx, mut rx) = mpsc::unbounded_channel();
    runner.start(child, tx).await;
    let (_, kind, tail, _) = until_exit(&mut rx).await;
    assert_eq!(
        kind,
        ExitKind::Exited {
            code: Some(0),
            signal: None
        },
        "{tail:?}"
    );
    let log = std::fs::read_to_string(dir.path().join("trials/b/output.log")).unwrap();
    assert!(log.starts_with("from a\n"), "{log}");
    assert_eq!(
        std::fs::read_to_string(dir.path().join("trials/b/checkpoint/state")).unwrap(),
        "b"
    );
}

#[tokio::test]
async fn failures_and_spawn_errors_are_events() {
    let dir = tempfile::tempdir().unwrap();
    let runner = LocalRunner::new();
    let (tx, mut rx) = mpsc::unbounded_channel();
    runner
        .start(
            launch(
                dir.path(),
                "bad",
                &["python3", "-c", "print('boom'); raise SystemExit(4)"],
            ),
            tx.clone(),
        )
        .await;
    let (_, kind, tail, _) = until_exit(&mut rx).await;
    assert_eq!(
        kind,
        ExitKind::Exited {
            code: Some(4),
            signal: None
        }
    );
    assert_eq!(tail, vec!["boom".to_string()]);

    runner
        .start(launch(dir.path(), "missing", &["/no/such/program"]), tx)
        .await;
    let (_, kind, _, _) = until_exit(&mut rx).await;
    match kind {
        ExitKind::SpawnFailed(msg) => assert!(msg.contains("/no/such/program"), "{msg}"),
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn stop_terminates_the_whole_process_group() {
    let dir = tempfile::tempdir().unwrap();
    let runner = LocalRunner::new();
    let (tx, mut rx) = mpsc::unbounded_channel();
    // The trial ignores SIGTERM and has a child: both must be gone after the grace period.
    let script = "import signal, subprocess, time, os
signal.signal(signal.SIGTERM, signal.SIG_IGN)
c = subprocess.Popen(['sleep', '300'])
open(os.environ['FERROTUNE_TRIAL_DIR'] + '/child', 'w').write(str(c.pid))
print('loss=1', flush=True)
time.sleep(300)";
    runner
        .start(
            launch(dir.path(), "stubborn", &["python3", "-c", script]),
            tx,
        )
        .await;
    let child_file = dir.path().join("trials/stubborn/child");
    let start = Instant::now();
    while std::fs::read_to_string(&child_file)
        .map(|s| s.is_empty())
        .unwrap_or(true)
    {
        assert!(start.elapsed() < Duration::from_secs(20));
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let child: i32 = std::fs::read_to_string(&child_file)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    runner
        .stop("team", "stubborn", Duration::from_millis(300))
        .await;
    let (_, kind, _, stopped) = until_exit(&mut rx).await;
    assert!(stopped);
    assert_eq!(
        kind,
        ExitKind::Exited {
            code: None,
            signal: Some(9)
        },
        "SIGTERM ignored, so SIGKILL"
    );
    tokio::time::sleep(Duration::from_millis(200)).await;
    let state = std::fs::read_to_string(format!("/proc/{child}/stat")).unwrap_or_default();
    assert!(
        state.is_empty()
            || state
                .rsplit(')')
                .next()
                .unwrap()
                .trim_start()
                .starts_with('Z'),
        "child survived: {state}"
    );
}

#[tokio::test]
async fn timeout_kills_and_reports() {
    let dir = tempfile::tempdir().unwrap();
    let runner = LocalRunner::new();
    let (tx, mut rx) = mpsc::unbounded_channel();
    let mut l = launch(dir.path(), "slow", &["sleep", "30"]);
    l.timeout = Some(Duration::from_millis(300));
    runner.start(l, tx).await;
    let (_, kind, _, stopped) = until_exit(&mut rx).await;
    assert_eq!(kind, ExitKind::TimedOut(Duration::from_millis(300)));
    assert!(!stopped);
}

/// Trial names are unique within a namespace only: stopping one namespace's `e-0001`
/// leaves another namespace's `e-0001` running.
#[tokio::test]
async fn a_stop_reaches_the_trial_of_its_namespace_only() {
    let (dir_a, dir_b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let runner = LocalRunner::new();
    let script = "import time\nprint('loss=1', flush=True)\ntime.sleep(300)";
    let (tx_a, mut rx_a) = mpsc::unbounded_channel();
    runner
        .start(
            launch(dir_a.path(), "e-0001", &["python3", "-c", script]),
            tx_a,
        )
        .await;
    let (tx_b, mut rx_b) = mpsc::unbounded_channel();
    let mut theirs = launch(dir_b.path(), "e-0001", &["python3", "-c", script]);
    theirs.namespace = "team-b".into();
    runner.start(theirs, tx_b).await;
    runner
        .stop("team-b", "e-0001", Duration::from_millis(300))
        .await;
    let (_, _, _, stopped) = until_exit(&mut rx_b).await;
    assert!(stopped);
    while let Ok(e) = rx_a.try_recv() {
        assert!(
            matches!(e, RunnerEvent::Observations { .. }),
            "the other namespace's trial ended: {e:?}"
        );
    }
    runner
        .stop("team", "e-0001", Duration::from_millis(300))
        .await;
    let (_, _, _, stopped) = until_exit(&mut rx_a).await;
    assert!(stopped);
}
