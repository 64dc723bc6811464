//! The one place where LSP types meet lambda-ls types: URIs and paths, UTF-16 positions and byte
//! offsets, lenses, actions, hints, diagnostics, capabilities and errors.
//!
//! Positions: LSP counts UTF-16 code units (the encoding every client supports); tree-sitter and
//! Rust strings count bytes. A character past the end of a line means the end of that line.

use std::path::{Path, PathBuf};

use lambda_deploy::analysis::Pos;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use tower_lsp_server::jsonrpc;
use tower_lsp_server::ls_types::*;

use super::documents::{Document, LineEdit};
use super::editor::Caps;
use super::failure::{Failure, FailureKind};
use super::features::{Action, CommandCall, Hint, Lens};
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
    let mut line_start = 0;
    for _ in 0..pos.line {
        match text[line_start..].find('\n') {
            Some(i) => line_start += i + 1,
            None => return text.len(),
        }
    }
    let line = line_at(text, line_start);
    let mut units = 0usize;
    for (i, c) in line.char_indices() {
        if units >= pos.character as usize {
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
                Some(r) => (
                    byte_offset(doc.text(), r.start),
                    byte_offset(doc.text(), r.end),
                ),
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

pub fn code_actions(actions: Vec<Action>) -> CodeActionResponse {
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
                Some(CodeActionOrCommand::CodeAction(CodeAction {
                    title,
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

// ---------------------------------------------------------------------------------------------
// Session set-up

pub fn client_caps(c: &ClientCapabilities) -> Caps {
    let window = c.window.as_ref();
    let ws = c.workspace.as_ref();
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
    }
}

pub fn initialize_result(commands: &[&str]) -> InitializeResult {
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

/// `initializationOptions: {"profile": "dev"}`.
pub fn init_profile(options: Option<&Value>) -> Option<String> {
    options?
        .get("profile")?
        .as_str()
        .filter(|s| !s.is_empty())
        .map(str::to_string)
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

pub fn configuration_request() -> Vec<ConfigurationItem> {
    vec![ConfigurationItem {
        scope_uri: None,
        section: Some("lambdaLs".to_string()),
    }]
}

// ---------------------------------------------------------------------------------------------
// Errors, progress and custom notifications

pub fn rpc_error(f: &Failure) -> jsonrpc::Error {
    let code = match f.kind {
        FailureKind::Input => jsonrpc::ErrorCode::InvalidParams,
        // LSP's RequestFailed: the request was valid but did not succeed.
        FailureKind::Remote => jsonrpc::ErrorCode::ServerError(-32803),
        FailureKind::Cancelled => jsonrpc::ErrorCode::RequestCancelled,
        FailureKind::Internal => jsonrpc::ErrorCode::InternalError,
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
pub struct ProfileChangedParams {
    pub profile: String,
    pub region: Option<String>,
    pub kind: String,
}

pub enum ProfileChanged {}

impl notification::Notification for ProfileChanged {
    type Params = ProfileChangedParams;
    const METHOD: &'static str = "lambdaLs/profileChanged";
}

#[cfg(test)]
mod tests {
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
        let mut doc = Document::new(None, "def f(event, context):\n    pass\n".into(), 1);
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
