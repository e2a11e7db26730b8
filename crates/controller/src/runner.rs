//! The boundary between the controller and wherever trials run.

use ferrotune_core::placement::TrialResources;
use ferrotune_core::template::TrialCommand;
use ferrotune_core::validate::Collector;
use ferrotune_core::{Assignment, Labels, Observation};
use ferrotune_store::ExperimentRecord;
use std::path::PathBuf;
use std::time::Duration;
use tokio::sync::mpsc;

/// Everything a runner needs to start one attempt of one trial.
#[derive(Debug, Clone)]
pub struct TrialLaunch {
    pub experiment: String,
    pub namespace: String,
    pub trial: String,
    pub attempt: i64,
    pub parameters: Assignment,
    /// After substitution: argv elements and env values, never a shell line.
    pub command: TrialCommand,
    /// The experiment's run directory; trial directories go below it.
    pub run_dir: PathBuf,
    /// Relative working directories resolve against this (the experiment file's folder).
    pub source_dir: PathBuf,
    pub collector: Collector,
    /// Objective and additional metric names: only these are collected.
    pub metrics: Vec<String>,
    pub timeout: Option<Duration>,
    /// The labels the algorithm gave the trial; `PARENT_LABEL` names the trial whose
    /// checkpoint this one starts from.
    pub labels: Labels,
    /// Where and with which token the trial pushes its metrics over gRPC
    /// (`FERROTUNE_ENDPOINT`, `FERROTUNE_TOKEN`), when the controller has an endpoint.
    pub report: Option<crate::ingest::ReportAccess>,
    /// What the trial needs (CPUs, GPUs, memory, custom resources): a cluster runner
    /// reserves it; the local runner leaves the limit to `parallelTrialCount`.
    pub resources: TrialResources,
    /// Processes that make up one attempt (`trialTemplate.replicas`; only the Ray runner's
    /// tasks mode runs more than 1).
    pub replicas: u32,
    /// Where a driver the runner starts elsewhere connects back (the Ray runner's tasks
    /// mode), when the controller has an endpoint.
    pub drivers: Option<crate::drivers::DriverHub>,
}

/// Why an attempt ended, as the runner saw it.
#[derive(Debug, Clone, PartialEq)]
pub enum ExitKind {
    /// The process exited by itself (or was stopped on request).
    Exited {
        code: Option<i32>,
        signal: Option<i32>,
    },
    /// The trial ran longer than its timeout and was killed.
    TimedOut(Duration),
    /// It could not even be started.
    SpawnFailed(String),
    /// It ended without an exit status of its own, for the reason given: the place it ran
    /// on ended or lost it (a Ray job stopped from outside, a node that died).
    Lost(String),
    /// It was cut short by something outside the trial (the driver that ran it died) and
    /// runs again as a new attempt, first in line, without counting as a failure or a retry.
    Interrupted(String),
}

/// What a runner tells the controller, in order per trial: observations, then exactly one
/// `Exited`.
#[derive(Debug, Clone)]
pub enum RunnerEvent {
    Observations {
        trial: String,
        attempt: i64,
        observations: Vec<Observation>,
    },
    Exited {
        trial: String,
        attempt: i64,
        kind: ExitKind,
        /// The last lines of the trial's output, for failure messages.
        log_tail: Vec<String>,
        /// Whether the controller asked for the stop.
        stopped: bool,
    },
}

/// A started attempt.
#[derive(Debug, Clone, Default)]
pub struct Started {
    /// Process group (local runner), recorded so a later run can clean up orphans.
    pub pgid: Option<i64>,
}

/// An attempt a crashed controller left running that the runner took back.
#[derive(Debug, Clone, PartialEq)]
pub struct Reattached {
    pub trial: String,
    pub attempt: i64,
    /// The report token the trial has (its `FERROTUNE_TOKEN`), when the runner knows it.
    pub token: Option<String>,
}

/// Where trials run: local processes, Ray jobs and Ray tasks, and later Kubernetes
/// workloads.
#[async_trait::async_trait]
pub trait TrialRunner: Send + Sync {
    /// Starts an attempt. Its observations and its end arrive on `events`. A start that
    /// fails is reported as an `Exited` event with [`ExitKind::SpawnFailed`], not as an error,
    /// so that a bad command fails the trial, not the experiment.
    async fn start(
        &self,
        launch: TrialLaunch,
        events: mpsc::UnboundedSender<RunnerEvent>,
    ) -> Started;
    /// Asks a running attempt to stop: SIGTERM (or its equivalent), then a forced kill after
    /// `grace`. Its `Exited` event follows with `stopped: true`.
    async fn stop(&self, namespace: &str, trial: &str, grace: Duration);
    /// Ends whatever a crashed earlier controller left running for this experiment. The
    /// record names it (namespace, name) and says where its trials' folders are (run dir),
    /// which is how each runner recognises what belongs to it.
    async fn cleanup_orphans(&self, experiment: &ExperimentRecord);
    /// Before a controller started again runs anything: takes back those of `running` (the
    /// attempts the store says were running, each as it was launched) that still run and
    /// can report to this controller, and ends whatever else an earlier run left (as
    /// [`cleanup_orphans`](Self::cleanup_orphans)). Their events go to `events` from now
    /// on. By default nothing is taken back.
    async fn reattach(
        &self,
        experiment: &ExperimentRecord,
        _running: Vec<TrialLaunch>,
        _events: mpsc::UnboundedSender<RunnerEvent>,
    ) -> Vec<Reattached> {
        self.cleanup_orphans(experiment).await;
        Vec::new()
    }
    /// The experiment's run is over (it completed, was stopped or interrupted) and none of
    /// its attempts runs: whatever the runner keeps for it (a Ray driver) can go.
    async fn release(&self, _experiment: &ExperimentRecord) {}
}
