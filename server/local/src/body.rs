//! Reading request bodies with a size limit without breaking the connection.

use bytes::{Bytes, BytesMut};
use http_body_util::BodyExt;
use hyper::body::Incoming;

/// How much of an oversized body is read and thrown away so the client can finish sending and
/// see the 413; past this the connection is simply closed.
const DISCARD_LIMIT: usize = 256 * 1024 * 1024;

#[derive(Debug, thiserror::Error)]
pub(crate) enum BodyError {
    #[error("the body is larger than allowed")]
    TooLarge,
    #[error("cannot read the body: {0}")]
    Broken(hyper::Error),
}

/// Reads up to `limit` bytes. An oversized body is drained (up to `DISCARD_LIMIT`) before
/// `TooLarge` is returned: answering while the client is still writing would give it a broken
/// pipe instead of the error.
pub(crate) async fn read(mut body: Incoming, limit: usize) -> Result<Bytes, BodyError> {
    let mut buf = BytesMut::new();
    let mut seen = 0usize;
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(BodyError::Broken)?;
        let Ok(data) = frame.into_data() else {
            continue;
        };
        seen = seen.saturating_add(data.len());
        if seen <= limit {
            buf.extend_from_slice(&data);
        } else if seen > DISCARD_LIMIT {
            return Err(BodyError::TooLarge);
        }
    }
    if seen > limit {
        Err(BodyError::TooLarge)
    } else {
        Ok(buf.freeze())
    }
}
