//! `logs`: a function's log events (CloudWatch Logs on AWS, the local Lambda's own store on
//! `local`), read once or followed.

use std::collections::HashSet;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use lambda_deploy::aws::Connection;
use lambda_deploy::maintain::{self, LogEvent};

use crate::OpError;

/// How far back `logs` reads when not told: the CLI's `--since` default and `lambda.logs`'s.
pub const DEFAULT_SINCE: &str = "10m";

/// Reads a function's log events, from `since` ago on, each once: call [`Logs::next`] again to
/// follow.
pub struct Logs {
    function: String,
    from: SystemTime,
    seen: HashSet<(i64, String, String)>,
}

impl Logs {
    pub fn new(function: &str, since: Duration) -> Self {
        Logs {
            function: function.to_string(),
            from: SystemTime::now().checked_sub(since).unwrap_or(UNIX_EPOCH),
            seen: HashSet::new(),
        }
    }

    /// The events not returned before, oldest first.
    pub async fn next(&mut self, conn: &Connection) -> Result<Vec<LogEvent>, OpError> {
        let mut fresh = Vec::new();
        for e in maintain::read_logs(conn, &self.function, self.from).await? {
            if !self
                .seen
                .insert((e.timestamp_ms, e.stream.clone(), e.message.clone()))
            {
                continue;
            }
            let at = UNIX_EPOCH + Duration::from_millis(e.timestamp_ms.max(0) as u64);
            self.from = self.from.max(at);
            fresh.push(e);
        }
        Ok(fresh)
    }
}
