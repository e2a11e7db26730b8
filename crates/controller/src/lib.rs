//! The experiment controller: a state machine that asks a search algorithm for parameter
//! sets, launches trials through a [`TrialRunner`], records every transition in a
//! [`Store`] before acting on it, and ends the experiment by Katib's rules.
//!
//! It knows neither where trials run nor where state lives, so the same loop serves
//! `ferrotune run` on a laptop, the server, and (later) Ray and Kubernetes.

pub mod check;
pub mod decide;
pub mod drivers;
pub mod ingest;
pub mod lifecycle;
pub mod runner;

pub use check::{validate_document, validate_search_spec};
pub use decide::{Completion, Counts, Decision, Limits, decide};
pub use ingest::{Caller, IngestError, Report, ReportAccess, ReportHub};
pub use lifecycle::{LifecycleError, Overrides};
pub use runner::{ExitKind, Reattached, RunnerEvent, Started, TrialLaunch, TrialRunner};

use chrono::Utc;
use ferrotune_algorithms::stopping::{Resource, RuleContext, StoppingRule, build_rule};
use ferrotune_algorithms::{AlgorithmContext, Suggester, Suggestions};
use ferrotune_core::validate::{CollectorKind, Experiment};
use ferrotune_core::{
    Assignment, MetricSummary, NewTrial, ObjectiveType, Observation, TrialStatus, TrialView,
};
use ferrotune_store::{
    ExperimentRecord, ExperimentStatus, Store, StoreError, TrialOutcome, TrialRecord,
};
use std::collections::{BTreeSet, HashMap};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;

/// Errors of the controller crate.
#[derive(Debug, thiserror::Error)]
pub enum ControllerError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("search algorithm: {0}")]
    Algorithm(String),
}

/// Tunables that are not part of the experiment spec.
#[derive(Debug, Clone)]
pub struct Options {
    /// Time between SIGTERM and SIGKILL when stopping a trial.
    pub grace: Duration,
    /// How often buffered observations are committed.
    pub flush_interval: Duration,
    /// How often the store is asked whether someone requested a stop.
    pub stop_poll_interval: Duration,
    /// The experiment file's folder, for relative working directories.
    pub source_dir: PathBuf,
    /// Where trials push metrics over gRPC (`FERROTUNE_ENDPOINT`); `None`: they cannot.
    pub reports: Option<ReportHub>,
    /// How long a trial that reports over gRPC (collector Push) has, once the early-stopping
    /// rule gave up on it, to notice through `should_stop()` and end by itself before it
    /// gets SIGTERM.
    pub cooperative_window: Duration,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            grace: Duration::from_secs(10),
            flush_interval: Duration::from_millis(200),
            stop_poll_interval: Duration::from_millis(500),
            source_dir: PathBuf::from("."),
            reports: None,
            cooperative_window: Duration::from_secs(2),
        }
    }
}

/// What happened, for progress displays. Sent after the store has recorded it.
#[derive(Debug, Clone)]
pub enum Event {
    TrialStarted {
        name: String,
        attempt: i64,
        parameters: Assignment,
    },
    TrialFinished {
        name: String,
        status: TrialStatus,
        objective: Option<f64>,
        /// Every objective's value, for a multi-objective experiment (else empty).
        objectives: Vec<f64>,
        message: String,
    },
    /// An attempt failed and the trial runs again (`spec.maxTrialRetries`).
    TrialRetrying {
        name: String,
        /// The attempt that failed.
        attempt: i64,
        message: String,
    },
    /// Counts and the best value after every change.
    Progress {
        counts: Counts,
        best: Option<(String, f64)>,
    },
}

/// How the run ended.
#[derive(Debug, Clone, PartialEq)]
pub struct RunOutcome {
    pub status: ExperimentStatus,
    pub reason: String,
    pub message: String,
}

/// Why the controller should stop before the experiment completes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Interrupt {
    /// Ctrl-C: running trials are stopped and will re-run on resume.
    Interrupted,
}

struct Live {
    id: i64,
    attempt: i64,
    summaries: HashMap<String, MetricSummary>,
    pending_obs: Vec<Observation>,
    stopping: Option<StopKind>,
    /// Why the early-stopping rule stopped it.
    early_stop: Option<String>,
    /// The latest value of the rule's resource metric (see `Resource::Metric`).
    resource: f64,
    /// Per metric, how many of the attempt's first observations are stored already: a
    /// re-attached runner sends them all again, from the first.
    skip: HashMap<String, usize>,
}

impl Live {
    fn new(id: i64, attempt: i64) -> Self {
        Live {
            id,
            attempt,
            summaries: HashMap::new(),
            pending_obs: Vec::new(),
            stopping: None,
            early_stop: None,
            resource: 0.0,
            skip: HashMap::new(),
        }
    }

    /// Adds observations to each metric's summary.
    fn summarize(&mut self, observations: &[Observation]) {
        for o in observations {
            match self.summaries.get_mut(&o.metric) {
                Some(s) => s.push(o.value),
                None => {
                    self.summaries
                        .insert(o.metric.clone(), MetricSummary::new(&o.metric, o.value));
                }
            }
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum StopKind {
    /// The user stopped the experiment, or it completed while this trial ran: Killed.
    Kill,
    /// Ctrl-C: back to Created, re-run on resume.
    Requeue,
    /// The early-stopping rule: EarlyStopped, its partial result kept.
    EarlyStop,
    /// The rule's budget for a trial is spent (ASHA's `max_t`): it ends as if it had
    /// exited by itself.
    BudgetSpent,
}

/// One experiment being driven.
pub struct Controller {
    store: Arc<dyn Store>,
    runner: Arc<dyn TrialRunner>,
    exp: Experiment,
    record: ExperimentRecord,
    options: Options,
    suggester: Box<dyn Suggester>,
    /// `spec.earlyStopping`, when given.
    rule: Option<Box<dyn StoppingRule>>,
    /// Whether `TrialView::intermediate` is kept (for the rule or the algorithm).
    keep_curves: bool,
    /// What the rule measures progress in (fixed by its settings).
    resource: Option<Resource>,
    /// Live trials with new intermediate values since the rule last looked at them.
    dirty: BTreeSet<String>,
    on_event: Arc<dyn Fn(Event) + Send + Sync>,
    // state
    views: Vec<TrialView>,
    index: HashMap<String, usize>,
    ids: HashMap<String, i64>,
    attempts: HashMap<String, i64>,
    /// Failed attempts run again, per trial (what `maxTrialRetries` limits).
    failures: HashMap<String, i64>,
    counts: Counts,
    live: HashMap<String, Live>,
    /// Trials to (re)start before asking for new ones: interrupted attempts.
    queue: Vec<String>,
    /// Trials the store says were running when this controller started: the runner may
    /// take them back ([`TrialRunner::reattach`]) before they re-run.
    was_running: Vec<String>,
    exhausted: bool,
    best: Option<(String, f64)>,
    /// Pushed observations sent to this controller and not yet taken (backpressure, see
    /// `ReportHub::open_metered`).
    queued: Arc<std::sync::atomic::AtomicUsize>,
}

impl Controller {
    /// Prepares a controller for a stored experiment: rebuilds the history from the store and
    /// the algorithm (restoring its saved state).
    pub async fn new(
        store: Arc<dyn Store>,
        runner: Arc<dyn TrialRunner>,
        exp: Experiment,
        record: ExperimentRecord,
        options: Options,
        on_event: Arc<dyn Fn(Event) + Send + Sync>,
    ) -> Result<Self, ControllerError> {
        let mut suggester = ferrotune_algorithms::build(AlgorithmContext {
            algorithm: exp.algorithm.name.clone(),
            space: exp.space.clone(),
            objectives: exp.objective.directions(),
            seed: record.seed,
            settings: exp.algorithm.settings.clone(),
        })
        .map_err(|e| ControllerError::Algorithm(e.to_string()))?;
        if let Some(state) = store.load_algorithm_state(record.id).await? {
            suggester
                .restore(state)
                .map_err(|e| ControllerError::Algorithm(e.to_string()))?;
        }
        let rule = match &exp.early_stopping {
            None => None,
            Some(r) => Some(
                build_rule(RuleContext {
                    rule: r.name.clone(),
                    settings: r.settings.clone(),
                    objective: exp.objective.type_,
                    seed: record.seed,
                })
                .map_err(|e| ControllerError::Algorithm(format!("early stopping: {e}")))?,
            ),
        };
        let keep_curves = rule.is_some() || suggester.needs_intermediate();
        let resource = rule.as_ref().map(|r| r.resource());
        let mut c = Controller {
            store,
            runner,
            exp,
            record,
            options,
            suggester,
            rule,
            keep_curves,
            resource,
            dirty: BTreeSet::new(),
            on_event,
            views: Vec::new(),
            index: HashMap::new(),
            ids: HashMap::new(),
            attempts: HashMap::new(),
            failures: HashMap::new(),
            counts: Counts::default(),
            live: HashMap::new(),
            queue: Vec::new(),
            was_running: Vec::new(),
            exhausted: false,
            best: None,
            queued: Arc::new(std::sync::atomic::AtomicUsize::new(0)),
        };
        let trials = c.store.list_trials(c.record.id).await?;
        for t in trials {
            let (id, attempt, finished) = (t.id, t.attempt, t.status.is_finished());
            let name = t.name.clone();
            c.adopt(t);
            // Finished trials' curves are what rules compare running ones against.
            if c.keep_curves && finished {
                let obs: Vec<Observation> = c
                    .store
                    .observations(id, Some(attempt))
                    .await?
                    .into_iter()
                    .map(|(_, o)| o)
                    .collect();
                let curve = c.curve(&obs);
                c.views[c.index[&name]].intermediate = curve;
            }
        }
        Ok(c)
    }

    fn adopt(&mut self, t: TrialRecord) {
        let status = match t.status {
            // A trial that was running when the last controller died runs again, unless the
            // runner takes it back.
            TrialStatus::Running => {
                self.was_running.push(t.name.clone());
                TrialStatus::Created
            }
            s => s,
        };
        if status == TrialStatus::Created {
            self.queue.push(t.name.clone());
        }
        self.counts.add(status);
        self.index.insert(t.name.clone(), self.views.len());
        self.ids.insert(t.name.clone(), t.id);
        self.attempts.insert(t.name.clone(), t.attempt);
        self.failures.insert(t.name.clone(), t.failed_attempts);
        let view = TrialView {
            name: t.name,
            parameters: t.parameters,
            status,
            objective: t.objective,
            objectives: self.multi_values(&t.metrics),
            intermediate: Vec::new(),
            labels: t.labels,
        };
        self.consider_best(&view);
        self.views.push(view);
    }

    /// The objective's intermediate values in `obs` as `(resource, value)`, in order.
    fn curve(&self, obs: &[Observation]) -> Vec<(i64, f64)> {
        let mut out = Vec::new();
        let mut latest = 0.0;
        extend_curve(
            &mut out,
            &mut latest,
            obs,
            &self.exp.objective.metric,
            self.resource.as_ref(),
        );
        out
    }

    /// Every objective's value for a multi-objective experiment; empty for one objective
    /// (see `TrialView::objectives`) or until all were reported.
    fn multi_values(&self, metrics: &[MetricSummary]) -> Vec<f64> {
        if self.exp.objective.is_multi() {
            self.exp.objective.values(metrics).unwrap_or_default()
        } else {
            Vec::new()
        }
    }

    fn consider_best(&mut self, v: &TrialView) {
        if !matches!(v.status, TrialStatus::Succeeded | TrialStatus::EarlyStopped) {
            return;
        }
        if let Some(x) = v.objective {
            let better = match &self.best {
                None => true,
                Some((_, b)) => self.exp.objective.type_.better(x, *b),
            };
            if better {
                self.best = Some((v.name.clone(), x));
            }
        }
    }

    fn goal_reached(&self) -> bool {
        let Some(goal) = self.exp.objective.goal else {
            return false;
        };
        // Only a trial that completed normally can reach the goal.
        self.views.iter().any(|v| {
            v.status == TrialStatus::Succeeded
                && v.objective
                    .is_some_and(|x| self.exp.objective.type_.reaches(x, goal))
        })
    }

    fn limits(&self) -> Limits {
        Limits {
            parallel: self.exp.parallel_trial_count,
            max_trials: self.exp.max_trial_count,
            max_failed: self.exp.max_failed_trial_count,
        }
    }

    fn emit(&self, e: Event) {
        (self.on_event)(e)
    }

    fn progress(&self) {
        self.emit(Event::Progress {
            counts: self.counts,
            best: self.best.clone(),
        });
    }

    /// Runs the experiment until it completes, is stopped through the store, or `interrupt`
    /// fires. Every transition is committed before the next action.
    pub async fn run(
        mut self,
        mut interrupt: tokio::sync::watch::Receiver<Option<Interrupt>>,
    ) -> Result<RunOutcome, ControllerError> {
        let (tx, mut rx) = mpsc::unbounded_channel();
        self.store
            .set_experiment_status(
                self.record.id,
                ExperimentStatus::Running,
                "ExperimentRunning",
                "",
            )
            .await?;
        self.reattach(&tx).await?;
        self.progress();
        let mut flush = tokio::time::interval(self.options.flush_interval);
        let mut poll = tokio::time::interval(self.options.stop_poll_interval);
        flush.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        poll.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            // Act: start what fits, or finish.
            if let Some(done) = self.step(&tx).await? {
                return self.complete(done, &tx, &mut rx).await;
            }
            tokio::select! {
                ev = rx.recv() => {
                    if let Some(ev) = ev {
                        self.on_runner_event(ev).await?;
                    }
                    // Drain whatever else is ready so bursts are handled together.
                    while let Ok(ev) = rx.try_recv() {
                        self.on_runner_event(ev).await?;
                    }
                    self.apply_rule().await;
                }
                _ = flush.tick() => self.flush().await?,
                _ = poll.tick() => {
                    if self.store.stop_requested(self.record.id).await? {
                        return self.shutdown(StopKind::Kill, &mut rx, "StoppedByUser", "stopped with `ferrotune stop`").await;
                    }
                }
                changed = interrupt.changed() => {
                    if changed.is_ok() && interrupt.borrow().is_some() {
                        return self.shutdown(StopKind::Requeue, &mut rx, "Interrupted", "interrupted; continue with `ferrotune resume`").await;
                    }
                }
            }
        }
    }

    /// Starts queued and new trials; returns a completion when the experiment is done.
    async fn step(
        &mut self,
        tx: &mpsc::UnboundedSender<RunnerEvent>,
    ) -> Result<Option<Completion>, ControllerError> {
        // Re-run interrupted trials first: they already count as active.
        while self.counts.running < self.exp.parallel_trial_count && !self.queue.is_empty() {
            let name = self.queue.remove(0);
            self.launch(&name, tx).await?;
        }
        loop {
            match decide(
                &self.counts,
                &self.limits(),
                self.goal_reached(),
                self.exhausted,
            ) {
                Decision::Complete(c) => return Ok(Some(c)),
                Decision::Wait => return Ok(None),
                Decision::Launch(n) => {
                    // Pending trials are waiting for a slot: don't ask for more.
                    if self.counts.pending > 0 {
                        return Ok(None);
                    }
                    let suggested = self
                        .suggester
                        .suggest(&self.views, n as usize)
                        .map_err(|e| ControllerError::Algorithm(e.to_string()))?;
                    if let Some(state) = self.suggester.state() {
                        self.store
                            .save_algorithm_state(self.record.id, &state)
                            .await?;
                    }
                    let new: Vec<NewTrial> = match suggested {
                        Suggestions::Exhausted => Vec::new(),
                        Suggestions::Wait if self.counts.running > 0 => return Ok(None),
                        Suggestions::Wait => {
                            tracing::warn!(
                                "the search algorithm waits with no trial running; ending the experiment"
                            );
                            Vec::new()
                        }
                        Suggestions::Assignments(a) => a.into_iter().map(NewTrial::from).collect(),
                        Suggestions::Trials(t) => t,
                    };
                    match new {
                        a if a.is_empty() => self.exhausted = true,
                        a => {
                            let created =
                                self.store.create_labelled_trials(self.record.id, a).await?;
                            for t in created {
                                let name = t.name.clone();
                                self.adopt(t);
                                self.queue.retain(|q| q != &name);
                                self.launch(&name, tx).await?;
                            }
                        }
                    }
                }
            }
        }
    }

    async fn launch(
        &mut self,
        name: &str,
        tx: &mpsc::UnboundedSender<RunnerEvent>,
    ) -> Result<(), ControllerError> {
        let idx = self.index[name];
        let id = self.ids[name];
        let attempt = self.attempts[name] + 1;
        let params = self.views[idx].parameters.clone();
        // Record the attempt before it exists, so that a crash right after re-runs it.
        let now = Utc::now();
        self.store.start_trial(id, attempt, None, now).await?;
        self.attempts.insert(name.to_string(), attempt);
        self.counts.remove(self.views[idx].status);
        self.views[idx].status = TrialStatus::Running;
        self.counts.add(TrialStatus::Running);
        self.live.insert(name.to_string(), Live::new(id, attempt));
        // A re-run attempt starts its curve again.
        self.views[idx].intermediate.clear();
        let command = match self
            .exp
            .template
            .resolve(&params, name, &self.exp.namespace)
        {
            Ok(c) => c,
            Err(e) => {
                let _ = tx.send(RunnerEvent::Exited {
                    trial: name.to_string(),
                    attempt,
                    kind: ExitKind::SpawnFailed(format!("trial template: {e}")),
                    log_tail: Vec::new(),
                    stopped: false,
                });
                return Ok(());
            }
        };
        let launch = self.trial_launch(name, attempt, command, tx);
        // The process group is not written back: a crashed run's leftovers are found by the
        // runner's own marker (see `TrialRunner::cleanup_orphans`), which saves a commit.
        let _started = self.runner.start(launch, tx.clone()).await;
        self.emit(Event::TrialStarted {
            name: name.to_string(),
            attempt,
            parameters: params,
        });
        self.progress();
        Ok(())
    }

    /// What the runner needs to run (or take back) attempt `attempt` of trial `name`;
    /// opens the attempt's report route.
    fn trial_launch(
        &self,
        name: &str,
        attempt: i64,
        command: ferrotune_core::template::TrialCommand,
        tx: &mpsc::UnboundedSender<RunnerEvent>,
    ) -> TrialLaunch {
        let idx = self.index[name];
        TrialLaunch {
            experiment: self.exp.name.clone(),
            namespace: self.exp.namespace.clone(),
            trial: name.to_string(),
            attempt,
            parameters: self.views[idx].parameters.clone(),
            command,
            run_dir: PathBuf::from(&self.record.run_dir),
            source_dir: self.options.source_dir.clone(),
            collector: self.exp.collector.clone(),
            metrics: self.exp.objective.all_metrics(),
            timeout: self.exp.template.timeout,
            resources: self.exp.template.resources.clone(),
            replicas: self.exp.template.replicas,
            drivers: self.options.reports.as_ref().map(|h| h.drivers().clone()),
            labels: self.views[idx].labels.clone(),
            report: self.options.reports.as_ref().map(|hub| {
                hub.open_metered(
                    &self.exp.namespace,
                    name,
                    attempt,
                    &self.exp.objective.all_metrics(),
                    tx.clone(),
                    self.queued.clone(),
                )
            }),
        }
    }

    /// Offers the runner the attempts the store says were running (a crashed controller's);
    /// those it takes back run on as they are, with their stored observations, and the
    /// rest run again as new attempts.
    async fn reattach(
        &mut self,
        tx: &mpsc::UnboundedSender<RunnerEvent>,
    ) -> Result<(), ControllerError> {
        let names = std::mem::take(&mut self.was_running);
        let mut launches = Vec::new();
        for name in &names {
            let idx = self.index[name];
            if let Ok(command) =
                self.exp
                    .template
                    .resolve(&self.views[idx].parameters, name, &self.exp.namespace)
            {
                launches.push(self.trial_launch(name, self.attempts[name], command, tx));
            }
        }
        let kept = self
            .runner
            .reattach(&self.record, launches, tx.clone())
            .await;
        for r in kept {
            let Some(&idx) = self.index.get(&r.trial) else {
                continue;
            };
            if self.attempts.get(&r.trial) != Some(&r.attempt)
                || self.views[idx].status != TrialStatus::Created
                || !names.contains(&r.trial)
            {
                continue;
            }
            if let (Some(hub), Some(token)) = (&self.options.reports, &r.token) {
                hub.set_token(&self.exp.namespace, &r.trial, r.attempt, token);
            }
            let id = self.ids[&r.trial];
            let stored: Vec<Observation> = self
                .store
                .observations(id, Some(r.attempt))
                .await?
                .into_iter()
                .map(|(_, o)| o)
                .collect();
            let mut live = Live::new(id, r.attempt);
            live.summarize(&stored);
            for o in &stored {
                *live.skip.entry(o.metric.clone()).or_default() += 1;
            }
            self.views[idx].intermediate.clear();
            if self.keep_curves {
                extend_curve(
                    &mut self.views[idx].intermediate,
                    &mut live.resource,
                    &stored,
                    &self.exp.objective.metric,
                    self.resource.as_ref(),
                );
            }
            self.queue.retain(|q| q != &r.trial);
            self.counts.remove(TrialStatus::Created);
            self.counts.add(TrialStatus::Running);
            self.views[idx].status = TrialStatus::Running;
            self.live.insert(r.trial.clone(), live);
            tracing::info!(trial = %r.trial, attempt = r.attempt, "re-attached to a running trial");
            self.emit(Event::TrialStarted {
                name: r.trial.clone(),
                attempt: r.attempt,
                parameters: self.views[idx].parameters.clone(),
            });
        }
        if let Some(hub) = &self.options.reports {
            for name in &names {
                if !self.live.contains_key(name) {
                    hub.close(&self.exp.namespace, name, self.attempts[name]);
                }
            }
        }
        Ok(())
    }

    async fn on_runner_event(&mut self, ev: RunnerEvent) -> Result<(), ControllerError> {
        match ev {
            RunnerEvent::Observations {
                trial,
                attempt,
                observations,
            } => {
                ingest::taken(&self.queued, observations.len());
                if let Some(l) = self.live.get_mut(&trial).filter(|l| l.attempt == attempt) {
                    // A re-attached attempt's stored observations come again first.
                    let observations: Vec<Observation> = if l.skip.is_empty() {
                        observations
                    } else {
                        observations
                            .into_iter()
                            .filter(|o| match l.skip.get_mut(&o.metric) {
                                Some(n) if *n > 0 => {
                                    *n -= 1;
                                    false
                                }
                                _ => true,
                            })
                            .collect()
                    };
                    if self.keep_curves {
                        let idx = self.index[&trial];
                        let before = self.views[idx].intermediate.len();
                        extend_curve(
                            &mut self.views[idx].intermediate,
                            &mut l.resource,
                            &observations,
                            &self.exp.objective.metric,
                            self.resource.as_ref(),
                        );
                        if self.views[idx].intermediate.len() > before && l.stopping.is_none() {
                            self.dirty.insert(trial.clone());
                        }
                    }
                    l.summarize(&observations);
                    l.pending_obs.extend(observations);
                    if l.pending_obs.len() >= 2048 {
                        let batch = std::mem::take(&mut l.pending_obs);
                        self.store
                            .append_observations(l.id, attempt, &batch)
                            .await?;
                    }
                }
            }
            RunnerEvent::Exited {
                trial,
                attempt,
                kind,
                log_tail,
                stopped,
            } => {
                let Some(l) = self.live.remove(&trial) else {
                    return Ok(());
                };
                if l.attempt != attempt {
                    self.live.insert(trial, l);
                    return Ok(());
                }
                if let Some(hub) = &self.options.reports {
                    hub.close(&self.exp.namespace, &trial, attempt);
                }
                self.finish(&trial, l, kind, log_tail, stopped).await?;
            }
        }
        Ok(())
    }

    /// Asks the early-stopping rule about every trial with new values, and stops the ones
    /// it gives up on (their slot frees when their process has ended).
    async fn apply_rule(&mut self) {
        for name in std::mem::take(&mut self.dirty) {
            let Some(l) = self.live.get_mut(&name).filter(|l| l.stopping.is_none()) else {
                continue;
            };
            let idx = self.index[&name];
            let view = &self.views[idx];
            let spent = self
                .suggester
                .budget_spent(view)
                .or_else(|| self.rule.as_ref().and_then(|r| r.budget_spent(view)));
            let (kind, reason) = match (spent, self.rule.as_mut()) {
                (Some(r), _) => (StopKind::BudgetSpent, r),
                (None, Some(rule)) => match rule.should_stop(view, &self.views) {
                    Some(r) => (StopKind::EarlyStop, r),
                    None => continue,
                },
                (None, None) => continue,
            };
            tracing::debug!(trial = %name, %reason, ?kind, "early stopping rule");
            l.stopping = Some(kind);
            l.early_stop = Some(reason.clone());
            let cooperative = kind == StopKind::EarlyStop
                && self.exp.collector.kind == CollectorKind::Push
                && !self.options.cooperative_window.is_zero();
            match &self.options.reports {
                Some(hub) if cooperative => {
                    // It asks `should_stop()` as it reports: let it end by itself first.
                    hub.mark_stop(&self.exp.namespace, &name, &reason);
                    let (runner, grace) = (self.runner.clone(), self.options.grace);
                    let window = self.options.cooperative_window;
                    let namespace = self.exp.namespace.clone();
                    tokio::spawn(async move {
                        tokio::time::sleep(window).await;
                        runner.stop(&namespace, &name, grace).await;
                    });
                }
                hub => {
                    if let Some(hub) = hub {
                        hub.mark_stop(&self.exp.namespace, &name, &reason);
                    }
                    self.runner
                        .stop(&self.exp.namespace, &name, self.options.grace)
                        .await;
                }
            }
        }
    }

    async fn finish(
        &mut self,
        name: &str,
        l: Live,
        kind: ExitKind,
        log_tail: Vec<String>,
        stopped: bool,
    ) -> Result<(), ControllerError> {
        let idx = self.index[name];
        if stopped && l.stopping == Some(StopKind::Requeue) {
            return self
                .requeue(
                    idx,
                    &l,
                    "interrupted; the trial will run again on resume",
                    false,
                )
                .await;
        }
        // Cut short from outside (its driver died): it runs again at once, first in line,
        // as a new attempt that is neither a failure nor a retry.
        if let (ExitKind::Interrupted(why), false) = (&kind, stopped) {
            let why = format!(
                "attempt {} interrupted ({why}); running it again",
                l.attempt
            );
            return self.run_again_first(idx, name, &l, why, false).await;
        }
        let metric = &self.exp.objective.metric;
        let objective = l
            .summaries
            .get(metric)
            .map(|s| s.pick(self.exp.objective.strategy(metric)));
        let metrics: Vec<MetricSummary> = self
            .exp
            .objective
            .all_metrics()
            .iter()
            .filter_map(|m| l.summaries.get(m).cloned())
            .collect();
        let complete = objective.is_some() && self.exp.objective.values(&metrics).is_some();
        let missing = self
            .exp
            .objective
            .objectives()
            .into_iter()
            .map(|(m, _)| m)
            .find(|m| !l.summaries.contains_key(m))
            .unwrap_or_else(|| metric.clone());
        let (status, reason, message) = match (l.stopping, &l.early_stop, stopped) {
            // Stopped by the rule (or it stopped itself when told to): its partial result
            // stays, for the algorithm to see as such.
            (Some(StopKind::EarlyStop), Some(why), _) => {
                (TrialStatus::EarlyStopped, "TrialEarlyStopped", why.clone())
            }
            // Its budget spent: judged like a trial that exited 0 by itself.
            (Some(StopKind::BudgetSpent), Some(why), true) => {
                let done = ExitKind::Exited {
                    code: Some(0),
                    signal: None,
                };
                let (s, r, m) = classify(&done, false, complete, &missing, &log_tail);
                (s, r, if m.is_empty() { why.clone() } else { m })
            }
            _ => classify(&kind, stopped, complete, &missing, &log_tail),
        };
        // A failed attempt the experiment allows to retry runs again, first in line; its
        // observations stay with that attempt, and it counts as failed only at the end.
        // Retries are failed attempts counted, not attempt numbers: an attempt a restart or
        // a dead driver interrupted uses none.
        let retries = i64::from(self.exp.max_trial_retries);
        let failed_before = self.failures.get(name).copied().unwrap_or(0);
        if status == TrialStatus::Failed && !stopped && failed_before < retries {
            let why = format!(
                "attempt {} failed ({reason}: {}); running it again (retry {} of {retries})",
                l.attempt,
                message.lines().next().unwrap_or(""),
                failed_before + 1
            );
            self.failures.insert(name.to_string(), failed_before + 1);
            return self.run_again_first(idx, name, &l, why, true).await;
        }
        let outcome = TrialOutcome {
            status,
            reason: reason.to_string(),
            message: message.clone(),
            objective,
            metrics,
            completion_time: Utc::now(),
        };
        self.store
            .finish_trial(l.id, l.attempt, &l.pending_obs, &outcome)
            .await?;
        self.counts.remove(TrialStatus::Running);
        self.counts.add(status);
        self.views[idx].status = status;
        self.views[idx].objective = outcome.objective;
        self.views[idx].objectives = self.multi_values(&outcome.metrics);
        let v = self.views[idx].clone();
        self.consider_best(&v);
        self.emit(Event::TrialFinished {
            name: name.to_string(),
            status,
            objective: outcome.objective,
            objectives: self.views[idx].objectives.clone(),
            message,
        });
        self.progress();
        Ok(())
    }

    /// Requeues an ended attempt's trial first in line, to run again at once (a retry, or
    /// an attempt cut short from outside), and says so.
    async fn run_again_first(
        &mut self,
        idx: usize,
        name: &str,
        l: &Live,
        why: String,
        failed: bool,
    ) -> Result<(), ControllerError> {
        self.requeue(idx, l, &why, failed).await?;
        self.queue.insert(0, name.to_string());
        self.emit(Event::TrialRetrying {
            name: name.to_string(),
            attempt: l.attempt,
            message: why,
        });
        self.progress();
        Ok(())
    }

    /// Puts an ended attempt's trial back to Created (its observations kept with that
    /// attempt), to run again as the next attempt.
    async fn requeue(
        &mut self,
        idx: usize,
        l: &Live,
        why: &str,
        failed: bool,
    ) -> Result<(), ControllerError> {
        self.store
            .append_observations(l.id, l.attempt, &l.pending_obs)
            .await?;
        self.store.requeue_trial(l.id, why, failed).await?;
        self.counts.remove(TrialStatus::Running);
        self.counts.add(TrialStatus::Created);
        self.views[idx].status = TrialStatus::Created;
        Ok(())
    }

    async fn flush(&mut self) -> Result<(), ControllerError> {
        for l in self.live.values_mut() {
            if !l.pending_obs.is_empty() {
                let batch = std::mem::take(&mut l.pending_obs);
                self.store
                    .append_observations(l.id, l.attempt, &batch)
                    .await?;
            }
        }
        Ok(())
    }

    /// Stops every running trial and waits for each to end.
    async fn stop_all(
        &mut self,
        kind: StopKind,
        rx: &mut mpsc::UnboundedReceiver<RunnerEvent>,
    ) -> Result<(), ControllerError> {
        let names: Vec<String> = self.live.keys().cloned().collect();
        for n in &names {
            if let Some(l) = self.live.get_mut(n) {
                l.stopping = Some(kind);
            }
            if let Some(hub) = &self.options.reports {
                hub.mark_stop(&self.exp.namespace, n, "the experiment is stopping");
            }
        }
        let runner = self.runner.clone();
        let grace = self.options.grace;
        let namespace = self.exp.namespace.clone();
        let stops = names.clone();
        let stopper = tokio::spawn(async move {
            for n in stops {
                runner.stop(&namespace, &n, grace).await;
            }
        });
        while !self.live.is_empty() {
            match rx.recv().await {
                Some(ev) => self.on_runner_event(ev).await?,
                None => break,
            }
        }
        let _ = stopper.await;
        Ok(())
    }

    async fn shutdown(
        mut self,
        kind: StopKind,
        rx: &mut mpsc::UnboundedReceiver<RunnerEvent>,
        reason: &str,
        message: &str,
    ) -> Result<RunOutcome, ControllerError> {
        self.stop_all(kind, rx).await?;
        self.store
            .set_experiment_status(self.record.id, ExperimentStatus::Stopped, reason, message)
            .await?;
        self.progress();
        Ok(RunOutcome {
            status: ExperimentStatus::Stopped,
            reason: reason.to_string(),
            message: message.to_string(),
        })
    }

    async fn complete(
        mut self,
        done: Completion,
        _tx: &mpsc::UnboundedSender<RunnerEvent>,
        rx: &mut mpsc::UnboundedReceiver<RunnerEvent>,
    ) -> Result<RunOutcome, ControllerError> {
        // Trials still running when the goal is reached or failures pile up are killed.
        self.stop_all(StopKind::Kill, rx).await?;
        let status = if done.succeeded() {
            ExperimentStatus::Succeeded
        } else {
            ExperimentStatus::Failed
        };
        let message = match done {
            Completion::GoalReached => format!(
                "objective goal {} reached by {}",
                self.exp.objective.goal.unwrap_or_default(),
                self.best.as_ref().map(|b| b.0.as_str()).unwrap_or("?")
            ),
            Completion::MaxTrialsReached => format!("{} trials finished", self.counts.finished()),
            Completion::SuggestionEndReached => {
                "the search algorithm has no more parameter sets".to_string()
            }
            Completion::TooManyFailures => format!(
                "{} trials failed, more than maxFailedTrialCount ({})",
                self.counts.failed,
                self.exp.max_failed_trial_count.unwrap_or_default()
            ),
        };
        self.store
            .set_experiment_status(self.record.id, status, done.reason(), &message)
            .await?;
        self.progress();
        Ok(RunOutcome {
            status,
            reason: done.reason().to_string(),
            message,
        })
    }
}

/// A trial's end state from how its process ended: Katib's rules.
pub fn classify(
    kind: &ExitKind,
    stopped: bool,
    has_objective: bool,
    metric: &str,
    log_tail: &[String],
) -> (TrialStatus, &'static str, String) {
    let tail = || {
        if log_tail.is_empty() {
            String::new()
        } else {
            format!("; last lines of output:\n{}", log_tail.join("\n"))
        }
    };
    match kind {
        _ if stopped => (
            TrialStatus::Killed,
            "TrialKilled",
            "stopped with the experiment".to_string(),
        ),
        ExitKind::SpawnFailed(e) => (
            TrialStatus::Failed,
            "TrialFailed",
            format!("could not start: {e}"),
        ),
        ExitKind::Lost(why) | ExitKind::Interrupted(why) => (
            TrialStatus::Failed,
            "TrialFailed",
            format!("{why}{}", tail()),
        ),
        ExitKind::TimedOut(d) => (
            TrialStatus::Failed,
            "TrialTimedOut",
            format!(
                "ran longer than its timeout ({}s) and was killed{}",
                d.as_secs_f64(),
                tail()
            ),
        ),
        ExitKind::Exited { code: Some(0), .. } if has_objective => {
            (TrialStatus::Succeeded, "TrialSucceeded", String::new())
        }
        ExitKind::Exited { code: Some(0), .. } => (
            TrialStatus::MetricsUnavailable,
            "TrialMetricsUnavailable",
            format!(
                "exited 0 without reporting the objective metric {metric:?}{}",
                tail()
            ),
        ),
        ExitKind::Exited { code: Some(c), .. } => (
            TrialStatus::Failed,
            "TrialFailed",
            format!("exited with code {c}{}", tail()),
        ),
        ExitKind::Exited { signal, .. } => (
            TrialStatus::Failed,
            "TrialFailed",
            format!(
                "killed by signal {}{}",
                signal.map(|s| s.to_string()).unwrap_or_else(|| "?".into()),
                tail()
            ),
        ),
    }
}

/// Appends the objective's reports in `obs` to `curve` as `(resource, value)`; `latest` is
/// the resource metric's latest value, carried from one batch of a trial to the next.
fn extend_curve(
    curve: &mut Vec<(i64, f64)>,
    latest: &mut f64,
    obs: &[Observation],
    metric: &str,
    resource: Option<&Resource>,
) {
    for o in obs {
        if let Some(Resource::Metric(m)) = resource
            && &o.metric == m
        {
            *latest = o.value;
        }
        if o.metric == metric {
            curve.push((resource_at(resource, o.step, *latest), o.value));
        }
    }
}

/// Where a report lies along the rule's resource: its step, or the resource metric's latest
/// value (truncated to an integer).
fn resource_at(resource: Option<&Resource>, step: i64, latest: f64) -> i64 {
    match resource {
        Some(Resource::Metric(_)) if latest.is_finite() => latest as i64,
        Some(Resource::Metric(_)) => 0,
        _ => step,
    }
}

/// Whether `a` is better than `b` for this objective (exposed for displays).
pub fn better(t: ObjectiveType, a: f64, b: f64) -> bool {
    t.better(a, b)
}
