//! The one place where LSP types meet lambda-ls types: URIs and paths, UTF-16 positions and byte
//! offsets, lenses, actions, hints, diagnostics, capabilities and errors.
//!
//! Positions: LSP counts UTF-16 code units (the encoding every client supports); tree-sitter and
//! Rust strings count bytes. A character past the end of a line means the end of that line.

use std::path::{Path, PathBuf};

use lambda_deploy::analysis::Pos;
use lambda_deploy::project::ConfigDiagnostic;
use lambda_ops::Blame;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use tower_lsp_server::jsonrpc;
use tower_lsp_server::ls_types::*;

use super::documents::{Document, LineEdit};
use super::editor::Caps;
use super::failure::Failure;
use super::features::{Action, CommandCall, Hint, Lens};
use super::project_file::{KeyDoc, KeyItem, KeyKind};
use super::session::Mark;

/// Where diagnostics come from, as the editor shows it.
const SOURCE: &str = "lambda-ls";

// ---------------------------------------------------------------------------------------------
// URIs and paths

pub fn uri(text: &str) -> Option<Uri> {
    text.parse().ok()
}

/// The file a `file:` URI names.
pub fn file_path(uri_text: &str) -> Option<PathBuf> {
    let uri = uri(uri_text)?;
    if uri.scheme().as_str() != "file" {
        return None;
    }
    uri.to_file_path().map(|p| p.into_owned())
}

pub fn file_uri(path: &Path) -> Option<Uri> {
    Uri::from_file_path(path)
}

// ---------------------------------------------------------------------------------------------
// Positions

/// The byte offset of an LSP position (UTF-16 column) in `text`, clamped to the line's end.
pub fn byte_offset(text: &str, pos: Position) -> usize {
    let line_start = lambda_deploy::analysis::line_starts(text).nth(pos.line as usize);
    offset_in_line(text, line_start, pos.character)
}

/// The byte offset of an open document's position, through its line index.
fn document_offset(doc: &Document, pos: Position) -> usize {
    offset_in_line(doc.text(), doc.line_start(pos.line as usize), pos.character)
}

/// The byte offset `character` UTF-16 units into the line starting at `line_start` (past the
/// end of the text when there is no such line; the line's end when it is shorter).
fn offset_in_line(text: &str, line_start: Option<usize>, character: u32) -> usize {
    let Some(line_start) = line_start else {
        return text.len();
    };
    let line = line_at(text, line_start);
    let mut units = 0usize;
    for (i, c) in line.char_indices() {
        if units >= character as usize {
            return line_start + i;
        }
        units += c.len_utf16();
    }
    line_start + line.len()
}

/// The LSP position of a tree-sitter byte position.
pub fn position(text: &str, pos: Pos) -> Position {
    let line_start: usize = text
        .split_inclusive('\n')
        .take(pos.line)
        .map(str::len)
        .sum();
    let line = line_at(text, line_start.min(text.len()));
    let mut col = pos.byte_col.min(line.len());
    while !line.is_char_boundary(col) {
        col -= 1;
    }
    Position::new(pos.line as u32, utf16_len(&line[..col]))
}

/// The LSP position of a byte offset into `text` (clamped to the text and to a character).
pub fn offset_position(text: &str, offset: usize) -> Position {
    let mut offset = offset.min(text.len());
    while !text.is_char_boundary(offset) {
        offset -= 1;
    }
    let before = &text[..offset];
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    Position::new(
        before.matches('\n').count() as u32,
        utf16_len(&before[line_start..]),
    )
}

/// The LSP range of a byte range of `text`.
pub fn byte_range(text: &str, range: std::ops::Range<usize>) -> Range {
    Range::new(
        offset_position(text, range.start),
        offset_position(text, range.end),
    )
}

/// The text of the line starting at `line_start`, without its line break.
fn line_at(text: &str, line_start: usize) -> &str {
    let rest = &text[line_start..];
    let line = rest.find('\n').map_or(rest, |i| &rest[..i]);
    line.strip_suffix('\r').unwrap_or(line)
}

fn nth_line(text: &str, line: usize) -> &str {
    text.split('\n')
        .nth(line)
        .map(|l| l.strip_suffix('\r').unwrap_or(l))
        .unwrap_or("")
}

fn utf16_len(s: &str) -> u32 {
    s.encode_utf16().count() as u32
}

/// The whole line, from its first non-blank character to its end.
fn line_range(text: &str, line: usize) -> Range {
    let content = nth_line(text, line);
    let indent = content.len() - content.trim_start().len();
    let line = line as u32;
    Range::new(
        Position::new(line, utf16_len(&content[..indent])),
        Position::new(line, utf16_len(content)),
    )
}

// ---------------------------------------------------------------------------------------------
// Text synchronization

/// Applies incremental (or whole-text) changes in order; each range refers to the text left by
/// the previous change.
pub fn apply_changes(
    doc: &mut Document,
    changes: Vec<TextDocumentContentChangeEvent>,
) -> Vec<LineEdit> {
    changes
        .into_iter()
        .map(|change| {
            let (start, end) = match change.range {
                Some(r) => (document_offset(doc, r.start), document_offset(doc, r.end)),
                None => (0, doc.text().len()),
            };
            doc.edit(start, end, &change.text)
        })
        .collect()
}

// ---------------------------------------------------------------------------------------------
// Features

pub fn command(call: CommandCall) -> Command {
    Command::new(
        call.title,
        call.command.to_string(),
        Some(vec![call.argument]),
    )
}

pub fn code_lenses(lenses: Vec<Lens>) -> Vec<CodeLens> {
    lenses
        .into_iter()
        .map(|lens| {
            let at = Position::new(lens.line as u32, 0);
            CodeLens {
                range: Range::new(at, at),
                command: Some(command(lens.call)),
                data: None,
            }
        })
        .collect()
}

/// Code actions; with `open_created`, a file an action creates is then opened
/// (`lambda.openFile`, which asks the client with `window/showDocument`).
pub fn code_actions(actions: Vec<Action>, open_created: bool) -> CodeActionResponse {
    actions
        .into_iter()
        .filter_map(|action| match action {
            Action::Run(call) => Some(CodeActionOrCommand::CodeAction(CodeAction {
                title: call.title.clone(),
                command: Some(command(call)),
                ..Default::default()
            })),
            Action::CreateFile { title, path, text } => {
                let uri = file_uri(&path)?;
                let at = Position::new(0, 0);
                let open = open_created.then(|| {
                    Command::new(
                        title.clone(),
                        super::commands::OPEN_FILE.to_string(),
                        Some(vec![serde_json::json!({"path": path})]),
                    )
                });
                Some(CodeActionOrCommand::CodeAction(CodeAction {
                    title,
                    command: open,
                    edit: Some(WorkspaceEdit {
                        document_changes: Some(DocumentChanges::Operations(vec![
                            DocumentChangeOperation::Op(ResourceOp::Create(CreateFile {
                                uri: uri.clone(),
                                options: Some(CreateFileOptions {
                                    overwrite: Some(false),
                                    ignore_if_exists: Some(true),
                                }),
                                annotation_id: None,
                            })),
                            DocumentChangeOperation::Edit(TextDocumentEdit {
                                text_document: OptionalVersionedTextDocumentIdentifier {
                                    uri,
                                    version: None,
                                },
                                edits: vec![OneOf::Left(TextEdit::new(Range::new(at, at), text))],
                            }),
                        ])),
                        ..Default::default()
                    }),
                    ..Default::default()
                }))
            }
        })
        .collect()
}

/// Hints inside `range`, at the end of their `def` lines.
pub fn inlay_hints(text: &str, hints: Vec<Hint>, range: Range) -> Vec<InlayHint> {
    hints
        .into_iter()
        .map(|h| (position(text, h.at), h))
        .filter(|(at, _)| range.start <= *at && *at <= range.end)
        .map(|(at, h)| InlayHint {
            position: at,
            label: InlayHintLabel::String(h.label),
            kind: None,
            text_edits: None,
            tooltip: Some(InlayHintTooltip::MarkupContent(MarkupContent {
                kind: MarkupKind::Markdown,
                value: format!("```json\n{}\n```", h.tooltip),
            })),
            padding_left: Some(true),
            padding_right: None,
            data: None,
        })
        .collect()
}

pub fn diagnostics<'a>(text: &str, marks: impl Iterator<Item = &'a Mark>) -> Vec<Diagnostic> {
    marks
        .map(|m| Diagnostic {
            range: line_range(text, m.line),
            severity: Some(DiagnosticSeverity::ERROR),
            source: Some(SOURCE.to_string()),
            message: m.message.clone(),
            ..Default::default()
        })
        .collect()
}

/// `lambda.toml` problems, positioned on the editor's text. An empty span (the parser's "here")
/// is widened to one character so every client shows it.
pub fn config_diagnostics(text: &str, problems: &[ConfigDiagnostic]) -> Vec<Diagnostic> {
    problems
        .iter()
        .map(|p| {
            let mut span = p.span.start.min(text.len())..p.span.end.min(text.len());
            if span.is_empty() {
                let next = text[span.start..].chars().next().map_or(0, char::len_utf8);
                span.end = span.start + next;
            }
            Diagnostic {
                range: byte_range(text, span),
                severity: Some(DiagnosticSeverity::ERROR),
                source: Some(SOURCE.to_string()),
                message: p.message.clone(),
                ..Default::default()
            }
        })
        .collect()
}

pub fn completion(text: &str, items: Vec<KeyItem>) -> CompletionResponse {
    CompletionResponse::Array(
        items
            .into_iter()
            .map(|item| CompletionItem {
                kind: Some(match item.kind {
                    KeyKind::Table => CompletionItemKind::MODULE,
                    KeyKind::Setting => CompletionItemKind::PROPERTY,
                }),
                documentation: Some(Documentation::MarkupContent(MarkupContent {
                    kind: MarkupKind::Markdown,
                    value: item.doc.to_string(),
                })),
                filter_text: Some(item.new_text.clone()),
                text_edit: Some(CompletionTextEdit::Edit(TextEdit::new(
                    byte_range(text, item.replace),
                    item.new_text,
                ))),
                label: item.label,
                ..Default::default()
            })
            .collect(),
    )
}

pub fn hover(text: &str, doc: KeyDoc) -> Hover {
    Hover {
        contents: HoverContents::Markup(MarkupContent {
            kind: MarkupKind::Markdown,
            value: format!("**{}** — {}", doc.key, doc.doc),
        }),
        range: Some(byte_range(text, doc.span)),
    }
}

// ---------------------------------------------------------------------------------------------
// Session set-up

pub fn client_caps(c: &ClientCapabilities) -> Caps {
    let window = c.window.as_ref();
    let ws = c.workspace.as_ref();
    let doc = c.text_document.as_ref();
    let edit = ws.and_then(|w| w.workspace_edit.as_ref());
    Caps {
        work_done_progress: window.and_then(|w| w.work_done_progress) == Some(true),
        code_lens_refresh: ws
            .and_then(|w| w.code_lens.as_ref())
            .and_then(|c| c.refresh_support)
            == Some(true),
        inlay_hint_refresh: ws
            .and_then(|w| w.inlay_hint.as_ref())
            .and_then(|c| c.refresh_support)
            == Some(true),
        create_files: edit.and_then(|e| e.document_changes) == Some(true)
            && edit
                .and_then(|e| e.resource_operations.as_ref())
                .is_some_and(|ops| ops.contains(&ResourceOperationKind::Create)),
        configuration: ws.and_then(|w| w.configuration) == Some(true),
        show_message_request: window.and_then(|w| w.show_message.as_ref()).is_some(),
        confirm_deploy: c
            .experimental
            .as_ref()
            .and_then(|e| e.pointer("/lambdaLs/confirmDeploy"))
            .and_then(Value::as_bool)
            == Some(true),
        debug_ready: c
            .experimental
            .as_ref()
            .and_then(|e| e.pointer("/lambdaLs/debugReady"))
            .and_then(Value::as_bool)
            == Some(true),
        show_document: window
            .and_then(|w| w.show_document.as_ref())
            .is_some_and(|s| s.support),
        dynamic_sync: doc
            .and_then(|d| d.synchronization.as_ref())
            .and_then(|s| s.dynamic_registration)
            == Some(true),
        dynamic_completion: doc
            .and_then(|d| d.completion.as_ref())
            .and_then(|c| c.dynamic_registration)
            == Some(true),
        dynamic_hover: doc
            .and_then(|d| d.hover.as_ref())
            .and_then(|h| h.dynamic_registration)
            == Some(true),
    }
}

/// Which files `lambda.toml` support applies to, for dynamic registration.
const PROJECT_FILE_PATTERN: &str = "**/lambda.toml";

/// The server's capabilities. Completion and hover serve `lambda.toml` only: clients that can
/// register them dynamically get them for that file alone (see [`project_file_registrations`]).
pub fn initialize_result(commands: &[&str], caps: &Caps) -> InitializeResult {
    InitializeResult {
        capabilities: ServerCapabilities {
            position_encoding: Some(PositionEncodingKind::UTF16),
            text_document_sync: Some(TextDocumentSyncCapability::Options(
                TextDocumentSyncOptions {
                    open_close: Some(true),
                    change: Some(TextDocumentSyncKind::INCREMENTAL),
                    save: Some(TextDocumentSyncSaveOptions::Supported(true)),
                    ..Default::default()
                },
            )),
            code_lens_provider: Some(CodeLensOptions {
                resolve_provider: Some(false),
            }),
            code_action_provider: Some(CodeActionProviderCapability::Simple(true)),
            completion_provider: (!caps.dynamic_completion).then(CompletionOptions::default),
            hover_provider: (!caps.dynamic_hover).then_some(HoverProviderCapability::Simple(true)),
            inlay_hint_provider: Some(OneOf::Left(true)),
            execute_command_provider: Some(ExecuteCommandOptions {
                commands: commands.iter().map(|c| c.to_string()).collect(),
                work_done_progress_options: WorkDoneProgressOptions {
                    work_done_progress: Some(true),
                },
            }),
            ..Default::default()
        },
        server_info: Some(ServerInfo {
            name: "lambda-ls".to_string(),
            version: Some(env!("CARGO_PKG_VERSION").to_string()),
        }),
        offset_encoding: None,
    }
}

/// Registrations that make clients which sync only their own languages (VS Code's
/// `documentSelector`) also send `lambda.toml`, and ask it for completion and hover.
pub fn project_file_registrations(caps: &Caps) -> Vec<Registration> {
    let selector = serde_json::json!([{"scheme": "file", "pattern": PROJECT_FILE_PATTERN}]);
    let register = |method: &str, mut options: Value| {
        options["documentSelector"] = selector.clone();
        Registration {
            id: format!("lambda-ls/lambda.toml/{method}"),
            method: method.to_string(),
            register_options: Some(options),
        }
    };
    let mut out = Vec::new();
    if caps.dynamic_sync {
        let kind = serde_json::to_value(TextDocumentSyncKind::INCREMENTAL).expect("serializes");
        out.push(register("textDocument/didOpen", serde_json::json!({})));
        out.push(register(
            "textDocument/didChange",
            serde_json::json!({"syncKind": kind}),
        ));
        out.push(register(
            "textDocument/didSave",
            serde_json::json!({"includeText": false}),
        ));
        out.push(register("textDocument/didClose", serde_json::json!({})));
    }
    if caps.dynamic_completion {
        out.push(register("textDocument/completion", serde_json::json!({})));
    }
    if caps.dynamic_hover {
        out.push(register("textDocument/hover", serde_json::json!({})));
    }
    out
}

/// The buttons of a question.
pub fn message_actions(titles: &[&str]) -> Vec<MessageActionItem> {
    titles
        .iter()
        .map(|t| MessageActionItem {
            title: t.to_string(),
            properties: Default::default(),
        })
        .collect()
}

/// The title of the button the user chose, if any.
pub fn chosen_action(item: Option<MessageActionItem>) -> Option<String> {
    item.map(|i| i.title)
}

/// `initializationOptions: {"profile": "dev"}`.
pub fn init_profile(options: Option<&Value>) -> Option<String> {
    options?
        .get("profile")?
        .as_str()
        .filter(|s| !s.is_empty())
        .map(str::to_string)
}

/// `initializationOptions: {"questionTimeoutSeconds": 60}`: how long a question may stay open.
pub fn init_question_timeout(options: Option<&Value>) -> Option<std::time::Duration> {
    let secs = options?.get("questionTimeoutSeconds")?.as_f64()?;
    (secs > 0.0 && secs.is_finite()).then(|| std::time::Duration::from_secs_f64(secs))
}

/// `{"lambdaLs": {"profile": "dev"}}` (or the `lambdaLs` section alone, as `workspace/configuration`
/// returns it): `Some(None)` when the setting is present but empty (back to the default order),
/// `None` when the settings do not mention it.
pub fn settings_profile(settings: &Value) -> Option<Option<String>> {
    let section = settings.get("lambdaLs").unwrap_or(settings);
    match section.get("profile")? {
        Value::String(s) if !s.is_empty() => Some(Some(s.clone())),
        Value::String(_) | Value::Null => Some(None),
        _ => None,
    }
}

/// `lambdaLs.liveByDefault`: whether the handlers of a saved file go live by themselves.
pub fn settings_live(settings: &Value) -> Option<bool> {
    let section = settings.get("lambdaLs").unwrap_or(settings);
    section.get("liveByDefault")?.as_bool()
}

pub fn configuration_request() -> Vec<ConfigurationItem> {
    vec![ConfigurationItem {
        scope_uri: None,
        section: Some("lambdaLs".to_string()),
    }]
}

// ---------------------------------------------------------------------------------------------
// Errors, progress and custom notifications

pub fn rpc_error(f: &Failure) -> jsonrpc::Error {
    let code = match f.blame {
        Blame::Input | Blame::Config => jsonrpc::ErrorCode::InvalidParams,
        // LSP's RequestFailed: the request was valid but did not succeed.
        Blame::Remote => jsonrpc::ErrorCode::ServerError(-32803),
        Blame::Cancelled => jsonrpc::ErrorCode::RequestCancelled,
        Blame::Internal => jsonrpc::ErrorCode::InternalError,
    };
    jsonrpc::Error {
        code,
        message: f.sentence.clone().into(),
        data: None,
    }
}

/// A progress token as a map key.
pub fn progress_key(token: &ProgressToken) -> String {
    match token {
        NumberOrString::Number(n) => format!("#{n}"),
        NumberOrString::String(s) => s.clone(),
    }
}

pub fn progress_token(text: String) -> ProgressToken {
    NumberOrString::String(text)
}

/// The profile the server now deploys to, sent as `lambdaLs/profileChanged`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ProfileChangedParams {
    pub profile: String,
    pub region: Option<String>,
    pub kind: String,
    /// Why the profile's credentials cannot be resolved now (absent when they can, and for `local`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credentials_error: Option<String>,
}

pub enum ProfileChanged {}

/// The deploy question as `lambdaLs/confirmDeploy` carries it, for clients that show it in a
/// form of their own (VS Code: a modal dialog).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Question {
    /// The whole question as one sentence.
    pub message: String,
    pub account: String,
    pub region: String,
    pub profile: String,
}

/// `{"deploy": true}` when the user chose to deploy.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConfirmDeployResult {
    pub deploy: bool,
}

pub enum ConfirmDeploy {}

impl request::Request for ConfirmDeploy {
    type Params = Question;
    type Result = ConfirmDeployResult;
    const METHOD: &'static str = "lambdaLs/confirmDeploy";
}

/// `window/showDocument` of a file, focused.
pub fn show_document(path: &Path) -> Option<ShowDocumentParams> {
    Some(ShowDocumentParams {
        uri: file_uri(path)?,
        external: Some(false),
        take_focus: Some(true),
        selection: None,
    })
}

/// `lambdaLs/debugReady`: a debug invocation's debugpy listens; attach with these settings.
pub enum DebugReady {}

impl notification::Notification for DebugReady {
    type Params = super::debug::DebugReadyParams;
    const METHOD: &'static str = "lambdaLs/debugReady";
}

/// `window/showDocument` for a web address, opened outside the editor.
pub fn show_url(url: &str) -> Option<ShowDocumentParams> {
    Some(ShowDocumentParams {
        uri: url.parse().ok()?,
        external: Some(true),
        take_focus: Some(true),
        selection: None,
    })
}

impl notification::Notification for ProfileChanged {
    type Params = ProfileChangedParams;
    const METHOD: &'static str = "lambdaLs/profileChanged";
}

#[cfg(test)]
mod tests {
    use super::super::documents::Kind;
    use super::*;

    #[test]
    fn utf16_positions_round_trip_through_bytes() {
        let text = "a = 'é😀x'\r\nb\n";
        // 'x' follows `a = '` (5 units), é (1 unit, 2 bytes) and 😀 (2 units, 4 bytes).
        assert_eq!(byte_offset(text, Position::new(0, 8)), 11);
        assert_eq!(&text[11..12], "x");
        assert_eq!(
            position(
                text,
                Pos {
                    line: 0,
                    byte_col: 11
                }
            ),
            Position::new(0, 8)
        );
        // Past the end of a line: the end of that line, before "\r\n".
        assert_eq!(byte_offset(text, Position::new(0, 99)), 13);
        assert_eq!(byte_offset(text, Position::new(1, 1)), 16);
        assert_eq!(byte_offset(text, Position::new(7, 0)), text.len());
    }

    #[test]
    fn incremental_changes_apply_in_order() {
        let mut doc = Document::new(
            Kind::Python,
            None,
            "def f(event, context):\n    pass\n".into(),
            1,
        );
        let change = |l1, c1, l2, c2, t: &str| TextDocumentContentChangeEvent {
            range: Some(Range::new(Position::new(l1, c1), Position::new(l2, c2))),
            range_length: None,
            text: t.into(),
        };
        apply_changes(
            &mut doc,
            vec![
                change(0, 4, 0, 5, "handler"),
                change(1, 4, 1, 8, "return 'é'"),
            ],
        );
        assert_eq!(doc.text(), "def handler(event, context):\n    return 'é'\n");
        apply_changes(
            &mut doc,
            vec![TextDocumentContentChangeEvent {
                range: None,
                range_length: None,
                text: "x = 1\n".into(),
            }],
        );
        assert_eq!(doc.text(), "x = 1\n");
    }

    #[test]
    fn byte_offsets_become_utf16_positions() {
        let text = "a = \"é😀\"\nbad = 1\n";
        assert_eq!(offset_position(text, 0), Position::new(0, 0));
        // After `a = "é😀` (5 + 1 + 2 units, 5 + 2 + 4 bytes).
        assert_eq!(offset_position(text, 11), Position::new(0, 8));
        // Inside 😀: the character's start.
        assert_eq!(offset_position(text, 9), Position::new(0, 6));
        let start = text.find("bad").unwrap();
        assert_eq!(
            byte_range(text, start..start + 3),
            Range::new(Position::new(1, 0), Position::new(1, 3))
        );
        let problems = [ConfigDiagnostic {
            span: start..start,
            message: "x".into(),
        }];
        assert_eq!(
            config_diagnostics(text, &problems)[0].range,
            Range::new(Position::new(1, 0), Position::new(1, 1))
        );
    }

    #[test]
    fn settings_name_the_profile() {
        let v = serde_json::json!({"lambdaLs": {"profile": "dev"}});
        assert_eq!(settings_profile(&v), Some(Some("dev".into())));
        assert_eq!(
            settings_profile(&serde_json::json!({"profile": ""})),
            Some(None)
        );
        assert_eq!(settings_profile(&serde_json::json!({"other": 1})), None);
        assert_eq!(
            init_profile(Some(&serde_json::json!({"profile": "local"}))),
            Some("local".into())
        );
    }
}
