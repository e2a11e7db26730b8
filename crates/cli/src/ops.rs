//! What each command does.

use crate::Output;
use crate::display;
use anyhow::{Context, Result, anyhow, bail};
use ferrotune_controller::TrialRunner;
use ferrotune_controller::lifecycle::{self, process_alive};
use ferrotune_controller::{
    Controller, Event, Interrupt, LifecycleError, Options, Overrides, ReportHub, validate_document,
};
use ferrotune_core::load::load_str;
use ferrotune_core::placement::{RayMode, RunnerChoice, RunnerKind};
use ferrotune_core::validate::Experiment;
use ferrotune_runners::{RunnerSetting, Runners};
use ferrotune_store::{ExperimentRecord, ExperimentStatus, NewExperiment, SqliteStore, Store};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

pub struct RunArgs {
    pub file: PathBuf,
    pub new: crate::NewArgs,
    pub run_dir: Option<PathBuf>,
    pub drive: crate::DriveArgs,
    pub runner: crate::RunnerArgs,
    pub db: PathBuf,
}

/// What the command line says about the runner (`--runner`, `--ray-address`,
/// `--ray-mode`).
fn command_runner(a: &crate::RunnerArgs) -> Result<RunnerSetting> {
    let ray_mode = match &a.ray_mode {
        None => None,
        Some(m) => Some(RayMode::parse(m).map_err(|e| anyhow!("--ray-mode: {e}"))?),
    };
    Ok(RunnerSetting {
        kind: a.runner.map(|r| match r {
            crate::RunnerArg::Local => RunnerKind::Local,
            crate::RunnerArg::Ray => RunnerKind::Ray,
        }),
        ray_address: a.ray_address.clone(),
        ray_mode,
    })
}

/// `RAY_ADDRESS`, the last place a Ray address is looked for (Ray's own tools read it
/// too, sometimes as a GCS address: only used when Ray was chosen and nothing else says).
fn env_ray_address() -> RunnerSetting {
    RunnerSetting {
        ray_address: std::env::var("RAY_ADDRESS").ok().filter(|a| !a.is_empty()),
        ..Default::default()
    }
}

/// The runner for a choice: a Ray cluster must answer now, so a wrong address fails the
/// command before anything runs.
async fn connect_runner(choice: &RunnerChoice, grace: f64) -> Result<Arc<dyn TrialRunner>> {
    let runners = Runners::new(Duration::from_secs_f64(grace.max(0.0)));
    let runner = runners
        .get(choice)
        .await
        .map_err(|e| anyhow!("the {} runner: {e}", choice.kind.as_str()))?;
    if choice.kind == RunnerKind::Ray {
        let how = match choice.mode {
            RayMode::Tasks => "one driver job for the experiment, each trial a Ray task",
            RayMode::Jobs => "each trial its own Ray job",
        };
        eprintln!(
            "note: trials run on Ray at {} ({} mode: {how})",
            choice.address.as_deref().unwrap_or("?"),
            choice.mode.as_str()
        );
    }
    Ok(runner)
}

/// The file in a run folder that says where the run's report service listened.
const REPORTS_ADDR_FILE: &str = "reports.addr";

/// Exit status for an experiment file that does not validate.
const EXIT_INVALID: u8 = 1;

fn read_file(path: &Path) -> Result<ferrotune_core::load::LoadedFile> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    load_str(&text).map_err(|e| anyhow!("{}:\n{}", path.display(), indent(&e.to_string())))
}

fn indent(s: &str) -> String {
    s.lines()
        .map(|l| format!("  {l}"))
        .collect::<Vec<_>>()
        .join("\n")
}

fn describe(e: &Experiment) -> String {
    let objectives: Vec<String> = e
        .objective
        .objectives()
        .iter()
        .map(|(m, t)| format!("{} {m}", t.as_str()))
        .collect();
    format!(
        "experiment {:?} in namespace {:?}: {} of {}, algorithm {}, {} parameter{}, {} trial{} at once{}",
        e.name,
        e.namespace,
        objectives.join(" and "),
        match e.flavor {
            ferrotune_core::validate::Flavor::Katib => "a Katib trial template",
            ferrotune_core::validate::Flavor::Native => "a local command",
        },
        e.algorithm.name,
        e.space.parameters.len(),
        if e.space.parameters.len() == 1 {
            ""
        } else {
            "s"
        },
        e.parallel_trial_count,
        if e.parallel_trial_count == 1 { "" } else { "s" },
        e.max_trial_count
            .map(|m| format!(", at most {m} trials"))
            .unwrap_or_default(),
    )
}

/// `ferrotune validate FILE...`
pub async fn validate(files: &[PathBuf], db: &Path) -> Result<ExitCode> {
    // Only an existing database is consulted: validating never creates one.
    let taken: Vec<(String, String)> = if sqlite_path(db).exists() {
        match SqliteStore::open(db).await {
            Ok(store) => store
                .list_experiments()
                .await
                .map(|v| v.into_iter().map(|e| (e.namespace, e.name)).collect())
                .unwrap_or_default(),
            Err(_) => Vec::new(),
        }
    } else {
        Vec::new()
    };
    let mut ok = true;
    for f in files {
        let loaded = match read_file(f) {
            Ok(l) => l,
            Err(e) => {
                eprintln!("{e:#}");
                ok = false;
                continue;
            }
        };
        if loaded.experiments.is_empty() {
            eprintln!("{}: no Experiment in this file", f.display());
            ok = false;
        }
        let many = loaded.experiments.len() > 1;
        for doc in &loaded.experiments {
            let label = if many {
                format!("{} (document {})", f.display(), doc.index)
            } else {
                f.display().to_string()
            };
            match validate_document(doc) {
                Ok(e) => {
                    println!("{label}: valid {}", describe(&e));
                    for note in &e.notes {
                        eprintln!("note: {note}");
                    }
                    if taken.contains(&(e.namespace.clone(), e.name.clone())) {
                        eprintln!(
                            "note: {} already holds an experiment named {:?} in namespace {:?}: `run` would refuse it (use --name), `ferrotune resume {}` continues it",
                            db.display(),
                            e.name,
                            e.namespace,
                            e.name
                        );
                    }
                }
                Err(errs) => {
                    ok = false;
                    print_invalid(&label, &errs);
                }
            }
        }
    }
    Ok(if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(EXIT_INVALID)
    })
}

fn print_invalid(label: &str, errs: &[ferrotune_core::FieldError]) {
    eprintln!(
        "{label}: {} problem{}:",
        errs.len(),
        if errs.len() == 1 { "" } else { "s" }
    );
    for e in errs {
        eprintln!("  {e}");
    }
}

/// The SQLite file `--db` names: a path, or a `sqlite://PATH` URL.
fn sqlite_path(db: &Path) -> PathBuf {
    match db.to_str().and_then(|s| s.strip_prefix("sqlite://")) {
        Some(rest) => PathBuf::from(rest),
        None => db.to_path_buf(),
    }
}

async fn open_store(db: &Path) -> Result<Arc<SqliteStore>> {
    let db = sqlite_path(db);
    Ok(Arc::new(SqliteStore::open(&db).await.with_context(
        || format!("cannot open the database {}", db.display()),
    )?))
}

/// Prints a document's problems, or returns the error for the caller to print.
fn lifecycle_exit(label: &str, e: LifecycleError) -> Result<ExitCode> {
    match e {
        LifecycleError::Invalid(errs) => {
            print_invalid(label, &errs);
            Ok(ExitCode::from(EXIT_INVALID))
        }
        e => Err(e.into()),
    }
}

/// `ferrotune run FILE`
pub async fn run(a: RunArgs) -> Result<ExitCode> {
    let label = a.file.display().to_string();
    let text = std::fs::read_to_string(&a.file).with_context(|| format!("cannot read {label}"))?;
    let overrides = Overrides {
        name: a.new.name.as_deref(),
        parallel: a.new.parallel,
        max_trials: a.new.max_trials,
        namespace: None,
    };
    let (doc, exp) = match lifecycle::prepare_document(&text, &label, overrides) {
        Ok(d) => d,
        Err(e) => return lifecycle_exit(&label, e),
    };
    let choice = RunnerSetting::merge(&[
        command_runner(&a.runner)?,
        exp.runner
            .as_ref()
            .map(RunnerSetting::from)
            .unwrap_or_default(),
        env_ray_address(),
    ]);
    check_advertise(&a.drive)?;
    let runner = connect_runner(&choice, a.drive.grace).await?;
    let seed = a
        .new
        .seed
        .or_else(|| ferrotune_algorithms::seed_from_settings(&exp.algorithm.settings))
        .unwrap_or_else(lifecycle::random_seed);
    let source = std::fs::canonicalize(&a.file).unwrap_or_else(|_| a.file.clone());
    let run_dir = match &a.run_dir {
        Some(d) => d.clone(),
        // Names are unique within a namespace, so the namespace is part of the folder (as
        // under a server's runs directory).
        None => PathBuf::from("ferrotune-runs")
            .join(&exp.namespace)
            .join(&exp.name),
    };
    std::fs::create_dir_all(&run_dir)
        .with_context(|| format!("cannot create the run directory {}", run_dir.display()))?;
    let run_dir = std::fs::canonicalize(&run_dir)?;
    ferrotune_runners::select::pin(&run_dir, &choice)
        .with_context(|| format!("cannot write in the run directory {}", run_dir.display()))?;
    let store = open_store(&a.db).await?;
    let record = store
        .create_experiment(NewExperiment {
            name: exp.name.clone(),
            namespace: exp.namespace.clone(),
            document: doc.raw.clone(),
            source_path: source.display().to_string(),
            run_dir: run_dir.display().to_string(),
            seed,
        })
        .await?;
    for note in &exp.notes {
        eprintln!("note: {note}");
    }
    drive(store, runner, &choice, exp, record, &a.drive).await
}

/// `ferrotune resume NAME`
pub async fn resume(
    db: &Path,
    namespace: Option<&str>,
    name: &str,
    max_trials: Option<u32>,
    parallel: Option<u32>,
    drive_args: &crate::DriveArgs,
    runner: &crate::RunnerArgs,
) -> Result<ExitCode> {
    let cli = command_runner(runner)?;
    check_advertise(drive_args)?;
    let store = open_store(db).await?;
    let mut record = find_experiment(&store, namespace, name).await?;
    let exp = match lifecycle::prepare_resume(
        store.as_ref(),
        &mut record,
        max_trials,
        parallel,
        std::process::id() as i64,
    )
    .await
    {
        Ok(e) => e,
        Err(e) => return lifecycle_exit(&format!("experiment {name}"), e),
    };
    for note in &exp.notes {
        eprintln!("note: {note}");
    }
    // Where it ran before (pinned in its run folder) unless the command line says.
    let run_dir = Path::new(&record.run_dir);
    let choice = RunnerSetting::merge(&[
        cli,
        RunnerSetting::pinned(run_dir).unwrap_or_default(),
        exp.runner
            .as_ref()
            .map(RunnerSetting::from)
            .unwrap_or_default(),
        env_ray_address(),
    ]);
    let runner = connect_runner(&choice, drive_args.grace).await?;
    if let Err(e) = ferrotune_runners::select::pin(run_dir, &choice) {
        eprintln!(
            "warning: cannot record the runner in {}: {e}",
            run_dir.display()
        );
    }
    drive(store, runner, &choice, exp, record, drive_args).await
}

/// The address trials are told to report to, for a report service listening on `local`.
fn report_endpoint(a: &crate::DriveArgs, local: std::net::SocketAddr) -> Result<String> {
    ferrotune_server::report_endpoint(local, a.advertise.as_deref(), false)
        .map_err(|e| anyhow!("--advertise: {e}"))
}

/// A bad `--advertise` fails the command before anything is recorded or started.
fn check_advertise(a: &crate::DriveArgs) -> Result<()> {
    report_endpoint(a, a.reports_listen).map(drop)
}

/// Trials on a remote Ray cluster cannot push metrics to a loopback address: the warning
/// that says so before they start, with what to do (their stdout is still collected).
fn unreachable_warning(endpoint: &str, choice: &RunnerChoice) -> Option<String> {
    let host_of = |a: &str| {
        let rest = a.split_once("://").map_or(a, |(_, r)| r);
        let hostport = rest.split('/').next().unwrap_or(rest);
        let host = match hostport.rsplit_once(':') {
            Some((h, p)) if p.parse::<u16>().is_ok() => h,
            _ => hostport,
        };
        host.trim_matches(|c| c == '[' || c == ']').to_string()
    };
    let loopback = |host: &str| {
        host == "localhost"
            || host
                .parse::<std::net::IpAddr>()
                .is_ok_and(|ip| ip.is_loopback())
    };
    let ray = choice.address.as_deref()?;
    (choice.kind == RunnerKind::Ray && loopback(&host_of(endpoint)) && !loopback(&host_of(ray)))
        .then(|| {
            format!(
                "warning: trials on the Ray cluster at {ray} push metrics to {endpoint}, which \
                 other machines cannot reach; give --reports-listen 0.0.0.0:0 --advertise \
                 THIS_HOST (stdout and file collectors work either way)"
            )
        })
}

async fn drive(
    store: Arc<SqliteStore>,
    runner: Arc<dyn TrialRunner>,
    choice: &RunnerChoice,
    exp: Experiment,
    record: ExperimentRecord,
    a: &crate::DriveArgs,
) -> Result<ExitCode> {
    let grace = a.grace;
    // What a previous run killed outright left behind (processes, Ray jobs) is taken back
    // or ended by the controller before it starts anything (`TrialRunner::reattach`).
    store
        .claim_experiment(record.id, std::process::id() as i64)
        .await?;
    let source_dir = Path::new(&record.source_path)
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("."));
    let progress = Arc::new(display::Progress::new(&exp));
    let p = progress.clone();
    let on_event = Arc::new(move |e: Event| p.on_event(e));
    // Trials push metrics (the SDK's `report`) to a report service, on loopback unless
    // told otherwise, each with its own token: the same ingestion path as the server's.
    // Without a port of its own, the address an earlier run of this experiment listened on
    // is tried first: trials (and a Ray driver) it left running report there.
    let recorded = Path::new(&record.run_dir).join(REPORTS_ADDR_FILE);
    let earlier = std::fs::read_to_string(&recorded)
        .ok()
        .and_then(|t| t.trim().parse::<std::net::SocketAddr>().ok())
        .filter(|e| a.reports_listen.port() == 0 && e.ip() == a.reports_listen.ip());
    let listener = match earlier {
        Some(e) => match tokio::net::TcpListener::bind(e).await {
            Ok(l) => Ok(l),
            Err(_) => tokio::net::TcpListener::bind(a.reports_listen).await,
        },
        None => tokio::net::TcpListener::bind(a.reports_listen).await,
    }
    .with_context(|| format!("cannot listen on {} for trial reports", a.reports_listen))?;
    let _ = std::fs::write(&recorded, format!("{}\n", listener.local_addr()?));
    let endpoint = report_endpoint(a, listener.local_addr()?)?;
    if let Some(w) = unreachable_warning(&endpoint, choice) {
        eprintln!("{w}");
    }
    let hub = ReportHub::new(endpoint);
    let (reports_done, reports_stop) = tokio::sync::oneshot::channel::<()>();
    let reports = tokio::spawn(ferrotune_server::serve_reports(
        listener,
        hub.clone(),
        async move {
            let _ = reports_stop.await;
        },
    ));
    let options = Options {
        grace: Duration::from_secs_f64(grace.max(0.0)),
        source_dir,
        reports: Some(hub),
        ..Options::default()
    };
    let (int_tx, int_rx) = tokio::sync::watch::channel(None);
    tokio::spawn(async move {
        let mut term =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = async { match term.as_mut() { Some(t) => { t.recv().await; } None => std::future::pending().await } } => {}
        }
        let _ = int_tx.send(Some(Interrupt::Interrupted));
        eprintln!(
            "stopping the running trials (they will re-run on resume); press Ctrl-C again to quit at once"
        );
        // A second Ctrl-C quits without waiting: the trials die with this process
        // (PR_SET_PDEATHSIG) and, still marked running, re-run on resume.
        if tokio::signal::ctrl_c().await.is_ok() {
            eprintln!("quitting; `ferrotune resume` continues the experiment");
            std::process::exit(130);
        }
    });
    let id = record.id;
    let name = record.name.clone();
    let kept = record.clone();
    let controller = Controller::new(
        store.clone(),
        runner.clone(),
        exp.clone(),
        record,
        options,
        on_event,
    )
    .await?;
    let outcome = controller.run(int_rx).await;
    // Before the report service goes: a Ray driver is told over it to shut down.
    runner.release(&kept).await;
    let _ = reports_done.send(());
    let _ = reports.await;
    let outcome = outcome?;
    progress.finish();
    let record = store.get_experiment(&exp.namespace, &name).await?;
    let trials = store.list_trials(id).await?;
    display::summary(&exp, &record, &trials);
    Ok(match outcome.status {
        ExperimentStatus::Succeeded => ExitCode::SUCCESS,
        ExperimentStatus::Stopped => {
            eprintln!("{}: {}", outcome.reason, outcome.message);
            ExitCode::from(130)
        }
        _ => ExitCode::from(1),
    })
}

/// The stored experiment `name`: the one in `namespace` when given, else the one of that
/// name (names are unique within a namespace only: with several, the namespace must be
/// said).
async fn find_experiment(
    store: &SqliteStore,
    namespace: Option<&str>,
    name: &str,
) -> Result<ExperimentRecord> {
    if let Some(ns) = namespace {
        return Ok(store.get_experiment(ns, name).await?);
    }
    let mut found = store.experiments_named(name).await?;
    match found.len() {
        0 => bail!("no experiment named {name:?}"),
        1 => Ok(found.remove(0)),
        _ => {
            let namespaces: Vec<&str> = found.iter().map(|r| r.namespace.as_str()).collect();
            bail!(
                "experiments named {name:?} are in namespaces {}; say which with --namespace",
                namespaces.join(", ")
            )
        }
    }
}

async fn load_experiment(
    store: &SqliteStore,
    namespace: Option<&str>,
    name: &str,
) -> Result<(ExperimentRecord, Option<Experiment>)> {
    let record = find_experiment(store, namespace, name).await?;
    let exp = lifecycle::stored_experiment(&record);
    Ok((record, exp))
}

/// `ferrotune list`
pub async fn list(db: &Path, output: Output) -> Result<ExitCode> {
    let store = open_store(db).await?;
    let mut rows = Vec::new();
    for r in store.list_experiments().await? {
        let trials = store.list_trials(r.id).await?;
        let exp = lifecycle::stored_experiment(&r);
        rows.push((r, exp, trials));
    }
    display::experiments(&rows, output);
    Ok(ExitCode::SUCCESS)
}

/// `ferrotune show NAME`
pub async fn show(
    db: &Path,
    namespace: Option<&str>,
    name: &str,
    output: Output,
) -> Result<ExitCode> {
    let store = open_store(db).await?;
    let (record, exp) = load_experiment(&store, namespace, name).await?;
    let trials = store.list_trials(record.id).await?;
    display::show(&record, exp.as_ref(), &trials, output);
    Ok(ExitCode::SUCCESS)
}

/// `ferrotune trials NAME`
pub async fn trials(
    db: &Path,
    namespace: Option<&str>,
    name: &str,
    output: Output,
    pareto: bool,
) -> Result<ExitCode> {
    let store = open_store(db).await?;
    let (record, exp) = load_experiment(&store, namespace, name).await?;
    let trials = store.list_trials(record.id).await?;
    display::trials(exp.as_ref(), &trials, output, pareto);
    Ok(ExitCode::SUCCESS)
}

/// `ferrotune stop NAME`
pub async fn stop(db: &Path, namespace: Option<&str>, name: &str) -> Result<ExitCode> {
    let store = open_store(db).await?;
    let record = find_experiment(&store, namespace, name).await?;
    if record.status.is_completed() || record.status == ExperimentStatus::Stopped {
        println!("experiment {name:?} is not running ({})", record.status);
        return Ok(ExitCode::SUCCESS);
    }
    let alive = record.owner_pid.is_some_and(process_alive);
    if alive {
        store.request_stop(record.id).await?;
        println!(
            "asked process {} to stop experiment {name:?}; `ferrotune resume {name}` continues it",
            record.owner_pid.unwrap_or_default()
        );
    } else {
        // Nobody runs it (the controller was killed): end what it left behind, where it
        // ran, and record that it is stopped.
        let spec = lifecycle::stored_experiment(&record).and_then(|e| e.runner);
        let choice = RunnerSetting::merge(&[
            RunnerSetting::pinned(Path::new(&record.run_dir)).unwrap_or_default(),
            spec.as_ref().map(RunnerSetting::from).unwrap_or_default(),
            env_ray_address(),
        ]);
        match Runners::new(Duration::from_secs(10)).get(&choice).await {
            Ok(runner) => runner.cleanup_orphans(&record).await,
            // Still recorded as stopped; what runs there is left to that cluster.
            Err(e) => eprintln!("warning: cannot end the trials it left running: {e}"),
        }
        store
            .set_experiment_status(
                record.id,
                ExperimentStatus::Stopped,
                "StoppedByUser",
                "stopped with `ferrotune stop`",
            )
            .await?;
        println!("experiment {name:?} stopped; `ferrotune resume {name}` continues it");
    }
    Ok(ExitCode::SUCCESS)
}

/// The controller's own resource use (trials excluded), for benchmarks.
pub fn print_stats() {
    use nix::sys::resource::{UsageWho, getrusage};
    if let Ok(u) = getrusage(UsageWho::RUSAGE_SELF) {
        let secs = |t: nix::sys::time::TimeVal| t.tv_sec() as f64 + t.tv_usec() as f64 / 1e6;
        eprintln!(
            "controller: cpu {:.2} s (user {:.2}, system {:.2}), peak rss {:.1} MB",
            secs(u.user_time()) + secs(u.system_time()),
            secs(u.user_time()),
            secs(u.system_time()),
            u.max_rss() as f64 / 1024.0
        );
    }
}

/// What `ferrotune server` is given.
pub struct ServerArgs {
    pub runner: crate::RunnerArgs,
    pub listen: std::net::SocketAddr,
    pub tokens: Option<PathBuf>,
    pub insecure: bool,
    pub tls: Option<(PathBuf, PathBuf)>,
    pub trial_ca_file: Option<PathBuf>,
    pub runs_dir: PathBuf,
    pub katib_open: bool,
    /// `--kube`, with `--kube-namespace` when given.
    pub kube: Option<Option<String>>,
    pub advertise: Option<String>,
    pub grace: f64,
    pub report_queue_limit: usize,
    pub db: PathBuf,
}

/// `ferrotune server`: serves until Ctrl-C or SIGTERM; running experiments are interrupted
/// (their trials re-run) and resumed when the server starts again.
pub async fn server(a: ServerArgs) -> Result<ExitCode> {
    if !ferrotune_server::is_loopback(&a.listen) && a.tokens.is_none() && !a.insecure {
        eprintln!(
            "error: --listen {} is not a loopback address; give --tokens FILE so that callers \
             must authenticate (or --insecure to serve everyone)",
            a.listen
        );
        return Ok(ExitCode::from(1));
    }
    let tokens = match &a.tokens {
        None => None,
        Some(f) => match ferrotune_server::Tokens::load(f) {
            Ok(t) => Some(Arc::new(t)),
            Err(e) => {
                eprintln!("error: --tokens {e}");
                return Ok(ExitCode::from(1));
            }
        },
    };
    let tls = match &a.tls {
        None => None,
        Some((c, k)) => Some((
            std::fs::read(c).with_context(|| format!("cannot read --tls-cert {}", c.display()))?,
            std::fs::read(k).with_context(|| format!("cannot read --tls-key {}", k.display()))?,
        )),
    };
    let kube = match a.kube {
        None => None,
        Some(namespace) => {
            match ferrotune_server::kube_trials::KubeAccess::infer(namespace).await {
                Ok(k) => Some(k),
                Err(e) => {
                    eprintln!("error: {e}");
                    return Ok(ExitCode::from(1));
                }
            }
        }
    };
    let listener = tokio::net::TcpListener::bind(a.listen)
        .await
        .with_context(|| format!("cannot listen on {}", a.listen))?;
    // A postgres:// URL selects PostgreSQL (shared by a team's server); else a SQLite file.
    let url = a.db.to_string_lossy();
    let store: Arc<dyn ferrotune_store::Store> =
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Arc::new(
                ferrotune_store::PostgresStore::open(&url)
                    .await
                    .with_context(|| format!("cannot open the database {url}"))?,
            )
        } else {
            open_store(&a.db).await?
        };
    std::fs::create_dir_all(&a.runs_dir)
        .with_context(|| format!("cannot create --runs-dir {}", a.runs_dir.display()))?;
    let runs_dir = std::fs::canonicalize(&a.runs_dir)?;
    let local = listener.local_addr()?;
    // The handlers exist before the address is announced: a stop right after start is clean.
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = signal(SignalKind::terminate())?;
    let mut interrupt = signal(SignalKind::interrupt())?;
    let scheme = if tls.is_some() { "https" } else { "http" };
    eprintln!(
        "ferrotune server listening on {scheme}://{local} (gRPC: experiments, trials, reports, Katib Suggestion, EarlyStopping and DBManager, health, reflection; HTTP: /healthz /readyz /metrics; database {}; {})",
        a.db.display(),
        if tokens.is_some() {
            "tokens required"
        } else {
            "no tokens"
        }
    );
    let shutdown = async move {
        tokio::select! {
            _ = term.recv() => {}
            _ = interrupt.recv() => {}
        }
    };
    let mut config = ferrotune_server::Config::new(store, runs_dir);
    config.tokens = tokens;
    config.tls = tls;
    config.katib_open = a.katib_open;
    config.kube = kube;
    config.advertise = a.advertise;
    config.trial_ca_file = match a.trial_ca_file {
        Some(f) => Some(
            std::fs::canonicalize(&f)
                .with_context(|| format!("--trial-ca-file {}", f.display()))?,
        ),
        None => None,
    };
    config.grace = Duration::from_secs_f64(a.grace.max(0.0));
    config.report_queue_limit = a.report_queue_limit;
    let mut default_runner = command_runner(&a.runner)?;
    if default_runner.kind == Some(RunnerKind::Ray) && default_runner.ray_address.is_none() {
        default_runner.ray_address = env_ray_address().ray_address;
    }
    config.runner = default_runner;
    ferrotune_server::serve_with(listener, config, shutdown).await?;
    Ok(ExitCode::SUCCESS)
}

/// `ferrotune delete NAME`
pub async fn delete(db: &Path, namespace: Option<&str>, name: &str) -> Result<ExitCode> {
    let store = open_store(db).await?;
    let record = find_experiment(&store, namespace, name).await?;
    if record.status == ExperimentStatus::Running && record.owner_pid.is_some_and(process_alive) {
        bail!("experiment {name:?} is running; stop it first with `ferrotune stop {name}`");
    }
    store.delete_experiment(record.id).await?;
    println!(
        "experiment {name:?} deleted (its run directory {} is left as it is)",
        record.run_dir
    );
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trials_on_a_remote_ray_cluster_are_warned_of_a_loopback_report_address() {
        let ray = |address: &str| RunnerChoice {
            kind: RunnerKind::Ray,
            address: Some(address.into()),
            mode: RayMode::default(),
        };
        let remote = ray("http://10.1.2.3:8265");
        let w = unreachable_warning("127.0.0.1:4000", &remote).unwrap();
        assert!(
            w.contains("--reports-listen") && w.contains("10.1.2.3"),
            "{w}"
        );
        assert!(unreachable_warning("https://localhost:4000", &remote).is_some());
        assert!(unreachable_warning("[::1]:4000", &remote).is_some());
        // Reachable: an address of the network, or a Ray head on this machine.
        assert!(unreachable_warning("node-7:4000", &remote).is_none());
        assert!(unreachable_warning("127.0.0.1:4000", &ray("http://127.0.0.1:8265")).is_none());
        assert!(unreachable_warning("127.0.0.1:4000", &ray("http://localhost:8265")).is_none());
        let local = RunnerChoice {
            kind: RunnerKind::Local,
            address: None,
            mode: RayMode::default(),
        };
        assert!(unreachable_warning("127.0.0.1:4000", &local).is_none());
    }
}
