//! Pareto dominance for multi-objective experiments: which trials are non-dominated, the
//! ranks NSGA-II and multi-objective TPE sort by, and the hypervolume that measures a front.
//!
//! Points are objective vectors in spec order; directions say which way each objective is
//! better. The hypervolume works on minimised values (see [`to_minimize`]).

use crate::trial::ObjectiveType;

/// The point turned into one to minimise: maximised objectives are negated.
pub fn to_minimize(point: &[f64], directions: &[ObjectiveType]) -> Vec<f64> {
    point
        .iter()
        .zip(directions)
        .map(|(v, d)| match d {
            ObjectiveType::Minimize => *v,
            ObjectiveType::Maximize => -*v,
        })
        .collect()
}

/// True when `a` is at least as good as `b` in every objective and better in one.
pub fn dominates(a: &[f64], b: &[f64], directions: &[ObjectiveType]) -> bool {
    let mut strictly = false;
    for ((x, y), d) in a.iter().zip(b).zip(directions) {
        if d.better(*y, *x) {
            return false;
        }
        if d.better(*x, *y) {
            strictly = true;
        }
    }
    strictly
}

/// Indices of the points no other point dominates (the Pareto front), in input order.
/// Points with a NaN are never on the front.
pub fn pareto_front(points: &[Vec<f64>], directions: &[ObjectiveType]) -> Vec<usize> {
    let valid: Vec<usize> = (0..points.len())
        .filter(|&i| !points[i].iter().any(|v| v.is_nan()))
        .collect();
    valid
        .iter()
        .copied()
        .filter(|&i| {
            !valid
                .iter()
                .any(|&j| j != i && dominates(&points[j], &points[i], directions))
        })
        .collect()
}

/// Non-dominated sorting (Deb et al. 2002): fronts of indices, best (rank 0) first. Every
/// index appears in exactly one front; points with a NaN form the last front.
pub fn non_dominated_sort(points: &[Vec<f64>], directions: &[ObjectiveType]) -> Vec<Vec<usize>> {
    let n = points.len();
    let valid: Vec<bool> = points
        .iter()
        .map(|p| !p.iter().any(|v| v.is_nan()))
        .collect();
    let mut dominated_by = vec![0usize; n];
    let mut dominating: Vec<Vec<usize>> = vec![Vec::new(); n];
    for i in (0..n).filter(|&i| valid[i]) {
        for j in (i + 1..n).filter(|&j| valid[j]) {
            if dominates(&points[i], &points[j], directions) {
                dominating[i].push(j);
                dominated_by[j] += 1;
            } else if dominates(&points[j], &points[i], directions) {
                dominating[j].push(i);
                dominated_by[i] += 1;
            }
        }
    }
    let mut fronts = Vec::new();
    let mut current: Vec<usize> = (0..n)
        .filter(|&i| valid[i] && dominated_by[i] == 0)
        .collect();
    while !current.is_empty() {
        let mut next = Vec::new();
        for &i in &current {
            for &j in &dominating[i] {
                dominated_by[j] -= 1;
                if dominated_by[j] == 0 {
                    next.push(j);
                }
            }
        }
        next.sort_unstable();
        fronts.push(std::mem::replace(&mut current, next));
    }
    let invalid: Vec<usize> = (0..n).filter(|&i| !valid[i]).collect();
    if !invalid.is_empty() {
        fronts.push(invalid);
    }
    fronts
}

/// The volume dominated by `points` (all minimised) and bounded by `reference`. Points that
/// do not dominate the reference add nothing. Exact: a sweep in 2-D, slicing above.
pub fn hypervolume(points: &[Vec<f64>], reference: &[f64]) -> f64 {
    let inside: Vec<Vec<f64>> = points
        .iter()
        .filter(|p| p.len() == reference.len() && p.iter().zip(reference).all(|(x, r)| x < r))
        .cloned()
        .collect();
    hv(inside, reference)
}

fn hv(mut points: Vec<Vec<f64>>, reference: &[f64]) -> f64 {
    let d = reference.len();
    if points.is_empty() || d == 0 {
        return 0.0;
    }
    if d == 1 {
        let best = points.iter().map(|p| p[0]).fold(f64::INFINITY, f64::min);
        return reference[0] - best;
    }
    points.sort_by(|a, b| a[d - 1].total_cmp(&b[d - 1]));
    if d == 2 {
        let mut volume = 0.0;
        let mut best_x = reference[0];
        for (i, p) in points.iter().enumerate() {
            best_x = best_x.min(p[0]);
            let top = points.get(i + 1).map_or(reference[1], |q| q[1]);
            volume += (reference[0] - best_x) * (top - p[1]);
        }
        return volume;
    }
    // Slices along the last objective: between consecutive levels, the volume is the
    // (d-1)-dimensional hypervolume of the points at or below the level.
    let mut volume = 0.0;
    for i in 0..points.len() {
        let top = points.get(i + 1).map_or(reference[d - 1], |q| q[d - 1]);
        let thickness = top - points[i][d - 1];
        if thickness > 0.0 {
            let slice: Vec<Vec<f64>> = points[..=i].iter().map(|p| p[..d - 1].to_vec()).collect();
            volume += hv(slice, &reference[..d - 1]) * thickness;
        }
    }
    volume
}

#[cfg(test)]
mod tests {
    use super::*;
    use ObjectiveType::{Maximize, Minimize};

    #[test]
    fn dominance_follows_each_direction() {
        let d = [Minimize, Maximize];
        assert!(dominates(&[1.0, 5.0], &[2.0, 4.0], &d));
        assert!(dominates(&[1.0, 5.0], &[1.0, 4.0], &d));
        assert!(!dominates(&[1.0, 5.0], &[1.0, 5.0], &d));
        assert!(!dominates(&[1.0, 3.0], &[2.0, 4.0], &d));
    }

    #[test]
    fn front_and_ranks() {
        let d = [Minimize, Minimize];
        let pts = vec![
            vec![1.0, 4.0], // front
            vec![2.0, 2.0], // front
            vec![3.0, 3.0], // dominated by 1
            vec![4.0, 1.0], // front
            vec![5.0, 5.0], // dominated by all
            vec![f64::NAN, 0.0],
        ];
        assert_eq!(pareto_front(&pts, &d), vec![0, 1, 3]);
        assert_eq!(
            non_dominated_sort(&pts, &d),
            vec![vec![0, 1, 3], vec![2], vec![4], vec![5]]
        );
    }

    #[test]
    fn hypervolume_2d_and_3d_by_hand() {
        // Two boxes [1,3]x[2,3] and [2,3]x[1,3] overlap in [2,3]x[2,3]: 2 + 2 - 1.
        let hv2 = hypervolume(&[vec![1.0, 2.0], vec![2.0, 1.0]], &[3.0, 3.0]);
        assert!((hv2 - 3.0).abs() < 1e-12, "{hv2}");
        // A point outside the reference adds nothing; a dominated one adds nothing.
        let same = hypervolume(
            &[
                vec![1.0, 2.0],
                vec![2.0, 1.0],
                vec![2.5, 2.5],
                vec![4.0, 0.0],
            ],
            &[3.0, 3.0],
        );
        assert!((same - 3.0).abs() < 1e-12);
        // 3-D: unit cube corner boxes of two points, volumes 1*1*2 and 2*1*1, overlap 1*1*1.
        let hv3 = hypervolume(
            &[vec![1.0, 1.0, 0.0], vec![0.0, 1.0, 1.0]],
            &[2.0, 2.0, 2.0],
        );
        assert!((hv3 - 3.0).abs() < 1e-12, "{hv3}");
    }

    #[test]
    fn maximised_objectives_are_negated() {
        assert_eq!(
            to_minimize(&[1.0, 2.0], &[Minimize, Maximize]),
            vec![1.0, -2.0]
        );
    }
}
