//! The Python grammar lambda-ls parses with: tree-sitter-python 0.25.0 minus `reserved` (README.md).

// Short functions (clippy.toml) are a rule for the product; a test may read long.
#![cfg_attr(test, allow(clippy::too_many_lines))]

use tree_sitter_language::LanguageFn;

extern "C" {
    fn tree_sitter_python() -> *const ();
}

/// The tree-sitter language of this grammar.
// SAFETY: `tree_sitter_python` is the generated parser's constructor, compiled by build.rs.
pub const LANGUAGE: LanguageFn = unsafe { LanguageFn::from_raw(tree_sitter_python) };

#[cfg(test)]
mod tests {
    use tree_sitter::{InputEdit, Parser, Point};

    fn parser() -> Parser {
        let mut parser = Parser::new();
        parser
            .set_language(&super::LANGUAGE.into())
            .expect("the grammar matches the tree-sitter version");
        parser
    }

    /// What 0.25.0 added over 0.23 still parses: t-strings and unparenthesized `except A, B`.
    #[test]
    fn parses_python_3_14() {
        let src = "def f(event, context):\n    name = 'x'\n    g = t\"hi {name}\"\n    try:\n        pass\n    except ValueError, TypeError:\n        pass\n    return g\n";
        let tree = parser().parse(src, None).unwrap();
        assert!(
            !tree.root_node().has_error(),
            "{}",
            tree.root_node().to_sexp()
        );
    }

    /// The reason this crate exists: after an edit inside one function, the other top-level
    /// functions are reused as they are. With upstream's `reserved` block none was.
    #[test]
    fn an_edit_in_one_function_reuses_the_others() {
        let src: String = (0..50)
            .map(|i| format!("def f{i}(event, context):\n    x = {i}\n    return x\n\n"))
            .collect();
        let mut parser = parser();
        let mut tree = parser.parse(&src, None).unwrap();
        let ids = |t: &tree_sitter::Tree| -> Vec<usize> {
            let root = t.root_node();
            (0..root.named_child_count())
                .map(|i| root.named_child(i).unwrap().child(4).unwrap().id())
                .collect()
        };
        let before = ids(&tree);
        let at = src.find("x = 25").unwrap() + 4;
        let row = src[..at].matches('\n').count();
        let column = at - src[..at].rfind('\n').unwrap() - 1;
        let mut edited = src.clone();
        edited.replace_range(at..at + 1, "7");
        tree.edit(&InputEdit {
            start_byte: at,
            old_end_byte: at + 1,
            new_end_byte: at + 1,
            start_position: Point { row, column },
            old_end_position: Point {
                row,
                column: column + 1,
            },
            new_end_position: Point {
                row,
                column: column + 1,
            },
        });
        let after = ids(&parser.parse(&edited, Some(&tree)).unwrap());
        let reused = before.iter().zip(&after).filter(|(a, b)| a == b).count();
        assert!(reused >= 45, "only {reused} of 50 function bodies reused");
    }
}
