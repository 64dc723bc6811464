//! Dependencies, maintenance and sharing through the CLI, on the local Lambda and on moto.

use lambda_ls_tests::{project, run, stderr, stdout_json, Moto};

/// A handler that needs a third-party package from PyPI, installed into a layer.
fn needs_six() -> tempfile::TempDir {
    project(&[
        ("requirements.txt", "six==1.16.0\n"),
        ("app.py", "import six\n\ndef handler(event, context):\n    print('six', six.__version__)\n    return {'six': six.__version__}\n"),
    ])
}

#[test]
fn requirements_become_a_layer_that_is_built_and_published_once() {
    let moto = Moto::start_with(false);
    let home = tempfile::tempdir().unwrap();
    moto.profile_files(home.path());
    let proj = needs_six();
    let target = format!("{}:handler", proj.path().join("app.py").display());
    let cache = home.path().join("cache");
    std::env::set_var("LAMBDA_LS_CACHE_DIR", &cache);

    // The local Lambda really runs it: `six` must come from the layer.
    let out = run(
        home.path(),
        None,
        &[
            "deploy", &target, "--name", "six-fn", "--invoke", "{}", "--json",
        ],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let v = stdout_json(&out);
    assert_eq!(v["invoke"]["payload"], serde_json::json!({"six": "1.16.0"}));
    let built: Vec<_> = std::fs::read_dir(cache.join("requirements"))
        .unwrap()
        .filter_map(Result::ok)
        .collect();
    assert_eq!(built.len(), 1, "one cached build: {built:?}");

    // moto: the second deploy of unchanged requirements publishes nothing new.
    for _ in 0..2 {
        let out = run(
            home.path(),
            Some(&moto),
            &[
                "deploy",
                &target,
                "--name",
                "six-fn",
                "--profile",
                "moto",
                "--json",
            ],
        );
        assert!(out.status.success(), "{}", stderr(&out));
    }
    assert_eq!(
        moto.count("POST /2018-10-31/layers/lambda-ls-deps-"),
        1,
        "{:?}",
        moto.requests()
    );
    let cfg = run(
        home.path(),
        Some(&moto),
        &["list", "--profile", "moto", "--json"],
    );
    assert!(cfg.status.success());

    // delete --all removes the layer version and the role this tool created.
    let out = run(
        home.path(),
        Some(&moto),
        &["delete", "six-fn", "--all", "--profile", "moto", "--json"],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let v = stdout_json(&out);
    assert_eq!(
        v["deleted"]["layer_versions"].as_array().unwrap().len(),
        1,
        "{v}"
    );
    assert!(
        v["deleted"]["role"]
            .as_str()
            .unwrap()
            .ends_with("role/lambda-ls-execution"),
        "{v}"
    );

    // A package without a wheel for Lambda's platform is named.
    let bad = project(&[
        (
            "requirements.txt",
            "surely-no-such-package-lambda-ls==9.9.9\n",
        ),
        ("app.py", "def handler(event, context):\n    return 1\n"),
    ]);
    let bad_target = format!("{}:handler", bad.path().join("app.py").display());
    let out = run(home.path(), None, &["deploy", &bad_target]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains(
            "`surely-no-such-package-lambda-ls==9.9.9` has no wheel for Lambda's platform"
        ),
        "{}",
        stderr(&out)
    );
}

#[test]
fn publish_share_logs_and_map_on_the_local_lambda() {
    let home = tempfile::tempdir().unwrap();
    let target = "examples/hello/handler.py:handler";
    let out = run(
        home.path(),
        None,
        &[
            "deploy",
            target,
            "--name",
            "hello",
            "--invoke",
            r#"{"name": "logs"}"#,
        ],
    );
    assert!(out.status.success(), "{}", stderr(&out));

    let out = run(
        home.path(),
        None,
        &["publish", "hello", "--alias", "live", "--json"],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stdout_json(&out)["version"], "1");
    let out = run(
        home.path(),
        None,
        &[
            "invoke",
            "hello",
            "--qualifier",
            "live",
            "--payload",
            r#"{"name": "alias"}"#,
            "--json",
        ],
    );
    assert_eq!(stdout_json(&out)["payload"]["body"], "Hello, alias!");

    let out = run(
        home.path(),
        None,
        &["share", "hello", "--account", "210987654321", "--json"],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(
        stdout_json(&out)["statements"][0]["Sid"],
        "lambda-ls-share-210987654321"
    );
    let out = run(home.path(), None, &["share", "hello", "--url", "--public"]);
    assert!(
        stderr(&out).contains("callable by anyone on this machine"),
        "{}",
        stderr(&out)
    );
    let out = run(home.path(), None, &["share", "hello", "--account", "12"]);
    assert_eq!(out.status.code(), Some(2));
    let out = run(home.path(), None, &["unshare", "hello", "--json"]);
    let removed = stdout_json(&out)["removed"].to_string();
    assert!(
        removed.contains("lambda-ls-share-210987654321") && removed.contains("function url"),
        "{removed}"
    );

    let out = run(home.path(), None, &["logs", "hello", "--since", "10m"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("greeting logs") && text.contains("greeting alias"),
        "{text}"
    );

    // Fan-out with a failing input in the middle: every result, in order, exit 1.
    let inputs = home.path().join("inputs.jsonl");
    let lines: Vec<String> = (0..200)
        .map(|i| {
            if i == 100 {
                "\"not an object\"".to_string()
            } else {
                format!("{{\"name\": \"n{i}\"}}")
            }
        })
        .collect();
    std::fs::write(&inputs, lines.join("\n")).unwrap();
    let out = run(
        home.path(),
        None,
        &[
            "map",
            "hello",
            "--inputs",
            inputs.to_str().unwrap(),
            "--concurrency",
            "8",
        ],
    );
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let results: Vec<serde_json::Value> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(results.len(), 200);
    for (i, r) in results.iter().enumerate() {
        assert_eq!(r["index"], i);
        if i == 100 {
            assert_eq!(r["ok"], false);
            assert_eq!(r["output"]["errorType"], "AttributeError");
        } else {
            assert_eq!(r["output"]["body"], format!("Hello, n{i}!"));
        }
    }
    assert!(stderr(&out).contains("1 of 200 inputs failed"));
}

#[tokio::test]
async fn lambda_toml_can_bundle_requirements_into_the_function_zip() {
    let home = tempfile::tempdir().unwrap();
    let proj = needs_six();
    std::fs::write(
        proj.path().join("lambda.toml"),
        "[defaults]\nbundle_requirements = true\n",
    )
    .unwrap();
    let target = format!("{}:handler", proj.path().join("app.py").display());
    let out = run(
        home.path(),
        None,
        &[
            "deploy", &target, "--name", "bundled", "--invoke", "{}", "--json",
        ],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let v = stdout_json(&out);
    assert_eq!(v["invoke"]["payload"], serde_json::json!({"six": "1.16.0"}));

    // `package` writes the zip that deploy uploaded, bundled requirements included.
    let zip = home.path().join("bundled.zip");
    let packaged = run(
        home.path(),
        None,
        &["package", &target, "--out", zip.to_str().unwrap(), "--json"],
    );
    assert!(packaged.status.success(), "{}", stderr(&packaged));
    let p = stdout_json(&packaged);
    assert_eq!(p["package"]["code_sha256"], v["deploy"]["code_sha256"]);
    let files = p["package"]["files"].as_array().unwrap();
    assert!(files.iter().any(|f| f == "six.py"), "{files:?}");

    // No layer: six.py travelled inside the function's own zip.
    let local =
        lambda_local::LocalLambda::start(lambda_local::LocalConfig::new(home.path().join("local")))
            .await
            .unwrap();
    let conn = lambda_deploy::aws::Connection::connect(&lambda_deploy::aws::Endpoint::Local {
        url: local.endpoint(),
    })
    .await
    .unwrap();
    let cfg = lambda_deploy::deploy::get_configuration(&conn, "bundled")
        .await
        .unwrap()
        .unwrap();
    assert!(cfg.layers().is_empty(), "{:?}", cfg.layers());
    let code = conn
        .lambda
        .get_function()
        .function_name("bundled")
        .send()
        .await
        .unwrap();
    assert!(
        code.configuration().unwrap().code_size() > 5_000,
        "six.py (34 KB, about 11 KB deflated) is in the zip; the app alone is ~300 B"
    );
    local.shutdown().await;
}
