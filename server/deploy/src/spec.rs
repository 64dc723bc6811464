//! The function to deploy: settings with Lambda's defaults and AWS's validation rules.
//!
//! moto accepts out-of-range values that AWS refuses, so every limit is checked here, before
//! any call, with one sentence that names the setting and its allowed range.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use lambda_facts::RESERVED_ENV;
use serde::{Deserialize, Serialize};

/// Python runtimes Lambda supports for new functions.
pub use lambda_facts::PYTHON_RUNTIMES;
pub const DEFAULT_RUNTIME: &str = "python3.12";
pub const DEFAULT_TIMEOUT_SECS: u32 = 30;
pub const DEFAULT_MEMORY_MB: u32 = 512;
pub const DEFAULT_EPHEMERAL_MB: u32 = 512;
pub const TIMEOUT_RANGE: (u32, u32) = (1, 900);
pub const MEMORY_RANGE: (u32, u32) = (128, 10240);
pub const EPHEMERAL_RANGE: (u32, u32) = (512, 10240);
pub const LOG_RETENTION_DAYS: &[u32] = &[
    1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922,
    3288, 3653,
];

/// A Lambda Python runtime identifier such as `python3.12`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Runtime(String);

impl Runtime {
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// `3.12` for `python3.12`: what pip's `--python-version` takes.
    pub fn python_version(&self) -> &str {
        self.0.trim_start_matches("python")
    }
}

impl Default for Runtime {
    fn default() -> Self {
        Runtime(DEFAULT_RUNTIME.to_string())
    }
}

impl FromStr for Runtime {
    type Err = SpecError;
    fn from_str(s: &str) -> Result<Self, SpecError> {
        if PYTHON_RUNTIMES.contains(&s) {
            Ok(Runtime(s.to_string()))
        } else {
            Err(SpecError::Runtime(s.to_string()))
        }
    }
}

impl TryFrom<String> for Runtime {
    type Error = SpecError;
    fn try_from(s: String) -> Result<Self, SpecError> {
        s.parse()
    }
}

impl From<Runtime> for String {
    fn from(r: Runtime) -> String {
        r.0
    }
}

impl fmt::Display for Runtime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The instruction set the function runs on.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Architecture {
    #[default]
    X86_64,
    Arm64,
}

impl Architecture {
    pub fn as_str(&self) -> &'static str {
        match self {
            Architecture::X86_64 => "x86_64",
            Architecture::Arm64 => "arm64",
        }
    }
}

impl FromStr for Architecture {
    type Err = SpecError;
    fn from_str(s: &str) -> Result<Self, SpecError> {
        match s {
            "x86_64" => Ok(Architecture::X86_64),
            "arm64" => Ok(Architecture::Arm64),
            other => Err(SpecError::Architecture(other.to_string())),
        }
    }
}

/// Which IAM role the function runs as.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ExecutionRole {
    Existing(String),
    /// Find or create `lambda-ls-execution` with the basic execution policy.
    CreateDefault,
}

/// A setting that is out of range or malformed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SpecError {
    #[error("unsupported runtime `{0}`; Lambda's Python runtimes are {list}", list = PYTHON_RUNTIMES.join(", "))]
    Runtime(String),
    #[error("unsupported architecture `{0}`; use x86_64 or arm64")]
    Architecture(String),
    #[error("{setting} must be between {min} and {max} {unit}, got {value}")]
    OutOfRange {
        setting: &'static str,
        value: i64,
        min: u32,
        max: u32,
        unit: &'static str,
    },
    #[error("function name `{0}` is invalid: use 1 to 64 letters, digits, `-` or `_`")]
    Name(String),
    #[error("role `{0}` is not an IAM role ARN (arn:aws:iam::ACCOUNT:role/NAME)")]
    Role(String),
    #[error("environment variable name `{0}` is invalid: use letters, digits and `_`, starting with a letter")]
    EnvName(String),
    #[error("environment variable `{0}` is reserved by Lambda and cannot be set")]
    EnvReserved(String),
    #[error("log retention of {0} days is not allowed; use one of {list}", list = LOG_RETENTION_DAYS.iter().map(u32::to_string).collect::<Vec<_>>().join(", "))]
    LogRetention(u32),
    #[error("`{0}` is not KEY=VALUE")]
    EnvPair(String),
}

/// Everything Lambda needs to know about one function besides its code.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FunctionSpec {
    pub name: String,
    pub runtime: Runtime,
    pub handler: String,
    pub timeout_secs: u32,
    pub memory_mb: u32,
    pub ephemeral_storage_mb: u32,
    pub architecture: Architecture,
    pub environment: BTreeMap<String, String>,
    pub description: String,
    pub role: ExecutionRole,
    pub log_retention_days: Option<u32>,
    /// Layer version ARNs, in order.
    pub layers: Vec<String>,
}

impl FunctionSpec {
    /// A spec with Lambda's usual defaults for the given name and handler string.
    pub fn new(name: String, handler: String) -> Self {
        FunctionSpec {
            name,
            runtime: Runtime::default(),
            handler,
            timeout_secs: DEFAULT_TIMEOUT_SECS,
            memory_mb: DEFAULT_MEMORY_MB,
            ephemeral_storage_mb: DEFAULT_EPHEMERAL_MB,
            architecture: Architecture::default(),
            environment: BTreeMap::new(),
            description: String::new(),
            role: ExecutionRole::CreateDefault,
            log_retention_days: None,
            layers: Vec::new(),
        }
    }

    /// Checks every setting against AWS's limits; the first problem is returned.
    pub fn validate(&self) -> Result<(), SpecError> {
        validate_name(&self.name)?;
        check_range("timeout", self.timeout_secs, TIMEOUT_RANGE, "seconds")?;
        check_range("memory", self.memory_mb, MEMORY_RANGE, "MB")?;
        check_range(
            "ephemeral storage",
            self.ephemeral_storage_mb,
            EPHEMERAL_RANGE,
            "MB",
        )?;
        if let ExecutionRole::Existing(arn) = &self.role {
            validate_role_arn(arn)?;
        }
        for key in self.environment.keys() {
            validate_env_name(key)?;
        }
        if let Some(days) = self.log_retention_days {
            if !LOG_RETENTION_DAYS.contains(&days) {
                return Err(SpecError::LogRetention(days));
            }
        }
        Ok(())
    }
}

fn check_range(
    setting: &'static str,
    value: u32,
    (min, max): (u32, u32),
    unit: &'static str,
) -> Result<(), SpecError> {
    if (min..=max).contains(&value) {
        Ok(())
    } else {
        Err(SpecError::OutOfRange {
            setting,
            value: value.into(),
            min,
            max,
            unit,
        })
    }
}

pub fn validate_name(name: &str) -> Result<(), SpecError> {
    let ok = (1..=64).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if ok {
        Ok(())
    } else {
        Err(SpecError::Name(name.to_string()))
    }
}

fn validate_role_arn(arn: &str) -> Result<(), SpecError> {
    let mut parts = arn.splitn(6, ':');
    let ok = parts.next() == Some("arn")
        && parts.next().is_some_and(|p| p.starts_with("aws"))
        && parts.next() == Some("iam")
        && parts.next() == Some("")
        && parts
            .next()
            .is_some_and(|a| a.len() == 12 && a.bytes().all(|b| b.is_ascii_digit()))
        && parts
            .next()
            .is_some_and(|r| r.starts_with("role/") && r.len() > 5);
    if ok {
        Ok(())
    } else {
        Err(SpecError::Role(arn.to_string()))
    }
}

fn validate_env_name(key: &str) -> Result<(), SpecError> {
    let mut bytes = key.bytes();
    let ok = bytes.next().is_some_and(|b| b.is_ascii_alphabetic())
        && bytes.all(|b| b.is_ascii_alphanumeric() || b == b'_');
    if !ok {
        return Err(SpecError::EnvName(key.to_string()));
    }
    if RESERVED_ENV.contains(&key) {
        return Err(SpecError::EnvReserved(key.to_string()));
    }
    Ok(())
}

/// Parses `KEY=VALUE` as given on a command line.
pub fn parse_env_pair(pair: &str) -> Result<(String, String), SpecError> {
    match pair.split_once('=') {
        Some((k, v)) if !k.is_empty() => Ok((k.to_string(), v.to_string())),
        _ => Err(SpecError::EnvPair(pair.to_string())),
    }
}

/// Turns any text into a valid function name: invalid characters become `-`, at most 64 long.
pub fn sanitize_name(raw: &str) -> String {
    let mut out = String::with_capacity(raw.len());
    for c in raw.chars() {
        let c = if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
            c
        } else {
            '-'
        };
        if !(c == '-' && out.ends_with('-')) {
            out.push(c);
        }
    }
    let trimmed = out.trim_matches('-');
    let mut name: String = trimmed.chars().take(64).collect();
    if name.is_empty() {
        name.push_str("function");
    }
    name
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid() {
        let s = FunctionSpec::new("hello-handler".into(), "hello.handler".into());
        assert_eq!(s.runtime.as_str(), "python3.12");
        assert_eq!(
            (s.timeout_secs, s.memory_mb, s.ephemeral_storage_mb),
            (30, 512, 512)
        );
        s.validate().unwrap();
    }

    /// A change that breaks one limit.
    type Breach = Box<dyn Fn(&mut FunctionSpec)>;

    #[test]
    fn limits_are_checked_like_aws() {
        let base = FunctionSpec::new("f".into(), "m.h".into());
        let cases: Vec<(Breach, &str)> = vec![
            (
                Box::new(|s| s.timeout_secs = 0),
                "timeout must be between 1 and 900 seconds, got 0",
            ),
            (
                Box::new(|s| s.timeout_secs = 901),
                "timeout must be between 1 and 900 seconds, got 901",
            ),
            (
                Box::new(|s| s.memory_mb = 127),
                "memory must be between 128 and 10240 MB, got 127",
            ),
            (
                Box::new(|s| s.memory_mb = 10241),
                "memory must be between 128 and 10240 MB, got 10241",
            ),
            (
                Box::new(|s| s.ephemeral_storage_mb = 511),
                "ephemeral storage must be between 512 and 10240 MB, got 511",
            ),
            (
                Box::new(|s| s.name = "a b".into()),
                "function name `a b` is invalid: use 1 to 64 letters, digits, `-` or `_`",
            ),
            (Box::new(|s| s.name = "x".repeat(65)), "is invalid"),
            (
                Box::new(|s| s.role = ExecutionRole::Existing("arn:aws:iam::12:role/x".into())),
                "is not an IAM role ARN",
            ),
            (
                Box::new(|s| {
                    s.environment.insert("AWS_REGION".into(), "x".into());
                }),
                "reserved by Lambda",
            ),
            (
                Box::new(|s| {
                    s.environment.insert("1BAD".into(), "x".into());
                }),
                "`1BAD` is invalid",
            ),
            (
                Box::new(|s| s.log_retention_days = Some(2)),
                "log retention of 2 days is not allowed",
            ),
        ];
        for (change, expected) in cases {
            let mut s = base.clone();
            change(&mut s);
            let err = s.validate().unwrap_err().to_string();
            assert!(err.contains(expected), "{err} should contain {expected}");
        }
        let mut ok = base.clone();
        ok.role = ExecutionRole::Existing("arn:aws:iam::123456789012:role/service-role/x".into());
        ok.validate().unwrap();
    }

    #[test]
    fn runtimes_and_names() {
        assert!("python3.13".parse::<Runtime>().is_ok());
        let err = "python2.7".parse::<Runtime>().unwrap_err().to_string();
        assert!(err.starts_with(
            "unsupported runtime `python2.7`; Lambda's Python runtimes are python3.9"
        ));
        assert!("nodejs20.x".parse::<Runtime>().is_err());
        assert_eq!(Runtime::default().python_version(), "3.12");
        assert_eq!(sanitize_name("pkg.mod-my func!"), "pkg-mod-my-func");
        assert_eq!(sanitize_name("..."), "function");
        assert_eq!(sanitize_name(&"a".repeat(80)).len(), 64);
        assert_eq!(parse_env_pair("A=b=c").unwrap(), ("A".into(), "b=c".into()));
        assert!(parse_env_pair("=x").is_err());
    }
}
