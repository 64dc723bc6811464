//! Spares: Python interpreters started before they are needed (`zygote.py`), each of which
//! becomes a new worker's process, so a cold start skips the interpreter's start and the runtime
//! client's imports while the handler's import (INIT) stays real. Each owns the Runtime API
//! listener its worker will use, so awslambdaric, which reads that address when imported, is
//! imported in the spare already.
//!
//! At most [`SPARES_PER_KEY`] spares wait per [`SpareKey`], and at most [`MAX_SPARES`] in all;
//! the oldest is taken first. They are started when a function becomes active and when a
//! worker's first invocation has been answered (so they never compete for the CPU with that
//! cold start); spares are killed when a function is deleted, when unused for the
//! workers' idle timeout, and on shutdown. A spare found dead is dropped and the worker starts
//! the ordinary way. (A spare at SCHED_IDLE was tried: on a machine busy with other work it
//! never got the CPU to start before it was needed.)

use std::ffi::OsString;
use std::io;
use std::os::fd::OwnedFd;
use std::path::PathBuf;
use std::process::Stdio;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use tokio::io::AsyncWriteExt;

use crate::process::set_address_space;
use crate::process::{nonblocking_pipe, runtime_api_listener, scrubbed_parent_env};
use crate::process::{Exec, Process, INTERPRETER_ENV};
use crate::python::Launch;
use crate::store::Store;

/// Spares waiting at once for one [`SpareKey`]. Two, so the one taken was started a whole
/// cold start earlier than its replacement: in a live loop a spare started at the previous
/// invoke (about 30 ms of CPU for the interpreter and awslambdaric) was often still starting
/// when the next redeploy's invoke took it, and the worker waited for the rest.
pub(crate) const SPARES_PER_KEY: usize = 2;
/// Spares waiting at once, over all keys.
pub(crate) const MAX_SPARES: usize = 3;

/// What awslambdaric reads from the environment when its modules are imported, besides
/// `AWS_LAMBDA_RUNTIME_API` (which a spare gets from its own listener): a spare imports them
/// with the values its workers will have. The spare checks this list: should the runtime
/// client read anything else while imported, a worker whose value differs is exec'ed.
const READ_ON_IMPORT: [&str; 4] = [
    "AWS_EXECUTION_ENV",
    "AWS_LAMBDA_LOG_FORMAT",
    "AWS_LAMBDA_LOG_LEVEL",
    "AWS_LAMBDA_MAX_CONCURRENCY",
];

/// Which spare can become a worker: the same interpreter running the same runtime client, for
/// awslambdaric with the same values of what it reads when imported.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) struct SpareKey {
    interpreter: PathBuf,
    ric: bool,
    /// Those of [`READ_ON_IMPORT`] the workers' environment sets, with their values.
    preset: Vec<(OsString, OsString)>,
}

impl SpareKey {
    /// The spare for workers started as `exec` describes (`Exec::common` is enough).
    pub(crate) fn of(launch: &Launch, exec: &Exec) -> SpareKey {
        let preset = if launch.ric {
            exec.env
                .iter()
                .filter(|(k, _)| READ_ON_IMPORT.iter().any(|r| k.as_os_str() == *r))
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect()
        } else {
            Vec::new()
        };
        SpareKey {
            interpreter: launch.interpreter.clone(),
            ric: launch.ric,
            preset,
        }
    }
}

/// A started interpreter waiting on its stdin for what it is to become, and the Runtime API
/// listener its worker will use (its runtime client was started with that address).
#[derive(Debug)]
pub(crate) struct Spare {
    child: tokio::process::Child,
    pid: i32,
    pipe: OwnedFd,
    born: Instant,
    listener: Option<std::net::TcpListener>,
}

impl Spare {
    fn spawn(store: &Store, key: &SpareKey) -> io::Result<Spare> {
        let listener = runtime_api_listener()?;
        let api_addr = listener.local_addr()?;
        let (pipe, write_end) = nonblocking_pipe()?;
        let stderr_end = write_end.try_clone()?;
        let mut cmd = tokio::process::Command::new(&key.interpreter);
        cmd.arg(store.zygote_path());
        if key.ric {
            cmd.arg("awslambdaric");
        } else {
            cmd.arg(store.bootstrap_path());
        }
        let mut env = scrubbed_parent_env();
        env.extend(INTERPRETER_ENV.map(|(k, v)| (k.into(), v.into())));
        env.extend(key.preset.iter().cloned());
        env.insert("AWS_LAMBDA_RUNTIME_API".into(), api_addr.to_string().into());
        cmd.env_clear()
            .envs(env)
            .current_dir(store.runtime_dir())
            .stdin(Stdio::piped())
            .stdout(Stdio::from(write_end))
            .stderr(Stdio::from(stderr_end))
            .kill_on_drop(true)
            // As a worker's: a timeout kills the whole group.
            .process_group(0);
        let child = cmd.spawn();
        drop(cmd);
        let child = child?;
        let pid = child.id().map(|p| p as i32).unwrap_or(0);
        Ok(Spare {
            pid,
            child,
            pipe,
            born: Instant::now(),
            listener: Some(listener),
        })
    }

    /// The Runtime API listener the spare's runtime client expects, for the worker's sandbox.
    pub(crate) fn take_listener(&mut self) -> Option<std::net::TcpListener> {
        self.listener.take()
    }

    fn alive(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// Makes this spare the process `exec` describes: its address space limit is set from
    /// here, the rest it applies itself on reading `exec` (and closing its stdin).
    pub(crate) async fn become_worker(mut self, exec: &Exec) -> io::Result<Process> {
        let Some(assignment) = exec.encode() else {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "a NUL byte in the command line or environment",
            ));
        };
        if !self.alive() {
            return Err(io::Error::other("the spare had exited"));
        }
        set_address_space(self.pid, exec.address_space)?;
        let mut stdin = self
            .child
            .stdin
            .take()
            .ok_or_else(|| io::Error::other("the spare has no stdin"))?;
        let spawned = Instant::now();
        // A dead spare fails this with EPIPE: SIGPIPE is ignored in Rust programs.
        stdin.write_all(&assignment).await?;
        drop(stdin);
        Ok(Process {
            child: self.child,
            pid: self.pid,
            pipe: self.pipe,
            spawned,
            from_spare: true,
        })
    }
}

#[derive(Debug, Default)]
struct State {
    /// Oldest first.
    waiting: Vec<(SpareKey, Spare)>,
    stopping: bool,
}

/// The waiting spares of one local Lambda.
#[derive(Debug)]
pub(crate) struct Spares {
    store: Arc<Store>,
    enabled: bool,
    state: Mutex<State>,
}

impl Spares {
    pub(crate) fn new(store: Arc<Store>, enabled: bool) -> Spares {
        Spares {
            store,
            enabled,
            state: Mutex::new(State::default()),
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().expect("spares poisoned")
    }

    /// Starts spares for `key` until [`SPARES_PER_KEY`] wait or the bound is reached. It blocks
    /// for the spawns: call it off the event loop's threads (`Runner::replenish_spares`).
    pub(crate) fn replenish(&self, key: &SpareKey) {
        if !self.enabled {
            return;
        }
        let mut st = self.lock();
        // Under the lock, so two callers never start more than the bounds allow.
        while !st.stopping
            && st.waiting.iter().filter(|(k, _)| k == key).count() < SPARES_PER_KEY
            && st.waiting.len() < MAX_SPARES
        {
            match Spare::spawn(&self.store, key) {
                Ok(spare) => {
                    tracing::debug!(
                        "spare pid {} started for {}",
                        spare.pid,
                        key.interpreter.display()
                    );
                    st.waiting.push((key.clone(), spare));
                }
                Err(e) => {
                    tracing::warn!("cannot start a spare {}: {e}", key.interpreter.display());
                    return;
                }
            }
        }
    }

    /// The oldest spare waiting for `key`, if any and still alive (a dead one is dropped).
    pub(crate) fn take(&self, key: &SpareKey) -> Option<Spare> {
        let mut spare = {
            let mut st = self.lock();
            let at = st.waiting.iter().position(|(k, _)| k == key)?;
            st.waiting.remove(at).1
        };
        if spare.alive() {
            Some(spare)
        } else {
            tracing::debug!(
                "spare pid {} had exited; starting a worker afresh",
                spare.pid
            );
            None
        }
    }

    /// Kills spares unused for `idle` and drops those that died.
    pub(crate) fn reap(&self, idle: Duration) {
        let mut st = self.lock();
        st.waiting
            .retain_mut(|(_, spare)| spare.born.elapsed() < idle && spare.alive());
    }

    /// Kills every waiting spare (dropping one kills it); later ones may start again.
    pub(crate) fn clear(&self) {
        let all = std::mem::take(&mut self.lock().waiting);
        drop(all);
    }

    /// Kills every spare and starts no more, without waiting.
    pub(crate) fn kill_all(&self) {
        self.lock().stopping = true;
        self.clear();
    }

    /// Kills every spare, starts no more, and waits (bounded) until they are gone.
    pub(crate) async fn stop_all(&self) {
        let all = {
            let mut st = self.lock();
            st.stopping = true;
            std::mem::take(&mut st.waiting)
        };
        let mut all: Vec<Spare> = all.into_iter().map(|(_, spare)| spare).collect();
        for spare in &mut all {
            let _ = spare.child.start_kill();
        }
        for spare in &mut all {
            let _ = tokio::time::timeout(Duration::from_secs(5), spare.child.wait()).await;
        }
    }
}
