//! Listing and deleting functions.

use std::fmt;

use serde::Serialize;

use crate::aws::{AwsError, Connection};
use crate::deploy::human_bytes;

/// One deployed function, as `lambda-ls list` shows it.
#[derive(Debug, Clone, Serialize)]
pub struct FunctionSummary {
    pub name: String,
    pub runtime: Option<String>,
    pub handler: Option<String>,
    pub last_modified: Option<String>,
    pub code_size: i64,
    pub state: Option<String>,
    pub memory_mb: Option<i32>,
    pub timeout_secs: Option<i32>,
}

impl fmt::Display for FunctionSummary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{:<40} {:<11} {:<9} {:>9}  {}",
            self.name,
            self.runtime.as_deref().unwrap_or("-"),
            self.state.as_deref().unwrap_or("-"),
            human_bytes(self.code_size.max(0) as u64),
            self.last_modified.as_deref().unwrap_or("-"),
        )
    }
}

/// Every function of the account and region, following pagination.
pub async fn list_functions(conn: &Connection) -> Result<Vec<FunctionSummary>, AwsError> {
    let mut out = Vec::new();
    let mut marker: Option<String> = None;
    loop {
        let page = conn
            .lambda
            .list_functions()
            .set_marker(marker.take())
            .send()
            .await
            .map_err(|e| conn.error("ListFunctions", e))?;
        for f in page.functions() {
            out.push(FunctionSummary {
                name: f.function_name().unwrap_or_default().to_string(),
                runtime: f.runtime().map(|r| r.as_str().to_string()),
                handler: f.handler().map(str::to_string),
                last_modified: f.last_modified().map(str::to_string),
                code_size: f.code_size(),
                state: f.state().map(|s| s.as_str().to_string()),
                memory_mb: f.memory_size(),
                timeout_secs: f.timeout(),
            });
        }
        match page.next_marker() {
            Some(m) if !m.is_empty() => marker = Some(m.to_string()),
            _ => break,
        }
    }
    out.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(out)
}

/// Deletes the function; a function that is already gone is an error the caller can match.
pub async fn delete_function(conn: &Connection, name: &str) -> Result<(), AwsError> {
    conn.lambda
        .delete_function()
        .function_name(name)
        .send()
        .await
        .map_err(|e| conn.error("DeleteFunction", e))?;
    Ok(())
}
