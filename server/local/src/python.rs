//! Choosing the interpreter for a runtime and whether it can run AWS's awslambdaric.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Mutex;
use std::time::Duration;

use crate::Bootstrap;

/// How a worker's process is started: the interpreter, what it is, and the runtime client it runs.
#[derive(Debug, Clone)]
pub(crate) struct Launch {
    pub interpreter: PathBuf,
    pub ric: bool,
    pub build: Build,
}

/// What compiled code an interpreter loads: the wheel tags it accepts, in the terms pip uses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Build {
    /// `3.11.7`.
    pub version: String,
    /// `cp311`: the interpreter and ABI part of the wheel tags it loads.
    pub tag: String,
    /// `x86_64`, `aarch64`.
    pub machine: String,
    /// `manylinux` on glibc, `musllinux` on musl.
    pub libc: String,
}

impl Build {
    /// `3.11` of `3.11.7`.
    pub(crate) fn minor(&self) -> &str {
        match self.version.match_indices('.').nth(1) {
            Some((i, _)) => &self.version[..i],
            None => &self.version,
        }
    }

    /// `cp311 manylinux x86_64`: how the deploy output names what requirements are rebuilt for.
    pub(crate) fn describe(&self) -> String {
        format!("{} {} {}", self.tag, self.libc, self.machine)
    }
}

/// What one probe of an interpreter found out.
#[derive(Debug, Clone)]
struct Probe {
    /// `sys.executable`: the real binary behind a pyenv or asdf shim, which would otherwise
    /// add a shell script's start-up to every cold start.
    executable: PathBuf,
    build: Build,
    ric: bool,
}

/// Prints the interpreter's real path, version, wheel tag, machine, C library, and whether
/// `import awslambdaric` works: one line each.
const PROBE: &str = "import sys, platform\n\
print(sys.executable)\n\
print('%d.%d.%d' % sys.version_info[:3])\n\
print('%s%d%d' % ({'cpython': 'cp', 'pypy': 'pp'}.get(sys.implementation.name, sys.implementation.name), *sys.version_info[:2]))\n\
print(platform.machine())\n\
print('musllinux' if platform.libc_ver()[0] == 'musl' else 'manylinux')\n\
try:\n    import awslambdaric\n    print('ric')\nexcept Exception:\n    print('no-ric')\n";

/// Resolves interpreters and bootstraps once, then answers from a cache: a cold start must not
/// pay for a PATH walk or an interpreter probe each time.
#[derive(Debug)]
pub(crate) struct Python {
    forced: Option<PathBuf>,
    bootstrap: Bootstrap,
    by_runtime: Mutex<HashMap<String, PathBuf>>,
    probes: tokio::sync::Mutex<HashMap<PathBuf, Probe>>,
    warned: Mutex<HashSet<String>>,
}

impl Python {
    /// `forced` is `LocalConfig::python`, else `LAMBDA_LS_PYTHON`.
    pub(crate) fn new(forced: Option<PathBuf>, bootstrap: Bootstrap) -> Python {
        let forced = forced.or_else(|| {
            std::env::var_os("LAMBDA_LS_PYTHON")
                .filter(|v| !v.is_empty())
                .map(PathBuf::from)
        });
        Python {
            forced,
            bootstrap,
            by_runtime: Mutex::new(HashMap::new()),
            probes: tokio::sync::Mutex::new(HashMap::new()),
            warned: Mutex::new(HashSet::new()),
        }
    }

    /// The interpreter and bootstrap for `runtime`, or why it cannot run here.
    pub(crate) async fn launch(&self, runtime: &str) -> Result<Launch, String> {
        let interpreter = self.interpreter(runtime).await?;
        let probe = self.probe(&interpreter).await?;
        let ric = match self.bootstrap {
            Bootstrap::BuiltIn => false,
            Bootstrap::Awslambdaric => true,
            Bootstrap::Auto => probe.ric,
        };
        Ok(Launch {
            interpreter: probe.executable,
            ric,
            build: probe.build,
        })
    }

    async fn interpreter(&self, runtime: &str) -> Result<PathBuf, String> {
        let Some(minor) = runtime.strip_prefix("python") else {
            return Err(format!(
                "lambda-ls local runs Python handlers only; runtime {runtime} cannot be invoked locally"
            ));
        };
        if let Some(p) = &self.forced {
            return Ok(p.clone());
        }
        if let Some(p) = self
            .by_runtime
            .lock()
            .expect("python cache poisoned")
            .get(runtime)
        {
            return Ok(p.clone());
        }
        // A version manager's shim can be on PATH for a version it does not have, and a venv's
        // `python3.12` can be a link to something else: only an interpreter that starts and
        // reports the runtime's version counts as found.
        let mut found = None;
        for candidate in candidates(minor) {
            if self
                .probe(&candidate)
                .await
                .is_ok_and(|p| p.build.minor() == minor)
            {
                found = Some(candidate);
                break;
            }
        }
        let chosen = found.unwrap_or_else(|| {
            if self
                .warned
                .lock()
                .expect("python warn set poisoned")
                .insert(runtime.to_string())
            {
                tracing::warn!(
                    "{runtime} is not available; running {runtime} functions with python3 instead, \
                     with compiled requirements reinstalled for it \
                     (install Python {minor} or set LAMBDA_LS_PYTHON to choose an interpreter)"
                );
            }
            PathBuf::from("python3")
        });
        self.by_runtime
            .lock()
            .expect("python cache poisoned")
            .insert(runtime.to_string(), chosen.clone());
        Ok(chosen)
    }

    /// Runs the probe once per interpreter; a failure is not cached, so installing the
    /// interpreter later fixes the next invoke.
    async fn probe(&self, interpreter: &Path) -> Result<Probe, String> {
        let mut cache = self.probes.lock().await;
        if let Some(p) = cache.get(interpreter) {
            return Ok(p.clone());
        }
        let run = tokio::process::Command::new(interpreter)
            .args(["-c", PROBE])
            .stdin(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .output();
        let output = match tokio::time::timeout(Duration::from_secs(30), run).await {
            Ok(Ok(o)) if o.status.success() => o,
            Ok(Ok(o)) => {
                return Err(format!(
                    "{} failed to start ({})",
                    interpreter.display(),
                    o.status
                ))
            }
            Ok(Err(e)) => return Err(format!("cannot run {}: {e}", interpreter.display())),
            Err(_) => {
                return Err(format!(
                    "{} did not start within 30 s",
                    interpreter.display()
                ))
            }
        };
        let text = String::from_utf8_lossy(&output.stdout);
        let mut lines = text.lines();
        let executable = lines
            .next()
            .map(str::trim)
            .filter(|p| !p.is_empty())
            .map(PathBuf::from)
            .unwrap_or_else(|| interpreter.to_path_buf());
        let mut field = || lines.next().unwrap_or_default().trim().to_string();
        let build = Build {
            version: field(),
            tag: field(),
            machine: field(),
            libc: field(),
        };
        let probe = Probe {
            executable,
            ric: field() == "ric",
            build,
        };
        tracing::debug!(
            "{} is {} (Python {}) and {} awslambdaric",
            interpreter.display(),
            probe.executable.display(),
            probe.build.version,
            if probe.ric { "has" } else { "lacks" }
        );
        cache.insert(interpreter.to_path_buf(), probe.clone());
        Ok(probe)
    }
}

/// Where an interpreter of Python `minor` (`3.12`) may be, most specific first: `python3.12` on
/// PATH, the active virtualenv's, then pyenv's and uv's installed versions (newest patch first).
fn candidates(minor: &str) -> Vec<PathBuf> {
    let program = format!("python{minor}");
    let mut out: Vec<PathBuf> = std::env::var_os("PATH")
        .map(|path| {
            std::env::split_paths(&path)
                .map(|dir| dir.join(&program))
                .collect()
        })
        .unwrap_or_default();
    if let Some(venv) = std::env::var_os("VIRTUAL_ENV").filter(|v| !v.is_empty()) {
        out.push(PathBuf::from(venv).join("bin").join(&program));
    }
    let home = dirs::home_dir();
    let pyenv_root = std::env::var_os("PYENV_ROOT")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from);
    let roots = [
        pyenv_root.map(|r| r.join("versions")),
        home.as_ref().map(|h| h.join(".pyenv/versions")),
        dirs::data_dir().map(|d| d.join("uv/python")),
    ];
    for root in roots.into_iter().flatten() {
        out.extend(installed_versions(&root, minor, &program));
    }
    let mut seen = HashSet::new();
    out.retain(|p| is_executable(p) && seen.insert(p.clone()));
    out
}

/// `ROOT/<dir>/bin/pythonX.Y` for each directory naming version `minor` (`3.12.1`, or uv's
/// `cpython-3.12.1-linux-x86_64-gnu`), newest patch first.
fn installed_versions(root: &Path, minor: &str, program: &str) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(root) else {
        return Vec::new();
    };
    let mut found: Vec<(u32, PathBuf)> = entries
        .flatten()
        .filter_map(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            let version = name.strip_prefix("cpython-").unwrap_or(&name);
            let rest = version.strip_prefix(minor)?;
            // `3.12` must not match `3.1` + `2.0`: the next character ends the minor version.
            let patch = match rest.strip_prefix('.') {
                Some(r) => r
                    .split(|c: char| !c.is_ascii_digit())
                    .next()?
                    .parse()
                    .ok()?,
                None if rest.is_empty() || rest.starts_with('-') => 0,
                None => return None,
            };
            Some((patch, e.path().join("bin").join(program)))
        })
        .collect();
    found.sort_by_key(|(patch, _)| std::cmp::Reverse(*patch));
    found.into_iter().map(|(_, p)| p).collect()
}

fn is_executable(p: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    p.metadata()
        .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn refuses_non_python_runtimes_and_missing_interpreters() {
        let py = Python::new(Some(PathBuf::from("/nonexistent/py")), Bootstrap::BuiltIn);
        assert!(py
            .launch("nodejs20.x")
            .await
            .unwrap_err()
            .contains("Python"));
        let err = py.launch("python3.12").await.unwrap_err();
        assert!(err.contains("/nonexistent/py"), "{err}");
    }

    #[tokio::test]
    async fn resolves_the_real_executable() {
        let py = Python::new(Some(PathBuf::from("python3")), Bootstrap::Auto);
        let launch = py.launch("python3.11").await.unwrap();
        assert!(launch.interpreter.is_absolute(), "{launch:?}");
        assert!(launch.build.tag.starts_with("cp3"), "{launch:?}");
        assert!(launch.build.version.starts_with(launch.build.minor()));
        assert_eq!(launch.build.minor().matches('.').count(), 1, "{launch:?}");
    }

    #[test]
    fn finds_installed_versions_newest_first_and_not_their_prefixes() {
        use std::os::unix::fs::PermissionsExt;
        let root = tempfile::tempdir().unwrap();
        for dir in [
            "3.12.1",
            "3.12.10",
            "3.1.2",
            "3.11.7",
            "3.12-dev",
            "cpython-3.12.3-linux-x86_64-gnu",
        ] {
            let bin = root.path().join(dir).join("bin");
            std::fs::create_dir_all(&bin).unwrap();
            let exe = bin.join("python3.12");
            std::fs::write(&exe, "").unwrap();
            std::fs::set_permissions(&exe, std::fs::Permissions::from_mode(0o755)).unwrap();
        }
        let found: Vec<String> = installed_versions(root.path(), "3.12", "python3.12")
            .iter()
            .map(|p| {
                p.parent()
                    .unwrap()
                    .parent()
                    .unwrap()
                    .file_name()
                    .unwrap()
                    .to_string_lossy()
                    .into_owned()
            })
            .collect();
        assert_eq!(
            found,
            [
                "3.12.10",
                "cpython-3.12.3-linux-x86_64-gnu",
                "3.12.1",
                "3.12-dev"
            ]
        );
    }
}
