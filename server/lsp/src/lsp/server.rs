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

use lambda_deploy::analysis::FunctionKind;
use lambda_deploy::profiles::{ProfileEnv, LOCAL_PROFILE};
use serde_json::Value;
use tower_lsp_server::jsonrpc::{self, Result};
use tower_lsp_server::ls_types::*;
use tower_lsp_server::{Client, ClientSocket, LanguageServer, LspService};
use tower_service::Service;

use super::commands::{self, Request};
use super::convert;
use super::documents::{Document, Kind};
use super::editor::ClientToken;
use super::failure::Failure;
use super::features::{self, FileView, Lens};
use super::live;
use super::project_file;
use super::session::FunctionKey;
use super::state::{Shared, SharedRef, State};
use lambda_ops::LocalHandle;

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

    /// Sends what an opened or changed document needs: a project file's problems (and a lens
    /// refresh when its targets changed), a Python file's error marks.
    async fn follow_up(&self, uri: Uri, followup: std::result::Result<FollowUp, Failure>) {
        match followup {
            Ok(FollowUp::Nothing) => {}
            Ok(FollowUp::Marks(path)) => self.shared.publish_marks(&[path]).await,
            Ok(FollowUp::Project(report)) => {
                let ProjectReport {
                    diagnostics,
                    version,
                    targets_changed,
                } = report;
                self.shared
                    .editor
                    .publish(uri, diagnostics, Some(version))
                    .await;
                if targets_changed {
                    self.shared.editor.refresh(true, false).await;
                }
            }
            Err(f) => self.shared.editor.show(&f).await,
        }
    }
}

/// What the server sends after a document opened or changed.
enum FollowUp {
    Nothing,
    /// The error marks of this Python file (they moved or vanished).
    Marks(std::path::PathBuf),
    Project(ProjectReport),
}

struct ProjectReport {
    diagnostics: Vec<Diagnostic>,
    version: i32,
    /// Python files' lenses depend on `[[function]] target`s.
    targets_changed: bool,
}

/// The problems of the open project file at `uri`, noting whether its targets changed.
fn project_report(st: &mut State, uri: &str) -> FollowUp {
    let Some(doc) = st.documents.get(uri) else {
        return FollowUp::Nothing;
    };
    let (problems, targets) = project_file::check(doc.text());
    let diagnostics = convert::config_diagnostics(doc.text(), &problems);
    let version = doc.version;
    let before = st.project_targets.insert(uri.to_string(), targets.clone());
    FollowUp::Project(ProjectReport {
        diagnostics,
        version,
        targets_changed: before.is_none_or(|b| b != targets),
    })
}

/// Lenses of an open Python file, with the functions its `lambda.toml` configures.
async fn file_lenses(shared: &SharedRef, uri: &Uri) -> std::result::Result<Vec<Lens>, Failure> {
    let path = shared.with(|st| {
        st.documents
            .get(uri.as_str())
            .filter(|d| d.kind() == Kind::Python)
            .and_then(|d| d.path.clone())
    })?;
    let Some(path) = path else {
        return Ok(Vec::new());
    };
    let configured = match project_file::configured_in(shared, &path).await {
        Ok(c) => c,
        Err(f) => {
            tracing::warn!("lenses without lambda.toml: {f}");
            Vec::new()
        }
    };
    let live = shared.live.keys();
    shared.with(|st| {
        with_file(st, uri, |file, _| {
            let view = features::SessionView {
                session: &st.session,
                profile: st.current_profile(),
                now: SystemTime::now(),
                live: &live,
            };
            features::lenses(file, &view, &configured)
        })
    })
}

/// The text of an open `lambda.toml`, if `uri` is one.
fn with_project<T>(st: &State, uri: &Uri, f: impl FnOnce(&str) -> Option<T>) -> Option<T> {
    let doc = st.documents.get(uri.as_str())?;
    (doc.kind() == Kind::Project).then(|| f(doc.text()))?
}

/// A view of one open file for the features, if it is one.
fn with_file<T: Default>(st: &State, uri: &Uri, f: impl FnOnce(&FileView, &Document) -> T) -> T {
    let Some(doc) = st.documents.get(uri.as_str()) else {
        return T::default();
    };
    let Some(path) = doc.path.as_deref() else {
        return T::default();
    };
    let view = FileView {
        uri: uri.as_str(),
        path,
        text: doc.text(),
        functions: doc.functions(),
    };
    f(&view, doc)
}

impl LanguageServer for Backend {
    async fn initialize(&self, params: InitializeParams) -> Result<InitializeResult> {
        let caps = convert::client_caps(&params.capabilities);
        self.shared.editor.set_caps(caps);
        let options = params.initialization_options.as_ref();
        if let Some(timeout) = convert::init_question_timeout(options) {
            self.shared.editor.set_question_timeout(timeout);
        }
        if let Some(profile) = convert::init_profile(params.initialization_options.as_ref()) {
            let stored = self.shared.with(|st| st.profile = Some(profile));
            self.reply(stored).await?;
        }
        Ok(convert::initialize_result(commands::ALL, &caps))
    }

    async fn initialized(&self, _: InitializedParams) {
        self.shared.editor.register_project_files().await;
        // Clients that pull settings may never push them: ask once at start.
        let pulled = self.shared.editor.pull_settings().await;
        if let Some(on) = pulled.as_ref().and_then(convert::settings_live) {
            self.shared.live.set_default(on);
        }
        if let Some(profile) = pulled.as_ref().and_then(convert::settings_profile) {
            if let Err(f) = self.shared.with(|st| st.profile = profile) {
                self.shared.editor.show(&f).await;
            }
        }
        commands::announce(&self.shared).await;
    }

    async fn shutdown(&self) -> Result<()> {
        self.shared.jobs.cancel_all();
        self.shared.live.stop_all();
        Ok(())
    }

    async fn did_open(&self, params: DidOpenTextDocumentParams) {
        let item = params.text_document;
        let path = convert::file_path(item.uri.as_str());
        let Some(kind) = Document::kind_of(path.as_deref(), &item.language_id) else {
            return;
        };
        let doc = Document::new(kind, path.clone(), item.text, item.version);
        let opened = self.shared.with(|st| {
            st.documents.insert(item.uri.to_string(), doc);
            match (kind, path) {
                (Kind::Project, _) => project_report(st, item.uri.as_str()),
                (Kind::Python, Some(path)) => FollowUp::Marks(path),
                (Kind::Python, None) => FollowUp::Nothing,
            }
        });
        self.follow_up(item.uri, opened).await;
    }

    async fn did_change(&self, params: DidChangeTextDocumentParams) {
        let uri = params.text_document.uri;
        let changed = self.shared.with(|st| {
            let Some(doc) = st.documents.get_mut(uri.as_str()) else {
                return FollowUp::Nothing;
            };
            doc.version = params.text_document.version;
            let edits = convert::apply_changes(doc, params.content_changes);
            let (kind, path) = (doc.kind(), doc.path.clone());
            match (kind, path) {
                (Kind::Project, _) => project_report(st, uri.as_str()),
                (Kind::Python, Some(path)) => {
                    let mut touched = false;
                    for e in &edits {
                        touched |= st.session.edit_marks(&path, e);
                    }
                    if touched {
                        FollowUp::Marks(path)
                    } else {
                        FollowUp::Nothing
                    }
                }
                (Kind::Python, None) => FollowUp::Nothing,
            }
        });
        self.follow_up(uri, changed).await;
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
        if let Some(path) = convert::file_path(params.text_document.uri.as_str()) {
            live::saved(&self.shared, &path).await;
        }
    }

    async fn did_close(&self, params: DidCloseTextDocumentParams) {
        let uri = params.text_document.uri;
        let closed = self.shared.with(|st| {
            st.project_targets.remove(uri.as_str());
            st.documents.remove(uri.as_str()).map(|d| d.kind())
        });
        // Marks stay in the session and come back when the file is opened again.
        if let Ok(Some(kind)) = closed {
            self.shared.editor.publish(uri, Vec::new(), None).await;
            // The saved lambda.toml applies again.
            if kind == Kind::Project {
                self.shared.editor.refresh(true, false).await;
            }
        }
    }

    async fn did_change_configuration(&self, params: DidChangeConfigurationParams) {
        // Before any await: a save right after this notification already sees it.
        let pushed_live = convert::settings_live(&params.settings);
        if let Some(on) = pushed_live {
            self.shared.live.set_default(on);
        }
        // Clients that pull settings send none here: ask for them.
        let settings = match convert::settings_profile(&params.settings) {
            Some(_) => Some(params.settings),
            None => self.shared.editor.pull_settings().await,
        };
        let pulled_live = settings.as_ref().and_then(convert::settings_live);
        if let (None, Some(on)) = (pushed_live, pulled_live) {
            self.shared.live.set_default(on);
        }
        let Some(profile) = settings.as_ref().and_then(convert::settings_profile) else {
            return;
        };
        match self.shared.with(|st| st.profile = profile) {
            Ok(()) => commands::announce(&self.shared).await,
            Err(f) => self.shared.editor.show(&f).await,
        }
    }

    async fn code_lens(&self, params: CodeLensParams) -> Result<Option<Vec<CodeLens>>> {
        let lenses = file_lenses(&self.shared, &params.text_document.uri).await;
        Ok(Some(convert::code_lenses(self.reply(lenses).await?)))
    }

    async fn completion(&self, params: CompletionParams) -> Result<Option<CompletionResponse>> {
        let at = params.text_document_position;
        let items = self.shared.with(|st| {
            with_project(st, &at.text_document.uri, |text| {
                let offset = convert::byte_offset(text, at.position);
                Some(convert::completion(
                    text,
                    project_file::complete(text, offset),
                ))
            })
        });
        self.reply(items).await
    }

    async fn hover(&self, params: HoverParams) -> Result<Option<Hover>> {
        let at = params.text_document_position_params;
        let doc = self.shared.with(|st| {
            with_project(st, &at.text_document.uri, |text| {
                let offset = convert::byte_offset(text, at.position);
                project_file::hover(text, offset).map(|d| convert::hover(text, d))
            })
        });
        self.reply(doc).await
    }

    async fn code_action(&self, params: CodeActionParams) -> Result<Option<CodeActionResponse>> {
        let (uri, line) = (params.text_document.uri, params.range.start.line as usize);
        let can_create = self.shared.editor.caps().create_files;
        let live = self.shared.live.keys();
        let actions = self.shared.with(|st| {
            let local = features::targets_local(st.current_profile());
            with_file(st, &uri, |file, _| {
                let Some(function) = file.functions.iter().find(|f| f.contains_line(line)) else {
                    return Vec::new();
                };
                let events = lambda_ops::event::events_file(file.path, &function.name);
                let mut actions =
                    features::actions(file, function, &events, events.is_file(), local);
                let profile = st.current_profile();
                actions.extend(features::open_url_action(
                    file,
                    function,
                    &st.session,
                    profile,
                ));
                actions.retain(|a| can_create || !matches!(a, features::Action::CreateFile { .. }));
                if function.kind != FunctionKind::Private {
                    let key = FunctionKey {
                        path: file.path.to_path_buf(),
                        function: function.name.clone(),
                    };
                    let aws = st.current_profile().filter(|p| *p != LOCAL_PROFILE);
                    actions.push(live::action(function, file.uri, live.contains(&key), aws));
                }
                actions
            })
        });
        let open_created = self.shared.editor.caps().show_document;
        Ok(Some(convert::code_actions(
            self.reply(actions).await?,
            open_created,
        )))
    }

    async fn inlay_hint(&self, params: InlayHintParams) -> Result<Option<Vec<InlayHint>>> {
        let (uri, range) = (params.text_document.uri, params.range);
        let hints = self.shared.with(|st| {
            with_file(st, &uri, |file, doc| {
                let hints = features::hints(file, &st.session, st.current_profile());
                convert::inlay_hints(doc.text(), hints, range)
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
