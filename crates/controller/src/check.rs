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

/// Validates what a search algorithm needs of a Katib spec (for the stateless Suggestion
/// service), with the same rules and field paths as [`validate_document`].
pub fn validate_search_spec(
    spec: &ferrotune_core::spec::SpecDoc,
) -> Result<ferrotune_core::validate::SearchPart, Vec<FieldError>> {
    ferrotune_core::validate::validate_search(spec, &Registry)
}
