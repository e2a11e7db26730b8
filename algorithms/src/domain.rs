//! Arithmetic on parameter domains shared by the algorithms: sanity checks, step counts, the
//! k-th value of a stepped domain, the value at a unit coordinate (`value_at`), the allowed
//! value nearest to a stored one (`snap`), and comparison of values read back from storage.

use ferrotune_core::space::{decimals_of, round_to};
use ferrotune_core::{Distribution, Domain, FieldError, ParamValue, SearchSpace};

/// Problems that would make sampling impossible. The core's validation already rules these
/// out; they are checked again so that a hand-built space fails with an error, not a panic.
pub(crate) fn space_problems(space: &SearchSpace) -> Vec<FieldError> {
    let mut errors = Vec::new();
    for (j, p) in space.parameters.iter().enumerate() {
        let path = format!("spec.parameters[{j}].feasibleSpace");
        let mut err = |field: &str, msg: String| {
            let path = if field.is_empty() {
                path.clone()
            } else {
                format!("{path}.{field}")
            };
            errors.push(FieldError::new(path, msg));
        };
        match &p.domain {
            Domain::Double {
                min,
                max,
                step,
                distribution,
            } => {
                if !min.is_finite() || !max.is_finite() {
                    err(
                        "",
                        format!("min ({min}) and max ({max}) must be finite numbers"),
                    );
                } else if min > max {
                    err(
                        "",
                        format!("min ({min}) must not be greater than max ({max})"),
                    );
                } else if distribution.is_log() && *min <= 0.0 {
                    err("min", log_message(*min, *distribution));
                }
                if let Some(s) = step
                    && !(s.is_finite() && *s > 0.0)
                {
                    err("step", format!("({s}) must be a positive number"));
                }
            }
            Domain::Int {
                min,
                max,
                step,
                distribution,
            } => {
                if min > max {
                    err(
                        "",
                        format!("min ({min}) must not be greater than max ({max})"),
                    );
                } else if distribution.is_log() && *min <= 0 {
                    err("min", log_message(*min as f64, *distribution));
                }
                if let Some(s) = step
                    && *s <= 0
                {
                    err("step", format!("({s}) must be greater than 0"));
                }
            }
            Domain::Discrete { values } => {
                if values.is_empty() {
                    err("list", "needs at least one value".to_string());
                }
                if let Some(v) = values
                    .iter()
                    .find(|v| matches!(v, ParamValue::Float(x) if !x.is_finite()))
                {
                    err("list", format!("({v}) is not a finite number"));
                }
            }
            Domain::Categorical { values } => {
                if values.is_empty() {
                    err("list", "needs at least one value".to_string());
                }
            }
        }
    }
    errors
}

fn log_message(min: f64, d: Distribution) -> String {
    format!(
        "({min}) must be greater than 0 for the {} distribution",
        d.katib_name()
    )
}

/// `lo + t·(hi − lo)` without overflowing when `hi − lo` exceeds `f64::MAX`.
pub(crate) fn lerp(lo: f64, hi: f64, t: f64) -> f64 {
    let span = hi - lo;
    if span.is_finite() {
        lo + t * span
    } else {
        lo * (1.0 - t) + hi * t
    }
}

/// The index of the grid value `min + k·step` nearest to `x`, for `k` in `0..=last`.
pub(crate) fn nearest_step(min: f64, step: f64, last: f64, x: f64) -> u64 {
    ((x - min) / step).round().clamp(0.0, last) as u64
}

/// The value of a domain at `u` in [0, 1): the inverse of its distribution's cdf, so that
/// a uniform `u` gives the same distribution as random search (each allowed value of a
/// uniform stepped, int, discrete or categorical domain equally likely; the other
/// distributions draw a real number and snap it to the nearest allowed value). Evenly spread
/// `u`s (a Sobol sequence) give evenly spread values.
pub(crate) fn value_at(domain: &Domain, u: f64) -> ParamValue {
    let u = if u.is_nan() { 0.5 } else { u.clamp(0.0, 1.0) };
    match domain {
        Domain::Double {
            min,
            max,
            step: None,
            distribution,
        } => ParamValue::Float(continuous_at(*min, *max, *distribution, u)),
        Domain::Double {
            min,
            max,
            step: Some(s),
            distribution,
        } => {
            let last = double_last_step(*min, *max, *s).max(0.0);
            // Beyond 2^53 steps indices are no longer exact: snap a real value instead.
            let k = if *distribution == Distribution::Uniform && last < 9.0e15 {
                index_at(last as u64, u)
            } else {
                nearest_step(*min, *s, last, continuous_at(*min, *max, *distribution, u))
            };
            ParamValue::Float(stepped_double(*min, *max, *s, k))
        }
        Domain::Int {
            min,
            max,
            step,
            distribution,
        } => {
            let s = step.unwrap_or(1);
            let last = int_last_step(*min, *max, s);
            let k = if *distribution == Distribution::Uniform {
                index_at(last, u)
            } else {
                let x = continuous_at(*min as f64, *max as f64, *distribution, u);
                nearest_step(*min as f64, s as f64, last as f64, x)
            };
            ParamValue::Int(int_at(*min, *max, s, k.min(last)))
        }
        Domain::Discrete { values } => {
            values[index_at(values.len() as u64 - 1, u) as usize].clone()
        }
        Domain::Categorical { values } => {
            ParamValue::Str(values[index_at(values.len() as u64 - 1, u) as usize].clone())
        }
    }
}

/// The allowed value of `domain` nearest to `v`: `v` itself when the domain holds it (so a
/// value read back from storage is kept exactly), else the nearest step, clamped into the
/// bounds. `None` when `v` cannot belong (text for a number, an unknown list value). Lets an
/// algorithm reuse a trial's values after the space was edited without leaving the space.
pub(crate) fn snap(domain: &Domain, v: &ParamValue) -> Option<ParamValue> {
    match domain {
        Domain::Double {
            min,
            max,
            step: None,
            ..
        } => {
            let x = v.as_f64().filter(|x| x.is_finite())?;
            Some(ParamValue::Float(if min >= max {
                *min
            } else {
                x.clamp(*min, *max)
            }))
        }
        Domain::Double {
            min,
            max,
            step: Some(s),
            ..
        } => {
            let x = v.as_f64().filter(|x| x.is_finite())?;
            let last = double_last_step(*min, *max, *s).max(0.0);
            let k = nearest_step(*min, *s, last, x);
            Some(ParamValue::Float(stepped_double(*min, *max, *s, k)))
        }
        Domain::Int { min, max, step, .. } => {
            let s = step.unwrap_or(1).max(1);
            let last = int_last_step(*min, *max, s);
            let k = match v {
                ParamValue::Int(i) => {
                    // Nearest step, half up, in i128 so that no difference overflows.
                    let (d, s) = (*i as i128 - *min as i128, s as i128);
                    (2 * d + s).div_euclid(2 * s).clamp(0, last as i128) as u64
                }
                ParamValue::Float(x) if x.is_finite() => {
                    nearest_step(*min as f64, s as f64, last as f64, *x)
                }
                _ => return None,
            };
            Some(ParamValue::Int(int_at(*min, *max, s, k)))
        }
        Domain::Discrete { values } => values.iter().find(|c| same_value(c, v, 0.0)).cloned(),
        Domain::Categorical { values } => match v {
            ParamValue::Str(s) => values.contains(s).then(|| v.clone()),
            _ => None,
        },
    }
}

/// `⌊u·(last + 1)⌋`, at most `last`: which of `last + 1` equal cells `u` falls in.
fn index_at(last: u64, u: f64) -> u64 {
    ((u * (last as f64 + 1.0)) as u64).min(last)
}

/// The real number at quantile `u` of a continuous distribution on `[lo, hi]`, as the core
/// documents them (normal: mean at the midpoint, σ a sixth of the range, truncated); always
/// finite and inside the bounds.
fn continuous_at(lo: f64, hi: f64, d: Distribution, u: f64) -> f64 {
    if lo >= hi {
        return lo;
    }
    let normal = |lo: f64, hi: f64| {
        let (mean, sigma) = (lo / 2.0 + hi / 2.0, hi / 6.0 - lo / 6.0);
        mean + sigma * crate::normal::truncated_quantile(-3.0, 3.0, u)
    };
    let x = match d {
        Distribution::Uniform => lerp(lo, hi, u),
        Distribution::LogUniform => lerp(lo.ln(), hi.ln(), u).exp(),
        Distribution::Normal => normal(lo, hi),
        Distribution::LogNormal => normal(lo.ln(), hi.ln()).exp(),
    };
    if x.is_nan() { lo } else { x.clamp(lo, hi) }
}

/// The last `k` with `min + k·step ≤ max`, with the core's `grid_values` slack (1e-9 of a
/// step). Infinite when the range overflows.
pub(crate) fn double_last_step(min: f64, max: f64, step: f64) -> f64 {
    ((max - min) / step + 1e-9).floor()
}

/// The last `k` with `min + k·step ≤ max` for integers (no overflow: computed in i128).
pub(crate) fn int_last_step(min: i64, max: i64, step: i64) -> u64 {
    ((max as i128 - min as i128) / step.max(1) as i128) as u64
}

/// `min + k·step` for integers, never beyond `max`.
pub(crate) fn int_at(min: i64, max: i64, step: i64, k: u64) -> i64 {
    (min as i128 + k as i128 * step.max(1) as i128).min(max as i128) as i64
}

/// `min + k·step` for a stepped double, rounded like `Domain::grid_values` so that it prints
/// as the user wrote it (`0.3`, not `0.30000000000000004`). Where that rounding would leave
/// the domain (steps below 1e-9, which `decimals_of` cannot see), the unrounded value is
/// used; `min` is the last resort, so the result is always inside the domain.
pub(crate) fn stepped_double(min: f64, max: f64, step: f64, k: u64) -> f64 {
    let raw = min + k as f64 * step;
    let rounded = round_to(raw, decimals_of(step).max(decimals_of(min)));
    let domain = Domain::Double {
        min,
        max,
        step: Some(step),
        distribution: Distribution::Uniform,
    };
    [rounded, raw, raw.clamp(min, max)]
        .into_iter()
        .find(|&x| (x - raw).abs() <= 1e-6 * step && domain.contains(&ParamValue::Float(x)))
        .unwrap_or(min)
}

/// Whether two values are the same point, allowing for the last-digit noise of a float that
/// went through storage: relative 1e-9, or `abs_tol` (a fraction of a step) when larger.
pub(crate) fn same_value(a: &ParamValue, b: &ParamValue, abs_tol: f64) -> bool {
    match (a, b) {
        (ParamValue::Str(x), ParamValue::Str(y)) => x == y,
        (ParamValue::Int(x), ParamValue::Int(y)) => x == y,
        (ParamValue::Str(_), _) | (_, ParamValue::Str(_)) => false,
        _ => {
            let (x, y) = (
                a.as_f64().unwrap_or(f64::NAN),
                b.as_f64().unwrap_or(f64::NAN),
            );
            x == y || (x - y).abs() <= abs_tol.max(1e-9 * x.abs().max(y.abs()))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stepped_double_is_print_clean_and_inside() {
        assert_eq!(stepped_double(0.1, 0.5, 0.1, 2), 0.3);
        assert_eq!(stepped_double(0.0, 1.0, 0.3, 3), 0.9);
        // decimals_of(1e-10) is 0: rounding would give 0 or 1, so the raw value is kept.
        let x = stepped_double(5e-10, 2e-9, 1e-10, 3);
        assert!((x - 8e-10).abs() < 1e-20, "{x}");
    }

    #[test]
    fn value_at_inverts_each_distribution() {
        let int = Domain::Int {
            min: 1,
            max: 4,
            step: None,
            distribution: Distribution::Uniform,
        };
        let at = |d: &Domain, u| value_at(d, u);
        // Four equal cells for four values, ends included.
        let got: Vec<ParamValue> = [0.0, 0.24, 0.25, 0.6, 0.99, 1.0]
            .iter()
            .map(|&u| at(&int, u))
            .collect();
        let want = [1, 1, 2, 3, 4, 4].map(ParamValue::Int);
        assert_eq!(got, want);
        let log = Domain::Double {
            min: 1e-4,
            max: 1.0,
            step: None,
            distribution: Distribution::LogUniform,
        };
        assert!((at(&log, 0.25).as_f64().unwrap() - 1e-3).abs() < 1e-15);
        let normal = Domain::Double {
            min: 0.0,
            max: 12.0,
            step: None,
            distribution: Distribution::Normal,
        };
        // Median at the midpoint; Φ(1)'s quantile of the ±3σ truncation is 1σ above it.
        assert!((at(&normal, 0.5).as_f64().unwrap() - 6.0).abs() < 1e-12);
        let (lo, hi) = (crate::normal::cdf(-3.0), crate::normal::cdf(3.0));
        let u = (crate::normal::cdf(1.0) - lo) / (hi - lo);
        assert!((at(&normal, u).as_f64().unwrap() - 8.0).abs() < 1e-9);
        assert_eq!(at(&normal, 0.0), ParamValue::Float(0.0));
        let cat = Domain::Categorical {
            values: vec!["a".into(), "b".into()],
        };
        assert_eq!(at(&cat, 0.7), ParamValue::Str("b".into()));
    }

    #[test]
    fn snap_keeps_allowed_values_and_moves_others_inside() {
        let f = ParamValue::Float;
        let stepped = Domain::Double {
            min: 0.1,
            max: 0.5,
            step: Some(0.1),
            distribution: Distribution::LogUniform,
        };
        for u in [0.0, 0.3, 0.51, 0.99] {
            let v = value_at(&stepped, u);
            assert_eq!(snap(&stepped, &v), Some(v));
        }
        assert_eq!(snap(&stepped, &f(0.33)), Some(f(0.3)));
        assert_eq!(snap(&stepped, &f(9.0)), Some(f(0.5)));
        assert_eq!(snap(&stepped, &ParamValue::Str("x".into())), None);
        let cont = Domain::Double {
            min: -1.0,
            max: 1.0,
            step: None,
            distribution: Distribution::Normal,
        };
        assert_eq!(snap(&cont, &f(0.123456789)), Some(f(0.123456789)));
        assert_eq!(snap(&cont, &f(-3.0)), Some(f(-1.0)));
        assert_eq!(snap(&cont, &f(f64::NAN)), None);
        let wide = Domain::Int {
            min: i64::MIN,
            max: i64::MAX,
            step: Some(3),
            distribution: Distribution::Uniform,
        };
        assert_eq!(
            snap(&wide, &ParamValue::Int(i64::MAX - 1)),
            Some(ParamValue::Int(i64::MAX))
        );
        assert_eq!(
            snap(&wide, &ParamValue::Int(i64::MIN + 4)),
            Some(ParamValue::Int(i64::MIN + 3))
        );
        let int = Domain::Int {
            min: 2,
            max: 9,
            step: Some(3),
            distribution: Distribution::Uniform,
        };
        assert_eq!(snap(&int, &f(6.9)), Some(ParamValue::Int(8)));
        assert_eq!(snap(&int, &ParamValue::Int(-40)), Some(ParamValue::Int(2)));
        let list = Domain::Discrete {
            values: vec![ParamValue::Int(16), f(32.5)],
        };
        assert_eq!(snap(&list, &f(16.0)), Some(ParamValue::Int(16)));
        assert_eq!(snap(&list, &f(17.0)), None);
        let cat = Domain::Categorical {
            values: vec!["a".into(), "b".into()],
        };
        assert_eq!(
            snap(&cat, &ParamValue::Str("b".into())),
            Some(ParamValue::Str("b".into()))
        );
        assert_eq!(snap(&cat, &ParamValue::Str("c".into())), None);
    }

    #[test]
    fn int_steps_do_not_overflow() {
        assert_eq!(int_last_step(i64::MIN, i64::MAX, 1), u64::MAX);
        assert_eq!(int_at(i64::MIN, i64::MAX, 1, u64::MAX), i64::MAX);
        assert_eq!(int_last_step(2, 9, 3), 2);
        assert_eq!(int_at(2, 9, 3, 2), 8);
    }

    #[test]
    fn same_value_tolerates_storage_noise_only() {
        let f = ParamValue::Float;
        assert!(same_value(&f(0.3), &f(0.1 + 0.2), 0.0));
        assert!(!same_value(&f(0.3), &f(0.3001), 0.0));
        assert!(same_value(&ParamValue::Int(16), &f(16.0), 0.0));
        assert!(!same_value(
            &ParamValue::Str("1".into()),
            &ParamValue::Int(1),
            0.0
        ));
        assert!(same_value(&f(0.0), &f(1e-17), 1e-9));
    }

    #[test]
    fn problems_are_reported_per_field() {
        let space = SearchSpace {
            parameters: vec![
                ferrotune_core::Parameter {
                    name: "a".into(),
                    domain: Domain::Double {
                        min: 0.0,
                        max: 1.0,
                        step: Some(0.0),
                        distribution: Distribution::LogUniform,
                    },
                },
                ferrotune_core::Parameter {
                    name: "b".into(),
                    domain: Domain::Categorical { values: vec![] },
                },
            ],
        };
        let paths: Vec<String> = space_problems(&space).into_iter().map(|e| e.path).collect();
        assert_eq!(
            paths,
            [
                "spec.parameters[0].feasibleSpace.min",
                "spec.parameters[0].feasibleSpace.step",
                "spec.parameters[1].feasibleSpace.list",
            ]
        );
    }
}
