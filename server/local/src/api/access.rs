//! Resource policies, function URL configurations, tags and account settings: stored, reported.

use std::collections::BTreeMap;
use std::sync::Arc;

use hyper::Method;
use serde::Deserialize;
use serde_json::{json, Map, Value};

use super::{check_revision, function_ref, read_record, Ctx, Reply, Req, Result};
use crate::error::ApiError;
use crate::model::{function_arn, FunctionRecord, FunctionRef, Policy, UrlConfig, LATEST};
use crate::time::{iso_micros, now_millis};
use crate::urls::Urls;

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct PermissionInput {
    statement_id: Option<String>,
    action: Option<String>,
    principal: Option<String>,
    source_arn: Option<String>,
    source_account: Option<String>,
    event_source_token: Option<String>,
    #[serde(rename = "PrincipalOrgID")]
    principal_org_id: Option<String>,
    function_url_auth_type: Option<String>,
    revision_id: Option<String>,
}

/// The qualifier a policy or URL is attached to, `""` for the function itself; it must exist.
fn qualifier_key(rec: &FunctionRecord, f: &FunctionRef) -> Result<String> {
    match f.qualifier.as_deref() {
        None => Ok(String::new()),
        Some(LATEST) => Ok(LATEST.to_string()),
        Some(q) => {
            let exists = rec.aliases.contains_key(q)
                || q.parse::<u64>()
                    .is_ok_and(|n| rec.versions.contains_key(&n));
            if exists {
                Ok(q.to_string())
            } else {
                Err(ApiError::function_not_found(&f.arn()))
            }
        }
    }
}

fn resource_arn(name: &str, key: &str) -> String {
    if key.is_empty() {
        function_arn(name)
    } else {
        format!("{}:{key}", function_arn(name))
    }
}

/// IAM's principal forms: a service, an account, an ARN, or anyone.
fn principal_json(p: &str) -> Value {
    if p == "*" {
        json!("*")
    } else if p.len() == 12 && p.bytes().all(|b| b.is_ascii_digit()) {
        json!({ "AWS": format!("arn:aws:iam::{p}:root") })
    } else if p.starts_with("arn:") {
        json!({ "AWS": p })
    } else {
        json!({ "Service": p })
    }
}

fn no_policy() -> ApiError {
    ApiError::not_found("The resource you requested does not exist.")
}

pub(super) async fn add_permission(ctx: &Arc<Ctx>, req: &Req, id: &str) -> Result<Reply> {
    let f = function_ref(req, id)?;
    let input: PermissionInput = req.json()?;
    // AWS refuses a policy on $LATEST: only the function itself, a version or an alias.
    if f.qualifier.as_deref() == Some(LATEST) {
        return Err(ApiError::invalid(
            "We currently do not support adding policies for $LATEST.",
        ));
    }
    let sid = input.statement_id.clone().unwrap_or_default();
    // API reference, AddPermission: StatementId "Pattern: ([a-zA-Z0-9-_]+)", 1-100 long.
    if sid.is_empty()
        || sid.len() > 100
        || !sid
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_".contains(&b))
    {
        return Err(ApiError::validation(format!(
            "1 validation error detected: Value '{sid}' at 'statementId' failed to satisfy constraint: Member must satisfy regular expression pattern: ([a-zA-Z0-9-_]+)"
        )));
    }
    let action = input.action.clone().unwrap_or_default();
    if !(action == "*" || action.starts_with("lambda:") && action.len() > "lambda:".len()) {
        return Err(ApiError::validation(format!(
            "1 validation error detected: Value '{action}' at 'action' failed to satisfy constraint: Member must satisfy regular expression pattern: (lambda:[*]|lambda:[a-zA-Z]+|[*])"
        )));
    }
    let principal = input
        .principal
        .clone()
        .filter(|p| !p.is_empty())
        .ok_or_else(|| ApiError::invalid("Principal is required."))?;
    let statement = ctx
        .registry
        .mutate(&f.name, &f.arn(), |rec| {
            let key = qualifier_key(rec, &f)?;
            let policy = rec.policies.entry(key.clone()).or_default();
            check_revision(input.revision_id.as_deref(), &policy.revision_id)?;
            if policy.statements.iter().any(|s| s["Sid"] == sid.as_str()) {
                return Err(ApiError::conflict(format!(
                    "The statement id ({sid}) provided already exists. Please provide a new statement id, or remove the existing statement."
                )));
            }
            let mut condition = Map::new();
            let mut add = |op: &str, key: &str, value: &Option<String>| {
                if let Some(v) = value {
                    let entry = condition.entry(op).or_insert_with(|| json!({}));
                    entry[key] = Value::String(v.clone());
                }
            };
            add("ArnLike", "AWS:SourceArn", &input.source_arn);
            add("StringEquals", "AWS:SourceAccount", &input.source_account);
            add("StringEquals", "aws:PrincipalOrgID", &input.principal_org_id);
            add("StringEquals", "lambda:EventSourceToken", &input.event_source_token);
            add("StringEquals", "lambda:FunctionUrlAuthType", &input.function_url_auth_type);
            let mut statement = json!({
                "Sid": sid,
                "Effect": "Allow",
                "Principal": principal_json(&principal),
                "Action": action,
                "Resource": resource_arn(&f.name, &key),
            });
            if !condition.is_empty() {
                statement["Condition"] = Value::Object(condition);
            }
            policy.statements.push(statement.clone());
            policy.revision_id = uuid::Uuid::new_v4().to_string();
            Ok(statement)
        })
        .await?;
    Ok(Reply::json(
        201,
        json!({ "Statement": statement.to_string() }),
    ))
}

pub(super) fn get_policy(ctx: &Arc<Ctx>, req: &Req, id: &str) -> Result<Reply> {
    let f = function_ref(req, id)?;
    read_record(ctx, &f, |rec| {
        let key = qualifier_key(rec, &f)?;
        match rec.policies.get(&key).filter(|p| !p.statements.is_empty()) {
            Some(p) => Ok(Reply::json(
                200,
                json!({ "Policy": p.document(), "RevisionId": p.revision_id }),
            )),
            None => Err(no_policy()),
        }
    })
}

pub(super) async fn remove_permission(
    ctx: &Arc<Ctx>,
    req: &Req,
    id: &str,
    sid: &str,
) -> Result<Reply> {
    let f = function_ref(req, id)?;
    ctx.registry
        .mutate(&f.name, &f.arn(), |rec| {
            let key = qualifier_key(rec, &f)?;
            // RemovePermission words a missing policy its own way (moto's tests, taken from AWS).
            let policy: &mut Policy = rec.policies.get_mut(&key).ok_or_else(|| {
                ApiError::not_found("No policy is associated with the given resource.")
            })?;
            check_revision(req.query("RevisionId"), &policy.revision_id)?;
            let before = policy.statements.len();
            policy.statements.retain(|s| s["Sid"] != sid);
            if policy.statements.len() == before {
                return Err(ApiError::not_found(format!(
                    "Statement {sid} is not found in resource policy."
                )));
            }
            policy.revision_id = uuid::Uuid::new_v4().to_string();
            if policy.statements.is_empty() {
                rec.policies.remove(&key);
            }
            Ok(())
        })
        .await?;
    Ok(Reply::empty(204))
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct UrlInput {
    auth_type: Option<String>,
    cors: Option<Value>,
    invoke_mode: Option<String>,
}

fn check_url_input(input: &UrlInput, required: bool) -> Result<()> {
    match input.auth_type.as_deref() {
        Some("NONE" | "AWS_IAM") => {}
        None if !required => {}
        other => {
            return Err(ApiError::validation(format!(
                "1 validation error detected: Value '{}' at 'authType' failed to satisfy constraint: Member must satisfy enum value set: [AWS_IAM, NONE]",
                other.unwrap_or("null")
            )))
        }
    }
    match input.invoke_mode.as_deref() {
        None | Some("BUFFERED" | "RESPONSE_STREAM") => Ok(()),
        Some(m) => Err(ApiError::validation(format!(
            "1 validation error detected: Value '{m}' at 'invokeMode' failed to satisfy constraint: Member must satisfy enum value set: [RESPONSE_STREAM, BUFFERED]"
        ))),
    }
}

/// Create, read, update or delete the function URL configuration (stored and reported only).
pub(super) async fn url_config(ctx: &Arc<Ctx>, req: &Req, id: &str) -> Result<Reply> {
    let f = function_ref(req, id)?;
    // API reference, FunctionUrlConfig operations: Qualifier "Pattern:
    // ((?!^\d+$)^[0-9a-zA-Z-_]+$)" (an alias name; neither a version nor $LATEST).
    if let Some(q) = f
        .qualifier
        .as_deref()
        .filter(|q| !crate::model::valid_alias_name(q))
    {
        return Err(ApiError::validation(format!(
            "1 validation error detected: Value '{q}' at 'qualifier' failed to satisfy constraint: Member must satisfy regular expression pattern: ((?!^\\d+$)^[0-9a-zA-Z-_]+$)"
        )));
    }
    match req.method {
        Method::GET => get_url(ctx, &f),
        Method::POST => create_url(ctx, req, &f).await,
        Method::PUT => update_url(ctx, req, &f).await,
        Method::DELETE => {
            ctx.registry
                .mutate(&f.name, &f.arn(), |rec| {
                    let key = qualifier_key(rec, &f)?;
                    rec.urls.remove(&key).map(|_| key).ok_or_else(no_url)
                })
                .await
                .map(|key| ctx.urls.close(&f.name, &key))?;
            Ok(Reply::empty(204))
        }
        _ => Err(ApiError::new(
            404,
            "UnknownOperationException",
            "Unknown operation on a function URL",
        )),
    }
}

/// A missing function or URL config: "The resource you requested does not exist." here, not
/// "Function not found" (localstack's provider, following its AWS snapshots).
fn no_url() -> ApiError {
    ApiError::not_found("The resource you requested does not exist.")
}

fn get_url(ctx: &Arc<Ctx>, f: &FunctionRef) -> Result<Reply> {
    ctx.registry
        .read(&f.name, |rec| {
            let key = qualifier_key(rec, f)?;
            let url = rec.urls.get(&key).ok_or_else(no_url)?;
            Ok(Reply::json(200, url_json(ctx, &f.name, &key, url)))
        })
        .unwrap_or_else(|| Err(no_url()))
}

async fn create_url(ctx: &Arc<Ctx>, req: &Req, f: &FunctionRef) -> Result<Reply> {
    let input: UrlInput = req.json()?;
    check_url_input(&input, true)?;
    // The loopback port is taken before the config is stored, so a stored URL is always one
    // that can be served.
    let listener = Urls::bind(None).await.map_err(|e| {
        ApiError::service(format!(
            "cannot open a loopback port for the function URL: {e}"
        ))
    })?;
    let port = listener.local_addr().map(|a| a.port()).unwrap_or_default();
    let (url, arn, key) = ctx
        .registry
        .mutate(&f.name, &f.arn(), |rec| {
            let key = qualifier_key(rec, f)?;
            let arn = resource_arn(&f.name, &key);
            if rec.urls.contains_key(&key) {
                return Err(ApiError::conflict(format!(
                    "Failed to create function url config for [functionArn = {arn}]. Error message:  FunctionUrlConfig exists for this Lambda function"
                )));
            }
            let now = iso_micros(now_millis());
            let url = UrlConfig {
                url: crate::urls::address(port),
                id: uuid::Uuid::new_v4().simple().to_string(),
                port: Some(port),
                auth_type: input.auth_type.clone().unwrap_or_default(),
                cors: input.cors.clone(),
                invoke_mode: input.invoke_mode.clone().unwrap_or_else(|| "BUFFERED".into()),
                creation_time: now.clone(),
                last_modified_time: now,
            };
            rec.urls.insert(key.clone(), url.clone());
            Ok((url, arn, key))
        })
        .await?;
    ctx.urls.serve(ctx, &f.name, &key, listener);
    let mut out = url.to_json(&arn);
    if let Some(o) = out.as_object_mut() {
        o.remove("LastModifiedTime");
    }
    Ok(Reply::json(201, out))
}

async fn update_url(ctx: &Arc<Ctx>, req: &Req, f: &FunctionRef) -> Result<Reply> {
    let input: UrlInput = req.json()?;
    check_url_input(&input, false)?;
    let (url, key) = ctx
        .registry
        .mutate(&f.name, &f.arn(), |rec| {
            let key = qualifier_key(rec, f)?;
            let url = rec.urls.get_mut(&key).ok_or_else(no_url)?;
            if let Some(a) = &input.auth_type {
                url.auth_type = a.clone();
            }
            if let Some(c) = &input.cors {
                url.cors = Some(c.clone());
            }
            if let Some(m) = &input.invoke_mode {
                url.invoke_mode = m.clone();
            }
            url.last_modified_time = iso_micros(now_millis());
            Ok((url.clone(), key))
        })
        .await?;
    Ok(Reply::json(200, url_json(ctx, &f.name, &key, &url)))
}

/// A URL config as reported: with the address it is served at right now.
fn url_json(ctx: &Ctx, name: &str, key: &str, url: &UrlConfig) -> Value {
    let mut v = url.to_json(&resource_arn(name, key));
    if let Some(port) = ctx.urls.port(name, key) {
        v["FunctionUrl"] = json!(crate::urls::address(port));
    }
    v
}

pub(super) fn list_url_configs(ctx: &Arc<Ctx>, req: &Req, id: &str) -> Result<Reply> {
    let f = function_ref(req, id)?;
    read_record(ctx, &f, |rec| {
        let configs: Vec<Value> = rec
            .urls
            .iter()
            .map(|(k, u)| url_json(ctx, &f.name, k, u))
            .collect();
        Ok(Reply::json(200, json!({ "FunctionUrlConfigs": configs })))
    })
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct TagsInput {
    tags: Option<BTreeMap<String, String>>,
}

/// TagResource's Resource pattern (the API reference): an ARN, never a bare name.
const TAG_RESOURCE_PATTERN: &str = r"arn:(aws[a-zA-Z-]*)?:lambda:[a-z]{2}((-gov)|(-iso(b?)))?-[a-z]+-\d{1}:\d{12}:(function:[a-zA-Z0-9-_]+(:(\$LATEST|[a-zA-Z0-9-_]+))?|layer:[a-zA-Z0-9-_]+)";

/// Lambda's limit on tags per resource (Developer Guide, "Using tags on Lambda functions").
const MAX_TAGS: usize = 50;

/// The function a tags request names: a full, unqualified function ARN.
fn tagged_function(arn: &str) -> Result<FunctionRef> {
    let f = FunctionRef::parse(arn)
        .ok()
        .filter(|_| arn.starts_with("arn:"))
        .ok_or_else(|| {
            ApiError::validation(format!(
                "1 validation error detected: Value '{arn}' at 'resource' failed to satisfy constraint: Member must satisfy regular expression pattern: {TAG_RESOURCE_PATTERN}"
            ))
        })?;
    if f.qualifier.is_some() {
        return Err(ApiError::invalid(
            "Tags on function aliases and versions are not supported. Please specify a function ARN.",
        ));
    }
    Ok(f)
}

/// ListTags, TagResource and UntagResource on a function ARN.
pub(super) async fn tags(ctx: &Arc<Ctx>, req: &Req, arn: &str) -> Result<Reply> {
    let f = tagged_function(arn)?;
    match req.method {
        Method::GET => read_record(ctx, &f, |rec| {
            Ok(Reply::json(200, json!({ "Tags": rec.tags })))
        }),
        Method::POST => {
            let input: TagsInput = req.json()?;
            let tags = input.tags.filter(|t| !t.is_empty()).ok_or_else(|| {
                ApiError::invalid("An error occurred and the request cannot be processed.")
            })?;
            ctx.registry
                .mutate(&f.name, &f.arn(), |rec| {
                    let mut merged = rec.tags.clone();
                    merged.extend(tags);
                    if merged.len() > MAX_TAGS {
                        return Err(ApiError::invalid(
                            "Number of tags exceeds resource tag limit.",
                        ));
                    }
                    rec.tags = merged;
                    Ok(())
                })
                .await?;
            Ok(Reply::empty(204))
        }
        Method::DELETE => {
            let keys = req.query_all("tagKeys");
            if keys.is_empty() {
                return Err(ApiError::validation(
                    "1 validation error detected: Value null at 'tagKeys' failed to satisfy constraint: Member must not be null",
                ));
            }
            ctx.registry
                .mutate(&f.name, &f.arn(), |rec| {
                    rec.tags.retain(|k, _| !keys.contains(&k.as_str()));
                    Ok(())
                })
                .await?;
            Ok(Reply::empty(204))
        }
        _ => Err(ApiError::new(
            404,
            "UnknownOperationException",
            "Unknown tags operation",
        )),
    }
}

pub(super) fn account_settings(ctx: &Arc<Ctx>) -> Reply {
    let (count, size) = ctx
        .registry
        .list(|rec| rec.latest.code_size + rec.versions.values().map(|v| v.code_size).sum::<u64>())
        .into_iter()
        .fold((0u64, 0u64), |(n, s), size| (n + 1, s + size));
    Reply::json(
        200,
        json!({
            "AccountLimit": {
                "TotalCodeSize": 80_530_636_800u64,
                "CodeSizeUnzipped": 262_144_000u64,
                "CodeSizeZipped": 52_428_800u64,
                "ConcurrentExecutions": 1000,
                "UnreservedConcurrentExecutions": 1000,
            },
            "AccountUsage": { "TotalCodeSize": size, "FunctionCount": count },
        }),
    )
}
