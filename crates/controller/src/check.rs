//! Validation of a whole experiment document: the core's structural rules plus the
//! algorithms' own, so that `validate`, `run` and (later) the server agree.

use ferrotune_core::FieldError;
use ferrotune_core::SearchSpace;
use ferrotune_core::load::LoadedDoc;
use ferrotune_core::validate::{AlgorithmCheck, AlgorithmSpec, Experiment};

struct Registry;

impl AlgorithmCheck for Registry {
    fn check_algorithm(
        &self,
        algorithm: &AlgorithmSpec,
        space: &SearchSpace,
        objectives: usize,
    ) -> Vec<FieldError> {
        ferrotune_algorithms::validate(&algorithm.name, &algorithm.settings, space, objectives)
    }

    fn algorithm_notes(&self, algorithm: &AlgorithmSpec) -> Vec<String> {
        ferrotune_algorithms::notes(&algorithm.name, &algorithm.settings)
    }

    fn check_early_stopping(&self, rule: &AlgorithmSpec) -> Vec<FieldError> {
        ferrotune_algorithms::stopping::validate_rule(&rule.name, &rule.settings)
    }
}

/// Validates one loaded document completely: every problem comes back at once.
pub fn validate_document(doc: &LoadedDoc) -> Result<Experiment, Vec<FieldError>> {
    ferrotune_core::validate(doc, &Registry)
}
