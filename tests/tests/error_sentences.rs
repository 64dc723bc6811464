//! Every class of AWS failure, produced for real on loopback (a closed port, a stalling or
//! refusing proxy, plain HTTP where TLS is expected, a name that does not resolve in a network
//! namespace, expired and missing credentials), ends in one plain sentence that names the
//! service or endpoint and the profile and says what to do; the CLI prints it once.

use std::time::Duration;

use lambda_deploy::artifacts::{bucket_name, ensure_bucket};
use lambda_deploy::aws::{AwsError, Connection, Endpoint, Limits};
use lambda_deploy::functions::list_functions;
use lambda_deploy::identity::caller_identity;
use lambda_deploy::profiles::ProfileEnv;
use lambda_ls_tests::faults::{Fault, FaultProxy};
use lambda_ls_tests::{free_port, run_in, stderr};

const SHORT: Limits = Limits {
    connect: Duration::from_secs(1),
    control_read: Duration::from_secs(2),
    invoke_read: Duration::from_secs(10),
    ready_wait: Duration::from_secs(3),
};

const CREDENTIALS: &str = "[dev]\naws_access_key_id = AKIDERRORTEST\naws_secret_access_key = error-test-secret\naws_session_token = error-test-session\n";

/// What no user-facing sentence may contain: Rust debug output of an SDK error.
const DEBUG_MARKS: &[&str] = &[
    "{",
    "}",
    "Error {",
    "DispatchFailure",
    "dispatch failure",
    "ConnectorError",
    "Some(",
];

/// One line, no debug output, names the profile, and says what to do after a `;`.
fn assert_plain_sentence(sentence: &str, profile: &str) {
    assert!(!sentence.contains('\n'), "one line: {sentence:?}");
    for mark in DEBUG_MARKS {
        assert!(!sentence.contains(mark), "{mark:?} in {sentence:?}");
    }
    assert!(
        sentence.contains(&format!("profile {profile}")),
        "names profile {profile}: {sentence:?}"
    );
    let (_, remedy) = sentence
        .split_once("; ")
        .unwrap_or_else(|| panic!("says what to do after `; `: {sentence:?}"));
    assert!(!remedy.is_empty(), "{sentence:?}");
}

/// Profile files with a `dev` profile whose endpoint is `endpoint`.
fn profile_files(endpoint: &str) -> (tempfile::TempDir, ProfileEnv) {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("config");
    let credentials = dir.path().join("credentials");
    std::fs::write(
        &config,
        format!("[profile dev]\nregion = eu-west-1\nendpoint_url = {endpoint}\n"),
    )
    .unwrap();
    std::fs::write(&credentials, CREDENTIALS).unwrap();
    let env = ProfileEnv::from_pairs([
        ("AWS_CONFIG_FILE", config.to_str().unwrap()),
        ("AWS_SHARED_CREDENTIALS_FILE", credentials.to_str().unwrap()),
        ("HOME", dir.path().to_str().unwrap()),
    ]);
    (dir, env)
}

/// `ListFunctions` through the `dev` profile at `endpoint`, which must fail.
async fn list_error(endpoint: &str) -> AwsError {
    let (_dir, files) = profile_files(endpoint);
    let conn = Connection::connect_with(
        &Endpoint::Aws {
            profile: "dev".into(),
            region: None,
            files,
        },
        SHORT,
    )
    .await
    .unwrap();
    list_functions(&conn).await.unwrap_err()
}

fn refusal(status: u16, kind: &'static str, message: &'static str) -> Fault {
    Fault::Error {
        status,
        kind,
        message,
    }
}

#[tokio::test]
async fn each_failure_class_is_one_sentence_naming_service_profile_and_remedy() {
    let closed = format!("http://127.0.0.1:{}", free_port());
    // A proxy whose upstream is closed: every call it lets through fails, so only its faults count.
    let proxy = FaultProxy::start(format!("127.0.0.1:{}", free_port())).await;
    let p = proxy.url.clone();
    let tls = p.replace("http://", "https://");
    let list = "/2015-03-31/functions";
    // (class, fault on ListFunctions, endpoint, the exact sentence)
    let cases: Vec<(&str, Option<Fault>, &str, String)> = vec![
        (
            "connection refused",
            None,
            &closed,
            format!("cannot reach Lambda for profile dev: {closed} refused the connection; check that the endpoint is up and the profile's endpoint_url and proxy settings are right"),
        ),
        (
            "timeout",
            Some(Fault::Stall(Duration::from_secs(60))),
            &p,
            format!("cannot reach Lambda for profile dev: {p} did not answer in time; check the network connection (VPN, proxy, firewall) and retry"),
        ),
        (
            "TLS failure",
            None,
            &tls,
            format!("cannot reach Lambda for profile dev: the TLS handshake with {tls} failed; check that the endpoint speaks HTTPS with a certificate this machine trusts (a TLS-inspecting proxy needs its CA installed)"),
        ),
        (
            "access denied",
            Some(refusal(403, "AccessDeniedException", "User: arn:aws:iam::123456789012:user/dev is not authorized to perform: lambda:ListFunctions")),
            &p,
            "profile dev is not allowed to call lambda:ListFunctions (Lambda answered AccessDeniedException); grant that permission to the profile's user or role, or use another profile".to_string(),
        ),
        (
            "throttling that outlasted retries",
            Some(refusal(429, "TooManyRequestsException", "Rate exceeded")),
            &p,
            "Lambda kept throttling ListFunctions for profile dev (TooManyRequestsException) after retries; wait a minute and retry, or ask AWS for a higher quota".to_string(),
        ),
        (
            "expired session token",
            Some(refusal(403, "ExpiredTokenException", "The security token included in the request is expired")),
            &p,
            "the session credentials of profile dev have expired (Lambda answered ExpiredTokenException); get fresh credentials for the profile and retry".to_string(),
        ),
        (
            "unrecognised credentials",
            Some(refusal(403, "UnrecognizedClientException", "The security token included in the request is invalid")),
            &p,
            "Lambda does not accept the credentials of profile dev (UnrecognizedClientException); check the profile's access key with `aws configure --profile dev`".to_string(),
        ),
    ];
    let mut wrong = Vec::new();
    for (class, fault, endpoint, expected) in cases {
        proxy.heal();
        if let Some(f) = fault {
            proxy.inject("GET", list, usize::MAX, f);
        }
        let started = std::time::Instant::now();
        let sentence = list_error(endpoint).await.to_string();
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "{class}: bounded"
        );
        assert_plain_sentence(&sentence, "dev");
        if sentence != expected {
            wrong.push(format!(
                "{class}:\n  got    {sentence}\n  wanted {expected}"
            ));
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

#[tokio::test]
async fn an_sts_failure_names_sts() {
    let closed = format!("http://127.0.0.1:{}", free_port());
    let (_dir, files) = profile_files(&closed);
    let err = caller_identity("dev", None, &files, Duration::from_secs(10))
        .await
        .unwrap_err();
    let sentence = err.to_string();
    assert_plain_sentence(&sentence, "dev");
    assert_eq!(
        sentence,
        format!("cannot reach STS for profile dev: {closed} refused the connection; check that the endpoint is up and the profile's endpoint_url and proxy settings are right")
    );
}

/// The artifacts path (zips over 50 MB) asks STS for the account, then S3: each failure names
/// the service that failed, not Lambda.
#[tokio::test]
async fn artifact_failures_name_sts_and_s3() {
    let closed = format!("http://127.0.0.1:{}", free_port());
    let (_dir, files) = profile_files(&closed);
    let aws = Connection::connect_with(
        &Endpoint::Aws {
            profile: "dev".into(),
            region: None,
            files,
        },
        SHORT,
    )
    .await
    .unwrap();
    let sts = bucket_name(&aws).await.unwrap_err().to_string();
    assert_plain_sentence(&sts, "dev");
    assert!(
        sts.starts_with(&format!(
            "cannot reach STS for profile dev: {closed} refused"
        )),
        "{sts}"
    );
    let local = Connection::connect_with(
        &Endpoint::Local {
            url: closed.clone(),
        },
        SHORT,
    )
    .await
    .unwrap();
    let s3 = ensure_bucket(&local).await.unwrap_err().to_string();
    assert!(
        s3.starts_with(&format!(
            "cannot reach S3 for profile local: {closed} refused"
        )),
        "{s3}"
    );
}

/// A HOME for the CLI with these profile files (credentials as [`CREDENTIALS`] plus `extra`).
fn cli_home(config: &str, extra_credentials: &str) -> tempfile::TempDir {
    let home = tempfile::tempdir().unwrap();
    std::fs::write(home.path().join("config"), config).unwrap();
    std::fs::write(
        home.path().join("credentials"),
        format!("{CREDENTIALS}{extra_credentials}"),
    )
    .unwrap();
    home
}

/// An IAM Identity Center login whose cached token expired a year ago (as `aws sso login`
/// leaves it in `~/.aws/sso/cache/<sha1 of the session name>.json`).
fn expired_sso_cache(home: &std::path::Path) {
    let cache = home.join(".aws/sso/cache");
    std::fs::create_dir_all(&cache).unwrap();
    let out = std::process::Command::new("sh")
        .args(["-c", "printf %s corp | sha1sum"])
        .output()
        .unwrap();
    let sha1 = String::from_utf8(out.stdout).unwrap();
    let name = sha1.split_whitespace().next().unwrap();
    std::fs::write(
        cache.join(format!("{name}.json")),
        r#"{"accessToken": "expired-token", "expiresAt": "2020-01-01T00:00:00Z", "region": "eu-west-1", "startUrl": "https://corp.awsapps.com/start"}"#,
    )
    .unwrap();
}

#[test]
fn the_cli_prints_each_sentence_once_with_its_exit_code() {
    let closed = format!("http://127.0.0.1:{}", free_port());
    let config = format!(
        "[profile dev]\nregion = eu-west-1\nendpoint_url = {closed}\n\n\
         [profile dns]\nregion = eu-west-1\nendpoint_url = http://lambda-ls-test.invalid:9\n\n\
         [profile bare]\nendpoint_url = {closed}\n\n\
         [profile nocreds]\nregion = eu-west-1\nendpoint_url = {closed}\n\n\
         [profile sso]\nsso_session = corp\nsso_account_id = 111111111111\nsso_role_name = dev\n\
         region = eu-west-1\nendpoint_url = {closed}\n\n\
         [sso-session corp]\nsso_start_url = https://corp.awsapps.com/start\nsso_region = eu-west-1\n"
    );
    let keys = |p: &str| {
        format!("\n[{p}]\naws_access_key_id = AKIDERRORTEST\naws_secret_access_key = error-test-secret\n")
    };
    let home = cli_home(&config, &format!("{}{}", keys("dns"), keys("bare")));
    expired_sso_cache(home.path());
    // No network at all in a fresh network namespace: the name cannot resolve, and no query
    // leaves the machine.
    let no_network: &[&str] = &["unshare", "-rn"];
    // (class, profile, wrapper, exit code, the exact sentence)
    let cases: Vec<(&str, &str, &[&str], i32, String)> = vec![
        (
            "connection refused",
            "dev",
            &[],
            1,
            format!("cannot reach Lambda for profile dev: {closed} refused the connection; check that the endpoint is up and the profile's endpoint_url and proxy settings are right"),
        ),
        (
            "DNS failure",
            "dns",
            no_network,
            1,
            "cannot reach Lambda for profile dns: the host name of http://lambda-ls-test.invalid:9 does not resolve; check the network connection (VPN, DNS) and the profile's region and endpoint_url".to_string(),
        ),
        (
            "missing region",
            "bare",
            &[],
            2,
            "profile bare has no region; set `region` in its section of the AWS config file or choose a region (--region)".to_string(),
        ),
        (
            "missing credentials",
            "nocreds",
            &[],
            2,
            "no AWS credentials found for profile nocreds; run `aws configure --profile nocreds` or add a credential source to its section of the AWS config file".to_string(),
        ),
        (
            "expired SSO session",
            "sso",
            &[],
            2,
            "the SSO session of profile sso has expired or was never started; run `aws sso login --profile sso` and retry".to_string(),
        ),
    ];
    let mut wrong = Vec::new();
    for (class, profile, wrap, code, expected) in cases {
        let out = run_in(
            home.path(),
            wrap,
            // The default log level, as a user runs it.
            &[("RUST_LOG", "")],
            &["list", "--profile", profile],
        );
        let err = stderr(&out);
        assert_plain_sentence(&expected, profile);
        // Logged once: the sentence is the whole of stderr, nothing else repeats it.
        if err != format!("error: {expected}\n") || out.status.code() != Some(code) {
            wrong.push(format!(
                "{class}: exit {:?} (wanted {code})\n  got    {err:?}\n  wanted {expected:?}",
                out.status.code()
            ));
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}
