//! The simulation both sides run (`peers.py` has the same one for Optuna): `workers`
//! asynchronous workers replay learning curves. A trial of configuration `c` reports
//! `values[c][k-1]` as step `k` once its `k` steps are done, step `k` taking
//! `step_times[c][k-1]`; each report goes to the stopping rule at once, and a trial that
//! stops, or completes its budget, frees its worker at that moment, which then starts the
//! next piece of work. Events are taken in order of time, ties by worker index; every time
//! is a sum of the curve file's step times in the same order on both sides, so the two
//! schedules agree exactly while the decisions do.
//!
//! What to run comes from a [`Source`]: [`FixedOrder`] starts the configurations in the
//! file's order at their full length (the stopping rules and Optuna's pruners), and
//! [`SearchSource`] asks a ferrotune search algorithm (Katib-style Hyperband or BOHB)
//! for `(configuration, budget)` pairs. At the last step of its budget a trial completes
//! without asking the rule: stopping it there would save nothing.

use crate::curves::CurveSet;
use anyhow::{Result, bail};
use ferrotune_algorithms::stopping::StoppingRule;
use ferrotune_algorithms::{Suggester, Suggestions};
use ferrotune_core::{
    Assignment, Distribution, Domain, Labels, NewTrial, PARENT_LABEL, ParamValue, SearchSpace,
    TrialStatus, TrialView,
};

/// A piece of work: configuration `config` for `budget` steps, from scratch.
#[derive(Debug, Clone, PartialEq)]
pub struct Start {
    pub config: usize,
    pub budget: usize,
    /// What the trial's `TrialView::parameters` hold.
    pub parameters: Assignment,
    /// What its `TrialView::labels` hold (the search algorithm's labels, if any).
    pub labels: Labels,
}

/// What a source has for the idle workers.
#[derive(Debug, Clone, PartialEq)]
pub enum Work {
    /// At most as many starts as there are idle workers (extra ones are dropped).
    Run(Vec<Start>),
    /// Nothing now; ask again when a trial ends (the run ends if none is running).
    Wait,
    /// Nothing ever again.
    Done,
}

/// Where the work comes from.
pub trait Source {
    /// Work for `idle` idle workers, given every trial so far (running ones included).
    fn next(&mut self, history: &[TrialView], idle: usize) -> Result<Work>;

    /// Whether a running trial, its intermediate values just grown, has trained as long as
    /// the source wants, so that it completes now (default: at the end of its budget).
    fn budget_spent(&self, _trial: &TrialView) -> bool {
        false
    }
}

/// The configurations in the file's order, each for the full number of steps.
pub struct FixedOrder {
    configs: Vec<Assignment>,
    next: usize,
    steps: usize,
}

impl FixedOrder {
    pub fn new(curves: &CurveSet) -> Result<FixedOrder> {
        let configs = (0..curves.trials.len())
            .map(|i| curves.assignment(i))
            .collect::<Result<_>>()?;
        Ok(FixedOrder {
            configs,
            next: 0,
            steps: curves.steps,
        })
    }
}

impl Source for FixedOrder {
    fn next(&mut self, _history: &[TrialView], idle: usize) -> Result<Work> {
        if self.next >= self.configs.len() {
            return Ok(Work::Done);
        }
        let end = (self.next + idle).min(self.configs.len());
        let starts = (self.next..end)
            .map(|c| Start {
                config: c,
                budget: self.steps,
                parameters: self.configs[c].clone(),
                labels: Labels::new(),
            })
            .collect();
        self.next = end;
        Ok(Work::Run(starts))
    }
}

/// A ferrotune search algorithm that proposes `(configuration, budget)` pairs, Katib's
/// Hyperband style: its space is the configurations' parameters plus an int resource
/// parameter in `[1, steps]` whose value in each suggestion is the trial's budget (a
/// fractional value is rounded up, then clamped to `[1, steps]`; without one, the budget
/// is all the steps, and the algorithm may end the trial earlier through
/// `Suggester::budget_spent`).
///
/// The configurations are the file's, as for every other strategy: a suggestion whose
/// parameters equal those of a configuration already started is that configuration again
/// (a promotion: trained again from scratch to its new budget, as a new Katib trial would
/// be, unless its `PARENT_LABEL` names an earlier trial of the same configuration, whose
/// checkpoint it then resumes from); any other suggestion becomes the nearest
/// configuration not yet started (distance in the space scaled to [0, 1] per parameter,
/// log scale for log-uniform ones, 1 for a different categorical value; ties to the lower
/// index), and the trial's parameters are that configuration's, so the algorithm sees what
/// really ran. Once all configurations are started, suggestions of new ones are dropped.
pub struct SearchSource {
    suggester: Box<dyn Suggester>,
    resource: String,
    steps: usize,
    space: SearchSpace,
    configs: Vec<Assignment>,
    started: Vec<bool>,
    /// Suggestions dropped because every configuration was started.
    pub dropped: usize,
}

impl SearchSource {
    /// `space` is the configurations' (without the resource parameter).
    pub fn new(
        suggester: Box<dyn Suggester>,
        resource: &str,
        curves: &CurveSet,
        space: SearchSpace,
    ) -> Result<SearchSource> {
        let configs: Vec<Assignment> = (0..curves.trials.len())
            .map(|i| curves.assignment(i))
            .collect::<Result<_>>()?;
        Ok(SearchSource {
            suggester,
            resource: resource.to_string(),
            steps: curves.steps,
            space,
            started: vec![false; configs.len()],
            configs,
            dropped: 0,
        })
    }

    /// The budget a resource value asks for.
    fn budget(&self, v: Option<&ParamValue>) -> Result<usize> {
        let Some(v) = v else {
            return Ok(self.steps);
        };
        let Some(x) = v.as_f64() else {
            bail!(
                "a suggestion's resource parameter {:?} is not a number: {v}",
                self.resource
            );
        };
        Ok((x - 1e-9).ceil().clamp(1.0, self.steps as f64) as usize)
    }

    /// The configuration a suggestion stands for, if one is left.
    fn config_of(&self, a: &Assignment) -> Option<usize> {
        let same = |c: &Assignment| c.0.iter().all(|(n, v)| a.get(n) == Some(v));
        if let Some(c) =
            (0..self.configs.len()).find(|&c| self.started[c] && same(&self.configs[c]))
        {
            return Some(c);
        }
        (0..self.configs.len())
            .filter(|&c| !self.started[c])
            .map(|c| (distance(&self.space, a, &self.configs[c]), c))
            .min_by(|x, y| x.0.total_cmp(&y.0).then(x.1.cmp(&y.1)))
            .map(|(_, c)| c)
    }
}

/// Squared distance between two assignments, each parameter scaled to [0, 1] (log scale
/// for log distributions), 1 for differing categorical values; a missing value counts 1.
pub fn distance(space: &SearchSpace, a: &Assignment, b: &Assignment) -> f64 {
    space
        .parameters
        .iter()
        .map(|p| {
            let (Some(x), Some(y)) = (a.get(&p.name), b.get(&p.name)) else {
                return 1.0;
            };
            let scaled = |v: &ParamValue, min: f64, max: f64, log: bool| {
                let v = v.as_f64().unwrap_or(f64::NAN);
                let (v, min, max) = if log {
                    (v.ln(), min.ln(), max.ln())
                } else {
                    (v, min, max)
                };
                if max > min {
                    (v - min) / (max - min)
                } else {
                    0.0
                }
            };
            let d = match &p.domain {
                Domain::Double {
                    min,
                    max,
                    distribution,
                    ..
                } => {
                    let log = matches!(
                        distribution,
                        Distribution::LogUniform | Distribution::LogNormal
                    );
                    scaled(x, *min, *max, log) - scaled(y, *min, *max, log)
                }
                Domain::Int {
                    min,
                    max,
                    distribution,
                    ..
                } => {
                    let log = matches!(
                        distribution,
                        Distribution::LogUniform | Distribution::LogNormal
                    );
                    scaled(x, *min as f64, *max as f64, log)
                        - scaled(y, *min as f64, *max as f64, log)
                }
                _ => {
                    if x == y {
                        0.0
                    } else {
                        1.0
                    }
                }
            };
            if d.is_nan() { 1.0 } else { d * d }
        })
        .sum()
}

impl Source for SearchSource {
    fn budget_spent(&self, trial: &TrialView) -> bool {
        self.suggester.needs_intermediate() && self.suggester.budget_spent(trial).is_some()
    }

    fn next(&mut self, history: &[TrialView], idle: usize) -> Result<Work> {
        let v: Vec<NewTrial> = match self.suggester.suggest(history, idle)? {
            Suggestions::Exhausted => return Ok(Work::Done),
            Suggestions::Wait => return Ok(Work::Wait),
            Suggestions::Assignments(v) => v.into_iter().map(NewTrial::from).collect(),
            Suggestions::Trials(v) => v,
        };
        let mut starts = Vec::new();
        for NewTrial {
            parameters: a,
            labels,
        } in v.into_iter().take(idle)
        {
            let budget = self.budget(a.get(&self.resource))?;
            let Some(config) = self.config_of(&a) else {
                self.dropped += 1;
                continue;
            };
            self.started[config] = true;
            let mut parameters = self.configs[config].clone();
            if let Some(resource) = a.get(&self.resource) {
                parameters.0.push((self.resource.clone(), resource.clone()));
            }
            starts.push(Start {
                config,
                budget,
                parameters,
                labels,
            });
        }
        Ok(if starts.is_empty() {
            Work::Wait
        } else {
            Work::Run(starts)
        })
    }
}

/// What one simulated run did.
#[derive(Debug, Clone, PartialEq)]
pub struct Outcome {
    /// Steps reported, over all trials.
    pub steps: u64,
    /// When the last worker went idle.
    pub makespan: f64,
    pub trials: usize,
    /// Distinct configurations started.
    pub configs_tried: usize,
    /// Trials that reached the problem's last step.
    pub full_runs: usize,
    /// Trials the rule stopped.
    pub stopped: usize,
    /// The best true final value among configurations that reached the last step, and
    /// which.
    pub best: Option<(f64, usize)>,
    /// Whether the source still had work when the run ended (nothing running, and it
    /// proposed only what could not run).
    pub stalled: bool,
}

/// A trial's place in the simulation.
struct Trial {
    config: usize,
    budget: usize,
    /// The step of its next report.
    next_step: usize,
}

struct Running {
    trial: usize,
    next_time: f64,
}

/// The next report: the running trial with the earliest next report, ties to the lower
/// worker index, as `(worker, trial, time)`.
fn next_event(running: &[Option<Running>]) -> Option<(usize, usize, f64)> {
    running
        .iter()
        .enumerate()
        .filter_map(|(w, r)| r.as_ref().map(|r| (w, r.trial, r.next_time)))
        .min_by(|a, b| a.2.total_cmp(&b.2).then(a.0.cmp(&b.0)))
}

/// The simulation's state.
struct Engine<'a> {
    curves: &'a CurveSet,
    history: Vec<TrialView>,
    trials: Vec<Trial>,
    running: Vec<Option<Running>>,
    /// The source said `Done`.
    done: bool,
    /// The source said `Wait` with every worker idle.
    stalled: bool,
}

impl Engine<'_> {
    /// Gives the idle workers (in index order) what `source` has, at time `t`.
    fn fill(&mut self, t: f64, source: &mut dyn Source) -> Result<()> {
        let idle: Vec<usize> = (0..self.running.len())
            .filter(|&w| self.running[w].is_none())
            .collect();
        if idle.is_empty() || self.done {
            return Ok(());
        }
        match source.next(&self.history, idle.len())? {
            Work::Done => self.done = true,
            Work::Wait => self.stalled = idle.len() == self.running.len(),
            Work::Run(starts) => {
                self.stalled = false;
                for (w, s) in idle.into_iter().zip(starts) {
                    self.start(w, t, s)?;
                }
            }
        }
        Ok(())
    }

    fn start(&mut self, worker: usize, t: f64, s: Start) -> Result<()> {
        let steps = self.curves.steps;
        if s.config >= self.curves.trials.len() || s.budget == 0 || s.budget > steps {
            bail!("the source asked for {s:?}, outside the problem");
        }
        // A trial whose parent (PARENT_LABEL) is a trial of the same configuration starts
        // from that trial's checkpoint: its first report is the step after the parent's
        // last one.
        let resumed = s
            .labels
            .get(PARENT_LABEL)
            .and_then(|parent| self.history.iter().position(|h| &h.name == parent))
            .filter(|&p| self.trials[p].config == s.config)
            .map_or(0, |p| self.trials[p].next_step - 1);
        let first = if resumed < s.budget { resumed + 1 } else { 1 };
        let trial = self.history.len();
        self.history.push(TrialView {
            name: format!("trial-{trial}"),
            parameters: s.parameters,
            status: TrialStatus::Running,
            objective: None,
            objectives: Vec::new(),
            intermediate: Vec::new(),
            labels: s.labels,
        });
        self.trials.push(Trial {
            config: s.config,
            budget: s.budget,
            next_step: first,
        });
        self.running[worker] = Some(Running {
            trial,
            next_time: t + self.curves.trials[s.config].step_times[first - 1],
        });
        Ok(())
    }
}

/// Runs `source`'s work on `workers` workers over `curves`, with `rule` (if any) judging
/// every report. A trial completes (Succeeded) at the last step of its budget, or when the
/// source's [`Source::budget_spent`] says so; else the rule may stop it (EarlyStopped).
pub fn simulate(
    curves: &CurveSet,
    workers: usize,
    source: &mut dyn Source,
    mut rule: Option<&mut dyn StoppingRule>,
) -> Result<Outcome> {
    let mut e = Engine {
        curves,
        history: Vec::new(),
        trials: Vec::new(),
        running: (0..workers).map(|_| None).collect(),
        done: false,
        stalled: false,
    };
    let mut steps = 0u64;
    let mut makespan = 0.0f64;
    let mut stopped = 0;
    let mut tried = vec![false; curves.trials.len()];

    e.fill(0.0, source)?;
    while let Some((w, trial, t)) = next_event(&e.running) {
        let Trial {
            config,
            budget,
            next_step: k,
        } = e.trials[trial];
        let curve = &curves.trials[config];
        let value = curve.values[k - 1];
        e.history[trial].intermediate.push((k as i64, value));
        e.trials[trial].next_step = k + 1;
        tried[config] = true;
        steps += 1;
        let finished = if k == budget || source.budget_spent(&e.history[trial]) {
            e.history[trial].status = TrialStatus::Succeeded;
            true
        } else if let Some(rule) = rule.as_deref_mut()
            && rule.should_stop(&e.history[trial], &e.history).is_some()
        {
            e.history[trial].status = TrialStatus::EarlyStopped;
            stopped += 1;
            true
        } else {
            e.running[w].as_mut().expect("running").next_time = t + curve.step_times[k];
            false
        };
        if finished {
            e.history[trial].objective = Some(value);
            e.running[w] = None;
            makespan = t;
            e.fill(t, source)?;
        }
    }

    let full: Vec<usize> = (0..e.history.len())
        .filter(|&i| e.trials[i].next_step == curves.steps + 1)
        .map(|i| e.trials[i].config)
        .collect();
    let best = full
        .iter()
        .map(|&c| (curves.trials[c].final_value, c))
        .min_by(|x, y| x.0.total_cmp(&y.0).then(x.1.cmp(&y.1)));
    Ok(Outcome {
        steps,
        makespan,
        trials: e.history.len(),
        configs_tried: tried.iter().filter(|&&t| t).count(),
        full_runs: full.len(),
        stopped,
        best,
        stalled: e.stalled && !e.done,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::curves::{CurveSet, synthetic};
    use ferrotune_algorithms::AlgorithmError;
    use ferrotune_algorithms::stopping::{RuleContext, build_rule};
    use ferrotune_core::ObjectiveType;

    /// Three configurations of 4 steps: times 1, 2 and 0.5 per step.
    fn tiny() -> CurveSet {
        let mut set = synthetic::generate(0, 3, 4);
        for (c, dt) in set.trials.iter_mut().zip([1.0, 2.0, 0.5]) {
            c.step_times = vec![dt; 4];
        }
        set.trials[0].values = vec![4.0, 3.0, 2.0, 1.0];
        set.trials[1].values = vec![9.0, 9.0, 9.0, 9.0];
        set.trials[2].values = vec![5.0, 4.0, 3.0, 2.0];
        set.trials[0].final_value = 1.0;
        set.trials[1].final_value = 9.0;
        set.trials[2].final_value = 2.0;
        set
    }

    #[test]
    fn without_a_rule_every_configuration_runs_its_steps() {
        let set = tiny();
        // Two workers: configurations 0 (4 × 1) and 1 (4 × 2) start at 0; 2 (4 × 0.5)
        // starts when 0 ends at 4, and ends at 6; 1 ends at 8.
        let out = simulate(&set, 2, &mut FixedOrder::new(&set).unwrap(), None).unwrap();
        assert_eq!(out.steps, 12);
        assert_eq!(out.makespan, 8.0);
        assert_eq!((out.trials, out.full_runs, out.stopped), (3, 3, 0));
        assert_eq!(out.best, Some((1.0, 0)));
        assert!(!out.stalled);
        // One worker: one after the other.
        let out = simulate(&set, 1, &mut FixedOrder::new(&set).unwrap(), None).unwrap();
        assert_eq!(out.makespan, 4.0 + 8.0 + 2.0);
    }

    /// A rule that stops every trial whose latest value is above 6.
    struct Above6;
    impl StoppingRule for Above6 {
        fn should_stop(&mut self, trial: &TrialView, history: &[TrialView]) -> Option<String> {
            assert!(history.iter().any(|t| t.name == trial.name));
            assert_eq!(trial.status, TrialStatus::Running);
            (trial.intermediate.last()?.1 > 6.0).then(|| "above 6".into())
        }
    }

    #[test]
    fn a_stopped_trial_frees_its_worker_at_once() {
        let set = tiny();
        // Configuration 1 stops after its first step (at 2); 2 starts then and ends at 4,
        // with 0.
        let mut rule = Above6;
        let out = simulate(
            &set,
            2,
            &mut FixedOrder::new(&set).unwrap(),
            Some(&mut rule),
        )
        .unwrap();
        assert_eq!(out.steps, 4 + 1 + 4);
        assert_eq!(out.makespan, 4.0);
        assert_eq!((out.full_runs, out.stopped), (2, 1));
    }

    #[test]
    fn ferrotune_rules_run_in_the_simulation() {
        let set = synthetic::generate(1, 16, 30);
        let full = simulate(&set, 4, &mut FixedOrder::new(&set).unwrap(), None).unwrap();
        assert_eq!(full.steps, 16 * 30);
        for (name, settings) in [
            ("medianstop", vec![]),
            ("median", vec![]),
            ("asha", vec![("max_t".to_string(), "30".to_string())]),
        ] {
            let mut rule = build_rule(RuleContext {
                rule: name.into(),
                settings,
                objective: ObjectiveType::Minimize,
                seed: 1,
            })
            .unwrap();
            let out = simulate(
                &set,
                4,
                &mut FixedOrder::new(&set).unwrap(),
                Some(rule.as_mut()),
            )
            .unwrap();
            assert!(out.steps < full.steps && out.stopped > 0, "{name}: {out:?}");
            assert!(out.best.is_some() && out.makespan < full.makespan, "{name}");
        }
    }

    /// Synchronous successive halving as a search algorithm, in the Katib style the
    /// `SearchSource` expects: random configurations at budget 1, then the best half again
    /// at budget 2, then the best at 4, then nothing; `Wait` while a rung is unfinished.
    struct ToyHalving {
        space: SearchSpace,
        n: usize,
        proposed: usize,
        rung: Vec<NewTrial>,
        budget: i64,
        state: u64,
        /// Promotions name their parent (`PARENT_LABEL`), so they resume from it.
        resume: bool,
    }

    impl Suggester for ToyHalving {
        fn suggest(
            &mut self,
            history: &[TrialView],
            n: usize,
        ) -> Result<Suggestions, AlgorithmError> {
            let at = |b: i64| {
                history
                    .iter()
                    .filter(move |t| t.parameters.get("budget") == Some(&ParamValue::Int(b)))
            };
            if self.proposed < self.n {
                let mut out = Vec::new();
                while out.len() < n && self.proposed < self.n {
                    self.state = self.state.wrapping_mul(6364136223846793005).wrapping_add(1);
                    let mut a = Vec::new();
                    for p in &self.space.parameters {
                        let u = (self.state >> 11) as f64 / (1u64 << 53) as f64;
                        let v = match &p.domain {
                            Domain::Double { min, max, .. } => {
                                ParamValue::Float(min + u * (max - min))
                            }
                            Domain::Categorical { values } => ParamValue::Str(values[0].clone()),
                            _ => unreachable!(),
                        };
                        a.push((p.name.clone(), v));
                    }
                    a.push(("budget".into(), ParamValue::Int(1)));
                    out.push(Assignment(a));
                    self.proposed += 1;
                }
                return Ok(Suggestions::Assignments(out));
            }
            if self.budget > 4 {
                return Ok(Suggestions::Exhausted);
            }
            let rung: Vec<&TrialView> = at(self.budget).collect();
            if self.rung.is_empty() {
                if rung.iter().any(|t| t.status == TrialStatus::Running)
                    || rung.len() < (self.n >> (self.budget.trailing_zeros()))
                {
                    return Ok(Suggestions::Wait);
                }
                let mut sorted = rung.clone();
                sorted.sort_by(|a, b| a.objective.unwrap().total_cmp(&b.objective.unwrap()));
                self.budget *= 2;
                if self.budget > 4 {
                    return Ok(Suggestions::Exhausted);
                }
                self.rung = sorted[..sorted.len() / 2]
                    .iter()
                    .map(|t| {
                        let mut a = t.parameters.clone();
                        a.0.retain(|(k, _)| k != "budget");
                        a.0.push(("budget".into(), ParamValue::Int(self.budget)));
                        let mut labels = Labels::new();
                        if self.resume {
                            labels.insert(PARENT_LABEL.into(), t.name.clone());
                        }
                        NewTrial {
                            parameters: a,
                            labels,
                        }
                    })
                    .collect();
            }
            let take = n.min(self.rung.len());
            Ok(Suggestions::Trials(self.rung.drain(..take).collect()))
        }
    }

    #[test]
    fn a_search_algorithm_proposes_configurations_and_budgets() {
        let set = synthetic::generate(2, 8, 4);
        let space = set.space().unwrap();
        for resume in [false, true] {
            let toy = ToyHalving {
                space: space.clone(),
                n: 8,
                proposed: 0,
                rung: vec![],
                budget: 1,
                state: 7,
                resume,
            };
            let mut source =
                SearchSource::new(Box::new(toy), "budget", &set, space.clone()).unwrap();
            let out = simulate(&set, 3, &mut source, None).unwrap();
            // 8 configurations at 1 step, 4 at 2, 2 at 4: from scratch, or each promotion
            // resuming from its parent's checkpoint.
            let steps = if resume {
                8 + 4 + 2 * 2
            } else {
                8 + 4 * 2 + 2 * 4
            };
            assert_eq!(out.steps, steps, "resume {resume}");
            assert_eq!((out.trials, out.configs_tried, out.full_runs), (14, 8, 2));
            assert!(out.best.is_some() && !out.stalled);
            assert_eq!(source.dropped, 0);
        }
    }

    /// Random configurations without a resource parameter, each ended by `budget_spent`
    /// after 3 steps.
    struct ThreeSteps(Vec<Assignment>);

    impl Suggester for ThreeSteps {
        fn suggest(
            &mut self,
            _history: &[TrialView],
            n: usize,
        ) -> Result<Suggestions, AlgorithmError> {
            if self.0.is_empty() {
                return Ok(Suggestions::Exhausted);
            }
            let take = n.min(self.0.len());
            Ok(Suggestions::Assignments(self.0.drain(..take).collect()))
        }

        fn needs_intermediate(&self) -> bool {
            true
        }

        fn budget_spent(&self, trial: &TrialView) -> Option<String> {
            (trial.intermediate.len() >= 3).then(|| "three steps".into())
        }
    }

    #[test]
    fn an_algorithm_may_end_trials_by_their_budget_spent() {
        let set = synthetic::generate(5, 6, 10);
        let space = set.space().unwrap();
        let proposals = (0..6).map(|i| set.assignment(i).unwrap()).collect();
        let mut source =
            SearchSource::new(Box::new(ThreeSteps(proposals)), "budget", &set, space).unwrap();
        let out = simulate(&set, 2, &mut source, None).unwrap();
        assert_eq!((out.steps, out.trials, out.full_runs), (18, 6, 0));
        assert_eq!(out.best, None);
    }

    #[test]
    fn suggestions_snap_to_the_nearest_unstarted_configuration() {
        let set = synthetic::generate(4, 10, 4);
        let space = set.space().unwrap();
        let a = set.assignment(6).unwrap();
        assert_eq!(distance(&space, &a, &a), 0.0);
        let b = set.assignment(2).unwrap();
        assert!(distance(&space, &a, &b) > 0.0);
    }
}
