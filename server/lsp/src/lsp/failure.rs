//! A request that did not do what the user asked, as the editor shows it: the operation layer's
//! classification ([`Blame`]) and sentence, and whether it was already shown.
//!
//! The sentence goes to `window/showMessage`; the detail (the error chain) goes to
//! `window/logMessage` and tracing. Neither ever holds credentials: the deploy core's errors only
//! name profiles, files and AWS error codes.

use lambda_ops::{Blame, OpError};

/// Where to look when a function does not exist, in editor terms.
const NOT_FOUND_HINT: &str =
    "deploy it first (the Deploy lens) or run `lambda.listFunctions` to see what exists";

#[derive(Debug, Clone)]
pub struct Failure {
    pub blame: Blame,
    pub sentence: String,
    /// Set once the sentence was shown, so a coalesced request does not show it again.
    pub reported: bool,
}

impl Failure {
    pub fn input(sentence: impl Into<String>) -> Self {
        Failure::new(Blame::Input, sentence)
    }

    pub fn remote(sentence: impl Into<String>) -> Self {
        Failure::new(Blame::Remote, sentence)
    }

    pub fn cancelled(sentence: impl Into<String>) -> Self {
        Failure::new(Blame::Cancelled, sentence)
    }

    pub fn internal(sentence: impl Into<String>) -> Self {
        Failure::new(Blame::Internal, sentence)
    }

    fn new(blame: Blame, sentence: impl Into<String>) -> Self {
        Failure {
            blame,
            sentence: sentence.into(),
            reported: false,
        }
    }

    /// A panicked or aborted task, named by what it was doing.
    pub fn stopped(what: &str, e: &tokio::task::JoinError) -> Self {
        OpError::stopped(what, e).into()
    }

    /// Whether the user should see it as a message (a cancel is their own doing).
    pub fn should_show(&self) -> bool {
        !self.reported && self.blame != Blame::Cancelled
    }
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.sentence)
    }
}

impl From<OpError> for Failure {
    fn from(e: OpError) -> Self {
        Failure::new(e.blame(), e.sentence(NOT_FOUND_HINT))
    }
}
