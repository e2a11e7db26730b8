//! A Gaussian process with a Matérn-5/2 ARD kernel on `[0, 1]^d`, fitted by maximising the
//! log marginal likelihood, and the acquisition functions on its posterior.
//!
//! Hyperparameters live in log-space (`ln ℓ₁ … ln ℓ_d, ln σ², ln noise`) so that L-BFGS
//! steps are relative and every value stays positive; bounds are enforced by clamping plus a
//! quadratic penalty outside them (so the line search sees a continuous, growing cost).

use crate::normal;
use argmin::core::{CostFunction, Executor, Gradient};
use argmin::solver::linesearch::MoreThuenteLineSearch;
use argmin::solver::quasinewton::LBFGS;
use nalgebra::{Cholesky, DMatrix, DVector, Dyn};

const SQRT5: f64 = 2.236_067_977_499_79;

/// Bounds of the hyperparameters (inputs in `[0, 1]`, targets standardised): lengthscales
/// from a hundredth of the range (sharper features cannot be learnt from few trials) to ten
/// ranges (an irrelevant parameter); signal variance around the targets' unit variance;
/// noise from almost none to as much as the signal.
const LN_LENGTH: (f64, f64) = (-2.0 * std::f64::consts::LN_10, std::f64::consts::LN_10);
const LN_SIGNAL: (f64, f64) = (-2.995_732_273_553_991, 2.995_732_273_553_991);
const LN_NOISE: (f64, f64) = (-13.815_510_557_964_274, 0.0);

/// Observations from which the hyperparameter starts are fitted side by side.
const PARALLEL_FIT: usize = 24;

/// Weight of the penalty for leaving the bounds.
const PENALTY: f64 = 100.0;

/// Kernel hyperparameters (not logs).
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Hyper {
    pub lengths: Vec<f64>,
    pub signal: f64,
    pub noise: f64,
}

impl Hyper {
    fn from_log(theta: &DVector<f64>) -> Hyper {
        let d = theta.len() - 2;
        Hyper {
            lengths: (0..d).map(|i| theta[i].exp()).collect(),
            signal: theta[d].exp(),
            noise: theta[d + 1].exp(),
        }
    }
}

/// `θ` clamped to the bounds.
fn clamp_theta(theta: &DVector<f64>) -> DVector<f64> {
    let d = theta.len() - 2;
    DVector::from_iterator(
        theta.len(),
        theta.iter().enumerate().map(|(i, t)| {
            let (lo, hi) = if i < d {
                LN_LENGTH
            } else if i == d {
                LN_SIGNAL
            } else {
                LN_NOISE
            };
            if t.is_nan() { lo } else { t.clamp(lo, hi) }
        }),
    )
}

/// `(kernel value, common factor of its derivatives)`: for `r² = Σ (Δ/ℓ)²`, Matérn-5/2 is
/// `σ² (1 + √5 r + 5r²/3) e^{−√5 r}` and `∂k/∂(ln ℓ_d) = g·Δ_d²/ℓ_d²`,
/// `∂k/∂x_d = −g·Δ_d/ℓ_d²` with `g = 5σ²(1 + √5 r) e^{−√5 r}/3` (no singularity at r = 0).
fn matern(r2: f64, signal: f64) -> (f64, f64) {
    let r = r2.max(0.0).sqrt();
    let e = (-SQRT5 * r).exp();
    (
        signal * (1.0 + SQRT5 * r + 5.0 / 3.0 * r2) * e,
        5.0 / 3.0 * signal * (1.0 + SQRT5 * r) * e,
    )
}

fn scaled_r2(a: &[f64], b: &[f64], lengths: &[f64]) -> f64 {
    a.iter()
        .zip(b)
        .zip(lengths)
        .map(|((p, q), l)| ((p - q) / l).powi(2))
        .sum()
}

/// The Cholesky factor of `K + noise·I`, adding jitter (10⁻⁸ up to 1 times σ²) when
/// rounding makes the matrix numerically indefinite.
fn stable_cholesky(k: &DMatrix<f64>, signal: f64) -> Option<Cholesky<f64, Dyn>> {
    if let Some(c) = Cholesky::new(k.clone()) {
        return Some(c);
    }
    let mut jitter = 1e-8 * signal;
    while jitter <= signal {
        let mut m = k.clone();
        for i in 0..m.nrows() {
            m[(i, i)] += jitter;
        }
        if let Some(c) = Cholesky::new(m) {
            return Some(c);
        }
        jitter *= 10.0;
    }
    None
}

fn gram(x: &[Vec<f64>], h: &Hyper) -> DMatrix<f64> {
    gram_and_factors(x, h, None)
}

/// `K + noise·I`, and, into `g` when given, the lower triangle of the kernel's derivative
/// factors (see [`matern`]), which the likelihood's gradient needs for the same pairs.
fn gram_and_factors(x: &[Vec<f64>], h: &Hyper, mut g: Option<&mut DMatrix<f64>>) -> DMatrix<f64> {
    let n = x.len();
    let mut k = DMatrix::zeros(n, n);
    for i in 0..n {
        for j in 0..=i {
            let (v, f) = matern(scaled_r2(&x[i], &x[j], &h.lengths), h.signal);
            k[(i, j)] = v;
            k[(j, i)] = v;
            if let Some(g) = g.as_deref_mut() {
                g[(i, j)] = f;
            }
        }
        k[(i, i)] += h.noise;
    }
    k
}

/// `L⁻¹` of the lower triangle of `l` (its upper triangle is ignored), column by column
/// by forward substitution that starts at the column's first non-zero: a sixth of `n³`
/// multiply-adds, each a contiguous axpy.
fn lower_inverse(l: &DMatrix<f64>) -> DMatrix<f64> {
    let n = l.nrows();
    let ls = l.as_slice();
    let mut inv = DMatrix::zeros(n, n);
    let out = inv.as_mut_slice();
    for j in 0..n {
        let x = &mut out[j * n..(j + 1) * n];
        x[j] = 1.0;
        for k in j..n {
            let xk = x[k] / ls[k * n + k];
            x[k] = xk;
            if xk != 0.0 {
                let col = &ls[k * n + k + 1..(k + 1) * n];
                for (xi, lik) in x[k + 1..].iter_mut().zip(col) {
                    *xi -= xk * lik;
                }
            }
        }
    }
    inv
}

/// `(L⁻¹)ᵀ L⁻¹ = K⁻¹`, lower triangle and diagonal only (`i ≥ j`): each entry is the dot
/// product of two columns of `L⁻¹` below the row where both can be non-zero.
fn inverse_lower(linv: &DMatrix<f64>) -> DMatrix<f64> {
    let n = linv.nrows();
    let s = linv.as_slice();
    let mut out = DMatrix::zeros(n, n);
    for j in 0..n {
        let cj = &s[j * n..(j + 1) * n];
        for i in j..n {
            let ci = &s[i * n + i..(i + 1) * n];
            out[(i, j)] = ci.iter().zip(&cj[i..]).map(|(a, b)| a * b).sum::<f64>();
        }
    }
    out
}

/// The negative log marginal likelihood of standardised targets and its gradient in `θ`.
struct Likelihood<'a> {
    x: &'a [Vec<f64>],
    y: &'a DVector<f64>,
}

impl Likelihood<'_> {
    fn eval(&self, theta: &DVector<f64>) -> (f64, DVector<f64>) {
        let clamped = clamp_theta(theta);
        let outside = theta - &clamped;
        let penalty = 0.5 * PENALTY * outside.norm_squared();
        let h = Hyper::from_log(&clamped);
        let n = self.x.len();
        let d = h.lengths.len();
        let mut factors = DMatrix::zeros(n, n);
        let gram = gram_and_factors(self.x, &h, Some(&mut factors));
        let Some(chol) = stable_cholesky(&gram, h.signal) else {
            return (1e10 + penalty, outside * PENALTY);
        };
        let alpha = chol.solve(self.y);
        let log_det: f64 = chol.l_dirty().diagonal().iter().map(|v| v.ln()).sum();
        let nll =
            0.5 * self.y.dot(&alpha) + log_det + 0.5 * n as f64 * (2.0 * std::f64::consts::PI).ln();
        // ∂nll/∂θ = ½ tr(W ∂K/∂θ), W = K⁻¹ − ααᵀ (symmetric: its lower triangle suffices).
        let k_inv = inverse_lower(&lower_inverse(chol.l_dirty()));
        let mut grad = DVector::zeros(d + 2);
        let inv_l2: Vec<f64> = h.lengths.iter().map(|l| 1.0 / (l * l)).collect();
        let mut dl = vec![0.0; d];
        let mut ds = 0.0;
        for i in 0..n {
            let xi = &self.x[i];
            for j in 0..i {
                let xj = &self.x[j];
                let (k, g) = (gram[(i, j)], factors[(i, j)]);
                // Counted twice, (i, j) and (j, i), halved by ½.
                let wij = k_inv[(i, j)] - alpha[i] * alpha[j];
                let wg = wij * g;
                for q in 0..d {
                    let delta = xi[q] - xj[q];
                    dl[q] += wg * delta * delta;
                }
                ds += wij * k;
            }
            let wii = k_inv[(i, i)] - alpha[i] * alpha[i];
            ds += 0.5 * wii * h.signal;
            grad[d + 1] += 0.5 * wii * h.noise;
        }
        for q in 0..d {
            grad[q] = dl[q] * inv_l2[q];
        }
        grad[d] = ds;
        let value = nll + penalty;
        let grad = grad + outside * PENALTY;
        if value.is_finite() && grad.iter().all(|g| g.is_finite()) {
            (value, grad)
        } else {
            (1e10 + penalty, DVector::zeros(d + 2))
        }
    }
}

/// A cost with its gradient, computed together: argmin asks for them separately at the
/// same points, and computing both once halves the work.
pub(super) trait Both {
    fn both(&self, p: &DVector<f64>) -> (f64, DVector<f64>);
}

impl Both for Likelihood<'_> {
    fn both(&self, p: &DVector<f64>) -> (f64, DVector<f64>) {
        self.eval(p)
    }
}

/// A point with its cost and gradient.
type Evaluation = (DVector<f64>, f64, DVector<f64>);

/// Remembers the last evaluation of a [`Both`].
struct Memo<P> {
    inner: P,
    last: std::cell::RefCell<Option<Evaluation>>,
}

impl<P: Both> Memo<P> {
    fn get(&self, p: &DVector<f64>) -> (f64, DVector<f64>) {
        if let Some((q, v, g)) = self.last.borrow().as_ref()
            && q == p
        {
            return (*v, g.clone());
        }
        let (v, g) = self.inner.both(p);
        *self.last.borrow_mut() = Some((p.clone(), v, g.clone()));
        (v, g)
    }
}

impl<P: Both> CostFunction for Memo<P> {
    type Param = DVector<f64>;
    type Output = f64;
    fn cost(&self, p: &Self::Param) -> Result<f64, argmin::core::Error> {
        Ok(self.get(p).0)
    }
}

impl<P: Both> Gradient for Memo<P> {
    type Param = DVector<f64>;
    type Gradient = DVector<f64>;
    fn gradient(&self, p: &Self::Param) -> Result<DVector<f64>, argmin::core::Error> {
        Ok(self.get(p).1)
    }
}

/// Minimises `problem` with L-BFGS from `start` for at most `iters` iterations; the start
/// when the solver fails (a line search that finds no decrease is not an error here).
pub(super) fn lbfgs<P: Both>(problem: P, start: DVector<f64>, iters: u64) -> DVector<f64> {
    let problem = Memo {
        inner: problem,
        last: std::cell::RefCell::new(None),
    };
    // Stopping at a small gradient or cost change: the optimum need not be exact, only good.
    let Ok(solver) = LBFGS::new(MoreThuenteLineSearch::new(), 7)
        .with_tolerance_grad(1e-5)
        .and_then(|s| s.with_tolerance_cost(1e-7))
    else {
        return start;
    };
    match Executor::new(problem, solver)
        .configure(|s| s.param(start.clone()).max_iters(iters))
        .run()
    {
        Ok(res) => res.state.best_param.unwrap_or(start),
        Err(_) => start,
    }
}

/// Fits the hyperparameters to `(x, y)` (standardised `y`) from each of `starts` (`θ`s) and
/// keeps the best.
pub(super) fn fit(x: &[Vec<f64>], y: &DVector<f64>, starts: &[DVector<f64>], iters: u64) -> Hyper {
    let problem = Likelihood { x, y };
    // The starts side by side once the matrices are big enough to be worth it; the best is
    // then chosen in their order, as one thread would.
    let fitted = crate::halves::map_halves(starts, x.len() >= PARALLEL_FIT, |part| {
        part.iter()
            .map(|s| {
                let theta = clamp_theta(&lbfgs(Likelihood { x, y }, clamp_theta(s), iters));
                (problem.eval(&theta).0, theta)
            })
            .collect()
    });
    let mut best: Option<(f64, DVector<f64>)> = None;
    for (v, theta) in fitted {
        if best.as_ref().is_none_or(|(b, _)| v < *b) {
            best = Some((v, theta));
        }
    }
    let theta = best
        .map(|b| b.1)
        .unwrap_or_else(|| default_theta(x.first().map_or(0, Vec::len)));
    Hyper::from_log(&theta)
}

/// A neutral start: lengthscale 0.3 of the range, unit signal, little noise.
pub(super) fn default_theta(d: usize) -> DVector<f64> {
    let mut t = DVector::from_element(d + 2, 0.3f64.ln());
    t[d] = 0.0;
    t[d + 1] = 1e-3f64.ln();
    t
}

/// A start from unit draws `u` (length `d + 2`), spread over the bounds.
pub(super) fn theta_from_unit(u: &[f64]) -> DVector<f64> {
    let d = u.len() - 2;
    DVector::from_iterator(
        u.len(),
        u.iter().enumerate().map(|(i, t)| {
            let (lo, hi) = if i < d {
                (-2.5, 1.0)
            } else if i == d {
                (-1.0, 1.0)
            } else {
                (-9.0, -2.0)
            };
            lo + t * (hi - lo)
        }),
    )
}

/// The posterior of a fitted GP.
pub(super) struct Posterior {
    x: Vec<Vec<f64>>,
    h: Hyper,
    /// `L⁻¹` for `K + noise·I = LLᵀ`: a prediction's variance is then `σ² − |L⁻¹k|²`, one
    /// triangular product instead of two triangular solves.
    linv: DMatrix<f64>,
    alpha: DVector<f64>,
}

/// Mean and standard deviation at a point, with their gradients in the point.
pub(super) struct Prediction {
    pub mean: f64,
    pub sd: f64,
    pub d_mean: Vec<f64>,
    pub d_sd: Vec<f64>,
}

impl Posterior {
    pub fn new(x: Vec<Vec<f64>>, y: &DVector<f64>, h: Hyper) -> Option<Posterior> {
        let chol = stable_cholesky(&gram(&x, &h), h.signal)?;
        let alpha = chol.solve(y);
        let linv = lower_inverse(chol.l_dirty());
        (alpha.iter().all(|a| a.is_finite()) && linv.iter().all(|v| v.is_finite()))
            .then_some(Posterior { x, h, linv, alpha })
    }

    /// Observations it conditions on.
    pub fn len(&self) -> usize {
        self.x.len()
    }

    /// The prediction at `p`; gradients only when `grad`.
    pub fn predict(&self, p: &[f64], grad: bool) -> Prediction {
        let n = self.x.len();
        let d = p.len();
        let mut ks = vec![0.0; n];
        let mut gs = vec![0.0; n];
        for (i, xi) in self.x.iter().enumerate() {
            let (k, g) = matern(scaled_r2(p, xi, &self.h.lengths), self.h.signal);
            ks[i] = k;
            gs[i] = g;
        }
        let mean = ks
            .iter()
            .zip(self.alpha.iter())
            .map(|(k, a)| k * a)
            .sum::<f64>();
        // w = L⁻¹k, column by column of the lower triangle.
        let l = self.linv.as_slice();
        let mut w = vec![0.0; n];
        for (c, kc) in ks.iter().enumerate() {
            if *kc != 0.0 {
                let col = &l[c * n + c..(c + 1) * n];
                for (wi, lic) in w[c..].iter_mut().zip(col) {
                    *wi += kc * lic;
                }
            }
        }
        let var = (self.h.signal - w.iter().map(|v| v * v).sum::<f64>()).max(1e-12);
        let sd = var.sqrt();
        let (mut d_mean, mut d_sd) = (vec![0.0; d], vec![0.0; d]);
        if grad {
            // v = K⁻¹k = L⁻ᵀw.
            let v: Vec<f64> = (0..n)
                .map(|c| {
                    let col = &l[c * n + c..(c + 1) * n];
                    col.iter().zip(&w[c..]).map(|(a, b)| a * b).sum::<f64>()
                })
                .collect();
            let inv_l2: Vec<f64> = self.h.lengths.iter().map(|l| 1.0 / (l * l)).collect();
            for (i, xi) in self.x.iter().enumerate() {
                let (am, av) = (gs[i] * self.alpha[i], gs[i] * v[i] / sd);
                for q in 0..d {
                    // ∂k_i/∂p_q = −g_i (p_q − x_iq)/ℓ_q².
                    let dk = (p[q] - xi[q]) * inv_l2[q];
                    d_mean[q] -= dk * am;
                    // ∂var = −2 Σ ∂k_i v_i; ∂sd = ∂var / (2 sd).
                    d_sd[q] += dk * av;
                }
            }
        }
        Prediction {
            mean,
            sd,
            d_mean,
            d_sd,
        }
    }
}

/// An acquisition function, to be maximised, on the posterior of a loss (lower is better).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Acquisition {
    /// ln of expected improvement, stable where EI underflows (Ament et al., 2023).
    LogEi,
    Ei,
    /// Lower confidence bound μ − κσ with skopt's κ = 1.96 (maximised as its negative).
    Lcb,
    Pi,
}

/// skopt's default κ for the confidence bound.
const KAPPA: f64 = 1.96;

/// skopt's default ξ: improvement counts from `best − ξ`, in the objective's own units
/// (skopt's GP predicts un-normalised values), so the caller divides it by the scale.
pub(super) const XI: f64 = 0.01;

/// ln h(z) with h(z) = φ(z) + zΦ(z), so that EI = σ·h((best − μ)/σ).
fn log_h(z: f64) -> f64 {
    if z > -1.0 {
        (normal::log_pdf(z).exp() + z * normal::cdf(z)).ln()
    } else if z > -30.0 {
        // h = φ(z)(1 − |z|Φ(z)/φ(z)): the ratio comes from ln Φ, accurate in the tail.
        let ratio = (normal::log_cdf(z) - normal::log_pdf(z)).exp();
        normal::log_pdf(z) + (1.0 + z * ratio).max(f64::MIN_POSITIVE).ln()
    } else {
        // 1 − |z|Φ/φ = 1/z² − 3/z⁴ + 15/z⁶ − …
        let r = 1.0 / (z * z);
        normal::log_pdf(z) + (r * (1.0 - r * (3.0 - 15.0 * r))).ln()
    }
}

impl Acquisition {
    /// The value at mean `m` and deviation `s` of the loss, and its derivatives in `m`, `s`;
    /// improvement counts below `target` (the best loss less ξ).
    pub fn eval(self, m: f64, s: f64, target: f64) -> (f64, f64, f64) {
        let z = (target - m) / s;
        match self {
            Acquisition::LogEi => {
                let lh = log_h(z);
                // d ln h/dz = Φ(z)/h(z).
                let dz = (normal::log_cdf(z) - lh).exp();
                (s.ln() + lh, -dz / s, 1.0 / s - z * dz / s)
            }
            Acquisition::Ei => {
                let (pdf, cdf) = (normal::log_pdf(z).exp(), normal::cdf(z));
                (s * (pdf + z * cdf), -cdf, pdf)
            }
            Acquisition::Pi => {
                let pdf = normal::log_pdf(z).exp();
                (normal::cdf(z), -pdf / s, -pdf * z / s)
            }
            Acquisition::Lcb => (-(m - KAPPA * s), -1.0, KAPPA),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_h_is_continuous_and_matches_the_direct_formula() {
        for z in [-0.5, 0.0, 1.0, 3.0] {
            let direct = normal::log_pdf(z).exp() + z * normal::cdf(z);
            assert!((log_h(z) - direct.ln()).abs() < 1e-12, "{z}");
        }
        for edge in [-1.0f64, -30.0] {
            let (a, b) = (log_h(edge - 1e-9), log_h(edge + 1e-9));
            assert!((a - b).abs() < 1e-6, "{edge}: {a} vs {b}");
        }
        // Far in the tail EI underflows, ln EI does not, and it keeps decreasing.
        assert!(log_h(-1e3).is_finite() && log_h(-1e3) < log_h(-100.0));
        assert!(log_h(-5.0).exp() > 0.0);
        // h(−5) = φ(5) − 5Φ(−5) ≈ 5.3462e-8.
        assert!(
            (log_h(-5.0).exp() / 5.3462e-8 - 1.0).abs() < 1e-3,
            "{}",
            log_h(-5.0).exp()
        );
    }

    #[test]
    fn triangular_inverses_match_nalgebra() {
        let x: Vec<Vec<f64>> = (0..9)
            .map(|i| vec![(i as f64 * 0.37) % 1.0, (i as f64 * 0.61) % 1.0])
            .collect();
        let h = Hyper {
            lengths: vec![0.4, 0.7],
            signal: 1.5,
            noise: 1e-3,
        };
        let chol = stable_cholesky(&gram(&x, &h), h.signal).unwrap();
        let linv = lower_inverse(chol.l_dirty());
        let want = chol.l().try_inverse().unwrap();
        assert!(
            (&linv - &want).amax() < 1e-9 * want.amax(),
            "{linv} vs {want}"
        );
        let k_inv = inverse_lower(&linv);
        let full = chol.inverse();
        for i in 0..9 {
            for j in 0..=i {
                let (a, b) = (k_inv[(i, j)], full[(i, j)]);
                assert!((a - b).abs() < 1e-9 * full.amax(), "{i},{j}: {a} vs {b}");
            }
        }
    }

    #[test]
    fn likelihood_gradient_matches_finite_differences() {
        let x: Vec<Vec<f64>> = (0..8)
            .map(|i| vec![(i as f64 * 0.37) % 1.0, (i as f64 * 0.61) % 1.0])
            .collect();
        let y = DVector::from_iterator(8, x.iter().map(|p| (3.0 * p[0]).sin() + p[1]));
        let l = Likelihood { x: &x, y: &y };
        let theta = DVector::from_vec(vec![-1.0, -0.5, 0.2, -4.0]);
        let (_, g) = l.eval(&theta);
        for i in 0..4 {
            let mut a = theta.clone();
            let mut b = theta.clone();
            a[i] += 1e-6;
            b[i] -= 1e-6;
            let fd = (l.eval(&a).0 - l.eval(&b).0) / 2e-6;
            assert!(
                (fd - g[i]).abs() < 1e-4 * (1.0 + fd.abs()),
                "{i}: {fd} vs {}",
                g[i]
            );
        }
    }

    #[test]
    fn prediction_gradients_match_finite_differences() {
        let x: Vec<Vec<f64>> = (0..6)
            .map(|i| vec![i as f64 / 5.0, (i * i) as f64 / 25.0])
            .collect();
        let y = DVector::from_iterator(6, x.iter().map(|p| p[0] - p[1]));
        let h = Hyper {
            lengths: vec![0.3, 0.5],
            signal: 1.3,
            noise: 1e-4,
        };
        let post = Posterior::new(x, &y, h).unwrap();
        let p = [0.33, 0.71];
        let at = post.predict(&p, true);
        for q in 0..2 {
            let mut a = p;
            let mut b = p;
            a[q] += 1e-6;
            b[q] -= 1e-6;
            let (pa, pb) = (post.predict(&a, false), post.predict(&b, false));
            let dm = (pa.mean - pb.mean) / 2e-6;
            let ds = (pa.sd - pb.sd) / 2e-6;
            assert!(
                (dm - at.d_mean[q]).abs() < 1e-5,
                "{q}: {dm} vs {}",
                at.d_mean[q]
            );
            assert!(
                (ds - at.d_sd[q]).abs() < 1e-5,
                "{q}: {ds} vs {}",
                at.d_sd[q]
            );
        }
        // Near an observation the sd is small and the mean close to it.
        let near = post.predict(&[0.0, 0.0], false);
        assert!(
            near.sd < 0.05 && near.mean.abs() < 0.02,
            "{} {}",
            near.mean,
            near.sd
        );
    }
}
