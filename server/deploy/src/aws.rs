//! Connections to Lambda (a real AWS profile or the embedded local endpoint) and the
//! classification of SDK errors into a few kinds the edges turn into one sentence.

use std::time::Duration;

use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, Region};
use aws_sdk_lambda::config::Credentials;
use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_types::error::display::DisplayErrorContext;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;
use serde::Serialize;

use crate::profiles::{ProfileEnv, LOCAL_PROFILE};

/// The region and account the embedded local Lambda pretends to be.
pub const LOCAL_REGION: &str = "us-east-1";
pub const LOCAL_ACCOUNT: &str = "000000000000";
/// How long calls may take, so nothing hangs: a stalled network or a function stuck in
/// `Pending` ends in a clear error. Defaults suit AWS; tests shorten them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Opening a connection: loopback and AWS both answer well within this.
    pub connect: Duration,
    /// Waiting for a control-plane answer (a 50 MB upload included).
    pub control_read: Duration,
    /// Waiting for an invoke: longer than Lambda's 900 s maximum function timeout.
    pub invoke_read: Duration,
    /// Waiting for a function to leave `Pending` / `InProgress`.
    pub ready_wait: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            connect: Duration::from_secs(5),
            control_read: Duration::from_secs(120),
            invoke_read: Duration::from_secs(930),
            ready_wait: Duration::from_secs(600),
        }
    }
}

/// Where to send Lambda calls.
#[derive(Debug, Clone)]
pub enum Endpoint {
    /// A profile from the user's files, resolved entirely by aws-config.
    Aws {
        profile: String,
        region: Option<String>,
        files: ProfileEnv,
    },
    /// The embedded local Lambda at this URL.
    Local { url: String },
}

/// What went wrong talking to AWS, in kinds the caller can act on.
#[derive(Debug, thiserror::Error)]
pub enum AwsError {
    #[error("profile `{profile}` has no region; set `region` in the profile or pass --region")]
    NoRegion { profile: String },
    #[error("credentials for profile `{profile}` could not be loaded: {detail}")]
    Credentials { profile: String, detail: String },
    #[error("cannot reach Lambda at {endpoint}: {detail}")]
    Connection { endpoint: String, detail: String },
    #[error("{operation}: {code}: {message}")]
    Service {
        operation: &'static str,
        code: String,
        message: String,
    },
    #[error("{operation} failed: {detail}")]
    Other {
        operation: &'static str,
        detail: String,
    },
}

impl AwsError {
    /// Wraps any SDK error with the operation it came from.
    pub fn from_sdk<E, R>(operation: &'static str, endpoint: &str, err: SdkError<E, R>) -> Self
    where
        E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
        R: std::fmt::Debug + Send + Sync + 'static,
    {
        let detail = DisplayErrorContext(&err).to_string();
        match &err {
            SdkError::ServiceError(ctx) => {
                let e = ctx.err();
                AwsError::Service {
                    operation,
                    code: e.code().unwrap_or("Unknown").to_string(),
                    message: e.message().unwrap_or("no message").to_string(),
                }
            }
            _ if detail.contains("credentials") || detail.contains("identity") => {
                AwsError::Credentials {
                    profile: String::new(),
                    detail,
                }
            }
            SdkError::DispatchFailure(_) | SdkError::TimeoutError(_) => AwsError::Connection {
                endpoint: endpoint.to_string(),
                detail,
            },
            _ => AwsError::Other { operation, detail },
        }
    }

    pub fn code(&self) -> Option<&str> {
        match self {
            AwsError::Service { code, .. } => Some(code),
            _ => None,
        }
    }

    pub fn is_not_found(&self) -> bool {
        matches!(
            self.code(),
            Some("ResourceNotFoundException" | "NoSuchEntity" | "NoSuchEntityException")
        )
    }

    pub fn is_conflict(&self) -> bool {
        matches!(
            self.code(),
            Some("ResourceConflictException" | "ResourceInUseException")
        )
    }

    pub fn is_throttling(&self) -> bool {
        matches!(
            self.code(),
            Some("TooManyRequestsException" | "ThrottlingException" | "Throttling")
        )
    }

    /// A freshly created role takes a few seconds before Lambda may assume it.
    pub fn is_role_not_ready(&self) -> bool {
        matches!(self, AwsError::Service { code, message, .. }
            if code == "InvalidParameterValueException" && message.contains("cannot be assumed"))
    }
}

/// A ready client for one target.
#[derive(Debug, Clone)]
pub struct Connection {
    pub lambda: aws_sdk_lambda::Client,
    pub iam: Option<aws_sdk_iam::Client>,
    pub logs: aws_sdk_cloudwatchlogs::Client,
    /// S3 for zips over the direct-upload limit; path-style for any non-AWS endpoint (the local
    /// Lambda, moto), which serve buckets under the path, not as host names.
    pub s3: aws_sdk_s3::Client,
    /// The Lambda client for Invoke, whose read timeout outlasts the longest function.
    pub invoker: aws_sdk_lambda::Client,
    pub limits: Limits,
    sdk: aws_types::SdkConfig,
    pub info: TargetInfo,
}

/// Which account and region calls go to; shown to the user, never secret.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TargetInfo {
    pub profile: String,
    pub region: String,
    pub local: bool,
    pub endpoint: Option<String>,
}

impl std::fmt::Display for TargetInfo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.local {
            write!(f, "local Lambda")?;
        } else {
            write!(f, "profile {} ({})", self.profile, self.region)?;
        }
        if let Some(e) = &self.endpoint {
            write!(f, " at {e}")?;
        }
        Ok(())
    }
}

impl Connection {
    /// Builds the SDK configuration for the endpoint; credentials are loaded lazily by the SDK.
    pub async fn connect(endpoint: &Endpoint) -> Result<Connection, AwsError> {
        Connection::connect_with(endpoint, Limits::default()).await
    }

    /// [`Connection::connect`] with other time limits.
    pub async fn connect_with(endpoint: &Endpoint, limits: Limits) -> Result<Connection, AwsError> {
        let timeouts = TimeoutConfig::builder()
            .connect_timeout(limits.connect)
            .read_timeout(limits.control_read)
            .build();
        let (sdk, info) = match endpoint {
            Endpoint::Local { url } => {
                let sdk = aws_config::defaults(BehaviorVersion::latest())
                    .region(Region::new(LOCAL_REGION))
                    .credentials_provider(Credentials::new(
                        "local",
                        "local",
                        None,
                        None,
                        "lambda-ls-local",
                    ))
                    .endpoint_url(url.clone())
                    .timeout_config(timeouts)
                    .load()
                    .await;
                let info = TargetInfo {
                    profile: LOCAL_PROFILE.to_string(),
                    region: LOCAL_REGION.to_string(),
                    local: true,
                    endpoint: Some(url.clone()),
                };
                (sdk, info)
            }
            Endpoint::Aws {
                profile,
                region,
                files,
            } => {
                let profile_files = files.sdk_profile_files();
                let mut loader = aws_config::defaults(BehaviorVersion::latest())
                    .profile_files(profile_files)
                    .profile_name(profile)
                    .timeout_config(timeouts);
                if let Some(r) = region {
                    loader = loader.region(Region::new(r.clone()));
                }
                let sdk = loader.load().await;
                let Some(region) = sdk.region().map(|r| r.to_string()) else {
                    return Err(AwsError::NoRegion {
                        profile: profile.clone(),
                    });
                };
                let info = TargetInfo {
                    profile: profile.clone(),
                    region,
                    local: false,
                    endpoint: sdk.endpoint_url().map(str::to_string),
                };
                (sdk, info)
            }
        };
        let lambda = aws_sdk_lambda::Client::new(&sdk);
        let invoker = aws_sdk_lambda::Client::from_conf(
            aws_sdk_lambda::config::Builder::from(&sdk)
                .timeout_config(
                    TimeoutConfig::builder()
                        .connect_timeout(limits.connect)
                        .read_timeout(limits.invoke_read)
                        .build(),
                )
                .build(),
        );
        let iam = (!info.local).then(|| aws_sdk_iam::Client::new(&sdk));
        let logs = aws_sdk_cloudwatchlogs::Client::new(&sdk);
        let s3 = aws_sdk_s3::Client::from_conf(
            aws_sdk_s3::config::Builder::from(&sdk)
                .force_path_style(info.endpoint.is_some())
                .build(),
        );
        Ok(Connection {
            lambda,
            iam,
            logs,
            s3,
            invoker,
            limits,
            sdk,
            info,
        })
    }

    /// Resolves credentials now, so an editor can warn before the user deploys.
    pub async fn check_credentials(&self) -> Result<(), AwsError> {
        use aws_credential_types::provider::ProvideCredentials;
        let Some(provider) = self.sdk.credentials_provider() else {
            return Err(AwsError::Credentials {
                profile: self.info.profile.clone(),
                detail: "no credentials provider is configured".to_string(),
            });
        };
        provider
            .provide_credentials()
            .await
            .map(|_| ())
            .map_err(|e| AwsError::Credentials {
                profile: self.info.profile.clone(),
                detail: DisplayErrorContext(&e).to_string(),
            })
    }

    /// The SDK configuration the clients were built from, for clients made on demand (STS).
    pub(crate) fn sdk_config(&self) -> &aws_types::SdkConfig {
        &self.sdk
    }

    pub(crate) fn endpoint_label(&self) -> String {
        self.info
            .endpoint
            .clone()
            .unwrap_or_else(|| format!("lambda.{}.amazonaws.com", self.info.region))
    }

    /// Converts an SDK error, naming the profile when credentials were the problem.
    pub(crate) fn error<E, R>(&self, operation: &'static str, err: SdkError<E, R>) -> AwsError
    where
        E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
        R: std::fmt::Debug + Send + Sync + 'static,
    {
        match AwsError::from_sdk(operation, &self.endpoint_label(), err) {
            AwsError::Credentials { detail, .. } => AwsError::Credentials {
                profile: self.info.profile.clone(),
                detail,
            },
            other => other,
        }
    }
}
