//! The runners crate's errors.

/// Errors of the runners crate. A trial that cannot start is not one of them: it is
/// reported to the controller as a failed start of that trial.
#[derive(Debug, thiserror::Error)]
pub enum RunnerError {
    /// Ray's dashboard did not answer, or not as Ray's Job API.
    #[error("Ray at {address}: {reason}")]
    RayUnreachable { address: String, reason: String },
    /// Ray answered a request with an error (its errors are plain text).
    #[error("Ray at {address}: {what}: HTTP {status}: {body}")]
    RayApi {
        address: String,
        what: String,
        status: u16,
        body: String,
    },
    /// The runner asked for cannot be used as configured.
    #[error("{0}")]
    Config(String),
}
