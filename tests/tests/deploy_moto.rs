//! The deploy core against moto, an independent implementation of the Lambda and IAM APIs.

use lambda_deploy::aws::Connection;
use lambda_deploy::deploy::{deploy, DeployAction, DeployRequest, Progress};
use lambda_deploy::functions::{delete_function, list_functions};
use lambda_deploy::invoke::{invoke, InvokeKind, InvokeRequest};
use lambda_deploy::spec::FunctionSpec;
use lambda_ls_tests::{moto_connection, package_dir, project, Moto};

const HANDLER: &str = "import json\n\ndef handler(event, context):\n    return {\"echo\": event}\n";

struct Setup {
    moto: Moto,
    conn: Connection,
    _profiles: tempfile::TempDir,
}

async fn setup() -> Setup {
    let moto = Moto::start();
    let dir = tempfile::tempdir().unwrap();
    let conn = moto_connection(&moto, dir.path()).await;
    assert_eq!(conn.info.region, "us-east-1");
    assert_eq!(
        conn.info.endpoint.as_deref(),
        Some(moto.endpoint().as_str())
    );
    Setup {
        moto,
        conn,
        _profiles: dir,
    }
}

fn package_and_spec(
    dir: &std::path::Path,
    name: &str,
) -> (lambda_deploy::package::Package, FunctionSpec) {
    package_dir(dir, name, vec![])
}

fn quiet(_: Progress) {}

#[tokio::test]
async fn create_redeploy_update_invoke_list_delete() {
    let s = setup().await;
    let proj = project(&[("requirements.txt", ""), ("app.py", HANDLER)]);
    let (pkg, spec) = package_and_spec(proj.path(), "moto-fn");

    // Create: the default role is created in moto's IAM, tagged as ours.
    let first = deploy(
        &s.conn,
        DeployRequest {
            spec: &spec,
            package: &pkg,
        },
        &quiet,
    )
    .await
    .unwrap();
    assert_eq!(first.action, DeployAction::Created);
    assert!(
        first.function_arn.ends_with(":function:moto-fn"),
        "{}",
        first.function_arn
    );
    assert_eq!(s.moto.count("POST /2015-03-31/functions HTTP"), 1);
    let role = s
        .conn
        .iam
        .as_ref()
        .unwrap()
        .get_role()
        .role_name("lambda-ls-execution")
        .send()
        .await
        .unwrap();
    let tags = s
        .conn
        .iam
        .as_ref()
        .unwrap()
        .list_role_tags()
        .role_name("lambda-ls-execution")
        .send()
        .await
        .unwrap();
    assert!(tags
        .tags()
        .iter()
        .any(|t| t.key() == "created-by" && t.value() == "lambda-ls"));
    assert!(role
        .role()
        .unwrap()
        .arn()
        .ends_with("role/lambda-ls-execution"));

    // Unchanged redeploy: exactly one call (GetFunction) and nothing uploaded.
    let before = s.moto.requests().len();
    let again = deploy(
        &s.conn,
        DeployRequest {
            spec: &spec,
            package: &pkg,
        },
        &quiet,
    )
    .await
    .unwrap();
    assert_eq!(again.action, DeployAction::Unchanged);
    let calls: Vec<String> = s.moto.requests()[before..].to_vec();
    assert_eq!(calls.len(), 1, "{calls:?}");
    assert!(
        calls[0].contains("GET /2015-03-31/functions/moto-fn"),
        "{calls:?}"
    );

    // Code change: UpdateFunctionCode only.
    std::fs::write(
        proj.path().join("app.py"),
        HANDLER.replace("echo", "echoed"),
    )
    .unwrap();
    let (pkg2, _) = package_and_spec(proj.path(), "moto-fn");
    assert_ne!(pkg2.code_sha256, pkg.code_sha256);
    let code = deploy(
        &s.conn,
        DeployRequest {
            spec: &spec,
            package: &pkg2,
        },
        &quiet,
    )
    .await
    .unwrap();
    assert_eq!(code.action, DeployAction::UpdatedCode);
    assert_eq!(s.moto.count("PUT /2015-03-31/functions/moto-fn/code"), 1);
    assert_eq!(
        s.moto
            .count("PUT /2015-03-31/functions/moto-fn/configuration"),
        0
    );

    // Configuration change: UpdateFunctionConfiguration only.
    let mut bigger = spec.clone();
    bigger.memory_mb = 1024;
    bigger.environment.insert("STAGE".into(), "test".into());
    let cfg = deploy(
        &s.conn,
        DeployRequest {
            spec: &bigger,
            package: &pkg2,
        },
        &quiet,
    )
    .await
    .unwrap();
    assert_eq!(cfg.action, DeployAction::UpdatedConfiguration);
    assert_eq!(s.moto.count("PUT /2015-03-31/functions/moto-fn/code"), 1);
    assert_eq!(
        s.moto
            .count("PUT /2015-03-31/functions/moto-fn/configuration"),
        1
    );
    let live = s
        .conn
        .lambda
        .get_function_configuration()
        .function_name("moto-fn")
        .send()
        .await
        .unwrap();
    assert_eq!(live.memory_size(), Some(1024));

    // Invoke: moto's simple backend echoes the payload back.
    let out = invoke(
        &s.conn,
        &InvokeRequest {
            function: "moto-fn".into(),
            payload: br#"{"name": "moto"}"#.to_vec(),
            kind: InvokeKind::RequestResponse,
            qualifier: None,
        },
    )
    .await
    .unwrap();
    assert_eq!(out.status_code, 200);
    assert!(!out.failed());
    assert_eq!(out.payload, serde_json::json!({"name": "moto"}));

    let names: Vec<String> = list_functions(&s.conn)
        .await
        .unwrap()
        .into_iter()
        .map(|f| f.name)
        .collect();
    assert_eq!(names, vec!["moto-fn"]);
    delete_function(&s.conn, "moto-fn").await.unwrap();
    assert!(list_functions(&s.conn).await.unwrap().is_empty());
    let gone = delete_function(&s.conn, "moto-fn").await.unwrap_err();
    assert!(gone.is_not_found(), "{gone}");
}

#[tokio::test]
async fn existing_role_is_used_without_iam_calls() {
    let s = setup().await;
    // moto checks that the role exists, so make one the user "already had".
    let role = s
        .conn
        .iam
        .as_ref()
        .unwrap()
        .create_role()
        .role_name("mine")
        .assume_role_policy_document("{}")
        .send()
        .await
        .unwrap()
        .role
        .unwrap()
        .arn;
    let proj = project(&[("requirements.txt", ""), ("app.py", HANDLER)]);
    let (pkg, mut spec) = package_and_spec(proj.path(), "with-role");
    spec.role = lambda_deploy::spec::ExecutionRole::Existing(role.clone());
    let out = deploy(
        &s.conn,
        DeployRequest {
            spec: &spec,
            package: &pkg,
        },
        &quiet,
    )
    .await
    .unwrap();
    assert_eq!(out.action, DeployAction::Created);
    let live = s
        .conn
        .lambda
        .get_function_configuration()
        .function_name("with-role")
        .send()
        .await
        .unwrap();
    assert_eq!(live.role(), Some(role.as_str()));
    let ours = s
        .conn
        .iam
        .as_ref()
        .unwrap()
        .get_role()
        .role_name("lambda-ls-execution")
        .send()
        .await;
    assert!(
        ours.is_err(),
        "no default role may be created when one is given"
    );
}
