//! The idempotent deploy: get → create | update code | update configuration, then wait until
//! Lambda says the function is ready. Repeating or cancelling a deploy is always safe.

use std::collections::HashMap;
use std::fmt;
use std::time::{Duration, Instant};

use aws_sdk_lambda::primitives::Blob;
use aws_sdk_lambda::types::{
    Architecture as SdkArchitecture, Environment, EphemeralStorage, FunctionCode,
    FunctionConfiguration, LastUpdateStatus, Runtime as SdkRuntime, State,
};
use serde::Serialize;

use crate::artifacts::{self, ArtifactError, ArtifactOwner, ArtifactRequest, StagedArtifact};
use crate::aws::{AwsError, Connection, Service, TargetInfo, LOCAL_ACCOUNT};
use crate::package::Package;
// Declared in their own modules, so `artifacts` and `package` need not import `deploy` (which
// imports them); the front ends still name them here.
pub use crate::aws::CREATED_BY_TAG;
pub use crate::progress::{human_bytes, Progress};
use crate::spec::{ExecutionRole, FunctionSpec};

/// The role this tool creates when none is given.
pub const DEFAULT_ROLE_NAME: &str = "lambda-ls-execution";
const BASIC_EXECUTION_POLICY: &str =
    "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole";
const TRUST_POLICY: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"lambda.amazonaws.com"},"Action":"sts:AssumeRole"}]}"#;

/// Polling Lambda for a state change: first wait, growth and cap (the total is `Limits::ready_wait`).
const WAIT_FIRST: Duration = Duration::from_millis(100);
const WAIT_FACTOR: f64 = 1.5;
const WAIT_MAX: Duration = Duration::from_secs(5);
/// Retrying calls that Lambda refuses for a moment (conflicts, throttling, a new role).
const RETRY_FIRST: Duration = Duration::from_millis(500);
const RETRY_MAX: Duration = Duration::from_secs(8);
const RETRY_ATTEMPTS: u32 = 8;
/// A new IAM role can take ten seconds or more to become assumable by Lambda.
const ROLE_RETRY_ATTEMPTS: u32 = 12;

/// What the deploy changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum DeployAction {
    Created,
    UpdatedCode,
    UpdatedConfiguration,
    UpdatedCodeAndConfiguration,
    Unchanged,
}

/// The result of a deploy, for people (`Display`) and programs (`Serialize`).
#[derive(Debug, Clone, Serialize)]
pub struct DeployOutcome {
    pub function_name: String,
    pub function_arn: String,
    pub action: DeployAction,
    pub handler: String,
    pub runtime: String,
    pub code_sha256: String,
    pub code_size: u64,
    pub target: TargetInfo,
    pub duration_ms: u64,
    /// Set when the zip went through the S3 artifacts bucket (over the direct-upload limit).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub artifact: Option<StagedArtifact>,
    /// The function URL of an updated function that has one, when the caller asked for it (the
    /// editor does, for Open URL; an unchanged deploy stays one call otherwise).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
}

impl fmt::Display for DeployOutcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let what = match self.action {
            DeployAction::Created => "created",
            DeployAction::UpdatedCode => "updated code of",
            DeployAction::UpdatedConfiguration => "updated configuration of",
            DeployAction::UpdatedCodeAndConfiguration => "updated code and configuration of",
            DeployAction::Unchanged => "unchanged:",
        };
        write!(
            f,
            "{what} {} on {} in {:.1} s ({}, {}, {})",
            self.function_name,
            self.target,
            self.duration_ms as f64 / 1000.0,
            self.runtime,
            self.handler,
            human_bytes(self.code_size),
        )?;
        match &self.url {
            Some(url) => write!(f, "; url {url}"),
            None => Ok(()),
        }
    }
}

/// Why a deploy did not finish.
#[derive(Debug, thiserror::Error)]
pub enum DeployError {
    #[error(transparent)]
    Aws(#[from] AwsError),
    #[error(transparent)]
    Artifact(#[from] ArtifactError),
    #[error("function {function} is {state}: {reason}")]
    Failed {
        function: String,
        state: String,
        reason: String,
    },
    #[error(
        "function {function} was still {state} after {waited:.0} s; check it in the Lambda console"
    )]
    NotReady {
        function: String,
        state: String,
        waited: f64,
    },
}

/// Everything one deploy needs.
#[derive(Debug, Clone)]
pub struct DeployRequest<'a> {
    pub spec: &'a FunctionSpec,
    pub package: &'a Package,
}

/// Creates or updates the function so that it runs exactly this code and configuration.
pub async fn deploy(
    conn: &Connection,
    req: DeployRequest<'_>,
    progress: &(dyn Fn(Progress) + Send + Sync),
) -> Result<DeployOutcome, DeployError> {
    let started = Instant::now();
    let spec = req.spec;
    progress(Progress::Checking {
        function: spec.name.clone(),
    });
    let (config, action, artifact) = match get_configuration(conn, &spec.name).await? {
        None => create(conn, &req, progress).await?,
        Some(current) => update(conn, &req, current, progress).await?,
    };
    Ok(DeployOutcome {
        url: None,
        function_name: spec.name.clone(),
        function_arn: config.function_arn().unwrap_or_default().to_string(),
        action,
        handler: spec.handler.clone(),
        runtime: spec.runtime.to_string(),
        code_sha256: req.package.code_sha256.clone(),
        code_size: req.package.size,
        target: conn.info.clone(),
        duration_ms: started.elapsed().as_millis() as u64,
        artifact,
    })
}

/// What a deploy did: the function's configuration after it, and the S3 artifact its code came
/// from (code over the direct-upload limit).
type Deployed = (FunctionConfiguration, DeployAction, Option<StagedArtifact>);

/// A new function: its role (the default one made if needed), then CreateFunction, retried
/// while a new role is not yet usable, then the wait until it is `Active`.
async fn create(
    conn: &Connection,
    req: &DeployRequest<'_>,
    progress: &(dyn Fn(Progress) + Send + Sync),
) -> Result<Deployed, DeployError> {
    let spec = req.spec;
    let role = resolve_role(conn, &spec.role, progress).await?;
    let code = code_source(conn, spec, req.package, progress).await?;
    let created = with_retries(progress, ROLE_RETRY_ATTEMPTS, || {
        create_function(conn, spec, &code, &role)
    })
    .await?;
    let ready = wait_ready(conn, &spec.name, progress).await?;
    Ok((
        ready.unwrap_or(created),
        DeployAction::Created,
        code.staged().cloned(),
    ))
}

/// An existing function: its code only when `CodeSha256` (or the architecture) differs, its
/// configuration only when a setting differs, each followed by the wait for the update.
async fn update(
    conn: &Connection,
    req: &DeployRequest<'_>,
    current: FunctionConfiguration,
    progress: &(dyn Fn(Progress) + Send + Sync),
) -> Result<Deployed, DeployError> {
    let spec = req.spec;
    let mut current = if is_busy(&current) {
        wait_ready(conn, &spec.name, progress)
            .await?
            .unwrap_or(current)
    } else {
        current
    };
    let mut artifact = None;
    let code_changed = current.code_sha256() != Some(req.package.code_sha256.as_str())
        || current_architecture(&current) != spec.architecture.as_str();
    if code_changed {
        let code = code_source(conn, spec, req.package, progress).await?;
        artifact = code.staged().cloned();
        with_retries(progress, RETRY_ATTEMPTS, || update_code(conn, spec, &code)).await?;
        current = wait_ready(conn, &spec.name, progress)
            .await?
            .unwrap_or(current);
    }
    let config_changed = !config_matches(&current, spec);
    if config_changed {
        progress(Progress::UpdatingConfiguration);
        with_retries(progress, RETRY_ATTEMPTS, || {
            update_configuration(conn, spec)
        })
        .await?;
        current = wait_ready(conn, &spec.name, progress)
            .await?
            .unwrap_or(current);
    }
    let action = match (code_changed, config_changed) {
        (true, true) => DeployAction::UpdatedCodeAndConfiguration,
        (true, false) => DeployAction::UpdatedCode,
        (false, true) => DeployAction::UpdatedConfiguration,
        (false, false) => DeployAction::Unchanged,
    };
    Ok((current, action, artifact))
}

/// How the zip reaches Lambda: inline up to the direct-upload limit, else from S3.
enum CodeSource {
    Zip(Blob),
    S3(StagedArtifact),
}

impl CodeSource {
    fn staged(&self) -> Option<&StagedArtifact> {
        match self {
            CodeSource::S3(s) => Some(s),
            CodeSource::Zip(_) => None,
        }
    }

    fn function_code(&self) -> FunctionCode {
        match self {
            CodeSource::Zip(blob) => FunctionCode::builder().zip_file(blob.clone()).build(),
            CodeSource::S3(s) => FunctionCode::builder()
                .s3_bucket(&s.bucket)
                .s3_key(&s.key)
                .build(),
        }
    }
}

async fn code_source(
    conn: &Connection,
    spec: &FunctionSpec,
    package: &Package,
    progress: &(dyn Fn(Progress) + Send + Sync),
) -> Result<CodeSource, ArtifactError> {
    if !package.needs_s3() {
        progress(Progress::Uploading {
            bytes: package.size,
        });
        return Ok(CodeSource::Zip(Blob::new(package.bytes.to_vec())));
    }
    let req = ArtifactRequest {
        owner: ArtifactOwner::Function(&spec.name),
        bytes: &package.bytes,
        code_sha256: &package.code_sha256,
    };
    Ok(CodeSource::S3(artifacts::stage(conn, req, progress).await?))
}

/// The function's configuration, or `None` when it does not exist.
pub async fn get_configuration(
    conn: &Connection,
    name: &str,
) -> Result<Option<FunctionConfiguration>, AwsError> {
    match conn.lambda.get_function().function_name(name).send().await {
        Ok(out) => Ok(out.configuration),
        Err(e) => {
            let err = conn.error("GetFunction", e);
            if err.is_not_found() {
                Ok(None)
            } else {
                Err(err)
            }
        }
    }
}

fn is_busy(c: &FunctionConfiguration) -> bool {
    matches!(c.state(), Some(State::Pending))
        || matches!(c.last_update_status(), Some(LastUpdateStatus::InProgress))
}

fn current_architecture(c: &FunctionConfiguration) -> &str {
    c.architectures()
        .first()
        .map(|a| a.as_str())
        .unwrap_or("x86_64")
}

/// Waits until the function can be invoked and updated; `Failed` is an error with Lambda's reason.
pub async fn wait_ready(
    conn: &Connection,
    name: &str,
    progress: &(dyn Fn(Progress) + Send + Sync),
) -> Result<Option<FunctionConfiguration>, DeployError> {
    let started = Instant::now();
    let mut delay = WAIT_FIRST;
    let mut last_state = String::from("unknown");
    let mut attempt = 0;
    while started.elapsed() < conn.limits.ready_wait {
        attempt += 1;
        let Some(c) = get_configuration(conn, name).await? else {
            return Ok(None);
        };
        match (c.state(), c.last_update_status()) {
            (Some(State::Failed), _) => {
                return Err(DeployError::Failed {
                    function: name.to_string(),
                    state: "Failed".to_string(),
                    reason: c.state_reason().unwrap_or("no reason given").to_string(),
                })
            }
            (_, Some(LastUpdateStatus::Failed)) => {
                return Err(DeployError::Failed {
                    function: name.to_string(),
                    state: "update Failed".to_string(),
                    reason: c
                        .last_update_status_reason()
                        .unwrap_or("no reason given")
                        .to_string(),
                })
            }
            (Some(State::Pending), _) | (_, Some(LastUpdateStatus::InProgress)) => {
                last_state = format!(
                    "{}/{}",
                    c.state().map_or("-", |s| s.as_str()),
                    c.last_update_status().map_or("-", |s| s.as_str())
                );
                progress(Progress::Waiting {
                    state: last_state.clone(),
                    attempt,
                });
                let left = conn.limits.ready_wait.saturating_sub(started.elapsed());
                tokio::time::sleep(delay.min(left)).await;
                delay = delay.mul_f64(WAIT_FACTOR).min(WAIT_MAX);
            }
            // Active, Inactive (wakes on invoke) or a state this SDK does not know yet: usable.
            _ => return Ok(Some(c)),
        }
    }
    Err(DeployError::NotReady {
        function: name.to_string(),
        state: last_state,
        waited: started.elapsed().as_secs_f64(),
    })
}

/// Retries a call while Lambda says "not now": conflicts, throttling, a role still propagating.
async fn with_retries<T, F, Fut>(
    progress: &(dyn Fn(Progress) + Send + Sync),
    attempts: u32,
    mut call: F,
) -> Result<T, AwsError>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, AwsError>>,
{
    let mut delay = RETRY_FIRST;
    let mut attempt = 1;
    loop {
        match call().await {
            Ok(v) => return Ok(v),
            Err(e)
                if attempt < attempts
                    && (e.is_conflict() || e.is_throttling() || e.is_role_not_ready()) =>
            {
                progress(Progress::Retrying {
                    reason: e.code().unwrap_or("busy").to_string(),
                    attempt,
                });
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(RETRY_MAX);
                attempt += 1;
            }
            Err(e) => return Err(e),
        }
    }
}

/// The role ARN to run as: the given one, or `lambda-ls-execution`, created when missing.
///
/// Safe to interrupt and to run twice at once: a role we created (tagged [`CREATED_BY_TAG`])
/// gets its policy attached whenever it lacks it, so a deploy stopped between `CreateRole` and
/// `AttachRolePolicy` is completed by the next one; `EntityAlreadyExists` means a concurrent
/// deploy created it first, and we go on with that role.
pub async fn resolve_role(
    conn: &Connection,
    role: &ExecutionRole,
    progress: &(dyn Fn(Progress) + Send + Sync),
) -> Result<String, AwsError> {
    if let ExecutionRole::Existing(arn) = role {
        return Ok(arn.clone());
    }
    let Some(iam) = &conn.iam else {
        // The local Lambda accepts any role; no IAM there.
        return Ok(format!(
            "arn:aws:iam::{LOCAL_ACCOUNT}:role/{DEFAULT_ROLE_NAME}"
        ));
    };
    let existing = match get_default_role(conn, iam).await? {
        Some(found) => found,
        None => {
            progress(Progress::CreatingRole {
                role: DEFAULT_ROLE_NAME.to_string(),
            });
            match create_default_role(conn, iam).await {
                Ok(created) => created,
                Err(e) if e.code() == Some("EntityAlreadyExists") => {
                    get_default_role(conn, iam).await?.ok_or(e)?
                }
                Err(e) => return Err(e),
            }
        }
    };
    // A role of the same name that the user made is theirs to configure.
    if existing
        .tags()
        .iter()
        .any(|t| (t.key(), t.value()) == CREATED_BY_TAG)
    {
        ensure_basic_policy(conn, iam).await?;
    }
    Ok(existing.arn)
}

async fn get_default_role(
    conn: &Connection,
    iam: &aws_sdk_iam::Client,
) -> Result<Option<aws_sdk_iam::types::Role>, AwsError> {
    match iam.get_role().role_name(DEFAULT_ROLE_NAME).send().await {
        Ok(out) => Ok(out.role),
        Err(e) => match conn.error_in(Service::Iam, "GetRole", e) {
            err if err.is_not_found() => Ok(None),
            err => Err(err),
        },
    }
}

async fn create_default_role(
    conn: &Connection,
    iam: &aws_sdk_iam::Client,
) -> Result<aws_sdk_iam::types::Role, AwsError> {
    let tag = aws_sdk_iam::types::Tag::builder()
        .key(CREATED_BY_TAG.0)
        .value(CREATED_BY_TAG.1)
        .build()
        .map_err(|e| AwsError::Other {
            operation: "CreateRole",
            detail: e.to_string(),
        })?;
    let created = iam
        .create_role()
        .role_name(DEFAULT_ROLE_NAME)
        .assume_role_policy_document(TRUST_POLICY)
        .description("Execution role for functions deployed by lambda-ls")
        .tags(tag)
        .send()
        .await
        .map_err(|e| conn.error_in(Service::Iam, "CreateRole", e))?;
    created.role.ok_or_else(|| AwsError::Other {
        operation: "CreateRole",
        detail: "IAM answered without the role".to_string(),
    })
}

/// Attaches the basic execution policy unless it already is (attaching is idempotent in IAM,
/// but asking first spares a write on every deploy).
async fn ensure_basic_policy(conn: &Connection, iam: &aws_sdk_iam::Client) -> Result<(), AwsError> {
    let attached = iam
        .list_attached_role_policies()
        .role_name(DEFAULT_ROLE_NAME)
        .send()
        .await
        .map_err(|e| conn.error_in(Service::Iam, "ListAttachedRolePolicies", e))?;
    if attached
        .attached_policies()
        .iter()
        .any(|p| p.policy_arn() == Some(BASIC_EXECUTION_POLICY))
    {
        return Ok(());
    }
    iam.attach_role_policy()
        .role_name(DEFAULT_ROLE_NAME)
        .policy_arn(BASIC_EXECUTION_POLICY)
        .send()
        .await
        .map_err(|e| conn.error_in(Service::Iam, "AttachRolePolicy", e))?;
    Ok(())
}

fn environment(spec: &FunctionSpec) -> Environment {
    let vars: HashMap<String, String> = spec
        .environment
        .iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    Environment::builder().set_variables(Some(vars)).build()
}

fn ephemeral(spec: &FunctionSpec) -> Result<EphemeralStorage, AwsError> {
    EphemeralStorage::builder()
        .size(spec.ephemeral_storage_mb as i32)
        .build()
        .map_err(|e| AwsError::Other {
            operation: "EphemeralStorage",
            detail: e.to_string(),
        })
}

async fn create_function(
    conn: &Connection,
    spec: &FunctionSpec,
    code: &CodeSource,
    role: &str,
) -> Result<FunctionConfiguration, AwsError> {
    let out = conn
        .lambda
        .create_function()
        .function_name(&spec.name)
        .runtime(SdkRuntime::from(spec.runtime.as_str()))
        .role(role)
        .handler(&spec.handler)
        .code(code.function_code())
        .description(&spec.description)
        .timeout(spec.timeout_secs as i32)
        .memory_size(spec.memory_mb as i32)
        .ephemeral_storage(ephemeral(spec)?)
        .architectures(SdkArchitecture::from(spec.architecture.as_str()))
        .environment(environment(spec))
        .set_layers((!spec.layers.is_empty()).then(|| spec.layers.clone()))
        .tags(CREATED_BY_TAG.0, CREATED_BY_TAG.1)
        .send()
        .await
        .map_err(|e| conn.error("CreateFunction", e))?;
    Ok(to_configuration(out))
}

/// CreateFunction answers with the configuration's fields at the top level.
fn to_configuration(
    out: aws_sdk_lambda::operation::create_function::CreateFunctionOutput,
) -> FunctionConfiguration {
    FunctionConfiguration::builder()
        .set_function_name(out.function_name)
        .set_function_arn(out.function_arn)
        .set_code_sha256(out.code_sha256)
        .set_state(out.state)
        .set_last_update_status(out.last_update_status)
        .build()
}

async fn update_code(
    conn: &Connection,
    spec: &FunctionSpec,
    code: &CodeSource,
) -> Result<(), AwsError> {
    let call = conn.lambda.update_function_code().function_name(&spec.name);
    let call = match code {
        CodeSource::Zip(blob) => call.zip_file(blob.clone()),
        CodeSource::S3(s) => call.s3_bucket(&s.bucket).s3_key(&s.key),
    };
    call.architectures(SdkArchitecture::from(spec.architecture.as_str()))
        .send()
        .await
        .map_err(|e| conn.error("UpdateFunctionCode", e))?;
    Ok(())
}

async fn update_configuration(conn: &Connection, spec: &FunctionSpec) -> Result<(), AwsError> {
    let mut call = conn
        .lambda
        .update_function_configuration()
        .function_name(&spec.name)
        .runtime(SdkRuntime::from(spec.runtime.as_str()))
        .handler(&spec.handler)
        .description(&spec.description)
        .timeout(spec.timeout_secs as i32)
        .memory_size(spec.memory_mb as i32)
        .ephemeral_storage(ephemeral(spec)?)
        .environment(environment(spec))
        .set_layers(Some(spec.layers.clone()));
    if let ExecutionRole::Existing(arn) = &spec.role {
        call = call.role(arn);
    }
    call.send()
        .await
        .map_err(|e| conn.error("UpdateFunctionConfiguration", e))?;
    Ok(())
}

/// True when the live configuration already has every setting of the spec.
fn config_matches(c: &FunctionConfiguration, spec: &FunctionSpec) -> bool {
    let env_now: HashMap<String, String> = c
        .environment()
        .and_then(|e| e.variables())
        .cloned()
        .unwrap_or_default();
    let env_wanted: HashMap<String, String> = spec
        .environment
        .iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    let role_matches = match &spec.role {
        ExecutionRole::Existing(arn) => c.role() == Some(arn.as_str()),
        ExecutionRole::CreateDefault => true,
    };
    c.runtime().map(|r| r.as_str()) == Some(spec.runtime.as_str())
        && c.handler() == Some(spec.handler.as_str())
        && c.timeout() == Some(spec.timeout_secs as i32)
        && c.memory_size() == Some(spec.memory_mb as i32)
        && c.ephemeral_storage().map(|e| e.size()).unwrap_or(512)
            == spec.ephemeral_storage_mb as i32
        && c.description().unwrap_or("") == spec.description
        && env_now == env_wanted
        && role_matches
        && c.layers()
            .iter()
            .map(|l| l.arn().unwrap_or_default())
            .eq(spec.layers.iter().map(String::as_str))
}
