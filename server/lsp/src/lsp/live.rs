//! Live mode in the editor: while a function is live, a save of its file or of any file its
//! package holds redeploys it and re-invokes it with its event; the inline result and the error
//! mark follow by themselves. The loop is `crate::live_loop`; this is its editor side: the
//! `lambda.live` command, which functions are live, and what each round shows.
//!
//! Live mode deploys to the local Lambda. It deploys to an AWS profile only when the user turned
//! it on for that function and that profile (`"aws": true`, after the usual question); a live
//! function whose selection is another AWS profile is not deployed, and the log says why.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;
use std::time::SystemTime;

use lambda_deploy::analysis::FunctionKind;
use lambda_deploy::deploy::DeployAction;
use lambda_deploy::profiles::Selection;
use serde::Deserialize;
use serde_json::{json, Value};
use tokio::sync::mpsc;
use tokio::task::AbortHandle;

use super::commands::{self, Shown};
use super::confirm;
use super::failure::Failure;
use super::session::{Deployment, FunctionKey, Mark};
use super::state::SharedRef;
use crate::live_loop::{self, LiveError, LiveTarget};

pub const LIVE: &str = "lambda.live";

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct LiveArgs {
    uri: String,
    function: String,
    #[serde(default)]
    callable: bool,
    /// Off with `false`; on by default.
    on: Option<bool>,
    /// The event to run with; else the last invoke's, else `events/<function>.json`, else `{}`.
    payload: Option<Value>,
    event_file: Option<PathBuf>,
    /// Deploy live to the selected AWS profile too (asks first). Without it, live mode never
    /// deploys to AWS.
    #[serde(default)]
    aws: bool,
}

/// The live functions of a session.
#[derive(Default)]
pub struct Live {
    entries: Mutex<HashMap<FunctionKey, Entry>>,
    /// The `lambdaLs.liveByDefault` setting: the handlers of a saved file go live by themselves
    /// (on the local Lambda only).
    by_default: AtomicBool,
    /// Functions turned off by the user: the default does not turn them on again.
    off: Mutex<HashSet<FunctionKey>>,
}

struct Entry {
    changes: mpsc::UnboundedSender<PathBuf>,
    task: AbortHandle,
    /// The files of its package at the last round (absolute).
    files: BTreeSet<PathBuf>,
    /// The AWS profile it was turned on for, after the question; never any other.
    aws: Option<String>,
    /// The event it was turned on with.
    event: Option<Vec<u8>>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl Live {
    /// The live functions, for the lenses.
    pub fn keys(&self) -> HashSet<FunctionKey> {
        lock(&self.entries).keys().cloned().collect()
    }

    pub fn set_default(&self, on: bool) {
        self.by_default.store(on, Ordering::Relaxed);
    }

    /// Stops every loop (on shutdown).
    pub fn stop_all(&self) {
        for (_, e) in lock(&self.entries).drain() {
            e.task.abort();
        }
    }

    fn stop(&self, key: &FunctionKey) {
        if let Some(e) = lock(&self.entries).remove(key) {
            e.task.abort();
        }
    }
}

/// `lambda.live`: turns live mode on (a first round runs at once) or off.
pub async fn command(shared: &SharedRef, args: LiveArgs) -> Result<Value, Failure> {
    let path = convert_path(&args.uri)?;
    let key = FunctionKey {
        path,
        function: args.function.clone(),
    };
    if args.on == Some(false) {
        shared.live.stop(&key);
        lock(&shared.live.off).insert(key);
        shared.editor.refresh(true, false).await;
        return Ok(json!({"live": false, "function": args.function}));
    }
    let selection = commands::selection(shared).await?;
    let aws = match &selection {
        Selection::Local => None,
        Selection::Aws { profile } if !args.aws => {
            return Err(Failure::input(format!(
                "live mode deploys to AWS profile {profile} only when turned on for it explicitly: run lambda.live with \"aws\": true (it asks first), or select the local profile"
            )))
        }
        Selection::Aws { profile } => {
            confirm::confirm_deploy(shared, &selection, |_| {}).await?;
            Some(profile.clone())
        }
    };
    let event = match (args.payload, args.event_file) {
        (None, None) => None,
        (payload, file) => Some(commands::payload(payload, file, Some(&key)).await?),
    };
    let target = LiveTarget {
        path: key.path.clone(),
        function: key.function.clone(),
        callable: args.callable,
    };
    lock(&shared.live.off).remove(&key);
    start(shared, target, aws, event);
    shared.editor.refresh(true, false).await;
    Ok(json!({
        "live": true,
        "function": args.function,
        "profile": selection.profile_name(),
    }))
}

fn convert_path(uri: &str) -> Result<PathBuf, Failure> {
    super::convert::file_path(uri)
        .ok_or_else(|| Failure::input(format!("{uri} is not a file on disk; save it first")))
}

/// Starts (or restarts) the loop of a function and its first round.
fn start(shared: &SharedRef, target: LiveTarget, aws: Option<String>, event: Option<Vec<u8>>) {
    let key = FunctionKey {
        path: target.path.clone(),
        function: target.function.clone(),
    };
    let (changes, mut rx) = mpsc::unbounded_channel();
    let _ = changes.send(target.path.clone());
    let s = shared.clone();
    let task = tokio::spawn(async move {
        let name = target.function.clone();
        live_loop::drive(
            &mut rx,
            |batch| round(s.clone(), target.clone(), batch),
            || tracing::info!("live: a newer save superseded the round of {name}"),
        )
        .await
    });
    let entry = Entry {
        changes,
        task: task.abort_handle(),
        files: BTreeSet::new(),
        aws,
        event,
    };
    if let Some(old) = lock(&shared.live.entries).insert(key, entry) {
        old.task.abort();
    }
}

/// A file was saved: the live functions whose package holds it get a round; with the default
/// on, the file's handlers that are not live yet go live (their first round is this save's).
pub async fn saved(shared: &SharedRef, path: &Path) {
    for (key, e) in lock(&shared.live.entries).iter() {
        if live_loop::concerns(&e.files, &key.path, path) {
            let _ = e.changes.send(path.to_path_buf());
        }
    }
    if !shared.live.by_default.load(Ordering::Relaxed) {
        return;
    }
    let handlers = shared.with(|st| {
        st.document_at(path).map(|(_, d)| {
            d.functions()
                .iter()
                .filter(|f| f.kind == FunctionKind::Handler)
                .map(|f| f.name.clone())
                .collect::<Vec<_>>()
        })
    });
    let mut started = false;
    for function in handlers.ok().flatten().unwrap_or_default() {
        let key = FunctionKey {
            path: path.to_path_buf(),
            function,
        };
        let known =
            lock(&shared.live.entries).contains_key(&key) || lock(&shared.live.off).contains(&key);
        if !known {
            let target = LiveTarget {
                path: key.path,
                function: key.function,
                callable: false,
            };
            start(shared, target, None, None);
            started = true;
        }
    }
    if started {
        shared.editor.refresh(true, false).await;
    }
}

/// One round of a live function; what fails is shown and the loop goes on.
async fn round(shared: SharedRef, target: LiveTarget, batch: Vec<PathBuf>) {
    if let Err(f) = try_round(&shared, &target, batch).await {
        shared.editor.show(&f).await;
    }
}

async fn try_round(
    shared: &SharedRef,
    target: &LiveTarget,
    batch: Vec<PathBuf>,
) -> Result<(), Failure> {
    let key = FunctionKey {
        path: target.path.clone(),
        function: target.function.clone(),
    };
    let selection = commands::selection(shared).await?;
    let profile = selection.profile_name().to_string();
    let (aws, event) = {
        let entries = lock(&shared.live.entries);
        let Some(e) = entries.get(&key) else {
            return Ok(());
        };
        (e.aws.clone(), e.event.clone())
    };
    if let Selection::Aws { profile } = &selection {
        if aws.as_deref() != Some(profile.as_str()) {
            let sentence = format!(
                "live: {} was not deployed to AWS profile {profile}: live mode deploys to AWS only when turned on for that function and profile (lambda.live with \"aws\": true)",
                key.function
            );
            shared.editor.info(&sentence).await;
            return Ok(());
        }
    }
    match live_loop::check_syntax(batch).await {
        Err(LiveError::Syntax(e)) => return syntax_mark(shared, &key, &profile, e).await,
        other => other?,
    }
    let conn = live_loop::connection(commands::connect(shared, &selection).await?);
    let event = match event {
        Some(e) => e,
        None => last_event(shared, &key, &profile).await?,
    };
    let r = live_loop::round(&conn, target, event.clone()).await?;
    let name = r.deployed.outcome.function_name.clone();
    let deployment = Deployment {
        key: key.clone(),
        name: name.clone(),
        target: r.deployed.outcome.target.clone(),
        root: r.root.clone(),
        at: SystemTime::now(),
        url: r.deployed.outcome.url.clone(),
    };
    shared.with(|st| st.session.record_deploy(deployment))?;
    if let Some(e) = lock(&shared.live.entries).get_mut(&key) {
        e.files = r.files;
    }
    shared
        .editor
        .info(&format!(
            "live: {name} {} in {} ms (packaged in {} ms), invoked in {:.1} ms",
            match r.deployed.outcome.action {
                DeployAction::Unchanged => "unchanged",
                DeployAction::Created => "created",
                _ => "redeployed",
            },
            r.deploy_time.as_millis(),
            r.package_time.as_millis(),
            r.invoke_time.as_secs_f64() * 1000.0
        ))
        .await;
    let shown = Shown {
        profile: &profile,
        key: Some(key),
        root: Some(r.root),
        name: &name,
        event,
    };
    commands::show_outcome(shared, shown, &r.outcome).await
}

/// The event of the function's last invoke on this profile, else its events file, else `{}`.
async fn last_event(
    shared: &SharedRef,
    key: &FunctionKey,
    profile: &str,
) -> Result<Vec<u8>, Failure> {
    let last = shared.with(|st| st.session.invocation(key, profile).map(|i| i.event.clone()))?;
    match last {
        Some(event) => Ok(event),
        None => commands::payload(None, None, Some(key)).await,
    }
}

/// A saved file that does not parse: a mark on its line; the last result stays.
async fn syntax_mark(
    shared: &SharedRef,
    key: &FunctionKey,
    profile: &str,
    e: live_loop::SyntaxError,
) -> Result<(), Failure> {
    let mark = Mark {
        key: key.clone(),
        path: e.path.clone(),
        line: e.line,
        message: "SyntaxError: this file does not parse; live mode did not deploy it, the previous code keeps serving".to_string(),
        profile: profile.to_string(),
    };
    let touched = shared.with(|st| st.session.replace_marks(profile, Some(key), Some(mark)))?;
    shared.editor.info(&format!("live: {e}")).await;
    shared.publish_marks(&touched).await;
    Ok(())
}

impl From<LiveError> for Failure {
    fn from(e: LiveError) -> Self {
        match e {
            LiveError::Syntax(s) => Failure::input(s.to_string()),
            LiveError::Op(o) => o.into(),
        }
    }
}

/// The code action for the function under the cursor: live mode on (for the selected AWS
/// profile, naming it, when that is the selection) or off.
pub fn action(
    function: &lambda_deploy::analysis::PyFunction,
    uri: &str,
    live: bool,
    aws_profile: Option<&str>,
) -> super::features::Action {
    let mut argument = json!({"uri": uri, "function": function.name});
    if function.kind == FunctionKind::Callable {
        argument["callable"] = json!(true);
    }
    let title = match (live, aws_profile) {
        (true, _) => {
            argument["on"] = json!(false);
            "Turn live mode off".to_string()
        }
        (false, None) => "Turn live mode on (redeploy and invoke on save)".to_string(),
        (false, Some(p)) => {
            argument["aws"] = json!(true);
            format!("Turn live mode on for AWS profile {p} (asks first)")
        }
    };
    super::features::Action::Run(super::features::CommandCall {
        title,
        command: LIVE,
        argument,
    })
}
