//! Invoking a function and reading what came back: payload, error with its stack, log tail.

use std::fmt;
use std::time::Instant;

use aws_sdk_lambda::primitives::Blob;
use aws_sdk_lambda::types::{InvocationType, LogType};
use base64::Engine;
use serde::{Deserialize, Serialize};

use crate::aws::{AwsError, Connection};

/// Lambda's limit for a synchronous request payload.
pub const MAX_PAYLOAD_BYTES: usize = 6 * 1024 * 1024;

/// How to invoke.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum InvokeKind {
    /// Wait for the result (with the log tail).
    #[default]
    RequestResponse,
    /// Wait for the result but skip the log tail: fan-out does not show it, and producing it
    /// costs work on every call.
    ResultOnly,
    /// Queue it and return at once.
    Event,
    /// Only check that the call would be allowed.
    DryRun,
}

/// A payload that cannot be sent.
#[derive(Debug, thiserror::Error)]
pub enum PayloadError {
    #[error("the payload is not UTF-8 text (invalid byte at {0})")]
    NotUtf8(usize),
    #[error("the payload is not valid JSON: {0}")]
    Json(String),
    #[error("the payload is {0} bytes, over Lambda's {MAX_PAYLOAD_BYTES}-byte limit")]
    TooLarge(usize),
    #[error("--args must be a JSON array and --kwargs a JSON object")]
    ArgsShape,
}

/// Checks a payload the way Lambda would, before it is sent.
pub fn validate_payload(bytes: &[u8]) -> Result<(), PayloadError> {
    if bytes.len() > MAX_PAYLOAD_BYTES {
        return Err(PayloadError::TooLarge(bytes.len()));
    }
    let text = std::str::from_utf8(bytes).map_err(|e| PayloadError::NotUtf8(e.valid_up_to()))?;
    serde_json::from_str::<serde::de::IgnoredAny>(text)
        .map(|_| ())
        .map_err(|e| PayloadError::Json(e.to_string()))
}

/// Builds `{"args": [...], "kwargs": {...}}` for a callable from CLI-style JSON texts.
pub fn payload_from_args(
    args: Option<&str>,
    kwargs: Option<&str>,
) -> Result<Vec<u8>, PayloadError> {
    let parse = |t: &str| {
        serde_json::from_str::<serde_json::Value>(t).map_err(|e| PayloadError::Json(e.to_string()))
    };
    let args = args
        .map(parse)
        .transpose()?
        .unwrap_or(serde_json::json!([]));
    let kwargs = kwargs
        .map(parse)
        .transpose()?
        .unwrap_or(serde_json::json!({}));
    if !args.is_array() || !kwargs.is_object() {
        return Err(PayloadError::ArgsShape);
    }
    Ok(
        serde_json::to_vec(&serde_json::json!({"args": args, "kwargs": kwargs}))
            .expect("JSON values serialize"),
    )
}

/// One invoke.
#[derive(Debug, Clone)]
pub struct InvokeRequest {
    pub function: String,
    pub payload: Vec<u8>,
    pub kind: InvokeKind,
    pub qualifier: Option<String>,
}

/// An error the function raised, as Lambda's runtimes report it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FunctionError {
    #[serde(default)]
    pub error_message: String,
    #[serde(default)]
    pub error_type: String,
    #[serde(default)]
    pub stack_trace: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
}

/// One frame of a Python traceback.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StackFrame {
    pub file: String,
    /// One-based, as Python prints it.
    pub line: u32,
    pub function: String,
    pub code: Option<String>,
}

impl FunctionError {
    /// Parses Python's `  File "x.py", line 3, in handler\n    code\n` frames.
    pub fn frames(&self) -> Vec<StackFrame> {
        self.stack_trace
            .iter()
            .filter_map(|s| parse_frame(s))
            .collect()
    }
}

fn parse_frame(text: &str) -> Option<StackFrame> {
    let rest = text.trim_start().strip_prefix("File \"")?;
    let (file, rest) = rest.split_once('"')?;
    let rest = rest
        .trim_start_matches(',')
        .trim_start()
        .strip_prefix("line ")?;
    let (line, rest) = rest.split_once(',').unwrap_or((rest.lines().next()?, ""));
    let rest = rest.trim_start().strip_prefix("in ").unwrap_or(rest);
    let mut lines = rest.lines();
    let function = lines.next().unwrap_or("").trim().to_string();
    let code = lines
        .next()
        .map(|c| c.trim().to_string())
        .filter(|c| !c.is_empty());
    Some(StackFrame {
        file: file.to_string(),
        line: line.trim().parse().ok()?,
        function,
        code,
    })
}

/// What an invoke returned.
#[derive(Debug, Clone, Serialize)]
pub struct InvokeOutcome {
    pub function: String,
    pub status_code: i32,
    /// `Unhandled` or `Handled` when the function failed.
    pub function_error: Option<String>,
    /// The JSON result (or the error document), `null` when there is none.
    pub payload: serde_json::Value,
    /// The raw text when the payload is not JSON.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub payload_text: Option<String>,
    pub error: Option<FunctionError>,
    pub log_tail: Option<String>,
    pub duration_ms: f64,
    pub executed_version: Option<String>,
}

impl InvokeOutcome {
    pub fn failed(&self) -> bool {
        self.function_error.is_some()
    }

    /// The result on one line, for inline hints and status lines.
    pub fn compact(&self) -> String {
        match &self.error {
            Some(e) => format!("{}: {}", e.error_type, e.error_message),
            None => self
                .payload_text
                .clone()
                .unwrap_or_else(|| serde_json::to_string(&self.payload).unwrap_or_default()),
        }
    }
}

impl fmt::Display for InvokeOutcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(e) = &self.error {
            writeln!(
                f,
                "{} failed: {}: {}",
                self.function, e.error_type, e.error_message
            )?;
            for frame in &e.stack_trace {
                write!(f, "{frame}")?;
                if !frame.ends_with('\n') {
                    writeln!(f)?;
                }
            }
            return Ok(());
        }
        match (&self.payload_text, &self.payload) {
            (Some(text), _) => writeln!(f, "{text}"),
            (None, serde_json::Value::Null) if self.status_code != 200 => {
                writeln!(f, "accepted (HTTP {})", self.status_code)
            }
            (None, v) => writeln!(f, "{}", serde_json::to_string_pretty(v).unwrap_or_default()),
        }
    }
}

/// Invokes the function; a function error is a normal outcome, not an `Err`.
pub async fn invoke(conn: &Connection, req: &InvokeRequest) -> Result<InvokeOutcome, InvokeError> {
    validate_payload(&req.payload)?;
    let (kind, log) = match req.kind {
        InvokeKind::RequestResponse => (InvocationType::RequestResponse, LogType::Tail),
        InvokeKind::ResultOnly => (InvocationType::RequestResponse, LogType::None),
        InvokeKind::Event => (InvocationType::Event, LogType::None),
        InvokeKind::DryRun => (InvocationType::DryRun, LogType::None),
    };
    let started = Instant::now();
    let out = conn
        .invoker
        .invoke()
        .function_name(&req.function)
        .payload(Blob::new(req.payload.clone()))
        .invocation_type(kind)
        .log_type(log)
        .set_qualifier(req.qualifier.clone())
        .send()
        .await
        .map_err(|e| conn.error("Invoke", e))?;
    let bytes = out
        .payload()
        .map(|b| b.as_ref().to_vec())
        .unwrap_or_default();
    Ok(InvokeOutcome::from_response(Response {
        function: req.function.clone(),
        status_code: out.status_code(),
        payload: bytes,
        function_error: out.function_error().map(str::to_string),
        log_result: out.log_result().map(str::to_string),
        duration_ms: started.elapsed().as_secs_f64() * 1000.0,
        executed_version: out.executed_version().map(str::to_string),
    }))
}

/// An Invoke answer as it came over the wire, from the SDK or another client (the local
/// Lambda's debug invocations).
#[derive(Debug, Clone)]
pub struct Response {
    pub function: String,
    pub status_code: i32,
    pub payload: Vec<u8>,
    /// `X-Amz-Function-Error`.
    pub function_error: Option<String>,
    /// `X-Amz-Log-Result`: the base64 log tail.
    pub log_result: Option<String>,
    pub duration_ms: f64,
    pub executed_version: Option<String>,
}

impl InvokeOutcome {
    /// Parses the payload and, for a function error, its error document and stack.
    pub fn from_response(r: Response) -> InvokeOutcome {
        let (payload, payload_text) = if r.payload.is_empty() {
            (serde_json::Value::Null, None)
        } else {
            match serde_json::from_slice::<serde_json::Value>(&r.payload) {
                Ok(v) => (v, None),
                Err(_) => (
                    serde_json::Value::Null,
                    Some(String::from_utf8_lossy(&r.payload).into_owned()),
                ),
            }
        };
        let error = r.function_error.as_ref().map(|_| {
            serde_json::from_value::<FunctionError>(payload.clone()).unwrap_or_else(|_| {
                FunctionError {
                    error_message: payload_text.clone().unwrap_or_else(|| payload.to_string()),
                    error_type: "Unknown".to_string(),
                    stack_trace: Vec::new(),
                    request_id: None,
                }
            })
        });
        let log_tail = r.log_result.and_then(|b64| {
            base64::engine::general_purpose::STANDARD
                .decode(b64)
                .ok()
                .map(|b| String::from_utf8_lossy(&b).into_owned())
        });
        InvokeOutcome {
            function: r.function,
            status_code: r.status_code,
            function_error: r.function_error,
            payload,
            payload_text,
            error,
            log_tail,
            duration_ms: r.duration_ms,
            executed_version: r.executed_version,
        }
    }
}

/// Why an invoke did not happen.
#[derive(Debug, thiserror::Error)]
pub enum InvokeError {
    #[error(transparent)]
    Payload(#[from] PayloadError),
    #[error(transparent)]
    Aws(#[from] AwsError),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payload_checks() {
        assert!(validate_payload(br#"{"a": 1}"#).is_ok());
        assert!(validate_payload(b"[1, 2")
            .unwrap_err()
            .to_string()
            .starts_with("the payload is not valid JSON"));
        assert!(matches!(
            validate_payload(b"\"\xff\""),
            Err(PayloadError::NotUtf8(1))
        ));
        let big = format!("\"{}\"", "x".repeat(MAX_PAYLOAD_BYTES));
        assert!(matches!(
            validate_payload(big.as_bytes()),
            Err(PayloadError::TooLarge(_))
        ));
        assert_eq!(
            payload_from_args(Some("[1, 2]"), Some(r#"{"b": 3}"#)).unwrap(),
            br#"{"args":[1,2],"kwargs":{"b":3}}"#
        );
        assert!(matches!(
            payload_from_args(Some("{}"), None),
            Err(PayloadError::ArgsShape)
        ));
    }

    #[test]
    fn parses_python_stack_frames() {
        let e: FunctionError = serde_json::from_str(r#"{"errorMessage": "boom", "errorType": "ValueError", "requestId": "r1", "stackTrace": ["  File \"/var/task/app/h.py\", line 12, in handler\n    return inner(x)\n", "  File \"/var/task/app/util.py\", line 3, in inner\n    raise ValueError(\"boom\")\n"]}"#).unwrap();
        let frames = e.frames();
        assert_eq!(frames.len(), 2);
        assert_eq!(
            frames[1],
            StackFrame {
                file: "/var/task/app/util.py".into(),
                line: 3,
                function: "inner".into(),
                code: Some("raise ValueError(\"boom\")".into()),
            }
        );
    }
}
