//! The debug extension of the HTTP API (not part of AWS's): start a debug invocation on a
//! dedicated worker under debugpy, then wait for its result.
//!
//! `POST /lambda-ls/debug/functions/{name}[?Qualifier=]` with `{"payload", "port", "attachWaitMs"}`
//! answers once debugpy listens: `{"session", "host", "port", "taskRoot", "handler", "attachWaitMs"}`.
//! `GET /lambda-ls/debug/sessions/{id}/result` answers as Invoke does (payload, `X-Amz-Function-Error`,
//! `X-Amz-Log-Result`, `X-Amz-Executed-Version`) plus `X-Lambda-Ls-Debugger: attached|none`.

use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use bytes::Bytes;
use serde::Deserialize;
use serde_json::json;

use super::{function_ref, Ctx, Reply, Req, Result};
use crate::debug::{Phase, Session};
use crate::error::ApiError;
use crate::pool::{Invocation, Pool};

/// How long debugpy may take to listen (it starts its adapter as a second process).
const LISTEN_WITHIN: Duration = Duration::from_secs(60);
/// How long a finished debug invocation's result waits to be fetched.
const UNCLAIMED: Duration = Duration::from_secs(600);
/// How long the event waits for a debugger when the request does not say.
const DEFAULT_ATTACH_WAIT: Duration = Duration::from_secs(60);

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct StartBody {
    /// The event as JSON text; `{}` when absent.
    payload: Option<String>,
    /// The port debugpy listens on; a free one when absent or 0.
    port: Option<u16>,
    attach_wait_ms: Option<u64>,
}

pub(super) async fn start(ctx: &Arc<Ctx>, req: &Req, id: &str) -> Result<Reply> {
    let f = function_ref(req, id)?;
    let body: StartBody = req.json()?;
    let payload = Bytes::from(body.payload.unwrap_or_else(|| "{}".into()));
    if serde_json::from_slice::<serde::de::IgnoredAny>(&payload).is_err() {
        return Err(ApiError::invalid("The debug event is not valid JSON."));
    }
    let invoked = format!(
        "{}:{}",
        crate::model::function_arn(&f.name),
        f.qualifier.as_deref().unwrap_or(crate::model::LATEST)
    );
    let target = ctx
        .registry
        .target(&f.name, f.qualifier.as_deref(), &invoked)?;
    let runner = target.pool.runner.clone();
    let launch = runner
        .python
        .launch(&target.pool.spec.runtime)
        .await
        .map_err(ApiError::service)?;
    let debugpy = ctx
        .debugger
        .debugpy(&launch, &runner.store.deps_dir())
        .await
        .map_err(ApiError::service)?;
    let wrapper = runner.store.runtime_dir().join("debug_worker.py");
    crate::debug::install_wrapper(&wrapper).map_err(ApiError::service)?;
    let port = match body.port.filter(|p| *p != 0) {
        Some(p) => p,
        None => free_port().map_err(ApiError::service)?,
    };
    let wait = body
        .attach_wait_ms
        .map_or(DEFAULT_ATTACH_WAIT, Duration::from_millis);
    let session = Arc::new(Session::new(port, wait, debugpy));
    let mut spec = (*target.pool.spec).clone();
    spec.debug = Some(session.clone());
    let pool = Pool::new(spec, runner.clone());
    // Draining from the start: its one worker is retired after this invocation.
    pool.drain();
    let (invocation, rx) = Invocation::sync(payload, f.arn(), true);
    if pool.invoke(invocation).is_err() {
        return Err(ApiError::service("The debug invocation was refused."));
    }
    let (finished, debugger) = (session.clone(), Arc::downgrade(ctx));
    tokio::spawn(async move {
        finished.finish(rx.await.ok());
        // A result nobody came for (the editor went away) does not stay forever.
        tokio::time::sleep(UNCLAIMED).await;
        if let Some(ctx) = debugger.upgrade() {
            ctx.debugger.remove(&finished.id);
        }
    });
    ctx.debugger.insert(session.clone());
    if session.listening(LISTEN_WITHIN).await == Phase::Done {
        ctx.debugger.remove(&session.id);
        let (outcome, _) = session.outcome().await;
        let why = outcome.map(|o| last_words(&o)).unwrap_or_default();
        return Err(ApiError::service(format!(
            "The debug worker of {} stopped before debugpy listened on 127.0.0.1:{port}{why}",
            f.name
        )));
    }
    let task_root = runner.store.unpacked(&target.pool.spec.code_sha256);
    let mut reply = Reply::json(
        200,
        json!({
            "session": session.id,
            "host": "127.0.0.1",
            "port": port,
            "taskRoot": task_root,
            "handler": target.pool.spec.handler,
            "attachWaitMs": wait.as_millis() as u64,
        }),
    );
    reply
        .headers
        .push(("X-Amz-Executed-Version", target.executed_version));
    Ok(reply)
}

pub(super) async fn result(ctx: &Arc<Ctx>, id: &str) -> Result<Reply> {
    let session = ctx
        .debugger
        .get(id)
        .ok_or_else(|| ApiError::not_found(format!("No debug session {id}.")))?;
    let (outcome, attached) = session.outcome().await;
    ctx.debugger.remove(id);
    let outcome =
        outcome.ok_or_else(|| ApiError::service("The invocation was dropped by its worker."))?;
    let mut r = Reply::empty(200);
    r.body = outcome.body;
    if outcome.function_error {
        r.headers.push(("X-Amz-Function-Error", "Unhandled".into()));
    }
    if let Some(tail) = outcome.log_tail {
        r.headers.push(("X-Amz-Log-Result", tail));
    }
    let debugger = if attached { "attached" } else { "none" };
    r.headers.push(("X-Lambda-Ls-Debugger", debugger.into()));
    Ok(r)
}

/// The last lines of the worker's log, for a worker that died before debugpy listened.
fn last_words(outcome: &crate::pool::Outcome) -> String {
    let tail = outcome
        .log_tail
        .as_deref()
        .and_then(|t| base64::engine::general_purpose::STANDARD.decode(t).ok())
        .map(|b| String::from_utf8_lossy(&b).into_owned())
        .unwrap_or_default();
    let line = tail
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .rfind(|l| !l.starts_with("END ") && !l.starts_with("REPORT ") && !l.starts_with("START "));
    line.map(|l| format!(": {l}")).unwrap_or_default()
}

/// A port nobody listens on now; debugpy binds it a moment later.
fn free_port() -> std::result::Result<u16, String> {
    std::net::TcpListener::bind(("127.0.0.1", 0))
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .map_err(|e| format!("no free port on 127.0.0.1 for debugpy: {e}"))
}
