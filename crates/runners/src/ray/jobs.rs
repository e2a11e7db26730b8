//! Jobs mode: each trial attempt is one Ray job. The job's entrypoint is the fixed
//! [`ENTRYPOINT`]; the trial's argv, environment and working directory travel as JSON in
//! its `runtime_env.env_vars` ([`TRIAL_VAR`]), and `ferrotune.ray_exec` replaces itself
//! with the trial's process, so the trial's exit status is the job's. The trial's
//! resources are the entrypoint's resource request, so Ray starts it only where (and
//! when) they are free.
//!
//! While it runs, its status and output are polled; output goes to the trial's
//! `output.log` (Ray's log, whole, every time: an offset picks the new part) and, for the
//! StdOut collector, through the metrics parser.

use super::api::{JobApi, JobInfo, JobStatus, Submitted};
use super::{ENTRYPOINT, RayConfig, STOP_SLACK, TRIAL_VAR, submission_id};
use crate::plan::{TrialOutput, TrialPlan};
use ferrotune_controller::{ExitKind, RunnerEvent, Started, TrialLaunch};
use ferrotune_core::placement::TrialResources;
use ferrotune_store::ExperimentRecord;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::{mpsc, oneshot};

/// How long Ray may stay unreachable while a trial runs before the trial is given up.
const LOST_AFTER: Duration = Duration::from_secs(120);

pub(crate) struct Jobs {
    api: JobApi,
    /// Ray's SIGTERM-to-SIGKILL wait for a stopped job, whole seconds.
    stop_wait_s: u64,
    poll: Duration,
    running: Arc<Mutex<HashMap<crate::TrialKey, oneshot::Sender<Duration>>>>,
}

impl Jobs {
    pub fn new(api: JobApi, config: &RayConfig) -> Self {
        Jobs {
            api,
            stop_wait_s: config.grace.as_secs_f64().ceil().max(1.0) as u64,
            poll: config.poll,
            running: Arc::new(Mutex::new(HashMap::new())),
        }
    }

    pub async fn start(
        &self,
        l: TrialLaunch,
        events: mpsc::UnboundedSender<RunnerEvent>,
    ) -> Started {
        if let Err(e) = crate::plan::one_process(&l, "Ray's jobs mode") {
            return crate::plan::spawn_failed(&events, &l, e);
        }
        let (parser, plan) = match crate::plan::parser_and_plan(&l, &events) {
            Ok(p) => p,
            Err(started) => return started,
        };
        let id = submission_id(&l);
        let request = job_request(&l, &plan, &id, self.stop_wait_s);
        let (stop_tx, stop_rx) = oneshot::channel::<Duration>();
        let key = crate::trial_key(&l.namespace, &l.trial);
        crate::lock(&self.running).insert(key.clone(), stop_tx);
        let job = Job {
            api: self.api.clone(),
            id,
            seen: 0,
            partial: String::new(),
            out: TrialOutput::new(&l, plan.log, plan.metrics_file, parser, events),
        };
        let running = self.running.clone();
        let poll = self.poll;
        let timeout = l.timeout;
        let stop_wait = Duration::from_secs(self.stop_wait_s);
        tokio::spawn(async move {
            job.run(request, stop_rx, timeout, poll, stop_wait).await;
            crate::lock(&running).remove(&key);
        });
        Started::default()
    }

    pub async fn stop(&self, namespace: &str, trial: &str, grace: Duration) {
        let tx = crate::lock(&self.running).remove(&crate::trial_key(namespace, trial));
        if let Some(tx) = tx {
            let _ = tx.send(grace);
        }
    }

    pub async fn cleanup_orphans(&self, experiment: &ExperimentRecord) {
        super::stop_experiment_jobs(
            &self.api,
            experiment,
            None,
            Duration::from_secs(self.stop_wait_s),
            self.poll,
        )
        .await;
    }
}

/// The body of `POST /api/jobs/` for one attempt.
fn job_request(l: &TrialLaunch, plan: &TrialPlan, id: &str, stop_wait_s: u64) -> serde_json::Value {
    // Later entries win, as in the local runner's environment.
    let mut env = serde_json::Map::new();
    for (k, v) in &plan.env {
        env.insert(k.clone(), v.clone().into());
    }
    let trial = serde_json::json!({
        "argv": plan.argv,
        "env": env,
        "cwd": plan.cwd.display().to_string(),
        // On a cluster of several machines the trial's folders are paths of the node it
        // runs on (a shared filesystem makes them the controller's too).
        "mkdirs": [plan.dir.display().to_string(), plan.checkpoint.display().to_string()],
    });
    let mut body = serde_json::json!({
        "entrypoint": ENTRYPOINT,
        "submission_id": id,
        "runtime_env": {"env_vars": {
            TRIAL_VAR: trial.to_string(),
            "RAY_JOB_STOP_WAIT_TIME_S": stop_wait_s.to_string(),
        }},
        "metadata": {
            "ferrotune.io/experiment": l.experiment,
            "ferrotune.io/namespace": l.namespace,
            "ferrotune.io/trial": l.trial,
            "ferrotune.io/attempt": l.attempt.to_string(),
            "ferrotune.io/run-dir": l.run_dir.display().to_string(),
        },
    });
    let TrialResources {
        cpu,
        gpu,
        memory,
        custom,
    } = &l.resources;
    let o = body.as_object_mut().expect("object");
    o.insert("entrypoint_num_cpus".into(), (*cpu).into());
    if *gpu > 0.0 {
        o.insert("entrypoint_num_gpus".into(), (*gpu).into());
    }
    if let Some(m) = memory {
        o.insert("entrypoint_memory".into(), (*m).into());
    }
    if !custom.is_empty() {
        o.insert(
            "entrypoint_resources".into(),
            serde_json::to_value(custom).expect("numbers"),
        );
    }
    body
}

/// Lines Ray itself writes into a job's log (its logger's `2026-01-02 03:04:05,678\tINFO
/// file.py:12 -- …` and the entrypoint header): logged and quoted, never parsed for
/// metrics.
fn is_ray_line(line: &str, id: &str) -> bool {
    let b = line.as_bytes();
    let logger = b.len() > 24
        && b[4] == b'-'
        && b[7] == b'-'
        && b[10] == b' '
        && b[13] == b':'
        && b[16] == b':'
        && b[19] == b','
        && b[23] == b'\t'
        && b[..4].iter().all(u8::is_ascii_digit);
    logger
        || line
            .strip_prefix("Running entrypoint for job ")
            .is_some_and(|r| r.starts_with(id))
}

/// One attempt's job, followed until it ends.
struct Job {
    api: JobApi,
    id: String,
    /// Bytes of Ray's log already handled.
    seen: usize,
    /// A last line without its newline yet.
    partial: String,
    out: TrialOutput,
}

impl Job {
    /// Takes the part of Ray's log not seen yet.
    fn take_logs(&mut self, logs: &str, last: bool) {
        // Ray's log only grows; a shorter one means it started again (never seen, but then
        // everything is new).
        let start = if logs.len() >= self.seen && logs.is_char_boundary(self.seen) {
            self.seen
        } else {
            0
        };
        let new = &logs[start..];
        self.seen = logs.len();
        self.out.write_raw(new);
        let mut text = std::mem::take(&mut self.partial);
        text.push_str(new);
        let mut lines: Vec<String> = Vec::new();
        let mut rest = text.as_str();
        while let Some(i) = rest.find('\n') {
            lines.push(rest[..i].trim_end_matches('\r').to_string());
            rest = &rest[i + 1..];
        }
        if last {
            if !rest.is_empty() {
                lines.push(rest.to_string());
            }
        } else {
            self.partial = rest.to_string();
        }
        let id = self.id.clone();
        self.out.lines(lines, |l| is_ray_line(l, &id));
    }

    /// Submits; a job left with the same id by an earlier instance (ended) is deleted and
    /// submitted again.
    async fn submit(&mut self, request: &serde_json::Value) -> Result<(), String> {
        for _ in 0..2 {
            match self.api.submit(request).await {
                Ok(Submitted::Ok) => return Ok(()),
                Ok(Submitted::Duplicate) => match self.api.info(&self.id).await {
                    Ok(Some(info)) if info.status.is_terminal() => {
                        self.out.note(&format!(
                            "a finished Ray job {} existed already (an experiment of the same name before?); it is deleted and submitted again",
                            self.id
                        ));
                        if let Err(e) = self.api.delete(&self.id).await {
                            return Err(e.to_string());
                        }
                    }
                    Ok(_) => {
                        return Err(format!(
                            "a Ray job with submission id {} exists already and has not ended",
                            self.id
                        ));
                    }
                    Err(e) => return Err(e.to_string()),
                },
                Err(e) => return Err(e.to_string()),
            }
        }
        Err(format!("Ray refused the submission id {} twice", self.id))
    }

    async fn run(
        mut self,
        request: serde_json::Value,
        stop_rx: oneshot::Receiver<Duration>,
        timeout: Option<Duration>,
        poll: Duration,
        stop_wait: Duration,
    ) {
        if let Err(e) = self.submit(&request).await {
            self.out.exited(ExitKind::SpawnFailed(e), false);
            return;
        }
        let submitted = Instant::now();
        let mut tick = tokio::time::interval(poll);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let deadline = async {
            match timeout {
                Some(t) => tokio::time::sleep(t).await,
                None => std::future::pending().await,
            }
        };
        tokio::pin!(deadline);
        tokio::pin!(stop_rx);
        // Asked to stop (by the controller, or by the timeout), and until when to wait.
        let mut stopped = false;
        let mut timed_out = None;
        let mut stop_until: Option<Instant> = None;
        let mut status = JobStatus::Pending;
        let mut ran = false;
        let mut failing_since: Option<Instant> = None;
        let end: Result<JobInfo, ExitKind> = loop {
            let stop_now = tokio::select! {
                _ = tick.tick() => false,
                _ = &mut stop_rx, if stop_until.is_none() => { stopped = true; true }
                _ = &mut deadline, if stop_until.is_none() => { timed_out = timeout; true }
            };
            if stop_now {
                // Ray sends SIGTERM to the trial's processes and SIGKILL after
                // RAY_JOB_STOP_WAIT_TIME_S; a job still pending is stopped when it starts.
                if let Err(e) = self.api.stop(&self.id).await {
                    self.out
                        .note(&format!("stopping the Ray job {}: {e}", self.id));
                }
                if status == JobStatus::Pending && !ran {
                    self.out.note(&format!(
                        "the Ray job {} was still pending; Ray stops it as soon as it starts",
                        self.id
                    ));
                    break Err(ExitKind::Exited {
                        code: None,
                        signal: None,
                    });
                }
                stop_until = Some(Instant::now() + stop_wait + STOP_SLACK);
                continue;
            }
            if let Some(until) = stop_until
                && Instant::now() > until
            {
                self.out.note(&format!(
                    "the Ray job {} had not ended {:?} after it was stopped; Ray's Job API has no stronger stop, so it is left to Ray",
                    self.id,
                    stop_wait + STOP_SLACK
                ));
                break Err(ExitKind::Exited {
                    code: None,
                    signal: None,
                });
            }
            let info = match self.api.info(&self.id).await {
                Ok(Some(i)) => {
                    failing_since = None;
                    i
                }
                Ok(None) => {
                    break Err(ExitKind::Lost(format!(
                        "the Ray job {} no longer exists (deleted outside ferrotune?)",
                        self.id
                    )));
                }
                Err(e) => {
                    let since = *failing_since.get_or_insert_with(Instant::now);
                    if since.elapsed() > LOST_AFTER {
                        break Err(ExitKind::Lost(format!(
                            "lost contact with Ray for {LOST_AFTER:?} while the job {} ran: {e}",
                            self.id
                        )));
                    }
                    tracing::debug!(job = %self.id, "Ray status: {e}");
                    continue;
                }
            };
            status = info.status;
            if status == JobStatus::Running && !ran {
                ran = true;
                tracing::debug!(job = %self.id, after = ?submitted.elapsed(), "Ray job running");
            }
            if status != JobStatus::Pending {
                match self.api.logs(&self.id).await {
                    Ok(text) => self.take_logs(&text, false),
                    Err(e) => tracing::debug!(job = %self.id, "Ray logs: {e}"),
                }
            }
            self.out.read_metrics_file(false).await;
            if status.is_terminal() {
                break Ok(info);
            }
        };
        // The last output: Ray's log is complete once the job has ended.
        if end.is_ok() {
            match self.api.logs(&self.id).await {
                Ok(text) => self.take_logs(&text, true),
                Err(e) => self
                    .out
                    .note(&format!("reading the job's last output: {e}")),
            }
        }
        self.out.read_metrics_file(true).await;
        let kind = match end {
            _ if timed_out.is_some() => ExitKind::TimedOut(timed_out.expect("checked")),
            Err(kind) => kind,
            Ok(info) => {
                let message = info.message.clone().unwrap_or_default();
                match (info.status, info.driver_exit_code) {
                    (JobStatus::Succeeded, code) => ExitKind::Exited {
                        code: Some(code.unwrap_or(0)),
                        signal: None,
                    },
                    (JobStatus::Failed, Some(c)) if c >= 0 => ExitKind::Exited {
                        code: Some(c),
                        signal: None,
                    },
                    (JobStatus::Failed, Some(c)) => ExitKind::Exited {
                        code: None,
                        signal: Some(-c),
                    },
                    (JobStatus::Failed, None) if !ran => {
                        ExitKind::SpawnFailed(format!("Ray job {}: {message}", self.id))
                    }
                    (JobStatus::Failed, None) => ExitKind::Lost(format!(
                        "the Ray job {} failed without an exit code: {message}",
                        self.id
                    )),
                    (JobStatus::Stopped, _) if stopped => ExitKind::Exited {
                        code: None,
                        signal: Some(nix::sys::signal::Signal::SIGTERM as i32),
                    },
                    (JobStatus::Stopped, _) => ExitKind::Lost(format!(
                        "the Ray job {} was stopped outside ferrotune ({message})",
                        self.id
                    )),
                    (JobStatus::Pending | JobStatus::Running, _) => {
                        unreachable!("the loop ends on a terminal status")
                    }
                }
            }
        };
        self.out.exited(kind, stopped);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ray_lines_are_told_apart() {
        assert!(is_ray_line(
            "2026-11-24 02:16:45,206\tINFO job_manager.py:581 -- Runtime env is setting up.",
            "j1"
        ));
        assert!(is_ray_line(
            "Running entrypoint for job j1: python3 -m ferrotune.ray_exec",
            "j1"
        ));
        assert!(!is_ray_line("loss=0.5", "j1"));
        assert!(!is_ray_line("2026-11-24T02:16:45Z loss=0.5", "j1"));
    }
}
