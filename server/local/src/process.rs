//! What a worker's process is started with (command line, whole environment, directory, address
//! space limit) and starting it: exec'ed fresh, or handed to a spare (`spare`) that becomes it.

use std::collections::BTreeMap;
use std::ffi::{OsStr, OsString};
use std::io;
use std::net::SocketAddr;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::PathBuf;
use std::process::Stdio;
use std::sync::Arc;
use std::time::Instant;

use crate::pool::{Pool, Prepared, RunSpec, Runner};
use crate::store::Store;
use crate::time::{date_path, now_millis};
use crate::REGION;

/// Address space allowed beyond the function's MemorySize. RLIMIT_AS counts virtual memory,
/// and an interpreter reserves far more than it touches: awslambdaric's polling thread alone
/// takes the address space to ~155 MB while ~15 MB is resident, and thread stacks and malloc
/// arenas of libraries add more. So the limit is MemorySize plus this much: a handler that
/// really allocates far beyond MemorySize still gets a MemoryError, while the runtime's own
/// reservations never trip it.
const ADDRESS_SPACE_HEADROOM_MB: u64 = 512;

/// Set for every Python process of the sandbox, spares included, after the function's own
/// variables (which cannot override them).
pub(crate) const INTERPRETER_ENV: [(&str, &str); 2] = [("PYTHONUNBUFFERED", "1"), ("TZ", ":UTC")];

/// The parent's environment without what the sandbox must not inherit: the developer's
/// credentials and Lambda-ish settings (AWS_LAMBDA_MAX_CONCURRENCY would even switch
/// awslambdaric's mode), and PYTHONPATH.
pub(crate) fn scrubbed_parent_env() -> BTreeMap<OsString, OsString> {
    std::env::vars_os()
        .filter(|(key, _)| {
            let k = key.to_string_lossy();
            !(k.starts_with("AWS_")
                || k.starts_with("_LAMBDA")
                || k.starts_with("_X_AMZN")
                || k.starts_with("LAMBDA_")
                || k == "_HANDLER"
                || k == "PYTHONPATH")
        })
        .collect()
}

/// What is this worker's alone: its id, TMPDIR, Runtime API listener and log stream.
#[derive(Debug)]
pub(crate) struct Sandbox {
    pub id: u64,
    pub tmp_dir: PathBuf,
    pub listener: tokio::net::TcpListener,
    pub api_addr: SocketAddr,
    pub stream: Arc<str>,
}

impl Sandbox {
    /// Opens a sandbox; its Runtime API listens on `listener` if given (a spare's, whose
    /// runtime client was started knowing that address), else on a new port.
    pub(crate) async fn open(
        runner: &Runner,
        version: &str,
        listener: Option<std::net::TcpListener>,
    ) -> Result<Sandbox, String> {
        let id = runner.next_worker_id();
        let tmp_dir = runner.store.tmp_dir().join(format!("worker-{id}"));
        let created = {
            let tmp = tmp_dir.clone();
            tokio::task::spawn_blocking(move || std::fs::create_dir_all(tmp)).await
        };
        match created {
            Ok(Ok(())) => {}
            Ok(Err(e)) => return Err(format!("cannot create {}: {e}", tmp_dir.display())),
            Err(e) => return Err(e.to_string()),
        }
        let listener = listener
            .map_or_else(runtime_api_listener, Ok)
            .and_then(tokio::net::TcpListener::from_std)
            .and_then(|l| l.local_addr().map(|a| (l, a)));
        let (listener, api_addr) = match listener {
            Ok(l) => l,
            Err(e) => {
                let _ = std::fs::remove_dir_all(&tmp_dir);
                return Err(format!("cannot open the Runtime API listener: {e}"));
            }
        };
        let stream = format!(
            "{}/[{version}]{}",
            date_path(now_millis()),
            uuid::Uuid::new_v4().simple()
        )
        .into();
        Ok(Sandbox {
            id,
            tmp_dir,
            listener,
            api_addr,
            stream,
        })
    }

    /// Removes what `open` created, for a worker that never started.
    pub(crate) fn discard(self) {
        let _ = std::fs::remove_dir_all(&self.tmp_dir);
    }
}

/// A new Runtime API listener on a free loopback port, non-blocking for the event loop.
pub(crate) fn runtime_api_listener() -> io::Result<std::net::TcpListener> {
    let listener = std::net::TcpListener::bind(("127.0.0.1", 0))?;
    listener.set_nonblocking(true)?;
    Ok(listener)
}

/// Everything a worker's process is exec'ed with. The plain path execs it; a spare is told it
/// and applies it as if it had been exec'ed with it.
#[derive(Debug)]
pub(crate) struct Exec {
    pub program: PathBuf,
    pub args: Vec<OsString>,
    /// The whole environment, in the order exec gives it (sorted, as `Command` sorts it).
    pub env: BTreeMap<OsString, OsString>,
    pub cwd: PathBuf,
    /// RLIMIT_AS, soft and hard.
    pub address_space: u64,
}

impl Exec {
    /// The command line and environment Lambda's Python runtime gives a worker of `pool`.
    pub(crate) fn for_worker(pool: &Pool, prepared: &Prepared, sandbox: &Sandbox) -> Exec {
        Exec::build(&pool.spec, &pool.runner.store, prepared, Some(sandbox))
    }

    /// The same without a sandbox: without the variables that are each worker's own (its log
    /// stream, Runtime API and TMPDIR), for what every worker of `spec` has in common.
    pub(crate) fn common(spec: &RunSpec, store: &Store, prepared: &Prepared) -> Exec {
        Exec::build(spec, store, prepared, None)
    }

    fn build(
        spec: &RunSpec,
        store: &Store,
        prepared: &Prepared,
        sandbox: Option<&Sandbox>,
    ) -> Exec {
        let debug = spec.debug.as_ref().map(|d| d.launch(&store.runtime_dir()));
        let mut args: Vec<OsString> = Vec::new();
        if let Some((wrapper, _)) = &debug {
            args.push(wrapper.into());
        }
        if prepared.launch.ric {
            args.extend(["-m".into(), "awslambdaric".into()]);
        } else {
            args.push(store.bootstrap_path().into());
        }
        args.push(spec.handler.clone().into());
        let mut env = scrubbed_parent_env();
        let mut set = |k: &str, v: OsString| {
            env.insert(k.into(), v);
        };
        for (k, v) in &spec.env {
            set(k, v.into());
        }
        let python_path = std::env::join_paths(&prepared.python_path).unwrap_or_default();
        for (k, v) in [
            ("AWS_LAMBDA_FUNCTION_NAME", spec.name.clone()),
            ("AWS_LAMBDA_FUNCTION_VERSION", spec.version.clone()),
            (
                "AWS_LAMBDA_FUNCTION_MEMORY_SIZE",
                spec.memory_mb.to_string(),
            ),
            ("AWS_LAMBDA_LOG_GROUP_NAME", spec.log_group.to_string()),
            ("AWS_LAMBDA_INITIALIZATION_TYPE", "on-demand".into()),
            ("AWS_REGION", REGION.into()),
            ("AWS_DEFAULT_REGION", REGION.into()),
            ("AWS_EXECUTION_ENV", format!("AWS_Lambda_{}", spec.runtime)),
            ("_HANDLER", spec.handler.clone()),
        ] {
            set(k, v.into());
        }
        if let Some(sandbox) = sandbox {
            set(
                "AWS_LAMBDA_LOG_STREAM_NAME",
                sandbox.stream.to_string().into(),
            );
            set(
                "AWS_LAMBDA_RUNTIME_API",
                sandbox.api_addr.to_string().into(),
            );
        }
        set("LAMBDA_TASK_ROOT", prepared.task_root.clone().into());
        set("LAMBDA_RUNTIME_DIR", store.runtime_dir().into());
        set("PYTHONPATH", python_path);
        for (k, v) in INTERPRETER_ENV {
            set(k, v.into());
        }
        if let Some(sandbox) = sandbox {
            set("TMPDIR", sandbox.tmp_dir.clone().into());
        }
        if let Some((_, debug_env)) = debug {
            for (k, v) in debug_env {
                set(&k, v);
            }
        }
        if spec.log_format == "JSON" {
            set("AWS_LAMBDA_LOG_FORMAT", "JSON".into());
        }
        Exec {
            program: prepared.launch.interpreter.clone(),
            args,
            env,
            cwd: prepared.task_root.clone(),
            address_space: (u64::from(spec.memory_mb) + ADDRESS_SPACE_HEADROOM_MB) * 1024 * 1024,
        }
    }

    /// The spare's form: NUL-terminated argc, argv..., envc, KEY=VALUE..., cwd. `None` if a
    /// field holds a NUL byte, which exec would refuse too.
    pub(crate) fn encode(&self) -> Option<Vec<u8>> {
        let argv: Vec<&OsStr> = std::iter::once(self.program.as_os_str())
            .chain(self.args.iter().map(OsString::as_os_str))
            .collect();
        let mut fields: Vec<Vec<u8>> = vec![argv.len().to_string().into_bytes()];
        fields.extend(argv.iter().map(|a| a.as_bytes().to_vec()));
        fields.push(self.env.len().to_string().into_bytes());
        fields.extend(self.env.iter().map(|(k, v)| {
            let mut kv = k.as_bytes().to_vec();
            kv.push(b'=');
            kv.extend_from_slice(v.as_bytes());
            kv
        }));
        fields.push(self.cwd.as_os_str().as_bytes().to_vec());
        let mut out = Vec::new();
        for field in fields {
            if field.contains(&0) {
                return None;
            }
            out.extend_from_slice(&field);
            out.push(0);
        }
        Some(out)
    }

    /// Starts a fresh process: its own group (a timeout or crash kills whatever the handler
    /// started too), under the address space limit, output into the worker's log pipe.
    pub(crate) fn spawn(&self) -> io::Result<Process> {
        let (pipe, write_end) = nonblocking_pipe()?;
        let stderr_end = write_end.try_clone()?;
        let mut cmd = tokio::process::Command::new(&self.program);
        cmd.args(&self.args)
            .env_clear()
            .envs(&self.env)
            .current_dir(&self.cwd)
            .stdin(Stdio::null())
            .stdout(Stdio::from(write_end))
            .stderr(Stdio::from(stderr_end))
            .kill_on_drop(true)
            .process_group(0);
        let limit = self.address_space;
        // SAFETY: the closure runs between fork and exec and only makes an async-signal-safe
        // system call (setrlimit) on plain integers.
        unsafe {
            cmd.pre_exec(move || {
                // No PR_SET_PDEATHSIG: it fires when the spawning *thread* exits, which tokio's
                // threads may do. A worker left behind by a crashed server exits by itself when
                // its Runtime API connection closes.
                set_address_space(0, limit)
            });
        }
        let spawned = Instant::now();
        let child = cmd.spawn();
        // The parent's copies of the write ends must close, or the pipe never reports EOF.
        drop(cmd);
        let child = child?;
        Ok(Process {
            pid: child.id().map(|p| p as i32).unwrap_or(0),
            child,
            pipe,
            spawned,
            from_spare: false,
        })
    }
}

/// Sets RLIMIT_AS (soft and hard) of `pid`, 0 meaning the calling process.
pub(crate) fn set_address_space(pid: i32, bytes: u64) -> io::Result<()> {
    let rl = libc::rlimit {
        rlim_cur: bytes as libc::rlim_t,
        rlim_max: bytes as libc::rlim_t,
    };
    // SAFETY: prlimit only reads `rl`; no old limit is asked for. Async-signal-safe.
    if unsafe { libc::prlimit(pid, libc::RLIMIT_AS, &rl, std::ptr::null_mut()) } != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// A worker's running process, however it was started.
#[derive(Debug)]
pub(crate) struct Process {
    pub child: tokio::process::Child,
    pub pid: i32,
    /// The read end of its stdout and stderr, non-blocking.
    pub pipe: OwnedFd,
    /// When its INIT began: the exec, or the hand-over to a spare.
    pub spawned: Instant,
    pub from_spare: bool,
}

/// A pipe whose read end is non-blocking (for the event loop) and whose both ends are
/// close-on-exec, so only the stdout/stderr copies reach the child.
pub(crate) fn nonblocking_pipe() -> io::Result<(OwnedFd, OwnedFd)> {
    let mut fds = [0; 2];
    // SAFETY: pipe2 fills both descriptors on success; each is then owned exactly once.
    let rc = unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) };
    if rc != 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: fresh descriptors from pipe2, not owned elsewhere.
    let (read, write) = unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) };
    // SAFETY: plain fcntl on a descriptor we own.
    let flags = unsafe { libc::fcntl(read.as_raw_fd(), libc::F_GETFL) };
    if flags < 0
        || unsafe { libc::fcntl(read.as_raw_fd(), libc::F_SETFL, flags | libc::O_NONBLOCK) } < 0
    {
        return Err(io::Error::last_os_error());
    }
    Ok((read, write))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_argv_env_and_cwd_as_nul_terminated_fields() {
        let exec = Exec {
            program: "/usr/bin/python3".into(),
            args: vec!["-m".into(), "awslambdaric".into(), "app.handler".into()],
            env: [("B".into(), "2=two".into()), ("A".into(), "".into())].into(),
            cwd: "/task".into(),
            address_space: 1,
        };
        let encoded = exec.encode().unwrap();
        let fields: Vec<&[u8]> = encoded.split(|&b| b == 0).collect();
        assert_eq!(
            fields,
            [
                &b"4"[..],
                b"/usr/bin/python3",
                b"-m",
                b"awslambdaric",
                b"app.handler",
                b"2",
                b"A=",
                b"B=2=two",
                b"/task",
                b"",
            ]
        );
        let mut bad = exec;
        bad.env.insert("C".into(), "nul\0inside".into());
        assert!(bad.encode().is_none());
    }
}
