//! Fixtures shared by the algorithms' unit tests.

use ferrotune_core::{Distribution, Domain, ParamValue, Parameter, SearchSpace};

/// One parameter of every kind: a log-uniform double, a stepped normal double, a stepped
/// log-normal int, a discrete list, a categorical with `categories`, and a fixed int.
pub(crate) fn every_kind(categories: &[&str]) -> SearchSpace {
    let p = |name: &str, domain| Parameter {
        name: name.into(),
        domain,
    };
    SearchSpace {
        parameters: vec![
            p(
                "lr",
                Domain::Double {
                    min: 1e-5,
                    max: 1.0,
                    step: None,
                    distribution: Distribution::LogUniform,
                },
            ),
            p(
                "m",
                Domain::Double {
                    min: 0.0,
                    max: 1.0,
                    step: Some(0.1),
                    distribution: Distribution::Normal,
                },
            ),
            p(
                "layers",
                Domain::Int {
                    min: 1,
                    max: 64,
                    step: Some(3),
                    distribution: Distribution::LogNormal,
                },
            ),
            p(
                "batch",
                Domain::Discrete {
                    values: vec![ParamValue::Int(16), ParamValue::Float(32.5)],
                },
            ),
            p(
                "opt",
                Domain::Categorical {
                    values: categories.iter().map(|c| c.to_string()).collect(),
                },
            ),
            p(
                "fixed",
                Domain::Int {
                    min: 3,
                    max: 3,
                    step: None,
                    distribution: Distribution::Uniform,
                },
            ),
        ],
    }
}
