//! Experiments the server runs: one controller task each, the same controller as
//! `ferrotune run`, with trials pushing metrics through the server's [`ReportHub`].
//! On start-up the manager resumes the experiments it was running when it last stopped.

use crate::ServerError;
use ferrotune_controller::lifecycle::{self, Overrides, prepare_document, prepare_resume};
use ferrotune_controller::{Controller, Event, Interrupt, Options, ReportHub, TrialRunner};
use ferrotune_core::validate::Experiment;
use ferrotune_runners::{RunnerSetting, Runners};
use ferrotune_store::{ExperimentRecord, ExperimentStatus, NewExperiment, Store};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::{broadcast, watch};

/// The reason a server that stopped gracefully gives its experiments, so that it knows
/// which to resume when it starts again.
pub const SERVER_SHUTDOWN: &str = "ServerShutdown";

/// An experiment as the server knows it: names are unique within a namespace only.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Key {
    pub namespace: String,
    pub name: String,
}

impl Key {
    pub fn new(namespace: &str, name: &str) -> Key {
        Key {
            namespace: namespace.to_string(),
            name: name.to_string(),
        }
    }

    pub fn of(r: &ExperimentRecord) -> Key {
        Key::new(&r.namespace, &r.name)
    }
}

impl std::fmt::Display for Key {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.namespace, self.name)
    }
}

/// Something changed; watchers reload what they show.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    /// Counts or status of an experiment.
    Experiment(Key),
    /// A trial started or finished.
    Trial { experiment: Key, trial: String },
    /// The experiment's controller ended (completed, stopped or failed).
    Ended(Key),
}

struct Running {
    interrupt: watch::Sender<Option<Interrupt>>,
    done: tokio::task::JoinHandle<()>,
}

/// Runs experiments inside the server.
pub struct Manager {
    store: Arc<dyn Store>,
    /// Where trials may run: the local runner and one per Ray cluster, shared by the
    /// experiments that run there.
    runners: Arc<Runners>,
    /// The runner of experiments that say none (`ferrotune server --runner`).
    default_runner: RunnerSetting,
    hub: ReportHub,
    runs_dir: PathBuf,
    grace: Duration,
    running: Mutex<HashMap<Key, Running>>,
    changes: broadcast::Sender<Change>,
}

/// What `CreateExperiment` asks for.
pub struct CreateRequest<'a> {
    pub namespace: &'a str,
    pub document: &'a str,
    pub source: &'a str,
    pub overrides: Overrides<'a>,
    pub seed: Option<u64>,
    /// Where its trials run, over its spec.runner and the server's default.
    pub runner: Option<RunnerSetting>,
}

impl Manager {
    pub fn new(
        store: Arc<dyn Store>,
        runners: Arc<Runners>,
        default_runner: RunnerSetting,
        hub: ReportHub,
        runs_dir: PathBuf,
        grace: Duration,
    ) -> Arc<Self> {
        let (changes, _) = broadcast::channel(4096);
        Arc::new(Manager {
            store,
            runners,
            default_runner,
            hub,
            runs_dir,
            grace,
            running: Mutex::new(HashMap::new()),
            changes,
        })
    }

    pub fn store(&self) -> &Arc<dyn Store> {
        &self.store
    }

    pub fn hub(&self) -> &ReportHub {
        &self.hub
    }

    /// Changes from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<Change> {
        self.changes.subscribe()
    }

    fn running(&self) -> std::sync::MutexGuard<'_, HashMap<Key, Running>> {
        crate::lock(&self.running)
    }

    /// Whether this server runs the experiment now.
    pub fn is_running(&self, key: &Key) -> bool {
        self.running().contains_key(key)
    }

    /// How many experiments run now.
    pub fn running_count(&self) -> usize {
        self.running().len()
    }

    /// Where an experiment's trial directories go: `RUNS_DIR/NAMESPACE/NAME`.
    fn run_dir(&self, namespace: &str, name: &str) -> PathBuf {
        self.runs_dir.join(namespace).join(name)
    }

    /// The runner of an experiment: what the request asks for, else where it last ran
    /// (pinned in its run folder, when `pinned`), else its
    /// `spec.runner`, else the server's default; `RAY_ADDRESS` fills in a missing Ray
    /// address. A Ray cluster is connected to here, so a wrong address is an error of the
    /// request that asks for it.
    async fn runner_for(
        &self,
        exp: &Experiment,
        run_dir: &Path,
        pinned: bool,
        requested: Option<RunnerSetting>,
    ) -> Result<
        (
            ferrotune_core::placement::RunnerChoice,
            Arc<dyn TrialRunner>,
        ),
        ServerError,
    > {
        let choice = RunnerSetting::merge(&[
            requested.unwrap_or_default(),
            RunnerSetting::pinned(run_dir)
                .filter(|_| pinned)
                .unwrap_or_default(),
            exp.runner
                .as_ref()
                .map(RunnerSetting::from)
                .unwrap_or_default(),
            self.default_runner.clone(),
            RunnerSetting {
                ray_address: std::env::var("RAY_ADDRESS").ok().filter(|a| !a.is_empty()),
                ..Default::default()
            },
        ]);
        let runner = self
            .runners
            .get(&choice)
            .await
            .map_err(|e| ServerError::FailedPrecondition(e.to_string()))?;
        Ok((choice, runner))
    }

    /// Whether this server started the experiment (its run directory is under ours).
    fn owns(&self, r: &ExperimentRecord) -> bool {
        Path::new(&r.run_dir).starts_with(&self.runs_dir)
    }

    /// Validates, stores and starts an experiment.
    pub async fn create(
        self: &Arc<Self>,
        req: CreateRequest<'_>,
    ) -> Result<ExperimentRecord, ServerError> {
        // The request's namespace is the experiment's, whatever the document says.
        let overrides = Overrides {
            namespace: Some(req.namespace),
            ..req.overrides
        };
        let (doc, exp) = prepare_document(req.document, "document", overrides)?;
        let seed = req
            .seed
            .or_else(|| ferrotune_algorithms::seed_from_settings(&exp.algorithm.settings))
            .unwrap_or_else(lifecycle::random_seed);
        let run_dir = self.run_dir(&exp.namespace, &exp.name);
        // The runner must be usable before anything is stored.
        let (choice, _) = self
            .runner_for(&exp, &run_dir, false, req.runner.clone())
            .await?;
        std::fs::create_dir_all(&run_dir).map_err(|e| {
            ServerError::Internal(format!("cannot create {}: {e}", run_dir.display()))
        })?;
        let record = self
            .store
            .create_experiment(NewExperiment {
                name: exp.name.clone(),
                namespace: exp.namespace.clone(),
                document: doc.raw.clone(),
                source_path: req.source.to_string(),
                run_dir: run_dir.display().to_string(),
                seed,
            })
            .await?;
        // The name was free: a pin in its run folder is a deleted namesake's. A runner the
        // request chose is pinned now, so that every run of the experiment keeps it.
        let _ = std::fs::remove_file(run_dir.join(ferrotune_runners::select::PINNED_FILE));
        if req.runner.is_some() {
            ferrotune_runners::select::pin(&run_dir, &choice)
                .map_err(|e| ServerError::Internal(format!("cannot record its runner: {e}")))?;
        }
        self.spawn(exp, record.clone());
        Ok(record)
    }

    /// Continues a stored experiment, optionally with new limits.
    pub async fn resume(
        self: &Arc<Self>,
        key: &Key,
        max_trials: Option<u32>,
        parallel: Option<u32>,
    ) -> Result<ExperimentRecord, ServerError> {
        if self.is_running(key) {
            return Err(ServerError::FailedPrecondition(format!(
                "experiment {:?} is running",
                key.name
            )));
        }
        let mut record = self.get(key).await?;
        let exp = prepare_resume(
            self.store.as_ref(),
            &mut record,
            max_trials,
            parallel,
            std::process::id() as i64,
        )
        .await?;
        self.spawn(exp, record);
        self.get(key).await
    }

    /// The stored experiment.
    pub async fn get(&self, key: &Key) -> Result<ExperimentRecord, ServerError> {
        Ok(self.store.get_experiment(&key.namespace, &key.name).await?)
    }

    /// The stored experiment `name` of `namespace`, `None` when there is none (which the
    /// services answer NOT_FOUND in their own words).
    pub async fn find(
        &self,
        namespace: &str,
        name: &str,
    ) -> Result<Option<ExperimentRecord>, ServerError> {
        match self.store.get_experiment(namespace, name).await {
            Ok(r) => Ok(Some(r)),
            Err(ferrotune_store::StoreError::ExperimentNotFound { .. }) => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    /// Asks a running experiment to stop; its trials are killed, resume continues it.
    pub async fn stop(&self, key: &Key) -> Result<(), ServerError> {
        let r = self.get(key).await?;
        if self.is_running(key) {
            self.store.request_stop(r.id).await?;
            self.wait(key).await;
        } else if !r.status.is_completed() && r.status != ExperimentStatus::Stopped {
            // Nobody runs it (not ours, or its runner died): record that it is stopped.
            let exp = lifecycle::stored_experiment(&r);
            if let Some(exp) = exp
                && let Ok((_, runner)) = self
                    .runner_for(&exp, Path::new(&r.run_dir), true, None)
                    .await
            {
                runner.cleanup_orphans(&r).await;
            }
            self.store
                .set_experiment_status(r.id, ExperimentStatus::Stopped, "StoppedByUser", "stopped")
                .await?;
        }
        Ok(())
    }

    /// Deletes a finished experiment (a running one must be stopped first).
    pub async fn delete(&self, key: &Key) -> Result<(), ServerError> {
        let r = self.get(key).await?;
        if self.is_running(key) || r.status == ExperimentStatus::Running {
            return Err(ServerError::FailedPrecondition(format!(
                "experiment {:?} is running; stop it first",
                key.name
            )));
        }
        self.store.delete_experiment(r.id).await?;
        if self.owns(&r) {
            let _ = std::fs::remove_dir_all(&r.run_dir);
        }
        Ok(())
    }

    /// Waits until an experiment's controller has ended.
    async fn wait(&self, key: &Key) {
        let mut changes = self.subscribe();
        while self.is_running(key) {
            match tokio::time::timeout(Duration::from_millis(200), changes.recv()).await {
                Ok(Ok(Change::Ended(k))) if &k == key => break,
                Ok(Err(broadcast::error::RecvError::Closed)) => break,
                _ => {}
            }
        }
    }

    /// Resumes what this server ran when it last stopped: experiments it owns that are
    /// Running (it was killed), Restarting or Created, or Stopped by its own shutdown.
    pub async fn resume_interrupted(self: &Arc<Self>) -> Result<Vec<Key>, ServerError> {
        let mut resumed = Vec::new();
        for r in self.store.list_experiments().await? {
            let interrupted = match r.status {
                ExperimentStatus::Running
                | ExperimentStatus::Restarting
                | ExperimentStatus::Created => true,
                ExperimentStatus::Stopped => r.reason == SERVER_SHUTDOWN,
                _ => false,
            };
            let key = Key::of(&r);
            if !interrupted || !self.owns(&r) || self.is_running(&key) {
                continue;
            }
            match self.resume(&key, None, None).await {
                Ok(_) => resumed.push(key),
                Err(e) => tracing::error!(experiment = %key, "cannot resume: {e}"),
            }
        }
        Ok(resumed)
    }

    /// Interrupts every running experiment (their trials re-run when the server starts
    /// again) and waits for the controllers to record it.
    pub async fn shutdown(&self) {
        let all: Vec<(Key, Running)> = self.running().drain().collect();
        for (_, r) in &all {
            let _ = r.interrupt.send(Some(Interrupt::Interrupted));
        }
        for (key, r) in all {
            let _ = r.done.await;
            if let Ok(rec) = self.get(&key).await
                && rec.status == ExperimentStatus::Stopped
                && rec.reason == "Interrupted"
            {
                let _ = self
                    .store
                    .set_experiment_status(
                        rec.id,
                        ExperimentStatus::Stopped,
                        SERVER_SHUTDOWN,
                        "the server stopped; it resumes the experiment when it starts again",
                    )
                    .await;
            }
        }
    }

    fn spawn(self: &Arc<Self>, exp: Experiment, record: ExperimentRecord) {
        let key = Key::of(&record);
        let (interrupt, rx) = watch::channel(None);
        let me = self.clone();
        let mut running = self.running();
        let task_key = key.clone();
        let done = tokio::spawn(async move {
            let result = me.drive(exp, record, rx).await;
            if let Err(e) = &result {
                tracing::error!(experiment = %task_key, "controller failed: {e}");
                if let Ok(r) = me.get(&task_key).await {
                    let _ = me
                        .store
                        .set_experiment_status(
                            r.id,
                            ExperimentStatus::Failed,
                            "ControllerFailed",
                            &e.to_string(),
                        )
                        .await;
                }
            }
            me.running().remove(&task_key);
            let _ = me.changes.send(Change::Ended(task_key));
        });
        running.insert(key, Running { interrupt, done });
    }

    async fn drive(
        self: &Arc<Self>,
        exp: Experiment,
        record: ExperimentRecord,
        interrupt: watch::Receiver<Option<Interrupt>>,
    ) -> Result<(), ServerError> {
        let (choice, runner) = self
            .runner_for(&exp, Path::new(&record.run_dir), true, None)
            .await?;
        if let Err(e) = ferrotune_runners::select::pin(Path::new(&record.run_dir), &choice) {
            tracing::warn!(experiment = %record.name, "cannot record its runner: {e}");
        }
        // What a server killed outright left behind (processes, Ray jobs) is taken back or
        // ended by the controller before it starts anything (`TrialRunner::reattach`).
        self.store
            .claim_experiment(record.id, std::process::id() as i64)
            .await?;
        let source_dir = Path::new(&record.source_path)
            .parent()
            .filter(|p| p.is_absolute() && p.is_dir())
            .map(Path::to_path_buf)
            .unwrap_or_else(|| PathBuf::from(&record.run_dir));
        let changes = self.changes.clone();
        let experiment = Key::of(&record);
        let on_event = Arc::new(move |e: Event| {
            let c = match e {
                Event::TrialStarted { name, .. }
                | Event::TrialFinished { name, .. }
                | Event::TrialRetrying { name, .. } => Change::Trial {
                    experiment: experiment.clone(),
                    trial: name,
                },
                Event::Progress { .. } => Change::Experiment(experiment.clone()),
            };
            let _ = changes.send(c);
        });
        let options = Options {
            grace: self.grace,
            source_dir,
            reports: Some(self.hub.clone()),
            ..Options::default()
        };
        let kept = record.clone();
        let controller = Controller::new(
            self.store.clone(),
            runner.clone(),
            exp,
            record,
            options,
            on_event,
        )
        .await?;
        let outcome = controller.run(interrupt).await;
        runner.release(&kept).await;
        outcome?;
        Ok(())
    }
}
