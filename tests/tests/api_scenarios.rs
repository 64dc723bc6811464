//! One Lambda API scenario suite, written once, run against moto and against lambda-local.
//!
//! Where moto and AWS differ, the assertion follows AWS's documented behaviour and the
//! difference is named in a comment next to it.

use lambda_deploy::aws::{Connection, Endpoint};
use lambda_deploy::deploy::{deploy, wait_ready, DeployAction, DeployRequest, Progress};
use lambda_deploy::fanout::{map, MapMode};
use lambda_deploy::functions::{delete_function, list_functions};
use lambda_deploy::invoke::{invoke, InvokeKind, InvokeRequest};
use lambda_deploy::maintain::{
    publish, share_state, share_url, share_with_account, unshare, UrlAuth,
};
use lambda_local::{LocalConfig, LocalLambda};
use lambda_ls_tests::{moto_connection, packaged, Moto};

fn quiet(_: Progress) {}

/// Which implementation a scenario runs against.
enum Backend {
    /// The server and the profile files stay alive for the whole scenario.
    Moto(#[allow(dead_code)] (Moto, tempfile::TempDir)),
    Local(LocalLambda, #[allow(dead_code)] tempfile::TempDir),
}

impl Backend {
    async fn moto() -> (Backend, Connection) {
        let moto = Moto::start();
        let dir = tempfile::tempdir().unwrap();
        let conn = moto_connection(&moto, dir.path()).await;
        (Backend::Moto((moto, dir)), conn)
    }

    async fn local() -> (Backend, Connection) {
        let dir = tempfile::tempdir().unwrap();
        let mut cfg = LocalConfig::new(dir.path().join("data"));
        // Deploy, publish, share and delete must wait as they do on AWS: the update window is
        // on whatever the environment says, so a call racing an update gets AWS's 409.
        cfg.update_window = lambda_local::DEFAULT_UPDATE_WINDOW;
        let local = LocalLambda::start(cfg).await.unwrap();
        let conn = Connection::connect(&Endpoint::Local {
            url: local.endpoint(),
        })
        .await
        .unwrap();
        (Backend::Local(local, dir), conn)
    }

    fn is_moto(&self) -> bool {
        matches!(self, Backend::Moto(..))
    }

    async fn stop(self) {
        if let Backend::Local(l, _) = self {
            l.shutdown().await;
        }
    }
}

const HANDLER: &str = "def handler(event, context):\n    return {\"got\": event}\n";

async fn deploy_fn(conn: &Connection, name: &str, source: &str) -> DeployAction {
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
    .unwrap()
    .action
}

async fn lifecycle(backend: &Backend, conn: &Connection) {
    assert_eq!(deploy_fn(conn, "scn", HANDLER).await, DeployAction::Created);
    let got = conn
        .lambda
        .get_function()
        .function_name("scn")
        .send()
        .await
        .unwrap();
    let cfg = got.configuration().unwrap();
    assert_eq!(cfg.handler(), Some("app.handler"));
    assert_eq!(cfg.state().map(|s| s.as_str()), Some("Active"));
    assert_eq!(
        deploy_fn(conn, "scn", HANDLER).await,
        DeployAction::Unchanged
    );
    assert_eq!(
        deploy_fn(conn, "scn", &HANDLER.replace("got", "had")).await,
        DeployAction::UpdatedCode
    );
    let cfg = wait_ready(conn, "scn", &quiet).await.unwrap().unwrap();
    assert_eq!(
        cfg.last_update_status().map(|s| s.as_str()),
        Some("Successful")
    );

    // Not found and conflict come back as AWS's error types.
    let missing = conn
        .lambda
        .get_function()
        .function_name("nope")
        .send()
        .await
        .unwrap_err();
    assert_eq!(
        conn_err(conn, missing).code(),
        Some("ResourceNotFoundException")
    );
    let (_proj, pkg, _) = packaged("scn", HANDLER, &[]);
    let dup = conn
        .lambda
        .create_function()
        .function_name("scn")
        .runtime(aws_sdk_lambda::types::Runtime::Python312)
        .role("arn:aws:iam::123456789012:role/lambda-ls-execution")
        .handler("app.handler")
        .code(
            aws_sdk_lambda::types::FunctionCode::builder()
                .zip_file(aws_sdk_lambda::primitives::Blob::new(pkg.bytes.to_vec()))
                .build(),
        )
        .send()
        .await
        .unwrap_err();
    assert_eq!(
        conn_err(conn, dup).code(),
        Some("ResourceConflictException")
    );

    // Versions and aliases.
    let v1 = publish(conn, "scn", Some("live")).await.unwrap();
    assert_eq!(v1.version, "1");
    let alias = conn
        .lambda
        .get_alias()
        .function_name("scn")
        .name("live")
        .send()
        .await
        .unwrap();
    assert_eq!(alias.function_version(), Some("1"));
    if !backend.is_moto() {
        // AWS returns the latest version when nothing changed since it; moto makes a new one.
        assert_eq!(publish(conn, "scn", None).await.unwrap().version, "1");
    }

    // Permissions: sharing twice is one statement; unsharing removes it.
    share_with_account(conn, "scn", "210987654321")
        .await
        .unwrap();
    share_with_account(conn, "scn", "210987654321")
        .await
        .unwrap();
    let url = share_url(conn, "scn", UrlAuth::AwsIam).await.unwrap();
    assert!(url.starts_with("http"), "{url}");
    let state = share_state(conn, "scn").await.unwrap();
    let sids: Vec<&str> = state
        .statements
        .iter()
        .filter_map(|s| s["Sid"].as_str())
        .collect();
    if !backend.is_moto() {
        // AWS refuses a duplicate statement id (409); moto accepts and stores it twice.
        assert_eq!(sids, vec!["lambda-ls-share-210987654321"]);
    }
    assert_eq!(state.url_auth.as_deref(), Some("AWS_IAM"));
    let removed = unshare(conn, "scn", None).await.unwrap();
    assert!(removed.contains(&"function url".to_string()), "{removed:?}");
    let after = share_state(conn, "scn").await.unwrap();
    assert!(after.statements.iter().all(|s| !s["Sid"]
        .as_str()
        .unwrap_or("")
        .starts_with("lambda-ls-share-")));
    assert!(after.url.is_none());
}

async fn pagination_and_delete(backend: &Backend, conn: &Connection) {
    for i in 0..53 {
        deploy_fn(conn, &format!("page-{i:02}"), HANDLER).await;
    }
    let first = conn
        .lambda
        .list_functions()
        .max_items(50)
        .send()
        .await
        .unwrap();
    if backend.is_moto() {
        // AWS pages at MaxItems (at most 50); moto ignores MaxItems and returns everything.
        assert_eq!(first.functions().len(), 54);
    } else {
        assert_eq!(first.functions().len(), 50);
        assert!(first.next_marker().is_some());
    }
    let all = list_functions(conn).await.unwrap();
    assert_eq!(
        all.iter().filter(|f| f.name.starts_with("page-")).count(),
        53
    );
    for i in 0..53 {
        delete_function(conn, &format!("page-{i:02}"))
            .await
            .unwrap();
    }
    assert!(list_functions(conn)
        .await
        .unwrap()
        .iter()
        .all(|f| !f.name.starts_with("page-")));
}

fn conn_err<E, R>(
    conn: &Connection,
    e: aws_smithy_runtime_api::client::result::SdkError<E, R>,
) -> lambda_deploy::aws::AwsError
where
    E: aws_smithy_types::error::metadata::ProvideErrorMetadata
        + std::error::Error
        + Send
        + Sync
        + 'static,
    R: std::fmt::Debug + Send + Sync + 'static,
{
    conn.error("test", e)
}

#[tokio::test]
async fn scenarios_against_moto() {
    let (backend, conn) = Backend::moto().await;
    lifecycle(&backend, &conn).await;
    pagination_and_delete(&backend, &conn).await;
    backend.stop().await;
}

#[tokio::test]
async fn scenarios_against_the_local_lambda() {
    let (backend, conn) = Backend::local().await;
    lifecycle(&backend, &conn).await;
    pagination_and_delete(&backend, &conn).await;
    backend.stop().await;
}

/// Fan-out keeps input order and isolates a failing input (real handlers on the local Lambda).
#[tokio::test]
async fn map_over_200_inputs_keeps_order_and_reports_the_failure() {
    let (backend, conn) = Backend::local().await;
    deploy_fn(
        &conn,
        "square",
        "def handler(event, context):\n    if event['n'] == 100:\n        raise ValueError('bad input')\n    return event['n'] ** 2\n",
    )
    .await;
    let inputs: Vec<serde_json::Value> = (0..200).map(|n| serde_json::json!({"n": n})).collect();
    let results = map(&conn, "square", inputs, MapMode::Event, 8, &|_, _| {}).await;
    assert_eq!(results.len(), 200);
    for (i, r) in results.iter().enumerate() {
        assert_eq!(r.index, i);
        if i == 100 {
            assert!(!r.ok);
            assert_eq!(r.output["errorType"], "ValueError");
        } else {
            assert!(r.ok, "{i}: {r:?}");
            assert_eq!(r.output, serde_json::json!(i * i));
        }
    }
    let out = invoke(
        &conn,
        &InvokeRequest {
            function: "square".into(),
            payload: br#"{"n": 3}"#.to_vec(),
            kind: InvokeKind::RequestResponse,
            qualifier: None,
        },
    )
    .await
    .unwrap();
    assert_eq!(out.payload, serde_json::json!(9));
    backend.stop().await;
}
