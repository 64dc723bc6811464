//! Python analysis with tree-sitter: top-level functions, their signatures, imports, syntax errors.
//!
//! [`PythonDocument`] keeps the tree between edits so the language server reparses incrementally,
//! and keeps its function list and line starts up to date edit by edit, so nothing on the path
//! of a keystroke is proportional to the file's size but what tree-sitter itself does.

use std::ops::Range;

use serde::Serialize;
use tree_sitter::{InputEdit, Node, Parser, Point, Tree};

/// How a top-level function can be deployed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum FunctionKind {
    /// Takes `(event, context)`: deployed as it is.
    Handler,
    /// Any other public function: deployed behind a generated wrapper.
    Callable,
    /// Starts with `_`: not offered, but can still be deployed by name.
    Private,
}

/// How a parameter binds arguments.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ParamKind {
    PositionalOnly,
    Positional,
    VarArgs,
    KeywordOnly,
    VarKeywords,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Param {
    pub name: String,
    pub kind: ParamKind,
    pub has_default: bool,
}

/// A zero-based position in bytes, as tree-sitter counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Pos {
    pub line: usize,
    pub byte_col: usize,
}

impl From<Point> for Pos {
    fn from(p: Point) -> Self {
        Pos {
            line: p.row,
            byte_col: p.column,
        }
    }
}

/// A function defined at the top level of a module.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PyFunction {
    pub name: String,
    pub params: Vec<Param>,
    pub is_async: bool,
    pub kind: FunctionKind,
    /// Where the `def` (or its first decorator) starts.
    pub start: Pos,
    pub end: Pos,
    /// The line of the `def` keyword itself (after decorators).
    pub def_line: usize,
    /// End of the `def` line's header (the `:`), where inline results go.
    pub header_end: Pos,
    /// What the event is declared as: the class a Powertools `@event_source(data_class=…)` or
    /// `@event_parser(model=…)` names, else the first parameter's annotation, as written.
    pub event_type: Option<String>,
}

impl PyFunction {
    /// `name(a, b=…, *args, **kw)` for messages.
    pub fn signature(&self) -> String {
        let params: Vec<String> = self
            .params
            .iter()
            .map(|p| match p.kind {
                ParamKind::VarArgs => format!("*{}", p.name),
                ParamKind::VarKeywords => format!("**{}", p.name),
                _ if p.has_default => format!("{}=…", p.name),
                _ => p.name.clone(),
            })
            .collect();
        format!("{}({})", self.name, params.join(", "))
    }

    pub fn contains_line(&self, line: usize) -> bool {
        (self.start.line..=self.end.line).contains(&line)
    }

    /// Moves every line this function records by `rows`.
    fn shift_lines(&mut self, rows: isize) {
        for line in [
            &mut self.start.line,
            &mut self.end.line,
            &mut self.def_line,
            &mut self.header_end.line,
        ] {
            *line = line.saturating_add_signed(rows);
        }
    }
}

/// A function that cannot be deployed because it is not at the top level.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NestedFunction {
    pub name: String,
    pub line: usize,
    /// `class Foo` or `def outer`.
    pub container: String,
}

/// One `import` or `from … import …` statement.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Import {
    /// Number of leading dots (0 for absolute imports).
    pub level: usize,
    /// The dotted module after the dots (may be empty for `from . import x`).
    pub module: String,
    /// For `from m import a, b`: `a`, `b` (which may be submodules). Empty for `import m`.
    pub names: Vec<String>,
    pub line: usize,
}

/// What one parse of a module tells.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ModuleAnalysis {
    pub functions: Vec<PyFunction>,
    pub nested: Vec<NestedFunction>,
    pub imports: Vec<Import>,
    /// The first syntax error, if any.
    pub syntax_error: Option<Pos>,
}

fn parser() -> Parser {
    let mut parser = Parser::new();
    parser
        .set_language(&python_grammar::LANGUAGE.into())
        .expect("the bundled Python grammar matches the tree-sitter version");
    parser
}

/// Analyses a whole module in one go (for packaging and the CLI).
pub fn analyze(source: &str) -> ModuleAnalysis {
    PythonDocument::new(source.to_string()).analysis()
}

/// An open Python file with its syntax tree, edited and reparsed incrementally.
pub struct PythonDocument {
    text: String,
    tree: Tree,
    parser: Parser,
    /// The byte offset where each line starts: positions without scanning the text.
    line_starts: Vec<usize>,
    /// The top-level functions of this version and, in step, the byte span of each.
    functions: Vec<PyFunction>,
    spans: Vec<Range<usize>>,
}

/// The lines one edit touched, for moving what is anchored to lines.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LineEdit {
    pub start_line: usize,
    /// The last line of the replaced text, before the edit.
    pub old_end_line: usize,
    /// The last line of the inserted text, after the edit.
    pub new_end_line: usize,
}

impl std::fmt::Debug for PythonDocument {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PythonDocument")
            .field("bytes", &self.text.len())
            .finish()
    }
}

impl PythonDocument {
    pub fn new(text: String) -> Self {
        let mut parser = parser();
        let tree = parser
            .parse(&text, None)
            .expect("parsing without a timeout or cancellation flag always yields a tree");
        let line_starts = line_starts(&text).collect();
        let mut doc = PythonDocument {
            text,
            tree,
            parser,
            line_starts,
            functions: Vec::new(),
            spans: Vec::new(),
        };
        doc.relist(None);
        doc
    }

    pub fn text(&self) -> &str {
        &self.text
    }

    /// The byte offset where a (zero-based) line starts, if the text has that line.
    pub fn line_start(&self, line: usize) -> Option<usize> {
        self.line_starts.get(line).copied()
    }

    fn point_at(&self, byte: usize) -> Point {
        let row = self.line_starts.partition_point(|&s| s <= byte) - 1;
        Point {
            row,
            column: byte - self.line_starts[row],
        }
    }

    /// Replaces `start..end` (byte offsets, clamped to char boundaries by the caller) with
    /// `new_text`, then reparses reusing the unchanged parts of the old tree.
    pub fn edit(&mut self, start: usize, end: usize, new_text: &str) -> LineEdit {
        let start = start.min(self.text.len());
        let end = end.clamp(start, self.text.len());
        let start_position = self.point_at(start);
        let old_end_position = self.point_at(end);
        self.text.replace_range(start..end, new_text);
        let new_end = start + new_text.len();

        // Lines that started inside the replaced text go, the inserted text's lines come, and
        // every later line moves by the change in length.
        let inserted: Vec<usize> = new_text
            .match_indices('\n')
            .map(|(i, _)| start + i + 1)
            .collect();
        let first = start_position.row + 1;
        let after = first + inserted.len();
        self.line_starts
            .splice(first..=old_end_position.row, inserted);
        for s in &mut self.line_starts[after..] {
            *s = *s - end + new_end;
        }

        let new_end_position = self.point_at(new_end);
        let edit = InputEdit {
            start_byte: start,
            old_end_byte: end,
            new_end_byte: new_end,
            start_position,
            old_end_position,
            new_end_position,
        };
        self.tree.edit(&edit);
        let tree = self
            .parser
            .parse(&self.text, Some(&self.tree))
            .expect("parsing without a timeout or cancellation flag always yields a tree");
        let mut dirty: Vec<Range<usize>> = self
            .tree
            .changed_ranges(&tree)
            .map(|r| r.start_byte..r.end_byte)
            .collect();
        dirty.push(start..new_end);
        self.tree = tree;
        self.relist(Some((&edit, &dirty)));
        LineEdit {
            start_line: start_position.row,
            old_end_line: old_end_position.row,
            new_end_line: new_end_position.row,
        }
    }

    /// Lists the top-level functions again after `edit`, reusing (moved) every function whose
    /// span neither touches the edited text nor a range whose syntax changed: its text is the
    /// same, so it is the same function.
    fn relist(&mut self, edit: Option<(&InputEdit, &[Range<usize>])>) {
        let old_functions = std::mem::take(&mut self.functions);
        let old_spans = std::mem::take(&mut self.spans);
        let root = self.tree.root_node();
        let mut cursor = root.walk();
        for child in root.named_children(&mut cursor) {
            if !matches!(child.kind(), "function_definition" | "decorated_definition") {
                continue;
            }
            let span = child.byte_range();
            let reused = edit.and_then(|(e, dirty)| {
                let touches = |r: &Range<usize>| r.start <= span.end && span.start <= r.end;
                if dirty.iter().any(touches) {
                    return None;
                }
                let moved = span.start >= e.new_end_byte;
                let old_span = if moved {
                    span.start - e.new_end_byte + e.old_end_byte
                        ..span.end - e.new_end_byte + e.old_end_byte
                } else {
                    span.clone()
                };
                let at = old_spans
                    .binary_search_by_key(&old_span.start, |s| s.start)
                    .ok()?;
                (old_spans[at] == old_span).then_some(())?;
                let mut f = old_functions[at].clone();
                if moved {
                    let rows = e.new_end_position.row as isize - e.old_end_position.row as isize;
                    f.shift_lines(rows);
                }
                // Columns move too when the function starts on the edit's last line; that
                // cannot happen without touching it, but a wrong lens must never be the cost.
                (f.start == child.start_position().into()).then_some(f)
            });
            if let Some(f) = reused.or_else(|| top_level_function(child, &self.text)) {
                self.functions.push(f);
                self.spans.push(span);
            }
        }
    }

    /// Top-level functions, kept up to date by every edit.
    pub fn functions(&self) -> &[PyFunction] {
        &self.functions
    }

    pub fn syntax_error(&self) -> Option<Pos> {
        let root = self.tree.root_node();
        if !root.has_error() {
            return None;
        }
        first_error(root).map(|n| n.start_position().into())
    }

    /// Everything, including imports and nested definitions anywhere in the module.
    pub fn analysis(&self) -> ModuleAnalysis {
        let mut out = ModuleAnalysis {
            functions: self.functions.clone(),
            syntax_error: self.syntax_error(),
            ..Default::default()
        };
        walk(self.tree.root_node(), &self.text, None, &mut out);
        out
    }
}

/// The byte offset where each line of `text` starts.
pub fn line_starts(text: &str) -> impl Iterator<Item = usize> + '_ {
    std::iter::once(0).chain(text.match_indices('\n').map(|(i, _)| i + 1))
}

fn first_error(node: Node) -> Option<Node> {
    if node.is_error() || node.is_missing() {
        return Some(node);
    }
    let mut cursor = node.walk();
    let children: Vec<Node> = node.children(&mut cursor).collect();
    children
        .into_iter()
        .filter(|c| c.has_error())
        .find_map(first_error)
}

fn text_of<'a>(node: Node, src: &'a str) -> &'a str {
    node.utf8_text(src.as_bytes()).unwrap_or("")
}

fn top_level_function(node: Node, src: &str) -> Option<PyFunction> {
    let (outer, def) = match node.kind() {
        "function_definition" => (node, node),
        "decorated_definition" => {
            let def = node.child_by_field_name("definition")?;
            (def.kind() == "function_definition").then_some((node, def))?
        }
        _ => return None,
    };
    let name = text_of(def.child_by_field_name("name")?, src).to_string();
    let params = parse_params(def.child_by_field_name("parameters")?, src);
    let is_async = def.child(0).is_some_and(|c| c.kind() == "async");
    let header_end = def
        .child_by_field_name("body")
        .and_then(|b| b.prev_sibling())
        .map(|colon| colon.end_position())
        .unwrap_or_else(|| def.start_position());
    let kind = classify(&name, &params);
    let event_type = decorated_event_type(node, src).or_else(|| first_annotation(def, src));
    Some(PyFunction {
        name,
        params,
        is_async,
        kind,
        start: outer.start_position().into(),
        end: outer.end_position().into(),
        def_line: def.start_position().row,
        header_end: header_end.into(),
        event_type,
    })
}

/// `@event_source(data_class=X)` or `@event_parser(model=X)` above the `def`: `X`.
fn decorated_event_type(outer: Node, src: &str) -> Option<String> {
    let mut cursor = outer.walk();
    let decorators: Vec<Node> = outer
        .named_children(&mut cursor)
        .filter(|d| d.kind() == "decorator")
        .collect();
    decorators
        .into_iter()
        .filter_map(|d| d.named_child(0).filter(|c| c.kind() == "call"))
        .find_map(|call| {
            let function = text_of(call.child_by_field_name("function")?, src);
            let keyword = match function.rsplit('.').next()? {
                "event_source" => "data_class",
                "event_parser" => "model",
                _ => return None,
            };
            let arguments = call.child_by_field_name("arguments")?;
            let mut args = arguments.walk();
            let value = arguments
                .named_children(&mut args)
                .filter(|a| a.kind() == "keyword_argument")
                .find(|a| {
                    a.child_by_field_name("name")
                        .is_some_and(|n| text_of(n, src) == keyword)
                })?
                .child_by_field_name("value")?;
            Some(text_of(value, src).to_string())
        })
}

/// The annotation of the first parameter (`event: SQSEvent` → `SQSEvent`).
fn first_annotation(def: Node, src: &str) -> Option<String> {
    let params = def.child_by_field_name("parameters")?;
    let first = params.named_child(0)?;
    matches!(first.kind(), "typed_parameter" | "typed_default_parameter")
        .then(|| first.child_by_field_name("type"))
        .flatten()
        .map(|t| text_of(t, src).to_string())
}

/// A handler takes exactly `(event, context)`; the names are what Lambda users write.
fn classify(name: &str, params: &[Param]) -> FunctionKind {
    let positional: Vec<&Param> = params
        .iter()
        .filter(|p| matches!(p.kind, ParamKind::Positional | ParamKind::PositionalOnly))
        .collect();
    let looks_like_handler = params.len() == 2
        && positional.len() == 2
        && (positional[0]
            .name
            .trim_start_matches('_')
            .ends_with("event")
            || matches!(
                positional[1].name.trim_start_matches('_'),
                "context" | "ctx" | "lambda_context"
            ));
    if looks_like_handler {
        FunctionKind::Handler
    } else if name.starts_with('_') {
        FunctionKind::Private
    } else {
        FunctionKind::Callable
    }
}

fn parse_params(node: Node, src: &str) -> Vec<Param> {
    let mut out = Vec::new();
    let mut keyword_only = false;
    let mut cursor = node.walk();
    for child in node.named_children(&mut cursor) {
        let (name_node, has_default) = match child.kind() {
            "identifier" => (Some(child), false),
            "typed_parameter" => (child.named_child(0), false),
            "default_parameter" | "typed_default_parameter" => {
                (child.child_by_field_name("name"), true)
            }
            "list_splat_pattern" | "dictionary_splat_pattern" => (Some(child), false),
            "keyword_separator" => {
                keyword_only = true;
                continue;
            }
            "positional_separator" => {
                for p in out.iter_mut() {
                    let p: &mut Param = p;
                    if p.kind == ParamKind::Positional {
                        p.kind = ParamKind::PositionalOnly;
                    }
                }
                continue;
            }
            _ => continue,
        };
        let Some(name_node) = name_node else { continue };
        let (name, kind) = match name_node.kind() {
            "list_splat_pattern" => {
                keyword_only = true;
                (
                    text_of(name_node, src).trim_start_matches('*'),
                    ParamKind::VarArgs,
                )
            }
            "dictionary_splat_pattern" => (
                text_of(name_node, src).trim_start_matches('*'),
                ParamKind::VarKeywords,
            ),
            _ if keyword_only => (text_of(name_node, src), ParamKind::KeywordOnly),
            _ => (text_of(name_node, src), ParamKind::Positional),
        };
        out.push(Param {
            name: name.to_string(),
            kind,
            has_default,
        });
    }
    out
}

/// Collects imports and nested definitions anywhere in the tree.
fn walk(node: Node, src: &str, container: Option<String>, out: &mut ModuleAnalysis) {
    match node.kind() {
        "import_statement" => {
            let mut cursor = node.walk();
            for name in node.children_by_field_name("name", &mut cursor) {
                let dotted = match name.kind() {
                    "aliased_import" => name.child_by_field_name("name"),
                    _ => Some(name),
                };
                if let Some(d) = dotted {
                    out.imports.push(Import {
                        level: 0,
                        module: text_of(d, src).to_string(),
                        names: Vec::new(),
                        line: node.start_position().row,
                    });
                }
            }
            return;
        }
        "import_from_statement" => {
            if let Some(import) = from_import(node, src) {
                out.imports.push(import);
            }
            return;
        }
        "function_definition" | "class_definition" => {
            let name = node
                .child_by_field_name("name")
                .map(|n| text_of(n, src).to_string())
                .unwrap_or_default();
            let is_def = node.kind() == "function_definition";
            if let (true, Some(c)) = (is_def, &container) {
                out.nested.push(NestedFunction {
                    name: name.clone(),
                    line: node.start_position().row,
                    container: c.clone(),
                });
            }
            let label = if is_def {
                format!("def {name}")
            } else {
                format!("class {name}")
            };
            if let Some(body) = node.child_by_field_name("body") {
                walk(body, src, Some(label), out);
            }
            return;
        }
        _ => {}
    }
    let mut cursor = node.walk();
    for child in node.named_children(&mut cursor) {
        walk(child, src, container.clone(), out);
    }
}

fn from_import(node: Node, src: &str) -> Option<Import> {
    let module_node = node.child_by_field_name("module_name")?;
    let (level, module) = if module_node.kind() == "relative_import" {
        let mut level = 0;
        let mut module = String::new();
        let mut cursor = module_node.walk();
        for c in module_node.named_children(&mut cursor) {
            match c.kind() {
                "import_prefix" => level = text_of(c, src).len(),
                "dotted_name" => module = text_of(c, src).to_string(),
                _ => {}
            }
        }
        (level, module)
    } else {
        (0, text_of(module_node, src).to_string())
    };
    let mut cursor = node.walk();
    let names = node
        .children_by_field_name("name", &mut cursor)
        .filter_map(|n| match n.kind() {
            "aliased_import" => n.child_by_field_name("name"),
            _ => Some(n),
        })
        .map(|n| text_of(n, src).to_string())
        .collect();
    Some(Import {
        level,
        module,
        names,
        line: node.start_position().row,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const SRC: &str = r#"import os, json as j
from pkg.sub import thing, other as o
from . import sibling
from ..up.mod import x

def handler(event, context):
    return {"ok": True}

@decorator
async def add(a, b: int = 2, *rest, c, **kw) -> int:
    def inner():
        pass
    return a + b

def _private(x, /, y):
    import lazy.module
    return x

class Service:
    def method(self, event, context):
        pass
"#;

    #[test]
    fn finds_functions_with_signatures_and_kinds() {
        let a = analyze(SRC);
        let names: Vec<_> = a
            .functions
            .iter()
            .map(|f| (f.name.as_str(), f.kind))
            .collect();
        assert_eq!(
            names,
            vec![
                ("handler", FunctionKind::Handler),
                ("add", FunctionKind::Callable),
                ("_private", FunctionKind::Private)
            ]
        );
        let add = &a.functions[1];
        assert!(add.is_async);
        assert_eq!(add.start.line, 8, "decorator line");
        assert_eq!(add.def_line, 9);
        assert_eq!(add.signature(), "add(a, b=…, *rest, c, **kw)");
        assert_eq!(add.params[3].kind, ParamKind::KeywordOnly);
        assert_eq!(a.functions[2].params[0].kind, ParamKind::PositionalOnly);
        assert_eq!(
            a.functions[0].header_end,
            Pos {
                line: 5,
                byte_col: 28
            }
        );
        assert_eq!(a.syntax_error, None);
    }

    #[test]
    fn finds_imports_and_nested_definitions() {
        let a = analyze(SRC);
        let imports: Vec<_> = a
            .imports
            .iter()
            .map(|i| (i.level, i.module.as_str(), i.names.join(",")))
            .collect();
        assert_eq!(
            imports,
            vec![
                (0, "os", String::new()),
                (0, "json", String::new()),
                (0, "pkg.sub", "thing,other".to_string()),
                (1, "", "sibling".to_string()),
                (2, "up.mod", "x".to_string()),
                (0, "lazy.module", String::new()),
            ]
        );
        let nested: Vec<_> = a
            .nested
            .iter()
            .map(|n| (n.name.as_str(), n.container.as_str()))
            .collect();
        assert_eq!(
            nested,
            vec![("inner", "def add"), ("method", "class Service")]
        );
    }

    #[test]
    fn event_types_come_from_decorators_then_annotations() {
        let cases = [
            ("def h(event: SQSEvent, context):\n    pass\n", Some("SQSEvent")),
            (
                "def h(event: events.APIGatewayProxyEventV2, context: LambdaContext):\n    pass\n",
                Some("events.APIGatewayProxyEventV2"),
            ),
            ("def h(event: \"SnsModel\" = None, context=None):\n    pass\n", Some("\"SnsModel\"")),
            (
                "@logger.inject_lambda_context\n@event_source(data_class=S3Event)\ndef h(event, context):\n    pass\n",
                Some("S3Event"),
            ),
            (
                "@parser.event_parser(model=KinesisDataStreamModel)\ndef h(event: dict, context):\n    pass\n",
                Some("KinesisDataStreamModel"),
            ),
            ("@event_source(S3Event)\ndef h(event, context):\n    pass\n", None),
            ("def h(event, context: LambdaContext):\n    pass\n", None),
            ("def h(event, context):\n    pass\n", None),
        ];
        for (src, want) in cases {
            let fs = analyze(src).functions;
            assert_eq!(fs[0].event_type.as_deref(), want, "{src}");
        }
    }

    #[test]
    fn syntax_errors_are_located() {
        let a = analyze("def ok(event, context):\n    return 1\n\ndef broken(:\n    pass\n");
        assert_eq!(a.syntax_error.map(|p| p.line), Some(3));
    }

    #[test]
    fn incremental_edits_match_a_fresh_parse() {
        let mut doc = PythonDocument::new(SRC.to_string());
        let at = SRC.find("def handler").unwrap();
        doc.edit(at, at + "def handler".len(), "def lambda_handler");
        doc.edit(0, 0, "# héllo\n");
        let end = doc.text().len();
        doc.edit(end, end, "\ndef tail(event, ctx):\n    pass\n");
        assert_eq!(doc.analysis(), analyze(doc.text()));
        let names: Vec<_> = doc.functions().iter().map(|f| f.name.as_str()).collect();
        assert_eq!(names, vec!["lambda_handler", "add", "_private", "tail"]);
    }

    /// Many small edits of the kinds typing makes (and some that break the syntax): after each,
    /// the function list kept up to date and the line starts must match a fresh parse.
    #[test]
    fn kept_function_lists_match_a_fresh_parse_edit_by_edit() {
        let pieces = [
            "",
            "x",
            "\n",
            "def ",
            "(",
            ")",
            ":",
            "event, context",
            "    ",
            "@d\n",
            "\"\"\"",
            "#",
            "é",
            "\ndef g(event, context):\n    pass\n",
            "async ",
        ];
        let mut doc = PythonDocument::new(SRC.repeat(3));
        let mut seed: u64 = 0x5eed;
        let mut next = |n: usize| {
            seed = seed
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (seed >> 33) as usize % n.max(1)
        };
        for round in 0..400 {
            let text = doc.text();
            let boundary = |at: usize| (0..=at).rev().find(|i| text.is_char_boundary(*i)).unwrap();
            let start = boundary(next(text.len() + 1));
            let end = boundary((start + next(12)).min(text.len())).max(start);
            let piece = pieces[next(pieces.len())];
            doc.edit(start, end, piece);
            let fresh = PythonDocument::new(doc.text().to_string());
            assert_eq!(doc.functions(), fresh.functions(), "round {round}");
            assert_eq!(doc.line_starts, fresh.line_starts, "round {round}");
        }
    }
}
