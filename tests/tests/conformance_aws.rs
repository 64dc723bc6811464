//! AWS conformance of the local Lambda: every row of `conformance/rows.rs` (a request and the
//! answer AWS gives, with its source) against the local Lambda, where each row must match, and
//! against moto, where rows moto gets wrong are counted and printed instead of failing.

mod conformance;

use std::net::SocketAddr;

use conformance::{run_all, Backend, Moto as MotoVerdict, Row};
use lambda_local::{LocalConfig, LocalLambda};
use lambda_ls_tests::Moto;

/// Prints every row's outcome and the score; returns the rows that differ.
fn report(
    backend: &str,
    results: &[(&'static Row, Vec<String>)],
) -> Vec<(&'static Row, Vec<String>)> {
    let differ: Vec<_> = results
        .iter()
        .filter(|(_, d)| !d.is_empty())
        .cloned()
        .collect();
    for (row, diffs) in &differ {
        eprintln!("{backend} differs from AWS on \"{}\":", row.name);
        for d in diffs {
            eprintln!("    {d}");
        }
    }
    eprintln!(
        "== {backend}: {} of {} rows answer as AWS does",
        results.len() - differ.len(),
        results.len()
    );
    differ
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_local_lambda_answers_as_aws_does() {
    let dir = tempfile::tempdir().unwrap();
    // The default configuration, update window included (whatever the environment says):
    // what users get.
    let mut cfg = LocalConfig::new(dir.path().join("data"));
    cfg.update_window = lambda_local::DEFAULT_UPDATE_WINDOW;
    let local = LocalLambda::start(cfg).await.unwrap();
    let backend = Backend {
        name: "local Lambda",
        addr: local.addr(),
        account: lambda_local::ACCOUNT_ID,
    };
    let results = run_all(&backend).await;
    local.shutdown().await;
    let differ = report(backend.name, &results);
    let (by_design, unexpected): (Vec<_>, Vec<_>) = differ
        .iter()
        .partition(|(row, _)| row.local_by_design.is_some());
    for (row, _) in &by_design {
        eprintln!(
            "   by design: \"{}\": {}",
            row.name,
            row.local_by_design.unwrap_or("")
        );
    }
    let stale: Vec<&str> = results
        .iter()
        .filter(|(row, d)| row.local_by_design.is_some() && d.is_empty())
        .map(|(row, _)| row.name)
        .collect();
    assert!(
        unexpected.is_empty() && stale.is_empty(),
        "{} of {} rows differ from AWS on the local Lambda (above); marked by design but \
         answering as AWS does (remove the marker): {stale:?}",
        unexpected.len(),
        results.len()
    );
}

/// moto's role check needs the role to exist in its IAM.
async fn create_role(addr: SocketAddr) {
    let body =
        "Action=CreateRole&Version=2010-05-08&RoleName=lambda-role&AssumeRolePolicyDocument=%7B%7D";
    let r = send_form(addr, body).await;
    assert_eq!(r, 200, "create the role in moto's IAM");
}

async fn send_form(addr: SocketAddr, body: &str) -> u16 {
    let stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let (mut sender, conn) =
        hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream))
            .await
            .unwrap();
    tokio::spawn(conn);
    let req = hyper::Request::builder()
        .method("POST")
        .uri("/")
        .header("host", addr.to_string())
        .header("content-type", "application/x-www-form-urlencoded")
        .header(
            "authorization",
            "AWS4-HMAC-SHA256 Credential=AKIDTEST/20240101/us-east-1/iam/aws4_request, SignedHeaders=host, Signature=0",
        )
        .body(http_body_util::Full::new(bytes::Bytes::from(body.to_string())))
        .unwrap();
    sender.send_request(req).await.unwrap().status().as_u16()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn moto_answers_as_aws_does_where_marked() {
    let moto = Moto::start();
    let addr: SocketAddr = format!("127.0.0.1:{}", moto.port).parse().unwrap();
    create_role(addr).await;
    let backend = Backend {
        name: "moto",
        addr,
        account: "123456789012",
    };
    let results = run_all(&backend).await;
    let differ = report(backend.name, &results);
    let unexpected: Vec<&str> = differ
        .iter()
        .filter(|(row, _)| row.moto == MotoVerdict::Right)
        .map(|(row, _)| row.name)
        .collect();
    let now_right: Vec<&str> = results
        .iter()
        .filter(|(row, d)| row.moto == MotoVerdict::Wrong && d.is_empty())
        .map(|(row, _)| row.name)
        .collect();
    if !now_right.is_empty() {
        eprintln!("moto now answers as AWS does on rows marked wrong: {now_right:?}");
    }
    eprintln!(
        "== moto is wrong on {} rows marked so (not failures)",
        differ.len() - unexpected.len()
    );
    assert!(
        unexpected.is_empty(),
        "moto differs from AWS on rows marked right: {unexpected:?}"
    );
}
