//! `deploy` and `package`: settings from one place, and one pipeline for both front ends.
//!
//! Function settings come from [`function_spec`]: Lambda's defaults, then `lambda.toml`, then
//! what the front end was told; [`plan`] resolves and validates a deploy before anything is
//! sent, and [`run`] packages, attaches requirements and deploys.

use std::path::{Path, PathBuf};

use lambda_deploy::aws::Connection;
use lambda_deploy::deploy::{self, DeployOutcome, Progress};
use lambda_deploy::maintain;
use lambda_deploy::package::{self, DeployMode, Package, PackageRequest, ResolvedTarget};
use lambda_deploy::project::{self, ProjectError, Settings};
use lambda_deploy::requirements;
use lambda_deploy::spec::FunctionSpec;

use crate::OpError;

/// `package`: exactly the zip `deploy` would upload.
#[derive(Debug, Clone)]
pub struct PackageTarget {
    pub file: PathBuf,
    pub function: String,
    pub callable: bool,
    pub includes: Vec<PathBuf>,
}

impl PackageTarget {
    /// From `file.py:function` as users write it.
    pub fn parse(
        target: &str,
        callable: bool,
        includes: Vec<PathBuf>,
    ) -> Result<PackageTarget, OpError> {
        let (file, function) = package::parse_target(target)?;
        Ok(PackageTarget {
            file,
            function,
            callable,
            includes,
        })
    }
}

/// Resolves and packages in memory, with `lambda.toml`'s `include`, `callable` and
/// `bundle_requirements` as a deploy takes them (bundled requirements are installed first, pip's
/// lines reported); the package says what is in it. Never reuses an earlier build of this
/// process: packaging is measured from scratch through here.
pub async fn package_target(
    req: PackageTarget,
    report: &(dyn Fn(Progress) + Send + Sync),
) -> Result<Package, OpError> {
    let mut target = package::resolve_target(&req.file, &req.function, req.callable)?;
    let overrides = Settings {
        include: req.includes,
        callable: req.callable.then_some(true),
        ..Settings::default()
    };
    let (spec, settings) = function_spec(&mut target, &overrides)?;
    let vendor = match settings.bundle_requirements {
        Some(true) => install_requirements(&target.file, &spec, &settings, report)
            .await?
            .map(|b| b.dir.join("python")),
        _ => None,
    };
    let req = PackageRequest {
        target,
        includes: settings.include,
    };
    Ok(off_the_workers("packaging", move || {
        package::build_with(&req, vendor.as_deref(), package::Reuse::Nothing)
    })
    .await??)
}

/// `package --out`: the same zip, written to a file.
pub async fn package_to_file(
    req: PackageTarget,
    out: &Path,
    report: &(dyn Fn(Progress) + Send + Sync),
) -> Result<Package, OpError> {
    let pkg = package_target(req, report).await?;
    write_file(out, &pkg.bytes)?;
    Ok(pkg)
}

/// Writes a file the user named; failing is their input's fault (a folder that does not exist).
pub(crate) fn write_file(path: &Path, bytes: &[u8]) -> Result<(), OpError> {
    std::fs::write(path, bytes)
        .map_err(|e| OpError::Usage(format!("cannot write {}: {e}", path.display())))
}

/// Runs file and CPU work on the blocking pool; a panic there is an [`OpError::Internal`].
pub async fn off_the_workers<T: Send + 'static>(
    what: &str,
    f: impl FnOnce() -> T + Send + 'static,
) -> Result<T, OpError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| OpError::stopped(what, &e))
}

/// A deploy as either front end asks for it: `file.py:function`, and the settings it was given
/// (command-line flags, command arguments) to lay over `lambda.toml`.
#[derive(Debug, Clone)]
pub struct DeployRequest {
    pub file: PathBuf,
    pub function: String,
    /// Deploy a plain function behind the generated wrapper (also `callable = true` in the file).
    pub callable: bool,
    pub overrides: Settings,
}

/// A deploy resolved and validated, before anything is sent: what is packaged, as which spec.
#[derive(Debug, Clone)]
pub struct Plan {
    pub resolved: ResolvedTarget,
    pub spec: FunctionSpec,
    /// `lambda.toml` and request settings: includes, requirements, bundling.
    pub settings: Settings,
}

/// Resolves the target, reads `lambda.toml` and validates the spec. Reads files: call it off
/// the async workers (or through [`off_the_workers`]).
pub fn plan(req: &DeployRequest) -> Result<Plan, OpError> {
    let mut resolved = package::resolve_target(&req.file, &req.function, req.callable)?;
    let (spec, settings) = function_spec(&mut resolved, &req.overrides)?;
    spec.validate()?;
    Ok(Plan {
        resolved,
        spec,
        settings,
    })
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

/// What a deploy produced besides the outcome: packaging warnings, and on the local Lambda
/// which interpreter and which build of the requirements run the function.
pub struct Deployed {
    pub outcome: DeployOutcome,
    pub warnings: Vec<String>,
    pub local_run: Option<lambda_local::LocalRun>,
    /// The zip's file names (relative to the package root): what a live loop watches.
    pub files: Vec<String>,
}

/// Package → requirements layer (built once per requirements hash, published once) → deploy →
/// log retention. Cancelling is dropping the future: every step is idempotent.
pub async fn run(
    conn: &Connection,
    plan: Plan,
    report: &(dyn Fn(Progress) + Send + Sync),
) -> Result<Deployed, OpError> {
    let Plan {
        resolved,
        mut spec,
        settings,
    } = plan;
    let built = install_requirements(&resolved.file, &spec, &settings, report).await?;
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
    // The journal's one blind spot costs nothing locally but could cost a wrong deploy to AWS.
    let scrutiny = package::Scrutiny::for_target(conn.info.local);
    let pkg = off_the_workers("packaging", move || {
        package::build_bundle(&req, vendor.as_deref(), scrutiny)
    })
    .await??;
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
    package::check_with_layers(&pkg, &layer_zips)?;
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
        deploy::DeployRequest {
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
        files: pkg.files,
    })
}

/// The requirements that apply (`requirements` setting, else `requirements.txt` beside the
/// handler), installed for Lambda's platform once per hash, pip's lines reported as progress.
async fn install_requirements(
    handler_file: &Path,
    spec: &FunctionSpec,
    settings: &Settings,
    report: &(dyn Fn(Progress) + Send + Sync),
) -> Result<Option<requirements::BuiltRequirements>, OpError> {
    let Some(file) =
        requirements::find_requirements(settings.requirements.as_deref(), handler_file)
    else {
        return Ok(None);
    };
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
    let built = build
        .await
        .map_err(|e| OpError::stopped("installing requirements", &e))??;
    Ok(Some(built))
}

/// How the local Lambda will run the function; unknown (logged) rather than a failed deploy.
async fn local_run(runtime: &str, site_dirs: Vec<PathBuf>) -> Option<lambda_local::LocalRun> {
    match lambda_local::describe_run(runtime, site_dirs).await {
        Ok(run) => Some(run),
        Err(e) => {
            tracing::warn!("cannot tell how the local Lambda runs {runtime}: {e}");
            None
        }
    }
}
