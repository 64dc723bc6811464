//! Handler behaviour with the built-in bootstrap.

// Short functions (clippy.toml) are a rule for the product; a test may read long.
#![cfg_attr(test, allow(clippy::too_many_lines))]

mod common;

use common::{bounded, scenarios, Harness};
use lambda_local::Bootstrap;

macro_rules! scenario_tests {
    ($($name:ident),* $(,)?) => {$(
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn $name() {
            let h = Harness::start(Bootstrap::BuiltIn, None).await;
            bounded(120, scenarios::$name(&h)).await;
            h.shutdown().await;
        }
    )*};
}

scenario_tests!(
    basics,
    exception,
    import_error,
    timeout,
    exit,
    memory,
    concurrency,
    oversized_response,
);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn builtin_is_used_when_asked() {
    let h = Harness::start(Bootstrap::BuiltIn, None).await;
    assert!(!bounded(60, scenarios::uses_ric(&h)).await);
    h.shutdown().await;
}
