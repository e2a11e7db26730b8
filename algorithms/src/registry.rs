//! Algorithm names: which exist, which settings they take, and building one by name.
//!
//! Validation and construction share these checks, so whatever `validate` accepts, `build`
//! builds.

use crate::{
    AlgorithmContext, AlgorithmError, GridSearch, Nsga2, Nsga2Settings, RandomSearch, SobolSearch,
    Suggester, TpeSearch, TpeSettings, bayesopt, cmaes, grid, nsga2, random, sobol, tpe,
};
use ferrotune_core::load::did_you_mean;
use ferrotune_core::{FieldError, SearchSpace};

/// Algorithms ferrotune runs.
pub const IMPLEMENTED: &[&str] = &[
    "random",
    "grid",
    "sobol",
    "tpe",
    "multivariate-tpe",
    "cmaes",
    "bayesianoptimization",
    "nsga2",
    "pbt",
    "hyperband",
    "bohb",
];

/// Katib's other algorithm names: recognised, so that the message says "not yet" rather
/// than "unknown".
pub const KATIB_NOT_YET: &[&str] = &["enas", "darts"];

/// Algorithms that take several objectives at once (the rest optimise one). Random, grid
/// and sobol ignore the objective, so they take any number.
pub const MULTI_OBJECTIVE: &[&str] = &["random", "grid", "sobol", "multivariate-tpe", "nsga2"];

/// Katib's neural architecture search algorithms, out of ferrotune's scope.
const NAS: &[&str] = &["enas", "darts"];

const NAME_PATH: &str = "spec.algorithm.algorithmName";

/// Every problem with an algorithm name, its settings and, for that algorithm, the search
/// space and the number of objectives; empty when `build` will succeed.
pub fn validate(
    name: &str,
    settings: &[(String, String)],
    space: &SearchSpace,
    objectives: usize,
) -> Vec<FieldError> {
    let accepted = match name {
        "random" => random::SETTINGS,
        "grid" => grid::SETTINGS,
        "sobol" => sobol::SETTINGS,
        "tpe" | "multivariate-tpe" => tpe::SETTINGS,
        "cmaes" => cmaes::SETTINGS,
        "bayesianoptimization" => bayesopt::SETTINGS,
        "nsga2" => nsga2::SETTINGS,
        "hyperband" => crate::hyperband::SETTINGS,
        "bohb" => crate::bohb::SETTINGS,
        "pbt" => crate::pbt::SETTINGS,
        _ => return vec![FieldError::new(NAME_PATH, name_problem(name))],
    };
    let mut errors = Vec::new();
    if objectives > 1 && !MULTI_OBJECTIVE.contains(&name) {
        let choices: Vec<&str> = MULTI_OBJECTIVE
            .iter()
            .copied()
            .filter(|a| !["random", "grid", "sobol"].contains(a))
            .collect();
        errors.push(FieldError::new(
            NAME_PATH,
            format!(
                "{name:?} optimises a single objective, and this experiment has {objectives}; \
                 use {} (or random, grid, sobol)",
                choices.join(" or ")
            ),
        ));
    }
    for (i, (key, value)) in settings.iter().enumerate() {
        let path = format!("spec.algorithm.algorithmSettings[{i}]");
        if !accepted.contains(&key.as_str()) {
            let hint = did_you_mean(key, accepted.iter().copied())
                .map(|s| format!(", did you mean {s:?}?"))
                .unwrap_or_default();
            errors.push(FieldError::new(
                format!("{path}.name"),
                format!(
                    "unknown setting {key:?} for algorithm {name:?}{hint} (accepted: {})",
                    accepted.join(", ")
                ),
            ));
        } else if let Some(message) = value_problem(name, key, value) {
            errors.push(FieldError::new(format!("{path}.value"), message));
        }
    }
    match name {
        "grid" => errors.extend(grid::grid_problems(space)),
        "sobol" => {
            errors.extend(crate::domain::space_problems(space));
            errors.extend(sobol::dimension_problems(space));
        }
        "cmaes" => errors.extend(cmaes::settings_problems(settings, space)),
        "bayesianoptimization" => errors.extend(bayesopt::settings_problems(settings, space)),
        "hyperband" => errors.extend(crate::hyperband::settings_problems(settings, space)),
        "bohb" => errors.extend(crate::bohb::settings_problems(settings, space)),
        _ => errors.extend(crate::domain::space_problems(space)),
    }
    errors
}

/// What is wrong with the value of an accepted setting, if anything.
fn value_problem(algorithm: &str, key: &str, value: &str) -> Option<String> {
    if key == "random_state" {
        return parse_seed(value)
            .is_none()
            .then(|| format!("random_state must be a non-negative integer, got {value:?}"));
    }
    match algorithm {
        "tpe" | "multivariate-tpe" => tpe::setting_problem(key, value),
        "nsga2" => nsga2::setting_problem(key, value),
        "pbt" => crate::pbt::setting_problem(key, value),
        _ => None,
    }
}

/// Why `name` is not an algorithm ferrotune runs.
fn name_problem(name: &str) -> String {
    let implemented = IMPLEMENTED.join(", ");
    if NAS.contains(&name) {
        format!(
            "{name:?}: neural architecture search is not supported by ferrotune \
             (it tunes hyperparameters with: {implemented})"
        )
    } else if KATIB_NOT_YET.contains(&name) {
        format!("algorithm {name:?} is not supported yet by ferrotune (implemented: {implemented})")
    } else {
        let hint = did_you_mean(name, IMPLEMENTED.iter().chain(KATIB_NOT_YET).copied())
            .map(|s| format!(", did you mean {s:?}?"))
            .unwrap_or_default();
        format!(
            "unknown algorithm {name:?}{hint} (implemented: {implemented}; \
             recognised from Katib but not supported yet: {})",
            KATIB_NOT_YET.join(", ")
        )
    }
}

/// What the user should know about valid settings (accepted but ignored, or taken as
/// something close), to print once with the experiment.
pub fn notes(name: &str, settings: &[(String, String)]) -> Vec<String> {
    match name {
        "bayesianoptimization" => bayesopt::settings_notes(settings),
        "hyperband" => crate::hyperband::settings_notes("hyperband", settings),
        "bohb" => crate::bohb::settings_notes(settings),
        "pbt" => crate::pbt::settings_notes(settings),
        _ => Vec::new(),
    }
}

fn parse_seed(value: &str) -> Option<u64> {
    value.trim().parse().ok()
}

/// The seed that a valid `random_state` setting asks for, if any.
pub fn seed_from_settings(settings: &[(String, String)]) -> Option<u64> {
    settings
        .iter()
        .find(|(k, _)| k == "random_state")
        .and_then(|(_, v)| parse_seed(v))
}

/// Builds the named algorithm after the same checks as [`validate`], so that a bad setting
/// is an error here, never a panic later.
pub fn build(ctx: AlgorithmContext) -> Result<Box<dyn Suggester>, AlgorithmError> {
    let errors = validate(
        &ctx.algorithm,
        &ctx.settings,
        &ctx.space,
        ctx.objectives.len(),
    );
    if !errors.is_empty() {
        return Err(AlgorithmError::Settings(errors));
    }
    match ctx.algorithm.as_str() {
        "random" => Ok(Box::new(RandomSearch::new(ctx.space, ctx.seed)?)),
        "grid" => Ok(Box::new(GridSearch::new(ctx.space)?)),
        "sobol" => Ok(Box::new(SobolSearch::new(ctx.space, ctx.seed)?)),
        "cmaes" => Ok(Box::new(cmaes::CmaEs::new(&ctx)?)),
        "bayesianoptimization" => Ok(Box::new(bayesopt::BayesOpt::new(&ctx)?)),
        "tpe" | "multivariate-tpe" => {
            let multivariate = ctx.algorithm == "multivariate-tpe";
            let settings = TpeSettings::from_settings(&ctx.settings, multivariate)
                .map_err(AlgorithmError::Settings)?;
            Ok(Box::new(TpeSearch::with_objectives(
                ctx.space,
                ctx.objectives,
                ctx.seed,
                settings,
            )?))
        }
        "nsga2" => {
            let settings =
                Nsga2Settings::from_settings(&ctx.settings).map_err(AlgorithmError::Settings)?;
            Ok(Box::new(Nsga2::new(
                ctx.space,
                ctx.objectives,
                ctx.seed,
                settings,
            )?))
        }
        "pbt" => {
            let settings = crate::pbt::PbtSettings::from_settings(&ctx.settings)
                .map_err(AlgorithmError::Settings)?;
            let direction = ctx.objective();
            Ok(Box::new(crate::pbt::Pbt::new(
                ctx.space, direction, ctx.seed, settings,
            )?))
        }
        "hyperband" => Ok(Box::new(crate::Hyperband::new(&ctx)?)),
        "bohb" => Ok(Box::new(crate::Bohb::new(&ctx)?)),
        other => Err(AlgorithmError::Internal(format!(
            "algorithm {other:?} passed validation but has no implementation"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Suggestions;
    use ferrotune_core::{Distribution, Domain, ObjectiveType, Parameter};

    fn space() -> SearchSpace {
        SearchSpace {
            parameters: vec![
                Parameter {
                    name: "layers".into(),
                    domain: Domain::Int {
                        min: 1,
                        max: 3,
                        step: None,
                        distribution: Distribution::Uniform,
                    },
                },
                Parameter {
                    name: "lr".into(),
                    domain: Domain::Double {
                        min: 0.01,
                        max: 0.1,
                        step: None,
                        distribution: Distribution::LogUniform,
                    },
                },
            ],
        }
    }

    fn settings(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn only(errors: Vec<FieldError>) -> FieldError {
        assert_eq!(errors.len(), 1, "{errors:?}");
        errors.into_iter().next().unwrap()
    }

    #[test]
    fn implemented_names_with_good_settings_pass() {
        assert!(validate("random", &settings(&[("random_state", "7")]), &space(), 1).is_empty());
        assert!(validate("random", &[], &space(), 1).is_empty());
        assert!(validate("sobol", &settings(&[("random_state", "7")]), &space(), 1).is_empty());
        let tpe_settings = settings(&[
            ("random_state", "7"),
            ("n_startup_trials", "5"),
            ("n_ei_candidates", "32"),
            ("gamma", "0.2"),
            ("prior_weight", "0.5"),
            ("consider_endpoints", "true"),
        ]);
        assert!(validate("tpe", &tpe_settings, &space(), 1).is_empty());
        assert!(validate("multivariate-tpe", &tpe_settings, &space(), 1).is_empty());
    }

    #[test]
    fn unknown_names_list_the_known_ones_and_suggest() {
        let e = only(validate("rnadom", &[], &space(), 1));
        assert_eq!(e.path, "spec.algorithm.algorithmName");
        assert!(e.message.contains("did you mean \"random\"?"), "{e}");
        assert!(e.message.contains("implemented: random, grid"), "{e}");
        assert!(e.message.contains("tpe"), "{e}");
        let e = only(validate("Grid", &[], &space(), 1));
        assert!(e.message.contains("did you mean \"grid\"?"), "{e}");
        let e = only(validate("simulated-annealing", &[], &space(), 1));
        assert!(!e.message.contains("did you mean"), "{e}");
    }

    #[test]
    fn katib_names_are_not_supported_yet() {
        for name in ["enas", "darts"] {
            let e = only(validate(name, &[], &space(), 1));
            assert!(
                e.message
                    .contains("neural architecture search is not supported"),
                "{e}"
            );
        }
    }

    #[test]
    fn bad_random_state_is_reported_at_its_value() {
        let s = settings(&[("random_state", "7"), ("random_state", "abc")]);
        let e = only(validate("random", &s, &space(), 1));
        assert_eq!(e.path, "spec.algorithm.algorithmSettings[1].value");
        assert_eq!(
            e.message,
            "random_state must be a non-negative integer, got \"abc\""
        );
        let e = only(validate(
            "grid",
            &settings(&[("random_state", "-1")]),
            &grid_space(),
            1,
        ));
        assert_eq!(e.path, "spec.algorithm.algorithmSettings[0].value");
    }

    #[test]
    fn unknown_settings_name_the_accepted_ones() {
        let e = only(validate(
            "random",
            &settings(&[("random_sate", "1")]),
            &space(),
            1,
        ));
        assert_eq!(e.path, "spec.algorithm.algorithmSettings[0].name");
        assert!(e.message.contains("did you mean \"random_state\"?"), "{e}");
        assert!(e.message.contains("accepted: random_state"), "{e}");
        let e = only(validate(
            "grid",
            &settings(&[("n_startup_trials", "5")]),
            &grid_space(),
            1,
        ));
        assert!(e.message.contains("for algorithm \"grid\""), "{e}");
    }

    fn grid_space() -> SearchSpace {
        let mut s = space();
        s.parameters[1].domain = Domain::Double {
            min: 0.01,
            max: 0.1,
            step: Some(0.01),
            distribution: Distribution::Uniform,
        };
        s
    }

    #[test]
    fn grid_needs_steps_for_doubles() {
        let e = only(validate("grid", &[], &space(), 1));
        assert_eq!(e.path, "spec.parameters[1].feasibleSpace.step");
        assert_eq!(e.message, "grid needs a step for double parameter \"lr\"");
        assert!(validate("grid", &[], &grid_space(), 1).is_empty());
    }

    #[test]
    fn seed_comes_from_a_valid_random_state() {
        assert_eq!(
            seed_from_settings(&settings(&[("random_state", " 42 ")])),
            Some(42)
        );
        assert_eq!(
            seed_from_settings(&settings(&[("random_state", "x")])),
            None
        );
        assert_eq!(seed_from_settings(&[]), None);
    }

    fn ctx(
        algorithm: &str,
        space: SearchSpace,
        settings: Vec<(String, String)>,
    ) -> AlgorithmContext {
        AlgorithmContext {
            algorithm: algorithm.into(),
            space,
            objectives: vec![ObjectiveType::Minimize],
            seed: 3,
            settings,
        }
    }

    #[test]
    fn build_runs_validation_first() {
        let err = build(ctx("grid", space(), vec![])).err().unwrap();
        assert!(err.to_string().contains("grid needs a step"), "{err}");
        let err = build(ctx("random", space(), settings(&[("random_state", "abc")])))
            .err()
            .unwrap();
        assert!(matches!(err, AlgorithmError::Settings(_)));
        assert!(build(ctx("hyperband", space(), vec![])).is_err());
        let err = build(ctx("cmaes", space(), settings(&[("sigma", "2")])))
            .err()
            .unwrap();
        assert!(err.to_string().contains("sigma must be"), "{err}");
        let e = only(validate(
            "cmaes",
            &settings(&[("sigma0", "0.2")]),
            &space(),
            1,
        ));
        assert!(e.message.contains("did you mean \"sigma\"?"), "{e}");
        assert!(
            validate(
                "cmaes",
                &settings(&[("restart_strategy", "ipop")]),
                &space(),
                1
            )
            .is_empty()
        );
        let mut c = build(ctx("cmaes", space(), settings(&[("popsize", "5")]))).unwrap();
        assert!(c.state().is_some());
        let Suggestions::Assignments(a) = c.suggest(&[], 7).unwrap() else {
            panic!("cmaes exhausted");
        };
        assert!(a.len() == 7 && a.iter().all(|a| space().contains(a)));
        let err = build(ctx("tpe", space(), settings(&[("gamma", "0")])))
            .err()
            .unwrap();
        assert!(err.to_string().contains("gamma must be"), "{err}");
    }

    #[test]
    fn built_algorithms_suggest() {
        let mut r = build(ctx("random", space(), vec![])).unwrap();
        assert!(!r.needs_intermediate() && r.state().is_none());
        let Suggestions::Assignments(a) = r.suggest(&[], 4).unwrap() else {
            panic!("random exhausted");
        };
        assert_eq!(a.len(), 4);
        assert!(a.iter().all(|a| space().contains(a)));
        let mut g = build(ctx("grid", grid_space(), vec![])).unwrap();
        let Suggestions::Assignments(a) = g.suggest(&[], 100).unwrap() else {
            panic!("grid exhausted");
        };
        assert_eq!(a.len(), 30);
    }

    #[test]
    fn tpe_settings_are_checked_at_their_values() {
        let s = settings(&[
            ("n_startup_trials", "ten"),
            ("n_ei_candiates", "24"),
            ("prior_weight", "-1"),
            ("random_state", "x"),
        ]);
        let errors = validate("multivariate-tpe", &s, &space(), 1);
        let got: Vec<(&str, &str)> = errors
            .iter()
            .map(|e| (e.path.as_str(), e.message.as_str()))
            .collect();
        assert_eq!(got.len(), 4, "{errors:?}");
        assert_eq!(
            got[0],
            (
                "spec.algorithm.algorithmSettings[0].value",
                "n_startup_trials must be a non-negative integer, got \"ten\""
            )
        );
        assert_eq!(got[1].0, "spec.algorithm.algorithmSettings[1].name");
        assert!(
            got[1].1.contains("did you mean \"n_ei_candidates\"?"),
            "{}",
            got[1].1
        );
        assert_eq!(
            got[2],
            (
                "spec.algorithm.algorithmSettings[2].value",
                "prior_weight must be a positive number, got \"-1\""
            )
        );
        assert_eq!(got[3].0, "spec.algorithm.algorithmSettings[3].value");
        // Other algorithms do not take TPE's settings.
        let e = only(validate(
            "sobol",
            &settings(&[("gamma", "0.1")]),
            &space(),
            1,
        ));
        assert_eq!(e.path, "spec.algorithm.algorithmSettings[0].name");
        assert!(e.message.contains("(accepted: random_state)"), "{e}");
    }

    #[test]
    fn sobol_rejects_more_parameters_than_dimensions() {
        let mut wide = SearchSpace::default();
        for i in 0..=crate::sobol::MAX_DIMENSIONS {
            wide.parameters.push(Parameter {
                name: format!("p{i}"),
                domain: Domain::Int {
                    min: 0,
                    max: 1,
                    step: None,
                    distribution: Distribution::Uniform,
                },
            });
        }
        let e = only(validate("sobol", &[], &wide, 1));
        assert_eq!(e.path, "spec.parameters");
        assert!(
            e.message.contains("at most 256 parameters") && e.message.contains("got 257"),
            "{e}"
        );
        assert!(validate("tpe", &[], &wide, 1).is_empty());
        assert!(build(ctx("sobol", wide, vec![])).is_err());
    }

    #[test]
    fn new_algorithms_build_and_suggest_inside_the_space() {
        for name in [
            "sobol",
            "tpe",
            "multivariate-tpe",
            "bayesianoptimization",
            "nsga2",
        ] {
            let mut a = build(ctx(name, space(), settings(&[("random_state", "1")]))).unwrap();
            assert!(!a.needs_intermediate() && a.state().is_none());
            let Suggestions::Assignments(batch) = a.suggest(&[], 5).unwrap() else {
                panic!("{name} exhausted");
            };
            assert_eq!(batch.len(), 5);
            assert!(batch.iter().all(|x| space().contains(x)), "{name}");
        }
    }
    #[test]
    fn nsga2_settings_are_checked_at_their_values() {
        let good = settings(&[
            ("population_size", "20"),
            ("mutation_prob", "None"),
            ("crossover_prob", "0.8"),
            ("swapping_prob", "0.4"),
            ("random_state", "5"),
        ]);
        assert!(validate("nsga2", &good, &space(), 1).is_empty());
        assert!(validate("nsga2", &good, &space(), 3).is_empty());
        let s = settings(&[
            ("population_size", "1"),
            ("mutation_prob", "2"),
            ("crosover_prob", "0.5"),
        ]);
        let errors = validate("nsga2", &s, &space(), 2);
        let paths: Vec<&str> = errors.iter().map(|e| e.path.as_str()).collect();
        assert_eq!(
            paths,
            [
                "spec.algorithm.algorithmSettings[0].value",
                "spec.algorithm.algorithmSettings[1].value",
                "spec.algorithm.algorithmSettings[2].name",
            ]
        );
        assert!(
            errors[0].message.contains("population_size must be"),
            "{}",
            errors[0]
        );
        assert!(
            errors[2]
                .message
                .contains("did you mean \"crossover_prob\"?"),
            "{}",
            errors[2]
        );
        let err = build(ctx("nsga2", space(), s)).err().unwrap();
        assert!(matches!(err, AlgorithmError::Settings(_)));
    }

    #[test]
    fn several_objectives_go_to_the_algorithms_that_take_them() {
        for name in ["random", "grid", "sobol", "multivariate-tpe", "nsga2"] {
            let s = if name == "grid" {
                grid_space()
            } else {
                space()
            };
            assert!(validate(name, &[], &s, 2).is_empty(), "{name}");
            let mut c = ctx(name, s.clone(), vec![]);
            c.objectives = vec![ObjectiveType::Minimize, ObjectiveType::Maximize];
            let mut a = build(c).unwrap();
            let Suggestions::Assignments(batch) = a.suggest(&[], 3).unwrap() else {
                panic!("{name} exhausted");
            };
            assert!(batch.iter().all(|x| s.contains(x)), "{name}");
        }
        let e = only(validate("tpe", &[], &space(), 2));
        assert!(
            e.message
                .contains("use multivariate-tpe or nsga2 (or random, grid, sobol)"),
            "{e}"
        );
    }

    #[test]
    fn hyperband_and_bohb_are_built_with_their_settings_and_notes() {
        let mut s = space();
        s.parameters.push(Parameter {
            name: "epochs".into(),
            domain: Domain::Int {
                min: 1,
                max: 27,
                step: None,
                distribution: Distribution::Uniform,
            },
        });
        let good = settings(&[
            ("resource_name", "epochs"),
            ("eta", "3"),
            ("r_l", "9"),
            ("random_state", "4"),
        ]);
        for name in ["hyperband", "bohb"] {
            assert!(validate(name, &good, &s, 1).is_empty(), "{name}");
            let notes = notes(name, &good);
            assert!(notes[0].contains("22 trials per cycle"), "{notes:?}");
            let mut a = build(ctx(name, s.clone(), good.clone())).unwrap();
            assert!(!a.needs_intermediate() && a.state().is_none());
            let Suggestions::Trials(t) = a.suggest(&[], 20).unwrap() else {
                panic!("{name} gives labelled trials");
            };
            // The cycle's first rungs: 9 at 1 epoch, 5 at 3, 3 at 9.
            assert_eq!(t.len(), 17, "{name}");
            assert!(t.iter().all(|t| s.contains(&t.parameters)));
            let e = only(validate(name, &good, &s, 2));
            assert!(e.message.contains("optimises a single objective"), "{e}");
            // The resource must be a parameter, and the required settings present.
            let e = only(validate(name, &good, &space(), 1));
            assert_eq!(e.path, "spec.algorithm.algorithmSettings[0].value");
            assert!(
                e.message.contains("not a parameter of the search space"),
                "{e}"
            );
            let errors = validate(name, &settings(&[("etta", "3")]), &s, 1);
            let paths: Vec<&str> = errors.iter().map(|e| e.path.as_str()).collect();
            assert_eq!(
                paths,
                [
                    "spec.algorithm.algorithmSettings[0].name",
                    "spec.algorithm.algorithmSettings",
                    "spec.algorithm.algorithmSettings",
                ],
                "{errors:?}"
            );
            assert!(
                errors[0].message.contains("did you mean \"eta\"?"),
                "{}",
                errors[0]
            );
            assert!(build(ctx(name, s.clone(), vec![])).is_err());
        }
        let e = only(validate(
            "hyperband",
            &settings(&[
                ("resource_name", "epochs"),
                ("r_l", "9"),
                ("top_n_percent", "10"),
            ]),
            &s,
            1,
        ));
        assert!(
            e.message.contains("unknown setting \"top_n_percent\""),
            "{e}"
        );
        assert_eq!(
            notes("bohb", &settings(&[("bandwidth_factor", "3")])).len(),
            1
        );
    }

    #[test]
    fn pbt_is_built_with_its_settings_and_notes() {
        let good = settings(&[
            ("n_population", "5"),
            ("truncation_threshold", "0.2"),
            ("resample_probability", "None"),
            ("perturbation_interval", "3"),
            ("suggestion_trial_dir", "/var/log/katib/checkpoints/"),
            ("random_state", "1"),
        ]);
        assert!(validate("pbt", &good, &space(), 1).is_empty());
        let notes = notes("pbt", &good);
        assert_eq!(notes.len(), 1);
        assert!(notes[0].contains("suggestion_trial_dir"), "{notes:?}");
        let mut p = build(ctx("pbt", space(), good)).unwrap();
        assert!(p.needs_intermediate() && p.state().is_none());
        let Suggestions::Trials(t) = p.suggest(&[], 9).unwrap() else {
            panic!("pbt gives labelled trials");
        };
        assert_eq!(t.len(), 5);
        assert!(t.iter().all(|t| space().contains(&t.parameters)));
        let s = settings(&[("n_population", "1"), ("truncaton_threshold", "0.2")]);
        let paths: Vec<String> = validate("pbt", &s, &space(), 1)
            .into_iter()
            .map(|e| e.path)
            .collect();
        assert_eq!(
            paths,
            [
                "spec.algorithm.algorithmSettings[0].value",
                "spec.algorithm.algorithmSettings[1].name",
            ]
        );
        assert!(build(ctx("pbt", space(), s)).is_err());
        let e = only(validate("pbt", &[], &space(), 2));
        assert!(e.message.contains("optimises a single objective"), "{e}");
    }
}
