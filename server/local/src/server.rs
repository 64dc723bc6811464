//! The one HTTP port: DNS-rebinding checks, body limits, and dispatch to the Lambda API, the
//! CloudWatch Logs API, the S3 subset or code downloads.

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::header::HeaderValue;
use hyper::{Method, Request, Response};
use tokio::net::TcpListener;
use tokio::task::JoinSet;

use crate::api::{self, Ctx, Reply, Req, INVOKE_LIMIT};
use crate::body::BodyError;
use crate::error::ApiError;

/// Largest control-plane body: a 50 MB zip is about 67 MB once base64-encoded in JSON.
const CONTROL_LIMIT: usize = 80 * 1024 * 1024;

/// Who may talk to this port: only pages and tools on this machine, by its loopback names.
#[derive(Debug)]
pub(crate) struct Gate {
    hosts: [String; 3],
}

impl Gate {
    pub(crate) fn new(port: u16) -> Gate {
        Gate {
            hosts: [
                format!("127.0.0.1:{port}"),
                format!("localhost:{port}"),
                format!("[::1]:{port}"),
            ],
        }
    }

    /// Only this machine's loopback names as Host: a page on another site that reaches
    /// 127.0.0.1 through a DNS name it controls (rebinding) sends that name instead.
    pub(crate) fn admits_host<B>(&self, req: &Request<B>) -> Result<(), String> {
        let host = req
            .headers()
            .get(hyper::header::HOST)
            .and_then(|h| h.to_str().ok())
            .map(str::to_ascii_lowercase);
        match host {
            Some(h) if self.hosts.contains(&h) => {}
            other => {
                return Err(format!(
                    "Host {} is not allowed; use {}",
                    other.as_deref().unwrap_or("(none)"),
                    self.hosts[0]
                ))
            }
        }
        Ok(())
    }

    /// [`Gate::admits_host`], and no Origin but a local page's: the API is not for web pages.
    fn admits(&self, req: &Request<Incoming>) -> Result<(), String> {
        self.admits_host(req)?;
        if let Some(origin) = req.headers().get(hyper::header::ORIGIN) {
            let origin = origin.to_str().unwrap_or("");
            if !local_origin(origin) {
                return Err(format!("Origin {origin} is not allowed"));
            }
        }
        Ok(())
    }
}

/// `http://127.0.0.1`, `http://localhost` or `http://[::1]`, with any port.
fn local_origin(origin: &str) -> bool {
    let Some(rest) = origin.strip_prefix("http://") else {
        return false;
    };
    let rest = rest.to_ascii_lowercase();
    let port = ["127.0.0.1", "localhost", "[::1]"]
        .iter()
        .find_map(|h| rest.strip_prefix(h));
    match port {
        Some("") => true,
        Some(p) => p
            .strip_prefix(':')
            .is_some_and(|d| !d.is_empty() && d.bytes().all(|b| b.is_ascii_digit())),
        None => false,
    }
}

/// Decodes `%XX` escapes in a path segment; malformed escapes stay as they are.
fn percent_decode(s: &str) -> String {
    percent_encoding::percent_decode_str(s)
        .decode_utf8_lossy()
        .into_owned()
}

/// The query's pairs, decoded as `application/x-www-form-urlencoded` (`+` is a space).
fn parse_query(q: Option<&str>) -> Vec<(String, String)> {
    form_urlencoded::parse(q.unwrap_or("").as_bytes())
        .into_owned()
        .collect()
}

fn to_response(reply: Reply) -> Response<Full<Bytes>> {
    let mut resp = Response::new(Full::new(reply.body));
    *resp.status_mut() = hyper::StatusCode::from_u16(reply.status)
        .unwrap_or(hyper::StatusCode::INTERNAL_SERVER_ERROR);
    let h = resp.headers_mut();
    h.insert(
        hyper::header::CONTENT_TYPE,
        HeaderValue::from_static(reply.content_type),
    );
    for (name, value) in reply.headers {
        if let Ok(v) = HeaderValue::from_str(&value) {
            h.insert(name, v);
        }
    }
    if !h.contains_key("x-amzn-requestid") {
        if let Ok(v) = HeaderValue::from_str(&uuid::Uuid::new_v4().to_string()) {
            h.insert("x-amzn-RequestId", v);
        }
    }
    resp
}

async fn handle(ctx: Arc<Ctx>, gate: Arc<Gate>, req: Request<Incoming>) -> Response<Full<Bytes>> {
    if let Err(why) = gate.admits(&req) {
        tracing::warn!("refused a request: {why}");
        return to_response(Reply::error(&ApiError::new(
            403,
            "AccessDeniedException",
            why,
        )));
    }
    let path = req.uri().path().to_string();
    let (parts, body) = req.into_parts();
    let body = match read_body(body, path.ends_with("/invocations")).await {
        Ok(b) => b,
        Err(e) => return to_response(Reply::error(&e)),
    };
    to_response(dispatch(&ctx, parts, &path, body).await)
}

/// The whole body, within Invoke's limit for an invocation and the control plane's otherwise.
async fn read_body(body: Incoming, invoke: bool) -> Result<Bytes, ApiError> {
    let limit = if invoke { INVOKE_LIMIT } else { CONTROL_LIMIT };
    match crate::body::read(body, limit).await {
        Ok(b) => Ok(b),
        Err(BodyError::TooLarge) if invoke => Err(ApiError::new(
            413,
            "RequestTooLargeException",
            format!("Request must be smaller than {INVOKE_LIMIT} bytes for the InvokeFunction operation"),
        )),
        Err(BodyError::TooLarge) => Err(ApiError::new(
            413,
            "RequestEntityTooLargeException",
            format!("Request must be smaller than {CONTROL_LIMIT} bytes"),
        )),
        Err(BodyError::Broken(e)) => Err(ApiError::new(
            400,
            "InvalidRequestContentException",
            format!("cannot read the request body: {e}"),
        )),
    }
}

/// Hands a request to the API it is for: S3 by its signature, CloudWatch Logs by its
/// `X-Amz-Target`, code downloads by their path, else the Lambda API.
async fn dispatch(
    ctx: &Arc<Ctx>,
    parts: hyper::http::request::Parts,
    path: &str,
    body: Bytes,
) -> Reply {
    if crate::s3::is_s3(&parts.headers) {
        let path = path.trim_start_matches('/');
        let (bucket, key) = path.split_once('/').unwrap_or((path, ""));
        let req = crate::s3::S3Request {
            method: parts.method,
            bucket: percent_decode(bucket),
            key: (!key.is_empty()).then(|| percent_decode(key)),
            query: parse_query(parts.uri.query()),
            headers: parts.headers,
            body,
        };
        return crate::s3::handle(ctx.registry.store.clone(), req).await;
    }
    if path == "/" && parts.method == Method::POST {
        let target = parts
            .headers
            .get("x-amz-target")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        if let Some(op) = target.strip_prefix("Logs_20140328.") {
            let (status, value) = ctx.logs.handle(op, &body).await;
            let mut reply = Reply::json(status, value);
            reply.content_type = "application/x-amz-json-1.1";
            return reply;
        }
    }
    if parts.method == Method::GET {
        if let Some(file) = path.strip_prefix("/lambda-ls/code/") {
            return download(ctx, file).await;
        }
    }
    let req = Req {
        method: parts.method,
        segments: path
            .split('/')
            .filter(|s| !s.is_empty())
            .map(percent_decode)
            .collect(),
        query: parse_query(parts.uri.query()),
        headers: parts.headers,
        body,
    };
    api::route(ctx, req).await
}

/// Serves a stored zip: GetFunction's `Code.Location` and layers' `Content.Location`.
async fn download(ctx: &Ctx, file: &str) -> Reply {
    let hex = file.strip_suffix(".zip").unwrap_or("");
    if hex.len() != 64 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Reply::error(&ApiError::not_found("No such code."));
    }
    let path = ctx.registry.store.code_path(hex);
    match tokio::fs::read(&path).await {
        Ok(bytes) => Reply {
            status: 200,
            headers: Vec::new(),
            body: Bytes::from(bytes),
            content_type: "application/zip",
        },
        Err(_) => Reply::error(&ApiError::not_found("No such code.")),
    }
}

/// Accepts connections until aborted; aborting also ends every open connection.
pub(crate) async fn serve(listener: TcpListener, ctx: Arc<Ctx>, gate: Arc<Gate>) {
    accept_loop(listener, move |req, _peer| {
        let ctx = ctx.clone();
        let gate = gate.clone();
        async move { handle(ctx, gate, req).await }
    })
    .await
}

/// Serves HTTP/1.1 on `listener` with `handle` until aborted; aborting also ends every open
/// connection. Shared by the API port and the function URL ports.
pub(crate) async fn accept_loop<F, Fut>(listener: TcpListener, handle: F)
where
    F: Fn(Request<Incoming>, SocketAddr) -> Fut + Clone + Send + Sync + 'static,
    Fut: Future<Output = Response<Full<Bytes>>> + Send + 'static,
{
    let mut conns = JoinSet::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, peer)) => {
                    // Small JSON answers must not wait for Nagle's algorithm.
                    let _ = stream.set_nodelay(true);
                    let handle = handle.clone();
                    conns.spawn(async move {
                        let service = hyper::service::service_fn(move |req| {
                            let answer = handle(req, peer);
                            async move { Ok::<_, Infallible>(answer.await) }
                        });
                        let _ = hyper::server::conn::http1::Builder::new()
                            .serve_connection(hyper_util::rt::TokioIo::new(stream), service)
                            .await;
                    });
                }
                Err(e) => {
                    // Typically EMFILE: back off instead of spinning.
                    tracing::warn!("accept failed: {e}");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            },
            Some(_) = conns.join_next(), if !conns.is_empty() => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origins_and_decoding() {
        assert!(local_origin("http://localhost:3000"));
        assert!(local_origin("http://127.0.0.1"));
        assert!(local_origin("http://[::1]:8080"));
        assert!(!local_origin("http://evil.com"));
        assert!(!local_origin("http://localhost.evil.com"));
        assert!(!local_origin("https://localhost"));
        assert!(!local_origin("null"));
        assert_eq!(
            percent_decode("arn%3Aaws%3Alambda%3Aus-east-1%3A000000000000%3Afunction%3Af"),
            "arn:aws:lambda:us-east-1:000000000000:function:f"
        );
        assert_eq!(percent_decode("%24LATEST"), "$LATEST");
        assert_eq!(percent_decode("50%"), "50%");
    }
}
