//! `lambda.debug`: deploys a function to the local Lambda, starts a debug invocation under
//! debugpy, tells the client where to attach (`lambdaLs/debugReady`, or a message), and shows
//! the result as an invoke's once the invocation ends.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use lambda_deploy::invoke::{InvokeOutcome, Response};
use lambda_deploy::package;
use lambda_deploy::profiles::Selection;
use lambda_local::debug::client::{self, DebugEndpoint, DebugStart};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::commands::{self, DeployArgs};
use super::editor::ClientToken;
use super::failure::Failure;
use super::session::FunctionKey;
use super::state::SharedRef;

/// How long the event waits for a debugger when the arguments do not say.
const DEFAULT_ATTACH_WAIT: Duration = Duration::from_secs(60);

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct DebugArgs {
    uri: String,
    function: String,
    #[serde(default)]
    callable: bool,
    payload: Option<Value>,
    event_file: Option<PathBuf>,
    /// Where debugpy listens; a free port when absent.
    port: Option<u16>,
    /// How long the event waits for a debugger, in seconds.
    attach_wait_seconds: Option<f64>,
}

/// A debugpy path mapping: the workspace folder and the same files as the worker sees them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PathMapping {
    pub local_root: PathBuf,
    pub remote_root: PathBuf,
}

/// What `lambdaLs/debugReady` carries: a DAP `attach` to `host:port` with these mappings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DebugReadyParams {
    /// The Lambda function name.
    pub name: String,
    pub host: String,
    pub port: u16,
    pub path_mappings: Vec<PathMapping>,
    /// How long the event waits for a debugger before it runs without one.
    pub attach_wait_ms: u64,
}

impl DebugReadyParams {
    fn new(name: &str, root: PathBuf, ep: &DebugEndpoint) -> DebugReadyParams {
        DebugReadyParams {
            name: name.to_string(),
            host: ep.host.clone(),
            port: ep.port,
            path_mappings: vec![PathMapping {
                local_root: root,
                remote_root: ep.task_root.clone(),
            }],
            attach_wait_ms: ep.attach_wait_ms,
        }
    }

    /// For clients that do not attach by themselves: everything a debugpy attach needs.
    pub fn sentence(&self) -> String {
        let mapping = &self.path_mappings[0];
        format!(
            "Debugging {}: attach a Python debugger (debugpy, DAP) to {}:{} with the path \
             mapping {} → {}; the event waits {} s for it.",
            self.name,
            self.host,
            self.port,
            mapping.local_root.display(),
            mapping.remote_root.display(),
            self.attach_wait_ms / 1000
        )
    }
}

/// The command's answer: the invoke outcome (as `lambda.invoke` answers it) and whether a
/// debugger was attached.
#[derive(Debug, Serialize)]
struct DebugOutcome {
    #[serde(flatten)]
    outcome: InvokeOutcome,
    debugger_attached: bool,
}

pub async fn debug(
    shared: &SharedRef,
    args: DebugArgs,
    token: Option<ClientToken>,
) -> Result<Value, Failure> {
    let selection = commands::selection(shared).await?;
    if selection != Selection::Local {
        return Err(Failure::input(format!(
            "Debug runs functions on the local Lambda, and profile {} is selected; select the \
             local profile to debug",
            selection.profile_name()
        )));
    }
    let key = FunctionKey {
        path: commands::path_of(&args.uri)?,
        function: args.function.clone(),
    };
    let payload = commands::payload(args.payload, args.event_file, Some(&key)).await?;
    let deploy = DeployArgs {
        uri: args.uri,
        function: args.function,
        callable: args.callable,
        name: None,
    };
    let name = commands::deploy_function(shared, deploy, token)
        .await?
        .function_name;
    let endpoint = shared
        .local
        .endpoint()
        .await
        .map_err(|e| Failure::remote(format!("cannot start the local Lambda: {e}")))?;
    let start = DebugStart {
        function: name.clone(),
        qualifier: None,
        payload,
        port: args.port,
        attach_wait: args
            .attach_wait_seconds
            .map_or(DEFAULT_ATTACH_WAIT, Duration::from_secs_f64),
    };
    let started = Instant::now();
    let ep = client::start(&endpoint, &start).await.map_err(remote)?;
    let root = package::package_root(&key.path);
    let ready = DebugReadyParams::new(&name, root.clone(), &ep);
    shared.editor.debug_ready(ready).await;
    let result = client::result(&endpoint, &ep.session)
        .await
        .map_err(remote)?;
    if !result.attached {
        shared
            .editor
            .warn(&format!(
                "No debugger attached to {}:{} within {} s, so {name} ran without stopping.",
                ep.host,
                ep.port,
                ep.attach_wait_ms / 1000
            ))
            .await;
    }
    let outcome = InvokeOutcome::from_response(Response {
        function: name.clone(),
        status_code: 200,
        payload: result.payload,
        function_error: result.function_error,
        log_result: result.log_result,
        duration_ms: started.elapsed().as_secs_f64() * 1000.0,
        executed_version: Some("$LATEST".into()),
    });
    let shown = commands::Shown {
        profile: selection.profile_name(),
        key: Some(key),
        root: Some(root),
        name: &name,
        event: start.payload,
    };
    commands::show_outcome(shared, shown, &outcome).await?;
    Ok(commands::to_json(&DebugOutcome {
        outcome,
        debugger_attached: result.attached,
    }))
}

fn remote(e: client::DebugError) -> Failure {
    Failure::remote(e.to_string())
}
