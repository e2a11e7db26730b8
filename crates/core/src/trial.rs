//! Trials, their states and their observations: the history algorithms learn from.

use crate::value::Assignment;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

/// A trial's condition, with Katib's names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum TrialStatus {
    /// Recorded, not started (or interrupted and waiting to be re-run).
    Created,
    Running,
    Succeeded,
    /// Stopped by a user.
    Killed,
    /// Non-zero exit, spawn failure or timeout.
    Failed,
    /// Exited 0 without reporting the objective metric.
    MetricsUnavailable,
    /// Stopped by an early-stopping rule.
    EarlyStopped,
}

impl TrialStatus {
    /// Every status, in display order.
    pub const ALL: [TrialStatus; 7] = [
        TrialStatus::Created,
        TrialStatus::Running,
        TrialStatus::Succeeded,
        TrialStatus::Killed,
        TrialStatus::Failed,
        TrialStatus::MetricsUnavailable,
        TrialStatus::EarlyStopped,
    ];

    /// Finished trials count towards `maxTrialCount`.
    pub fn is_finished(self) -> bool {
        !matches!(self, TrialStatus::Created | TrialStatus::Running)
    }

    /// Trials that count towards `maxFailedTrialCount`.
    pub fn is_failure(self) -> bool {
        matches!(self, TrialStatus::Failed)
    }

    /// Katib's name.
    pub fn as_str(self) -> &'static str {
        match self {
            TrialStatus::Created => "Created",
            TrialStatus::Running => "Running",
            TrialStatus::Succeeded => "Succeeded",
            TrialStatus::Killed => "Killed",
            TrialStatus::Failed => "Failed",
            TrialStatus::MetricsUnavailable => "MetricsUnavailable",
            TrialStatus::EarlyStopped => "EarlyStopped",
        }
    }
}

impl fmt::Display for TrialStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for TrialStatus {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        TrialStatus::ALL
            .into_iter()
            .find(|t| t.as_str() == s)
            .ok_or_else(|| format!("unknown trial status {s:?}"))
    }
}

/// Whether the objective is minimised or maximised.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum ObjectiveType {
    Minimize,
    Maximize,
}

impl ObjectiveType {
    /// True when `a` is strictly better than `b`.
    pub fn better(self, a: f64, b: f64) -> bool {
        match self {
            ObjectiveType::Minimize => a < b,
            ObjectiveType::Maximize => a > b,
        }
    }

    /// True when `value` reaches `goal`.
    pub fn reaches(self, value: f64, goal: f64) -> bool {
        match self {
            ObjectiveType::Minimize => value <= goal,
            ObjectiveType::Maximize => value >= goal,
        }
    }

    /// Katib's spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            ObjectiveType::Minimize => "minimize",
            ObjectiveType::Maximize => "maximize",
        }
    }
}

/// Which of a trial's reports is its value for a metric.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum MetricStrategy {
    Min,
    Max,
    Latest,
}

impl MetricStrategy {
    /// Katib's default: `min` when minimising, `max` when maximising.
    pub fn default_for(t: ObjectiveType) -> Self {
        match t {
            ObjectiveType::Minimize => MetricStrategy::Min,
            ObjectiveType::Maximize => MetricStrategy::Max,
        }
    }

    /// Katib's spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            MetricStrategy::Min => "min",
            MetricStrategy::Max => "max",
            MetricStrategy::Latest => "latest",
        }
    }
}

/// One reported value: an entry of a trial's observation log.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Observation {
    pub metric: String,
    /// The report's step: given by the trial, or the metric's report index.
    pub step: i64,
    /// RFC 3339, as Katib stores it.
    pub timestamp: chrono::DateTime<chrono::Utc>,
    pub value: f64,
}

/// A metric's summary over a trial's reports: Katib's `{name, min, max, latest}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MetricSummary {
    pub name: String,
    pub min: f64,
    pub max: f64,
    pub latest: f64,
    /// How many values were reported.
    pub count: u64,
}

impl MetricSummary {
    /// A summary of one first value.
    pub fn new(name: &str, v: f64) -> Self {
        MetricSummary {
            name: name.to_string(),
            min: v,
            max: v,
            latest: v,
            count: 1,
        }
    }

    /// Folds in the next reported value.
    pub fn push(&mut self, v: f64) {
        self.min = self.min.min(v);
        self.max = self.max.max(v);
        self.latest = v;
        self.count += 1;
    }

    /// The value that `strategy` picks.
    pub fn pick(&self, strategy: MetricStrategy) -> f64 {
        match strategy {
            MetricStrategy::Min => self.min,
            MetricStrategy::Max => self.max,
            MetricStrategy::Latest => self.latest,
        }
    }
}

/// Katib-style labels an algorithm attaches to a trial it suggests (e.g. PBT's parent), kept
/// with the trial so that the algorithm sees them again in the history.
pub type Labels = BTreeMap<String, String>;

/// The label that names the trial whose checkpoint a new trial starts from (PBT).
pub const PARENT_LABEL: &str = "ferrotune.io/parent";

/// A trial to create: its parameters and labels.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct NewTrial {
    pub parameters: Assignment,
    pub labels: Labels,
}

impl From<Assignment> for NewTrial {
    fn from(parameters: Assignment) -> Self {
        NewTrial {
            parameters,
            labels: Labels::new(),
        }
    }
}

/// What a search algorithm sees of one trial.
#[derive(Debug, Clone, PartialEq)]
pub struct TrialView {
    pub name: String,
    pub parameters: Assignment,
    pub status: TrialStatus,
    /// The (first) objective's value by its strategy, when reported.
    pub objective: Option<f64>,
    /// Every objective's value in spec order, for an experiment with several objectives,
    /// once the trial reported all of them; empty otherwise (see [`TrialView::values`]).
    pub objectives: Vec<f64>,
    /// Intermediate objective values `(step, value)`, kept only for algorithms that ask for
    /// them (see `Suggester::needs_intermediate`), so that long sweeps stay small in memory.
    pub intermediate: Vec<(i64, f64)>,
    /// The labels the algorithm gave the trial when it suggested it.
    pub labels: Labels,
}

impl TrialView {
    /// Every objective's value: `objectives` when the experiment has several, else the
    /// single objective's. `None` until the trial has reported them all.
    pub fn values(&self) -> Option<Vec<f64>> {
        if self.objectives.is_empty() {
            self.objective.map(|v| vec![v])
        } else {
            Some(self.objectives.clone())
        }
    }
}
