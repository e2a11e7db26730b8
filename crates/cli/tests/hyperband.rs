//! Hyperband end to end: the example's real trial processes follow the schedule, promoted
//! trials name their parent and resume from its checkpoint, and the sweep ends by itself.

mod common;

use common::*;
use std::collections::BTreeMap;

const EXAMPLE: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../examples/hyperband/experiment.yaml"
);

fn label(t: &serde_json::Value, key: &str) -> usize {
    t["labels"][key]
        .as_str()
        .unwrap_or_else(|| panic!("no {key} in {t}"))
        .parse()
        .unwrap()
}

#[test]
fn hyperband_example_follows_the_schedule_and_promoted_trials_resume() {
    let sb = Sandbox::new();
    let out = sb.run(&["run", EXAMPLE]);
    assert!(out.status.success(), "{}", stderr(&out));
    // Validation tells how many trials a cycle takes.
    assert!(
        stderr(&out).contains("22 trials per cycle"),
        "{}",
        stderr(&out)
    );
    let show = sb.json(&["show", "hyperband", "--output", "json"]);
    assert_eq!(show["status"], "Succeeded", "{show}");

    let trials = sb.json(&["trials", "hyperband", "--output", "json"]);
    let all = trials.as_array().unwrap();
    assert_eq!(count_status(&trials, "Succeeded"), 22, "{trials}");
    let by_name: BTreeMap<&str, &serde_json::Value> = all
        .iter()
        .map(|t| (t["name"].as_str().unwrap(), t))
        .collect();
    let epochs = |t: &serde_json::Value| t["parameters"]["epochs"].as_i64().unwrap();
    let loss = |t: &serde_json::Value| t["metrics"]["loss"].as_f64().unwrap();

    // One whole cycle (eta 3, r_l 9): (bracket, rung) → trials, each at 9 / 3^(s − i)
    // epochs.
    let mut shape: BTreeMap<(usize, usize), usize> = BTreeMap::new();
    for t in all {
        assert_eq!(t["labels"]["hyperband.ferrotune.io/cycle"], "0", "{t}");
        let (s, i) = (
            label(t, "hyperband.ferrotune.io/bracket"),
            label(t, "hyperband.ferrotune.io/rung"),
        );
        assert_eq!(epochs(t), 9 / 3i64.pow((s - i) as u32), "{t}");
        *shape.entry((s, i)).or_default() += 1;
    }
    let want: BTreeMap<(usize, usize), usize> = [
        ((0, 0), 3),
        ((1, 0), 5),
        ((1, 1), 1),
        ((2, 0), 9),
        ((2, 1), 3),
        ((2, 2), 1),
    ]
    .into();
    assert_eq!(shape, want);

    let mut promoted = 0;
    for t in all {
        let rung = label(t, "hyperband.ferrotune.io/rung");
        let Some(parent) = t["labels"]["ferrotune.io/parent"].as_str() else {
            assert_eq!(rung, 0, "{t}");
            // A new configuration trains from scratch.
            assert_eq!(t["metrics"]["start_epoch"], 0.0, "{t}");
            continue;
        };
        promoted += 1;
        let p = by_name[parent];
        // The parent is in the rung below, in the same bracket, with the same
        // configuration; it is among the best of its rung.
        assert_eq!(label(p, "hyperband.ferrotune.io/rung") + 1, rung, "{t}");
        assert_eq!(
            p["labels"]["hyperband.ferrotune.io/bracket"],
            t["labels"]["hyperband.ferrotune.io/bracket"]
        );
        assert_eq!(p["parameters"]["lr"], t["parameters"]["lr"]);
        assert_eq!(p["parameters"]["momentum"], t["parameters"]["momentum"]);
        let mates: Vec<f64> = all.iter().filter(|o| same_rung(o, p)).map(loss).collect();
        let better = mates.iter().filter(|v| **v < loss(p)).count();
        // The best ⌊n/3⌋ of a rung of n go on.
        assert!(better < mates.len() / 3, "{p} among {mates:?}");
        // It resumed from the parent's checkpoint: it started at the parent's last epoch.
        assert_eq!(
            t["metrics"]["start_epoch"].as_f64(),
            Some(epochs(p) as f64),
            "{t}"
        );
        let name = t["name"].as_str().unwrap();
        let log = std::fs::read_to_string(sb.path(&format!(
            "ferrotune-runs/examples/hyperband/trials/{name}/output.log"
        )))
        .unwrap();
        assert!(
            log.contains(&format!(
                "trials/{parent}/checkpoint at epoch {}",
                epochs(p)
            )),
            "{log}"
        );
        let first = log.lines().find(|l| l.starts_with("epoch=")).unwrap();
        assert!(
            first.starts_with(&format!("epoch={} ", epochs(p) + 1)),
            "{log}"
        );
    }
    // 3 + 1 in bracket 2, 1 in bracket 1.
    assert_eq!(promoted, 5);
}

/// Whether two trials are in the same rung of the same bracket and cycle.
fn same_rung(a: &serde_json::Value, b: &serde_json::Value) -> bool {
    [
        "hyperband.ferrotune.io/cycle",
        "hyperband.ferrotune.io/bracket",
        "hyperband.ferrotune.io/rung",
    ]
    .iter()
    .all(|k| a["labels"][k] == b["labels"][k])
}
