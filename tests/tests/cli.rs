//! The `lambda-ls` command line end to end: real binary, real profile files, moto and the local Lambda.

use lambda_ls_tests::{error_line, run, stderr, stdout_json, Moto};

#[test]
fn profiles_are_listed_without_secrets_and_local_is_selected_by_default() {
    let moto = Moto::start();
    let home = tempfile::tempdir().unwrap();
    moto.profile_files(home.path());
    let out = run(home.path(), None, &["profiles", "--json"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let v = stdout_json(&out);
    let names: Vec<&str> = v["profiles"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, vec!["assumed", "moto", "noregion", "local"]);
    assert_eq!(
        v["selected"], "local",
        "no AWS_PROFILE and no default profile"
    );
    let assumed = &v["profiles"][0];
    assert_eq!(assumed["kind"], "assume-role");
    assert_eq!(assumed["source_profile"], "moto");
    assert_eq!(assumed["region"], "eu-west-1");
}

#[test]
fn deploy_invoke_list_delete_against_moto_with_exit_codes() {
    let moto = Moto::start();
    let home = tempfile::tempdir().unwrap();
    moto.profile_files(home.path());
    let target = "examples/hello/handler.py:handler";

    let out = run(
        home.path(),
        Some(&moto),
        &[
            "deploy",
            target,
            "--profile",
            "moto",
            "--name",
            "hello-cli",
            "--json",
        ],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let v = stdout_json(&out);
    assert_eq!(v["deploy"]["action"], "created");
    assert_eq!(v["deploy"]["handler"], "handler.handler");
    assert_eq!(v["deploy"]["target"]["profile"], "moto");

    let again = run(
        home.path(),
        Some(&moto),
        &[
            "deploy",
            target,
            "--profile",
            "moto",
            "--name",
            "hello-cli",
            "--json",
        ],
    );
    assert_eq!(stdout_json(&again)["deploy"]["action"], "unchanged");

    // moto echoes the payload.
    let out = run(
        home.path(),
        Some(&moto),
        &[
            "invoke",
            "hello-cli",
            "--profile",
            "moto",
            "--payload",
            r#"{"name": "cli"}"#,
            "--json",
        ],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(
        stdout_json(&out)["payload"],
        serde_json::json!({"name": "cli"})
    );

    let out = run(
        home.path(),
        Some(&moto),
        &["list", "--profile", "moto", "--json"],
    );
    let list = stdout_json(&out);
    assert_eq!(list[0]["name"], "hello-cli");
    assert_eq!(list[0]["runtime"], "python3.12");

    let out = run(
        home.path(),
        Some(&moto),
        &["delete", "hello-cli", "--profile", "moto"],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    // Deleting twice: AWS (and moto) answer ResourceNotFoundException. (moto's simple backend
    // answers even an invoke of a missing function with 200, so invoke cannot show it here.)
    let out = run(
        home.path(),
        Some(&moto),
        &["delete", "hello-cli", "--profile", "moto"],
    );
    assert_eq!(out.status.code(), Some(1), "AWS refused: exit 1");
    assert!(
        error_line(&out).contains("`lambda-ls list` shows the functions that exist"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn assume_role_profile_goes_through_sts() {
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
            "assumed",
            "--name",
            "via-role",
            "--json",
        ],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let v = stdout_json(&out);
    assert_eq!(v["deploy"]["target"]["profile"], "assumed");
    assert_eq!(v["deploy"]["target"]["region"], "eu-west-1");
    // moto gives assumed-role credentials the role's account, so the ARN proves STS was used.
    let arn = v["deploy"]["function_arn"].as_str().unwrap();
    assert!(
        arn.starts_with("arn:aws:lambda:eu-west-1:111111111111:function:via-role"),
        "{arn}"
    );
    assert!(
        moto.count("POST / HTTP") >= 1,
        "an STS AssumeRole call reached moto"
    );
}

#[test]
fn bad_input_is_one_sentence_and_exit_2() {
    let moto = Moto::start();
    let home = tempfile::tempdir().unwrap();
    moto.profile_files(home.path());
    let cases: &[(&[&str], &str)] = &[
        (
            &[
                "deploy",
                "examples/hello/handler.py:handler",
                "--profile",
                "nope",
            ],
            "unknown AWS profile `nope`; known profiles: assumed, moto, noregion, local",
        ),
        (
            &[
                "deploy",
                "examples/hello/handler.py:handler",
                "--profile",
                "noregion",
            ],
            "profile noregion has no region; set `region` in its section of the AWS config file or choose a region (--region)",
        ),
        (
            &[
                "deploy",
                "examples/hello/handler.py:missing",
                "--profile",
                "moto",
            ],
            "no top-level function `missing`",
        ),
        (
            &["deploy", "examples/hello/handler.py", "--profile", "moto"],
            "is not FILE.py:FUNCTION",
        ),
        (
            &[
                "deploy",
                "examples/hello/handler.py:handler",
                "--profile",
                "moto",
                "--timeout",
                "901",
            ],
            "timeout must be between 1 and 900 seconds, got 901",
        ),
        (
            &[
                "deploy",
                "examples/hello/handler.py:handler",
                "--profile",
                "moto",
                "--memory",
                "64",
            ],
            "memory must be between 128 and 10240 MB, got 64",
        ),
        (
            &[
                "deploy",
                "examples/hello/handler.py:handler",
                "--profile",
                "moto",
                "--runtime",
                "python2.7",
            ],
            "unsupported runtime `python2.7`",
        ),
        (
            &[
                "deploy",
                "examples/hello/handler.py:handler",
                "--profile",
                "moto",
                "--name",
                "bad name",
            ],
            "function name `bad name` is invalid",
        ),
        (
            &[
                "deploy",
                "examples/hello/handler.py:handler",
                "--profile",
                "moto",
                "--invoke",
                "{nope",
            ],
            "the payload is not valid JSON",
        ),
        (
            &["invoke", "x", "--profile", "moto", "--payload", "[1,"],
            "the payload is not valid JSON",
        ),
        (
            &["invoke", "x", "--profile", "moto", "--args", "{}"],
            "--args must be a JSON array",
        ),
    ];
    for (args, expected) in cases {
        let out = run(home.path(), Some(&moto), args);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", stderr(&out));
        let line = error_line(&out);
        assert!(
            line.contains(expected),
            "{args:?}: `{line}` should contain `{expected}`"
        );
        assert!(!stderr(&out).contains("panicked"), "{args:?}");
    }
}

#[test]
fn package_writes_the_zip_deploy_would_upload() {
    let home = tempfile::tempdir().unwrap();
    let zip_path = home.path().join("out.zip");
    let out = run(
        home.path(),
        None,
        &[
            "package",
            "examples/hello/handler.py:handler",
            "--out",
            zip_path.to_str().unwrap(),
            "--json",
        ],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let v = stdout_json(&out);
    assert_eq!(
        v["package"]["files"],
        serde_json::json!(["greeting.py", "handler.py"])
    );
    let bytes = std::fs::read(&zip_path).unwrap();
    assert_eq!(
        v["package"]["code_sha256"],
        lambda_deploy::package::code_sha256(&bytes)
    );
}

#[test]
fn main_job_on_the_local_lambda_handler_callable_and_error() {
    let home = tempfile::tempdir().unwrap();
    // No profiles at all: `local` is chosen without asking.
    let out = run(
        home.path(),
        None,
        &[
            "deploy",
            "examples/hello/handler.py:handler",
            "--invoke",
            r#"{"name": "world"}"#,
        ],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains(r#""body": "Hello, world!""#), "{stdout}");
    let err = stderr(&out);
    assert!(
        err.contains("greeting world"),
        "log tail with the handler's print: {err}"
    );
    assert!(err.contains("REPORT RequestId:"), "{err}");

    // Callable mode: the event carries the arguments; a mismatch names the parameters.
    let out = run(
        home.path(),
        None,
        &[
            "deploy",
            "examples/hello/handler.py:add",
            "--name",
            "adder",
            "--json",
        ],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(
        stdout_json(&out)["deploy"]["handler"],
        "_lambda_ls_entry.handler"
    );
    let out = run(
        home.path(),
        None,
        &[
            "invoke",
            "adder",
            "--args",
            "[2]",
            "--kwargs",
            r#"{"b": 40}"#,
            "--json",
        ],
    );
    assert_eq!(stdout_json(&out)["payload"], 42);
    let out = run(
        home.path(),
        None,
        &[
            "invoke",
            "adder",
            "--payload",
            r#"{"a": 1, "c": 2}"#,
            "--json",
        ],
    );
    assert_eq!(out.status.code(), Some(1), "the function failed: exit 1");
    let v = stdout_json(&out);
    assert_eq!(v["error"]["errorType"], "TypeError");
    assert!(
        v["error"]["errorMessage"]
            .as_str()
            .unwrap()
            .contains("arguments do not fit add(a, b=1)"),
        "{v}"
    );

    // A raising handler: exit 1, the error type and the raising line in the stack.
    run(
        home.path(),
        None,
        &[
            "deploy",
            "examples/hello/handler.py:fail",
            "--name",
            "failer",
        ],
    );
    let out = run(
        home.path(),
        None,
        &["invoke", "failer", "--payload", "[1]", "--json"],
    );
    assert_eq!(out.status.code(), Some(1));
    let v = stdout_json(&out);
    assert_eq!(v["error"]["errorType"], "ValueError");
    let frames = v["error"]["stackTrace"].to_string();
    assert!(
        frames.contains("handler.py") && frames.contains("line 19"),
        "{frames}"
    );

    let list = stdout_json(&run(home.path(), None, &["list", "--json"]));
    let names: Vec<&str> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        vec!["adder", "failer", "handler-handler"],
        "persisted across CLI runs"
    );
}
