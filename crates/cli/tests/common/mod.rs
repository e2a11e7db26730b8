//! A small harness: a temp folder with a database, experiment files and trial scripts, and
//! the real `ferrotune` binary run against them.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

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
            .env_remove("FERROTUNE_LOG");
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
