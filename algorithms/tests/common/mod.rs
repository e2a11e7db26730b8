//! Search spaces generated for property tests: every parameter type, every distribution,
//! optional steps, and degenerate domains (a single value), shared by the algorithms'
//! in-space properties; and the checks and simulated trial fates those properties share.
#![allow(dead_code)]

use ferrotune_core::{
    Assignment, Distribution, Domain, ParamValue, Parameter, SearchSpace, TrialStatus, TrialView,
};
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

/// Every suggestion lies inside the space and has finite numbers.
pub fn assert_valid(space: &SearchSpace, a: &Assignment) {
    assert!(space.contains(a), "{a:?} is not in {space:?}");
    for (name, v) in &a.0 {
        if let ParamValue::Float(x) = v {
            assert!(x.is_finite(), "{name} = {x}");
        }
    }
}

/// A small deterministic generator for the simulated trials' fates.
pub fn next(state: &mut u64) -> u64 {
    *state = state
        .wrapping_mul(6_364_136_223_846_793_005)
        .wrapping_add(1_442_695_040_888_963_407);
    *state >> 33
}

/// What a finished trial reports: mostly a value derived from its parameters, sometimes a
/// failure or an odd value.
pub fn finish(t: &mut TrialView, rng: &mut u64) {
    let value: f64 = t
        .parameters
        .0
        .iter()
        .map(|(_, v)| v.as_f64().unwrap_or(1.0).abs().ln_1p())
        .sum();
    let (status, objective) = match next(rng) % 12 {
        0 => (TrialStatus::Failed, None),
        1 => (TrialStatus::Killed, None),
        2 => (TrialStatus::MetricsUnavailable, None),
        3 => (TrialStatus::EarlyStopped, Some(value)),
        4 => (TrialStatus::Succeeded, Some(f64::NAN)),
        5 => (TrialStatus::Succeeded, Some(f64::INFINITY)),
        6 => (TrialStatus::Succeeded, Some(1.0)),
        _ => (TrialStatus::Succeeded, Some(value)),
    };
    t.status = status;
    t.objective = objective;
}
