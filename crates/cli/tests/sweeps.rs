//! Real sweeps of real processes through the `ferrotune` binary.

mod common;
use common::*;

const PARAMS_X: &str = "    - name: x
      parameterType: double
      feasibleSpace: {min: \"-2\", max: \"2\"}";

/// Prints `loss = x²` over three steps.
const QUADRATIC: &str = "import os, json
x = json.loads(os.environ['FERROTUNE_PARAMS'])['x']
for step in range(3):
    print(f'step={step} loss={x*x + 0.1*(2-step)}', flush=True)";

#[test]
fn a_native_sweep_runs_every_trial_and_records_its_metrics() {
    let sb = Sandbox::new();
    let f = sb.write(
        "exp.yaml",
        &native(
            "quad",
            PARAMS_X,
            QUADRATIC,
            "  parallelTrialCount: 3\n  maxTrialCount: 7\n",
        ),
    );
    let out = sb.run(&["run", f.to_str().unwrap(), "--seed", "3"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let s = stdout(&out);
    assert!(
        s.contains("experiment quad Succeeded (ExperimentMaxTrialsReached)"),
        "{s}"
    );
    assert!(s.contains("best trials:"), "{s}");

    let trials = sb.json(&["trials", "quad", "--output", "json"]);
    let arr = trials.as_array().unwrap();
    assert_eq!(arr.len(), 7);
    assert_eq!(count_status(&trials, "Succeeded"), 7);
    for t in arr {
        let x = t["parameters"]["x"].as_f64().expect("x is a number");
        assert!((-2.0..=2.0).contains(&x));
        // strategy min for a minimised objective: the last step's value, x² + 0
        let loss = t["metrics"]["loss"].as_f64().expect("loss");
        assert!((loss - x * x).abs() < 1e-9, "{t}");
        assert!(t["startTime"].is_string() && t["completionTime"].is_string());
    }
    let names: std::collections::BTreeSet<&str> =
        arr.iter().map(|t| t["name"].as_str().unwrap()).collect();
    assert_eq!(names.len(), 7);
    assert!(names.contains("quad-0001") && names.contains("quad-0007"));

    let show = sb.json(&["show", "quad", "--output", "json"]);
    assert_eq!(show["status"], "Succeeded");
    assert_eq!(show["reason"], "ExperimentMaxTrialsReached");
    let best = show["currentOptimalTrial"]["metrics"]["loss"]
        .as_f64()
        .unwrap();
    let min = arr
        .iter()
        .map(|t| t["metrics"]["loss"].as_f64().unwrap())
        .fold(f64::INFINITY, f64::min);
    assert_eq!(best, min);

    // every trial kept its log, and the observation log has every report
    let log = std::fs::read_to_string(
        sb.path("ferrotune-runs/ferrotune/quad/trials/quad-0001/output.log"),
    )
    .unwrap();
    assert_eq!(log.lines().count(), 3);

    // validate notices the name is taken; the same name again points to resume
    let v = sb.run(&["validate", f.to_str().unwrap()]);
    assert!(v.status.success());
    assert!(
        stderr(&v).contains("already holds an experiment named \"quad\""),
        "{}",
        stderr(&v)
    );
    let again = sb.run(&["run", f.to_str().unwrap()]);
    assert!(!again.status.success());
    assert!(
        stderr(&again).contains("ferrotune resume quad"),
        "{}",
        stderr(&again)
    );

    // csv and the list
    let csv = stdout(&sb.run(&["trials", "quad", "--output", "csv"]));
    assert!(
        csv.starts_with("name,status,x,loss,startTime,completionTime"),
        "{csv}"
    );
    assert_eq!(csv.lines().count(), 8);
    let list = sb.json(&["list", "--output", "json"]);
    assert_eq!(list[0]["name"], "quad");
    assert_eq!(list[0]["finished"], 7);
}

#[test]
fn same_seed_same_parameters() {
    let sb = Sandbox::new();
    let f = sb.write(
        "exp.yaml",
        &native(
            "s",
            PARAMS_X,
            QUADRATIC,
            "  parallelTrialCount: 1\n  maxTrialCount: 4\n",
        ),
    );
    for name in ["a", "b"] {
        assert!(
            sb.run(&["run", f.to_str().unwrap(), "--name", name, "--seed", "11"])
                .status
                .success()
        );
    }
    let xs = |n: &str| -> Vec<f64> {
        sb.json(&["trials", n, "--output", "json"])
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t["parameters"]["x"].as_f64().unwrap())
            .collect()
    };
    assert_eq!(xs("a"), xs("b"));
}

#[test]
fn hostile_categorical_values_arrive_verbatim_and_no_shell_runs() {
    let sb = Sandbox::new();
    let pwned = sb.path("pwned");
    let values = [
        format!("; touch {}", pwned.display()),
        "$(reboot)".to_string(),
        "`id` && echo 'x'".to_string(),
    ];
    let list = values
        .iter()
        .map(|v| serde_json::to_string(v).unwrap())
        .collect::<Vec<_>>()
        .join(", ");
    let params = format!(
        "    - name: opt\n      parameterType: categorical\n      feasibleSpace:\n        list: [{list}]"
    );
    let code = "import sys, json, os\nopen(os.environ['FERROTUNE_TRIAL_DIR'] + '/argv.json', 'w').write(json.dumps(sys.argv[1:] + [os.environ['OPT']]))\nprint('loss=1')";
    let exp = format!(
        "apiVersion: ferrotune.io/v1alpha1
kind: Experiment
metadata: {{name: hostile}}
spec:
  objective: {{type: minimize, objectiveMetricName: loss}}
  algorithm: {{algorithmName: grid}}
  parameters:
{params}
  trialTemplate:
    command: [python3, -c, {}, '${{trialParameters.opt}}', '--opt=${{trialParameters.opt}}']
    env: {{OPT: '${{trialParameters.opt}}'}}
",
        serde_json::to_string(code).unwrap()
    );
    let f = sb.write("exp.yaml", &exp);
    let out = sb.run(&["run", f.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).contains("ExperimentSuggestionEndReached"));
    let mut seen = Vec::new();
    for i in 1..=3 {
        let argv: Vec<String> = serde_json::from_str(
            &std::fs::read_to_string(sb.path(&format!(
                "ferrotune-runs/ferrotune/hostile/trials/hostile-000{i}/argv.json"
            )))
            .unwrap(),
        )
        .unwrap();
        assert_eq!(argv[1], format!("--opt={}", argv[0]));
        assert_eq!(argv[2], argv[0]);
        seen.push(argv[0].clone());
    }
    seen.sort();
    let mut want = values.to_vec();
    want.sort();
    assert_eq!(seen, want);
    assert!(!pwned.exists(), "a value was run through a shell");
}

#[test]
fn failures_metrics_unavailable_and_the_failure_limit() {
    let sb = Sandbox::new();
    // x < 0: exit 3 after printing; 0 <= x < 1: exit 0 without the metric; else succeed.
    let code = "import os, json, sys
x = json.loads(os.environ['FERROTUNE_PARAMS'])['x']
if x < 0:
    print('about to fail: bad x'); sys.exit(3)
if x < 1:
    print('accuracy=0.5'); sys.exit(0)
print(f'loss={x}')";
    let params = "    - name: x\n      parameterType: discrete\n      feasibleSpace: {list: [\"-1\", \"0.5\", \"2\", \"3\"]}";
    let exp = native(
        "fails",
        params,
        code,
        "  parallelTrialCount: 1\n  maxTrialCount: 4\n",
    )
    .replace("algorithmName: random", "algorithmName: grid")
    .replace(
        "objectiveMetricName: loss",
        "objectiveMetricName: loss\n    additionalMetricNames: [accuracy]",
    );
    let f = sb.write("exp.yaml", &exp);
    let out = sb.run(&["run", f.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    let trials = sb.json(&["trials", "fails", "--output", "json"]);
    assert_eq!(count_status(&trials, "Failed"), 1);
    assert_eq!(count_status(&trials, "MetricsUnavailable"), 1);
    assert_eq!(count_status(&trials, "Succeeded"), 2);
    let store_out = sb.json(&["show", "fails", "--output", "json"]);
    assert_eq!(store_out["currentOptimalTrial"]["parameters"]["x"], 2);
    // the failure message quotes the log
    let err = stderr(&out);
    assert!(
        err.contains("fails-0001 Failed")
            && err.contains("exited with code 3")
            && err.contains("about to fail: bad x"),
        "{err}"
    );
    assert!(
        err.contains("MetricsUnavailable")
            && err.contains("without reporting the objective metric \"loss\""),
        "{err}"
    );

    // every trial fails and the limit is 1: the experiment fails with exit status 1
    let exp = native(
        "allfail",
        PARAMS_X,
        "import sys; sys.exit(1)",
        "  parallelTrialCount: 1\n  maxTrialCount: 10\n  maxFailedTrialCount: 1\n",
    );
    let f = sb.write("allfail.yaml", &exp);
    let out = sb.run(&["run", f.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    let show = sb.json(&["show", "allfail", "--output", "json"]);
    assert_eq!(show["status"], "Failed");
    assert_eq!(show["reason"], "ExperimentFailed");
    assert_eq!(show["trialCounts"]["Failed"], 2);

    // a command that does not exist fails its trials, not the tool
    let exp = native(
        "nocmd",
        PARAMS_X,
        "",
        "  parallelTrialCount: 1\n  maxTrialCount: 3\n  maxFailedTrialCount: 1\n",
    )
    .replace(
        "command: [python3, -c, \"\"]",
        "command: [/nonexistent/trainer]",
    );
    let f = sb.write("nocmd.yaml", &exp);
    let out = sb.run(&["run", f.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("could not start"), "{}", stderr(&out));
}

#[test]
fn goal_reached_ends_early() {
    let sb = Sandbox::new();
    let params =
        "    - name: x\n      parameterType: int\n      feasibleSpace: {min: \"0\", max: \"9\"}";
    let code = "import os, json\nx = json.loads(os.environ['FERROTUNE_PARAMS'])['x']\nprint(f'loss={10 - x}')";
    let exp = native(
        "goal",
        params,
        code,
        "  parallelTrialCount: 1\n  maxTrialCount: 10\n",
    )
    .replace("algorithmName: random", "algorithmName: grid")
    .replace("type: minimize", "type: minimize\n    goal: 4");
    let f = sb.write("exp.yaml", &exp);
    let out = sb.run(&["run", f.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    let show = sb.json(&["show", "goal", "--output", "json"]);
    assert_eq!(show["reason"], "ExperimentGoalReached");
    // grid order 0..9; x = 6 gives loss 4, the goal
    assert_eq!(show["trials"].as_array().unwrap().len(), 7);
    assert_eq!(show["currentOptimalTrial"]["parameters"]["x"], 6);
}

#[test]
fn a_trial_past_its_timeout_fails() {
    let sb = Sandbox::new();
    let exp = native(
        "slow",
        PARAMS_X,
        "import time; print('loss=1', flush=True); time.sleep(60)",
        "  parallelTrialCount: 1\n  maxTrialCount: 1\n    timeout: 1s\n",
    );
    let exp = exp.replace(
        "  parallelTrialCount: 1\n  maxTrialCount: 1\n    timeout: 1s\n",
        "    timeout: 1s\n  parallelTrialCount: 1\n  maxTrialCount: 1\n",
    );
    let f = sb.write("exp.yaml", &exp);
    let started = std::time::Instant::now();
    let out = sb.run(&["run", f.to_str().unwrap()]);
    assert!(started.elapsed() < std::time::Duration::from_secs(30));
    let trials = sb.json(&["trials", "slow", "--output", "json"]);
    assert_eq!(trials[0]["status"], "Failed", "{}", stderr(&out));
    assert!(stderr(&out).contains("timeout"), "{}", stderr(&out));
}

#[test]
fn file_collector_text_and_json() {
    let sb = Sandbox::new();
    for (name, format, line) in [
        ("ftext", "TEXT", "f'2024-01-02T03:04:05Z loss={x*x}'"),
        (
            "fjson",
            "JSON",
            "json.dumps({'loss': str(x*x), 'timestamp': 1700000000})",
        ),
    ] {
        let code = format!(
            "import os, sys, json\nx = json.loads(os.environ['FERROTUNE_PARAMS'])['x']\npath = sys.argv[1]\nassert not path.startswith('/katib'), path\nopen(path, 'w').write({line} + '\\n')\nprint('loss=999')"
        );
        let exp = format!(
            "apiVersion: kubeflow.org/v1beta1
kind: Experiment
metadata: {{name: {name}, namespace: team-a}}
spec:
  objective: {{type: minimize, objectiveMetricName: loss}}
  algorithm: {{algorithmName: random}}
  maxTrialCount: 2
  parallelTrialCount: 2
  metricsCollectorSpec:
    collector: {{kind: File}}
    source:
      fileSystemPath: {{path: /katib/metrics.log, kind: File, format: {format}}}
  parameters:
{PARAMS_X}
  trialTemplate:
    primaryContainerName: main
    trialParameters: [{{name: x, reference: x}}]
    trialSpec:
      apiVersion: batch/v1
      kind: Job
      spec:
        template:
          spec:
            containers:
            - name: main
              image: python:3.11
              command: [python3, -c, {}, /katib/metrics.log]
",
            serde_json::to_string(&code).unwrap()
        );
        let f = sb.write(&format!("{name}.yaml"), &exp);
        let out = sb.run(&["run", f.to_str().unwrap()]);
        assert!(out.status.success(), "{name}: {}", stderr(&out));
        assert!(
            stderr(&out).contains("image \"python:3.11\" is ignored"),
            "{}",
            stderr(&out)
        );
        let trials = sb.json(&["trials", name, "--output", "json"]);
        for t in trials.as_array().unwrap() {
            let x = t["parameters"]["x"].as_f64().unwrap();
            let loss = t["metrics"]["loss"].as_f64().unwrap();
            assert!(
                (loss - x * x).abs() < 1e-6,
                "{name}: the file's value, not stdout's: {t}"
            );
        }
    }
}

#[test]
fn katib_job_template_with_metadata_references() {
    let sb = Sandbox::new();
    let code = "import os\nprint(os.environ['WHO'] + ' ' + os.environ['KIND'])\nprint('loss=' + os.environ['LR'])";
    let exp = format!(
        "apiVersion: kubeflow.org/v1beta1
kind: Experiment
metadata: {{name: refs, namespace: team-b}}
spec:
  objective: {{type: minimize, objectiveMetricName: loss}}
  algorithm: {{algorithmName: random}}
  maxTrialCount: 1
  parallelTrialCount: 1
  parameters:
  - name: lr
    parameterType: double
    feasibleSpace: {{min: '0.01', max: '0.02'}}
  trialTemplate:
    primaryContainerName: training-container
    trialParameters:
    - {{name: learningRate, reference: lr}}
    - {{name: trialName, reference: '${{trialSpec.Name}}'}}
    trialSpec:
      apiVersion: kubeflow.org/v1
      kind: PyTorchJob
      metadata:
        labels: {{team: vision}}
      spec:
        pytorchReplicaSpecs:
          Master:
            replicas: 1
            template:
              spec:
                containers:
                - name: training-container
                  image: pytorch
                  command: [python3, -c, {}]
                  env:
                  - {{name: LR, value: '${{trialParameters.learningRate}}'}}
                  - {{name: WHO, value: '${{trialParameters.trialName}}/${{trialSpec.Namespace}}/${{trialSpec.Labels[team]}}'}}
                  - {{name: KIND, value: '${{trialSpec.Kind}} ${{trialSpec.APIVersion}}'}}
          Worker:
            replicas: 2
            template:
              spec:
                containers:
                - name: training-container
                  image: pytorch
                  command: [/bin/false]
",
        serde_json::to_string(code).unwrap()
    );
    let f = sb.write("exp.yaml", &exp);
    let out = sb.run(&["run", f.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    let log =
        std::fs::read_to_string(sb.path("ferrotune-runs/team-b/refs/trials/refs-0001/output.log"))
            .unwrap();
    assert!(
        log.starts_with("refs-0001/team-b/vision PyTorchJob kubeflow.org/v1\n"),
        "{log}"
    );
    let trials = sb.json(&["trials", "refs", "--output", "json"]);
    assert_eq!(trials[0]["status"], "Succeeded");
    let lr = trials[0]["parameters"]["lr"].as_f64().unwrap();
    assert_eq!(trials[0]["metrics"]["loss"].as_f64().unwrap(), lr);
}

#[test]
fn quickstart_example_runs() {
    let sb = Sandbox::new();
    let example = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../examples/quickstart/experiment.yaml"
    );
    let out = sb.run(&["run", example, "--max-trials", "6"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let trials = sb.json(&["trials", "quickstart", "--output", "json"]);
    assert_eq!(count_status(&trials, "Succeeded"), 6);
    for t in trials.as_array().unwrap() {
        assert!(t["metrics"]["accuracy"].as_f64().unwrap() > 0.0);
        assert!(t["parameters"]["optimizer"].is_string());
        assert!(t["parameters"]["layers"].is_i64());
    }
}

#[test]
fn sklearn_digits_katib_example_tunes_a_real_model() {
    let sb = Sandbox::new();
    let example = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../examples/sklearn-digits/experiment.yaml"
    );
    let out = sb.run(&["run", example, "--max-trials", "4"]);
    assert!(
        out.status.success(),
        "needs scikit-learn for python3 (scripts/test.sh installs it): {}",
        stderr(&out)
    );
    let show = sb.json(&["show", "sklearn-digits", "--output", "json"]);
    assert_eq!(show["namespace"], "kubeflow-user");
    // Every epoch's report arrived through the SDK (collector Push).
    let trials = sb.json(&["trials", "sklearn-digits", "--output", "json"]);
    for t in trials.as_array().unwrap() {
        assert_eq!(t["status"], "Succeeded", "{t}");
        assert!(t["metrics"]["loss"].as_f64().is_some(), "{t}");
    }
    let best = show["currentOptimalTrial"]["metrics"]["accuracy"]
        .as_f64()
        .unwrap();
    assert!(
        best > 0.8,
        "a linear model on digits reaches well above 80%: {best}"
    );
}

#[test]
fn validate_reports_every_problem_and_exits_1() {
    let sb = Sandbox::new();
    let examples = concat!(env!("CARGO_MANIFEST_DIR"), "/../../examples");
    let ok = sb.run(&[
        "validate",
        &format!("{examples}/quickstart/experiment.yaml"),
        &format!("{examples}/sklearn-digits/experiment.yaml"),
    ]);
    assert!(ok.status.success(), "{}", stderr(&ok));
    let lines: Vec<String> = stdout(&ok).lines().map(str::to_string).collect();
    assert_eq!(lines.len(), 2, "{lines:?}");
    assert!(lines[0].contains("valid experiment \"quickstart\""));
    assert!(lines[1].contains("valid experiment \"sklearn-digits\""));

    let multi = sb.write(
        "multi.yaml",
        &format!(
            "{}---\napiVersion: v1\nkind: Namespace\nmetadata: {{name: x}}\n---\n{}",
            native(
                "one",
                "    - {name: x, parameterType: double, feasibleSpace: {min: '0', max: '1'}}",
                "print(1)",
                ""
            ),
            native(
                "two",
                "    - {name: x, parameterType: double, feasibleSpace: {min: '1', max: '0'}}",
                "print(1)",
                "  maxTrialCount: 0\n"
            )
        ),
    );
    let out = sb.run(&["validate", multi.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stdout(&out).contains("(document 1): valid experiment \"one\""),
        "{}",
        stdout(&out)
    );
    let err = stderr(&out);
    assert!(err.contains("(document 3): 2 problems:"), "{err}");
    assert!(
        err.contains("spec.parameters[0].feasibleSpace: min (1) must be less than max (0)"),
        "{err}"
    );
    assert!(
        err.contains("spec.maxTrialCount: must be at least 1, got 0"),
        "{err}"
    );

    let json = sb.write("exp.json", r#"{"apiVersion":"ferrotune.io/v1alpha1","kind":"Experiment","metadata":{"name":"j"},"spec":{"objective":{"type":"maximize","objectiveMetricName":"acc"},"algorithm":{"algorithmName":"enas"},"parameters":[{"name":"x","parameterType":"int","feasibleSpace":{"min":1,"max":3}}],"trialTemplate":{"command":["true"]}}}"#);
    let out = sb.run(&["validate", json.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("neural architecture search is not supported"),
        "{}",
        stderr(&out)
    );

    let broken = sb.write("broken.yaml", "spec: [unclosed");
    let out = sb.run(&["validate", broken.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    // and `run` refuses an invalid file with the same messages
    let bad = sb.write(
        "bad.yaml",
        &native(
            "bad",
            "    - {name: x, parameterType: double, feasibleSpace: {min: '1', max: '0'}}",
            "print(1)",
            "",
        ),
    );
    let out = sb.run(&["run", bad.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("min (1) must be less than max (0)"));
    assert!(
        !sb.db().exists()
            || sb
                .json(&["list", "--output", "json"])
                .as_array()
                .unwrap()
                .is_empty()
    );
}

#[test]
fn sobol_tpe_cmaes_and_gp_sweeps_run_real_trials() {
    let sb = Sandbox::new();
    for algo in [
        "sobol",
        "tpe",
        "multivariate-tpe",
        "cmaes",
        "bayesianoptimization",
    ] {
        let name = algo.replace('-', "");
        let exp = native(&name, PARAMS_X, QUADRATIC, "  parallelTrialCount: 2\n  maxTrialCount: 16\n")
            .replace("algorithmName: random", &format!("algorithmName: {algo}\n    algorithmSettings: [{{name: n_startup_trials, value: \"5\"}}]"))
            .replace(if matches!(algo, "sobol" | "cmaes" | "bayesianoptimization") { "    algorithmSettings: [{name: n_startup_trials, value: \"5\"}]" } else { "\u{0}" }, "");
        let f = sb.write(&format!("{name}.yaml"), &exp);
        let out = sb.run(&["run", f.to_str().unwrap(), "--seed", "1"]);
        assert!(out.status.success(), "{algo}: {}", stderr(&out));
        let trials = sb.json(&["trials", &name, "--output", "json"]);
        assert_eq!(count_status(&trials, "Succeeded"), 16, "{algo}");
        let xs: std::collections::BTreeSet<u64> = trials
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t["parameters"]["x"].as_f64().unwrap().to_bits())
            .collect();
        assert_eq!(
            xs.len(),
            16,
            "{algo}: parallel trials got distinct parameters"
        );
    }
}

#[test]
fn multi_objective_example_reports_its_pareto_front() {
    let sb = Sandbox::new();
    let example = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../examples/multi-objective/experiment.yaml"
    );
    let out = sb.run(&["run", example, "--max-trials", "24"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stdout(&out).contains("Pareto front ("),
        "the closing summary shows the front: {}",
        stdout(&out)
    );
    let trials = sb.json(&["trials", "multi-objective", "--output", "json"]);
    let all = trials.as_array().unwrap();
    assert_eq!(count_status(&trials, "Succeeded"), 24);
    // The trials report with the SDK (collector Push), over gRPC: nothing in their output.
    for t in all {
        let log = sb.path(&format!(
            "ferrotune-runs/examples/multi-objective/trials/{}/output.log",
            t["name"].as_str().unwrap()
        ));
        let text = std::fs::read_to_string(&log).unwrap_or_default();
        assert!(!text.contains("accuracy="), "{}: {text}", log.display());
    }
    let point = |t: &serde_json::Value| {
        (
            t["metrics"]["accuracy"].as_f64().unwrap(),
            t["metrics"]["latency_ms"].as_f64().unwrap(),
        )
    };
    // The front is exactly the trials that no other trial beats on both objectives.
    let dominated = |a: (f64, f64)| {
        all.iter()
            .map(point)
            .any(|b| b.0 >= a.0 && b.1 <= a.1 && (b.0 > a.0 || b.1 < a.1))
    };
    let mut on_front = Vec::new();
    for t in all {
        let expect = !dominated(point(t));
        assert_eq!(t["paretoOptimal"].as_bool(), Some(expect), "{t}");
        if expect {
            on_front.push(t["name"].as_str().unwrap().to_string());
        }
    }
    assert!(
        on_front.len() >= 2,
        "a trade-off has several optima: {on_front:?}"
    );

    let front = sb.json(&["trials", "multi-objective", "--pareto", "--output", "json"]);
    let mut names: Vec<String> = front
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap().to_string())
        .collect();
    // Ordered by the first objective (accuracy, maximised).
    let acc: Vec<f64> = front
        .as_array()
        .unwrap()
        .iter()
        .map(|t| point(t).0)
        .collect();
    assert!(acc.windows(2).all(|w| w[0] >= w[1]), "{acc:?}");
    names.sort();
    on_front.sort();
    assert_eq!(names, on_front);

    let show = sb.json(&["show", "multi-objective", "--output", "json"]);
    assert!(show["currentOptimalTrial"].is_null());
    assert_eq!(
        show["paretoFront"].as_array().unwrap().len(),
        on_front.len()
    );
    let table = sb.run(&["show", "multi-objective"]);
    let text = stdout(&table);
    assert!(
        text.contains("objectives:  maximize accuracy, minimize latency_ms"),
        "{text}"
    );
    assert!(
        text.contains(&format!("pareto front: {} trials", on_front.len())),
        "{text}"
    );
}

/// Fails its first `n` attempts (a marker per attempt in the trial's own folder), then
/// reports `loss = x²`.
fn flaky(n: u32) -> String {
    format!(
        "import os, json, sys
x = json.loads(os.environ['FERROTUNE_PARAMS'])['x']
d = os.environ['FERROTUNE_TRIAL_DIR']
tries = len([f for f in os.listdir(d) if f.startswith('tried-')])
open(os.path.join(d, f'tried-{{tries}}'), 'w').close()
if tries < {n}:
    print('transient failure', flush=True)
    sys.exit(3)
print(f'loss={{x*x}}', flush=True)"
    )
}

#[test]
fn failed_trials_run_again_as_many_times_as_max_trial_retries_allows() {
    let sb = Sandbox::new();
    // One failure each, one retry allowed: every trial succeeds at its second attempt.
    let f = sb.write(
        "retry.yaml",
        &native(
            "retry",
            PARAMS_X,
            &flaky(1),
            "  parallelTrialCount: 2\n  maxTrialCount: 3\n  maxFailedTrialCount: 1\n  maxTrialRetries: 1\n",
        ),
    );
    let out = sb.run(&["run", f.to_str().unwrap(), "--seed", "1"]);
    assert!(out.status.success(), "{}{}", stdout(&out), stderr(&out));
    assert!(
        stderr(&out).contains("running it again (retry 1 of 1)"),
        "{}",
        stderr(&out)
    );
    let trials = sb.json(&["trials", "retry", "--output", "json"]);
    assert_eq!(count_status(&trials, "Succeeded"), 3, "{trials}");
    for t in trials.as_array().unwrap() {
        assert_eq!(t["attempt"], 2, "{t}");
        let x = t["parameters"]["x"].as_f64().unwrap();
        assert!(
            (t["metrics"]["loss"].as_f64().unwrap() - x * x).abs() < 1e-9,
            "{t}"
        );
    }

    // Two failures each, one retry: every trial fails after its second attempt, and the
    // experiment fails once more trials failed than maxFailedTrialCount allows.
    let f = sb.write(
        "broken.yaml",
        &native(
            "broken",
            PARAMS_X,
            &flaky(2),
            "  parallelTrialCount: 1\n  maxTrialCount: 3\n  maxFailedTrialCount: 1\n  maxTrialRetries: 1\n",
        ),
    );
    let out = sb.run(&["run", f.to_str().unwrap(), "--seed", "1"]);
    assert!(!out.status.success(), "{}", stdout(&out));
    let trials = sb.json(&["trials", "broken", "--output", "json"]);
    assert_eq!(count_status(&trials, "Failed"), 2, "{trials}");
    for t in trials.as_array().unwrap() {
        assert_eq!(t["attempt"], 2, "{t}");
    }
    let show = sb.json(&["show", "broken", "--output", "json"]);
    assert_eq!(show["status"], "Failed", "{show}");

    // Without retries, the first failure is final.
    let f = sb.write(
        "once.yaml",
        &native(
            "once",
            PARAMS_X,
            &flaky(1),
            "  parallelTrialCount: 1\n  maxTrialCount: 2\n  maxFailedTrialCount: 2\n",
        ),
    );
    let out = sb.run(&["run", f.to_str().unwrap(), "--seed", "1"]);
    let trials = sb.json(&["trials", "once", "--output", "json"]);
    assert_eq!(
        count_status(&trials, "Failed"),
        2,
        "{}{trials}",
        stderr(&out)
    );
    for t in trials.as_array().unwrap() {
        assert_eq!(t["attempt"], 1, "{t}");
    }
}

#[test]
fn max_trial_retries_is_checked() {
    let sb = Sandbox::new();
    for (value, says) in [("-1", "must be from 0 to 100, got -1"), ("101", "got 101")] {
        let f = sb.write(
            "bad.yaml",
            &native(
                "bad",
                PARAMS_X,
                QUADRATIC,
                &format!("  maxTrialRetries: {value}\n"),
            ),
        );
        let out = sb.run(&["validate", f.to_str().unwrap()]);
        assert!(!out.status.success());
        let all = format!("{}{}", stdout(&out), stderr(&out));
        assert!(
            all.contains("spec.maxTrialRetries") && all.contains(says),
            "{all}"
        );
    }
}

/// Experiment names are unique within a namespace only: two namespaces' "twin" run side by
/// side in one database (each in its own run folder), and a command given only the name
/// asks which one it means.
#[test]
fn an_experiment_name_in_two_namespaces_is_told_apart() {
    let sb = Sandbox::new();
    for ns in ["team-a", "team-b"] {
        let doc = native(
            "twin",
            PARAMS_X,
            QUADRATIC,
            "  maxTrialCount: 1\n  parallelTrialCount: 1\n",
        )
        .replace(
            "  name: twin\n",
            &format!("  name: twin\n  namespace: {ns}\n"),
        );
        let f = sb.write(&format!("{ns}.yaml"), &doc);
        let out = sb.run(&["run", f.to_str().unwrap()]);
        assert!(out.status.success(), "{ns}: {}", stderr(&out));
    }
    let out = sb.run(&["show", "twin"]);
    assert!(!out.status.success());
    let e = stderr(&out);
    assert!(
        e.contains("team-a, team-b") && e.contains("--namespace"),
        "{e}"
    );
    let mut dirs = Vec::new();
    for ns in ["team-a", "team-b"] {
        let show = sb.json(&["show", "twin", "--namespace", ns, "--output", "json"]);
        assert_eq!(show["namespace"], ns, "{show}");
        let dir = show["runDir"].as_str().unwrap().to_string();
        assert!(dir.ends_with(&format!("ferrotune-runs/{ns}/twin")), "{dir}");
        dirs.push(dir);
        let trials = sb.json(&["trials", "twin", "--namespace", ns, "--output", "json"]);
        assert_eq!(count_status(&trials, "Succeeded"), 1, "{trials}");
    }
    let out = sb.run(&["delete", "twin", "--namespace", "team-a"]);
    assert!(out.status.success(), "{}", stderr(&out));
    // One is left: the name alone finds it.
    let show = sb.json(&["show", "twin", "--output", "json"]);
    assert_eq!(show["namespace"], "team-b", "{show}");
}
