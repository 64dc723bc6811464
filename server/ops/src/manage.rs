//! `list`, `delete`, `publish`, `share`, `unshare` and `pull`: what happens to functions that
//! are already deployed.

use lambda_deploy::aws::Connection;
use lambda_deploy::functions::{self, FunctionSummary};
use lambda_deploy::maintain::{self, Published, Removed, ShareState, UrlAuth};
use lambda_deploy::pull::{self, PullRequest, Pulled};

use crate::OpError;

/// The functions of the account and region.
pub async fn list(conn: &Connection) -> Result<Vec<FunctionSummary>, OpError> {
    Ok(functions::list_functions(conn).await?)
}

/// `delete`: the function, or with `all` also what this tool created for it.
#[derive(Debug, Clone)]
pub struct DeleteRequest {
    pub function: String,
    /// Also the layer versions, execution role and S3 artifacts lambda-ls created for it, when
    /// nothing else uses them.
    pub all: bool,
}

/// What `delete` removed: `None` when only the function was asked for.
pub async fn delete(conn: &Connection, req: &DeleteRequest) -> Result<Option<Removed>, OpError> {
    if req.all {
        return Ok(Some(maintain::delete_all(conn, &req.function).await?));
    }
    functions::delete_function(conn, &req.function).await?;
    Ok(None)
}

/// Publishes a version, optionally pointing an alias at it.
pub async fn publish(
    conn: &Connection,
    function: &str,
    alias: Option<&str>,
) -> Result<Published, OpError> {
    Ok(maintain::publish(conn, function, alias).await?)
}

/// What `share` grants.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Grant {
    /// lambda:InvokeFunction for another AWS account (a checked 12-digit id).
    Account(String),
    /// A function URL.
    Url(UrlAuth),
    /// Nothing: only show who may invoke.
    Nothing,
}

impl Grant {
    /// The grant the `share` arguments ask for, checked before anything is sent.
    pub fn from_args(
        account: Option<String>,
        url: bool,
        public: bool,
        list: bool,
    ) -> Result<Grant, OpError> {
        match (account, url, list) {
            (Some(account), _, _) => {
                if account.len() != 12 || !account.bytes().all(|b| b.is_ascii_digit()) {
                    return Err(OpError::Usage(format!(
                        "--account `{account}` is not a 12-digit AWS account id"
                    )));
                }
                Ok(Grant::Account(account))
            }
            (None, true, _) if public => Ok(Grant::Url(UrlAuth::Public)),
            (None, true, _) => Ok(Grant::Url(UrlAuth::AwsIam)),
            (None, false, true) => Ok(Grant::Nothing),
            (None, false, false) => Err(OpError::Usage(
                "share needs --account ID, --url or --list".to_string(),
            )),
        }
    }
}

/// Grants, then returns who may invoke the function now.
pub async fn share(
    conn: &Connection,
    function: &str,
    grant: &Grant,
) -> Result<ShareState, OpError> {
    match grant {
        Grant::Account(account) => maintain::share_with_account(conn, function, account).await?,
        Grant::Url(auth) => {
            maintain::share_url(conn, function, *auth).await?;
        }
        Grant::Nothing => {}
    }
    Ok(maintain::share_state(conn, function).await?)
}

/// Removes what `share` granted: one account, or everything and the URL. Returns what went.
pub async fn unshare(
    conn: &Connection,
    function: &str,
    account: Option<&str>,
) -> Result<Vec<String>, OpError> {
    Ok(maintain::unshare(conn, function, account).await?)
}

/// Downloads a deployed function's code into a new folder with a `lambda.toml`.
pub async fn pull(conn: &Connection, req: &PullRequest) -> Result<Pulled, OpError> {
    Ok(pull::pull(conn, req).await?)
}
