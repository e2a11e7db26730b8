//! Metric ingestion through `ferrotune server`: points per second that trials push, with
//! 1, 8 and 64 trials reporting at once, into SQLite and into PostgreSQL, every point
//! counted back from the database.
//!
//! - `ingest report` is a trial: started by the server (collector Push), it connects with
//!   its `FERROTUNE_ENDPOINT`, `FERROTUNE_TRIAL` and `FERROTUNE_TOKEN`, says it is ready,
//!   waits at a start barrier (a file the bench creates once every trial is ready, so that
//!   process start-up is not measured), pushes `--points` values of `loss` at steps
//!   0, 1, 2, … through `ReportStream` in batches of 256 (`ferrotune_client::Reporter`, as
//!   the Python SDK does) or one unary `Report` each, writes its start and end times, and
//!   exits.
//! - `ingest bench` runs the cases: for each backend, mode and concurrency a fresh server
//!   (`ferrotune server`, a fresh SQLite file or PostgreSQL schema), one experiment per
//!   repetition, the rates, the count-back, then Optuna's intermediate-value reporting
//!   (`optuna_peer.py`) for the same-run peer figure, and the section of RESULTS.md.

use anyhow::{Context, Result, bail, ensure};
use clap::{Parser, Subcommand, ValueEnum};
use ferrotune_api::v1;
use ferrotune_store::{PostgresStore, SqliteStore, Store};
use serde::{Deserialize, Serialize};
use sqlx::Connection;
use std::collections::BTreeSet;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// Where the server puts the experiments this bench creates (it names no namespace).
const DEFAULT_NAMESPACE: &str = "ferrotune";

#[derive(Parser)]
#[command(about = "Metric ingestion benchmark of ferrotune server (see benches/ingest/run.sh)")]
struct Cli {
    #[command(subcommand)]
    command: Cmd,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
enum Mode {
    /// `ReportStream`, 256 reports a stream (`ferrotune_client::Reporter`).
    Stream,
    /// One unary `Report` a point.
    Unary,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
enum Backend {
    Sqlite,
    Postgres,
}

#[derive(Subcommand)]
enum Cmd {
    /// A trial: push --points values of `loss` once the barrier opens.
    Report {
        #[arg(long)]
        points: u64,
        #[arg(long, value_enum)]
        mode: Mode,
        /// The case's folder: `ready/TRIAL` is written on connecting, `go` is the barrier,
        /// `times/TRIAL` gets the start and end times.
        #[arg(long)]
        sync: PathBuf,
    },
    /// Run the benchmark.
    Bench(Box<BenchArgs>),
}

#[derive(clap::Args)]
struct BenchArgs {
    /// The `ferrotune` binary (release build).
    #[arg(long)]
    ferrotune: PathBuf,
    #[arg(
        long,
        value_enum,
        value_delimiter = ',',
        default_value = "sqlite,postgres"
    )]
    backends: Vec<Backend>,
    #[arg(
        long,
        value_enum,
        value_delimiter = ',',
        default_value = "stream,unary"
    )]
    modes: Vec<Mode>,
    #[arg(long, value_delimiter = ',', default_value = "1,8,64")]
    concurrency: Vec<u64>,
    /// Points of a stream case, shared out among its trials.
    #[arg(long, default_value_t = 1_000_000)]
    stream_points: u64,
    /// Points of a unary case, shared out among its trials.
    #[arg(long, default_value_t = 100_000)]
    unary_points: u64,
    #[arg(long, default_value_t = 3)]
    reps: usize,
    /// The PostgreSQL database; each case gets a fresh schema in it, dropped afterwards.
    #[arg(long, default_value = "postgres://postgres@127.0.0.1:5432/test")]
    postgres: String,
    /// Wait (up to --load-wait seconds) for the 1-minute load average to fall below this
    /// before each case.
    #[arg(long, default_value_t = 1.0)]
    max_load: f64,
    #[arg(long, default_value_t = 300)]
    load_wait: u64,
    /// Python with optuna, for the peer; none: no peer.
    #[arg(long)]
    python: Option<PathBuf>,
    /// Reports of the Optuna peer's one trial.
    #[arg(long, default_value_t = 2_000)]
    optuna_points: u64,
    #[arg(long, default_value = "target/ingest-bench")]
    out_dir: PathBuf,
    /// Write the section into this file (replacing its own section, else appended).
    #[arg(long)]
    results: Option<PathBuf>,
    /// The command line the section names.
    #[arg(long, default_value = "benches/ingest/run.sh")]
    invocation: String,
}

fn main() -> Result<()> {
    match Cli::parse().command {
        Cmd::Report { points, mode, sync } => tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?
            .block_on(report(points, mode, &sync)),
        Cmd::Bench(args) => tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?
            .block_on(bench(*args)),
    }
}

fn now_ns() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos() as i64)
        .unwrap_or_default()
}

/// Writes `text` to `path` whole (a temporary file renamed), so a reader never sees half.
fn write_atomic(path: &Path, text: &str) -> Result<()> {
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, text)?;
    std::fs::rename(&tmp, path)?;
    Ok(())
}

// ---------------------------------------------------------------------------------------
// The trial.

async fn report(points: u64, mode: Mode, sync: &Path) -> Result<()> {
    let env = |k: &str| std::env::var(k).with_context(|| format!("{k} is not set"));
    let endpoint = env("FERROTUNE_ENDPOINT")?;
    let trial = env("FERROTUNE_TRIAL")?;
    let token = std::env::var("FERROTUNE_TOKEN").ok();
    let conn = ferrotune_client::connect(&endpoint, token.as_deref(), None).await?;
    write_atomic(&sync.join("ready").join(&trial), "")?;
    let go = sync.join("go");
    let waited = Instant::now();
    while !go.exists() {
        ensure!(
            waited.elapsed() < Duration::from_secs(600),
            "the barrier did not open"
        );
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    let start = now_ns();
    match mode {
        Mode::Stream => {
            let mut r = ferrotune_client::Reporter::new(conn, trial.clone());
            for i in 0..points {
                r.report(Some(i as i64), &[("loss", 1.0 / (i as f64 + 1.0))])
                    .await?;
            }
            r.flush().await?;
        }
        Mode::Unary => {
            let mut client = conn.reports();
            for i in 0..points {
                // As the Reporter fills it: the trial's own clock.
                let req = v1::ReportRequest {
                    trial: trial.clone(),
                    step: Some(i as i64),
                    metrics: [("loss".to_string(), 1.0 / (i as f64 + 1.0))].into(),
                    timestamp: chrono::Utc::now()
                        .to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
                    namespace: std::env::var("FERROTUNE_NAMESPACE").unwrap_or_default(),
                };
                let reply = client.report(req).await?.into_inner();
                ensure!(reply.accepted == 1, "report {i} not accepted: {reply:?}");
            }
        }
    }
    let end = now_ns();
    write_atomic(
        &sync.join("times").join(&trial),
        &format!("{start} {end} {points}\n"),
    )?;
    Ok(())
}

// ---------------------------------------------------------------------------------------
// The server.

struct Server {
    child: Child,
    addr: String,
}

impl Server {
    fn start(bin: &Path, db: &str, runs_dir: &Path, log: &Path) -> Result<Server> {
        let mut child = Command::new(bin)
            .args([
                "server",
                "--listen",
                "127.0.0.1:0",
                "--db",
                db,
                "--runs-dir",
            ])
            .arg(runs_dir)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .with_context(|| format!("starting {}", bin.display()))?;
        let stderr = child.stderr.take().context("no stderr")?;
        let mut lines = BufReader::new(stderr);
        let mut first = String::new();
        lines.read_line(&mut first)?;
        let addr = first
            .strip_prefix("ferrotune server listening on ")
            .and_then(|r| r.split_whitespace().next())
            .map(str::to_string);
        let Some(addr) = addr else {
            let _ = child.kill();
            bail!("the server said {first:?}, not where it listens");
        };
        // The rest of its output goes to the log.
        let mut file = std::fs::File::create(log)?;
        std::thread::spawn(move || {
            let _ = std::io::copy(&mut lines, &mut file);
        });
        Ok(Server { child, addr })
    }

    /// SIGTERM; it must exit 0. Waits without blocking the runtime, whose tasks close
    /// the client's connections (the server's graceful shutdown waits for them).
    async fn stop(mut self) -> Result<()> {
        use nix::sys::signal::{Signal, kill};
        use nix::unistd::Pid;
        kill(Pid::from_raw(self.child.id() as i32), Signal::SIGTERM)?;
        let t = Instant::now();
        let status = loop {
            if let Some(status) = self.child.try_wait()? {
                break status;
            }
            ensure!(
                t.elapsed() < Duration::from_secs(60),
                "the server did not exit within 60 s of SIGTERM"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        };
        ensure!(
            status.success(),
            "the server exited with {status} on SIGTERM"
        );
        Ok(())
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

// ---------------------------------------------------------------------------------------
// The cases.

/// One repetition of one case.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Run {
    backend: Backend,
    mode: Mode,
    concurrency: u64,
    rep: usize,
    points: u64,
    /// First trial's start to last trial's end (every report answered).
    accepted_s: f64,
    /// First trial's start to the last trial's completion time, which is set in the
    /// transaction that commits its last observations.
    committed_s: f64,
    counted: u64,
    load_before: f64,
}

impl Run {
    fn accepted_rate(&self) -> f64 {
        self.points as f64 / self.accepted_s
    }
    fn committed_rate(&self) -> f64 {
        self.points as f64 / self.committed_s
    }
}

fn load1() -> f64 {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse().ok())
        .unwrap_or(f64::NAN)
}

/// Waits for a quiet machine (up to `wait`); returns the load it starts at.
fn quiet(max: f64, wait: Duration) -> f64 {
    let t = Instant::now();
    let mut said = false;
    loop {
        let l = load1();
        if l < max || t.elapsed() >= wait {
            if l >= max {
                eprintln!("ingest: load {l:.2} is still above {max} after {wait:?}; going on");
            }
            return l;
        }
        if !said {
            eprintln!("ingest: load {l:.2}, waiting for it to fall below {max}");
            said = true;
        }
        std::thread::sleep(Duration::from_secs(5));
    }
}

fn document(name: &str, exe: &Path, c: u64, n: u64, mode: Mode, sync: &Path) -> String {
    let mode = match mode {
        Mode::Stream => "stream",
        Mode::Unary => "unary",
    };
    let command = serde_json::json!([
        exe,
        "report",
        "--points",
        n.to_string(),
        "--mode",
        mode,
        "--sync",
        sync
    ]);
    serde_json::json!({
        "apiVersion": "ferrotune.io/v1alpha1",
        "kind": "Experiment",
        "metadata": {"name": name},
        "spec": {
            "objective": {"type": "minimize", "objectiveMetricName": "loss"},
            "algorithm": {"algorithmName": "random"},
            "metricsCollectorSpec": {"collector": {"kind": "Push"}},
            "parallelTrialCount": c,
            "maxTrialCount": c,
            "parameters": [{"name": "x", "parameterType": "double",
                            "feasibleSpace": {"min": "0", "max": "1"}}],
            "trialTemplate": {"command": command},
        }
    })
    .to_string()
}

fn count_files(dir: &Path) -> usize {
    std::fs::read_dir(dir)
        .map(|d| {
            d.filter_map(|e| e.ok())
                .filter(|e| e.path().extension().is_none())
                .count()
        })
        .unwrap_or(0)
}

/// Every trial's observations, checked: `n` values of `loss` at steps 0..n, attempt 1.
async fn count_back(store: &dyn Store, name: &str, c: u64, n: u64) -> Result<u64> {
    let exp = store.get_experiment(DEFAULT_NAMESPACE, name).await?;
    let trials = store.list_trials(exp.id).await?;
    ensure!(
        trials.len() as u64 == c,
        "{name}: {} trials stored, not {c}",
        trials.len()
    );
    let mut total = 0;
    for t in &trials {
        let obs = store.observations(t.id, None).await?;
        let steps: BTreeSet<i64> = obs.iter().map(|(_, o)| o.step).collect();
        ensure!(
            obs.len() as u64 == n
                && steps.len() as u64 == n
                && steps.first() == Some(&0)
                && steps.last() == Some(&(n as i64 - 1))
                && obs.iter().all(|(a, o)| *a == 1 && o.metric == "loss"),
            "{}: {} observations stored ({} distinct steps), not steps 0..{n} of loss, \
             attempt 1",
            t.name,
            obs.len(),
            steps.len()
        );
        total += obs.len() as u64;
    }
    Ok(total)
}

#[allow(clippy::too_many_arguments)]
async fn run_once(
    args: &BenchArgs,
    conn: &ferrotune_client::Connection,
    store: &dyn Store,
    backend: Backend,
    mode: Mode,
    c: u64,
    rep: usize,
    case_dir: &Path,
    load_before: f64,
) -> Result<Run> {
    let total = match mode {
        Mode::Stream => args.stream_points,
        Mode::Unary => args.unary_points,
    };
    let n = total / c;
    ensure!(n > 0, "fewer points than trials");
    let name = format!("ingest-{mode:?}-c{c}-r{rep}").to_lowercase();
    let sync = std::path::absolute(case_dir.join(&name))?;
    let _ = std::fs::remove_dir_all(&sync);
    std::fs::create_dir_all(sync.join("ready"))?;
    std::fs::create_dir_all(sync.join("times"))?;
    let exe = std::env::current_exe()?;
    let doc = document(&name, &exe, c, n, mode, &sync);
    let mut experiments = conn.experiments();
    experiments
        .create_experiment(v1::CreateExperimentRequest {
            document: doc,
            source: format!("{name}.json"),
            ..Default::default()
        })
        .await
        .with_context(|| format!("creating {name}"))?;
    let get = || v1::ExperimentRef {
        namespace: String::new(),
        name: name.clone(),
    };
    // Every trial connected and waiting.
    let t = Instant::now();
    while (count_files(&sync.join("ready")) as u64) < c {
        let e = experiments.get_experiment(get()).await?.into_inner();
        ensure!(
            e.status == "Running" || e.status == "Created",
            "{name} is {} before its trials were ready: {} {}",
            e.status,
            e.reason,
            e.message
        );
        ensure!(
            t.elapsed() < Duration::from_secs(300),
            "{name}: trials not ready"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    write_atomic(&sync.join("go"), "")?;
    // Until it ends.
    let e = loop {
        tokio::time::sleep(Duration::from_millis(100)).await;
        let e = experiments.get_experiment(get()).await?.into_inner();
        if !matches!(e.status.as_str(), "Running" | "Created") {
            break e;
        }
        ensure!(
            t.elapsed() < Duration::from_secs(1800),
            "{name} did not end"
        );
    };
    ensure!(
        e.status == "Succeeded",
        "{name} ended {}: {} {}",
        e.status,
        e.reason,
        e.message
    );
    // The trials' own times.
    let (mut first, mut last, mut sent) = (i64::MAX, i64::MIN, 0);
    for entry in std::fs::read_dir(sync.join("times"))? {
        let path = entry?.path();
        if path.extension().is_some() {
            continue;
        }
        let text = std::fs::read_to_string(&path)?;
        let v: Vec<i64> = text
            .split_whitespace()
            .map(str::parse)
            .collect::<Result<_, _>>()
            .with_context(|| format!("{}: {text:?}", path.display()))?;
        ensure!(v.len() == 3, "{}: {text:?}", path.display());
        first = first.min(v[0]);
        last = last.max(v[1]);
        sent += v[2] as u64;
    }
    ensure!(
        sent == c * n,
        "{name}: the trials sent {sent} points, not {}",
        c * n
    );
    let exp = store.get_experiment(DEFAULT_NAMESPACE, &name).await?;
    let trials = store.list_trials(exp.id).await?;
    let mut committed = i64::MIN;
    for t in &trials {
        ensure!(
            t.status.as_str() == "Succeeded",
            "{}: {}",
            t.name,
            t.status.as_str()
        );
        let done = t
            .completion_time
            .and_then(|d| d.timestamp_nanos_opt())
            .context("a trial without a completion time")?;
        committed = committed.max(done);
    }
    let counted = count_back(store, &name, c, n).await?;
    ensure!(
        counted == c * n,
        "LOST REPORTS: {name}: {counted} observations in the database, {} sent",
        c * n
    );
    let run = Run {
        backend,
        mode,
        concurrency: c,
        rep,
        points: c * n,
        accepted_s: (last - first) as f64 / 1e9,
        committed_s: (committed - first) as f64 / 1e9,
        counted,
        load_before,
    };
    eprintln!(
        "ingest: {backend:?} {mode:?} c={c} rep {rep}: {} points, accepted {:.0}/s ({:.2} s), \
         committed {:.0}/s ({:.2} s), counted back {counted}",
        run.points,
        run.accepted_rate(),
        run.accepted_s,
        run.committed_rate(),
        run.committed_s
    );
    let _ = std::fs::remove_dir_all(&sync);
    Ok(run)
}

async fn pg_exec(url: &str, sql: String) -> Result<()> {
    let mut conn = sqlx::PgConnection::connect(url).await?;
    let r = sqlx::raw_sql(sqlx::AssertSqlSafe(sql))
        .execute(&mut conn)
        .await;
    let _ = conn.close().await;
    r?;
    Ok(())
}

async fn pg_version(url: &str) -> Result<String> {
    let mut conn = sqlx::PgConnection::connect(url).await?;
    let v: String = sqlx::query_scalar("SHOW server_version")
        .fetch_one(&mut conn)
        .await?;
    let _ = conn.close().await;
    Ok(v)
}

/// One case: a fresh server and database, `reps` experiments.
async fn case(args: &BenchArgs, backend: Backend, mode: Mode, c: u64) -> Result<Vec<Run>> {
    let tag = format!("{backend:?}-{mode:?}-c{c}").to_lowercase();
    let dir = std::path::absolute(args.out_dir.join(&tag))?;
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir)?;
    let schema = format!(
        "ferrotune_bench_ingest_{}_{}",
        std::process::id(),
        tag.replace('-', "_")
    );
    let db = match backend {
        Backend::Sqlite => dir.join("server.db").display().to_string(),
        Backend::Postgres => {
            pg_exec(
                &args.postgres,
                format!("DROP SCHEMA IF EXISTS \"{schema}\" CASCADE; CREATE SCHEMA \"{schema}\""),
            )
            .await?;
            let sep = if args.postgres.contains('?') {
                '&'
            } else {
                '?'
            };
            format!("{}{sep}options=-c%20search_path%3D{schema}", args.postgres)
        }
    };
    let result = async {
        let store: Box<dyn Store> = match backend {
            Backend::Sqlite => Box::new(SqliteStore::open(Path::new(&db)).await?),
            Backend::Postgres => {
                Box::new(PostgresStore::open_in_schema(&args.postgres, &schema).await?)
            }
        };
        let server = Server::start(
            &args.ferrotune,
            &db,
            &dir.join("runs"),
            &dir.join("server.log"),
        )?;
        let conn = ferrotune_client::connect(&server.addr, None, None).await?;
        let mut runs = Vec::new();
        for rep in 1..=args.reps {
            let load = quiet(args.max_load, Duration::from_secs(args.load_wait));
            runs.push(
                run_once(
                    args,
                    &conn,
                    store.as_ref(),
                    backend,
                    mode,
                    c,
                    rep,
                    &dir,
                    load,
                )
                .await?,
            );
        }
        // The server's graceful shutdown waits for open connections.
        drop(conn);
        server.stop().await?;
        Ok::<_, anyhow::Error>(runs)
    }
    .await;
    if backend == Backend::Postgres {
        pg_exec(
            &args.postgres,
            format!("SET lock_timeout = '20s'; DROP SCHEMA IF EXISTS \"{schema}\" CASCADE"),
        )
        .await?;
    }
    if result.is_ok() {
        let _ = std::fs::remove_dir_all(&dir);
    }
    result.with_context(|| format!("case {tag} (its files: {})", dir.display()))
}

// ---------------------------------------------------------------------------------------
// The peer and the report.

#[derive(Debug, Serialize, Deserialize)]
struct Peer {
    optuna: String,
    points: u64,
    /// Points/s of each repetition.
    rates: Vec<f64>,
}

fn optuna_peer(py: &Path, points: u64, reps: usize, dir: &Path) -> Result<Peer> {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("optuna_peer.py");
    let out = Command::new(py)
        .arg(&script)
        .args([points.to_string(), reps.to_string()])
        .arg(dir)
        .stderr(Stdio::inherit())
        .output()
        .with_context(|| format!("running {}", script.display()))?;
    ensure!(out.status.success(), "optuna_peer.py failed");
    Ok(serde_json::from_slice(&out.stdout)?)
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n == 0 {
        f64::NAN
    } else if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

fn cmd_out(cmd: &str, args: &[&str]) -> String {
    Command::new(cmd)
        .args(args)
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_else(|| "unknown".into())
}

fn thousands(x: f64) -> String {
    let s = format!("{:.0}", x);
    let (sign, digits) = s.strip_prefix('-').map_or(("", s.as_str()), |d| ("-", d));
    let mut out = String::new();
    for (i, ch) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(ch);
    }
    format!("{sign}{out}")
}

const HEADING: &str = "## Metric ingestion (points per second)";

struct Meta {
    date: String,
    commit: String,
    rustc: String,
    postgres: Option<String>,
    machine: String,
}

fn section(args: &BenchArgs, meta: &Meta, runs: &[Run], peer: Option<&Peer>) -> String {
    let mut s = String::new();
    let w = &mut s;
    use std::fmt::Write as _;
    let loads: Vec<f64> = runs.iter().map(|r| r.load_before).collect();
    let (lo, hi) = loads
        .iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), &x| {
            (a.min(x), b.max(x))
        });
    let _ = writeln!(w, "{HEADING}\n");
    let _ = writeln!(
        w,
        "Command: `{}` ({}; ferrotune 0.1.0 at commit {}, release build; {}; PostgreSQL {}; \
         {}; {}; 1-minute load average before each run {:.2}–{:.2}).\n",
        args.invocation,
        meta.date,
        meta.commit,
        meta.rustc,
        meta.postgres.as_deref().unwrap_or("not run"),
        peer.map_or("no peer".to_string(), |p| format!(
            "peer: Optuna {}",
            p.optuna
        )),
        meta.machine,
        lo,
        hi
    );
    let _ = writeln!(
        w,
        "- **Setup**: `target/release/ferrotune server --listen 127.0.0.1:0` with a fresh \
         database for each backend × mode × concurrency (a SQLite file, or a fresh PostgreSQL \
         schema on the same machine, dropped afterwards) runs one experiment per repetition: \
         collector Push, random search over one double, `parallelTrialCount` = \
         `maxTrialCount` = C. Each trial is a process of `benches/ingest` (`ingest report`) \
         that connects, waits at a start barrier the bench opens once all C trials are \
         connected (process start-up is not measured), pushes its share of the points \
         (`loss` at steps 0, 1, …), writes its start and end times and exits. Trials, server \
         and database share the 2 cores.\n\
         - **Modes**: *stream*: `ferrotune_client::Reporter` (a `ReportStream` of 256 reports \
         at a time, as the Python SDK sends them), {} points a case; *unary*: one `Report` \
         call per point, awaited before the next, {} points a case.\n\
         - **accepted/s**: points ÷ (last trial's end − first trial's start), every report \
         answered by the server. **committed/s**: points ÷ (last trial's completion time − \
         first trial's start); a trial's completion time is set in the transaction that \
         commits its last observations, and the controller commits the others every \
         200 ms, so this is the rate into the database.\n\
         - **Counted back**: after each experiment the bench opens the database \
         (`SqliteStore` / `PostgresStore`) and checks that every trial has exactly its \
         points, steps 0..n once each, attempt 1; a run fails otherwise. Every run below \
         passed: the column is the total stored over the {} repetitions.\n\
         - Figures are the median of {} repetitions.\n",
        thousands(args.stream_points as f64),
        thousands(args.unary_points as f64),
        args.reps,
        args.reps
    );
    let _ = writeln!(
        w,
        "| backend | mode | trials at once | points per run | committed/s (median) | accepted/s (median) | committed/s of each run | counted back / sent |"
    );
    let _ = writeln!(w, "|---|---|---|---|---|---|---|---|");
    let mut keys: Vec<(Backend, Mode, u64)> = Vec::new();
    for r in runs {
        let k = (r.backend, r.mode, r.concurrency);
        if !keys.contains(&k) {
            keys.push(k);
        }
    }
    let med = |k: (Backend, Mode, u64), f: fn(&Run) -> f64| {
        median(
            runs.iter()
                .filter(|r| (r.backend, r.mode, r.concurrency) == k)
                .map(f)
                .collect(),
        )
    };
    for &k in &keys {
        let rs: Vec<&Run> = runs
            .iter()
            .filter(|r| (r.backend, r.mode, r.concurrency) == k)
            .collect();
        let each: Vec<String> = rs.iter().map(|r| thousands(r.committed_rate())).collect();
        let counted: u64 = rs.iter().map(|r| r.counted).sum();
        let sent: u64 = rs.iter().map(|r| r.points).sum();
        let _ = writeln!(
            w,
            "| {} | {} | {} | {} | {} | {} | {} | {} / {} |",
            match k.0 {
                Backend::Sqlite => "SQLite",
                Backend::Postgres => "PostgreSQL",
            },
            match k.1 {
                Mode::Stream => "stream",
                Mode::Unary => "unary",
            },
            k.2,
            thousands(rs[0].points as f64),
            thousands(med(k, Run::committed_rate)),
            thousands(med(k, Run::accepted_rate)),
            each.join(", "),
            thousands(counted as f64),
            thousands(sent as f64)
        );
    }
    if let Some(p) = peer {
        let _ = writeln!(
            w,
            "\nPeer, same run: Optuna {} intermediate values into SQLite (`RDBStorage(\"sqlite:///…\")`, \
             one trial, `trial.report(value, step)` {} times, each committed): **{} points/s** \
             (median of {}: {}).",
            p.optuna,
            thousands(p.points as f64),
            thousands(median(p.rates.clone())),
            p.rates.len(),
            p.rates
                .iter()
                .map(|&r| thousands(r))
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    // Targets.
    let lowest = |backend: Backend, mode: Mode| {
        keys.iter()
            .filter(|k| k.0 == backend && k.1 == mode)
            .map(|&k| (k.2, med(k, Run::committed_rate)))
            .min_by(|a, b| a.1.total_cmp(&b.1))
    };
    let _ = writeln!(w, "\nTargets (on these 2 cores):\n");
    for (mode, target, what) in [
        (Mode::Stream, 50_000.0, "batched into SQLite"),
        (Mode::Unary, 5_000.0, "unary reports into SQLite"),
    ] {
        if let Some((c, v)) = lowest(Backend::Sqlite, mode) {
            let all: Vec<String> = keys
                .iter()
                .filter(|k| k.0 == Backend::Sqlite && k.1 == mode)
                .map(|&k| format!("{} at {}", thousands(med(k, Run::committed_rate)), k.2))
                .collect();
            let _ = writeln!(
                w,
                "- at least {} points/s {what}: **{}** ({}; the lowest, {} at {c} trials at once, \
                 committed/s)",
                thousands(target),
                if v >= target { "met" } else { "missed" },
                all.join(", "),
                thousands(v)
            );
        }
    }
    let _ = writeln!(
        w,
        "- no report lost: every run's count-back matched (a mismatch fails the run)."
    );
    s
}

fn write_section(path: &Path, text: &str) -> Result<()> {
    let old = std::fs::read_to_string(path).unwrap_or_default();
    let new = match old.find(&format!("\n{HEADING}\n")) {
        Some(at) => {
            let start = at + 1;
            let rest = &old[start + HEADING.len()..];
            let end = rest
                .find("\n## ")
                .map_or(old.len(), |e| start + HEADING.len() + e + 1);
            format!("{}{}\n{}", &old[..start], text.trim_end(), {
                let tail = &old[end..];
                if tail.is_empty() {
                    String::new()
                } else {
                    format!("\n{tail}")
                }
            })
        }
        None => {
            format!(
                "{}\n{}",
                old.trim_end_matches('\n').to_string() + "\n",
                text.trim_end()
            ) + "\n"
        }
    };
    std::fs::write(path, new)?;
    Ok(())
}

async fn bench(args: BenchArgs) -> Result<()> {
    std::fs::create_dir_all(&args.out_dir)?;
    let args = BenchArgs {
        ferrotune: std::path::absolute(&args.ferrotune)?,
        ..args
    };
    let postgres = if args.backends.contains(&Backend::Postgres) {
        Some(pg_version(&args.postgres).await.context("PostgreSQL")?)
    } else {
        None
    };
    let commit = {
        let c = cmd_out("git", &["rev-parse", "--short", "HEAD"]);
        let dirty = !cmd_out("git", &["status", "--porcelain", "--untracked-files=no"]).is_empty();
        if dirty {
            format!("{c} with uncommitted changes")
        } else {
            c
        }
    };
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines().find_map(|l| {
                l.strip_prefix("model name")
                    .map(|r| r.trim_start_matches([' ', '\t', ':']).to_string())
            })
        })
        .unwrap_or_default();
    let mem = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|s| {
            s.lines().find_map(|l| {
                l.strip_prefix("MemTotal:")?
                    .trim()
                    .strip_suffix(" kB")?
                    .parse::<f64>()
                    .ok()
            })
        })
        .map(|kb| format!("{:.0} GiB", kb / 1048576.0))
        .unwrap_or_default();
    let meta = Meta {
        date: chrono::Utc::now().format("%Y-%m-%d").to_string(),
        commit,
        rustc: cmd_out("rustc", &["--version"]),
        postgres,
        machine: format!(
            "{} cores ({cpu}), {mem}",
            std::thread::available_parallelism().map_or(0, |n| n.get())
        ),
    };
    let mut runs = Vec::new();
    for &backend in &args.backends {
        for &mode in &args.modes {
            for &c in &args.concurrency {
                runs.extend(case(&args, backend, mode, c).await?);
            }
        }
    }
    let peer = match &args.python {
        Some(py) => {
            quiet(args.max_load, Duration::from_secs(args.load_wait));
            Some(optuna_peer(
                py,
                args.optuna_points,
                args.reps,
                &args.out_dir,
            )?)
        }
        None => None,
    };
    let json = serde_json::json!({"runs": runs, "peer": peer});
    std::fs::write(
        args.out_dir.join("runs.json"),
        serde_json::to_string_pretty(&json)?,
    )?;
    let text = section(&args, &meta, &runs, peer.as_ref());
    std::fs::write(args.out_dir.join("section.md"), &text)?;
    std::io::stdout().write_all(text.as_bytes())?;
    if let Some(path) = &args.results {
        write_section(path, &text)?;
        eprintln!("ingest: wrote the section into {}", path.display());
    }
    Ok(())
}
