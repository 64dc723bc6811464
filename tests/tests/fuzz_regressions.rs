//! Replays every input the fuzzers ever crashed on (fuzz/regressions/<target>/) through the same
//! checks the fuzz targets run, so a fixed crash stays fixed.

#[path = "../../fuzz/checks.rs"]
mod checks;

/// One fuzz target's check: panics on an input it does not survive.
type Check = fn(&[u8]);

#[test]
fn every_kept_crash_input_passes_its_check() {
    let root = lambda_ls_tests::repo_root().join("fuzz/regressions");
    let targets: [(&str, Check); 4] = [
        ("discovery", checks::discovery),
        ("imports", checks::imports),
        ("profiles", checks::profiles),
        ("project_toml", checks::project_toml),
    ];
    let mut replayed = 0;
    for (name, check) in targets {
        let dir = root.join(name);
        assert!(dir.is_dir(), "{} is missing", dir.display());
        for entry in std::fs::read_dir(&dir).unwrap().filter_map(Result::ok) {
            if entry.file_name().to_string_lossy().starts_with('.') {
                continue;
            }
            check(&std::fs::read(entry.path()).unwrap());
            replayed += 1;
        }
    }
    // Also a few hand-made edge inputs, so the checks themselves are exercised every run.
    for data in [
        &b""[..],
        b"def (",
        b"\xff\xfe",
        b"[profile a]\nsource_profile=a\n",
        b"[[function]]\ntarget=1",
    ] {
        checks::discovery(data);
        checks::profiles(data);
        checks::project_toml(data);
    }
    checks::imports(b"from . import sub\nfrom ....... import x\nimport pkg.sub.mod as m\n");
    eprintln!("replayed {replayed} kept crash inputs");
}
