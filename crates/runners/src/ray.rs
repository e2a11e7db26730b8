//! Trials on a Ray cluster, through the dashboard's Job Submission REST API.
//!
//! Two modes share the Job API client ([`api`]):
//! - tasks mode ([`RayMode::Tasks`], the default): one driver job per experiment, connected
//!   back to the controller over gRPC, runs each trial attempt as a Ray task;
//! - jobs mode ([`RayMode::Jobs`]): each trial attempt is its own Ray job, which Ray places
//!   where the trial's resources fit and which runs the trial's own command.
//!
//! Every submission id of an experiment starts with [`experiment_prefix`] (a trial's job
//! adds the trial and attempt, [`submission_id`]; a driver a random suffix), so a
//! controller started again finds the jobs its crashed predecessor left running and stops
//! them ([`TrialRunner::cleanup_orphans`]).

pub mod api;
mod jobs;
mod tasks;

use crate::RunnerError;
use async_trait::async_trait;
use ferrotune_controller::{RunnerEvent, Started, TrialLaunch, TrialRunner};
pub use ferrotune_core::placement::RayMode;
use ferrotune_store::ExperimentRecord;
use std::path::Path;
use std::time::Duration;
use std::time::Instant;
use tokio::sync::mpsc;

/// The environment variable that hands a trial's argv, environment and working directory
/// to `python3 -m ferrotune.ray_exec` inside its Ray job (as JSON), so that no trial
/// value ever passes through the shell Ray runs entrypoints with.
pub const TRIAL_VAR: &str = "FERROTUNE_RAY_TRIAL";

/// The entrypoint of every trial's job: a fixed string, with no value of the trial in it.
/// The Python SDK (`sdk/python`) must be installed for the `python3` on the Ray nodes'
/// PATH (for a head started from a venv, that venv's).
pub const ENTRYPOINT: &str = "python3 -m ferrotune.ray_exec";

/// How to reach a Ray cluster and run trials on it.
#[derive(Debug, Clone)]
pub struct RayConfig {
    /// The dashboard, `http://HOST:8265` (normalised by
    /// [`ferrotune_core::placement::normalize_ray_address`]).
    pub address: String,
    pub mode: RayMode,
    /// Time Ray gives a stopped trial between SIGTERM and SIGKILL
    /// (`RAY_JOB_STOP_WAIT_TIME_S`, whole seconds, at least 1).
    pub grace: Duration,
    /// How often a running trial's status and output are read.
    pub poll: Duration,
}

impl RayConfig {
    pub fn new(address: &str) -> Result<Self, RunnerError> {
        let address = ferrotune_core::placement::normalize_ray_address(address)
            .map_err(|e| RunnerError::Config(format!("Ray address {e}")))?;
        Ok(RayConfig {
            address,
            mode: RayMode::Jobs,
            grace: Duration::from_secs(10),
            poll: Duration::from_millis(250),
        })
    }
}

/// How long after a stop (beyond Ray's own SIGTERM-to-SIGKILL wait) a job may take to
/// end before ferrotune stops waiting for it.
const STOP_SLACK: Duration = Duration::from_secs(10);

/// How trials run on the cluster.
enum Mode {
    Jobs(jobs::Jobs),
    Tasks(tasks::Tasks),
}

/// Runs trials on a Ray cluster.
pub struct RayRunner {
    address: String,
    ray_version: String,
    mode: Mode,
}

impl RayRunner {
    /// Checks that a Ray dashboard answers at the address (`GET /api/version`), so that a
    /// wrong address fails the command at once, naming it, rather than every trial.
    pub async fn connect(config: RayConfig) -> Result<Self, RunnerError> {
        let api = api::JobApi::new(&config.address);
        let ray_version = api.version().await?;
        let mode = match config.mode {
            RayMode::Jobs => Mode::Jobs(jobs::Jobs::new(api, &config)),
            RayMode::Tasks => Mode::Tasks(tasks::Tasks::new(api, &config)),
        };
        Ok(RayRunner {
            address: config.address,
            ray_version,
            mode,
        })
    }

    /// The dashboard's address.
    pub fn address(&self) -> &str {
        &self.address
    }

    /// The cluster's Ray version, as it said when connected.
    pub fn ray_version(&self) -> &str {
        &self.ray_version
    }
}

#[async_trait]
impl TrialRunner for RayRunner {
    async fn start(
        &self,
        launch: TrialLaunch,
        events: mpsc::UnboundedSender<RunnerEvent>,
    ) -> Started {
        match &self.mode {
            Mode::Jobs(j) => j.start(launch, events).await,
            Mode::Tasks(t) => t.start(launch, events).await,
        }
    }

    async fn stop(&self, namespace: &str, trial: &str, grace: Duration) {
        match &self.mode {
            Mode::Jobs(j) => j.stop(namespace, trial, grace).await,
            Mode::Tasks(t) => t.stop(namespace, trial, grace).await,
        }
    }

    async fn cleanup_orphans(&self, experiment: &ExperimentRecord) {
        match &self.mode {
            Mode::Jobs(j) => j.cleanup_orphans(experiment).await,
            Mode::Tasks(t) => t.cleanup_orphans(experiment).await,
        }
    }

    async fn reattach(
        &self,
        experiment: &ExperimentRecord,
        running: Vec<TrialLaunch>,
        events: mpsc::UnboundedSender<RunnerEvent>,
    ) -> Vec<ferrotune_controller::Reattached> {
        match &self.mode {
            Mode::Tasks(t) => t.reattach(experiment, running, events).await,
            Mode::Jobs(j) => {
                j.cleanup_orphans(experiment).await;
                Vec::new()
            }
        }
    }

    async fn release(&self, experiment: &ExperimentRecord) {
        if let Mode::Tasks(t) = &self.mode {
            t.release(experiment).await;
        }
    }
}

/// Stops the jobs of this experiment that are still pending or running (a crashed
/// controller's trials in jobs mode, its driver in tasks mode), and waits until Ray says they ended, so their trials' new attempts
/// do not queue behind them.
pub(crate) async fn stop_experiment_jobs(
    api: &api::JobApi,
    experiment: &ExperimentRecord,
    keep: Option<&str>,
    stop_wait: Duration,
    poll: Duration,
) {
    let prefix = experiment_prefix(
        &experiment.namespace,
        &experiment.name,
        std::path::Path::new(&experiment.run_dir),
    );
    let jobs = match api.list().await {
        Ok(j) => j,
        Err(e) => {
            tracing::warn!("cannot list Ray jobs to stop a crashed run's trials: {e}");
            return;
        }
    };
    let mut orphans: Vec<String> = jobs
        .into_iter()
        .filter(|j| !j.status.is_terminal())
        .filter_map(|j| j.submission_id)
        .filter(|id| id.starts_with(&prefix) && Some(id.as_str()) != keep)
        .collect();
    for id in &orphans {
        tracing::info!(job = %id, "stopping a Ray job left by an earlier run");
        if let Err(e) = api.stop(id).await {
            tracing::warn!(job = %id, "cannot stop: {e}");
        }
    }
    let deadline = Instant::now() + stop_wait + STOP_SLACK;
    while !orphans.is_empty() && Instant::now() < deadline {
        tokio::time::sleep(poll).await;
        let mut still = Vec::new();
        for id in orphans {
            match api.info(&id).await {
                Ok(Some(api::JobInfo { status, .. })) if !status.is_terminal() => still.push(id),
                _ => {}
            }
        }
        orphans = still;
    }
    if !orphans.is_empty() {
        tracing::warn!(
            ?orphans,
            "Ray jobs of an earlier run had not ended {:?} after their stop (Ray stops a pending job only once it starts)",
            stop_wait + STOP_SLACK
        );
    }
}

/// The part of every submission id of one experiment's jobs:
/// `ferrotune_NAMESPACE_EXPERIMENT_HASH_`, where HASH stands for the run folder, so that
/// two ferrotune instances with the same experiment name on one cluster never collide.
/// Namespaces and names cannot hold `_`, so one experiment's prefix is never a prefix of
/// another's.
pub fn experiment_prefix(namespace: &str, experiment: &str, run_dir: &Path) -> String {
    format!(
        "ferrotune_{namespace}_{experiment}_{:08x}_",
        fnv1a(run_dir.display().to_string().as_bytes()) as u32
    )
}

/// The submission id of one attempt of one trial: deterministic, so that a restarted
/// controller knows which jobs are its own.
pub fn submission_id(l: &TrialLaunch) -> String {
    format!(
        "{}{}_a{}",
        experiment_prefix(&l.namespace, &l.experiment, &l.run_dir),
        l.trial,
        l.attempt
    )
}

/// FNV-1a: a stable hash (std's may change between Rust versions; ids must not).
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf29ce484222325u64, |h, b| {
        (h ^ *b as u64).wrapping_mul(0x100000001b3)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefixes_are_stable_and_unambiguous() {
        let a = experiment_prefix("team", "exp", Path::new("/runs/exp"));
        assert_eq!(a, experiment_prefix("team", "exp", Path::new("/runs/exp")));
        assert!(a.starts_with("ferrotune_team_exp_"));
        assert_ne!(a, experiment_prefix("team", "exp", Path::new("/other/exp")));
        let b = experiment_prefix("team", "exp-2", Path::new("/runs/exp"));
        assert!(!b.starts_with(&a) && !a.starts_with(&b));
        assert_eq!(fnv1a(b"a"), 0xaf63dc4c8601ec8c);
    }
}
