//! Shared fixtures for end-to-end tests: the moto server, the built binary, temp projects.
//!
//! Every service starts on 127.0.0.1 with a free port, is bounded in time, and stops on drop.

pub mod faults;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The repository root.
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ lives in the repo")
        .to_path_buf()
}

/// The virtualenv `tests/run` prepares (moto, boto3, awslambdaric, pytest-lsp).
pub fn test_venv() -> PathBuf {
    let venv = std::env::var_os("LAMBDA_LS_TEST_VENV")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo_root().join(".cache/test-venv"));
    assert!(
        venv.join("bin/python").exists(),
        "no test virtualenv at {}; run ./tests/run, which creates it",
        venv.display()
    );
    venv
}

/// The `lambda-ls` binary built from this workspace.
pub fn lambda_ls_bin() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo_root().join("target"));
    let bin = target.join("debug/lambda-ls");
    assert!(
        bin.exists(),
        "{} is missing; `cargo build -p lambda-ls` first (tests/run does)",
        bin.display()
    );
    bin
}

/// A port the OS says is free right now on 127.0.0.1.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("bind an ephemeral port on loopback")
}

/// A moto server on 127.0.0.1, with its access log captured for counting calls.
pub struct Moto {
    child: Child,
    pub port: u16,
    log: Arc<Mutex<Vec<String>>>,
}

impl Moto {
    /// Starts moto with the simple Lambda backend (Invoke echoes the payload, no Docker).
    pub fn start() -> Moto {
        Moto::start_with(true)
    }

    /// With `simple_lambda = false` moto keeps its default backend: Invoke cannot run, but
    /// layers work (moto's simple backend stores published layers where CreateFunction does
    /// not look for them).
    pub fn start_with(simple_lambda: bool) -> Moto {
        let venv = test_venv();
        let port = free_port();
        let mut child = Command::new(venv.join("bin/moto_server"))
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            // AWS has its managed policies (AWSLambdaBasicExecutionRole); moto loads them on request.
            .env("MOTO_IAM_LOAD_MANAGED_POLICIES", "true")
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start moto_server");
        let log = Arc::new(Mutex::new(Vec::new()));
        let stderr = child.stderr.take().expect("piped stderr");
        let sink = Arc::clone(&log);
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                sink.lock().expect("log lock").push(line);
            }
        });
        let moto = Moto { child, port, log };
        let deadline = Instant::now() + Duration::from_secs(30);
        while moto.http("GET", "/moto-api/", None) != Some(200) {
            assert!(Instant::now() < deadline, "moto did not start within 30 s");
            std::thread::sleep(Duration::from_millis(100));
        }
        if !simple_lambda {
            return moto;
        }
        let status = moto.http(
            "POST",
            "/moto-api/config",
            Some(r#"{"lambda":{"use_docker":false}}"#),
        );
        assert!(
            matches!(status, Some(200 | 201)),
            "switch moto to its simple Lambda backend: {status:?}"
        );
        moto
    }

    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// A tiny HTTP/1.1 request; returns the status code.
    fn http(&self, method: &str, path: &str, body: Option<&str>) -> Option<u16> {
        use std::io::{Read, Write};
        let mut s = std::net::TcpStream::connect(("127.0.0.1", self.port)).ok()?;
        s.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
        let body = body.unwrap_or("");
        write!(
            s,
            "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            self.port,
            body.len()
        )
        .ok()?;
        let mut resp = String::new();
        s.read_to_string(&mut resp).ok()?;
        resp.split_whitespace().nth(1)?.parse().ok()
    }

    /// How many access-log lines contain `needle` (e.g. `PUT /2015-03-31/functions/f/code`).
    pub fn count(&self, needle: &str) -> usize {
        self.settle();
        self.log
            .lock()
            .expect("log lock")
            .iter()
            .filter(|l| l.contains(needle))
            .count()
    }

    /// Waits until moto's access log has stopped growing (it logs a request after answering it,
    /// and our reader thread copies it a moment later), so a count taken next is complete.
    pub fn settle(&self) {
        let mut last = usize::MAX;
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            let now = self.log.lock().expect("log lock").len();
            if now == last {
                return;
            }
            last = now;
            std::thread::sleep(Duration::from_millis(150));
        }
    }

    /// Every access-log line so far.
    pub fn requests(&self) -> Vec<String> {
        self.settle();
        self.log
            .lock()
            .expect("log lock")
            .iter()
            .filter(|l| l.contains("HTTP/1.1\""))
            .cloned()
            .collect()
    }

    /// AWS config and credentials files whose `moto` profile points at this server.
    pub fn profile_files(&self, dir: &Path) -> (PathBuf, PathBuf) {
        let config = dir.join("config");
        let credentials = dir.join("credentials");
        std::fs::write(
            &config,
            format!(
                "[profile moto]\nregion = us-east-1\nendpoint_url = {e}\n\n\
                 [profile assumed]\nrole_arn = arn:aws:iam::111111111111:role/deployer\n\
                 source_profile = moto\nregion = eu-west-1\nendpoint_url = {e}\n\n\
                 [profile noregion]\nendpoint_url = {e}\n",
                e = self.endpoint()
            ),
        )
        .expect("write config");
        std::fs::write(
            &credentials,
            "[moto]\naws_access_key_id = AKIDMOTOTESTING\naws_secret_access_key = moto-secret-key-do-not-print\n\n\
             [noregion]\naws_access_key_id = AKIDNOREGION\naws_secret_access_key = noregion-secret\n",
        )
        .expect("write credentials");
        (config, credentials)
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Packages `app.py:handler` of a project folder (plus `includes`) with a spec named `name`.
pub fn package_dir(
    dir: &Path,
    name: &str,
    includes: Vec<PathBuf>,
) -> (
    lambda_deploy::package::Package,
    lambda_deploy::spec::FunctionSpec,
) {
    use lambda_deploy::package::{build_package, resolve_target, PackageRequest};
    let target =
        resolve_target(&dir.join("app.py"), "handler", false).expect("resolve app.py:handler");
    let spec = lambda_deploy::spec::FunctionSpec::new(name.to_string(), target.handler());
    let pkg = build_package(&PackageRequest { target, includes }).expect("package");
    (pkg, spec)
}

/// A fresh project whose `app.py` is `source` (and `extra` files, all included), packaged.
pub fn packaged(
    name: &str,
    source: &str,
    extra: &[(&str, &str)],
) -> (
    tempfile::TempDir,
    lambda_deploy::package::Package,
    lambda_deploy::spec::FunctionSpec,
) {
    let mut files = vec![("requirements.txt", ""), ("app.py", source)];
    files.extend_from_slice(extra);
    let proj = project(&files);
    let includes = extra.iter().map(|(p, _)| proj.path().join(p)).collect();
    let (pkg, spec) = package_dir(proj.path(), name, includes);
    (proj, pkg, spec)
}

/// A local Lambda on a data directory under `dir`, and a connection to it.
pub async fn local_lambda(
    dir: &Path,
) -> (lambda_local::LocalLambda, lambda_deploy::aws::Connection) {
    let config = lambda_local::LocalConfig::new(dir.join("data"));
    let local = lambda_local::LocalLambda::start(config)
        .await
        .expect("start the local Lambda");
    let endpoint = lambda_deploy::aws::Endpoint::Local {
        url: local.endpoint(),
    };
    let conn = lambda_deploy::aws::Connection::connect(&endpoint)
        .await
        .expect("connect to the local Lambda");
    (local, conn)
}

/// A connection to moto through the `moto` profile of profile files written into `dir`.
pub async fn moto_connection(moto: &Moto, dir: &Path) -> lambda_deploy::aws::Connection {
    let (config, credentials) = moto.profile_files(dir);
    let files = lambda_deploy::profiles::ProfileEnv::from_pairs([
        ("AWS_CONFIG_FILE", config.to_str().expect("utf-8 path")),
        (
            "AWS_SHARED_CREDENTIALS_FILE",
            credentials.to_str().expect("utf-8 path"),
        ),
        ("HOME", dir.to_str().expect("utf-8 path")),
    ]);
    lambda_deploy::aws::Connection::connect(&lambda_deploy::aws::Endpoint::Aws {
        profile: "moto".into(),
        region: None,
        files,
    })
    .await
    .expect("connect to moto")
}

/// Bytes that do not compress (xorshift), for size-limit tests.
pub fn incompressible(len: usize) -> Vec<u8> {
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

/// Writes `files` (path, text) under a fresh temp dir.
pub fn project(files: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("temp dir");
    for (rel, text) in files {
        let p = dir.path().join(rel);
        std::fs::create_dir_all(p.parent().expect("has parent")).expect("mkdir");
        std::fs::write(p, text).expect("write file");
    }
    dir
}

/// Fake secrets in the fixture profiles: they must never appear in any output.
pub const SECRETS: &[&str] = &["moto-secret-key-do-not-print", "noregion-secret"];

/// Clears `cmd`'s environment down to what a hermetic CLI run gets: PATH, its own HOME and
/// profile files under `home`, no instance metadata, and the local Lambda's data in `home`.
pub fn hermetic<'a>(cmd: &'a mut Command, home: &Path) -> &'a mut Command {
    cmd.env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", home)
        .env("AWS_CONFIG_FILE", home.join("config"))
        .env("AWS_SHARED_CREDENTIALS_FILE", home.join("credentials"))
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("LAMBDA_LS_LOCAL_DIR", home.join("local"))
}

/// Runs the CLI binary with a hermetic environment: its own HOME, profile files and local data dir.
pub fn run(home: &Path, moto: Option<&Moto>, args: &[&str]) -> Output {
    run_with(home, moto, args, &[])
}

/// [`run`] with extra environment variables (`LAMBDA_LS_PYTHON`, ...).
pub fn run_with(home: &Path, moto: Option<&Moto>, args: &[&str], env: &[(&str, &str)]) -> Output {
    let endpoint = moto.map(Moto::endpoint);
    // Also routes the STS call of assume-role profiles to moto.
    let mut all: Vec<(&str, &str)> = endpoint
        .iter()
        .map(|e| ("AWS_ENDPOINT_URL", e.as_str()))
        .collect();
    all.extend_from_slice(env);
    run_in(home, &[], &all, args)
}

/// [`run`] with more environment variables (an empty value removes one), the binary started
/// through `wrap` (e.g. `["unshare", "-rn"]` for a network namespace without any network).
pub fn run_in(home: &Path, wrap: &[&str], env: &[(&str, &str)], args: &[&str]) -> Output {
    let mut cmd = match wrap.split_first() {
        Some((program, wrap_args)) => {
            let mut c = Command::new(program);
            c.args(wrap_args).arg(lambda_ls_bin());
            c
        }
        None => Command::new(lambda_ls_bin()),
    };
    hermetic(cmd.args(args).current_dir(repo_root()), home).env("RUST_LOG", "trace");
    // pip (requirements layers) needs the machine's package-index settings and certificates.
    for (k, v) in std::env::vars() {
        if k.starts_with("PIP_")
            || k.ends_with("_CA_BUNDLE")
            || k.starts_with("SSL_CERT")
            || k == "LAMBDA_LS_CACHE_DIR"
        {
            cmd.env(k, v);
        }
    }
    for (k, v) in env {
        match v {
            &"" => cmd.env_remove(k),
            v => cmd.env(k, v),
        };
    }
    let out = cmd.output().expect("run lambda-ls");
    let all = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    for s in SECRETS {
        assert!(!all.contains(s), "secret {s} leaked in output of {args:?}");
    }
    out
}

pub fn stdout_json(out: &Output) -> serde_json::Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "stdout is not JSON ({e}): {}\nstderr: {}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    })
}

pub fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// The last line on stderr: the one-sentence error.
pub fn error_line(out: &Output) -> String {
    stderr(out)
        .lines()
        .rfind(|l| l.starts_with("error: "))
        .unwrap_or_default()
        .to_string()
}

/// Reads `Content-Length`-framed JSON messages (LSP and DAP frame them alike) until the stream
/// ends or `tx`'s receiver is gone; `seen` gets every body first, even one that is not JSON.
pub fn read_frames(
    stream: impl Read,
    tx: &std::sync::mpsc::Sender<serde_json::Value>,
    seen: impl Fn(&[u8]),
) {
    let mut r = BufReader::new(stream);
    loop {
        let mut len = 0usize;
        loop {
            let mut line = String::new();
            if r.read_line(&mut line).unwrap_or(0) == 0 {
                return;
            }
            let line = line.trim();
            if line.is_empty() {
                break;
            }
            if let Some(v) = line.strip_prefix("Content-Length: ") {
                len = v.parse().unwrap_or(0);
            }
        }
        let mut body = vec![0; len];
        if r.read_exact(&mut body).is_err() {
            return;
        }
        seen(&body);
        if let Ok(v) = serde_json::from_slice(&body) {
            if tx.send(v).is_err() {
                return;
            }
        }
    }
}

/// A minimal LSP client over the binary's stdio.
pub struct Lsp {
    child: std::process::Child,
    stdin: std::process::ChildStdin,
    out: std::sync::mpsc::Receiver<serde_json::Value>,
    next_id: i64,
    /// Everything the server wrote to stderr, and every message it sent.
    pub stderr: Arc<Mutex<String>>,
    pub stdout: Arc<Mutex<String>>,
}

impl Lsp {
    /// Starts `lambda-ls lsp` with its own HOME and local data dir, plus `env`; stderr is kept.
    pub fn start(home: &std::path::Path, env: &[(&str, &str)]) -> Lsp {
        let mut child = Command::new(lambda_ls_bin())
            .arg("lsp")
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HOME", home)
            .env("LAMBDA_LS_LOCAL_DIR", home.join("local"))
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .envs(env.iter().copied())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let stderr = child.stderr.take().unwrap();
        let log = Arc::new(Mutex::new(String::new()));
        let sink = Arc::clone(&log);
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                let mut l = sink.lock().expect("log lock");
                l.push_str(&line);
                l.push('\n');
            }
        });
        let stdin = child.stdin.take().unwrap();
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        let seen = Arc::new(Mutex::new(String::new()));
        let transcript = Arc::clone(&seen);
        std::thread::spawn(move || {
            read_frames(stdout, &tx, |body| {
                transcript
                    .lock()
                    .expect("transcript lock")
                    .push_str(&String::from_utf8_lossy(body))
            })
        });
        Lsp {
            child,
            stdin,
            out: rx,
            next_id: 1,
            stderr: log,
            stdout: seen,
        }
    }

    pub fn send(&mut self, v: serde_json::Value) {
        let body = v.to_string();
        write!(self.stdin, "Content-Length: {}\r\n\r\n{body}", body.len()).unwrap();
        self.stdin.flush().unwrap();
    }

    pub fn notify(&mut self, method: &str, params: serde_json::Value) {
        self.send(serde_json::json!({"jsonrpc": "2.0", "method": method, "params": params}));
    }

    /// Sends a request and waits (bounded) for its answer, skipping notifications and answering
    /// server requests with null.
    pub fn request(&mut self, method: &str, params: serde_json::Value) -> serde_json::Value {
        let id = self.start_request(method, params);
        self.answer(id, Duration::from_secs(20))
    }

    /// Sends a request without waiting for its answer; returns its id for [`Lsp::answer`].
    pub fn start_request(&mut self, method: &str, params: serde_json::Value) -> i64 {
        let id = self.next_id;
        self.next_id += 1;
        self.send(
            serde_json::json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params}),
        );
        id
    }

    /// Waits (bounded) for the answer to request `id`.
    pub fn answer(&mut self, id: i64, within: Duration) -> serde_json::Value {
        let id = serde_json::json!(id);
        self.wait_message(within, |m| {
            m.get("id") == Some(&id) && m.get("method").is_none()
        })
    }

    /// Waits (bounded) for the first message the server sends that `wanted` accepts, answering
    /// server requests on the way with null.
    pub fn wait_message(
        &mut self,
        within: Duration,
        wanted: impl Fn(&serde_json::Value) -> bool,
    ) -> serde_json::Value {
        let deadline = Instant::now() + within;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let msg = self
                .out
                .recv_timeout(left)
                .unwrap_or_else(|_| panic!("no awaited message within {within:?}"));
            if wanted(&msg) {
                return msg;
            }
            if let (Some(server_id), Some(_)) = (msg.get("id"), msg.get("method")) {
                let reply = serde_json::json!({"jsonrpc": "2.0", "id": server_id, "result": null});
                self.send(reply);
            }
        }
    }
}

impl Drop for Lsp {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
