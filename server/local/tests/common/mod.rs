//! Test harness: starts a local Lambda on a temp dir and drives it over plain HTTP.
#![allow(dead_code)] // each test binary uses a different subset of the helpers

pub mod scenarios;

use std::future::Future;
use std::io::Write;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use base64::Engine as _;
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::HeaderMap;
use lambda_local::{Bootstrap, LocalConfig, LocalLambda};
use serde_json::{json, Value};

pub const ROLE: &str = "arn:aws:iam::123456789012:role/lambda-role";

/// Fails the test instead of hanging it.
pub async fn bounded<F: Future>(secs: u64, f: F) -> F::Output {
    tokio::time::timeout(Duration::from_secs(secs), f)
        .await
        .expect("test exceeded its time bound")
}

pub struct Resp {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl Resp {
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| {
            panic!(
                "body is not JSON ({e}): {}",
                String::from_utf8_lossy(&self.body)
            )
        })
    }

    pub fn header(&self, name: &str) -> Option<String> {
        self.headers
            .get(name)
            .map(|v| v.to_str().unwrap().to_string())
    }

    /// The decoded `X-Amz-Log-Result` tail.
    pub fn tail(&self) -> String {
        let b64 = self.header("x-amz-log-result").expect("no log tail");
        String::from_utf8(
            base64::engine::general_purpose::STANDARD
                .decode(b64)
                .unwrap(),
        )
        .unwrap()
    }
}

/// One request on a fresh connection; sets Host to the server's address unless given.
pub async fn call(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: impl Into<Bytes>,
) -> Resp {
    let stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let (mut sender, conn) =
        hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream))
            .await
            .unwrap();
    tokio::spawn(conn);
    let mut req = hyper::Request::builder().method(method).uri(path);
    if !headers.iter().any(|(k, _)| k.eq_ignore_ascii_case("host")) {
        req = req.header("host", addr.to_string());
    }
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let resp = sender
        .send_request(req.body(Full::new(body.into())).unwrap())
        .await
        .unwrap();
    let status = resp.status().as_u16();
    let headers = resp.headers().clone();
    let body = resp.into_body().collect().await.unwrap().to_bytes();
    Resp {
        status,
        headers,
        body,
    }
}

pub fn zip(files: &[(&str, &str)]) -> Vec<u8> {
    let mut w = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let opts = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated)
        .unix_permissions(0o644);
    for (name, content) in files {
        w.start_file(*name, opts).unwrap();
        w.write_all(content.as_bytes()).unwrap();
    }
    w.finish().unwrap().into_inner()
}

pub fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// A running local Lambda on its own temp dir.
pub struct Harness {
    pub lambda: Option<LocalLambda>,
    pub addr: SocketAddr,
    pub dir: tempfile::TempDir,
    pub cfg: LocalConfig,
}

/// Interpreter for awslambdaric tests, or `None` (with a loud note) when not configured.
pub fn ric_python() -> Option<PathBuf> {
    match std::env::var_os("LAMBDA_LS_TEST_PYTHON_RIC") {
        Some(p) if !p.is_empty() => Some(PathBuf::from(p)),
        _ => {
            eprintln!(
                "\n!!! SKIPPING awslambdaric test: set LAMBDA_LS_TEST_PYTHON_RIC to a python that \
                 has awslambdaric (python3 -m venv /tmp/ric && /tmp/ric/bin/pip install awslambdaric)\n"
            );
            None
        }
    }
}

impl Harness {
    pub async fn start(bootstrap: Bootstrap, python: Option<PathBuf>) -> Harness {
        Harness::start_with(bootstrap, python, |_| {}).await
    }

    pub async fn start_with(
        bootstrap: Bootstrap,
        python: Option<PathBuf>,
        tweak: impl FnOnce(&mut LocalConfig),
    ) -> Harness {
        let dir = tempfile::tempdir().unwrap();
        let mut cfg = LocalConfig::new(dir.path().join("data"));
        cfg.bootstrap = bootstrap;
        cfg.python = python;
        tweak(&mut cfg);
        let lambda = LocalLambda::start(cfg.clone()).await.unwrap();
        let addr = lambda.addr();
        Harness {
            lambda: Some(lambda),
            addr,
            dir,
            cfg,
        }
    }

    /// Stops and starts again on the same data directory (the port may change).
    pub async fn restart(&mut self) {
        self.lambda.take().unwrap().shutdown().await;
        let lambda = LocalLambda::start(self.cfg.clone()).await.unwrap();
        self.addr = lambda.addr();
        self.lambda = Some(lambda);
    }

    pub async fn shutdown(mut self) {
        if let Some(l) = self.lambda.take() {
            l.shutdown().await;
        }
    }

    pub async fn call(&self, method: &str, path: &str, body: Value) -> Resp {
        let body = if body.is_null() {
            Vec::new()
        } else {
            body.to_string().into_bytes()
        };
        call(
            self.addr,
            method,
            path,
            &[("content-type", "application/json")],
            body,
        )
        .await
    }

    /// CreateFunction with a handler module `app.py` (plus other files) and extra fields.
    pub async fn create(&self, name: &str, files: &[(&str, &str)], extra: Value) -> Resp {
        let mut body = json!({
            "FunctionName": name,
            "Runtime": "python3.11",
            "Role": ROLE,
            "Handler": "app.handler",
            "Code": { "ZipFile": b64(&zip(files)) },
        });
        if let (Some(b), Some(e)) = (body.as_object_mut(), extra.as_object()) {
            for (k, v) in e {
                b.insert(k.clone(), v.clone());
            }
        }
        self.call("POST", "/2015-03-31/functions", body).await
    }

    /// Polls GetFunctionConfiguration until `pred` holds.
    pub async fn wait_for(&self, name: &str, pred: impl Fn(&Value) -> bool) -> Value {
        let start = Instant::now();
        loop {
            let r = self
                .call(
                    "GET",
                    &format!("/2015-03-31/functions/{name}/configuration"),
                    Value::Null,
                )
                .await;
            assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
            let c = r.json();
            if pred(&c) {
                return c;
            }
            assert!(
                start.elapsed() < Duration::from_secs(20),
                "function {name} never reached the expected state: {c}"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    pub async fn wait_active(&self, name: &str) -> Value {
        self.wait_for(name, |c| {
            c["State"] == "Active" && c["LastUpdateStatus"] == "Successful"
        })
        .await
    }

    /// Creates a function and waits until it is Active.
    pub async fn deploy(&self, name: &str, files: &[(&str, &str)], extra: Value) {
        let r = self.create(name, files, extra).await;
        assert_eq!(r.status, 201, "{}", String::from_utf8_lossy(&r.body));
        self.wait_active(name).await;
    }

    pub async fn invoke(&self, name: &str, payload: Value, tail: bool) -> Resp {
        self.invoke_with(name, &payload.to_string(), tail, &[])
            .await
    }

    pub async fn invoke_with(
        &self,
        name: &str,
        payload: &str,
        tail: bool,
        headers: &[(&str, &str)],
    ) -> Resp {
        let mut h: Vec<(&str, &str)> = headers.to_vec();
        if tail {
            h.push(("x-amz-log-type", "Tail"));
        }
        call(
            self.addr,
            "POST",
            &format!("/2015-03-31/functions/{name}/invocations"),
            &h,
            payload.to_string().into_bytes(),
        )
        .await
    }
}
