//! Output warping: a Yeo-Johnson power transform of the standardised losses, with its λ
//! chosen by maximum likelihood (as scikit-learn's `PowerTransformer` does, and as HEBO
//! warps its targets, Cowen-Rivers et al. 2022).
//!
//! Losses are often heavy-tailed: Rosenbrock's run from 0 to 10⁶, a diverged training run
//! reports a huge loss. A GP on such values spends its variance on the bad tail and sees the
//! good region as flat. The transform is monotone, so the best loss stays the best; with
//! λ = 1 it is the identity, which maximum likelihood picks for losses already close to
//! normal.

use argmin::core::{CostFunction, Executor};
use argmin::solver::brent::BrentOpt;

/// The range λ is searched in (scikit-learn's bracket).
const LAMBDA: (f64, f64) = (-2.0, 2.0);

/// A fitted transform: `ψ_λ` of values already standardised by the caller.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) struct YeoJohnson {
    pub lambda: f64,
}

/// `ψ_λ(y)`: `((y + 1)^λ − 1)/λ` for `y ≥ 0`, `−((1 − y)^(2−λ) − 1)/(2 − λ)` below, with
/// the logarithms at `λ = 0` and `λ = 2`.
fn psi(lambda: f64, y: f64) -> f64 {
    if y >= 0.0 {
        if lambda.abs() < 1e-12 {
            y.ln_1p()
        } else {
            ((lambda * y.ln_1p()).exp_m1()) / lambda
        }
    } else if (2.0 - lambda).abs() < 1e-12 {
        -(-y).ln_1p()
    } else {
        -(((2.0 - lambda) * (-y).ln_1p()).exp_m1()) / (2.0 - lambda)
    }
}

/// The negative profile log-likelihood of λ for a normal model of the transformed values.
#[derive(Clone, Copy)]
struct Negative<'a> {
    y: &'a [f64],
}

impl Negative<'_> {
    fn value(&self, lambda: f64) -> f64 {
        let n = self.y.len() as f64;
        let t: Vec<f64> = self.y.iter().map(|&v| psi(lambda, v)).collect();
        let mean = t.iter().sum::<f64>() / n;
        let var = t.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / n;
        let jacobian: f64 = self.y.iter().map(|v| v.signum() * v.abs().ln_1p()).sum();
        let ll = -0.5 * n * var.ln() + (lambda - 1.0) * jacobian;
        if ll.is_finite() { -ll } else { f64::MAX }
    }
}

impl CostFunction for Negative<'_> {
    type Param = f64;
    type Output = f64;
    fn cost(&self, lambda: &f64) -> Result<f64, argmin::core::Error> {
        Ok(self.value(*lambda))
    }
}

impl YeoJohnson {
    /// The maximum-likelihood transform of `y` (standardised values), or the identity when
    /// there are too few distinct values to fit one or the search fails.
    pub fn fit(y: &[f64]) -> YeoJohnson {
        let identity = YeoJohnson { lambda: 1.0 };
        if y.len() < 3 || y.iter().any(|v| !v.is_finite()) {
            return identity;
        }
        let problem = Negative { y };
        let solver = BrentOpt::new(LAMBDA.0, LAMBDA.1);
        let Ok(res) = Executor::new(problem, solver)
            .configure(|s| s.max_iters(100))
            .run()
        else {
            return identity;
        };
        match res.state.best_param {
            Some(lambda) if lambda.is_finite() && problem.value(lambda) < problem.value(1.0) => {
                YeoJohnson { lambda }
            }
            _ => identity,
        }
    }

    pub fn apply(&self, y: f64) -> f64 {
        psi(self.lambda, y)
    }

    /// `dψ/dy` at `y`, to carry a length in loss units (skopt's ξ) over to the warped scale.
    pub fn slope(&self, y: f64) -> f64 {
        if y >= 0.0 {
            ((self.lambda - 1.0) * y.ln_1p()).exp()
        } else {
            ((1.0 - self.lambda) * (-y).ln_1p()).exp()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transform_matches_the_definition_and_is_monotone() {
        // Hand-computed: λ = 0.5, y = 3: ((4)^0.5 − 1)/0.5 = 2; y = −3: −((4)^1.5 − 1)/1.5 = −14/3.
        let t = YeoJohnson { lambda: 0.5 };
        assert!((t.apply(3.0) - 2.0).abs() < 1e-12);
        assert!((t.apply(-3.0) + 14.0 / 3.0).abs() < 1e-12);
        // λ = 0 and λ = 2 are the logarithms; λ = 1 the identity.
        assert!((YeoJohnson { lambda: 0.0 }.apply(3.0) - 4f64.ln()).abs() < 1e-12);
        assert!((YeoJohnson { lambda: 2.0 }.apply(-3.0) + 4f64.ln()).abs() < 1e-12);
        for y in [-5.0, -0.3, 0.0, 0.7, 9.0] {
            assert!((YeoJohnson { lambda: 1.0 }.apply(y) - y).abs() < 1e-12);
        }
        for lambda in [-2.0, -0.5, 0.0, 0.5, 1.0, 1.5, 2.0] {
            let t = YeoJohnson { lambda };
            let mut last = f64::NEG_INFINITY;
            for i in -50..=50 {
                let y = i as f64 / 5.0;
                let v = t.apply(y);
                assert!(v > last, "λ {lambda} y {y}");
                last = v;
                let h = 1e-6;
                let fd = (t.apply(y + h) - t.apply(y - h)) / (2.0 * h);
                assert!(
                    (fd - t.slope(y)).abs() < 1e-5 * (1.0 + fd.abs()),
                    "λ {lambda} y {y}"
                );
            }
        }
    }

    #[test]
    fn heavy_tails_are_compressed_and_normal_values_left_alone() {
        // Losses like Rosenbrock's: most small, a few huge.
        let raw: Vec<f64> = (0..40).map(|i| (i as f64 / 4.0).powi(4)).collect();
        let mean = raw.iter().sum::<f64>() / 40.0;
        let sd = (raw.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / 40.0).sqrt();
        let y: Vec<f64> = raw.iter().map(|v| (v - mean) / sd).collect();
        let t = YeoJohnson::fit(&y);
        assert!(t.lambda < 0.5, "{t:?}");
        // Symmetric, near-normal values: λ stays near 1.
        let y: Vec<f64> = (0..41).map(|i| (i as f64 - 20.0) / 12.0).collect();
        let t = YeoJohnson::fit(&y);
        assert!((t.lambda - 1.0).abs() < 0.3, "{t:?}");
        // Too few values, or constant ones: the identity.
        assert_eq!(YeoJohnson::fit(&[0.0, 1.0]).lambda, 1.0);
        assert_eq!(YeoJohnson::fit(&[0.0; 5]).lambda, 1.0);
    }
}
