//! Handler scenarios run once with the built-in bootstrap and once with awslambdaric.

use std::collections::HashSet;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use super::Harness;

pub const APP: &str = r#"
import os, sys, time

def handler(event, context):
    if event.get("raise"):
        raise ValueError("boom " + str(event["raise"]))
    if event.get("sleep"):
        time.sleep(event["sleep"])
    if event.get("exit") is not None:
        os._exit(event["exit"])
    if event.get("kill"):
        os.kill(os.getpid(), 9)
    if event.get("big"):
        return "x" * event["big"]
    if event.get("hog"):
        data = bytearray(event["hog"] * 1024 * 1024)
        return {"len": len(data)}
    print("hello from handler", event.get("n"))
    print("to stderr", event.get("n"), file=sys.stderr)
    tmp = os.environ["TMPDIR"]
    with open(os.path.join(tmp, "probe"), "w") as f:
        f.write("x")
    names = ["AWS_LAMBDA_FUNCTION_NAME", "AWS_REGION", "TZ", "GREETING", "AWS_SECRET_ACCESS_KEY",
             "LAMBDA_TASK_ROOT", "_HANDLER", "AWS_LAMBDA_RUNTIME_API", "AWS_LAMBDA_FUNCTION_VERSION"]
    return {
        "event": event,
        "function_name": context.function_name,
        "version": context.function_version,
        "memory": context.memory_limit_in_mb,
        "request_id": context.aws_request_id,
        "arn": context.invoked_function_arn,
        "remaining": context.get_remaining_time_in_millis(),
        "log_group": context.log_group_name,
        "log_stream": context.log_stream_name,
        "pid": os.getpid(),
        "env": {k: os.environ.get(k) for k in names},
        "tmp": tmp,
        "cwd": os.getcwd(),
        "ric": "awslambdaric" in sys.modules,
    }
"#;

fn error_of(r: &super::Resp) -> Value {
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    assert_eq!(
        r.header("x-amz-function-error").as_deref(),
        Some("Unhandled"),
        "expected a function error: {}",
        String::from_utf8_lossy(&r.body)
    );
    r.json()
}

fn ok_of(r: &super::Resp) -> Value {
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    assert_eq!(
        r.header("x-amz-function-error"),
        None,
        "unexpected function error: {}",
        String::from_utf8_lossy(&r.body)
    );
    r.json()
}

/// Which bootstrap served the function: true for awslambdaric.
pub async fn uses_ric(h: &Harness) -> bool {
    h.deploy("which", &[("app.py", APP)], json!({})).await;
    ok_of(&h.invoke("which", json!({}), false).await)["ric"]
        .as_bool()
        .unwrap()
}

/// Success path: result, context, environment, warm reuse, tail framing, stored logs.
pub async fn basics(h: &Harness) {
    h.deploy(
        "basic",
        &[("app.py", APP)],
        json!({ "Timeout": 10, "Environment": { "Variables": { "GREETING": "hi" } } }),
    )
    .await;
    let first = h.invoke("basic", json!({ "n": 1 }), true).await;
    let out = ok_of(&first);
    assert_eq!(
        first.header("x-amz-executed-version").as_deref(),
        Some("$LATEST")
    );
    assert_eq!(out["event"], json!({ "n": 1 }));
    assert_eq!(out["function_name"], "basic");
    assert_eq!(out["version"], "$LATEST");
    assert_eq!(out["memory"], "128");
    assert_eq!(
        out["arn"],
        "arn:aws:lambda:us-east-1:000000000000:function:basic"
    );
    assert_eq!(out["log_group"], "/aws/lambda/basic");
    let remaining = out["remaining"].as_i64().unwrap();
    assert!(remaining > 5_000 && remaining <= 10_000, "{remaining}");
    let env = &out["env"];
    assert_eq!(env["AWS_LAMBDA_FUNCTION_NAME"], "basic");
    assert_eq!(env["AWS_REGION"], "us-east-1");
    assert_eq!(env["TZ"], ":UTC");
    assert_eq!(env["GREETING"], "hi");
    assert_eq!(env["AWS_SECRET_ACCESS_KEY"], Value::Null);
    assert_eq!(env["_HANDLER"], "app.handler");
    assert_eq!(env["AWS_LAMBDA_FUNCTION_VERSION"], "$LATEST");
    assert!(env["AWS_LAMBDA_RUNTIME_API"]
        .as_str()
        .unwrap()
        .starts_with("127.0.0.1:"));
    assert_eq!(env["LAMBDA_TASK_ROOT"], out["cwd"]);
    let stream = out["log_stream"].as_str().unwrap();
    assert!(stream.contains("/[$LATEST]"), "{stream}");

    let rid = out["request_id"].as_str().unwrap();
    let tail = first.tail();
    assert!(tail.contains("hello from handler 1"), "{tail}");
    assert!(tail.contains("to stderr 1"), "{tail}");
    assert!(
        tail.contains(&format!("START RequestId: {rid} Version: $LATEST")),
        "{tail}"
    );
    assert!(tail.contains(&format!("END RequestId: {rid}")), "{tail}");
    assert!(
        tail.contains(&format!("REPORT RequestId: {rid}\tDuration: ")),
        "{tail}"
    );
    let report = tail
        .lines()
        .find(|l| l.starts_with("REPORT RequestId: "))
        .unwrap();
    assert!(
        report.ends_with(" ms\t"),
        "AWS ends REPORT with a tab: {report:?}"
    );
    assert!(tail.contains("\tBilled Duration: "), "{tail}");
    assert!(
        tail.contains("\tMemory Size: 128 MB\tMax Memory Used: "),
        "{tail}"
    );
    assert!(
        tail.contains("\tInit Duration: "),
        "a cold start reports its init: {tail}"
    );

    // Warm: same process, its own prints only, no init.
    for n in 2..6 {
        let r = h.invoke("basic", json!({ "n": n }), true).await;
        let o = ok_of(&r);
        assert_eq!(o["pid"], out["pid"], "the warm worker is reused");
        let t = r.tail();
        assert!(t.contains(&format!("hello from handler {n}")), "{t}");
        assert!(!t.contains(&format!("hello from handler {}", n - 1)), "{t}");
        assert!(!t.contains("Init Duration"), "{t}");
    }
    // Without Tail there is no log header.
    let r = h.invoke("basic", json!({ "n": 9 }), false).await;
    ok_of(&r);
    assert_eq!(r.header("x-amz-log-result"), None);

    // The logs are stored and can be searched.
    let r = super::call(
        h.addr,
        "POST",
        "/",
        &[
            ("x-amz-target", "Logs_20140328.FilterLogEvents"),
            ("content-type", "application/x-amz-json-1.1"),
        ],
        json!({ "logGroupName": "/aws/lambda/basic", "filterPattern": "hello from handler 1" })
            .to_string(),
    )
    .await;
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    let events = r.json()["events"].as_array().unwrap().clone();
    assert_eq!(events.len(), 1, "{events:?}");
    assert_eq!(events[0]["logStreamName"], stream);
    assert!(events[0]["timestamp"].as_i64().unwrap() > 0);
}

/// A handler exception comes back with awslambdaric's shape and absolute task-root paths.
pub async fn exception(h: &Harness) {
    h.deploy("raiser", &[("app.py", APP)], json!({})).await;
    let r = h.invoke("raiser", json!({ "raise": 1 }), true).await;
    let e = error_of(&r);
    assert_eq!(e["errorType"], "ValueError");
    assert_eq!(e["errorMessage"], "boom 1");
    let trace = e["stackTrace"].as_array().expect("stackTrace list");
    assert!(!trace.is_empty(), "{e}");
    let top = trace[0].as_str().unwrap();
    assert!(top.starts_with("  File \"/"), "{top:?}");
    assert!(top.contains("/app.py\", line "), "{top:?}");
    assert!(top.contains(", in handler\n"), "{top:?}");
    assert!(top.contains("raise ValueError"), "{top:?}");
    assert!(
        !trace
            .iter()
            .any(|f| f.as_str().unwrap().contains("bootstrap.py")),
        "{e}"
    );
    assert!(r.tail().contains("boom 1"), "the error is logged too");
    // The worker survives a handled exception.
    ok_of(&h.invoke("raiser", json!({ "n": 1 }), false).await);
}

/// Import failures are init errors returned to the invoke that triggered the init.
pub async fn import_error(h: &Harness) {
    let r = h
        .create(
            "importfail",
            &[("app.py", APP)],
            json!({ "Handler": "missing_mod.handler" }),
        )
        .await;
    assert_eq!(r.status, 201);
    h.wait_active("importfail").await;
    for _ in 0..2 {
        let e = error_of(&h.invoke("importfail", json!({}), false).await);
        assert_eq!(e["errorType"], "Runtime.ImportModuleError", "{e}");
        assert_eq!(
            e["errorMessage"],
            "Unable to import module 'missing_mod': No module named 'missing_mod'"
        );
    }
    let r = h
        .create(
            "nohandler",
            &[("app.py", APP)],
            json!({ "Handler": "app.nothere" }),
        )
        .await;
    assert_eq!(r.status, 201);
    h.wait_active("nohandler").await;
    let e = error_of(&h.invoke("nohandler", json!({}), false).await);
    assert_eq!(e["errorType"], "Runtime.HandlerNotFound", "{e}");
    assert_eq!(
        e["errorMessage"],
        "Handler 'nothere' missing on module 'app'"
    );
}

/// A handler running past its timeout is killed; the next invoke gets a new worker.
pub async fn timeout(h: &Harness) {
    h.deploy("sleepy", &[("app.py", APP)], json!({ "Timeout": 1 }))
        .await;
    ok_of(&h.invoke("sleepy", json!({ "n": 0 }), false).await);
    let start = Instant::now();
    let r = h.invoke("sleepy", json!({ "sleep": 30 }), true).await;
    let elapsed = start.elapsed();
    let e = error_of(&r);
    // AWS's form: errorType Sandbox.Timedout, "RequestId: ID Error: Task timed out after 1.00 seconds".
    assert_eq!(e["errorType"], "Sandbox.Timedout", "{e}");
    let msg = e["errorMessage"].as_str().unwrap();
    let rid = r.header("x-amzn-requestid").unwrap();
    assert_eq!(
        msg,
        format!("RequestId: {rid} Error: Task timed out after 1.00 seconds")
    );
    assert!(elapsed < Duration::from_secs(5), "{elapsed:?}");
    assert!(r.tail().contains("Task timed out after 1.00 seconds"));
    let after = ok_of(&h.invoke("sleepy", json!({ "n": 1 }), false).await);
    assert_eq!(after["event"]["n"], 1);
}

/// A runtime that exits or is killed mid-invoke reports Runtime.ExitError; the next invoke works.
pub async fn exit(h: &Harness) {
    h.deploy("quitter", &[("app.py", APP)], json!({})).await;
    let e = error_of(&h.invoke("quitter", json!({ "exit": 3 }), true).await);
    assert_eq!(e["errorType"], "Runtime.ExitError");
    let msg = e["errorMessage"].as_str().unwrap();
    assert!(msg.starts_with("RequestId: "), "{msg}");
    assert!(
        msg.ends_with("Error: Runtime exited with error: exit status 3"),
        "{msg}"
    );
    ok_of(&h.invoke("quitter", json!({ "n": 1 }), false).await);
    let e = error_of(&h.invoke("quitter", json!({ "kill": true }), false).await);
    assert_eq!(e["errorType"], "Runtime.ExitError");
    let msg = e["errorMessage"].as_str().unwrap();
    assert!(
        msg.ends_with("Error: Runtime exited with error: signal: killed"),
        "{msg}"
    );
    ok_of(&h.invoke("quitter", json!({ "n": 2 }), false).await);
}

/// A handler allocating far beyond MemorySize is stopped; the next invoke works.
pub async fn memory(h: &Harness) {
    h.deploy("hog", &[("app.py", APP)], json!({ "MemorySize": 128 }))
        .await;
    let e = error_of(&h.invoke("hog", json!({ "hog": 2048 }), false).await);
    let kind = e["errorType"].as_str().unwrap();
    assert!(kind == "MemoryError" || kind == "Runtime.ExitError", "{e}");
    // Well within the limit still works.
    let ok = ok_of(&h.invoke("hog", json!({ "hog": 32 }), false).await);
    assert_eq!(ok["len"], 32 * 1024 * 1024);
}

async fn invoke_20_at_once(h: &Harness) -> (Duration, HashSet<i64>) {
    let start = Instant::now();
    let tasks: Vec<_> = (0..20)
        .map(|i| {
            let addr = h.addr;
            tokio::spawn(async move {
                super::call(
                    addr,
                    "POST",
                    "/2015-03-31/functions/busy/invocations",
                    &[],
                    json!({ "sleep": 0.2, "n": i }).to_string(),
                )
                .await
            })
        })
        .collect();
    let mut pids = HashSet::new();
    for t in tasks {
        let out = ok_of(&t.await.unwrap());
        pids.insert(out["pid"].as_i64().unwrap());
    }
    (start.elapsed(), pids)
}

/// 20 concurrent invokes of a 0.2 s handler all succeed and run side by side on 20 workers.
pub async fn concurrency(h: &Harness) {
    h.deploy("busy", &[("app.py", APP)], json!({ "Timeout": 30 }))
        .await;
    // The first round includes 20 cold starts, whose cost depends on the machine's load.
    let (cold, pids) = invoke_20_at_once(h).await;
    assert!(cold < Duration::from_secs(20), "{cold:?}");
    assert!(pids.len() > 1, "{pids:?}");
    // Warm, they must overlap: one after another would take 4 s.
    let (warm, pids) = invoke_20_at_once(h).await;
    assert!(
        warm < Duration::from_millis(2000),
        "20 × 0.2 s took {warm:?}: invocations did not overlap"
    );
    assert!(pids.len() >= 10, "{pids:?}");
}

/// A result over Lambda's 6 MB response limit is an error, and the function keeps working.
pub async fn oversized_response(h: &Harness) {
    h.deploy("big", &[("app.py", APP)], json!({})).await;
    let e = error_of(
        &h.invoke("big", json!({ "big": 7 * 1024 * 1024 }), false)
            .await,
    );
    assert_eq!(e["errorType"], "Function.ResponseSizeTooLarge", "{e}");
    let r = h.invoke("big", json!({ "big": 1024 }), false).await;
    assert_eq!(ok_of(&r).as_str().unwrap().len(), 1024);
}
