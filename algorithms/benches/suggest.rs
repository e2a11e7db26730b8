//! Time per suggestion with 100, 500 and 1000 trials of history, in a 6-D continuous space
//! and in a mixed one (3 doubles, 1 int, 1 categorical of 4), for every implemented
//! algorithm but grid (it needs steps) and the schedulers of training runs (hyperband, bohb,
//! pbt: they need a resource parameter and checkpoints). Run: `benches/suggest/run.sh`,
//! which also writes the table into benches/RESULTS.md.

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use ferrotune_algorithms::{AlgorithmContext, IMPLEMENTED, build};
use ferrotune_core::{
    Assignment, Distribution, Domain, ObjectiveType, Parameter, SearchSpace, TrialStatus, TrialView,
};
use std::hint::black_box;

fn double(name: &str) -> Parameter {
    Parameter {
        name: name.into(),
        domain: Domain::Double {
            min: -5.0,
            max: 5.0,
            step: None,
            distribution: Distribution::Uniform,
        },
    }
}

fn spaces() -> Vec<(&'static str, SearchSpace)> {
    let continuous = SearchSpace {
        parameters: (0..6).map(|i| double(&format!("x{i}"))).collect(),
    };
    let mut mixed = SearchSpace {
        parameters: (0..3).map(|i| double(&format!("x{i}"))).collect(),
    };
    mixed.parameters.push(Parameter {
        name: "k".into(),
        domain: Domain::Int {
            min: 1,
            max: 64,
            step: None,
            distribution: Distribution::LogUniform,
        },
    });
    mixed.parameters.push(Parameter {
        name: "c".into(),
        domain: Domain::Categorical {
            values: ["a", "b", "c", "d"].map(String::from).to_vec(),
        },
    });
    vec![("continuous-6d", continuous), ("mixed-5d", mixed)]
}

/// A history of `n` finished trials drawn by random search, scored by a sphere.
fn history(space: &SearchSpace, n: usize) -> Vec<TrialView> {
    let mut random = build(AlgorithmContext {
        algorithm: "random".into(),
        space: space.clone(),
        objectives: vec![ObjectiveType::Minimize],
        seed: 7,
        settings: vec![],
    })
    .expect("random builds");
    let mut out: Vec<TrialView> = Vec::with_capacity(n);
    while out.len() < n {
        let batch = match random.suggest(&out, 50).expect("suggest") {
            ferrotune_algorithms::Suggestions::Trials(_)
            | ferrotune_algorithms::Suggestions::Wait => panic!("unexpected suggestion kind"),
            ferrotune_algorithms::Suggestions::Assignments(a) => a,
            ferrotune_algorithms::Suggestions::Exhausted => unreachable!("random never ends"),
        };
        for a in batch.into_iter().take(n - out.len()) {
            let value = score(&a);
            out.push(TrialView {
                name: format!("t{}", out.len()),
                parameters: a,
                status: TrialStatus::Succeeded,
                objective: Some(value),
                objectives: Vec::new(),
                intermediate: Vec::new(),
                labels: Default::default(),
            });
        }
    }
    out
}

fn score(a: &Assignment) -> f64 {
    a.0.iter()
        .filter_map(|(_, v)| v.as_f64())
        .map(|x| x * x)
        .sum()
}

/// Left out: grid needs stepped doubles; hyperband, bohb and pbt schedule training runs.
const SKIPPED: &[&str] = &["grid", "hyperband", "bohb", "pbt"];

fn bench(c: &mut Criterion) {
    for (space_name, space) in spaces() {
        let mut group = c.benchmark_group(format!("suggest/{space_name}"));
        group.sample_size(20);
        for n in [100, 500, 1000] {
            let h = history(&space, n);
            for algo in IMPLEMENTED.iter().filter(|a| !SKIPPED.contains(a)) {
                let mut s = build(AlgorithmContext {
                    algorithm: (*algo).into(),
                    space: space.clone(),
                    objectives: vec![ObjectiveType::Minimize],
                    seed: 1,
                    settings: vec![],
                })
                .expect("builds with default settings");
                group.bench_with_input(BenchmarkId::new(*algo, n), &h, |b, h| {
                    b.iter(|| black_box(s.suggest(black_box(h), 1).expect("suggest")))
                });
            }
        }
        group.finish();
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
