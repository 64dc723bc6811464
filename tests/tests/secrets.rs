//! Secrets never leak: recognisable fake keys in profile files and in the environment, every
//! command run with RUST_LOG=trace, and everything captured (stdout, stderr, JSON, LSP messages
//! and the server's log) searched for them.

use std::path::Path;
use std::process::Command;

use lambda_ls_tests::{hermetic, lambda_ls_bin, repo_root, Lsp, Moto};

/// In the environment (the profile files carry `lambda_ls_tests::SECRETS`).
const ENV_SECRETS: &[(&str, &str)] = &[
    ("AWS_ACCESS_KEY_ID", "AKIAENVSECRETLEAKCHECK"),
    (
        "AWS_SECRET_ACCESS_KEY",
        "env-secret-key-LEAKCHECK-0123456789",
    ),
    ("AWS_SESSION_TOKEN", "env-session-token-LEAKCHECK-abcdef"),
];

/// Secret keys and session tokens. Access key ids are identifiers, not secrets: the AWS SDK
/// itself logs them at trace level (and sends them in every request's Authorization header).
fn assert_clean(what: &str, text: &str) {
    let secrets = ENV_SECRETS
        .iter()
        .filter(|(k, _)| *k != "AWS_ACCESS_KEY_ID")
        .map(|(_, v)| *v)
        .chain(lambda_ls_tests::SECRETS.iter().copied());
    for s in secrets {
        assert!(!text.contains(s), "{what} leaked {s}");
    }
}

fn cli(home: &Path, moto: &Moto, args: &[&str]) -> String {
    let out = hermetic(
        Command::new(lambda_ls_bin())
            .args(args)
            .current_dir(repo_root()),
        home,
    )
    .env("AWS_ENDPOINT_URL", moto.endpoint())
    .env("AWS_REGION", "us-east-1")
    .env("RUST_LOG", "trace")
    .envs(ENV_SECRETS.iter().copied())
    .output()
    .expect("run lambda-ls");
    format!(
        "{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

#[test]
fn no_command_prints_a_secret_even_at_trace_level() {
    let moto = Moto::start();
    let home = tempfile::tempdir().unwrap();
    moto.profile_files(home.path());
    let inputs = home.path().join("inputs.jsonl");
    std::fs::write(&inputs, "{\"name\": \"a\"}\n{\"name\": \"b\"}\n").unwrap();
    let zip = home.path().join("out.zip");
    let t = "examples/hello/handler.py:handler";
    let runs: Vec<Vec<&str>> = vec![
        vec!["profiles"],
        vec!["profiles", "--json"],
        vec![
            "deploy",
            t,
            "--profile",
            "moto",
            "--name",
            "s",
            "--invoke",
            "{}",
            "--json",
        ],
        vec!["deploy", t, "--profile", "moto", "--name", "s"],
        // Environment credentials and no profile: the SDK's default chain.
        vec!["deploy", t, "--name", "env-creds", "--json"],
        vec!["deploy", t, "--profile", "assumed", "--name", "s2"],
        vec![
            "invoke",
            "s",
            "--profile",
            "moto",
            "--payload",
            "{}",
            "--json",
        ],
        vec!["list", "--profile", "moto"],
        vec!["list", "--profile", "moto", "--json"],
        vec!["logs", "s", "--profile", "moto"],
        vec![
            "publish",
            "s",
            "--profile",
            "moto",
            "--alias",
            "live",
            "--json",
        ],
        vec![
            "share",
            "s",
            "--profile",
            "moto",
            "--account",
            "210987654321",
            "--json",
        ],
        vec!["share", "s", "--profile", "moto", "--list"],
        vec!["unshare", "s", "--profile", "moto"],
        vec![
            "map",
            "s",
            "--profile",
            "moto",
            "--inputs",
            inputs.to_str().unwrap(),
        ],
        vec!["package", t, "--out", zip.to_str().unwrap(), "--json"],
        vec!["delete", "s", "--profile", "moto", "--all", "--json"],
        vec!["list", "--profile", "nope"],
        vec!["list", "--profile", "noregion"],
    ];
    for args in &runs {
        let text = cli(home.path(), &moto, args);
        assert_clean(&format!("lambda-ls {}", args.join(" ")), &text);
    }
    // The environment-credential deploy really went to moto, not to the local Lambda.
    let text = cli(home.path(), &moto, &["list", "--json"]);
    assert!(text.contains("\"env-creds\""), "{text}");

    // The language server: every message it sent and everything it logged.
    let moto_url = moto.endpoint();
    let env: Vec<(&str, &str)> = ENV_SECRETS
        .iter()
        .copied()
        .chain([
            ("RUST_LOG", "trace"),
            ("AWS_ENDPOINT_URL", moto_url.as_str()),
        ])
        .collect();
    let config = home.path().join("config");
    let credentials = home.path().join("credentials");
    let mut env = env;
    env.push(("AWS_CONFIG_FILE", config.to_str().unwrap()));
    env.push(("AWS_SHARED_CREDENTIALS_FILE", credentials.to_str().unwrap()));
    let mut lsp = Lsp::start(home.path(), &env);
    let root = repo_root().join("examples/hello");
    lsp.request("initialize", serde_json::json!({"processId": null, "rootUri": format!("file://{}", root.display()), "capabilities": {"window": {"workDoneProgress": true}}, "initializationOptions": {"profile": "moto"}}));
    lsp.notify("initialized", serde_json::json!({}));
    let uri = format!("file://{}/handler.py", root.display());
    lsp.request(
        "workspace/executeCommand",
        serde_json::json!({"command": "lambda.listProfiles", "arguments": []}),
    );
    lsp.request(
        "workspace/executeCommand",
        serde_json::json!({"command": "lambda.selectProfile", "arguments": [{"profile": "moto"}]}),
    );
    let deployed = lsp.request("workspace/executeCommand", serde_json::json!({"command": "lambda.deploy", "arguments": [{"uri": uri, "function": "handler", "name": "lsp-secret"}]}));
    assert_eq!(
        deployed["result"]["target"]["profile"], "moto",
        "{deployed}"
    );
    lsp.request("workspace/executeCommand", serde_json::json!({"command": "lambda.invoke", "arguments": [{"name": "lsp-secret", "payload": {}}]}));
    lsp.request("shutdown", serde_json::Value::Null);
    let sent = lsp.stdout.lock().unwrap().clone();
    assert!(
        sent.contains("lambdaLs/profileChanged"),
        "the session really ran: {sent}"
    );
    assert_clean("LSP messages", &sent);
    assert_clean("LSP server log", &lsp.stderr.lock().unwrap());
}
