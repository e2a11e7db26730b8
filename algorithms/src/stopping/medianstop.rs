//! `medianstop`: Katib's early-stopping algorithm, as the true median stopping rule of
//! Google Vizier (which Ray Tune's `MedianStoppingRule` also implements).
//!
//! A running trial whose latest step `s` is at least `start_step` stops when its best value
//! over the reports up to `s` is worse than the median of the completed (Succeeded)
//! trials' running averages up to `s`, once at least `min_trials_required` completed trials
//! have reports by then. Katib's own service averages the averages instead of taking their
//! median; the median is what the rule's name and the paper say, and it ignores outliers.
//!
//! Katib also hands the rule to its metrics collector as a fixed threshold
//! ([`MedianStop::threshold`]): the median of completed trials' averages over their first
//! `start_step` reports, compared with LESS (maximize) or GREATER (minimize).

use super::StoppingRule;
use super::common::{
    Reader, Setting, best_of, completed, int_at_least, mean_or_worst, median, num,
};
use ferrotune_core::{FieldError, ObjectiveType, TrialView};

/// The settings `medianstop` takes (Katib's).
pub const SETTINGS: &[&str] = &["min_trials_required", "start_step"];

/// `medianstop`'s settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MedianStopSettings {
    /// Completed trials needed before any trial is stopped (default 3, > 0).
    pub min_trials_required: usize,
    /// The first step at which a trial may stop (default 4, >= 1).
    pub start_step: i64,
}

impl Default for MedianStopSettings {
    fn default() -> Self {
        MedianStopSettings {
            min_trials_required: 3,
            start_step: 4,
        }
    }
}

pub(crate) fn parse(
    rule: &str,
    settings: &[Setting],
) -> Result<MedianStopSettings, Vec<FieldError>> {
    let mut r = Reader::new(rule, SETTINGS, settings);
    let mut out = MedianStopSettings::default();
    if let Some(v) = r.get(
        "min_trials_required",
        int_at_least(1),
        "min_trials_required must be an integer greater than 0",
    ) {
        out.min_trials_required = v as usize;
    }
    if let Some(v) = r.get(
        "start_step",
        int_at_least(1),
        "start_step must be an integer of at least 1",
    ) {
        out.start_step = v;
    }
    r.finish(out)
}

/// The median stopping rule.
#[derive(Debug, Clone, PartialEq)]
pub struct MedianStop {
    objective: ObjectiveType,
    settings: MedianStopSettings,
}

impl MedianStop {
    pub fn new(objective: ObjectiveType, settings: MedianStopSettings) -> Self {
        MedianStop {
            objective,
            settings,
        }
    }

    pub fn settings(&self) -> MedianStopSettings {
        self.settings
    }

    /// Katib's EarlyStoppingRule value: the median of the completed trials' averages over
    /// their first `start_step` reports (in report order), or `None` while fewer than
    /// `min_trials_required` completed trials have reported. A trial is to stop once it has
    /// `start_step` reports and its value is worse than this (GREATER when minimising,
    /// LESS when maximising).
    pub fn threshold(&self, history: &[TrialView]) -> Option<f64> {
        let first = self.settings.start_step as usize;
        let averages: Vec<f64> = completed(history, "")
            .filter_map(|t| {
                let values: Vec<f64> = t.intermediate.iter().take(first).map(|r| r.1).collect();
                mean_or_worst(self.objective, &values)
            })
            .collect();
        if averages.len() < self.settings.min_trials_required {
            return None;
        }
        median(&averages)
    }
}

impl StoppingRule for MedianStop {
    fn should_stop(&mut self, trial: &TrialView, history: &[TrialView]) -> Option<String> {
        let step = trial.intermediate.iter().map(|r| r.0).max()?;
        if step < self.settings.start_step {
            return None;
        }
        let objective = self.objective;
        let best = best_of(
            objective,
            trial
                .intermediate
                .iter()
                .filter(|r| r.0 <= step)
                .map(|r| r.1),
        )?;
        let averages: Vec<f64> = completed(history, &trial.name)
            .filter_map(|t| {
                let values: Vec<f64> = t
                    .intermediate
                    .iter()
                    .filter(|r| r.0 <= step)
                    .map(|r| r.1)
                    .collect();
                mean_or_worst(objective, &values)
            })
            .collect();
        if averages.len() < self.settings.min_trials_required {
            return None;
        }
        let median = median(&averages)?;
        objective.better(median, best).then(|| {
            format!(
                "medianstop: best value {} by step {step} is worse than the median {} of {} \
                 completed trials' running averages up to step {step}",
                num(best),
                num(median),
                averages.len()
            )
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stopping::tests::{curve, done, running};
    use crate::stopping::{RuleContext, build_rule, validate_rule};

    fn rule(objective: ObjectiveType) -> MedianStop {
        MedianStop::new(objective, MedianStopSettings::default())
    }

    /// Three completed trials whose running averages up to step 4 are 1.0, 2.0 and 3.0.
    fn history(sign: f64) -> Vec<TrialView> {
        vec![
            done(
                "a",
                curve(&[1.0, 1.0, 1.0, 1.0, 1.0, 1.0].map(|v| v * sign)),
            ),
            done(
                "b",
                curve(&[2.0, 2.0, 2.0, 2.0, 2.0, 2.0].map(|v| v * sign)),
            ),
            done("c", curve(&[5.0, 3.0, 2.0, 3.0, 2.0].map(|v| v * sign))),
        ]
    }

    #[test]
    fn stops_a_bad_curve_and_keeps_a_good_one_after_start_step() {
        for (objective, sign) in [
            (ObjectiveType::Minimize, 1.0),
            (ObjectiveType::Maximize, -1.0),
        ] {
            let mut r = rule(objective);
            let h = history(sign);
            let bad = running("bad", curve(&[4.0, 3.5, 3.0, 2.5, 2.1].map(|v| v * sign)));
            // Before start_step nothing stops, however bad.
            let early = running("bad", curve(&[9.0, 9.0, 9.0, 9.0].map(|v| v * sign)));
            assert_eq!(r.should_stop(&early, &h), None);
            let reason = r
                .should_stop(&bad, &h)
                .expect("a curve worse than the median stops");
            let expected_best = if sign > 0.0 { "2.1" } else { "-2.1" };
            let expected_median = if sign > 0.0 { "2" } else { "-2" };
            assert_eq!(
                reason,
                format!(
                    "medianstop: best value {expected_best} by step 4 is worse than the median \
                     {expected_median} of 3 completed trials' running averages up to step 4"
                )
            );
            let good = running("good", curve(&[4.0, 3.0, 2.0, 1.5, 1.9].map(|v| v * sign)));
            assert_eq!(r.should_stop(&good, &h), None);
            // Equal to the median is not worse.
            let tie = running("tie", curve(&[2.0, 2.0, 2.0, 2.0, 2.0].map(|v| v * sign)));
            assert_eq!(r.should_stop(&tie, &h), None);
        }
    }

    #[test]
    fn running_averages_only_count_reports_up_to_the_step() {
        // Completed "c" is 10 up to step 4 and 0 afterwards: at step 4 its average is 10.
        let mut h = history(1.0);
        h[2] = done(
            "c",
            curve(&[10.0, 10.0, 10.0, 10.0, 10.0, 0.0, 0.0, 0.0, 0.0, 0.0]),
        );
        let mut r = rule(ObjectiveType::Minimize);
        // Averages up to 4: 1, 2, 10 → median 2; best 2.5 stops.
        let t = running("t", curve(&[3.0, 3.0, 3.0, 3.0, 2.5]));
        assert!(r.should_stop(&t, &h).unwrap().contains("median 2 of 3"));
        // Completed trials with no reports by the step do not count.
        let mut late = done("late", vec![(7, 0.0), (8, 0.0)]);
        late.status = ferrotune_core::TrialStatus::Succeeded;
        h.push(late);
        assert!(r.should_stop(&t, &h).unwrap().contains("of 3 completed"));
    }

    #[test]
    fn waits_for_min_trials_required_completed_trials() {
        let mut h = history(1.0);
        // Running, failed and early-stopped trials are not completed ones.
        h[2].status = ferrotune_core::TrialStatus::Running;
        let mut r = rule(ObjectiveType::Minimize);
        let bad = running("bad", curve(&[9.0; 6]));
        assert_eq!(r.should_stop(&bad, &h), None);
        h[2].status = ferrotune_core::TrialStatus::EarlyStopped;
        assert_eq!(r.should_stop(&bad, &h), None);
        let mut one = MedianStop::new(
            ObjectiveType::Minimize,
            MedianStopSettings {
                min_trials_required: 1,
                start_step: 1,
            },
        );
        assert!(
            one.should_stop(&running("bad", curve(&[9.0, 9.0])), &h[..1])
                .is_some()
        );
        assert_eq!(
            one.should_stop(&running("bad", curve(&[9.0])), &h[..1]),
            None
        );
    }

    #[test]
    fn nan_counts_as_the_worst_value() {
        let h = history(1.0);
        let mut r = rule(ObjectiveType::Minimize);
        let nan = running("nan", curve(&[f64::NAN; 5]));
        let reason = r.should_stop(&nan, &h).unwrap();
        assert!(reason.contains("best value inf"), "{reason}");
        // A NaN among good values does not hide them.
        let mostly_good = running("ok", curve(&[f64::NAN, 0.5, f64::NAN, 0.4, f64::NAN]));
        assert_eq!(r.should_stop(&mostly_good, &h), None);
        // A completed trial with a NaN report has the worst average: the median moves up.
        let mut h2 = history(1.0);
        h2[0] = done("a", curve(&[1.0, f64::NAN, 1.0, 1.0, 1.0]));
        let t = running("t", curve(&[2.9, 2.9, 2.9, 2.9, 2.9]));
        assert_eq!(r.should_stop(&t, &h2), None); // averages 2, 3, inf → median 3
        assert!(r.should_stop(&t, &h).is_some()); // averages 1, 2, 3 → median 2
    }

    #[test]
    fn threshold_is_the_median_of_the_first_start_step_averages() {
        let h = history(1.0);
        let r = rule(ObjectiveType::Minimize);
        // First 4 reports: 1, 2, (5+3+2+3)/4 = 3.25 → median 2.
        assert_eq!(r.threshold(&h), Some(2.0));
        assert_eq!(r.threshold(&h[..2]), None);
        let r = MedianStop::new(
            ObjectiveType::Maximize,
            MedianStopSettings {
                min_trials_required: 2,
                start_step: 2,
            },
        );
        // First 2 reports: 1, 2, 4 → median 2.
        assert_eq!(r.threshold(&h), Some(2.0));
        assert_eq!(r.threshold(&h[..2]), Some(1.5));
    }

    #[test]
    fn settings_are_validated_at_their_values() {
        let s = |pairs: &[(&str, &str)]| -> Vec<(String, String)> {
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect()
        };
        assert!(validate_rule("medianstop", &[]).is_empty());
        assert!(
            validate_rule(
                "medianstop",
                &s(&[("min_trials_required", "1"), ("start_step", " 10 ")])
            )
            .is_empty()
        );
        let errors = validate_rule(
            "medianstop",
            &s(&[
                ("min_trials_required", "0"),
                ("start_step", "0"),
                ("start_stp", "3"),
            ]),
        );
        let got: Vec<(String, String)> = errors.into_iter().map(|e| (e.path, e.message)).collect();
        assert_eq!(
            got,
            [
                (
                    "spec.earlyStopping.algorithmSettings[0].value".to_string(),
                    "min_trials_required must be an integer greater than 0, got \"0\"".to_string()
                ),
                (
                    "spec.earlyStopping.algorithmSettings[1].value".to_string(),
                    "start_step must be an integer of at least 1, got \"0\"".to_string()
                ),
                (
                    "spec.earlyStopping.algorithmSettings[2].name".to_string(),
                    "unknown setting \"start_stp\" for rule \"medianstop\", did you mean \
                     \"start_step\"? (accepted: min_trials_required, start_step)"
                        .to_string()
                ),
            ]
        );
        let err = build_rule(RuleContext {
            rule: "medianstop".into(),
            settings: s(&[("start_step", "x")]),
            objective: ObjectiveType::Minimize,
            seed: 0,
        })
        .err()
        .unwrap();
        assert!(err.to_string().contains("start_step must be"), "{err}");
    }
}
