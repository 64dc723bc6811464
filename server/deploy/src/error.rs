//! What went wrong talking to AWS, classified by typed inspection of the SDK error, and the one
//! sentence (what failed, for which profile, what to do) every front end shows for it.

use std::error::Error as StdError;
use std::fmt;

use aws_credential_types::provider::error::CredentialsError;
use aws_smithy_runtime_api::client::dns::ResolveDnsError;
use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;

/// The AWS service a call went to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Service {
    Lambda,
    Iam,
    Sts,
    Logs,
    S3,
}

impl Service {
    /// The prefix of the service's IAM actions (`lambda:CreateFunction`).
    fn action_prefix(self) -> &'static str {
        match self {
            Service::Lambda => "lambda",
            Service::Iam => "iam",
            Service::Sts => "sts",
            Service::Logs => "logs",
            Service::S3 => "s3",
        }
    }

    /// The service's public endpoint in `region`, named when the profile sets no endpoint_url.
    pub fn host(self, region: &str) -> String {
        match self {
            Service::Iam => "iam.amazonaws.com".to_string(),
            Service::Sts => format!("sts.{region}.amazonaws.com"),
            other => format!("{}.{region}.amazonaws.com", other.action_prefix()),
        }
    }

    /// The IAM action an operation needs; they share names except Invoke.
    fn action(self, operation: &str) -> String {
        let name = match (self, operation) {
            (Service::Lambda, "Invoke") => "InvokeFunction",
            (_, op) => op,
        };
        format!("{}:{name}", self.action_prefix())
    }
}

impl fmt::Display for Service {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Service::Lambda => "Lambda",
            Service::Iam => "IAM",
            Service::Sts => "STS",
            Service::Logs => "CloudWatch Logs",
            Service::S3 => "S3",
        })
    }
}

/// One call to AWS: everything a sentence about its failure names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Call {
    pub service: Service,
    pub operation: &'static str,
    /// The host (or the profile's endpoint_url) the call went to.
    pub endpoint: String,
    pub profile: String,
    /// The profile logs in through IAM Identity Center: `aws sso login` renews it.
    pub sso: bool,
}

/// Why no answer came back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NetworkCause {
    /// The host name does not resolve.
    Dns,
    /// Nothing listens there, or a firewall says no.
    Refused,
    /// The TLS handshake failed: not HTTPS, or a certificate this machine does not trust.
    Tls,
    /// No connection or no answer within the bounded time.
    Timeout,
    /// Any other I/O failure (reset, closed, unreachable).
    Io(std::io::ErrorKind),
}

impl NetworkCause {
    /// What happened, as a clause after "cannot reach X for profile P:".
    fn clause(self, endpoint: &str) -> String {
        match self {
            NetworkCause::Dns => format!("the host name of {endpoint} does not resolve"),
            NetworkCause::Refused => format!("{endpoint} refused the connection"),
            NetworkCause::Tls => format!("the TLS handshake with {endpoint} failed"),
            NetworkCause::Timeout => format!("{endpoint} did not answer in time"),
            NetworkCause::Io(kind) => format!("the connection to {endpoint} failed ({kind})"),
        }
    }

    /// What to do about it.
    fn remedy(self) -> &'static str {
        match self {
            NetworkCause::Dns => {
                "check the network connection (VPN, DNS) and the profile's region and endpoint_url"
            }
            NetworkCause::Refused => {
                "check that the endpoint is up and the profile's endpoint_url and proxy settings are right"
            }
            NetworkCause::Tls => {
                "check that the endpoint speaks HTTPS with a certificate this machine trusts (a TLS-inspecting proxy needs its CA installed)"
            }
            NetworkCause::Timeout | NetworkCause::Io(_) => {
                "check the network connection (VPN, proxy, firewall) and retry"
            }
        }
    }
}

/// Why the credentials of a profile could not be used before any call was made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CredentialsProblem {
    /// No source of credentials for the profile.
    Missing,
    /// An SSO profile whose session expired or never started.
    SsoLogin,
    /// The credential source (STS for a role, SSO, a process) could not be reached.
    Unreachable(NetworkCause),
    /// Any other failure of the credential provider, in its own words.
    Unloadable(String),
}

/// What a service answered when it refused a call, by AWS error code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    AccessDenied,
    Throttled,
    ExpiredToken,
    /// The access key or signature is not valid.
    BadCredentials,
    NotFound,
    Other,
}

impl Refusal {
    pub fn of(code: &str) -> Refusal {
        match code {
            "AccessDenied"
            | "AccessDeniedException"
            | "UnauthorizedOperation"
            | "AuthorizationError" => Refusal::AccessDenied,
            "TooManyRequestsException"
            | "ThrottlingException"
            | "Throttling"
            | "RequestLimitExceeded" => Refusal::Throttled,
            "ExpiredToken" | "ExpiredTokenException" | "RequestExpired" => Refusal::ExpiredToken,
            "UnrecognizedClientException"
            | "InvalidClientTokenId"
            | "SignatureDoesNotMatch"
            | "InvalidSignatureException"
            | "IncompleteSignature"
            | "MissingAuthenticationToken" => Refusal::BadCredentials,
            "ResourceNotFoundException" | "NoSuchEntity" | "NoSuchEntityException" => {
                Refusal::NotFound
            }
            _ => Refusal::Other,
        }
    }
}

/// What went wrong talking to AWS; `Display` is the one sentence users see.
#[derive(Debug, thiserror::Error)]
pub enum AwsError {
    #[error("profile {profile} has no region; set `region` in its section of the AWS config file or choose a region (--region)")]
    NoRegion { profile: String },
    #[error("{}", credentials_sentence(profile, problem))]
    Credentials {
        profile: String,
        problem: CredentialsProblem,
    },
    #[error("cannot reach {} for profile {}: {}; {}", call.service, call.profile, cause.clause(&call.endpoint), cause.remedy())]
    Connection { call: Call, cause: NetworkCause },
    #[error("{}", refusal_sentence(call, code, message))]
    Service {
        call: Call,
        code: String,
        message: String,
    },
    /// An SDK failure of no known class; `detail` is its error chain in words.
    #[error("{} {} for profile {} at {} failed: {detail}; retry, and if it persists run with RUST_LOG=debug for details", call.service, call.operation, call.profile, call.endpoint)]
    Unexpected { call: Call, detail: String },
    /// A failure outside the SDK while preparing a call.
    #[error("{operation} failed: {detail}")]
    Other {
        operation: &'static str,
        detail: String,
    },
}

fn credentials_sentence(profile: &str, problem: &CredentialsProblem) -> String {
    match problem {
        CredentialsProblem::Missing => format!(
            "no AWS credentials found for profile {profile}; run `aws configure --profile {profile}` or add a credential source to its section of the AWS config file"
        ),
        CredentialsProblem::SsoLogin => sso_sentence(profile),
        CredentialsProblem::Unreachable(cause) => format!(
            "the credentials of profile {profile} could not be loaded: {}; {}",
            cause.clause("the credential source"),
            cause.remedy()
        ),
        CredentialsProblem::Unloadable(detail) => format!(
            "the credentials of profile {profile} could not be loaded ({detail}); fix the profile's settings in the AWS config and credentials files"
        ),
    }
}

fn sso_sentence(profile: &str) -> String {
    format!("the SSO session of profile {profile} has expired or was never started; run `aws sso login --profile {profile}` and retry")
}

fn refusal_sentence(call: &Call, code: &str, message: &str) -> String {
    let (svc, op, p) = (call.service, call.operation, &call.profile);
    match Refusal::of(code) {
        Refusal::AccessDenied => format!(
            "profile {p} is not allowed to call {} ({svc} answered {code}); grant that permission to the profile's user or role, or use another profile",
            svc.action(op)
        ),
        Refusal::Throttled => format!(
            "{svc} kept throttling {op} for profile {p} ({code}) after retries; wait a minute and retry, or ask AWS for a higher quota"
        ),
        Refusal::ExpiredToken if call.sso => sso_sentence(p),
        Refusal::ExpiredToken => format!(
            "the session credentials of profile {p} have expired ({svc} answered {code}); get fresh credentials for the profile and retry"
        ),
        Refusal::BadCredentials => format!(
            "{svc} does not accept the credentials of profile {p} ({code}); check the profile's access key with `aws configure --profile {p}`"
        ),
        Refusal::NotFound | Refusal::Other => format!(
            "{svc} refused {op} for profile {p}: {} ({code})",
            message.trim_end_matches('.')
        ),
    }
}

impl AwsError {
    /// Classifies an SDK error from `call`: the answer's error code for a service error, else
    /// the types in the error's source chain.
    pub fn from_sdk<E, R>(call: Call, err: SdkError<E, R>) -> Self
    where
        E: ProvideErrorMetadata + StdError + Send + Sync + 'static,
        R: fmt::Debug + Send + Sync + 'static,
    {
        if let SdkError::ServiceError(ctx) = &err {
            let e = ctx.err();
            return AwsError::Service {
                call,
                code: e.code().unwrap_or("Unknown").to_string(),
                message: e.message().unwrap_or("no message").to_string(),
            };
        }
        let flagged = connector_cause(&err);
        AwsError::from_chain(call, &err, flagged)
    }

    /// Classifies a failure of the credential provider itself.
    pub fn from_credentials(call: Call, err: CredentialsError) -> Self {
        AwsError::from_chain(call, &err, None)
    }

    /// Credentials first (the call never left), then the network; `flagged` is what the SDK's
    /// connector said when the chain holds no more precise type.
    fn from_chain(
        call: Call,
        err: &(dyn StdError + 'static),
        flagged: Option<NetworkCause>,
    ) -> Self {
        let credentials = chain(err).find_map(|e| e.downcast_ref::<CredentialsError>());
        let network = network_cause(err).or(flagged);
        let problem = match (credentials, network) {
            (None, Some(cause)) => return AwsError::Connection { call, cause },
            (None, None) => {
                return AwsError::Unexpected {
                    detail: chain_text(err),
                    call,
                }
            }
            (Some(_), _) if call.sso => CredentialsProblem::SsoLogin,
            (Some(_), Some(cause)) => CredentialsProblem::Unreachable(cause),
            (Some(CredentialsError::CredentialsNotLoaded(_)), None) => CredentialsProblem::Missing,
            (Some(c), None) => CredentialsProblem::Unloadable(chain_text(c)),
        };
        AwsError::Credentials {
            profile: call.profile,
            problem,
        }
    }

    /// A call that got no answer within `limit` of our own (outside the SDK's timeouts).
    pub fn timed_out(call: Call) -> Self {
        AwsError::Connection {
            call,
            cause: NetworkCause::Timeout,
        }
    }

    pub fn code(&self) -> Option<&str> {
        match self {
            AwsError::Service { code, .. } => Some(code),
            _ => None,
        }
    }

    fn refusal(&self) -> Option<Refusal> {
        self.code().map(Refusal::of)
    }

    pub fn is_not_found(&self) -> bool {
        self.refusal() == Some(Refusal::NotFound)
    }

    pub fn is_conflict(&self) -> bool {
        matches!(
            self.code(),
            Some("ResourceConflictException" | "ResourceInUseException")
        )
    }

    pub fn is_throttling(&self) -> bool {
        self.refusal() == Some(Refusal::Throttled)
    }

    /// The profile's region or credentials are missing, expired or refused: the user must fix
    /// the profile, and nothing else will work until then.
    pub fn needs_profile_fix(&self) -> bool {
        matches!(
            self,
            AwsError::Credentials { .. } | AwsError::NoRegion { .. }
        ) || matches!(
            self.refusal(),
            Some(Refusal::ExpiredToken | Refusal::BadCredentials)
        )
    }

    /// A freshly created role takes a few seconds before Lambda may assume it.
    pub fn is_role_not_ready(&self) -> bool {
        matches!(self, AwsError::Service { code, message, .. }
            if code == "InvalidParameterValueException" && message.contains("cannot be assumed"))
    }
}

/// The network failure named by a type in the error chain.
fn network_cause(err: &(dyn StdError + 'static)) -> Option<NetworkCause> {
    chain(err).find_map(|e| {
        if e.is::<ResolveDnsError>() {
            Some(NetworkCause::Dns)
        } else if e.is::<rustls::Error>() {
            Some(NetworkCause::Tls)
        } else {
            match e.downcast_ref::<std::io::Error>()?.kind() {
                std::io::ErrorKind::ConnectionRefused => Some(NetworkCause::Refused),
                std::io::ErrorKind::TimedOut => Some(NetworkCause::Timeout),
                _ => None,
            }
        }
    })
}

/// What the SDK itself says: a timeout, or an I/O failure of some kind.
fn connector_cause<E, R>(err: &SdkError<E, R>) -> Option<NetworkCause>
where
    E: StdError + 'static,
    R: fmt::Debug + 'static,
{
    let connector = match err {
        SdkError::TimeoutError(_) => return Some(NetworkCause::Timeout),
        SdkError::DispatchFailure(d) => d.as_connector_error()?,
        _ => return None,
    };
    if connector.is_timeout() {
        Some(NetworkCause::Timeout)
    } else if connector.is_io() {
        let kind = chain(err)
            .find_map(|e| e.downcast_ref::<std::io::Error>())
            .map_or(std::io::ErrorKind::Other, std::io::Error::kind);
        Some(NetworkCause::Io(kind))
    } else {
        None
    }
}

/// `err` and every error after it; after an `io::Error` comes its payload (its `source` skips it).
fn chain<'a>(
    err: &'a (dyn StdError + 'static),
) -> impl Iterator<Item = &'a (dyn StdError + 'static)> {
    std::iter::successors(Some(err), |&e| match e.downcast_ref::<std::io::Error>() {
        Some(io) => io.get_ref().map(|inner| inner as &(dyn StdError + 'static)),
        None => e.source(),
    })
}

/// The chain's messages in words (never `Debug`), repeated ones dropped.
fn chain_text(err: &(dyn StdError + 'static)) -> String {
    let mut parts: Vec<String> = Vec::new();
    for e in chain(err) {
        let text = e.to_string();
        if !text.is_empty() && !parts.iter().any(|p| p.contains(&text)) {
            parts.push(text);
        }
    }
    parts.join(": ")
}
