//! `patient`: Optuna's PatientPruner. It tolerates a trial while it keeps up: only when the
//! best of its last `patience + 1` values is worse than the best before them by more than
//! `min_delta` is the trial "stagnant". Alone, a stagnant trial stops (early stopping within
//! one trial, no other trials needed); with `wrapped`, a stagnant trial stops only when the
//! wrapped rule says so too, which keeps a rule such as `median` from stopping a trial that
//! is still improving.
//!
//! As in Optuna, values are taken one per step (the first report of a step), and "worse by
//! more than `min_delta`" is the test: a plateau at the previous best is not stagnant. One
//! difference: NaN counts as the worst value, so a trial whose recent values are all NaN is
//! stagnant (Optuna's `nanmin` of an all-NaN window is NaN, which never prunes).

use super::common::{
    Reader, SETTINGS_PATH, Setting, best_of, by_step, int_at_least, num, number, unknown_setting,
};
use super::{Config, Resource, StoppingRule, accepted_settings, parse_rule};
use ferrotune_core::load::did_you_mean;
use ferrotune_core::{FieldError, ObjectiveType, TrialView};

/// `patient`'s own settings; every other setting goes to the `wrapped` rule.
pub const SETTINGS: &[&str] = &["patience", "min_delta", "wrapped"];

/// Rules that `patient` can wrap (all but itself).
pub const WRAPPABLE: &[&str] = &["medianstop", "percentile", "median", "threshold", "asha"];

/// `patient`'s settings.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PatientSettings {
    /// Reports without enough progress tolerated (required, >= 0).
    pub patience: usize,
    /// How much worse than the earlier best the recent best may be (default 0, >= 0).
    pub min_delta: f64,
}

/// What `patient` parses into: its settings and the wrapped rule's name and settings.
pub(crate) type PatientConfig = (PatientSettings, Option<Box<Config>>);

pub(crate) fn parse(settings: &[Setting]) -> Result<PatientConfig, Vec<FieldError>> {
    let mut errors = Vec::new();
    // The wrapped rule, if it names one (the last `wrapped` counts).
    let mut wrapped: Option<&'static str> = None;
    let mut wrapped_invalid = false;
    for s in settings.iter().filter(|s| s.name == "wrapped") {
        let name = s.value.trim();
        wrapped = WRAPPABLE.iter().copied().find(|w| *w == name);
        if wrapped.is_none() {
            wrapped_invalid = true;
            let hint = did_you_mean(name, WRAPPABLE.iter().copied())
                .map(|h| format!("; did you mean {h:?}?"))
                .unwrap_or_default();
            let what = if name == "patient" {
                "patient cannot wrap itself"
            } else {
                "wrapped must name another early-stopping rule"
            };
            errors.push(FieldError::new(
                s.value_path(),
                format!("{what} ({}), got {:?}{hint}", WRAPPABLE.join(", "), s.value),
            ));
        } else {
            wrapped_invalid = false;
        }
    }
    let (own, rest): (Vec<Setting>, Vec<Setting>) =
        settings.iter().partition(|s| SETTINGS.contains(&s.name));
    let mut forwarded = Vec::new();
    match wrapped {
        Some(w) if !wrapped_invalid => {
            let theirs = accepted_settings(w).unwrap_or(&[]);
            let all: Vec<&str> = SETTINGS.iter().chain(theirs).copied().collect();
            for s in rest {
                if theirs.contains(&s.name) {
                    forwarded.push(s);
                } else {
                    errors.push(FieldError::new(
                        s.name_path(),
                        unknown_setting(&format!("patient (wrapping {w})"), s.name, &all, ""),
                    ));
                }
            }
        }
        // A misspelt `wrapped` already has its error; its settings cannot be checked.
        _ if wrapped_invalid => {}
        _ => {
            for s in rest {
                errors.push(FieldError::new(
                    s.name_path(),
                    unknown_setting(
                        "patient",
                        s.name,
                        SETTINGS,
                        "; set wrapped to pass other settings to the rule it names",
                    ),
                ));
            }
        }
    }
    let mut r = Reader::new("patient", SETTINGS, &own);
    let patience = r.get(
        "patience",
        int_at_least(0),
        "patience must be a non-negative integer",
    );
    if !r.given("patience") {
        r.error(
            SETTINGS_PATH,
            "rule \"patient\" needs patience (a non-negative integer: how many reports may \
             pass without progress)",
        );
    }
    let min_delta = r
        .get(
            "min_delta",
            number(|d| d >= 0.0),
            "min_delta must be a non-negative number",
        )
        .unwrap_or(0.0);
    errors.extend(std::mem::take(&mut r.errors));
    let inner = match wrapped {
        Some(w) if !wrapped_invalid => match parse_rule(w, &forwarded) {
            Ok(config) => Some(Box::new(config)),
            Err(e) => {
                errors.extend(e);
                None
            }
        },
        _ => None,
    };
    match patience {
        Some(p) if errors.is_empty() => Ok((
            PatientSettings {
                patience: p as usize,
                min_delta,
            },
            inner,
        )),
        _ => Err(errors),
    }
}

/// The patient rule, alone or around another.
pub struct Patient {
    objective: ObjectiveType,
    settings: PatientSettings,
    wrapped: Option<Box<dyn StoppingRule>>,
}

impl Patient {
    pub fn new(
        objective: ObjectiveType,
        settings: PatientSettings,
        wrapped: Option<Box<dyn StoppingRule>>,
    ) -> Self {
        Patient {
            objective,
            settings,
            wrapped,
        }
    }

    pub fn settings(&self) -> PatientSettings {
        self.settings
    }

    /// Why the trial is stagnant, if it is (the last `patience + 1` steps against those
    /// before them).
    fn stagnant(&self, trial: &TrialView) -> Option<String> {
        let steps = by_step(&trial.intermediate);
        let window = self.settings.patience + 1;
        if steps.len() <= window {
            return None;
        }
        let split = steps.len() - window;
        let values: Vec<f64> = steps.values().copied().collect();
        let objective = self.objective;
        let before = best_of(objective, values[..split].iter().copied())?;
        let after = best_of(objective, values[split..].iter().copied())?;
        let delta = self.settings.min_delta;
        let stagnant = match objective {
            ObjectiveType::Minimize => before + delta < after,
            ObjectiveType::Maximize => before - delta > after,
        };
        let first = steps.keys().nth(split)?;
        let last = steps.keys().next_back()?;
        let span = if first == last {
            format!("the last report (step {last})")
        } else {
            format!("the last {window} reports (steps {first} to {last})")
        };
        stagnant.then(|| {
            format!(
                "best value {} in {span} is worse than the best {} before them by more \
                 than min_delta {}",
                num(after),
                num(before),
                num(delta)
            )
        })
    }
}

impl StoppingRule for Patient {
    fn should_stop(&mut self, trial: &TrialView, history: &[TrialView]) -> Option<String> {
        let why = self.stagnant(trial)?;
        match self.wrapped.as_mut() {
            None => Some(format!("patient: {why}")),
            Some(w) => w
                .should_stop(trial, history)
                .map(|reason| format!("patient: {why}; and {reason}")),
        }
    }

    fn resource(&self) -> Resource {
        self.wrapped
            .as_ref()
            .map_or(Resource::Step, |w| w.resource())
    }

    fn budget_spent(&self, trial: &TrialView) -> Option<String> {
        self.wrapped.as_ref()?.budget_spent(trial)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stopping::tests::{curve, done, running, settings};
    use crate::stopping::{RuleContext, build_rule, validate_rule};

    fn alone(objective: ObjectiveType, patience: usize, min_delta: f64) -> Patient {
        Patient::new(
            objective,
            PatientSettings {
                patience,
                min_delta,
            },
            None,
        )
    }

    /// Optuna's test_patient_pruner_intermediate_values: the steps at which each curve,
    /// reported step by step, is pruned.
    #[test]
    fn matches_optunas_cases() {
        use ObjectiveType::{Maximize, Minimize};
        type Case = (usize, f64, ObjectiveType, &'static [f64], &'static [usize]);
        let cases: [Case; 8] = [
            (0, 0.0, Maximize, &[1.0, 0.0], &[1]),
            (1, 0.0, Maximize, &[2.0, 1.0, 0.0], &[2]),
            (0, 0.0, Minimize, &[0.0, 1.0], &[1]),
            (1, 0.0, Minimize, &[0.0, 1.0, 2.0], &[2]),
            (0, 1.0, Maximize, &[1.0, 0.0], &[]),
            (1, 1.0, Maximize, &[3.0, 2.0, 1.0, 0.0], &[3]),
            (0, 1.0, Minimize, &[0.0, 1.0], &[]),
            (1, 1.0, Minimize, &[0.0, 1.0, 2.0, 3.0], &[3]),
        ];
        for (patience, min_delta, objective, values, expected) in cases {
            let mut r = alone(objective, patience, min_delta);
            let pruned: Vec<usize> = (1..=values.len())
                .filter(|n| {
                    r.should_stop(&running("t", curve(&values[..*n])), &[])
                        .is_some()
                })
                .map(|n| n - 1)
                .collect();
            assert_eq!(
                pruned, expected,
                "{patience} {min_delta} {objective:?} {values:?}"
            );
        }
    }

    #[test]
    fn improving_or_flat_curves_run_on() {
        let mut r = alone(ObjectiveType::Minimize, 2, 0.0);
        assert_eq!(
            r.should_stop(&running("t", curve(&[5.0, 4.0, 3.0, 2.0, 1.0])), &[]),
            None
        );
        // A plateau at the earlier best is not worse than it.
        assert_eq!(
            r.should_stop(&running("t", curve(&[5.0, 1.0, 1.0, 1.0, 1.0])), &[]),
            None
        );
        let reason = r
            .should_stop(&running("t", curve(&[5.0, 1.0, 1.5, 1.2, 1.1])), &[])
            .unwrap();
        assert_eq!(
            reason,
            "patient: best value 1.1 in the last 3 reports (steps 2 to 4) is worse than the \
             best 1 before them by more than min_delta 0"
        );
        // Tolerance: 0.2 worse than the best is within min_delta 0.25.
        let mut tolerant = alone(ObjectiveType::Minimize, 2, 0.25);
        assert_eq!(
            tolerant.should_stop(&running("t", curve(&[5.0, 1.0, 1.5, 1.2, 1.2])), &[]),
            None
        );
    }

    #[test]
    fn nan_is_the_worst_value() {
        // Optuna's test_patient_pruner_intermediate_values_nan: nan then 1.0 does not prune.
        let mut r = alone(ObjectiveType::Minimize, 0, 0.0);
        assert_eq!(r.should_stop(&running("t", curve(&[f64::NAN])), &[]), None);
        assert_eq!(
            r.should_stop(&running("t", curve(&[f64::NAN, 1.0])), &[]),
            None
        );
        // Deliberately unlike Optuna: a NaN window after a real value is stagnant.
        let reason = r
            .should_stop(&running("t", curve(&[f64::NAN, 1.0, f64::NAN])), &[])
            .unwrap();
        assert!(
            reason.contains("best value inf in the last report (step 2)"),
            "{reason}"
        );
        let mut max = alone(ObjectiveType::Maximize, 1, 0.0);
        assert!(
            max.should_stop(&running("t", curve(&[1.0, f64::NAN, f64::NAN])), &[])
                .is_some()
        );
    }

    #[test]
    fn wrapped_rule_decides_only_when_stagnant() {
        let ctx = |pairs: &[(&str, &str)]| RuleContext {
            rule: "patient".into(),
            settings: settings(pairs),
            objective: ObjectiveType::Minimize,
            seed: 0,
        };
        let mut r = build_rule(ctx(&[
            ("patience", "1"),
            ("wrapped", "threshold"),
            ("upper", "1.0"),
        ]))
        .unwrap();
        // Above upper but improving: the wrapped rule is not asked.
        assert_eq!(
            r.should_stop(&running("t", curve(&[5.0, 4.0, 3.0])), &[]),
            None
        );
        // Stagnant but within the bounds: the wrapped rule says run on.
        assert_eq!(
            r.should_stop(&running("t", curve(&[0.1, 0.5, 0.6])), &[]),
            None
        );
        // Stagnant and above upper.
        let reason = r
            .should_stop(&running("t", curve(&[0.1, 0.5, 2.0])), &[])
            .unwrap();
        assert_eq!(
            reason,
            "patient: best value 0.5 in the last 2 reports (steps 1 to 2) is worse than the \
             best 0.1 before them by more than min_delta 0; and threshold: value 2 at step 2 \
             is above upper 1"
        );
        // Wrapping median: the other settings go to it.
        let mut r = build_rule(ctx(&[
            ("wrapped", "median"),
            ("n_startup_trials", "1"),
            ("patience", "0"),
        ]))
        .unwrap();
        let h = vec![done("c", curve(&[1.0, 1.0, 1.0]))];
        assert!(
            r.should_stop(&running("t", curve(&[0.5, 2.0, 3.0])), &h)
                .is_none()
        );
        assert!(
            r.should_stop(&running("t", curve(&[2.0, 3.0])), &h)
                .is_some()
        );
        // Wrapping asha with time_attr: the resource is asha's.
        let r = build_rule(ctx(&[
            ("wrapped", "asha"),
            ("patience", "0"),
            ("time_attr", "epoch"),
        ]))
        .unwrap();
        assert_eq!(r.resource(), Resource::Metric("epoch".into()));
    }

    #[test]
    fn settings_are_checked_with_their_own_indices() {
        let e = validate_rule("patient", &[]);
        assert_eq!(e.len(), 1);
        assert_eq!(e[0].path, "spec.earlyStopping.algorithmSettings");
        assert!(e[0].message.contains("needs patience"), "{}", e[0]);
        let e = validate_rule(
            "patient",
            &settings(&[
                ("patience", "-1"),
                ("min_delta", "-0.1"),
                ("n_startup_trials", "3"),
            ]),
        );
        let got: Vec<String> = e.iter().map(|e| e.to_string()).collect();
        assert_eq!(
            got,
            [
                "spec.earlyStopping.algorithmSettings[0].value: patience must be a \
                 non-negative integer, got \"-1\"",
                "spec.earlyStopping.algorithmSettings[1].value: min_delta must be a \
                 non-negative number, got \"-0.1\"",
                "spec.earlyStopping.algorithmSettings[2].name: unknown setting \
                 \"n_startup_trials\" for rule \"patient\" (accepted: patience, min_delta, \
                 wrapped; set wrapped to pass other settings to the rule it names)",
            ]
        );
        // Settings of the wrapped rule keep their indices; typos are caught with a hint.
        let e = validate_rule(
            "patient",
            &settings(&[
                ("wrapped", "percentile"),
                ("patience", "2"),
                ("percentile", "200"),
                ("n_startup_trails", "2"),
            ]),
        );
        let got: Vec<String> = e.iter().map(|e| e.to_string()).collect();
        assert_eq!(got.len(), 2, "{got:?}");
        assert_eq!(
            got[0],
            "spec.earlyStopping.algorithmSettings[2].value: percentile must be a number from 0 \
             to 100, got \"200\""
        );
        assert!(
            got[1].starts_with(
                "spec.earlyStopping.algorithmSettings[3].name: unknown setting \
                 \"n_startup_trails\" for rule \"patient (wrapping percentile)\", did you mean \
                 \"n_startup_trials\"?"
            ),
            "{}",
            got[1]
        );
        let e = validate_rule(
            "patient",
            &settings(&[("patience", "1"), ("wrapped", "medain"), ("x", "1")]),
        );
        assert_eq!(e.len(), 1, "{e:?}");
        assert_eq!(e[0].path, "spec.earlyStopping.algorithmSettings[1].value");
        assert_eq!(
            e[0].message,
            "wrapped must name another early-stopping rule (medianstop, percentile, median, \
             threshold, asha), got \"medain\"; did you mean \"median\"?"
        );
        let e = validate_rule(
            "patient",
            &settings(&[("patience", "1"), ("wrapped", "patient")]),
        );
        assert!(
            e[0].message.starts_with("patient cannot wrap itself"),
            "{}",
            e[0]
        );
        // The wrapped rule's own requirements apply.
        let e = validate_rule(
            "patient",
            &settings(&[("patience", "1"), ("wrapped", "threshold")]),
        );
        assert_eq!(e.len(), 1);
        assert!(
            e[0].message.contains("needs lower, upper or both"),
            "{}",
            e[0]
        );
    }
}
