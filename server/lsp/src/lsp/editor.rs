//! Everything the server sends to the editor on its own: messages, logs, diagnostics, progress,
//! refresh requests and `lambdaLs/profileChanged`, each only when the client announced support.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;
use std::time::Duration;

use tower_lsp_server::jsonrpc;
use tower_lsp_server::ls_types::{Diagnostic, MessageType, ProgressToken, Uri};
use tower_lsp_server::{Cancellable, Client, OngoingProgress, Unbounded};

use super::convert::{self, ConfirmDeploy, ProfileChanged, ProfileChangedParams, Question};
use super::failure::Failure;

/// How long a request to the client (create a progress token, refresh) may take: a client that
/// never answers must not hold a deploy or an invoke result back.
const CLIENT_REPLY_TIMEOUT: Duration = Duration::from_secs(10);

/// How long a question to the user may stay unanswered unless the client chose another bound
/// (`questionTimeoutSeconds` in the initialization options): a person reads it, but a question
/// nobody answers must not hold a deploy forever.
pub const QUESTION_TIMEOUT: Duration = Duration::from_secs(300);

/// Awaits a request to the client, giving up after [`CLIENT_REPLY_TIMEOUT`].
async fn bounded<T>(
    what: &str,
    request: impl std::future::Future<Output = jsonrpc::Result<T>>,
) -> Option<T> {
    match tokio::time::timeout(CLIENT_REPLY_TIMEOUT, request).await {
        Ok(Ok(v)) => Some(v),
        Ok(Err(e)) => {
            tracing::debug!("{what} failed: {e}");
            None
        }
        Err(_) => {
            tracing::debug!("{what}: no answer from the client");
            None
        }
    }
}

/// What the client said it supports, read once at `initialize`.
#[derive(Debug, Clone, Copy, Default)]
pub struct Caps {
    pub work_done_progress: bool,
    pub code_lens_refresh: bool,
    pub inlay_hint_refresh: bool,
    /// `documentChanges` with the `create` resource operation.
    pub create_files: bool,
    /// `workspace/configuration` (pull settings).
    pub configuration: bool,
    /// `window/showMessageRequest` (questions with buttons).
    pub show_message_request: bool,
    /// `experimental.lambdaLs.confirmDeploy`: the client answers `lambdaLs/confirmDeploy` with a
    /// form the user cannot miss (VS Code: a modal dialog).
    pub confirm_deploy: bool,
    /// `experimental.lambdaLs.debugReady`: the client attaches a debugger by itself when told
    /// `lambdaLs/debugReady` (VS Code), so the message saying where to attach is only logged.
    pub debug_ready: bool,
    /// `window/showDocument`.
    pub show_document: bool,
    /// Dynamic registration of text synchronization, completion and hover.
    pub dynamic_sync: bool,
    pub dynamic_completion: bool,
    pub dynamic_hover: bool,
}

/// How a question ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    /// The title of the button the user chose.
    Chose(String),
    /// Closed without choosing, or the client refused the request.
    Dismissed,
    /// No answer within the question timeout.
    TimedOut,
}

/// A progress token the client gave with a request, passed through untouched.
pub struct ClientToken(pub(super) ProgressToken);

pub struct Editor {
    client: Client,
    caps: OnceLock<Caps>,
    question_timeout: OnceLock<Duration>,
    next_token: AtomicU64,
}

/// An ongoing `$/progress` stream; `key` names it for `window/workDoneProgress/cancel`.
pub struct ProgressReport {
    pub key: String,
    ongoing: OngoingProgress<Unbounded, Cancellable>,
}

impl ProgressReport {
    pub async fn report(&self, message: String) {
        self.ongoing.report_with_message(message, None).await;
    }

    pub async fn end(self, message: String) {
        self.ongoing.finish_with_message(message).await;
    }
}

impl Editor {
    pub fn new(client: Client) -> Self {
        Editor {
            client,
            caps: OnceLock::new(),
            question_timeout: OnceLock::new(),
            next_token: AtomicU64::new(1),
        }
    }

    pub fn set_caps(&self, caps: Caps) {
        let _ = self.caps.set(caps);
    }

    pub fn caps(&self) -> Caps {
        self.caps.get().copied().unwrap_or_default()
    }

    pub fn set_question_timeout(&self, timeout: Duration) {
        let _ = self.question_timeout.set(timeout);
    }

    pub fn question_timeout(&self) -> Duration {
        self.question_timeout
            .get()
            .copied()
            .unwrap_or(QUESTION_TIMEOUT)
    }

    /// Whether the user can be asked a question at all.
    pub fn can_ask(&self) -> bool {
        let caps = self.caps();
        caps.confirm_deploy || caps.show_message_request
    }

    /// The sentence as an error message, and to the log: once (a failure already shown by the
    /// deploy it came from is not shown or logged again). Not to stderr as well, which editors
    /// put in the same log.
    pub async fn show(&self, failure: &Failure) {
        if failure.reported {
            return;
        }
        tracing::debug!(blame = ?failure.blame, "{}", failure.sentence);
        self.log(MessageType::ERROR, &failure.sentence).await;
        if failure.should_show() {
            self.client
                .show_message(MessageType::ERROR, &failure.sentence)
                .await;
        }
    }

    /// A failure to the log only: the user sees it in another form (a question).
    pub async fn log_failure(&self, failure: &Failure) {
        self.log(MessageType::ERROR, &failure.sentence).await;
    }

    pub async fn warn(&self, text: &str) {
        tracing::warn!("{text}");
        self.client.show_message(MessageType::WARNING, text).await;
    }

    pub async fn info(&self, text: &str) {
        self.log(MessageType::INFO, text).await;
    }

    async fn log(&self, typ: MessageType, text: &str) {
        self.client.log_message(typ, text).await;
    }

    pub async fn publish(&self, uri: Uri, diagnostics: Vec<Diagnostic>, version: Option<i32>) {
        self.client
            .publish_diagnostics(uri, diagnostics, version)
            .await;
    }

    /// Asks the client to ask again for lenses and/or hints, where it supports that.
    pub async fn refresh(&self, lenses: bool, hints: bool) {
        let caps = self.caps();
        if lenses && caps.code_lens_refresh {
            bounded("codeLens/refresh", self.client.code_lens_refresh()).await;
        }
        if hints && caps.inlay_hint_refresh {
            bounded("inlayHint/refresh", self.client.inlay_hint_refresh()).await;
        }
    }

    /// Starts a cancellable progress on the client's token, or on one created with
    /// `window/workDoneProgress/create` when the client supports it; else nothing.
    pub async fn begin_progress(
        &self,
        title: &str,
        token: Option<ClientToken>,
    ) -> Option<ProgressReport> {
        let token = match token {
            Some(ClientToken(t)) => t,
            None if self.caps().work_done_progress => {
                let n = self.next_token.fetch_add(1, Ordering::Relaxed);
                let t = convert::progress_token(format!("lambda-ls/{n}"));
                let created = self.client.create_work_done_progress(t.clone());
                bounded("workDoneProgress/create", created).await?;
                t
            }
            None => return None,
        };
        let key = convert::progress_key(&token);
        let ongoing = self
            .client
            .progress(token, title)
            .with_cancel_button()
            .begin()
            .await;
        Some(ProgressReport { key, ongoing })
    }

    /// Asks whether to deploy: `lambdaLs/confirmDeploy` where the client announced it, else
    /// `window/showMessageRequest` with Deploy / Cancel (the caller checks [`Self::can_ask`]).
    pub async fn ask_deploy(&self, question: &Question) -> Answer {
        use super::confirm::{CANCEL_BUTTON, DEPLOY_BUTTON};
        if !self.caps().confirm_deploy {
            return self
                .ask(&question.message, &[DEPLOY_BUTTON, CANCEL_BUTTON])
                .await;
        }
        tracing::info!("asking: {}", question.message);
        let request = self.client.send_request::<ConfirmDeploy>(question.clone());
        match tokio::time::timeout(self.question_timeout(), request).await {
            Ok(Ok(r)) if r.deploy => Answer::Chose(DEPLOY_BUTTON.to_string()),
            Ok(Ok(_)) => Answer::Dismissed,
            Ok(Err(e)) => {
                tracing::debug!("lambdaLs/confirmDeploy failed: {e}");
                Answer::Dismissed
            }
            Err(_) => Answer::TimedOut,
        }
    }

    /// Asks the user a question with buttons (the caller checks `show_message_request`).
    pub async fn ask(&self, question: &str, buttons: &[&str]) -> Answer {
        tracing::info!("asking: {question}");
        let request = self.client.show_message_request(
            MessageType::WARNING,
            question,
            Some(convert::message_actions(buttons)),
        );
        match tokio::time::timeout(self.question_timeout(), request).await {
            Ok(Ok(item)) => match convert::chosen_action(item) {
                Some(title) => Answer::Chose(title),
                None => Answer::Dismissed,
            },
            Ok(Err(e)) => {
                tracing::debug!("window/showMessageRequest failed: {e}");
                Answer::Dismissed
            }
            Err(_) => Answer::TimedOut,
        }
    }

    /// Registers what `lambda.toml` support needs with clients that take dynamic registrations.
    pub async fn register_project_files(&self) {
        let registrations = convert::project_file_registrations(&self.caps());
        if registrations.is_empty() {
            return;
        }
        let request = self.client.register_capability(registrations);
        bounded::<()>("client/registerCapability", request).await;
    }

    /// Opens a file in the editor, where the client supports `window/showDocument`.
    pub async fn show_document(&self, path: &std::path::Path) {
        if !self.caps().show_document {
            return;
        }
        if let Some(params) = convert::show_document(path) {
            bounded("window/showDocument", self.client.show_document(params)).await;
        }
    }

    /// Where to attach a debugger: `lambdaLs/debugReady` for clients that attach by
    /// themselves, else the same as a message to the user.
    pub async fn debug_ready(&self, params: super::debug::DebugReadyParams) {
        let text = params.sentence();
        if self.caps().debug_ready {
            self.log(MessageType::INFO, &text).await;
            self.client
                .send_notification::<convert::DebugReady>(params)
                .await;
        } else {
            self.client.show_message(MessageType::INFO, &text).await;
            self.log(MessageType::INFO, &text).await;
        }
    }

    /// Opens `url` in the user's browser (`window/showDocument`, external); a client without it
    /// is told the address instead.
    pub async fn open_url(&self, url: &str) {
        match convert::show_url(url).filter(|_| self.caps().show_document) {
            Some(params) => {
                bounded("window/showDocument", self.client.show_document(params)).await;
            }
            None => {
                let text = format!("function URL: {url}");
                self.client.show_message(MessageType::INFO, text).await;
            }
        }
    }

    pub async fn announce_profile(&self, params: ProfileChangedParams) {
        self.client
            .send_notification::<ProfileChanged>(params)
            .await;
    }

    /// The `lambdaLs` settings section, pulled with `workspace/configuration` when supported.
    pub async fn pull_settings(&self) -> Option<serde_json::Value> {
        if !self.caps().configuration {
            return None;
        }
        let request = self.client.configuration(convert::configuration_request());
        let mut values = bounded("workspace/configuration", request).await?;
        (!values.is_empty()).then(|| values.swap_remove(0))
    }
}
