//! `ferrotune server` running experiments: submitted with the CLI, trials reporting with the
//! Python SDK (collector Push), followed with `watch`, read back with `--server`; a server
//! killed with SIGKILL and started again finishes its experiments with no trial or report
//! lost; `ferrotune run` takes SDK reports through the same path, from a notebook's cells
//! too.

mod common;

use common::*;
use std::process::Child;

/// `modules` must be importable by the trials' python3 (scripts/test.sh installs `what`
/// into the test venv that is first on PATH).
fn require_python(modules: &str, what: &str) {
    let ok = std::process::Command::new("python3")
        .args(["-c", &format!("import {modules}")])
        .output()
        .is_ok_and(|o| o.status.success());
    assert!(
        ok,
        "this test needs {what} for python3: run ./scripts/test.sh, which installs it into its venv"
    );
}

/// The Python SDK (sdk/python).
fn require_sdk() {
    require_python("ferrotune, grpc", "the Python SDK (sdk/python)");
}

/// A trial that reports `loss` for `steps` steps through the SDK, `pause` seconds apart.
fn sdk_experiment(name: &str, max: u32, parallel: u32, steps: u32, pause: f64) -> String {
    let code = format!(
        "import ferrotune, time\n\
         p = ferrotune.params()\n\
         for s in range({steps}):\n\
         \x20   ferrotune.report(step=s, loss=(p['x'] - 0.3) ** 2 + 1.0 / (s + 1))\n\
         \x20   time.sleep({pause})\n"
    );
    native(
        name,
        "  - name: x\n    parameterType: double\n    feasibleSpace: {min: '0', max: '1'}",
        &code,
        &format!(
            "  maxTrialCount: {max}\n  parallelTrialCount: {parallel}\n  metricsCollectorSpec:\n    collector: {{kind: Push}}\n"
        ),
    )
}

fn sigterm(child: &mut Child) {
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(child.id() as i32),
        nix::sys::signal::Signal::SIGTERM,
    )
    .unwrap();
    assert!(child.wait().unwrap().success());
}

/// Reports per trial in its final attempt, from the database.
async fn reports_per_trial(
    sb: &Sandbox,
    db: &str,
    experiment: &str,
) -> Vec<(String, String, i64, usize)> {
    use ferrotune_store::Store;
    let store = ferrotune_store::SqliteStore::open(&sb.path(db))
        .await
        .unwrap();
    // The one experiment of that name, whatever its namespace.
    let mut found = store.experiments_named(experiment).await.unwrap();
    assert_eq!(found.len(), 1, "{experiment}: {found:?}");
    let e = found.remove(0);
    let mut out = Vec::new();
    for t in store.list_trials(e.id).await.unwrap() {
        let n = store
            .observations(t.id, Some(t.attempt))
            .await
            .unwrap()
            .len();
        out.push((t.name, t.status.as_str().to_string(), t.attempt, n));
    }
    out
}

#[tokio::test]
async fn submitted_experiments_run_on_the_server_with_sdk_reports() {
    require_sdk();
    let sb = Sandbox::new();
    let file = sb.write("exp.yaml", &sdk_experiment("pushed", 4, 2, 5, 0.0));
    // A sqlite:// URL names the file as a plain path does.
    let db = format!("sqlite://{}", sb.path("server.db").display());
    let (mut server, addr) = start_server_with(&sb, &["--db", &db]);

    let out = sb.run(&[
        "submit",
        file.to_str().unwrap(),
        "--server",
        &addr,
        "--seed",
        "7",
        "--watch",
    ]);
    assert!(out.status.success(), "{}{}", stdout(&out), stderr(&out));
    let said = stdout(&out);
    assert!(
        said.contains("experiment \"pushed\" submitted to namespace \"ferrotune\""),
        "{said}"
    );
    assert!(said.contains("experiment pushed Succeeded"), "{said}");
    // watch showed each trial starting and finishing.
    let log = stderr(&out);
    for i in 1..=4 {
        assert!(
            log.contains(&format!("trial pushed-000{i} started")),
            "{log}"
        );
        assert!(
            log.contains(&format!("trial pushed-000{i} Succeeded loss=")),
            "{log}"
        );
    }

    // The same views as locally, through the server.
    let trials = sb.json(&["trials", "pushed", "--server", &addr, "--output", "json"]);
    assert_eq!(count_status(&trials, "Succeeded"), 4, "{trials}");
    for t in trials.as_array().unwrap() {
        let x = t["parameters"]["x"].as_f64().unwrap();
        let loss = t["metrics"]["loss"].as_f64().unwrap();
        // The objective is the last report (minimize: the strategy is min, which is the last).
        let want = (x - 0.3_f64).powi(2) + 1.0 / 5.0;
        assert!((loss - want).abs() < 1e-9, "{t}");
    }
    let listed = sb.json(&["list", "--server", &addr, "--output", "json"]);
    assert_eq!(listed[0]["name"], "pushed");
    assert_eq!(listed[0]["namespace"], "ferrotune");
    let missing = sb.run(&["show", "nope", "--server", &addr]);
    assert_eq!(missing.status.code(), Some(2));
    assert!(
        stderr(&missing).contains("no experiment \"nope\""),
        "{}",
        stderr(&missing)
    );
    // A taken name is refused.
    let again = sb.run(&["submit", file.to_str().unwrap(), "--server", &addr]);
    assert!(!again.status.success());
    assert!(
        stderr(&again).contains("already exists"),
        "{}",
        stderr(&again)
    );
    sigterm(&mut server);

    // Every report of every trial is in the database.
    for (name, status, attempt, n) in reports_per_trial(&sb, "server.db", "pushed").await {
        assert_eq!((status.as_str(), attempt, n), ("Succeeded", 1, 5), "{name}");
    }
}

#[tokio::test]
async fn a_server_killed_with_sigkill_finishes_its_experiments_after_a_restart() {
    require_sdk();
    let sb = Sandbox::new();
    // 6 trials of about 2 s, two at a time.
    let file = sb.write("exp.yaml", &sdk_experiment("survivor", 6, 2, 20, 0.1));
    let (mut server, addr) = start_server(&sb);
    let out = sb.run(&[
        "submit",
        file.to_str().unwrap(),
        "--server",
        &addr,
        "--seed",
        "3",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));

    // Kill it once two trials have finished and two more run.
    wait_for(&sb, &addr, "survivor", |t| {
        count_status(t, "Succeeded") >= 2 && count_status(t, "Running") >= 1
    });
    let before: Vec<(String, String, i64, usize)> =
        reports_per_trial(&sb, "ferrotune.db", "survivor").await;
    server.kill().unwrap();
    server.wait().unwrap();

    // A new server on the same database resumes it by itself.
    let (mut server, addr) = start_server(&sb);
    let out = sb.run(&["watch", "survivor", "--server", &addr]);
    assert!(out.status.success(), "{}{}", stdout(&out), stderr(&out));
    assert!(
        stdout(&out).contains("experiment survivor Succeeded"),
        "{}",
        stdout(&out)
    );
    sigterm(&mut server);

    let after = reports_per_trial(&sb, "ferrotune.db", "survivor").await;
    // Exactly maxTrialCount trials, all succeeded with all of their reports.
    assert_eq!(after.len(), 6, "{after:?}");
    let names: Vec<&str> = after.iter().map(|t| t.0.as_str()).collect();
    assert_eq!(
        names,
        [
            "survivor-0001",
            "survivor-0002",
            "survivor-0003",
            "survivor-0004",
            "survivor-0005",
            "survivor-0006"
        ]
    );
    for (name, status, _, n) in &after {
        assert_eq!(
            (status.as_str(), *n),
            ("Succeeded", 20),
            "{name}: {after:?}"
        );
    }
    // Finished trials stayed as they were; the ones that were running ran again.
    for (name, status, attempt, n) in &before {
        let now = after.iter().find(|t| &t.0 == name).unwrap();
        match status.as_str() {
            "Succeeded" => assert_eq!((now.2, now.3), (*attempt, *n), "{name}"),
            "Running" => assert_eq!(now.2, attempt + 1, "{name} re-ran as a new attempt"),
            _ => {}
        }
    }
}

#[tokio::test]
async fn local_runs_take_sdk_reports_through_the_same_path() {
    require_sdk();
    let sb = Sandbox::new();
    let file = sb.write("exp.yaml", &sdk_experiment("local-push", 3, 3, 4, 0.0));
    let out = sb.run(&["run", file.to_str().unwrap(), "--seed", "1"]);
    assert!(out.status.success(), "{}{}", stdout(&out), stderr(&out));
    for (name, status, attempt, n) in reports_per_trial(&sb, "ferrotune.db", "local-push").await {
        assert_eq!((status.as_str(), attempt, n), ("Succeeded", 1, 4), "{name}");
    }
}

/// Runs the notebook named by its argument in a Jupyter kernel (nbclient and ipykernel, as
/// papermill or `jupyter execute` would), lets the kernel idle for two seconds as a notebook
/// does between cells, then kills it with SIGKILL: nothing at exit gets to send a report.
const NOTEBOOK_RUNNER: &str = r#"
import os, signal, sys, time
import nbformat
from nbclient import NotebookClient

nb = nbformat.read(sys.argv[1], as_version=4)
nb.cells.append(nbformat.v4.new_code_cell("import os\nprint(os.getpid())"))
client = NotebookClient(nb, kernel_name="python3", timeout=120)
with client.setup_kernel():
    for index, cell in enumerate(nb.cells):
        client.execute_cell(cell, index)
    pid = int(nb.cells[-1].outputs[0]["text"])
    time.sleep(2.0)
    os.kill(pid, signal.SIGKILL)
    print(f"kernel {pid} killed", flush=True)
    os._exit(0)
"#;

/// A notebook whose cells read the trial's parameters and report five steps with the SDK.
const NOTEBOOK: &str = r#"{
 "nbformat": 4, "nbformat_minor": 5, "metadata": {},
 "cells": [
  {"cell_type": "code", "id": "params", "metadata": {}, "execution_count": null, "outputs": [],
   "source": "import ferrotune\np = ferrotune.params(defaults={'x': 0.5})\nx = float(p['x'])"},
  {"cell_type": "code", "id": "train", "metadata": {}, "execution_count": null, "outputs": [],
   "source": "for step in range(5):\n    ferrotune.report(step=step, loss=(x - 0.3) ** 2 + 1.0 / (step + 1))"}
 ]
}"#;

#[tokio::test]
async fn a_notebooks_cells_report_with_the_sdk_while_its_kernel_lives() {
    require_sdk();
    require_python(
        "nbclient, nbformat, ipykernel",
        "a Jupyter kernel (nbclient, ipykernel)",
    );
    let sb = Sandbox::new();
    sb.write("run_notebook.py", NOTEBOOK_RUNNER);
    sb.write("trial.ipynb", NOTEBOOK);
    let file = sb.write(
        "exp.yaml",
        "apiVersion: ferrotune.io/v1alpha1\nkind: Experiment\n\
         metadata: {name: notebook, namespace: notebooks}\n\
         spec:\n  objective: {type: minimize, objectiveMetricName: loss}\n\
         \x20 algorithm: {algorithmName: random}\n\
         \x20 metricsCollectorSpec: {collector: {kind: Push}}\n\
         \x20 parallelTrialCount: 2\n  maxTrialCount: 2\n  parameters:\n\
         \x20   - {name: x, parameterType: double, feasibleSpace: {min: '0', max: '1'}}\n\
         \x20 trialTemplate:\n    command: [python3, run_notebook.py, trial.ipynb]\n\
         \x20   workingDir: .\n    timeout: 2m\n",
    );
    let out = sb.run(&["run", file.to_str().unwrap()]);
    assert!(out.status.success(), "{}{}", stdout(&out), stderr(&out));
    // Each trial's five reports arrived while its kernel idled, before the SIGKILL.
    for (name, status, attempt, n) in reports_per_trial(&sb, "ferrotune.db", "notebook").await {
        assert_eq!((status.as_str(), attempt, n), ("Succeeded", 1, 5), "{name}");
        let log = std::fs::read_to_string(sb.path(&format!(
            "ferrotune-runs/notebooks/notebook/trials/{name}/output.log"
        )))
        .unwrap();
        assert!(log.contains("killed"), "{name}: {log}");
    }
}

#[tokio::test]
async fn run_serves_reports_on_the_address_it_is_told_and_tells_trials_the_advertised_one() {
    require_sdk();
    let sb = Sandbox::new();
    // Each trial notes the endpoint it was given, then reports through it.
    let notes = sb.path("endpoints");
    std::fs::create_dir_all(&notes).unwrap();
    let code = format!(
        "import ferrotune, os\n\
         open(os.path.join({notes:?}, os.environ['FERROTUNE_TRIAL']), 'w').write(os.environ['FERROTUNE_ENDPOINT'])\n\
         x = ferrotune.params()['x']\n\
         for s in range(5):\n\
         \x20   ferrotune.report(step=s, loss=x + s)\n",
        notes = notes.display().to_string()
    );
    let doc = native(
        "everywhere",
        "  - name: x\n    parameterType: double\n    feasibleSpace: {min: '0', max: '1'}",
        &code,
        "  maxTrialCount: 3\n  parallelTrialCount: 3\n  metricsCollectorSpec:\n    collector: {kind: Push}\n",
    );
    let file = sb.write("exp.yaml", &doc);
    // Every interface, and a name for this machine that is not the address it listens on.
    let out = sb.run(&[
        "run",
        file.to_str().unwrap(),
        "--reports-listen",
        "0.0.0.0:0",
        "--advertise",
        "localhost",
    ]);
    assert!(out.status.success(), "{}{}", stdout(&out), stderr(&out));
    let mut seen = 0;
    for entry in std::fs::read_dir(&notes).unwrap() {
        let endpoint = std::fs::read_to_string(entry.unwrap().path()).unwrap();
        let port = endpoint
            .strip_prefix("localhost:")
            .unwrap_or_else(|| panic!("{endpoint}"));
        assert!(port.parse::<u16>().is_ok_and(|p| p > 0), "{endpoint}");
        seen += 1;
    }
    assert_eq!(seen, 3);
    for (name, status, _, n) in reports_per_trial(&sb, "ferrotune.db", "everywhere").await {
        assert_eq!((status.as_str(), n), ("Succeeded", 5), "{name}");
    }
    // An address that is not one is refused before anything runs, naming the option.
    let out = sb.run(&[
        "run",
        file.to_str().unwrap(),
        "--name",
        "nowhere",
        "--advertise",
        "host:http",
    ]);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("--advertise"), "{}", stderr(&out));
    assert!(!sb.run(&["show", "nowhere"]).status.success());
}

#[tokio::test]
async fn trials_stop_themselves_when_the_rule_gives_up() {
    require_sdk();
    let sb = Sandbox::new();
    // One trial at a time, so the rule's decisions follow from the seed alone; each trial
    // reports a constant loss and asks should_stop() after every report.
    let code = "import ferrotune, sys, time\n\
                x = ferrotune.params()['x']\n\
                for s in range(60):\n\
                \x20   ferrotune.report(step=s, loss=x)\n\
                \x20   if ferrotune.should_stop():\n\
                \x20       print('stopped myself at step', s, flush=True)\n\
                \x20       sys.exit(0)\n\
                \x20   time.sleep(0.02)\n";
    let doc = native(
        "polite",
        "  - name: x\n    parameterType: double\n    feasibleSpace: {min: '0', max: '1'}",
        code,
        "  maxTrialCount: 8\n  parallelTrialCount: 1\n  metricsCollectorSpec:\n    collector: {kind: Push}\n  earlyStopping:\n    algorithmName: medianstop\n    algorithmSettings:\n      - {name: min_trials_required, value: '2'}\n      - {name: start_step, value: '2'}\n",
    );
    let file = sb.write("exp.yaml", &doc);
    let out = sb.run(&[
        "run",
        file.to_str().unwrap(),
        "--seed",
        "5",
        "--run-dir",
        "runs",
    ]);
    assert!(out.status.success(), "{}{}", stdout(&out), stderr(&out));
    let trials = sb.json(&["trials", "polite", "--output", "json"]);
    let stopped: Vec<&serde_json::Value> = trials
        .as_array()
        .unwrap()
        .iter()
        .filter(|t| t["status"] == "EarlyStopped")
        .collect();
    assert!(!stopped.is_empty(), "the rule stopped nothing: {trials}");
    for t in stopped {
        let name = t["name"].as_str().unwrap();
        let log =
            std::fs::read_to_string(sb.path(&format!("runs/trials/{name}/output.log"))).unwrap();
        // It ended by itself, well before its 60 steps, not by SIGTERM.
        assert!(log.contains("stopped myself at step"), "{name}: {log}");
    }
}

#[tokio::test]
async fn the_sdk_example_runs() {
    require_sdk();
    let sb = Sandbox::new();
    let example = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../examples/sdk/experiment.yaml"
    );
    let out = sb.run(&["run", example, "--run-dir", "runs"]);
    assert!(out.status.success(), "{}{}", stdout(&out), stderr(&out));
    let trials = sb.json(&["trials", "sdk", "--output", "json"]);
    let n = trials.as_array().unwrap().len();
    assert_eq!(n, 15, "{trials}");
    assert_eq!(
        count_status(&trials, "Succeeded") + count_status(&trials, "EarlyStopped"),
        15,
        "{trials}"
    );
    for (name, _, _, reports) in reports_per_trial(&sb, "ferrotune.db", "sdk").await {
        // loss and accuracy per epoch, up to 20 epochs.
        assert!((2..=40).contains(&reports), "{name}: {reports}");
    }
}

/// Named like the store's PostgreSQL tests, so that scripts/test.sh skips them together (and
/// loudly) on a machine without PostgreSQL outside CI.
mod postgres_store {
    use super::*;
    use ferrotune_store::Store;

    #[tokio::test]
    async fn a_server_on_postgresql_runs_experiments_and_resumes_them() {
        require_sdk();
        let url = std::env::var("FERROTUNE_TEST_POSTGRES").unwrap_or_else(|_| {
            panic!(
                "FERROTUNE_TEST_POSTGRES is not set: run ./scripts/test.sh, which finds PostgreSQL"
            )
        });
        // A fresh schema, so that names never collide with another run's.
        let schema = format!("ferrotune_cli_{}", std::process::id());
        let store = ferrotune_store::PostgresStore::open_in_schema(&url, &schema)
            .await
            .unwrap();
        let sep = if url.contains('?') { '&' } else { '?' };
        let db = format!("{url}{sep}options=-c%20search_path%3D{schema}");
        let sb = Sandbox::new();
        let file = sb.write("exp.yaml", &sdk_experiment("pg", 4, 2, 10, 0.1));
        let start = |sb: &Sandbox| start_server_with(sb, &["--db", &db]);
        let (mut server, addr) = start(&sb);
        let out = sb.run(&[
            "submit",
            file.to_str().unwrap(),
            "--server",
            &addr,
            "--seed",
            "2",
        ]);
        assert!(out.status.success(), "{}", stderr(&out));
        wait_for(&sb, &addr, "pg", |t| count_status(t, "Running") >= 1);
        server.kill().unwrap();
        server.wait().unwrap();
        let (mut server, addr) = start(&sb);
        let out = sb.run(&["watch", "pg", "--server", &addr]);
        assert!(out.status.success(), "{}{}", stdout(&out), stderr(&out));
        sigterm(&mut server);
        let e = store.get_experiment("ferrotune", "pg").await.unwrap();
        let trials = store.list_trials(e.id).await.unwrap();
        assert_eq!(trials.len(), 4);
        for t in &trials {
            let n = store
                .observations(t.id, Some(t.attempt))
                .await
                .unwrap()
                .len();
            assert_eq!((t.status.as_str(), n), ("Succeeded", 10), "{}", t.name);
        }
        // Leave nothing behind.
        use sqlx::Connection;
        let mut conn = sqlx::PgConnection::connect(&url).await.unwrap();
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "DROP SCHEMA \"{schema}\" CASCADE"
        )))
        .execute(&mut conn)
        .await
        .unwrap();
    }
}

#[tokio::test]
async fn over_tls_the_cli_and_sdk_trials_trust_the_servers_certificate() {
    require_sdk();
    let sb = Sandbox::new();
    let ck =
        rcgen::generate_simple_self_signed(vec!["localhost".into(), "127.0.0.1".into()]).unwrap();
    let cert = sb.write("cert.pem", &ck.cert.pem());
    let key = sb.write("key.pem", &ck.signing_key.serialize_pem());
    let (mut child, addr) = start_server_with(
        &sb,
        &[
            "--tls-cert",
            cert.to_str().unwrap(),
            "--tls-key",
            key.to_str().unwrap(),
        ],
    );
    let port = addr
        .strip_prefix("https://127.0.0.1:")
        .unwrap_or_else(|| panic!("not a TLS address: {addr}"));
    let url = format!("https://localhost:{port}");
    let file = sb.write("exp.yaml", &sdk_experiment("secure", 2, 2, 3, 0.0));
    // Trials are told the https endpoint and the certificate to trust (FERROTUNE_CA_FILE).
    let out = sb.run(&[
        "submit",
        file.to_str().unwrap(),
        "--server",
        &url,
        "--ca-file",
        cert.to_str().unwrap(),
        "--watch",
    ]);
    assert!(out.status.success(), "{}{}", stdout(&out), stderr(&out));
    // Without trusting it, the CLI refuses the server.
    let out = sb.run(&["list", "--server", &url]);
    assert!(!out.status.success(), "{}", stdout(&out));
    sigterm(&mut child);
    for (name, status, _, n) in reports_per_trial(&sb, "ferrotune.db", "secure").await {
        assert_eq!((status.as_str(), n), ("Succeeded", 3), "{name}");
    }
}

#[tokio::test]
async fn stop_resume_and_delete_through_the_server() {
    require_sdk();
    let sb = Sandbox::new();
    let file = sb.write("exp.yaml", &sdk_experiment("paused", 4, 2, 20, 0.1));
    let (mut server, addr) = start_server(&sb);
    // `submit` needs a server: FERROTUNE_SERVER names it as --server does.
    let out = sb.run(&["submit", file.to_str().unwrap()]);
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("FERROTUNE_SERVER"),
        "{}",
        stderr(&out)
    );
    let out = sb
        .cmd(&["submit", file.to_str().unwrap()])
        .env("FERROTUNE_SERVER", &addr)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    wait_for(&sb, &addr, "paused", |t| count_status(t, "Running") >= 2);
    // A running experiment cannot be deleted.
    let out = sb.run(&["delete", "paused", "--server", &addr]);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("stop it first"), "{}", stderr(&out));

    let out = sb.run(&["stop", "paused", "--server", &addr]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).contains("Stopped"), "{}", stdout(&out));
    let shown = sb.json(&["show", "paused", "--server", &addr, "--output", "json"]);
    assert_eq!(shown["status"], "Stopped", "{shown}");
    let trials = sb.json(&["trials", "paused", "--server", &addr, "--output", "json"]);
    assert_eq!(count_status(&trials, "Killed"), 2, "{trials}");

    // Resume with a higher limit, and follow it to the end.
    let out = sb.run(&["resume", "paused", "--server", &addr, "--max-trials", "6"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let out = sb.run(&["watch", "paused", "--server", &addr, "--output", "json"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let events: Vec<serde_json::Value> = stdout(&out)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let last = events
        .iter()
        .rev()
        .find(|e| e.get("experiment").is_some())
        .unwrap();
    assert_eq!(last["experiment"]["status"], "Succeeded", "{last}");
    assert!(events.iter().any(|e| e["trial"]["status"] == "Succeeded"));
    let trials = sb.json(&["trials", "paused", "--server", &addr, "--output", "json"]);
    assert_eq!(count_status(&trials, "Killed"), 2, "{trials}");
    assert_eq!(count_status(&trials, "Succeeded"), 4, "{trials}");

    let out = sb.run(&["delete", "paused", "--server", &addr]);
    assert!(out.status.success(), "{}", stderr(&out));
    let listed = sb.json(&["list", "--server", &addr, "--output", "json"]);
    assert_eq!(listed, serde_json::json!([]));
    sigterm(&mut server);
}

/// `submit --runner` is checked by the server before anything is stored: a bad mode names
/// its field, an unreachable Ray its address, and neither leaves an experiment behind.
#[tokio::test(flavor = "multi_thread")]
async fn submit_runner_choices_are_checked_before_anything_is_stored() {
    let sb = Sandbox::new();
    let file = sb.write("exp.yaml", &sdk_experiment("placed", 1, 1, 1, 0.0));
    let (_server, addr) = start_server(&sb);
    let submit = |more: &[&str]| {
        let mut args = vec!["submit", file.to_str().unwrap(), "--server", &addr];
        args.extend_from_slice(more);
        sb.run(&args)
    };
    let out = submit(&["--runner", "ray", "--ray-mode", "threads"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("runner.ray_mode: unknown Ray mode \"threads\" (known: jobs, tasks)"),
        "{}",
        stderr(&out)
    );
    let out = submit(&["--runner", "ray", "--ray-address", "http://127.0.0.1:1"]);
    assert_ne!(out.status.code(), Some(0));
    assert!(
        stderr(&out).contains("Ray at http://127.0.0.1:1"),
        "{}",
        stderr(&out)
    );
    let out = submit(&["--runner", "local", "--ray-mode", "jobs"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("runner: ray_address and ray_mode are only for kind ray"),
        "{}",
        stderr(&out)
    );
    let list = sb.json(&["list", "--server", &addr, "--output", "json"]);
    assert_eq!(list.as_array().map(Vec::len), Some(0), "{list}");
}
