//! In-process LSP tests: the real server behind `tower_lsp_server::Server` on an in-memory duplex,
//! driven by a small JSON-RPC client that answers the server's requests like an editor would.
//!
//! Fixtures are data: files separated by `//- path` lines, `$0` marks the cursor.

use std::collections::HashMap;
use std::net::TcpListener;
use std::path::PathBuf;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex, Once};
use std::time::Duration;

use lambda_deploy::profiles::ProfileEnv;
use serde_json::{json, Value};
use tokio::io::{
    AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader, DuplexStream, ReadHalf, WriteHalf,
};
use tokio::sync::{oneshot, Notify};

use lambda_ops::LocalHandle;

mod live;

/// Every wait in these tests is bounded by this.
const TIMEOUT: Duration = Duration::from_secs(90);

/// Tests that start the embedded local Lambda share its data directory: one at a time.
static LOCAL_LAMBDA: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// Points the local Lambda at a private data directory, once for the whole test binary
/// (environment variables are process-wide). The interpreter is pinned to `python3` unless the
/// caller chose one: a `python3.12` on PATH may be a version-manager shim for a version that is
/// not installed, and these tests are about the server, not the machine's PATH.
fn init() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let dir = tempfile::Builder::new()
            .prefix("lambda-ls-lsp-tests-")
            .tempdir()
            .expect("create a temp dir")
            .keep();
        std::env::set_var("LAMBDA_LS_LOCAL_DIR", dir);
        // Profiles without keys make the SDK's chain look further; never off this machine.
        std::env::set_var("AWS_EC2_METADATA_DISABLED", "true");
        if std::env::var_os("LAMBDA_LS_PYTHON").is_none() {
            std::env::set_var("LAMBDA_LS_PYTHON", "python3");
        }
    });
}

// ---------------------------------------------------------------------------------------------
// Fixtures

struct Fixture {
    dir: tempfile::TempDir,
    /// (file, LSP position) of `$0`.
    cursor: Option<(String, Value)>,
}

impl Fixture {
    fn new(text: &str) -> Fixture {
        let dir = tempfile::tempdir().expect("create a temp dir");
        let mut cursor = None;
        let mut files: Vec<(String, String)> = Vec::new();
        for line in text.trim_start_matches('\n').split_inclusive('\n') {
            if let Some(name) = line.strip_prefix("//- ") {
                files.push((name.trim().to_string(), String::new()));
            } else if let Some((_, body)) = files.last_mut() {
                body.push_str(line);
            } else {
                assert!(line.trim().is_empty(), "text before the first `//- file`");
            }
        }
        for (name, mut body) in files {
            if let Some(at) = body.find("$0") {
                let before = &body[..at];
                let line = before.matches('\n').count();
                let col = before
                    .rsplit('\n')
                    .next()
                    .unwrap_or("")
                    .encode_utf16()
                    .count();
                cursor = Some((name.clone(), json!({"line": line, "character": col})));
                body.replace_range(at..at + 2, "");
            }
            let path = dir.path().join(&name);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, body).unwrap();
        }
        Fixture { dir, cursor }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn uri(&self, name: &str) -> String {
        super::convert::file_uri(&self.path(name))
            .expect("temp paths are absolute")
            .to_string()
    }
}

// ---------------------------------------------------------------------------------------------
// A minimal LSP client

struct Client {
    writer: Arc<tokio::sync::Mutex<WriteHalf<DuplexStream>>>,
    next_id: AtomicI64,
    pending: Arc<Mutex<HashMap<i64, oneshot::Sender<Value>>>>,
    /// Every notification and request the server sent, in order.
    seen: Arc<Mutex<Vec<Value>>>,
    changed: Arc<Notify>,
    /// What `workspace/configuration` answers.
    settings: Arc<Mutex<Value>>,
    /// What `window/showMessageRequest` answers (the chosen action, or null); `lambdaLs/confirmDeploy`
    /// answers `{"deploy": true}` when its title is Deploy. [`HOLD`] leaves the question open.
    answer: Arc<Mutex<Value>>,
    /// Questions left open, to answer later with [`Client::answer_held`].
    held: Arc<Mutex<Vec<(Value, String)>>>,
    /// The server's answer to `initialize`.
    initialized: Value,
    server: tokio::task::JoinHandle<()>,
    local: LocalHandle,
}

/// An answer that leaves the question open.
fn hold() -> Value {
    json!("hold")
}

/// The answer to a question the server asked.
fn answer_to(method: &str, answer: &Value) -> Value {
    match method {
        "lambdaLs/confirmDeploy" => json!({"deploy": answer["title"] == "Deploy"}),
        _ => answer.clone(),
    }
}

async fn write_message(writer: &tokio::sync::Mutex<WriteHalf<DuplexStream>>, message: &Value) {
    let body = message.to_string();
    let mut w = writer.lock().await;
    w.write_all(format!("Content-Length: {}\r\n\r\n{body}", body.len()).as_bytes())
        .await
        .expect("write to the server");
    w.flush().await.expect("flush to the server");
}

async fn read_message(reader: &mut BufReader<ReadHalf<DuplexStream>>) -> Option<Value> {
    let mut length = None;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).await.ok()? == 0 {
            return None;
        }
        let line = line.trim_end();
        if line.is_empty() {
            break;
        }
        if let Some(n) = line.strip_prefix("Content-Length: ") {
            length = n.parse().ok();
        }
    }
    let mut body = vec![0; length?];
    reader.read_exact(&mut body).await.ok()?;
    serde_json::from_slice(&body).ok()
}

/// What a VS Code-like client announces, as far as lambda-ls cares.
fn capabilities() -> Value {
    json!({
        "window": {"workDoneProgress": true},
        "workspace": {
            "codeLens": {"refreshSupport": true},
            "inlayHint": {"refreshSupport": true},
            "configuration": true,
            "workspaceEdit": {"documentChanges": true, "resourceOperations": ["create", "rename", "delete"]}
        },
        "textDocument": {"synchronization": {"didSave": true}}
    })
}

impl Client {
    async fn start(fixture: &Fixture, env: ProfileEnv, options: Value) -> Client {
        Client::start_with_settings(fixture, env, options, json!({})).await
    }

    /// Starts with `settings` as the answer to `workspace/configuration`.
    async fn start_with_settings(
        fixture: &Fixture,
        env: ProfileEnv,
        options: Value,
        settings: Value,
    ) -> Client {
        Client::start_with_caps(fixture, env, options, settings, capabilities()).await
    }

    /// Starts a client announcing `caps`.
    async fn start_with_caps(
        fixture: &Fixture,
        env: ProfileEnv,
        options: Value,
        settings: Value,
        caps: Value,
    ) -> Client {
        init();
        let (client_io, server_io) = tokio::io::duplex(1 << 20);
        let (server_read, server_write) = tokio::io::split(server_io);
        let local = LocalHandle::default();
        let (service, socket) = super::server::service(env, local.clone(), None);
        let server = tokio::spawn(
            tower_lsp_server::Server::new(server_read, server_write, socket)
                .concurrency_level(super::CONCURRENCY)
                .serve(service),
        );
        let (read, write) = tokio::io::split(client_io);
        let mut client = Client {
            writer: Arc::new(tokio::sync::Mutex::new(write)),
            next_id: AtomicI64::new(1),
            pending: Arc::default(),
            seen: Arc::default(),
            changed: Arc::default(),
            settings: Arc::new(Mutex::new(settings)),
            answer: Arc::new(Mutex::new(Value::Null)),
            held: Arc::default(),
            initialized: Value::Null,
            server,
            local,
        };
        let (writer, pending, seen, changed, settings, answer, held) = (
            client.writer.clone(),
            client.pending.clone(),
            client.seen.clone(),
            client.changed.clone(),
            client.settings.clone(),
            client.answer.clone(),
            client.held.clone(),
        );
        tokio::spawn(async move {
            let mut reader = BufReader::new(read);
            while let Some(message) = read_message(&mut reader).await {
                let method = message.get("method").and_then(Value::as_str);
                let Some(method) = method else {
                    let id = message["id"].as_i64().unwrap_or(-1);
                    if let Some(tx) = pending.lock().unwrap().remove(&id) {
                        let _ = tx.send(message);
                    }
                    continue;
                };
                if let Some(id) = message.get("id") {
                    let result = match method {
                        "workspace/configuration" => json!([settings.lock().unwrap().clone()]),
                        "window/showMessageRequest" | "lambdaLs/confirmDeploy" => {
                            let answer = answer.lock().unwrap().clone();
                            if answer == hold() {
                                held.lock().unwrap().push((id.clone(), method.to_string()));
                                seen.lock().unwrap().push(message);
                                changed.notify_waiters();
                                continue;
                            }
                            answer_to(method, &answer)
                        }
                        _ => Value::Null,
                    };
                    write_message(
                        &writer,
                        &json!({"jsonrpc": "2.0", "id": id, "result": result}),
                    )
                    .await;
                }
                seen.lock().unwrap().push(message);
                changed.notify_waiters();
            }
        });
        let root = super::convert::file_uri(fixture.dir.path())
            .unwrap()
            .to_string();
        client.initialized = client
            .request(
                "initialize",
                json!({
                    "processId": null,
                    "rootUri": root,
                    "capabilities": caps,
                    "initializationOptions": options,
                }),
            )
            .await
            .expect("initialize succeeds");
        client.notify("initialized", json!({})).await;
        client
    }

    async fn request(&self, method: &str, params: Value) -> Result<Value, Value> {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let (tx, rx) = oneshot::channel();
        self.pending.lock().unwrap().insert(id, tx);
        write_message(
            &self.writer,
            &json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params}),
        )
        .await;
        let response = tokio::time::timeout(TIMEOUT, rx)
            .await
            .unwrap_or_else(|_| panic!("no answer to {method} within {TIMEOUT:?}"))
            .expect("the server answered");
        match response.get("error") {
            Some(e) => Err(e.clone()),
            None => Ok(response["result"].clone()),
        }
    }

    /// Answers every question left open with `answer`.
    async fn answer_held(&self, answer: Value) {
        let held: Vec<_> = self.held.lock().unwrap().drain(..).collect();
        for (id, method) in held {
            let result = answer_to(&method, &answer);
            write_message(
                &self.writer,
                &json!({"jsonrpc": "2.0", "id": id, "result": result}),
            )
            .await;
        }
    }

    async fn notify(&self, method: &str, params: Value) {
        write_message(
            &self.writer,
            &json!({"jsonrpc": "2.0", "method": method, "params": params}),
        )
        .await;
    }

    async fn command(&self, command: &str, argument: Value) -> Result<Value, Value> {
        let arguments = if argument.is_null() {
            json!([])
        } else {
            json!([argument])
        };
        self.request(
            "workspace/executeCommand",
            json!({"command": command, "arguments": arguments}),
        )
        .await
    }

    async fn open(&self, fixture: &Fixture, name: &str) -> String {
        self.open_as(fixture, name, "python").await
    }

    async fn open_as(&self, fixture: &Fixture, name: &str, language: &str) -> String {
        let uri = fixture.uri(name);
        let text = std::fs::read_to_string(fixture.path(name)).unwrap();
        self.notify(
            "textDocument/didOpen",
            json!({"textDocument": {"uri": uri, "languageId": language, "version": 1, "text": text}}),
        )
        .await;
        uri
    }

    /// `line: title` of every lens, in order.
    async fn lenses(&self, uri: &str) -> Vec<String> {
        let lenses = self
            .request(
                "textDocument/codeLens",
                json!({"textDocument": {"uri": uri}}),
            )
            .await
            .expect("code lenses");
        lenses
            .as_array()
            .unwrap()
            .iter()
            .map(|l| {
                format!(
                    "{}: {}",
                    l["range"]["start"]["line"],
                    l["command"]["title"].as_str().unwrap()
                )
            })
            .collect()
    }

    async fn actions(&self, uri: &str, position: &Value) -> Vec<Value> {
        let actions = self
            .request(
                "textDocument/codeAction",
                json!({
                    "textDocument": {"uri": uri},
                    "range": {"start": position, "end": position},
                    "context": {"diagnostics": []}
                }),
            )
            .await
            .expect("code actions");
        actions.as_array().unwrap().clone()
    }

    async fn hints(&self, uri: &str) -> Vec<Value> {
        let hints = self
            .request(
                "textDocument/inlayHint",
                json!({
                    "textDocument": {"uri": uri},
                    "range": {"start": {"line": 0, "character": 0}, "end": {"line": 999, "character": 0}}
                }),
            )
            .await
            .expect("inlay hints");
        hints.as_array().unwrap().clone()
    }

    /// Messages from the server with this method, in order.
    fn seen(&self, method: &str) -> Vec<Value> {
        self.seen
            .lock()
            .unwrap()
            .iter()
            .filter(|m| m["method"] == method)
            .cloned()
            .collect()
    }

    /// Waits until the server sent a message with this method whose params satisfy `pred`.
    async fn wait_for(&self, method: &str, pred: impl Fn(&Value) -> bool) -> Value {
        self.wait_after(method, 0, pred).await
    }

    /// Like `wait_for`, ignoring the first `skip` messages with this method.
    async fn wait_after(&self, method: &str, skip: usize, pred: impl Fn(&Value) -> bool) -> Value {
        let found = tokio::time::timeout(TIMEOUT, async {
            loop {
                let notified = self.changed.notified();
                tokio::pin!(notified);
                notified.as_mut().enable();
                if let Some(m) = self
                    .seen
                    .lock()
                    .unwrap()
                    .iter()
                    .filter(|m| m["method"] == method)
                    .skip(skip)
                    .find(|m| pred(&m["params"]))
                {
                    return m["params"].clone();
                }
                notified.await;
            }
        })
        .await;
        found.unwrap_or_else(|_| {
            panic!(
                "no {method} as expected within {TIMEOUT:?}; the server sent {:#?}",
                self.seen.lock().unwrap()
            )
        })
    }

    /// The latest diagnostics published for `uri`.
    fn diagnostics(&self, uri: &str) -> Option<Vec<Value>> {
        self.seen("textDocument/publishDiagnostics")
            .iter()
            .rev()
            .find(|m| m["params"]["uri"] == uri)
            .map(|m| m["params"]["diagnostics"].as_array().unwrap().clone())
    }

    /// Shuts the server down as an editor would and stops the local Lambda.
    async fn finish(self) {
        self.request("shutdown", Value::Null)
            .await
            .expect("shutdown");
        self.notify("exit", Value::Null).await;
        tokio::time::timeout(TIMEOUT, self.server)
            .await
            .expect("the server stops after exit")
            .expect("the server task ends cleanly");
        // Let aborted deploy tasks drop their handles before stopping the local Lambda.
        tokio::time::sleep(Duration::from_millis(50)).await;
        self.local.shutdown().await;
    }
}

fn no_aws() -> ProfileEnv {
    ProfileEnv::from_pairs([("HOME", "/nonexistent-lambda-ls-test-home")])
}

// ---------------------------------------------------------------------------------------------
// Lenses

const LENS_CASES: &[(&str, &[&str])] = &[
    (
        r#"
//- requirements.txt
//- app.py
def handler(event, context):
    return {}


def add(a, b=1):
    return a + b


def _helper(x):
    return x
"#,
        &[
            "0: Deploy",
            "0: Invoke",
            "0: Debug",
            "0: Logs",
            "0: Live",
            "4: Deploy as Lambda (callable)",
            "4: Debug",
        ],
    ),
    (
        r#"
//- app.py
import json

@decorator
async def on_event(event, ctx):
    return json.dumps(event)


class Service:
    def handler(self, event, context):
        pass


def _private_handler(event, context):
    pass
"#,
        &[
            "3: Deploy",
            "3: Invoke",
            "3: Debug",
            "3: Logs",
            "3: Live",
            "12: Deploy",
            "12: Invoke",
            "12: Debug",
            "12: Logs",
            "12: Live",
        ],
    ),
    (
        r#"
//- app.py
x = "no functions here"
"#,
        &[],
    ),
];

#[tokio::test]
async fn lenses_for_handlers_callables_and_private_functions() {
    for (text, expected) in LENS_CASES {
        let fixture = Fixture::new(text);
        let client = Client::start(&fixture, no_aws(), Value::Null).await;
        let uri = client.open(&fixture, "app.py").await;
        assert_eq!(client.lenses(&uri).await, *expected, "fixture:{text}");
        client.finish().await;
    }
}

#[tokio::test]
async fn lens_commands_carry_their_arguments() {
    let fixture = Fixture::new(LENS_CASES[0].0);
    let client = Client::start(&fixture, no_aws(), Value::Null).await;
    let uri = client.open(&fixture, "app.py").await;
    let lenses = client
        .request(
            "textDocument/codeLens",
            json!({"textDocument": {"uri": uri}}),
        )
        .await
        .unwrap();
    let commands: Vec<(Value, Value)> = lenses
        .as_array()
        .unwrap()
        .iter()
        .map(|l| {
            (
                l["command"]["command"].clone(),
                l["command"]["arguments"][0].clone(),
            )
        })
        .collect();
    assert_eq!(
        commands,
        vec![
            (
                json!("lambda.deploy"),
                json!({"uri": uri, "function": "handler"})
            ),
            (
                json!("lambda.invoke"),
                json!({"uri": uri, "function": "handler"})
            ),
            (
                json!("lambda.debug"),
                json!({"uri": uri, "function": "handler"})
            ),
            (
                json!("lambda.logs"),
                json!({"uri": uri, "function": "handler"})
            ),
            (
                json!("lambda.live"),
                json!({"uri": uri, "function": "handler"})
            ),
            (
                json!("lambda.deploy"),
                json!({"uri": uri, "function": "add", "callable": true})
            ),
            (
                json!("lambda.debug"),
                json!({"uri": uri, "function": "add", "callable": true})
            ),
        ]
    );
    client.finish().await;
}

#[tokio::test]
async fn lenses_follow_incremental_edits() {
    let fixture = Fixture::new(LENS_CASES[0].0);
    let client = Client::start(&fixture, no_aws(), Value::Null).await;
    let uri = client.open(&fixture, "app.py").await;
    let range = |l1: u32, c1: u32, l2: u32, c2: u32| json!({"start": {"line": l1, "character": c1}, "end": {"line": l2, "character": c2}});
    client
        .notify(
            "textDocument/didChange",
            json!({
                "textDocument": {"uri": uri, "version": 2},
                "contentChanges": [
                    // `add(a, b=1)` becomes a handler.
                    {"range": range(4, 8, 4, 14), "text": "event, context"},
                    // A comment with characters outside the BMP shifts everything down a line.
                    {"range": range(0, 0, 0, 0), "text": "# é😀 lambda\n"},
                    // Columns after characters outside the BMP count UTF-16 units.
                    {"range": range(0, 6, 0, 12), "text": "λ"},
                    // Rename the first handler.
                    {"range": range(1, 4, 1, 11), "text": "entry"},
                    // The private helper becomes a new handler.
                    {"range": range(9, 0, 10, 12), "text": "def tail(event, context):\n    return 2"},
                ]
            }),
        )
        .await;
    assert_eq!(
        client.lenses(&uri).await,
        vec![
            "1: Deploy",
            "1: Invoke",
            "1: Debug",
            "1: Logs",
            "1: Live",
            "5: Deploy",
            "5: Invoke",
            "5: Debug",
            "5: Logs",
            "5: Live",
            "9: Deploy",
            "9: Invoke",
            "9: Debug",
            "9: Logs",
            "9: Live",
        ]
    );
    let lenses = client
        .request(
            "textDocument/codeLens",
            json!({"textDocument": {"uri": uri}}),
        )
        .await
        .unwrap();
    assert_eq!(lenses[0]["command"]["arguments"][0]["function"], "entry");
    assert_eq!(lenses[10]["command"]["arguments"][0]["function"], "tail");
    // The server's text is the editor's: an invoke hint or lens would land on these lines.
    let text = client
        .request(
            "textDocument/codeAction",
            json!({
                "textDocument": {"uri": uri},
                "range": range(9, 4, 9, 4),
                "context": {"diagnostics": []}
            }),
        )
        .await
        .unwrap();
    assert_eq!(text[0]["title"], "Deploy handler as Lambda");
    client.finish().await;
}

// ---------------------------------------------------------------------------------------------
// Code actions

const ACTION_CASES: &[(&str, &[&str])] = &[
    (
        r#"
//- requirements.txt
//- app.py
def handler(event, context):
    return {"name": event.get("n$0ame")}
"#,
        &[
            "Deploy handler as Lambda",
            "Invoke Lambda",
            "Debug locally (breakpoints)",
            "Create sample event",
            "Turn live mode on (redeploy and invoke on save)",
        ],
    ),
    (
        r#"
//- requirements.txt
//- events/add.json
{"a": 1, "b": 2}
//- app.py
def handler(event, context):
    return {}


@cache
def a$0dd(a, b=1):
    return a + b
"#,
        &[
            "Deploy function as Lambda (wrap callable)",
            "Invoke Lambda",
            "Invoke with event…",
            "Debug locally (breakpoints)",
            "Turn live mode on (redeploy and invoke on save)",
        ],
    ),
    (
        r#"
//- app.py
def _helper(x):
    return $0x
"#,
        &[],
    ),
    (
        r#"
//- app.py
import os$0


def handler(event, context):
    return {}
"#,
        &[],
    ),
];

#[tokio::test]
async fn code_actions_at_the_cursor() {
    for (text, expected) in ACTION_CASES {
        let fixture = Fixture::new(text);
        let client = Client::start(&fixture, no_aws(), Value::Null).await;
        let (file, position) = fixture.cursor.clone().expect("a $0 cursor");
        let uri = client.open(&fixture, &file).await;
        let titles: Vec<String> = client
            .actions(&uri, &position)
            .await
            .iter()
            .map(|a| a["title"].as_str().unwrap().to_string())
            .collect();
        assert_eq!(titles, *expected, "fixture:{text}");
        client.finish().await;
    }
}

#[tokio::test]
async fn invoke_with_event_names_the_events_file() {
    let fixture = Fixture::new(ACTION_CASES[1].0);
    let client = Client::start(&fixture, no_aws(), Value::Null).await;
    let (_, position) = fixture.cursor.clone().unwrap();
    let uri = client.open(&fixture, "app.py").await;
    let actions = client.actions(&uri, &position).await;
    let with_event = &actions[2]["command"];
    assert_eq!(with_event["command"], "lambda.invoke");
    assert_eq!(
        with_event["arguments"][0],
        json!({"uri": uri, "function": "add", "eventFile": fixture.path("events/add.json")})
    );
    client.finish().await;
}

#[tokio::test]
async fn create_sample_event_is_a_workspace_edit() {
    let cases = [
        (
            "//- requirements.txt\n//- app.py\ndef handler(event, context):\n    $0name = (event or {}).get(\"name\", \"world\")\n    return event[\"id\"]\n",
            "handler",
            json!({"name": "world", "id": null}),
        ),
        (
            "//- app.py\nasync def add(a, b=1, *, scale):\n    $0return (a + b) * scale\n",
            "add",
            json!({"a": null, "scale": null}),
        ),
    ];
    for (text, function, expected) in cases {
        let fixture = Fixture::new(text);
        let client = Client::start(&fixture, no_aws(), Value::Null).await;
        let (_, position) = fixture.cursor.clone().unwrap();
        let uri = client.open(&fixture, "app.py").await;
        let actions = client.actions(&uri, &position).await;
        let create = actions
            .iter()
            .find(|a| a["title"] == "Create sample event")
            .expect("a Create sample event action");
        let changes = &create["edit"]["documentChanges"];
        let events_uri = fixture.uri(&format!("events/{function}.json"));
        assert_eq!(changes[0]["kind"], "create");
        assert_eq!(changes[0]["uri"], events_uri);
        assert_eq!(changes[0]["options"]["overwrite"], false);
        assert_eq!(changes[1]["textDocument"]["uri"], events_uri);
        let text = changes[1]["edits"][0]["newText"].as_str().unwrap();
        let event: Value = serde_json::from_str(text).expect("the sample is JSON");
        assert_eq!(event, expected, "fixture:{text}");
        client.finish().await;
    }
}

// ---------------------------------------------------------------------------------------------
// Profiles

/// The profile environment of a test: its own HOME, this config, a credentials file beside it.
fn profile_env(dir: &std::path::Path, config: &std::path::Path) -> ProfileEnv {
    ProfileEnv::from_pairs([
        ("HOME", dir.to_str().unwrap()),
        ("AWS_CONFIG_FILE", config.to_str().unwrap()),
        (
            "AWS_SHARED_CREDENTIALS_FILE",
            dir.join("credentials").to_str().unwrap(),
        ),
    ])
}

fn profile_files() -> (tempfile::TempDir, ProfileEnv) {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("config");
    std::fs::write(
        &config,
        "[default]\nregion = eu-west-1\n\n[profile dev]\nregion = us-west-2\naws_access_key_id = AKIDEXAMPLE\naws_secret_access_key = not-a-secret\n",
    )
    .unwrap();
    let env = profile_env(dir.path(), &config);
    (dir, env)
}

#[tokio::test]
async fn profiles_are_listed_selected_and_announced() {
    let (_files, env) = profile_files();
    let fixture = Fixture::new("//- app.py\n");
    let client = Client::start(&fixture, env.clone(), Value::Null).await;
    let first = client.wait_for("lambdaLs/profileChanged", |_| true).await;
    assert_eq!(
        (&first["profile"], &first["region"], &first["kind"]),
        (
            &json!("default"),
            &json!("eu-west-1"),
            &json!("settings-only")
        )
    );
    // `default` holds no keys: the editor is told before any deploy fails on it.
    let why = first["credentialsError"].as_str().unwrap_or_default();
    assert!(
        why.starts_with("no AWS credentials found for profile default; "),
        "{first}"
    );

    let listed = client
        .command("lambda.listProfiles", Value::Null)
        .await
        .unwrap();
    assert_eq!(listed["selected"], "default");
    let names: Vec<(&str, bool)> = listed["profiles"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            (
                p["name"].as_str().unwrap(),
                p["selected"].as_bool().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        names,
        vec![("default", true), ("dev", false), ("local", false)]
    );
    assert_eq!(listed["profiles"][1]["region"], "us-west-2");
    assert_eq!(listed["profiles"][1]["kind"], "static-keys");

    let chosen = client
        .command("lambda.selectProfile", json!({"profile": "dev"}))
        .await
        .unwrap();
    assert_eq!(
        chosen,
        json!({"profile": "dev", "region": "us-west-2", "kind": "static-keys"})
    );
    client
        .wait_for("lambdaLs/profileChanged", |p| p["profile"] == "dev")
        .await;

    let err = client
        .command("lambda.selectProfile", json!({"profile": "nope"}))
        .await
        .unwrap_err();
    assert_eq!(err["code"], -32602);
    let sentence = err["message"].as_str().unwrap();
    assert!(
        sentence.starts_with("unknown AWS profile `nope`"),
        "{sentence}"
    );
    client
        .wait_for("window/showMessage", |p| {
            p["type"] == 1 && p["message"] == sentence
        })
        .await;

    // Settings pushed with the notification…
    client
        .notify(
            "workspace/didChangeConfiguration",
            json!({"settings": {"lambdaLs": {"profile": "local"}}}),
        )
        .await;
    client
        .wait_for("lambdaLs/profileChanged", |p| p["profile"] == "local")
        .await;
    // …or pulled with workspace/configuration when the notification carries none.
    *client.settings.lock().unwrap() = json!({"profile": "dev"});
    let before = client.seen("lambdaLs/profileChanged").len();
    client
        .notify(
            "workspace/didChangeConfiguration",
            json!({"settings": null}),
        )
        .await;
    client
        .wait_for("workspace/configuration", |p| {
            p["items"][0]["section"] == "lambdaLs"
        })
        .await;
    let announced = client
        .wait_after("lambdaLs/profileChanged", before, |p| p["profile"] == "dev")
        .await;
    assert_eq!(announced["kind"], "static-keys");
    assert_eq!(client.seen("lambdaLs/profileChanged").len(), before + 1);
    client.finish().await;

    // Initialization options choose the profile from the start.
    let env_again = env.clone();
    let client = Client::start(&fixture, env, json!({"profile": "dev"})).await;
    let first = client.wait_for("lambdaLs/profileChanged", |_| true).await;
    assert_eq!(first["profile"], "dev");
    client.finish().await;

    // Settings pulled at start win over initialization options.
    let settings = json!({"profile": "local"});
    let client =
        Client::start_with_settings(&fixture, env_again, json!({"profile": "dev"}), settings).await;
    let first = client.wait_for("lambdaLs/profileChanged", |_| true).await;
    assert_eq!(first["profile"], "local");
    assert_eq!(client.seen("lambdaLs/profileChanged").len(), 1);
    client.finish().await;
}

#[tokio::test]
async fn bad_commands_are_errors_and_the_server_keeps_serving() {
    let fixture = Fixture::new(LENS_CASES[0].0);
    let client = Client::start(&fixture, no_aws(), Value::Null).await;
    let uri = client.open(&fixture, "app.py").await;
    let err = client
        .command("lambda.nope", Value::Null)
        .await
        .unwrap_err();
    assert!(err["message"]
        .as_str()
        .unwrap()
        .starts_with("unknown command `lambda.nope`"));
    let err = client
        .command("lambda.deploy", json!({"uri": uri}))
        .await
        .unwrap_err();
    assert_eq!(err["code"], -32602);
    assert!(err["message"]
        .as_str()
        .unwrap()
        .contains("missing field `function`"));
    let err = client
        .command("lambda.deploy", json!({"uri": uri, "function": "nested"}))
        .await
        .unwrap_err();
    assert!(
        err["message"]
            .as_str()
            .unwrap()
            .contains("no top-level function `nested`"),
        "{err}"
    );
    assert_eq!(client.lenses(&uri).await.len(), 7);
    client.finish().await;
}

#[tokio::test]
async fn a_panicking_handler_does_not_end_the_server() {
    let fixture = Fixture::new(LENS_CASES[0].0);
    let client = Client::start(&fixture, no_aws(), Value::Null).await;
    let uri = client.open(&fixture, "app.py").await;
    let err = client
        .request("lambdaLs/testPanic", Value::Null)
        .await
        .unwrap_err();
    assert_eq!(err["code"], -32603, "{err}");
    assert_eq!(client.lenses(&uri).await.len(), 7);
    client.finish().await;
}

/// A TCP server on loopback that accepts connections and never answers.
fn silent_endpoint() -> (std::thread::JoinHandle<()>, u16) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let handle = std::thread::spawn(move || {
        let mut held = Vec::new();
        listener.set_nonblocking(true).unwrap();
        let until = std::time::Instant::now() + TIMEOUT;
        while std::time::Instant::now() < until && held.len() < 16 {
            match listener.accept() {
                Ok((stream, _)) => held.push(stream),
                Err(_) => std::thread::sleep(Duration::from_millis(20)),
            }
        }
    });
    (handle, port)
}

#[tokio::test]
async fn a_deploy_runs_in_the_background_and_can_be_cancelled() {
    let (_endpoint, port) = silent_endpoint();
    let files = tempfile::tempdir().unwrap();
    let config = files.path().join("config");
    std::fs::write(
        &config,
        format!("[profile stuck]\nregion = us-east-1\naws_access_key_id = AKIDEXAMPLE\naws_secret_access_key = not-a-secret\nendpoint_url = http://127.0.0.1:{port}\n"),
    )
    .unwrap();
    let env = ProfileEnv::from_pairs([
        ("HOME", files.path().to_str().unwrap()),
        ("AWS_CONFIG_FILE", config.to_str().unwrap()),
    ]);
    let fixture = Fixture::new(LENS_CASES[0].0);
    let client = Client::start(&fixture, env, json!({"profile": "stuck"})).await;
    let uri = client.open(&fixture, "app.py").await;
    let deploy = client.command("lambda.deploy", json!({"uri": uri, "function": "handler"}));
    let cancel = async {
        let begin = client
            .wait_for("$/progress", |p| p["value"]["kind"] == "begin")
            .await;
        assert_eq!(begin["value"]["title"], "Deploying app-handler");
        assert_eq!(begin["value"]["cancellable"], true);
        // The deploy is stuck on the silent endpoint; other requests are still answered.
        assert_eq!(client.lenses(&uri).await.len(), 5);
        client
            .notify(
                "window/workDoneProgress/cancel",
                json!({"token": begin["token"]}),
            )
            .await;
        begin["token"].clone()
    };
    let (result, token) = tokio::join!(deploy, cancel);
    let err = result.expect_err("a cancelled deploy is an error");
    assert_eq!(err["code"], -32800, "{err}");
    assert!(
        err["message"].as_str().unwrap().contains("cancelled"),
        "{err}"
    );
    let end = client
        .wait_for("$/progress", |p| p["value"]["kind"] == "end")
        .await;
    assert_eq!(end["token"], token);
    let created = client.seen("window/workDoneProgress/create");
    assert_eq!(created.len(), 1);
    assert_eq!(created[0]["params"]["token"], token);
    // A cancel is the user's own doing: no error message for it.
    assert!(client.seen("window/showMessage").is_empty());
    client.finish().await;
}

// ---------------------------------------------------------------------------------------------
// Deploy and invoke on the embedded local Lambda

const PROJECT: &str = r#"
//- requirements.txt
//- app.py
from helpers import explode


def handler(event, context):
    name = event.get("name", "world")
    print(f"greeting {name}")
    return {"statusCode": 200, "body": f"Hello, {name}!"}


def fail(event, context):
    if event.get("boom"):
        return explode(event)
    return {"ok": True}


def add(a, b=1):
    return a + b
//- helpers.py
def explode(event):
    message = "cannot handle %r" % (event,)
    raise ValueError(message)
"#;

#[tokio::test]
async fn deploy_and_invoke_on_the_local_lambda() {
    let _one_at_a_time = LOCAL_LAMBDA.lock().await;
    let fixture = Fixture::new(PROJECT);
    let client = Client::start(&fixture, no_aws(), Value::Null).await;
    client
        .wait_for("lambdaLs/profileChanged", |p| p["profile"] == "local")
        .await;
    let uri = client.open(&fixture, "app.py").await;

    // Deploy with progress.
    let refreshes = client.seen("workspace/codeLens/refresh").len();
    let deployed = client
        .command("lambda.deploy", json!({"uri": uri, "function": "handler"}))
        .await
        .expect("deploy succeeds");
    assert_eq!(deployed["function_name"], "app-handler");
    assert_eq!(deployed["handler"], "app.handler");
    assert_eq!(deployed["target"]["local"], true);
    client
        .wait_for("$/progress", |p| p["value"]["kind"] == "end")
        .await;
    let progress = client.seen("$/progress");
    let token = &client.seen("window/workDoneProgress/create")[0]["params"]["token"];
    assert!(progress.iter().all(|p| &p["params"]["token"] == token));
    let kinds: Vec<&str> = progress
        .iter()
        .map(|p| p["params"]["value"]["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds.first(), Some(&"begin"));
    assert_eq!(kinds.last(), Some(&"end"));
    let messages: Vec<&str> = progress
        .iter()
        .filter_map(|p| p["params"]["value"]["message"].as_str())
        .collect();
    assert!(messages.contains(&"packaging"), "{messages:?}");
    assert!(
        messages.iter().any(|m| m.starts_with("packaged 2 files")),
        "{messages:?}"
    );
    assert!(
        messages.iter().any(|m| m.starts_with("uploading")),
        "{messages:?}"
    );
    client
        .wait_after("workspace/codeLens/refresh", refreshes, |_| true)
        .await;
    let lenses = client.lenses(&uri).await;
    assert!(
        lenses.contains(&"3: deployed to local · just now".to_string()),
        "{lenses:?}"
    );
    // The log says which interpreter the local Lambda runs it with.
    client
        .wait_for("window/logMessage", |p| {
            p["message"]
                .as_str()
                .unwrap()
                .starts_with("app-handler: runs locally on Python 3.")
        })
        .await;

    // Invoke: the result is an inlay hint at the end of the `def` line, and in the log.
    let invoked = client
        .command(
            "lambda.invoke",
            json!({"uri": uri, "function": "handler", "payload": {"name": "lsp"}}),
        )
        .await
        .expect("invoke succeeds");
    assert_eq!(invoked["payload"]["body"], "Hello, lsp!", "{invoked}");
    client
        .wait_for("workspace/inlayHint/refresh", |_| true)
        .await;
    let hints = client.hints(&uri).await;
    assert_eq!(hints.len(), 1, "{hints:?}");
    assert_eq!(hints[0]["position"], json!({"line": 3, "character": 28}));
    let label = hints[0]["label"].as_str().unwrap();
    assert!(label.starts_with("→ {\"body\":\"Hello, lsp!\""), "{label}");
    assert!(
        label.ends_with(" ms") && label.chars().count() <= 80,
        "{label}"
    );
    assert!(hints[0]["tooltip"]["value"]
        .as_str()
        .unwrap()
        .contains("\"statusCode\": 200"));
    client
        .wait_for("window/logMessage", |p| {
            p["message"].as_str().unwrap().contains("Hello, lsp!")
        })
        .await;
    // Logs are the function's real logs (the local Lambda's log store), by name or by function.
    let logs = client
        .command("lambda.logs", json!({"name": "app-handler"}))
        .await
        .unwrap();
    assert_eq!(logs["source"], "local-lambda", "{logs}");
    assert_eq!(logs["since"], "10m");
    assert!(
        logs["text"].as_str().unwrap().contains("greeting lsp"),
        "{logs}"
    );
    assert_eq!(logs["logTail"], logs["text"]);
    let events = logs["events"].as_array().unwrap();
    assert!(
        events
            .iter()
            .any(|e| e["message"].as_str().unwrap().contains("greeting lsp")
                && e["timestamp_ms"].as_i64().unwrap() > 0),
        "{logs}"
    );
    let by_function = client
        .command(
            "lambda.logs",
            json!({"uri": uri, "function": "handler", "since": "1h"}),
        )
        .await
        .unwrap();
    assert_eq!(by_function["name"], "app-handler");
    assert_eq!(by_function["since"], "1h");
    assert_eq!(by_function["events"], logs["events"]);
    client
        .wait_for("window/logMessage", |p| {
            let m = p["message"].as_str().unwrap();
            m.starts_with("--- logs of app-handler on local Lambda") && m.contains("greeting lsp")
        })
        .await;
    let err = client
        .command(
            "lambda.logs",
            json!({"name": "app-handler", "since": "lately"}),
        )
        .await
        .unwrap_err();
    assert_eq!(err["code"], -32602, "{err}");
    assert!(
        err["message"].as_str().unwrap().contains("`lately`"),
        "{err}"
    );
    // A function that never logged has no events, not an error.
    let quiet = client
        .command("lambda.logs", json!({"name": "never-deployed"}))
        .await
        .unwrap();
    assert_eq!(quiet["events"], json!([]), "{quiet}");
    assert_eq!(quiet["logTail"], Value::Null);

    // The lens's Invoke without a payload sends events/<function>.json when it exists.
    std::fs::create_dir_all(fixture.path("events")).unwrap();
    std::fs::write(fixture.path("events/handler.json"), r#"{"name": "file"}"#).unwrap();
    let invoked = client
        .command("lambda.invoke", json!({"uri": uri, "function": "handler"}))
        .await
        .unwrap();
    assert_eq!(invoked["payload"]["body"], "Hello, file!");

    // A raising handler: a diagnostic on the raising line of helpers.py, the deepest frame.
    client
        .command("lambda.deploy", json!({"uri": uri, "function": "fail"}))
        .await
        .unwrap();
    let failed = client
        .command(
            "lambda.invoke",
            json!({"uri": uri, "function": "fail", "payload": {"boom": true}}),
        )
        .await
        .expect("a function error is a result, not a request error");
    assert_eq!(failed["function_error"], "Unhandled");
    let helpers = fixture.uri("helpers.py");
    let diagnostic = client
        .wait_for("textDocument/publishDiagnostics", |p| p["uri"] == helpers)
        .await;
    let diagnostics = diagnostic["diagnostics"].as_array().unwrap();
    assert_eq!(diagnostics.len(), 1, "{diagnostic}");
    assert_eq!(
        diagnostics[0]["range"]["start"],
        json!({"line": 2, "character": 4})
    );
    assert_eq!(
        diagnostics[0]["message"],
        "ValueError: cannot handle {'boom': True}"
    );
    assert_eq!(diagnostics[0]["severity"], 1);
    let hint = client.hints(&uri).await;
    assert!(
        hint.iter().any(|h| h["label"]
            .as_str()
            .unwrap()
            .starts_with("→ ValueError: cannot handle")),
        "{hint:?}"
    );

    // An edit on that line clears it.
    let helpers_uri = client.open(&fixture, "helpers.py").await;
    assert_eq!(client.diagnostics(&helpers_uri).map(|d| d.len()), Some(1));
    client
        .notify(
            "textDocument/didChange",
            json!({
                "textDocument": {"uri": helpers_uri, "version": 2},
                "contentChanges": [{"range": {"start": {"line": 2, "character": 4}, "end": {"line": 2, "character": 9}}, "text": "raise"}]
            }),
        )
        .await;
    client
        .wait_for("textDocument/publishDiagnostics", |p| {
            p["uri"] == helpers && p["diagnostics"] == json!([]) && p["version"] == 2
        })
        .await;

    // It comes back with the next failure and goes with the next success.
    client
        .command(
            "lambda.invoke",
            json!({"uri": uri, "function": "fail", "payload": {"boom": true}}),
        )
        .await
        .unwrap();
    assert_eq!(client.diagnostics(&helpers_uri).map(|d| d.len()), Some(1));
    client
        .command(
            "lambda.invoke",
            json!({"uri": uri, "function": "fail", "payload": {}}),
        )
        .await
        .unwrap();
    assert_eq!(client.diagnostics(&helpers_uri), Some(vec![]));

    // A callable behind the generated wrapper.
    let deployed = client
        .command(
            "lambda.deploy",
            json!({"uri": uri, "function": "add", "callable": true, "name": "adder"}),
        )
        .await
        .unwrap();
    assert_eq!(deployed["handler"], "_lambda_ls_entry.handler");
    let sum = client
        .command(
            "lambda.invoke",
            json!({"uri": uri, "function": "add", "payload": {"a": 2, "b": 3}}),
        )
        .await
        .unwrap();
    assert_eq!(sum["function"], "adder", "the name it was deployed as");
    assert_eq!(sum["payload"], 5);
    let lenses = client.lenses(&uri).await;
    assert!(lenses.contains(&"15: Invoke".to_string()), "{lenses:?}");

    let listed = client
        .command("lambda.listFunctions", Value::Null)
        .await
        .unwrap();
    let names: Vec<&str> = listed
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["name"].as_str().unwrap())
        .collect();
    for name in ["adder", "app-fail", "app-handler"] {
        assert!(names.contains(&name), "{names:?}");
    }
    let deleted = client
        .command("lambda.delete", json!({"name": "adder"}))
        .await
        .unwrap();
    assert_eq!(deleted["deleted"], "adder");
    let err = client
        .command("lambda.invoke", json!({"name": "adder", "payload": {}}))
        .await
        .unwrap_err();
    assert!(
        err["message"]
            .as_str()
            .unwrap()
            .contains("lambda.listFunctions"),
        "{err}"
    );
    client.finish().await;
}

#[tokio::test]
async fn two_deploys_of_one_function_are_one_deploy() {
    let _one_at_a_time = LOCAL_LAMBDA.lock().await;
    let fixture = Fixture::new(PROJECT);
    let client = Client::start(&fixture, no_aws(), Value::Null).await;
    let uri = client.open(&fixture, "app.py").await;
    let args = json!({"uri": uri, "function": "handler", "name": "coalesced"});
    let (first, second) = tokio::join!(
        client.command("lambda.deploy", args.clone()),
        client.command("lambda.deploy", args.clone()),
    );
    let (first, second) = (first.unwrap(), second.unwrap());
    assert_eq!(first["function_name"], "coalesced");
    assert_eq!(first, second, "both requests get the one deploy's outcome");
    assert_eq!(client.seen("window/workDoneProgress/create").len(), 1);
    // Later, a new deploy runs again (and finds nothing to change).
    let again = client.command("lambda.deploy", args).await.unwrap();
    assert_eq!(again["action"], "unchanged");
    assert_eq!(client.seen("window/workDoneProgress/create").len(), 2);
    client.finish().await;
}

// ---------------------------------------------------------------------------------------------
// lambda.toml in the editor

const PROJECT_TOML: &str = r#"
//- lambda.toml
[defaults]
memroy = 256
timeout = 901
runtime = "python2.7"

[[function]]
target = "app.py:add"
memory = "big"
//- app.py
def handler(event, context):
    return {}


def add(a, b=1):
    return a + b
"#;

/// `line:character-line:character message` of each diagnostic.
fn positioned(diagnostics: &[Value]) -> Vec<String> {
    diagnostics
        .iter()
        .map(|d| {
            let r = &d["range"];
            format!(
                "{}:{}-{}:{} {}",
                r["start"]["line"],
                r["start"]["character"],
                r["end"]["line"],
                r["end"]["character"],
                d["message"].as_str().unwrap()
            )
        })
        .collect()
}

#[tokio::test]
async fn lambda_toml_problems_are_positioned_and_clear_when_fixed() {
    let fixture = Fixture::new(PROJECT_TOML);
    let client = Client::start(&fixture, no_aws(), Value::Null).await;
    let toml = client.open_as(&fixture, "lambda.toml", "toml").await;
    let published = client
        .wait_for("textDocument/publishDiagnostics", |p| p["uri"] == toml)
        .await;
    assert_eq!(published["version"], 1);
    let got = positioned(published["diagnostics"].as_array().unwrap());
    let expected = [
        "1:0-1:6 unknown key `memroy`; expected one of name, runtime",
        "2:10-2:13 timeout must be between 1 and 900 seconds, got 901",
        "3:10-3:21 unsupported runtime `python2.7`",
        "7:9-7:14 `memory` must be an integer, not string",
    ];
    assert_eq!(got.len(), expected.len(), "{got:#?}");
    for (g, e) in got.iter().zip(expected) {
        assert!(g.starts_with(e), "{g} should start with {e}");
    }
    assert!(published["diagnostics"]
        .as_array()
        .unwrap()
        .iter()
        .all(|d| d["severity"] == 1 && d["source"] == "lambda-ls"));

    // One incremental edit fixes a key; another replaces a value with characters outside the BMP
    // in front of it, so columns after it count UTF-16 units.
    let range = |l1: u32, c1: u32, l2: u32, c2: u32| json!({"start": {"line": l1, "character": c1}, "end": {"line": l2, "character": c2}});
    client
        .notify(
            "textDocument/didChange",
            json!({
                "textDocument": {"uri": toml, "version": 2},
                "contentChanges": [
                    {"range": range(1, 0, 1, 6), "text": "memory"},
                    {"range": range(2, 0, 2, 13), "text": "description = \"😀\"\ntimeout = 0"},
                ]
            }),
        )
        .await;
    let published = client
        .wait_for("textDocument/publishDiagnostics", |p| {
            p["uri"] == toml && p["version"] == 2
        })
        .await;
    let got = positioned(published["diagnostics"].as_array().unwrap());
    assert!(
        got[0].starts_with("3:10-3:11 timeout must be between 1 and 900"),
        "{got:#?}"
    );
    assert_eq!(got.len(), 3, "{got:#?}");

    // The whole text fixed: the diagnostics are cleared.
    client
        .notify(
            "textDocument/didChange",
            json!({
                "textDocument": {"uri": toml, "version": 3},
                "contentChanges": [{"text": "[defaults]\nmemory = 256\n"}]
            }),
        )
        .await;
    client
        .wait_for("textDocument/publishDiagnostics", |p| {
            p["uri"] == toml && p["version"] == 3 && p["diagnostics"] == json!([])
        })
        .await;

    // Another file named .toml is not the server's business.
    std::fs::write(fixture.path("other.toml"), "wat = 1\n").unwrap();
    let other = client.open_as(&fixture, "other.toml", "toml").await;
    assert!(client.lenses(&other).await.is_empty());
    assert!(client
        .seen("textDocument/publishDiagnostics")
        .iter()
        .all(|m| m["params"]["uri"] != other));
    client.finish().await;
}

#[tokio::test]
async fn lambda_toml_completes_and_documents_keys() {
    let fixture = Fixture::new(
        "//- lambda.toml\n[defaults]\nmemory = 256\nti\n\n[[function]]\ntarget = \"app.py:add\"\n\n//- app.py\ndef add(a):\n    return a\n",
    );
    let client = Client::start(&fixture, no_aws(), Value::Null).await;
    // Clients without dynamic registration get completion and hover statically.
    let caps = &client.initialized["capabilities"];
    assert!(caps["completionProvider"].is_object(), "{caps}");
    assert_eq!(caps["hoverProvider"], true);
    assert!(client.seen("client/registerCapability").is_empty());

    let toml = client.open_as(&fixture, "lambda.toml", "toml").await;
    let complete = |line: u32, character: u32| {
        client.request(
            "textDocument/completion",
            json!({"textDocument": {"uri": toml}, "position": {"line": line, "character": character}}),
        )
    };
    let items = complete(2, 2).await.unwrap();
    let labels: Vec<&str> = items
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["label"].as_str().unwrap())
        .collect();
    assert!(labels.contains(&"timeout"), "{labels:?}");
    assert!(!labels.contains(&"memory"), "already set: {labels:?}");
    assert!(!labels.contains(&"target"), "not in [defaults]: {labels:?}");
    let timeout = items
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["label"] == "timeout")
        .unwrap();
    assert_eq!(
        timeout["textEdit"],
        json!({"range": {"start": {"line": 2, "character": 0}, "end": {"line": 2, "character": 2}}, "newText": "timeout"})
    );
    assert_eq!(timeout["documentation"]["kind"], "markdown");
    assert!(timeout["documentation"]["value"]
        .as_str()
        .unwrap()
        .contains("1–900"));

    // In [[function]]: `target` too; at the top of the file: the tables.
    let in_function: Vec<String> = complete(6, 0)
        .await
        .unwrap()
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["label"].as_str().unwrap().to_string())
        .collect();
    assert!(
        !in_function.contains(&"target".to_string()),
        "already set: {in_function:?}"
    );
    assert!(in_function.contains(&"name".to_string()), "{in_function:?}");
    let tables = complete(0, 1).await.unwrap();
    assert_eq!(tables[0]["label"], "[defaults]");
    assert_eq!(tables[1]["label"], "[[function]]");
    // Python files get no completion from lambda-ls.
    let app = client.open(&fixture, "app.py").await;
    let none = client
        .request(
            "textDocument/completion",
            json!({"textDocument": {"uri": app}, "position": {"line": 0, "character": 0}}),
        )
        .await
        .unwrap();
    assert_eq!(none, Value::Null);

    let hover = client
        .request(
            "textDocument/hover",
            json!({"textDocument": {"uri": toml}, "position": {"line": 1, "character": 3}}),
        )
        .await
        .unwrap();
    assert_eq!(hover["contents"]["kind"], "markdown");
    assert!(hover["contents"]["value"]
        .as_str()
        .unwrap()
        .starts_with("**memory** — Memory in MB"));
    assert_eq!(
        hover["range"],
        json!({"start": {"line": 1, "character": 0}, "end": {"line": 1, "character": 6}})
    );
    let on_value = client
        .request(
            "textDocument/hover",
            json!({"textDocument": {"uri": toml}, "position": {"line": 1, "character": 10}}),
        )
        .await
        .unwrap();
    assert_eq!(on_value, Value::Null);
    client.finish().await;
}

#[tokio::test]
async fn clients_with_dynamic_registration_get_lambda_toml_registered() {
    let fixture = Fixture::new(PROJECT_TOML);
    let mut caps = capabilities();
    caps["textDocument"]["synchronization"]["dynamicRegistration"] = json!(true);
    caps["textDocument"]["completion"] = json!({"dynamicRegistration": true});
    caps["textDocument"]["hover"] = json!({"dynamicRegistration": true});
    let client = Client::start_with_caps(&fixture, no_aws(), Value::Null, json!({}), caps).await;
    let registered = client.wait_for("client/registerCapability", |_| true).await;
    let methods: Vec<&str> = registered["registrations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["method"].as_str().unwrap())
        .collect();
    assert_eq!(
        methods,
        [
            "textDocument/didOpen",
            "textDocument/didChange",
            "textDocument/didSave",
            "textDocument/didClose",
            "textDocument/completion",
            "textDocument/hover"
        ]
    );
    for r in registered["registrations"].as_array().unwrap() {
        assert_eq!(
            r["registerOptions"]["documentSelector"],
            json!([{"scheme": "file", "pattern": "**/lambda.toml"}]),
            "{r}"
        );
    }
    assert_eq!(
        registered["registrations"][1]["registerOptions"]["syncKind"],
        2
    );
    // Completion and hover are only registered dynamically, for lambda.toml alone.
    let caps = &client.initialized["capabilities"];
    assert!(caps.get("completionProvider").is_none(), "{caps}");
    assert!(caps.get("hoverProvider").is_none(), "{caps}");
    client.finish().await;
}

#[tokio::test]
async fn functions_configured_in_lambda_toml_are_handlers_for_lenses() {
    let fixture = Fixture::new(PROJECT_TOML);
    let client = Client::start(&fixture, no_aws(), Value::Null).await;
    let app = client.open(&fixture, "app.py").await;
    // From the saved file: `add` is configured (the file's other problems do not matter).
    let configured = [
        "0: Deploy",
        "0: Invoke",
        "0: Debug",
        "0: Logs",
        "0: Live",
        "4: Deploy",
        "4: Invoke",
        "4: Debug",
        "4: Logs",
        "4: Live",
    ];
    assert_eq!(client.lenses(&app).await, configured);
    let lenses = client
        .request(
            "textDocument/codeLens",
            json!({"textDocument": {"uri": app}}),
        )
        .await
        .unwrap();
    assert_eq!(
        lenses[5]["command"]["arguments"][0],
        json!({"uri": app, "function": "add"})
    );

    // The editor's unsaved text wins over the saved file, and lenses are asked for again.
    let toml = client.open_as(&fixture, "lambda.toml", "toml").await;
    client
        .wait_for("textDocument/publishDiagnostics", |p| p["uri"] == toml)
        .await;
    let refreshes = client.seen("workspace/codeLens/refresh").len();
    client
        .notify(
            "textDocument/didChange",
            json!({
                "textDocument": {"uri": toml, "version": 2},
                "contentChanges": [{"text": "[[function]]\ntarget = \"app.py:handler\"\n"}]
            }),
        )
        .await;
    client
        .wait_after("workspace/codeLens/refresh", refreshes, |_| true)
        .await;
    assert_eq!(
        client.lenses(&app).await,
        [
            "0: Deploy",
            "0: Invoke",
            "0: Debug",
            "0: Logs",
            "0: Live",
            "4: Deploy as Lambda (callable)",
            "4: Debug"
        ]
    );
    // An edit that leaves the targets alone asks for nothing.
    let refreshes = client.seen("workspace/codeLens/refresh").len();
    client
        .notify(
            "textDocument/didChange",
            json!({
                "textDocument": {"uri": toml, "version": 3},
                "contentChanges": [{"text": "[[function]]\ntarget = \"app.py:handler\"\nmemory = 256\n"}]
            }),
        )
        .await;
    client
        .wait_for("textDocument/publishDiagnostics", |p| p["version"] == 3)
        .await;
    assert_eq!(client.seen("workspace/codeLens/refresh").len(), refreshes);

    // Closed: the saved file applies again.
    client
        .notify(
            "textDocument/didClose",
            json!({"textDocument": {"uri": toml}}),
        )
        .await;
    client
        .wait_after("workspace/codeLens/refresh", refreshes, |_| true)
        .await;
    assert_eq!(client.lenses(&app).await, configured);
    client.finish().await;
}

#[tokio::test]
async fn configured_functions_deploy_invoke_and_log_under_their_configured_name() {
    let _one_at_a_time = LOCAL_LAMBDA.lock().await;
    let fixture = Fixture::new(
        "//- lambda.toml\n[[function]]\ntarget = \"app.py:add\"\nname = \"configured-adder\"\n//- app.py\ndef add(a, b=1):\n    print(f\"adding {a} and {b}\")\n    return a + b\n",
    );
    let client = Client::start(&fixture, no_aws(), Value::Null).await;
    let app = client.open(&fixture, "app.py").await;
    assert_eq!(
        client.lenses(&app).await,
        ["0: Deploy", "0: Invoke", "0: Debug", "0: Logs", "0: Live"]
    );
    let target = json!({"uri": app, "function": "add"});
    // Invoke before any deploy in this session names the configured function.
    let err = client
        .command("lambda.invoke", target.clone())
        .await
        .unwrap_err();
    assert!(
        err["message"]
            .as_str()
            .unwrap()
            .contains("configured-adder"),
        "{err}"
    );
    let deployed = client
        .command("lambda.deploy", target.clone())
        .await
        .unwrap();
    assert_eq!(deployed["function_name"], "configured-adder");
    assert_eq!(deployed["handler"], "_lambda_ls_entry.handler");
    let mut invoke = target.clone();
    invoke["payload"] = json!({"a": 2, "b": 3});
    let sum = client.command("lambda.invoke", invoke).await.unwrap();
    assert_eq!(sum["payload"], 5, "{sum}");
    let logs = client.command("lambda.logs", target).await.unwrap();
    assert_eq!(logs["name"], "configured-adder");
    assert!(
        logs["text"].as_str().unwrap().contains("adding 2 and 3"),
        "{logs}"
    );
    client.finish().await;
}

// ---------------------------------------------------------------------------------------------
// Asking before deploying to AWS

/// A loopback AWS stand-in: answers STS `GetCallerIdentity` for account 123456789012, refuses
/// everything else with `AccessDeniedException`, and records each request's first line (and,
/// for form posts, the `Action`).
struct FakeAws {
    port: u16,
    requests: Arc<Mutex<Vec<String>>>,
}

impl FakeAws {
    fn start() -> FakeAws {
        use std::io::{BufRead, Read, Write};
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let requests: Arc<Mutex<Vec<String>>> = Arc::default();
        let seen = requests.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(stream) = stream else { break };
                let seen = seen.clone();
                std::thread::spawn(move || {
                    stream.set_read_timeout(Some(Duration::from_secs(10))).ok();
                    let mut reader = std::io::BufReader::new(&stream);
                    loop {
                        let mut first = String::new();
                        if reader.read_line(&mut first).unwrap_or(0) == 0 {
                            return;
                        }
                        let mut length = 0;
                        loop {
                            let mut line = String::new();
                            if reader.read_line(&mut line).unwrap_or(0) == 0 {
                                return;
                            }
                            if line.trim().is_empty() {
                                break;
                            }
                            if let Some((k, v)) = line.split_once(':') {
                                if k.eq_ignore_ascii_case("content-length") {
                                    length = v.trim().parse().unwrap_or(0);
                                }
                            }
                        }
                        let mut body = vec![0; length];
                        if reader.read_exact(&mut body).is_err() {
                            return;
                        }
                        let body = String::from_utf8_lossy(&body).to_string();
                        let sts = body.contains("Action=GetCallerIdentity");
                        seen.lock().unwrap().push(format!(
                            "{} {}",
                            first.trim(),
                            if sts { "GetCallerIdentity" } else { "" }
                        ));
                        let (status, kind, text) = if sts {
                            ("200 OK", "text/xml", "<GetCallerIdentityResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\"><GetCallerIdentityResult><Arn>arn:aws:iam::123456789012:user/tester</Arn><UserId>AIDAEXAMPLE</UserId><Account>123456789012</Account></GetCallerIdentityResult><ResponseMetadata><RequestId>1</RequestId></ResponseMetadata></GetCallerIdentityResponse>".to_string())
                        } else if body.contains("Action=") {
                            ("403 Forbidden", "text/xml", "<ErrorResponse><Error><Type>Sender</Type><Code>AccessDenied</Code><Message>denied by the test</Message></Error><RequestId>1</RequestId></ErrorResponse>".to_string())
                        } else {
                            (
                                "403 Forbidden",
                                "application/json",
                                "{\"message\":\"denied by the test\"}".to_string(),
                            )
                        };
                        let reply = format!(
                            "HTTP/1.1 {status}\r\nContent-Type: {kind}\r\nx-amzn-ErrorType: AccessDeniedException\r\nx-amzn-RequestId: 1\r\nContent-Length: {}\r\n\r\n{text}",
                            text.len()
                        );
                        if (&stream).write_all(reply.as_bytes()).is_err() {
                            return;
                        }
                    }
                });
            }
        });
        FakeAws { port, requests }
    }

    fn requests(&self) -> Vec<String> {
        self.requests.lock().unwrap().clone()
    }
}

/// Profile files with `fake` (the stand-in) and `closed` (a loopback port nobody listens on).
fn fake_profiles(fake: &FakeAws) -> (tempfile::TempDir, ProfileEnv) {
    let closed = TcpListener::bind("127.0.0.1:0").unwrap();
    let closed_port = closed.local_addr().unwrap().port();
    drop(closed);
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("config");
    std::fs::write(
        &config,
        format!(
            "[profile fake]\nregion = eu-west-1\naws_access_key_id = AKIDEXAMPLE\naws_secret_access_key = not-a-secret\nendpoint_url = http://127.0.0.1:{}\n\n\
             [profile closed]\nregion = us-east-1\naws_access_key_id = AKIDEXAMPLE\naws_secret_access_key = not-a-secret\nendpoint_url = http://127.0.0.1:{closed_port}\n",
            fake.port
        ),
    )
    .unwrap();
    // No credentials file: the keys are in the config, and a missing file must not matter.
    let env = profile_env(dir.path(), &config);
    (dir, env)
}

#[tokio::test]
async fn deploying_to_aws_asks_once_per_profile_and_cancel_stops_it() {
    let fake = FakeAws::start();
    let (_files, env) = fake_profiles(&fake);
    let fixture = Fixture::new(LENS_CASES[0].0);
    let mut caps = capabilities();
    caps["window"]["showMessage"] =
        json!({"messageActionItem": {"additionalPropertiesSupport": false}});
    let client =
        Client::start_with_caps(&fixture, env, json!({"profile": "fake"}), json!({}), caps).await;
    let uri = client.open(&fixture, "app.py").await;
    let args = json!({"uri": uri, "function": "handler"});

    // Cancel: no deploy, no AWS call besides asking STS whose account it is.
    *client.answer.lock().unwrap() = json!({"title": "Cancel"});
    let err = client
        .command("lambda.deploy", args.clone())
        .await
        .unwrap_err();
    assert_eq!(err["code"], -32800, "{err}");
    let asked = client.seen("window/showMessageRequest");
    assert_eq!(asked.len(), 1);
    assert_eq!(
        asked[0]["params"]["message"],
        "Deploy to AWS account 123456789012 in eu-west-1 as profile fake?"
    );
    assert_eq!(asked[0]["params"]["type"], 2);
    assert_eq!(
        asked[0]["params"]["actions"],
        json!([{"title": "Deploy"}, {"title": "Cancel"}])
    );
    let requests = fake.requests();
    assert!(
        !requests.is_empty()
            && requests
                .iter()
                .all(|r| r.starts_with("POST / ") && r.ends_with("GetCallerIdentity")),
        "{requests:#?}"
    );
    // While the question was open, the progress said so.
    client
        .wait_for("$/progress", |p| {
            p["value"]["message"]
                == "waiting for your answer: Deploy to AWS account 123456789012 in eu-west-1 as profile fake?"
        })
        .await;
    assert!(
        client.seen("window/showMessage").is_empty(),
        "a cancel shows nothing"
    );

    // Closing the question (a null answer) is a cancel too.
    *client.answer.lock().unwrap() = Value::Null;
    let err = client
        .command("lambda.deploy", args.clone())
        .await
        .unwrap_err();
    assert_eq!(err["code"], -32800, "{err}");
    assert_eq!(client.seen("window/showMessageRequest").len(), 2);

    // Deploy: it goes ahead (and AWS refuses it here), then is not asked again for this profile.
    *client.answer.lock().unwrap() = json!({"title": "Deploy"});
    let err = client
        .command("lambda.deploy", args.clone())
        .await
        .unwrap_err();
    assert_eq!(err["code"], -32803, "{err}");
    assert!(
        fake.requests()
            .iter()
            .any(|r| !r.ends_with("GetCallerIdentity")),
        "{:#?}",
        fake.requests()
    );
    *client.answer.lock().unwrap() = json!({"title": "Cancel"});
    let err = client
        .command("lambda.deploy", args.clone())
        .await
        .unwrap_err();
    assert_eq!(err["code"], -32803, "{err}");
    assert_eq!(client.seen("window/showMessageRequest").len(), 3);

    // A profile whose account STS cannot name is not asked about: the deploy fails at once.
    client
        .command("lambda.selectProfile", json!({"profile": "closed"}))
        .await
        .unwrap();
    let err = client.command("lambda.deploy", args).await.unwrap_err();
    assert_eq!(err["code"], -32803, "{err}");
    let message = err["message"].as_str().unwrap();
    assert!(
        message.starts_with(
            "nothing was deployed: cannot tell which AWS account profile closed deploys to ("
        ),
        "{message}"
    );
    assert_eq!(client.seen("window/showMessageRequest").len(), 3);
    let shown = client.seen("window/showMessage");
    assert_eq!(
        shown
            .iter()
            .filter(|m| m["params"]["message"] == message)
            .count(),
        1,
        "{shown:#?}"
    );
    let logged = client.seen("window/logMessage");
    assert_eq!(
        logged
            .iter()
            .filter(|m| m["params"]["message"] == message)
            .count(),
        1,
        "each failure is logged once: {logged:#?}"
    );
    client.finish().await;
}

/// What a client that shows questions announces; `modal` adds `lambdaLs/confirmDeploy`.
fn asking_capabilities(modal: bool) -> Value {
    let mut caps = capabilities();
    caps["window"]["showMessage"] =
        json!({"messageActionItem": {"additionalPropertiesSupport": false}});
    if modal {
        caps["experimental"] = json!({"lambdaLs": {"confirmDeploy": true}});
    }
    caps
}

/// Requests other than STS's `GetCallerIdentity`: what a deploy would send.
fn deploy_requests(fake: &FakeAws) -> Vec<String> {
    fake.requests()
        .into_iter()
        .filter(|r| !r.ends_with("GetCallerIdentity"))
        .collect()
}

#[tokio::test]
async fn cancel_while_the_question_is_open_withdraws_it() {
    let fake = FakeAws::start();
    let (_files, env) = fake_profiles(&fake);
    let fixture = Fixture::new(LENS_CASES[0].0);
    let caps = asking_capabilities(false);
    let client =
        Client::start_with_caps(&fixture, env, json!({"profile": "fake"}), json!({}), caps).await;
    let uri = client.open(&fixture, "app.py").await;
    let args = json!({"uri": uri, "function": "handler"});
    *client.answer.lock().unwrap() = hold();
    let deploy = client.command("lambda.deploy", args.clone());
    let cancel = async {
        client.wait_for("window/showMessageRequest", |_| true).await;
        let waiting = client
            .wait_for("$/progress", |p| {
                p["value"]["message"]
                    .as_str()
                    .is_some_and(|m| m.starts_with("waiting for your answer"))
            })
            .await;
        client
            .notify(
                "window/workDoneProgress/cancel",
                json!({"token": waiting["token"]}),
            )
            .await;
    };
    let (result, ()) = tokio::join!(deploy, cancel);
    assert_eq!(result.unwrap_err()["code"], -32800);
    // The answer arrives after the Cancel: it deploys nothing.
    client.answer_held(json!({"title": "Deploy"})).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(deploy_requests(&fake), Vec::<String>::new());
    // Nor does it count as a yes: the next deploy asks again.
    *client.answer.lock().unwrap() = json!({"title": "Cancel"});
    let err = client.command("lambda.deploy", args).await.unwrap_err();
    assert_eq!(err["code"], -32800, "{err}");
    assert_eq!(client.seen("window/showMessageRequest").len(), 2);
    assert_eq!(deploy_requests(&fake), Vec::<String>::new());
    client.finish().await;
}

#[tokio::test]
async fn clients_that_announce_confirm_deploy_are_asked_with_it() {
    let fake = FakeAws::start();
    let (_files, env) = fake_profiles(&fake);
    let fixture = Fixture::new(LENS_CASES[0].0);
    let caps = asking_capabilities(true);
    let client =
        Client::start_with_caps(&fixture, env, json!({"profile": "fake"}), json!({}), caps).await;
    let uri = client.open(&fixture, "app.py").await;
    let args = json!({"uri": uri, "function": "handler"});
    *client.answer.lock().unwrap() = json!({"title": "Cancel"});
    let err = client
        .command("lambda.deploy", args.clone())
        .await
        .unwrap_err();
    assert_eq!(err["code"], -32800, "{err}");
    let asked = client.seen("lambdaLs/confirmDeploy");
    assert_eq!(asked.len(), 1);
    assert_eq!(
        asked[0]["params"],
        json!({
            "message": "Deploy to AWS account 123456789012 in eu-west-1 as profile fake?",
            "account": "123456789012",
            "region": "eu-west-1",
            "profile": "fake",
        })
    );
    assert!(client.seen("window/showMessageRequest").is_empty());
    assert_eq!(deploy_requests(&fake), Vec::<String>::new());
    // Deploy: it goes ahead (AWS refuses it here).
    *client.answer.lock().unwrap() = json!({"title": "Deploy"});
    let err = client.command("lambda.deploy", args).await.unwrap_err();
    assert_eq!(err["code"], -32803, "{err}");
    assert!(!deploy_requests(&fake).is_empty());
    client.finish().await;
}

#[tokio::test]
async fn an_unanswered_question_abandons_the_deploy_and_says_so() {
    let fake = FakeAws::start();
    let (_files, env) = fake_profiles(&fake);
    let fixture = Fixture::new(LENS_CASES[0].0);
    let caps = asking_capabilities(true);
    let options = json!({"profile": "fake", "questionTimeoutSeconds": 1});
    let client = Client::start_with_caps(&fixture, env, options, json!({}), caps).await;
    let uri = client.open(&fixture, "app.py").await;
    *client.answer.lock().unwrap() = hold();
    let err = client
        .command("lambda.deploy", json!({"uri": uri, "function": "handler"}))
        .await
        .unwrap_err();
    assert_eq!(err["code"], -32800, "{err}");
    let said = client.wait_for("window/showMessage", |_| true).await;
    assert_eq!(said["type"], 2);
    assert_eq!(
        said["message"],
        "nothing was deployed to profile fake: \"Deploy to AWS account 123456789012 in eu-west-1 as profile fake?\" had no answer within 1 s"
    );
    let end = client
        .wait_for("$/progress", |p| p["value"]["kind"] == "end")
        .await;
    assert_eq!(end["value"]["message"], said["message"]);
    client.answer_held(json!({"title": "Deploy"})).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(deploy_requests(&fake), Vec::<String>::new());
    client.finish().await;
}

#[tokio::test]
async fn clients_that_cannot_be_asked_deploy_without_asking_and_it_is_logged() {
    let fake = FakeAws::start();
    let (_files, env) = fake_profiles(&fake);
    let fixture = Fixture::new(LENS_CASES[0].0);
    // capabilities() has no window.showMessage.
    let client = Client::start(&fixture, env, json!({"profile": "fake"})).await;
    let uri = client.open(&fixture, "app.py").await;
    let err = client
        .command("lambda.deploy", json!({"uri": uri, "function": "handler"}))
        .await
        .unwrap_err();
    assert_eq!(err["code"], -32803, "{err}");
    assert!(client.seen("window/showMessageRequest").is_empty());
    client
        .wait_for("window/logMessage", |p| {
            p["message"]
                .as_str()
                .unwrap()
                .contains("deploying to AWS profile fake without asking first")
        })
        .await;
    let requests = fake.requests();
    assert!(
        requests.iter().all(|r| !r.ends_with("GetCallerIdentity")),
        "{requests:#?}"
    );
    client.finish().await;
}

// ---------------------------------------------------------------------------------------------
// State per target

/// Names of its own: the local Lambda's data directory is shared by the tests of this binary.
const TARGETS_PROJECT: &str = r#"
//- requirements.txt
//- targets.py
from targets_helpers import explode


def handler(event, context):
    return {"hello": event.get("name", "world")}


def fail(event, context):
    return explode(event)
//- targets_helpers.py
def explode(event):
    raise ValueError("no")
"#;

#[tokio::test]
async fn invoking_what_is_not_deployed_offers_deploy_and_invoke_and_state_is_per_target() {
    let _one_at_a_time = LOCAL_LAMBDA.lock().await;
    let fake = FakeAws::start();
    let (_files, env) = fake_profiles(&fake);
    let fixture = Fixture::new(TARGETS_PROJECT);
    let caps = asking_capabilities(true);
    let client =
        Client::start_with_caps(&fixture, env, json!({"profile": "local"}), json!({}), caps).await;
    client
        .wait_for("lambdaLs/profileChanged", |p| p["profile"] == "local")
        .await;
    let uri = client.open(&fixture, "targets.py").await;

    // Not deployed: a short sentence, offered as a question with Deploy and Invoke.
    *client.answer.lock().unwrap() = json!({"title": "Deploy and Invoke"});
    let err = client
        .command("lambda.invoke", json!({"uri": uri, "function": "handler"}))
        .await
        .unwrap_err();
    assert_eq!(err["code"], -32803, "{err}");
    assert_eq!(
        err["message"],
        "targets-handler is not deployed to the local Lambda."
    );
    let asked = client.wait_for("window/showMessageRequest", |_| true).await;
    assert_eq!(asked["message"], err["message"]);
    assert_eq!(asked["actions"], json!([{"title": "Deploy and Invoke"}]));
    assert!(
        client.seen("window/showMessage").is_empty(),
        "the question is the message"
    );
    client
        .wait_for("window/logMessage", |p| {
            p["message"]
                .as_str()
                .unwrap()
                .starts_with("targets-handler → ")
        })
        .await;
    let lenses = client.lenses(&uri).await;
    assert!(
        lenses.contains(&"3: deployed to local · just now".to_string()),
        "{lenses:?}"
    );
    assert_eq!(client.hints(&uri).await.len(), 1);

    // A failure marks the raising line.
    client
        .command("lambda.deploy", json!({"uri": uri, "function": "fail"}))
        .await
        .unwrap();
    client
        .command("lambda.invoke", json!({"uri": uri, "function": "fail"}))
        .await
        .unwrap();
    let helpers = client.open(&fixture, "targets_helpers.py").await;
    assert_eq!(client.diagnostics(&helpers).map(|d| d.len()), Some(1));

    // Another profile: none of local's state shows.
    client
        .command("lambda.selectProfile", json!({"profile": "fake"}))
        .await
        .unwrap();
    let lenses = client.lenses(&uri).await;
    assert!(
        !lenses.iter().any(|l| l.contains("deployed to")),
        "{lenses:?}"
    );
    assert_eq!(client.hints(&uri).await, Vec::<Value>::new());
    assert_eq!(client.diagnostics(&helpers), Some(vec![]));

    // Back on local: all of it again.
    client
        .command("lambda.selectProfile", json!({"profile": "local"}))
        .await
        .unwrap();
    let lenses = client.lenses(&uri).await;
    assert!(
        lenses.contains(&"3: deployed to local · just now".to_string()),
        "{lenses:?}"
    );
    assert_eq!(client.hints(&uri).await.len(), 2);
    assert_eq!(client.diagnostics(&helpers).map(|d| d.len()), Some(1));
    client.finish().await;
}

/// A client that can be asked to open documents (`window.showDocument`), on the local profile,
/// with the fixture's `app.py` open.
async fn client_opening_documents(fixture: &Fixture) -> (Client, String) {
    let mut caps = capabilities();
    caps["window"]["showDocument"] = json!({"support": true});
    let client = Client::start_with_caps(fixture, no_aws(), Value::Null, json!({}), caps).await;
    client
        .wait_for("lambdaLs/profileChanged", |p| p["profile"] == "local")
        .await;
    let uri = client.open(fixture, "app.py").await;
    (client, uri)
}

#[tokio::test]
async fn create_sample_event_opens_the_file_where_the_client_can() {
    let fixture = Fixture::new(LENS_CASES[0].0);
    let (client, uri) = client_opening_documents(&fixture).await;
    let actions = client
        .actions(&uri, &json!({"line": 1, "character": 4}))
        .await;
    let create = actions
        .iter()
        .find(|a| a["title"] == "Create sample event")
        .expect("a Create sample event action");
    let command = &create["command"];
    assert_eq!(command["command"], "lambda.openFile");
    let events = fixture.path("events/handler.json");
    assert_eq!(command["arguments"], json!([{"path": events}]));
    client
        .command("lambda.openFile", command["arguments"][0].clone())
        .await
        .unwrap();
    let shown = client.seen("window/showDocument");
    assert_eq!(shown.len(), 1);
    assert_eq!(
        shown[0]["params"]["uri"],
        fixture.uri("events/handler.json")
    );
    assert_eq!(shown[0]["params"]["takeFocus"], true);
    client.finish().await;
}

#[tokio::test]
async fn a_deployed_function_with_a_url_offers_open_url() {
    use lambda_deploy::aws::{Connection, Endpoint};
    use lambda_deploy::maintain::{share_url, UrlAuth};
    let _one_at_a_time = LOCAL_LAMBDA.lock().await;
    let fixture = Fixture::new(PROJECT);
    let (client, uri) = client_opening_documents(&fixture).await;
    // Its own name: other tests deploy app.py's handler to the same local Lambda.
    let target = json!({"uri": uri, "function": "handler", "name": "url-handler"});
    let first = client
        .command("lambda.deploy", target.clone())
        .await
        .unwrap();
    assert!(first.get("url").is_none(), "{first}");
    let lenses = client.lenses(&uri).await;
    assert!(
        !lenses.iter().any(|l| l.ends_with("Open URL")),
        "{lenses:?}"
    );

    // Give it a URL on the local Lambda the server runs, as `lambda-ls share --url` does.
    let dir = std::env::var("LAMBDA_LS_LOCAL_DIR").unwrap();
    let endpoint = std::fs::read_to_string(PathBuf::from(dir).join("endpoint")).unwrap();
    let conn = Connection::connect(&Endpoint::Local {
        url: endpoint.trim().to_string(),
    })
    .await
    .unwrap();
    let url = share_url(&conn, "url-handler", UrlAuth::Public)
        .await
        .unwrap();
    let again = client.command("lambda.deploy", target).await.unwrap();
    assert_eq!(again["url"], url);
    let lenses = client.lenses(&uri).await;
    assert!(
        lenses.iter().any(|l| l.ends_with(": Open URL")),
        "{lenses:?}"
    );
    let actions = client
        .actions(&uri, &json!({"line": 3, "character": 4}))
        .await;
    let open = actions
        .iter()
        .find(|a| a["title"] == "Open URL")
        .expect("an Open URL action");
    let opened = client
        .command("lambda.openUrl", open["command"]["arguments"][0].clone())
        .await
        .unwrap();
    assert_eq!(opened, json!(url));
    let shown = client.seen("window/showDocument");
    let last = &shown.last().expect("a showDocument request")["params"];
    assert_eq!(
        (&last["uri"], &last["external"]),
        (&json!(url), &json!(true))
    );
    client.finish().await;
}

// ---------------------------------------------------------------------------------------------
// The sample events catalog and pulling a deployed function, for the editor's pickers

#[tokio::test]
async fn list_events_puts_the_annotated_trigger_first_and_create_event_writes_and_opens_it() {
    let fixture = Fixture::new(
        "//- app.py\nfrom aws_lambda_powertools.utilities.data_classes import SQSEvent\n\n\ndef handler(event: SQSEvent, context):\n    return len(event[\"Records\"])\n",
    );
    let (client, uri) = client_opening_documents(&fixture).await;
    let target = json!({"uri": uri, "function": "handler"});

    let listed = client
        .command("lambda.listEvents", target.clone())
        .await
        .unwrap();
    let triggers = listed["triggers"].as_array().unwrap();
    assert_eq!(triggers.len(), lambda_deploy::events::CATALOG.len());
    assert_eq!(triggers[0]["name"], "sqs");
    assert_eq!(triggers[0]["annotated"], true);
    assert!(triggers[1..].iter().all(|t| t["annotated"] == false));
    // Without a function: the catalog in its own order, nothing marked.
    let plain = client
        .command("lambda.listEvents", json!({}))
        .await
        .unwrap();
    let names: Vec<&str> = plain["triggers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    let catalog: Vec<&str> = lambda_deploy::events::CATALOG
        .iter()
        .map(|t| t.name)
        .collect();
    assert_eq!(names, catalog);

    // The template becomes events/handler.json, then a variant: a saved event is never replaced.
    let mut create = target.clone();
    create["trigger"] = json!("sqs");
    let created = client
        .command("lambda.createEvent", create.clone())
        .await
        .unwrap();
    let first = fixture.path("events/handler.json");
    assert_eq!(created["path"], json!(first));
    let event: Value = serde_json::from_str(&std::fs::read_to_string(&first).unwrap()).unwrap();
    assert_eq!(event["Records"][0]["eventSource"], "aws:sqs");
    let shown = client.seen("window/showDocument");
    assert_eq!(
        shown[0]["params"]["uri"],
        fixture.uri("events/handler.json")
    );
    std::fs::write(&first, "{\"mine\": true}\n").unwrap();
    let again = client
        .command("lambda.createEvent", create.clone())
        .await
        .unwrap();
    assert_eq!(
        again["path"],
        json!(fixture.path("events/handler-sqs.json"))
    );
    assert_eq!(
        std::fs::read_to_string(&first).unwrap(),
        "{\"mine\": true}\n"
    );
    let third = client
        .command("lambda.createEvent", create)
        .await
        .unwrap_err();
    assert!(
        third["message"].as_str().unwrap().contains("exist already"),
        "{third}"
    );
    let mut unknown = target;
    unknown["trigger"] = json!("carrier-pigeon");
    let err = client
        .command("lambda.createEvent", unknown)
        .await
        .unwrap_err();
    assert!(
        err["message"]
            .as_str()
            .unwrap()
            .starts_with("there is no sample event for `carrier-pigeon`"),
        "{err}"
    );
    client.finish().await;
}

#[tokio::test]
async fn pull_brings_a_deployed_function_into_a_folder_and_opens_its_handler() {
    let _one_at_a_time = LOCAL_LAMBDA.lock().await;
    let fixture = Fixture::new(PROJECT);
    let (client, uri) = client_opening_documents(&fixture).await;
    client
        .command("lambda.deploy", json!({"uri": uri, "function": "handler"}))
        .await
        .expect("deploy succeeds");
    let listed = client
        .command("lambda.listFunctions", Value::Null)
        .await
        .unwrap();
    assert!(listed.to_string().contains("app-handler"), "{listed}");

    let dir = fixture.path("pulled/app-handler");
    let pulled = client
        .command("lambda.pull", json!({"name": "app-handler", "dir": dir}))
        .await
        .expect("pull succeeds");
    assert_eq!(pulled["function"], "app-handler");
    assert_eq!(pulled["target"], "app.py:handler");
    assert_eq!(pulled["from"]["local"], true);
    assert_eq!(pulled["file"], json!(dir.join("app.py")));
    let source = std::fs::read_to_string(dir.join("app.py")).unwrap();
    assert_eq!(
        source,
        std::fs::read_to_string(fixture.path("app.py")).unwrap()
    );
    assert!(dir.join("lambda.toml").exists());
    let shown = client.seen("window/showDocument");
    assert_eq!(
        shown.last().unwrap()["params"]["uri"],
        fixture.uri("pulled/app-handler/app.py")
    );
    // The folder is no longer empty: a second pull writes nothing and says why.
    let err = client
        .command("lambda.pull", json!({"name": "app-handler", "dir": dir}))
        .await
        .unwrap_err();
    assert!(
        err["message"].as_str().unwrap().contains("is not empty"),
        "{err}"
    );
    client.finish().await;
}
