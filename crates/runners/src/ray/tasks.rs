//! Tasks mode: one long-lived driver per experiment (`python3 -m ferrotune.ray_driver`,
//! submitted once as a Ray job) connects back to the controller over gRPC and runs each
//! trial attempt as a `ray.remote` task with the trial's resources. A launch costs a task's
//! milliseconds, not a job's seconds.
//!
//! Each experiment's driver is an actor here ([`DriverActor`]): it submits the driver job
//! when the first trial starts, registers it in the process's [`DriverHub`] with a fresh
//! token, sends launches and cancels down the driver's connection and turns what comes
//! back into the trial's output, observations and end. A driver that dies is noticed (its
//! connection ends and Ray says its job ended): its running attempts end
//! [`ExitKind::Interrupted`], so the controller runs them again as new attempts, and the
//! next launch starts a new driver. When the experiment ends ([`Tasks::release`]) the
//! driver is told to shut down. A controller started again takes back the driver its
//! predecessor left running ([`Tasks::reattach`], through [`DRIVER_FILE`] in the run
//! folder) and continues the attempts it still runs.

use super::api::{JobApi, JobStatus, Submitted};
use super::{RayConfig, experiment_prefix};
use crate::plan::TrialOutput;
use ferrotune_controller::drivers::{DriverHub, DriverSession, FromDriver, TaskSpec, ToDriver};
use ferrotune_controller::{ExitKind, Reattached, RunnerEvent, Started, TrialLaunch};
use ferrotune_store::ExperimentRecord;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::{mpsc, oneshot};

/// The driver job's entrypoint: a fixed string; its settings travel in [`DRIVER_VAR`].
pub const DRIVER_ENTRYPOINT: &str = "python3 -m ferrotune.ray_driver";
/// The environment variable that carries the driver's settings (endpoint, token, id) as
/// JSON, through the job's `runtime_env`.
pub const DRIVER_VAR: &str = "FERROTUNE_RAY_DRIVER";
/// How long a submitted driver may take to connect back before its trials fail.
const ATTACH_WITHIN: Duration = Duration::from_secs(90);
/// How long a controller started again waits for its predecessor's driver to reconnect.
const REATTACH_WITHIN: Duration = Duration::from_secs(20);
/// The file in an experiment's run folder that names its driver and the driver's token
/// (readable by its owner only), so that a controller started again can take it back.
pub const DRIVER_FILE: &str = "ray-driver.json";
/// How long a driver may stay disconnected (its job still running) before it is given up.
const LOST_AFTER: Duration = Duration::from_secs(120);
/// How long a driver keeps its trials running without its controller before it ends them.
const DRIVER_RECONNECT_FOR: Duration = Duration::from_secs(120);
/// Beyond the grace, how long a cancelled attempt may take to end before it is given up.
const STOP_SLACK: Duration = Duration::from_secs(15);
/// Drivers that may die after connecting before their trials count as failed rather than
/// interrupted (a driver that keeps dying must not requeue trials for ever).
const DRIVER_DEATHS: u32 = 3;

enum Cmd {
    Launch(Box<Pending>),
    Stop {
        trial: String,
        grace: Duration,
    },
    /// The experiment is over; answered once the driver has ended.
    Release(oneshot::Sender<()>),
}

/// A launch on its way to the actor.
struct Pending {
    spec: TaskSpec,
    out: TrialOutput,
    timeout: Option<Duration>,
    endpoint: String,
    ca_file: Option<String>,
    hub: DriverHub,
}

pub(crate) struct Tasks {
    api: JobApi,
    stop_wait: Duration,
    poll: Duration,
    /// One actor per experiment (by its submission-id prefix).
    actors: Mutex<HashMap<String, mpsc::UnboundedSender<Cmd>>>,
    /// Which actor runs a trial, for stops.
    trials: Arc<Mutex<HashMap<crate::TrialKey, mpsc::UnboundedSender<Cmd>>>>,
}

impl Tasks {
    pub fn new(api: JobApi, config: &RayConfig) -> Self {
        Tasks {
            api,
            stop_wait: config.grace,
            poll: config.poll,
            actors: Mutex::new(HashMap::new()),
            trials: Arc::new(Mutex::new(HashMap::new())),
        }
    }

    pub async fn start(
        &self,
        l: TrialLaunch,
        events: mpsc::UnboundedSender<RunnerEvent>,
    ) -> Started {
        let spawn_failed = |msg: String| crate::plan::spawn_failed(&events, &l, msg);
        let (Some(report), Some(hub)) = (&l.report, &l.drivers) else {
            return spawn_failed(
                "Ray's tasks mode needs the controller's gRPC endpoint for its driver to connect back to; use --ray-mode jobs where there is none".into(),
            );
        };
        let (parser, plan) = match crate::plan::parser_and_plan(&l, &events) {
            Ok(p) => p,
            Err(started) => return started,
        };
        let spec = TaskSpec {
            trial: l.trial.clone(),
            attempt: l.attempt,
            argv: plan.argv.clone(),
            env: plan.env.clone(),
            cwd: plan.cwd.display().to_string(),
            // On a cluster of several machines these are paths of the node the trial runs
            // on (a shared filesystem makes them the controller's too).
            mkdirs: vec![
                plan.dir.display().to_string(),
                plan.checkpoint.display().to_string(),
            ],
            resources: l.resources.clone(),
            replicas: l.replicas.max(1),
        };
        let pending = Pending {
            spec,
            out: TrialOutput::new(&l, plan.log, plan.metrics_file, parser, events.clone()),
            timeout: l.timeout,
            endpoint: report.endpoint.clone(),
            ca_file: report.ca_file.clone(),
            hub: hub.clone(),
        };
        let prefix = experiment_prefix(&l.namespace, &l.experiment, &l.run_dir);
        let actor = {
            let mut actors = crate::lock(&self.actors);
            let alive = actors.get(&prefix).filter(|a| !a.is_closed()).cloned();
            match alive {
                Some(a) => a,
                None => {
                    let tx = self.spawn_actor(&l, None, HashMap::new());
                    actors.insert(prefix, tx.clone());
                    tx
                }
            }
        };
        crate::lock(&self.trials).insert(crate::trial_key(&l.namespace, &l.trial), actor.clone());
        if let Err(mpsc::error::SendError(Cmd::Launch(p))) =
            actor.send(Cmd::Launch(Box::new(pending)))
        {
            p.out.exited(
                ExitKind::SpawnFailed("the Ray driver's actor ended".into()),
                false,
            );
        }
        Started::default()
    }

    /// Starts the actor of `l`'s experiment, with a driver already running (taken back
    /// from an earlier controller) or none yet.
    fn spawn_actor(
        &self,
        l: &TrialLaunch,
        driver: Option<Driver>,
        tasks: HashMap<String, Task>,
    ) -> mpsc::UnboundedSender<Cmd> {
        let (tx, rx) = mpsc::unbounded_channel();
        let actor = DriverActor {
            api: self.api.clone(),
            prefix: experiment_prefix(&l.namespace, &l.experiment, &l.run_dir),
            experiment: l.experiment.clone(),
            namespace: l.namespace.clone(),
            run_dir: l.run_dir.display().to_string(),
            stop_wait: self.stop_wait,
            poll: self.poll,
            cmds: rx,
            trials: self.trials.clone(),
            driver,
            tasks,
            deaths: 0,
        };
        tokio::spawn(actor.run());
        tx
    }

    /// Takes back the experiment's driver that an earlier controller left running, when it
    /// reconnects here, with those of `running` it still runs; anything else of the
    /// experiment on the cluster is stopped.
    pub async fn reattach(
        &self,
        experiment: &ExperimentRecord,
        running: Vec<TrialLaunch>,
        events: mpsc::UnboundedSender<RunnerEvent>,
    ) -> Vec<Reattached> {
        let run_dir = std::path::Path::new(&experiment.run_dir);
        let found = async {
            // Without attempts to take back, a driver left running has nothing to do.
            let hub = running.first()?.drivers.clone()?;
            let (id, token) = read_driver_file(run_dir)?;
            let info = self.api.info(&id).await.ok()??;
            if info.status != JobStatus::Running {
                return None;
            }
            let mut sessions = hub.register_with_token(&id, &token);
            match tokio::time::timeout(REATTACH_WITHIN, sessions.recv()).await {
                Ok(Some(s)) => Some((id, hub, sessions, s)),
                _ => {
                    tracing::info!(driver = %id, "the Ray driver left running did not reconnect within {REATTACH_WITHIN:?}; it is stopped");
                    hub.unregister(&id);
                    None
                }
            }
        }
        .await;
        let Some((id, hub, sessions, session)) = found else {
            self.cleanup_orphans(experiment).await;
            return Vec::new();
        };
        super::stop_experiment_jobs(&self.api, experiment, Some(&id), self.stop_wait, self.poll)
            .await;
        let alive: HashMap<(String, i64), String> = session
            .hello
            .running
            .iter()
            .map(|(t, a, token)| ((t.clone(), *a), token.clone()))
            .collect();
        let mut tasks = HashMap::new();
        let mut kept = Vec::new();
        let mut first = None;
        for l in running {
            let Some(token) = alive.get(&(l.trial.clone(), l.attempt)) else {
                continue;
            };
            let (Ok(parser), Ok(plan)) = (crate::plan::parser(&l), crate::plan::plan_running(&l))
            else {
                continue;
            };
            let log = plan.dir.join("output.log");
            let mut out = TrialOutput::new(&l, plan.log, plan.metrics_file, parser, events.clone());
            let lines_seen = out.replay(&log);
            out.note("a controller started again took this attempt back");
            tasks.insert(
                l.trial.clone(),
                Task::new(l.attempt, out, l.timeout, lines_seen),
            );
            kept.push(Reattached {
                trial: l.trial.clone(),
                attempt: l.attempt,
                token: Some(token.clone()).filter(|t| !t.is_empty()),
            });
            first.get_or_insert(l);
        }
        // What the driver runs and this controller did not take back goes.
        for (t, a, _) in &session.hello.running {
            if !kept.iter().any(|k| &k.trial == t && k.attempt == *a) {
                let _ = session.commands.send(ToDriver::Cancel {
                    trial: t.clone(),
                    attempt: *a,
                    grace: self.stop_wait,
                });
            }
        }
        let Some(first) = first else {
            // Nothing of ours runs there any more: the driver goes; a new one comes with the
            // next launch.
            let _ = session.commands.send(ToDriver::Shutdown);
            hub.unregister(&id);
            return Vec::new();
        };
        tracing::info!(driver = %id, trials = kept.len(), "took back the Ray driver left running");
        let driver = Driver {
            id,
            hub,
            sessions,
            session: Some(session),
            submitted: Instant::now(),
            alone_since: None,
            attached_once: true,
            outbox: Vec::new(),
            checked: Instant::now(),
        };
        let tx = self.spawn_actor(&first, Some(driver), tasks);
        let prefix = experiment_prefix(&first.namespace, &first.experiment, &first.run_dir);
        crate::lock(&self.actors).insert(prefix, tx.clone());
        let mut trials = crate::lock(&self.trials);
        for k in &kept {
            trials.insert(crate::trial_key(&first.namespace, &k.trial), tx.clone());
        }
        kept
    }

    pub async fn stop(&self, namespace: &str, trial: &str, grace: Duration) {
        let actor = crate::lock(&self.trials)
            .get(&crate::trial_key(namespace, trial))
            .cloned();
        if let Some(a) = actor {
            let _ = a.send(Cmd::Stop {
                trial: trial.to_string(),
                grace,
            });
        }
    }

    /// Shuts the experiment's driver down (its trials have all ended by now).
    pub async fn release(&self, experiment: &ExperimentRecord) {
        let prefix = experiment_prefix(
            &experiment.namespace,
            &experiment.name,
            std::path::Path::new(&experiment.run_dir),
        );
        let actor = crate::lock(&self.actors).remove(&prefix);
        if let Some(a) = actor {
            let (tx, rx) = oneshot::channel();
            if a.send(Cmd::Release(tx)).is_ok() {
                let _ = rx.await;
            }
        }
    }

    pub async fn cleanup_orphans(&self, experiment: &ExperimentRecord) {
        super::stop_experiment_jobs(&self.api, experiment, None, self.stop_wait, self.poll).await;
    }
}

/// The driver job of the moment.
struct Driver {
    id: String,
    hub: DriverHub,
    sessions: mpsc::UnboundedReceiver<DriverSession>,
    session: Option<DriverSession>,
    submitted: Instant,
    /// Since when it has had no connection (after it had one).
    alone_since: Option<Instant>,
    attached_once: bool,
    /// Commands waiting for a connection.
    outbox: Vec<ToDriver>,
    /// When Ray was last asked about the job (it is, once a second, while the driver has
    /// no connection).
    checked: Instant,
}

/// One attempt the driver runs.
struct Task {
    attempt: i64,
    out: TrialOutput,
    deadline: Option<Instant>,
    timeout: Option<Duration>,
    timed_out: bool,
    stopped: bool,
    /// When a cancelled attempt is given up.
    stop_until: Option<Instant>,
    /// Per replica, how many of its lines are in the log.
    lines_seen: HashMap<u32, u64>,
}

impl Task {
    /// An attempt just launched (or taken back), whose timeout counts from now.
    fn new(
        attempt: i64,
        out: TrialOutput,
        timeout: Option<Duration>,
        lines_seen: HashMap<u32, u64>,
    ) -> Self {
        Task {
            attempt,
            out,
            deadline: timeout.map(|t| Instant::now() + t),
            timeout,
            timed_out: false,
            stopped: false,
            stop_until: None,
            lines_seen,
        }
    }
}

enum Wake {
    Message(Option<FromDriver>),
    Session(DriverSession),
}

/// The driver's next message, or its next connection; never, without a driver.
async fn wait_driver(driver: &mut Option<Driver>) -> Wake {
    let Some(d) = driver.as_mut() else {
        return std::future::pending().await;
    };
    let next_session = async {
        match d.sessions.recv().await {
            Some(s) => s,
            // Unregistered: no more connections.
            None => std::future::pending().await,
        }
    };
    match d.session.as_mut() {
        Some(s) => tokio::select! {
            m = s.messages.recv() => Wake::Message(m),
            n = next_session => Wake::Session(n),
        },
        None => Wake::Session(next_session.await),
    }
}

struct DriverActor {
    api: JobApi,
    prefix: String,
    experiment: String,
    namespace: String,
    run_dir: String,
    stop_wait: Duration,
    poll: Duration,
    cmds: mpsc::UnboundedReceiver<Cmd>,
    trials: Arc<Mutex<HashMap<crate::TrialKey, mpsc::UnboundedSender<Cmd>>>>,
    driver: Option<Driver>,
    tasks: HashMap<String, Task>,
    deaths: u32,
}

impl DriverActor {
    async fn run(mut self) {
        let mut tick = tokio::time::interval(self.poll);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                cmd = self.cmds.recv() => match cmd {
                    None => break,
                    Some(Cmd::Launch(p)) => self.launch(*p).await,
                    Some(Cmd::Stop { trial, grace }) => self.cancel(&trial, grace, false),
                    Some(Cmd::Release(done)) => {
                        self.shutdown().await;
                        let _ = done.send(());
                        break;
                    }
                },
                w = wait_driver(&mut self.driver) => match w {
                    Wake::Message(Some(m)) => self.on_message(m).await,
                    // The connection ended: the driver reconnects, or died (see `check`).
                    Wake::Message(None) => {
                        if let Some(d) = self.driver.as_mut() {
                            tracing::debug!(driver = %d.id, "Ray driver disconnected");
                            d.session = None;
                            d.alone_since = Some(Instant::now());
                        }
                    }
                    Wake::Session(s) => self.attached(s),
                },
                _ = tick.tick() => self.check().await,
            }
        }
    }

    fn send(&mut self, c: ToDriver) {
        let Some(d) = self.driver.as_mut() else {
            return;
        };
        match &d.session {
            Some(s) if s.commands.send(c.clone()).is_ok() => {}
            _ => d.outbox.push(c),
        }
    }

    async fn launch(&mut self, p: Pending) {
        let Pending {
            spec,
            mut out,
            timeout,
            endpoint,
            ca_file,
            hub,
        } = p;
        if self.driver.is_none()
            && let Err(e) = self.start_driver(&endpoint, ca_file.as_deref(), hub).await
        {
            self.forget(&spec.trial);
            out.note(&e);
            out.exited(ExitKind::SpawnFailed(e), false);
            return;
        }
        let trial = spec.trial.clone();
        if let Some(old) = self.tasks.remove(&trial) {
            // A new attempt while an old one is still here: the old one was given up.
            old.out.exited(
                ExitKind::Lost("superseded by a new attempt".into()),
                old.stopped,
            );
        }
        self.tasks
            .insert(trial, Task::new(spec.attempt, out, timeout, HashMap::new()));
        self.send(ToDriver::Launch(spec));
    }

    /// Submits a new driver job and registers it.
    async fn start_driver(
        &mut self,
        endpoint: &str,
        ca_file: Option<&str>,
        hub: DriverHub,
    ) -> Result<(), String> {
        let id = format!(
            "{}driver_{}",
            self.prefix,
            &ferrotune_controller::ingest::new_token()[..12]
        );
        let (token, sessions) = hub.register(&id);
        let settings = serde_json::json!({
            "endpoint": endpoint,
            "token": token,
            "driver_id": id,
            "ca_file": ca_file,
            "reconnect_for": DRIVER_RECONNECT_FOR.as_secs(),
        });
        let body = serde_json::json!({
            "entrypoint": DRIVER_ENTRYPOINT,
            "submission_id": id,
            // The driver itself takes no CPU: its trials' tasks do.
            "entrypoint_num_cpus": 0,
            "runtime_env": {"env_vars": {
                DRIVER_VAR: settings.to_string(),
                "RAY_JOB_STOP_WAIT_TIME_S": "10",
            }},
            "metadata": {
                "ferrotune.io/experiment": self.experiment,
                "ferrotune.io/namespace": self.namespace,
                "ferrotune.io/run-dir": self.run_dir,
                "ferrotune.io/driver": "true",
            },
        });
        match self.api.submit(&body).await {
            Ok(Submitted::Ok) => {}
            Ok(Submitted::Duplicate) => {
                hub.unregister(&id);
                return Err(format!(
                    "Ray refused the driver's submission id {id} as a duplicate"
                ));
            }
            Err(e) => {
                hub.unregister(&id);
                return Err(format!("submitting the Ray driver job: {e}"));
            }
        }
        tracing::info!(driver = %id, "Ray driver job submitted");
        if let Err(e) = write_driver_file(std::path::Path::new(&self.run_dir), &id, &token) {
            tracing::warn!(driver = %id, "cannot record the driver in the run folder (a restart will not take it back): {e}");
        }
        self.driver = Some(Driver {
            id,
            hub,
            sessions,
            session: None,
            submitted: Instant::now(),
            alone_since: None,
            attached_once: false,
            outbox: Vec::new(),
            checked: Instant::now(),
        });
        Ok(())
    }

    fn attached(&mut self, s: DriverSession) {
        let Some(d) = self.driver.as_mut() else {
            return;
        };
        tracing::debug!(driver = %d.id, after = ?d.submitted.elapsed(), ray = %s.hello.ray_version, "Ray driver connected");
        // What the driver still runs is sent again only if it does not know it (the
        // driver ignores launches it has): launches queued while it was away go now.
        let pending = std::mem::take(&mut d.outbox);
        for c in pending {
            let _ = s.commands.send(c);
        }
        d.session = Some(s);
        d.alone_since = None;
        d.attached_once = true;
    }

    async fn on_message(&mut self, m: FromDriver) {
        match m {
            FromDriver::Started {
                trial,
                attempt,
                node_id,
                node_ip,
            } => {
                if self.task(&trial, attempt).is_some() {
                    tracing::debug!(%trial, attempt, %node_id, %node_ip, "trial started on Ray");
                }
            }
            FromDriver::Output {
                trial,
                attempt,
                lines,
                rank,
                first_line,
            } => {
                if let Some(t) = self.task(&trial, attempt) {
                    // Lines sent again after a reconnection: keep only those not seen.
                    let mut lines = lines;
                    if let Some(first) = first_line {
                        let seen = t.lines_seen.entry(rank).or_insert(0);
                        let skip = seen.saturating_sub(first) as usize;
                        if first > *seen {
                            t.out.note(&format!(
                                "{} lines of output (replica {rank}) were lost on the way",
                                first - *seen
                            ));
                        }
                        *seen = (*seen).max(first + lines.len() as u64);
                        if skip >= lines.len() {
                            return;
                        }
                        lines.drain(..skip);
                    }
                    // Other replicas' lines go to the log, marked, and are not parsed: the
                    // metrics are rank 0's.
                    let lines: Vec<String> = if rank == 0 {
                        lines
                    } else {
                        lines
                            .into_iter()
                            .map(|l| format!("[rank {rank}] {l}"))
                            .collect()
                    };
                    let mut text = lines.join("\n");
                    text.push('\n');
                    t.out.write_raw(&text);
                    t.out.lines(lines, |_| rank != 0);
                    t.out.read_metrics_file(false).await;
                }
            }
            FromDriver::Exited {
                trial,
                attempt,
                code,
                signal,
                error,
                not_started,
            } => {
                let Some(mut t) = self.tasks.remove(&trial) else {
                    return; // an attempt given up
                };
                if t.attempt != attempt {
                    self.tasks.insert(trial, t);
                    return; // a repeat after a reconnection
                }
                self.forget(&trial);
                t.out.read_metrics_file(true).await;
                let kind = match (code, signal) {
                    _ if t.timed_out => ExitKind::TimedOut(t.timeout.unwrap_or_default()),
                    (Some(c), _) => ExitKind::Exited {
                        code: Some(c),
                        signal: None,
                    },
                    (None, Some(s)) => ExitKind::Exited {
                        code: None,
                        signal: Some(s),
                    },
                    (None, None) if t.stopped => ExitKind::Exited {
                        code: None,
                        signal: Some(nix::sys::signal::Signal::SIGTERM as i32),
                    },
                    (None, None) if not_started => ExitKind::SpawnFailed(error.clone()),
                    (None, None) => ExitKind::Lost(error.clone()),
                };
                if !error.is_empty() && !t.stopped {
                    t.out.note(&error);
                }
                t.out.exited(kind, t.stopped);
            }
        }
    }

    fn task(&mut self, trial: &str, attempt: i64) -> Option<&mut Task> {
        self.tasks.get_mut(trial).filter(|t| t.attempt == attempt)
    }

    fn forget(&self, trial: &str) {
        crate::lock(&self.trials).remove(&crate::trial_key(&self.namespace, trial));
    }

    fn cancel(&mut self, trial: &str, grace: Duration, timed_out: bool) {
        let Some(t) = self.tasks.get_mut(trial) else {
            return;
        };
        if t.stop_until.is_some() {
            return;
        }
        if timed_out {
            t.timed_out = true;
        } else {
            t.stopped = true;
        }
        t.stop_until = Some(Instant::now() + grace + STOP_SLACK);
        let attempt = t.attempt;
        self.send(ToDriver::Cancel {
            trial: trial.to_string(),
            attempt,
            grace,
        });
    }

    /// Timeouts, given-up cancels, and a driver that never connected or has died.
    async fn check(&mut self) {
        let now = Instant::now();
        let timed_out: Vec<String> = self
            .tasks
            .iter()
            .filter(|(_, t)| t.deadline.is_some_and(|d| now > d) && t.stop_until.is_none())
            .map(|(n, _)| n.clone())
            .collect();
        for n in timed_out {
            self.cancel(&n, self.stop_wait, true);
        }
        let given_up: Vec<(String, Task)> = self
            .tasks
            .extract_if(|_, t| t.stop_until.is_some_and(|u| now > u))
            .collect();
        for (n, mut t) in given_up {
            self.forget(&n);
            t.out
                .note("the trial's Ray task had not ended after its stop; it is left to Ray");
            let kind = if t.timed_out {
                ExitKind::TimedOut(t.timeout.unwrap_or_default())
            } else {
                ExitKind::Exited {
                    code: None,
                    signal: None,
                }
            };
            t.out.exited(kind, t.stopped);
        }
        for t in self.tasks.values_mut() {
            t.out.read_metrics_file(false).await;
        }
        // A driver without a connection: is its job still there?
        let Some(d) = self.driver.as_mut() else {
            return;
        };
        if d.session.is_some() || d.checked.elapsed() < Duration::from_secs(1) {
            return;
        }
        d.checked = Instant::now();
        let status = match self.api.info(&d.id).await {
            Ok(Some(i)) => Some((i.status, i.message.unwrap_or_default())),
            Ok(None) => Some((JobStatus::Failed, "the job no longer exists".into())),
            Err(e) => {
                tracing::debug!(driver = %d.id, "Ray status: {e}");
                None
            }
        };
        let ended = status
            .as_ref()
            .filter(|(s, _)| s.is_terminal())
            .map(|(s, m)| format!("the Ray driver job {} ended ({s:?}: {m})", d.id));
        let why = match (ended, d.attached_once) {
            (Some(why), _) => Some(why),
            (None, false) if d.submitted.elapsed() > ATTACH_WITHIN => Some(format!(
                "the Ray driver job {} did not connect back to the controller within {ATTACH_WITHIN:?}: is the endpoint it was given reachable from the cluster (--reports-listen, --advertise)?",
                d.id
            )),
            (None, true) if d.alone_since.is_some_and(|t| t.elapsed() > LOST_AFTER) => {
                Some(format!("lost the Ray driver {} for {LOST_AFTER:?}", d.id))
            }
            _ => None,
        };
        if let Some(why) = why {
            self.driver_gone(why).await;
        }
    }

    /// The driver is gone (or given up): its attempts end, a new one starts with the next
    /// launch.
    async fn driver_gone(&mut self, why: String) {
        let Some(d) = self.driver.take() else {
            return;
        };
        d.hub.unregister(&d.id);
        let logs = self.api.logs(&d.id).await.unwrap_or_default();
        let _ = self.api.stop(&d.id).await;
        let last: Vec<&str> = logs.lines().rev().take(5).collect();
        let detail = if last.is_empty() {
            String::new()
        } else {
            format!(
                "; its last lines:\n{}",
                last.into_iter().rev().collect::<Vec<_>>().join("\n")
            )
        };
        tracing::warn!(driver = %d.id, "{why}{detail}");
        if d.attached_once {
            self.deaths += 1;
        }
        let interrupt = d.attached_once && self.deaths <= DRIVER_DEATHS;
        for (n, mut t) in std::mem::take(&mut self.tasks) {
            self.forget(&n);
            t.out.note(&why);
            let kind = if t.stopped {
                ExitKind::Exited {
                    code: None,
                    signal: None,
                }
            } else if interrupt {
                ExitKind::Interrupted(why.clone())
            } else if d.attached_once {
                ExitKind::Lost(format!("{why}{detail}"))
            } else {
                ExitKind::SpawnFailed(format!("{why}{detail}"))
            };
            t.out.exited(kind, t.stopped);
        }
    }

    /// Tells the driver to end and waits (briefly) until its job has.
    async fn shutdown(&mut self) {
        let Some(d) = self.driver.take() else {
            return;
        };
        let _ = std::fs::remove_file(std::path::Path::new(&self.run_dir).join(DRIVER_FILE));
        if let Some(s) = &d.session {
            let _ = s.commands.send(ToDriver::Shutdown);
        }
        d.hub.unregister(&d.id);
        let deadline = Instant::now() + Duration::from_secs(15);
        let mut stopped = d.session.is_none();
        if stopped {
            let _ = self.api.stop(&d.id).await;
        }
        while Instant::now() < deadline {
            match self.api.info(&d.id).await {
                Ok(Some(i)) if !i.status.is_terminal() => {}
                _ => break,
            }
            if !stopped && Instant::now() + Duration::from_secs(10) > deadline {
                let _ = self.api.stop(&d.id).await;
                stopped = true;
            }
            tokio::time::sleep(self.poll).await;
        }
        for (n, t) in std::mem::take(&mut self.tasks) {
            self.forget(&n);
            let stopped = t.stopped;
            t.out.exited(
                ExitKind::Lost("the experiment ended while it ran".into()),
                stopped,
            );
        }
    }
}

/// Records the experiment's driver and its token in the run folder (mode 0600).
fn write_driver_file(run_dir: &std::path::Path, id: &str, token: &str) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let tmp = run_dir.join(format!("{DRIVER_FILE}.tmp"));
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .write(true)
        .truncate(true)
        .mode(0o600)
        .open(&tmp)?;
    f.write_all(
        serde_json::json!({"driver_id": id, "token": token})
            .to_string()
            .as_bytes(),
    )?;
    drop(f);
    std::fs::rename(tmp, run_dir.join(DRIVER_FILE))
}

/// The driver and token the run folder records, if any.
fn read_driver_file(run_dir: &std::path::Path) -> Option<(String, String)> {
    let text = std::fs::read_to_string(run_dir.join(DRIVER_FILE)).ok()?;
    let v: serde_json::Value = serde_json::from_str(&text).ok()?;
    Some((
        v.get("driver_id")?.as_str()?.to_string(),
        v.get("token")?.as_str()?.to_string(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_driver_file_round_trips_and_only_its_owner_reads_it() {
        use std::os::unix::fs::PermissionsExt;
        let d = tempfile::tempdir().unwrap();
        assert_eq!(read_driver_file(d.path()), None);
        write_driver_file(d.path(), "ferrotune_a_b_1_driver_x", "secret").unwrap();
        assert_eq!(
            read_driver_file(d.path()),
            Some(("ferrotune_a_b_1_driver_x".into(), "secret".into()))
        );
        let mode = std::fs::metadata(d.path().join(DRIVER_FILE))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }
}
