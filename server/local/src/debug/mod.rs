//! Debug invocations: one dedicated worker runs its runtime client under debugpy on 127.0.0.1,
//! holds the event until a debugger attaches (for a bounded time), and holds the function's
//! timeout while a debugger is attached.
//!
//! The worker belongs to a pool of its own that is draining from the start, so it runs this
//! one invocation and is never reused. `api::debug` serves it over HTTP; `client` calls that. `worker.py` (installed as `runtime/debug_worker.py`)
//! reports the session's phase through the worker's Runtime API (`POST
//! /2018-06-01/runtime/lambda-ls/debug/{waiting|attached|detached|unattached|stopped}`).

pub mod client;
mod debugpy;

use std::collections::HashMap;
use std::ffi::OsString;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::watch;

use crate::pool::Outcome;

/// The wrapper that starts debugpy before the runtime client.
const WORKER_PY: &str = include_str!("worker.py");

/// The error type of an invocation the debugger stopped (lambda-ls's own; AWS has no debugger).
pub const STOPPED_TYPE: &str = "LambdaLs.DebugStopped";
/// Its message.
pub const STOPPED_MESSAGE: &str = "The debug session was stopped before the handler returned.";

/// Where a debug invocation is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Phase {
    /// The process is starting debugpy.
    Starting,
    /// debugpy listens; the event waits for a debugger.
    Waiting,
    Attached,
    /// A debugger was attached and has left.
    Detached,
    /// No debugger came within the wait: the event runs without one.
    Unattached,
    /// The debugger asked to end the program (terminate, or disconnect with
    /// terminateDebuggee): debugpy ends the process right after saying so.
    Stopped,
    /// The invocation has its outcome (or the worker is gone).
    Done,
}

impl Phase {
    /// While a debugger is awaited or attached, the program's time is the user's: no timeout.
    fn holds(self) -> bool {
        matches!(self, Phase::Waiting | Phase::Attached)
    }

    fn reported(name: &str) -> Option<Phase> {
        Some(match name {
            "waiting" => Phase::Waiting,
            "attached" => Phase::Attached,
            "detached" => Phase::Detached,
            "unattached" => Phase::Unattached,
            "stopped" => Phase::Stopped,
            _ => return None,
        })
    }
}

/// One debug invocation: where debugpy listens and what has happened so far.
#[derive(Debug)]
pub(crate) struct Session {
    pub id: String,
    pub port: u16,
    pub attach_wait: Duration,
    /// lambda-ls's copy of debugpy, when the interpreter has none of its own.
    debugpy: Option<PathBuf>,
    phase: watch::Sender<Phase>,
    attached: AtomicBool,
    stopped: AtomicBool,
    outcome: Mutex<Option<Outcome>>,
}

impl Session {
    pub(crate) fn new(port: u16, attach_wait: Duration, debugpy: Option<PathBuf>) -> Session {
        Session {
            id: uuid::Uuid::new_v4().simple().to_string(),
            port,
            attach_wait,
            debugpy,
            phase: watch::channel(Phase::Starting).0,
            attached: AtomicBool::new(false),
            stopped: AtomicBool::new(false),
            outcome: Mutex::new(None),
        }
    }

    /// The wrapper's path and its environment, for the worker's command line.
    pub(crate) fn launch(
        &self,
        runtime_dir: &std::path::Path,
    ) -> (PathBuf, Vec<(String, OsString)>) {
        let mut env = vec![
            (
                "LAMBDA_LS_DEBUG_PORT".to_string(),
                self.port.to_string().into(),
            ),
            (
                "LAMBDA_LS_DEBUG_WAIT".to_string(),
                format!("{:.3}", self.attach_wait.as_secs_f64()).into(),
            ),
            // Frozen standard-library modules only matter for breakpoints in the standard
            // library; the warning about them would open every debug invocation's log.
            ("PYDEVD_DISABLE_FILE_VALIDATION".to_string(), "1".into()),
        ];
        if let Some(dir) = &self.debugpy {
            env.push(("LAMBDA_LS_DEBUGPY".to_string(), dir.clone().into()));
        }
        (runtime_dir.join("debug_worker.py"), env)
    }

    /// A phase the wrapper reported; false for an unknown one. Nothing follows `Done`.
    pub(crate) fn report(&self, name: &str) -> bool {
        let Some(phase) = Phase::reported(name) else {
            return false;
        };
        match phase {
            Phase::Attached => self.attached.store(true, Ordering::SeqCst),
            Phase::Stopped => self.stopped.store(true, Ordering::SeqCst),
            _ => {}
        }
        self.phase.send_if_modified(|p| {
            let changed = *p != Phase::Done && *p != phase;
            if changed {
                *p = phase;
            }
            changed
        });
        true
    }

    /// Waits (bounded) until debugpy listens or the worker is gone; the phase then.
    pub(crate) async fn listening(&self, within: Duration) -> Phase {
        let mut phase = self.phase.subscribe();
        let _ = tokio::time::timeout(within, phase.wait_for(|p| *p != Phase::Starting)).await;
        let now = *phase.borrow();
        now
    }

    /// Waits for the outcome (the worker's own timers bound this once no debugger holds it)
    /// and whether a debugger was attached at any point.
    pub(crate) async fn outcome(&self) -> (Option<Outcome>, bool) {
        let mut phase = self.phase.subscribe();
        let _ = phase.wait_for(|p| *p == Phase::Done).await;
        let outcome = self.outcome.lock().expect("debug outcome poisoned").take();
        (outcome, self.attached.load(Ordering::SeqCst))
    }

    /// For a worker that exited mid-invocation: the error message when the debugger stopped
    /// it (of type [`STOPPED_TYPE`]); else the worker's ordinary exit error applies.
    pub(crate) fn stopped(&self) -> Option<&'static str> {
        self.stopped
            .load(Ordering::SeqCst)
            .then_some(STOPPED_MESSAGE)
    }

    pub(crate) fn finish(&self, outcome: Option<Outcome>) {
        *self.outcome.lock().expect("debug outcome poisoned") = outcome;
        self.phase.send_replace(Phase::Done);
    }
}

/// Writes the wrapper into the runtime directory unless it is there already, so tracebacks
/// name a real file.
pub(crate) fn install_wrapper(path: &std::path::Path) -> Result<(), String> {
    if std::fs::read_to_string(path).ok().as_deref() == Some(WORKER_PY) {
        return Ok(());
    }
    crate::store::write_atomic(path, WORKER_PY.as_bytes()).map_err(|e| e.to_string())
}

/// Sleeps `limit` of time in which no debugger is awaited or attached: a worker's timeout
/// (and its init allowance) for a debug invocation; a plain sleep for any other.
pub(crate) async fn hold(session: Option<Arc<Session>>, limit: Duration) {
    let Some(session) = session else {
        return tokio::time::sleep(limit).await;
    };
    let mut phase = session.phase.subscribe();
    loop {
        // The sender lives in `session`, which this holds: the waits cannot fail.
        let _ = phase.wait_for(|p| !p.holds()).await;
        tokio::select! {
            () = tokio::time::sleep(limit) => return,
            _ = phase.wait_for(|p| p.holds()) => {}
        }
    }
}

/// The debug sessions of one local Lambda, and where debugpy comes from.
#[derive(Debug, Default)]
pub(crate) struct Debugger {
    sessions: Mutex<HashMap<String, Arc<Session>>>,
    debugpy: debugpy::Debugpy,
}

impl Debugger {
    /// See [`debugpy::Debugpy::locate`].
    pub(crate) async fn debugpy(
        &self,
        launch: &crate::python::Launch,
        deps_dir: &std::path::Path,
    ) -> Result<Option<PathBuf>, String> {
        self.debugpy.locate(launch, deps_dir).await
    }

    pub(crate) fn insert(&self, session: Arc<Session>) {
        self.sessions
            .lock()
            .expect("debug sessions poisoned")
            .insert(session.id.clone(), session);
    }

    pub(crate) fn get(&self, id: &str) -> Option<Arc<Session>> {
        self.sessions
            .lock()
            .expect("debug sessions poisoned")
            .get(id)
            .cloned()
    }

    pub(crate) fn remove(&self, id: &str) {
        self.sessions
            .lock()
            .expect("debug sessions poisoned")
            .remove(id);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_timeout_is_held_while_a_debugger_is_attached() {
        let limit = Duration::from_millis(300);
        let s = Arc::new(Session::new(1, Duration::from_secs(60), None));
        let held = tokio::spawn(hold(Some(s.clone()), limit));
        assert!(s.report("waiting"));
        tokio::time::sleep(Duration::from_millis(500)).await;
        assert!(s.report("attached"));
        tokio::time::sleep(Duration::from_millis(700)).await;
        assert!(
            !held.is_finished(),
            "timed out while a debugger waited or was attached"
        );
        assert!(s.report("detached"));
        let detached = std::time::Instant::now();
        tokio::time::timeout(Duration::from_secs(5), held)
            .await
            .expect("the timeout applies again after the detach")
            .unwrap();
        // The function's whole time after the detach, not what was left before it.
        assert!(detached.elapsed() >= limit);
        assert!(s.attached.load(Ordering::SeqCst));
        assert!(!s.report("nonsense"));
        // A detach is not a stop: a worker that exits now gets its ordinary exit error.
        assert_eq!(s.stopped(), None);
        assert!(s.report("stopped"));
        assert_eq!(s.stopped(), Some(STOPPED_MESSAGE));
    }
}
