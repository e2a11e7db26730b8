//! Where experiments live between (and across) runs.
//!
//! The controller talks to a [`Store`]; it never knows whether the state sits in a SQLite
//! file next to the user, in PostgreSQL behind a server, or (later) in Kubernetes objects.
//! Every method commits before it returns, so whatever the controller does next is backed
//! by durable state: a `ferrotune run` killed at any point can be resumed.

mod postgres;
mod sqlite;

pub use postgres::PostgresStore;
pub use sqlite::SqliteStore;

use chrono::{DateTime, Utc};
use ferrotune_core::{Assignment, Labels, MetricSummary, NewTrial, Observation, TrialStatus};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// Errors of the store crate.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error(
        "experiment {name:?} already exists in namespace {namespace:?}; continue it with \
         `ferrotune resume {name}`"
    )]
    AlreadyExists { namespace: String, name: String },
    #[error("no experiment named {name:?} in namespace {namespace:?}")]
    ExperimentNotFound { namespace: String, name: String },
    #[error("no experiment with id {0}")]
    ExperimentIdNotFound(i64),
    #[error("no trial with id {0}")]
    TrialNotFound(i64),
    #[error("database: {0}")]
    Database(#[from] sqlx::Error),
    #[error("database migration: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
}

/// An experiment's condition, with Katib's names plus `Stopped` for a sweep that was
/// stopped or interrupted and can be resumed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ExperimentStatus {
    Created,
    Running,
    Restarting,
    Succeeded,
    Failed,
    Stopped,
}

impl ExperimentStatus {
    pub const ALL: [ExperimentStatus; 6] = [
        ExperimentStatus::Created,
        ExperimentStatus::Running,
        ExperimentStatus::Restarting,
        ExperimentStatus::Succeeded,
        ExperimentStatus::Failed,
        ExperimentStatus::Stopped,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ExperimentStatus::Created => "Created",
            ExperimentStatus::Running => "Running",
            ExperimentStatus::Restarting => "Restarting",
            ExperimentStatus::Succeeded => "Succeeded",
            ExperimentStatus::Failed => "Failed",
            ExperimentStatus::Stopped => "Stopped",
        }
    }

    /// Succeeded or Failed: nothing more will run unless the user resumes with a higher limit.
    pub fn is_completed(self) -> bool {
        matches!(self, ExperimentStatus::Succeeded | ExperimentStatus::Failed)
    }
}

impl fmt::Display for ExperimentStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for ExperimentStatus {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        ExperimentStatus::ALL
            .into_iter()
            .find(|t| t.as_str() == s)
            .ok_or_else(|| format!("unknown experiment status {s:?}"))
    }
}

/// What `create_experiment` needs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NewExperiment {
    pub name: String,
    pub namespace: String,
    /// The experiment document as JSON, with command-line overrides already applied, so
    /// that `resume` rebuilds exactly the same experiment.
    pub document: serde_json::Value,
    /// Where the experiment file was read from (relative paths in it resolve against its
    /// directory).
    pub source_path: String,
    /// Trial working directories and logs go below this.
    pub run_dir: String,
    /// The search algorithm's seed, fixed at creation so that resume continues the same
    /// sequence.
    pub seed: u64,
}

impl NewExperiment {
    /// The record of this experiment just inserted with `id`: Created, nothing run yet.
    pub(crate) fn into_record(
        self,
        id: i64,
        status: ExperimentStatus,
        created_at: DateTime<Utc>,
    ) -> ExperimentRecord {
        ExperimentRecord {
            id,
            name: self.name,
            namespace: self.namespace,
            document: self.document,
            source_path: self.source_path,
            run_dir: self.run_dir,
            seed: self.seed,
            status,
            reason: String::new(),
            message: String::new(),
            created_at,
            started_at: None,
            completed_at: None,
            owner_pid: None,
            stop_requested: false,
        }
    }
}

/// JSON text of a value that always serialises (serde_json `Value`s, assignments, labels,
/// metric summaries: string keys, and non-finite numbers written as null).
pub(crate) fn json_text(v: &impl Serialize) -> String {
    serde_json::to_string(v).expect("string-keyed data always serialises")
}

/// `Ok` when a statement touched a row; else the not-found error `missing` makes.
pub(crate) fn touched(rows: u64, missing: impl FnOnce() -> StoreError) -> Result<(), StoreError> {
    if rows == 0 { Err(missing()) } else { Ok(()) }
}

/// A trial's name: `{experiment}-{seq:04}`, unique within the namespace because experiment
/// names are.
pub fn trial_name(experiment: &str, seq: i64) -> String {
    format!("{experiment}-{seq:04}")
}

/// The experiment a trial name (see [`trial_name`]) belongs to; `None` when the name is not
/// one the store hands out.
pub fn trial_experiment(trial: &str) -> Option<&str> {
    let (experiment, seq) = trial.rsplit_once('-')?;
    (!experiment.is_empty() && !seq.is_empty() && seq.bytes().all(|b| b.is_ascii_digit()))
        .then_some(experiment)
}

/// A database error on inserting an experiment: a taken name is `AlreadyExists`.
pub(crate) fn insert_error(e: sqlx::Error, new: &NewExperiment) -> StoreError {
    match &e {
        sqlx::Error::Database(db) if db.is_unique_violation() => StoreError::AlreadyExists {
            namespace: new.namespace.clone(),
            name: new.name.clone(),
        },
        _ => StoreError::Database(e),
    }
}

/// The error for an experiment that is not in `namespace`.
pub(crate) fn no_experiment(namespace: &str, name: &str) -> StoreError {
    StoreError::ExperimentNotFound {
        namespace: namespace.to_string(),
        name: name.to_string(),
    }
}

/// A stored experiment.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ExperimentRecord {
    pub id: i64,
    pub name: String,
    pub namespace: String,
    pub document: serde_json::Value,
    pub source_path: String,
    pub run_dir: String,
    pub seed: u64,
    pub status: ExperimentStatus,
    pub reason: String,
    pub message: String,
    pub created_at: DateTime<Utc>,
    pub started_at: Option<DateTime<Utc>>,
    pub completed_at: Option<DateTime<Utc>>,
    /// Process id of the controller that runs it now (or ran it last).
    pub owner_pid: Option<i64>,
    /// Set by `ferrotune stop` from another process; the controller polls it.
    pub stop_requested: bool,
}

/// A stored trial.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrialRecord {
    pub id: i64,
    pub experiment_id: i64,
    pub name: String,
    /// 1, 2, 3, … in creation order within the experiment; never reused.
    pub seq: i64,
    pub parameters: Assignment,
    pub status: TrialStatus,
    pub reason: String,
    pub message: String,
    /// How many times the trial has been started; a trial interrupted by a crash is
    /// re-run as attempt n+1 and its earlier observations stay filed under attempt n.
    pub attempt: i64,
    /// How many attempts failed and were run again ([`Store::requeue_trial`] with
    /// `failed`): what `spec.maxTrialRetries` limits. Attempts a restart interrupted are
    /// not counted.
    pub failed_attempts: i64,
    /// The objective's value by its strategy, once the trial has finished with it.
    pub objective: Option<f64>,
    /// Every metric's summary over the final attempt.
    pub metrics: Vec<MetricSummary>,
    /// The labels the algorithm gave the trial (e.g. PBT's parent).
    pub labels: Labels,
    pub created_at: DateTime<Utc>,
    pub start_time: Option<DateTime<Utc>>,
    pub completion_time: Option<DateTime<Utc>>,
    /// Process group of the running attempt, so a resumed controller can clean up orphans.
    pub pgid: Option<i64>,
}

/// The final word on a trial, written in one transaction.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrialOutcome {
    pub status: TrialStatus,
    pub reason: String,
    pub message: String,
    pub objective: Option<f64>,
    pub metrics: Vec<MetricSummary>,
    pub completion_time: DateTime<Utc>,
}

/// One entry of a Katib observation log: the metric, when, and its value as Katib's text.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct KatibLogEntry {
    pub metric: String,
    pub time: DateTime<Utc>,
    pub value: String,
}

/// Durable state for experiments. Every call commits before it returns.
#[async_trait::async_trait]
pub trait Store: Send + Sync {
    /// Records a new experiment with status Created. A name taken in its namespace is
    /// [`StoreError::AlreadyExists`]; other namespaces may use the same name.
    async fn create_experiment(&self, new: NewExperiment) -> Result<ExperimentRecord, StoreError>;
    /// Names are unique within a namespace only, so both are needed.
    async fn get_experiment(
        &self,
        namespace: &str,
        name: &str,
    ) -> Result<ExperimentRecord, StoreError>;
    /// The experiments of that name in every namespace, oldest first: how a local command
    /// given only a name finds the one meant.
    async fn experiments_named(&self, name: &str) -> Result<Vec<ExperimentRecord>, StoreError>;
    /// All experiments, oldest first.
    async fn list_experiments(&self) -> Result<Vec<ExperimentRecord>, StoreError>;
    /// Replaces the stored document (used by `resume --max-trials`).
    async fn update_document(
        &self,
        id: i64,
        document: &serde_json::Value,
    ) -> Result<(), StoreError>;
    /// Sets status, reason and message; a completed status also sets `completed_at`,
    /// Running sets `started_at` when it is still empty.
    async fn set_experiment_status(
        &self,
        id: i64,
        status: ExperimentStatus,
        reason: &str,
        message: &str,
    ) -> Result<(), StoreError>;
    /// Records which process runs the experiment now, and clears a stale stop request.
    async fn claim_experiment(&self, id: i64, pid: i64) -> Result<(), StoreError>;
    /// Asks the controller running the experiment to stop (from another process).
    async fn request_stop(&self, id: i64) -> Result<(), StoreError>;
    async fn stop_requested(&self, id: i64) -> Result<bool, StoreError>;
    /// Deletes an experiment with its trials, observations and algorithm state.
    async fn delete_experiment(&self, id: i64) -> Result<(), StoreError>;

    /// Records new trials with status Created, allocating their names
    /// (`{experiment}-{seq:04}`) from a counter that never goes back, in one transaction.
    async fn create_trials(
        &self,
        experiment_id: i64,
        parameters: Vec<Assignment>,
    ) -> Result<Vec<TrialRecord>, StoreError> {
        let trials = parameters.into_iter().map(NewTrial::from).collect();
        self.create_labelled_trials(experiment_id, trials).await
    }
    /// As `create_trials`, with the labels the algorithm gave each trial.
    async fn create_labelled_trials(
        &self,
        experiment_id: i64,
        trials: Vec<NewTrial>,
    ) -> Result<Vec<TrialRecord>, StoreError>;
    /// All trials of an experiment, in creation order.
    async fn list_trials(&self, experiment_id: i64) -> Result<Vec<TrialRecord>, StoreError>;
    /// Marks a trial Running as attempt `attempt` (the caller passes the previous attempt
    /// plus one), with its process group.
    async fn start_trial(
        &self,
        trial_id: i64,
        attempt: i64,
        pgid: Option<i64>,
        start_time: DateTime<Utc>,
    ) -> Result<(), StoreError>;
    /// Appends observation-log entries for one attempt of a trial.
    async fn append_observations(
        &self,
        trial_id: i64,
        attempt: i64,
        observations: &[Observation],
    ) -> Result<(), StoreError>;
    /// Appends the last observations and writes the trial's outcome in one transaction.
    async fn finish_trial(
        &self,
        trial_id: i64,
        attempt: i64,
        last_observations: &[Observation],
        outcome: &TrialOutcome,
    ) -> Result<(), StoreError>;
    /// Puts a trial back to Created (it will be re-run), with a reason; `failed` counts
    /// the attempt in `failed_attempts` (a retry), otherwise it was interrupted.
    async fn requeue_trial(
        &self,
        trial_id: i64,
        reason: &str,
        failed: bool,
    ) -> Result<(), StoreError>;
    /// A trial's observation log; `attempt: None` means every attempt. Ordered by attempt,
    /// then insertion order.
    async fn observations(
        &self,
        trial_id: i64,
        attempt: Option<i64>,
    ) -> Result<Vec<(i64, Observation)>, StoreError>;

    /// Appends to a Katib trial's observation log (Katib's `ReportObservationLog`), in one
    /// transaction.
    async fn report_katib_log(
        &self,
        trial_name: &str,
        entries: &[KatibLogEntry],
    ) -> Result<(), StoreError>;
    /// A Katib trial's observation log in time order, optionally one metric's and within
    /// `[start, end]` (Katib's `GetObservationLog`); empty for an unknown trial.
    async fn katib_log(
        &self,
        trial_name: &str,
        metric: Option<&str>,
        start: Option<DateTime<Utc>>,
        end: Option<DateTime<Utc>>,
    ) -> Result<Vec<KatibLogEntry>, StoreError>;
    /// Deletes a Katib trial's observation log; returns how many entries went.
    async fn delete_katib_log(&self, trial_name: &str) -> Result<u64, StoreError>;

    async fn save_algorithm_state(
        &self,
        experiment_id: i64,
        state: &serde_json::Value,
    ) -> Result<(), StoreError>;
    async fn load_algorithm_state(
        &self,
        experiment_id: i64,
    ) -> Result<Option<serde_json::Value>, StoreError>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trial_names_lead_back_to_their_experiment() {
        assert_eq!(trial_name("sweep-2", 7), "sweep-2-0007");
        assert_eq!(trial_name("e", 12345), "e-12345");
        assert_eq!(trial_experiment("sweep-2-0007"), Some("sweep-2"));
        assert_eq!(trial_experiment("e-12345"), Some("e"));
        for bad in ["sweep", "sweep-", "-0001", "sweep-00a1", ""] {
            assert_eq!(trial_experiment(bad), None, "{bad}");
        }
    }
}
