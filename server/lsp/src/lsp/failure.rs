//! Why a request did not do what the user asked, as one actionable sentence.
//!
//! The sentence goes to `window/showMessage`; the detail (the error chain) goes to
//! `window/logMessage` and tracing. Neither ever holds credentials: the deploy core's errors only
//! name profiles, files and AWS error codes.

use lambda_deploy::aws::AwsError;
use lambda_deploy::deploy::DeployError;
use lambda_deploy::invoke::{InvokeError, PayloadError};
use lambda_deploy::package::PackageError;
use lambda_deploy::profiles::ProfileError;
use lambda_deploy::spec::SpecError;

use crate::ops::PackagingError;
use crate::target::TargetError;

/// Where to look when a function does not exist, in editor terms.
const NOT_FOUND_HINT: &str =
    "deploy it first (the Deploy lens) or run `lambda.listFunctions` to see what exists";

/// What kind of failure, which decides the JSON-RPC error code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailureKind {
    /// Bad arguments, settings, code or configuration: the user can fix it here.
    Input,
    /// AWS or the local Lambda refused or failed.
    Remote,
    /// The user cancelled.
    Cancelled,
    /// A bug: a panic or a task that stopped unexpectedly.
    Internal,
}

#[derive(Debug, Clone)]
pub struct Failure {
    pub kind: FailureKind,
    pub sentence: String,
    /// Set once the sentence was shown, so a coalesced request does not show it again.
    pub reported: bool,
}

impl Failure {
    pub fn input(sentence: impl Into<String>) -> Self {
        Failure::new(FailureKind::Input, sentence)
    }

    pub fn remote(sentence: impl Into<String>) -> Self {
        Failure::new(FailureKind::Remote, sentence)
    }

    pub fn cancelled(sentence: impl Into<String>) -> Self {
        Failure::new(FailureKind::Cancelled, sentence)
    }

    pub fn internal(sentence: impl Into<String>) -> Self {
        Failure::new(FailureKind::Internal, sentence)
    }

    fn new(kind: FailureKind, sentence: impl Into<String>) -> Self {
        Failure {
            kind,
            sentence: sentence.into(),
            reported: false,
        }
    }

    /// A panicked or aborted task, named by what it was doing.
    pub fn stopped(what: &str, e: &tokio::task::JoinError) -> Self {
        if e.is_cancelled() {
            Failure::cancelled(format!("{what} was cancelled"))
        } else {
            Failure::internal(format!(
                "{what} stopped on an internal error; the lambda-ls log has the details"
            ))
        }
    }

    /// Whether the user should see it as a message (a cancel is their own doing).
    pub fn should_show(&self) -> bool {
        !self.reported && self.kind != FailureKind::Cancelled
    }
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.sentence)
    }
}

impl From<SpecError> for Failure {
    fn from(e: SpecError) -> Self {
        Failure::input(e.to_string())
    }
}
impl From<PackageError> for Failure {
    fn from(e: PackageError) -> Self {
        Failure::input(e.to_string())
    }
}
impl From<PayloadError> for Failure {
    fn from(e: PayloadError) -> Self {
        Failure::input(e.to_string())
    }
}
impl From<ProfileError> for Failure {
    fn from(e: ProfileError) -> Self {
        Failure::input(e.to_string())
    }
}
impl From<AwsError> for Failure {
    fn from(e: AwsError) -> Self {
        let sentence = crate::ops::aws_sentence(&e, NOT_FOUND_HINT);
        if e.needs_profile_fix() {
            Failure::input(sentence)
        } else {
            Failure::remote(sentence)
        }
    }
}
impl From<TargetError> for Failure {
    fn from(e: TargetError) -> Self {
        match e {
            TargetError::Profile(p) => p.into(),
            TargetError::Aws(a) => a.into(),
            TargetError::Local(l) => Failure::remote(format!("cannot start the local Lambda: {l}")),
        }
    }
}
impl From<DeployError> for Failure {
    fn from(e: DeployError) -> Self {
        match e {
            DeployError::Aws(a) => a.into(),
            DeployError::Artifact(lambda_deploy::artifacts::ArtifactError::Aws(a)) => a.into(),
            other => Failure::remote(other.to_string()),
        }
    }
}
impl From<InvokeError> for Failure {
    fn from(e: InvokeError) -> Self {
        match e {
            InvokeError::Payload(p) => p.into(),
            InvokeError::Aws(a) => a.into(),
        }
    }
}
impl From<PackagingError> for Failure {
    fn from(e: PackagingError) -> Self {
        match e {
            PackagingError::Package(p) => p.into(),
            PackagingError::Stopped(j) => Failure::stopped("packaging", &j),
        }
    }
}
impl From<lambda_deploy::project::ProjectError> for Failure {
    fn from(e: lambda_deploy::project::ProjectError) -> Self {
        Failure::input(e.to_string())
    }
}
impl From<crate::ops::PipelineError> for Failure {
    fn from(e: crate::ops::PipelineError) -> Self {
        use crate::ops::PipelineError;
        match e {
            PipelineError::Packaging(p) => p.into(),
            PipelineError::Requirements(r) => Failure::input(r.to_string()),
            PipelineError::Deploy(d) => d.into(),
            PipelineError::Aws(a) => a.into(),
        }
    }
}
