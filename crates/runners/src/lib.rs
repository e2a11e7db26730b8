//! Trial runners: the places a trial can run. Each implements the controller's
//! [`ferrotune_controller::TrialRunner`], so the controller never knows which one it drives.
//!
//! - [`LocalRunner`]: processes of this machine.
//! - [`RayRunner`]: a Ray cluster: each trial a Ray task run by one driver job per
//!   experiment (tasks mode), or each trial its own Ray job (jobs mode).
//!
//! [`Runners`] picks one per experiment (its `spec.runner`, else the command's choice) and
//! keeps one runner per place, shared by every experiment that runs there.

pub mod error;
pub mod local;
mod plan;
pub mod ray;
pub mod select;

pub use error::RunnerError;
pub use local::LocalRunner;
pub use plan::ENV_TRIAL_DIR;
pub use ray::{RayConfig, RayRunner};
pub use select::{RunnerSetting, Runners};
