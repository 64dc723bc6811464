//! Function URLs served by the local Lambda, called with real HTTP clients (curl and Python's
//! urllib, botocore for signing): the payload-2.0 event, AWS's response mapping, 502 for a
//! raising handler, SigV4 on `AWS_IAM` URLs, CORS, and a deleted URL.

use std::path::Path;
use std::process::Command;

use lambda_deploy::aws::{Connection, Endpoint};
use lambda_local::{LocalConfig, LocalLambda};
use lambda_ls_tests::{project, run, stderr, stdout_json, test_venv};
use serde_json::Value;

const APP: &str = r#"import base64
import json
import time


def handler(event, context):
    path = event["rawPath"]
    if path == "/plain":
        return "hello text"
    if path == "/json":
        return {"ok": True}
    if path == "/dict":
        return {
            "statusCode": 201,
            "headers": {"x-custom": "yes", "content-type": "application/octet-stream"},
            "cookies": ["a=1; Path=/", "b=2"],
            "body": base64.b64encode(b"\x00\x01binary").decode(),
            "isBase64Encoded": True,
        }
    if path == "/boom":
        raise ValueError("boom")
    if path == "/slow":
        time.sleep(10)
    if path == "/big":
        return "x" * (7 * 1024 * 1024)
    return {"statusCode": 200, "headers": {"content-type": "application/json"}, "body": json.dumps(event)}
"#;

/// Status, raw headers and body of one curl call (bounded in time).
struct Answer {
    status: u16,
    headers: String,
    body: Vec<u8>,
}

impl Answer {
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&self.body)))
    }

    fn header(&self, name: &str) -> Vec<String> {
        self.headers
            .lines()
            .filter_map(|l| l.split_once(':'))
            .filter(|(k, _)| k.trim().eq_ignore_ascii_case(name))
            .map(|(_, v)| v.trim().to_string())
            .collect()
    }
}

fn curl(dir: &Path, args: &[&str]) -> Answer {
    let (body, headers) = (dir.join("body"), dir.join("headers"));
    let out = Command::new("curl")
        .args(["-s", "--max-time", "30", "-o"])
        .arg(&body)
        .arg("-D")
        .arg(&headers)
        .args(["-w", "%{http_code}"])
        .args(args)
        .output()
        .expect("run curl");
    Answer {
        status: String::from_utf8_lossy(&out.stdout)
            .trim()
            .parse()
            .unwrap_or(0),
        headers: std::fs::read_to_string(&headers).unwrap_or_default(),
        body: std::fs::read(&body).unwrap_or_default(),
    }
}

/// Runs a Python snippet with the test venv's interpreter and arguments; its stdout.
fn python(script: &str, args: &[&str]) -> String {
    let out = Command::new(test_venv().join("bin/python"))
        .args(["-c", script])
        .args(args)
        .output()
        .expect("run python");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

const URLLIB_POST: &str = r#"
import json, sys, urllib.request
req = urllib.request.Request(sys.argv[1] + "echo", data=json.dumps({"a": [1, 2]}).encode(),
                             headers={"Content-Type": "application/json"}, method="POST")
with urllib.request.urlopen(req, timeout=30) as r:
    print(json.dumps({"status": r.status, "event": json.loads(r.read())}))
"#;

/// The served event against an independent definition (aws-lambda-powertools' parser model)
/// and against the catalog's function-url event, which is shaped as AWS delivers it.
const SAME_SHAPE: &str = r#"
import json, sys
from aws_lambda_powertools.utilities.parser import models as m
event, template = json.loads(sys.argv[1]), json.load(open(sys.argv[2]))
m.LambdaFunctionUrlModel.model_validate(event)
extra = set(event) - set(template) - {"cookies"}
context = (set(event["requestContext"]) ^ set(template["requestContext"])) - {"authorizer"}
http = set(event["requestContext"]["http"]) ^ set(template["requestContext"]["http"])
assert not (extra or context or http), (extra, context, http)
print("same shape")
"#;

const BOTOCORE_SIGNED: &str = r#"
import json, sys, urllib.request
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
req = AWSRequest(method="POST", url=sys.argv[1] + "echo?q=a%20b", data=b'{"signed": true}',
                 headers={"Content-Type": "application/json"})
SigV4Auth(Credentials("local", "local"), "lambda", "us-east-1").add_auth(req)
r = urllib.request.Request(req.url, data=req.body, headers=dict(req.headers.items()), method="POST")
with urllib.request.urlopen(r, timeout=30) as resp:
    print(json.dumps({"status": resp.status, "event": json.loads(resp.read())}))
"#;

/// Deploys `app.py:handler` as `name` and gives it a URL; the URL.
fn deploy_with_url(home: &Path, app: &Path, name: &str, public: bool) -> String {
    let target = format!("{}:handler", app.display());
    let out = run(
        home,
        None,
        &["deploy", &target, "--name", name, "--timeout", "2"],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let mut args = vec!["share", name, "--url", "--json"];
    if public {
        args.push("--public");
    }
    let out = run(home, None, &args);
    assert!(out.status.success(), "{}", stderr(&out));
    let url = stdout_json(&out)["url"].as_str().unwrap().to_string();
    assert!(url.starts_with("http://127.0.0.1:"), "{url}");
    url
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn function_urls_answer_real_http_clients() {
    let home = tempfile::tempdir().unwrap();
    // The CLI finds this running local Lambda through its data directory and shares it.
    let local = LocalLambda::start(LocalConfig::new(home.path().join("local")))
        .await
        .unwrap();
    let proj = project(&[("app.py", APP)]);
    let app = proj.path().join("app.py");
    let (h, a) = (home.path().to_path_buf(), app.clone());
    let url = tokio::task::spawn_blocking(move || deploy_with_url(&h, &a, "web", true))
        .await
        .unwrap();
    let scratch = tempfile::tempdir().unwrap();
    let d = scratch.path();

    // GET with a query, a repeated header and cookies: the event as AWS builds it.
    let get = curl(
        d,
        &[
            &format!("{url}echo?x=1&x=2&msg=hello%20world"),
            "-H",
            "X-Multi: one",
            "-H",
            "X-Multi: two",
            "--cookie",
            "c1=v1; c2=v2",
        ],
    );
    assert_eq!(get.status, 200, "{}", String::from_utf8_lossy(&get.body));
    let e = get.json();
    assert_eq!(e["version"], "2.0");
    assert_eq!(e["rawPath"], "/echo");
    assert_eq!(e["rawQueryString"], "x=1&x=2&msg=hello%20world");
    assert_eq!(e["queryStringParameters"]["x"], "1,2");
    assert_eq!(e["queryStringParameters"]["msg"], "hello world");
    assert_eq!(e["headers"]["x-multi"], "one,two");
    assert_eq!(e["cookies"], serde_json::json!(["c1=v1", "c2=v2"]));
    assert_eq!(e["requestContext"]["http"]["method"], "GET");
    assert!(e.get("body").is_none());

    // POST with a JSON body, from Python's urllib.
    let posted: Value = serde_json::from_str(&python(URLLIB_POST, &[&url])).unwrap();
    assert_eq!(posted["status"], 200);
    assert_eq!(posted["event"]["body"], r#"{"a": [1, 2]}"#);
    assert_eq!(posted["event"]["isBase64Encoded"], false);
    assert_eq!(posted["event"]["requestContext"]["http"]["method"], "POST");
    let template = lambda_ls_tests::repo_root().join("server/deploy/events/function-url.json");
    let template = template.display().to_string();
    for event in [&e, &posted["event"]] {
        let shape = python(SAME_SHAPE, &[&event.to_string(), &template]);
        assert_eq!(shape.trim(), "same shape");
    }

    // A binary body arrives base64-encoded.
    std::fs::write(d.join("bin"), [0u8, 159, 146, 150, 255]).unwrap();
    let bin = curl(
        d,
        &[
            &format!("{url}echo"),
            "-H",
            "Content-Type: application/octet-stream",
            "--data-binary",
            &format!("@{}", d.join("bin").display()),
        ],
    );
    let e = bin.json();
    assert_eq!(e["isBase64Encoded"], true);
    assert_eq!(e["body"], "AJ+Slv8=");

    // A plain string, any JSON, a full response dict, a raising handler.
    let plain = curl(d, &[&format!("{url}plain")]);
    assert_eq!(
        (plain.status, plain.body.as_slice()),
        (200, &b"hello text"[..])
    );
    assert_eq!(plain.header("content-type"), ["application/json"]);
    let json = curl(d, &[&format!("{url}json")]);
    assert_eq!(
        (json.status, json.json()),
        (200, serde_json::json!({"ok": true}))
    );
    let full = curl(d, &[&format!("{url}dict")]);
    assert_eq!(full.status, 201);
    assert_eq!(full.header("x-custom"), ["yes"]);
    assert_eq!(full.header("set-cookie"), ["a=1; Path=/", "b=2"]);
    assert_eq!(full.body, b"\x00\x01binary");
    let boom = curl(d, &[&format!("{url}boom")]);
    assert_eq!(boom.status, 502);
    // A timeout and an answer over Lambda's 6 MB response limit are 502 as well.
    assert_eq!(curl(d, &[&format!("{url}slow")]).status, 502);
    assert_eq!(curl(d, &[&format!("{url}big")]).status, 502);

    let private = check_iam_url(&home, &app, d).await;
    check_cors_and_delete(&local, &url, d).await;
    local.shutdown().await;

    // After a restart the stored URL is served again, at the same address.
    let local = LocalLambda::start(LocalConfig::new(home.path().join("local")))
        .await
        .unwrap();
    let again = curl(d, &[&format!("{private}echo")]);
    assert_eq!(
        again.status, 403,
        "an AWS_IAM URL, served again after a restart"
    );
    local.shutdown().await;
}

/// An `AWS_IAM` URL: unsigned or wrongly signed is 403, signed by curl or botocore is served.
async fn check_iam_url(home: &tempfile::TempDir, app: &Path, d: &Path) -> String {
    let (h, a) = (home.path().to_path_buf(), app.to_path_buf());
    let url = tokio::task::spawn_blocking(move || deploy_with_url(&h, &a, "private", false))
        .await
        .unwrap();
    let unsigned = curl(d, &[&format!("{url}echo")]);
    assert_eq!(unsigned.status, 403);
    assert_eq!(unsigned.json(), serde_json::json!({"Message": "Forbidden"}));
    let wrong = curl(
        d,
        &[
            &format!("{url}echo"),
            "--aws-sigv4",
            "aws:amz:us-east-1:lambda",
            "--user",
            "local:wrong",
        ],
    );
    assert_eq!(wrong.status, 403);
    let signed = curl(
        d,
        &[
            &format!("{url}echo?k=v"),
            "--aws-sigv4",
            "aws:amz:us-east-1:lambda",
            "--user",
            "local:local",
        ],
    );
    assert_eq!(
        signed.status,
        200,
        "{}",
        String::from_utf8_lossy(&signed.body)
    );
    assert_eq!(
        signed.json()["requestContext"]["authorizer"]["iam"]["accessKey"],
        "local"
    );
    let signed: Value = serde_json::from_str(&python(BOTOCORE_SIGNED, &[&url])).unwrap();
    assert_eq!(signed["status"], 200);
    assert_eq!(signed["event"]["queryStringParameters"]["q"], "a b");
    let template = lambda_ls_tests::repo_root().join("server/deploy/events/function-url.json");
    let shape = python(
        SAME_SHAPE,
        &[
            &signed["event"].to_string(),
            &template.display().to_string(),
        ],
    );
    assert_eq!(shape.trim(), "same shape");
    url
}

/// CORS settings answer preflights; a deleted URL stops being served.
async fn check_cors_and_delete(local: &LocalLambda, url: &str, d: &Path) {
    use aws_sdk_lambda::types::Cors;
    let conn = Connection::connect(&Endpoint::Local {
        url: local.endpoint(),
    })
    .await
    .unwrap();
    let cors = Cors::builder()
        .allow_origins("http://app.example")
        .allow_methods("POST")
        .allow_headers("content-type")
        .max_age(60)
        .build();
    conn.lambda
        .update_function_url_config()
        .function_name("web")
        .cors(cors)
        .send()
        .await
        .unwrap();
    let preflight = curl(
        d,
        &[
            "-X",
            "OPTIONS",
            url,
            "-H",
            "Origin: http://app.example",
            "-H",
            "Access-Control-Request-Method: POST",
        ],
    );
    assert_eq!(preflight.status, 200);
    assert_eq!(
        preflight.header("access-control-allow-origin"),
        ["http://app.example"]
    );
    assert_eq!(preflight.header("access-control-allow-methods"), ["POST"]);
    assert_eq!(preflight.header("access-control-max-age"), ["60"]);
    let other = curl(
        d,
        &[&format!("{url}json"), "-H", "Origin: http://evil.example"],
    );
    assert_eq!(other.status, 200);
    assert!(other.header("access-control-allow-origin").is_empty());
    conn.lambda
        .delete_function_url_config()
        .function_name("web")
        .send()
        .await
        .unwrap();
    let gone = curl(d, &[&format!("{url}json")]);
    assert_ne!(gone.status, 200, "a deleted URL must not be served");
}
