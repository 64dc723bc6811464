//! The live loop behind the editor's live mode and `lambda-ls watch`: saved files come in, one
//! round packages and redeploys the function, then invokes it with its event; a newer save
//! cancels the round in flight and starts one for all the changes so far.
//!
//! Cancelling a round is dropping it: the deploy is an idempotent upsert, and the target keeps
//! serving the previous code until the new code is ready (the local Lambda swaps the active
//! version only when the update completes, as AWS does).

use std::collections::BTreeSet;
use std::future::Future;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use lambda_deploy::analysis;
use lambda_deploy::aws::Connection;
use lambda_deploy::deploy::Progress;
use lambda_deploy::invoke::{InvokeKind, InvokeOutcome, InvokeRequest};
use lambda_deploy::project::Settings;
use lambda_ops::deploy::{self, DeployRequest, Deployed};
use lambda_ops::OpError;
use tokio::sync::mpsc;

/// The function a loop keeps live.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct LiveTarget {
    pub path: PathBuf,
    pub function: String,
    /// Deployed as a plain callable (wrapped), as its lens would.
    pub callable: bool,
}

/// A saved Python file that does not parse: nothing is deployed, the previous code keeps serving.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}:{}:{}: syntax error; not deployed, the previous code keeps serving", path.display(), line + 1, column + 1)]
pub struct SyntaxError {
    pub path: PathBuf,
    /// Zero-based.
    pub line: usize,
    pub column: usize,
}

/// Why a round produced no result.
#[derive(Debug, thiserror::Error)]
pub enum LiveError {
    #[error(transparent)]
    Syntax(#[from] SyntaxError),
    #[error(transparent)]
    Op(#[from] OpError),
}

/// What one round did.
pub struct Round {
    pub deployed: Deployed,
    /// The package root, against which stack frames are matched.
    pub root: PathBuf,
    /// Every file the package holds (absolute): a save of any of them starts a round.
    pub files: BTreeSet<PathBuf>,
    pub outcome: InvokeOutcome,
    /// Resolving and packaging (part of `deploy_time`).
    pub package_time: Duration,
    pub deploy_time: Duration,
    pub invoke_time: Duration,
}

/// The connection a loop deploys through: on the local Lambda, code updates take effect as
/// soon as the code is ready and are answered then (`lambda_local::LIVE_HEADER`), instead of
/// after the update window that emulates AWS. A connection to AWS is unchanged.
pub fn connection(conn: Connection) -> Connection {
    conn.with_local_header(lambda_local::LIVE_HEADER, "1")
}

/// Fails on the first saved Python file among `paths` that does not parse.
pub async fn check_syntax(paths: Vec<PathBuf>) -> Result<(), LiveError> {
    tokio::task::spawn_blocking(move || {
        for path in paths
            .iter()
            .filter(|p| p.extension().is_some_and(|e| e == "py"))
        {
            let Ok(text) = std::fs::read_to_string(path) else {
                continue;
            };
            if let Some(at) = analysis::analyze(&text).syntax_error {
                return Err(SyntaxError {
                    path: path.clone(),
                    line: at.line,
                    column: at.byte_col,
                });
            }
        }
        Ok(())
    })
    .await
    .map_err(|e| OpError::stopped("checking the saved files", &e))?
    .map_err(LiveError::from)
}

/// Packages and deploys the saved code of `target` (only what changed is uploaded; an
/// unchanged package is one `GetFunction`), then invokes it with `event`.
pub async fn round(
    conn: &Connection,
    target: &LiveTarget,
    event: Vec<u8>,
) -> Result<Round, LiveError> {
    let started = Instant::now();
    let request = DeployRequest {
        file: target.path.clone(),
        function: target.function.clone(),
        callable: target.callable,
        overrides: Settings::default(),
    };
    let plan =
        deploy::off_the_workers("reading the function", move || deploy::plan(&request)).await??;
    let root = plan.resolved.root.clone();
    let name = plan.spec.name.clone();
    let packaged = std::sync::Mutex::new(None);
    let report = |p: Progress| {
        if matches!(p, Progress::Packaged { .. }) {
            *packaged.lock().unwrap_or_else(|p| p.into_inner()) = Some(started.elapsed());
        }
    };
    let deployed = deploy::run(conn, plan, &report).await?;
    let package_time = packaged
        .into_inner()
        .unwrap_or_else(|p| p.into_inner())
        .unwrap_or_default();
    let files = deployed.files.iter().map(|f| root.join(f)).collect();
    let deploy_time = started.elapsed();
    let request = InvokeRequest {
        function: name,
        payload: event,
        kind: InvokeKind::RequestResponse,
        qualifier: None,
    };
    let outcome = lambda_ops::invoke::invoke(conn, &request).await?;
    Ok(Round {
        deployed,
        root,
        files,
        outcome,
        package_time,
        deploy_time,
        invoke_time: started.elapsed() - deploy_time,
    })
}

/// Whether `path` is one of the files a live function's package holds (or, before its first
/// round, the function's own file).
pub fn concerns(files: &BTreeSet<PathBuf>, own: &Path, path: &Path) -> bool {
    path == own || files.contains(path)
}

/// Runs `run` for each batch of changed files until `changes` closes. Changes that arrive
/// while a round runs cancel it (it is dropped) and the next round gets them all, so rapid
/// saves coalesce and the last save always wins. `superseded` is told each cancelled round.
pub async fn drive<R, Fut>(
    changes: &mut mpsc::UnboundedReceiver<PathBuf>,
    mut run: R,
    mut superseded: impl FnMut(),
) where
    R: FnMut(Vec<PathBuf>) -> Fut,
    Fut: Future<Output = ()>,
{
    let mut pending = BTreeSet::new();
    loop {
        if pending.is_empty() {
            match changes.recv().await {
                Some(p) => pending.insert(p),
                None => return,
            };
        }
        while let Ok(p) = changes.try_recv() {
            pending.insert(p);
        }
        let batch: Vec<PathBuf> = std::mem::take(&mut pending).into_iter().collect();
        let round = run(batch.clone());
        tokio::pin!(round);
        tokio::select! {
            () = &mut round => {}
            next = changes.recv() => match next {
                Some(p) => {
                    superseded();
                    pending.extend(batch);
                    pending.insert(p);
                }
                None => return,
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Arc, Mutex};

    #[tokio::test]
    async fn rounds_coalesce_and_a_newer_change_supersedes_the_running_one() {
        let (tx, mut rx) = mpsc::unbounded_channel();
        let done = Arc::new(Mutex::new(Vec::new()));
        let superseded = Arc::new(Mutex::new(0));
        // Three changes before the loop looks: one round for all three.
        for f in ["a.py", "b.py", "a.py"] {
            tx.send(PathBuf::from(f)).unwrap();
        }
        let (gate_tx, gate_rx) = tokio::sync::watch::channel(false);
        let driver = {
            let (done, superseded) = (done.clone(), superseded.clone());
            tokio::spawn(async move {
                drive(
                    &mut rx,
                    |batch| {
                        let done = done.clone();
                        let mut gate = gate_rx.clone();
                        async move {
                            // Rounds with c.py wait for the gate: d.py supersedes the first.
                            if batch.contains(&PathBuf::from("c.py")) {
                                let _ = gate.wait_for(|open| *open).await;
                            }
                            done.lock().unwrap().push(batch);
                        }
                    },
                    || *superseded.lock().unwrap() += 1,
                )
                .await
            })
        };
        let wait_rounds = |n: usize| {
            let done = done.clone();
            async move {
                for _ in 0..1000 {
                    if done.lock().unwrap().len() >= n {
                        return;
                    }
                    tokio::time::sleep(Duration::from_millis(2)).await;
                }
                panic!("no round {n}");
            }
        };
        wait_rounds(1).await;
        tx.send(PathBuf::from("c.py")).unwrap();
        tokio::time::sleep(Duration::from_millis(20)).await;
        tx.send(PathBuf::from("d.py")).unwrap();
        tokio::time::sleep(Duration::from_millis(20)).await;
        gate_tx.send(true).unwrap();
        wait_rounds(2).await;
        drop(tx);
        driver.await.unwrap();
        let p = |names: &[&str]| names.iter().map(PathBuf::from).collect::<Vec<_>>();
        assert_eq!(
            *done.lock().unwrap(),
            vec![p(&["a.py", "b.py"]), p(&["c.py", "d.py"])]
        );
        assert_eq!(*superseded.lock().unwrap(), 1);
    }

    #[tokio::test]
    async fn a_file_that_does_not_parse_is_named_with_its_position() {
        let dir = tempfile::tempdir().unwrap();
        let good = dir.path().join("good.py");
        let bad = dir.path().join("bad.py");
        std::fs::write(&good, "def handler(event, context):\n    return 1\n").unwrap();
        std::fs::write(&bad, "def handler(event, context):\n    return (1\n").unwrap();
        check_syntax(vec![good.clone(), dir.path().join("notes.txt")])
            .await
            .unwrap();
        match check_syntax(vec![good, bad.clone()]).await {
            Err(LiveError::Syntax(e)) => assert_eq!(e.path, bad),
            other => panic!("{other:?}"),
        }
    }
}
