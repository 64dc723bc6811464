//! Faults on the AWS side, injected by a proxy in front of a real Lambda API (lambda-local):
//! throttling and conflicts are retried, stuck or failed functions and dead networks end in a
//! clear error within a bounded time, and a deploy after a failed one completes.

use std::sync::Arc;
use std::time::{Duration, Instant};

use lambda_deploy::aws::{AwsError, Connection, Endpoint, Limits};
use lambda_deploy::deploy::{deploy, DeployAction, DeployError, DeployRequest, Progress};
use lambda_deploy::functions::list_functions;
use lambda_deploy::package::Package;
use lambda_deploy::spec::FunctionSpec;
use lambda_local::{LocalConfig, LocalLambda};
use lambda_ls_tests::faults::{Fault, FaultProxy};
use lambda_ls_tests::{free_port, packaged};

const SHORT: Limits = Limits {
    connect: Duration::from_secs(1),
    control_read: Duration::from_secs(2),
    invoke_read: Duration::from_secs(10),
    ready_wait: Duration::from_secs(3),
};

struct Rig {
    proxy: FaultProxy,
    conn: Connection,
    local: LocalLambda,
    _dir: tempfile::TempDir,
}

async fn rig() -> Rig {
    let dir = tempfile::tempdir().unwrap();
    let local = LocalLambda::start(LocalConfig::new(dir.path().join("data")))
        .await
        .unwrap();
    let proxy = FaultProxy::start(local.addr().to_string()).await;
    let conn = Connection::connect_with(
        &Endpoint::Local {
            url: proxy.url.clone(),
        },
        SHORT,
    )
    .await
    .unwrap();
    Rig {
        proxy,
        conn,
        local,
        _dir: dir,
    }
}

fn code(version: u32) -> (tempfile::TempDir, Package, FunctionSpec) {
    packaged(
        "faulty",
        &format!("def handler(event, context):\n    return {version}\n"),
        &[],
    )
}

fn quiet(_: Progress) {}

#[tokio::test]
async fn throttling_and_conflicts_are_retried_with_bounded_backoff() {
    let r = rig().await;
    let (_p, pkg, spec) = code(1);
    r.proxy.inject(
        "POST",
        "/2015-03-31/functions",
        3,
        Fault::Error {
            status: 429,
            kind: "TooManyRequestsException",
            message: "Rate exceeded",
        },
    );
    let retries = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let seen = Arc::clone(&retries);
    let report = move |p: Progress| {
        if matches!(p, Progress::Retrying { .. }) {
            seen.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        }
    };
    let out = deploy(
        &r.conn,
        DeployRequest {
            spec: &spec,
            package: &pkg,
        },
        &report,
    )
    .await
    .unwrap();
    assert_eq!(out.action, DeployAction::Created);
    assert_eq!(
        r.proxy.count("POST /2015-03-31/functions"),
        4,
        "3 throttled + 1 that went through"
    );

    let (_p2, pkg2, _) = code(2);
    r.proxy.inject(
        "PUT",
        "/code",
        2,
        Fault::Error {
            status: 409,
            kind: "ResourceConflictException",
            message: "An update is in progress",
        },
    );
    let out = deploy(
        &r.conn,
        DeployRequest {
            spec: &spec,
            package: &pkg2,
        },
        &report,
    )
    .await
    .unwrap();
    assert_eq!(out.action, DeployAction::UpdatedCode);
    assert!(
        retries.load(std::sync::atomic::Ordering::SeqCst) >= 2,
        "conflicts are retried by us"
    );

    // Throttled forever: the deploy gives up with the throttling error, not a hang.
    r.proxy.inject(
        "PUT",
        "/code",
        usize::MAX,
        Fault::Error {
            status: 429,
            kind: "TooManyRequestsException",
            message: "Rate exceeded",
        },
    );
    let (_p3, pkg3, _) = code(3);
    let started = Instant::now();
    let err = deploy(
        &r.conn,
        DeployRequest {
            spec: &spec,
            package: &pkg3,
        },
        &quiet,
    )
    .await
    .unwrap_err();
    assert!(
        matches!(&err, DeployError::Aws(e) if e.is_throttling()),
        "{err}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(90),
        "bounded: {:?}",
        started.elapsed()
    );
    r.local.shutdown().await;
}

#[tokio::test]
async fn stuck_pending_and_failed_states_are_clear_errors() {
    let r = rig().await;
    let (_p, pkg, spec) = code(1);
    let pending: Arc<dyn Fn(&mut serde_json::Value) + Send + Sync> = Arc::new(|v| {
        v["Configuration"]["State"] = "Pending".into();
    });
    r.proxy.inject(
        "GET",
        "/2015-03-31/functions/faulty",
        usize::MAX,
        Fault::Rewrite(pending),
    );
    let started = Instant::now();
    let err = deploy(
        &r.conn,
        DeployRequest {
            spec: &spec,
            package: &pkg,
        },
        &quiet,
    )
    .await
    .unwrap_err();
    assert!(
        started.elapsed() < SHORT.ready_wait + Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
    let text = err.to_string();
    assert!(
        text.starts_with("function faulty was still Pending/"),
        "{text}"
    );

    r.proxy.heal();
    let failed: Arc<dyn Fn(&mut serde_json::Value) + Send + Sync> = Arc::new(|v| {
        v["Configuration"]["LastUpdateStatus"] = "Failed".into();
        v["Configuration"]["LastUpdateStatusReason"] = "The layer could not be unpacked".into();
    });
    r.proxy.inject(
        "GET",
        "/2015-03-31/functions/faulty",
        usize::MAX,
        Fault::Rewrite(failed),
    );
    let (_p2, pkg2, _) = code(2);
    let err = deploy(
        &r.conn,
        DeployRequest {
            spec: &spec,
            package: &pkg2,
        },
        &quiet,
    )
    .await
    .unwrap_err();
    assert_eq!(
        err.to_string(),
        "function faulty is update Failed: The layer could not be unpacked"
    );
    r.local.shutdown().await;
}

#[tokio::test]
async fn dead_or_stalled_networks_fail_fast_and_clearly() {
    // Nothing listens on this port.
    let port = free_port();
    let conn = Connection::connect_with(
        &Endpoint::Local {
            url: format!("http://127.0.0.1:{port}"),
        },
        SHORT,
    )
    .await
    .unwrap();
    let (_p, pkg, spec) = code(1);
    let started = Instant::now();
    let err = deploy(
        &conn,
        DeployRequest {
            spec: &spec,
            package: &pkg,
        },
        &quiet,
    )
    .await
    .unwrap_err();
    assert!(
        matches!(err, DeployError::Aws(AwsError::Connection { .. })),
        "{err}"
    );
    assert!(
        err.to_string()
            .starts_with("cannot reach Lambda for profile local: ")
            && err
                .to_string()
                .contains(&format!("http://127.0.0.1:{port} refused the connection")),
        "{err}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "{:?}",
        started.elapsed()
    );

    let r = rig().await;
    r.proxy.inject(
        "GET",
        "/2015-03-31/functions/faulty",
        usize::MAX,
        Fault::Stall(Duration::from_secs(60)),
    );
    let started = Instant::now();
    let err = deploy(
        &r.conn,
        DeployRequest {
            spec: &spec,
            package: &pkg,
        },
        &quiet,
    )
    .await
    .unwrap_err();
    assert!(
        matches!(err, DeployError::Aws(AwsError::Connection { .. })),
        "a timeout: {err}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "{:?}",
        started.elapsed()
    );
    r.local.shutdown().await;
}

#[tokio::test]
async fn a_deploy_after_a_failed_one_completes_without_duplicates() {
    let r = rig().await;
    let (_p, pkg, spec) = code(1);
    r.proxy.inject(
        "POST",
        "/2015-03-31/functions",
        1,
        Fault::Error {
            status: 400,
            kind: "InvalidParameterValueException",
            message: "injected failure",
        },
    );
    let err = deploy(
        &r.conn,
        DeployRequest {
            spec: &spec,
            package: &pkg,
        },
        &quiet,
    )
    .await
    .unwrap_err();
    assert!(err.to_string().contains("injected failure"), "{err}");
    let out = deploy(
        &r.conn,
        DeployRequest {
            spec: &spec,
            package: &pkg,
        },
        &quiet,
    )
    .await
    .unwrap();
    assert_eq!(out.action, DeployAction::Created);
    let again = deploy(
        &r.conn,
        DeployRequest {
            spec: &spec,
            package: &pkg,
        },
        &quiet,
    )
    .await
    .unwrap();
    assert_eq!(again.action, DeployAction::Unchanged);
    let names: Vec<String> = list_functions(&r.conn)
        .await
        .unwrap()
        .into_iter()
        .map(|f| f.name)
        .collect();
    assert_eq!(names, vec!["faulty"]);
    r.local.shutdown().await;
}
