//! Sample events: the one rule for where a function's saved events live (the server applies it,
//! and editors ask the server through `lambda.eventFiles`), and `event`, which prints or writes a
//! trigger's sample.

use std::path::{Path, PathBuf};

use lambda_deploy::events::{self, Trigger};

use crate::OpError;

/// `events/<function>.json` beside the package root (the folder with `lambda.toml`, else the
/// handler's folder): where a function's sample event lives, for the CLI, the server and the
/// editor alike.
pub fn events_file(handler_file: &Path, function: &str) -> PathBuf {
    lambda_deploy::package::package_root(handler_file)
        .join("events")
        .join(format!("{function}.json"))
}

/// A function's saved events, nearest first: the `events/` folder of the handler's folder and of
/// each folder above it up to the package root; in each, `<function>.json` first, then its
/// variants (`<function>-…`, `<function>_…`, `<function>.….json`) in name order.
pub fn saved_events(handler_file: &Path, function: &str) -> Vec<PathBuf> {
    let root = lambda_deploy::package::package_root(handler_file);
    let start = handler_file.parent().unwrap_or(Path::new("."));
    let mut out = Vec::new();
    for dir in start.ancestors() {
        let events = dir.join("events");
        if let Ok(entries) = std::fs::read_dir(&events) {
            let mut names: Vec<String> = entries
                .filter_map(Result::ok)
                .filter_map(|e| e.file_name().into_string().ok())
                .filter(|n| is_event_file_for(n, function))
                .collect();
            let exact = format!("{function}.json");
            names.sort_by_key(|n| (*n != exact, n.clone()));
            out.extend(names.into_iter().map(|n| events.join(n)));
        }
        if dir == root || !dir.starts_with(&root) {
            break;
        }
    }
    out
}

/// `handler.json`, `handler-big.json`, `handler_v2.json`, `handler.s3.json` for `handler`.
pub fn is_event_file_for(name: &str, function: &str) -> bool {
    let Some(rest) = name.strip_prefix(function) else {
        return false;
    };
    name.to_ascii_lowercase().ends_with(".json")
        && (rest.eq_ignore_ascii_case(".json") || rest.starts_with(['-', '_', '.']))
}

/// The trigger a sample event is asked for by name.
pub fn trigger(name: &str) -> Result<&'static Trigger, OpError> {
    events::find(name).ok_or_else(|| {
        OpError::Usage(format!(
            "there is no sample event for `{name}`; `lambda-ls event --list` shows the triggers"
        ))
    })
}

/// Writes a trigger's sample to a new file (its folder created), never over an existing one.
pub fn write_sample(trigger: &Trigger, out: &Path) -> Result<(), OpError> {
    if out.exists() {
        return Err(OpError::Usage(format!(
            "{} already exists; remove it or choose another --out",
            out.display()
        )));
    }
    if let Some(dir) = out.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)
            .map_err(|e| OpError::Usage(format!("cannot create {}: {e}", dir.display())))?;
    }
    crate::deploy::write_file(out, trigger.template.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn saved_events_are_found_nearest_first_up_to_the_package_root() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("proj");
        let files = [
            "lambda.toml",
            "events/handler.json",
            "events/handler-big.json",
            "events/other.json",
            "app/events/handler_v2.json",
            "app/events/handlers.json",
            "app/main.py",
        ];
        for f in files {
            let p = root.join(f);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(p, "{}").unwrap();
        }
        // Above the package root: not the project's.
        std::fs::create_dir_all(dir.path().join("events")).unwrap();
        std::fs::write(dir.path().join("events/handler.json"), "{}").unwrap();
        let found = saved_events(&root.join("app/main.py"), "handler");
        let rel: Vec<_> = found
            .iter()
            .map(|p| p.strip_prefix(&root).unwrap())
            .collect();
        assert_eq!(
            rel,
            [
                Path::new("app/events/handler_v2.json"),
                Path::new("events/handler.json"),
                Path::new("events/handler-big.json"),
            ]
        );
        assert_eq!(
            events_file(&root.join("app/main.py"), "handler"),
            root.join("events/handler.json")
        );
    }
}
