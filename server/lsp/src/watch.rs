//! `lambda-ls watch FILE.py:FUNCTION`: the live loop in a terminal. The package's folder is
//! watched (inotify and its peers, through `notify`; no polling); a change to a file the package
//! holds redeploys and invokes again, printing the result and the log tail, until Ctrl-C.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use lambda_deploy::aws::Connection;
use lambda_deploy::{invoke, package};
use notify::{EventKind, RecursiveMode, Watcher};
use tokio::sync::mpsc;

use crate::live_loop::{self, LiveError, LiveTarget};

/// `lambda-ls watch`'s arguments.
#[derive(Debug, clap::Args)]
pub struct WatchArgs {
    /// `path/to/file.py:function`
    target: String,
    /// The event to invoke with after each change (a file is read once, at start).
    #[command(flatten)]
    event: crate::cli::EventFlags,
    /// Deploy it as a callable (wrapped), not as a handler.
    #[arg(long)]
    callable: bool,
    /// Allow watching against an AWS profile: every change is deployed there. Without it,
    /// `watch` runs on the local Lambda only.
    #[arg(long)]
    aws: bool,
}

/// One `watch` run, decided by the command line.
struct WatchRequest {
    target: LiveTarget,
    event: Vec<u8>,
    /// Where the results go: the CLI's stdout writer.
    out: fn(&str),
}

/// Why watching could not start.
#[derive(Debug, thiserror::Error)]
pub enum WatchError {
    #[error("cannot watch {path} for changes: {source}")]
    Watch {
        path: PathBuf,
        source: notify::Error,
    },
    #[error(transparent)]
    Package(#[from] package::PackageError),
    #[error(transparent)]
    Payload(#[from] invoke::PayloadError),
    #[error("cannot read the event file {path}: {source}")]
    EventFile {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("watch deploys every change; to deploy them to AWS profile {profile}, add --aws (or use --profile local)")]
    Aws { profile: String },
}

/// `lambda-ls watch`: checks the arguments, then runs the loop until Ctrl-C.
pub async fn command(args: WatchArgs, conn: Connection, out: fn(&str)) -> Result<(), WatchError> {
    if !conn.info.local && !args.aws {
        return Err(WatchError::Aws {
            profile: conn.info.profile.clone(),
        });
    }
    let (path, function) = package::parse_target(&args.target)?;
    let event = match (args.event.payload, args.event.payload_file) {
        (Some(p), _) => p.into_bytes(),
        (None, Some(f)) => std::fs::read(&f).map_err(|source| WatchError::EventFile {
            path: f.clone(),
            source,
        })?,
        (None, None) => b"{}".to_vec(),
    };
    invoke::validate_payload(&event)?;
    let target = LiveTarget {
        path,
        function,
        callable: args.callable,
    };
    run(conn, WatchRequest { target, event, out }).await
}

/// Runs rounds on every change until Ctrl-C (exit code 0) or until the watcher stops.
async fn run(conn: Connection, req: WatchRequest) -> Result<(), WatchError> {
    let WatchRequest {
        mut target,
        event,
        out,
    } = req;
    target.path =
        std::fs::canonicalize(&target.path).map_err(|source| package::PackageError::Read {
            path: target.path.clone(),
            source,
        })?;
    let root = package::package_root(&target.path);
    let state = Loop {
        conn: live_loop::connection(conn),
        target,
        event,
        out,
        files: Arc::default(),
    };
    let (tx, mut rx) = mpsc::unbounded_channel();
    let _ = tx.send(state.target.path.clone());
    let _watcher = watch(&root, state.target.path.clone(), state.files.clone(), tx)?;
    out(&format!(
        "watching {} for {} (Ctrl-C stops)",
        root.display(),
        state.target.function
    ));
    let rounds = live_loop::drive(&mut rx, |batch| state.round(batch), || {});
    tokio::select! {
        () = rounds => {}
        _ = tokio::signal::ctrl_c() => {}
    }
    Ok(())
}

/// What every round of one `watch` uses.
struct Loop {
    conn: Connection,
    target: LiveTarget,
    event: Vec<u8>,
    out: fn(&str),
    /// The package's files at the last round (absolute): the changes that count.
    files: Arc<Mutex<BTreeSet<PathBuf>>>,
}

impl Loop {
    /// One round: prints the result and its log tail, or what went wrong; the loop goes on.
    async fn round(&self, batch: Vec<PathBuf>) {
        let done = match live_loop::check_syntax(batch).await {
            Ok(()) => live_loop::round(&self.conn, &self.target, self.event.clone()).await,
            Err(e) => Err(e),
        };
        let r = match done {
            Ok(r) => r,
            Err(LiveError::Syntax(e)) => return eprintln!("{e}"),
            Err(e) => return eprintln!("error: {e}"),
        };
        *self.files.lock().unwrap_or_else(|p| p.into_inner()) = r.files;
        let outcome = &r.outcome;
        if let Some(tail) = &outcome.log_tail {
            eprintln!("--- log tail ---\n{}\n---", tail.trim_end());
        }
        eprintln!(
            "{}: deployed in {} ms (packaged in {} ms), invoked in {:.1} ms",
            r.deployed.outcome.function_name,
            r.deploy_time.as_millis(),
            r.package_time.as_millis(),
            r.invoke_time.as_secs_f64() * 1000.0
        );
        (self.out)(outcome.to_string().trim_end());
    }
}

/// Watches `root` recursively and sends every changed file the package holds (or `own`).
fn watch(
    root: &Path,
    own: PathBuf,
    files: Arc<Mutex<BTreeSet<PathBuf>>>,
    tx: mpsc::UnboundedSender<PathBuf>,
) -> Result<notify::RecommendedWatcher, WatchError> {
    let mut watcher = notify::recommended_watcher(move |event: notify::Result<notify::Event>| {
        let Ok(event) = event else { return };
        if matches!(event.kind, EventKind::Access(_)) {
            return;
        }
        let files = files.lock().unwrap_or_else(|p| p.into_inner());
        for path in event.paths {
            if live_loop::concerns(&files, &own, &path) {
                let _ = tx.send(path);
            }
        }
    })
    .map_err(|source| WatchError::Watch {
        path: root.to_path_buf(),
        source,
    })?;
    watcher
        .watch(root, RecursiveMode::Recursive)
        .map_err(|source| WatchError::Watch {
            path: root.to_path_buf(),
            source,
        })?;
    Ok(watcher)
}
