//! The S3 store on disk: `s3/BUCKET/` holds the bucket's configuration documents, objects
//! (named by the SHA-256 of their key, with a JSON record beside each) and unfinished
//! multipart uploads (one folder per upload, one file per part).

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::store::{sha256, write_atomic};
use crate::time::now_millis;

/// An S3 error answer: HTTP status, S3's error code, message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{code} ({status}): {message}")]
pub(crate) struct S3Error {
    pub status: u16,
    pub code: &'static str,
    pub message: String,
}

impl S3Error {
    pub(crate) fn new(status: u16, code: &'static str, message: impl Into<String>) -> S3Error {
        S3Error {
            status,
            code,
            message: message.into(),
        }
    }

    fn no_bucket() -> S3Error {
        S3Error::new(404, "NoSuchBucket", "The specified bucket does not exist")
    }

    fn no_key() -> S3Error {
        S3Error::new(404, "NoSuchKey", "The specified key does not exist.")
    }

    fn no_upload() -> S3Error {
        S3Error::new(
            404,
            "NoSuchUpload",
            "The specified upload does not exist. The upload ID may be invalid, or the upload may have been aborted or completed.",
        )
    }

    fn disk(e: impl std::fmt::Display) -> S3Error {
        S3Error::new(500, "InternalError", e.to_string())
    }
}

type Result<T> = std::result::Result<T, S3Error>;

/// What is known about a stored object.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct ObjectMeta {
    pub key: String,
    pub size: u64,
    /// Quoted, as S3 sends it.
    pub etag: String,
    pub last_modified_ms: i64,
}

/// An unfinished multipart upload.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct UploadMeta {
    pub key: String,
    pub upload_id: String,
    pub initiated_ms: i64,
}

/// One uploaded part.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct PartMeta {
    pub number: u32,
    pub size: u64,
    pub etag: String,
    pub checksum_crc32: Option<String>,
    pub last_modified_ms: i64,
}

/// The buckets under one data directory.
#[derive(Debug)]
pub(crate) struct Buckets {
    root: PathBuf,
}

/// S3's bucket naming rules, which also keep a name from leaving the store (`..`, `/`).
fn valid_bucket(name: &str) -> bool {
    (3..=63).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'.')
        && name.as_bytes()[0].is_ascii_alphanumeric()
        && !name.contains("..")
}

/// An opaque, content-derived ETag (S3's is an MD5; clients only compare it).
fn etag_of(bytes: &[u8]) -> String {
    format!("\"{}\"", &sha256(bytes).0[..32])
}

fn io<T>(r: std::io::Result<T>) -> Result<T> {
    r.map_err(S3Error::disk)
}

fn read_json<T: for<'de> Deserialize<'de>>(path: &Path) -> Option<T> {
    serde_json::from_slice(&fs::read(path).ok()?).ok()
}

fn write_json<T: Serialize>(path: &Path, value: &T) -> Result<()> {
    let bytes = serde_json::to_vec(value).map_err(S3Error::disk)?;
    write_atomic(path, &bytes).map_err(S3Error::disk)
}

impl Buckets {
    pub(crate) fn new(root: PathBuf) -> Buckets {
        Buckets { root }
    }

    fn bucket_dir(&self, bucket: &str) -> Result<PathBuf> {
        if !valid_bucket(bucket) {
            return Err(S3Error::new(
                400,
                "InvalidBucketName",
                "The specified bucket is not valid.",
            ));
        }
        Ok(self.root.join(bucket))
    }

    /// The folder of an existing bucket.
    fn existing(&self, bucket: &str) -> Result<PathBuf> {
        let dir = self.bucket_dir(bucket)?;
        if dir.is_dir() {
            Ok(dir)
        } else {
            Err(S3Error::no_bucket())
        }
    }

    pub(crate) fn head_bucket(&self, bucket: &str) -> Result<()> {
        self.existing(bucket).map(|_| ())
    }

    /// Creates a bucket; creating one that exists succeeds, as in us-east-1.
    pub(crate) fn create_bucket(&self, bucket: &str) -> Result<()> {
        let dir = self.bucket_dir(bucket)?;
        for sub in ["objects", "uploads", "config"] {
            io(fs::create_dir_all(dir.join(sub)))?;
        }
        Ok(())
    }

    /// Keeps a bucket configuration document (`tagging`, `lifecycle`, …) as sent.
    pub(crate) fn put_config(&self, bucket: &str, name: &str, body: &[u8]) -> Result<()> {
        let dir = self.existing(bucket)?;
        write_atomic(&dir.join("config").join(format!("{name}.xml")), body).map_err(S3Error::disk)
    }

    /// A configuration document stored by [`Buckets::put_config`].
    pub(crate) fn config(&self, bucket: &str, name: &str) -> Result<Option<Vec<u8>>> {
        let dir = self.existing(bucket)?;
        Ok(fs::read(dir.join("config").join(format!("{name}.xml"))).ok())
    }

    fn object_paths(dir: &Path, key: &str) -> (PathBuf, PathBuf) {
        let name = sha256(key.as_bytes()).0;
        let objects = dir.join("objects");
        (
            objects.join(format!("{name}.bin")),
            objects.join(format!("{name}.json")),
        )
    }

    pub(crate) fn put_object(&self, bucket: &str, key: &str, data: &[u8]) -> Result<ObjectMeta> {
        let dir = self.existing(bucket)?;
        let (bin, json) = Buckets::object_paths(&dir, key);
        write_atomic(&bin, data).map_err(S3Error::disk)?;
        let meta = ObjectMeta {
            key: key.to_string(),
            size: data.len() as u64,
            etag: etag_of(data),
            last_modified_ms: now_millis(),
        };
        write_json(&json, &meta)?;
        Ok(meta)
    }

    /// The object's record and the file holding its bytes.
    pub(crate) fn object(&self, bucket: &str, key: &str) -> Result<(ObjectMeta, PathBuf)> {
        let dir = self.existing(bucket)?;
        let (bin, json) = Buckets::object_paths(&dir, key);
        let meta: ObjectMeta = read_json(&json).ok_or_else(S3Error::no_key)?;
        Ok((meta, bin))
    }

    pub(crate) fn delete_object(&self, bucket: &str, key: &str) -> Result<()> {
        let dir = self.existing(bucket)?;
        let (bin, json) = Buckets::object_paths(&dir, key);
        let _ = fs::remove_file(json);
        let _ = fs::remove_file(bin);
        Ok(())
    }

    /// Every object whose key starts with `prefix`, by key.
    pub(crate) fn list(&self, bucket: &str, prefix: &str) -> Result<Vec<ObjectMeta>> {
        let dir = self.existing(bucket)?;
        let mut all: Vec<ObjectMeta> = io(fs::read_dir(dir.join("objects")))?
            .filter_map(|e| e.ok())
            .filter(|e| e.path().extension().is_some_and(|x| x == "json"))
            .filter_map(|e| read_json::<ObjectMeta>(&e.path()))
            .filter(|m| m.key.starts_with(prefix))
            .collect();
        all.sort_by(|a, b| a.key.cmp(&b.key));
        Ok(all)
    }

    fn upload_dir(&self, bucket: &str, upload_id: &str) -> Result<PathBuf> {
        let dir = self.existing(bucket)?;
        let valid = !upload_id.is_empty() && upload_id.bytes().all(|b| b.is_ascii_alphanumeric());
        let path = dir.join("uploads").join(upload_id);
        if valid && path.is_dir() {
            Ok(path)
        } else {
            Err(S3Error::no_upload())
        }
    }

    pub(crate) fn create_upload(&self, bucket: &str, key: &str) -> Result<UploadMeta> {
        let dir = self.existing(bucket)?;
        let meta = UploadMeta {
            key: key.to_string(),
            upload_id: uuid::Uuid::new_v4().simple().to_string(),
            initiated_ms: now_millis(),
        };
        let path = dir.join("uploads").join(&meta.upload_id);
        io(fs::create_dir_all(&path))?;
        write_json(&path.join("upload.json"), &meta)?;
        Ok(meta)
    }

    pub(crate) fn put_part(
        &self,
        bucket: &str,
        upload_id: &str,
        number: u32,
        data: &[u8],
        checksum_crc32: Option<String>,
    ) -> Result<PartMeta> {
        if !(1..=10_000).contains(&number) {
            return Err(S3Error::new(
                400,
                "InvalidArgument",
                "Part number must be an integer between 1 and 10000, inclusive",
            ));
        }
        let dir = self.upload_dir(bucket, upload_id)?;
        write_atomic(&dir.join(format!("{number}.part")), data).map_err(S3Error::disk)?;
        let meta = PartMeta {
            number,
            size: data.len() as u64,
            etag: etag_of(data),
            checksum_crc32,
            last_modified_ms: now_millis(),
        };
        write_json(&dir.join(format!("{number}.json")), &meta)?;
        Ok(meta)
    }

    /// An upload and its parts, by part number.
    pub(crate) fn parts(
        &self,
        bucket: &str,
        upload_id: &str,
    ) -> Result<(UploadMeta, Vec<PartMeta>)> {
        let dir = self.upload_dir(bucket, upload_id)?;
        let upload: UploadMeta =
            read_json(&dir.join("upload.json")).ok_or_else(S3Error::no_upload)?;
        let mut parts: Vec<PartMeta> = io(fs::read_dir(&dir))?
            .filter_map(|e| e.ok())
            .filter(|e| e.file_name() != "upload.json")
            .filter(|e| e.path().extension().is_some_and(|x| x == "json"))
            .filter_map(|e| read_json::<PartMeta>(&e.path()))
            .collect();
        parts.sort_by_key(|p| p.number);
        Ok((upload, parts))
    }

    /// Unfinished uploads whose key starts with `prefix`, by key then start time.
    pub(crate) fn uploads(&self, bucket: &str, prefix: &str) -> Result<Vec<UploadMeta>> {
        let dir = self.existing(bucket)?;
        let mut all: Vec<UploadMeta> = io(fs::read_dir(dir.join("uploads")))?
            .filter_map(|e| e.ok())
            .filter_map(|e| read_json::<UploadMeta>(&e.path().join("upload.json")))
            .filter(|u| u.key.starts_with(prefix))
            .collect();
        all.sort_by(|a, b| (&a.key, a.initiated_ms).cmp(&(&b.key, b.initiated_ms)));
        Ok(all)
    }

    /// Joins the listed parts (ascending numbers, matching ETags) into the object.
    pub(crate) fn complete(
        &self,
        bucket: &str,
        upload_id: &str,
        listed: &[(u32, Option<String>)],
    ) -> Result<ObjectMeta> {
        let (upload, parts) = self.parts(bucket, upload_id)?;
        let chosen = check_listed(&parts, listed)?;
        let dir = self.upload_dir(bucket, upload_id)?;
        let bucket_dir = self.existing(bucket)?;
        let (bin, json) = Buckets::object_paths(&bucket_dir, &upload.key);
        let tmp = bin.with_extension(format!("tmp-{upload_id}"));
        let joined = (|| {
            let mut out = fs::File::create(&tmp)?;
            for p in &chosen {
                let mut part = fs::File::open(dir.join(format!("{}.part", p.number)))?;
                std::io::copy(&mut part, &mut out)?;
            }
            out.flush()?;
            out.sync_all()?;
            fs::rename(&tmp, &bin)
        })();
        if let Err(e) = joined {
            let _ = fs::remove_file(&tmp);
            return Err(S3Error::disk(e));
        }
        let etags: String = chosen.iter().map(|p| p.etag.as_str()).collect();
        let meta = ObjectMeta {
            key: upload.key,
            size: chosen.iter().map(|p| p.size).sum(),
            etag: format!("\"{}-{}\"", &sha256(etags.as_bytes()).0[..32], chosen.len()),
            last_modified_ms: now_millis(),
        };
        write_json(&json, &meta)?;
        io(fs::remove_dir_all(&dir))?;
        Ok(meta)
    }

    pub(crate) fn abort(&self, bucket: &str, upload_id: &str) -> Result<()> {
        let dir = self.upload_dir(bucket, upload_id)?;
        io(fs::remove_dir_all(dir))
    }
}

/// S3's rules for the part list of CompleteMultipartUpload: ascending, each uploaded with the
/// given ETag, and every part but the last at least 5 MiB.
fn check_listed(parts: &[PartMeta], listed: &[(u32, Option<String>)]) -> Result<Vec<PartMeta>> {
    const MIN_PART: u64 = 5 * 1024 * 1024;
    if listed.is_empty() {
        return Err(S3Error::new(
            400,
            "MalformedXML",
            "The XML you provided was not well-formed or did not validate against our published schema",
        ));
    }
    if listed.windows(2).any(|w| w[0].0 >= w[1].0) {
        return Err(S3Error::new(
            400,
            "InvalidPartOrder",
            "The list of parts was not in ascending order. Parts must be ordered by part number.",
        ));
    }
    let invalid = || {
        S3Error::new(
            400,
            "InvalidPart",
            "One or more of the specified parts could not be found.  The part may not have been uploaded, or the specified entity tag may not match the part's entity tag.",
        )
    };
    let mut chosen = Vec::with_capacity(listed.len());
    for (number, etag) in listed {
        let part = parts
            .iter()
            .find(|p| p.number == *number)
            .ok_or_else(invalid)?;
        if etag
            .as_ref()
            .is_some_and(|e| e.trim_matches('"') != part.etag.trim_matches('"'))
        {
            return Err(invalid());
        }
        chosen.push(part.clone());
    }
    if chosen[..chosen.len() - 1].iter().any(|p| p.size < MIN_PART) {
        return Err(S3Error::new(
            400,
            "EntityTooSmall",
            "Your proposed upload is smaller than the minimum allowed object size.",
        ));
    }
    Ok(chosen)
}
