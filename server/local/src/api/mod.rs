//! The Lambda REST-JSON control plane: routing, request parsing and AWS-shaped answers.

mod access;
mod aliases;
mod debug;
mod functions;
pub use functions::LIVE_HEADER;
mod invoke;
mod layers;

use std::sync::Arc;

use base64::Engine as _;
use bytes::Bytes;
use hyper::{HeaderMap, Method};
use serde::de::DeserializeOwned;
use serde_json::{json, Value};

use crate::error::ApiError;
use crate::logs::Logs;
use crate::model::{FunctionConfig, FunctionRecord, FunctionRef, LATEST};
use crate::registry::Registry;

pub(crate) use invoke::{invoke_sync, INVOKE_LIMIT};

/// What every handler can reach.
#[derive(Debug)]
pub(crate) struct Ctx {
    pub registry: Arc<Registry>,
    pub logs: Arc<Logs>,
    pub endpoint: String,
    pub debugger: crate::debug::Debugger,
    /// The loopback listeners of function URLs.
    pub urls: crate::urls::Urls,
}

/// A request with its path split and decoded and its body read.
#[derive(Debug)]
pub(crate) struct Req {
    pub method: Method,
    pub segments: Vec<String>,
    pub query: Vec<(String, String)>,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl Req {
    pub(crate) fn query(&self, key: &str) -> Option<&str> {
        self.query
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    fn query_all(&self, key: &str) -> Vec<&str> {
        self.query
            .iter()
            .filter(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
            .collect()
    }

    pub(crate) fn header(&self, key: &str) -> Option<&str> {
        self.headers.get(key).and_then(|v| v.to_str().ok())
    }

    /// The JSON body as `T`; an empty body reads as `{}`.
    fn json<T: DeserializeOwned>(&self) -> Result<T> {
        let body: &[u8] = if self.body.is_empty() {
            b"{}"
        } else {
            &self.body
        };
        serde_json::from_slice(body)
            .map_err(|e| ApiError::invalid(format!("Could not parse request body: {e}")))
    }
}

/// An answer before it becomes an HTTP response.
#[derive(Debug)]
pub(crate) struct Reply {
    pub status: u16,
    pub headers: Vec<(&'static str, String)>,
    pub body: Bytes,
    pub content_type: &'static str,
}

impl Reply {
    pub(crate) fn json(status: u16, value: Value) -> Reply {
        Reply {
            status,
            headers: Vec::new(),
            body: Bytes::from(value.to_string()),
            content_type: "application/json",
        }
    }

    pub(crate) fn empty(status: u16) -> Reply {
        Reply {
            status,
            headers: Vec::new(),
            body: Bytes::new(),
            content_type: "application/json",
        }
    }

    pub(crate) fn error(e: &ApiError) -> Reply {
        let kind = if e.status >= 500 { "Service" } else { "User" };
        let mut r = Reply::json(
            e.status,
            json!({ "Type": kind, "message": e.message, "Message": e.message }),
        );
        r.headers.push(("x-amzn-ErrorType", e.kind.to_string()));
        r
    }
}

type Result<T> = std::result::Result<T, ApiError>;

/// Routes one control-plane request.
pub(crate) async fn route(ctx: &Arc<Ctx>, req: Req) -> Reply {
    let segs: Vec<&str> = req.segments.iter().map(String::as_str).collect();
    let result = match segs.as_slice() {
        ["2015-03-31", "functions", rest @ ..] => route_functions(ctx, &req, rest).await,
        ["2018-10-31", "layers", rest @ ..] => route_layers(ctx, &req, rest).await,
        _ => route_others(ctx, &req, &segs).await,
    };
    result.unwrap_or_else(|e| Reply::error(&e))
}

/// `/2015-03-31/functions/…`: functions, their versions, aliases, policies and invocations.
async fn route_functions(ctx: &Arc<Ctx>, req: &Req, rest: &[&str]) -> Result<Reply> {
    match (rest, &req.method) {
        ([], &Method::POST) => functions::create(ctx, req).await,
        ([], &Method::GET) => functions::list(ctx, req),
        ([id], &Method::GET) => functions::get(ctx, req, id),
        ([id], &Method::DELETE) => functions::delete(ctx, req, id).await,
        ([id, "configuration"], &Method::GET) => functions::get_configuration(ctx, req, id),
        ([id, "configuration"], &Method::PUT) => {
            functions::update_configuration(ctx, req, id).await
        }
        ([id, "code"], &Method::PUT) => functions::update_code(ctx, req, id).await,
        ([id, "invocations"], &Method::POST) => invoke::invoke(ctx, req, id).await,
        ([id, "versions"], &Method::POST) => functions::publish_version(ctx, req, id).await,
        ([id, "versions"], &Method::GET) => functions::list_versions(ctx, req, id),
        ([id, "aliases"], &Method::POST) => aliases::create(ctx, req, id).await,
        ([id, "aliases"], &Method::GET) => aliases::list(ctx, req, id),
        ([id, "aliases", alias], &Method::GET) => aliases::get(ctx, id, alias),
        ([id, "aliases", alias], &Method::PUT) => aliases::update(ctx, req, id, alias).await,
        ([id, "aliases", alias], &Method::DELETE) => aliases::delete(ctx, id, alias).await,
        ([id, "policy"], &Method::POST) => access::add_permission(ctx, req, id).await,
        ([id, "policy"], &Method::GET) => access::get_policy(ctx, req, id),
        ([id, "policy", sid], &Method::DELETE) => {
            access::remove_permission(ctx, req, id, sid).await
        }
        _ => Err(unknown_operation(req)),
    }
}

/// `/2018-10-31/layers/…`.
async fn route_layers(ctx: &Arc<Ctx>, req: &Req, rest: &[&str]) -> Result<Reply> {
    match (rest, &req.method) {
        ([], &Method::GET) => layers::list_layers(ctx, req),
        ([name, "versions"], &Method::POST) => layers::publish(ctx, req, name).await,
        ([name, "versions"], &Method::GET) => layers::list_versions(ctx, req, name),
        ([name, "versions", n], &Method::GET) => layers::get_version(ctx, name, n),
        ([name, "versions", n], &Method::DELETE) => layers::delete_version(ctx, name, n).await,
        _ => Err(unknown_operation(req)),
    }
}

/// Function URLs, tags, account settings and lambda-ls's own debug extension.
async fn route_others(ctx: &Arc<Ctx>, req: &Req, segs: &[&str]) -> Result<Reply> {
    match (segs, &req.method) {
        (["2021-10-31", "functions", id, "url"], _) => access::url_config(ctx, req, id).await,
        (["2021-10-31", "functions", id, "urls"], &Method::GET) => {
            access::list_url_configs(ctx, req, id)
        }
        (["2017-03-31", "tags", arn], _) => access::tags(ctx, req, arn).await,
        (["2016-08-19", "account-settings"], &Method::GET) => Ok(access::account_settings(ctx)),
        (["lambda-ls", "debug", "functions", id], &Method::POST) => {
            debug::start(ctx, req, id).await
        }
        (["lambda-ls", "debug", "sessions", id, "result"], &Method::GET) => {
            debug::result(ctx, id).await
        }
        _ => Err(unknown_operation(req)),
    }
}

fn unknown_operation(req: &Req) -> ApiError {
    ApiError::new(
        404,
        "UnknownOperationException",
        format!(
            "Unknown operation: {} /{}",
            req.method,
            req.segments.join("/")
        ),
    )
}

// ---- helpers shared by the handlers ----

/// Parses a path function identifier and merges the `Qualifier` query parameter into it.
fn function_ref(req: &Req, id: &str) -> Result<FunctionRef> {
    let mut r = FunctionRef::parse(id)?;
    if let Some(q) = req.query("Qualifier").filter(|q| !q.is_empty()) {
        match &r.qualifier {
            Some(existing) if existing != q => {
                return Err(ApiError::invalid(
                    "The derived qualifier from the function name does not match the specified qualifier.",
                ))
            }
            _ => r.qualifier = Some(q.to_string()),
        }
    }
    Ok(r)
}

/// The configuration a qualifier names: `$LATEST`, a version, or the version an alias points to.
fn config_at<'a>(rec: &'a FunctionRecord, f: &FunctionRef) -> Result<&'a FunctionConfig> {
    let mut q = f.qualifier.as_deref().unwrap_or(LATEST);
    if let Some(alias) = rec.aliases.get(q) {
        q = &alias.function_version;
    }
    if q == LATEST {
        return Ok(&rec.latest);
    }
    q.parse::<u64>()
        .ok()
        .and_then(|n| rec.versions.get(&n))
        .ok_or_else(|| ApiError::function_not_found(&f.arn()))
}

/// Reads a record or answers AWS's 404 for it.
fn read_record<R>(
    ctx: &Ctx,
    f: &FunctionRef,
    then: impl FnOnce(&FunctionRecord) -> Result<R>,
) -> Result<R> {
    ctx.registry
        .read(&f.name, then)
        .unwrap_or_else(|| Err(ApiError::function_not_found(&f.arn())))
}

/// `RevisionId` optimistic locking: 412 when the caller's view is stale.
fn check_revision(expected: Option<&str>, actual: &str) -> Result<()> {
    match expected {
        Some(e) if !e.is_empty() && e != actual => Err(ApiError::precondition(
            "The Revision Id provided does not match the latest Revision Id. Call the GetFunction/GetAlias API to retrieve the latest Revision Id",
        )),
        _ => Ok(()),
    }
}

/// Standard base64 with or without padding, as SDKs send it.
fn decode_base64(s: &str) -> Option<Vec<u8>> {
    use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
    const LENIENT: GeneralPurpose = GeneralPurpose::new(
        &base64::alphabet::STANDARD,
        GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
    );
    LENIENT.decode(s.trim()).ok()
}

/// `Marker`/`MaxItems` pagination over an ordered list, with offsets as markers.
fn paginate<T>(req: &Req, items: Vec<T>, max: usize) -> Result<(Vec<T>, Option<String>)> {
    let start = match req.query("Marker").filter(|m| !m.is_empty()) {
        None => 0,
        Some(m) => m
            .parse::<usize>()
            .map_err(|_| ApiError::invalid(format!("Invalid marker: {m}")))?,
    };
    let limit = match req.query("MaxItems") {
        None => max,
        Some(n) => match n.parse::<usize>() {
            Ok(n) if n >= 1 => n.min(max),
            _ => {
                return Err(ApiError::validation(format!(
                    "1 validation error detected: Value '{n}' at 'maxItems' failed to satisfy constraint: Member must have value greater than or equal to 1"
                )))
            }
        },
    };
    let total = items.len();
    let end = start.saturating_add(limit).min(total);
    let next = (end < total).then(|| end.to_string());
    Ok((
        items
            .into_iter()
            .skip(start)
            .take(end.saturating_sub(start))
            .collect(),
        next,
    ))
}
