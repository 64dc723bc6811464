//! The runner of the AWS conformance rows: placeholders, setup steps, raw HTTP, and checks.
//!
//! A row is data (see `rows.rs`): steps that prepare state, one request, and what AWS answers
//! to it. The runner sends the same bytes to any backend speaking the Lambda REST-JSON API.

pub mod rows;

use std::io::Write;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use base64::Engine as _;
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::HeaderMap;
use serde_json::Value;
use sha2::Digest;

/// A request template; `{fn}`, `{acct}`, `{zip}`, `{zip2}`, `{zipsha}`, `{role}`, `{big}`,
/// `{tags51}` and `{zeros130}` are filled in per row and backend.
#[derive(Debug, Clone, Copy)]
pub struct Call {
    pub method: &'static str,
    pub path: &'static str,
    pub headers: &'static [(&'static str, &'static str)],
    pub body: &'static str,
}

/// What a row does before the request it checks.
#[derive(Debug, Clone, Copy)]
pub enum Step {
    /// Sent as is; its answer is not checked (the row's own request is).
    Call(Call),
    /// Polls GetFunctionConfiguration until State Active and LastUpdateStatus Successful.
    WaitReady,
}

/// One expectation about the answer.
#[derive(Debug, Clone, Copy)]
pub enum Want {
    /// Equal to this JSON (after placeholders).
    Eq(&'static str),
    /// A string starting with this text.
    Prefix(&'static str),
    /// A string matching this regular expression (whole string).
    Matches(&'static str),
    Present,
    Absent,
}

/// Where an expectation looks: `/json/pointer` into the body (a `[Key=value]` segment picks
/// the array element whose Key is value, a number the element at that index), `header:name`, or `report` (the REPORT line of the
/// decoded `X-Amz-Log-Result`).
pub type Check = (&'static str, Want);

/// Whether moto answers as AWS does on this row; a wrong row is counted and printed, not failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Moto {
    Right,
    Wrong,
}

#[derive(Debug, Clone, Copy)]
pub struct Row {
    pub name: &'static str,
    pub setup: &'static [Step],
    pub call: Call,
    pub status: u16,
    /// `x-amzn-ErrorType` (before any `:`), for error answers.
    pub code: Option<&'static str>,
    /// The error message, exactly (after placeholders).
    pub message: Option<&'static str>,
    pub checks: &'static [Check],
    pub moto: Moto,
    /// Why the local Lambda answers otherwise on purpose (a difference README's "Differences
    /// from AWS" lists); such a row must still differ locally, or the marker is stale.
    pub local_by_design: Option<&'static str>,
}

/// A Lambda API endpoint under test.
pub struct Backend {
    pub name: &'static str,
    pub addr: SocketAddr,
    pub account: &'static str,
}

pub struct Resp {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: Bytes,
}

/// The handler every row deploys: `sleep` makes it run past a 1 s timeout.
const HANDLER: &str =
    "import time\ndef handler(event, context):\n    time.sleep(event.get('sleep', 0))\n    return {'ok': True}\n";

fn zip_of(source: &str) -> Vec<u8> {
    let mut w = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let opts = zip::write::SimpleFileOptions::default().unix_permissions(0o644);
    w.start_file("app.py", opts).expect("zip entry");
    w.write_all(source.as_bytes()).expect("zip write");
    w.finish().expect("zip finish").into_inner()
}

/// Base64 of a zip holding one file of 130 MiB of zeros (small zipped): two of them pass
/// Lambda's 250 MB unzipped limit together, neither alone. Built once.
fn zeros_130() -> &'static str {
    static ZIP: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    ZIP.get_or_init(|| {
        let mut w = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
        let opts = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Deflated)
            .unix_permissions(0o644);
        w.start_file("zeros.bin", opts).expect("zip entry");
        let mib = vec![0u8; 1024 * 1024];
        for _ in 0..130 {
            w.write_all(&mib).expect("zip write");
        }
        let bytes = w.finish().expect("zip finish").into_inner();
        base64::engine::general_purpose::STANDARD.encode(bytes)
    })
}

/// Fills a template for one row on one backend.
pub struct Vars {
    values: Vec<(&'static str, String)>,
}

impl Vars {
    pub fn new(backend: &Backend, function: &str) -> Vars {
        let b64 = |b: &[u8]| base64::engine::general_purpose::STANDARD.encode(b);
        let zip = zip_of(HANDLER);
        let zip2 = zip_of(&HANDLER.replace("'ok'", "'ok2'"));
        Vars {
            values: vec![
                ("{fn}", function.to_string()),
                ("{acct}", backend.account.to_string()),
                ("{zipsha}", b64(&sha2::Sha256::digest(&zip))),
                ("{zip2}", b64(&zip2)),
                ("{zip}", b64(&zip)),
                ("{zeros130}", zeros_130().to_string()),
                (
                    "{role}",
                    "arn:aws:iam::123456789012:role/lambda-role".to_string(),
                ),
                ("{big}", "x".repeat(4090)),
                (
                    "{tags51}",
                    serde_json::to_string(
                        &(0..51)
                            .map(|i| (format!("k{i}"), "v".to_string()))
                            .collect::<std::collections::BTreeMap<_, _>>(),
                    )
                    .expect("tags JSON"),
                ),
            ],
        }
    }

    pub fn fill(&self, template: &str) -> String {
        let mut s = template.to_string();
        for (k, v) in &self.values {
            s = s.replace(k, v);
        }
        s
    }
}

/// One request on a fresh connection, signed only in form: moto routes on the service named in
/// the Authorization header's scope; the local Lambda accepts any credentials.
pub async fn send(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: String,
) -> Resp {
    let stream = tokio::net::TcpStream::connect(addr).await.expect("connect");
    let (mut sender, conn) =
        hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream))
            .await
            .expect("handshake");
    tokio::spawn(conn);
    let mut req = hyper::Request::builder()
        .method(method)
        .uri(path)
        .header("host", addr.to_string())
        .header("content-type", "application/json")
        .header(
            "authorization",
            "AWS4-HMAC-SHA256 Credential=AKIDTEST/20240101/us-east-1/lambda/aws4_request, SignedHeaders=host, Signature=0",
        );
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let resp = sender
        .send_request(req.body(Full::new(Bytes::from(body))).expect("request"))
        .await
        .expect("send");
    let status = resp.status().as_u16();
    let headers = resp.headers().clone();
    let body = resp.into_body().collect().await.expect("body").to_bytes();
    Resp {
        status,
        headers,
        body,
    }
}

async fn send_call(backend: &Backend, vars: &Vars, call: &Call) -> Resp {
    let headers: Vec<(String, String)> = call
        .headers
        .iter()
        .map(|(k, v)| (k.to_string(), vars.fill(v)))
        .collect();
    let headers: Vec<(&str, &str)> = headers
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    send(
        backend.addr,
        call.method,
        &vars.fill(call.path),
        &headers,
        vars.fill(call.body),
    )
    .await
}

async fn wait_ready(backend: &Backend, vars: &Vars) {
    let path = vars.fill("/2015-03-31/functions/{fn}/configuration");
    let start = Instant::now();
    loop {
        let r = send(backend.addr, "GET", &path, &[], String::new()).await;
        let c: Value = serde_json::from_slice(&r.body).unwrap_or(Value::Null);
        let ready = c["State"] == "Active"
            && (c["LastUpdateStatus"] == "Successful" || c.get("LastUpdateStatus").is_none());
        if ready || start.elapsed() > Duration::from_secs(30) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Follows a `/a/[Key=value]/0/b` path through JSON (a number indexes an array).
fn select<'a>(mut v: &'a Value, path: &str, vars: &Vars) -> Option<&'a Value> {
    for seg in path.split('/').skip(1) {
        v = match seg.strip_prefix('[').and_then(|s| s.strip_suffix(']')) {
            Some(filter) => {
                let (key, want) = filter.split_once('=')?;
                let want = vars.fill(want);
                v.as_array()?.iter().find(|e| e[key] == want.as_str())?
            }
            None => match (v, seg.parse::<usize>()) {
                (Value::Array(a), Ok(i)) => a.get(i)?,
                _ => v.get(seg)?,
            },
        };
    }
    Some(v)
}

fn report_line(r: &Resp) -> Option<Value> {
    let b64 = r.headers.get("x-amz-log-result")?.to_str().ok()?;
    let tail = base64::engine::general_purpose::STANDARD.decode(b64).ok()?;
    let tail = String::from_utf8(tail).ok()?;
    let line = tail.lines().find(|l| l.starts_with("REPORT "))?;
    Some(Value::String(line.to_string()))
}

fn found(r: &Resp, body: &Value, place: &str, vars: &Vars) -> Option<Value> {
    if let Some(name) = place.strip_prefix("header:") {
        return r
            .headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(|v| Value::String(v.to_string()));
    }
    if place == "report" {
        return report_line(r);
    }
    select(body, place, vars).cloned()
}

/// Every way the answer differs from the row, empty when it matches.
fn differences(row: &Row, vars: &Vars, r: &Resp) -> Vec<String> {
    let mut out = Vec::new();
    let body: Value = serde_json::from_slice(&r.body).unwrap_or(Value::Null);
    if r.status != row.status {
        out.push(format!("status {} (AWS: {})", r.status, row.status));
    }
    let code = r
        .headers
        .get("x-amzn-errortype")
        .and_then(|v| v.to_str().ok())
        .map(|v| v.split(':').next().unwrap_or_default().to_string());
    if code.as_deref() != row.code {
        out.push(format!("error code {code:?} (AWS: {:?})", row.code));
    }
    if let Some(m) = row.message {
        let want = vars.fill(m);
        let got = body
            .get("message")
            .or_else(|| body.get("Message"))
            .and_then(Value::as_str)
            .unwrap_or_default();
        if got != want {
            out.push(format!("message {got:?} (AWS: {want:?})"));
        }
    }
    for (place, want) in row.checks {
        let got = found(r, &body, place, vars);
        let ok = match (want, &got) {
            (Want::Present, g) => g.is_some(),
            (Want::Absent, g) => g.is_none(),
            (Want::Eq(j), Some(g)) => {
                serde_json::from_str::<Value>(&vars.fill(j)).expect("row JSON") == *g
            }
            (Want::Prefix(p), Some(Value::String(g))) => g.starts_with(&vars.fill(p)),
            (Want::Matches(re), Some(Value::String(g))) => {
                regex::Regex::new(&format!("^(?:{re})$"))
                    .expect("row regex")
                    .is_match(g)
            }
            _ => false,
        };
        if !ok {
            out.push(format!("{place}: {got:?} (AWS: {want:?})"));
        }
    }
    out
}

/// Runs one row on a backend with a function name of its own; returns the differences.
pub async fn run_row(backend: &Backend, index: usize, row: &Row) -> Vec<String> {
    let vars = Vars::new(backend, &format!("conf-{index:02}"));
    for step in row.setup {
        match step {
            Step::Call(c) => {
                send_call(backend, &vars, c).await;
            }
            Step::WaitReady => wait_ready(backend, &vars).await,
        }
    }
    let r = send_call(backend, &vars, &row.call).await;
    differences(row, &vars, &r)
}

/// Every row on one backend: (row, differences) in order.
pub async fn run_all(backend: &Backend) -> Vec<(&'static Row, Vec<String>)> {
    let mut out = Vec::new();
    for (i, row) in rows::ROWS.iter().enumerate() {
        let diffs = tokio::time::timeout(Duration::from_secs(60), run_row(backend, i, row))
            .await
            .unwrap_or_else(|_| vec!["no answer within 60 s".to_string()]);
        out.push((row, diffs));
    }
    out
}
