//! Persisted records (functions, versions, aliases, policies, URLs, layers) and their AWS JSON.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

use crate::store::hex_to_b64;
use crate::{ACCOUNT_ID, REGION};

/// Runtimes CreateFunction accepts (only the Python ones can be invoked), and variables Lambda
/// sets itself and refuses in a function's Environment.
pub(crate) use lambda_facts::{RESERVED_ENV, RUNTIMES};

pub(crate) const LATEST: &str = "$LATEST";

pub(crate) fn function_arn(name: &str) -> String {
    format!("arn:aws:lambda:{REGION}:{ACCOUNT_ID}:function:{name}")
}

pub(crate) fn layer_arn(name: &str) -> String {
    format!("arn:aws:lambda:{REGION}:{ACCOUNT_ID}:layer:{name}")
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) enum State {
    Pending,
    Active,
    Failed,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) enum UpdateStatus {
    InProgress,
    Successful,
    Failed,
}

/// A layer version a function uses, with the hash that locates its unpacked tree even after
/// the layer version itself is deleted (Lambda keeps a copy for the functions using it).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct LayerRef {
    pub arn: String,
    pub sha256: String,
    pub size: u64,
}

/// One function configuration: `$LATEST` or a published version.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct FunctionConfig {
    pub name: String,
    pub version: String,
    pub runtime: String,
    pub role: String,
    pub handler: String,
    pub description: String,
    pub timeout: u32,
    pub memory_size: u32,
    pub environment: BTreeMap<String, String>,
    pub architectures: Vec<String>,
    pub ephemeral_storage: u32,
    pub layers: Vec<LayerRef>,
    pub log_format: String,
    pub log_group: String,
    /// Hex SHA-256 of the zip: the name of the code file and of the unpacked task root.
    pub code_sha256: String,
    pub code_size: u64,
    pub last_modified: String,
    pub revision_id: String,
    pub state: State,
    pub state_reason: Option<String>,
    pub state_reason_code: Option<String>,
    pub last_update_status: UpdateStatus,
    pub last_update_status_reason: Option<String>,
    pub last_update_status_reason_code: Option<String>,
}

impl FunctionConfig {
    /// Whether two configurations would run the same thing: PublishVersion makes no new version
    /// when nothing changed since the last one.
    pub(crate) fn same_deployment(&self, other: &FunctionConfig) -> bool {
        self.code_sha256 == other.code_sha256
            && self.runtime == other.runtime
            && self.role == other.role
            && self.handler == other.handler
            && self.description == other.description
            && self.timeout == other.timeout
            && self.memory_size == other.memory_size
            && self.environment == other.environment
            && self.architectures == other.architectures
            && self.ephemeral_storage == other.ephemeral_storage
            && self.layers == other.layers
            && self.log_format == other.log_format
            && self.log_group == other.log_group
    }

    /// The ARN AWS reports in a FunctionConfiguration: unqualified for `$LATEST`.
    pub(crate) fn arn(&self) -> String {
        if self.version == LATEST {
            function_arn(&self.name)
        } else {
            format!("{}:{}", function_arn(&self.name), self.version)
        }
    }

    /// The FunctionConfiguration JSON of the Lambda API.
    pub(crate) fn to_json(&self) -> Value {
        let mut v = json!({
            "FunctionName": self.name,
            "FunctionArn": self.arn(),
            "Runtime": self.runtime,
            "Role": self.role,
            "Handler": self.handler,
            "CodeSize": self.code_size,
            "Description": self.description,
            "Timeout": self.timeout,
            "MemorySize": self.memory_size,
            "LastModified": self.last_modified,
            "CodeSha256": hex_to_b64(&self.code_sha256),
            "Version": self.version,
            "TracingConfig": { "Mode": "PassThrough" },
            "RevisionId": self.revision_id,
            "State": self.state,
            "LastUpdateStatus": self.last_update_status,
            "PackageType": "Zip",
            "Architectures": self.architectures,
            "EphemeralStorage": { "Size": self.ephemeral_storage },
            "SnapStart": { "ApplyOn": "None", "OptimizationStatus": "Off" },
            "RuntimeVersionConfig": {
                "RuntimeVersionArn": format!("arn:aws:lambda:{REGION}::runtime:lambda-ls-local")
            },
            "LoggingConfig": { "LogFormat": self.log_format, "LogGroup": self.log_group },
        });
        let obj = v.as_object_mut().expect("object literal");
        // A function without variables has no Environment key at all (as GetFunction shows).
        if !self.environment.is_empty() {
            obj.insert(
                "Environment".into(),
                json!({ "Variables": self.environment }),
            );
        }
        if !self.layers.is_empty() {
            obj.insert(
                "Layers".into(),
                self.layers
                    .iter()
                    .map(|l| json!({ "Arn": l.arn, "CodeSize": l.size }))
                    .collect(),
            );
        }
        insert_opt(obj, "StateReason", &self.state_reason);
        insert_opt(obj, "StateReasonCode", &self.state_reason_code);
        insert_opt(
            obj,
            "LastUpdateStatusReason",
            &self.last_update_status_reason,
        );
        insert_opt(
            obj,
            "LastUpdateStatusReasonCode",
            &self.last_update_status_reason_code,
        );
        v
    }
}

fn insert_opt(obj: &mut Map<String, Value>, key: &str, value: &Option<String>) {
    if let Some(s) = value {
        obj.insert(key.into(), Value::String(s.clone()));
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Alias {
    pub name: String,
    pub function_version: String,
    pub description: String,
    pub revision_id: String,
    pub routing_config: Option<Value>,
}

impl Alias {
    pub(crate) fn to_json(&self, function: &str) -> Value {
        let mut v = json!({
            "AliasArn": format!("{}:{}", function_arn(function), self.name),
            "Name": self.name,
            "FunctionVersion": self.function_version,
            "Description": self.description,
            "RevisionId": self.revision_id,
        });
        if let Some(r) = &self.routing_config {
            v["RoutingConfig"] = r.clone();
        }
        v
    }
}

/// The resource policy of a function or of one qualifier of it.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub(crate) struct Policy {
    pub statements: Vec<Value>,
    pub revision_id: String,
}

impl Policy {
    pub(crate) fn document(&self) -> String {
        json!({ "Version": "2012-10-17", "Id": "default", "Statement": self.statements })
            .to_string()
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct UrlConfig {
    /// `http://127.0.0.1:PORT/` where it is served (older records: AWS's form, never served).
    pub url: String,
    /// AWS's `<url-id>`, the event's `apiId`; empty in records written before URLs were served.
    #[serde(default)]
    pub id: String,
    /// The loopback port last served on, asked for again after a restart.
    #[serde(default)]
    pub port: Option<u16>,
    pub auth_type: String,
    pub cors: Option<Value>,
    pub invoke_mode: String,
    pub creation_time: String,
    pub last_modified_time: String,
}

impl UrlConfig {
    /// AWS's `<url-id>`: stored, or the first label of an AWS-form URL.
    pub(crate) fn url_id(&self) -> String {
        if !self.id.is_empty() {
            return self.id.clone();
        }
        let host = self.url.trim_start_matches("https://");
        host.split('.').next().unwrap_or_default().to_string()
    }

    pub(crate) fn to_json(&self, function_arn: &str) -> Value {
        let mut v = json!({
            "FunctionUrl": self.url,
            "FunctionArn": function_arn,
            "AuthType": self.auth_type,
            "InvokeMode": self.invoke_mode,
            "CreationTime": self.creation_time,
            "LastModifiedTime": self.last_modified_time,
        });
        if let Some(c) = &self.cors {
            v["Cors"] = c.clone();
        }
        v
    }
}

/// Everything persisted about one function, in `functions/<name>.json`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct FunctionRecord {
    /// What GetFunction reports for `$LATEST`, possibly an update still being applied.
    pub latest: FunctionConfig,
    /// What `$LATEST` invocations run: the last configuration that was applied successfully, so
    /// an update in progress or a failed one keeps serving the previous code, as on AWS.
    pub active: Option<FunctionConfig>,
    pub versions: BTreeMap<u64, FunctionConfig>,
    /// Version numbers are never reused, even after a version is deleted.
    pub last_version: u64,
    pub aliases: BTreeMap<String, Alias>,
    /// Keyed by qualifier, `""` for the unqualified function.
    pub policies: BTreeMap<String, Policy>,
    pub urls: BTreeMap<String, UrlConfig>,
    pub tags: BTreeMap<String, String>,
}

/// One published layer version.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct LayerVersion {
    pub version: u64,
    pub description: String,
    pub code_sha256: String,
    pub code_size: u64,
    pub created_date: String,
    pub compatible_runtimes: Vec<String>,
    pub compatible_architectures: Vec<String>,
    pub license_info: Option<String>,
}

/// Everything persisted about one layer, in `layers/<name>.json`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct LayerRecord {
    pub name: String,
    pub last_version: u64,
    pub versions: BTreeMap<u64, LayerVersion>,
}

impl LayerVersion {
    pub(crate) fn arn(&self, layer: &str) -> String {
        format!("{}:{}", layer_arn(layer), self.version)
    }

    /// The short form ListLayerVersions and ListLayers use.
    pub(crate) fn summary_json(&self, layer: &str) -> Value {
        let mut v = json!({
            "LayerVersionArn": self.arn(layer),
            "Version": self.version,
            "Description": self.description,
            "CreatedDate": self.created_date,
            "CompatibleRuntimes": self.compatible_runtimes,
            "CompatibleArchitectures": self.compatible_architectures,
        });
        if let Some(l) = &self.license_info {
            v["LicenseInfo"] = Value::String(l.clone());
        }
        v
    }

    /// The full form of PublishLayerVersion and GetLayerVersion.
    pub(crate) fn to_json(&self, layer: &str, endpoint: &str) -> Value {
        let mut v = self.summary_json(layer);
        v["LayerArn"] = Value::String(layer_arn(layer));
        v["Content"] = json!({
            "Location": format!("{endpoint}/lambda-ls/code/{}.zip", self.code_sha256),
            "CodeSha256": hex_to_b64(&self.code_sha256),
            "CodeSize": self.code_size,
        });
        v
    }
}

/// A function named in a request path: a name, `NAME:QUALIFIER`, or a full or partial ARN.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct FunctionRef {
    pub name: String,
    pub qualifier: Option<String>,
}

/// AWS's pattern for a function named in a request path (Lambda API reference, e.g. GetFunction:
/// FunctionName "Pattern"); anything else is a ValidationException, never a guess at a name.
const FUNCTION_NAME_PATTERN: &str = r"(arn:(aws[a-zA-Z-]*)?:lambda:)?([a-z]{2}((-gov)|(-iso([a-z]?)))?-[a-z]+-\d{1}:)?(\d{12}:)?(function:)?([a-zA-Z0-9-_\.]+)(:(\$LATEST|[a-zA-Z0-9-_]+))?";

fn function_name_regex() -> &'static regex::Regex {
    static RE: std::sync::OnceLock<regex::Regex> = std::sync::OnceLock::new();
    RE.get_or_init(|| {
        // The same pattern with the class dashes escaped, as the regex crate wants them.
        let pattern = FUNCTION_NAME_PATTERN.replace("9-_", "9\\-_");
        regex::Regex::new(&format!("^{pattern}$")).expect("valid pattern")
    })
}

impl FunctionRef {
    /// A name, a partial ARN or a full ARN, as AWS's pattern reads it (1–170 characters).
    pub(crate) fn parse(id: &str) -> Result<FunctionRef, crate::error::ApiError> {
        let caps = function_name_regex()
            .captures(id)
            .filter(|_| id.len() <= 170)
            .ok_or_else(|| {
                crate::error::ApiError::validation(format!(
                    "1 validation error detected: Value '{id}' at 'functionName' failed to satisfy constraint: Member must satisfy regular expression pattern: {FUNCTION_NAME_PATTERN}"
                ))
            })?;
        Ok(FunctionRef {
            name: caps[10].to_string(),
            qualifier: caps.get(12).map(|q| q.as_str().to_string()),
        })
    }

    /// The ARN to name in errors, qualified as the caller asked.
    pub(crate) fn arn(&self) -> String {
        match &self.qualifier {
            Some(q) => format!("{}:{q}", function_arn(&self.name)),
            None => function_arn(&self.name),
        }
    }
}

/// Lambda's rule for function names: 1–64 of `[A-Za-z0-9_-]`.
pub(crate) fn valid_function_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// IAM's role ARN shape: `arn:aws:iam::123456789012:role/path/name`.
pub(crate) fn valid_role(role: &str) -> bool {
    let Some(rest) = role.strip_prefix("arn:") else {
        return false;
    };
    let mut it = rest.splitn(5, ':');
    let (Some(partition), Some("iam"), Some(""), Some(account), Some(resource)) =
        (it.next(), it.next(), it.next(), it.next(), it.next())
    else {
        return false;
    };
    partition.starts_with("aws")
        && account.len() == 12
        && account.bytes().all(|b| b.is_ascii_digit())
        && resource.strip_prefix("role/").is_some_and(|n| {
            !n.is_empty()
                && n.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"+=,.@-_/".contains(&b))
        })
}

/// Alias names: like function names up to 128, but not all digits (that would be a version).
pub(crate) fn valid_alias_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 128
        && !name.bytes().all(|b| b.is_ascii_digit())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// Layer names: 1–140 of `[A-Za-z0-9_-]`.
pub(crate) fn valid_layer_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 140
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// Splits `arn:aws:lambda:REGION:ACCT:layer:NAME:VERSION` into name and version.
pub(crate) fn parse_layer_version_arn(arn: &str) -> Option<(String, u64)> {
    match arn.split(':').collect::<Vec<_>>().as_slice() {
        ["arn", _, "lambda", _, _, "layer", name, version] => {
            Some((name.to_string(), version.parse().ok()?))
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_function_references() {
        let parse = |id: &str| FunctionRef::parse(id).unwrap();
        let r = parse("f");
        assert_eq!((r.name.as_str(), r.qualifier), ("f", None));
        let r = parse("f:live");
        assert_eq!(
            (r.name.as_str(), r.qualifier.as_deref()),
            ("f", Some("live"))
        );
        let r = parse("arn:aws:lambda:eu-west-1:123456789012:function:f:3");
        assert_eq!((r.name.as_str(), r.qualifier.as_deref()), ("f", Some("3")));
        let r = parse("123456789012:function:f");
        assert_eq!((r.name.as_str(), r.qualifier), ("f", None));
    }

    #[test]
    fn validates_names_and_roles() {
        assert!(valid_function_name("my_fn-1"));
        assert!(!valid_function_name("bad name"));
        assert!(!valid_function_name(&"x".repeat(65)));
        assert!(valid_role("arn:aws:iam::123456789012:role/service-role/x"));
        assert!(!valid_role("arn:aws:iam::1234:role/x"));
        assert!(!valid_role("role"));
        assert!(!valid_alias_name("12"));
        assert!(valid_alias_name("live"));
        assert_eq!(
            parse_layer_version_arn("arn:aws:lambda:us-east-1:000000000000:layer:deps:2"),
            Some(("deps".to_string(), 2))
        );
    }
}
