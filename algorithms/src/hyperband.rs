//! Hyperband (Li et al. 2018), with Katib's settings: `resource_name` names the int or
//! double parameter that is each trial's budget (epochs, say), `r_l` the largest budget of
//! one configuration, `eta` (default 3) the factor between rungs. `min_resource` (default
//! 1, ferrotune's: Optuna's `min_resource`, BOHB's `min_budget`) is the smallest budget a
//! bracket may start with, for curves that say little in their first steps.
//!
//! **The schedule** (Katib's and the paper's): `s_max = ⌊log_eta(r_l / min_resource)⌋`,
//! `B = (s_max + 1)·r_l`.
//! Brackets run for `s = s_max` down to 0; bracket `s` starts `n = ⌈B/r_l · eta^s/(s + 1)⌉`
//! new configurations at budget `r = r_l·eta^(−s)` and runs successive halving: rung `i`
//! (`0..=s`) holds `n_i = ⌊n·eta^(−i)⌋` configurations at `r_i = r·eta^i`, the best
//! `n_(i+1)` of rung `i` going on to rung `i + 1`. For `eta = 3, r_l = 9`: bracket 2 is
//! 9 configurations at 1 → 3 at 3 → 1 at 9, bracket 1 is 5 at 3 → 1 at 9, bracket 0 is 3 at
//! 9: 22 trials a cycle. A trial's budget is written into its `resource_name` parameter,
//! rounded for an int parameter and brought into the parameter's feasible space (its
//! bounds, its step), whatever the random draw gave.
//!
//! **Promotions resume.** A promoted configuration is a new trial with its parent's
//! parameters except the budget, labelled [`PARENT_LABEL`] = the trial it comes from, so
//! that the local runner gives it `FERROTUNE_PARENT_CHECKPOINT_DIR` and its code can go on
//! training from the parent's checkpoint instead of starting again.
//!
//! **State in labels.** Every trial carries [`CYCLE_LABEL`], [`BRACKET_LABEL`] (`s`) and
//! [`RUNG_LABEL`] (`i`), so the whole schedule, and who was promoted from whom, is rebuilt
//! from the history on every call: a restarted controller needs no saved state. Trials
//! without these labels (another algorithm's) are ignored.
//!
//! **Judging a rung.** A rung is judged once every trial in it has finished. Succeeded and
//! EarlyStopped trials count with their value; Failed, MetricsUnavailable and Killed trials
//! (and a NaN value) count as the worst: they rank after every value and are never promoted,
//! so the next rung holds fewer configurations, and a rung where nothing has a value ends
//! its bracket. Failures never leave a bracket stuck.
//!
//! **Keeping workers busy.** Each new trial goes to the oldest bracket that can take one
//! (a promotion, or a new configuration while its rung 0 is not full). When every started
//! bracket is waiting for running trials, the next bracket of the cycle starts at once, so
//! several brackets of a cycle may run side by side (as HpBandSter's BOHB does). The next
//! *cycle* starts only when every bracket of the current one has finished; until then the
//! answer is `Wait`, which is only ever given while some trial is running. So a
//! `maxTrialCount` of whole cycles (22, 44, … above) runs exactly that many complete cycles.
//!
//! **Cycles.** After bracket 0 a new cycle starts with new configurations (as Ray Tune's
//! HyperBand loops), so `maxTrialCount` decides when the experiment ends; Katib's own
//! service instead stops after one cycle.
//!
//! **Randomness.** The new configuration created as history index `k` is random search's
//! `k`-th suggestion (ChaCha8 stream `k` of the seed), so batches give what one suggestion
//! at a time gives, and a resumed experiment continues the same sequence.

use crate::domain::{snap, space_problems};
use crate::{AlgorithmContext, AlgorithmError, RandomSearch, Suggester, Suggestions};
use ferrotune_core::load::did_you_mean;
use ferrotune_core::{
    Assignment, Domain, FieldError, Labels, NewTrial, ObjectiveType, PARENT_LABEL, ParamValue,
    SearchSpace, TrialStatus, TrialView,
};
use std::collections::{BTreeMap, BTreeSet};

/// The settings of Hyperband's schedule, followed by `more`: `hyperband`'s list and the
/// start of `bohb`'s, kept in one place.
macro_rules! schedule_settings {
    ($($more:literal),* $(,)?) => {
        &["resource_name", "eta", "r_l", "min_resource", "random_state", $($more),*]
    };
}
pub(crate) use schedule_settings;

/// Settings `hyperband` accepts (Katib's names, and `min_resource`).
pub const SETTINGS: &[&str] = schedule_settings!();

/// The label with a trial's cycle (0, 1, …: a new cycle starts after the last bracket).
pub const CYCLE_LABEL: &str = "hyperband.ferrotune.io/cycle";
/// The label with a trial's bracket `s` (`s_max` first, down to 0; bracket `s` has `s + 1`
/// rungs).
pub const BRACKET_LABEL: &str = "hyperband.ferrotune.io/bracket";
/// The label with a trial's rung `i` within its bracket (0 for a new configuration).
pub const RUNG_LABEL: &str = "hyperband.ferrotune.io/rung";

/// `eta` when not set (Katib's and the paper's).
pub const DEFAULT_ETA: f64 = 3.0;

/// The most brackets a cycle may have (`s_max + 1`): more means an `eta` so close to 1, or
/// an `r_l` so large, that no cycle would ever end.
pub const MAX_BRACKETS: usize = 64;

const PATH: &str = "spec.algorithm.algorithmSettings";

/// Hyperband's settings.
#[derive(Debug, Clone, PartialEq)]
pub struct HyperbandSettings {
    /// The int or double parameter that receives each trial's budget.
    pub resource_name: String,
    /// The factor between rungs (> 1; default 3).
    pub eta: f64,
    /// The largest budget of one configuration (≥ 1; the smallest is `r_l·eta^(−s_max)`).
    pub r_l: f64,
    /// The smallest budget a configuration may start with (default 1; Optuna's
    /// `min_resource`, BOHB's `min_budget`): `s_max = ⌊log_eta(r_l / min_resource)⌋`, so
    /// no bracket judges configurations on fewer steps than this.
    pub min_resource: f64,
}

impl HyperbandSettings {
    /// The settings of `spec.algorithm.algorithmSettings` for this search space; every
    /// problem is reported with its path. Other algorithms' names are left alone.
    pub fn from_settings(
        settings: &[(String, String)],
        space: &SearchSpace,
    ) -> Result<Self, Vec<FieldError>> {
        let (parsed, errors) = parse("hyperband", settings, space);
        match parsed {
            Some(s) if errors.is_empty() => Ok(s),
            _ => Err(errors),
        }
    }
}

/// Every problem with Hyperband's settings and the search space (for `validate`).
pub(crate) fn settings_problems(
    settings: &[(String, String)],
    space: &SearchSpace,
) -> Vec<FieldError> {
    let (_, mut errors) = parse("hyperband", settings, space);
    errors.extend(space_problems(space));
    errors
}

/// Parses `resource_name`, `eta`, `r_l` and `min_resource` (ignoring other names, which
/// belong to `random_state` or to BOHB); the settings when all is well, and every problem.
pub(crate) fn parse(
    algorithm: &str,
    settings: &[(String, String)],
    space: &SearchSpace,
) -> (Option<HyperbandSettings>, Vec<FieldError>) {
    let mut errors = Vec::new();
    let mut seen: Vec<(&str, usize)> = Vec::new();
    let mut resource_name = None;
    let mut eta = Some(DEFAULT_ETA);
    let mut r_l = None;
    let mut min_resource = Some((1.0, None));
    for (i, (key, value)) in settings.iter().enumerate() {
        let key = key.as_str();
        if !matches!(key, "resource_name" | "eta" | "r_l" | "min_resource") {
            continue;
        }
        let path = format!("{PATH}[{i}]");
        if let Some((_, first)) = seen.iter().find(|(k, _)| *k == key) {
            errors.push(FieldError::new(
                format!("{path}.name"),
                format!("{key} is set more than once (first at {PATH}[{first}])"),
            ));
            continue;
        }
        seen.push((key, i));
        let v = value.trim();
        let mut bad = |message: String| {
            errors.push(FieldError::new(
                format!("{path}.value"),
                format!("{message}, got {value:?}"),
            ))
        };
        match key {
            "eta" => match v.parse::<f64>() {
                Ok(x) if x.is_finite() && x > 1.0 => eta = Some(x),
                _ => {
                    eta = None;
                    bad(
                        "eta must be a number greater than 1 (each rung keeps 1/eta of the \
                         configurations and gives them eta times the resource)"
                            .into(),
                    );
                }
            },
            "r_l" => match v.parse::<f64>() {
                Ok(x) if x.is_finite() && x >= 1.0 => r_l = Some((x, i)),
                _ => bad(
                    "r_l must be a number of at least 1 (the largest resource one \
                          configuration gets; the smallest is r_l / eta^s_max, at least 1)"
                        .into(),
                ),
            },
            "min_resource" => match v.parse::<f64>() {
                Ok(x) if x.is_finite() && x > 0.0 => min_resource = Some((x, Some(i))),
                _ => {
                    min_resource = None;
                    bad(
                        "min_resource must be a number greater than 0 (the smallest resource \
                         a configuration starts with)"
                            .into(),
                    );
                }
            },
            _ => match resource_problem(v, space) {
                None => resource_name = Some(v.to_string()),
                Some(message) => bad(message),
            },
        }
    }
    let given = |key: &str| seen.iter().any(|(k, _)| *k == key);
    if !given("resource_name") {
        errors.push(FieldError::new(
            PATH,
            format!(
                "{algorithm} needs the setting resource_name: the int or double parameter that \
                 receives each trial's budget (e.g. epochs)"
            ),
        ));
    }
    if !given("r_l") {
        errors.push(FieldError::new(
            PATH,
            format!(
                "{algorithm} needs the setting r_l: the largest resource one configuration gets \
                 (e.g. 27 epochs)"
            ),
        ));
    }
    if let (Some((r, _)), Some((min, Some(i)))) = (r_l, min_resource)
        && min > r
    {
        errors.push(FieldError::new(
            format!("{PATH}[{i}].value"),
            format!("min_resource {min} is larger than r_l {r}; it must be at most r_l"),
        ));
    }
    if let (Some(eta), Some((r, i)), Some((min, _))) = (eta, r_l, min_resource) {
        let brackets = s_max(eta, r / min) + 1;
        if brackets > MAX_BRACKETS {
            errors.push(FieldError::new(
                format!("{PATH}[{i}].value"),
                format!(
                    "eta {eta}, r_l {r} and min_resource {min} give more than {MAX_BRACKETS} \
                     brackets per cycle; raise eta or min_resource, or lower r_l"
                ),
            ));
        }
    }
    let parsed = match (resource_name, eta, r_l, min_resource) {
        (Some(resource_name), Some(eta), Some((r_l, _)), Some((min_resource, _)))
            if errors.is_empty() =>
        {
            Some(HyperbandSettings {
                resource_name,
                eta,
                r_l,
                min_resource,
            })
        }
        _ => None,
    };
    (parsed, errors)
}

/// What is wrong with `name` as the resource parameter, if anything.
fn resource_problem(name: &str, space: &SearchSpace) -> Option<String> {
    let Some(p) = space.parameters.iter().find(|p| p.name == name) else {
        let names: Vec<&str> = space.parameters.iter().map(|p| p.name.as_str()).collect();
        let hint = did_you_mean(name, names.iter().copied())
            .map(|s| format!(", did you mean {s:?}?"))
            .unwrap_or_default();
        return Some(format!(
            "resource_name {name:?} is not a parameter of the search space{hint} (parameters: {})",
            names.join(", ")
        ));
    };
    match p.domain {
        Domain::Int { .. } | Domain::Double { .. } => None,
        Domain::Discrete { .. } => Some(format!(
            "resource_name {name:?} is a discrete parameter; the resource must be an int or \
             double parameter"
        )),
        Domain::Categorical { .. } => Some(format!(
            "resource_name {name:?} is a categorical parameter; the resource must be an int or \
             double parameter"
        )),
    }
}

/// What the user should know about the schedule that valid settings give: brackets and
/// trials per cycle, to choose `maxTrialCount`.
pub(crate) fn settings_notes(algorithm: &str, settings: &[(String, String)]) -> Vec<String> {
    let number = |key: &str| {
        settings
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.trim().parse::<f64>().ok())
    };
    let eta = match number("eta") {
        None => DEFAULT_ETA,
        Some(Some(x)) => x,
        Some(_) => return Vec::new(),
    };
    let Some(Some(r_l)) = number("r_l") else {
        return Vec::new();
    };
    let min = match number("min_resource") {
        None => 1.0,
        Some(Some(x)) => x,
        Some(_) => return Vec::new(),
    };
    if !schedule_fits(eta, r_l, min) {
        return Vec::new();
    }
    let brackets = schedule(eta, r_l, min);
    let trials: usize = brackets
        .iter()
        .flat_map(|b| &b.rungs)
        .map(|r| r.configs)
        .sum();
    let shapes: Vec<String> = brackets
        .iter()
        .map(|b| {
            b.rungs
                .iter()
                .map(|r| {
                    format!(
                        "{} at {}",
                        r.configs,
                        (r.resource * 1000.0).round() / 1000.0
                    )
                })
                .collect::<Vec<_>>()
                .join(" → ")
        })
        .collect();
    let given = if number("min_resource").is_some() {
        format!("eta {eta}, r_l {r_l} and min_resource {min}")
    } else {
        format!("eta {eta} and r_l {r_l}")
    };
    vec![format!(
        "{algorithm}: {given} give {} brackets, {trials} trials per cycle ({}); cycles repeat \
         with new configurations, so maxTrialCount decides when the experiment ends (a \
         multiple of {trials} runs whole cycles)",
        brackets.len(),
        shapes.join("; ")
    )]
}

/// Whether `eta`, `r_l` and `min_resource` make a schedule: each in its range, and at
/// most [`MAX_BRACKETS`] brackets.
fn schedule_fits(eta: f64, r_l: f64, min_resource: f64) -> bool {
    eta.is_finite()
        && eta > 1.0
        && r_l.is_finite()
        && r_l >= 1.0
        && min_resource.is_finite()
        && min_resource > 0.0
        && min_resource <= r_l
        && s_max(eta, r_l / min_resource) < MAX_BRACKETS
}

/// `⌊log_eta(ratio)⌋` for `ratio = r_l / min_resource`, counted by multiplication so that
/// exact powers are exact (at most `MAX_BRACKETS`, enough to reject).
fn s_max(eta: f64, ratio: f64) -> usize {
    let (mut s, mut power) = (0, eta);
    while power <= ratio * (1.0 + 1e-9) && s < MAX_BRACKETS {
        s += 1;
        power *= eta;
    }
    s
}

/// One rung of a bracket: how many configurations, at which budget.
#[derive(Debug, Clone, PartialEq)]
pub struct Rung {
    pub configs: usize,
    pub resource: f64,
}

/// One bracket of the schedule: its `s` and its rungs.
#[derive(Debug, Clone, PartialEq)]
pub struct Bracket {
    pub s: usize,
    pub rungs: Vec<Rung>,
}

/// The brackets of one cycle in the order they run (`s = s_max` first), none starting
/// below `min_resource`.
pub fn schedule(eta: f64, r_l: f64, min_resource: f64) -> Vec<Bracket> {
    let s_max = s_max(eta, r_l / min_resource);
    // Exact ratios (9·3/3) must not become 9.000000000000002 and round up.
    let ceil = |x: f64| (x * (1.0 - 1e-12)).ceil().max(0.0) as usize;
    let floor = |x: f64| (x * (1.0 + 1e-12)).floor().max(0.0) as usize;
    (0..=s_max)
        .rev()
        .map(|s| {
            let n = ceil((s_max + 1) as f64 * eta.powi(s as i32) / (s + 1) as f64);
            let rungs = (0..=s)
                .map(|i| Rung {
                    configs: floor(n as f64 / eta.powi(i as i32)),
                    resource: budget(eta, r_l, s - i),
                })
                .take_while(|r| r.configs >= 1)
                .collect();
            Bracket { s, rungs }
        })
        .collect()
}

/// `r_l·eta^(−level)`, an integer when it is one up to rounding noise.
fn budget(eta: f64, r_l: f64, level: usize) -> f64 {
    let r = r_l / eta.powi(level as i32);
    let whole = r.round();
    if (r - whole).abs() <= 1e-9 * r.abs().max(1.0) {
        whole
    } else {
        r
    }
}

/// What became of a trial, as a rung sees it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Outcome {
    /// Created or running: its rung cannot be judged yet.
    Pending,
    /// Finished with this (non-NaN) value.
    Value(f64),
    /// Finished without a value (failed, killed, no metric, NaN): the worst.
    Nothing,
}

/// A trial that belongs to the schedule.
#[derive(Debug, Clone)]
pub(crate) struct Member {
    /// Its index in the history (for a suggestion of the current call, the index it gets).
    pub index: usize,
    pub name: String,
    pub parameters: Assignment,
    pub outcome: Outcome,
    /// The trial it was promoted from.
    pub parent: Option<String>,
    /// Its budget level: `s − i`, 0 for `r_l`.
    pub level: usize,
}

/// The schedule's trials: rungs by (cycle, position of the bracket in the cycle), each in
/// history order.
#[derive(Debug, Clone, Default)]
pub(crate) struct State {
    brackets: BTreeMap<(u64, usize), Vec<Vec<Member>>>,
}

impl State {
    fn add(&mut self, key: (u64, usize), rung: usize, member: Member) {
        let rungs = self.brackets.entry(key).or_default();
        if rungs.len() <= rung {
            rungs.resize_with(rung + 1, Vec::new);
        }
        rungs[rung].push(member);
    }

    /// Every member, bracket by bracket.
    pub(crate) fn members(&self) -> impl Iterator<Item = &Member> {
        self.brackets.values().flatten().flatten()
    }
}

/// What one bracket can do next.
enum Step<'a> {
    New,
    Promote { rung: usize, parent: &'a Member },
    Blocked,
    Finished,
}

/// What the schedule does next.
enum Move {
    New {
        cycle: u64,
        position: usize,
    },
    Promote {
        cycle: u64,
        position: usize,
        rung: usize,
        parent: Member,
    },
    Wait,
}

/// Hyperband's schedule over a search space, shared with BOHB: which trial comes next,
/// given the history; new configurations come from the caller.
#[derive(Debug, Clone)]
pub(crate) struct Engine {
    space: SearchSpace,
    /// The resource parameter's index in the space.
    resource: usize,
    brackets: Vec<Bracket>,
    /// The budget of each level (`r_l·eta^(−level)`).
    budgets: Vec<f64>,
    direction: ObjectiveType,
    pub(crate) random: RandomSearch,
}

impl Engine {
    pub(crate) fn new(
        ctx: &AlgorithmContext,
        settings: &HyperbandSettings,
    ) -> Result<Engine, AlgorithmError> {
        let (eta, r_l, min) = (settings.eta, settings.r_l, settings.min_resource);
        let invalid =
            |message: String| AlgorithmError::Settings(vec![FieldError::new(PATH, message)]);
        if !schedule_fits(eta, r_l, min) {
            return Err(invalid(format!(
                "Hyperband settings out of range: eta {eta}, r_l {r_l}, min_resource {min}"
            )));
        }
        if let Some(message) = resource_problem(&settings.resource_name, &ctx.space) {
            return Err(invalid(message));
        }
        let resource = ctx
            .space
            .parameters
            .iter()
            .position(|p| p.name == settings.resource_name)
            .ok_or_else(|| AlgorithmError::Internal("resource parameter vanished".into()))?;
        let brackets = schedule(eta, r_l, min);
        let budgets = (0..brackets.len()).map(|l| budget(eta, r_l, l)).collect();
        Ok(Engine {
            random: RandomSearch::new(ctx.space.clone(), ctx.seed)?,
            space: ctx.space.clone(),
            resource,
            brackets,
            budgets,
            direction: ctx.objective(),
        })
    }

    /// The brackets of one cycle, in the order they run.
    pub(crate) fn brackets(&self) -> &[Bracket] {
        &self.brackets
    }

    /// The objective's direction.
    pub(crate) fn direction(&self) -> ObjectiveType {
        self.direction
    }

    /// The resource parameter's name.
    pub(crate) fn resource_name(&self) -> &str {
        &self.space.parameters[self.resource].name
    }

    /// The schedule's trials in the history.
    pub(crate) fn state(&self, history: &[TrialView]) -> State {
        let mut state = State::default();
        for (index, t) in history.iter().enumerate() {
            let Some((key, rung, level)) = self.place(&t.labels) else {
                continue;
            };
            let outcome = match t.status {
                TrialStatus::Created | TrialStatus::Running => Outcome::Pending,
                TrialStatus::Succeeded | TrialStatus::EarlyStopped => t
                    .objective
                    .filter(|v| !v.is_nan())
                    .map_or(Outcome::Nothing, Outcome::Value),
                TrialStatus::Failed | TrialStatus::MetricsUnavailable | TrialStatus::Killed => {
                    Outcome::Nothing
                }
            };
            let member = Member {
                index,
                name: t.name.clone(),
                parameters: t.parameters.clone(),
                outcome,
                parent: t.labels.get(PARENT_LABEL).cloned(),
                level,
            };
            state.add(key, rung, member);
        }
        state
    }

    /// Where a trial's labels put it: (cycle, bracket position), rung and budget level;
    /// `None` for labels that are missing or do not fit this schedule.
    fn place(&self, labels: &Labels) -> Option<((u64, usize), usize, usize)> {
        let cycle: u64 = labels.get(CYCLE_LABEL)?.trim().parse().ok()?;
        let s: usize = labels.get(BRACKET_LABEL)?.trim().parse().ok()?;
        let rung: usize = labels.get(RUNG_LABEL)?.trim().parse().ok()?;
        let position = self.brackets.iter().position(|b| b.s == s)?;
        (rung < self.brackets[position].rungs.len()).then_some(((cycle, position), rung, s - rung))
    }

    /// A rung's members with a value, best first (ties in history order).
    fn ranked<'a>(&self, rung: &'a [Member]) -> Vec<&'a Member> {
        let sign = match self.direction {
            ObjectiveType::Minimize => 1.0,
            ObjectiveType::Maximize => -1.0,
        };
        let mut valued: Vec<(&Member, f64)> = rung
            .iter()
            .filter_map(|m| match m.outcome {
                Outcome::Value(v) => Some((m, sign * v)),
                _ => None,
            })
            .collect();
        valued.sort_by(|a, b| a.1.total_cmp(&b.1));
        valued.into_iter().map(|(m, _)| m).collect()
    }

    /// What the bracket at `position` can do next, given its rungs so far.
    fn step<'a>(&self, position: usize, rungs: &'a [Vec<Member>]) -> Step<'a> {
        let shape = &self.brackets[position].rungs;
        let rung = |i: usize| rungs.get(i).map_or(&[][..], |r| r.as_slice());
        if rung(0).len() < shape[0].configs {
            return Step::New;
        }
        for i in 0..shape.len() {
            let here = rung(i);
            if here.iter().any(|m| m.outcome == Outcome::Pending) {
                return Step::Blocked;
            }
            let Some(next) = shape.get(i + 1) else {
                break;
            };
            let above = rung(i + 1);
            if above.len() >= next.configs {
                continue;
            }
            let promoted: BTreeSet<&str> =
                above.iter().filter_map(|m| m.parent.as_deref()).collect();
            if let Some(parent) = self
                .ranked(here)
                .into_iter()
                .take(next.configs)
                .find(|m| !promoted.contains(m.name.as_str()))
            {
                return Step::Promote {
                    rung: i + 1,
                    parent,
                };
            }
        }
        Step::Finished
    }

    /// The next trial of the schedule (see the module doc).
    fn next(&self, state: &State) -> Move {
        let mut blocked = false;
        for (&(cycle, position), rungs) in &state.brackets {
            match self.step(position, rungs) {
                Step::New => return Move::New { cycle, position },
                Step::Promote { rung, parent } => {
                    return Move::Promote {
                        cycle,
                        position,
                        rung,
                        parent: parent.clone(),
                    };
                }
                Step::Blocked => blocked = true,
                Step::Finished => {}
            }
        }
        match state.brackets.keys().next_back() {
            None => Move::New {
                cycle: 0,
                position: 0,
            },
            Some(&(cycle, position)) if position + 1 < self.brackets.len() => Move::New {
                cycle,
                position: position + 1,
            },
            Some(_) if blocked => Move::Wait,
            Some(&(cycle, _)) => Move::New {
                cycle: cycle.saturating_add(1),
                position: 0,
            },
        }
    }

    /// The resource parameter's value at a budget level, inside its domain.
    fn resource_value(&self, level: usize) -> ParamValue {
        let r = self.budgets[level];
        let domain = &self.space.parameters[self.resource].domain;
        let v = match domain {
            // `as` saturates, and `snap` clamps into the bounds.
            Domain::Int { .. } => ParamValue::Int(r.round() as i64),
            _ => ParamValue::Float(r),
        };
        snap(domain, &v).unwrap_or(v)
    }

    /// `base`'s parameters (snapped into the space; random search's `k`-th draw for any it
    /// lacks) with the budget of `level`.
    fn complete(&self, base: &Assignment, level: usize, k: u64) -> Assignment {
        let mut fallback: Option<Assignment> = None;
        Assignment(
            self.space
                .parameters
                .iter()
                .enumerate()
                .map(|(j, p)| {
                    let v = if j == self.resource {
                        self.resource_value(level)
                    } else if let Some(v) = base.get(&p.name).and_then(|v| snap(&p.domain, v)) {
                        v
                    } else {
                        let draw = fallback.get_or_insert_with(|| self.random.nth(k));
                        draw.0[j].1.clone()
                    };
                    (p.name.clone(), v)
                })
                .collect(),
        )
    }

    /// Up to `n` trials of the schedule; new configurations come from `new_config(state,
    /// k)` for history index `k` (the state includes the suggestions made before it in this
    /// call, as pending trials, so batches equal one suggestion at a time). `Wait` when
    /// nothing can be suggested before a running trial finishes.
    pub(crate) fn suggest(
        &self,
        history: &[TrialView],
        n: usize,
        new_config: &mut dyn FnMut(&State, u64) -> Result<Assignment, AlgorithmError>,
    ) -> Result<Suggestions, AlgorithmError> {
        let mut state = self.state(history);
        let mut out = Vec::with_capacity(n);
        for k in history.len()..history.len() + n {
            let (cycle, position, rung, base, parent) = match self.next(&state) {
                Move::Wait => break,
                Move::New { cycle, position } => {
                    (cycle, position, 0, new_config(&state, k as u64)?, None)
                }
                Move::Promote {
                    cycle,
                    position,
                    rung,
                    parent,
                } => (cycle, position, rung, parent.parameters, Some(parent.name)),
            };
            let s = self.brackets[position].s;
            let level = s - rung;
            let parameters = self.complete(&base, level, k as u64);
            let mut labels = Labels::new();
            labels.insert(CYCLE_LABEL.into(), cycle.to_string());
            labels.insert(BRACKET_LABEL.into(), s.to_string());
            labels.insert(RUNG_LABEL.into(), rung.to_string());
            if let Some(p) = &parent {
                labels.insert(PARENT_LABEL.into(), p.clone());
            }
            state.add(
                (cycle, position),
                rung,
                Member {
                    index: k,
                    name: String::new(),
                    parameters: parameters.clone(),
                    outcome: Outcome::Pending,
                    parent,
                    level,
                },
            );
            out.push(NewTrial { parameters, labels });
        }
        if out.is_empty() && n > 0 {
            Ok(Suggestions::Wait)
        } else {
            Ok(Suggestions::Trials(out))
        }
    }
}

/// Hyperband: successive halving in brackets, new configurations at random.
#[derive(Debug, Clone)]
pub struct Hyperband {
    engine: Engine,
    settings: HyperbandSettings,
}

impl Hyperband {
    /// Checks the settings against the search space (as `validate` does).
    pub fn new(ctx: &AlgorithmContext) -> Result<Self, AlgorithmError> {
        let settings = HyperbandSettings::from_settings(&ctx.settings, &ctx.space)
            .map_err(AlgorithmError::Settings)?;
        Hyperband::with_settings(ctx, settings)
    }

    /// The same with settings already parsed (`ctx.settings` is not read).
    pub fn with_settings(
        ctx: &AlgorithmContext,
        settings: HyperbandSettings,
    ) -> Result<Self, AlgorithmError> {
        Ok(Hyperband {
            engine: Engine::new(ctx, &settings)?,
            settings,
        })
    }

    /// The settings in use.
    pub fn settings(&self) -> &HyperbandSettings {
        &self.settings
    }

    /// The brackets of one cycle, in the order they run.
    pub fn brackets(&self) -> &[Bracket] {
        self.engine.brackets()
    }
}

impl Suggester for Hyperband {
    fn suggest(&mut self, history: &[TrialView], n: usize) -> Result<Suggestions, AlgorithmError> {
        let random = &self.engine.random;
        self.engine
            .suggest(history, n, &mut |_, k| Ok(random.nth(k)))
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use ferrotune_core::{Distribution, Parameter};

    pub(crate) fn pairs(p: &[(&str, &str)]) -> Vec<(String, String)> {
        p.iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    pub(crate) fn space() -> SearchSpace {
        let p = |name: &str, domain| Parameter {
            name: name.into(),
            domain,
        };
        SearchSpace {
            parameters: vec![
                p(
                    "lr",
                    Domain::Double {
                        min: 1e-4,
                        max: 1.0,
                        step: None,
                        distribution: Distribution::LogUniform,
                    },
                ),
                p(
                    "epochs",
                    Domain::Int {
                        min: 1,
                        max: 100,
                        step: None,
                        distribution: Distribution::Uniform,
                    },
                ),
                p(
                    "x",
                    Domain::Double {
                        min: 0.0,
                        max: 1.0,
                        step: None,
                        distribution: Distribution::Uniform,
                    },
                ),
                p(
                    "opt",
                    Domain::Categorical {
                        values: vec!["sgd".into(), "adam".into()],
                    },
                ),
            ],
        }
    }

    pub(crate) fn ctx(
        algorithm: &str,
        space: SearchSpace,
        seed: u64,
        settings: &[(&str, &str)],
    ) -> AlgorithmContext {
        AlgorithmContext {
            algorithm: algorithm.into(),
            space,
            objectives: vec![ObjectiveType::Minimize],
            seed,
            settings: pairs(settings),
        }
    }

    fn hyperband(seed: u64) -> Hyperband {
        Hyperband::new(&ctx(
            "hyperband",
            space(),
            seed,
            &[("resource_name", "epochs"), ("eta", "3"), ("r_l", "9")],
        ))
        .unwrap()
    }

    pub(crate) fn trials(s: &mut dyn Suggester, history: &[TrialView], n: usize) -> Vec<NewTrial> {
        match s.suggest(history, n).unwrap() {
            Suggestions::Trials(t) => t,
            other => panic!("expected trials, got {other:?}"),
        }
    }

    pub(crate) fn created(k: usize, t: NewTrial) -> TrialView {
        TrialView {
            name: format!("t{k}"),
            parameters: t.parameters,
            status: TrialStatus::Created,
            objective: None,
            objectives: Vec::new(),
            intermediate: Vec::new(),
            labels: t.labels,
        }
    }

    pub(crate) fn label(t: &TrialView, key: &str) -> usize {
        t.labels[key].parse().unwrap()
    }

    pub(crate) fn epochs(a: &Assignment) -> i64 {
        match a.get("epochs") {
            Some(ParamValue::Int(e)) => *e,
            other => panic!("epochs {other:?}"),
        }
    }

    /// A loss that falls with the budget, lowest near x = 0.3.
    pub(crate) fn loss(a: &Assignment) -> f64 {
        let x = a.get("x").unwrap().as_f64().unwrap();
        (x - 0.3).powi(2) + 1.0 / a.get("epochs").unwrap().as_f64().unwrap()
    }

    /// Runs `total` trials with `workers` in parallel: asks for the free slots, and when
    /// none are free or the algorithm waits, finishes the running trial `pick` chooses
    /// (given how many run) with `f`'s value (`None`: it fails).
    pub(crate) fn simulate(
        s: &mut dyn Suggester,
        total: usize,
        workers: usize,
        mut pick: impl FnMut(usize) -> usize,
        mut f: impl FnMut(&TrialView) -> Option<f64>,
    ) -> Vec<TrialView> {
        let mut history: Vec<TrialView> = Vec::new();
        let mut running: Vec<usize> = Vec::new();
        loop {
            let free = workers - running.len();
            let room = free.min(total - history.len());
            let mut waited = false;
            if room > 0 {
                match s.suggest(&history, room).unwrap() {
                    Suggestions::Trials(new) => {
                        assert!(!new.is_empty() && new.len() <= room);
                        for t in new {
                            running.push(history.len());
                            let k = history.len();
                            let mut v = created(k, t);
                            v.status = TrialStatus::Running;
                            history.push(v);
                        }
                        continue;
                    }
                    Suggestions::Wait => {
                        assert!(!running.is_empty(), "waits with nothing running");
                        waited = true;
                    }
                    other => panic!("unexpected {other:?}"),
                }
            }
            if running.is_empty() {
                assert!(!waited);
                return history;
            }
            let i = running.remove(pick(running.len()) % running.len().max(1));
            let t = &mut history[i];
            match f(t) {
                Some(v) => {
                    t.status = TrialStatus::Succeeded;
                    t.objective = Some(v);
                }
                None => t.status = TrialStatus::Failed,
            }
        }
    }

    /// (bracket, rung) → (trials, their epochs).
    fn shape(history: &[TrialView]) -> BTreeMap<(usize, usize), (usize, BTreeSet<i64>)> {
        let mut m: BTreeMap<(usize, usize), (usize, BTreeSet<i64>)> = BTreeMap::new();
        for t in history {
            let e = m
                .entry((label(t, BRACKET_LABEL), label(t, RUNG_LABEL)))
                .or_default();
            e.0 += 1;
            e.1.insert(epochs(&t.parameters));
        }
        m
    }

    #[test]
    fn the_schedule_for_eta_3_and_r_l_9() {
        let rungs = |b: &Bracket| -> Vec<(usize, f64)> {
            b.rungs.iter().map(|r| (r.configs, r.resource)).collect()
        };
        let s = schedule(3.0, 9.0, 1.0);
        assert_eq!(s.iter().map(|b| b.s).collect::<Vec<_>>(), [2, 1, 0]);
        assert_eq!(rungs(&s[0]), [(9, 1.0), (3, 3.0), (1, 9.0)]);
        assert_eq!(rungs(&s[1]), [(5, 3.0), (1, 9.0)]);
        assert_eq!(rungs(&s[2]), [(3, 9.0)]);
        // eta 3, r_l 27: the paper's table shape; r_l 81 (s_max 4) in the paper, Table 1.
        let s = schedule(3.0, 81.0, 1.0);
        assert_eq!(
            s.iter()
                .map(|b| b.rungs.iter().map(|r| r.configs).collect::<Vec<_>>())
                .collect::<Vec<_>>(),
            [
                vec![81, 27, 9, 3, 1],
                vec![34, 11, 3, 1],
                vec![15, 5, 1],
                vec![8, 2],
                vec![5],
            ]
        );
        assert_eq!(s[1].rungs[0].resource, 3.0);
        // Below eta: one bracket, plain random search at r_l.
        assert_eq!(
            schedule(3.0, 2.5, 1.0),
            [Bracket {
                s: 0,
                rungs: vec![Rung {
                    configs: 1,
                    resource: 2.5
                }]
            }]
        );
        // A fractional eta.
        let s = schedule(2.5, 10.0, 1.0);
        assert_eq!(s.len(), 3);
        assert_eq!(rungs(&s[0]), [(7, 1.6), (2, 4.0), (1, 10.0)]);
        // min_resource 9 of r_l 81: s_max = ⌊log_3 9⌋ = 2, nothing starts below 9 (the
        // schedule of r_l 9 scaled by 9).
        let s = schedule(3.0, 81.0, 9.0);
        assert_eq!(s.iter().map(|b| b.s).collect::<Vec<_>>(), [2, 1, 0]);
        assert_eq!(rungs(&s[0]), [(9, 9.0), (3, 27.0), (1, 81.0)]);
        assert_eq!(rungs(&s[1]), [(5, 27.0), (1, 81.0)]);
        assert_eq!(rungs(&s[2]), [(3, 81.0)]);
        // Not a power: the smallest budget is the first r_l/eta^s at or above it.
        let s = schedule(4.0, 100.0, 10.0);
        assert_eq!(rungs(&s[0]), [(4, 25.0), (1, 100.0)]);
        assert_eq!(rungs(&s[1]), [(2, 100.0)]);
    }

    #[test]
    fn min_resource_drops_the_brackets_that_start_below_it() {
        let mut h = Hyperband::new(&ctx(
            "hyperband",
            space(),
            4,
            &[
                ("resource_name", "epochs"),
                ("eta", "3"),
                ("r_l", "9"),
                ("min_resource", "3"),
            ],
        ))
        .unwrap();
        // One cycle of 6 trials: 3 at 3 → 1 at 9, and 2 at 9.
        let history = simulate(&mut h, 6, 2, |_| 0, |t| Some(loss(&t.parameters)));
        let budgets: Vec<i64> = history.iter().map(|t| epochs(&t.parameters)).collect();
        assert!(budgets.iter().all(|&e| e >= 3), "{budgets:?}");
        let shape = shape(&history);
        assert_eq!(shape[&(1, 0)], (3, [3].into()), "{shape:?}");
        assert_eq!(shape[&(1, 1)], (1, [9].into()), "{shape:?}");
        assert_eq!(shape[&(0, 0)].0, 2, "{shape:?}");
    }

    #[test]
    fn one_cycle_follows_the_schedule_then_the_next_begins() {
        let mut h = hyperband(1);
        let history = simulate(&mut h, 22, 3, |_| 0, |t| Some(loss(&t.parameters)));
        let shape = shape(&history);
        let want: BTreeMap<(usize, usize), (usize, BTreeSet<i64>)> = [
            ((0, 0), (3, [9].into())),
            ((1, 0), (5, [3].into())),
            ((1, 1), (1, [9].into())),
            ((2, 0), (9, [1].into())),
            ((2, 1), (3, [3].into())),
            ((2, 2), (1, [9].into())),
        ]
        .into();
        assert_eq!(shape, want);
        assert!(history.iter().all(|t| label(t, CYCLE_LABEL) == 0));
        // Then cycle 1 starts with bracket 2.
        let next = trials(&mut h, &history, 1);
        assert_eq!(next[0].labels[CYCLE_LABEL], "1");
        assert_eq!(next[0].labels[BRACKET_LABEL], "2");
        assert_eq!(epochs(&next[0].parameters), 1);
    }

    #[test]
    fn promotions_keep_parameters_and_name_the_best_parents() {
        let mut h = hyperband(2);
        let history = simulate(&mut h, 44, 4, |n| n / 2, |t| Some(loss(&t.parameters)));
        let by_name: BTreeMap<&str, &TrialView> =
            history.iter().map(|t| (t.name.as_str(), t)).collect();
        let mut promoted = 0;
        for t in &history {
            let rung = label(t, RUNG_LABEL);
            let Some(parent) = t.labels.get(PARENT_LABEL) else {
                assert_eq!(rung, 0, "{t:?}");
                continue;
            };
            promoted += 1;
            let p = by_name[parent.as_str()];
            assert_eq!(label(p, RUNG_LABEL) + 1, rung);
            assert_eq!(label(p, BRACKET_LABEL), label(t, BRACKET_LABEL));
            assert_eq!(label(p, CYCLE_LABEL), label(t, CYCLE_LABEL));
            // The same configuration, eta times the budget.
            for (name, v) in &t.parameters.0 {
                if name == "epochs" {
                    assert_eq!(*v, ParamValue::Int(epochs(&p.parameters) * 3));
                } else {
                    assert_eq!(Some(v), p.parameters.get(name));
                }
            }
            // The parent is among the best of its rung.
            let rung_mates: Vec<f64> = history
                .iter()
                .filter(|o| {
                    o.labels[CYCLE_LABEL] == p.labels[CYCLE_LABEL]
                        && o.labels[BRACKET_LABEL] == p.labels[BRACKET_LABEL]
                        && o.labels[RUNG_LABEL] == p.labels[RUNG_LABEL]
                })
                .map(|o| o.objective.unwrap())
                .collect();
            let better = rung_mates
                .iter()
                .filter(|v| **v < p.objective.unwrap())
                .count();
            assert!(better < rung_mates.len() / 3, "{better} of {rung_mates:?}");
        }
        // Two cycles: 2 × (3 + 1 + 1) promotions.
        assert_eq!(promoted, 10);
    }

    #[test]
    fn failed_trials_count_as_the_worst_and_never_stall() {
        // Every other trial fails; a whole rung may fail. The sweep goes on to the end and
        // no failed trial is ever promoted.
        for seed in 0..5 {
            let mut h = hyperband(seed);
            let mut count = 0;
            let history = simulate(
                &mut h,
                60,
                3,
                |n| n - 1,
                |t| {
                    count += 1;
                    (count % 2 == 0 || seed == 4).then(|| loss(&t.parameters))
                },
            );
            assert_eq!(history.len(), 60);
            let failed: BTreeSet<&str> = history
                .iter()
                .filter(|t| t.status == TrialStatus::Failed)
                .map(|t| t.name.as_str())
                .collect();
            assert!(
                history
                    .iter()
                    .filter_map(|t| t.labels.get(PARENT_LABEL))
                    .all(|p| !failed.contains(p.as_str()))
            );
        }
        // All failing: brackets end at rung 0, and the sweep still reaches its end.
        let mut h = hyperband(9);
        let history = simulate(&mut h, 40, 3, |_| 0, |_| None);
        assert_eq!(history.len(), 40);
        assert!(history.iter().all(|t| label(t, RUNG_LABEL) == 0));
        // Killed and metric-less trials and NaN values are failures too.
        let mut h = hyperband(3);
        let first = simulate(&mut h, 9, 9, |_| 0, |t| Some(loss(&t.parameters)));
        let next = |history: &[TrialView]| trials(&mut hyperband(3), history, 3);
        let mut spoiled = first.clone();
        let best = (0..9)
            .min_by(|&a, &b| {
                first[a]
                    .objective
                    .unwrap()
                    .total_cmp(&first[b].objective.unwrap())
            })
            .unwrap();
        spoiled[best].status = TrialStatus::Failed;
        let as_failed = next(&spoiled);
        assert!(
            as_failed
                .iter()
                .all(|t| t.labels[PARENT_LABEL] != first[best].name)
        );
        for change in [
            |t: &mut TrialView| t.status = TrialStatus::Killed,
            |t: &mut TrialView| t.status = TrialStatus::MetricsUnavailable,
            |t: &mut TrialView| t.objective = Some(f64::NAN),
            |t: &mut TrialView| t.objective = None,
        ] {
            let mut h = first.clone();
            change(&mut h[best]);
            assert_eq!(next(&h), as_failed);
        }
    }

    #[test]
    fn waits_only_while_a_rung_has_running_trials() {
        let mut h = hyperband(4);
        let mut history: Vec<TrialView> = Vec::new();
        // The whole cycle's rung-0 trials (9 + 5 + 3) can start at once; then bracket 2's
        // rung 1 needs rung 0 finished, and cycle 1 needs cycle 0 finished.
        for t in trials(&mut h, &history, 30) {
            let k = history.len();
            history.push(created(k, t));
        }
        assert_eq!(history.len(), 17);
        assert_eq!(h.suggest(&history, 5).unwrap(), Suggestions::Wait);
        // Bracket 2's rung 0 finishes: its 3 promotions come, then waiting again.
        for t in &mut history[..9] {
            t.status = TrialStatus::Succeeded;
            t.objective = Some(loss(&t.parameters));
        }
        let promoted = trials(&mut h, &history, 10);
        assert_eq!(promoted.len(), 3);
        assert!(promoted.iter().all(|t| t.labels[RUNG_LABEL] == "1"
            && t.labels[BRACKET_LABEL] == "2"
            && epochs(&t.parameters) == 3));
        // n is respected.
        assert_eq!(trials(&mut h, &history, 2).len(), 2);
        assert_eq!(h.suggest(&history, 0).unwrap(), Suggestions::Trials(vec![]));
        // Everything finished: never a wait.
        for t in &mut history {
            t.status = TrialStatus::Failed;
        }
        assert!(matches!(h.suggest(&history, 1).unwrap(), Suggestions::Trials(t) if t.len() == 1));
    }

    #[test]
    fn deterministic_batches_and_resumable_from_history_alone() {
        let run = |seed: u64, workers: usize| {
            simulate(
                &mut hyperband(seed),
                50,
                workers,
                |n| n / 2,
                |t| Some(loss(&t.parameters)),
            )
        };
        let a = run(5, 3);
        assert_eq!(a, run(5, 3));
        assert_ne!(a, run(6, 3));
        // New configurations are random search's draws for their index, with the budget.
        let random = RandomSearch::new(space(), 5).unwrap();
        for (k, t) in a.iter().enumerate() {
            if !t.labels.contains_key(PARENT_LABEL) {
                let mut want = random.nth(k as u64);
                want.0[1].1 = t.parameters.0[1].1.clone();
                assert_eq!(t.parameters, want);
            }
        }
        // A new instance given a prefix of the history suggests what followed it: in one
        // batch, or one created trial at a time.
        let mut finished = a.clone();
        for t in &mut finished {
            t.status = TrialStatus::Succeeded;
            t.objective = Some(loss(&t.parameters));
        }
        for cut in [0, 5, 12, 20, 31] {
            let prefix = &finished[..cut];
            let whole = trials(&mut hyperband(5), prefix, 8);
            let mut h = prefix.to_vec();
            let mut fresh = hyperband(5);
            let mut stepped = Vec::new();
            while stepped.len() < whole.len() {
                let Suggestions::Trials(mut t) = fresh.suggest(&h, 1).unwrap() else {
                    break;
                };
                let t = t.pop().unwrap();
                stepped.push(t.clone());
                h.push(created(h.len(), t));
            }
            assert_eq!(whole, stepped, "cut {cut}");
        }
    }

    #[test]
    fn maximising_promotes_the_largest_values() {
        let mut c = ctx(
            "hyperband",
            space(),
            7,
            &[("resource_name", "epochs"), ("r_l", "9")],
        );
        c.objectives = vec![ObjectiveType::Maximize];
        let mut h = Hyperband::new(&c).unwrap();
        let first = simulate(&mut h, 9, 9, |_| 0, |t| Some(-loss(&t.parameters)));
        let promoted = trials(&mut h, &first, 3);
        let mut values: Vec<(f64, &str)> = first
            .iter()
            .map(|t| (t.objective.unwrap(), t.name.as_str()))
            .collect();
        values.sort_by(|a, b| b.0.total_cmp(&a.0));
        let best: BTreeSet<&str> = values[..3].iter().map(|v| v.1).collect();
        let parents: BTreeSet<&str> = promoted
            .iter()
            .map(|t| t.labels[PARENT_LABEL].as_str())
            .collect();
        assert_eq!(parents, best);
    }

    #[test]
    fn resources_are_rounded_and_kept_inside_the_space() {
        // An int resource from 2 to 6 with step 2: budgets 10/9, 10/3, 10 → 2, 4, 6.
        let mut s = space();
        s.parameters[1].domain = Domain::Int {
            min: 2,
            max: 6,
            step: Some(2),
            distribution: Distribution::Uniform,
        };
        let c = ctx(
            "hyperband",
            s.clone(),
            1,
            &[("resource_name", "epochs"), ("r_l", "10")],
        );
        let mut h = Hyperband::new(&c).unwrap();
        let history = simulate(&mut h, 22, 2, |_| 0, |t| Some(loss(&t.parameters)));
        let got: BTreeSet<(usize, i64)> = history
            .iter()
            .map(|t| {
                assert!(s.contains(&t.parameters));
                (
                    label(t, BRACKET_LABEL) - label(t, RUNG_LABEL),
                    epochs(&t.parameters),
                )
            })
            .collect();
        assert_eq!(got, [(0, 6), (1, 4), (2, 2)].into());
        // A double resource gets the exact budgets.
        let mut s = space();
        s.parameters[1].domain = Domain::Double {
            min: 0.5,
            max: 100.0,
            step: None,
            distribution: Distribution::LogUniform,
        };
        let c = ctx(
            "hyperband",
            s.clone(),
            1,
            &[("resource_name", "epochs"), ("r_l", "10"), ("eta", "2")],
        );
        let mut h = Hyperband::new(&c).unwrap();
        let t = trials(&mut h, &[], 1);
        assert_eq!(
            t[0].parameters.get("epochs"),
            Some(&ParamValue::Float(1.25))
        );
    }

    #[test]
    fn settings_are_checked_with_their_paths() {
        let problems = |p: &[(&str, &str)]| -> Vec<(String, String)> {
            settings_problems(&pairs(p), &space())
                .into_iter()
                .map(|e| (e.path, e.message))
                .collect()
        };
        assert!(problems(&[("resource_name", "epochs"), ("r_l", "9"), ("eta", "3")]).is_empty());
        let got = problems(&[]);
        assert_eq!(got.len(), 2, "{got:?}");
        assert!(
            got.iter()
                .all(|(p, _)| p == "spec.algorithm.algorithmSettings")
        );
        assert!(
            got[0].1.contains("needs the setting resource_name"),
            "{got:?}"
        );
        assert!(got[1].1.contains("needs the setting r_l"), "{got:?}");
        let got = problems(&[
            ("resource_name", "epoch"),
            ("eta", "1"),
            ("r_l", "0.5"),
            ("random_state", "1"),
            ("eta", "2"),
        ]);
        let paths: Vec<&str> = got.iter().map(|(p, _)| p.as_str()).collect();
        assert_eq!(
            paths,
            [
                "spec.algorithm.algorithmSettings[0].value",
                "spec.algorithm.algorithmSettings[1].value",
                "spec.algorithm.algorithmSettings[2].value",
                "spec.algorithm.algorithmSettings[4].name",
            ]
        );
        assert!(
            got[0].1.contains("did you mean \"epochs\"?"),
            "{}",
            got[0].1
        );
        assert!(
            got[1].1.starts_with("eta must be a number greater than 1"),
            "{}",
            got[1].1
        );
        assert!(
            got[2].1.starts_with("r_l must be a number of at least 1"),
            "{}",
            got[2].1
        );
        assert!(got[3].1.contains("set more than once"), "{}", got[3].1);
        let got = problems(&[("resource_name", "opt"), ("r_l", "9")]);
        assert_eq!(got.len(), 1);
        assert!(got[0].1.contains("is a categorical parameter"), "{got:?}");
        let got = problems(&[
            ("resource_name", "epochs"),
            ("r_l", "1e30"),
            ("eta", "1.01"),
        ]);
        assert_eq!(got[0].0, "spec.algorithm.algorithmSettings[1].value");
        assert!(got[0].1.contains("more than 64 brackets"), "{got:?}");
        assert!(Hyperband::new(&ctx("hyperband", space(), 1, &[("resource_name", "lr")])).is_err());
        // min_resource: positive, at most r_l.
        let base = [("resource_name", "epochs"), ("r_l", "27")];
        for (value, says) in [
            ("0", "min_resource must be a number greater than 0"),
            ("-1", "min_resource must be a number greater than 0"),
            ("x", "min_resource must be a number greater than 0"),
            ("30", "min_resource 30 is larger than r_l 27"),
        ] {
            let got = problems(&[base[0], base[1], ("min_resource", value)]);
            assert_eq!(got.len(), 1, "{value}: {got:?}");
            assert_eq!(got[0].0, "spec.algorithm.algorithmSettings[2].value");
            assert!(got[0].1.starts_with(says), "{value}: {got:?}");
        }
        let s = HyperbandSettings::from_settings(
            &pairs(&[base[0], base[1], ("min_resource", "3")]),
            &space(),
        )
        .unwrap();
        assert_eq!(s.min_resource, 3.0);
        assert_eq!(
            HyperbandSettings::from_settings(&pairs(&base), &space())
                .unwrap()
                .min_resource,
            1.0
        );
    }

    #[test]
    fn notes_give_the_trials_per_cycle() {
        let notes = settings_notes("hyperband", &pairs(&[("r_l", "9"), ("resource_name", "e")]));
        assert_eq!(
            notes,
            [
                "hyperband: eta 3 and r_l 9 give 3 brackets, 22 trials per cycle (9 at 1 → 3 at \
              3 → 1 at 9; 5 at 3 → 1 at 9; 3 at 9); cycles repeat with new configurations, so \
              maxTrialCount decides when the experiment ends (a multiple of 22 runs whole \
              cycles)"
            ]
        );
        let notes = settings_notes(
            "hyperband",
            &pairs(&[("r_l", "81"), ("min_resource", "9"), ("resource_name", "e")]),
        );
        assert!(
            notes[0].starts_with(
                "hyperband: eta 3, r_l 81 and min_resource 9 give 3 brackets, 22 trials per \
                 cycle (9 at 9 → 3 at 27 → 1 at 81;"
            ),
            "{notes:?}"
        );
        assert!(settings_notes("hyperband", &pairs(&[("r_l", "x")])).is_empty());
        assert!(settings_notes("hyperband", &pairs(&[("eta", "9")])).is_empty());
    }
}
