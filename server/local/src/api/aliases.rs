//! Aliases: named pointers to a version, usable as an invoke qualifier.

use std::sync::Arc;

use serde::Deserialize;
use serde_json::{json, Value};

use super::{check_revision, function_ref, paginate, read_record, Ctx, Reply, Req, Result};
use crate::error::ApiError;
use crate::model::{function_arn, valid_alias_name, Alias, FunctionRecord, FunctionRef, LATEST};

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct AliasInput {
    name: Option<String>,
    function_version: Option<String>,
    description: Option<String>,
    routing_config: Option<Value>,
    revision_id: Option<String>,
}

fn alias_arn(function: &str, alias: &str) -> String {
    format!("{}:{alias}", function_arn(function))
}

fn check_version(rec: &FunctionRecord, function: &str, version: &str) -> Result<()> {
    let exists = version == LATEST
        || version
            .parse::<u64>()
            .is_ok_and(|n| rec.versions.contains_key(&n));
    if exists {
        Ok(())
    } else {
        Err(ApiError::function_not_found(&format!(
            "{}:{version}",
            function_arn(function)
        )))
    }
}

pub(super) async fn create(ctx: &Arc<Ctx>, req: &Req, id: &str) -> Result<Reply> {
    let f = function_ref(req, id)?;
    let input: AliasInput = req.json()?;
    let name = input.name.unwrap_or_default();
    if !valid_alias_name(&name) {
        return Err(ApiError::validation(format!(
            "1 validation error detected: Value '{name}' at 'name' failed to satisfy constraint: Member must satisfy regular expression pattern: (?!^[0-9]+$)([a-zA-Z0-9-_]+)"
        )));
    }
    let version = input
        .function_version
        .ok_or_else(|| ApiError::invalid("FunctionVersion is required."))?;
    let alias = ctx
        .registry
        .mutate(&f.name, &f.arn(), |rec| {
            check_version(rec, &f.name, &version)?;
            if rec.aliases.contains_key(&name) {
                return Err(ApiError::conflict(format!(
                    "Alias already exists: {}",
                    alias_arn(&f.name, &name)
                )));
            }
            let alias = Alias {
                name: name.clone(),
                function_version: version.clone(),
                description: input.description.clone().unwrap_or_default(),
                revision_id: uuid::Uuid::new_v4().to_string(),
                routing_config: input.routing_config.clone(),
            };
            rec.aliases.insert(name.clone(), alias.clone());
            Ok(alias)
        })
        .await?;
    Ok(Reply::json(201, alias.to_json(&f.name)))
}

/// UpdateAlias on a missing alias: "Alias not found: ARN" (localstack PR #11878, checked
/// against AWS).
fn alias_missing(f: &FunctionRef, alias: &str) -> ApiError {
    ApiError::not_found(format!("Alias not found: {}", alias_arn(&f.name, alias)))
}

pub(super) fn get(ctx: &Arc<Ctx>, id: &str, alias: &str) -> Result<Reply> {
    let f = FunctionRef::parse(id)?;
    read_record(ctx, &f, |rec| {
        rec.aliases
            .get(alias)
            .map(|a| Reply::json(200, a.to_json(&f.name)))
            // GetAlias words it differently from UpdateAlias (AWS's answer as tools match it,
            // e.g. terraform-provider-aws: "Cannot find alias arn").
            .ok_or_else(|| {
                ApiError::not_found(format!(
                    "Cannot find alias arn: {}",
                    alias_arn(&f.name, alias)
                ))
            })
    })
}

pub(super) async fn update(ctx: &Arc<Ctx>, req: &Req, id: &str, alias: &str) -> Result<Reply> {
    let f = FunctionRef::parse(id)?;
    let input: AliasInput = req.json()?;
    let updated = ctx
        .registry
        .mutate(&f.name, &f.arn(), |rec| {
            if let Some(v) = &input.function_version {
                check_version(rec, &f.name, v)?;
            }
            let a = rec
                .aliases
                .get_mut(alias)
                .ok_or_else(|| alias_missing(&f, alias))?;
            check_revision(input.revision_id.as_deref(), &a.revision_id)?;
            if let Some(v) = &input.function_version {
                a.function_version = v.clone();
            }
            if let Some(d) = &input.description {
                a.description = d.clone();
            }
            if let Some(r) = &input.routing_config {
                a.routing_config = Some(r.clone());
            }
            a.revision_id = uuid::Uuid::new_v4().to_string();
            Ok(a.clone())
        })
        .await?;
    Ok(Reply::json(200, updated.to_json(&f.name)))
}

pub(super) async fn delete(ctx: &Arc<Ctx>, id: &str, alias: &str) -> Result<Reply> {
    let f = FunctionRef::parse(id)?;
    ctx.registry
        .mutate(&f.name, &f.arn(), |rec| {
            // Deleting an alias that is not there succeeds (204), as on AWS (localstack PR
            // #11878: "AWS doesn't throw an error for delete_alias for non-existing alias").
            if rec.aliases.remove(alias).is_none() {
                return Ok(());
            }
            // What was attached to the alias goes with it.
            rec.policies.remove(alias);
            rec.urls.remove(alias);
            Ok(())
        })
        .await?;
    Ok(Reply::empty(204))
}

pub(super) fn list(ctx: &Arc<Ctx>, req: &Req, id: &str) -> Result<Reply> {
    let f = function_ref(req, id)?;
    let version = req.query("FunctionVersion");
    let aliases = read_record(ctx, &f, |rec| {
        Ok(rec
            .aliases
            .values()
            .filter(|a| version.is_none_or(|v| a.function_version == v))
            .map(|a| a.to_json(&f.name))
            .collect::<Vec<_>>())
    })?;
    let (page, next) = paginate(req, aliases, 50)?;
    let mut out = json!({ "Aliases": page });
    if let Some(n) = next {
        out["NextMarker"] = Value::String(n);
    }
    Ok(Reply::json(200, out))
}
