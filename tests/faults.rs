//! A fault-injecting HTTP proxy on 127.0.0.1 for what moto and the local Lambda will not do:
//! throttle, refuse with a chosen error, stall, or report a function stuck in a state.

use std::convert::Infallible;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;

/// What to do to a matching request.
/// What a [`Fault::Rewrite`] does to a JSON answer.
pub type Rewrite = Arc<dyn Fn(&mut serde_json::Value) + Send + Sync>;

#[derive(Clone)]
pub enum Fault {
    /// Answer at once with this status and AWS error type.
    Error {
        status: u16,
        kind: &'static str,
        message: &'static str,
    },
    /// Forward, then rewrite the JSON answer (e.g. force `State: Pending`).
    Rewrite(Rewrite),
    /// Hold the request this long before forwarding.
    Stall(Duration),
}

struct Rule {
    method: &'static str,
    path_contains: &'static str,
    /// For query-protocol services (IAM, STS), whose calls are all `POST /`: the `Action`.
    action: Option<&'static str>,
    /// How many more requests it applies to (`usize::MAX` for always).
    remaining: usize,
    fault: Fault,
}

#[derive(Default)]
struct State {
    rules: Vec<Rule>,
    seen: Vec<String>,
}

/// The proxy; it stops when dropped.
pub struct FaultProxy {
    pub url: String,
    state: Arc<Mutex<State>>,
    task: tokio::task::JoinHandle<()>,
}

impl FaultProxy {
    /// Starts a proxy in front of `upstream` (`127.0.0.1:PORT`) on the current tokio runtime.
    pub async fn start(upstream: String) -> FaultProxy {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind proxy");
        let url = format!("http://{}", listener.local_addr().expect("proxy addr"));
        let state = Arc::new(Mutex::new(State::default()));
        let shared = Arc::clone(&state);
        let task = tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    break;
                };
                let state = Arc::clone(&shared);
                let upstream = upstream.clone();
                tokio::spawn(async move {
                    let service = hyper::service::service_fn(move |req| {
                        handle(Arc::clone(&state), upstream.clone(), req)
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        FaultProxy { url, state, task }
    }

    /// Applies `fault` to the next `times` requests whose method matches and whose path (with
    /// its query) contains `path_contains`.
    pub fn inject(
        &self,
        method: &'static str,
        path_contains: &'static str,
        times: usize,
        fault: Fault,
    ) {
        self.state.lock().expect("proxy lock").rules.push(Rule {
            method,
            path_contains,
            action: None,
            remaining: times,
            fault,
        });
    }

    /// Applies `fault` to the next `times` query-protocol calls (IAM, STS) of `action`.
    pub fn inject_action(&self, action: &'static str, times: usize, fault: Fault) {
        self.state.lock().expect("proxy lock").rules.push(Rule {
            method: "POST",
            path_contains: "/",
            action: Some(action),
            remaining: times,
            fault,
        });
    }

    /// How many query-protocol calls (IAM, STS) of `action` came in so far.
    pub fn count_action(&self, action: &str) -> usize {
        self.count(&format!(" Action={action}"))
    }

    /// Removes every rule.
    pub fn heal(&self) {
        self.state.lock().expect("proxy lock").rules.clear();
    }

    /// How many requests so far were `METHOD path…` containing `needle`.
    pub fn count(&self, needle: &str) -> usize {
        self.state
            .lock()
            .expect("proxy lock")
            .seen
            .iter()
            .filter(|l| l.contains(needle))
            .count()
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn handle(
    state: Arc<Mutex<State>>,
    upstream: String,
    req: Request<Incoming>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let (parts, body) = req.into_parts();
    let body = match body.collect().await {
        Ok(b) => b.to_bytes(),
        Err(_) => Bytes::new(),
    };
    let action = query_action(&parts, &body);
    let mut line = format!("{} {}", parts.method, parts.uri.path());
    if let Some(a) = &action {
        line.push_str(&format!(" Action={a}"));
    }
    let fault = {
        let mut st = state.lock().expect("proxy lock");
        st.seen.push(line.clone());
        let method = parts.method.as_str();
        // With the query: S3 tells CreateMultipartUpload (`?uploads`) from CompleteMultipartUpload
        // (`?uploadId=`) on the same path.
        let path = parts
            .uri
            .path_and_query()
            .map_or(parts.uri.path(), |p| p.as_str());
        st.rules
            .iter_mut()
            .find(|r| {
                r.remaining > 0
                    && r.method == method
                    && path.contains(r.path_contains)
                    && r.action.is_none_or(|a| action.as_deref() == Some(a))
            })
            .map(|r| {
                r.remaining = r.remaining.saturating_sub(1);
                r.fault.clone()
            })
    };
    let mut rewrite = None;
    match fault {
        Some(Fault::Error {
            status,
            kind,
            message,
        }) => return Ok(error_answer(status, kind, message, action.is_some())),
        Some(Fault::Stall(d)) => tokio::time::sleep(d).await,
        Some(Fault::Rewrite(f)) => rewrite = Some(f),
        None => {}
    }
    let req = Request::from_parts(parts, Full::new(body));
    Ok(forward(&upstream, req, rewrite).await.unwrap_or_else(|e| {
        Response::builder()
            .status(502)
            .body(Full::new(Bytes::from(format!("proxy: {e}"))))
            .expect("valid response")
    }))
}

/// The `Action` of a query-protocol call (IAM, STS): a form body `Action=X&Version=…`.
fn query_action(parts: &hyper::http::request::Parts, body: &Bytes) -> Option<String> {
    let form = parts
        .headers
        .get("content-type")?
        .to_str()
        .ok()?
        .starts_with("application/x-www-form-urlencoded");
    let text = std::str::from_utf8(body).ok().filter(|_| form)?;
    text.split('&')
        .find_map(|kv| kv.strip_prefix("Action="))
        .map(str::to_string)
}

/// An AWS error answer in the request's protocol: XML for query calls, JSON otherwise.
fn error_answer(status: u16, kind: &str, message: &str, query: bool) -> Response<Full<Bytes>> {
    let (content_type, body) = if query {
        (
            "text/xml",
            format!(
                "<ErrorResponse><Error><Type>Sender</Type><Code>{kind}</Code>\
                 <Message>{message}</Message></Error><RequestId>fault</RequestId></ErrorResponse>"
            ),
        )
    } else {
        (
            "application/json",
            serde_json::json!({"Type": "User", "message": message}).to_string(),
        )
    };
    Response::builder()
        .status(status)
        .header("x-amzn-errortype", kind)
        .header("content-type", content_type)
        .body(Full::new(Bytes::from(body)))
        .expect("valid response")
}

async fn forward(
    upstream: &str,
    req: Request<Full<Bytes>>,
    rewrite: Option<Rewrite>,
) -> Result<Response<Full<Bytes>>, Box<dyn std::error::Error + Send + Sync>> {
    let (mut parts, body) = req.into_parts();
    parts.headers.insert("host", upstream.parse()?);
    let stream = tokio::net::TcpStream::connect(upstream).await?;
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
    tokio::spawn(conn);
    let resp = sender
        .send_request(Request::from_parts(parts, body))
        .await?;
    let (mut parts, body) = resp.into_parts();
    let mut bytes = body.collect().await?.to_bytes();
    if let Some(f) = rewrite {
        if let Ok(mut v) = serde_json::from_slice::<serde_json::Value>(&bytes) {
            f(&mut v);
            bytes = Bytes::from(v.to_string());
            parts.headers.remove("content-length");
        }
    }
    Ok(Response::from_parts(parts, Full::new(bytes)))
}
