//! The CORS settings stored on a function URL, applied as Lambda applies them: preflight
//! requests are answered without invoking the function, and responses to an allowed origin
//! carry the CORS headers (replacing any the function set).

use bytes::Bytes;
use http_body_util::Full;
use hyper::header::HeaderValue;
use hyper::http::request::Parts;
use hyper::{HeaderMap, Method, Response};
use serde_json::Value;

use crate::model::UrlConfig;

/// A URL's CORS settings and the origin of the request at hand, if it is an allowed one.
#[derive(Debug)]
pub(super) struct Cors {
    settings: Value,
    allowed_origin: Option<String>,
}

impl Cors {
    /// `None` when the URL has no CORS settings: then everything reaches the function.
    pub(super) fn of(config: &UrlConfig, headers: &HeaderMap) -> Option<Cors> {
        let settings = config.cors.clone()?;
        let origin = headers
            .get(hyper::header::ORIGIN)
            .and_then(|o| o.to_str().ok());
        let allowed_origin = origin
            .filter(|o| {
                strings(&settings, "AllowOrigins")
                    .iter()
                    .any(|a| a == "*" || a.eq_ignore_ascii_case(o))
            })
            .map(String::from);
        Some(Cors {
            settings,
            allowed_origin,
        })
    }

    /// The answer to a preflight (`OPTIONS` with `Access-Control-Request-Method`).
    pub(super) fn preflight(&self, parts: &Parts) -> Option<Response<Full<Bytes>>> {
        let is_preflight = parts.method == Method::OPTIONS
            && parts.headers.contains_key("access-control-request-method");
        if !is_preflight {
            return None;
        }
        let mut resp = Response::new(Full::new(Bytes::new()));
        self.decorate(&mut resp);
        if self.allowed_origin.is_some() {
            let h = resp.headers_mut();
            set(
                h,
                "access-control-allow-methods",
                strings(&self.settings, "AllowMethods"),
            );
            set(
                h,
                "access-control-allow-headers",
                strings(&self.settings, "AllowHeaders"),
            );
            if let Some(age) = self.settings.get("MaxAge").and_then(Value::as_u64) {
                set(h, "access-control-max-age", vec![age.to_string()]);
            }
        }
        Some(resp)
    }

    /// Adds the CORS headers of an allowed origin to a response.
    pub(super) fn decorate(&self, resp: &mut Response<Full<Bytes>>) {
        let h = resp.headers_mut();
        h.insert(hyper::header::VARY, HeaderValue::from_static("Origin"));
        let Some(origin) = &self.allowed_origin else {
            return;
        };
        set(h, "access-control-allow-origin", vec![origin.clone()]);
        set(
            h,
            "access-control-expose-headers",
            strings(&self.settings, "ExposeHeaders"),
        );
        if self.settings.get("AllowCredentials") == Some(&Value::Bool(true)) {
            set(h, "access-control-allow-credentials", vec!["true".into()]);
        }
    }
}

fn strings(settings: &Value, key: &str) -> Vec<String> {
    settings
        .get(key)
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .map(String::from)
                .collect()
        })
        .unwrap_or_default()
}

/// Sets a comma-joined header, or removes it when there is nothing to say.
fn set(h: &mut HeaderMap, name: &'static str, values: Vec<String>) {
    match HeaderValue::from_str(&values.join(",")) {
        Ok(v) if !values.is_empty() => {
            h.insert(name, v);
        }
        _ => {
            h.remove(name);
        }
    }
}
