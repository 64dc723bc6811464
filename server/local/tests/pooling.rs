//! Worker pool behaviour: queueing past the limit, draining on delete, log tails under load,
//! bootstrap choice, and the Runtime API's own access check.

// Short functions (clippy.toml) are a rule for the product; a test may read long.
#![cfg_attr(test, allow(clippy::too_many_lines))]

mod common;

use std::collections::HashSet;
use std::time::{Duration, Instant};

use common::{bounded, call, scenarios, Harness};
use lambda_local::Bootstrap;
use serde_json::{json, Value};

const APP: &str = r#"
import os, time
def handler(event, context):
    time.sleep(event.get("sleep", 0))
    if event.get("spam"):
        for i in range(event["spam"]):
            print("spam line %06d %s" % (i, "x" * 90))
        print("LAST LINE", event["n"], end="")
    return {"pid": os.getpid(), "api": os.environ["AWS_LAMBDA_RUNTIME_API"]}
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invocations_beyond_the_worker_limit_queue() {
    let h = Harness::start_with(Bootstrap::BuiltIn, None, |c| c.max_workers_per_function = 2).await;
    bounded(60, async {
        h.deploy("q", &[("app.py", APP)], json!({ "Timeout": 30 }))
            .await;
        let start = Instant::now();
        let calls: Vec<_> = (0..6)
            .map(|_| {
                let addr = h.addr;
                tokio::spawn(async move {
                    call(
                        addr,
                        "POST",
                        "/2015-03-31/functions/q/invocations",
                        &[],
                        r#"{"sleep": 0.3}"#,
                    )
                    .await
                })
            })
            .collect();
        let mut pids = HashSet::new();
        for c in calls {
            let r = c.await.unwrap();
            assert_eq!(r.status, 200);
            assert_eq!(
                r.header("x-amz-function-error"),
                None,
                "{}",
                String::from_utf8_lossy(&r.body)
            );
            pids.insert(r.json()["pid"].as_i64().unwrap());
        }
        assert!(pids.len() <= 2, "at most 2 workers: {pids:?}");
        assert!(
            start.elapsed() >= Duration::from_millis(850),
            "6 × 0.3 s on 2 workers: {:?}",
            start.elapsed()
        );
    })
    .await;
    h.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delete_lets_busy_workers_finish() {
    let h = Harness::start(Bootstrap::BuiltIn, None).await;
    bounded(60, async {
        h.deploy("gone", &[("app.py", APP)], json!({ "Timeout": 30 }))
            .await;
        let addr = h.addr;
        let busy = tokio::spawn(async move {
            call(
                addr,
                "POST",
                "/2015-03-31/functions/gone/invocations",
                &[],
                r#"{"sleep": 1}"#,
            )
            .await
        });
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert_eq!(
            h.call("DELETE", "/2015-03-31/functions/gone", Value::Null)
                .await
                .status,
            204
        );
        let r = busy.await.unwrap();
        assert_eq!(r.status, 200);
        assert_eq!(
            r.header("x-amz-function-error"),
            None,
            "{}",
            String::from_utf8_lossy(&r.body)
        );
        assert_eq!(h.invoke("gone", json!({}), false).await.status, 404);
    })
    .await;
    h.shutdown().await;
}

/// Everything printed before the handler returned is in the tail, however much it was.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tail_has_every_print_even_after_a_flood() {
    let h = Harness::start(Bootstrap::BuiltIn, None).await;
    bounded(60, async {
        h.deploy("spam", &[("app.py", APP)], json!({})).await;
        for n in 0..20 {
            let r = h
                .invoke("spam", json!({ "spam": 3000, "n": n }), true)
                .await;
            assert_eq!(r.status, 200);
            let tail = r.tail();
            let before_end = tail.split("\nEND RequestId:").next().unwrap();
            assert!(before_end.ends_with(&format!("LAST LINE {n}")), "{tail}");
            assert!(tail.len() <= 4096);
        }
    })
    .await;
    h.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn auto_uses_the_builtin_bootstrap_without_awslambdaric() {
    let has_ric = std::process::Command::new("python3")
        .args(["-c", "import awslambdaric"])
        .stderr(std::process::Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    let h = Harness::start(Bootstrap::Auto, Some("python3".into())).await;
    assert_eq!(bounded(60, scenarios::uses_ric(&h)).await, has_ric);
    h.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn runtime_api_refuses_foreign_hosts() {
    let h = Harness::start(Bootstrap::BuiltIn, None).await;
    bounded(60, async {
        h.deploy("rt", &[("app.py", APP)], json!({})).await;
        let api = h.invoke("rt", json!({}), false).await.json()["api"]
            .as_str()
            .unwrap()
            .to_string();
        let addr: std::net::SocketAddr = api.parse().unwrap();
        let next = "/2018-06-01/runtime/invocation/next";
        let r = call(addr, "GET", next, &[("host", "evil.example")], Vec::new()).await;
        assert_eq!(r.status, 403);
        let r = call(
            addr,
            "GET",
            next,
            &[("origin", "http://evil.example")],
            Vec::new(),
        )
        .await;
        assert_eq!(r.status, 403);
        // The worker was not disturbed.
        assert_eq!(h.invoke("rt", json!({}), false).await.status, 200);
    })
    .await;
    h.shutdown().await;
}

/// Init has Lambda's 10 s plus the function timeout; a module that hangs on import is killed
/// and the invoke that triggered it gets the timeout.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hanging_import_times_out() {
    let h = Harness::start(Bootstrap::BuiltIn, None).await;
    bounded(60, async {
        let app = "import time\ntime.sleep(60)\ndef handler(e, c):\n    return 1\n";
        let r = h
            .create("hang", &[("app.py", app)], json!({ "Timeout": 1 }))
            .await;
        assert_eq!(r.status, 201);
        h.wait_active("hang").await;
        let start = Instant::now();
        let r = h.invoke("hang", json!({}), false).await;
        let elapsed = start.elapsed();
        assert_eq!(
            r.header("x-amz-function-error").as_deref(),
            Some("Unhandled")
        );
        let msg = r.json()["errorMessage"].as_str().unwrap().to_string();
        assert!(msg.ends_with("Task timed out after 11.00 seconds"), "{msg}");
        assert!(
            elapsed >= Duration::from_secs(10) && elapsed < Duration::from_secs(20),
            "{elapsed:?}"
        );
    })
    .await;
    h.shutdown().await;
}
