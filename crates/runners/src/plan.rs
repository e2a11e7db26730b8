//! What every runner does the same way before a trial starts, wherever it runs: the
//! trial's folder (log, checkpoints, metrics file), its argv and its environment
//! (`FERROTUNE_*`), and, once it runs, how output lines and metrics files become
//! observations.

use chrono::Utc;
use ferrotune_controller::{ExitKind, RunnerEvent, Started, TrialLaunch};
use ferrotune_core::metrics::{MetricParser, ObservationBuilder};
use ferrotune_core::validate::CollectorKind;
use ferrotune_core::{Observation, PARENT_LABEL};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use tokio::io::{AsyncReadExt, AsyncSeekExt};
use tokio::sync::mpsc;

/// How many lines of a trial's output a failure message quotes.
pub(crate) const TAIL_LINES: usize = 10;

/// Environment variables every trial gets; `FERROTUNE_TRIAL_DIR` doubles as the marker by
/// which a later run finds processes a crashed run left behind.
pub const ENV_TRIAL_DIR: &str = "FERROTUNE_TRIAL_DIR";

pub(crate) fn trial_dir(run_dir: &Path, trial: &str) -> PathBuf {
    run_dir.join("trials").join(trial)
}

/// Where a trial saves what a later trial may start from (PBT, Hyperband promotions):
/// `FERROTUNE_CHECKPOINT_DIR`, kept across attempts.
pub(crate) fn checkpoint_dir(run_dir: &Path, trial: &str) -> PathBuf {
    trial_dir(run_dir, trial).join("checkpoint")
}

/// Moves an earlier attempt's file aside as `NAME.attempt-N.EXT`, so that partial logs
/// of an interrupted attempt are kept apart from the new one.
pub(crate) fn keep_apart(path: &Path, previous_attempt: i64) {
    if previous_attempt < 1 || !path.exists() {
        return;
    }
    let stem = path.file_stem().and_then(|s| s.to_str()).unwrap_or("file");
    let ext = path
        .extension()
        .and_then(|s| s.to_str())
        .map(|e| format!(".{e}"))
        .unwrap_or_default();
    let aside = path.with_file_name(format!("{stem}.attempt-{previous_attempt}{ext}"));
    let _ = std::fs::rename(path, aside);
}

/// One attempt, ready to start: the same for every runner, so a trial sees the same
/// folders and environment wherever it runs.
#[derive(Debug)]
pub(crate) struct TrialPlan {
    /// The trial's own folder (`FERROTUNE_TRIAL_DIR`).
    pub dir: PathBuf,
    /// Its checkpoint folder (`FERROTUNE_CHECKPOINT_DIR`).
    pub checkpoint: PathBuf,
    /// The fresh `output.log` (an earlier attempt's is moved aside).
    pub log: std::fs::File,
    pub argv: Vec<String>,
    /// In the order to apply: a later entry wins over an earlier one of the same name.
    pub env: Vec<(String, String)>,
    pub cwd: PathBuf,
    /// A File collector's file (or directory: `true`), in the trial's folder.
    pub metrics_file: Option<(PathBuf, bool)>,
}

/// Creates the trial's folders and works out its argv, environment and working directory.
/// Reports an attempt that could not even start as its end (`ExitKind::SpawnFailed`), so
/// that a bad trial fails itself, not the experiment.
pub(crate) fn spawn_failed(
    events: &mpsc::UnboundedSender<RunnerEvent>,
    l: &TrialLaunch,
    msg: String,
) -> Started {
    let _ = events.send(RunnerEvent::Exited {
        trial: l.trial.clone(),
        attempt: l.attempt,
        kind: ExitKind::SpawnFailed(msg),
        log_tail: Vec::new(),
        stopped: false,
    });
    Started::default()
}

/// For runners that start one process per attempt: refuses `replicas` above 1, naming
/// the runner that can.
pub(crate) fn one_process(l: &TrialLaunch, runner: &str) -> Result<(), String> {
    if l.replicas > 1 {
        return Err(format!(
            "trialTemplate.replicas is {}: {runner} runs one process per trial; several (gang-scheduled, with MASTER_ADDR, RANK, WORLD_SIZE) need the Ray runner in tasks mode (--runner ray --ray-mode tasks)",
            l.replicas
        ));
    }
    Ok(())
}

/// The parser for the trial's collector settings.
pub(crate) fn parser(l: &TrialLaunch) -> Result<MetricParser, String> {
    MetricParser::new(l.collector.format, &l.collector.filters, &l.metrics)
        .map_err(|e| e.to_string())
}

/// The parser and the plan of a remote attempt; an attempt that cannot have them is
/// reported as not started, and its `Started` returned as the error.
pub(crate) fn parser_and_plan(
    l: &TrialLaunch,
    events: &mpsc::UnboundedSender<RunnerEvent>,
) -> Result<(MetricParser, TrialPlan), Started> {
    let parser = parser(l).map_err(|e| spawn_failed(events, l, e))?;
    let plan = plan(l)
        .map_err(|e| spawn_failed(events, l, format!("preparing the trial directory: {e}")))?;
    Ok((parser, plan))
}

pub(crate) fn plan(l: &TrialLaunch) -> std::io::Result<TrialPlan> {
    plan_attempt(l, true)
}

/// The plan of an attempt that is already running (a controller started again re-attached
/// to it): its `output.log` is appended to, nothing is moved aside.
pub(crate) fn plan_running(l: &TrialLaunch) -> std::io::Result<TrialPlan> {
    plan_attempt(l, false)
}

fn plan_attempt(l: &TrialLaunch, fresh: bool) -> std::io::Result<TrialPlan> {
    let dir = trial_dir(&l.run_dir, &l.trial);
    std::fs::create_dir_all(&dir)?;
    let log_path = dir.join("output.log");
    let log = if fresh {
        keep_apart(&log_path, l.attempt - 1);
        std::fs::File::create(&log_path)?
    } else {
        std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log_path)?
    };
    let checkpoint = checkpoint_dir(&l.run_dir, &l.trial);
    std::fs::create_dir_all(&checkpoint)?;

    let mut argv = l.command.argv.clone();
    let mut template_env = l.command.env.clone();
    // A File collector's path is a path inside Katib's container; here the file lives in
    // the trial's own directory, and the template's mentions of it are rewritten to match.
    let metrics_file = match &l.collector.kind {
        CollectorKind::File { path, directory } => {
            let local = dir.join(path.trim_start_matches('/'));
            if fresh {
                keep_apart(&local, l.attempt - 1);
            }
            if *directory {
                std::fs::create_dir_all(&local)?;
            } else if let Some(parent) = local.parent() {
                std::fs::create_dir_all(parent)?;
            }
            let local_s = local.to_string_lossy().to_string();
            for a in argv.iter_mut() {
                *a = a.replace(path.as_str(), &local_s);
            }
            for (_, v) in template_env.iter_mut() {
                *v = v.replace(path.as_str(), &local_s);
            }
            template_env.push(("FERROTUNE_METRICS_FILE".into(), local_s));
            Some((local, *directory))
        }
        CollectorKind::StdOut | CollectorKind::Push => None,
    };
    if argv.is_empty() {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            "empty command",
        ));
    }
    let cwd = match &l.command.working_dir {
        None => dir.clone(),
        Some(w) if Path::new(w).is_absolute() => PathBuf::from(w),
        Some(w) => l.source_dir.join(w),
    };
    // The template's env may set the report variables and the parent checkpoint (tests
    // and odd setups do), but never the trial's identity below.
    let mut env = Vec::new();
    if let Some(r) = &l.report {
        env.push(("FERROTUNE_ENDPOINT".to_string(), r.endpoint.clone()));
        env.push(("FERROTUNE_TOKEN".to_string(), r.token.clone()));
        if let Some(ca) = &r.ca_file {
            env.push(("FERROTUNE_CA_FILE".to_string(), ca.clone()));
        }
    }
    if let Some(parent) = l.labels.get(PARENT_LABEL) {
        env.push((
            "FERROTUNE_PARENT_CHECKPOINT_DIR".to_string(),
            checkpoint_dir(&l.run_dir, parent).display().to_string(),
        ));
    }
    env.extend(template_env);
    let path = |p: &Path| p.display().to_string();
    env.extend([
        ("FERROTUNE_EXPERIMENT".to_string(), l.experiment.clone()),
        ("FERROTUNE_NAMESPACE".to_string(), l.namespace.clone()),
        ("FERROTUNE_TRIAL".to_string(), l.trial.clone()),
        ("FERROTUNE_ATTEMPT".to_string(), l.attempt.to_string()),
        (ENV_TRIAL_DIR.to_string(), path(&dir)),
        (
            "FERROTUNE_PARAMS".to_string(),
            l.parameters.to_json().to_string(),
        ),
        ("FERROTUNE_CHECKPOINT_DIR".to_string(), path(&checkpoint)),
    ]);
    Ok(TrialPlan {
        dir,
        checkpoint,
        log,
        argv,
        env,
        cwd,
        metrics_file,
    })
}

/// Follows a metrics file (or a directory of them) from a byte offset.
pub(crate) struct FileFollower {
    path: PathBuf,
    directory: bool,
    offsets: HashMap<PathBuf, u64>,
    partial: HashMap<PathBuf, String>,
}

impl FileFollower {
    pub fn new(path: PathBuf, directory: bool) -> Self {
        FileFollower {
            path,
            directory,
            offsets: HashMap::new(),
            partial: HashMap::new(),
        }
    }

    pub async fn read_new(&mut self, final_read: bool) -> Vec<String> {
        let mut files = Vec::new();
        if self.directory {
            if let Ok(mut rd) = tokio::fs::read_dir(&self.path).await {
                while let Ok(Some(e)) = rd.next_entry().await {
                    if e.file_type().await.map(|t| t.is_file()).unwrap_or(false) {
                        files.push(e.path());
                    }
                }
            }
            files.sort();
        } else {
            files.push(self.path.clone());
        }
        let mut lines = Vec::new();
        for f in files {
            let Ok(mut file) = tokio::fs::File::open(&f).await else {
                continue;
            };
            let off = *self.offsets.get(&f).unwrap_or(&0);
            if file.seek(std::io::SeekFrom::Start(off)).await.is_err() {
                continue;
            }
            let mut buf = Vec::new();
            if file.read_to_end(&mut buf).await.is_err() {
                continue;
            }
            self.offsets.insert(f.clone(), off + buf.len() as u64);
            let mut text = self.partial.remove(&f).unwrap_or_default();
            text.push_str(&String::from_utf8_lossy(&buf));
            let mut rest = text.as_str();
            while let Some(i) = rest.find('\n') {
                lines.push(rest[..i].to_string());
                rest = &rest[i + 1..];
            }
            if final_read {
                if !rest.is_empty() {
                    lines.push(rest.to_string());
                }
            } else if !rest.is_empty() {
                self.partial.insert(f.clone(), rest.to_string());
            }
        }
        lines
    }
}

/// Which replica wrote a line of `output.log`, and the line as it wrote it: rank 0's
/// lines are unmarked, the others' marked `[rank K] `; `None` for ferrotune's own notes.
pub(crate) fn replica_line(line: &str) -> Option<(u32, &str)> {
    let (rank, rest) = line
        .strip_prefix("[rank ")
        .and_then(|r| r.split_once("] "))
        .and_then(|(k, rest)| Some((k.parse().ok()?, rest)))
        .unwrap_or((0, line));
    (!rest.starts_with("[ferrotune]")).then_some((rank, rest))
}

/// The observations in `lines`, by the collector's parser.
pub(crate) fn parse_lines(
    parser: &MetricParser,
    builder: &mut ObservationBuilder,
    lines: &[String],
) -> Vec<Observation> {
    let now = Utc::now();
    lines
        .iter()
        .flat_map(|line| parser.parse_line(line.trim_end_matches('\r')))
        .map(|p| builder.push(p, now))
        .collect()
}

/// A remote attempt's output as it arrives, wherever it ran: into its `output.log`, its
/// last lines kept for failure messages, parsed for metrics (StdOut collector) or its
/// metrics file followed (File collector); and its end reported, once.
pub(crate) struct TrialOutput {
    pub trial: String,
    pub attempt: i64,
    events: mpsc::UnboundedSender<RunnerEvent>,
    parse_stdout: bool,
    parser: MetricParser,
    builder: ObservationBuilder,
    log: std::io::BufWriter<std::fs::File>,
    tail: std::collections::VecDeque<String>,
    follower: Option<FileFollower>,
    file_builder: ObservationBuilder,
}

impl TrialOutput {
    pub fn new(
        l: &TrialLaunch,
        plan_log: std::fs::File,
        metrics_file: Option<(PathBuf, bool)>,
        parser: MetricParser,
        events: mpsc::UnboundedSender<RunnerEvent>,
    ) -> Self {
        TrialOutput {
            trial: l.trial.clone(),
            attempt: l.attempt,
            events,
            parse_stdout: l.collector.kind == CollectorKind::StdOut,
            parser,
            builder: ObservationBuilder::new(),
            log: std::io::BufWriter::new(plan_log),
            tail: std::collections::VecDeque::with_capacity(TAIL_LINES),
            follower: metrics_file.map(|(path, directory)| FileFollower::new(path, directory)),
            file_builder: ObservationBuilder::new(),
        }
    }

    fn send_observations(&self, observations: Vec<Observation>) {
        if !observations.is_empty() {
            let _ = self.events.send(RunnerEvent::Observations {
                trial: self.trial.clone(),
                attempt: self.attempt,
                observations,
            });
        }
    }

    /// A line of ferrotune's own in the trial's log and tail (why it ended, mostly).
    pub fn note(&mut self, text: &str) {
        use std::io::Write;
        let line = format!("[ferrotune] {text}");
        let _ = writeln!(self.log, "{line}");
        let _ = self.log.flush();
        self.push_tail(line);
    }

    fn push_tail(&mut self, line: String) {
        if self.tail.len() == TAIL_LINES {
            self.tail.pop_front();
        }
        self.tail.push_back(line.chars().take(300).collect());
    }

    /// Output as it came, for the log file only.
    pub fn write_raw(&mut self, text: &str) {
        use std::io::Write;
        let _ = self.log.write_all(text.as_bytes());
        let _ = self.log.flush();
    }

    /// Complete lines of output: parsed for metrics (all but those `foreign` says the
    /// place it ran wrote, not the trial) and kept as the tail.
    pub fn lines(&mut self, lines: Vec<String>, foreign: impl Fn(&str) -> bool) {
        if self.parse_stdout {
            let own: Vec<String> = lines.iter().filter(|l| !foreign(l)).cloned().collect();
            let obs = parse_lines(&self.parser, &mut self.builder, &own);
            self.send_observations(obs);
        }
        for l in lines {
            self.push_tail(l);
        }
    }

    /// Parses what the attempt already wrote to `output.log` (StdOut collector), for a
    /// controller that re-attaches to it: every observation again, from the first; the
    /// controller skips those it has stored. Returns, per replica, how many of its lines
    /// the log holds.
    pub fn replay(&mut self, log: &Path) -> HashMap<u32, u64> {
        let text = std::fs::read_to_string(log).unwrap_or_default();
        let mut seen = HashMap::new();
        let mut own = Vec::new();
        for (rank, line) in text.lines().filter_map(replica_line) {
            *seen.entry(rank).or_insert(0) += 1;
            if rank == 0 {
                own.push(line.to_string());
            }
        }
        if self.parse_stdout {
            let obs = parse_lines(&self.parser, &mut self.builder, &own);
            self.send_observations(obs);
        }
        for l in own {
            self.push_tail(l);
        }
        seen
    }

    /// New lines of the File collector's metrics file; `last` takes an unfinished line too.
    pub async fn read_metrics_file(&mut self, last: bool) {
        if let Some(f) = self.follower.as_mut() {
            let lines = f.read_new(last).await;
            let obs = parse_lines(&self.parser, &mut self.file_builder, &lines);
            self.send_observations(obs);
        }
    }

    /// Reports the attempt's end, with its last lines.
    pub fn exited(mut self, kind: ExitKind, stopped: bool) {
        use std::io::Write;
        let _ = self.log.flush();
        let _ = self.events.send(RunnerEvent::Exited {
            trial: self.trial.clone(),
            attempt: self.attempt,
            kind,
            log_tail: self.tail.drain(..).collect(),
            stopped,
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_log_counts_each_replicas_lines_but_not_ferrotunes_notes() {
        let text =
            "a\n[rank 1] b\n[ferrotune] note\nc\n[rank 1] d\n[rank 12] e\n[rank 1] [ferrotune] x\n";
        let mut seen: HashMap<u32, u64> = HashMap::new();
        for (rank, _) in text.lines().filter_map(replica_line) {
            *seen.entry(rank).or_insert(0) += 1;
        }
        assert_eq!(seen.get(&0), Some(&2));
        assert_eq!(seen.get(&1), Some(&2));
        assert_eq!(seen.get(&12), Some(&1));
        assert_eq!(replica_line("[rank 1] b"), Some((1, "b")));
    }
}
