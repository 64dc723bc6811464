//! Compiles the generated parser and upstream's external scanner (indentation, strings).

fn main() {
    let src = std::path::Path::new("grammar/src");
    let mut build = cc::Build::new();
    build
        .std("c11")
        .include(src)
        .flag_if_supported("-Wno-unused-value")
        .file(src.join("parser.c"))
        .file(src.join("scanner.c"));
    for file in ["parser.c", "scanner.c", "tree_sitter/parser.h"] {
        println!("cargo:rerun-if-changed={}", src.join(file).display());
    }
    build.compile("tree-sitter-python");
}
