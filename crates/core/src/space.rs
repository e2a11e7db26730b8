//! The validated search space: what algorithms sample from.

use crate::value::ParamValue;
use serde::{Deserialize, Serialize};

/// How a numeric parameter's values are spread between its bounds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Distribution {
    /// Every value in `[min, max]` equally likely (Katib's default).
    #[default]
    Uniform,
    /// Uniform in `ln(x)`; needs `min > 0`.
    LogUniform,
    /// Normal around the midpoint with σ = (max − min) / 6, truncated to the bounds.
    Normal,
    /// Normal in `ln(x)` around the log-midpoint, σ = (ln max − ln min) / 6, truncated.
    LogNormal,
}

impl Distribution {
    /// Katib's spelling.
    pub fn katib_name(self) -> &'static str {
        match self {
            Distribution::Uniform => "uniform",
            Distribution::LogUniform => "logUniform",
            Distribution::Normal => "normal",
            Distribution::LogNormal => "logNormal",
        }
    }

    /// True for the distributions defined on `ln(x)`.
    pub fn is_log(self) -> bool {
        matches!(self, Distribution::LogUniform | Distribution::LogNormal)
    }
}

/// A parameter's type and feasible values, already checked for consistency.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "camelCase")]
pub enum Domain {
    /// A real number in `[min, max]`; with `step`, only `min + k·step`.
    Double {
        min: f64,
        max: f64,
        step: Option<f64>,
        distribution: Distribution,
    },
    /// A whole number in `[min, max]`; with `step`, only `min + k·step`.
    Int {
        min: i64,
        max: i64,
        step: Option<i64>,
        distribution: Distribution,
    },
    /// One of the listed numbers.
    Discrete { values: Vec<ParamValue> },
    /// One of the listed strings.
    Categorical { values: Vec<String> },
}

/// One named parameter.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Parameter {
    pub name: String,
    pub domain: Domain,
}

/// All parameters of an experiment, in declaration order.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct SearchSpace {
    pub parameters: Vec<Parameter>,
}

impl Domain {
    /// Whether `v` is a value this domain allows (bounds, step grid, list membership).
    pub fn contains(&self, v: &ParamValue) -> bool {
        match (self, v) {
            (Domain::Double { min, max, step, .. }, ParamValue::Float(x)) => {
                if !x.is_finite() || *x < *min || *x > *max {
                    return false;
                }
                match step {
                    None => true,
                    Some(s) => {
                        let k = (x - min) / s;
                        (k - k.round()).abs() < 1e-6
                    }
                }
            }
            (Domain::Int { min, max, step, .. }, ParamValue::Int(i)) => {
                *i >= *min && *i <= *max && (i - min) % step.unwrap_or(1) == 0
            }
            (Domain::Discrete { values }, v) => values.contains(v),
            (Domain::Categorical { values }, ParamValue::Str(s)) => values.contains(s),
            _ => false,
        }
    }

    /// The value `text` stands for in this domain (as Katib sends values: strings), or
    /// `None` when it is not one of the domain's values.
    pub fn parse(&self, text: &str) -> Option<ParamValue> {
        let t = text.trim();
        let v = match self {
            Domain::Double { .. } => ParamValue::Float(t.parse::<f64>().ok()?),
            Domain::Int { .. } => ParamValue::Int(t.parse::<i64>().ok().or_else(|| {
                t.parse::<f64>()
                    .ok()
                    .filter(|x| x.fract() == 0.0 && x.abs() < 9.0e15)
                    .map(|x| x as i64)
            })?),
            Domain::Discrete { values } => {
                let x = t.parse::<f64>().ok()?;
                values.iter().find(|v| v.as_f64() == Some(x))?.clone()
            }
            Domain::Categorical { .. } => ParamValue::Str(text.to_string()),
        };
        self.contains(&v).then_some(v)
    }

    /// The values of a grid over this domain, or `None` when the domain is continuous
    /// (a `double` with no `step`).
    pub fn grid_values(&self) -> Option<Vec<ParamValue>> {
        match self {
            Domain::Double {
                min,
                max,
                step: Some(s),
                ..
            } => {
                let n = ((max - min) / s + 1e-9).floor() as i64;
                let decimals = decimals_of(*s).max(decimals_of(*min));
                Some(
                    (0..=n)
                        .map(|k| ParamValue::Float(round_to(min + k as f64 * s, decimals)))
                        .collect(),
                )
            }
            Domain::Double { step: None, .. } => None,
            Domain::Int { min, max, step, .. } => {
                let s = step.unwrap_or(1).max(1) as i128;
                let n = (*max as i128 - *min as i128) / s;
                Some(
                    (0..=n)
                        .map(|k| ParamValue::Int((*min as i128 + k * s) as i64))
                        .collect(),
                )
            }
            Domain::Discrete { values } => Some(values.clone()),
            Domain::Categorical { values } => {
                Some(values.iter().cloned().map(ParamValue::Str).collect())
            }
        }
    }
}

impl SearchSpace {
    /// Whether every parameter of `a` is present, in order, and inside its domain.
    pub fn contains(&self, a: &crate::value::Assignment) -> bool {
        a.0.len() == self.parameters.len()
            && self
                .parameters
                .iter()
                .zip(&a.0)
                .all(|(p, (n, v))| &p.name == n && p.domain.contains(v))
    }
}

/// How many decimals a number needs to be written exactly (at most 15); used to print
/// `min + k·step` as `0.3`, not `0.30000000000000004`.
pub fn decimals_of(x: f64) -> usize {
    if x != 0.0 && x.abs() < 1e-9 {
        return 15;
    }
    let mut d = 0;
    let mut y = x.abs();
    while d < 15 && (y - y.round()).abs() > 1e-9 * y.max(1.0) {
        y *= 10.0;
        d += 1;
    }
    d
}

/// Rounds to `decimals` places, so that stepped values print as the user wrote them.
pub fn round_to(x: f64, decimals: usize) -> f64 {
    let p = 10f64.powi(decimals as i32);
    let r = (x * p).round() / p;
    if r.is_finite() { r } else { x }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_parse_from_katib_strings() {
        let d = Domain::Double {
            min: 0.0,
            max: 1.0,
            step: None,
            distribution: Distribution::Uniform,
        };
        assert_eq!(d.parse("0.25"), Some(ParamValue::Float(0.25)));
        assert_eq!(d.parse("1.5"), None, "outside the bounds");
        assert_eq!(d.parse("abc"), None);
        let i = Domain::Int {
            min: 1,
            max: 9,
            step: Some(2),
            distribution: Distribution::Uniform,
        };
        assert_eq!(i.parse("5"), Some(ParamValue::Int(5)));
        assert_eq!(i.parse("5.0"), Some(ParamValue::Int(5)));
        assert_eq!(i.parse("4"), None, "off the step");
        let l = Domain::Discrete {
            values: vec![ParamValue::Int(16), ParamValue::Float(32.5)],
        };
        assert_eq!(l.parse("16"), Some(ParamValue::Int(16)));
        assert_eq!(l.parse("32.50"), Some(ParamValue::Float(32.5)));
        let c = Domain::Categorical {
            values: vec!["adam".into()],
        };
        assert_eq!(c.parse("adam"), Some(ParamValue::Str("adam".into())));
        assert_eq!(c.parse("sgd"), None);
    }

    #[test]
    fn stepped_double_grid_prints_cleanly() {
        let d = Domain::Double {
            min: 0.1,
            max: 0.5,
            step: Some(0.1),
            distribution: Distribution::Uniform,
        };
        let g: Vec<String> = d
            .grid_values()
            .unwrap()
            .iter()
            .map(|v| v.to_string())
            .collect();
        assert_eq!(g, ["0.1", "0.2", "0.3", "0.4", "0.5"]);
    }

    #[test]
    fn int_grid_and_contains() {
        let d = Domain::Int {
            min: 2,
            max: 9,
            step: Some(3),
            distribution: Distribution::Uniform,
        };
        assert_eq!(
            d.grid_values().unwrap(),
            vec![ParamValue::Int(2), ParamValue::Int(5), ParamValue::Int(8)]
        );
        assert!(d.contains(&ParamValue::Int(5)));
        assert!(!d.contains(&ParamValue::Int(6)));
        assert!(!d.contains(&ParamValue::Float(5.0)));
    }

    #[test]
    fn continuous_double_has_no_grid() {
        let d = Domain::Double {
            min: 0.0,
            max: 1.0,
            step: None,
            distribution: Distribution::Uniform,
        };
        assert!(d.grid_values().is_none());
        assert!(d.contains(&ParamValue::Float(0.25)));
        assert!(!d.contains(&ParamValue::Float(f64::NAN)));
    }
}
