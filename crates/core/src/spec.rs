//! The experiment document as written: Katib's `kubeflow.org/v1beta1` Experiment and the
//! native `ferrotune.io/v1alpha1` one, which adds a local trial shorthand.
//!
//! These types mirror the YAML one to one and accept what Katib accepts (numbers or strings
//! for values). Meaning is given to them in [`crate::validate`].

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::collections::BTreeMap;
use std::fmt;

/// Katib's API version.
pub const KATIB_API_VERSION: &str = "kubeflow.org/v1beta1";
/// ferrotune's own API version.
pub const NATIVE_API_VERSION: &str = "ferrotune.io/v1alpha1";

/// A value that YAML may give as a string or a number (`min: "0.01"` or `min: 0.01`); kept
/// as text so that validation can say exactly what was written.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Scalar(pub String);

impl Scalar {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Scalar {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl Serialize for Scalar {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for Scalar {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl serde::de::Visitor<'_> for V {
            type Value = Scalar;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string or a number")
            }
            fn visit_str<E>(self, v: &str) -> Result<Scalar, E> {
                Ok(Scalar(v.to_string()))
            }
            fn visit_string<E>(self, v: String) -> Result<Scalar, E> {
                Ok(Scalar(v))
            }
            fn visit_i64<E>(self, v: i64) -> Result<Scalar, E> {
                Ok(Scalar(v.to_string()))
            }
            fn visit_u64<E>(self, v: u64) -> Result<Scalar, E> {
                Ok(Scalar(v.to_string()))
            }
            fn visit_f64<E>(self, v: f64) -> Result<Scalar, E> {
                Ok(Scalar(v.to_string()))
            }
            fn visit_bool<E>(self, v: bool) -> Result<Scalar, E> {
                Ok(Scalar(v.to_string()))
            }
        }
        d.deserialize_any(V)
    }
}

/// A whole experiment document.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ExperimentDoc {
    #[serde(default)]
    pub api_version: String,
    #[serde(default)]
    pub kind: String,
    #[serde(default)]
    pub metadata: Metadata,
    #[serde(default)]
    pub spec: SpecDoc,
    /// Present in `kubectl get -o yaml` output; ignored.
    #[serde(default)]
    pub status: Option<serde_json::Value>,
}

/// Kubernetes object metadata; only the name and namespace mean anything here, the rest is
/// kept as given.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Metadata {
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub namespace: Option<String>,
    #[serde(flatten)]
    pub other: BTreeMap<String, serde_json::Value>,
}

/// `spec` of an Experiment.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SpecDoc {
    #[serde(default)]
    pub parameters: Vec<ParameterDoc>,
    #[serde(default)]
    pub objective: Option<ObjectiveDoc>,
    #[serde(default)]
    pub algorithm: Option<AlgorithmDoc>,
    #[serde(default)]
    pub early_stopping: Option<AlgorithmDoc>,
    #[serde(default)]
    pub trial_template: Option<TrialTemplateDoc>,
    #[serde(default)]
    pub parallel_trial_count: Option<i64>,
    #[serde(default)]
    pub max_trial_count: Option<i64>,
    #[serde(default)]
    pub max_failed_trial_count: Option<i64>,
    #[serde(default)]
    pub metrics_collector_spec: Option<MetricsCollectorDoc>,
    #[serde(default)]
    pub nas_config: Option<serde_json::Value>,
    #[serde(default)]
    pub resume_policy: Option<String>,
    /// Native: where trials run (`{kind: local|ray, address, mode}`); default local.
    #[serde(default)]
    pub runner: Option<RunnerDoc>,
    /// Native: how many times a failed trial runs again, as a new attempt, before it
    /// counts as Failed (Ray Tune's `max_failures`); default 0.
    #[serde(default)]
    pub max_trial_retries: Option<i64>,
}

/// `spec.runner` (native format only).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct RunnerDoc {
    /// `local` or `ray`.
    #[serde(default)]
    pub kind: Option<String>,
    /// Ray's dashboard address, `http://HOST:8265`.
    #[serde(default)]
    pub address: Option<String>,
    /// Ray: `tasks` (the default: one driver job per experiment, each trial a Ray task)
    /// or `jobs` (each trial its own Ray job).
    #[serde(default)]
    pub mode: Option<String>,
}

/// `spec.trialTemplate.resources` (native format only): what one trial needs.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct ResourcesDoc {
    /// CPUs: `2`, `0.5` or `500m`.
    #[serde(default)]
    pub cpu: Option<Scalar>,
    #[serde(default)]
    pub gpu: Option<Scalar>,
    /// Bytes, or a Kubernetes quantity (`1Gi`, `512Mi`, `2G`).
    #[serde(default)]
    pub memory: Option<Scalar>,
    /// Other named resources (Ray custom resources) by amount.
    #[serde(default)]
    pub custom: Option<BTreeMap<String, Scalar>>,
}

/// `{name, value}` pairs of algorithm settings and metric strategies.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct NameValue {
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub value: Scalar,
}

/// `spec.objective`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ObjectiveDoc {
    #[serde(default, rename = "type")]
    pub type_: Option<String>,
    #[serde(default)]
    pub goal: Option<Scalar>,
    #[serde(default)]
    pub objective_metric_name: Option<String>,
    #[serde(default)]
    pub additional_metric_names: Vec<String>,
    #[serde(default)]
    pub metric_strategies: Vec<NameValue>,
    /// Several objectives at once (native format only): `[{name, type}]`.
    #[serde(default)]
    pub objectives: Vec<ObjectiveItemDoc>,
}

/// One entry of `spec.objective.objectives`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ObjectiveItemDoc {
    #[serde(default)]
    pub name: String,
    #[serde(default, rename = "type")]
    pub type_: Option<String>,
}

/// `spec.algorithm` and `spec.earlyStopping`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AlgorithmDoc {
    #[serde(default)]
    pub algorithm_name: Option<String>,
    #[serde(default)]
    pub algorithm_settings: Vec<NameValue>,
}

/// `spec.parameters[]`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ParameterDoc {
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub parameter_type: Option<String>,
    #[serde(default)]
    pub feasible_space: Option<FeasibleSpaceDoc>,
}

/// `spec.parameters[].feasibleSpace`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FeasibleSpaceDoc {
    #[serde(default)]
    pub min: Option<Scalar>,
    #[serde(default)]
    pub max: Option<Scalar>,
    #[serde(default)]
    pub step: Option<Scalar>,
    #[serde(default)]
    pub list: Option<Vec<Scalar>>,
    #[serde(default)]
    pub distribution: Option<String>,
}

/// `spec.trialTemplate`: Katib's fields plus the native local shorthand.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TrialTemplateDoc {
    #[serde(default)]
    pub primary_container_name: Option<String>,
    #[serde(default)]
    pub trial_parameters: Option<Vec<TrialParameterDoc>>,
    /// Any Kubernetes object; kept unstructured, as Katib does.
    #[serde(default)]
    pub trial_spec: Option<serde_json::Value>,
    #[serde(default)]
    pub config_map: Option<serde_json::Value>,
    #[serde(default)]
    pub success_condition: Option<String>,
    #[serde(default)]
    pub failure_condition: Option<String>,
    #[serde(default)]
    pub retain: Option<bool>,
    #[serde(default)]
    pub primary_pod_labels: Option<BTreeMap<String, String>>,
    /// Native: the program and its arguments, run without a shell.
    #[serde(default)]
    pub command: Option<Vec<String>>,
    /// Native: more arguments after `command`.
    #[serde(default)]
    pub args: Option<Vec<String>>,
    /// Native: environment, as a list of `{name, value}` or a map.
    #[serde(default)]
    pub env: Option<EnvDoc>,
    /// Native: working directory; relative paths are taken from the experiment file's folder.
    #[serde(default)]
    pub working_dir: Option<String>,
    /// Native: a trial running longer than this fails (`90s`, `10m`, or seconds).
    #[serde(default)]
    pub timeout: Option<Scalar>,
    /// Native: what each trial needs (CPUs, GPUs, memory, custom resources); per replica.
    #[serde(default)]
    pub resources: Option<ResourcesDoc>,
    /// Native: processes per trial (data-parallel training across nodes; Ray tasks mode).
    #[serde(default)]
    pub replicas: Option<Scalar>,
}

/// `spec.trialTemplate.trialParameters[]`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct TrialParameterDoc {
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub reference: String,
}

/// Environment as Kubernetes writes it (a list of `{name, value}`) or as a plain map.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(untagged)]
pub enum EnvDoc {
    List(Vec<EnvVarDoc>),
    Map(BTreeMap<String, Scalar>),
}

/// One `{name, value}` environment entry.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct EnvVarDoc {
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub value: Option<Scalar>,
}

/// `spec.metricsCollectorSpec`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MetricsCollectorDoc {
    #[serde(default)]
    pub collector: Option<CollectorDoc>,
    #[serde(default)]
    pub source: Option<SourceDoc>,
}

/// `spec.metricsCollectorSpec.collector`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CollectorDoc {
    #[serde(default)]
    pub kind: Option<String>,
    #[serde(default)]
    pub custom_collector: Option<serde_json::Value>,
}

/// `spec.metricsCollectorSpec.source`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SourceDoc {
    #[serde(default)]
    pub file_system_path: Option<FileSystemPathDoc>,
    #[serde(default)]
    pub filter: Option<FilterDoc>,
    #[serde(default)]
    pub http_get: Option<serde_json::Value>,
}

/// `source.fileSystemPath`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct FileSystemPathDoc {
    #[serde(default)]
    pub path: Option<String>,
    #[serde(default)]
    pub kind: Option<String>,
    #[serde(default)]
    pub format: Option<String>,
}

/// `source.filter`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FilterDoc {
    #[serde(default)]
    pub metrics_format: Vec<String>,
}
