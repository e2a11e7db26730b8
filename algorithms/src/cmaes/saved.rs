//! The saved state: everything a restarted controller needs to continue bit for bit.
//!
//! ```json
//! {"version": 1, "parameters": ["lr", "layers"], "categoricals": ["opt"],
//!  "restart_strategy": "ipop",
//!  "restarts": {"count": 0, "regime": "small", "large_runs": 0,
//!               "small_evaluations": 0, "large_evaluations": 0},
//!  "run": {"popsize": 6, "sigma0": "0.16666666666666666", "generation": 3,
//!          "mean": ["0.5", "0.41"], "sigma": "0.12", "cov": [["1.0", "0.0"], ["0.0", "1.0"]],
//!          "p_sigma": [..], "p_c": [..], "margin_scale": ["1.0", "2.5"],
//!          "best": "0.031" | null, "best_generation": 2, "categorical": [["0.5", "0.5"]]},
//!  "generations": [[0, 0, 0], [6, 0, 1], [13, 0, 2]]}
//! ```
//!
//! `parameters` names the dimensions in order and `categoricals` the categorical parameters,
//! so that a state is never applied to another space. Each entry of `generations` is
//! `[first trial index in the history, restart, generation]`: the trials from there up to
//! the next entry belong to that generation. Numbers are strings in Rust's shortest
//! round-trip form (see the module above).

use super::{CmaEs, Generation, Regime, RestartStrategy, Restarts, Slot, strategy::Run};
use nalgebra::{DMatrix, DVector};
use serde_json::{Value, json};

const VERSION: u64 = 1;

fn num(x: f64) -> Value {
    Value::String(format!("{x:?}"))
}

fn nums<'a>(xs: impl IntoIterator<Item = &'a f64>) -> Value {
    Value::Array(xs.into_iter().map(|x| num(*x)).collect())
}

impl CmaEs {
    fn names(&self) -> (Vec<&str>, Vec<&str>) {
        let mut dims = vec![""; self.enc.dims.len()];
        let mut cats = vec![""; self.enc.cats.len()];
        for (slot, name) in self.enc.slots.iter().zip(&self.enc.names) {
            match slot {
                Slot::Dim(j) => dims[*j] = name,
                Slot::Cat(c) => cats[*c] = name,
                Slot::Const(_) => {}
            }
        }
        (dims, cats)
    }

    pub(super) fn to_json(&self) -> Value {
        let (dims, cats) = self.names();
        let r = &self.run;
        let d = r.dim();
        let cov: Vec<Value> = (0..d)
            .map(|i| nums((0..d).map(|j| &r.cov[(i, j)])))
            .collect();
        json!({
            "version": VERSION,
            "parameters": dims,
            "categoricals": cats,
            "restart_strategy": match self.settings.restart {
                RestartStrategy::None => "none",
                RestartStrategy::Ipop => "ipop",
                RestartStrategy::Bipop => "bipop",
            },
            "restarts": {
                "count": self.restarts.count,
                "regime": match self.restarts.regime {
                    Regime::Small => "small",
                    Regime::Large => "large",
                },
                "large_runs": self.restarts.large_runs,
                "small_evaluations": self.restarts.small_evaluations,
                "large_evaluations": self.restarts.large_evaluations,
            },
            "run": {
                "popsize": r.popsize,
                "sigma0": num(r.sigma0),
                "generation": r.generation,
                "mean": nums(r.mean.iter()),
                "sigma": num(r.sigma),
                "cov": cov,
                "p_sigma": nums(r.p_sigma.iter()),
                "p_c": nums(r.p_c.iter()),
                "margin_scale": nums(r.scale.iter()),
                "best": r.best.map(num),
                "best_generation": r.best_generation,
                "categorical": r.probs.iter().map(nums).collect::<Vec<_>>(),
            },
            "generations": self
                .generations
                .iter()
                .map(|g| json!([g.first_trial, g.restart, g.generation]))
                .collect::<Vec<_>>(),
        })
    }

    /// Replaces the state with a saved one, after checking that it fits this space; on error
    /// nothing changes.
    pub(super) fn load_json(&mut self, v: &Value) -> Result<(), String> {
        let version = uint(field(v, "version")?)?;
        if version != VERSION {
            return Err(format!("unknown version {version}"));
        }
        let (dims, cats) = self.names();
        let strings = |key: &str| -> Result<Vec<String>, String> {
            list(field(v, key)?)?
                .iter()
                .map(|s| {
                    s.as_str()
                        .map(str::to_string)
                        .ok_or(format!("{key}: not a name"))
                })
                .collect()
        };
        if strings("parameters")? != dims || strings("categoricals")? != cats {
            return Err("it was saved for other parameters".into());
        }
        let d = dims.len();
        let r = field(v, "run")?;
        let vector = |key: &str, len: usize| -> Result<DVector<f64>, String> {
            let xs = floats(field(r, key)?)?;
            if xs.len() != len {
                return Err(format!("{key} has {} entries, expected {len}", xs.len()));
            }
            Ok(DVector::from_vec(xs))
        };
        let rows = list(field(r, "cov")?)?;
        if rows.len() != d {
            return Err(format!("cov has {} rows, expected {d}", rows.len()));
        }
        let mut cov = DMatrix::zeros(d, d);
        for (i, row) in rows.iter().enumerate() {
            let row = floats(row)?;
            if row.len() != d {
                return Err(format!(
                    "cov row {i} has {} entries, expected {d}",
                    row.len()
                ));
            }
            for (j, x) in row.into_iter().enumerate() {
                cov[(i, j)] = x;
            }
        }
        let probs: Vec<Vec<f64>> = list(field(r, "categorical")?)?
            .iter()
            .map(floats)
            .collect::<Result<_, _>>()?;
        if probs.len() != self.enc.cats.len()
            || probs
                .iter()
                .zip(&self.enc.cats)
                .any(|(p, c)| p.len() != c.len())
        {
            return Err("categorical probabilities do not fit the parameters".into());
        }
        let popsize = uint(field(r, "popsize")?)? as usize;
        if !(2..=super::MAX_POPSIZE).contains(&popsize) {
            return Err(format!("popsize {popsize} out of range"));
        }
        let sigma = float(field(r, "sigma")?)?;
        let sigma0 = float(field(r, "sigma0")?)?;
        if !(sigma > 0.0 && sigma.is_finite() && sigma0 > 0.0 && sigma0.is_finite()) {
            return Err(format!("sigma {sigma} or sigma0 {sigma0} is not positive"));
        }
        let best = match field(r, "best")? {
            Value::Null => None,
            b => Some(float(b)?),
        };
        let mut run = Run::new(vec![0.5; d], sigma0, popsize, &self.enc.cats);
        run.generation = uint(field(r, "generation")?)?;
        run.mean = vector("mean", d)?;
        run.sigma = sigma;
        run.cov = cov;
        run.p_sigma = vector("p_sigma", d)?;
        run.p_c = vector("p_c", d)?;
        run.scale = vector("margin_scale", d)?;
        run.best = best;
        run.best_generation = uint(field(r, "best_generation")?)?;
        run.probs = probs;
        if !run.decompose() {
            return Err("cov is not a covariance matrix".into());
        }

        let rs = field(v, "restarts")?;
        let restarts = Restarts {
            count: uint(field(rs, "count")?)?,
            regime: match field(rs, "regime")?.as_str() {
                Some("small") => Regime::Small,
                Some("large") => Regime::Large,
                other => return Err(format!("unknown regime {other:?}")),
            },
            large_runs: u32::try_from(uint(field(rs, "large_runs")?)?)
                .map_err(|e| e.to_string())?,
            small_evaluations: uint(field(rs, "small_evaluations")?)?,
            large_evaluations: uint(field(rs, "large_evaluations")?)?,
        };
        let generations = list(field(v, "generations")?)?
            .iter()
            .map(|g| match list(g)?.as_slice() {
                [a, b, c] => Ok(Generation {
                    first_trial: uint(a)?,
                    restart: uint(b)?,
                    generation: uint(c)?,
                }),
                _ => Err("a generation is not [first_trial, restart, generation]".to_string()),
            })
            .collect::<Result<Vec<_>, _>>()?;

        self.run = run;
        self.restarts = restarts;
        self.generations = generations;
        Ok(())
    }
}

fn field<'a>(v: &'a Value, key: &str) -> Result<&'a Value, String> {
    v.get(key).ok_or_else(|| format!("{key} is missing"))
}

fn list(v: &Value) -> Result<&Vec<Value>, String> {
    v.as_array().ok_or_else(|| format!("{v} is not a list"))
}

fn uint(v: &Value) -> Result<u64, String> {
    v.as_u64()
        .ok_or_else(|| format!("{v} is not a non-negative integer"))
}

/// A number saved as a string (or, leniently, as a JSON number).
fn float(v: &Value) -> Result<f64, String> {
    match v {
        Value::String(s) => s.parse().map_err(|_| format!("{s:?} is not a number")),
        Value::Number(n) => n.as_f64().ok_or_else(|| format!("{n} is not a number")),
        _ => Err(format!("{v} is not a number")),
    }
}

fn floats(v: &Value) -> Result<Vec<f64>, String> {
    list(v)?.iter().map(float).collect()
}
