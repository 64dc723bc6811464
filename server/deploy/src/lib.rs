//! lambda-deploy: everything lambda-ls knows about AWS profiles, Python code and Lambda calls.
//!
//! No LSP and no CLI types live here; the `lambda-ls` crate turns these results into protocol
//! messages and terminal output.

// Short functions (clippy.toml) are a rule for the product; a test may read long.
#![cfg_attr(test, allow(clippy::too_many_lines))]

pub mod analysis;
pub mod artifacts;
pub mod aws;
pub mod deploy;
pub mod error;
pub mod events;
pub mod fanout;
pub mod functions;
pub mod identity;
pub mod invoke;
mod journal;
pub mod maintain;
pub mod package;
pub mod profiles;
pub mod progress;
pub mod project;
pub mod pull;
pub mod repack;
pub mod requirements;
pub mod settings;
pub mod spec;
pub mod zipper;
