//! Property: whatever the search space, seed, settings and (small) history, with trials
//! finished, failed, running or reporting NaN and infinite values, bayesianoptimization
//! returns exactly the number of points asked for, each inside the space with finite
//! numbers, and the same points again for the same inputs.

use ferrotune_algorithms::bayesopt::BayesOpt;
use ferrotune_algorithms::{AlgorithmContext, Suggester, Suggestions};
use ferrotune_core::{Assignment, ObjectiveType, TrialStatus, TrialView};
use proptest::prelude::*;

mod common;
use common::space;

fn status() -> impl Strategy<Value = TrialStatus> {
    prop_oneof![
        4 => Just(TrialStatus::Succeeded),
        1 => Just(TrialStatus::EarlyStopped),
        1 => Just(TrialStatus::Running),
        1 => Just(TrialStatus::Created),
        1 => Just(TrialStatus::Failed),
        1 => Just(TrialStatus::Killed),
        1 => Just(TrialStatus::MetricsUnavailable),
    ]
}

fn objective() -> impl Strategy<Value = Option<f64>> {
    prop_oneof![
        6 => (-1e3f64..1e3).prop_map(Some),
        1 => Just(Some(f64::NAN)),
        1 => Just(Some(f64::INFINITY)),
        1 => Just(None),
        1 => Just(Some(7.0)),
    ]
}

fn points(s: &mut BayesOpt, history: &[TrialView], n: usize) -> Vec<Assignment> {
    match s.suggest(history, n).unwrap() {
        Suggestions::Trials(_) | Suggestions::Wait => panic!("unexpected suggestion kind"),
        Suggestions::Assignments(a) => a,
        Suggestions::Exhausted => panic!("bayesianoptimization never exhausts"),
    }
}

fn finite(a: &Assignment) -> bool {
    a.0.iter()
        .all(|(_, v)| v.as_f64().is_none_or(|x| x.is_finite()))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn suggestions_are_inside_and_finite(
        space in space(),
        seed in any::<u64>(),
        maximize in any::<bool>(),
        initial in 0usize..4,
        acq in prop::sample::select(vec!["logEI", "EI", "LCB", "PI"]),
        results in prop::collection::vec((status(), objective()), 0..9),
        n in 1usize..4,
    ) {
        let ctx = AlgorithmContext {
            algorithm: "bayesianoptimization".into(),
            space: space.clone(),
            objectives: vec![if maximize { ObjectiveType::Maximize } else { ObjectiveType::Minimize }],
            seed,
            settings: vec![
                ("n_initial_points".into(), initial.to_string()),
                ("acq_func".into(), acq.into()),
            ],
        };
        let mut bo = BayesOpt::new(&ctx).unwrap();
        let mut history = Vec::new();
        for (status, objective) in results {
            let a = points(&mut bo, &history, 1).pop().unwrap();
            prop_assert!(space.contains(&a) && finite(&a), "{a:?}");
            history.push(TrialView {
                name: String::new(),
                parameters: a,
                status,
                objective,
                objectives: Vec::new(),
                intermediate: Vec::new(),
                labels: Default::default(),
            });
        }
        let batch = points(&mut bo, &history, n);
        prop_assert_eq!(batch.len(), n);
        for a in &batch {
            prop_assert!(space.contains(a) && finite(a), "{a:?}");
        }
        let mut again = BayesOpt::new(&ctx).unwrap();
        prop_assert_eq!(points(&mut again, &history, n), batch);
    }
}
