//! Breakpoints in the local Lambda, driven as an editor would: `lambda.debug` through the
//! language server, then a Debug Adapter Protocol client on the debugpy endpoint it reports.
//! debugpy is not in the function's interpreter here, so lambda-ls installs its pinned copy
//! (a real pip run against PyPI) into the test's data directory.

use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use lambda_ls_tests::{lambda_ls_bin, project, read_frames, run, stdout_json, Lsp};
use serde_json::{json, Value};

const HANDLER: &str = r#"import time

def handler(event, context):
    greeting = "Hello, " + event["name"]
    time.sleep(event.get("sleep", 0))
    return {"greeting": greeting}
"#;
/// 1-based: `greeting = ...`.
const BREAKPOINT_LINE: u64 = 4;
/// The function's timeout: the test stays paused for longer.
const TOML: &str = "[[function]]\ntarget = \"handler.py:handler\"\ntimeout = 2\n";

/// A DAP client over TCP: requests by sequence number, every message kept in arrival order.
struct Dap {
    stream: TcpStream,
    seq: i64,
    rx: mpsc::Receiver<Value>,
    /// Messages read but not yet asked for.
    pending: Vec<Value>,
}

impl Dap {
    fn connect(host: &str, port: u64) -> Dap {
        let stream = TcpStream::connect((host, port as u16)).expect("debugpy accepts a client");
        let reader = stream.try_clone().unwrap();
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || read_frames(reader, &tx, |_| {}));
        Dap {
            stream,
            seq: 0,
            rx,
            pending: Vec::new(),
        }
    }

    fn send(&mut self, command: &str, arguments: Value) -> i64 {
        self.seq += 1;
        let body =
            json!({"seq": self.seq, "type": "request", "command": command, "arguments": arguments})
                .to_string();
        write!(self.stream, "Content-Length: {}\r\n\r\n{body}", body.len()).unwrap();
        self.stream.flush().unwrap();
        self.seq
    }

    /// The first message (kept or new) that `wanted` accepts, within 60 s.
    fn wait(&mut self, what: &str, wanted: impl Fn(&Value) -> bool) -> Value {
        if let Some(i) = self.pending.iter().position(&wanted) {
            return self.pending.remove(i);
        }
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let msg = self.rx.recv_timeout(left).unwrap_or_else(|_| {
                panic!("no {what} from debugpy within 60 s: {:?}", self.pending)
            });
            if wanted(&msg) {
                return msg;
            }
            self.pending.push(msg);
        }
    }

    fn event(&mut self, name: &str) -> Value {
        self.wait(name, |m| m["type"] == "event" && m["event"] == name)
    }

    /// Sends a request and waits for its successful response's body.
    fn request(&mut self, command: &str, arguments: Value) -> Value {
        let seq = self.send(command, arguments);
        let response = self.wait(command, |m| {
            m["type"] == "response" && m["request_seq"] == json!(seq)
        });
        assert_eq!(response["success"], true, "{command}: {response}");
        response["body"].clone()
    }
}

impl Dap {
    /// initialize, attach with `mappings`, the breakpoint if any, configurationDone: the
    /// debugger is attached and the event runs once this returns.
    fn attach(&mut self, mappings: &Value, breakpoint: Option<(&std::path::Path, u64)>) {
        self.request(
            "initialize",
            json!({"clientID": "lambda-ls-test", "adapterID": "debugpy", "pathFormat": "path",
                   "linesStartAt1": true, "columnsStartAt1": true}),
        );
        // debugpy answers `attach` only after configurationDone.
        let attach = self.send(
            "attach",
            json!({"justMyCode": true, "pathMappings": mappings}),
        );
        self.event("initialized");
        if let Some((file, line)) = breakpoint {
            let set = self.request(
                "setBreakpoints",
                json!({"source": {"path": file}, "breakpoints": [{"line": line}]}),
            );
            assert_eq!(set["breakpoints"][0]["line"], line, "{set}");
        }
        self.request("configurationDone", json!({}));
        self.wait("attach response", |m| {
            m["type"] == "response" && m["request_seq"] == json!(attach)
        });
    }

    /// Waits for a stop at `file:line`; the stopped thread and its top frame.
    fn stopped_at(&mut self, file: &std::path::Path, line: u64) -> (Value, Value) {
        let stopped = self.event("stopped");
        assert_eq!(stopped["body"]["reason"], "breakpoint", "{stopped}");
        let thread = stopped["body"]["threadId"].clone();
        let trace = self.request("stackTrace", json!({"threadId": thread, "levels": 1}));
        let top = &trace["stackFrames"][0];
        assert_eq!(
            top["source"]["path"],
            json!(file),
            "the workspace path: {top}"
        );
        assert_eq!(top["line"], line);
        (thread, top["id"].clone())
    }
}

fn start_server(home: &std::path::Path, root: &std::path::Path, env: &[(&str, &str)]) -> Lsp {
    let mut lsp = Lsp::start(home, env);
    let caps = json!({"experimental": {"lambdaLs": {"debugReady": true}}});
    let init = lsp.request(
        "initialize",
        json!({"processId": null, "rootUri": format!("file://{}", root.display()), "capabilities": caps}),
    );
    assert!(init["result"]["capabilities"].is_object(), "{init}");
    lsp.notify("initialized", json!({}));
    lsp
}

/// Runs `lambda.debug` on `handler.py`'s handler with `payload`; the request's id and the
/// `lambdaLs/debugReady` parameters.
fn debug_through_the_server(lsp: &mut Lsp, root: &std::path::Path, payload: Value) -> (i64, Value) {
    let uri = format!("file://{}", root.join("handler.py").display());
    let command = lsp.start_request(
        "workspace/executeCommand",
        json!({"command": "lambda.debug", "arguments": [{"uri": uri, "function": "handler", "payload": payload}]}),
    );
    // Deploy, then debugpy found or installed (pip, once) and listening.
    let ready = lsp.wait_message(Duration::from_secs(300), |m| {
        m["method"] == "lambdaLs/debugReady" || m.get("id") == Some(&json!(command))
    });
    assert_eq!(ready["method"], "lambdaLs/debugReady", "{ready}");
    (command, ready["params"].clone())
}

fn connect(ready: &Value) -> Dap {
    Dap::connect(
        ready["host"].as_str().unwrap(),
        ready["port"].as_u64().unwrap(),
    )
}

/// The directories lambda-ls installed debugpy into under `home`, if any.
fn cached_debugpy(home: &std::path::Path) -> Vec<std::path::PathBuf> {
    walkdir(home)
        .into_iter()
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with("debugpy-"))
                && p.join("debugpy").is_dir()
        })
        .collect()
}

/// Every directory under `dir`.
fn walkdir(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        if entry.file_type().is_ok_and(|t| t.is_dir()) {
            out.extend(walkdir(&path));
            out.push(path);
        }
    }
    out
}

#[test]
fn a_breakpoint_in_the_workspace_file_stops_and_a_pause_outlives_the_timeout() {
    let home = tempfile::tempdir().unwrap();
    let proj = project(&[("handler.py", HANDLER), ("lambda.toml", TOML)]);
    let root = proj.path().canonicalize().unwrap();
    let file = root.join("handler.py");
    let mut lsp = start_server(home.path(), &root, &[]);
    let (command, ready) = debug_through_the_server(&mut lsp, &root, json!({"name": "Ada"}));
    assert_eq!(ready["host"], "127.0.0.1");
    let mapping = &ready["pathMappings"][0];
    assert_eq!(mapping["localRoot"], json!(root));
    let remote = mapping["remoteRoot"].as_str().unwrap();
    assert_ne!(
        remote,
        root.to_str().unwrap(),
        "the worker runs an unpacked copy"
    );
    // The interpreter here has no debugpy: lambda-ls installed its own.
    assert_eq!(cached_debugpy(home.path()).len(), 1, "{:?}", lsp.stderr);

    let mut dap = connect(&ready);
    dap.attach(&ready["pathMappings"], Some((&file, BREAKPOINT_LINE)));
    let (thread, frame) = dap.stopped_at(&file, BREAKPOINT_LINE);
    // Only the function's thread and frames: lambda-ls's watch thread, runtime client and
    // wrapper are not the user's to debug.
    let threads = dap.request("threads", json!({}));
    assert_eq!(threads["threads"].as_array().unwrap().len(), 1, "{threads}");
    let trace = dap.request("stackTrace", json!({"threadId": thread}));
    let files: Vec<&Value> = trace["stackFrames"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| &f["source"]["path"])
        .collect();
    assert_eq!(files, [&json!(file)], "{trace}");
    let scopes = dap.request("scopes", json!({"frameId": frame}));
    let locals = scopes["scopes"][0]["variablesReference"].clone();
    let vars = dap.request("variables", json!({"variablesReference": locals}));
    let event = vars["variables"]
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["name"] == "event")
        .unwrap_or_else(|| panic!("no `event` among {vars}"));
    assert_eq!(event["value"], "{'name': 'Ada'}", "{event}");

    // Paused for longer than the function's 2 s timeout: it must not fire.
    std::thread::sleep(Duration::from_secs(4));
    dap.request("continue", json!({"threadId": thread}));

    let answer = lsp.answer(command, Duration::from_secs(60));
    let result = &answer["result"];
    assert_eq!(
        result["payload"],
        json!({"greeting": "Hello, Ada"}),
        "{answer}"
    );
    assert_eq!(result["function_error"], Value::Null, "{answer}");
    assert_eq!(result["debugger_attached"], true);
    let _ = dap.send("disconnect", json!({}));
}

#[test]
fn after_the_debugger_detaches_the_timeout_applies_again() {
    let home = tempfile::tempdir().unwrap();
    let proj = project(&[("handler.py", HANDLER), ("lambda.toml", TOML)]);
    let root = proj.path().canonicalize().unwrap();
    let mut lsp = start_server(home.path(), &root, &[]);
    let (command, ready) =
        debug_through_the_server(&mut lsp, &root, json!({"name": "Ada", "sleep": 30}));
    let mut dap = connect(&ready);
    dap.attach(&ready["pathMappings"], None);
    // Attached while the handler sleeps past its timeout: held. Then the debugger leaves.
    std::thread::sleep(Duration::from_secs(4));
    let _ = dap.send("disconnect", json!({"terminateDebuggee": false}));
    let answer = lsp.answer(command, Duration::from_secs(60));
    let result = &answer["result"];
    assert_eq!(result["function_error"], "Unhandled", "{answer}");
    assert_eq!(
        result["payload"]["errorType"], "Sandbox.Timedout",
        "{answer}"
    );
}

/// Returns its worker's process id, so a later invocation can tell whether it ran there.
const PID_HANDLER: &str = r#"import os

def handler(event, context):
    greeting = "Hello, " + event["name"]
    return {"greeting": greeting, "pid": os.getpid()}
"#;
/// A timeout far past the test, so only the stop can end the paused invocation.
const LONG_TOML: &str = "[[function]]\ntarget = \"handler.py:handler\"\ntimeout = 600\n";

/// A Debug command through the server, paused on the breakpoint line with the debugger attached.
struct Paused {
    _dirs: (tempfile::TempDir, tempfile::TempDir),
    file: std::path::PathBuf,
    lsp: Lsp,
    command: i64,
    dap: Dap,
}

fn paused_on_the_breakpoint() -> Paused {
    let home = tempfile::tempdir().unwrap();
    let proj = project(&[("handler.py", PID_HANDLER), ("lambda.toml", LONG_TOML)]);
    let root = proj.path().canonicalize().unwrap();
    let file = root.join("handler.py");
    let mut lsp = start_server(home.path(), &root, &[]);
    let (command, ready) = debug_through_the_server(&mut lsp, &root, json!({"name": "Ada"}));
    let mut dap = connect(&ready);
    dap.attach(&ready["pathMappings"], Some((&file, BREAKPOINT_LINE)));
    dap.stopped_at(&file, BREAKPOINT_LINE);
    Paused {
        _dirs: (home, proj),
        file,
        lsp,
        command,
        dap,
    }
}

#[test]
fn stopping_the_debug_session_ends_the_invocation_and_its_worker() {
    // The temporary folders live until the test ends.
    let Paused {
        _dirs,
        file,
        mut lsp,
        command,
        mut dap,
    } = paused_on_the_breakpoint();
    let process = dap.event("process");
    let pid = process["body"]["systemProcessId"].as_u64().unwrap();
    assert!(
        std::path::Path::new(&format!("/proc/{pid}")).exists(),
        "{process}"
    );

    // What VS Code's Stop sends to an adapter that supports it.
    dap.send("terminate", json!({}));
    let answer = lsp.answer(command, Duration::from_secs(30));
    let result = &answer["result"];
    assert_eq!(result["function_error"], "Unhandled", "{answer}");
    assert_eq!(
        result["payload"],
        json!({"errorType": "LambdaLs.DebugStopped",
               "errorMessage": "The debug session was stopped before the handler returned."}),
        "{answer}"
    );
    assert!(
        !std::path::Path::new(&format!("/proc/{pid}")).exists(),
        "the debug worker {pid} is gone once its result is in"
    );

    // An ordinary invoke runs in another worker.
    let uri = format!("file://{}", file.display());
    let plain = lsp.request(
        "workspace/executeCommand",
        json!({"command": "lambda.invoke", "arguments": [{"uri": uri, "function": "handler", "payload": {"name": "Bo"}}]}),
    );
    let payload = &plain["result"]["payload"];
    assert_eq!(payload["greeting"], "Hello, Bo", "{plain}");
    assert_ne!(payload["pid"], json!(pid), "the debug worker was reused");
}

#[test]
fn a_disconnect_without_terminate_lets_the_invocation_finish() {
    let Paused {
        _dirs,
        mut lsp,
        command,
        mut dap,
        ..
    } = paused_on_the_breakpoint();
    // VS Code's Disconnect: the debugger leaves, the program goes on.
    dap.send("disconnect", json!({"terminateDebuggee": false}));
    let answer = lsp.answer(command, Duration::from_secs(30));
    let result = &answer["result"];
    assert_eq!(result["function_error"], Value::Null, "{answer}");
    assert_eq!(result["payload"]["greeting"], "Hello, Ada", "{answer}");
}

/// A virtualenv with debugpy installed, made once under `.cache` (pip against PyPI, bounded).
fn venv_with_debugpy() -> std::path::PathBuf {
    let venv = lambda_ls_tests::repo_root().join(".cache/debugpy-venv");
    let python = venv.join("bin/python");
    let has = |python: &std::path::Path| {
        std::process::Command::new(python)
            .args(["-c", "import debugpy"])
            .status()
            .is_ok_and(|s| s.success())
    };
    if has(&python) {
        return venv;
    }
    // Made beside it, then renamed: another test run may be making it at the same time.
    let staging = venv.with_file_name(format!(".debugpy-venv-{}", std::process::id()));
    let bounded = |args: &[&str]| {
        let status = std::process::Command::new("timeout")
            .arg("300")
            .args(args)
            .status()
            .unwrap();
        assert!(status.success(), "{args:?}: {status}");
    };
    bounded(&["python3", "-m", "venv", staging.to_str().unwrap()]);
    let pip = staging.join("bin/python");
    bounded(&[
        pip.to_str().unwrap(),
        "-m",
        "pip",
        "install",
        "-q",
        "--disable-pip-version-check",
        "debugpy==1.8.22",
    ]);
    if std::fs::rename(&staging, &venv).is_err() {
        let _ = std::fs::remove_dir_all(&staging);
    }
    assert!(has(&python), "no debugpy in {}", venv.display());
    venv
}

#[test]
fn debugpy_is_taken_from_the_functions_own_interpreter() {
    let venv = venv_with_debugpy();
    let python = venv.join("bin/python");
    let home = tempfile::tempdir().unwrap();
    let proj = project(&[("handler.py", HANDLER), ("lambda.toml", TOML)]);
    let root = proj.path().canonicalize().unwrap();
    let file = root.join("handler.py");
    let mut lsp = start_server(
        home.path(),
        &root,
        &[
            ("LAMBDA_LS_PYTHON", python.to_str().unwrap()),
            ("RUST_LOG", "warn,lambda_local=info"),
        ],
    );
    let (command, ready) = debug_through_the_server(&mut lsp, &root, json!({"name": "Ada"}));
    let mut dap = connect(&ready);
    dap.attach(&ready["pathMappings"], Some((&file, BREAKPOINT_LINE)));
    let (thread, frame) = dap.stopped_at(&file, BREAKPOINT_LINE);
    let found = dap.request(
        "evaluate",
        json!({"expression": "__import__('debugpy').__file__", "frameId": frame, "context": "repl"}),
    );
    let found = found["result"]
        .as_str()
        .unwrap()
        .trim_matches('\'')
        .to_string();
    assert!(
        found.starts_with(venv.canonicalize().unwrap().to_str().unwrap())
            || found.starts_with(venv.to_str().unwrap()),
        "debugpy from {found}, not from {}",
        venv.display()
    );
    dap.request("continue", json!({"threadId": thread}));
    let answer = lsp.answer(command, Duration::from_secs(60));
    assert_eq!(
        answer["result"]["payload"],
        json!({"greeting": "Hello, Ada"}),
        "{answer}"
    );
    let log = lsp.stderr.lock().unwrap().clone();
    assert!(!log.contains("installing debugpy"), "{log}");
    assert_eq!(
        cached_debugpy(home.path()),
        Vec::<std::path::PathBuf>::new()
    );
}

#[test]
fn invoke_debug_on_the_command_line_waits_for_a_debugger_and_prints_the_result() {
    let home = tempfile::tempdir().unwrap();
    let proj = project(&[("handler.py", HANDLER)]);
    let root = proj.path().canonicalize().unwrap();
    let file = root.join("handler.py");
    let target = format!("{}:handler", file.display());
    let deployed = run(
        home.path(),
        None,
        &["deploy", &target, "--profile", "local", "--json"],
    );
    assert!(deployed.status.success(), "{deployed:?}");
    let name = stdout_json(&deployed)["deploy"]["function_name"]
        .as_str()
        .unwrap()
        .to_string();

    let mut cli = std::process::Command::new(lambda_ls_bin())
        .args(["invoke", &name, "--profile", "local", "--json", "--debug"])
        .args(["--payload", r#"{"name": "Grace"}"#])
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", home.path())
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("LAMBDA_LS_LOCAL_DIR", home.path().join("local"))
        // Run from the project's folder: that is where the deployed code is found.
        .current_dir(&root)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // stderr: the sentence, then the attach configuration as one JSON line.
    let mut stderr = BufReader::new(cli.stderr.take().unwrap());
    let mut told = String::new();
    let attach: Value = loop {
        let mut line = String::new();
        assert!(
            stderr.read_line(&mut line).unwrap() > 0,
            "no attach configuration: {told}"
        );
        told.push_str(&line);
        if let Ok(v) = serde_json::from_str::<Value>(&line) {
            break v;
        }
    };
    assert!(told.contains("debugpy listens on 127.0.0.1:"), "{told}");
    assert!(told.contains(&format!("{} →", root.display())), "{told}");
    assert_eq!(attach["type"], "lambda-ls");
    let mappings = attach["pathMappings"].clone();
    assert_eq!(mappings[0]["localRoot"], json!(root), "{attach}");

    let connect = &attach["connect"];
    let mut dap = Dap::connect(
        connect["host"].as_str().unwrap(),
        connect["port"].as_u64().unwrap(),
    );
    dap.attach(&mappings, Some((&file, BREAKPOINT_LINE)));
    let (thread, _) = dap.stopped_at(&file, BREAKPOINT_LINE);
    dap.request("continue", json!({"threadId": thread}));

    let out = cli.wait_with_output().unwrap();
    assert!(out.status.success(), "{out:?}");
    let outcome: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        outcome["payload"],
        json!({"greeting": "Hello, Grace"}),
        "{outcome}"
    );
}
