//! `percentile` and `median`: Optuna's PercentilePruner and MedianPruner.
//!
//! At a check step `s` (the trial's latest step, checked only past `n_warmup_steps` and at
//! the first report of each `interval_steps` interval, so a check never falls between
//! reports), a trial stops when its best value so far is worse than the `percentile`-th
//! percentile, counted from the good side, of the completed trials' values reported at
//! exactly step `s`, once `n_startup_trials` trials have completed. Unlike `medianstop`, it
//! compares against other trials' values at the same step, not their running averages.
//!
//! As in Optuna: a trial whose values are all NaN stops; completed trials' NaN values are
//! left out (numpy's `nanpercentile`); and with fewer than `n_min_trials` completed trials
//! reporting at `s` nothing stops. Optuna requires `percentile`; here it defaults to 50, so
//! `percentile` without settings is `median`.

use super::StoppingRule;
use super::common::{
    Reader, Setting, best_of, by_step, completed, first_in_interval, int_at_least, num, number,
    ordinal, percentile,
};
use ferrotune_core::{FieldError, ObjectiveType, TrialView};

/// The settings `percentile` takes (Optuna's PercentilePruner's).
pub const SETTINGS: &[&str] = &[
    "percentile",
    "n_startup_trials",
    "n_warmup_steps",
    "interval_steps",
    "n_min_trials",
];

/// The settings `median` takes: `percentile`'s without `percentile`.
pub const MEDIAN_SETTINGS: &[&str] = &[
    "n_startup_trials",
    "n_warmup_steps",
    "interval_steps",
    "n_min_trials",
];

/// `percentile`'s and `median`'s settings.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PercentileSettings {
    /// From 0 to 100: 25 keeps trials in the best quarter at each step (default 50).
    pub percentile: f64,
    /// Completed trials needed before any trial stops (default 5).
    pub n_startup_trials: usize,
    /// Steps before the first check (default 0).
    pub n_warmup_steps: i64,
    /// Steps between checks, from the warm-up on (default 1).
    pub interval_steps: i64,
    /// Completed trials that must have reported at the step (default 1).
    pub n_min_trials: usize,
}

impl Default for PercentileSettings {
    fn default() -> Self {
        PercentileSettings {
            percentile: 50.0,
            n_startup_trials: 5,
            n_warmup_steps: 0,
            interval_steps: 1,
            n_min_trials: 1,
        }
    }
}

/// Reads the settings shared with `threshold`: the warm-up and the interval.
pub(crate) fn read_schedule(r: &mut Reader, warmup: &mut i64, interval: &mut i64) {
    if let Some(v) = r.get(
        "n_warmup_steps",
        int_at_least(0),
        "n_warmup_steps must be a non-negative integer",
    ) {
        *warmup = v;
    }
    if let Some(v) = r.get(
        "interval_steps",
        int_at_least(1),
        "interval_steps must be an integer of at least 1",
    ) {
        *interval = v;
    }
}

/// `rule` is "percentile" or "median" (which takes no `percentile`).
pub(crate) fn parse(
    rule: &str,
    median: bool,
    settings: &[Setting],
) -> Result<PercentileSettings, Vec<FieldError>> {
    let accepted = if median { MEDIAN_SETTINGS } else { SETTINGS };
    let mut r = Reader::new(rule, accepted, settings);
    let mut out = PercentileSettings::default();
    if !median
        && let Some(v) = r.get(
            "percentile",
            number(|p| (0.0..=100.0).contains(&p)),
            "percentile must be a number from 0 to 100",
        )
    {
        out.percentile = v;
    }
    if let Some(v) = r.get(
        "n_startup_trials",
        int_at_least(0),
        "n_startup_trials must be a non-negative integer",
    ) {
        out.n_startup_trials = v as usize;
    }
    read_schedule(&mut r, &mut out.n_warmup_steps, &mut out.interval_steps);
    if let Some(v) = r.get(
        "n_min_trials",
        int_at_least(1),
        "n_min_trials must be an integer of at least 1",
    ) {
        out.n_min_trials = v as usize;
    }
    r.finish(out)
}

/// The percentile rule (and the median rule, at 50).
#[derive(Debug, Clone, PartialEq)]
pub struct Percentile {
    objective: ObjectiveType,
    settings: PercentileSettings,
    /// "percentile" or "median", for messages.
    name: &'static str,
}

impl Percentile {
    pub fn new(objective: ObjectiveType, settings: PercentileSettings) -> Self {
        Percentile {
            objective,
            settings,
            name: "percentile",
        }
    }

    /// Optuna's MedianPruner: the 50th percentile.
    pub fn median(objective: ObjectiveType, settings: PercentileSettings) -> Self {
        Percentile {
            objective,
            settings: PercentileSettings {
                percentile: 50.0,
                ..settings
            },
            name: "median",
        }
    }

    pub fn settings(&self) -> PercentileSettings {
        self.settings
    }
}

impl StoppingRule for Percentile {
    fn should_stop(&mut self, trial: &TrialView, history: &[TrialView]) -> Option<String> {
        let s = &self.settings;
        let done: Vec<&TrialView> = completed(history, &trial.name).collect();
        if done.is_empty() || done.len() < s.n_startup_trials {
            return None;
        }
        let steps = by_step(&trial.intermediate);
        let step = *steps.keys().next_back()?;
        if step < s.n_warmup_steps
            || !first_in_interval(
                step,
                steps.keys().copied(),
                s.n_warmup_steps,
                s.interval_steps,
            )
        {
            return None;
        }
        let objective = self.objective;
        let best = best_of(objective, steps.values().copied())?;
        if best.is_infinite() && steps.values().all(|v| v.is_nan()) {
            return Some(format!(
                "{}: every value up to step {step} is NaN",
                self.name
            ));
        }
        let at_step: Vec<f64> = done
            .iter()
            .filter_map(|t| by_step(&t.intermediate).get(&step).copied())
            .collect();
        if at_step.len() < s.n_min_trials {
            return None;
        }
        let values: Vec<f64> = at_step.into_iter().filter(|v| !v.is_nan()).collect();
        let q = match objective {
            ObjectiveType::Minimize => s.percentile,
            ObjectiveType::Maximize => 100.0 - s.percentile,
        };
        let cutoff = percentile(&values, q)?;
        objective.better(cutoff, best).then(|| {
            let what = if self.name == "median" {
                "the median".to_string()
            } else {
                format!("the {} percentile (from the best)", ordinal(s.percentile))
            };
            format!(
                "{}: best value {} up to step {step} is worse than {what} {} of {} completed \
                 trials' values at step {step}",
                self.name,
                num(best),
                num(cutoff),
                values.len()
            )
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stopping::tests::{done, running, settings};
    use crate::stopping::validate_rule;

    fn at(step: i64, v: f64) -> Vec<(i64, f64)> {
        vec![(step, v)]
    }

    fn p(objective: ObjectiveType, percentile: f64, startup: usize) -> Percentile {
        Percentile::new(
            objective,
            PercentileSettings {
                percentile,
                n_startup_trials: startup,
                ..Default::default()
            },
        )
    }

    /// Optuna's test_25_percentile_pruner_intermediate_values: completed trials reported
    /// 1..5 at step 1; 2.1 stops when minimising, 3.9 when maximising.
    #[test]
    fn matches_optunas_25th_percentile_cases() {
        let h: Vec<TrialView> = (1..=5)
            .map(|i| done(&format!("t{i}"), at(1, i as f64)))
            .collect();
        let mut min = p(ObjectiveType::Minimize, 25.0, 0);
        let reason = min.should_stop(&running("x", at(1, 2.1)), &h).unwrap();
        assert_eq!(
            reason,
            "percentile: best value 2.1 up to step 1 is worse than the 25th percentile (from \
             the best) 2 of 5 completed trials' values at step 1"
        );
        assert_eq!(min.should_stop(&running("x", at(1, 2.0)), &h), None);
        assert_eq!(min.should_stop(&running("x", vec![]), &h), None);
        let mut max = p(ObjectiveType::Maximize, 25.0, 0);
        let reason = max.should_stop(&running("x", at(1, 3.9)), &h).unwrap();
        assert!(
            reason.contains("the 25th percentile (from the best) 4 of 5"),
            "{reason}"
        );
        assert_eq!(max.should_stop(&running("x", at(1, 4.0)), &h), None);
    }

    #[test]
    fn compares_the_best_so_far_with_values_at_the_latest_step() {
        // Completed trials: 10, 20, 30 at step 3 (and nothing that low before).
        let h: Vec<TrialView> = [10.0, 20.0, 30.0]
            .iter()
            .enumerate()
            .map(|(i, v)| done(&format!("c{i}"), vec![(0, 100.0), (3, *v)]))
            .collect();
        let mut m = Percentile::median(
            ObjectiveType::Minimize,
            PercentileSettings {
                n_startup_trials: 3,
                ..Default::default()
            },
        );
        // Best so far 15 (at step 1) beats the median 20 even though the latest is 25.
        let t = running("t", vec![(0, 50.0), (1, 15.0), (3, 25.0)]);
        assert_eq!(m.should_stop(&t, &h), None);
        let t = running("t", vec![(0, 50.0), (1, 21.0), (3, 25.0)]);
        let reason = m.should_stop(&t, &h).unwrap();
        assert_eq!(
            reason,
            "median: best value 21 up to step 3 is worse than the median 20 of 3 completed \
             trials' values at step 3"
        );
        // At a step where no completed trial reported, nothing stops.
        let t = running("t", vec![(0, 50.0), (2, 99.0)]);
        assert_eq!(m.should_stop(&t, &h), None);
        // n_startup_trials: three completed trials are not four.
        let mut m4 = Percentile::median(ObjectiveType::Minimize, PercentileSettings::default());
        m4.settings.n_startup_trials = 4;
        let t = running("t", vec![(3, 99.0)]);
        assert_eq!(m4.should_stop(&t, &h), None);
        assert!(m.should_stop(&t, &h).is_some());
        // n_min_trials: three completed trials reported at step 3, four are required.
        let mut m5 = m.clone();
        m5.settings.n_min_trials = 4;
        assert_eq!(m5.should_stop(&t, &h), None);
    }

    #[test]
    fn warm_up_and_interval_follow_optuna() {
        let h: Vec<TrialView> = (0..5)
            .map(|i| done(&format!("c{i}"), (0..20).map(|s| (s, 1.0)).collect()))
            .collect();
        let mut r = Percentile::median(
            ObjectiveType::Minimize,
            PercentileSettings {
                n_warmup_steps: 3,
                interval_steps: 5,
                ..Default::default()
            },
        );
        let bad = |steps: &[i64]| running("t", steps.iter().map(|s| (*s, 9.0)).collect());
        assert_eq!(r.should_stop(&bad(&[0, 1, 2]), &h), None); // warming up
        assert!(r.should_stop(&bad(&[0, 1, 2, 3]), &h).is_some()); // step 3 is a check
        assert_eq!(r.should_stop(&bad(&[0, 1, 2, 3, 4]), &h), None); // between checks
        assert!(r.should_stop(&bad(&[0, 1, 2, 3, 4, 8]), &h).is_some()); // step 8
        // No report at 8: the check happens at the next report, 9 (or 11).
        assert!(r.should_stop(&bad(&[3, 7, 9]), &h).is_some());
        assert!(r.should_stop(&bad(&[3, 7, 11]), &h).is_some());
        assert_eq!(r.should_stop(&bad(&[3, 9, 11]), &h), None);
    }

    #[test]
    fn nan_follows_optuna() {
        let mut h: Vec<TrialView> = (0..3)
            .map(|i| done(&format!("c{i}"), at(1, f64::NAN)))
            .collect();
        let mut r = p(ObjectiveType::Minimize, 25.0, 0);
        // The trial's own values all NaN: it stops.
        let reason = r.should_stop(&running("t", at(1, f64::NAN)), &h).unwrap();
        assert_eq!(reason, "percentile: every value up to step 1 is NaN");
        // The completed trials' values at the step all NaN: no cutoff, it runs.
        assert_eq!(r.should_stop(&running("t", at(1, 1.0)), &h), None);
        // NaN among completed values is left out: [0.1..0.5] → 25th percentile 0.2.
        for (i, v) in [0.1, 0.2, 0.3, 0.4, 0.5].into_iter().enumerate() {
            h.push(done(&format!("d{i}"), at(1, v)));
        }
        let reason = r.should_stop(&running("t", at(1, 0.21)), &h).unwrap();
        assert!(reason.contains("0.2 of 5 completed"), "{reason}");
        assert_eq!(r.should_stop(&running("t", at(1, 0.2)), &h), None);
        // A NaN in the trial's own curve is not its best.
        let t = running("t", vec![(0, 0.1), (1, f64::NAN)]);
        assert_eq!(r.should_stop(&t, &h), None);
    }

    #[test]
    fn needs_a_completed_trial_even_without_startup() {
        let mut r = p(ObjectiveType::Minimize, 25.0, 0);
        assert_eq!(r.should_stop(&running("t", at(1, f64::NAN)), &[]), None);
    }

    #[test]
    fn settings_are_validated() {
        assert!(validate_rule("percentile", &[]).is_empty());
        assert!(validate_rule("median", &settings(&[("n_warmup_steps", "10")])).is_empty());
        let errors = validate_rule(
            "percentile",
            &settings(&[
                ("percentile", "101"),
                ("n_startup_trials", "-1"),
                ("n_warmup_steps", "1.5"),
                ("interval_steps", "0"),
                ("n_min_trials", "0"),
            ]),
        );
        let got: Vec<String> = errors.iter().map(|e| e.to_string()).collect();
        assert_eq!(
            got,
            [
                "spec.earlyStopping.algorithmSettings[0].value: percentile must be a number \
                 from 0 to 100, got \"101\"",
                "spec.earlyStopping.algorithmSettings[1].value: n_startup_trials must be a \
                 non-negative integer, got \"-1\"",
                "spec.earlyStopping.algorithmSettings[2].value: n_warmup_steps must be a \
                 non-negative integer, got \"1.5\"",
                "spec.earlyStopping.algorithmSettings[3].value: interval_steps must be an \
                 integer of at least 1, got \"0\"",
                "spec.earlyStopping.algorithmSettings[4].value: n_min_trials must be an \
                 integer of at least 1, got \"0\"",
            ]
        );
        let errors = validate_rule("median", &settings(&[("percentile", "25")]));
        assert_eq!(errors.len(), 1);
        assert_eq!(
            errors[0].path,
            "spec.earlyStopping.algorithmSettings[0].name"
        );
        assert_eq!(
            errors[0].message,
            "unknown setting \"percentile\" for rule \"median\" (accepted: n_startup_trials, \
             n_warmup_steps, interval_steps, n_min_trials)"
        );
    }
}
