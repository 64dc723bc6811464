//! Function URLs served on loopback: one listener per URL config, each request turned into the
//! event AWS sends for function URLs and the handler's answer into the response AWS makes of it.

mod cors;
mod event;
mod sigv4;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::header::HeaderValue;
use hyper::{Request, Response, StatusCode};
use serde_json::json;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

use crate::api::{Ctx, INVOKE_LIMIT};
use crate::body::BodyError;
use crate::model::{FunctionRef, UrlConfig};
use crate::server::Gate;

/// Which URL config a listener serves: the function and its qualifier key (`""` when the URL
/// is on the unqualified function, else an alias name).
type UrlKey = (String, String);

#[derive(Debug)]
struct Listener {
    port: u16,
    task: JoinHandle<()>,
}

/// The open function URL listeners of one local Lambda.
#[derive(Debug, Default)]
pub(crate) struct Urls {
    open: Mutex<HashMap<UrlKey, Listener>>,
}

/// `http://127.0.0.1:PORT/`, the address a function URL is served at.
pub(crate) fn address(port: u16) -> String {
    format!("http://127.0.0.1:{port}/")
}

impl Urls {
    /// A fresh loopback listener for a new URL: `preferred` when it is free, else any port.
    pub(crate) async fn bind(preferred: Option<u16>) -> std::io::Result<TcpListener> {
        if let Some(port) = preferred.filter(|p| *p != 0) {
            match TcpListener::bind(("127.0.0.1", port)).await {
                Ok(l) => return Ok(l),
                Err(e) => tracing::warn!(
                    "function URL port {port} is taken ({e}); serving that URL on another port"
                ),
            }
        }
        TcpListener::bind(("127.0.0.1", 0)).await
    }

    /// Serves the URL of `name` at `qualifier_key` on `listener`, replacing an older listener.
    pub(crate) fn serve(&self, ctx: &Arc<Ctx>, name: &str, qualifier_key: &str, l: TcpListener) {
        let Ok(port) = l.local_addr().map(|a| a.port()) else {
            return;
        };
        let key = (name.to_string(), qualifier_key.to_string());
        let target = Arc::new(Served {
            ctx: Arc::downgrade(ctx),
            key: key.clone(),
            gate: Gate::new(port),
        });
        let task = tokio::spawn(crate::server::accept_loop(l, move |req, peer| {
            let target = target.clone();
            async move { target.handle(req, peer).await }
        }));
        let old = self.lock().insert(key, Listener { port, task });
        if let Some(old) = old {
            old.task.abort();
        }
    }

    /// The port the URL of `name` at `qualifier_key` is served on, if it is open.
    pub(crate) fn port(&self, name: &str, qualifier_key: &str) -> Option<u16> {
        let key = (name.to_string(), qualifier_key.to_string());
        self.lock().get(&key).map(|l| l.port)
    }

    pub(crate) fn close(&self, name: &str, qualifier_key: &str) {
        let key = (name.to_string(), qualifier_key.to_string());
        if let Some(l) = self.lock().remove(&key) {
            l.task.abort();
        }
    }

    pub(crate) fn close_all(&self) {
        for (_, l) in self.lock().drain() {
            l.task.abort();
        }
    }

    /// Opens every stored URL that is not served yet and closes listeners whose URL config is
    /// gone (a deleted function or alias takes its URL with it).
    pub(crate) async fn reconcile(&self, ctx: &Arc<Ctx>) {
        let stored: Vec<(UrlKey, Option<u16>)> = ctx
            .registry
            .list(|rec| {
                rec.urls
                    .iter()
                    .map(|(q, u)| ((rec.latest.name.clone(), q.clone()), u.port))
                    .collect::<Vec<_>>()
            })
            .into_iter()
            .flatten()
            .collect();
        let gone: Vec<UrlKey> = self
            .lock()
            .keys()
            .filter(|k| !stored.iter().any(|(s, _)| s == *k))
            .cloned()
            .collect();
        for (name, q) in gone {
            self.close(&name, &q);
        }
        for ((name, q), port) in stored {
            if self.port(&name, &q).is_some() {
                continue;
            }
            match Urls::bind(port).await {
                Ok(l) => self.serve(ctx, &name, &q, l),
                Err(e) => tracing::error!("cannot serve the function URL of {name}: {e}"),
            }
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<UrlKey, Listener>> {
        self.open.lock().expect("function URL listeners poisoned")
    }
}

/// What one listener answers for.
#[derive(Debug)]
struct Served {
    /// Weak: the listener must not keep a stopped local Lambda alive.
    ctx: std::sync::Weak<Ctx>,
    key: UrlKey,
    gate: Gate,
}

impl Served {
    async fn handle(&self, req: Request<Incoming>, peer: SocketAddr) -> Response<Full<Bytes>> {
        if let Err(why) = self.gate.admits_host(&req) {
            tracing::warn!("refused a function URL request: {why}");
            return message(StatusCode::FORBIDDEN, Some("Forbidden"));
        }
        let Some(ctx) = self.ctx.upgrade() else {
            return message(StatusCode::SERVICE_UNAVAILABLE, None);
        };
        let (name, qualifier) = &self.key;
        let config = ctx
            .registry
            .read(name, |rec| rec.urls.get(qualifier).cloned())
            .flatten();
        // AWS answers a URL that does not exist (any more) with 403 and a null message.
        let Some(config) = config else {
            return message(StatusCode::FORBIDDEN, None);
        };
        let (parts, body) = req.into_parts();
        let body = match crate::body::read(body, INVOKE_LIMIT).await {
            Ok(b) => b,
            Err(BodyError::TooLarge) => {
                return message(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    Some("Request Entity Too Large"),
                )
            }
            Err(BodyError::Broken(_)) => return message(StatusCode::BAD_REQUEST, None),
        };
        let cors = cors::Cors::of(&config, &parts.headers);
        if let Some(preflight) = cors.as_ref().and_then(|c| c.preflight(&parts)) {
            return preflight;
        }
        let mut resp = self.answer(&ctx, &config, &parts, body, peer).await;
        if let Some(c) = &cors {
            c.decorate(&mut resp);
        }
        resp
    }

    /// Authenticates, invokes and maps the answer; every failure is AWS's status for it.
    async fn answer(
        &self,
        ctx: &Ctx,
        config: &UrlConfig,
        parts: &hyper::http::request::Parts,
        body: Bytes,
        peer: SocketAddr,
    ) -> Response<Full<Bytes>> {
        let caller = if config.auth_type == "AWS_IAM" {
            match sigv4::verify(parts, &body, crate::time::now_millis()) {
                Ok(caller) => Some(caller),
                Err(why) => {
                    tracing::info!("function URL request refused (AWS_IAM): {why}");
                    return message(StatusCode::FORBIDDEN, Some("Forbidden"));
                }
            }
        } else {
            None
        };
        let url_id = config.url_id();
        let event = event::request_event(parts, &body, peer, &url_id, caller.as_ref());
        let (name, qualifier) = &self.key;
        let f = FunctionRef {
            name: name.clone(),
            qualifier: (!qualifier.is_empty()).then(|| qualifier.clone()),
        };
        let payload = Bytes::from(event.to_string());
        match crate::api::invoke_sync(ctx, &f, payload).await {
            Ok(outcome) if !outcome.function_error => event::http_response(&outcome.body)
                .unwrap_or_else(|why| {
                    tracing::info!("function URL of {name}: the function's answer {why}");
                    bad_gateway()
                }),
            Ok(_) => bad_gateway(),
            Err(e) if e.status == 429 => {
                message(StatusCode::TOO_MANY_REQUESTS, Some("Too Many Requests"))
            }
            Err(e) if e.status == 404 => message(StatusCode::FORBIDDEN, None),
            Err(e) => {
                tracing::info!("function URL of {name}: {}", e.message);
                bad_gateway()
            }
        }
    }
}

/// AWS's error body for function URLs: `{"Message": …}` as JSON, with the error type header.
fn message(status: StatusCode, text: Option<&str>) -> Response<Full<Bytes>> {
    let body = json!({ "Message": text }).to_string();
    let mut resp = Response::new(Full::new(Bytes::from(body)));
    *resp.status_mut() = status;
    let h = resp.headers_mut();
    h.insert(
        hyper::header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    let kind = match status {
        StatusCode::FORBIDDEN => Some("AccessDeniedException"),
        StatusCode::TOO_MANY_REQUESTS => Some("TooManyRequestsException"),
        _ => None,
    };
    if let Some(kind) = kind {
        h.insert("x-amzn-ErrorType", HeaderValue::from_static(kind));
    }
    resp
}

/// A function error, a timeout or an answer that is not a valid response: AWS's 502, whose
/// body is plain text.
fn bad_gateway() -> Response<Full<Bytes>> {
    let mut resp = Response::new(Full::new(Bytes::from_static(b"Internal Server Error")));
    *resp.status_mut() = StatusCode::BAD_GATEWAY;
    resp.headers_mut().insert(
        hyper::header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    resp
}
