//! Zips over Lambda's 50 MB direct-upload limit deploy through the S3 artifacts bucket, on the
//! local Lambda and on moto: uploaded once, reused, resumed after an interruption, deleted.

use aws_sdk_s3::primitives::ByteStream;
use lambda_deploy::artifacts::{
    artifact_key, bucket_name, ensure_bucket, ArtifactOwner, PART_SIZE,
};
use lambda_deploy::aws::{Connection, Endpoint};
use lambda_deploy::deploy::{deploy, DeployAction, DeployOutcome, DeployRequest, Progress};
use lambda_deploy::functions::delete_function;
use lambda_deploy::invoke::{invoke, InvokeKind, InvokeRequest};
use lambda_deploy::maintain::delete_all;
use lambda_deploy::package::Package;
use lambda_deploy::spec::FunctionSpec;
use lambda_local::{LocalConfig, LocalLambda};
use lambda_ls_tests::faults::{Fault, FaultProxy};
use lambda_ls_tests::{incompressible, moto_connection, package_dir, project, Moto};

/// Reports the size of the blob it was deployed with, so a truncated artifact shows.
const HANDLER: &str = "import os\n\ndef handler(event, context):\n    return os.path.getsize(os.path.join(os.path.dirname(__file__), 'blob.bin'))\n";
/// Incompressible, so the zip is over 50 MB too.
const BLOB_BYTES: usize = 55 * 1024 * 1024;

fn big_package(name: &str) -> (tempfile::TempDir, Package, FunctionSpec) {
    let proj = project(&[("requirements.txt", ""), ("app.py", HANDLER)]);
    std::fs::write(proj.path().join("blob.bin"), incompressible(BLOB_BYTES)).unwrap();
    let (pkg, spec) = package_dir(proj.path(), name, vec![proj.path().join("blob.bin")]);
    assert!(pkg.needs_s3(), "the zip is {} bytes", pkg.size);
    (proj, pkg, spec)
}

fn quiet(_: Progress) {}

async fn deploy_big(conn: &Connection, spec: &FunctionSpec, pkg: &Package) -> DeployOutcome {
    deploy(conn, DeployRequest { spec, package: pkg }, &quiet)
        .await
        .unwrap()
}

fn parts_of(pkg: &Package) -> usize {
    (pkg.size as usize).div_ceil(PART_SIZE)
}

async fn invoked(conn: &Connection, name: &str) -> serde_json::Value {
    let out = invoke(
        conn,
        &InvokeRequest {
            function: name.into(),
            payload: b"{}".to_vec(),
            kind: InvokeKind::RequestResponse,
            qualifier: None,
        },
    )
    .await
    .unwrap();
    assert!(!out.failed(), "{:?}", out.error);
    out.payload
}

/// What an interrupted earlier run leaves: an unfinished multipart upload holding `parts` parts.
async fn interrupted_upload(conn: &Connection, name: &str, pkg: &Package, parts: usize) {
    let bucket = ensure_bucket(conn).await.unwrap();
    let key = artifact_key(ArtifactOwner::Function(name), &pkg.code_sha256);
    let id = conn
        .s3
        .create_multipart_upload()
        .bucket(&bucket)
        .key(&key)
        .checksum_algorithm(aws_sdk_s3::types::ChecksumAlgorithm::Crc32)
        .send()
        .await
        .unwrap()
        .upload_id()
        .unwrap()
        .to_string();
    for n in 0..parts {
        let chunk = pkg.bytes[n * PART_SIZE..(n + 1) * PART_SIZE].to_vec();
        conn.s3
            .upload_part()
            .bucket(&bucket)
            .key(&key)
            .upload_id(&id)
            .part_number(n as i32 + 1)
            .checksum_algorithm(aws_sdk_s3::types::ChecksumAlgorithm::Crc32)
            .body(ByteStream::from(chunk))
            .send()
            .await
            .unwrap();
    }
}

async fn object_exists(conn: &Connection, bucket: &str, key: &str) -> bool {
    conn.s3
        .head_object()
        .bucket(bucket)
        .key(key)
        .send()
        .await
        .is_ok()
}

/// What a target can do: run the code, and list the parts of an upload made by this SDK.
struct Target {
    runs_code: bool,
    resumes: bool,
}

/// The whole S3 path against one target; `part_puts` counts UploadPart requests seen so far.
async fn s3_path(conn: &Connection, name: &str, part_puts: &dyn Fn() -> usize, target: Target) {
    let (_proj, pkg, spec) = big_package(name);
    let parts = parts_of(&pkg);
    let runs_code = target.runs_code;

    // An earlier run stopped after 2 parts: only the others go up now.
    let done_before = if target.resumes { 2 } else { 0 };
    if target.resumes {
        interrupted_upload(conn, name, &pkg, done_before).await;
    }
    let before = part_puts();
    let first = deploy_big(conn, &spec, &pkg).await;
    assert_eq!(first.action, DeployAction::Created);
    let staged = first.artifact.clone().expect("went through S3");
    assert_eq!(staged.resumed_parts, done_before);
    assert_eq!(
        staged.uploaded_bytes,
        pkg.size - (done_before * PART_SIZE) as u64
    );
    assert_eq!(part_puts() - before, parts - done_before);
    assert_eq!(first.code_sha256, pkg.code_sha256);
    if runs_code {
        assert_eq!(invoked(conn, name).await, serde_json::json!(BLOB_BYTES));
    }

    // Unchanged: nothing is uploaded at all.
    let before = part_puts();
    let again = deploy_big(conn, &spec, &pkg).await;
    assert_eq!(again.action, DeployAction::Unchanged);
    assert_eq!(part_puts(), before);

    // The function is gone but its artifact is not: created from S3 with 0 bytes uploaded.
    delete_function(conn, name).await.unwrap();
    let recreated = deploy_big(conn, &spec, &pkg).await;
    assert_eq!(recreated.action, DeployAction::Created);
    let reused = recreated.artifact.expect("went through S3");
    assert_eq!((reused.uploaded_bytes, reused.resumed_parts), (0, 0));
    assert_eq!(part_puts(), before);
    if runs_code {
        assert_eq!(invoked(conn, name).await, serde_json::json!(BLOB_BYTES));
    }

    // `delete --all` removes the function's artifacts, and only those.
    assert!(object_exists(conn, &staged.bucket, &staged.key).await);
    let removed = delete_all(conn, name).await.unwrap();
    assert_eq!(
        removed.artifacts,
        vec![format!("s3://{}/{}", staged.bucket, staged.key)]
    );
    assert!(!object_exists(conn, &staged.bucket, &staged.key).await);
}

async fn bucket_is_private_and_tagged(conn: &Connection) {
    let bucket = bucket_name(conn).await.unwrap();
    assert!(bucket.starts_with("lambda-ls-artifacts-"), "{bucket}");
    let tags = conn
        .s3
        .get_bucket_tagging()
        .bucket(&bucket)
        .send()
        .await
        .unwrap();
    assert!(tags
        .tag_set()
        .iter()
        .any(|t| t.key() == "created-by" && t.value() == "lambda-ls"));
    let block = conn
        .s3
        .get_public_access_block()
        .bucket(&bucket)
        .send()
        .await
        .unwrap();
    let c = block.public_access_block_configuration().unwrap();
    assert_eq!(
        (
            c.block_public_acls(),
            c.ignore_public_acls(),
            c.block_public_policy(),
            c.restrict_public_buckets()
        ),
        (Some(true), Some(true), Some(true), Some(true))
    );
    let rules = conn
        .s3
        .get_bucket_lifecycle_configuration()
        .bucket(&bucket)
        .send()
        .await
        .unwrap();
    assert!(rules
        .rules()
        .iter()
        .any(|r| r.expiration().and_then(|e| e.days()).is_some()));
}

/// A local Lambda with a fault proxy in front, which sees (and counts) every request.
async fn local_behind_proxy(dir: &std::path::Path) -> (LocalLambda, FaultProxy, Connection) {
    let local = LocalLambda::start(LocalConfig::new(dir.join("data")))
        .await
        .unwrap();
    let proxy = FaultProxy::start(local.addr().to_string()).await;
    let conn = Connection::connect(&Endpoint::Local {
        url: proxy.url.clone(),
    })
    .await
    .unwrap();
    (local, proxy, conn)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_zip_over_50_mb_goes_through_s3_on_the_local_lambda() {
    let dir = tempfile::tempdir().unwrap();
    let (local, proxy, conn) = local_behind_proxy(dir.path()).await;
    let puts = || proxy.count("PUT /lambda-ls-artifacts-");
    let target = Target {
        runs_code: true,
        resumes: true,
    };
    s3_path(&conn, "big-local", &puts, target).await;
    bucket_is_private_and_tagged(&conn).await;
    local.shutdown().await;
}

/// A CompleteMultipartUpload that fails is confirmed with HeadObject (`complete_upload`): with no
/// object there the failure stands, and the next deploy resumes the upload instead of redoing it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_complete_fails_the_deploy_when_no_object_was_assembled() {
    let dir = tempfile::tempdir().unwrap();
    let (local, proxy, conn) = local_behind_proxy(dir.path()).await;
    let (_proj, pkg, spec) = big_package("big-complete");
    proxy.inject(
        "POST",
        "?uploadId=",
        usize::MAX,
        Fault::Error {
            status: 400,
            kind: "InvalidPart",
            message: "One or more of the specified parts could not be found.",
        },
    );
    let failed = deploy(
        &conn,
        DeployRequest {
            spec: &spec,
            package: &pkg,
        },
        &quiet,
    )
    .await
    .unwrap_err()
    .to_string();
    assert!(failed.contains("CompleteMultipartUpload"), "{failed}");
    proxy.heal();
    let done = deploy_big(&conn, &spec, &pkg).await;
    assert_eq!(done.action, DeployAction::Created);
    let staged = done.artifact.expect("went through S3");
    assert_eq!(
        (staged.resumed_parts, staged.uploaded_bytes),
        (parts_of(&pkg), 0)
    );
    assert_eq!(
        invoked(&conn, "big-complete").await,
        serde_json::json!(BLOB_BYTES)
    );
    local.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_zip_over_50_mb_goes_through_s3_on_moto() {
    let moto = Moto::start();
    let dir = tempfile::tempdir().unwrap();
    let conn = moto_connection(&moto, dir.path()).await;
    // UploadPart only: on moto the bucket is created (and configured, with PUTs) by the deploy.
    let puts = || moto.count("x-id=UploadPart");
    // moto's simple Lambda backend echoes instead of running code, and moto 5.2.1 names the
    // root element of its S3 answers `<Operation>Response` where S3's is `<Operation>Result`,
    // which this SDK refuses: ListParts cannot be read, so an upload cannot be resumed there
    // (CompleteMultipartUpload is confirmed with HeadObject, see `artifacts::complete_upload`).
    let target = Target {
        runs_code: false,
        resumes: false,
    };
    s3_path(&conn, "big-moto", &puts, target).await;
    bucket_is_private_and_tagged(&conn).await;
}

#[test]
fn package_writes_a_zip_over_50_mb_and_warns_that_deploys_use_s3() {
    let home = tempfile::tempdir().unwrap();
    let (proj, pkg, _) = big_package("cli-big");
    let out = home.path().join("big.zip");
    let target = format!("{}:handler", proj.path().join("app.py").display());
    let blob = proj.path().join("blob.bin");
    let run = lambda_ls_tests::run(
        home.path(),
        None,
        &[
            "package",
            &target,
            "--include",
            blob.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
        ],
    );
    assert!(run.status.success(), "{}", lambda_ls_tests::stderr(&run));
    assert_eq!(std::fs::metadata(&out).unwrap().len(), pkg.size);
    assert!(
        lambda_ls_tests::stderr(&run).contains("deploys upload it through S3"),
        "{}",
        lambda_ls_tests::stderr(&run)
    );
}
