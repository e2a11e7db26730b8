//! Trial runners: the places a trial can run. Each implements the controller's
//! [`ferrotune_controller::TrialRunner`], so the controller never knows which one it drives.

pub mod local;

pub use local::LocalRunner;
