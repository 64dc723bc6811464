//! Third-party requirements, installed for Lambda's platform (not this machine's) into a layer.
//!
//! Builds are cached by a hash of (requirements text, runtime, architecture) in the user cache
//! directory: an unchanged file never runs pip again, and a layer that exists under the same
//! hash-derived name is reused instead of published again.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use aws_sdk_lambda::primitives::Blob;
use aws_sdk_lambda::types::{
    Architecture as SdkArchitecture, LayerVersionContentInput, Runtime as SdkRuntime,
};
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::artifacts::{self, ArtifactOwner, ArtifactRequest};
use crate::aws::{AwsError, Connection};
use crate::deploy::{DeployError, Progress};
use crate::package::{code_sha256, MAX_ZIP_BYTES};
use crate::spec::{Architecture, Runtime};
use crate::zipper::{self, EntrySource, ZipEntry};

/// Prefix of every layer this tool publishes, so `delete --all` knows which are ours.
pub const LAYER_PREFIX: &str = "lambda-ls-deps-";

#[derive(Debug, thiserror::Error)]
pub enum RequirementsError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot run pip ({python}): {source}")]
    Pip {
        python: String,
        source: std::io::Error,
    },
    #[error("`{package}` has no wheel for Lambda's platform ({platform}, Python {python}); pick a version with a manylinux wheel or remove it")]
    NoWheel {
        package: String,
        platform: String,
        python: String,
    },
    #[error("pip failed installing {path} for Lambda: {last_line}")]
    Failed { path: PathBuf, last_line: String },
    #[error("cannot write the dependency cache at {path}: {source}")]
    Cache {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(transparent)]
    Zip(#[from] zipper::ZipError),
}

/// Installed requirements, ready to publish or bundle.
#[derive(Debug, Clone, Serialize)]
pub struct BuiltRequirements {
    pub hash: String,
    /// The folder holding `python/…` as Lambda expects in a layer.
    pub dir: PathBuf,
    /// The layer zip (deterministic).
    pub zip: PathBuf,
    /// False when the cache answered and pip did not run.
    pub built: bool,
}

impl BuiltRequirements {
    pub fn layer_name(&self) -> String {
        format!("{LAYER_PREFIX}{}", &self.hash[..16])
    }
}

/// The requirements file that applies: the given one, else `requirements.txt` next to the
/// handler, and only when it names at least one package.
pub fn find_requirements(explicit: Option<&Path>, handler_file: &Path) -> Option<PathBuf> {
    let candidate = match explicit {
        Some(p) => p.to_path_buf(),
        None => handler_file.parent()?.join("requirements.txt"),
    };
    let text = std::fs::read_to_string(&candidate).ok()?;
    let names_something = text
        .lines()
        .map(|l| l.split('#').next().unwrap_or("").trim())
        .any(|l| !l.is_empty());
    names_something.then_some(candidate)
}

fn platform(arch: Architecture) -> &'static str {
    match arch {
        Architecture::X86_64 => "manylinux2014_x86_64",
        Architecture::Arm64 => "manylinux2014_aarch64",
    }
}

/// Where builds are cached: `$LAMBDA_LS_CACHE_DIR` or the user cache directory.
pub fn cache_root() -> PathBuf {
    std::env::var_os("LAMBDA_LS_CACHE_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            dirs::cache_dir()
                .unwrap_or_else(std::env::temp_dir)
                .join("lambda-ls")
        })
        .join("requirements")
}

/// Installs the requirements for Lambda's platform, or returns the cached build.
/// `output` receives pip's lines as they come.
pub fn build_requirements(
    requirements: &Path,
    runtime: &Runtime,
    arch: Architecture,
    output: &(dyn Fn(&str) + Send + Sync),
) -> Result<BuiltRequirements, RequirementsError> {
    let text = std::fs::read(requirements).map_err(|source| RequirementsError::Read {
        path: requirements.to_owned(),
        source,
    })?;
    let hash = build_hash(&text, runtime, arch);
    let root = cache_root();
    let dir = root.join(&hash);
    let zip = dir.join("layer.zip");
    if zip.is_file() {
        return Ok(BuiltRequirements {
            hash,
            dir,
            zip,
            built: false,
        });
    }
    let cache_err = |path: &Path| {
        let path = path.to_owned();
        move |source| RequirementsError::Cache { path, source }
    };
    std::fs::create_dir_all(&root).map_err(cache_err(&root))?;
    // Build in a temporary sibling and rename: a crash mid-build leaves no half cache entry.
    let staging = tempfile::Builder::new()
        .prefix(".build-")
        .tempdir_in(&root)
        .map_err(cache_err(&root))?;
    let target = staging.path().join("python");
    pip_install(requirements, &target, runtime, arch, output)?;
    let mut entries = Vec::new();
    collect(staging.path(), staging.path(), &mut entries).map_err(cache_err(staging.path()))?;
    let archive = zipper::write_zip(entries)?;
    std::fs::write(staging.path().join("layer.zip"), archive.bytes)
        .map_err(cache_err(staging.path()))?;
    let staged = staging.keep();
    if std::fs::rename(&staged, &dir).is_err() {
        // Another build of the same hash finished first; theirs is equivalent.
        let _ = std::fs::remove_dir_all(&staged);
    }
    Ok(BuiltRequirements {
        hash,
        dir,
        zip,
        built: true,
    })
}

/// What a build depends on: the requirements text, the runtime and the architecture.
fn build_hash(text: &[u8], runtime: &Runtime, arch: Architecture) -> String {
    let mut h = Sha256::new();
    h.update(text);
    h.update(b"\0");
    h.update(runtime.as_str());
    h.update(b"\0");
    h.update(arch.as_str());
    h.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

/// pip installs the requirements into `target` for Lambda's platform (wheels only); every
/// line it prints goes to `output`.
fn pip_install(
    requirements: &Path,
    target: &Path,
    runtime: &Runtime,
    arch: Architecture,
    output: &(dyn Fn(&str) + Send + Sync),
) -> Result<(), RequirementsError> {
    let python = std::env::var("LAMBDA_LS_PIP_PYTHON").unwrap_or_else(|_| "python3".to_string());
    let mut child = Command::new(&python)
        .args([
            "-m",
            "pip",
            "install",
            "--disable-pip-version-check",
            "--no-input",
            "--no-compile",
        ])
        .arg("--target")
        .arg(target)
        .args(["--platform", platform(arch), "--implementation", "cp"])
        .args([
            "--python-version",
            runtime.python_version(),
            "--only-binary=:all:",
        ])
        .arg("-r")
        .arg(requirements)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|source| RequirementsError::Pip {
            python: python.clone(),
            source,
        })?;
    let stderr = child.stderr.take().expect("piped stderr");
    let errors = std::thread::spawn(move || {
        BufReader::new(stderr)
            .lines()
            .map_while(Result::ok)
            .collect::<Vec<String>>()
    });
    if let Some(stdout) = child.stdout.take() {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            output(&line);
        }
    }
    let status = child.wait().map_err(|source| RequirementsError::Pip {
        python: python.clone(),
        source,
    })?;
    let errors = errors.join().unwrap_or_default();
    for line in &errors {
        output(line);
    }
    if !status.success() {
        return Err(pip_error(&errors, requirements, runtime, arch));
    }
    Ok(())
}

fn pip_error(
    errors: &[String],
    path: &Path,
    runtime: &Runtime,
    arch: Architecture,
) -> RequirementsError {
    let missing = errors.iter().find_map(|l| {
        l.split("satisfies the requirement ").nth(1).map(|rest| {
            rest.split(&[' ', '('][..])
                .next()
                .unwrap_or(rest)
                .to_string()
        })
    });
    match missing {
        Some(package) => RequirementsError::NoWheel {
            package,
            platform: platform(arch).to_string(),
            python: runtime.python_version().to_string(),
        },
        None => RequirementsError::Failed {
            path: path.to_owned(),
            last_line: errors
                .iter()
                .rev()
                .find(|l| !l.trim().is_empty())
                .cloned()
                .unwrap_or_else(|| "no output".into()),
        },
    }
}

fn collect(root: &Path, dir: &Path, out: &mut Vec<ZipEntry>) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let path = entry.path();
        let kind = entry.file_type()?;
        if kind.is_dir() {
            if entry.file_name() != "__pycache__" {
                collect(root, &path, out)?;
            }
        } else if kind.is_file() && path.file_name().is_some_and(|n| n != "layer.zip") {
            let rel = path.strip_prefix(root).expect("walked under root");
            out.push(ZipEntry {
                name: rel.to_string_lossy().replace('\\', "/"),
                source: EntrySource::File {
                    path: path.clone(),
                    len: entry.metadata()?.len(),
                },
                executable: false,
            });
        }
    }
    Ok(())
}

/// The layer version ARN for these requirements: an existing one with the same name, or a new one.
/// Returns the ARN and whether it was published now. A zip over the direct-upload limit goes
/// through the S3 artifacts bucket.
pub async fn ensure_layer(
    conn: &Connection,
    built: &BuiltRequirements,
    runtime: &Runtime,
    arch: Architecture,
    progress: &(dyn Fn(Progress) + Send + Sync),
) -> Result<(String, bool), DeployError> {
    let name = built.layer_name();
    let existing = conn
        .lambda
        .list_layer_versions()
        .layer_name(&name)
        .send()
        .await;
    match existing {
        Ok(out) => {
            if let Some(arn) = out
                .layer_versions()
                .iter()
                .max_by_key(|v| v.version())
                .and_then(|v| v.layer_version_arn())
            {
                return Ok((arn.to_string(), false));
            }
        }
        Err(e) => {
            let err = conn.error("ListLayerVersions", e);
            if !err.is_not_found() {
                return Err(err.into());
            }
        }
    }
    let bytes = std::fs::read(&built.zip).map_err(|e| AwsError::Other {
        operation: "PublishLayerVersion",
        detail: format!("cannot read {}: {e}", built.zip.display()),
    })?;
    let content = if bytes.len() as u64 > MAX_ZIP_BYTES {
        let sha = code_sha256(&bytes);
        let req = ArtifactRequest {
            owner: ArtifactOwner::Layer(&name),
            bytes: &bytes,
            code_sha256: &sha,
        };
        let staged = artifacts::stage(conn, req, progress).await?;
        LayerVersionContentInput::builder()
            .s3_bucket(staged.bucket)
            .s3_key(staged.key)
            .build()
    } else {
        LayerVersionContentInput::builder()
            .zip_file(Blob::new(bytes))
            .build()
    };
    let out = conn
        .lambda
        .publish_layer_version()
        .layer_name(&name)
        .description("Python requirements packaged by lambda-ls")
        .content(content)
        .compatible_runtimes(SdkRuntime::from(runtime.as_str()))
        .compatible_architectures(SdkArchitecture::from(arch.as_str()))
        .send()
        .await
        .map_err(|e| conn.error("PublishLayerVersion", e))?;
    Ok((
        out.layer_version_arn().unwrap_or_default().to_string(),
        true,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_files_that_name_packages_count() {
        let dir = tempfile::tempdir().unwrap();
        let h = dir.path().join("h.py");
        std::fs::write(dir.path().join("requirements.txt"), "# nothing\n\n").unwrap();
        assert_eq!(find_requirements(None, &h), None);
        std::fs::write(
            dir.path().join("requirements.txt"),
            "six==1.16.0 # pinned\n",
        )
        .unwrap();
        assert_eq!(
            find_requirements(None, &h),
            Some(dir.path().join("requirements.txt"))
        );
    }

    #[test]
    fn pip_errors_name_the_package() {
        let errors = vec![
            "ERROR: Could not find a version that satisfies the requirement nosuchpkg-xyz==1.0 (from versions: none)".to_string(),
            "ERROR: No matching distribution found for nosuchpkg-xyz==1.0".to_string(),
        ];
        let e = pip_error(
            &errors,
            Path::new("r.txt"),
            &Runtime::default(),
            Architecture::Arm64,
        )
        .to_string();
        assert_eq!(e, "`nosuchpkg-xyz==1.0` has no wheel for Lambda's platform (manylinux2014_aarch64, Python 3.12); pick a version with a manylinux wheel or remove it");
    }
}
