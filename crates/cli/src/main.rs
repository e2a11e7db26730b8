//! `ferrotune`: run hyperparameter sweeps locally, resume them after a crash, inspect them.

mod display;
mod ops;
mod remote;

use clap::{Parser, Subcommand, ValueEnum};
use std::path::PathBuf;
use std::process::ExitCode;

/// mimalloc rather than glibc's allocator: a Katib `GetSuggestions` call with 1,000 trials
/// makes and frees some 16,000 small strings, and turning its trials into a history took
/// 0.59 ms with glibc's allocator against 0.22 ms with mimalloc. It is built without its
/// advice to use transparent huge pages (the `no_thp` feature; child processes keep the
/// machine's setting): a first call for a new experiment touches fresh heap, and each huge
/// page it faulted in was 2 MiB for the kernel to clear while the call waited. At 1,000
/// trials, 50 first calls took 3.65 ms on average in the server with huge pages and 1.96 ms
/// without (p99 end to end 26.6 and 3.97 ms; RESULTS.md, "Katib GetSuggestions latency").
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(
    name = "ferrotune",
    version,
    about = "Hyperparameter tuning: Katib-compatible experiments, run anywhere"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

/// Output formats for inspection commands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Output {
    Table,
    Json,
    Csv,
}

#[derive(clap::Args, Clone)]
pub struct DbArg {
    /// The SQLite file holding experiments (a path, or sqlite://PATH; `server` also takes postgres://…).
    #[arg(
        long,
        global = true,
        env = "FERROTUNE_DB",
        default_value = "ferrotune.db"
    )]
    db: PathBuf,
}

/// Where a server is, for the commands that talk to one (`submit`, `watch`, and `list`,
/// `show`, `trials`, `stop`, `resume`, `delete` when given).
#[derive(clap::Args, Clone, Default)]
pub struct RemoteArgs {
    /// A ferrotune server: `HOST:PORT`, `http://HOST:PORT` or `https://HOST:PORT`. Without
    /// it, commands read the local database.
    #[arg(long, global = true, env = "FERROTUNE_SERVER")]
    server: Option<String>,
    /// The token the server wants (`authorization: Bearer TOKEN`).
    #[arg(long, global = true, env = "FERROTUNE_TOKEN", hide_env_values = true)]
    token: Option<String>,
    /// The namespace (default: the token's own; an admin's default is `ferrotune`). Without
    /// a server: which of the experiments of that name, when several namespaces have one.
    #[arg(long, global = true, env = "FERROTUNE_NAMESPACE")]
    namespace: Option<String>,
    /// CA certificates (PEM) to trust for an https:// server instead of the system's.
    #[arg(long, global = true, env = "FERROTUNE_CA_FILE")]
    ca_file: Option<PathBuf>,
}

/// What `run` and `submit` may override in an experiment file.
#[derive(clap::Args, Clone)]
pub struct NewArgs {
    /// Name the experiment (overrides metadata.name).
    #[arg(long)]
    name: Option<String>,
    /// Seed of the search algorithm (overrides the random_state setting).
    #[arg(long)]
    seed: Option<u64>,
    /// Trials at once (overrides spec.parallelTrialCount).
    #[arg(long)]
    parallel: Option<u32>,
    /// Trials to finish (overrides spec.maxTrialCount).
    #[arg(long)]
    max_trials: Option<u32>,
}

/// Where trials run, for `run`, `resume`, `submit` and `server` (an experiment's
/// `spec.runner` says it too; see each option for which wins).
#[derive(clap::Args, Clone, Default)]
pub struct RunnerArgs {
    /// Where trials run: `local` processes or a `ray` cluster. For `run`, `resume` and
    /// `submit` it wins over the experiment's spec.runner (and a server's default); for
    /// `server` it is the default of experiments that say none.
    #[arg(long, value_enum)]
    runner: Option<RunnerArg>,
    /// Ray's dashboard address (http://HOST:8265), for the Ray runner (default:
    /// spec.runner.address, else the RAY_ADDRESS environment variable).
    #[arg(long)]
    ray_address: Option<String>,
    /// How trials run on Ray: `tasks` (default: one driver job per experiment runs each
    /// trial as a Ray task; it connects back to the report endpoint) or `jobs` (each trial
    /// its own Ray job).
    #[arg(long)]
    ray_mode: Option<String>,
}

impl RunnerArgs {
    /// Whether any of the options was given.
    fn said(&self) -> bool {
        self.runner.is_some() || self.ray_address.is_some() || self.ray_mode.is_some()
    }

    /// `--runner`'s value as the spec names it.
    fn kind_name(&self) -> Option<&'static str> {
        self.runner.map(|r| match r {
            RunnerArg::Local => "local",
            RunnerArg::Ray => "ray",
        })
    }
}

/// `--runner` values.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum RunnerArg {
    Local,
    Ray,
}

/// How `run` and `resume` drive trials.
#[derive(clap::Args, Clone)]
pub struct DriveArgs {
    /// Seconds between SIGTERM and SIGKILL when a trial is stopped.
    #[arg(long, default_value_t = 10.0)]
    pub grace: f64,
    /// Print the controller's own CPU time and peak memory at the end.
    #[arg(long)]
    stats: bool,
    /// Where the service trials push their metrics to listens (default: loopback, any
    /// port). Trials on other machines (a Ray cluster's nodes) need an address they can
    /// reach, with --advertise; each trial reports with a token of its own.
    #[arg(long, default_value = "127.0.0.1:0")]
    pub reports_listen: std::net::SocketAddr,
    /// The address trials are told to report to: HOST (with the listening port) or
    /// HOST:PORT (default: the listening address).
    #[arg(long)]
    pub advertise: Option<String>,
}

#[derive(Subcommand)]
enum Command {
    /// Run an experiment file until it completes (Ctrl-C leaves it resumable).
    Run {
        file: PathBuf,
        #[command(flatten)]
        new: NewArgs,
        /// Where trial directories and logs go (default: ./ferrotune-runs/NAME).
        #[arg(long)]
        run_dir: Option<PathBuf>,
        #[command(flatten)]
        drive: DriveArgs,
        #[command(flatten)]
        runner: RunnerArgs,
        #[command(flatten)]
        db: DbArg,
    },
    /// Continue an experiment that was interrupted, stopped or killed.
    Resume {
        name: String,
        /// Raise the trial limit (also continues a completed experiment).
        #[arg(long)]
        max_trials: Option<u32>,
        /// Change how many trials run at once.
        #[arg(long)]
        parallel: Option<u32>,
        #[command(flatten)]
        drive: DriveArgs,
        #[command(flatten)]
        runner: RunnerArgs,
        #[command(flatten)]
        db: DbArg,
        #[command(flatten)]
        remote: RemoteArgs,
    },
    /// Check experiment files; every problem is listed.
    Validate {
        #[arg(required = true)]
        files: Vec<PathBuf>,
        /// When this database exists, also say which experiment names it already holds
        /// (`run` would refuse them; `resume` continues them).
        #[command(flatten)]
        db: DbArg,
    },
    /// List experiments.
    List {
        #[arg(long, value_enum, default_value_t = Output::Table)]
        output: Output,
        #[command(flatten)]
        db: DbArg,
        #[command(flatten)]
        remote: RemoteArgs,
    },
    /// An experiment's status, best trial (or Pareto front) and trials.
    Show {
        name: String,
        #[arg(long, value_enum, default_value_t = Output::Table)]
        output: Output,
        #[command(flatten)]
        db: DbArg,
        #[command(flatten)]
        remote: RemoteArgs,
    },
    /// An experiment's trials.
    Trials {
        name: String,
        #[arg(long, value_enum, default_value_t = Output::Table)]
        output: Output,
        /// Only the trials on the Pareto front (multi-objective experiments).
        #[arg(long)]
        pareto: bool,
        #[command(flatten)]
        db: DbArg,
        #[command(flatten)]
        remote: RemoteArgs,
    },
    /// Stop a running experiment (its running trials are killed); resume continues it.
    Stop {
        name: String,
        #[command(flatten)]
        db: DbArg,
        #[command(flatten)]
        remote: RemoteArgs,
    },
    /// Send an experiment file to a server, which runs it (see `watch`).
    Submit {
        file: PathBuf,
        #[command(flatten)]
        new: NewArgs,
        #[command(flatten)]
        runner: RunnerArgs,
        /// Follow it until it ends (as `watch`).
        #[arg(long)]
        watch: bool,
        #[command(flatten)]
        remote: RemoteArgs,
    },
    /// Follow an experiment on a server until it ends: trials as they start and finish,
    /// then the summary (`--output json`: one JSON object per event).
    Watch {
        name: String,
        #[arg(long, value_enum, default_value_t = Output::Table)]
        output: Output,
        #[command(flatten)]
        remote: RemoteArgs,
    },
    /// Delete a finished experiment with its trials and observations.
    Delete {
        name: String,
        #[command(flatten)]
        db: DbArg,
        #[command(flatten)]
        remote: RemoteArgs,
    },
    /// Serve ferrotune: experiments submitted over gRPC run here (and resume when the
    /// server restarts), trials push metrics, Katib's Suggestion, EarlyStopping and
    /// DBManager services, health, reflection, and HTTP /healthz, /readyz, /metrics.
    Server {
        /// Address to listen on; loopback unless told otherwise.
        #[arg(long, default_value = "127.0.0.1:7700")]
        listen: std::net::SocketAddr,
        /// Tokens file (YAML: `tokens: [{token, admin: true} | {token, namespace}]`).
        #[arg(long)]
        tokens: Option<PathBuf>,
        /// Allow a non-loopback address without --tokens.
        #[arg(long)]
        insecure: bool,
        /// TLS certificate chain (PEM); with --tls-key.
        #[arg(long, requires = "tls_key")]
        tls_cert: Option<PathBuf>,
        /// TLS private key (PEM); with --tls-cert.
        #[arg(long, requires = "tls_cert")]
        tls_key: Option<PathBuf>,
        /// Certificates (PEM) trials trust to report over TLS (FERROTUNE_CA_FILE); default:
        /// --tls-cert itself, right for a self-signed certificate.
        #[arg(long, requires = "tls_cert")]
        trial_ca_file: Option<PathBuf>,
        /// Where experiments' trial directories go.
        #[arg(long, default_value = "ferrotune-runs")]
        runs_dir: PathBuf,
        /// Serve Katib's services without tokens (Katib's controller sends none; restrict
        /// who reaches them with a NetworkPolicy).
        #[arg(long)]
        katib_open: bool,
        /// Use the Kubernetes API (KUBECONFIG, ~/.kube/config or the pod's service account)
        /// for Katib's SetTrialStatus, which marks a Katib Trial EarlyStopped; without it
        /// that call answers FAILED_PRECONDITION.
        #[arg(long)]
        kube: bool,
        /// The namespace whose Katib Trials SetTrialStatus changes (default: the Kubernetes
        /// configuration's own; in a pod, the pod's, as for Katib's early-stopping service).
        #[arg(long, requires = "kube")]
        kube_namespace: Option<String>,
        /// The address trials report to: HOST (with the listening port), HOST:PORT or a
        /// URL (default: the listening address; `https://` is added under TLS).
        #[arg(long)]
        advertise: Option<String>,
        /// Seconds between SIGTERM and SIGKILL when a trial is stopped.
        #[arg(long, default_value_t = 10.0)]
        grace: f64,
        /// Observations an experiment may have waiting to be stored before its trials'
        /// reports are answered UNAVAILABLE (the SDKs retry them): bounds the server's
        /// memory when trials report faster than the database stores.
        #[arg(long, default_value_t = ferrotune_controller::ingest::DEFAULT_QUEUE_LIMIT as u64,
              value_parser = clap::value_parser!(u64).range(1..))]
        report_queue_limit: u64,
        #[command(flatten)]
        runner: RunnerArgs,
        /// SQLite file, or a postgres:// URL.
        #[command(flatten)]
        db: DbArg,
    },
}

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("FERROTUNE_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the runtime: {e}");
            return ExitCode::from(2);
        }
    };
    let result = rt.block_on(async move {
        match cli.command {
            Command::Run {
                file,
                new,
                run_dir,
                drive,
                runner,
                db,
            } => {
                let r = ops::run(ops::RunArgs {
                    file,
                    new,
                    run_dir,
                    drive: drive.clone(),
                    runner,
                    db: db.db,
                })
                .await;
                if drive.stats {
                    ops::print_stats();
                }
                r
            }
            Command::Resume {
                name,
                max_trials,
                parallel,
                remote,
                ..
            } if remote.server.is_some() => {
                remote::resume(&remote, &name, max_trials, parallel).await
            }
            Command::Resume {
                name,
                max_trials,
                parallel,
                drive,
                runner,
                db,
                remote,
            } => {
                let r = ops::resume(
                    &db.db,
                    remote.namespace.as_deref(),
                    &name,
                    max_trials,
                    parallel,
                    &drive,
                    &runner,
                )
                .await;
                if drive.stats {
                    ops::print_stats();
                }
                r
            }
            Command::Validate { files, db } => ops::validate(&files, &db.db).await,
            Command::List { output, remote, .. } if remote.server.is_some() => {
                remote::list(&remote, output).await
            }
            Command::List { output, db, .. } => ops::list(&db.db, output).await,
            Command::Show {
                name,
                output,
                remote,
                ..
            } if remote.server.is_some() => remote::show(&remote, &name, output).await,
            Command::Show {
                name,
                output,
                db,
                remote,
            } => ops::show(&db.db, remote.namespace.as_deref(), &name, output).await,
            Command::Trials {
                name,
                output,
                pareto,
                remote,
                ..
            } if remote.server.is_some() => remote::trials(&remote, &name, output, pareto).await,
            Command::Trials {
                name,
                output,
                pareto,
                db,
                remote,
            } => ops::trials(&db.db, remote.namespace.as_deref(), &name, output, pareto).await,
            Command::Stop { name, remote, .. } if remote.server.is_some() => {
                remote::stop(&remote, &name).await
            }
            Command::Stop { name, db, remote } => {
                ops::stop(&db.db, remote.namespace.as_deref(), &name).await
            }
            Command::Delete { name, remote, .. } if remote.server.is_some() => {
                remote::delete(&remote, &name).await
            }
            Command::Delete { name, db, remote } => {
                ops::delete(&db.db, remote.namespace.as_deref(), &name).await
            }
            Command::Submit {
                file,
                new,
                runner,
                watch,
                remote,
            } => remote::submit(&file, new, &runner, watch, &remote).await,
            Command::Watch {
                name,
                output,
                remote,
            } => remote::watch(&name, output, &remote).await,
            Command::Server {
                listen,
                tokens,
                insecure,
                tls_cert,
                tls_key,
                trial_ca_file,
                runs_dir,
                katib_open,
                kube,
                kube_namespace,
                advertise,
                grace,
                report_queue_limit,
                runner,
                db,
            } => {
                ops::server(ops::ServerArgs {
                    runner,
                    listen,
                    tokens,
                    insecure,
                    trial_ca_file: trial_ca_file.or_else(|| tls_cert.clone()),
                    tls: tls_cert.zip(tls_key),
                    runs_dir,
                    katib_open,
                    kube: kube.then_some(kube_namespace),
                    advertise,
                    grace,
                    report_queue_limit: usize::try_from(report_queue_limit).unwrap_or(usize::MAX),
                    db: db.db,
                })
                .await
            }
        }
    });
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(2)
        }
    }
}
