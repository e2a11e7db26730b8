//! `threshold`: Optuna's ThresholdPruner. A trial stops as soon as its latest value leaves
//! `[lower, upper]` or is NaN: a guard against diverging runs that needs no other trials.
//! Checks follow the same warm-up and interval as `percentile`.

use super::StoppingRule;
use super::common::{Reader, SETTINGS_PATH, Setting, by_step, first_in_interval, num, number};
use super::percentile::read_schedule;
use ferrotune_core::{FieldError, TrialView};

/// The settings `threshold` takes (Optuna's ThresholdPruner's).
pub const SETTINGS: &[&str] = &["lower", "upper", "n_warmup_steps", "interval_steps"];

/// `threshold`'s settings: at least one of `lower` and `upper`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ThresholdSettings {
    pub lower: Option<f64>,
    pub upper: Option<f64>,
    /// Steps before the first check (default 0).
    pub n_warmup_steps: i64,
    /// Steps between checks, from the warm-up on (default 1).
    pub interval_steps: i64,
}

impl Default for ThresholdSettings {
    fn default() -> Self {
        ThresholdSettings {
            lower: None,
            upper: None,
            n_warmup_steps: 0,
            interval_steps: 1,
        }
    }
}

pub(crate) fn parse(
    rule: &str,
    settings: &[Setting],
) -> Result<ThresholdSettings, Vec<FieldError>> {
    let mut r = Reader::new(rule, SETTINGS, settings);
    let mut out = ThresholdSettings {
        lower: r.get("lower", number(|_| true), "lower must be a number"),
        upper: r.get("upper", number(|_| true), "upper must be a number"),
        ..Default::default()
    };
    read_schedule(&mut r, &mut out.n_warmup_steps, &mut out.interval_steps);
    if !r.given("lower") && !r.given("upper") {
        r.error(
            SETTINGS_PATH,
            format!(
                "rule {rule:?} needs lower, upper or both (the values a trial must stay within)"
            ),
        );
    }
    if let (Some(lower), Some(upper)) = (out.lower, out.upper)
        && lower > upper
        && let Some(s) = r.last("upper")
    {
        r.error(
            s.value_path(),
            format!(
                "upper ({}) must not be less than lower ({})",
                num(upper),
                num(lower)
            ),
        );
    }
    r.finish(out)
}

/// The threshold rule.
#[derive(Debug, Clone, PartialEq)]
pub struct Threshold {
    settings: ThresholdSettings,
}

impl Threshold {
    pub fn new(settings: ThresholdSettings) -> Self {
        Threshold { settings }
    }

    pub fn settings(&self) -> ThresholdSettings {
        self.settings
    }
}

impl StoppingRule for Threshold {
    fn should_stop(&mut self, trial: &TrialView, _history: &[TrialView]) -> Option<String> {
        let s = &self.settings;
        let steps = by_step(&trial.intermediate);
        let (&step, &value) = steps.last_key_value()?;
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
        if value.is_nan() {
            return Some(format!("threshold: value at step {step} is NaN"));
        }
        if let Some(lower) = s.lower
            && value < lower
        {
            return Some(format!(
                "threshold: value {} at step {step} is below lower {}",
                num(value),
                num(lower)
            ));
        }
        if let Some(upper) = s.upper
            && value > upper
        {
            return Some(format!(
                "threshold: value {} at step {step} is above upper {}",
                num(value),
                num(upper)
            ));
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stopping::tests::{curve, running, settings};
    use crate::stopping::validate_rule;

    fn rule(lower: Option<f64>, upper: Option<f64>) -> Threshold {
        Threshold::new(ThresholdSettings {
            lower,
            upper,
            ..Default::default()
        })
    }

    /// Optuna's docstring example: upper 1.0 stops [0, 0.1, 0.2, 0.5, 1.2] at 1.2; lower 0
    /// stops [100, 90, 0.1, 0, -1] at -1.
    #[test]
    fn stops_outside_the_bounds_only() {
        let mut upper = rule(None, Some(1.0));
        let ys = [0.0, 0.1, 0.2, 0.5, 1.2];
        for n in 1..ys.len() {
            assert_eq!(upper.should_stop(&running("t", curve(&ys[..n])), &[]), None);
        }
        assert_eq!(
            upper.should_stop(&running("t", curve(&ys)), &[]).unwrap(),
            "threshold: value 1.2 at step 4 is above upper 1"
        );
        let mut lower = rule(Some(0.0), None);
        let ys = [100.0, 90.0, 0.1, 0.0, -1.0];
        for n in 1..ys.len() {
            assert_eq!(lower.should_stop(&running("t", curve(&ys[..n])), &[]), None);
        }
        assert_eq!(
            lower.should_stop(&running("t", curve(&ys)), &[]).unwrap(),
            "threshold: value -1 at step 4 is below lower 0"
        );
        // Only the latest value counts: a trial that came back inside runs on.
        let mut both = rule(Some(0.0), Some(1.0));
        assert_eq!(
            both.should_stop(&running("t", curve(&[5.0, 0.5])), &[]),
            None
        );
    }

    #[test]
    fn nan_stops_and_warm_up_delays() {
        let mut r = rule(None, Some(1.0));
        assert_eq!(
            r.should_stop(&running("t", curve(&[0.5, f64::NAN])), &[])
                .unwrap(),
            "threshold: value at step 1 is NaN"
        );
        assert_eq!(r.should_stop(&running("t", vec![]), &[]), None);
        let mut warm = Threshold::new(ThresholdSettings {
            upper: Some(1.0),
            n_warmup_steps: 2,
            interval_steps: 2,
            ..Default::default()
        });
        assert_eq!(
            warm.should_stop(&running("t", curve(&[9.0, 9.0])), &[]),
            None
        );
        assert!(
            warm.should_stop(&running("t", curve(&[9.0, 9.0, 9.0])), &[])
                .is_some()
        );
        assert_eq!(warm.should_stop(&running("t", curve(&[9.0; 4])), &[]), None);
        assert!(
            warm.should_stop(&running("t", curve(&[9.0; 5])), &[])
                .is_some()
        );
    }

    #[test]
    fn settings_need_a_bound_in_order() {
        assert!(validate_rule("threshold", &settings(&[("lower", "-1e3")])).is_empty());
        assert!(
            validate_rule("threshold", &settings(&[("lower", "0"), ("upper", "0")])).is_empty()
        );
        let e = validate_rule("threshold", &settings(&[("n_warmup_steps", "2")]));
        assert_eq!(e.len(), 1);
        assert_eq!(e[0].path, "spec.earlyStopping.algorithmSettings");
        assert_eq!(
            e[0].message,
            "rule \"threshold\" needs lower, upper or both (the values a trial must stay within)"
        );
        let e = validate_rule("threshold", &settings(&[("upper", "1"), ("lower", "2")]));
        assert_eq!(e.len(), 1);
        assert_eq!(e[0].path, "spec.earlyStopping.algorithmSettings[0].value");
        assert_eq!(e[0].message, "upper (1) must not be less than lower (2)");
        let e = validate_rule("threshold", &settings(&[("upper", "nan"), ("lowr", "1")]));
        let got: Vec<String> = e.iter().map(|e| e.to_string()).collect();
        assert_eq!(
            got,
            [
                "spec.earlyStopping.algorithmSettings[0].value: upper must be a number, got \
                 \"nan\"",
                "spec.earlyStopping.algorithmSettings[1].name: unknown setting \"lowr\" for \
                 rule \"threshold\", did you mean \"lower\"? (accepted: lower, upper, \
                 n_warmup_steps, interval_steps)",
            ]
        );
    }
}
