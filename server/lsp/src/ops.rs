//! Steps that the command line and the language server compose the same way.
//!
//! Function settings come from one place ([`function_spec`]) so that a project file such as
//! `lambda.toml` can later feed both front ends at once.

use lambda_deploy::aws::AwsError;
use lambda_deploy::package::{self, Package, PackageError, PackageRequest, ResolvedTarget};
use lambda_deploy::profiles::{ProfileInfo, ProfileListing, LOCAL_PROFILE};
use lambda_deploy::spec::FunctionSpec;

/// Why packaging produced no zip.
#[derive(Debug, thiserror::Error)]
pub enum PackagingError {
    #[error(transparent)]
    Package(#[from] PackageError),
    /// The blocking task panicked or was dropped by a runtime shutdown.
    #[error("packaging stopped unexpectedly: {0}")]
    Stopped(#[from] tokio::task::JoinError),
}

/// Packaging reads and compresses files: keep it off the async workers.
pub async fn package(req: PackageRequest) -> Result<Package, PackagingError> {
    Ok(tokio::task::spawn_blocking(move || package::build_package(&req)).await??)
}

/// The spec a resolved target deploys with: the given name or `<module>-<function>`, the handler
/// string of its mode, and Lambda's defaults for everything else.
pub fn function_spec(resolved: &ResolvedTarget, name: Option<String>) -> FunctionSpec {
    FunctionSpec::new(
        name.unwrap_or_else(|| resolved.default_name()),
        resolved.handler(),
    )
}

/// The user's profiles followed by the built-in `local` one (unless a file defines `local`).
pub fn profiles_with_local(listing: &ProfileListing) -> Vec<ProfileInfo> {
    let mut all = listing.profiles.clone();
    if listing.get(LOCAL_PROFILE).is_none() {
        all.push(ProfileInfo::local());
    }
    all
}

/// AWS errors as one sentence that says what to do; `not_found_hint` tells where to look for
/// the functions that do exist (a CLI command or an editor command).
pub fn aws_sentence(e: &AwsError, not_found_hint: &str) -> String {
    match e {
        AwsError::Service { code, message, .. } if code == "ResourceNotFoundException" => {
            format!("{message}; {not_found_hint}")
        }
        AwsError::Service { code, message, .. }
            if code.contains("AccessDenied") || code.contains("Unauthorized") =>
        {
            format!(
                "AWS refused the call: {message}; the profile's credentials lack this permission"
            )
        }
        AwsError::Service { code, message, .. }
            if code == "ExpiredTokenException" || code == "ExpiredToken" =>
        {
            format!("the credentials have expired ({message}); log in again (e.g. `aws sso login`) and retry")
        }
        other => other.to_string(),
    }
}
