//! `lambda-ls invoke NAME --debug [PORT]`: one invocation on the local Lambda under debugpy.
//! Where to attach goes to stderr (with an attach configuration to paste); the result is
//! printed as any invoke's.

use std::time::{Duration, Instant};

use lambda_deploy::invoke::{InvokeOutcome, InvokeRequest, Response};
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
    let attach = json!({
        "type": "lambda-ls",
        "request": "attach",
        "name": format!("Lambda: {} (local)", req.function),
        "connect": {"host": ep.host, "port": ep.port},
        "pathMappings": [{"localRoot": "${workspaceFolder}", "remoteRoot": ep.task_root}],
    });
    eprintln!(
        "debugpy listens on {}:{} for {}: attach a Python debugger (DAP) with the path mapping \
         <your project folder> → {}; the event waits {} s for it. Attach configuration:\n{attach}",
        ep.host,
        ep.port,
        req.function,
        ep.task_root.display(),
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
