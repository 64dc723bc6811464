//! The commands behind "Invoke with Event…" without a saved event (the sample events catalog,
//! and a template written as a new event file) and "Open Deployed Function…" (pull).

use std::path::{Path, PathBuf};

use lambda_deploy::analysis;
use lambda_deploy::events;
use lambda_deploy::pull::PullRequest;
use serde::Deserialize;
use serde_json::{json, Value};

use super::commands::{blocking, connect, path_of, selection, to_json};
use super::failure::Failure;
use super::state::SharedRef;

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct EventsArgs {
    uri: Option<String>,
    function: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CreateEventArgs {
    uri: String,
    function: String,
    trigger: String,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PullArgs {
    name: String,
    /// A new or empty folder.
    dir: PathBuf,
}

/// The `event` annotation of `function` in `path`, from the open document or else the file.
async fn event_annotation(
    shared: &SharedRef,
    path: &Path,
    function: &str,
) -> Result<Option<String>, Failure> {
    let open = shared.with(|st| {
        st.document_at(path).map(|(_, d)| {
            d.function_named(function)
                .and_then(|f| f.event_type.clone())
        })
    })?;
    if let Some(annotation) = open {
        return Ok(annotation);
    }
    let text = tokio::fs::read_to_string(path).await.unwrap_or_default();
    Ok(analysis::analyze(&text)
        .functions
        .into_iter()
        .find(|f| f.name == function)
        .and_then(|f| f.event_type))
}

/// `lambda.listEvents`: the catalog, the trigger the function's `event` annotation names first.
pub async fn list_events(shared: &SharedRef, args: EventsArgs) -> Result<Value, Failure> {
    let annotation = match (&args.uri, &args.function) {
        (Some(uri), Some(function)) => event_annotation(shared, &path_of(uri)?, function).await?,
        _ => None,
    };
    let matching = annotation.as_deref().and_then(events::for_type);
    let triggers: Vec<Value> = events::ordered(annotation.as_deref())
        .into_iter()
        .map(|t| json!({"name": t.name, "title": t.title, "annotated": Some(t) == matching}))
        .collect();
    Ok(json!({ "triggers": triggers }))
}

/// `events/<function>.json`, or `events/<function>-<trigger>.json` when that one exists: a
/// template never replaces a saved event.
fn new_event_path(source: &Path, function: &str, trigger: &str) -> Result<PathBuf, Failure> {
    let plain = lambda_ops::event::events_file(source, function);
    let variant = plain.with_file_name(format!("{function}-{trigger}.json"));
    [plain, variant]
        .into_iter()
        .find(|p| !p.exists())
        .ok_or_else(|| {
            Failure::input(format!(
                "events/{function}.json and events/{function}-{trigger}.json exist already; pick one of them"
            ))
        })
}

/// `lambda.createEvent`: writes the trigger's template as a new event file and opens it.
pub async fn create_event(shared: &SharedRef, args: CreateEventArgs) -> Result<Value, Failure> {
    let trigger = events::find(&args.trigger).ok_or_else(|| {
        let names: Vec<&str> = events::CATALOG.iter().map(|t| t.name).collect();
        Failure::input(format!(
            "there is no sample event for `{}`; the triggers are {}",
            args.trigger,
            names.join(", ")
        ))
    })?;
    let source = path_of(&args.uri)?;
    let (function, template) = (args.function.clone(), trigger.template);
    let path = blocking("writing the sample event", move || {
        let path = new_event_path(&source, &function, trigger.name)?;
        write_new(&path, template)?;
        Ok::<_, Failure>(path)
    })
    .await??;
    shared.editor.show_document(&path).await;
    Ok(json!({"path": path, "trigger": trigger.name}))
}

fn write_new(path: &Path, text: &str) -> Result<(), Failure> {
    use std::io::Write;
    let cannot =
        |e: std::io::Error| Failure::input(format!("cannot write {}: {e}", path.display()));
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(cannot)?;
    }
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path)
        .map_err(cannot)?;
    file.write_all(text.trim_end().as_bytes())
        .and_then(|()| file.write_all(b"\n"))
        .map_err(cannot)
}

/// `lambda.pull`: the function's code and a `lambda.toml` in `dir` (new or empty), from the
/// selected target; opens the handler's file.
pub async fn pull_function(shared: &SharedRef, args: PullArgs) -> Result<Value, Failure> {
    let selection = selection(shared).await?;
    let conn = connect(shared, &selection).await?;
    let req = PullRequest {
        function: args.name,
        dir: args.dir,
        with_env: false,
    };
    let pulled = lambda_ops::manage::pull(&conn, &req).await?;
    let file = pulled
        .target
        .split_once(':')
        .map(|(file, _)| pulled.dir.join(file));
    if let Some(file) = &file {
        shared.editor.show_document(file).await;
    }
    let mut out = to_json(&pulled);
    out["file"] = json!(file);
    out["from"] = json!(conn.info);
    Ok(out)
}
