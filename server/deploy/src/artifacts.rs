//! Zips over Lambda's 50 MB direct-upload limit reach Lambda through S3: one private artifacts
//! bucket per account and region, content-addressed keys, resumable parallel multipart uploads.
//!
//! The key holds the zip's SHA-256, so an artifact already in the bucket is never sent again,
//! and an upload interrupted half-way is finished by sending only the parts S3 does not have.

use std::collections::BTreeMap;
use std::sync::Arc;

use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{
    AbortIncompleteMultipartUpload, BucketLifecycleConfiguration, BucketLocationConstraint,
    ChecksumAlgorithm, CompletedMultipartUpload, CompletedPart, CreateBucketConfiguration,
    ExpirationStatus, LifecycleExpiration, LifecycleRule, LifecycleRuleFilter, ObjectOwnership,
    OwnershipControls, OwnershipControlsRule, PublicAccessBlockConfiguration, ServerSideEncryption,
    ServerSideEncryptionByDefault, ServerSideEncryptionConfiguration, ServerSideEncryptionRule,
    Tag, Tagging,
};
use bytes::Bytes;
use serde::Serialize;
use tokio::task::JoinSet;

use crate::aws::{AwsError, Connection, Service, CREATED_BY_TAG, LOCAL_ACCOUNT};
use crate::progress::Progress;

/// Every artifacts bucket is `lambda-ls-artifacts-ACCOUNT-REGION`.
pub const BUCKET_PREFIX: &str = "lambda-ls-artifacts-";
/// Size of each multipart part (S3's minimum is 5 MiB); a 250 MB zip is 32 parts.
pub const PART_SIZE: usize = 8 * 1024 * 1024;
/// Parts in flight at once: enough to fill an uplink, few enough for the 2 × 8 MiB in memory.
const PARALLEL_PARTS: usize = 4;
/// Artifacts are only read while Lambda copies them in, so old ones can go.
const EXPIRY_DAYS: i32 = 30;
/// An upload abandoned for this long will not be resumed; S3 drops its parts.
const ABANDONED_UPLOAD_DAYS: i32 = 7;

/// Why an artifact could not be staged in S3.
#[derive(Debug, thiserror::Error)]
pub enum ArtifactError {
    #[error(transparent)]
    Aws(#[from] AwsError),
    #[error("S3 answered {operation} for s3://{bucket}/{key} without an upload id; try the deploy again")]
    NoUploadId {
        operation: &'static str,
        bucket: String,
        key: String,
    },
    #[error("uploading a part of s3://{bucket}/{key} stopped: {detail}")]
    PartStopped {
        bucket: String,
        key: String,
        detail: String,
    },
}

/// What an artifact is the code of; it decides the key, so `delete --all` finds a function's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ArtifactOwner<'a> {
    Function(&'a str),
    Layer(&'a str),
}

impl ArtifactOwner<'_> {
    fn prefix(&self) -> String {
        match self {
            ArtifactOwner::Function(name) => format!("functions/{name}/"),
            ArtifactOwner::Layer(name) => format!("layers/{name}/"),
        }
    }
}

/// One zip to stage: its bytes and base64 SHA-256 (Lambda's `CodeSha256`).
#[derive(Debug, Clone, Copy)]
pub struct ArtifactRequest<'a> {
    pub owner: ArtifactOwner<'a>,
    pub bytes: &'a [u8],
    pub code_sha256: &'a str,
}

/// Where the zip now is and what it cost to put it there.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StagedArtifact {
    pub bucket: String,
    pub key: String,
    /// Bytes sent in this run: 0 when the object or all its parts were already there.
    pub uploaded_bytes: u64,
    /// Parts already in S3 from an interrupted earlier upload.
    pub resumed_parts: usize,
}

/// The artifacts bucket of the connection's account and region.
pub async fn bucket_name(conn: &Connection) -> Result<String, AwsError> {
    let account = if conn.info.local {
        LOCAL_ACCOUNT.to_string()
    } else {
        let out = aws_sdk_sts::Client::new(conn.sdk_config())
            .get_caller_identity()
            .send()
            .await
            .map_err(|e| conn.error_in(Service::Sts, "GetCallerIdentity", e))?;
        out.account().unwrap_or_default().to_string()
    };
    Ok(format!("{BUCKET_PREFIX}{account}-{}", conn.info.region))
}

/// The content-addressed key: `functions/NAME/SHA256HEX.zip` or `layers/NAME/SHA256HEX.zip`.
pub fn artifact_key(owner: ArtifactOwner<'_>, code_sha256: &str) -> String {
    use base64::Engine;
    let digest = base64::engine::general_purpose::STANDARD
        .decode(code_sha256)
        .unwrap_or_else(|_| code_sha256.as_bytes().to_vec());
    let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
    format!("{}{hex}.zip", owner.prefix())
}

/// Makes sure the zip is in the artifacts bucket (creating the bucket once), uploading only
/// what is missing; reports progress as parts finish.
pub async fn stage(
    conn: &Connection,
    req: ArtifactRequest<'_>,
    progress: &(dyn Fn(Progress) + Send + Sync),
) -> Result<StagedArtifact, ArtifactError> {
    let bucket = ensure_bucket(conn).await?;
    let key = artifact_key(req.owner, req.code_sha256);
    let total = req.bytes.len() as u64;
    let mut staged = StagedArtifact {
        bucket,
        key,
        uploaded_bytes: 0,
        resumed_parts: 0,
    };
    if object_size(conn, &staged.bucket, &staged.key).await? == Some(total) {
        return Ok(staged);
    }
    progress(Progress::Uploading { bytes: total });
    let (sent, resumed) = upload_multipart(conn, &staged, req.bytes, progress).await?;
    staged.uploaded_bytes = sent;
    staged.resumed_parts = resumed;
    Ok(staged)
}

/// HeadObject: the object's size, or `None` when it is not there.
async fn object_size(conn: &Connection, bucket: &str, key: &str) -> Result<Option<u64>, AwsError> {
    match conn.s3.head_object().bucket(bucket).key(key).send().await {
        Ok(out) => Ok(Some(out.content_length().unwrap_or(0).max(0) as u64)),
        Err(e) => {
            let err = conn.error_in(Service::S3, "HeadObject", e);
            if is_missing(&err) {
                Ok(None)
            } else {
                Err(err)
            }
        }
    }
}

/// HeadObject and HeadBucket answer 404 without a body, so the SDK's code is `NotFound`.
fn is_missing(err: &AwsError) -> bool {
    matches!(
        err.code(),
        Some("NotFound" | "NoSuchKey" | "NoSuchBucket" | "NoSuchUpload" | "404")
    )
}

/// The artifacts bucket's name, after creating the private, tagged, expiring bucket when it
/// does not exist yet.
pub async fn ensure_bucket(conn: &Connection) -> Result<String, AwsError> {
    let bucket = bucket_name(conn).await?;
    match conn.s3.head_bucket().bucket(&bucket).send().await {
        Ok(_) => return Ok(bucket),
        Err(e) => {
            let err = conn.error_in(Service::S3, "HeadBucket", e);
            if !is_missing(&err) {
                return Err(err);
            }
        }
    }
    let mut create = conn.s3.create_bucket().bucket(&bucket);
    // us-east-1 is the one region that refuses its own name as a location constraint.
    if conn.info.region != "us-east-1" {
        create = create.create_bucket_configuration(
            CreateBucketConfiguration::builder()
                .location_constraint(BucketLocationConstraint::from(conn.info.region.as_str()))
                .build(),
        );
    }
    if let Err(e) = create.send().await {
        let err = conn.error_in(Service::S3, "CreateBucket", e);
        // Another deploy created it a moment ago: configure it all the same (idempotent PUTs).
        if err.code() != Some("BucketAlreadyOwnedByYou") {
            return Err(err);
        }
    }
    configure_bucket(conn, &bucket).await?;
    Ok(bucket)
}

fn built<T, E: std::fmt::Display>(r: Result<T, E>, operation: &'static str) -> Result<T, AwsError> {
    r.map_err(|e| AwsError::Other {
        operation,
        detail: e.to_string(),
    })
}

/// Private (public access blocked, owner-enforced), encrypted, tagged, old artifacts expire.
async fn configure_bucket(conn: &Connection, bucket: &str) -> Result<(), AwsError> {
    let s3 = &conn.s3;
    s3.put_public_access_block()
        .bucket(bucket)
        .public_access_block_configuration(
            PublicAccessBlockConfiguration::builder()
                .block_public_acls(true)
                .ignore_public_acls(true)
                .block_public_policy(true)
                .restrict_public_buckets(true)
                .build(),
        )
        .send()
        .await
        .map_err(|e| conn.error_in(Service::S3, "PutPublicAccessBlock", e))?;
    let sse = built(
        ServerSideEncryptionByDefault::builder()
            .sse_algorithm(ServerSideEncryption::Aes256)
            .build(),
        "PutBucketEncryption",
    )?;
    let encryption = built(
        ServerSideEncryptionConfiguration::builder()
            .rules(
                ServerSideEncryptionRule::builder()
                    .apply_server_side_encryption_by_default(sse)
                    .build(),
            )
            .build(),
        "PutBucketEncryption",
    )?;
    s3.put_bucket_encryption()
        .bucket(bucket)
        .server_side_encryption_configuration(encryption)
        .send()
        .await
        .map_err(|e| conn.error_in(Service::S3, "PutBucketEncryption", e))?;
    let ownership = built(
        OwnershipControls::builder()
            .rules(built(
                OwnershipControlsRule::builder()
                    .object_ownership(ObjectOwnership::BucketOwnerEnforced)
                    .build(),
                "PutBucketOwnershipControls",
            )?)
            .build(),
        "PutBucketOwnershipControls",
    )?;
    s3.put_bucket_ownership_controls()
        .bucket(bucket)
        .ownership_controls(ownership)
        .send()
        .await
        .map_err(|e| conn.error_in(Service::S3, "PutBucketOwnershipControls", e))?;
    let tag = built(
        Tag::builder()
            .key(CREATED_BY_TAG.0)
            .value(CREATED_BY_TAG.1)
            .build(),
        "PutBucketTagging",
    )?;
    s3.put_bucket_tagging()
        .bucket(bucket)
        .tagging(built(
            Tagging::builder().tag_set(tag).build(),
            "PutBucketTagging",
        )?)
        .send()
        .await
        .map_err(|e| conn.error_in(Service::S3, "PutBucketTagging", e))?;
    s3.put_bucket_lifecycle_configuration()
        .bucket(bucket)
        .lifecycle_configuration(lifecycle()?)
        .send()
        .await
        .map_err(|e| conn.error_in(Service::S3, "PutBucketLifecycleConfiguration", e))?;
    Ok(())
}

fn lifecycle() -> Result<BucketLifecycleConfiguration, AwsError> {
    let op = "PutBucketLifecycleConfiguration";
    let rule = built(
        LifecycleRule::builder()
            .id("lambda-ls-expire-old-artifacts")
            .status(ExpirationStatus::Enabled)
            .filter(LifecycleRuleFilter::builder().prefix("").build())
            .expiration(LifecycleExpiration::builder().days(EXPIRY_DAYS).build())
            .abort_incomplete_multipart_upload(
                AbortIncompleteMultipartUpload::builder()
                    .days_after_initiation(ABANDONED_UPLOAD_DAYS)
                    .build(),
            )
            .build(),
        op,
    )?;
    built(
        BucketLifecycleConfiguration::builder().rules(rule).build(),
        op,
    )
}

/// The parts of `len` bytes: (part number from 1, byte range).
fn part_ranges(len: usize) -> Vec<(i32, std::ops::Range<usize>)> {
    (0..len.div_ceil(PART_SIZE).max(1))
        .map(|i| {
            let start = i * PART_SIZE;
            (i as i32 + 1, start..(start + PART_SIZE).min(len))
        })
        .collect()
}

/// Uploads in parts, reusing an unfinished upload of the same key; returns (bytes sent, parts
/// reused).
async fn upload_multipart(
    conn: &Connection,
    target: &StagedArtifact,
    bytes: &[u8],
    progress: &(dyn Fn(Progress) + Send + Sync),
) -> Result<(u64, usize), ArtifactError> {
    let (bucket, key) = (&target.bucket, &target.key);
    let ranges = part_ranges(bytes.len());
    let (upload_id, mut done) = resume_or_start(conn, bucket, key, &ranges).await?;
    let resumed = done.len();
    let total = bytes.len() as u64;
    let mut finished: u64 = ranges
        .iter()
        .filter(|(n, _)| done.contains_key(n))
        .map(|(_, r)| r.len() as u64)
        .sum();
    let data = Bytes::copy_from_slice(bytes);
    let missing: Vec<_> = ranges
        .into_iter()
        .filter(|(n, _)| !done.contains_key(n))
        .collect();
    let mut todo = missing.into_iter();
    let mut running = JoinSet::new();
    let shared = Arc::new((
        conn.s3.clone(),
        bucket.clone(),
        key.clone(),
        upload_id.clone(),
    ));
    let mut sent = 0;
    loop {
        while running.len() < PARALLEL_PARTS {
            let Some((n, range)) = todo.next() else { break };
            let body = data.slice(range);
            let shared = Arc::clone(&shared);
            running.spawn(async move {
                let (s3, bucket, key, id) = &*shared;
                let len = body.len() as u64;
                let out = s3
                    .upload_part()
                    .bucket(bucket)
                    .key(key)
                    .upload_id(id)
                    .part_number(n)
                    .checksum_algorithm(ChecksumAlgorithm::Crc32)
                    .body(ByteStream::from(body))
                    .send()
                    .await;
                (n, len, out)
            });
        }
        let Some(joined) = running.join_next().await else {
            break;
        };
        let (n, len, out) = joined.map_err(|e| ArtifactError::PartStopped {
            bucket: bucket.clone(),
            key: key.clone(),
            detail: e.to_string(),
        })?;
        let out = out.map_err(|e| conn.error_in(Service::S3, "UploadPart", e))?;
        let part = CompletedPart::builder()
            .part_number(n)
            .set_e_tag(out.e_tag().map(str::to_string))
            .set_checksum_crc32(out.checksum_crc32().map(str::to_string));
        done.insert(n, (len, part.build()));
        sent += len;
        finished += len;
        progress(Progress::UploadedPart {
            part: n as u32,
            sent: finished,
            total,
        });
    }
    complete_upload(conn, bucket, key, &upload_id, done).await?;
    Ok((sent, resumed))
}

/// The unfinished upload of this key and its parts already sent, or a new upload with none.
async fn resume_or_start(
    conn: &Connection,
    bucket: &str,
    key: &str,
    ranges: &[(i32, std::ops::Range<usize>)],
) -> Result<(String, DoneParts), ArtifactError> {
    let (upload_id, mut done) = match unfinished_upload(conn, bucket, key).await? {
        Some(id) => {
            let parts = uploaded_parts(conn, bucket, key, &id).await?;
            (id, parts)
        }
        None => (create_upload(conn, bucket, key).await?, BTreeMap::new()),
    };
    // A part counts as done only when its size is the one this split would send.
    done.retain(|n, (size, _)| {
        ranges
            .iter()
            .any(|(p, r)| p == n && r.len() as u64 == *size)
    });
    Ok((upload_id, done))
}

/// The newest unfinished multipart upload of exactly this key, if any.
async fn unfinished_upload(
    conn: &Connection,
    bucket: &str,
    key: &str,
) -> Result<Option<String>, AwsError> {
    let out = conn
        .s3
        .list_multipart_uploads()
        .bucket(bucket)
        .prefix(key)
        .send()
        .await
        .map_err(|e| conn.error_in(Service::S3, "ListMultipartUploads", e))?;
    Ok(out
        .uploads()
        .iter()
        .filter(|u| u.key() == Some(key))
        .max_by_key(|u| u.initiated().map(|t| t.secs()))
        .and_then(|u| u.upload_id())
        .map(str::to_string))
}

type DoneParts = BTreeMap<i32, (u64, CompletedPart)>;

/// The parts S3 already holds for an upload, by part number.
async fn uploaded_parts(
    conn: &Connection,
    bucket: &str,
    key: &str,
    upload_id: &str,
) -> Result<DoneParts, AwsError> {
    let mut parts = BTreeMap::new();
    let mut marker: Option<String> = None;
    loop {
        let out = conn
            .s3
            .list_parts()
            .bucket(bucket)
            .key(key)
            .upload_id(upload_id)
            .set_part_number_marker(marker.clone())
            .send()
            .await
            .map_err(|e| conn.error_in(Service::S3, "ListParts", e))?;
        for p in out.parts() {
            let Some(n) = p.part_number() else { continue };
            let part = CompletedPart::builder()
                .part_number(n)
                .set_e_tag(p.e_tag().map(str::to_string))
                .set_checksum_crc32(p.checksum_crc32().map(str::to_string))
                .build();
            parts.insert(n, (p.size().unwrap_or(0).max(0) as u64, part));
        }
        marker = out.next_part_number_marker().map(str::to_string);
        if out.is_truncated() != Some(true) || marker.is_none() {
            return Ok(parts);
        }
    }
}

async fn create_upload(
    conn: &Connection,
    bucket: &str,
    key: &str,
) -> Result<String, ArtifactError> {
    let out = conn
        .s3
        .create_multipart_upload()
        .bucket(bucket)
        .key(key)
        .content_type("application/zip")
        .checksum_algorithm(ChecksumAlgorithm::Crc32)
        .tagging(format!("{}={}", CREATED_BY_TAG.0, CREATED_BY_TAG.1))
        .send()
        .await
        .map_err(|e| conn.error_in(Service::S3, "CreateMultipartUpload", e))?;
    out.upload_id()
        .map(str::to_string)
        .ok_or_else(|| ArtifactError::NoUploadId {
            operation: "CreateMultipartUpload",
            bucket: bucket.to_string(),
            key: key.to_string(),
        })
}

/// CompleteMultipartUpload. When its answer is an error, the object may still have been
/// assembled: S3 can fail a Complete after it has started answering 200, a connection can drop
/// after S3 finished, and some S3 implementations answer success in a form the SDK cannot
/// read (moto 5.2.1 names the root element `CompleteMultipartUploadResponse` where S3's is
/// `CompleteMultipartUploadResult`). The key is content-addressed, so an object there of
/// exactly the zip's size is this zip: HeadObject decides, and the first error stands otherwise.
async fn complete_upload(
    conn: &Connection,
    bucket: &str,
    key: &str,
    upload_id: &str,
    done: DoneParts,
) -> Result<(), AwsError> {
    let total: u64 = done.values().map(|(size, _)| size).sum();
    let parts: Vec<CompletedPart> = done.into_values().map(|(_, p)| p).collect();
    let completed = conn
        .s3
        .complete_multipart_upload()
        .bucket(bucket)
        .key(key)
        .upload_id(upload_id)
        .multipart_upload(
            CompletedMultipartUpload::builder()
                .set_parts(Some(parts))
                .build(),
        )
        .send()
        .await;
    match completed {
        Ok(_) => Ok(()),
        Err(e) => {
            let err = conn.error_in(Service::S3, "CompleteMultipartUpload", e);
            match object_size(conn, bucket, key).await {
                Ok(Some(size)) if size == total => Ok(()),
                _ => Err(err),
            }
        }
    }
}

/// Deletes every artifact (and unfinished upload) lambda-ls stored for this function; returns
/// the `s3://` URLs removed. A missing bucket means there is nothing to remove.
pub async fn delete_function_artifacts(
    conn: &Connection,
    function: &str,
) -> Result<Vec<String>, AwsError> {
    let bucket = bucket_name(conn).await?;
    let prefix = ArtifactOwner::Function(function).prefix();
    let mut removed = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let listed = conn
            .s3
            .list_objects_v2()
            .bucket(&bucket)
            .prefix(&prefix)
            .set_continuation_token(token.clone())
            .send()
            .await;
        let out = match listed {
            Ok(out) => out,
            Err(e) => {
                let err = conn.error_in(Service::S3, "ListObjectsV2", e);
                return if is_missing(&err) {
                    Ok(removed)
                } else {
                    Err(err)
                };
            }
        };
        for key in out.contents().iter().filter_map(|o| o.key()) {
            conn.s3
                .delete_object()
                .bucket(&bucket)
                .key(key)
                .send()
                .await
                .map_err(|e| conn.error_in(Service::S3, "DeleteObject", e))?;
            removed.push(format!("s3://{bucket}/{key}"));
        }
        token = out.next_continuation_token().map(str::to_string);
        if out.is_truncated() != Some(true) || token.is_none() {
            break;
        }
    }
    abort_uploads(conn, &bucket, &prefix).await?;
    Ok(removed)
}

/// Aborts unfinished uploads under `prefix`, so their parts stop costing storage.
async fn abort_uploads(conn: &Connection, bucket: &str, prefix: &str) -> Result<(), AwsError> {
    let out = conn
        .s3
        .list_multipart_uploads()
        .bucket(bucket)
        .prefix(prefix)
        .send()
        .await
        .map_err(|e| conn.error_in(Service::S3, "ListMultipartUploads", e))?;
    for u in out.uploads() {
        let (Some(key), Some(id)) = (u.key(), u.upload_id()) else {
            continue;
        };
        conn.s3
            .abort_multipart_upload()
            .bucket(bucket)
            .key(key)
            .upload_id(id)
            .send()
            .await
            .map_err(|e| conn.error_in(Service::S3, "AbortMultipartUpload", e))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_content_addressed_per_owner() {
        let sha = crate::package::code_sha256(b"zip");
        let key = artifact_key(ArtifactOwner::Function("f"), &sha);
        assert!(key.starts_with("functions/f/"), "{key}");
        assert_eq!(key.len(), "functions/f/".len() + 64 + ".zip".len());
        assert!(artifact_key(ArtifactOwner::Layer("l"), &sha).starts_with("layers/l/"));
    }

    #[test]
    fn parts_cover_the_zip_exactly() {
        let len = 2 * PART_SIZE + 5;
        let parts = part_ranges(len);
        assert_eq!(parts.len(), 3);
        assert_eq!(parts[0], (1, 0..PART_SIZE));
        assert_eq!(parts[2], (3, 2 * PART_SIZE..len));
    }
}
