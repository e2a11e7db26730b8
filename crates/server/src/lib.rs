//! ferrotune's server: the native `ferrotune.v1` services (experiments run by the server
//! with the same controller as `ferrotune run`, their trials, metrics trials push),
//! Katib's `Suggestion`, `EarlyStopping` and `DBManager` services (so Katib's controller can
//! use ferrotune's algorithms, and Katib's metrics collectors its database), gRPC health
//! checking and reflection, and HTTP `/healthz`, `/readyz` and `/metrics` on the same port.

pub mod auth;
pub mod dbmanager;
pub mod drivers;
pub mod error;
pub mod katib;
pub mod kube_trials;
pub mod manager;
pub mod metrics;
pub mod native;
pub mod study;

pub use auth::{Identity, Tokens};
pub use error::ServerError;
pub use manager::Manager;

use ferrotune_api::katib::db_manager_server::DbManagerServer;
use ferrotune_api::katib::early_stopping_server::EarlyStoppingServer;
use ferrotune_api::katib::suggestion_server::SuggestionServer;
use ferrotune_api::v1::experiment_service_server::ExperimentServiceServer;
use ferrotune_api::v1::ray_driver_service_server::RayDriverServiceServer;
use ferrotune_api::v1::report_service_server::ReportServiceServer;
use ferrotune_api::v1::suggestion_service_server::SuggestionServiceServer;
use ferrotune_api::v1::trial_service_server::TrialServiceServer;
use ferrotune_controller::ReportHub;
use ferrotune_store::Store;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::net::TcpListener;

/// The server's shared maps and caches behind a mutex: every change under one is a single
/// insert, remove or update, so a holder that panicked cannot have left it half-changed,
/// and a poisoned lock is taken as it is rather than failing every later call.
pub(crate) fn lock<T>(m: &std::sync::Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Largest request accepted: a Katib GetSuggestions call carries the whole trial history
/// (about 200 bytes a trial), so 64 MiB is room for hundreds of thousands of trials.
pub const MAX_MESSAGE_BYTES: usize = 64 * 1024 * 1024;

/// HTTP/2 flow-control windows: a Katib request of 1,000 trials is about 280 kB.
const WINDOW_BYTES: u32 = 16 * 1024 * 1024;

/// Whether `addr` listens on loopback only: anything else needs tokens (or `--insecure`).
pub fn is_loopback(addr: &SocketAddr) -> bool {
    addr.ip().is_loopback()
}

/// How a server runs.
pub struct Config {
    pub store: Arc<dyn Store>,
    /// Trial directories go to `RUNS_DIR/NAMESPACE/EXPERIMENT`.
    pub runs_dir: PathBuf,
    /// `None`: every caller is an admin (loopback, or `--insecure`).
    pub tokens: Option<Arc<Tokens>>,
    /// PEM certificate chain and key: serve TLS.
    pub tls: Option<(Vec<u8>, Vec<u8>)>,
    /// Serve Katib's services without tokens (Katib's controller sends none).
    pub katib_open: bool,
    /// Time between SIGTERM and SIGKILL when a trial is stopped.
    pub grace: Duration,
    /// The address trials report to (`FERROTUNE_ENDPOINT`); default: the listener's.
    pub advertise: Option<String>,
    /// Certificates trials trust for the server's TLS endpoint (`FERROTUNE_CA_FILE`).
    pub trial_ca_file: Option<PathBuf>,
    /// Where the trials of experiments that say nothing run (`--runner`, `--ray-address`).
    pub runner: ferrotune_runners::RunnerSetting,
    /// Observations an experiment may have waiting to be stored before its trials' reports
    /// are answered UNAVAILABLE (the SDKs retry), so that reporters faster than the
    /// database cannot grow the server's memory without bound.
    pub report_queue_limit: usize,
    /// Kubernetes access for Katib's `SetTrialStatus` (`--kube`); without it the call
    /// answers FAILED_PRECONDITION.
    pub kube: Option<kube_trials::KubeAccess>,
}

impl Config {
    /// A loopback server's configuration: no tokens, no TLS.
    pub fn new(store: Arc<dyn Store>, runs_dir: PathBuf) -> Self {
        Config {
            store,
            runs_dir,
            tokens: None,
            tls: None,
            katib_open: false,
            grace: Duration::from_secs(10),
            advertise: None,
            trial_ca_file: None,
            runner: Default::default(),
            report_queue_limit: ferrotune_controller::ingest::DEFAULT_QUEUE_LIMIT,
            kube: None,
        }
    }
}

/// The address trials are told to report to (`FERROTUNE_ENDPOINT`): `advertise` when
/// given (a `HOST` alone takes the listening port; `https://` is added under TLS when it
/// names no scheme), else the listening address, loopback for an unspecified one.
pub fn report_endpoint(
    local: SocketAddr,
    advertise: Option<&str>,
    tls: bool,
) -> Result<String, String> {
    let Some(a) = advertise else {
        return Ok(reachable(local, tls));
    };
    let a = a.trim();
    if a.is_empty() || a.contains(char::is_whitespace) {
        return Err(format!(
            "{a:?} is not an address: expected HOST, HOST:PORT or a URL"
        ));
    }
    if a.contains("://") {
        return Ok(a.to_string());
    }
    // HOST:PORT (a name, IPv4, or IPv6 in brackets), or a HOST without its port.
    let hostport = if a.starts_with('[') && a.ends_with(']') {
        format!("{a}:{}", local.port())
    } else {
        match a.rsplit_once(':') {
            None => format!("{a}:{}", local.port()),
            Some((host, port)) if !host.contains(':') || host.ends_with(']') => {
                if host.is_empty() || port.parse::<u16>().is_err() {
                    return Err(format!(
                        "{a:?}: expected HOST or HOST:PORT with a port from 0 to 65535"
                    ));
                }
                a.to_string()
            }
            // An IPv6 address without brackets: it has no port.
            Some(_) => format!("[{a}]:{}", local.port()),
        }
    };
    Ok(if tls {
        format!("https://{hostport}")
    } else {
        hostport
    })
}

/// The address trials on this machine reach a listener by: a wildcard address becomes
/// loopback.
fn reachable(addr: SocketAddr, tls: bool) -> String {
    let ip = match addr.ip() {
        std::net::IpAddr::V4(v) if v.is_unspecified() => std::net::IpAddr::from([127, 0, 0, 1]),
        std::net::IpAddr::V6(v) if v.is_unspecified() => {
            std::net::IpAddr::V6(std::net::Ipv6Addr::LOCALHOST)
        }
        ip => ip,
    };
    let hostport = SocketAddr::new(ip, addr.port()).to_string();
    if tls {
        format!("https://{hostport}")
    } else {
        hostport
    }
}

/// Serves Katib's services only (no experiments run here), with `store` behind the DB
/// manager, until `shutdown` completes.
pub async fn serve(
    listener: TcpListener,
    store: Arc<dyn Store>,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> Result<(), ServerError> {
    let runs = std::env::temp_dir().join("ferrotune-server-runs");
    serve_with(listener, Config::new(store, runs), shutdown).await
}

/// Serves everything on `listener` until `shutdown` completes; experiments that were running
/// when the server last stopped are resumed first, and interrupted (to be resumed next time)
/// at the end.
pub async fn serve_with(
    listener: TcpListener,
    config: Config,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> Result<(), ServerError> {
    let local = listener
        .local_addr()
        .map_err(|e| ServerError::Internal(format!("listener: {e}")))?;
    let endpoint = report_endpoint(local, config.advertise.as_deref(), config.tls.is_some())
        .map_err(|e| ServerError::Invalid(vec![ferrotune_core::FieldError::new("advertise", e)]))?;
    let hub = ReportHub::new(endpoint).with_queue_limit(config.report_queue_limit);
    let hub = match &config.trial_ca_file {
        Some(ca) => hub.with_ca_file(ca.display().to_string()),
        None => hub,
    };
    let runners = Arc::new(ferrotune_runners::Runners::new(config.grace));
    // A default Ray cluster that does not answer fails the server at start, naming it.
    if config.runner.kind == Some(ferrotune_core::placement::RunnerKind::Ray) {
        runners
            .get(&ferrotune_runners::RunnerSetting::merge(
                std::slice::from_ref(&config.runner),
            ))
            .await
            .map_err(|e| ServerError::Unavailable(e.to_string()))?;
    }
    let manager = Manager::new(
        config.store.clone(),
        runners,
        config.runner.clone(),
        hub,
        config.runs_dir.clone(),
        config.grace,
    );
    let resumed = manager.resume_interrupted().await?;
    if !resumed.is_empty() {
        tracing::info!(?resumed, "resumed the experiments that were running");
    }
    let studies = study::Studies::start(manager.clone()).await?;
    let metrics = Arc::new(metrics::Metrics::default());
    let native = native::Native {
        manager: manager.clone(),
        metrics: metrics.clone(),
    };
    let (reporter, health) = tonic_health::server::health_reporter();
    reporter
        .set_serving::<SuggestionServer<katib::KatibSuggestion>>()
        .await;
    reporter
        .set_serving::<EarlyStoppingServer<katib::KatibEarlyStopping>>()
        .await;
    reporter
        .set_serving::<DbManagerServer<dbmanager::KatibDbManager>>()
        .await;
    reporter
        .set_serving::<ExperimentServiceServer<native::Native>>()
        .await;
    reporter
        .set_serving::<TrialServiceServer<native::Native>>()
        .await;
    reporter
        .set_serving::<ReportServiceServer<native::Reports>>()
        .await;
    reporter
        .set_serving::<SuggestionServiceServer<study::Studies>>()
        .await;
    let reflection = tonic_reflection::server::Builder::configure()
        .register_encoded_file_descriptor_set(ferrotune_api::FILE_DESCRIPTOR_SET)
        .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
        .build_v1()
        .map_err(|e| ServerError::Internal(format!("reflection: {e}")))?;
    let auth = Tokens::interceptor(config.tokens.clone());
    let katib_auth = Tokens::users_interceptor(if config.katib_open {
        None
    } else {
        config.tokens.clone()
    });
    let mut routes = tonic::service::Routes::builder();
    routes
        .add_service(health)
        .add_service(reflection)
        .add_service(tonic::service::interceptor::InterceptedService::new(
            katib::SuggestionService::new(katib::KatibSuggestion)
                .max_decoding_message_size(MAX_MESSAGE_BYTES),
            katib_auth.clone(),
        ))
        .add_service(tonic::service::interceptor::InterceptedService::new(
            EarlyStoppingServer::new(katib::KatibEarlyStopping {
                kube: config.kube.clone(),
            })
            .max_decoding_message_size(MAX_MESSAGE_BYTES),
            katib_auth.clone(),
        ))
        .add_service(tonic::service::interceptor::InterceptedService::new(
            DbManagerServer::new(dbmanager::KatibDbManager::new(config.store.clone()))
                .max_decoding_message_size(MAX_MESSAGE_BYTES),
            katib_auth,
        ))
        .add_service(tonic::service::interceptor::InterceptedService::new(
            ExperimentServiceServer::new(native.clone())
                .max_decoding_message_size(MAX_MESSAGE_BYTES),
            auth.clone(),
        ))
        .add_service(tonic::service::interceptor::InterceptedService::new(
            TrialServiceServer::new(native.clone()).max_decoding_message_size(MAX_MESSAGE_BYTES),
            auth.clone(),
        ))
        .add_service(tonic::service::interceptor::InterceptedService::new(
            SuggestionServiceServer::new(studies).max_decoding_message_size(MAX_MESSAGE_BYTES),
            auth.clone(),
        ))
        .add_service(tonic::service::interceptor::InterceptedService::new(
            ReportServiceServer::new(native::Reports {
                hub: manager.hub().clone(),
                metrics: metrics.clone(),
            })
            .max_decoding_message_size(MAX_MESSAGE_BYTES),
            auth,
        ))
        .add_service(drivers_service(manager.hub()));
    let grpc = routes.routes();
    let router = http_routes(grpc.into_axum_router(), manager.clone(), metrics);
    // Nagle's algorithm with delayed acknowledgements holds a reply for up to 40 ms; a
    // request carrying a whole trial history needs wide HTTP/2 windows to arrive in one go.
    let incoming = tonic::transport::server::TcpIncoming::from(listener).with_nodelay(Some(true));
    let mut builder = tonic::transport::Server::builder()
        .accept_http1(true)
        .initial_stream_window_size(WINDOW_BYTES)
        .initial_connection_window_size(WINDOW_BYTES);
    if let Some((cert, key)) = &config.tls {
        let identity = tonic::transport::Identity::from_pem(cert, key);
        builder = builder
            .tls_config(tonic::transport::ServerTlsConfig::new().identity(identity))
            .map_err(|e| ServerError::Internal(format!("TLS: {e}")))?;
    }
    let served = builder
        .add_routes(tonic::service::Routes::from(router))
        .serve_with_incoming_shutdown(incoming, shutdown)
        .await
        .map_err(|e| ServerError::Internal(format!("serving: {e}")));
    manager.shutdown().await;
    served
}

/// Serves only the report service over `hub`, for `ferrotune run`'s trials: each may
/// report with its own token only. Ends when `shutdown` completes.
pub async fn serve_reports(
    listener: TcpListener,
    hub: ReportHub,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> Result<(), ServerError> {
    let incoming = tonic::transport::server::TcpIncoming::from(listener).with_nodelay(Some(true));
    let reports = native::Reports {
        hub,
        metrics: Arc::new(metrics::Metrics::default()),
    };
    let drivers = drivers_service(&reports.hub);
    tonic::transport::Server::builder()
        .add_service(tonic::service::interceptor::InterceptedService::new(
            ReportServiceServer::new(reports).max_decoding_message_size(MAX_MESSAGE_BYTES),
            Tokens::interceptor(Some(Arc::new(Tokens::default()))),
        ))
        .add_service(drivers)
        .serve_with_incoming_shutdown(incoming, shutdown)
        .await
        .map_err(|e| ServerError::Internal(format!("serving reports: {e}")))
}

/// Where the Ray runner's drivers connect back; each authenticates with its own token.
fn drivers_service(hub: &ReportHub) -> RayDriverServiceServer<drivers::Drivers> {
    RayDriverServiceServer::new(drivers::Drivers {
        hub: hub.drivers().clone(),
    })
    .max_decoding_message_size(MAX_MESSAGE_BYTES)
}

/// `/healthz` (the process answers), `/readyz` (the database answers) and `/metrics`, and
/// the suggestion-latency timer around the gRPC routes.
fn http_routes(
    grpc: axum::Router,
    manager: Arc<Manager>,
    metrics: Arc<metrics::Metrics>,
) -> axum::Router {
    use axum::http::StatusCode;
    use axum::routing::get;
    let timer = metrics.clone();
    let ready = manager.clone();
    grpc.layer(axum::middleware::from_fn(
        move |req: axum::extract::Request, next: axum::middleware::Next| {
            let timer = timer.clone();
            async move {
                let path = req.uri().path();
                let timed = path.ends_with("/GetSuggestions")
                    || path == "/ferrotune.v1.SuggestionService/Ask"
                    || path == "/ferrotune.v1.SuggestionService/Suggest";
                let start = Instant::now();
                let resp = next.run(req).await;
                if timed {
                    timer.observe_suggestion(start.elapsed());
                }
                resp
            }
        },
    ))
    // tonic's own fallback answers any path with HTTP 200 and grpc-status UNIMPLEMENTED:
    // keep that for gRPC requests, but a plain HTTP request for an unknown path is a 404.
    .fallback(|req: axum::extract::Request| async move {
        let grpc = req
            .headers()
            .get(axum::http::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|c| c.starts_with("application/grpc"));
        if grpc {
            let (parts, ()) = tonic::Status::unimplemented("")
                .into_http::<()>()
                .into_parts();
            axum::response::Response::from_parts(parts, axum::body::Body::empty())
        } else {
            axum::response::IntoResponse::into_response((StatusCode::NOT_FOUND, "not found\n"))
        }
    })
    .route("/healthz", get(|| async { "ok\n" }))
    .route(
        "/readyz",
        get(move || {
            let m = ready.clone();
            async move {
                match m.store().list_experiments().await {
                    Ok(_) => (StatusCode::OK, "ready\n".to_string()),
                    Err(e) => (StatusCode::SERVICE_UNAVAILABLE, format!("database: {e}\n")),
                }
            }
        }),
    )
    .route(
        "/metrics",
        get(move || {
            let m = manager.clone();
            let metrics = metrics.clone();
            async move {
                match snapshot(&m).await {
                    Ok(s) => (
                        StatusCode::OK,
                        [("content-type", "text/plain; version=0.0.4")],
                        metrics.render(&s),
                    ),
                    Err(e) => (
                        StatusCode::SERVICE_UNAVAILABLE,
                        [("content-type", "text/plain")],
                        format!("database: {e}\n"),
                    ),
                }
            }
        }),
    )
}

async fn snapshot(m: &Manager) -> Result<metrics::Snapshot, ServerError> {
    use ferrotune_core::TrialStatus;
    let mut trials: std::collections::BTreeMap<&'static str, (TrialStatus, u64)> =
        Default::default();
    let mut experiments: std::collections::BTreeMap<String, u64> = Default::default();
    for r in m.store().list_experiments().await? {
        *experiments
            .entry(r.status.as_str().to_string())
            .or_default() += 1;
        for t in m.store().list_trials(r.id).await? {
            trials.entry(t.status.as_str()).or_insert((t.status, 0)).1 += 1;
        }
    }
    let queued = trials.get("Created").map(|t| t.1).unwrap_or(0);
    Ok(metrics::Snapshot {
        trials: trials.into_values().collect(),
        experiments: experiments.into_iter().collect(),
        running_experiments: m.running_count() as u64,
        queued_trials: queued,
        queued_observations: m.hub().queued_observations() as u64,
        report_queue_limit: m.hub().queue_limit() as u64,
    })
}

#[cfg(test)]
mod tests {
    use super::report_endpoint;

    #[test]
    fn trials_are_told_the_advertised_address_with_the_listening_port_when_it_has_none() {
        let local = "0.0.0.0:4567".parse().unwrap();
        let at = |a: Option<&str>, tls| report_endpoint(local, a, tls);
        assert_eq!(at(None, false).unwrap(), "127.0.0.1:4567");
        assert_eq!(at(None, true).unwrap(), "https://127.0.0.1:4567");
        assert_eq!(at(Some("node-1"), false).unwrap(), "node-1:4567");
        assert_eq!(at(Some("node-1:80"), false).unwrap(), "node-1:80");
        assert_eq!(at(Some("node-1"), true).unwrap(), "https://node-1:4567");
        assert_eq!(at(Some("10.0.0.2"), false).unwrap(), "10.0.0.2:4567");
        assert_eq!(at(Some("fe80::1"), false).unwrap(), "[fe80::1]:4567");
        assert_eq!(at(Some("[fe80::1]"), false).unwrap(), "[fe80::1]:4567");
        assert_eq!(at(Some("[fe80::1]:9"), false).unwrap(), "[fe80::1]:9");
        assert_eq!(
            at(Some("https://lb.example:443"), false).unwrap(),
            "https://lb.example:443"
        );
        for bad in ["", "  ", "a b", "node:http", ":80", "node:70000"] {
            assert!(at(Some(bad), false).is_err(), "{bad:?}");
        }
    }
}
