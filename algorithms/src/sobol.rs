//! Sobol search: a scrambled Sobol quasi-random sequence, mapped through each parameter's
//! distribution, so that the points cover the space more evenly than random draws.
//!
//! Suggestion k (k counts every trial ever suggested) is point k of the sequence, with one
//! dimension per parameter in declaration order: the sequence depends only on the seed, and
//! a restarted controller continues it from the history's length alone. Points come from
//! `sobol_burley` (Owen-scrambled and seeded, up to 256 dimensions, 2^16 points per
//! sequence; each further block of 2^16 suggestions uses a fresh, independently scrambled
//! sequence). Its coordinates have 24 bits; a uniform draw inside their 2^-24 cell completes
//! them to full precision without disturbing the stratification. Each coordinate then goes
//! through the same inverse-cdf mapping as every unit draw in this crate, so distributions,
//! steps, integers and lists behave as in random search.

use crate::domain::{space_problems, value_at};
use crate::random::{rng_for, splitmix64};
use crate::{AlgorithmError, Suggester, Suggestions};
use ferrotune_core::{Assignment, FieldError, SearchSpace, TrialView};
use rand::RngExt;

/// Settings `sobol` accepts (Katib's goptuna sobol takes `random_state`).
pub const SETTINGS: &[&str] = &["random_state"];

/// The most parameters a Sobol sequence is available for (the direction numbers
/// `sobol_burley` ships).
pub const MAX_DIMENSIONS: usize = sobol_burley::NUM_DIMENSIONS as usize;

/// Points per scrambled sequence; beyond, the next block starts a new one.
const BLOCK: u64 = 1 << 16;

/// A coordinate's resolution in `sobol_burley` (24-bit floats in [0, 1)).
const CELL: f64 = 1.0 / (1u32 << 24) as f64;

/// Sobol search over a search space, reproducible from a seed.
#[derive(Debug, Clone)]
pub struct SobolSearch {
    space: SearchSpace,
    seed: u64,
}

impl SobolSearch {
    /// Checks that every domain can be sampled and that there are at most
    /// [`MAX_DIMENSIONS`] parameters.
    pub fn new(space: SearchSpace, seed: u64) -> Result<Self, AlgorithmError> {
        let mut problems = space_problems(&space);
        problems.extend(dimension_problems(&space));
        if !problems.is_empty() {
            return Err(AlgorithmError::Settings(problems));
        }
        Ok(SobolSearch { space, seed })
    }

    /// The k-th suggestion (0-based): a pure function of seed and `k`.
    pub fn nth(&self, k: u64) -> Assignment {
        let coordinates = self.point(k);
        Assignment(
            self.space
                .parameters
                .iter()
                .zip(coordinates)
                .map(|(p, u)| (p.name.clone(), value_at(&p.domain, u)))
                .collect(),
        )
    }

    /// Point k of the sequence in [0, 1)^d, before the parameters' mappings.
    fn point(&self, k: u64) -> Vec<f64> {
        let mut state = self.seed ^ (k / BLOCK).wrapping_mul(0xD1B5_4A32_D192_ED03);
        let scramble = (splitmix64(&mut state) >> 32) as u32;
        let index = (k % BLOCK) as u32;
        let mut jitter = rng_for(self.seed, k);
        (0..self.space.parameters.len() as u32)
            .map(|d| {
                let u =
                    sobol_burley::sample(index, d, scramble) as f64 + CELL * jitter.random::<f64>();
                u.min(1.0 - f64::EPSILON / 2.0)
            })
            .collect()
    }
}

impl Suggester for SobolSearch {
    fn suggest(&mut self, history: &[TrialView], n: usize) -> Result<Suggestions, AlgorithmError> {
        let first = history.len() as u64;
        Ok(Suggestions::Assignments(
            (0..n as u64).map(|i| self.nth(first + i)).collect(),
        ))
    }
}

/// Too many parameters for the sequence's dimensions.
pub(crate) fn dimension_problems(space: &SearchSpace) -> Vec<FieldError> {
    let n = space.parameters.len();
    if n > MAX_DIMENSIONS {
        vec![FieldError::new(
            "spec.parameters",
            format!(
                "sobol supports at most {MAX_DIMENSIONS} parameters (one Sobol dimension each), \
                 got {n}; use random or tpe for larger spaces"
            ),
        )]
    } else {
        Vec::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::RandomSearch;
    use ferrotune_core::{Distribution, Domain, ParamValue, Parameter, TrialStatus};

    fn space(domains: Vec<Domain>) -> SearchSpace {
        SearchSpace {
            parameters: domains
                .into_iter()
                .enumerate()
                .map(|(i, domain)| Parameter {
                    name: format!("p{i}"),
                    domain,
                })
                .collect(),
        }
    }

    fn double(min: f64, max: f64, step: Option<f64>, distribution: Distribution) -> Domain {
        Domain::Double {
            min,
            max,
            step,
            distribution,
        }
    }

    fn unit_square() -> SearchSpace {
        space(vec![
            double(0.0, 1.0, None, Distribution::Uniform),
            double(0.0, 1.0, None, Distribution::Uniform),
        ])
    }

    fn batch(s: &mut dyn Suggester, history: &[TrialView], n: usize) -> Vec<Assignment> {
        match s.suggest(history, n).unwrap() {
            Suggestions::Trials(_) | Suggestions::Wait => panic!("unexpected suggestion kind"),
            Suggestions::Assignments(a) => a,
            Suggestions::Exhausted => panic!("exhausted"),
        }
    }

    fn xy(a: &Assignment) -> (f64, f64) {
        (a.0[0].1.as_f64().unwrap(), a.0[1].1.as_f64().unwrap())
    }

    #[test]
    fn every_cell_of_a_16_by_16_grid_holds_one_of_256_points() {
        // A (0, m, 2)-net property of Sobol points that Owen scrambling keeps: for any seed,
        // the first 2^8 points put exactly one point in each 1/16 × 1/16 cell, and so does
        // every following aligned block of 256.
        for seed in [0, 1, 42, u64::MAX] {
            let s = SobolSearch::new(unit_square(), seed).unwrap();
            for start in [0, 256, 65_280] {
                let mut counts = [[0u32; 16]; 16];
                for k in start..start + 256 {
                    let (x, y) = xy(&s.nth(k));
                    counts[(x * 16.0) as usize][(y * 16.0) as usize] += 1;
                }
                assert!(
                    counts.iter().flatten().all(|&c| c == 1),
                    "seed {seed}, points {start}..: {counts:?}"
                );
            }
        }
    }

    /// The largest gap between the share of points in `[0, x) × [0, y)` and its area, over
    /// the points' own coordinates (a close lower bound of the star discrepancy).
    fn star_discrepancy(points: &[(f64, f64)]) -> f64 {
        let n = points.len() as f64;
        let mut worst = 0.0f64;
        for &(x, _) in points {
            for &(_, y) in points {
                let open = points.iter().filter(|p| p.0 < x && p.1 < y).count() as f64;
                let closed = points.iter().filter(|p| p.0 <= x && p.1 <= y).count() as f64;
                worst = worst.max(x * y - open / n).max(closed / n - x * y);
            }
        }
        worst
    }

    #[test]
    fn discrepancy_is_well_below_random_points() {
        // 128 points: random points' star discrepancy is about 1/√n (≈ 0.09 here); a
        // Sobol net's is about log(n)/n. Every seed must beat every random run by 2×.
        for seed in 0..4 {
            let mut s = SobolSearch::new(unit_square(), seed).unwrap();
            let mut r = RandomSearch::new(unit_square(), seed).unwrap();
            let sobol: Vec<_> = batch(&mut s, &[], 128).iter().map(xy).collect();
            let random: Vec<_> = batch(&mut r, &[], 128).iter().map(xy).collect();
            let (ds, dr) = (star_discrepancy(&sobol), star_discrepancy(&random));
            assert!(ds < 0.04, "seed {seed}: sobol {ds}");
            assert!(2.0 * ds < dr, "seed {seed}: sobol {ds}, random {dr}");
        }
    }

    #[test]
    fn same_seed_same_sequence_and_resumes_from_history_alone() {
        let mixed = space(vec![
            double(1e-4, 0.5, None, Distribution::LogUniform),
            Domain::Int {
                min: 1,
                max: 5,
                step: None,
                distribution: Distribution::Uniform,
            },
            Domain::Categorical {
                values: vec!["sgd".into(), "adam".into()],
            },
            double(0.0, 1.0, Some(0.1), Distribution::Normal),
        ]);
        let all = batch(&mut SobolSearch::new(mixed.clone(), 9).unwrap(), &[], 40);
        let other = batch(&mut SobolSearch::new(mixed.clone(), 10).unwrap(), &[], 40);
        assert_ne!(all, other);
        assert!(all.iter().all(|a| mixed.contains(a)));
        // A fresh instance given 15 trials (whatever their states) continues at point 15,
        // and batching does not matter.
        let history: Vec<TrialView> = all[..15]
            .iter()
            .map(|a| TrialView {
                name: String::new(),
                parameters: a.clone(),
                status: TrialStatus::Running,
                objective: None,
                objectives: Vec::new(),
                intermediate: Vec::new(),
                labels: Default::default(),
            })
            .collect();
        let mut resumed = SobolSearch::new(mixed, 9).unwrap();
        assert_eq!(batch(&mut resumed, &history, 25), all[15..]);
    }

    #[test]
    fn distributions_and_lists_follow_the_parameters() {
        let s = SobolSearch::new(
            space(vec![
                double(1e-4, 1.0, None, Distribution::LogUniform),
                double(0.0, 12.0, None, Distribution::Normal),
                Domain::Discrete {
                    values: vec![
                        ParamValue::Int(16),
                        ParamValue::Int(32),
                        ParamValue::Int(64),
                    ],
                },
            ]),
            5,
        )
        .unwrap();
        let points: Vec<Assignment> = (0..1024).map(|k| s.nth(k)).collect();
        let col =
            |j: usize| -> Vec<f64> { points.iter().map(|a| a.0[j].1.as_f64().unwrap()).collect() };
        // Log-uniform over four decades: exactly a quarter below 1e-3 (up to stratification).
        let below = col(0).iter().filter(|v| **v < 1e-3).count();
        assert!((250..=262).contains(&below), "{below}");
        // Normal with σ = 2 truncated at ±3σ: ≈ 68.7% within one σ (truncation raises 68.3).
        let inside = col(1).iter().filter(|v| (4.0..=8.0).contains(*v)).count() as f64;
        assert!((inside / 1024.0 - 0.687).abs() < 0.01, "{inside}");
        // Three list values, equally often (1024 = 341 + 341 + 342 up to stratification).
        for want in [16.0, 32.0, 64.0] {
            let n = col(2).iter().filter(|v| **v == want).count();
            assert!((338..=345).contains(&n), "{want}: {n}");
        }
    }

    #[test]
    fn points_beyond_one_scrambled_sequence_stay_valid() {
        let s = SobolSearch::new(unit_square(), 3).unwrap();
        for k in [65_535, 65_536, 65_537, u64::MAX] {
            let (x, y) = xy(&s.nth(k));
            assert!((0.0..1.0).contains(&x) && (0.0..1.0).contains(&y), "{k}");
        }
        assert_ne!(s.nth(0), s.nth(65_536));
    }

    #[test]
    fn too_many_parameters_is_a_clear_error() {
        let wide = space(vec![
            double(0.0, 1.0, None, Distribution::Uniform);
            MAX_DIMENSIONS + 1
        ]);
        let err = SobolSearch::new(wide, 0).unwrap_err().to_string();
        assert!(err.contains("spec.parameters"), "{err}");
        assert!(err.contains("at most 256 parameters"), "{err}");
        let widest = space(vec![
            double(0.0, 1.0, None, Distribution::Uniform);
            MAX_DIMENSIONS
        ]);
        let s = SobolSearch::new(widest.clone(), 0).unwrap();
        assert!(widest.contains(&s.nth(7)));
    }
}
