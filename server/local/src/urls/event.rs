//! The function URL event (payload format 2.0) made from an HTTP request, and the HTTP
//! response made from the function's answer, as AWS maps both (Lambda developer guide,
//! "Invoking Lambda function URLs", request and response payloads).

use std::collections::BTreeMap;
use std::net::SocketAddr;

use base64::Engine as _;
use bytes::Bytes;
use http_body_util::Full;
use hyper::header::{HeaderName, HeaderValue};
use hyper::http::request::Parts;
use hyper::{Response, StatusCode};
use percent_encoding::percent_decode_str;
use serde_json::{json, Map, Value};

use super::sigv4::Caller;

/// The event for one request. Headers are lower-cased and repeated ones comma-joined; the
/// `cookie` header moves to `cookies`; repeated query parameters are comma-joined; a body is
/// base64-encoded unless it is text (a text, JSON or XML content type and valid UTF-8).
pub(super) fn request_event(
    parts: &Parts,
    body: &[u8],
    peer: SocketAddr,
    url_id: &str,
    caller: Option<&Caller>,
) -> Value {
    let (mut headers, cookies) = headers_and_cookies(parts);
    let port = parts
        .headers
        .get(hyper::header::HOST)
        .and_then(|h| h.to_str().ok())
        .and_then(|h| h.rsplit_once(':'))
        .map(|(_, p)| p.to_string())
        .unwrap_or_default();
    // What AWS's front end adds; there is no TLS on loopback, so no x-amzn-tls-* headers.
    headers.insert("x-forwarded-for".into(), peer.ip().to_string());
    headers.insert("x-forwarded-proto".into(), "http".into());
    headers.insert("x-forwarded-port".into(), port);
    let id = uuid::Uuid::new_v4().simple().to_string();
    let secs = crate::time::now_millis() / 1000;
    headers.insert(
        "x-amzn-trace-id".into(),
        format!("Root=1-{secs:08x}-{}", &id[..24]),
    );
    let raw_query = parts.uri.query().unwrap_or("");
    let mut event = json!({
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": parts.uri.path(),
        "rawQueryString": raw_query,
        "headers": headers,
        "requestContext": request_context(parts, &headers, peer, url_id, caller),
        "isBase64Encoded": false,
    });
    if !cookies.is_empty() {
        event["cookies"] = json!(cookies);
    }
    if !raw_query.is_empty() {
        event["queryStringParameters"] = json!(query_parameters(raw_query));
    }
    if !body.is_empty() {
        let (text, encoded) = body_text(&headers, body);
        event["body"] = json!(text);
        event["isBase64Encoded"] = json!(encoded);
    }
    event
}

fn headers_and_cookies(parts: &Parts) -> (BTreeMap<String, String>, Vec<String>) {
    let mut headers: BTreeMap<String, String> = BTreeMap::new();
    let mut cookies = Vec::new();
    for (name, value) in &parts.headers {
        let value = String::from_utf8_lossy(value.as_bytes()).into_owned();
        if name == hyper::header::COOKIE {
            cookies.extend(
                value
                    .split(';')
                    .map(str::trim)
                    .filter(|c| !c.is_empty())
                    .map(String::from),
            );
            continue;
        }
        headers
            .entry(name.as_str().to_string())
            .and_modify(|v| {
                v.push(',');
                v.push_str(&value);
            })
            .or_insert(value);
    }
    (headers, cookies)
}

fn query_parameters(raw: &str) -> BTreeMap<String, String> {
    let mut out: BTreeMap<String, String> = BTreeMap::new();
    for pair in raw.split('&').filter(|p| !p.is_empty()) {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        let k = percent_decode_str(k).decode_utf8_lossy().into_owned();
        let v = percent_decode_str(v).decode_utf8_lossy().into_owned();
        out.entry(k)
            .and_modify(|old| {
                old.push(',');
                old.push_str(&v);
            })
            .or_insert(v);
    }
    out
}

fn request_context(
    parts: &Parts,
    headers: &BTreeMap<String, String>,
    peer: SocketAddr,
    url_id: &str,
    caller: Option<&Caller>,
) -> Value {
    let now = crate::time::now_millis();
    let mut context = json!({
        "accountId": "anonymous",
        "apiId": url_id,
        "domainName": headers.get("host").cloned().unwrap_or_default(),
        "domainPrefix": url_id,
        "http": {
            "method": parts.method.as_str(),
            "path": parts.uri.path(),
            "protocol": protocol(parts.version),
            "sourceIp": peer.ip().to_string(),
            "userAgent": headers.get("user-agent").cloned().unwrap_or_default(),
        },
        "requestId": uuid::Uuid::new_v4().to_string(),
        "routeKey": "$default",
        "stage": "$default",
        "time": crate::time::clf_timestamp(now),
        "timeEpoch": now,
    });
    if let Some(c) = caller {
        context["accountId"] = json!(crate::ACCOUNT_ID);
        context["authorizer"] = json!({ "iam": {
            "accessKey": c.access_key,
            "accountId": crate::ACCOUNT_ID,
            "callerId": c.access_key,
            "cognitoIdentity": null,
            "principalOrgId": null,
            "userArn": format!("arn:aws:iam::{}:user/{}", crate::ACCOUNT_ID, c.access_key),
            "userId": c.access_key,
        }});
    }
    context
}

/// `requestContext.http.protocol`: the HTTP version as AWS names it.
fn protocol(version: hyper::Version) -> &'static str {
    match version {
        hyper::Version::HTTP_10 => "HTTP/1.0",
        hyper::Version::HTTP_2 => "HTTP/2.0",
        _ => "HTTP/1.1",
    }
}

/// The body as the event carries it, and whether that is base64.
fn body_text(headers: &BTreeMap<String, String>, body: &[u8]) -> (String, bool) {
    let content_type = headers
        .get("content-type")
        .map(|c| c.to_ascii_lowercase())
        .unwrap_or_default();
    let textual = ["text/", "json", "xml", "javascript"]
        .iter()
        .any(|t| content_type.contains(t));
    match std::str::from_utf8(body) {
        Ok(text) if textual => (text.to_string(), false),
        _ => (base64::engine::general_purpose::STANDARD.encode(body), true),
    }
}

/// The HTTP response for a function's answer. An object with `statusCode` is a response
/// (`headers`, `cookies`, `body`, `isBase64Encoded`); any other JSON is a 200
/// `application/json` body, a JSON string being the body's text. An answer that is not
/// valid JSON or names an impossible status is an error (AWS's 502).
pub(super) fn http_response(answer: &[u8]) -> Result<Response<Full<Bytes>>, String> {
    let value: Value = serde_json::from_slice(answer).map_err(|e| format!("is not JSON ({e})"))?;
    match value {
        Value::Object(map) if map.contains_key("statusCode") => structured(&map),
        Value::String(s) => Ok(plain(Bytes::from(s))),
        _ => Ok(plain(Bytes::copy_from_slice(answer))),
    }
}

fn plain(body: Bytes) -> Response<Full<Bytes>> {
    let mut resp = Response::new(Full::new(body));
    resp.headers_mut().insert(
        hyper::header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    resp
}

fn structured(map: &Map<String, Value>) -> Result<Response<Full<Bytes>>, String> {
    let status = map["statusCode"]
        .as_u64()
        .and_then(|s| u16::try_from(s).ok())
        .and_then(|s| StatusCode::from_u16(s).ok())
        .ok_or_else(|| format!("has an invalid statusCode {}", map["statusCode"]))?;
    let body = match map.get("body") {
        None | Some(Value::Null) => Bytes::new(),
        Some(Value::String(s)) if map.get("isBase64Encoded") == Some(&Value::Bool(true)) => {
            base64::engine::general_purpose::STANDARD
                .decode(s)
                .map(Bytes::from)
                .map_err(|e| format!("has isBase64Encoded but its body is not base64 ({e})"))?
        }
        Some(Value::String(s)) => Bytes::from(s.clone()),
        Some(other) => Bytes::from(other.to_string()),
    };
    let mut resp = plain(body);
    *resp.status_mut() = status;
    let h = resp.headers_mut();
    if let Some(Value::Object(headers)) = map.get("headers") {
        for (name, value) in headers {
            let value = match value {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            let (Ok(name), Ok(value)) = (
                HeaderName::from_bytes(name.as_bytes()),
                HeaderValue::from_str(&value),
            ) else {
                return Err(format!("has an invalid header {name}"));
            };
            h.insert(name, value);
        }
    }
    if let Some(Value::Array(cookies)) = map.get("cookies") {
        for c in cookies.iter().filter_map(Value::as_str) {
            let v = HeaderValue::from_str(c).map_err(|_| format!("has an invalid cookie {c}"))?;
            h.append(hyper::header::SET_COOKIE, v);
        }
    }
    Ok(resp)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parts(uri: &str, headers: &[(&str, &str)]) -> Parts {
        let mut b = hyper::Request::builder().method("POST").uri(uri);
        for (k, v) in headers {
            b = b.header(*k, *v);
        }
        b.body(()).unwrap().into_parts().0
    }

    #[test]
    fn request_becomes_payload_2_0() {
        let p = parts(
            "/a/b?x=1&x=2&msg=hello%20world",
            &[
                ("Host", "127.0.0.1:9000"),
                ("X-Multi", "one"),
                ("X-Multi", "two"),
                ("Cookie", "a=1; b=2"),
                ("Content-Type", "application/json"),
            ],
        );
        let peer: SocketAddr = "127.0.0.1:5555".parse().unwrap();
        let e = request_event(&p, br#"{"k":1}"#, peer, "abc", None);
        assert_eq!(e["rawPath"], "/a/b");
        assert_eq!(e["rawQueryString"], "x=1&x=2&msg=hello%20world");
        assert_eq!(e["queryStringParameters"]["x"], "1,2");
        assert_eq!(e["queryStringParameters"]["msg"], "hello world");
        assert_eq!(e["headers"]["x-multi"], "one,two");
        assert!(e["headers"].get("cookie").is_none());
        assert_eq!(e["cookies"], json!(["a=1", "b=2"]));
        assert_eq!(e["body"], r#"{"k":1}"#);
        assert_eq!(e["isBase64Encoded"], false);
        assert_eq!(e["requestContext"]["http"]["method"], "POST");
        assert_eq!(e["requestContext"]["http"]["protocol"], "HTTP/1.1");
        assert_eq!(e["requestContext"]["accountId"], "anonymous");
        assert_eq!(e["headers"]["x-forwarded-port"], "9000");
        let bin = request_event(&p, &[0xff, 0x00], peer, "abc", None);
        assert_eq!(bin["isBase64Encoded"], true);
        assert_eq!(bin["body"], "/wA=");
        let get = request_event(&parts("/", &[]), b"", peer, "abc", None);
        assert!(get.get("body").is_none() && get.get("queryStringParameters").is_none());
    }

    #[test]
    fn answers_become_responses() {
        let r = http_response(br#""hi""#).unwrap();
        assert_eq!(r.status(), 200);
        let r = http_response(br#"{"statusCode":201,"headers":{"x-a":"b"},"cookies":["c=1","d=2"],"body":"aGk=","isBase64Encoded":true}"#).unwrap();
        assert_eq!(r.status(), 201);
        assert_eq!(r.headers()["x-a"], "b");
        assert_eq!(r.headers().get_all("set-cookie").iter().count(), 2);
        assert!(http_response(br#"{"statusCode":"nope"}"#).is_err());
        assert!(http_response(b"not json").is_err());
        let r = http_response(br#"{"message":"hello"}"#).unwrap();
        assert_eq!(r.headers()["content-type"], "application/json");
    }
}
