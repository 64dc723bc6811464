//! Fan-out: one invoke per input with bounded concurrency, results kept in input order.

use std::sync::Arc;

use serde::Serialize;
use tokio::sync::Semaphore;

use crate::aws::Connection;
use crate::invoke::{invoke, InvokeKind, InvokeRequest};

/// What happened to one input.
#[derive(Debug, Clone, Serialize)]
pub struct MapResult {
    pub index: usize,
    pub ok: bool,
    /// The function's result, or its error document.
    pub output: serde_json::Value,
    /// Why the call itself failed (payload refused, AWS error), when it did.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// How inputs become payloads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MapMode {
    /// Each input is the event.
    Event,
    /// Each input is an argument list for a callable: `{"args": input}`.
    Starmap,
}

/// Invokes `function` once per input, at most `concurrency` at a time; a failing input is
/// reported in its slot and does not stop the others. `done` is told each finished index.
pub async fn map(
    conn: &Connection,
    function: &str,
    inputs: Vec<serde_json::Value>,
    mode: MapMode,
    concurrency: usize,
    done: &(dyn Fn(usize, usize) + Send + Sync),
) -> Vec<MapResult> {
    let total = inputs.len();
    let permits = Arc::new(Semaphore::new(concurrency.max(1)));
    let mut tasks = tokio::task::JoinSet::new();
    for (index, input) in inputs.into_iter().enumerate() {
        let conn = conn.clone();
        let function = function.to_string();
        let permits = Arc::clone(&permits);
        tasks.spawn(async move {
            let _permit = permits
                .acquire_owned()
                .await
                .expect("semaphore is never closed");
            let payload = match mode {
                MapMode::Event => input,
                MapMode::Starmap => serde_json::json!({"args": input}),
            };
            let req = InvokeRequest {
                function,
                payload: serde_json::to_vec(&payload).expect("JSON values serialize"),
                kind: InvokeKind::ResultOnly,
                qualifier: None,
            };
            let result = match invoke(&conn, &req).await {
                Ok(out) => MapResult {
                    index,
                    ok: !out.failed(),
                    output: out.payload,
                    error: None,
                },
                Err(e) => MapResult {
                    index,
                    ok: false,
                    output: serde_json::Value::Null,
                    error: Some(e.to_string()),
                },
            };
            result
        });
    }
    let mut results: Vec<Option<MapResult>> = vec![None; total];
    let mut finished = 0;
    while let Some(joined) = tasks.join_next().await {
        finished += 1;
        match joined {
            Ok(r) => {
                let i = r.index;
                results[i] = Some(r);
            }
            Err(e) => tracing::error!(%e, "a map task stopped unexpectedly"),
        }
        done(finished, total);
    }
    results
        .into_iter()
        .enumerate()
        .map(|(index, r)| {
            r.unwrap_or(MapResult {
                index,
                ok: false,
                output: serde_json::Value::Null,
                error: Some("the invoke task stopped unexpectedly".into()),
            })
        })
        .collect()
}
