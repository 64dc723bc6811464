//! Sample events: the one rule for where a function's event file lives, and `event`, which
//! prints or writes a trigger's sample.

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
