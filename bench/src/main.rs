//! Measuring helpers that `bench/run` drives. Each subcommand measures one thing and prints one
//! JSON object on stdout; it exits 1 when what it measured did not work (an invoke failed, a
//! result was wrong), never because something was slow.
//!
//! - `invoke-loop --url URL --n N [--warmup W] [--payload JSON] [--expect TEXT]`: sequential
//!   invokes over one keep-alive HTTP/1.1 connection (no SDK, no signing), so the local Lambda
//!   and AWS's Runtime Interface Emulator are timed by the same client.
//! - `sdk-invoke-loop --endpoint URL --function NAME --n N [--warmup W]`: the same through
//!   `lambda_ops::invoke::invoke`, the operation the CLI and the language server call.
//! - `map --endpoint URL --function NAME --inputs N --concurrency C [--warmup N]`:
//!   `lambda_ops::map::map`, wall time of the whole fan-out.
//! - `package --target FILE.py:FUNCTION --include DIR --runs N [--out ZIP]`:
//!   `lambda_ops::deploy::package_target` in process (no process start, no file write), the
//!   operation `lambda-ls package` and every deploy package through.
//! - `repack --target FILE.py:FUNCTION --include DIR --edit FILE --runs N`: repackaging after
//!   a one-file edit through a `PackageCache`, against a build from scratch after the same edit
//!   (alternating, so load falls on both); every incremental zip is checked against the other.
//! - `analysis --file F.py --line L --column C --n N`: the library half of the language
//!   server's lens path, timed piece by piece: a one-character edit at L:C (incremental reparse)
//!   and the top-level function list the lenses are made from.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

type Result<T> = std::result::Result<T, String>;

/// Every read and write on a socket gives up after this: a stuck server ends the run.
const IO_TIMEOUT: Duration = Duration::from_secs(60);

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some((command, rest)) = args.split_first() else {
        eprintln!("usage: lambda-ls-bench invoke-loop|sdk-invoke-loop|map|package --key value ...");
        return ExitCode::from(2);
    };
    let opts = match Opts::parse(rest) {
        Ok(o) => o,
        Err(e) => {
            eprintln!("lambda-ls-bench: {e}");
            return ExitCode::from(2);
        }
    };
    let result = match command.as_str() {
        "invoke-loop" => invoke_loop(&opts),
        "sdk-invoke-loop" => runtime().and_then(|rt| rt.block_on(sdk_invoke_loop(&opts))),
        "map" => runtime().and_then(|rt| rt.block_on(map(&opts))),
        "package" => runtime().and_then(|rt| rt.block_on(package(&opts))),
        "repack" => repack(&opts),
        "analysis" => analysis(&opts),
        other => Err(format!("unknown command `{other}`")),
    };
    match result {
        Ok((value, ok)) => {
            let mut out = std::io::stdout().lock();
            let _ = writeln!(out, "{value}");
            if ok {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            }
        }
        Err(e) => {
            eprintln!("lambda-ls-bench {command}: {e}");
            ExitCode::from(1)
        }
    }
}

fn runtime() -> Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start tokio: {e}"))
}

/// `--key value` pairs.
struct Opts(HashMap<String, String>);

impl Opts {
    fn parse(args: &[String]) -> Result<Opts> {
        let mut map = HashMap::new();
        let mut it = args.iter();
        while let Some(k) = it.next() {
            let key = k
                .strip_prefix("--")
                .ok_or_else(|| format!("expected --key, got `{k}`"))?;
            let value = it.next().ok_or_else(|| format!("--{key} needs a value"))?;
            map.insert(key.to_string(), value.clone());
        }
        Ok(Opts(map))
    }

    fn str(&self, key: &str) -> Result<&str> {
        self.0
            .get(key)
            .map(String::as_str)
            .ok_or_else(|| format!("--{key} is required"))
    }

    fn num(&self, key: &str, default: Option<usize>) -> Result<usize> {
        match (self.0.get(key), default) {
            (Some(v), _) => v
                .parse()
                .map_err(|_| format!("--{key} `{v}` is not a number")),
            (None, Some(d)) => Ok(d),
            (None, None) => Err(format!("--{key} is required")),
        }
    }
}

/// CPU seconds this process has used (user + system, all threads).
fn own_cpu() -> f64 {
    // SAFETY: getrusage writes into the zeroed struct we pass and reads nothing else.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    if unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut usage) } != 0 {
        return 0.0;
    }
    let secs = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    secs(usage.ru_utime) + secs(usage.ru_stime)
}

fn micros(d: Duration) -> f64 {
    d.as_secs_f64() * 1e6
}

// ---- a minimal keep-alive HTTP/1.1 client ----

struct Http {
    host: String,
    conn: Option<BufReader<TcpStream>>,
}

struct Response {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Response {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

impl Http {
    fn new(host: &str) -> Http {
        Http {
            host: host.to_string(),
            conn: None,
        }
    }

    fn connect(&mut self) -> Result<&mut BufReader<TcpStream>> {
        if self.conn.is_none() {
            let addr = self
                .host
                .parse::<std::net::SocketAddr>()
                .map_err(|e| format!("{}: {e}", self.host))?;
            let s = TcpStream::connect_timeout(&addr, Duration::from_secs(5))
                .map_err(|e| format!("connect {}: {e}", self.host))?;
            s.set_nodelay(true).map_err(|e| e.to_string())?;
            s.set_read_timeout(Some(IO_TIMEOUT))
                .map_err(|e| e.to_string())?;
            s.set_write_timeout(Some(IO_TIMEOUT))
                .map_err(|e| e.to_string())?;
            self.conn = Some(BufReader::new(s));
        }
        Ok(self.conn.as_mut().expect("just connected"))
    }

    fn post(&mut self, path: &str, body: &[u8]) -> Result<Response> {
        let host = self.host.clone();
        let conn = self.connect()?;
        let mut req = format!(
            "POST {path} HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
            body.len()
        )
        .into_bytes();
        req.extend_from_slice(body);
        let sent = conn.get_mut().write_all(&req);
        let resp = sent
            .map_err(|e| format!("write: {e}"))
            .and_then(|_| read_response(conn));
        match resp {
            Ok(r) => {
                if r.header("connection")
                    .is_some_and(|c| c.eq_ignore_ascii_case("close"))
                {
                    self.conn = None;
                }
                Ok(r)
            }
            Err(e) => {
                self.conn = None;
                Err(e)
            }
        }
    }
}

fn read_line(r: &mut BufReader<TcpStream>) -> Result<String> {
    let mut line = String::new();
    let n = r.read_line(&mut line).map_err(|e| format!("read: {e}"))?;
    if n == 0 {
        return Err("the server closed the connection".into());
    }
    Ok(line.trim_end_matches(['\r', '\n']).to_string())
}

fn read_response(r: &mut BufReader<TcpStream>) -> Result<Response> {
    let status_line = read_line(r)?;
    let status: u16 = status_line
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| format!("bad status line `{status_line}`"))?;
    let mut headers = Vec::new();
    loop {
        let line = read_line(r)?;
        if line.is_empty() {
            break;
        }
        if let Some((k, v)) = line.split_once(':') {
            headers.push((k.trim().to_string(), v.trim().to_string()));
        }
        if headers.len() > 200 {
            return Err("more than 200 response headers".into());
        }
    }
    let mut resp = Response {
        status,
        headers,
        body: Vec::new(),
    };
    if resp
        .header("transfer-encoding")
        .is_some_and(|t| t.eq_ignore_ascii_case("chunked"))
    {
        loop {
            let size_line = read_line(r)?;
            let size = usize::from_str_radix(size_line.split(';').next().unwrap_or("").trim(), 16)
                .map_err(|_| format!("bad chunk size `{size_line}`"))?;
            if size == 0 {
                // Trailers, then the blank line.
                while !read_line(r)?.is_empty() {}
                break;
            }
            let start = resp.body.len();
            resp.body.resize(start + size, 0);
            r.read_exact(&mut resp.body[start..])
                .map_err(|e| format!("read chunk: {e}"))?;
            read_line(r)?;
        }
    } else if let Some(len) = resp.header("content-length") {
        let len: usize = len
            .parse()
            .map_err(|_| format!("bad content-length `{len}`"))?;
        resp.body.resize(len, 0);
        r.read_exact(&mut resp.body)
            .map_err(|e| format!("read body: {e}"))?;
    } else if status != 204 && status != 304 {
        r.read_to_end(&mut resp.body)
            .map_err(|e| format!("read body: {e}"))?;
    }
    Ok(resp)
}

/// Splits `http://host:port/path` into `host:port` and `/path`.
fn split_url(url: &str) -> Result<(String, String)> {
    let rest = url
        .strip_prefix("http://")
        .ok_or_else(|| format!("`{url}` is not an http:// URL"))?;
    let (host, path) = rest.split_once('/').unwrap_or((rest, ""));
    Ok((host.to_string(), format!("/{path}")))
}

fn invoke_loop(opts: &Opts) -> Result<(Value, bool)> {
    let (host, path) = split_url(opts.str("url")?)?;
    let n = opts.num("n", None)?;
    let warmup = opts.num("warmup", Some(0))?;
    let payload = opts
        .0
        .get("payload")
        .cloned()
        .unwrap_or_else(|| "{}".into());
    let expect = opts.0.get("expect").cloned();
    let mut http = Http::new(&host);
    let mut latencies = Vec::with_capacity(n);
    let mut failures = Vec::new();
    for i in 0..warmup + n {
        let started = Instant::now();
        let outcome = http.post(&path, payload.as_bytes());
        let took = started.elapsed();
        let problem = match &outcome {
            Err(e) => Some(e.clone()),
            Ok(r) if r.status != 200 => Some(format!(
                "status {}: {}",
                r.status,
                String::from_utf8_lossy(&r.body)
            )),
            Ok(r) if r.header("x-amz-function-error").is_some() => Some(format!(
                "function error: {}",
                String::from_utf8_lossy(&r.body)
            )),
            Ok(r) => match &expect {
                Some(text) if !String::from_utf8_lossy(&r.body).contains(text.as_str()) => Some(
                    format!("unexpected result {}", String::from_utf8_lossy(&r.body)),
                ),
                _ => None,
            },
        };
        if let Some(p) = problem {
            failures.push(format!("invoke {i}: {p}"));
            if failures.len() >= 5 {
                break;
            }
        } else if i >= warmup {
            latencies.push(micros(took));
        }
    }
    let ok = failures.is_empty();
    Ok((json!({"latencies_us": latencies, "failures": failures}), ok))
}

async fn local_connection(opts: &Opts) -> Result<lambda_deploy::aws::Connection> {
    let url = opts.str("endpoint")?.to_string();
    lambda_deploy::aws::Connection::connect(&lambda_deploy::aws::Endpoint::Local { url })
        .await
        .map_err(|e| e.to_string())
}

async fn sdk_invoke_loop(opts: &Opts) -> Result<(Value, bool)> {
    use lambda_deploy::invoke::{InvokeKind, InvokeRequest};
    use lambda_ops::invoke::invoke;
    let conn = local_connection(opts).await?;
    let n = opts.num("n", None)?;
    let warmup = opts.num("warmup", Some(0))?;
    let req = InvokeRequest {
        function: opts.str("function")?.to_string(),
        payload: b"{}".to_vec(),
        kind: InvokeKind::RequestResponse,
        qualifier: None,
    };
    let mut latencies = Vec::with_capacity(n);
    let mut failures = Vec::new();
    for i in 0..warmup + n {
        let started = Instant::now();
        let outcome = invoke(&conn, &req).await;
        let took = started.elapsed();
        match outcome {
            Err(e) => failures.push(format!("invoke {i}: {e}")),
            Ok(o) if o.failed() => failures.push(format!("invoke {i}: {o}")),
            Ok(_) if i >= warmup => latencies.push(micros(took)),
            Ok(_) => {}
        }
        if failures.len() >= 5 {
            break;
        }
    }
    let ok = failures.is_empty();
    Ok((json!({"latencies_us": latencies, "failures": failures}), ok))
}

async fn map(opts: &Opts) -> Result<(Value, bool)> {
    use lambda_deploy::fanout::MapMode;
    use lambda_ops::map::{map, MapRequest};
    let conn = local_connection(opts).await?;
    let function = opts.str("function")?;
    let n = opts.num("inputs", None)?;
    let concurrency = opts.num("concurrency", None)?;
    let warmup = opts.num("warmup", Some(0))?;
    let request = |count: usize| MapRequest {
        function: function.to_string(),
        inputs: (0..count).map(|i| json!({"i": i})).collect(),
        mode: MapMode::Event,
        concurrency,
    };
    // Bring up `concurrency` warm workers first, as a steady-state fan-out would have.
    if warmup > 0 {
        let results = map(&conn, request(warmup), &|_, _| {}).await;
        if let Some(bad) = results.iter().find(|r| !r.ok) {
            return Err(format!(
                "warm-up input {} failed: {} {}",
                bad.index,
                bad.output,
                bad.error.as_deref().unwrap_or("")
            ));
        }
    }
    let cpu_before = own_cpu();
    let started = Instant::now();
    let results = map(&conn, request(n), &|_, _| {}).await;
    let wall = started.elapsed();
    let client_cpu = own_cpu() - cpu_before;
    let mut failures = Vec::new();
    for r in &results {
        let right = r.output.get("i").and_then(Value::as_u64) == Some(r.index as u64);
        if !r.ok || !right {
            failures.push(format!(
                "input {}: ok={} output={} error={}",
                r.index,
                r.ok,
                r.output,
                r.error.as_deref().unwrap_or("")
            ));
        }
    }
    failures.truncate(5);
    let ok = failures.is_empty() && results.len() == n;
    Ok((
        json!({"wall_ms": wall.as_secs_f64() * 1000.0, "client_cpu_ms": client_cpu * 1000.0,
               "results": results.len(), "failures": failures}),
        ok,
    ))
}

async fn package(opts: &Opts) -> Result<(Value, bool)> {
    use lambda_ops::deploy::{package_target, PackageTarget};
    let include = PathBuf::from(opts.str("include")?);
    let include =
        std::fs::canonicalize(&include).map_err(|e| format!("{}: {e}", include.display()))?;
    let runs = opts.num("runs", Some(1))?.max(1);
    let mut ms = Vec::new();
    let mut shas = Vec::new();
    let mut last = None;
    for _ in 0..runs {
        let started = Instant::now();
        let req = PackageTarget::parse(opts.str("target")?, false, vec![include.clone()])
            .map_err(|e| e.to_string())?;
        let pkg = package_target(req, &|_| {})
            .await
            .map_err(|e| e.to_string())?;
        ms.push(started.elapsed().as_secs_f64() * 1000.0);
        shas.push(pkg.code_sha256.clone());
        last = Some(pkg);
    }
    let pkg = last.expect("at least one run");
    if let Ok(out) = opts.str("out") {
        std::fs::write(out, pkg.bytes.as_slice()).map_err(|e| format!("{out}: {e}"))?;
    }
    let identical = shas.windows(2).all(|w| w[0] == w[1]);
    Ok((
        json!({"ms": ms, "code_sha256": shas, "files": pkg.files.len(), "size": pkg.size,
               "unzipped_size": pkg.unzipped_size, "identical": identical}),
        identical,
    ))
}

fn repack(opts: &Opts) -> Result<(Value, bool)> {
    use lambda_deploy::package::{
        build_package, build_with, parse_target, resolve_target, Package, PackageCache,
        PackageRequest, Reuse,
    };
    let (file, function) = parse_target(opts.str("target")?).map_err(|e| e.to_string())?;
    let include = PathBuf::from(opts.str("include")?);
    let edit = PathBuf::from(opts.str("edit")?);
    let original =
        std::fs::read_to_string(&edit).map_err(|e| format!("{}: {e}", edit.display()))?;
    let runs = opts.num("runs", Some(5))?.max(1);
    let cache = PackageCache::new();
    let build = |cache: Option<&PackageCache>| -> Result<(f64, Package)> {
        let started = Instant::now();
        let target = resolve_target(&file, &function, false).map_err(|e| e.to_string())?;
        let req = PackageRequest {
            target,
            includes: vec![include.clone()],
        };
        let pkg = match cache {
            Some(c) => build_with(&req, None, Reuse::Journal(c)),
            None => build_package(&req),
        }
        .map_err(|e| e.to_string())?;
        Ok((started.elapsed().as_secs_f64() * 1000.0, pkg))
    };
    let (cold_ms, first) = build(Some(&cache))?;
    let (mut incremental, mut scratch, mut reused) = (Vec::new(), Vec::new(), Vec::new());
    let mut identical = true;
    for i in 0..runs {
        let text = format!("{original}# edit {i}\n");
        std::fs::write(&edit, text).map_err(|e| format!("{}: {e}", edit.display()))?;
        let (ms, inc) = build(Some(&cache))?;
        incremental.push(ms);
        reused.push(inc.reused);
        let (ms, full) = build(None)?;
        scratch.push(ms);
        identical &= inc.bytes == full.bytes && inc.code_sha256 == full.code_sha256;
    }
    std::fs::write(&edit, original).map_err(|e| format!("{}: {e}", edit.display()))?;
    Ok((
        json!({"incremental_ms": incremental, "scratch_ms": scratch, "cold_cache_ms": cold_ms,
               "reused": reused, "files": first.files.len(), "size": first.size,
               "identical": identical}),
        identical,
    ))
}

fn analysis(opts: &Opts) -> Result<(Value, bool)> {
    use lambda_deploy::analysis::PythonDocument;
    let file = opts.str("file")?;
    let text = std::fs::read_to_string(file).map_err(|e| format!("{file}: {e}"))?;
    let line = opts.num("line", None)?;
    let column = opts.num("column", None)?;
    let n = opts.num("n", Some(100))?.max(1);
    let started = Instant::now();
    let mut doc = PythonDocument::new(text.clone());
    let open_ms = started.elapsed().as_secs_f64() * 1000.0;
    // The byte offset of line:column (ASCII text), as the server computes it from a position.
    let offset = text
        .split_inclusive('\n')
        .take(line)
        .map(str::len)
        .sum::<usize>()
        + column;
    let expected = doc.functions().len();
    let mut edit_us = Vec::with_capacity(n);
    for i in 0..n {
        let new = if i % 2 == 0 { "1" } else { "0" };
        let t = Instant::now();
        doc.edit(offset, offset + 1, new);
        edit_us.push(micros(t.elapsed()));
        let found = doc.functions().len();
        if found != expected {
            return Ok((
                json!({"error": format!("{found} functions after edit {i}, {expected} before")}),
                false,
            ));
        }
    }
    Ok((
        json!({"open_ms": open_ms, "functions": expected, "edit_us": edit_us}),
        true,
    ))
}
