//! Compiled packages built for another Python than the one that runs them, reinstalled for it.
//!
//! A layer built for `python3.12` holds `cp312` wheels; when this machine runs the function with
//! Python 3.11, those extensions cannot load. Whoever deployed (lambda-ls, boto3, the AWS CLI),
//! the installed `*.dist-info` directories say which distributions are compiled for which
//! tags, so the same pins are installed for the real interpreter into a cache keyed by their
//! hash, which goes on the worker's path ahead of the mismatched copies. pip runs at most once
//! per hash and server, within a time limit.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;

use sha2::{Digest, Sha256};
use tokio::sync::OnceCell;

use crate::python::{Build, Launch};

/// How long one pip run may take (download and, failing wheels, a build from source): two
/// runs stay within the 600 s a deploy waits for the function to leave Pending.
const PIP_TIMEOUT: Duration = Duration::from_secs(240);

/// An installed distribution with compiled code this interpreter cannot load.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct Mismatch {
    pub name: String,
    pub version: String,
    /// The first wheel tag it was built for, e.g. `cp312-cp312-manylinux_2_17_x86_64`.
    pub built_for: String,
}

impl Mismatch {
    fn pin(&self) -> String {
        format!("{}=={}", self.name, self.version)
    }
}

/// Reinstalled packages, ready to go on a worker's path.
#[derive(Debug, Clone)]
pub(crate) struct Rebuilt {
    pub dir: PathBuf,
    pub packages: Vec<Mismatch>,
}

/// One content hash's build: its directory, or the sentence saying why pip failed.
type BuildCell = OnceCell<Result<PathBuf, String>>;

/// The cache of reinstalled packages under the data directory, one build per content hash.
#[derive(Debug)]
pub(crate) struct Deps {
    root: PathBuf,
    builds: std::sync::Mutex<HashMap<String, Arc<BuildCell>>>,
}

impl Deps {
    pub(crate) fn new(root: PathBuf) -> Deps {
        Deps {
            root,
            builds: std::sync::Mutex::new(HashMap::new()),
        }
    }

    /// Scans `dirs` (task root and layer paths) and, if compiled packages there do not fit the
    /// interpreter, returns the directory with copies that do, installing them the first time.
    pub(crate) async fn prepare(
        &self,
        launch: &Launch,
        dirs: Vec<PathBuf>,
    ) -> Result<Option<Rebuilt>, String> {
        let build = launch.build.clone();
        let packages = tokio::task::spawn_blocking(move || scan(&dirs, &build))
            .await
            .map_err(|e| e.to_string())?;
        if packages.is_empty() {
            return Ok(None);
        }
        let hash = content_hash(&launch.build, &packages);
        let cell = self
            .builds
            .lock()
            .expect("deps map poisoned")
            .entry(hash.clone())
            .or_default()
            .clone();
        let dir = cell
            .get_or_init(|| self.install(launch, &packages, hash))
            .await
            .clone()?;
        Ok(Some(Rebuilt { dir, packages }))
    }

    /// Installs the pins into `deps/<hash>` (staged, then renamed, so a crash leaves no half
    /// tree): wheels only first, then allowing source builds.
    async fn install(
        &self,
        launch: &Launch,
        packages: &[Mismatch],
        hash: String,
    ) -> Result<PathBuf, String> {
        let dest = self.root.join(&hash);
        if dest.is_dir() {
            return Ok(dest);
        }
        let cannot = |e: std::io::Error| format!("cannot write {}: {e}", self.root.display());
        std::fs::create_dir_all(&self.root).map_err(cannot)?;
        let staging = self
            .root
            .join(format!(".tmp-{}", uuid::Uuid::new_v4().simple()));
        tracing::info!(
            "reinstalling {} for Python {} ({})",
            names(packages),
            launch.build.version,
            launch.interpreter.display()
        );
        let pins: Vec<String> = packages.iter().map(Mismatch::pin).collect();
        let mut result = pip(launch, &pins, &staging, true).await;
        if result.is_err() {
            let _ = std::fs::remove_dir_all(&staging);
            result = pip(launch, &pins, &staging, false).await;
        }
        let outcome = result
            .map_err(|last| failure_sentence(launch, packages, &last))
            .and_then(|()| {
                std::fs::rename(&staging, &dest).or_else(|e| {
                    if dest.is_dir() {
                        Ok(())
                    } else {
                        Err(cannot(e))
                    }
                })
            });
        let _ = std::fs::remove_dir_all(&staging);
        outcome.map(|()| dest)
    }
}

/// How the local Lambda runs a function: which interpreter, and which packages it reinstalled
/// for it. Deploy output and each worker's first log line show it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct LocalRun {
    /// The function's runtime, `python3.12`.
    pub runtime: String,
    /// `3.11.7`.
    pub python_version: String,
    pub interpreter: PathBuf,
    /// `cp311 manylinux x86_64` when compiled packages were built for another Python.
    pub rebuilt_for: Option<String>,
    /// `numpy 2.2.6`, one per reinstalled distribution.
    pub rebuilt: Vec<String>,
}

impl LocalRun {
    pub(crate) fn new(runtime: &str, launch: &Launch, packages: &[Mismatch]) -> LocalRun {
        LocalRun {
            runtime: runtime.to_string(),
            python_version: launch.build.version.clone(),
            interpreter: launch.interpreter.clone(),
            rebuilt_for: (!packages.is_empty()).then(|| launch.build.describe()),
            rebuilt: packages
                .iter()
                .map(|p| format!("{} {}", p.name, p.version))
                .collect(),
        }
    }
}

impl std::fmt::Display for LocalRun {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "runs locally on Python {} ({})",
            self.python_version,
            self.interpreter.display()
        )?;
        let wanted = self.runtime.trim_start_matches("python");
        let minor = self.python_version.rsplit_once('.').map_or("", |(m, _)| m);
        if minor != wanted {
            write!(f, ", not {wanted} as on AWS")?;
        }
        if let Some(build) = &self.rebuilt_for {
            write!(
                f,
                ", requirements rebuilt for {build} ({})",
                self.rebuilt.join(", ")
            )?;
        }
        Ok(())
    }
}

/// Why [`describe_run`] could not tell.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct RunError(String);

/// How a local Lambda of this machine and environment (`LAMBDA_LS_PYTHON`, PATH, pyenv) runs a
/// function of `runtime` whose packages are installed in `site_dirs`, without running it.
/// The interpreter it chooses is probed once per process, as the runner's is: every deploy to
/// the local Lambda describes its run, and a probe starts Python (a live save would pay for it).
pub async fn describe_run(runtime: &str, site_dirs: Vec<PathBuf>) -> Result<LocalRun, RunError> {
    static PYTHON: std::sync::OnceLock<crate::python::Python> = std::sync::OnceLock::new();
    let python = PYTHON.get_or_init(|| crate::python::Python::new(None, crate::Bootstrap::BuiltIn));
    let launch = python.launch(runtime).await.map_err(RunError)?;
    let build = launch.build.clone();
    let packages = tokio::task::spawn_blocking(move || scan(&site_dirs, &build))
        .await
        .map_err(|e| RunError(e.to_string()))?;
    Ok(LocalRun::new(runtime, &launch, &packages))
}

/// Runs `python -m pip install --no-deps --target` for the pins; the error is pip's last line.
pub(crate) async fn pip(
    launch: &Launch,
    pins: &[String],
    target: &Path,
    wheels_only: bool,
) -> Result<(), String> {
    let mut cmd = tokio::process::Command::new(&launch.interpreter);
    cmd.args(["-m", "pip", "install", "--disable-pip-version-check"])
        .args(["--no-input", "--no-deps", "--no-compile", "--target"])
        .arg(target);
    if wheels_only {
        cmd.arg("--only-binary=:all:");
    }
    cmd.args(pins)
        .env_remove("PYTHONPATH")
        .stdin(Stdio::null())
        .kill_on_drop(true);
    match tokio::time::timeout(PIP_TIMEOUT, cmd.output()).await {
        Ok(Ok(out)) if out.status.success() => Ok(()),
        Ok(Ok(out)) => {
            let stderr = String::from_utf8_lossy(&out.stderr);
            Err(stderr
                .lines()
                .map(str::trim)
                .rfind(|l| l.starts_with("ERROR:"))
                .or_else(|| stderr.lines().map(str::trim).rfind(|l| !l.is_empty()))
                .unwrap_or("pip failed")
                .trim_start_matches("ERROR: ")
                .trim_end_matches('.')
                .to_string())
        }
        Ok(Err(e)) => Err(format!("cannot run pip: {e}")),
        Err(_) => Err(format!(
            "pip did not finish within {} s",
            PIP_TIMEOUT.as_secs()
        )),
    }
}

/// One sentence: which packages, which interpreter, what went wrong, what to do.
fn failure_sentence(launch: &Launch, packages: &[Mismatch], last: &str) -> String {
    let named: Vec<&Mismatch> = packages
        .iter()
        .filter(|p| {
            last.to_ascii_lowercase()
                .contains(&p.name.to_ascii_lowercase())
        })
        .collect();
    let named = if named.is_empty() {
        packages.iter().collect()
    } else {
        named
    };
    let list = named
        .iter()
        .map(|p| format!("{} {} (built for {})", p.name, p.version, p.built_for))
        .collect::<Vec<_>>()
        .join(", ");
    format!(
        "cannot reinstall {list} for Python {} ({}) that runs this function locally: {last}; \
         install a Python of the function's runtime version (e.g. `pyenv install`) or set \
         LAMBDA_LS_PYTHON to one",
        launch.build.version,
        launch.interpreter.display()
    )
}

fn names(packages: &[Mismatch]) -> String {
    packages
        .iter()
        .map(Mismatch::pin)
        .collect::<Vec<_>>()
        .join(" ")
}

fn content_hash(build: &Build, packages: &[Mismatch]) -> String {
    let mut h = Sha256::new();
    for part in [&build.tag, &build.machine, &build.libc] {
        h.update(part.as_bytes());
        h.update(b"\0");
    }
    for p in packages {
        h.update(p.pin().as_bytes());
        h.update(b"\0");
    }
    h.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

/// Every installed distribution in `dirs` whose wheel has no tag this interpreter loads,
/// sorted and without repeats.
pub(crate) fn scan(dirs: &[PathBuf], build: &Build) -> Vec<Mismatch> {
    let mut out: Vec<Mismatch> = dirs
        .iter()
        .filter_map(|d| std::fs::read_dir(d).ok())
        .flat_map(|entries| entries.flatten())
        .filter(|e| e.file_name().to_string_lossy().ends_with(".dist-info"))
        .filter_map(|e| mismatch(&e.path(), build))
        .collect();
    out.sort();
    out.dedup();
    out
}

/// The distribution in `dist_info` if its `WHEEL` says it is compiled for something else.
fn mismatch(dist_info: &Path, build: &Build) -> Option<Mismatch> {
    let wheel = std::fs::read_to_string(dist_info.join("WHEEL")).ok()?;
    let tags = field(&wheel, "Tag");
    if tags.is_empty() || tags.iter().any(|t| fits(t, build)) {
        return None;
    }
    let metadata = std::fs::read_to_string(dist_info.join("METADATA")).ok()?;
    // Only the header block: a long description may contain anything.
    let header = metadata.split("\n\n").next().unwrap_or_default();
    Some(Mismatch {
        name: field(header, "Name").first()?.to_string(),
        version: field(header, "Version").first()?.to_string(),
        built_for: tags[0].to_string(),
    })
}

/// The values of `key: value` lines (`Tag`, `Name`) in a wheel's metadata text.
fn field<'a>(text: &'a str, key: &str) -> Vec<&'a str> {
    text.lines()
        .filter_map(|l| l.split_once(':'))
        .filter(|(k, _)| k.trim().eq_ignore_ascii_case(key))
        .map(|(_, v)| v.trim())
        .collect()
}

/// Whether one wheel tag (`cp312-cp312-manylinux_2_17_x86_64.manylinux2014_x86_64`, parts
/// possibly compressed with `.`) can be loaded by the interpreter.
fn fits(tag: &str, build: &Build) -> bool {
    let mut parts = tag.splitn(3, '-');
    let (Some(_python), Some(abi), Some(platform)) = (parts.next(), parts.next(), parts.next())
    else {
        return false;
    };
    let ours = version_number(&build.tag);
    let abi_fits = abi.split('.').any(|a| match a {
        "none" => true,
        // The stable ABI: built for an older or equal CPython 3 loads on this one.
        "abi3" => tag
            .split('-')
            .next()
            .unwrap_or_default()
            .split('.')
            .any(|p| p.starts_with("cp") && version_number(p) <= ours),
        a => a == build.tag,
    });
    let platform_fits = platform.split('.').any(|p| {
        p == "any"
            || (p.ends_with(&format!("_{}", build.machine))
                && (p.starts_with(&build.libc) || p.starts_with("linux")))
    });
    abi_fits && platform_fits
}

/// 311 of `cp311`, for comparing CPython versions; unknown forms compare as newest.
fn version_number(tag: &str) -> u32 {
    tag.trim_start_matches(|c: char| c.is_ascii_alphabetic())
        .parse()
        .unwrap_or(u32::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cp311() -> Build {
        Build {
            version: "3.11.7".into(),
            tag: "cp311".into(),
            machine: "x86_64".into(),
            libc: "manylinux".into(),
        }
    }

    #[test]
    fn tags_fit_by_abi_and_platform() {
        let b = cp311();
        assert!(fits("py3-none-any", &b));
        assert!(fits(
            "cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64",
            &b
        ));
        assert!(!fits("cp312-cp312-manylinux_2_17_x86_64", &b));
        assert!(!fits("cp311-cp311-manylinux_2_17_aarch64", &b));
        assert!(!fits("cp311-cp311-musllinux_1_1_x86_64", &b));
        assert!(!fits("cp311-cp311-macosx_11_0_arm64", &b));
        assert!(fits("cp38-abi3-manylinux2014_x86_64", &b));
        assert!(!fits("cp312-abi3-manylinux2014_x86_64", &b));
        assert!(fits("py3-none-manylinux2014_x86_64", &b));
    }

    fn dist(dir: &Path, name: &str, version: &str, tags: &[&str]) {
        let d = dir.join(format!("{name}-{version}.dist-info"));
        std::fs::create_dir_all(&d).unwrap();
        let tags: String = tags.iter().map(|t| format!("Tag: {t}\n")).collect();
        std::fs::write(
            d.join("WHEEL"),
            format!("Wheel-Version: 1.0\nRoot-Is-Purelib: false\n{tags}"),
        )
        .unwrap();
        std::fs::write(
            d.join("METADATA"),
            format!("Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n\nName: not-this\n"),
        )
        .unwrap();
    }

    #[test]
    fn scan_names_exactly_the_compiled_distributions_that_do_not_fit() {
        let site = tempfile::tempdir().unwrap();
        dist(
            site.path(),
            "numpy",
            "2.2.6",
            &[
                "cp312-cp312-manylinux_2_17_x86_64",
                "cp312-cp312-manylinux2014_x86_64",
            ],
        );
        dist(
            site.path(),
            "six",
            "1.16.0",
            &["py2-none-any", "py3-none-any"],
        );
        dist(
            site.path(),
            "pydantic_core",
            "2.33.2",
            &["cp312-cp312-manylinux_2_17_x86_64"],
        );
        dist(
            site.path(),
            "orjson",
            "3.10.0",
            &["cp311-cp311-manylinux_2_17_x86_64"],
        );
        let found = scan(
            &[site.path().to_path_buf(), site.path().join("missing")],
            &cp311(),
        );
        let pins: Vec<String> = found.iter().map(Mismatch::pin).collect();
        assert_eq!(pins, ["numpy==2.2.6", "pydantic_core==2.33.2"]);
        assert_eq!(found[0].built_for, "cp312-cp312-manylinux_2_17_x86_64");
        // The same pins for the same interpreter share one build; another interpreter does not.
        let mut other = cp311();
        other.tag = "cp310".into();
        assert_eq!(
            content_hash(&cp311(), &found),
            content_hash(&cp311(), &found)
        );
        assert_ne!(content_hash(&cp311(), &found), content_hash(&other, &found));
    }

    #[tokio::test]
    async fn a_pip_failure_is_one_sentence_naming_package_and_interpreter() {
        let store = tempfile::tempdir().unwrap();
        let launch = Launch {
            interpreter: PathBuf::from("/nonexistent/python3"),
            ric: false,
            build: cp311(),
        };
        let site = tempfile::tempdir().unwrap();
        dist(
            site.path(),
            "numpy",
            "2.2.6",
            &["cp312-cp312-manylinux_2_17_x86_64"],
        );
        let deps = Deps::new(store.path().join("deps"));
        let err = deps
            .prepare(&launch, vec![site.path().to_path_buf()])
            .await
            .unwrap_err();
        assert!(err.contains("numpy 2.2.6"), "{err}");
        assert!(
            err.contains("Python 3.11.7 (/nonexistent/python3)"),
            "{err}"
        );
        assert!(err.contains("LAMBDA_LS_PYTHON"), "{err}");
        assert!(!err.contains('\n'), "{err}");
        // Cached: asking again does not run pip again, and gives the same sentence.
        assert_eq!(
            deps.prepare(&launch, vec![site.path().to_path_buf()])
                .await
                .unwrap_err(),
            err
        );
    }
}
