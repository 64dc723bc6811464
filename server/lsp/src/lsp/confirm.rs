//! The question before the first deploy of a session to a real AWS profile: "Deploy to AWS
//! account … in … as profile …?". It runs inside the deploy's cancellable task, so a Cancel on
//! the progress withdraws it, and an answer that arrives afterwards deploys nothing.

use std::time::Duration;

use lambda_deploy::identity;
use lambda_deploy::profiles::Selection;
use lambda_ops::OpError;

use super::convert::Question;
use super::editor::Answer;
use super::failure::Failure;
use super::state::SharedRef;
use lambda_ops::target;

/// The buttons of the question (the modal form has only Deploy: closing it is the cancel).
pub const DEPLOY_BUTTON: &str = "Deploy";
pub const CANCEL_BUTTON: &str = "Cancel";

/// How long finding the account behind a profile may take; past it, the deploy fails.
const IDENTITY_TIMEOUT: Duration = Duration::from_secs(10);

/// Asks, unless this profile was confirmed before in this session (or is `local`). `waiting`
/// is told the question while it is open, for the progress. Cancel, closing the question or no
/// answer stop the deploy before it starts; an account that cannot be determined stops it
/// without asking. Clients that cannot show a question deploy without it (logged).
pub async fn confirm_deploy(
    shared: &SharedRef,
    selection: &Selection,
    waiting: impl Fn(String),
) -> Result<(), Failure> {
    let Selection::Aws { profile } = selection else {
        return Ok(());
    };
    let confirmed = |shared: &SharedRef| shared.with(|st| st.confirmed_profiles.contains(profile));
    if confirmed(shared)? {
        return Ok(());
    }
    if !shared.editor.can_ask() {
        shared
            .editor
            .info(&format!(
                "deploying to AWS profile {profile} without asking first: this editor cannot show a question (window/showMessageRequest)"
            ))
            .await;
        shared.with(|st| st.confirmed_profiles.insert(profile.clone()))?;
        return Ok(());
    }
    // A second deploy waits for the first answer rather than asking again.
    let _one_question = shared.asking.lock().await;
    if confirmed(shared)? {
        return Ok(());
    }
    let conn = target::connect(selection, None, &shared.env, &shared.local).await?;
    let region = conn.info.region.clone();
    let account = account_of(shared, profile, &region).await?;
    let question = Question {
        message: format!("Deploy to AWS account {account} in {region} as profile {profile}?"),
        account,
        region,
        profile: profile.clone(),
    };
    waiting(format!("waiting for your answer: {}", question.message));
    match shared.editor.ask_deploy(&question).await {
        Answer::Chose(button) if button == DEPLOY_BUTTON => {
            shared.with(|st| st.confirmed_profiles.insert(profile.clone()))?;
            Ok(())
        }
        Answer::TimedOut => {
            let sentence = format!(
                "nothing was deployed to profile {profile}: \"{}\" had no answer within {} s",
                question.message,
                shared.editor.question_timeout().as_secs()
            );
            shared.editor.warn(&sentence).await;
            // Shown (and logged) once, as the warning.
            let mut failure = Failure::cancelled(sentence);
            failure.reported = true;
            Err(failure)
        }
        _ => Err(Failure::cancelled(format!(
            "the deploy to profile {profile} was cancelled"
        ))),
    }
}

/// The account a profile deploys to (STS `GetCallerIdentity`). When STS cannot say, there is
/// nothing true to ask about: the deploy fails here with the reason.
async fn account_of(shared: &SharedRef, profile: &str, region: &str) -> Result<String, Failure> {
    let asked = identity::caller_identity(profile, Some(region), &shared.env, IDENTITY_TIMEOUT);
    let why = match asked.await {
        Ok(id) if !id.account.is_empty() => return Ok(id.account),
        Ok(_) => "STS GetCallerIdentity named no account".to_string(),
        Err(e @ lambda_deploy::aws::AwsError::Credentials { .. }) => {
            return Err(OpError::from(e).into())
        }
        Err(e) => Failure::from(OpError::from(e)).sentence,
    };
    Err(Failure::remote(format!(
        "nothing was deployed: cannot tell which AWS account profile {profile} deploys to ({why})"
    )))
}
