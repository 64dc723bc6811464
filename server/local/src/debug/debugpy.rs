//! debugpy for a worker's interpreter: its own when it has one, else a pinned copy that
//! lambda-ls installs once per interpreter build into the data directory's `deps/`.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::OnceCell;

use crate::python::Launch;

/// The debugpy lambda-ls installs when the interpreter has none: pinned, so every machine
/// debugs with the same adapter.
pub(crate) const PIN: &str = "1.8.22";
/// `python -c "import debugpy"` may take this long before the answer counts as "no".
const PROBE_TIMEOUT: Duration = Duration::from_secs(30);

/// Where debugpy is found for each interpreter; only successes are remembered, so a failed
/// install (offline) is tried again at the next debug invocation.
#[derive(Debug, Default)]
pub(crate) struct Debugpy {
    found: Mutex<HashMap<PathBuf, Arc<OnceCell<Option<PathBuf>>>>>,
}

impl Debugpy {
    /// `None` when the interpreter imports debugpy itself, else the directory to add to its
    /// path; an error is one sentence saying what to do.
    pub(crate) async fn locate(
        &self,
        launch: &Launch,
        deps_dir: &Path,
    ) -> Result<Option<PathBuf>, String> {
        let cell = self
            .found
            .lock()
            .expect("debugpy map poisoned")
            .entry(launch.interpreter.clone())
            .or_default()
            .clone();
        cell.get_or_try_init(|| async {
            if has_own(&launch.interpreter).await {
                return Ok(None);
            }
            install(launch, deps_dir).await.map(Some)
        })
        .await
        .cloned()
    }
}

async fn has_own(interpreter: &Path) -> bool {
    let mut cmd = tokio::process::Command::new(interpreter);
    cmd.args(["-c", "import debugpy"])
        .env_remove("PYTHONPATH")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true);
    matches!(
        tokio::time::timeout(PROBE_TIMEOUT, cmd.status()).await,
        Ok(Ok(s)) if s.success()
    )
}

/// `deps/debugpy-<pin>-<tag>-<libc>-<machine>`, installed with pip (staged, then renamed).
async fn install(launch: &Launch, deps_dir: &Path) -> Result<PathBuf, String> {
    let b = &launch.build;
    let dest = deps_dir.join(format!("debugpy-{PIN}-{}-{}-{}", b.tag, b.libc, b.machine));
    if dest.join("debugpy").is_dir() {
        return Ok(dest);
    }
    let cannot = |e: std::io::Error| format!("cannot write {}: {e}", deps_dir.display());
    std::fs::create_dir_all(deps_dir).map_err(cannot)?;
    let staging = deps_dir.join(format!(".tmp-{}", uuid::Uuid::new_v4().simple()));
    tracing::info!(
        "installing debugpy {PIN} for {}",
        launch.interpreter.display()
    );
    let pins = [format!("debugpy=={PIN}")];
    let outcome = match crate::deps::pip(launch, &pins, &staging, true).await {
        Ok(()) => std::fs::rename(&staging, &dest).or_else(|e| {
            if dest.is_dir() {
                Ok(())
            } else {
                Err(cannot(e))
            }
        }),
        Err(last) => Err(format!(
            "cannot install debugpy {PIN} for Python {} ({}) to debug locally: {last}; install \
             it into that interpreter (`python -m pip install debugpy`) or check that PyPI is \
             reachable",
            b.version,
            launch.interpreter.display()
        )),
    };
    let _ = std::fs::remove_dir_all(&staging);
    outcome.map(|()| dest)
}
