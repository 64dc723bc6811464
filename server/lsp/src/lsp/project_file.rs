//! `lambda.toml` in the editor: its problems, key completion and key documentation, and which
//! functions of a Python file it configures. Byte offsets only: `convert` makes positions.
//!
//! Problems come from the deploy core's own parser (`parse_project`), so the editor and the
//! deploy never disagree. Completion and hover read the text line by line instead: the file is
//! usually invalid TOML while it is being typed.

use std::collections::HashSet;
use std::ops::Range;
use std::path::{Component, Path, PathBuf};

use lambda_deploy::package::{package_root, parse_target};
use lambda_deploy::project::{
    parse_project, ConfigDiagnostic, ProjectConfig, FUNCTION_ONLY_KEYS, PROJECT_FILE,
    TOP_LEVEL_KEYS,
};
use lambda_deploy::settings::SETTINGS;

use super::failure::Failure;
use super::state::SharedRef;

/// Whether this file is a project file the server follows.
pub fn is_project_file(path: &Path) -> bool {
    path.file_name().is_some_and(|n| n == PROJECT_FILE)
}

/// Every problem of the text, positioned, and the `[[function]] target`s it configures as
/// written (to notice when they change).
pub fn check(text: &str) -> (Vec<ConfigDiagnostic>, Vec<String>) {
    let (config, problems) = parse_project(text);
    let targets = config.functions.into_iter().map(|f| f.target).collect();
    (problems, targets)
}

/// What a completion item inserts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyKind {
    /// A table header: `[defaults]`, `[[function]]`.
    Table,
    /// A setting key.
    Setting,
}

/// One completion: `new_text` replaces `replace` (byte offsets).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyItem {
    pub label: String,
    pub new_text: String,
    pub doc: String,
    pub kind: KeyKind,
    pub replace: Range<usize>,
}

/// The documentation of the key under the cursor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyDoc {
    pub key: String,
    pub doc: String,
    pub span: Range<usize>,
}

/// Which table a line belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Table {
    /// Before any header.
    Root,
    Defaults,
    Function,
    /// Any other table (`[defaults.env]`, a mistake): no key is known there.
    Other,
}

impl Table {
    /// The keys of the table with their documentation; settings are described from their
    /// one declaration (`settings::SETTINGS`).
    fn keys(self) -> Vec<(&'static str, String)> {
        let fixed = |keys: &[(&'static str, &str)]| -> Vec<(&'static str, String)> {
            keys.iter().map(|(k, d)| (*k, d.to_string())).collect()
        };
        let settings = SETTINGS.iter().map(|s| (s.key, s.describe()));
        match self {
            Table::Root => fixed(TOP_LEVEL_KEYS),
            Table::Defaults => settings.collect(),
            Table::Function => fixed(FUNCTION_ONLY_KEYS)
                .into_iter()
                .chain(settings)
                .collect(),
            Table::Other => Vec::new(),
        }
    }
}

fn is_key_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_' || c == '-'
}

/// The byte range of the line holding `offset` (without its line break).
fn line_around(text: &str, offset: usize) -> Range<usize> {
    let start = text[..offset].rfind('\n').map_or(0, |i| i + 1);
    let end = text[offset..].find('\n').map_or(text.len(), |i| offset + i);
    let end = if text[start..end].ends_with('\r') {
        end - 1
    } else {
        end
    };
    start..end
}

/// `[name]` → (Defaults|Other), `[[name]]` → (Function|Other), with the name's byte range in
/// the line; `None` for other lines.
fn header(line: &str) -> Option<(Table, Range<usize>)> {
    let indent = line.len() - line.trim_start().len();
    let rest = &line[indent..];
    let (array, open) = if rest.starts_with("[[") {
        (true, 2)
    } else if rest.starts_with('[') {
        (false, 1)
    } else {
        return None;
    };
    let body = &rest[open..];
    let close = body.find(']').unwrap_or(body.len());
    let raw = &body[..close];
    let name = raw.trim();
    let start = indent + open + (raw.len() - raw.trim_start().len());
    let table = match (array, name) {
        (false, "defaults") => Table::Defaults,
        (true, "function") => Table::Function,
        _ => Table::Other,
    };
    Some((table, start..start + name.len()))
}

/// The lines before `line_start` that are not inside a multi-line string, in order.
fn lines_before(text: &str, line_start: usize) -> Vec<(usize, &str)> {
    let mut out = Vec::new();
    let mut in_string = false;
    let mut at = 0;
    for line in text[..line_start].split_inclusive('\n') {
        let content = line.trim_end_matches(['\n', '\r']);
        let quotes = content.matches("\"\"\"").count() + content.matches("'''").count();
        if !in_string {
            out.push((at, content));
        }
        if quotes % 2 == 1 {
            in_string = !in_string;
        }
        at += line.len();
    }
    out
}

/// The table the line at `line_start` is in, and the keys already set in it (other lines).
fn table_at(text: &str, line_start: usize) -> (Table, HashSet<String>) {
    let mut table = Table::Root;
    let mut keys = HashSet::new();
    for (_, line) in lines_before(text, line_start) {
        if let Some((t, _)) = header(line) {
            table = t;
            keys.clear();
        } else if let Some(k) = key_of(line) {
            keys.insert(line[k].to_string());
        }
    }
    // Keys below the cursor line, up to the next header, are set too.
    let after = text[line_start..]
        .find('\n')
        .map_or(text.len(), |i| line_start + i + 1);
    for line in text[after..].lines() {
        if header(line).is_some() {
            break;
        }
        if let Some(k) = key_of(line) {
            keys.insert(line[k].to_string());
        }
    }
    (table, keys)
}

/// The bare key at the start of a `key = value` line, as a byte range of the line.
fn key_of(line: &str) -> Option<Range<usize>> {
    let indent = line.len() - line.trim_start().len();
    let rest = &line[indent..];
    let len = rest.find(|c: char| !is_key_char(c)).unwrap_or(rest.len());
    if len == 0 || !rest[len..].trim_start().starts_with('=') {
        return None;
    }
    Some(indent..indent + len)
}

/// Key completion at `offset`: table headers at the top level or after `[`, setting keys (not
/// yet set in that table) inside `[defaults]` and `[[function]]`.
pub fn complete(text: &str, offset: usize) -> Vec<KeyItem> {
    let offset = floor_boundary(text, offset);
    let line = line_around(text, offset);
    let before = &text[line.start..offset];
    let typed = before.trim_start();
    let word_start = offset - typed.len();
    let after = &text[offset..line.end];
    let tables = |replace: Range<usize>| -> Vec<KeyItem> {
        TOP_LEVEL_KEYS
            .iter()
            .map(|(name, doc)| {
                let header = if *name == "function" {
                    format!("[[{name}]]")
                } else {
                    format!("[{name}]")
                };
                KeyItem {
                    label: header.clone(),
                    new_text: header,
                    doc: doc.to_string(),
                    kind: KeyKind::Table,
                    replace: replace.clone(),
                }
            })
            .collect()
    };
    if typed.starts_with('[') {
        let name = typed.trim_start_matches('[');
        if !name.chars().all(is_key_char) {
            return Vec::new();
        }
        let tail = after
            .find(|c: char| !(is_key_char(c) || c == ']'))
            .unwrap_or(after.len());
        return tables(word_start..offset + tail);
    }
    if !typed.chars().all(is_key_char) {
        return Vec::new();
    }
    let tail = after.find(|c: char| !is_key_char(c)).unwrap_or(after.len());
    let replace = word_start..offset + tail;
    let (table, set) = table_at(text, line.start);
    if table == Table::Root {
        return tables(replace);
    }
    table
        .keys()
        .into_iter()
        .filter(|(key, _)| !set.contains(*key))
        .map(|(key, doc)| KeyItem {
            label: key.to_string(),
            new_text: key.to_string(),
            doc,
            kind: KeyKind::Setting,
            replace: replace.clone(),
        })
        .collect()
}

/// The documentation of the key or table name under `offset`.
pub fn hover(text: &str, offset: usize) -> Option<KeyDoc> {
    let offset = floor_boundary(text, offset);
    let line = line_around(text, offset);
    let content = &text[line.clone()];
    let within = |r: &Range<usize>| (line.start + r.start..=line.start + r.end).contains(&offset);
    let (found, table) = if let Some((_, name)) = header(content) {
        (name, Table::Root)
    } else {
        (key_of(content)?, table_at(text, line.start).0)
    };
    if !within(&found) {
        return None;
    }
    let key = &content[found.clone()];
    let doc = table.keys().into_iter().find(|(k, _)| *k == key)?.1;
    Some(KeyDoc {
        key: key.to_string(),
        doc,
        span: line.start + found.start..line.start + found.end,
    })
}

fn floor_boundary(text: &str, offset: usize) -> usize {
    let mut offset = offset.min(text.len());
    while !text.is_char_boundary(offset) {
        offset -= 1;
    }
    offset
}

/// `a/./b/../c` → `a/c`, without touching the disk.
fn normalize(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for c in path.components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir => {
                out.pop();
            }
            other => out.push(other),
        }
    }
    out
}

/// The functions of `file` that `config` (the `lambda.toml` at `root`) names as targets.
/// Compares paths as written first, then as the disk resolves them (links).
pub fn configured_functions(config: &ProjectConfig, root: &Path, file: &Path) -> Vec<String> {
    let file_norm = normalize(file);
    let mut canonical_file = None;
    config
        .functions
        .iter()
        .filter_map(|entry| parse_target(&entry.target).ok())
        .filter(|(target_file, _)| {
            let joined = root.join(target_file);
            normalize(&joined) == file_norm || {
                let file_real =
                    canonical_file.get_or_insert_with(|| std::fs::canonicalize(file).ok());
                file_real.is_some() && std::fs::canonicalize(&joined).ok() == *file_real
            }
        })
        .map(|(_, function)| function)
        .collect()
}

/// The folder whose `lambda.toml` applies to `file`: the package root, as the deploy finds it
/// (a project marker on disk), or a closer folder where `lambda.toml` is open but not yet saved.
fn project_root(file: &Path, open_projects: &[PathBuf]) -> PathBuf {
    let on_disk = package_root(file);
    let dir = file.parent().unwrap_or(Path::new("."));
    dir.ancestors()
        .take_while(|d| *d != on_disk)
        .find(|d| open_projects.iter().any(|p| p.parent() == Some(*d)))
        .map_or(on_disk.clone(), Path::to_path_buf)
}

/// The functions of the Python file `path` that its project's `lambda.toml` configures: the
/// editor's text when that file is open, else the saved file. A file with problems still
/// configures the entries that parse.
pub async fn configured_in(shared: &SharedRef, path: &Path) -> Result<Vec<String>, Failure> {
    // The open project files with their text, so one blocking task finds, reads and parses:
    // this runs for every lens request, and each hop to the blocking pool is a thread wake-up.
    let open_projects: Vec<(PathBuf, String)> = shared.with(|st| {
        st.documents
            .values()
            .filter_map(|d| {
                let path = d.path.clone().filter(|p| is_project_file(p))?;
                Some((path, d.text().to_string()))
            })
            .collect()
    })?;
    let file = path.to_path_buf();
    tokio::task::spawn_blocking(move || {
        let open: Vec<PathBuf> = open_projects.iter().map(|(p, _)| p.clone()).collect();
        let root = project_root(&file, &open);
        let project = root.join(PROJECT_FILE);
        let text = match open_projects.into_iter().find(|(p, _)| *p == project) {
            Some((_, text)) => text,
            None => match std::fs::read_to_string(&project) {
                Ok(text) => text,
                Err(_) => return Vec::new(),
            },
        };
        let (config, _) = parse_project(&text);
        configured_functions(&config, &root, &file)
    })
    .await
    .map_err(|e| Failure::stopped("reading lambda.toml", &e))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `$0` marks the cursor.
    fn at(text: &str) -> (String, usize) {
        let offset = text.find("$0").expect("a $0 cursor");
        (text.replace("$0", ""), offset)
    }

    fn labels(text: &str) -> Vec<String> {
        let (text, offset) = at(text);
        complete(&text, offset)
            .into_iter()
            .map(|i| i.label)
            .collect()
    }

    #[test]
    fn completion_knows_the_table_it_is_in() {
        let settings: Vec<&str> = SETTINGS.iter().map(|s| s.key).collect();
        let cases: &[(&str, Vec<&str>)] = &[
            ("$0", vec!["[defaults]", "[[function]]"]),
            ("[def$0", vec!["[defaults]", "[[function]]"]),
            ("[defaults]\n$0\n", settings.clone()),
            (
                "[defaults]\nmemory = 1\nmem$0\ntimeout = 3\n",
                settings
                    .iter()
                    .copied()
                    .filter(|k| *k != "memory" && *k != "timeout")
                    .collect(),
            ),
            (
                "[defaults]\n[[function]]\nta$0",
                std::iter::once("target")
                    .chain(settings.iter().copied())
                    .collect(),
            ),
            ("[defaults]\nmemory = $0", vec![]),
            ("[defaults.env]\n$0", vec![]),
            // A header inside a multi-line string is text, not a table.
            (
                "[defaults]\ndescription = \"\"\"\n[x]\n\"\"\"\n$0",
                settings
                    .iter()
                    .copied()
                    .filter(|k| *k != "description")
                    .collect(),
            ),
        ];
        for (text, expected) in cases {
            assert_eq!(labels(text), *expected, "{text:?}");
        }
    }

    #[test]
    fn completion_replaces_the_word_under_the_cursor() {
        let (text, offset) = at("[defaults]\n  mem$0ry = 1\n");
        let items = complete(&text, offset);
        let memory = items.iter().find(|i| i.label == "memory").unwrap();
        assert_eq!(&text[memory.replace.clone()], "memry");
        let (text, offset) = at("[[fun$0]]\n");
        let items = complete(&text, offset);
        assert_eq!(&text[items[1].replace.clone()], "[[fun]]");
        assert_eq!(items[1].new_text, "[[function]]");
    }

    #[test]
    fn hover_documents_keys_and_tables() {
        let (text, offset) = at("[defaults]\nmem$0ory = 256\n");
        let doc = hover(&text, offset).unwrap();
        assert_eq!(doc.key, "memory");
        assert_eq!(&text[doc.span.clone()], "memory");
        assert!(doc.doc.contains("128–10240"));
        let (text, offset) = at("[[function]]\ntar$0get = \"a.py:f\"\n");
        assert_eq!(hover(&text, offset).unwrap().key, "target");
        let (text, offset) = at("[[func$0tion]]\n");
        assert!(hover(&text, offset).unwrap().doc.contains("[[function]]"));
        let (text, offset) = at("[defaults]\nmemory = 2$056\n");
        assert_eq!(hover(&text, offset), None);
        let (text, offset) = at("[defaults]\nbog$0us = 1\n");
        assert_eq!(hover(&text, offset), None);
    }

    #[test]
    fn targets_name_functions_of_a_file() {
        let (config, _) = parse_project(
            "[[function]]\ntarget = \"app/main.py:run\"\n[[function]]\ntarget = \"./app/../app/main.py:other\"\n[[function]]\ntarget = \"x.py:run\"\n",
        );
        let root = Path::new("/p");
        assert_eq!(
            configured_functions(&config, root, Path::new("/p/app/main.py")),
            vec!["run", "other"]
        );
        assert!(configured_functions(&config, root, Path::new("/p/y.py")).is_empty());
    }
}
