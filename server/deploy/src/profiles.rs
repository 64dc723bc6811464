//! AWS profiles as the SDK and the AWS Toolkit see them: listing, selection and validation.
//!
//! Parsing is the SDK's own (`aws_config::profile::load`), so the listing can never disagree with
//! what aws-config resolves. We read each file once more on its own only to tell which file
//! defines a profile and to turn unreadable files into one clear sentence.

use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::path::{Path, PathBuf};

use aws_config::profile::ProfileSet;
use aws_runtime::env_config::file::{
    EnvConfigFileKind as ProfileFileKind, EnvConfigFiles as ProfileFiles,
};
use aws_types::os_shim_internal::{Env, Fs};
use serde::Serialize;

/// Marks, in a [`ProfileEnv`], that environment credentials exist (the value is never kept).
const ENV_CREDENTIALS: &str = "lambda-ls:env-credentials";

/// The name of the built-in profile that targets the embedded local Lambda.
pub const LOCAL_PROFILE: &str = "local";

/// Config files larger than this are refused: a real one is a few KB, a huge one is a mistake.
const MAX_PROFILE_FILE_BYTES: u64 = 4 * 1024 * 1024;

/// How a profile obtains credentials, in the SDK's order of precedence.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ProfileKind {
    AssumeRole,
    WebIdentity,
    Sso,
    CredentialProcess,
    StaticKeys,
    /// Defines only settings such as region; credentials come from elsewhere (env vars, IMDS).
    SettingsOnly,
    /// The embedded local Lambda: no AWS account involved.
    Local,
}

impl fmt::Display for ProfileKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ProfileKind::AssumeRole => "assume-role",
            ProfileKind::WebIdentity => "web-identity",
            ProfileKind::Sso => "sso",
            ProfileKind::CredentialProcess => "credential-process",
            ProfileKind::StaticKeys => "static-keys",
            ProfileKind::SettingsOnly => "settings-only",
            ProfileKind::Local => "local",
        })
    }
}

/// Which file a profile was found in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ProfileSource {
    Config,
    Credentials,
}

/// One profile, without any secret values.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ProfileInfo {
    pub name: String,
    pub region: Option<String>,
    pub kind: ProfileKind,
    pub role_arn: Option<String>,
    pub source_profile: Option<String>,
    pub credential_source: Option<String>,
    pub defined_in: Vec<ProfileSource>,
}

impl ProfileInfo {
    /// The built-in `local` profile (the embedded Lambda).
    pub fn local() -> Self {
        ProfileInfo {
            name: LOCAL_PROFILE.to_string(),
            region: Some("us-east-1".to_string()),
            kind: ProfileKind::Local,
            role_arn: None,
            source_profile: None,
            credential_source: None,
            defined_in: Vec::new(),
        }
    }
}

/// Every profile of the user's files, plus where those files are.
#[derive(Debug, Clone, Serialize)]
pub struct ProfileListing {
    pub config_file: PathBuf,
    pub credentials_file: PathBuf,
    pub profiles: Vec<ProfileInfo>,
}

impl ProfileListing {
    pub fn get(&self, name: &str) -> Option<&ProfileInfo> {
        self.profiles.iter().find(|p| p.name == name)
    }

    pub fn names(&self) -> Vec<&str> {
        self.profiles.iter().map(|p| p.name.as_str()).collect()
    }
}

/// Why the profile files could not be used.
#[derive(Debug, thiserror::Error)]
pub enum ProfileError {
    #[error("cannot read {path}: {source}")]
    Unreadable {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path} is not a text file (invalid UTF-8 at byte {offset}); fix or remove it")]
    NotUtf8 { path: PathBuf, offset: usize },
    #[error("{path} is not a text file (a NUL byte at byte {offset}); fix or remove it")]
    Binary { path: PathBuf, offset: usize },
    #[error("{path} is {size} bytes, larger than any real AWS profile file ({MAX_PROFILE_FILE_BYTES} bytes at most)")]
    TooLarge { path: PathBuf, size: u64 },
    #[error("{path} line {line}: {message}")]
    Malformed {
        path: PathBuf,
        line: usize,
        message: String,
    },
    #[error("unknown AWS profile `{name}`; known profiles: {}", known_list(.known))]
    Unknown { name: String, known: Vec<String> },
    #[error("profile `{name}` has source_profile `{missing}`, which is not defined in {config}")]
    MissingSource {
        name: String,
        missing: String,
        config: PathBuf,
    },
    #[error("profile `{name}` has a source_profile cycle: {}", .chain.join(" -> "))]
    Cycle { name: String, chain: Vec<String> },
}

fn known_list(known: &[String]) -> String {
    if known.is_empty() {
        "none (no AWS profile is configured)".to_string()
    } else {
        known.join(", ")
    }
}

/// Where profile files live and which environment variables apply; injectable for tests.
#[derive(Debug, Clone, Default)]
pub struct ProfileEnv {
    vars: BTreeMap<String, String>,
}

impl ProfileEnv {
    /// The real process environment (only the variables that matter for profiles).
    pub fn from_process() -> Self {
        let keys = [
            "AWS_CONFIG_FILE",
            "AWS_SHARED_CREDENTIALS_FILE",
            "AWS_PROFILE",
            "HOME",
        ];
        let mut vars: BTreeMap<String, String> = keys
            .iter()
            .filter_map(|k| std::env::var(k).ok().map(|v| (k.to_string(), v)))
            .collect();
        // Only whether environment credentials exist matters, never their value.
        if std::env::var_os("AWS_ACCESS_KEY_ID").is_some_and(|v| !v.is_empty()) {
            vars.insert(ENV_CREDENTIALS.to_string(), "set".to_string());
        }
        ProfileEnv { vars }
    }

    /// True when `AWS_ACCESS_KEY_ID` is set: the SDK's default chain has credentials even
    /// without any profile file (CI jobs, containers).
    pub fn has_env_credentials(&self) -> bool {
        self.var(ENV_CREDENTIALS).is_some()
    }

    /// An environment made of the given pairs only.
    pub fn from_pairs<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> Self {
        ProfileEnv {
            vars: pairs
                .into_iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        }
    }

    pub fn var(&self, key: &str) -> Option<&str> {
        self.vars.get(key).map(String::as_str)
    }

    /// The path of one of the two files, as the SDK computes it.
    pub fn file_path(&self, kind: ProfileSource) -> PathBuf {
        let (var, default) = match kind {
            ProfileSource::Config => ("AWS_CONFIG_FILE", ".aws/config"),
            ProfileSource::Credentials => ("AWS_SHARED_CREDENTIALS_FILE", ".aws/credentials"),
        };
        let home = self.var("HOME").map(PathBuf::from);
        match self.var(var) {
            Some(p) => match (p.strip_prefix("~/"), &home) {
                (Some(rest), Some(home)) => home.join(rest),
                _ => PathBuf::from(p),
            },
            None => home.unwrap_or_default().join(default),
        }
    }

    /// The profile files for aws-config, as every SDK client of ours loads them. Only files
    /// that exist: the SDK drops every profile when one named file is missing (and then reports
    /// "no region"). With neither, its defaults (which tolerate missing files) keep it valid.
    pub fn sdk_profile_files(&self) -> ProfileFiles {
        let mut builder = ProfileFiles::builder()
            .include_default_config_file(false)
            .include_default_credentials_file(false);
        let mut any = false;
        for (kind, source) in [
            (ProfileFileKind::Config, ProfileSource::Config),
            (ProfileFileKind::Credentials, ProfileSource::Credentials),
        ] {
            let path = self.file_path(source);
            if path.is_file() {
                builder = builder.with_file(kind, path);
                any = true;
            }
        }
        if !any {
            builder = builder.include_default_config_file(true);
        }
        builder.build()
    }

    fn sdk_env(&self) -> Env {
        Env::from_slice(
            &self
                .vars
                .iter()
                .map(|(k, v)| (k.as_str(), v.as_str()))
                .collect::<Vec<_>>(),
        )
    }
}

/// Reads one file for the SDK parser: missing is empty (as in the SDK), anything odd is an error.
fn read_profile_file(path: &Path) -> Result<Option<String>, ProfileError> {
    let meta = match std::fs::metadata(path) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(source) => {
            return Err(ProfileError::Unreadable {
                path: path.to_owned(),
                source,
            })
        }
    };
    if meta.len() > MAX_PROFILE_FILE_BYTES {
        return Err(ProfileError::TooLarge {
            path: path.to_owned(),
            size: meta.len(),
        });
    }
    let bytes = std::fs::read(path).map_err(|source| ProfileError::Unreadable {
        path: path.to_owned(),
        source,
    })?;
    if let Some(offset) = bytes.iter().position(|&b| b == 0) {
        return Err(ProfileError::Binary {
            path: path.to_owned(),
            offset,
        });
    }
    // The SDK silently treats a non-UTF-8 file as empty; a user deserves to know why their
    // profiles vanished.
    let text = String::from_utf8(bytes).map_err(|e| ProfileError::NotUtf8 {
        path: path.to_owned(),
        offset: e.utf8_error().valid_up_to(),
    })?;
    Ok(Some(text))
}

/// Runs the SDK's parser over the given file contents.
async fn sdk_parse(
    env: &ProfileEnv,
    files: &[(ProfileSource, &Path, &str)],
) -> Result<ProfileSet, ProfileError> {
    let mut builder = ProfileFiles::builder()
        .include_default_config_file(false)
        .include_default_credentials_file(false);
    for (kind, _, contents) in files {
        let kind = match kind {
            ProfileSource::Config => ProfileFileKind::Config,
            ProfileSource::Credentials => ProfileFileKind::Credentials,
        };
        builder = builder.with_contents(kind, contents.to_string());
    }
    let result = aws_config::profile::load(
        &Fs::from_slice(&[]),
        &env.sdk_env(),
        &builder.build(),
        Some(Cow::Borrowed("default")),
    )
    .await;
    // The parse error (with its line) is the load error's source; the variant itself is private.
    result.map_err(|e| {
        let text = std::error::Error::source(&e)
            .map(|s| s.to_string())
            .unwrap_or_else(|| e.to_string());
        malformed(files, &text)
    })
}

/// The SDK reports `error parsing <source> on line N:\n  message`; we name the real file.
fn malformed(files: &[(ProfileSource, &Path, &str)], text: &str) -> ProfileError {
    let line = text
        .split(" on line ")
        .nth(1)
        .and_then(|rest| rest.split(':').next())
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or(0);
    let message = text
        .split_once('\n')
        .map(|(_, m)| m.trim())
        .unwrap_or(text)
        .to_string();
    ProfileError::Malformed {
        path: files.first().map(|f| f.1.to_owned()).unwrap_or_default(),
        line,
        message,
    }
}

/// Lists every profile of the config and credentials files, merged as the SDK merges them.
pub async fn list_profiles(env: &ProfileEnv) -> Result<ProfileListing, ProfileError> {
    let config_path = env.file_path(ProfileSource::Config);
    let credentials_path = env.file_path(ProfileSource::Credentials);
    let config = read_profile_file(&config_path)?;
    let credentials = read_profile_file(&credentials_path)?;

    let mut present: Vec<(ProfileSource, &Path, &str)> = Vec::new();
    if let Some(text) = &config {
        present.push((ProfileSource::Config, &config_path, text));
    }
    if let Some(text) = &credentials {
        present.push((ProfileSource::Credentials, &credentials_path, text));
    }
    // Parse each file alone first, so a syntax error names the file it is in and we learn
    // which file defines which profile.
    let mut defined_in: BTreeMap<String, BTreeSet<ProfileSource>> = BTreeMap::new();
    for file in &present {
        let set = sdk_parse(env, std::slice::from_ref(file)).await?;
        for name in set.profiles() {
            defined_in
                .entry(name.to_string())
                .or_default()
                .insert(file.0);
        }
    }
    if present.is_empty() {
        return Ok(ProfileListing {
            config_file: config_path,
            credentials_file: credentials_path,
            profiles: Vec::new(),
        });
    }
    let merged = sdk_parse(env, &present).await?;

    let mut profiles: Vec<ProfileInfo> = merged
        .profiles()
        .filter_map(|name| merged.get_profile(name))
        .map(|p| {
            let get = |k: &str| p.get(k).map(str::to_string);
            ProfileInfo {
                name: p.name().to_string(),
                region: get("region"),
                kind: kind_of(p),
                role_arn: get("role_arn"),
                source_profile: get("source_profile"),
                credential_source: get("credential_source"),
                defined_in: defined_in
                    .get(p.name())
                    .map(|s| s.iter().copied().collect())
                    .unwrap_or_default(),
            }
        })
        .collect();
    profiles.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(ProfileListing {
        config_file: config_path,
        credentials_file: credentials_path,
        profiles,
    })
}

/// The credential kind, in the order the SDK's profile provider tries them.
fn kind_of(p: &aws_config::profile::Profile) -> ProfileKind {
    let has = |k: &str| p.get(k).is_some_and(|v| !v.trim().is_empty());
    if has("role_arn") && has("web_identity_token_file") {
        ProfileKind::WebIdentity
    } else if has("role_arn") && (has("source_profile") || has("credential_source")) {
        ProfileKind::AssumeRole
    } else if has("sso_session") || has("sso_start_url") {
        ProfileKind::Sso
    } else if has("credential_process") {
        ProfileKind::CredentialProcess
    } else if has("aws_access_key_id") {
        ProfileKind::StaticKeys
    } else {
        ProfileKind::SettingsOnly
    }
}

/// What the selection order chose.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "target", rename_all = "lowercase")]
pub enum Selection {
    /// A profile from the user's files.
    Aws { profile: String },
    /// The embedded local Lambda.
    Local,
}

impl Selection {
    pub fn profile_name(&self) -> &str {
        match self {
            Selection::Aws { profile } => profile,
            Selection::Local => LOCAL_PROFILE,
        }
    }
}

/// Applies the selection order: explicit → `AWS_PROFILE` → `default` (or credentials in the
/// environment) → the local Lambda.
///
/// An explicit or `AWS_PROFILE` name must exist (or be `local`); its `source_profile` chain is
/// checked here so a cycle or a missing link is one clear sentence instead of an SDK error later.
pub fn select_profile(
    explicit: Option<&str>,
    env: &ProfileEnv,
    listing: &ProfileListing,
) -> Result<Selection, ProfileError> {
    let wanted = explicit
        .filter(|s| !s.is_empty())
        .or_else(|| env.var("AWS_PROFILE").filter(|s| !s.is_empty()));
    let name = match wanted {
        Some(LOCAL_PROFILE) if listing.get(LOCAL_PROFILE).is_none() => return Ok(Selection::Local),
        Some(name) => name,
        None if listing.get("default").is_some() => "default",
        // Credentials in the environment and no profile: the SDK's default chain, as the AWS CLI.
        None if env.has_env_credentials() => {
            return Ok(Selection::Aws {
                profile: "default".to_string(),
            })
        }
        None => return Ok(Selection::Local),
    };
    if listing.get(name).is_none() {
        let mut known: Vec<String> = listing.names().iter().map(|s| s.to_string()).collect();
        known.push(LOCAL_PROFILE.to_string());
        return Err(ProfileError::Unknown {
            name: name.to_string(),
            known,
        });
    }
    check_source_chain(name, listing)?;
    Ok(Selection::Aws {
        profile: name.to_string(),
    })
}

/// Walks `source_profile` links: every link must exist and the chain must end.
pub fn check_source_chain(name: &str, listing: &ProfileListing) -> Result<(), ProfileError> {
    let mut chain = vec![name.to_string()];
    let mut current = listing.get(name);
    while let Some(profile) = current {
        let Some(next) = profile.source_profile.as_deref() else {
            return Ok(());
        };
        // A profile may name itself as source when it also holds static keys (the SDK allows it).
        if next == profile.name {
            return Ok(());
        }
        if chain.iter().any(|c| c == next) {
            chain.push(next.to_string());
            return Err(ProfileError::Cycle {
                name: name.to_string(),
                chain,
            });
        }
        chain.push(next.to_string());
        current = listing.get(next);
        if current.is_none() {
            return Err(ProfileError::MissingSource {
                name: profile.name.clone(),
                missing: next.to_string(),
                config: listing.config_file.clone(),
            });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Files {
        _dir: tempfile::TempDir,
        env: ProfileEnv,
    }

    fn files(config: Option<&[u8]>, credentials: Option<&[u8]>) -> Files {
        let dir = tempfile::tempdir().unwrap();
        let cfg = dir.path().join("config");
        let cred = dir.path().join("credentials");
        if let Some(c) = config {
            std::fs::write(&cfg, c).unwrap();
        }
        if let Some(c) = credentials {
            std::fs::write(&cred, c).unwrap();
        }
        let env = ProfileEnv::from_pairs([
            ("AWS_CONFIG_FILE", cfg.to_str().unwrap()),
            ("AWS_SHARED_CREDENTIALS_FILE", cred.to_str().unwrap()),
            ("HOME", dir.path().to_str().unwrap()),
        ]);
        Files { _dir: dir, env }
    }

    async fn list(config: &str, credentials: &str) -> ProfileListing {
        let f = files(Some(config.as_bytes()), Some(credentials.as_bytes()));
        list_profiles(&f.env).await.unwrap()
    }

    /// Resolves a profile's region with aws-config itself, the oracle the listing must agree with.
    async fn sdk_region(f: &Files, profile: &str) -> Option<String> {
        let files = ProfileFiles::builder()
            .include_default_config_file(false)
            .include_default_credentials_file(false)
            .with_file(
                ProfileFileKind::Config,
                f.env.file_path(ProfileSource::Config),
            )
            .with_file(
                ProfileFileKind::Credentials,
                f.env.file_path(ProfileSource::Credentials),
            )
            .build();
        let provider = aws_config::profile::ProfileFileRegionProvider::builder()
            .profile_name(profile)
            .profile_files(files)
            .build();
        use aws_config::meta::region::ProvideRegion;
        provider.region().await.map(|r| r.to_string())
    }

    #[tokio::test]
    async fn merges_config_and_credentials_and_hides_secrets() {
        let l = list(
            "[default]\nregion = eu-west-1\n\n[profile dev]\nregion=us-west-2\nrole_arn = arn:aws:iam::123456789012:role/dev\nsource_profile = default\n[sso-session corp]\nsso_region = us-east-1\n",
            "[default]\naws_access_key_id = AKIDEXAMPLE\naws_secret_access_key = SECRETVALUE\n[only-creds]\naws_access_key_id = A\naws_secret_access_key = B\n",
        )
        .await;
        assert_eq!(l.names(), vec!["default", "dev", "only-creds"]);
        let d = l.get("default").unwrap();
        assert_eq!(d.kind, ProfileKind::StaticKeys);
        assert_eq!(
            d.defined_in,
            vec![ProfileSource::Config, ProfileSource::Credentials]
        );
        let dev = l.get("dev").unwrap();
        assert_eq!(dev.kind, ProfileKind::AssumeRole);
        assert_eq!(dev.source_profile.as_deref(), Some("default"));
        assert_eq!(
            l.get("only-creds").unwrap().defined_in,
            vec![ProfileSource::Credentials]
        );
        let json = serde_json::to_string(&l).unwrap();
        assert!(!json.contains("SECRETVALUE") && !json.contains("AKIDEXAMPLE"));
    }

    /// Tricky files, each checked against what aws-config itself resolves for the region.
    #[tokio::test]
    async fn agrees_with_the_sdk_on_tricky_files() {
        let cases: &[(&str, &str, &str, Option<&str>)] = &[
            // (config, credentials, profile, expected region)
            ("# c\n; c2\n[default] # trailing\nregion = us-east-2 ; not a comment in value?\n", "", "default", None),
            ("[profile default]\nregion = eu-north-1\n[default]\nregion = ap-south-1\n", "", "default", None),
            ("[profile a]\nregion = eu-west-3\n[profile a]\nregion = eu-central-1\n", "", "a", None),
            ("[profile   spaced  ]  \nregion   =   sa-east-1   \n", "", "spaced", Some("sa-east-1")),
            ("[profile u]\nregion = us-west-1\nunknown_key = x\ns3 =\n  max_concurrent_requests = 10\n", "", "u", Some("us-west-1")),
            ("", "[creds-only]\naws_access_key_id = a\naws_secret_access_key = b\nregion = me-south-1\n", "creds-only", None),
            ("[profile x]\r\nregion = af-south-1\r\n", "", "x", Some("af-south-1")),
        ];
        for (config, creds, profile, expected) in cases {
            let f = files(Some(config.as_bytes()), Some(creds.as_bytes()));
            let listing = list_profiles(&f.env).await.unwrap();
            let ours = listing.get(profile).and_then(|p| p.region.clone());
            let sdk = sdk_region(&f, profile).await;
            assert_eq!(ours, sdk, "region of `{profile}` in {config:?}");
            if let Some(e) = expected {
                assert_eq!(ours.as_deref(), Some(*e));
            }
            assert!(
                listing.get(profile).is_some(),
                "{profile} listed for {config:?}"
            );
        }
    }

    #[tokio::test]
    async fn malformed_file_names_file_and_line() {
        let f = files(
            Some(b"[default]\nregion = x\n[profile broken\nregion = y\n"),
            None,
        );
        let err = list_profiles(&f.env).await.unwrap_err();
        let text = err.to_string();
        assert!(
            matches!(err, ProfileError::Malformed { line: 3, .. }),
            "{text}"
        );
        assert!(text.contains("config line 3"), "{text}");
    }

    #[tokio::test]
    async fn binary_file_is_a_clear_error() {
        let f = files(Some(b"[default]\nregion = \xff\xfe\n"), None);
        let err = list_profiles(&f.env).await.unwrap_err();
        assert!(
            matches!(err, ProfileError::NotUtf8 { offset: 19, .. }),
            "{err}"
        );
    }

    #[tokio::test]
    async fn selection_order() {
        let f = files(
            Some(b"[default]\nregion = us-east-1\n[profile dev]\nregion = eu-west-1\n"),
            None,
        );
        let l = list_profiles(&f.env).await.unwrap();
        let none = ProfileEnv::default();
        let env_dev = ProfileEnv::from_pairs([("AWS_PROFILE", "dev")]);
        assert_eq!(
            select_profile(Some("dev"), &none, &l).unwrap(),
            Selection::Aws {
                profile: "dev".into()
            }
        );
        assert_eq!(
            select_profile(None, &env_dev, &l).unwrap(),
            Selection::Aws {
                profile: "dev".into()
            }
        );
        assert_eq!(
            select_profile(None, &none, &l).unwrap(),
            Selection::Aws {
                profile: "default".into()
            }
        );
        assert_eq!(
            select_profile(Some("local"), &env_dev, &l).unwrap(),
            Selection::Local
        );
        let err = select_profile(Some("nope"), &none, &l)
            .unwrap_err()
            .to_string();
        assert_eq!(
            err,
            "unknown AWS profile `nope`; known profiles: default, dev, local"
        );

        let empty = files(None, None);
        let l = list_profiles(&empty.env).await.unwrap();
        assert!(l.profiles.is_empty());
        assert_eq!(select_profile(None, &none, &l).unwrap(), Selection::Local);
        let mut with_keys = ProfileEnv::default();
        with_keys.vars.insert(ENV_CREDENTIALS.into(), "set".into());
        assert_eq!(
            select_profile(None, &with_keys, &l).unwrap(),
            Selection::Aws {
                profile: "default".into()
            }
        );
    }

    #[tokio::test]
    async fn source_profile_cycles_and_missing_links() {
        let f = files(
            Some(b"[profile a]\nrole_arn = arn:aws:iam::1:role/a\nsource_profile = b\n[profile b]\nrole_arn = arn:aws:iam::1:role/b\nsource_profile = a\n[profile c]\nrole_arn = arn:aws:iam::1:role/c\nsource_profile = ghost\n[profile selfref]\naws_access_key_id = k\naws_secret_access_key = s\nrole_arn = arn:aws:iam::1:role/s\nsource_profile = selfref\n"),
            None,
        );
        let l = list_profiles(&f.env).await.unwrap();
        let none = ProfileEnv::default();
        let err = select_profile(Some("a"), &none, &l)
            .unwrap_err()
            .to_string();
        assert_eq!(err, "profile `a` has a source_profile cycle: a -> b -> a");
        let err = select_profile(Some("c"), &none, &l)
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with("profile `c` has source_profile `ghost`, which is not defined"),
            "{err}"
        );
        assert!(select_profile(Some("selfref"), &none, &l).is_ok());
    }
}
