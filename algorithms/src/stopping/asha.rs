//! `asha`: Ray Tune's ASHAScheduler (AsyncHyperBandScheduler) as an early-stopping rule, so
//! that asynchronous successive halving works with any search algorithm.
//!
//! Rungs sit at `grace_period · reduction_factor^k` below `max_t`. When a trial first
//! reaches a rung (a report whose resource is at least the milestone), its value at that
//! report is its record there, and it stops unless the value is in the top
//! `1/reduction_factor` of the values recorded at that rung by the trials that got there
//! before it: Ray's cutoff, numpy's `nanpercentile` of those values at
//! `(1 - 1/reduction_factor)·100` along the objective. With nothing recorded yet there is no
//! cutoff and the trial goes on. A trial that reaches `max_t` has spent its budget
//! (`budget_spent`: it ends as a completed trial, as Ray's scheduler terminates it). With several `brackets`, bracket `s`'s rungs start
//! at `grace_period · reduction_factor^s`, each trial belongs to one bracket, drawn with
//! Ray's probabilities (a softmax over the brackets' numbers of rungs) from the seed and the
//! trial's name, and only trials of the same bracket are compared.
//!
//! The rule keeps no state that matters across restarts: the records are recomputed from
//! the history (every trial's value at its first report at or past each milestone, whatever
//! its status, early-stopped ones included). "Recorded before it" becomes "every other trial
//! that has a record now": when the rule judges a trial as its report arrives, as the
//! controller does, these are the trials that got there first. The rule remembers how many
//! reports of each trial it has seen so that a rung is judged once, when reached; a trial it
//! has not seen yet (the first call, or after a restart) has all its rungs judged.
//!
//! Two small departures from Ray: a NaN value is the worst (Ray never stops on NaN), and
//! when one report jumps past several rungs each is judged (Ray judges the highest).

use super::common::{Reader, Setting, int_at_least, num, number, percentile};
use super::{Resource, StoppingRule};
use crate::random::splitmix64;
use ferrotune_core::{FieldError, ObjectiveType, TrialView};
use std::collections::HashMap;

/// The settings `asha` takes (Ray's ASHAScheduler's).
pub const SETTINGS: &[&str] = &[
    "time_attr",
    "grace_period",
    "max_t",
    "reduction_factor",
    "brackets",
];

/// The most brackets accepted.
pub const MAX_BRACKETS: i64 = 100;
/// The most rungs a bracket may have (a reduction factor barely above 1 would make millions).
pub const MAX_RUNGS: usize = 1000;

/// `asha`'s settings.
#[derive(Debug, Clone, PartialEq)]
pub struct AshaSettings {
    /// "step" (default) or the name of a metric whose latest value is the resource.
    pub time_attr: String,
    /// The first rung (default 1).
    pub grace_period: f64,
    /// Where trials stop (default 100).
    pub max_t: f64,
    /// The rungs' ratio and how selective they are (default 4, > 1).
    pub reduction_factor: f64,
    /// Number of brackets (default 1).
    pub brackets: usize,
}

impl Default for AshaSettings {
    fn default() -> Self {
        AshaSettings {
            time_attr: "step".into(),
            grace_period: 1.0,
            max_t: 100.0,
            reduction_factor: 4.0,
            brackets: 1,
        }
    }
}

impl AshaSettings {
    /// The rungs each bracket judges at, ascending and below `max_t`.
    pub fn rungs(&self) -> Vec<Vec<f64>> {
        (0..self.brackets)
            .map(|s| {
                (0..MAX_RUNGS)
                    .map(|k| self.milestone(s + k))
                    .take_while(|m| *m < self.max_t)
                    .collect()
            })
            .collect()
    }

    fn milestone(&self, k: usize) -> f64 {
        self.grace_period * self.reduction_factor.powi(k as i32)
    }

    /// Ray's probability of each bracket: a softmax over how many rungs each has, counted
    /// as Ray does (milestones up to `max_t` inclusive).
    pub fn bracket_probabilities(&self) -> Vec<f64> {
        let sizes: Vec<f64> = (0..self.brackets)
            .map(|s| {
                (0..=MAX_RUNGS)
                    .take_while(|k| self.milestone(s + k) <= self.max_t * (1.0 + 1e-12))
                    .count() as f64
            })
            .collect();
        let top = sizes.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        let weights: Vec<f64> = sizes.iter().map(|n| (n - top).exp()).collect();
        let total: f64 = weights.iter().sum();
        weights.iter().map(|w| w / total).collect()
    }
}

pub(crate) fn parse(rule: &str, settings: &[Setting]) -> Result<AshaSettings, Vec<FieldError>> {
    let mut r = Reader::new(rule, SETTINGS, settings);
    let mut out = AshaSettings::default();
    if let Some(v) = r.get(
        "time_attr",
        |s| (!s.is_empty()).then(|| s.to_string()),
        "time_attr must be \"step\" or the name of a metric",
    ) {
        out.time_attr = v;
    }
    if let Some(v) = r.get(
        "grace_period",
        number(|v| v > 0.0),
        "grace_period must be a positive number",
    ) {
        out.grace_period = v;
    }
    if let Some(v) = r.get(
        "max_t",
        number(|v| v > 0.0),
        "max_t must be a positive number",
    ) {
        out.max_t = v;
    }
    if let Some(v) = r.get(
        "reduction_factor",
        number(|v| v > 1.0),
        "reduction_factor must be a number greater than 1",
    ) {
        out.reduction_factor = v;
    }
    if let Some(v) = r.get(
        "brackets",
        |s| int_at_least(1)(s).filter(|b| *b <= MAX_BRACKETS),
        &format!("brackets must be an integer from 1 to {MAX_BRACKETS}"),
    ) {
        out.brackets = v as usize;
    }
    if r.errors.is_empty() {
        if out.max_t < out.grace_period
            && let Some(s) = r.last("max_t").or(r.last("grace_period"))
        {
            r.error(
                s.value_path(),
                format!(
                    "max_t ({}) must be at least grace_period ({})",
                    num(out.max_t),
                    num(out.grace_period)
                ),
            );
        }
        let rungs = (out.max_t / out.grace_period).ln() / out.reduction_factor.ln();
        if rungs > MAX_RUNGS as f64
            && let Some(s) = r.last("reduction_factor")
        {
            r.error(
                s.value_path(),
                format!(
                    "reduction_factor {} makes about {} rungs between grace_period and max_t; \
                     at most {MAX_RUNGS} are allowed",
                    num(out.reduction_factor),
                    rungs.floor()
                ),
            );
        }
    }
    r.finish(out)
}

/// Asynchronous successive halving.
#[derive(Debug, Clone)]
pub struct Asha {
    objective: ObjectiveType,
    settings: AshaSettings,
    seed: u64,
    rungs: Vec<Vec<f64>>,
    /// Each bracket's upper end in [0, 1], for drawing one.
    cumulative: Vec<f64>,
    /// How many reports of each trial the rule has judged.
    seen: HashMap<String, usize>,
}

impl Asha {
    pub fn new(objective: ObjectiveType, settings: AshaSettings, seed: u64) -> Self {
        let cumulative = settings
            .bracket_probabilities()
            .iter()
            .scan(0.0, |acc, p| {
                *acc += p;
                Some(*acc)
            })
            .collect();
        Asha {
            objective,
            rungs: settings.rungs(),
            settings,
            seed,
            cumulative,
            seen: HashMap::new(),
        }
    }

    pub fn settings(&self) -> &AshaSettings {
        &self.settings
    }

    /// The bracket a trial belongs to: a draw from the seed and its name only.
    pub fn bracket_of(&self, trial: &str) -> usize {
        if self.cumulative.len() <= 1 {
            return 0;
        }
        // FNV-1a of the name, mixed with the seed by splitmix64.
        let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
        for b in trial.bytes() {
            hash = (hash ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
        }
        let mut state = self.seed ^ hash;
        let u = (splitmix64(&mut state) >> 11) as f64 / (1u64 << 53) as f64;
        self.cumulative
            .iter()
            .position(|c| u < *c)
            .unwrap_or(self.cumulative.len() - 1)
    }

    fn unit(&self) -> &str {
        if self.settings.time_attr == "step" {
            "step"
        } else {
            &self.settings.time_attr
        }
    }

    /// Why `trial` fails at the rung `milestone` of `bracket` with `value`, if it does.
    fn judge(
        &self,
        trial: &TrialView,
        history: &[TrialView],
        bracket: usize,
        milestone: f64,
        (at, value): (i64, f64),
    ) -> Option<String> {
        let several = self.cumulative.len() > 1;
        let recorded: Vec<f64> = history
            .iter()
            .filter(|t| t.name != trial.name)
            .filter(|t| !several || self.bracket_of(&t.name) == bracket)
            .filter_map(|t| record(t, milestone))
            .filter(|v| !v.is_nan())
            .collect();
        let keep = (1.0 - 1.0 / self.settings.reduction_factor) * 100.0;
        let q = match self.objective {
            ObjectiveType::Maximize => keep,
            ObjectiveType::Minimize => 100.0 - keep,
        };
        let cutoff = percentile(&recorded, q)?;
        (value.is_nan() || self.objective.better(cutoff, value)).then(|| {
            format!(
                "asha: value {} at {} {at} is worse than {}, the cutoff for the top 1/{} of \
                 the {} trials that reached the rung at {}",
                num(value),
                self.unit(),
                num(cutoff),
                num(self.settings.reduction_factor),
                recorded.len(),
                num(milestone)
            )
        })
    }
}

/// A trial's record at a rung: its value at its first report at or past the milestone.
fn record(trial: &TrialView, milestone: f64) -> Option<f64> {
    trial
        .intermediate
        .iter()
        .find(|r| r.0 as f64 >= milestone)
        .map(|r| r.1)
}

impl StoppingRule for Asha {
    fn budget_spent(&self, trial: &TrialView) -> Option<String> {
        let latest = trial.intermediate.iter().map(|r| r.0).max()?;
        (latest as f64 >= self.settings.max_t).then(|| {
            format!(
                "asha: reached max_t {} ({} {latest})",
                num(self.settings.max_t),
                self.unit()
            )
        })
    }

    fn should_stop(&mut self, trial: &TrialView, history: &[TrialView]) -> Option<String> {
        let n = trial.intermediate.len();
        let from = match self.seen.insert(trial.name.clone(), n) {
            Some(before) if before <= n => before,
            // Never seen, or its curve started again (a re-run): judge it all.
            _ => 0,
        };
        trial.intermediate.iter().map(|r| r.0).max()?;
        let bracket = self.bracket_of(&trial.name);
        for &milestone in &self.rungs[bracket] {
            let Some(i) = trial
                .intermediate
                .iter()
                .position(|r| r.0 as f64 >= milestone)
            else {
                continue;
            };
            if i < from {
                continue;
            }
            if let Some(reason) =
                self.judge(trial, history, bracket, milestone, trial.intermediate[i])
            {
                return Some(reason);
            }
        }
        None
    }

    fn resource(&self) -> Resource {
        if self.settings.time_attr == "step" {
            Resource::Step
        } else {
            Resource::Metric(self.settings.time_attr.clone())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stopping::tests::{curve, running, settings};
    use crate::stopping::{RuleContext, build_rule, validate_rule};
    use ferrotune_core::TrialStatus;

    fn asha(objective: ObjectiveType, rf: f64) -> Asha {
        Asha::new(
            objective,
            AshaSettings {
                reduction_factor: rf,
                max_t: 10.0,
                ..Default::default()
            },
            7,
        )
    }

    #[test]
    fn rungs_and_brackets_follow_ray() {
        let s = AshaSettings::default();
        assert_eq!(s.rungs(), [vec![1.0, 4.0, 16.0, 64.0]]);
        let s = AshaSettings {
            brackets: 3,
            max_t: 64.0,
            ..Default::default()
        };
        // Ray counts 4, 3 and 2 rungs (64 included); trials stop at 64 before it counts.
        assert_eq!(
            s.rungs(),
            [vec![1.0, 4.0, 16.0], vec![4.0, 16.0], vec![16.0]]
        );
        let p = s.bracket_probabilities();
        let e = std::f64::consts::E;
        let total = 1.0 + 1.0 / e + 1.0 / (e * e);
        for (got, want) in p
            .iter()
            .zip([1.0 / total, 1.0 / e / total, 1.0 / (e * e) / total])
        {
            assert!((got - want).abs() < 1e-12, "{p:?}");
        }
        // Draws follow the probabilities (2000 names, tolerance 0.04) and are reproducible.
        let a = Asha::new(ObjectiveType::Minimize, s.clone(), 11);
        let mut counts = [0usize; 3];
        for i in 0..2000 {
            counts[a.bracket_of(&format!("trial-{i}"))] += 1;
        }
        for (c, want) in counts.iter().zip(&p) {
            assert!(
                (*c as f64 / 2000.0 - want).abs() < 0.04,
                "{counts:?} vs {p:?}"
            );
        }
        let b = Asha::new(ObjectiveType::Minimize, s, 11);
        assert!((0..50).all(|i| a.bracket_of(&format!("t{i}")) == b.bracket_of(&format!("t{i}"))));
    }

    /// Ray's _Bracket docstring: with rf 2, records 2 and 4 at rung 1 give the cutoff 3 (for
    /// maximising); a third trial with 1 stops.
    #[test]
    fn stops_below_the_cutoff_of_earlier_arrivals() {
        let mut r = asha(ObjectiveType::Maximize, 2.0);
        let t1 = running("t1", vec![(0, 0.0), (1, 2.0)]);
        let t2 = running("t2", vec![(0, 0.0), (1, 4.0)]);
        assert_eq!(r.should_stop(&t1, std::slice::from_ref(&t1)), None); // first at the rung
        let h = vec![t1.clone(), t2.clone()];
        assert_eq!(r.should_stop(&t2, &h), None); // 4 beats the cutoff 2
        let t3 = running("t3", vec![(0, 0.0), (1, 1.0)]);
        let h = vec![t1, t2, t3.clone()];
        assert_eq!(
            r.should_stop(&t3, &h).unwrap(),
            "asha: value 1 at step 1 is worse than 3, the cutoff for the top 1/2 of the 2 \
             trials that reached the rung at 1"
        );
        let t4 = running("t4", vec![(0, 0.0), (1, 3.5)]);
        assert_eq!(r.should_stop(&t4, &[h, vec![t4.clone()]].concat()), None);
    }

    #[test]
    fn minimising_mirrors_maximising() {
        let mut r = asha(ObjectiveType::Minimize, 2.0);
        let h: Vec<TrialView> = [-2.0, -4.0]
            .iter()
            .enumerate()
            .map(|(i, v)| {
                let mut t = running(&format!("c{i}"), vec![(1, *v)]);
                t.status = TrialStatus::EarlyStopped; // stopped trials keep their records
                t
            })
            .collect();
        let bad = running("bad", vec![(1, -1.0)]);
        assert!(r.should_stop(&bad, &h).unwrap().contains("worse than -3"));
        let good = running("good", vec![(1, -3.5)]);
        assert_eq!(r.should_stop(&good, &h), None);
    }

    #[test]
    fn judges_a_rung_once_when_reached() {
        // rf 4, max_t 10: rungs at 1 and 4.
        let mut r = asha(ObjectiveType::Minimize, 4.0);
        let others: Vec<TrialView> = (0..4)
            .map(|i| running(&format!("o{i}"), curve(&[1.0, 1.0, 1.0])))
            .collect();
        // Reaches rung 1 with 1.0: equal to the cutoff, it goes on.
        let mut t = running("t", curve(&[5.0, 1.0]));
        assert_eq!(r.should_stop(&t, &others), None);
        // Its next values are bad but reach no new rung, and rung 1 is not judged again.
        t.intermediate.push((2, 9.0));
        t.intermediate.push((3, 9.0));
        assert_eq!(r.should_stop(&t, &others), None);
        // At step 4 it reaches rung 4, where the others recorded 0.5.
        let mut leaders = others.clone();
        for o in &mut leaders {
            o.intermediate.push((4, 0.5));
        }
        t.intermediate.push((4, 9.0));
        assert_eq!(
            r.should_stop(&t, &leaders).unwrap(),
            "asha: value 9 at step 4 is worse than 0.5, the cutoff for the top 1/4 of the 4 \
             trials that reached the rung at 4"
        );
        // A fresh rule (after a restart) judges every rung the trial reached.
        let mut fresh = asha(ObjectiveType::Minimize, 4.0);
        let t = running("t", curve(&[5.0, 2.0, 0.1]));
        assert!(
            fresh
                .should_stop(&t, &others)
                .unwrap()
                .contains("rung at 1")
        );
    }

    #[test]
    fn nan_is_worst_and_ignored_in_records() {
        let mut r = asha(ObjectiveType::Minimize, 4.0);
        let h = vec![
            running("a", vec![(1, f64::NAN)]),
            running("b", vec![(1, 2.0)]),
        ];
        // Only b's record counts: the cutoff is 2.
        assert!(
            r.should_stop(&running("t", vec![(1, 2.5)]), &h)
                .unwrap()
                .contains("of the 1 trials")
        );
        assert!(
            r.should_stop(&running("u", vec![(1, f64::NAN)]), &h)
                .is_some()
        );
        // No record at all: no cutoff, even for NaN.
        assert_eq!(
            r.should_stop(&running("v", vec![(1, f64::NAN)]), &h[..1]),
            None
        );
    }

    #[test]
    fn stops_at_max_t_and_measures_time_by_its_metric() {
        let mut r = build_rule(RuleContext {
            rule: "asha".into(),
            settings: settings(&[
                ("time_attr", "epoch"),
                ("max_t", "3"),
                ("grace_period", "1"),
            ]),
            objective: ObjectiveType::Maximize,
            seed: 0,
        })
        .unwrap();
        assert_eq!(r.resource(), Resource::Metric("epoch".into()));
        let t = running("t", vec![(0, 0.1), (0, 0.2), (2, 0.3)]);
        assert_eq!(r.should_stop(&t, std::slice::from_ref(&t)), None);
        let t = running("t", vec![(0, 0.1), (0, 0.2), (2, 0.3), (3, 0.4)]);
        assert_eq!(
            r.budget_spent(&t).unwrap(),
            "asha: reached max_t 3 (epoch 3)"
        );
        assert_eq!(r.budget_spent(&running("u", vec![(2, 0.3)])), None);
        let r = build_rule(RuleContext {
            rule: "asha".into(),
            settings: vec![],
            objective: ObjectiveType::Maximize,
            seed: 0,
        })
        .unwrap();
        assert_eq!(r.resource(), Resource::Step);
    }

    #[test]
    fn settings_are_validated() {
        assert!(validate_rule("asha", &[]).is_empty());
        assert!(
            validate_rule(
                "asha",
                &settings(&[
                    ("time_attr", "epoch"),
                    ("grace_period", "0.5"),
                    ("max_t", "81"),
                    ("reduction_factor", "3"),
                    ("brackets", "3"),
                ])
            )
            .is_empty()
        );
        let got: Vec<String> = validate_rule(
            "asha",
            &settings(&[
                ("time_attr", " "),
                ("grace_period", "0"),
                ("max_t", "-1"),
                ("reduction_factor", "1"),
                ("brackets", "0"),
                ("max_T", "5"),
            ]),
        )
        .iter()
        .map(|e| e.to_string())
        .collect();
        assert_eq!(
            got,
            [
                "spec.earlyStopping.algorithmSettings[0].value: time_attr must be \"step\" or \
                 the name of a metric, got \" \"",
                "spec.earlyStopping.algorithmSettings[1].value: grace_period must be a \
                 positive number, got \"0\"",
                "spec.earlyStopping.algorithmSettings[2].value: max_t must be a positive \
                 number, got \"-1\"",
                "spec.earlyStopping.algorithmSettings[3].value: reduction_factor must be a \
                 number greater than 1, got \"1\"",
                "spec.earlyStopping.algorithmSettings[4].value: brackets must be an integer \
                 from 1 to 100, got \"0\"",
                "spec.earlyStopping.algorithmSettings[5].name: unknown setting \"max_T\" for \
                 rule \"asha\", did you mean \"max_t\"? (accepted: time_attr, grace_period, \
                 max_t, reduction_factor, brackets)",
            ]
        );
        let e = validate_rule("asha", &settings(&[("grace_period", "10"), ("max_t", "5")]));
        assert_eq!(e.len(), 1);
        assert_eq!(e[0].path, "spec.earlyStopping.algorithmSettings[1].value");
        assert_eq!(e[0].message, "max_t (5) must be at least grace_period (10)");
        let e = validate_rule("asha", &settings(&[("reduction_factor", "1.000001")]));
        assert_eq!(e.len(), 1);
        assert!(
            e[0].message.contains("at most 1000 are allowed"),
            "{}",
            e[0]
        );
    }
}
