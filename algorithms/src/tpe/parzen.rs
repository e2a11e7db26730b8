//! Parzen estimators for TPE, after Optuna's `_ParzenEstimator` (4.x): a weighted mixture
//! with one kernel per observation plus a prior kernel.
//!
//! Each parameter becomes an [`Axis`]: numbers live in [0, 1] (the bounds, after the log
//! transform for log distributions, mapped linearly; stepped and integer parameters cover
//! their values' cells, so the ends reach half a step beyond `min` and the last value) and
//! lists are indices. Optuna's rules are affine-invariant, so this normalisation changes no
//! decision while keeping every computation finite whatever the bounds. Numeric kernels are
//! normals truncated to [0, 1]; stepped ones put the mass of each value's cell on that
//! value; list kernels are categorical with prior smoothing. Observations' kernels are
//! weighted by Optuna's ramp by age, or by given weights (multi-objective TPE's `l`, whose
//! weights are hypervolume contributions).

use crate::domain::{
    double_last_step, int_at, int_last_step, lerp, nearest_step, same_value, stepped_double,
};
use crate::halves;
use crate::normal;
use ferrotune_core::{Distribution, Domain, ParamValue};
use rand::RngExt;
use rand_chacha::ChaCha8Rng;
use std::sync::Mutex;

/// Kernels (observations × dimensions) from which an estimator's kernels are made on two
/// threads. With the memos most masses are kept from the previous suggestion, and a kernel
/// costs some 100 instructions: at 1,000 trials of 6 parameters (6,000) a split cost more
/// than it saved (`tpe` 0.62–0.76 ms against 0.36–0.69 ms in three runs each, `benches/compare`).
pub(crate) const PARALLEL_MASSES: usize = 20_000;

/// Stepped doubles with more values than this are modelled as continuous and snapped
/// (their indices would no longer be exact in an f64).
const MAX_EXACT_STEPS: f64 = 9.0e15;

/// How TPE sees one parameter.
#[derive(Debug, Clone)]
pub(crate) enum Axis {
    /// A single possible value: nothing to learn.
    Fixed(ParamValue),
    /// A real number: `t = x` or `ln x`, and the coordinate is `t` mapped from
    /// `[t_lo, t_hi]` to [0, 1]. `snap` (step, last index) rounds very finely stepped
    /// doubles to their grid.
    Continuous {
        min: f64,
        max: f64,
        log: bool,
        t_lo: f64,
        t_hi: f64,
        snap: Option<(f64, f64)>,
        prior_sigma: f64,
    },
    /// `min + k·step` for `k` in `0..=last` (doubles with a step, and integers).
    Stepped(Steps),
    /// One of a list (discrete and categorical parameters).
    Choice(Vec<ParamValue>),
}

/// A grid of values and their cells in [0, 1]: equal cells, or cells between log-midpoints
/// for log distributions.
#[derive(Debug, Clone)]
pub(crate) struct Steps {
    grid: Grid,
    last: u64,
    log: bool,
    /// Log grids: the ln-range covered by the cells.
    t_lo: f64,
    t_hi: f64,
    prior_sigma: f64,
}

#[derive(Debug, Clone, Copy)]
enum Grid {
    Double { min: f64, max: f64, step: f64 },
    Int { min: i64, max: i64, step: i64 },
}

impl Grid {
    fn min(self) -> f64 {
        match self {
            Grid::Double { min, .. } => min,
            Grid::Int { min, .. } => min as f64,
        }
    }

    fn step(self) -> f64 {
        match self {
            Grid::Double { step, .. } => step,
            Grid::Int { step, .. } => step as f64,
        }
    }

    /// The k-th value as a float (for positions; `value` gives the exact one).
    fn approx(self, k: u64) -> f64 {
        self.min() + k as f64 * self.step()
    }

    fn value(self, k: u64) -> ParamValue {
        match self {
            Grid::Double { min, max, step } => ParamValue::Float(stepped_double(min, max, step, k)),
            Grid::Int { min, max, step } => ParamValue::Int(int_at(min, max, step, k)),
        }
    }
}

/// σ of the prior kernel in [0, 1]: Optuna's (the whole range) for uniform parameters; for
/// normal ones, their own σ (a sixth of the range), so that TPE's prior is the user's.
fn prior_sigma(d: Distribution) -> f64 {
    match d {
        Distribution::Uniform | Distribution::LogUniform => 1.0,
        Distribution::Normal | Distribution::LogNormal => 1.0 / 6.0,
    }
}

impl Axis {
    /// The axis of a domain that passed `space_problems`.
    pub(crate) fn new(domain: &Domain) -> Axis {
        match domain {
            Domain::Double {
                min,
                max,
                step,
                distribution,
            } => {
                let (min, max) = (*min, *max);
                if min >= max {
                    return Axis::Fixed(ParamValue::Float(min));
                }
                let last = step.map(|s| (s, double_last_step(min, max, s).max(0.0)));
                match last {
                    Some((s, 0.0)) => {
                        Axis::Fixed(ParamValue::Float(stepped_double(min, max, s, 0)))
                    }
                    Some((step, last)) if last < MAX_EXACT_STEPS => {
                        Axis::stepped(Grid::Double { min, max, step }, last as u64, *distribution)
                    }
                    snap => {
                        let log = distribution.is_log();
                        let t = |x: f64| if log { x.ln() } else { x };
                        Axis::Continuous {
                            min,
                            max,
                            log,
                            t_lo: t(min),
                            t_hi: t(max),
                            snap,
                            prior_sigma: prior_sigma(*distribution),
                        }
                    }
                }
            }
            Domain::Int {
                min,
                max,
                step,
                distribution,
            } => {
                let step = step.unwrap_or(1).max(1);
                let last = int_last_step(*min, *max, step);
                if last == 0 {
                    return Axis::Fixed(ParamValue::Int(*min));
                }
                let grid = Grid::Int {
                    min: *min,
                    max: *max,
                    step,
                };
                Axis::stepped(grid, last, *distribution)
            }
            Domain::Discrete { values } => Axis::choice(values.clone()),
            Domain::Categorical { values } => {
                Axis::choice(values.iter().cloned().map(ParamValue::Str).collect())
            }
        }
    }

    fn choice(values: Vec<ParamValue>) -> Axis {
        if values.len() == 1 {
            Axis::Fixed(values[0].clone())
        } else {
            Axis::Choice(values)
        }
    }

    fn stepped(grid: Grid, last: u64, d: Distribution) -> Axis {
        let mut s = Steps {
            grid,
            last,
            log: d.is_log(),
            t_lo: 0.0,
            t_hi: 1.0,
            prior_sigma: prior_sigma(d),
        };
        if s.log {
            s.t_lo = grid.min().ln() - s.gap(0) / 2.0;
            s.t_hi = grid.approx(last).ln() + s.gap(last - 1) / 2.0;
        }
        Axis::Stepped(s)
    }

    /// Whether there is anything to learn.
    pub(crate) fn is_fixed(&self) -> bool {
        matches!(self, Axis::Fixed(_))
    }

    /// The coordinate of a value (a position in [0, 1], or a list index), or `None` when
    /// the value cannot belong to this axis.
    pub(crate) fn encode(&self, v: &ParamValue) -> Option<f64> {
        match self {
            Axis::Fixed(_) => Some(0.0),
            Axis::Choice(values) => values
                .iter()
                .position(|c| same_value(c, v, 0.0))
                .map(|i| i as f64),
            Axis::Continuous {
                min,
                max,
                log,
                t_lo,
                t_hi,
                ..
            } => {
                let x = v.as_f64().filter(|x| x.is_finite())?.clamp(*min, *max);
                let t = if *log { ln(x) } else { x };
                Some(unit(*t_lo, *t_hi, t))
            }
            Axis::Stepped(s) => {
                let x = v.as_f64().filter(|x| x.is_finite())?;
                Some(s.position(s.index_of_value(x)))
            }
        }
    }

    /// The value at a coordinate (inside the parameter's domain).
    pub(crate) fn decode(&self, c: f64) -> ParamValue {
        match self {
            Axis::Fixed(v) => v.clone(),
            Axis::Choice(values) => values[(c.max(0.0) as usize).min(values.len() - 1)].clone(),
            Axis::Continuous {
                min,
                max,
                log,
                t_lo,
                t_hi,
                snap,
                ..
            } => {
                let t = lerp(*t_lo, *t_hi, c.clamp(0.0, 1.0));
                let x = if *log { t.exp() } else { t };
                let x = if x.is_nan() {
                    *min
                } else {
                    x.clamp(*min, *max)
                };
                match snap {
                    None => ParamValue::Float(x),
                    Some((step, last)) => ParamValue::Float(stepped_double(
                        *min,
                        *max,
                        *step,
                        nearest_step(*min, *step, *last, x),
                    )),
                }
            }
            Axis::Stepped(s) => s.grid.value(s.index_of(c)),
        }
    }

    fn prior_sigma(&self) -> f64 {
        match self {
            Axis::Continuous { prior_sigma, .. } => *prior_sigma,
            Axis::Stepped(s) => s.prior_sigma,
            _ => 1.0,
        }
    }
}

/// `x.ln()` out of line: LLVM takes its intrinsic for free of side effects and would
/// compute it on both sides of a branch (for every linear parameter too).
#[inline(never)]
fn ln(x: f64) -> f64 {
    x.ln()
}

/// `t` mapped from `[lo, hi]` to [0, 1] (halved first, so that no difference overflows).
fn unit(lo: f64, hi: f64, t: f64) -> f64 {
    let span = hi / 2.0 - lo / 2.0;
    let u = (t / 2.0 - lo / 2.0) / span;
    if u.is_nan() { 0.5 } else { u.clamp(0.0, 1.0) }
}

impl Steps {
    fn count(&self) -> f64 {
        self.last as f64 + 1.0
    }

    /// ln(v_{k+1} / v_k), for log grids.
    fn gap(&self, k: u64) -> f64 {
        (self.grid.step() / self.grid.approx(k)).ln_1p()
    }

    /// The cell of value k: its start in [0, 1] and its width.
    fn cell(&self, k: u64) -> (f64, f64) {
        if !self.log {
            let n = self.count();
            return (k as f64 / n, 1.0 / n);
        }
        let below = self.gap(k.max(1) - 1);
        let above = self.gap(k.min(self.last - 1));
        let span = self.t_hi - self.t_lo;
        let start = self.grid.approx(k).ln() - below / 2.0;
        ((start - self.t_lo) / span, (below + above) / 2.0 / span)
    }

    /// Where value k sits in [0, 1].
    fn position(&self, k: u64) -> f64 {
        if self.log {
            unit(self.t_lo, self.t_hi, self.grid.approx(k).ln())
        } else {
            (k as f64 + 0.5) / self.count()
        }
    }

    /// The value whose cell holds `u`.
    fn index_of(&self, u: f64) -> u64 {
        let u = if u.is_nan() { 0.5 } else { u.clamp(0.0, 1.0) };
        if !self.log {
            return ((u * self.count()) as u64).min(self.last);
        }
        let t = lerp(self.t_lo, self.t_hi, u);
        let x = t.exp();
        let mut k = ((x - self.grid.min()) / self.grid.step())
            .floor()
            .clamp(0.0, self.last as f64) as u64;
        // The floor is the value just below x; the cell boundary is the log-midpoint.
        for _ in 0..2 {
            if k < self.last && t > self.grid.approx(k).ln() + self.gap(k) / 2.0 {
                k += 1;
            } else if k > 0 && t < self.grid.approx(k).ln() - self.gap(k - 1) / 2.0 {
                k -= 1;
            }
        }
        k
    }

    /// The index of the grid value nearest to `x` (in ln for log grids).
    fn index_of_value(&self, x: f64) -> u64 {
        if self.log {
            if x <= 0.0 {
                return 0;
            }
            self.index_of(unit(self.t_lo, self.t_hi, x.ln()))
        } else {
            nearest_step(self.grid.min(), self.grid.step(), self.last as f64, x)
        }
    }
}

/// Optuna's `_ParzenEstimatorParameters`, as far as ferrotune exposes them (the magic clip
/// is always on, as by default).
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Params {
    pub prior_weight: f64,
    pub consider_endpoints: bool,
}

/// Optuna's `default_weights`: older observations ramp down linearly once there are more
/// than 25, the 25 latest keep weight 1.
pub(crate) fn default_weights(n: usize) -> Vec<f64> {
    if n < 25 {
        return vec![1.0; n];
    }
    let ramp = n - 25;
    let lo = 1.0 / n as f64;
    (0..ramp)
        .map(|i| {
            if ramp == 1 {
                lo
            } else {
                lo + (1.0 - lo) * i as f64 / (ramp - 1) as f64
            }
        })
        .chain(std::iter::repeat_n(1.0, 25))
        .collect()
}

/// One dimension's kernels, one per component (the prior last).
#[derive(Debug, Clone)]
enum Kernels {
    Fixed,
    Numeric {
        mu: Vec<f64>,
        sigma: Vec<f64>,
        /// 1/σ, to scale a distance with a product rather than a quotient.
        inv_sigma: Vec<f64>,
        /// The observations' kernels (all but the prior, the last) in the order of their μ.
        sorted: Vec<u32>,
        /// ln σ, and the ln mass of the kernel on [0, 1] (its truncation).
        ln_sigma: Vec<f64>,
        ln_mass: Vec<f64>,
    },
    Choice {
        cumulative: Vec<Vec<f64>>,
        ln_p: Vec<Vec<f64>>,
    },
}

/// A mixture of product kernels over some axes.
#[derive(Debug, Clone)]
pub(crate) struct Estimator {
    /// Each component's ln weight plus the parts of its ln density that do not depend on
    /// the point (−ln σ − ln mass − ln √(2π) of each continuous dimension): computed once
    /// here rather than once per candidate.
    base: Vec<f64>,
    /// For a single continuous dimension (univariate TPE's numeric parameters): the
    /// kernels sorted by μ, so that a point's density sums only those near enough to count.
    window: Option<Window>,
    cumulative: Vec<f64>,
    kernels: Vec<Kernels>,
}

/// The mixture's weights, shared by every group's estimator of the same observations
/// (univariate TPE has one estimator per parameter, all with the same weights).
#[derive(Debug, Clone)]
pub(crate) struct Mixture {
    ln_weights: Vec<f64>,
    cumulative: Vec<f64>,
}

impl Mixture {
    /// [`default_weights`] for `n` observations, and the prior's.
    pub(crate) fn new(n: usize, p: Params) -> Mixture {
        Mixture::weighted(n, default_weights(n), p)
    }

    /// Given weights for the observations' kernels (positive, one each; the prior's is
    /// `prior_weight` against them), as Optuna's `predetermined_weights`, which
    /// multi-objective TPE uses for `l`.
    pub(crate) fn weighted(n: usize, mut weights: Vec<f64>, p: Params) -> Mixture {
        weights.resize(n, 1.0);
        weights.push(if n == 0 { 1.0 } else { p.prior_weight });
        let total: f64 = weights.iter().sum();
        let mut acc = 0.0;
        let cumulative = weights
            .iter()
            .map(|w| {
                acc += w / total;
                acc
            })
            .collect();
        let ln_weights = weights.iter().map(|w| (w / total).ln()).collect();
        Mixture {
            ln_weights,
            cumulative,
        }
    }
}

/// What one dimension's numeric kernels were at the previous suggestion, by point (an
/// observation's index among the trials TPE uses): the next suggestion's observations are
/// mostly the same ones, so it sorts an almost sorted list and keeps the masses of the
/// kernels that did not change. Only a hint: a memo of another history costs time, never
/// changes a result.
#[derive(Debug, Default)]
pub(crate) struct KernelMemo {
    /// Point ids in the order of the previous sort.
    order: Vec<u32>,
    /// By point id: the kernel's μ and σ (their bits), ln σ and ln mass.
    kernels: Vec<Option<(u64, u64, f64, f64)>>,
}

/// The observations' point ids and each dimension's memo (aligned with the axes).
#[derive(Clone, Copy)]
pub(crate) struct Memo<'a> {
    pub ids: &'a [u32],
    pub dims: &'a [&'a Mutex<KernelMemo>],
}

impl Estimator {
    /// The estimator of `n` observations given as `columns` (one per axis, each with the
    /// observations' coordinates along it, in trial order), weighted by [`default_weights`].
    #[cfg(test)]
    pub(crate) fn new(axes: &[&Axis], columns: &[Vec<f64>], n: usize, p: Params) -> Estimator {
        Estimator::with_mixture(axes, columns, Mixture::new(n, p), p, None)
    }

    /// The estimator of the observations in `columns` with the weights of `mixture`, which
    /// must be of as many observations; `memo`, when given, is read and updated.
    pub(crate) fn with_mixture(
        axes: &[&Axis],
        columns: &[Vec<f64>],
        mixture: Mixture,
        p: Params,
        memo: Option<Memo>,
    ) -> Estimator {
        let n = mixture.ln_weights.len() - 1;
        let dims: Vec<(usize, &Axis, &[f64])> = axes
            .iter()
            .zip(columns)
            .enumerate()
            .map(|(d, (&axis, column))| (d, axis, column.as_slice()))
            .collect();
        // Half of the dimensions on another thread when there are many observations (their
        // kernels' masses, two `erfc` and a `ln_1p` each, are most of the making).
        let large = n * dims.len() >= PARALLEL_MASSES;
        let kernels = halves::map_halves(&dims, large, |part| {
            part.iter()
                .map(|&(d, axis, column)| match axis {
                    Axis::Fixed(_) => Kernels::Fixed,
                    Axis::Choice(values) => choice_kernels(column, values.len(), p.prior_weight),
                    _ => {
                        let memo = memo.map(|m| (m.ids, m.dims[d]));
                        numeric_kernels(column, axis.prior_sigma(), p, memo)
                    }
                })
                .collect()
        });
        let mut base = mixture.ln_weights;
        for (k, axis) in kernels.iter().zip(axes) {
            if let Kernels::Numeric {
                ln_sigma, ln_mass, ..
            } = k
                && !matches!(axis, Axis::Stepped(_))
            {
                for ((b, ls), lm) in base.iter_mut().zip(ln_sigma).zip(ln_mass) {
                    *b -= ls + lm + normal::LN_SQRT_2PI;
                }
            }
        }
        let window = match (kernels.as_slice(), axes) {
            ([k @ Kernels::Numeric { .. }], [axis]) if !matches!(axis, Axis::Stepped(_)) => {
                Window::new(k, &base)
            }
            _ => None,
        };
        Estimator {
            base,
            window,
            cumulative: mixture.cumulative,
            kernels,
        }
    }

    /// One draw: a component chosen by weight, then each dimension from its kernel.
    pub(crate) fn sample(&self, rng: &mut ChaCha8Rng) -> Vec<f64> {
        let r: f64 = rng.random();
        let i = first_above(&self.cumulative, r);
        self.kernels
            .iter()
            .map(|k| match k {
                Kernels::Fixed => 0.0,
                Kernels::Numeric { mu, sigma, .. } => {
                    let (m, s) = (mu[i], sigma[i]);
                    let z = normal::truncated_quantile(-m / s, (1.0 - m) / s, rng.random());
                    (m + s * z).clamp(0.0, 1.0)
                }
                Kernels::Choice { cumulative, .. } => {
                    first_above(&cumulative[i], rng.random()) as f64
                }
            })
            .collect()
    }

    /// ln of the mixture's density (mass, for stepped and list dimensions) at `x`.
    #[cfg(test)]
    pub(crate) fn log_pdf(&self, axes: &[&Axis], x: &[f64]) -> f64 {
        self.log_pdf_with(axes, x, &mut Vec::new(), &mut CellTerms::default())
    }

    /// The same, with `scratch` for the per-component sums (reused across calls, so that
    /// scoring candidates allocates nothing) and `cells` for the stepped dimensions'
    /// terms by value (each candidate of a call scored by this estimator may share them).
    pub(crate) fn log_pdf_with(
        &self,
        axes: &[&Axis],
        x: &[f64],
        scratch: &mut Vec<f64>,
        cells: &mut CellTerms,
    ) -> f64 {
        if let (Some(w), [c]) = (&self.window, x) {
            return w.log_pdf(*c, scratch);
        }
        scratch.clear();
        scratch.extend_from_slice(&self.base);
        let per_component = scratch.as_mut_slice();
        for (d, ((kernels, axis), &c)) in self.kernels.iter().zip(axes).zip(x).enumerate() {
            match kernels {
                Kernels::Fixed => {}
                Kernels::Choice { ln_p, .. } => {
                    let c = c as usize;
                    for (acc, row) in per_component.iter_mut().zip(ln_p) {
                        *acc += row[c.min(row.len() - 1)];
                    }
                }
                Kernels::Numeric {
                    mu,
                    sigma,
                    inv_sigma,
                    ln_mass,
                    ..
                } => match axis {
                    Axis::Stepped(steps) => {
                        let k = steps.index_of(c);
                        let cell = cells.0.entry((d, k)).or_insert_with(|| {
                            let (lo, w) = steps.cell(k);
                            mu.iter()
                                .zip(sigma)
                                .zip(ln_mass)
                                .map(|((m, s), lm)| normal::log_cell_mass((lo - m) / s, w / s) - lm)
                                .collect()
                        });
                        for (acc, t) in per_component.iter_mut().zip(cell.iter()) {
                            *acc += t;
                        }
                    }
                    _ => add_numeric_terms(per_component, c, mu, inv_sigma),
                },
            }
        }
        log_sum_exp(per_component)
    }
}

/// How far below the largest term a term may be and still be summed: all of a mixture's
/// other terms together (even a million of them) are then below 2⁻⁵⁴ of the sum, which
/// rounding would lose anyway.
const NEGLIGIBLE_NATS: f64 = 52.0;

/// A one-dimensional continuous mixture's kernels in the order of their μ, each with its
/// `base` (see [`Estimator`]), and the prior's apart: a point's density needs only the
/// kernels within reach of it, found by bisection.
#[derive(Debug, Clone)]
struct Window {
    mu: Vec<f64>,
    inv_sigma: Vec<f64>,
    base: Vec<f64>,
    /// The largest σ and base of those kernels, which bound every term's distance falloff.
    max_sigma: f64,
    max_base: f64,
    /// The prior's μ, 1/σ and base.
    prior: (f64, f64, f64),
}

impl Window {
    /// `None` unless every μ is a number (a NaN would break the bisection).
    fn new(kernels: &Kernels, base: &[f64]) -> Option<Window> {
        let Kernels::Numeric {
            mu,
            sigma,
            inv_sigma,
            sorted,
            ..
        } = kernels
        else {
            return None;
        };
        let n = sorted.len();
        if mu.len() != n + 1 || base.len() != n + 1 || mu.iter().any(|m| m.is_nan()) {
            return None;
        }
        let pick = |v: &[f64]| -> Vec<f64> { sorted.iter().map(|&i| v[i as usize]).collect() };
        let (mu_s, inv_s, base_s) = (pick(mu), pick(inv_sigma), pick(base));
        Some(Window {
            max_sigma: sigma[..n].iter().copied().fold(0.0, f64::max),
            max_base: base_s.iter().copied().fold(f64::NEG_INFINITY, f64::max),
            mu: mu_s,
            inv_sigma: inv_s,
            base: base_s,
            prior: (mu[n], inv_sigma[n], base[n]),
        })
    }

    /// ln of the mixture's density at `c`: the prior's term and those of the kernels whose
    /// μ lies within reach of `c`. A kernel beyond it has a term more than
    /// [`NEGLIGIBLE_NATS`] below that of `c`'s nearest kernel or the prior: with σ at most
    /// `max_sigma` and base at most `max_base`, its term is below
    /// `max_base − ((c − μ)/max_sigma)²/2`.
    fn log_pdf(&self, c: f64, scratch: &mut Vec<f64>) -> f64 {
        let term = |m: f64, inv: f64, b: f64| {
            let z = (c - m) * inv;
            b - 0.5 * z * z
        };
        let prior = term(self.prior.0, self.prior.1, self.prior.2);
        let n = self.mu.len();
        let j = self.mu.partition_point(|&m| m < c);
        let mut lower = prior;
        for i in [j.wrapping_sub(1), j] {
            if i < n {
                lower = lower.max(term(self.mu[i], self.inv_sigma[i], self.base[i]));
            }
        }
        let reach = self.max_sigma * (2.0 * (self.max_base - lower + NEGLIGIBLE_NATS)).sqrt();
        let (lo, hi) = if reach.is_finite() {
            (
                self.mu.partition_point(|&m| m < c - reach),
                self.mu.partition_point(|&m| m <= c + reach),
            )
        } else {
            (0, n)
        };
        scratch.clear();
        scratch.push(prior);
        let (mu, inv, base) = (
            &self.mu[lo..hi],
            &self.inv_sigma[lo..hi],
            &self.base[lo..hi],
        );
        scratch.extend(
            mu.iter()
                .zip(inv)
                .zip(base)
                .map(|((&m, &i), &b)| term(m, i, b)),
        );
        log_sum_exp_dense(scratch)
    }
}

/// Adds to each component's sum the part of its kernel's ln density at `c` that depends
/// on `c` (the rest is in [`Estimator`]'s `base`): most of scoring a candidate. Indexed
/// over slices cut to one length, so that the loop compiles to packed arithmetic.
fn add_numeric_terms(acc: &mut [f64], c: f64, mu: &[f64], inv_sigma: &[f64]) {
    let n = acc.len().min(mu.len()).min(inv_sigma.len());
    let (acc, mu, inv_sigma) = (&mut acc[..n], &mu[..n], &inv_sigma[..n]);
    for i in 0..n {
        let z = (c - mu[i]) * inv_sigma[i];
        acc[i] -= 0.5 * z * z;
    }
}

/// One estimator's terms for the cells of its stepped dimensions, by (dimension, value
/// index): each is two `erfc`s per kernel, and the candidates of one suggestion often fall
/// on the same values (an integer's few likely ones), so they are computed once a call.
#[derive(Debug, Default)]
pub(crate) struct CellTerms(std::collections::HashMap<(usize, u64), Vec<f64>>);

/// The first index whose cumulative probability exceeds `r` (the last one when rounding
/// leaves the total just below 1).
fn first_above(cumulative: &[f64], r: f64) -> usize {
    cumulative
        .iter()
        .position(|&c| c > r)
        .unwrap_or(cumulative.len() - 1)
}

/// `ln Σ exp(x)`, as `max + ln Σ exp(x − max)` summed in order, but without the terms that
/// cannot change the sum: a term below half an ulp of the running sum leaves it as it is
/// (round to nearest), so once the sum is at least `2^E`, a term `exp(d)` with
/// `d < (E − 55)·ln 2` (four times below that, whatever exp's last-bit error) is skipped
/// uncomputed; before any term counts, only those that underflow to 0 (`d < −800`). The
/// result is that of the plain sum, bit for bit, for a fraction of the `exp` calls.
fn log_sum_exp(x: &[f64]) -> f64 {
    let max = max_of(x);
    if max == f64::NEG_INFINITY {
        return max;
    }
    // `Sum for f64` starts from −0.0.
    let mut sum = -0.0f64;
    let mut skip_below = -800.0;
    // The next power of two at which `skip_below` rises.
    let mut next = f64::MIN_POSITIVE;
    for &v in x {
        let d = v - max;
        if d < skip_below {
            continue;
        }
        sum += d.exp();
        if sum >= next {
            // sum ∈ [2^e, 2^(e+1)), a normal number (the terms are at most 1 apart from
            // NaN, which never compares here).
            let e = ((sum.to_bits() >> 52) & 0x7ff) as i64 - 1023;
            skip_below = (e - 55) as f64 * std::f64::consts::LN_2;
            next = f64::from_bits(((e + 1 + 1023) as u64) << 52);
        }
    }
    max + sum.ln()
}

/// `ln Σ exp(x)` for terms of which most count (a [`Window`]'s): as `max + ln Σ exp(x −
/// max)`, the sum in four lanes of [`exp_below_zero`], which compile to packed arithmetic:
/// within a few ulps of the plain sum of `f64::exp`s (terms below e^−708 count as 0, which
/// a sum of at least 1 cannot tell), at a fraction of the time of a call to `exp` per term.
/// Where most terms are far below the largest ([`log_sum_exp`]'s case), skipping them
/// costs less than computing them all this way.
fn log_sum_exp_dense(x: &[f64]) -> f64 {
    let max = max_of(x);
    if max == f64::NEG_INFINITY {
        return max;
    }
    let mut lanes = [0.0f64; 4];
    let mut chunks = x.chunks_exact(4);
    for c in &mut chunks {
        for (s, &v) in lanes.iter_mut().zip(c) {
            *s += exp_below_zero(v - max);
        }
    }
    let mut sum = (lanes[0] + lanes[1]) + (lanes[2] + lanes[3]);
    for &v in chunks.remainder() {
        sum += exp_below_zero(v - max);
    }
    max + sum.ln()
}

/// `e^d` for `d ≤ 0`, within a few ulps where `d ≥ −708`, and 0 below (NaN for NaN),
/// without a branch or a call, so that a loop of them is vectorised: `d = k·ln 2 + r` with
/// `k` rounded to the nearest integer (by adding 1.5·2⁵²) and `|r| ≤ ln 2 / 2` (ln 2 in two
/// parts, fdlibm's, so that `k·ln 2` is exact), `e^r` by its Taylor series to `r¹³/13!`
/// (the rest below 10⁻¹⁷ of it), and `2^k` built from its exponent bits.
#[inline(always)]
fn exp_below_zero(d: f64) -> f64 {
    const SHIFT: f64 = 6_755_399_441_055_744.0;
    const LN2_HI: f64 = f64::from_bits(0x3fe6_2e42_fee0_0000);
    const LN2_LO: f64 = f64::from_bits(0x3dea_39ef_3579_3c76);
    // 1/n! for n = 13, 12, …, 0.
    const C: [f64; 14] = [
        1.0 / 6_227_020_800.0,
        1.0 / 479_001_600.0,
        1.0 / 39_916_800.0,
        1.0 / 3_628_800.0,
        1.0 / 362_880.0,
        1.0 / 40_320.0,
        1.0 / 5_040.0,
        1.0 / 720.0,
        1.0 / 120.0,
        1.0 / 24.0,
        1.0 / 6.0,
        0.5,
        1.0,
        1.0,
    ];
    let t = d * std::f64::consts::LOG2_E + SHIFT;
    let k = t - SHIFT;
    let r = (d - k * LN2_HI) - k * LN2_LO;
    let mut p = C[0];
    for c in &C[1..] {
        p = p * r + c;
    }
    // t's low bits hold k (two's complement): 2^k has exponent field k + 1023.
    let k_bits = t.to_bits().wrapping_sub(SHIFT.to_bits());
    let scale = f64::from_bits(k_bits.wrapping_add(1023) << 52);
    let e = p * scale;
    if d < -708.0 { 0.0 } else { e }
}

/// The largest of `x` that is not NaN (−∞ when there is none), as `fold(−∞, f64::max)`
/// gives it, but in four lanes that compile to packed maxima: a select by `>` (false for
/// NaN) is what `maxpd` computes. Only a tie of 0 and −0 may come out with the other sign,
/// which no difference or sum with it can tell apart.
fn max_of(x: &[f64]) -> f64 {
    let pick = |m: f64, v: f64| if v > m { v } else { m };
    let mut lanes = [f64::NEG_INFINITY; 4];
    let mut chunks = x.chunks_exact(4);
    for c in &mut chunks {
        for (m, &v) in lanes.iter_mut().zip(c) {
            *m = pick(*m, v);
        }
    }
    let rest = chunks
        .remainder()
        .iter()
        .fold(f64::NEG_INFINITY, |m, &v| pick(m, v));
    lanes.into_iter().fold(rest, pick)
}

/// The sorted union of two sorted lists.
fn merge(a: &[u128], b: &[u128]) -> Vec<u128> {
    let mut out = Vec::with_capacity(a.len() + b.len());
    let (mut i, mut j) = (0, 0);
    while i < a.len() && j < b.len() {
        if b[j] < a[i] {
            out.push(b[j]);
            j += 1;
        } else {
            out.push(a[i]);
            i += 1;
        }
    }
    out.extend_from_slice(&a[i..]);
    out.extend_from_slice(&b[j..]);
    out
}

/// Optuna's categorical kernels: each observation puts 1 on its value plus `prior_weight /
/// (n + 1)` on every value (normalised); the prior kernel is uniform.
fn choice_kernels(column: &[f64], n_choices: usize, prior_weight: f64) -> Kernels {
    let n_kernels = column.len() + 1;
    let rows: Vec<Vec<f64>> = column
        .iter()
        .map(|&c| Some(c as usize))
        .chain([None])
        .map(|observed| {
            let mut row = vec![prior_weight / n_kernels as f64; n_choices];
            if let Some(c) = observed {
                row[c.min(n_choices - 1)] += 1.0;
            }
            let total: f64 = row.iter().sum();
            row.iter().map(|w| w / total).collect()
        })
        .collect();
    let ln_p = rows
        .iter()
        .map(|r| r.iter().map(|p| p.ln()).collect())
        .collect();
    let cumulative = rows
        .iter()
        .map(|r| {
            let mut acc = 0.0;
            r.iter()
                .map(|p| {
                    acc += p;
                    acc
                })
                .collect()
        })
        .collect();
    Kernels::Choice { cumulative, ln_p }
}

/// Optuna's numeric kernels on [0, 1] (5.x, univariate and multivariate alike): one at
/// each observation, with the larger distance to its neighbours as bandwidth, clipped to
/// [1 / min(100, n + 2), 1] (the "magic clip"); then the prior at the midpoint. `memo`:
/// the observations' point ids and this dimension's memo.
fn numeric_kernels(
    column: &[f64],
    prior_sigma: f64,
    p: Params,
    memo: Option<(&[u32], &Mutex<KernelMemo>)>,
) -> Kernels {
    let n = column.len();
    let min_sigma = 1.0 / (n as f64 + 2.0).min(100.0);
    // A memo is a hint: one left poisoned by a panic is as good as any.
    let mut memo = memo.map(|(ids, m)| (ids, m.lock().unwrap_or_else(|e| e.into_inner())));
    let (mut sigma, sorted) = neighbour_sigmas(
        column,
        p.consider_endpoints,
        memo.as_mut().map(|(ids, m)| (*ids, &mut m.order)),
    );
    let memo = memo.as_mut().map(|(ids, m)| (*ids, &mut m.kernels));
    for s in &mut sigma {
        *s = s.clamp(min_sigma, 1.0);
    }
    let mut mu: Vec<f64> = column.iter().map(|m| m.clamp(0.0, 1.0)).collect();
    let mut ln_sigma = Vec::with_capacity(n + 1);
    let mut ln_mass = Vec::with_capacity(n + 1);
    match memo {
        Some((ids, kernels)) => {
            let top = ids.iter().copied().max().map_or(0, |t| t as usize + 1);
            if kernels.len() < top {
                kernels.resize(top, None);
            }
            for ((&m, &s), &id) in mu.iter().zip(&sigma).zip(ids) {
                let id = id as usize;
                let (ls, lm) = match kernels[id] {
                    Some((mb, sb, ls, lm)) if mb == m.to_bits() && sb == s.to_bits() => (ls, lm),
                    _ => {
                        let k = (s.ln(), kernel_log_mass(m, s));
                        kernels[id] = Some((m.to_bits(), s.to_bits(), k.0, k.1));
                        k
                    }
                };
                ln_sigma.push(ls);
                ln_mass.push(lm);
            }
        }
        None => {
            for (&m, &s) in mu.iter().zip(&sigma) {
                ln_sigma.push(s.ln());
                ln_mass.push(kernel_log_mass(m, s));
            }
        }
    }
    mu.push(0.5);
    sigma.push(prior_sigma);
    ln_sigma.push(prior_sigma.ln());
    ln_mass.push(kernel_log_mass(0.5, prior_sigma));
    Kernels::Numeric {
        sorted,
        inv_sigma: sigma.iter().map(|s| 1.0 / s).collect(),
        mu,
        sigma,
        ln_sigma,
        ln_mass,
    }
}

/// `normal::log_mass(−m/σ, (1 − m)/σ)`, the ln mass of a kernel on [0, 1], bit for bit,
/// without the `erfc` calls whose value is exactly 0: in the usual case (an interval
/// around 0, not too narrow) it is `ln(1 − Φ(a) − Φ(−b))`, and `Φ(x) = erfc(−x/√2)/2` is 0
/// once `−x/√2 ≥ 28` (libm's `erfc` returns 0 from 28 on; erfc(28) < 1e-342), which narrow
/// kernels far from an end reach.
fn kernel_log_mass(m: f64, s: f64) -> f64 {
    let (a, b) = (-m / s, (1.0 - m) / s);
    // normal::log_mass's last branch (false for NaN).
    if b - a >= 1e-5 && b > 0.0 && a <= 0.0 {
        (-cdf_unless_zero(a) - cdf_unless_zero(-b)).ln_1p()
    } else {
        normal::log_mass(a, b)
    }
}

/// `normal::cdf(x)`, without calling `erfc` where it is exactly 0.
fn cdf_unless_zero(x: f64) -> f64 {
    let y = -x * std::f64::consts::FRAC_1_SQRT_2;
    if y >= 28.0 { 0.0 } else { 0.5 * libm::erfc(y) }
}

/// Each observation's bandwidth (and the observations' indices in the order of their
/// values): the larger gap to its neighbours among the observations
/// and the ends 0 and 1 (the prior takes no part, as in Optuna 5). Without
/// `consider_endpoints`, the outermost observations use their inner gap only (when there
/// are two or more). `hint`: the observations' point ids and the order of the previous
/// sort by id, which is read as a hint and replaced by this sort's.
fn neighbour_sigmas(
    column: &[f64],
    consider_endpoints: bool,
    hint: Option<(&[u32], &mut Vec<u32>)>,
) -> (Vec<f64>, Vec<u32>) {
    let m = column.len();
    // Each value's total-order key (as `f64::total_cmp` ranks) above its index, sorted as
    // plain integers: the order of a stable sort by value, ties by index, at a fraction of
    // a comparator sort's cost (which was a third of a multivariate suggestion at 1,000
    // trials). The keys are distinct, so every way of sorting them gives the same order.
    let key = |i: usize| {
        let bits = column[i].to_bits();
        let k = if bits >> 63 == 1 {
            !bits
        } else {
            bits | 1 << 63
        };
        u128::from(k) << 64 | i as u128
    };
    let index = |k: u128| (k as u64) as usize;
    let order: Vec<u128> = match hint {
        None => {
            let mut order: Vec<u128> = (0..m).map(key).collect();
            order.sort_unstable();
            order
        }
        Some((ids, previous)) => {
            // The keys of the points still here in the previous order, which is sorted
            // when their values are those of the previous call (a point's index rises or
            // falls with the others'): then only the new points need sorting, and a merge.
            let top = ids.iter().copied().max().map_or(0, |t| t as usize + 1);
            let mut at = vec![u32::MAX; top];
            for (i, &id) in ids.iter().enumerate() {
                at[id as usize] = i as u32;
            }
            let mut kept = Vec::with_capacity(m);
            for &id in previous.iter() {
                if let Some(i) = at.get(id as usize).copied().filter(|&i| i != u32::MAX) {
                    kept.push(key(i as usize));
                    at[id as usize] = u32::MAX;
                }
            }
            let mut fresh: Vec<u128> = (0..m)
                .filter(|&i| at[ids[i] as usize] != u32::MAX)
                .map(key)
                .collect();
            fresh.sort_unstable();
            let order = if kept.is_sorted() {
                merge(&kept, &fresh)
            } else {
                kept.extend(fresh);
                kept.sort_unstable();
                kept
            };
            previous.clear();
            previous.extend(order.iter().map(|&k| ids[index(k)]));
            order
        }
    };
    let mut points = Vec::with_capacity(m + 2);
    points.push(0.0);
    points.extend(order.iter().map(|&k| column[index(k)]));
    points.push(1.0);
    // Each value's larger gap to a neighbour, written at its own index.
    let mut sigma = vec![0.0; m];
    for (w, &k) in points.windows(3).zip(&order) {
        sigma[index(k)] = (w[1] - w[0]).max(w[2] - w[1]);
    }
    if !consider_endpoints && m >= 2 {
        sigma[index(order[0])] = points[2] - points[1];
        sigma[index(order[m - 1])] = points[m] - points[m - 1];
    }
    let sorted = order.iter().map(|&k| index(k) as u32).collect();
    (sigma, sorted)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::random::rng_for;

    fn params() -> Params {
        Params {
            prior_weight: 1.0,
            consider_endpoints: false,
        }
    }

    #[test]
    fn exp_below_zero_is_exp_within_a_few_ulps() {
        let mut rng = rng_for(3, 4);
        let check = |d: f64| {
            let (got, want) = (exp_below_zero(d), d.exp());
            if d < -708.0 {
                assert_eq!(got, 0.0, "{d}");
            } else {
                assert!(
                    (got - want).abs() <= 4.0 * f64::EPSILON * want,
                    "{d}: {got} vs {want}"
                );
            }
        };
        for d in [
            0.0,
            -0.0,
            -1e-300,
            -0.5 * std::f64::consts::LN_2,
            -1.0,
            -700.0,
            -708.0,
        ] {
            check(d);
        }
        for _ in 0..200_000 {
            let spread = [1.0, 40.0, 745.0][rng.random_range(0..3)];
            check(-spread * rng.random::<f64>());
        }
        assert!(exp_below_zero(f64::NAN).is_nan());
        assert_eq!(exp_below_zero(f64::NEG_INFINITY), 0.0);
    }

    #[test]
    fn log_sum_exp_is_the_plain_sum_bit_for_bit_and_the_dense_one_within_rounding() {
        let plain = |x: &[f64]| {
            let max = x.iter().copied().fold(f64::NEG_INFINITY, f64::max);
            if max == f64::NEG_INFINITY {
                return max;
            }
            max + x.iter().map(|v| (v - max).exp()).sum::<f64>().ln()
        };
        let mut rng = rng_for(5, 6);
        for case in 0..2000 {
            let n = 1 + case % 300;
            // Spreads from a few units to thousands, so that terms are kept, skipped and
            // lost to underflow, with the maximum anywhere.
            let spread = [1.0, 10.0, 40.0, 80.0, 800.0, 3000.0][case % 6];
            let x: Vec<f64> = (0..n).map(|_| -spread * rng.random::<f64>()).collect();
            assert_eq!(log_sum_exp(&x).to_bits(), plain(&x).to_bits(), "{x:?}");
            let (got, want) = (log_sum_exp_dense(&x), plain(&x));
            assert!(
                (got - want).abs() <= 8.0 * f64::EPSILON * want.abs().max(1.0),
                "{x:?}"
            );
        }
        for x in [
            vec![],
            vec![f64::NEG_INFINITY; 3],
            vec![0.0, f64::NAN, -1.0],
            vec![f64::INFINITY, 0.0],
            vec![-1e-300, -5e-324, 0.0],
        ] {
            assert_eq!(log_sum_exp(&x).to_bits(), plain(&x).to_bits(), "{x:?}");
            let (got, want) = (log_sum_exp_dense(&x), plain(&x));
            assert!(
                got == want || got.is_nan() && want.is_nan(),
                "{x:?}: {got} vs {want}"
            );
        }
    }

    #[test]
    fn max_of_is_the_folded_maximum() {
        let fold = |x: &[f64]| x.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        let mut rng = rng_for(7, 8);
        for n in 0..40 {
            let mut x: Vec<f64> = (0..n).map(|_| rng.random::<f64>() - 0.5).collect();
            assert_eq!(max_of(&x).to_bits(), fold(&x).to_bits(), "{x:?}");
            // NaN anywhere is passed over.
            if n > 0 {
                x[(n * 7) % n] = f64::NAN;
                assert_eq!(max_of(&x).to_bits(), fold(&x).to_bits(), "{x:?}");
            }
        }
        assert_eq!(max_of(&[f64::NAN; 6]), f64::NEG_INFINITY);
        assert_eq!(max_of(&[-1.0, 0.0, -0.0, -3.0, 0.0]).abs(), 0.0);
        assert_eq!(max_of(&[f64::INFINITY, 1.0, 2.0, 3.0, 4.0]), f64::INFINITY);
    }

    #[test]
    fn kernel_masses_are_normal_log_mass_bit_for_bit() {
        // The shortcut relies on libm's erfc being exactly 0 from 28 on.
        assert_eq!(libm::erfc(28.0).to_bits(), 0.0f64.to_bits());
        assert_eq!(libm::erfc(f64::MAX).to_bits(), 0.0f64.to_bits());
        let sigmas = [1e-3, 0.01, 0.02, 0.05, 0.1, 1.0 / 6.0, 0.5, 1.0];
        for &s in &sigmas {
            for k in 0..=1000 {
                let m = k as f64 / 1000.0;
                let want = normal::log_mass(-m / s, (1.0 - m) / s);
                assert_eq!(
                    kernel_log_mass(m, s).to_bits(),
                    want.to_bits(),
                    "m {m}, σ {s}"
                );
            }
        }
    }

    #[test]
    fn default_weights_follow_optuna() {
        assert!(default_weights(0).is_empty());
        assert_eq!(default_weights(24), vec![1.0; 24]);
        assert_eq!(default_weights(25), vec![1.0; 25]);
        // np.linspace(1/26, 1, 1) == [1/26].
        assert_eq!(default_weights(26)[0], 1.0 / 26.0);
        let w = default_weights(35);
        assert_eq!(w.len(), 35);
        assert!((w[0] - 1.0 / 35.0).abs() < 1e-15);
        assert!((w[9] - 1.0).abs() < 1e-15);
        assert!(w.windows(2).all(|p| p[0] <= p[1]));
    }

    #[test]
    fn neighbour_bandwidths_follow_optuna() {
        // Observations 0.1, 0.2, 0.9 (the prior takes no part): sorted 0 | .1 .2 .9 | 1.
        let s = neighbour_sigmas(&[0.9, 0.15, 0.2], false, None).0;
        // 0.9 and 0.15: their inner gaps only; 0.2: the larger of 0.05 and 0.7.
        let want = [0.7, 0.05, 0.7];
        for (a, b) in s.iter().zip(want) {
            assert!((a - b).abs() < 1e-12, "{s:?}");
        }
        // With endpoints, 0.15 takes its gap to 0, and 0.9 keeps the larger inner one.
        let s = neighbour_sigmas(&[0.9, 0.15, 0.2], true, None).0;
        let want = [0.7, 0.15, 0.7];
        for (a, b) in s.iter().zip(want) {
            assert!((a - b).abs() < 1e-12, "{s:?}");
        }
        // A single observation has no inner gap: the larger gap to an end, either way.
        for endpoints in [false, true] {
            let s = neighbour_sigmas(&[0.7], endpoints, None).0;
            assert!((s[0] - 0.7).abs() < 1e-12, "{s:?}");
        }
    }

    #[test]
    fn a_windowed_density_is_the_whole_sum_to_rounding() {
        let mut rng = rng_for(11, 12);
        let axis = Axis::new(&double(0.0, 1.0, None, Distribution::Uniform));
        for n in [1usize, 2, 5, 30, 300, 2000] {
            // Spread out, clustered, and with ties.
            let mut obs: Vec<f64> = (0..n)
                .map(|i| match i % 3 {
                    0 => rng.random::<f64>(),
                    1 => 0.3 + 0.01 * rng.random::<f64>(),
                    _ => 0.75,
                })
                .collect();
            obs.rotate_left(n / 2);
            let e = Estimator::new(&[&axis], std::slice::from_ref(&obs), n, params());
            assert!(e.window.is_some());
            let mut whole = e.clone();
            whole.window = None;
            let mut scratch = Vec::new();
            for i in 0..200 {
                let c = if i < 3 {
                    i as f64 / 2.0
                } else {
                    rng.random::<f64>()
                };
                let w = e.log_pdf_with(&[&axis], &[c], &mut scratch, &mut Default::default());
                let all = whole.log_pdf_with(&[&axis], &[c], &mut scratch, &mut Default::default());
                assert!(
                    (w - all).abs() <= 1e-12 * all.abs().max(1.0),
                    "{n} {c}: {w} vs {all}"
                );
            }
        }
    }

    #[test]
    fn hinted_bandwidths_equal_unhinted_ones_whatever_the_hint() {
        let mut rng = rng_for(9, 10);
        let column: Vec<f64> = (0..200).map(|_| rng.random::<f64>()).collect();
        let mut ties = column.clone();
        ties[7] = ties[3];
        for column in [column, ties] {
            let ids: Vec<u32> = (0..column.len() as u32).map(|i| 3 * i + 1).collect();
            let want = neighbour_sigmas(&column, false, None);
            // No hint, the right one, a shuffled one, one of other ids, and the right one
            // after a point left and two arrived.
            let mut right = Vec::new();
            neighbour_sigmas(&column, false, Some((&ids, &mut right)));
            let mut shuffled = right.clone();
            shuffled.reverse();
            let hints = [Vec::new(), right.clone(), shuffled, (0..500).collect()];
            for mut hint in hints {
                let got = neighbour_sigmas(&column, false, Some((&ids, &mut hint)));
                assert_eq!(got, want);
                assert_eq!(hint, right, "the hint becomes this sort's order");
            }
            let (fewer, fewer_ids) = (&column[1..column.len() - 2], &ids[1..ids.len() - 2]);
            let mut hint = Vec::new();
            neighbour_sigmas(fewer, false, Some((fewer_ids, &mut hint)));
            assert_eq!(
                neighbour_sigmas(&column, false, Some((&ids, &mut hint))),
                want
            );
        }
        assert_eq!(merge(&[1, 4, 9], &[0, 5, 10, 11]), [0, 1, 4, 5, 9, 10, 11]);
    }

    fn double(min: f64, max: f64, step: Option<f64>, d: Distribution) -> Domain {
        Domain::Double {
            min,
            max,
            step,
            distribution: d,
        }
    }

    #[test]
    fn stepped_axes_round_trip_their_values() {
        let domains = [
            double(0.1, 0.5, Some(0.1), Distribution::Uniform),
            double(1.0, 100.0, Some(3.0), Distribution::LogUniform),
            Domain::Int {
                min: 1,
                max: 1000,
                step: Some(7),
                distribution: Distribution::LogNormal,
            },
            Domain::Int {
                min: -5,
                max: 5,
                step: None,
                distribution: Distribution::Normal,
            },
        ];
        for d in domains {
            let axis = Axis::new(&d);
            let Axis::Stepped(s) = &axis else {
                panic!("{d:?} is not stepped")
            };
            let mut end = 0.0;
            for k in 0..=s.last {
                let v = s.grid.value(k);
                let c = axis.encode(&v).unwrap();
                assert_eq!(axis.decode(c), v, "{d:?} k {k}");
                // Cells tile [0, 1] in order.
                let (lo, w) = s.cell(k);
                assert!((lo - end).abs() < 1e-9 && w > 0.0, "{d:?} k {k}: {lo} {w}");
                assert!(lo <= c && c <= lo + w, "{d:?} k {k}");
                end = lo + w;
            }
            assert!((end - 1.0).abs() < 1e-9, "{d:?}: {end}");
        }
    }

    #[test]
    fn discrete_kernels_are_probabilities() {
        let axis = Axis::new(&Domain::Int {
            min: 0,
            max: 9,
            step: None,
            distribution: Distribution::Uniform,
        });
        let obs: Vec<f64> = [2, 3, 3, 8]
            .iter()
            .map(|v| axis.encode(&ParamValue::Int(*v)).unwrap())
            .collect();
        let e = Estimator::new(&[&axis], &[obs], 4, params());
        let total: f64 = (0..10)
            .map(|v| {
                let c = axis.encode(&ParamValue::Int(v)).unwrap();
                e.log_pdf(&[&axis], &[c]).exp()
            })
            .sum();
        assert!((total - 1.0).abs() < 1e-9, "{total}");
    }

    #[test]
    fn continuous_density_integrates_to_one_and_samples_stay_inside() {
        let axis = Axis::new(&double(1e-3, 1e3, None, Distribution::LogUniform));
        let obs = [vec![0.1, 0.15, 0.9]];
        let p = Params {
            consider_endpoints: true,
            ..params()
        };
        for p in [params(), p] {
            let e = Estimator::new(&[&axis], &obs, 3, p);
            let n = 20_000;
            let integral: f64 = (0..n)
                .map(|i| e.log_pdf(&[&axis], &[(i as f64 + 0.5) / n as f64]).exp() / n as f64)
                .sum();
            assert!((integral - 1.0).abs() < 1e-6, "{integral}");
            let mut rng = rng_for(1, 2);
            for _ in 0..1000 {
                let c = e.sample(&mut rng)[0];
                assert!((0.0..=1.0).contains(&c));
            }
        }
    }

    #[test]
    fn shared_cell_terms_give_the_densities_of_fresh_ones() {
        let int = Axis::new(&Domain::Int {
            min: 1,
            max: 64,
            step: None,
            distribution: Distribution::LogUniform,
        });
        let real = Axis::new(&double(-5.0, 5.0, None, Distribution::Uniform));
        let axes = [&int, &real];
        let mut rng = rng_for(11, 12);
        let columns: Vec<Vec<f64>> = (0..2)
            .map(|_| (0..40).map(|_| rng.random::<f64>()).collect())
            .collect();
        let e = Estimator::new(&axes, &columns, 40, params());
        let mut cells = CellTerms::default();
        let mut scratch = Vec::new();
        for _ in 0..200 {
            let x = e.sample(&mut rng);
            let shared = e.log_pdf_with(&axes, &x, &mut scratch, &mut cells);
            assert_eq!(shared.to_bits(), e.log_pdf(&axes, &x).to_bits(), "{x:?}");
        }
    }

    #[test]
    fn categorical_kernels_smooth_towards_the_prior() {
        let axis = Axis::new(&Domain::Categorical {
            values: vec!["a".into(), "b".into(), "c".into()],
        });
        // Three observations of "a": each kernel is (1 + 1/4, 1/4, 1/4) / 1.75, the prior
        // uniform; equal weights: p(a) = (3·(1.25/1.75) + 1/3) / 4.
        let e = Estimator::new(&[&axis], &[vec![0.0, 0.0, 0.0]], 3, params());
        let pa = e.log_pdf(&[&axis], &[0.0]).exp();
        assert!(
            (pa - (3.0 * 1.25 / 1.75 + 1.0 / 3.0) / 4.0).abs() < 1e-12,
            "{pa}"
        );
        let pb = e.log_pdf(&[&axis], &[1.0]).exp();
        assert!((pa + 2.0 * pb - 1.0).abs() < 1e-12);
    }

    #[test]
    fn huge_and_fine_domains_stay_finite() {
        let domains = [
            double(-f64::MAX, f64::MAX, None, Distribution::Uniform),
            double(f64::MIN_POSITIVE, f64::MAX, None, Distribution::LogNormal),
            double(0.0, 1e6, Some(1e-12), Distribution::Uniform),
            Domain::Int {
                min: i64::MIN,
                max: i64::MAX,
                step: None,
                distribution: Distribution::Uniform,
            },
            Domain::Int {
                min: 1,
                max: i64::MAX,
                step: Some(3),
                distribution: Distribution::LogUniform,
            },
        ];
        for d in domains {
            let axis = Axis::new(&d);
            let mut rng = rng_for(3, 4);
            let obs: Vec<f64> = (0..30).map(|_| rng.random::<f64>()).collect();
            let e = Estimator::new(&[&axis], &[obs], 30, params());
            for _ in 0..200 {
                let c = e.sample(&mut rng);
                let lp = e.log_pdf(&[&axis], &c);
                assert!(lp.is_finite(), "{d:?}: {lp} at {c:?}");
                let v = axis.decode(c[0]);
                // `Domain::contains` overflows on the whole i64 range: checked by type there.
                if matches!(d, Domain::Int { min: i64::MIN, .. }) {
                    assert!(matches!(v, ParamValue::Int(_)));
                } else {
                    assert!(d.contains(&v), "{d:?}: {v:?}");
                }
            }
        }
    }
}
