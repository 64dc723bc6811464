//! The calls lambda-ls makes to a local Lambda's debug extension (see `api::debug`), over
//! plain HTTP on loopback, so it works as well with a local Lambda another process runs.

use std::path::PathBuf;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::{Method, Request, StatusCode};
use serde::{Deserialize, Serialize};

/// A debug invocation to start.
#[derive(Debug, Clone)]
pub struct DebugStart {
    pub function: String,
    pub qualifier: Option<String>,
    /// The event, JSON.
    pub payload: Vec<u8>,
    /// Where debugpy listens; a free port when `None`.
    pub port: Option<u16>,
    /// How long the event waits for a debugger before it runs without one.
    pub attach_wait: Duration,
}

/// Where a debugger attaches, and where the function's files are on the local Lambda's side
/// (a debugger maps them to the workspace with a path mapping).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DebugEndpoint {
    pub session: String,
    pub host: String,
    pub port: u16,
    pub task_root: PathBuf,
    /// The function's handler setting (`module.function`); empty from an older local Lambda.
    #[serde(default)]
    pub handler: String,
    pub attach_wait_ms: u64,
}

/// The finished invocation, as Invoke answers it.
#[derive(Debug, Clone)]
pub struct DebugResult {
    pub payload: Vec<u8>,
    /// `Unhandled` when the function failed.
    pub function_error: Option<String>,
    /// The base64 log tail.
    pub log_result: Option<String>,
    /// Whether a debugger was attached at any point.
    pub attached: bool,
}

/// Why a debug call failed.
#[derive(Debug, thiserror::Error)]
pub enum DebugError {
    #[error("cannot reach the local Lambda at {endpoint}: {error}")]
    Unreachable { endpoint: String, error: String },
    /// The local Lambda's own sentence.
    #[error("{0}")]
    Refused(String),
}

/// Starts a debug invocation; returns once debugpy listens.
pub async fn start(endpoint: &str, req: &DebugStart) -> Result<DebugEndpoint, DebugError> {
    let mut path = format!("/lambda-ls/debug/functions/{}", req.function);
    if let Some(q) = &req.qualifier {
        path.push_str(&format!("?Qualifier={q}"));
    }
    let body = serde_json::json!({
        "payload": String::from_utf8_lossy(&req.payload),
        "port": req.port,
        "attachWaitMs": req.attach_wait.as_millis() as u64,
    });
    let (_, body) = call(endpoint, Method::POST, &path, body.to_string().into()).await?;
    serde_json::from_slice(&body).map_err(|e| DebugError::Refused(e.to_string()))
}

/// Waits for the debug invocation's result.
pub async fn result(endpoint: &str, session: &str) -> Result<DebugResult, DebugError> {
    let path = format!("/lambda-ls/debug/sessions/{session}/result");
    let (headers, body) = call(endpoint, Method::GET, &path, Bytes::new()).await?;
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    };
    Ok(DebugResult {
        payload: body.to_vec(),
        function_error: header("x-amz-function-error"),
        log_result: header("x-amz-log-result"),
        attached: header("x-lambda-ls-debugger").as_deref() == Some("attached"),
    })
}

async fn call(
    endpoint: &str,
    method: Method,
    path: &str,
    body: Bytes,
) -> Result<(hyper::HeaderMap, Bytes), DebugError> {
    let unreachable = |error: String| DebugError::Unreachable {
        endpoint: endpoint.to_string(),
        error,
    };
    let authority = endpoint.trim_start_matches("http://").trim_end_matches('/');
    let stream = tokio::net::TcpStream::connect(authority)
        .await
        .map_err(|e| unreachable(e.to_string()))?;
    let (mut sender, conn) =
        hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream))
            .await
            .map_err(|e| unreachable(e.to_string()))?;
    tokio::spawn(conn);
    let request = Request::builder()
        .method(method)
        .uri(path)
        .header(hyper::header::HOST, authority)
        .header(hyper::header::CONTENT_TYPE, "application/json")
        .body(Full::new(body))
        .map_err(|e| unreachable(e.to_string()))?;
    let response = sender
        .send_request(request)
        .await
        .map_err(|e| unreachable(e.to_string()))?;
    let status = response.status();
    let headers = response.headers().clone();
    let body = response
        .into_body()
        .collect()
        .await
        .map_err(|e| unreachable(e.to_string()))?
        .to_bytes();
    if status != StatusCode::OK {
        let message = serde_json::from_slice::<serde_json::Value>(&body)
            .ok()
            .and_then(|v| v["message"].as_str().map(str::to_string))
            .unwrap_or_else(|| format!("HTTP {status}"));
        return Err(DebugError::Refused(message));
    }
    Ok((headers, body))
}
