//! `lambda-ls pull`: a deployed function's code unpacked safely into a folder, with a `lambda.toml`
//! from which `lambda-ls deploy` puts the same function back.
//!
//! The zip comes from GetFunction's `Code.Location` (a presigned S3 URL on AWS, a loopback URL on
//! the local Lambda and moto). It is untrusted: every entry is checked before anything is written
//! (no absolute paths, no `..`, no links, bounded entry count and unpacked size, counted on the
//! bytes actually inflated), and the folder must be new or empty so nothing there can redirect a
//! write.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::time::Duration;

use aws_sdk_lambda::types::{FunctionConfiguration, PackageType};
use bytes::Bytes;
use http_body_util::{BodyExt, Empty, Limited};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use serde::Serialize;

use crate::aws::{AwsError, Connection};
use crate::package::ENTRY_MODULE;
use crate::project::PROJECT_FILE;

/// Lambda's own limit on a function's unpacked code, which also bounds the download.
pub const MAX_UNPACKED_BYTES: u64 = 262_144_000;
/// More files than any real function ships; a zip claiming more is refused.
pub const MAX_ENTRIES: usize = 50_000;
/// The whole download, however slow the link.
const DOWNLOAD_TIMEOUT: Duration = Duration::from_secs(600);

/// What one pull needs.
#[derive(Debug, Clone)]
pub struct PullRequest {
    pub function: String,
    /// New or empty folder the code goes into.
    pub dir: PathBuf,
    /// Write environment variable values into `lambda.toml` (they often hold secrets).
    pub with_env: bool,
}

/// How much an untrusted zip may hold.
#[derive(Debug, Clone, Copy)]
pub struct UnpackLimits {
    pub max_bytes: u64,
    pub max_entries: usize,
}

impl UnpackLimits {
    pub const LAMBDA: UnpackLimits = UnpackLimits {
        max_bytes: MAX_UNPACKED_BYTES,
        max_entries: MAX_ENTRIES,
    };
}

/// What was pulled.
#[derive(Debug, Clone, Serialize)]
pub struct Pulled {
    pub function: String,
    pub dir: PathBuf,
    pub files: usize,
    pub bytes: u64,
    /// `file.py:function`, as `lambda-ls deploy` takes it.
    pub target: String,
    pub code_sha256: String,
    /// Environment variables whose values were left out.
    pub env_left_out: Vec<String>,
    pub layers: Vec<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum PullError {
    #[error(transparent)]
    Aws(#[from] AwsError),
    #[error("{function} is a container image; only zip functions can be pulled")]
    Image { function: String },
    #[error("{function} runs {runtime}; lambda-ls pulls and deploys Python functions only")]
    Runtime { function: String, runtime: String },
    #[error("cannot download the code of {function} from {host}: {detail}")]
    Download {
        function: String,
        host: String,
        detail: String,
    },
    #[error("cannot download the code of {function}: {endpoint} gave a location on {host}, not on itself; emulators such as moto answer with locations they do not serve")]
    ForeignLocation {
        function: String,
        endpoint: String,
        host: String,
    },
    #[error("refused the code zip: {0}; nothing was written")]
    Hostile(String),
    #[error("{} is not empty; pull into a new or empty folder", dir.display())]
    NotEmpty { dir: PathBuf },
    #[error("cannot write {}: {source}", path.display())]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// GetFunction, download, unpack, `lambda.toml`.
pub async fn pull(conn: &Connection, req: &PullRequest) -> Result<Pulled, PullError> {
    let out = conn
        .lambda
        .get_function()
        .function_name(&req.function)
        .send()
        .await
        .map_err(|e| conn.error("GetFunction", e))?;
    let config = out
        .configuration()
        .cloned()
        .unwrap_or_else(|| FunctionConfiguration::builder().build());
    if config.package_type() == Some(&PackageType::Image) {
        return Err(PullError::Image {
            function: req.function.clone(),
        });
    }
    let runtime = config.runtime().map(|r| r.as_str()).unwrap_or_default();
    if runtime.parse::<crate::spec::Runtime>().is_err() {
        return Err(PullError::Runtime {
            function: req.function.clone(),
            runtime: runtime.to_string(),
        });
    }
    let location = out
        .code()
        .and_then(|c| c.location())
        .unwrap_or_default()
        .to_string();
    check_location(conn, &req.function, &location)?;
    let zip = download(&location, MAX_UNPACKED_BYTES)
        .await
        .map_err(|detail| PullError::Download {
            function: req.function.clone(),
            host: host_of(&location),
            detail,
        })?;
    prepare_dir(&req.dir)?;
    let unpacked = unpack(&zip, &req.dir, UnpackLimits::LAMBDA);
    let unpacked = match unpacked {
        Ok(u) => u,
        Err(e) => {
            // Only what this pull wrote is there: the folder was new or empty.
            let _ = std::fs::remove_dir_all(&req.dir);
            return Err(e);
        }
    };
    let description = describe(&config, &unpacked, req, &conn.info.to_string());
    let toml_path = req.dir.join(PROJECT_FILE);
    std::fs::write(&toml_path, &description.text).map_err(|source| PullError::Write {
        path: toml_path,
        source,
    })?;
    Ok(Pulled {
        function: req.function.clone(),
        dir: req.dir.clone(),
        files: unpacked.files.len(),
        bytes: unpacked.bytes,
        target: description.target,
        code_sha256: crate::package::code_sha256(&zip),
        env_left_out: description.env_left_out,
        layers: description.layers,
    })
}

/// With an endpoint set (the local Lambda, moto, an emulator) code is fetched only from that
/// host or loopback: such servers answer with AWS-looking locations, and following one would send
/// a request to the internet for a function that never was there.
fn check_location(conn: &Connection, function: &str, location: &str) -> Result<(), PullError> {
    let Some(endpoint) = &conn.info.endpoint else {
        return Ok(());
    };
    let host = host_of(location);
    if LOOPBACK_HOSTS.contains(&host.as_str()) || host == host_of(endpoint) {
        return Ok(());
    }
    Err(PullError::ForeignLocation {
        function: function.to_string(),
        endpoint: endpoint.clone(),
        host,
    })
}

const LOOPBACK_HOSTS: &[&str] = &["127.0.0.1", "localhost", "[::1]", "::1"];

/// `https://host/...` → `host`, for messages (a presigned URL's query is a credential).
fn host_of(url: &str) -> String {
    url.parse::<hyper::Uri>()
        .ok()
        .and_then(|u| u.host().map(str::to_string))
        .unwrap_or_else(|| "an empty code location".to_string())
}

/// GET `url`, at most `limit` bytes; the error is a short reason.
pub async fn download(url: &str, limit: u64) -> Result<Vec<u8>, String> {
    let uri: hyper::Uri = url.parse().map_err(|e| format!("bad URL: {e}"))?;
    let get = async {
        let response = if uri.scheme_str() == Some("http") {
            let connector = hyper_util::client::legacy::connect::HttpConnector::new();
            Client::builder(TokioExecutor::new())
                .build::<_, Empty<Bytes>>(connector)
                .get(uri)
                .await
        } else {
            let connector = hyper_rustls::HttpsConnectorBuilder::new()
                .with_native_roots()
                .map_err(|e| format!("no trusted certificates: {e}"))?
                .https_only()
                .enable_http1()
                .build();
            Client::builder(TokioExecutor::new())
                .build::<_, Empty<Bytes>>(connector)
                .get(uri)
                .await
        }
        .map_err(|e| e.to_string())?;
        if !response.status().is_success() {
            return Err(format!("HTTP {}", response.status()));
        }
        let body = Limited::new(response.into_body(), limit as usize)
            .collect()
            .await
            .map_err(|e| format!("{e} (more than {} bytes?)", limit))?;
        Ok::<_, String>(body.to_bytes().to_vec())
    };
    tokio::time::timeout(DOWNLOAD_TIMEOUT, get)
        .await
        .map_err(|_| format!("no complete answer within {DOWNLOAD_TIMEOUT:?}"))?
}

/// Creates `dir`, or accepts it when it exists and is empty.
fn prepare_dir(dir: &Path) -> Result<(), PullError> {
    let write_err = |source| PullError::Write {
        path: dir.to_owned(),
        source,
    };
    match std::fs::read_dir(dir) {
        Ok(mut entries) => match entries.next() {
            None => Ok(()),
            Some(_) => Err(PullError::NotEmpty {
                dir: dir.to_owned(),
            }),
        },
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            std::fs::create_dir_all(dir).map_err(write_err)
        }
        Err(e) => Err(write_err(e)),
    }
}

/// The files written, relative to the folder.
#[derive(Debug, Default)]
pub struct Unpacked {
    pub files: Vec<PathBuf>,
    pub bytes: u64,
    /// `(module, function)` of a lambda-ls callable wrapper, which is not written out.
    pub callable: Option<(String, String)>,
}

/// Checks every entry of `zip`, then writes its files under `dir` (new or empty).
pub fn unpack(zip: &[u8], dir: &Path, limits: UnpackLimits) -> Result<Unpacked, PullError> {
    let hostile = PullError::Hostile;
    let mut archive = zip::ZipArchive::new(std::io::Cursor::new(zip))
        .map_err(|e| hostile(format!("not a zip ({e})")))?;
    if archive.len() > limits.max_entries {
        return Err(hostile(format!(
            "it has {} entries, more than the {} allowed",
            archive.len(),
            limits.max_entries
        )));
    }
    let mut plan = Vec::with_capacity(archive.len());
    let mut declared = 0u64;
    for i in 0..archive.len() {
        let entry = archive
            .by_index_raw(i)
            .map_err(|e| hostile(format!("entry {i} is unreadable ({e})")))?;
        let raw = entry.name().to_string();
        if entry.is_symlink() {
            return Err(hostile(format!("`{raw}` is a link")));
        }
        let Some(rel) = entry.enclosed_name() else {
            return Err(hostile(format!("`{raw}` points outside the folder")));
        };
        declared = declared.saturating_add(entry.size());
        if declared > limits.max_bytes {
            return Err(hostile(format!(
                "it unpacks to more than {} bytes",
                limits.max_bytes
            )));
        }
        plan.push((i, rel, entry.is_dir()));
    }
    let mut out = Unpacked::default();
    for (i, rel, is_dir) in plan {
        let path = dir.join(&rel);
        let write_err = |source| PullError::Write {
            path: path.clone(),
            source,
        };
        if is_dir {
            std::fs::create_dir_all(&path).map_err(write_err)?;
            continue;
        }
        let mut entry = archive
            .by_index(i)
            .map_err(|e| hostile(format!("entry {i} is unreadable ({e})")))?;
        // The declared size can lie: count what actually inflates.
        let room = limits.max_bytes - out.bytes;
        let mut data = Vec::new();
        (&mut entry)
            .take(room + 1)
            .read_to_end(&mut data)
            .map_err(|e| hostile(format!("`{}` does not inflate ({e})", rel.display())))?;
        if data.len() as u64 > room {
            return Err(hostile(format!(
                "it unpacks to more than {} bytes",
                limits.max_bytes
            )));
        }
        out.bytes += data.len() as u64;
        if rel == Path::new(&format!("{ENTRY_MODULE}.py")) {
            out.callable = callable_target(&String::from_utf8_lossy(&data));
            if out.callable.is_some() {
                continue;
            }
        }
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(write_err)?;
        }
        std::fs::write(&path, &data).map_err(write_err)?;
        out.files.push(rel);
    }
    Ok(out)
}

/// `from pkg.mod import fn as _target` in the generated wrapper: `(pkg.mod, fn)`.
fn callable_target(wrapper: &str) -> Option<(String, String)> {
    let line = wrapper.lines().find(|l| l.ends_with(" as _target"))?;
    let rest = line.strip_prefix("from ")?.strip_suffix(" as _target")?;
    let (module, function) = rest.split_once(" import ")?;
    Some((module.to_string(), function.to_string()))
}

/// `lambda.toml`'s text and what it says.
struct Description {
    text: String,
    target: String,
    env_left_out: Vec<String>,
    layers: Vec<String>,
}

/// The `[[function]]` entry that deploys this function back as it is.
fn describe(
    c: &FunctionConfiguration,
    unpacked: &Unpacked,
    req: &PullRequest,
    source: &str,
) -> Description {
    let quote = toml_string;
    let (module, function, callable) = match &unpacked.callable {
        Some((m, f)) => (m.clone(), f.clone(), true),
        None => {
            let handler = c.handler().unwrap_or("lambda_function.lambda_handler");
            let (m, f) = handler.rsplit_once('.').unwrap_or(("", handler));
            (m.to_string(), f.to_string(), false)
        }
    };
    let target = format!("{}:{function}", module_file(&module, &unpacked.files));
    let mut text = format!(
        "# Pulled by lambda-ls from {source}. `lambda-ls deploy {target}` in this folder deploys it back.\n\n[[function]]\n"
    );
    let mut line = |key: &str, value: String| text.push_str(&format!("{key} = {value}\n"));
    line("target", quote(&target));
    line(
        "name",
        quote(c.function_name().unwrap_or(req.function.as_str())),
    );
    line(
        "runtime",
        quote(c.runtime().map(|r| r.as_str()).unwrap_or("")),
    );
    line("memory", c.memory_size().unwrap_or(128).to_string());
    line("timeout", c.timeout().unwrap_or(3).to_string());
    let storage = c.ephemeral_storage().map(|e| e.size()).unwrap_or(512);
    line("ephemeral_storage", storage.to_string());
    let arch = c.architectures().first().map(|a| a.as_str());
    line("architecture", quote(arch.unwrap_or("x86_64")));
    if let Some(role) = c.role() {
        line("role", quote(role));
    }
    if let Some(d) = c.description().filter(|d| !d.is_empty()) {
        line("description", quote(d));
    }
    if callable {
        line("callable", "true".to_string());
    }
    let env_left_out = describe_env(c, req.with_env, &mut text);
    let layers = describe_layers(c, &mut text);
    Description {
        text,
        target,
        env_left_out,
        layers,
    }
}

fn toml_string(s: &str) -> String {
    toml::Value::String(s.to_string()).to_string()
}

/// The `env` line (`with_env`), else a comment naming the variables left out, which it returns.
fn describe_env(c: &FunctionConfiguration, with_env: bool, text: &mut String) -> Vec<String> {
    let mut vars: Vec<(&String, &String)> = c
        .environment()
        .and_then(|e| e.variables())
        .map(|v| v.iter().collect())
        .unwrap_or_default();
    vars.sort();
    if vars.is_empty() {
        return Vec::new();
    }
    if with_env {
        let pairs: Vec<String> = vars
            .iter()
            // Lambda allows only letters, digits and `_` in names: bare TOML keys.
            .map(|(k, v)| format!("{k} = {}", toml_string(v.as_str())))
            .collect();
        text.push_str(&format!("env = {{ {} }}\n", pairs.join(", ")));
        return Vec::new();
    }
    let left_out: Vec<String> = vars.iter().map(|(k, _)| k.to_string()).collect();
    text.push_str(&format!(
        "# Environment variables left out (values often hold secrets; `lambda-ls pull --with-env` writes them).\n# Deploying from here without an `env` line REMOVES them: {}\n",
        left_out.join(", ")
    ));
    left_out
}

/// The function's layers, as comments: `lambda.toml` does not manage them.
fn describe_layers(c: &FunctionConfiguration, text: &mut String) -> Vec<String> {
    let layers: Vec<String> = c
        .layers()
        .iter()
        .filter_map(|l| l.arn().map(str::to_string))
        .collect();
    if !layers.is_empty() {
        text.push_str("# Layers, not managed by this file (a requirements.txt beside the handler builds lambda-ls's own):\n");
        for l in &layers {
            text.push_str(&format!("#   {l}\n"));
        }
    }
    layers
}

/// `pkg.mod` → `pkg/mod.py`, or `pkg/mod/__init__.py` when that is what the zip holds.
fn module_file(module: &str, files: &[PathBuf]) -> String {
    let base = module.replace('.', "/");
    let package = format!("{base}/__init__.py");
    if files.iter().any(|f| f == Path::new(&package)) {
        package
    } else {
        format!("{base}.py")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;
    use zip::write::SimpleFileOptions;

    fn zip_of(build: impl FnOnce(&mut zip::ZipWriter<std::io::Cursor<Vec<u8>>>)) -> Vec<u8> {
        let mut w = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
        build(&mut w);
        w.finish().unwrap().into_inner()
    }

    fn file(w: &mut zip::ZipWriter<std::io::Cursor<Vec<u8>>>, name: &str, data: &[u8]) {
        w.start_file(name, SimpleFileOptions::default()).unwrap();
        w.write_all(data).unwrap();
    }

    /// Every file under `root`, relative.
    fn tree(root: &Path) -> Vec<String> {
        let mut out = Vec::new();
        let mut stack = vec![root.to_path_buf()];
        while let Some(d) = stack.pop() {
            for e in std::fs::read_dir(&d).unwrap() {
                let p = e.unwrap().path();
                if p.is_dir() {
                    stack.push(p);
                } else {
                    out.push(p.strip_prefix(root).unwrap().display().to_string());
                }
            }
        }
        out.sort();
        out
    }

    #[test]
    fn a_plain_zip_unpacks_and_a_callable_wrapper_names_its_target() {
        let wrapper = crate::package::callable_entry("pkg.mod", "add");
        let zip = zip_of(|w| {
            file(w, "pkg/__init__.py", b"");
            file(w, "pkg/mod.py", b"def add(a, b):\n    return a + b\n");
            file(w, &format!("{ENTRY_MODULE}.py"), wrapper.as_bytes());
        });
        let dir = tempfile::tempdir().unwrap();
        let out = unpack(&zip, dir.path(), UnpackLimits::LAMBDA).unwrap();
        assert_eq!(tree(dir.path()), vec!["pkg/__init__.py", "pkg/mod.py"]);
        assert_eq!(out.callable, Some(("pkg.mod".into(), "add".into())));
        assert_eq!(module_file("pkg", &out.files), "pkg/__init__.py");
        assert_eq!(module_file("pkg.mod", &out.files), "pkg/mod.py");
    }

    #[test]
    fn hostile_zips_are_refused_before_anything_is_written() {
        let small = UnpackLimits {
            max_bytes: 1 << 20,
            max_entries: 10,
        };
        let cases: Vec<(Vec<u8>, &str)> = vec![
            (
                zip_of(|w| {
                    file(w, "ok.py", b"x = 1\n");
                    file(w, "../escaped.py", b"boom");
                }),
                "`../escaped.py` points outside the folder",
            ),
            (
                zip_of(|w| {
                    file(w, "ok.py", b"x = 1\n");
                    file(w, "/tmp/absolute.py", b"boom");
                }),
                "`/tmp/absolute.py` points outside the folder",
            ),
            (
                zip_of(|w| {
                    file(w, "ok.py", b"x = 1\n");
                    w.add_symlink("link", "/etc", SimpleFileOptions::default())
                        .unwrap();
                }),
                "`link` is a link",
            ),
            (
                zip_of(|w| file(w, "bomb.bin", &vec![0u8; 2 << 20])),
                "it unpacks to more than 1048576 bytes",
            ),
            (
                zip_of(|w| {
                    for i in 0..11 {
                        file(w, &format!("f{i}.py"), b"");
                    }
                }),
                "it has 11 entries, more than the 10 allowed",
            ),
        ];
        for (zip, reason) in cases {
            let parent = tempfile::tempdir().unwrap();
            let dir = parent.path().join("inner");
            std::fs::create_dir(&dir).unwrap();
            let err = unpack(&zip, &dir, small).unwrap_err();
            assert_eq!(
                err.to_string(),
                format!("refused the code zip: {reason}; nothing was written")
            );
            assert!(
                tree(parent.path()).is_empty(),
                "{reason}: wrote {:?}",
                tree(parent.path())
            );
        }
    }
}
