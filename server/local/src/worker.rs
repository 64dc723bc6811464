//! One worker: a Python process, its private Runtime API listener, and its captured output.
//!
//! The process runs in its own process group under an address-space limit. Its stdout and stderr
//! share one non-blocking pipe; when it posts a result, the pipe is drained until it would block
//! before the log tail is built, so everything it printed first is in that tail.

use std::io;
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::process::ExitStatusExt;
use std::path::PathBuf;
use std::process::ExitStatus;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use base64::Engine as _;
use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::{Method, Request, Response, StatusCode};
use serde_json::{json, Value};
use tokio::io::unix::AsyncFd;
use tokio::process::Child;
use tokio::sync::Notify;
use tokio::task::AbortHandle;

use crate::deps::LocalRun;
use crate::pool::{Invocation, Outcome, Pool};
use crate::process::{Exec, Process, Sandbox};
use crate::spare::{Spare, SpareKey};
use crate::time::{now_millis, rfc3339_millis};

/// Lambda's init phase gets 10 s before it is retried as part of the invoke; a worker gets
/// that plus the function timeout to reach its first `/next`.
const INIT_ALLOWANCE: Duration = Duration::from_secs(10);
/// Lambda's limit on a synchronous response payload.
const RESPONSE_LIMIT: usize = 6 * 1024 * 1024;
/// Bytes of log a Tail request returns.
const TAIL_BYTES: usize = 4096;
/// A line longer than this is cut into events of this size instead of growing without bound.
const MAX_LINE: usize = 256 * 1024;

#[derive(Debug, Default)]
struct Slot {
    /// Assigned and not yet fetched through `/next`.
    pending: Option<Invocation>,
    current: Option<Running>,
    initialized: bool,
    /// Will not be given more work; its process is being killed.
    retired: bool,
    exited: bool,
    init_timer: Option<AbortHandle>,
}

/// The invocation the handler is running now.
#[derive(Debug)]
struct Running {
    request_id: String,
    reply: Option<tokio::sync::oneshot::Sender<Outcome>>,
    want_tail: bool,
    started: Instant,
    init: Option<Duration>,
    timer: Option<AbortHandle>,
}

impl Running {
    fn from_invocation(inv: Invocation, init: Option<Duration>) -> Running {
        Running {
            request_id: inv.request_id,
            reply: inv.reply,
            want_tail: inv.want_tail,
            started: Instant::now(),
            init,
            timer: None,
        }
    }
}

#[derive(Debug, Default)]
struct Capture {
    partial: Vec<u8>,
    /// Recent log text, for LogType=Tail; only its last `TAIL_BYTES` are ever returned.
    tail: Vec<u8>,
}

#[derive(Debug)]
pub(crate) struct Worker {
    id: u64,
    pool: Arc<Pool>,
    pid: i32,
    stream: Arc<str>,
    spawned: Instant,
    slot: Mutex<Slot>,
    wake: Notify,
    pipe: AsyncFd<OwnedFd>,
    capture: Mutex<Capture>,
    tmp_dir: PathBuf,
    max_memory_mb: AtomicU64,
    tasks: Mutex<Vec<AbortHandle>>,
    /// The spare to start once this worker's first invocation is answered (`None` for debug
    /// workers): not before, so starting it never competes with this cold start.
    spare_key: Option<SpareKey>,
}

/// A worker's process once started, with what it was started with.
struct Started {
    process: Process,
    sandbox: Sandbox,
    spare_key: Option<SpareKey>,
}

type Resp = Response<Full<Bytes>>;

fn plain(status: StatusCode, body: Value) -> Resp {
    let mut r = Response::new(Full::new(Bytes::from(body.to_string())));
    *r.status_mut() = status;
    r
}

fn error_body(error_type: &str, message: String) -> Bytes {
    Bytes::from(json!({ "errorType": error_type, "errorMessage": message }).to_string())
}

/// Go's names for signals, which Lambda's messages use ("signal: killed").
fn signal_name(sig: i32) -> String {
    match sig {
        libc::SIGKILL => "killed".into(),
        libc::SIGSEGV => "segmentation fault".into(),
        libc::SIGABRT => "aborted".into(),
        libc::SIGTERM => "terminated".into(),
        libc::SIGBUS => "bus error".into(),
        libc::SIGILL => "illegal instruction".into(),
        libc::SIGFPE => "floating point exception".into(),
        libc::SIGINT => "interrupt".into(),
        other => format!("signal {other}"),
    }
}

fn describe_exit(status: &io::Result<ExitStatus>) -> String {
    match status {
        Ok(s) => match (s.code(), s.signal()) {
            (Some(code), _) => format!("exit status {code}"),
            (None, Some(sig)) => format!("signal: {}", signal_name(sig)),
            _ => "unknown exit".into(),
        },
        Err(e) => format!("cannot wait for the runtime: {e}"),
    }
}

impl Worker {
    pub(crate) fn id(&self) -> u64 {
        self.id
    }

    fn lock(&self) -> MutexGuard<'_, Slot> {
        self.slot.lock().expect("worker slot poisoned")
    }

    fn cap(&self) -> MutexGuard<'_, Capture> {
        self.capture.lock().expect("worker capture poisoned")
    }

    /// Starts a worker whose first invocation is `inv`: the invocation that triggered the init
    /// gets the init's errors, as on Lambda.
    pub(crate) async fn start(pool: Arc<Pool>, inv: Invocation) {
        if let Err(failed) = Worker::spawn(&pool, inv).await {
            let (inv, message) = *failed;
            tracing::warn!("cannot start a worker for {}: {message}", pool.spec.name);
            pool.worker_gone(None);
            if let Some(reply) = inv.reply {
                let _ = reply.send(Outcome {
                    body: error_body(
                        "Runtime.InvalidEntrypoint",
                        format!("RequestId: {} Error: {message}", inv.request_id),
                    ),
                    function_error: true,
                    log_tail: None,
                });
            }
        }
    }

    async fn spawn(pool: &Arc<Pool>, inv: Invocation) -> Result<(), Box<(Invocation, String)>> {
        let prepared = match pool.runner.prepare(&pool.spec).await {
            Ok(p) => p,
            Err(e) => return Err(Box::new((inv, e))),
        };
        // Debug invocations never use a spare: their wrapper runs first.
        let spare_key = pool.spec.debug.is_none().then(|| {
            let common = Exec::common(&pool.spec, &pool.runner.store, &prepared);
            SpareKey::of(&prepared.launch, &common)
        });
        let mut spare = spare_key.as_ref().and_then(|k| pool.runner.spares.take(k));
        let listener = spare.as_mut().and_then(Spare::take_listener);
        let sandbox = match Sandbox::open(&pool.runner, &pool.spec.version, listener).await {
            Ok(s) => s,
            Err(e) => return Err(Box::new((inv, e))),
        };
        let exec = Exec::for_worker(pool, &prepared, &sandbox);
        let process = match start_process(spare, &exec, &pool.spec.name).await {
            Ok(p) => p,
            Err(e) => {
                sandbox.discard();
                let what = format!("cannot run {}: {e}", exec.program.display());
                return Err(Box::new((inv, what)));
            }
        };
        let started = Started {
            process,
            sandbox,
            spare_key,
        };
        Worker::launch(pool, inv, started, &prepared.run)
    }

    /// Watches a started process as the worker of `inv`: its log, its Runtime API, its init
    /// allowance, its exit.
    fn launch(
        pool: &Arc<Pool>,
        inv: Invocation,
        started: Started,
        run: &LocalRun,
    ) -> Result<(), Box<(Invocation, String)>> {
        let Started {
            mut process,
            sandbox,
            spare_key,
        } = started;
        let Sandbox {
            id,
            tmp_dir,
            listener,
            stream,
            ..
        } = sandbox;
        // SAFETY: the read end is an open descriptor owned by the AsyncFd from here on, and
        // OwnedFd always reports that same descriptor.
        let registered =
            unsafe { AsyncFd::register_with_interest(process.pipe, tokio::io::Interest::READABLE) };
        let pipe = match registered.map_err(io::Error::from) {
            Ok(p) => p,
            Err(e) => {
                let _ = process.child.start_kill();
                let _ = std::fs::remove_dir_all(&tmp_dir);
                let what = format!("cannot watch the log pipe: {e}");
                return Err(Box::new((inv, what)));
            }
        };
        tracing::debug!(
            "worker {id} of {}:{} started as pid {}{}",
            pool.spec.name,
            pool.spec.version,
            process.pid,
            if process.from_spare { " (a spare)" } else { "" }
        );
        let worker = Arc::new(Worker {
            id,
            pool: pool.clone(),
            pid: process.pid,
            stream,
            spawned: process.spawned,
            slot: Mutex::new(Slot {
                pending: Some(inv),
                ..Slot::default()
            }),
            wake: Notify::new(),
            pipe,
            capture: Mutex::new(Capture::default()),
            tmp_dir,
            max_memory_mb: AtomicU64::new(0),
            tasks: Mutex::new(Vec::new()),
            spare_key,
        });
        // Which Python and which build run this function differ from AWS: say so at init.
        worker.log_line(&mut worker.cap(), &format!("lambda-ls: {run}"));
        let registered = pool.runner.register(&worker);
        worker.watch(listener, process.child);
        if !registered {
            worker.retire();
        }
        Ok(())
    }

    /// The worker's tasks: its Runtime API, its log pipe, its init allowance, its exit.
    fn watch(self: &Arc<Self>, listener: tokio::net::TcpListener, mut child: Child) {
        {
            let mut tasks = self.tasks.lock().expect("worker tasks poisoned");
            tasks.push(tokio::spawn(serve_runtime_api(listener, self.clone())).abort_handle());
            tasks.push(tokio::spawn(self.clone().read_pipe()).abort_handle());
        }
        let init_timer = {
            let w = self.clone();
            let allowance = INIT_ALLOWANCE + self.pool.spec.timeout;
            let debug = self.pool.spec.debug.clone();
            tokio::spawn(async move {
                crate::debug::hold(debug, allowance).await;
                w.init_timed_out(allowance);
            })
            .abort_handle()
        };
        self.lock().init_timer = Some(init_timer);
        let supervised = self.clone();
        tokio::spawn(async move {
            let status = child.wait().await;
            supervised.on_exit(status);
        });
    }

    /// Gives this worker its next invocation; returns it if the worker can take no more.
    pub(crate) fn assign(&self, inv: Invocation) -> Result<(), Box<Invocation>> {
        let mut slot = self.lock();
        if slot.retired || slot.exited || slot.pending.is_some() {
            return Err(Box::new(inv));
        }
        slot.pending = Some(inv);
        drop(slot);
        self.wake.notify_one();
        Ok(())
    }

    /// Kills the process group; exit bookkeeping follows in `on_exit`.
    pub(crate) fn retire(&self) {
        let mut slot = self.lock();
        slot.retired = true;
        if !slot.exited && self.pid > 0 {
            // SAFETY: kill(2) has no memory effects. `exited` is set (under this lock) right
            // after the child is reaped, so the group is ours; only that microsecond window
            // could reach a recycled PID.
            unsafe {
                libc::kill(-self.pid, libc::SIGKILL);
            }
        }
    }

    // ---- log capture ----

    fn read_pipe_into(&self, cap: &mut Capture) -> bool {
        let fd = self.pipe.get_ref().as_raw_fd();
        let mut buf = [0u8; 16 * 1024];
        loop {
            // SAFETY: reading into a stack buffer of the given length from a descriptor we own.
            let n = unsafe { libc::read(fd, buf.as_mut_ptr().cast(), buf.len()) };
            if n > 0 {
                self.take_bytes(cap, &buf[..n as usize]);
                continue;
            }
            if n == 0 {
                return true;
            }
            let err = io::Error::last_os_error();
            match err.kind() {
                io::ErrorKind::WouldBlock => return false,
                io::ErrorKind::Interrupted => continue,
                _ => return true,
            }
        }
    }

    fn take_bytes(&self, cap: &mut Capture, bytes: &[u8]) {
        let mut rest = bytes;
        while let Some(pos) = rest.iter().position(|&b| b == b'\n') {
            let mut line = std::mem::take(&mut cap.partial);
            line.extend_from_slice(&rest[..pos]);
            self.emit_raw(cap, &line);
            rest = &rest[pos + 1..];
        }
        cap.partial.extend_from_slice(rest);
        if cap.partial.len() >= MAX_LINE {
            let line = std::mem::take(&mut cap.partial);
            self.emit_raw(cap, &line);
        }
    }

    fn emit_raw(&self, cap: &mut Capture, raw: &[u8]) {
        let text = String::from_utf8_lossy(raw);
        self.log_line(cap, text.strip_suffix('\r').unwrap_or(&text));
    }

    fn flush_partial(&self, cap: &mut Capture) {
        if !cap.partial.is_empty() {
            let line = std::mem::take(&mut cap.partial);
            self.emit_raw(cap, &line);
        }
    }

    fn log_line(&self, cap: &mut Capture, text: &str) {
        cap.tail.extend_from_slice(text.as_bytes());
        cap.tail.push(b'\n');
        if cap.tail.len() > 4 * TAIL_BYTES {
            let cut = cap.tail.len() - TAIL_BYTES;
            cap.tail.drain(..cut);
        }
        self.pool
            .runner
            .logs
            .emit(&self.pool.spec.log_group, &self.stream, text.to_string());
    }

    async fn read_pipe(self: Arc<Self>) {
        loop {
            let Ok(mut ready) = self.pipe.readable().await else {
                return;
            };
            let mut cap = self.cap();
            if self.read_pipe_into(&mut cap) {
                self.flush_partial(&mut cap);
                return;
            }
            drop(cap);
            ready.clear_ready();
        }
    }

    fn max_memory_mb(&self) -> u64 {
        let kb = std::fs::read_to_string(format!("/proc/{}/status", self.pid))
            .ok()
            .and_then(|s| {
                s.lines()
                    .find_map(|l| l.strip_prefix("VmHWM:"))
                    .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
            });
        match kb {
            Some(kb) => {
                let mb = kb.div_ceil(1024);
                self.max_memory_mb.fetch_max(mb, Ordering::Relaxed);
                mb
            }
            // The process is gone: its last reading is the best there is.
            None => self.max_memory_mb.load(Ordering::Relaxed),
        }
    }

    /// Closes an invocation's log (extra lines, END, REPORT) and answers its invoker.
    /// `before_reply` runs between the two, so the worker is back in the pool before the
    /// invoker can send its next request.
    fn finish(
        &self,
        run: Running,
        body: Bytes,
        error: bool,
        extra: &[&str],
        before_reply: impl FnOnce(),
    ) {
        if let Some(t) = &run.timer {
            t.abort();
        }
        let elapsed = run.started.elapsed();
        let ms = elapsed.as_secs_f64() * 1000.0;
        let mut report = format!(
            "REPORT RequestId: {}\tDuration: {ms:.2} ms\tBilled Duration: {} ms\tMemory Size: {} MB\tMax Memory Used: {} MB",
            run.request_id,
            (ms.ceil() as u64).max(1),
            self.pool.spec.memory_mb,
            self.max_memory_mb(),
        );
        if let Some(init) = run.init {
            report.push_str(&format!(
                "\tInit Duration: {:.2} ms",
                init.as_secs_f64() * 1000.0
            ));
        }
        // AWS ends every REPORT field with a tab, the last one included.
        report.push('\t');
        let tail = {
            let mut cap = self.cap();
            // The runtime wrote its prints before it posted this result: they are in the pipe.
            self.read_pipe_into(&mut cap);
            self.flush_partial(&mut cap);
            for line in extra {
                self.log_line(&mut cap, line);
            }
            self.log_line(&mut cap, &format!("END RequestId: {}", run.request_id));
            self.log_line(&mut cap, &report);
            let tail = run.want_tail.then(|| {
                let start = cap.tail.len().saturating_sub(TAIL_BYTES);
                base64::engine::general_purpose::STANDARD.encode(&cap.tail[start..])
            });
            cap.tail.clear();
            tail
        };
        before_reply();
        if let Some(reply) = run.reply {
            let _ = reply.send(Outcome {
                body,
                function_error: error,
                log_tail: tail,
            });
        }
        if run.init.is_some() {
            self.replenish_spare();
        }
    }

    /// Starts the next spares like this worker.
    fn replenish_spare(&self) {
        if let Some(key) = self.spare_key.clone() {
            self.pool.runner.replenish_spares(key);
        }
    }

    fn start_line(&self, request_id: &str) {
        let mut cap = self.cap();
        self.read_pipe_into(&mut cap);
        self.log_line(
            &mut cap,
            &format!(
                "START RequestId: {request_id} Version: {}",
                self.pool.spec.version
            ),
        );
    }

    // ---- Runtime API ----

    async fn next(self: &Arc<Self>) -> Resp {
        loop {
            let notified = self.wake.notified();
            {
                let mut slot = self.lock();
                if let Some(inv) = slot.pending.take() {
                    return self.begin(&mut slot, inv);
                }
                if slot.exited {
                    return plain(
                        StatusCode::INTERNAL_SERVER_ERROR,
                        json!({ "errorMessage": "worker stopped", "errorType": "Runtime.Stopped" }),
                    );
                }
            }
            notified.await;
        }
    }

    fn begin(self: &Arc<Self>, slot: &mut Slot, inv: Invocation) -> Resp {
        let init = if slot.initialized {
            None
        } else {
            slot.initialized = true;
            if let Some(t) = slot.init_timer.take() {
                t.abort();
            }
            // A first reading, so even a worker that dies mid-invoke reports its memory.
            self.max_memory_mb();
            Some(self.spawned.elapsed())
        };
        self.start_line(&inv.request_id);
        let timeout = self.pool.spec.timeout;
        let deadline = now_millis() + timeout.as_millis() as i64;
        let timer = {
            let w = self.clone();
            let id = inv.request_id.clone();
            let debug = self.pool.spec.debug.clone();
            tokio::spawn(async move {
                crate::debug::hold(debug, timeout).await;
                w.timed_out(&id);
            })
            .abort_handle()
        };
        let mut resp = Response::new(Full::new(inv.payload.clone()));
        let h = resp.headers_mut();
        let mut set = |name: &'static str, value: &str| {
            if let Ok(v) = hyper::header::HeaderValue::from_str(value) {
                h.insert(name, v);
            }
        };
        set("lambda-runtime-aws-request-id", &inv.request_id);
        set("lambda-runtime-deadline-ms", &deadline.to_string());
        set("lambda-runtime-invoked-function-arn", &inv.invoked_arn);
        // X-Ray's shape, so tracing libraries parse it; nothing is traced locally.
        let random = uuid::Uuid::new_v4().as_u128();
        set(
            "lambda-runtime-trace-id",
            &format!(
                "Root=1-{:08x}-{:024x};Parent={:016x};Sampled=0",
                now_millis() / 1000,
                random >> 32,
                random as u64
            ),
        );
        if let Some(cc) = &inv.client_context {
            set("lambda-runtime-client-context", cc);
        }
        set("content-type", "application/json");
        let mut run = Running::from_invocation(inv, init);
        run.timer = Some(timer);
        slot.current = Some(run);
        resp
    }

    fn take_current(&self, request_id: &str) -> Option<Running> {
        let mut slot = self.lock();
        match &slot.current {
            Some(r) if r.request_id == request_id => slot.current.take(),
            _ => None,
        }
    }

    async fn complete(
        self: &Arc<Self>,
        request_id: &str,
        req: Request<Incoming>,
        error: bool,
    ) -> Resp {
        let error_type = req
            .headers()
            .get("lambda-runtime-function-error-type")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let body = crate::body::read(req.into_body(), RESPONSE_LIMIT).await;
        let (body, error, status) = match body {
            Ok(b) if error => (normalize_error(b, error_type), true, StatusCode::ACCEPTED),
            Ok(b) => (b, false, StatusCode::ACCEPTED),
            Err(_) => (
                error_body(
                    "Function.ResponseSizeTooLarge",
                    format!(
                        "Response payload size exceeded maximum allowed payload size ({RESPONSE_LIMIT} bytes)."
                    ),
                ),
                true,
                StatusCode::PAYLOAD_TOO_LARGE,
            ),
        };
        let Some(run) = self.take_current(request_id) else {
            return plain(
                StatusCode::BAD_REQUEST,
                json!({ "errorMessage": "Invalid request ID", "errorType": "InvalidRequestID" }),
            );
        };
        self.finish(run, body, error, &[], || self.pool.worker_free(self));
        plain(status, json!({ "status": "OK" }))
    }

    async fn init_error(self: &Arc<Self>, req: Request<Incoming>) -> Resp {
        let error_type = req
            .headers()
            .get("lambda-runtime-function-error-type")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let body = crate::body::read(req.into_body(), RESPONSE_LIMIT)
            .await
            .unwrap_or_default();
        let pending = {
            let mut slot = self.lock();
            slot.retired = true;
            slot.initialized = true;
            if let Some(t) = slot.init_timer.take() {
                t.abort();
            }
            slot.pending.take()
        };
        if let Some(inv) = pending {
            let init = Some(self.spawned.elapsed());
            self.start_line(&inv.request_id);
            let body = normalize_error(body, error_type);
            self.finish(Running::from_invocation(inv, init), body, true, &[], || {});
        }
        plain(StatusCode::ACCEPTED, json!({ "status": "OK" }))
    }

    fn timed_out(self: &Arc<Self>, request_id: &str) {
        let Some(run) = self.take_current(request_id) else {
            return;
        };
        self.retire();
        let message = format!(
            "{} {request_id} Task timed out after {:.2} seconds",
            rfc3339_millis(now_millis()),
            self.pool.spec.timeout.as_secs_f64()
        );
        let body = timed_out_body(request_id, self.pool.spec.timeout);
        self.finish(run, body, true, &[&message], || {});
    }

    fn init_timed_out(self: &Arc<Self>, allowance: Duration) {
        let pending = {
            let mut slot = self.lock();
            if slot.initialized || slot.exited {
                return;
            }
            slot.initialized = true;
            slot.pending.take()
        };
        self.retire();
        if let Some(inv) = pending {
            let message = format!(
                "{} {} Task timed out after {:.2} seconds",
                rfc3339_millis(now_millis()),
                inv.request_id,
                allowance.as_secs_f64()
            );
            self.start_line(&inv.request_id);
            let body = timed_out_body(&inv.request_id, allowance);
            let init = Some(self.spawned.elapsed());
            self.finish(
                Running::from_invocation(inv, init),
                body,
                true,
                &[&message],
                || {},
            );
        }
    }

    fn on_exit(self: &Arc<Self>, status: io::Result<ExitStatus>) {
        let (running, pending, initialized) = {
            let mut slot = self.lock();
            slot.exited = true;
            slot.retired = true;
            if let Some(t) = slot.init_timer.take() {
                t.abort();
            }
            (slot.current.take(), slot.pending.take(), slot.initialized)
        };
        if self.pid > 0 {
            // Whatever the handler started dies with its sandbox, as on Lambda.
            // SAFETY: kill(2) has no memory effects. The group outlives its leader while any
            // member lives, so its id cannot be recycled yet; if it is empty this is ESRCH.
            unsafe {
                libc::kill(-self.pid, libc::SIGKILL);
            }
        }
        for task in self.tasks.lock().expect("worker tasks poisoned").drain(..) {
            task.abort();
        }
        self.wake.notify_one();
        self.pool.runner.unregister(self.id);
        self.pool.worker_gone(Some(self.id));
        let reason = describe_exit(&status);
        tracing::debug!(
            "worker {} of {} exited: {reason}",
            self.id,
            self.pool.spec.name
        );
        if let Some(run) = running {
            self.exit_error(run, &reason);
        }
        if let Some(inv) = pending {
            if initialized {
                // Assigned while warm but never started: it did not run, so it may run elsewhere.
                self.pool.redispatch(inv);
            } else {
                self.start_line(&inv.request_id);
                let run = Running::from_invocation(inv, Some(self.spawned.elapsed()));
                self.exit_error(run, &reason);
            }
        }
        let tmp = self.tmp_dir.clone();
        tokio::task::spawn_blocking(move || {
            if let Err(e) = std::fs::remove_dir_all(&tmp) {
                if e.kind() != io::ErrorKind::NotFound {
                    tracing::warn!("cannot remove {}: {e}", tmp.display());
                }
            }
        });
    }

    fn exit_error(&self, run: Running, reason: &str) {
        let debug = self.pool.spec.debug.as_deref();
        if let Some(message) = debug.and_then(crate::debug::Session::stopped) {
            let body = error_body(crate::debug::STOPPED_TYPE, message.into());
            return self.finish(run, body, true, &[message], || {});
        }
        let message = format!(
            "RequestId: {} Error: Runtime exited with error: {reason}",
            run.request_id
        );
        let body = error_body("Runtime.ExitError", message.clone());
        self.finish(run, body, true, &[&message, "Runtime.ExitError"], || {});
    }

    async fn runtime_api(self: Arc<Self>, req: Request<Incoming>, port: u16) -> Resp {
        // Only the runtime in this sandbox may take its events: a web page reaching this port
        // through DNS rebinding carries a foreign Host or an Origin.
        let host_ok = req
            .headers()
            .get(hyper::header::HOST)
            .and_then(|h| h.to_str().ok())
            .and_then(|h| {
                h.strip_prefix("127.0.0.1:")
                    .or_else(|| h.strip_prefix("localhost:"))
            })
            .and_then(|p| p.parse::<u16>().ok())
            == Some(port);
        if !host_ok || req.headers().contains_key(hyper::header::ORIGIN) {
            return plain(
                StatusCode::FORBIDDEN,
                json!({ "errorMessage": "forbidden", "errorType": "AccessDenied" }),
            );
        }
        let path = req.uri().path().to_string();
        let Some(rest) = path.strip_prefix("/2018-06-01/runtime/") else {
            return plain(
                StatusCode::NOT_FOUND,
                json!({ "errorMessage": "not found" }),
            );
        };
        match (req.method(), rest) {
            (&Method::GET, "invocation/next") => self.next().await,
            (&Method::POST, "init/error") => self.init_error(req).await,
            (&Method::POST, r) if r.starts_with("lambda-ls/debug/") => {
                let phase = &r["lambda-ls/debug/".len()..];
                match &self.pool.spec.debug {
                    Some(d) if d.report(phase) => plain(StatusCode::ACCEPTED, json!({})),
                    _ => plain(
                        StatusCode::NOT_FOUND,
                        json!({ "errorMessage": "not found" }),
                    ),
                }
            }
            (&Method::POST, r) if r.starts_with("invocation/") => {
                let r = &r["invocation/".len()..];
                if let Some(id) = r.strip_suffix("/response") {
                    self.complete(id, req, false).await
                } else if let Some(id) = r.strip_suffix("/error") {
                    self.complete(id, req, true).await
                } else {
                    plain(
                        StatusCode::NOT_FOUND,
                        json!({ "errorMessage": "not found" }),
                    )
                }
            }
            _ => plain(
                StatusCode::NOT_FOUND,
                json!({ "errorMessage": "not found" }),
            ),
        }
    }
}

/// The worker's process: the spare taken for it if any, else a fresh one. A spare that cannot
/// take it is dropped and the fresh start follows, unseen by the invoker.
async fn start_process(spare: Option<Spare>, exec: &Exec, name: &str) -> io::Result<Process> {
    if let Some(spare) = spare {
        match spare.become_worker(exec).await {
            Ok(process) => return Ok(process),
            Err(e) => tracing::debug!(
                "a spare could not become a worker of {name} ({e}); starting one afresh"
            ),
        }
    }
    exec.spawn()
}

/// The error body the invoker sees: the runtime's JSON as posted, or a wrapper if it sent
/// something else.
fn normalize_error(body: Bytes, error_type: Option<String>) -> Bytes {
    match serde_json::from_slice::<Value>(&body) {
        Ok(Value::Object(mut obj)) => {
            if !obj.contains_key("errorType") {
                if let Some(t) = error_type {
                    obj.insert("errorType".into(), Value::String(t));
                    return Bytes::from(Value::Object(obj).to_string());
                }
            }
            body
        }
        _ => error_body(
            error_type.as_deref().unwrap_or("Runtime.Unknown"),
            String::from_utf8_lossy(&body).into_owned(),
        ),
    }
}

/// Serves this worker's Runtime API until aborted (which also ends its connections).
async fn serve_runtime_api(listener: tokio::net::TcpListener, worker: Arc<Worker>) {
    let port = listener.local_addr().map(|a| a.port()).unwrap_or(0);
    crate::server::accept_loop(listener, move |req, _| {
        worker.clone().runtime_api(req, port)
    })
    .await
}

/// The invoke answer for a timeout, as AWS gives it (`Sandbox.Timedout`, "RequestId: ... Error:
/// Task timed out after 1.00 seconds"); the log line keeps the timestamped form.
fn timed_out_body(request_id: &str, after: Duration) -> Bytes {
    Bytes::from(
        json!({
            "errorType": "Sandbox.Timedout",
            "errorMessage": format!(
                "RequestId: {request_id} Error: Task timed out after {:.2} seconds",
                after.as_secs_f64()
            ),
        })
        .to_string(),
    )
}
