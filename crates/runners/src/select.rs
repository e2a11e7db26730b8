//! Which runner an experiment's trials go to: the command line's choice, what the
//! experiment last ran on (pinned in its run folder), its `spec.runner`, and the
//! command's default, in the order the caller gives. One runner per place is kept and
//! shared by every experiment that runs there.

use crate::{LocalRunner, RayConfig, RayRunner, RunnerError};
use ferrotune_controller::TrialRunner;
use ferrotune_core::placement::{RayMode, RunnerChoice, RunnerKind};
use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

/// The file in an experiment's run folder that says where its trials ran, so that a
/// resume (or a `stop` of a dead run) goes to the same place and finds what a crashed
/// controller left there, even when the command line no longer says.
pub const PINNED_FILE: &str = "runner.json";

/// A runner as one source says it (each part optional): a command line, a pinned file,
/// a `spec.runner`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RunnerSetting {
    pub kind: Option<RunnerKind>,
    pub ray_address: Option<String>,
    pub ray_mode: Option<RayMode>,
}

impl From<&RunnerChoice> for RunnerSetting {
    fn from(c: &RunnerChoice) -> Self {
        RunnerSetting {
            kind: Some(c.kind),
            ray_address: c.address.clone(),
            ray_mode: (c.kind == RunnerKind::Ray).then_some(c.mode),
        }
    }
}

impl RunnerSetting {
    /// Merges settings, the first one that says something winning each part: the kind,
    /// then the Ray address and mode (kept only for Ray). Nothing said at all: local.
    pub fn merge(layers: &[RunnerSetting]) -> RunnerChoice {
        let kind = layers
            .iter()
            .find_map(|l| l.kind)
            .unwrap_or(RunnerKind::Local);
        let ray = kind == RunnerKind::Ray;
        RunnerChoice {
            kind,
            address: layers
                .iter()
                .find_map(|l| l.ray_address.clone())
                .filter(|_| ray),
            mode: layers.iter().find_map(|l| l.ray_mode).unwrap_or_default(),
        }
    }

    /// What the run folder says the experiment last ran on, if anything.
    pub fn pinned(run_dir: &Path) -> Option<RunnerSetting> {
        let text = std::fs::read_to_string(run_dir.join(PINNED_FILE)).ok()?;
        let v: serde_json::Value = serde_json::from_str(&text).ok()?;
        let kind = RunnerKind::parse(v.get("kind")?.as_str()?)?;
        Some(RunnerSetting {
            kind: Some(kind),
            ray_address: v
                .get("address")
                .and_then(|a| a.as_str())
                .map(str::to_string),
            ray_mode: v
                .get("mode")
                .and_then(|m| m.as_str())
                .and_then(|m| RayMode::parse(m).ok()),
        })
    }
}

/// Records in the run folder where the experiment's trials run (see [`PINNED_FILE`]).
pub fn pin(run_dir: &Path, choice: &RunnerChoice) -> std::io::Result<()> {
    let v = match choice.kind {
        RunnerKind::Local => serde_json::json!({"kind": "local"}),
        RunnerKind::Ray => serde_json::json!({
            "kind": "ray",
            "address": choice.address,
            "mode": choice.mode.as_str(),
        }),
    };
    let tmp = run_dir.join(format!("{PINNED_FILE}.tmp"));
    std::fs::write(&tmp, format!("{v:#}\n"))?;
    std::fs::rename(tmp, run_dir.join(PINNED_FILE))
}

/// The runners of one process: the local one, and one per Ray cluster (and mode).
pub struct Runners {
    grace: Duration,
    local: Arc<LocalRunner>,
    ray: tokio::sync::Mutex<HashMap<(String, RayMode), Arc<RayRunner>>>,
}

impl Runners {
    /// `grace`: the time a stopped trial gets between SIGTERM and SIGKILL, which Ray is
    /// told per job.
    pub fn new(grace: Duration) -> Self {
        Runners {
            grace,
            local: Arc::new(LocalRunner::new()),
            ray: tokio::sync::Mutex::new(HashMap::new()),
        }
    }

    /// The runner for a choice; a Ray cluster not used before is connected to now (and
    /// must answer).
    pub async fn get(&self, choice: &RunnerChoice) -> Result<Arc<dyn TrialRunner>, RunnerError> {
        match choice.kind {
            RunnerKind::Local => Ok(self.local.clone()),
            RunnerKind::Ray => Ok(self.ray(choice).await?),
        }
    }

    /// The Ray runner for a choice of kind Ray.
    pub async fn ray(&self, choice: &RunnerChoice) -> Result<Arc<RayRunner>, RunnerError> {
        let Some(address) = &choice.address else {
            return Err(RunnerError::Config(
                "the Ray runner needs the Ray dashboard's address: spec.runner.address, --ray-address or RAY_ADDRESS (http://HOST:8265)".into(),
            ));
        };
        let mut config = RayConfig::new(address)?;
        config.mode = choice.mode;
        config.grace = self.grace;
        let key = (config.address.clone(), config.mode);
        let mut ray = self.ray.lock().await;
        if let Some(r) = ray.get(&key) {
            return Ok(r.clone());
        }
        let r = Arc::new(RayRunner::connect(config).await?);
        tracing::info!(address = %r.address(), ray = %r.ray_version(), "connected to Ray");
        ray.insert(key, r.clone());
        Ok(r)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_layer_that_says_wins() {
        let cli = RunnerSetting {
            kind: Some(RunnerKind::Ray),
            ..Default::default()
        };
        let spec = RunnerSetting {
            kind: Some(RunnerKind::Local),
            ray_address: Some("http://h:1".into()),
            ray_mode: None,
        };
        let c = RunnerSetting::merge(&[cli.clone(), spec.clone()]);
        assert_eq!(c.kind, RunnerKind::Ray);
        assert_eq!(c.address.as_deref(), Some("http://h:1"));
        assert_eq!(RunnerSetting::merge(&[]).kind, RunnerKind::Local);
        let c = RunnerSetting::merge(&[RunnerSetting::default(), spec]);
        assert_eq!((c.kind, c.address), (RunnerKind::Local, None));
    }

    #[test]
    fn pins_round_trip() {
        let d = tempfile::tempdir().unwrap();
        assert_eq!(RunnerSetting::pinned(d.path()), None);
        let c = RunnerChoice {
            kind: RunnerKind::Ray,
            address: Some("http://127.0.0.1:8265".into()),
            mode: RayMode::Jobs,
        };
        pin(d.path(), &c).unwrap();
        let p = RunnerSetting::pinned(d.path()).unwrap();
        assert_eq!(RunnerSetting::merge(&[p]), c);
    }
}
