//! The properties each fuzz target checks, shared with the regression test that replays crashes.

// Each fuzz target uses one of these; the regression test uses them all.
#![allow(dead_code)]

use lambda_deploy::analysis::{analyze, PythonDocument};
use lambda_deploy::profiles::{list_profiles, select_profile, ProfileEnv};
use lambda_deploy::project::parse_project;

/// Handler discovery on arbitrary text, whole and through incremental edits.
pub fn discovery(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let whole = analyze(text);
    // Rebuild the same text by edits: the incremental tree must agree with a fresh parse.
    let mid = (0..=text.len() / 2)
        .rev()
        .find(|i| text.is_char_boundary(*i))
        .unwrap_or(0);
    let mut doc = PythonDocument::new(text[..mid].to_string());
    doc.edit(mid, mid, &text[mid..]);
    assert_eq!(doc.analysis(), whole);
    // Cut a stretch out of the middle and put it back: the function list and line starts the
    // document keeps up to date must agree with a fresh parse after each edit.
    let boundary = |at: usize| {
        (0..=at)
            .rev()
            .find(|i| text.is_char_boundary(*i))
            .unwrap_or(0)
    };
    let (a, b) = (boundary(text.len() / 3), boundary(text.len() * 2 / 3));
    doc.edit(a, b, "");
    assert_eq!(doc.analysis(), analyze(doc.text()));
    assert_line_starts(&doc);
    doc.edit(a, a, &text[a..b]);
    assert_eq!(doc.analysis(), whole);
    assert_line_starts(&doc);
}

fn assert_line_starts(doc: &PythonDocument) {
    let text = doc.text();
    // Counted here, not with `analysis::line_starts`, which the document itself uses.
    let starts = std::iter::once(0).chain(text.match_indices('\n').map(|(i, _)| i + 1));
    for (line, start) in starts.enumerate() {
        assert_eq!(doc.line_start(line), Some(start), "line {line}");
    }
    assert_eq!(doc.line_start(text.matches('\n').count() + 1), None);
}

/// The import follower on an arbitrary entry module inside a small package tree.
pub fn imports(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let dir = tempfile::tempdir().expect("temp dir");
    let root = dir.path();
    std::fs::create_dir_all(root.join("pkg/sub")).unwrap();
    std::fs::write(root.join("pkg/__init__.py"), "from . import sub\n").unwrap();
    std::fs::write(
        root.join("pkg/sub/__init__.py"),
        "from ..pkg import x\nimport pkg.sub.mod\n",
    )
    .unwrap();
    std::fs::write(root.join("pkg/sub/mod.py"), "from ... import escape\n").unwrap();
    let entry = root.join("pkg/sub/entry.py");
    std::fs::write(&entry, text).unwrap();
    let files = lambda_deploy::package::follow_imports(root, &entry).expect("follows");
    assert!(
        files.iter().all(|f| f.starts_with(root)),
        "never leaves the root: {files:?}"
    );
}

/// The profile listing on arbitrary config and credentials files.
pub fn profiles(data: &[u8]) {
    let split = data.iter().position(|&b| b == 0xff).unwrap_or(data.len());
    let (config, credentials) = data.split_at(split);
    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::write(dir.path().join("config"), config).unwrap();
    std::fs::write(
        dir.path().join("credentials"),
        credentials.get(1..).unwrap_or_default(),
    )
    .unwrap();
    let cfg = dir.path().join("config");
    let cred = dir.path().join("credentials");
    let env = ProfileEnv::from_pairs([
        ("AWS_CONFIG_FILE", cfg.to_str().unwrap()),
        ("AWS_SHARED_CREDENTIALS_FILE", cred.to_str().unwrap()),
        ("HOME", dir.path().to_str().unwrap()),
    ]);
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    if let Ok(listing) = rt.block_on(list_profiles(&env)) {
        for p in &listing.profiles {
            let _ = select_profile(Some(&p.name), &ProfileEnv::default(), &listing);
        }
    }
}

/// The lambda.toml parser on arbitrary text: diagnostics must point inside the text.
pub fn project_toml(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let (_, diags) = parse_project(text);
    for d in diags {
        assert!(
            d.span.start <= d.span.end && d.span.end <= text.len(),
            "{d:?} in {} bytes",
            text.len()
        );
        let _ = d.line_col(text);
    }
}
