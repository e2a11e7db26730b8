//! The test functions of the comparison, with their domains as ferrotune search spaces.
//!
//! `functions.py` beside this crate defines the same functions, term for term and in the
//! same order of operations, for the Python peers. `compare --points` evaluates every
//! function at fixed points and `functions.py --verify` checks that Python gives the same
//! values, so the two definitions provably agree (run.sh does this before every run).
//!
//! Parameters are named `x0`, `x1`, … in order. All are minimised.
//!
//! [`MULTI`] holds the multi-objective functions (ZDT1, ZDT2), whose value is a vector.

use ferrotune_core::{Assignment, Distribution, Domain, ParamValue, Parameter, SearchSpace};
use std::f64::consts::{E, PI};

/// What one parameter may take.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Bound {
    /// A real number in `[lo, hi]`.
    Real(f64, f64),
    /// A whole number in `[lo, hi]`.
    Int(i64, i64),
    /// One of the listed numbers, offered to the algorithm as a categorical parameter.
    Categorical(&'static [f64]),
}

/// A test function, its domain and its known optimum.
#[derive(Debug, Clone, Copy)]
pub struct TestFunction {
    pub name: &'static str,
    pub bounds: &'static [Bound],
    /// The global minimum's value.
    pub optimum: f64,
    /// Points where the global minimum is reached (one or more).
    pub argmin: &'static [&'static [f64]],
    pub eval: fn(&[f64]) -> f64,
}

/// The seven functions of the comparison, in table order.
pub static ALL: &[TestFunction] = &[
    TestFunction {
        name: "branin",
        bounds: &[Bound::Real(-5.0, 10.0), Bound::Real(0.0, 15.0)],
        optimum: 0.397_887_357_729_738,
        argmin: &[&[-PI, 12.275], &[PI, 2.275], &[3.0 * PI, 2.475]],
        eval: branin,
    },
    TestFunction {
        name: "hartmann6",
        bounds: &[Bound::Real(0.0, 1.0); 6],
        optimum: -3.322_368_011_415_515,
        argmin: &[&[
            0.201_689_509_093_657_46,
            0.150_010_693_541_113_74,
            0.476_873_972_925_099_8,
            0.275_332_427_522_078_2,
            0.311_651_617_239_568_6,
            0.657_300_534_553_670_2,
        ]],
        eval: hartmann6,
    },
    TestFunction {
        name: "rosenbrock5",
        bounds: &[Bound::Real(-5.0, 10.0); 5],
        optimum: 0.0,
        argmin: &[&[1.0; 5]],
        eval: rosenbrock,
    },
    TestFunction {
        name: "ackley5",
        bounds: &[Bound::Real(-32.768, 32.768); 5],
        optimum: 0.0,
        argmin: &[&[0.0; 5]],
        eval: ackley,
    },
    TestFunction {
        name: "levy6",
        bounds: &[Bound::Real(-10.0, 10.0); 6],
        optimum: 0.0,
        argmin: &[&[1.0; 6]],
        eval: levy,
    },
    TestFunction {
        name: "styblinski-tang4",
        bounds: &[Bound::Real(-5.0, 5.0); 4],
        optimum: -156.664_662_815_085_65,
        argmin: &[&[STYBLINSKI_TANG_X; 4]],
        eval: styblinski_tang,
    },
    TestFunction {
        name: "rosenbrock5-mixed",
        bounds: &[
            Bound::Real(-5.0, 10.0),
            Bound::Real(-5.0, 10.0),
            Bound::Real(-5.0, 10.0),
            Bound::Int(-5, 10),
            Bound::Categorical(&MIXED_CHOICES),
        ],
        optimum: 25.0,
        argmin: &[&[1.0, 1.0, 1.0, 1.0, 0.5]],
        eval: rosenbrock,
    },
];

/// The values `x4` of the mixed space may take.
pub const MIXED_CHOICES: [f64; 4] = [-2.0, -0.5, 0.5, 2.0];

/// The root of `4x³ − 32x + 5 = 0` in `[-5, 5]` where Styblinski-Tang is least.
const STYBLINSKI_TANG_X: f64 = -2.903_534_027_771_177;

/// The function of this name.
pub fn by_name(name: &str) -> Option<&'static TestFunction> {
    ALL.iter().find(|f| f.name == name)
}

/// Branin (2-D) on `x0 ∈ [-5, 10]`, `x1 ∈ [0, 15]`:
/// `a (x1 − b x0² + c x0 − r)² + s (1 − t) cos x0 + s` with `a = 1`, `b = 5.1 / (4π²)`,
/// `c = 5 / π`, `r = 6`, `s = 10`, `t = 1 / (8π)`.
/// Minimum 0.397887357729738 at (−π, 12.275), (π, 2.275) and (3π, 2.475).
pub fn branin(x: &[f64]) -> f64 {
    let b = 5.1 / (4.0 * PI * PI);
    let c = 5.0 / PI;
    let t = 1.0 / (8.0 * PI);
    let u = x[1] - b * x[0] * x[0] + c * x[0] - 6.0;
    u * u + 10.0 * (1.0 - t) * x[0].cos() + 10.0
}

const HARTMANN_ALPHA: [f64; 4] = [1.0, 1.2, 3.0, 3.2];
const HARTMANN_A: [[f64; 6]; 4] = [
    [10.0, 3.0, 17.0, 3.5, 1.7, 8.0],
    [0.05, 10.0, 17.0, 0.1, 8.0, 14.0],
    [3.0, 3.5, 1.7, 10.0, 17.0, 8.0],
    [17.0, 8.0, 0.05, 10.0, 0.1, 14.0],
];
const HARTMANN_P: [[f64; 6]; 4] = [
    [0.1312, 0.1696, 0.5569, 0.0124, 0.8283, 0.5886],
    [0.2329, 0.4135, 0.8307, 0.3736, 0.1004, 0.9991],
    [0.2348, 0.1451, 0.3522, 0.2883, 0.3047, 0.6650],
    [0.4047, 0.8828, 0.8732, 0.5743, 0.1091, 0.0381],
];

/// Hartmann (6-D) on `[0, 1]⁶`: `−Σᵢ αᵢ exp(−Σⱼ Aᵢⱼ (xⱼ − Pᵢⱼ)²)` with the usual α, A, P.
/// Minimum −3.322368011415515 at (0.20168951, 0.15001069, 0.47687397, 0.27533243,
/// 0.31165162, 0.65730053).
pub fn hartmann6(x: &[f64]) -> f64 {
    let mut total = 0.0;
    for i in 0..4 {
        let mut inner = 0.0;
        for j in 0..6 {
            let d = x[j] - HARTMANN_P[i][j];
            inner += HARTMANN_A[i][j] * d * d;
        }
        total += HARTMANN_ALPHA[i] * (-inner).exp();
    }
    -total
}

/// Rosenbrock (any dimension): `Σᵢ 100 (xᵢ₊₁ − xᵢ²)² + (1 − xᵢ)²`, on `[-5, 10]⁵` here.
/// Minimum 0 at (1, …, 1).
///
/// The mixed space uses it too, with `x3` a whole number in `[-5, 10]` and `x4` one of
/// {−2, −0.5, 0.5, 2} (a categorical): its minimum there is 25, at (1, 1, 1, 1, 0.5). Every
/// term is non-negative, and the last one, `100 (x4 − x3²)² + (1 − x3)²`, is at least 25
/// over those values (reached only at x3 = 1, x4 = 0.5), where the other terms are 0 at
/// x0 = x1 = x2 = 1.
pub fn rosenbrock(x: &[f64]) -> f64 {
    let mut total = 0.0;
    for i in 0..x.len() - 1 {
        let a = x[i + 1] - x[i] * x[i];
        let b = 1.0 - x[i];
        total += 100.0 * a * a + b * b;
    }
    total
}

/// Ackley (any dimension): `−20 exp(−0.2 √(mean xᵢ²)) − exp(mean cos 2πxᵢ) + 20 + e`, on
/// `[-32.768, 32.768]⁵` here. Minimum 0 at the origin.
pub fn ackley(x: &[f64]) -> f64 {
    let n = x.len() as f64;
    let mut squares = 0.0;
    let mut cosines = 0.0;
    for &v in x {
        squares += v * v;
        cosines += (2.0 * PI * v).cos();
    }
    -20.0 * (-0.2 * (squares / n).sqrt()).exp() - (cosines / n).exp() + 20.0 + E
}

/// Levy (any dimension), with `wᵢ = 1 + (xᵢ − 1) / 4`:
/// `sin²(πw₀) + Σᵢ<d−1 (wᵢ − 1)² (1 + 10 sin²(πwᵢ + 1)) + (w_d−1 − 1)² (1 + sin²(2πw_d−1))`,
/// on `[-10, 10]⁶` here. Minimum 0 at (1, …, 1).
pub fn levy(x: &[f64]) -> f64 {
    let w: Vec<f64> = x.iter().map(|v| 1.0 + (v - 1.0) / 4.0).collect();
    let d = w.len();
    let first = (PI * w[0]).sin();
    let mut total = first * first;
    for wi in &w[..d - 1] {
        let s = (PI * wi + 1.0).sin();
        total += (wi - 1.0) * (wi - 1.0) * (1.0 + 10.0 * s * s);
    }
    let last = w[d - 1];
    let s = (2.0 * PI * last).sin();
    total + (last - 1.0) * (last - 1.0) * (1.0 + s * s)
}

/// Styblinski-Tang (any dimension): `½ Σᵢ (xᵢ⁴ − 16 xᵢ² + 5 xᵢ)`, on `[-5, 5]⁴` here.
/// Minimum −39.16616570377141 per dimension (−156.66466281508565 in 4-D) at
/// xᵢ = −2.903534027771177.
pub fn styblinski_tang(x: &[f64]) -> f64 {
    let mut total = 0.0;
    for &v in x {
        let v2 = v * v;
        total += v2 * v2 - 16.0 * v2 + 5.0 * v;
    }
    0.5 * total
}

/// A multi-objective test function: every objective minimised, its domain and its
/// Pareto front.
#[derive(Debug, Clone, Copy)]
pub struct MultiObjectiveFunction {
    pub name: &'static str,
    pub bounds: &'static [Bound],
    /// The number of objectives (the length of `eval`'s answer).
    pub objectives: usize,
    pub eval: fn(&[f64]) -> Vec<f64>,
    /// The Pareto front: the second objective as a function of the first, for `f1 ∈ [0, 1]`.
    pub front: fn(f64) -> f64,
}

/// Variables of the ZDT functions (the standard 30).
pub const ZDT_VARIABLES: usize = 30;

/// The multi-objective functions of the comparison, in table order.
pub static MULTI: &[MultiObjectiveFunction] = &[
    MultiObjectiveFunction {
        name: "zdt1",
        bounds: &[Bound::Real(0.0, 1.0); ZDT_VARIABLES],
        objectives: 2,
        eval: zdt1,
        front: |f1| 1.0 - f1.sqrt(),
    },
    MultiObjectiveFunction {
        name: "zdt2",
        bounds: &[Bound::Real(0.0, 1.0); ZDT_VARIABLES],
        objectives: 2,
        eval: zdt2,
        front: |f1| 1.0 - f1 * f1,
    },
];

/// The multi-objective function of this name.
pub fn multi_by_name(name: &str) -> Option<&'static MultiObjectiveFunction> {
    MULTI.iter().find(|f| f.name == name)
}

/// ZDT's `g = 1 + 9 (x1 + … + x(n−1)) / (n − 1)`: 1 exactly on the Pareto set
/// (x1 = … = x(n−1) = 0), at most 10 on `[0, 1]ⁿ`.
fn zdt_g(x: &[f64]) -> f64 {
    let mut total = 0.0;
    for &v in &x[1..] {
        total += v;
    }
    1.0 + 9.0 * total / (x.len() - 1) as f64
}

/// ZDT1 (Zitzler, Deb and Thiele 2000) on `[0, 1]ⁿ`: `f1 = x0`, `f2 = g (1 − √(f1 / g))`.
/// Convex Pareto front `f2 = 1 − √f1`, reached where `g = 1`.
pub fn zdt1(x: &[f64]) -> Vec<f64> {
    let f1 = x[0];
    let g = zdt_g(x);
    vec![f1, g * (1.0 - (f1 / g).sqrt())]
}

/// ZDT2 (Zitzler, Deb and Thiele 2000) on `[0, 1]ⁿ`: `f1 = x0`, `f2 = g (1 − (f1 / g)²)`.
/// Concave Pareto front `f2 = 1 − f1²`, reached where `g = 1`.
pub fn zdt2(x: &[f64]) -> Vec<f64> {
    let f1 = x[0];
    let g = zdt_g(x);
    let r = f1 / g;
    vec![f1, g * (1.0 - r * r)]
}

/// The domain as a ferrotune search space: `x0`, `x1`, … as doubles (uniform), ints and,
/// for categorical values, their decimal text.
pub fn space_of(bounds: &[Bound]) -> SearchSpace {
    let parameters = bounds
        .iter()
        .enumerate()
        .map(|(i, b)| Parameter {
            name: format!("x{i}"),
            domain: match *b {
                Bound::Real(min, max) => Domain::Double {
                    min,
                    max,
                    step: None,
                    distribution: Distribution::Uniform,
                },
                Bound::Int(min, max) => Domain::Int {
                    min,
                    max,
                    step: None,
                    distribution: Distribution::Uniform,
                },
                Bound::Categorical(values) => Domain::Categorical {
                    values: values.iter().map(|v| v.to_string()).collect(),
                },
            },
        })
        .collect();
    SearchSpace { parameters }
}

/// The point an assignment of [`space_of`]`(bounds)` stands for.
pub fn point_of(name: &str, bounds: &[Bound], a: &Assignment) -> anyhow::Result<Vec<f64>> {
    anyhow::ensure!(
        a.0.len() == bounds.len(),
        "{name}: expected {} parameters, got {}",
        bounds.len(),
        a.0.len()
    );
    a.0.iter()
        .map(|(param, v)| match v {
            ParamValue::Float(x) => Ok(*x),
            ParamValue::Int(i) => Ok(*i as f64),
            ParamValue::Str(s) => s
                .parse::<f64>()
                .map_err(|e| anyhow::anyhow!("{name}: {param} = {s:?}: {e}")),
        })
        .collect()
}

impl MultiObjectiveFunction {
    /// The domain as a ferrotune search space (see [`space_of`]).
    pub fn space(&self) -> SearchSpace {
        space_of(self.bounds)
    }

    /// The objectives' values at an assignment of [`space`](Self::space).
    pub fn values(&self, a: &Assignment) -> anyhow::Result<Vec<f64>> {
        Ok((self.eval)(&point_of(self.name, self.bounds, a)?))
    }

    /// The Pareto-optimal point whose first objective is `f1`: `x0 = f1`, the rest 0.
    pub fn pareto_point(&self, f1: f64) -> Vec<f64> {
        let mut x = vec![0.0; self.bounds.len()];
        x[0] = f1;
        x
    }
}

impl TestFunction {
    /// The domain as a ferrotune search space (see [`space_of`]).
    pub fn space(&self) -> SearchSpace {
        space_of(self.bounds)
    }

    /// The point an assignment of [`space`](Self::space) stands for.
    pub fn point(&self, a: &Assignment) -> anyhow::Result<Vec<f64>> {
        point_of(self.name, self.bounds, a)
    }

    /// The function's value at an assignment of [`space`](Self::space).
    pub fn value(&self, a: &Assignment) -> anyhow::Result<f64> {
        Ok((self.eval)(&self.point(a)?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() <= 1e-9 * (1.0 + b.abs())
    }

    #[test]
    fn each_function_reaches_its_known_optimum() {
        for f in ALL {
            for x in f.argmin {
                let v = (f.eval)(x);
                assert!(
                    close(v, f.optimum),
                    "{} at {x:?}: {v} != {}",
                    f.name,
                    f.optimum
                );
            }
        }
    }

    /// No coordinate step from a documented minimiser goes lower: the points are minima,
    /// not just points with that value.
    #[test]
    fn known_optima_are_local_minima() {
        for f in ALL {
            for x in f.argmin {
                for (j, b) in f.bounds.iter().enumerate() {
                    if !matches!(b, Bound::Real(..)) {
                        continue;
                    }
                    for h in [-1e-3, 1e-3] {
                        let mut y = x.to_vec();
                        y[j] += h;
                        assert!((f.eval)(&y) >= f.optimum - 1e-12, "{} at {y:?}", f.name);
                    }
                }
            }
        }
    }

    /// The argument in `rosenbrock`'s doc comment: the last term alone is at least 25 over
    /// every (x3, x4) the mixed space allows.
    #[test]
    fn mixed_optimum_is_global() {
        let mut best = f64::INFINITY;
        for x3 in -5..=10 {
            for x4 in MIXED_CHOICES {
                let x3 = x3 as f64;
                let last = 100.0 * (x4 - x3 * x3).powi(2) + (1.0 - x3).powi(2);
                best = best.min(last);
            }
        }
        assert_eq!(best, 25.0);
    }

    #[test]
    fn spaces_hold_the_optima_and_round_trip_points() {
        for f in ALL {
            let space = f.space();
            let x = f.argmin[0];
            let a = Assignment(
                space
                    .parameters
                    .iter()
                    .zip(x.iter().zip(f.bounds))
                    .map(|(p, (&v, b))| {
                        let v = match b {
                            Bound::Real(..) => ParamValue::Float(v),
                            Bound::Int(..) => ParamValue::Int(v as i64),
                            Bound::Categorical(_) => ParamValue::Str(v.to_string()),
                        };
                        (p.name.clone(), v)
                    })
                    .collect(),
            );
            assert!(space.contains(&a), "{}: {a:?}", f.name);
            assert_eq!(f.point(&a).unwrap(), x);
            assert!(close(f.value(&a).unwrap(), f.optimum));
        }
    }

    #[test]
    fn names_are_unique() {
        for (i, f) in ALL.iter().enumerate() {
            assert!(ALL[..i].iter().all(|g| g.name != f.name));
            assert!(std::ptr::eq(by_name(f.name).unwrap(), f));
        }
        for (i, f) in MULTI.iter().enumerate() {
            assert!(MULTI[..i].iter().all(|g| g.name != f.name));
            assert!(ALL.iter().all(|g| g.name != f.name));
            assert!(std::ptr::eq(multi_by_name(f.name).unwrap(), f));
        }
    }

    /// `g = 1` on the Pareto set, so each Pareto-optimal point lies on the stated front.
    #[test]
    fn zdt_pareto_points_lie_on_the_front() {
        for f in MULTI {
            assert_eq!(f.bounds.len(), ZDT_VARIABLES);
            for f1 in [0.0, 0.25, 0.5, 0.81, 1.0] {
                let v = (f.eval)(&f.pareto_point(f1));
                assert_eq!(v.len(), f.objectives);
                assert_eq!(v[0], f1);
                assert!(close(v[1], (f.front)(f1)), "{} at f1 = {f1}: {v:?}", f.name);
            }
        }
        assert!(close(
            zdt1(&[1.0; ZDT_VARIABLES])[1],
            10.0 * (1.0 - 0.1f64.sqrt())
        ));
        assert!(close(zdt2(&[1.0; ZDT_VARIABLES])[1], 9.9));
    }

    /// Every point of the domain has `f1 ≤ 1` and `f2 ≤ 10` (so the comparison's reference
    /// point (1.1, 11) is beyond all of them), and no point is below the front.
    #[test]
    fn zdt_values_are_bounded_and_above_the_front() {
        let mut state = 0x2545_f491_4f6c_dd1d_u64;
        let mut uniform = || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state >> 11) as f64 / (1u64 << 53) as f64
        };
        for f in MULTI {
            for k in 0..1000 {
                // Some points near the Pareto set, where g is close to 1.
                let scale = if k % 2 == 0 { 1.0 } else { 1e-3 };
                let mut x: Vec<f64> = (0..ZDT_VARIABLES).map(|_| scale * uniform()).collect();
                x[0] = uniform();
                let v = (f.eval)(&x);
                assert!((0.0..=1.0).contains(&v[0]) && (0.0..=10.0).contains(&v[1]));
                assert!(
                    v[1] >= (f.front)(v[0]) - 1e-12,
                    "{} at {x:?}: {v:?}",
                    f.name
                );
            }
        }
    }
}
