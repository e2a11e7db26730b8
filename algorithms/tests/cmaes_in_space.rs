//! Property: whatever the search space, seed, settings and history (trials finishing in any
//! order, failing, reporting NaN or infinite values), cmaes returns exactly the number of
//! points asked for, each inside the space with finite numbers, and a controller restored
//! from its saved state (through JSON text) continues with the same points.

use ferrotune_algorithms::cmaes::CmaEs;
use ferrotune_algorithms::{AlgorithmContext, Suggester, Suggestions};
use ferrotune_core::{Assignment, ObjectiveType, TrialStatus, TrialView};
use proptest::prelude::*;

mod common;
use common::{assert_valid, finish, next, space};

fn settings() -> impl Strategy<Value = Vec<(String, String)>> {
    (
        prop::option::of(prop_oneof![Just(1.0), Just(1e-6), 1e-4f64..=1.0]),
        prop::option::of(2usize..10),
        prop::sample::select(vec!["none", "ipop", "bipop"]),
    )
        .prop_map(|(sigma, popsize, restart)| {
            let mut s = vec![("restart_strategy".to_string(), restart.to_string())];
            if let Some(x) = sigma {
                s.push(("sigma".into(), x.to_string()));
            }
            if let Some(p) = popsize {
                s.push(("popsize".into(), p.to_string()));
            }
            s
        })
}

fn ask(c: &mut CmaEs, history: &[TrialView], n: usize) -> Vec<Assignment> {
    match c.suggest(history, n).unwrap() {
        Suggestions::Trials(_) | Suggestions::Wait => panic!("unexpected suggestion kind"),
        Suggestions::Assignments(a) => a,
        Suggestions::Exhausted => panic!("cmaes exhausted"),
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn cmaes_suggestions_are_in_the_space_and_survive_a_restore(
        space in space(),
        settings in settings(),
        seed in any::<u64>(),
        fates in any::<u64>(),
        maximize in any::<bool>(),
        calls in prop::collection::vec(0usize..12, 1..40),
    ) {
        let ctx = AlgorithmContext {
            algorithm: "cmaes".into(),
            space: space.clone(),
            objectives: vec![if maximize { ObjectiveType::Maximize } else { ObjectiveType::Minimize }],
            seed,
            settings,
        };
        let mut c = CmaEs::new(&ctx).unwrap();
        let mut history: Vec<TrialView> = Vec::new();
        let mut rng = fates;
        for (i, &n) in calls.iter().enumerate() {
            // Some running trials finish, in any order.
            for t in history.iter_mut().filter(|t| t.status == TrialStatus::Running) {
                if !next(&mut rng).is_multiple_of(3) {
                    finish(t, &mut rng);
                }
            }
            if i == calls.len() / 2 {
                // A restart of the controller: the same points from the restored state.
                let text = serde_json::to_string(&c.state().unwrap()).unwrap();
                let mut restored = CmaEs::new(&ctx).unwrap();
                restored.restore(serde_json::from_str(&text).unwrap()).unwrap();
                let mut straight = c.clone();
                prop_assert_eq!(ask(&mut straight, &history, n), ask(&mut restored, &history, n));
                prop_assert_eq!(straight.state(), restored.state());
            }
            let batch = ask(&mut c, &history, n);
            prop_assert_eq!(batch.len(), n);
            for a in batch {
                assert_valid(&space, &a);
                history.push(TrialView {
                    name: String::new(),
                    parameters: a,
                    status: TrialStatus::Running,
                    objective: None,
                    objectives: Vec::new(),
                    intermediate: Vec::new(),
                    labels: Default::default(),
                });
            }
        }
    }
}
