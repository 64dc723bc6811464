//! Every function setting declared once: its `lambda.toml` key, what values it takes, its
//! default and its one documentation line.
//!
//! `lambda.toml` parsing and its positioned problems (`project.rs`), the editor's completion and
//! hover, the command line's flags and the README's table all read this list; tests fail when
//! the command line's flags or the README's table drift from it.

use crate::spec::{
    DEFAULT_RUNTIME, EPHEMERAL_RANGE, LOG_RETENTION_DAYS, MEMORY_RANGE, PYTHON_RUNTIMES,
    TIMEOUT_RANGE,
};

/// What values a setting takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Free text.
    Text,
    /// A function name (`spec::validate_name`).
    Name,
    /// One of Lambda's Python runtimes.
    Runtime,
    /// `x86_64` or `arm64`.
    Architecture,
    /// A whole number within the range, in the unit.
    Number {
        range: (u32, u32),
        unit: &'static str,
    },
    /// A number of days CloudWatch Logs offers.
    Days(&'static [u32]),
    /// `true` or `false`.
    Bool,
    /// A path relative to `lambda.toml`.
    Path,
    /// Paths relative to `lambda.toml`.
    Paths,
    /// Environment variables, a table of strings.
    Env,
}

impl Kind {
    /// The values, as the README's table and the flags' help show them.
    pub fn values(&self) -> String {
        match self {
            Kind::Text => "text".into(),
            Kind::Name => "1–64 letters, digits, `-` or `_`".into(),
            Kind::Runtime => PYTHON_RUNTIMES.join(", "),
            Kind::Architecture => "`x86_64` or `arm64`".into(),
            Kind::Number {
                range: (min, max),
                unit,
            } => format!("{min}–{max} {unit}"),
            Kind::Days(days) => {
                let first: Vec<String> = days.iter().take(8).map(u32::to_string).collect();
                format!("{}, … {} days", first.join(", "), days[days.len() - 1])
            }
            Kind::Bool => "`true` or `false`".into(),
            Kind::Path => "a path".into(),
            Kind::Paths => "an array of paths".into(),
            Kind::Env => "a table of strings".into(),
        }
    }
}

/// One function setting.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Setting {
    /// The key in `lambda.toml`; the command-line flag is `--` and the key with `-` for `_`.
    pub key: &'static str,
    pub kind: Kind,
    /// What applies when nothing sets it, in words.
    pub default: &'static str,
    /// One line: what it is for.
    pub doc: &'static str,
    /// Whether `lambda-ls deploy` takes it as a flag (`bundle_requirements` is file-only).
    pub flag: bool,
}

impl Setting {
    /// The command-line flag, `--log-retention-days` for `log_retention_days` (`--env` is
    /// repeatable, one KEY=VALUE each).
    pub fn flag_name(&self) -> String {
        self.key.replace('_', "-")
    }

    /// Completion, hover and `--help`: the line, the values and the default.
    pub fn describe(&self) -> String {
        format!(
            "{} Values: {}. Default: {}.",
            self.doc,
            self.kind.values(),
            self.default
        )
    }
}

/// Every setting a function (or `[defaults]`) may have, in the order the README lists them.
pub const SETTINGS: &[Setting] = &[
    Setting {
        key: "name",
        kind: Kind::Name,
        default: "`<module>-<function>`",
        doc: "Function name.",
        flag: true,
    },
    Setting {
        key: "runtime",
        kind: Kind::Runtime,
        default: DEFAULT_RUNTIME,
        doc: "Lambda Python runtime.",
        flag: true,
    },
    Setting {
        key: "timeout",
        kind: Kind::Number {
            range: TIMEOUT_RANGE,
            unit: "seconds",
        },
        default: "30",
        doc: "Seconds before Lambda stops the invocation.",
        flag: true,
    },
    Setting {
        key: "memory",
        kind: Kind::Number {
            range: MEMORY_RANGE,
            unit: "MB",
        },
        default: "512",
        doc: "Memory in MB; CPU scales with it.",
        flag: true,
    },
    Setting {
        key: "ephemeral_storage",
        kind: Kind::Number {
            range: EPHEMERAL_RANGE,
            unit: "MB",
        },
        default: "512",
        doc: "Size of /tmp in MB.",
        flag: true,
    },
    Setting {
        key: "architecture",
        kind: Kind::Architecture,
        default: "x86_64",
        doc: "Processor architecture.",
        flag: true,
    },
    Setting {
        key: "env",
        kind: Kind::Env,
        default: "none",
        doc: "Environment variables: `env = { STAGE = \"dev\" }`, `--env STAGE=dev` (repeatable).",
        flag: true,
    },
    Setting {
        key: "role",
        kind: Kind::Text,
        default: "find or create `lambda-ls-execution`",
        doc: "Execution role ARN.",
        flag: true,
    },
    Setting {
        key: "include",
        kind: Kind::Paths,
        default: "none",
        doc: "Extra files or folders to package, relative to lambda.toml (`--include`: repeatable, relative to the current folder).",
        flag: true,
    },
    Setting {
        key: "requirements",
        kind: Kind::Path,
        default: "`requirements.txt` next to the handler",
        doc: "Requirements file to install into a layer, relative to lambda.toml.",
        flag: true,
    },
    Setting {
        key: "description",
        kind: Kind::Text,
        default: "none",
        doc: "Free text shown in the Lambda console.",
        flag: true,
    },
    Setting {
        key: "log_retention_days",
        kind: Kind::Days(LOG_RETENTION_DAYS),
        default: "kept forever",
        doc: "Days CloudWatch keeps the function's logs.",
        flag: true,
    },
    Setting {
        key: "callable",
        kind: Kind::Bool,
        default: "`false`",
        doc: "Deploy a plain function behind the generated wrapper that maps the event to its arguments.",
        flag: true,
    },
    Setting {
        key: "bundle_requirements",
        kind: Kind::Bool,
        default: "`false`",
        doc: "Put the installed requirements into the function's zip instead of a layer.",
        flag: false,
    },
];

/// The declared setting with this key.
pub fn setting(key: &str) -> Option<&'static Setting> {
    SETTINGS.iter().find(|s| s.key == key)
}

/// The README's table of settings, as it must read.
pub fn markdown_table() -> String {
    let mut out = String::from("| key | values | default | what it is for |\n|---|---|---|---|\n");
    for s in SETTINGS {
        out.push_str(&format!(
            "| `{}` | {} | {} | {} |\n",
            s.key,
            s.kind.values(),
            s.default,
            s.doc
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::{DEFAULT_EPHEMERAL_MB, DEFAULT_MEMORY_MB, DEFAULT_TIMEOUT_SECS};

    #[test]
    fn defaults_in_words_are_the_numbers_the_spec_applies() {
        let number = |key| setting(key).unwrap().default.parse::<u32>().unwrap();
        assert_eq!(number("timeout"), DEFAULT_TIMEOUT_SECS);
        assert_eq!(number("memory"), DEFAULT_MEMORY_MB);
        assert_eq!(number("ephemeral_storage"), DEFAULT_EPHEMERAL_MB);
        let spec = crate::spec::FunctionSpec::new("f".into(), "m.h".into());
        assert_eq!(setting("runtime").unwrap().default, spec.runtime.as_str());
        assert_eq!(
            setting("architecture").unwrap().default,
            spec.architecture.as_str()
        );
    }

    #[test]
    fn the_readme_table_is_the_declaration() {
        let readme = std::fs::read_to_string(
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../README.md"),
        )
        .unwrap();
        assert!(
            readme.contains(&markdown_table()),
            "README.md's lambda.toml table differs from settings::SETTINGS; it should read:\n{}",
            markdown_table()
        );
    }
}
