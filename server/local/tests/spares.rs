//! Spare workers: a handler started from a spare sees what a freshly started worker's handler
//! sees (awslambdaric's import-time state included, under each setting it reads then, and what
//! the interpreter adds to its own environment at start-up); timeouts still kill the whole
//! group; spares are stopped on shutdown; a dead spare falls back to a fresh start; settings that
//! change the interpreter's start-up make the spare exec the ordinary command.
//!
//! Each test runs with the built-in bootstrap and, when `LAMBDA_LS_TEST_PYTHON_RIC` is set,
//! with awslambdaric.

// Short functions (clippy.toml) are a rule for the product; a test may read long.
#![cfg_attr(test, allow(clippy::too_many_lines))]

mod common;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use common::{bounded, ric_python, Harness};
use lambda_local::Bootstrap;
use serde_json::{json, Value};

/// The bootstraps to test with: the built-in one always, awslambdaric when configured.
fn kinds() -> Vec<(Bootstrap, Option<PathBuf>)> {
    let mut kinds = vec![(Bootstrap::BuiltIn, None)];
    if let Some(python) = ric_python() {
        kinds.push((Bootstrap::Awslambdaric, Some(python)));
    }
    kinds
}

async fn start(kind: &(Bootstrap, Option<PathBuf>), spares: bool) -> Harness {
    Harness::start_with(kind.0, kind.1.clone(), |cfg| cfg.spares = spares).await
}

/// What a handler can see of its process, taken as its module is imported (INIT) and when it
/// runs.
const DUMP: &str = r#"
import json, os, resource, sys, time
MODULES = sorted(sys.modules)
MAIN = sorted(vars(sys.modules["__main__"]))

def plain(v):
    if isinstance(v, (set, frozenset)):
        return repr(sorted(v, key=repr))
    if isinstance(v, (str, bytes, int, float, bool, type(None), tuple, type)):
        return repr(v)
    return None

def runtime_state():
    # The runtime client's module-level values (and its marshaller's settings): awslambdaric
    # sets some of them from the environment when imported.
    out = {}
    for name, module in list(sys.modules.items()):
        if name.partition(".")[0] in ("awslambdaric", "concurrent", "runtime_client"):
            for key, value in vars(module).items():
                if plain(value) is not None:
                    out[name + "." + key] = plain(value)
    client = sys.modules.get("awslambdaric.lambda_runtime_client")
    if client is not None:
        encoder = client.BaseLambdaRuntimeClient.marshaller.jsonEncoder
        out["marshaller"] = {k: plain(v) for k, v in vars(encoder).items() if plain(v) is not None}
    return out

RUNTIME = runtime_state()

def fds():
    out = []
    for fd in sorted(os.listdir("/proc/self/fd"), key=int):
        try:
            target = os.readlink("/proc/self/fd/" + fd)
        except OSError:
            continue
        out.append([int(fd), target.split(":[")[0]])
    return out

def handler(event, context):
    return {
        "environ": list(os.environ.items()),
        "path": sys.path,
        "cwd": os.getcwd(),
        "rlimit_as": list(resource.getrlimit(resource.RLIMIT_AS)),
        "group_leader": os.getpgrp() == os.getpid(),
        "modules": MODULES,
        "main": MAIN,
        "runtime": RUNTIME,
        "main_file": getattr(sys.modules["__main__"], "__file__", None),
        "argv": sys.argv,
        "orig_argv": sys.orig_argv,
        "executable": sys.executable,
        "flags": list(sys.flags),
        "tzname": list(time.tzname),
        "stdin": os.readlink("/proc/self/fd/0"),
        "fds": fds(),
        "importer_cache": sorted(k for k in sys.path_importer_cache if isinstance(k, str)),
        "sched": [os.sched_getscheduler(0), os.sched_getparam(0).sched_priority,
                  os.getpriority(os.PRIO_PROCESS, 0)],
        "cmdline": open("/proc/self/cmdline", "rb").read().decode().split("\0"),
    }
"#;

/// Whether `/proc/self/cmdline` of a handler's process is a spare's.
fn is_spare(cmdline: &Value) -> bool {
    cmdline.to_string().contains("/runtime/zygote.py")
}

/// The handler's dump with what differs between any two workers (and data directories) made
/// equal.
fn normalized(out: &Value, data_dir: &Path) -> Value {
    let text = out
        .to_string()
        .replace(data_dir.to_str().unwrap(), "<data>");
    let mut v: Value = serde_json::from_str(&text).unwrap();
    for pair in v["environ"].as_array_mut().unwrap() {
        let varies = [
            "AWS_LAMBDA_LOG_STREAM_NAME",
            "AWS_LAMBDA_RUNTIME_API",
            "_X_AMZN_TRACE_ID",
        ];
        if varies.contains(&pair[0].as_str().unwrap()) {
            pair[1] = json!("<varies>");
        }
    }
    v.as_object_mut().unwrap().remove("cmdline");
    v
}

/// The settings the dump runs under: the harness's, and the ones awslambdaric reads when
/// imported (a runtime whose client polls from a thread, JSON logs, a log level).
fn configs() -> [Value; 2] {
    [
        json!({ "Environment": { "Variables": { "GREETING": "hi", "LANG": "C.UTF-8" } },
                "MemorySize": 256 }),
        json!({ "Environment": { "Variables": { "LANG": "C.UTF-8", "AWS_LAMBDA_LOG_LEVEL": "WARN" } },
                "MemorySize": 256, "Runtime": "python3.12",
                "LoggingConfig": { "LogFormat": "JSON" } }),
    ]
}

async fn dump(kind: &(Bootstrap, Option<PathBuf>), spares: bool, config: &Value) -> (Value, Value) {
    let h = start(kind, spares).await;
    let files = [("app.py", DUMP), ("lib/helper.py", "X = 1\n")];
    h.deploy("dump", &files, config.clone()).await;
    let r = h.invoke("dump", json!({}), true).await;
    assert_eq!(r.status, 200);
    let failed = r.header("x-amz-function-error");
    assert_eq!(failed, None, "{}\n{}", r.json(), r.tail());
    let out = r.json();
    let data = h.cfg.data_dir.clone();
    h.shutdown().await;
    (out["cmdline"].clone(), normalized(&out, &data))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_spare_gives_the_handler_what_a_fresh_worker_gives_it() {
    for kind in kinds() {
        for config in configs() {
            let ((fresh_cmd, fresh), (spare_cmd, spare)) = bounded(120, async {
                (
                    dump(&kind, false, &config).await,
                    dump(&kind, true, &config).await,
                )
            })
            .await;
            assert!(!is_spare(&fresh_cmd), "{fresh_cmd}");
            assert!(is_spare(&spare_cmd), "the spare was not used: {spare_cmd}");
            for key in fresh.as_object().unwrap().keys() {
                assert_eq!(
                    fresh[key], spare[key],
                    "{key} differs ({:?}, {config})",
                    kind.0
                );
            }
            assert_eq!(fresh["group_leader"], true);
            assert_eq!(fresh["rlimit_as"][0], (256 + 512) * 1024 * 1024);
            if kind.0 == Bootstrap::Awslambdaric {
                // The state compared above is there: imported before the handler.
                let runtime = fresh["runtime"].as_object().unwrap();
                assert!(runtime.contains_key("marshaller"), "{}", fresh["runtime"]);
            }
        }
    }
}

/// Processes whose command line names this data directory's spare program (waiting spares and
/// workers that were spares), zombies excluded.
fn zygote_pids(data_dir: &Path) -> Vec<i32> {
    let needle = data_dir.join("runtime/zygote.py");
    let needle = needle.to_str().unwrap();
    std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<i32>().ok())
        .filter(|pid| {
            std::fs::read(format!("/proc/{pid}/cmdline"))
                .is_ok_and(|c| String::from_utf8_lossy(&c).contains(needle))
        })
        .collect()
}

/// Whether `pid` is gone or a zombie (dead, not yet reaped by whoever inherited it).
fn dead(pid: i64) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Err(_) => true,
        Ok(stat) => stat
            .rsplit_once(')')
            .is_some_and(|(_, rest)| rest.trim_start().starts_with('Z')),
    }
}

async fn eventually(what: &str, mut f: impl FnMut() -> bool) {
    let start = Instant::now();
    while !f() {
        assert!(start.elapsed() < Duration::from_secs(20), "never: {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

const SPAWNER: &str = r#"
import json, os, subprocess, time

def handler(event, context):
    child = subprocess.Popen(["sleep", "60"])
    cmdline = open("/proc/self/cmdline", "rb").read().decode()
    with open(event["pidfile"], "w") as f:
        json.dump({"child": child.pid, "worker": os.getpid(), "cmdline": cmdline}, f)
    time.sleep(60)
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_timeout_kills_the_whole_group_of_a_worker_that_was_a_spare() {
    for kind in kinds() {
        let h = start(&kind, true).await;
        let pidfile = h.dir.path().join("pids.json");
        bounded(60, async {
            h.deploy("spawner", &[("app.py", SPAWNER)], json!({ "Timeout": 1 }))
                .await;
            let r = h
                .invoke("spawner", json!({ "pidfile": pidfile }), false)
                .await;
            assert_eq!(r.json()["errorType"], "Sandbox.Timedout");
            let pids: Value = serde_json::from_slice(&std::fs::read(&pidfile).unwrap()).unwrap();
            assert!(is_spare(&pids["cmdline"]), "{pids}");
            for who in ["worker", "child"] {
                let pid = pids[who].as_i64().unwrap();
                eventually(&format!("the {who} ({pid}) is killed"), || dead(pid)).await;
            }
        })
        .await;
        h.shutdown().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spares_are_stopped_on_shutdown_and_on_delete() {
    for kind in kinds() {
        let h = start(&kind, true).await;
        let data = h.cfg.data_dir.clone();
        bounded(60, async {
            h.deploy("f", &[("app.py", DUMP)], json!({})).await;
            eventually("a spare waits", || !zygote_pids(&data).is_empty()).await;
            let r = h
                .call("DELETE", "/2015-03-31/functions/f", Value::Null)
                .await;
            assert_eq!(r.status, 204);
            eventually("the spare is gone after delete", || {
                zygote_pids(&data).into_iter().all(|p| dead(p.into()))
            })
            .await;
            h.deploy("g", &[("app.py", DUMP)], json!({})).await;
            let out = h.invoke("g", json!({}), false).await.json();
            assert!(is_spare(&out["cmdline"]), "{out}");
            // One of g's two spares became its worker; its replacement starts after that first
            // invoke.
            eventually("a worker and two spares", || zygote_pids(&data).len() == 3).await;
        })
        .await;
        let pids = zygote_pids(&data);
        h.shutdown().await;
        for pid in pids {
            assert!(dead(pid.into()), "process {pid} outlived the shutdown");
        }
    }
}

const WHICH: &str = r#"
import os, sys, textwrap

def handler(event, context):
    return {
        "cmdline": open("/proc/self/cmdline", "rb").read().decode().split("\0"),
        "int_max_str_digits": sys.flags.int_max_str_digits,
        "textwrap": textwrap.__file__,
        "pid": os.getpid(),
    }
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_spare_falls_back_to_a_fresh_worker_and_is_replaced() {
    for kind in kinds() {
        let h = start(&kind, true).await;
        let data = h.cfg.data_dir.clone();
        bounded(60, async {
            h.deploy("f", &[("app.py", WHICH)], json!({})).await;
            eventually("two spares wait", || zygote_pids(&data).len() == 2).await;
            let spares = zygote_pids(&data);
            for &spare in &spares {
                // SAFETY: kill(2) on a process this test's server started and still holds.
                unsafe {
                    libc::kill(spare, libc::SIGKILL);
                }
            }
            eventually("the spares die", || spares.iter().all(|&p| dead(p.into()))).await;
            let r = h.invoke("f", json!({}), false).await;
            assert_eq!(r.header("x-amz-function-error"), None, "{}", r.json());
            let out = r.json();
            assert!(!is_spare(&out["cmdline"]), "{out}");
            eventually("a new spare", || {
                zygote_pids(&data)
                    .iter()
                    .any(|&p| !spares.contains(&p) && !dead(p.into()))
            })
            .await;
        })
        .await;
        h.shutdown().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn start_up_settings_and_shadowed_modules_make_the_spare_exec_the_plain_command() {
    for kind in kinds() {
        let h = start(&kind, true).await;
        bounded(60, async {
            // Read by the interpreter at start-up: a spare started without it must exec.
            let env =
                json!({ "Environment": { "Variables": { "PYTHONINTMAXSTRDIGITS": "5000" } } });
            h.deploy("flags", &[("app.py", WHICH)], env).await;
            let out = h.invoke("flags", json!({}), false).await.json();
            assert_eq!(out["int_max_str_digits"], 5000, "{out}");
            assert!(!is_spare(&out["cmdline"]), "{out}");
            // textwrap is imported by the runtime (through traceback) before the handler: the
            // task root's copy comes first on the path, so the runtime must have imported it.
            let shadow = "SHADOW = True\n";
            h.deploy(
                "shadow",
                &[("app.py", WHICH), ("textwrap.py", shadow)],
                json!({}),
            )
            .await;
            let out = h.invoke("shadow", json!({}), false).await.json();
            assert!(
                out["textwrap"].as_str().unwrap().ends_with("/textwrap.py")
                    && out["textwrap"].as_str().unwrap().contains("/unpacked/"),
                "{out}"
            );
            assert!(!is_spare(&out["cmdline"]), "{out}");
            // Neither made the spare path unusable for what follows.
            h.deploy("plain", &[("app.py", WHICH)], json!({})).await;
            let out = h.invoke("plain", json!({}), false).await.json();
            assert!(is_spare(&out["cmdline"]), "{out}");
        })
        .await;
        h.shutdown().await;
    }
}

/// Prints what the process sees of itself, for the zygote test below.
const SELF: &str = r#"
import json, os, sys
print(json.dumps({
    "environ": dict(os.environ),
    "argv": sys.argv,
    "spare": "zygote.py" in open("/proc/self/cmdline").read(),
}))
"#;

/// Under the C locale an interpreter sets LC_CTYPE in its own environment at start-up
/// (PEP 538). A spare started without any locale variable, for a worker without any either,
/// must still become it (its start-up was the worker's), and keep what its start-up added, as
/// the fresh process has it.
#[test]
fn a_spare_keeps_what_the_interpreters_start_up_added_to_its_environment() {
    use std::io::Write;
    use std::process::{Command, Stdio};

    // The interpreter itself, as the local Lambda resolves it (not a shim that execs it).
    let python = ric_python().unwrap_or_else(|| {
        let out = Command::new("python3")
            .args(["-c", "import sys; print(sys.executable)"])
            .output()
            .unwrap();
        PathBuf::from(String::from_utf8(out.stdout).unwrap().trim())
    });
    let dir = tempfile::tempdir().unwrap();
    let script = dir.path().join("self.py");
    std::fs::write(&script, SELF).unwrap();
    let zygote = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/zygote.py");
    let path = std::env::var("PATH").unwrap_or_default();
    let base = [("PATH", path.as_str())];
    let worker_env = [("PATH", path.as_str()), ("GREETING", "hi")];
    let run = |mut cmd: Command, stdin: &[u8]| -> Value {
        let mut child = cmd
            .current_dir(dir.path())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        child.stdin.take().unwrap().write_all(stdin).unwrap();
        let out = child.wait_with_output().unwrap();
        assert!(out.status.success(), "{out:?}");
        serde_json::from_slice(&out.stdout).unwrap()
    };

    let mut fresh = Command::new(&python);
    fresh.arg(&script).arg("x").env_clear().envs(worker_env);
    let fresh = run(fresh, b"");

    let mut spare = Command::new(&python);
    spare.arg(&zygote).arg(&script).env_clear().envs(base);
    let mut assignment = Vec::new();
    let argv = [python.to_str().unwrap(), script.to_str().unwrap(), "x"];
    let env: Vec<String> = worker_env.iter().map(|(k, v)| format!("{k}={v}")).collect();
    let fields = std::iter::once(argv.len().to_string())
        .chain(argv.iter().map(|a| (*a).to_string()))
        .chain(std::iter::once(env.len().to_string()))
        .chain(env)
        .chain(std::iter::once(dir.path().to_str().unwrap().to_string()));
    for field in fields {
        assignment.extend_from_slice(field.as_bytes());
        assignment.push(0);
    }
    let spare = run(spare, &assignment);

    assert_eq!(fresh["spare"], false);
    assert_eq!(spare["spare"], true, "the spare exec'ed: {spare}");
    assert_eq!(fresh["environ"], spare["environ"]);
    assert_eq!(fresh["argv"], spare["argv"]);
}
