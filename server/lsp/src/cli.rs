//! The command line: `lambda-ls deploy|invoke|package|list|delete|logs|publish|share|unshare|map|event|pull|profiles|local serve|lsp`.
//!
//! A thin adapter over `lambda-ops`: each command parses its flags into an operation's request,
//! calls the operation and renders the result (`render`). Human output by default, stable JSON
//! with `--json`. Exit codes: 0 ok, 1 the function failed or AWS refused, 2 bad usage, input or
//! configuration (an [`OpError`]'s [`Blame`]).

mod render;

use std::path::PathBuf;
use std::time::Duration;

use clap::{Parser, Subcommand};
use lambda_deploy::deploy::Progress;
use lambda_deploy::invoke::{InvokeKind, InvokeRequest};
use lambda_deploy::package;
use lambda_deploy::profiles::ProfileEnv;
use lambda_deploy::project::Settings as ProjectSettings;
use lambda_deploy::pull::PullRequest;
use lambda_deploy::spec;
use lambda_ops::deploy::{DeployRequest, PackageTarget};
use lambda_ops::invoke::Payload;
use lambda_ops::logs::Logs;
use lambda_ops::manage::{DeleteRequest, Grant};
use lambda_ops::map::MapRequest;
use lambda_ops::{Blame, LocalHandle, OpError, Target};
use serde_json::json;

use render::{emit, emit_json};

const EXIT_OK: u8 = 0;
const EXIT_FAILED: u8 = 1;
const EXIT_USAGE: u8 = 2;
/// How often `logs --follow` asks for new events.
const FOLLOW_POLL: Duration = Duration::from_secs(2);
/// Where to look when a function does not exist, in command-line terms.
const NOT_FOUND_HINT: &str = "`lambda-ls list` shows the functions that exist";

#[derive(Debug, Parser)]
#[command(
    name = "lambda-ls",
    version,
    about = "Deploy and invoke Python functions on AWS Lambda, from an editor or a terminal"
)]
pub struct Args {
    /// AWS profile to use (`local` for the embedded Lambda). Default: AWS_PROFILE, then `default`, then `local`.
    #[arg(long, global = true)]
    profile: Option<String>,
    /// Region, overriding the profile's.
    #[arg(long, global = true)]
    region: Option<String>,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Speak the Language Server Protocol on stdio (the default with no command).
    Lsp,
    /// List the AWS profiles of ~/.aws/config and ~/.aws/credentials, plus `local`.
    Profiles {
        #[command(flatten)]
        output: Output,
    },
    /// Package FILE.py:FUNCTION and create or update the function.
    Deploy(DeployArgs),
    /// Write exactly the zip that `deploy` would upload.
    Package(PackageArgs),
    /// Redeploy FILE.py:FUNCTION and invoke it again on every change to its package, printing
    /// each result and log tail, until Ctrl-C (the local Lambda unless --aws).
    Watch(crate::watch::WatchArgs),
    /// Invoke a deployed function.
    Invoke(InvokeArgs),
    /// List the functions of the account and region.
    List {
        #[command(flatten)]
        output: Output,
    },
    /// Delete a function.
    Delete {
        name: String,
        /// Also remove the layer versions and the execution role this tool created for it,
        /// when no other function uses them (never anything it did not create), and its zips
        /// in the S3 artifacts bucket.
        #[arg(long)]
        all: bool,
        #[command(flatten)]
        output: Output,
    },
    /// Show the function's logs (CloudWatch Logs, or the local Lambda's log store).
    Logs(LogsArgs),
    /// Publish a version, optionally pointing an alias at it.
    Publish {
        name: String,
        #[arg(long)]
        alias: Option<String>,
        #[command(flatten)]
        output: Output,
    },
    /// Let another account invoke the function, or give it a URL; `--list` shows who may.
    Share(ShareArgs),
    /// Remove what `share` granted: one account, or everything and the URL.
    Unshare {
        name: String,
        #[arg(long)]
        account: Option<String>,
        #[command(flatten)]
        output: Output,
    },
    /// Invoke once per line of a JSON-lines file, in parallel; results as JSON lines, in order.
    Map(MapArgs),
    /// Print or write a sample event as a trigger delivers it; `--list` names the triggers.
    Event(EventArgs),
    /// Download a deployed function's code into a new folder, with a lambda.toml that deploys it back.
    Pull(PullArgs),
    /// The embedded local Lambda.
    Local {
        #[command(subcommand)]
        command: LocalCommand,
    },
}

#[derive(Debug, clap::Args)]
struct DeployArgs {
    /// `path/to/file.py:function`
    target: String,
    #[command(flatten)]
    settings: Settings,
    /// Invoke with this JSON payload once deployed.
    #[arg(long)]
    invoke: Option<String>,
    #[command(flatten)]
    output: Output,
}

#[derive(Debug, clap::Args)]
struct PackageArgs {
    target: String,
    #[arg(long)]
    out: PathBuf,
    #[command(flatten)]
    packaging: Packaging,
    #[command(flatten)]
    output: Output,
}

#[derive(Debug, clap::Args)]
struct InvokeArgs {
    name: String,
    #[command(flatten)]
    source: EventFlags,
    /// Positional arguments for a callable, as a JSON array.
    #[arg(long, conflicts_with_all = ["payload", "payload_file"])]
    args: Option<String>,
    /// Keyword arguments for a callable, as a JSON object.
    #[arg(long, conflicts_with_all = ["payload", "payload_file"])]
    kwargs: Option<String>,
    /// Version or alias.
    #[arg(long)]
    qualifier: Option<String>,
    /// Queue the event and return at once.
    #[arg(long, conflicts_with = "dry_run")]
    event: bool,
    /// Only check that the invoke would be allowed.
    #[arg(long)]
    dry_run: bool,
    /// Run it under debugpy on the local Lambda and wait for a debugger (on PORT, else a free port).
    #[arg(long, value_name = "PORT", num_args = 0..=1, default_missing_value = "0", conflicts_with_all = ["event", "dry_run"])]
    debug: Option<u16>,
    #[command(flatten)]
    output: Output,
}

#[derive(Debug, clap::Args)]
struct LogsArgs {
    name: String,
    /// How far back: `10m`, `2h`, `1d`.
    #[arg(long, default_value = lambda_ops::logs::DEFAULT_SINCE)]
    since: String,
    /// Keep printing new events until interrupted.
    #[arg(long)]
    follow: bool,
    #[command(flatten)]
    output: Output,
}

#[derive(Debug, clap::Args)]
struct ShareArgs {
    name: String,
    /// AWS account id to grant lambda:InvokeFunction.
    #[arg(long, conflicts_with_all = ["url", "list"])]
    account: Option<String>,
    /// Create a function URL (AWS_IAM auth unless --public).
    #[arg(long, conflicts_with = "list")]
    url: bool,
    /// With --url: anyone may call it, without credentials (auth NONE).
    #[arg(long, requires = "url")]
    public: bool,
    #[arg(long)]
    list: bool,
    #[command(flatten)]
    output: Output,
}

#[derive(Debug, clap::Args)]
struct MapArgs {
    name: String,
    #[arg(long)]
    inputs: PathBuf,
    #[arg(long, default_value_t = 8)]
    concurrency: usize,
    /// Each line is an argument list for a callable: sent as {"args": line}.
    #[arg(long)]
    starmap: bool,
}

#[derive(Debug, clap::Args)]
struct EventArgs {
    /// Trigger, e.g. `sqs` or `apigateway-http` (see `--list`).
    #[arg(required_unless_present = "list")]
    trigger: Option<String>,
    /// Write the event to this file (e.g. events/NAME.json) instead of printing it.
    #[arg(long, conflicts_with = "list")]
    out: Option<PathBuf>,
    #[arg(long)]
    list: bool,
    #[command(flatten)]
    output: Output,
}

#[derive(Debug, clap::Args)]
struct PullArgs {
    name: String,
    /// New or empty folder (default: ./NAME).
    #[arg(long)]
    dir: Option<PathBuf>,
    /// Also write environment variable values into lambda.toml (they often hold secrets).
    #[arg(long)]
    with_env: bool,
    #[command(flatten)]
    output: Output,
}

#[derive(Debug, Subcommand)]
enum LocalCommand {
    /// Serve the local Lambda API on 127.0.0.1 until interrupted, for boto3, the AWS CLI or any SDK.
    Serve {
        #[arg(long, default_value_t = 0)]
        port: u16,
    },
}

/// Function settings given on the command line; they override `lambda.toml`, which overrides
/// Lambda's defaults. Each flag is a setting of `settings::SETTINGS`, whose description is its
/// help (`deploy_flags_are_the_declared_settings` checks both ways).
#[derive(Debug, clap::Args)]
struct Settings {
    #[arg(long, help = describe("name"))]
    name: Option<String>,
    #[arg(long, help = describe("runtime"))]
    runtime: Option<String>,
    #[arg(long, help = describe("timeout"))]
    timeout: Option<u32>,
    #[arg(long, help = describe("memory"))]
    memory: Option<u32>,
    #[arg(long, help = describe("ephemeral_storage"))]
    ephemeral_storage: Option<u32>,
    #[arg(long, help = describe("architecture"))]
    architecture: Option<String>,
    #[arg(long = "env", value_name = "KEY=VALUE", help = describe("env"))]
    env: Vec<String>,
    #[arg(long, help = describe("description"))]
    description: Option<String>,
    #[arg(long, help = describe("role"))]
    role: Option<String>,
    #[command(flatten)]
    packaging: Packaging,
    #[arg(long, help = describe("requirements"))]
    requirements: Option<PathBuf>,
    #[arg(long, help = describe("log_retention_days"))]
    log_retention_days: Option<u32>,
}

/// What goes into the zip besides the function's own imports, and how it is wrapped: the
/// flags `deploy` and `package` share.
#[derive(Debug, clap::Args)]
struct Packaging {
    #[arg(long, help = describe("include"))]
    include: Vec<PathBuf>,
    #[arg(long, help = describe("callable"))]
    callable: bool,
}

/// `--json`, for every command with a result to print.
#[derive(Debug, Clone, Copy, clap::Args)]
struct Output {
    /// Print the result as JSON instead of text.
    #[arg(long)]
    json: bool,
}

/// Where an invoke's event comes from: `invoke` and `watch` take the same two flags.
#[derive(Debug, clap::Args)]
pub(crate) struct EventFlags {
    /// JSON event.
    #[arg(long, conflicts_with = "payload_file")]
    pub(crate) payload: Option<String>,
    /// File holding the JSON event.
    #[arg(long)]
    pub(crate) payload_file: Option<PathBuf>,
}

impl EventFlags {
    /// The event given, if one was.
    pub(crate) fn given(self) -> Option<Payload> {
        match (self.payload, self.payload_file) {
            (Some(p), _) => Some(Payload::Inline(p.into_bytes())),
            (None, Some(f)) => Some(Payload::File(f)),
            (None, None) => None,
        }
    }
}

/// A setting's `--help` line, from its declaration.
pub(crate) fn describe(key: &str) -> String {
    lambda_deploy::settings::setting(key)
        .map(|s| s.describe())
        .unwrap_or_default()
}

impl Settings {
    /// The flags as project settings, validated, to lay over `lambda.toml`.
    fn to_project(&self) -> Result<ProjectSettings, OpError> {
        let mut env = std::collections::BTreeMap::new();
        for pair in &self.env {
            let (k, v) = spec::parse_env_pair(pair)?;
            env.insert(k, v);
        }
        Ok(ProjectSettings {
            name: self.name.clone(),
            runtime: self.runtime.as_deref().map(str::parse).transpose()?,
            timeout: self.timeout,
            memory: self.memory,
            ephemeral_storage: self.ephemeral_storage,
            architecture: self.architecture.as_deref().map(str::parse).transpose()?,
            env,
            role: self.role.clone(),
            include: self.packaging.include.clone(),
            requirements: self.requirements.clone(),
            description: self.description.clone(),
            log_retention_days: self.log_retention_days,
            callable: self.packaging.callable.then_some(true),
            bundle_requirements: None,
        })
    }
}

/// Runs the command line; returns the process exit code.
pub async fn run(args: Args) -> u8 {
    let local = LocalHandle::default();
    let result = dispatch(args, &local).await;
    local.shutdown().await;
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {}", e.sentence(NOT_FOUND_HINT));
            exit_code(e.blame())
        }
    }
}

/// The exit code a failure deserves: 2 when the user must change the command or the setup.
fn exit_code(blame: Blame) -> u8 {
    match blame {
        Blame::Input | Blame::Config => EXIT_USAGE,
        Blame::Remote | Blame::Cancelled | Blame::Internal => EXIT_FAILED,
    }
}

/// 1 when the function itself failed.
fn outcome_code(failed: bool) -> u8 {
    if failed {
        EXIT_FAILED
    } else {
        EXIT_OK
    }
}

async fn dispatch(args: Args, local: &LocalHandle) -> Result<u8, OpError> {
    let target = Target {
        env: ProfileEnv::from_process(),
        profile: args.profile,
        region: args.region,
        local: local.clone(),
    };
    match args.command {
        None | Some(Command::Lsp) => {
            Ok(crate::lsp::run_stdio(target.env, target.local, target.profile).await)
        }
        Some(Command::Profiles { output }) => profiles(&target, output.json).await,
        Some(Command::Deploy(a)) => deploy(&target, a).await,
        Some(Command::Package(a)) => package(a).await,
        Some(Command::Watch(w)) => {
            let conn = target.connect().await?;
            crate::watch::command(w, conn, render::emit)
                .await
                .map_err(|e| OpError::Usage(e.to_string()))?;
            Ok(EXIT_OK)
        }
        Some(Command::Invoke(a)) => invoke(&target, a).await,
        Some(Command::List { output }) => {
            let conn = target.connect().await?;
            render::list(&conn, &lambda_ops::manage::list(&conn).await?, output.json);
            Ok(EXIT_OK)
        }
        Some(Command::Delete { name, all, output }) => {
            let conn = target.connect().await?;
            let req = DeleteRequest {
                function: name,
                all,
            };
            let removed = lambda_ops::manage::delete(&conn, &req).await?;
            render::deleted(&conn, &req.function, removed.as_ref(), output.json);
            Ok(EXIT_OK)
        }
        Some(Command::Logs(a)) => logs(&target, a).await,
        Some(Command::Publish {
            name,
            alias,
            output,
        }) => {
            let conn = target.connect().await?;
            let published = lambda_ops::manage::publish(&conn, &name, alias.as_deref()).await?;
            render::value(&published, output.json);
            Ok(EXIT_OK)
        }
        Some(Command::Share(a)) => share(&target, a).await,
        Some(Command::Unshare {
            name,
            account,
            output,
        }) => {
            let conn = target.connect().await?;
            let removed = lambda_ops::manage::unshare(&conn, &name, account.as_deref()).await?;
            render::unshared(&name, &removed, output.json);
            Ok(EXIT_OK)
        }
        Some(Command::Map(a)) => map(&target, a).await,
        Some(Command::Event(a)) => sample_event(a),
        Some(Command::Pull(a)) => pull(&target, a).await,
        Some(Command::Local {
            command: LocalCommand::Serve { port },
        }) => serve_local(port).await,
    }
}

async fn profiles(target: &Target, json: bool) -> Result<u8, OpError> {
    let (listing, selection) = target.select().await?;
    render::profiles(&listing, &selection, json);
    Ok(EXIT_OK)
}

/// `package`: the zip `deploy` would upload, to a file.
async fn package(a: PackageArgs) -> Result<u8, OpError> {
    let req = PackageTarget::parse(&a.target, a.packaging.callable, a.packaging.include)?;
    let bar = render::progress_bar(a.output.json);
    let report = |p: Progress| bar.set_message(p.to_string());
    let pkg = lambda_ops::deploy::package_to_file(req, &a.out, &report).await;
    bar.finish_and_clear();
    let pkg = pkg?;
    render::warn_all(&pkg.warnings);
    render::packaged(&a.out, &pkg, a.output.json);
    Ok(EXIT_OK)
}

/// `deploy`: plan (checked before anything is sent), connect, run, then invoke if asked.
async fn deploy(target: &Target, a: DeployArgs) -> Result<u8, OpError> {
    let (file, function) = package::parse_target(&a.target)?;
    let req = DeployRequest {
        file,
        function,
        callable: a.settings.packaging.callable,
        overrides: a.settings.to_project()?,
    };
    let plan = lambda_ops::deploy::plan(&req)?;
    let name = plan.spec.name.clone();
    let payload = a.invoke.map(|p| Payload::Inline(p.into_bytes()).read());
    let payload = payload.transpose()?;
    let conn = target.connect().await?;
    let bar = render::progress_bar(a.output.json);
    let report = |p: Progress| bar.set_message(p.to_string());
    let deployed = lambda_ops::deploy::run(&conn, plan, &report).await;
    bar.finish_and_clear();
    let deployed = deployed?;
    render::warn_all(&deployed.warnings);
    let invoked = match payload {
        Some(payload) => {
            let req = InvokeRequest {
                function: name,
                payload,
                kind: InvokeKind::RequestResponse,
                qualifier: None,
            };
            Some(lambda_ops::invoke::invoke(&conn, &req).await?)
        }
        None => None,
    };
    render::deployed(&deployed, invoked.as_ref(), a.output.json);
    Ok(outcome_code(invoked.as_ref().is_some_and(|i| i.failed())))
}

async fn invoke(target: &Target, a: InvokeArgs) -> Result<u8, OpError> {
    let source = match a.source.given() {
        Some(given) => given,
        None if a.args.is_some() || a.kwargs.is_some() => Payload::Args {
            args: a.args,
            kwargs: a.kwargs,
        },
        None => Payload::Empty,
    };
    let kind = if a.event {
        InvokeKind::Event
    } else if a.dry_run {
        InvokeKind::DryRun
    } else {
        InvokeKind::RequestResponse
    };
    let req = InvokeRequest {
        function: a.name,
        payload: source.read()?,
        kind,
        qualifier: a.qualifier,
    };
    let outcome = match a.debug {
        Some(port) => crate::debug_invoke::run(target, req, (port != 0).then_some(port)).await?,
        None => lambda_ops::invoke::invoke(&target.connect().await?, &req).await?,
    };
    if a.output.json {
        emit_json(&serde_json::to_value(&outcome).expect("outcome serializes"));
    } else {
        render::invoked(&outcome);
    }
    Ok(outcome_code(outcome.failed()))
}

/// `logs`: once, or `--follow` until Ctrl-C.
async fn logs(target: &Target, a: LogsArgs) -> Result<u8, OpError> {
    let back = humantime::parse_duration(&a.since).map_err(|e| {
        OpError::Usage(format!(
            "--since `{}` is not a duration like 10m or 2h: {e}",
            a.since
        ))
    })?;
    let conn = target.connect().await?;
    let mut logs = Logs::new(&a.name, back);
    loop {
        for e in logs.next(&conn).await? {
            if a.output.json {
                emit(&serde_json::to_string(&e).expect("events serialize"));
            } else {
                emit(&e.to_string());
            }
        }
        if !a.follow {
            return Ok(EXIT_OK);
        }
        tokio::select! {
            _ = tokio::time::sleep(FOLLOW_POLL) => {}
            _ = tokio::signal::ctrl_c() => return Ok(EXIT_OK),
        }
    }
}

async fn share(target: &Target, a: ShareArgs) -> Result<u8, OpError> {
    let grant = Grant::from_args(a.account, a.url, a.public, a.list)?;
    let conn = target.connect().await?;
    if grant == Grant::Url(lambda_deploy::maintain::UrlAuth::Public) {
        // The local Lambda serves URLs on loopback only.
        let who = if conn.info.local {
            "this machine"
        } else {
            "the internet"
        };
        eprintln!(
            "warning: the URL of {} will be callable by anyone on {who}, without credentials",
            a.name
        );
    }
    let state = lambda_ops::manage::share(&conn, &a.name, &grant).await?;
    render::value(&state, a.output.json);
    Ok(EXIT_OK)
}

/// `map`: inputs checked before connecting; results as JSON lines whatever `--json` says.
async fn map(target: &Target, a: MapArgs) -> Result<u8, OpError> {
    let req = MapRequest::from_file(a.name, &a.inputs, a.starmap, a.concurrency)?;
    let conn = target.connect().await?;
    let bar = render::count_bar(req.inputs.len());
    let results = lambda_ops::map::map(&conn, req, &|done, _| bar.set_position(done as u64)).await;
    bar.finish_and_clear();
    let failed = results.iter().filter(|r| !r.ok).count();
    for r in &results {
        emit(&serde_json::to_string(r).expect("results serialize"));
    }
    if failed > 0 {
        eprintln!("{failed} of {} inputs failed", results.len());
    }
    Ok(outcome_code(failed > 0))
}

/// `lambda-ls event`: the catalog, or one template printed or written to a new file.
fn sample_event(a: EventArgs) -> Result<u8, OpError> {
    if a.list {
        render::catalog(a.output.json);
        return Ok(EXIT_OK);
    }
    let t = lambda_ops::event::trigger(a.trigger.as_deref().unwrap_or_default())?;
    let Some(out) = a.out else {
        emit(t.template);
        return Ok(EXIT_OK);
    };
    lambda_ops::event::write_sample(t, &out)?;
    if a.output.json {
        emit_json(&json!({"trigger": t.name, "out": out}));
    } else {
        emit(&format!("wrote {} ({})", out.display(), t.title));
    }
    Ok(EXIT_OK)
}

async fn pull(target: &Target, a: PullArgs) -> Result<u8, OpError> {
    let conn = target.connect().await?;
    let req = PullRequest {
        dir: a.dir.unwrap_or_else(|| PathBuf::from(&a.name)),
        function: a.name,
        with_env: a.with_env,
    };
    let pulled = lambda_ops::manage::pull(&conn, &req).await?;
    render::pulled(&conn, &pulled, a.output.json);
    Ok(EXIT_OK)
}

async fn serve_local(port: u16) -> Result<u8, OpError> {
    let mut config = lambda_local::LocalConfig::new(lambda_local::default_data_dir());
    config.port = port;
    let server = lambda_local::LocalLambda::start(config).await?;
    emit(&format!("local Lambda listening on {}", server.endpoint()));
    // The local identity: any key works for the API, but AWS_IAM function URLs check it.
    eprintln!(
        "use it with: AWS_ENDPOINT_URL={} AWS_ACCESS_KEY_ID={} AWS_SECRET_ACCESS_KEY={} AWS_REGION={}; Ctrl-C stops",
        server.endpoint(),
        lambda_facts::LOCAL_ACCESS_KEY,
        lambda_facts::LOCAL_SECRET_KEY,
        lambda_facts::LOCAL_REGION,
    );
    let _ = tokio::signal::ctrl_c().await;
    server.shutdown().await;
    Ok(EXIT_OK)
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use clap::CommandFactory;
    use lambda_deploy::settings::SETTINGS;

    use super::Args;

    /// clap's own checks: every flag a `conflicts_with` names exists in each command that
    /// flattens it, no two flags share a name.
    #[test]
    fn the_command_line_is_well_formed() {
        Args::command().debug_assert();
    }

    #[test]
    fn deploy_flags_are_the_declared_settings() {
        let cmd = Args::command();
        let deploy = cmd.find_subcommand("deploy").expect("a deploy command");
        let not_settings = ["invoke", "json", "profile", "region", "help"];
        let flags: BTreeSet<String> = deploy
            .get_arguments()
            .filter_map(|a| a.get_long())
            .filter(|l| !not_settings.contains(l))
            .map(str::to_string)
            .collect();
        let declared: BTreeSet<String> = SETTINGS
            .iter()
            .filter(|s| s.flag)
            .map(|s| s.flag_name())
            .collect();
        assert_eq!(flags, declared);
        for s in SETTINGS.iter().filter(|s| s.flag) {
            let arg = deploy
                .get_arguments()
                .find(|a| a.get_long() == Some(s.flag_name().as_str()))
                .expect("checked above");
            let help = arg.get_help().map(|h| h.to_string());
            assert_eq!(help, Some(s.describe()), "--{}", s.flag_name());
        }
    }
}
