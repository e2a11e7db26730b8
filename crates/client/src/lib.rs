//! A Rust client for ferrotune's server.
//!
//! - [`connect`] opens a channel to a server (`host:port`, `http://…`, or `https://…` with
//!   system roots or a CA file) that sends a token with every call; the CLI's `--server`
//!   commands use it.
//! - [`Reporter`] is what Rust trial code uses, as Python trials use the `ferrotune`
//!   package: [`params`] reads the trial's parameters, [`Reporter::report`] buffers metrics
//!   and sends them in batches, [`Reporter::should_stop`] asks whether the early-stopping
//!   rule gave up on the trial. Call [`Reporter::flush`] before the trial exits. A batch
//!   the server answers UNAVAILABLE (busy storing, or restarting) is sent again, as the
//!   Python SDK does.

use ferrotune_api::v1;
use std::path::Path;
use std::time::Duration;
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
    Ok(Connection { channel, auth })
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

/// Sends a trial's metrics. Outside ferrotune (no `FERROTUNE_ENDPOINT`) it prints
/// `metric=value` lines, which the StdOut collector reads.
pub struct Reporter {
    conn: Option<Connection>,
    trial: String,
    /// The trial's namespace; empty: the server finds the one trial of that name.
    namespace: String,
    buffer: Vec<v1::ReportRequest>,
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
            stop: None,
        }
    }

    /// Names the trial's namespace: trial names are unique within a namespace only.
    pub fn in_namespace(mut self, namespace: impl Into<String>) -> Reporter {
        self.namespace = namespace.into();
        self
    }

    /// Buffers one report (sent when the batch is full, or by `flush`). `step: None`
    /// numbers each metric's reports 0, 1, 2, …
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
        if self.buffer.len() >= BATCH {
            self.flush().await?;
        }
        Ok(())
    }

    /// Sends everything buffered, a batch again while the server answers UNAVAILABLE (up to
    /// five times, backing off from 0.2 s to 2 s); on failure the reports stay buffered.
    /// Nothing is sent on drop: call it before the trial exits.
    pub async fn flush(&mut self) -> Result<(), ClientError> {
        let Some(conn) = &self.conn else {
            return Ok(());
        };
        while !self.buffer.is_empty() {
            let n = self.buffer.len().min(BATCH);
            let batch: Vec<v1::ReportRequest> = self.buffer[..n].to_vec();
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
            self.buffer.drain(..n);
            if reply.should_stop && self.stop.is_none() {
                self.stop = Some(String::new());
            }
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
