//! `invoke`: where the event comes from, and the invoke itself.

use std::path::PathBuf;

use lambda_deploy::aws::Connection;
use lambda_deploy::invoke::{self, InvokeOutcome, InvokeRequest};

use crate::OpError;

/// Where an invoke's event comes from.
#[derive(Debug, Clone)]
pub enum Payload {
    /// JSON given inline.
    Inline(Vec<u8>),
    /// A file holding the JSON event.
    File(PathBuf),
    /// A file used when it exists, else `{}` (a function's `events/<function>.json`).
    FileIfExists(PathBuf),
    /// Arguments for a callable: a JSON array and/or a JSON object.
    Args {
        args: Option<String>,
        kwargs: Option<String>,
    },
    /// `{}`.
    Empty,
}

impl Payload {
    /// The event's bytes, checked to be JSON within Lambda's size limit. Reads files: call it
    /// off the async workers.
    pub fn read(self) -> Result<Vec<u8>, OpError> {
        let bytes = match self {
            Payload::Inline(bytes) => bytes,
            Payload::File(file) => read_event(&file)?,
            Payload::FileIfExists(file) if file.exists() => read_event(&file)?,
            Payload::FileIfExists(_) | Payload::Empty => b"{}".to_vec(),
            Payload::Args { args, kwargs } => {
                invoke::payload_from_args(args.as_deref(), kwargs.as_deref())?
            }
        };
        invoke::validate_payload(&bytes)?;
        Ok(bytes)
    }
}

fn read_event(file: &std::path::Path) -> Result<Vec<u8>, OpError> {
    std::fs::read(file).map_err(|e| {
        OpError::Usage(format!(
            "cannot read the event file {}: {e}",
            file.display()
        ))
    })
}

/// Invokes a deployed function; a function error is a result ([`InvokeOutcome::failed`]), not
/// an [`OpError`].
pub async fn invoke(conn: &Connection, req: &InvokeRequest) -> Result<InvokeOutcome, OpError> {
    Ok(invoke::invoke(conn, req).await?)
}
