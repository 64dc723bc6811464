//! Who a profile's credentials belong to: STS `GetCallerIdentity`, which every principal may
//! call without a permission. Editors show the account before deploying to it.

use std::time::Duration;

use aws_config::timeout::TimeoutConfig;
use serde::Serialize;

use crate::aws::{logs_in_with_sso, profile_loader, AwsError, Call, Limits, Service};
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
    let timeouts = TimeoutConfig::builder()
        .connect_timeout(Limits::default().connect)
        .read_timeout(limit)
        .build();
    let call = Call {
        service: Service::Sts,
        operation: "GetCallerIdentity",
        endpoint: Service::Sts.host(region.unwrap_or("us-east-1")),
        profile: profile.to_string(),
        sso: logs_in_with_sso(files, profile).await,
    };
    let ask = async {
        let sdk = profile_loader(files, profile, region, timeouts)
            .load()
            .await;
        let call = Call {
            endpoint: sdk
                .endpoint_url()
                .map_or(call.endpoint.clone(), str::to_string),
            ..call.clone()
        };
        let answer = aws_sdk_sts::Client::new(&sdk).get_caller_identity().send();
        answer.await.map_err(|e| AwsError::from_sdk(call, e))
    };
    let out = tokio::time::timeout(limit, ask)
        .await
        .map_err(|_| AwsError::timed_out(call.clone()))??;
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
