//! Grid search: every combination of the parameters' grid values, in a fixed order.
//!
//! Points are enumerated as the cartesian product of each parameter's
//! `Domain::grid_values()`, in declaration order with the last parameter varying fastest.
//! Which points are left is worked out from the history on every call (a point that appears
//! k times in the history is skipped k times), so the grid needs no saved state and a
//! restarted controller carries on where it was. Points are computed on demand, never
//! materialised, so a large grid costs no memory.

use crate::domain::{
    double_last_step, int_at, int_last_step, same_value, space_problems, stepped_double,
};
use crate::{AlgorithmError, Suggester, Suggestions};
use ferrotune_core::{Assignment, Domain, FieldError, ParamValue, SearchSpace, TrialView};
use std::collections::HashMap;

/// Settings `grid` accepts. Katib's grid accepts `random_state` (and ignores it), so files
/// written for Katib run unchanged; ferrotune ignores it too.
pub const SETTINGS: &[&str] = &["random_state"];

/// The largest grid accepted: beyond it, a sweep would not end in any useful time.
pub const MAX_POINTS: u128 = 10_000_000;

/// Grid search over a search space whose parameters are all countable.
#[derive(Debug, Clone)]
pub struct GridSearch {
    axes: Vec<(String, Axis)>,
    points: usize,
}

/// One parameter's grid values, computed on demand.
#[derive(Debug, Clone)]
enum Axis {
    Double {
        min: f64,
        max: f64,
        step: f64,
        count: usize,
    },
    Int {
        min: i64,
        max: i64,
        step: i64,
        count: usize,
    },
    /// Discrete and categorical values (the latter as strings).
    List(Vec<ParamValue>),
}

impl Axis {
    fn count(&self) -> usize {
        match self {
            Axis::Double { count, .. } | Axis::Int { count, .. } => *count,
            Axis::List(v) => v.len(),
        }
    }

    /// The k-th grid value: the same as `Domain::grid_values()[k]`.
    fn value(&self, k: usize) -> ParamValue {
        match self {
            Axis::Double { min, max, step, .. } => {
                ParamValue::Float(stepped_double(*min, *max, *step, k as u64))
            }
            Axis::Int { min, max, step, .. } => {
                ParamValue::Int(int_at(*min, *max, *step, k as u64))
            }
            Axis::List(v) => v[k].clone(),
        }
    }

    /// The first index whose value is `v` (allowing for storage noise in floats), so that
    /// duplicate list entries count as one point.
    fn index_of(&self, v: &ParamValue) -> Option<usize> {
        match self {
            Axis::Double {
                min, step, count, ..
            } => {
                let x = match v {
                    ParamValue::Str(_) => return None,
                    v => v.as_f64()?,
                };
                let k0 = ((x - min) / step).round();
                if !(k0 >= 0.0 && k0 < *count as f64) {
                    return None;
                }
                let k0 = k0 as usize;
                let tol = 1e-6 * step;
                let mut k = [k0, k0.saturating_sub(1), k0 + 1]
                    .into_iter()
                    .find(|&k| k < *count && same_value(&self.value(k), v, tol))?;
                // Several k may give the same float when the step is below the precision
                // of min: keep the first.
                while k > 0 && self.value(k - 1) == self.value(k) {
                    k -= 1;
                }
                Some(k)
            }
            Axis::Int {
                min,
                max,
                step,
                count,
            } => {
                let i = match *v {
                    ParamValue::Int(i) => i as i128,
                    ParamValue::Float(x) if x.fract() == 0.0 && x.abs() < 9.0e18 => x as i128,
                    _ => return None,
                };
                let offset = i - *min as i128;
                let k = offset / *step as i128;
                (i <= *max as i128 && offset >= 0 && offset % *step as i128 == 0)
                    .then_some(k as usize)
                    .filter(|k| k < count)
            }
            Axis::List(values) => values.iter().position(|w| same_value(w, v, 0.0)),
        }
    }
}

/// How many grid values a domain has (saturating), or `None` for a continuous double.
fn count(domain: &Domain) -> Option<u128> {
    match domain {
        Domain::Double { step: None, .. } => None,
        Domain::Double {
            min,
            max,
            step: Some(s),
            ..
        } => {
            let last = double_last_step(*min, *max, *s);
            Some(if last.is_finite() && last < 1e30 {
                last.max(0.0) as u128 + 1
            } else {
                u128::MAX
            })
        }
        Domain::Int { min, max, step, .. } => {
            Some(int_last_step(*min, *max, step.unwrap_or(1)) as u128 + 1)
        }
        Domain::Discrete { values } => Some(values.len() as u128),
        Domain::Categorical { values } => Some(values.len() as u128),
    }
}

/// Why a search space cannot be searched by grid: a `double` without a step (at its
/// `feasibleSpace.step`), or more than [`MAX_POINTS`] points (at `spec.parameters`).
pub fn grid_problems(space: &SearchSpace) -> Vec<FieldError> {
    let mut errors = space_problems(space);
    if !errors.is_empty() {
        return errors;
    }
    let mut total: Option<u128> = Some(1);
    for (j, p) in space.parameters.iter().enumerate() {
        match count(&p.domain) {
            Some(c) => total = total.map(|t| t.saturating_mul(c)),
            None => {
                errors.push(FieldError::new(
                    format!("spec.parameters[{j}].feasibleSpace.step"),
                    format!("grid needs a step for double parameter {:?}", p.name),
                ));
                total = None;
            }
        }
    }
    if let Some(t) = total
        && t > MAX_POINTS
    {
        let shown = if t == u128::MAX {
            "over 10^38".to_string()
        } else {
            t.to_string()
        };
        errors.push(FieldError::new(
            "spec.parameters",
            format!(
                "the grid has {shown} points, more than the {MAX_POINTS} grid search accepts; \
                 use larger steps or fewer values, or algorithmName: random"
            ),
        ));
    }
    errors
}

impl GridSearch {
    /// Checks that every parameter is countable and the grid is not too large.
    pub fn new(space: SearchSpace) -> Result<Self, AlgorithmError> {
        let problems = grid_problems(&space);
        if !problems.is_empty() {
            return Err(AlgorithmError::Settings(problems));
        }
        let mut axes = Vec::with_capacity(space.parameters.len());
        let mut points = 1usize;
        for p in space.parameters {
            let n = count(&p.domain).unwrap_or(0) as usize;
            points *= n;
            let axis = match p.domain {
                Domain::Double {
                    min,
                    max,
                    step: Some(step),
                    ..
                } => Axis::Double {
                    min,
                    max,
                    step,
                    count: n,
                },
                Domain::Int { min, max, step, .. } => Axis::Int {
                    min,
                    max,
                    step: step.unwrap_or(1),
                    count: n,
                },
                Domain::Discrete { values } => Axis::List(values),
                Domain::Categorical { values } => {
                    Axis::List(values.into_iter().map(ParamValue::Str).collect())
                }
                Domain::Double { step: None, .. } => {
                    return Err(AlgorithmError::Internal(
                        "grid: continuous double passed validation".into(),
                    ));
                }
            };
            axes.push((p.name, axis));
        }
        Ok(GridSearch { axes, points })
    }

    /// How many points the grid has (duplicates in a list count separately).
    pub fn points(&self) -> usize {
        self.points
    }

    /// The grid point at `index` in enumeration order, if there is one.
    pub fn point(&self, index: usize) -> Option<Assignment> {
        (index < self.points).then(|| {
            let ks = self.digits(index);
            Assignment(
                self.axes
                    .iter()
                    .zip(ks)
                    .map(|((name, axis), k)| (name.clone(), axis.value(k)))
                    .collect(),
            )
        })
    }

    /// Per-axis indices of a flat index; the last axis varies fastest.
    fn digits(&self, mut index: usize) -> Vec<usize> {
        let mut ks = vec![0; self.axes.len()];
        for (k, (_, axis)) in ks.iter_mut().zip(&self.axes).rev() {
            *k = index % axis.count();
            index /= axis.count();
        }
        ks
    }

    /// The flat index of the first point equal to `index`'s point (duplicate list entries
    /// make several indices one point).
    fn canonical(&self, index: usize) -> usize {
        self.digits(index)
            .into_iter()
            .zip(&self.axes)
            .fold(0, |flat, (k, (_, axis))| {
                flat * axis.count() + axis.index_of(&axis.value(k)).unwrap_or(k)
            })
    }

    /// The canonical flat index of a trial's parameters, or `None` when they are not a
    /// point of this grid (e.g. a trial added by hand).
    fn index_of(&self, a: &Assignment) -> Option<usize> {
        self.axes.iter().try_fold(0, |flat, (name, axis)| {
            Some(flat * axis.count() + axis.index_of(a.get(name)?)?)
        })
    }
}

impl Suggester for GridSearch {
    fn suggest(&mut self, history: &[TrialView], n: usize) -> Result<Suggestions, AlgorithmError> {
        if n == 0 {
            return Ok(Suggestions::Assignments(Vec::new()));
        }
        let mut used: HashMap<usize, usize> = HashMap::new();
        for t in history {
            if let Some(i) = self.index_of(&t.parameters) {
                *used.entry(i).or_default() += 1;
            }
        }
        // Each skipped index consumes one history entry, so this scans at most
        // history.len() + n indices.
        let mut out = Vec::new();
        let mut index = 0;
        while out.len() < n && index < self.points {
            match used.get_mut(&self.canonical(index)) {
                Some(c) if *c > 0 => *c -= 1,
                _ => out.extend(self.point(index)),
            }
            index += 1;
        }
        Ok(if out.is_empty() {
            Suggestions::Exhausted
        } else {
            Suggestions::Assignments(out)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ferrotune_core::{Distribution, Parameter, TrialStatus};

    fn space(params: Vec<(&str, Domain)>) -> SearchSpace {
        SearchSpace {
            parameters: params
                .into_iter()
                .map(|(n, d)| Parameter {
                    name: n.into(),
                    domain: d,
                })
                .collect(),
        }
    }

    fn double(min: f64, max: f64, step: Option<f64>) -> Domain {
        Domain::Double {
            min,
            max,
            step,
            distribution: Distribution::Uniform,
        }
    }

    fn int(min: i64, max: i64, step: Option<i64>) -> Domain {
        Domain::Int {
            min,
            max,
            step,
            distribution: Distribution::Uniform,
        }
    }

    fn cat(values: &[&str]) -> Domain {
        Domain::Categorical {
            values: values.iter().map(|s| s.to_string()).collect(),
        }
    }

    fn view(a: &Assignment) -> TrialView {
        TrialView {
            name: String::new(),
            parameters: a.clone(),
            status: TrialStatus::Succeeded,
            objective: None,
            objectives: Vec::new(),
            intermediate: Vec::new(),
            labels: Default::default(),
        }
    }

    fn views(a: &[Assignment]) -> Vec<TrialView> {
        a.iter().map(view).collect()
    }

    /// Each assignment as "v1,v2,…".
    fn text(s: Suggestions) -> Vec<String> {
        match s {
            Suggestions::Trials(_) | Suggestions::Wait => panic!("unexpected suggestion kind"),
            Suggestions::Assignments(a) => a
                .iter()
                .map(|a| {
                    a.0.iter()
                        .map(|(_, v)| v.to_string())
                        .collect::<Vec<_>>()
                        .join(",")
                })
                .collect(),
            Suggestions::Exhausted => vec!["exhausted".into()],
        }
    }

    fn small() -> GridSearch {
        GridSearch::new(space(vec![
            ("a", int(1, 2, None)),
            ("b", cat(&["x", "y", "z"])),
        ]))
        .unwrap()
    }

    #[test]
    fn last_parameter_varies_fastest() {
        let mut g = small();
        assert_eq!(g.points(), 6);
        assert_eq!(
            text(g.suggest(&[], 10).unwrap()),
            ["1,x", "1,y", "1,z", "2,x", "2,y", "2,z"]
        );
    }

    #[test]
    fn batches_continue_then_exhaust() {
        let mut g = small();
        let mut history = Vec::new();
        let mut seen = Vec::new();
        for n in [4, 4] {
            let Suggestions::Assignments(a) = g.suggest(&views(&history), n).unwrap() else {
                panic!("exhausted too early");
            };
            seen.extend(text(Suggestions::Assignments(a.clone())));
            history.extend(a);
        }
        assert_eq!(seen, ["1,x", "1,y", "1,z", "2,x", "2,y", "2,z"]);
        assert_eq!(
            g.suggest(&views(&history), 3).unwrap(),
            Suggestions::Exhausted
        );
        // A fresh instance (after a restart) agrees.
        let mut fresh = small();
        assert_eq!(
            fresh.suggest(&views(&history), 1).unwrap(),
            Suggestions::Exhausted
        );
        assert_eq!(
            text(fresh.suggest(&views(&history[..2]), 2).unwrap()),
            ["1,z", "2,x"]
        );
    }

    #[test]
    fn used_points_are_skipped_whatever_their_state() {
        let mut g = small();
        let used = g.point(1).unwrap(); // 1,y
        let mut running = view(&used);
        running.status = TrialStatus::Running;
        assert_eq!(
            text(g.suggest(&[running], 3).unwrap()),
            ["1,x", "1,z", "2,x"]
        );
        // Parameters in another order, or not on the grid, are handled.
        let reordered = Assignment(used.0.iter().rev().cloned().collect());
        let stranger = Assignment(vec![
            ("a".into(), ParamValue::Int(7)),
            ("b".into(), ParamValue::Str("x".into())),
        ]);
        assert_eq!(
            text(g.suggest(&views(&[reordered, stranger]), 2).unwrap()),
            ["1,x", "1,z"]
        );
    }

    #[test]
    fn a_point_used_k_times_is_skipped_k_times() {
        let list = |v: &[i64]| Domain::Discrete {
            values: v.iter().map(|i| ParamValue::Int(*i)).collect(),
        };
        let mut g = GridSearch::new(space(vec![("n", list(&[1, 1, 2]))])).unwrap();
        let one = Assignment(vec![("n".into(), ParamValue::Int(1))]);
        assert_eq!(text(g.suggest(&[], 5).unwrap()), ["1", "1", "2"]);
        assert_eq!(
            text(g.suggest(&views(std::slice::from_ref(&one)), 5).unwrap()),
            ["1", "2"]
        );
        assert_eq!(
            text(g.suggest(&views(&[one.clone(), one.clone()]), 5).unwrap()),
            ["2"]
        );
        // A third use has nothing left to skip.
        assert_eq!(
            text(
                g.suggest(&views(&[one.clone(), one.clone(), one]), 5)
                    .unwrap()
            ),
            ["2"]
        );
    }

    #[test]
    fn floats_read_back_with_noise_still_match() {
        let mut g = GridSearch::new(space(vec![("lr", double(0.1, 0.5, Some(0.1)))])).unwrap();
        let noisy = Assignment(vec![("lr".into(), ParamValue::Float(0.1 + 0.2))]);
        assert_eq!(
            text(g.suggest(&views(&[noisy]), 5).unwrap()),
            ["0.1", "0.2", "0.4", "0.5"]
        );
    }

    #[test]
    fn values_are_the_cores_grid_values() {
        let domains = [
            double(0.1, 0.5, Some(0.1)),
            double(0.0, 1.0, Some(0.3)),
            double(-2.5, 7.0, Some(0.25)),
            double(1e-3, 2e-2, Some(1e-3)),
            int(2, 9, Some(3)),
            int(-5, 5, None),
            cat(&["a", "b"]),
            Domain::Discrete {
                values: vec![ParamValue::Float(0.5), ParamValue::Int(3)],
            },
        ];
        for d in domains {
            let g = GridSearch::new(space(vec![("x", d.clone())])).unwrap();
            let mine: Vec<ParamValue> = (0..g.points())
                .map(|i| g.point(i).unwrap().0.remove(0).1)
                .collect();
            assert_eq!(mine, d.grid_values().unwrap(), "{d:?}");
            assert!(mine.iter().all(|v| d.contains(v)), "{d:?}");
        }
    }

    #[test]
    fn double_without_step_is_an_error_at_its_step() {
        let err = GridSearch::new(space(vec![
            ("layers", int(1, 3, None)),
            ("lr", double(0.0, 1.0, None)),
        ]))
        .unwrap_err();
        let AlgorithmError::Settings(errors) = err else {
            panic!("expected a settings error");
        };
        assert_eq!(
            errors,
            [FieldError::new(
                "spec.parameters[1].feasibleSpace.step",
                "grid needs a step for double parameter \"lr\""
            )]
        );
    }

    #[test]
    fn too_large_grids_are_errors() {
        let errors = grid_problems(&space(vec![
            ("a", int(1, 10_000, None)),
            ("b", int(1, 1_001, None)),
        ]));
        assert_eq!(errors.len(), 1);
        assert_eq!(errors[0].path, "spec.parameters");
        assert!(
            errors[0].message.contains("10010000 points"),
            "{}",
            errors[0]
        );
        // Exactly the limit is fine; an astronomical one is reported without overflowing.
        assert!(grid_problems(&space(vec![("a", int(1, 10_000_000, None))])).is_empty());
        let errors = grid_problems(&space(vec![
            ("a", int(i64::MIN, i64::MAX, None)),
            ("b", int(i64::MIN, i64::MAX, None)),
            ("c", double(-1e308, 1e308, Some(1e-300))),
        ]));
        assert!(errors[0].message.contains("over 10^38"), "{}", errors[0]);
    }

    #[test]
    fn large_grids_are_not_materialised() {
        let mut g = GridSearch::new(space(vec![
            ("a", int(0, 9_999, None)),
            ("b", double(0.0, 999.0, Some(1.0))),
        ]))
        .unwrap();
        assert_eq!(g.points(), 10_000_000);
        assert_eq!(text(g.suggest(&[], 2).unwrap()), ["0,0", "0,1"]);
        assert_eq!(
            text(Suggestions::Assignments(vec![g.point(9_999_999).unwrap()])),
            ["9999,999"]
        );
    }
}
