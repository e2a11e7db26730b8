//! NSGA-II (Deb et al. 2002), after Optuna's `NSGAIISampler`: a genetic algorithm that
//! keeps the best trials by non-dominated rank, then crowding distance, and breeds new
//! trials from them by uniform crossover and mutation. With one objective it is a plain
//! elitist GA.
//!
//! **Generations from the history alone.** Trials in history (creation) order belong to
//! generation `index / population_size`, so a restarted controller needs no saved state.
//! Generation 0 is random search (the very trials `random` would suggest with the same
//! seed). The members of a generation are its *completed* trials: Succeeded or
//! EarlyStopped with every objective's value present and finite; failed, killed,
//! metric-less and running trials are not members, so a failure just leaves a generation
//! smaller. The elite population is built up generation by generation: `elite(0)` is the
//! members of generation 0, `elite(k)` the best `population_size` of `elite(k − 1)` and the
//! members of generation `k` (whole fronts by non-dominated rank, the last one cut by
//! crowding distance, largest first; ties keep trial order). Generation `g ≥ 1` breeds from
//! `elite(g − 1)`; when that is empty (nothing completed yet) its trials are random.
//!
//! **Parallel trials.** A generation does not wait for the previous one: when generation
//! `g` is suggested while trials of generation `g − 1` still run, its parents are chosen
//! among the trials completed by then (Optuna instead keeps breeding from the older elite
//! until `population_size` trials of the generation have completed). Trials completed
//! later still join the elite for the generations after.
//!
//! **A child.** Binary tournaments (lower rank wins, then larger crowding distance, then the
//! first drawn: Deb's crowded comparison, where Optuna compares by dominance only) pick two
//! different parents. With probability `crossover_prob` the child
//! takes each parameter from the second parent with probability `swapping_prob` and from
//! the first otherwise (uniform crossover; the parents' values are kept exactly, snapped
//! into the space if it was edited), else it copies the first parent (as it does when the
//! elite has a single member). Then each parameter is, with probability `mutation_prob`
//! (default 1 / number of parameters), drawn afresh as random search draws it (Optuna
//! resamples it from its independent sampler).
//!
//! **Randomness.** The trial at history index `k` draws from ChaCha8 stream `k` of the seed,
//! so the sequence depends only on the seed and the trials' results: batches give what one
//! suggestion at a time gives, and a resumed experiment continues it.

use crate::domain::{snap, value_at};
use crate::random::rng_for;
use crate::{AlgorithmError, RandomSearch, Suggester, Suggestions};
use ferrotune_core::pareto::non_dominated_sort;
use ferrotune_core::{
    Assignment, FieldError, ObjectiveType, ParamValue, SearchSpace, TrialStatus, TrialView,
};
use rand::RngExt;
use rand_chacha::ChaCha8Rng;

/// Settings `nsga2` accepts (Optuna's names).
pub const SETTINGS: &[&str] = &[
    "population_size",
    "mutation_prob",
    "crossover_prob",
    "swapping_prob",
    "random_state",
];

/// The largest `population_size` accepted: a generation needing more trials never ends.
pub const MAX_POPULATION_SIZE: usize = 1_000_000;

/// NSGA-II's settings, with Optuna's defaults.
#[derive(Debug, Clone, PartialEq)]
pub struct Nsga2Settings {
    /// Trials per generation, and the size of the elite population (default 50).
    pub population_size: usize,
    /// Chance that each parameter of a child is drawn afresh; `None` (default) for
    /// 1 / number of parameters.
    pub mutation_prob: Option<f64>,
    /// Chance that a child is bred by crossover rather than copied (default 0.9).
    pub crossover_prob: f64,
    /// Chance that uniform crossover takes a parameter from the second parent (default 0.5).
    pub swapping_prob: f64,
}

impl Default for Nsga2Settings {
    fn default() -> Self {
        Nsga2Settings {
            population_size: 50,
            mutation_prob: None,
            crossover_prob: 0.9,
            swapping_prob: 0.5,
        }
    }
}

impl Nsga2Settings {
    /// The settings of `spec.algorithm.algorithmSettings` (`random_state` is the seed's
    /// business, see `seed_from_settings`); every problem is reported with its path.
    pub fn from_settings(settings: &[(String, String)]) -> Result<Self, Vec<FieldError>> {
        let s = Nsga2Settings::default();
        crate::settings::apply(s, settings, Nsga2Settings::set, expectation)
    }

    /// Applies one setting; false when its value is not acceptable. Other names are left
    /// to their owners.
    fn set(&mut self, key: &str, v: &str) -> bool {
        let probability = |v: &str| v.parse::<f64>().ok().filter(|p| (0.0..=1.0).contains(p));
        match key {
            "population_size" => match v.parse() {
                Ok(n) if (2..=MAX_POPULATION_SIZE).contains(&n) => self.population_size = n,
                _ => return false,
            },
            "mutation_prob" if v.eq_ignore_ascii_case("none") => self.mutation_prob = None,
            "mutation_prob" => match probability(v) {
                Some(p) => self.mutation_prob = Some(p),
                None => return false,
            },
            "crossover_prob" => match probability(v) {
                Some(p) => self.crossover_prob = p,
                None => return false,
            },
            "swapping_prob" => match probability(v) {
                Some(p) => self.swapping_prob = p,
                None => return false,
            },
            _ => {}
        }
        true
    }
}

/// What is wrong with one NSGA-II setting's value (`None` when it is fine, or not NSGA-II's).
pub(crate) fn setting_problem(key: &str, value: &str) -> Option<String> {
    (!Nsga2Settings::default().set(key, value.trim()))
        .then(|| format!("{}, got {value:?}", expectation(key)))
}

/// What a setting's value must be, for messages.
fn expectation(key: &str) -> String {
    match key {
        "population_size" => format!(
            "population_size must be a whole number from 2 to {MAX_POPULATION_SIZE} (trials \
             per generation)"
        ),
        "mutation_prob" => "mutation_prob must be a number from 0 to 1, or None for 1 / the \
                            number of parameters"
            .into(),
        "crossover_prob" => "crossover_prob must be a number from 0 to 1".into(),
        "swapping_prob" => "swapping_prob must be a number from 0 to 1".into(),
        _ => format!("{key} is not an NSGA-II setting"),
    }
}

/// NSGA-II over a search space, reproducible from a seed and the history.
#[derive(Debug, Clone)]
pub struct Nsga2 {
    space: SearchSpace,
    directions: Vec<ObjectiveType>,
    seed: u64,
    settings: Nsga2Settings,
    random: RandomSearch,
}

/// A completed trial as NSGA-II sees it.
#[derive(Debug, Clone)]
struct Member {
    /// Its index in the history.
    trial: usize,
    /// Every objective's value, in spec order.
    values: Vec<f64>,
    /// Its parameters in the space's order, each an allowed value.
    genes: Vec<ParamValue>,
}

/// The elite population ready for tournaments: each member's rank and crowding distance.
struct Parents {
    members: Vec<Member>,
    rank: Vec<usize>,
    crowding: Vec<f64>,
}

impl Nsga2 {
    /// Checks the settings (as `from_settings` would) and that every domain can be
    /// sampled. `objectives` are the directions, in spec order (none means one objective to
    /// minimise).
    pub fn new(
        space: SearchSpace,
        objectives: Vec<ObjectiveType>,
        seed: u64,
        settings: Nsga2Settings,
    ) -> Result<Self, AlgorithmError> {
        let probability = |p: f64| (0.0..=1.0).contains(&p);
        if !(2..=MAX_POPULATION_SIZE).contains(&settings.population_size)
            || !settings.mutation_prob.is_none_or(probability)
            || !probability(settings.crossover_prob)
            || !probability(settings.swapping_prob)
        {
            return Err(AlgorithmError::Settings(vec![FieldError::new(
                "spec.algorithm.algorithmSettings",
                format!("NSGA-II settings out of range: {settings:?}"),
            )]));
        }
        let random = RandomSearch::new(space.clone(), seed)?;
        let directions = if objectives.is_empty() {
            vec![ObjectiveType::Minimize]
        } else {
            objectives
        };
        Ok(Nsga2 {
            space,
            directions,
            seed,
            settings,
            random,
        })
    }

    /// The settings in use.
    pub fn settings(&self) -> &Nsga2Settings {
        &self.settings
    }

    /// The trial as a member, if it completed (see the module doc) with parameters that fit.
    fn member(&self, trial: usize, t: &TrialView) -> Option<Member> {
        if !matches!(t.status, TrialStatus::Succeeded | TrialStatus::EarlyStopped) {
            return None;
        }
        let values = t.values()?;
        if values.len() != self.directions.len() || values.iter().any(|v| !v.is_finite()) {
            return None;
        }
        let genes = self
            .space
            .parameters
            .iter()
            .map(|p| snap(&p.domain, t.parameters.get(&p.name)?))
            .collect::<Option<Vec<_>>>()?;
        Some(Member {
            trial,
            values,
            genes,
        })
    }

    /// The best `population_size` of `pool` (in trial order): whole fronts, the last one
    /// cut by crowding distance.
    fn select(&self, pool: Vec<Member>) -> Vec<Member> {
        let size = self.settings.population_size;
        if pool.len() <= size {
            return pool;
        }
        let values: Vec<Vec<f64>> = pool.iter().map(|m| m.values.clone()).collect();
        let mut keep = Vec::with_capacity(size);
        for front in non_dominated_sort(&values, &self.directions) {
            if keep.len() + front.len() <= size {
                keep.extend(front);
            } else {
                let distance = crowding(&values, &front);
                let mut order: Vec<usize> = (0..front.len()).collect();
                // Stable: equal distances keep trial order.
                order.sort_by(|&a, &b| distance[b].total_cmp(&distance[a]));
                let room = size - keep.len();
                keep.extend(order[..room].iter().map(|&o| front[o]));
            }
            if keep.len() >= size {
                break;
            }
        }
        keep.sort_unstable();
        let mut slots: Vec<Option<Member>> = pool.into_iter().map(Some).collect();
        keep.into_iter().filter_map(|i| slots[i].take()).collect()
    }

    /// Ranks and crowding distances of the elite, for tournaments.
    fn parents(&self, members: Vec<Member>) -> Parents {
        let values: Vec<Vec<f64>> = members.iter().map(|m| m.values.clone()).collect();
        let mut rank = vec![0; members.len()];
        let mut distance = vec![0.0; members.len()];
        for (r, front) in non_dominated_sort(&values, &self.directions)
            .into_iter()
            .enumerate()
        {
            for (&i, d) in front.iter().zip(crowding(&values, &front)) {
                rank[i] = r;
                distance[i] = d;
            }
        }
        Parents {
            members,
            rank,
            crowding: distance,
        }
    }

    /// One child of the parents (not empty).
    fn child(&self, parents: &Parents, rng: &mut ChaCha8Rng) -> Assignment {
        let n = parents.members.len();
        let crossover = rng.random::<f64>() < self.settings.crossover_prob;
        let first = tournament(parents, None, rng);
        let mut genes = parents.members[first].genes.clone();
        if crossover && n >= 2 {
            let second = &parents.members[tournament(parents, Some(first), rng)];
            for (gene, other) in genes.iter_mut().zip(&second.genes) {
                if rng.random::<f64>() < self.settings.swapping_prob {
                    *gene = other.clone();
                }
            }
        }
        let d = self.space.parameters.len();
        let mutation_prob = self.settings.mutation_prob.unwrap_or(1.0 / d.max(1) as f64);
        for (gene, p) in genes.iter_mut().zip(&self.space.parameters) {
            if rng.random::<f64>() < mutation_prob {
                *gene = value_at(&p.domain, rng.random::<f64>());
            }
        }
        Assignment(
            self.space
                .parameters
                .iter()
                .zip(genes)
                .map(|(p, g)| (p.name.clone(), g))
                .collect(),
        )
    }
}

/// A binary tournament among the parents (other than `excluded`): two drawn with
/// replacement, the lower rank wins, then the larger crowding distance, then the first.
fn tournament(parents: &Parents, excluded: Option<usize>, rng: &mut ChaCha8Rng) -> usize {
    let n = parents.members.len();
    let mut draw = || match excluded {
        Some(x) if n >= 2 => {
            let i = rng.random_range(0..n - 1);
            if i >= x { i + 1 } else { i }
        }
        _ => rng.random_range(0..n),
    };
    let (a, b) = (draw(), draw());
    let better = parents.rank[b] < parents.rank[a]
        || (parents.rank[b] == parents.rank[a] && parents.crowding[b] > parents.crowding[a]);
    if better { b } else { a }
}

/// Deb's crowding distance of each point of `front` (Optuna's: per objective, the gap
/// between its neighbours over the front's range; the extremes infinite; an objective
/// where the front has no range adds nothing). Computed on halves so that no difference
/// overflows.
fn crowding(values: &[Vec<f64>], front: &[usize]) -> Vec<f64> {
    let mut distance = vec![0.0; front.len()];
    let Some(&first) = front.first() else {
        return distance;
    };
    for j in 0..values[first].len() {
        let column: Vec<f64> = front
            .iter()
            .map(|&i| values[i].get(j).map_or(0.0, |x| x / 2.0))
            .collect();
        let v = |o: usize| column[o];
        let mut order: Vec<usize> = (0..front.len()).collect();
        order.sort_by(|&a, &b| v(a).total_cmp(&v(b)));
        let (lo, hi) = (order[0], order[order.len() - 1]);
        let width = v(hi) - v(lo);
        if width.is_nan() || width <= 0.0 {
            continue;
        }
        distance[lo] = f64::INFINITY;
        distance[hi] = f64::INFINITY;
        for w in order.windows(3) {
            distance[w[1]] += (v(w[2]) - v(w[0])) / width;
        }
    }
    distance
}

impl Suggester for Nsga2 {
    fn suggest(&mut self, history: &[TrialView], n: usize) -> Result<Suggestions, AlgorithmError> {
        let size = self.settings.population_size;
        let first = history.len();
        // Members by generation (only generations before the last one asked for matter).
        let generations = (first + n).div_ceil(size);
        let mut members: Vec<Vec<Member>> = vec![Vec::new(); generations];
        for (i, t) in history.iter().enumerate() {
            if let Some(m) = self.member(i, t) {
                members[i / size].push(m);
            }
        }
        // The elite of generation `done` (none yet), built up as later trials need it.
        let mut done: Option<usize> = None;
        let mut parents = Parents {
            members: Vec::new(),
            rank: Vec::new(),
            crowding: Vec::new(),
        };
        let mut out = Vec::with_capacity(n);
        for k in first..first + n {
            let g = k / size;
            if g == 0 {
                out.push(self.random.nth(k as u64));
                continue;
            }
            if done != Some(g - 1) {
                let mut elite = std::mem::take(&mut parents.members);
                let mut next = done.map_or(0, |d| d + 1);
                while next < g {
                    elite.append(&mut members[next]);
                    elite.sort_by_key(|m| m.trial);
                    elite = self.select(elite);
                    next += 1;
                }
                parents = self.parents(elite);
                done = Some(g - 1);
            }
            if parents.members.is_empty() {
                out.push(self.random.nth(k as u64));
            } else {
                out.push(self.child(&parents, &mut rng_for(self.seed, k as u64)));
            }
        }
        Ok(Suggestions::Assignments(out))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ObjectiveType::{Maximize, Minimize};
    use ferrotune_core::pareto::{hypervolume, pareto_front, to_minimize};
    use ferrotune_core::{Distribution, Domain, Parameter};

    fn unit_space(d: usize) -> SearchSpace {
        SearchSpace {
            parameters: (0..d)
                .map(|i| Parameter {
                    name: format!("x{i}"),
                    domain: Domain::Double {
                        min: 0.0,
                        max: 1.0,
                        step: None,
                        distribution: Distribution::Uniform,
                    },
                })
                .collect(),
        }
    }

    fn xs(a: &Assignment) -> Vec<f64> {
        a.0.iter().map(|(_, v)| v.as_f64().unwrap()).collect()
    }

    /// ZDT1 (both objectives minimised; the front is f2 = 1 − √f1 where x1.. = 0).
    fn zdt1(a: &Assignment) -> Vec<f64> {
        let x = xs(a);
        let g = 1.0 + 9.0 * x[1..].iter().sum::<f64>() / (x.len() - 1) as f64;
        vec![x[0], g * (1.0 - (x[0] / g).sqrt())]
    }

    fn nsga2(space: SearchSpace, seed: u64, settings: Nsga2Settings) -> Nsga2 {
        Nsga2::new(space, vec![Minimize, Minimize], seed, settings).unwrap()
    }

    fn small() -> Nsga2Settings {
        Nsga2Settings {
            population_size: 8,
            ..Nsga2Settings::default()
        }
    }

    fn batch(s: &mut dyn Suggester, history: &[TrialView], n: usize) -> Vec<Assignment> {
        match s.suggest(history, n).unwrap() {
            Suggestions::Trials(_) | Suggestions::Wait => panic!("unexpected suggestion kind"),
            Suggestions::Assignments(a) => a,
            Suggestions::Exhausted => panic!("exhausted"),
        }
    }

    fn done(a: Assignment, values: Vec<f64>) -> TrialView {
        TrialView {
            name: String::new(),
            parameters: a,
            status: TrialStatus::Succeeded,
            objective: values.first().copied(),
            objectives: if values.len() > 1 { values } else { Vec::new() },
            intermediate: Vec::new(),
            labels: Default::default(),
        }
    }

    /// `trials` trials, suggested `per_call` at a time, each batch evaluated before the
    /// next call.
    fn run(
        s: &mut dyn Suggester,
        trials: usize,
        per_call: usize,
        f: impl Fn(&Assignment) -> Vec<f64>,
    ) -> Vec<TrialView> {
        let mut history = Vec::new();
        while history.len() < trials {
            let n = per_call.min(trials - history.len());
            for a in batch(s, &history, n) {
                let v = f(&a);
                history.push(done(a, v));
            }
        }
        history
    }

    fn zdt1_hypervolume(history: &[TrialView]) -> f64 {
        let points: Vec<Vec<f64>> = history.iter().filter_map(|t| t.values()).collect();
        let front: Vec<Vec<f64>> = pareto_front(&points, &[Minimize, Minimize])
            .into_iter()
            .map(|i| points[i].clone())
            .collect();
        hypervolume(&front, &[1.1, 11.0])
    }

    #[test]
    fn generation_zero_is_random_search() {
        let history = run(&mut nsga2(unit_space(3), 4, small()), 8, 1, zdt1);
        let want = batch(&mut RandomSearch::new(unit_space(3), 4).unwrap(), &[], 8);
        let got: Vec<Assignment> = history.into_iter().map(|t| t.parameters).collect();
        assert_eq!(got, want);
    }

    #[test]
    fn deterministic_and_resumable_from_history_alone() {
        let a = run(&mut nsga2(unit_space(3), 11, small()), 40, 1, zdt1);
        let b = run(&mut nsga2(unit_space(3), 11, small()), 40, 1, zdt1);
        assert_eq!(a, b);
        let c = run(&mut nsga2(unit_space(3), 12, small()), 40, 1, zdt1);
        assert_ne!(a[8..], c[8..]);
        // A new instance given the first 29 trials suggests the 30th.
        let mut resumed = nsga2(unit_space(3), 11, small());
        assert_eq!(batch(&mut resumed, &a[..29], 1)[0], a[29].parameters);
        // Children are not random search's trials.
        let random = RandomSearch::new(unit_space(3), 11).unwrap();
        assert!((8..40).all(|k| a[k].parameters != random.nth(k as u64)));
    }

    #[test]
    fn batches_equal_suggestions_made_one_created_trial_at_a_time() {
        let history = run(&mut nsga2(unit_space(3), 3, small()), 13, 1, zdt1);
        // 13 trials: the batch spans the end of generation 1 and all of generation 2.
        let whole = batch(&mut nsga2(unit_space(3), 3, small()), &history, 11);
        let mut h = history.clone();
        let mut s = nsga2(unit_space(3), 3, small());
        for _ in 0..11 {
            let a = batch(&mut s, &h, 1).pop().unwrap();
            h.push(TrialView {
                status: TrialStatus::Created,
                ..done(a, vec![])
            });
        }
        let stepped: Vec<Assignment> = h[13..].iter().map(|t| t.parameters.clone()).collect();
        assert_eq!(whole, stepped);
    }

    #[test]
    fn failures_and_running_trials_are_not_members() {
        let history = run(&mut nsga2(unit_space(3), 5, small()), 16, 1, zdt1);
        let next = |h: &[TrialView]| batch(&mut nsga2(unit_space(3), 5, small()), h, 4);
        let base = next(&history);
        // Trials without every value, or with a non-finite one, or not succeeded, at a
        // point far from the front: the same as if they had failed.
        let mut spoiled = history.clone();
        spoiled[3].status = TrialStatus::Failed;
        let as_failed = next(&spoiled);
        let changes: [fn(&mut TrialView); 7] = [
            |t: &mut TrialView| t.status = TrialStatus::Killed,
            |t: &mut TrialView| t.status = TrialStatus::Running,
            |t: &mut TrialView| t.status = TrialStatus::MetricsUnavailable,
            |t: &mut TrialView| t.objectives = Vec::new(),
            |t: &mut TrialView| t.objectives[1] = f64::NAN,
            |t: &mut TrialView| t.objectives[0] = f64::INFINITY,
            |t: &mut TrialView| t.parameters = Assignment::default(),
        ];
        for change in changes {
            let mut h = history.clone();
            change(&mut h[3]);
            assert_eq!(next(&h), as_failed);
        }
        // Early-stopped trials with values count as succeeded ones.
        let mut stopped = history.clone();
        for t in &mut stopped[..6] {
            t.status = TrialStatus::EarlyStopped;
        }
        assert_eq!(next(&stopped), base);
        // With every trial failed, there is nothing to breed from: random search.
        let failed: Vec<TrialView> = history
            .iter()
            .map(|t| TrialView {
                status: TrialStatus::Failed,
                ..t.clone()
            })
            .collect();
        let random = RandomSearch::new(unit_space(3), 5).unwrap();
        let want: Vec<Assignment> = (16..20).map(|k| random.nth(k)).collect();
        assert_eq!(next(&failed), want);
    }

    #[test]
    fn selection_keeps_fronts_then_the_least_crowded() {
        let s = Nsga2::new(
            unit_space(1),
            vec![Minimize, Maximize],
            0,
            Nsga2Settings {
                population_size: 4,
                ..Nsga2Settings::default()
            },
        )
        .unwrap();
        let member = |trial, values: [f64; 2]| Member {
            trial,
            values: values.to_vec(),
            genes: vec![ParamValue::Float(0.0)],
        };
        // Minimising the first and maximising the second: front 0 is (0, 0), (1, 0.1),
        // (2, 0.2), (4, 3); (3, 0.15) is behind (2, 0.2). Four places: the first front.
        let pool = vec![
            member(0, [0.0, 0.0]),
            member(1, [1.0, 0.1]),
            member(2, [2.0, 0.2]),
            member(3, [3.0, 0.15]),
            member(4, [4.0, 3.0]),
        ];
        let kept: Vec<usize> = s.select(pool.clone()).iter().map(|m| m.trial).collect();
        assert_eq!(kept, [0, 1, 2, 4]);
        // Three places: the extremes (infinite distance) and the less crowded of 1 and 2
        // (trial 2: (4 − 1)/4 + (3 − 0.1)/3 against trial 1: 2/4 + 0.2/3).
        let s3 = Nsga2 {
            settings: Nsga2Settings {
                population_size: 3,
                ..Nsga2Settings::default()
            },
            ..s
        };
        let kept: Vec<usize> = s3.select(pool).iter().map(|m| m.trial).collect();
        assert_eq!(kept, [0, 2, 4]);
        let p = s3.parents(vec![
            member(0, [0.0, 0.0]),
            member(1, [1.0, 0.1]),
            member(3, [3.0, 0.05]),
        ]);
        assert_eq!(p.rank, [0, 0, 1]);
        assert_eq!(p.crowding[0], f64::INFINITY);
        assert_eq!(p.crowding[2], 0.0);
    }

    #[test]
    fn crowding_distance_follows_deb() {
        let values = vec![
            vec![0.0, 3.0],
            vec![1.0, 2.0],
            vec![3.0, 0.0],
            vec![f64::MAX, -f64::MAX],
        ];
        let d = crowding(&values, &[0, 1, 2]);
        assert_eq!(d[0], f64::INFINITY);
        assert!((d[1] - (3.0 / 3.0 + 3.0 / 3.0)).abs() < 1e-12, "{d:?}");
        assert_eq!(d[2], f64::INFINITY);
        let d = crowding(&values, &[0, 1, 2, 3]);
        assert!(d.iter().all(|x| !x.is_nan()), "{d:?}");
        assert_eq!(crowding(&values, &[1]), [0.0]);
    }

    #[test]
    fn every_kind_of_parameter_is_suggested_inside_the_space() {
        let s = crate::testing::every_kind(&["a", "b", "c"]);
        let f = |a: &Assignment| {
            let lr = a.get("lr").unwrap().as_f64().unwrap();
            let cat = match a.get("opt").unwrap() {
                ParamValue::Str(c) if c == "b" => 0.0,
                _ => 1.0,
            };
            vec![
                lr.ln().abs() + cat,
                a.get("layers").unwrap().as_f64().unwrap(),
            ]
        };
        let settings = Nsga2Settings {
            population_size: 10,
            mutation_prob: Some(0.5),
            ..Nsga2Settings::default()
        };
        let h = run(&mut nsga2(s.clone(), 2, settings), 80, 3, f);
        assert!(h.iter().all(|t| s.contains(&t.parameters)));
        // Categories are inherited: "b" (better in the first objective) takes over.
        let bs = |h: &[TrialView]| {
            h.iter()
                .filter(|t| t.parameters.get("opt") == Some(&ParamValue::Str("b".into())))
                .count()
        };
        assert!(
            bs(&h[60..]) > bs(&h[..20]),
            "{} {}",
            bs(&h[60..]),
            bs(&h[..20])
        );
    }

    #[test]
    fn an_edited_space_is_respected() {
        // History from a wider space: parents' values are snapped into the new one, and
        // trials with a value the new space cannot hold are not members.
        let wide = unit_space(2);
        let mut narrow = unit_space(2);
        narrow.parameters[0].domain = Domain::Double {
            min: 0.2,
            max: 0.4,
            step: Some(0.1),
            distribution: Distribution::Uniform,
        };
        let mut history = run(&mut nsga2(wide, 1, small()), 16, 1, zdt1);
        history[2].parameters.0[1].1 = ParamValue::Str("gone".into());
        let next = batch(&mut nsga2(narrow.clone(), 1, small()), &history, 20);
        assert!(next.iter().all(|a| narrow.contains(a)), "{next:?}");
    }

    #[test]
    fn one_objective_is_a_genetic_algorithm() {
        let sphere = |a: &Assignment| vec![xs(a).iter().map(|x| (x - 0.3).powi(2)).sum()];
        let best = |h: &[TrialView]| {
            h.iter()
                .filter_map(|t| t.objective)
                .fold(f64::INFINITY, f64::min)
        };
        let settings = Nsga2Settings {
            population_size: 20,
            ..Nsga2Settings::default()
        };
        let (mut ga, mut random) = (0.0, 0.0);
        for seed in 0..5 {
            let mut s = Nsga2::new(unit_space(4), vec![Minimize], seed, settings.clone()).unwrap();
            ga += best(&run(&mut s, 200, 20, sphere));
            let mut r = RandomSearch::new(unit_space(4), seed).unwrap();
            random += best(&run(&mut r, 200, 20, sphere));
        }
        // Summed best over 5 seeds: ≈ 0.025 against random search's ≈ 0.10.
        assert!(ga * 2.0 < random, "ga {ga} vs random {random}");
    }

    #[test]
    fn beats_random_search_on_zdt1() {
        // 400 trials (8 generations of 50), 5 variables, 4 seeds. Random search's front
        // stays far from the true one (g near 1 needs all four tail variables near 0 at
        // once); NSGA-II's elitism and crossover gather them. Against (1.1, 11) the true
        // front's hypervolume is ≈ 11.77; over seeds 0..12, random search reaches 10.1–10.8
        // (mean 10.43) and NSGA-II 10.8–11.4 (mean 11.13), so the margin asked (0.4 on the
        // mean of 4 seeds) leaves room.
        let seeds = 0..4u64;
        let mean = |f: &dyn Fn(u64) -> f64| seeds.clone().map(f).sum::<f64>() / 4.0;
        let random = mean(&|s| {
            let mut r = RandomSearch::new(unit_space(5), s).unwrap();
            zdt1_hypervolume(&run(&mut r, 400, 50, zdt1))
        });
        let ga = mean(&|s| {
            let mut g = nsga2(unit_space(5), s, Nsga2Settings::default());
            zdt1_hypervolume(&run(&mut g, 400, 50, zdt1))
        });
        assert!(ga > random + 0.4, "nsga2 {ga} vs random {random}");
    }

    #[test]
    fn maximised_objectives_are_mirrored() {
        // Maximising −f breeds what minimising f breeds, trial for trial.
        let min = run(&mut nsga2(unit_space(3), 8, small()), 30, 1, zdt1);
        let mut s = Nsga2::new(unit_space(3), vec![Maximize, Minimize], 8, small()).unwrap();
        let max = run(&mut s, 30, 1, |a| {
            let v = zdt1(a);
            vec![-v[0], v[1]]
        });
        for (a, b) in min.iter().zip(&max) {
            assert_eq!(a.parameters, b.parameters);
        }
        assert_eq!(
            to_minimize(&max[0].objectives, &[Maximize, Minimize]),
            min[0].objectives
        );
    }

    #[test]
    fn settings_are_parsed_and_checked() {
        let pairs = |p: &[(&str, &str)]| -> Vec<(String, String)> {
            p.iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect()
        };
        let s = Nsga2Settings::from_settings(&pairs(&[
            ("random_state", "3"),
            ("population_size", " 20 "),
            ("mutation_prob", "0.25"),
            ("crossover_prob", "1"),
            ("swapping_prob", "0"),
        ]))
        .unwrap();
        assert_eq!(
            s,
            Nsga2Settings {
                population_size: 20,
                mutation_prob: Some(0.25),
                crossover_prob: 1.0,
                swapping_prob: 0.0,
            }
        );
        let s = Nsga2Settings::from_settings(&pairs(&[("mutation_prob", "None")])).unwrap();
        assert_eq!(s.mutation_prob, None);
        let errors = Nsga2Settings::from_settings(&pairs(&[
            ("population_size", "1"),
            ("mutation_prob", "1.5"),
            ("crossover_prob", "NaN"),
            ("swapping_prob", "-0.1"),
        ]))
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
                    "population_size must be a whole number from 2 to 1000000 (trials per \
                     generation), got \"1\""
                ),
                at(
                    1,
                    "mutation_prob must be a number from 0 to 1, or None for 1 / the number \
                     of parameters, got \"1.5\""
                ),
                at(
                    2,
                    "crossover_prob must be a number from 0 to 1, got \"NaN\""
                ),
                at(
                    3,
                    "swapping_prob must be a number from 0 to 1, got \"-0.1\""
                ),
            ]
        );
    }
}
