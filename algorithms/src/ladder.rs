//! A numeric parameter as a model-based algorithm sees it: a constant, a continuous range,
//! or a ladder of allowed values at positions in `[0, 1]` (evenly spaced, or by `ln` of the
//! value for the log distributions). CMA-ES and the Gaussian process both work on these
//! positions; what each does between the positions stays with it.

use crate::domain::{double_last_step, int_at, int_last_step, lerp, same_value, stepped_double};
use ferrotune_core::{Domain, ParamValue};

/// A numeric parameter's shape.
#[derive(Debug, Clone)]
pub(crate) enum Numeric {
    /// A parameter with a single possible value (a categorical's first value, for callers
    /// that handle categoricals themselves).
    Const(ParamValue),
    /// A double without step: `min + z·(max − min)`, or the same in `ln`.
    Continuous { min: f64, max: f64, log: bool },
    /// Finitely many values at increasing positions.
    Grid(Grid),
}

/// The allowed values of a discrete numeric parameter.
#[derive(Debug, Clone)]
pub(crate) enum GridValues {
    Double {
        min: f64,
        max: f64,
        step: f64,
    },
    Int {
        min: i64,
        max: i64,
        step: i64,
    },
    /// Distinct values sorted by number, evenly spaced (a `discrete` list).
    List(Vec<ParamValue>),
}

/// The values of a discrete dimension and their positions.
#[derive(Debug, Clone)]
pub(crate) struct Grid {
    /// Index of the last value (the count minus one); at least 1.
    pub last: u64,
    pub values: GridValues,
    /// `(ln v₀, ln v_last − ln v₀)` when positions are logarithmic.
    pub log: Option<(f64, f64)>,
}

/// The shape of a domain that passed `space_problems`.
pub(crate) fn numeric(domain: &Domain) -> Numeric {
    match domain {
        Domain::Double {
            min,
            max,
            step: None,
            distribution,
        } => {
            if min >= max {
                return Numeric::Const(ParamValue::Float(*min));
            }
            Numeric::Continuous {
                min: *min,
                max: *max,
                log: distribution.is_log(),
            }
        }
        Domain::Double {
            min,
            max,
            step: Some(s),
            distribution,
        } => {
            let last = double_last_step(*min, *max, *s).max(0.0) as u64;
            if last == 0 {
                return Numeric::Const(ParamValue::Float(stepped_double(*min, *max, *s, 0)));
            }
            let values = GridValues::Double {
                min: *min,
                max: *max,
                step: *s,
            };
            Numeric::Grid(Grid::new(last, values, distribution.is_log()))
        }
        Domain::Int {
            min,
            max,
            step,
            distribution,
        } => {
            let s = step.unwrap_or(1).max(1);
            let last = int_last_step(*min, *max, s);
            if last == 0 {
                return Numeric::Const(ParamValue::Int(*min));
            }
            let values = GridValues::Int {
                min: *min,
                max: *max,
                step: s,
            };
            Numeric::Grid(Grid::new(last, values, distribution.is_log()))
        }
        Domain::Discrete { values } => {
            let mut sorted: Vec<ParamValue> = Vec::new();
            for v in values {
                if !sorted.iter().any(|s| same_value(s, v, 0.0)) {
                    sorted.push(v.clone());
                }
            }
            sorted.sort_by(|a, b| num(a).total_cmp(&num(b)));
            match sorted.len() {
                0 | 1 => Numeric::Const(sorted.pop().unwrap_or(ParamValue::Int(0))),
                n => Numeric::Grid(Grid::new(n as u64 - 1, GridValues::List(sorted), false)),
            }
        }
        Domain::Categorical { values } => {
            Numeric::Const(ParamValue::Str(values.first().cloned().unwrap_or_default()))
        }
    }
}

/// The value of a continuous range at `z` in `[0, 1]` (linear, or linear in `ln`), always
/// inside `[min, max]`.
pub(crate) fn continuous_value(min: f64, max: f64, log: bool, z: f64) -> f64 {
    let v = if log {
        lerp(min.ln(), max.ln(), z).exp()
    } else {
        lerp(min, max, z)
    };
    if v.is_nan() { min } else { v.clamp(min, max) }
}

impl Grid {
    fn new(last: u64, values: GridValues, log: bool) -> Grid {
        let mut g = Grid {
            last,
            values,
            log: None,
        };
        if log {
            let (first, end) = (g.raw(0).ln(), g.raw(last).ln());
            let span = end - first;
            // Degenerate spans (values too close for `ln` to separate) fall back to even
            // positions, which are still monotone.
            if first.is_finite() && span.is_finite() && span > 0.0 {
                g.log = Some((first, span));
            }
        }
        g
    }

    /// `min + k·step` before rounding (the k-th list value).
    fn raw(&self, k: u64) -> f64 {
        match &self.values {
            GridValues::Double { min, step, .. } => min + k as f64 * step,
            GridValues::Int { min, step, .. } => *min as f64 + k as f64 * *step as f64,
            GridValues::List(v) => num(&v[k as usize]),
        }
    }

    /// The k-th value, always inside the domain.
    pub fn value(&self, k: u64) -> ParamValue {
        let k = k.min(self.last);
        match &self.values {
            GridValues::Double { min, max, step } => {
                ParamValue::Float(stepped_double(*min, *max, *step, k))
            }
            GridValues::Int { min, max, step } => ParamValue::Int(int_at(*min, *max, *step, k)),
            GridValues::List(v) => v[k as usize].clone(),
        }
    }

    /// Where the k-th value sits in `[0, 1]`: evenly spaced, or by `ln` of the value.
    pub fn position(&self, k: u64) -> f64 {
        match self.log {
            Some((first, span)) => ((self.raw(k).ln() - first) / span).clamp(0.0, 1.0),
            None => k as f64 / self.last as f64,
        }
    }

    /// The index of an allowed value, if `v` is one: to learn from a trial's parameters.
    pub fn index_of_value(&self, v: &ParamValue) -> Option<u64> {
        let x = v.as_f64()?;
        if !x.is_finite() {
            return None;
        }
        let k = match &self.values {
            GridValues::Double { min, step, .. } => {
                ((x - min) / step).round().clamp(0.0, self.last as f64) as u64
            }
            GridValues::Int { min, step, .. } => {
                let i = match v {
                    ParamValue::Int(i) => *i as i128,
                    _ => x.round() as i128,
                };
                ((i - *min as i128) / *step as i128).clamp(0, self.last as i128) as u64
            }
            GridValues::List(list) => list.iter().position(|w| same_value(w, v, 0.0))? as u64,
        };
        same_value(&self.value(k), v, 0.0).then_some(k)
    }
}

fn num(v: &ParamValue) -> f64 {
    v.as_f64().unwrap_or(f64::NAN)
}
