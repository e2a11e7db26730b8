//! Property: whatever the search space, seed and history, every algorithm only ever
//! suggests points of the space, with finite numbers.

use ferrotune_algorithms::{
    GridSearch, Nsga2, Nsga2Settings, RandomSearch, SobolSearch, Suggester, Suggestions, TpeSearch,
    TpeSettings,
};
use ferrotune_core::{
    Assignment, Distribution, Domain, ObjectiveType, ParamValue, Parameter, SearchSpace,
    TrialStatus, TrialView,
};
use proptest::prelude::*;

mod common;
use common::assert_valid;

fn distribution() -> impl Strategy<Value = Distribution> {
    prop_oneof![
        Just(Distribution::Uniform),
        Just(Distribution::LogUniform),
        Just(Distribution::Normal),
        Just(Distribution::LogNormal),
    ]
}

/// A double with valid bounds: positive min for the log distributions; a step (when
/// present) no larger than the range.
fn double() -> impl Strategy<Value = Domain> {
    (
        distribution(),
        -1e6f64..1e6,
        1e-6f64..1e6,
        1e-3f64..1e6,
        prop::option::of(1e-3f64..=1.0),
    )
        .prop_map(|(distribution, min, pos_min, span, step)| {
            let min = if distribution.is_log() { pos_min } else { min };
            Domain::Double {
                min,
                max: min + span,
                step: step.map(|fraction| span * fraction),
                distribution,
            }
        })
}

fn int() -> impl Strategy<Value = Domain> {
    (
        distribution(),
        -1_000_000i64..1_000_000,
        1i64..1_000_000,
        1i64..1_000_000,
        prop::option::of(1i64..1_000_000),
    )
        .prop_map(|(distribution, min, pos_min, span, step)| {
            let min = if distribution.is_log() { pos_min } else { min };
            Domain::Int {
                min,
                max: min + span,
                step: step.map(|s| s.min(span)),
                distribution,
            }
        })
}

fn discrete() -> impl Strategy<Value = Domain> {
    prop::collection::vec(
        prop_oneof![
            (-1000i64..1000).prop_map(ParamValue::Int),
            (-1e6f64..1e6).prop_map(ParamValue::Float),
        ],
        1..6,
    )
    .prop_map(|values| Domain::Discrete { values })
}

fn categorical() -> impl Strategy<Value = Domain> {
    prop::collection::vec("[a-z]{1,6}", 1..5).prop_map(|values| Domain::Categorical { values })
}

fn space() -> impl Strategy<Value = SearchSpace> {
    prop::collection::vec(
        prop_oneof![double(), int(), discrete(), categorical()],
        1..6,
    )
    .prop_map(|domains| SearchSpace {
        parameters: domains
            .into_iter()
            .enumerate()
            .map(|(i, domain)| Parameter {
                name: format!("p{i}"),
                domain,
            })
            .collect(),
    })
}

/// A space grid search accepts and can enumerate in a test: doubles always stepped, at
/// most 13 values per parameter (each suggest call rescans the history, so enumerating a
/// grid to the end costs points² / n).
fn small_grid_space() -> impl Strategy<Value = SearchSpace> {
    let double = (distribution(), -1e3f64..1e3, 1e-3f64..1e3, 1usize..8).prop_map(
        |(distribution, min, span, steps)| {
            let min = if distribution.is_log() {
                min.abs() + 1e-3
            } else {
                min
            };
            Domain::Double {
                min,
                max: min + span,
                step: Some(span / steps as f64),
                distribution,
            }
        },
    );
    let int = (
        distribution(),
        -1000i64..1000,
        1i64..12,
        prop::option::of(1i64..10),
    )
        .prop_map(|(distribution, min, span, step)| {
            let min = if distribution.is_log() {
                min.abs() + 1
            } else {
                min
            };
            Domain::Int {
                min,
                max: min + span,
                step: step.map(|s| s.min(span)),
                distribution,
            }
        });
    prop::collection::vec(prop_oneof![double, int, discrete(), categorical()], 1..4).prop_map(
        |domains| SearchSpace {
            parameters: domains
                .into_iter()
                .enumerate()
                .map(|(i, domain)| Parameter {
                    name: format!("p{i}"),
                    domain,
                })
                .collect(),
        },
    )
}

fn view(a: Assignment) -> TrialView {
    TrialView {
        name: String::new(),
        parameters: a,
        status: TrialStatus::Succeeded,
        objective: Some(0.0),
        objectives: Vec::new(),
        intermediate: Vec::new(),
        labels: Default::default(),
    }
}

fn status() -> impl Strategy<Value = TrialStatus> {
    prop::sample::select(TrialStatus::ALL.to_vec())
}

fn objective() -> impl Strategy<Value = Option<f64>> {
    prop_oneof![
        8 => (-1e6f64..1e6).prop_map(Some),
        1 => prop::sample::select(vec![f64::INFINITY, f64::NEG_INFINITY, f64::NAN, 0.0])
            .prop_map(Some),
        1 => Just(None),
    ]
}

/// A history of trials at points of the space (random search's, under another seed), with
/// arbitrary states and objective values; `foreign` trials have no parameters at all (as
/// if the space had been edited), which algorithms must ignore.
fn history(
    space: &SearchSpace,
    seed: u64,
    outcomes: &[(TrialStatus, Option<f64>, bool)],
) -> Vec<TrialView> {
    let points = RandomSearch::new(space.clone(), seed ^ 0x5EED).unwrap();
    outcomes
        .iter()
        .enumerate()
        .map(|(k, &(status, objective, foreign))| TrialView {
            name: format!("t{k}"),
            parameters: if foreign {
                Assignment::default()
            } else {
                points.nth(k as u64)
            },
            status,
            objective,
            objectives: Vec::new(),
            intermediate: Vec::new(),
            labels: Default::default(),
        })
        .collect()
}

/// The same history for an experiment with `directions.len()` objectives: a trial has
/// every objective's value (the two drawn, alternating) only when both were drawn.
fn history_multi(
    space: &SearchSpace,
    seed: u64,
    outcomes: &[(TrialStatus, Option<f64>, Option<f64>, bool)],
    directions: &[ObjectiveType],
) -> Vec<TrialView> {
    let single: Vec<(TrialStatus, Option<f64>, bool)> =
        outcomes.iter().map(|&(s, a, _, f)| (s, a, f)).collect();
    let mut h = history(space, seed, &single);
    if directions.len() > 1 {
        for (t, &(_, a, b, _)) in h.iter_mut().zip(outcomes) {
            if let (Some(a), Some(b)) = (a, b) {
                t.objectives = (0..directions.len())
                    .map(|j| if j % 2 == 0 { a } else { b })
                    .collect();
            }
        }
    }
    h
}

fn directions() -> impl Strategy<Value = Vec<ObjectiveType>> {
    prop::collection::vec(
        prop_oneof![Just(ObjectiveType::Minimize), Just(ObjectiveType::Maximize)],
        1..4,
    )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn sobol_suggestions_are_in_the_space(
        space in space(),
        seed in any::<u64>(),
        done in prop_oneof![0usize..1000, 65_000usize..66_000],
    ) {
        let mut s = SobolSearch::new(space.clone(), seed).unwrap();
        let history: Vec<TrialView> = (0..done).map(|_| view(Assignment::default())).collect();
        let Suggestions::Assignments(batch) = s.suggest(&history, 20).unwrap() else {
            panic!("sobol exhausted");
        };
        prop_assert_eq!(batch.len(), 20);
        for a in &batch {
            assert_valid(&space, a);
        }
    }

    #[test]
    fn random_suggestions_are_in_the_space(
        space in space(),
        seed in any::<u64>(),
        done in 0usize..1000,
    ) {
        let mut r = RandomSearch::new(space.clone(), seed).unwrap();
        // Pretend `done` trials already exist: only their number matters.
        let history: Vec<TrialView> = (0..done).map(|_| view(Assignment::default())).collect();
        let Suggestions::Assignments(batch) = r.suggest(&history, 20).unwrap() else {
            panic!("random exhausted");
        };
        prop_assert_eq!(batch.len(), 20);
        for a in &batch {
            assert_valid(&space, a);
        }
    }

    #[test]
    fn grid_suggestions_are_in_the_space_and_cover_it(
        space in small_grid_space(),
        n in 1usize..40,
    ) {
        let mut g = GridSearch::new(space.clone()).unwrap();
        let mut history = Vec::new();
        loop {
            match g.suggest(&history, n).unwrap() {
                Suggestions::Trials(_) | Suggestions::Wait => panic!("unexpected suggestion kind"),
                Suggestions::Exhausted => break,
                Suggestions::Assignments(batch) => {
                    prop_assert!(!batch.is_empty() && batch.len() <= n);
                    for a in batch {
                        assert_valid(&space, &a);
                        history.push(view(a));
                    }
                }
            }
            prop_assert!(history.len() <= g.points());
        }
        prop_assert_eq!(history.len(), g.points());
    }

    #[test]
    fn grid_accepts_or_rejects_arbitrary_spaces_without_panicking(space in space()) {
        if let Ok(mut g) = GridSearch::new(space.clone()) {
            if let Suggestions::Assignments(batch) = g.suggest(&[], 50).unwrap() {
                for a in &batch {
                    assert_valid(&space, a);
                }
            }
        } else {
            let has_continuous = space
                .parameters
                .iter()
                .any(|p| matches!(p.domain, Domain::Double { step: None, .. }));
            let size: f64 = space
                .parameters
                .iter()
                .map(|p| match &p.domain {
                    Domain::Double { min, max, step: Some(s), .. } => {
                        ((max - min) / s).floor() + 1.0
                    }
                    Domain::Int { min, max, step, .. } => {
                        ((max - min) / step.unwrap_or(1) + 1) as f64
                    }
                    Domain::Discrete { values } => values.len() as f64,
                    Domain::Categorical { values } => values.len() as f64,
                    Domain::Double { step: None, .. } => 1.0,
                })
                .product();
            prop_assert!(has_continuous || size > 9.9e6, "rejected a valid grid of {size} points");
        }
    }
}

proptest! {
    // Each case fits estimators to its history: fewer cases keep the suite fast.
    #![proptest_config(ProptestConfig::with_cases(96))]

    #[test]
    fn tpe_suggestions_are_in_the_space(
        space in space(),
        seed in any::<u64>(),
        outcomes in prop::collection::vec((status(), objective(), prop::bool::weighted(0.1)), 0..40),
        n_startup_trials in 0usize..12,
        gamma in prop::option::of(0.01f64..=1.0),
        prior_weight in 0.01f64..10.0,
        consider_endpoints in any::<bool>(),
        multivariate in any::<bool>(),
        maximize in any::<bool>(),
    ) {
        let settings = TpeSettings {
            n_startup_trials,
            n_ei_candidates: 8,
            gamma,
            prior_weight,
            consider_endpoints,
            multivariate,
        };
        let objective = if maximize { ObjectiveType::Maximize } else { ObjectiveType::Minimize };
        let mut t = TpeSearch::new(space.clone(), objective, seed, settings).unwrap();
        let history = history(&space, seed, &outcomes);
        let Suggestions::Assignments(batch) = t.suggest(&history, 4).unwrap() else {
            panic!("tpe exhausted");
        };
        prop_assert_eq!(batch.len(), 4);
        for a in &batch {
            assert_valid(&space, a);
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn nsga2_suggestions_are_in_the_space(
        space in space(),
        seed in any::<u64>(),
        outcomes in prop::collection::vec(
            (status(), objective(), objective(), prop::bool::weighted(0.1)),
            0..60,
        ),
        population_size in 2usize..12,
        mutation_prob in prop::option::of(0.0f64..=1.0),
        crossover_prob in 0.0f64..=1.0,
        swapping_prob in 0.0f64..=1.0,
        directions in directions(),
    ) {
        let settings = Nsga2Settings {
            population_size,
            mutation_prob,
            crossover_prob,
            swapping_prob,
        };
        let mut s = Nsga2::new(space.clone(), directions.clone(), seed, settings).unwrap();
        let history = history_multi(&space, seed, &outcomes, &directions);
        // Enough to span several generations.
        let Suggestions::Assignments(batch) = s.suggest(&history, 25).unwrap() else {
            panic!("nsga2 exhausted");
        };
        prop_assert_eq!(batch.len(), 25);
        for a in &batch {
            assert_valid(&space, a);
        }
    }

    #[test]
    fn multi_objective_tpe_suggestions_are_in_the_space(
        space in space(),
        seed in any::<u64>(),
        outcomes in prop::collection::vec(
            (status(), objective(), objective(), prop::bool::weighted(0.1)),
            0..40,
        ),
        n_startup_trials in 0usize..12,
        gamma in prop::option::of(0.01f64..=1.0),
        directions in directions(),
    ) {
        let settings = TpeSettings {
            n_startup_trials,
            n_ei_candidates: 8,
            gamma,
            multivariate: true,
            ..TpeSettings::default()
        };
        let mut t = TpeSearch::with_objectives(space.clone(), directions.clone(), seed, settings)
            .unwrap();
        let history = history_multi(&space, seed, &outcomes, &directions);
        let Suggestions::Assignments(batch) = t.suggest(&history, 4).unwrap() else {
            panic!("tpe exhausted");
        };
        prop_assert_eq!(batch.len(), 4);
        for a in &batch {
            assert_valid(&space, a);
        }
    }
}
