//! Functions and versions: create, read, list, update code and configuration, publish, delete.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde::Deserialize;
use serde_json::{json, Value};

use super::{
    check_revision, config_at, decode_base64, function_ref, paginate, read_record, Ctx, Reply, Req,
    Result,
};
use crate::error::ApiError;
use crate::model::{
    function_arn, parse_layer_version_arn, valid_function_name, valid_role, FunctionConfig,
    FunctionRecord, LayerRef, State, UpdateStatus, LATEST, RESERVED_ENV, RUNTIMES,
};
use crate::registry::Registry;
use crate::store::sha256;

/// Lambda's limit on a zip uploaded directly (not through S3).
const ZIP_LIMIT: usize = 50 * 1024 * 1024;
/// Lambda's limit on the unzipped code (S3 or direct).
const UNZIPPED_LIMIT: u64 = 262_144_000;
/// Lambda's limit on the total size of a function's environment variables.
const ENV_LIMIT: usize = 4096;
const MAX_LIST: usize = 50;

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct CodeInput {
    zip_file: Option<String>,
    s3_bucket: Option<String>,
    s3_key: Option<String>,
    image_uri: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct EnvInput {
    variables: Option<BTreeMap<String, String>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct SizeInput {
    size: Option<i64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct LoggingInput {
    log_format: Option<String>,
    log_group: Option<String>,
}

/// The configuration fields CreateFunction and UpdateFunctionConfiguration share.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ConfigInput {
    runtime: Option<String>,
    role: Option<String>,
    handler: Option<String>,
    description: Option<String>,
    timeout: Option<i64>,
    memory_size: Option<i64>,
    environment: Option<EnvInput>,
    ephemeral_storage: Option<SizeInput>,
    layers: Option<Vec<String>>,
    logging_config: Option<LoggingInput>,
    revision_id: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct CreateInput {
    function_name: Option<String>,
    code: Option<CodeInput>,
    publish: Option<bool>,
    architectures: Option<Vec<String>>,
    package_type: Option<String>,
    tags: Option<BTreeMap<String, String>>,
    #[serde(flatten)]
    config: ConfigInput,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct UpdateCodeInput {
    zip_file: Option<String>,
    s3_bucket: Option<String>,
    s3_key: Option<String>,
    image_uri: Option<String>,
    publish: Option<bool>,
    dry_run: Option<bool>,
    revision_id: Option<String>,
    architectures: Option<Vec<String>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct PublishInput {
    code_sha256: Option<String>,
    description: Option<String>,
    revision_id: Option<String>,
}

fn constraint(value: impl std::fmt::Display, field: &str, rule: &str) -> ApiError {
    ApiError::validation(format!(
        "1 validation error detected: Value '{value}' at '{field}' failed to satisfy constraint: {rule}"
    ))
}

fn check_range(value: i64, field: &str, min: i64, max: i64) -> Result<u32> {
    if value < min {
        return Err(constraint(
            value,
            field,
            &format!("Member must have value greater than or equal to {min}"),
        ));
    }
    if value > max {
        return Err(constraint(
            value,
            field,
            &format!("Member must have value less than or equal to {max}"),
        ));
    }
    Ok(value as u32)
}

fn check_runtime(runtime: &str) -> Result<()> {
    if RUNTIMES.contains(&runtime) {
        Ok(())
    } else {
        Err(ApiError::invalid(format!(
            "Value {runtime} at 'runtime' failed to satisfy constraint: Member must satisfy enum value set: [{}] or be a valid ARN",
            RUNTIMES.join(", ")
        )))
    }
}

fn check_handler(handler: &str) -> Result<()> {
    if handler.is_empty() || handler.len() > 128 || handler.chars().any(char::is_whitespace) {
        return Err(constraint(
            handler,
            "handler",
            "Member must satisfy regular expression pattern: [^\\s]+",
        ));
    }
    Ok(())
}

fn check_env(vars: &BTreeMap<String, String>) -> Result<()> {
    let reserved: Vec<&str> = vars
        .keys()
        .map(String::as_str)
        .filter(|k| RESERVED_ENV.contains(k))
        .collect();
    if !reserved.is_empty() {
        return Err(ApiError::invalid(format!(
            "Lambda was unable to configure your environment variables because the environment variables you have provided contains reserved keys that are currently not supported for modification. Reserved keys used in this request: {}",
            reserved.join(", ")
        )));
    }
    for key in vars.keys() {
        let mut chars = key.chars();
        let ok = chars.next().is_some_and(|c| c.is_ascii_alphabetic())
            && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
            && key.len() >= 2;
        if !ok {
            return Err(constraint(
                key,
                "environment.variables",
                "Member must satisfy regular expression pattern: [a-zA-Z]([a-zA-Z0-9_])+",
            ));
        }
    }
    // AWS measures the variables as JSON and quotes that string back (localstack's
    // `_verify_env_variables`, recorded against AWS in its test_lambda_api snapshots).
    let measured = serde_json::to_string(vars).unwrap_or_default();
    if measured.len() > ENV_LIMIT {
        return Err(ApiError::invalid(format!(
            "Lambda was unable to configure your environment variables because the environment variables you have provided exceeded the 4KB limit. String measured: {measured}"
        )));
    }
    Ok(())
}

fn check_architectures(archs: &[String]) -> Result<()> {
    match archs {
        [a] if a == "x86_64" || a == "arm64" => Ok(()),
        _ => Err(constraint(
            format!("{archs:?}"),
            "architectures",
            "Member must have length less than or equal to 1, and each member must be x86_64 or arm64",
        )),
    }
}

fn resolve_layers(registry: &Registry, arns: &[String]) -> Result<Vec<LayerRef>> {
    if arns.len() > 5 {
        return Err(ApiError::invalid("Cannot reference more than 5 layers."));
    }
    arns.iter()
        .map(|arn| {
            let missing = || ApiError::invalid(format!("Layer version {arn} does not exist."));
            let (name, version) = parse_layer_version_arn(arn).ok_or_else(missing)?;
            registry
                .read_layer(&name, |l| {
                    l.versions.get(&version).map(|v| LayerRef {
                        arn: arn.clone(),
                        sha256: v.code_sha256.clone(),
                        size: v.code_size,
                    })
                })
                .flatten()
                .ok_or_else(missing)
        })
        .collect()
}

/// Where a request's code is: inline (`ZipFile`) or an object of the local S3 store.
#[derive(Debug, Clone, Copy)]
pub(super) enum CodeRef<'a> {
    Zip(&'a str),
    S3 { bucket: &'a str, key: &'a str },
}

impl<'a> CodeRef<'a> {
    pub(super) fn from_input(
        zip: Option<&'a str>,
        bucket: Option<&'a str>,
        key: Option<&'a str>,
    ) -> Option<CodeRef<'a>> {
        match (zip, bucket, key) {
            (Some(zip), None, _) => Some(CodeRef::Zip(zip)),
            (None, Some(bucket), Some(key)) => Some(CodeRef::S3 { bucket, key }),
            _ => None,
        }
    }
}

/// Stores the code a request names (before any record names it); returns its hex hash and size.
pub(super) async fn store_code(ctx: &Ctx, code: CodeRef<'_>) -> Result<(String, u64)> {
    let (bucket, key) = match code {
        CodeRef::Zip(zip) => return store_zip(ctx, zip).await,
        CodeRef::S3 { bucket, key } => (bucket.to_string(), key.to_string()),
    };
    let store = ctx.registry.store.clone();
    let bytes = tokio::task::spawn_blocking(move || crate::s3::read_object(&store, &bucket, &key))
        .await
        .map_err(|e| ApiError::service(e.to_string()))?
        .map_err(|e| {
            ApiError::invalid(format!(
                "Error occurred while GetObject. S3 Error Code: {}. S3 Error Message: {}",
                e.code, e.message
            ))
        })?;
    store_bytes(ctx, bytes).await
}

/// Decodes, checks and stores an uploaded zip (before any record names it); returns its hex
/// hash and size.
async fn store_zip(ctx: &Ctx, zip_b64: &str) -> Result<(String, u64)> {
    let bytes =
        decode_base64(zip_b64).ok_or_else(|| ApiError::invalid("ZipFile is not valid base64."))?;
    if bytes.len() > ZIP_LIMIT {
        return Err(ApiError::new(
            413,
            "RequestEntityTooLargeException",
            format!(
                "Zipped file size exceeds the maximum of {ZIP_LIMIT} bytes for a direct upload."
            ),
        ));
    }
    store_bytes(ctx, bytes).await
}

/// The sum of the entries' sizes, or `None` when `bytes` is not a zip.
fn unzipped_size(bytes: &[u8]) -> Option<u64> {
    let mut archive = zip::ZipArchive::new(std::io::Cursor::new(bytes)).ok()?;
    Some(
        (0..archive.len())
            .filter_map(|i| archive.by_index_raw(i).ok().map(|f| f.size()))
            .sum(),
    )
}

/// The unzipped size of a stored zip (function code or layer), from its central directory.
fn stored_unzipped_size(ctx: &Ctx, sha_hex: &str) -> u64 {
    let Ok(file) = std::fs::File::open(ctx.registry.store.code_path(sha_hex)) else {
        return 0;
    };
    let Ok(mut archive) = zip::ZipArchive::new(file) else {
        return 0;
    };
    (0..archive.len())
        .filter_map(|i| archive.by_index_raw(i).ok().map(|f| f.size()))
        .sum()
}

/// Lambda's 250 MB is for the function's code and its layers together (each was checked
/// alone when it was stored); AWS words the answer this way at CreateFunction and updates.
fn check_with_layers(ctx: &Ctx, code_hex: &str, layers: &[LayerRef]) -> Result<()> {
    if layers.is_empty() {
        return Ok(());
    }
    let total = stored_unzipped_size(ctx, code_hex)
        + layers
            .iter()
            .map(|l| stored_unzipped_size(ctx, &l.sha256))
            .sum::<u64>();
    if total > UNZIPPED_LIMIT {
        return Err(ApiError::invalid(format!(
            "Function code combined with layers exceeds the maximum allowed size of {UNZIPPED_LIMIT} bytes. The actual size is {total} bytes."
        )));
    }
    Ok(())
}

/// Checks that `bytes` is a zip within Lambda's unzipped limit and stores it.
async fn store_bytes(ctx: &Ctx, bytes: Vec<u8>) -> Result<(String, u64)> {
    let Some(unzipped) = unzipped_size(&bytes) else {
        return Err(ApiError::invalid(
            "Could not unzip uploaded file. Please check your file, then try to upload again.",
        ));
    };
    if unzipped > UNZIPPED_LIMIT {
        return Err(ApiError::invalid(format!(
            "Unzipped size must be smaller than {UNZIPPED_LIMIT} bytes"
        )));
    }
    let (hex, _) = sha256(&bytes);
    let store = ctx.registry.store.clone();
    let h = hex.clone();
    let size = bytes.len() as u64;
    tokio::task::spawn_blocking(move || store.put_code(&h, &bytes))
        .await
        .map_err(|e| ApiError::service(e.to_string()))??;
    Ok((hex, size))
}

/// Applies the configuration fields present in `input` to `c`, validating each.
fn apply_config(registry: &Registry, c: &mut FunctionConfig, input: &ConfigInput) -> Result<()> {
    if let Some(r) = &input.runtime {
        check_runtime(r)?;
        c.runtime = r.clone();
    }
    if let Some(r) = &input.role {
        if !valid_role(r) {
            return Err(constraint(
                r,
                "role",
                "Member must satisfy regular expression pattern: arn:(aws[a-zA-Z-]*)?:iam::\\d{12}:role/?[a-zA-Z_0-9+=,.@\\-_/]+",
            ));
        }
        c.role = r.clone();
    }
    if let Some(h) = &input.handler {
        check_handler(h)?;
        c.handler = h.clone();
    }
    if let Some(d) = &input.description {
        if d.len() > 256 {
            return Err(constraint(
                d,
                "description",
                "Member must have length less than or equal to 256",
            ));
        }
        c.description = d.clone();
    }
    if let Some(t) = input.timeout {
        c.timeout = check_range(t, "timeout", 1, 900)?;
    }
    if let Some(m) = input.memory_size {
        c.memory_size = check_range(m, "memorySize", 128, 10240)?;
    }
    if let Some(e) = &input.environment {
        let vars = e.variables.clone().unwrap_or_default();
        check_env(&vars)?;
        c.environment = vars;
    }
    if let Some(s) = input.ephemeral_storage.as_ref().and_then(|s| s.size) {
        c.ephemeral_storage = check_range(s, "ephemeralStorage.size", 512, 10240)?;
    }
    if let Some(l) = &input.layers {
        c.layers = resolve_layers(registry, l)?;
    }
    if let Some(l) = &input.logging_config {
        if let Some(f) = &l.log_format {
            if f != "Text" && f != "JSON" {
                return Err(constraint(
                    f,
                    "loggingConfig.logFormat",
                    "Member must satisfy enum value set: [Text, JSON]",
                ));
            }
            c.log_format = f.clone();
        }
        if let Some(g) = l.log_group.as_ref().filter(|g| !g.is_empty()) {
            c.log_group = g.clone();
        }
    }
    Ok(())
}

fn state_conflict(c: &FunctionConfig) -> Result<()> {
    if c.state == State::Pending {
        return Err(ApiError::conflict(
            "The operation cannot be performed at this time. The function is currently in the following state: Pending",
        ));
    }
    if c.last_update_status == UpdateStatus::InProgress {
        return Err(ApiError::update_in_progress(&function_arn(&c.name)));
    }
    Ok(())
}

/// Copies `$LATEST` into a new version number.
fn new_version(rec: &mut FunctionRecord, description: Option<&str>) -> FunctionConfig {
    rec.last_version += 1;
    let mut v = rec.latest.clone();
    v.version = rec.last_version.to_string();
    v.revision_id = uuid::Uuid::new_v4().to_string();
    v.last_modified = Registry::now_stamp();
    if let Some(d) = description {
        v.description = d.to_string();
    }
    rec.versions.insert(rec.last_version, v.clone());
    v
}

pub(super) async fn create(ctx: &Arc<Ctx>, req: &Req) -> Result<Reply> {
    let mut input: CreateInput = req.json()?;
    let (name, runtime) = check_create(&input)?;
    let code = input.code.take().unwrap_or_default();
    if code.image_uri.is_some() {
        return Err(ApiError::invalid(
            "lambda-ls local accepts code only as Code.ZipFile or Code.S3Bucket and S3Key.",
        ));
    }
    let zip = CodeRef::from_input(
        code.zip_file.as_deref(),
        code.s3_bucket.as_deref(),
        code.s3_key.as_deref(),
    )
    .ok_or_else(|| ApiError::invalid("Code.ZipFile is required."))?;
    let architectures = input
        .architectures
        .take()
        .unwrap_or_else(|| vec!["x86_64".to_string()]);
    check_architectures(&architectures)?;
    let mut config = being_created(&name, runtime, architectures);
    apply_config(&ctx.registry, &mut config, &input.config)?;
    if ctx.registry.read(&name, |_| ()).is_some() {
        return Err(ApiError::conflict(format!(
            "Function already exist: {name}"
        )));
    }
    let (hex, size) = store_code(ctx, zip).await?;
    check_with_layers(ctx, &hex, &config.layers)?;
    config.code_sha256 = hex;
    config.code_size = size;
    let mut rec = FunctionRecord {
        latest: config,
        active: None,
        versions: BTreeMap::new(),
        last_version: 0,
        aliases: BTreeMap::new(),
        policies: BTreeMap::new(),
        urls: BTreeMap::new(),
        tags: input.tags.take().unwrap_or_default(),
    };
    let shown = if input.publish == Some(true) {
        new_version(&mut rec, None)
    } else {
        rec.latest.clone()
    };
    ctx.registry.insert(rec).await?;
    // CreateFunction answers without LastUpdateStatus*, and with the unqualified ARN even when
    // it published version 1 (localstack test_lambda_api snapshots, recorded against AWS).
    let mut out = shown.to_json();
    if let Some(o) = out.as_object_mut() {
        o.retain(|k, _| !k.starts_with("LastUpdateStatus"));
        o.insert("FunctionArn".into(), Value::String(function_arn(&name)));
    }
    Ok(Reply::json(201, out))
}

/// CreateFunction's checks before its code is looked at, in AWS's order: the name, the package
/// type, the runtime, the handler, the role. Returns the function's name and runtime.
fn check_create(input: &CreateInput) -> Result<(String, String)> {
    let given = input.function_name.clone().unwrap_or_default();
    let name = crate::model::FunctionRef::parse(&given)
        .map(|f| f.name)
        .unwrap_or_default();
    if !valid_function_name(&name) {
        // CreateFunction's own pattern (API reference, CreateFunction: FunctionName).
        return Err(constraint(
            &given,
            "functionName",
            r"Member must satisfy regular expression pattern: (arn:(aws[a-zA-Z-]*)?:lambda:)?([a-z]{2}(-gov)?-[a-z]+-\d{1}:)?(\d{12}:)?(function:)?([a-zA-Z0-9-_]+)(:(\$LATEST|[a-zA-Z0-9-_]+))?",
        ));
    }
    if input.package_type.as_deref().is_some_and(|p| p != "Zip") {
        return Err(ApiError::invalid(
            "lambda-ls local supports only PackageType Zip.",
        ));
    }
    let runtime =
        input.config.runtime.clone().ok_or_else(|| {
            ApiError::invalid("Runtime is required for .zip deployment packages.")
        })?;
    check_runtime(&runtime)?;
    if input.config.handler.is_none() {
        return Err(ApiError::invalid(
            "Handler is required for .zip deployment packages.",
        ));
    }
    if input.config.role.is_none() {
        return Err(constraint("null", "role", "Member must not be null"));
    }
    Ok((name, runtime))
}

/// A new function's `$LATEST` with Lambda's defaults, `Pending` until its code is ready; the
/// request's settings are applied over it.
fn being_created(name: &str, runtime: String, architectures: Vec<String>) -> FunctionConfig {
    FunctionConfig {
        name: name.to_string(),
        version: LATEST.into(),
        runtime,
        role: String::new(),
        handler: String::new(),
        description: String::new(),
        timeout: 3,
        memory_size: 128,
        environment: BTreeMap::new(),
        architectures,
        ephemeral_storage: 512,
        layers: Vec::new(),
        log_format: "Text".into(),
        log_group: format!("/aws/lambda/{name}"),
        code_sha256: String::new(),
        code_size: 0,
        last_modified: Registry::now_stamp(),
        revision_id: uuid::Uuid::new_v4().to_string(),
        state: State::Pending,
        state_reason: Some("The function is being created.".into()),
        state_reason_code: Some("Creating".into()),
        last_update_status: UpdateStatus::InProgress,
        last_update_status_reason: Some("The function is being created.".into()),
        last_update_status_reason_code: Some("Creating".into()),
    }
}

pub(super) fn get(ctx: &Arc<Ctx>, req: &Req, id: &str) -> Result<Reply> {
    let f = function_ref(req, id)?;
    read_record(ctx, &f, |rec| {
        let c = config_at(rec, &f)?;
        let mut out = json!({
            "Configuration": as_asked(c, &f),
            "Code": {
                "RepositoryType": "S3",
                "Location": format!("{}/lambda-ls/code/{}.zip", ctx.endpoint, c.code_sha256),
            },
        });
        if !rec.tags.is_empty() {
            out["Tags"] = json!(rec.tags);
        }
        Ok(Reply::json(200, out))
    })
}

pub(super) fn get_configuration(ctx: &Arc<Ctx>, req: &Req, id: &str) -> Result<Reply> {
    let f = function_ref(req, id)?;
    read_record(ctx, &f, |rec| {
        Ok(Reply::json(200, as_asked(config_at(rec, &f)?, &f)))
    })
}

/// A configuration as GetFunction reports it: the ARN qualified as the caller named it (an alias
/// shows its own ARN), unqualified when no qualifier was given.
fn as_asked(c: &FunctionConfig, f: &crate::model::FunctionRef) -> Value {
    let mut v = c.to_json();
    if let Some(q) = &f.qualifier {
        v["FunctionArn"] = Value::String(format!("{}:{q}", function_arn(&c.name)));
    }
    v
}

/// ListFunctions "returns a subset of the FunctionConfiguration fields": these are left out
/// (API reference, ListFunctions, Note); ListVersionsByFunction entries are the same shape.
const NOT_IN_LISTS: &[&str] = &[
    "State",
    "StateReason",
    "StateReasonCode",
    "LastUpdateStatus",
    "LastUpdateStatusReason",
    "LastUpdateStatusReasonCode",
    "RuntimeVersionConfig",
];

/// One list entry; `qualified` names `$LATEST` as `NAME:$LATEST`, as lists of versions do.
fn list_entry(c: &FunctionConfig, qualified: bool) -> Value {
    let mut v = c.to_json();
    if let Some(o) = v.as_object_mut() {
        o.retain(|k, _| !NOT_IN_LISTS.contains(&k.as_str()));
        if qualified {
            let arn = format!("{}:{}", function_arn(&c.name), c.version);
            o.insert("FunctionArn".into(), Value::String(arn));
        }
    }
    v
}

/// Query enums are checked as AWS's request validation does (API reference, ListFunctions:
/// FunctionVersion "Valid Values: ALL", MasterRegion "Pattern: ALL|[a-z]{2}(-gov)?-[a-z]+-\d{1}").
fn check_list_query(req: &Req) -> Result<bool> {
    let all = match req.query("FunctionVersion") {
        None => false,
        Some("ALL") => true,
        Some(v) => {
            return Err(constraint(
                v,
                "functionVersion",
                "Member must satisfy enum value set: [ALL]",
            ))
        }
    };
    if let Some(m) = req.query("MasterRegion") {
        let parts: Vec<&str> = m.split('-').collect();
        let region = matches!(parts.as_slice(), [a, .., b, n]
            if a.len() == 2 && a.bytes().all(|c| c.is_ascii_lowercase())
                && !b.is_empty() && b.bytes().all(|c| c.is_ascii_lowercase())
                && n.len() == 1 && n.bytes().all(|c| c.is_ascii_digit()));
        if m != "ALL" && !region {
            return Err(constraint(
                m,
                "masterRegion",
                r"Member must satisfy regular expression pattern: ALL|[a-z]{2}(-gov)?-[a-z]+-\d{1}",
            ));
        }
    }
    Ok(all)
}

pub(super) fn list(ctx: &Arc<Ctx>, req: &Req) -> Result<Reply> {
    let all_versions = check_list_query(req)?;
    let configs: Vec<Value> = ctx
        .registry
        .list(|rec| {
            let mut out = vec![list_entry(&rec.latest, all_versions)];
            if all_versions {
                out.extend(rec.versions.values().map(|v| list_entry(v, true)));
            }
            out
        })
        .into_iter()
        .flatten()
        .collect();
    let (page, next) = paginate(req, configs, MAX_LIST)?;
    let mut out = json!({ "Functions": page });
    if let Some(n) = next {
        out["NextMarker"] = Value::String(n);
    }
    Ok(Reply::json(200, out))
}

pub(super) fn list_versions(ctx: &Arc<Ctx>, req: &Req, id: &str) -> Result<Reply> {
    let f = function_ref(req, id)?;
    let versions = read_record(ctx, &f, |rec| {
        Ok(std::iter::once(&rec.latest)
            .chain(rec.versions.values())
            .map(|c| list_entry(c, true))
            .collect::<Vec<_>>())
    })?;
    let (page, next) = paginate(req, versions, MAX_LIST)?;
    let mut out = json!({ "Versions": page });
    if let Some(n) = next {
        out["NextMarker"] = Value::String(n);
    }
    Ok(Reply::json(200, out))
}

/// lambda-ls's extension for its live loop (save → result): an `UpdateFunctionCode` carrying it
/// takes effect as soon as the code is unpacked, skipping the update window, and is answered
/// then, so the loop needs no polling. AWS clients never send it; every other change keeps the
/// window (AWS fidelity).
pub const LIVE_HEADER: &str = "x-lambda-ls-live";

pub(super) async fn update_code(ctx: &Arc<Ctx>, req: &Req, id: &str) -> Result<Reply> {
    let f = function_ref(req, id)?;
    let input: UpdateCodeInput = req.json()?;
    if input.image_uri.is_some() {
        return Err(ApiError::invalid(
            "lambda-ls local accepts code only as ZipFile or S3Bucket and S3Key.",
        ));
    }
    let zip = CodeRef::from_input(
        input.zip_file.as_deref(),
        input.s3_bucket.as_deref(),
        input.s3_key.as_deref(),
    )
    .ok_or_else(|| ApiError::invalid("ZipFile is required."))?;
    if let Some(a) = &input.architectures {
        check_architectures(a)?;
    }
    read_record(ctx, &f, |_| Ok(()))?;
    let (hex, size) = store_code(ctx, zip).await?;
    if input.dry_run == Some(true) {
        return read_record(ctx, &f, |rec| {
            let mut c = rec.latest.clone();
            c.code_sha256 = hex;
            c.code_size = size;
            Ok(Reply::json(200, c.to_json()))
        });
    }
    let shown = ctx
        .registry
        .mutate(&f.name, &f.arn(), |rec| {
            let latest = &mut rec.latest;
            state_conflict(latest)?;
            check_revision(input.revision_id.as_deref(), &latest.revision_id)?;
            check_with_layers(ctx, &hex, &latest.layers)?;
            latest.code_sha256 = hex;
            latest.code_size = size;
            if let Some(a) = &input.architectures {
                latest.architectures = a.clone();
            }
            latest.last_modified = Registry::now_stamp();
            latest.revision_id = uuid::Uuid::new_v4().to_string();
            latest.last_update_status = UpdateStatus::InProgress;
            latest.last_update_status_reason = None;
            latest.last_update_status_reason_code = None;
            if latest.state == State::Failed {
                // New code gives a function whose creation failed another chance.
                latest.state = State::Pending;
                latest.state_reason = None;
                latest.state_reason_code = None;
            }
            let mut shown = rec.latest.clone();
            if input.publish == Some(true) {
                let mut v = new_version(rec, None);
                v.state = State::Pending;
                rec.versions.insert(rec.last_version, v.clone());
                shown = v;
            }
            Ok(shown)
        })
        .await?;
    if req.header(LIVE_HEADER).is_some() && input.publish != Some(true) {
        // The live loop: answer once the new code serves, with the state it is in by then.
        ctx.registry.activate_now(f.name.clone()).await;
        return read_record(ctx, &f, |rec| Ok(Reply::json(200, rec.latest.to_json())));
    }
    ctx.registry.schedule_activation(f.name.clone());
    Ok(Reply::json(200, shown.to_json()))
}

pub(super) async fn update_configuration(ctx: &Arc<Ctx>, req: &Req, id: &str) -> Result<Reply> {
    let f = function_ref(req, id)?;
    let input: ConfigInput = req.json()?;
    let shown = ctx
        .registry
        .mutate(&f.name, &f.arn(), |rec| {
            state_conflict(&rec.latest)?;
            check_revision(input.revision_id.as_deref(), &rec.latest.revision_id)?;
            let mut updated = rec.latest.clone();
            apply_config(&ctx.registry, &mut updated, &input)?;
            if input.layers.is_some() {
                check_with_layers(ctx, &updated.code_sha256, &updated.layers)?;
            }
            updated.last_modified = Registry::now_stamp();
            updated.revision_id = uuid::Uuid::new_v4().to_string();
            updated.last_update_status = UpdateStatus::InProgress;
            updated.last_update_status_reason = None;
            updated.last_update_status_reason_code = None;
            rec.latest = updated;
            Ok(rec.latest.clone())
        })
        .await?;
    ctx.registry.schedule_activation(f.name.clone());
    Ok(Reply::json(200, shown.to_json()))
}

pub(super) async fn publish_version(ctx: &Arc<Ctx>, req: &Req, id: &str) -> Result<Reply> {
    let f = function_ref(req, id)?;
    let input: PublishInput = req.json()?;
    let shown = ctx
        .registry
        .mutate(&f.name, &f.arn(), |rec| {
            state_conflict(&rec.latest)?;
            if rec.latest.state != State::Active {
                return Err(ApiError::conflict(format!(
                    "The operation cannot be performed at this time. The function is currently in the following state: {:?}",
                    rec.latest.state
                )));
            }
            check_revision(input.revision_id.as_deref(), &rec.latest.revision_id)?;
            if let Some(sha) = input.code_sha256.as_deref().filter(|s| !s.is_empty()) {
                let current = crate::store::hex_to_b64(&rec.latest.code_sha256);
                if sha != current {
                    return Err(ApiError::invalid(format!(
                        "CodeSHA256 ({sha}) is different from current CodeSHA256 in $LATEST ({current}). Please try again with the CodeSHA256 in $LATEST."
                    )));
                }
            }
            // Nothing changed since the last version: AWS hands that version back.
            if let Some(last) = rec.versions.values().next_back() {
                if last.same_deployment(&rec.latest) {
                    return Ok(last.clone());
                }
            }
            Ok(new_version(rec, input.description.as_deref()))
        })
        .await?;
    Ok(Reply::json(201, shown.to_json()))
}

pub(super) async fn delete(ctx: &Arc<Ctx>, req: &Req, id: &str) -> Result<Reply> {
    let f = function_ref(req, id)?;
    match f.qualifier.as_deref() {
        None => ctx.registry.remove(&f.name, &f.arn()).await?,
        Some(LATEST) => {
            return Err(ApiError::invalid(
                "$LATEST version cannot be deleted without deleting the function.",
            ))
        }
        Some(q) => {
            let n: u64 = q
                .parse()
                .map_err(|_| ApiError::invalid(format!("Invalid qualifier: {q}")))?;
            ctx.registry
                .mutate(&f.name, &f.arn(), |rec| {
                    if !rec.versions.contains_key(&n) {
                        return Err(ApiError::function_not_found(&f.arn()));
                    }
                    let users: Vec<&str> = rec
                        .aliases
                        .values()
                        .filter(|a| a.function_version == q)
                        .map(|a| a.name.as_str())
                        .collect();
                    if !users.is_empty() {
                        return Err(ApiError::conflict(format!(
                            "Unable to delete version because the following aliases reference it: [{}]",
                            users.join(", ")
                        )));
                    }
                    rec.versions.remove(&n);
                    rec.policies.remove(q);
                    Ok(())
                })
                .await?;
        }
    }
    Ok(Reply::empty(204))
}
