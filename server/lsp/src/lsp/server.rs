//! The LSP handlers. Each one converts from the protocol, calls the domain, converts back.
//!
//! tower-lsp runs handlers concurrently, so handlers that change documents finish the change
//! under the lock before their first `.await`, and nothing holds the lock across an `.await`.

use std::future::Future;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::SystemTime;

use lambda_deploy::profiles::ProfileEnv;
use serde_json::Value;
use tower_lsp_server::jsonrpc::{self, Result};
use tower_lsp_server::ls_types::*;
use tower_lsp_server::{Client, ClientSocket, LanguageServer, LspService};
use tower_service::Service;

use super::commands::{self, Request};
use super::convert;
use super::documents::Document;
use super::editor::ClientToken;
use super::failure::Failure;
use super::features::{self, FileView};
use super::state::{Shared, SharedRef, State};
use crate::target::LocalHandle;

pub struct Backend {
    shared: SharedRef,
}

/// The service and its client socket, ready for `tower_lsp_server::Server`.
pub fn service(
    env: ProfileEnv,
    local: LocalHandle,
    profile: Option<String>,
) -> (CatchPanics<LspService<Backend>>, ClientSocket) {
    let builder = LspService::build(|client: Client| Backend {
        shared: Arc::new(Shared::new(client, env, local, profile)),
    })
    .custom_method("window/workDoneProgress/cancel", Backend::cancel_progress);
    #[cfg(test)]
    let builder = builder.custom_method("lambdaLs/testPanic", Backend::test_panic);
    let (service, socket) = builder.finish();
    (CatchPanics(service), socket)
}

/// Answers a request whose handler panicked with an internal error (and drops a notification
/// whose handler panicked) instead of letting the panic end the server.
pub struct CatchPanics<S>(S);

impl<S> Service<jsonrpc::Request> for CatchPanics<S>
where
    S: Service<jsonrpc::Request, Response = Option<jsonrpc::Response>>,
    S::Future: Send + 'static,
{
    type Response = Option<jsonrpc::Response>;
    type Error = S::Error;
    type Future =
        Pin<Box<dyn Future<Output = std::result::Result<Self::Response, S::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<std::result::Result<(), S::Error>> {
        self.0.poll_ready(cx)
    }

    fn call(&mut self, request: jsonrpc::Request) -> Self::Future {
        let id = request.id().cloned();
        let method = request.method().to_string();
        let mut answer = Box::pin(self.0.call(request));
        Box::pin(std::future::poll_fn(move |cx| {
            match catch_unwind(AssertUnwindSafe(|| answer.as_mut().poll(cx))) {
                Ok(poll) => poll,
                Err(_) => {
                    tracing::error!("the {method} handler panicked; the server goes on");
                    let error = jsonrpc::Error {
                        code: jsonrpc::ErrorCode::InternalError,
                        message: format!("lambda-ls hit an internal error in {method}").into(),
                        data: None,
                    };
                    Poll::Ready(Ok(id
                        .clone()
                        .map(|id| jsonrpc::Response::from_error(id, error))))
                }
            }
        }))
    }
}

impl Backend {
    /// Answers with the value, or shows the failure and answers with its JSON-RPC error.
    async fn reply<T>(&self, result: std::result::Result<T, Failure>) -> Result<T> {
        match result {
            Ok(v) => Ok(v),
            Err(f) => {
                self.shared.editor.show(&f).await;
                Err(convert::rpc_error(&f))
            }
        }
    }

    /// `window/workDoneProgress/cancel`: stops the deploy behind that progress.
    async fn cancel_progress(&self, params: WorkDoneProgressCancelParams) {
        let key = convert::progress_key(&params.token);
        if !self.shared.jobs.cancel(&key) {
            tracing::debug!("no running deploy reports on progress {key}");
        }
    }

    #[cfg(test)]
    async fn test_panic(&self) -> Result<()> {
        panic!("a handler panicked on purpose");
    }

    /// Sends the error diagnostics of an open document, when it has a file path.
    async fn publish_for(&self, path: Option<std::path::PathBuf>) {
        if let Some(path) = path {
            self.shared.publish_marks(&[path]).await;
        }
    }
}

/// A view of one open file for the features, if it is one.
fn with_file<T: Default>(st: &State, uri: &Uri, f: impl FnOnce(&FileView, &Document) -> T) -> T {
    let Some(doc) = st.documents.get(uri.as_str()) else {
        return T::default();
    };
    let Some(path) = doc.path.as_deref() else {
        return T::default();
    };
    let functions = doc.functions();
    let view = FileView {
        uri: uri.as_str(),
        path,
        text: doc.text(),
        functions: &functions,
    };
    f(&view, doc)
}

impl LanguageServer for Backend {
    async fn initialize(&self, params: InitializeParams) -> Result<InitializeResult> {
        self.shared
            .editor
            .set_caps(convert::client_caps(&params.capabilities));
        if let Some(profile) = convert::init_profile(params.initialization_options.as_ref()) {
            let stored = self.shared.with(|st| st.profile = Some(profile));
            self.reply(stored).await?;
        }
        Ok(convert::initialize_result(commands::ALL))
    }

    async fn initialized(&self, _: InitializedParams) {
        // Clients that pull settings may never push them: ask once at start.
        let pulled = self.shared.editor.pull_settings().await;
        if let Some(profile) = pulled.as_ref().and_then(convert::settings_profile) {
            if let Err(f) = self.shared.with(|st| st.profile = profile) {
                self.shared.editor.show(&f).await;
            }
        }
        commands::announce(&self.shared).await;
    }

    async fn shutdown(&self) -> Result<()> {
        self.shared.jobs.cancel_all();
        Ok(())
    }

    async fn did_open(&self, params: DidOpenTextDocumentParams) {
        let item = params.text_document;
        let path = convert::file_path(item.uri.as_str());
        if !Document::is_python(path.as_deref(), &item.language_id) {
            return;
        }
        let doc = Document::new(path.clone(), item.text, item.version);
        let opened = self.shared.with(|st| {
            st.documents.insert(item.uri.to_string(), doc);
        });
        if let Err(f) = opened {
            return self.shared.editor.show(&f).await;
        }
        self.publish_for(path).await;
    }

    async fn did_change(&self, params: DidChangeTextDocumentParams) {
        let uri = params.text_document.uri;
        let changed = self.shared.with(|st| {
            let doc = st.documents.get_mut(uri.as_str())?;
            doc.version = params.text_document.version;
            let edits = convert::apply_changes(doc, params.content_changes);
            let path = doc.path.clone()?;
            let mut touched = false;
            for e in &edits {
                touched |= st.session.edit_marks(&path, e);
            }
            touched.then_some(path)
        });
        match changed {
            Ok(path) => self.publish_for(path).await,
            Err(f) => self.shared.editor.show(&f).await,
        }
    }

    async fn did_save(&self, params: DidSaveTextDocumentParams) {
        let saved = self.shared.with(|st| {
            if let Some(doc) = st.documents.get_mut(params.text_document.uri.as_str()) {
                doc.dirty = false;
            }
        });
        if let Err(f) = saved {
            self.shared.editor.show(&f).await;
        }
    }

    async fn did_close(&self, params: DidCloseTextDocumentParams) {
        let uri = params.text_document.uri;
        let closed = self.shared.with(|st| st.documents.remove(uri.as_str()));
        // Marks stay in the session and come back when the file is opened again.
        if let Ok(Some(_)) = closed {
            self.shared.editor.publish(uri, Vec::new(), None).await;
        }
    }

    async fn did_change_configuration(&self, params: DidChangeConfigurationParams) {
        let setting = match convert::settings_profile(&params.settings) {
            Some(setting) => Some(setting),
            None => self
                .shared
                .editor
                .pull_settings()
                .await
                .as_ref()
                .and_then(convert::settings_profile),
        };
        let Some(profile) = setting else { return };
        match self.shared.with(|st| st.profile = profile) {
            Ok(()) => commands::announce(&self.shared).await,
            Err(f) => self.shared.editor.show(&f).await,
        }
    }

    async fn code_lens(&self, params: CodeLensParams) -> Result<Option<Vec<CodeLens>>> {
        let uri = params.text_document.uri;
        let lenses = self.shared.with(|st| {
            with_file(st, &uri, |file, _| {
                features::lenses(file, &st.session, st.current_profile(), SystemTime::now())
            })
        });
        Ok(Some(convert::code_lenses(self.reply(lenses).await?)))
    }

    async fn code_action(&self, params: CodeActionParams) -> Result<Option<CodeActionResponse>> {
        let (uri, line) = (params.text_document.uri, params.range.start.line as usize);
        let can_create = self.shared.editor.caps().create_files;
        let actions = self.shared.with(|st| {
            with_file(st, &uri, |file, _| {
                let Some(function) = file.functions.iter().find(|f| f.contains_line(line)) else {
                    return Vec::new();
                };
                let events = features::events_file(file.path, &function.name);
                let mut actions = features::actions(file, function, &events, events.is_file());
                actions.retain(|a| can_create || !matches!(a, features::Action::CreateFile { .. }));
                actions
            })
        });
        Ok(Some(convert::code_actions(self.reply(actions).await?)))
    }

    async fn inlay_hint(&self, params: InlayHintParams) -> Result<Option<Vec<InlayHint>>> {
        let (uri, range) = (params.text_document.uri, params.range);
        let hints = self.shared.with(|st| {
            with_file(st, &uri, |file, doc| {
                convert::inlay_hints(doc.text(), features::hints(file, &st.session), range)
            })
        });
        Ok(Some(self.reply(hints).await?))
    }

    async fn execute_command(&self, params: ExecuteCommandParams) -> Result<Option<Value>> {
        let token = params
            .work_done_progress_params
            .work_done_token
            .map(ClientToken);
        let command = params.command;
        let request = Request::parse(&command, params.arguments);
        let shared = self.shared.clone();
        let run = async move {
            // A task of its own: a panic in a command ends that command, never the server.
            tokio::spawn(commands::execute(shared, request?, token))
                .await
                .map_err(|e| Failure::stopped(&command, &e))?
        };
        Ok(Some(self.reply(run.await).await?))
    }
}
