//! Errors: `LocalError` for the embedding program, `ApiError` for AWS-shaped HTTP answers.

use std::path::PathBuf;

/// Why the local Lambda could not start.
#[derive(Debug, thiserror::Error)]
pub enum LocalError {
    /// The data directory cannot be created, written or read (missing permission, full disk, ...).
    #[error("the local Lambda data directory {path} is not usable: {error}")]
    DataDir {
        path: PathBuf,
        error: std::io::Error,
    },
    /// Another local Lambda is using the same data directory; `endpoint` is where it serves,
    /// so the caller can use that one instead.
    #[error("the local Lambda data directory {path} is in use by another running local Lambda{}", .endpoint.as_deref().map(|e| format!(" at {e}")).unwrap_or_default())]
    InUse {
        path: PathBuf,
        endpoint: Option<String>,
    },
    /// 127.0.0.1 on the requested port cannot be bound.
    #[error("cannot listen on 127.0.0.1:{port}: {error}")]
    Bind { port: u16, error: std::io::Error },
}

/// A disk operation that failed, naming the file so a full or read-only disk is obvious.
#[derive(Debug, thiserror::Error)]
#[error("cannot write {path}: {error}")]
pub(crate) struct StoreError {
    pub path: PathBuf,
    pub error: std::io::Error,
}

impl StoreError {
    pub(crate) fn at(path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> StoreError {
        let path = path.into();
        move |error| StoreError { path, error }
    }
}

/// An error answer of the Lambda REST-JSON protocol: status, `x-amzn-ErrorType`, message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{kind} ({status}): {message}")]
pub(crate) struct ApiError {
    pub status: u16,
    pub kind: &'static str,
    pub message: String,
}

impl ApiError {
    pub(crate) fn new(status: u16, kind: &'static str, message: impl Into<String>) -> ApiError {
        ApiError {
            status,
            kind,
            message: message.into(),
        }
    }

    pub(crate) fn not_found(message: impl Into<String>) -> ApiError {
        ApiError::new(404, "ResourceNotFoundException", message)
    }

    pub(crate) fn function_not_found(arn: &str) -> ApiError {
        ApiError::not_found(format!("Function not found: {arn}"))
    }

    pub(crate) fn conflict(message: impl Into<String>) -> ApiError {
        ApiError::new(409, "ResourceConflictException", message)
    }

    pub(crate) fn invalid(message: impl Into<String>) -> ApiError {
        ApiError::new(400, "InvalidParameterValueException", message)
    }

    /// A request that breaks the API model's constraints (pattern, enum, range), as AWS's
    /// request validation answers it: "1 validation error detected: ...".
    pub(crate) fn validation(message: impl Into<String>) -> ApiError {
        ApiError::new(400, "ValidationException", message)
    }

    pub(crate) fn precondition(message: impl Into<String>) -> ApiError {
        ApiError::new(412, "PreconditionFailedException", message)
    }

    pub(crate) fn service(message: impl Into<String>) -> ApiError {
        ApiError::new(500, "ServiceException", message)
    }

    /// AWS's answer to a change while an earlier one is still being applied.
    pub(crate) fn update_in_progress(arn: &str) -> ApiError {
        ApiError::conflict(format!(
            "The operation cannot be performed at this time. An update is in progress for resource: {arn}"
        ))
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> ApiError {
        tracing::error!("{e}");
        ApiError::service(e.to_string())
    }
}
