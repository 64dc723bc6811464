mod common;
use common::Harness;
use lambda_local::Bootstrap;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn boto() {
    let h = Harness::start(Bootstrap::BuiltIn, None).await;
    let endpoint = h.lambda.as_ref().unwrap().endpoint();
    let out = tokio::process::Command::new("/tmp/ric/bin/python")
        .arg("/tmp/smoke/boto_smoke.py")
        .arg(&endpoint)
        .output()
        .await
        .unwrap();
    eprintln!(
        "{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    h.shutdown().await;
}
