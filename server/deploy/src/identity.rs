//! Who a profile's credentials belong to: STS `GetCallerIdentity`, which every principal may
//! call without a permission. Editors show the account before deploying to it.

use std::time::Duration;

use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, Region};
use serde::Serialize;

use crate::aws::{AwsError, Limits};
use crate::profiles::ProfileEnv;

/// The account and principal behind a profile's credentials.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CallerIdentity {
    pub account: String,
    /// The principal's ARN, e.g. `arn:aws:sts::123456789012:assumed-role/dev/session`.
    pub arn: String,
}

/// Asks STS whose credentials `profile` (from the same files and with the same SDK resolution
/// as [`crate::aws::Connection::connect`]) uses; the profile's `endpoint_url` applies. `limit`
/// bounds the whole call, credential resolution and retries included.
pub async fn caller_identity(
    profile: &str,
    region: Option<&str>,
    files: &ProfileEnv,
    limit: Duration,
) -> Result<CallerIdentity, AwsError> {
    let profile_files = files.sdk_profile_files();
    let limits = Limits::default();
    let mut loader = aws_config::defaults(BehaviorVersion::latest())
        .profile_files(profile_files)
        .profile_name(profile)
        .timeout_config(
            TimeoutConfig::builder()
                .connect_timeout(limits.connect)
                .read_timeout(limit)
                .build(),
        );
    if let Some(r) = region {
        loader = loader.region(Region::new(r.to_string()));
    }
    let call = async {
        let sdk = loader.load().await;
        let endpoint = sdk
            .endpoint_url()
            .map_or_else(|| "sts.amazonaws.com".to_string(), str::to_string);
        aws_sdk_sts::Client::new(&sdk)
            .get_caller_identity()
            .send()
            .await
            .map_err(
                |e| match AwsError::from_sdk("GetCallerIdentity", &endpoint, e) {
                    AwsError::Credentials { detail, .. } => AwsError::Credentials {
                        profile: profile.to_string(),
                        detail,
                    },
                    other => other,
                },
            )
    };
    let out = tokio::time::timeout(limit, call)
        .await
        .map_err(|_| AwsError::Other {
            operation: "GetCallerIdentity",
            detail: format!("no answer within {} s", limit.as_secs()),
        })??;
    Ok(CallerIdentity {
        account: out.account().unwrap_or_default().to_string(),
        arn: out.arn().unwrap_or_default().to_string(),
    })
}

/// The account id inside an ARN (`arn:aws:iam::123456789012:role/x`), if it has one.
pub fn account_of_arn(arn: &str) -> Option<&str> {
    let account = arn.split(':').nth(4)?;
    (account.len() == 12 && account.bytes().all(|b| b.is_ascii_digit())).then_some(account)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accounts_come_out_of_arns() {
        assert_eq!(
            account_of_arn("arn:aws:iam::123456789012:role/deployer"),
            Some("123456789012")
        );
        assert_eq!(
            account_of_arn("arn:aws:sts::000000000001:assumed-role/r/s"),
            Some("000000000001")
        );
        assert_eq!(account_of_arn("arn:aws:s3:::bucket"), None);
        assert_eq!(account_of_arn("not an arn"), None);
    }
}
