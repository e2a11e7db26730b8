//! Shared by the server's integration tests: a server on a loopback port with a store in
//! a temporary directory (SQLite, or PostgreSQL: see [`test_store`]), experiments whose
//! trials wait for the test (so that a test decides when they end, without sleeping), and
//! a tiny HTTP/1.1 client.
#![allow(dead_code)]

use ferrotune_api::v1;
use ferrotune_server::{Config, ServerError, Tokens};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::oneshot;

pub const ADMIN: &str = "admin-token-0123456789abcdef";
pub const TEAM_A: &str = "team-a-token-0123456789abcdef";
pub const TEAM_B: &str = "team-b-token-0123456789abcdef";

/// Only so that a hang fails the test instead of blocking it forever.
pub const DEADLINE: Duration = Duration::from_secs(120);

pub fn tokens_file() -> String {
    format!(
        "tokens:\n  - {{token: {ADMIN}, admin: true, name: ops}}\n  - {{token: {TEAM_A}, namespace: team-a}}\n  - {{token: {TEAM_B}, namespace: team-b}}\n"
    )
}

/// The trial every test experiment runs: it writes its name, token and endpoint to
/// `$OUT/NAMESPACE.TRIAL.json` (trial names are unique within a namespace only), then
/// waits until the test creates `$OUT/TRIAL.done` or `$OUT/NAMESPACE.TRIAL.done` (at most
/// two minutes), and exits 0. The test pushes its metrics over gRPC (collector kind Push).
const TRIAL: &str = r#"
import json, os, time
out = os.environ["OUT"]
trial = os.environ["FERROTUNE_TRIAL"]
me = os.environ["FERROTUNE_NAMESPACE"] + "." + trial
info = {k: os.environ.get(k, "") for k in (
    "FERROTUNE_TRIAL", "FERROTUNE_TOKEN", "FERROTUNE_ENDPOINT", "FERROTUNE_NAMESPACE")}
tmp = os.path.join(out, me + ".tmp")
with open(tmp, "w") as f:
    json.dump(info, f)
os.rename(tmp, os.path.join(out, me + ".json"))
deadline = time.time() + 120
done = [os.path.join(out, n + ".done") for n in (trial, me)]
while not any(map(os.path.exists, done)) and time.time() < deadline:
    time.sleep(0.02)
"#;

/// What a running trial found in its environment.
#[derive(Debug, Clone)]
pub struct TrialEnv {
    pub trial: String,
    pub token: String,
    pub endpoint: String,
    pub namespace: String,
}

/// The store of a test's server: a SQLite file in `dir`, or, when
/// `FERROTUNE_TEST_SERVER_STORE=postgres`, a schema named after `dir` on the PostgreSQL at
/// `FERROTUNE_TEST_POSTGRES` (a server started again over the same `dir` finds its data).
/// `scripts/test.sh` runs the server's suites once with each, so that every gRPC behaviour
/// they check is checked over both backends.
pub async fn test_store(dir: &Path) -> Arc<dyn ferrotune_store::Store> {
    match std::env::var("FERROTUNE_TEST_SERVER_STORE").as_deref() {
        Err(_) | Ok("" | "sqlite") => Arc::new(
            ferrotune_store::SqliteStore::open(&dir.join("server.db"))
                .await
                .unwrap(),
        ),
        Ok("postgres") => {
            let url = std::env::var("FERROTUNE_TEST_POSTGRES").expect(
                "FERROTUNE_TEST_SERVER_STORE=postgres needs FERROTUNE_TEST_POSTGRES (scripts/test.sh sets both)",
            );
            Arc::new(
                ferrotune_store::PostgresStore::open_in_schema(&url, &pg_schema(dir))
                    .await
                    .unwrap(),
            )
        }
        Ok(other) => panic!("FERROTUNE_TEST_SERVER_STORE={other:?}: sqlite or postgres"),
    }
}

/// `ferrotune_srv_` and the temporary directory's own name, lowercased and with anything but
/// letters and digits made `_` (scripts/test.sh drops these schemas afterwards).
pub fn pg_schema(dir: &Path) -> String {
    let name = dir.file_name().unwrap().to_string_lossy().to_lowercase();
    let safe: String = name
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect();
    format!("ferrotune_srv_{safe}")
}

/// `ferrotune server` as `serve` starts it (default configuration) on a loopback port with
/// a fresh store (see [`test_store`]), until the test's runtime ends; the store's directory
/// lives as long as the returned guard.
pub async fn serve_default() -> (SocketAddr, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let store = test_store(dir.path()).await;
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(ferrotune_server::serve(
        listener,
        store,
        std::future::pending(),
    ));
    (addr, dir)
}

/// A server running in this test's runtime.
pub struct Server {
    pub addr: SocketAddr,
    pub dir: tempfile::TempDir,
    pub tls: bool,
    stop: Option<oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<Result<(), ServerError>>>,
}

impl Server {
    /// A loopback server; `tokens`: with the three tokens above; `tls`: PEM cert and key.
    pub async fn start(tokens: bool, tls: Option<(Vec<u8>, Vec<u8>)>) -> Server {
        let dir = tempfile::tempdir().unwrap();
        let config = Config::new(test_store(dir.path()).await, dir.path().join("runs"));
        Server::start_with(dir, config, tokens, tls).await
    }

    /// A loopback server with `config` (its store, limits), in `dir`.
    pub async fn start_with(
        dir: tempfile::TempDir,
        mut config: Config,
        tokens: bool,
        tls: Option<(Vec<u8>, Vec<u8>)>,
    ) -> Server {
        std::fs::create_dir_all(dir.path().join("out")).unwrap();
        std::fs::write(dir.path().join("trial.py"), TRIAL).unwrap();
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        config.runs_dir = dir.path().join("runs");
        config.grace = Duration::from_secs(2);
        if tokens {
            config.tokens = Some(Arc::new(Tokens::parse(&tokens_file()).unwrap()));
        }
        let tls_on = tls.is_some();
        config.tls = tls;
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(ferrotune_server::serve_with(listener, config, async move {
            let _ = stopped.await;
        }));
        Server {
            addr,
            dir,
            tls: tls_on,
            stop: Some(stop),
            task: Some(task),
        }
    }

    /// `host:port`, or an https URL naming `localhost` (the certificate's name).
    pub fn endpoint(&self) -> String {
        if self.tls {
            format!("https://localhost:{}", self.addr.port())
        } else {
            self.addr.to_string()
        }
    }

    pub async fn connect(&self, token: Option<&str>) -> ferrotune_client::Connection {
        ferrotune_client::connect(&self.endpoint(), token, None)
            .await
            .unwrap()
    }

    fn out(&self) -> PathBuf {
        self.dir.path().join("out")
    }

    /// A native experiment of `max` trials, `parallel` at a time, whose trials wait for the
    /// test ([`Server::release`]) and report over gRPC. Its document names a namespace
    /// that the server must override with the caller's.
    pub fn experiment(&self, name: &str, parallel: u32, max: u32) -> String {
        format!(
            r#"apiVersion: ferrotune.io/v1alpha1
kind: Experiment
metadata:
  name: {name}
  namespace: somewhere-else
spec:
  objective:
    type: minimize
    objectiveMetricName: loss
  algorithm:
    algorithmName: random
    algorithmSettings:
      - {{name: random_state, value: "3"}}
  parallelTrialCount: {parallel}
  maxTrialCount: {max}
  metricsCollectorSpec:
    collector: {{kind: Push}}
  parameters:
    - name: x
      parameterType: double
      feasibleSpace: {{min: "0", max: "1"}}
  trialTemplate:
    command: [python3, "{script}"]
    env: {{OUT: "{out}"}}
    timeout: 5m
"#,
            script = self.dir.path().join("trial.py").display(),
            out = self.out().display(),
        )
    }

    /// Creates the experiment `name` of one trial (`experiment(name, 1, 1)`) through
    /// `conn`, and waits until that trial runs.
    pub async fn one_running_trial(
        &self,
        conn: &ferrotune_client::Connection,
        name: &str,
    ) -> TrialEnv {
        conn.experiments()
            .create_experiment(v1::CreateExperimentRequest {
                document: self.experiment(name, 1, 1),
                ..Default::default()
            })
            .await
            .unwrap();
        self.running(name, 1).await.remove(0)
    }

    /// The running trials of `experiment`, once `n` of them have started.
    pub async fn running(&self, experiment: &str, n: usize) -> Vec<TrialEnv> {
        let prefix = format!("{experiment}-");
        let started = Instant::now();
        loop {
            let mut found = Vec::new();
            for e in std::fs::read_dir(self.out()).unwrap() {
                let path = e.unwrap().path();
                let file = path.file_name().unwrap().to_string_lossy().to_string();
                let name = file.split_once('.').map_or("", |(_, n)| n);
                if name.starts_with(&prefix) && name.ends_with(".json") {
                    let v: serde_json::Value =
                        serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
                    let s = |k: &str| v[k].as_str().unwrap().to_string();
                    found.push(TrialEnv {
                        trial: s("FERROTUNE_TRIAL"),
                        token: s("FERROTUNE_TOKEN"),
                        endpoint: s("FERROTUNE_ENDPOINT"),
                        namespace: s("FERROTUNE_NAMESPACE"),
                    });
                }
            }
            if found.len() >= n {
                found.sort_by(|a, b| (&a.trial, &a.namespace).cmp(&(&b.trial, &b.namespace)));
                return found;
            }
            assert!(
                started.elapsed() < DEADLINE,
                "{n} trials of {experiment} did not start"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Lets a waiting trial exit 0 (each of that name, in every namespace).
    pub fn release(&self, trial: &str) {
        std::fs::write(self.out().join(format!("{trial}.done")), b"").unwrap();
    }

    /// Lets the waiting trial of that name in `namespace` exit 0.
    pub fn release_in(&self, namespace: &str, trial: &str) {
        std::fs::write(self.out().join(format!("{namespace}.{trial}.done")), b"").unwrap();
    }

    /// Waits (by watching it) until the experiment's controller has ended; returns it then.
    pub async fn finished(
        &self,
        conn: &ferrotune_client::Connection,
        namespace: &str,
        name: &str,
    ) -> v1::Experiment {
        let r = v1::ExperimentRef {
            namespace: namespace.into(),
            name: name.into(),
        };
        let mut events = conn
            .experiments()
            .watch_experiment(r.clone())
            .await
            .unwrap()
            .into_inner();
        tokio::time::timeout(DEADLINE, async {
            while let Some(e) = events.message().await.unwrap() {
                let _ = e;
            }
        })
        .await
        .expect("the experiment ends");
        conn.experiments()
            .get_experiment(r)
            .await
            .unwrap()
            .into_inner()
    }

    /// Stops the server (its running experiments are interrupted) and waits for it.
    pub async fn stop(mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        if let Some(t) = self.task.take() {
            tokio::time::timeout(DEADLINE, t)
                .await
                .expect("the server stops")
                .unwrap()
                .unwrap();
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        // A test that failed before `stop`: release every trial so none outlives it long.
        if let Ok(entries) = std::fs::read_dir(self.out()) {
            for e in entries.flatten() {
                let name = e.file_name().to_string_lossy().to_string();
                if let Some(trial) = name.strip_suffix(".json") {
                    let _ = std::fs::write(self.out().join(format!("{trial}.done")), b"");
                }
            }
        }
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
    }
}

/// One pushed report of `loss`.
pub fn loss(trial: &str, value: f64) -> v1::ReportRequest {
    v1::ReportRequest {
        trial: trial.into(),
        step: None,
        metrics: [("loss".to_string(), value)].into_iter().collect(),
        timestamp: String::new(),
        namespace: String::new(),
    }
}

/// `GET path` over HTTP/1.1 on a fresh connection: the status and the body.
pub async fn http_get(addr: SocketAddr, path: &str) -> (u16, String) {
    let mut s = TcpStream::connect(addr).await.unwrap();
    s.write_all(
        format!("GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n").as_bytes(),
    )
    .await
    .unwrap();
    let mut raw = Vec::new();
    tokio::time::timeout(DEADLINE, s.read_to_end(&mut raw))
        .await
        .expect("an HTTP answer")
        .unwrap();
    let text = String::from_utf8_lossy(&raw).into_owned();
    let (head, body) = text
        .split_once("\r\n\r\n")
        .unwrap_or_else(|| panic!("not HTTP: {text:?}"));
    let status: u16 = head
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or_else(|| panic!("no status in {head:?}"));
    let chunked = head.lines().any(|l| {
        l.to_ascii_lowercase()
            .starts_with("transfer-encoding: chunked")
    });
    let body = if chunked {
        dechunk(body)
    } else {
        body.to_string()
    };
    (status, body)
}

fn dechunk(mut body: &str) -> String {
    let mut out = String::new();
    while let Some((size, rest)) = body.split_once("\r\n") {
        let n = usize::from_str_radix(size.trim(), 16).unwrap_or(0);
        if n == 0 {
            break;
        }
        out.push_str(&rest[..n]);
        body = rest[n..].trim_start_matches("\r\n");
    }
    out
}
