//! Early-stopping rules (`spec.earlyStopping`): pure, synchronous and seeded, like the
//! search algorithms. The controller calls a rule whenever a running trial reports new
//! intermediate values, so unpromising trials stop as their metrics arrive.
//!
//! A rule sees every trial of the experiment as a [`TrialView`] whose `intermediate` holds
//! the objective's reports as `(resource, value)` in report order; the resource is the
//! report's step unless the rule's `time_attr` names another metric (see
//! [`StoppingRule::resource`]).
//!
//! The rules, one per file: [`medianstop`] (Katib's), [`percentile`] and `median`
//! (Optuna's PercentilePruner and MedianPruner), [`threshold`] (Optuna's ThresholdPruner),
//! [`patient`] (Optuna's PatientPruner, alone or around another rule) and [`asha`] (Ray
//! Tune's ASHAScheduler). Each behaves like its original so that settings carry over, and
//! each file says where it departs. Completed trials, for the rules that compare with them,
//! are the Succeeded ones; a NaN value counts as the worst unless a file says otherwise.
//! [`validate_rule`] and [`build_rule`] are the only places that know the names.

mod common;

pub mod asha;
pub mod medianstop;
pub mod patient;
pub mod percentile;
pub mod threshold;

pub use asha::{Asha, AshaSettings};
pub use medianstop::{MedianStop, MedianStopSettings};
pub use patient::{Patient, PatientSettings};
pub use percentile::{Percentile, PercentileSettings};
pub use threshold::{Threshold, ThresholdSettings};

use crate::AlgorithmError;
use common::{NAME_PATH, Setting, indexed};
use ferrotune_core::load::did_you_mean;
use ferrotune_core::{FieldError, ObjectiveType, TrialView};

/// The early-stopping rules ferrotune runs (`spec.earlyStopping.algorithmName`).
pub const RULES: &[&str] = &[
    "medianstop",
    "percentile",
    "median",
    "threshold",
    "patient",
    "asha",
];

/// What a rule is built from.
#[derive(Debug, Clone, PartialEq)]
pub struct RuleContext {
    /// `spec.earlyStopping.algorithmName`.
    pub rule: String,
    /// `spec.earlyStopping.algorithmSettings` as `(name, value)`, in file order.
    pub settings: Vec<(String, String)>,
    /// The (first) objective's direction: rules compare values along it.
    pub objective: ObjectiveType,
    /// The experiment's seed (ASHA's bracket assignment is random).
    pub seed: u64,
}

/// What counts as "time" along a trial's curve.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Resource {
    /// The report's step (given by the trial, else the report index).
    Step,
    /// The latest value of this metric at each report, truncated to an integer (epochs,
    /// iterations, seconds).
    Metric(String),
}

/// An early-stopping rule, driven by the controller.
pub trait StoppingRule: Send {
    /// Whether `trial` (running, its `intermediate` just grown) should stop now, and why;
    /// `None` to let it run. `history` holds every trial of the experiment, `trial`
    /// included, each with its intermediate values.
    fn should_stop(&mut self, trial: &TrialView, history: &[TrialView]) -> Option<String>;

    /// Whether `trial` has used the whole budget the rule gives a trial (ASHA's `max_t`),
    /// and so should end as a completed trial rather than an early-stopped one; checked
    /// before [`StoppingRule::should_stop`]. Default: no budget.
    fn budget_spent(&self, _trial: &TrialView) -> Option<String> {
        None
    }

    /// The resource the rule measures progress in (default: the step).
    fn resource(&self) -> Resource {
        Resource::Step
    }
}

/// The settings a rule takes, `None` for an unknown rule (`patient` also passes any setting
/// of the rule it wraps).
pub fn accepted_settings(rule: &str) -> Option<&'static [&'static str]> {
    Some(match rule {
        "medianstop" => medianstop::SETTINGS,
        "percentile" => percentile::SETTINGS,
        "median" => percentile::MEDIAN_SETTINGS,
        "threshold" => threshold::SETTINGS,
        "patient" => patient::SETTINGS,
        "asha" => asha::SETTINGS,
        _ => return None,
    })
}

/// A rule's checked settings, ready to build.
#[derive(Debug)]
pub(crate) enum Config {
    MedianStop(MedianStopSettings),
    Percentile(PercentileSettings),
    Median(PercentileSettings),
    Threshold(ThresholdSettings),
    Patient(PatientSettings, Option<Box<Config>>),
    Asha(AshaSettings),
}

impl Config {
    fn build(self, objective: ObjectiveType, seed: u64) -> Box<dyn StoppingRule> {
        match self {
            Config::MedianStop(s) => Box::new(MedianStop::new(objective, s)),
            Config::Percentile(s) => Box::new(Percentile::new(objective, s)),
            Config::Median(s) => Box::new(Percentile::median(objective, s)),
            Config::Threshold(s) => Box::new(Threshold::new(s)),
            Config::Patient(s, wrapped) => Box::new(Patient::new(
                objective,
                s,
                wrapped.map(|w| w.build(objective, seed)),
            )),
            Config::Asha(s) => Box::new(Asha::new(objective, s, seed)),
        }
    }
}

/// Checks a rule's name and settings; `settings` keep their indices in the file.
pub(crate) fn parse_rule(name: &str, settings: &[Setting]) -> Result<Config, Vec<FieldError>> {
    match name {
        "medianstop" => medianstop::parse(name, settings).map(Config::MedianStop),
        "percentile" => percentile::parse(name, false, settings).map(Config::Percentile),
        "median" => percentile::parse(name, true, settings).map(Config::Median),
        "threshold" => threshold::parse(name, settings).map(Config::Threshold),
        "patient" => patient::parse(settings).map(|(s, w)| Config::Patient(s, w)),
        "asha" => asha::parse(name, settings).map(Config::Asha),
        _ => {
            let hint = did_you_mean(name, RULES.iter().copied())
                .map(|s| format!(", did you mean {s:?}?"))
                .unwrap_or_default();
            Err(vec![FieldError::new(
                NAME_PATH,
                format!(
                    "unknown early-stopping rule {name:?}{hint} (known: {})",
                    RULES.join(", ")
                ),
            )])
        }
    }
}

/// Every problem with a rule's name and settings (`spec.earlyStopping`); empty when
/// [`build_rule`] will succeed.
pub fn validate_rule(name: &str, settings: &[(String, String)]) -> Vec<FieldError> {
    checked(name, settings).err().unwrap_or_default()
}

/// Builds the named rule after the same checks as [`validate_rule`].
pub fn build_rule(ctx: RuleContext) -> Result<Box<dyn StoppingRule>, AlgorithmError> {
    let config = checked(&ctx.rule, &ctx.settings).map_err(AlgorithmError::Settings)?;
    Ok(config.build(ctx.objective, ctx.seed))
}

/// `medianstop` itself (not behind the trait), for Katib's EarlyStopping API, which asks
/// for its threshold; `None` when `name` is another rule.
pub fn katib_median_stop(
    name: &str,
    settings: &[(String, String)],
    objective: ObjectiveType,
) -> Result<Option<MedianStop>, AlgorithmError> {
    match checked(name, settings).map_err(AlgorithmError::Settings)? {
        Config::MedianStop(s) => Ok(Some(MedianStop::new(objective, s))),
        _ => Ok(None),
    }
}

/// [`parse_rule`] with the errors in file order (those about a missing setting last).
fn checked(name: &str, settings: &[(String, String)]) -> Result<Config, Vec<FieldError>> {
    parse_rule(name, &indexed(settings)).map_err(|mut errors| {
        errors.sort_by_key(|e| common::setting_index(&e.path).unwrap_or(usize::MAX));
        errors
    })
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use ferrotune_core::{Assignment, TrialStatus};

    /// Reports at steps 0, 1, 2, ...
    pub(crate) fn curve(values: &[f64]) -> Vec<(i64, f64)> {
        values
            .iter()
            .enumerate()
            .map(|(i, v)| (i as i64, *v))
            .collect()
    }

    pub(crate) fn running(name: &str, intermediate: Vec<(i64, f64)>) -> TrialView {
        TrialView {
            name: name.into(),
            parameters: Assignment::default(),
            status: TrialStatus::Running,
            objective: None,
            objectives: Vec::new(),
            intermediate,
            labels: Default::default(),
        }
    }

    /// A Succeeded trial; its objective is its latest value.
    pub(crate) fn done(name: &str, intermediate: Vec<(i64, f64)>) -> TrialView {
        TrialView {
            status: TrialStatus::Succeeded,
            objective: intermediate.last().map(|r| r.1),
            ..running(name, intermediate)
        }
    }

    pub(crate) fn settings(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn ctx(rule: &str, pairs: &[(&str, &str)]) -> RuleContext {
        RuleContext {
            rule: rule.into(),
            settings: settings(pairs),
            objective: ObjectiveType::Minimize,
            seed: 1,
        }
    }

    #[test]
    fn every_rule_builds_with_defaults_or_its_required_settings() {
        for rule in RULES {
            let pairs: &[(&str, &str)] = match *rule {
                "threshold" => &[("upper", "1")],
                "patient" => &[("patience", "2")],
                _ => &[],
            };
            assert!(validate_rule(rule, &settings(pairs)).is_empty(), "{rule}");
            let mut r = build_rule(ctx(rule, pairs)).unwrap();
            assert_eq!(r.resource(), Resource::Step, "{rule}");
            assert_eq!(r.should_stop(&running("t", vec![]), &[]), None, "{rule}");
            assert!(accepted_settings(rule).is_some());
        }
    }

    #[test]
    fn unknown_rules_list_the_known_ones() {
        let e = validate_rule("median-stop", &[]);
        assert_eq!(e.len(), 1);
        assert_eq!(e[0].path, "spec.earlyStopping.algorithmName");
        assert_eq!(
            e[0].message,
            "unknown early-stopping rule \"median-stop\", did you mean \"medianstop\"? (known: \
             medianstop, percentile, median, threshold, patient, asha)"
        );
        let e = validate_rule("hyperband", &settings(&[("eta", "3")]));
        assert_eq!(e.len(), 1, "settings of an unknown rule are not checked");
        assert!(!e[0].message.contains("did you mean"), "{}", e[0]);
        let err = build_rule(ctx("ASHA", &[])).err().unwrap();
        assert!(matches!(err, AlgorithmError::Settings(_)));
        assert!(err.to_string().contains("did you mean \"asha\"?"), "{err}");
        assert_eq!(accepted_settings("hyperband"), None);
    }
}
