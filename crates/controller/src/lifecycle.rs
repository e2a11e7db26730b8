//! Creating and resuming experiments: the checks `ferrotune run`/`resume` and the server's
//! `CreateExperiment`/`ResumeExperiment` share, so both refuse and accept the same things.

use crate::check::validate_document;
use ferrotune_core::FieldError;
use ferrotune_core::load::{LoadedDoc, load_str};
use ferrotune_core::validate::Experiment;
use ferrotune_store::{ExperimentRecord, ExperimentStatus, Store, StoreError};

/// Why an experiment cannot be created or resumed.
#[derive(Debug, thiserror::Error)]
pub enum LifecycleError {
    /// The text is not an experiment document (syntax, or not exactly one experiment).
    #[error("{0}")]
    Document(String),
    /// The document's fields are wrong; every problem is listed.
    #[error("{}", .0.iter().map(|e| e.to_string()).collect::<Vec<_>>().join("\n"))]
    Invalid(Vec<FieldError>),
    /// The experiment's state forbids it (already running elsewhere, already completed).
    #[error("{0}")]
    Refused(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Command-line or request overrides, written into the stored document so that the stored
/// document alone rebuilds the experiment on resume.
#[derive(Debug, Clone, Copy, Default)]
pub struct Overrides<'a> {
    pub name: Option<&'a str>,
    /// The namespace a server puts the experiment in, whatever the document says.
    pub namespace: Option<&'a str>,
    pub parallel: Option<u32>,
    pub max_trials: Option<u32>,
}

impl Overrides<'_> {
    fn is_empty(&self) -> bool {
        self.name.is_none()
            && self.namespace.is_none()
            && self.parallel.is_none()
            && self.max_trials.is_none()
    }

    /// Writes the overrides into a document (a JSON object).
    pub fn apply(&self, raw: &mut serde_json::Value) {
        let Some(obj) = raw.as_object_mut() else {
            return;
        };
        let meta = [("name", self.name), ("namespace", self.namespace)];
        if meta.iter().any(|(_, v)| v.is_some())
            && let Some(m) = obj
                .entry("metadata")
                .or_insert_with(|| serde_json::json!({}))
                .as_object_mut()
        {
            for (key, value) in meta {
                if let Some(v) = value {
                    m.insert(key.into(), v.into());
                }
            }
        }
        let spec = obj.entry("spec").or_insert_with(|| serde_json::json!({}));
        if let Some(s) = spec.as_object_mut() {
            if let Some(p) = self.parallel {
                s.insert("parallelTrialCount".into(), p.into());
            }
            if let Some(m) = self.max_trials {
                s.insert("maxTrialCount".into(), m.into());
            }
        }
    }
}

/// Parses a stored (or overridden) document again.
pub fn reload(raw: &serde_json::Value) -> Result<LoadedDoc, LifecycleError> {
    let mut f = load_str(&raw.to_string()).map_err(|e| LifecycleError::Document(e.to_string()))?;
    f.experiments
        .pop()
        .ok_or_else(|| LifecycleError::Document("the stored document holds no experiment".into()))
}

/// A stored experiment's validated spec, for showing and stopping it; `None` when its
/// document no longer validates (written by another version), which callers show without.
pub fn stored_experiment(r: &ExperimentRecord) -> Option<Experiment> {
    reload(&r.document)
        .ok()
        .and_then(|d| validate_document(&d).ok())
}

/// The one experiment in `text` (YAML or JSON), overrides applied, validated. `label` names
/// the text in messages (a file name).
pub fn prepare_document(
    text: &str,
    label: &str,
    overrides: Overrides<'_>,
) -> Result<(LoadedDoc, Experiment), LifecycleError> {
    let loaded = load_str(text).map_err(|e| LifecycleError::Document(format!("{label}: {e}")))?;
    let mut doc = match loaded.experiments.len() {
        0 => {
            return Err(LifecycleError::Document(format!(
                "{label}: no Experiment in this document"
            )));
        }
        1 => loaded.experiments.into_iter().next().expect("one"),
        n => {
            return Err(LifecycleError::Document(format!(
                "{label} holds {n} experiments; give one at a time (split the file)"
            )));
        }
    };
    if !overrides.is_empty() {
        overrides.apply(&mut doc.raw);
        doc = reload(&doc.raw)?;
    }
    let exp = validate_document(&doc).map_err(LifecycleError::Invalid)?;
    Ok((doc, exp))
}

/// A seed when none was given: time and process id through splitmix64; it is then stored.
pub fn random_seed() -> u64 {
    let t = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0);
    let mut z = t ^ ((std::process::id() as u64) << 32);
    z = z.wrapping_add(0x9E3779B97F4A7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58476D1CE4E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D049BB133111EB);
    z ^ (z >> 31)
}

/// Whether a process is alive (the owner of a running experiment), by /proc (Linux, where
/// trials run as local processes).
pub fn process_alive(pid: i64) -> bool {
    pid > 0 && std::path::Path::new(&format!("/proc/{pid}")).exists()
}

/// How a study's run directory starts (a study is asked and told by its client through
/// the server's SuggestionService): no path can, so nothing ever runs a study's trials.
pub const STUDY_RUN_DIR_PREFIX: &str = "study:";

/// Whether a stored experiment is a study, whose trials its client runs.
pub fn is_study(r: &ExperimentRecord) -> bool {
    r.run_dir.starts_with(STUDY_RUN_DIR_PREFIX)
}

/// Prepares a stored experiment to run again: refuses one that another live process runs
/// or that has nothing left to do, applies new limits (stored), and marks it Restarting.
/// `runner_pid` is the process that will run it.
pub async fn prepare_resume(
    store: &dyn Store,
    record: &mut ExperimentRecord,
    max_trials: Option<u32>,
    parallel: Option<u32>,
    runner_pid: i64,
) -> Result<Experiment, LifecycleError> {
    let name = record.name.clone();
    if is_study(record) {
        return Err(LifecycleError::Refused(format!(
            "{name:?} is a study: its client asks for trials and tells their results"
        )));
    }
    if let Some(pid) = record.owner_pid
        && record.status == ExperimentStatus::Running
        && pid != runner_pid
        && process_alive(pid)
    {
        return Err(LifecycleError::Refused(format!(
            "experiment {name:?} is being run by process {pid}; stop it first with `ferrotune stop {name}`"
        )));
    }
    let overrides = Overrides {
        parallel,
        max_trials,
        ..Overrides::default()
    };
    if !overrides.is_empty() {
        overrides.apply(&mut record.document);
    }
    let doc = reload(&record.document)?;
    let exp = validate_document(&doc).map_err(LifecycleError::Invalid)?;
    if record.status.is_completed() {
        let trials = store.list_trials(record.id).await?;
        let finished = trials.iter().filter(|t| t.status.is_finished()).count() as u32;
        let more_room = exp.max_trial_count.is_none_or(|m| m > finished);
        if max_trials.is_none()
            || !more_room
            || record.reason == "ExperimentGoalReached"
            || record.reason == "ExperimentSuggestionEndReached"
        {
            return Err(LifecycleError::Refused(format!(
                "experiment {name:?} already {} ({}); raise its limit with `ferrotune resume {name} --max-trials N` (N > {finished})",
                record.status, record.reason
            )));
        }
    }
    if !overrides.is_empty() {
        store.update_document(record.id, &doc.raw).await?;
    }
    store
        .set_experiment_status(
            record.id,
            ExperimentStatus::Restarting,
            "ExperimentRestarting",
            "resumed",
        )
        .await?;
    Ok(exp)
}
