//! `map`: one invoke per line of a JSON-lines file, in parallel, results in input order.

use std::path::Path;

use lambda_deploy::aws::Connection;
use lambda_deploy::fanout::{self, MapMode, MapResult};
use serde_json::Value;

use crate::OpError;

/// A fan-out, its inputs read and checked before anything is sent.
#[derive(Debug, Clone)]
pub struct MapRequest {
    pub function: String,
    pub inputs: Vec<Value>,
    pub mode: MapMode,
    pub concurrency: usize,
}

impl MapRequest {
    /// Reads `inputs` (one JSON value a line, blank lines skipped); with `starmap` each line
    /// must be an argument list for a callable.
    pub fn from_file(
        function: String,
        inputs: &Path,
        starmap: bool,
        concurrency: usize,
    ) -> Result<MapRequest, OpError> {
        let text = std::fs::read_to_string(inputs)
            .map_err(|e| OpError::Usage(format!("cannot read {}: {e}", inputs.display())))?;
        let mut values = Vec::new();
        for (i, line) in text
            .lines()
            .enumerate()
            .filter(|(_, l)| !l.trim().is_empty())
        {
            let at = || format!("{} line {}", inputs.display(), i + 1);
            let v: Value = serde_json::from_str(line)
                .map_err(|e| OpError::Usage(format!("{}: not JSON: {e}", at())))?;
            if starmap && !v.is_array() {
                return Err(OpError::Usage(format!(
                    "{}: --starmap needs a JSON array of arguments",
                    at()
                )));
            }
            values.push(v);
        }
        if concurrency == 0 {
            return Err(OpError::Usage(
                "--concurrency must be at least 1".to_string(),
            ));
        }
        Ok(MapRequest {
            function,
            inputs: values,
            mode: if starmap {
                MapMode::Starmap
            } else {
                MapMode::Event
            },
            concurrency,
        })
    }
}

/// Invokes once per input, at most `concurrency` at a time; a failing input fails its own slot
/// only. `done` is told (finished, total) as invokes end.
pub async fn map(
    conn: &Connection,
    req: MapRequest,
    done: &(dyn Fn(usize, usize) + Send + Sync),
) -> Vec<MapResult> {
    fanout::map(
        conn,
        &req.function,
        req.inputs,
        req.mode,
        req.concurrency,
        done,
    )
    .await
}
