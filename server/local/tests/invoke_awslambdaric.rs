//! Handler behaviour with AWS's own runtime interface client, awslambdaric.
//!
//! Needs `LAMBDA_LS_TEST_PYTHON_RIC` pointing at a python with awslambdaric installed; without
//! it each test says loudly that it is skipped.

// Short functions (clippy.toml) are a rule for the product; a test may read long.
#![cfg_attr(test, allow(clippy::too_many_lines))]

mod common;

use common::{bounded, ric_python, scenarios, Harness};
use lambda_local::Bootstrap;

macro_rules! scenario_tests {
    ($($name:ident),* $(,)?) => {$(
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn $name() {
            let Some(python) = ric_python() else { return };
            let h = Harness::start(Bootstrap::Awslambdaric, Some(python)).await;
            assert!(bounded(120, scenarios::uses_ric(&h)).await, "awslambdaric did not run");
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
async fn auto_picks_awslambdaric_when_importable() {
    let Some(python) = ric_python() else { return };
    let h = Harness::start(Bootstrap::Auto, Some(python)).await;
    assert!(bounded(60, scenarios::uses_ric(&h)).await);
    h.shutdown().await;
}
