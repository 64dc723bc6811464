//! The S3 subset that deploys through S3 need, path-style on the Lambda port: buckets (create,
//! head, configuration documents), objects (put, get, head, delete, list) and multipart uploads.
//!
//! Requests are told apart from Lambda's by their SigV4 credential scope (`…/s3/aws4_request`).
//! Bodies may arrive `aws-chunked` with a trailing CRC32, as the SDKs send them; the CRC32 is
//! checked like S3 does.

mod chunked;
mod objects;

use std::sync::Arc;

use base64::Engine as _;
use bytes::Bytes;
use hyper::{HeaderMap, Method};
use serde::Deserialize;

use crate::api::Reply;
use crate::store::Store;
use crate::time::rfc3339_millis;
pub(crate) use objects::S3Error;
use objects::{Buckets, ObjectMeta};

type Result<T> = std::result::Result<T, S3Error>;

/// One S3 request, its path split into bucket and key (both decoded).
#[derive(Debug)]
pub(crate) struct S3Request {
    pub method: Method,
    pub bucket: String,
    pub key: Option<String>,
    pub query: Vec<(String, String)>,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl S3Request {
    fn has(&self, name: &str) -> bool {
        self.query.iter().any(|(k, _)| k == name)
    }

    fn query(&self, name: &str) -> Option<&str> {
        self.query
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

/// True for requests signed for S3 (the SDKs sign every request, with any credentials here).
pub(crate) fn is_s3(headers: &HeaderMap) -> bool {
    headers
        .get(hyper::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|a| a.contains("/s3/aws4_request"))
}

/// The bytes of a stored object, for Lambda's `S3Bucket`/`S3Key` code.
pub(crate) fn read_object(store: &Store, bucket: &str, key: &str) -> Result<Vec<u8>> {
    let (_, path) = Buckets::new(store.s3_dir()).object(bucket, key)?;
    std::fs::read(path).map_err(|e| S3Error::new(500, "InternalError", e.to_string()))
}

/// Answers one S3 request; disk work runs off the async threads.
pub(crate) async fn handle(store: Arc<Store>, req: S3Request) -> Reply {
    let head = req.method == Method::HEAD;
    let answer = tokio::task::spawn_blocking(move || {
        let buckets = Buckets::new(store.s3_dir());
        dispatch(&buckets, &req)
    })
    .await;
    match answer {
        Ok(Ok(reply)) => reply,
        Ok(Err(e)) => error_reply(&e, head),
        Err(e) => error_reply(&S3Error::new(500, "InternalError", e.to_string()), head),
    }
}

/// Bucket configuration documents that are accepted and kept: (query name, S3's error code
/// when the document is missing).
const CONFIGS: &[(&str, &str)] = &[
    ("publicAccessBlock", "NoSuchPublicAccessBlockConfiguration"),
    (
        "encryption",
        "ServerSideEncryptionConfigurationNotFoundError",
    ),
    ("ownershipControls", "OwnershipControlsNotFoundError"),
    ("tagging", "NoSuchTagSet"),
    ("lifecycle", "NoSuchLifecycleConfiguration"),
];

fn dispatch(b: &Buckets, req: &S3Request) -> Result<Reply> {
    let bucket = req.bucket.as_str();
    let config = CONFIGS.iter().find(|(name, _)| req.has(name));
    match (&req.method, req.key.as_deref()) {
        (&Method::PUT, None) => match config {
            Some((name, _)) => b.put_config(bucket, name, &payload(req)?.0).map(|_| ok()),
            None => b.create_bucket(bucket).map(|_| {
                let mut r = ok();
                r.headers.push(("location", format!("/{bucket}")));
                r
            }),
        },
        (&Method::HEAD, None) => b.head_bucket(bucket).map(|_| {
            let mut r = ok();
            r.headers.push(("x-amz-bucket-region", "us-east-1".into()));
            r
        }),
        (&Method::GET, None) if req.has("uploads") => list_uploads(b, req),
        (&Method::GET, None) if req.has("list-type") => list_objects(b, req),
        (&Method::GET, None) if config.is_some() => {
            let &(name, missing) = config.expect("matched");
            match b.config(bucket, name)? {
                Some(doc) => Ok(Reply {
                    body: Bytes::from(doc),
                    ..ok()
                }),
                None => Err(S3Error::new(
                    404,
                    missing,
                    format!("The {name} configuration does not exist"),
                )),
            }
        }
        (&Method::PUT, Some(key)) if req.has("partNumber") => upload_part(b, req, key),
        (&Method::PUT, Some(key)) => put_object(b, req, key),
        (&Method::POST, Some(key)) if req.has("uploads") => {
            let u = b.create_upload(bucket, key)?;
            Ok(xml(200, format!(
                "<InitiateMultipartUploadResult{NS}><Bucket>{}</Bucket><Key>{}</Key><UploadId>{}</UploadId></InitiateMultipartUploadResult>",
                esc(bucket), esc(key), u.upload_id
            )))
        }
        (&Method::POST, Some(key)) if req.has("uploadId") => complete(b, req, key),
        (&Method::DELETE, Some(_)) if req.has("uploadId") => {
            b.abort(bucket, req.query("uploadId").unwrap_or(""))?;
            Ok(status(204))
        }
        (&Method::GET, Some(key)) if req.has("uploadId") => list_parts(b, req, key),
        (&Method::GET | &Method::HEAD, Some(key)) => get_object(b, req, key),
        (&Method::DELETE, Some(key)) => b.delete_object(bucket, key).map(|_| status(204)),
        _ => Err(S3Error::new(
            501,
            "NotImplemented",
            format!(
                "lambda-ls local does not implement this S3 request ({} /{bucket})",
                req.method
            ),
        )),
    }
}

const NS: &str = r#" xmlns="http://s3.amazonaws.com/doc/2006-03-01/""#;

fn esc(s: &str) -> std::borrow::Cow<'_, str> {
    quick_xml::escape::escape(s)
}

fn status(code: u16) -> Reply {
    Reply {
        status: code,
        headers: Vec::new(),
        body: Bytes::new(),
        content_type: "application/xml",
    }
}

fn ok() -> Reply {
    status(200)
}

fn xml(code: u16, body: impl Into<String>) -> Reply {
    let body = format!(r#"<?xml version="1.0" encoding="UTF-8"?>{}"#, body.into());
    Reply {
        status: code,
        headers: Vec::new(),
        body: Bytes::from(body),
        content_type: "application/xml",
    }
}

/// S3's error document; HEAD answers carry no body, so only the status tells.
fn error_reply(e: &S3Error, head: bool) -> Reply {
    if head {
        return status(e.status);
    }
    xml(
        e.status,
        format!(
            "<Error><Code>{}</Code><Message>{}</Message><RequestId>{}</RequestId></Error>",
            e.code,
            esc(&e.message),
            uuid::Uuid::new_v4().simple()
        ),
    )
}

/// The payload with any `aws-chunked` framing removed, after checking a CRC32 the client sent.
fn payload(req: &S3Request) -> Result<(Vec<u8>, Option<String>)> {
    let chunked = req
        .header("content-encoding")
        .is_some_and(|e| e.contains("aws-chunked"))
        || req
            .header("x-amz-content-sha256")
            .is_some_and(|s| s.starts_with("STREAMING-"));
    let (data, trailers) = if chunked {
        let d = chunked::decode(&req.body).ok_or_else(|| {
            S3Error::new(
                400,
                "IncompleteBody",
                "The request body is not valid aws-chunked encoding.",
            )
        })?;
        (d.data, d.trailers)
    } else {
        (req.body.to_vec(), Vec::new())
    };
    if let Some(len) = req.header("x-amz-decoded-content-length") {
        if len.parse::<usize>().ok() != Some(data.len()) {
            return Err(S3Error::new(400, "IncompleteBody", "You did not provide the number of bytes specified by the Content-Length HTTP header."));
        }
    }
    let sent = trailers
        .iter()
        .find(|(k, _)| k == "x-amz-checksum-crc32")
        .map(|(_, v)| v.clone())
        .or_else(|| req.header("x-amz-checksum-crc32").map(str::to_string));
    if let Some(sent) = &sent {
        let actual =
            base64::engine::general_purpose::STANDARD.encode(crc32fast::hash(&data).to_be_bytes());
        if *sent != actual {
            return Err(S3Error::new(
                400,
                "BadDigest",
                "The CRC32 you specified did not match the calculated checksum.",
            ));
        }
    }
    Ok((data, sent))
}

fn with_etag(mut r: Reply, etag: &str, crc32: Option<&str>) -> Reply {
    r.headers.push(("etag", etag.to_string()));
    if let Some(c) = crc32 {
        r.headers.push(("x-amz-checksum-crc32", c.to_string()));
    }
    r
}

fn put_object(b: &Buckets, req: &S3Request, key: &str) -> Result<Reply> {
    if req.header("x-amz-copy-source").is_some() {
        return Err(S3Error::new(
            501,
            "NotImplemented",
            "lambda-ls local does not copy objects.",
        ));
    }
    let (data, crc) = payload(req)?;
    let meta = b.put_object(&req.bucket, key, &data)?;
    Ok(with_etag(ok(), &meta.etag, crc.as_deref()))
}

fn upload_part(b: &Buckets, req: &S3Request, _key: &str) -> Result<Reply> {
    let number = req
        .query("partNumber")
        .and_then(|n| n.parse::<u32>().ok())
        .unwrap_or(0);
    let (data, crc) = payload(req)?;
    let id = req.query("uploadId").unwrap_or("");
    let part = b.put_part(&req.bucket, id, number, &data, crc)?;
    Ok(with_etag(ok(), &part.etag, part.checksum_crc32.as_deref()))
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct CompleteBody {
    #[serde(default)]
    part: Vec<CompletePart>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct CompletePart {
    part_number: u32,
    #[serde(rename = "ETag")]
    etag: Option<String>,
}

fn complete(b: &Buckets, req: &S3Request, key: &str) -> Result<Reply> {
    let text = std::str::from_utf8(&req.body).unwrap_or("");
    let body: CompleteBody = quick_xml::de::from_str(text).map_err(|_| {
        S3Error::new(400, "MalformedXML", "The XML you provided was not well-formed or did not validate against our published schema")
    })?;
    let listed: Vec<(u32, Option<String>)> = body
        .part
        .into_iter()
        .map(|p| (p.part_number, p.etag))
        .collect();
    let id = req.query("uploadId").unwrap_or("");
    let meta = b.complete(&req.bucket, id, &listed)?;
    Ok(xml(200, format!(
        "<CompleteMultipartUploadResult{NS}><Location>/{b}/{k}</Location><Bucket>{b}</Bucket><Key>{k}</Key><ETag>{}</ETag></CompleteMultipartUploadResult>",
        esc(&meta.etag), b = esc(&req.bucket), k = esc(key)
    )))
}

fn get_object(b: &Buckets, req: &S3Request, key: &str) -> Result<Reply> {
    let (meta, path) = b.object(&req.bucket, key)?;
    let mut r = if req.method == Method::HEAD {
        let mut r = ok();
        r.headers.push(("content-length", meta.size.to_string()));
        r
    } else {
        let bytes =
            std::fs::read(path).map_err(|e| S3Error::new(500, "InternalError", e.to_string()))?;
        Reply {
            status: 200,
            headers: Vec::new(),
            body: Bytes::from(bytes),
            content_type: "binary/octet-stream",
        }
    };
    r.content_type = "binary/octet-stream";
    Ok(with_etag(r, &meta.etag, None))
}

fn contents(m: &ObjectMeta) -> String {
    format!(
        "<Contents><Key>{}</Key><LastModified>{}</LastModified><ETag>{}</ETag><Size>{}</Size><StorageClass>STANDARD</StorageClass></Contents>",
        esc(&m.key), rfc3339_millis(m.last_modified_ms), esc(&m.etag), m.size
    )
}

/// ListObjectsV2; the continuation token is the last key of the previous page.
fn list_objects(b: &Buckets, req: &S3Request) -> Result<Reply> {
    let prefix = req.query("prefix").unwrap_or("");
    let max = req
        .query("max-keys")
        .and_then(|m| m.parse::<usize>().ok())
        .unwrap_or(1000)
        .min(1000);
    let after = req
        .query("continuation-token")
        .or(req.query("start-after"))
        .unwrap_or("");
    let all: Vec<ObjectMeta> = b
        .list(&req.bucket, prefix)?
        .into_iter()
        .filter(|m| m.key.as_str() > after)
        .collect();
    let page = &all[..all.len().min(max)];
    let truncated = all.len() > page.len();
    let next = match (truncated, page.last()) {
        (true, Some(last)) => format!(
            "<NextContinuationToken>{}</NextContinuationToken>",
            esc(&last.key)
        ),
        _ => String::new(),
    };
    let items: String = page.iter().map(contents).collect();
    Ok(xml(200, format!(
        "<ListBucketResult{NS}><Name>{}</Name><Prefix>{}</Prefix><KeyCount>{}</KeyCount><MaxKeys>{max}</MaxKeys><IsTruncated>{truncated}</IsTruncated>{next}{items}</ListBucketResult>",
        esc(&req.bucket), esc(prefix), page.len()
    )))
}

fn list_uploads(b: &Buckets, req: &S3Request) -> Result<Reply> {
    let prefix = req.query("prefix").unwrap_or("");
    let items: String = b
        .uploads(&req.bucket, prefix)?
        .iter()
        .map(|u| format!(
            "<Upload><Key>{}</Key><UploadId>{}</UploadId><Initiated>{}</Initiated><StorageClass>STANDARD</StorageClass></Upload>",
            esc(&u.key), u.upload_id, rfc3339_millis(u.initiated_ms)
        ))
        .collect();
    Ok(xml(200, format!(
        "<ListMultipartUploadsResult{NS}><Bucket>{}</Bucket><KeyMarker></KeyMarker><UploadIdMarker></UploadIdMarker><Prefix>{}</Prefix><MaxUploads>1000</MaxUploads><IsTruncated>false</IsTruncated>{items}</ListMultipartUploadsResult>",
        esc(&req.bucket), esc(prefix)
    )))
}

fn list_parts(b: &Buckets, req: &S3Request, key: &str) -> Result<Reply> {
    let id = req.query("uploadId").unwrap_or("");
    let (upload, parts) = b.parts(&req.bucket, id)?;
    if upload.key != key {
        return Err(S3Error::new(
            404,
            "NoSuchUpload",
            "The specified upload does not exist.",
        ));
    }
    let items: String = parts
        .iter()
        .map(|p| format!(
            "<Part><PartNumber>{}</PartNumber><LastModified>{}</LastModified><ETag>{}</ETag><Size>{}</Size>{}</Part>",
            p.number, rfc3339_millis(p.last_modified_ms), esc(&p.etag), p.size,
            p.checksum_crc32.as_ref().map(|c| format!("<ChecksumCRC32>{c}</ChecksumCRC32>")).unwrap_or_default()
        ))
        .collect();
    Ok(xml(200, format!(
        "<ListPartsResult{NS}><Bucket>{}</Bucket><Key>{}</Key><UploadId>{id}</UploadId><PartNumberMarker>0</PartNumberMarker><MaxParts>10000</MaxParts><IsTruncated>false</IsTruncated>{items}</ListPartsResult>",
        esc(&req.bucket), esc(key)
    )))
}
