//! The server's errors, mapped to gRPC statuses in one place: bad requests name their field.

use ferrotune_algorithms::AlgorithmError;
use ferrotune_api::convert::ConvertError;
use ferrotune_api::native::FieldProblem;
use ferrotune_controller::{ControllerError, IngestError, LifecycleError};
use ferrotune_core::FieldError;
use ferrotune_store::StoreError;
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
    /// A request that is not the protobuf message it should be, answered as tonic's
    /// generated services answer it (INTERNAL, with prost's message).
    #[error(transparent)]
    Decode(prost::DecodeError),
    /// Nothing by that name, or nothing the caller may see.
    #[error("{0}")]
    NotFound(String),
    /// No token, or one the server does not know.
    #[error("{0}")]
    Unauthenticated(String),
    /// The name is taken (a study's, with a message that says what to do instead).
    #[error("{0}")]
    AlreadyExists(String),
    #[error(transparent)]
    Store(StoreError),
    #[error(transparent)]
    Lifecycle(#[from] LifecycleError),
    #[error(transparent)]
    Controller(#[from] ControllerError),
    #[error(transparent)]
    Ingest(#[from] IngestError),
    #[error(transparent)]
    Field(#[from] FieldProblem),
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
            ServerError::Algorithm(AlgorithmError::Internal(_))
            | ServerError::Internal(_)
            | ServerError::Decode(_) => Status::internal(message),
            ServerError::Unavailable(_) => Status::unavailable(message),
            ServerError::FailedPrecondition(_)
            | ServerError::Lifecycle(LifecycleError::Refused(_)) => {
                Status::failed_precondition(message)
            }
            ServerError::NotFound(_) | ServerError::Ingest(IngestError::NotRunning(_)) => {
                Status::not_found(message)
            }
            ServerError::Unauthenticated(_) => Status::unauthenticated(message),
            // Retryable: the SDKs back off and send again.
            ServerError::Ingest(IngestError::Busy { .. }) => Status::unavailable(message),
            ServerError::AlreadyExists(_) => Status::already_exists(message),
            ServerError::Field(_)
            | ServerError::Ingest(IngestError::Invalid { .. } | IngestError::Ambiguous(_))
            | ServerError::Lifecycle(LifecycleError::Document(_) | LifecycleError::Invalid(_)) => {
                Status::invalid_argument(message)
            }
            ServerError::Store(e)
            | ServerError::Lifecycle(LifecycleError::Store(e))
            | ServerError::Controller(ControllerError::Store(e)) => store_status(e),
            ServerError::Controller(ControllerError::Algorithm(_)) => Status::internal(message),
        }
    }
}

fn store_status(e: StoreError) -> Status {
    let message = e.to_string();
    match e {
        StoreError::AlreadyExists { .. } => Status::already_exists(message),
        StoreError::ExperimentNotFound { .. }
        | StoreError::ExperimentIdNotFound(_)
        | StoreError::TrialNotFound(_) => Status::not_found(message),
        // A busy or restarting database passes: callers may retry.
        StoreError::Database(_) => Status::unavailable(message),
        StoreError::Migrate(_) | StoreError::Corrupt(_) => Status::internal(message),
    }
}

impl From<StoreError> for ServerError {
    fn from(e: StoreError) -> Self {
        ServerError::Store(e)
    }
}
