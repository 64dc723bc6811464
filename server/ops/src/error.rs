//! The one error type of every operation: the failure as one sentence, and whose move it is.

use lambda_deploy::artifacts::ArtifactError;
use lambda_deploy::aws::AwsError;
use lambda_deploy::deploy::DeployError;
use lambda_deploy::invoke::{InvokeError, PayloadError};
use lambda_deploy::package::PackageError;
use lambda_deploy::profiles::ProfileError;
use lambda_deploy::project::ProjectError;
use lambda_deploy::pull::PullError;
use lambda_deploy::requirements::RequirementsError;
use lambda_deploy::spec::SpecError;
use lambda_local::LocalError;

/// Whose move it is after a failure; decides the CLI's exit code and the JSON-RPC error code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Blame {
    /// The request: an argument, the function's code, the payload. Fix it and ask again.
    Input,
    /// The setup: a profile, its region or credentials, `lambda.toml`.
    Config,
    /// AWS or the local Lambda refused or failed.
    Remote,
    /// The user cancelled.
    Cancelled,
    /// A bug: a panic or a task that stopped unexpectedly.
    Internal,
}

/// Why an operation did not do what was asked. `Display` is the one sentence users see (what
/// failed, naming the service, endpoint and profile where there is one, and what to do); it
/// never holds credentials, only profiles, files and AWS error codes.
#[derive(Debug, thiserror::Error)]
pub enum OpError {
    /// A request the front end could not make sense of, in its own words (`--since`, a file).
    #[error("{0}")]
    Usage(String),
    #[error(transparent)]
    Spec(#[from] SpecError),
    #[error(transparent)]
    Package(#[from] PackageError),
    #[error(transparent)]
    Payload(#[from] PayloadError),
    #[error(transparent)]
    Requirements(#[from] RequirementsError),
    #[error(transparent)]
    Profile(#[from] ProfileError),
    #[error(transparent)]
    Project(#[from] ProjectError),
    /// Boxed, as the other large ones: every `Result` of this crate carries an `OpError`.
    #[error(transparent)]
    Aws(Box<AwsError>),
    /// A deploy that AWS accepted but that did not end well (a failed update, a wait that ran
    /// out). Its AWS errors are [`OpError::Aws`].
    #[error(transparent)]
    Deploy(Box<DeployError>),
    /// A pull that did not end well; its AWS errors are [`OpError::Aws`].
    #[error(transparent)]
    Pull(Box<PullError>),
    #[error("cannot start the local Lambda: {0}")]
    Local(#[from] LocalError),
    /// A failure on the remote side that the front end words itself (a function not deployed).
    #[error("{0}")]
    Remote(String),
    #[error("{what} was cancelled")]
    Cancelled { what: String },
    #[error("{what} stopped on an internal error; the lambda-ls log has the details")]
    Internal { what: String },
}

impl OpError {
    /// Whose move it is.
    pub fn blame(&self) -> Blame {
        match self {
            OpError::Usage(_)
            | OpError::Spec(_)
            | OpError::Package(_)
            | OpError::Payload(_)
            | OpError::Requirements(_) => Blame::Input,
            OpError::Profile(_) | OpError::Project(_) => Blame::Config,
            OpError::Aws(e) if e.needs_profile_fix() => Blame::Config,
            // A function lambda-ls cannot pull, or a folder it cannot pull into.
            OpError::Pull(e)
                if matches!(
                    **e,
                    PullError::NotEmpty { .. }
                        | PullError::Image { .. }
                        | PullError::Runtime { .. }
                        | PullError::Write { .. }
                ) =>
            {
                Blame::Input
            }
            OpError::Aws(_)
            | OpError::Deploy(_)
            | OpError::Pull(_)
            | OpError::Local(_)
            | OpError::Remote(_) => Blame::Remote,
            OpError::Cancelled { .. } => Blame::Cancelled,
            OpError::Internal { .. } => Blame::Internal,
        }
    }

    /// The sentence, where a missing function also says where to look for the ones that exist
    /// (`not_found_hint`: a CLI command or an editor command).
    pub fn sentence(&self, not_found_hint: &str) -> String {
        match self {
            OpError::Aws(e) if e.is_not_found() => match &**e {
                AwsError::Service { message, .. } => format!("{message}; {not_found_hint}"),
                other => other.to_string(),
            },
            other => other.to_string(),
        }
    }

    /// Whether the function (or what the call named) does not exist.
    pub fn is_not_found(&self) -> bool {
        matches!(self, OpError::Aws(e) if e.is_not_found())
    }

    /// A panicked or aborted task, named by what it was doing.
    pub fn stopped(what: &str, e: &tokio::task::JoinError) -> Self {
        if e.is_cancelled() {
            OpError::Cancelled {
                what: what.to_string(),
            }
        } else {
            tracing::error!("{what} stopped: {e}");
            OpError::Internal {
                what: what.to_string(),
            }
        }
    }
}

impl From<AwsError> for OpError {
    fn from(e: AwsError) -> Self {
        OpError::Aws(Box::new(e))
    }
}

impl From<DeployError> for OpError {
    fn from(e: DeployError) -> Self {
        match e {
            DeployError::Aws(a) | DeployError::Artifact(ArtifactError::Aws(a)) => a.into(),
            other => OpError::Deploy(Box::new(other)),
        }
    }
}

impl From<PullError> for OpError {
    fn from(e: PullError) -> Self {
        match e {
            PullError::Aws(a) => a.into(),
            other => OpError::Pull(Box::new(other)),
        }
    }
}

impl From<InvokeError> for OpError {
    fn from(e: InvokeError) -> Self {
        match e {
            InvokeError::Payload(p) => OpError::Payload(p),
            InvokeError::Aws(a) => a.into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_class_has_its_blame() {
        let denied_profile = AwsError::NoRegion {
            profile: "dev".into(),
        };
        assert_eq!(OpError::from(denied_profile).blame(), Blame::Config);
        assert_eq!(
            OpError::from(PullError::NotEmpty { dir: "x".into() }).blame(),
            Blame::Input
        );
        assert_eq!(
            OpError::from(PullError::Hostile("a link".into())).blame(),
            Blame::Remote
        );
        assert_eq!(OpError::Usage("bad".into()).blame(), Blame::Input);
    }
}
