//! Population-based training end to end: the example's real trial processes save their
//! model in their checkpoint folder, and each later segment restores its parent's (its own
//! member's, or a better member's that it exploits) and counts its steps on from there.

mod common;

use common::*;
use serde_json::Value;
use std::collections::HashMap;
use std::path::Path;

const MEMBER: &str = "pbt.ferrotune.io/member";
const GENERATION: &str = "pbt.ferrotune.io/generation";
const ACTION: &str = "pbt.ferrotune.io/action";
const PARENT: &str = "ferrotune.io/parent";

fn example_dir() -> String {
    concat!(env!("CARGO_MANIFEST_DIR"), "/../../examples/pbt").to_string()
}

fn label<'a>(t: &'a Value, key: &str) -> Option<&'a str> {
    t["labels"][key].as_str()
}

/// What a trial's output says: the step it restored, and the steps it reported.
struct Log {
    restored: Option<i64>,
    steps: Vec<i64>,
}

fn read_log(sb: &Sandbox, experiment: &str, trial: &str) -> Log {
    let text = std::fs::read_to_string(sb.path(&format!(
        "ferrotune-runs/examples/{experiment}/trials/{trial}/output.log"
    )))
    .unwrap_or_else(|e| panic!("{trial}'s output.log: {e}"));
    let value = |line: &str, key: &str| -> Option<i64> {
        line.split_whitespace()
            .find_map(|pair| pair.strip_prefix(key)?.strip_prefix('=')?.parse().ok())
    };
    Log {
        restored: text.lines().find_map(|l| value(l, "restored_step")),
        steps: text
            .lines()
            .filter(|l| l.contains("accuracy="))
            .filter_map(|l| value(l, "step"))
            .collect(),
    }
}

/// The step and writer of a trial's checkpoint.
fn checkpoint(sb: &Sandbox, experiment: &str, trial: &str) -> (i64, String) {
    let path = sb.path(&format!(
        "ferrotune-runs/examples/{experiment}/trials/{trial}/checkpoint/state.json"
    ));
    let state: Value = serde_json::from_str(
        &std::fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("{} exists: {e}", path.display())),
    )
    .unwrap();
    (
        state["step"].as_i64().unwrap(),
        state["trial"].as_str().unwrap().to_string(),
    )
}

#[test]
fn pbt_example_exploits_better_members_and_continues_from_checkpoints() {
    let sb = Sandbox::new();
    let example = format!("{}/experiment.yaml", example_dir());
    let out = sb.run(&["run", &example]);
    assert!(out.status.success(), "{}", stderr(&out));
    let show = sb.json(&["show", "pbt", "--output", "json"]);
    assert_eq!(show["status"], "Succeeded", "{show}");
    assert_eq!(show["reason"], "ExperimentMaxTrialsReached");

    let trials = sb.json(&["trials", "pbt", "--output", "json"]);
    let all = trials.as_array().unwrap();
    assert_eq!(all.len(), 20);
    assert_eq!(count_status(&trials, "Succeeded"), 20, "{trials}");
    let by_name: HashMap<&str, &Value> = all
        .iter()
        .map(|t| (t["name"].as_str().unwrap(), t))
        .collect();

    let mut exploits = 0;
    for (i, t) in all.iter().enumerate() {
        let name = t["name"].as_str().unwrap();
        let member = label(t, MEMBER).unwrap_or_else(|| panic!("no member label: {t}"));
        let generation: i64 = label(t, GENERATION).unwrap().parse().unwrap();
        let log = read_log(&sb, "pbt", name);
        // 4 steps a segment, counted on from the parent's.
        assert_eq!(log.steps.len(), 4, "{name}: {:?}", log.steps);
        assert_eq!(*log.steps.last().unwrap(), 4 * (generation + 1), "{name}");
        // Its own checkpoint holds where it stopped.
        assert_eq!(
            checkpoint(&sb, "pbt", name),
            (*log.steps.last().unwrap(), name.to_string())
        );
        if i < 4 {
            // Generation 0: the population's random first segments.
            assert_eq!(member, i.to_string());
            assert_eq!((generation, label(t, ACTION)), (0, Some("random")), "{t}");
            assert_eq!(label(t, PARENT), None);
            assert_eq!(log.restored, None, "{name} starts afresh");
            assert_eq!(log.steps[0], 1);
            continue;
        }
        // Every later segment names an earlier trial whose checkpoint it restored.
        let parent_name = label(t, PARENT).unwrap_or_else(|| panic!("no parent: {t}"));
        let parent = by_name[parent_name];
        assert!(parent_name < name, "{parent_name} before {name}");
        let parent_generation: i64 = label(parent, GENERATION).unwrap().parse().unwrap();
        assert_eq!(generation, parent_generation + 1, "{name}");
        let parent_last = *read_log(&sb, "pbt", parent_name).steps.last().unwrap();
        assert_eq!(log.restored, Some(parent_last), "{name} from {parent_name}");
        assert_eq!(log.steps[0], parent_last + 1, "{name} counts on");
        match label(t, ACTION) {
            Some("continue") => {
                assert_eq!(label(parent, MEMBER), Some(member), "{name}");
                assert_eq!(t["parameters"], parent["parameters"], "{name}");
            }
            Some("exploit") => {
                // A better member's model, with perturbed hyperparameters.
                exploits += 1;
                assert_ne!(label(parent, MEMBER), Some(member), "{name}");
                assert_ne!(t["parameters"], parent["parameters"], "{name}");
                let ratio = t["parameters"]["lr"].as_f64().unwrap()
                    / parent["parameters"]["lr"].as_f64().unwrap();
                assert!(
                    [0.8, 1.2].iter().any(|r| (ratio - r).abs() < 1e-9)
                        || t["parameters"]["lr"] == 0.3
                        || t["parameters"]["lr"] == 0.001,
                    "{name}: lr ×{ratio}"
                );
            }
            other => panic!("{name}: unexpected action {other:?} (nothing fails here)"),
        }
    }
    assert!(exploits >= 1, "no member exploited another: {trials}");
    // The best trial is the last segment of some lineage, beyond generation 0.
    let best = &show["currentOptimalTrial"];
    assert_ne!(best["labels"][GENERATION], "0", "{best}");
}

#[test]
fn perturbation_interval_ends_each_segment_after_its_reports() {
    let sb = Sandbox::new();
    let example =
        std::fs::read_to_string(Path::new(&example_dir()).join("experiment.yaml")).unwrap();
    let replace = |text: String, from: &str, to: &str| {
        assert!(text.contains(from), "the example has {from:?}");
        text.replace(from, to)
    };
    let mut yaml = replace(example, "name: pbt\n", "name: pbt-interval\n");
    yaml = replace(
        yaml,
        "value: \"4\"}",
        "value: \"3\"}\n      - {name: perturbation_interval, value: \"3\"}",
    );
    yaml = replace(yaml, "STEPS: \"4\"", "STEPS: \"0\"");
    yaml = replace(yaml, "maxTrialCount: 20", "maxTrialCount: 9");
    yaml = replace(yaml, "parallelTrialCount: 2", "parallelTrialCount: 3");
    yaml = replace(
        yaml,
        "workingDir: .",
        &format!("workingDir: {}", example_dir()),
    );
    let file = sb.write("interval.yaml", &yaml);
    let out = sb.run(&["run", file.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));

    let trials = sb.json(&["trials", "pbt-interval", "--output", "json"]);
    let all = trials.as_array().unwrap();
    // Stopped once their segment was done: completed, not failed or early-stopped.
    assert_eq!(count_status(&trials, "Succeeded"), 9, "{trials}");
    for t in all {
        let name = t["name"].as_str().unwrap();
        let log = read_log(&sb, "pbt-interval", name);
        // At least 3 reports, then stopped (it would have trained 1000 steps).
        assert!(
            (3..10).contains(&log.steps.len()),
            "{name}: {:?}",
            log.steps
        );
        let (saved, writer) = checkpoint(&sb, "pbt-interval", name);
        assert_eq!(writer, name);
        // Saved before each report: the checkpoint is at or just past the last report.
        let last = *log.steps.last().unwrap();
        assert!(
            saved == last || saved == last + 1,
            "{name}: {saved} vs {last}"
        );
        if let Some(parent) = label(t, PARENT) {
            let (parent_saved, _) = checkpoint(&sb, "pbt-interval", parent);
            assert_eq!(log.restored, Some(parent_saved), "{name} from {parent}");
            assert_eq!(log.steps[0], parent_saved + 1);
        } else {
            assert_eq!(log.steps[0], 1);
        }
    }
    assert!(
        all.iter().any(|t| label(t, PARENT).is_some()),
        "later segments continue: {trials}"
    );
}
