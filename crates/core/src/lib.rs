//! ferrotune's shared vocabulary: the Experiment spec (Katib's and the native format), its
//! validation, the search space, trials and their observations, metric parsing and the
//! template substitution that turns a trial template into a command line.
//!
//! Everything here is pure and synchronous, so the CLI, the server, the operator and the
//! algorithms agree on one definition of an experiment.

pub mod error;
pub mod load;
pub mod metrics;
pub mod pareto;
pub mod placement;
pub mod space;
pub mod spec;
pub mod substitute;
pub mod template;
pub mod trial;
pub mod validate;
pub mod value;

pub use error::{CoreError, FieldError};
pub use space::{Distribution, Domain, Parameter, SearchSpace};
pub use trial::{
    Labels, MetricStrategy, MetricSummary, NewTrial, ObjectiveType, Observation, PARENT_LABEL,
    TrialStatus, TrialView,
};
pub use validate::{Experiment, validate};
pub use value::{Assignment, ParamValue};
