//! The invariants ARCHITECTURE.md states about the crates' shape, checked from the manifests and
//! the sources: the dependency directions, where LSP types may appear, and that the operation
//! layer is the front ends' only way to the deploy pipeline.

use std::collections::BTreeSet;
use std::path::Path;

use lambda_ls_tests::repo_root;

/// The names under `[dependencies]` of a crate's Cargo.toml (not dev-dependencies).
fn dependencies(krate: &str) -> BTreeSet<String> {
    let manifest = std::fs::read_to_string(repo_root().join(krate).join("Cargo.toml")).unwrap();
    let mut in_deps = false;
    let mut out = BTreeSet::new();
    for line in manifest.lines().map(str::trim) {
        if line.starts_with('[') {
            in_deps = line == "[dependencies]";
            continue;
        }
        if !in_deps || line.is_empty() || line.starts_with('#') {
            continue;
        }
        let name = line.split(['.', '=', ' ']).next().unwrap_or_default();
        out.insert(name.to_string());
    }
    out
}

fn assert_none_of(krate: &str, forbidden: &[&str]) {
    let deps = dependencies(krate);
    for f in forbidden {
        assert!(
            !deps.contains(*f),
            "{krate} must not depend on {f}: {deps:?}"
        );
    }
}

#[test]
fn dependencies_flow_one_way() {
    assert_none_of(
        "server/deploy",
        &[
            "lambda-local",
            "lambda-ops",
            "lambda-ls",
            "tower-lsp-server",
            "clap",
        ],
    );
    assert_none_of(
        "server/local",
        &[
            "lambda-deploy",
            "lambda-ops",
            "lambda-ls",
            "aws-sdk-lambda",
            "aws-config",
        ],
    );
    assert_none_of(
        "server/ops",
        &["lambda-ls", "tower-lsp-server", "clap", "indicatif"],
    );
    assert!(
        dependencies("server/facts").is_empty(),
        "lambda-facts is a leaf"
    );
    let ops = dependencies("server/ops");
    assert!(ops.contains("lambda-deploy") && ops.contains("lambda-local"));
    assert!(dependencies("server/lsp").contains("lambda-ops"));
}

/// Every `.rs` file under `dir`, recursively.
fn sources(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap().filter_map(Result::ok) {
        let path = entry.path();
        if path.is_dir() {
            sources(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

#[test]
fn only_the_language_server_module_knows_lsp_types_and_front_ends_deploy_through_the_ops_layer() {
    let root = repo_root();
    let mut files = Vec::new();
    sources(&root.join("server"), &mut files);
    for file in &files {
        let text = std::fs::read_to_string(file).unwrap();
        let rel = file.strip_prefix(&root).unwrap();
        let in_lsp_module = rel.starts_with("server/lsp/src/lsp");
        if !in_lsp_module {
            assert!(
                !text.contains("ls_types") && !text.contains("tower_lsp_server"),
                "{} names LSP types outside server/lsp/src/lsp",
                rel.display()
            );
        }
        if rel.starts_with("server/lsp") {
            // The front ends reach the upsert only through lambda_ops::deploy::run.
            assert!(
                !text.contains("deploy::deploy(") && !text.contains("build_bundle("),
                "{} deploys around the operation layer",
                rel.display()
            );
        }
    }
}
