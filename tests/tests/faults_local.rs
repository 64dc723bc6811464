//! Faults on the local Lambda: many concurrent invokes, the server killed in the middle of a
//! deploy, and a data directory that cannot be used.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use lambda_deploy::aws::{Connection, Endpoint};
use lambda_deploy::deploy::{deploy, DeployRequest, Progress};
use lambda_deploy::invoke::{invoke, InvokeKind, InvokeRequest};
use lambda_ls_tests::{incompressible, lambda_ls_bin, packaged, repo_root, run, stderr};

fn quiet(_: Progress) {}

async fn deploy_source(conn: &Connection, name: &str, source: &str) {
    let (_proj, pkg, spec) = packaged(name, source, &[]);
    deploy(
        conn,
        DeployRequest {
            spec: &spec,
            package: &pkg,
        },
        &quiet,
    )
    .await
    .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hundred_concurrent_invokes_are_all_answered() {
    let dir = tempfile::tempdir().unwrap();
    let (local, conn) = lambda_ls_tests::local_lambda(dir.path()).await;
    deploy_source(&conn, "busy", "import time\n\ndef handler(event, context):\n    time.sleep(0.05)\n    return event['i'] * 2\n").await;
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..100 {
        let conn = conn.clone();
        tasks.spawn(async move {
            let out = invoke(
                &conn,
                &InvokeRequest {
                    function: "busy".into(),
                    payload: format!("{{\"i\": {i}}}").into_bytes(),
                    kind: InvokeKind::RequestResponse,
                    qualifier: None,
                },
            )
            .await
            .unwrap();
            (i, out)
        });
    }
    let mut answered = 0;
    while let Some(r) = tasks.join_next().await {
        let (i, out) = r.unwrap();
        assert!(!out.failed(), "{i}: {:?}", out.error);
        assert_eq!(out.payload, serde_json::json!(i * 2));
        answered += 1;
    }
    assert_eq!(answered, 100);
    local.shutdown().await;
}

/// `lambda-ls local serve` on a data directory, with its endpoint.
fn serve(home: &Path) -> (Child, String) {
    let mut child = Command::new(lambda_ls_bin())
        .args(["local", "serve"])
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", home)
        .env("LAMBDA_LS_LOCAL_DIR", home.join("local"))
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.as_mut().unwrap())
        .read_line(&mut line)
        .unwrap();
    let url = line.split_whitespace().last().unwrap().to_string();
    assert!(url.starts_with("http://127.0.0.1:"), "{line}");
    (child, url)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_mid_deploy_the_function_is_old_or_new_never_broken() {
    let home = tempfile::tempdir().unwrap();
    // A few MB of incompressible text makes the upload and the store take a while.
    let blob: String = incompressible(6 * 1024 * 1024)
        .iter()
        .map(|b| char::from(b'a' + b % 26))
        .collect();
    let (mut server, url) = serve(home.path());
    let conn = Connection::connect(&Endpoint::Local { url }).await.unwrap();
    deploy_source(
        &conn,
        "victim",
        "def handler(event, context):\n    return 'old'\n",
    )
    .await;
    server.kill().unwrap();
    server.wait().unwrap();

    for (round, delay_ms) in [5u64, 20, 60, 120, 250].into_iter().enumerate() {
        let (mut server, url) = serve(home.path());
        let conn = Connection::connect(&Endpoint::Local { url }).await.unwrap();
        let source = format!("def handler(event, context):\n    return 'new{round}'\n");
        let killer = tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(delay_ms)).await;
            server.kill().unwrap();
            server.wait().unwrap();
        });
        let deploying = tokio::spawn({
            let conn = conn.clone();
            let blob = blob.clone();
            async move {
                let (_proj, pkg, spec) = packaged("victim", &source, &[("blob.txt", &blob)]);
                let _ = deploy(
                    &conn,
                    DeployRequest {
                        spec: &spec,
                        package: &pkg,
                    },
                    &quiet,
                )
                .await;
            }
        });
        killer.await.unwrap();
        let _ = tokio::time::timeout(Duration::from_secs(30), deploying).await;

        // Restarted: the function is there, consistent, and runs either version.
        let (mut server, url) = serve(home.path());
        let conn = Connection::connect(&Endpoint::Local { url }).await.unwrap();
        let ready = lambda_deploy::deploy::wait_ready(&conn, "victim", &quiet)
            .await
            .unwrap()
            .expect("function still exists");
        assert_eq!(
            ready.state().map(|s| s.as_str()),
            Some("Active"),
            "round {round}"
        );
        let out = invoke(
            &conn,
            &InvokeRequest {
                function: "victim".into(),
                payload: b"{}".to_vec(),
                kind: InvokeKind::RequestResponse,
                qualifier: None,
            },
        )
        .await
        .unwrap();
        let got = out.payload.as_str().unwrap_or_default().to_string();
        assert!(
            got == "old" || got.starts_with("new"),
            "round {round}: {:?} {:?}",
            out.payload,
            out.error
        );
        server.kill().unwrap();
        server.wait().unwrap();
    }
}

#[test]
fn an_unusable_data_directory_is_a_clear_error() {
    let home = tempfile::tempdir().unwrap();
    // A path under a regular file cannot be a directory, even for root.
    std::fs::write(home.path().join("file"), "").unwrap();
    let out = Command::new(lambda_ls_bin())
        .args([
            "deploy",
            "examples/hello/handler.py:handler",
            "--profile",
            "local",
        ])
        .current_dir(repo_root())
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", home.path())
        .env("LAMBDA_LS_LOCAL_DIR", home.path().join("file/local"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("error: cannot start the local Lambda: the local Lambda data directory")
            && err.contains("file/local"),
        "{err}"
    );
    assert_eq!(
        err.lines().filter(|l| l.starts_with("error: ")).count(),
        1,
        "{err}"
    );
    // And a usable one right after works (nothing was left half-made).
    let ok = run(home.path(), None, &["list", "--profile", "local"]);
    assert!(ok.status.success(), "{}", stderr(&ok));
}
