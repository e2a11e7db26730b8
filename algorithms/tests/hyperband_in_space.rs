//! Property: whatever the search space (with an int or double resource parameter), settings,
//! seed and history (trials finishing in any order, failing, reporting NaN or infinite
//! values), hyperband and bohb suggest between 1 and n trials, each inside the space with
//! finite numbers, wait only while a trial runs, promote only finished trials with a value,
//! and a fresh instance (a restarted controller) given the same history answers the same.

use ferrotune_algorithms::{AlgorithmContext, Suggester, Suggestions, build};
use ferrotune_core::{ObjectiveType, PARENT_LABEL, Parameter, TrialStatus, TrialView};
use proptest::prelude::*;

mod common;
use common::{assert_valid, double, finish, int, next, space};

fn settings() -> impl Strategy<Value = Vec<(String, String)>> {
    (
        prop::sample::select(vec!["2", "2.5", "3", "4"]),
        prop::sample::select(vec!["1", "3", "9", "10", "27", "81"]),
        prop::option::of(1usize..6),
        prop::sample::select(vec!["0", "0.33", "1"]),
    )
        .prop_map(|(eta, r_l, min_points, random_fraction)| {
            let mut s = vec![
                ("resource_name".to_string(), "resource".to_string()),
                ("eta".into(), eta.into()),
                ("r_l".into(), r_l.into()),
                ("random_fraction".into(), random_fraction.into()),
                ("num_samples".into(), "8".into()),
            ];
            if let Some(m) = min_points {
                s.push(("min_points_in_model".into(), m.to_string()));
            }
            s
        })
}

fn ask(a: &mut dyn Suggester, history: &[TrialView], n: usize) -> Suggestions {
    a.suggest(history, n).unwrap()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn hyperband_and_bohb_suggest_inside_the_space_and_resume(
        space in space(),
        resource in prop_oneof![int(), double()],
        settings in settings(),
        bohb in any::<bool>(),
        seed in any::<u64>(),
        fates in any::<u64>(),
        maximize in any::<bool>(),
        calls in prop::collection::vec(1usize..10, 1..30),
    ) {
        let mut space = space;
        space.parameters.push(Parameter { name: "resource".into(), domain: resource });
        let algorithm = if bohb { "bohb" } else { "hyperband" };
        let settings: Vec<(String, String)> = if bohb {
            settings
        } else {
            settings.into_iter().take(3).collect()
        };
        let ctx = AlgorithmContext {
            algorithm: algorithm.into(),
            space: space.clone(),
            objectives: vec![if maximize { ObjectiveType::Maximize } else { ObjectiveType::Minimize }],
            seed,
            settings,
        };
        let mut a = build(ctx.clone()).unwrap();
        let mut history: Vec<TrialView> = Vec::new();
        let mut rng = fates;
        for &n in &calls {
            // Some running trials finish, in any order.
            for t in history.iter_mut().filter(|t| t.status == TrialStatus::Running) {
                if !next(&mut rng).is_multiple_of(3) {
                    finish(t, &mut rng);
                }
            }
            let answer = ask(a.as_mut(), &history, n);
            // A restarted controller answers the same from the history alone.
            prop_assert_eq!(&answer, &ask(build(ctx.clone()).unwrap().as_mut(), &history, n));
            match answer {
                Suggestions::Wait => {
                    prop_assert!(history.iter().any(|t| t.status == TrialStatus::Running));
                }
                Suggestions::Trials(new) => {
                    prop_assert!(!new.is_empty() && new.len() <= n);
                    for t in new {
                        assert_valid(&space, &t.parameters);
                        if let Some(parent) = t.labels.get(PARENT_LABEL) {
                            let p = history.iter().find(|h| &h.name == parent).unwrap();
                            prop_assert!(matches!(
                                p.status,
                                TrialStatus::Succeeded | TrialStatus::EarlyStopped
                            ));
                            prop_assert!(p.objective.is_some_and(|v| !v.is_nan()));
                        }
                        history.push(TrialView {
                            name: format!("t{}", history.len()),
                            parameters: t.parameters,
                            status: TrialStatus::Running,
                            objective: None,
                            objectives: Vec::new(),
                            intermediate: Vec::new(),
                            labels: t.labels,
                        });
                    }
                }
                other => prop_assert!(false, "unexpected {other:?}"),
            }
        }
    }
}
