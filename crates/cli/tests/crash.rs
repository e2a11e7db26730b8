//! Crash safety: a `ferrotune run` killed with SIGKILL mid-sweep, interrupted with Ctrl-C,
//! or stopped from another process, resumes with exact counts and nothing lost.

mod common;
use common::*;
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use std::collections::BTreeSet;
use std::time::{Duration, Instant};

/// Each trial reports `loss` five times, 60 ms apart, and records its pid (written whole or
/// not at all: a trial killed while starting leaves no half-written file).
const STEPS: &str = "import os, json, time
x = json.loads(os.environ['FERROTUNE_PARAMS'])['x']
d = os.environ['FERROTUNE_TRIAL_DIR']
open(d + '/pid.tmp', 'w').write(str(os.getpid()))
os.rename(d + '/pid.tmp', d + '/pid')
for step in range(5):
    print(f'loss={x*x + step}', flush=True)
    time.sleep(0.06)";

const PARAMS_X: &str = "    - name: x
      parameterType: double
      feasibleSpace: {min: \"-2\", max: \"2\"}";

fn finished_count(sb: &Sandbox, name: &str) -> usize {
    let out = sb.run(&["trials", name, "--output", "json"]);
    if !out.status.success() {
        return 0;
    }
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_default();
    v.as_array()
        .map(|a| {
            a.iter()
                .filter(|t| t["status"] != "Running" && t["status"] != "Created")
                .count()
        })
        .unwrap_or(0)
}

fn wait_until(what: &str, timeout: Duration, mut f: impl FnMut() -> bool) {
    let start = Instant::now();
    while !f() {
        assert!(start.elapsed() < timeout, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn alive(pid: i32) -> bool {
    // A zombie still answers kill(0); read its state.
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .map(|s| {
            !s.rsplit(')')
                .next()
                .unwrap_or("")
                .trim_start()
                .starts_with('Z')
        })
        .unwrap_or(false)
}

async fn assert_exact(sb: &Sandbox, name: &str, total: usize) {
    let store = sb.store().await;
    use ferrotune_store::Store;
    let exp = store.get_experiment("ferrotune", name).await.unwrap();
    let trials = store.list_trials(exp.id).await.unwrap();
    assert_eq!(trials.len(), total, "exactly maxTrialCount trials exist");
    let names: BTreeSet<&str> = trials.iter().map(|t| t.name.as_str()).collect();
    assert_eq!(names.len(), total, "no duplicate names");
    let seqs: Vec<i64> = trials.iter().map(|t| t.seq).collect();
    assert_eq!(
        seqs,
        (1..=total as i64).collect::<Vec<_>>(),
        "names never reused or skipped"
    );
    for t in &trials {
        assert_eq!(
            t.status,
            ferrotune_core::TrialStatus::Succeeded,
            "{} {:?} {}",
            t.name,
            t.status,
            t.message
        );
        // the final attempt has every one of its five reports
        let obs = store.observations(t.id, Some(t.attempt)).await.unwrap();
        assert_eq!(
            obs.len(),
            5,
            "{} attempt {} lost metrics",
            t.name,
            t.attempt
        );
        let x = t.parameters.get("x").and_then(|v| v.as_f64()).unwrap();
        assert!((t.objective.unwrap() - x * x).abs() < 1e-9);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_mid_sweep_then_resume_gives_exact_counts_and_keeps_every_metric() {
    let sb = Sandbox::new();
    let total = 24;
    let f = sb.write(
        "exp.yaml",
        &native(
            "crash",
            PARAMS_X,
            STEPS,
            &format!("  parallelTrialCount: 3\n  maxTrialCount: {total}\n"),
        ),
    );
    let mut child = sb
        .cmd(&["run", f.to_str().unwrap(), "--seed", "5"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    wait_until("some trials to finish", Duration::from_secs(60), || {
        finished_count(&sb, "crash") >= 7
    });
    // Kill it while trials are running, with reports half-way.
    kill(Pid::from_raw(child.id() as i32), Signal::SIGKILL).unwrap();
    child.wait().unwrap();

    let store = sb.store().await;
    use ferrotune_store::Store;
    let exp = store.get_experiment("ferrotune", "crash").await.unwrap();
    let before = store.list_trials(exp.id).await.unwrap();
    let interrupted: Vec<_> = before
        .iter()
        .filter(|t| !t.status.is_finished())
        .cloned()
        .collect();
    let finished_before: Vec<_> = before
        .iter()
        .filter(|t| t.status.is_finished())
        .cloned()
        .collect();
    assert!(!finished_before.is_empty());
    let mut kept = Vec::new();
    for t in &finished_before {
        kept.push((
            t.name.clone(),
            t.attempt,
            store.observations(t.id, None).await.unwrap().len(),
        ));
    }
    // The trials' processes die with their controller.
    let mut had_started = std::collections::HashSet::new();
    for t in &interrupted {
        if let Ok(pid) = std::fs::read_to_string(sb.path(&format!(
            "ferrotune-runs/ferrotune/crash/trials/{}/pid",
            t.name
        ))) {
            let pid: i32 = pid.trim().parse().unwrap();
            wait_until("orphaned trial to die", Duration::from_secs(5), || {
                !alive(pid)
            });
            had_started.insert(t.name.clone());
        }
    }

    let out = sb.run(&["resume", "crash"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_exact(&sb, "crash", total).await;

    let after = store.list_trials(exp.id).await.unwrap();
    // Finished trials were not re-run, and their metrics are all still there.
    for (name, attempt, n) in kept {
        let t = after.iter().find(|t| t.name == name).unwrap();
        assert_eq!(t.attempt, attempt, "{name} was re-run");
        assert_eq!(store.observations(t.id, None).await.unwrap().len(), n);
    }
    // Interrupted ones were re-run as a new attempt, their partial log kept apart.
    for t in &interrupted {
        let now = after.iter().find(|a| a.name == t.name).unwrap();
        if t.status == ferrotune_core::TrialStatus::Running {
            assert_eq!(now.attempt, t.attempt + 1, "{}", t.name);
        }
        // (A trial recorded as started whose process had not yet begun has no old output.)
        if had_started.contains(&t.name) {
            let dir = sb.path(&format!("ferrotune-runs/ferrotune/crash/trials/{}", t.name));
            assert!(
                dir.join(format!("output.attempt-{}.log", t.attempt))
                    .exists(),
                "{:?}",
                std::fs::read_dir(&dir)
                    .unwrap()
                    .map(|e| e.unwrap().file_name())
                    .collect::<Vec<_>>()
            );
        }
    }
    let show = sb.json(&["show", "crash", "--output", "json"]);
    assert_eq!(show["status"], "Succeeded");
    assert_eq!(show["reason"], "ExperimentMaxTrialsReached");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ctrl_c_leaves_a_resumable_experiment() {
    let sb = Sandbox::new();
    let total = 9;
    let f = sb.write(
        "exp.yaml",
        &native(
            "intr",
            PARAMS_X,
            STEPS,
            &format!("  parallelTrialCount: 3\n  maxTrialCount: {total}\n"),
        ),
    );
    let child = sb
        .cmd(&["run", f.to_str().unwrap()])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    wait_until("a trial to finish", Duration::from_secs(60), || {
        finished_count(&sb, "intr") >= 2
    });
    kill(Pid::from_raw(child.id() as i32), Signal::SIGINT).unwrap();
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(130), "{}", stderr(&out));
    let show = sb.json(&["show", "intr", "--output", "json"]);
    assert_eq!(show["status"], "Stopped");
    assert_eq!(show["reason"], "Interrupted");
    assert_eq!(
        show["trialCounts"]["Running"], 0,
        "nothing is left marked running"
    );

    let out = sb.run(&["resume", "intr"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_exact(&sb, "intr", total).await;
    // a completed experiment does not resume without a higher limit
    let again = sb.run(&["resume", "intr"]);
    assert!(!again.status.success());
    assert!(
        stderr(&again).contains("--max-trials"),
        "{}",
        stderr(&again)
    );
    let more = sb.run(&["resume", "intr", "--max-trials", "11"]);
    assert!(more.status.success(), "{}", stderr(&more));
    assert_exact(&sb, "intr", 11).await;
}

#[test]
fn stop_from_another_process_kills_the_trial_and_its_children() {
    let sb = Sandbox::new();
    let code = "import os, subprocess, time
child = subprocess.Popen(['sleep', '300'])
open(os.environ['FERROTUNE_TRIAL_DIR'] + '/child', 'w').write(str(child.pid))
print('loss=1', flush=True)
time.sleep(300)";
    let f = sb.write(
        "exp.yaml",
        &native(
            "stopme",
            PARAMS_X,
            code,
            "  parallelTrialCount: 1\n  maxTrialCount: 5\n",
        ),
    );
    let child = sb
        .cmd(&["run", f.to_str().unwrap(), "--grace", "1"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let pidfile = sb.path("ferrotune-runs/ferrotune/stopme/trials/stopme-0001/child");
    wait_until("the trial's child", Duration::from_secs(30), || {
        std::fs::read_to_string(&pidfile)
            .map(|s| !s.is_empty())
            .unwrap_or(false)
    });
    let grandchild: i32 = std::fs::read_to_string(&pidfile)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    let stop = sb.run(&["stop", "stopme"]);
    assert!(stop.status.success(), "{}", stderr(&stop));
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(130), "{}", stderr(&out));
    wait_until("the trial's child to die", Duration::from_secs(5), || {
        !alive(grandchild)
    });
    let trials = sb.json(&["trials", "stopme", "--output", "json"]);
    assert_eq!(trials.as_array().unwrap().len(), 1);
    assert_eq!(trials[0]["status"], "Killed");
    let show = sb.json(&["show", "stopme", "--output", "json"]);
    assert_eq!(show["status"], "Stopped");
    assert_eq!(show["reason"], "StoppedByUser");
}

/// Fails once after an interruption: the first attempt waits to be killed with its
/// controller, the second exits 3, the third reports.
const INTERRUPTED_THEN_FLAKY: &str = "import os, json, sys, time
x = json.loads(os.environ['FERROTUNE_PARAMS'])['x']
d = os.environ['FERROTUNE_TRIAL_DIR']
tries = len([f for f in os.listdir(d) if f.startswith('tried-')])
open(os.path.join(d, f'tried-{tries}'), 'w').close()
if tries == 0:
    open(os.path.join(d, 'pid'), 'w').write(str(os.getpid()))
    time.sleep(600)
if tries == 1:
    print('transient failure', flush=True)
    sys.exit(3)
print(f'loss={x*x}', flush=True)";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_attempt_cut_short_by_a_crash_uses_no_retry() {
    let sb = Sandbox::new();
    let f = sb.write(
        "exp.yaml",
        &native(
            "again",
            PARAMS_X,
            INTERRUPTED_THEN_FLAKY,
            "  parallelTrialCount: 1\n  maxTrialCount: 1\n  maxTrialRetries: 1\n",
        ),
    );
    let mut child = sb
        .cmd(&["run", f.to_str().unwrap(), "--seed", "2"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let pid_file = sb.path("ferrotune-runs/ferrotune/again/trials/again-0001/pid");
    wait_until(
        "the first attempt to start",
        Duration::from_secs(60),
        || pid_file.exists(),
    );
    kill(Pid::from_raw(child.id() as i32), Signal::SIGKILL).unwrap();
    child.wait().unwrap();

    // Attempt 2 fails and, the one retry being unused, attempt 3 runs and succeeds.
    let out = sb.run(&["resume", "again"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("running it again (retry 1 of 1)"),
        "{}",
        stderr(&out)
    );
    let trials = sb.json(&["trials", "again", "--output", "json"]);
    let t = &trials[0];
    assert_eq!(t["status"], "Succeeded", "{trials}");
    assert_eq!(t["attempt"], 3, "{t}");
    assert_eq!(t["failedAttempts"], 1, "{t}");
}
