//! A small harness: a temp folder with a database, experiment files and trial scripts, and
//! the real `ferrotune` binary run against them.
#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

pub struct Sandbox {
    pub dir: tempfile::TempDir,
}

impl Sandbox {
    pub fn new() -> Self {
        Sandbox {
            dir: tempfile::tempdir().expect("tempdir"),
        }
    }

    pub fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    pub fn write(&self, rel: &str, text: &str) -> PathBuf {
        let p = self.path(rel);
        if let Some(parent) = p.parent() {
            std::fs::create_dir_all(parent).expect("mkdir");
        }
        std::fs::write(&p, text).expect("write");
        p
    }

    pub fn db(&self) -> PathBuf {
        self.path("ferrotune.db")
    }

    /// A `ferrotune` command in this sandbox, with its database.
    pub fn cmd(&self, args: &[&str]) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_ferrotune"));
        c.args(args)
            .current_dir(self.dir.path())
            .env("FERROTUNE_DB", self.db())
            .env_remove("FERROTUNE_LOG")
            .env_remove("FERROTUNE_SERVER");
        c
    }

    pub fn run(&self, args: &[&str]) -> Output {
        self.cmd(args).output().expect("ferrotune runs")
    }

    pub fn json(&self, args: &[&str]) -> serde_json::Value {
        let out = self.run(args);
        assert!(
            out.status.success(),
            "{args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
            panic!(
                "{args:?}: not JSON ({e}): {}",
                String::from_utf8_lossy(&out.stdout)
            )
        })
    }

    pub async fn store(&self) -> ferrotune_store::SqliteStore {
        ferrotune_store::SqliteStore::open(&self.db())
            .await
            .expect("open store")
    }
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).to_string()
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).to_string()
}

/// A native experiment running `python3 -c CODE` with the given parameters block (YAML,
/// indented 2) and extra spec lines.
pub fn native(name: &str, params_yaml: &str, code: &str, extra_spec: &str) -> String {
    let code_json = serde_json::to_string(code).expect("json string");
    format!(
        "apiVersion: ferrotune.io/v1alpha1
kind: Experiment
metadata:
  name: {name}
spec:
  objective:
    type: minimize
    objectiveMetricName: loss
  algorithm:
    algorithmName: random
  parameters:
{params_yaml}
  trialTemplate:
    command: [python3, -c, {code_json}]
{extra_spec}"
    )
}

pub fn count_status(trials: &serde_json::Value, status: &str) -> usize {
    trials
        .as_array()
        .expect("array")
        .iter()
        .filter(|t| t["status"] == status)
        .count()
}

pub fn exists(p: &Path) -> bool {
    p.exists()
}

/// A server process that is killed when its test ends, passed or failed (a panicking test
/// would otherwise leave it running, holding the test run's output open).
pub struct Server(pub Child);

impl std::ops::Deref for Server {
    type Target = Child;
    fn deref(&self) -> &Child {
        &self.0
    }
}

impl std::ops::DerefMut for Server {
    fn deref_mut(&mut self) -> &mut Child {
        &mut self.0
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A server in the sandbox on a free loopback port; the URL it announces
/// (`http://127.0.0.1:PORT`, `https://…` under TLS), which `--server` takes as it is.
pub fn start_server(sb: &Sandbox) -> (Server, String) {
    start_server_with(sb, &[])
}

/// As `start_server`, with more arguments.
pub fn start_server_with(sb: &Sandbox, more: &[&str]) -> (Server, String) {
    let mut args = vec![
        "server",
        "--listen",
        "127.0.0.1:0",
        "--runs-dir",
        "runs",
        "--grace",
        "1",
    ];
    args.extend_from_slice(more);
    let mut child = sb.cmd(&args).stderr(Stdio::piped()).spawn().unwrap();
    let mut line = String::new();
    let mut err = BufReader::new(child.stderr.take().unwrap());
    err.read_line(&mut line).unwrap();
    // `http://ADDR`, or `https://ADDR` under TLS: `--server` takes either as it is.
    let addr = line
        .strip_prefix("ferrotune server listening on ")
        .and_then(|r| r.split_whitespace().next())
        .filter(|u| u.starts_with("http://") || u.starts_with("https://"))
        .unwrap_or_else(|| panic!("{line}"))
        .to_string();
    // Keep draining its log so that it never blocks on a full pipe.
    std::thread::spawn(move || for _ in err.lines() {});
    (Server(child), addr)
}

/// Polls the server's `trials NAME` until `done` holds (at most 90 s).
pub fn wait_for(sb: &Sandbox, addr: &str, name: &str, done: impl Fn(&serde_json::Value) -> bool) {
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        let trials = sb.json(&["trials", name, "--server", addr, "--output", "json"]);
        if done(&trials) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{name} did not get there: {trials}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}
