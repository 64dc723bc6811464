//! `lambda-ls watch` end to end: the real binary on the local Lambda; an edit to the handler's
//! file and to a module it imports each print the new result, a file that does not parse is
//! reported and not deployed, and Ctrl-C stops it. Every wait is bounded.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use lambda_ls_tests::{hermetic, lambda_ls_bin, project};

const WAIT: Duration = Duration::from_secs(60);

/// The running command and its output lines (stdout and stderr, as they come).
struct Watch {
    child: Child,
    lines: mpsc::Receiver<String>,
    seen: Vec<String>,
    /// Lines an expectation matched.
    used: Vec<bool>,
}

impl Watch {
    fn start(dir: &std::path::Path, home: &std::path::Path, args: &[&str]) -> Watch {
        let mut child = hermetic(
            Command::new(lambda_ls_bin())
                .arg("watch")
                .args(args)
                .current_dir(dir),
            home,
        )
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start lambda-ls watch");
        let (tx, lines) = mpsc::channel();
        let out = child.stdout.take().unwrap();
        let err = child.stderr.take().unwrap();
        let tx2 = tx.clone();
        std::thread::spawn(move || {
            for l in BufReader::new(out).lines().map_while(Result::ok) {
                let _ = tx.send(l);
            }
        });
        std::thread::spawn(move || {
            for l in BufReader::new(err).lines().map_while(Result::ok) {
                let _ = tx2.send(l);
            }
        });
        Watch {
            child,
            lines,
            seen: Vec::new(),
            used: Vec::new(),
        }
    }

    /// Waits for a line containing `needle` that no earlier expectation took. Stdout (results)
    /// and stderr (log tails) arrive through two pipes, so their order is not guaranteed.
    fn expect(&mut self, needle: &str) {
        let deadline = Instant::now() + WAIT;
        let mut i = 0;
        loop {
            while i < self.seen.len() {
                if !self.used[i] && self.seen[i].contains(needle) {
                    self.used[i] = true;
                    return;
                }
                i += 1;
            }
            let Some(left) = deadline.checked_duration_since(Instant::now()) else {
                break;
            };
            match self.lines.recv_timeout(left) {
                Ok(line) => {
                    self.seen.push(line);
                    self.used.push(false);
                }
                Err(_) => break,
            }
        }
        let _ = self.child.kill();
        panic!(
            "no line with {needle:?} within {WAIT:?}; saw:\n{}",
            self.seen.join("\n")
        );
    }

    /// Ctrl-C, then the exit code (bounded).
    fn stop(mut self) -> i32 {
        // SAFETY: signals our own child, by its id, which it still is (not waited for yet).
        unsafe { libc::kill(self.child.id() as libc::pid_t, libc::SIGINT) };
        let deadline = Instant::now() + WAIT;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status.code().unwrap_or(-1);
            }
            if Instant::now() > deadline {
                let _ = self.child.kill();
                panic!("watch did not stop on Ctrl-C");
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

const APP: &str = "from helpers import greeting\n\n\ndef handler(event, context):\n    print('live log line')\n    return {\"v\": VERSION, \"says\": greeting(event[\"name\"])}\n";

#[test]
fn watch_prints_each_new_result_until_ctrl_c() {
    let home = tempfile::tempdir().unwrap();
    let dir = project(&[
        ("app.py", &APP.replace("VERSION", "1")),
        (
            "helpers.py",
            "def greeting(name):\n    return 'hello ' + name\n",
        ),
    ]);
    let mut watch = Watch::start(
        dir.path(),
        home.path(),
        &["app.py:handler", "--payload", r#"{"name": "watch"}"#],
    );
    watch.expect(r#""v": 1"#);
    watch.expect("live log line");

    std::fs::write(dir.path().join("app.py"), APP.replace("VERSION", "2")).unwrap();
    watch.expect(r#""v": 2"#);
    std::fs::write(
        dir.path().join("helpers.py"),
        "def greeting(name):\n    return 'hi ' + name\n",
    )
    .unwrap();
    watch.expect(r#""says": "hi watch""#);

    std::fs::write(
        dir.path().join("app.py"),
        "def handler(event, context):\n    return (\n",
    )
    .unwrap();
    watch.expect("syntax error; not deployed");
    std::fs::write(dir.path().join("app.py"), APP.replace("VERSION", "3")).unwrap();
    watch.expect(r#""v": 3"#);
    assert_eq!(watch.stop(), 0);
}

#[test]
fn watch_refuses_an_aws_profile_without_aws() {
    let home = tempfile::tempdir().unwrap();
    std::fs::write(
        home.path().join("config"),
        "[profile dev]\nregion = eu-west-1\naws_access_key_id = AKIDEXAMPLE\naws_secret_access_key = not-a-secret\n",
    )
    .unwrap();
    let dir = project(&[("app.py", &APP.replace("VERSION", "1"))]);
    let out = Command::new(lambda_ls_bin())
        .args(["watch", "app.py:handler", "--profile", "dev"])
        .current_dir(dir.path())
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", home.path())
        .env("AWS_CONFIG_FILE", home.path().join("config"))
        .env(
            "AWS_SHARED_CREDENTIALS_FILE",
            home.path().join("credentials"),
        )
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("LAMBDA_LS_LOCAL_DIR", home.path().join("local"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("to deploy them to AWS profile dev, add --aws"),
        "{err}"
    );
}
