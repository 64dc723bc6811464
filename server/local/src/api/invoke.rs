//! Invoke: validates the payload, picks the version's pool and waits for its worker.

use std::sync::Arc;

use bytes::Bytes;
use serde::de::IgnoredAny;

use super::{decode_base64, function_ref, Ctx, Reply, Req, Result};
use crate::error::ApiError;
use crate::model::FunctionRef;
use crate::pool::{Invocation, Outcome};

/// Lambda's limit on a synchronous request payload.
pub(crate) const INVOKE_LIMIT: usize = 6 * 1024 * 1024;
/// Lambda's limit on an asynchronous (`Event`) request payload.
const EVENT_LIMIT: usize = 256 * 1024;

fn too_large(limit: usize) -> ApiError {
    ApiError::new(
        413,
        "RequestTooLargeException",
        format!("Request must be smaller than {limit} bytes for the InvokeFunction operation"),
    )
}

pub(super) async fn invoke(ctx: &Arc<Ctx>, req: &Req, id: &str) -> Result<Reply> {
    let f = function_ref(req, id)?;
    let kind = invocation_type(req)?;
    let payload = payload(req, kind)?;
    let client_context = client_context(req)?;
    let target = ctx
        .registry
        .target(&f.name, f.qualifier.as_deref(), &invoked_arn(&f))?;
    let request_id = uuid::Uuid::new_v4().to_string();
    let reply = |status: u16| {
        let mut r = Reply::empty(status);
        // Only a synchronous invoke says which version ran (API reference, Invoke:
        // ExecutedVersion); an Event invoke's 202 carries no such header.
        if kind != "Event" {
            r.headers
                .push(("X-Amz-Executed-Version", target.executed_version.clone()));
        }
        r.headers.push(("x-amzn-RequestId", request_id.clone()));
        r
    };
    if kind == "DryRun" {
        return Ok(reply(204));
    }
    let (tx, rx) = if kind == "Event" {
        (None, None)
    } else {
        let (tx, rx) = tokio::sync::oneshot::channel();
        (Some(tx), Some(rx))
    };
    let invocation = Invocation {
        request_id: request_id.clone(),
        payload,
        invoked_arn: f.arn(),
        client_context,
        want_tail: kind == "RequestResponse" && req.header("x-amz-log-type") == Some("Tail"),
        reply: tx,
    };
    if target.pool.invoke(invocation).is_err() {
        return Err(throttled());
    }
    let Some(rx) = rx else {
        return Ok(reply(202));
    };
    let outcome = rx.await.map_err(|_| dropped())?;
    let mut r = reply(200);
    r.body = outcome.body;
    if outcome.function_error {
        r.headers.push(("X-Amz-Function-Error", "Unhandled".into()));
    }
    if let Some(tail) = outcome.log_tail {
        r.headers.push(("X-Amz-Log-Result", tail));
    }
    Ok(r)
}

/// The `X-Amz-Invocation-Type`, with the log type checked too. API reference, Invoke:
/// InvocationType and LogType are enums; others are refused.
fn invocation_type(req: &Req) -> Result<&str> {
    let kind = req
        .header("x-amz-invocation-type")
        .unwrap_or("RequestResponse");
    if !matches!(kind, "RequestResponse" | "Event" | "DryRun") {
        return Err(ApiError::validation(format!(
            "1 validation error detected: Value '{kind}' at 'invocationType' failed to satisfy constraint: Member must satisfy enum value set: [Event, RequestResponse, DryRun]"
        )));
    }
    if let Some(log) = req
        .header("x-amz-log-type")
        .filter(|l| !matches!(*l, "None" | "Tail"))
    {
        return Err(ApiError::validation(format!(
            "1 validation error detected: Value '{log}' at 'logType' failed to satisfy constraint: Member must satisfy enum value set: [None, Tail]"
        )));
    }
    Ok(kind)
}

/// The event: within the invocation type's size limit and JSON; no payload is `{}`.
fn payload(req: &Req, kind: &str) -> Result<Bytes> {
    if req.body.len() > INVOKE_LIMIT {
        return Err(too_large(INVOKE_LIMIT));
    }
    if kind == "Event" && req.body.len() > EVENT_LIMIT {
        return Err(too_large(EVENT_LIMIT));
    }
    if req.body.iter().all(u8::is_ascii_whitespace) {
        // No payload means an empty event object, as the Lambda console and CLI send.
        return Ok(Bytes::from_static(b"{}"));
    }
    if let Err(e) = serde_json::from_slice::<IgnoredAny>(&req.body) {
        return Err(ApiError::new(
            400,
            "InvalidRequestContentException",
            format!(
                "Could not parse request body into json: Could not parse payload into json: {e}"
            ),
        ));
    }
    Ok(req.body.clone())
}

/// `X-Amz-Client-Context`, base64 of the JSON the handler sees as `context.client_context`.
fn client_context(req: &Req) -> Result<Option<String>> {
    let Some(b64) = req.header("x-amz-client-context") else {
        return Ok(None);
    };
    decode_base64(b64)
        .and_then(|b| String::from_utf8(b).ok())
        .map(Some)
        .ok_or_else(|| {
            ApiError::new(
                400,
                "InvalidRequestContentException",
                "Client context must be a valid Base64-encoded JSON object.",
            )
        })
}

/// The ARN a missing function is named by: with the qualifier invoked, `$LATEST` by default
/// (AWS's "Function not found: arn:...:function:NAME:$LATEST").
fn invoked_arn(f: &FunctionRef) -> String {
    format!(
        "{}:{}",
        crate::model::function_arn(&f.name),
        f.qualifier.as_deref().unwrap_or(crate::model::LATEST)
    )
}

fn throttled() -> ApiError {
    ApiError::new(429, "TooManyRequestsException", "Rate Exceeded.")
}

fn dropped() -> ApiError {
    ApiError::service("The invocation was dropped by its worker.")
}

/// One synchronous invocation with an already valid payload, as a function URL makes it.
pub(crate) async fn invoke_sync(ctx: &Ctx, f: &FunctionRef, payload: Bytes) -> Result<Outcome> {
    let target = ctx
        .registry
        .target(&f.name, f.qualifier.as_deref(), &invoked_arn(f))?;
    let (invocation, rx) = Invocation::sync(payload, f.arn(), false);
    if target.pool.invoke(invocation).is_err() {
        return Err(throttled());
    }
    rx.await.map_err(|_| dropped())
}
