//! The GP's input space: every parameter in `[0, 1]`, log-warped for the log distributions,
//! and categoricals one-hot.
//!
//! A double without a step is one continuous coordinate (`min` at 0, `max` at 1, in `ln` for
//! log distributions, so that the kernel sees relative changes there). Ints, stepped doubles
//! and `discrete` lists are one coordinate too, with their allowed values at fixed positions
//! (evenly spaced, or by `ln` of the value); a relaxed coordinate is rounded to the nearest
//! position. A categorical with k values is k coordinates, one per value, and a relaxed block
//! decodes to its argmax. Parameters with a single value are constants and no coordinate.

use crate::ladder::{Grid, GridValues, Numeric, continuous_value, numeric};
use ferrotune_core::{Assignment, Domain, ParamValue, SearchSpace};

/// How one parameter is encoded; `col` is its first coordinate.
#[derive(Debug, Clone)]
enum Part {
    Const(ParamValue),
    Continuous {
        col: usize,
        min: f64,
        max: f64,
        log: bool,
    },
    Grid {
        col: usize,
        grid: Grid,
    },
    Cat {
        col: usize,
        values: Vec<String>,
    },
}

/// A search space as GP coordinates.
#[derive(Debug, Clone)]
pub(super) struct Encoding {
    names: Vec<String>,
    parts: Vec<Part>,
    /// Number of coordinates.
    pub dim: usize,
}

impl Encoding {
    /// Encodes a space that passed `space_problems` (ordered, finite bounds; positive steps).
    pub fn new(space: &SearchSpace) -> Encoding {
        let mut dim = 0;
        let mut names = Vec::new();
        let mut parts = Vec::new();
        for p in &space.parameters {
            names.push(p.name.clone());
            let part = Part::of(&p.domain, dim);
            dim += part.width();
            parts.push(part);
        }
        Encoding { names, parts, dim }
    }

    /// The coordinates of an assignment, or `None` when a value is not in the space (a trial
    /// from before the space changed), so that the GP never learns from a wrong position.
    pub fn encode(&self, a: &Assignment) -> Option<Vec<f64>> {
        let mut x = vec![0.0; self.dim];
        for (name, part) in self.names.iter().zip(&self.parts) {
            let v = a.get(name)?;
            match part {
                Part::Const(_) => {}
                Part::Continuous { col, min, max, log } => {
                    let t = v.as_f64()?;
                    if !t.is_finite() {
                        return None;
                    }
                    let z = if *log {
                        (t.max(f64::MIN_POSITIVE).ln() - min.ln()) / (max.ln() - min.ln())
                    } else {
                        (t / 2.0 - min / 2.0) / (max / 2.0 - min / 2.0)
                    };
                    if !z.is_finite() {
                        return None;
                    }
                    x[*col] = z.clamp(0.0, 1.0);
                }
                Part::Grid { col, grid } => {
                    let k = grid.index_of_value(v)?;
                    x[*col] = grid.position(k);
                }
                Part::Cat { col, values } => {
                    let ParamValue::Str(s) = v else { return None };
                    let k = values.iter().position(|w| w == s)?;
                    x[col + k] = 1.0;
                }
            }
        }
        Some(x)
    }

    /// The allowed point nearest to relaxed coordinates `x` (clamped to `[0, 1]`): its
    /// assignment and its coordinates.
    pub fn snap(&self, x: &[f64]) -> (Assignment, Vec<f64>) {
        let mut out = vec![0.0; self.dim];
        let mut a = Vec::with_capacity(self.parts.len());
        for (name, part) in self.names.iter().zip(&self.parts) {
            let value = match part {
                Part::Const(v) => v.clone(),
                Part::Continuous { col, min, max, log } => {
                    let z = unit(x[*col]);
                    out[*col] = z;
                    ParamValue::Float(continuous_value(*min, *max, *log, z))
                }
                Part::Grid { col, grid } => {
                    let k = nearest_index(grid, unit(x[*col]));
                    out[*col] = grid.position(k);
                    grid.value(k)
                }
                Part::Cat { col, values } => {
                    let block = &x[*col..*col + values.len()];
                    let k = (0..block.len())
                        .max_by(|&i, &j| unit(block[i]).total_cmp(&unit(block[j])).then(j.cmp(&i)))
                        .unwrap_or(0);
                    out[col + k] = 1.0;
                    ParamValue::Str(values[k].clone())
                }
            };
            a.push((name.clone(), value));
        }
        (Assignment(a), out)
    }

    /// A point from unit draws `u` (one per coordinate; a categorical block uses its first):
    /// continuous coordinates take `u`, discrete ones the value whose equal-width cell holds
    /// `u`, so that every allowed value is as likely.
    pub fn point_at(&self, u: &[f64]) -> Vec<f64> {
        let mut x = vec![0.0; self.dim];
        for part in &self.parts {
            match part {
                Part::Const(_) => {}
                Part::Continuous { col, .. } => x[*col] = unit(u[*col]),
                Part::Grid { col, grid } => {
                    let k = ((unit(u[*col]) * (grid.last as f64 + 1.0)) as u64).min(grid.last);
                    x[*col] = grid.position(k);
                }
                Part::Cat { col, values } => {
                    let k = ((unit(u[*col]) * values.len() as f64) as usize).min(values.len() - 1);
                    x[col + k] = 1.0;
                }
            }
        }
        x
    }
}

/// `z` in `[0, 1]`, with NaN at the centre.
fn unit(z: f64) -> f64 {
    if z.is_nan() { 0.5 } else { z.clamp(0.0, 1.0) }
}

impl Part {
    fn width(&self) -> usize {
        match self {
            Part::Const(_) => 0,
            Part::Continuous { .. } | Part::Grid { .. } => 1,
            Part::Cat { values, .. } => values.len(),
        }
    }

    fn of(domain: &Domain, col: usize) -> Part {
        if let Domain::Categorical { values } = domain {
            return if values.len() < 2 {
                Part::Const(ParamValue::Str(values.first().cloned().unwrap_or_default()))
            } else {
                Part::Cat {
                    col,
                    values: values.clone(),
                }
            };
        }
        match numeric(domain) {
            Numeric::Const(v) => Part::Const(v),
            Numeric::Continuous { min, max, log } => Part::Continuous { col, min, max, log },
            Numeric::Grid(grid) => Part::Grid { col, grid },
        }
    }
}

/// The index whose position is nearest to `z`.
fn nearest_index(grid: &Grid, z: f64) -> u64 {
    let last = grid.last;
    let guess = match (grid.log, &grid.values) {
        (Some((first, span)), GridValues::Double { min, step, .. }) => {
            (((first + z * span).exp() - min) / step).round()
        }
        (Some((first, span)), GridValues::Int { min, step, .. }) => {
            (((first + z * span).exp() - *min as f64) / *step as f64).round()
        }
        _ => (z * last as f64).round(),
    };
    let k = if guess.is_nan() {
        0
    } else {
        guess.clamp(0.0, last as f64) as u64
    };
    // The guess is exact for even positions; in ln the neighbours may be nearer.
    [k.saturating_sub(1), k, (k + 1).min(last)]
        .into_iter()
        .min_by(|&a, &b| {
            let da = (grid.position(a) - z).abs();
            let db = (grid.position(b) - z).abs();
            da.total_cmp(&db)
        })
        .unwrap_or(k)
}

#[cfg(test)]
mod tests {
    use super::*;
    use ferrotune_core::{Distribution, Parameter};

    fn space() -> SearchSpace {
        let p = |name: &str, domain| Parameter {
            name: name.into(),
            domain,
        };
        SearchSpace {
            parameters: vec![
                p(
                    "lr",
                    Domain::Double {
                        min: 1e-4,
                        max: 1.0,
                        step: None,
                        distribution: Distribution::LogUniform,
                    },
                ),
                p(
                    "n",
                    Domain::Int {
                        min: 1,
                        max: 100,
                        step: None,
                        distribution: Distribution::LogUniform,
                    },
                ),
                p(
                    "opt",
                    Domain::Categorical {
                        values: vec!["sgd".into(), "adam".into(), "rms".into()],
                    },
                ),
                p(
                    "c",
                    Domain::Categorical {
                        values: vec!["only".into()],
                    },
                ),
            ],
        }
    }

    #[test]
    fn encodes_log_warped_and_one_hot_and_snaps_back() {
        let e = Encoding::new(&space());
        assert_eq!(e.dim, 5);
        let (a, x) = e.snap(&[0.5, 0.5, 0.1, 0.7, 0.2]);
        // ln-midpoint of [1e-4, 1] is 1e-2; of [1, 100] is 10.
        assert!((a.0[0].1.as_f64().unwrap() - 1e-2).abs() < 1e-12);
        assert_eq!(a.0[1].1, ParamValue::Int(10));
        assert_eq!(a.0[2].1, ParamValue::Str("adam".into()));
        assert_eq!(a.0[3].1, ParamValue::Str("only".into()));
        assert!(space().contains(&a));
        let back = e.encode(&a).unwrap();
        for (p, q) in back.iter().zip(&x) {
            assert!((p - q).abs() < 1e-12, "{back:?} vs {x:?}");
        }
        assert_eq!(&x[2..], &[0.0, 1.0, 0.0]);
    }
}
