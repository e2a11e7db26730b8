//! From a parsed document to a validated [`Experiment`], collecting every problem at once.

use crate::error::FieldError;
use crate::load::{LoadedDoc, did_you_mean};
use crate::metrics::{MetricParser, MetricsFormat};
use crate::placement::{
    RayMode, RunnerChoice, RunnerKind, TrialResources, normalize_ray_address, parse_amount,
    parse_cpu, parse_memory,
};
use crate::space::{Distribution, Domain, Parameter, SearchSpace};
use crate::spec::{self, AlgorithmDoc, ExperimentDoc, FeasibleSpaceDoc, Scalar};
use crate::substitute::{Placeholder, is_meta_field, placeholders, reference_meta_field};
use crate::template::{
    Container, TemplateSource, TrialTemplate, container_command, primary_container,
};
use crate::trial::{MetricStrategy, MetricSummary, ObjectiveType};
use crate::value::ParamValue;
use std::collections::{BTreeSet, HashMap};
use std::time::Duration;

/// The namespace experiments land in when none is given (never `default`).
pub const DEFAULT_NAMESPACE: &str = "ferrotune";
/// Katib's default `parallelTrialCount`.
pub const DEFAULT_PARALLEL_TRIAL_COUNT: u32 = 3;

/// Which dialect a document was written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flavor {
    Katib,
    Native,
}

/// An algorithm name and its settings as written.
#[derive(Debug, Clone, PartialEq)]
pub struct AlgorithmSpec {
    pub name: String,
    pub settings: Vec<(String, String)>,
}

/// The objective and how each metric's value is chosen.
#[derive(Debug, Clone, PartialEq)]
pub struct Objective {
    /// The (first) objective's direction.
    pub type_: ObjectiveType,
    pub goal: Option<f64>,
    /// The (first) objective's metric.
    pub metric: String,
    /// The objectives after the first, for a multi-objective experiment (native
    /// `objective.objectives`); empty for a single objective.
    pub more: Vec<(String, ObjectiveType)>,
    pub additional_metrics: Vec<String>,
    /// A strategy for the objective and every additional metric (Katib's defaults filled in).
    pub strategies: Vec<(String, MetricStrategy)>,
}

impl Objective {
    /// Every metric name: the objectives in order, then the additional metrics.
    pub fn all_metrics(&self) -> Vec<String> {
        std::iter::once(self.metric.clone())
            .chain(self.more.iter().map(|(m, _)| m.clone()))
            .chain(self.additional_metrics.iter().cloned())
            .collect()
    }

    /// Every objective's metric and direction, in spec order (one for Katib's format).
    pub fn objectives(&self) -> Vec<(String, ObjectiveType)> {
        std::iter::once((self.metric.clone(), self.type_))
            .chain(self.more.iter().cloned())
            .collect()
    }

    /// Every objective's direction, in spec order.
    pub fn directions(&self) -> Vec<ObjectiveType> {
        std::iter::once(self.type_)
            .chain(self.more.iter().map(|(_, t)| *t))
            .collect()
    }

    /// True when the experiment optimises several objectives at once.
    pub fn is_multi(&self) -> bool {
        !self.more.is_empty()
    }

    /// Every objective's value by its strategy, when a trial reported all of them.
    pub fn values(&self, metrics: &[MetricSummary]) -> Option<Vec<f64>> {
        self.objectives()
            .iter()
            .map(|(m, _)| {
                metrics
                    .iter()
                    .find(|s| &s.name == m)
                    .map(|s| s.pick(self.strategy(m)))
            })
            .collect()
    }

    /// The strategy that picks a metric's value.
    pub fn strategy(&self, metric: &str) -> MetricStrategy {
        self.strategies
            .iter()
            .find(|(n, _)| n == metric)
            .map(|(_, s)| *s)
            .unwrap_or(MetricStrategy::default_for(self.type_))
    }
}

/// Where metrics are read from.
#[derive(Debug, Clone, PartialEq)]
pub enum CollectorKind {
    /// The trial's stdout and stderr.
    StdOut,
    /// A file (or every file in a directory) the trial writes.
    File { path: String, directory: bool },
    /// The trial pushes its metrics over gRPC (the SDK's `report`); its output is only
    /// logged.
    Push,
}

/// The metrics collector.
#[derive(Debug, Clone, PartialEq)]
pub struct Collector {
    pub kind: CollectorKind,
    pub format: MetricsFormat,
    /// Custom regexes; empty means Katib's default.
    pub filters: Vec<String>,
}

/// The most re-runs `spec.maxTrialRetries` allows a failed trial.
pub const MAX_TRIAL_RETRIES: u32 = 100;

/// The most processes one trial may have (`trialTemplate.replicas`).
pub const MAX_REPLICAS: u32 = 1024;

/// A validated experiment: everything the controller needs, with defaults applied.
#[derive(Debug, Clone, PartialEq)]
pub struct Experiment {
    pub flavor: Flavor,
    pub name: String,
    pub namespace: String,
    pub objective: Objective,
    pub algorithm: AlgorithmSpec,
    pub early_stopping: Option<AlgorithmSpec>,
    pub parallel_trial_count: u32,
    pub max_trial_count: Option<u32>,
    pub max_failed_trial_count: Option<u32>,
    /// `spec.maxTrialRetries` (native): re-runs of a failed trial before it counts as
    /// Failed.
    pub max_trial_retries: u32,
    pub space: SearchSpace,
    pub template: TrialTemplate,
    pub collector: Collector,
    /// `spec.runner` (native format), when given.
    pub runner: Option<RunnerChoice>,
    /// Things that are ignored when running locally (image, valueFrom, …), to say once.
    pub notes: Vec<String>,
}

/// Checks algorithm names and settings; provided by the algorithms crate so that this crate
/// stays free of algorithm code.
pub trait AlgorithmCheck {
    /// Problems with `spec.algorithm` for this search space and number of objectives.
    fn check_algorithm(
        &self,
        algorithm: &AlgorithmSpec,
        space: &SearchSpace,
        objectives: usize,
    ) -> Vec<FieldError>;
    /// What to tell the user about valid algorithm settings (e.g. accepted but ignored).
    fn algorithm_notes(&self, _algorithm: &AlgorithmSpec) -> Vec<String> {
        Vec::new()
    }
    /// Problems with `spec.earlyStopping`.
    fn check_early_stopping(&self, rule: &AlgorithmSpec) -> Vec<FieldError>;
}

/// Validates a loaded document. Unknown fields, structural problems and algorithm problems
/// all come back together.
pub fn validate(
    loaded: &LoadedDoc,
    check: &dyn AlgorithmCheck,
) -> Result<Experiment, Vec<FieldError>> {
    let mut v = Validator {
        errors: loaded.unknown_fields.clone(),
        notes: Vec::new(),
    };
    let exp = v.experiment(&loaded.doc, check);
    match exp {
        Some(e) if v.errors.is_empty() => Ok(Experiment {
            notes: v.notes,
            ..e
        }),
        _ => Err(v.errors),
    }
}

/// What a search algorithm needs of an experiment, without the trial template: what
/// Katib's stateless Suggestion service receives.
#[derive(Debug, Clone, PartialEq)]
pub struct SearchPart {
    pub objective: Objective,
    pub space: SearchSpace,
    pub algorithm: AlgorithmSpec,
    pub early_stopping: Option<AlgorithmSpec>,
    pub notes: Vec<String>,
}

/// Validates the objective, parameters, algorithm and early-stopping rule of a Katib spec,
/// with the same rules and field paths as [`validate`].
pub fn validate_search(
    spec: &spec::SpecDoc,
    check: &dyn AlgorithmCheck,
) -> Result<SearchPart, Vec<FieldError>> {
    let mut v = Validator {
        errors: Vec::new(),
        notes: Vec::new(),
    };
    let (_, part) = v.search(Flavor::Katib, spec, check);
    match part {
        Some(p) if v.errors.is_empty() => Ok(SearchPart {
            notes: v.notes,
            ..p
        }),
        _ => Err(v.errors),
    }
}

struct Validator {
    errors: Vec<FieldError>,
    notes: Vec<String>,
}

fn parse_f64(s: &Scalar) -> Option<f64> {
    s.0.trim().parse::<f64>().ok().filter(|x| x.is_finite())
}

fn parse_i64(s: &Scalar) -> Option<i64> {
    let t = s.0.trim();
    t.parse::<i64>().ok().or_else(|| {
        // "3.0" is a whole number too.
        t.parse::<f64>()
            .ok()
            .filter(|x| x.is_finite() && x.fract() == 0.0 && x.abs() < 9.0e15)
            .map(|x| x as i64)
    })
}

const PARAMETER_TYPES: [&str; 4] = ["double", "int", "discrete", "categorical"];
const DISTRIBUTIONS: [&str; 4] = ["uniform", "logUniform", "normal", "logNormal"];

impl Validator {
    fn err(&mut self, path: impl Into<String>, msg: impl Into<String>) {
        self.errors.push(FieldError::new(path, msg));
    }

    fn experiment(
        &mut self,
        doc: &ExperimentDoc,
        check: &dyn AlgorithmCheck,
    ) -> Option<Experiment> {
        let flavor = match doc.api_version.as_str() {
            spec::KATIB_API_VERSION => Flavor::Katib,
            spec::NATIVE_API_VERSION => Flavor::Native,
            "" => {
                self.err(
                    "apiVersion",
                    format!(
                        "is required ({} or {})",
                        spec::NATIVE_API_VERSION,
                        spec::KATIB_API_VERSION
                    ),
                );
                Flavor::Native
            }
            other => {
                self.err(
                    "apiVersion",
                    format!(
                        "{other:?} is not supported (use {} or {})",
                        spec::NATIVE_API_VERSION,
                        spec::KATIB_API_VERSION
                    ),
                );
                Flavor::Native
            }
        };
        if doc.kind != "Experiment" {
            self.err("kind", format!("must be Experiment, got {:?}", doc.kind));
        }
        let name = doc.metadata.name.clone().unwrap_or_default();
        if name.is_empty() {
            self.err("metadata.name", "is required");
        } else if !is_dns_label(&name) {
            self.err("metadata.name", format!("{name:?} must be lower-case letters, digits and '-', start and end with a letter or digit, at most 63 characters"));
        }
        let namespace = doc
            .metadata
            .namespace
            .clone()
            .unwrap_or_else(|| DEFAULT_NAMESPACE.to_string());
        if !is_dns_label(&namespace) {
            self.err(
                "metadata.namespace",
                format!("{namespace:?} is not a valid namespace name"),
            );
        }
        let s = &doc.spec;

        let (space, search) = self.search(flavor, s, check);
        let parallel = self.count("spec.parallelTrialCount", s.parallel_trial_count);
        let max = self.count("spec.maxTrialCount", s.max_trial_count);
        let max_failed = self.count("spec.maxFailedTrialCount", s.max_failed_trial_count);
        let parallel = parallel.unwrap_or(DEFAULT_PARALLEL_TRIAL_COUNT);
        if let Some(m) = max {
            if parallel > m {
                self.err(
                    "spec.parallelTrialCount",
                    format!("({parallel}) must not exceed maxTrialCount ({m})"),
                );
            }
            if let Some(f) = max_failed
                && f > m
            {
                self.err(
                    "spec.maxFailedTrialCount",
                    format!("({f}) must not exceed maxTrialCount ({m})"),
                );
            }
        }
        if let Some(p) = &s.resume_policy
            && !["Never", "LongRunning", "FromVolume"].contains(&p.as_str())
        {
            self.err(
                "spec.resumePolicy",
                format!("{p:?} must be one of Never, LongRunning, FromVolume"),
            );
        }
        if s.nas_config.is_some() {
            self.err(
                "spec.nasConfig",
                "neural architecture search is not supported by ferrotune",
            );
        }
        let template = self.template(flavor, doc, &space);
        let runner = self.runner(flavor, s.runner.as_ref());
        let max_trial_retries = self.retries(flavor, s.max_trial_retries);
        let collector = self.collector(
            s.metrics_collector_spec.as_ref(),
            search.as_ref().map(|p| &p.objective),
        );
        let SearchPart {
            objective,
            algorithm,
            early_stopping,
            ..
        } = search?;

        Some(Experiment {
            flavor,
            name,
            namespace,
            objective,
            algorithm,
            early_stopping,
            parallel_trial_count: parallel,
            max_trial_count: max,
            max_failed_trial_count: max_failed,
            max_trial_retries,
            space,
            template: template?,
            collector: collector?,
            runner,
            notes: Vec::new(),
        })
    }

    /// Whether a field of ferrotune's own format may be used here: in a Katib document it
    /// is an error that says `why` Katib has no such field and what to use instead.
    fn native_only(&mut self, flavor: Flavor, path: &str, why: &str, instead: &str) -> bool {
        if flavor == Flavor::Katib {
            let native = spec::NATIVE_API_VERSION;
            self.err(
                path,
                format!("is a {native} field ({why}); use apiVersion {native}{instead}"),
            );
        }
        flavor != Flavor::Katib
    }

    /// `spec.maxTrialRetries`: a native field, from 0 to [`MAX_TRIAL_RETRIES`].
    fn retries(&mut self, flavor: Flavor, v: Option<i64>) -> u32 {
        let path = "spec.maxTrialRetries";
        let Some(v) = v else { return 0 };
        if !self.native_only(flavor, path, "Katib leaves retries to the trial's Job", "") {
            return 0;
        }
        if !(0..=i64::from(MAX_TRIAL_RETRIES)).contains(&v) {
            self.err(
                path,
                format!("must be from 0 to {MAX_TRIAL_RETRIES}, got {v}"),
            );
            return 0;
        }
        v as u32
    }

    /// `spec.runner`: `{kind: local|ray, address, mode}`, native format only.
    fn runner(&mut self, flavor: Flavor, r: Option<&spec::RunnerDoc>) -> Option<RunnerChoice> {
        let r = r?;
        let base = "spec.runner";
        if !self.native_only(
            flavor,
            base,
            "Katib runs trials on Kubernetes",
            " or the --runner option",
        ) {
            return None;
        }
        let kind = match r.kind.as_deref() {
            None | Some("") => {
                self.err(
                    format!("{base}.kind"),
                    format!("is required ({})", RunnerKind::NAMES.join(" or ")),
                );
                None
            }
            Some(k) => match RunnerKind::parse(k) {
                Some(kind) => Some(kind),
                None => {
                    let hint = did_you_mean(k, RunnerKind::NAMES)
                        .map(|s| format!(", did you mean {s:?}?"))
                        .unwrap_or_default();
                    self.err(
                        format!("{base}.kind"),
                        format!(
                            "unknown runner {k:?} (known: {}){hint}",
                            RunnerKind::NAMES.join(", ")
                        ),
                    );
                    None
                }
            },
        };
        let n_before = self.errors.len();
        let address = r.address.as_deref().and_then(|a| {
            normalize_ray_address(a)
                .map_err(|e| self.err(format!("{base}.address"), e))
                .ok()
        });
        let mode = match r.mode.as_deref() {
            None => RayMode::default(),
            Some(m) => RayMode::parse(m).unwrap_or_else(|e| {
                self.err(format!("{base}.mode"), e);
                RayMode::default()
            }),
        };
        if kind == Some(RunnerKind::Local) {
            for (field, given) in [("address", r.address.is_some()), ("mode", r.mode.is_some())] {
                if given {
                    self.err(format!("{base}.{field}"), "is only for kind ray");
                }
            }
        }
        if self.errors.len() > n_before {
            return None;
        }
        Some(RunnerChoice {
            kind: kind?,
            address,
            mode,
        })
    }

    /// Native `trialTemplate.resources`.
    fn native_resources(&mut self, base: &str, r: &spec::ResourcesDoc) -> TrialResources {
        let mut out = TrialResources::default();
        if let Some(c) = &r.cpu {
            match parse_cpu(c.as_str()) {
                Some(v) => out.cpu = v,
                None => self.err(
                    format!("{base}.cpu"),
                    format!("{:?} is not a CPU amount (e.g. 2, 0.5 or 500m)", c.0),
                ),
            }
        }
        if let Some(g) = &r.gpu {
            match parse_amount(g.as_str()) {
                Some(v) => out.gpu = v,
                None => self.err(
                    format!("{base}.gpu"),
                    format!("{:?} is not a number of GPUs (e.g. 1 or 0.5)", g.0),
                ),
            }
        }
        if let Some(m) = &r.memory {
            match parse_memory(m.as_str()) {
                Some(v) => out.memory = Some(v),
                None => self.err(
                    format!("{base}.memory"),
                    format!(
                        "{:?} is not an amount of memory (bytes, or e.g. 512Mi, 2Gi, 1G)",
                        m.0
                    ),
                ),
            }
        }
        for (name, v) in r.custom.iter().flatten() {
            let path = format!("{base}.custom.{name}");
            if name.is_empty() {
                self.err(path, "a resource needs a name");
            } else if ["CPU", "GPU", "memory"].contains(&name.as_str()) {
                self.err(path, format!("set {name} with cpu, gpu or memory"));
            } else {
                match parse_amount(v.as_str()) {
                    Some(a) => {
                        out.custom.insert(name.clone(), a);
                    }
                    None => self.err(path, format!("{:?} is not a non-negative number", v.0)),
                }
            }
        }
        out
    }

    /// A Katib container's `resources`: each resource from `requests`, else from
    /// `limits` (as Kubernetes defaults a missing request to its limit).
    fn container_resources(&mut self, c: &Container<'_>) -> TrialResources {
        let mut out = TrialResources::default();
        let Some(res) = c.value.get("resources") else {
            return out;
        };
        let base = format!("spec.trialTemplate.{}.resources", c.path);
        let section = |key: &str| -> Vec<(String, String)> {
            res.get(key)
                .and_then(serde_json::Value::as_object)
                .map(|m| {
                    m.iter()
                        .map(|(k, v)| {
                            let s = match v {
                                serde_json::Value::String(s) => s.clone(),
                                other => other.to_string(),
                            };
                            (k.clone(), s)
                        })
                        .collect()
                })
                .unwrap_or_default()
        };
        let limits = section("limits");
        let mut wanted: Vec<(String, String, &str)> = section("requests")
            .into_iter()
            .map(|(k, v)| (k, v, "requests"))
            .collect();
        for (k, v) in limits {
            if !wanted.iter().any(|(w, _, _)| *w == k) {
                wanted.push((k, v, "limits"));
            }
        }
        for (name, value, from) in wanted {
            let path = format!("{base}.{from}.{name}");
            match name.as_str() {
                "cpu" => match parse_cpu(&value) {
                    Some(v) => out.cpu = v,
                    None => self.err(
                        path,
                        format!("{value:?} is not a CPU quantity (e.g. 2 or 500m)"),
                    ),
                },
                "memory" => match parse_memory(&value) {
                    Some(v) => out.memory = Some(v),
                    None => self.err(
                        path,
                        format!("{value:?} is not a memory quantity (e.g. 1Gi)"),
                    ),
                },
                "nvidia.com/gpu" => match parse_amount(&value) {
                    Some(v) => out.gpu = v,
                    None => self.err(path, format!("{value:?} is not a number of GPUs")),
                },
                n if n == "ephemeral-storage" || n == "storage" || n.starts_with("hugepages-") => {
                    self.notes.push(format!(
                        "{path} has no equivalent outside Kubernetes; it is ignored"
                    ));
                }
                n => match parse_amount(&value) {
                    Some(v) => {
                        self.notes.push(format!(
                            "{path}: requested from Ray as the custom resource {n:?}"
                        ));
                        out.custom.insert(n.to_string(), v);
                    }
                    None => self.err(path, format!("{value:?} is not a number")),
                },
            }
        }
        out
    }

    /// The objective, parameters, algorithm and early-stopping rule.
    fn search(
        &mut self,
        flavor: Flavor,
        s: &spec::SpecDoc,
        check: &dyn AlgorithmCheck,
    ) -> (SearchSpace, Option<SearchPart>) {
        let objective = self.objective(flavor, s.objective.as_ref());
        let (space, file_index) = self.parameters(&s.parameters);
        let algorithm = match &s.algorithm {
            None => {
                self.err("spec.algorithm", "is required (e.g. algorithmName: random)");
                None
            }
            Some(a) => self.algorithm("spec.algorithm", a),
        };
        if let Some(a) = &algorithm {
            // Algorithms number parameters within the valid space; point back to the file.
            let n = objective.as_ref().map_or(1, |o| 1 + o.more.len());
            let errs = check
                .check_algorithm(a, &space, n)
                .into_iter()
                .map(|mut e| {
                    if let Some(rest) = e.path.strip_prefix("spec.parameters[")
                        && let Some((j, tail)) = rest.split_once(']')
                        && let Some(i) = j.parse::<usize>().ok().and_then(|j| file_index.get(j))
                    {
                        e.path = format!("spec.parameters[{i}]{tail}");
                    }
                    e
                });
            self.errors.extend(errs.collect::<Vec<_>>());
            self.notes.extend(check.algorithm_notes(a));
        }
        let early_stopping = s
            .early_stopping
            .as_ref()
            .and_then(|a| self.algorithm("spec.earlyStopping", a));
        if let Some(r) = &early_stopping {
            self.errors.extend(check.check_early_stopping(r));
        }

        let part = match (objective, algorithm) {
            (Some(objective), Some(algorithm)) => Some(SearchPart {
                objective,
                space: space.clone(),
                algorithm,
                early_stopping,
                notes: Vec::new(),
            }),
            _ => None,
        };
        (space, part)
    }

    fn count(&mut self, path: &str, v: Option<i64>) -> Option<u32> {
        let v = v?;
        if v < 1 {
            self.err(path, format!("must be at least 1, got {v}"));
            None
        } else if v > u32::MAX as i64 {
            self.err(path, format!("{v} is too large"));
            None
        } else {
            Some(v as u32)
        }
    }

    fn direction(&mut self, path: &str, t: Option<&str>) -> Option<ObjectiveType> {
        match t {
            Some("minimize") => Some(ObjectiveType::Minimize),
            Some("maximize") => Some(ObjectiveType::Maximize),
            None => {
                self.err(path, "is required (minimize or maximize)");
                None
            }
            Some(t) => {
                self.err(path, format!("{t:?} must be minimize or maximize"));
                None
            }
        }
    }

    /// `objective.objectives`: every objective's name and direction, in order.
    fn objective_list(
        &mut self,
        flavor: Flavor,
        o: &spec::ObjectiveDoc,
    ) -> Option<Vec<(String, ObjectiveType)>> {
        let with = "must not be given with spec.objective.objectives";
        if flavor == Flavor::Katib {
            self.err(
                "spec.objective.objectives",
                format!(
                    "several objectives are a ferrotune extension; use apiVersion {} (Katib optimises one objective)",
                    spec::NATIVE_API_VERSION
                ),
            );
        }
        if o.type_.is_some() {
            self.err(
                "spec.objective.type",
                format!("{with} (each objective has its own type)"),
            );
        }
        if o.objective_metric_name.is_some() {
            self.err(
                "spec.objective.objectiveMetricName",
                format!("{with} (each objective has its own name)"),
            );
        }
        if o.goal.is_some() {
            self.err(
                "spec.objective.goal",
                "applies to a single objective; a multi-objective experiment has no goal",
            );
        }
        let mut list = Vec::new();
        let mut names = BTreeSet::new();
        for (i, item) in o.objectives.iter().enumerate() {
            let path = format!("spec.objective.objectives[{i}]");
            let t = self.direction(&format!("{path}.type"), item.type_.as_deref());
            if item.name.trim().is_empty() {
                self.err(format!("{path}.name"), "is required");
            } else if !names.insert(item.name.clone()) {
                self.err(
                    format!("{path}.name"),
                    format!("{:?} is listed twice", item.name),
                );
            } else if let Some(t) = t {
                list.push((item.name.clone(), t));
            }
        }
        (list.len() == o.objectives.len()).then_some(list)
    }

    fn objective(&mut self, flavor: Flavor, o: Option<&spec::ObjectiveDoc>) -> Option<Objective> {
        let Some(o) = o else {
            self.err(
                "spec.objective",
                "is required (type and objectiveMetricName)",
            );
            return None;
        };
        let (type_, metric, more) = if o.objectives.is_empty() {
            let type_ = self.direction("spec.objective.type", o.type_.as_deref());
            let metric = o.objective_metric_name.clone().unwrap_or_default();
            if metric.trim().is_empty() {
                self.err("spec.objective.objectiveMetricName", "is required");
            }
            (type_, metric, Vec::new())
        } else {
            match self.objective_list(flavor, o) {
                Some(mut list) => {
                    let (m, t) = list.remove(0);
                    (Some(t), m, list)
                }
                None => (None, String::new(), Vec::new()),
            }
        };
        let goal = o.goal.as_ref().filter(|_| more.is_empty()).and_then(|g| {
            let x = parse_f64(g);
            if x.is_none() {
                self.err("spec.objective.goal", format!("{:?} is not a number", g.0));
            }
            x
        });
        let mut seen: BTreeSet<String> = std::iter::once(metric.clone())
            .chain(more.iter().map(|(m, _)| m.clone()))
            .collect();
        for (i, m) in o.additional_metric_names.iter().enumerate() {
            if m.trim().is_empty() {
                self.err(
                    format!("spec.objective.additionalMetricNames[{i}]"),
                    "must not be empty",
                );
            } else if !seen.insert(m.clone()) {
                self.err(
                    format!("spec.objective.additionalMetricNames[{i}]"),
                    format!("{m:?} is listed twice (or is an objective)"),
                );
            }
        }
        let mut strategies = Vec::new();
        for (i, ms) in o.metric_strategies.iter().enumerate() {
            let p = format!("spec.objective.metricStrategies[{i}]");
            if !seen.contains(&ms.name) {
                self.err(
                    format!("{p}.name"),
                    format!(
                        "{:?} is neither an objective nor an additional metric",
                        ms.name
                    ),
                );
            }
            match ms.value.0.as_str() {
                "min" => strategies.push((ms.name.clone(), MetricStrategy::Min)),
                "max" => strategies.push((ms.name.clone(), MetricStrategy::Max)),
                "latest" => strategies.push((ms.name.clone(), MetricStrategy::Latest)),
                other => self.err(
                    format!("{p}.value"),
                    format!("{other:?} must be min, max or latest"),
                ),
            }
        }
        let type_ = type_?;
        // Katib's defaulting: every metric without a strategy gets the objective's default
        // (each further objective its own direction's).
        for m in &seen {
            if !strategies.iter().any(|(n, _)| n == m) {
                let t = more.iter().find(|(n, _)| n == m).map_or(type_, |(_, t)| *t);
                strategies.push((m.clone(), MetricStrategy::default_for(t)));
            }
        }
        if metric.trim().is_empty() {
            return None;
        }
        Some(Objective {
            type_,
            goal,
            more,
            additional_metrics: o.additional_metric_names.clone(),
            metric,
            strategies,
        })
    }

    fn algorithm(&mut self, path: &str, a: &AlgorithmDoc) -> Option<AlgorithmSpec> {
        let name = a.algorithm_name.clone().unwrap_or_default();
        if name.is_empty() {
            self.err(format!("{path}.algorithmName"), "is required");
            return None;
        }
        let mut names = BTreeSet::new();
        for (i, s) in a.algorithm_settings.iter().enumerate() {
            if s.name.is_empty() {
                self.err(format!("{path}.algorithmSettings[{i}].name"), "is required");
            } else if !names.insert(s.name.clone()) {
                self.err(
                    format!("{path}.algorithmSettings[{i}].name"),
                    format!("{:?} is set twice", s.name),
                );
            }
        }
        Some(AlgorithmSpec {
            name,
            settings: a
                .algorithm_settings
                .iter()
                .map(|s| (s.name.clone(), s.value.0.clone()))
                .collect(),
        })
    }

    /// The valid parameters, and for each its index in the file.
    fn parameters(&mut self, params: &[spec::ParameterDoc]) -> (SearchSpace, Vec<usize>) {
        let mut space = SearchSpace::default();
        let mut file_index = Vec::new();
        let mut first_seen: HashMap<String, usize> = HashMap::new();
        if params.is_empty() {
            self.err("spec.parameters", "at least one parameter is required");
        }
        for (i, p) in params.iter().enumerate() {
            let path = format!("spec.parameters[{i}]");
            let name = p.name.clone().unwrap_or_default();
            if name.trim().is_empty() {
                self.err(format!("{path}.name"), "is required");
            } else if let Some(j) = first_seen.get(&name) {
                self.err(
                    format!("{path}.name"),
                    format!("duplicate parameter name {name:?} (also spec.parameters[{j}])"),
                );
            } else {
                first_seen.insert(name.clone(), i);
            }
            let ty = match p.parameter_type.as_deref() {
                None => {
                    self.err(
                        format!("{path}.parameterType"),
                        "is required (double, int, discrete or categorical)",
                    );
                    None
                }
                Some(t) if PARAMETER_TYPES.contains(&t) => Some(t),
                Some(t) => {
                    let hint = did_you_mean(t, PARAMETER_TYPES)
                        .map(|s| format!(", did you mean {s:?}?"))
                        .unwrap_or_default();
                    self.err(
                        format!("{path}.parameterType"),
                        format!(
                            "unknown type {t:?} (known: double, int, discrete, categorical){hint}"
                        ),
                    );
                    None
                }
            };
            let Some(fs) = &p.feasible_space else {
                self.err(format!("{path}.feasibleSpace"), "is required");
                continue;
            };
            let Some(ty) = ty else { continue };
            if let Some(domain) = self.domain(&format!("{path}.feasibleSpace"), ty, fs)
                && !name.trim().is_empty()
            {
                space.parameters.push(Parameter { name, domain });
                file_index.push(i);
            }
        }
        (space, file_index)
    }

    fn distribution(&mut self, path: &str, fs: &FeasibleSpaceDoc) -> Option<Distribution> {
        match fs.distribution.as_deref() {
            None | Some("") | Some("uniform") => Some(Distribution::Uniform),
            Some("logUniform") => Some(Distribution::LogUniform),
            Some("normal") => Some(Distribution::Normal),
            Some("logNormal") => Some(Distribution::LogNormal),
            Some(d) => {
                let hint = did_you_mean(d, DISTRIBUTIONS)
                    .map(|s| format!(", did you mean {s:?}?"))
                    .unwrap_or_default();
                self.err(format!("{path}.distribution"), format!("unknown distribution {d:?} (known: uniform, logUniform, normal, logNormal){hint}"));
                None
            }
        }
    }

    fn domain(&mut self, path: &str, ty: &str, fs: &FeasibleSpaceDoc) -> Option<Domain> {
        let n_before = self.errors.len();
        match ty {
            "double" | "int" => {
                if fs.list.is_some() {
                    self.err(format!("{path}.list"), format!("a {ty} parameter takes min and max, not a list (use discrete or categorical)"));
                }
                let dist = self.distribution(path, fs);
                let num = |v: &mut Self,
                           field: &str,
                           s: &Option<Scalar>,
                           required: bool|
                 -> Option<f64> {
                    match s {
                        None if required => {
                            v.err(format!("{path}.{field}"), "is required");
                            None
                        }
                        None => None,
                        Some(x) => {
                            let parsed = if ty == "int" {
                                parse_i64(x).map(|i| i as f64)
                            } else {
                                parse_f64(x)
                            };
                            if parsed.is_none() {
                                let what = if ty == "int" {
                                    "an integer"
                                } else {
                                    "a number"
                                };
                                v.err(
                                    format!("{path}.{field}"),
                                    format!("{:?} is not {what}", x.0),
                                );
                            }
                            parsed
                        }
                    }
                };
                let min = num(self, "min", &fs.min, true);
                let max = num(self, "max", &fs.max, true);
                let step = num(self, "step", &fs.step, false);
                if let (Some(lo), Some(hi)) = (min, max) {
                    if lo >= hi {
                        self.err(
                            path,
                            format!(
                                "min ({}) must be less than max ({})",
                                fs.min.as_ref().map(|s| s.0.as_str()).unwrap_or(""),
                                fs.max.as_ref().map(|s| s.0.as_str()).unwrap_or("")
                            ),
                        );
                    } else if let Some(st) = step {
                        if st <= 0.0 {
                            self.err(
                                format!("{path}.step"),
                                format!("({st}) must be greater than 0"),
                            );
                        } else if st > hi - lo {
                            self.err(
                                format!("{path}.step"),
                                format!("({st}) is larger than the range max - min ({})", hi - lo),
                            );
                        }
                    }
                    if let Some(d) = dist
                        && d.is_log()
                        && lo <= 0.0
                    {
                        self.err(
                            format!("{path}.min"),
                            format!(
                                "({lo}) must be greater than 0 for the {} distribution",
                                d.katib_name()
                            ),
                        );
                    }
                } else if let Some(st) = step
                    && st <= 0.0
                {
                    self.err(
                        format!("{path}.step"),
                        format!("({st}) must be greater than 0"),
                    );
                }
                if self.errors.len() > n_before {
                    return None;
                }
                let (min, max, dist) = (min?, max?, dist?);
                Some(if ty == "int" {
                    Domain::Int {
                        min: min as i64,
                        max: max as i64,
                        step: step.map(|s| s as i64),
                        distribution: dist,
                    }
                } else {
                    Domain::Double {
                        min,
                        max,
                        step,
                        distribution: dist,
                    }
                })
            }
            _ => {
                for (field, present) in [
                    ("min", fs.min.is_some()),
                    ("max", fs.max.is_some()),
                    ("step", fs.step.is_some()),
                ] {
                    if present {
                        self.err(
                            format!("{path}.{field}"),
                            format!("a {ty} parameter takes a list, not {field}"),
                        );
                    }
                }
                if fs.distribution.is_some() {
                    self.err(
                        format!("{path}.distribution"),
                        format!("a {ty} parameter has no distribution"),
                    );
                }
                let list = fs.list.clone().unwrap_or_default();
                if list.is_empty() {
                    self.err(format!("{path}.list"), "must list at least one value");
                }
                let mut seen = BTreeSet::new();
                let mut values = Vec::new();
                for (i, item) in list.iter().enumerate() {
                    let lp = format!("{path}.list[{i}]");
                    if ty == "discrete" {
                        match parse_i64(item).filter(|_| !item.0.contains(['.', 'e', 'E'])) {
                            Some(n) => values.push(ParamValue::Int(n)),
                            None => match parse_f64(item) {
                                Some(x) => values.push(ParamValue::Float(x)),
                                None => {
                                    self.err(lp.clone(), format!("{:?} is not a number (discrete values are numbers; use categorical for strings)", item.0));
                                    continue;
                                }
                            },
                        }
                        let key = values
                            .last()
                            .and_then(|v| v.as_f64())
                            .unwrap_or(f64::NAN)
                            .to_bits();
                        if !seen.insert(key.to_string()) {
                            self.err(lp, format!("duplicate value {:?}", item.0));
                        }
                    } else if !seen.insert(item.0.clone()) {
                        self.err(lp, format!("duplicate value {:?}", item.0));
                    }
                }
                if self.errors.len() > n_before {
                    return None;
                }
                Some(if ty == "discrete" {
                    Domain::Discrete { values }
                } else {
                    Domain::Categorical {
                        values: list.into_iter().map(|s| s.0).collect(),
                    }
                })
            }
        }
    }

    fn template(
        &mut self,
        flavor: Flavor,
        doc: &ExperimentDoc,
        space: &SearchSpace,
    ) -> Option<TrialTemplate> {
        let Some(t) = &doc.spec.trial_template else {
            self.err(
                "spec.trialTemplate",
                "is required: it says what each trial runs",
            );
            return None;
        };
        let base = "spec.trialTemplate";
        let n_before = self.errors.len();
        let shorthand = t.command.is_some()
            || t.args.is_some()
            || t.env.is_some()
            || t.working_dir.is_some()
            || t.timeout.is_some()
            || t.resources.is_some()
            || t.replicas.is_some();
        if flavor == Flavor::Katib && shorthand {
            for (f, present) in [
                ("command", t.command.is_some()),
                ("args", t.args.is_some()),
                ("env", t.env.is_some()),
                ("workingDir", t.working_dir.is_some()),
                ("timeout", t.timeout.is_some()),
                ("resources", t.resources.is_some()),
                ("replicas", t.replicas.is_some()),
            ] {
                if present {
                    self.err(format!("{base}.{f}"), format!("is a {} field; put it in the trialSpec's container or use apiVersion {}", spec::NATIVE_API_VERSION, spec::NATIVE_API_VERSION));
                }
            }
        }
        if t.config_map.is_some() {
            self.err(format!("{base}.configMap"), "a trial template in a ConfigMap needs Kubernetes; inline it as trialSpec to run locally");
        }
        if shorthand && t.trial_spec.is_some() {
            self.err(
                base,
                "give either the local command shorthand or a trialSpec, not both",
            );
        }
        // Trial parameters: Katib requires them; the native format makes every parameter one
        // by its own name when they are omitted.
        let trial_parameters: Vec<(String, String)> = match &t.trial_parameters {
            Some(tp) => {
                let mut names = BTreeSet::new();
                for (i, p) in tp.iter().enumerate() {
                    let pp = format!("{base}.trialParameters[{i}]");
                    if p.name.is_empty() {
                        self.err(format!("{pp}.name"), "is required");
                    } else if !names.insert(p.name.clone()) {
                        self.err(
                            format!("{pp}.name"),
                            format!("duplicate trial parameter {:?}", p.name),
                        );
                    }
                    if p.reference.is_empty() {
                        self.err(format!("{pp}.reference"), "is required");
                    } else if p.reference.starts_with("${") {
                        if reference_meta_field(&p.reference).is_none() {
                            self.err(format!("{pp}.reference"), format!("{:?} is not a metadata reference (${{trialSpec.Name}}, Namespace, Kind, APIVersion, Labels[k], Annotations[k])", p.reference));
                        }
                    } else if !space.parameters.iter().any(|q| q.name == p.reference) {
                        let known: Vec<&str> =
                            space.parameters.iter().map(|q| q.name.as_str()).collect();
                        let hint = did_you_mean(&p.reference, known.iter().copied())
                            .map(|s| format!(", did you mean {s:?}?"))
                            .unwrap_or_default();
                        self.err(
                            format!("{pp}.reference"),
                            format!(
                                "{:?} is not a parameter of this experiment ({}){hint}",
                                p.reference,
                                if known.is_empty() {
                                    "no valid parameters".to_string()
                                } else {
                                    format!("parameters: {}", known.join(", "))
                                }
                            ),
                        );
                    }
                }
                tp.iter()
                    .map(|p| (p.name.clone(), p.reference.clone()))
                    .collect()
            }
            None if flavor == Flavor::Native => space
                .parameters
                .iter()
                .map(|p| (p.name.clone(), p.name.clone()))
                .collect(),
            None => Vec::new(),
        };
        let declared: BTreeSet<&str> = trial_parameters.iter().map(|(n, _)| n.as_str()).collect();
        let check_refs = |v: &mut Self, path: &str, s: &str| {
            for ph in placeholders(s) {
                match ph {
                    Placeholder::TrialParameter(x) if !declared.contains(x.as_str()) => {
                        let hint = did_you_mean(&x, declared.iter().copied())
                            .map(|s| format!(", did you mean {s:?}?"))
                            .unwrap_or_default();
                        v.err(path, format!("${{trialParameters.{x}}} is not declared in spec.trialTemplate.trialParameters{hint}"));
                    }
                    Placeholder::Meta(f) if !is_meta_field(&f) => {
                        v.err(path, format!("${{trialSpec.{f}}} is not a known reference (Name, Namespace, Kind, APIVersion, Labels[k], Annotations[k])"));
                    }
                    _ => {}
                }
            }
        };
        let timeout = t.timeout.as_ref().and_then(|s| {
            let d = parse_duration(&s.0);
            if d.is_none() {
                self.err(
                    format!("{base}.timeout"),
                    format!(
                        "{:?} is not a duration (e.g. 90s, 10m, 1h30m, or seconds)",
                        s.0
                    ),
                );
            }
            d
        });
        let mut resources = TrialResources::default();
        let source = if let Some(ts) = &t.trial_spec {
            walk_strings(ts, "spec.trialTemplate.trialSpec", &mut |p, s| {
                check_refs(self, p, s)
            });
            if !ts.is_object() {
                self.err(format!("{base}.trialSpec"), "must be a Kubernetes object");
                None
            } else {
                let found = primary_container(ts, t.primary_container_name.as_deref());
                if let Ok(c) = &found {
                    resources = self.container_resources(c);
                }
                match found {
                    Err(e) => {
                        self.err(format!("{base}.trialSpec"), e);
                        None
                    }
                    Ok(c) => match container_command(&c) {
                        Err(es) => {
                            self.errors.extend(es.into_iter().map(|e| {
                                FieldError::new(format!("spec.trialTemplate.{}", e.path), e.message)
                            }));
                            None
                        }
                        Ok(cc) => {
                            if let Some(img) = &cc.image {
                                self.notes.push(format!("the container image {img:?} is ignored: trials run as local processes"));
                            }
                            self.notes.extend(cc.notes);
                            if t.success_condition.is_some() || t.failure_condition.is_some() {
                                self.notes.push("successCondition/failureCondition apply to Kubernetes objects; locally a trial succeeds when its process exits 0".into());
                            }
                            Some(TemplateSource::TrialSpec {
                                spec: ts.clone(),
                                primary_container_name: t.primary_container_name.clone(),
                            })
                        }
                    },
                }
            }
        } else if shorthand || flavor == Flavor::Native {
            let mut command: Vec<String> = t.command.clone().unwrap_or_default();
            if command.is_empty() {
                self.err(format!("{base}.command"), "is required: the program (and arguments) each trial runs, e.g. [python3, train.py]");
            }
            command.extend(t.args.clone().unwrap_or_default());
            let env: Vec<(String, String)> = match &t.env {
                None => Vec::new(),
                Some(spec::EnvDoc::Map(m)) => {
                    m.iter().map(|(k, v)| (k.clone(), v.0.clone())).collect()
                }
                Some(spec::EnvDoc::List(l)) => l
                    .iter()
                    .enumerate()
                    .filter_map(|(i, e)| {
                        if e.name.is_empty() {
                            self.err(format!("{base}.env[{i}].name"), "is required");
                            None
                        } else {
                            Some((e.name.clone(), e.value.clone().unwrap_or_default().0))
                        }
                    })
                    .collect(),
            };
            if let Some(r) = &t.resources {
                resources = self.native_resources(&format!("{base}.resources"), r);
            }
            for (i, a) in command.iter().enumerate() {
                check_refs(self, &format!("{base}.command[{i}]"), a);
            }
            for (k, val) in &env {
                check_refs(self, &format!("{base}.env.{k}"), val);
            }
            if let Some(w) = &t.working_dir {
                check_refs(self, &format!("{base}.workingDir"), w);
            }
            Some(TemplateSource::Process {
                command,
                env,
                working_dir: t.working_dir.clone(),
            })
        } else {
            self.err(
                base,
                "has no trialSpec: nothing to run (give a trialSpec with a container command)",
            );
            None
        };
        if self.errors.len() > n_before {
            return None;
        }
        let replicas = match &t.replicas {
            None => 1,
            Some(r) => match r.0.trim().parse::<u32>() {
                Ok(n) if (1..=MAX_REPLICAS).contains(&n) => n,
                _ => {
                    self.err(
                        format!("{base}.replicas"),
                        format!(
                            "{:?} is not a number of processes from 1 to {MAX_REPLICAS}",
                            r.0
                        ),
                    );
                    return None;
                }
            },
        };
        Some(TrialTemplate {
            trial_parameters,
            source: source?,
            timeout,
            resources,
            replicas,
        })
    }

    fn collector(
        &mut self,
        m: Option<&spec::MetricsCollectorDoc>,
        objective: Option<&Objective>,
    ) -> Option<Collector> {
        let base = "spec.metricsCollectorSpec";
        let kind = m
            .and_then(|m| m.collector.as_ref())
            .and_then(|c| c.kind.clone())
            .unwrap_or_else(|| "StdOut".into());
        let source = m.and_then(|m| m.source.as_ref());
        let fsp = source.and_then(|s| s.file_system_path.as_ref());
        let format = match fsp.and_then(|f| f.format.as_deref()) {
            None | Some("") | Some("TEXT") => Some(MetricsFormat::Text),
            Some("JSON") => Some(MetricsFormat::Json),
            Some(f) => {
                self.err(
                    format!("{base}.source.fileSystemPath.format"),
                    format!("{f:?} must be TEXT or JSON"),
                );
                None
            }
        };
        let filters = source
            .and_then(|s| s.filter.as_ref())
            .map(|f| f.metrics_format.clone())
            .unwrap_or_default();
        let wanted = objective.map(|o| o.all_metrics()).unwrap_or_default();
        for (i, f) in filters.iter().enumerate() {
            if let Err(e) = MetricParser::new(MetricsFormat::Text, std::slice::from_ref(f), &wanted)
            {
                self.err(
                    format!("{base}.source.filter.metricsFormat[{i}]"),
                    e.to_string(),
                );
            }
        }
        let kind = match kind.as_str() {
            "StdOut" => Some(CollectorKind::StdOut),
            "File" => {
                let path = fsp.and_then(|f| f.path.clone()).unwrap_or_default();
                let directory = match fsp.and_then(|f| f.kind.as_deref()) {
                    None | Some("File") => false,
                    Some("Directory") => true,
                    Some(k) => {
                        self.err(
                            format!("{base}.source.fileSystemPath.kind"),
                            format!("{k:?} must be File or Directory"),
                        );
                        false
                    }
                };
                if path.is_empty() {
                    self.err(
                        format!("{base}.source.fileSystemPath.path"),
                        "is required for the File collector",
                    );
                    None
                } else {
                    Some(CollectorKind::File { path, directory })
                }
            }
            "Push" => Some(CollectorKind::Push),
            k @ ("TensorFlowEvent" | "PrometheusMetric" | "Custom" | "None") => {
                self.err(
                    format!("{base}.collector.kind"),
                    format!("{k} is not supported for local trials; use StdOut or File"),
                );
                None
            }
            k => {
                let hint = did_you_mean(k, ["StdOut", "File", "Push"])
                    .map(|s| format!(", did you mean {s:?}?"))
                    .unwrap_or_default();
                self.err(format!("{base}.collector.kind"), format!("unknown collector kind {k:?} (known: StdOut, File, TensorFlowEvent, PrometheusMetric, Custom, Push, None){hint}"));
                None
            }
        };
        Some(Collector {
            kind: kind?,
            format: format?,
            filters,
        })
    }
}

fn walk_strings(v: &serde_json::Value, path: &str, f: &mut dyn FnMut(&str, &str)) {
    match v {
        serde_json::Value::String(s) => f(path, s),
        serde_json::Value::Array(a) => {
            for (i, x) in a.iter().enumerate() {
                walk_strings(x, &format!("{path}[{i}]"), f);
            }
        }
        serde_json::Value::Object(m) => {
            for (k, x) in m {
                walk_strings(x, &format!("{path}.{k}"), f);
            }
        }
        _ => {}
    }
}

/// `90s`, `10m`, `1h30m`, or a plain number of seconds.
pub fn parse_duration(s: &str) -> Option<Duration> {
    let t = s.trim();
    if let Ok(secs) = t.parse::<f64>() {
        return (secs.is_finite() && secs > 0.0).then(|| Duration::from_secs_f64(secs));
    }
    humantime::parse_duration(t).ok().filter(|d| !d.is_zero())
}

/// Kubernetes' DNS-1123 label rule, which experiment names and namespaces follow.
pub fn is_dns_label(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 63
        && s.starts_with(|c: char| c.is_ascii_lowercase() || c.is_ascii_digit())
        && s.ends_with(|c: char| c.is_ascii_lowercase() || c.is_ascii_digit())
        && s.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
}
