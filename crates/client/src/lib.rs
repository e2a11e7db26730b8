//! A Rust client for ferrotune's server.
//!
//! - [`connect`] opens a channel to a server (`host:port`, `http://…`, or `https://…` with
//!   system roots or a CA file) that sends a token with every call; the CLI's `--server`
//!   commands use it.
//! - [`Reporter`] is what Rust trial code uses, as Python trials use the `ferrotune`
//!   package: [`params`] reads the trial's parameters, [`Reporter::report`] buffers metrics
//!   and sends them in batches, [`Reporter::should_stop`] asks whether the early-stopping
//!   rule gave up on the trial. Reports wait at most half a second once the trial reports
//!   again, and what is left when the reporter is dropped is sent before the drop returns,
//!   so a trial that returns from `main` loses nothing; [`Reporter::flush`] sends at once
//!   and says whether it worked. A batch the server answers UNAVAILABLE (busy storing, or
//!   restarting) is sent again, as the Python SDK does.

use ferrotune_api::v1;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};
use tonic::metadata::MetadataValue;
use tonic::service::interceptor::InterceptedService;
use tonic::transport::{Certificate, Channel, ClientTlsConfig, Endpoint};

/// Errors of the client.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("{0}")]
    Config(String),
    #[error("cannot connect to {endpoint}: {source}")]
    Connect {
        endpoint: String,
        source: tonic::transport::Error,
    },
    #[error("{} ({:?})", .0.message(), .0.code())]
    Status(#[from] tonic::Status),
}

/// Adds `authorization: Bearer TOKEN` to every call.
#[derive(Clone)]
pub struct Auth(Option<MetadataValue<tonic::metadata::Ascii>>);

impl tonic::service::Interceptor for Auth {
    fn call(&mut self, mut req: tonic::Request<()>) -> Result<tonic::Request<()>, tonic::Status> {
        if let Some(t) = &self.0 {
            req.metadata_mut().insert("authorization", t.clone());
        }
        Ok(req)
    }
}

/// A channel with its token.
pub type Authed = InterceptedService<Channel, Auth>;

/// A connection to a server.
#[derive(Clone)]
pub struct Connection {
    channel: Channel,
    auth: Auth,
    /// What it was opened with, to open another outside this runtime (a reporter's drop).
    target: Target,
}

#[derive(Clone)]
struct Target {
    endpoint: String,
    token: Option<String>,
    ca_file: Option<PathBuf>,
}

/// The URL for `endpoint`: `host:port` means plain HTTP/2.
fn url(endpoint: &str) -> String {
    if endpoint.starts_with("http://") || endpoint.starts_with("https://") {
        endpoint.to_string()
    } else {
        format!("http://{endpoint}")
    }
}

/// Connects to a server. `https://` uses TLS with the system's roots, or only `ca_file`'s
/// certificates when given.
pub async fn connect(
    endpoint: &str,
    token: Option<&str>,
    ca_file: Option<&Path>,
) -> Result<Connection, ClientError> {
    let url = url(endpoint);
    let mut ep = Endpoint::from_shared(url.clone())
        .map_err(|e| ClientError::Config(format!("server address {endpoint:?}: {e}")))?
        .connect_timeout(Duration::from_secs(10))
        .tcp_nodelay(true);
    if url.starts_with("https://") {
        let mut tls = ClientTlsConfig::new();
        tls = match ca_file {
            Some(f) => {
                let pem = std::fs::read(f).map_err(|e| {
                    ClientError::Config(format!("cannot read the CA file {}: {e}", f.display()))
                })?;
                tls.ca_certificate(Certificate::from_pem(pem))
            }
            None => tls.with_native_roots(),
        };
        ep = ep
            .tls_config(tls)
            .map_err(|e| ClientError::Config(format!("TLS: {e}")))?;
    }
    let channel = ep.connect().await.map_err(|source| ClientError::Connect {
        endpoint: endpoint.to_string(),
        source,
    })?;
    let auth = match token.filter(|t| !t.is_empty()) {
        None => Auth(None),
        Some(t) => Auth(Some(format!("Bearer {t}").parse().map_err(|_| {
            ClientError::Config("the token holds characters a header cannot carry".into())
        })?)),
    };
    let target = Target {
        endpoint: endpoint.to_string(),
        token: token.map(str::to_string),
        ca_file: ca_file.map(Path::to_path_buf),
    };
    Ok(Connection {
        channel,
        auth,
        target,
    })
}

impl Connection {
    fn authed(&self) -> Authed {
        InterceptedService::new(self.channel.clone(), self.auth.clone())
    }

    pub fn experiments(&self) -> v1::experiment_service_client::ExperimentServiceClient<Authed> {
        v1::experiment_service_client::ExperimentServiceClient::new(self.authed())
            .max_decoding_message_size(64 << 20)
    }

    pub fn trials(&self) -> v1::trial_service_client::TrialServiceClient<Authed> {
        v1::trial_service_client::TrialServiceClient::new(self.authed())
            .max_decoding_message_size(64 << 20)
    }

    pub fn reports(&self) -> v1::report_service_client::ReportServiceClient<Authed> {
        v1::report_service_client::ReportServiceClient::new(self.authed())
    }
}

/// The trial's parameters from `FERROTUNE_PARAMS` (an empty object outside ferrotune).
pub fn params() -> Result<serde_json::Map<String, serde_json::Value>, ClientError> {
    match std::env::var("FERROTUNE_PARAMS") {
        Err(_) => Ok(serde_json::Map::new()),
        Ok(text) => match serde_json::from_str(&text) {
            Ok(serde_json::Value::Object(m)) => Ok(m),
            _ => Err(ClientError::Config(format!(
                "FERROTUNE_PARAMS is not a JSON object: {text:?}"
            ))),
        },
    }
}

/// Reports sent in one stream at most.
const BATCH: usize = 256;
/// How many times `flush` sends a batch again when the server answers UNAVAILABLE (its
/// report queue is full while the database catches up, or it is restarting), and the
/// wait before the first retry, doubled each time up to [`MAX_BACKOFF`]: the Python SDK's
/// defaults. A stream is taken whole or not at all, so a batch sent again is never
/// stored twice.
const RETRIES: u32 = 5;
const BACKOFF: Duration = Duration::from_millis(200);
const MAX_BACKOFF: Duration = Duration::from_secs(2);
/// A report that has waited this long is sent with the next one (the Python SDK's
/// `flush_interval`), so that early stopping and `watch` see a slow trial's progress.
const FLUSH_INTERVAL: Duration = Duration::from_millis(500);
/// The longest a drop spends sending what is left (connecting included).
const DROP_FLUSH_LIMIT: Duration = Duration::from_secs(30);

/// Sends a trial's metrics. Outside ferrotune (no `FERROTUNE_ENDPOINT`) it prints
/// `metric=value` lines, which the StdOut collector reads.
pub struct Reporter {
    conn: Option<Connection>,
    trial: String,
    /// The trial's namespace; empty: the server finds the one trial of that name.
    namespace: String,
    buffer: Vec<v1::ReportRequest>,
    /// When the oldest buffered report was made.
    oldest: Option<Instant>,
    stop: Option<String>,
}

impl Reporter {
    /// A reporter from the trial's environment: `FERROTUNE_ENDPOINT`, `FERROTUNE_TRIAL`,
    /// `FERROTUNE_NAMESPACE`, `FERROTUNE_TOKEN` (and `FERROTUNE_CA_FILE` for TLS).
    pub async fn from_env() -> Result<Reporter, ClientError> {
        let Some(endpoint) = std::env::var("FERROTUNE_ENDPOINT")
            .ok()
            .filter(|e| !e.is_empty())
        else {
            return Ok(Reporter {
                conn: None,
                trial: String::new(),
                namespace: String::new(),
                buffer: Vec::new(),
                oldest: None,
                stop: None,
            });
        };
        let trial = std::env::var("FERROTUNE_TRIAL").map_err(|_| {
            ClientError::Config("FERROTUNE_ENDPOINT is set but FERROTUNE_TRIAL is not".into())
        })?;
        let token = std::env::var("FERROTUNE_TOKEN").ok();
        let ca = std::env::var("FERROTUNE_CA_FILE").ok();
        let conn = connect(&endpoint, token.as_deref(), ca.as_deref().map(Path::new)).await?;
        let namespace = std::env::var("FERROTUNE_NAMESPACE").unwrap_or_default();
        Ok(Reporter::new(conn, trial).in_namespace(namespace))
    }

    /// A reporter for `trial` over an open connection.
    pub fn new(conn: Connection, trial: impl Into<String>) -> Reporter {
        Reporter {
            conn: Some(conn),
            trial: trial.into(),
            namespace: String::new(),
            buffer: Vec::new(),
            oldest: None,
            stop: None,
        }
    }

    /// Names the trial's namespace: trial names are unique within a namespace only.
    pub fn in_namespace(mut self, namespace: impl Into<String>) -> Reporter {
        self.namespace = namespace.into();
        self
    }

    /// Buffers one report, and sends the buffer when it holds a full batch or its oldest
    /// report has waited half a second (or by `flush`, `should_stop` and the drop).
    /// `step: None` numbers each metric's reports 0, 1, 2, …
    pub async fn report(
        &mut self,
        step: Option<i64>,
        metrics: &[(&str, f64)],
    ) -> Result<(), ClientError> {
        if self.conn.is_none() {
            let mut line: Vec<String> = step.map(|s| format!("step={s}")).into_iter().collect();
            line.extend(metrics.iter().map(|(k, v)| format!("{k}={v}")));
            println!("{}", line.join(" "));
            return Ok(());
        }
        self.buffer.push(v1::ReportRequest {
            trial: self.trial.clone(),
            step,
            metrics: metrics.iter().map(|(k, v)| (k.to_string(), *v)).collect(),
            timestamp: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
            namespace: self.namespace.clone(),
        });
        let oldest = *self.oldest.get_or_insert_with(Instant::now);
        if self.buffer.len() >= BATCH || oldest.elapsed() >= FLUSH_INTERVAL {
            self.flush().await?;
        }
        Ok(())
    }

    /// Sends everything buffered, a batch again while the server answers UNAVAILABLE (up to
    /// five times, backing off from 0.2 s to 2 s); on failure the reports stay buffered.
    pub async fn flush(&mut self) -> Result<(), ClientError> {
        let Some(conn) = &self.conn else {
            return Ok(());
        };
        let told_stop = send_all(conn, &mut self.buffer).await;
        if self.buffer.is_empty() {
            self.oldest = None;
        }
        if told_stop? && self.stop.is_none() {
            self.stop = Some(String::new());
        }
        Ok(())
    }

    /// Whether the trial should stop (flushes first). Always false outside ferrotune.
    pub async fn should_stop(&mut self) -> Result<bool, ClientError> {
        let Some(conn) = self.conn.clone() else {
            return Ok(false);
        };
        self.flush().await?;
        if self.stop.as_deref().is_none_or(str::is_empty) {
            let r = conn
                .reports()
                .should_stop(v1::TrialRef {
                    namespace: self.namespace.clone(),
                    trial: self.trial.clone(),
                })
                .await?
                .into_inner();
            if r.should_stop {
                self.stop = Some(r.reason);
            }
        }
        Ok(self.stop.is_some())
    }

    /// Why the trial should stop, once it should.
    pub fn stop_reason(&self) -> Option<&str> {
        self.stop.as_deref()
    }
}

/// Sends what is left when the trial drops its reporter (as it does when `main` returns),
/// so that no report is lost on a normal exit. The caller's runtime may be single-threaded
/// and blocked in this drop, so a thread of its own connects again and sends, and the drop
/// waits for it (at most [`DROP_FLUSH_LIMIT`]).
impl Drop for Reporter {
    fn drop(&mut self) {
        let Some(conn) = &self.conn else {
            return;
        };
        if self.buffer.is_empty() {
            return;
        }
        let target = conn.target.clone();
        let mut buffer = std::mem::take(&mut self.buffer);
        let sent = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map_err(|e| format!("no runtime to send them: {e}"))?;
            let result = rt.block_on(async {
                let send = async {
                    let ca = target.ca_file.as_deref();
                    let conn = connect(&target.endpoint, target.token.as_deref(), ca).await?;
                    send_all(&conn, &mut buffer).await
                };
                match tokio::time::timeout(DROP_FLUSH_LIMIT, send).await {
                    Ok(Ok(_)) => Ok(()),
                    Ok(Err(e)) => Err(e.to_string()),
                    Err(_) => Err(format!("not sent within {DROP_FLUSH_LIMIT:?}")),
                }
            });
            result.map_err(|e| format!("{} reports were not sent: {e}", buffer.len()))
        })
        .join();
        match sent {
            Ok(Ok(())) => {}
            Ok(Err(e)) => eprintln!("ferrotune: at the reporter's drop, {e}"),
            Err(_) => eprintln!("ferrotune: at the reporter's drop, sending its reports failed"),
        }
    }
}

/// Sends `buffer` in batches, each again while the server answers UNAVAILABLE; what was
/// sent leaves the buffer, what was not stays. Whether a reply said the trial should stop.
async fn send_all(
    conn: &Connection,
    buffer: &mut Vec<v1::ReportRequest>,
) -> Result<bool, ClientError> {
    let mut should_stop = false;
    while !buffer.is_empty() {
        let n = buffer.len().min(BATCH);
        let batch: Vec<v1::ReportRequest> = buffer[..n].to_vec();
        let mut wait = BACKOFF;
        let mut tries = 0;
        let reply = loop {
            match conn
                .reports()
                .report_stream(tokio_stream_iter(batch.clone()))
                .await
            {
                Ok(r) => break r.into_inner(),
                Err(s) if s.code() == tonic::Code::Unavailable && tries < RETRIES => {
                    tries += 1;
                    tokio::time::sleep(wait).await;
                    wait = (wait * 2).min(MAX_BACKOFF);
                }
                Err(s) => return Err(s.into()),
            }
        };
        buffer.drain(..n);
        should_stop |= reply.should_stop;
    }
    Ok(should_stop)
}

/// A stream of already-known messages, for client-streaming calls.
fn tokio_stream_iter<T: Send + 'static>(
    items: Vec<T>,
) -> impl tonic::codegen::tokio_stream::Stream<Item = T> + Send + 'static {
    tonic::codegen::tokio_stream::iter(items)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints_without_a_scheme_are_plain_http2() {
        assert_eq!(url("127.0.0.1:7700"), "http://127.0.0.1:7700");
        assert_eq!(url("https://h:1"), "https://h:1");
    }
}
