//! Turns a profile choice into a live connection, starting the embedded local Lambda on demand.

use std::sync::Arc;

use lambda_deploy::aws::{Connection, Endpoint};
use lambda_deploy::profiles::{self, ProfileEnv, ProfileListing, Selection};
use lambda_local::{LocalConfig, LocalLambda};
use tokio::sync::OnceCell;

use crate::OpError;

/// The embedded local Lambda, started the first time something targets it, or the one another
/// lambda-ls process (an editor's server, `local serve`) already runs on the same data directory.
#[derive(Default, Clone)]
pub struct LocalHandle {
    cell: Arc<OnceCell<Local>>,
}

enum Local {
    Owned(LocalLambda),
    Shared(String),
}

impl LocalHandle {
    /// The running local Lambda's endpoint URL, starting it on first use.
    pub async fn endpoint(&self) -> Result<String, lambda_local::LocalError> {
        let local = self
            .cell
            .get_or_try_init(|| async {
                match LocalLambda::start(LocalConfig::new(lambda_local::default_data_dir())).await {
                    Ok(l) => Ok(Local::Owned(l)),
                    Err(lambda_local::LocalError::InUse {
                        endpoint: Some(url),
                        ..
                    }) => {
                        tracing::info!(%url, "using the local Lambda another lambda-ls runs");
                        Ok(Local::Shared(url))
                    }
                    Err(e) => Err(e),
                }
            })
            .await?;
        Ok(match local {
            Local::Owned(l) => l.endpoint(),
            Local::Shared(url) => url.clone(),
        })
    }

    /// Stops workers and the server if this process started it.
    pub async fn shutdown(self) {
        if let Some(cell) = Arc::into_inner(self.cell) {
            if let Some(Local::Owned(local)) = cell.into_inner() {
                local.shutdown().await;
            }
        }
    }
}

/// Where operations go: the profile the user chose (or none, for the selection order), a region
/// override, the profile files and the local Lambda. Both front ends build one and call
/// [`Target::connect`] instead of repeating selection and connection per command.
#[derive(Clone)]
pub struct Target {
    pub env: ProfileEnv,
    pub profile: Option<String>,
    pub region: Option<String>,
    pub local: LocalHandle,
}

impl Target {
    /// Lists the user's profiles and applies the selection order.
    pub async fn select(&self) -> Result<(ProfileListing, Selection), OpError> {
        select(self.profile.as_deref(), &self.env).await
    }

    /// Selects the profile and connects to it.
    pub async fn connect(&self) -> Result<Connection, OpError> {
        let (_, selection) = self.select().await?;
        connect(&selection, self.region.clone(), &self.env, &self.local).await
    }
}

/// Lists the user's profiles and applies the selection order.
pub async fn select(
    explicit: Option<&str>,
    env: &ProfileEnv,
) -> Result<(ProfileListing, Selection), OpError> {
    let listing = profiles::list_profiles(env).await?;
    let selection = profiles::select_profile(explicit, env, &listing)?;
    Ok((listing, selection))
}

/// Connects to the selected target, starting the local Lambda when that is the target.
pub async fn connect(
    selection: &Selection,
    region: Option<String>,
    env: &ProfileEnv,
    local: &LocalHandle,
) -> Result<Connection, OpError> {
    let endpoint = match selection {
        Selection::Local => Endpoint::Local {
            url: local.endpoint().await?,
        },
        Selection::Aws { profile } => Endpoint::Aws {
            profile: profile.clone(),
            region,
            files: env.clone(),
        },
    };
    Ok(Connection::connect(&endpoint).await?)
}
