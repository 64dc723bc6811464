//! What this server learned while it ran: which function is deployed where and when, the last
//! result of each invoke, and the errors anchored to source lines, each kept per target (the
//! profile: its region is fixed for the server's lifetime). Memory only, per workspace.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use lambda_deploy::aws::TargetInfo;
use lambda_deploy::invoke::InvokeOutcome;

use super::documents::LineEdit;

/// A top-level function of a file.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct FunctionKey {
    pub path: PathBuf,
    pub function: String,
}

#[derive(Debug, Clone)]
pub struct Deployment {
    pub key: FunctionKey,
    /// The Lambda function name.
    pub name: String,
    pub target: TargetInfo,
    /// The package root, against which stack frames are matched.
    pub root: PathBuf,
    pub at: SystemTime,
    /// The function URL it had after this deploy, for "Open URL".
    pub url: Option<String>,
}

impl Deployment {
    /// `local` or `lambda/us-east-1`.
    pub fn target_label(&self) -> String {
        if self.target.local {
            "local".to_string()
        } else {
            format!("lambda/{}", self.target.region)
        }
    }
}

#[derive(Debug, Clone)]
pub struct Invocation {
    pub outcome: InvokeOutcome,
}

/// An invoke error shown on a line of a file until that function succeeds or the line is edited.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mark {
    /// The function that was invoked (its next success clears the mark).
    pub key: FunctionKey,
    /// The file and zero-based line the error points at.
    pub path: PathBuf,
    pub line: usize,
    pub message: String,
    /// The profile the invoke ran on: the mark shows only while it is selected.
    pub profile: String,
}

#[derive(Debug, Default)]
pub struct Session {
    deployments: Vec<Deployment>,
    /// By (profile, function).
    invocations: HashMap<(String, FunctionKey), Invocation>,
    marks: Vec<Mark>,
}

impl Session {
    /// Remembers a deploy, replacing the previous one of the same function to the same profile.
    pub fn record_deploy(&mut self, d: Deployment) {
        self.deployments
            .retain(|old| !(old.key == d.key && old.target.profile == d.target.profile));
        self.deployments.push(d);
    }

    /// The deploy of this function to exactly this profile.
    pub fn deployment_on(&self, key: &FunctionKey, profile: &str) -> Option<&Deployment> {
        self.deployments
            .iter()
            .find(|d| &d.key == key && d.target.profile == profile)
    }

    /// The deploy that created the Lambda function `name` on this profile.
    pub fn deployment_named(&self, name: &str, profile: &str) -> Option<&Deployment> {
        self.deployments
            .iter()
            .filter(|d| d.name == name && d.target.profile == profile)
            .max_by_key(|d| d.at)
    }

    pub fn forget_deployment(&mut self, name: &str, profile: &str) {
        self.deployments
            .retain(|d| !(d.name == name && d.target.profile == profile));
    }

    /// Remembers an invoke on `profile`; a success clears the function's marks there, a failure
    /// replaces them. Returns the files whose marks changed.
    pub fn record_invoke(
        &mut self,
        profile: &str,
        key: Option<FunctionKey>,
        invocation: Invocation,
        mark: Option<Mark>,
    ) -> Vec<PathBuf> {
        let mut touched = Vec::new();
        if let Some(key) = &key {
            self.marks.retain(|m| {
                let stale = &m.key == key && m.profile == profile;
                if stale && !touched.contains(&m.path) {
                    touched.push(m.path.clone());
                }
                !stale
            });
        }
        if let Some(mark) = mark {
            if !touched.contains(&mark.path) {
                touched.push(mark.path.clone());
            }
            self.marks.push(mark);
        }
        if let Some(key) = key {
            self.invocations
                .insert((profile.to_string(), key), invocation);
        }
        touched
    }

    pub fn invocation(&self, key: &FunctionKey, profile: &str) -> Option<&Invocation> {
        self.invocations.get(&(profile.to_string(), key.clone()))
    }

    /// The marks in a file from invokes on `profile`.
    pub fn marks_in<'a>(
        &'a self,
        path: &'a Path,
        profile: &'a str,
    ) -> impl Iterator<Item = &'a Mark> + 'a {
        self.marks
            .iter()
            .filter(move |m| m.path == path && m.profile == profile)
    }

    /// Every file with a mark on any profile (their diagnostics change with the profile).
    pub fn marked_files(&self) -> Vec<PathBuf> {
        let mut out: Vec<PathBuf> = self.marks.iter().map(|m| m.path.clone()).collect();
        out.sort();
        out.dedup();
        out
    }

    /// Drops the marks on lines an edit replaced and moves those below it. True if any changed.
    pub fn edit_marks(&mut self, path: &Path, edit: &LineEdit) -> bool {
        let before = self.marks.clone();
        self.marks
            .retain(|m| m.path != path || !(edit.start_line..=edit.old_end_line).contains(&m.line));
        for m in self.marks.iter_mut().filter(|m| m.path == path) {
            if m.line > edit.old_end_line {
                m.line = m.line + edit.new_end_line - edit.old_end_line;
            }
        }
        self.marks != before
    }
}

/// `just now`, `5 min ago`, `3 h ago`, `2 d ago`.
pub fn ago(at: SystemTime, now: SystemTime) -> String {
    let secs = now.duration_since(at).map(|d| d.as_secs()).unwrap_or(0);
    match secs {
        0..45 => "just now".to_string(),
        45..3_600 => format!("{} min ago", (secs + 30) / 60),
        3_600..86_400 => format!("{} h ago", secs / 3_600),
        _ => format!("{} d ago", secs / 86_400),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn key(f: &str) -> FunctionKey {
        FunctionKey {
            path: PathBuf::from("/p/h.py"),
            function: f.to_string(),
        }
    }

    fn mark(f: &str, line: usize) -> Mark {
        Mark {
            key: key(f),
            path: PathBuf::from("/p/h.py"),
            line,
            message: "E: x".into(),
            profile: "local".into(),
        }
    }

    #[test]
    fn marks_follow_edits_and_vanish_when_their_line_is_edited() {
        let mut s = Session {
            marks: vec![mark("a", 2), mark("b", 10)],
            ..Session::default()
        };
        let path = PathBuf::from("/p/h.py");
        // Two lines inserted at line 0: both move down.
        let insert = LineEdit {
            start_line: 0,
            old_end_line: 0,
            new_end_line: 2,
        };
        assert!(s.edit_marks(&path, &insert));
        let lines: Vec<_> = s.marks_in(&path, "local").map(|m| m.line).collect();
        assert_eq!(lines, vec![4, 12]);
        // Typing on line 4 removes that mark only.
        let typing = LineEdit {
            start_line: 4,
            old_end_line: 4,
            new_end_line: 4,
        };
        assert!(s.edit_marks(&path, &typing));
        let lines: Vec<_> = s.marks_in(&path, "local").map(|m| m.line).collect();
        assert_eq!(lines, vec![12]);
        // Deleting lines 5..=7 moves it up by three.
        let delete = LineEdit {
            start_line: 5,
            old_end_line: 8,
            new_end_line: 5,
        };
        assert!(s.edit_marks(&path, &delete));
        assert_eq!(s.marks_in(&path, "local").next().unwrap().line, 9);
    }

    #[test]
    fn invokes_and_marks_belong_to_their_profile() {
        let mut s = Session::default();
        let path = PathBuf::from("/p/h.py");
        let outcome = InvokeOutcome {
            function: "f".into(),
            status_code: 200,
            function_error: None,
            payload: serde_json::Value::Null,
            payload_text: None,
            error: None,
            log_tail: None,
            duration_ms: 1.0,
            executed_version: None,
        };
        let failed = |profile: &str| Mark {
            profile: profile.into(),
            ..mark("a", 3)
        };
        let inv = || Invocation {
            outcome: outcome.clone(),
        };
        s.record_invoke("local", Some(key("a")), inv(), Some(failed("local")));
        assert!(s.invocation(&key("a"), "local").is_some());
        assert!(s.invocation(&key("a"), "dev").is_none());
        assert_eq!(s.marks_in(&path, "dev").count(), 0);
        // A success on dev leaves local's mark alone.
        s.record_invoke("dev", Some(key("a")), inv(), None);
        assert_eq!(s.marks_in(&path, "local").count(), 1);
        assert_eq!(s.marked_files(), vec![path.clone()]);
        s.record_invoke("local", Some(key("a")), inv(), None);
        assert_eq!(s.marks_in(&path, "local").count(), 0);
    }

    #[test]
    fn relative_times() {
        let t = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000);
        let at = |s| t - Duration::from_secs(s);
        assert_eq!(ago(at(3), t), "just now");
        assert_eq!(ago(at(120), t), "2 min ago");
        assert_eq!(ago(at(7_300), t), "2 h ago");
        assert_eq!(ago(at(200_000), t), "2 d ago");
    }
}
