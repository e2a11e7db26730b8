//! What the rules share: reading settings into field errors, curves as step maps, NaN as the
//! worst value, numpy's percentile, and numbers short enough for a trial's message.

use ferrotune_core::load::did_you_mean;
use ferrotune_core::{FieldError, ObjectiveType, TrialStatus, TrialView};
use std::collections::BTreeMap;

/// Where `spec.earlyStopping.algorithmName` is.
pub(crate) const NAME_PATH: &str = "spec.earlyStopping.algorithmName";
/// Where the settings are (for a missing one).
pub(crate) const SETTINGS_PATH: &str = "spec.earlyStopping.algorithmSettings";

/// One setting with its index in the file, so that errors point at it even when a wrapper
/// (patient) hands part of its settings to another rule.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Setting<'a> {
    pub index: usize,
    pub name: &'a str,
    pub value: &'a str,
}

impl Setting<'_> {
    pub fn name_path(&self) -> String {
        format!("{SETTINGS_PATH}[{}].name", self.index)
    }

    pub fn value_path(&self) -> String {
        format!("{SETTINGS_PATH}[{}].value", self.index)
    }
}

/// The index of the setting an error's path points at, if it points at one.
pub(crate) fn setting_index(path: &str) -> Option<usize> {
    let rest = path.strip_prefix(SETTINGS_PATH)?.strip_prefix('[')?;
    rest[..rest.find(']')?].parse().ok()
}

/// Numbers the settings in file order.
pub(crate) fn indexed(settings: &[(String, String)]) -> Vec<Setting<'_>> {
    settings
        .iter()
        .enumerate()
        .map(|(index, (name, value))| Setting { index, name, value })
        .collect()
}

/// The message for a setting name that `rule` does not take.
pub(crate) fn unknown_setting(rule: &str, name: &str, accepted: &[&str], note: &str) -> String {
    let hint = did_you_mean(name, accepted.iter().copied())
        .map(|s| format!(", did you mean {s:?}?"))
        .unwrap_or_default();
    format!(
        "unknown setting {name:?} for rule {rule:?}{hint} (accepted: {}{note})",
        accepted.join(", ")
    )
}

/// Reads one rule's settings, collecting every problem instead of stopping at the first.
/// A setting given twice is checked twice; the last one counts (as for the algorithms).
pub(crate) struct Reader<'a> {
    settings: Vec<Setting<'a>>,
    pub errors: Vec<FieldError>,
}

impl<'a> Reader<'a> {
    /// Reports the settings whose name `rule` does not accept.
    pub fn new(rule: &str, accepted: &[&str], settings: &[Setting<'a>]) -> Self {
        let errors = settings
            .iter()
            .filter(|s| !accepted.contains(&s.name))
            .map(|s| FieldError::new(s.name_path(), unknown_setting(rule, s.name, accepted, "")))
            .collect();
        Reader {
            settings: settings.to_vec(),
            errors,
        }
    }

    /// The last valid value of `key`, if given; an invalid one is an error reading
    /// "`expectation`, got \"value\"".
    pub fn get<T>(
        &mut self,
        key: &str,
        parse: impl Fn(&str) -> Option<T>,
        expectation: &str,
    ) -> Option<T> {
        let mut out = None;
        for s in self.settings.iter().filter(|s| s.name == key) {
            match parse(s.value.trim()) {
                Some(v) => out = Some(v),
                None => {
                    out = None;
                    self.errors.push(FieldError::new(
                        s.value_path(),
                        format!("{expectation}, got {:?}", s.value),
                    ));
                }
            }
        }
        out
    }

    /// Whether `key` was given at all (valid or not).
    pub fn given(&self, key: &str) -> bool {
        self.settings.iter().any(|s| s.name == key)
    }

    /// The last occurrence of `key`, for cross-field errors.
    pub fn last(&self, key: &str) -> Option<Setting<'a>> {
        self.settings.iter().rev().find(|s| s.name == key).copied()
    }

    pub fn error(&mut self, path: impl Into<String>, message: impl Into<String>) {
        self.errors.push(FieldError::new(path, message));
    }

    pub fn finish<T>(self, value: T) -> Result<T, Vec<FieldError>> {
        if self.errors.is_empty() {
            Ok(value)
        } else {
            Err(self.errors)
        }
    }
}

/// An integer of at least `min`.
pub(crate) fn int_at_least(min: i64) -> impl Fn(&str) -> Option<i64> {
    move |s| s.parse::<i64>().ok().filter(|v| *v >= min)
}

/// A finite number satisfying `ok`.
pub(crate) fn number(ok: impl Fn(f64) -> bool) -> impl Fn(&str) -> Option<f64> {
    move |s| s.parse::<f64>().ok().filter(|v| v.is_finite() && ok(*v))
}

/// A trial's curve as Optuna sees it: one value per step, the first report of a step
/// winning (Optuna ignores a second report at the same step).
pub(crate) fn by_step(curve: &[(i64, f64)]) -> BTreeMap<i64, f64> {
    let mut out = BTreeMap::new();
    for &(step, value) in curve {
        out.entry(step).or_insert(value);
    }
    out
}

/// The worst possible value along `objective`, which NaN counts as.
pub(crate) fn worst(objective: ObjectiveType) -> f64 {
    match objective {
        ObjectiveType::Minimize => f64::INFINITY,
        ObjectiveType::Maximize => f64::NEG_INFINITY,
    }
}

/// `value`, or the worst value when it is NaN.
pub(crate) fn or_worst(objective: ObjectiveType, value: f64) -> f64 {
    if value.is_nan() {
        worst(objective)
    } else {
        value
    }
}

/// The best of `values` with NaN as the worst; `None` when there are none.
pub(crate) fn best_of(
    objective: ObjectiveType,
    values: impl IntoIterator<Item = f64>,
) -> Option<f64> {
    values
        .into_iter()
        .map(|v| or_worst(objective, v))
        .reduce(|a, b| if objective.better(b, a) { b } else { a })
}

/// The mean of `values` with NaN as the worst value (so one NaN makes the mean the worst).
pub(crate) fn mean_or_worst(objective: ObjectiveType, values: &[f64]) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    let sum: f64 = values.iter().map(|v| or_worst(objective, *v)).sum();
    Some(or_worst(objective, sum / values.len() as f64))
}

/// numpy's default (linear) percentile of `values`, `q` in 0..=100; `None` when empty.
/// NaN values must be removed first (this is `np.nanpercentile` on what is left).
pub(crate) fn percentile(values: &[f64], q: f64) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    let pos = (q.clamp(0.0, 100.0) / 100.0) * (sorted.len() - 1) as f64;
    let lo = pos.floor() as usize;
    let hi = pos.ceil() as usize;
    let frac = pos - lo as f64;
    let (a, b) = (sorted[lo], sorted[hi]);
    Some(if frac == 0.0 || a == b {
        a
    } else if a.is_infinite() || b.is_infinite() {
        (1.0 - frac) * a + frac * b
    } else {
        a + (b - a) * frac
    })
}

/// The median, as numpy computes it.
pub(crate) fn median(values: &[f64]) -> Option<f64> {
    percentile(values, 50.0)
}

/// Optuna's `_is_first_in_interval_step`: whether `step` is the first report at or after
/// the latest pruning point (`n_warmup_steps + k·interval_steps`), so a check missed for
/// lack of a report at that exact step happens at the next one. `steps` are all the
/// trial's steps.
pub(crate) fn first_in_interval(
    step: i64,
    steps: impl IntoIterator<Item = i64>,
    n_warmup_steps: i64,
    interval_steps: i64,
) -> bool {
    let nearest_pruning_step =
        (step - n_warmup_steps).div_euclid(interval_steps) * interval_steps + n_warmup_steps;
    steps
        .into_iter()
        .filter(|s| *s != step && *s < step)
        .max()
        .is_none_or(|second_last| second_last < nearest_pruning_step)
}

/// Trials that count as completed for the comparisons: Succeeded (Optuna's COMPLETE,
/// Katib's succeeded trials), other than `name`.
pub(crate) fn completed<'h>(
    history: &'h [TrialView],
    name: &'h str,
) -> impl Iterator<Item = &'h TrialView> {
    history
        .iter()
        .filter(move |t| t.status == TrialStatus::Succeeded && t.name != name)
}

/// "25th" and friends.
pub(crate) fn ordinal(x: f64) -> String {
    let text = num(x);
    if x.fract() != 0.0 {
        return format!("{text}th");
    }
    let n = x.abs() as u64;
    let suffix = match (n % 10, n % 100) {
        (_, 11..=13) => "th",
        (1, _) => "st",
        (2, _) => "nd",
        (3, _) => "rd",
        _ => "th",
    };
    format!("{text}{suffix}")
}

/// A number with about four significant digits, for messages.
pub(crate) fn num(x: f64) -> String {
    if x.is_nan() {
        return "NaN".into();
    }
    if x.is_infinite() {
        return if x > 0.0 { "inf" } else { "-inf" }.into();
    }
    if x == 0.0 {
        return "0".into();
    }
    let magnitude = x.abs().log10().floor() as i32;
    if !(-4..9).contains(&magnitude) {
        return format!("{x:.3e}");
    }
    let decimals = (3 - magnitude).max(0) as usize;
    let text = format!("{x:.decimals$}");
    if text.contains('.') {
        text.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentile_matches_numpy() {
        let v: Vec<f64> = (1..=9).map(|i| i as f64 / 10.0).collect();
        assert!((percentile(&v, 25.0).unwrap() - 0.3).abs() < 1e-12);
        let v = [0.1, 0.2, 0.3, 0.4, 0.5];
        assert!((percentile(&v, 25.0).unwrap() - 0.2).abs() < 1e-12);
        // np.percentile([1, 2, 3, 4], 75) == 3.25; np.median([3, 1, 2, 4]) == 2.5
        assert!((percentile(&[1.0, 2.0, 3.0, 4.0], 75.0).unwrap() - 3.25).abs() < 1e-12);
        assert!((median(&[3.0, 1.0, 2.0, 4.0]).unwrap() - 2.5).abs() < 1e-12);
        assert_eq!(percentile(&[], 50.0), None);
        assert_eq!(median(&[1.0, f64::INFINITY]), Some(f64::INFINITY));
        assert_eq!(median(&[1.0, 2.0, f64::INFINITY]), Some(2.0));
    }

    #[test]
    fn first_in_interval_matches_optuna() {
        // warm-up 0, interval 2: checks at 0, 2, 4, ... or at the first report past them.
        assert!(first_in_interval(0, [0], 0, 2));
        assert!(!first_in_interval(1, [0, 1], 0, 2));
        assert!(first_in_interval(2, [0, 1, 2], 0, 2));
        assert!(first_in_interval(3, [0, 1, 3], 0, 2));
        assert!(!first_in_interval(3, [0, 1, 2, 3], 0, 2));
        // warm-up 3, interval 5: 3, 8, 13
        assert!(first_in_interval(3, [0, 1, 2, 3], 3, 5));
        assert!(!first_in_interval(7, [3, 7], 3, 5));
        assert!(first_in_interval(9, [3, 7, 9], 3, 5));
    }

    #[test]
    fn nan_is_the_worst() {
        let min = ObjectiveType::Minimize;
        let max = ObjectiveType::Maximize;
        assert_eq!(best_of(min, [f64::NAN, 2.0, 1.0]), Some(1.0));
        assert_eq!(best_of(max, [f64::NAN, 2.0, 1.0]), Some(2.0));
        assert_eq!(best_of(min, [f64::NAN]), Some(f64::INFINITY));
        assert_eq!(best_of(max, [f64::NAN]), Some(f64::NEG_INFINITY));
        assert_eq!(mean_or_worst(min, &[1.0, f64::NAN]), Some(f64::INFINITY));
        assert_eq!(mean_or_worst(max, &[1.0, 3.0]), Some(2.0));
    }

    #[test]
    fn numbers_are_short() {
        assert_eq!(num(0.83124), "0.8312");
        assert_eq!(num(0.41), "0.41");
        assert_eq!(num(12.0), "12");
        assert_eq!(num(-1234.5678), "-1235");
        assert_eq!(num(1e-7), "1.000e-7");
        assert_eq!(num(f64::NAN), "NaN");
        assert_eq!(ordinal(25.0), "25th");
        assert_eq!(ordinal(1.0), "1st");
        assert_eq!(ordinal(12.5), "12.5th");
    }

    #[test]
    fn error_paths_give_their_setting() {
        assert_eq!(
            setting_index("spec.earlyStopping.algorithmSettings[12].value"),
            Some(12)
        );
        assert_eq!(setting_index("spec.earlyStopping.algorithmSettings"), None);
        assert_eq!(setting_index("spec.earlyStopping.algorithmName"), None);
    }

    #[test]
    fn repeated_steps_keep_the_first_report() {
        let m = by_step(&[(0, 1.0), (1, 2.0), (1, 3.0), (5, 0.5)]);
        assert_eq!(
            m.into_iter().collect::<Vec<_>>(),
            [(0, 1.0), (1, 2.0), (5, 0.5)]
        );
    }
}
