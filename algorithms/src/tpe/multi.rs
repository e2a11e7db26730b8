//! Multi-objective TPE's good group and the weights of its kernels, after Optuna's
//! `_split_complete_trials_multi_objective`, `_solve_hssp` and
//! `_calculate_weights_below_for_multi_objective`. Every point here is minimised (see
//! `pareto::to_minimize`).

use ferrotune_core::ObjectiveType;
use ferrotune_core::pareto::{hypervolume, non_dominated_sort, pareto_front};

/// Optuna's `EPS`: the reference point's coordinate when the worst value is 0, and the
/// smallest kernel weight.
const EPS: f64 = 1e-12;

/// The indices of the `n_below` points that form `l`: whole fronts (by non-dominated rank)
/// while they fit, then as many of the next front as are still needed, by greedy
/// hypervolume subset selection. In front order, not trial order.
pub(super) fn select_below(points: &[Vec<f64>], n_below: usize) -> Vec<usize> {
    let n_below = n_below.min(points.len());
    if n_below == 0 {
        return Vec::new();
    }
    let minimise = vec![ObjectiveType::Minimize; points[0].len()];
    let mut chosen = Vec::with_capacity(n_below);
    for front in non_dominated_sort(points, &minimise) {
        let room = n_below - chosen.len();
        if front.len() <= room {
            chosen.extend(front);
        } else {
            chosen.extend(greedy_subset(points, &front, room));
        }
        if chosen.len() == n_below {
            break;
        }
    }
    chosen
}

/// Optuna's reference point for a set of points: the worst value of each objective, made
/// worse by 10% of its magnitude (`max(1.1·w, 0.9·w)`), or `EPS` where that is 0. `None`
/// when it is not finite (an infinite value, or one beyond f64::MAX / 1.1), where Optuna
/// falls back too.
fn reference_point<'a>(points: impl IntoIterator<Item = &'a Vec<f64>>) -> Option<Vec<f64>> {
    let mut worst: Option<Vec<f64>> = None;
    for p in points {
        match &mut worst {
            None => worst = Some(p.clone()),
            Some(w) => w.iter_mut().zip(p).for_each(|(w, v)| *w = w.max(*v)),
        }
    }
    let reference: Vec<f64> = worst?
        .into_iter()
        .map(|w| {
            let r = (1.1 * w).max(0.9 * w);
            if r == 0.0 { EPS } else { r }
        })
        .collect();
    reference.iter().all(|r| r.is_finite()).then_some(reference)
}

/// `k` points of `front` chosen greedily, each adding the most hypervolume to those chosen
/// before (the first on ties). Lazy: a contribution only shrinks as the selection grows,
/// so a candidate whose fresh contribution still tops every other's last known one is the
/// greedy choice, and most contributions are never recomputed. Without a finite reference
/// point, the first `k` (as Optuna does).
fn greedy_subset(points: &[Vec<f64>], front: &[usize], k: usize) -> Vec<usize> {
    let Some(reference) = reference_point(front.iter().map(|&i| &points[i])) else {
        return front[..k].to_vec();
    };
    let mut bound: Vec<f64> = front
        .iter()
        .map(|&i| hypervolume(std::slice::from_ref(&points[i]), &reference))
        .collect();
    let mut fresh = vec![true; front.len()];
    let mut taken = vec![false; front.len()];
    let mut selected: Vec<Vec<f64>> = Vec::with_capacity(k);
    let mut selected_volume = 0.0;
    let mut out = Vec::with_capacity(k);
    // NaN (from infinite volumes) ranks last.
    let key = |b: f64| if b.is_nan() { f64::NEG_INFINITY } else { b };
    while out.len() < k {
        let Some(best) = (0..front.len())
            .filter(|&c| !taken[c])
            .reduce(|a, c| if key(bound[c]) > key(bound[a]) { c } else { a })
        else {
            break;
        };
        let point = &points[front[best]];
        if fresh[best] {
            taken[best] = true;
            out.push(front[best]);
            selected.push(point.clone());
            selected_volume = hypervolume(&selected, &reference);
            fresh.iter_mut().for_each(|f| *f = false);
        } else {
            selected.push(point.clone());
            bound[best] = hypervolume(&selected, &reference) - selected_volume;
            selected.pop();
            fresh[best] = true;
        }
    }
    out
}

/// The weights of `l`'s kernels: each point's share of the good group's hypervolume (what
/// the front loses without it), over the largest share, at least `EPS`; points off the
/// front (and duplicates, which add nothing alone) get `EPS`. All 1 for a single point, or
/// when the volume is not finite (as Optuna does).
pub(super) fn weights_below(points: &[Vec<f64>]) -> Vec<f64> {
    let n = points.len();
    let ones = vec![1.0; n];
    if n <= 1 {
        return ones;
    }
    let Some(reference) = reference_point(points) else {
        return ones;
    };
    let minimise = vec![ObjectiveType::Minimize; reference.len()];
    let front = pareto_front(points, &minimise);
    let front_points: Vec<Vec<f64>> = front.iter().map(|&i| points[i].clone()).collect();
    let total = hypervolume(&front_points, &reference);
    if !total.is_finite() {
        return ones;
    }
    let mut contribution = vec![0.0; n];
    for (pos, &i) in front.iter().enumerate() {
        let others: Vec<Vec<f64>> = front_points
            .iter()
            .enumerate()
            .filter(|&(q, _)| q != pos)
            .map(|(_, p)| p.clone())
            .collect();
        contribution[i] = total - hypervolume(&others, &reference);
    }
    let largest = contribution.iter().copied().fold(0.0, f64::max).max(EPS);
    contribution
        .into_iter()
        .map(|c| (c / largest).max(EPS))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn whole_fronts_then_the_largest_contributions() {
        // Front 0: (1, 5), (2, 2), (5, 1); front 1: (3, 3), (2.5, 4), (4, 2.6); then (6, 6).
        let points = vec![
            vec![3.0, 3.0],
            vec![1.0, 5.0],
            vec![6.0, 6.0],
            vec![2.0, 2.0],
            vec![2.5, 4.0],
            vec![5.0, 1.0],
            vec![4.0, 2.6],
        ];
        assert_eq!(select_below(&points, 0), Vec::<usize>::new());
        assert_eq!(select_below(&points, 3), [1, 3, 5]);
        assert_eq!(select_below(&points, 7).len(), 7);
        assert_eq!(select_below(&points, 99).len(), 7);
        // One of front 1, whose reference is (4.4, 4.4): boxes (3,3) 1.96, (2.5,4) 0.76,
        // (4,2.6) 0.72: (3,3) first. Beside it, (2.5,4) adds 0.2 and (4,2.6) 0.16.
        assert_eq!(select_below(&points, 4), [1, 3, 5, 0]);
        assert_eq!(select_below(&points, 5), [1, 3, 5, 0, 4]);
    }

    #[test]
    fn greedy_selection_accounts_for_overlap() {
        // (0, 10) and (10, 0) are the extremes; (0.1, 9.9) sits next to the first and adds
        // little once it is chosen, though its own box is large; (5, 5) adds more.
        let points = vec![
            vec![0.0, 10.0],
            vec![0.1, 9.9],
            vec![10.0, 0.0],
            vec![5.0, 5.0],
        ];
        let front = [0, 1, 2, 3];
        // Reference (11, 11): boxes 11, 11.99, 11, 36; beside (5, 5), (0.1, 9.9) adds 5.39
        // and the extremes 5 each.
        assert_eq!(greedy_subset(&points, &front, 1), [3]);
        assert_eq!(greedy_subset(&points, &front, 2), [3, 1]);
        let three = greedy_subset(&points, &front, 3);
        assert_eq!(three[..2], [3, 1]);
        // A plain greedy (every contribution recomputed) agrees.
        let reference = [11.0, 11.0];
        let chosen: Vec<Vec<f64>> = vec![points[3].clone(), points[1].clone()];
        let gain = |i: usize, chosen: &Vec<Vec<f64>>| {
            let mut with = chosen.clone();
            with.push(points[i].clone());
            hypervolume(&with, &reference) - hypervolume(chosen, &reference)
        };
        let best = [0, 2]
            .into_iter()
            .reduce(|a, c| {
                if gain(c, &chosen) > gain(a, &chosen) {
                    c
                } else {
                    a
                }
            })
            .unwrap();
        assert_eq!(three[2], best);
    }

    #[test]
    fn reference_points_follow_optuna() {
        let r = reference_point(&[vec![1.0, -2.0, 0.0], vec![-1.0, -4.0, 0.0]]).unwrap();
        assert_eq!(r, [1.1, -1.8, EPS]);
        assert!(reference_point(&[vec![f64::INFINITY, 0.0]]).is_none());
        assert!(reference_point(&[vec![f64::MAX, 0.0]]).is_none());
        // Without a reference point, subsets are the first points of the front.
        let points = vec![vec![f64::INFINITY, 0.0], vec![0.0, 1.0], vec![1.0, 0.5]];
        assert_eq!(greedy_subset(&points, &[0, 1, 2], 2), [0, 1]);
    }

    #[test]
    fn weights_are_hypervolume_contributions() {
        // Reference (3.3, 3.3), from the worst values (3, 3).
        let points = vec![
            vec![1.0, 3.0],
            vec![2.0, 2.0],
            vec![3.0, 1.0],
            vec![2.5, 2.5], // dominated by (2, 2)
            vec![2.0, 2.0], // a duplicate: adds nothing alone
        ];
        let w = weights_below(&points);
        // Exclusive contributions: (1,3): 1·0.3 = 0.3; (2,2): 1·1 = 1 but shared with its
        // duplicate, so 0; (3,1): 0.3·1 = 0.3. The largest is 0.3.
        assert!((w[0] - 1.0).abs() < 1e-9, "{w:?}");
        assert!((w[2] - 1.0).abs() < 1e-9, "{w:?}");
        assert_eq!(w[3], EPS);
        assert!(w[1] <= 1e-9 && w[4] <= 1e-9 && w[1] >= EPS, "{w:?}");
        let w = weights_below(&points[..3]);
        assert!(
            (w[1] - 1.0).abs() < 1e-9 && (w[0] - 0.3).abs() < 1e-9,
            "{w:?}"
        );
        assert_eq!(weights_below(&points[..1]), [1.0]);
        assert_eq!(
            weights_below(&[vec![f64::NEG_INFINITY, 1.0], vec![0.0, 0.0]]),
            [1.0, 1.0]
        );
    }
}
