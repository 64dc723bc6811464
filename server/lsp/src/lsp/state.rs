//! The server's state and the rules for touching it: one short lock, never across an `.await`,
//! and every synchronous domain call guarded so a panic becomes a [`Failure`], not a dead server.

use std::collections::{HashMap, HashSet};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};

use lambda_deploy::profiles::ProfileEnv;
use tower_lsp_server::Client;

use super::convert::{self, ProfileChangedParams};
use super::documents::Document;
use super::editor::Editor;
use super::failure::Failure;
use super::jobs::Jobs;
use super::session::Session;
use lambda_ops::LocalHandle;

#[derive(Default)]
pub struct State {
    /// Open Python files and `lambda.toml` files by URI.
    pub documents: HashMap<String, Document>,
    /// The `[[function]] target`s each open `lambda.toml` had last (to refresh lenses when they
    /// change), by URI.
    pub project_targets: HashMap<String, Vec<String>>,
    /// AWS profiles the user agreed to deploy to in this session (or that this client cannot be
    /// asked about, once logged).
    pub confirmed_profiles: HashSet<String>,
    pub session: Session,
    /// The profile chosen in the editor (initialization options, settings or
    /// `lambda.selectProfile`); `None` follows AWS_PROFILE → default → local.
    pub profile: Option<String>,
    /// The selection last announced with `lambdaLs/profileChanged`.
    pub announced: Option<ProfileChangedParams>,
}

impl State {
    /// The open document for a file path.
    pub fn document_at(&self, path: &Path) -> Option<(&str, &Document)> {
        self.documents
            .iter()
            .find(|(_, d)| d.path.as_deref() == Some(path))
            .map(|(uri, d)| (uri.as_str(), d))
    }

    /// The profile whose deployments the lenses show.
    pub fn current_profile(&self) -> Option<&str> {
        self.announced.as_ref().map(|a| a.profile.as_str())
    }
}

/// What every handler and background task shares.
pub struct Shared {
    pub editor: Editor,
    pub env: ProfileEnv,
    pub local: LocalHandle,
    pub jobs: Jobs,
    /// One deploy question at a time: a second deploy to the same profile waits for the first
    /// answer instead of asking again. Held across the question only, never with `state`.
    pub asking: tokio::sync::Mutex<()>,
    state: Mutex<State>,
}

impl Shared {
    pub fn new(
        client: Client,
        env: ProfileEnv,
        local: LocalHandle,
        profile: Option<String>,
    ) -> Self {
        Shared {
            editor: Editor::new(client),
            env,
            local,
            jobs: Jobs::default(),
            asking: tokio::sync::Mutex::new(()),
            state: Mutex::new(State {
                profile,
                ..State::default()
            }),
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic while locked left the state as it was at that point; keep serving.
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Runs `f` on the state under the lock; a panic inside becomes a [`Failure`].
    pub fn with<T>(&self, f: impl FnOnce(&mut State) -> T) -> Result<T, Failure> {
        let mut state = self.lock();
        catch_unwind(AssertUnwindSafe(|| f(&mut state))).map_err(|panic| {
            let what = panic
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_default();
            tracing::error!("internal error: {what}");
            Failure::internal(
                "lambda-ls hit an internal error answering this request; the lambda-ls log has the details",
            )
        })
    }

    /// Sends the error diagnostics of every file with marks on any profile and of every open
    /// Python file: after a profile switch each shows the new target's marks.
    pub async fn publish_all_marks(&self) {
        let paths = self.with(|st| {
            let mut paths = st.session.marked_files();
            paths.extend(st.documents.values().filter_map(|d| {
                (d.kind() == super::documents::Kind::Python)
                    .then(|| d.path.clone())
                    .flatten()
            }));
            paths.sort();
            paths.dedup();
            paths
        });
        match paths {
            Ok(paths) => self.publish_marks(&paths).await,
            Err(f) => self.editor.show(&f).await,
        }
    }

    /// Sends the selected profile's error diagnostics of these files: open files measured on the editor's
    /// text, closed ones on the saved file.
    pub async fn publish_marks(&self, paths: &[PathBuf]) {
        for path in paths {
            let open = self.with(|st| {
                let profile = st.current_profile().unwrap_or_default();
                st.document_at(path).map(|(uri, doc)| {
                    let diags =
                        convert::diagnostics(doc.text(), st.session.marks_in(path, profile));
                    (convert::uri(uri), diags, Some(doc.version))
                })
            });
            let (uri, diags, version) = match open {
                Ok(Some(found)) => found,
                Ok(None) => {
                    let text = tokio::fs::read_to_string(path).await.unwrap_or_default();
                    let Ok(diags) = self.with(|st| {
                        let profile = st.current_profile().unwrap_or_default();
                        convert::diagnostics(&text, st.session.marks_in(path, profile))
                    }) else {
                        continue;
                    };
                    (convert::file_uri(path), diags, None)
                }
                Err(f) => {
                    self.editor.show(&f).await;
                    continue;
                }
            };
            if let Some(uri) = uri {
                self.editor.publish(uri, diags, version).await;
            }
        }
    }
}

pub type SharedRef = Arc<Shared>;
