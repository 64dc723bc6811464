//! Facts about AWS Lambda that both the deploy core and the embedded local Lambda rely on, in one
//! leaf crate so they cannot drift apart (the dependency rule forbids deploy ↔ local, not this).

// Short functions (clippy.toml) are a rule for the product; a test may read long.
#![cfg_attr(test, allow(clippy::too_many_lines))]

/// Runtimes CreateFunction accepts (the local Lambda stores them all, runs only Python).
pub const RUNTIMES: &[&str] = &[
    "python3.9",
    "python3.10",
    "python3.11",
    "python3.12",
    "python3.13",
    "python3.14",
    "nodejs18.x",
    "nodejs20.x",
    "nodejs22.x",
    "nodejs24.x",
];

/// The Python runtimes: the ones lambda-ls deploys and the local Lambda runs.
pub const PYTHON_RUNTIMES: &[&str] = RUNTIMES.split_at(6).0;

/// Variables Lambda sets itself and refuses in a function's `Environment`.
pub const RESERVED_ENV: &[&str] = &[
    "_HANDLER",
    "_X_AMZN_TRACE_ID",
    "AWS_DEFAULT_REGION",
    "AWS_REGION",
    "AWS_EXECUTION_ENV",
    "AWS_LAMBDA_FUNCTION_NAME",
    "AWS_LAMBDA_FUNCTION_MEMORY_SIZE",
    "AWS_LAMBDA_FUNCTION_VERSION",
    "AWS_LAMBDA_INITIALIZATION_TYPE",
    "AWS_LAMBDA_LOG_GROUP_NAME",
    "AWS_LAMBDA_LOG_STREAM_NAME",
    "AWS_ACCESS_KEY",
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_LAMBDA_RUNTIME_API",
    "LAMBDA_TASK_ROOT",
    "LAMBDA_RUNTIME_DIR",
];

/// The region the embedded local Lambda names in its ARNs and the SDK is configured with.
pub const LOCAL_REGION: &str = "us-east-1";
/// The account the embedded local Lambda names in its ARNs.
pub const LOCAL_ACCOUNT: &str = "000000000000";
/// The one identity the embedded local Lambda knows: lambda-ls's `local` profile signs with this
/// access key and secret, and the local Lambda checks `AWS_IAM` function URLs' signatures
/// against them.
pub const LOCAL_ACCESS_KEY: &str = "local";
/// See [`LOCAL_ACCESS_KEY`].
pub const LOCAL_SECRET_KEY: &str = "local";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_python_runtimes_are_exactly_the_python_ones() {
        assert!(PYTHON_RUNTIMES.iter().all(|r| r.starts_with("python")));
        let rest = &RUNTIMES[PYTHON_RUNTIMES.len()..];
        assert!(rest.iter().all(|r| !r.starts_with("python")), "{rest:?}");
    }
}
