//! Early-stopping rules on simulated sweeps, through the public API the controller uses:
//! trials report step by step in an interleaved (asynchronous) order and the rule is asked
//! after every report.

use ferrotune_algorithms::stopping::{RuleContext, StoppingRule, build_rule};
use ferrotune_core::{Assignment, ObjectiveType, TrialStatus, TrialView};
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;

fn settings(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn rule(
    name: &str,
    pairs: &[(&str, &str)],
    objective: ObjectiveType,
    seed: u64,
) -> Box<dyn StoppingRule> {
    build_rule(RuleContext {
        rule: name.into(),
        settings: settings(pairs),
        objective,
        seed,
    })
    .unwrap()
}

fn trial(name: &str) -> TrialView {
    TrialView {
        name: name.into(),
        parameters: Assignment::default(),
        status: TrialStatus::Running,
        objective: None,
        objectives: Vec::new(),
        intermediate: Vec::new(),
        labels: Default::default(),
    }
}

/// A configuration's learning curve: a noisy power law down to its asymptote.
struct Config {
    asymptote: f64,
    scale: f64,
    rate: f64,
}

impl Config {
    fn draw(rng: &mut ChaCha8Rng) -> Config {
        Config {
            asymptote: rng.random_range(0.1..1.0),
            scale: rng.random_range(1.0..1.2),
            rate: rng.random_range(0.5..0.6),
        }
    }

    fn value(&self, step: i64, rng: &mut ChaCha8Rng) -> f64 {
        // Box-Muller: noise with standard deviation 0.02.
        let (u, v): (f64, f64) = (rng.random_range(1e-12..1.0), rng.random());
        let noise = (-2.0 * u.ln()).sqrt() * (std::f64::consts::TAU * v).cos() * 0.02;
        self.asymptote + self.scale * (step as f64).powf(-self.rate) + noise
    }
}

struct Outcome {
    /// Reports consumed by all trials.
    steps: usize,
    /// Trials that reached max_t.
    finished: Vec<usize>,
    best: usize,
}

/// 60 trials, 8 at a time, each reporting steps 1, 2, ... up to `max_t`; after each report
/// (from a running trial picked at random) the rule decides.
fn simulate(rule: &mut dyn StoppingRule, seed: u64, max_t: i64) -> Outcome {
    const TRIALS: usize = 60;
    const PARALLEL: usize = 8;
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let configs: Vec<Config> = (0..TRIALS).map(|_| Config::draw(&mut rng)).collect();
    let best = (0..TRIALS)
        .min_by(|a, b| configs[*a].asymptote.total_cmp(&configs[*b].asymptote))
        .unwrap();
    let mut history: Vec<TrialView> = Vec::new();
    let mut running: Vec<usize> = Vec::new();
    let mut finished = Vec::new();
    let mut steps = 0;
    loop {
        while running.len() < PARALLEL && history.len() < TRIALS {
            running.push(history.len());
            history.push(trial(&format!("trial-{}", history.len())));
        }
        if running.is_empty() {
            break;
        }
        let slot = rng.random_range(0..running.len());
        let i = running[slot];
        let step = history[i].intermediate.len() as i64 + 1;
        let value = configs[i].value(step, &mut rng);
        history[i].intermediate.push((step, value));
        steps += 1;
        let spent = rule.budget_spent(&history[i]);
        let decision = spent
            .is_none()
            .then(|| rule.should_stop(&history[i], &history));
        let end = match decision {
            None => {
                finished.push(i);
                Some(TrialStatus::Succeeded)
            }
            Some(Some(_)) => Some(TrialStatus::EarlyStopped),
            Some(None) if step >= max_t => {
                finished.push(i);
                Some(TrialStatus::Succeeded)
            }
            Some(None) => None,
        };
        if let Some(status) = end {
            history[i].status = status;
            history[i].objective = Some(value);
            running.swap_remove(slot);
        }
    }
    Outcome {
        steps,
        finished,
        best,
    }
}

/// ASHA with Ray's defaults (grace 1, rf 4, max_t 100) over 20 seeds: in every seed it
/// spends under 40% of the steps that running every trial to max_t costs (about 8% on
/// average, asserted under 20%), and the configuration with the best asymptote reaches max_t in at least 16 of 20
/// seeds.
#[test]
fn asha_saves_most_steps_and_keeps_the_best_configuration() {
    const SEEDS: u64 = 20;
    let full = 60.0 * 100.0;
    let mut fractions = Vec::new();
    let mut kept = 0;
    for seed in 0..SEEDS {
        let mut asha = rule("asha", &[], ObjectiveType::Minimize, seed);
        let out = simulate(asha.as_mut(), seed, 100);
        let fraction = out.steps as f64 / full;
        assert!(fraction < 0.4, "seed {seed}: {fraction}");
        assert!(
            !out.finished.is_empty(),
            "seed {seed}: no trial reached max_t"
        );
        fractions.push(fraction);
        kept += usize::from(out.finished.contains(&out.best));
    }
    let mean = fractions.iter().sum::<f64>() / fractions.len() as f64;
    eprintln!("asha: mean fraction of steps {mean:.3} {fractions:.2?}; best kept {kept}/{SEEDS}");
    assert!(mean < 0.2, "{mean}");
    assert!(
        kept >= 16,
        "the best configuration reached max_t in {kept} of {SEEDS} seeds"
    );
}

/// The same simulation with several brackets and maximisation (the curves negated).
#[test]
fn asha_with_brackets_and_maximisation_still_saves_steps() {
    for seed in 0..5 {
        let mut asha = rule(
            "asha",
            &[
                ("brackets", "3"),
                ("reduction_factor", "3"),
                ("max_t", "81"),
            ],
            ObjectiveType::Maximize,
            seed,
        );
        let mut negated = Negate(asha.as_mut());
        let out = simulate(&mut negated, seed, 81);
        let fraction = out.steps as f64 / (60.0 * 81.0);
        assert!(fraction < 0.6, "seed {seed}: {fraction}");
        assert!(!out.finished.is_empty());
    }
}

/// Shows a maximising rule the negated curves (so that the simulation stays minimising).
struct Negate<'a>(&'a mut dyn StoppingRule);

impl StoppingRule for Negate<'_> {
    fn should_stop(&mut self, trial: &TrialView, history: &[TrialView]) -> Option<String> {
        let flip = |t: &TrialView| TrialView {
            intermediate: t.intermediate.iter().map(|(s, v)| (*s, -v)).collect(),
            labels: Default::default(),
            objective: t.objective.map(|v| -v),
            ..t.clone()
        };
        let history: Vec<TrialView> = history.iter().map(flip).collect();
        self.0.should_stop(&flip(trial), &history)
    }
}

/// medianstop after its start step: a clearly bad curve stops at step 4 (not before), a
/// clearly good one runs to the end.
#[test]
fn medianstop_stops_a_bad_curve_and_keeps_a_good_one() {
    let mut r = rule("medianstop", &[], ObjectiveType::Minimize, 0);
    let mut rng = ChaCha8Rng::seed_from_u64(3);
    let mut history: Vec<TrialView> = (0..5)
        .map(|i| {
            let c = Config {
                asymptote: 0.4 + 0.05 * i as f64,
                scale: 1.0,
                rate: 0.5,
            };
            let mut t = trial(&format!("done-{i}"));
            t.intermediate = (0..20).map(|s| (s, c.value(s + 1, &mut rng))).collect();
            t.status = TrialStatus::Succeeded;
            t
        })
        .collect();
    let bad = Config {
        asymptote: 1.5,
        scale: 1.0,
        rate: 0.5,
    };
    let good = Config {
        asymptote: 0.1,
        scale: 1.0,
        rate: 0.5,
    };
    history.push(trial("bad"));
    history.push(trial("good"));
    let (b, g) = (history.len() - 2, history.len() - 1);
    let mut stopped_at = None;
    for s in 0..20 {
        let v = bad.value(s + 1, &mut rng);
        history[b].intermediate.push((s, v));
        if let Some(reason) = r.should_stop(&history[b], &history) {
            assert!(reason.starts_with("medianstop: best value"), "{reason}");
            stopped_at = Some(s);
            break;
        }
    }
    assert_eq!(
        stopped_at,
        Some(4),
        "start_step is 4: the first step it may stop at"
    );
    history[b].status = TrialStatus::EarlyStopped;
    for s in 0..20 {
        let v = good.value(s + 1, &mut rng);
        history[g].intermediate.push((s, v));
        assert_eq!(r.should_stop(&history[g], &history), None, "step {s}");
    }
}
