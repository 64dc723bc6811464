//! Steps that the command line and the language server compose the same way.
//!
//! Function settings come from one place ([`function_spec`]): Lambda's defaults, then
//! `lambda.toml`, then what the front end was told; and one pipeline ([`run_deploy`]) packages,
//! attaches requirements and deploys for both front ends.

use lambda_deploy::aws::{AwsError, Connection};
use lambda_deploy::deploy::{self, DeployError, DeployOutcome, DeployRequest, Progress};
use lambda_deploy::maintain;
use lambda_deploy::package::{
    self, DeployMode, Package, PackageError, PackageRequest, ResolvedTarget,
};
use lambda_deploy::profiles::{ProfileInfo, ProfileListing, LOCAL_PROFILE};
use lambda_deploy::project::{self, ProjectError, Settings};
use lambda_deploy::requirements::{self, RequirementsError};
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

/// The spec a resolved target deploys with: Lambda's defaults, overlaid by the project's
/// `lambda.toml` (defaults, then the function's entry), overlaid by `overrides` (command-line
/// flags or command arguments). `callable = true` in the file switches the target's mode.
pub fn function_spec(
    resolved: &mut ResolvedTarget,
    overrides: &Settings,
) -> Result<(FunctionSpec, Settings), ProjectError> {
    let project = project::load_project(&resolved.root)?.unwrap_or_default();
    let settings = project
        .settings_for(&resolved.root, &resolved.file, &resolved.function.name)
        .overlay(overrides);
    if settings.callable == Some(true) {
        resolved.mode = DeployMode::Callable;
    }
    let mut spec = FunctionSpec::new(
        settings
            .name
            .clone()
            .unwrap_or_else(|| resolved.default_name()),
        resolved.handler(),
    );
    settings.apply(&mut spec);
    Ok((spec, settings))
}

/// Why the deploy pipeline stopped.
#[derive(Debug, thiserror::Error)]
pub enum PipelineError {
    #[error(transparent)]
    Packaging(#[from] PackagingError),
    #[error(transparent)]
    Requirements(#[from] RequirementsError),
    #[error(transparent)]
    Deploy(#[from] DeployError),
    #[error(transparent)]
    Aws(#[from] AwsError),
}

/// What a deploy produced besides the outcome: packaging warnings, and on the local Lambda
/// which interpreter and which build of the requirements run the function.
pub struct Deployed {
    pub outcome: DeployOutcome,
    pub warnings: Vec<String>,
    pub local_run: Option<lambda_local::LocalRun>,
}

/// Package → requirements layer (built once per requirements hash, published once) → deploy →
/// log retention. Cancelling is dropping the future: every step is idempotent.
pub async fn run_deploy(
    conn: &Connection,
    resolved: ResolvedTarget,
    mut spec: FunctionSpec,
    settings: &Settings,
    report: &(dyn Fn(Progress) + Send + Sync),
) -> Result<Deployed, PipelineError> {
    let handler_file = resolved.file.clone();
    let requirements_file =
        requirements::find_requirements(settings.requirements.as_deref(), &handler_file);
    let built = match requirements_file {
        Some(file) => {
            let (runtime, arch) = (spec.runtime.clone(), spec.architecture);
            let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<String>();
            let build = tokio::task::spawn_blocking(move || {
                requirements::build_requirements(&file, &runtime, arch, &|line| {
                    let _ = tx.send(line.to_string());
                })
            });
            while let Some(line) = rx.recv().await {
                report(Progress::InstallingRequirements { line });
            }
            Some(build.await.map_err(PackagingError::Stopped)??)
        }
        None => None,
    };
    // `bundle_requirements = true`: the installed packages go into the function's own zip.
    let vendor = built
        .as_ref()
        .filter(|_| settings.bundle_requirements == Some(true))
        .map(|b| b.dir.join("python"));
    report(Progress::Packaging);
    let req = PackageRequest {
        target: resolved,
        includes: settings.include.clone(),
    };
    let pkg = tokio::task::spawn_blocking(move || package::build_bundle(&req, vendor.as_deref()))
        .await
        .map_err(PackagingError::Stopped)?
        .map_err(PackagingError::Package)?;
    report(Progress::Packaged {
        files: pkg.files.len(),
        bytes: pkg.size,
        code_sha256: pkg.code_sha256.clone(),
    });
    // Lambda's 250 MB is for the function and its layers together.
    let layer_zips: Vec<_> = built
        .iter()
        .filter(|_| settings.bundle_requirements != Some(true))
        .map(|b| b.zip.clone())
        .collect();
    package::check_with_layers(&pkg, &layer_zips).map_err(PackagingError::Package)?;
    // The installed requirements, where the local Lambda will find them (layer or bundle).
    let site_dirs: Vec<_> = built.iter().map(|b| b.dir.join("python")).collect();
    if let Some(built) = built.filter(|_| settings.bundle_requirements != Some(true)) {
        report(Progress::PublishingLayer {
            layer: built.layer_name(),
        });
        let (arn, _) =
            requirements::ensure_layer(conn, &built, &spec.runtime, spec.architecture, report)
                .await?;
        spec.layers.push(arn);
    }
    let outcome = deploy::deploy(
        conn,
        DeployRequest {
            spec: &spec,
            package: &pkg,
        },
        report,
    )
    .await?;
    if let Some(days) = spec.log_retention_days {
        maintain::set_log_retention(conn, &spec.name, days).await?;
    }
    let local_run = if conn.info.local {
        local_run(spec.runtime.as_str(), site_dirs).await
    } else {
        None
    };
    Ok(Deployed {
        outcome,
        warnings: pkg.warnings,
        local_run,
    })
}

/// How the local Lambda will run the function; unknown (logged) rather than a failed deploy.
async fn local_run(
    runtime: &str,
    site_dirs: Vec<std::path::PathBuf>,
) -> Option<lambda_local::LocalRun> {
    match lambda_local::describe_run(runtime, site_dirs).await {
        Ok(run) => Some(run),
        Err(e) => {
            tracing::warn!("cannot tell how the local Lambda runs {runtime}: {e}");
            None
        }
    }
}

/// The user's profiles followed by the built-in `local` one (unless a file defines `local`).
pub fn profiles_with_local(listing: &ProfileListing) -> Vec<ProfileInfo> {
    let mut all = listing.profiles.clone();
    if listing.get(LOCAL_PROFILE).is_none() {
        all.push(ProfileInfo::local());
    }
    all
}

/// AWS errors as their one sentence; a missing function also says where to look for the ones
/// that exist (`not_found_hint`: a CLI command or an editor command).
pub fn aws_sentence(e: &AwsError, not_found_hint: &str) -> String {
    match e {
        AwsError::Service { message, .. } if e.is_not_found() => {
            format!("{message}; {not_found_hint}")
        }
        other => other.to_string(),
    }
}
