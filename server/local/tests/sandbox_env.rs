//! The worker sandbox: the developer's AWS credentials stay out, temp dirs go away.
//!
//! Alone in its binary because it sets process environment variables before anything runs.

// Short functions (clippy.toml) are a rule for the product; a test may read long.
#![cfg_attr(test, allow(clippy::too_many_lines))]

mod common;

use common::{bounded, Harness};
use lambda_local::Bootstrap;
use serde_json::json;

const APP: &str = r#"
import os
def handler(event, context):
    return {k: os.environ.get(k) for k in
            ["AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE",
             "AWS_LAMBDA_MAX_CONCURRENCY", "AWS_REGION", "TMPDIR"]}
"#;

#[test]
fn credentials_do_not_reach_workers_and_temp_dirs_are_removed() {
    // Set before the runtime starts any thread, so no one reads the environment concurrently.
    for (k, v) in [
        ("AWS_ACCESS_KEY_ID", "AKIAREALKEY"),
        ("AWS_SECRET_ACCESS_KEY", "real-secret"),
        ("AWS_SESSION_TOKEN", "real-token"),
        ("AWS_PROFILE", "prod"),
        ("AWS_LAMBDA_MAX_CONCURRENCY", "4"),
    ] {
        std::env::set_var(k, v);
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let mut h = Harness::start(Bootstrap::BuiltIn, None).await;
        let tmp_root = h.dir.path().join("data/tmp");
        bounded(60, async {
            h.deploy("env", &[("app.py", APP)], json!({})).await;
            let out = h.invoke("env", json!({}), false).await.json();
            for k in [
                "AWS_ACCESS_KEY_ID",
                "AWS_SECRET_ACCESS_KEY",
                "AWS_SESSION_TOKEN",
                "AWS_PROFILE",
                "AWS_LAMBDA_MAX_CONCURRENCY",
            ] {
                assert_eq!(out[k], serde_json::Value::Null, "{k} leaked: {out}");
            }
            assert_eq!(out["AWS_REGION"], "us-east-1");
            let tmp = std::path::PathBuf::from(out["TMPDIR"].as_str().unwrap());
            assert!(tmp.starts_with(&tmp_root) && tmp.is_dir(), "{tmp:?}");
        })
        .await;
        h.lambda.take().unwrap().shutdown().await;
        // Removal happens right after each worker's exit is seen; give it a moment.
        let mut left = usize::MAX;
        for _ in 0..50 {
            left = std::fs::read_dir(&tmp_root).unwrap().count();
            if left == 0 {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        assert_eq!(left, 0, "worker temp dirs were not removed");
    });
}
