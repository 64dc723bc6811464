//! Per-version worker pools: warm reuse, scale-out up to a limit, queueing, idle reaping, draining.
//!
//! The pool's lock is a plain mutex held only to move a worker or an invocation between lists;
//! invocations themselves travel to workers through per-worker slots (see `worker`).

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::deps::{Deps, LocalRun};
use crate::logs::Logs;
use crate::model::FunctionConfig;
use crate::python::{Launch, Python};
use crate::spare::{SpareKey, Spares};
use crate::store::Store;
use crate::worker::Worker;

/// Invocations waiting beyond this per pool are refused with 429, as Lambda throttles.
const QUEUE_LIMIT: usize = 1000;

/// Everything a worker needs to run one function version; immutable, shared by its workers.
#[derive(Debug, Clone)]
pub(crate) struct RunSpec {
    pub name: String,
    pub version: String,
    pub runtime: String,
    pub handler: String,
    pub timeout: Duration,
    pub memory_mb: u32,
    pub env: BTreeMap<String, String>,
    pub code_sha256: String,
    pub layers: Vec<String>,
    pub log_group: Arc<str>,
    pub log_format: String,
    /// The debug session of a debug invocation's dedicated worker.
    pub debug: Option<Arc<crate::debug::Session>>,
}

impl RunSpec {
    pub(crate) fn from_config(c: &FunctionConfig) -> RunSpec {
        RunSpec {
            name: c.name.clone(),
            version: c.version.clone(),
            runtime: c.runtime.clone(),
            handler: c.handler.clone(),
            timeout: Duration::from_secs(u64::from(c.timeout)),
            memory_mb: c.memory_size,
            env: c.environment.clone(),
            code_sha256: c.code_sha256.clone(),
            layers: c.layers.iter().map(|l| l.sha256.clone()).collect(),
            log_group: c.log_group.as_str().into(),
            log_format: c.log_format.clone(),
            debug: None,
        }
    }
}

/// What a worker of one function version starts with.
#[derive(Debug)]
pub(crate) struct Prepared {
    pub launch: Launch,
    pub task_root: PathBuf,
    /// `PYTHONPATH`: the task root, reinstalled compiled packages if any, the layers.
    pub python_path: Vec<PathBuf>,
    /// How this differs from AWS, for the worker's first log line.
    pub run: LocalRun,
}

/// One invocation on its way to a worker.
#[derive(Debug)]
pub(crate) struct Invocation {
    pub request_id: String,
    pub payload: Bytes,
    pub invoked_arn: String,
    pub client_context: Option<String>,
    pub want_tail: bool,
    /// `None` for `Event` invocations, whose result nobody waits for.
    pub reply: Option<oneshot::Sender<Outcome>>,
}

impl Invocation {
    /// A synchronous invocation (a function URL's, a debug one) and where its outcome arrives.
    pub(crate) fn sync(
        payload: Bytes,
        invoked_arn: String,
        want_tail: bool,
    ) -> (Invocation, oneshot::Receiver<Outcome>) {
        let (tx, rx) = oneshot::channel();
        let invocation = Invocation {
            request_id: uuid::Uuid::new_v4().to_string(),
            payload,
            invoked_arn,
            client_context: None,
            want_tail,
            reply: Some(tx),
        };
        (invocation, rx)
    }
}

/// What the invoker answers: the payload, whether it is an error, and the log tail if asked.
#[derive(Debug)]
pub(crate) struct Outcome {
    pub body: Bytes,
    pub function_error: bool,
    pub log_tail: Option<String>,
}

/// State shared by every pool: where things are, how to start Python, the live workers.
#[derive(Debug)]
pub(crate) struct Runner {
    pub store: Arc<Store>,
    pub logs: Arc<Logs>,
    pub python: Python,
    pub deps: Deps,
    pub max_workers: usize,
    pub idle_timeout: Duration,
    pub spares: Spares,
    workers: Mutex<HashMap<u64, Arc<Worker>>>,
    next_id: AtomicU64,
    stopping: AtomicBool,
}

impl Runner {
    pub(crate) fn new(
        store: Arc<Store>,
        logs: Arc<Logs>,
        python: Python,
        max_workers: usize,
        idle_timeout: Duration,
        spares: bool,
    ) -> Runner {
        Runner {
            deps: Deps::new(store.deps_dir()),
            spares: Spares::new(store.clone(), spares),
            store,
            logs,
            python,
            max_workers: max_workers.max(1),
            idle_timeout,
            workers: Mutex::new(HashMap::new()),
            next_id: AtomicU64::new(1),
            stopping: AtomicBool::new(false),
        }
    }

    /// The interpreter, the unpacked code and layers, and (once per content hash) compiled
    /// packages reinstalled for that interpreter when the layers' are built for another Python.
    pub(crate) async fn prepare(&self, spec: &RunSpec) -> Result<Prepared, String> {
        let launch = self.python.launch(&spec.runtime).await?;
        let unpacked = {
            let store = self.store.clone();
            let code = spec.code_sha256.clone();
            let layers = spec.layers.clone();
            tokio::task::spawn_blocking(move || {
                // Task roots are re-created here if they were removed since the deploy.
                let task_root = store.ensure_unpacked(&code)?;
                let layers = layers
                    .iter()
                    .map(|h| store.ensure_unpacked(h))
                    .collect::<Result<Vec<_>, _>>()?;
                Ok::<_, String>((task_root, layers))
            })
            .await
            .map_err(|e| e.to_string())?
        };
        let (task_root, layer_roots) = unpacked?;
        let mut python_path = site_dirs(&spec.runtime, &task_root, &layer_roots);
        // Copies built for this interpreter go right after the task root, ahead of the
        // layers' copies built for the runtime's Python.
        let run = match self.deps.prepare(&launch, python_path.clone()).await? {
            Some(rebuilt) => {
                python_path.insert(1, rebuilt.dir);
                LocalRun::new(&spec.runtime, &launch, &rebuilt.packages)
            }
            None => LocalRun::new(&spec.runtime, &launch, &[]),
        };
        Ok(Prepared {
            launch,
            task_root,
            python_path,
            run,
        })
    }

    /// Tops up the spares for `key` on a blocking thread: spawning takes up to milliseconds
    /// on a busy machine, and an invoker's answer may be waiting to run on this thread.
    pub(crate) fn replenish_spares(self: &Arc<Self>, key: SpareKey) -> JoinHandle<()> {
        let runner = self.clone();
        tokio::task::spawn_blocking(move || runner.spares.replenish(&key))
    }

    pub(crate) fn next_worker_id(&self) -> u64 {
        self.next_id.fetch_add(1, Ordering::Relaxed)
    }

    /// Records a started worker; false once shutdown began, so the caller kills it at once.
    pub(crate) fn register(&self, worker: &Arc<Worker>) -> bool {
        let mut all = self.workers.lock().expect("worker registry poisoned");
        if self.stopping.load(Ordering::SeqCst) {
            return false;
        }
        all.insert(worker.id(), worker.clone());
        true
    }

    pub(crate) fn unregister(&self, id: u64) {
        self.workers
            .lock()
            .expect("worker registry poisoned")
            .remove(&id);
    }

    /// Kills every worker and spare and refuses new ones, without waiting.
    pub(crate) fn kill_all(&self) {
        self.kill_workers();
        self.spares.kill_all();
    }

    fn kill_workers(&self) {
        let all: Vec<Arc<Worker>> = {
            let all = self.workers.lock().expect("worker registry poisoned");
            self.stopping.store(true, Ordering::SeqCst);
            all.values().cloned().collect()
        };
        for w in &all {
            w.retire();
        }
    }

    /// Kills every worker and spare and waits (bounded) until they are gone.
    pub(crate) async fn stop_all(&self) {
        self.kill_workers();
        self.spares.stop_all().await;
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline
            && !self
                .workers
                .lock()
                .expect("worker registry poisoned")
                .is_empty()
        {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
}

/// The task root, then each layer's paths as Lambda puts them on `sys.path`.
fn site_dirs(runtime: &str, task_root: &Path, layer_roots: &[PathBuf]) -> Vec<PathBuf> {
    let short = runtime.trim_start_matches("python");
    let mut dirs = vec![task_root.to_path_buf()];
    for root in layer_roots {
        dirs.push(root.join(format!("python/lib/python{short}/site-packages")));
        dirs.push(root.join("python"));
        dirs.push(root.clone());
    }
    dirs
}

#[derive(Debug, Default)]
struct PoolState {
    /// Warm workers, most recently used last so reuse keeps the fewest processes hot.
    idle: Vec<(Arc<Worker>, Instant)>,
    /// Workers started and not yet exited, busy or idle.
    count: usize,
    queue: VecDeque<Invocation>,
    draining: bool,
}

/// The workers of one function version (or of one `$LATEST` configuration).
#[derive(Debug)]
pub(crate) struct Pool {
    pub spec: Arc<RunSpec>,
    pub runner: Arc<Runner>,
    state: Mutex<PoolState>,
}

impl Pool {
    pub(crate) fn new(spec: RunSpec, runner: Arc<Runner>) -> Arc<Pool> {
        Arc::new(Pool {
            spec: Arc::new(spec),
            runner,
            state: Mutex::new(PoolState::default()),
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, PoolState> {
        self.state.lock().expect("pool state poisoned")
    }

    /// Hands an invocation to a warm worker, a new one, or the queue; gives it back when the
    /// queue is full so the caller can throttle.
    pub(crate) fn invoke(self: &Arc<Self>, inv: Invocation) -> Result<(), Box<Invocation>> {
        self.dispatch(inv, true)
    }

    fn dispatch(
        self: &Arc<Self>,
        mut inv: Invocation,
        limit_queue: bool,
    ) -> Result<(), Box<Invocation>> {
        loop {
            let mut st = self.lock();
            if let Some((worker, _)) = st.idle.pop() {
                drop(st);
                match worker.assign(inv) {
                    Ok(()) => return Ok(()),
                    // It died while idle; its exit bookkeeping is under way. Try elsewhere.
                    Err(back) => {
                        inv = *back;
                        continue;
                    }
                }
            }
            if st.count < self.runner.max_workers {
                st.count += 1;
                drop(st);
                tokio::spawn(Worker::start(self.clone(), inv));
                return Ok(());
            }
            if limit_queue && st.queue.len() >= QUEUE_LIMIT {
                return Err(Box::new(inv));
            }
            st.queue.push_back(inv);
            return Ok(());
        }
    }

    /// Re-queues an invocation that reached a worker which died before starting it.
    pub(crate) fn redispatch(self: &Arc<Self>, inv: Invocation) {
        // Never refused: it was accepted already.
        let _ = self.dispatch(inv, false);
    }

    /// A worker finished an invocation: give it queued work, retire it, or park it warm.
    pub(crate) fn worker_free(self: &Arc<Self>, worker: &Arc<Worker>) {
        let mut st = self.lock();
        if let Some(inv) = st.queue.pop_front() {
            drop(st);
            if let Err(inv) = worker.assign(inv) {
                self.redispatch(*inv);
            }
            return;
        }
        if st.draining {
            drop(st);
            worker.retire();
            return;
        }
        st.idle.push((worker.clone(), Instant::now()));
    }

    /// A worker's process is gone (or never started): free its place and, if work is queued,
    /// start a replacement for it.
    pub(crate) fn worker_gone(self: &Arc<Self>, id: Option<u64>) {
        let mut st = self.lock();
        if let Some(id) = id {
            st.idle.retain(|(w, _)| w.id() != id);
        }
        st.count = st.count.saturating_sub(1);
        if st.count < self.runner.max_workers {
            if let Some(inv) = st.queue.pop_front() {
                st.count += 1;
                drop(st);
                tokio::spawn(Worker::start(self.clone(), inv));
            }
        }
    }

    /// Stops using this pool: idle workers are killed now, busy ones after their invocation.
    pub(crate) fn drain(&self) {
        let idle = {
            let mut st = self.lock();
            st.draining = true;
            std::mem::take(&mut st.idle)
        };
        for (w, _) in idle {
            w.retire();
        }
    }

    /// Kills workers idle for longer than the configured timeout.
    pub(crate) fn reap_idle(&self, now: Instant) {
        let timeout = self.runner.idle_timeout;
        let expired: Vec<Arc<Worker>> = {
            let mut st = self.lock();
            let (old, keep): (Vec<_>, Vec<_>) = std::mem::take(&mut st.idle)
                .into_iter()
                .partition(|(_, since)| now.duration_since(*since) >= timeout);
            st.idle = keep;
            old.into_iter().map(|(w, _)| w).collect()
        };
        for w in expired {
            tracing::debug!("reaping idle worker of {}", self.spec.name);
            w.retire();
        }
    }
}
