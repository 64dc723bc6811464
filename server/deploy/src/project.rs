//! `lambda.toml`: project defaults and per-function settings, validated with positions.
//!
//! The file is walked with toml's spanned parser rather than deserialized, so one pass yields
//! every problem with its byte range (for editor diagnostics) instead of only the first.
//!
//! ```toml
//! [defaults]
//! runtime = "python3.12"
//! memory = 256
//!
//! [[function]]
//! target = "app/main.py:handler"
//! name = "orders-api"
//! env = { STAGE = "dev" }
//! ```

use std::collections::BTreeMap;
use std::ops::Range;
use std::path::{Path, PathBuf};

use serde::Serialize;
use toml::de::{DeTable, DeValue};
use toml::Spanned;

use crate::settings::{Kind, Setting, SETTINGS};
use crate::spec::{self, Architecture, ExecutionRole, FunctionSpec, Runtime, SpecError};

/// The project file's name, at the package root.
pub const PROJECT_FILE: &str = "lambda.toml";

/// Keys only `[[function]]` entries take.
pub const FUNCTION_ONLY_KEYS: &[(&str, &str)] = &[(
    "target",
    "The function, `path/to/file.py:function`, relative to lambda.toml.",
)];
/// Top-level tables.
pub const TOP_LEVEL_KEYS: &[(&str, &str)] = &[
    (
        "defaults",
        "Settings every function of the project starts from.",
    ),
    (
        "function",
        "One `[[function]]` table per function with its own settings and a `target`.",
    ),
];

/// Settings from the file; `None` where it says nothing.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Settings {
    pub name: Option<String>,
    pub runtime: Option<Runtime>,
    pub timeout: Option<u32>,
    pub memory: Option<u32>,
    pub ephemeral_storage: Option<u32>,
    pub architecture: Option<Architecture>,
    pub env: BTreeMap<String, String>,
    pub role: Option<String>,
    pub include: Vec<PathBuf>,
    pub requirements: Option<PathBuf>,
    pub description: Option<String>,
    pub log_retention_days: Option<u32>,
    pub callable: Option<bool>,
    pub bundle_requirements: Option<bool>,
}

impl Settings {
    /// Lays `other` over `self`: its values win, environment maps merge, includes add up.
    pub fn overlay(&self, other: &Settings) -> Settings {
        let mut env = self.env.clone();
        env.extend(other.env.clone());
        let mut include = self.include.clone();
        include.extend(other.include.iter().cloned());
        Settings {
            name: other.name.clone().or_else(|| self.name.clone()),
            runtime: other.runtime.clone().or_else(|| self.runtime.clone()),
            timeout: other.timeout.or(self.timeout),
            memory: other.memory.or(self.memory),
            ephemeral_storage: other.ephemeral_storage.or(self.ephemeral_storage),
            architecture: other.architecture.or(self.architecture),
            env,
            role: other.role.clone().or_else(|| self.role.clone()),
            include,
            requirements: other
                .requirements
                .clone()
                .or_else(|| self.requirements.clone()),
            description: other
                .description
                .clone()
                .or_else(|| self.description.clone()),
            log_retention_days: other.log_retention_days.or(self.log_retention_days),
            callable: other.callable.or(self.callable),
            bundle_requirements: other.bundle_requirements.or(self.bundle_requirements),
        }
    }

    /// Writes the settings it has into a spec (the name is the caller's: it decides defaults).
    pub fn apply(&self, spec: &mut FunctionSpec) {
        if let Some(r) = &self.runtime {
            spec.runtime = r.clone();
        }
        if let Some(t) = self.timeout {
            spec.timeout_secs = t;
        }
        if let Some(m) = self.memory {
            spec.memory_mb = m;
        }
        if let Some(e) = self.ephemeral_storage {
            spec.ephemeral_storage_mb = e;
        }
        if let Some(a) = self.architecture {
            spec.architecture = a;
        }
        spec.environment.extend(self.env.clone());
        if let Some(r) = &self.role {
            spec.role = ExecutionRole::Existing(r.clone());
        }
        if let Some(d) = &self.description {
            spec.description = d.clone();
        }
        if self.log_retention_days.is_some() {
            spec.log_retention_days = self.log_retention_days;
        }
    }
}

/// One `[[function]]` entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FunctionEntry {
    /// `path/to/file.py:function` as written, relative to the file.
    pub target: String,
    pub settings: Settings,
    /// Byte range of the entry's `target` value.
    pub span: Range<usize>,
}

/// The parsed file; paths inside are relative to `root` until resolved.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ProjectConfig {
    pub defaults: Settings,
    pub functions: Vec<FunctionEntry>,
}

/// One problem in the file, with its byte range.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ConfigDiagnostic {
    pub span: Range<usize>,
    pub message: String,
}

impl ConfigDiagnostic {
    /// One-based line and column of the start, for terminal messages.
    pub fn line_col(&self, text: &str) -> (usize, usize) {
        let before = &text[..self.span.start.min(text.len())];
        let line = before.matches('\n').count() + 1;
        let col = before.len() - before.rfind('\n').map_or(0, |i| i + 1) + 1;
        (line, col)
    }
}

/// A project file that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum ProjectError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}:{line}:{column}: {message}")]
    Invalid {
        path: PathBuf,
        line: usize,
        column: usize,
        message: String,
    },
}

/// Parses and validates the text; what is valid is kept even when other parts are not.
pub fn parse_project(text: &str) -> (ProjectConfig, Vec<ConfigDiagnostic>) {
    let mut diags = Vec::new();
    let (root, errors) = DeTable::parse_recoverable(text);
    for e in errors {
        diags.push(ConfigDiagnostic {
            span: e.span().unwrap_or(0..0),
            message: e.message().trim().to_string(),
        });
    }
    let mut config = ProjectConfig::default();
    for (key, value) in root.get_ref() {
        match key.get_ref().as_ref() {
            "defaults" => match value.get_ref().as_table() {
                Some(t) => config.defaults = settings(t, false, &mut diags).0,
                None => diags.push(type_error(value, "defaults", "a table")),
            },
            "function" => match value.get_ref().as_array() {
                Some(entries) => {
                    for entry in entries {
                        match entry.get_ref().as_table() {
                            Some(t) => {
                                let (settings, target) = settings(t, true, &mut diags);
                                match target {
                                    Some((target, span)) => config.functions.push(FunctionEntry {
                                        target,
                                        settings,
                                        span,
                                    }),
                                    // A target that is there but invalid was reported already.
                                    None if t.get("target").is_some() => {}
                                    None => diags.push(ConfigDiagnostic {
                                        span: entry.span(),
                                        message:
                                            "[[function]] needs `target = \"file.py:function\"`"
                                                .into(),
                                    }),
                                }
                            }
                            None => diags.push(type_error(entry, "function", "a table")),
                        }
                    }
                }
                None => diags.push(type_error(
                    value,
                    "function",
                    "an array of tables ([[function]])",
                )),
            },
            other => {
                let names: Vec<&str> = TOP_LEVEL_KEYS.iter().map(|(k, _)| *k).collect();
                diags.push(unknown_key(key, other, &names))
            }
        }
    }
    diags.sort_by_key(|d| (d.span.start, d.span.end));
    (config, diags)
}

fn type_error(value: &Spanned<DeValue>, key: &str, wanted: &str) -> ConfigDiagnostic {
    ConfigDiagnostic {
        span: value.span(),
        message: format!(
            "`{key}` must be {wanted}, not {}",
            value.get_ref().type_str()
        ),
    }
}

fn unknown_key(
    key: &Spanned<std::borrow::Cow<str>>,
    name: &str,
    names: &[&str],
) -> ConfigDiagnostic {
    ConfigDiagnostic {
        span: key.span(),
        message: format!("unknown key `{name}`; expected one of {}", names.join(", ")),
    }
}

fn int_in(
    value: &Spanned<DeValue>,
    key: &str,
    (min, max): (u32, u32),
    unit: &str,
    diags: &mut Vec<ConfigDiagnostic>,
) -> Option<u32> {
    let Some(i) = value.get_ref().as_integer() else {
        diags.push(type_error(value, key, "an integer"));
        return None;
    };
    match i64::from_str_radix(i.as_str(), i.radix()) {
        Ok(v) if (i64::from(min)..=i64::from(max)).contains(&v) => Some(v as u32),
        Ok(v) => {
            diags.push(ConfigDiagnostic {
                span: value.span(),
                message: format!("{key} must be between {min} and {max} {unit}, got {v}"),
            });
            None
        }
        Err(_) => {
            diags.push(type_error(value, key, "an integer"));
            None
        }
    }
}

fn string<'a>(
    value: &'a Spanned<DeValue>,
    key: &str,
    diags: &mut Vec<ConfigDiagnostic>,
) -> Option<&'a str> {
    let s = value.get_ref().as_str();
    if s.is_none() {
        diags.push(type_error(value, key, "a string"));
    }
    s
}

fn checked<T>(
    value: &Spanned<DeValue>,
    r: Result<T, SpecError>,
    diags: &mut Vec<ConfigDiagnostic>,
) -> Option<T> {
    r.map_err(|e| {
        diags.push(ConfigDiagnostic {
            span: value.span(),
            message: e.to_string(),
        })
    })
    .ok()
}

/// A setting's value, checked against its declared [`Kind`].
enum Parsed {
    Text(String),
    Runtime(Runtime),
    Architecture(Architecture),
    Number(u32),
    Bool(bool),
    Path(PathBuf),
    Paths(Vec<PathBuf>),
    Env(BTreeMap<String, String>),
}

/// Checks a value against the setting's declaration; every problem goes to `diags`.
fn parse_value(
    setting: &Setting,
    value: &Spanned<DeValue>,
    diags: &mut Vec<ConfigDiagnostic>,
) -> Option<Parsed> {
    let key = setting.key;
    match setting.kind {
        Kind::Text => string(value, key, diags).map(|t| Parsed::Text(t.to_string())),
        Kind::Name => {
            let n = string(value, key, diags)?;
            checked(value, spec::validate_name(n), diags).map(|_| Parsed::Text(n.to_string()))
        }
        Kind::Runtime => {
            let r = string(value, key, diags)?;
            checked(value, r.parse(), diags).map(Parsed::Runtime)
        }
        Kind::Architecture => {
            let a = string(value, key, diags)?;
            checked(value, a.parse(), diags).map(Parsed::Architecture)
        }
        Kind::Number { range, unit } => int_in(value, key, range, unit, diags).map(Parsed::Number),
        Kind::Days(allowed) => {
            let d = int_in(
                value,
                key,
                (allowed[0], allowed[allowed.len() - 1]),
                "days",
                diags,
            )?;
            let ok = if allowed.contains(&d) {
                Ok(d)
            } else {
                Err(SpecError::LogRetention(d))
            };
            checked(value, ok, diags).map(Parsed::Number)
        }
        Kind::Bool => match value.get_ref().as_bool() {
            Some(b) => Some(Parsed::Bool(b)),
            None => {
                diags.push(type_error(value, key, "true or false"));
                None
            }
        },
        Kind::Path => string(value, key, diags).map(|p| Parsed::Path(PathBuf::from(p))),
        Kind::Paths => match value.get_ref().as_array() {
            Some(items) => Some(Parsed::Paths(
                items
                    .iter()
                    .filter_map(|item| string(item, "include item", diags).map(PathBuf::from))
                    .collect(),
            )),
            None => {
                diags.push(type_error(value, key, "an array of paths"));
                None
            }
        },
        Kind::Env => match value.get_ref().as_table() {
            Some(vars) => Some(Parsed::Env(
                vars.iter()
                    .filter_map(|(k, v)| {
                        let text = string(v, k.get_ref(), diags)?;
                        Some((k.get_ref().to_string(), text.to_string()))
                    })
                    .collect(),
            )),
            None => {
                diags.push(type_error(value, key, "a table of strings"));
                None
            }
        },
    }
}

impl Settings {
    /// Stores a checked value under its declared key.
    fn set(&mut self, key: &str, value: Parsed) {
        match (key, value) {
            ("name", Parsed::Text(v)) => self.name = Some(v),
            ("runtime", Parsed::Runtime(v)) => self.runtime = Some(v),
            ("timeout", Parsed::Number(v)) => self.timeout = Some(v),
            ("memory", Parsed::Number(v)) => self.memory = Some(v),
            ("ephemeral_storage", Parsed::Number(v)) => self.ephemeral_storage = Some(v),
            ("architecture", Parsed::Architecture(v)) => self.architecture = Some(v),
            ("env", Parsed::Env(v)) => self.env = v,
            ("role", Parsed::Text(v)) => self.role = Some(v),
            ("include", Parsed::Paths(v)) => self.include = v,
            ("requirements", Parsed::Path(v)) => self.requirements = Some(v),
            ("description", Parsed::Text(v)) => self.description = Some(v),
            ("log_retention_days", Parsed::Number(v)) => self.log_retention_days = Some(v),
            ("callable", Parsed::Bool(v)) => self.callable = Some(v),
            ("bundle_requirements", Parsed::Bool(v)) => self.bundle_requirements = Some(v),
            (key, _) => unreachable!(
                "`{key}` is declared in settings::SETTINGS with a kind Settings does not store \
                 (every_declared_setting_is_stored checks this)"
            ),
        }
    }
}

/// Reads one settings table; `target` is returned separately for `[[function]]` entries.
fn settings(
    table: &DeTable,
    is_function: bool,
    diags: &mut Vec<ConfigDiagnostic>,
) -> (Settings, Option<(String, Range<usize>)>) {
    let mut s = Settings::default();
    let mut target = None;
    for (key, value) in table {
        let name = key.get_ref().as_ref();
        if let Some(setting) = crate::settings::setting(name) {
            if let Some(v) = parse_value(setting, value, diags) {
                s.set(setting.key, v);
            }
        } else if name == "target" && is_function {
            target = function_target(value, diags);
        } else {
            let known: Vec<&str> = SETTINGS
                .iter()
                .map(|s| s.key)
                .chain(is_function.then_some(FUNCTION_ONLY_KEYS[0].0))
                .collect();
            diags.push(unknown_key(key, name, &known));
        }
    }
    (s, target)
}

/// A `[[function]]`'s `target`, checked to be `FILE.py:FUNCTION`.
fn function_target(
    value: &Spanned<DeValue>,
    diags: &mut Vec<ConfigDiagnostic>,
) -> Option<(String, Range<usize>)> {
    let t = string(value, "target", diags)?;
    if crate::package::parse_target(t).is_ok() {
        return Some((t.to_string(), value.span()));
    }
    diags.push(ConfigDiagnostic {
        span: value.span(),
        message: format!("target `{t}` is not FILE.py:FUNCTION"),
    });
    None
}

impl ProjectConfig {
    /// Settings for `file:function` (the file relative to the project root): defaults, then the
    /// matching `[[function]]` entry.
    pub fn settings_for(&self, root: &Path, file: &Path, function: &str) -> Settings {
        let entry = self.functions.iter().find(|f| {
            crate::package::parse_target(&f.target).is_ok_and(|(p, func)| {
                func == function
                    && std::fs::canonicalize(root.join(&p)).ok().as_deref()
                        == std::fs::canonicalize(file).ok().as_deref()
            })
        });
        let mut s = match entry {
            Some(e) => self.defaults.overlay(&e.settings),
            None => self.defaults.clone(),
        };
        // Paths in the file are relative to it.
        s.include = s.include.iter().map(|p| root.join(p)).collect();
        s.requirements = s.requirements.as_ref().map(|p| root.join(p));
        s
    }
}

/// Reads `lambda.toml` at the root, if there is one; any problem is an error naming file:line:col.
pub fn load_project(root: &Path) -> Result<Option<ProjectConfig>, ProjectError> {
    let path = root.join(PROJECT_FILE);
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(source) => return Err(ProjectError::Read { path, source }),
    };
    let (config, diags) = parse_project(&text);
    if let Some(d) = diags.first() {
        let (line, column) = d.line_col(&text);
        return Err(ProjectError::Invalid {
            path,
            line,
            column,
            message: d.message.clone(),
        });
    }
    Ok(Some(config))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A valid value of each kind, as `lambda.toml` text.
    fn sample(kind: Kind) -> &'static str {
        match kind {
            Kind::Text | Kind::Name => "\"x\"",
            Kind::Runtime => "\"python3.12\"",
            Kind::Architecture => "\"arm64\"",
            Kind::Number { .. } => "512",
            Kind::Days(_) => "7",
            Kind::Bool => "true",
            Kind::Path => "\"r.txt\"",
            Kind::Paths => "[\"data\"]",
            Kind::Env => "{ A = \"b\" }",
        }
    }

    #[test]
    fn every_declared_setting_is_stored() {
        for setting in SETTINGS {
            let text = format!("[defaults]\n{} = {}\n", setting.key, sample(setting.kind));
            let (config, diags) = parse_project(&text);
            assert!(diags.is_empty(), "{text}: {diags:?}");
            assert_ne!(
                config.defaults,
                Settings::default(),
                "{text} was not stored"
            );
        }
    }

    /// Data-driven: the file, then the expected diagnostics as `line:col message-fragment`.
    #[test]
    fn diagnostics_are_positioned() {
        let cases: &[(&str, &[&str])] = &[
            ("[defaults]\nmemory = 256\n", &[]),
            (
                "[defaults]\nmemroy = 256\n",
                &["2:1 unknown key `memroy`; expected one of name, runtime"],
            ),
            (
                "[defaults]\ntimeout = 901\n",
                &["2:11 timeout must be between 1 and 900 seconds, got 901"],
            ),
            (
                "[defaults]\nmemory = \"big\"\n",
                &["2:10 `memory` must be an integer, not string"],
            ),
            (
                "[defaults]\nruntime = \"python2.7\"\n",
                &["2:11 unsupported runtime `python2.7`"],
            ),
            (
                "[defaults]\nenv = { A = 1 }\n",
                &["2:13 `A` must be a string"],
            ),
            (
                "[[function]]\nname = \"x\"\n",
                &["1:1 [[function]] needs `target"],
            ),
            (
                "[[function]]\ntarget = \"a.py\"\n",
                &["2:10 target `a.py` is not FILE.py:FUNCTION"],
            ),
            (
                "[[function]]\ntarget = \"a.py:f\"\nmemory = 64\nbogus = 1\n",
                &[
                    "3:10 memory must be between 128",
                    "4:1 unknown key `bogus`; expected one of name",
                ],
            ),
            (
                "wat = 1\n",
                &["1:1 unknown key `wat`; expected one of defaults, function"],
            ),
            (
                "[defaults\nmemory = 1\n",
                &["1:10 unclosed table", "2:1 unknown key `memory`"],
            ),
            (
                "[defaults]\nlog_retention_days = 2\n",
                &["2:22 log retention of 2 days is not allowed"],
            ),
        ];
        for (text, expected) in cases {
            let (_, diags) = parse_project(text);
            let got: Vec<String> = diags
                .iter()
                .map(|d| {
                    let (l, c) = d.line_col(text);
                    format!("{l}:{c} {}", d.message)
                })
                .collect();
            assert_eq!(got.len(), expected.len(), "{text:?}: {got:?}");
            for (g, e) in got.iter().zip(expected.iter()) {
                assert!(g.starts_with(e), "{text:?}: `{g}` should start with `{e}`");
            }
        }
    }

    #[test]
    fn settings_overlay_defaults_with_the_function_entry() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("app.py"),
            "def handler(event, context): pass\n",
        )
        .unwrap();
        let text = "[defaults]\nmemory = 256\nenv = { A = \"1\", B = \"2\" }\ninclude = [\"data\"]\n\n[[function]]\ntarget = \"app.py:handler\"\nname = \"orders\"\nenv = { B = \"3\" }\ntimeout = 60\n";
        std::fs::write(dir.path().join(PROJECT_FILE), text).unwrap();
        let config = load_project(dir.path()).unwrap().unwrap();
        let s = config.settings_for(dir.path(), &dir.path().join("app.py"), "handler");
        assert_eq!(s.name.as_deref(), Some("orders"));
        assert_eq!((s.memory, s.timeout), (Some(256), Some(60)));
        assert_eq!(s.env.get("B").map(String::as_str), Some("3"));
        assert_eq!(s.include, vec![dir.path().join("data")]);
        let other = config.settings_for(dir.path(), &dir.path().join("app.py"), "other");
        assert_eq!((other.name, other.timeout), (None, None));

        let mut spec = FunctionSpec::new("n".into(), "app.handler".into());
        s.apply(&mut spec);
        assert_eq!((spec.memory_mb, spec.timeout_secs), (256, 60));

        std::fs::write(dir.path().join(PROJECT_FILE), "[defaults]\nmemory = 1\n").unwrap();
        let err = load_project(dir.path()).unwrap_err().to_string();
        assert!(
            err.ends_with("lambda.toml:2:10: memory must be between 128 and 10240 MB, got 1"),
            "{err}"
        );
    }
}
