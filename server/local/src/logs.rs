//! Function logs: a background thread appends them to bounded JSON-lines files per log group,
//! and a CloudWatch Logs subset (awsJson1.1) reads them back.
//!
//! Workers only push events into a channel, so invocations never wait on the disk.

use std::collections::{BTreeMap, HashMap};
use std::fs::{self, File, OpenOptions};
use std::io::{BufRead, BufReader, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use tokio::sync::{mpsc, oneshot};

use crate::store::write_atomic;
use crate::time::now_millis;
use crate::{ACCOUNT_ID, REGION};

/// A log file is rotated past this size; one older file is kept, so a group holds at most twice it.
const ROTATE_BYTES: u64 = 4 * 1024 * 1024;
const EVENTS: &str = "events.jsonl";
const EVENTS_OLD: &str = "events.1.jsonl";
const META: &str = "meta.json";
/// CloudWatch's accepted retention periods, in days.
const RETENTION_DAYS: &[u32] = &[
    1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922,
    3288, 3653,
];

/// One stored line of a log group file.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct StoredEvent {
    #[serde(rename = "s")]
    stream: String,
    #[serde(rename = "t")]
    timestamp: i64,
    #[serde(rename = "i")]
    ingestion: i64,
    #[serde(rename = "m")]
    message: String,
    #[serde(rename = "id")]
    event_id: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct GroupMeta {
    name: String,
    creation_time: i64,
    retention_days: Option<u32>,
}

/// A CloudWatch Logs error: `__type` and message, sent with status 400.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{kind}: {message}")]
pub(crate) struct LogsFault {
    kind: &'static str,
    message: String,
}

impl LogsFault {
    fn new(kind: &'static str, message: impl Into<String>) -> LogsFault {
        LogsFault {
            kind,
            message: message.into(),
        }
    }

    fn no_group() -> LogsFault {
        LogsFault::new(
            "ResourceNotFoundException",
            "The specified log group does not exist.",
        )
    }

    fn invalid(message: impl Into<String>) -> LogsFault {
        LogsFault::new("InvalidParameterException", message)
    }
}

type Reply = oneshot::Sender<Result<(), LogsFault>>;

enum Msg {
    Event {
        group: Arc<str>,
        stream: Arc<str>,
        timestamp: i64,
        message: String,
    },
    Flush(oneshot::Sender<()>),
    Create(String, Reply),
    Delete(String, Reply),
    Retention(String, Option<u32>, Reply),
}

/// Handle to the log writer and reader.
#[derive(Debug)]
pub(crate) struct Logs {
    tx: mpsc::UnboundedSender<Msg>,
    dir: PathBuf,
}

impl Logs {
    /// Starts the writer thread; it ends when the last handle is dropped.
    pub(crate) fn start(dir: PathBuf) -> Logs {
        let (tx, rx) = mpsc::unbounded_channel();
        let writer_dir = dir.clone();
        let spawned = std::thread::Builder::new()
            .name("lambda-local-logs".into())
            .spawn(move || Writer::new(writer_dir).run(rx));
        if let Err(e) = spawned {
            tracing::error!("cannot start the log writer thread, logs will not be kept: {e}");
        }
        Logs { tx, dir }
    }

    /// Queues one log line; never blocks.
    pub(crate) fn emit(&self, group: &Arc<str>, stream: &Arc<str>, message: String) {
        let _ = self.tx.send(Msg::Event {
            group: group.clone(),
            stream: stream.clone(),
            timestamp: now_millis(),
            message,
        });
    }

    /// Waits until everything emitted so far is on disk.
    pub(crate) async fn flush(&self) {
        let (tx, rx) = oneshot::channel();
        if self.tx.send(Msg::Flush(tx)).is_ok() {
            let _ = rx.await;
        }
    }

    async fn request(&self, make: impl FnOnce(Reply) -> Msg) -> Result<(), LogsFault> {
        let (tx, rx) = oneshot::channel();
        self.tx
            .send(make(tx))
            .map_err(|_| LogsFault::new("ServiceUnavailableException", "log writer stopped"))?;
        rx.await.unwrap_or_else(|_| {
            Err(LogsFault::new(
                "ServiceUnavailableException",
                "log writer stopped",
            ))
        })
    }

    /// Serves one `Logs_20140328.<op>` request: status and JSON body.
    pub(crate) async fn handle(&self, op: &str, body: &[u8]) -> (u16, Value) {
        let input: Value = if body.is_empty() {
            json!({})
        } else {
            match serde_json::from_slice(body) {
                Ok(v) => v,
                Err(e) => {
                    return fault(LogsFault::new(
                        "SerializationException",
                        format!("invalid JSON: {e}"),
                    ))
                }
            }
        };
        let result = match op {
            "CreateLogGroup" => match group_name(&input) {
                Ok(g) => self
                    .request(|r| Msg::Create(g, r))
                    .await
                    .map(|()| json!({})),
                Err(e) => Err(e),
            },
            "DeleteLogGroup" => match group_name(&input) {
                Ok(g) => self
                    .request(|r| Msg::Delete(g, r))
                    .await
                    .map(|()| json!({})),
                Err(e) => Err(e),
            },
            "PutRetentionPolicy" => match (group_name(&input), input["retentionInDays"].as_u64()) {
                (Ok(g), Some(d)) if RETENTION_DAYS.contains(&(d as u32)) => self
                    .request(|r| Msg::Retention(g, Some(d as u32), r))
                    .await
                    .map(|()| json!({})),
                (Err(e), _) => Err(e),
                _ => Err(LogsFault::invalid(
                    "retentionInDays must be one of the periods CloudWatch Logs supports",
                )),
            },
            "DeleteRetentionPolicy" => match group_name(&input) {
                Ok(g) => self
                    .request(|r| Msg::Retention(g, None, r))
                    .await
                    .map(|()| json!({})),
                Err(e) => Err(e),
            },
            "FilterLogEvents" | "DescribeLogStreams" | "DescribeLogGroups" | "GetLogEvents" => {
                self.flush().await;
                let dir = self.dir.clone();
                let op = op.to_string();
                tokio::task::spawn_blocking(move || query(&dir, &op, &input))
                    .await
                    .unwrap_or_else(|e| {
                        Err(LogsFault::new("ServiceUnavailableException", e.to_string()))
                    })
            }
            _ => Err(LogsFault::new(
                "UnknownOperationException",
                format!("lambda-ls local does not implement Logs operation {op}"),
            )),
        };
        match result {
            Ok(v) => (200, v),
            Err(e) => fault(e),
        }
    }
}

fn fault(e: LogsFault) -> (u16, Value) {
    (400, json!({ "__type": e.kind, "message": e.message }))
}

fn group_name(input: &Value) -> Result<String, LogsFault> {
    input["logGroupName"]
        .as_str()
        .or_else(|| input["logGroupIdentifier"].as_str())
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .ok_or_else(|| LogsFault::invalid("logGroupName is required"))
}

/// A group's directory: the name with every byte outside `[A-Za-z0-9._-]` percent-encoded.
fn group_dir(root: &Path, group: &str) -> PathBuf {
    let mut name = String::new();
    for b in group.bytes() {
        if b.is_ascii_alphanumeric() || b"._-".contains(&b) {
            name.push(b as char);
        } else {
            name.push_str(&format!("%{b:02X}"));
        }
    }
    root.join(name)
}

fn read_meta(dir: &Path) -> Option<GroupMeta> {
    serde_json::from_slice(&fs::read(dir.join(META)).ok()?).ok()
}

struct GroupFile {
    dir: PathBuf,
    out: BufWriter<File>,
    size: u64,
}

/// The thread that owns every log file.
struct Writer {
    root: PathBuf,
    open: HashMap<Arc<str>, GroupFile>,
    seq: u64,
    /// Groups whose last write failed, so a full disk gives one warning, not one per line.
    failing: HashMap<Arc<str>, ()>,
}

impl Writer {
    fn new(root: PathBuf) -> Writer {
        Writer {
            root,
            open: HashMap::new(),
            seq: 0,
            failing: HashMap::new(),
        }
    }

    fn run(mut self, mut rx: mpsc::UnboundedReceiver<Msg>) {
        while let Some(msg) = rx.blocking_recv() {
            self.handle(msg);
            // Take whatever else is queued before paying for a flush.
            while let Ok(msg) = rx.try_recv() {
                self.handle(msg);
            }
            self.flush_all();
        }
    }

    fn flush_all(&mut self) {
        for (group, file) in &mut self.open {
            if let Err(e) = file.out.flush() {
                if self.failing.insert(group.clone(), ()).is_none() {
                    tracing::warn!(
                        "cannot write logs of {group} to {}: {e}",
                        file.dir.display()
                    );
                }
            }
        }
    }

    fn handle(&mut self, msg: Msg) {
        match msg {
            Msg::Event {
                group,
                stream,
                timestamp,
                message,
            } => {
                if let Err(e) = self.append(&group, &stream, timestamp, message) {
                    if self.failing.insert(group.clone(), ()).is_none() {
                        tracing::warn!("cannot write logs of {group}: {e}");
                    }
                } else {
                    self.failing.remove(&group);
                }
            }
            Msg::Flush(done) => {
                self.flush_all();
                let _ = done.send(());
            }
            Msg::Create(group, reply) => {
                let dir = group_dir(&self.root, &group);
                let result = if read_meta(&dir).is_some() {
                    Err(LogsFault::new(
                        "ResourceAlreadyExistsException",
                        "The specified log group already exists",
                    ))
                } else {
                    create_group(&dir, &group)
                        .map_err(|e| LogsFault::new("ServiceUnavailableException", e.to_string()))
                };
                let _ = reply.send(result);
            }
            Msg::Delete(group, reply) => {
                let dir = group_dir(&self.root, &group);
                self.open.remove(group.as_str());
                let result = if read_meta(&dir).is_none() {
                    Err(LogsFault::no_group())
                } else {
                    fs::remove_dir_all(&dir)
                        .map_err(|e| LogsFault::new("ServiceUnavailableException", e.to_string()))
                };
                let _ = reply.send(result);
            }
            Msg::Retention(group, days, reply) => {
                let dir = group_dir(&self.root, &group);
                let result = match read_meta(&dir) {
                    None => Err(LogsFault::no_group()),
                    Some(mut meta) => {
                        meta.retention_days = days;
                        save_meta(&dir, &meta).map_err(|e| {
                            LogsFault::new("ServiceUnavailableException", e.to_string())
                        })
                    }
                };
                let _ = reply.send(result);
            }
        }
    }

    fn append(
        &mut self,
        group: &Arc<str>,
        stream: &str,
        timestamp: i64,
        message: String,
    ) -> std::io::Result<()> {
        if !self.open.contains_key(group) {
            let dir = group_dir(&self.root, group);
            if read_meta(&dir).is_none() {
                create_group(&dir, group)?;
            }
            let path = dir.join(EVENTS);
            let file = OpenOptions::new().create(true).append(true).open(&path)?;
            let size = file.metadata()?.len();
            self.open.insert(
                group.clone(),
                GroupFile {
                    dir,
                    out: BufWriter::new(file),
                    size,
                },
            );
        }
        let file = self.open.get_mut(group).expect("just inserted");
        self.seq += 1;
        let event = StoredEvent {
            stream: stream.to_string(),
            timestamp,
            ingestion: now_millis(),
            message,
            event_id: format!("{timestamp:015}{:020}", self.seq),
        };
        let mut line = serde_json::to_vec(&event).map_err(std::io::Error::other)?;
        line.push(b'\n');
        if file.size + line.len() as u64 > ROTATE_BYTES {
            file.out.flush()?;
            fs::rename(file.dir.join(EVENTS), file.dir.join(EVENTS_OLD))?;
            let fresh = OpenOptions::new()
                .create(true)
                .append(true)
                .open(file.dir.join(EVENTS))?;
            file.out = BufWriter::new(fresh);
            file.size = 0;
        }
        file.out.write_all(&line)?;
        file.size += line.len() as u64;
        Ok(())
    }
}

fn create_group(dir: &Path, name: &str) -> std::io::Result<()> {
    fs::create_dir_all(dir)?;
    save_meta(
        dir,
        &GroupMeta {
            name: name.to_string(),
            creation_time: now_millis(),
            retention_days: None,
        },
    )
}

fn save_meta(dir: &Path, meta: &GroupMeta) -> std::io::Result<()> {
    let bytes = serde_json::to_vec(meta).map_err(std::io::Error::other)?;
    write_atomic(&dir.join(META), &bytes).map_err(|e| e.error)
}

/// All events of a group still within its retention, oldest first.
fn read_events(dir: &Path, meta: &GroupMeta) -> Vec<StoredEvent> {
    let cutoff = meta
        .retention_days
        .map(|d| now_millis() - i64::from(d) * 86_400_000);
    let mut events = Vec::new();
    for name in [EVENTS_OLD, EVENTS] {
        let Ok(file) = File::open(dir.join(name)) else {
            continue;
        };
        for line in BufReader::new(file).lines() {
            let Ok(line) = line else { break };
            // A line being appended right now may be cut short: skip it, it is read next time.
            if let Ok(e) = serde_json::from_str::<StoredEvent>(&line) {
                if cutoff.is_none_or(|c| e.timestamp >= c) {
                    events.push(e);
                }
            }
        }
    }
    events
}

/// CloudWatch filter patterns reduced to what local use needs: space-separated terms (quoted
/// phrases allowed) that must all occur in the message.
fn pattern_terms(pattern: &str) -> Vec<String> {
    let mut terms = Vec::new();
    let mut chars = pattern.trim().chars().peekable();
    while let Some(&c) = chars.peek() {
        if c.is_whitespace() {
            chars.next();
        } else if c == '"' {
            chars.next();
            terms.push(chars.by_ref().take_while(|&c| c != '"').collect());
        } else {
            let mut term = String::new();
            while let Some(&c) = chars.peek() {
                if c.is_whitespace() {
                    break;
                }
                term.push(c);
                chars.next();
            }
            terms.push(term);
        }
    }
    terms.retain(|t| !t.is_empty());
    terms
}

fn offset_token(input: &Value) -> Result<usize, LogsFault> {
    match input["nextToken"].as_str() {
        None => Ok(0),
        Some(t) => t
            .strip_prefix("o/")
            .and_then(|n| n.parse().ok())
            .ok_or_else(|| LogsFault::invalid("The specified nextToken is invalid.")),
    }
}

fn page<T>(items: Vec<T>, start: usize, limit: usize) -> (Vec<T>, Option<String>) {
    let total = items.len();
    let end = start.saturating_add(limit).min(total);
    let next = (end < total).then(|| format!("o/{end}"));
    (
        items
            .into_iter()
            .skip(start)
            .take(end.saturating_sub(start))
            .collect(),
        next,
    )
}

fn limit(input: &Value, default: usize, max: usize) -> Result<usize, LogsFault> {
    match input["limit"].as_u64() {
        None => Ok(default),
        Some(n) if n >= 1 && n as usize <= max => Ok(n as usize),
        Some(_) => Err(LogsFault::invalid(format!(
            "limit must be between 1 and {max}"
        ))),
    }
}

fn query(root: &Path, op: &str, input: &Value) -> Result<Value, LogsFault> {
    if op == "DescribeLogGroups" {
        return describe_groups(root, input);
    }
    let group = group_name(input)?;
    let dir = group_dir(root, &group);
    let meta = read_meta(&dir).ok_or_else(LogsFault::no_group)?;
    let events = read_events(&dir, &meta);
    match op {
        "FilterLogEvents" => filter_events(events, input),
        "DescribeLogStreams" => describe_streams(&events, &group, input),
        "GetLogEvents" => get_events(events, input),
        _ => Err(LogsFault::new("UnknownOperationException", op.to_string())),
    }
}

/// FilterLogEvents: by stream names or prefix, time range and filter terms, paged.
fn filter_events(events: Vec<StoredEvent>, input: &Value) -> Result<Value, LogsFault> {
    let names: Option<Vec<&str>> = input["logStreamNames"]
        .as_array()
        .map(|a| a.iter().filter_map(Value::as_str).collect());
    let prefix = input["logStreamNamePrefix"].as_str();
    let start = input["startTime"].as_i64();
    let end = input["endTime"].as_i64();
    let terms = pattern_terms(input["filterPattern"].as_str().unwrap_or(""));
    let matching: Vec<Value> = events
        .into_iter()
        .filter(|e| {
            names
                .as_ref()
                .is_none_or(|n| n.contains(&e.stream.as_str()))
        })
        .filter(|e| prefix.is_none_or(|p| e.stream.starts_with(p)))
        .filter(|e| start.is_none_or(|s| e.timestamp >= s))
        .filter(|e| end.is_none_or(|t| e.timestamp <= t))
        .filter(|e| terms.iter().all(|t| e.message.contains(t.as_str())))
        .map(|e| {
            json!({
                "logStreamName": e.stream,
                "timestamp": e.timestamp,
                "message": e.message,
                "ingestionTime": e.ingestion,
                "eventId": e.event_id,
            })
        })
        .collect();
    let (events, next) = page(
        matching,
        offset_token(input)?,
        limit(input, 10_000, 10_000)?,
    );
    let mut out = json!({ "events": events, "searchedLogStreams": [] });
    if let Some(n) = next {
        out["nextToken"] = Value::String(n);
    }
    Ok(out)
}

/// DescribeLogStreams: each stream's first, last and ingestion times, paged.
fn describe_streams(
    events: &[StoredEvent],
    group: &str,
    input: &Value,
) -> Result<Value, LogsFault> {
    let mut streams: BTreeMap<String, (i64, i64, i64)> = BTreeMap::new();
    for e in events {
        let s = streams
            .entry(e.stream.clone())
            .or_insert((e.timestamp, e.timestamp, e.ingestion));
        s.0 = s.0.min(e.timestamp);
        s.1 = s.1.max(e.timestamp);
        s.2 = s.2.max(e.ingestion);
    }
    let prefix = input["logStreamNamePrefix"].as_str().unwrap_or("");
    let mut list: Vec<(String, (i64, i64, i64))> = streams
        .into_iter()
        .filter(|(name, _)| name.starts_with(prefix))
        .collect();
    if input["orderBy"].as_str() == Some("LastEventTime") {
        list.sort_by_key(|(_, s)| s.1);
    }
    if input["descending"].as_bool() == Some(true) {
        list.reverse();
    }
    let arn_base = group_arn(group);
    let values: Vec<Value> = list
        .into_iter()
        .map(|(name, (first, last, ingest))| {
            json!({
                "logStreamName": name,
                "creationTime": first,
                "firstEventTimestamp": first,
                "lastEventTimestamp": last,
                "lastIngestionTime": ingest,
                "arn": format!("{arn_base}:log-stream:{name}"),
                "storedBytes": 0,
            })
        })
        .collect();
    let (streams, next) = page(values, offset_token(input)?, limit(input, 50, 50)?);
    let mut out = json!({ "logStreams": streams });
    if let Some(n) = next {
        out["nextToken"] = Value::String(n);
    }
    Ok(out)
}

/// GetLogEvents: one stream, read forward or backward with position tokens.
fn get_events(events: Vec<StoredEvent>, input: &Value) -> Result<Value, LogsFault> {
    let stream = input["logStreamName"]
        .as_str()
        .ok_or_else(|| LogsFault::invalid("logStreamName is required"))?;
    let start = input["startTime"].as_i64();
    let end = input["endTime"].as_i64();
    let selected: Vec<StoredEvent> = events
        .into_iter()
        .filter(|e| e.stream == stream)
        .filter(|e| start.is_none_or(|s| e.timestamp >= s))
        .filter(|e| end.is_none_or(|t| e.timestamp < t))
        .collect();
    let n = limit(input, 10_000, 10_000)?;
    let total = selected.len();
    // Tokens are positions: `f/N` reads forward from N, `b/N` reads backward up to N.
    let (from, to) = match input["nextToken"].as_str() {
        Some(t) if t.starts_with("f/") => {
            let i: usize = t[2..]
                .parse()
                .map_err(|_| LogsFault::invalid("bad nextToken"))?;
            (i.min(total), i.saturating_add(n).min(total))
        }
        Some(t) if t.starts_with("b/") => {
            let i: usize = t[2..]
                .parse()
                .map_err(|_| LogsFault::invalid("bad nextToken"))?;
            (i.min(total).saturating_sub(n), i.min(total))
        }
        Some(_) => return Err(LogsFault::invalid("bad nextToken")),
        None if input["startFromHead"].as_bool() == Some(true) => (0, n.min(total)),
        None => (total.saturating_sub(n), total),
    };
    let events: Vec<Value> = selected[from..to]
            .iter()
            .map(|e| {
                json!({ "timestamp": e.timestamp, "message": e.message, "ingestionTime": e.ingestion })
            })
            .collect();
    Ok(json!({
        "events": events,
        "nextForwardToken": format!("f/{to}"),
        "nextBackwardToken": format!("b/{from}"),
    }))
}

fn group_arn(group: &str) -> String {
    format!("arn:aws:logs:{REGION}:{ACCOUNT_ID}:log-group:{group}")
}

fn describe_groups(root: &Path, input: &Value) -> Result<Value, LogsFault> {
    let prefix = input["logGroupNamePrefix"].as_str().unwrap_or("");
    let mut metas: Vec<GroupMeta> = fs::read_dir(root)
        .map(|rd| rd.flatten().filter_map(|e| read_meta(&e.path())).collect())
        .unwrap_or_default();
    metas.retain(|m| m.name.starts_with(prefix));
    metas.sort_by(|a, b| a.name.cmp(&b.name));
    let values: Vec<Value> = metas
        .into_iter()
        .map(|m| {
            let mut v = json!({
                "logGroupName": m.name,
                "creationTime": m.creation_time,
                "metricFilterCount": 0,
                "arn": format!("{}:*", group_arn(&m.name)),
                "storedBytes": 0,
            });
            if let Some(d) = m.retention_days {
                v["retentionInDays"] = json!(d);
            }
            v
        })
        .collect();
    let (groups, next) = page(values, offset_token(input)?, limit(input, 50, 50)?);
    let mut out = json!({ "logGroups": groups });
    if let Some(n) = next {
        out["nextToken"] = Value::String(n);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_filter_patterns() {
        assert_eq!(
            pattern_terms(r#"ERROR "request id" x"#),
            ["ERROR", "request id", "x"]
        );
        assert!(pattern_terms("  ").is_empty());
    }

    #[tokio::test]
    async fn writes_filters_and_rotates() {
        let dir = tempfile::tempdir().unwrap();
        let logs = Logs::start(dir.path().to_path_buf());
        let group: Arc<str> = "/aws/lambda/f".into();
        let stream: Arc<str> = "2024/01/01/[$LATEST]abc".into();
        let big = "x".repeat(1000);
        for i in 0..5000 {
            logs.emit(&group, &stream, format!("line {i} {big}"));
        }
        logs.emit(&group, &stream, "needle here".to_string());
        let (status, out) = logs
            .handle(
                "FilterLogEvents",
                br#"{"logGroupName":"/aws/lambda/f","filterPattern":"needle"}"#,
            )
            .await;
        assert_eq!(status, 200, "{out}");
        assert_eq!(out["events"].as_array().unwrap().len(), 1);
        let on_disk: u64 = fs::read_dir(group_dir(dir.path(), "/aws/lambda/f"))
            .unwrap()
            .flatten()
            .map(|e| e.metadata().unwrap().len())
            .sum();
        assert!(on_disk <= 2 * ROTATE_BYTES + 4096, "{on_disk}");
        let (status, out) = logs
            .handle("FilterLogEvents", br#"{"logGroupName":"/nope"}"#)
            .await;
        assert_eq!(
            (status, out["__type"].as_str()),
            (400, Some("ResourceNotFoundException"))
        );
    }
}
