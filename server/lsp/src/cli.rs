//! The command line: `lambda-ls deploy|invoke|package|list|delete|logs|publish|share|unshare|map|event|pull|profiles|local serve|lsp`.
//!
//! Human output by default, stable JSON with `--json`. Exit codes: 0 ok, 1 the function failed
//! or AWS refused, 2 bad usage, input or configuration.

use std::io::Write;
use std::path::PathBuf;
use std::time::Duration;

use clap::{Parser, Subcommand};
use indicatif::{ProgressBar, ProgressStyle};
use lambda_deploy::aws::AwsError;
use lambda_deploy::deploy::{self, DeployError, Progress};
use lambda_deploy::events;
use lambda_deploy::fanout::{self, MapMode};
use lambda_deploy::functions;
use lambda_deploy::invoke::{self, InvokeError, InvokeKind, InvokeRequest, PayloadError};
use lambda_deploy::maintain::{self, UrlAuth};
use lambda_deploy::package::{self, PackageError, PackageRequest};
use lambda_deploy::profiles::ProfileEnv;
use lambda_deploy::project::Settings as ProjectSettings;
use lambda_deploy::pull::{self, PullError};
use lambda_deploy::spec::{self, SpecError};
use serde_json::json;

use crate::target::{self, LocalHandle, TargetError};

const EXIT_OK: u8 = 0;
const EXIT_FAILED: u8 = 1;
const EXIT_USAGE: u8 = 2;
/// How often `logs --follow` asks for new events.
const FOLLOW_POLL: Duration = Duration::from_secs(2);

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
        #[arg(long)]
        json: bool,
    },
    /// Package FILE.py:FUNCTION and create or update the function.
    Deploy {
        /// `path/to/file.py:function`
        target: String,
        #[command(flatten)]
        settings: Settings,
        /// Invoke with this JSON payload once deployed.
        #[arg(long)]
        invoke: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// Write exactly the zip that `deploy` would upload.
    Package {
        target: String,
        #[arg(long)]
        out: PathBuf,
        #[arg(long)]
        include: Vec<PathBuf>,
        #[arg(long)]
        callable: bool,
        #[arg(long)]
        json: bool,
    },
    /// Invoke a deployed function.
    Invoke {
        name: String,
        /// JSON event.
        #[arg(long, conflicts_with_all = ["payload_file", "args", "kwargs"])]
        payload: Option<String>,
        /// File holding the JSON event.
        #[arg(long, conflicts_with_all = ["args", "kwargs"])]
        payload_file: Option<PathBuf>,
        /// Positional arguments for a callable, as a JSON array.
        #[arg(long)]
        args: Option<String>,
        /// Keyword arguments for a callable, as a JSON object.
        #[arg(long)]
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
        #[arg(long)]
        json: bool,
    },
    /// List the functions of the account and region.
    List {
        #[arg(long)]
        json: bool,
    },
    /// Delete a function.
    Delete {
        name: String,
        /// Also remove the layer versions and the execution role this tool created for it,
        /// when no other function uses them (never anything it did not create), and its zips
        /// in the S3 artifacts bucket.
        #[arg(long)]
        all: bool,
        #[arg(long)]
        json: bool,
    },
    /// Show the function's logs (CloudWatch Logs, or the local Lambda's log store).
    Logs {
        name: String,
        /// How far back: `10m`, `2h`, `1d`.
        #[arg(long, default_value = "10m")]
        since: String,
        /// Keep printing new events until interrupted.
        #[arg(long)]
        follow: bool,
        #[arg(long)]
        json: bool,
    },
    /// Publish a version, optionally pointing an alias at it.
    Publish {
        name: String,
        #[arg(long)]
        alias: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// Let another account invoke the function, or give it a URL; `--list` shows who may.
    Share {
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
        #[arg(long)]
        json: bool,
    },
    /// Remove what `share` granted: one account, or everything and the URL.
    Unshare {
        name: String,
        #[arg(long)]
        account: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// Invoke once per line of a JSON-lines file, in parallel; results as JSON lines, in order.
    Map {
        name: String,
        #[arg(long)]
        inputs: PathBuf,
        #[arg(long, default_value_t = 8)]
        concurrency: usize,
        /// Each line is an argument list for a callable: sent as {"args": line}.
        #[arg(long)]
        starmap: bool,
    },
    /// Print or write a sample event as a trigger delivers it; `--list` names the triggers.
    Event {
        /// Trigger, e.g. `sqs` or `apigateway-http` (see `--list`).
        #[arg(required_unless_present = "list")]
        trigger: Option<String>,
        /// Write the event to this file (e.g. events/NAME.json) instead of printing it.
        #[arg(long, conflicts_with = "list")]
        out: Option<PathBuf>,
        #[arg(long)]
        list: bool,
        #[arg(long)]
        json: bool,
    },
    /// Download a deployed function's code into a new folder, with a lambda.toml that deploys it back.
    Pull {
        name: String,
        /// New or empty folder (default: ./NAME).
        #[arg(long)]
        dir: Option<PathBuf>,
        /// Also write environment variable values into lambda.toml (they often hold secrets).
        #[arg(long)]
        with_env: bool,
        #[arg(long)]
        json: bool,
    },
    /// The embedded local Lambda.
    Local {
        #[command(subcommand)]
        command: LocalCommand,
    },
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
/// Lambda's defaults.
#[derive(Debug, clap::Args)]
struct Settings {
    /// Function name (default `<module>-<function>`).
    #[arg(long)]
    name: Option<String>,
    /// Python runtime (default python3.12).
    #[arg(long)]
    runtime: Option<String>,
    /// Seconds, 1–900 (default 30).
    #[arg(long)]
    timeout: Option<u32>,
    /// MB, 128–10240 (default 512).
    #[arg(long)]
    memory: Option<u32>,
    /// MB of /tmp, 512–10240 (default 512).
    #[arg(long)]
    ephemeral_storage: Option<u32>,
    /// x86_64 (default) or arm64.
    #[arg(long)]
    architecture: Option<String>,
    /// Environment variable KEY=VALUE (repeatable).
    #[arg(long = "env")]
    env: Vec<String>,
    #[arg(long)]
    description: Option<String>,
    /// Execution role ARN (default: find or create lambda-ls-execution).
    #[arg(long)]
    role: Option<String>,
    /// Extra file or folder to package (repeatable).
    #[arg(long)]
    include: Vec<PathBuf>,
    /// Requirements file to install into a layer (default: requirements.txt next to the handler).
    #[arg(long)]
    requirements: Option<PathBuf>,
    /// Days CloudWatch keeps the function's logs.
    #[arg(long)]
    log_retention_days: Option<u32>,
    /// Deploy a plain function behind a wrapper that maps the event to its arguments.
    #[arg(long)]
    callable: bool,
}

impl Settings {
    /// The flags as project settings, validated, to lay over `lambda.toml`.
    fn to_project(&self) -> Result<ProjectSettings, Failure> {
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
            include: self.include.clone(),
            requirements: self.requirements.clone(),
            description: self.description.clone(),
            log_retention_days: self.log_retention_days,
            callable: self.callable.then_some(true),
            bundle_requirements: None,
        })
    }
}

/// One actionable sentence and the exit code it deserves.
struct Failure {
    code: u8,
    message: String,
}

impl Failure {
    fn usage(message: impl Into<String>) -> Self {
        Failure {
            code: EXIT_USAGE,
            message: message.into(),
        }
    }
}

impl From<SpecError> for Failure {
    fn from(e: SpecError) -> Self {
        Failure::usage(e.to_string())
    }
}
impl From<PackageError> for Failure {
    fn from(e: PackageError) -> Self {
        Failure::usage(e.to_string())
    }
}
impl From<PayloadError> for Failure {
    fn from(e: PayloadError) -> Self {
        Failure::usage(e.to_string())
    }
}
impl From<lambda_deploy::profiles::ProfileError> for Failure {
    fn from(e: lambda_deploy::profiles::ProfileError) -> Self {
        Failure::usage(e.to_string())
    }
}
impl From<AwsError> for Failure {
    fn from(e: AwsError) -> Self {
        let code = if e.needs_profile_fix() {
            EXIT_USAGE
        } else {
            EXIT_FAILED
        };
        Failure {
            code,
            message: aws_sentence(&e),
        }
    }
}
impl From<TargetError> for Failure {
    fn from(e: TargetError) -> Self {
        match e {
            TargetError::Profile(p) => p.into(),
            TargetError::Aws(a) => a.into(),
            TargetError::Local(l) => Failure {
                code: EXIT_FAILED,
                message: format!("cannot start the local Lambda: {l}"),
            },
        }
    }
}
impl From<DeployError> for Failure {
    fn from(e: DeployError) -> Self {
        match e {
            DeployError::Aws(a) => a.into(),
            DeployError::Artifact(lambda_deploy::artifacts::ArtifactError::Aws(a)) => a.into(),
            other => Failure {
                code: EXIT_FAILED,
                message: other.to_string(),
            },
        }
    }
}
impl From<crate::ops::PipelineError> for Failure {
    fn from(e: crate::ops::PipelineError) -> Self {
        use crate::ops::PipelineError;
        match e {
            PipelineError::Packaging(crate::ops::PackagingError::Package(p)) => p.into(),
            PipelineError::Packaging(stopped) => Failure {
                code: EXIT_FAILED,
                message: stopped.to_string(),
            },
            PipelineError::Requirements(r) => Failure::usage(r.to_string()),
            PipelineError::Deploy(d) => d.into(),
            PipelineError::Aws(a) => a.into(),
        }
    }
}
impl From<PullError> for Failure {
    fn from(e: PullError) -> Self {
        match e {
            PullError::Aws(a) => a.into(),
            PullError::NotEmpty { .. } => Failure::usage(e.to_string()),
            other => Failure {
                code: EXIT_FAILED,
                message: other.to_string(),
            },
        }
    }
}
impl From<InvokeError> for Failure {
    fn from(e: InvokeError) -> Self {
        match e {
            InvokeError::Payload(p) => p.into(),
            InvokeError::Aws(a) => a.into(),
        }
    }
}

/// AWS errors as one sentence that says what to do.
fn aws_sentence(e: &AwsError) -> String {
    crate::ops::aws_sentence(e, "`lambda-ls list` shows the functions that exist")
}

/// Runs the command line; returns the process exit code.
pub async fn run(args: Args) -> u8 {
    let local = LocalHandle::default();
    let result = dispatch(args, &local).await;
    local.shutdown().await;
    match result {
        Ok(code) => code,
        Err(f) => {
            eprintln!("error: {}", f.message);
            f.code
        }
    }
}

/// The CLI's only way to stdout; the language server never calls it.
fn emit(text: &str) {
    let mut out = std::io::stdout().lock();
    let _ = out.write_all(text.as_bytes());
    if !text.ends_with('\n') {
        let _ = out.write_all(b"\n");
    }
    let _ = out.flush();
}

fn emit_json(value: &serde_json::Value) {
    emit(&serde_json::to_string_pretty(value).expect("JSON values serialize"));
}

async fn dispatch(args: Args, local: &LocalHandle) -> Result<u8, Failure> {
    let env = ProfileEnv::from_process();
    let profile = args.profile.as_deref();
    let region = args.region.clone();
    match args.command {
        None | Some(Command::Lsp) => {
            Ok(crate::lsp::run_stdio(env, local.clone(), profile.map(str::to_string)).await)
        }
        Some(Command::Profiles { json }) => {
            let (listing, selection) = target::select(profile, &env).await?;
            let all = crate::ops::profiles_with_local(&listing);
            if json {
                emit_json(&json!({
                    "selected": selection.profile_name(),
                    "config_file": listing.config_file,
                    "credentials_file": listing.credentials_file,
                    "profiles": all,
                }));
            } else {
                for p in &all {
                    let mark = if p.name == selection.profile_name() {
                        "*"
                    } else {
                        " "
                    };
                    emit(&format!(
                        "{mark} {:<24} {:<12} {:<18} {}",
                        p.name,
                        p.region.as_deref().unwrap_or("-"),
                        p.kind.to_string(),
                        p.role_arn.as_deref().unwrap_or(""),
                    ));
                }
            }
            Ok(EXIT_OK)
        }
        Some(Command::Package {
            target,
            out,
            include,
            callable,
            json,
        }) => {
            let (file, function) = package::parse_target(&target)?;
            let resolved = package::resolve_target(&file, &function, callable)?;
            let req = PackageRequest {
                target: resolved,
                includes: include,
            };
            let pkg = build(req).await?;
            warn_all(&pkg.warnings);
            std::fs::write(&out, &pkg.bytes)
                .map_err(|e| Failure::usage(format!("cannot write {}: {e}", out.display())))?;
            if json {
                emit_json(&json!({"out": out, "package": pkg}));
            } else {
                emit(&format!(
                    "wrote {} ({} files, {}), CodeSha256 {}",
                    out.display(),
                    pkg.files.len(),
                    deploy::human_bytes(pkg.size),
                    pkg.code_sha256
                ));
            }
            Ok(EXIT_OK)
        }
        Some(Command::Deploy {
            target,
            settings,
            invoke,
            json,
        }) => {
            let (file, function) = package::parse_target(&target)?;
            let mut resolved = package::resolve_target(&file, &function, settings.callable)?;
            let (spec, project) = crate::ops::function_spec(&mut resolved, &settings.to_project()?)
                .map_err(|e| Failure::usage(e.to_string()))?;
            spec.validate()?;
            let payload = invoke.map(|p| p.into_bytes());
            if let Some(p) = &payload {
                invoke::validate_payload(p)?;
            }
            let (_, selection) = target::select(profile, &env).await?;
            let conn = target::connect(&selection, region, &env, local).await?;
            let bar = progress_bar(json);
            let report = |p: Progress| bar.set_message(p.to_string());
            let deployed =
                crate::ops::run_deploy(&conn, resolved, spec.clone(), &project, &report).await;
            bar.finish_and_clear();
            let deployed = deployed?;
            warn_all(&deployed.warnings);
            let local_run = deployed.local_run;
            let outcome = deployed.outcome;
            let invoked = match payload {
                Some(payload) => Some(
                    invoke::invoke(
                        &conn,
                        &InvokeRequest {
                            function: spec.name.clone(),
                            payload,
                            kind: InvokeKind::RequestResponse,
                            qualifier: None,
                        },
                    )
                    .await?,
                ),
                None => None,
            };
            if json {
                emit_json(&json!({"deploy": outcome, "invoke": invoked, "local_run": local_run}));
            } else {
                eprintln!("{outcome}");
                if let Some(run) = &local_run {
                    eprintln!("{run}");
                }
                if let Some(i) = &invoked {
                    print_invoke(i);
                }
            }
            Ok(invoked
                .as_ref()
                .map_or(EXIT_OK, |i| if i.failed() { EXIT_FAILED } else { EXIT_OK }))
        }
        Some(Command::Invoke {
            name,
            payload,
            payload_file,
            args: call_args,
            kwargs,
            qualifier,
            event,
            dry_run,
            debug,
            json,
        }) => {
            let payload = match (payload, payload_file) {
                (Some(p), _) => p.into_bytes(),
                (None, Some(f)) => std::fs::read(&f)
                    .map_err(|e| Failure::usage(format!("cannot read {}: {e}", f.display())))?,
                (None, None) if call_args.is_some() || kwargs.is_some() => {
                    invoke::payload_from_args(call_args.as_deref(), kwargs.as_deref())?
                }
                (None, None) => b"{}".to_vec(),
            };
            invoke::validate_payload(&payload)?;
            let kind = if event {
                InvokeKind::Event
            } else if dry_run {
                InvokeKind::DryRun
            } else {
                InvokeKind::RequestResponse
            };
            let (_, selection) = target::select(profile, &env).await?;
            let outcome = if let Some(port) = debug {
                if selection != lambda_deploy::profiles::Selection::Local {
                    return Err(Failure::usage(
                        "--debug runs the function on the local Lambda; add --profile local",
                    ));
                }
                let req = crate::debug_invoke::DebugInvoke {
                    name,
                    payload,
                    qualifier,
                    port: (port != 0).then_some(port),
                };
                crate::debug_invoke::run(local, req)
                    .await
                    .map_err(|e| Failure {
                        code: EXIT_FAILED,
                        message: e.to_string(),
                    })?
            } else {
                let conn = target::connect(&selection, region, &env, local).await?;
                let request = InvokeRequest {
                    function: name,
                    payload,
                    kind,
                    qualifier,
                };
                invoke::invoke(&conn, &request).await?
            };
            if json {
                emit_json(&serde_json::to_value(&outcome).expect("outcome serializes"));
            } else {
                print_invoke(&outcome);
            }
            Ok(if outcome.failed() {
                EXIT_FAILED
            } else {
                EXIT_OK
            })
        }
        Some(Command::List { json }) => {
            let (_, selection) = target::select(profile, &env).await?;
            let conn = target::connect(&selection, region, &env, local).await?;
            let all = functions::list_functions(&conn).await?;
            if json {
                emit_json(&serde_json::to_value(&all).expect("summaries serialize"));
            } else if all.is_empty() {
                eprintln!("no functions on {}", conn.info);
            } else {
                for f in &all {
                    emit(&f.to_string());
                }
            }
            Ok(EXIT_OK)
        }
        Some(Command::Delete { name, all, json }) => {
            let (_, selection) = target::select(profile, &env).await?;
            let conn = target::connect(&selection, region, &env, local).await?;
            if all {
                let removed = maintain::delete_all(&conn, &name).await?;
                if json {
                    emit_json(&json!({"deleted": removed, "target": conn.info}));
                } else {
                    emit(&format!("deleted {name} from {}", conn.info));
                    for l in &removed.layer_versions {
                        emit(&format!("deleted layer version {l}"));
                    }
                    if let Some(r) = &removed.role {
                        emit(&format!("deleted role {r}"));
                    }
                    for a in &removed.artifacts {
                        emit(&format!("deleted artifact {a}"));
                    }
                }
            } else {
                functions::delete_function(&conn, &name).await?;
                if json {
                    emit_json(&json!({"deleted": name, "target": conn.info}));
                } else {
                    emit(&format!("deleted {name} from {}", conn.info));
                }
            }
            Ok(EXIT_OK)
        }
        Some(Command::Logs {
            name,
            since,
            follow,
            json,
        }) => {
            let back = humantime::parse_duration(&since).map_err(|e| {
                Failure::usage(format!(
                    "--since `{since}` is not a duration like 10m or 2h: {e}"
                ))
            })?;
            let (_, selection) = target::select(profile, &env).await?;
            let conn = target::connect(&selection, region, &env, local).await?;
            let mut from = std::time::SystemTime::now() - back;
            let mut seen = std::collections::HashSet::new();
            loop {
                for e in maintain::read_logs(&conn, &name, from).await? {
                    if !seen.insert((e.timestamp_ms, e.stream.clone(), e.message.clone())) {
                        continue;
                    }
                    if json {
                        emit(&serde_json::to_string(&e).expect("events serialize"));
                    } else {
                        emit(&e.to_string());
                    }
                    let t =
                        std::time::UNIX_EPOCH + Duration::from_millis(e.timestamp_ms.max(0) as u64);
                    from = from.max(t);
                }
                if !follow {
                    break;
                }
                tokio::select! {
                    _ = tokio::time::sleep(FOLLOW_POLL) => {}
                    _ = tokio::signal::ctrl_c() => break,
                }
            }
            Ok(EXIT_OK)
        }
        Some(Command::Publish { name, alias, json }) => {
            let (_, selection) = target::select(profile, &env).await?;
            let conn = target::connect(&selection, region, &env, local).await?;
            let published = maintain::publish(&conn, &name, alias.as_deref()).await?;
            if json {
                emit_json(&serde_json::to_value(&published).expect("serializes"));
            } else {
                emit(&published.to_string());
            }
            Ok(EXIT_OK)
        }
        Some(Command::Share {
            name,
            account,
            url,
            public,
            list,
            json,
        }) => {
            let (_, selection) = target::select(profile, &env).await?;
            let conn = target::connect(&selection, region, &env, local).await?;
            if let Some(account) = &account {
                if account.len() != 12 || !account.bytes().all(|b| b.is_ascii_digit()) {
                    return Err(Failure::usage(format!(
                        "--account `{account}` is not a 12-digit AWS account id"
                    )));
                }
                maintain::share_with_account(&conn, &name, account).await?;
            } else if url {
                let auth = if public {
                    // The local Lambda serves URLs on loopback only.
                    let who = if conn.info.local {
                        "this machine"
                    } else {
                        "the internet"
                    };
                    eprintln!("warning: the URL of {name} will be callable by anyone on {who}, without credentials");
                    UrlAuth::Public
                } else {
                    UrlAuth::AwsIam
                };
                maintain::share_url(&conn, &name, auth).await?;
            } else if !list {
                return Err(Failure::usage("share needs --account ID, --url or --list"));
            }
            let state = maintain::share_state(&conn, &name).await?;
            if json {
                emit_json(&serde_json::to_value(&state).expect("serializes"));
            } else {
                emit(&state.to_string());
            }
            Ok(EXIT_OK)
        }
        Some(Command::Unshare {
            name,
            account,
            json,
        }) => {
            let (_, selection) = target::select(profile, &env).await?;
            let conn = target::connect(&selection, region, &env, local).await?;
            let removed = maintain::unshare(&conn, &name, account.as_deref()).await?;
            if json {
                emit_json(&json!({"function": name, "removed": removed}));
            } else if removed.is_empty() {
                emit(&format!("{name} was not shared by lambda-ls"));
            } else {
                emit(&format!("removed from {name}: {}", removed.join(", ")));
            }
            Ok(EXIT_OK)
        }
        Some(Command::Map {
            name,
            inputs,
            concurrency,
            starmap,
        }) => {
            let text = std::fs::read_to_string(&inputs)
                .map_err(|e| Failure::usage(format!("cannot read {}: {e}", inputs.display())))?;
            let mut values = Vec::new();
            for (i, line) in text
                .lines()
                .enumerate()
                .filter(|(_, l)| !l.trim().is_empty())
            {
                let v: serde_json::Value = serde_json::from_str(line).map_err(|e| {
                    Failure::usage(format!(
                        "{} line {}: not JSON: {e}",
                        inputs.display(),
                        i + 1
                    ))
                })?;
                if starmap && !v.is_array() {
                    return Err(Failure::usage(format!(
                        "{} line {}: --starmap needs a JSON array of arguments",
                        inputs.display(),
                        i + 1
                    )));
                }
                values.push(v);
            }
            if concurrency == 0 {
                return Err(Failure::usage("--concurrency must be at least 1"));
            }
            let (_, selection) = target::select(profile, &env).await?;
            let conn = target::connect(&selection, region, &env, local).await?;
            let bar = ProgressBar::new(values.len() as u64);
            bar.set_style(
                ProgressStyle::with_template("{bar:30} {pos}/{len} invokes ({elapsed})")
                    .unwrap_or_else(|_| ProgressStyle::default_bar()),
            );
            let mode = if starmap {
                MapMode::Starmap
            } else {
                MapMode::Event
            };
            let results = fanout::map(&conn, &name, values, mode, concurrency, &|done, _| {
                bar.set_position(done as u64)
            })
            .await;
            bar.finish_and_clear();
            let failed = results.iter().filter(|r| !r.ok).count();
            for r in &results {
                emit(&serde_json::to_string(r).expect("results serialize"));
            }
            if failed > 0 {
                eprintln!("{failed} of {} inputs failed", results.len());
            }
            Ok(if failed > 0 { EXIT_FAILED } else { EXIT_OK })
        }
        Some(Command::Event {
            trigger,
            out,
            list,
            json,
        }) => sample_event(trigger.as_deref(), out, list, json),
        Some(Command::Pull {
            name,
            dir,
            with_env,
            json,
        }) => {
            let (_, selection) = target::select(profile, &env).await?;
            let conn = target::connect(&selection, region, &env, local).await?;
            let req = pull::PullRequest {
                dir: dir.unwrap_or_else(|| PathBuf::from(&name)),
                function: name,
                with_env,
            };
            let pulled = pull::pull(&conn, &req).await?;
            if json {
                emit_json(&serde_json::to_value(&pulled).expect("serializes"));
            } else {
                emit(&format!(
                    "pulled {} from {} into {} ({} files, {}); deploy it back with `lambda-ls deploy {}` there",
                    pulled.function,
                    conn.info,
                    pulled.dir.display(),
                    pulled.files,
                    deploy::human_bytes(pulled.bytes),
                    pulled.target
                ));
                if !pulled.env_left_out.is_empty() {
                    eprintln!(
                        "warning: environment values left out of lambda.toml ({}); deploying without them removes them, `--with-env` writes them",
                        pulled.env_left_out.join(", ")
                    );
                }
            }
            Ok(EXIT_OK)
        }
        Some(Command::Local {
            command: LocalCommand::Serve { port },
        }) => serve_local(port).await,
    }
}

/// `lambda-ls event`: the catalog, or one template printed or written to a new file.
fn sample_event(
    trigger: Option<&str>,
    out: Option<PathBuf>,
    list: bool,
    json: bool,
) -> Result<u8, Failure> {
    if list {
        if json {
            emit_json(&serde_json::to_value(events::CATALOG).expect("the catalog serializes"));
        } else {
            for t in events::CATALOG {
                emit(&format!("{:<22} {}", t.name, t.title));
            }
        }
        return Ok(EXIT_OK);
    }
    let name = trigger.unwrap_or_default();
    let t = events::find(name).ok_or_else(|| {
        Failure::usage(format!(
            "there is no sample event for `{name}`; `lambda-ls event --list` shows the triggers"
        ))
    })?;
    let Some(out) = out else {
        emit(t.template);
        return Ok(EXIT_OK);
    };
    if out.exists() {
        return Err(Failure::usage(format!(
            "{} already exists; remove it or choose another --out",
            out.display()
        )));
    }
    if let Some(dir) = out.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)
            .map_err(|e| Failure::usage(format!("cannot create {}: {e}", dir.display())))?;
    }
    std::fs::write(&out, t.template)
        .map_err(|e| Failure::usage(format!("cannot write {}: {e}", out.display())))?;
    if json {
        emit_json(&json!({"trigger": t.name, "out": out}));
    } else {
        emit(&format!("wrote {} ({})", out.display(), t.title));
    }
    Ok(EXIT_OK)
}

async fn serve_local(port: u16) -> Result<u8, Failure> {
    let mut config = lambda_local::LocalConfig::new(lambda_local::default_data_dir());
    config.port = port;
    let server = lambda_local::LocalLambda::start(config)
        .await
        .map_err(|e| Failure {
            code: EXIT_FAILED,
            message: format!("cannot start the local Lambda: {e}"),
        })?;
    emit(&format!("local Lambda listening on {}", server.endpoint()));
    eprintln!(
        "use it with: AWS_ENDPOINT_URL={} AWS_ACCESS_KEY_ID=x AWS_SECRET_ACCESS_KEY=x AWS_REGION=us-east-1; Ctrl-C stops",
        server.endpoint()
    );
    let _ = tokio::signal::ctrl_c().await;
    server.shutdown().await;
    Ok(EXIT_OK)
}

async fn build(req: PackageRequest) -> Result<package::Package, Failure> {
    crate::ops::package(req).await.map_err(|e| match e {
        crate::ops::PackagingError::Package(p) => p.into(),
        stopped => Failure {
            code: EXIT_FAILED,
            message: stopped.to_string(),
        },
    })
}

fn progress_bar(json: bool) -> ProgressBar {
    if json {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new_spinner();
    bar.set_style(
        ProgressStyle::with_template("{spinner} {msg} ({elapsed})")
            .unwrap_or_else(|_| ProgressStyle::default_spinner()),
    );
    bar.enable_steady_tick(Duration::from_millis(120));
    bar
}

fn warn_all(warnings: &[String]) {
    for w in warnings {
        eprintln!("warning: {w}");
    }
}

fn print_invoke(outcome: &invoke::InvokeOutcome) {
    if let Some(tail) = &outcome.log_tail {
        eprintln!("--- log tail ---\n{}", tail.trim_end());
        eprintln!("---");
    }
    if outcome.failed() {
        eprint!("{outcome}");
    } else {
        emit(&outcome.to_string());
    }
    if let Some(v) = &outcome.executed_version {
        eprintln!("({} ms, version {v})", outcome.duration_ms.round());
    }
}
