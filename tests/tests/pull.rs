//! `lambda-ls pull`: round trip through the local Lambda (pull, then deploy reports unchanged),
//! moto's unreachable code locations, and hostile zips served by the local Lambda.

use std::io::Write;
use std::path::Path;

use aws_sdk_lambda::primitives::Blob;
use aws_sdk_lambda::types::{FunctionCode, Runtime};
use lambda_deploy::pull::{pull, PullRequest};
use lambda_ls_tests::{error_line, project, run, stderr, stdout_json, Moto};
use zip::write::SimpleFileOptions;

const APP: &str = "import helper\n\n\ndef handler(event, context):\n    return helper.greet(event.get(\"name\", \"world\"))\n";
const HELPER: &str =
    "import os\n\n\ndef greet(name):\n    return f\"{os.environ.get('GREETING', 'hi')} {name}\"\n";

/// Every file under `root`, relative, sorted.
fn files_under(root: &Path) -> Vec<String> {
    let mut out = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in entries {
            let p = e.unwrap().path();
            if p.is_dir() && !p.is_symlink() {
                stack.push(p);
            } else {
                out.push(p.strip_prefix(root).unwrap().display().to_string());
            }
        }
    }
    out.sort();
    out
}

#[test]
fn pulled_function_deploys_back_unchanged_on_the_local_lambda() {
    let home = tempfile::tempdir().unwrap();
    let proj = project(&[("app.py", APP), ("helper.py", HELPER)]);
    let target = proj.path().join("app.py");
    let target = format!("{}:handler", target.display());
    let args = [
        "deploy",
        &target,
        "--name",
        "greeter",
        "--memory",
        "256",
        "--timeout",
        "12",
        "--env",
        "GREETING=hello",
        "--json",
    ];
    let out = run(home.path(), None, &args);
    assert!(out.status.success(), "{}", stderr(&out));

    let dir = home.path().join("pulled");
    let dir_arg = dir.display().to_string();
    let out = run(
        home.path(),
        None,
        &["pull", "greeter", "--dir", &dir_arg, "--with-env", "--json"],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let v = stdout_json(&out);
    assert_eq!(v["target"], "app.py:handler");
    assert_eq!(
        files_under(&dir),
        vec!["app.py", "helper.py", "lambda.toml"]
    );
    assert_eq!(
        std::fs::read_to_string(dir.join("helper.py")).unwrap(),
        HELPER
    );
    let toml = std::fs::read_to_string(dir.join("lambda.toml")).unwrap();
    for line in [
        "target = \"app.py:handler\"",
        "name = \"greeter\"",
        "memory = 256",
        "timeout = 12",
        "env = { GREETING = \"hello\" }",
    ] {
        assert!(toml.contains(line), "{line} missing from:\n{toml}");
    }

    // Deploying the pulled folder reproduces the function exactly: same code hash, same settings.
    let again = format!("{}:handler", dir.join("app.py").display());
    let out = run(home.path(), None, &["deploy", &again, "--json"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stdout_json(&out)["deploy"]["action"], "unchanged", "{toml}");

    // Without --with-env only the names are written, with a warning; a non-empty folder is refused.
    let quiet = home.path().join("no-env");
    let quiet_arg = quiet.display().to_string();
    let out = run(home.path(), None, &["pull", "greeter", "--dir", &quiet_arg]);
    assert!(out.status.success(), "{}", stderr(&out));
    let toml = std::fs::read_to_string(quiet.join("lambda.toml")).unwrap();
    assert!(
        toml.contains("GREETING") && !toml.contains("hello"),
        "{toml}"
    );
    assert!(stderr(&out).contains("environment values left out of lambda.toml (GREETING)"));
    let out = run(home.path(), None, &["pull", "greeter", "--dir", &quiet_arg]);
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        error_line(&out),
        format!("error: {quiet_arg} is not empty; pull into a new or empty folder")
    );
}

#[test]
fn moto_code_locations_are_not_followed_off_loopback() {
    let moto = Moto::start();
    let home = tempfile::tempdir().unwrap();
    moto.profile_files(home.path());
    let out = run(
        home.path(),
        Some(&moto),
        &[
            "deploy",
            "examples/hello/handler.py:handler",
            "--profile",
            "moto",
            "--name",
            "hello-pull",
        ],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let dir = home.path().join("pulled");
    let dir_arg = dir.display().to_string();
    let out = run(
        home.path(),
        Some(&moto),
        &["pull", "hello-pull", "--profile", "moto", "--dir", &dir_arg],
    );
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert_eq!(
        error_line(&out),
        format!(
            "error: cannot download the code of hello-pull: {} gave a location on awslambda-us-east-1-tasks.s3.us-east-1.amazonaws.com, not on itself; emulators such as moto answer with locations they do not serve",
            moto.endpoint()
        )
    );
    assert!(!dir.exists());
    let missing = run(
        home.path(),
        Some(&moto),
        &["pull", "nope", "--profile", "moto", "--dir", &dir_arg],
    );
    assert_eq!(missing.status.code(), Some(1));
    assert!(
        error_line(&missing).contains("nope"),
        "{}",
        error_line(&missing)
    );
}

fn hostile_zip(build: impl FnOnce(&mut zip::ZipWriter<std::io::Cursor<Vec<u8>>>)) -> Vec<u8> {
    let mut w = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    w.start_file("app.py", SimpleFileOptions::default())
        .unwrap();
    w.write_all(b"def handler(event, context):\n    return 1\n")
        .unwrap();
    build(&mut w);
    w.finish().unwrap().into_inner()
}

/// Rewrites the uncompressed size that `name`'s local and central headers declare: a zip bomb
/// that lies about its size.
fn understate(mut zip: Vec<u8>, name: &str, claimed: u32) -> Vec<u8> {
    let name = name.as_bytes();
    let name_len = |zip: &[u8], at: usize| u16::from_le_bytes([zip[at], zip[at + 1]]) as usize;
    let mut patched = 0;
    for i in 0..zip.len().saturating_sub(46) {
        let (size_at, name_at) = match zip[i..i + 4] {
            [0x50, 0x4b, 0x03, 0x04] if name_len(&zip, i + 26) == name.len() => (i + 22, i + 30),
            [0x50, 0x4b, 0x01, 0x02] if name_len(&zip, i + 28) == name.len() => (i + 24, i + 46),
            _ => continue,
        };
        if zip[name_at..].starts_with(name) {
            zip[size_at..size_at + 4].copy_from_slice(&claimed.to_le_bytes());
            patched += 1;
        }
    }
    assert_eq!(
        patched, 2,
        "one local and one central header name the entry"
    );
    zip
}

#[tokio::test]
async fn hostile_zips_from_the_local_lambda_write_nothing() {
    let data = tempfile::tempdir().unwrap();
    let (local, conn) = lambda_ls_tests::local_lambda(data.path()).await;
    let deflated =
        SimpleFileOptions::default().compression_method(zip::CompressionMethod::Deflated);
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        (
            "slip",
            hostile_zip(|w| {
                w.start_file("../../escaped.py", SimpleFileOptions::default()).unwrap();
                w.write_all(b"owned = True\n").unwrap();
            }),
            "refused the code zip: `../../escaped.py` points outside the folder; nothing was written",
        ),
        (
            "link",
            hostile_zip(|w| {
                w.add_symlink("data", "/etc", SimpleFileOptions::default()).unwrap();
            }),
            "refused the code zip: `data` is a link; nothing was written",
        ),
        (
            "bomb",
            // Its headers claim 1 MiB, so the local Lambda (which checks the declared sizes, as
            // AWS does) stores it; only counting what really inflates catches it.
            understate(
                hostile_zip(|w| {
                    w.start_file("zeros.bin", deflated).unwrap();
                    let chunk = vec![0u8; 1 << 20];
                    for _ in 0..251 {
                        w.write_all(&chunk).unwrap();
                    }
                }),
                "zeros.bin",
                1 << 20,
            ),
            "refused the code zip: it unpacks to more than 262144000 bytes; nothing was written",
        ),
    ];
    for (name, zip, sentence) in cases {
        conn.lambda
            .create_function()
            .function_name(name)
            .runtime(Runtime::Python312)
            .role("arn:aws:iam::123456789012:role/lambda-ls-execution")
            .handler("app.handler")
            .code(FunctionCode::builder().zip_file(Blob::new(zip)).build())
            .send()
            .await
            .unwrap_or_else(|e| panic!("the local Lambda stores the {name} zip: {e:?}"));
        let parent = tempfile::tempdir().unwrap();
        let dir = parent.path().join("a").join("b");
        let req = PullRequest {
            function: name.to_string(),
            dir: dir.clone(),
            with_env: false,
        };
        let err = pull(&conn, &req).await.unwrap_err();
        assert_eq!(err.to_string(), sentence);
        assert_eq!(files_under(parent.path()), Vec::<String>::new(), "{name}");
    }
    local.shutdown().await;
}
