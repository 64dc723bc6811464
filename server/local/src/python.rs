//! Choosing the interpreter for a runtime and whether it can run AWS's awslambdaric.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Mutex;
use std::time::Duration;

use crate::Bootstrap;

/// How a worker's process is started: the interpreter and the runtime client it runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Launch {
    pub interpreter: PathBuf,
    pub ric: bool,
}

/// Resolves interpreters and bootstraps once, then answers from a cache: a cold start must not
/// pay for a PATH walk or an `import awslambdaric` probe each time.
#[derive(Debug)]
pub(crate) struct Python {
    forced: Option<PathBuf>,
    bootstrap: Bootstrap,
    by_runtime: Mutex<HashMap<String, PathBuf>>,
    ric: tokio::sync::Mutex<HashMap<PathBuf, bool>>,
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
            ric: tokio::sync::Mutex::new(HashMap::new()),
            warned: Mutex::new(HashSet::new()),
        }
    }

    /// The interpreter and bootstrap for `runtime`, or why it cannot run here.
    pub(crate) async fn launch(&self, runtime: &str) -> Result<Launch, String> {
        let interpreter = self.interpreter(runtime)?;
        let ric = match self.bootstrap {
            Bootstrap::BuiltIn => false,
            Bootstrap::Awslambdaric => true,
            Bootstrap::Auto => self.has_ric(&interpreter).await,
        };
        Ok(Launch { interpreter, ric })
    }

    fn interpreter(&self, runtime: &str) -> Result<PathBuf, String> {
        if !runtime.starts_with("python") {
            return Err(format!(
                "lambda-ls local runs Python handlers only; runtime {runtime} cannot be invoked locally"
            ));
        }
        if let Some(p) = &self.forced {
            return Ok(p.clone());
        }
        let mut cache = self.by_runtime.lock().expect("python cache poisoned");
        if let Some(p) = cache.get(runtime) {
            return Ok(p.clone());
        }
        let found = find_on_path(runtime).unwrap_or_else(|| {
            if self
                .warned
                .lock()
                .expect("python warn set poisoned")
                .insert(runtime.to_string())
            {
                tracing::warn!(
                    "{runtime} is not on PATH; running {runtime} functions with python3 instead \
                     (set LAMBDA_LS_PYTHON to choose an interpreter)"
                );
            }
            PathBuf::from("python3")
        });
        cache.insert(runtime.to_string(), found.clone());
        Ok(found)
    }

    async fn has_ric(&self, interpreter: &Path) -> bool {
        let mut cache = self.ric.lock().await;
        if let Some(&known) = cache.get(interpreter) {
            return known;
        }
        let probe = tokio::process::Command::new(interpreter)
            .args(["-c", "import awslambdaric"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .status();
        let found = matches!(
            tokio::time::timeout(Duration::from_secs(30), probe).await,
            Ok(Ok(status)) if status.success()
        );
        tracing::debug!(
            "{} {} awslambdaric",
            interpreter.display(),
            if found { "has" } else { "lacks" }
        );
        cache.insert(interpreter.to_path_buf(), found);
        found
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
    async fn refuses_non_python_runtimes_and_honours_override() {
        let py = Python::new(Some(PathBuf::from("/opt/py")), Bootstrap::BuiltIn);
        assert!(py
            .launch("nodejs20.x")
            .await
            .unwrap_err()
            .contains("Python"));
        assert_eq!(
            py.launch("python3.12").await.unwrap(),
            Launch {
                interpreter: PathBuf::from("/opt/py"),
                ric: false
            }
        );
    }
}
