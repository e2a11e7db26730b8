//! Trials as local processes: no shell, one process group each, output to a log file and
//! through the metrics parser, SIGTERM then SIGKILL to stop.

use crate::plan::{
    ENV_TRIAL_DIR, FileFollower, TAIL_LINES, TrialPlan, parse_lines, plan, trial_dir,
};
use async_trait::async_trait;
use ferrotune_controller::{ExitKind, RunnerEvent, Started, TrialLaunch, TrialRunner};
use ferrotune_core::metrics::ObservationBuilder;
use ferrotune_core::validate::CollectorKind;
use ferrotune_store::ExperimentRecord;
use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;
use std::collections::{HashMap, VecDeque};
use std::io::Write;
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, BufReader};
use tokio::sync::{mpsc, oneshot};

/// The longest line read from a trial's output at once.
const MAX_LINE: u64 = 1 << 20;
/// How often a metrics file is read while its trial runs.
const FILE_POLL: Duration = Duration::from_millis(250);

/// Runs trials as child processes of this one.
#[derive(Default)]
pub struct LocalRunner {
    running: Arc<Mutex<HashMap<crate::TrialKey, oneshot::Sender<Duration>>>>,
}

impl LocalRunner {
    pub fn new() -> Self {
        Self::default()
    }
}

struct Prepared {
    cmd: tokio::process::Command,
    reader: std::io::PipeReader,
    log: std::fs::File,
    metrics_file: Option<(PathBuf, bool)>,
}

fn prepare(l: &TrialLaunch) -> std::io::Result<Prepared> {
    let TrialPlan {
        log,
        argv,
        env,
        cwd,
        metrics_file,
        ..
    } = plan(l)?;
    let (program, args) = argv.split_first().expect("plan refuses an empty command");
    let (reader, writer) = std::io::pipe()?;
    let mut cmd = tokio::process::Command::new(program);
    cmd.args(args)
        .current_dir(&cwd)
        .stdin(Stdio::null())
        .stdout(Stdio::from(writer.try_clone()?))
        .stderr(Stdio::from(writer))
        .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .process_group(0)
        .kill_on_drop(false);
    // SAFETY: prctl is async-signal-safe; the closure allocates nothing.
    unsafe {
        cmd.pre_exec(|| {
            // If this controller dies (even by SIGKILL), the trial dies with it.
            nix::sys::prctl::set_pdeathsig(Signal::SIGKILL).map_err(std::io::Error::from)?;
            Ok(())
        });
    }
    Ok(Prepared {
        cmd,
        reader,
        log,
        metrics_file,
    })
}

fn signal_group(pgid: i32, sig: Signal) {
    if pgid > 0 {
        let _ = killpg(Pid::from_raw(pgid), sig);
    }
}

#[async_trait]
impl TrialRunner for LocalRunner {
    async fn start(&self, l: TrialLaunch, events: mpsc::UnboundedSender<RunnerEvent>) -> Started {
        let trial = l.trial.clone();
        let attempt = l.attempt;
        let spawn_failed = |msg: String| crate::plan::spawn_failed(&events, &l, msg);
        if let Err(e) = crate::plan::one_process(&l, "the local runner") {
            return spawn_failed(e);
        }
        let parser = match crate::plan::parser(&l) {
            Ok(p) => p,
            Err(e) => return spawn_failed(e),
        };
        let Prepared {
            mut cmd,
            reader,
            log,
            metrics_file,
        } = match prepare(&l) {
            Ok(p) => p,
            Err(e) => return spawn_failed(format!("preparing the trial directory: {e}")),
        };
        let spawned = cmd.spawn();
        drop(cmd); // closes our copies of the pipe's write end, so EOF can arrive
        let mut child = match spawned {
            Ok(c) => c,
            Err(e) => {
                let program = l.command.argv.first().cloned().unwrap_or_default();
                return spawn_failed(format!("{program:?}: {e}"));
            }
        };
        let pgid = child.id().map(|p| p as i32).unwrap_or(0);
        let (stop_tx, stop_rx) = oneshot::channel::<Duration>();
        let key = crate::trial_key(&l.namespace, &l.trial);
        crate::lock(&self.running).insert(key.clone(), stop_tx);
        let running = self.running.clone();
        let stdout_parses = l.collector.kind == CollectorKind::StdOut;
        let timeout = l.timeout;

        tokio::spawn(async move {
            // Output: to the log file, the tail buffer and (StdOut collector) the parser.
            let (tail_tx, tail_rx) = oneshot::channel::<VecDeque<String>>();
            let out_events = events.clone();
            let out_trial = trial.clone();
            let parser = Arc::new(parser);
            let out_parser = parser.clone();
            let reader_task = tokio::spawn(async move {
                let mut tail: VecDeque<String> = VecDeque::with_capacity(TAIL_LINES);
                let mut log = std::io::BufWriter::new(log);
                let mut builder = ObservationBuilder::new();
                if let Ok(rx) = tokio::net::unix::pipe::Receiver::from_owned_fd(reader.into()) {
                    let mut rd = BufReader::new(rx);
                    let mut buf = Vec::new();
                    loop {
                        buf.clear();
                        // A line longer than MAX_LINE (a progress bar that never prints a
                        // newline) is handled in pieces, so memory stays bounded.
                        match (&mut rd).take(MAX_LINE).read_until(b'\n', &mut buf).await {
                            Ok(0) | Err(_) => break,
                            Ok(_) => {}
                        }
                        let _ = log.write_all(&buf);
                        let line = String::from_utf8_lossy(&buf);
                        let line = line.trim_end_matches(['\n', '\r']).to_string();
                        if stdout_parses {
                            let obs =
                                parse_lines(&out_parser, &mut builder, std::slice::from_ref(&line));
                            if !obs.is_empty() {
                                let _ = out_events.send(RunnerEvent::Observations {
                                    trial: out_trial.clone(),
                                    attempt,
                                    observations: obs,
                                });
                            }
                        }
                        if tail.len() == TAIL_LINES {
                            tail.pop_front();
                        }
                        tail.push_back(line.chars().take(300).collect());
                        if rd.buffer().is_empty() {
                            let _ = log.flush();
                        }
                    }
                }
                let _ = log.flush();
                let _ = tail_tx.send(tail);
            });

            let mut follower =
                metrics_file.map(|(path, directory)| FileFollower::new(path, directory));
            let mut file_builder = ObservationBuilder::new();
            let mut poll = tokio::time::interval(FILE_POLL);
            let deadline = async {
                match timeout {
                    Some(t) => tokio::time::sleep(t).await,
                    None => std::future::pending().await,
                }
            };
            tokio::pin!(deadline);
            tokio::pin!(stop_rx);
            let mut stopped = false;
            let mut timed_out = None;
            let status = loop {
                tokio::select! {
                    st = child.wait() => break st,
                    _ = poll.tick(), if follower.is_some() => {
                        if let Some(f) = follower.as_mut() {
                            let lines = f.read_new(false).await;
                            let obs = parse_lines(&parser, &mut file_builder, &lines);
                            if !obs.is_empty() {
                                let _ = events.send(RunnerEvent::Observations { trial: trial.clone(), attempt, observations: obs });
                            }
                        }
                    }
                    grace = &mut stop_rx, if !stopped && timed_out.is_none() => {
                        stopped = true;
                        let grace = grace.unwrap_or(Duration::from_secs(10));
                        break terminate(&mut child, pgid, grace).await;
                    }
                    _ = &mut deadline, if timed_out.is_none() && !stopped => {
                        timed_out = timeout;
                        break terminate(&mut child, pgid, Duration::from_secs(5)).await;
                    }
                }
            };
            // Whatever the trial left behind in its group goes with it.
            signal_group(pgid, Signal::SIGKILL);
            crate::lock(&running).remove(&key);
            let tail = match tokio::time::timeout(Duration::from_secs(5), tail_rx).await {
                Ok(Ok(t)) => t,
                _ => {
                    reader_task.abort();
                    VecDeque::new()
                }
            };
            if let Some(f) = follower.as_mut() {
                let lines = f.read_new(true).await;
                let obs = parse_lines(&parser, &mut file_builder, &lines);
                if !obs.is_empty() {
                    let _ = events.send(RunnerEvent::Observations {
                        trial: trial.clone(),
                        attempt,
                        observations: obs,
                    });
                }
            }
            let kind = match (timed_out, status) {
                (Some(t), _) => ExitKind::TimedOut(t),
                (None, Ok(st)) => ExitKind::Exited {
                    code: st.code(),
                    signal: st.signal(),
                },
                (None, Err(e)) => ExitKind::SpawnFailed(format!("waiting for the process: {e}")),
            };
            let _ = events.send(RunnerEvent::Exited {
                trial,
                attempt,
                kind,
                log_tail: tail.into_iter().collect(),
                stopped,
            });
        });
        Started {
            pgid: Some(pgid as i64),
        }
    }

    async fn stop(&self, namespace: &str, trial: &str, grace: Duration) {
        let tx = crate::lock(&self.running).remove(&crate::trial_key(namespace, trial));
        if let Some(tx) = tx {
            let _ = tx.send(grace);
        }
    }

    async fn cleanup_orphans(&self, experiment: &ExperimentRecord) {
        let run_dir = Path::new(&experiment.run_dir);
        let marker = format!("{ENV_TRIAL_DIR}={}", trial_dir(run_dir, "").display());
        for pid in find_marked_processes(&marker) {
            let pid = Pid::from_raw(pid);
            if let Ok(pgid) = nix::unistd::getpgid(Some(pid)) {
                let _ = killpg(pgid, Signal::SIGKILL);
            }
            let _ = nix::sys::signal::kill(pid, Signal::SIGKILL);
        }
    }
}

/// SIGTERM to the group, SIGKILL after `grace`.
async fn terminate(
    child: &mut tokio::process::Child,
    pgid: i32,
    grace: Duration,
) -> std::io::Result<std::process::ExitStatus> {
    signal_group(pgid, Signal::SIGTERM);
    match tokio::time::timeout(grace, child.wait()).await {
        Ok(st) => st,
        Err(_) => {
            signal_group(pgid, Signal::SIGKILL);
            child.wait().await
        }
    }
}

/// Processes whose environment holds `marker` as a prefix of one entry.
fn find_marked_processes(marker: &str) -> Vec<i32> {
    let me = std::process::id() as i32;
    let Ok(rd) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    rd.filter_map(|e| e.ok())
        .filter_map(|e| e.file_name().to_str().and_then(|s| s.parse::<i32>().ok()))
        .filter(|pid| *pid != me)
        .filter(|pid| {
            std::fs::read(format!("/proc/{pid}/environ"))
                .map(|env| {
                    env.split(|b| *b == 0)
                        .any(|kv| kv.starts_with(marker.as_bytes()))
                })
                .unwrap_or(false)
        })
        .collect()
}
