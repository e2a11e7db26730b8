//! The learning curves both sides replay: one JSON file per (problem, seed) with, for each
//! configuration, its parameters, its value after every step, the time every step takes
//! and its true final value. The Rust binary writes the synthetic problem's files
//! ([`synthetic`]); `sgd_curves.py` writes the real model's in the same format.
//!
//! Every number in a file has at most 10 significant digits ([`r10`]): such a decimal
//! parses to the same double in Python and in serde_json (its mantissa and power of ten are
//! exact doubles, so one correctly rounded operation gives it), so both sides replay
//! exactly the same values and times.

use anyhow::{Context, Result, bail, ensure};
use ferrotune_core::{Assignment, Distribution, Domain, ParamValue, Parameter, SearchSpace};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::path::{Path, PathBuf};

/// The curve files' format version (`sgd_curves.py` writes the same).
pub const FORMAT: u32 = 1;

/// One problem's curves for one seed.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CurveSet {
    pub format: u32,
    pub problem: String,
    pub seed: u64,
    /// Steps of every full curve.
    pub steps: usize,
    /// What a step's time is measured in ("units" for the synthetic problem, "s" for the
    /// real one).
    pub time_unit: String,
    /// Always true here: every value is a loss.
    pub minimize: bool,
    /// The configurations' search space (for the search algorithms that propose
    /// configurations).
    pub parameters: Vec<ParamSpec>,
    pub trials: Vec<Curve>,
    #[serde(default)]
    pub source: String,
}

/// One parameter of the configurations' space.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ParamSpec {
    pub name: String,
    /// "double" or "categorical".
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub low: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub high: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub log: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub values: Option<Vec<String>>,
}

/// One configuration's curve.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Curve {
    pub params: Map<String, Value>,
    /// The value reported after step 1, 2, …, `steps` (noise included).
    pub values: Vec<f64>,
    /// The time step 1, 2, … takes.
    pub step_times: Vec<f64>,
    /// The true value at the last step: noise-free for the synthetic problem, the measured
    /// one for the real model.
    #[serde(rename = "final")]
    pub final_value: f64,
}

impl CurveSet {
    /// The file of `problem` for `seed` under `dir`.
    pub fn path(dir: &Path, problem: &str, seed: u64) -> PathBuf {
        dir.join(format!("{problem}-{seed}.json"))
    }

    /// Reads a file and keeps its first `configs` configurations, after checking it.
    pub fn load(path: &Path, configs: usize) -> Result<CurveSet> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("reading {} (made by run.sh)", path.display()))?;
        let mut set: CurveSet =
            serde_json::from_str(&text).with_context(|| format!("parsing {}", path.display()))?;
        ensure!(
            set.format == FORMAT,
            "{}: format {} (expected {FORMAT})",
            path.display(),
            set.format
        );
        ensure!(
            set.trials.len() >= configs,
            "{}: {} configurations, {configs} wanted",
            path.display(),
            set.trials.len()
        );
        set.trials.truncate(configs);
        for (i, c) in set.trials.iter().enumerate() {
            ensure!(
                c.values.len() == set.steps && c.step_times.len() == set.steps,
                "{}: configuration {i} has {} values and {} step times for {} steps",
                path.display(),
                c.values.len(),
                c.step_times.len(),
                set.steps
            );
            ensure!(
                c.step_times.iter().all(|t| t.is_finite() && *t > 0.0),
                "{}: configuration {i} has a step time that is not positive",
                path.display()
            );
        }
        Ok(set)
    }

    /// Writes the file (through a temporary one, so that a reader never sees half of it).
    pub fn save(&self, path: &Path) -> Result<()> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        let tmp = path.with_extension("json.tmp");
        std::fs::write(&tmp, serde_json::to_string(self)?)?;
        std::fs::rename(&tmp, path)?;
        Ok(())
    }

    /// The configurations' search space, as ferrotune declares it.
    pub fn space(&self) -> Result<SearchSpace> {
        let parameters = self
            .parameters
            .iter()
            .map(|p| {
                let domain = match p.kind.as_str() {
                    "double" => {
                        let (Some(min), Some(max)) = (p.low, p.high) else {
                            bail!("parameter {}: a double needs low and high", p.name);
                        };
                        Domain::Double {
                            min,
                            max,
                            step: None,
                            distribution: if p.log == Some(true) {
                                Distribution::LogUniform
                            } else {
                                Distribution::Uniform
                            },
                        }
                    }
                    "categorical" => Domain::Categorical {
                        values: p.values.clone().unwrap_or_default(),
                    },
                    other => bail!("parameter {}: unknown type {other:?}", p.name),
                };
                Ok(Parameter {
                    name: p.name.clone(),
                    domain,
                })
            })
            .collect::<Result<_>>()?;
        Ok(SearchSpace { parameters })
    }

    /// Configuration `i`'s parameters as an assignment, in the space's order.
    pub fn assignment(&self, i: usize) -> Result<Assignment> {
        let params = &self.trials[i].params;
        self.parameters
            .iter()
            .map(|p| {
                let v = params
                    .get(&p.name)
                    .with_context(|| format!("configuration {i} has no {}", p.name))?;
                let value = match (p.kind.as_str(), v) {
                    ("categorical", Value::String(s)) => ParamValue::Str(s.clone()),
                    ("double", Value::Number(n)) => ParamValue::Float(
                        n.as_f64()
                            .with_context(|| format!("configuration {i}: {}", p.name))?,
                    ),
                    _ => bail!("configuration {i}: {} = {v} is not a {}", p.name, p.kind),
                };
                Ok((p.name.clone(), value))
            })
            .collect::<Result<Vec<_>>>()
            .map(Assignment)
    }

    /// The best true final value of all configurations.
    pub fn best_final(&self) -> f64 {
        self.trials
            .iter()
            .map(|c| c.final_value)
            .fold(f64::INFINITY, f64::min)
    }
}

/// `x` rounded to 10 significant digits: the curve files' numbers.
pub fn r10(x: f64) -> f64 {
    format!("{x:.9e}")
        .parse()
        .expect("a formatted float parses")
}

/// The problems the benchmark knows.
pub const PROBLEMS: &[&str] = &["synthetic", "sgd"];

pub mod synthetic {
    //! The synthetic problem: power-law learning curves towards a configuration-dependent
    //! asymptote, with Gaussian noise, for configurations of four hyperparameters. A high
    //! learning rate converges fast but to a worse asymptote, a wide model slowly to a
    //! better one at a higher cost per step, and Adam is faster early than SGD but ends a
    //! little worse: so curves cross, and the early leaders are often not the final ones.
    //!
    //! value(step) = a + (2.3 − a)·(1 + step/τ)^(−α) + σ·z(seed, config, step), with
    //!   u  = log10(lr), u* = −1.3 (SGD) or −2.5 (Adam),
    //!   a  = 0.05 + 0.35·(1 − width)² + 0.10·(u − u*)² + 0.04·[Adam],
    //!   τ  = 15·10^(−0.8·(u + 1.5))·(0.5 + width)·(0.3 if Adam else 1)/(1 + momentum),
    //!   α  = 0.7 + momentum,
    //!   σ  = 0.01 + 0.04·√lr,
    //!   time per step = (0.5 + 1.5·width)·(1.1 if Adam else 1) units,
    //! and z a standard normal drawn from (seed, config, step) by splitmix64 and Box–Muller.
    //! The true final value is the noise-free value at the last step.

    use super::{Curve, CurveSet, FORMAT, ParamSpec, r10};
    use serde_json::{Map, json};

    pub const PROBLEM: &str = "synthetic";

    /// One configuration.
    #[derive(Debug, Clone, Copy, PartialEq)]
    pub struct Config {
        pub lr: f64,
        pub width: f64,
        pub momentum: f64,
        pub adam: bool,
    }

    impl Config {
        /// Configuration `index` of `seed`: lr log-uniform in [1e-3, 1], width uniform in
        /// [0, 1], momentum uniform in [0, 0.95], optimizer SGD or Adam; each value
        /// already rounded as the file stores it.
        pub fn draw(seed: u64, index: usize) -> Config {
            let u = |stream: u64| uniform(seed, index as u64, stream);
            Config {
                lr: r10(10f64.powf(-3.0 + 3.0 * u(0))),
                width: r10(u(1)),
                momentum: r10(0.95 * u(2)),
                adam: u(3) < 0.5,
            }
        }

        pub fn asymptote(&self) -> f64 {
            let u = self.lr.log10();
            let best_u = if self.adam { -2.5 } else { -1.3 };
            0.05 + 0.35 * (1.0 - self.width).powi(2)
                + 0.10 * (u - best_u).powi(2)
                + if self.adam { 0.04 } else { 0.0 }
        }

        pub fn tau(&self) -> f64 {
            let u = self.lr.log10();
            15.0 * 10f64.powf(-0.8 * (u + 1.5))
                * (0.5 + self.width)
                * if self.adam { 0.3 } else { 1.0 }
                / (1.0 + self.momentum)
        }

        /// The noise-free value after `step` steps.
        pub fn mean(&self, step: f64) -> f64 {
            let a = self.asymptote();
            a + (2.3 - a) * (1.0 + step / self.tau()).powf(-(0.7 + self.momentum))
        }

        pub fn sigma(&self) -> f64 {
            0.01 + 0.04 * self.lr.sqrt()
        }

        pub fn step_time(&self) -> f64 {
            (0.5 + 1.5 * self.width) * if self.adam { 1.1 } else { 1.0 }
        }
    }

    pub fn parameters() -> Vec<ParamSpec> {
        let double = |name: &str, low: f64, high: f64, log: bool| ParamSpec {
            name: name.into(),
            kind: "double".into(),
            low: Some(low),
            high: Some(high),
            log: Some(log),
            values: None,
        };
        vec![
            double("lr", 1e-3, 1.0, true),
            double("width", 0.0, 1.0, false),
            double("momentum", 0.0, 0.95, false),
            ParamSpec {
                name: "optimizer".into(),
                kind: "categorical".into(),
                low: None,
                high: None,
                log: None,
                values: Some(vec!["sgd".into(), "adam".into()]),
            },
        ]
    }

    /// The curves of `configs` configurations of `seed`, `steps` steps each.
    pub fn generate(seed: u64, configs: usize, steps: usize) -> CurveSet {
        let trials = (0..configs)
            .map(|i| {
                let c = Config::draw(seed, i);
                let values = (1..=steps)
                    .map(|s| r10(c.mean(s as f64) + c.sigma() * normal(seed, i as u64, s as u64)))
                    .collect();
                let mut params = Map::new();
                params.insert("lr".into(), json!(c.lr));
                params.insert("width".into(), json!(c.width));
                params.insert("momentum".into(), json!(c.momentum));
                params.insert(
                    "optimizer".into(),
                    json!(if c.adam { "adam" } else { "sgd" }),
                );
                Curve {
                    params,
                    values,
                    step_times: vec![r10(c.step_time()); steps],
                    final_value: r10(c.mean(steps as f64)),
                }
            })
            .collect();
        CurveSet {
            format: FORMAT,
            problem: PROBLEM.into(),
            seed,
            steps,
            time_unit: "units".into(),
            minimize: true,
            parameters: parameters(),
            trials,
            source: "synthetic power-law curves (benches/stopping/src/curves.rs)".into(),
        }
    }

    fn splitmix64(mut z: u64) -> u64 {
        z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A uniform draw in [0, 1) from (seed, index, stream).
    fn uniform(seed: u64, index: u64, stream: u64) -> f64 {
        let h = splitmix64(splitmix64(splitmix64(seed ^ 0x5EED_0FC0_FFEE) ^ index) ^ stream);
        (h >> 11) as f64 / (1u64 << 53) as f64
    }

    /// A standard normal draw from (seed, config, step): Box–Muller on two uniforms.
    pub fn normal(seed: u64, config: u64, step: u64) -> f64 {
        let u1 = 1.0 - uniform(seed, config, 1000 + 2 * step); // in (0, 1]
        let u2 = uniform(seed, config, 1001 + 2 * step);
        (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ten_digit_numbers_survive_json() {
        for x in [
            0.1234567891234,
            2.3,
            1e-3,
            36.04365338911715,
            0.0153,
            1.0 / 3.0,
        ] {
            let r = r10(x);
            let back: f64 = serde_json::from_str(&serde_json::to_string(&r).unwrap()).unwrap();
            assert_eq!(back.to_bits(), r.to_bits(), "{x}");
            assert!((r - x).abs() <= 1e-9 * x.abs());
        }
    }

    #[test]
    fn synthetic_curves_are_deterministic_and_cross() {
        let a = synthetic::generate(3, 64, 100);
        let b = synthetic::generate(3, 32, 100);
        assert_eq!(a.trials[..32].len(), b.trials.len());
        for (x, y) in a.trials.iter().zip(&b.trials) {
            assert_eq!(
                x.values, y.values,
                "a shorter list is a prefix of a longer one"
            );
        }
        let n = a.trials.len();
        let mean_step = |c: &Curve, s: usize| c.values[s - 1];
        // Pairs of configurations whose order at step 5 differs from their true final order.
        let mut crossing = 0;
        let mut pairs = 0;
        for i in 0..n {
            for j in i + 1..n {
                let (ci, cj) = (&a.trials[i], &a.trials[j]);
                pairs += 1;
                if (mean_step(ci, 5) < mean_step(cj, 5)) != (ci.final_value < cj.final_value) {
                    crossing += 1;
                }
            }
        }
        let share = crossing as f64 / pairs as f64;
        assert!(share > 0.1 && share < 0.5, "{share}");
        // Noise has unit variance.
        let z: Vec<f64> = (0..20_000).map(|s| synthetic::normal(1, 2, s)).collect();
        let m = z.iter().sum::<f64>() / z.len() as f64;
        let v = z.iter().map(|x| (x - m).powi(2)).sum::<f64>() / z.len() as f64;
        assert!(m.abs() < 0.03 && (v - 1.0).abs() < 0.05, "{m} {v}");
    }

    #[test]
    fn files_round_trip_and_give_assignments() {
        let dir = std::env::temp_dir().join(format!("stopping-curves-{}", std::process::id()));
        let set = synthetic::generate(0, 8, 10);
        let path = CurveSet::path(&dir, "synthetic", 0);
        set.save(&path).unwrap();
        let back = CurveSet::load(&path, 5).unwrap();
        assert_eq!(back.trials.len(), 5);
        assert_eq!(back.trials[4].values, set.trials[4].values);
        assert!(CurveSet::load(&path, 9).is_err());
        let space = back.space().unwrap();
        let a = back.assignment(2).unwrap();
        assert!(space.contains(&a), "{a:?}");
        std::fs::remove_dir_all(dir).unwrap();
    }
}
