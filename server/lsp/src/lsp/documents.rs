//! Open Python files: the editor's text, kept in a [`PythonDocument`] that reparses incrementally.
//!
//! Open files are never read from disk: the text is the editor's, edit by edit.

use std::path::{Path, PathBuf};

use lambda_deploy::analysis::{PyFunction, PythonDocument};

pub struct Document {
    /// The file on disk, when the URI is a `file:` URI.
    pub path: Option<PathBuf>,
    pub version: i32,
    /// Edited since it was opened or last saved: a deploy packages the saved file.
    pub dirty: bool,
    python: PythonDocument,
}

/// The lines one edit touched, for moving what is anchored to lines (error diagnostics).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LineEdit {
    pub start_line: usize,
    /// The last line of the replaced text, before the edit.
    pub old_end_line: usize,
    /// The last line of the inserted text, after the edit.
    pub new_end_line: usize,
}

impl Document {
    pub fn new(path: Option<PathBuf>, text: String, version: i32) -> Self {
        Document {
            path,
            version,
            dirty: false,
            python: PythonDocument::new(text),
        }
    }

    pub fn text(&self) -> &str {
        self.python.text()
    }

    /// Top-level functions; cheap (the module's direct children only).
    pub fn functions(&self) -> Vec<PyFunction> {
        self.python.functions()
    }

    pub fn function_named(&self, name: &str) -> Option<PyFunction> {
        self.functions().into_iter().find(|f| f.name == name)
    }

    /// Replaces `start..end` (byte offsets on char boundaries) and reparses incrementally.
    pub fn edit(&mut self, start: usize, end: usize, new_text: &str) -> LineEdit {
        let text = self.python.text();
        let start = start.min(text.len());
        let end = end.clamp(start, text.len());
        let start_line = line_of(text, start);
        let old_end_line = start_line + count_lines(&text[start..end]);
        self.python.edit(start, end, new_text);
        self.dirty = true;
        LineEdit {
            start_line,
            old_end_line,
            new_end_line: start_line + count_lines(new_text),
        }
    }

    pub fn is_python(path: Option<&Path>, language_id: &str) -> bool {
        language_id == "python" || path.is_some_and(|p| p.extension().is_some_and(|e| e == "py"))
    }
}

fn count_lines(text: &str) -> usize {
    text.bytes().filter(|&b| b == b'\n').count()
}

fn line_of(text: &str, byte: usize) -> usize {
    count_lines(&text[..byte])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn edits_report_the_lines_they_touch() {
        let mut d = Document::new(None, "a\nb\nc\n".into(), 1);
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
}
