//! Random search: independent draws from each parameter's distribution.
//!
//! The k-th suggestion of an experiment (k counts every trial ever suggested) is drawn from
//! its own ChaCha8 stream `k` under the experiment's seed. So the sequence depends only on
//! the seed, not on how suggestions were batched, and a restarted controller continues it
//! from the history's length alone, with no saved state.

use crate::domain::{space_problems, value_at};
use crate::{AlgorithmError, Suggester, Suggestions};
use ferrotune_core::{Assignment, Domain, ParamValue, SearchSpace, TrialView};
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// Settings `random` accepts (Katib's).
pub const SETTINGS: &[&str] = &["random_state"];

/// Random search over a search space, reproducible from a seed.
#[derive(Debug, Clone)]
pub struct RandomSearch {
    space: SearchSpace,
    seed: u64,
}

impl RandomSearch {
    /// Checks that every domain can be sampled.
    pub fn new(space: SearchSpace, seed: u64) -> Result<Self, AlgorithmError> {
        let problems = space_problems(&space);
        if !problems.is_empty() {
            return Err(AlgorithmError::Settings(problems));
        }
        Ok(RandomSearch { space, seed })
    }

    /// The k-th suggestion of the sequence (0-based): a pure function of seed and `k`.
    pub fn nth(&self, k: u64) -> Assignment {
        let mut rng = rng_for(self.seed, k);
        Assignment(
            self.space
                .parameters
                .iter()
                .map(|p| (p.name.clone(), sample(&p.domain, &mut rng)))
                .collect(),
        )
    }
}

impl Suggester for RandomSearch {
    fn suggest(&mut self, history: &[TrialView], n: usize) -> Result<Suggestions, AlgorithmError> {
        let first = history.len() as u64;
        Ok(Suggestions::Assignments(
            (0..n as u64).map(|i| self.nth(first + i)).collect(),
        ))
    }
}

/// The RNG of the k-th suggestion. The key is expanded from the seed with splitmix64 (not
/// `seed_from_u64`) so that sequences stay the same whatever rand_core does in the future.
pub(crate) fn rng_for(seed: u64, k: u64) -> ChaCha8Rng {
    let mut state = seed;
    let mut key = [0u8; 32];
    for chunk in key.chunks_exact_mut(8) {
        chunk.copy_from_slice(&splitmix64(&mut state).to_le_bytes());
    }
    let mut rng = ChaCha8Rng::from_seed(key);
    rng.set_stream(k);
    rng
}

pub(crate) fn splitmix64(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// One value of a domain: the domain's inverse cdf at a uniform draw, the mapping that sobol
/// uses too (`domain::value_at`), so both agree on what each distribution means.
fn sample(domain: &Domain, rng: &mut ChaCha8Rng) -> ParamValue {
    value_at(domain, rng.random::<f64>())
}

#[cfg(test)]
mod tests {
    use super::*;
    use ferrotune_core::Distribution;
    use ferrotune_core::{Parameter, TrialStatus};

    const ALL: [Distribution; 4] = [
        Distribution::Uniform,
        Distribution::LogUniform,
        Distribution::Normal,
        Distribution::LogNormal,
    ];

    fn space(params: Vec<(&str, Domain)>) -> SearchSpace {
        SearchSpace {
            parameters: params
                .into_iter()
                .map(|(n, d)| Parameter {
                    name: n.into(),
                    domain: d,
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

    fn int(min: i64, max: i64, step: Option<i64>, distribution: Distribution) -> Domain {
        Domain::Int {
            min,
            max,
            step,
            distribution,
        }
    }

    fn mixed() -> SearchSpace {
        space(vec![
            ("lr", double(1e-4, 0.5, None, Distribution::LogUniform)),
            ("layers", int(1, 5, None, Distribution::Uniform)),
            (
                "batch",
                Domain::Discrete {
                    values: vec![
                        ParamValue::Int(16),
                        ParamValue::Int(32),
                        ParamValue::Int(64),
                    ],
                },
            ),
            (
                "opt",
                Domain::Categorical {
                    values: vec!["sgd".into(), "adam".into()],
                },
            ),
            (
                "momentum",
                double(0.0, 1.0, Some(0.1), Distribution::Normal),
            ),
        ])
    }

    fn view(a: Assignment) -> TrialView {
        TrialView {
            name: String::new(),
            parameters: a,
            status: TrialStatus::Succeeded,
            objective: Some(1.0),
            objectives: Vec::new(),
            intermediate: Vec::new(),
            labels: Default::default(),
        }
    }

    fn batch(r: &mut RandomSearch, history: &[TrialView], n: usize) -> Vec<Assignment> {
        match r.suggest(history, n).unwrap() {
            Suggestions::Trials(_) | Suggestions::Wait => panic!("unexpected suggestion kind"),
            Suggestions::Assignments(a) => a,
            Suggestions::Exhausted => panic!("random never exhausts"),
        }
    }

    /// `n` samples of one domain (one parameter per suggestion).
    fn samples(d: Domain, seed: u64, n: usize) -> Vec<ParamValue> {
        let mut r = RandomSearch::new(space(vec![("x", d)]), seed).unwrap();
        batch(&mut r, &[], n)
            .into_iter()
            .map(|mut a| a.0.pop().unwrap().1)
            .collect()
    }

    fn floats(v: &[ParamValue]) -> Vec<f64> {
        v.iter().map(|x| x.as_f64().unwrap()).collect()
    }

    fn mean(x: &[f64]) -> f64 {
        x.iter().sum::<f64>() / x.len() as f64
    }

    fn std(x: &[f64]) -> f64 {
        let m = mean(x);
        (x.iter().map(|v| (v - m).powi(2)).sum::<f64>() / (x.len() - 1) as f64).sqrt()
    }

    fn median(x: &[f64]) -> f64 {
        let mut s = x.to_vec();
        s.sort_by(f64::total_cmp);
        s[s.len() / 2]
    }

    #[test]
    fn same_seed_same_sequence_other_seed_other_sequence() {
        let mut a = RandomSearch::new(mixed(), 42).unwrap();
        let mut b = RandomSearch::new(mixed(), 42).unwrap();
        let mut c = RandomSearch::new(mixed(), 43).unwrap();
        let (sa, sb, sc) = (
            batch(&mut a, &[], 50),
            batch(&mut b, &[], 50),
            batch(&mut c, &[], 50),
        );
        assert_eq!(sa, sb);
        assert_ne!(sa, sc);
        // Not a constant sequence either.
        assert!(sa.windows(2).any(|w| w[0] != w[1]));
    }

    #[test]
    fn batching_does_not_change_the_sequence() {
        let mut whole = RandomSearch::new(mixed(), 7).unwrap();
        let all = batch(&mut whole, &[], 20);
        let mut step = RandomSearch::new(mixed(), 7).unwrap();
        let mut history = Vec::new();
        for n in [1, 3, 2, 5, 9] {
            for a in batch(&mut step, &history, n) {
                history.push(view(a));
            }
        }
        let stepped: Vec<Assignment> = history.into_iter().map(|t| t.parameters).collect();
        assert_eq!(stepped, all);
    }

    #[test]
    fn resumes_from_history_alone() {
        let all = batch(&mut RandomSearch::new(mixed(), 99).unwrap(), &[], 30);
        // A new instance (as after a restart) given the first 12 trials, whatever their
        // parameters and states, continues with suggestion 12.
        let history: Vec<TrialView> = all[..12]
            .iter()
            .cloned()
            .enumerate()
            .map(|(i, a)| TrialView {
                status: if i % 2 == 0 {
                    TrialStatus::Running
                } else {
                    TrialStatus::Failed
                },
                objective: None,
                ..view(a)
            })
            .collect();
        let mut resumed = RandomSearch::new(mixed(), 99).unwrap();
        assert_eq!(batch(&mut resumed, &history, 18), all[12..]);
        assert_eq!(resumed.nth(29), all[29]);
    }

    #[test]
    fn uniform_double_mean_is_the_midpoint() {
        let x = floats(&samples(
            double(2.0, 10.0, None, Distribution::Uniform),
            1,
            20_000,
        ));
        assert!(x.iter().all(|v| (2.0..=10.0).contains(v)));
        // σ of the mean: 8/√12/√20000 ≈ 0.016.
        assert!((mean(&x) - 6.0).abs() < 0.1, "mean {}", mean(&x));
        assert!(x.iter().any(|v| *v < 2.1) && x.iter().any(|v| *v > 9.9));
    }

    #[test]
    fn log_uniform_median_is_the_geometric_mean() {
        let x = floats(&samples(
            double(1e-4, 1.0, None, Distribution::LogUniform),
            2,
            20_000,
        ));
        assert!(x.iter().all(|v| (1e-4..=1.0).contains(v)));
        // Geometric mean 1e-2; in ln units, within 0.1 of ln(1e-2) (ln-range 9.2).
        let m = median(&x);
        assert!((m.ln() - 1e-2f64.ln()).abs() < 0.1, "median {m}");
        // One decade in four.
        let below = x.iter().filter(|v| **v < 1e-3).count() as f64 / x.len() as f64;
        assert!((below - 0.25).abs() < 0.02, "share below 1e-3: {below}");
    }

    #[test]
    fn normal_is_centred_with_a_sixth_of_the_range_as_sigma() {
        let x = floats(&samples(
            double(0.0, 12.0, None, Distribution::Normal),
            3,
            20_000,
        ));
        assert!(x.iter().all(|v| (0.0..=12.0).contains(v)));
        // σ = 2; truncation at ±3σ shrinks it to ≈1.973. σ of the mean ≈ 0.014.
        assert!((mean(&x) - 6.0).abs() < 0.06, "mean {}", mean(&x));
        assert!((std(&x) - 2.0).abs() < 0.08, "std {}", std(&x));
        // About 68% within one σ.
        let inside = x.iter().filter(|v| (4.0..=8.0).contains(*v)).count() as f64 / 20_000.0;
        assert!((inside - 0.683).abs() < 0.02, "within 1σ: {inside}");
    }

    #[test]
    fn log_normal_is_normal_in_log_space() {
        let x = floats(&samples(
            double(1e-3, 1e3, None, Distribution::LogNormal),
            4,
            20_000,
        ));
        assert!(x.iter().all(|v| (1e-3..=1e3).contains(v)));
        let ln: Vec<f64> = x.iter().map(|v| v.ln()).collect();
        let sigma = (1e3f64.ln() - 1e-3f64.ln()) / 6.0; // ≈ 2.30
        assert!(mean(&ln).abs() < 0.08, "mean of ln {}", mean(&ln));
        assert!((std(&ln) - sigma).abs() < 0.1, "std of ln {}", std(&ln));
        assert!((median(&x).ln()).abs() < 0.1, "median {}", median(&x));
    }

    #[test]
    fn uniform_int_picks_every_value_equally() {
        let v = samples(int(1, 4, None, Distribution::Uniform), 5, 20_000);
        for want in 1..=4 {
            let share = v.iter().filter(|x| **x == ParamValue::Int(want)).count() as f64 / 20_000.0;
            assert!((share - 0.25).abs() < 0.015, "{want}: {share}");
        }
        assert!(v.iter().all(|x| matches!(x, ParamValue::Int(1..=4))));
    }

    #[test]
    fn discrete_and_categorical_are_uniform_choices() {
        let list = vec![
            ParamValue::Int(16),
            ParamValue::Float(0.5),
            ParamValue::Int(64),
        ];
        let v = samples(
            Domain::Discrete {
                values: list.clone(),
            },
            6,
            9_000,
        );
        for want in &list {
            let share = v.iter().filter(|x| *x == want).count() as f64 / 9_000.0;
            assert!((share - 1.0 / 3.0).abs() < 0.02, "{want}: {share}");
        }
        let names = vec!["a".to_string(), "b".to_string()];
        let v = samples(Domain::Categorical { values: names }, 6, 2_000);
        let a = v
            .iter()
            .filter(|x| **x == ParamValue::Str("a".into()))
            .count();
        assert!((900..=1100).contains(&a), "{a}");
    }

    #[test]
    fn int_steps_snap_to_min_plus_k_step() {
        for d in ALL {
            let v = samples(int(2, 9, Some(3), d), 8, 3_000);
            for want in [2, 5, 8] {
                assert!(
                    v.contains(&ParamValue::Int(want)),
                    "{d:?} never gave {want}"
                );
            }
            assert!(
                v.iter().all(|x| matches!(x, ParamValue::Int(2 | 5 | 8))),
                "{d:?}"
            );
        }
    }

    #[test]
    fn double_steps_snap_and_print_cleanly() {
        for d in ALL {
            let v = samples(double(0.1, 0.5, Some(0.1), d), 9, 3_000);
            let mut seen: Vec<String> = v.iter().map(|x| x.to_string()).collect();
            seen.sort();
            seen.dedup();
            assert_eq!(seen, ["0.1", "0.2", "0.3", "0.4", "0.5"], "{d:?}");
        }
        // A step that does not divide the range never goes beyond max.
        let v = samples(
            double(0.0, 1.0, Some(0.3), Distribution::Uniform),
            10,
            2_000,
        );
        let mut seen: Vec<String> = v.iter().map(|x| x.to_string()).collect();
        seen.sort();
        seen.dedup();
        assert_eq!(seen, ["0", "0.3", "0.6", "0.9"]);
    }

    #[test]
    fn uniform_steps_give_each_value_equal_weight() {
        // Endpoints are not halved (as rounding a continuous draw would do).
        let v = samples(
            double(0.0, 1.0, Some(0.25), Distribution::Uniform),
            11,
            20_000,
        );
        for want in [0.0, 0.25, 0.5, 0.75, 1.0] {
            let share =
                v.iter().filter(|x| **x == ParamValue::Float(want)).count() as f64 / 20_000.0;
            assert!((share - 0.2).abs() < 0.015, "{want}: {share}");
        }
    }

    #[test]
    fn extreme_domains_stay_finite_and_inside() {
        let domains = [
            double(-f64::MAX, f64::MAX, None, Distribution::Uniform),
            double(-f64::MAX, f64::MAX, None, Distribution::Normal),
            double(-1e308, 1e308, Some(1e300), Distribution::Uniform),
            double(-1e308, 1e308, Some(1e300), Distribution::Normal),
            double(f64::MIN_POSITIVE, f64::MAX, None, Distribution::LogUniform),
            double(f64::MIN_POSITIVE, f64::MAX, None, Distribution::LogNormal),
            double(5e-10, 2e-9, Some(1e-10), Distribution::Uniform),
            double(0.0, 1e6, Some(1e-9), Distribution::Uniform),
            double(1.0, 1.0, None, Distribution::Normal),
            double(3.0, 3.0, Some(0.5), Distribution::LogUniform),
            int(-(1 << 62) + 1, 1 << 62, None, Distribution::Uniform),
            int(-(1 << 62) + 1, 1 << 62, Some(3), Distribution::Normal),
            int(1, i64::MAX, Some(7), Distribution::LogNormal),
            int(5, 5, None, Distribution::LogUniform),
        ];
        for d in domains {
            for v in samples(d.clone(), 12, 500) {
                assert!(d.contains(&v), "{d:?} gave {v:?}");
                assert!(v.as_f64().unwrap().is_finite());
            }
        }
        // The whole i64 range (checked by hand: `Domain::contains` computes `i - min` in
        // i64, which overflows there).
        for d in [Distribution::Uniform, Distribution::Normal] {
            let v = samples(int(i64::MIN, i64::MAX, None, d), 13, 500);
            assert!(v.iter().all(|x| matches!(x, ParamValue::Int(_))));
            assert!(v.windows(2).any(|w| w[0] != w[1]));
        }
    }

    #[test]
    fn invalid_domains_are_errors_not_panics() {
        let bad = space(vec![("x", Domain::Categorical { values: vec![] })]);
        let err = RandomSearch::new(bad, 0).unwrap_err();
        assert!(
            err.to_string()
                .contains("spec.parameters[0].feasibleSpace.list")
        );
        let bad = space(vec![(
            "x",
            double(0.0, 1.0, None, Distribution::LogUniform),
        )]);
        assert!(RandomSearch::new(bad, 0).is_err());
    }
}
