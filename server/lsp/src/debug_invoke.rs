//! `lambda-ls invoke NAME --debug [PORT]`: one invocation on the local Lambda under debugpy.
//! Where to attach goes to stderr (with an attach configuration to paste); the result is
//! printed as any invoke's.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use lambda_deploy::invoke::{InvokeOutcome, InvokeRequest, Response};
use lambda_deploy::package::ENTRY_MODULE;
use lambda_deploy::profiles::Selection;
use lambda_local::debug::client::{self, DebugStart};
use lambda_ops::{OpError, Target};
use serde_json::json;

/// How long the event waits for a debugger: long enough to switch to the editor and attach.
const ATTACH_WAIT: Duration = Duration::from_secs(300);

/// Starts the invocation on the local Lambda (debugpy on `port`, else a free port), says where
/// to attach, and waits for its result.
pub async fn run(
    target: &Target,
    req: InvokeRequest,
    port: Option<u16>,
) -> Result<InvokeOutcome, OpError> {
    if target.select().await?.1 != Selection::Local {
        return Err(OpError::Usage(
            "--debug runs the function on the local Lambda; add --profile local".into(),
        ));
    }
    let endpoint = target.local.endpoint().await?;
    let start = DebugStart {
        function: req.function.clone(),
        qualifier: req.qualifier.clone(),
        payload: req.payload,
        port,
        attach_wait: ATTACH_WAIT,
    };
    let remote = |e: client::DebugError| OpError::Remote(e.to_string());
    let started = Instant::now();
    let ep = client::start(&endpoint, &start).await.map_err(remote)?;
    let local = deployed_from(&ep.task_root, &std::env::current_dir().unwrap_or_default());
    let local_root = local.as_ref().map_or_else(
        || "${workspaceFolder}".to_string(),
        |l| l.display().to_string(),
    );
    let attach = json!({
        "type": "lambda-ls",
        "request": "attach",
        "name": format!("Lambda: {} (local)", req.function),
        "connect": {"host": ep.host, "port": ep.port},
        "pathMappings": [{"localRoot": local_root, "remoteRoot": ep.task_root}],
    });
    let mapping = match &local {
        Some(l) => format!("{} → {}", l.display(), ep.task_root.display()),
        None => format!(
            "<your project folder> → {} (the folder {} was deployed from is unknown: it is not \
             this one nor a parent; the configuration below uses ${{workspaceFolder}})",
            ep.task_root.display(),
            req.function
        ),
    };
    eprintln!(
        "debugpy listens on {}:{} for {}: attach a Python debugger (DAP) with the path mapping \
         {mapping}; the event waits {} s for it. Attach configuration:\n{attach}",
        ep.host,
        ep.port,
        req.function,
        ATTACH_WAIT.as_secs()
    );
    let result = client::result(&endpoint, &ep.session)
        .await
        .map_err(remote)?;
    if !result.attached {
        eprintln!(
            "warning: no debugger attached within {} s, so {} ran without stopping",
            ATTACH_WAIT.as_secs(),
            req.function
        );
    }
    Ok(InvokeOutcome::from_response(Response {
        function: req.function,
        status_code: 200,
        payload: result.payload,
        function_error: result.function_error,
        log_result: result.log_result,
        duration_ms: started.elapsed().as_secs_f64() * 1000.0,
        executed_version: Some(req.qualifier.unwrap_or_else(|| "$LATEST".into())),
    }))
}

/// The folder the code was deployed from: `cwd` or the nearest parent holding every top-level
/// module of the deployed copy (lambda-ls's generated entry module aside) byte for byte. The
/// local Lambda keeps no record of where code came from, so this is what can be known.
fn deployed_from(task_root: &Path, cwd: &Path) -> Option<PathBuf> {
    let entry = format!("{ENTRY_MODULE}.py");
    let modules: Vec<(std::ffi::OsString, Vec<u8>)> = std::fs::read_dir(task_root)
        .ok()?
        .flatten()
        .filter(|e| {
            let name = e.file_name();
            let name = name.to_string_lossy();
            name.ends_with(".py") && name != entry.as_str()
        })
        .filter_map(|e| Some((e.file_name(), std::fs::read(e.path()).ok()?)))
        .collect();
    if modules.is_empty() {
        return None;
    }
    cwd.ancestors()
        .find(|dir| {
            modules
                .iter()
                .all(|(name, bytes)| std::fs::read(dir.join(name)).ok().as_ref() == Some(bytes))
        })
        .map(Path::to_path_buf)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_deployed_folder_is_the_one_holding_the_same_modules() {
        let deployed = tempfile::tempdir().unwrap();
        let project = tempfile::tempdir().unwrap();
        let sub = project.path().join("sub");
        std::fs::create_dir(&sub).unwrap();
        std::fs::write(deployed.path().join("app.py"), "x = 1\n").unwrap();
        std::fs::write(deployed.path().join(format!("{ENTRY_MODULE}.py")), "").unwrap();
        std::fs::write(project.path().join("app.py"), "x = 1\n").unwrap();
        assert_eq!(
            deployed_from(deployed.path(), &sub).as_deref(),
            Some(project.path())
        );
        std::fs::write(project.path().join("app.py"), "x = 2\n").unwrap();
        assert_eq!(deployed_from(deployed.path(), &sub), None, "edited since");
    }
}
