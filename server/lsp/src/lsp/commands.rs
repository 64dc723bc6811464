//! `workspace/executeCommand`: the command ids, their arguments, and what each one does.
//! `COMMANDS.md` beside this crate documents the same for client authors.

use std::path::PathBuf;

use lambda_deploy::analysis;
use lambda_deploy::aws::TargetInfo;
use lambda_deploy::invoke::{FunctionError, InvokeKind, InvokeOutcome, InvokeRequest};
use lambda_deploy::package::{self, ResolvedTarget};
use lambda_deploy::profiles::{self, ProfileInfo, Selection};
use lambda_deploy::project::Settings;
use lambda_ops::deploy::{self as deploy_op, DeployRequest};
use lambda_ops::invoke::Payload;
use lambda_ops::logs::Logs;
use lambda_ops::manage::{self, DeleteRequest};
use lambda_ops::{event, target, OpError};
use serde::de::DeserializeOwned;
use serde::Deserialize;
use serde_json::{json, Value};

use super::catalog;
use super::convert::{self, ProfileChangedParams};
use super::editor::{Answer, ClientToken};
use super::failure::Failure;
use super::features;
use super::jobs::{self, DeployPlan};
use super::live::{self, LiveArgs};
use super::session::{FunctionKey, Invocation, Mark};
use super::state::SharedRef;

pub const DEPLOY: &str = "lambda.deploy";
pub const INVOKE: &str = "lambda.invoke";
pub const LOGS: &str = "lambda.logs";
pub const DELETE: &str = "lambda.delete";
pub const LIST_FUNCTIONS: &str = "lambda.listFunctions";
pub const LIST_PROFILES: &str = "lambda.listProfiles";
pub const SELECT_PROFILE: &str = "lambda.selectProfile";
pub const OPEN_FILE: &str = "lambda.openFile";
pub const DEBUG: &str = "lambda.debug";
pub const EVENT_FILES: &str = "lambda.eventFiles";
pub const OPEN_URL: &str = "lambda.openUrl";
pub const LIST_EVENTS: &str = "lambda.listEvents";
pub const CREATE_EVENT: &str = "lambda.createEvent";
pub const PULL: &str = "lambda.pull";

/// Every command, for the `executeCommandProvider` capability.
pub const ALL: &[&str] = &[
    DEPLOY,
    INVOKE,
    LOGS,
    DELETE,
    LIST_FUNCTIONS,
    LIST_PROFILES,
    SELECT_PROFILE,
    OPEN_FILE,
    DEBUG,
    EVENT_FILES,
    OPEN_URL,
    LIST_EVENTS,
    CREATE_EVENT,
    PULL,
    live::LIVE,
];

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct DeployArgs {
    pub(super) uri: String,
    pub(super) function: String,
    #[serde(default)]
    pub(super) callable: bool,
    pub(super) name: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct InvokeArgs {
    uri: Option<String>,
    function: Option<String>,
    name: Option<String>,
    payload: Option<Value>,
    event_file: Option<PathBuf>,
    qualifier: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct LogsArgs {
    name: Option<String>,
    uri: Option<String>,
    function: Option<String>,
    /// How far back: `10m`, `2h`, `1d`.
    since: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FunctionArgs {
    uri: String,
    function: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NameArgs {
    name: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProfileArgs {
    profile: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PathArgs {
    path: PathBuf,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UrlArgs {
    url: String,
}

/// A parsed `workspace/executeCommand`.
#[derive(Debug)]
pub enum Request {
    Deploy(DeployArgs),
    Invoke(InvokeArgs),
    Logs(LogsArgs),
    Delete(NameArgs),
    ListFunctions,
    ListProfiles,
    SelectProfile(ProfileArgs),
    OpenFile(PathArgs),
    Debug(super::debug::DebugArgs),
    EventFiles(FunctionArgs),
    OpenUrl(UrlArgs),
    ListEvents(catalog::EventsArgs),
    CreateEvent(catalog::CreateEventArgs),
    Pull(catalog::PullArgs),
    Live(LiveArgs),
}

impl Request {
    pub fn parse(command: &str, arguments: Vec<Value>) -> Result<Request, Failure> {
        fn arg<T: DeserializeOwned>(command: &str, arguments: Vec<Value>) -> Result<T, Failure> {
            let first = arguments.into_iter().next().unwrap_or(json!({}));
            serde_json::from_value(first).map_err(|e| {
                Failure::input(format!(
                    "bad arguments for {command}: {e}; COMMANDS.md lists what it takes"
                ))
            })
        }
        Ok(match command {
            DEPLOY => Request::Deploy(arg(command, arguments)?),
            INVOKE => Request::Invoke(arg(command, arguments)?),
            LOGS => Request::Logs(arg(command, arguments)?),
            DELETE => Request::Delete(arg(command, arguments)?),
            LIST_FUNCTIONS => Request::ListFunctions,
            LIST_PROFILES => Request::ListProfiles,
            SELECT_PROFILE => Request::SelectProfile(arg(command, arguments)?),
            OPEN_FILE => Request::OpenFile(arg(command, arguments)?),
            DEBUG => Request::Debug(arg(command, arguments)?),
            EVENT_FILES => Request::EventFiles(arg(command, arguments)?),
            OPEN_URL => Request::OpenUrl(arg(command, arguments)?),
            LIST_EVENTS => Request::ListEvents(arg(command, arguments)?),
            CREATE_EVENT => Request::CreateEvent(arg(command, arguments)?),
            PULL => Request::Pull(arg(command, arguments)?),
            live::LIVE => Request::Live(arg(command, arguments)?),
            other => {
                return Err(Failure::input(format!(
                    "unknown command `{other}`; lambda-ls knows {}",
                    ALL.join(", ")
                )))
            }
        })
    }
}

/// Runs one command to its JSON result.
pub async fn execute(
    shared: SharedRef,
    request: Request,
    token: Option<ClientToken>,
) -> Result<Value, Failure> {
    match request {
        Request::Deploy(args) => deploy(&shared, args, token).await,
        Request::Invoke(args) => invoke_function(&shared, args).await,
        Request::Logs(args) => logs(&shared, args).await,
        Request::Delete(args) => delete(&shared, args).await,
        Request::ListFunctions => list_functions(&shared).await,
        Request::ListProfiles => list_profiles(&shared).await,
        Request::SelectProfile(args) => select_profile(&shared, args).await,
        Request::Debug(args) => super::debug::debug(&shared, args, token).await,
        Request::OpenFile(args) => {
            shared.editor.show_document(&args.path).await;
            Ok(Value::Null)
        }
        Request::OpenUrl(args) => {
            shared.editor.open_url(&args.url).await;
            Ok(json!(args.url))
        }
        Request::ListEvents(args) => catalog::list_events(&shared, args).await,
        Request::CreateEvent(args) => catalog::create_event(&shared, args).await,
        Request::Pull(args) => catalog::pull_function(&shared, args).await,
        Request::EventFiles(args) => event_files(args).await,
        Request::Live(args) => live::command(&shared, args).await,
    }
}

/// A function's saved events by the one rule of `lambda_ops::event`, and where its sample goes.
async fn event_files(args: FunctionArgs) -> Result<Value, Failure> {
    let path = path_of(&args.uri)?;
    blocking("looking for saved events", move || {
        json!({
            "files": event::saved_events(&path, &args.function),
            "sample": event::events_file(&path, &args.function),
        })
    })
    .await
}

pub(super) fn to_json<T: serde::Serialize>(value: &T) -> Value {
    serde_json::to_value(value).expect("results serialize to JSON")
}

pub(super) fn path_of(uri: &str) -> Result<PathBuf, Failure> {
    convert::file_path(uri)
        .ok_or_else(|| Failure::input(format!("{uri} is not a file on disk; save it first")))
}

/// Runs file work (reading, parsing, stat calls) off the async workers.
pub(super) async fn blocking<T: Send + 'static>(
    what: &str,
    f: impl FnOnce() -> T + Send + 'static,
) -> Result<T, Failure> {
    Ok(deploy_op::off_the_workers(what, f).await?)
}

async fn resolve(key: &FunctionKey, callable: bool) -> Result<ResolvedTarget, Failure> {
    let (path, function) = (key.path.clone(), key.function.clone());
    Ok(blocking("reading the function", move || {
        package::resolve_target(&path, &function, callable).map_err(OpError::from)
    })
    .await??)
}

/// The selection the editor asked for, with the deploy core's fallback order.
pub(super) async fn selection(shared: &SharedRef) -> Result<Selection, Failure> {
    let explicit = shared.with(|st| st.profile.clone())?;
    Ok(target::select(explicit.as_deref(), &shared.env).await?.1)
}

pub(super) async fn connect(
    shared: &SharedRef,
    selection: &Selection,
) -> Result<lambda_deploy::aws::Connection, Failure> {
    Ok(target::connect(selection, None, &shared.env, &shared.local).await?)
}

async fn deploy(
    shared: &SharedRef,
    args: DeployArgs,
    token: Option<ClientToken>,
) -> Result<Value, Failure> {
    Ok(to_json(&deploy_function(shared, args, token).await?))
}

/// Deploys a function of a file to the selected target, as its Deploy lens does.
pub(super) async fn deploy_function(
    shared: &SharedRef,
    args: DeployArgs,
    token: Option<ClientToken>,
) -> Result<lambda_deploy::deploy::DeployOutcome, Failure> {
    let key = FunctionKey {
        path: path_of(&args.uri)?,
        function: args.function,
    };
    let dirty = shared.with(|st| st.documents.get(&args.uri).is_some_and(|d| d.dirty))?;
    if dirty {
        shared
            .editor
            .warn(&format!(
                "{} has unsaved changes: the saved file is what gets deployed",
                key.path.display()
            ))
            .await;
    }
    let request = DeployRequest {
        file: key.path.clone(),
        function: key.function.clone(),
        callable: args.callable,
        overrides: Settings {
            name: args.name,
            ..Settings::default()
        },
    };
    let plan = blocking("reading the function", move || deploy_op::plan(&request)).await??;
    let selection = selection(shared).await?;
    let plan = DeployPlan {
        key,
        plan,
        selection,
    };
    jobs::deploy(shared, plan, token).await
}

/// The Lambda name of a function in a file on the selected profile: the name this session
/// deployed it as there, else `name` in `lambda.toml`, else the default `<module>-<function>`.
async fn lambda_name(
    shared: &SharedRef,
    key: &FunctionKey,
    profile: &str,
) -> Result<String, Failure> {
    let known = shared.with(|st| {
        st.session
            .deployment_on(key, profile)
            .map(|d| d.name.clone())
    })?;
    if let Some(name) = known {
        return Ok(name);
    }
    let mut resolved = resolve(key, false).await?;
    let (spec, _) = blocking("reading lambda.toml", move || {
        deploy_op::function_spec(&mut resolved, &Settings::default()).map_err(OpError::from)
    })
    .await??;
    Ok(spec.name)
}

async fn invoke_function(shared: &SharedRef, args: InvokeArgs) -> Result<Value, Failure> {
    // For "Deploy and Invoke", should the target not have the function.
    let again = args.clone();
    let key = match (&args.uri, &args.function) {
        (Some(uri), Some(function)) => Some(FunctionKey {
            path: path_of(uri)?,
            function: function.clone(),
        }),
        (None, None) if args.name.is_some() => None,
        _ => {
            return Err(Failure::input(
                "lambda.invoke needs `uri` and `function`, or `name`",
            ))
        }
    };
    let selection = selection(shared).await?;
    let profile = selection.profile_name();
    let known = shared.with(|st| match (&key, &args.name) {
        (Some(k), _) => st.session.deployment_on(k, profile).cloned(),
        (None, Some(name)) => st.session.deployment_named(name, profile).cloned(),
        (None, None) => None,
    })?;
    let key = key.or_else(|| known.as_ref().map(|d| d.key.clone()));
    let name = match (args.name, &known, &key) {
        (Some(name), _, _) => name,
        (None, Some(d), _) => d.name.clone(),
        (None, None, Some(k)) => lambda_name(shared, k, profile).await?,
        (None, None, None) => unreachable!("checked above: a key or a name"),
    };
    let root = known
        .map(|d| d.root)
        .or_else(|| key.as_ref().map(|k| package::package_root(&k.path)));
    let payload = payload(args.payload, args.event_file, key.as_ref()).await?;
    let conn = connect(shared, &selection).await?;
    let request = InvokeRequest {
        function: name.clone(),
        payload,
        kind: InvokeKind::RequestResponse,
        qualifier: args.qualifier.clone(),
    };
    let outcome = match lambda_ops::invoke::invoke(&conn, &request).await {
        Ok(outcome) => outcome,
        Err(e) if e.is_not_found() && args.qualifier.is_none() => {
            return Err(not_deployed(shared, &name, &conn.info, key, again).await)
        }
        Err(e) => return Err(e.into()),
    };
    let shown = Shown {
        profile,
        key,
        root,
        name: &name,
        event: request.payload,
    };
    show_outcome(shared, shown, &outcome).await?;
    Ok(to_json(&outcome))
}

/// Whose result [`show_outcome`] shows.
pub(super) struct Shown<'a> {
    pub profile: &'a str,
    pub key: Option<FunctionKey>,
    /// The package root, against which stack frames are matched.
    pub root: Option<PathBuf>,
    pub name: &'a str,
    /// The event it ran with (a live function's next event).
    pub event: Vec<u8>,
}

/// Records an invoke and shows it: the error on the raising line, the inline result, the log.
pub(super) async fn show_outcome(
    shared: &SharedRef,
    shown: Shown<'_>,
    outcome: &InvokeOutcome,
) -> Result<(), Failure> {
    let Shown {
        profile,
        key,
        root,
        name,
        event,
    } = shown;
    let mark = match (&outcome.error, &key) {
        (Some(error), Some(key)) => Some(error_mark(shared, key, root, error, profile).await?),
        _ => None,
    };
    let invocation = Invocation {
        outcome: outcome.clone(),
        event,
    };
    let touched = shared.with(|st| st.session.record_invoke(profile, key, invocation, mark))?;
    let mut log = format!("{name} → {}", features::full_result(outcome));
    if let Some(tail) = &outcome.log_tail {
        log.push_str(&format!("\n--- log tail ---\n{}", tail.trim_end()));
    }
    shared.editor.info(&log).await;
    shared.publish_marks(&touched).await;
    shared.editor.refresh(true, true).await;
    Ok(())
}

/// The event: given inline, from a file, else `events/<function>.json` when it exists, else `{}`.
pub(super) async fn payload(
    inline: Option<Value>,
    file: Option<PathBuf>,
    key: Option<&FunctionKey>,
) -> Result<Vec<u8>, Failure> {
    let source = match (inline, file, key) {
        (Some(v), _, _) => Payload::Inline(v.to_string().into_bytes()),
        (None, Some(file), _) => Payload::File(file),
        (None, None, Some(k)) => Payload::FileIfExists(event::events_file(&k.path, &k.function)),
        (None, None, None) => Payload::Empty,
    };
    Ok(blocking("reading the event", move || source.read()).await??)
}

/// The button that deploys a function that is not on the target, then invokes it.
const DEPLOY_AND_INVOKE: &str = "Deploy and Invoke";

/// An invoke of a function the target does not have: one short sentence. For a function of a
/// file, clients that can be asked get it as a question offering Deploy and Invoke (answered in
/// the background, so the invoke request ends now); the failure is then already reported.
async fn not_deployed(
    shared: &SharedRef,
    name: &str,
    target: &TargetInfo,
    key: Option<FunctionKey>,
    args: InvokeArgs,
) -> Failure {
    let place = if target.local {
        "the local Lambda".to_string()
    } else {
        format!("profile {} ({})", target.profile, target.region)
    };
    let sentence = format!("{name} is not deployed to {place}");
    let (Some(key), Some(uri)) = (key, args.uri.clone()) else {
        return Failure::remote(format!(
            "{sentence}; run `lambda.listFunctions` to see what exists"
        ));
    };
    if !shared.editor.caps().show_message_request {
        return Failure::remote(format!("{sentence}; deploy it first (the Deploy lens)"));
    }
    let mut failure = Failure::remote(format!("{sentence}."));
    shared.editor.log_failure(&failure).await;
    failure.reported = true;
    tokio::spawn(offer_deploy_and_invoke(
        shared.clone(),
        format!("{sentence}."),
        key,
        uri,
        args,
    ));
    failure
}

/// The question offering Deploy and Invoke, and what its answer does. A boxed future of a plain
/// function: an invoke leads here and this to an invoke, so the type must not be inferred.
fn offer_deploy_and_invoke(
    shared: SharedRef,
    sentence: String,
    key: FunctionKey,
    uri: String,
    args: InvokeArgs,
) -> std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>> {
    Box::pin(async move {
        let asked = shared.editor.ask(&sentence, &[DEPLOY_AND_INVOKE]).await;
        if asked != Answer::Chose(DEPLOY_AND_INVOKE.to_string()) {
            return;
        }
        if let Err(f) = deploy_and_invoke(&shared, key, uri, args).await {
            shared.editor.show(&f).await;
        }
    })
}

/// "Deploy and Invoke": deploys the function as its lens would (handler or callable), then
/// invokes it with the same arguments.
async fn deploy_and_invoke(
    shared: &SharedRef,
    key: FunctionKey,
    uri: String,
    args: InvokeArgs,
) -> Result<(), Failure> {
    let deploy_args = DeployArgs {
        uri,
        function: key.function.clone(),
        callable: is_callable(shared, &key).await?,
        name: None,
    };
    deploy(shared, deploy_args, None).await?;
    invoke_function(shared, args).await.map(|_| ())
}

/// Whether the function deploys as a callable: not configured in `lambda.toml` and not shaped
/// like a handler, as its lens says.
async fn is_callable(shared: &SharedRef, key: &FunctionKey) -> Result<bool, Failure> {
    let configured = super::project_file::configured_in(shared, &key.path).await?;
    if configured.contains(&key.function) {
        return Ok(false);
    }
    let open = shared.with(|st| {
        st.document_at(&key.path)
            .map(|(_, d)| d.function_named(&key.function).map(|f| f.kind))
    })?;
    let kind = match open {
        Some(kind) => kind,
        None => {
            let text = tokio::fs::read_to_string(&key.path)
                .await
                .unwrap_or_default();
            analysis::analyze(&text)
                .functions
                .iter()
                .find(|f| f.name == key.function)
                .map(|f| f.kind)
        }
    };
    Ok(kind == Some(analysis::FunctionKind::Callable))
}

/// Where an invoke error goes: the deepest frame in a package file, else the `def` line.
async fn error_mark(
    shared: &SharedRef,
    key: &FunctionKey,
    root: Option<PathBuf>,
    error: &FunctionError,
    profile: &str,
) -> Result<Mark, Failure> {
    let message = format!("{}: {}", error.error_type, error.error_message);
    let frames = error.frames();
    let open: Vec<PathBuf> = shared.with(|st| {
        st.documents
            .values()
            .filter_map(|d| d.path.clone())
            .collect()
    })?;
    let k = key.clone();
    let located = blocking("locating the error", move || {
        let (file, line) = features::error_location(&frames, root.as_ref()?)?;
        // Name the file as the editor does when it has it open (symlinks, relative roots).
        let same = |p: &PathBuf| std::fs::canonicalize(p).ok() == std::fs::canonicalize(&file).ok();
        let path = std::iter::once(&k.path)
            .chain(open.iter())
            .find(|p| same(p))
            .cloned()
            .unwrap_or(file);
        Some((path, line))
    })
    .await?;
    let (path, line) = match located {
        Some(found) => found,
        None => (key.path.clone(), def_line(shared, key).await?),
    };
    Ok(Mark {
        key: key.clone(),
        path,
        line,
        message,
        profile: profile.to_string(),
    })
}

/// The function's `def` line, from the editor's text when open, else from the saved file.
async fn def_line(shared: &SharedRef, key: &FunctionKey) -> Result<usize, Failure> {
    let open = shared.with(|st| {
        st.document_at(&key.path)
            .map(|(_, d)| d.function_named(&key.function).map(|f| f.def_line))
    })?;
    if let Some(line) = open {
        return Ok(line.unwrap_or(0));
    }
    let text = tokio::fs::read_to_string(&key.path)
        .await
        .unwrap_or_default();
    Ok(analysis::analyze(&text)
        .functions
        .iter()
        .find(|f| f.name == key.function)
        .map_or(0, |f| f.def_line))
}

/// The function's logs since `since` (default 10 minutes): CloudWatch Logs on AWS, the local
/// Lambda's own log store on `local`; written to the log and returned.
async fn logs(shared: &SharedRef, args: LogsArgs) -> Result<Value, Failure> {
    let since = args
        .since
        .as_deref()
        .unwrap_or(lambda_ops::logs::DEFAULT_SINCE);
    let back = humantime::parse_duration(since).map_err(|e| {
        Failure::input(format!(
            "lambda.logs: `since` `{since}` is not a duration like 10m or 2h: {e}"
        ))
    })?;
    let key = match (&args.uri, &args.function) {
        (Some(uri), Some(function)) => Some(FunctionKey {
            path: path_of(uri)?,
            function: function.clone(),
        }),
        _ => None,
    };
    let selection = selection(shared).await?;
    let name = match (args.name, &key) {
        (Some(name), _) => name,
        (None, Some(key)) => lambda_name(shared, key, selection.profile_name()).await?,
        (None, None) => {
            return Err(Failure::input(
                "lambda.logs needs `name`, or `uri` and `function`",
            ))
        }
    };
    let conn = connect(shared, &selection).await?;
    let events = Logs::new(&name, back).next(&conn).await?;
    let text: Vec<String> = events.iter().map(|e| e.to_string()).collect();
    let text = text.join("\n");
    shared
        .editor
        .info(&format!(
            "--- logs of {name} on {} since {since} ago: {} event{} ---\n{}",
            conn.info,
            events.len(),
            if events.len() == 1 { "" } else { "s" },
            if text.is_empty() {
                "(no log events)"
            } else {
                &text
            }
        ))
        .await;
    Ok(json!({
        "name": name,
        "since": since,
        "target": conn.info,
        "source": if conn.info.local { "local-lambda" } else { "cloudwatch" },
        "events": events,
        "text": text,
        // Earlier clients read the log text from here.
        "logTail": (!text.is_empty()).then_some(&text),
    }))
}

async fn delete(shared: &SharedRef, args: NameArgs) -> Result<Value, Failure> {
    let selection = selection(shared).await?;
    let conn = connect(shared, &selection).await?;
    let request = DeleteRequest {
        function: args.name.clone(),
        all: false,
    };
    manage::delete(&conn, &request).await?;
    shared.with(|st| {
        st.session
            .forget_deployment(&args.name, selection.profile_name())
    })?;
    shared.editor.refresh(true, false).await;
    Ok(json!({"deleted": args.name, "target": conn.info}))
}

async fn list_functions(shared: &SharedRef) -> Result<Value, Failure> {
    let selection = selection(shared).await?;
    let conn = connect(shared, &selection).await?;
    Ok(to_json(&manage::list(&conn).await?))
}

async fn list_profiles(shared: &SharedRef) -> Result<Value, Failure> {
    let explicit = shared.with(|st| st.profile.clone())?;
    let listing = profiles::list_profiles(&shared.env)
        .await
        .map_err(OpError::from)?;
    // An unknown chosen profile still lists the others, with none selected.
    let selected = profiles::select_profile(explicit.as_deref(), &shared.env, &listing)
        .ok()
        .map(|s| s.profile_name().to_string());
    let all: Vec<Value> = lambda_ops::profiles::with_local(&listing)
        .iter()
        .map(|p| {
            json!({
                "name": p.name,
                "region": p.region,
                "kind": p.kind,
                "selected": selected.as_deref() == Some(p.name.as_str()),
            })
        })
        .collect();
    Ok(json!({"selected": selected, "profiles": all}))
}

async fn select_profile(shared: &SharedRef, args: ProfileArgs) -> Result<Value, Failure> {
    let chosen = current_profile(shared, Some(&args.profile)).await?;
    shared.with(|st| st.profile = Some(args.profile.clone()))?;
    announce(shared).await;
    Ok(to_json(&chosen))
}

/// The selected profile with its region and kind, as `lambdaLs/profileChanged` carries it.
pub async fn current_profile(
    shared: &SharedRef,
    explicit: Option<&str>,
) -> Result<ProfileChangedParams, Failure> {
    let (listing, selection) = target::select(explicit, &shared.env).await?;
    let info = listing
        .get(selection.profile_name())
        .cloned()
        .unwrap_or_else(ProfileInfo::local);
    // Resolving credentials now lets the editor warn before a deploy fails on them; bounded,
    // since an SSO or credential_process profile may take a moment.
    let credentials_error = match &selection {
        Selection::Local => None,
        Selection::Aws { .. } => {
            let check = async {
                let conn = connect(shared, &selection).await?;
                conn.check_credentials()
                    .await
                    .map_err(|e| Failure::from(OpError::from(e)))
            };
            match tokio::time::timeout(CREDENTIALS_CHECK, check).await {
                Ok(Ok(())) => None,
                Ok(Err(f)) => Some(f.to_string()),
                Err(_) => Some(format!(
                    "the credentials of profile `{}` did not resolve within {} s",
                    info.name,
                    CREDENTIALS_CHECK.as_secs()
                )),
            }
        }
    };
    Ok(ProfileChangedParams {
        profile: info.name,
        region: info.region,
        kind: info.kind.to_string(),
        credentials_error,
    })
}

/// How long the credential check before announcing a profile may take.
const CREDENTIALS_CHECK: std::time::Duration = std::time::Duration::from_secs(5);

/// Re-applies the selection order and tells the client when the result changed.
pub async fn announce(shared: &SharedRef) {
    let explicit = match shared.with(|st| st.profile.clone()) {
        Ok(p) => p,
        Err(f) => return shared.editor.show(&f).await,
    };
    let now = match current_profile(shared, explicit.as_deref()).await {
        Ok(now) => now,
        Err(f) => return shared.editor.show(&f).await,
    };
    let changed = shared.with(|st| {
        let changed = st.announced.as_ref() != Some(&now);
        st.announced = Some(now.clone());
        changed
    });
    if changed.unwrap_or(false) {
        shared
            .editor
            .info(&format!(
                "deploying to profile {} ({})",
                now.profile, now.kind
            ))
            .await;
        shared.editor.announce_profile(now).await;
        // Lenses, inline results and error marks are the new target's.
        shared.publish_all_marks().await;
        shared.editor.refresh(true, true).await;
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    /// COMMANDS.md documents each registered command under a `### \`lambda.…\`` heading, and
    /// nothing else under such a heading.
    #[test]
    fn commands_md_documents_exactly_the_registered_commands() {
        let doc = std::fs::read_to_string(
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("COMMANDS.md"),
        )
        .expect("COMMANDS.md beside the crate");
        let documented: BTreeSet<&str> = doc
            .lines()
            .filter_map(|l| l.strip_prefix("### `"))
            .filter_map(|l| l.strip_suffix('`'))
            .collect();
        let registered: BTreeSet<&str> = super::ALL.iter().copied().collect();
        assert_eq!(
            documented, registered,
            "COMMANDS.md and commands::ALL disagree"
        );
    }
}
