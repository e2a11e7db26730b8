//! The loop every algorithm's settings go through: each `(name, value)` is applied, and each
//! refused value becomes an error with its field path and what the setting takes.

use ferrotune_core::FieldError;

/// Applies `settings` to `s` with `set` (false: the value is not acceptable; names that
/// are not the algorithm's are left to their owners), reporting every refused value at
/// `spec.algorithm.algorithmSettings[i].value` with `expectation(name)`.
pub(crate) fn apply<S>(
    mut s: S,
    settings: &[(String, String)],
    set: impl Fn(&mut S, &str, &str) -> bool,
    expectation: impl Fn(&str) -> String,
) -> Result<S, Vec<FieldError>> {
    let errors: Vec<FieldError> = settings
        .iter()
        .enumerate()
        .filter(|(_, (key, value))| !set(&mut s, key, value.trim()))
        .map(|(i, (key, value))| {
            FieldError::new(
                format!("spec.algorithm.algorithmSettings[{i}].value"),
                format!("{}, got {value:?}", expectation(key)),
            )
        })
        .collect();
    if errors.is_empty() {
        Ok(s)
    } else {
        Err(errors)
    }
}
