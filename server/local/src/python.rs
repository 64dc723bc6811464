//! Choosing the interpreter for a runtime and whether it can run AWS's awslambdaric.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Mutex;
use std::time::Duration;

use crate::Bootstrap;

/// How a worker's process is started: the interpreter and the runtime client it runs.
#[derive(Debug, Clone)]
pub(crate) struct Launch {
    pub interpreter: PathBuf,
    pub ric: bool,
}

/// What one probe of an interpreter found out.
#[derive(Debug, Clone)]
struct Probe {
    /// `sys.executable`: the real binary behind a pyenv or asdf shim, which would otherwise
    /// add a shell script's start-up to every cold start.
    executable: PathBuf,
    ric: bool,
}

/// Prints the interpreter's real path and whether `import awslambdaric` works.
const PROBE: &str = "import sys\nprint(sys.executable)\ntry:\n    import awslambdaric\n    print('ric')\nexcept Exception:\n    print('no-ric')\n";

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
        })
    }

    async fn interpreter(&self, runtime: &str) -> Result<PathBuf, String> {
        if !runtime.starts_with("python") {
            return Err(format!(
                "lambda-ls local runs Python handlers only; runtime {runtime} cannot be invoked locally"
            ));
        }
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
        // A version manager's shim can be on PATH for a version it does not have: only an
        // interpreter that actually starts counts as found.
        let mut found = None;
        if let Some(p) = find_on_path(runtime) {
            if self.probe(&p).await.is_ok() {
                found = Some(p);
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
                    "{runtime} is not available; running {runtime} functions with python3 instead \
                     (set LAMBDA_LS_PYTHON to choose an interpreter)"
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
        let probe = Probe {
            executable,
            ric: lines.next() == Some("ric"),
        };
        tracing::debug!(
            "{} is {} and {} awslambdaric",
            interpreter.display(),
            probe.executable.display(),
            if probe.ric { "has" } else { "lacks" }
        );
        cache.insert(interpreter.to_path_buf(), probe.clone());
        Ok(probe)
    }
}

fn find_on_path(program: &str) -> Option<PathBuf> {
    use std::os::unix::fs::PermissionsExt;
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(program))
        .find(|p| {
            p.metadata()
                .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        })
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
    }
}
