//! The operation layer called as a library, as the CLI and the language server call it: a
//! deploy planned from `lambda.toml` and run through the one pipeline on the local Lambda, its
//! invoke, a not-found delete and a bad `lambda.toml`, each failure with its blame.

use lambda_deploy::deploy::{DeployAction, Progress};
use lambda_deploy::invoke::{InvokeKind, InvokeRequest};
use lambda_deploy::project::Settings;
use lambda_ls_tests::project;
use lambda_ops::deploy::{package_target, plan, run, DeployRequest, PackageTarget};
use lambda_ops::invoke::{invoke, Payload};
use lambda_ops::manage::{delete, DeleteRequest};
use lambda_ops::Blame;

fn quiet(_: Progress) {}

fn request(dir: &std::path::Path) -> DeployRequest {
    DeployRequest {
        file: dir.join("app.py"),
        function: "handler".into(),
        callable: false,
        overrides: Settings::default(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deploy_invoke_and_delete_through_the_operation_layer() {
    let proj = project(&[
        ("app.py", "import os\n\ndef handler(event, context):\n    return {'stage': os.environ['STAGE'], 'mb': int(context.memory_limit_in_mb)}\n"),
        ("lambda.toml", "[defaults]\nmemory = 256\n\n[[function]]\ntarget = \"app.py:handler\"\nname = \"ops-layer\"\nenv = { STAGE = \"test\" }\n"),
        ("events/handler.json", "{\"from\": \"the events file\"}\n"),
    ]);
    let data = tempfile::tempdir().unwrap();
    let (local, conn) = lambda_ls_tests::local_lambda(data.path()).await;

    let planned = plan(&request(proj.path())).unwrap();
    assert_eq!(
        planned.spec.name, "ops-layer",
        "the name comes from lambda.toml"
    );
    assert_eq!(planned.spec.memory_mb, 256);
    let deployed = run(&conn, planned, &quiet).await.unwrap();
    assert_eq!(deployed.outcome.action, DeployAction::Created);
    assert!(
        deployed.local_run.is_some(),
        "the local Lambda says how it runs the function"
    );

    let events = lambda_ops::event::events_file(&proj.path().join("app.py"), "handler");
    let payload = Payload::FileIfExists(events).read().unwrap();
    assert_eq!(payload, b"{\"from\": \"the events file\"}\n");
    let req = InvokeRequest {
        function: "ops-layer".into(),
        payload,
        kind: InvokeKind::RequestResponse,
        qualifier: None,
    };
    let out = invoke(&conn, &req).await.unwrap();
    assert_eq!(out.payload, serde_json::json!({"stage": "test", "mb": 256}));

    let gone = DeleteRequest {
        function: "ops-layer".into(),
        all: false,
    };
    delete(&conn, &gone).await.unwrap();
    let again = delete(&conn, &gone).await.unwrap_err();
    assert_eq!(again.blame(), Blame::Remote);
    assert!(again.is_not_found());
    assert!(
        again.sentence("HINT").ends_with("; HINT"),
        "{}",
        again.sentence("HINT")
    );
    local.shutdown().await;
}

#[test]
fn a_bad_lambda_toml_is_the_configurations_fault_and_a_bad_payload_the_inputs() {
    let proj = project(&[
        ("app.py", "def handler(event, context):\n    return 1\n"),
        ("lambda.toml", "[defaults]\nmemory = \"lots\"\n"),
    ]);
    let err = plan(&request(proj.path())).unwrap_err();
    assert_eq!(err.blame(), Blame::Config, "{err}");
    let err = Payload::Inline(b"{not json".to_vec()).read().unwrap_err();
    assert_eq!(err.blame(), Blame::Input, "{err}");
    let err = Payload::File(proj.path().join("missing.json"))
        .read()
        .unwrap_err();
    assert!(
        err.to_string().starts_with("cannot read the event file"),
        "{err}"
    );
}

/// `lambda-ls package` writes the zip a deploy would upload: `lambda.toml`'s `include` and
/// `callable` count, and the command line's `--include` adds to them.
#[tokio::test]
async fn package_takes_lambda_toml_as_deploy_does() {
    let proj = project(&[
        ("app.py", "def handler(event, context):\n    return 1\n"),
        ("data/table.csv", "a,b\n"),
        ("extra/notes.txt", "more\n"),
        (
            "lambda.toml",
            "[[function]]\ntarget = \"app.py:handler\"\ninclude = [\"data\"]\n",
        ),
    ]);
    let req = PackageTarget {
        file: proj.path().join("app.py"),
        function: "handler".into(),
        callable: false,
        includes: vec![proj.path().join("extra")],
    };
    let pkg = package_target(req, &|_| {}).await.unwrap();
    for want in ["app.py", "data/table.csv", "extra/notes.txt"] {
        assert!(
            pkg.files.iter().any(|f| f == want),
            "{want} not in {:?}",
            pkg.files
        );
    }
}
