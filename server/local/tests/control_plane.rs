//! The Lambda control-plane API as aws-sdk-lambda uses it, over plain HTTP.

// Short functions (clippy.toml) are a rule for the product; a test may read long.
#![cfg_attr(test, allow(clippy::too_many_lines))]

mod common;

use std::time::Duration;

use common::{b64, bounded, call, zip, Harness, ROLE};
use lambda_local::{Bootstrap, LocalConfig, LocalLambda};
use serde_json::{json, Value};
use sha2::Digest;

const ECHO: &str = r#"
import os
def handler(event, context):
    print("echo", event)
    return {"tag": TAG, "event": event, "env": os.environ.get("COLOR"), "pid": os.getpid()}
"#;

fn echo(tag: &str) -> String {
    ECHO.replace("TAG", &format!("{tag:?}"))
}

async fn builtin() -> Harness {
    Harness::start(Bootstrap::BuiltIn, None).await
}

fn error_type(r: &common::Resp) -> String {
    r.header("x-amzn-errortype").unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn create_is_pending_then_active() {
    let h = builtin().await;
    bounded(60, async {
        let code = zip(&[("app.py", &echo("one"))]);
        let r = h
            .call(
                "POST",
                "/2015-03-31/functions",
                json!({
                    "FunctionName": "f1", "Runtime": "python3.12", "Role": ROLE,
                    "Handler": "app.handler", "Code": { "ZipFile": b64(&code) },
                    "Description": "d", "Timeout": 7, "MemorySize": 256,
                    "Environment": { "Variables": { "COLOR": "red" } },
                    "Architectures": ["arm64"], "EphemeralStorage": { "Size": 1024 },
                    "Tags": { "team": "x" },
                }),
            )
            .await;
        assert_eq!(r.status, 201, "{}", String::from_utf8_lossy(&r.body));
        let c = r.json();
        assert_eq!(c["State"], "Pending");
        assert_eq!(c["StateReasonCode"], "Creating");
        assert_eq!(c["FunctionName"], "f1");
        assert_eq!(
            c["FunctionArn"],
            "arn:aws:lambda:us-east-1:000000000000:function:f1"
        );
        assert_eq!(c["Version"], "$LATEST");
        assert_eq!(c["Runtime"], "python3.12");
        assert_eq!(c["Timeout"], 7);
        assert_eq!(c["MemorySize"], 256);
        assert_eq!(c["CodeSize"], code.len());
        assert_eq!(c["CodeSha256"], b64(&sha2::Sha256::digest(&code)));
        assert_eq!(c["Environment"]["Variables"]["COLOR"], "red");
        assert_eq!(c["Architectures"], json!(["arm64"]));
        assert_eq!(c["EphemeralStorage"]["Size"], 1024);
        assert_eq!(c["PackageType"], "Zip");
        assert_eq!(
            c["LoggingConfig"],
            json!({ "LogFormat": "Text", "LogGroup": "/aws/lambda/f1" })
        );
        let lm = c["LastModified"].as_str().unwrap();
        assert_eq!(lm.len(), "2024-01-02T03:04:05.000+0000".len(), "{lm}");
        assert!(lm.ends_with("+0000") && lm.as_bytes()[10] == b'T', "{lm}");
        let active = h.wait_active("f1").await;
        assert!(active.get("StateReason").is_none(), "{active}");
        assert_ne!(active["RevisionId"], c["RevisionId"]);
        let r = h.invoke("f1", json!({ "a": 1 }), false).await;
        assert_eq!(r.json()["env"], "red");
    })
    .await;
    h.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn get_list_paginate_delete() {
    let h = builtin().await;
    bounded(60, async {
        let code = zip(&[("app.py", &echo("x"))]);
        for name in ["fa", "fb", "fc"] {
            let r = h
                .call(
                    "POST",
                    "/2015-03-31/functions",
                    json!({ "FunctionName": name, "Runtime": "python3.11", "Role": ROLE,
                            "Handler": "app.handler", "Code": { "ZipFile": b64(&code) },
                            "Tags": { "k": "v" } }),
                )
                .await;
            assert_eq!(r.status, 201);
        }
        // GetFunction by name and by percent-encoded ARN.
        let r = h.call("GET", "/2015-03-31/functions/fa", Value::Null).await;
        assert_eq!(r.status, 200);
        let g = r.json();
        assert_eq!(g["Configuration"]["FunctionName"], "fa");
        assert_eq!(g["Code"]["RepositoryType"], "S3");
        assert_eq!(g["Tags"], json!({ "k": "v" }));
        let location = g["Code"]["Location"].as_str().unwrap();
        let path = location.strip_prefix(&format!("http://{}", h.addr)).unwrap();
        let dl = call(h.addr, "GET", path, &[], Vec::new()).await;
        assert_eq!(dl.status, 200);
        assert_eq!(&dl.body[..], &code[..]);
        let r = h
            .call(
                "GET",
                "/2015-03-31/functions/arn%3Aaws%3Alambda%3Aus-east-1%3A000000000000%3Afunction%3Afb/configuration",
                Value::Null,
            )
            .await;
        assert_eq!(r.status, 200);
        assert_eq!(r.json()["FunctionName"], "fb");

        let r = h.call("GET", "/2015-03-31/functions/?MaxItems=2", Value::Null).await;
        assert_eq!(r.status, 200);
        let page = r.json();
        let names: Vec<&str> = page["Functions"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f["FunctionName"].as_str().unwrap())
            .collect();
        assert_eq!(names, ["fa", "fb"]);
        let marker = page["NextMarker"].as_str().expect("NextMarker");
        let r = h
            .call("GET", &format!("/2015-03-31/functions/?MaxItems=2&Marker={marker}"), Value::Null)
            .await;
        let page = r.json();
        assert_eq!(page["Functions"][0]["FunctionName"], "fc");
        assert_eq!(page["Functions"].as_array().unwrap().len(), 1);
        assert!(page.get("NextMarker").is_none(), "{page}");

        let r = h.call("DELETE", "/2015-03-31/functions/fb", Value::Null).await;
        assert_eq!(r.status, 204);
        let r = h.call("GET", "/2015-03-31/functions/fb", Value::Null).await;
        assert_eq!(r.status, 404);
        assert_eq!(error_type(&r), "ResourceNotFoundException");
        assert_eq!(
            r.json()["message"],
            "Function not found: arn:aws:lambda:us-east-1:000000000000:function:fb"
        );
        assert_eq!(r.json()["Type"], "User");
        let r = h.call("DELETE", "/2015-03-31/functions/fb", Value::Null).await;
        assert_eq!(r.status, 404);
        let r = h.call("GET", "/2015-03-31/functions", Value::Null).await;
        assert_eq!(r.json()["Functions"].as_array().unwrap().len(), 2);
        let r = h.invoke("nope", json!({}), false).await;
        assert_eq!((r.status, error_type(&r).as_str()), (404, "ResourceNotFoundException"));
        let r = h.call("GET", "/2099-01-01/whatever", Value::Null).await;
        assert_eq!((r.status, error_type(&r).as_str()), (404, "UnknownOperationException"));
    })
    .await;
    h.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn duplicates_conflict_and_validation_fails() {
    let h = builtin().await;
    bounded(60, async {
        let files = [("app.py", "def handler(e, c):\n    return 1\n")];
        assert_eq!(h.create("dup", &files, json!({})).await.status, 201);
        let r = h.create("dup", &files, json!({})).await;
        assert_eq!(
            (r.status, error_type(&r).as_str()),
            (409, "ResourceConflictException")
        );

        // Constraint breaks are ValidationException, as AWS's request validation answers them;
        // checks of the values' meaning are InvalidParameterValueException.
        let validation = "ValidationException";
        let invalid = "InvalidParameterValueException";
        let bad = [
            (json!({ "FunctionName": "has space" }), validation),
            (json!({ "FunctionName": "x".repeat(65) }), validation),
            (
                json!({ "FunctionName": "invalid:function:name" }),
                validation,
            ),
            (json!({ "Runtime": "python2.7" }), invalid),
            (json!({ "Timeout": 0 }), validation),
            (json!({ "Timeout": 901 }), validation),
            (json!({ "MemorySize": 64 }), validation),
            (json!({ "MemorySize": 10241 }), validation),
            (json!({ "EphemeralStorage": { "Size": 100 } }), validation),
            (json!({ "Role": "not-a-role" }), validation),
            (
                json!({ "Environment": { "Variables": { "AWS_REGION": "x" } } }),
                invalid,
            ),
            (
                json!({ "Code": { "ZipFile": b64(b"definitely not a zip") } }),
                invalid,
            ),
            (json!({ "Architectures": ["sparc"] }), validation),
        ];
        for (i, (extra, kind)) in bad.iter().enumerate() {
            let name = format!("v{i}");
            let r = h.create(&name, &files, extra.clone()).await;
            assert_eq!(
                (r.status, error_type(&r).as_str()),
                (400, *kind),
                "{extra}: {}",
                String::from_utf8_lossy(&r.body)
            );
        }
        // Over 50 MB of zip is too large, before it is even looked at.
        let huge = vec![7u8; 51 * 1024 * 1024];
        let r = h
            .create("huge", &files, json!({ "Code": { "ZipFile": b64(&huge) } }))
            .await;
        assert_eq!(
            (r.status, error_type(&r).as_str()),
            (413, "RequestEntityTooLargeException")
        );
        let r = h.call("GET", "/2015-03-31/functions", Value::Null).await;
        assert_eq!(
            r.json()["Functions"].as_array().unwrap().len(),
            1,
            "nothing invalid was stored"
        );
    })
    .await;
    h.shutdown().await;
}

/// A zip whose directory is fine but whose data is damaged fails at unpacking, like Lambda.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn corrupt_zip_leaves_the_function_failed() {
    let h = builtin().await;
    bounded(60, async {
        let content = "A".repeat(4000);
        let mut w = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
        let opts = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Stored);
        w.start_file("app.py", opts).unwrap();
        std::io::Write::write_all(&mut w, content.as_bytes()).unwrap();
        let mut bytes = w.finish().unwrap().into_inner();
        let at = bytes.windows(4).position(|w| w == b"AAAA").unwrap() + 100;
        bytes[at] = b'B';
        let r = h
            .create("broken", &[], json!({ "Code": { "ZipFile": b64(&bytes) } }))
            .await;
        assert_eq!(r.status, 201, "{}", String::from_utf8_lossy(&r.body));
        let c = h.wait_for("broken", |c| c["State"] != "Pending").await;
        assert_eq!(c["State"], "Failed", "{c}");
        assert_eq!(c["StateReasonCode"], "InvalidZipFileException");
        assert!(c["StateReason"].as_str().unwrap().contains("unzip"), "{c}");
        let r = h.invoke("broken", json!({}), false).await;
        assert_eq!(
            (r.status, error_type(&r).as_str()),
            (409, "ResourceConflictException")
        );
        // New code gives it another chance.
        let r = h
            .call(
                "PUT",
                "/2015-03-31/functions/broken/code",
                json!({ "ZipFile": b64(&zip(&[("app.py", &echo("fixed"))])) }),
            )
            .await;
        assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
        h.wait_active("broken").await;
        assert_eq!(
            h.invoke("broken", json!({}), false).await.json()["tag"],
            "fixed"
        );
    })
    .await;
    h.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn updates_go_through_in_progress_and_drain_workers() {
    let h = builtin().await;
    bounded(60, async {
        h.deploy("up", &[("app.py", &echo("v1"))], json!({})).await;
        let first = h.invoke("up", json!({}), false).await.json();
        assert_eq!(first["tag"], "v1");
        let rev = h.wait_active("up").await["RevisionId"].as_str().unwrap().to_string();

        let r = h
            .call("PUT", "/2015-03-31/functions/up/code",
                  json!({ "ZipFile": b64(&zip(&[("app.py", &echo("v2"))])), "RevisionId": "stale" }))
            .await;
        assert_eq!((r.status, error_type(&r).as_str()), (412, "PreconditionFailedException"));

        // Many files make unpacking take a moment, so the second update meets the first.
        let mut files: Vec<(String, String)> = (0..400)
            .map(|i| (format!("pkg/m{i}.py"), format!("X = {i}\n").repeat(50)))
            .collect();
        files.push(("app.py".into(), echo("v2")));
        let refs: Vec<(&str, &str)> = files.iter().map(|(a, b)| (a.as_str(), b.as_str())).collect();
        let body = json!({ "ZipFile": b64(&zip(&refs)), "RevisionId": rev });
        let (a, b) = tokio::join!(
            h.call("PUT", "/2015-03-31/functions/up/code", body.clone()),
            h.call("PUT", "/2015-03-31/functions/up/code", body.clone()),
        );
        let mut statuses = [a.status, b.status];
        statuses.sort();
        assert_eq!(statuses, [200, 409], "{} / {}", String::from_utf8_lossy(&a.body), String::from_utf8_lossy(&b.body));
        let (ok, conflict) = if a.status == 200 { (a, b) } else { (b, a) };
        assert_eq!(ok.json()["LastUpdateStatus"], "InProgress");
        assert!(conflict.json()["message"]
            .as_str()
            .unwrap()
            .starts_with("The operation cannot be performed at this time. An update is in progress for resource: arn:aws:lambda:us-east-1:000000000000:function:up"));
        h.wait_active("up").await;
        let second = h.invoke("up", json!({}), false).await.json();
        assert_eq!(second["tag"], "v2");
        assert_ne!(second["pid"], first["pid"], "old workers were drained");

        let r = h
            .call("PUT", "/2015-03-31/functions/up/configuration",
                  json!({ "Environment": { "Variables": { "COLOR": "blue" } }, "Timeout": 9 }))
            .await;
        assert_eq!(r.status, 200);
        assert_eq!(r.json()["LastUpdateStatus"], "InProgress");
        let c = h.wait_active("up").await;
        assert_eq!(c["Timeout"], 9);
        assert_eq!(h.invoke("up", json!({}), false).await.json()["env"], "blue");
        let r = h
            .call("PUT", "/2015-03-31/functions/up/configuration", json!({ "MemorySize": 1 }))
            .await;
        assert_eq!(r.status, 400);
    })
    .await;
    h.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn versions_and_aliases() {
    let h = builtin().await;
    bounded(60, async {
        h.deploy("ver", &[("app.py", &echo("one"))], json!({}))
            .await;
        let r = h
            .call("POST", "/2015-03-31/functions/ver/versions", json!({}))
            .await;
        assert_eq!(r.status, 201, "{}", String::from_utf8_lossy(&r.body));
        let v1 = r.json();
        assert_eq!(v1["Version"], "1");
        assert_eq!(
            v1["FunctionArn"],
            "arn:aws:lambda:us-east-1:000000000000:function:ver:1"
        );
        // Nothing changed: the same version comes back.
        let r = h
            .call("POST", "/2015-03-31/functions/ver/versions", json!({}))
            .await;
        assert_eq!(r.json()["Version"], "1");

        let r = h
            .call(
                "PUT",
                "/2015-03-31/functions/ver/code",
                json!({ "ZipFile": b64(&zip(&[("app.py", &echo("two"))])) }),
            )
            .await;
        assert_eq!(r.status, 200);
        h.wait_active("ver").await;
        let r = h
            .call(
                "POST",
                "/2015-03-31/functions/ver/versions",
                json!({ "Description": "second" }),
            )
            .await;
        assert_eq!(r.json()["Version"], "2");
        let r = h
            .call("GET", "/2015-03-31/functions/ver/versions", Value::Null)
            .await;
        let versions: Vec<String> = r.json()["Versions"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v["Version"].as_str().unwrap().to_string())
            .collect();
        assert_eq!(versions, ["$LATEST", "1", "2"]);

        let r = h.invoke_with("ver:1", "{}", false, &[]).await;
        assert_eq!(r.json()["tag"], "one");
        assert_eq!(r.header("x-amz-executed-version").as_deref(), Some("1"));
        assert_eq!(h.invoke("ver", json!({}), false).await.json()["tag"], "two");

        let r = h
            .call(
                "POST",
                "/2015-03-31/functions/ver/aliases",
                json!({ "Name": "live", "FunctionVersion": "1", "Description": "prod" }),
            )
            .await;
        assert_eq!(r.status, 201, "{}", String::from_utf8_lossy(&r.body));
        let alias = r.json();
        assert_eq!(
            alias["AliasArn"],
            "arn:aws:lambda:us-east-1:000000000000:function:ver:live"
        );
        assert_eq!(alias["FunctionVersion"], "1");
        let r = h
            .call(
                "POST",
                "/2015-03-31/functions/ver/aliases",
                json!({ "Name": "live", "FunctionVersion": "2" }),
            )
            .await;
        assert_eq!(r.status, 409);
        let r = h
            .call(
                "POST",
                "/2015-03-31/functions/ver/aliases",
                json!({ "Name": "bad", "FunctionVersion": "9" }),
            )
            .await;
        assert_eq!(r.status, 404);

        let r = call(
            h.addr,
            "POST",
            "/2015-03-31/functions/ver/invocations?Qualifier=live",
            &[],
            "{}",
        )
        .await;
        assert_eq!(r.json()["tag"], "one");
        assert_eq!(r.header("x-amz-executed-version").as_deref(), Some("1"));
        let r = h
            .call(
                "PUT",
                "/2015-03-31/functions/ver/aliases/live",
                json!({ "FunctionVersion": "2" }),
            )
            .await;
        assert_eq!(r.status, 200);
        assert_eq!(r.json()["FunctionVersion"], "2");
        assert_eq!(
            h.invoke_with("ver:live", "{}", false, &[]).await.json()["tag"],
            "two"
        );
        let r = h
            .call("GET", "/2015-03-31/functions/ver/aliases/live", Value::Null)
            .await;
        assert_eq!(r.json()["Description"], "prod");
        let r = h
            .call("GET", "/2015-03-31/functions/ver/aliases", Value::Null)
            .await;
        assert_eq!(r.json()["Aliases"].as_array().unwrap().len(), 1);
        let r = h
            .call(
                "GET",
                "/2015-03-31/functions/ver?Qualifier=live",
                Value::Null,
            )
            .await;
        assert_eq!(r.json()["Configuration"]["Version"], "2");

        let r = h
            .call(
                "DELETE",
                "/2015-03-31/functions/ver?Qualifier=2",
                Value::Null,
            )
            .await;
        assert_eq!(
            (r.status, error_type(&r).as_str()),
            (409, "ResourceConflictException")
        );
        let r = h
            .call(
                "DELETE",
                "/2015-03-31/functions/ver/aliases/live",
                Value::Null,
            )
            .await;
        assert_eq!(r.status, 204);
        let r = h
            .call("GET", "/2015-03-31/functions/ver/aliases/live", Value::Null)
            .await;
        assert_eq!(r.status, 404);
        let r = h
            .call(
                "DELETE",
                "/2015-03-31/functions/ver?Qualifier=2",
                Value::Null,
            )
            .await;
        assert_eq!(r.status, 204);
        let r = h
            .call("GET", "/2015-03-31/functions/ver?Qualifier=2", Value::Null)
            .await;
        assert_eq!(r.status, 404);
        // Version numbers are not reused.
        let r = h
            .call(
                "PUT",
                "/2015-03-31/functions/ver/code",
                json!({ "ZipFile": b64(&zip(&[("app.py", &echo("three"))])), "Publish": true }),
            )
            .await;
        assert_eq!(r.json()["Version"], "3");
        h.wait_active("ver").await;
        assert_eq!(
            h.invoke_with("ver:3", "{}", false, &[]).await.json()["tag"],
            "three"
        );
    })
    .await;
    h.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn permissions_and_function_urls() {
    let h = builtin().await;
    bounded(60, async {
        h.deploy("pol", &[("app.py", &echo("x"))], json!({})).await;
        let r = h.call("GET", "/2015-03-31/functions/pol/policy", Value::Null).await;
        assert_eq!((r.status, error_type(&r).as_str()), (404, "ResourceNotFoundException"));
        let add = json!({
            "StatementId": "s3-invoke", "Action": "lambda:InvokeFunction",
            "Principal": "s3.amazonaws.com", "SourceArn": "arn:aws:s3:::bucket",
            "SourceAccount": "123456789012",
        });
        let r = h.call("POST", "/2015-03-31/functions/pol/policy", add.clone()).await;
        assert_eq!(r.status, 201, "{}", String::from_utf8_lossy(&r.body));
        let statement: Value = serde_json::from_str(r.json()["Statement"].as_str().unwrap()).unwrap();
        assert_eq!(statement["Sid"], "s3-invoke");
        assert_eq!(statement["Principal"], json!({ "Service": "s3.amazonaws.com" }));
        assert_eq!(statement["Resource"], "arn:aws:lambda:us-east-1:000000000000:function:pol");
        assert_eq!(statement["Condition"]["ArnLike"]["AWS:SourceArn"], "arn:aws:s3:::bucket");
        let r = h.call("POST", "/2015-03-31/functions/pol/policy", add).await;
        assert_eq!(r.status, 409);
        let r = h
            .call("POST", "/2015-03-31/functions/pol/policy",
                  json!({ "StatementId": "url", "Action": "lambda:InvokeFunctionUrl", "Principal": "*", "FunctionUrlAuthType": "NONE" }))
            .await;
        assert_eq!(r.status, 201);
        let r = h.call("GET", "/2015-03-31/functions/pol/policy", Value::Null).await;
        assert_eq!(r.status, 200);
        let policy: Value = serde_json::from_str(r.json()["Policy"].as_str().unwrap()).unwrap();
        assert_eq!(policy["Version"], "2012-10-17");
        assert_eq!(policy["Statement"].as_array().unwrap().len(), 2);
        assert!(r.json()["RevisionId"].is_string());
        let r = h.call("DELETE", "/2015-03-31/functions/pol/policy/s3-invoke", Value::Null).await;
        assert_eq!(r.status, 204);
        let r = h.call("DELETE", "/2015-03-31/functions/pol/policy/s3-invoke", Value::Null).await;
        assert_eq!(r.status, 404);
        let r = h.call("DELETE", "/2015-03-31/functions/pol/policy/url", Value::Null).await;
        assert_eq!(r.status, 204);
        assert_eq!(h.call("GET", "/2015-03-31/functions/pol/policy", Value::Null).await.status, 404);

        let r = h.call("GET", "/2021-10-31/functions/pol/url", Value::Null).await;
        assert_eq!(r.status, 404);
        let r = h.call("POST", "/2021-10-31/functions/pol/url", json!({ "AuthType": "NONE" })).await;
        assert_eq!(r.status, 201, "{}", String::from_utf8_lossy(&r.body));
        let url = r.json();
        // Served on its own loopback port (tests/tests/function_urls.rs calls it).
        assert!(url["FunctionUrl"].as_str().unwrap().starts_with("http://127.0.0.1:"));
        assert_eq!(url["AuthType"], "NONE");
        assert!(url["CreationTime"].is_string());
        assert_eq!(h.call("POST", "/2021-10-31/functions/pol/url", json!({ "AuthType": "NONE" })).await.status, 409);
        assert_eq!(h.call("POST", "/2021-10-31/functions/pol/url", json!({ "AuthType": "OPEN" })).await.status, 400);
        let r = h
            .call("PUT", "/2021-10-31/functions/pol/url", json!({ "AuthType": "AWS_IAM", "Cors": { "AllowOrigins": ["*"] } }))
            .await;
        assert_eq!(r.status, 200);
        let r = h.call("GET", "/2021-10-31/functions/pol/url", Value::Null).await;
        assert_eq!(r.json()["AuthType"], "AWS_IAM");
        assert_eq!(r.json()["Cors"]["AllowOrigins"], json!(["*"]));
        assert_eq!(r.json()["FunctionUrl"], url["FunctionUrl"]);
        assert_eq!(h.call("DELETE", "/2021-10-31/functions/pol/url", Value::Null).await.status, 204);
        assert_eq!(h.call("GET", "/2021-10-31/functions/pol/url", Value::Null).await.status, 404);
    })
    .await;
    h.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn layers_are_on_the_python_path() {
    let h = builtin().await;
    bounded(60, async {
        let layer = zip(&[
            ("python/layerlib.py", "VALUE = 'from layer'\n"),
            ("python/lib/python3.11/site-packages/deep.py", "X = 41\n"),
        ]);
        let r = h
            .call("POST", "/2018-10-31/layers/deps/versions",
                  json!({ "Content": { "ZipFile": b64(&layer) }, "CompatibleRuntimes": ["python3.11"], "Description": "libs" }))
            .await;
        assert_eq!(r.status, 201, "{}", String::from_utf8_lossy(&r.body));
        let lv = r.json();
        assert_eq!(lv["Version"], 1);
        assert_eq!(lv["LayerArn"], "arn:aws:lambda:us-east-1:000000000000:layer:deps");
        let arn = lv["LayerVersionArn"].as_str().unwrap().to_string();
        assert_eq!(arn, "arn:aws:lambda:us-east-1:000000000000:layer:deps:1");
        assert_eq!(lv["Content"]["CodeSize"], layer.len());
        let r = h.call("GET", "/2018-10-31/layers/deps/versions/1", Value::Null).await;
        assert_eq!(r.json()["Description"], "libs");
        let r = h.call("GET", "/2018-10-31/layers/deps/versions", Value::Null).await;
        assert_eq!(r.json()["LayerVersions"].as_array().unwrap().len(), 1);
        assert_eq!(h.call("GET", "/2018-10-31/layers/deps/versions/7", Value::Null).await.status, 404);

        let app = "import layerlib, deep\ndef handler(e, c):\n    return [layerlib.VALUE, deep.X + 1]\n";
        let r = h.create("withlayer", &[("app.py", app)], json!({ "Layers": [arn.clone()] })).await;
        assert_eq!(r.status, 201, "{}", String::from_utf8_lossy(&r.body));
        assert_eq!(r.json()["Layers"][0]["Arn"], arn);
        h.wait_active("withlayer").await;
        let r = h.invoke("withlayer", json!({}), false).await;
        assert_eq!(r.json(), json!(["from layer", 42]), "{}", String::from_utf8_lossy(&r.body));

        let r = h
            .create("badlayer", &[("app.py", app)],
                    json!({ "Layers": ["arn:aws:lambda:us-east-1:000000000000:layer:deps:9"] }))
            .await;
        assert_eq!(r.status, 400);
        // Deleting the layer version does not break the function that uses it.
        assert_eq!(h.call("DELETE", "/2018-10-31/layers/deps/versions/1", Value::Null).await.status, 204);
        assert_eq!(h.call("GET", "/2018-10-31/layers/deps/versions/1", Value::Null).await.status, 404);
        let r = h
            .call("PUT", "/2015-03-31/functions/withlayer/configuration", json!({ "Timeout": 5 }))
            .await;
        assert_eq!(r.status, 200);
        h.wait_active("withlayer").await;
        assert_eq!(h.invoke("withlayer", json!({}), false).await.json(), json!(["from layer", 42]));
    })
    .await;
    h.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refuses_foreign_hosts_and_origins() {
    let h = builtin().await;
    bounded(30, async {
        let port = h.addr.port();
        let list = "/2015-03-31/functions";
        for host in [
            format!("evil.example:{port}"),
            "127.0.0.1:1".to_string(),
            format!("127.0.0.1.nip.io:{port}"),
        ] {
            let r = call(h.addr, "GET", list, &[("host", &host)], Vec::new()).await;
            assert_eq!(r.status, 403, "{host}");
            assert_eq!(error_type(&r), "AccessDeniedException");
        }
        for host in [
            format!("localhost:{port}"),
            format!("[::1]:{port}"),
            format!("127.0.0.1:{port}"),
        ] {
            let r = call(h.addr, "GET", list, &[("host", &host)], Vec::new()).await;
            assert_eq!(r.status, 200, "{host}");
        }
        for origin in [
            "http://evil.example",
            "https://localhost",
            "null",
            "http://localhost.evil.example",
        ] {
            let r = call(h.addr, "GET", list, &[("origin", origin)], Vec::new()).await;
            assert_eq!(r.status, 403, "{origin}");
        }
        let r = call(
            h.addr,
            "GET",
            list,
            &[("origin", "http://localhost:5173")],
            Vec::new(),
        )
        .await;
        assert_eq!(r.status, 200);
        assert!(h
            .lambda
            .as_ref()
            .unwrap()
            .endpoint()
            .starts_with("http://127.0.0.1:"));
    })
    .await;
    h.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn state_survives_a_restart() {
    let mut h = builtin().await;
    bounded(60, async {
        let layer = zip(&[("python/persisted.py", "V = 'kept'\n")]);
        let r = h.call("POST", "/2018-10-31/layers/pl/versions", json!({ "Content": { "ZipFile": b64(&layer) } })).await;
        let arn = r.json()["LayerVersionArn"].as_str().unwrap().to_string();
        let app = "import persisted\ndef handler(e, c):\n    return persisted.V\n";
        h.deploy("keep", &[("app.py", app)], json!({ "Layers": [arn] })).await;
        assert_eq!(h.call("POST", "/2015-03-31/functions/keep/versions", json!({})).await.status, 201);
        assert_eq!(
            h.call("POST", "/2015-03-31/functions/keep/aliases", json!({ "Name": "prod", "FunctionVersion": "1" })).await.status,
            201
        );
        assert_eq!(
            h.call("POST", "/2015-03-31/functions/keep/policy",
                   json!({ "StatementId": "a", "Action": "lambda:InvokeFunction", "Principal": "123456789012" })).await.status,
            201
        );
        assert_eq!(h.invoke("keep", json!({}), false).await.json(), "kept");
        let before = h.wait_active("keep").await;
        let second = LocalLambda::start(h.cfg.clone()).await.unwrap_err();
        assert!(second.to_string().contains("in use"), "{second}");

        h.restart().await;
        let after = h.wait_active("keep").await;
        assert_eq!(after["CodeSha256"], before["CodeSha256"]);
        assert_eq!(after["RevisionId"], before["RevisionId"]);
        assert_eq!(h.invoke("keep", json!({}), false).await.json(), "kept");
        assert_eq!(h.invoke_with("keep:prod", "{}", false, &[]).await.json(), "kept");
        assert_eq!(h.call("GET", "/2015-03-31/functions/keep/policy", Value::Null).await.status, 200);
        assert_eq!(h.call("GET", "/2018-10-31/layers/pl/versions/1", Value::Null).await.status, 200);
        // Unpacked task roots are re-created when missing.
        std::fs::remove_dir_all(h.dir.path().join("data/unpacked")).unwrap();
        std::fs::create_dir_all(h.dir.path().join("data/unpacked")).unwrap();
        h.restart().await;
        assert_eq!(h.invoke("keep", json!({}), false).await.json(), "kept");
    })
    .await;
    h.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invoke_types_and_payload_checks() {
    let h = builtin().await;
    bounded(60, async {
        h.deploy("inv", &[("app.py", &echo("x"))], json!({})).await;
        let r = h.invoke_with("inv", "{not json", false, &[]).await;
        assert_eq!(
            (r.status, error_type(&r).as_str()),
            (400, "InvalidRequestContentException")
        );
        let big = format!("\"{}\"", "a".repeat(6 * 1024 * 1024 + 1));
        let r = h.invoke_with("inv", &big, false, &[]).await;
        assert_eq!(
            (r.status, error_type(&r).as_str()),
            (413, "RequestTooLargeException")
        );
        let r = h
            .invoke_with("inv", "{}", false, &[("x-amz-invocation-type", "DryRun")])
            .await;
        assert_eq!(r.status, 204);
        let r = h
            .invoke_with("inv", "{}", false, &[("x-amz-invocation-type", "Sideways")])
            .await;
        assert_eq!(r.status, 400);
        let r = h.invoke_with("inv", "", false, &[]).await;
        assert_eq!(
            r.json()["event"],
            json!({}),
            "an empty payload is an empty event"
        );
        let r = h
            .invoke_with(
                "inv",
                r#"{"async": "marker-123"}"#,
                false,
                &[("x-amz-invocation-type", "Event")],
            )
            .await;
        assert_eq!(r.status, 202);
        assert!(r.body.is_empty());
        // The async invocation really ran: its print reaches the log group.
        let start = std::time::Instant::now();
        loop {
            let r = call(
                h.addr,
                "POST",
                "/",
                &[
                    ("x-amz-target", "Logs_20140328.FilterLogEvents"),
                    ("content-type", "application/x-amz-json-1.1"),
                ],
                json!({ "logGroupName": "/aws/lambda/inv", "filterPattern": "marker-123" })
                    .to_string(),
            )
            .await;
            if r.status == 200 && !r.json()["events"].as_array().unwrap().is_empty() {
                break;
            }
            assert!(
                start.elapsed() < Duration::from_secs(10),
                "event invocation never logged"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let ctx = b64(br#"{"custom": {"k": "v"}}"#);
        let r = h
            .invoke_with("inv", "{}", false, &[("x-amz-client-context", &ctx)])
            .await;
        assert_eq!(r.status, 200);
    })
    .await;
    h.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cloudwatch_logs_subset() {
    let h = builtin().await;
    bounded(60, async {
        let logs = |op: &str, body: Value| {
            let target = format!("Logs_20140328.{op}");
            async move {
                call(h.addr, "POST", "/",
                     &[("x-amz-target", &target), ("content-type", "application/x-amz-json-1.1")],
                     body.to_string())
                    .await
            }
        };
        h.deploy("lg", &[("app.py", &echo("x"))], json!({})).await;
        for i in 0..3 {
            h.invoke("lg", json!({ "i": i }), false).await;
        }
        let r = logs("DescribeLogStreams", json!({ "logGroupName": "/aws/lambda/lg" })).await;
        assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
        let streams = r.json()["logStreams"].as_array().unwrap().clone();
        assert_eq!(streams.len(), 1, "one warm worker, one stream");
        let stream = streams[0]["logStreamName"].as_str().unwrap().to_string();
        let r = logs("FilterLogEvents", json!({ "logGroupName": "/aws/lambda/lg", "logStreamNames": [stream], "limit": 2 })).await;
        let page = r.json();
        assert_eq!(page["events"].as_array().unwrap().len(), 2);
        let token = page["nextToken"].as_str().unwrap().to_string();
        let r = logs("FilterLogEvents", json!({ "logGroupName": "/aws/lambda/lg", "nextToken": token, "filterPattern": "REPORT" })).await;
        assert_eq!(r.status, 200);
        let r = logs("FilterLogEvents", json!({ "logGroupName": "/aws/lambda/lg", "filterPattern": "\"echo {'i': 2}\"" })).await;
        assert_eq!(r.json()["events"].as_array().unwrap().len(), 1, "{}", r.json());
        let far_future = 4_102_444_800_000i64;
        let r = logs("FilterLogEvents", json!({ "logGroupName": "/aws/lambda/lg", "startTime": far_future })).await;
        assert!(r.json()["events"].as_array().unwrap().is_empty());

        let r = logs("FilterLogEvents", json!({ "logGroupName": "/nope" })).await;
        assert_eq!(r.status, 400);
        assert_eq!(r.json()["__type"], "ResourceNotFoundException");
        assert_eq!(logs("CreateLogGroup", json!({ "logGroupName": "/custom" })).await.status, 200);
        assert_eq!(logs("CreateLogGroup", json!({ "logGroupName": "/custom" })).await.json()["__type"], "ResourceAlreadyExistsException");
        assert_eq!(logs("PutRetentionPolicy", json!({ "logGroupName": "/custom", "retentionInDays": 7 })).await.status, 200);
        assert_eq!(logs("PutRetentionPolicy", json!({ "logGroupName": "/custom", "retentionInDays": 8 })).await.status, 400);
        let r = logs("DescribeLogGroups", json!({ "logGroupNamePrefix": "/custom" })).await;
        assert_eq!(r.json()["logGroups"][0]["retentionInDays"], 7);
        assert_eq!(logs("DeleteRetentionPolicy", json!({ "logGroupName": "/custom" })).await.status, 200);
        assert_eq!(logs("DeleteLogGroup", json!({ "logGroupName": "/custom" })).await.status, 200);
        assert_eq!(logs("DeleteLogGroup", json!({ "logGroupName": "/custom" })).await.status, 400);
        assert_eq!(logs("Unheard", json!({})).await.status, 400);
    })
    .await;
    h.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_workers_are_reaped_and_node_is_refused() {
    let h = Harness::start_with(Bootstrap::BuiltIn, None, |c| {
        c.idle_timeout = Duration::from_millis(200)
    })
    .await;
    bounded(60, async {
        h.deploy("idle", &[("app.py", &echo("x"))], json!({})).await;
        let first = h.invoke("idle", json!({}), false).await.json()["pid"].clone();
        let warm = h.invoke("idle", json!({}), false).await.json()["pid"].clone();
        assert_eq!(first, warm);
        tokio::time::sleep(Duration::from_millis(800)).await;
        let later = h.invoke("idle", json!({}), false).await.json()["pid"].clone();
        assert_ne!(first, later, "the idle worker was reaped");

        let r = h
            .create(
                "nodefn",
                &[("index.js", "exports.handler = async () => 1;")],
                json!({ "Runtime": "nodejs20.x", "Handler": "index.handler" }),
            )
            .await;
        assert_eq!(r.status, 201);
        h.wait_active("nodefn").await;
        let r = h.invoke("nodefn", json!({}), false).await;
        assert_eq!(
            r.header("x-amz-function-error").as_deref(),
            Some("Unhandled")
        );
        assert!(r.json()["errorMessage"]
            .as_str()
            .unwrap()
            .contains("Python handlers only"));
    })
    .await;
    h.shutdown().await;
}

#[tokio::test]
async fn unusable_data_dir_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("plain-file");
    std::fs::write(&file, b"x").unwrap();
    let err = LocalLambda::start(LocalConfig::new(file.join("data")))
        .await
        .unwrap_err();
    let msg = err.to_string();
    assert!(msg.contains("plain-file"), "{msg}");
    assert!(!msg.contains('\n'), "{msg}");
}

/// The update window is the configured one: still Pending well inside it, Active after it, and a
/// change inside it gets AWS's 409 for the state it is in.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_update_window_is_configurable() {
    let h = Harness::start_with(Bootstrap::BuiltIn, None, |c| {
        c.update_window = Duration::from_millis(1500)
    })
    .await;
    bounded(60, async {
        let files = [("app.py", "def handler(e, c):\n    return 1\n")];
        assert_eq!(h.create("slow", &files, json!({})).await.status, 201);
        tokio::time::sleep(Duration::from_millis(700)).await;
        let r = h
            .call(
                "GET",
                "/2015-03-31/functions/slow/configuration",
                Value::Null,
            )
            .await;
        assert_eq!(r.json()["State"], "Pending", "{}", r.json());
        let r = h
            .call(
                "PUT",
                "/2015-03-31/functions/slow/configuration",
                json!({ "Timeout": 5 }),
            )
            .await;
        assert_eq!(
            (r.status, error_type(&r).as_str()),
            (409, "ResourceConflictException")
        );
        h.wait_active("slow").await;
    })
    .await;
    h.shutdown().await;
}

/// lambda-ls's live loop (`x-lambda-ls-live`) gets its code update answered once the new code
/// serves, without the update window; the same update without the header keeps the window, and
/// until a live update completes the previous code keeps serving.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn live_code_updates_skip_the_update_window_and_only_they_do() {
    let h = Harness::start_with(Bootstrap::BuiltIn, None, |c| {
        c.update_window = Duration::from_millis(1500)
    })
    .await;
    bounded(60, async {
        let code = |v: u32| {
            let text = format!("def handler(e, c):\n    return {v}\n");
            json!({ "ZipFile": b64(&zip(&[("app.py", text.as_str())])) })
        };
        assert_eq!(
            h.create(
                "live",
                &[("app.py", "def handler(e, c):\n    return 1\n")],
                json!({})
            )
            .await
            .status,
            201
        );
        h.wait_active("live").await;
        let addr = h.addr;
        let update = |v: u32, live: bool| {
            let mut headers = vec![("content-type", "application/json")];
            if live {
                headers.push((lambda_local::LIVE_HEADER, "1"));
            }
            let body = code(v).to_string();
            async move {
                call(
                    addr,
                    "PUT",
                    "/2015-03-31/functions/live/code",
                    &headers,
                    body,
                )
                .await
            }
        };
        let r = update(2, true).await;
        assert_eq!(r.status, 200, "{}", r.json());
        assert_eq!(r.json()["LastUpdateStatus"], "Successful", "{}", r.json());
        assert_eq!(h.invoke("live", json!({}), false).await.body.as_ref(), b"2");

        let r = update(3, false).await;
        assert_eq!(r.json()["LastUpdateStatus"], "InProgress", "{}", r.json());
        // Inside the window: still the previous code, and AWS's 409 for another change.
        assert_eq!(h.invoke("live", json!({}), false).await.body.as_ref(), b"2");
        let r = update(4, true).await;
        assert_eq!(
            (r.status, error_type(&r).as_str()),
            (409, "ResourceConflictException")
        );
        h.wait_for("live", |c| c["LastUpdateStatus"] == "Successful")
            .await;
        assert_eq!(h.invoke("live", json!({}), false).await.body.as_ref(), b"3");
    })
    .await;
    h.shutdown().await;
}
