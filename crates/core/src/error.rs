//! The core crate's errors.

use std::fmt;

/// One problem in an experiment file, tied to the field it concerns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldError {
    /// Dotted path such as `spec.parameters[1].feasibleSpace`.
    pub path: String,
    pub message: String,
}

impl FieldError {
    pub fn new(path: impl Into<String>, message: impl Into<String>) -> Self {
        FieldError {
            path: path.into(),
            message: message.into(),
        }
    }
}

impl fmt::Display for FieldError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.path.is_empty() {
            f.write_str(&self.message)
        } else {
            write!(f, "{}: {}", self.path, self.message)
        }
    }
}

/// Errors of the core crate.
#[derive(Debug, thiserror::Error)]
pub enum CoreError {
    /// The text is not YAML or JSON at all.
    #[error("{0}")]
    Syntax(String),
    /// The document parsed, but some fields are wrong; every problem is listed.
    #[error("{}", .0.iter().map(|e| e.to_string()).collect::<Vec<_>>().join("\n"))]
    Invalid(Vec<FieldError>),
    /// A metrics-format regex does not compile.
    #[error("metrics format {pattern:?}: {reason}")]
    BadRegex { pattern: String, reason: String },
}
