//! The local Lambda's interpreter choice, and compiled wheels from PyPI (numpy, pydantic-core)
//! built for the runtime's Python running on another one through the CLI.

use std::path::PathBuf;
use std::process::Command;

use lambda_ls_tests::{project, run_with, stderr, stdout_json};

/// The real path and `X.Y` version of the machine's `python3`.
fn machine_python() -> (PathBuf, String) {
    let out = Command::new("python3")
        .args([
            "-c",
            "import sys; print(sys.executable); print('%d.%d' % sys.version_info[:2])",
        ])
        .output()
        .expect("python3 runs");
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    let mut lines = text.lines();
    let exe = PathBuf::from(lines.next().unwrap());
    (exe, lines.next().unwrap().to_string())
}

#[test]
fn compiled_wheels_built_for_another_python_are_reinstalled_and_import() {
    let (python3, minor) = machine_python();
    // A runtime whose version the forced interpreter is not: its layer holds cp312 wheels
    // (or cp311 ones when python3 is 3.12), which python3 cannot load as they are.
    let runtime = if minor == "3.12" {
        "python3.11"
    } else {
        "python3.12"
    };
    let ours = format!("cp{}", minor.replace('.', ""));
    let home = tempfile::tempdir().unwrap();
    let proj = project(&[
        ("requirements.txt", "numpy==2.2.6\npydantic==2.11.7\n"),
        (
            "np_app.py",
            "import sys\nimport numpy\nimport pydantic\n\n\
             class Point(pydantic.BaseModel):\n    x: int\n    y: int\n\n\
             def handler(event, context):\n\
             \x20   p = Point.model_validate({'x': '3', 'y': 4})\n\
             \x20   return {'numpy': numpy.__version__, 'dot': int(numpy.dot([1, 2, 3], [4, 5, 6])),\n\
             \x20           'point': p.model_dump(), 'python': '%d.%d' % sys.version_info[:2]}\n",
        ),
    ]);
    let target = format!("{}:handler", proj.path().join("np_app.py").display());
    let cache = home.path().join("cache");
    let env = [
        ("LAMBDA_LS_PYTHON", python3.to_str().unwrap()),
        ("LAMBDA_LS_CACHE_DIR", cache.to_str().unwrap()),
    ];
    let deploy = |extra: &[&str]| {
        let mut args = vec![
            "deploy",
            &target,
            "--name",
            "np-fn",
            "--runtime",
            runtime,
            "--invoke",
            "{}",
            "--json",
        ];
        args.extend_from_slice(extra);
        run_with(home.path(), None, &args, &env)
    };
    let out = deploy(&[]);
    assert!(out.status.success(), "{}", stderr(&out));
    let v = stdout_json(&out);
    assert_eq!(
        v["invoke"]["payload"],
        serde_json::json!({"numpy": "2.2.6", "dot": 32, "point": {"x": 3, "y": 4}, "python": minor}),
        "{v:#}"
    );
    // The deploy says how the function runs here, and the function's log says it at init.
    let run = &v["local_run"];
    assert_eq!(run["interpreter"], python3.to_str().unwrap(), "{run}");
    let rebuilt_for = run["rebuilt_for"].as_str().unwrap_or_default();
    assert!(rebuilt_for.starts_with(&format!("{ours} ")), "{run}");
    let rebuilt: Vec<&str> = run["rebuilt"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|p| p.as_str())
        .collect();
    assert!(rebuilt.contains(&"numpy 2.2.6"), "{rebuilt:?}");
    assert!(
        rebuilt.iter().any(|p| p.starts_with("pydantic")),
        "{rebuilt:?}"
    );
    let tail = v["invoke"]["log_tail"].as_str().unwrap_or_default();
    assert!(
        tail.contains(&format!("lambda-ls: runs locally on Python {minor}")),
        "{tail}"
    );
    assert!(
        tail.contains(&format!("requirements rebuilt for {ours}")),
        "{tail}"
    );

    // One build per content hash: a new server on the same data directory reuses it.
    let deps = home.path().join("local").join("deps");
    let builds = || -> Vec<PathBuf> {
        std::fs::read_dir(&deps)
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect()
    };
    let first = builds();
    assert_eq!(first.len(), 1, "{first:?}");
    let stamp = std::fs::metadata(&first[0]).unwrap().modified().unwrap();
    let out = deploy(&[]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stdout_json(&out)["invoke"]["payload"]["numpy"], "2.2.6");
    assert_eq!(builds(), first);
    assert_eq!(
        std::fs::metadata(&first[0]).unwrap().modified().unwrap(),
        stamp
    );
}

#[test]
fn lambda_ls_python_chooses_the_interpreter() {
    let home = tempfile::tempdir().unwrap();
    let venv = home.path().join("venv");
    let made = Command::new("python3")
        .args(["-m", "venv", "--without-pip"])
        .arg(&venv)
        .status()
        .expect("python3 -m venv");
    assert!(made.success());
    let python = venv.join("bin").join("python");
    let proj = project(&[(
        "where.py",
        "import sys\n\ndef handler(event, context):\n    return {'prefix': sys.prefix}\n",
    )]);
    let target = format!("{}:handler", proj.path().join("where.py").display());
    let out = run_with(
        home.path(),
        None,
        &[
            "deploy", &target, "--name", "where", "--invoke", "{}", "--json",
        ],
        &[("LAMBDA_LS_PYTHON", python.to_str().unwrap())],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let v = stdout_json(&out);
    assert_eq!(
        v["invoke"]["payload"]["prefix"],
        venv.to_str().unwrap(),
        "{v:#}"
    );
    let interpreter = v["local_run"]["interpreter"].as_str().unwrap_or_default();
    assert!(interpreter.starts_with(venv.to_str().unwrap()), "{v:#}");
    assert_eq!(v["local_run"]["rebuilt_for"], serde_json::Value::Null);
}
