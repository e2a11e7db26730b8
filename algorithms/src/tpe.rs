//! TPE (tree-structured Parzen estimator), after Optuna's `TPESampler`: `tpe` models each
//! parameter independently, `multivariate-tpe` models them jointly (one kernel per
//! observation over all parameters, as Optuna 5 does by default for one objective). Both
//! use Optuna 5's bandwidths: along each parameter, the larger gap from an observation to
//! its neighbours (Optuna 4's multivariate TPE used one Scott's-rule bandwidth for all,
//! which is wider with few observations and searched less well here: see
//! benches/RESULTS.md).
//!
//! Each suggestion splits the observations into the best `γ(n)` (by the objective's
//! direction) and the rest, fits a Parzen estimator to each (`l` and `g`), draws
//! `n_ei_candidates` points from `l` and keeps the one with the largest `ln l − ln g`.
//! Below `n_startup_trials` observations it suggests exactly what random search would.
//!
//! What the history contributes: Succeeded and EarlyStopped trials with an objective value
//! are observations; Failed, MetricsUnavailable and Killed trials are ignored (they say
//! nothing about the objective); trials still Created or Running are "constant liars":
//! observations with the worst value seen so far (ranked after every real one, so always in
//! `g`, as in Optuna), so that parallel suggestions spread out. Within one call, each new
//! suggestion joins the liars before the next is made, exactly as if it had been created
//! in between. Suggestion k's randomness is stream k of the seed (as in random search), so
//! the sequence depends only on the seed and the history: nothing is saved, and batching
//! does not change it. (An instance remembers the previous call's encoded trials and `g`'s
//! sorted bandwidths and kernel masses, but uses each only after checking it against this
//! call's history: a new instance suggests the same, only more slowly.)
//!
//! **Several objectives** (as Optuna's `TPESampler` with several directions; ferrotune
//! offers it as `multivariate-tpe`): an observation needs every objective's value (none
//! NaN). The good group still holds `γ(n)` observations, chosen by non-dominated sorting:
//! whole fronts while they fit, then the rest of the next front by greedy hypervolume subset
//! selection (each pick adds the most hypervolume, the reference point being that front's
//! worst value per objective made 10% worse: `max(1.1·w, 0.9·w)`, or 1e-12 where that is 0).
//! `l`'s kernels are weighted by each good observation's hypervolume contribution within
//! the good group (over the largest, at least 1e-12; off its front, 1e-12), instead of the
//! ramp by age; `g` keeps the ramp. Running trials are liars in `g`, as above. With one
//! objective nothing of this applies, and suggestions are those of the single-objective
//! code exactly.

mod multi;
mod parzen;

use crate::domain::space_problems;
use crate::halves;
use crate::random::rng_for;
use crate::{AlgorithmError, RandomSearch, Suggester, Suggestions};
use ferrotune_core::pareto::to_minimize;
use ferrotune_core::{
    Assignment, FieldError, ObjectiveType, ParamValue, SearchSpace, TrialStatus, TrialView,
};
use parzen::{Axis, CellTerms, Estimator, KernelMemo, Memo, Mixture, Params};
use rand_chacha::ChaCha8Rng;
use smallvec::SmallVec;
use std::sync::Mutex;

/// Settings `tpe` and `multivariate-tpe` accept (Katib's names).
pub const SETTINGS: &[&str] = &[
    "random_state",
    "n_startup_trials",
    "n_ei_candidates",
    "gamma",
    "prior_weight",
    "consider_endpoints",
];

/// The largest `n_ei_candidates` accepted: each candidate is scored against every
/// observation, so more would make suggestions slow without helping.
pub const MAX_EI_CANDIDATES: usize = 10_000;

/// Scoring work (candidates × components × (dimensions per group + 3), the 3 for the
/// log-sum-exp's share) from which the candidates are scored on two threads: some 100 µs,
/// of which a half outweighs the split (waking a pool thread and waiting for it took some
/// 50 µs on a loaded 2-core VM). At 1,000 trials: `tpe` splits (144 candidates with 24 per
/// parameter), `multivariate-tpe` (24 candidates) does not until about 2,000; splitting it
/// made it slower at 1,000 (0.27–0.34 ms against 0.21 ms, `benches/compare`).
const PARALLEL_SCORE_TERMS: usize = 300_000;

/// TPE's settings, with Optuna's defaults.
#[derive(Debug, Clone, PartialEq)]
pub struct TpeSettings {
    /// Random suggestions until this many observations exist (default 10).
    pub n_startup_trials: usize,
    /// Candidates drawn from `l` per suggestion (default 24).
    pub n_ei_candidates: usize,
    /// The fraction of observations in the good group, `⌈γ·n⌉`; `None` (default) for
    /// Optuna's `min(⌈0.1·n⌉, 25)`.
    pub gamma: Option<f64>,
    /// Weight of the prior kernel against each observation's (default 1).
    pub prior_weight: f64,
    /// Whether the outermost observations' bandwidths may reach the bounds (default false).
    pub consider_endpoints: bool,
    /// Joint kernels over all parameters (`multivariate-tpe`) rather than one model each.
    pub multivariate: bool,
}

impl Default for TpeSettings {
    fn default() -> Self {
        TpeSettings {
            n_startup_trials: 10,
            n_ei_candidates: 24,
            gamma: None,
            prior_weight: 1.0,
            consider_endpoints: false,
            multivariate: false,
        }
    }
}

impl TpeSettings {
    /// The settings of `spec.algorithm.algorithmSettings` (`random_state` is the seed's
    /// business, see `seed_from_settings`); every problem is reported with its path.
    pub fn from_settings(
        settings: &[(String, String)],
        multivariate: bool,
    ) -> Result<Self, Vec<FieldError>> {
        let s = TpeSettings {
            multivariate,
            ..TpeSettings::default()
        };
        crate::settings::apply(s, settings, TpeSettings::set, expectation)
    }

    /// Applies one setting; false when its value is not acceptable. Other names (such as
    /// `random_state`) are left to their owners.
    fn set(&mut self, key: &str, v: &str) -> bool {
        match key {
            "n_startup_trials" => match v.parse() {
                Ok(n) => self.n_startup_trials = n,
                Err(_) => return false,
            },
            "n_ei_candidates" => match v.parse() {
                Ok(n) if (1..=MAX_EI_CANDIDATES).contains(&n) => self.n_ei_candidates = n,
                _ => return false,
            },
            "gamma" => match v.parse::<f64>() {
                Ok(g) if g > 0.0 && g <= 1.0 => self.gamma = Some(g),
                _ => return false,
            },
            "prior_weight" => match v.parse::<f64>() {
                Ok(w) if w.is_finite() && w > 0.0 => self.prior_weight = w,
                _ => return false,
            },
            "consider_endpoints" => match v.to_ascii_lowercase().as_str() {
                "true" => self.consider_endpoints = true,
                "false" => self.consider_endpoints = false,
                _ => return false,
            },
            _ => {}
        }
        true
    }
}

/// What is wrong with one TPE setting's value (`None` when it is fine, or not TPE's).
pub(crate) fn setting_problem(key: &str, value: &str) -> Option<String> {
    (!TpeSettings::default().set(key, value.trim()))
        .then(|| format!("{}, got {value:?}", expectation(key)))
}

/// What a setting's value must be, for messages.
fn expectation(key: &str) -> String {
    match key {
        "n_startup_trials" => "n_startup_trials must be a non-negative integer".into(),
        "n_ei_candidates" => {
            format!("n_ei_candidates must be an integer from 1 to {MAX_EI_CANDIDATES}")
        }
        "gamma" => "gamma must be a number greater than 0 and at most 1 (the fraction of \
                    trials that form the good group)"
            .into(),
        "prior_weight" => "prior_weight must be a positive number".into(),
        "consider_endpoints" => "consider_endpoints must be true or false".into(),
        _ => format!("{key} is not a TPE setting"),
    }
}

/// TPE over a search space, reproducible from a seed and the history.
#[derive(Debug, Clone)]
pub struct TpeSearch {
    space: SearchSpace,
    axes: Vec<Axis>,
    /// The first objective's direction: all the single-objective code uses.
    objective: ObjectiveType,
    /// Every objective's direction (one for a single objective).
    objectives: Vec<ObjectiveType>,
    seed: u64,
    settings: TpeSettings,
    random: RandomSearch,
    /// Whether no two parameters share a name (for `encode`'s shortcut).
    unique_names: bool,
    /// `g`'s kernels along each axis at the previous suggestion.
    memos: Memos,
    /// The values and coordinates of the trials at each history position at the previous
    /// suggestion (of those whose assignment lists the space's parameters in order).
    encoded: Vec<(Vec<ParamValue>, Coords)>,
}

/// Whether two values are the same bit for bit (so that they encode alike: `==` takes 0
/// for −0).
fn same_bits(a: &ParamValue, b: &ParamValue) -> bool {
    match (a, b) {
        (ParamValue::Float(x), ParamValue::Float(y)) => x.to_bits() == y.to_bits(),
        (ParamValue::Int(x), ParamValue::Int(y)) => x == y,
        (ParamValue::Str(x), ParamValue::Str(y)) => x == y,
        _ => false,
    }
}

/// One [`KernelMemo`] per axis, for `g` (whose observations change by about one per
/// suggestion; `l`'s are few). A clone starts empty: a memo is a hint, not state.
#[derive(Debug, Default)]
struct Memos(Vec<Mutex<KernelMemo>>);

impl Memos {
    fn new(axes: usize) -> Memos {
        Memos((0..axes).map(|_| Mutex::default()).collect())
    }
}

impl Clone for Memos {
    fn clone(&self) -> Memos {
        Memos::new(self.0.len())
    }
}

/// A point's coordinates: inline up to 8 parameters, as most spaces have (a thousand
/// trials' small allocations were a tenth of a suggestion).
type Coords = SmallVec<[f64; 8]>;

/// A trial as TPE sees it: coordinates along each axis, and its value (`None` for a liar).
struct Point {
    coords: Coords,
    value: Option<f64>,
    /// With several objectives, every value, minimised (maximised ones negated); else empty.
    values: Vec<f64>,
}

/// One group of parameters' estimators (univariate: one parameter; multivariate: all).
struct Model<'a> {
    group: &'a [usize],
    axes: Vec<&'a Axis>,
    l: Estimator,
    g: Estimator,
}

/// The observations split for `l` and `g`, in trial order, `g`'s point ids (their
/// indices among the points, for the memos), and `l`'s kernel weights when they are not
/// the default ramp (several objectives).
struct Split<'a> {
    below: Vec<&'a [f64]>,
    above: Vec<&'a [f64]>,
    above_ids: Vec<u32>,
    below_weights: Option<Vec<f64>>,
}

impl<'a> Split<'a> {
    /// The points marked `good` form `l`'s observations, the rest `g`'s.
    fn by(points: &'a [Point], good: &[bool], below_weights: Option<Vec<f64>>) -> Split<'a> {
        let (mut below, mut above, mut above_ids) = (Vec::new(), Vec::new(), Vec::new());
        for (i, (p, &g)) in points.iter().zip(good).enumerate() {
            if g {
                below.push(p.coords.as_slice());
            } else {
                above.push(p.coords.as_slice());
                above_ids.push(i as u32);
            }
        }
        Split {
            below,
            above,
            above_ids,
            below_weights,
        }
    }
}

impl TpeSearch {
    /// Checks that every domain can be sampled.
    pub fn new(
        space: SearchSpace,
        objective: ObjectiveType,
        seed: u64,
        settings: TpeSettings,
    ) -> Result<Self, AlgorithmError> {
        TpeSearch::with_objectives(space, vec![objective], seed, settings)
    }

    /// The same for every objective's direction, in spec order (several: multi-objective
    /// TPE, see the module doc; none: one objective to minimise).
    pub fn with_objectives(
        space: SearchSpace,
        objectives: Vec<ObjectiveType>,
        seed: u64,
        settings: TpeSettings,
    ) -> Result<Self, AlgorithmError> {
        let objectives = if objectives.is_empty() {
            vec![ObjectiveType::Minimize]
        } else {
            objectives
        };
        let problems = space_problems(&space);
        if !problems.is_empty() {
            return Err(AlgorithmError::Settings(problems));
        }
        let axes = space
            .parameters
            .iter()
            .map(|p| Axis::new(&p.domain))
            .collect();
        let random = RandomSearch::new(space.clone(), seed)?;
        let memos = Memos::new(space.parameters.len());
        let names = &space.parameters;
        let unique_names =
            (0..names.len()).all(|i| names[..i].iter().all(|p| p.name != names[i].name));
        Ok(TpeSearch {
            space,
            axes,
            objective: objectives[0],
            objectives,
            seed,
            settings,
            random,
            unique_names,
            memos,
            encoded: Vec::new(),
        })
    }

    /// The settings in use.
    pub fn settings(&self) -> &TpeSettings {
        &self.settings
    }

    /// The trial's point, if it counts (see the module doc) and its parameters fit the space;
    /// `i` is its position in the history, under which its coordinates are remembered.
    fn point(&mut self, i: usize, t: &TrialView) -> Option<Point> {
        let multi = self.objectives.len() > 1;
        let mut values = Vec::new();
        let value = match t.status {
            TrialStatus::Succeeded | TrialStatus::EarlyStopped if multi => {
                let v = &t.objectives;
                if v.len() != self.objectives.len() || v.iter().any(|x| x.is_nan()) {
                    return None;
                }
                values = to_minimize(v, &self.objectives);
                Some(v[0])
            }
            TrialStatus::Succeeded | TrialStatus::EarlyStopped => {
                Some(t.objective.filter(|v| !v.is_nan())?)
            }
            TrialStatus::Created | TrialStatus::Running => None,
            TrialStatus::Failed | TrialStatus::MetricsUnavailable | TrialStatus::Killed => {
                return None;
            }
        };
        Some(Point {
            coords: self.encode_at(i, &t.parameters)?,
            value,
            values,
        })
    }

    /// Whether the assignment lists the space's parameters in its order (as it usually
    /// does): then (names being unique) each parameter's first entry is at its own index,
    /// as `get` would find it, without searching by name.
    fn in_order(&self, a: &Assignment) -> bool {
        let params = &self.space.parameters;
        self.unique_names
            && a.0.len() == params.len()
            && a.0.iter().zip(params).all(|((n, _), p)| *n == p.name)
    }

    fn encode(&self, a: &Assignment) -> Option<Coords> {
        let in_order = self.in_order(a);
        let mut coords = Coords::with_capacity(self.axes.len());
        for (j, (p, axis)) in self.space.parameters.iter().zip(&self.axes).enumerate() {
            let v = if in_order { &a.0[j].1 } else { a.get(&p.name)? };
            coords.push(axis.encode(v)?);
        }
        Some(coords)
    }

    /// `encode(a)` for the trial at history position `i`, remembered: a long history is
    /// mostly the previous call's, and comparing values is cheaper than encoding them.
    fn encode_at(&mut self, i: usize, a: &Assignment) -> Option<Coords> {
        if !self.in_order(a) {
            return self.encode(a);
        }
        if let Some((values, coords)) = self.encoded.get(i)
            && values.len() == a.0.len()
            && values.iter().zip(&a.0).all(|(v, (_, w))| same_bits(v, w))
        {
            return Some(coords.clone());
        }
        let coords = self.encode(a)?;
        if self.encoded.len() <= i {
            self.encoded.resize_with(i + 1, Default::default);
        }
        self.encoded[i] = (a.0.iter().map(|(_, v)| v.clone()).collect(), coords.clone());
        Some(coords)
    }

    fn decode(&self, coords: &[f64]) -> Assignment {
        Assignment(
            self.space
                .parameters
                .iter()
                .zip(&self.axes)
                .zip(coords)
                .map(|((p, axis), &c)| (p.name.clone(), axis.decode(c)))
                .collect(),
        )
    }

    /// `γ(n)`: how many of `n` observations form the good group.
    fn n_below(&self, n: usize) -> usize {
        match self.settings.gamma {
            None => n.div_ceil(10).min(25),
            Some(g) => ((g * n as f64).ceil() as usize).min(n),
        }
    }

    /// Optuna's split: the best `γ(n)` observations form `l`'s, the rest and the liars
    /// `g`'s, each in trial order (for the weights that ramp down older trials).
    fn split<'a>(&self, points: &'a [Point]) -> Split<'a> {
        if self.objectives.len() > 1 {
            return self.split_multi(points);
        }
        let mut ranked: Vec<(usize, f64)> = points
            .iter()
            .enumerate()
            .filter_map(|(i, p)| p.value.map(|v| (i, v)))
            .collect();
        let n = ranked.len();
        let n_below = self.n_below(n);
        let sign = match self.objective {
            ObjectiveType::Minimize => 1.0,
            ObjectiveType::Maximize => -1.0,
        };
        // The best n_below, ties going to the earlier trial (as a stable sort would rank
        // them): only which ones, not their order, so a selection suffices.
        let order = |a: &(usize, f64), b: &(usize, f64)| {
            (sign * a.1).total_cmp(&(sign * b.1)).then(a.0.cmp(&b.0))
        };
        if n_below > 0 && n_below < n {
            ranked.select_nth_unstable_by(n_below - 1, order);
        }
        let mut good = vec![false; points.len()];
        for &(i, _) in &ranked[..n_below] {
            good[i] = true;
        }
        Split::by(points, &good, None)
    }

    /// The multi-objective split (see the module doc): `γ(n)` observations by fronts and
    /// hypervolume; `l`'s weights from hypervolume contributions.
    fn split_multi<'a>(&self, points: &'a [Point]) -> Split<'a> {
        let observed: Vec<usize> = (0..points.len())
            .filter(|&i| points[i].value.is_some())
            .collect();
        let values: Vec<Vec<f64>> = observed.iter().map(|&i| points[i].values.clone()).collect();
        let mut good = vec![false; points.len()];
        for c in multi::select_below(&values, self.n_below(observed.len())) {
            good[observed[c]] = true;
        }
        let below_values: Vec<Vec<f64>> = (0..points.len())
            .filter(|&i| good[i])
            .map(|i| points[i].values.clone())
            .collect();
        Split::by(points, &good, Some(multi::weights_below(&below_values)))
    }

    /// One TPE suggestion, as coordinates.
    fn suggest_one(&self, points: &[Point], rng: &mut ChaCha8Rng) -> Vec<f64> {
        let Split {
            below,
            above,
            above_ids,
            below_weights,
        } = self.split(points);
        let active: Vec<usize> = (0..self.axes.len())
            .filter(|&j| !self.axes[j].is_fixed())
            .collect();
        let params = Params {
            prior_weight: self.settings.prior_weight,
            consider_endpoints: self.settings.consider_endpoints,
        };
        let dims = active.len();
        // Univariate: one group per parameter; multivariate: one group of all.
        let groups: Vec<Vec<usize>> = if self.settings.multivariate {
            vec![active]
        } else {
            active.into_iter().map(|j| vec![j]).collect()
        };
        let groups: Vec<Vec<usize>> = groups.into_iter().filter(|g| !g.is_empty()).collect();
        // The weights, the same for every group.
        let l_mixture = match below_weights {
            None => Mixture::new(below.len(), params),
            Some(w) => Mixture::weighted(below.len(), w, params),
        };
        let g_mixture = Mixture::new(above.len(), params);
        // Each group's `l` and `g`, the groups (univariate) on two threads when the kernels
        // are many; a single group (multivariate) splits its dimensions instead.
        let large = groups.len() >= 2 && points.len() * dims >= parzen::PARALLEL_MASSES;
        let models: Vec<Model> = halves::map_halves(&groups, large, |part| {
            part.iter()
                .map(|group| {
                    let axes: Vec<&Axis> = group.iter().map(|&j| &self.axes[j]).collect();
                    let columns = |rows: &[&[f64]]| -> Vec<Vec<f64>> {
                        group
                            .iter()
                            .map(|&j| rows.iter().map(|r| r[j]).collect())
                            .collect()
                    };
                    let l = Estimator::with_mixture(
                        &axes,
                        &columns(&below),
                        l_mixture.clone(),
                        params,
                        None,
                    );
                    let memos: Vec<&Mutex<KernelMemo>> =
                        group.iter().map(|&j| &self.memos.0[j]).collect();
                    let memo = Memo {
                        ids: &above_ids,
                        dims: &memos,
                    };
                    let g = Estimator::with_mixture(
                        &axes,
                        &columns(&above),
                        g_mixture.clone(),
                        params,
                        Some(memo),
                    );
                    Model { group, axes, l, g }
                })
                .collect()
        });
        // Every draw first, group after group as one thread would make them (scoring takes
        // no randomness), then the scores, on two threads when there are many kernel terms.
        let n_ei = self.settings.n_ei_candidates;
        let mut candidates: Vec<(usize, Vec<f64>)> = Vec::with_capacity(models.len() * n_ei);
        for (k, m) in models.iter().enumerate() {
            for _ in 0..n_ei {
                candidates.push((k, m.l.sample(rng)));
            }
        }
        let terms =
            candidates.len() * (below.len() + above.len()) * (dims / models.len().max(1) + 3);
        let scores = halves::map_halves(&candidates, terms >= PARALLEL_SCORE_TERMS, |part| {
            let mut scratch = Vec::new();
            let mut cells: Vec<(CellTerms, CellTerms)> =
                models.iter().map(|_| Default::default()).collect();
            part.iter()
                .map(|(k, x)| {
                    let m = &models[*k];
                    let (l_cells, g_cells) = &mut cells[*k];
                    m.l.log_pdf_with(&m.axes, x, &mut scratch, l_cells)
                        - m.g.log_pdf_with(&m.axes, x, &mut scratch, g_cells)
                })
                .collect()
        });
        let mut best: Vec<Option<(f64, &[f64])>> = vec![None; models.len()];
        for ((k, x), score) in candidates.iter().zip(scores) {
            // The first maximum wins, as with numpy's argmax; NaN never does.
            if best[*k].is_none_or(|(s, _)| score > s || s.is_nan()) {
                best[*k] = Some((score, x));
            }
        }
        let mut coords = vec![0.0; self.axes.len()];
        for (m, best) in models.iter().zip(best) {
            if let Some((_, x)) = best {
                for (&j, &c) in m.group.iter().zip(x) {
                    coords[j] = c;
                }
            }
        }
        coords
    }
}

impl Suggester for TpeSearch {
    /// Its memos and remembered coordinates are checked before use: only hints.
    fn reusable(&self) -> bool {
        true
    }

    fn suggest(&mut self, history: &[TrialView], n: usize) -> Result<Suggestions, AlgorithmError> {
        let first = history.len() as u64;
        let mut points = Vec::with_capacity(history.len() + n);
        for (i, t) in history.iter().enumerate() {
            points.extend(self.point(i, t));
        }
        let observed = points.iter().filter(|p| p.value.is_some()).count();
        if observed < self.settings.n_startup_trials {
            return Ok(Suggestions::Assignments(
                (0..n as u64).map(|i| self.random.nth(first + i)).collect(),
            ));
        }
        let mut out = Vec::with_capacity(n);
        for i in 0..n as u64 {
            let coords = self.suggest_one(&points, &mut rng_for(self.seed, first + i));
            let a = self.decode(&coords);
            // The suggestion joins the liars through its decoded value, as a created trial
            // would on the next call.
            if let Some(coords) = self.encode(&a) {
                points.push(Point {
                    coords,
                    value: None,
                    values: Vec::new(),
                });
            }
            out.push(a);
        }
        Ok(Suggestions::Assignments(out))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ferrotune_core::{Distribution, Domain, ParamValue, Parameter};

    fn space(domains: Vec<(&str, Domain)>) -> SearchSpace {
        SearchSpace {
            parameters: domains
                .into_iter()
                .map(|(name, domain)| Parameter {
                    name: name.into(),
                    domain,
                })
                .collect(),
        }
    }

    fn uniform(min: f64, max: f64) -> Domain {
        Domain::Double {
            min,
            max,
            step: None,
            distribution: Distribution::Uniform,
        }
    }

    fn square() -> SearchSpace {
        space(vec![("x", uniform(-1.0, 1.0)), ("y", uniform(-1.0, 1.0))])
    }

    fn quadratic(a: &Assignment) -> f64 {
        let x = a.get("x").unwrap().as_f64().unwrap();
        let y = a.get("y").unwrap().as_f64().unwrap();
        (x - 0.3).powi(2) + (y + 0.2).powi(2)
    }

    fn tpe(space: SearchSpace, seed: u64, multivariate: bool) -> TpeSearch {
        let settings = TpeSettings {
            multivariate,
            ..TpeSettings::default()
        };
        TpeSearch::new(space, ObjectiveType::Minimize, seed, settings).unwrap()
    }

    fn batch(s: &mut dyn Suggester, history: &[TrialView], n: usize) -> Vec<Assignment> {
        match s.suggest(history, n).unwrap() {
            Suggestions::Trials(_) | Suggestions::Wait => panic!("unexpected suggestion kind"),
            Suggestions::Assignments(a) => a,
            Suggestions::Exhausted => panic!("exhausted"),
        }
    }

    fn done(a: Assignment, value: f64) -> TrialView {
        TrialView {
            name: String::new(),
            parameters: a,
            status: TrialStatus::Succeeded,
            objective: Some(value),
            objectives: Vec::new(),
            intermediate: Vec::new(),
            labels: Default::default(),
        }
    }

    fn running(a: Assignment) -> TrialView {
        TrialView {
            status: TrialStatus::Running,
            objective: None,
            ..done(a, 0.0)
        }
    }

    /// `trials` sequential suggestions, each evaluated with `f` before the next.
    fn run(s: &mut dyn Suggester, trials: usize, f: impl Fn(&Assignment) -> f64) -> Vec<TrialView> {
        let mut history = Vec::new();
        for _ in 0..trials {
            let a = batch(s, &history, 1).pop().unwrap();
            let v = f(&a);
            history.push(done(a, v));
        }
        history
    }

    fn best(history: &[TrialView]) -> f64 {
        history
            .iter()
            .filter_map(|t| t.objective)
            .fold(f64::INFINITY, f64::min)
    }

    #[test]
    fn startup_is_random_search() {
        let mut t = tpe(square(), 5, false);
        let mut r = RandomSearch::new(square(), 5).unwrap();
        let history = run(&mut t, 10, quadratic);
        let want = batch(&mut r, &[], 10);
        let got: Vec<Assignment> = history.into_iter().map(|t| t.parameters).collect();
        assert_eq!(got, want);
    }

    #[test]
    fn deterministic_and_resumable_from_history_alone() {
        for multivariate in [false, true] {
            let a = run(&mut tpe(square(), 11, multivariate), 25, quadratic);
            let b = run(&mut tpe(square(), 11, multivariate), 25, quadratic);
            assert_eq!(a, b);
            let c = run(&mut tpe(square(), 12, multivariate), 25, quadratic);
            assert_ne!(a[10..], c[10..]);
            // A new instance given the first 18 trials suggests the 19th.
            let mut resumed = tpe(square(), 11, multivariate);
            assert_eq!(batch(&mut resumed, &a[..18], 1)[0], a[18].parameters);
        }
    }

    #[test]
    fn memos_of_another_history_change_no_suggestion() {
        for multivariate in [false, true] {
            let h1 = run(&mut tpe(square(), 1, multivariate), 60, quadratic);
            let h2 = run(&mut tpe(square(), 2, multivariate), 70, |a| -quadratic(a));
            let mut reversed = h2.clone();
            reversed.reverse();
            // Each history after another one (its memos hold the other's kernels, under
            // point ids that now mean other trials), against a fresh instance.
            let mut warm = tpe(square(), 3, multivariate);
            for h in [&h1, &h2, &reversed, &h2[..40].to_vec(), &h1] {
                let got = batch(&mut warm, h, 3);
                assert_eq!(got, batch(&mut tpe(square(), 3, multivariate), h, 3));
            }
        }
    }

    #[test]
    fn batches_equal_suggestions_made_one_created_trial_at_a_time() {
        for multivariate in [false, true] {
            let history = run(&mut tpe(square(), 3, multivariate), 15, quadratic);
            let whole = batch(&mut tpe(square(), 3, multivariate), &history, 4);
            let mut h = history.clone();
            let mut t = tpe(square(), 3, multivariate);
            for _ in 0..4 {
                let a = batch(&mut t, &h, 1).pop().unwrap();
                h.push(TrialView {
                    status: TrialStatus::Created,
                    ..running(a)
                });
            }
            let stepped: Vec<Assignment> = h[15..].iter().map(|t| t.parameters.clone()).collect();
            assert_eq!(whole, stepped);
        }
    }

    #[test]
    fn beats_random_search_on_a_quadratic() {
        // 60 sequential trials, 10 seeds. Random search's best is ≈ 0.02 on average (one
        // point in a disc of radius ~0.14 around the optimum); TPE concentrates its
        // candidates there. The margin (4×) is far from what the seeds below give.
        let seeds = 0..10u64;
        let mean = |f: &dyn Fn(u64) -> f64| seeds.clone().map(f).sum::<f64>() / 10.0;
        let random = mean(&|s| {
            best(&run(
                &mut RandomSearch::new(square(), s).unwrap(),
                60,
                quadratic,
            ))
        });
        let independent = mean(&|s| best(&run(&mut tpe(square(), s, false), 60, quadratic)));
        let joint = mean(&|s| best(&run(&mut tpe(square(), s, true), 60, quadratic)));
        assert!(
            independent * 4.0 < random,
            "tpe {independent} vs random {random}"
        );
        assert!(
            joint * 4.0 < random,
            "multivariate {joint} vs random {random}"
        );
    }

    #[test]
    fn maximisation_mirrors_minimisation() {
        // Maximising −f finds what minimising f finds, trial for trial.
        for multivariate in [false, true] {
            let min = run(&mut tpe(square(), 8, multivariate), 30, quadratic);
            let mut t = tpe(square(), 8, multivariate);
            t.objective = ObjectiveType::Maximize;
            let max = run(&mut t, 30, |a| -quadratic(a));
            for (a, b) in min.iter().zip(&max) {
                assert_eq!(a.parameters, b.parameters);
            }
            // And maximising f runs away from the optimum.
            let mut t = tpe(square(), 8, multivariate);
            t.objective = ObjectiveType::Maximize;
            let away = run(&mut t, 40, quadratic);
            let late: f64 = away[20..].iter().map(|t| t.objective.unwrap()).sum::<f64>() / 20.0;
            let early: f64 = away[..10].iter().map(|t| t.objective.unwrap()).sum::<f64>() / 10.0;
            assert!(late > early, "{late} vs {early}");
        }
    }

    #[test]
    fn learns_the_best_category() {
        let s = space(vec![
            ("x", uniform(0.0, 1.0)),
            (
                "opt",
                Domain::Categorical {
                    values: vec!["sgd".into(), "adam".into(), "rmsprop".into(), "lion".into()],
                },
            ),
        ]);
        let f = |a: &Assignment| {
            let x = a.get("x").unwrap().as_f64().unwrap();
            let penalty = if a.get("opt") == Some(&ParamValue::Str("adam".into())) {
                0.0
            } else {
                1.0
            };
            (x - 0.5).powi(2) + penalty
        };
        for multivariate in [false, true] {
            for seed in 0..3 {
                let h = run(&mut tpe(s.clone(), seed, multivariate), 40, f);
                let chosen = h[10..]
                    .iter()
                    .filter(|t| t.parameters.get("opt") == Some(&ParamValue::Str("adam".into())))
                    .count();
                // Random search would pick it a quarter of the time (7 or 8 of 30); TPE
                // picks it about two thirds of the time after the 10 random trials.
                assert!(
                    chosen > 15,
                    "multivariate {multivariate}, seed {seed}: {chosen} of 30"
                );
            }
        }
    }

    #[test]
    fn running_trials_are_avoided() {
        // A 21 × 21 grid of integers, where suggestions would pile up on the best cells:
        // with 3 trials running, 3 new suggestions are distinct and differ from the running
        // ones. Were the running trials ignored (as failed ones are), they would not be.
        let int = Domain::Int {
            min: 0,
            max: 20,
            step: None,
            distribution: Distribution::Uniform,
        };
        let s = space(vec![("x", int.clone()), ("y", int)]);
        let f = |a: &Assignment| {
            let v = |n| a.get(n).unwrap().as_f64().unwrap();
            (v("x") - 6.0).powi(2) + (v("y") - 14.0).powi(2)
        };
        for multivariate in [false, true] {
            let mut collisions_if_ignored = 0;
            for seed in 0..10 {
                let mut t = tpe(s.clone(), seed, multivariate);
                let history = run(&mut t, 20, f);
                let running_now = batch(&mut t, &history, 3);
                let with = |status| {
                    let mut h = history.clone();
                    h.extend(running_now.iter().cloned().map(|a| TrialView {
                        status,
                        ..running(a)
                    }));
                    batch(&mut tpe(s.clone(), seed, multivariate), &h, 3)
                };
                let collisions = |next: &[Assignment]| {
                    (0..next.len())
                        .filter(|&i| running_now.contains(&next[i]) || next[..i].contains(&next[i]))
                        .count()
                };
                let next = with(TrialStatus::Running);
                assert_eq!(
                    collisions(&next),
                    0,
                    "seed {seed}: {running_now:?} then {next:?}"
                );
                collisions_if_ignored += collisions(&with(TrialStatus::Failed));
            }
            if !multivariate {
                assert!(
                    collisions_if_ignored > 0,
                    "the test would not see a missing liar"
                );
            }
        }
    }

    #[test]
    fn liars_change_the_model_but_failures_do_not() {
        let history = run(&mut tpe(square(), 4, false), 15, quadratic);
        let extra = batch(&mut tpe(square(), 4, false), &history, 3);
        let with = |status| {
            let mut h = history.clone();
            h.extend(extra.iter().cloned().map(|a| TrialView {
                status,
                objective: None,
                ..done(a, 0.0)
            }));
            batch(&mut tpe(square(), 4, false), &h, 2)
        };
        // Ignored trials only shift k; compare against the same k with ignored trials.
        assert_eq!(with(TrialStatus::Failed), with(TrialStatus::Killed));
        assert_eq!(
            with(TrialStatus::Failed),
            with(TrialStatus::MetricsUnavailable)
        );
        assert_ne!(with(TrialStatus::Failed), with(TrialStatus::Running));
        assert_eq!(with(TrialStatus::Running), with(TrialStatus::Created));
    }

    #[test]
    fn early_stopped_trials_with_a_value_are_observations() {
        let history = run(&mut tpe(square(), 6, false), 12, quadratic);
        let mut stopped = history.clone();
        for t in &mut stopped[..5] {
            t.status = TrialStatus::EarlyStopped;
        }
        let a = batch(&mut tpe(square(), 6, false), &history, 2);
        let b = batch(&mut tpe(square(), 6, false), &stopped, 2);
        assert_eq!(a, b);
        // Without values they are ignored: fewer than 10 observations, so random again.
        for t in &mut stopped[..5] {
            t.objective = None;
        }
        let random = RandomSearch::new(square(), 6).unwrap();
        let c = batch(&mut tpe(square(), 6, false), &stopped, 1);
        assert_eq!(c[0], random.nth(12));
    }

    #[test]
    fn every_kind_of_parameter_is_suggested_inside_the_space() {
        let s = crate::testing::every_kind(&["a", "b"]);
        let f = |a: &Assignment| a.get("lr").unwrap().as_f64().unwrap().ln().abs();
        for multivariate in [false, true] {
            let h = run(&mut tpe(s.clone(), 2, multivariate), 40, f);
            assert!(h.iter().all(|t| s.contains(&t.parameters)));
            // log-scale learning: the late lrs are nearer 1 than the early ones.
            assert!(best(&h[10..]) < best(&h[..10]));
        }
    }

    #[test]
    fn settings_are_parsed_and_checked() {
        let pairs = |p: &[(&str, &str)]| -> Vec<(String, String)> {
            p.iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect()
        };
        let s = TpeSettings::from_settings(
            &pairs(&[
                ("random_state", "3"),
                ("n_startup_trials", "5"),
                ("n_ei_candidates", " 48 "),
                ("gamma", "0.25"),
                ("prior_weight", "2.5"),
                ("consider_endpoints", "True"),
            ]),
            true,
        )
        .unwrap();
        assert_eq!(
            s,
            TpeSettings {
                n_startup_trials: 5,
                n_ei_candidates: 48,
                gamma: Some(0.25),
                prior_weight: 2.5,
                consider_endpoints: true,
                multivariate: true,
            }
        );
        let errors = TpeSettings::from_settings(
            &pairs(&[
                ("n_startup_trials", "-1"),
                ("n_ei_candidates", "0"),
                ("gamma", "1.5"),
                ("prior_weight", "0"),
                ("consider_endpoints", "yes"),
                ("gamma", "abc"),
                ("prior_weight", "NaN"),
            ]),
            false,
        )
        .unwrap_err();
        let got: Vec<(String, String)> = errors.into_iter().map(|e| (e.path, e.message)).collect();
        let at = |i: usize, m: &str| {
            (
                format!("spec.algorithm.algorithmSettings[{i}].value"),
                m.to_string(),
            )
        };
        assert_eq!(
            got,
            [
                at(
                    0,
                    "n_startup_trials must be a non-negative integer, got \"-1\""
                ),
                at(
                    1,
                    "n_ei_candidates must be an integer from 1 to 10000, got \"0\""
                ),
                at(
                    2,
                    "gamma must be a number greater than 0 and at most 1 (the fraction of trials that form the good group), got \"1.5\""
                ),
                at(3, "prior_weight must be a positive number, got \"0\""),
                at(4, "consider_endpoints must be true or false, got \"yes\""),
                at(
                    5,
                    "gamma must be a number greater than 0 and at most 1 (the fraction of trials that form the good group), got \"abc\""
                ),
                at(6, "prior_weight must be a positive number, got \"NaN\""),
            ]
        );
    }

    #[test]
    fn gamma_fraction_sets_the_good_group() {
        let t = TpeSearch::new(
            square(),
            ObjectiveType::Minimize,
            0,
            TpeSettings {
                gamma: Some(0.5),
                ..TpeSettings::default()
            },
        )
        .unwrap();
        let points: Vec<Point> = (0..7)
            .map(|i| Point {
                coords: Coords::from_slice(&[i as f64 / 10.0, 0.0]),
                value: Some(-(i as f64)),
                values: Vec::new(),
            })
            .chain([Point {
                coords: Coords::from_slice(&[0.9, 0.0]),
                value: None,
                values: Vec::new(),
            }])
            .collect();
        let Split { below, above, .. } = t.split(&points);
        // ⌈0.5·7⌉ = 4 best (the last four, in trial order); the liar is in g.
        let xs = |v: Vec<&[f64]>| v.iter().map(|c| c[0]).collect::<Vec<_>>();
        assert_eq!(xs(below), [0.3, 0.4, 0.5, 0.6]);
        assert_eq!(xs(above), [0.0, 0.1, 0.2, 0.9]);
        let default = tpe(square(), 0, false);
        let below = default.split(&points).below;
        assert_eq!(xs(below), [0.6]); // min(⌈0.7⌉, 25) = 1
    }
    fn unit_cube(d: usize) -> SearchSpace {
        space(
            (0..d)
                .map(|i| (["x0", "x1", "x2", "x3", "x4", "x5"][i], uniform(0.0, 1.0)))
                .collect(),
        )
    }

    /// ZDT1 on the parameters in order (both objectives minimised).
    fn zdt1(a: &Assignment) -> Vec<f64> {
        let x: Vec<f64> = a.0.iter().map(|(_, v)| v.as_f64().unwrap()).collect();
        let g = 1.0 + 9.0 * x[1..].iter().sum::<f64>() / (x.len() - 1) as f64;
        vec![x[0], g * (1.0 - (x[0] / g).sqrt())]
    }

    fn multi_tpe(space: SearchSpace, seed: u64, directions: Vec<ObjectiveType>) -> TpeSearch {
        let settings = TpeSettings {
            multivariate: true,
            ..TpeSettings::default()
        };
        TpeSearch::with_objectives(space, directions, seed, settings).unwrap()
    }

    fn done_multi(a: Assignment, values: Vec<f64>) -> TrialView {
        TrialView {
            objective: values.first().copied(),
            objectives: values,
            ..done(a, 0.0)
        }
    }

    /// `trials` sequential suggestions, each evaluated with `f` (every objective).
    fn run_multi(
        s: &mut dyn Suggester,
        trials: usize,
        f: impl Fn(&Assignment) -> Vec<f64>,
    ) -> Vec<TrialView> {
        let mut history = Vec::new();
        for _ in 0..trials {
            let a = batch(s, &history, 1).pop().unwrap();
            let v = f(&a);
            history.push(done_multi(a, v));
        }
        history
    }

    fn zdt1_hypervolume(history: &[TrialView]) -> f64 {
        use ferrotune_core::pareto::{hypervolume, pareto_front};
        let points: Vec<Vec<f64>> = history.iter().filter_map(|t| t.values()).collect();
        let front: Vec<Vec<f64>> = pareto_front(&points, &[ObjectiveType::Minimize; 2])
            .into_iter()
            .map(|i| points[i].clone())
            .collect();
        hypervolume(&front, &[1.1, 11.0])
    }

    const MIN2: [ObjectiveType; 2] = [ObjectiveType::Minimize, ObjectiveType::Minimize];

    #[test]
    fn several_objectives_deterministic_resumable_and_batchable() {
        let a = run_multi(&mut multi_tpe(unit_cube(3), 11, MIN2.to_vec()), 30, zdt1);
        let b = run_multi(&mut multi_tpe(unit_cube(3), 11, MIN2.to_vec()), 30, zdt1);
        assert_eq!(a, b);
        let c = run_multi(&mut multi_tpe(unit_cube(3), 12, MIN2.to_vec()), 30, zdt1);
        assert_ne!(a[10..], c[10..]);
        let mut resumed = multi_tpe(unit_cube(3), 11, MIN2.to_vec());
        assert_eq!(batch(&mut resumed, &a[..21], 1)[0], a[21].parameters);
        // Not the single-objective model of the first objective.
        let single = run(&mut tpe(unit_cube(3), 11, true), 30, |a| zdt1(a)[0]);
        assert_ne!(single[10..], a[10..]);
        // A batch equals suggestions made one created trial at a time.
        let whole = batch(&mut multi_tpe(unit_cube(3), 11, MIN2.to_vec()), &a, 4);
        let mut h = a.clone();
        let mut t = multi_tpe(unit_cube(3), 11, MIN2.to_vec());
        for _ in 0..4 {
            let next = batch(&mut t, &h, 1).pop().unwrap();
            h.push(TrialView {
                status: TrialStatus::Created,
                ..running(next)
            });
        }
        let stepped: Vec<Assignment> = h[30..].iter().map(|t| t.parameters.clone()).collect();
        assert_eq!(whole, stepped);
    }

    #[test]
    fn several_objectives_need_every_value() {
        // γ = 1: every observation is in l, so that losing one always shows.
        let all_good = || {
            let settings = TpeSettings {
                gamma: Some(1.0),
                multivariate: true,
                ..TpeSettings::default()
            };
            TpeSearch::with_objectives(unit_cube(3), MIN2.to_vec(), 4, settings).unwrap()
        };
        let history = run_multi(&mut all_good(), 15, zdt1);
        let next = |h: &[TrialView]| batch(&mut all_good(), h, 2);
        // The trial with the best first objective: an end of the front, whose kernel weighs
        // (an observation off the front weighs 1e-12 and changes only its neighbours' bandwidths).
        let k = (0..history.len())
            .min_by(|&a, &b| history[a].objectives[0].total_cmp(&history[b].objectives[0]))
            .unwrap();
        let mut failed = history.clone();
        failed[k].status = TrialStatus::Failed;
        let as_failed = next(&failed);
        assert_ne!(as_failed, next(&history));
        let mut partial = history.clone();
        partial[k].objectives = Vec::new();
        assert_eq!(next(&partial), as_failed);
        let mut nan = history.clone();
        nan[k].objectives[1] = f64::NAN;
        assert_eq!(next(&nan), as_failed);
        // Running trials are liars (in g), unlike failed ones.
        let mut liar = history.clone();
        liar[k].status = TrialStatus::Running;
        assert_ne!(next(&liar), as_failed);
    }

    #[test]
    fn several_objectives_split_by_fronts_and_weigh_by_contribution() {
        let t = TpeSearch::with_objectives(
            square(),
            vec![ObjectiveType::Minimize, ObjectiveType::Maximize],
            0,
            TpeSettings {
                gamma: Some(0.5),
                ..TpeSettings::default()
            },
        )
        .unwrap();
        // Minimised values: (1, −1), (2, −2), (5, −5) on the front; (3, −1.5) and (6, 0)
        // behind. ⌈0.5·5⌉ = 3: the front, in trial order, weighted by contribution.
        let values = [[3.0, 1.5], [1.0, 1.0], [6.0, 0.0], [2.0, 2.0], [5.0, 5.0]];
        let points: Vec<Point> = values
            .iter()
            .enumerate()
            .map(|(i, v)| Point {
                coords: Coords::from_slice(&[i as f64 / 10.0, 0.0]),
                value: Some(v[0]),
                values: to_minimize(v, &t.objectives),
            })
            .chain([Point {
                coords: Coords::from_slice(&[0.9, 0.0]),
                value: None,
                values: Vec::new(),
            }])
            .collect();
        let Split {
            below,
            above,
            above_ids,
            below_weights,
        } = t.split(&points);
        // `g`'s point ids are the indices of its points.
        for (c, &i) in above.iter().zip(&above_ids) {
            assert_eq!(*c, points[i as usize].coords.as_slice());
        }
        assert_eq!(above_ids.len(), above.len());
        let xs = |v: Vec<&[f64]>| v.iter().map(|c| c[0]).collect::<Vec<_>>();
        assert_eq!(xs(below), [0.1, 0.3, 0.4]);
        assert_eq!(xs(above), [0.0, 0.2, 0.9]);
        // Reference (5.5, −0.9): exclusive boxes 1·0.1, 3·1 and 0.5·3, over the largest.
        let w = below_weights.unwrap();
        let want = [0.1 / 3.0, 1.0, 0.5];
        assert!(
            w.iter().zip(want).all(|(a, b)| (a - b).abs() < 1e-9),
            "{w:?}"
        );
    }

    #[test]
    fn several_objectives_mirror_under_maximisation() {
        let min = run_multi(&mut multi_tpe(unit_cube(3), 8, MIN2.to_vec()), 25, zdt1);
        let directions = vec![ObjectiveType::Maximize, ObjectiveType::Minimize];
        let max = run_multi(&mut multi_tpe(unit_cube(3), 8, directions), 25, |a| {
            let v = zdt1(a);
            vec![-v[0], v[1]]
        });
        for (a, b) in min.iter().zip(&max) {
            assert_eq!(a.parameters, b.parameters);
        }
    }

    #[test]
    fn several_objectives_suggest_every_kind_inside_the_space() {
        let s = crate::testing::every_kind(&["a", "b"]);
        let f = |a: &Assignment| {
            let v = |n| a.get(n).unwrap().as_f64().unwrap_or(0.0);
            vec![v("lr").ln().abs() + v("m"), v("layers") - v("batch")]
        };
        let directions = vec![ObjectiveType::Minimize, ObjectiveType::Maximize];
        let h = run_multi(&mut multi_tpe(s.clone(), 2, directions), 40, f);
        assert!(h.iter().all(|t| s.contains(&t.parameters)));
    }

    #[test]
    fn several_objectives_beat_random_search_on_zdt1() {
        // 200 sequential trials, 5 variables, 4 seeds; hypervolume of the front against
        // (1.1, 11) (the true front's is ≈ 11.77). Measured over seeds 0..10: random search
        // 9.87–10.71 (mean 10.23), multivariate TPE 11.22–11.47 (mean 11.34); the margin
        // asked is 0.4 on the mean of 4 seeds.
        let seeds = 0..4u64;
        let mean = |f: &dyn Fn(u64) -> f64| seeds.clone().map(f).sum::<f64>() / 4.0;
        let random = mean(&|s| {
            let mut r = RandomSearch::new(unit_cube(5), s).unwrap();
            zdt1_hypervolume(&run_multi(&mut r, 200, zdt1))
        });
        let tpe = mean(&|s| {
            let mut t = multi_tpe(unit_cube(5), s, MIN2.to_vec());
            zdt1_hypervolume(&run_multi(&mut t, 200, zdt1))
        });
        assert!(tpe > random + 0.4, "tpe {tpe} vs random {random}");
    }
}
