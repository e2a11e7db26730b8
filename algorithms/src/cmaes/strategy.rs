//! One CMA-ES run: the distribution, its update, the margin for discrete dimensions, the
//! categorical distributions, and the signs of convergence that trigger a restart.
//!
//! The update is the (μ/μ_w, λ)-CMA-ES of Hansen's "The CMA Evolution Strategy: A Tutorial"
//! (2016), with its default constants (table 1, positive recombination weights only),
//! cumulation for σ and C, rank-one and rank-μ updates and the `h_σ` stall of `p_c`. The
//! margin is Algorithm 1 of Hamano et al., "CMA-ES with Margin" (GECCO 2022), as the `cmaes`
//! package's `CMAwM.tell` computes it.

use super::space::Dim;
use crate::normal::{cdf, quantile};
use nalgebra::{DMatrix, DVector, SymmetricEigen};

/// Bounds on σ: above, samples would all be clipped to the bounds anyway (`cmaes` uses the
/// same ceiling); below, `(x − m)/σ` would overflow.
pub(super) const SIGMA_MAX: f64 = 1e32;
pub(super) const SIGMA_MIN: f64 = 1e-200;

/// A run has converged when every standard deviation is below this fraction of its σ₀
/// (`cmaes`'s `tolx`).
const TOL_X: f64 = 1e-12;

/// A run has converged when the condition number of C exceeds this (Hansen's `ConditionCov`).
const MAX_CONDITION: f64 = 1e14;

/// Learning rate of the categorical distributions: the share of the elite's frequencies
/// mixed in each generation. 0.3 moves a distribution most of the way in a few generations
/// (a sweep has tens of them, not thousands) while one noisy generation cannot decide it.
pub(super) const CATEGORICAL_RATE: f64 = 0.3;

/// The default constants for `d` dimensions and population `λ`.
#[derive(Debug, Clone)]
pub(super) struct Constants {
    /// Recombination weights of the μ = ⌊λ/2⌋ best, summing to 1.
    pub weights: Vec<f64>,
    pub mu_eff: f64,
    c_sigma: f64,
    d_sigma: f64,
    c_c: f64,
    c_1: f64,
    c_mu: f64,
    /// E‖N(0, I)‖.
    chi_n: f64,
}

impl Constants {
    pub fn new(d: usize, lambda: usize) -> Constants {
        let n = d.max(1) as f64;
        let mu = (lambda / 2).max(1);
        let raw: Vec<f64> = (1..=mu)
            .map(|i| ((lambda as f64 + 1.0) / 2.0).ln() - (i as f64).ln())
            .collect();
        let sum: f64 = raw.iter().sum();
        let weights: Vec<f64> = raw.iter().map(|w| w / sum).collect();
        let mu_eff = 1.0 / weights.iter().map(|w| w * w).sum::<f64>();
        let c_sigma = (mu_eff + 2.0) / (n + mu_eff + 5.0);
        Constants {
            d_sigma: 1.0 + 2.0 * (((mu_eff - 1.0) / (n + 1.0)).sqrt() - 1.0).max(0.0) + c_sigma,
            c_sigma,
            c_c: (4.0 + mu_eff / n) / (n + 4.0 + 2.0 * mu_eff / n),
            c_1: 2.0 / ((n + 1.3).powi(2) + mu_eff),
            c_mu: (1.0 - 2.0 / ((n + 1.3).powi(2) + mu_eff))
                .min(2.0 * (mu_eff - 2.0 + 1.0 / mu_eff) / ((n + 2.0).powi(2) + mu_eff)),
            chi_n: n.sqrt() * (1.0 - 1.0 / (4.0 * n) + 1.0 / (21.0 * n * n)),
            weights,
            mu_eff,
        }
    }
}

/// The state of one run (from a start or restart to the next restart).
#[derive(Debug, Clone)]
pub(super) struct Run {
    pub popsize: usize,
    /// The step size this run started with.
    pub sigma0: f64,
    /// Updates done in this run.
    pub generation: u64,
    pub mean: DVector<f64>,
    pub sigma: f64,
    pub cov: DMatrix<f64>,
    pub p_sigma: DVector<f64>,
    pub p_c: DVector<f64>,
    /// CMAwM's `A`: how much a margin dimension's distance from the mean is stretched before
    /// it is mapped to a value (1 elsewhere).
    pub scale: DVector<f64>,
    /// The best objective (as a loss: lower is better) this run has seen.
    pub best: Option<f64>,
    /// The generation count when `best` last improved.
    pub best_generation: u64,
    /// One probability per value of each categorical parameter.
    pub probs: Vec<Vec<f64>>,
    /// Eigenvectors of C (columns) and the square roots of its eigenvalues; derived from
    /// `cov`, never saved.
    basis: DMatrix<f64>,
    axes: DVector<f64>,
}

impl Run {
    /// A run centred on `mean`, with C = I, empty paths and uniform categoricals.
    pub fn new(mean: Vec<f64>, sigma0: f64, popsize: usize, cats: &[Vec<String>]) -> Run {
        let d = mean.len();
        let mut run = Run {
            popsize,
            sigma0,
            generation: 0,
            mean: DVector::from_vec(mean),
            sigma: sigma0,
            cov: DMatrix::identity(d, d),
            p_sigma: DVector::zeros(d),
            p_c: DVector::zeros(d),
            scale: DVector::from_element(d, 1.0),
            best: None,
            best_generation: 0,
            probs: cats
                .iter()
                .map(|v| vec![1.0 / v.len().max(1) as f64; v.len()])
                .collect(),
            basis: DMatrix::identity(d, d),
            axes: DVector::from_element(d, 1.0),
        };
        run.decompose();
        run
    }

    /// Forgets the shape (C = I, empty paths, σ = σ₀) and keeps the mean: what a run
    /// without restarts does when C has become unusable.
    pub fn reset_shape(&mut self) {
        let d = self.dim();
        self.cov = DMatrix::identity(d, d);
        self.p_sigma = DVector::zeros(d);
        self.p_c = DVector::zeros(d);
        self.sigma = self.sigma0;
        self.decompose();
    }

    pub fn dim(&self) -> usize {
        self.mean.len()
    }

    /// Recomputes B and D from C; false when C is not a usable covariance matrix (then B
    /// and D are those of the identity, and the caller resets or restarts the run).
    pub fn decompose(&mut self) -> bool {
        let d = self.dim();
        self.basis = DMatrix::identity(d, d);
        self.axes = DVector::from_element(d, 1.0);
        if d == 0 {
            return true;
        }
        let c = (&self.cov + self.cov.transpose()) * 0.5;
        if !c.iter().all(|x| x.is_finite()) {
            return false;
        }
        // A symmetric finite matrix converges in a few sweeps per dimension; the cap only
        // turns a pathological case into a reset instead of a hang.
        let Some(eig) = SymmetricEigen::try_new(c, f64::EPSILON, 1000 * (d + 10)) else {
            return false;
        };
        let top = eig.eigenvalues.max();
        if !(top.is_finite() && top > 0.0) {
            return false;
        }
        // Rounding can leave tiny negative eigenvalues: floor them (far below
        // MAX_CONDITION, so that an ill-conditioned C is still seen as one). C itself is
        // left as it is, so that B and D are a function of the saved C alone.
        let floor = top * 1e-20;
        let values = eig.eigenvalues.map(|v| if v >= floor { v } else { floor });
        self.basis = eig.eigenvectors;
        self.axes = values.map(f64::sqrt);
        true
    }

    /// `m + σ·B·D·z` for a standard normal `z`.
    pub fn sample(&self, z: &DVector<f64>) -> DVector<f64> {
        &self.mean + &self.basis * self.axes.component_mul(z) * self.sigma
    }

    /// The CMA-ES update from a generation's points, best first (at least μ of them).
    /// Returns false when the new C is unusable.
    pub fn update(&mut self, ranked: &[DVector<f64>]) -> bool {
        let d = self.dim();
        self.generation += 1;
        if d == 0 {
            return true;
        }
        let k = Constants::new(d, self.popsize);
        let n = d as f64;
        let old = self.mean.clone();
        let ys: Vec<DVector<f64>> = ranked
            .iter()
            .take(k.weights.len())
            .map(|x| (x - &old) / self.sigma)
            .collect();
        let mut y_w = DVector::zeros(d);
        for (w, y) in k.weights.iter().zip(&ys) {
            y_w += y * *w;
        }
        self.mean = &old + &y_w * self.sigma;

        // C^{-1/2}·y_w = B·D⁻¹·Bᵀ·y_w.
        let whitened = &self.basis * (self.basis.transpose() * &y_w).component_div(&self.axes);
        self.p_sigma = &self.p_sigma * (1.0 - k.c_sigma)
            + whitened * (k.c_sigma * (2.0 - k.c_sigma) * k.mu_eff).sqrt();
        let norm = self.p_sigma.norm();
        let decay = 1.0 - (1.0 - k.c_sigma).powf(2.0 * self.generation as f64);
        let h_sigma = norm / decay.sqrt() < (1.4 + 2.0 / (n + 1.0)) * k.chi_n;
        self.p_c *= 1.0 - k.c_c;
        if h_sigma {
            self.p_c += &y_w * (k.c_c * (2.0 - k.c_c) * k.mu_eff).sqrt();
        }
        let delta = if h_sigma { 0.0 } else { k.c_c * (2.0 - k.c_c) };
        let mut rank_mu = DMatrix::zeros(d, d);
        for (w, y) in k.weights.iter().zip(&ys) {
            rank_mu += y * y.transpose() * *w;
        }
        self.cov = &self.cov * (1.0 + k.c_1 * delta - k.c_1 - k.c_mu)
            + &self.p_c * self.p_c.transpose() * k.c_1
            + rank_mu * k.c_mu;
        let sigma = self.sigma * ((k.c_sigma / k.d_sigma) * (norm / k.chi_n - 1.0)).exp();
        self.sigma = if sigma.is_nan() {
            self.sigma
        } else {
            sigma.clamp(SIGMA_MIN, SIGMA_MAX)
        };
        self.decompose()
    }

    /// CMA-ES with margin: after an update, keeps the probability that each discrete
    /// dimension's value differs from the mean's value at least `alpha` (half on each side
    /// when the mean's value has neighbours on both), by moving the mean (and stretching the
    /// dimension's encoding, `A`) as CMAwM does.
    pub fn apply_margin(&mut self, dims: &[Dim], alpha: f64) {
        let z_alpha = -quantile(alpha); // Φ⁻¹(1 − α) = √χ²₁(1 − 2α)
        for (j, dim) in dims.iter().enumerate() {
            let Some(grid) = dim.margin_grid() else {
                continue;
            };
            let m = self.mean[j];
            let (low, up) = grid.cell(m);
            let root_c = self.cov[(j, j)].sqrt();
            let width = self.sigma * self.scale[j] * root_c;
            if !(width.is_finite() && width > 0.0) {
                continue;
            }
            let low_p = cdf((low - m) / width);
            let up_p = cdf((m - up) / width);
            if low_p.max(up_p) > 0.5 {
                // The mean is in the first or the last cell (low = up): put it where the
                // probability of crossing into the neighbour is α, if it is less.
                if low_p.min(up_p) < alpha {
                    let sign = if m > up {
                        1.0
                    } else if m < up {
                        -1.0
                    } else {
                        0.0
                    };
                    let moved = up + sign * width * z_alpha;
                    if moved.is_finite() {
                        self.mean[j] = moved;
                    }
                }
                continue;
            }
            let mid_p = 1.0 - low_p - up_p;
            let half = alpha / 2.0;
            let (low_p, up_p) = (low_p.max(half), up_p.max(half));
            let excess = 1.0 - low_p - up_p - mid_p;
            let denom = low_p + mid_p + up_p - 3.0 * half;
            let clip = |p: f64| p.clamp(1e-10, 0.5 - 1e-10);
            let new_low = clip(low_p + excess * (low_p - half) / denom);
            let new_up = clip(up_p + excess * (up_p - half) / denom);
            let (chi_low, chi_up) = (-quantile(new_low), -quantile(new_up));
            let scale = (up - low) / ((chi_low + chi_up) * self.sigma * root_c);
            let mean = (low * chi_up + up * chi_low) / (chi_low + chi_up);
            if scale.is_finite() && scale > 0.0 && mean.is_finite() {
                self.scale[j] = scale;
                self.mean[j] = mean;
            }
        }
    }

    /// Moves each categorical distribution towards the elite's weighted frequencies, then
    /// lifts every probability to at least `1/(λ·k)` for `k` values. `elite` holds the
    /// value indices of the best trials with a value, best first, and their weights.
    pub fn update_categoricals(&mut self, elite: &[(&[usize], f64)]) {
        let total: f64 = elite.iter().map(|(_, w)| w).sum();
        if total.is_nan() || total <= 0.0 {
            return;
        }
        let popsize = self.popsize as f64;
        for (c, p) in self.probs.iter_mut().enumerate() {
            let mut q = vec![0.0; p.len()];
            for (choices, w) in elite {
                if let Some(slot) = choices.get(c).and_then(|&i| q.get_mut(i)) {
                    *slot += w / total;
                }
            }
            for (pi, qi) in p.iter_mut().zip(&q) {
                *pi = (1.0 - CATEGORICAL_RATE) * *pi + CATEGORICAL_RATE * qi;
            }
            let floor = 1.0 / (popsize * p.len() as f64);
            floor_probabilities(p, floor);
        }
    }

    /// Whether the run has converged, so that a restart strategy starts the next one:
    /// every standard deviation below `TOL_X·σ₀`, a condition number of C above
    /// `MAX_CONDITION`, or no improvement of the best value for `10 + ⌈30·d/λ⌉`
    /// generations (`cmaes`'s `funhist_term`).
    pub fn converged(&self) -> bool {
        let d = self.dim();
        if d > 0 {
            let (top, bottom) = (self.axes.max(), self.axes.min());
            if self.sigma * top < TOL_X * self.sigma0 {
                return true;
            }
            if (top / bottom).powi(2) > MAX_CONDITION {
                return true;
            }
        }
        let patience = 10 + (30.0 * d as f64 / self.popsize as f64).ceil() as u64;
        self.generation.saturating_sub(self.best_generation) >= patience
    }
}

/// Raises every probability to at least `floor` (at most `1/k`), taking the mass from the
/// others in proportion, so that the sum stays 1 and no value is ever ruled out.
pub(super) fn floor_probabilities(p: &mut [f64], floor: f64) {
    let k = p.len();
    if k == 0 {
        return;
    }
    let floor = floor.min(1.0 / k as f64);
    let sum: f64 = p.iter().filter(|x| x.is_finite() && **x > 0.0).sum();
    if sum.is_nan() || sum <= 0.0 {
        p.fill(1.0 / k as f64);
        return;
    }
    for x in p.iter_mut() {
        *x = if x.is_finite() && *x > 0.0 {
            *x / sum
        } else {
            0.0
        };
    }
    let mut fixed = vec![false; k];
    loop {
        let mut changed = false;
        for (x, f) in p.iter().zip(fixed.iter_mut()) {
            if !*f && *x < floor {
                *f = true;
                changed = true;
            }
        }
        if !changed {
            break;
        }
        let n_fixed = fixed.iter().filter(|f| **f).count();
        let free: f64 = p
            .iter()
            .zip(&fixed)
            .filter(|(_, f)| !**f)
            .map(|(x, _)| x)
            .sum();
        let room = 1.0 - floor * n_fixed as f64;
        for (x, f) in p.iter_mut().zip(&fixed) {
            *x = if *f {
                floor
            } else if free > 0.0 {
                *x * room / free
            } else {
                room / (k - n_fixed) as f64
            };
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ferrotune_core::{Distribution, Domain, Parameter, SearchSpace};

    #[test]
    fn default_constants_match_the_tutorial() {
        // d = 2, λ = 6: μ = 3, w ∝ ln 3.5 − ln i.
        let k = Constants::new(2, 6);
        let raw = [
            3.5f64.ln(),
            3.5f64.ln() - 2f64.ln(),
            3.5f64.ln() - 3f64.ln(),
        ];
        let s: f64 = raw.iter().sum();
        for (w, r) in k.weights.iter().zip(raw) {
            assert!((w - r / s).abs() < 1e-15);
        }
        assert!((k.weights.iter().sum::<f64>() - 1.0).abs() < 1e-15);
        let mu_eff = 1.0 / k.weights.iter().map(|w| w * w).sum::<f64>();
        assert!((k.mu_eff - mu_eff).abs() < 1e-12 && (2.0..2.1).contains(&mu_eff));
        assert!((k.c_sigma - (mu_eff + 2.0) / (mu_eff + 7.0)).abs() < 1e-15);
        assert!((k.c_1 - 2.0 / (3.3f64.powi(2) + mu_eff)).abs() < 1e-15);
        assert!((k.chi_n - 2f64.sqrt() * (1.0 - 1.0 / 8.0 + 1.0 / 84.0)).abs() < 1e-15);
        assert!(k.c_1 + k.c_mu <= 1.0);
    }

    #[test]
    fn a_generation_moves_the_mean_to_the_weighted_best() {
        let mut run = Run::new(vec![0.5, 0.5], 0.2, 6, &[]);
        let pts: Vec<DVector<f64>> = (0..6)
            .map(|i| DVector::from_vec(vec![0.6 + 0.01 * i as f64, 0.4]))
            .collect();
        assert!(run.update(&pts));
        let k = Constants::new(2, 6);
        let want: f64 = (0..3).map(|i| k.weights[i] * (0.6 + 0.01 * i as f64)).sum();
        assert!((run.mean[0] - want).abs() < 1e-12, "{}", run.mean[0]);
        assert!((run.mean[1] - 0.4).abs() < 1e-12);
        assert_eq!(run.generation, 1);
        // C stays symmetric positive definite.
        assert!((run.cov[(0, 1)] - run.cov[(1, 0)]).abs() < 1e-15);
        assert!(run.axes.min() > 0.0);
    }

    fn int_dims(n: usize) -> Vec<Dim> {
        let space = SearchSpace {
            parameters: (0..n)
                .map(|i| Parameter {
                    name: format!("k{i}"),
                    domain: Domain::Int {
                        min: 0,
                        max: 10,
                        step: None,
                        distribution: Distribution::Uniform,
                    },
                })
                .collect(),
        };
        super::super::space::Encoding::new(&space).dims
    }

    /// The probability mass below `low` and above `up` after the margin, from the mean
    /// and scale it set.
    fn tails(run: &Run, dims: &[Dim], j: usize) -> (f64, f64) {
        let (low, up) = dims[j].margin_grid().unwrap().cell(run.mean[j]);
        let w = run.sigma * run.scale[j] * run.cov[(j, j)].sqrt();
        (cdf((low - run.mean[j]) / w), cdf((run.mean[j] - up) / w))
    }

    #[test]
    fn margin_keeps_both_neighbours_reachable() {
        let dims = int_dims(2);
        let alpha = 1.0 / 12.0;
        // The mean in the middle of the cell of 5 with σ far below the cell width.
        let mut run = Run::new(vec![0.5, 0.52], 1e-4, 6, &[]);
        run.apply_margin(&dims, alpha);
        for j in 0..2 {
            let (lo, hi) = tails(&run, &dims, j);
            assert!(
                lo >= alpha / 2.0 - 1e-9 && hi >= alpha / 2.0 - 1e-9,
                "{lo} {hi}"
            );
            assert!(run.scale[j] > 1.0);
        }
        // Equal tails when the mean was centred; the mean stays in its cell.
        let (lo, hi) = tails(&run, &dims, 0);
        assert!((lo - hi).abs() < 1e-9 && (lo - alpha / 2.0).abs() < 1e-6);
        assert!((0.45..0.55).contains(&run.mean[1]));
    }

    #[test]
    fn margin_pulls_an_edge_mean_back_towards_its_neighbour() {
        let dims = int_dims(1);
        let alpha = 0.05;
        // Far beyond the last value: the only neighbour is 9, across the threshold 0.95.
        let mut run = Run::new(vec![1.7], 1e-3, 6, &[]);
        run.apply_margin(&dims, alpha);
        let w = run.sigma * run.cov[(0, 0)].sqrt();
        let cross = cdf((0.95 - run.mean[0]) / w);
        assert!((cross - alpha).abs() < 1e-9, "{cross}");
        assert!(run.mean[0] > 0.95);
        // A mean that already crosses often enough is left alone.
        let mut wide = Run::new(vec![0.97], 0.05, 6, &[]);
        wide.apply_margin(&dims, alpha);
        assert_eq!(wide.mean[0], 0.97);
    }

    #[test]
    fn categorical_floor_keeps_mass_and_order() {
        let mut p = vec![0.97, 0.03, 0.0];
        floor_probabilities(&mut p, 0.05);
        assert!((p.iter().sum::<f64>() - 1.0).abs() < 1e-12);
        assert_eq!(&p[1..], &[0.05, 0.05]);
        assert!((p[0] - 0.9).abs() < 1e-12);
        let mut q = vec![f64::NAN, 0.0];
        floor_probabilities(&mut q, 0.1);
        assert_eq!(q, [0.5, 0.5]);
    }

    #[test]
    fn categoricals_move_towards_the_elite() {
        let cats = vec![vec!["a".to_string(), "b".into(), "c".into()]];
        let mut run = Run::new(vec![], 0.2, 6, &cats);
        let c1 = [1usize];
        let elite: Vec<(&[usize], f64)> = vec![(&c1, 0.6), (&c1, 0.4)];
        run.update_categoricals(&elite);
        let p = &run.probs[0];
        assert!((p[1] - (0.7 / 3.0 + 0.3)).abs() < 1e-12, "{p:?}");
        for _ in 0..50 {
            run.update_categoricals(&elite);
        }
        let p = &run.probs[0];
        assert!((p[0] - 1.0 / 18.0).abs() < 1e-12 && (p[1] - 16.0 / 18.0).abs() < 1e-9);
    }

    #[test]
    fn convergence_signs() {
        let mut run = Run::new(vec![0.5, 0.5], 0.2, 6, &[]);
        assert!(!run.converged());
        run.sigma = 1e-14;
        assert!(run.converged());
        run.sigma = 0.2;
        run.cov[(0, 0)] = 1e15;
        assert!(run.decompose() && run.converged());
        let mut flat = Run::new(vec![0.5, 0.5], 0.2, 6, &[]);
        flat.generation = 19; // patience 10 + ⌈60/6⌉ = 20
        assert!(!flat.converged());
        flat.generation = 20;
        assert!(flat.converged());
        let mut bad = Run::new(vec![0.5], 0.2, 6, &[]);
        bad.cov[(0, 0)] = f64::NAN;
        assert!(!bad.decompose());
    }
}
