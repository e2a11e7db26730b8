//! Early stopping end to end: real trial processes report a learning curve line by line,
//! the rule stops the unpromising ones while they run, and the results say what was saved.

mod common;

use common::*;

/// Loss falls like 2/step towards a floor of 10·x: the larger x, the worse the trial.
/// Each trial records its pid first and writes `done` after its last step.
const CURVE: &str = r#"
import json, os, time
x = float(json.loads(os.environ["FERROTUNE_PARAMS"])["x"])
d = os.environ["FERROTUNE_TRIAL_DIR"]
open(os.path.join(d, "pid"), "w").write(str(os.getpid()))
for step in range(1, 21):
    print(f"step={step} loss={10 * x + 2.0 / step:.5f}", flush=True)
    time.sleep(0.04)
open(os.path.join(d, "done"), "w").write("finished")
"#;

fn experiment(name: &str, rule: &str) -> String {
    native(
        name,
        "    - {name: x, parameterType: double, feasibleSpace: {min: '0', max: '1'}}",
        CURVE,
        &format!("  parallelTrialCount: 3\n  maxTrialCount: 15\n  earlyStopping:\n{rule}"),
    )
}

#[test]
fn medianstop_stops_bad_trials_while_they_run_and_keeps_their_partial_results() {
    let sb = Sandbox::new();
    let file = sb.write(
        "median.yaml",
        &experiment(
            "median",
            "    algorithmName: medianstop\n    algorithmSettings:\n    - {name: min_trials_required, value: '2'}\n    - {name: start_step, value: '3'}\n",
        ),
    );
    let out = sb.run(&["run", file.to_str().unwrap(), "--seed", "5"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let trials = sb.json(&["trials", "median", "--output", "json"]);
    let all = trials.as_array().unwrap();
    let stopped = count_status(&trials, "EarlyStopped");
    assert_eq!(stopped + count_status(&trials, "Succeeded"), 15, "{trials}");
    assert!(stopped >= 3, "only {stopped} of 15 stopped: {trials}");

    let x = |t: &serde_json::Value| t["parameters"]["x"].as_f64().unwrap();
    // The best configuration is never worse than the median: it runs to the end.
    let best = all.iter().min_by(|a, b| x(a).total_cmp(&x(b))).unwrap();
    assert_eq!(best["status"], "Succeeded", "{best}");
    for t in all.iter().filter(|t| t["status"] == "EarlyStopped") {
        // The partial result is kept, and the process really ended early.
        assert!(t["metrics"]["loss"].as_f64().is_some(), "{t}");
        let name = t["name"].as_str().unwrap();
        let log = std::fs::read_to_string(sb.path(&format!(
            "ferrotune-runs/ferrotune/median/trials/{name}/output.log"
        )))
        .unwrap();
        let lines = log.lines().filter(|l| l.contains("loss=")).count();
        assert!((3..20).contains(&lines), "{name} printed {lines} lines");
        // It never got to the end of its full run, and its process is gone.
        let dir = sb.path(&format!("ferrotune-runs/ferrotune/median/trials/{name}"));
        assert!(!dir.join("done").exists(), "{name} ran to the end");
        let pid: i32 = std::fs::read_to_string(dir.join("pid"))
            .unwrap()
            .trim()
            .parse()
            .unwrap();
        assert!(
            !std::path::Path::new(&format!("/proc/{pid}")).exists()
                || std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|s| s
                    .rsplit(')')
                    .next()
                    .unwrap_or("")
                    .trim_start()
                    .starts_with('Z')),
            "{name}'s process {pid} still runs"
        );
    }
    for t in all.iter().filter(|t| t["status"] == "Succeeded") {
        let name = t["name"].as_str().unwrap();
        assert!(
            sb.path(&format!(
                "ferrotune-runs/ferrotune/median/trials/{name}/done"
            ))
            .exists(),
            "{name} succeeded, so it ran to the end"
        );
    }

    let show = sb.json(&["show", "median", "--output", "json"]);
    assert_eq!(show["earlyStopping"]["stopped"], stopped, "{show}");
    assert!(show["earlyStopping"]["stepsNotSpent"].as_u64().unwrap() > 0);
    let text = stdout(&sb.run(&["show", "median"]));
    assert!(
        text.contains(&format!(
            "early stop:  medianstop: {stopped} trials stopped"
        )),
        "{text}"
    );
}

#[test]
fn an_unknown_rule_or_setting_is_refused_with_its_field() {
    let sb = Sandbox::new();
    let file = sb.write(
        "bad.yaml",
        &experiment(
            "bad",
            "    algorithmName: medianstop\n    algorithmSettings:\n    - {name: start_stp, value: '3'}\n",
        ),
    );
    let out = sb.run(&["validate", file.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(
        err.contains("spec.earlyStopping.algorithmSettings[0].name"),
        "{err}"
    );
    assert!(err.contains("start_step"), "did you mean: {err}");
    let file = sb.write(
        "bad2.yaml",
        &experiment("bad2", "    algorithmName: medianstopp\n"),
    );
    let err = stderr(&sb.run(&["validate", file.to_str().unwrap()]));
    assert!(err.contains("spec.earlyStopping.algorithmName"), "{err}");
    assert!(err.contains("medianstop"), "{err}");
}

#[test]
fn a_resumed_experiment_judges_new_trials_against_the_curves_it_stored() {
    let sb = Sandbox::new();
    // Grid search: x = 0, 0.1, 0.2, ... one at a time, so every trial is worse than the
    // ones before it; trials 1-3 complete, the 4th is stopped.
    let spec = experiment(
        "again",
        "    algorithmName: medianstop\n    algorithmSettings:\n    - {name: min_trials_required, value: '3'}\n    - {name: start_step, value: '2'}\n",
    )
    .replace("algorithmName: random", "algorithmName: grid")
    .replace("min: '0', max: '1'}", "min: '0', max: '1', step: '0.1'}")
    .replace("parallelTrialCount: 3", "parallelTrialCount: 1");
    let file = sb.write("again.yaml", &spec);
    let out = sb.run(&["run", file.to_str().unwrap(), "--max-trials", "4"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let statuses = |sb: &Sandbox| -> Vec<String> {
        sb.json(&["trials", "again", "--output", "json"])
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t["status"].as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(
        statuses(&sb),
        ["Succeeded", "Succeeded", "Succeeded", "EarlyStopped"]
    );
    // A new controller process: only the stored observation logs tell it what the
    // completed trials' curves looked like, and the 5th trial is judged against them.
    let out = sb.run(&["resume", "again", "--max-trials", "5"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(statuses(&sb)[4], "EarlyStopped");
}
