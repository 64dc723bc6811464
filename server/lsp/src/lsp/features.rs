//! What the editor shows, computed from the analysis and the session: lenses, code actions,
//! inline results, sample events, and where an invoke error points. No protocol types here:
//! `convert` turns these into LSP values.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use lambda_deploy::analysis::{FunctionKind, ParamKind, Pos, PyFunction};
use lambda_deploy::events;
use lambda_deploy::invoke::{InvokeOutcome, StackFrame};
use lambda_deploy::profiles::LOCAL_PROFILE;
use serde_json::{json, Value};

use super::commands;
use super::live;
use super::session::{ago, FunctionKey, Session};

/// The longest inline result label, in characters.
const HINT_MAX_CHARS: usize = 80;

/// A command the editor runs when the user clicks a lens or picks an action.
#[derive(Debug, Clone, PartialEq)]
pub struct CommandCall {
    pub title: String,
    pub command: &'static str,
    pub argument: Value,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Lens {
    pub line: usize,
    pub call: CommandCall,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    Run(CommandCall),
    /// Create a new file with this text (never overwriting one).
    CreateFile {
        title: String,
        path: PathBuf,
        text: String,
    },
}

/// An inline result at the end of a `def` line.
#[derive(Debug, Clone, PartialEq)]
pub struct Hint {
    pub at: Pos,
    pub label: String,
    pub tooltip: String,
}

/// An open file as the features see it.
pub struct FileView<'a> {
    pub uri: &'a str,
    pub path: &'a Path,
    pub text: &'a str,
    pub functions: &'a [PyFunction],
}

impl FileView<'_> {
    fn key(&self, f: &PyFunction) -> FunctionKey {
        FunctionKey {
            path: self.path.to_path_buf(),
            function: f.name.clone(),
        }
    }

    fn target(&self, f: &PyFunction) -> Value {
        json!({"uri": self.uri, "function": f.name})
    }
}

/// What the session knows, as the lenses show it.
pub struct SessionView<'a> {
    pub session: &'a Session,
    /// The selected profile.
    pub profile: Option<&'a str>,
    pub now: SystemTime,
    /// The functions in live mode.
    pub live: &'a HashSet<FunctionKey>,
}

/// Lenses over each deployable function: actions, then what the session knows. Functions that
/// `lambda.toml` configures (`configured`) are handlers whatever their signature.
pub fn lenses(file: &FileView, view: &SessionView, configured: &[String]) -> Vec<Lens> {
    let mut out = Vec::new();
    for f in file.functions {
        let key = file.key(f);
        // Only the selected profile's deploy: another target's state is not this one's.
        let deployed = view
            .profile
            .and_then(|p| view.session.deployment_on(&key, p));
        let mut push = |title: String, command: &'static str, argument: Value| {
            out.push(Lens {
                line: f.def_line,
                call: CommandCall {
                    title,
                    command,
                    argument,
                },
            })
        };
        let kind = if configured.contains(&f.name) {
            FunctionKind::Handler
        } else {
            f.kind
        };
        // Debug deploys first, so it is there before a callable's first deploy too.
        let local = targets_local(view.profile);
        let mut as_deployed = file.target(f);
        match kind {
            FunctionKind::Private => continue,
            FunctionKind::Handler => push("Deploy".into(), commands::DEPLOY, file.target(f)),
            FunctionKind::Callable => {
                as_deployed["callable"] = json!(true);
                push(
                    "Deploy as Lambda (callable)".into(),
                    commands::DEPLOY,
                    as_deployed.clone(),
                );
                if deployed.is_none() {
                    if local {
                        push("Debug".into(), commands::DEBUG, as_deployed);
                    }
                    continue;
                }
            }
        }
        push("Invoke".into(), commands::INVOKE, file.target(f));
        if local {
            push("Debug".into(), commands::DEBUG, as_deployed);
        }
        // The server finds the Lambda name when the lens is clicked, for the profile then
        // selected: the deploy of this session, else lambda.toml's `name`, else the default.
        push("Logs".into(), commands::LOGS, file.target(f));
        let mut live = file.target(f);
        if kind == FunctionKind::Callable {
            live["callable"] = json!(true);
        }
        if view.live.contains(&key) {
            live["on"] = json!(false);
            push("Stop Live".into(), live::LIVE, live);
        } else {
            push("Live".into(), live::LIVE, live);
        }
        if let Some(url) = deployed.and_then(|d| d.url.clone()) {
            push("Open URL".into(), commands::OPEN_URL, json!({ "url": url }));
        }
        if let Some(d) = deployed {
            push(
                format!("deployed to {} · {}", d.target_label(), ago(d.at, view.now)),
                commands::LOGS,
                file.target(f),
            );
        }
    }
    out
}

/// Whether Debug is offered: on the local target, or before the server has announced one (the
/// command itself refuses an AWS profile with a sentence).
pub fn targets_local(profile: Option<&str>) -> bool {
    profile.is_none_or(|p| p == LOCAL_PROFILE)
}

/// Code actions for the function under the cursor; `local` as [`targets_local`] says (Debug
/// runs on the local Lambda only).
pub fn actions(
    file: &FileView,
    f: &PyFunction,
    events_file: &Path,
    has_events: bool,
    local: bool,
) -> Vec<Action> {
    let mut deploy = file.target(f);
    let deploy_title = match f.kind {
        FunctionKind::Private => return Vec::new(),
        FunctionKind::Handler => "Deploy handler as Lambda",
        FunctionKind::Callable => {
            deploy["callable"] = json!(true);
            "Deploy function as Lambda (wrap callable)"
        }
    };
    let run = |title: &str, command, argument| {
        Action::Run(CommandCall {
            title: title.to_string(),
            command,
            argument,
        })
    };
    let mut invoke_empty = file.target(f);
    invoke_empty["payload"] = json!({});
    let mut debug = deploy.clone();
    let mut out = vec![
        run(deploy_title, commands::DEPLOY, deploy),
        run("Invoke Lambda", commands::INVOKE, invoke_empty),
    ];
    if has_events {
        let mut arg = file.target(f);
        arg["eventFile"] = json!(events_file);
        out.push(run("Invoke with event…", commands::INVOKE, arg));
    }
    if local {
        if has_events {
            debug["eventFile"] = json!(events_file);
        }
        out.push(run("Debug locally (breakpoints)", commands::DEBUG, debug));
    }
    if !has_events {
        let event = sample_event(f, function_source(file.text, f));
        out.push(Action::CreateFile {
            title: "Create sample event".to_string(),
            path: events_file.to_path_buf(),
            text: format!(
                "{}\n",
                serde_json::to_string_pretty(&event).expect("JSON values serialize")
            ),
        });
    }
    out
}

/// "Open URL" for a function whose deploy to `profile` found a function URL.
pub fn open_url_action(
    file: &FileView,
    f: &PyFunction,
    session: &Session,
    profile: Option<&str>,
) -> Option<Action> {
    let url = profile
        .and_then(|p| session.deployment_on(&file.key(f), p))?
        .url
        .clone()?;
    Some(Action::Run(CommandCall {
        title: "Open URL".into(),
        command: commands::OPEN_URL,
        argument: json!({ "url": url }),
    }))
}

/// Inline results for the functions invoked on `profile` in this session.
pub fn hints(file: &FileView, session: &Session, profile: Option<&str>) -> Vec<Hint> {
    let Some(profile) = profile else {
        return Vec::new();
    };
    file.functions
        .iter()
        .filter_map(|f| {
            let inv = session.invocation(&file.key(f), profile)?;
            Some(Hint {
                at: f.header_end,
                label: hint_label(&inv.outcome),
                tooltip: full_result(&inv.outcome),
            })
        })
        .collect()
}

/// `→ {"statusCode":200,…} 84 ms`, at most [`HINT_MAX_CHARS`] characters.
pub fn hint_label(outcome: &InvokeOutcome) -> String {
    let timing = format!(" {} ms", outcome.duration_ms.round());
    let room = HINT_MAX_CHARS.saturating_sub(2 + timing.chars().count());
    let result = outcome.compact();
    let shown: String = if result.chars().count() > room {
        let mut s: String = result.chars().take(room.saturating_sub(1)).collect();
        s.push('…');
        s
    } else {
        result
    };
    format!("→ {shown}{timing}")
}

/// The whole result: pretty JSON, or the error with its stack trace.
pub fn full_result(outcome: &InvokeOutcome) -> String {
    match (&outcome.error, &outcome.payload_text) {
        (Some(_), _) => outcome.to_string().trim_end().to_string(),
        (None, Some(text)) => text.clone(),
        (None, None) => {
            serde_json::to_string_pretty(&outcome.payload).expect("JSON values serialize")
        }
    }
}

/// A starting event: for a handler whose event is annotated with a trigger's type, that trigger's
/// template; else the keys its body reads (with string defaults where it gives them) or the
/// Lambda console's hello-world keys; for a callable its required parameters.
pub fn sample_event(f: &PyFunction, source: &str) -> Value {
    let mut event = serde_json::Map::new();
    match f.kind {
        FunctionKind::Handler => {
            let trigger = f.event_type.as_deref().and_then(events::for_type);
            if let Some(t) = trigger {
                return serde_json::from_str(t.template).expect("templates are JSON (tested)");
            }
            for (key, default) in read_keys(source) {
                event
                    .entry(key)
                    .or_insert(default.map_or(Value::Null, Value::String));
            }
            if event.is_empty() {
                for i in 1..=3 {
                    event.insert(format!("key{i}"), json!(format!("value{i}")));
                }
            }
        }
        FunctionKind::Callable | FunctionKind::Private => {
            for p in &f.params {
                let named = matches!(
                    p.kind,
                    ParamKind::Positional | ParamKind::PositionalOnly | ParamKind::KeywordOnly
                );
                // Parameters with defaults are left out so their defaults apply.
                if named && !p.has_default {
                    event.insert(p.name.clone(), Value::Null);
                }
            }
        }
    }
    Value::Object(event)
}

/// `x.get("key", "default")` and `x["key"]` string keys, in order of appearance.
fn read_keys(source: &str) -> Vec<(String, Option<String>)> {
    let mut out = Vec::new();
    let mut rest = source;
    while let Some(i) = rest.find(['[', '(']) {
        let opener = rest.as_bytes()[i];
        let is_get = opener == b'(' && rest[..i].ends_with(".get");
        rest = &rest[i + 1..];
        if opener == b'(' && !is_get {
            continue;
        }
        let Some((key, after)) = string_literal(rest) else {
            continue;
        };
        let default = if is_get {
            after
                .trim_start()
                .strip_prefix(',')
                .and_then(|a| string_literal(a.trim_start()))
                .map(|(d, _)| d)
        } else if after.starts_with(']') {
            None
        } else {
            continue;
        };
        out.push((key, default));
        rest = after;
    }
    out
}

/// A simple `"..."` or `'...'` literal at the start of `s` (no escapes), and the text after it.
fn string_literal(s: &str) -> Option<(String, &str)> {
    let quote = s.chars().next().filter(|c| *c == '"' || *c == '\'')?;
    let body = &s[1..];
    let end = body.find(quote)?;
    let lit = &body[..end];
    (!lit.contains('\\') && !lit.contains('\n')).then(|| (lit.to_string(), &body[end + 1..]))
}

/// The function's own text.
pub fn function_source<'a>(text: &'a str, f: &PyFunction) -> &'a str {
    let start = byte_offset(text, f.start);
    let end = byte_offset(text, f.end).max(start);
    &text[start..end]
}

/// A tree-sitter byte position as an offset into `text` (clamped to the text).
pub fn byte_offset(text: &str, pos: Pos) -> usize {
    let line_start: usize = text
        .split_inclusive('\n')
        .take(pos.line)
        .map(str::len)
        .sum();
    let offset = (line_start + pos.byte_col).min(text.len());
    (0..=offset)
        .rev()
        .find(|&i| text.is_char_boundary(i))
        .unwrap_or(0)
}

/// The deepest stack frame in a file of the package: the file is the longest suffix of the
/// frame's path that exists under `root` (Lambda runs the package from `/var/task`, the local
/// Lambda from its own task folder). Returns the local file and the zero-based line.
pub fn error_location(frames: &[StackFrame], root: &Path) -> Option<(PathBuf, usize)> {
    frames.iter().rev().find_map(|frame| {
        let parts: Vec<&str> = frame
            .file
            .split(['/', '\\'])
            .filter(|p| !p.is_empty() && *p != "." && *p != "..")
            .collect();
        (0..parts.len()).find_map(|i| {
            let candidate = root.join(parts[i..].join("/"));
            candidate
                .is_file()
                .then(|| (candidate, frame.line.saturating_sub(1) as usize))
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use lambda_deploy::analysis::analyze;

    #[test]
    fn sample_events_use_what_the_handler_reads() {
        let src = "def handler(event, context):\n    name = (event or {}).get(\"name\", \"world\")\n    n = event['count']\n    return d.get(x)\n\ndef plain(event, context):\n    return 1\n\ndef add(a, b=1, *rest, c, **kw):\n    return a\n";
        let fs = analyze(src).functions;
        assert_eq!(
            sample_event(&fs[0], function_source(src, &fs[0])),
            json!({"name": "world", "count": null})
        );
        assert_eq!(
            sample_event(&fs[1], function_source(src, &fs[1])),
            json!({"key1": "value1", "key2": "value2", "key3": "value3"})
        );
        assert_eq!(
            sample_event(&fs[2], function_source(src, &fs[2])),
            json!({"a": null, "c": null})
        );
    }

    #[test]
    fn annotated_handlers_get_their_triggers_event() {
        let src = "@event_source(data_class=SQSEvent)\ndef a(event, context):\n    return event['x']\n\ndef b(event: APIGatewayProxyEventV2, context):\n    return 1\n\ndef c(event: dict, context):\n    return event['x']\n";
        let fs = analyze(src).functions;
        let template =
            |name| serde_json::from_str::<Value>(events::find(name).unwrap().template).unwrap();
        assert_eq!(
            sample_event(&fs[0], function_source(src, &fs[0])),
            template("sqs")
        );
        assert_eq!(
            sample_event(&fs[1], function_source(src, &fs[1])),
            template("apigateway-http")
        );
        assert_eq!(
            sample_event(&fs[2], function_source(src, &fs[2])),
            json!({"x": null})
        );
    }

    #[test]
    fn hint_labels_are_short() {
        let outcome = InvokeOutcome {
            function: "f".into(),
            status_code: 200,
            function_error: None,
            payload: json!({"statusCode": 200, "body": "x".repeat(200)}),
            payload_text: None,
            error: None,
            log_tail: None,
            duration_ms: 84.2,
            executed_version: None,
        };
        let label = hint_label(&outcome);
        assert!(label.starts_with("→ {\"body\":\"xxx"), "{label}");
        assert!(label.ends_with("… 84 ms"), "{label}");
        assert_eq!(label.chars().count(), HINT_MAX_CHARS);
        let full = full_result(&outcome);
        assert!(full.contains(&"x".repeat(200)) && full.contains("\"statusCode\": 200"));
    }

    #[test]
    fn frames_map_to_the_longest_existing_suffix() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        std::fs::create_dir_all(root.join("pkg")).unwrap();
        std::fs::write(root.join("pkg/mod.py"), "").unwrap();
        std::fs::write(root.join("mod.py"), "").unwrap();
        let frame = |file: &str, line| StackFrame {
            file: file.into(),
            line,
            function: "f".into(),
            code: None,
        };
        let frames = vec![
            frame("/var/task/pkg/mod.py", 3),
            frame("/usr/lib/python3.11/json/decoder.py", 40),
        ];
        assert_eq!(
            error_location(&frames, root),
            Some((root.join("pkg/mod.py"), 2))
        );
        let local = vec![frame("/data/local/code/abc/task/mod.py", 7)];
        assert_eq!(error_location(&local, root), Some((root.join("mod.py"), 6)));
        assert_eq!(error_location(&[frame("/x/other.py", 1)], root), None);
    }

    #[test]
    fn byte_offsets_clamp_to_char_boundaries() {
        let text = "é = 1\nx\n";
        assert_eq!(
            byte_offset(
                text,
                Pos {
                    line: 1,
                    byte_col: 0
                }
            ),
            7
        );
        assert_eq!(
            byte_offset(
                text,
                Pos {
                    line: 0,
                    byte_col: 1
                }
            ),
            0
        );
        assert_eq!(
            byte_offset(
                text,
                Pos {
                    line: 9,
                    byte_col: 0
                }
            ),
            text.len()
        );
    }
}
