//! Keeping functions: versions and aliases, sharing, logs, log retention, thorough deletion.

use std::fmt;
use std::time::{Duration, SystemTime};

use aws_sdk_lambda::types::FunctionUrlAuthType;
use serde::Serialize;

use crate::aws::{AwsError, Connection, Service};
use crate::deploy::{CREATED_BY_TAG, DEFAULT_ROLE_NAME};
use crate::requirements::LAYER_PREFIX;

/// Statement ids this tool adds, so sharing twice changes nothing and unsharing finds them.
const SHARE_SID_PREFIX: &str = "lambda-ls-share-";
const URL_SID: &str = "lambda-ls-url-public";

/// A published version, and the alias pointing at it if one was asked for.
#[derive(Debug, Clone, Serialize)]
pub struct Published {
    pub function: String,
    pub version: String,
    pub alias: Option<String>,
    pub alias_arn: Option<String>,
}

impl fmt::Display for Published {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "published {} version {}", self.function, self.version)?;
        if let Some(a) = &self.alias {
            write!(f, "; alias {a} → {}", self.version)?;
        }
        Ok(())
    }
}

/// PublishVersion, then create or move the alias.
pub async fn publish(
    conn: &Connection,
    function: &str,
    alias: Option<&str>,
) -> Result<Published, AwsError> {
    let out = conn
        .lambda
        .publish_version()
        .function_name(function)
        .send()
        .await
        .map_err(|e| conn.error("PublishVersion", e))?;
    let version = out.version().unwrap_or_default().to_string();
    let mut alias_arn = None;
    if let Some(alias) = alias {
        let exists = match conn
            .lambda
            .get_alias()
            .function_name(function)
            .name(alias)
            .send()
            .await
        {
            Ok(_) => true,
            Err(e) => {
                let err = conn.error("GetAlias", e);
                if !err.is_not_found() {
                    return Err(err);
                }
                false
            }
        };
        alias_arn = if exists {
            conn.lambda
                .update_alias()
                .function_name(function)
                .name(alias)
                .function_version(&version)
                .send()
                .await
                .map_err(|e| conn.error("UpdateAlias", e))?
                .alias_arn
        } else {
            conn.lambda
                .create_alias()
                .function_name(function)
                .name(alias)
                .function_version(&version)
                .send()
                .await
                .map_err(|e| conn.error("CreateAlias", e))?
                .alias_arn
        };
    }
    Ok(Published {
        function: function.to_string(),
        version,
        alias: alias.map(str::to_string),
        alias_arn,
    })
}

/// Who may call the function.
#[derive(Debug, Clone, Serialize)]
pub struct ShareState {
    pub function: String,
    pub statements: Vec<serde_json::Value>,
    pub url: Option<String>,
    pub url_auth: Option<String>,
}

impl fmt::Display for ShareState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.statements.is_empty() && self.url.is_none() {
            return write!(f, "{} is not shared", self.function);
        }
        for s in &self.statements {
            writeln!(
                f,
                "{}: {} may {}",
                s["Sid"].as_str().unwrap_or("-"),
                s["Principal"],
                s["Action"].as_str().unwrap_or("-")
            )?;
        }
        if let Some(u) = &self.url {
            write!(
                f,
                "url: {u} (auth {})",
                self.url_auth.as_deref().unwrap_or("-")
            )?;
        }
        Ok(())
    }
}

/// How a function URL authenticates callers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UrlAuth {
    /// Callers sign requests with their AWS credentials.
    AwsIam,
    /// Anyone on the internet may call it.
    Public,
}

/// Grants `lambda:InvokeFunction` to another account (idempotent).
pub async fn share_with_account(
    conn: &Connection,
    function: &str,
    account: &str,
) -> Result<(), AwsError> {
    let result = conn
        .lambda
        .add_permission()
        .function_name(function)
        .statement_id(format!("{SHARE_SID_PREFIX}{account}"))
        .action("lambda:InvokeFunction")
        .principal(account)
        .send()
        .await;
    match result {
        Ok(_) => Ok(()),
        Err(e) => {
            let err = conn.error("AddPermission", e);
            if err.is_conflict() {
                Ok(()) // already shared with this account
            } else {
                Err(err)
            }
        }
    }
}

/// Creates (or keeps) a function URL; returns it.
/// The function's URL, if it has one and the caller may read it. Best effort: a deploy must not
/// fail because the caller lacks `lambda:GetFunctionUrlConfig`.
pub async fn function_url(conn: &Connection, function: &str) -> Option<String> {
    match conn
        .lambda
        .get_function_url_config()
        .function_name(function)
        .send()
        .await
    {
        Ok(out) => Some(out.function_url),
        Err(e) => {
            let err = conn.error("GetFunctionUrlConfig", e);
            if !err.is_not_found() {
                tracing::debug!("cannot read the URL of {function}: {err}");
            }
            None
        }
    }
}

pub async fn share_url(
    conn: &Connection,
    function: &str,
    auth: UrlAuth,
) -> Result<String, AwsError> {
    let auth_type = match auth {
        UrlAuth::AwsIam => FunctionUrlAuthType::AwsIam,
        UrlAuth::Public => FunctionUrlAuthType::None,
    };
    let url = match conn
        .lambda
        .create_function_url_config()
        .function_name(function)
        .auth_type(auth_type.clone())
        .send()
        .await
    {
        Ok(out) => out.function_url,
        Err(e) => {
            let err = conn.error("CreateFunctionUrlConfig", e);
            if !err.is_conflict() {
                return Err(err);
            }
            conn.lambda
                .update_function_url_config()
                .function_name(function)
                .auth_type(auth_type)
                .send()
                .await
                .map_err(|e| conn.error("UpdateFunctionUrlConfig", e))?
                .function_url
        }
    };
    if auth == UrlAuth::Public {
        let added = conn
            .lambda
            .add_permission()
            .function_name(function)
            .statement_id(URL_SID)
            .action("lambda:InvokeFunctionUrl")
            .principal("*")
            .function_url_auth_type(FunctionUrlAuthType::None)
            .send()
            .await;
        if let Err(e) = added {
            let err = conn.error("AddPermission", e);
            if !err.is_conflict() {
                return Err(err);
            }
        }
    }
    Ok(url)
}

/// Removes what `share` added: one account's statement, or all of ours and the URL.
pub async fn unshare(
    conn: &Connection,
    function: &str,
    account: Option<&str>,
) -> Result<Vec<String>, AwsError> {
    let state = share_state(conn, function).await?;
    let mut removed = Vec::new();
    for s in &state.statements {
        let sid = s["Sid"].as_str().unwrap_or_default();
        let ours = match account {
            Some(a) => sid == format!("{SHARE_SID_PREFIX}{a}"),
            None => sid.starts_with(SHARE_SID_PREFIX) || sid == URL_SID,
        };
        if ours {
            conn.lambda
                .remove_permission()
                .function_name(function)
                .statement_id(sid)
                .send()
                .await
                .map_err(|e| conn.error("RemovePermission", e))?;
            removed.push(sid.to_string());
        }
    }
    if account.is_none() && state.url.is_some() {
        conn.lambda
            .delete_function_url_config()
            .function_name(function)
            .send()
            .await
            .map_err(|e| conn.error("DeleteFunctionUrlConfig", e))?;
        removed.push("function url".to_string());
    }
    Ok(removed)
}

/// The resource policy's statements and the function URL.
pub async fn share_state(conn: &Connection, function: &str) -> Result<ShareState, AwsError> {
    let statements = match conn
        .lambda
        .get_policy()
        .function_name(function)
        .send()
        .await
    {
        Ok(out) => out
            .policy()
            .and_then(|p| serde_json::from_str::<serde_json::Value>(p).ok())
            .and_then(|p| p["Statement"].as_array().cloned())
            .unwrap_or_default(),
        Err(e) => {
            let err = conn.error("GetPolicy", e);
            if !err.is_not_found() {
                return Err(err);
            }
            Vec::new()
        }
    };
    let (url, url_auth) = match conn
        .lambda
        .get_function_url_config()
        .function_name(function)
        .send()
        .await
    {
        Ok(out) => (
            Some(out.function_url),
            Some(out.auth_type.as_str().to_string()),
        ),
        Err(e) => {
            let err = conn.error("GetFunctionUrlConfig", e);
            if !err.is_not_found() {
                return Err(err);
            }
            (None, None)
        }
    };
    Ok(ShareState {
        function: function.to_string(),
        statements,
        url,
        url_auth,
    })
}

/// One log line of a function.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LogEvent {
    pub timestamp_ms: i64,
    pub stream: String,
    pub message: String,
    #[serde(skip)]
    pub id: String,
}

impl fmt::Display for LogEvent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let t = SystemTime::UNIX_EPOCH + Duration::from_millis(self.timestamp_ms.max(0) as u64);
        write!(
            f,
            "{} {}",
            humantime::format_rfc3339_millis(t),
            self.message.trim_end()
        )
    }
}

pub fn log_group(function: &str) -> String {
    format!("/aws/lambda/{function}")
}

/// Events of the function's log group since a time, following pagination.
pub async fn read_logs(
    conn: &Connection,
    function: &str,
    since: SystemTime,
) -> Result<Vec<LogEvent>, AwsError> {
    let start = since
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap_or_default()
        .as_millis() as i64;
    let mut events = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let out = conn
            .logs
            .filter_log_events()
            .log_group_name(log_group(function))
            .start_time(start)
            .set_next_token(token.take())
            .send()
            .await;
        let out = match out {
            Ok(o) => o,
            Err(e) => {
                let err = conn.error_in(Service::Logs, "FilterLogEvents", e);
                // No log group yet: the function has not logged anything.
                if err.is_not_found() {
                    return Ok(events);
                }
                return Err(err);
            }
        };
        for e in out.events() {
            events.push(LogEvent {
                timestamp_ms: e.timestamp().unwrap_or_default(),
                stream: e.log_stream_name().unwrap_or_default().to_string(),
                message: e.message().unwrap_or_default().to_string(),
                id: e.event_id().unwrap_or_default().to_string(),
            });
        }
        match out.next_token() {
            Some(t) if !t.is_empty() && !out.events().is_empty() => token = Some(t.to_string()),
            _ => break,
        }
    }
    events.sort_by_key(|e| e.timestamp_ms);
    Ok(events)
}

/// Sets how long CloudWatch keeps the function's logs, creating the group when needed.
pub async fn set_log_retention(
    conn: &Connection,
    function: &str,
    days: u32,
) -> Result<(), AwsError> {
    let group = log_group(function);
    if let Err(e) = conn
        .logs
        .create_log_group()
        .log_group_name(&group)
        .send()
        .await
    {
        let err = conn.error_in(Service::Logs, "CreateLogGroup", e);
        if err.code() != Some("ResourceAlreadyExistsException") {
            return Err(err);
        }
    }
    conn.logs
        .put_retention_policy()
        .log_group_name(&group)
        .retention_in_days(days as i32)
        .send()
        .await
        .map_err(|e| conn.error_in(Service::Logs, "PutRetentionPolicy", e))?;
    Ok(())
}

/// What `delete --all` removed besides the function.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Removed {
    pub function: String,
    pub layer_versions: Vec<String>,
    pub role: Option<String>,
    /// `s3://` URLs of the function's zips in the artifacts bucket.
    pub artifacts: Vec<String>,
}

/// Deletes the function, then the layers, role and S3 artifacts this tool created for it when
/// nothing else uses them. Never touches a layer or role it did not create.
pub async fn delete_all(conn: &Connection, function: &str) -> Result<Removed, AwsError> {
    let config = crate::deploy::get_configuration(conn, function).await?;
    crate::functions::delete_function(conn, function).await?;
    let mut removed = Removed {
        function: function.to_string(),
        ..Default::default()
    };
    removed.artifacts = crate::artifacts::delete_function_artifacts(conn, function).await?;
    let Some(config) = config else {
        return Ok(removed);
    };
    let others = crate::functions::list_functions(conn).await?;
    for layer in config.layers() {
        let Some(arn) = layer.arn() else { continue };
        // arn:aws:lambda:REGION:ACCOUNT:layer:NAME:VERSION
        let parts: Vec<&str> = arn.split(':').collect();
        let (Some(name), Some(version)) = (
            parts.get(6),
            parts.get(7).and_then(|v| v.parse::<i64>().ok()),
        ) else {
            continue;
        };
        if !name.starts_with(LAYER_PREFIX) {
            continue;
        }
        let mut used = false;
        for f in &others {
            if let Some(c) = crate::deploy::get_configuration(conn, &f.name).await? {
                used |= c.layers().iter().any(|l| l.arn() == Some(arn));
            }
        }
        if !used {
            conn.lambda
                .delete_layer_version()
                .layer_name(*name)
                .version_number(version)
                .send()
                .await
                .map_err(|e| conn.error("DeleteLayerVersion", e))?;
            removed.layer_versions.push(arn.to_string());
        }
    }
    if let (Some(iam), Some(role_arn)) = (&conn.iam, config.role()) {
        if role_arn.ends_with(&format!("role/{DEFAULT_ROLE_NAME}"))
            && delete_role_if_unused(conn, iam, role_arn, &others).await?
        {
            removed.role = Some(role_arn.to_string());
        }
    }
    Ok(removed)
}

/// Deletes lambda-ls's execution role when it made it (its tag) and no other function uses it;
/// whether it did.
async fn delete_role_if_unused(
    conn: &Connection,
    iam: &aws_sdk_iam::Client,
    role_arn: &str,
    others: &[crate::functions::FunctionSummary],
) -> Result<bool, AwsError> {
    let tags = iam
        .list_role_tags()
        .role_name(DEFAULT_ROLE_NAME)
        .send()
        .await
        .map_err(|e| conn.error_in(Service::Iam, "ListRoleTags", e))?;
    let ours = tags
        .tags()
        .iter()
        .any(|t| t.key() == CREATED_BY_TAG.0 && t.value() == CREATED_BY_TAG.1);
    let mut used = false;
    for f in others {
        if let Some(c) = crate::deploy::get_configuration(conn, &f.name).await? {
            used |= c.role() == Some(role_arn);
        }
    }
    if !ours || used {
        return Ok(false);
    }
    let attached = iam
        .list_attached_role_policies()
        .role_name(DEFAULT_ROLE_NAME)
        .send()
        .await
        .map_err(|e| conn.error_in(Service::Iam, "ListAttachedRolePolicies", e))?;
    for p in attached.attached_policies() {
        if let Some(arn) = p.policy_arn() {
            iam.detach_role_policy()
                .role_name(DEFAULT_ROLE_NAME)
                .policy_arn(arn)
                .send()
                .await
                .map_err(|e| conn.error_in(Service::Iam, "DetachRolePolicy", e))?;
        }
    }
    iam.delete_role()
        .role_name(DEFAULT_ROLE_NAME)
        .send()
        .await
        .map_err(|e| conn.error_in(Service::Iam, "DeleteRole", e))?;
    Ok(true)
}
