//! Bad input, table-driven: every row is one command with broken files or arguments, and the
//! tool must answer with its exit code and one clear sentence, never a panic or a hang.
//! Malformed LSP requests get an error answer and the server keeps serving.

use std::time::{Duration, Instant};

use lambda_ls_tests::{run, stderr, Lsp};

/// One row: files to write, the command (`{p}` is the project folder), exit code, expected text.
struct Case {
    config: &'static [u8],
    credentials: &'static [u8],
    files: &'static [(&'static str, &'static str)],
    args: &'static [&'static str],
    code: i32,
    expect: &'static str,
}

const OK_CONFIG: &[u8] = b"[profile dev]\nregion = eu-west-1\n";
const HANDLER: &[(&str, &str)] = &[
    ("requirements.txt", ""),
    ("app.py", "class C:\n    def method(self, event, context):\n        pass\n\ndef outer():\n    def inner(event, context):\n        pass\n    return inner\n\ndef handler(event, context):\n    return 1\n"),
];
const DEPLOY: &[&str] = &["deploy", "{p}/app.py:handler", "--profile", "local"];

macro_rules! deploy_with {
    ($($extra:expr),*) => { &["deploy", "{p}/app.py:handler", "--profile", "local", $($extra),*] };
}

fn case(
    config: &'static [u8],
    args: &'static [&'static str],
    code: i32,
    expect: &'static str,
) -> Case {
    Case {
        config,
        credentials: b"",
        files: HANDLER,
        args,
        code,
        expect,
    }
}

fn toml_case(toml: &'static str, expect: &'static str) -> Case {
    let files: &'static [(&'static str, &'static str)] =
        Box::leak(Box::new([("lambda.toml", toml), HANDLER[0], HANDLER[1]]));
    Case {
        config: OK_CONFIG,
        credentials: b"",
        files,
        args: DEPLOY,
        code: 2,
        expect,
    }
}

fn cases() -> Vec<Case> {
    let huge: &'static [u8] = Box::leak(
        format!("[default]\n{}", "# padding\n".repeat(500_000))
            .into_bytes()
            .into_boxed_slice(),
    );
    vec![
        // Profile files.
        case(b"[default]\nregion = x\n[profile broken\n", &["profiles"], 2, "config line 3: "),
        case(b"region = us-east-1\n[default]\n", &["profiles"], 2, "config line 1: "),
        case(b"[default]\nregion = \xff\xfe\n", &["profiles"], 2, "is not a text file (invalid UTF-8 at byte 19)"),
        case(b"\x00\x01\x02\x03binary", &["profiles"], 2, "is not a text file"),
        case(huge, &["profiles"], 2, "larger than any real AWS profile file"),
        case(b"\xef\xbb\xbf[default]\nregion = us-east-1\n", &["profiles"], 2, "config line 1: "),
        case(b"[default]\r\nregion = us-east-1\r\n", &["profiles", "--json"], 0, "\"region\": \"us-east-1\""),
        case(b"[profile d]\nregion = us-east-1\nregion = eu-west-1\n", &["profiles", "--json"], 0, "\"region\": \"eu-west-1\""),
        case(b"[profile d]\nregion = us-east-1\n[profile d]\nregion = ap-south-1\n", &["profiles", "--json"], 0, "\"region\": \"ap-south-1\""),
        case(b"[profile a]\nrole_arn = arn:aws:iam::123456789012:role/a\nsource_profile = b\n[profile b]\nrole_arn = arn:aws:iam::123456789012:role/b\nsource_profile = a\n", &["list", "--profile", "a"], 2, "profile `a` has a source_profile cycle: a -> b -> a"),
        case(b"[profile a]\nrole_arn = arn:aws:iam::123456789012:role/a\nsource_profile = gone\n", &["list", "--profile", "a"], 2, "profile `a` has source_profile `gone`, which is not defined"),
        case(OK_CONFIG, &["list", "--profile", "nope"], 2, "unknown AWS profile `nope`; known profiles: dev, local"),
        case(b"[profile noregion]\naws_access_key_id = a\naws_secret_access_key = b\n", &["list", "--profile", "noregion"], 2, "profile noregion has no region"),
        Case { config: OK_CONFIG, credentials: b"[dev]\nno equals sign here\n", files: HANDLER, args: &["profiles"], code: 2, expect: "credentials line" },
        // Payloads.
        case(OK_CONFIG, &["invoke", "f", "--profile", "local", "--payload", "{\"a\": "], 2, "the payload is not valid JSON"),
        case(OK_CONFIG, &["invoke", "f", "--profile", "local", "--payload", "[1, 2"], 2, "the payload is not valid JSON"),
        case(OK_CONFIG, &["invoke", "f", "--profile", "local", "--payload-file", "{p}/big.json"], 2, "over Lambda's 6291456-byte limit"),
        case(OK_CONFIG, &["invoke", "f", "--profile", "local", "--payload-file", "{p}/latin1.json"], 2, "the payload is not UTF-8 text"),
        case(OK_CONFIG, &["invoke", "f", "--profile", "local", "--payload-file", "{p}/missing.json"], 2, "cannot read"),
        case(OK_CONFIG, &["invoke", "f", "--profile", "local", "--args", "{}"], 2, "--args must be a JSON array"),
        case(OK_CONFIG, &["invoke", "f", "--profile", "local", "--kwargs", "[]"], 2, "--kwargs a JSON object"),
        case(OK_CONFIG, &["invoke", "f", "--profile", "local", "--args", "[1,"], 2, "the payload is not valid JSON"),
        case(OK_CONFIG, deploy_with!("--invoke", "nope"), 2, "the payload is not valid JSON"),
        // Targets and handlers.
        case(OK_CONFIG, &["deploy", "{p}/app.py:missing", "--profile", "local"], 2, "no top-level function `missing`"),
        case(OK_CONFIG, &["deploy", "{p}/app.py:method", "--profile", "local"], 2, "`method` is defined inside class C"),
        case(OK_CONFIG, &["deploy", "{p}/app.py:inner", "--profile", "local"], 2, "`inner` is defined inside def outer"),
        case(OK_CONFIG, &["deploy", "{p}/broken.py:handler", "--profile", "local"], 2, "has a syntax error at line 2"),
        case(OK_CONFIG, &["deploy", "{p}/requirements.txt:handler", "--profile", "local"], 2, "is not a Python file (.py)"),
        case(OK_CONFIG, &["deploy", "{p}/nothere.py:handler", "--profile", "local"], 2, "cannot read"),
        case(OK_CONFIG, &["deploy", "{p}/app.py", "--profile", "local"], 2, "is not FILE.py:FUNCTION"),
        case(OK_CONFIG, &["deploy", "{p}/app.py:bad-name", "--profile", "local"], 2, "is not FILE.py:FUNCTION"),
        case(OK_CONFIG, &["package", "{p}/app.py:handler", "--out", "{p}/no/such/dir/x.zip"], 2, "cannot write"),
        // Names and limits.
        case(OK_CONFIG, deploy_with!("--name", "has space"), 2, "function name `has space` is invalid"),
        case(OK_CONFIG, deploy_with!("--name", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"), 2, "is invalid: use 1 to 64"),
        case(OK_CONFIG, deploy_with!("--timeout", "0"), 2, "timeout must be between 1 and 900 seconds, got 0"),
        case(OK_CONFIG, deploy_with!("--timeout", "901"), 2, "timeout must be between 1 and 900 seconds, got 901"),
        case(OK_CONFIG, deploy_with!("--memory", "127"), 2, "memory must be between 128 and 10240 MB, got 127"),
        case(OK_CONFIG, deploy_with!("--memory", "10241"), 2, "memory must be between 128 and 10240 MB, got 10241"),
        case(OK_CONFIG, deploy_with!("--ephemeral-storage", "511"), 2, "ephemeral storage must be between 512 and 10240 MB, got 511"),
        case(OK_CONFIG, deploy_with!("--ephemeral-storage", "10241"), 2, "ephemeral storage must be between 512 and 10240 MB, got 10241"),
        case(OK_CONFIG, deploy_with!("--runtime", "python2.7"), 2, "unsupported runtime `python2.7`"),
        case(OK_CONFIG, deploy_with!("--runtime", "nodejs20.x"), 2, "unsupported runtime `nodejs20.x`"),
        case(OK_CONFIG, deploy_with!("--architecture", "sparc"), 2, "unsupported architecture `sparc`"),
        case(OK_CONFIG, deploy_with!("--env", "NOEQUALS"), 2, "`NOEQUALS` is not KEY=VALUE"),
        case(OK_CONFIG, deploy_with!("--env", "AWS_REGION=x"), 2, "`AWS_REGION` is reserved by Lambda"),
        case(OK_CONFIG, deploy_with!("--env", "1BAD=x"), 2, "environment variable name `1BAD` is invalid"),
        case(OK_CONFIG, deploy_with!("--role", "admin"), 2, "role `admin` is not an IAM role ARN"),
        case(OK_CONFIG, deploy_with!("--log-retention-days", "2"), 2, "log retention of 2 days is not allowed"),
        case(OK_CONFIG, deploy_with!("--include", "{p}/blob.bin"), 2, "over Lambda's 250 MB limit for a function and its layers; the largest parts are blob.bin (251.0 MB)"),
        case(OK_CONFIG, deploy_with!("--include", "/etc/hostname"), 2, "is outside the package root"),
        case(OK_CONFIG, deploy_with!("--include", "{p}/nothing-here"), 2, "does not exist"),
        // lambda.toml.
        toml_case("[defaults]\nmemory = \"big\"\n", "lambda.toml:2:10: `memory` must be an integer, not string"),
        toml_case("[defaults]\nmemroy = 256\n", "lambda.toml:2:1: unknown key `memroy`"),
        toml_case("[defaults]\ntimeout = 0\n", "lambda.toml:2:11: timeout must be between 1 and 900 seconds, got 0"),
        toml_case("[defaults]\nruntime = \"python2.7\"\n", "lambda.toml:2:11: unsupported runtime `python2.7`"),
        toml_case("[[function]]\nname = \"x\"\n", "lambda.toml:1:1: [[function]] needs `target"),
        toml_case("[defaults\n", "lambda.toml:1:10: "),
        toml_case("[defaults]\nenv = { A = 1 }\n", "lambda.toml:2:13: `A` must be a string"),
        toml_case("unknown = true\n", "lambda.toml:1:1: unknown key `unknown`; expected one of defaults, function"),
        // Other commands.
        case(OK_CONFIG, &["logs", "f", "--profile", "local", "--since", "yesterday-ish"], 2, "--since `yesterday-ish` is not a duration"),
        case(OK_CONFIG, &["share", "f", "--profile", "local", "--account", "12"], 2, "is not a 12-digit AWS account id"),
        case(OK_CONFIG, &["share", "f", "--profile", "local"], 2, "share needs --account ID, --url or --list"),
        case(OK_CONFIG, &["map", "f", "--profile", "local", "--inputs", "{p}/bad.jsonl"], 2, "bad.jsonl line 2: not JSON"),
        case(OK_CONFIG, &["map", "f", "--profile", "local", "--inputs", "{p}/objects.jsonl", "--starmap"], 2, "--starmap needs a JSON array"),
        case(OK_CONFIG, &["map", "f", "--profile", "local", "--inputs", "{p}/objects.jsonl", "--concurrency", "0"], 2, "--concurrency must be at least 1"),
    ]
}

/// Files every project gets besides its own: payloads, inputs, a broken module, a big blob.
fn extras(dir: &std::path::Path) {
    std::fs::write(
        dir.join("big.json"),
        format!("\"{}\"", "x".repeat(6 * 1024 * 1024 + 1)),
    )
    .unwrap();
    std::fs::write(dir.join("latin1.json"), b"\"caf\xe9\"").unwrap();
    std::fs::write(
        dir.join("broken.py"),
        "def ok():\n    return (\n\ndef handler(event, context):\n    pass\n",
    )
    .unwrap();
    std::fs::write(dir.join("bad.jsonl"), "{\"a\": 1}\n{nope\n").unwrap();
    std::fs::write(dir.join("objects.jsonl"), "{\"a\": 1}\n").unwrap();
    // Over 250 MB unzipped (sparse: the limit is checked before anything is read or zipped).
    std::fs::File::create(dir.join("blob.bin"))
        .and_then(|f| f.set_len(251 * 1024 * 1024))
        .unwrap();
}

#[test]
fn every_bad_input_is_one_sentence_with_the_right_exit_code() {
    let cases = cases();
    assert!(
        cases.len() >= 50,
        "the suite keeps at least 50 cases, has {}",
        cases.len()
    );
    let mut failures = Vec::new();
    for (i, c) in cases.iter().enumerate() {
        let home = tempfile::tempdir().unwrap();
        std::fs::write(home.path().join("config"), c.config).unwrap();
        std::fs::write(home.path().join("credentials"), c.credentials).unwrap();
        let proj = home.path().join("proj");
        std::fs::create_dir_all(&proj).unwrap();
        for (rel, text) in c.files {
            std::fs::write(proj.join(rel), text).unwrap();
        }
        if c.args
            .iter()
            .any(|a| a.contains("{p}/") && !a.ends_with("app.py:handler"))
            || c.args.contains(&"--include")
        {
            extras(&proj);
        }
        let args: Vec<String> = c
            .args
            .iter()
            .map(|a| a.replace("{p}", proj.to_str().unwrap()))
            .collect();
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let started = Instant::now();
        let out = run(home.path(), None, &args);
        let all = format!("{}{}", String::from_utf8_lossy(&out.stdout), stderr(&out));
        let err_text = stderr(&out);
        let errors: Vec<&str> = err_text
            .lines()
            .filter(|l| l.starts_with("error: "))
            .collect();
        let problem = if out.status.code() != Some(c.code) {
            Some(format!("exit {:?}, wanted {}", out.status.code(), c.code))
        } else if !all.contains(c.expect) {
            Some(format!("output lacks `{}`", c.expect))
        } else if c.code == 2 && errors.len() != 1 {
            Some(format!("wanted exactly one error line, got {errors:?}"))
        } else if all.contains("panicked") {
            Some("panicked".to_string())
        } else if started.elapsed() > Duration::from_secs(30) {
            Some(format!("took {:?}", started.elapsed()))
        } else {
            None
        };
        if let Some(p) = problem {
            failures.push(format!(
                "case {i} {:?}: {p}\n{}",
                c.args,
                stderr(&out)
                    .lines()
                    .filter(|l| !l.contains(" TRACE ") && !l.contains(" DEBUG "))
                    .collect::<Vec<_>>()
                    .join("\n")
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} cases failed:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n\n")
    );
}

#[test]
fn malformed_lsp_requests_get_errors_and_the_server_keeps_serving() {
    let home = tempfile::tempdir().unwrap();
    let proj = home.path().join("proj");
    std::fs::create_dir_all(&proj).unwrap();
    std::fs::write(proj.join("app.py"), HANDLER[1].1).unwrap();
    let uri = format!("file://{}/app.py", proj.display());
    let mut lsp = Lsp::start(home.path(), &[]);
    let init = lsp.request("initialize", serde_json::json!({"processId": null, "rootUri": format!("file://{}", proj.display()), "capabilities": {}}));
    assert!(init["result"]["capabilities"].is_object(), "{init}");
    lsp.notify("initialized", serde_json::json!({}));
    lsp.notify("textDocument/didOpen", serde_json::json!({"textDocument": {"uri": uri, "languageId": "python", "version": 1, "text": HANDLER[1].1}}));

    let bad: Vec<(&str, serde_json::Value)> = vec![
        (
            "textDocument/codeLens",
            serde_json::json!({"textDocument": {"uri": "file:///nowhere/never.py"}}),
        ),
        (
            "textDocument/codeAction",
            serde_json::json!({"textDocument": {"uri": uri}, "range": {"start": {"line": 9999, "character": 0}, "end": {"line": 99999, "character": 5}}, "context": {"diagnostics": []}}),
        ),
        (
            "textDocument/inlayHint",
            serde_json::json!({"textDocument": {"uri": "untitled:Untitled-1"}, "range": {"start": {"line": 0, "character": 0}, "end": {"line": 1, "character": 0}}}),
        ),
        (
            "workspace/executeCommand",
            serde_json::json!({"command": "lambda.deploy", "arguments": [42]}),
        ),
        (
            "workspace/executeCommand",
            serde_json::json!({"command": "lambda.deploy", "arguments": [{"uri": "not a uri", "function": "handler"}]}),
        ),
        (
            "workspace/executeCommand",
            serde_json::json!({"command": "lambda.invoke", "arguments": [{"name": "x", "payload": "{broken"}]}),
        ),
        (
            "workspace/executeCommand",
            serde_json::json!({"command": "lambda.selectProfile", "arguments": [{"profile": "does-not-exist"}]}),
        ),
        (
            "workspace/executeCommand",
            serde_json::json!({"command": "lambda.nope", "arguments": []}),
        ),
        (
            "workspace/executeCommand",
            serde_json::json!({"command": "lambda.deploy"}),
        ),
    ];
    for (method, params) in bad {
        let answer = lsp.request(method, params.clone());
        let fine = answer
            .get("error")
            .is_some_and(|e| e["message"].as_str().is_some_and(|m| !m.is_empty()))
            || answer
                .get("result")
                .is_some_and(|r| r.is_null() || r.as_array().is_some_and(|a| a.is_empty()));
        assert!(fine, "{method} {params}: {answer}");
        if let Some(e) = answer.get("error") {
            assert_ne!(
                e["code"], -32603,
                "not an internal error: {method} {params}: {answer}"
            );
        }
    }
    // Still serving: lenses for the real file.
    let lenses = lsp.request(
        "textDocument/codeLens",
        serde_json::json!({"textDocument": {"uri": uri}}),
    );
    assert!(
        lenses["result"].as_array().is_some_and(|a| !a.is_empty()),
        "{lenses}"
    );
    let shutdown = lsp.request("shutdown", serde_json::Value::Null);
    assert!(shutdown.get("error").is_none(), "{shutdown}");
}
