//! The normalised space CMA-ES works in, and the way back to parameter values.
//!
//! Every numeric parameter with more than one value is one dimension in `[0, 1]`: `min` at 0
//! and `max` at 1, in `ln` for the log distributions (so that a step of the search means the
//! same relative change anywhere in a log range). A discrete dimension (int, stepped double,
//! `discrete` list) places its values at positions in `[0, 1]` and maps a coordinate to the
//! value whose cell contains it; cells end half-way between neighbouring positions, as in
//! CMA-ES with margin. Categorical parameters are not dimensions (see the module above);
//! parameters with one value are constants.

pub(super) use crate::ladder::Grid;
use crate::ladder::{Numeric, continuous_value, numeric};
use ferrotune_core::{Domain, ParamValue, SearchSpace};

/// Discrete dimensions with more values than this are handled like continuous ones (kept in
/// bounds, no margin): their cells are narrower than 2.4e-10 of the range, where rounding
/// cannot stall the search, and midpoints of neighbouring positions stop being distinct in
/// `f64` long before `u64::MAX` values.
const MARGIN_MAX_LAST: u64 = 1 << 32;

/// How one parameter is produced.
#[derive(Debug, Clone)]
pub(super) enum Slot {
    /// A parameter with a single possible value.
    Const(ParamValue),
    /// Dimension `i` of the normal distribution.
    Dim(usize),
    /// Categorical parameter `i`.
    Cat(usize),
}

/// A numeric dimension.
#[derive(Debug, Clone)]
pub(super) enum Dim {
    /// A double without step: `min + z·(max − min)`, or the same in `ln`.
    Continuous { min: f64, max: f64, log: bool },
    /// Finitely many values at increasing positions.
    Grid(Grid),
}

/// A search space split into dimensions, categoricals and constants.
#[derive(Debug, Clone)]
pub(super) struct Encoding {
    pub names: Vec<String>,
    pub slots: Vec<Slot>,
    pub dims: Vec<Dim>,
    /// The values of each categorical parameter.
    pub cats: Vec<Vec<String>>,
}

impl Encoding {
    /// Splits a space that passed `space_problems` (so bounds are ordered and finite steps
    /// positive).
    pub fn new(space: &SearchSpace) -> Encoding {
        let mut e = Encoding {
            names: Vec::new(),
            slots: Vec::new(),
            dims: Vec::new(),
            cats: Vec::new(),
        };
        for p in &space.parameters {
            e.names.push(p.name.clone());
            let slot = if let Domain::Categorical { values } = &p.domain {
                e.cats.push(values.clone());
                Slot::Cat(e.cats.len() - 1)
            } else {
                match Dim::of(&p.domain) {
                    Ok(d) => {
                        e.dims.push(d);
                        Slot::Dim(e.dims.len() - 1)
                    }
                    Err(v) => Slot::Const(v),
                }
            };
            e.slots.push(slot);
        }
        e
    }

    /// Parameters the search varies: dimensions and categoricals with two values or more.
    pub fn searched(&self) -> usize {
        self.dims.len() + self.cats.iter().filter(|c| c.len() > 1).count()
    }
}

impl Dim {
    /// The dimension of a numeric domain, or `Err(v)` when `v` is its only value (or the
    /// domain is categorical, which callers handle first).
    fn of(domain: &Domain) -> Result<Dim, ParamValue> {
        match numeric(domain) {
            Numeric::Const(v) => Err(v),
            Numeric::Continuous { min, max, log } => Ok(Dim::Continuous { min, max, log }),
            Numeric::Grid(g) => Ok(Dim::Grid(g)),
        }
    }

    /// Whether the coordinate is kept inside `[0, 1]` by resampling and clipping. Margin
    /// dimensions are not: as in CMAwM, a coordinate beyond the last cell means the last
    /// value, and the margin keeps the mean near it.
    pub fn bounded(&self) -> bool {
        !matches!(self, Dim::Grid(g) if g.margin())
    }

    /// The grid of a dimension that CMA-ES with margin looks after.
    pub fn margin_grid(&self) -> Option<&Grid> {
        match self {
            Dim::Grid(g) if g.margin() => Some(g),
            _ => None,
        }
    }

    /// The value at coordinate `x`. A margin dimension first scales `x`'s distance from the
    /// mean `m` by `a` (the margin's per-dimension factor), as CMAwM encodes.
    pub fn value(&self, x: f64, m: f64, a: f64) -> ParamValue {
        match self {
            Dim::Continuous { min, max, log } => {
                let z = if x.is_nan() { 0.5 } else { x.clamp(0.0, 1.0) };
                ParamValue::Float(continuous_value(*min, *max, *log, z))
            }
            Dim::Grid(g) => {
                let z = if g.margin() { (x - m) * a + m } else { x };
                g.value(g.index_of(if z.is_nan() { m } else { z }))
            }
        }
    }

    /// The coordinate of a value (its position, for a grid), when the value belongs to the
    /// dimension: used to learn from a trial whose parameters are not what the state would
    /// have suggested.
    pub fn coordinate_of(&self, v: &ParamValue) -> Option<f64> {
        let x = v.as_f64()?;
        if !x.is_finite() {
            return None;
        }
        match self {
            Dim::Continuous { min, max, log } => {
                let t = if *log {
                    (x.max(f64::MIN_POSITIVE).ln() - min.ln()) / (max.ln() - min.ln())
                } else {
                    (x / 2.0 - min / 2.0) / (max / 2.0 - min / 2.0)
                };
                t.is_finite().then(|| t.clamp(0.0, 1.0))
            }
            Dim::Grid(g) => g.index_of_value(v).map(|k| g.position(k)),
        }
    }
}

/// What CMA-ES does between a grid's positions: cells, thresholds and the margin.
impl Grid {
    /// Whether CMA-ES with margin looks after this dimension (see [`MARGIN_MAX_LAST`]).
    pub fn margin(&self) -> bool {
        self.last <= MARGIN_MAX_LAST
    }

    /// The boundary between the cells of values `k` and `k + 1` (`k < last`).
    pub fn threshold(&self, k: u64) -> f64 {
        self.position(k) / 2.0 + self.position(k + 1) / 2.0
    }

    /// The index of the cell containing `x`: how many thresholds are below it (NumPy's
    /// `searchsorted(thresholds, x)`, as CMAwM uses), by bisection.
    pub fn index_of(&self, x: f64) -> u64 {
        let (mut lo, mut hi) = (0u64, self.last);
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            if self.threshold(mid) >= x {
                hi = mid;
            } else {
                lo = mid + 1;
            }
        }
        lo
    }

    /// The thresholds around the cell containing `m`: `(low, up)`, equal when `m` is in the
    /// first or the last cell (CMAwM's `m_z_lim_low`, `m_z_lim_up`).
    pub fn cell(&self, m: f64) -> (f64, f64) {
        let pos = self.index_of(m);
        let low = pos.saturating_sub(1).min(self.last - 1);
        let up = pos.min(self.last - 1);
        (self.threshold(low), self.threshold(up))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ferrotune_core::Distribution;

    fn grid(domain: Domain) -> Grid {
        match Dim::of(&domain) {
            Ok(Dim::Grid(g)) => g,
            other => panic!("not a grid: {other:?}"),
        }
    }

    #[test]
    fn int_cells_end_half_way() {
        let g = grid(Domain::Int {
            min: 0,
            max: 4,
            step: None,
            distribution: Distribution::Uniform,
        });
        assert_eq!(g.position(1), 0.25);
        assert_eq!(g.threshold(0), 0.125);
        assert_eq!(g.index_of(-3.0), 0);
        assert_eq!(g.index_of(0.125), 0);
        assert_eq!(g.index_of(0.126), 1);
        assert_eq!(g.index_of(7.0), 4);
        assert_eq!(g.cell(0.3), (0.125, 0.375));
        assert_eq!(g.cell(-1.0), (0.125, 0.125));
        assert_eq!(g.cell(0.99), (0.875, 0.875));
        assert_eq!(g.value(3), ParamValue::Int(3));
    }

    #[test]
    fn log_grids_space_values_by_ratio() {
        let g = grid(Domain::Int {
            min: 1,
            max: 100,
            step: None,
            distribution: Distribution::LogUniform,
        });
        // 10 is half-way between 1 and 100 in ln.
        assert!((g.position(9) - 0.5).abs() < 1e-12);
        let d = Dim::Grid(g);
        assert_eq!(d.value(0.5, 0.5, 1.0), ParamValue::Int(10));
        assert_eq!(d.coordinate_of(&ParamValue::Int(10)), Some(0.5));
    }

    #[test]
    fn discrete_lists_are_sorted_and_evenly_spaced() {
        let d = Dim::of(&Domain::Discrete {
            values: vec![
                ParamValue::Int(64),
                ParamValue::Int(16),
                ParamValue::Float(32.0),
                ParamValue::Int(16),
            ],
        })
        .unwrap();
        assert_eq!(d.value(0.0, 0.0, 1.0), ParamValue::Int(16));
        assert_eq!(d.value(0.5, 0.5, 1.0), ParamValue::Float(32.0));
        assert_eq!(d.value(9.0, 0.5, 1.0), ParamValue::Int(64));
        assert_eq!(d.coordinate_of(&ParamValue::Int(64)), Some(1.0));
        assert_eq!(d.coordinate_of(&ParamValue::Int(17)), None);
    }

    #[test]
    fn margin_scale_stretches_around_the_mean() {
        let d = Dim::of(&Domain::Int {
            min: 0,
            max: 10,
            step: None,
            distribution: Distribution::Uniform,
        })
        .unwrap();
        // x = 0.52 is in the cell of 5 (0.45..0.55); scaled ×3 around m = 0.5 it is 0.56.
        assert_eq!(d.value(0.52, 0.5, 1.0), ParamValue::Int(5));
        assert_eq!(d.value(0.52, 0.5, 3.0), ParamValue::Int(6));
    }

    #[test]
    fn single_values_are_constants() {
        for domain in [
            Domain::Double {
                min: 2.0,
                max: 2.0,
                step: None,
                distribution: Distribution::Uniform,
            },
            Domain::Double {
                min: 0.0,
                max: 0.5,
                step: Some(1.0),
                distribution: Distribution::Uniform,
            },
            Domain::Int {
                min: 3,
                max: 4,
                step: Some(5),
                distribution: Distribution::LogUniform,
            },
            Domain::Discrete {
                values: vec![ParamValue::Int(1), ParamValue::Float(1.0)],
            },
        ] {
            let Err(v) = Dim::of(&domain) else {
                panic!("{domain:?} is not a constant");
            };
            assert!(domain.contains(&v), "{domain:?}: {v:?}");
        }
    }
}
