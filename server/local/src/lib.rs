//! lambda-local: an embedded AWS Lambda that the unchanged AWS SDK talks to through an endpoint
//! URL, running Python handlers in worker processes over the real Lambda Runtime API.
//!
//! It binds 127.0.0.1 only, accepts any credentials, and keeps functions, code and logs under a
//! data directory so they survive restarts.
//!
//! One port serves the Lambda REST-JSON API (functions, versions, aliases, policies, function
//! URL configs, layers, tags, invoke) and a CloudWatch Logs subset (`X-Amz-Target:
//! Logs_20140328.*`). Each worker is a Python process with its own Runtime API listener, running
//! awslambdaric or the built-in bootstrap. Each function URL is served on a loopback port of
//! its own (`urls/`).
//!
//! Environment: `LAMBDA_LS_LOCAL_DIR` (data directory, see [`default_data_dir`]),
//! `LAMBDA_LS_PYTHON` (interpreter), `LAMBDA_LS_BOOTSTRAP` (`auto|awslambdaric|builtin`),
//! `LAMBDA_LS_LOCAL_UPDATE_WINDOW_MS` (see [`LocalConfig::update_window`]),
//! `LAMBDA_LS_LOCAL_SPARES=0` (see [`LocalConfig::spares`]).
//!
//! Data directory: `code/<sha256>.zip`, `functions/<name>.json`, `layers/<name>.json`,
//! `unpacked/<sha256>/` (task roots and layers), `logs/<group>/`, `runtime/bootstrap.py` (and
//! `runtime/debug_worker.py` and the spares' `runtime/zygote.py`), `deps/<sha256>/` (compiled packages reinstalled for the
//! interpreter that runs them; `deps/debugpy-<version>-<build>/` for debug invocations),
//! `tmp/worker-N/` (per-worker TMPDIR), and `.lock` (one server per directory).

// Short functions (clippy.toml) are a rule for the product; a test may read long.
#![cfg_attr(test, allow(clippy::too_many_lines))]

mod api;
mod body;
pub mod debug;
mod deps;
mod error;
mod logs;
mod model;
mod pool;
mod process;
mod python;
mod registry;
mod s3;
mod server;
mod spare;
mod store;
mod time;
mod unpack;
mod urls;
mod worker;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;
use tokio::task::JoinHandle;

pub use api::LIVE_HEADER;
pub use deps::{describe_run, LocalRun, RunError};
pub use error::LocalError;

/// The region named in every ARN this local Lambda hands out.
pub const REGION: &str = lambda_facts::LOCAL_REGION;
/// The account named in every ARN this local Lambda hands out.
pub const ACCOUNT_ID: &str = lambda_facts::LOCAL_ACCOUNT;

/// How workers run the handler.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Bootstrap {
    /// AWS's awslambdaric when the interpreter can import it, else the built-in bootstrap.
    Auto,
    /// Always `python -m awslambdaric`.
    Awslambdaric,
    /// Always the bootstrap shipped in this crate (standard library only).
    BuiltIn,
}

impl Bootstrap {
    /// `LAMBDA_LS_BOOTSTRAP=auto|awslambdaric|builtin`; unset or unknown means `Auto`.
    pub fn from_env() -> Bootstrap {
        Bootstrap::parse(&std::env::var("LAMBDA_LS_BOOTSTRAP").unwrap_or_default())
    }

    fn parse(value: &str) -> Bootstrap {
        match value.trim().to_ascii_lowercase().as_str() {
            "awslambdaric" => Bootstrap::Awslambdaric,
            "builtin" | "built-in" => Bootstrap::BuiltIn,
            "" | "auto" => Bootstrap::Auto,
            other => {
                tracing::warn!(
                    "LAMBDA_LS_BOOTSTRAP={other} is not auto, awslambdaric or builtin; using auto"
                );
                Bootstrap::Auto
            }
        }
    }
}

/// Settings of one local Lambda.
#[derive(Debug, Clone)]
pub struct LocalConfig {
    /// Where functions, code, logs and worker temp dirs live.
    pub data_dir: PathBuf,
    /// Port on 127.0.0.1; 0 lets the OS choose.
    pub port: u16,
    /// Interpreter for every worker; else `LAMBDA_LS_PYTHON`; else `pythonX.Y` for the runtime
    /// (on PATH, in the active virtualenv, or installed by pyenv or uv), else `python3`.
    pub python: Option<PathBuf>,
    pub bootstrap: Bootstrap,
    /// Concurrent workers per function version; invocations beyond it queue.
    pub max_workers_per_function: usize,
    /// A warm worker unused this long is stopped.
    pub idle_timeout: Duration,
    /// The least time CreateFunction leaves a function Pending and UpdateFunctionCode or
    /// UpdateFunctionConfiguration leave it InProgress. A change in that window gets AWS's 409
    /// ResourceConflictException, so code that chains calls without waiting fails here as it
    /// would on AWS. `LAMBDA_LS_LOCAL_UPDATE_WINDOW_MS`, else [`DEFAULT_UPDATE_WINDOW`].
    pub update_window: Duration,
    /// Keep a started interpreter (one per interpreter and runtime client) waiting to become
    /// the next new worker, so the first invoke of new code skips the interpreter's start and
    /// the runtime client's imports. `LAMBDA_LS_LOCAL_SPARES=0` turns it off.
    pub spares: bool,
}

/// 250 ms: an SDK client chaining calls on loopback (a few ms apart) always lands in it, and
/// lambda-deploy's wait (first look after 100 ms, then 250 ms) finds the function ready at its
/// second look, so a deploy pays at most 150 ms for it. AWS's own window is seconds long.
pub const DEFAULT_UPDATE_WINDOW: Duration = Duration::from_millis(250);

/// `LAMBDA_LS_LOCAL_UPDATE_WINDOW_MS`, else the default; a value that is not a number warns.
fn update_window_from_env() -> Duration {
    match std::env::var("LAMBDA_LS_LOCAL_UPDATE_WINDOW_MS") {
        Ok(v) if !v.trim().is_empty() => match v.trim().parse::<u64>() {
            Ok(ms) => Duration::from_millis(ms),
            Err(_) => {
                tracing::warn!(
                    "LAMBDA_LS_LOCAL_UPDATE_WINDOW_MS={v} is not a number of milliseconds; using {} ms",
                    DEFAULT_UPDATE_WINDOW.as_millis()
                );
                DEFAULT_UPDATE_WINDOW
            }
        },
        _ => DEFAULT_UPDATE_WINDOW,
    }
}

impl LocalConfig {
    /// Defaults: any free port, interpreter by runtime, bootstrap from `LAMBDA_LS_BOOTSTRAP`,
    /// 32 workers per function, 10 minutes of idle time, the update window from
    /// `LAMBDA_LS_LOCAL_UPDATE_WINDOW_MS`, spares unless `LAMBDA_LS_LOCAL_SPARES=0`.
    pub fn new(data_dir: PathBuf) -> Self {
        LocalConfig {
            data_dir,
            port: 0,
            python: None,
            bootstrap: Bootstrap::from_env(),
            max_workers_per_function: 32,
            idle_timeout: Duration::from_secs(600),
            update_window: update_window_from_env(),
            spares: std::env::var("LAMBDA_LS_LOCAL_SPARES").map_or(true, |v| v.trim() != "0"),
        }
    }
}

/// `$LAMBDA_LS_LOCAL_DIR`, else `<user data dir>/lambda-ls/local`.
pub fn default_data_dir() -> PathBuf {
    std::env::var_os("LAMBDA_LS_LOCAL_DIR")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            dirs::data_dir()
                .unwrap_or_else(std::env::temp_dir)
                .join("lambda-ls")
                .join("local")
        })
}

/// A running local Lambda. Dropping it stops the server and kills its workers; `shutdown`
/// does the same and waits for the workers to be gone.
#[derive(Debug)]
pub struct LocalLambda {
    addr: SocketAddr,
    ctx: Arc<api::Ctx>,
    runner: Arc<pool::Runner>,
    logs: Arc<logs::Logs>,
    server: JoinHandle<()>,
    reaper: JoinHandle<()>,
    closed: watch::Receiver<bool>,
    /// Removed when the server stops, so no one is sent to a dead port.
    endpoint_file: PathBuf,
    /// Held for the server's lifetime: the data directory is this server's alone.
    _lock: std::fs::File,
}

impl LocalLambda {
    /// Binds 127.0.0.1:`cfg.port`, loads persisted functions and starts serving.
    pub async fn start(cfg: LocalConfig) -> Result<LocalLambda, LocalError> {
        let lock = store::lock(&cfg.data_dir)?;
        let store = Arc::new(store::Store::open(&cfg.data_dir)?);
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", cfg.port))
            .await
            .map_err(|error| LocalError::Bind {
                port: cfg.port,
                error,
            })?;
        let addr = listener.local_addr().map_err(|error| LocalError::Bind {
            port: cfg.port,
            error,
        })?;
        // Advertise the endpoint so a second process on this data directory can use this server.
        std::fs::write(
            cfg.data_dir.join(store::ENDPOINT_FILE),
            format!("http://{addr}\n"),
        )
        .map_err(|error| LocalError::DataDir {
            path: cfg.data_dir.join(store::ENDPOINT_FILE),
            error,
        })?;
        let logs = Arc::new(logs::Logs::start(store.logs_dir()));
        let runner = Arc::new(pool::Runner::new(
            store.clone(),
            logs.clone(),
            python::Python::new(cfg.python.clone(), cfg.bootstrap),
            cfg.max_workers_per_function,
            cfg.idle_timeout,
            cfg.spares,
        ));
        let registry = registry::Registry::load(store, runner.clone(), cfg.update_window);
        let ctx = Arc::new(api::Ctx {
            registry: registry.clone(),
            logs: logs.clone(),
            endpoint: format!("http://{addr}"),
            debugger: debug::Debugger::default(),
            urls: urls::Urls::default(),
        });
        ctx.urls.reconcile(&ctx).await;
        let served = ctx.clone();
        let (closed_tx, closed) = watch::channel(false);
        let gate = Arc::new(server::Gate::new(addr.port()));
        let server = tokio::spawn(async move {
            // Set when the accept loop ends for any reason, including being aborted.
            struct Closed(watch::Sender<bool>);
            impl Drop for Closed {
                fn drop(&mut self) {
                    let _ = self.0.send(true);
                }
            }
            let _closed = Closed(closed_tx);
            server::serve(listener, served, gate).await;
        });
        let period =
            (cfg.idle_timeout / 4).clamp(Duration::from_millis(100), Duration::from_secs(30));
        let tended = ctx.clone();
        let reaper = tokio::spawn(async move {
            let mut tick = tokio::time::interval(period);
            loop {
                tick.tick().await;
                registry.reap_idle();
                // A deleted function or alias takes its URL, and its listener, with it.
                tended.urls.reconcile(&tended).await;
            }
        });
        tracing::info!("local Lambda listening on http://{addr}");
        Ok(LocalLambda {
            addr,
            ctx,
            runner,
            logs,
            server,
            reaper,
            closed,
            endpoint_file: cfg.data_dir.join(store::ENDPOINT_FILE),
            _lock: lock,
        })
    }

    /// The endpoint URL to give the AWS SDK: `http://127.0.0.1:PORT`.
    pub fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Resolves when the server has stopped serving (it does not stop on its own unless it
    /// fails); `lambda-ls local serve` races it against Ctrl-C.
    pub async fn wait(&self) {
        let mut closed = self.closed.clone();
        let _ = closed.wait_for(|c| *c).await;
    }

    /// Stops serving, kills every worker and waits until they are gone and logs are on disk.
    pub async fn shutdown(self) {
        self.server.abort();
        self.reaper.abort();
        self.ctx.urls.close_all();
        self.runner.stop_all().await;
        self.logs.flush().await;
    }
}

impl Drop for LocalLambda {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.endpoint_file);
        self.server.abort();
        self.reaper.abort();
        self.ctx.urls.close_all();
        self.runner.kill_all();
    }
}

#[cfg(test)]
mod tests {
    use super::Bootstrap;

    #[test]
    fn parses_bootstrap_names() {
        assert_eq!(Bootstrap::parse("awslambdaric"), Bootstrap::Awslambdaric);
        assert_eq!(Bootstrap::parse("BuiltIn"), Bootstrap::BuiltIn);
        assert_eq!(Bootstrap::parse(""), Bootstrap::Auto);
        assert_eq!(Bootstrap::parse("auto"), Bootstrap::Auto);
        assert_eq!(Bootstrap::parse("nonsense"), Bootstrap::Auto);
    }
}
