//! Search spaces generated for property tests: every parameter type, every distribution,
//! optional steps, and degenerate domains (a single value), shared by the algorithms'
//! in-space properties.
#![allow(dead_code)]

use ferrotune_core::{Distribution, Domain, ParamValue, Parameter, SearchSpace};
use proptest::prelude::*;

pub fn distribution() -> impl Strategy<Value = Distribution> {
    prop_oneof![
        Just(Distribution::Uniform),
        Just(Distribution::LogUniform),
        Just(Distribution::Normal),
        Just(Distribution::LogNormal),
    ]
}

/// A double with valid bounds: positive min for the log distributions; a step (when
/// present) no larger than the range; sometimes a single value.
pub fn double() -> impl Strategy<Value = Domain> {
    (
        distribution(),
        -1e6f64..1e6,
        1e-6f64..1e6,
        prop_oneof![Just(0.0), 1e-3f64..1e6],
        prop::option::of(1e-3f64..=1.0),
    )
        .prop_map(|(distribution, min, pos_min, span, step)| {
            let min = if distribution.is_log() { pos_min } else { min };
            Domain::Double {
                min,
                max: min + span,
                step: step.map(|fraction| (span * fraction).max(1e-3)),
                distribution,
            }
        })
}

pub fn int() -> impl Strategy<Value = Domain> {
    (
        distribution(),
        -1_000_000i64..1_000_000,
        1i64..1_000_000,
        prop_oneof![Just(0i64), 1i64..30, 1i64..1_000_000],
        prop::option::of(1i64..1_000_000),
    )
        .prop_map(|(distribution, min, pos_min, span, step)| {
            let min = if distribution.is_log() { pos_min } else { min };
            Domain::Int {
                min,
                max: min + span,
                step: step.map(|s| s.min(span).max(1)),
                distribution,
            }
        })
}

pub fn discrete() -> impl Strategy<Value = Domain> {
    prop::collection::vec(
        prop_oneof![
            (-1000i64..1000).prop_map(ParamValue::Int),
            (-1e6f64..1e6).prop_map(ParamValue::Float),
        ],
        1..6,
    )
    .prop_map(|values| Domain::Discrete { values })
}

pub fn categorical() -> impl Strategy<Value = Domain> {
    prop::collection::vec("[a-z]{1,6}", 1..5).prop_map(|values| Domain::Categorical { values })
}

pub fn space() -> impl Strategy<Value = SearchSpace> {
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
