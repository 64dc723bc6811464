//! `lambda-ls invoke NAME --debug [PORT]`: one invocation on the local Lambda under debugpy.
//! Where to attach goes to stderr (with an attach configuration to paste); the result is
//! printed as any invoke's.

use std::time::{Duration, Instant};

use lambda_deploy::invoke::{InvokeOutcome, Response};
use lambda_local::debug::client::{self, DebugError, DebugStart};
use serde_json::json;

use crate::target::LocalHandle;

/// How long the event waits for a debugger: long enough to switch to the editor and attach.
const ATTACH_WAIT: Duration = Duration::from_secs(300);

/// One debug invocation of a deployed function.
pub struct DebugInvoke {
    pub name: String,
    pub payload: Vec<u8>,
    pub qualifier: Option<String>,
    /// Where debugpy listens; a free port when `None`.
    pub port: Option<u16>,
}

/// Starts the invocation, says where to attach, and waits for its result.
pub async fn run(local: &LocalHandle, req: DebugInvoke) -> Result<InvokeOutcome, DebugError> {
    let endpoint = local
        .endpoint()
        .await
        .map_err(|e| DebugError::Refused(format!("cannot start the local Lambda: {e}")))?;
    let start = DebugStart {
        function: req.name.clone(),
        qualifier: req.qualifier.clone(),
        payload: req.payload,
        port: req.port,
        attach_wait: ATTACH_WAIT,
    };
    let started = Instant::now();
    let ep = client::start(&endpoint, &start).await?;
    let attach = json!({
        "type": "lambda-ls",
        "request": "attach",
        "name": format!("Lambda: {} (local)", req.name),
        "connect": {"host": ep.host, "port": ep.port},
        "pathMappings": [{"localRoot": "${workspaceFolder}", "remoteRoot": ep.task_root}],
    });
    eprintln!(
        "debugpy listens on {}:{} for {}: attach a Python debugger (DAP) with the path mapping \
         <your project folder> → {}; the event waits {} s for it. Attach configuration:\n{attach}",
        ep.host,
        ep.port,
        req.name,
        ep.task_root.display(),
        ATTACH_WAIT.as_secs()
    );
    let result = client::result(&endpoint, &ep.session).await?;
    if !result.attached {
        eprintln!(
            "warning: no debugger attached within {} s, so {} ran without stopping",
            ATTACH_WAIT.as_secs(),
            req.name
        );
    }
    Ok(InvokeOutcome::from_response(Response {
        function: req.name,
        status_code: 200,
        payload: result.payload,
        function_error: result.function_error,
        log_result: result.log_result,
        duration_ms: started.elapsed().as_secs_f64() * 1000.0,
        executed_version: Some(req.qualifier.unwrap_or_else(|| "$LATEST".into())),
    }))
}
