//! Deploys as background tasks: work-done progress, cancellation, and coalescing of two deploys
//! of the same function to the same profile into one.
//!
//! Each deploy runs in its own task (`inner`): the question before a first deploy to AWS, then
//! connect, package, upload, wait. A supervisor task forwards its progress, turns a panic or an
//! abort into a [`Failure`], records the result and hands it to every request waiting for it.
//! Aborting the inner task is a safe cancel at any of those points: an open question is
//! withdrawn with it (its late answer goes nowhere), and the deploy core is idempotent.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::SystemTime;

use lambda_deploy::deploy::{DeployAction, DeployOutcome, Progress};
use lambda_deploy::profiles::Selection;
use lambda_ops::deploy::Plan;
use tokio::sync::{mpsc, watch};
use tokio::task::{AbortHandle, JoinHandle};

use super::confirm;
use super::convert;
use super::editor::{ClientToken, ProgressReport};
use super::failure::Failure;
use super::session::{Deployment, FunctionKey};
use super::state::SharedRef;
use lambda_ops::target;

type Outcome = Result<DeployOutcome, Failure>;
/// (profile, function name): what makes two deploys the same deploy.
type JobKey = (String, String);

#[derive(Default)]
pub struct Jobs {
    running: Mutex<HashMap<JobKey, watch::Receiver<Option<Outcome>>>>,
    /// Progress token → the deploy it reports on.
    cancels: Mutex<HashMap<String, AbortHandle>>,
    /// Every deploy task, for shutdown.
    tasks: Mutex<HashMap<JobKey, AbortHandle>>,
}

impl Jobs {
    /// Aborts the deploy reporting on this progress token; false if there is none.
    pub fn cancel(&self, progress_key: &str) -> bool {
        match lock(&self.cancels).remove(progress_key) {
            Some(handle) => {
                handle.abort();
                true
            }
            None => false,
        }
    }

    /// Aborts every running deploy (on shutdown).
    pub fn cancel_all(&self) {
        lock(&self.cancels).clear();
        for (_, handle) in lock(&self.tasks).drain() {
            handle.abort();
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// One deploy, fully decided: which function of which file, as which spec, where.
pub struct DeployPlan {
    pub key: FunctionKey,
    pub plan: Plan,
    pub selection: Selection,
}

/// What the inner task tells the supervisor while it works.
enum Step {
    Progress(Progress),
    /// Waiting for the user (the question is open).
    Waiting(String),
    Warning(String),
    Note(String),
}

/// Deploys, or waits for the same deploy already running; resolves when it is done.
pub async fn deploy(
    shared: &SharedRef,
    plan: DeployPlan,
    token: Option<ClientToken>,
) -> Result<DeployOutcome, Failure> {
    let job: JobKey = (
        plan.selection.profile_name().to_string(),
        plan.plan.spec.name.clone(),
    );
    let mut rx = {
        let mut running = lock(&shared.jobs.running);
        match running.get(&job) {
            Some(rx) => rx.clone(),
            None => {
                let (tx, rx) = watch::channel(None);
                running.insert(job.clone(), rx.clone());
                let (steps_tx, steps) = mpsc::unbounded_channel();
                let (what, part) = plan.split();
                let inner = tokio::spawn(run(shared.clone(), part, steps_tx));
                // The client's token cancels from the first moment, the question included.
                if let Some(ClientToken(t)) = &token {
                    lock(&shared.jobs.cancels)
                        .insert(convert::progress_key(t), inner.abort_handle());
                }
                let watch = Watch { inner, steps, tx };
                tokio::spawn(supervise(shared.clone(), what, token, watch, job));
                rx
            }
        }
    };
    let outcome = rx
        .wait_for(Option::is_some)
        .await
        .map_err(|_| {
            Failure::internal("the deploy stopped unexpectedly; the lambda-ls log has the details")
        })?
        .clone();
    outcome.unwrap_or_else(|| Err(Failure::internal("the deploy ended without a result")))
}

/// The part of a [`DeployPlan`] the inner task consumes.
struct DeployPart {
    plan: Plan,
    selection: Selection,
}

/// What the supervisor records about a deploy.
struct Deployed {
    key: FunctionKey,
    name: String,
    root: std::path::PathBuf,
}

impl DeployPlan {
    fn split(self) -> (Deployed, DeployPart) {
        let deployed = Deployed {
            key: self.key,
            name: self.plan.spec.name.clone(),
            root: self.plan.resolved.root.clone(),
        };
        let part = DeployPart {
            plan: self.plan,
            selection: self.selection,
        };
        (deployed, part)
    }
}

/// The inner task as its supervisor sees it.
struct Watch {
    inner: JoinHandle<Outcome>,
    steps: mpsc::UnboundedReceiver<Step>,
    tx: watch::Sender<Option<Outcome>>,
}

async fn supervise(
    shared: SharedRef,
    what: Deployed,
    token: Option<ClientToken>,
    watch: Watch,
    job: JobKey,
) {
    let Watch {
        mut inner,
        mut steps,
        tx,
    } = watch;
    let Deployed { key, name, root } = what;
    lock(&shared.jobs.tasks).insert(job.clone(), inner.abort_handle());
    let progress = shared
        .editor
        .begin_progress(&format!("Deploying {name}"), token)
        .await;
    if let Some(p) = &progress {
        lock(&shared.jobs.cancels).insert(p.key.clone(), inner.abort_handle());
    }
    let joined = loop {
        tokio::select! {
            step = steps.recv() => match step {
                Some(step) => forward(&shared, progress.as_ref(), step).await,
                None => break (&mut inner).await,
            },
            joined = &mut inner => break joined,
        }
    };
    while let Ok(step) = steps.try_recv() {
        forward(&shared, progress.as_ref(), step).await;
    }
    let mut outcome = match joined {
        Ok(outcome) => outcome,
        Err(e) => {
            if e.is_panic() {
                tracing::error!("the deploy of {name} panicked: {e}");
            }
            Err(Failure::stopped(&format!("the deploy of {name}"), &e))
        }
    };
    if let Some(p) = progress {
        lock(&shared.jobs.cancels).remove(&p.key);
        let end = match &outcome {
            Ok(o) => o.to_string(),
            Err(f) => f.sentence.clone(),
        };
        p.end(end).await;
    }
    record(&shared, key, root, &mut outcome).await;
    let succeeded = outcome.is_ok();
    let _ = tx.send(Some(outcome));
    lock(&shared.jobs.running).remove(&job);
    lock(&shared.jobs.tasks).remove(&job);
    if succeeded {
        shared.editor.refresh(true, false).await;
    }
}

/// Hands one step of the inner task to the editor: progress, or a message.
async fn forward(shared: &SharedRef, progress: Option<&ProgressReport>, step: Step) {
    match step {
        Step::Progress(p) => {
            if let Some(progress) = progress {
                progress.report(p.to_string()).await;
            }
        }
        Step::Waiting(text) => {
            if let Some(progress) = progress {
                progress.report(text).await;
            }
        }
        Step::Warning(w) => shared.editor.info(&format!("warning: {w}")).await,
        Step::Note(n) => shared.editor.info(&n).await,
    }
}

/// Records a deploy in the session and says so, or shows its failure (once).
async fn record(
    shared: &SharedRef,
    key: FunctionKey,
    root: std::path::PathBuf,
    outcome: &mut Outcome,
) {
    match outcome {
        Ok(o) => {
            let deployment = Deployment {
                key,
                name: o.function_name.clone(),
                target: o.target.clone(),
                root,
                at: SystemTime::now(),
                url: o.url.clone(),
            };
            if let Err(f) = shared.with(|st| st.session.record_deploy(deployment)) {
                shared.editor.show(&f).await;
            }
            shared.editor.info(&o.to_string()).await;
        }
        Err(f) => {
            shared.editor.show(f).await;
            f.reported = true;
        }
    }
}

/// The question, connect, then the shared deploy pipeline: the part that a cancel aborts.
async fn run(
    shared: SharedRef,
    part: DeployPart,
    steps: mpsc::UnboundedSender<Step>,
) -> Result<DeployOutcome, Failure> {
    let DeployPart { plan, selection } = part;
    confirm::confirm_deploy(&shared, &selection, |q| {
        let _ = steps.send(Step::Waiting(q));
    })
    .await?;
    let report = |p: Progress| {
        let _ = steps.send(Step::Progress(p));
    };
    let conn = target::connect(&selection, None, &shared.env, &shared.local).await?;
    let mut deployed = lambda_ops::deploy::run(&conn, plan, &report).await?;
    // For the Open URL lens. A function just created has no URL yet; the CLI's deploy does not
    // pay this call, so its unchanged redeploy stays one GetFunction.
    let outcome = &mut deployed.outcome;
    if !matches!(outcome.action, DeployAction::Created) {
        outcome.url = lambda_deploy::maintain::function_url(&conn, &outcome.function_name).await;
    }
    for w in deployed.warnings {
        let _ = steps.send(Step::Warning(w));
    }
    if let Some(run) = deployed.local_run {
        let _ = steps.send(Step::Note(format!(
            "{}: {run}",
            deployed.outcome.function_name
        )));
    }
    Ok(deployed.outcome)
}
