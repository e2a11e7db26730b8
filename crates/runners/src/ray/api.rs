//! A client of Ray's Job Submission REST API (the dashboard, `http://HOST:8265`):
//! submit, status, logs, stop, delete and list. Plain HTTP/1.1 on hyper.
//!
//! Ray's quirks, handled here: errors are plain text (often a Python traceback), not JSON;
//! a duplicate `submission_id` answers 500 (told apart by its text); times are epoch
//! milliseconds; `GET .../logs` returns the whole log every time (callers keep an offset).

use crate::RunnerError;
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::{Method, Request, StatusCode};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use serde::Deserialize;
use std::collections::HashMap;
use std::time::Duration;

/// How long one request may take; the dashboard answers in milliseconds when healthy.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
/// How much of an error body a message quotes (Ray's are Python tracebacks).
const ERROR_CHARS: usize = 600;

/// A job's state, as Ray names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum JobStatus {
    Pending,
    Running,
    Stopped,
    Succeeded,
    Failed,
}

impl JobStatus {
    /// Whether the job has ended for good.
    pub fn is_terminal(self) -> bool {
        matches!(
            self,
            JobStatus::Stopped | JobStatus::Succeeded | JobStatus::Failed
        )
    }
}

/// What `GET /api/jobs/{id}` (and each entry of the list) says about a job; only the fields
/// ferrotune reads.
#[derive(Debug, Clone, Deserialize)]
pub struct JobInfo {
    #[serde(default)]
    pub submission_id: Option<String>,
    pub status: JobStatus,
    #[serde(default)]
    pub message: Option<String>,
    /// Epoch milliseconds.
    #[serde(default)]
    pub start_time: Option<u64>,
    /// Epoch milliseconds.
    #[serde(default)]
    pub end_time: Option<u64>,
    #[serde(default)]
    pub metadata: Option<HashMap<String, String>>,
    /// The entrypoint's exit code, once it exited (negative: killed by that signal).
    #[serde(default)]
    pub driver_exit_code: Option<i32>,
}

/// How a submission went.
#[derive(Debug)]
pub enum Submitted {
    Ok,
    /// A job with this submission id exists already (Ray's 500 "already exists").
    Duplicate,
}

/// The Job API of one Ray cluster.
#[derive(Clone)]
pub struct JobApi {
    /// `http://HOST:PORT`, for requests and messages.
    address: String,
    client: Client<HttpConnector, Full<Bytes>>,
}

impl JobApi {
    /// A client for the dashboard at `address` (`http://HOST:PORT`, already normalised).
    pub fn new(address: &str) -> Self {
        let mut connector = HttpConnector::new();
        connector.set_nodelay(true);
        connector.set_connect_timeout(Some(Duration::from_secs(5)));
        JobApi {
            address: address.to_string(),
            client: Client::builder(TokioExecutor::new())
                .pool_idle_timeout(Duration::from_secs(30))
                .build(connector),
        }
    }

    pub fn address(&self) -> &str {
        &self.address
    }

    async fn request(
        &self,
        method: Method,
        path: &str,
        body: Option<&serde_json::Value>,
    ) -> Result<(StatusCode, Bytes), RunnerError> {
        let uri = format!("{}{path}", self.address);
        let unreachable = |reason: String| RunnerError::RayUnreachable {
            address: self.address.clone(),
            reason,
        };
        let mut req = Request::builder().method(method).uri(&uri);
        let body = match body {
            Some(v) => {
                req = req.header("content-type", "application/json");
                Full::new(Bytes::from(v.to_string()))
            }
            None => Full::new(Bytes::new()),
        };
        let req = req
            .body(body)
            .map_err(|e| unreachable(format!("bad request {uri}: {e}")))?;
        let resp = tokio::time::timeout(REQUEST_TIMEOUT, self.client.request(req))
            .await
            .map_err(|_| unreachable(format!("no answer within {REQUEST_TIMEOUT:?}")))?
            .map_err(|e| unreachable(error_chain(&e)))?;
        let status = resp.status();
        let bytes = tokio::time::timeout(REQUEST_TIMEOUT, resp.into_body().collect())
            .await
            .map_err(|_| unreachable(format!("no whole answer within {REQUEST_TIMEOUT:?}")))?
            .map_err(|e| unreachable(error_chain(&e)))?
            .to_bytes();
        Ok((status, bytes))
    }

    fn api_error(&self, what: &str, status: StatusCode, body: &[u8]) -> RunnerError {
        let text = String::from_utf8_lossy(body);
        // A traceback's last line says what went wrong.
        let text = text.trim();
        let short = if text.chars().count() > ERROR_CHARS {
            let last = text
                .lines()
                .rev()
                .find(|l| !l.trim().is_empty())
                .unwrap_or("");
            format!("…{}", last.chars().take(ERROR_CHARS).collect::<String>())
        } else {
            text.to_string()
        };
        RunnerError::RayApi {
            address: self.address.clone(),
            what: what.to_string(),
            status: status.as_u16(),
            body: short,
        }
    }

    fn json<T: serde::de::DeserializeOwned>(
        &self,
        what: &str,
        body: &[u8],
    ) -> Result<T, RunnerError> {
        serde_json::from_slice(body).map_err(|e| RunnerError::RayUnreachable {
            address: self.address.clone(),
            reason: format!(
                "{what}: the answer is not Ray's Job API ({e}): {}",
                String::from_utf8_lossy(body)
                    .chars()
                    .take(200)
                    .collect::<String>()
            ),
        })
    }

    /// `GET /api/version`: Ray's version, proving the address is a Ray dashboard.
    pub async fn version(&self) -> Result<String, RunnerError> {
        let (status, body) = self.request(Method::GET, "/api/version", None).await?;
        if !status.is_success() {
            return Err(self.api_error("GET /api/version", status, &body));
        }
        #[derive(Deserialize)]
        struct Version {
            ray_version: String,
        }
        let v: Version = self.json("GET /api/version", &body)?;
        Ok(v.ray_version)
    }

    /// `POST /api/jobs/`.
    pub async fn submit(&self, request: &serde_json::Value) -> Result<Submitted, RunnerError> {
        let (status, body) = self
            .request(Method::POST, "/api/jobs/", Some(request))
            .await?;
        if status.is_success() {
            return Ok(Submitted::Ok);
        }
        if status == StatusCode::INTERNAL_SERVER_ERROR
            && String::from_utf8_lossy(&body).contains("already exists")
        {
            return Ok(Submitted::Duplicate);
        }
        Err(self.api_error("POST /api/jobs/", status, &body))
    }

    /// `GET /api/jobs/{id}`; `None` when Ray knows no such job.
    pub async fn info(&self, id: &str) -> Result<Option<JobInfo>, RunnerError> {
        let path = format!("/api/jobs/{id}");
        let (status, body) = self.request(Method::GET, &path, None).await?;
        match status {
            StatusCode::NOT_FOUND => Ok(None),
            s if s.is_success() => self.json(&format!("GET {path}"), &body).map(Some),
            s => Err(self.api_error(&format!("GET {path}"), s, &body)),
        }
    }

    /// `GET /api/jobs/{id}/logs`: everything the job printed so far.
    pub async fn logs(&self, id: &str) -> Result<String, RunnerError> {
        let path = format!("/api/jobs/{id}/logs");
        let (status, body) = self.request(Method::GET, &path, None).await?;
        if !status.is_success() {
            return Err(self.api_error(&format!("GET {path}"), status, &body));
        }
        #[derive(Deserialize)]
        struct Logs {
            #[serde(default)]
            logs: String,
        }
        let l: Logs = self.json(&format!("GET {path}"), &body)?;
        Ok(l.logs)
    }

    /// `POST /api/jobs/{id}/stop`: SIGTERM to the entrypoint's processes, SIGKILL after the
    /// job's `RAY_JOB_STOP_WAIT_TIME_S`. Fire and forget: the job ends later. Ray stops a
    /// job that is still PENDING only once it starts. `false`: it had ended already.
    pub async fn stop(&self, id: &str) -> Result<bool, RunnerError> {
        let path = format!("/api/jobs/{id}/stop");
        let (status, body) = self.request(Method::POST, &path, None).await?;
        if !status.is_success() {
            return Err(self.api_error(&format!("POST {path}"), status, &body));
        }
        #[derive(Deserialize)]
        struct Stopped {
            stopped: bool,
        }
        Ok(self
            .json::<Stopped>(&format!("POST {path}"), &body)?
            .stopped)
    }

    /// `DELETE /api/jobs/{id}`: forgets an ended job (Ray refuses a running one).
    pub async fn delete(&self, id: &str) -> Result<(), RunnerError> {
        let path = format!("/api/jobs/{id}");
        let (status, body) = self.request(Method::DELETE, &path, None).await?;
        if !status.is_success() {
            return Err(self.api_error(&format!("DELETE {path}"), status, &body));
        }
        Ok(())
    }

    /// `GET /api/jobs/`: every job the cluster knows (submitted ones have a submission id).
    pub async fn list(&self) -> Result<Vec<JobInfo>, RunnerError> {
        let (status, body) = self.request(Method::GET, "/api/jobs/", None).await?;
        if !status.is_success() {
            return Err(self.api_error("GET /api/jobs/", status, &body));
        }
        self.json("GET /api/jobs/", &body)
    }
}

/// An error with its causes, which is where hyper keeps "connection refused".
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        let s = c.to_string();
        if !out.contains(&s) {
            out.push_str(": ");
            out.push_str(&s);
        }
        cur = c.source();
    }
    out
}
