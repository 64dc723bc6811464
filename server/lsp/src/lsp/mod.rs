//! The language server: `lambda-ls` (or `lambda-ls lsp`) on stdio.
//!
//! - `server`: the LSP handlers (protocol in, domain call, protocol out).
//! - `convert`: every conversion between LSP types and ours (UTF-16 positions, lenses, hints…).
//! - `features`: lenses, code actions, inline results and sample events, without protocol types.
//! - `commands`: `workspace/executeCommand` ids, arguments and behaviour (see COMMANDS.md).
//! - `debug`: `lambda.debug`, a debug invocation on the local Lambda (debugpy) and where to attach.
//! - `catalog`: the sample events catalog and pulling a deployed function, for the editor.
//! - `jobs`: background deploys with progress, cancellation and coalescing.
//! - `live`: live mode (redeploy and invoke on save), over `crate::live_loop`.
//! - `confirm`: the question before the first deploy to an AWS profile.
//! - `project_file`: `lambda.toml` in the editor: problems, key completion and hover, and which
//!   functions it configures.
//! - `documents`, `session`, `state`: open files, what this session learned, the shared state.
//! - `editor`: what the server sends on its own (messages, diagnostics, progress, refreshes).

mod catalog;
mod commands;
mod confirm;
mod convert;
mod debug;
mod documents;
mod editor;
mod failure;
mod features;
mod jobs;
mod live;
mod project_file;
mod server;
mod session;
mod state;
#[cfg(test)]
mod tests;

use lambda_deploy::profiles::ProfileEnv;

use lambda_ops::LocalHandle;

/// Requests handled at once. Deploys run as tasks, but `lambda.deploy` requests wait for their
/// result, so leave room for lenses and hints next to several of them.
const CONCURRENCY: usize = 32;

/// Serves LSP on stdin/stdout until the client exits; returns the process exit code.
pub async fn run_stdio(env: ProfileEnv, local: LocalHandle, profile: Option<String>) -> u8 {
    let (service, socket) = server::service(env, local, profile);
    tower_lsp_server::Server::new(tokio::io::stdin(), tokio::io::stdout(), socket)
        .concurrency_level(CONCURRENCY)
        .serve(service)
        .await;
    0
}
