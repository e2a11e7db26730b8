//! The server's errors, mapped to gRPC statuses in one place: bad requests name their field.

use ferrotune_algorithms::AlgorithmError;
use ferrotune_api::convert::ConvertError;
use ferrotune_core::FieldError;
use tonic::Status;

/// Why a request failed.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    /// Fields of the request that are missing or wrong, every one of them.
    #[error("{}", .0.iter().map(|e| e.to_string()).collect::<Vec<_>>().join("; "))]
    Invalid(Vec<FieldError>),
    #[error(transparent)]
    Convert(#[from] ConvertError),
    #[error(transparent)]
    Algorithm(#[from] AlgorithmError),
    /// A service this one depends on (Katib's DB manager) did not answer as needed.
    #[error("{0}")]
    Unavailable(String),
    /// What the request asks cannot be done with this configuration.
    #[error("{0}")]
    FailedPrecondition(String),
    #[error("internal error: {0}")]
    Internal(String),
}

impl ServerError {
    /// One bad field.
    pub fn field(path: &str, message: impl Into<String>) -> Self {
        ServerError::Invalid(vec![FieldError::new(path, message)])
    }
}

impl From<ServerError> for Status {
    fn from(e: ServerError) -> Status {
        let message = e.to_string();
        match e {
            ServerError::Invalid(_) | ServerError::Convert(_) => Status::invalid_argument(message),
            ServerError::Algorithm(AlgorithmError::Settings(_)) => {
                Status::invalid_argument(message)
            }
            ServerError::Algorithm(AlgorithmError::Internal(_)) | ServerError::Internal(_) => {
                Status::internal(message)
            }
            ServerError::Unavailable(_) => Status::unavailable(message),
            ServerError::FailedPrecondition(_) => Status::failed_precondition(message),
        }
    }
}
