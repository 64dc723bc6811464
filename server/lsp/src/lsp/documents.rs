//! Open files: Python files, kept in a [`PythonDocument`] that reparses incrementally, and
//! `lambda.toml` project files, kept as text.
//!
//! Open files are never read from disk: the text is the editor's, edit by edit.

use std::path::{Path, PathBuf};

pub use lambda_deploy::analysis::LineEdit;
use lambda_deploy::analysis::{line_starts, PyFunction, PythonDocument};

pub struct Document {
    /// The file on disk, when the URI is a `file:` URI.
    pub path: Option<PathBuf>,
    pub version: i32,
    /// Edited since it was opened or last saved: a deploy packages the saved file.
    pub dirty: bool,
    content: Content,
}

/// What kind of file a document is, by what it holds.
enum Content {
    Python(PythonDocument),
    /// `lambda.toml`: parsed on demand (it is small).
    Project(String),
}

/// The kinds of files the server follows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Python,
    Project,
}

impl Document {
    pub fn new(kind: Kind, path: Option<PathBuf>, text: String, version: i32) -> Self {
        let content = match kind {
            Kind::Python => Content::Python(PythonDocument::new(text)),
            Kind::Project => Content::Project(text),
        };
        Document {
            path,
            version,
            dirty: false,
            content,
        }
    }

    pub fn kind(&self) -> Kind {
        match self.content {
            Content::Python(_) => Kind::Python,
            Content::Project(_) => Kind::Project,
        }
    }

    pub fn text(&self) -> &str {
        match &self.content {
            Content::Python(p) => p.text(),
            Content::Project(t) => t,
        }
    }

    /// Top-level functions (none outside Python), kept up to date by every edit.
    pub fn functions(&self) -> &[PyFunction] {
        match &self.content {
            Content::Python(p) => p.functions(),
            Content::Project(_) => &[],
        }
    }

    pub fn function_named(&self, name: &str) -> Option<&PyFunction> {
        self.functions().iter().find(|f| f.name == name)
    }

    /// The byte offset where a (zero-based) line starts, if the text has that line: from the
    /// line index of a Python file, by scanning a (small) project file.
    pub fn line_start(&self, line: usize) -> Option<usize> {
        match &self.content {
            Content::Python(p) => p.line_start(line),
            Content::Project(t) => line_starts(t).nth(line),
        }
    }

    /// Replaces `start..end` (byte offsets on char boundaries) and reparses incrementally.
    pub fn edit(&mut self, start: usize, end: usize, new_text: &str) -> LineEdit {
        self.dirty = true;
        match &mut self.content {
            Content::Python(p) => p.edit(start, end, new_text),
            Content::Project(t) => {
                let start = start.min(t.len());
                let end = end.clamp(start, t.len());
                let start_line = count_lines(&t[..start]);
                let old_end_line = start_line + count_lines(&t[start..end]);
                t.replace_range(start..end, new_text);
                LineEdit {
                    start_line,
                    old_end_line,
                    new_end_line: start_line + count_lines(new_text),
                }
            }
        }
    }

    /// The kind of file the editor opened, if the server follows it: Python by language or
    /// extension; `lambda.toml` by name (whatever language the editor gives it).
    pub fn kind_of(path: Option<&Path>, language_id: &str) -> Option<Kind> {
        if path.is_some_and(super::project_file::is_project_file) {
            Some(Kind::Project)
        } else if language_id == "python"
            || path.is_some_and(|p| p.extension().is_some_and(|e| e == "py"))
        {
            Some(Kind::Python)
        } else {
            None
        }
    }
}

fn count_lines(text: &str) -> usize {
    text.bytes().filter(|&b| b == b'\n').count()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn edits_report_the_lines_they_touch() {
        let mut d = Document::new(Kind::Python, None, "a\nb\nc\n".into(), 1);
        // Replace "b\nc" (lines 1..=2) with one line.
        let e = d.edit(2, 5, "x");
        assert_eq!(
            e,
            LineEdit {
                start_line: 1,
                old_end_line: 2,
                new_end_line: 1
            }
        );
        assert_eq!(d.text(), "a\nx\n");
        assert!(d.dirty);
        let e = d.edit(0, 0, "new\nlines\n");
        assert_eq!((e.start_line, e.old_end_line, e.new_end_line), (0, 0, 2));
    }

    #[test]
    fn project_files_are_followed_by_name() {
        let toml = Path::new("/p/lambda.toml");
        assert_eq!(Document::kind_of(Some(toml), "toml"), Some(Kind::Project));
        assert_eq!(
            Document::kind_of(Some(toml), "plaintext"),
            Some(Kind::Project)
        );
        assert_eq!(
            Document::kind_of(Some(Path::new("/p/a.py")), ""),
            Some(Kind::Python)
        );
        assert_eq!(
            Document::kind_of(Some(Path::new("/p/other.toml")), "toml"),
            None
        );
        let mut d = Document::new(
            Kind::Project,
            Some(toml.into()),
            "[defaults]\né = 1\n".into(),
            1,
        );
        d.edit(11, 13, "memory");
        assert_eq!(d.text(), "[defaults]\nmemory = 1\n");
        assert!(d.functions().is_empty());
    }
}
