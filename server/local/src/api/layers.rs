//! Layers: published zips that functions add to their PYTHONPATH, like /opt on Lambda.

use std::sync::Arc;

use serde::Deserialize;
use serde_json::{json, Value};

use super::functions::{store_code, CodeRef};
use super::{paginate, Ctx, Reply, Req, Result};
use crate::error::ApiError;
use crate::model::{layer_arn, parse_layer_version_arn, valid_layer_name, LayerVersion, RUNTIMES};
use crate::registry::Registry;

/// GetLayerVersionByArn's Arn pattern (the API reference).
const LAYER_VERSION_ARN_PATTERN: &str = r"arn:(aws[a-zA-Z-]*)?:lambda:[a-z]{2}((-gov)|(-iso(b?)))?-[a-z]+-\d{1}:\d{12}:layer:[a-zA-Z0-9-_]+:[0-9]+";

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ContentInput {
    zip_file: Option<String>,
    s3_bucket: Option<String>,
    s3_key: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct PublishInput {
    content: Option<ContentInput>,
    description: Option<String>,
    compatible_runtimes: Option<Vec<String>>,
    compatible_architectures: Option<Vec<String>>,
    license_info: Option<String>,
}

/// A layer named by name or by `arn:aws:lambda:REGION:ACCT:layer:NAME`.
fn layer_name(id: &str) -> Result<String> {
    let name = match id.split(':').collect::<Vec<_>>().as_slice() {
        ["arn", _, "lambda", _, _, "layer", name] => name.to_string(),
        _ => id.to_string(),
    };
    if valid_layer_name(&name) {
        Ok(name)
    } else {
        Err(ApiError::validation(format!(
            "1 validation error detected: Value '{name}' at 'layerName' failed to satisfy constraint: Member must satisfy regular expression pattern: (arn:[a-zA-Z0-9-]+:lambda:[a-zA-Z0-9-]+:\\d{{12}}:layer:[a-zA-Z0-9-_]+)|[a-zA-Z0-9-_]+"
        )))
    }
}

fn missing_version() -> ApiError {
    ApiError::not_found("The resource you requested does not exist.")
}

/// A version number from the path: AWS refuses 0 (and below) before looking anything up.
fn version_number(n: &str) -> Result<u64> {
    match n.parse::<i64>() {
        Ok(n) if n < 1 => Err(ApiError::invalid("Layer Version Cannot be less than 1")),
        Ok(n) => Ok(n as u64),
        Err(_) => Err(missing_version()),
    }
}

fn runtime_enum() -> String {
    format!(
        "Member must satisfy enum value set: [{}]",
        RUNTIMES.join(", ")
    )
}

/// CompatibleRuntimes must name runtimes, as AWS's request validation words it.
fn check_runtimes(runtimes: &[String]) -> Result<()> {
    if runtimes.iter().all(|r| RUNTIMES.contains(&r.as_str())) {
        return Ok(());
    }
    Err(ApiError::validation(format!(
        "1 validation error detected: Value '[{}]' at 'compatibleRuntimes' failed to satisfy constraint: Member must satisfy constraint: [{}]",
        runtimes.join(", "),
        runtime_enum()
    )))
}

/// The CompatibleRuntime filter of the list operations.
fn check_runtime_filter(runtime: Option<&str>) -> Result<()> {
    match runtime {
        Some(r) if !RUNTIMES.contains(&r) => Err(ApiError::validation(format!(
            "1 validation error detected: Value '{r}' at 'compatibleRuntime' failed to satisfy constraint: {}",
            runtime_enum()
        ))),
        _ => Ok(()),
    }
}

pub(super) async fn publish(ctx: &Arc<Ctx>, req: &Req, id: &str) -> Result<Reply> {
    let name = layer_name(id)?;
    let input: PublishInput = req.json()?;
    // The API reference: Content "Required: Yes".
    let content = input.content.ok_or_else(|| {
        ApiError::validation(
            "1 validation error detected: Value null at 'content' failed to satisfy constraint: Member must not be null",
        )
    })?;
    check_runtimes(input.compatible_runtimes.as_deref().unwrap_or_default())?;
    let zip = CodeRef::from_input(
        content.zip_file.as_deref(),
        content.s3_bucket.as_deref(),
        content.s3_key.as_deref(),
    )
    .ok_or_else(|| ApiError::invalid("Content.ZipFile is required."))?;
    let (hex, size) = store_code(ctx, zip).await?;
    let version = ctx
        .registry
        .mutate_layer(&name, true, |rec| {
            rec.last_version += 1;
            let v = LayerVersion {
                version: rec.last_version,
                description: input.description.clone().unwrap_or_default(),
                code_sha256: hex,
                code_size: size,
                created_date: Registry::now_stamp(),
                compatible_runtimes: input.compatible_runtimes.clone().unwrap_or_default(),
                compatible_architectures: input
                    .compatible_architectures
                    .clone()
                    .unwrap_or_default(),
                license_info: input.license_info.clone(),
            };
            rec.versions.insert(v.version, v.clone());
            Ok(v)
        })
        .await?;
    // Unpack now so the first cold start of a function using it does not pay for it.
    let store = ctx.registry.store.clone();
    let code = version.code_sha256.clone();
    tokio::task::spawn_blocking(move || {
        if let Err(e) = store.ensure_unpacked(&code) {
            tracing::warn!("cannot unpack layer {code}: {e}");
        }
    });
    Ok(Reply::json(201, version.to_json(&name, &ctx.endpoint)))
}

pub(super) fn get_version(ctx: &Arc<Ctx>, id: &str, n: &str) -> Result<Reply> {
    let name = layer_name(id)?;
    let n = version_number(n)?;
    ctx.registry
        .read_layer(&name, |rec| {
            rec.versions
                .get(&n)
                .map(|v| Reply::json(200, v.to_json(&name, &ctx.endpoint)))
        })
        .flatten()
        .ok_or_else(missing_version)
}

pub(super) async fn delete_version(ctx: &Arc<Ctx>, id: &str, n: &str) -> Result<Reply> {
    let name = layer_name(id)?;
    let n = version_number(n)?;
    // Deleting a version that does not exist succeeds, as on AWS.
    if ctx
        .registry
        .read_layer(&name, |rec| rec.versions.contains_key(&n))
        == Some(true)
    {
        ctx.registry
            .mutate_layer(&name, false, |rec| {
                rec.versions.remove(&n);
                Ok(())
            })
            .await?;
    }
    Ok(Reply::empty(204))
}

pub(super) fn list_versions(ctx: &Arc<Ctx>, req: &Req, id: &str) -> Result<Reply> {
    let name = layer_name(id)?;
    let runtime = req.query("CompatibleRuntime");
    check_runtime_filter(runtime)?;
    let arch = req.query("CompatibleArchitecture");
    let versions: Vec<Value> = ctx
        .registry
        .read_layer(&name, |rec| {
            rec.versions
                .values()
                .rev()
                .filter(|v| runtime.is_none_or(|r| v.compatible_runtimes.iter().any(|x| x == r)))
                .filter(|v| arch.is_none_or(|a| v.compatible_architectures.iter().any(|x| x == a)))
                .map(|v| v.summary_json(&name))
                .collect()
        })
        .unwrap_or_default();
    let (page, next) = paginate(req, versions, 50)?;
    let mut out = json!({ "LayerVersions": page });
    if let Some(n) = next {
        out["NextMarker"] = Value::String(n);
    }
    Ok(Reply::json(200, out))
}

/// ListLayers, or GetLayerVersionByArn when called with `find=LayerVersion&Arn=...`.
pub(super) fn list_layers(ctx: &Arc<Ctx>, req: &Req) -> Result<Reply> {
    if req.query("find") == Some("LayerVersion") {
        let arn = req.query("Arn").unwrap_or_default();
        // The API reference's Arn pattern requires the version.
        let (name, n) = parse_layer_version_arn(arn).ok_or_else(|| {
            ApiError::validation(format!(
                "1 validation error detected: Value '{arn}' at 'arn' failed to satisfy constraint: Member must satisfy regular expression pattern: {LAYER_VERSION_ARN_PATTERN}"
            ))
        })?;
        return get_version(ctx, &name, &n.to_string());
    }
    check_runtime_filter(req.query("CompatibleRuntime"))?;
    let layers: Vec<Value> = ctx
        .registry
        .list_layers(|rec| {
            rec.versions.values().next_back().map(|latest| {
                json!({
                    "LayerName": rec.name,
                    "LayerArn": layer_arn(&rec.name),
                    "LatestMatchingVersion": latest.summary_json(&rec.name),
                })
            })
        })
        .into_iter()
        .flatten()
        .collect();
    let (page, next) = paginate(req, layers, 50)?;
    let mut out = json!({ "Layers": page });
    if let Some(n) = next {
        out["NextMarker"] = Value::String(n);
    }
    Ok(Reply::json(200, out))
}
