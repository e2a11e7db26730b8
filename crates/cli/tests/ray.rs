//! The Ray runner end to end: `ferrotune run --runner ray` against the real Ray head that
//! `./scripts/test.sh` starts (its dashboard's address in FERROTUNE_TEST_RAY). Module
//! `ray_cluster` holds the tests that need it, so that the script can skip them by name
//! when Ray cannot start (never under CI=true).

mod common;

use common::*;
use std::time::{Duration, Instant};

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

/// Experiment `name` over one parameter x in [0, 1], written to the sandbox's `e.yaml`.
fn x_experiment(sb: &Sandbox, name: &str, code: &str, extra_spec: &str) -> std::path::PathBuf {
    sb.write(
        "e.yaml",
        &native(
            name,
            "    - {name: x, parameterType: double, feasibleSpace: {min: '0', max: '1'}}",
            code,
            extra_spec,
        ),
    )
}

/// Several processes per trial need Ray's tasks mode: locally the trial fails, saying so.
#[test]
fn replicas_fail_a_local_trial_naming_the_runner_that_can() {
    let sb = Sandbox::new();
    let file = sb.write(
        "e.yaml",
        &native(
            "local-gang",
            "    - {name: x, parameterType: double, feasibleSpace: {min: '0', max: '1'}}",
            "print('loss=1')",
            "  parallelTrialCount: 1\n  maxTrialCount: 1\n",
        )
        .replace("  trialTemplate:\n", "  trialTemplate:\n    replicas: 2\n"),
    );
    let out = sb.run(&["run", file.to_str().unwrap()]);
    assert!(out.status.code().is_some(), "{}", stderr(&out));
    let store = rt().block_on(sb.store());
    let trials = rt().block_on(async {
        use ferrotune_store::Store;
        let e = store
            .get_experiment("ferrotune", "local-gang")
            .await
            .unwrap();
        store.list_trials(e.id).await.unwrap()
    });
    assert_eq!(trials.len(), 1);
    assert_eq!(trials[0].status.as_str(), "Failed");
    let m = &trials[0].message;
    assert!(
        m.contains("trialTemplate.replicas is 2") && m.contains("--ray-mode tasks"),
        "{m}"
    );
}

/// A wrong address is refused at once, naming it, before anything is stored.
#[test]
fn unreachable_ray_is_a_clear_error_naming_the_address() {
    let sb = Sandbox::new();
    let file = x_experiment(
        &sb,
        "unreachable",
        "print('loss=1')",
        "  parallelTrialCount: 1\n  maxTrialCount: 1\n",
    );
    let out = sb.run(&[
        "run",
        file.to_str().unwrap(),
        "--runner",
        "ray",
        "--ray-address",
        "http://127.0.0.1:1",
    ]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(err.contains("Ray at http://127.0.0.1:1"), "{err}");
    assert!(err.contains("refused"), "{err}");
    let list = sb.json(&["list", "--output", "json"]);
    assert_eq!(list.as_array().map(Vec::len), Some(0), "{list}");

    let out = sb.run(&[
        "run",
        file.to_str().unwrap(),
        "--runner",
        "ray",
        "--ray-mode",
        "threads",
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("--ray-mode: unknown Ray mode \"threads\" (known: jobs, tasks)"),
        "{}",
        stderr(&out)
    );
}

mod ray_cluster {
    use super::*;
    use ferrotune_runners::ray::api::{JobApi, JobInfo, JobStatus};
    use std::sync::Mutex;

    /// One sweep at a time on the 2-CPU head, so that timings and slots are the tests'
    /// own.
    static HEAD: Mutex<()> = Mutex::new(());

    fn ray_url() -> String {
        std::env::var("FERROTUNE_TEST_RAY").unwrap_or_else(|_| {
            panic!(
                "FERROTUNE_TEST_RAY is not set: these tests need a Ray head's dashboard address \
                 (./scripts/test.sh starts one; by hand: scripts/ray-head.sh start DIR)"
            )
        })
    }

    fn lock() -> std::sync::MutexGuard<'static, ()> {
        HEAD.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The Ray jobs of an experiment of this sandbox, by trial and attempt.
    /// Experiment `name`'s trials as the sandbox's store holds them.
    fn stored_trials(sb: &Sandbox, name: &str) -> Vec<ferrotune_store::TrialRecord> {
        let store = rt().block_on(sb.store());
        rt().block_on(async {
            use ferrotune_store::Store;
            let e = store.get_experiment("ferrotune", name).await.unwrap();
            store.list_trials(e.id).await.unwrap()
        })
    }

    /// Waits (at most 60 s) for a job of experiment `name` to run; its submission id.
    fn running_job(api: &JobApi, sb: &Sandbox, name: &str) -> String {
        let mut id = String::new();
        wait_until("the trial's job to run", Duration::from_secs(60), || {
            std::fs::canonicalize(sb.path(&format!("ferrotune-runs/ferrotune/{name}"))).is_ok()
                && jobs(api, sb, name).into_iter().any(|(_, _, j)| {
                    id = j.submission_id.clone().unwrap_or_default();
                    j.status == JobStatus::Running
                })
        });
        id
    }

    /// Experiment `name`'s Ray jobs, as (trial, attempt, job); a driver job (tasks mode)
    /// has neither trial nor attempt.
    fn jobs(api: &JobApi, sb: &Sandbox, name: &str) -> Vec<(String, String, JobInfo)> {
        jobs_in(api, &sb.path(&format!("ferrotune-runs/ferrotune/{name}")))
    }

    /// The Ray jobs of the experiment whose run folder is `run_dir`, as `jobs` gives them.
    fn jobs_in(api: &JobApi, run_dir: &std::path::Path) -> Vec<(String, String, JobInfo)> {
        let run_dir = std::fs::canonicalize(run_dir)
            .unwrap()
            .display()
            .to_string();
        rt().block_on(api.list())
            .expect("Ray lists its jobs")
            .into_iter()
            .filter_map(|j| {
                let m = j.metadata.clone()?;
                (m.get("ferrotune.io/run-dir") == Some(&run_dir)).then(|| {
                    let get = |k: &str| m.get(k).cloned().unwrap_or_default();
                    (get("ferrotune.io/trial"), get("ferrotune.io/attempt"), j)
                })
            })
            .collect()
    }

    /// The driver jobs (tasks mode) of experiment `name`.
    fn drivers(api: &JobApi, sb: &Sandbox, name: &str) -> Vec<JobInfo> {
        jobs(api, sb, name)
            .into_iter()
            .filter(|(t, _, j)| {
                t.is_empty()
                    && j.metadata
                        .as_ref()
                        .and_then(|m| m.get("ferrotune.io/driver"))
                        == Some(&"true".to_string())
            })
            .map(|(_, _, j)| j)
            .collect()
    }

    fn run_ray(sb: &Sandbox, file: &std::path::Path, mode: &str) -> std::process::Output {
        sb.run(&[
            "run",
            file.to_str().unwrap(),
            "--runner",
            "ray",
            "--ray-address",
            &ray_url(),
            "--ray-mode",
            mode,
            "--grace",
            "2",
        ])
    }

    /// `ferrotune run --runner ray` in the background, its output dropped.
    fn spawn_ray(sb: &Sandbox, file: &std::path::Path, mode: &str) -> std::process::Child {
        sb.cmd(&[
            "run",
            file.to_str().unwrap(),
            "--runner",
            "ray",
            "--ray-address",
            &ray_url(),
            "--ray-mode",
            mode,
        ])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap()
    }

    fn wait_until(what: &str, timeout: Duration, mut f: impl FnMut() -> bool) {
        let t = Instant::now();
        while !f() {
            assert!(t.elapsed() < timeout, "timed out waiting for {what}");
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    const ENV_CHECK: &str = r#"
import json, os, sys, time
p = json.loads(os.environ["FERROTUNE_PARAMS"])
d = os.environ["FERROTUNE_TRIAL_DIR"]
ok = (os.getcwd() == d and os.path.isdir(os.environ["FERROTUNE_CHECKPOINT_DIR"])
      and os.environ["FERROTUNE_TRIAL"].startswith("stdout-sweep-")
      and os.environ["FERROTUNE_ATTEMPT"] == "1"
      and os.environ["FERROTUNE_EXPERIMENT"] == "stdout-sweep"
      and os.environ["FERROTUNE_NAMESPACE"] == "ferrotune"
      and os.environ["GREETING"] == "hello; rm -rf / $(id)"
      and sys.argv[1] == p["word"])
print(f"env_ok={int(ok)}", flush=True)
for step in range(3):
    print(f"step={step} loss={p['x'] + 1.0 / (step + 1):.6f}", flush=True)
    time.sleep(0.05)
"#;

    fn stdout_sweep(mode: &str) {
        let _head = lock();
        let sb = Sandbox::new();
        let code = serde_json::to_string(ENV_CHECK).unwrap();
        let file = sb.write(
            "e.yaml",
            &format!(
                "apiVersion: ferrotune.io/v1alpha1
kind: Experiment
metadata:
  name: stdout-sweep
spec:
  objective: {{type: minimize, objectiveMetricName: loss, additionalMetricNames: [env_ok]}}
  algorithm: {{algorithmName: random}}
  parallelTrialCount: 2
  maxTrialCount: 4
  parameters:
    - {{name: x, parameterType: double, feasibleSpace: {{min: '0', max: '1'}}}}
    - {{name: word, parameterType: categorical, feasibleSpace: {{list: ['a; touch /tmp/ferrotune-pwned', '$(id) `id`']}}}}
  trialTemplate:
    command: [python3, -c, {code}, '${{trialParameters.word}}']
    env: {{GREETING: 'hello; rm -rf / $(id)'}}
"
            ),
        );
        let t = Instant::now();
        let out = run_ray(&sb, &file, mode);
        let took = t.elapsed();
        assert!(out.status.success(), "{}", stderr(&out));
        eprintln!("4 trials, 2 at a time, on Ray in {took:?}");
        let trials = sb.json(&["trials", "stdout-sweep", "--output", "json"]);
        assert_eq!(count_status(&trials, "Succeeded"), 4, "{trials}");
        for t in trials.as_array().unwrap() {
            let x = t["parameters"]["x"].as_f64().unwrap();
            let loss = t["metrics"]["loss"].as_f64().unwrap();
            // min over the steps of x + 1/(step+1): the last step's.
            assert!((loss - (x + 1.0 / 3.0)).abs() < 1e-5, "{t}");
            assert_eq!(t["metrics"]["env_ok"].as_f64(), Some(1.0), "{t}");
            let name = t["name"].as_str().unwrap();
            let log = std::fs::read_to_string(sb.path(&format!(
                "ferrotune-runs/ferrotune/stdout-sweep/trials/{name}/output.log"
            )))
            .unwrap();
            assert!(log.contains("step=2 loss="), "{log}");
        }
        assert!(!std::path::Path::new("/tmp/ferrotune-pwned").exists());
        let api = JobApi::new(&ray_url());
        let jobs = jobs(&api, &sb, "stdout-sweep");
        if mode == "jobs" {
            assert_eq!(jobs.len(), 4, "one Ray job per trial");
            assert!(
                jobs.iter()
                    .all(|(_, a, j)| a == "1" && j.status == JobStatus::Succeeded),
                "{jobs:?}"
            );
        } else {
            // One driver for the experiment, which ended with it.
            assert_eq!(jobs.len(), 1, "{jobs:?}");
            assert_eq!(drivers(&api, &sb, "stdout-sweep").len(), 1, "{jobs:?}");
            assert_eq!(jobs[0].2.status, JobStatus::Succeeded, "{jobs:?}");
        }
    }

    #[test]
    fn a_sweep_runs_as_ray_tasks_of_one_driver_with_stdout_metrics_and_the_local_environment() {
        stdout_sweep("tasks");
    }

    #[test]
    fn a_sweep_runs_as_ray_jobs_with_stdout_metrics_and_the_local_environment() {
        stdout_sweep("jobs");
    }

    fn push_sweep(mode: &str) {
        let _head = lock();
        let sb = Sandbox::new();
        let file = x_experiment(
            &sb,
            "push-sweep",
            "import ferrotune\nx = ferrotune.params()['x']\nfor s in range(4):\n    ferrotune.report(step=s, loss=x * 10 + s)\n",
            "  parallelTrialCount: 2\n  maxTrialCount: 3\n  metricsCollectorSpec:\n    collector: {kind: Push}\n",
        );
        let out = run_ray(&sb, &file, mode);
        assert!(out.status.success(), "{}", stderr(&out));
        let trials = sb.json(&["trials", "push-sweep", "--output", "json"]);
        assert_eq!(count_status(&trials, "Succeeded"), 3, "{trials}");
        for t in trials.as_array().unwrap() {
            let x = t["parameters"]["x"].as_f64().unwrap();
            assert_eq!(t["metrics"]["loss"].as_f64(), Some(x * 10.0), "{t}");
        }
        let store = rt().block_on(sb.store());
        rt().block_on(async {
            use ferrotune_store::Store;
            let e = store
                .get_experiment("ferrotune", "push-sweep")
                .await
                .unwrap();
            for t in store.list_trials(e.id).await.unwrap() {
                let obs = store.observations(t.id, Some(1)).await.unwrap();
                assert_eq!(obs.len(), 4, "every report of {} arrived", t.name);
            }
        });
    }

    #[test]
    fn sdk_trials_push_their_reports_from_ray_tasks() {
        push_sweep("tasks");
    }

    #[test]
    fn sdk_trials_push_their_reports_from_ray_jobs() {
        push_sweep("jobs");
    }

    fn cpu_sweep(mode: &str) {
        let _head = lock();
        let sb = Sandbox::new();
        let code = "import time\nprint(f't_start={time.time():.3f}', flush=True)\ntime.sleep(1.0)\nprint(f't_end={time.time():.3f} loss=1', flush=True)\n";
        let file = sb.write(
            "e.yaml",
            &native(
                "two-cpus",
                "    - {name: x, parameterType: double, feasibleSpace: {min: '0', max: '1'}}",
                code,
                "  parallelTrialCount: 3\n  maxTrialCount: 3\n",
            )
            .replace(
                "    objectiveMetricName: loss\n",
                "    objectiveMetricName: loss\n    additionalMetricNames: [t_start, t_end]\n",
            )
            .replace(
                "  trialTemplate:\n",
                "  trialTemplate:\n    resources: {cpu: 2, memory: 64Mi}\n",
            ),
        );
        let out = run_ray(&sb, &file, mode);
        assert!(out.status.success(), "{}", stderr(&out));
        let trials = sb.json(&["trials", "two-cpus", "--output", "json"]);
        assert_eq!(count_status(&trials, "Succeeded"), 3, "{trials}");
        let mut spans: Vec<(f64, f64)> = trials
            .as_array()
            .unwrap()
            .iter()
            .map(|t| {
                (
                    t["metrics"]["t_start"].as_f64().unwrap(),
                    t["metrics"]["t_end"].as_f64().unwrap(),
                )
            })
            .collect();
        spans.sort_by(|a, b| a.0.total_cmp(&b.0));
        for w in spans.windows(2) {
            assert!(
                w[1].0 >= w[0].1,
                "two trials of 2 CPUs ran at once on a 2-CPU head: {spans:?}"
            );
        }
    }

    #[test]
    fn ray_tasks_asking_for_every_cpu_never_overlap() {
        cpu_sweep("tasks");
    }

    #[test]
    fn ray_jobs_asking_for_every_cpu_never_overlap() {
        cpu_sweep("jobs");
    }

    const CURVE: &str = r#"
import json, os, time
x = float(json.loads(os.environ["FERROTUNE_PARAMS"])["x"])
for step in range(1, 21):
    print(f"step={step} loss={10 * x + 2.0 / step:.5f}", flush=True)
    time.sleep(0.2)
open(os.path.join(os.environ["FERROTUNE_TRIAL_DIR"], "done"), "w").write("finished")
"#;

    fn median_sweep(mode: &str) {
        let _head = lock();
        let sb = Sandbox::new();
        let file = sb.write(
            "e.yaml",
            &native(
                "ray-median",
                "    - {name: x, parameterType: discrete, feasibleSpace: {list: ['0.1', '0.2', '0.9', '0.8', '0.15']}}",
                CURVE,
                "  parallelTrialCount: 2\n  maxTrialCount: 5\n  earlyStopping:\n    algorithmName: medianstop\n    algorithmSettings:\n    - {name: min_trials_required, value: '2'}\n    - {name: start_step, value: '3'}\n",
            )
            .replace("algorithmName: random", "algorithmName: grid"),
        );
        let out = run_ray(&sb, &file, mode);
        assert!(out.status.success(), "{}", stderr(&out));
        let trials = sb.json(&["trials", "ray-median", "--output", "json"]);
        let status = |x: f64| -> String {
            trials
                .as_array()
                .unwrap()
                .iter()
                .find(|t| (t["parameters"]["x"].as_f64().unwrap() - x).abs() < 1e-9)
                .map(|t| t["status"].as_str().unwrap().to_string())
                .unwrap()
        };
        assert_eq!(status(0.1), "Succeeded", "{trials}");
        assert_eq!(status(0.2), "Succeeded", "{trials}");
        assert_eq!(status(0.9), "EarlyStopped", "{trials}");
        assert_eq!(status(0.8), "EarlyStopped", "{trials}");
        // The fifth got a slot a stopped trial freed, and ran to its end.
        assert_eq!(status(0.15), "Succeeded", "{trials}");
        for t in trials.as_array().unwrap() {
            let name = t["name"].as_str().unwrap();
            let done = sb
                .path(&format!(
                    "ferrotune-runs/ferrotune/ray-median/trials/{name}/done"
                ))
                .exists();
            assert_eq!(done, t["status"] == "Succeeded", "{t}");
        }
        let api = JobApi::new(&ray_url());
        if mode == "tasks" {
            return;
        }
        for (trial, _, job) in jobs(&api, &sb, "ray-median") {
            let done = sb
                .path(&format!(
                    "ferrotune-runs/ferrotune/ray-median/trials/{trial}/done"
                ))
                .exists();
            let stopped = trials
                .as_array()
                .unwrap()
                .iter()
                .any(|t| t["name"] == trial.as_str() && t["status"] == "EarlyStopped");
            if stopped {
                assert_eq!(job.status, JobStatus::Stopped, "{trial}: {job:?}");
                assert!(!done, "{trial} ran to its end");
            } else {
                assert_eq!(job.status, JobStatus::Succeeded, "{trial}: {job:?}");
            }
        }
    }

    #[test]
    fn early_stopping_cancels_the_ray_task_and_frees_the_slot() {
        median_sweep("tasks");
    }

    #[test]
    fn early_stopping_stops_the_ray_job_and_frees_the_slot() {
        median_sweep("jobs");
    }

    #[test]
    fn a_job_stopped_outside_ferrotune_fails_its_trial_with_the_reason() {
        let _head = lock();
        let sb = Sandbox::new();
        let file = x_experiment(
            &sb,
            "outside-stop",
            "import time\nprint('loss=1', flush=True)\ntime.sleep(60)\n",
            "  parallelTrialCount: 1\n  maxTrialCount: 1\n",
        );
        let mut child = spawn_ray(&sb, &file, "jobs");
        let api = JobApi::new(&ray_url());
        let id = running_job(&api, &sb, "outside-stop");
        assert!(rt().block_on(api.stop(&id)).unwrap());
        let status = child.wait().unwrap();
        let trials = stored_trials(&sb, "outside-stop");
        assert_eq!(trials.len(), 1);
        assert_eq!(trials[0].status.as_str(), "Failed", "{status:?}");
        assert!(
            trials[0].message.contains("stopped outside ferrotune")
                && trials[0].message.contains(&id),
            "{}",
            trials[0].message
        );
    }

    #[test]
    fn a_trial_whose_job_fails_runs_again_when_the_experiment_allows_retries() {
        let _head = lock();
        let sb = Sandbox::new();
        // The first attempt waits to be killed; the second reports and ends at once.
        let code = "import os, time\n\
                    mark = os.path.join(os.environ['FERROTUNE_TRIAL_DIR'], 'first-attempt')\n\
                    if not os.path.exists(mark):\n\
                    \x20   open(mark, 'w').close()\n\
                    \x20   print('loss=1', flush=True)\n\
                    \x20   time.sleep(60)\n\
                    print('loss=0.5', flush=True)\n";
        let file = x_experiment(
            &sb,
            "retried",
            code,
            "  parallelTrialCount: 1\n  maxTrialCount: 1\n  maxTrialRetries: 1\n",
        );
        let mut child = spawn_ray(&sb, &file, "jobs");
        let api = JobApi::new(&ray_url());
        let id = running_job(&api, &sb, "retried");
        // As a node's death would, from outside: the attempt fails, and the trial runs again.
        assert!(rt().block_on(api.stop(&id)).unwrap());
        let status = child.wait().unwrap();
        assert!(status.success(), "{status:?}");
        let trials = stored_trials(&sb, "retried");
        assert_eq!(trials.len(), 1);
        let t = &trials[0];
        assert_eq!(
            (t.status.as_str(), t.attempt),
            ("Succeeded", 2),
            "{}",
            t.message
        );
        // One job an attempt: the first stopped, the second done.
        let mut all: Vec<JobStatus> = jobs(&api, &sb, "retried")
            .into_iter()
            .map(|(_, _, j)| j.status)
            .collect();
        all.sort_by_key(|s| format!("{s:?}"));
        assert_eq!(all, vec![JobStatus::Stopped, JobStatus::Succeeded]);
    }

    #[test]
    fn a_controller_killed_mid_sweep_resumes_and_stops_its_orphaned_jobs() {
        use nix::sys::signal::{Signal, kill};
        use nix::unistd::Pid;
        let _head = lock();
        let sb = Sandbox::new();
        let file = x_experiment(
            &sb,
            "ray-crash",
            "import os, time\nprint(f'started attempt={os.environ[\"FERROTUNE_ATTEMPT\"]}', flush=True)\nfor s in range(8):\n    print(f'step={s} loss={s}', flush=True)\n    time.sleep(0.5)\n",
            "  parallelTrialCount: 2\n  maxTrialCount: 4\n",
        );
        let mut child = spawn_ray(&sb, &file, "jobs");
        let api = JobApi::new(&ray_url());
        wait_until("two running jobs", Duration::from_secs(60), || {
            std::fs::canonicalize(sb.path("ferrotune-runs/ferrotune/ray-crash")).is_ok()
                && jobs(&api, &sb, "ray-crash")
                    .iter()
                    .filter(|(_, _, j)| j.status == JobStatus::Running)
                    .count()
                    == 2
        });
        kill(Pid::from_raw(child.id() as i32), Signal::SIGKILL).unwrap();
        child.wait().unwrap();
        // Nothing ends a Ray job when its controller dies: they still run.
        let orphans: Vec<(String, String, JobInfo)> = jobs(&api, &sb, "ray-crash")
            .into_iter()
            .filter(|(_, _, j)| j.status == JobStatus::Running)
            .collect();
        assert_eq!(orphans.len(), 2, "{orphans:?}");

        // No runner option: the run folder says it ran on Ray.
        let out = sb.run(&["resume", "ray-crash", "--grace", "2"]);
        assert!(out.status.success(), "{}", stderr(&out));
        let trials = sb.json(&["trials", "ray-crash", "--output", "json"]);
        assert_eq!(count_status(&trials, "Succeeded"), 4, "{trials}");
        assert_eq!(trials.as_array().unwrap().len(), 4, "{trials}");
        let now = jobs(&api, &sb, "ray-crash");
        for (trial, attempt, _) in &orphans {
            let old = now
                .iter()
                .find(|(t, a, _)| t == trial && a == attempt)
                .unwrap();
            assert_eq!(old.2.status, JobStatus::Stopped, "{trial}: {:?}", old.2);
            let rerun = now.iter().find(|(t, a, _)| t == trial && a == "2");
            assert!(
                rerun.is_some_and(|r| r.2.status == JobStatus::Succeeded),
                "{trial} re-ran as attempt 2: {now:?}"
            );
        }
        for t in stored_trials(&sb, "ray-crash") {
            let interrupted = orphans.iter().any(|(n, _, _)| *n == t.name);
            assert_eq!(t.attempt, if interrupted { 2 } else { 1 }, "{}", t.name);
        }
    }

    /// Trials that print their process id and attempt, then report 8 steps in 4 s.
    const SLOW: &str = "import os, time\nprint(f'pid={os.getpid()} attempt={os.environ[\"FERROTUNE_ATTEMPT\"]}', flush=True)\nfor s in range(8):\n    print(f'step={s} loss={s}', flush=True)\n    time.sleep(0.5)\n";

    /// The process ids the running trials of experiment `name` printed (SLOW).
    fn trial_pids(sb: &Sandbox, name: &str) -> Vec<(String, i32)> {
        let Ok(dir) =
            std::fs::read_dir(sb.path(&format!("ferrotune-runs/ferrotune/{name}/trials")))
        else {
            return Vec::new();
        };
        dir.filter_map(|e| {
            let e = e.ok()?;
            let log = std::fs::read_to_string(e.path().join("output.log")).ok()?;
            let pid = log.lines().find_map(|l| l.strip_prefix("pid="))?;
            let pid = pid.split_whitespace().next()?.parse().ok()?;
            Some((e.file_name().to_string_lossy().to_string(), pid))
        })
        .collect()
    }

    /// Starts a sweep of SLOW trials (`parallel` at once, `max` in all) on Ray in the
    /// background (`mode` None: the default mode) and waits until `parallel` of them run;
    /// the sandbox, the `ferrotune run` process and the running trials' (name, pid).
    fn slow_sweep(
        name: &str,
        parallel: u32,
        max: u32,
        mode: Option<&str>,
    ) -> (Sandbox, std::process::Child, Vec<(String, i32)>) {
        let sb = Sandbox::new();
        let file = x_experiment(
            &sb,
            name,
            SLOW,
            &format!("  parallelTrialCount: {parallel}\n  maxTrialCount: {max}\n"),
        );
        let url = ray_url();
        let mut args = vec![
            "run",
            file.to_str().unwrap(),
            "--runner",
            "ray",
            "--ray-address",
            &url,
        ];
        if let Some(m) = mode {
            args.extend(["--ray-mode", m]);
        }
        let child = sb
            .cmd(&args)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        let mut running = Vec::new();
        wait_until("the trials to run", Duration::from_secs(60), || {
            running = trial_pids(&sb, name);
            running.len() == parallel as usize
        });
        (sb, child, running)
    }

    fn alive(pid: i32) -> bool {
        // A zombie is not alive: nothing of the trial runs any more.
        std::fs::read_to_string(format!("/proc/{pid}/stat"))
            .ok()
            .and_then(|s| s.rsplit(')').next().map(|r| r.trim_start().to_string()))
            .is_some_and(|r| !r.starts_with('Z'))
    }

    #[test]
    fn a_trial_process_killed_outside_ferrotune_fails_its_trial_with_the_signal() {
        let _head = lock();
        let (sb, mut child, running) = slow_sweep("task-killed", 1, 1, Some("tasks"));
        let pid = running[0].1;
        nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(pid),
            nix::sys::signal::Signal::SIGKILL,
        )
        .unwrap();
        let status = child.wait().unwrap();
        let trials = stored_trials(&sb, "task-killed");
        assert_eq!(trials.len(), 1);
        assert_eq!(trials[0].status.as_str(), "Failed", "{status:?}");
        assert!(
            trials[0].message.contains("killed by signal 9"),
            "{}",
            trials[0].message
        );
        // The driver ended with the experiment.
        let api = JobApi::new(&ray_url());
        let d = drivers(&api, &sb, "task-killed");
        assert_eq!(d.len(), 1);
        assert!(d[0].status.is_terminal(), "{d:?}");
    }

    #[test]
    fn a_driver_that_dies_has_its_running_trials_run_again_counted_once() {
        let _head = lock();
        // No --ray-mode: tasks is the default.
        let (sb, mut child, running) = slow_sweep("driver-dies", 2, 4, None);
        let api = JobApi::new(&ray_url());
        let driver = drivers(&api, &sb, "driver-dies");
        assert_eq!(driver.len(), 1, "{driver:?}");
        let id = driver[0].submission_id.clone().unwrap();
        // As the driver's node dying would: Ray ends the driver and every task it owns.
        assert!(rt().block_on(api.stop(&id)).unwrap());
        let status = child.wait().unwrap();
        assert!(status.success(), "{status:?}");
        let trials = stored_trials(&sb, "driver-dies");
        assert_eq!(trials.len(), 4, "no trial added or lost");
        for t in &trials {
            assert_eq!(t.status.as_str(), "Succeeded", "{}: {}", t.name, t.message);
            let interrupted = running.iter().any(|(n, _)| *n == t.name);
            assert_eq!(t.attempt, if interrupted { 2 } else { 1 }, "{}", t.name);
        }
        for (_, pid) in &running {
            assert!(!alive(*pid), "the first attempt's process {pid} still runs");
        }
        let all = drivers(&api, &sb, "driver-dies");
        assert_eq!(all.len(), 2, "a new driver took over: {all:?}");
        assert!(all.iter().all(|j| j.status.is_terminal()), "{all:?}");
    }

    /// Kills the `ferrotune run` of a sweep of SLOW trials on Ray (tasks mode) while two
    /// trials run, checks that its driver outlives it, and resumes; the sandbox, the running
    /// trials' (name, pid) and the driver jobs before the resume.
    fn killed_and_resumed(
        name: &str,
        forget_driver: bool,
    ) -> (Sandbox, Vec<(String, i32)>, Vec<JobInfo>) {
        use nix::sys::signal::{Signal, kill};
        use nix::unistd::Pid;
        let (sb, mut child, running) = slow_sweep(name, 2, 4, Some("tasks"));
        kill(Pid::from_raw(child.id() as i32), Signal::SIGKILL).unwrap();
        child.wait().unwrap();
        let api = JobApi::new(&ray_url());
        let old = drivers(&api, &sb, name);
        assert_eq!(old.len(), 1, "{old:?}");
        assert_eq!(
            old[0].status,
            JobStatus::Running,
            "the driver outlives its controller"
        );
        if forget_driver {
            std::fs::remove_file(
                sb.path(&format!("ferrotune-runs/ferrotune/{name}/ray-driver.json")),
            )
            .unwrap();
        }
        // No runner option: the run folder says it ran on Ray, in tasks mode.
        let out = sb.run(&["resume", name, "--grace", "2"]);
        assert!(out.status.success(), "{}", stderr(&out));
        assert_eq!(stored_trials(&sb, name).len(), 4);
        (sb, running, old)
    }

    #[test]
    fn a_controller_killed_mid_sweep_takes_its_running_trials_back_on_resume() {
        let _head = lock();
        let (sb, running, old) = killed_and_resumed("driver-back", false);
        for t in stored_trials(&sb, "driver-back") {
            // Every trial ran once: the two that ran through the crash were taken back.
            assert_eq!(
                (t.status.as_str(), t.attempt),
                ("Succeeded", 1),
                "{}: {}",
                t.name,
                t.message
            );
            let store = rt().block_on(sb.store());
            let steps: Vec<i64> = rt().block_on(async {
                use ferrotune_store::Store;
                store
                    .observations(t.id, Some(1))
                    .await
                    .unwrap()
                    .into_iter()
                    .map(|(_, o)| o.step)
                    .collect()
            });
            let log = std::fs::read_to_string(sb.path(&format!(
                "ferrotune-runs/ferrotune/driver-back/trials/{}/output.log",
                t.name
            )))
            .unwrap_or_default();
            assert_eq!(
                steps,
                (0..8).collect::<Vec<i64>>(),
                "{}: every step once; its log:\n{log}",
                t.name
            );
        }
        for (name, pid) in &running {
            let log = std::fs::read_to_string(sb.path(&format!(
                "ferrotune-runs/ferrotune/driver-back/trials/{name}/output.log"
            )))
            .unwrap();
            assert_eq!(log.matches("pid=").count(), 1, "{name} started once: {log}");
            assert!(log.contains(&format!("pid={pid}")), "{log}");
        }
        let api = JobApi::new(&ray_url());
        let all = drivers(&api, &sb, "driver-back");
        assert_eq!(
            all.len(),
            1,
            "the driver was taken back, not replaced: {all:?}"
        );
        assert_eq!(all[0].submission_id, old[0].submission_id);
        assert!(all[0].status.is_terminal(), "{all:?}");
    }

    #[test]
    fn a_driver_that_cannot_be_taken_back_is_stopped_and_its_trials_run_again() {
        let _head = lock();
        let (sb, running, old) = killed_and_resumed("driver-crash", true);
        for t in stored_trials(&sb, "driver-crash") {
            assert_eq!(t.status.as_str(), "Succeeded", "{}: {}", t.name, t.message);
            let interrupted = running.iter().any(|(n, _)| *n == t.name);
            assert_eq!(t.attempt, if interrupted { 2 } else { 1 }, "{}", t.name);
        }
        for (_, pid) in &running {
            assert!(
                !alive(*pid),
                "the orphaned attempt's process {pid} still runs"
            );
        }
        let api = JobApi::new(&ray_url());
        let all = drivers(&api, &sb, "driver-crash");
        assert_eq!(all.len(), 2, "{all:?}");
        let first = all
            .iter()
            .find(|j| j.submission_id == old[0].submission_id)
            .unwrap();
        assert_eq!(first.status, JobStatus::Stopped, "{first:?}");
    }

    #[test]
    fn a_server_with_tokens_runs_submitted_trials_as_ray_tasks() {
        let _head = lock();
        let sb = Sandbox::new();
        let admin = "0123456789abcdef0123";
        let tokens = sb.write(
            "tokens.yaml",
            &format!("tokens:\n  - {{token: {admin}, admin: true}}\n"),
        );
        let (mut server, addr) = start_server_with(
            &sb,
            &[
                "--tokens",
                tokens.to_str().unwrap(),
                "--runner",
                "ray",
                "--ray-address",
                &ray_url(),
            ],
        );
        let file = x_experiment(
            &sb,
            "served-tasks",
            "import ferrotune\nx = ferrotune.params()['x']\nfor s in range(3):\n    ferrotune.report(step=s, loss=x + s)\nprint(f'stdout-too step=9', flush=True)\n",
            "  parallelTrialCount: 2\n  maxTrialCount: 3\n  metricsCollectorSpec:\n    collector: {kind: Push}\n",
        );
        let out = sb.run(&[
            "submit",
            file.to_str().unwrap(),
            "--server",
            &addr,
            "--token",
            admin,
        ]);
        assert!(out.status.success(), "{}", stderr(&out));
        let deadline = Instant::now() + Duration::from_secs(120);
        let trials = loop {
            let t = sb.json(&[
                "trials",
                "served-tasks",
                "--server",
                &addr,
                "--token",
                admin,
                "--output",
                "json",
            ]);
            let n = t.as_array().map(Vec::len).unwrap_or(0);
            if n == 3 && count_status(&t, "Succeeded") == 3 {
                break t;
            }
            assert!(Instant::now() < deadline, "not done: {t}");
            std::thread::sleep(Duration::from_millis(200));
        };
        for t in trials.as_array().unwrap() {
            let x = t["parameters"]["x"].as_f64().unwrap();
            assert_eq!(t["metrics"]["loss"].as_f64(), Some(x), "{t}");
        }
        // The experiment's one driver connected back with its own token (the server wants
        // tokens), and was shut down with the experiment.
        let api = JobApi::new(&ray_url());
        let run_dir = sb.path("runs/ferrotune/served-tasks");
        let mine: Vec<JobInfo> = jobs_in(&api, &run_dir)
            .into_iter()
            .map(|(_, _, j)| j)
            .collect();
        assert_eq!(mine.len(), 1, "{mine:?}");
        wait_until("the driver to end", Duration::from_secs(30), || {
            rt().block_on(api.info(mine[0].submission_id.as_deref().unwrap()))
                .unwrap()
                .is_some_and(|j| j.status == JobStatus::Succeeded)
        });
        let log =
            std::fs::read_to_string(run_dir.join("trials/served-tasks-0001/output.log")).unwrap();
        assert!(log.contains("stdout-too"), "{log}");
        let _ = server.kill();
    }

    /// Each replica reads torch.distributed's variables; rank 0 listens on MASTER_PORT and
    /// every other rank connects and says hello, as a process group's rendezvous would.
    const GANG: &str = r#"
import os, socket, time
rank, world = int(os.environ["RANK"]), int(os.environ["WORLD_SIZE"])
addr, port = os.environ["MASTER_ADDR"], int(os.environ["MASTER_PORT"])
print(f"rank={rank} local_rank={os.environ['LOCAL_RANK']} world={world}", flush=True)
if rank == 0:
    srv = socket.create_server((addr, port))
    srv.settimeout(60)
    peers = set()
    while len(peers) < world - 1:
        conn, _ = srv.accept()
        peers.add(conn.recv(64).decode())
        conn.close()
    print(f"peers={len(peers)} loss={world * 0.25}", flush=True)
else:
    for _ in range(600):
        try:
            with socket.create_connection((addr, port), timeout=5) as c:
                c.sendall(f"hello from {rank}".encode())
            break
        except OSError:
            time.sleep(0.1)
    print(f"loss=99 said hello", flush=True)
"#;

    #[test]
    fn a_trial_of_two_replicas_runs_as_a_gang_with_torch_distributed_variables() {
        let _head = lock();
        let sb = Sandbox::new();
        let file = sb.write(
            "e.yaml",
            &native(
                "gang",
                "    - {name: x, parameterType: double, feasibleSpace: {min: '0', max: '1'}}",
                GANG,
                "  parallelTrialCount: 2\n  maxTrialCount: 2\n",
            )
            .replace(
                "    objectiveMetricName: loss\n",
                "    objectiveMetricName: loss\n    additionalMetricNames: [peers, world]\n",
            )
            .replace(
                "  trialTemplate:\n",
                "  trialTemplate:\n    replicas: 2\n    resources: {cpu: 1}\n",
            ),
        );
        let out = run_ray(&sb, &file, "tasks");
        assert!(out.status.success(), "{}", stderr(&out));
        let trials = sb.json(&["trials", "gang", "--output", "json"]);
        assert_eq!(count_status(&trials, "Succeeded"), 2, "{trials}");
        for t in trials.as_array().unwrap() {
            // Rank 0's metrics only: rank 1's loss=99 is in the log, not in the result.
            assert_eq!(t["metrics"]["loss"].as_f64(), Some(0.5), "{t}");
            assert_eq!(t["metrics"]["peers"].as_f64(), Some(1.0), "{t}");
            assert_eq!(t["metrics"]["world"].as_f64(), Some(2.0), "{t}");
            let name = t["name"].as_str().unwrap();
            let log = std::fs::read_to_string(sb.path(&format!(
                "ferrotune-runs/ferrotune/gang/trials/{name}/output.log"
            )))
            .unwrap();
            // One node here: the second replica is local rank 1.
            assert!(
                log.contains("[rank 1] rank=1 local_rank=1 world=2"),
                "{log}"
            );
            assert!(log.contains("rank=0 local_rank=0 world=2"), "{log}");
        }
    }

    #[test]
    fn submit_runner_ray_sends_a_local_servers_trials_to_ray_for_good() {
        let _head = lock();
        let sb = Sandbox::new();
        // The server's default is local; the submission says Ray, in jobs mode.
        let (_server, addr) = start_server(&sb);
        let file = x_experiment(
            &sb,
            "placed",
            "print('loss=0.25', flush=True)\n",
            "  parallelTrialCount: 1\n  maxTrialCount: 2\n",
        );
        let out = sb.run(&[
            "submit",
            file.to_str().unwrap(),
            "--server",
            &addr,
            "--runner",
            "ray",
            "--ray-address",
            &ray_url(),
            "--ray-mode",
            "jobs",
            "--watch",
        ]);
        assert!(out.status.success(), "{}", stderr(&out));
        let api = JobApi::new(&ray_url());
        let run_dir = sb.path("runs/ferrotune/placed");
        let mine = jobs_in(&api, &run_dir).len();
        assert_eq!(mine, 2, "one Ray job per trial");
        // The choice is the experiment's from now on: a resume goes back to Ray.
        let pinned = std::fs::read_to_string(run_dir.join("runner.json")).unwrap();
        assert!(pinned.contains("\"mode\": \"jobs\""), "{pinned}");
    }

    /// Runs a sweep of one trial whose first attempt's Ray worker is killed (as a node's
    /// death does to its workers); the trial as stored, and the first attempt's pid.
    fn worker_dies(name: &str, retries: u32) -> (ferrotune_store::TrialRecord, i32) {
        let sb = Sandbox::new();
        // The first attempt waits to be killed; a second one reports and ends.
        let code = "import os, time\nprint(f'pid={os.getpid()} worker={os.getppid()}', flush=True)\nif os.environ['FERROTUNE_ATTEMPT'] == '1':\n    time.sleep(60)\nprint('loss=0.5', flush=True)\n";
        let file = x_experiment(
            &sb,
            name,
            code,
            &format!("  parallelTrialCount: 1\n  maxTrialCount: 1\n  maxTrialRetries: {retries}\n"),
        );
        let mut child = spawn_ray(&sb, &file, "tasks");
        let log = sb.path(&format!(
            "ferrotune-runs/ferrotune/{name}/trials/{name}-0001/output.log"
        ));
        let mut line = String::new();
        wait_until("the trial to run", Duration::from_secs(60), || {
            line = std::fs::read_to_string(&log).unwrap_or_default();
            line.contains("worker=")
        });
        let field = |k: &str| -> i32 {
            line.split_whitespace()
                .find_map(|w| w.strip_prefix(k))
                .unwrap()
                .parse()
                .unwrap()
        };
        let (pid, worker) = (field("pid="), field("worker="));
        nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(worker),
            nix::sys::signal::Signal::SIGKILL,
        )
        .unwrap();
        child.wait().unwrap();
        wait_until("the trial's process to go", Duration::from_secs(10), || {
            !alive(pid)
        });
        let trials = stored_trials(&sb, name);
        assert_eq!(trials.len(), 1);
        (trials[0].clone(), pid)
    }

    #[test]
    fn a_trial_whose_ray_worker_dies_fails_with_rays_reason_and_leaves_no_process() {
        let _head = lock();
        let (t, _) = worker_dies("worker-dies", 0);
        assert_eq!((t.status.as_str(), t.attempt), ("Failed", 1));
        assert!(
            t.message.contains("the trial's Ray task failed"),
            "{}",
            t.message
        );
    }

    #[test]
    fn a_trial_whose_ray_worker_dies_runs_again_when_the_experiment_allows_retries() {
        let _head = lock();
        let (t, _) = worker_dies("worker-retried", 1);
        assert_eq!(
            (t.status.as_str(), t.attempt),
            ("Succeeded", 2),
            "{}",
            t.message
        );
    }
}
