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

/// The runners' shared maps (running trials, drivers) behind a mutex: a holder that
/// panicked cannot have left them half-changed (each change is one insert or remove), so
/// a poisoned lock is taken as it is rather than spreading the panic to every later trial.
pub(crate) fn lock<T>(m: &std::sync::Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// A running trial in a runner shared by experiments: its namespace and name (trial names
/// are unique within a namespace only).
pub(crate) type TrialKey = (String, String);

pub(crate) fn trial_key(namespace: &str, trial: &str) -> TrialKey {
    (namespace.to_string(), trial.to_string())
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    #[test]
    fn a_poisoned_map_is_still_usable() {
        let m = Arc::new(Mutex::new(vec![1]));
        let held = Arc::clone(&m);
        let _ = std::thread::spawn(move || {
            let _guard = held.lock().unwrap();
            panic!("a holder panics");
        })
        .join();
        assert!(m.is_poisoned());
        super::lock(&m).push(2);
        assert_eq!(*super::lock(&m), vec![1, 2]);
    }
}
