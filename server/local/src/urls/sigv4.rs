//! Checking the AWS Signature Version 4 of a request to an `AWS_IAM` function URL, against
//! the local Lambda's one identity (access key `local`, secret `local`, the keys lambda-ls's
//! `local` profile signs with).

use hmac::{Hmac, Mac};
use hyper::http::request::Parts;
use lambda_facts::{LOCAL_ACCESS_KEY, LOCAL_SECRET_KEY};
use percent_encoding::{percent_decode_str, utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
use sha2::{Digest, Sha256};

/// AWS accepts a signature for 15 minutes around its `X-Amz-Date`.
const SKEW_MS: i64 = 15 * 60 * 1000;

/// Who signed a request that passed.
#[derive(Debug)]
pub(super) struct Caller {
    pub access_key: String,
}

/// RFC 3986 unreserved characters stay; everything else is percent-encoded, as SigV4 wants.
const SIGV4: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');
const SIGV4_PATH: &AsciiSet = &SIGV4.remove(b'/');

/// The parts of an `Authorization: AWS4-HMAC-SHA256 …` header.
struct Authorization<'a> {
    access_key: &'a str,
    scope: &'a str,
    signed_headers: Vec<&'a str>,
    signature: &'a str,
}

fn parse_authorization(value: &str) -> Result<Authorization<'_>, String> {
    let rest = value
        .strip_prefix("AWS4-HMAC-SHA256 ")
        .ok_or("no AWS4-HMAC-SHA256 Authorization header")?;
    let field = |name: &str| {
        rest.split(',')
            .map(str::trim)
            .find_map(|p| p.strip_prefix(name).and_then(|v| v.strip_prefix('=')))
            .ok_or_else(|| format!("the Authorization header has no {name}"))
    };
    let credential = field("Credential")?;
    let (access_key, scope) = credential
        .split_once('/')
        .ok_or("the credential has no scope")?;
    Ok(Authorization {
        access_key,
        scope,
        signed_headers: field("SignedHeaders")?.split(';').collect(),
        signature: field("Signature")?,
    })
}

/// Accepts the request when its signature is the one the local identity would have made.
pub(super) fn verify(parts: &Parts, body: &[u8], now_ms: i64) -> Result<Caller, String> {
    let header = |name: &str| parts.headers.get(name).and_then(|v| v.to_str().ok());
    let auth = parse_authorization(header("authorization").ok_or("the request is not signed")?)?;
    if auth.access_key != LOCAL_ACCESS_KEY {
        return Err(format!(
            "access key {} is not the local Lambda's ({LOCAL_ACCESS_KEY})",
            auth.access_key
        ));
    }
    let amz_date = header("x-amz-date").ok_or("no X-Amz-Date header")?;
    check_fresh(amz_date, now_ms)?;
    let scope_parts: Vec<&str> = auth.scope.split('/').collect();
    let [date, _region, service, "aws4_request"] = scope_parts.as_slice() else {
        return Err(format!("malformed credential scope {}", auth.scope));
    };
    if *service != "lambda" || !amz_date.starts_with(date) {
        return Err(format!("credential scope {} is not for lambda", auth.scope));
    }
    let payload_hash = match header("x-amz-content-sha256") {
        Some("UNSIGNED-PAYLOAD") => "UNSIGNED-PAYLOAD".to_string(),
        _ => hex::encode(Sha256::digest(body)),
    };
    let key = signing_key(date, auth.scope);
    // Clients differ on the path: botocore encodes the (already encoded) path once more, curl
    // signs it as sent. Both are signatures with the right key over this very request.
    let paths = [
        utf8_percent_encode(parts.uri.path(), SIGV4_PATH).to_string(),
        parts.uri.path().to_string(),
    ];
    for path in paths {
        let canonical = canonical_request(parts, &path, &auth.signed_headers, &payload_hash)?;
        let to_sign = format!(
            "AWS4-HMAC-SHA256\n{amz_date}\n{}\n{}",
            auth.scope,
            hex::encode(Sha256::digest(canonical.as_bytes()))
        );
        if hex::encode(hmac(&key, to_sign.as_bytes())) == auth.signature {
            return Ok(Caller {
                access_key: auth.access_key.to_string(),
            });
        }
    }
    Err("the signature does not match".into())
}

fn check_fresh(amz_date: &str, now_ms: i64) -> Result<(), String> {
    let at = parse_amz_date(amz_date).ok_or_else(|| format!("bad X-Amz-Date {amz_date}"))?;
    if (now_ms - at).abs() > SKEW_MS {
        return Err(format!(
            "X-Amz-Date {amz_date} is more than 15 minutes away"
        ));
    }
    Ok(())
}

/// `20240102T030405Z` as milliseconds since the epoch.
fn parse_amz_date(s: &str) -> Option<i64> {
    let n = |r: std::ops::Range<usize>| s.get(r)?.parse::<i64>().ok();
    if s.len() != 16 || &s[8..9] != "T" || !s.ends_with('Z') {
        return None;
    }
    let (y, m, d) = (n(0..4)?, n(4..6)?, n(6..8)?);
    let (hh, mm, ss) = (n(9..11)?, n(11..13)?, n(13..15)?);
    // Days from civil (Howard Hinnant), the inverse of time.rs's civil-from-days.
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    Some(((days * 86_400) + hh * 3600 + mm * 60 + ss) * 1000)
}

fn canonical_request(
    parts: &Parts,
    path: &str,
    signed: &[&str],
    payload_hash: &str,
) -> Result<String, String> {
    let mut headers = String::new();
    for name in signed {
        let values: Vec<String> = parts
            .headers
            .get_all(*name)
            .iter()
            .map(|v| {
                let v = String::from_utf8_lossy(v.as_bytes());
                v.split_whitespace().collect::<Vec<_>>().join(" ")
            })
            .collect();
        if values.is_empty() {
            return Err(format!("signed header {name} is missing"));
        }
        headers.push_str(&format!("{name}:{}\n", values.join(",")));
    }
    Ok(format!(
        "{}\n{path}\n{}\n{headers}\n{}\n{payload_hash}",
        parts.method,
        canonical_query(parts.uri.query().unwrap_or("")),
        signed.join(";")
    ))
}

fn canonical_query(raw: &str) -> String {
    let encode = |s: &str| {
        let decoded = percent_decode_str(s).decode_utf8_lossy().into_owned();
        utf8_percent_encode(&decoded, SIGV4).to_string()
    };
    let mut pairs: Vec<(String, String)> = raw
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (encode(k), encode(v))
        })
        .collect();
    pairs.sort();
    pairs
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join("&")
}

fn hmac(key: &[u8], data: &[u8]) -> Vec<u8> {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes any key length");
    mac.update(data);
    mac.finalize().into_bytes().to_vec()
}

/// `kSigning` for the scope `DATE/REGION/SERVICE/aws4_request`.
fn signing_key(date: &str, scope: &str) -> Vec<u8> {
    let mut key = hmac(
        format!("AWS4{LOCAL_SECRET_KEY}").as_bytes(),
        date.as_bytes(),
    );
    for part in scope.split('/').skip(1) {
        key = hmac(&key, part.as_bytes());
    }
    key
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_amz_dates() {
        // 2024-03-01T00:00:00Z, just after a leap day.
        assert_eq!(parse_amz_date("20240301T000000Z"), Some(1_709_251_200_000));
        assert_eq!(parse_amz_date("19700101T000001Z"), Some(1000));
        assert_eq!(parse_amz_date("2024-03-01"), None);
    }

    #[test]
    fn canonical_query_is_sorted_and_encoded() {
        assert_eq!(canonical_query("b=2&a=x%20y&a=1"), "a=1&a=x%20y&b=2");
        assert_eq!(canonical_query(""), "");
    }

    #[test]
    fn unsigned_and_foreign_requests_are_refused() {
        let unsigned = hyper::Request::builder()
            .uri("/")
            .body(())
            .unwrap()
            .into_parts()
            .0;
        assert!(verify(&unsigned, b"", 0).is_err());
        let foreign = hyper::Request::builder()
            .uri("/")
            .header("authorization", "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20240301/us-east-1/lambda/aws4_request, SignedHeaders=host;x-amz-date, Signature=00")
            .header("x-amz-date", "20240301T000000Z")
            .body(())
            .unwrap()
            .into_parts()
            .0;
        let err = verify(&foreign, b"", 1_709_251_200_000).unwrap_err();
        assert!(err.contains("not the local Lambda's"), "{err}");
    }
}
