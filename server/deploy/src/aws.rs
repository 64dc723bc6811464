//! Connections to Lambda (a real AWS profile or the embedded local endpoint); their errors are
//! classified in [`crate::error`].

use std::time::Duration;

use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, Region};
use aws_sdk_lambda::config::Credentials;
use aws_smithy_runtime::client::dns::TokioDnsResolver;
use aws_smithy_runtime_api::client::http::SharedHttpClient;
use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;
use serde::Serialize;

pub use crate::error::{AwsError, Call, CredentialsProblem, NetworkCause, Service};
use crate::profiles::{ProfileEnv, ProfileKind, LOCAL_PROFILE};

/// The region and account the embedded local Lambda pretends to be.
use lambda_facts::{LOCAL_ACCESS_KEY, LOCAL_SECRET_KEY};
pub use lambda_facts::{LOCAL_ACCOUNT, LOCAL_REGION};

/// Tag that marks what this tool created, so `delete --all` never removes anything else.
pub const CREATED_BY_TAG: (&str, &str) = ("created-by", "lambda-ls");
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
    /// The profile logs in through IAM Identity Center (its errors say `aws sso login`).
    sso: bool,
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

/// The SDK configuration for the embedded local Lambda at `url`: its region and fixed
/// credentials, never a profile's.
async fn local_config(url: &str, timeouts: TimeoutConfig) -> (aws_types::SdkConfig, TargetInfo) {
    let sdk = aws_config::defaults(BehaviorVersion::latest())
        .http_client(http_client())
        .region(Region::new(LOCAL_REGION))
        .credentials_provider(Credentials::new(
            LOCAL_ACCESS_KEY,
            LOCAL_SECRET_KEY,
            None,
            None,
            "lambda-ls-local",
        ))
        .endpoint_url(url)
        .timeout_config(timeouts)
        .load()
        .await;
    let info = TargetInfo {
        profile: LOCAL_PROFILE.to_string(),
        region: LOCAL_REGION.to_string(),
        local: true,
        endpoint: Some(url.to_string()),
    };
    (sdk, info)
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
        let (sdk, info, sso) = match endpoint {
            Endpoint::Local { url } => {
                let (sdk, info) = local_config(url, timeouts).await;
                (sdk, info, false)
            }
            Endpoint::Aws {
                profile,
                region,
                files,
            } => {
                let sdk = profile_loader(files, profile, region.as_deref(), timeouts)
                    .load()
                    .await;
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
                (sdk, info, logs_in_with_sso(files, profile).await)
            }
        };
        Ok(Connection::with_clients(sdk, info, sso, limits))
    }

    /// The service clients for a loaded SDK configuration; invokes get their own, longer read
    /// timeout.
    fn with_clients(
        sdk: aws_types::SdkConfig,
        info: TargetInfo,
        sso: bool,
        limits: Limits,
    ) -> Connection {
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
        Connection {
            lambda,
            iam,
            logs,
            s3,
            invoker,
            limits,
            sdk,
            info,
            sso,
        }
    }

    /// This connection with `name: value` added to every control-plane Lambda call, for an
    /// extension a non-AWS endpoint (the embedded local Lambda) understands. A connection to
    /// AWS is returned unchanged: nothing unknown is ever sent there.
    pub fn with_local_header(mut self, name: &'static str, value: &'static str) -> Connection {
        if self.info.local {
            let config = self
                .lambda
                .config()
                .to_builder()
                .interceptor(ExtraHeader { name, value })
                .build();
            self.lambda = aws_sdk_lambda::Client::from_conf(config);
        }
        self
    }

    /// Resolves credentials now, so an editor can warn before the user deploys.
    pub async fn check_credentials(&self) -> Result<(), AwsError> {
        use aws_credential_types::provider::ProvideCredentials;
        let Some(provider) = self.sdk.credentials_provider() else {
            return Err(AwsError::Credentials {
                profile: self.info.profile.clone(),
                problem: CredentialsProblem::Missing,
            });
        };
        provider
            .provide_credentials()
            .await
            .map(|_| ())
            .map_err(|e| AwsError::from_credentials(self.call(Service::Sts, "LoadCredentials"), e))
    }

    /// The SDK configuration the clients were built from, for clients made on demand (STS).
    pub(crate) fn sdk_config(&self) -> &aws_types::SdkConfig {
        &self.sdk
    }

    /// What a failure of `operation` on `service` names.
    pub fn call(&self, service: Service, operation: &'static str) -> Call {
        Call {
            service,
            operation,
            endpoint: self
                .info
                .endpoint
                .clone()
                .unwrap_or_else(|| service.host(&self.info.region)),
            profile: self.info.profile.clone(),
            sso: self.sso,
        }
    }

    /// Converts the SDK error of a Lambda call.
    pub fn error<E, R>(&self, operation: &'static str, err: SdkError<E, R>) -> AwsError
    where
        E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
        R: std::fmt::Debug + Send + Sync + 'static,
    {
        self.error_in(Service::Lambda, operation, err)
    }

    /// Converts the SDK error of a call to `service`.
    pub fn error_in<E, R>(
        &self,
        service: Service,
        operation: &'static str,
        err: SdkError<E, R>,
    ) -> AwsError
    where
        E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
        R: std::fmt::Debug + Send + Sync + 'static,
    {
        AwsError::from_sdk(self.call(service, operation), err)
    }
}

/// Adds one header to every request of a client ([`Connection::with_local_header`]).
#[derive(Debug)]
struct ExtraHeader {
    name: &'static str,
    value: &'static str,
}

impl aws_smithy_runtime_api::client::interceptors::Intercept for ExtraHeader {
    fn name(&self) -> &'static str {
        "ExtraHeader"
    }

    fn modify_before_signing(
        &self,
        context: &mut aws_smithy_runtime_api::client::interceptors::context::BeforeTransmitInterceptorContextMut<'_>,
        _: &aws_smithy_runtime_api::client::runtime_components::RuntimeComponents,
        _: &mut aws_smithy_types::config_bag::ConfigBag,
    ) -> Result<(), aws_smithy_runtime_api::box_error::BoxError> {
        context
            .request_mut()
            .headers_mut()
            .insert(self.name, self.value);
        Ok(())
    }
}

/// The aws-config loader for a profile of `files`, as every SDK client of ours loads it.
pub(crate) fn profile_loader(
    files: &ProfileEnv,
    profile: &str,
    region: Option<&str>,
    timeouts: TimeoutConfig,
) -> aws_config::ConfigLoader {
    let mut loader = aws_config::defaults(BehaviorVersion::latest())
        .http_client(http_client())
        .profile_files(files.sdk_profile_files())
        .profile_name(profile)
        .timeout_config(timeouts);
    if let Some(r) = region {
        loader = loader.region(Region::new(r.to_string()));
    }
    loader
}

/// Whether `profile` logs in through IAM Identity Center (SSO).
pub(crate) async fn logs_in_with_sso(files: &ProfileEnv, profile: &str) -> bool {
    crate::profiles::list_profiles(files)
        .await
        .ok()
        .and_then(|l| l.get(profile).map(|p| p.kind == ProfileKind::Sso))
        .unwrap_or(false)
}

/// The SDK's default HTTPS client (rustls, proxy settings from the environment) with a DNS
/// resolver whose failures carry a type, so a name that does not resolve is told apart from a
/// refused connection.
fn http_client() -> SharedHttpClient {
    use aws_smithy_http_client::{proxy::ProxyConfig, tls, Builder, ConnectorBuilder};
    Builder::new().build_with_connector_fn(|settings, components| {
        let mut conn = ConnectorBuilder::default().tls_provider(tls::Provider::Rustls(
            tls::rustls_provider::CryptoMode::AwsLc,
        ));
        conn.set_connector_settings(settings.cloned());
        if let Some(c) = components {
            conn.set_sleep_impl(c.sleep_impl());
        }
        conn.set_proxy_config(Some(ProxyConfig::from_env()));
        conn.build_with_resolver(TokioDnsResolver::new())
    })
}
