//! Search algorithms: pure, synchronous, seeded, no I/O.
//!
//! Each algorithm lives in its own file and implements [`Suggester`]. Randomness comes from
//! the experiment's seed only, so a sweep is reproducible and a resumed one continues the
//! same sequence. [`build`] and [`validate`] are the only ways in that know algorithm names.

pub mod bayesopt;
pub mod bohb;
pub mod cmaes;
mod domain;
pub mod grid;
mod halves;
pub mod hyperband;
mod ladder;
mod normal;
pub mod nsga2;
pub mod pbt;
pub mod random;
pub mod registry;
mod settings;
pub mod sobol;
pub mod stopping;
#[cfg(test)]
mod testing;
pub mod tpe;

pub use bayesopt::BayesOpt;
pub use bohb::{Bohb, BohbSettings};
pub use cmaes::CmaEs;
pub use grid::GridSearch;
pub use hyperband::{Hyperband, HyperbandSettings};
pub use nsga2::{Nsga2, Nsga2Settings};
pub use pbt::{Pbt, PbtSettings};
pub use random::RandomSearch;
pub use registry::{
    IMPLEMENTED, KATIB_NOT_YET, MULTI_OBJECTIVE, build, notes, seed_from_settings, validate,
};
pub use sobol::SobolSearch;
pub use tpe::{TpeSearch, TpeSettings};

use ferrotune_core::{Assignment, FieldError, NewTrial, ObjectiveType, SearchSpace, TrialView};

/// What an algorithm answers when asked for new trials.
#[derive(Debug, Clone, PartialEq)]
pub enum Suggestions {
    /// Between 1 and `n` new assignments (fewer when fewer are left).
    Assignments(Vec<Assignment>),
    /// As `Assignments`, with labels kept with each trial (e.g. PBT's parent, see
    /// [`ferrotune_core::PARENT_LABEL`]); the history shows them in `TrialView::labels`.
    Trials(Vec<NewTrial>),
    /// Nothing now: ask again when a running trial has finished (e.g. Hyperband waiting for
    /// a rung to complete). With nothing running, the controller takes it as `Exhausted`.
    Wait,
    /// Nothing new will ever come: the experiment can end once running trials finish.
    Exhausted,
}

/// The crate's errors: bad settings are reported per field, like the core's validation.
#[derive(Debug, thiserror::Error)]
pub enum AlgorithmError {
    /// The algorithm name, its settings or the search space do not suit the algorithm.
    #[error("{}", .0.iter().map(|e| e.to_string()).collect::<Vec<_>>().join("\n"))]
    Settings(Vec<FieldError>),
    /// Something that validation should have prevented (a bug, or corrupt saved state).
    #[error("algorithm error: {0}")]
    Internal(String),
}

/// What every algorithm gets when built.
#[derive(Debug, Clone, PartialEq)]
pub struct AlgorithmContext {
    /// `spec.algorithm.algorithmName`, which [`build`] dispatches on.
    pub algorithm: String,
    pub space: SearchSpace,
    /// Every objective's direction in spec order; one for a single-objective experiment.
    pub objectives: Vec<ObjectiveType>,
    /// The experiment's stored seed: the only source of randomness.
    pub seed: u64,
    /// `spec.algorithm.algorithmSettings` as `(name, value)`, in file order.
    pub settings: Vec<(String, String)>,
}

impl AlgorithmContext {
    /// The (first) objective's direction: all that single-objective algorithms use.
    pub fn objective(&self) -> ObjectiveType {
        self.objectives
            .first()
            .copied()
            .unwrap_or(ObjectiveType::Minimize)
    }
}

/// A search algorithm, driven by the controller.
pub trait Suggester: Send {
    /// Up to `n` new assignments given every trial so far (including running and pending
    /// ones), or `Exhausted`. `n = 0` gives an empty list.
    fn suggest(&mut self, history: &[TrialView], n: usize) -> Result<Suggestions, AlgorithmError>;

    /// Whether the controller must fill `TrialView::intermediate` (default false), so that
    /// algorithms that do not need them cost no memory.
    fn needs_intermediate(&self) -> bool {
        false
    }

    /// Whether `trial` has trained as long as the algorithm wants it to (e.g. one PBT
    /// segment), so that the controller ends it as completed; asked as its intermediate
    /// values arrive, when `needs_intermediate` is true. Default: the trial decides.
    fn budget_spent(&self, _trial: &TrialView) -> Option<String> {
        None
    }

    /// Opaque state to persist after each `suggest` (default `None`: the history is enough).
    fn state(&self) -> Option<serde_json::Value> {
        None
    }

    /// Restores what `state` returned, after a restart.
    fn restore(&mut self, _state: serde_json::Value) -> Result<(), AlgorithmError> {
        Ok(())
    }

    /// Whether this instance, whatever it was asked before, suggests exactly what a new one
    /// built alike would for the same history (what it keeps between calls is only a hint
    /// that saves time): then a stateless service such as Katib's may keep it for the
    /// experiment's next call. Default false.
    fn reusable(&self) -> bool {
        false
    }
}
