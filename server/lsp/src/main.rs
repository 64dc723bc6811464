//! The `lambda-ls` binary: a language server on stdio by default, a CLI with subcommands.

#![deny(clippy::print_stdout)]
// Short functions (clippy.toml) are a rule for the product; a test may read long.
#![cfg_attr(test, allow(clippy::too_many_lines))]

mod cli;
mod debug_invoke;
mod live_loop;
mod lsp;
mod watch;

use clap::Parser;

/// The server reparses and re-lists functions on every keystroke: glibc's allocator made that
/// allocation churn a third of the code-lens latency on big files (bench/README.md). tree-sitter
/// (C) allocates through mimalloc too, set first thing in `main`.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Warnings only; the SDK's own warnings about a failed call (the error's `Debug`, which the
/// failure's one sentence already covers) are left out, so a failure is reported once.
const DEFAULT_LOG: &str = "warn,aws_config=error,aws_smithy_http_client=error";

fn main() -> std::process::ExitCode {
    no_transparent_huge_pages();
    // SAFETY: before any thread or parser exists; mimalloc's functions have the C signatures
    // tree-sitter asks for.
    unsafe {
        use libmimalloc_sys::{mi_calloc, mi_free, mi_malloc, mi_realloc};
        tree_sitter::set_allocator(
            Some(mi_malloc),
            Some(mi_calloc),
            Some(mi_realloc),
            Some(mi_free),
        );
    }
    let args = cli::Args::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(DEFAULT_LOG)),
        )
        .with_writer(std::io::stderr)
        .with_ansi(false)
        .init();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return std::process::ExitCode::from(2);
        }
    };
    let code = runtime.block_on(cli::run(args));
    // Background work (idle workers, pending log writes) must not keep a finished CLI alive.
    runtime.shutdown_timeout(std::time::Duration::from_secs(2));
    std::process::ExitCode::from(code)
}

/// mimalloc asks for transparent huge pages, so the first touch of any 2 MiB region zeroes all
/// of it. For a short CLI run that zeroing was a sixth of packaging's time, and it made the
/// idle server's RSS larger than its heap (bench/README.md). Children (the local Lambda's
/// Python workers) inherit the setting, which suits them too.
fn no_transparent_huge_pages() {
    #[cfg(target_os = "linux")]
    // SAFETY: PR_SET_THP_DISABLE takes plain integers and touches no memory of ours.
    unsafe {
        libc::prctl(libc::PR_SET_THP_DISABLE, 1, 0, 0, 0);
    }
}
