//! Validation of a whole experiment document: the core's structural rules plus the
//! algorithms' own, so that `validate`, `run` and (later) the server agree.

use ferrotune_core::FieldError;
use ferrotune_core::SearchSpace;
use ferrotune_core::load::{LoadedDoc, did_you_mean};
use ferrotune_core::validate::{AlgorithmCheck, AlgorithmSpec, Experiment};

/// Early-stopping rules ferrotune will accept (none are implemented yet).
const EARLY_STOPPING_KNOWN: &[&str] = &["medianstop"];

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

    fn check_early_stopping(&self, rule: &AlgorithmSpec) -> Vec<FieldError> {
        let path = "spec.earlyStopping.algorithmName";
        if EARLY_STOPPING_KNOWN.contains(&rule.name.as_str()) {
            vec![FieldError::new(
                path,
                format!(
                    "early stopping {:?} is not supported yet by ferrotune; remove spec.earlyStopping to run without it",
                    rule.name
                ),
            )]
        } else {
            let hint = did_you_mean(&rule.name, EARLY_STOPPING_KNOWN.iter().copied())
                .map(|s| format!(", did you mean {s:?}?"))
                .unwrap_or_default();
            vec![FieldError::new(
                path,
                format!(
                    "unknown early-stopping algorithm {:?} (Katib knows: medianstop){hint}",
                    rule.name
                ),
            )]
        }
    }
}

/// Validates one loaded document completely: every problem comes back at once.
pub fn validate_document(doc: &LoadedDoc) -> Result<Experiment, Vec<FieldError>> {
    ferrotune_core::validate(doc, &Registry)
}
