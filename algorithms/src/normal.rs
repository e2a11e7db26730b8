//! The standard normal distribution's cdf, quantile and interval masses, in forms that stay
//! finite far in the tails: Sobol maps unit draws through the quantile, and TPE's kernels
//! are truncated normals whose log-densities must not underflow to `-inf`.

use std::f64::consts::{FRAC_1_SQRT_2, PI};

/// `ln √(2π)`.
pub(crate) const LN_SQRT_2PI: f64 = 0.918_938_533_204_672_7;

/// Φ(x).
pub(crate) fn cdf(x: f64) -> f64 {
    0.5 * libm::erfc(-x * FRAC_1_SQRT_2)
}

/// ln φ(x), exact for any finite `x` (no underflow).
pub(crate) fn log_pdf(x: f64) -> f64 {
    -0.5 * x * x - LN_SQRT_2PI
}

/// ln Φ(x), with an asymptotic series where Φ(x) would underflow.
pub(crate) fn log_cdf(x: f64) -> f64 {
    if x > 6.0 {
        (-0.5 * libm::erfc(x * FRAC_1_SQRT_2)).ln_1p()
    } else if x > -30.0 {
        cdf(x).ln()
    } else {
        // Φ(x) = φ(x)/|x| · (1 − 1/x² + 3/x⁴ − 15/x⁶ + 105/x⁸ − …); at x = −30 the next
        // term is below 1e-12.
        let r = 1.0 / (x * x);
        let series = 1.0 - r * (1.0 - r * (3.0 - r * (15.0 - r * 105.0)));
        log_pdf(x) - (-x).ln() + series.ln()
    }
}

/// ln(Φ(b) − Φ(a)) for `a ≤ b`: the log of a normal's mass on `[a, b]`. Works in the left
/// tail (by symmetry) to keep precision, and uses the midpoint rule for intervals so narrow
/// that the difference of two cdfs would cancel.
pub(crate) fn log_mass(a: f64, b: f64) -> f64 {
    let width = b - a;
    if width.is_nan() || width <= 0.0 {
        return f64::NEG_INFINITY;
    }
    if width < 1e-5 {
        return log_pdf(a + 0.5 * width) + width.ln();
    }
    if b <= 0.0 {
        log_diff(log_cdf(b), log_cdf(a))
    } else if a > 0.0 {
        log_diff(log_cdf(-a), log_cdf(-b))
    } else {
        (-cdf(a) - cdf(-b)).ln_1p()
    }
}

/// ln of a normal's mass on `[a, a + width]`: as [`log_mass`], but with the width given
/// apart, so that a cell far narrower than `a`'s precision keeps its mass.
pub(crate) fn log_cell_mass(a: f64, width: f64) -> f64 {
    if width > 0.0 && width < 1e-5 {
        log_pdf(a + 0.5 * width) + width.ln()
    } else {
        log_mass(a, a + width)
    }
}

/// ln(eᵖ − e^q) for `p ≥ q`.
fn log_diff(p: f64, q: f64) -> f64 {
    if q == f64::NEG_INFINITY {
        return p;
    }
    p + (-(q - p).exp_m1()).ln()
}

/// Φ⁻¹(p) for `p` in (0, 1): Acklam's rational approximation refined by one Halley step
/// (relative error near machine precision). Returns ±∞ at 0 and 1.
pub(crate) fn quantile(p: f64) -> f64 {
    const A: [f64; 6] = [
        -3.969_683_028_665_376e1,
        2.209_460_984_245_205e2,
        -2.759_285_104_469_687e2,
        1.383_577_518_672_69e2,
        -3.066_479_806_614_716e1,
        2.506_628_277_459_239,
    ];
    const B: [f64; 5] = [
        -5.447_609_879_822_406e1,
        1.615_858_368_580_409e2,
        -1.556_989_798_598_866e2,
        6.680_131_188_771_972e1,
        -1.328_068_155_288_572e1,
    ];
    const C: [f64; 6] = [
        -7.784_894_002_430_293e-3,
        -3.223_964_580_411_365e-1,
        -2.400_758_277_161_838,
        -2.549_732_539_343_734,
        4.374_664_141_464_968,
        2.938_163_982_698_783,
    ];
    const D: [f64; 4] = [
        7.784_695_709_041_462e-3,
        3.224_671_290_700_398e-1,
        2.445_134_137_142_996,
        3.754_408_661_907_416,
    ];
    const P_LOW: f64 = 0.024_25;
    if p.is_nan() {
        return f64::NAN;
    }
    if p <= 0.0 {
        return f64::NEG_INFINITY;
    }
    if p >= 1.0 {
        return f64::INFINITY;
    }
    let tail = |q: f64| {
        (((((C[0] * q + C[1]) * q + C[2]) * q + C[3]) * q + C[4]) * q + C[5])
            / ((((D[0] * q + D[1]) * q + D[2]) * q + D[3]) * q + 1.0)
    };
    let x = if p < P_LOW {
        tail((-2.0 * p.ln()).sqrt())
    } else if p <= 1.0 - P_LOW {
        let q = p - 0.5;
        let r = q * q;
        (((((A[0] * r + A[1]) * r + A[2]) * r + A[3]) * r + A[4]) * r + A[5]) * q
            / (((((B[0] * r + B[1]) * r + B[2]) * r + B[3]) * r + B[4]) * r + 1.0)
    } else {
        -tail((-2.0 * (-p).ln_1p()).sqrt())
    };
    // Halley's step on Φ(x) − p, with the error taken in the tail that p is closest to.
    let e = if p < 0.5 {
        cdf(x) - p
    } else {
        (1.0 - p) - cdf(-x)
    };
    let u = e * (2.0 * PI).sqrt() * (0.5 * x * x).exp();
    let refined = x - u / (1.0 + 0.5 * x * u);
    if refined.is_finite() { refined } else { x }
}

/// The point at quantile `q` (in [0, 1]) of a standard normal truncated to `[a, b]`
/// (`a ≤ b`), by inversion; always inside `[a, b]`.
pub(crate) fn truncated_quantile(a: f64, b: f64, q: f64) -> f64 {
    if a.is_nan() || b.is_nan() || a >= b {
        return a;
    }
    // Invert in the left tail, where Φ keeps its precision.
    if a > 0.0 {
        return -truncated_quantile(-b, -a, 1.0 - q);
    }
    let (pa, pb) = (cdf(a), cdf(b));
    let x = if pb > pa {
        quantile(pa + q.clamp(0.0, 1.0) * (pb - pa))
    } else {
        // The whole interval is beyond Φ's range (a < b < −38): its mass is at a.
        a
    };
    if x.is_nan() { a } else { x.clamp(a, b) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantile_inverts_the_cdf() {
        for i in 1..2000 {
            let p = i as f64 / 2000.0;
            let x = quantile(p);
            assert!((cdf(x) - p).abs() < 1e-14, "p {p}: Φ({x}) = {}", cdf(x));
        }
        for p in [1e-300, 1e-100, 1e-20, 1e-10, 1e-5] {
            let x = quantile(p);
            assert!(((cdf(x) - p) / p).abs() < 1e-12, "p {p}: {x}");
            assert!((quantile(1.0 - p) + quantile(p.max(1e-16))).abs() < 1e-6 || p < 1e-16);
        }
        assert!((quantile(0.975) - 1.959_963_984_540_054).abs() < 1e-13);
        assert_eq!(quantile(0.5), 0.0);
        assert_eq!(quantile(0.0), f64::NEG_INFINITY);
    }

    #[test]
    fn log_cdf_is_continuous_across_its_branches() {
        for x in [-30.0, 6.0] {
            let (below, above) = (log_cdf(x - 1e-9), log_cdf(x + 1e-9));
            assert!(
                (below - above).abs() < 1e-7 * below.abs().max(1e-12),
                "{x}: {below} {above}"
            );
        }
        // Far tail: ln Φ(−40) ≈ −804.608 (from the series), finite where Φ underflows.
        assert!((log_cdf(-40.0) + 804.608_442_013_754).abs() < 1e-9);
        assert!(log_cdf(-1e3).is_finite());
        assert!((log_cdf(0.0) - 0.5f64.ln()).abs() < 1e-15);
    }

    #[test]
    fn log_mass_matches_cdf_differences_and_stays_finite() {
        for (a, b) in [
            (-1.0, 1.0),
            (0.5, 2.0),
            (-3.0, -2.0),
            (-0.1, 0.0),
            (2.0, 9.0),
        ] {
            let want = (cdf(b) - cdf(a)).ln();
            assert!((log_mass(a, b) - want).abs() < 1e-12, "[{a}, {b}]");
        }
        // Narrow interval: midpoint rule agrees with the exact difference.
        let (a, b) = (0.3, 0.3 + 2e-6);
        let exact = (cdf(b) - cdf(a)).ln();
        assert!((log_mass(a, b) - exact).abs() < 1e-6);
        // Far tails: finite, and symmetric.
        let left = log_mass(-60.0, -50.0);
        assert!(left.is_finite());
        assert!((left - log_mass(50.0, 60.0)).abs() < 1e-9);
        assert_eq!(log_mass(1.0, 1.0), f64::NEG_INFINITY);
    }

    #[test]
    fn truncated_quantile_stays_inside_and_is_monotone() {
        for (a, b) in [
            (-3.0, 3.0),
            (0.0, 50.0),
            (-50.0, -0.5),
            (2.0, 2.5),
            (-1e3, 1e3),
        ] {
            let mut last = f64::NEG_INFINITY;
            for i in 0..=100 {
                let x = truncated_quantile(a, b, i as f64 / 100.0);
                assert!((a..=b).contains(&x), "[{a}, {b}] gave {x}");
                assert!(x >= last, "not monotone on [{a}, {b}]");
                last = x;
            }
        }
        // The median of a symmetric truncation is 0.
        assert!(truncated_quantile(-3.0, 3.0, 0.5).abs() < 1e-12);
    }
}
