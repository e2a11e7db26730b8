//! From a trial template to a local process: which program, which arguments, which
//! environment. Katib's `trialSpec` (Job, PyTorchJob, TFJob, MPIJob, …) is reduced to its
//! primary container; the native shorthand gives the command directly.

use crate::error::FieldError;
use crate::substitute::{TrialMeta, substitute, substitute_json};
use crate::value::Assignment;
use serde_json::Value;
use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

/// A validated trial template.
#[derive(Debug, Clone, PartialEq)]
pub struct TrialTemplate {
    /// `(name, reference)`: reference is a parameter name or `${trialSpec.X}`.
    pub trial_parameters: Vec<(String, String)>,
    pub source: TemplateSource,
    /// Native: trials running longer fail.
    pub timeout: Option<Duration>,
    /// What each trial needs (native `resources`, or the Katib container's requests).
    pub resources: crate::placement::TrialResources,
    /// Native: processes per trial, gang-scheduled with torch.distributed's variables (Ray
    /// tasks mode); 1 for most trials.
    pub replicas: u32,
}

/// Where the command comes from.
#[derive(Debug, Clone, PartialEq)]
pub enum TemplateSource {
    /// The native shorthand.
    Process {
        command: Vec<String>,
        env: Vec<(String, String)>,
        working_dir: Option<String>,
    },
    /// A Kubernetes object whose primary container is run locally.
    TrialSpec {
        spec: Value,
        primary_container_name: Option<String>,
    },
}

/// What a trial runs, after substitution: argv elements and env values, never a shell line.
#[derive(Debug, Clone, PartialEq)]
pub struct TrialCommand {
    pub argv: Vec<String>,
    pub env: Vec<(String, String)>,
    /// As written (relative paths resolve against the experiment file's folder).
    pub working_dir: Option<String>,
}

/// The primary container of a Kubernetes object, found the way Katib finds it.
#[derive(Debug, Clone, PartialEq)]
pub struct Container<'a> {
    pub value: &'a serde_json::Map<String, Value>,
    /// JSON path of the container, for messages.
    pub path: String,
}

/// Replica specs that hold the "first" pod for each kind, in Katib's order of preference.
const REPLICA_PATHS: &[(&str, &str, &[&str])] = &[
    ("PyTorchJob", "pytorchReplicaSpecs", &["Master", "Worker"]),
    (
        "TFJob",
        "tfReplicaSpecs",
        &["Chief", "Master", "Worker", "PS"],
    ),
    ("MPIJob", "mpiReplicaSpecs", &["Launcher", "Worker"]),
    ("XGBoostJob", "xgbReplicaSpecs", &["Master", "Worker"]),
    ("PaddleJob", "paddleReplicaSpecs", &["Master", "Worker"]),
    (
        "MXJob",
        "mxReplicaSpecs",
        &["Scheduler", "Server", "Worker"],
    ),
];

/// Finds the container named `primary` (or the only container) of the object's first or
/// master replica; other kinds are searched depth-first for a `containers` list.
pub fn primary_container<'a>(
    spec: &'a Value,
    primary: Option<&str>,
) -> Result<Container<'a>, String> {
    let kind = spec.get("kind").and_then(Value::as_str).unwrap_or("");
    let mut lists: Vec<(String, &'a Vec<Value>)> = Vec::new();
    if kind == "Job"
        && let Some(c) = spec
            .pointer("/spec/template/spec/containers")
            .and_then(Value::as_array)
    {
        lists.push(("trialSpec.spec.template.spec.containers".into(), c));
    }
    for (k, field, roles) in REPLICA_PATHS {
        if *k == kind {
            for role in *roles {
                let ptr = format!("/spec/{field}/{role}/template/spec/containers");
                if let Some(c) = spec.pointer(&ptr).and_then(Value::as_array) {
                    lists.push((
                        format!("trialSpec.spec.{field}.{role}.template.spec.containers"),
                        c,
                    ));
                }
            }
        }
    }
    if lists.is_empty() {
        collect_container_lists(spec, "trialSpec".to_string(), &mut lists);
    }
    if lists.is_empty() {
        return Err(format!(
            "no containers found in the {} trialSpec",
            if kind.is_empty() { "(kindless)" } else { kind }
        ));
    }
    for (path, list) in &lists {
        for (i, c) in list.iter().enumerate() {
            let Some(obj) = c.as_object() else { continue };
            let name = obj.get("name").and_then(Value::as_str);
            let matches = match primary {
                Some(p) => name == Some(p),
                None => list.len() == 1,
            };
            if matches {
                return Ok(Container {
                    value: obj,
                    path: format!("{path}[{i}]"),
                });
            }
        }
    }
    let names: Vec<&str> = lists
        .iter()
        .flat_map(|(_, l)| l.iter())
        .filter_map(|c| c.get("name").and_then(Value::as_str))
        .collect();
    Err(match primary {
        Some(p) => format!(
            "primaryContainerName {p:?} names no container of the trialSpec (containers: {})",
            names.join(", ")
        ),
        None => format!(
            "the trialSpec has several containers ({}); set primaryContainerName",
            names.join(", ")
        ),
    })
}

fn collect_container_lists<'a>(
    v: &'a Value,
    path: String,
    out: &mut Vec<(String, &'a Vec<Value>)>,
) {
    match v {
        Value::Object(m) => {
            for (k, x) in m {
                let p = format!("{path}.{k}");
                if k == "containers"
                    && let Some(a) = x.as_array()
                {
                    out.push((p, a));
                    continue;
                }
                collect_container_lists(x, p, out);
            }
        }
        Value::Array(a) => {
            for (i, x) in a.iter().enumerate() {
                collect_container_lists(x, format!("{path}[{i}]"), out);
            }
        }
        _ => {}
    }
}

/// The parts of a container that a local process uses, with problems and notes.
#[derive(Debug, Default)]
pub struct ContainerCommand {
    pub argv: Vec<String>,
    pub env: Vec<(String, String)>,
    pub working_dir: Option<String>,
    pub image: Option<String>,
    /// Things ignored locally, said once to the user.
    pub notes: Vec<String>,
}

/// Reads command, args, env and workingDir of a container.
pub fn container_command(c: &Container<'_>) -> Result<ContainerCommand, Vec<FieldError>> {
    let mut errs = Vec::new();
    let mut out = ContainerCommand::default();
    let strings = |key: &str, errs: &mut Vec<FieldError>| -> Vec<String> {
        match c.value.get(key) {
            None | Some(Value::Null) => Vec::new(),
            Some(Value::Array(a)) => a
                .iter()
                .enumerate()
                .filter_map(|(i, x)| match x {
                    Value::String(s) => Some(s.clone()),
                    Value::Number(n) => Some(n.to_string()),
                    Value::Bool(b) => Some(b.to_string()),
                    _ => {
                        errs.push(FieldError::new(
                            format!("{}.{key}[{i}]", c.path),
                            "must be a string",
                        ));
                        None
                    }
                })
                .collect(),
            Some(_) => {
                errs.push(FieldError::new(
                    format!("{}.{key}", c.path),
                    "must be a list of strings",
                ));
                Vec::new()
            }
        }
    };
    let command = strings("command", &mut errs);
    let args = strings("args", &mut errs);
    if command.is_empty() {
        errs.push(FieldError::new(
            c.path.clone(),
            if args.is_empty() {
                "the primary container has no command to run locally (set command)".to_string()
            } else {
                "the primary container has args but no command; its image's entrypoint is unknown locally, so set command".to_string()
            },
        ));
    }
    out.argv = command.into_iter().chain(args).collect();
    if let Some(env) = c.value.get("env").and_then(Value::as_array) {
        for (i, e) in env.iter().enumerate() {
            let name = e.get("name").and_then(Value::as_str).unwrap_or_default();
            if name.is_empty() {
                errs.push(FieldError::new(
                    format!("{}.env[{i}].name", c.path),
                    "is required",
                ));
                continue;
            }
            match e.get("value") {
                Some(Value::String(s)) => out.env.push((name.to_string(), s.clone())),
                Some(Value::Number(n)) => out.env.push((name.to_string(), n.to_string())),
                Some(Value::Bool(b)) => out.env.push((name.to_string(), b.to_string())),
                _ if e.get("valueFrom").is_some() => out.notes.push(format!(
                    "{}.env[{i}] ({name}) uses valueFrom, which needs Kubernetes; it is not set for local trials",
                    c.path
                )),
                _ => out.env.push((name.to_string(), String::new())),
            }
        }
    }
    if c.value.get("envFrom").is_some() {
        out.notes.push(format!(
            "{}.envFrom needs Kubernetes; it is ignored for local trials",
            c.path
        ));
    }
    out.working_dir = c
        .value
        .get("workingDir")
        .and_then(Value::as_str)
        .map(str::to_string);
    out.image = c
        .value
        .get("image")
        .and_then(Value::as_str)
        .map(str::to_string);
    if errs.is_empty() { Ok(out) } else { Err(errs) }
}

impl TrialTemplate {
    /// The values of every trial parameter for one assignment and trial.
    pub fn parameter_values(
        &self,
        assignment: &Assignment,
        meta: &TrialMeta,
    ) -> HashMap<String, String> {
        self.trial_parameters
            .iter()
            .filter_map(|(name, reference)| {
                let v = match crate::substitute::reference_meta_field(reference) {
                    Some(field) => crate::substitute::meta_value(field, meta),
                    None => assignment.get(reference).map(|v| v.to_string()),
                };
                v.map(|v| (name.clone(), v))
            })
            .collect()
    }

    /// The metadata a trial of this template has: Kind and APIVersion of the trialSpec
    /// (native trials are `Process`, `ferrotune.io/v1alpha1`), its labels and annotations.
    pub fn meta(&self, trial_name: &str, namespace: &str) -> TrialMeta {
        let (kind, api_version, labels, annotations) = match &self.source {
            TemplateSource::Process { .. } => (
                "Process".to_string(),
                crate::spec::NATIVE_API_VERSION.to_string(),
                BTreeMap::new(),
                BTreeMap::new(),
            ),
            TemplateSource::TrialSpec { spec, .. } => {
                let s = |p: &str| {
                    spec.pointer(p)
                        .and_then(Value::as_str)
                        .unwrap_or("")
                        .to_string()
                };
                let m = |p: &str| -> BTreeMap<String, String> {
                    spec.pointer(p)
                        .and_then(Value::as_object)
                        .map(|o| {
                            o.iter()
                                .map(|(k, v)| {
                                    (
                                        k.clone(),
                                        v.as_str()
                                            .map(str::to_string)
                                            .unwrap_or_else(|| v.to_string()),
                                    )
                                })
                                .collect()
                        })
                        .unwrap_or_default()
                };
                (
                    s("/kind"),
                    s("/apiVersion"),
                    m("/metadata/labels"),
                    m("/metadata/annotations"),
                )
            }
        };
        TrialMeta {
            name: trial_name.to_string(),
            namespace: namespace.to_string(),
            kind,
            api_version,
            labels,
            annotations,
        }
    }

    /// The command one trial runs. Substitution happens per argv element and env value.
    pub fn resolve(
        &self,
        assignment: &Assignment,
        trial_name: &str,
        namespace: &str,
    ) -> Result<TrialCommand, String> {
        let meta = self.meta(trial_name, namespace);
        let values = self.parameter_values(assignment, &meta);
        match &self.source {
            TemplateSource::Process {
                command,
                env,
                working_dir,
            } => Ok(TrialCommand {
                argv: command
                    .iter()
                    .map(|a| substitute(a, &values, &meta))
                    .collect(),
                env: env
                    .iter()
                    .map(|(k, v)| (k.clone(), substitute(v, &values, &meta)))
                    .collect(),
                working_dir: working_dir.as_ref().map(|w| substitute(w, &values, &meta)),
            }),
            TemplateSource::TrialSpec {
                spec,
                primary_container_name,
            } => {
                let spec = substitute_json(spec, &values, &meta);
                let c = primary_container(&spec, primary_container_name.as_deref())?;
                let cc = container_command(&c).map_err(|e| {
                    e.iter()
                        .map(|e| e.to_string())
                        .collect::<Vec<_>>()
                        .join("; ")
                })?;
                Ok(TrialCommand {
                    argv: cc.argv,
                    env: cc.env,
                    working_dir: cc.working_dir,
                })
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn finds_primary_containers_by_kind() {
        let job = json!({"apiVersion":"batch/v1","kind":"Job","spec":{"template":{"spec":{"containers":[
            {"name":"sidecar","image":"x","command":["sleep"]},
            {"name":"training-container","image":"y","command":["python3","train.py"]}]}}}});
        let c = primary_container(&job, Some("training-container")).unwrap();
        assert_eq!(c.path, "trialSpec.spec.template.spec.containers[1]");
        assert!(
            primary_container(&job, None)
                .unwrap_err()
                .contains("set primaryContainerName")
        );
        assert!(
            primary_container(&job, Some("nope"))
                .unwrap_err()
                .contains("sidecar, training-container")
        );

        let pt = json!({"kind":"PyTorchJob","spec":{"pytorchReplicaSpecs":{
            "Worker":{"template":{"spec":{"containers":[{"name":"pytorch","command":["w"]}]}}},
            "Master":{"template":{"spec":{"containers":[{"name":"pytorch","command":["m"]}]}}}}}});
        let c = primary_container(&pt, Some("pytorch")).unwrap();
        assert_eq!(c.value["command"][0], "m");

        let tf = json!({"kind":"TFJob","spec":{"tfReplicaSpecs":{
            "Worker":{"template":{"spec":{"containers":[{"name":"tensorflow","command":["w"]}]}}},
            "Chief":{"template":{"spec":{"containers":[{"name":"tensorflow","command":["c"]}]}}}}}});
        assert_eq!(
            primary_container(&tf, Some("tensorflow")).unwrap().value["command"][0],
            "c"
        );

        let mpi = json!({"kind":"MPIJob","spec":{"mpiReplicaSpecs":{
            "Worker":{"template":{"spec":{"containers":[{"name":"mpi","command":["w"]}]}}},
            "Launcher":{"template":{"spec":{"containers":[{"name":"mpi","command":["mpirun","l"]}]}}}}}});
        assert_eq!(
            primary_container(&mpi, Some("mpi")).unwrap().value["command"][0],
            "mpirun"
        );

        let ray = json!({"kind":"RayJob","spec":{"rayClusterSpec":{"headGroupSpec":{"template":{"spec":{"containers":[{"name":"ray-head","command":["ray"]}]}}}}}});
        assert_eq!(
            primary_container(&ray, Some("ray-head")).unwrap().path,
            "trialSpec.spec.rayClusterSpec.headGroupSpec.template.spec.containers[0]"
        );
    }

    #[test]
    fn container_command_needs_a_command() {
        let v = json!({"name":"c","args":["--x"]});
        let c = Container {
            value: v.as_object().unwrap(),
            path: "p".into(),
        };
        let e = container_command(&c).unwrap_err();
        assert!(e[0].message.contains("args but no command"));
        let v = json!({"name":"c","command":["python3"],"args":["a", 3],"env":[{"name":"A","value":"1"},{"name":"S","valueFrom":{"secretKeyRef":{}}}],"image":"img"});
        let c = Container {
            value: v.as_object().unwrap(),
            path: "p".into(),
        };
        let cc = container_command(&c).unwrap();
        assert_eq!(cc.argv, ["python3", "a", "3"]);
        assert_eq!(cc.env, [("A".to_string(), "1".to_string())]);
        assert_eq!(cc.image.as_deref(), Some("img"));
        assert_eq!(cc.notes.len(), 1);
    }
}
