//! The operations users have, as typed requests and results that both front ends call.
//!
//! The command line (`lambda-ls deploy …`) and the language server (`lambda.deploy`, lenses) are
//! thin adapters over this crate: they parse their own input into a request, call an operation
//! and render its result or its [`OpError`]. An operation never prints and knows no LSP or CLI
//! type; every failure is one [`OpError`] whose [`Blame`] says whose move it is (the request, the
//! configuration, the remote side) and whose `Display` is the one sentence users see.
//!
//! Dependencies: `lambda-ops → lambda-deploy → aws-sdk`, `lambda-ops → lambda-local`; the deploy
//! core and the local Lambda still never see each other.

// Short functions (clippy.toml) are a rule for the product; a test may read long.
#![cfg_attr(test, allow(clippy::too_many_lines))]

pub mod deploy;
pub mod error;
pub mod event;
pub mod invoke;
pub mod logs;
pub mod manage;
pub mod map;
pub mod profiles;
pub mod target;

pub use error::{Blame, OpError};
pub use target::{LocalHandle, Target};
